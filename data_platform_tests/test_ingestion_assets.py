"""The ingestion assets run for real with dg.materialize over a temporary DuckDB file."""

from __future__ import annotations

import datetime as dt
import gzip
import shutil

import dagster as dg
import pytest

from data_platform import contracts
from data_platform.generator import generate_logs
from data_platform.resources import LandingZone, Warehouse
from data_platform_tests.conftest import checks_by_name, event, ingest, query, write_lines

START = dt.date(2026, 11, 1)
DAYS = 3

# raw.events columns whose value depends on which run parsed the line (everything else must not)
RUN_DEPENDENT = ("ingested_at", "run_id")


@pytest.fixture(scope="module")
def generated(tmp_path_factory):
    """Three generated days (a few thousand events each) in a landing folder, and the manifest."""
    root = tmp_path_factory.mktemp("generated")
    manifest = generate_logs(root, START, DAYS, 3000, seed=11)
    return root, manifest


def _landing_copy(generated, tmp_path) -> LandingZone:
    root, _ = generated
    shutil.copytree(root / "events", tmp_path / "landing" / "events", dirs_exist_ok=True)
    return LandingZone(root=str(tmp_path / "landing"), settle_seconds=0)


def _event_days(manifest) -> tuple[str, str]:
    days = sorted(manifest["valid_lines_by_event_day"])
    return days[0], days[-1]


def _content_hash(warehouse: Warehouse, table: str) -> tuple[int, int]:
    columns = [c for c, _, _ in contracts.raw_events_columns() if c not in RUN_DEPENDENT]
    if table == "raw.quarantine":
        columns = [c for c, _, _ in contracts.RAW_QUARANTINE_COLUMNS if c not in RUN_DEPENDENT]
    [(n, h)] = query(warehouse, f"SELECT count(*), bit_xor(hash(({', '.join(columns)}))) FROM {table}")
    return n, h


def test_generated_days_land_with_every_line_accounted_for(generated, tmp_path, warehouse):
    _, manifest = generated
    landing = _landing_copy(generated, tmp_path)
    result = ingest(warehouse, landing, _event_days(manifest))

    checks = checks_by_name(result)
    assert {name: c.passed for name, c in checks.items()} == {
        "lines_accounted": True,
        "contract_v1": True,
        "reasons_known": True,
    }
    # every line the generator wrote is either an event or quarantined, with the reason it injected
    [(lines_read, files)] = query(warehouse, "SELECT sum(lines), count(*) FROM raw.files")
    [(events,)] = query(warehouse, "SELECT count(*) FROM raw.events")
    reasons = dict(query(warehouse, "SELECT reason, count(*) FROM raw.quarantine GROUP BY reason"))
    assert files == len(manifest["files"])
    assert lines_read == manifest["total_lines"] == events + sum(reasons.values())
    assert events == manifest["valid_lines"]
    assert reasons == {k: v for k, v in manifest["malformed"].items() if v}
    assert set(reasons) == set(contracts.QUARANTINE_REASONS) - set(contracts.READ_REASONS)
    per_day = dict(query(warehouse, "SELECT strftime(event_date, '%Y-%m-%d'), count(*) FROM raw.events GROUP BY 1"))
    assert per_day == manifest["valid_lines_by_event_day"]
    # provenance on every row, pointing at real lines of real files
    [(missing,)] = query(
        warehouse,
        "SELECT count(*) FROM raw.events WHERE source_file IS NULL OR source_line < 1 "
        "OR file_sha256 IS NULL OR run_id IS NULL OR ingested_at IS NULL",
    )
    assert missing == 0
    # the first and the last event of every file point at the line that holds them (plain and gzipped files)
    ends = query(
        warehouse,
        """
        SELECT source_file, source_line, event_id FROM raw.events
        QUALIFY row_number() OVER (PARTITION BY source_file ORDER BY source_line) = 1
             OR row_number() OVER (PARTITION BY source_file ORDER BY source_line DESC) = 1""",
    )
    assert {f for f, _, _ in ends} == {f for (f,) in query(warehouse, "SELECT DISTINCT source_file FROM raw.events")}
    assert any(f.endswith(".gz") for f, _, _ in ends) and any(not f.endswith(".gz") for f, _, _ in ends)
    for source_file, source_line, event_id in ends:
        body = (tmp_path / "landing" / "events" / source_file).read_bytes()
        body = gzip.decompress(body) if source_file.endswith(".gz") else body
        # files may hold an injected invalid-UTF-8 line: read bytes, not text
        assert f'"{event_id}"'.encode() in body.split(b"\n")[source_line - 1], (source_file, source_line)
    # metadata the UI shows: each partition of the range run describes its own day
    meta = {
        (e.asset_key.to_user_string(), e.partition): e.materialization.metadata
        for e in result.get_asset_materialization_events()
    }
    for day, n in per_day.items():
        assert meta["raw/events", day]["dagster/row_count"].value == n
        assert sum(meta["raw/events", day]["events_by_type"].value.values()) == n
    quarantined = dict(
        query(warehouse, "SELECT strftime(partition_date, '%Y-%m-%d'), count(*) FROM raw.quarantine GROUP BY 1")
    )
    assert {
        d: m["dagster/row_count"].value
        for (key, d), m in meta.items()
        if key == "raw/quarantine" and m["dagster/row_count"].value
    } == quarantined
    assert (
        sum(m["reason/not_json"].value for (key, _), m in meta.items() if key == "raw/quarantine")
        == manifest["malformed"]["not_json"]
    )


