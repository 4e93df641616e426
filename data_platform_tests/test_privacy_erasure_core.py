"""Erasure that sticks (issue #21): tombstones at landing, crash safety, the key in use, the request files, the
bytes of the warehouse file, and a registry that covers every table holding a person. Real ingestion and
cleaning (``dg.materialize``), the real privacy job, real processes killed for the crash tests."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import dagster as dg
import duckdb
import pytest

from data_platform.base.pseudonyms import key_id, pseudonymise
from data_platform.definitions import process_privacy_requests
from data_platform.ingestion.stage import summary as ingestion_summary
from data_platform.privacy.tombstones import TombstoneKeyMissing
from data_platform.resources import LandingZone, Warehouse
from data_platform_tests.conftest import checks_by_name, event, query, write_lines
from data_platform_tests.reliability_support import copy_warehouse, run_child
from data_platform_tests.test_cleaning import CHROME, run_pipeline, ts

K1 = "first-key-of-the-platform-0001"
K2 = "second-key-after-rotation-0002"

ANN, BOB = "u-ann-4711", "u-bob-0815"
ANN_PHONE, ANN_LAPTOP, BOB_PHONE, TABLET = "dev-ann-phone-93", "dev-ann-laptop-17", "dev-bob-phone-55", "dev-tablet-8"
ANN_IDS = (ANN, ANN_PHONE, ANN_LAPTOP)


def _ann_lines() -> list:
    """Ann's events (two own devices, a login on a tablet she shares with Bob) and one quarantined line of hers."""
    return [
        event("a-login-1", "login", ts=ts(1), anon_id=ANN_PHONE, user_id=ANN, user_agent=CHROME),
        event("a-login-2", "login", ts=ts(2), anon_id=ANN_LAPTOP, user_id=ANN, user_agent=CHROME),
        event("a-review", "review", ts=ts(3), anon_id=ANN_PHONE, text="love it", user_agent=CHROME),
        event("t-ann", "login", ts=ts(5), anon_id=TABLET, user_id=ANN, user_agent=CHROME),
        json.dumps({"event_id": "a-broken", "event_type": "login", "anon_id": ANN_PHONE, "ts": "yesterday"}),
    ]


def _bob_lines() -> list:
    return [
        event("t-bob", "login", ts=ts(6), anon_id=TABLET, user_id=BOB, user_agent=CHROME),
        event("b-login", "login", ts=ts(7), anon_id=BOB_PHONE, user_id=BOB, user_agent=CHROME),
    ]


def _world(landing: LandingZone) -> None:
    write_lines(landing.events_dir() / "a.jsonl", [*_ann_lines(), *_bob_lines()])


def _request(landing: LandingZone, name: str, *lines) -> Path:
    landing.privacy_dir().mkdir(parents=True, exist_ok=True)
    return write_lines(landing.privacy_dir() / name, list(lines))


ERASE_ANN = {"request_id": "req-ann", "user_id": ANN, "kind": "erase", "ts": "2026-11-20T10:00:00Z"}


def _apply(warehouse, landing, succeed: bool = True):
    result = process_privacy_requests.execute_in_process(
        resources={"warehouse": warehouse, "landing": landing}, raise_on_error=False
    )
    assert result.success is succeed, [e.message for e in result.all_events if e.is_failure]
    return result.output_for_node("apply_privacy_requests") if succeed else result


def _failure_text(result) -> str:
    return " ".join(str(e.event_specific_data.error) for e in result.all_events if e.event_type_value == "STEP_FAILURE")


def _rows_naming(warehouse, ids) -> dict[str, int]:
    """Rows per raw/clean table that name any of ``ids`` (raw) or their pseudonym under the keys in use."""
    found = {}
    for table in ("raw.landed_lines", "raw.events", "raw.quarantine", "clean.events", "clean.identity_map"):
        text = " ".join(str(r) for r in query(warehouse, f"SELECT * FROM {table}"))
        pseudonyms = [pseudonymise(i, k) for i in ids for k in (K1, K2)]
        found[table] = sum(text.count(i) for i in [*ids, *pseudonyms])
    return found


