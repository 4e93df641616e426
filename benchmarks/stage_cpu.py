"""CPU seconds of each daily stage (ingest, clean, label) of one partition run, in process, over a warehouse.

    python benchmarks/stage_cpu.py WAREHOUSE.duckdb LANDING_DIR DAY [--start-date 2026-11-01]

Materializes the ingestion group, then the cleaning group, then ``labels/ctr_examples`` for DAY (each with its
checks) on an ephemeral instance against the given warehouse and landing folder (both are changed: work on
copies), and prints the CPU seconds (user + system of this process, DuckDB's threads included) and the wall
seconds of each. CPU moves far less than wall time when other work shares the cores. Used to compare day 1
on an empty warehouse with day 31 on a warehouse that holds 30 days (what grows with history).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import warnings
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from measure import cpu_seconds  # noqa: E402

STAGES = (("ingest", "group:ingestion"), ("clean", "group:cleaning"), ("label", "key:labels/ctr_examples"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("warehouse", type=Path)
    parser.add_argument("landing", type=Path)
    parser.add_argument("day")
    parser.add_argument("--start-date", default="2026-11-01", help="the first daily partition")
    parser.add_argument("--memory", default="1GB")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    os.environ.update(
        DATA_PLATFORM_WAREHOUSE=str(args.warehouse),
        DATA_PLATFORM_LANDING=str(args.landing),
        DATA_PLATFORM_SETTLE_SECONDS="0",
        DATA_PLATFORM_DUCKDB_MEMORY=args.memory,
        DATA_PLATFORM_DUCKDB_THREADS=str(args.threads),
        DATA_PLATFORM_SENSORS="stopped",
        DATA_PLATFORM_START_DATE=args.start_date,
    )
    warnings.simplefilter("ignore")
    import dagster as dg

    from data_platform.definitions import defs

    everything = [*defs.assets, *(defs.asset_checks or [])]
    with dg.DagsterInstance.ephemeral() as instance:
        for stage, selection in STAGES:
            cpu0, wall0 = cpu_seconds(), time.perf_counter()
            dg.materialize(
                everything, selection=selection, partition_key=args.day, resources=defs.resources, instance=instance
            )
            print(f"{stage}: {cpu_seconds() - cpu0:.2f} CPU s, {time.perf_counter() - wall0:.2f} wall s", flush=True)


if __name__ == "__main__":
    main()
