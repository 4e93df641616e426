"""The lake profile under parallel writers: an asset backfill of ``daily_pipeline`` over N days, run by a real
``dagster-daemon`` (each run its own process, each day's step launched once the days it reads are materialized:
the declared partition mappings), on the DuckDB file (``DATA_PLATFORM_BACKFILL=range``: one run over the range
per wave of assets, the file's one writer) and on DuckLake (a real PostgreSQL catalog, moto's S3 server;
``DATA_PLATFORM_BACKFILL=per_day``: one run per day and asset wave) with 1, 2 and 4 runs at once
(``max_concurrent_runs`` and the ``ducklake`` pool's ``DATA_PLATFORM_LAKE_WRITERS``).

Prints, per configuration: wall seconds (backfill requested to finished, daemon start included), days per
minute, runs, the most runs that executed at once, failed runs, commit conflicts retried (the runs'
``data_platform/lake_commit_retries`` tags), and whether every table equals the file profile's (a hash of the
sorted rows of each table, file ids aside; see data_platform_tests/test_lake_parallel.py).

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
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from data_platform.generator import generate_logs  # noqa: E402
from data_platform.resources import Warehouse  # noqa: E402
from data_platform_tests.processes import (  # noqa: E402
    LakePeers,
    PostgresServer,
    S3Server,
    daemon_backfill,
    deliver_bundled,
    platform_env,
    postgres_bin,
)
from data_platform_tests.reliability_support import digest_tables  # noqa: E402


def instance_yaml(path: Path, runs_at_once: int) -> Path:
    """The project's dagster.yaml with ``max_concurrent_runs`` set to ``runs_at_once``."""
    settings = yaml.safe_load((ROOT / "dagster_home" / "dagster.yaml").read_text())
    settings["concurrency"]["runs"]["max_concurrent_runs"] = runs_at_once
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(settings))
    return path


def backfill(name: str, days: list[str], env: dict[str, str], root: Path, concurrency: int) -> dict:
    done = daemon_backfill(env, "daily_pipeline", days[0], days[-1], root / name / "daemon.log")
    retries = done.commit_retries()
    return {
        "profile": name,
        "concurrent_runs": concurrency,
        "days": len(days),
        "status": done.status,
        "wall_s": round(done.seconds, 1),
        "days_per_min": round(len(days) / done.seconds * 60, 2),
        "runs": len(done.runs),
        "max_runs_at_once": done.max_runs_at_once(),
        "failed_runs": len(done.failed()),
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
    common = {
        "DATA_PLATFORM_LANDING": str(landing),
        "DATA_PLATFORM_END_DATE": days[-1],
        "DATA_PLATFORM_SENSORS": "stopped",
    }
    peers = LakePeers(PostgresServer(postgres_bin()).start(), S3Server().start())
    os.environ.update(peers.env())  # this process reads the lakes too (digests)
    results = []
    try:
        file_env = platform_env(root / "file", home=root / "file" / "home", DATA_PLATFORM_BACKFILL="range", **common)
        results.append(backfill("file", days, file_env, root, 1))
        print(json.dumps(results[-1]), flush=True)
        reference = digest_tables(file_env["DATA_PLATFORM_WAREHOUSE"], also_exclude=frozenset({"file_id"}))
        for concurrency in (int(c) for c in args.concurrency.split(",")):
            lake = peers.new_lake(f"bench{concurrency}")
            name = f"lake{concurrency}"
            env = platform_env(
                root / name,
                home=root / name / "home",
                dagster_yaml=instance_yaml(root / name / "dagster.yaml", concurrency),
                DATA_PLATFORM_BACKFILL="per_day",
                DATA_PLATFORM_LAKE_WRITERS=str(concurrency),
                **common,
                **peers.env(),
                **lake,
            )
            result = backfill(name, days, env, root, concurrency)
            warehouse = Warehouse(
                database=":memory:",
                lake_catalog=lake["DATA_PLATFORM_LAKE_CATALOG"],
                lake_data_path=lake["DATA_PLATFORM_LAKE_DATA_PATH"],
            )
            tables = digest_tables(warehouse, also_exclude=frozenset({"file_id"}))
            result["tables"] = len(tables)
            result["tables_differing_from_file"] = sorted(
                t for t in tables.keys() | reference.keys() if tables.get(t) != reference.get(t)
            )
            results.append(result)
            print(json.dumps(result), flush=True)
    finally:
        peers.stop()
    print(f"\n{args.days} days x {args.events_per_day} events/day, daemon asset backfill, 2-core machine")
    header = ("profile", "runs at once", "wall s", "days/min", "runs", "max at once", "failed", "retries", "= file")
    print(f"{header[0]:<8} " + " ".join(f"{h:>12}" for h in header[1:]))
    for r in results:
        same = "ref" if r["profile"] == "file" else not r["tables_differing_from_file"]
        cells = (
            r["concurrent_runs"],
            r["wall_s"],
            r["days_per_min"],
            r["runs"],
            r["max_runs_at_once"],
            r["failed_runs"],
            r["commit_retries"],
            same,
        )
        print(f"{r['profile']:<8} " + " ".join(f"{c!s:>12}" for c in cells))
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))
    ok = all(r["failed_runs"] == 0 and not r.get("tables_differing_from_file") for r in results)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
