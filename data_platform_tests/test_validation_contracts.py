"""Table contracts (pandera), validated for real on generated data, and as blocking checks in runs."""

from __future__ import annotations

import dataclasses
import datetime as dt
import shutil

import dagster as dg
import duckdb
import pandera.polars as pa
import pytest

from data_platform.base.tables import at_least, validate_partition
from data_platform.catalog import CONTRACTS
from data_platform.cleaning.assets import clean_layer
from data_platform.definitions import CONTRACT_CHECKS, defs
from data_platform.generator import generate_logs
from data_platform.ingestion.assets import raw_ingestion
from data_platform.labeling.ctr_assets import ctr_examples
from data_platform.resources import LandingZone, Warehouse
from data_platform.validation.checks import build_contract_check

RANGE = {"dagster/asset_partition_range_start": "2026-11-02", "dagster/asset_partition_range_end": "2026-11-03"}
DAILY = [c for c in CONTRACTS.values() if c.partition_column]


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    root = tmp_path_factory.mktemp("contracts")
    landing = LandingZone(root=str(root / "landing"), settle_seconds=0)
    warehouse = Warehouse(database=str(root / "warehouse.duckdb"), memory_limit="1GB", threads=2)
    generate_logs(landing.root, start=dt.date(2026, 11, 2), days=2, events_per_day=4000, seed=21)
    result = dg.materialize(
        [raw_ingestion, clean_layer, ctr_examples], resources={"warehouse": warehouse, "landing": landing}, tags=RANGE
    )
    assert result.success
    return {"root": root, "warehouse": warehouse, "landing": landing}


@pytest.fixture
def con(built, tmp_path):
    """A writable copy of the built warehouse, for corrupting."""
    path = tmp_path / "copy.duckdb"
    shutil.copy(built["warehouse"].database, path)
    connection = duckdb.connect(str(path))
    connection.execute("SET TimeZone = 'UTC'")
    yield connection
    connection.close()


def _normal(typ: str) -> str:
    return {"TIMESTAMPTZ": "TIMESTAMP WITH TIME ZONE"}.get(typ, typ)


@pytest.mark.parametrize("contract", DAILY, ids=lambda c: c.table)
def test_contract_columns_are_the_tables_columns(con, contract):
    schema, table = contract.table.split(".")
    actual = con.execute(
        "SELECT column_name, data_type FROM duckdb_columns() WHERE schema_name = ? AND table_name = ? "
        "ORDER BY column_index",
        [schema, table],
    ).fetchall()
    assert actual == [(n, _normal(t)) for n, t, _ in contract.columns]


@pytest.mark.parametrize("contract", DAILY, ids=lambda c: c.table)
def test_generated_data_meets_every_contract(con, contract):
    report = validate_partition(con, contract, dt.date(2026, 11, 2), dt.date(2026, 11, 4))
    assert report.rows_checked > 0 and report.passed, (report.failures, report.sample)


def test_violations_are_counted_per_check_with_a_sample(con):
    con.execute(
        "UPDATE clean.events SET position = 0 WHERE event_id IN "
        "(SELECT event_id FROM clean.events WHERE event_type = 'impression' ORDER BY event_id LIMIT 3)"
    )
    con.execute(
        "UPDATE clean.events SET person_key = 'anon-123' WHERE event_id IN "
        "(SELECT event_id FROM clean.events WHERE event_type = 'login' ORDER BY event_id LIMIT 2)"
    )
    con.execute(
        "INSERT INTO clean.events SELECT * FROM clean.events WHERE event_type = 'review' ORDER BY event_id LIMIT 1"
    )
    report = validate_partition(con, CONTRACTS["clean.events"], dt.date(2026, 11, 2), dt.date(2026, 11, 4))
    assert not report.passed
    assert report.failures == {
        "position: >= 1": 3,
        "person_key: a keyed pseudonym p_<24 hex>": 2,
        "unique (event_id)": 1,
    }
    assert report.failing_rows == 5 and report.duplicate_keys == 1
    assert {s["check"] for s in report.sample} == set(report.failures)
    assert any(s.get("position") == 0 for s in report.sample)


