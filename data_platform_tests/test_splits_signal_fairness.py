"""Feature-signal and fairness reports of ``data_platform.splits`` against independent implementations.
data_platform computes mutual information and AUC with numpy from their formulas; the oracles here are the
G-test of scipy (``G = 2 N I``), the Mann-Whitney U of scipy (``AUC = U / (n_+ n_-)``), scikit-learn's
``mutual_info_score`` / ``roc_auc_score`` (what the signal report used before, so its figures stay the same),
pandas and krippendorff (which data_platform never uses).
Every simulation is seeded, so each measured number is reproducible.
"""

from __future__ import annotations

import math

import krippendorff
import numpy as np
import pandas as pd
import pytest
import scipy.stats

from data_platform.splits.fairness import agreement_by_group, divergences, group_table
from data_platform.splits.signal import (
    LEAKAGE_MIN_AUC,
    LEAKAGE_MIN_NORMALIZED_MI,
    USELESS_MAX_AUC,
    USELESS_MAX_NORMALIZED_MI,
    average_ranks,
    feature_signal,
    mutual_information,
    quantile_bin_codes,
    roc_auc,
    single_feature_auc,
    single_feature_auc_with_direction,
)

# ---------------------------------------------------------------------------------------------------
# helpers (the oracles' side)


def mutual_info_score(labels_a, labels_b) -> float:
    """Mutual information (nats) from scipy's log-likelihood ratio (G) test of the contingency table:
    ``G = 2 N I``, a published identity, with no code shared with scikit-learn."""
    table = scipy.stats.contingency.crosstab(np.asarray(labels_a), np.asarray(labels_b)).count
    if min(table.shape) < 2:
        return 0.0
    g = scipy.stats.chi2_contingency(table, correction=False, lambda_="log-likelihood").statistic
    return float(g) / (2 * table.sum())


def roc_auc_score(y, scores) -> float:
    """ROC AUC as the Mann-Whitney ``U / (n_+ n_-)`` of scipy (ties counted half)."""
    positive = np.asarray(y).astype(bool)
    scores = np.asarray(scores, dtype=float)
    u = scipy.stats.mannwhitneyu(scores[positive], scores[~positive], alternative="two-sided").statistic
    return float(u) / (positive.sum() * (~positive).sum())


def qcut_codes(x: np.ndarray, bins: int) -> np.ndarray:
    """Quantile bins by pandas, missing values as bin -1: the discretisation the MI is defined on."""
    series = pd.Series(np.array([np.nan if v is None else v for v in x], dtype=float))
    return pd.qcut(series, bins, labels=False, duplicates="drop").fillna(-1).to_numpy().astype(int)


def same_partition(a: np.ndarray, b: np.ndarray) -> bool:
    """True when the two code arrays group the rows identically (labels may be renamed)."""
    pairs = set(zip(a.tolist(), b.tolist()))
    return len(pairs) == len(set(a.tolist())) == len(set(b.tolist()))


def with_missing(rng: np.random.Generator, x: np.ndarray, share: float, missing: object = np.nan) -> np.ndarray:
    out = np.array(x, dtype=object)
    out[rng.random(out.shape[0]) < share] = missing
    return out


# ---------------------------------------------------------------------------------------------------
# mutual information


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("bins", [20, 7])
def test_numeric_mutual_information_matches_the_g_test_on_quantile_bins(seed, bins):
    rng = np.random.default_rng(seed)
    n = int(rng.integers(300, 4000))
    y = rng.integers(0, 3, n)  # multiclass
    shapes = {
        "continuous": rng.normal(size=n) + 0.5 * y,
        "heavy ties": rng.integers(0, 6, n).astype(float),  # duplicated quantile edges are dropped
        "skewed": np.round(rng.exponential(size=n), 1),
    }
    for name, x in shapes.items():
        x = x.copy()
        x[rng.random(n) < 0.15] = np.nan
        ours = mutual_information(x, y, "numeric", bins=bins)
        reference_codes = qcut_codes(x, bins)
        assert same_partition(quantile_bin_codes(x, bins), reference_codes), name
        assert ours == pytest.approx(mutual_info_score(reference_codes, y), rel=1e-12, abs=1e-15), name

    # None in an object array is missing too, same value as NaN
    x = rng.normal(size=n)
    as_nan = x.copy()
    mask = rng.random(n) < 0.2
    as_nan[mask] = np.nan
    as_none = x.astype(object)
    as_none[mask] = None
    assert mutual_information(as_none, y, "numeric", bins=bins) == mutual_information(as_nan, y, "numeric", bins=bins)


