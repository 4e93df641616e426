"""Invalidate for real: a bad client version is declared, every downstream table and the published
datasets are rebuilt through Dagster jobs, nothing traces to the input afterwards, and the audit says so."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import dagster as dg
import duckdb
import pytest

from data_platform import definitions
from data_platform.cleaning.assets import spam_rule_quality
from data_platform.generator import generate_logs
from data_platform.provenance.assets import invalidations
from data_platform.provenance.invalidate import run_invalidation
from data_platform.resources import LabelingDesk, LandingZone, Warehouse
from data_platform_tests.conftest import query


@pytest.fixture
def world(tmp_path, monkeypatch):
    monkeypatch.setenv("DATA_PLATFORM_EXPORTS", str(tmp_path / "exports"))
    monkeypatch.setenv("DATA_PLATFORM_REPORTS", str(tmp_path / "reports"))
    landing = LandingZone(root=str(tmp_path / "landing"), settle_seconds=0)
    warehouse = Warehouse(database=str(tmp_path / "warehouse.duckdb"), memory_limit="1GB", threads=2)
    resources = {"warehouse": warehouse, "landing": landing, "labeling": LabelingDesk(root=str(tmp_path / "desk"))}
    defs = dg.Definitions(
        assets=definitions.defs.assets,
        asset_checks=definitions.defs.asset_checks,
        jobs=[
            definitions.daily_pipeline,
            definitions.review_labeling,
            definitions.relabel_reviews,
            definitions.publish_datasets,
        ],
        resources=resources,
        executor=dg.in_process_executor,
    )
    launched = []

    def launch(args: list[str]) -> int:
        launched.append(args)
        job = args[args.index("--job") + 1]
        tags = {}
        if "--partition-range" in args:
            first, last = args[args.index("--partition-range") + 1].split("...")
            tags = {"dagster/asset_partition_range_start": first, "dagster/asset_partition_range_end": last}
        return 0 if defs.resolve_job_def(job).execute_in_process(tags=tags, raise_on_error=False).success else 1

    generate_logs(
        landing.root,
        start=dt.date(2026, 11, 1),
        days=2,
        events_per_day=4000,
        seed=23,
        incidents=["cents_prices@2026-11-02"],
    )
    assert launch(["--job", "daily_pipeline", "--partition-range", "2026-11-01...2026-11-03"]) == 0
    assert launch(["--job", "review_labeling"]) == 0
    assert launch(["--job", "publish_datasets"]) == 0
    return {"warehouse": warehouse, "launch": launch, "launched": launched, "tmp": tmp_path, "resources": resources}


def q(world, sql):
    return query(world["warehouse"], sql)


def test_a_bad_client_version_leaves_every_table_and_the_exports_are_republished(world, monkeypatch, capsys):
    bad = q(world, "SELECT count(*) FROM clean.events WHERE app_version = '3.2.0'")[0][0]
    assert bad > 100
    old_ctr = Path(q(world, "SELECT path FROM splits.exports WHERE dataset = 'ctr_examples'")[0][0])

    result = run_invalidation(
        lambda read_only: duckdb.connect(world["warehouse"].database, read_only=read_only),
        "app_version",
        "3.2.0",
        "client 3.2.0 sends prices in cents",
        "tester",
        world["launch"],
        dt.date(2026, 11, 1),
    )

    assert result["remaining"] == {}
    assert [a[1] for a in world["launched"][-3:]] == ["daily_pipeline", "relabel_reviews", "publish_datasets"]
    assert q(world, "SELECT count(DISTINCT batch_id) FROM labels.tasks") == [(1,)]  # no new batch for raters
    assert q(world, "SELECT count(*) FROM clean.events WHERE app_version = '3.2.0'") == [(0,)]
    assert (
        q(
            world,
            "SELECT count(*) FROM clean.filtered_events WHERE kind = 'invalidated' AND rule_id = 'invalidation' "
            "AND rule_version = 1",
        )[0][0]
        == bad
    )
    # raw keeps the evidence; clean, labels and splits have nothing of it; the new export neither
    assert result["before"]["clean.events"] == bad and result["after"]["clean.events"] == 0
    assert result["after"]["raw.events"] == result["before"]["raw.events"] > 0
    assert result["before"]["labels.ctr_examples"] > 0 and result["after"]["labels.ctr_examples"] == 0
    new_ctr = Path(
        q(world, "SELECT path FROM splits.exports WHERE dataset = 'ctr_examples' ORDER BY created_at DESC LIMIT 1")[0][
            0
        ]
    )
    assert new_ctr != old_ctr
    leftover = q(
        world,
        f"SELECT count(*) FROM read_parquet(['{new_ctr}/train.parquet', '{new_ctr}/dev.parquet', "
        f"'{new_ctr}/test.parquet']) WHERE example_id IN (SELECT impression_id FROM raw.events "
        "WHERE app_version = '3.2.0' AND event_type = 'impression')",
    )[0][0]
    was = q(
        world,
        f"SELECT count(*) FROM read_parquet(['{old_ctr}/train.parquet', '{old_ctr}/dev.parquet', "
        f"'{old_ctr}/test.parquet']) WHERE example_id IN (SELECT impression_id FROM raw.events "
        "WHERE app_version = '3.2.0' AND event_type = 'impression')",
    )[0][0]
    assert was > 0
    assert leftover == 0
    card = json.loads((old_ctr / "card.json").read_text())
    assert card["superseded_by"]["version"] == new_ctr.name and card["superseded_by"]["invalidation_id"] == 1
    # the audit, in the warehouse and in the UI asset
    assert q(world, "SELECT status, who, reason FROM provenance.invalidations") == [
        ("applied", "tester", "client 3.2.0 sends prices in cents")
    ]
    audit = dict(q(world, "SELECT table_name, rows_after FROM provenance.invalidation_audit"))
    assert audit["clean.events"] == 0 and audit["raw.events"] > 0
    ui = dg.materialize([invalidations], resources={"warehouse": world["warehouse"]})
    assert {c.check_name: c.passed for c in ui.get_asset_check_evaluations()} == {"invalidated_inputs_gone": True}
    # `impact` says what its numbers are and which export version is the current one
    from data_platform import cli

    monkeypatch.setenv("DATA_PLATFORM_WAREHOUSE", world["warehouse"].database)
    capsys.readouterr()
    assert cli.main(["impact", "--app-version", "3.2.0"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "rows holding data from app version '3.2.0', per table and per published export version:"
    assert lines[1].split() == ["table", "/", "export", "version", "rows"]
    [old_line] = [line for line in lines if f"export ctr_examples {old_ctr.name} " in line]
    [new_line] = [line for line in lines if f"export ctr_examples {new_ctr.name} " in line]
    assert old_line.endswith(f"(superseded by {new_ctr.name})")
    assert new_line.endswith("(current)") and " 0  " in new_line
    assert f" {result['before']['raw.events']:,}" in next(line for line in lines if "raw.events" in line)


def test_every_column_of_every_table_the_pipeline_builds_is_described(world):
    """What each materialization reports as its columns (tables built with CREATE TABLE AS included)
    carries a description for every column: walk the warehouse after every stage ran."""
    from data_platform.metadata import table_schema_of

    with duckdb.connect(world["warehouse"].database, read_only=True) as con:
        tables = [
            t
            for (t,) in con.execute(
                "SELECT DISTINCT schema_name || '.' || table_name FROM duckdb_columns() WHERE NOT internal ORDER BY 1"
            ).fetchall()
        ]
        undescribed = {t: [c.name for c in table_schema_of(con, t).columns if not c.description] for t in tables}
    assert {"splits.ctr_examples", "labels.weak_labels", "labels.human_consensus"} <= set(tables)
    assert {t: cols for t, cols in undescribed.items() if cols} == {}


def test_a_voided_rule_version_gives_its_events_back(world):
    """The demo's story, on generated data: version 1 of the campaign rule removes the spam and the genuine
    reviews that cite the shop's help pages; invalidated, it gives the genuine ones back, version 2 removes
    the spam again, and no spam reaches the labels or the published reviews."""
    manifest = json.loads(next((world["tmp"] / "landing" / "events").glob("manifest-*.json")).read_text())
    spam = manifest["reviews"]["spam_event_ids"]
    days = {"start_day": dt.date(2026, 11, 1), "end_day": dt.date(2026, 11, 4)}

    def quality():
        with duckdb.connect(world["warehouse"].database, read_only=True) as con:
            return spam_rule_quality(con, days, spam)

    before = quality()
    genuine = q(
        world,
        "SELECT r.event_id, r.text FROM clean.filtered_events f JOIN raw.events r USING (event_id) "
        "WHERE f.rule_id = 'repeated_review_with_link' AND f.rule_version = 1 "
        f"AND f.event_id NOT IN (SELECT unnest({spam!r}::VARCHAR[]))",
    )
    assert genuine and all("example-shop.com/" in text for _, text in genuine)
    assert before["repeated_review_with_link@1"]["recall"] >= 0.95 > before["repeated_review_with_link@1"]["precision"]

    result = run_invalidation(
        lambda read_only: duckdb.connect(world["warehouse"].database, read_only=read_only),
        "rule",
        "repeated_review_with_link@1",
        "it flagged reviews linking to our own help pages",
        "tester",
        world["launch"],
        dt.date(2026, 11, 1),
    )
    assert result["remaining"] == {}
    assert q(
        world,
        "SELECT count(*) FROM clean.filtered_events WHERE rule_id = 'repeated_review_with_link' AND rule_version = 1",
    ) == [(0,)]
    # the genuine reviews it had removed are clean again and labelled again; the spam is removed by version 2
    assert result["after"]["clean.events"] == len(genuine) < result["before"]["clean.filtered_events"]
    assert result["after"]["labels.review_examples"] == len(genuine)
    after = quality()
    for rule in ("repeated_review_with_link@2", "all rules"):
        assert after[rule]["precision"] >= 0.99 and after[rule]["recall"] >= 0.95, (rule, after[rule])
    labeled = {r[0] for r in q(world, "SELECT review_id FROM labels.review_examples")}
    assert labeled and not labeled & set(spam)
    path = q(
        world, "SELECT path FROM splits.exports WHERE dataset = 'review_examples' ORDER BY created_at DESC LIMIT 1"
    )
    published = q(world, f"SELECT example_id FROM read_parquet('{path[0][0]}/*.parquet')")
    assert published and not {r[0] for r in published} & set(spam)


def test_the_dagster_job_takes_the_same_config_and_refuses_an_unknown_kind(tmp_path):
    from data_platform.provenance.jobs import invalidate_input

    warehouse = Warehouse(database=str(tmp_path / "w.duckdb"), memory_limit="1GB", threads=1)
    duckdb.connect(warehouse.database).execute("CREATE SCHEMA raw").execute(
        "CREATE TABLE raw.events (event_id VARCHAR, source_file VARCHAR, app_version VARCHAR, event_date DATE)"
    ).close()
    result = invalidate_input.execute_in_process(
        run_config={"ops": {"apply_invalidation": {"config": {"kind": "region", "value": "eu", "reason": "x"}}}},
        resources={"warehouse": warehouse},
        raise_on_error=False,
    )
    assert not result.success
    failure = result.failure_data_for_node("apply_invalidation")
    assert "impact kind must be one of" in str(failure.error.cause)
    assert definitions.defs.resolve_job_def("invalidate_input").name == "invalidate_input"
