"""The synthetic twin: the copula and its per-person sampling, the card's figures against independent
implementations (scipy, sklearn, brute-force numpy), and the real asset over a generated world, whose
blocking privacy check passes on the twin and fails on a deliberately leaky one."""

from __future__ import annotations

import json
from pathlib import Path

import dagster as dg
import duckdb
import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest
from scipy.spatial.distance import jensenshannon
from scipy.stats import ks_2samp, spearmanr

from data_platform.resources import Warehouse
from data_platform.splits.stage import summary
from data_platform.splits.twin import TwinColumns, leak_drill, sample_twin
from data_platform.splits.twin_assets import TWIN_ASSETS
from data_platform.splits.twin_report import (
    DistanceSpace,
    PrivacyLimits,
    closest_distances,
    fidelity,
    membership_advantage,
    privacy,
    utility,
)
from data_platform_tests.conftest import checks_by_name, query
from data_platform_tests.test_splits import meta, published  # noqa: F401 (published: the module's world)

SPEC = TwinColumns(
    numeric=("x", "y", "count"),
    categorical=("colour", "bucket", "country", "label"),
    person=("country",),
    derived={"bucket": "count"},
    label="label",
)


def world(n_persons: int = 120, seed: int = 1) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """Rows of persons: x and y correlated (rho 0.7), count an integer, bucket a function of count,
    country constant per person, colour tied to x, label tied to x, a few NULLs."""
    rng = np.random.default_rng(seed)
    rows = rng.integers(1, 30, size=n_persons)
    person = np.repeat(np.arange(n_persons), rows)
    n = len(person)
    x = rng.standard_normal(n)
    y = 0.7 * x + np.sqrt(1 - 0.7**2) * rng.standard_normal(n)
    y[rng.random(n) < 0.03] = np.nan
    count = rng.poisson(4, size=n).astype(float)
    country = np.array(["DE", "FR", "US", None], dtype=object)[rng.choice(4, size=n_persons, p=[0.5, 0.3, 0.15, 0.05])]
    colour = np.where(x + 0.5 * rng.standard_normal(n) > 0, "red", "blue").astype(object)
    label = np.where(rng.random(n) < 1 / (1 + np.exp(-(2 * x - 1))), "1", "0").astype(object)
    columns = {
        "x": x,
        "y": y,
        "count": count,
        "colour": colour,
        "bucket": np.where(count <= 3, "low", "high").astype(object),
        "country": country[person],
        "label": label,
    }
    return columns, np.array([f"real-{p}" for p in person])


def test_margins_correlation_and_shares_survive_the_copula():
    real, groups = world(300)
    twin = sample_twin(real, groups, SPEC, seed=3).columns
    assert ks_2samp(real["x"], twin["x"]).statistic < 0.05
    assert abs(np.isnan(twin["y"]).mean() - np.isnan(real["y"]).mean()) < 0.015
    keep = ~np.isnan(twin["y"])
    assert abs(spearmanr(twin["x"][keep], twin["y"][keep]).statistic - 0.68) < 0.05  # 0.7 Pearson on normals
    assert set(np.unique(twin["count"])) <= set(range(int(real["count"].max()) + 1))  # integers stay integers
    for c in ("colour", "country", "label"):
        share = {v: np.mean(twin[c] == v) for v in set(real[c]) - {None}}
        assert all(abs(share[v] - np.mean(real[c] == v)) < 0.04 for v in share), c
    # the label follows x as in the real rows (drawn from a model of the label on the other columns)
    assert np.mean(twin["label"][twin["x"] > 1] == "1") > 0.6 > np.mean(twin["label"][twin["x"] < -1] == "1")


def test_persons_are_sampled_whole_with_synthetic_ids_and_their_own_person_columns():
    real, groups = world(200)
    twin = sample_twin(real, groups, SPEC, seed=0)
    assert twin.persons == 200 and len(set(twin.person_ids)) <= 200
    assert all(p.startswith("syn-0-p") for p in twin.person_ids) and all(
        e.startswith("syn-0-e") for e in twin.example_ids
    )
    assert not set(twin.person_ids) & set(groups) and len(set(twin.example_ids)) == len(twin)
    frame = pd.DataFrame({"person": twin.person_ids, "country": twin.columns["country"]})
    assert frame.groupby("person")["country"].nunique(dropna=False).max() == 1
    # rows per person follow the real distribution, not one real person's count
    real_rows = pd.Series(groups).value_counts()
    assert abs(frame.groupby("person").size().median() - real_rows.median()) <= 4
    # the derived column is the real mapping of its source: never a count of 2 in "high"
    assert set(zip(twin.columns["count"] <= 3, twin.columns["bucket"])) <= {(True, "low"), (False, "high")}


