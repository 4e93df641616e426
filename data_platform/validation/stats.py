"""Feature statistics: profile the monitored features of a table per day, inside DuckDB, and keep the
profiles in ``monitoring.feature_stats`` (a history table, one row per table, day and feature).

:func:`compute_feature_stats` returns the rows (dicts with the keys of
:data:`~data_platform.validation.STATS_COLUMNS` but ``computed_at`` / ``run_id``),
:func:`write_feature_stats` stores them (replacing the same table's rows of the same days) and
:func:`load_stats` reads them back.

What each kind of feature gets:

- ``numeric``: count, missing (NULL), zeros, min, max, mean, sample std, the exact quantiles at
  :data:`QUANTILES`, an equal-width histogram (:data:`HIST_BINS` bins from min to max) and a quantile
  histogram (edges at the deciles, deduplicated). On a day with at most :data:`DISCRETE_MAX` distinct
  values (a 0/1 label, a rating) also ``distinct_count`` and every value with its count (``top_values``
  as DuckDB casts the DOUBLE to VARCHAR, ``other_count`` 0), so that drift can compare the exact shares
  of the values; on other days those columns are NULL.
- ``text``: the same, computed on the length of the text in characters (Unicode code points, as
  Python's ``len``); missing counts NULL texts, zeros counts empty texts.
- ``categorical``: count, missing, distinct_count (non-NULL values), the :data:`TOP_K` most frequent
  values (as VARCHAR) with their counts, most frequent first and ties broken by value (byte order of
  the UTF-8 text, which is code point order), and ``other_count``, the non-NULL rows outside the top
  values. The numeric columns are NULL.

Histograms follow ``numpy.histogram``: bin ``i`` holds ``edges[i] <= x < edges[i + 1]``, the last bin
also holds ``x == edges[-1]``. When all the values of a day are equal both histograms are one
degenerate bin ``[v, v]`` holding all of them, and its mean is ``v`` exactly (not a rounded sum over
the count) and its std 0. A feature with no non-NULL value on a day (or with a non-finite min or max,
e.g. a NaN) has NULL quantiles and histograms; one whose range ``max - min`` overflows has no
histograms. Extreme finite values (up to +-1.8e308) never fail the scan: their mean and std are
computed on scaled values (see ``feature_stats_moments.sql``).
"""

from __future__ import annotations

import datetime as dt
import math
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import duckdb

from data_platform.resources import load_sql, run_sql, transaction
from data_platform.resources import rows as fetch_rows
from data_platform.validation import DISCRETE_MAX, HIST_BINS, QHIST_BINS, QUANTILES, STATS_COLUMNS, TOP_K, FeatureSpec

_TABLE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)?")
_COLUMN = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")

DECILES = tuple(i / QHIST_BINS for i in range(QHIST_BINS + 1))
"""Where the quantile histogram's edges are taken (before deduplication)."""

PROBS = tuple(sorted(set(QUANTILES) | set(DECILES[1:-1])))
"""Every probability scan 1 asks ``quantile_cont`` for: the reported quantiles and the inner deciles,
in one aggregate (one copy of the values per feature and day). Deciles 0 and 1 are the min and max,
which min() and max() give exactly (each extra probability costs a selection pass)."""

EDGE_SNAP_ULPS = 4
"""How far (in units in the last place) DuckDB's interpolation may leave an inner decile from the value
it should equal, see :func:`quantile_edges`."""

COMPUTED_COLUMNS = tuple(name for name, _, _ in STATS_COLUMNS if name not in ("computed_at", "run_id"))
"""The keys of a row returned by :func:`compute_feature_stats`."""


def check_table_name(name: str) -> str:
    """``name`` if it is an identifier like ``table`` or ``schema.table``, else ValueError."""
    if not isinstance(name, str) or not _TABLE.fullmatch(name):
        raise ValueError(f"not a table name (schema.table): {name!r}")
    return name


def _check_column(name: str) -> str:
    if not isinstance(name, str) or not _COLUMN.fullmatch(name):
        raise ValueError(f"not a column name: {name!r}")
    return name


