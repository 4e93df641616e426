"""Where the clean step's time goes: every statement of ``clean_days`` timed, over a copy of a warehouse.

    python benchmarks/profile_clean.py WAREHOUSE.duckdb [--landing DIR] [--memory 1GB] [--threads 2]
        [--explain DIR] [--out COPY.duckdb] [--day YYYY-MM-DD]

WAREHOUSE is a warehouse with ``raw.events`` landed (``bench_pipeline.py --keep`` leaves one in its work
folder, with the landing folder whose manifests give the bot and spam truth). It is copied to a temporary
folder, and every day of ``raw.events`` is cleaned there in one ``clean_days`` call, as the clean asset
does (``--day``: only that day, e.g. day 31 of a warehouse holding 30 days, to see what grows with
history), with the same DuckDB memory limit and threads, then the asset's metadata and checks run per day.
Prints the wall and CPU seconds (CPU: this process, DuckDB's threads included; steadier than wall time on
a busy machine) of both parts, and per SQL file the wall and CPU seconds summed over the days and how
often it ran, most CPU first. ``--explain DIR`` writes DuckDB's profile (``PRAGMA enable_profiling =
'json'``) of every statement to DIR; ``--out`` keeps the cleaned copy (to compare two versions' rows).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import shutil
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from measure import cpu_seconds  # noqa: E402

import data_platform.base.stage as base_stage  # noqa: E402
import data_platform.resources as resources  # noqa: E402
from data_platform.cleaning.assets import _bot_truth, _day_checks, _day_metadata, spam_truth  # noqa: E402
from data_platform.cleaning.clean import clean_days, clean_stats  # noqa: E402
from data_platform.resources import LandingZone  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("warehouse", type=Path)
    parser.add_argument("--memory", default="1GB")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--explain", type=Path, help="write each statement's DuckDB JSON profile here")
    parser.add_argument("--out", type=Path, help="keep the cleaned copy of the warehouse here")
    parser.add_argument("--landing", type=Path, help="the landing folder (its manifests give the bot/spam truth)")
    parser.add_argument(
        "--day",
        type=dt.date.fromisoformat,
        help="clean only this day (default: every day of raw.events), e.g. the last day of a long history",
    )
    args = parser.parse_args()

    seconds: dict[str, float] = defaultdict(float)
    cpu: dict[str, float] = defaultdict(float)
    runs: dict[str, int] = defaultdict(int)
    original = resources.run_sql
    counter = iter(range(10**9))

    def timed_run_sql(con, name, params=None, **fragments):
        if args.explain:
            path = args.explain / f"{next(counter):05d}-{name.replace('/', '-')}.json"
            con.execute(f"PRAGMA profiling_output = '{path}'")
        t0, c0 = time.perf_counter(), cpu_seconds()
        result = original(con, name, params, **fragments)
        seconds[name] += time.perf_counter() - t0
        cpu[name] += cpu_seconds() - c0
        runs[name] += 1
        return result

    resources.run_sql = timed_run_sql
    base_stage.run_sql = timed_run_sql
    import data_platform.cleaning.clean as clean_module

    clean_module.run_sql = timed_run_sql

    with tempfile.TemporaryDirectory(prefix="profile-clean-") as tmp:
        db = Path(tmp) / "warehouse.duckdb"
        shutil.copy(args.warehouse, db)
        wal = args.warehouse.with_suffix(args.warehouse.suffix + ".wal")
        if wal.exists():
            shutil.copy(wal, db.with_suffix(".duckdb.wal"))
        warehouse = resources.Warehouse(database=str(db), memory_limit=args.memory, threads=args.threads)
        with warehouse.connect() as con:
            first, last, raw_rows = con.execute(
                "SELECT min(event_date), max(event_date), count(*) FROM raw.events"
            ).fetchone()
            if args.day:
                first = last = args.day
                raw_rows = con.execute("SELECT count(*) FROM raw.events WHERE event_date = ?", [first]).fetchone()[0]
            if args.explain:
                args.explain.mkdir(parents=True, exist_ok=True)
                con.execute("PRAGMA enable_profiling = 'json'")
            wall0, cpu0 = time.perf_counter(), cpu_seconds()
            stats = clean_days(con, first, last + dt.timedelta(days=1), "profile")
            wall, clean_cpu = time.perf_counter() - wall0, cpu_seconds() - cpu0
            # what the asset does next, per day: its metadata and its blocking checks
            landing = LandingZone(root=str(args.landing)) if args.landing else None
            truth, spam_ids = (_bot_truth(landing), spam_truth(landing)) if landing else (set(), None)
            day = first
            while day <= last:
                days = {"start_day": day, "end_day": day + dt.timedelta(days=1)}
                _day_metadata(con, days, clean_stats(con, days, stats), truth, spam_ids)
                _day_checks(con, days)
                day += dt.timedelta(days=1)
            checks_wall, checks_cpu = time.perf_counter() - wall0 - wall, cpu_seconds() - cpu0 - clean_cpu
        if args.out:
            shutil.copy(db, args.out)
    print(
        json.dumps(
            {
                "raw_rows": raw_rows,
                "days": f"{first}..{last}",
                "kept": stats.kept,
                "clean_wall_s": round(wall, 2),
                "clean_cpu_s": round(clean_cpu, 2),
                "metadata_and_checks_wall_s": round(checks_wall, 2),
                "metadata_and_checks_cpu_s": round(checks_cpu, 2),
            }
        )
    )
    print(" wall s   cpu s  runs  statement (summed over the days; the checks' statements after the clean step's)")
    for name, s in sorted(seconds.items(), key=lambda kv: -cpu[kv[0]]):
        print(f"{s:7.2f} {cpu[name]:7.2f} {runs[name]:5d}  {name}")


if __name__ == "__main__":
    main()