def test_the_same_seed_gives_the_same_twin_and_another_seed_another():
    real, groups = world(80)
    a, b, c = (sample_twin(real, groups, SPEC, seed=s) for s in (5, 5, 6))
    for name in a.columns:
        np.testing.assert_array_equal(a.columns[name], b.columns[name])
    np.testing.assert_array_equal(a.person_ids, b.person_ids)
    assert not np.array_equal(a.columns["x"], c.columns["x"])


def test_bad_specs_and_inputs_are_refused():
    with pytest.raises(ValueError, match="categorical"):
        TwinColumns(numeric=("x",), categorical=("c",), person=("x",))
    with pytest.raises(ValueError, match="at most one"):
        TwinColumns(numeric=("x",), categorical=("c",), person=("c",), label="c")
    real, groups = world(10)
    with pytest.raises(ValueError, match="missing"):
        sample_twin({k: v for k, v in real.items() if k != "x"}, groups, SPEC)
    with pytest.raises(ValueError, match="persons_scale"):
        sample_twin(real, groups, SPEC, persons_scale=0)


def test_fidelity_figures_match_scipy():
    real, groups = world(150)
    twin = sample_twin(real, groups, SPEC, seed=2).columns
    figures = {r["column"]: r for r in fidelity(real, twin, SPEC)["columns"]}
    for c in SPEC.categorical:
        r = pd.Series(real[c]).fillna("<null>").value_counts()
        s = pd.Series(twin[c]).fillna("<null>").value_counts()
        cats = sorted(set(r.index) | set(s.index))
        expected = jensenshannon(r.reindex(cats, fill_value=0), s.reindex(cats, fill_value=0), base=2) ** 2
        assert figures[c]["metric"] == "jsd" and figures[c]["value"] == pytest.approx(expected, abs=1e-12)
    for c in SPEC.numeric:
        expected = ks_2samp(real[c][~np.isnan(real[c])], twin[c][~np.isnan(twin[c])]).statistic
        assert figures[c]["metric"] == "ks" and figures[c]["value"] == pytest.approx(expected, abs=1e-12)
    # mean absolute difference of the pairwise (pairwise-complete) Pearson correlations, by pandas
    cols = list(SPEC.numeric)
    diff = (pd.DataFrame(real)[cols].astype(float).corr() - pd.DataFrame(twin)[cols].astype(float).corr()).abs()
    expected = diff.where(np.triu(np.ones(diff.shape, dtype=bool), 1)).stack().mean()
    assert fidelity(real, twin, SPEC)["correlation_mad"] == pytest.approx(expected, abs=1e-12)


def test_distances_to_the_closest_record_match_brute_force():
    real, groups = world(40)
    other, _ = world(20, seed=9)
    space = DistanceSpace(real, SPEC)
    a, b = space.points(other), space.points(real)
    brute = np.sqrt(((a[:, None, :] - b[None, :, :]) ** 2).sum(axis=2)).min(axis=1)
    np.testing.assert_allclose(closest_distances(a, b), brute, atol=1e-9)
    # one differing category adds 1 to the squared distance, like one standard deviation
    one = {k: v[:1].copy() for k, v in real.items()}
    changed = {**one, "colour": np.array(["blue" if one["colour"][0] == "red" else "red"], dtype=object)}
    assert np.sum((space.points(one) - space.points(changed)) ** 2) == pytest.approx(1.0)


def test_membership_advantage_is_the_one_sided_ks_statistic():
    rng = np.random.default_rng(4)
    for members, holdout in [
        (rng.exponential(1.0, 300), rng.exponential(1.3, 250)),
        (rng.integers(0, 5, 200).astype(float), rng.integers(0, 6, 200).astype(float)),  # ties
        (rng.exponential(2.0, 100), rng.exponential(1.0, 100)),  # members farther: no advantage
    ]:
        expected = ks_2samp(members, holdout, alternative="greater").statistic
        assert membership_advantage(members, holdout) == pytest.approx(expected, abs=1e-12)


