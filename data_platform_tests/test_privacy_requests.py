"""Consent and erasure, end to end: real ingestion and cleaning, then the real job and sensor."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import dagster as dg

from data_platform.base.pseudonyms import key_id, pseudonym_key, pseudonymise
from data_platform.definitions import defs, process_privacy_requests
from data_platform.privacy.certificate import certificate_paths
from data_platform.resources import certificates_root
from data_platform_tests.conftest import checks_by_name, event, query, write_lines
from data_platform_tests.test_cleaning import CHROME, run_pipeline, ts


def _world(landing):
    """Ann (two own devices), Bob (one device), and a tablet both use; one quarantined line of Ann's."""
    lines = [
        event("a-login-1", "login", ts=ts(1), anon_id="ann-phone", user_id="ann", user_agent=CHROME),
        event("a-login-2", "login", ts=ts(2), anon_id="ann-laptop", user_id="ann", user_agent=CHROME),
        event("a-review", "review", ts=ts(3), anon_id="ann-phone", text="love it", user_agent=CHROME),
        event("a-view", "login", ts=ts(4), anon_id="ann-laptop", user_id="ann", user_agent=CHROME),
        event("t-ann", "login", ts=ts(5), anon_id="tablet", user_id="ann", user_agent=CHROME),
        event("t-bob", "login", ts=ts(6), anon_id="tablet", user_id="bob", user_agent=CHROME),
        event("b-login", "login", ts=ts(7), anon_id="bob-phone", user_id="bob", user_agent=CHROME),
        json.dumps({"event_id": "broken", "event_type": "login", "anon_id": "ann-phone", "ts": "yesterday"}),
    ]
    write_lines(landing.events_dir() / "a.jsonl", lines)
    write_lines(landing.events_dir() / "b.jsonl", [lines[6]])  # a duplicate delivery of Bob's login


def _request(landing, name, *requests):
    landing.privacy_dir().mkdir(parents=True, exist_ok=True)
    write_lines(landing.privacy_dir() / name, list(requests))


def _apply(warehouse, landing):
    result = process_privacy_requests.execute_in_process(resources={"warehouse": warehouse, "landing": landing})
    assert result.success
    return result.output_for_node("apply_privacy_requests")


def _event_ids(warehouse, table):
    return sorted(r[0] for r in query(warehouse, f"SELECT event_id FROM {table}"))


def test_erasing_a_user_removes_them_everywhere_and_keeps_everyone_else(warehouse, landing):
    _world(landing)
    run_pipeline(warehouse, landing)
    _request(
        landing, "r1.jsonl", {"request_id": "req-1", "user_id": "ann", "kind": "erase", "ts": "2026-11-20T10:00:00Z"}
    )
    summary = _apply(warehouse, landing)
    assert summary["erasures"] == 1 and not any(summary["rows_remaining"].values())
    # Ann's own devices and the events naming her are gone; Bob and Bob's use of the tablet stay
    assert _event_ids(warehouse, "raw.events") == ["b-login", "b-login", "t-bob"]
    assert _event_ids(warehouse, "clean.events") == ["b-login", "t-bob"]
    assert query(warehouse, "SELECT count(*) FROM raw.quarantine") == [(0,)]  # her broken line too
    assert query(
        warehouse, "SELECT count(*) FROM raw.landed_lines WHERE event_id LIKE 'a-%' OR event_id = 't-ann'"
    ) == [(0,)]
    assert summary["rows_removed"]["raw.events"] == 5 and summary["rows_removed"]["raw.quarantine"] == 1
    # the audit says what happened without naming her
    audit = query(warehouse, "SELECT request_id, table_name, rows_removed FROM privacy.erasure_audit ORDER BY 2")
    assert ("req-1", "raw.events", 5) in audit
    pseudo = pseudonymise("ann", pseudonym_key())
    for table in ("privacy.requests", "privacy.erasure_audit", "privacy.consent_history", "privacy.rejected_requests"):
        text = str(query(warehouse, f"SELECT * FROM {table}"))
        assert "ann" not in text and pseudo not in text, table
    # re-cleaning after the erasure still balances
    result = run_pipeline(warehouse, landing)
    assert checks_by_name(result)["raw_rows_accounted"].passed


