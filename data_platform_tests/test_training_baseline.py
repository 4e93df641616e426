"""The baseline models run for real: generated logs -> labels -> published versions -> training/model_runs
(through the project's own jobs, in process). The metrics are checked against independent
implementations, the figures are reproducible, version N+1 is compared with N on the test persons both
hold, the learning curve's subsets are nested by person, and the retraining trigger starts a retrain."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import dagster as dg
import pytest

from data_platform import definitions
from data_platform.base.keys import MODEL_RUNS
from data_platform.generator import generate_logs
from data_platform.resources import LabelingDesk, LandingZone, Warehouse
from data_platform_tests.conftest import query

DAYS = ("2026-11-02", "2026-11-03", "2026-11-04")


def _range(first: str, last: str) -> dict:
    return {"dagster/asset_partition_range_start": first, "dagster/asset_partition_range_end": last}


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    """Three generated days; both datasets published over the first two (version N, trained), then the
    third day processed and both republished (version N+1, trained and compared with N)."""
    root = tmp_path_factory.mktemp("training")
    mp = pytest.MonkeyPatch()
    mp.setenv("DATA_PLATFORM_EXPORTS", str(root / "exports"))
    mp.setenv("DATA_PLATFORM_REPORTS", str(root / "reports"))
    landing = LandingZone(root=str(root / "landing"), settle_seconds=0)
    warehouse = Warehouse(database=str(root / "warehouse.duckdb"), memory_limit="1GB", threads=2)
    resources = {"warehouse": warehouse, "landing": landing, "labeling": LabelingDesk(root=str(root / "desk"))}
    defs = dg.Definitions(
        assets=definitions.defs.assets,
        asset_checks=definitions.defs.asset_checks,
        jobs=definitions.defs.jobs,
        resources=resources,
        executor=dg.in_process_executor,
    )
    generate_logs(landing.root, start=dt.date(2026, 11, 2), days=3, events_per_day=8000, seed=31)
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
        second = run("publish_datasets")
        yield {
            "root": root,
            "warehouse": warehouse,
            "defs": defs,
            "instance": instance,
            "run": run,
            "first": first,
            "second": second,
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
    first, second = _meta(world["first"]), _meta(world["second"])
    assert len(first["versions_trained"]) == 2 and len(second["versions_trained"]) == 2
    assert "Learning curve" in second["ctr_examples"] and "Did the new version help?" in second["ctr_examples"]
    checks = {c.check_name: c.passed for c in world["second"].get_asset_check_evaluations()}
    assert checks["pandera_contract"] and checks["pandera_version_comparisons"]
