"""The stage declarations of the base layer and their collection in the catalog."""

from __future__ import annotations

import duckdb
import pytest

from data_platform import catalog
from data_platform.base.stage import SqlStep, Stage, StepGroup, flatten


def test_a_step_binds_the_parameters_its_statement_names_and_says_which_are_missing():
    con = duckdb.connect()
    con.execute("CREATE TABLE raw_events AS SELECT range AS n FROM range(5)")
    count = SqlStep("privacy/count_subject_rows.sql", {"table": "raw_events", "predicate": "n < 5"})
    # values the statement does not name are not bound (DuckDB refuses unused named parameters)
    assert count.run(con, {"start_day": "2026-11-02", "unused": 1}).fetchone()[0] == 5
    stage_day = SqlStep("cleaning/day_duplicates.sql")
    with pytest.raises(KeyError, match=r"\$end_day, \$start_day"):
        stage_day.run(con, {})


def test_a_group_is_flattened_in_order_and_run_by_its_runner():
    ran = []
    a, b, c = SqlStep("a.sql"), SqlStep("b.sql"), SqlStep("c.sql")
    group = StepGroup((b, c), ran.append)
    assert flatten([a, group]) == (a, b, c)
    group.run("con")
    assert ran == ["con"]


def test_an_unknown_stage_is_refused():
    with pytest.raises(ValueError, match="unknown stage 'scoring'"):
        Stage(name="scoring")


def test_erasure_takes_derived_tables_before_their_sources():
    order = list(catalog.PERSON_TABLES)
    # split tables find a person's impressions through raw.events: they must go first
    assert max(order.index(t) for t in order if t.startswith("splits.")) < order.index("raw.events")
    assert max(order.index(t) for t in order if t.startswith("labels.")) < min(
        order.index(t) for t in order if t.startswith(("clean.", "raw."))
    )


def test_a_table_declared_by_two_stages_is_refused():
    with pytest.raises(ValueError, match="raw.events is declared twice"):
        catalog._unique([("ingestion", "raw.events", 1), ("cleaning", "raw.events", 2)], "the contract of")