def test_privacy_passes_a_twin_and_fails_copies_of_its_members():
    real, groups = world(400)
    persons = np.unique(groups)
    held = np.isin(groups, persons[::5])
    members = {k: v[~held] for k, v in real.items()}
    holdout = {k: v[held] for k, v in real.items()}
    twin = sample_twin(members, groups[~held], SPEC, seed=0)
    limits = PrivacyLimits()
    good = privacy(members, holdout, twin.columns, SPEC, exact_copies=0, limits=limits)
    assert good["passed"], good["problems"]
    leaky = leak_drill(twin, members, 0.3, seed=0)
    copied = sum(
        any(all(_same(leaky.columns[c][i], members[c][j]) for c in members) for j in range(len(members["x"])))
        for i in range(len(leaky))
        if not all(_same(leaky.columns[c][i], twin.columns[c][i]) for c in members)
    )
    assert copied == round(0.3 * len(twin))  # the drill copies exactly its share of rows
    bad = privacy(members, holdout, leaky.columns, SPEC, exact_copies=copied, limits=limits)
    assert not bad["passed"] and bad["close_share"] > good["close_share"] + 0.1
    assert bad["membership_advantage"] > good["membership_advantage"] and len(bad["problems"]) >= 2


def _same(a, b) -> bool:
    if isinstance(a, float) and isinstance(b, float) and np.isnan(a) and np.isnan(b):
        return True
    return a == b


def test_utility_trains_on_each_side_and_scores_on_real_test_rows():
    real, groups = world(300)
    test, _ = world(150, seed=11)
    twin = sample_twin(real, groups, SPEC, seed=0).columns
    figures = utility(real, twin, test, SPEC, "1", seed=0)
    assert figures["test_rows"] == len(test["x"])
    assert figures["auc_train_on_real"] > 0.75 and figures["auc_train_on_synthetic"] > 0.75
    assert figures["auc_gap"] == pytest.approx(figures["auc_train_on_real"] - figures["auc_train_on_synthetic"])
    flipped = {**twin, "label": np.where(twin["x"] > 0, "0", "1").astype(object)}  # a twin that learnt it backwards
    assert utility(real, flipped, test, SPEC, "1", seed=0)["auc_train_on_synthetic"] < 0.3


# --- the real asset over a generated world -----------------------------------------------------------


@pytest.fixture(scope="module")
def published_world(request):
    """test_splits' published world (3 days x 5,000 events, seed 13), and its first twin."""
    world = request.getfixturevalue("published")
    return {"root": world["root"], "warehouse": world["warehouse"], "first": _twin(world["warehouse"])}


def _twin(warehouse: Warehouse, **config):
    return dg.materialize(
        TWIN_ASSETS,
        resources={"warehouse": warehouse},
        run_config={"ops": {"synthetic__ctr_examples": {"config": config}}},
        raise_on_error=False,
    )


