"""What the flywheel declares for the rest of the platform: its lines of the status summary."""

from __future__ import annotations

import json

import duckdb

from data_platform.base.stage import Stage


def summary(con: duckdb.DuckDBPyConnection, tables: set[tuple[str, str]]) -> list[str]:
    """The retraining signal of every day and dataset with a published version."""
    if ("monitoring", "retraining_signal") not in tables:
        return []
    lines = []
    for day, dataset, refresh, reasons in con.execute(
        "SELECT day, dataset, refresh, reasons FROM monitoring.retraining_signal "
        "WHERE version IS NOT NULL ORDER BY day, dataset"
    ).fetchall():
        kinds = ", ".join(r["reason"] for r in json.loads(reasons))
        lines.append(f"retraining signal {day} {dataset}: " + (f"REFRESH ({kinds})" if refresh else "no refresh"))
    return lines


STAGE = Stage(name="flywheel", summary=summary)