def test_range_backfill_equals_single_partition_runs(generated, tmp_path):
    _, manifest = generated
    first, last = _event_days(manifest)
    one_run = Warehouse(database=str(tmp_path / "range.duckdb"), memory_limit="1GB")
    per_day = Warehouse(database=str(tmp_path / "days.duckdb"), memory_limit="1GB")
    landing = _landing_copy(generated, tmp_path)
    ingest(one_run, landing, (first, last))
    days = sorted(manifest["valid_lines_by_event_day"])
    for day in reversed(days):  # order must not matter
        ingest(per_day, landing, day)
    for table in ("raw.events", "raw.quarantine"):
        assert _content_hash(one_run, table) == _content_hash(per_day, table)


def test_rematerializing_replaces_the_partition(warehouse, landing):
    write_lines(landing.events_dir() / "a.jsonl", [event(f"e{i}", ts="2026-11-02T10:00:00Z") for i in range(5)])
    ingest(warehouse, landing, "2026-11-02")
    before = _content_hash(warehouse, "raw.events")
    result = ingest(warehouse, landing, "2026-11-02")
    assert _content_hash(warehouse, "raw.events") == before
    assert before[0] == 5
    assert all(c.passed for c in result.get_asset_check_evaluations())


def test_late_file_updates_an_earlier_day(warehouse, landing):
    write_lines(landing.events_dir() / "day2.jsonl", [event("a", ts="2026-11-02T10:00:00Z")])
    ingest(warehouse, landing, "2026-11-02")
    write_lines(
        landing.events_dir() / "day4.jsonl",
        [event("late", ts="2026-11-02T23:00:00Z"), event("b", ts="2026-11-04T01:00:00Z")],
    )
    ingest(warehouse, landing, "2026-11-04")  # lands day4.jsonl, including its late line
    result = ingest(warehouse, landing, "2026-11-02")
    assert sorted(
        r[0] for r in query(warehouse, "SELECT event_id FROM raw.events WHERE event_date = '2026-11-02'")
    ) == ["a", "late"]
    assert checks_by_name(result)["lines_accounted"].passed


def test_changed_file_replaces_its_old_rows_and_accounting_catches_stale_ones(warehouse, landing):
    path = write_lines(landing.events_dir() / "a.jsonl", [event("old", ts="2026-11-02T10:00:00Z")])
    ingest(warehouse, landing, "2026-11-02")
    write_lines(
        path, [event("new1", ts="2026-11-02T11:00:00Z"), event("new2", ts="2026-11-03T11:00:00Z")], age_seconds=5
    )
    # a run for another day lands the new version; day 2 still holds the old row until it is rebuilt
    stale = ingest(warehouse, landing, "2026-11-03")
    assert query(warehouse, "SELECT event_id FROM raw.events ORDER BY 1") == [("new2",), ("old",)]
    with Warehouse(database=warehouse.database).connect() as con:
        from data_platform.resources import rows

        bad = rows(
            con, "ingestion/check_accounting.sql", {"start_day": dt.date(2026, 11, 2), "end_day": dt.date(2026, 11, 3)}
        )
    assert sorted(b["problem"] for b in bad) == [
        "rows from a file version that is no longer current",  # the old row still on day 2
        "rows in raw.events + raw.quarantine <> lines parsed for these days",  # new1 not yet on day 2
    ]
    assert checks_by_name(stale)["lines_accounted"].passed  # day 3 itself is consistent
    ingest(warehouse, landing, "2026-11-02")
    assert query(warehouse, "SELECT event_id FROM raw.events ORDER BY 1") == [("new1",), ("new2",)]