def labeling_world(warehouse, landing, desk):
    """:func:`_world` plus impressions, a click and Bob's review, run through ingestion, cleaning, click
    labels, the review labeling assets (a task batch written to ``desk``) and the splits."""
    from data_platform.cleaning.assets import CLEANING_ASSETS
    from data_platform.ingestion.assets import raw_ingestion
    from data_platform.labeling.ctr_assets import ctr_examples
    from data_platform.labeling.review_assets import REVIEW_LABELING_ASSETS
    from data_platform.resources import LabelingDesk

    _world(landing)
    write_lines(
        landing.events_dir() / "c.jsonl",
        [
            event("a-imp", "impression", ts=ts(8), anon_id="ann-phone", impression_id="imp-ann", user_agent=CHROME),
            event("a-click", "click", ts=ts(9), anon_id="ann-phone", impression_id="imp-ann", user_agent=CHROME),
            event("b-imp", "impression", ts=ts(8), anon_id="bob-phone", impression_id="imp-bob", user_agent=CHROME),
            event("b-review", "review", ts=ts(10), anon_id="bob-phone", text="okay", user_agent=CHROME),
            # an hour later: the impressions' click windows have closed, so they are mature and get split
            event("b-later", "login", ts=ts(0, hour=11), anon_id="bob-phone", user_id="bob", user_agent=CHROME),
        ],
    )
    resources = {"warehouse": warehouse, "landing": landing, "labeling": LabelingDesk(root=str(desk))}
    assert dg.materialize(
        [raw_ingestion, *CLEANING_ASSETS, ctr_examples], resources=resources, partition_key="2026-11-02"
    ).success
    assert dg.materialize(REVIEW_LABELING_ASSETS, resources=resources).success
    from data_platform.splits.assets import SPLIT_ASSETS

    split = dg.materialize(SPLIT_ASSETS, resources=resources)
    assert {e.asset_key.to_user_string() for e in split.get_asset_materialization_events()} == {
        "splits/ctr_examples",
        "splits/review_examples",
    }
    return resources


def test_erasure_reaches_the_labeling_tables(warehouse, landing, tmp_path):
    labeling_world(warehouse, landing, tmp_path / "desk")
    tables = {
        "labels.ctr_examples": "impression_event_id",
        "labels.reviews": "review_id",
        "splits.review_examples": "example_id",
        "labels.label_matrix": "example_id",
        "labels.weak_labels": "review_id",
        "labels.review_examples": "review_id",
        "labels.tasks": "review_id",
    }
    before = {t: _ids(warehouse, t, c) for t, c in tables.items()}
    for table, ids in before.items():  # both people have rows in every table: the erasure has something to do
        assert any(i.startswith("a-") for i in ids) and any(not i.startswith("a-") for i in ids), (table, ids)
    _request(
        landing, "r1.jsonl", {"request_id": "req-1", "user_id": "ann", "kind": "erase", "ts": "2026-11-20T10:00:00Z"}
    )
    summary = _apply(warehouse, landing)
    assert not any(summary["rows_remaining"].values())
    after = {t: _ids(warehouse, t, c) for t, c in tables.items()}
    assert _ids(warehouse, "splits.ctr_examples", "example_id") == {"imp-bob"}  # Ann's impression is gone
    for table, ids in after.items():
        assert not {i for i in ids if i.startswith("a-")}, table
        assert ids == {i for i in before[table] if not i.startswith("a-")}, table  # Bob's rows stay


def _ids(warehouse, table, column):
    return {r[0] for r in query(warehouse, f"SELECT {column} FROM {table}")}


def test_erasing_a_device_and_rejecting_bad_requests_and_reading_files_once(warehouse, landing):
    _world(landing)
    run_pipeline(warehouse, landing)
    _request(
        landing,
        "r2.jsonl",
        {"request_id": "req-2", "anon_id": "bob-phone", "kind": "erase", "ts": "2026-11-20T10:00:00Z"},
        "not json",
        {"request_id": "x", "kind": "erase", "ts": "2026-11-20T10:00:00Z"},
        {"request_id": "y", "user_id": "bob", "kind": "forget_me", "ts": "2026-11-20T10:00:00Z"},
    )
    summary = _apply(warehouse, landing)
    assert (summary["erasures"], summary["rejected_lines"]) == (1, 3)
    assert "b-login" not in _event_ids(warehouse, "raw.events")
    assert "t-bob" in _event_ids(warehouse, "raw.events")  # his login on the shared tablet is another device
    reasons = sorted(r[0] for r in query(warehouse, "SELECT reason FROM privacy.rejected_requests"))
    assert reasons == ["needs_exactly_one_of_user_id_anon_id", "not_json", "unknown_kind"]
    assert _apply(warehouse, landing)["requests"] == 0  # the same file is not applied twice


