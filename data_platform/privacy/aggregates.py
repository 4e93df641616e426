"""Statistics meant for sharing: counts per group with small groups suppressed (k-anonymity)."""

from __future__ import annotations

import re

import duckdb

from data_platform.resources import run_sql

SUPPRESSED = "<suppressed>"
_IDENT = re.compile(r"[A-Za-z_]\w*(\.[A-Za-z_]\w*)?")


def k_anonymous_counts(
    con: duckdb.DuckDBPyConnection,
    table: str,
    group_column: str,
    *,
    k: int = 10,
    partition_column: str | None = None,
    start_day=None,
    end_day=None,
) -> dict:
    """Rows per value of ``group_column`` where every group below ``k`` rows is merged into
    ``<suppressed>``; if that merged group is itself below ``k`` it is dropped and only counted.

    Returns ``{"groups": {value: rows}, "k": k, "suppressed_groups": n, "dropped_rows": n}``.
    """
    for name in (table, group_column, *([partition_column] if partition_column else [])):
        if not _IDENT.fullmatch(name):
            raise ValueError(f"not an identifier: {name!r}")
    where = f"WHERE {partition_column} >= $start AND {partition_column} < $end" if partition_column else ""
    params = {"start": start_day, "end": end_day} if partition_column else {}
    counts = run_sql(con, "privacy/group_counts.sql", params, table=table, column=group_column, where=where).fetchall()
    groups: dict[str, int] = {}
    small = [(g, n) for g, n in counts if n < k]
    for g, n in counts:
        if n >= k:
            groups["<null>" if g is None else str(g)] = n
    merged = sum(n for _, n in small)
    dropped = 0
    if merged >= k:
        groups[SUPPRESSED] = merged
    else:
        dropped = merged
    return {"groups": groups, "k": k, "suppressed_groups": len(small), "dropped_rows": dropped}
