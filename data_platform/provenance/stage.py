"""What provenance declares for the rest of the platform: its lines of the status summary."""

from __future__ import annotations

import duckdb

from data_platform.base.stage import Stage


def summary(con: duckdb.DuckDBPyConnection, tables: set[tuple[str, str]]) -> list[str]:
    """Every invalidation and the rows that traced to it."""
    if ("provenance", "invalidations") not in tables:
        return []
    lines = []
    for inv_id, kind, value, status, reason in con.execute(
        "SELECT invalidation_id, kind, value, status, reason FROM provenance.invalidations ORDER BY 1"
    ).fetchall():
        moved = con.execute(
            "SELECT string_agg(table_name || ' ' || rows_before || '->' || rows_after, ', ' "
            "ORDER BY table_name) FROM provenance.invalidation_audit WHERE invalidation_id = ? "
            "AND rows_before <> rows_after",
            [inv_id],
        ).fetchone()[0]
        lines.append(f"provenance: invalidation {inv_id} {kind} {value} ({status}): {reason}")
        lines.append(f"  rows tracing to it: {moved or 'unchanged'}")
    return lines


STAGE = Stage(
    name="provenance",
    # an invalidation keeps the raw event ids it covered, for its audit: an erased person's go with them
    person_columns={"provenance.invalidated_events": "event_id IN (SELECT event_id FROM erase_events)"},
    summary=summary,
)
