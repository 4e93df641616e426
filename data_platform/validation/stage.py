"""What validation declares for the rest of the platform: its lines of the status summary."""

from __future__ import annotations

import duckdb

from data_platform.base.stage import Stage
from data_platform.validation.erasure import erase_in_reports


def summary(con: duckdb.DuckDBPyConnection, tables: set[tuple[str, str]]) -> list[str]:
    """Feature profiles computed, and per day the anomalies found (ERROR ones named)."""
    if ("monitoring", "anomalies") not in tables:
        return []
    lines = []
    stats_rows, stats_days = con.execute(
        "SELECT count(*), count(DISTINCT partition_date) FROM monitoring.feature_stats"
    ).fetchone()
    lines.append(f"monitoring.feature_stats {stats_rows:>5,} feature profiles over {stats_days} days")
    by_day = con.execute("""
        SELECT day, count(*) FILTER (WHERE severity = 'ERROR'), count(*) FILTER (WHERE severity = 'WARN'),
               string_agg(DISTINCT kind || ' ' || table_name || '.' || feature, ', '
                          ORDER BY kind || ' ' || table_name || '.' || feature)
                   FILTER (WHERE severity = 'ERROR')
        FROM monitoring.anomalies GROUP BY day ORDER BY day""").fetchall()
    for day, errors, warnings, what in by_day:
        shown = (what or "")[:150] + ("..." if what and len(what) > 150 else "")
        lines.append(f"  {day}: {errors} ERROR, {warnings} WARN" + (f"  ({shown})" if errors else ""))
    return lines


STAGE = Stage(name="validation", summary=summary, file_erasers=(erase_in_reports,))