def _erased_and_pipeline(warehouse, landing, monkeypatch):
    monkeypatch.setenv("DATA_PLATFORM_PSEUDONYM_KEY", K1)
    _world(landing)
    run_pipeline(warehouse, landing)
    _request(landing, "r1.jsonl", ERASE_ANN)
    summary = _apply(warehouse, landing)
    assert summary["erasures"] == 1


# --- 1. never again ---------------------------------------------------------------------------------------


def test_an_erased_subjects_lines_that_land_later_are_dropped_counted_and_stored_nowhere(
    warehouse, landing, monkeypatch
):
    _erased_and_pipeline(warehouse, landing, monkeypatch)
    # the file that held her lines was counted over: her lines moved to erased_subject, the file balances
    [(lines, accepted, quarantined, erased)] = query(
        warehouse, "SELECT lines, accepted, quarantined, erased_subject FROM raw.files WHERE source_file = 'a.jsonl'"
    )
    assert (lines, accepted, quarantined, erased) == (7, 2, 0, 5)
    # a producer retry in a new file, her old file re-delivered under a new name, a late event of hers, a
    # quarantined line and a broken line naming her device; Bob's new event lands as usual
    write_lines(
        landing.events_dir() / "retry.jsonl",
        [
            *_ann_lines()[:3],
            event("a-late", "review", ts=ts(30), anon_id=ANN_LAPTOP, text="late", user_agent=CHROME),
            json.dumps({"event_id": "a-bad", "event_type": "login", "anon_id": ANN_LAPTOP, "ts": "soon"}),
            '{"event_id": "a-cut", "anon_id": "' + ANN_PHONE + '", "ts": ',
            event("b-new", "login", ts=ts(31), anon_id=BOB_PHONE, user_id=BOB, user_agent=CHROME),
        ],
    )
    # the producer re-delivers the original bytes (the landed a.jsonl was rewritten without her lines)
    write_lines(landing.events_dir() / "a-again.jsonl", [*_ann_lines(), *_bob_lines()])
    result = run_pipeline(warehouse, landing)
    assert checks_by_name(result)["lines_accounted"].passed
    assert checks_by_name(result)["raw_rows_accounted"].passed
    files = dict(
        (r[0], r[1:])
        for r in query(warehouse, "SELECT source_file, lines, accepted, quarantined, erased_subject FROM raw.files")
    )
    assert files["retry.jsonl"] == (7, 1, 0, 6)
    assert files["a-again.jsonl"] == (7, 2, 0, 5)
    # nor do the files that brought her back keep her lines: they are emptied there, the others kept as sent
    again = (landing.events_dir() / "a-again.jsonl").read_text().split("\n")
    assert again[5:7] == [json.dumps(line) for line in _bob_lines()] and again[:5] == [""] * 5
    for name in ("retry.jsonl", "a-again.jsonl"):
        assert not any(i in (landing.events_dir() / name).read_text() for i in ANN_IDS), name
    assert not any(_rows_naming(warehouse, ANN_IDS).values())
    assert sorted(r[0] for r in query(warehouse, "SELECT event_id FROM raw.events")) == [
        "b-login",
        "b-login",
        "b-new",
        "t-bob",
        "t-bob",
    ]
    con = duckdb.connect(warehouse.database, read_only=True)
    try:
        text = "\n".join(ingestion_summary(con, {("raw", "files")}))
    finally:
        con.close()
    assert "erased_subject 16" in text and "(balances)" in text, text


