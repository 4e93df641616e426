"""What moved on a day, and since when: the data of the report's "What moved" section, computed in DuckDB.

For every feature with a WARN or ERROR drift row on the day (its worst one: ERROR before WARN, then the
largest score against its error limit), :func:`moved_features` gives

- ``distribution``: the feature on the two sides of that comparison (the sides the drift row was computed
  on: ``sides``, set by the anomalies asset), reference against current: a numeric feature (a text: its
  length) counted on ``BINS`` equal-width bins shared by both sides; a categorical one per value, the
  ``TOP`` values with the largest share on either side named, the rest as other values;
- ``series``: that score day by day up to the day, as ``monitoring.drift`` holds it, with its limits and
  severity, and ``since``: the first day of the run of WARN/ERROR days that reaches the day.

The report (:func:`~data_platform.validation.report.render_report`) draws them as inline SVG.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence

import duckdb

from data_platform.resources import load_sql, rows
from data_platform.validation import FeatureSpec
from data_platform.validation.features import BY_TABLE

BINS = 20
TOP = 10  # named values of a categorical plot (the report draws as many bars)
_RANK = {"ERROR": 0, "WARN": 1}


def worst_rows(drift_rows: Sequence[Mapping]) -> list[Mapping]:
    """Per (table, feature), its worst WARN or ERROR drift row of the day, worst features first."""

    def badness(r: Mapping) -> tuple:
        limit = r.get("error") or r.get("warn") or 1.0
        return (_RANK[r["severity"]], -abs(float(r.get("value") or 0.0) / float(limit)))

    worst: dict[tuple[str, str], Mapping] = {}
    for r in drift_rows:
        if r.get("severity") in _RANK:
            key = (str(r["table"]), str(r["feature"]))
            if key not in worst or badness(r) < badness(worst[key]):
                worst[key] = r
    return sorted(worst.values(), key=badness)


def _spec(table: str, feature: str) -> tuple[FeatureSpec, str]:
    monitored = BY_TABLE[table]
    return next(f for f in monitored.features if f.name == feature), monitored.partition_column


def _sides_sql(feature: str, sides: Mapping[str, tuple[str, dt.date, dt.date]]) -> tuple[str, dict]:
    """The relation of both sides' values (a subquery) and its bound spans."""
    (cur_table, cur_start, cur_end), (ref_table, ref_start, ref_end) = sides["current"], sides["reference"]
    spec, cur_column = _spec(cur_table, feature)
    _, ref_column = _spec(ref_table, feature)
    value = f"length({spec.sql})" if spec.kind == "text" else spec.sql
    relation = load_sql(
        "validation/report_sides.sql",
        value=value,
        current_table=cur_table,
        current_column=cur_column,
        reference_table=ref_table,
        reference_column=ref_column,
    )
    params = {
        "current_start": cur_start,
        "current_end": cur_end,
        "reference_start": ref_start,
        "reference_end": ref_end,
    }
    return f"({relation})", {"kind": spec.kind, **params}


def distribution(con: duckdb.DuckDBPyConnection, feature: str, sides: Mapping) -> dict:
    """The feature on both sides of a comparison (see the module docstring): ``kind`` and, per side, a
    statistics-like row the report's charts draw (``hist_edges``/``hist_counts`` on shared bins, or
    ``top_values``/``top_counts``/``other_count``)."""
    relation, params = _sides_sql(feature, sides)
    kind = params.pop("kind")
    out: dict = {"kind": kind}
    if kind == "categorical":
        counted = rows(con, "validation/report_category_counts.sql", {**params, "top": TOP}, sides=relation)
        for side in ("current", "reference"):
            named = [r for r in counted if r["side"] == side and r["value"] is not None]
            other = sum(r["n"] for r in counted if r["side"] == side and r["value"] is None)
            out[side] = {
                "count": sum(r["n"] for r in named) + other,
                "missing": 0,
                "top_values": [r["value"] for r in named],
                "top_counts": [r["n"] for r in named],
                "other_count": other,
            }
        return out
    binned = rows(con, "validation/report_shared_bins.sql", {**params, "bins": BINS}, sides=relation)
    if not binned:
        return {**out, "current": None, "reference": None}
    lo, hi = binned[0]["lo"], binned[0]["hi"]
    bins = 1 if hi == lo else BINS
    edges = [lo + (hi - lo) * i / bins for i in range(bins)] + [hi]
    for side in ("current", "reference"):
        counts = [0] * bins
        for r in binned:
            if r["side"] == side:
                counts[r["bin"]] = r["n"]
        out[side] = {"hist_edges": edges, "hist_counts": counts} if sum(counts) else None
    return out


def drift_series(con: duckdb.DuckDBPyConnection, row: Mapping, day: dt.date) -> list[dict]:
    """The drift row's score day by day up to ``day`` (``monitoring.drift``), with ``moved_since``."""
    return rows(
        con,
        "validation/drift_series.sql",
        {
            "table_name": row["table"],
            "feature": row["feature"],
            "comparison": row["comparison"],
            "metric": row["metric"],
            "day": day,
        },
    )


def moved_features(con: duckdb.DuckDBPyConnection, day: dt.date, drift_rows: Sequence[Mapping]) -> list[dict]:
    """The report's "What moved" entries of ``day`` (its drift rows must be saved in monitoring.drift)."""
    out = []
    for r in worst_rows(drift_rows):
        series = drift_series(con, r, day)
        out.append(
            {
                **{k: r.get(k) for k in ("table", "feature", "comparison", "metric", "value", "severity")},
                "since": series[-1]["moved_since"] if series else None,
                "series": series,
                "distribution": distribution(con, str(r["feature"]), r["sides"]) if r.get("sides") else None,
            }
        )
    return out