def _check_expression(feature: FeatureSpec) -> str:
    """A guard against mistakes, not a sanitiser: feature expressions are SQL written in code."""
    sql = feature.sql
    if not isinstance(sql, str) or not sql.strip():
        raise ValueError(f"feature {feature.name!r}: empty SQL expression")
    for token in (";", "--", "/*"):
        if token in sql:
            raise ValueError(f"feature {feature.name!r}: one SQL expression without {token!r}, please")
    return sql


def _as_date(value: Any) -> dt.date:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    return dt.date.fromisoformat(str(value))


def _numeric_sql(feature: FeatureSpec) -> str:
    expr = _check_expression(feature)
    if feature.kind == "text":
        return f"CAST(length(CAST(({expr}) AS VARCHAR)) AS DOUBLE)"
    return f"CAST(({expr}) AS DOUBLE)"


def equal_width_edges(lo: float, hi: float, bins: int = HIST_BINS) -> list[float]:
    """``bins + 1`` edges from ``lo`` to ``hi``: ``lo + i * w`` with ``w = (hi - lo) / bins`` and the
    last edge ``hi`` itself (numpy.linspace's arithmetic). The counting SQL computes the same products,
    so a value on an edge is counted where numpy.histogram counts it. ``[lo, lo]`` when ``lo == hi``."""
    if lo == hi:
        return [lo, hi]
    w = (hi - lo) / bins
    return [lo + i * w for i in range(bins)] + [hi]


def _snap(value: float) -> float:
    """An inner decile as a histogram edge. DuckDB interpolates ``lo * (1 - d) + hi * d``, which for tied
    order statistics (``lo == hi``) can miss the tied value by an ulp or two, on either side; an edge
    just above a value held by many rows would count them all in the bin below. So: a decile within
    :data:`EDGE_SNAP_ULPS` ulps of a 12-significant-digit decimal becomes that decimal (integers,
    prices, lengths: the tied value itself); any other decile is moved down by that many ulps, so rows
    equal to it count in the bin that starts there (no real data lies in between)."""
    slack = EDGE_SNAP_ULPS * math.ulp(value)
    short = float(f"{value:.12g}")
    if abs(short - value) <= slack:
        return short
    return value - slack


def quantile_edges(lo: float, hi: float, deciles: Sequence[float]) -> list[float]:
    """The quantile histogram's edges: ``lo``, the inner deciles (see :func:`_snap`), ``hi``; made
    non-decreasing, kept inside ``[lo, hi]`` and deduplicated. ``[lo, lo]`` when ``lo == hi``."""
    if lo == hi:
        return [lo, hi]
    inner = [min(max(_snap(d), lo), hi) for d in deciles[1:-1]]
    edges = [lo]
    for e in inner + [hi]:
        e = max(e, edges[-1])
        if e != edges[-1]:
            edges.append(e)
    return edges


