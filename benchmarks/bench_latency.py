"""Landing to visible: seconds from a file's close in the landing folder to its rows in raw.events.

    python benchmarks/bench_latency.py [--files 5] [--events-per-day 20000] [--target 15]

A real ``dagster-daemon`` (``-w workspace.yaml``) on a temporary instance, warehouse and landing folder, with
the platform's default settings (the project's dagster.yaml, no DATA_PLATFORM_SETTLE_SECONDS, the landing
sensor as the code declares it). One day of events is generated aside with the project's generator; its
hourly files are then delivered one after another the way the producer contract asks (written under a hidden
staging folder, renamed into ``events/<day>/``). The next file is dropped once the platform is idle again
(every run finished), so each figure is the latency of a file arriving on a quiet platform.

For each file: close (the rename) -> the run request (the run's creation by the sensor) -> the run's start
(its process up, code loaded) -> the ingest step's start -> visible (the ``raw/events`` materialization of
each day the file's lines fall on, recorded after the run that landed it committed them; timestamps from the
instance's event log, so polling never adds to the figure). Prints each, the median, and PASS/FAIL against
the target; writes ``benchmarks/out/latency-<date>.json``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import dagster as dg  # noqa: E402
from dagster._core.events import DagsterEventType  # noqa: E402

from data_platform.base.keys import RAW_EVENTS  # noqa: E402
from data_platform.generator import generate_logs  # noqa: E402
from data_platform.ingestion.sensors import read_ledger  # noqa: E402
from data_platform_tests.processes import daemon, platform_env, runs_of, wait_until  # noqa: E402

# the settings a test environment pins, left to their defaults here
DEFAULTED = ("DATA_PLATFORM_SETTLE_SECONDS", "DATA_PLATFORM_DUCKDB_MEMORY", "DATA_PLATFORM_DUCKDB_THREADS")


def drop(source: Path, events_dir: Path, day: str) -> tuple[str, float]:
    """Deliver ``source`` as a producer should: written in full under a hidden staging folder, then renamed
    into ``events/<day>/``; returns its path relative to ``events/`` and the moment it appeared there."""
    staging = events_dir / ".incoming"
    staging.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(source, staging / source.name)
    (events_dir / day).mkdir(exist_ok=True)
    os.replace(staging / source.name, events_dir / day / source.name)
    return f"{day}/{source.name}", time.time()


def landed(env: dict, home: str, rel: str, since: float) -> dict | None:
    """Once every run is finished and one was created after ``since``: the ledger's entry of ``rel`` and the
    time each of its days' raw/events was materialized after it landed, from the instance (None until then)."""
    runs = runs_of(home)
    if not runs or not all(r.is_finished for r in runs):
        return None
    with dg.DagsterInstance.from_config(home) as instance:
        if not any(instance.get_run_record_by_id(r.run_id).create_timestamp.timestamp() >= since for r in runs):
            return None
    ledger = read_ledger(env["DATA_PLATFORM_WAREHOUSE"], wait_seconds=0)
    entry = (ledger or {}).get(rel)
    if entry is None:
        return None
    visible = {}
    with dg.DagsterInstance.from_config(home) as instance:
        for day in entry.days:
            records = instance.fetch_materializations(
                dg.AssetRecordsFilter(
                    asset_key=RAW_EVENTS, asset_partitions=[day], after_timestamp=entry.landed_at.timestamp()
                ),
                limit=1,
                ascending=True,
            ).records
            if not records:
                return None
            visible[day] = (records[0].timestamp, records[0].run_id)
        run_id = entry.run_id
        record = instance.get_run_record_by_id(run_id)
        starts = {
            e.dagster_event.event_type: e.timestamp
            for e in instance.all_logs(run_id, of_type={DagsterEventType.RUN_START, DagsterEventType.STEP_START})
            if e.dagster_event.event_type == DagsterEventType.RUN_START or e.step_key == "raw_ingestion"
        }
        return {
            "days": list(entry.days),
            "run_id": run_id,
            "trigger": record.dagster_run.tags.get("dagster/sensor_name", "-"),
            "requested": record.create_timestamp.timestamp(),
            "run_start": starts[DagsterEventType.RUN_START],
            "ingest_start": starts[DagsterEventType.STEP_START],
            "visible": max(t for t, _ in visible.values()),
        }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--files", type=int, default=5, help="files delivered one after another")
    parser.add_argument("--events-per-day", type=int, default=20_000, help="volume of the generated day")
    parser.add_argument("--target", type=float, default=15.0, help="seconds, median")
    parser.add_argument("--timeout", type=float, default=600.0, help="seconds to wait for one file")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--tmp", default=None, help="folder for the work dir")
    parser.add_argument("--keep", action="store_true", help="keep the work dir")
    args = parser.parse_args()

    root = Path(tempfile.mkdtemp(prefix="bench-latency-", dir=args.tmp))
    home = root / "dagster_home"
    env = platform_env(root, home=home)
    for var in DEFAULTED:
        env.pop(var)
    env.pop("DATA_PLATFORM_SENSORS", None)
    day = dt.datetime.now(dt.UTC).date() - dt.timedelta(days=1)  # a partition already, whatever the hour
    generate_logs(root / "generated", day, 1, args.events_per_day, seed=args.seed)
    sources = sorted(p for p in (root / "generated" / "events" / day.isoformat()).iterdir() if ".jsonl" in p.name)
    events_dir = root / "landing" / "events"
    events_dir.mkdir(parents=True)
    results = []
    try:
        with daemon(env, root / "daemon.log") as svc:

            def sensor_ticked():
                from dagster._core.definitions.run_request import InstigatorType

                with dg.DagsterInstance.from_config(str(home)) as instance:
                    states = instance.all_instigator_state(instigator_type=InstigatorType.SENSOR)
                    return any(s.name == "landing_sensor" and s.instigator_data.last_tick_timestamp for s in states)

            wait_until(sensor_ticked, timeout=300, what="the landing sensor's first tick", services=(svc,))
            for source in sources[: args.files]:
                rel, closed = drop(source, events_dir, day.isoformat())
                got = wait_until(
                    lambda rel=rel, closed=closed: landed(env, str(home), rel, closed),
                    timeout=args.timeout,
                    what=f"{rel} in raw.events",
                    interval=1,
                    services=(svc,),
                )
                steps = {
                    "close_to_request_s": got["requested"] - closed,
                    "request_to_run_start_s": got["run_start"] - got["requested"],
                    "run_start_to_ingest_s": got["ingest_start"] - got["run_start"],
                    "ingest_to_visible_s": got["visible"] - got["ingest_start"],
                }
                result = {
                    "file": rel,
                    "bytes": source.stat().st_size,
                    "seconds": round(got["visible"] - closed, 1),
                    **{k: round(v, 1) for k, v in steps.items()},
                    "days": got["days"],
                    "landed_by": got["trigger"],
                }
                results.append(result)
                print(
                    f"{rel}: {result['seconds']} s (close -> request {result['close_to_request_s']}, -> run start "
                    f"{result['request_to_run_start_s']}, -> ingest step {result['run_start_to_ingest_s']}, -> "
                    f"visible {result['ingest_to_visible_s']}; landed by {got['trigger']})",
                    flush=True,
                )
    finally:
        if not args.keep:
            shutil.rmtree(root, ignore_errors=True)
    median = statistics.median(r["seconds"] for r in results)
    parts = {k: round(statistics.median(r[k] for r in results), 1) for k in steps}
    verdict = "PASS" if median <= args.target else "FAIL"
    load = os.getloadavg()[1]  # the machine's 5-minute load average: other work slows every process start
    print(f"medians: {parts}; load average (5 min) {load:.1f} on {os.cpu_count()} cores")
    print(f"landing to visible, median of {len(results)} files: {median} s (target <= {args.target:g} s): {verdict}")
    out = ROOT / "benchmarks" / "out"
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"latency-{dt.date.today().isoformat()}.json"
    summary = {"median_s": median, "median_parts_s": parts, "target_s": args.target, "verdict": verdict}
    path.write_text(json.dumps({"files": results, **summary, "load_average_5min": load}, indent=2))
    print(f"written: {path}")


if __name__ == "__main__":
    main()
