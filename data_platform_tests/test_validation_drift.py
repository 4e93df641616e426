"""Drift metrics, comparators and thresholds (data_platform.validation.drift).

scipy is the oracle for the Jensen-Shannon divergence and the KS statistic; PSI, L-infinity and the
histogram alignment are checked on cases worked out by hand. Random data is seeded.
"""

from __future__ import annotations

import math

import duckdb
import numpy as np
import pyarrow as pa
import pytest
import scipy.spatial.distance
import scipy.stats

from data_platform.validation import HIST_BINS, QUANTILES
from data_platform.validation.drift import (
    OTHER,
    align_histograms,
    compare_categorical,
    compare_numeric,
    evaluate,
    jensen_shannon,
    ks_statistic,
    ks_statistic_sql,
    linf_distance,
    load_thresholds,
    psi,
)


def scipy_jsd(p, q, base=2.0) -> float:
    return float(scipy.spatial.distance.jensenshannon(p, q, base=base) ** 2)


def scipy_ks(a, b) -> float:
    with np.errstate(divide="ignore"):  # scipy's p-value of one-value samples divides by zero
        return float(scipy.stats.ks_2samp(a, b, method="asymp").statistic)


def numeric_row(values, missing: int = 0) -> dict:
    """A feature statistics row of a numeric feature, built like monitoring.feature_stats describes it."""
    x = np.asarray(values, dtype=float)
    row = {"count": x.size + missing, "missing": missing}
    if x.size == 0:
        return {
            **row,
            "min": None,
            "max": None,
            "mean": None,
            "std": None,
            "quantiles": None,
            "hist_edges": None,
            "hist_counts": None,
        }
    lo, hi = float(x.min()), float(x.max())
    if lo == hi:  # constant: every edge at the value, the rows in the last bin (which includes max)
        edges, counts = [lo] * (HIST_BINS + 1), [0] * (HIST_BINS - 1) + [x.size]
    else:
        counts, edges = np.histogram(x, bins=HIST_BINS, range=(lo, hi))
        edges, counts = edges.tolist(), counts.tolist()
    return {
        **row,
        "min": lo,
        "max": hi,
        "mean": float(x.mean()),
        "std": float(x.std(ddof=1)) if x.size > 1 else None,
        "quantiles": np.quantile(x, QUANTILES).tolist(),
        "hist_edges": edges,
        "hist_counts": counts,
    }


def categorical_row(counts: dict[str, int], other: int = 0, missing: int = 0) -> dict:
    ordered = sorted(counts.items(), key=lambda kv: -kv[1])
    return {
        "count": sum(counts.values()) + other + missing,
        "missing": missing,
        "top_values": [k for k, _ in ordered],
        "top_counts": [v for _, v in ordered],
        "other_count": other,
    }


# ---------------------------------------------------------------------------------------------------
# Jensen-Shannon


def test_jensen_shannon_matches_scipy_on_random_vectors_with_zeros():
    rng = np.random.default_rng(1)
    for trial in range(200):
        n = int(rng.integers(1, 30))
        p = rng.random(n) * (rng.random(n) > 0.3)  # about 30% zeros
        q = rng.random(n) * (rng.random(n) > 0.3)
        p[rng.integers(n)] += 0.1  # never all zero
        q[rng.integers(n)] += 0.1
        if trial % 3 == 0:
            p = np.round(p * 1000)  # counts, not shares: normalised by both
        for base in (2.0, math.e, 10.0):
            assert jensen_shannon(p, q, base=base) == pytest.approx(scipy_jsd(p, q, base), rel=1e-12, abs=1e-15)


def test_jensen_shannon_bounds_and_errors():
    assert jensen_shannon([1, 2, 3], [2, 4, 6]) == 0.0  # same shares
    assert jensen_shannon([1, 0], [0, 1]) == pytest.approx(1.0)  # disjoint: the maximum in base 2
    with pytest.raises(ValueError):
        jensen_shannon([0, 0], [1, 1])
    with pytest.raises(ValueError):
        jensen_shannon([1, 2], [1, 2, 3])
    with pytest.raises(ValueError):
        jensen_shannon([1, -1], [1, 1])


# ---------------------------------------------------------------------------------------------------
# histogram alignment


