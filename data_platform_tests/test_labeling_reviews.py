"""The human-labeling round trip run for real: generated logs -> weak labels -> Label Studio tasks ->
simulated raters -> the annotation sensor -> consensus, agreement, the labeled review dataset -> the
next batch with suspected label errors."""

from __future__ import annotations

import datetime as dt
import json

import dagster as dg
import numpy as np
import pytest

from data_platform.cleaning.assets import CLEANING_ASSETS
from data_platform.generator import generate_logs
from data_platform.generator.raters import RaterProfile, simulate_annotations, write_export
from data_platform.generator.simulate import review_truth
from data_platform.ingestion.assets import raw_ingestion
from data_platform.labeling.jobs import annotation_round, annotation_sensor
from data_platform.labeling.review_assets import ANNOTATION_TASKS, REVIEW_LABELING_ASSETS, _stratified_sample
from data_platform.resources import LabelingDesk
from data_platform_tests.conftest import checks_by_name, query


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    """Three generated days, ingested and cleaned once for the module."""
    from data_platform.resources import LandingZone, Warehouse

    root = tmp_path_factory.mktemp("reviews")
    landing = LandingZone(root=str(root / "landing"), settle_seconds=0)
    warehouse = Warehouse(database=str(root / "warehouse.duckdb"), memory_limit="1GB", threads=2)
    desk = LabelingDesk(root=str(root / "labeling"))
    manifest = generate_logs(landing.root, start=dt.date(2026, 11, 2), days=3, events_per_day=12000, seed=11)
    resources = {"warehouse": warehouse, "landing": landing, "labeling": desk}
    result = dg.materialize(
        [raw_ingestion, *CLEANING_ASSETS],
        resources=resources,
        tags={"dagster/asset_partition_range_start": "2026-11-02", "dagster/asset_partition_range_end": "2026-11-05"},
    )
    assert result.success
    return {"resources": resources, "root": root, "manifest": manifest, "warehouse": warehouse, "landing": landing}


def meta(result, key: str) -> dict:
    mat = result.asset_materializations_for_node(f"labels__{key}")[-1]
    return {k: v.value for k, v in mat.metadata.items()}


def truth_of(warehouse) -> dict[str, str | None]:
    return {rid: review_truth(text) for rid, text in query(warehouse, "SELECT review_id, text FROM labels.reviews")}