def compute_feature_stats(
    con: duckdb.DuckDBPyConnection,
    table: str,
    features: Sequence[FeatureSpec],
    partition_column: str,
    start_day: dt.date | str,
    end_day: dt.date | str,
) -> list[dict]:
    """Statistics of ``features`` of ``table`` for each day in ``[start_day, end_day)``.

    One row per (day, feature), days ascending and features in the given order, with the keys of
    :data:`COMPUTED_COLUMNS`; a day without rows in the table has no row at all (absence is the
    volume checks' business, not a profile of zeros). The day of a row is
    ``CAST(partition_column AS DATE)`` (a TIMESTAMPTZ column is cut in the session's time zone: the
    warehouse connection sets UTC).

    ``table`` must be an identifier (``schema.table``) and ``partition_column`` a column name; feature
    expressions (:attr:`FeatureSpec.sql`) are SQL written in code, not user input.

    Two scans of the day range, each one aggregation inside DuckDB; only small results leave it:

    1. ``sql/validation/feature_stats_moments.sql`` (numeric and text features): count, missing,
       zeros, min, max, mean, std and ``quantile_cont`` at :data:`PROBS` (the quantiles and the
       deciles of the quantile histogram in one aggregate), grouped by (day, feature).
    2. ``sql/validation/feature_stats_counts.sql``: counts per (day, feature, equal-width bin,
       quantile bin, categorical value). The histogram bins need the min, max and deciles of scan 1,
       hence a second scan; the categorical value counts ride along (a GROUP BY that spills, unlike a
       per-group ``histogram()`` map, and that stays fast for high-cardinality values) and are ranked
       in DuckDB, which returns the top :data:`TOP_K` per (day, feature) with the distinct count.

    Scan 1 is skipped for a table without numeric or text features, scan 2 when there are neither
    categoricals nor numeric features with two distinct values on some day. The scans are two
    statements: a caller whose table may change meanwhile runs this inside a transaction (a snapshot).
    Memory: exact quantiles hold every non-NULL value of a numeric feature of a day at once (8 bytes
    each).
    """
    table = check_table_name(table)
    partition = _check_column(partition_column)
    features = tuple(features)
    names = [f.name for f in features]
    if len(set(names)) != len(names):
        raise ValueError(f"feature names must be unique, got {names}")
    if not features:
        return []
    days = {"start_day": _as_date(start_day), "end_day": _as_date(end_day)}
    numeric = [k for k, f in enumerate(features) if f.kind != "categorical"]
    categorical = [k for k, f in enumerate(features) if f.kind == "categorical"]

    moments, edges, counts = _scan(con, table, partition, features, days, numeric, categorical)

    all_days = sorted({d for d, _ in moments} | {d for d, _ in counts})
    for kinds, found in ((numeric, moments), (categorical, counts)):
        if kinds and any((d, kinds[0]) not in found for d in all_days):
            raise RuntimeError(
                f"{table} changed between the two scans of [{start_day}, {end_day}): profile it inside a transaction"
            )
    out = []
    for day in all_days:
        for k, feature in enumerate(features):
            row = dict.fromkeys(COMPUTED_COLUMNS)
            row.update(table_name=table, partition_date=day, feature=feature.name, kind=feature.kind)
            if feature.kind == "categorical":
                _fill_categorical(row, counts.get((day, k), []))
            else:
                _fill_numeric(row, moments[(day, k)], edges.get((day, k)), counts.get((day, k), []))
            out.append(row)
    return out


def _scan(
    con: duckdb.DuckDBPyConnection,
    table: str,
    partition: str,
    features: tuple[FeatureSpec, ...],
    days: dict,
    numeric: list[int],
    categorical: list[int],
) -> tuple[dict, dict, dict]:
    """Run the scans; return the moments and the histogram edges by (day, numeric feature index) and
    the counted buckets by (day, feature index)."""
    moments: dict[tuple[dt.date, int], dict] = {}
    if numeric:
        pairs = ", ".join(f"struct_pack(f := {k}, x := {_numeric_sql(features[k])})" for k in numeric)
        scale = {"wide": 2.0**480, "down": 2.0**-600, "up": 2.0**600}
        for r in fetch_rows(
            con,
            "validation/feature_stats_moments.sql",
            {**days, "probs": list(PROBS), **scale},
            table=table,
            partition=partition,
            pairs=f"[{pairs}]",
        ):
            moments[(r["day"], r["f"])] = r

    edges = _histogram_edges(moments, {k for k in numeric if features[k].kind == "numeric"})
    binned = sorted({f for _, f in edges})
    counts: dict[tuple[dt.date, int], list[dict]] = {}
    if categorical or binned:
        params, fragments = _counts_query(features, days, edges, binned, categorical)
        for r in fetch_rows(
            con, "validation/feature_stats_counts.sql", params, table=table, partition=partition, **fragments
        ):
            counts.setdefault((r["day"], r["f"]), []).append(r)
    return moments, edges, counts