def check_alignment(result, edges, p, q):
    got_edges, got_p, got_q = result
    np.testing.assert_allclose(got_edges, edges, rtol=0, atol=1e-12)
    np.testing.assert_allclose(got_p, p, rtol=0, atol=1e-12)
    np.testing.assert_allclose(got_q, q, rtol=0, atol=1e-12)


def test_align_histograms_different_edges_same_range():
    # a: [0,2) 2, [2,4] 2; b: [0,1) 1, [1,4] 6. Union edges 0, 1, 2, 4.
    # a: [0,1] gets half of [0,2): 1; [1,2]: 1; [2,4]: 2        -> /4 = .25 .25 .5
    # b: [0,1]: 1; [1,4]'s 6 spread over width 3: [1,2] 2, [2,4] 4 -> /7
    check_alignment(
        align_histograms([0, 2, 4], [2, 2], [0, 1, 4], [1, 6]), [0, 1, 2, 4], [0.25, 0.25, 0.5], [1 / 7, 2 / 7, 4 / 7]
    )


def test_align_histograms_partial_overlap_and_disjoint_ranges():
    # a: [0,10] 10 rows; b: [5,15] 4 rows. Union 0, 5, 10, 15.
    # a: 5 in [0,5], 5 in [5,10], none beyond its range -> .5 .5 0; b: 0, 2, 2 -> 0 .5 .5
    check_alignment(align_histograms([0, 10], [10], [5, 15], [4]), [0, 5, 10, 15], [0.5, 0.5, 0], [0, 0.5, 0.5])
    # disjoint: the gap [1, 2] is a bucket with no mass on either side
    result = align_histograms([0, 1], [3], [2, 3], [1])
    check_alignment(result, [0, 1, 2, 3], [1, 0, 0], [0, 0, 1])
    assert jensen_shannon(result[1], result[2]) == pytest.approx(1.0)


def test_align_histograms_point_masses():
    b = ([0, 4, 8], [1, 3])  # b alone: .25 in [0,4), .75 in [4,8]
    # a constant inside b's span joins the union bucket holding the value ([lo, hi), the last closed)
    check_alignment(align_histograms([5, 5], [7], *b), [0, 4, 8], [0, 1], [0.25, 0.75])
    check_alignment(align_histograms([8, 8], [2], *b), [0, 4, 8], [0, 1], [0.25, 0.75])  # top edge: last bucket
    check_alignment(align_histograms([0, 0], [2], *b), [0, 4, 8], [1, 0], [0.25, 0.75])  # bottom edge: first
    check_alignment(align_histograms([4] * 21, [0] * 19 + [9], *b), [0, 4, 8], [0, 1], [0.25, 0.75])
    # outside the span: its own zero-width bucket [12, 12], after the empty gap [8, 12]
    check_alignment(align_histograms([12, 12], [5], *b), [0, 4, 8, 12, 12], [0, 0, 0, 1], [0.25, 0.75, 0, 0])
    check_alignment(align_histograms(*b, [-1, -1], [5]), [-1, -1, 0, 4, 8], [0, 0, 0.25, 0.75], [1, 0, 0, 0])
    # two different constants stay apart; the same constant on both sides is one bucket
    check_alignment(align_histograms([5, 5], [3], [7, 7, 7], [0, 2]), [5, 5, 7, 7], [1, 0, 0], [0, 0, 1])
    check_alignment(align_histograms([5, 5, 5], [0, 3], [5, 5], [4]), [5, 5], [1], [1])
    # a zero-width bucket inside a histogram with width: a: [0,2) 1, [2,2] 2, [2,4] 1; b: [0,4] 1
    # a's point mass 2 at 2 joins the union bucket [2, 4]: .25 and (1 + 2) / 4 = .75
    check_alignment(align_histograms([0, 2, 2, 4], [1, 2, 1], [0, 4], [1]), [0, 2, 4], [0.25, 0.75], [0.5, 0.5])


def test_align_histograms_rejects_bad_input():
    for edges, counts in (([0, 1], [1, 2]), ([1, 0], [1]), ([0, 1], [0]), ([0, 1], [-1]), ([0, np.inf], [1])):
        with pytest.raises(ValueError):
            align_histograms(edges, counts, [0, 1], [1])


