"""SMOTE on the train split: geometry, neighbours (scipy's distances as oracle: the product searches with
scikit-learn), counts, types, NaN, seeds, edges."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.spatial
from sklearn.impute import SimpleImputer
from sklearn.preprocessing import StandardScaler

from data_platform.splits.synthetic import SyntheticRows, balanced_summary, knn_indices, smote, standardise

CONTINUOUS, COUNT, GAPPY = 0, 2, 3  # column roles in the frame below: 0, 1 continuous; 2 counts; 3 with NaN


def nearest_by_scipy(z: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """The oracle's k nearest rows of each row (self excluded) and their distances, by scipy's cdist."""
    d = scipy.spatial.distance.cdist(z, z)
    np.fill_diagonal(d, np.inf)
    nbr = np.argsort(d, axis=1, kind="stable")[:, :k]
    return nbr, np.take_along_axis(d, nbr, axis=1)


def frame(n_major=300, n_minor=40, seed=7, nan_share=0.25):
    """Numeric [n, 4] (two continuous, one integer count, one continuous with NaN), two categoricals."""
    rng = np.random.default_rng(seed)
    n = n_major + n_minor
    labels = np.array(["neg"] * n_major + ["pos"] * n_minor, dtype=object)
    rng.shuffle(labels)
    pos = labels == "pos"
    numeric = np.column_stack(
        [
            rng.normal(0, 1, n) + 2.0 * pos,
            rng.normal(100, 30, n),
            rng.poisson(4, n).astype(float),
            rng.normal(-5, 0.1, n),
        ]
    )
    numeric[rng.random(n) < nan_share, GAPPY] = np.nan
    categorical = np.column_stack([rng.choice(["de", "fr", "us"], n), rng.choice(["web", "app"], n)]).astype(object)
    ids = np.array([f"row-{i:04d}" for i in range(n)])
    return numeric, categorical, labels, ids


def positions(ids, wanted):
    index = {v: i for i, v in enumerate(ids)}
    return np.array([index[v] for v in wanted], dtype=int)


def oracle_features(numeric, labels, cls):
    rows = np.flatnonzero(labels == cls)
    imputed = SimpleImputer(strategy="median", keep_empty_features=True).fit_transform(numeric[rows])
    return rows, StandardScaler().fit_transform(imputed)


def test_every_synthetic_row_lies_on_the_segment_from_its_parent_to_its_named_neighbour():
    numeric, categorical, labels, ids = frame()
    out = smote(numeric, categorical, labels, ids, seed=3)
    assert isinstance(out, SyntheticRows) and len(out) == 260
    p, q = positions(ids, out.parent_ids), positions(ids, out.neighbour_ids)
    a, b, x = numeric[p], numeric[q], out.numeric
    assert (p != q).all()
    # recover u from the continuous columns (no NaN, no rounding, ends differ almost surely)
    u0 = (x[:, 0] - a[:, 0]) / (b[:, 0] - a[:, 0])
    u1 = (x[:, 1] - a[:, 1]) / (b[:, 1] - a[:, 1])
    np.testing.assert_allclose(u0, u1, rtol=0, atol=1e-9)  # one u for all columns of a row
    assert ((u0 > -1e-12) & (u0 < 1)).all()
    np.testing.assert_allclose(out.u, u0, atol=1e-9)
    assert len(np.unique(np.round(u0, 6))) > 250  # u really varies
    both = ~np.isnan(a[:, GAPPY]) & ~np.isnan(b[:, GAPPY])
    np.testing.assert_allclose(x[both, GAPPY], (a + u0[:, None] * (b - a))[both, GAPPY], atol=1e-9)
    # the integer column: the rounded point of the same segment
    exact = a[:, COUNT] + u0 * (b[:, COUNT] - a[:, COUNT])
    assert (np.abs(x[:, COUNT] - exact) <= 0.5 + 1e-9).all()
    assert (x[:, COUNT] >= np.minimum(a[:, COUNT], b[:, COUNT])).all()
    assert (x[:, COUNT] <= np.maximum(a[:, COUNT], b[:, COUNT])).all()


def test_parent_and_neighbour_are_distinct_minority_rows_and_the_neighbour_is_among_the_k_nearest():
    numeric, categorical, labels, ids = frame(n_minor=60)
    k = 5
    out = smote(numeric, categorical, labels, ids, k=k, seed=11)
    p, q = positions(ids, out.parent_ids), positions(ids, out.neighbour_ids)
    assert (labels[p] == "pos").all() and (labels[q] == "pos").all() and (p != q).all()
    assert (out.labels == "pos").all()

    rows, z = oracle_features(numeric, labels, "pos")
    local = {r: i for i, r in enumerate(rows)}
    lp, lq = np.array([local[i] for i in p]), np.array([local[i] for i in q])
    nbr, dist = nearest_by_scipy(z, k)  # self excluded
    d_pair = np.linalg.norm(z[lp] - z[lq], axis=1)
    assert (d_pair <= dist[lp, k - 1] + 1e-9).all()
    assert all(lq[i] in set(nbr[lp[i]]) for i in range(len(lp)))  # continuous data: no ties
    # the neighbour is drawn among all k, not always the nearest
    ranks = [list(nbr[lp[i]]).index(lq[i]) for i in range(len(lp))]
    assert set(ranks) == set(range(k))


def test_knn_matches_scipy_distances_and_standardise_matches_imputer_plus_scaler():
    numeric, _, labels, _ = frame(n_minor=200, nan_share=0.4)
    rows, z = oracle_features(numeric, labels, "pos")
    ours = standardise(numeric[rows])
    np.testing.assert_allclose(ours, z, atol=1e-12)
    # the oracle: every pairwise distance by scipy, self excluded, a stable sort (continuous data: no ties)
    d = scipy.spatial.distance.cdist(z, z)
    np.fill_diagonal(d, np.inf)
    np.testing.assert_array_equal(knn_indices(ours, 7), np.argsort(d, axis=1, kind="stable")[:, :7])


def test_a_minority_with_a_constant_and_an_all_nan_column_still_standardises():
    numeric = np.column_stack([np.arange(6.0), np.full(6, 3.0), np.full(6, np.nan)])
    z = standardise(numeric)
    numeric = np.vstack([numeric, np.ones((12, 3))])
    assert np.isfinite(z).all() and (z[:, 1:] == 0).all()
    out = smote(numeric, None, np.array([1] * 6 + [0] * 12), [f"i{j}" for j in range(18)], k=2)
    assert np.isnan(out.numeric[:, 2]).all() and (out.numeric[:, 1] == 3.0).all()


@pytest.mark.parametrize("ratio", [1.0, 0.5, 0.37, 0.134])
def test_class_counts_reach_the_target_ratio_and_the_majority_is_untouched(ratio):
    numeric, categorical, labels, ids = frame()
    before = (numeric.copy(), categorical.copy(), labels.copy(), ids.copy())
    out = smote(numeric, categorical, labels, ids, target_ratio=ratio)
    after = 40 + len(out)
    assert after / 300 >= ratio - 1e-12 and (after - 1) / 300 < ratio
    assert (out.labels == "pos").all() and out.added == {"pos": len(out)}
    for original, now in zip(before, (numeric, categorical, labels, ids)):  # inputs untouched
        np.testing.assert_array_equal(original, now)
    assert not set(out.ids) & set(ids)
    summary = balanced_summary(labels, np.concatenate([labels, out.labels]))
    assert summary["before"] == {"neg": 300, "pos": 40}
    assert summary["after"] == {"neg": 300, "pos": after}
    assert summary["added"] == {"neg": 0, "pos": len(out)}
    assert summary["rows_after"] == 340 + len(out)
    assert summary["minority_ratio_after"] == pytest.approx(after / 300)


def test_a_minority_already_at_the_ratio_gets_nothing():
    numeric, categorical, labels, ids = frame(n_major=100, n_minor=60)
    assert len(smote(numeric, categorical, labels, ids, target_ratio=0.5)) == 0
    out = smote(numeric, categorical, labels, ids, target_ratio=0.5, minority="pos")
    assert len(out) == 0 and "already reach" in out.note


def test_multiclass_each_class_grows_to_the_ratio_of_the_largest_or_only_the_named_one():
    rng = np.random.default_rng(0)
    labels = np.repeat(np.array([0, 1, 2]), [200, 60, 10])
    numeric = rng.normal(size=(270, 3)) + labels[:, None]
    ids = np.array([f"m{i}" for i in range(270)])
    out = smote(numeric, None, labels, ids, target_ratio=0.8)
    grown = np.unique(np.concatenate([labels, out.labels]), return_counts=True)[1]
    assert list(grown) == [200, 160, 160]
    p, q = positions(ids, out.parent_ids), positions(ids, out.neighbour_ids)
    assert (labels[p] == out.labels).all() and (labels[q] == out.labels).all()
    only = smote(numeric, None, labels, ids, target_ratio=0.8, minority=2)
    assert (only.labels == 2).all() and len(only) == 150 and only.added == {"2": 150}
    # the named class is measured against the largest other class
    mid = smote(numeric, None, labels, ids, target_ratio=1.0, minority=1)
    assert len(mid) == 140


def test_integer_columns_stay_integers_and_continuous_ones_do_not():
    numeric, categorical, labels, ids = frame()
    out = smote(numeric, categorical, labels, ids, seed=5)
    counts = out.numeric[:, COUNT]
    assert (counts == np.round(counts)).all() and counts.min() >= 0
    assert (out.numeric[:, CONTINUOUS] != np.round(out.numeric[:, CONTINUOUS])).any()
    # a column with one non-integer value is continuous
    numeric[0, COUNT] = 0.5
    assert (smote(numeric, categorical, labels, ids, seed=5).numeric[:, COUNT] % 1 != 0).any()


def test_categoricals_come_from_the_parent_or_the_neighbour_and_follow_the_nearer_end():
    numeric, categorical, labels, ids = frame(n_minor=80)
    out = smote(numeric, categorical, labels, ids, seed=2)
    p, q = positions(ids, out.parent_ids), positions(ids, out.neighbour_ids)
    from_parent = (out.categorical == categorical[p]).all(axis=1)
    from_neighbour = (out.categorical == categorical[q]).all(axis=1)
    assert (from_parent | from_neighbour).all()  # the whole vector comes from one end
    decisive = from_parent ^ from_neighbour
    took_nn = from_neighbour[decisive]
    u = out.u[decisive]
    assert decisive.sum() > 100
    assert u[took_nn].mean() > 0.6 > 0.4 > u[~took_nn].mean()
    assert abs(took_nn.mean() - u.mean()) < 0.08  # P(neighbour) = u on average


def test_nan_is_kept_only_where_both_ends_are_nan():
    numeric, categorical, labels, ids = frame(nan_share=0.5)
    out = smote(numeric, categorical, labels, ids, seed=9)
    a = numeric[positions(ids, out.parent_ids), GAPPY]
    b = numeric[positions(ids, out.neighbour_ids), GAPPY]
    x = out.numeric[:, GAPPY]
    both, only_a, only_b = np.isnan(a) & np.isnan(b), np.isnan(a) & ~np.isnan(b), ~np.isnan(a) & np.isnan(b)
    assert both.any() and only_a.any() and only_b.any()
    assert np.isnan(x[both]).all()
    np.testing.assert_array_equal(x[only_a], b[only_a])
    np.testing.assert_array_equal(x[only_b], a[only_b])
    assert not np.isnan(x[~both]).any()
    assert not np.isnan(out.numeric[:, :GAPPY]).any()


def test_the_same_seed_gives_the_same_rows_and_another_seed_other_rows():
    numeric, categorical, labels, ids = frame()
    one, again, other = (smote(numeric, categorical, labels, ids, seed=s) for s in (4, 4, 5))
    for name in ("numeric", "categorical", "labels", "ids", "parent_ids", "neighbour_ids", "u"):
        np.testing.assert_array_equal(getattr(one, name), getattr(again, name))
    assert one.ids[0] == "syn-4-0" and one.ids[-1] == f"syn-4-{len(one) - 1}" and other.ids[0] == "syn-5-0"
    assert not np.allclose(one.numeric[:, :2], other.numeric[:, :2])
    assert (one.parent_ids != other.parent_ids).any() or (one.neighbour_ids != other.neighbour_ids).any()


@pytest.mark.parametrize("n_minor", [0, 1])
def test_fewer_than_two_minority_rows_give_no_rows_and_say_why(n_minor):
    numeric, categorical, labels, ids = frame(n_major=50, n_minor=n_minor)
    out = smote(numeric, categorical, labels, ids, minority="pos")
    assert len(out) == 0 and out.numeric.shape == (0, 4) and out.categorical.shape == (0, 2)
    assert f"{n_minor} row(s)" in out.note and "at least 2" in out.note


def test_single_class_input_has_nothing_to_balance():
    numeric, categorical, labels, ids = frame(n_major=20, n_minor=0)
    out = smote(numeric, categorical, labels, ids)
    assert len(out) == 0 and "nothing to balance" in out.note


def test_k_larger_than_the_minority_uses_every_other_row():
    numeric, categorical, labels, ids = frame(n_major=100, n_minor=4)
    out = smote(numeric, categorical, labels, ids, k=10, seed=1)
    assert len(out) == 96 and "reduced to 3" in out.note
    pairs = {(a, b) for a, b in zip(out.parent_ids, out.neighbour_ids)}
    minority = set(ids[labels == "pos"])
    assert pairs == {(a, b) for a in minority for b in minority if a != b}  # all 4 * 3 ordered pairs


def test_categoricals_only_draw_a_random_other_row_of_the_class():
    _, categorical, labels, ids = frame(n_major=400, n_minor=5)
    out = smote(np.zeros((len(ids), 0)), categorical, labels, ids, seed=8)
    assert len(out) == 395 and out.numeric.shape == (395, 0) and "no numeric columns" in out.note
    p, q = positions(ids, out.parent_ids), positions(ids, out.neighbour_ids)
    assert (p != q).all() and (labels[p] == "pos").all() and (labels[q] == "pos").all()
    assert ((out.categorical == categorical[p]).all(axis=1) | (out.categorical == categorical[q]).all(axis=1)).all()
    _, per_pair = np.unique(np.stack([p, q]), axis=1, return_counts=True)
    assert len(per_pair) == 20 and per_pair.min() > 5  # every ordered pair, roughly uniform
    again = smote(None, categorical, labels, ids, seed=8)
    np.testing.assert_array_equal(again.categorical, out.categorical)


def test_ties_are_broken_by_position_even_where_distances_round():
    rng = np.random.default_rng(3)
    grid = rng.integers(0, 5, size=(400, 3)).astype(float)  # exact duplicates and tied distances
    # the second set sits far from 0, where distances computed as |a|^2 + |b|^2 - 2ab round badly
    for points in (standardise(grid), 1000.0 + 0.1 * grid):
        # among rows at equal distance, the lower positions come first (more ties than k + 2 rows)
        d2 = ((points[:, None, :] - points[None, :, :]) ** 2).sum(-1)
        np.fill_diagonal(d2, np.inf)
        expected = np.lexsort((np.broadcast_to(np.arange(400), d2.shape), d2), axis=1)[:, :6]
        np.testing.assert_array_equal(knn_indices(points, 6), expected)
        queries = np.array([399, 0, 17])
        np.testing.assert_array_equal(knn_indices(points, 6, queries=queries), expected[queries])


def test_a_large_minority_agrees_with_the_oracle():
    rng = np.random.default_rng(12)
    n = 6000
    numeric = rng.normal(size=(n, 6))
    labels = np.array(["pos"] * n + ["neg"] * (2 * n), dtype=object)
    numeric = np.vstack([numeric, rng.normal(size=(2 * n, 6))])
    ids = np.array([f"big-{i}" for i in range(3 * n)])
    out = smote(numeric, None, labels, ids, target_ratio=0.55)
    assert n + len(out) == 6_600  # 0.55 * 12,000 (float noise must not push the ceiling to 6,601)
    out = smote(numeric, None, labels, ids, target_ratio=1.0)
    assert len(out) == n and len(set(out.parent_ids)) == n  # every row a parent once: k-NN for all
    rows, z = oracle_features(numeric, labels, "pos")
    sample = rng.choice(len(out), 300, replace=False)
    lp = positions(ids, out.parent_ids[sample])
    lq = positions(ids, out.neighbour_ids[sample])
    nbr = np.argsort(scipy.spatial.distance.cdist(z[lp], z), axis=1, kind="stable")[:, :6]  # self first
    assert all(lq[i] in set(nbr[i, 1:]) for i in range(len(sample)))  # rows: minority first, so local = global


def test_bad_inputs_are_refused():
    numeric, categorical, labels, ids = frame(n_major=10, n_minor=5)
    with pytest.raises(ValueError, match="target_ratio"):
        smote(numeric, categorical, labels, ids, target_ratio=1.5)
    with pytest.raises(ValueError, match="k must"):
        smote(numeric, categorical, labels, ids, k=0)
    with pytest.raises(ValueError, match="row counts"):
        smote(numeric[:-1], categorical, labels, ids)
    bad = numeric.copy()
    bad[0, 0] = np.inf
    with pytest.raises(ValueError, match="infinite"):
        smote(bad, categorical, labels, ids)
    with pytest.raises(ValueError, match="collide"):
        smote(numeric, categorical, labels, np.array([f"syn-0-{i}" for i in range(15)]))


def test_the_cap_bounds_synthetic_rows_per_real_row_and_too_few_real_rows_give_none():
    numeric, categorical, labels, ids = frame(n_major=2000, n_minor=22)  # rare positives, 1.1%
    uncapped = smote(numeric, categorical, labels, ids, target_ratio=0.5)
    assert len(uncapped) == 1000 - 22  # 44 synthetic rows per real one without a cap
    out = smote(numeric, categorical, labels, ids, target_ratio=0.5, max_per_row=5)
    assert len(out) == 110 and out.added == {"pos": 110}
    _, per_parent = np.unique(out.parent_ids, return_counts=True)
    assert (per_parent == 5).all() and len(per_parent) == 22  # spread evenly: 5 per real row
    assert "capped at 5 synthetic rows per real row: 110 of 978 wanted" in out.note
    assert len(smote(numeric, categorical, labels, ids, target_ratio=0.5, max_per_row=2.5)) == 55
    assert len(smote(numeric, categorical, labels, ids, target_ratio=0.02, max_per_row=5)) == 18  # cap not hit
    none = smote(numeric, categorical, labels, ids, target_ratio=0.5, max_per_row=5, min_rows=50)
    assert len(none) == 0 and none.added == {"pos": 0}
    assert "too few real rows to synthesize from (22 < min_rows=50)" in none.note
    for bad in ({"max_per_row": -1}, {"max_per_row": float("inf")}, {"min_rows": 1}):
        with pytest.raises(ValueError):
            smote(numeric, categorical, labels, ids, **bad)
