"""Drift between two spans of a feature: distances between distributions, comparators over two feature
statistics rows, and thresholds that turn the numbers into OK / WARN / ERROR.

The distances follow the definitions of TFDV and Evidently:

- :func:`linf_distance`: L-infinity distance of two categorical distributions,
  ``max_i |p_i - q_i|`` over the union of categories (a category missing on one side has share 0).
- :func:`jensen_shannon`: Jensen-Shannon *divergence* (not the distance, its square root), base 2 by
  default, so it lies in [0, 1]; equal to ``scipy.spatial.distance.jensenshannon(p, q, base=2) ** 2``.
  Histograms with different edges are first aligned by :func:`align_histograms`.
- :func:`psi`: population stability index ``sum_i (c_i - r_i) * ln(c_i / r_i)``.
- :func:`ks_statistic` / :func:`ks_statistic_sql`: two-sample Kolmogorov-Smirnov statistic on raw
  values, equal to ``scipy.stats.ks_2samp(a, b).statistic``; the SQL version runs inside DuckDB.

:func:`compare_categorical` and :func:`compare_numeric` compare a *current* and a *reference*
feature statistics row (dicts with the keys of :data:`data_platform.validation.STATS_COLUMNS`),
:func:`load_thresholds` reads ``drift_thresholds.yaml`` next to this module, and :func:`evaluate`
turns a comparison into one row per metric with its limits and severity.

scipy is a test-only dependency of the project: everything here is numpy (and DuckDB), and the tests
check it against scipy.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import yaml

from data_platform.resources import run_sql
from data_platform.validation import QUANTILES

OTHER = "__other__"
"""The bucket of a categorical comparison that holds the rows outside the top values (other_count)."""

PSI_FLOOR = 1e-4
"""Share given to an empty bin before the PSI is computed (Evidently's value)."""

TOP_MOVERS = 5

DEFAULT_THRESHOLDS_PATH = Path(__file__).with_name("drift_thresholds.yaml")

SEVERITIES = ("OK", "WARN", "ERROR")

METRICS: dict[str, tuple[str, ...]] = {
    "numeric": ("jsd", "psi", "ks", "median_shift", "mean_shift", "missing_rate_delta"),
    "categorical": ("linf", "jsd", "psi", "missing_rate_delta"),
    "text": ("jsd", "psi", "ks", "median_shift", "mean_shift", "missing_rate_delta"),
}
"""The metrics each kind of feature is compared on, in the order :func:`evaluate` reports them.
``ks`` is not in a comparison of two statistics rows (it needs the raw values): a caller adds it from
:func:`ks_statistic_sql`. Text features are compared on the statistics of their length."""

ALL_METRICS = tuple(dict.fromkeys(m for ms in METRICS.values() for m in ms))


# ---------------------------------------------------------------------------------------------------
# distances


def _shares(values: Any, name: str) -> np.ndarray:
    """``values`` (counts or shares) as a normalised float vector; ValueError if it has no mass."""
    arr = np.asarray(values, dtype=float)
    if arr.ndim != 1:
        raise ValueError(f"{name} must be a 1-d vector, got shape {arr.shape}")
    if not np.all(np.isfinite(arr)) or np.any(arr < 0):
        raise ValueError(f"{name} must hold finite, non-negative counts or shares")
    total = arr.sum()
    if not total > 0:
        raise ValueError(f"{name} has no mass (all zero or empty)")
    return arr / total


def _pair(p: Any, q: Any) -> tuple[np.ndarray, np.ndarray]:
    ps, qs = _shares(p, "p"), _shares(q, "q")
    if ps.shape != qs.shape:
        raise ValueError(f"p and q must be aligned vectors of the same length, got {ps.size} and {qs.size}")
    return ps, qs


def linf_distance(p: Mapping[str, float], q: Mapping[str, float]) -> float:
    """L-infinity distance ``max_i |p_i - q_i|`` over the union of the categories of ``p`` and ``q``.

    ``p`` and ``q`` map a category to its count or share; each is normalised to sum to 1, and a
    category absent from one side has share 0 there.
    """
    keys = list(dict.fromkeys([*p.keys(), *q.keys()]))
    ps = _shares([p.get(k, 0.0) for k in keys], "p")
    qs = _shares([q.get(k, 0.0) for k in keys], "q")
    return float(np.max(np.abs(ps - qs)))


def jensen_shannon(p: Any, q: Any, base: float = 2.0) -> float:
    """Jensen-Shannon divergence of two aligned vectors (counts or shares, normalised here).

    ``JSD = (KL(p || m) + KL(q || m)) / 2`` with ``m = (p + q) / 2`` and ``0 log 0 = 0``, in units of
    ``log(base)``: in [0, 1] for base 2. This is the divergence, the square of scipy's
    ``jensenshannon`` distance.
    """
    if not base > 0 or base == 1:
        raise ValueError(f"base must be positive and not 1, got {base}")
    ps, qs = _pair(p, q)
    m = 0.5 * (ps + qs)

    def kl_to_m(x: np.ndarray) -> float:
        nz = x > 0  # where x > 0, m > 0 too
        return float(np.sum(x[nz] * np.log(x[nz] / m[nz])))

    value = 0.5 * (kl_to_m(ps) + kl_to_m(qs)) / math.log(base)
    return max(value, 0.0)  # rounding can leave -1e-17 for identical vectors


def psi(p: Any, q: Any, floor: float = PSI_FLOOR) -> float:
    """Population stability index of ``p`` (current) against ``q`` (reference), aligned vectors of
    counts or shares: ``sum_i (c_i - r_i) * ln(c_i / r_i)`` with ``c``, ``r`` the shares.

    Empty bins would make the index infinite, so:

    - bins empty on *both* sides are dropped (they carry no information, and flooring them would make
      the index depend on how many empty bins the binning happens to have);
    - on each side, an empty bin gets the share ``floor`` (1e-4, the value Evidently uses) and the
      vector is then renormalised to sum to 1 (the renormalisation is this module's choice).

    The index is symmetric in ``p`` and ``q``.
    """
    if not 0 < floor < 1:
        raise ValueError(f"floor must be in (0, 1), got {floor}")
    c, r = _pair(p, q)
    keep = (c > 0) | (r > 0)
    c, r = c[keep], r[keep]

    def floored(x: np.ndarray) -> np.ndarray:
        if np.all(x > 0):
            return x
        x = np.where(x > 0, x, floor)
        return x / x.sum()

    c, r = floored(c), floored(r)
    return float(np.sum((c - r) * np.log(c / r)))


# ---------------------------------------------------------------------------------------------------
# histogram alignment


def _histogram(edges: Any, counts: Any, name: str) -> tuple[np.ndarray, np.ndarray, dict[float, float]]:
    """Split a histogram into its positive-width part (edges, counts) and its point masses."""
    e = np.asarray(edges, dtype=float)
    c = np.asarray(counts, dtype=float)
    if e.ndim != 1 or c.ndim != 1 or c.size < 1 or e.size != c.size + 1:
        raise ValueError(f"{name}: a histogram needs n >= 1 counts and n + 1 edges, got {e.size} and {c.size}")
    if not (np.all(np.isfinite(e)) and np.all(np.isfinite(c))) or np.any(c < 0):
        raise ValueError(f"{name}: edges must be finite and counts finite and non-negative")
    widths = np.diff(e)
    if np.any(widths < 0):
        raise ValueError(f"{name}: edges must be non-decreasing")
    if not c.sum() > 0:
        raise ValueError(f"{name}: the histogram is empty (all counts are 0)")
    flat = widths == 0
    points: dict[float, float] = {}
    for value, mass in zip(e[:-1][flat], c[flat]):
        if mass > 0:
            points[float(value)] = points.get(float(value), 0.0) + float(mass)
    if np.all(flat):
        return np.empty(0), np.empty(0), points
    # Dropping the zero-width buckets keeps the edges contiguous: their two edges are the same value.
    return np.unique(e), c[~flat], points


def align_histograms(
    edges_a: Sequence[float], counts_a: Sequence[float], edges_b: Sequence[float], counts_b: Sequence[float]
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Re-bucket two histograms on the union of their edges: ``(union_edges, p, q)``.

    ``p`` and ``q`` are the normalised masses of histogram a and b in the buckets
    ``[union_edges[i], union_edges[i + 1]]``. A bucket's mass is spread uniformly over its width, so a
    bucket cut into sub-buckets gives each the share of its mass proportional to the overlap; where a
    histogram has no bucket (outside its range, or in the gap between two disjoint ranges) its mass is 0.

    Zero-width buckets (edges like ``[5, 5]``: the equal-width histogram of a column whose values are
    all equal) are point masses at their value:

    - inside the span of the positive-width buckets of the two histograms, a point mass joins the
      union bucket that contains its value, buckets being ``[lo, hi)`` except the last, ``[lo, hi]``
      (the convention of the equal-width histograms). A constant 0 against a reference whose first
      bucket starts at 0 thus lands in that first bucket, not in a bucket of its own;
    - outside that span, or when neither histogram has a positive-width bucket, it becomes its own
      zero-width bucket ``[v, v]``: ``union_edges`` then holds ``v`` twice. Constants 5 and 7 give
      the buckets ``[5, 5], [5, 7], [7, 7]`` with p = [1, 0, 0] and q = [0, 0, 1].
    """
    grid_a, cnt_a, pts_a = _histogram(edges_a, counts_a, "histogram a")
    grid_b, cnt_b, pts_b = _histogram(edges_b, counts_b, "histogram b")
    grid = np.union1d(grid_a, grid_b)
    if grid.size:
        lo, hi = grid[0], grid[-1]
        outside = sorted({v for v in (*pts_a, *pts_b) if v < lo or v > hi})
    else:
        outside = sorted({*pts_a, *pts_b})
    edges = np.sort(np.concatenate([grid, np.repeat(np.asarray(outside, dtype=float), 2)]))

    def masses(part_edges: np.ndarray, part_counts: np.ndarray, points: dict[float, float]) -> np.ndarray:
        if part_edges.size:
            cumulative = np.concatenate([[0.0], np.cumsum(part_counts)])
            # The piecewise-linear CDF of the histogram (uniform mass inside a bucket), 0 before its
            # first edge and its total after its last.
            out = np.diff(np.interp(edges, part_edges, cumulative))
        else:
            out = np.zeros(edges.size - 1)
        for value, mass in points.items():
            if grid.size and grid[0] <= value <= grid[-1]:
                if value == grid[-1]:
                    i = int(np.searchsorted(edges, value, side="left")) - 1  # the closed last bucket
                else:
                    i = int(np.searchsorted(edges, value, side="right")) - 1
            else:
                i = int(np.searchsorted(edges, value, side="left"))  # its own bucket [value, value]
            out[i] += mass
        return out / out.sum()

    return edges, masses(grid_a, cnt_a, pts_a), masses(grid_b, cnt_b, pts_b)


def histogram_quantiles(edges: Any, counts: Any, probs: Sequence[float] = QUANTILES) -> list[float]:
    """The quantiles at ``probs`` of a histogram, its mass spread uniformly inside each bucket: the
    piecewise-linear CDF through the edges, inverted (how a merged span's median is read)."""
    e, c = np.asarray(edges, dtype=float), np.asarray(counts, dtype=float)
    cumulative = np.concatenate([[0.0], np.cumsum(c)]) / max(c.sum(), 1e-12)
    return [float(np.interp(q, cumulative, e)) for q in probs]


# ---------------------------------------------------------------------------------------------------
# Kolmogorov-Smirnov


def _sample(values: Any, name: str) -> np.ndarray:
    arr = np.asarray(values, dtype=float).ravel()
    arr = np.sort(arr[~np.isnan(arr)])
    if arr.size == 0:
        raise ValueError(f"sample {name} is empty (after dropping NaN)")
    return arr


def ks_statistic(a: Any, b: Any) -> float:
    """Two-sample KS statistic ``D = sup_x |F_a(x) - F_b(x)|``, equal to
    ``scipy.stats.ks_2samp(a, b).statistic``.

    The empirical CDFs are evaluated at every pooled value, after all values equal to it (ties);
    NaN values are dropped (like NULL in :func:`ks_statistic_sql`); an empty sample is a ValueError.
    Holds both samples in memory: for warehouse data use :func:`ks_statistic_sql`.
    """
    sa, sb = _sample(a, "a"), _sample(b, "b")
    pooled = np.concatenate([sa, sb])
    cdf_a = np.searchsorted(sa, pooled, side="right") / sa.size
    cdf_b = np.searchsorted(sb, pooled, side="right") / sb.size
    return float(np.max(np.abs(cdf_a - cdf_b)))


def _check_fragment(name: str, fragment: str) -> None:
    """A guard against mistakes, not a sanitiser: fragments must be SQL written in code."""
    if not isinstance(fragment, str) or not fragment.strip():
        raise ValueError(f"{name} must be a non-empty SQL fragment")
    for token in (";", "--", "/*"):
        if token in fragment:
            raise ValueError(
                f"{name} must be one SQL expression or relation without {token!r}; "
                "values belong in params, bound as $parameters"
            )


def ks_statistic_sql(
    con: duckdb.DuckDBPyConnection,
    column_sql: str,
    relation_a: str,
    relation_b: str,
    params: Mapping[str, Any] | None = None,
) -> float:
    """Two-sample KS statistic of ``column_sql`` between two relations, computed inside DuckDB
    (``sql/validation/ks_two_sample.sql``); equal to ``scipy.stats.ks_2samp(a, b).statistic``.

    ``column_sql`` is an expression over each relation's columns (e.g. ``"price_eur"``) and
    ``relation_a`` / ``relation_b`` are relations: a table name or a parenthesised subquery such as
    ``"(SELECT price_eur FROM clean.events WHERE event_date = $day_a)"``. These three are SQL
    *structure* and must come from code, never from user input; every value goes in ``params`` and
    is bound (``$day_a``). Fragments holding ``;`` or a comment are refused as an extra guard.
    ``params`` must name exactly the parameters the fragments use (DuckDB refuses extra ones).

    NULL and NaN values are left out; if either relation has no value left, ValueError. The work is
    one aggregate by value and one window over the distinct values, so it runs out of core and only
    one row is fetched.
    """
    for name, fragment in (("column_sql", column_sql), ("relation_a", relation_a), ("relation_b", relation_b)):
        _check_fragment(name, fragment)
    statistic, n_a, n_b = run_sql(
        con,
        "validation/ks_two_sample.sql",
        params,
        column=column_sql,
        relation_a=relation_a,
        relation_b=relation_b,
    ).fetchone()
    if not n_a or not n_b:
        raise ValueError(f"KS needs two non-empty samples: relation_a has {n_a} values, relation_b {n_b}")
    return float(statistic)


# ---------------------------------------------------------------------------------------------------
# comparators over feature statistics rows


def _finite(value: Any) -> float | None:
    if value is None:
        return None
    try:
        x = float(value)
    except (TypeError, ValueError):
        return None
    return x if math.isfinite(x) else None


def _missing_rate(row: Mapping[str, Any]) -> float | None:
    count = row.get("count") or 0
    if count <= 0:
        return None
    return (row.get("missing") or 0) / count


def _missing_rate_delta(current: Mapping[str, Any], reference: Mapping[str, Any]) -> float | None:
    cur, ref = _missing_rate(current), _missing_rate(reference)
    return None if cur is None or ref is None else cur - ref


def _emptiness(row: Mapping[str, Any], side: str, non_null: float) -> str | None:
    """Why a span cannot be compared, or None."""
    count = row.get("count") or 0
    if count <= 0:
        return f"{side} span is empty (count 0)"
    if non_null <= 0:
        return f"{side} span has only missing values ({count} rows)"
    return None


def _category_counts(row: Mapping[str, Any]) -> dict[tuple[bool, str], float]:
    """(is_other, value) -> count over the non-null rows: the top values and the other bucket."""
    values = list(row.get("top_values") or [])
    counts = list(row.get("top_counts") or [])
    if len(values) != len(counts):
        raise ValueError(f"top_values and top_counts differ in length ({len(values)} and {len(counts)})")
    out: dict[tuple[bool, str], float] = {}
    for value, count in zip(values, counts):
        if count is None or count < 0:
            raise ValueError(f"bad top count {count!r} for value {value!r}")
        key = (False, str(value))
        out[key] = out.get(key, 0.0) + float(count)
    other = float(row.get("other_count") or 0)
    if other < 0:
        raise ValueError(f"other_count must be non-negative, got {other}")
    out[(True, OTHER)] = other
    return out


def _movers(labels: list[Any], current: np.ndarray, reference: np.ndarray, key: str) -> list[dict]:
    delta = current - reference
    order = sorted((i for i in range(delta.size) if delta[i] != 0), key=lambda i: (-abs(delta[i]), i))
    return [
        {
            key: labels[i],
            "reference_share": float(reference[i]),
            "current_share": float(current[i]),
            "delta": float(delta[i]),
        }
        for i in order[:TOP_MOVERS]
    ]


def compare_categorical(current: Mapping[str, Any], reference: Mapping[str, Any]) -> dict:
    """Compare two statistics rows of a categorical feature.

    The distributions are the shares among non-null rows of the union of both top-value lists plus
    one ``"__other__"`` bucket holding ``other_count``. Returns ``linf``, ``jsd`` (base 2), ``psi``
    (current against reference), ``missing_rate_delta`` (current minus reference missing rate),
    ``top_movers`` (up to 5 values whose share moved most, largest ``|delta|`` first, ``delta`` =
    current - reference share) and ``note`` (why metrics are None, else None).

    Limitation of top-K profiles: a value in one side's top list but not the other's counts 0 on the
    other side, while its true count there sits inside that side's ``__other__`` bucket (when that
    side's other_count is not 0); the distances can be overstated by at most that value's share.
    """
    cur_counts, ref_counts = _category_counts(current), _category_counts(reference)
    result: dict[str, Any] = {
        "linf": None,
        "jsd": None,
        "psi": None,
        "missing_rate_delta": _missing_rate_delta(current, reference),
        "top_movers": [],
        "note": None,
    }
    notes = [
        n
        for n in (
            _emptiness(current, "current", sum(cur_counts.values())),
            _emptiness(reference, "reference", sum(ref_counts.values())),
        )
        if n
    ]
    if notes:
        result["note"] = "; ".join(notes)
        return result
    keys = [k for k in dict.fromkeys([*ref_counts, *cur_counts]) if not k[0]] + [(True, OTHER)]
    c = _shares([cur_counts.get(k, 0.0) for k in keys], "current")
    r = _shares([ref_counts.get(k, 0.0) for k in keys], "reference")
    result["linf"] = float(np.max(np.abs(c - r)))
    result["jsd"] = jensen_shannon(c, r)
    result["psi"] = psi(c, r)
    result["top_movers"] = _movers([k[1] for k in keys], c, r, "value")
    return result


def _median(row: Mapping[str, Any]) -> float | None:
    quantiles = row.get("quantiles")
    if quantiles is None or len(quantiles) != len(QUANTILES):
        return None
    return _finite(quantiles[QUANTILES.index(0.5)])


def _constant(row: Mapping[str, Any]) -> float | None:
    """The value of a span whose non-null values are all equal (min == max), else None."""
    lo, hi = _finite(row.get("min")), _finite(row.get("max"))
    return lo if lo is not None and lo == hi else None


def constant_note(current: Mapping[str, Any], reference: Mapping[str, Any]) -> str | None:
    """What a constant reference (min == max) means for a comparison, None when it is not one. There is
    no spread to measure a shift in (a pooled float std of ~1e-17 is rounding, not spread): a constant
    that stays is no drift, and a change of it shows in the distances and says so here."""
    ref_constant, cur_constant = _constant(reference), _constant(current)
    if ref_constant is None:
        return None
    if cur_constant == ref_constant:
        return f"constant {ref_constant:g} on both sides"
    if cur_constant is not None:
        return f"constant changed: {ref_constant:g} -> {cur_constant:g}"
    return f"reference constant at {ref_constant:g}, current varies: no shift in reference stds"


def _shift(current: float | None, reference: float | None, std: float | None) -> float | None:
    if current is None or reference is None or std is None or std <= 0:
        return None
    return (current - reference) / std


def compare_numeric(current: Mapping[str, Any], reference: Mapping[str, Any]) -> dict:
    """Compare two statistics rows of a numeric feature (or of a text feature's length).

    Returns ``jsd`` (base 2) and ``psi`` (current against reference) on the equal-width histograms
    aligned by :func:`align_histograms`; ``median_shift`` and ``mean_shift``, the change of the median
    and the mean in units of the reference's standard deviation (both medians read off the aligned
    histograms when one side's quantiles are, ``quantiles_exact`` False: a merged window; else the exact
    ones. None when a value is missing or not finite, or the reference is a constant, min == max,
    whatever float noise its std holds: see :func:`constant_note`); ``missing_rate_delta``;
    ``top_movers``: up to 5 union buckets whose mass moved most, ``{"range": [lo, hi],
    "reference_share", "current_share", "delta"}``, largest ``|delta|`` first; and ``note`` (why
    metrics are None, or what a constant did; else None).
    """
    result: dict[str, Any] = {
        "jsd": None,
        "psi": None,
        "median_shift": None,
        "mean_shift": None,
        "missing_rate_delta": _missing_rate_delta(current, reference),
        "top_movers": [],
        "note": None,
    }

    def non_null(row: Mapping[str, Any]) -> float:
        return float((row.get("count") or 0) - (row.get("missing") or 0))

    notes = [
        n
        for n in (
            _emptiness(current, "current", non_null(current)),
            _emptiness(reference, "reference", non_null(reference)),
        )
        if n
    ]
    if notes:
        result["note"] = "; ".join(notes)
        return result
    unbinned = [side for side, row in (("current", current), ("reference", reference)) if not row.get("hist_counts")]
    if unbinned:  # a NaN, or a range max - min beyond the largest double: no histogram to compare
        result["note"] = f"no histogram on the {' and '.join(unbinned)} span (non-finite value or range)"
        return result
    edges, c, r = align_histograms(
        current["hist_edges"], current["hist_counts"], reference["hist_edges"], reference["hist_counts"]
    )
    result["jsd"] = jensen_shannon(c, r)
    result["psi"] = psi(c, r)
    result["note"] = constant_note(current, reference)
    if result["note"] is None:
        std = _finite(reference.get("std"))
        if current.get("quantiles_exact", True) and reference.get("quantiles_exact", True):
            medians = _median(current), _median(reference)
        else:  # like with like: a merged side's median is read off its histogram, so is the other's
            medians = tuple(histogram_quantiles(edges, shares, (0.5,))[0] for shares in (c, r))
        result["median_shift"] = _shift(*medians, std)
        result["mean_shift"] = _shift(_finite(current.get("mean")), _finite(reference.get("mean")), std)
    ranges = [[float(edges[i]), float(edges[i + 1])] for i in range(edges.size - 1)]
    result["top_movers"] = _movers(ranges, c, r, "range")
    return result


# ---------------------------------------------------------------------------------------------------
# thresholds


Limits = tuple[float | None, float | None]


@dataclass(frozen=True)
class Thresholds:
    """Warn and error limits per metric: defaults per feature kind, overrides per ``table.feature``.

    A limit is where its severity starts: ``|value| >= error`` is ERROR, else ``|value| >= warn`` is
    WARN, else OK (the absolute value, since shifts and missing-rate deltas are signed). A limit of
    None never fires. NaN is ERROR: a metric that could not be computed from non-empty inputs.
    """

    defaults: Mapping[str, Mapping[str, Limits]]
    overrides: Mapping[str, Mapping[str, Limits]] = field(default_factory=dict)
    source: str | None = None

    def limits(self, table: str, feature: str, metric: str, *, kind: str | None = None) -> Limits:
        """``(warn, error)`` of ``metric`` for ``table.feature``: its override if any, else the default
        of ``kind``. Without ``kind``, the default must be the same for every kind that sets one
        (``jsd`` and ``psi`` differ between numeric and categorical: pass ``kind``). ``(None, None)``
        when nothing sets a limit."""
        if metric not in ALL_METRICS:
            raise ValueError(f"unknown metric {metric!r}; known: {', '.join(ALL_METRICS)}")
        override = self.overrides.get(f"{table}.{feature}", {})
        if metric in override:
            return override[metric]
        if kind is not None:
            if kind not in METRICS:
                raise ValueError(f"unknown feature kind {kind!r}; known: {', '.join(METRICS)}")
            return self.defaults.get(kind, {}).get(metric, (None, None))
        candidates = {limits[metric] for limits in self.defaults.values() if metric in limits}
        if len(candidates) > 1:
            raise ValueError(f"the default limits of {metric!r} depend on the feature kind: pass kind=")
        return candidates.pop() if candidates else (None, None)

    def severity(self, table: str, feature: str, metric: str, value: float, *, kind: str | None = None) -> str:
        """ "OK", "WARN" or "ERROR" for ``value`` of ``metric`` (see the class docstring)."""
        warn, error = self.limits(table, feature, metric, kind=kind)
        if value is None:
            raise ValueError(f"no value for {table}.{feature} {metric}")
        x = abs(float(value))
        if math.isnan(x):
            return "ERROR"
        if error is not None and x >= error:
            return "ERROR"
        if warn is not None and x >= warn:
            return "WARN"
        return "OK"


def _parse_limits(entry: Any, where: str) -> Limits:
    if not isinstance(entry, Mapping) or set(entry) != {"warn", "error"}:
        raise ValueError(f"{where}: expected a mapping with exactly warn and error, got {entry!r}")
    out = []
    for key in ("warn", "error"):
        value = entry[key]
        if value is not None and (
            isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value < 0
        ):
            raise ValueError(f"{where}.{key}: expected a non-negative number or null, got {value!r}")
        out.append(None if value is None else float(value))
    warn, error = out
    if warn is not None and error is not None and warn > error:
        raise ValueError(f"{where}: warn {warn} is above error {error}")
    return warn, error


def load_thresholds(path: str | Path | None = None) -> Thresholds:
    """Read and validate a thresholds file (default: ``drift_thresholds.yaml`` next to this module).

    Layout: ``defaults: {kind: {metric: {warn, error}}}`` and ``overrides: {"table.feature": {metric:
    {warn, error}}}``. Unknown top-level keys, kinds or metrics, entries without exactly warn and
    error, negative limits and warn > error raise ValueError naming the entry.
    """
    path = Path(path) if path is not None else DEFAULT_THRESHOLDS_PATH
    try:
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise ValueError(f"{path}: not valid YAML: {exc}") from None
    if not isinstance(doc, Mapping):
        raise ValueError(f"{path}: expected a mapping with defaults and overrides")
    unknown = set(doc) - {"defaults", "overrides"}
    if unknown:
        raise ValueError(f"{path}: unknown top-level keys {sorted(unknown)}; expected defaults, overrides")
    defaults: dict[str, dict[str, Limits]] = {}
    for kind, metrics in (doc.get("defaults") or {}).items():
        if kind not in METRICS:
            raise ValueError(f"{path}: defaults.{kind}: unknown feature kind; known: {', '.join(METRICS)}")
        if not isinstance(metrics, Mapping):
            raise ValueError(f"{path}: defaults.{kind}: expected a mapping of metrics")
        defaults[kind] = {}
        for metric, entry in metrics.items():
            if metric not in METRICS[kind]:
                raise ValueError(
                    f"{path}: defaults.{kind}.{metric}: unknown metric for {kind} features; "
                    f"known: {', '.join(METRICS[kind])}"
                )
            defaults[kind][metric] = _parse_limits(entry, f"{path}: defaults.{kind}.{metric}")
    overrides: dict[str, dict[str, Limits]] = {}
    for key, metrics in (doc.get("overrides") or {}).items():
        if not isinstance(key, str) or "." not in key.strip(".") or not isinstance(metrics, Mapping):
            raise ValueError(f'{path}: overrides.{key}: expected "table.feature": {{metric: {{warn, error}}}}')
        overrides[key] = {}
        for metric, entry in metrics.items():
            if metric not in ALL_METRICS:
                raise ValueError(f"{path}: overrides.{key}.{metric}: unknown metric; known: {', '.join(ALL_METRICS)}")
            overrides[key][metric] = _parse_limits(entry, f"{path}: overrides.{key}.{metric}")
    return Thresholds(defaults=defaults, overrides=overrides, source=str(path))


def evaluate(table: str, feature: str, kind: str, comparison: Mapping[str, Any], thresholds: Thresholds) -> list[dict]:
    """One row ``{table, feature, metric, value, warn, error, severity}`` per metric of ``kind`` that
    ``comparison`` holds with a value (None metrics, e.g. of an empty span, give no row; the
    comparison's note says why). A metric without limits is reported with warn = error = None, OK."""
    if kind not in METRICS:
        raise ValueError(f"unknown feature kind {kind!r}; known: {', '.join(METRICS)}")
    rows = []
    for metric in METRICS[kind]:
        value = comparison.get(metric)
        if value is None:
            continue
        warn, error = thresholds.limits(table, feature, metric, kind=kind)
        rows.append(
            {
                "table": table,
                "feature": feature,
                "metric": metric,
                "value": float(value),
                "warn": warn,
                "error": error,
                "severity": thresholds.severity(table, feature, metric, value, kind=kind),
            }
        )
    return rows


__all__ = [
    "ALL_METRICS",
    "METRICS",
    "OTHER",
    "PSI_FLOOR",
    "SEVERITIES",
    "Thresholds",
    "align_histograms",
    "compare_categorical",
    "compare_numeric",
    "constant_note",
    "evaluate",
    "histogram_quantiles",
    "jensen_shannon",
    "ks_statistic",
    "ks_statistic_sql",
    "linf_distance",
    "load_thresholds",
    "psi",
]
