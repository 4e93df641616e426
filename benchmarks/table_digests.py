"""Digests of a warehouse's tables, to show that two versions of a stage wrote the same rows.

    python benchmarks/table_digests.py WAREHOUSE.duckdb [--table clean.events ...] [--memory 1GB]

For each table (default: the clean stage's tables and the identity map): its row count and the MD5 of its
rows written as CSV in sorted order (``ORDER BY ALL``), leaving out the columns that name the run or its
time (``clean_run_id``, ``cleaned_at``; the ingestion tables' ``run_id``, ``ingested_at``, ``landed_run_id``,
``landed_at``), which differ between any two runs. Two warehouses cleaned by two
versions of the code agree on every row when every line of the two outputs is the same. The CSV goes to a
temporary file next to nothing else (GBs at 10M events) and is deleted after hashing.
"""

from __future__ import annotations

import argparse
import hashlib
import sys
import tempfile
from pathlib import Path

import duckdb

TABLES = (
    "clean.events",
    "clean.filtered_events",
    "clean.duplicates",
    "clean.unit_corrections",
    "clean.consent_exclusions",
    "clean.identity_map",
)
RUN_COLUMNS = {"clean_run_id", "cleaned_at", "run_id", "ingested_at", "landed_run_id", "landed_at"}


def table_digest(con: duckdb.DuckDBPyConnection, table: str, folder: Path) -> tuple[int, str]:
    """(rows, MD5 of the sorted CSV of the table without its run columns)."""
    schema, name = table.split(".")
    columns = [
        c
        for (c,) in con.execute(
            "SELECT column_name FROM information_schema.columns WHERE table_schema = ? AND table_name = ? "
            "ORDER BY ordinal_position",
            [schema, name],
        ).fetchall()
        if c not in RUN_COLUMNS
    ]
    path = folder / f"{table}.csv"
    select = ", ".join(f'"{c}"' for c in columns)
    con.execute(f"COPY (SELECT {select} FROM {table} ORDER BY ALL) TO '{path}' (FORMAT csv)")
    digest = hashlib.md5()
    with path.open("rb") as fh:
        while chunk := fh.read(1 << 24):
            digest.update(chunk)
    path.unlink()
    (rows,) = con.execute(f"SELECT count(*) FROM {table}").fetchone()
    return rows, digest.hexdigest()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("warehouse")
    parser.add_argument("--table", action="append", help="schema.table (repeatable; default: the clean tables)")
    parser.add_argument("--memory", default="1GB")
    args = parser.parse_args(argv)
    con = duckdb.connect(args.warehouse, read_only=True, config={"memory_limit": args.memory})
    with tempfile.TemporaryDirectory() as tmp:
        for table in args.table or TABLES:
            rows, digest = table_digest(con, table, Path(tmp))
            print(f"{table:28} {rows:>12,} {digest}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