def test_align_histograms_conserves_each_bucket_mass():
    """Summed over the union buckets inside an original bucket, the mass is that bucket's share."""
    rng = np.random.default_rng(2)
    for _ in range(50):
        ea = np.sort(rng.normal(size=int(rng.integers(2, 12))))
        eb = np.sort(rng.normal(size=int(rng.integers(2, 12))))
        ca, cb = rng.integers(0, 20, ea.size - 1), rng.integers(0, 20, eb.size - 1)
        ca[0] += 1
        cb[-1] += 1
        edges, p, q = align_histograms(ea, ca, eb, cb)
        assert np.all(np.diff(edges) >= 0) and p.sum() == pytest.approx(1) and q.sum() == pytest.approx(1)
        for e, c, m in ((ea, ca, p), (eb, cb, q)):
            cum = np.concatenate([[0], np.cumsum(m)])
            idx = np.searchsorted(edges, e)
            np.testing.assert_allclose(np.diff(cum[idx]), c / c.sum(), atol=1e-12)


def test_jsd_of_aligned_sample_histograms_matches_scipy():
    rng = np.random.default_rng(3)
    a, b = rng.normal(0, 1, 4000), rng.normal(0.3, 1.2, 3000)
    ra, rb = numeric_row(a), numeric_row(b)
    edges, p, q = align_histograms(ra["hist_edges"], ra["hist_counts"], rb["hist_edges"], rb["hist_counts"])
    assert edges.size > HIST_BINS + 1  # the edges differ, so the union cuts buckets
    assert jensen_shannon(p, q) == pytest.approx(scipy_jsd(p, q), rel=1e-12)
    assert compare_numeric(rb, ra)["jsd"] == pytest.approx(scipy_jsd(q, p), rel=1e-12)
    assert 0.02 < jensen_shannon(p, q) < 0.2  # a real, moderate shift


# ---------------------------------------------------------------------------------------------------
# PSI and L-infinity


def test_psi_hand_cases():
    # c = .5 .5, r = .25 .75: (.5 - .25) ln(.5/.25) + (.5 - .75) ln(.5/.75) = .25 ln 2 + .25 ln 1.5 = .25 ln 3
    assert psi([0.5, 0.5], [0.25, 0.75]) == pytest.approx(0.25 * math.log(3), rel=1e-12)
    assert psi([2, 2], [1, 3]) == pytest.approx(0.25 * math.log(3), rel=1e-12)  # counts are normalised
    assert psi([1, 3], [2, 2]) == pytest.approx(0.25 * math.log(3), rel=1e-12)  # symmetric
    assert psi([3, 1, 6], [3, 1, 6]) == 0.0


def test_psi_floor_on_empty_bins():
    # c = .5 .5 0 -> the empty bin gets 1e-4, renormalised: .5/1.0001, .5/1.0001, 1e-4/1.0001
    # r = .5 .25 .25 (no empty bin, unchanged)
    c = np.array([0.5, 0.5, 1e-4]) / 1.0001
    r = np.array([0.5, 0.25, 0.25])
    expected = sum((ci - ri) * math.log(ci / ri) for ci, ri in zip(c, r))
    # = (.49995 - .5) ln(.9999)       ~  5e-9
    # + (.49995 - .25) ln(1.9998)     ~  .24995 * .69305  = .17323
    # + (.00009999 - .25) ln(.00039996) ~ -.24990 * -7.82415 = 1.95526   -> 2.12848
    assert expected == pytest.approx(2.12848, abs=1e-5)
    assert psi([0.5, 0.5, 0], [0.5, 0.25, 0.25]) == pytest.approx(expected, rel=1e-12)
    # a larger floor shrinks the contribution of the empty bin
    assert psi([0.5, 0.5, 0], [0.5, 0.25, 0.25], floor=1e-2) < expected
    # a bin empty on both sides is dropped, not floored: same value as without it
    assert psi([0.5, 0.5, 0, 0], [0.25, 0.75, 0, 0]) == pytest.approx(0.25 * math.log(3), rel=1e-12)
    with pytest.raises(ValueError):
        psi([1, 1], [1, 1], floor=0)


def test_linf_distance_hand_cases():
    # p = a .5, b .5; q (counts 1, 1, 2) = a .25, b .25, c .5 -> |.5-.25|, |.5-.25|, |0-.5| -> .5
    assert linf_distance({"a": 0.5, "b": 0.5}, {"a": 1, "b": 1, "c": 2}) == pytest.approx(0.5)
    # p = x .7, y .3; q = x .6, y .4 -> .1
    assert linf_distance({"x": 7, "y": 3}, {"x": 0.6, "y": 0.4}) == pytest.approx(0.1)
    assert linf_distance({"x": 1}, {"x": 5}) == 0.0
    with pytest.raises(ValueError):
        linf_distance({"x": 0}, {"x": 1})