def test_opt_out_applies_from_the_next_materialization_on(warehouse, landing):
    _world(landing)
    run_pipeline(warehouse, landing)
    before = _event_ids(warehouse, "clean.events")
    _request(
        landing, "r3.jsonl", {"request_id": "req-3", "user_id": "bob", "kind": "opt_out", "ts": "2026-11-20T10:00:00Z"}
    )
    assert _apply(warehouse, landing)["opt_outs"] == 1
    assert _event_ids(warehouse, "clean.events") == before  # history is not rewritten by the request
    result = run_pipeline(warehouse, landing)
    after = _event_ids(warehouse, "clean.events")
    assert "b-login" in before and "b-login" not in after and "t-bob" not in after
    assert "a-review" in after
    assert query(warehouse, "SELECT count(*) FROM clean.consent_exclusions") == [(2,)]
    assert checks_by_name(result)["raw_rows_accounted"].passed
    [(kind, status)] = query(warehouse, "SELECT subject_kind, status FROM privacy.consent_history")
    assert (kind, status) == ("user_id", "opted_out")


def test_the_privacy_sensor_requests_a_run_for_new_request_files_not_for_its_runs_rewrites(warehouse, landing):
    sensor = defs.get_sensor_def("privacy_request_sensor")
    assert sensor.default_status == dg.DefaultSensorStatus.RUNNING

    def tick(cursor=None):
        context = dg.build_sensor_context(
            cursor=cursor, resources={"landing": landing, "warehouse": warehouse}, definitions=defs
        )
        result = sensor.evaluate_tick(context)
        return result.run_requests or [], result.cursor

    _world(landing)
    run_pipeline(warehouse, landing)
    requests, cursor = tick()
    assert requests == []
    _request(landing, "r.jsonl", {"request_id": "q", "user_id": "ann", "kind": "erase", "ts": "2026-11-20T10:00:00Z"})
    requests, cursor = tick(cursor)
    assert len(requests) == 1
    assert tick(cursor)[0] == []

    # the run rewrites the file it processed (no raw id left): a change the sensor must not take for a new request
    path = landing.privacy_dir() / "r.jsonl"
    before = path.read_bytes()
    _apply(warehouse, landing)
    assert path.read_bytes() != before
    requests, cursor = tick(cursor)
    assert requests == []
    # new bytes under the name (an operator adds a request) are new again
    added = {"request_id": "q2", "user_id": "bob", "kind": "erase", "ts": "2026-11-20T11:00:00Z"}
    with path.open("a") as f:
        f.write(json.dumps(added) + "\n")
    assert len(tick(cursor)[0]) == 1
    # while another process writes the warehouse (DuckDB: no reader beside it) the sensor decides on a later tick
    writer = subprocess.Popen(
        [sys.executable, "-c", HOLD_THE_WRITER, warehouse.database], stdin=subprocess.PIPE, stdout=subprocess.PIPE
    )
    try:
        assert writer.stdout.readline() == b"holding\n"
        requests, held = tick(cursor)
    finally:
        writer.communicate(b"")  # its stdin closes: it lets go
    assert requests == [] and held == cursor
    assert len(tick(cursor)[0]) == 1  # and decides once the writer is gone


# a process that opens the warehouse for writing and holds it until its stdin closes
HOLD_THE_WRITER = "import duckdb, sys; c = duckdb.connect(sys.argv[1]); print('holding', flush=True); sys.stdin.read()"


def test_an_erasure_records_every_identifier_of_the_subject_as_a_keyed_pseudonym(warehouse, landing):
    """Her user id, her devices, the address only she used, the e-mail and phone in her text, as pseudonyms under
    the key's id; the address she shares with Bob is not hers alone, and no raw value is stored."""
    _world(landing)
    write_lines(
        landing.events_dir() / "c.jsonl",
        [
            event("a-ip", "login", ts=ts(8), anon_id="ann-phone", user_id="ann", ip="10.1.1.1", user_agent=CHROME),
            event("a-shared", "login", ts=ts(9), anon_id="ann-phone", user_id="ann", ip="10.2.2.2", user_agent=CHROME),
            event("b-shared", "login", ts=ts(9), anon_id="bob-phone", user_id="bob", ip="10.2.2.2", user_agent=CHROME),
            event("a-mail", "review", ts=ts(10), anon_id="ann-laptop", user_agent=CHROME,
                  text="write to ann.lee@example.org or call +44 20 7946 0958"),
        ],
    )  # fmt: skip
    run_pipeline(warehouse, landing)
    _request(
        landing, "r1.jsonl", {"request_id": "req-1", "user_id": "ann", "kind": "erase", "ts": "2026-11-20T10:00:00Z"}
    )
    _apply(warehouse, landing)
    key = pseudonym_key()
    rows = query(warehouse, "SELECT identifier_kind, pseudonym, key_id, request_id FROM privacy.erased_identifiers")
    assert {r[2:] for r in rows} == {(key_id(key), "req-1")}
    expected = {
        ("user_id", "ann"),
        ("anon_id", "ann-phone"),
        ("anon_id", "ann-laptop"),
        ("ip", "10.1.1.1"),
        ("email", "ann.lee@example.org"),
        ("phone", "+44 20 7946 0958"),
        ("person_key", "u:ann"),
        ("person_key", "a:ann-phone"),
        ("person_key", "a:ann-laptop"),
    }
    assert {r[:2] for r in rows} == {(kind, pseudonymise(value, key)) for kind, value in expected}
    stored = " ".join(str(v) for r in query(warehouse, "SELECT * FROM privacy.erased_identifiers") for v in r)
    assert not any(value in stored for _, value in expected)