@pytest.mark.parametrize("seed", range(6))
def test_categorical_mutual_information_matches_the_g_test_with_missing_as_a_category(seed):
    rng = np.random.default_rng(100 + seed)
    n = int(rng.integers(200, 3000))
    y = np.array(["neg", "neu", "pos"])[rng.integers(0, 3, n)]
    raw = np.array([f"c{i}" for i in rng.integers(0, 12, n)], dtype=object)
    x = with_missing(rng, raw, 0.1, None)
    x[rng.random(n) < 0.05] = float("nan")  # NaN and None are one and the same "missing" category
    as_strings = np.array(["<missing>" if (v is None or v != v) else v for v in x])
    expected = mutual_info_score(as_strings, y)
    assert expected > 0
    assert mutual_information(x, y, "categorical") == pytest.approx(expected, rel=1e-12, abs=1e-15)

    # ints and the bins argument is ignored for categorical features
    ints = rng.integers(0, 40, n)
    assert mutual_information(ints, y, "categorical", bins=3) == pytest.approx(
        mutual_info_score(ints, y), rel=1e-12, abs=1e-15
    )


def test_mutual_information_edge_cases():
    y = np.array([0, 1, 0, 1, 1, 0])
    assert mutual_information(np.ones(6), y, "numeric") == 0.0  # constant feature
    assert mutual_information(np.full(6, np.nan), y, "numeric") == 0.0  # all missing
    assert mutual_information(np.arange(6.0), np.zeros(6), "numeric") == 0.0  # single-class label
    assert mutual_information(np.array([]), np.array([]), "categorical") == 0.0
    # missingness alone carries the label: MI = H(y) = log 2
    x = np.array([np.nan, 1.0, np.nan, 2.0, 3.0, np.nan])
    assert mutual_information(x, y, "numeric", bins=1) == pytest.approx(math.log(2))
    with pytest.raises(ValueError):
        mutual_information(np.arange(6.0), y, "ordinal")
    with pytest.raises(ValueError):
        mutual_information(np.arange(6.0), np.array([0, 1, None, 1, 0, 1], dtype=object), "numeric")
    with pytest.raises(ValueError):
        mutual_information(np.arange(5.0), y, "numeric")


# ---------------------------------------------------------------------------------------------------
# single-feature AUC


@pytest.mark.parametrize("seed", range(5))
def test_numeric_auc_matches_mann_whitney_and_reports_direction(seed):
    rng = np.random.default_rng(200 + seed)
    n = 2000
    y = rng.integers(0, 2, n)
    x = np.round(rng.normal(size=n) + 0.6 * y, 1)  # rounded: plenty of ties

    auc, direction = single_feature_auc_with_direction(x, y, "numeric")
    assert auc == pytest.approx(roc_auc_score(y, x), abs=1e-12)
    assert auc > 0.6 and direction == "higher"

    # the flipped feature: same strength, opposite direction
    auc_neg, direction_neg = single_feature_auc_with_direction(-x, y, "numeric")
    assert roc_auc_score(y, -x) < 0.4
    assert auc_neg == pytest.approx(1 - roc_auc_score(y, -x), abs=1e-12)
    assert auc_neg == pytest.approx(auc, abs=1e-12) and direction_neg == "lower"
    assert single_feature_auc(-x, y, "numeric") == pytest.approx(auc, abs=1e-12)

    # missing values are imputed with the median of the present values
    x_missing = x.copy()
    x_missing[rng.random(n) < 0.2] = np.nan
    imputed = np.where(np.isnan(x_missing), np.nanmedian(x_missing), x_missing)
    expected = roc_auc_score(y, imputed)
    assert single_feature_auc(x_missing, y, "numeric") == pytest.approx(max(expected, 1 - expected), abs=1e-12)