# ---------------------------------------------------------------------------------------------------
# Kolmogorov-Smirnov


def ks_cases():
    rng = np.random.default_rng(4)
    yield rng.normal(size=300), rng.normal(0.2, 1, size=170)
    yield rng.integers(0, 5, 400), rng.integers(0, 6, 250)  # integers: almost every value is a tie
    yield rng.integers(0, 3, 1000), rng.integers(1, 3, 7)
    yield np.round(rng.exponential(size=500), 1), np.round(rng.exponential(1.1, size=900), 1)
    yield [1.0], [2.0]
    yield [3, 3, 3], [3, 3]  # identical: 0
    yield rng.normal(size=50), rng.normal(size=50) + 10  # disjoint: 1


def test_ks_statistic_matches_scipy():
    for a, b in ks_cases():
        assert ks_statistic(a, b) == scipy_ks(a, b)
        assert ks_statistic(b, a) == scipy_ks(a, b)
    assert ks_statistic([1.0, np.nan, 2.0], [1.5]) == scipy_ks([1.0, 2.0], [1.5])  # NaN dropped
    with pytest.raises(ValueError):
        ks_statistic([], [1.0])


@pytest.fixture
def con():
    connection = duckdb.connect()
    yield connection
    connection.close()


def test_ks_statistic_sql_matches_scipy_with_ties(con):
    for i, (a, b) in enumerate(ks_cases()):
        a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
        con.register(
            "samples", pa.table({"day": np.r_[np.zeros(a.size), np.ones(b.size)].astype(np.int64), "x": np.r_[a, b]})
        )
        statistic = ks_statistic_sql(
            con,
            "x",
            "(SELECT x FROM samples WHERE day = $day_a)",
            "(SELECT x FROM samples WHERE day = $day_b)",
            {"day_a": 0, "day_b": 1},
        )
        assert statistic == scipy_ks(a, b), f"case {i}"
        con.unregister("samples")


def test_ks_statistic_sql_skips_nulls_and_nan_and_guards_fragments(con):
    con.execute(
        "CREATE TABLE t AS SELECT * FROM (VALUES (1, 1.0), (1, NULL), (1, 'NaN'::DOUBLE), (1, 3.0), "
        "(2, 2.0), (2, 2.5), (2, NULL)) v(day, x)"
    )
    rel = "(SELECT x FROM t WHERE day = $day)"
    assert ks_statistic_sql(
        con, "x", rel.replace("$day", "$a"), rel.replace("$day", "$b"), {"a": 1, "b": 2}
    ) == scipy_ks([1.0, 3.0], [2.0, 2.5])
    with pytest.raises(ValueError, match="non-empty samples"):
        ks_statistic_sql(con, "x", "t", "(SELECT x FROM t WHERE day = $d)", {"d": 99})
    for bad in ("x; DROP TABLE t", "x -- comment", "x /* c */"):
        with pytest.raises(ValueError, match="column_sql"):
            ks_statistic_sql(con, bad, "t", "t")
    assert con.execute("SELECT count(*) FROM t").fetchone()[0] == 7


def test_ks_statistic_sql_on_a_200k_row_table(con):
    rng = np.random.default_rng(5)
    n_a, n_b = 110_000, 90_000
    a = np.round(rng.lognormal(3.0, 0.6, n_a), 2)  # prices in cents resolution: many ties
    b = np.round(rng.lognormal(3.02, 0.6, n_b), 2)
    con.register(
        "src", pa.table({"event_date": np.r_[np.zeros(n_a), np.ones(n_b)].astype(np.int64), "price": np.r_[a, b]})
    )
    con.execute("CREATE TABLE events AS SELECT * FROM src")
    con.unregister("src")
    statistic = ks_statistic_sql(
        con,
        "price",
        "(SELECT price FROM events WHERE event_date = $day_a)",
        "(SELECT price FROM events WHERE event_date = $day_b)",
        {"day_a": 0, "day_b": 1},
    )
    assert statistic == scipy_ks(a, b) == ks_statistic(a, b)
    assert 0.005 < statistic < 0.05  # its speed is measured in benchmarks/bench_monitoring.py, not here


