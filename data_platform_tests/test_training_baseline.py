"""The baseline models run for real: generated logs -> labels -> published versions -> training/model_runs
(through the project's own jobs, in process). The metrics are checked against independent
implementations, the figures are reproducible, version N+1 is compared with N on the test persons both
hold, the learning curve's subsets are nested by person, and the retraining trigger starts a retrain."""

from __future__ import annotations

import json
import math
from pathlib import Path

import dagster as dg
import duckdb
import numpy as np
import polars as pl
import pytest
from scipy.stats import mannwhitneyu
from sklearn.metrics import accuracy_score, f1_score, log_loss, recall_score, roc_auc_score

from data_platform.base.keys import MODEL_RUNS
from data_platform.flywheel.assets import TRIGGERS
from data_platform.training.assets import RETRAIN_JOBS, baseline_sensor
from data_platform.training.baseline import CLICKS, REVIEWS, read_split, verdict
from data_platform_tests.conftest import generated_world, project_jobs, query

DAYS = ("2026-11-02", "2026-11-03", "2026-11-04")


def _range(first: str, last: str) -> dict:
    return {"dagster/asset_partition_range_start": first, "dagster/asset_partition_range_end": last}


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    """Three generated days. Both datasets published over the first two by ``publish_datasets`` (version N,
    trained). Then the third day is processed, a retraining trigger is recorded for each dataset, and the
    baseline sensor's ``retrain_<dataset>`` runs publish version N+1 and train it against N."""
    root = tmp_path_factory.mktemp("training")
    mp = pytest.MonkeyPatch()
    landing, warehouse, _ = generated_world(root, days=3, events_per_day=8000, seed=31)
    defs, resources = project_jobs(root, mp, landing, warehouse)
    with dg.instance_for_test() as instance:

        def run(job: str, tags=None, run_config=None):
            result = defs.resolve_job_def(job).execute_in_process(
                instance=instance, tags=tags or {}, run_config=run_config, raise_on_error=False
            )
            assert result.success, [e.message for e in result.all_events if e.is_failure]
            return result

        run("daily_pipeline", _range(DAYS[0], DAYS[1]))
        run("review_labeling")
        first = run("publish_datasets")
        run("daily_pipeline", _range(DAYS[2], "2026-11-05"))
        run("review_labeling")
        for dataset, key in TRIGGERS.items():
            instance.report_runless_asset_event(
                dg.AssetMaterialization(key, description="refresh recommended", metadata={"version": dataset})
            )
        sensed = baseline_sensor(dg.build_sensor_context(instance=instance))
        retrained = {r.job_name: run(r.job_name, r.tags) for r in sensed.run_requests}
        again = baseline_sensor(dg.build_sensor_context(instance=instance, cursor=sensed.cursor))
        yield {
            "root": root,
            "warehouse": warehouse,
            "resources": resources,
            "instance": instance,
            "run": run,
            "first": first,
            "sensed": sensed,
            "retrained": retrained,
            "again": again,
        }
    mp.undo()


def _meta(result, key=MODEL_RUNS) -> dict:
    (event,) = [e for e in result.get_asset_materialization_events() if e.asset_key == key]
    return {k: v.value for k, v in event.materialization.metadata.items()}


def _versions(world, dataset: str) -> list[tuple[str, str]]:
    return query(
        world["warehouse"],
        "SELECT version, path FROM splits.exports WHERE dataset = ? ORDER BY created_at",
        [dataset],
    )


def _figures(world, dataset, version, model="baseline", split="test", fraction=1.0) -> dict:
    return {
        (metric, segment): value
        for metric, segment, value in query(
            world["warehouse"],
            "SELECT metric, segment, value FROM training.model_runs WHERE dataset = ? AND version = ? AND model = ? "
            "AND split = ? AND coalesce(train_fraction, 1) = ?",
            [dataset, version, model, split, fraction],
        )
    }


def test_every_published_version_gets_its_baseline_in_the_table_the_metadata_and_the_card(world):
    for dataset in ("ctr_examples", "review_examples"):
        versions = _versions(world, dataset)
        assert len(versions) == 2 and versions[0][0] != versions[1][0]
        for version, path in versions:
            figures = _figures(world, dataset, version)
            card = json.loads((Path(path) / "card.json").read_text())
            assert card["baseline"]["version"] == version
            assert "## Baseline model" in (Path(path) / "card.md").read_text()
            if dataset == "ctr_examples":
                assert 0.5 < figures[("auc", "all")] < 1 and 0 < figures[("normalized_entropy", "all")] < 1.05
                assert any(s.startswith("category=") for _, s in figures)
                serving = _figures(world, dataset, version, model="serving")
                assert set(serving) == set(figures)  # the serving model scored on the same rows, same figures
            else:
                assert figures[("macro_f1", "all")] > 0.34  # better than one class for everything
                assert {s for _, s in figures} >= {"class=negative", "class=neutral", "class=positive"}
    first = _meta(world["first"])
    assert len(first["versions_trained"]) == 2 and "Learning curve" in first["ctr_examples"]
    second = _meta(world["retrained"]["retrain_ctr_examples"])
    assert second["versions_trained"] == [f"ctr_examples {_versions(world, 'ctr_examples')[1][0]}"]
    assert "Did the new version help?" in second["ctr_examples"]
    checks = {c.check_name: c.passed for c in world["retrained"]["retrain_ctr_examples"].get_asset_check_evaluations()}
    assert checks["pandera_contract"] and checks["pandera_version_comparisons"]