def test_an_erasure_before_any_data_landed_is_applied_and_keeps_the_subject_out_of_later_landings(warehouse, landing):
    """A request that arrives before the first ingestion (no raw.events yet) is applied, not a CatalogException:
    there is nothing to remove yet, and the subject's lines that land later are dropped as they land."""
    _request(
        landing, "r1.jsonl", {"request_id": "req-1", "user_id": "ann", "kind": "erase", "ts": "2026-11-20T10:00:00Z"}
    )
    summary = _apply(warehouse, landing)  # the job: apply, then verify (which passed, or the run would fail)
    assert summary["erasures"] == 1 and not any(summary["rows_removed"].values())
    assert query(warehouse, "SELECT request_id, status FROM privacy.requests") == [("req-1", "done")]
    assert query(warehouse, "SELECT request_id, passed FROM privacy.erasure_verifications") == [("req-1", True)]
    # its certificate: no table held her yet (none audited), erased at the time of its tombstones
    cert = json.loads(certificate_paths(certificates_root(), "req-1")[0].read_text())
    assert cert["passed"] and cert["tables"] == [] and cert["erased_at"].startswith("20")
    # known by the request's id alone: no device of hers had landed; the privacy job created no raw table
    kinds = sorted(r[0] for r in query(warehouse, "SELECT identifier_kind FROM privacy.erased_identifiers"))
    assert kinds == ["person_key", "user_id"]
    assert query(warehouse, "SELECT count(*) FROM duckdb_tables() WHERE schema_name = 'raw'") == [(0,)]
    _world(landing)
    result = run_pipeline(warehouse, landing)
    assert checks_by_name(result)["lines_accounted"].passed and checks_by_name(result)["raw_rows_accounted"].passed
    # every line naming Ann is dropped; her phone's review names no one, and nothing ties that device to her any
    # more (its logins were dropped): it lands as an unknown device's, as after an erasure (docs/privacy.md)
    assert _event_ids(warehouse, "raw.events") == ["a-review", "b-login", "b-login", "t-bob"]
    assert _event_ids(warehouse, "clean.events") == ["a-review", "b-login", "t-bob"]
    assert query(warehouse, "SELECT sum(erased_subject) FROM raw.files") == [(4,)]


def test_the_privacy_sensor_asks_for_a_run_for_a_request_that_arrives_before_the_warehouse_exists(warehouse, landing):
    """The sensor path before any data: no warehouse file yet, the request file is new, a run is requested (the
    run itself: the test above)."""
    _request(
        landing, "r1.jsonl", {"request_id": "req-1", "user_id": "ann", "kind": "erase", "ts": "2026-11-20T10:00:00Z"}
    )
    assert not Path(warehouse.database).exists()
    context = dg.build_sensor_context(resources={"landing": landing, "warehouse": warehouse}, definitions=defs)
    result = defs.get_sensor_def("privacy_request_sensor").evaluate_tick(context)
    assert len(result.run_requests or []) == 1
    assert not Path(warehouse.database).exists()  # the sensor only reads