# ---------------------------------------------------------------------------------------------------
# comparators


CATEGORIES = ("fashion", "electronics", "home", "beauty", "sports", "books", "toys", "grocery", "garden", "auto")


def test_compare_categorical_one_category_from_10_to_40_percent():
    reference = categorical_row({c: 900 for c in CATEGORIES})  # 10% each
    shifted = {c: 600 for c in CATEGORIES}  # 9 x 600 = 5400 = 60%
    shifted["electronics"] = 3600  # 40% of 9000
    current = categorical_row(shifted)
    result = compare_categorical(current, reference)
    top = result["top_movers"][0]
    assert top["value"] == "electronics"
    assert top["reference_share"] == pytest.approx(0.10)
    assert top["current_share"] == pytest.approx(0.40)
    assert top["delta"] == pytest.approx(0.30)
    assert len(result["top_movers"]) == 5
    assert all(m["delta"] == pytest.approx(600 / 9000 - 0.1) for m in result["top_movers"][1:])
    assert result["linf"] == pytest.approx(0.30)
    c = np.array([3600 if k == "electronics" else 600 for k in CATEGORIES] + [0]) / 9000
    r = np.array([900] * 10 + [0]) / 9000
    assert result["jsd"] == pytest.approx(scipy_jsd(c, r), rel=1e-12)
    assert result["psi"] == pytest.approx(psi(c, r), rel=1e-12)
    assert result["missing_rate_delta"] == 0
    assert result["note"] is None


def test_compare_categorical_union_of_top_values_and_other_bucket():
    # reference: a 50, b 30, other 20; current: a 50, c 40, other 10, and 25 missing of 125
    result = compare_categorical(
        categorical_row({"a": 50, "c": 40}, other=10, missing=25), categorical_row({"a": 50, "b": 30}, other=20)
    )
    # vectors over a, b, c, __other__: current .5 0 .4 .1, reference .5 .3 0 .2
    assert result["linf"] == pytest.approx(0.4)
    assert result["jsd"] == pytest.approx(scipy_jsd([0.5, 0, 0.4, 0.1], [0.5, 0.3, 0, 0.2]), rel=1e-12)
    movers = {m["value"]: m["delta"] for m in result["top_movers"]}
    assert movers == pytest.approx({"c": 0.4, "b": -0.3, OTHER: -0.1})  # "a" did not move: not listed
    assert result["missing_rate_delta"] == pytest.approx(25 / 125)


def test_compare_identical_inputs_give_zero():
    cat = categorical_row({"x": 5, "y": 3}, other=2)
    result = compare_categorical(cat, dict(cat))
    assert (result["linf"], result["jsd"], result["psi"], result["top_movers"]) == (0, 0, 0, [])
    row = numeric_row(np.random.default_rng(6).normal(size=1000))
    result = compare_numeric(row, dict(row))
    assert (result["jsd"], result["psi"], result["median_shift"], result["mean_shift"]) == (0, 0, 0, 0)
    assert result["top_movers"] == [] and result["missing_rate_delta"] == 0


def test_compare_numeric_cents_incident():
    rng = np.random.default_rng(7)
    reference = rng.lognormal(np.log(20), 0.5, 5000)  # prices in EUR
    current = rng.lognormal(np.log(20), 0.5, 5000) * 100  # the same prices sent in cents
    result = compare_numeric(numeric_row(current), numeric_row(reference))
    assert result["jsd"] > 0.99
    assert result["psi"] > 10
    assert result["median_shift"] > 50 and result["mean_shift"] > 50
    gains = [m for m in result["top_movers"] if m["delta"] > 0]
    lo, hi = gains[0]["range"]
    assert current.min() <= lo < hi <= current.max()  # the largest gain is among the new values
    assert max(abs(m["delta"]) for m in result["top_movers"]) == pytest.approx(abs(result["top_movers"][0]["delta"]))
    for m in result["top_movers"]:
        assert m["delta"] == pytest.approx(m["current_share"] - m["reference_share"])