def test_a_retraining_trigger_publishes_and_trains_a_new_version_once(world):
    requests = world["sensed"].run_requests
    assert sorted(r.job_name for r in requests) == [f"retrain_{d}" for d in sorted(TRIGGERS)]
    assert set(world["retrained"]) == set([j.name for j in RETRAIN_JOBS.values()])
    for dataset in TRIGGERS:
        (old, _), (new, _) = _versions(world, dataset)
        # the run published a new version with the third day and trained it against the one it replaced
        assert query(
            world["warehouse"],
            "SELECT DISTINCT previous_version FROM training.version_comparisons WHERE dataset = ? AND version = ?",
            [dataset, new],
        ) == [(old,)]
    assert isinstance(world["again"], dg.SkipReason)  # each trigger event starts one retrain


def _files(path: str, split: str) -> str:
    return str(Path(path) / f"{split}.parquet")


def test_click_figures_equal_independent_computations_on_the_exported_rows(world):
    version, path = _versions(world, "ctr_examples")[-1]
    con = duckdb.connect()
    y, p, category = (
        np.asarray(c)
        for c in zip(
            *con.execute(
                "SELECT label, predicted_ctr, category FROM read_parquet(?)", [_files(path, "test")]
            ).fetchall()
        )
    )
    y, p = y.astype(int), p.astype(float)
    serving = _figures(world, "ctr_examples", version, model="serving")
    u = mannwhitneyu(p[y == 1], p[y == 0]).statistic
    assert serving[("auc", "all")] == pytest.approx(u / ((y == 1).sum() * (y == 0).sum()), abs=1e-12)
    assert serving[("log_loss", "all")] == pytest.approx(log_loss(y, p), abs=1e-12)
    ctr = y.mean()
    entropy = -(ctr * math.log(ctr) + (1 - ctr) * math.log(1 - ctr))
    assert serving[("normalized_entropy", "all")] == pytest.approx(log_loss(y, p) / entropy, abs=1e-12)
    assert serving[("calibration", "all")] == pytest.approx(y.sum() / p.sum(), abs=1e-12)
    books = category == "books"
    assert serving[("calibration", "category=books")] == pytest.approx(y[books].sum() / p[books].sum(), abs=1e-12)
    # the baseline's figures are its predictions scored the same way
    spec_rows = read_split(con, CLICKS, Path(path), "train")
    model = CLICKS.fit(spec_rows, spec_rows["label"].to_numpy(), 0)
    test = read_split(con, CLICKS, Path(path), "test")
    predicted = CLICKS.predict(model, test)
    baseline = _figures(world, "ctr_examples", version)
    assert baseline[("auc", "all")] == pytest.approx(roc_auc_score(test["label"].to_numpy(), predicted), abs=1e-12)
    assert baseline[("log_loss", "all")] == pytest.approx(log_loss(test["label"].to_numpy(), predicted), abs=1e-12)


def test_review_figures_equal_sklearns(world):
    version, path = _versions(world, "review_examples")[-1]
    con = duckdb.connect()
    train, test = (read_split(con, REVIEWS, Path(path), s) for s in ("train", "test"))
    model = REVIEWS.fit(train, train["label"].to_numpy(), 0)
    y, predicted = test["label"].to_numpy().astype(str), REVIEWS.predict(model, test)
    figures = _figures(world, "review_examples", version)
    labels = ["negative", "neutral", "positive"]
    assert figures[("macro_f1", "all")] == pytest.approx(
        f1_score(y, predicted, labels=labels, average="macro", zero_division=0), abs=1e-12
    )
    assert figures[("accuracy", "all")] == pytest.approx(accuracy_score(y, predicted), abs=1e-12)
    recalls = recall_score(y, predicted, labels=labels, average=None, zero_division=0)
    for label, value in zip(labels, recalls):
        if (y == label).any():
            assert figures[("recall", f"class={label}")] == pytest.approx(value, abs=1e-12)


def test_two_runs_give_the_same_figures(world):
    before = query(world["warehouse"], "SELECT * EXCLUDE (trained_at, run_id) FROM training.model_runs ORDER BY ALL")
    compared = query(world["warehouse"], "SELECT * EXCLUDE (run_id) FROM training.version_comparisons ORDER BY ALL")
    con = duckdb.connect(world["warehouse"].database)
    con.execute("DELETE FROM training.model_runs; DELETE FROM training.version_comparisons")
    con.close()
    world["run"]("publish_datasets")  # nothing new to publish: every version is trained again from its files
    assert (
        query(world["warehouse"], "SELECT * EXCLUDE (trained_at, run_id) FROM training.model_runs ORDER BY ALL")
        == before
    )
    assert (
        query(world["warehouse"], "SELECT * EXCLUDE (run_id) FROM training.version_comparisons ORDER BY ALL")
        == compared
    )