def test_an_erasure_after_ingestion_before_the_first_clean_run_erases_raw_and_the_clean_run_never_sees_her(
    warehouse, landing
):
    """raw.* exist, clean.* not yet: the raw rows go, the missing clean tables hold no one (the request creates
    none of them), and the first clean run builds them without her."""
    from data_platform.ingestion.assets import raw_ingestion

    _world(landing)
    assert dg.materialize(
        [raw_ingestion], resources={"warehouse": warehouse, "landing": landing}, partition_key="2026-11-02"
    ).success
    assert query(warehouse, "SELECT count(*) FROM duckdb_tables() WHERE schema_name = 'clean'") == [(0,)]
    _request(
        landing, "r1.jsonl", {"request_id": "req-1", "user_id": "ann", "kind": "erase", "ts": "2026-11-20T10:00:00Z"}
    )
    summary = _apply(warehouse, landing)
    assert summary["rows_removed"]["raw.events"] == 5 and summary["rows_removed"]["raw.quarantine"] == 1
    assert not any(t.startswith("clean.") for t in summary["rows_removed"])
    assert query(warehouse, "SELECT count(*) FROM duckdb_tables() WHERE schema_name = 'clean'") == [(0,)]
    assert _event_ids(warehouse, "raw.events") == ["b-login", "b-login", "t-bob"]
    result = run_pipeline(warehouse, landing)
    assert checks_by_name(result)["raw_rows_accounted"].passed
    assert _event_ids(warehouse, "clean.events") == ["b-login", "t-bob"]
    pseudonyms = [pseudonymise(i, pseudonym_key()) for i in ("ann", "ann-phone", "ann-laptop")]
    assert query(
        warehouse, "SELECT count(*) FROM clean.identity_map WHERE anon_id IN (SELECT unnest(?))", [pseudonyms]
    ) == [(0,)]


def test_requests_before_any_data_from_the_command_line_a_device_erased_and_an_opt_out(warehouse, landing, monkeypatch):
    """``data-platform privacy`` on a warehouse that does not exist yet: a device's erasure and Bob's opt-out are
    applied; later, every line of that device is dropped at landing and Bob is left out of the clean layer;
    the erasure verifies."""
    from data_platform.cli.admin import cmd_privacy
    from data_platform.privacy.certificate import verify_and_certify
    from data_platform.privacy.verify import SearchRoots

    monkeypatch.setenv("DATA_PLATFORM_WAREHOUSE", warehouse.database)
    monkeypatch.setenv("DATA_PLATFORM_LANDING", landing.root)
    _request(
        landing,
        "r1.jsonl",
        {"request_id": "req-1", "anon_id": "ann-phone", "kind": "erase", "ts": "2026-11-20T10:00:00Z"},
        {"request_id": "req-2", "user_id": "bob", "kind": "opt_out", "ts": "2026-11-20T10:00:00Z"},
    )
    assert cmd_privacy(None) == 0
    assert query(warehouse, "SELECT request_id, status FROM privacy.requests ORDER BY 1") == [
        ("req-1", "done"),
        ("req-2", "done"),
    ]
    _world(landing)
    result = run_pipeline(warehouse, landing)
    assert checks_by_name(result)["lines_accounted"].passed
    # the phone's login, review and broken line never land; Bob's events land and are left out of clean
    assert _event_ids(warehouse, "raw.events") == ["a-login-2", "a-view", "b-login", "b-login", "t-ann", "t-bob"]
    assert query(warehouse, "SELECT count(*) FROM raw.quarantine") == [(0,)]
    assert _event_ids(warehouse, "clean.events") == ["a-login-2", "a-view", "t-ann"]
    with warehouse.connect() as con:
        roots = SearchRoots(Path(warehouse.database), {"landing": Path(landing.root)}, None)
        [(verification, _)] = verify_and_certify(con, ["req-1"], roots, certificates_root())
    assert verification.passed


def test_a_key_rotation_before_any_data_landed_has_nothing_to_rekey_and_does_not_fail(warehouse, landing, monkeypatch):
    """On a new warehouse, and with an opt-out recorded under the first key before any event landed: rotation
    finds no raw id to re-key through (docs/privacy.md), and says so instead of failing on the missing tables."""
    from data_platform.privacy.keys import rotate_key

    monkeypatch.setenv("DATA_PLATFORM_PSEUDONYM_KEY", "first-key-of-the-platform-0001")
    monkeypatch.setenv("DATA_PLATFORM_PSEUDONYM_RETIRED_KEYS", "an-even-older-key-of-the-platform")
    with warehouse.connect() as con:  # no privacy table yet
        assert rotate_key(con)["consent_records_rekeyed"] == 0
    _request(landing, "r1.jsonl", {"request_id": "o", "user_id": "bob", "kind": "opt_out", "ts": ts(0)})
    assert _apply(warehouse, landing)["opt_outs"] == 1
    monkeypatch.setenv("DATA_PLATFORM_PSEUDONYM_KEY", "second-key-after-rotation-0002")
    monkeypatch.setenv("DATA_PLATFORM_PSEUDONYM_RETIRED_KEYS", "first-key-of-the-platform-0001")
    with warehouse.connect() as con:
        rotated = rotate_key(con)
    assert (rotated["consent_records_rekeyed"], rotated["still_under_other_keys"]) == (0, [])