def test_compare_numeric_top_mover_of_a_local_shift_and_missing_rate():
    rng = np.random.default_rng(8)
    base = rng.uniform(0, 100, 20_000)
    moved = base.copy()
    moved[:4000] = rng.uniform(80, 85, 4000)  # 20% of the mass moves into [80, 85]
    result = compare_numeric(numeric_row(moved, missing=3000), numeric_row(base, missing=200))
    top = result["top_movers"][0]
    assert top["delta"] > 0.15 and 79.5 <= top["range"][0] < top["range"][1] <= 85.5
    assert result["missing_rate_delta"] == pytest.approx(3000 / 23_000 - 200 / 20_200)


def test_comparators_cope_with_empty_spans_and_constant_features():
    empty = numeric_row([], missing=0)
    all_missing = numeric_row([], missing=40)
    ok = numeric_row([1.0, 2.0, 3.0])
    both = "current span is empty (count 0); reference span has only missing"
    for current, reference, words in (
        (empty, ok, "current span is empty"),
        (ok, all_missing, "reference span has only missing"),
        (empty, all_missing, both),
    ):
        result = compare_numeric(current, reference)
        assert result["jsd"] is None and result["psi"] is None and result["median_shift"] is None
        assert words in result["note"]
    assert compare_numeric(ok, all_missing)["missing_rate_delta"] == pytest.approx(-1.0)
    assert compare_numeric(empty, ok)["missing_rate_delta"] is None
    result = compare_categorical(categorical_row({}, missing=10), categorical_row({"a": 3}))
    assert result["linf"] is None and result["jsd"] is None and "only missing" in result["note"]
    # a constant reference (std 0, edges all equal): no shift in std units, histograms still compared
    result = compare_numeric(numeric_row([5.0] * 100), numeric_row([5.0] * 50))
    assert result["jsd"] == 0 and result["median_shift"] is None and result["note"] == "constant 5 on both sides"
    result = compare_numeric(numeric_row([7.0] * 100), numeric_row([5.0] * 50))
    assert result["jsd"] == pytest.approx(1.0) and result["mean_shift"] is None
    assert result["note"] == "constant changed: 5 -> 7"
    assert result["top_movers"][0]["range"] in ([5.0, 5.0], [7.0, 7.0])
    # values whose range overflows a double (1.7e308 and -1.7e308) have no histogram: noted, not a crash
    # and not "only missing values"
    huge = {
        "count": 3,
        "missing": 0,
        "min": -1.7e308,
        "max": 1.7e308,
        "mean": 1 / 3,
        "std": 1.7e308,
        "quantiles": [1.0] * len(QUANTILES),
        "hist_edges": None,
        "hist_counts": None,
    }
    result = compare_numeric(huge, ok)
    assert result["jsd"] is None and result["note"] == "no histogram on the current span (non-finite value or range)"


# ---------------------------------------------------------------------------------------------------
# thresholds


def test_thresholds_file_loads_with_defaults_and_overrides():
    th = load_thresholds()
    assert th.limits("clean.events", "position", "jsd", kind="numeric") == (0.05, 0.15)
    assert th.limits("clean.events", "category", "linf", kind="categorical") == (0.05, 0.15)
    assert th.limits("clean.events", "category", "linf") == (0.05, 0.15)  # one kind sets linf: no kind needed
    assert th.limits("clean.events", "predicted_ctr", "ks", kind="numeric") == (0.05, 0.1)  # override
    assert th.limits("clean.events", "price_eur", "jsd", kind="numeric") == (0.1, 0.3)
    assert th.limits("clean.events", "price_eur", "ks", kind="numeric") == (0.1, 0.2)  # not overridden
    with pytest.raises(ValueError, match="pass kind"):
        th.limits("clean.events", "position", "jsd")  # numeric and categorical jsd differ
    with pytest.raises(ValueError, match="unknown metric"):
        th.limits("clean.events", "position", "wasserstein", kind="numeric")


def test_severity_boundaries():
    th = load_thresholds()
    sev = lambda metric, value, kind="numeric", feature="position": th.severity(  # noqa: E731
        "clean.events", feature, metric, value, kind=kind
    )
    assert [sev("psi", v) for v in (0.0, 0.0999, 0.1, 0.2499, 0.25, 3.0)] == [
        "OK",
        "OK",
        "WARN",
        "WARN",
        "ERROR",
        "ERROR",
    ]
    assert sev("missing_rate_delta", -0.05) == "WARN"  # signed metrics compare |value|
    assert sev("median_shift", -0.6) == "ERROR"
    assert sev("ks", 0.07, feature="predicted_ctr") == "WARN"  # the override is stricter
    assert sev("ks", 0.07) == "OK"
    assert sev("jsd", float("nan")) == "ERROR"
    # the category_drift incident trips all three categorical metrics
    assert sev("linf", 0.30, "categorical", "category") == "ERROR"


