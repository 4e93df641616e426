"""Every job runs on a warehouse that holds only some event types: a day of impressions and clicks
without a single review, and a day of reviews without impressions or clicks. A dataset with no examples
publishes nothing, says so in its metadata, and the run succeeds."""

from __future__ import annotations

import dagster as dg
import pytest

from data_platform import definitions
from data_platform.resources import LabelingDesk, LandingZone, Warehouse
from data_platform_tests.conftest import event, query, write_lines

CHROME = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 Chrome/131.0 Safari/537.36"
DAY = "2026-11-02"


def _ts(i: int) -> str:
    return f"{DAY}T{10 + i // 60:02d}:{i % 60:02d}:00Z"  # i < 840


def clicks_only() -> list[dict]:
    """Impressions of 200 devices and a click on every third one: no review, login or purchase."""
    lines = []
    for i in range(400):
        device = f"anon-{i % 200}"
        lines.append(event(f"imp-ev-{i}", "impression", ts=_ts(i), anon_id=device, impression_id=f"imp-{i}",
                           item_id=f"item-{i % 7}", user_agent=CHROME, session_id=f"s-{i % 200}"))
        if i % 3 == 0:
            lines.append(event(f"click-ev-{i}", "click", ts=_ts(i), anon_id=device, impression_id=f"imp-{i}",
                               item_id=f"item-{i % 7}", user_agent=CHROME, session_id=f"s-{i % 200}"))
    return lines


def reviews_only() -> list[dict]:
    texts = ["Great quality, arrived fast.", "Broke after two days. Very disappointed.", "It's okay, does the job."]
    return [event(f"rev-{i}", "review", ts=_ts(i), anon_id=f"anon-{i}", item_id=f"item-{i % 5}",
                  text=texts[i % 3], rating=(5, 1, 3)[i % 3], user_agent=CHROME) for i in range(30)]


def world(tmp_path, monkeypatch, lines):
    monkeypatch.setenv("DATA_PLATFORM_EXPORTS", str(tmp_path / "exports"))
    monkeypatch.setenv("DATA_PLATFORM_REPORTS", str(tmp_path / "reports"))
    landing = LandingZone(root=str(tmp_path / "landing"), settle_seconds=0)
    write_lines(landing.events_dir() / DAY / "part-0.jsonl", lines)
    warehouse = Warehouse(database=str(tmp_path / "warehouse.duckdb"), memory_limit="1GB", threads=2)
    resources = {"warehouse": warehouse, "landing": landing, "labeling": LabelingDesk(root=str(tmp_path / "desk"))}
    defs = dg.Definitions(assets=definitions.defs.assets, asset_checks=definitions.defs.asset_checks,
                          jobs=definitions.defs.jobs, resources=resources, executor=dg.in_process_executor)
    return defs, warehouse


def run(defs, job, partition=None):
    result = defs.resolve_job_def(job).execute_in_process(partition_key=partition, raise_on_error=False)
    failed = [e.message for e in result.all_events if e.is_failure]
    assert result.success, failed
    return result


def materializations(result) -> dict[str, dict]:
    """asset path -> metadata of its materialization in the run."""
    return {"/".join(e.asset_key.path): e.materialization.metadata for e in result.get_asset_materialization_events()}


@pytest.mark.parametrize("shape", ["clicks_only", "reviews_only"])
def test_every_job_runs_on_a_subset_of_event_types(tmp_path, monkeypatch, shape):
    defs, warehouse = world(tmp_path, monkeypatch, clicks_only() if shape == "clicks_only" else reviews_only())
    has, lacks = ("ctr_examples", "review_examples") if shape == "clicks_only" else ("review_examples", "ctr_examples")
    run(defs, "daily_pipeline", DAY)
    # publishing before the review labels were ever built: the missing dataset publishes nothing
    first = materializations(run(defs, "publish_datasets"))
    run(defs, "review_labeling")
    run(defs, "relabel_reviews")
    published = materializations(run(defs, "publish_datasets"))

    for meta in (first[f"exports/{lacks}"], published[f"exports/{lacks}"]):
        assert meta["published"].value is False and meta["dagster/row_count"].value == 0
        assert "nothing published" in meta["note"].value
    assert "nothing to split" in published[f"splits/{lacks}"]["note"].value
    assert published[f"exports/{has}"]["published"].value is True
    assert published[f"exports/{has}"]["dagster/row_count"].value > 0
    assert not (tmp_path / "exports" / lacks).exists() or not any((tmp_path / "exports" / lacks).iterdir())
    assert query(warehouse, "SELECT DISTINCT dataset FROM splits.exports") == [(has,)]


def test_summary_says_there_is_no_gold_rather_than_an_accuracy_of_zero(tmp_path, monkeypatch):
    from data_platform.cli import _stage_counts

    defs, warehouse = world(tmp_path, monkeypatch, clicks_only())
    run(defs, "daily_pipeline", DAY)
    run(defs, "review_labeling")
    with warehouse.connect() as con:
        lines = _stage_counts(con)
    gold = next(line for line in lines if "accuracy on gold" in line)
    assert gold.strip() == "accuracy on gold: label model: no gold items, human consensus: no gold items"
