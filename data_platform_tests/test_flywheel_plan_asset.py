"""labels/labeling_plan and `data-platform plan-labeling` over real annotations: measured rater
quality and throughput flow into the plan, progress and spend are counted, and the step-size guard
warns above 10x."""

from __future__ import annotations

import random

import dagster as dg
import duckdb
import pytest

from data_platform import cli
from data_platform.generator.raters import simulate_annotations, write_export
from data_platform.generator.simulate import REVIEW_TEXTS
from data_platform.labeling import SENTIMENTS
from data_platform.labeling.label_studio import build_tasks
from data_platform.labeling.plan_assets import labeling_plan
from data_platform.labeling.registry import load_registry
from data_platform.labeling.review_assets import annotations, gold, human_consensus
from data_platform.resources import LandingZone, Warehouse, run_sql


@pytest.fixture
def annotated(tmp_path):
    """120 tasks answered by the simulated panel (3 raters each), read by the annotation assets."""
    rng = random.Random(3)
    rows = [
        {
            "task_id": i,
            "review_id": f"r{i:03d}",
            "batch_id": "batch-0001",
            "text": rng.choice(REVIEW_TEXTS[SENTIMENTS[i % 3]]),
            "item_id": "i",
            "category": "books",
            "predicted_label": None,
            "predicted_score": 0.0,
        }
        for i in range(120)
    ]
    export = simulate_annotations(build_tasks(rows, "m"), raters_per_task=3, seed=4)
    landing = LandingZone(root=str(tmp_path / "landing"), settle_seconds=0)
    write_export(export, landing.root, "batch-0001-export")
    warehouse = Warehouse(database=str(tmp_path / "warehouse.duckdb"), memory_limit="1GB", threads=1)
    con = duckdb.connect(warehouse.database)
    run_sql(con, "labeling/create_review_tables.sql")
    con.execute("CREATE TABLE labels.reviews (review_id VARCHAR)")
    con.close()
    resources = {"warehouse": warehouse, "landing": landing}
    assert dg.materialize([gold, annotations, human_consensus], resources=resources).success
    return {"resources": resources, "export": export, "tmp": tmp_path}


def _plan(resources, **config):
    result = dg.materialize(
        [labeling_plan], resources=resources, run_config={"ops": {"labels__labeling_plan": {"config": config}}}
    )
    assert result.success
    meta = {k: v.value for k, v in result.asset_materializations_for_node("labels__labeling_plan")[0].metadata.items()}
    (check,) = result.get_asset_check_evaluations()
    return meta, check


def test_the_plan_asset_joins_measurements_and_guards_the_step(annotated):
    meta, check = _plan(annotated["resources"])
    # the plan's page lists its rows' columns, each described
    columns = meta["dagster/column_schema"].columns
    assert {c.name for c in columns} >= {"pools", "votes_per_example", "cost", "binding"}
    assert [c.name for c in columns if not c.description] == [] and meta["dagster/row_count"] > 0
    progress = meta["progress"]
    assert progress["labeled_reviews"] == 120
    assert sum(progress["annotations"].values()) == 360
    costs = {r.id: r.cost_per_label for r in load_registry()}
    expected_spend = sum(costs[f"user-{a['completed_by']}"] for t in annotated["export"] for a in t["annotations"])
    assert progress["spent_eur"] == pytest.approx(expected_spend, abs=0.01)
    assert progress["unregistered_raters"] == []
    assert "measured (" in meta["raters"]  # throughput from the annotation timings
    recommended = meta["recommended"]
    assert recommended["expected_accuracy"] >= 0.95 and recommended["examples"] > 1200
    # 120 labeled now, the plan adds > 1,200: more than 10x in one step -> the WARN check fails
    assert not check.passed and check.severity == dg.AssetCheckSeverity.WARN
    assert check.metadata["growth"].value > 10

    meta, check = _plan(annotated["resources"], days=1.0, budget_eur=50.0)
    assert check.passed and meta["recommended"]["examples"] <= 120 * 9
    _, check = _plan(annotated["resources"], max_growth=1000.0)
    assert check.passed  # the guard is configurable


def test_the_cli_plans_both_ways(annotated, monkeypatch, capsys):
    monkeypatch.setenv("DATA_PLATFORM_WAREHOUSE", annotated["resources"]["warehouse"].database)
    monkeypatch.setenv("DATA_PLATFORM_LANDING", annotated["resources"]["landing"].root)
    assert cli.main(["plan-labeling", "--days", "5", "--budget", "200", "--pool", "in_house,outsourced"]) == 0
    out = capsys.readouterr().out
    assert "labeling plan for 5 days, EUR 200.00" in out
    lines = [line.split() for line in out.splitlines()]
    in_house = next(line for line in lines if line and line[0] == "in_house")
    assert float(in_house[9]) <= 200.0 and in_house[10] in ("budget", "time")
    assert "progress: 120 reviews labeled" in out and "measured (" in out
    assert cli.main(["plan-labeling", "--examples", "1000", "--pool", "crowd"]) == 0
    out = capsys.readouterr().out
    crowd = next(line.split() for line in out.splitlines() if line.strip().startswith("crowd"))
    assert crowd[7] == "1,000" and crowd[10] == "examples"
    assert cli.main(["plan-labeling", "--days", "5"]) == 2  # days without a budget