def test_a_new_device_logging_in_as_an_erased_user_is_dropped_with_its_login(warehouse, landing, monkeypatch):
    """A login that would link a new device to the erased user is dropped like any line naming them, so the
    device is never attached to her (her identity is not rebuilt); the device's anonymous events stay an
    unlinked device (docs/privacy.md says why)."""
    _erased_and_pipeline(warehouse, landing, monkeypatch)
    write_lines(
        landing.events_dir() / "new-device.jsonl",
        [
            event("n-login", "login", ts=ts(40), anon_id="dev-new-99", user_id=ANN, user_agent=CHROME),
            event("n-view", "review", ts=ts(41), anon_id="dev-new-99", text="hi", user_agent=CHROME),
        ],
    )
    run_pipeline(warehouse, landing)
    assert query(warehouse, "SELECT event_id FROM raw.events WHERE anon_id = 'dev-new-99'") == [("n-view",)]
    assert query(warehouse, "SELECT erased_subject FROM raw.files WHERE source_file = 'new-device.jsonl'") == [(1,)]
    assert not any(_rows_naming(warehouse, (ANN,)).values())


# --- 3. the key in use ----------------------------------------------------------------------------------


def test_an_erasure_under_another_key_stops_before_deleting_anything(warehouse, landing, monkeypatch, capsys):
    monkeypatch.setenv("DATA_PLATFORM_PSEUDONYM_KEY", K1)
    _world(landing)
    run_pipeline(warehouse, landing)
    assert set(query(warehouse, "SELECT DISTINCT key_id FROM privacy.pseudonym_keys")) == {(key_id(K1),)}
    before = _rows_naming(warehouse, ANN_IDS)
    path = _request(landing, "r1.jsonl", ERASE_ANN)
    monkeypatch.setenv("DATA_PLATFORM_PSEUDONYM_KEY", K2)  # a rotated key, a stale shell
    result = _apply(warehouse, landing, succeed=False)
    message = _failure_text(result)
    assert "KeyMismatch" in message and key_id(K1) in message and key_id(K2) in message and "clean.events" in message
    assert _rows_naming(warehouse, ANN_IDS) == before  # nothing deleted
    assert query(warehouse, "SELECT count(*) FROM privacy.requests") == [(0,)]
    assert ANN in path.read_text()  # the request is still open, and still names her
    # the command line says the same, without a traceback, and exits 1
    from data_platform.cli.admin import cmd_privacy

    monkeypatch.setenv("DATA_PLATFORM_WAREHOUSE", warehouse.database)
    monkeypatch.setenv("DATA_PLATFORM_LANDING", landing.root)
    assert cmd_privacy(None) == 1
    assert "KeyMismatch" in capsys.readouterr().err
    assert _rows_naming(warehouse, ANN_IDS) == before
    monkeypatch.setenv("DATA_PLATFORM_PSEUDONYM_KEY", K1)
    assert _apply(warehouse, landing)["erasures"] == 1
    assert not any(_rows_naming(warehouse, ANN_IDS).values())