def write(tmp_path, text: str):
    path = tmp_path / "thresholds.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_thresholds_custom_file_with_disabled_limit(tmp_path):
    th = load_thresholds(
        write(
            tmp_path,
            """
defaults:
  numeric:
    ks: {warn: 0.1, error: null}
overrides:
  raw.events.price:
    ks: {warn: null, error: null}
""",
        )
    )
    assert th.severity("t", "f", "ks", 5.0, kind="numeric") == "WARN"
    assert th.severity("raw.events", "price", "ks", 5.0, kind="numeric") == "OK"
    assert th.limits("t", "f", "psi", kind="numeric") == (None, None)


@pytest.mark.parametrize(
    "text, words",
    [
        ("defaults:\n  numeric:\n    wasserstein: {warn: 0.1, error: 0.2}\n", "defaults.numeric.wasserstein"),
        ("defaults:\n  categorical:\n    ks: {warn: 0.1, error: 0.2}\n", "defaults.categorical.ks"),
        ("defaults:\n  numeric:\n    psi: {warn: 0.3, error: 0.2}\n", "defaults.numeric.psi: warn 0.3 is above error"),
        (
            "overrides:\n  clean.events.price_eur:\n    jsd: {warn: 0.5, error: 0.1}\n",
            "overrides.clean.events.price_eur.jsd",
        ),
        (
            "overrides:\n  clean.events.price_eur:\n    kl: {warn: 0.1, error: 0.2}\n",
            "overrides.clean.events.price_eur.kl",
        ),
        ("defaults:\n  numeric:\n    psi: {warn: 0.1}\n", "defaults.numeric.psi"),
        ("defaults:\n  numeric:\n    psi: {warn: '0.1', error: 0.2}\n", "defaults.numeric.psi.warn"),
        ("defaults:\n  numeric:\n    psi: {warn: -1, error: 0.2}\n", "defaults.numeric.psi.warn"),
        ("defaults:\n  image:\n    psi: {warn: 0.1, error: 0.2}\n", "defaults.image"),
        ("default:\n  numeric: {}\n", "unknown top-level"),
        ("overrides:\n  price:\n    psi: {warn: 0.1, error: 0.2}\n", "overrides.price"),
        ("defaults: [1, 2\n", "not valid YAML"),
        ("- 1\n", "expected a mapping"),
    ],
)
def test_malformed_thresholds_raise_naming_the_entry(tmp_path, text, words):
    with pytest.raises(ValueError, match=words.replace(".", r"\.")):
        load_thresholds(write(tmp_path, text))


def test_evaluate_rows():
    th = load_thresholds()
    comparison = {
        "jsd": 0.2,
        "psi": 0.12,
        "median_shift": None,
        "mean_shift": -0.1,
        "missing_rate_delta": 0.0,
        "top_movers": [],
        "note": None,
        "ks": 0.06,
    }
    rows = evaluate("clean.events", "predicted_ctr", "numeric", comparison, th)
    assert [(r["metric"], r["severity"]) for r in rows] == [
        ("jsd", "ERROR"),
        ("psi", "WARN"),
        ("ks", "WARN"),
        ("mean_shift", "OK"),
        ("missing_rate_delta", "OK"),
    ]
    assert rows[0] == {
        "table": "clean.events",
        "feature": "predicted_ctr",
        "metric": "jsd",
        "value": 0.2,
        "warn": 0.03,
        "error": 0.1,
        "severity": "ERROR",
    }
    # an empty span: no metric, no row
    empty = compare_categorical(categorical_row({}), categorical_row({"a": 1}))
    assert evaluate("clean.events", "category", "categorical", empty, th) == []
    cat = compare_categorical(categorical_row({"a": 60, "b": 40}), categorical_row({"a": 50, "b": 50}))
    assert {r["metric"]: r["severity"] for r in evaluate("clean.events", "category", "categorical", cat, th)} == {
        "linf": "WARN",
        "jsd": "OK",
        "psi": "OK",
        "missing_rate_delta": "OK",
    }
