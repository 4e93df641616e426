"""Ingestion benchmark: generate N events for one day, ingest them through Dagster, print figures.

    python benchmarks/bench_ingest.py --events 1000000 [--events 10000000] [--memory 4GB]

For each N: generation time, then ``dg launch`` of the ingestion assets over the generated days
(a real Dagster run, DuckDB capped at --memory): wall seconds, lines per second, peak RSS of the
whole process tree (sampled from /proc every 0.1 s), warehouse size. As a floor, the same files
read by one plain DuckDB statement (read_json into a table, no provenance, no quarantine).
Results are printed as a table and appended as JSON lines to benchmarks/out/ingest.jsonl.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from data_platform.generator import generate_logs  # noqa: E402

PAGE = os.sysconf("SC_PAGE_SIZE")


def tree_rss_bytes(pid: int) -> int:
    """Resident memory of a process and all its descendants, from /proc."""
    children: dict[int, list[int]] = {}
    rss: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as fh:
                fields = fh.read().rsplit(")", 1)[1].split()
            ppid, pages = int(fields[1]), int(fields[21])
        except (OSError, IndexError, ValueError):
            continue
        children.setdefault(ppid, []).append(int(entry))
        rss[int(entry)] = pages * PAGE
    total, stack = 0, [pid]
    while stack:
        p = stack.pop()
        total += rss.get(p, 0)
        stack.extend(children.get(p, []))
    return total


def run_measured(cmd: list[str], env: dict, cwd: Path) -> tuple[float, int, subprocess.CompletedProcess]:
    """Run a command; return wall seconds, peak RSS of its process tree, and the completed process."""
    started = time.perf_counter()
    proc = subprocess.Popen(cmd, env=env, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    peak = 0
    stop = threading.Event()

    def sample() -> None:
        nonlocal peak
        while not stop.is_set():
            peak = max(peak, tree_rss_bytes(proc.pid))
            time.sleep(0.1)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    out, err = proc.communicate()
    stop.set()
    sampler.join()
    return time.perf_counter() - started, peak, subprocess.CompletedProcess(cmd, proc.returncode, out, err)


FLOOR_SQL = """
SET memory_limit = '{memory}';
CREATE TABLE events AS
SELECT * FROM read_json('{glob}', format = 'newline_delimited', ignore_errors = true,
                        columns = {{event_id: 'VARCHAR', event_type: 'VARCHAR', ts: 'VARCHAR',
                                   anon_id: 'VARCHAR', user_id: 'VARCHAR', session_id: 'VARCHAR',
                                   impression_id: 'VARCHAR', item_id: 'VARCHAR', category: 'VARCHAR',
                                   position: 'BIGINT', price: 'DOUBLE', currency: 'VARCHAR',
                                   predicted_ctr: 'DOUBLE', model_version: 'VARCHAR', text: 'VARCHAR',
                                   rating: 'BIGINT', country: 'VARCHAR', device: 'VARCHAR',
                                   app_version: 'VARCHAR', user_agent: 'VARCHAR', ip: 'VARCHAR'}});