def test_the_twin_is_published_marked_synthetic_and_passes_its_privacy_check(published_world):
    result, warehouse = published_world["first"], published_world["warehouse"]
    assert result.success and checks_by_name(result)["privacy"].passed
    twin_meta = meta(result, "synthetic__ctr_examples")
    assert twin_meta["synthetic"] is True and twin_meta["published"] is True
    path = Path(twin_meta["path"])
    assert path.parent == published_world["root"] / "exports" / "synthetic" / "ctr_examples"
    assert path.name == twin_meta["version"]
    [(real_dir, source_version)] = query(warehouse, "SELECT path, version FROM splits.exports")
    assert twin_meta["source_version"] == source_version
    twin = pd.read_parquet(path / "train.parquet")
    real = pd.read_parquet(Path(real_dir) / "train.parquet")
    assert len(twin) == twin_meta["dagster/row_count"] > 0 and twin["is_synthetic"].all()
    assert pq.read_metadata(path / "train.parquet").metadata[b"synthetic"] == b"true"
    schema = twin_meta["dagster/column_schema"]
    assert [c.name for c in schema.columns] == list(twin.columns) and all(c.description for c in schema.columns)
    assert "synthetic" in next(c.description for c in schema.columns if c.name == "group_key")
    # the real export's columns and types, provenance left out, is_synthetic added
    con = duckdb.connect()
    types = {
        p: dict(con.execute(f"SELECT column_name, column_type FROM (DESCRIBE SELECT * FROM '{p}')").fetchall())
        for p in (path / "train.parquet", Path(real_dir) / "train.parquet")
    }
    twin_types, real_types = types.values()
    assert {c: t for c, t in real_types.items() if c not in ("source_file", "source_line")} == {
        c: t for c, t in twin_types.items() if c != "is_synthetic"
    }
    # no real id, no real row: persons and examples are counters, and no row equals a real one
    assert not set(twin["group_key"]) & set(real["group_key"]) and not set(twin["example_id"]) & set(real["example_id"])
    assert twin["group_key"].str.match(r"^syn-0-p\d+$").all() and twin["example_id"].str.match(r"^syn-0-e\d+$").all()
    modelled = [c for c in twin.columns if c not in ("example_id", "group_key", "is_synthetic")]
    assert len(twin[modelled].merge(real[modelled].drop_duplicates(), how="inner")) == 0
    assert twin.groupby("group_key")[["country", "device"]].nunique(dropna=False).max().max() == 1
    # the card: marked synthetic, the source version, the three kinds of figures
    card = json.loads((path / "card.json").read_text())
    assert card["synthetic"] is True and card["source"]["version"] == source_version
    assert card["counts"]["train"] == len(twin) and card["persons"] == twin["group_key"].nunique()
    assert card["privacy"]["exact_copies"] == 0 and card["privacy"]["passed"]
    assert {r["column"] for r in card["fidelity"]["columns"]} == set(modelled)
    assert 0.6 < card["utility"]["auc_train_on_synthetic"] <= card["utility"]["auc_train_on_real"] + 0.05
    assert (path / "card.md").read_text().startswith("# SYNTHETIC dataset card: synthetic/ctr_examples")
    assert query(warehouse, "SELECT dataset, version, source_version FROM splits.twins") == [
        ("ctr_examples", twin_meta["version"], source_version)
    ]
    # data-platform summary names it, as synthetic
    with duckdb.connect(warehouse.database, read_only=True) as con:
        lines = summary(con, {("splits", "exports"), ("splits", "twins")})
    assert f"synthetic/ctr_examples: version {twin_meta['version']}, {len(twin):,} SYNTHETIC rows" in "\n".join(lines)


def test_the_same_seed_rebuilds_the_same_version_and_writes_nothing(published_world):
    again = _twin(published_world["warehouse"])
    first, second = meta(published_world["first"], "synthetic__ctr_examples"), meta(again, "synthetic__ctr_examples")
    assert second["version"] == first["version"] and second["new_version"] is False
    assert second["privacy"] == first["privacy"] and second["utility"] == first["utility"]


def test_a_leaky_twin_fails_the_blocking_check_and_is_not_published(published_world):
    root = published_world["root"] / "exports" / "synthetic" / "ctr_examples"
    before = sorted(p.name for p in root.iterdir())
    registered = query(published_world["warehouse"], "SELECT count(*) FROM splits.twins")
    result = _twin(published_world["warehouse"], leak_drill_share=0.05)
    check = checks_by_name(result)["privacy"]
    assert not result.success and not check.passed
    assert check.metadata["exact_copies"].value > 0 and "exact copies" in check.metadata["problems"].value
    twin_meta = meta(result, "synthetic__ctr_examples")
    assert twin_meta["published"] is False and "nothing published" in twin_meta["note"]
    assert sorted(p.name for p in root.iterdir()) == before
    assert query(published_world["warehouse"], "SELECT count(*) FROM splits.twins") == registered


def test_on_few_rows_the_limits_widen_to_chance_but_a_copied_row_still_fails():
    real, groups = world(40, seed=21)
    persons = np.unique(groups)
    held = np.isin(groups, persons[::5])
    members = {k: v[~held] for k, v in real.items()}
    holdout = {k: v[held] for k, v in real.items()}
    for seed in range(5):  # a sound twin of a small world passes whatever the seed
        twin = sample_twin(members, groups[~held], SPEC, seed=seed)
        figures = privacy(members, holdout, twin.columns, SPEC, exact_copies=0, limits=PrivacyLimits(), seed=seed)
        n = figures["rows_compared"]
        assert n < 200 and figures["passed"], figures["problems"]
        applied = figures["limits_applied"]
        assert applied["max_membership_advantage"] == pytest.approx(max(0.10, 1.5174 * np.sqrt(2 / n)))
        assert applied["max_close_share"] == pytest.approx(max(0.10, 0.05 + 3 * np.sqrt(0.05 * 0.95 / n)))
    copied = privacy(members, holdout, twin.columns, SPEC, exact_copies=1, limits=PrivacyLimits())
    assert not copied["passed"] and copied["problems"] == ["exact copies of real rows: 1 (max 0)"]