def _search_sql(x: str, edge: str, lo: int, hi: int) -> str:
    """SQL for the number of edges ``<edge>1 <= <edge>2 <= ...`` that are ``<= x``, known to lie in
    ``[lo, hi]``: a binary search of nested CASEs (about log2(QHIST_BINS) comparisons per value, where
    summing one comparison per edge costs QHIST_BINS - 1)."""
    if lo == hi:
        return str(lo)
    mid = (lo + hi + 1) // 2
    return (
        f"CASE WHEN {x} >= {edge}{mid} THEN {_search_sql(x, edge, mid, hi)} "
        f"ELSE {_search_sql(x, edge, lo, mid - 1)} END"
    )


def _counts_query(
    features: tuple[FeatureSpec, ...],
    days: dict,
    edges: Mapping[tuple[dt.date, int], dict],
    binned: list[int],
    categorical: list[int],
) -> tuple[dict, dict]:
    """The parameters and fragments of ``sql/validation/feature_stats_counts.sql``: the edges of the
    features in ``binned`` as parallel lists by day, and the per-feature SQL (see the file)."""
    edge_days = sorted({d for d, _ in edges})
    params: dict[str, Any] = {**days, "top_k": TOP_K, "edge_day": edge_days}
    if binned:
        params["bins"] = HIST_BINS  # DuckDB refuses a parameter the statement does not use
    inner_slots = range(1, QHIST_BINS)  # a quantile histogram has at most QHIST_BINS - 1 inner edges
    edge_lists, edge_columns, values, estimates, codes, pairs = [], [], [], [], [], []
    for k in binned:
        per_day = [edges.get((d, k)) for d in edge_days]
        params[f"lo_{k}"] = [e and e["lo"] for e in per_day]
        params[f"w_{k}"] = [e and e["w"] for e in per_day]
        # padded with +inf to a fixed number of columns: no finite value reaches a padding edge (a day
        # with a non-finite value has no histograms at all)
        params[f"inner_{k}"] = [e and e["inner"] + [math.inf] * (QHIST_BINS - 1 - len(e["inner"])) for e in per_day]
        params[f"disc_{k}"] = [bool(e and e["discrete"]) for e in per_day]
        edge_lists.append(
            f"unnest(CAST($lo_{k} AS DOUBLE[])) AS lo_{k}, "
            f"unnest(CAST($w_{k} AS DOUBLE[])) AS w_{k}, "
            f"unnest(CAST($inner_{k} AS DOUBLE[][])) AS inner_{k}, "
            f"unnest(CAST($disc_{k} AS BOOLEAN[])) AS disc_{k}"
        )
        edge_columns.append(
            f"lo_{k}, w_{k}, disc_{k}, " + ", ".join(f"inner_{k}[{j}] AS q_{k}_{j}" for j in inner_slots)
        )
        values.append(f"{_numeric_sql(features[k])} AS x_{k}")
        estimates.append(f"least(floor((x_{k} - lo_{k}) / w_{k}), $bins - 1) AS i_{k}")
        codes.append(
            f"CAST(i_{k} - CAST(x_{k} < lo_{k} + i_{k} * w_{k} AS INTEGER) "
            f"+ CAST(i_{k} < $bins - 1 AND x_{k} >= lo_{k} + (i_{k} + 1) * w_{k} AS INTEGER) AS INTEGER) "
            f"AS bin_{k}, " + _search_sql(f"x_{k}", f"q_{k}_", 0, QHIST_BINS - 1) + f" AS qbin_{k}, "
            f"CASE WHEN disc_{k} THEN CAST(x_{k} AS VARCHAR) END AS v_{k}"
        )
        pairs.append(f"struct_pack(f := {k}, bin := bin_{k}, qbin := qbin_{k}, v := v_{k})")
    for k in categorical:
        values.append(f"CAST(({_check_expression(features[k])}) AS VARCHAR) AS c_{k}")
        codes.append(f"c_{k}")
        pairs.append(f"struct_pack(f := {k}, bin := CAST(NULL AS INTEGER), qbin := CAST(NULL AS INTEGER), v := c_{k})")
    fragments = {
        "edge_lists": "".join(", " + e for e in edge_lists),
        "edge_columns": "".join(", " + e for e in edge_columns),
        "values": ", ".join(values),
        "estimates": "".join(", " + e for e in estimates),
        "codes": ", ".join(codes),
        "pairs": "[" + ", ".join(pairs) + "]",
    }
    return params, fragments