def test_the_round_trip_from_tasks_to_the_next_batch(world, tmp_path):
    resources, warehouse = world["resources"], world["warehouse"]
    with dg.instance_for_test() as instance:
        first = dg.materialize(REVIEW_LABELING_ASSETS, resources=resources, instance=instance)
        assert first.success
        reviews = query(warehouse, "SELECT count(*) FROM labels.reviews")[0][0]
        assert reviews == query(warehouse, "SELECT count(*) FROM clean.events WHERE event_type = 'review'")[0][0] > 250
        for event in first.get_asset_materialization_events():  # the UI shows every table's columns
            assert "dagster/column_schema" in event.materialization.metadata, event.asset_key
        gold_rows = meta(first, "gold")["dagster/row_count"]
        assert gold_rows > 5

        # Tasks out: a Label Studio import file with the pre-annotation, the config beside it,
        # and the batch recorded with why each item was picked.
        tasks_file = world["root"] / "labeling" / "tasks" / "batch-0001.tasks.json"
        tasks = json.loads(tasks_file.read_text())
        assert (tasks_file.parent / "labeling_config.xml").read_text().count("<Choice ") == 3
        assert len(tasks) == 120 and all(t["predictions"][0]["result"][0]["value"]["choices"] for t in tasks)
        assert not any("selection" in json.dumps(t) for t in tasks)  # raters cannot tell gold items
        picked = dict(query(warehouse, "SELECT selection, count(*) FROM labels.tasks GROUP BY 1"))
        assert picked == {"active": 120 - 30 - picked["gold"], "random": 30, "gold": min(18, gold_rows)}
        # active learning took the most uncertain candidates (entropy of the label model)
        worst_left = query(
            warehouse,
            """
            SELECT max(-(p_negative * ln(greatest(p_negative, 1e-300)) + p_neutral * ln(greatest(p_neutral, 1e-300))
                         + p_positive * ln(greatest(p_positive, 1e-300))))
            FROM labels.weak_labels WHERE review_id NOT IN (SELECT review_id FROM labels.tasks)
              AND review_id NOT IN (SELECT review_id FROM labels.gold)""",
        )[0][0]
        least_taken = query(warehouse, "SELECT min(score) FROM labels.tasks WHERE selection = 'active'")[0][0]
        assert least_taken >= worst_left - 1e-9

        # Annotations in: simulated raters, dropped where the sensor looks.
        write_export(simulate_annotations(tasks, seed=3), world["landing"].root, "batch-0001-export")
        context = dg.build_sensor_context(instance=instance, resources={"landing": world["landing"]})
        request = annotation_sensor(context)
        assert isinstance(request, dg.RunRequest)
        assert "batch-0001-export.json" in request.tags["data_platform/changed_files"]
        again = annotation_sensor(
            dg.build_sensor_context(instance=instance, cursor=context.cursor, resources={"landing": world["landing"]})
        )
        assert isinstance(again, dg.SkipReason)  # nothing new since the cursor

        defs = dg.Definitions(assets=REVIEW_LABELING_ASSETS, jobs=[annotation_round], resources=resources)
        round_ = defs.resolve_job_def("annotation_round").execute_in_process(instance=instance, tags=request.tags)
        assert round_.success
        annotations = query(warehouse, "SELECT status, count(*) FROM labels.annotations GROUP BY 1")
        assert sum(n for _, n in annotations) == 360
        consensus = dict(query(warehouse, "SELECT review_id, label FROM labels.human_consensus"))
        assert len(consensus) == 120
        truth = truth_of(warehouse)
        judged = [r for r in consensus if truth.get(r)]
        human_accuracy = np.mean([consensus[r] == truth[r] for r in judged])
        assert human_accuracy > 0.88  # three raters of a mixed panel, Dawid-Skene consensus
        # the confidence is measured against the gold items raters labeled; too few here to fit on
        calibrated = meta(round_, "human_consensus")
        assert calibrated["calibration_gold_items"] == picked["gold"] < 30
        assert calibrated["confidence_temperature"] == 1.0
        assert "confidence not calibrated" in calibrated["reliability_on_gold"]
        on_gold = meta(round_, "review_examples")["confidence_on_gold"]
        assert "| human_consensus | " + str(picked["gold"]) + " |" in on_gold and "| weak |" in on_gold

        examples = dict(query(warehouse, "SELECT label_source, count(*) FROM labels.review_examples GROUP BY 1"))
        assert examples["gold"] == gold_rows and examples["human_consensus"] == 120 - picked["gold"]
        assert sum(examples.values()) == reviews
        checks = {c.check_name: c for c in round_.get_asset_check_evaluations()}
        assert checks["review_examples_accounted"].passed
        # weak labels were refit on the human labels: more accurate than majority vote on unlabeled reviews
        weak = query(
            warehouse,
            """SELECT w.review_id, w.label, w.mv_label FROM labels.weak_labels w
                                   WHERE w.review_id NOT IN (SELECT review_id FROM labels.human_consensus)""",
        )
        scored = [(truth[r], lab, mv) for r, lab, mv in weak if truth.get(r)]
        model_acc = np.mean([t == lab for t, lab, _ in scored])
        mv_acc = np.mean([t == mv for t, _, mv in scored])
        assert model_acc >= mv_acc and model_acc > 0.8

        # The next batch carries the suspected label errors back to the raters.
        issues = query(warehouse, "SELECT count(*) FROM labels.label_issues")[0][0]
        assert issues > 0  # the careless and the biased raters' mistakes are flagged
        nxt = dg.materialize(
            REVIEW_LABELING_ASSETS, resources=resources, instance=instance, selection=[ANNOTATION_TASKS]
        )
        assert meta(nxt, "annotation_tasks")["batch_id"] == "batch-0002"
        second = dict(
            query(warehouse, "SELECT selection, count(*) FROM labels.tasks WHERE batch_id = 'batch-0002' GROUP BY 1")
        )
        assert second.get("label_error", 0) == min(issues, 30)
        reused = query(
            warehouse,
            """SELECT count(*) FROM labels.tasks t2 JOIN labels.tasks t1 USING (review_id)
                                     WHERE t2.batch_id = 'batch-0002' AND t1.batch_id = 'batch-0001'
                                       AND t2.selection IN ('active', 'random')""",
        )[0][0]
        assert reused == 0  # active and random picks are never sent twice

        # The labeled reviews split by person, with rater agreement per item category.
        from data_platform.splits.assets import SPLIT_ASSETS

        split = dg.materialize([SPLIT_ASSETS[1]], resources=resources, instance=instance)
        checks = {c.check_name: c.passed for c in split.get_asset_check_evaluations()}
        assert checks["no_leakage"] and checks["split_ratios"]
        table = (
            split.asset_materializations_for_node("splits__review_examples")[0]
            .metadata["rater_agreement_by_category"]
            .value
        )
        assert table.startswith("| group | items | pairable_items | alpha |") and table.count("\n") > 3


