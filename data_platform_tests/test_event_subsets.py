"""Every job runs on a warehouse that holds only some event types: a day of impressions and clicks
without a single review, and a day of reviews without impressions or clicks. A dataset with no examples
publishes nothing, says so in its metadata, and the run succeeds."""

from __future__ import annotations

import pytest

from data_platform_tests.conftest import event, jobs_world, materializations, query, run_job

CHROME = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 Chrome/131.0 Safari/537.36"
DAY = "2026-11-02"


def _ts(i: int) -> str:
    return f"{DAY}T{10 + i // 60:02d}:{i % 60:02d}:00Z"  # i < 840


def clicks_only() -> list[dict]:
    """Impressions of 200 devices and a click on every third one: no review, login or purchase."""
    lines = []
    for i in range(400):
        device = f"anon-{i % 200}"
        lines.append(
            event(
                f"imp-ev-{i}",
                "impression",
                ts=_ts(i),
                anon_id=device,
                impression_id=f"imp-{i}",
                item_id=f"item-{i % 7}",
                user_agent=CHROME,
                session_id=f"s-{i % 200}",
            )
        )
        if i % 3 == 0:
            lines.append(
                event(
                    f"click-ev-{i}",
                    "click",
                    ts=_ts(i),
                    anon_id=device,
                    impression_id=f"imp-{i}",
                    item_id=f"item-{i % 7}",
                    user_agent=CHROME,
                    session_id=f"s-{i % 200}",
                )
            )
    return lines


def reviews_only() -> list[dict]:
    texts = ["Great quality, arrived fast.", "Broke after two days. Very disappointed.", "It's okay, does the job."]
    return [
        event(
            f"rev-{i}",
            "review",
            ts=_ts(i),
            anon_id=f"anon-{i}",
            item_id=f"item-{i % 5}",
            text=texts[i % 3],
            rating=(5, 1, 3)[i % 3],
            user_agent=CHROME,
        )
        for i in range(30)
    ]


@pytest.mark.parametrize("shape", ["clicks_only", "reviews_only"])
def test_every_job_runs_on_a_subset_of_event_types(tmp_path, monkeypatch, shape):
    defs, warehouse = jobs_world(tmp_path, monkeypatch, clicks_only() if shape == "clicks_only" else reviews_only())
    has, lacks = ("ctr_examples", "review_examples") if shape == "clicks_only" else ("review_examples", "ctr_examples")
    run_job(defs, "daily_pipeline", DAY)
    # publishing before the review labels were ever built: the missing dataset publishes nothing
    first = materializations(run_job(defs, "publish_datasets"))
    run_job(defs, "review_labeling")
    run_job(defs, "relabel_reviews")
    run_job(defs, "annotation_round")
    run_job(defs, "relabel_ctr", DAY)
    published = materializations(run_job(defs, "publish_datasets"))
    run_job(defs, "retraining_check", DAY)

    for meta in (first[f"exports/{lacks}"], published[f"exports/{lacks}"]):
        assert meta["published"].value is False and meta["dagster/row_count"].value == 0
        assert "nothing published" in meta["note"].value
    assert "nothing to split" in published[f"splits/{lacks}"]["note"].value
    assert published[f"exports/{has}"]["published"].value is True
    assert published[f"exports/{has}"]["dagster/row_count"].value > 0
    assert not (tmp_path / "exports" / lacks).exists() or not any((tmp_path / "exports" / lacks).iterdir())
    assert query(warehouse, "SELECT DISTINCT dataset FROM splits.exports") == [(has,)]


def test_summary_says_there_is_no_gold_rather_than_an_accuracy_of_zero(tmp_path, monkeypatch):
    from data_platform.cli.summary import _stage_counts

    defs, warehouse = jobs_world(tmp_path, monkeypatch, clicks_only())
    run_job(defs, "daily_pipeline", DAY)
    run_job(defs, "review_labeling")
    with warehouse.connect() as con:
        lines = _stage_counts(con)
    gold = next(line for line in lines if "accuracy on gold" in line)
    assert gold.strip() == "accuracy on gold: label model: no gold items, human consensus: no gold items"