def test_repeated_composite_keys_are_found_with_their_copies_in_their_partition_only(con):
    """duplicate_keys.sql groups by key hash first, then by the keys: a (source_file, source_line) on 3 rows and one
    on 2 are the day's 2 duplicated keys with their copies; a key repeated on another day is not counted."""
    first_rows = "SELECT * FROM clean.duplicates WHERE event_date = ? ORDER BY source_file, source_line LIMIT ?"
    con.execute(f"INSERT INTO clean.duplicates {first_rows}", ["2026-11-02", 2])
    con.execute(f"INSERT INTO clean.duplicates {first_rows}", ["2026-11-02", 1])
    con.execute(f"INSERT INTO clean.duplicates {first_rows}", ["2026-11-03", 1])
    contract = CONTRACTS["clean.duplicates"]
    report = validate_partition(con, contract, dt.date(2026, 11, 2), dt.date(2026, 11, 3))
    expected = con.execute(
        "SELECT source_file, source_line, count(*) FROM clean.duplicates WHERE event_date = '2026-11-02' "
        "GROUP BY ALL HAVING count(*) > 1 ORDER BY 3 DESC"
    ).fetchall()
    assert [c for *_, c in expected] == [3, 2]
    assert report.duplicate_keys == 2 and report.failures == {"unique (source_file, source_line)": 2}
    found = [
        (s["source_file"], s["source_line"], s["copies"]) for s in report.sample if s["check"].startswith("unique")
    ]
    assert found == expected


def test_row_checks_across_columns(con):
    con.execute(
        "UPDATE labels.ctr_examples SET click_event_id = NULL, click_delay_s = NULL WHERE impression_id IN "
        "(SELECT impression_id FROM labels.ctr_examples WHERE label = 1 ORDER BY 1 LIMIT 4)"
    )
    con.execute(
        "UPDATE labels.ctr_examples SET label = 2 WHERE impression_id IN "
        "(SELECT impression_id FROM labels.ctr_examples WHERE label = 0 ORDER BY 1 LIMIT 1)"
    )
    report = validate_partition(con, CONTRACTS["labels.ctr_examples"], dt.date(2026, 11, 2), dt.date(2026, 11, 4))
    assert report.failures == {"row: label 1 has its click": 4, "label: in {0, 1}": 1}
    con.execute(
        "UPDATE raw.events SET position = NULL WHERE event_id IN "
        "(SELECT event_id FROM raw.events WHERE event_type = 'impression' ORDER BY 1 LIMIT 2)"
    )
    raw = validate_partition(con, CONTRACTS["raw.events"], dt.date(2026, 11, 2), dt.date(2026, 11, 4))
    assert raw.failures == {"row: position present for impression": 2}


def pandera_failures(con, contract, start_day, end_day) -> dict[str, int]:
    """The reference: pandera's polars backend over the whole partition in memory, failing rows per
    ``column: check`` (``row: check`` for a row check)."""
    frame = con.execute(
        f"SELECT * FROM {contract.table} WHERE {contract.partition_column} >= ? AND {contract.partition_column} < ?",
        [start_day, end_day],
    ).pl()
    try:
        contract.schema().validate(frame, lazy=True)
        return {}
    except pa.errors.SchemaErrors as errors:
        cases = errors.failure_cases
    out = {}
    for (column, check), group in cases.group_by(["column", "check"]):
        label = f"{'row' if column == contract.table else column}: {check}"
        out[label] = group["index"].n_unique()
    return out