def _histogram_edges(
    moments: Mapping[tuple[dt.date, int], dict], may_be_discrete: set[int]
) -> dict[tuple[dt.date, int], dict]:
    """Per (day, numeric feature) with a finite min < max: both histograms' edges and what the
    counting SQL needs (lo, w, the quantile histogram's inner edges, and ``discrete``: whether to count
    its values, for a feature in ``may_be_discrete`` whose estimated distinct count is at most twice
    :data:`DISCRETE_MAX`, a margin over the estimate's error; the exact count decides later)."""
    out = {}
    index = {p: i for i, p in enumerate(PROBS)}
    for key, m in moments.items():
        lo, hi = m["min_value"], m["max_value"]
        if lo is None or not (math.isfinite(lo) and math.isfinite(hi) and math.isfinite(hi - lo)) or lo == hi:
            continue
        eq = equal_width_edges(lo, hi)
        qe = quantile_edges(lo, hi, [lo] + [m["probs"][index[p]] for p in DECILES[1:-1]] + [hi])
        out[key] = {
            "lo": lo,
            "w": (hi - lo) / HIST_BINS,
            "hist_edges": eq,
            "qhist_edges": qe,
            "inner": qe[1:-1],
            "discrete": key[1] in may_be_discrete and m["approx_distinct"] <= 2 * DISCRETE_MAX,
        }
    return out


def _fill_numeric(row: dict, m: dict, edges: dict | None, counted: list[dict]) -> None:
    non_null = int(m["non_null"])
    index = {p: i for i, p in enumerate(PROBS)}
    lo, hi = m["min_value"], m["max_value"]
    constant = lo is not None and lo == hi
    row.update(
        count=int(m["rows_in_day"]),
        missing=int(m["rows_in_day"]) - non_null,
        zeros=int(m["zeros"]),
        # a constant's mean is the constant itself (a float sum of n copies of 0.1 divided by n is not)
        min=lo,
        max=hi,
        mean=lo if constant else m["mean"],
        std=m["std"],
        quantiles=None if m["probs"] is None else [m["probs"][index[q]] for q in QUANTILES],
    )
    if edges is not None:
        hist = [0] * HIST_BINS
        qhist = [0] * (len(edges["qhist_edges"]) - 1)
        for r in counted:
            if r["bin"] is not None:
                hist[r["bin"]] += int(r["n"])
                qhist[r["qbin"]] += int(r["n"])
        row.update(
            hist_edges=edges["hist_edges"], hist_counts=hist, qhist_edges=edges["qhist_edges"], qhist_counts=qhist
        )
        values = [r for r in counted if r["v"] is not None]  # ranked in SQL: count descending, then value
        if values and len(values) <= DISCRETE_MAX:
            _fill_values(row, [r["v"] for r in values], [int(r["n"]) for r in values])
    elif constant:  # all values equal: one degenerate bin with all the mass
        row.update(hist_edges=[lo, hi], hist_counts=[non_null], qhist_edges=[lo, hi], qhist_counts=[non_null])
        if row["kind"] == "numeric":
            _fill_values(row, [m["min_text"]], [non_null])


def _fill_values(row: dict, values: list[str], counts: list[int]) -> None:
    """The value counts of a discrete numeric day (every value: nothing in other_count)."""
    row.update(distinct_count=len(values), top_values=values, top_counts=counts, other_count=0)


def _fill_categorical(row: dict, counted: list[dict]) -> None:
    top = [r for r in counted if r["v"] is not None]  # ranked in SQL: count descending, then value
    missing = sum(int(r["n"]) for r in counted if r["v"] is None)
    total = int(counted[0]["rows_in_day"])
    top_counts = [int(r["n"]) for r in top]
    row.update(
        count=total,
        missing=missing,
        distinct_count=int(counted[0]["distinct_count"]),
        top_values=[r["v"] for r in top],
        top_counts=top_counts,
        other_count=total - missing - sum(top_counts),
    )