def test_version_n_plus_1_against_n_on_the_test_persons_of_both(world):
    (old, old_path), (new, new_path) = _versions(world, "ctr_examples")
    con = duckdb.connect()
    persons = lambda path: {  # noqa: E731
        r[0]
        for r in con.execute(
            "SELECT coalesce(group_key, example_id) FROM read_parquet(?)", [_files(path, "test")]
        ).fetchall()
    }
    shared = persons(old_path) & persons(new_path)
    rows = con.execute(
        "SELECT count(*) FROM read_parquet(?) WHERE coalesce(group_key, example_id) IN (SELECT unnest(?))",
        [_files(new_path, "test"), sorted(shared)],
    ).fetchone()[0]
    compared = {
        r[0]: r[1:]
        for r in query(
            world["warehouse"],
            "SELECT metric, persons, examples, previous_value, new_value, delta, ci_low, ci_high, verdict "
            "FROM training.version_comparisons WHERE dataset = 'ctr_examples' AND version = ?",
            [new],
        )
    }
    assert set(compared) == {"auc", "log_loss", "normalized_entropy"}
    n_persons, n_rows, previous, current, delta, low, high, said = compared["auc"]
    assert (n_persons, n_rows) == (len(shared), rows) and 0 < n_persons
    # both models scored on the same rows, by sklearn: the previous model refitted on the previous train
    shared_rows = read_split(con, CLICKS, Path(new_path), "test").filter(pl.col("person").is_in(sorted(shared)))
    fitted = {}
    for name, path in (("old", old_path), ("new", new_path)):
        train = read_split(con, CLICKS, Path(path), "train")
        fitted[name] = roc_auc_score(
            shared_rows["label"].to_numpy(),
            CLICKS.predict(CLICKS.fit(train, train["label"].to_numpy(), 0), shared_rows),
        )
    assert (previous, current) == pytest.approx((fitted["old"], fitted["new"]), abs=1e-12)
    assert delta == pytest.approx(current - previous) and low <= delta <= high
    assert said == verdict(low, high, lower_is_better=False)
    card = (Path(new_path) / "card.md").read_text()
    assert (
        f"Against the previous version {old}" in card and f"({delta:+.4f}, [{low:+.4f}, {high:+.4f}]): {said}" in card
    )


def test_the_learning_curve_trains_on_nested_subsets_of_persons(world):
    version, path = _versions(world, "ctr_examples")[-1]
    train = read_split(duckdb.connect(), CLICKS, Path(path), "train")
    subsets = {}
    for fraction in (0.25, 0.5, 1.0):
        chosen = train.filter(train["person_bucket"] < fraction) if fraction < 1 else train
        subsets[fraction] = set(chosen["person"])
        # a person is wholly in or wholly out
        assert set(train.filter(train["person"].is_in(sorted(subsets[fraction])))["example_id"]) == set(
            chosen["example_id"]
        )
        (examples, persons), *_ = query(
            world["warehouse"],
            "SELECT DISTINCT train_examples, train_persons FROM training.model_runs WHERE dataset = 'ctr_examples' "
            "AND version = ? AND model = 'baseline' AND train_fraction = ?",
            [version, fraction],
        )
        assert (examples, persons) == (chosen.height, len(subsets[fraction]))
    assert subsets[0.25] < subsets[0.5] < subsets[1.0]


def test_the_status_summary_prints_the_baseline(world):
    from data_platform.catalog import summary_lines

    con = duckdb.connect(world["warehouse"].database, read_only=True)
    lines = [line for line in summary_lines(con) if line.startswith("training/")]
    con.close()
    (new, _), (old, _) = reversed(_versions(world, "ctr_examples"))
    (ctr,) = [line for line in lines if line.startswith("training/ctr_examples")]
    assert f"baseline on {new} test: auc 0." in ctr and "(serving 0." in ctr and f"vs {old}: auc " in ctr


def test_the_labeling_guard_reads_the_measured_learning_curve(world):
    from data_platform.labeling.plan_assets import labeling_plan
    from data_platform.labeling.planner import useful_growth

    result = dg.materialize([labeling_plan], resources=world["resources"], instance=world["instance"])
    meta = _meta(result, dg.AssetKey(["labels", "labeling_plan"]))
    version = _versions(world, "review_examples")[-1][0]
    curve = [
        {"train_examples": n, "score": v}
        for n, v in query(
            world["warehouse"],
            "SELECT train_examples, value FROM training.model_runs WHERE dataset = 'review_examples' AND version = ? "
            "AND model = 'baseline' AND split = 'dev' AND metric = 'macro_f1' AND value IS NOT NULL "
            "ORDER BY train_fraction",
            [version],
        )
    ]
    limit = min(10.0, useful_growth(curve, 0.005)["useful_growth"])
    assert meta["growth_limit"].startswith(
        f"{limit:.1f}x, measured: the review baseline's learning curve on version {version}"
    )
    (check,) = result.get_asset_check_evaluations()
    assert check.metadata["growth_limit"].value == round(limit, 2)