@pytest.mark.parametrize("table", ["clean.events", "labels.ctr_examples", "raw.events"])
def test_duckdb_finds_exactly_what_pandera_finds(con, table):
    """The contract is checked by one DuckDB pass over the table as written; on the same rows, pandera's
    own polars backend (the independent implementation) finds the same failing rows per check."""
    corrupt = {
        "clean.events": [
            "UPDATE clean.events SET rating = 9 WHERE event_id IN "
            "(SELECT event_id FROM clean.events WHERE event_type = 'review' ORDER BY event_id LIMIT 7)",
            "UPDATE clean.events SET person_key = 'x', event_date = event_date + 1 WHERE event_id IN "
            "(SELECT event_id FROM clean.events WHERE event_date = '2026-11-02' ORDER BY event_id LIMIT 3)",
            "UPDATE clean.events SET position = NULL, ruleset_version = NULL WHERE event_id IN "
            "(SELECT event_id FROM clean.events WHERE event_type = 'impression' ORDER BY event_id LIMIT 2)",
        ],
        "labels.ctr_examples": [
            "UPDATE labels.ctr_examples SET label = 1, click_event_id = NULL, click_delay_s = 1e9 WHERE impression_id "
            "IN (SELECT impression_id FROM labels.ctr_examples WHERE label = 0 ORDER BY 1 LIMIT 4)",
            "UPDATE labels.ctr_examples SET label_status = 'maybe' WHERE impression_id IN "
            "(SELECT impression_id FROM labels.ctr_examples ORDER BY 1 DESC LIMIT 2)",
        ],
        "raw.events": [
            "UPDATE raw.events SET position = NULL WHERE event_id IN "
            "(SELECT event_id FROM raw.events WHERE event_type = 'impression' ORDER BY 1 LIMIT 2)",
            "UPDATE raw.events SET event_type = 'teleport' WHERE event_id IN "
            "(SELECT event_id FROM raw.events WHERE event_type = 'login' ORDER BY 1 LIMIT 1)",
        ],
    }[table]
    for statement in corrupt:
        con.execute(statement)
    contract = CONTRACTS[table]
    days = dt.date(2026, 11, 2), dt.date(2026, 11, 4)
    report = validate_partition(con, contract, *days)
    expected = pandera_failures(con, contract, *days)
    assert len(expected) >= 2, expected  # the corruption is seen by the reference
    assert {k: v for k, v in report.failures.items() if not k.startswith("unique")} == expected
    assert (
        report.rows_checked
        == con.execute(f"SELECT count(*) FROM {table} WHERE event_date >= ? AND event_date < ?", list(days)).fetchone()[
            0
        ]
    )
    assert {s["check"] for s in report.sample} <= set(report.failures) and report.sample
    assert len([s for s in report.sample if not s["check"].startswith("unique")]) <= 5  # a sample, not a dump


def test_a_missing_or_mistyped_column_fails_every_row(con):
    con.execute("ALTER TABLE labels.ctr_examples DROP COLUMN country")
    con.execute("ALTER TABLE labels.ctr_examples ALTER COLUMN position TYPE VARCHAR")
    report = validate_partition(con, CONTRACTS["labels.ctr_examples"], dt.date(2026, 11, 2), dt.date(2026, 11, 4))
    assert report.failures["row: column_in_dataframe (country)"] == report.rows_checked > 0
    assert report.failures["position: dtype('BIGINT')"] == report.rows_checked
    assert report.failing_rows == report.rows_checked


def test_a_failing_contract_blocks_downstream_assets(built):
    contract = CONTRACTS["clean.events"]
    strict = dataclasses.replace(contract, column_checks={**contract.column_checks, "position": [at_least(100)]})
    result = dg.materialize(
        [raw_ingestion, clean_layer, ctr_examples, build_contract_check(strict)],
        resources={"warehouse": built["warehouse"], "landing": built["landing"]},
        partition_key="2026-11-02",
        raise_on_error=False,
    )
    checks = {(c.asset_key.to_user_string(), c.check_name): c for c in result.get_asset_check_evaluations()}
    failed = checks[("clean/events", "pandera_contract")]
    assert not failed.passed and failed.metadata["failing_rows"].value > 0
    assert failed.partition == "2026-11-02"
    materialized = {m.asset_key.to_user_string() for m in result.get_asset_materialization_events()}
    assert "clean/events" in materialized and "labels/ctr_examples" not in materialized


def test_the_ui_schema_comes_from_the_contracts():
    graph = defs.resolve_asset_graph()
    for contract in [c for c in DAILY if not c.written_by]:
        node = graph.get(contract.asset_key)
        assert node.metadata["dagster/column_schema"] == contract.table_schema(), contract.table
        schema = contract.table_schema()
        nullable = {c.name: c.constraints.nullable for c in schema.columns}
        assert {n for n, ok in nullable.items() if not ok} == set(contract.required)
    keys = {(k.asset_key.to_user_string(), k.name) for c in CONTRACT_CHECKS for k in c.check_keys}
    assert keys == {(c.asset_key.to_user_string(), c.check_name) for c in CONTRACTS.values()}
    assert ("clean/events", "pandera_duplicates") in keys
