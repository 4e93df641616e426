"""How long an erasure takes to find the landing lines it must empty (sql/ingestion/erased_line_gaps.sql).

    python benchmarks/bench_erasure_gaps.py [--files 1000] [--lines 10000] [--erased-every 100000]

Builds raw.files and raw.landed_lines of ``files`` x ``lines`` parsed lines in an in-memory DuckDB, deletes
about one line in ``erased-every`` (what erasures leave), and times the query that finds the missing lines.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import duckdb

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from data_platform.resources import load_sql  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=1000)
    parser.add_argument("--lines", type=int, default=10_000)
    parser.add_argument("--erased-every", type=int, default=100_000)
    args = parser.parse_args()
    con = duckdb.connect()
    con.execute("CREATE SCHEMA raw")
    con.execute(
        "CREATE TABLE raw.files AS SELECT i AS file_id, 'f' || i || '.jsonl' AS source_file, md5(i::VARCHAR) AS "
        "file_sha256, FALSE AS compressed, $lines::BIGINT AS lines, 'current' AS status FROM range(1, $files + 1) t(i)",
        {"files": args.files, "lines": args.lines},
    )
    con.execute(
        "CREATE TABLE raw.landed_lines AS SELECT f.file_id, l.i AS source_line FROM raw.files f, "
        "range(1, $lines + 1) l(i)",
        {"lines": args.lines},
    )
    con.execute("DELETE FROM raw.landed_lines WHERE hash(file_id, source_line) % $n = 0", {"n": args.erased_every})
    start = time.perf_counter()
    found = con.execute(load_sql("ingestion/erased_line_gaps.sql")).fetchall()
    seconds = time.perf_counter() - start
    print(
        f"{args.files * args.lines:,} parsed lines in {args.files:,} files: {len(found)} files with erased lines, "
        f"{sum(len(r[4]) for r in found)} lines, found in {seconds:.2f} s"
    )


if __name__ == "__main__":
    main()