"""


def bench(events: int, memory: str, workdir: Path) -> dict:
    landing = workdir / "landing"
    start = dt.date(2026, 11, 1)
    t0 = time.perf_counter()
    manifest = generate_logs(landing, start, 1, events, seed=1)
    gen_seconds = time.perf_counter() - t0
    days = sorted(manifest["valid_lines_by_event_day"])
    size = sum(p.stat().st_size for p in (landing / "events").rglob("*.jsonl*"))

    home = workdir / "dagster_home"
    home.mkdir()
    shutil.copy(ROOT / "dagster_home" / "dagster.yaml", home / "dagster.yaml")
    warehouse = workdir / "warehouse.duckdb"
    env = {
        **os.environ, "DAGSTER_HOME": str(home), "DATA_PLATFORM_WAREHOUSE": str(warehouse),
        "DATA_PLATFORM_LANDING": str(landing), "DATA_PLATFORM_SETTLE_SECONDS": "0",
        "DATA_PLATFORM_DUCKDB_MEMORY": memory,
    }
    dg_bin = str(Path(sys.executable).with_name("dg"))
    seconds, peak, done = run_measured(
        [dg_bin, "launch", "--assets", "group:ingestion", "--partition-range", f"{days[0]}...{days[-1]}"], env, ROOT
    )
    if done.returncode != 0:
        raise SystemExit(f"ingestion failed:\n{done.stderr[-5000:]}")

    import dagster as dg
    import duckdb

    with dg.DagsterInstance.from_config(str(home)) as instance:
        event = instance.get_latest_materialization_event(dg.AssetKey(["raw", "files"]))
        stages = event.asset_materialization.metadata["seconds"].value if event else {}

    con = duckdb.connect(str(warehouse), read_only=True)
    accepted, quarantined, lines = con.execute(
        "SELECT (SELECT count(*) FROM raw.events), (SELECT count(*) FROM raw.quarantine), "
        "(SELECT sum(lines) FROM raw.files WHERE status = 'current')"
    ).fetchone()
    con.close()

    floor_db = workdir / "floor.duckdb"
    floor_script = FLOOR_SQL.format(memory=memory, glob=str(landing / "events" / "*" / "*.jsonl*"))
    floor_seconds, floor_peak, floor_done = run_measured(
        [sys.executable, "-c", f"import duckdb; duckdb.connect({str(floor_db)!r}).execute({floor_script!r})"],
        os.environ.copy(), ROOT,
    )
    if floor_done.returncode != 0:
        raise SystemExit(f"floor failed:\n{floor_done.stderr[-3000:]}")

    return {
        "date": dt.date.today().isoformat(),
        "events_per_day": events,
        "lines": int(lines),
        "accepted": int(accepted),
        "quarantined": int(quarantined),
        "landing_mb": round(size / 1e6, 1),
        "generate_s": round(gen_seconds, 1),
        "ingest_s": round(seconds, 1),
        "step_stages_s": stages,
        "lines_per_s": int(lines / seconds),
        "peak_rss_mb": round(peak / 2**20),
        "warehouse_mb": round(warehouse.stat().st_size / 1e6, 1),
        "duckdb_memory_limit": memory,
        "floor_read_json_s": round(floor_seconds, 1),
        "floor_peak_rss_mb": round(floor_peak / 2**20),
        "ours_vs_floor": round(seconds / floor_seconds, 2),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}",
        "versions": _versions(),
    }


def _versions() -> str:
    from importlib.metadata import version

    return ", ".join(f"{p} {version(p)}" for p in ("dagster", "duckdb", "polars", "pyarrow"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, action="append", help="events per day (repeatable); default 1M")
    parser.add_argument("--memory", default="4GB", help="DuckDB memory_limit for the run (default 4GB)")
    parser.add_argument("--keep", action="store_true", help="keep the work folders")
    args = parser.parse_args()
    out_dir = ROOT / "benchmarks" / "out"
    out_dir.mkdir(parents=True, exist_ok=True)
    results = []
    for n in args.events or [1_000_000]:
        workdir = Path(tempfile.mkdtemp(prefix=f"bench-{n}-", dir=os.environ.get("BENCH_TMP")))
        try:
            result = bench(n, args.memory, workdir)
        finally:
            if not args.keep:
                shutil.rmtree(workdir, ignore_errors=True)
        results.append(result)
        with open(out_dir / "ingest.jsonl", "a") as fh:
            fh.write(json.dumps(result) + "\n")
        print(json.dumps(result), flush=True)
    cols = ["events_per_day", "lines", "landing_mb", "ingest_s", "lines_per_s", "peak_rss_mb",
            "warehouse_mb", "floor_read_json_s", "ours_vs_floor", "generate_s"]
    print("| " + " | ".join(cols) + " |")
    print("|" + "---|" * len(cols))
    for r in results:
        print("| " + " | ".join(f"{r[c]:,}" if isinstance(r[c], int) else str(r[c]) for c in cols) + " |")


if __name__ == "__main__":
    main()