def test_key_rotation_keeps_old_tombstones_working_and_carries_consent(warehouse, landing, monkeypatch):
    """Rotation K1 -> K2 (docs/privacy.md): tombstones made with K1 still stop Ann once K1 is a retired key;
    without it landing refuses to guess; Bob's opt-out made under K1 is re-keyed and still applies after the
    re-clean under K2; then requests under K2 are accepted."""
    _erased_and_pipeline(warehouse, landing, monkeypatch)
    _request(landing, "r-o.jsonl", {"request_id": "o", "anon_id": BOB_PHONE, "kind": "opt_out", "ts": ts(0)})
    _apply(warehouse, landing)
    run_pipeline(warehouse, landing)
    assert query(warehouse, "SELECT count(*) FROM clean.events WHERE event_id = 'b-login'") == [(0,)]

    monkeypatch.setenv("DATA_PLATFORM_PSEUDONYM_KEY", K2)
    write_lines(landing.events_dir() / "retry.jsonl", [_ann_lines()[0], _bob_lines()[1]])
    with pytest.raises(TombstoneKeyMissing, match=f"{key_id(K1)}.*DATA_PLATFORM_PSEUDONYM_RETIRED_KEYS"):
        run_pipeline(warehouse, landing)
    assert query(warehouse, "SELECT count(*) FROM raw.files WHERE source_file = 'retry.jsonl'") == [(0,)]
    monkeypatch.setenv("DATA_PLATFORM_PSEUDONYM_RETIRED_KEYS", K1)
    rotated = _rotate(warehouse)
    assert rotated["consent_records_rekeyed"] == 1
    assert {r["table_name"] for r in rotated["still_under_other_keys"]} == {
        "clean.events",
        "clean.filtered_events",
        "clean.identity_map",
    }
    run_pipeline(warehouse, landing)  # re-cleans the day under K2
    assert _rotate(warehouse) == {"key_id": key_id(K2), "consent_records_rekeyed": 0, "still_under_other_keys": []}
    assert query(warehouse, "SELECT erased_subject FROM raw.files WHERE source_file = 'retry.jsonl'") == [(1,)]
    assert not any(_rows_naming(warehouse, ANN_IDS).values())
    # Bob's phone is still left out under the new key
    assert query(warehouse, "SELECT event_id FROM clean.consent_exclusions") == [("b-login",)]
    assert query(warehouse, "SELECT count(*) FROM clean.events WHERE anon_id = ?", [pseudonymise(BOB_PHONE, K2)]) == [
        (0,)
    ]
    _request(landing, "r2.jsonl", {**ERASE_ANN, "request_id": "req-bob", "user_id": BOB})
    assert _apply(warehouse, landing)["erasures"] == 1
    assert query(warehouse, "SELECT count(*) FROM clean.events") == [(0,)]
    # his opt-out records go with him, the one made under K1 and its twin under K2
    assert query(warehouse, "SELECT count(*) FROM privacy.consent_history") == [(0,)]


def _rotate(warehouse) -> dict:
    from data_platform.privacy.keys import rotate_key

    with warehouse.connect() as con:
        return rotate_key(con)


# --- 4. the request files -------------------------------------------------------------------------------


def test_a_done_request_file_keeps_no_raw_id_and_is_still_read_once(warehouse, landing, monkeypatch):
    monkeypatch.setenv("DATA_PLATFORM_PSEUDONYM_KEY", K1)
    _world(landing)
    run_pipeline(warehouse, landing)
    original = [ERASE_ANN, "not json", {"request_id": "o", "anon_id": BOB_PHONE, "kind": "opt_out", "ts": ts(0)}]
    path = _request(landing, "r1.jsonl", *original)
    raw = path.read_bytes()
    summary = _apply(warehouse, landing)
    assert (summary["erasures"], summary["opt_outs"], summary["rejected_lines"]) == (1, 1, 1)
    text = path.read_text()
    assert ANN not in text and BOB_PHONE not in text
    lines = text.splitlines()
    assert json.loads(lines[0]) == {
        "request_id": "req-ann",
        "kind": "erase",
        "ts": "2026-11-20T10:00:00+00:00",
        "subject_kind": "user_id",
        "key_id": key_id(K1),
        "status": "applied",
    }
    assert lines[1] == "not json"  # a rejected line is kept as it came, for the operator to fix
    assert not list(landing.privacy_dir().glob(".*"))  # no temporary file left behind
    assert _apply(warehouse, landing)["requests"] == 0  # the rewritten file is not read again
    # the producer drops the original again: nothing is applied twice, the file is rewritten again
    path.write_bytes(raw)
    again = _apply(warehouse, landing)
    assert (again["erasures"], again["opt_outs"], again["already_applied"]) == (0, 0, 2)
    assert ANN not in path.read_text()
    assert query(warehouse, "SELECT count(*) FROM privacy.consent_history") == [(1,)]


# --- 5. the bytes of the warehouse file ----------------------------------------------------------------


def _file_bytes(database: str) -> bytes:
    return b"".join(p.read_bytes() for p in Path(database).parent.glob(Path(database).name + "*") if p.is_file())


