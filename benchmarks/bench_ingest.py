"""The ingest stage alone against DuckDB's own typed read of the same files.

    python benchmarks/bench_ingest.py [--events 1000000] [--landing DIR] [--memory 1GB] [--threads 2] [--repeat 1]

1. generate one day of N events with the project's generator (or reuse ``--landing``);
2. ours: the ``raw_ingestion`` asset materialized in-process over the generated days (landing, the per-day
   publication, checks and metadata), on a fresh warehouse; the asset's own stage laps are printed;
3. the engine's floor: ``CREATE TABLE AS SELECT * FROM read_json(..., columns = ...)`` of the same files
   (typed columns, malformed lines skipped: the first statement of benchmarks/baseline_floor.sql).
Each runs in its own process, measured for wall seconds, CPU seconds (user + system, from
``getrusage(RUSAGE_CHILDREN)``, less sensitive than wall seconds to other work on a shared machine) and peak RSS.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

START = dt.date(2026, 11, 1)


def floor_sql() -> str:
    """The floor's ingest statement, taken from baseline_floor.sql so the two cannot drift."""
    text = (ROOT / "benchmarks" / "baseline_floor.sql").read_text()
    start = text.index("CREATE TEMP TABLE landed AS")
    return text[start : text.index(";", start) + 1].replace("CREATE TEMP TABLE", "CREATE TABLE")


def run_floor(landing: Path, db: Path, memory: str, threads: int) -> dict:
    import duckdb

    con = duckdb.connect(str(db))
    con.execute(f"SET memory_limit = '{memory}'")
    con.execute(f"SET threads = {threads}")
    con.execute("SET preserve_insertion_order = FALSE")
    con.execute(floor_sql().format(glob=str(landing / "events" / "*" / "*.jsonl*")))
    return {"rows": con.execute("SELECT count(*) FROM landed").fetchone()[0]}


def run_ours(landing: Path, db: Path, memory: str, threads: int, first: str, last: str) -> dict:
    import dagster as dg

    from data_platform.ingestion.assets import raw_ingestion
    from data_platform.resources import LandingZone, Warehouse

    result = dg.materialize(
        [raw_ingestion],
        resources={
            "warehouse": Warehouse(database=str(db), memory_limit=memory, threads=threads),
            "landing": LandingZone(root=str(landing), settle_seconds=0),
        },
        instance=dg.DagsterInstance.ephemeral(),
        tags={"dagster/asset_partition_range_start": first, "dagster/asset_partition_range_end": last},
        raise_on_error=True,
    )
    laps = {}
    for event in result.get_asset_materialization_events():
        meta = event.materialization.metadata
        if "run_stage_seconds" in meta:
            laps = meta["run_stage_seconds"].value
    checks = result.get_asset_check_evaluations()
    import duckdb

    con = duckdb.connect(str(db), read_only=True)
    rows = con.execute("SELECT (SELECT count(*) FROM raw.events), (SELECT count(*) FROM raw.quarantine)").fetchone()
    return {
        "laps": laps,
        "events": rows[0],
        "quarantined": rows[1],
        "checks_passed": all(c.passed for c in checks),
    }


def measured(argv: list[str]) -> dict:
    """Run one child; wall seconds, CPU seconds and peak RSS of it, and what it printed last (JSON)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    out = subprocess.run(argv, capture_output=True, text=True, cwd=ROOT)
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if out.returncode != 0:
        raise SystemExit(out.stderr[-4000:])
    return {
        "wall_s": round(wall, 1),
        "cpu_s": round(after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime, 1),
        **json.loads(out.stdout.strip().splitlines()[-1]),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--landing", help="reuse this landing folder (generated there if missing)")
    parser.add_argument("--memory", default="1GB")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeat", type=int, default=1, help="runs of each (the best is reported too)")
    parser.add_argument("--child", nargs="*", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        kind, landing, db, *days = args.child
        if kind == "floor":
            out = run_floor(Path(landing), Path(db), args.memory, args.threads)
        else:
            out = run_ours(Path(landing), Path(db), args.memory, args.threads, *days)
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
        print(json.dumps({"peak_rss_mb": round(peak / 1024), **out}))
        return

    from data_platform.generator import generate_logs

    landing = Path(args.landing) if args.landing else Path(tempfile.mkdtemp(prefix="bench-ingest-")) / "landing"
    manifests = list((landing / "events").glob("manifest-*.json")) if landing.exists() else []
    if manifests:
        manifest = json.loads(manifests[0].read_text())
    else:
        manifest = generate_logs(landing, START, 1, args.events, seed=1)
    days = sorted(manifest["valid_lines_by_event_day"])
    print(f"{manifest['total_lines']:,} lines in {landing}", flush=True)
    work = Path(tempfile.mkdtemp(prefix="bench-ingest-db-"))
    common = ["--memory", args.memory, "--threads", str(args.threads)]
    try:
        for i in range(args.repeat):
            for kind in ("ours", "floor"):
                db = work / f"{kind}-{i}.duckdb"
                argv = [sys.executable, __file__, *common, "--child", kind, str(landing), str(db), days[0], days[-1]]
                print(f"{kind:6}", json.dumps(measured(argv)), flush=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)
        if not args.landing:
            shutil.rmtree(landing.parent, ignore_errors=True)


if __name__ == "__main__":
    main()
