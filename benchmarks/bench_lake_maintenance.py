"""Lake maintenance on a multi-day lake: data files, bytes and snapshots, and the time of a run that finds
nothing new, before and after ``Warehouse.maintain`` (the ``lake_maintenance`` job, ``data-platform lake
maintain``).

The days are backfilled as they arrive in production, hourly files (24 a day, each landing its own commit, so
its own small Parquet files), by ``dg launch`` runs of ``daily_pipeline``, ``--concurrency`` at once, on a real
PostgreSQL catalog and moto's S3 server. Then, before and after one maintenance pass (retention 0: every
snapshot but the current one is expired; no dataset is published here):

- the files the current snapshot reads, the files stored, their bytes, the snapshots;
- a no-op run: ``dg launch --job daily_pipeline --partition <last day>`` again (its landing finds nothing new),
  wall and CPU seconds of its process tree (CPU moves far less than wall time on a shared machine; moto's own
  CPU is not in it), ``--repeat`` times;
- a scan: ``SELECT count(*), count(DISTINCT file_id) FROM raw.landed_lines`` in this process.

    python benchmarks/bench_lake_maintenance.py --days 30 --events-per-day 100 --concurrency 4

Needs the PostgreSQL server binaries and the dev + lake extras (moto_server, the DuckLake wheels).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from measure import cpu_seconds, run_measured  # noqa: E402

from data_platform.generator import generate_logs  # noqa: E402
from data_platform.resources import Warehouse  # noqa: E402
from data_platform_tests.processes import (  # noqa: E402
    BIN,
    LakePeers,
    PostgresServer,
    S3Server,
    launch_partitions,
    platform_env,
    postgres_bin,
)
from data_platform_tests.reliability_support import digest_tables  # noqa: E402

SCAN = "SELECT count(*), count(DISTINCT file_id) FROM raw.landed_lines"


def probe(warehouse: Warehouse, day: str, env: dict[str, str], root: Path, repeat: int, name: str) -> dict:
    """No-op runs of the last day (wall and CPU seconds of the process tree) and a scan of raw.landed_lines."""
    runs = []
    for i in range(repeat):
        home = root / f"{name}{i}"
        home.mkdir(parents=True)
        shutil.copy(ROOT / "dagster_home" / "dagster.yaml", home / "dagster.yaml")
        cmd = [str(BIN / "dg"), "launch", "--job", "daily_pipeline", "--partition", day]
        run = run_measured(
            cmd + ["--module-name", "data_platform.definitions"], {**env, "DAGSTER_HOME": str(home)}, ROOT
        )
        if run.returncode:
            raise SystemExit(f"the no-op run failed:\n{run.stderr[-3000:]}")
        runs.append({"wall_s": round(run.seconds, 1), "cpu_s": round(run.cpu_seconds, 1)})
    started, cpu = time.monotonic(), cpu_seconds()
    with warehouse.connect(read_only=True) as con:
        lines, files = con.execute(SCAN).fetchone()
    scan = {"wall_s": round(time.monotonic() - started, 2), "cpu_s": round(cpu_seconds() - cpu, 2)}
    return {"noop_runs": runs, "scan": scan, "landed_lines": lines, "files": files}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--events-per-day", type=int, default=100)
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--repeat", type=int, default=2, help="no-op runs before and after")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args()

    start = dt.date(2026, 11, 1)
    days = [(start + dt.timedelta(days=i)).isoformat() for i in range(args.days)]
    root = Path(tempfile.mkdtemp(prefix="bench-lake-maintenance-"))
    landing = root / "landing"
    generate_logs(landing, start=start, days=args.days, events_per_day=args.events_per_day, seed=args.seed)
    hourly = sum(1 for p in (landing / "events").rglob("*") if p.name.endswith((".jsonl", ".jsonl.gz")))
    peers = LakePeers(PostgresServer(postgres_bin()).start(), S3Server().start())
    os.environ.update(peers.env())  # this process reads and maintains the lake too
    try:
        lake = peers.new_lake("maintained")
        common = {"DATA_PLATFORM_LANDING": str(landing), "DATA_PLATFORM_END_DATE": days[-1]}
        env = platform_env(root / "lake", home=root / "unused", **common, **peers.env(), **lake)
        started = time.monotonic()
        runs = launch_partitions(days, env, root / "backfill", concurrency=args.concurrency)
        backfill_s = round(time.monotonic() - started, 1)
        failed = [r.day for r in runs if r.returncode]
        if failed:
            raise SystemExit(f"backfill runs failed: {failed}")
        warehouse = Warehouse(
            database=":memory:",
            lake_catalog=lake["DATA_PLATFORM_LAKE_CATALOG"],
            lake_data_path=lake["DATA_PLATFORM_LAKE_DATA_PATH"],
        )
        before = probe(warehouse, days[-1], env, root, args.repeat, "before")
        digests = digest_tables(warehouse)
        started = time.monotonic()
        with warehouse.connect() as con:
            report = warehouse.maintain(con, dt.datetime.now(dt.UTC))
        maintain_s = round(time.monotonic() - started, 1)
        unchanged = digest_tables(warehouse) == digests
        after = probe(warehouse, days[-1], env, root, args.repeat, "after")
    finally:
        peers.stop()
    result = {
        "days": args.days,
        "events_per_day": args.events_per_day,
        "landing_files": hourly,
        "backfill_s": backfill_s,
        "concurrency": args.concurrency,
        "maintain_s": maintain_s,
        "before": before,
        "after": after,
        "maintenance": report,
        "tables_unchanged": unchanged,
    }
    print(json.dumps(result, indent=2))
    print(f"\n{args.days} days x {args.events_per_day} events/day in {hourly} hourly files, 2-core machine")
    print(f"{'':<28} {'before':>14} {'after':>14}")
    for label, key in (("data files read now", "lake_live_files"), ("files stored", "lake_stored_files")):
        print(f"{label:<28} {report[key + '_before']:>14,} {report[key + '_after']:>14,}")
    print(f"{'snapshots':<28} {report['lake_snapshots_before']:>14,} {report['lake_snapshots_after']:>14,}")
    for unit in ("wall_s", "cpu_s"):
        cells = [" / ".join(str(r[unit]) for r in side["noop_runs"]) for side in (before, after)]
        print(f"{'no-op run ' + unit:<28} {cells[0]:>14} {cells[1]:>14}")
        print(f"{'scan of landed_lines ' + unit:<28} {before['scan'][unit]:>14} {after['scan'][unit]:>14}")
    print(f"maintenance: {maintain_s} s; every table's content unchanged: {unchanged}")
    if args.json:
        args.json.write_text(json.dumps(result, indent=2, default=str))
    return 0 if unchanged else 1


if __name__ == "__main__":
    sys.exit(main())
