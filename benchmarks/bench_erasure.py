"""What erasure that sticks costs: landing with tombstones, and rewriting the warehouse file after an erasure.

    python benchmarks/bench_erasure.py [--events 300000] [--tombstones 1000] [--memory 1GB] [--threads 2]

1. generate one day of N events with the project's generator;
2. land them (``land_new_files``, the parse into ``raw.landed_lines``) into a fresh warehouse with no tombstone,
   then into another fresh warehouse holding ``--tombstones`` device and user tombstones (random pseudonyms, so
   no line is dropped: the cost of the test alone);
3. cut the days into raw.events and raw.quarantine and clean them (the real assets), then time
   ``reclaim_deleted_bytes`` (the copy of the whole warehouse into a fresh file and the swap) on it.
Prints wall seconds and sizes as JSON lines.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import secrets
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

START = dt.date(2026, 11, 1)


def land(landing: Path, db: Path, memory: str, threads: int, tombstones: int) -> dict:
    from data_platform.base.pseudonyms import key_id, pseudonym_key
    from data_platform.ingestion.landing import land_new_files
    from data_platform.partitions import partitions_start
    from data_platform.privacy.tables import ensure_tables
    from data_platform.resources import Warehouse

    warehouse = Warehouse(database=str(db), memory_limit=memory, threads=threads)
    with warehouse.connect() as con:
        if tombstones:
            ensure_tables(con)
            con.execute(
                "INSERT INTO privacy.erased_identifiers SELECT 'bench', CASE WHEN i % 2 = 0 THEN 'anon_id' "
                "ELSE 'user_id' END, 'p_' || left(sha256($salt || i::VARCHAR), 24), $key_id, now() "
                "FROM range($n) r(i)",
                {"salt": secrets.token_hex(8), "key_id": key_id(pseudonym_key()), "n": tombstones},
            )
        started = time.perf_counter()
        landed = land_new_files(con, landing / "events", "bench", min_ts=partitions_start(), settle_seconds=0)
        seconds = time.perf_counter() - started
    return {
        "tombstones": tombstones,
        "land_s": round(seconds, 2),
        "lines": sum(f.lines for f in landed),
        "erased_subject": sum(f.erased_subject for f in landed),
    }


def reclaim(landing: Path, db: Path, memory: str, threads: int, first: str, last: str) -> dict:
    import dagster as dg

    from data_platform.cleaning.assets import clean_layer
    from data_platform.ingestion.assets import raw_ingestion
    from data_platform.privacy.compaction import reclaim_deleted_bytes
    from data_platform.resources import LandingZone, Warehouse

    assert dg.materialize(
        [raw_ingestion, clean_layer],
        resources={
            "warehouse": Warehouse(database=str(db), memory_limit=memory, threads=threads),
            "landing": LandingZone(root=str(landing), settle_seconds=0),
        },
        instance=dg.DagsterInstance.ephemeral(),
        tags={"dagster/asset_partition_range_start": first, "dagster/asset_partition_range_end": last},
    ).success
    return {"reclaim": reclaim_deleted_bytes(db)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=300_000)
    parser.add_argument("--tombstones", type=int, default=1000)
    parser.add_argument("--memory", default="1GB")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()

    from data_platform.generator import generate_logs

    work = Path(tempfile.mkdtemp(prefix="bench-erasure-"))
    try:
        manifest = generate_logs(work / "landing", START, 1, args.events, seed=1)
        days = sorted(manifest["valid_lines_by_event_day"])
        print(json.dumps({"lines": manifest["total_lines"]}), flush=True)
        for n in (0, args.tombstones):
            out = land(work / "landing", work / f"land-{n}.duckdb", args.memory, args.threads, n)
            print(json.dumps(out), flush=True)
        out = reclaim(work / "landing", work / "full.duckdb", args.memory, args.threads, days[0], days[-1])
        print(json.dumps(out), flush=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
