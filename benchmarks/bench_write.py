"""What writing a table costs in each DuckDB storage format: copies of a warehouse's tables into new files.

    python benchmarks/bench_write.py WAREHOUSE.duckdb [--table raw.events --table clean.events]
        [--format v0.10.2 --format v1.5.0] [--repeat 2] [--memory 1GB] [--threads 2]

For each format (DuckDB's default for a new file is v0.10.2; the platform creates warehouses in
``resources.STORAGE_VERSION``) and each repeat, a new file is created in that format and every ``--table`` is
copied into it with ``CREATE TABLE ... AS SELECT *`` (the table's rows read from WAREHOUSE, attached read-only),
then the file is closed. Prints the wall and CPU seconds (user + system of this process) of each copy and the
file's size. Formats alternate within a repeat, so a change of load on the machine touches both.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import duckdb

sys.path.insert(0, str(Path(__file__).resolve().parent))

from measure import cpu_seconds  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("warehouse", type=Path)
    parser.add_argument("--table", action="append", help="schema.table to copy (default raw.events, clean.events)")
    parser.add_argument("--format", action="append", help="storage versions (default v0.10.2 and v1.5.0)")
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--memory", default="1GB")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    tables = args.table or ["raw.events", "clean.events"]
    formats = args.format or ["v0.10.2", "v1.5.0"]
    con = duckdb.connect()
    con.execute(f"SET memory_limit = '{args.memory}'")
    con.execute(f"SET threads = {args.threads}")
    con.execute(f"ATTACH '{args.warehouse}' AS source (READ_ONLY)")
    print("format    table                       rows   wall s  CPU s  file MB")
    with tempfile.TemporaryDirectory() as tmp:
        for _ in range(args.repeat):
            for version in formats:
                path = Path(tmp) / f"copy-{version}.duckdb"
                path.unlink(missing_ok=True)
                con.execute(f"ATTACH '{path}' AS copy (STORAGE_VERSION '{version}')")
                for table in tables:
                    t0, c0 = time.perf_counter(), cpu_seconds()
                    con.execute(f"CREATE TABLE copy.{table.replace('.', '_')} AS SELECT * FROM source.{table}")
                    wall, cpu = time.perf_counter() - t0, cpu_seconds() - c0
                    rows = con.execute(f"SELECT count(*) FROM copy.{table.replace('.', '_')}").fetchone()[0]
                    print(f"{version:9s} {table:22s} {rows:>10,} {wall:8.2f} {cpu:6.2f}")
                con.execute("DETACH copy")
                print(f"{version:9s} {'(file)':22s} {'':>10} {'':8} {'':6} {path.stat().st_size / 1e6:8.1f}")


if __name__ == "__main__":
    main()
