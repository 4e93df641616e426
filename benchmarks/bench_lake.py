"""The lake profile under parallel writers: a backfill of N days (one ``dg launch`` run per day, each in its own
process with its own Dagster instance, as on separate machines) on the DuckDB file with one run at a time, and
on DuckLake (a real PostgreSQL catalog, moto's S3 server) with 1, 2 and 4 runs at once.

Prints, per configuration: wall seconds, days per minute, failed runs, commit conflicts retried (the runs'
``data_platform/lake_commit_retries`` tags), and whether the raw layer equals the file profile's (the layer
that does not depend on the order in which days run; see data_platform_tests/test_lake_parallel.py).

    python benchmarks/bench_lake.py --days 30 --events-per-day 100 --concurrency 1,2,4

Needs the PostgreSQL server binaries and the dev + lake extras (moto_server, the DuckLake wheels).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from data_platform.generator import generate_logs  # noqa: E402
from data_platform.resources import Warehouse  # noqa: E402
from data_platform_tests.processes import (  # noqa: E402
    LakePeers,
    PostgresServer,
    S3Server,
    deliver_bundled,
    launch_partitions,
    platform_env,
    postgres_bin,
)
from data_platform_tests.reliability_support import digest_tables  # noqa: E402

RAW = {"raw.events", "raw.quarantine", "raw.files", "raw.landed_lines", "raw.file_failures"}


def backfill(name: str, days: list[str], env: dict[str, str], root: Path, concurrency: int) -> dict:
    started = time.monotonic()
    runs = launch_partitions(days, env, root / name, concurrency=concurrency)
    seconds = time.monotonic() - started
    failed = [r.day for r in runs if r.returncode]
    retries = [r.commit_retries() for r in runs if not r.returncode]
    return {
        "profile": name,
        "concurrent_runs": concurrency,
        "days": len(days),
        "wall_s": round(seconds, 1),
        "days_per_min": round(len(days) / seconds * 60, 2),
        "mean_run_s": round(sum(r.seconds for r in runs) / len(runs), 1),
        "failed_runs": len(failed),
        "commit_retries": sum(retries),
        "max_retries_one_run": max(retries, default=0),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--events-per-day", type=int, default=100)
    parser.add_argument("--concurrency", default="1,2,4")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args()

    start = dt.date(2026, 11, 1)
    days = [(start + dt.timedelta(days=i)).isoformat() for i in range(args.days)]
    root = Path(tempfile.mkdtemp(prefix="bench-lake-"))
    landing = root / "landing"
    # each day delivered as two files (not 24 hourly ones): the runs' time is the platform's, not the landing of
    # hundreds of tiny files, each one a lake commit
    generate_logs(root / "generated", start=start, days=args.days, events_per_day=args.events_per_day, seed=args.seed)
    deliveries = sorted(p.name for p in (root / "generated" / "events").iterdir() if p.is_dir())
    deliver_bundled(root / "generated" / "events", landing / "events", deliveries)
    common = {"DATA_PLATFORM_LANDING": str(landing), "DATA_PLATFORM_END_DATE": days[-1]}
    peers = LakePeers(PostgresServer(postgres_bin()).start(), S3Server().start())
    os.environ.update(peers.env())  # this process reads the lakes too (digests)
    results = []
    try:
        file_env = platform_env(root / "file", home=root / "file" / "home", **common)
        results.append(backfill("file", days, file_env, root, 1))
        reference = digest_tables(file_env["DATA_PLATFORM_WAREHOUSE"], only=RAW, also_exclude=frozenset({"file_id"}))
        for concurrency in (int(c) for c in args.concurrency.split(",")):
            lake = peers.new_lake(f"bench{concurrency}")
            env = platform_env(root / f"lake{concurrency}", home=root / "unused", **common, **peers.env(), **lake)
            result = backfill(f"lake{concurrency}", days, env, root, concurrency)
            warehouse = Warehouse(
                database=":memory:",
                lake_catalog=lake["DATA_PLATFORM_LAKE_CATALOG"],
                lake_data_path=lake["DATA_PLATFORM_LAKE_DATA_PATH"],
            )
            raw = digest_tables(warehouse, only=RAW, also_exclude=frozenset({"file_id"}))
            result["raw_layer_equals_file"] = raw == reference
            results.append(result)
            print(json.dumps(result), flush=True)
    finally:
        peers.stop()
    print(f"\n{args.days} days x {args.events_per_day} events/day, one dg launch per day, 2-core machine")
    header = ("profile", "runs at once", "wall s", "days/min", "failed", "retries", "raw = file")
    print(f"{header[0]:<8} " + " ".join(f"{h:>12}" for h in header[1:]))
    for r in results:
        same = r.get("raw_layer_equals_file", "ref")
        cells = (r["concurrent_runs"], r["wall_s"], r["days_per_min"], r["failed_runs"], r["commit_retries"], same)
        print(f"{r['profile']:<8} " + " ".join(f"{c!s:>12}" for c in cells))
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))
    return 0 if all(r["failed_runs"] == 0 and r.get("raw_layer_equals_file", True) for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
