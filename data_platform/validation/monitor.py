"""Monitoring judgements: drift and skew between spans, volume anomalies. Pure functions over
feature-statistics rows (``monitoring.feature_stats``) and daily counts; the assets wire them.

Severity words: ``OK``, ``WARN`` (someone should look) and ``ERROR`` (something is broken).
"""

from __future__ import annotations

import datetime as dt
import statistics
from collections.abc import Iterable, Mapping, Sequence

import numpy as np

from data_platform.validation.drift import (
    Thresholds,
    align_histograms,
    compare_categorical,
    compare_numeric,
    constant_note,
    evaluate,
    histogram_quantiles,
)

MIN_ROWS = 1000  # spans with fewer rows of a table are too small to judge drift on (noted, not alarmed)


def merge_stats(rows: Sequence[Mapping]) -> dict | None:
    """One statistics row for several spans of the same feature (e.g. a 7-day reference window).

    Counts add up; numeric histograms are re-bucketed on the union of their edges (mass spread
    uniformly inside a bucket) and summed; the mean is the weighted mean and the std the pooled one;
    the quantiles are read off the merged histogram (``quantiles_exact`` False, so that a comparison
    reads the other side's the same way); a numeric feature discrete on every day keeps its exact value
    counts. Categorical top values add up, the rest goes to ``other_count``. None when ``rows`` is empty.
    """
    if not rows:
        return None
    first = rows[0]
    merged: dict = {k: first.get(k) for k in ("table_name", "feature", "kind")}
    merged["partition_date"] = None
    for key in ("count", "missing", "zeros", "other_count"):
        merged[key] = sum(int(r.get(key) or 0) for r in rows)
    if first["kind"] == "categorical":
        merged["top_values"], merged["top_counts"] = _summed_values(rows)
        merged["distinct_count"] = max(int(r.get("distinct_count") or 0) for r in rows)
        return merged
    with_hist = [r for r in rows if r.get("hist_counts")]
    if not with_hist:
        return merged
    edges = np.asarray(with_hist[0]["hist_edges"], dtype=float)
    counts_ = np.asarray(with_hist[0]["hist_counts"], dtype=float)
    for r in with_hist[1:]:
        other = np.asarray(r["hist_counts"], dtype=float)
        new_edges, p, q = align_histograms(edges, counts_, r["hist_edges"], other)
        counts_ = p * counts_.sum() + q * other.sum()
        edges = new_edges
    merged["hist_edges"], merged["hist_counts"] = edges.tolist(), counts_.tolist()
    if all(r.get("top_values") is not None for r in with_hist):  # discrete every day: the exact value counts
        merged["top_values"], merged["top_counts"] = _summed_values(with_hist)
        merged["distinct_count"] = len(merged["top_values"])
    weights = np.array([float(r["count"] - r["missing"]) for r in with_hist])
    means = np.array([float(r["mean"]) for r in with_hist])
    stds = np.array([float(r["std"] or 0.0) for r in with_hist])
    total = weights.sum()
    # Deviations from the first span's mean: spans with the same mean (a constant feature) give exactly
    # that mean and a pooled std of exactly 0, where a weighted sum of the means rounds to a neighbour
    # and leaves a std of ~1e-17 that every comparison would divide by.
    mean = float(means[0] + (weights * (means - means[0])).sum() / total)
    pooled = ((weights - 1).clip(min=0) * stds**2 + weights * (means - mean) ** 2).sum() / max(total - 1, 1)
    merged.update(
        mean=mean,
        std=float(np.sqrt(pooled)),
        min=min(float(r["min"]) for r in with_hist),
        max=max(float(r["max"]) for r in with_hist),
        quantiles=histogram_quantiles(edges, counts_),
        quantiles_exact=False,
    )
    return merged


def _summed_values(rows: Sequence[Mapping]) -> tuple[list[str], list[int]]:
    """The top values of ``rows`` with their counts added up, most frequent first, ties by value."""
    counts: dict[str, int] = {}
    for r in rows:
        for value, n in zip(r.get("top_values") or [], r.get("top_counts") or []):
            counts[value] = counts.get(value, 0) + int(n)
    ordered = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
    return [v for v, _ in ordered], [n for _, n in ordered]


