"""Validation and monitoring: contracts, statistics, drift and skew, volume and freshness, reports.

Shared vocabulary of the stage:

- A *monitored feature* is a column (or an expression) of a warehouse table, of kind ``numeric``,
  ``categorical`` or ``text`` (text is profiled through its length).
- A *feature statistics row* (``monitoring.feature_stats``) profiles one feature of one table over one
  span (a day): see :data:`STATS_COLUMNS`.
"""

from __future__ import annotations

from dataclasses import dataclass

KINDS = ("numeric", "categorical", "text")
QUANTILES = (0.01, 0.05, 0.25, 0.5, 0.75, 0.95, 0.99)
HIST_BINS = 20  # equal-width histogram bins
QHIST_BINS = 10  # quantile (equal-mass) histogram bins
TOP_K = 50  # most frequent values kept for a categorical feature
DISCRETE_MAX = 20  # a numeric feature with at most this many distinct values on a day also gets its value counts


@dataclass(frozen=True)
class FeatureSpec:
    """One monitored feature: ``name`` (the column name in the stats), ``kind``, and the SQL
    expression that computes it from the table's row (default: the column of the same name).

    ``history_days``: the feature aggregates that many days of history (e.g. a 7-day count), so it
    is not stationary before the data is that old: drift on it is not judged during that warm-up.
    ``bounded``: whether the range seen in a reference window is a real bound (a count that grows with
    traffic is not: its schema keeps an open range).
    """

    name: str
    kind: str
    expr: str | None = None
    history_days: int = 0
    bounded: bool = True

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"feature kind must be one of {KINDS}, got {self.kind!r}")

    @property
    def sql(self) -> str:
        """The SQL expression of the feature."""
        return self.expr or self.name


# monitoring.feature_stats, one row per (table, span, feature). Numeric columns are filled for numeric
# features and, computed on the text length, for text features; the top_* columns for categoricals.
STATS_COLUMNS: tuple[tuple[str, str, str], ...] = (
    ("table_name", "VARCHAR", "the profiled table, e.g. clean.events"),
    ("partition_date", "DATE", "the span profiled (a UTC day)"),
    ("feature", "VARCHAR", "feature name"),
    ("kind", "VARCHAR", "numeric | categorical | text (text: numeric stats of its length)"),
    ("count", "BIGINT", "rows in the span"),
    ("missing", "BIGINT", "rows where the feature is NULL"),
    ("zeros", "BIGINT", "rows where the (numeric) feature is 0"),
    ("min", "DOUBLE", ""),
    ("max", "DOUBLE", ""),
    ("mean", "DOUBLE", ""),
    ("std", "DOUBLE", "sample std"),
    ("quantiles", "DOUBLE[]", "values at QUANTILES (exact)"),
    ("hist_edges", "DOUBLE[]", "equal-width histogram: HIST_BINS + 1 edges from min to max"),
    ("hist_counts", "BIGINT[]", "equal-width histogram counts (the last bin includes max)"),
    ("qhist_edges", "DOUBLE[]", "quantile histogram edges (QHIST_BINS + 1, deduplicated)"),
    ("qhist_counts", "BIGINT[]", "counts per quantile bin"),
    ("distinct_count", "BIGINT", "distinct non-null values (numeric: only a discrete day, <= DISCRETE_MAX values)"),
    (
        "top_values",
        "VARCHAR[]",
        "up to TOP_K most frequent values, most frequent first (numeric: every value "
        "of a discrete day, as DuckDB casts the DOUBLE to VARCHAR)",
    ),
    ("top_counts", "BIGINT[]", "their counts"),
    ("other_count", "BIGINT", "non-null rows outside top_values"),
    ("computed_at", "TIMESTAMPTZ", ""),
    ("run_id", "VARCHAR", ""),
)