def test_auc_with_string_labels_single_class_and_multiclass():
    rng = np.random.default_rng(7)
    n = 500
    is_spam = rng.random(n) < 0.3
    y = np.where(is_spam, "spam", "ham")
    x = rng.normal(size=n) + is_spam
    # default positive is the larger class name ("spam"); naming "ham" only flips the direction
    assert single_feature_auc_with_direction(x, y, "numeric") == (pytest.approx(roc_auc_score(is_spam, x)), "higher")
    assert single_feature_auc_with_direction(x, y, "numeric", positive="ham") == (
        pytest.approx(roc_auc_score(is_spam, x)),
        "lower",
    )
    with pytest.raises(ValueError):
        single_feature_auc(x, y, "numeric", positive="eggs")
    assert single_feature_auc(x, np.ones(n), "numeric") is None
    assert single_feature_auc(x.astype(str), np.zeros(n), "categorical") is None
    with pytest.raises(ValueError):
        single_feature_auc(x, rng.integers(0, 3, n), "numeric")


@pytest.mark.parametrize("seed", range(4))
def test_out_of_fold_auc_of_random_id_is_chance_while_in_sample_encoding_looks_perfect(seed):
    rng = np.random.default_rng(300 + seed)
    n = 5000
    y = rng.integers(0, 2, n)
    user_id = np.array([f"user-{i}" for i in rng.integers(0, 4 * n, n)], dtype=object)  # mostly unique

    in_sample_rate = pd.Series(y).groupby(user_id).transform("mean").to_numpy()
    assert roc_auc_score(y, in_sample_rate) > 0.97  # memorising the ids "predicts" the training labels

    out_of_fold = single_feature_auc(user_id, y, "categorical")
    assert abs(out_of_fold - 0.5) < 0.05
    # repeated ids (about 3 rows each): still chance out of fold, clearly inflated in sample
    repeated = rng.integers(0, n // 3, n)
    assert abs(single_feature_auc(repeated, y, "categorical") - 0.5) < 0.05
    # the folds come from the seed: the same seed gives the same AUC, another seed other folds
    same, again, other = (single_feature_auc(repeated, y, "categorical", seed=s) for s in (seed, seed, seed + 1))
    assert same == again != other
    assert roc_auc_score(y, pd.Series(y).groupby(repeated).transform("mean")) > 0.75


def test_out_of_fold_auc_keeps_real_category_signal():
    rng = np.random.default_rng(11)
    n = 6000
    category = rng.integers(0, 8, n)
    rate = np.linspace(0.1, 0.8, 8)[category]
    y = (rng.random(n) < rate).astype(int)
    in_sample = roc_auc_score(y, pd.Series(y).groupby(category).transform("mean"))
    out_of_fold = single_feature_auc(category, y, "categorical")
    assert out_of_fold > 0.7
    assert out_of_fold == pytest.approx(in_sample, abs=0.01)  # with few categories, nothing to memorise
    # missing values are one category: a column whose missingness is the label is fully predictive
    flag = np.where(y == 1, None, "present").astype(object)
    assert single_feature_auc(flag, y, "categorical") == pytest.approx(1.0)


# ---------------------------------------------------------------------------------------------------
# the numpy estimates against scikit-learn's (the report's figures before numpy took over)


def _random_inputs(rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Feature shapes of the reports: continuous, heavy ties, a constant, an id-like column, missing values."""
    n = int(rng.integers(50, 3000))
    return {
        "continuous": rng.normal(size=n),
        "ties": rng.integers(0, 4, n).astype(float),
        "constant": np.full(n, 2.5),
        "id_like": rng.permutation(n).astype(float),
        "with_missing": np.where(rng.random(n) < 0.3, np.nan, rng.normal(size=n)),
    }


@pytest.mark.parametrize("seed", range(8))
def test_mutual_information_equals_scikit_learn(seed):
    from sklearn.metrics import mutual_info_score as sklearn_mutual_info

    rng = np.random.default_rng(500 + seed)
    for name, x in _random_inputs(rng).items():
        n = x.shape[0]
        for classes in (2, 3):
            y = rng.integers(0, classes, n)
            for kind in ("numeric", "categorical"):
                codes = quantile_bin_codes(x, 20) if kind == "numeric" else pd.factorize(x, use_na_sentinel=False)[0]
                expected = sklearn_mutual_info(codes, y)
                got = mutual_information(x, y, kind)
                # equal up to rounding: terms of size log(N) cancel to a small MI, so the error is absolute
                assert got == pytest.approx(expected, rel=1e-9, abs=1e-12), (name, classes, kind)
                assert got >= 0.0
        assert mutual_information(x, np.zeros(n, dtype=int), "numeric") == sklearn_mutual_info(
            quantile_bin_codes(x, 20), np.zeros(n, dtype=int)
        )  # one class: 0 on both sides


@pytest.mark.parametrize("seed", range(8))
def test_roc_auc_equals_scikit_learn(seed):
    from sklearn.metrics import roc_auc_score as sklearn_roc_auc

    rng = np.random.default_rng(600 + seed)
    for name, x in _random_inputs(rng).items():
        n = x.shape[0]
        positive = rng.random(n) < rng.uniform(0.02, 0.6)
        positive[:2] = [True, False]  # both classes present
        scores = np.where(np.isnan(x), 0.0, x) + 0.3 * positive * rng.random()
        assert roc_auc(scores, positive) == pytest.approx(sklearn_roc_auc(positive, scores), abs=1e-12), name
        # through the report's entry point, missing values imputed by the median
        auc, _ = single_feature_auc_with_direction(x, positive.astype(int), "numeric")
        imputed = np.where(np.isnan(x), np.nanmedian(x) if (~np.isnan(x)).any() else 0.0, x)
        expected = sklearn_roc_auc(positive, imputed)
        assert auc == pytest.approx(max(expected, 1 - expected), abs=1e-12), name


def test_roc_auc_edge_cases():
    positive = np.array([True, False, True, False])
    assert roc_auc(np.array([1.0, 1.0, 1.0, 1.0]), positive) == 0.5  # every score tied
    assert roc_auc(np.array([4.0, 1.0, 3.0, 2.0]), positive) == 1.0
    assert roc_auc(np.array([1.0, 4.0, 2.0, 3.0]), positive) == 0.0
    assert roc_auc(np.array([2.0, 2.0, 3.0, 1.0]), positive) == 0.875  # one tie across classes counts half
    assert roc_auc(np.arange(4.0), np.ones(4, dtype=bool)) is None  # one class
    assert roc_auc(np.arange(4.0), np.zeros(4, dtype=bool)) is None
    for bad in (np.nan, np.inf):
        with pytest.raises(ValueError, match="finite"):
            roc_auc(np.array([1.0, bad, 2.0, 3.0]), positive)
    with pytest.raises(ValueError):
        roc_auc(np.arange(3.0), positive)


def test_average_ranks_share_ties():
    assert average_ranks(np.array([3.0, 1.0, 3.0, 2.0, 3.0])).tolist() == [4.0, 1.0, 4.0, 2.0, 4.0]
    values = np.random.default_rng(3).integers(0, 5, 400).astype(float)
    assert average_ranks(values).tolist() == scipy.stats.rankdata(values, method="average").tolist()
    assert average_ranks(np.zeros(0)).shape == (0,)


# ---------------------------------------------------------------------------------------------------
# feature_signal


def test_feature_signal_verdicts_and_rows():
    rng = np.random.default_rng(21)
    n = 60_000  # large enough for the plug-in MI bias of 20 bins to stay under the "useless" floor
    y = (rng.random(n) < 0.3).astype(int)
    columns = {
        "leaked_label": (y.astype(str), "categorical"),
        "leaked_score": (y + rng.normal(scale=0.2, size=n), "numeric"),
        "useful": (rng.normal(size=n) + 0.5 * y, "numeric"),
        "useful_inverse": (-(rng.normal(size=n) + 0.5 * y), "numeric"),
        "noise": (rng.normal(size=n), "numeric"),
        "noise_category": (rng.choice(np.array(["a", "b", "c"]), n), "categorical"),
    }
    rows = feature_signal(columns, y, binary=True)
    by_name = {row["feature"]: row for row in rows}

    assert [r["mutual_information"] for r in rows] == sorted((r["mutual_information"] for r in rows), reverse=True)
    assert set(by_name) == set(columns)
    entropy = scipy.stats.entropy(np.bincount(y))  # nats
    for name, (values, kind) in columns.items():
        row = by_name[name]
        assert set(row) == {"feature", "kind", "mutual_information", "normalized_mi", "auc", "direction", "verdict"}
        assert row["kind"] == kind
        assert row["mutual_information"] == mutual_information(values, y, kind)
        assert row["normalized_mi"] == pytest.approx(row["mutual_information"] / entropy)

    assert by_name["leaked_label"]["verdict"] == "suspiciously strong"
    assert by_name["leaked_label"]["normalized_mi"] == pytest.approx(1.0)
    assert by_name["leaked_label"]["auc"] == pytest.approx(1.0)
    assert by_name["leaked_score"]["verdict"] == "suspiciously strong"
    assert by_name["leaked_score"]["auc"] >= LEAKAGE_MIN_AUC
    for name in ("useful", "useful_inverse"):
        assert by_name[name]["verdict"] == "signal"
        assert 0.6 < by_name[name]["auc"] < LEAKAGE_MIN_AUC
        assert by_name[name]["normalized_mi"] < LEAKAGE_MIN_NORMALIZED_MI
    assert by_name["useful"]["direction"] == "higher" and by_name["useful_inverse"]["direction"] == "lower"
    for name in ("noise", "noise_category"):
        assert by_name[name]["verdict"] == "useless", by_name[name]
        assert by_name[name]["normalized_mi"] < USELESS_MAX_NORMALIZED_MI
        assert by_name[name]["auc"] < USELESS_MAX_AUC
    assert rows[0]["feature"] == "leaked_label"


def test_feature_signal_multiclass_has_no_auc():
    rng = np.random.default_rng(5)
    n = 3000
    y = rng.integers(0, 3, n)
    columns = {"copy": (y.copy(), "categorical"), "noise": (rng.integers(0, 2, n), "categorical")}
    rows = feature_signal(columns, y, binary=False)
    assert [r["feature"] for r in rows] == ["copy", "noise"]
    assert all("auc" not in r for r in rows)
    assert rows[0]["verdict"] == "suspiciously strong" and rows[1]["verdict"] == "useless"
    with pytest.raises(ValueError):
        feature_signal(columns, y, binary=True)
    # a single-class label: nothing to explain, normalised MI 0, auc None
    single = feature_signal({"x": (rng.normal(size=10), "numeric")}, np.zeros(10), binary=True)
    assert single[0]["normalized_mi"] == 0.0 and single[0]["auc"] is None and single[0]["verdict"] == "useless"


# ---------------------------------------------------------------------------------------------------
# group_table and divergences


def test_group_table_matches_pandas_groupby():
    rng = np.random.default_rng(31)
    n = 5000
    groups = rng.choice(np.array(["de", "fr", "en", None], dtype=object), n, p=[0.4, 0.3, 0.25, 0.05])
    splits = rng.choice(np.array(["train", "dev", "test"]), n, p=[0.7, 0.15, 0.15])
    y = np.where(rng.random(n) < 0.35, "toxic", "ok")
    rows = group_table(groups, splits, y, positive="toxic")

    frame = pd.DataFrame({"group": pd.Series(groups).fillna("unknown"), "split": splits, "pos": y == "toxic"})
    cells = frame.groupby(["group", "split"])["pos"].agg(["size", "mean"]).reset_index()
    cells["share"] = cells["size"] / cells.groupby("split")["size"].transform("sum")
    totals = frame.groupby("group")["pos"].agg(["size", "mean"]).reset_index()
    totals["split"] = "all"
    totals["share"] = totals["size"] / n
    expected = pd.concat([cells, totals], ignore_index=True)

    assert len(rows) == len(expected)
    got = {(r["group"], r["split"]): r for r in rows}
    for record in expected.itertuples():
        row = got[(record.group, record.split)]
        assert row["examples"] == record.size
        assert row["share_of_split"] == pytest.approx(record.share, abs=1e-12)
        assert row["label_rate"] == pytest.approx(record.mean, abs=1e-12)
    assert "unknown" in {r["group"] for r in rows}
    assert [r["split"] for r in rows if r["group"] == "de"] == ["dev", "test", "train", "all"]
    assert sum(r["examples"] for r in rows if r["split"] == "all") == n
    for split in ("train", "dev", "test", "all"):
        assert sum(r["share_of_split"] for r in rows if r["split"] == split) == pytest.approx(1.0)


def test_group_table_validation():
    assert group_table(np.array([]), np.array([]), np.array([])) == []
    with pytest.raises(ValueError):
        group_table(np.array(["a", "b"]), np.array(["train", "all"]), np.array([0, 1]))
    with pytest.raises(ValueError):
        group_table(np.array(["a", "b"]), np.array(["train", "dev"]), np.array(["x", "y"]))  # positive=1 absent
    with pytest.raises(ValueError):
        group_table(np.array(["a", "b"]), np.array(["train"]), np.array([0, 1]))


def build_dataset(cells: dict[tuple[str, str], tuple[int, int]], rng: np.random.Generator):
    """Examples with exactly ``(examples, positives)`` per (group, split), shuffled."""
    groups, splits, y = [], [], []
    for (group, split), (count, positives) in cells.items():
        groups += [group] * count
        splits += [split] * count
        y += [1] * positives + [0] * (count - positives)
    order = rng.permutation(len(y))
    return np.array(groups, dtype=object)[order], np.array(splits)[order], np.array(y)[order]


SIZES = {"train": 6000, "dev": 2000, "test": 2000}
SHARES = {"A": 0.5, "B": 0.3, "C": 0.2}


def balanced_cells() -> dict[tuple[str, str], tuple[int, int]]:
    cells = {}
    for split, size in SIZES.items():
        for group, share in SHARES.items():
            count = round(size * share)
            cells[(group, split)] = (count, round(count * 0.3))
    return cells


def test_divergences_flags_over_representation_and_deviant_label_rate():
    cells = balanced_cells()
    # test over-represents C: shares A .45, B .25, C .30 (C overall 0.22 -> +0.08; A, B only -0.04)
    cells[("A", "test")] = (900, 270)
    cells[("B", "test")] = (500, 150)
    cells[("C", "test")] = (600, 180)
    # B's label rate in dev is 0.42 against dev's 0.336 overall (+0.084; A and C only -0.036)
    cells[("B", "dev")] = (600, 252)
    groups, splits, y = build_dataset(cells, np.random.default_rng(41))
    flagged = divergences(group_table(groups, splits, y))

    assert {(f["group"], f["split"], f["kind"]) for f in flagged} == {
        ("C", "test", "representation"),
        ("B", "dev", "label_rate"),
    }
    by_kind = {f["kind"]: f for f in flagged}
    assert by_kind["representation"]["value"] == pytest.approx(0.30)
    assert by_kind["representation"]["reference"] == pytest.approx(0.22)
    assert by_kind["representation"]["difference"] == pytest.approx(0.08)
    assert by_kind["label_rate"]["value"] == pytest.approx(0.42)
    assert by_kind["label_rate"]["reference"] == pytest.approx(0.336)
    assert by_kind["label_rate"]["difference"] == pytest.approx(0.084)

    # tighter tolerances also catch the smaller side effects
    tight = divergences(group_table(groups, splits, y), share_tolerance=0.03, rate_tolerance=0.03)
    assert ("A", "test", "representation") in {(f["group"], f["split"], f["kind"]) for f in tight}
    assert ("A", "dev", "label_rate") in {(f["group"], f["split"], f["kind"]) for f in tight}


def test_divergences_silent_on_balanced_data():
    groups, splits, y = build_dataset(balanced_cells(), np.random.default_rng(42))
    assert divergences(group_table(groups, splits, y)) == []

    # randomly drawn, balanced in expectation, groups large enough for the sampling noise to stay small
    rng = np.random.default_rng(43)
    n = 40_000
    groups = rng.choice(np.array(["A", "B", "C", None], dtype=object), n, p=[0.4, 0.3, 0.2, 0.1])
    splits = rng.choice(np.array(["train", "dev", "test"]), n, p=[0.6, 0.2, 0.2])
    y = (rng.random(n) < 0.3).astype(int)
    assert divergences(group_table(groups, splits, y)) == []


def test_divergences_ignore_small_groups_until_min_examples_allows():
    cells = balanced_cells()
    cells[("D", "dev")] = (50, 45)  # tiny and deviant: label rate 0.9
    groups, splits, y = build_dataset(cells, np.random.default_rng(44))
    table = group_table(groups, splits, y)
    assert divergences(table) == []
    flagged = divergences(table, min_examples=50)
    # D's dev rate deviates in dev, and in "all" (its base rate over every split)
    assert {(f["group"], f["split"], f["kind"]) for f in flagged} == {
        ("D", "dev", "label_rate"),
        ("D", "all", "label_rate"),
    }


# ---------------------------------------------------------------------------------------------------
# agreement_by_group


def krippendorff_oracle(votes: np.ndarray) -> float:
    data = np.where(votes >= 0, votes, np.nan).astype(float).T  # raters x units
    return krippendorff.alpha(reliability_data=data, level_of_measurement="nominal")


@pytest.mark.parametrize("seed", range(4))
def test_agreement_by_group_matches_krippendorff_package(seed):
    rng = np.random.default_rng(500 + seed)
    k, n_items, n_raters = 3, 400, 5
    groups = rng.choice(np.array(["de", "fr", "en", None], dtype=object), n_items, p=[0.4, 0.3, 0.2, 0.1])
    truth = rng.integers(0, k, n_items)
    accuracy = np.where(groups == "fr", 0.5, 0.9)  # French items are labeled less reliably
    correct = rng.random((n_items, n_raters)) < accuracy[:, None]
    wrong = (truth[:, None] + rng.integers(1, k, (n_items, n_raters))) % k
    votes = np.where(correct, truth[:, None], wrong)
    votes[rng.random(votes.shape) < 0.3] = -1

    rows = agreement_by_group(votes, groups, k)
    assert [r["group"] for r in rows] == ["de", "en", "fr", "unknown"]
    names = np.array(["unknown" if g is None else g for g in groups])
    for row in rows:
        mask = names == row["group"]
        assert row["items"] == int(mask.sum())
        assert row["pairable_items"] == int(((votes[mask] >= 0).sum(axis=1) >= 2).sum())
        assert row["alpha"] == pytest.approx(krippendorff_oracle(votes[mask]), abs=1e-9)
    alpha = {r["group"]: r["alpha"] for r in rows}
    assert alpha["fr"] < alpha["de"] - 0.2


def test_agreement_by_group_undefined_alpha_is_nan():
    votes = np.array([[0, 0, -1], [1, 0, 1], [2, -1, -1], [1, 1, -1]])
    groups = np.array(["a", "b", "c", "a"], dtype=object)
    rows = {r["group"]: r for r in agreement_by_group(votes, groups, 3)}
    assert math.isnan(rows["c"]["alpha"]) and rows["c"]["pairable_items"] == 0  # one vote only
    assert rows["a"]["items"] == 2
    with pytest.raises(ValueError):
        agreement_by_group(votes, groups[:3], 3)


# ---------------------------------------------------------------------------------------------------
# the signal report's sample of train (sql/splits/train_sample.sql)


def _train_sample(order_seed: int, n: int) -> list[tuple]:
    """The signal sample of a 600-example split (400 train) whose two tables were written in an order
    shuffled by ``order_seed``."""
    import duckdb

    from data_platform.resources import run_sql

    rng = np.random.default_rng(order_seed)
    ids = [f"ex-{i:04d}" for i in range(600)]
    splits = ["train"] * 400 + ["dev"] * 100 + ["test"] * 100
    con = duckdb.connect(config={"threads": 2})
    con.execute("CREATE TABLE split_rows (example_id VARCHAR, split VARCHAR, label VARCHAR)")
    con.execute("CREATE TABLE examples (example_id VARCHAR, position BIGINT)")
    for i in rng.permutation(600).tolist():
        con.execute("INSERT INTO split_rows VALUES (?, ?, ?)", [ids[i], splits[i], str(i % 2)])
    for i in rng.permutation(600).tolist():
        con.execute("INSERT INTO examples VALUES (?, ?)", [ids[i], i])
    rows = run_sql(
        con,
        "splits/train_sample.sql",
        n=str(n),
        select="e.example_id, e.position",
        source="examples",
        split_table="split_rows",
        id_column="example_id",
        label_column="label",
    ).fetchall()
    con.close()
    return rows


def test_the_signal_sample_is_n_train_examples_whatever_the_physical_order():
    sample = _train_sample(order_seed=1, n=150)
    assert len(sample) == 150  # n rows, drawn from train only (a sample before the filter read fewer)
    assert all(position < 400 for _, position, _ in sample)
    assert [r[0] for r in sample] == sorted(r[0] for r in sample)  # example_id order: the folds are positional
    assert _train_sample(order_seed=2, n=150) == sample  # the same rows in the same order
    everything = _train_sample(order_seed=3, n=1000)
    assert sorted(p for _, p, _ in everything) == list(range(400))  # fewer train rows than n: all of them