def test_after_an_erasure_the_warehouse_files_bytes_hold_none_of_the_subjects_ids(warehouse, landing, monkeypatch):
    monkeypatch.setenv("DATA_PLATFORM_PSEUDONYM_KEY", K1)
    _world(landing)
    run_pipeline(warehouse, landing)
    # her raw ids (her pseudonyms stay on purpose, in privacy.erased_identifiers only: the tombstones)
    searched = [i.encode() for i in ANN_IDS]
    before = _file_bytes(warehouse.database)
    assert all(s in before for s in searched), [s for s in searched if s not in before]
    # what a plain DELETE leaves: the rows are gone from every table, their bytes are not
    _request(landing, "r1.jsonl", ERASE_ANN)
    summary = _apply(warehouse, landing)
    after = _file_bytes(warehouse.database)
    assert [s for s in searched if s in after] == []
    assert BOB_PHONE.encode() in after and BOB.encode() in after  # everyone else is still there
    assert summary["file_rewritten"]["bytes_after"] > 0
    assert query(warehouse, "SELECT status FROM privacy.requests") == [("done",)]
    # the rewritten warehouse is whole: the next run lands, cleans and checks as before
    result = run_pipeline(warehouse, landing)
    assert checks_by_name(result)["lines_accounted"].passed


def test_a_plain_delete_leaves_the_bytes_in_the_file(tmp_path):
    """Why the file is rewritten: DuckDB keeps a deleted value's bytes after DELETE and CHECKPOINT."""
    from data_platform.privacy.compaction import reclaim_deleted_bytes

    db = tmp_path / "w.duckdb"
    con = duckdb.connect(str(db))  # DuckDB's default storage format (v0.10.2)
    con.execute("CREATE TABLE t AS SELECT 'secret-' || (i % 7) AS v FROM range(500) r(i)")
    con.execute("DELETE FROM t WHERE v = 'secret-3'")
    con.execute("CHECKPOINT")
    con.close()
    assert b"secret-3" in db.read_bytes()
    reclaim_deleted_bytes(db)
    assert b"secret-3" not in db.read_bytes() and b"secret-4" in db.read_bytes()
    con = duckdb.connect(str(db), read_only=True)
    assert con.execute("SELECT count(*) FROM t").fetchone() == (500 - 71,)
    # the copy is written in the format of new warehouses: a file in DuckDB's default format is upgraded
    from data_platform.resources import STORAGE_VERSION

    version = "SELECT tags['storage_version'] FROM duckdb_databases() WHERE NOT internal"
    assert con.execute(version).fetchone() == (f"{STORAGE_VERSION}+",)
    con.close()


# --- 2. crash safety ------------------------------------------------------------------------------------

PAUSES = {
    # inside the erasure's transaction: some tables already emptied, nothing committed
    "erasing": {"kind": "statement", "name": "privacy/erase_rows.sql", "occurrence": 3},
    # the erasure committed, the request file rewritten, the file not yet recorded as read
    "closing_the_file": {"kind": "statement", "name": "privacy/insert_request_file.sql"},
    # rows erased and committed, the warehouse file being rewritten, not yet swapped in
    "rewriting_the_warehouse": {"kind": "statement", "name": "privacy/mark_reclaimed.sql"},
}


@pytest.fixture(scope="module")
def crash_world(tmp_path_factory):
    """A warehouse with Ann and Bob ingested and cleaned (key K1), copied for each crash test."""
    root = tmp_path_factory.mktemp("erasure_crash")
    landing = LandingZone(root=str(root / "landing"), settle_seconds=0)
    warehouse = Warehouse(database=str(root / "built" / "warehouse.duckdb"), memory_limit="1GB", threads=2)
    mp = pytest.MonkeyPatch()
    mp.setenv("DATA_PLATFORM_PSEUDONYM_KEY", K1)
    _world(landing)
    run_pipeline(warehouse, landing)
    mp.undo()
    return root, landing, warehouse