def test_agreement_check_names_the_careless_rater(world, tmp_path):
    resources = {**world["resources"]}
    with dg.instance_for_test() as instance:
        assert dg.materialize(REVIEW_LABELING_ASSETS, resources=resources, instance=instance).success
        batch = sorted((world["root"] / "labeling" / "tasks").glob("batch-*.tasks.json"))[-1]
        tasks = json.loads(batch.read_text())
        panel = [
            RaterProfile("ann", 0.97, user_id=1),
            RaterProfile("ben", 0.96, user_id=2),
            RaterProfile("cat", 0.95, user_id=3),
            RaterProfile("dan", 0.34, user_id=4, skip_rate=0.0),
        ]
        for old in world["landing"].annotations_dir().glob("*.json"):
            old.unlink()
        write_export(
            simulate_annotations(tasks, panel=panel, raters_per_task=4, seed=5),
            world["landing"].root,
            f"{batch.name.removesuffix('.tasks.json')}-export",
        )
        result = dg.materialize(
            REVIEW_LABELING_ASSETS,
            resources=resources,
            instance=instance,
            selection=["labels/gold", "labels/annotations", "labels/human_consensus"],
            run_config={"ops": {"labels__human_consensus": {"config": {"min_alpha": 0.8}}}},
        )
        check = checks_by_name(result)["rater_agreement"]
        assert not check.passed
        assert check.metadata["raters_pulling_down"].value == "user-4"
        relaxed = dg.materialize(
            REVIEW_LABELING_ASSETS,
            resources=resources,
            instance=instance,
            selection=["labels/human_consensus"],
            run_config={"ops": {"labels__human_consensus": {"config": {"min_alpha": 0.3}}}},
        )
        assert checks_by_name(relaxed)["rater_agreement"].passed


def test_bad_exports_and_gold_rows_are_rejected_with_reasons(world):
    resources = world["resources"]
    annotations_dir = world["landing"].annotations_dir()
    (annotations_dir / "broken-export.json").write_text('[{"id": 1, "data": {"review_id": "r1"}, "annotations": [')
    (annotations_dir / "gold" / "bad-gold.csv").write_text(
        "review_id,label,labeled_by\nnot-a-review,positive,expert\nx,joyful,expert\nonly-two,fields\n"
    )
    try:
        result = dg.materialize(
            REVIEW_LABELING_ASSETS,
            resources=resources,
            selection=["labels/reviews", "labels/gold", "labels/annotations"],
        )
        rejects = dict(query(world["warehouse"], "SELECT reason, count(*) FROM labels.annotation_rejects GROUP BY 1"))
        assert rejects == {"not_json": 1, "unknown_review": 1, "unknown_label": 1, "malformed_row": 1}
        assert meta(result, "gold")["rejected"] == {"malformed_row": 1, "unknown_label": 1, "unknown_review": 1}
    finally:
        (annotations_dir / "broken-export.json").unlink()
        (annotations_dir / "gold" / "bad-gold.csv").unlink()


def test_stratified_sample_is_proportional_and_deterministic():
    pool = [
        {"review_id": f"r{i:03d}", "prediction": p}
        for i, p in enumerate(["positive"] * 60 + ["neutral"] * 30 + ["negative"] * 10)
    ]
    picked = _stratified_sample(pool, 20, np.random.default_rng(1))
    by = {p["review_id"]: p["prediction"] for p in pool}
    counts = {s: sum(by[r] == s for r in picked) for s in ("positive", "neutral", "negative")}
    assert counts == {"positive": 12, "neutral": 6, "negative": 2}
    assert picked == _stratified_sample(pool, 20, np.random.default_rng(1)) and len(set(picked)) == 20


@pytest.mark.slow
def test_the_cli_answers_a_batch_and_ticks_the_sensor_into_a_recorded_run(world, tmp_path):
    """`data-platform annotate` then `data-platform tick annotation_sensor`, as the demo runs them:
    real processes, the project's definitions, a temporary instance."""
    import os
    import shutil
    import subprocess
    import sys
    from pathlib import Path

    from data_platform.resources import PROJECT_ROOT

    resources = world["resources"]
    assert dg.materialize(REVIEW_LABELING_ASSETS, resources=resources).success
    for old in world["landing"].annotations_dir().glob("*.json"):
        old.unlink()
    home = tmp_path / "home"
    home.mkdir()
    shutil.copy(PROJECT_ROOT / "dagster_home" / "dagster.yaml", home / "dagster.yaml")
    env = {
        **os.environ,
        "DAGSTER_HOME": str(home),
        "DATA_PLATFORM_WAREHOUSE": world["warehouse"].database,
        "DATA_PLATFORM_LANDING": world["landing"].root,
        "DATA_PLATFORM_LABELING": resources["labeling"].root,
        "DATA_PLATFORM_SETTLE_SECONDS": "0",
        "DATA_PLATFORM_SENSORS": "stopped",
    }
    cli = str(Path(sys.executable).with_name("data-platform"))
    annotated = subprocess.run([cli, "annotate"], env=env, capture_output=True, text=True, timeout=120)
    assert annotated.returncode == 0, annotated.stderr[-3000:]
    assert "tasks of batch-" in annotated.stdout
    ticked = subprocess.run([cli, "tick", "annotation_sensor"], env=env, capture_output=True, text=True, timeout=300)
    assert ticked.returncode == 0, ticked.stderr[-3000:]
    assert "annotation_sensor -> annotation_round succeeded" in ticked.stdout
    with dg.DagsterInstance.from_config(str(home)) as instance:
        runs = instance.get_runs()
        assert [r.job_name for r in runs] == ["annotation_round"] and runs[0].is_success
        assert "data_platform/changed_files" in runs[0].tags
    assert query(world["warehouse"], "SELECT count(*) FROM labels.annotations")[0][0] > 0