# ---------------------------------------------------------------------------------------------------
# monitoring.feature_stats


def create_tables(con: duckdb.DuckDBPyConnection) -> None:
    """Create the monitoring schema's tables if needed (``sql/validation/create_tables.sql``)."""
    con.execute(load_sql("validation/create_tables.sql"))


def _insert_columns() -> str:
    """The SELECT list of the insert, from STATS_COLUMNS: each column bound as a list of its values,
    except computed_at and run_id, one value for the batch."""
    parts = []
    for name, dtype, _ in STATS_COLUMNS:
        if name in ("computed_at", "run_id"):
            parts.append(f'CAST(${name} AS {dtype}) AS "{name}"')
        else:
            parts.append(f'unnest(CAST(${name} AS {dtype}[])) AS "{name}"')
    return ",\n       ".join(parts)


def write_feature_stats(
    con: duckdb.DuckDBPyConnection,
    rows: Iterable[Mapping[str, Any]],
    run_id: str,
    *,
    replace_span: tuple[str, dt.date | str, dt.date | str] | None = None,
) -> int:
    """Store statistics rows in ``monitoring.feature_stats`` (created if needed); return how many.

    In one transaction: the stored rows of each (table, day) present in ``rows`` are deleted, then
    ``rows`` are inserted, with ``computed_at`` (now, UTC) and ``run_id``. Other days and other tables
    stay: the table is a history. ``replace_span=(table, start_day, end_day)`` also deletes every stored
    row of that table in ``[start_day, end_day)``, for a re-profiled span where a day lost all its rows
    (and so has no new row to replace the old ones).
    """
    batch = [dict(r) for r in rows]
    for r in batch:
        missing = [c for c in COMPUTED_COLUMNS if c not in r]
        if missing:
            raise ValueError(f"feature statistics row without {missing}")
        check_table_name(r["table_name"])
    days_by_table: dict[str, set[dt.date]] = {}
    for r in batch:
        days_by_table.setdefault(r["table_name"], set()).add(_as_date(r["partition_date"]))
    params: dict[str, Any] = {c: [r[c] for r in batch] for c in COMPUTED_COLUMNS}
    params["partition_date"] = [_as_date(d) for d in params["partition_date"]]
    params.update(computed_at=dt.datetime.now(dt.UTC), run_id=run_id)

    create_tables(con)
    with transaction(con):
        if replace_span is not None:
            table, start, end = replace_span
            run_sql(
                con,
                "validation/feature_stats_delete_range.sql",
                {"table_name": check_table_name(table), "start_day": _as_date(start), "end_day": _as_date(end)},
            )
        for table, days in sorted(days_by_table.items()):
            run_sql(con, "validation/feature_stats_delete.sql", {"table_name": table, "days": sorted(days)})
        if batch:
            run_sql(con, "validation/feature_stats_insert.sql", params, columns=_insert_columns())
    return len(batch)


def load_stats(
    con: duckdb.DuckDBPyConnection, table: str, start_day: dt.date | str, end_day: dt.date | str
) -> list[dict]:
    """The stored statistics of ``table`` for the days in ``[start_day, end_day)``, by day then feature
    name; list columns come back as Python lists. No table yet: no rows (nothing is created)."""
    if not fetch_rows(con, "validation/feature_stats_table_exists.sql")[0]["present"]:
        return []
    return fetch_rows(
        con,
        "validation/feature_stats_load.sql",
        {"table_name": check_table_name(table), "start_day": _as_date(start_day), "end_day": _as_date(end_day)},
    )


__all__ = [
    "COMPUTED_COLUMNS",
    "DECILES",
    "PROBS",
    "check_table_name",
    "compute_feature_stats",
    "create_tables",
    "equal_width_edges",
    "load_stats",
    "quantile_edges",
    "write_feature_stats",
]
