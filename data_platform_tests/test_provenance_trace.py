"""Trace and impact on a published dataset built for real: every exported example reaches its raw
lines, and impact counts equal direct SQL counts written independently (joins, not the tool's queries)."""

from __future__ import annotations

import json
from pathlib import Path

import dagster as dg
import duckdb
import pytest

from data_platform.cleaning.assets import CLEANING_ASSETS
from data_platform.ingestion.assets import raw_ingestion
from data_platform.labeling.ctr_assets import ctr_examples
from data_platform.provenance.trace import impact, trace, trace_markdown
from data_platform.splits.assets import SPLIT_ASSETS, build_export_asset, ctr_train_balanced
from data_platform.splits.split import CTR
from data_platform_tests.conftest import generated_world


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    root = tmp_path_factory.mktemp("trace")
    mp = pytest.MonkeyPatch()
    mp.setenv("DATA_PLATFORM_EXPORTS", str(root / "exports"))
    landing, warehouse, _ = generated_world(
        root, days=2, events_per_day=4000, seed=17, incidents=["cents_prices@2026-11-03"]
    )
    tags = {"dagster/asset_partition_range_start": "2026-11-02", "dagster/asset_partition_range_end": "2026-11-04"}
    resources = {"warehouse": warehouse, "landing": landing}
    assert dg.materialize([raw_ingestion, *CLEANING_ASSETS, ctr_examples], resources=resources, tags=tags).success
    assert dg.materialize(
        [SPLIT_ASSETS[0], ctr_train_balanced, build_export_asset(CTR)], resources={"warehouse": warehouse}
    ).success
    con = duckdb.connect(warehouse.database)
    yield {"con": con, "landing": Path(landing.root), "root": root}
    con.close()
    mp.undo()


def test_every_sampled_export_row_traces_to_its_raw_lines(world):
    con = world["con"]
    export = next((world["root"] / "exports" / "ctr_examples").iterdir())
    sample = con.execute(
        f"SELECT example_id, source_file, source_line, label FROM '{export}/test.parquet' USING SAMPLE 20 ROWS"
    ).fetchall()
    for example_id, source_file, source_line, label in sample:
        t = trace(con, "ctr_examples", example_id, world["landing"])
        assert t.found and t.steps[0]["step"] == "export" and t.steps[0]["what"] == "split test"
        impression = next(r for r in t.raw_lines if r["role"] == "impression")
        assert (impression["source_file"], impression["source_line"]) == (source_file, source_line)
        raw = json.loads(impression["line"])
        assert raw["impression_id"] == example_id and raw["anon_id"] == "<ID>"  # personal data masked
        assert (any(r["role"] == "click" for r in t.raw_lines)) == (label == 1)
    assert "raw impression" in trace_markdown(trace(con, "ctr_examples", sample[0][0], world["landing"]))
    assert not trace(con, "ctr_examples", "no-such-impression").found


def _direct(con, events_sql: str) -> dict[str, int]:
    """The same counts, written as joins from scratch."""
    con.execute(f"CREATE OR REPLACE TEMP TABLE direct_events AS {events_sql}")
    q = {
        "raw.events": "SELECT count(*) FROM raw.events r JOIN direct_events d USING (event_id)",
        "clean.events": "SELECT count(*) FROM clean.events c JOIN direct_events d USING (event_id)",
        "labels.ctr_examples": "SELECT count(*) FROM labels.ctr_examples x WHERE EXISTS (SELECT 1 FROM direct_events d "
        "WHERE d.event_id = x.impression_event_id OR d.event_id = x.click_event_id)",
        "splits.ctr_examples": "SELECT count(*) FROM splits.ctr_examples s JOIN labels.ctr_examples x "
        "ON x.impression_id = s.example_id WHERE EXISTS (SELECT 1 FROM direct_events d "
        "WHERE d.event_id = x.impression_event_id OR d.event_id = x.click_event_id)",
    }
    return {table: con.execute(sql).fetchone()[0] for table, sql in q.items()}


@pytest.mark.parametrize(
    "kind, value, events_sql",
    [
        ("app_version", "3.2.0", "SELECT DISTINCT event_id FROM raw.events WHERE app_version = '3.2.0'"),
        (
            "source_file",
            "2026-11-03/%",
            "SELECT DISTINCT event_id FROM raw.events WHERE starts_with(source_file, '2026-11-03/')",
        ),
        (
            "rule",
            "crawler_user_agent@1",
            "SELECT DISTINCT event_id FROM clean.filtered_events "
            "WHERE rule_id = 'crawler_user_agent' AND rule_version = 1",
        ),
    ],
)
def test_impact_counts_match_direct_sql(world, kind, value, events_sql):
    con = world["con"]
    counted = {r["table"]: r["rows"] for r in impact(con, kind, value)}
    direct = _direct(con, events_sql)
    for table, n in direct.items():
        assert counted[table] == n, table
    assert counted["raw.events"] > 0
    export = [t for t in counted if t.startswith("export ctr_examples")]
    assert len(export) == 1 and counted[export[0]] == counted["splits.ctr_examples"]
    if kind == "rule":
        assert counted["clean.events"] == 0 and counted["clean.filtered_events"] > 0


def test_impact_rejects_a_rule_without_version(world):
    with pytest.raises(ValueError):
        impact(world["con"], "rule", "crawler_user_agent")