@pytest.mark.slow
@pytest.mark.parametrize("point", list(PAUSES))
def test_kill_9_during_an_erasure_and_the_next_run_completes_it(crash_world, tmp_path, monkeypatch, point):
    root, built_landing, built = crash_world
    landing = LandingZone(root=str(tmp_path / "landing"), settle_seconds=0)
    shutil.copytree(built_landing.root, landing.root)
    warehouse = Warehouse(
        database=str(copy_warehouse(built.database, tmp_path / "w" / "warehouse.duckdb")), memory_limit="1GB"
    )
    request = _request(landing, "r1.jsonl", ERASE_ANN)
    before = _rows_naming(warehouse, ANN_IDS)
    assert all(before[t] for t in ("raw.events", "clean.events"))
    spec = {
        "warehouse": warehouse.database,
        "landing": landing.root,
        "job": "process_privacy_requests",
        "pause": PAUSES[point],
        "env": {"DATA_PLATFORM_PSEUDONYM_KEY": K1},
    }
    child = run_child(spec, tmp_path / "child")
    assert child.killed and child.returncode == -9, child.stderr[-3000:]
    if point == "erasing":  # nothing of the erasure is visible: her rows, the open request, the file as sent
        assert _rows_naming(warehouse, ANN_IDS) == before
        assert query(warehouse, "SELECT count(*) FROM privacy.requests") == [(0,)]
        assert ANN in request.read_text()
    else:  # her rows are gone; the request is not done until the warehouse file is rewritten
        assert not any(_rows_naming(warehouse, ANN_IDS).values())
        assert query(warehouse, "SELECT status FROM privacy.requests") == [("erased",)]
    monkeypatch.setenv("DATA_PLATFORM_PSEUDONYM_KEY", K1)
    summary = _apply(warehouse, landing)
    # what the rerun still had to do: the erasure; the file (now holding only her pseudonym); the bytes
    expected = {"erasing": (1, 1, 0), "closing_the_file": (0, 0, 1), "rewriting_the_warehouse": (0, 0, 0)}[point]
    assert (summary["requests"], summary["erasures"], summary["already_applied"]) == expected
    assert summary["file_rewritten"] is not None
    assert not any(_rows_naming(warehouse, ANN_IDS).values())
    assert query(warehouse, "SELECT status FROM privacy.requests") == [("done",)]
    assert query(warehouse, "SELECT count(DISTINCT request_id), count(*) FROM privacy.erasure_audit")[0][0] == 1
    assert ANN not in request.read_text()
    assert [i for i in ANN_IDS if i.encode() in _file_bytes(warehouse.database)] == []
    assert not (Path(warehouse.database).parent / "warehouse.duckdb.compact").exists()
    assert _apply(warehouse, landing)["requests"] == 0


# --- 6. the person-table registry ---------------------------------------------------------------------

# Tables that hold no person (or hold one on purpose), each with why; every other table of a built warehouse
# must be in catalog.PERSON_TABLES, so a new table holding people cannot be forgotten by erasure.
NOT_A_PERSON_TABLE = {
    "raw.files": "file versions and their counts",
    "raw.file_id_counter": "the last file id handed out",
    "clean.unit_corrections": "per app version and day: counts and medians",
    "reference.fx_rates": "exchange rates",
    "labels.labeling_plan": "per dataset and class: counts",
    "splits.exports": "export versions: paths, counts, hashes",
    "provenance.invalidations": "what an operator declared bad: a file pattern, an app or rule version",
    "provenance.invalidation_audit": "per invalidation and table: counts",
    "privacy.request_files": "request file names and hashes",
    "privacy.requests": "request ids, kinds, when: no subject",
    "privacy.rejected_requests": "file, line, reason: no subject",
    "privacy.erasure_audit": "request id, table, counts: no subject",
    "privacy.erased_files": "paths and hashes of rewritten files",
    "privacy.pseudonym_keys": "key ids per table and day",
    "privacy.erased_identifiers": "the tombstones: keyed pseudonyms kept on purpose, so the subject stays out",
    "privacy.erasure_verifications": "request id, when, counts of places searched and with hits: no subject",
    "privacy.consent_history": "consent records: keyed pseudonyms; an erasure drops the subject's",
}