def test_failed_blocking_check_stops_the_run(warehouse, landing, monkeypatch):
    """A contract violation that slipped past the parse fails the blocking check."""
    write_lines(landing.events_dir() / "a.jsonl", [event("a", ts="2026-11-02T10:00:00Z")])
    from data_platform.ingestion import assets

    original = assets.run_sql

    def corrupting_run_sql(con, name, params=None, **fragments):
        out = original(con, name, params, **fragments)
        if name == "ingestion/insert_events.sql":
            con.execute("UPDATE raw.events SET anon_id = NULL")
        return out

    monkeypatch.setattr(assets, "run_sql", corrupting_run_sql)
    result = dg.materialize(
        [assets.raw_ingestion],
        resources={"warehouse": warehouse, "landing": landing},
        partition_key="2026-11-02",
        raise_on_error=False,
    )
    check = checks_by_name(result)["contract_v1"]
    assert not check.passed and check.metadata["violations"].value == {"missing_anon_id": 1}


def test_empty_landing_folder_materializes_empty_partitions(warehouse, landing):
    result = ingest(warehouse, landing, "2026-11-02")
    assert all(c.passed for c in result.get_asset_check_evaluations())
    assert query(warehouse, "SELECT count(*) FROM raw.events") == [(0,)]


def test_memory_limit_comes_from_the_resource(tmp_path, monkeypatch):
    monkeypatch.setenv("DATA_PLATFORM_DUCKDB_MEMORY", "300MB")
    monkeypatch.setenv("DATA_PLATFORM_WAREHOUSE", str(tmp_path / "w.duckdb"))
    with Warehouse.from_env().connect() as con:
        limit = con.execute("SELECT current_setting('memory_limit')").fetchone()[0]
    assert limit.replace(" ", "") in ("286.1MiB", "300.0MB", "300MB")
    monkeypatch.setenv("DATA_PLATFORM_DUCKDB_MEMORY", "lots; DROP TABLE x")
    with pytest.raises(ValueError):
        with Warehouse.from_env().connect():
            pass


def test_env_defaults_are_the_public_contract(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    for var in ("DATA_PLATFORM_WAREHOUSE", "DATA_PLATFORM_LANDING"):
        monkeypatch.delenv(var, raising=False)
    assert Warehouse.from_env().database == str(tmp_path / "data" / "warehouse.duckdb")
    assert LandingZone.from_env().events_dir() == tmp_path / "data" / "landing" / "events"
    monkeypatch.setenv("DATA_PLATFORM_LANDING", "/srv/drop")
    assert str(LandingZone.from_env().events_dir()) == "/srv/drop/events"


def test_the_status_accounting_counts_lines_whose_day_is_not_cut_yet(warehouse, landing):
    """Lines landed for a day not materialized yet balance the summary as 'not cut into a day yet', by day."""
    from data_platform.ingestion.stage import summary

    write_lines(
        landing.events_dir() / "a.jsonl",
        [event("a", ts="2026-11-02T10:00:00Z"), event("b", ts="2026-11-04T01:00:00Z"), "not json"],
    )
    ingest(warehouse, landing, "2026-11-02")
    with warehouse.connect() as con:
        text = "\n".join(summary(con, {("raw", "files")}))
    assert "+ not cut into a day yet 1  (balances)" in text, text
    assert "2026-11-04 1" in text, text
    ingest(warehouse, landing, "2026-11-04")
    with warehouse.connect() as con:
        text = "\n".join(summary(con, {("raw", "files")}))
    assert "+ not cut into a day yet 0  (balances)" in text and "waiting" not in text, text
