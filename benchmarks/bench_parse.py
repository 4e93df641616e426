"""The landing's parse statement alone: CPU seconds of ``sql/ingestion/parse_lines.sql`` over a landing folder.

    python benchmarks/bench_parse.py [--landing /tmp/land1m] [--threads 1] [--repeat 3] [--memory 1GB]

Reads the lines of every landing file (``.jsonl`` and ``.jsonl.gz`` under ``events/``) with landing's own reader
into an in-memory DuckDB table first, then runs the parse statement as landing does (its ``INSERT`` into
``raw.landed_lines``, both parse paths) ``--repeat`` times over all of them as one group, emptying the table
between runs. Prints the CPU seconds (user + system, ``getrusage`` of this process) of each run, the lines
accepted and quarantined, and how many lines the fast path alone accepts (one more run with the full classifier
off). No Dagster, no file reading, no commit: what changes between two versions of the parse's SQL is what
moves. One thread by default, since the figure moves less with other work on the machine.
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from measure import cpu_seconds  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    import duckdb
    import pyarrow as pa

    from data_platform.ingestion.landing import (
        GROUP_LINE_SCHEMA,
        MAX_LINE_BYTES,
        contract_sql_fragments,
        ensure_tables,
        read_lines,
    )
    from data_platform.resources import load_sql

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--landing", type=Path, default=Path("/tmp/land1m"))
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--memory", default="1GB")
    args = parser.parse_args(argv)

    files = sorted(p for p in (args.landing / "events").rglob("*") if p.name.endswith((".jsonl", ".jsonl.gz")))
    batches = [
        pa.record_batch([pa.array([file_id] * b.num_rows, pa.int64()), *b.columns], schema=GROUP_LINE_SCHEMA)
        for file_id, path in enumerate(files, 1)
        for b in read_lines(path, path.name.endswith(".gz"))
    ]
    lines = pa.Table.from_batches(batches, GROUP_LINE_SCHEMA)
    con = duckdb.connect()
    con.execute(f"SET threads = {args.threads}")
    con.execute(f"SET memory_limit = '{args.memory}'")
    con.execute("SET TimeZone = 'UTC'")
    con.execute("CREATE TABLE landing_lines AS SELECT * FROM lines")
    ensure_tables(con)
    now = dt.datetime.now(dt.UTC)
    params = {
        "run_id": "bench",
        "ingested_at": now,
        "min_ts": dt.datetime(2000, 1, 1, tzinfo=dt.UTC),
        "max_ts": now + dt.timedelta(days=1),
        "max_line_bytes": MAX_LINE_BYTES,
    }
    print(f"{lines.num_rows:,} lines in {len(files)} files of {args.landing}, {args.threads} thread(s)")

    def parse(paths: str) -> float:
        con.execute("DELETE FROM raw.landed_lines")
        sql = load_sql("ingestion/parse_lines.sql", **contract_sql_fragments(paths))
        start = cpu_seconds()
        con.execute(sql, params)
        return cpu_seconds() - start

    runs = [parse("both") for _ in range(args.repeat)]
    counts = "SELECT count(*) - count(reason), count(reason) FROM raw.landed_lines"
    accepted, quarantined = con.execute(counts).fetchone()
    parse("fast")
    fast, _ = con.execute(counts).fetchone()
    print("parse CPU s: " + ", ".join(f"{r:.2f}" for r in runs) + f" (best {min(runs):.2f})")
    print(f"accepted {accepted:,}, quarantined {quarantined:,}; the fast path alone accepts {fast:,}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