def compare(
    current: Mapping,
    reference: Mapping,
    table: str,
    comparison: str,
    thresholds: Thresholds,
    min_rows: int = MIN_ROWS,
    label: str | None = None,
) -> list[dict]:
    """Drift rows of one feature between two spans: one per metric, with severity and top movers.

    Spans with fewer than ``min_rows`` non-missing values give a single OK row with a note instead of
    metrics (a feature present on few rows, e.g. a review's text, is judged once it has enough).
    ``label`` names the table in the result (e.g. ``training vs serving``); thresholds are looked up
    for ``table``.
    """
    kind = current["kind"]
    base = {"table": label or table, "feature": current["feature"], "comparison": comparison}
    small = [
        side
        for side, r in (("current", current), ("reference", reference))
        if int(r["count"] or 0) - int(r["missing"] or 0) < min_rows
    ]
    if small:
        return [_not_judged(base, f"{' and '.join(small)} span under {min_rows} values")]
    if kind == "numeric" and current.get("top_values") and reference.get("top_values"):
        # Discrete on both sides (a 0/1 label, a rating): the exact shares of its values, compared like a
        # categorical (linf, jsd, psi); a median in reference stds jumps between values or is 0.
        kind = "categorical"
        result = compare_categorical(current, reference)
        values = len({*current["top_values"], *reference["top_values"]})
        result["note"] = (
            result["note"]
            or constant_note(current, reference)
            or f"discrete ({values} values): compared on the shares of its values"
        )
    elif kind == "categorical":
        result = compare_categorical(current, reference)
    else:
        result = compare_numeric(current, reference)
    rows = evaluate(table, current["feature"], kind, result, thresholds)
    return [
        {
            **base,
            **{k: v for k, v in r.items() if k not in ("table", "feature")},
            "top_movers": result["top_movers"] if r["metric"] not in ("missing_rate_delta",) else [],
            "note": result.get("note"),
        }
        for r in rows
    ]


def _not_judged(base: dict, note: str) -> dict:
    return {
        **base,
        "metric": "-",
        "value": None,
        "warn": None,
        "error": None,
        "severity": "OK",
        "top_movers": [],
        "note": f"{note}: not judged",
    }


def warming_up(base: dict, first_day: dt.date, day: dt.date, history_days: int) -> dict | None:
    """A not-judged row when ``day`` is within a history feature's warm-up after ``first_day``."""
    if history_days and day < first_day + dt.timedelta(days=history_days):
        return _not_judged(base, f"{history_days}-day history feature still warming up")
    return None


def volume_anomalies(
    counts: Iterable[Mapping],
    day: dt.date,
    min_baseline_days: int = 4,
    warn: tuple[float, float] = (0.75, 1.33),
    error: tuple[float, float] = (0.5, 2.0),
    trend_warn: float = 0.25,
) -> list[dict]:
    """Row-count anomalies of ``day`` per event type (and in total, ``*``) against the 7 days before it.

    ``counts``: rows {day, event_type, rows}; a day missing for a type counts 0 when the table has rows
    that day. Two ratios: ``today / median(trailing days)`` and ``today / yesterday``.

    - **Sudden** (``volume``): both ratios leave the ``warn`` band: a drop or spike that happened today.
      Severity by the ratio to the median: outside ``error`` ERROR, else WARN.
    - **Slow trend** (``volume_trend``, WARN): today is far from the trailing median but close to
      yesterday (the level has been moving for days), or the last 3 baseline days average more than
      ``trend_warn`` away from the 4 before.

    With fewer than ``min_baseline_days`` days of history nothing is judged.
    """
    by_day: dict[dt.date, dict[str, int]] = {}
    for c in counts:
        by_day.setdefault(c["day"], {})[c["event_type"]] = int(c["rows"])
    history = sorted(d for d in by_day if day - dt.timedelta(days=7) <= d < day)
    if len(history) < min_baseline_days or day not in by_day:
        return []
    out = []
    types = sorted({t for d in [*history, day] for t in by_day[d]}) + ["*"]
    for event_type in types:

        def rows_on(d: dt.date, event_type: str = event_type) -> int:
            return sum(by_day[d].values()) if event_type == "*" else by_day[d].get(event_type, 0)

        baseline = [rows_on(d) for d in history]
        median = statistics.median(baseline)
        today, yesterday = rows_on(day), baseline[-1]
        to_median = today / median if median else float("inf")
        to_yesterday = today / yesterday if yesterday else float("inf")
        outside = not warn[0] <= to_median <= warn[1]
        if outside and not warn[0] <= to_yesterday <= warn[1]:
            severity = "ERROR" if not error[0] <= to_median <= error[1] else "WARN"
            out.append(
                {
                    "kind": "volume",
                    "feature": event_type,
                    "severity": severity,
                    "value": round(to_median, 4),
                    "detail": f"{today:,} rows vs a trailing median of {median:,.0f} (x{to_median:.2f}) "
                    f"and {yesterday:,} yesterday",
                }
            )
            continue
        early, late = float(np.mean(baseline[:4])), float(np.mean(baseline[-3:]))
        change = late / early - 1 if early else 0.0
        if outside or (len(baseline) >= 7 and abs(change) > trend_warn):
            out.append(
                {
                    "kind": "volume_trend",
                    "feature": event_type,
                    "severity": "WARN",
                    "value": round(to_median, 4),
                    "detail": f"{today:,} rows, x{to_median:.2f} the trailing median, x{to_yesterday:.2f} "
                    f"yesterday; the last 3 days average {late:,.0f} vs {early:,.0f} before",
                }
            )
    return out