def test_every_table_holding_a_person_is_in_the_registry_and_an_erasure_leaves_none_of_them(
    warehouse, landing, tmp_path, monkeypatch
):
    from data_platform import catalog
    from data_platform.cleaning.assets import CLEANING_ASSETS
    from data_platform.ingestion.assets import raw_ingestion
    from data_platform.labeling.ctr_assets import ctr_examples
    from data_platform.labeling.review_assets import REVIEW_LABELING_ASSETS
    from data_platform.resources import LabelingDesk
    from data_platform.splits.assets import SPLIT_ASSETS

    monkeypatch.setenv("DATA_PLATFORM_PSEUDONYM_KEY", K1)
    _world(landing)
    ann_events = ["a-imp", "a-click", "a-review-2"]
    write_lines(
        landing.events_dir() / "c.jsonl",
        [
            event("a-imp", "impression", ts=ts(8), anon_id=ANN_PHONE, impression_id="imp-ann", user_agent=CHROME),
            event("a-click", "click", ts=ts(9), anon_id=ANN_PHONE, impression_id="imp-ann", user_agent=CHROME),
            event("a-review-2", "review", ts=ts(11), anon_id=ANN_LAPTOP, text="meh", user_agent=CHROME),
            event("b-imp", "impression", ts=ts(8), anon_id=BOB_PHONE, impression_id="imp-bob", user_agent=CHROME),
            event("b-review", "review", ts=ts(10), anon_id=BOB_PHONE, text="okay", user_agent=CHROME),
            event("b-later", "login", ts=ts(0, hour=11), anon_id=BOB_PHONE, user_id=BOB, user_agent=CHROME),
        ],
    )
    # her laptop opted out first: the clean step keeps its events aside (clean.consent_exclusions)
    _request(landing, "r0.jsonl", {"request_id": "o", "anon_id": ANN_LAPTOP, "kind": "opt_out", "ts": ts(0)})
    _apply(warehouse, landing)
    resources = {"warehouse": warehouse, "landing": landing, "labeling": LabelingDesk(root=str(tmp_path / "desk"))}
    day = {"partition_key": "2026-11-02"}
    assert dg.materialize([raw_ingestion, *CLEANING_ASSETS, ctr_examples], resources=resources, **day).success
    assert dg.materialize(REVIEW_LABELING_ASSETS, resources=resources).success
    assert dg.materialize(SPLIT_ASSETS, resources=resources).success
    assert query(warehouse, "SELECT count(*) FROM clean.consent_exclusions") != [(0,)]

    tables = [f"{s}.{t}" for s, t in query(warehouse, "SELECT schema_name, table_name FROM duckdb_tables()")]
    unlisted = sorted(t for t in tables if t not in catalog.PERSON_TABLES and t not in NOT_A_PERSON_TABLE)
    assert unlisted == []

    event_ids = [r[0] for r in query(warehouse, "SELECT event_id FROM raw.events WHERE event_id LIKE 'a-%'")]
    assert set(ann_events) <= set(event_ids)
    hers = [*ANN_IDS, *(pseudonymise(i, K1) for i in ANN_IDS), *event_ids, "t-ann", "imp-ann"]

    def naming_her():
        found = {}
        for table in tables:
            if table in NOT_A_PERSON_TABLE:
                continue
            text = " ".join(str(v) for r in query(warehouse, f"SELECT * FROM {table}") for v in r)
            hits = [h for h in hers if h in text]
            if hits:
                found[table] = hits
        return found

    before = naming_her()
    assert {"labels.tasks", "splits.ctr_examples", "clean.consent_exclusions", "raw.landed_lines"} <= set(before)
    _request(landing, "r1.jsonl", ERASE_ANN)
    assert _apply(warehouse, landing)["erasures"] == 1
    assert naming_her() == {}
