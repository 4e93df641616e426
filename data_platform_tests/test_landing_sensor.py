"""The landing sensor over several ticks, with build_sensor_context, the real definitions and a real
warehouse whose raw.files ledger says which files are landed."""

from __future__ import annotations

import json
import subprocess
import sys

import dagster as dg
import pytest

from data_platform.definitions import defs
from data_platform.ingestion.landing import list_landing_files
from data_platform.ingestion.sensors import LandingCursor, plan_tick, read_ledger
from data_platform_tests.conftest import event, ingest, write_lines


@pytest.fixture
def landing_tick(landing, warehouse):
    """``tick(instance, cursor=None)``: evaluate the real sensor once over the test's landing folder and
    warehouse; returns (run requests, new cursor); the tick's skip reason is kept in ``tick.skipped``."""

    def tick(instance, cursor=None):
        sensor = defs.get_sensor_def("landing_sensor")
        context = dg.build_sensor_context(
            cursor=cursor, instance=instance, resources={"landing": landing, "warehouse": warehouse}, definitions=defs
        )
        result = sensor.evaluate_tick(context)
        tick.skipped = result.skip_message
        return result.run_requests or [], result.cursor

    return tick


def days_of(requests):
    return sorted(r.partition_key for r in requests)


def test_sensor_is_running_by_default_and_targets_the_daily_pipeline():
    sensor = defs.get_sensor_def("landing_sensor")
    assert sensor.default_status == dg.DefaultSensorStatus.RUNNING
    assert sensor.job_name == "daily_pipeline"


def test_new_file_is_requested_for_exactly_its_days_once_stable(landing, landing_tick):
    instance = dg.DagsterInstance.ephemeral()
    write_lines(
        landing.events_dir() / "a.jsonl",
        [
            event("a", ts="2026-11-02T10:00:00Z"),
            event("late", ts="2026-11-01T23:00:00-02:00"),
            "junk",
        ],
    )
    requests, cursor = landing_tick(instance)
    assert requests == []  # first sight: wait one tick for the file to be stable
    requests, cursor = landing_tick(instance, cursor)
    assert days_of(requests) == ["2026-11-02"]  # 23:00 at -02:00 is 01:00 UTC on the 2nd
    requests, cursor = landing_tick(instance, cursor)
    assert requests == []  # nothing new
    write_lines(
        landing.events_dir() / "b.jsonl", [event("b", ts="2026-11-03T10:00:00Z"), event("c", ts="2026-11-05T10:00:00Z")]
    )
    _, cursor = landing_tick(instance, cursor)
    requests, cursor = landing_tick(instance, cursor)
    assert days_of(requests) == ["2026-11-03", "2026-11-05"]
    assert len({r.run_key for r in requests}) == 2


def test_a_file_still_being_written_is_not_requested(landing, landing_tick):
    instance = dg.DagsterInstance.ephemeral()
    path = landing.events_dir() / "growing.jsonl"
    write_lines(path, [event("a", ts="2026-11-02T10:00:00Z")])
    _, cursor = landing_tick(instance)
    with open(path, "a") as fh:  # the producer appends between the two ticks
        fh.write('{"event_id": "b", "event_type": "lo')
    requests, cursor = landing_tick(instance, cursor)
    assert requests == []
    with open(path, "a") as fh:
        fh.write('gin", "ts": "2026-11-04T10:00:00Z", "anon_id": "x", "user_id": "u"}\n')
    requests, cursor = landing_tick(instance, cursor)
    assert requests == []  # changed again: one more tick
    requests, cursor = landing_tick(instance, cursor)
    assert days_of(requests) == ["2026-11-02", "2026-11-04"]


def test_files_with_older_mtimes_arriving_later_are_still_seen(landing, landing_tick):
    instance = dg.DagsterInstance.ephemeral()
    write_lines(landing.events_dir() / "new.jsonl", [event("n", ts="2026-11-03T10:00:00Z")], age_seconds=60)
    _, cursor = landing_tick(instance)
    requests, cursor = landing_tick(instance, cursor)
    assert days_of(requests) == ["2026-11-03"]
    # a file copied in with its original, much older mtime
    write_lines(landing.events_dir() / "old.jsonl", [event("o", ts="2026-11-02T10:00:00Z")], age_seconds=86400 * 5)
    _, cursor = landing_tick(instance, cursor)
    requests, cursor = landing_tick(instance, cursor)
    assert days_of(requests) == ["2026-11-02"]


def test_a_changed_file_reruns_its_old_and_new_days_with_a_new_run_key(landing, warehouse, landing_tick):
    instance = dg.DagsterInstance.ephemeral()
    path = write_lines(landing.events_dir() / "a.jsonl", [event("a", ts="2026-11-02T10:00:00Z")])
    _, cursor = landing_tick(instance)
    first, cursor = landing_tick(instance, cursor)
    ingest(warehouse, landing, "2026-11-02", instance=instance)  # the ledger now knows its days
    write_lines(path, [event("b", ts="2026-11-06T10:00:00Z")], age_seconds=30)
    _, cursor = landing_tick(instance, cursor)
    second, cursor = landing_tick(instance, cursor)
    assert days_of(second) == ["2026-11-02", "2026-11-06"]
    assert {r.run_key for r in first}.isdisjoint({r.run_key for r in second})


def test_run_requests_per_tick_are_capped_and_the_rest_wait(landing):
    lines = [event(f"e{d}", ts=f"2026-11-{d:02d}T10:00:00Z") for d in range(1, 16)]
    write_lines(landing.events_dir() / "wide.jsonl", lines)
    files = list_landing_files(landing.events_dir())
    import datetime as dt

    from data_platform.ingestion.landing import scan_file_days

    def scan(lf):
        return scan_file_days(
            lf.path,
            lf.compressed,
            min_ts=dt.datetime(2026, 11, 1, tzinfo=dt.UTC),
            max_ts=dt.datetime(2026, 12, 1, tzinfo=dt.UTC),
            fallback_day=dt.date(2026, 11, 1),
        )

    cursor = LandingCursor()
    requests, cursor, _ = plan_tick(cursor, files, {}, scan, max_runs=4)
    assert requests == []
    seen = []
    for _ in range(4):
        requests, cursor, _ = plan_tick(LandingCursor.load(cursor.dump()), files, {}, scan, max_runs=4)
        assert len(requests) <= 4
        seen += [r.day for r in requests]
    assert seen == [f"2026-11-{d:02d}" for d in range(1, 16)]
    assert cursor.backlog == {}


def test_days_that_are_not_partitions_yet_wait_in_the_backlog(landing):
    write_lines(landing.events_dir() / "a.jsonl", [event("a", ts="2026-11-02T10:00:00Z")])
    files = list_landing_files(landing.events_dir())
    import datetime as dt

    scan = lambda lf: [dt.date(2026, 11, 2), dt.date(2099, 1, 1)]  # noqa: E731
    cursor = LandingCursor()
    _, cursor, _ = plan_tick(cursor, files, {}, scan)
    requests, cursor, _ = plan_tick(cursor, files, {}, scan, is_partition=lambda d: d < "2030")
    assert [r.day for r in requests] == ["2026-11-02"]
    assert list(cursor.backlog) == ["2099-01-01"]


def test_the_scan_stops_at_its_time_budget_and_resumes(landing):
    for i in range(3):
        write_lines(landing.events_dir() / f"f{i}.jsonl", [event(f"e{i}", ts=f"2026-11-0{i + 2}T10:00:00Z")])
    files = list_landing_files(landing.events_dir())
    import datetime as dt

    ticks = iter([0.0, 0.0, 100.0, 100.0, 100.0])
    scan = lambda lf: [dt.date(2026, 11, int(lf.rel[1]) + 2)]  # noqa: E731
    cursor = LandingCursor()
    _, cursor, _ = plan_tick(cursor, files, {}, scan)
    requests, cursor, log = plan_tick(cursor, files, {}, scan, budget_seconds=10, clock=lambda: next(ticks))
    assert [r.day for r in requests] == [
        "2026-11-02"
    ] and "scan budget used up, 2 stable files wait for the next tick" in log
    requests, cursor, _ = plan_tick(cursor, files, {}, scan)
    assert [r.day for r in requests] == ["2026-11-03", "2026-11-04"]


def test_sensor_run_request_materializes_the_requested_day(landing, warehouse, landing_tick):
    """Tick the sensor, then execute its run request's partition as the daemon would."""
    from data_platform.ingestion.assets import raw_ingestion
    from data_platform_tests.conftest import query

    instance = dg.DagsterInstance.ephemeral()
    write_lines(landing.events_dir() / "a.jsonl", [event("a", ts="2026-11-02T10:00:00Z")])
    _, cursor = landing_tick(instance)
    [request], _ = landing_tick(instance, cursor)
    ingest(warehouse, landing, request.partition_key, instance=instance)
    assert query(warehouse, "SELECT event_id, event_date::VARCHAR FROM raw.events") == [("a", "2026-11-02")]
    assert raw_ingestion.partitions_def.has_partition_key(request.partition_key)


def test_files_landed_by_any_run_are_not_requested_and_the_cursor_stays_small(landing, warehouse, landing_tick):
    """A backfill or ``dg launch`` (the demo) landed the files: the sensor's first ticks request nothing,
    and its cursor does not list them (the ledger, raw.files, does)."""
    instance = dg.DagsterInstance.ephemeral()
    for day in range(1, 8):
        for hour in range(0, 24, 6):
            write_lines(
                landing.events_dir() / f"2026-11-{day:02d}" / f"{hour:02d}.jsonl",
                [event(f"e{day}-{hour}", ts=f"2026-11-{day:02d}T{hour:02d}:30:00Z")],
            )
    ingest(warehouse, landing, ("2026-11-01", "2026-11-07"), instance=instance)
    requests, cursor = landing_tick(instance)
    assert requests == [] and landing_tick.skipped == "28 files landed"
    requests, cursor = landing_tick(instance, cursor)
    assert requests == []
    state = json.loads(cursor)
    assert {k: v for k, v in state.items() if k != "landed_until"} == {"backlog": {}, "pending": {}, "requested": {}}
    assert state["landed_until"]  # the ledger entries looked at, as one timestamp


def test_a_file_another_run_landed_is_cut_on_its_other_days(landing, warehouse, landing_tick):
    """Every run lands every new file: a run for 2026-11-02 lands a file that also has lines on 11-03 and
    11-04 before the sensor has seen it. The sensor asks for those other days, not for 11-02."""
    instance = dg.DagsterInstance.ephemeral()
    write_lines(landing.events_dir() / "old.jsonl", [event("o", ts="2026-11-02T10:00:00Z")])
    ingest(warehouse, landing, "2026-11-02", instance=instance)
    _, cursor = landing_tick(instance)  # everything so far was cut by its run
    write_lines(
        landing.events_dir() / "wide.jsonl",
        [
            event("a", ts="2026-11-02T11:00:00Z"),
            event("b", ts="2026-11-03T10:00:00Z"),
            event("c", ts="2026-11-04T10:00:00Z"),
        ],
    )
    ingest(warehouse, landing, "2026-11-02", instance=instance)  # a backfill run of 11-02 lands it too
    requests, cursor = landing_tick(instance, cursor)
    assert days_of(requests) == ["2026-11-03", "2026-11-04"]
    requests, cursor = landing_tick(instance, cursor)
    assert requests == []


def test_requested_files_leave_the_cursor_once_a_run_lands_them(landing, warehouse, landing_tick):
    instance = dg.DagsterInstance.ephemeral()
    write_lines(
        landing.events_dir() / "a.jsonl", [event("a", ts="2026-11-02T10:00:00Z"), event("b", ts="2026-11-03T10:00:00Z")]
    )
    _, cursor = landing_tick(instance)
    assert landing_tick.skipped == "0 files landed; 1 files seen once, taken when unchanged on the next tick"
    requests, cursor = landing_tick(instance, cursor)
    assert days_of(requests) == ["2026-11-02", "2026-11-03"]
    assert json.loads(cursor)["requested"] == {
        "a.jsonl": [
            list_landing_files(landing.events_dir())[0].size,
            list_landing_files(landing.events_dir())[0].mtime_ns,
        ]
    }
    requests, cursor = landing_tick(instance, cursor)
    assert requests == [] and "1 files wait for their run to land them" in landing_tick.skipped
    ingest(warehouse, landing, "2026-11-02", instance=instance)  # one day's run lands the whole file
    requests, cursor = landing_tick(instance, cursor)
    assert requests == [] and json.loads(cursor)["requested"] == {}
    assert landing_tick.skipped == "1 files landed"


def test_a_cursor_of_the_old_format_keeps_only_what_is_in_flight():
    old = json.dumps(
        {
            "seen": {f"f{i}.jsonl": [10, 20, ["2026-11-02"]] for i in range(500)},
            "pending": {"p.jsonl": [1, 2]},
            "backlog": {"2026-11-04": ["x.jsonl@1@2"]},
        }
    )
    cursor = LandingCursor.load(old)
    assert cursor.pending == {"p.jsonl": [1, 2]} and cursor.requested == {}
    assert list(cursor.backlog) == ["2026-11-04"] and cursor.backlog["2026-11-04"][0] == 1
    assert len(cursor.dump()) < 150


def test_the_ledger_read_gives_way_to_a_writing_run(warehouse, tmp_path):
    """While another process writes the warehouse (DuckDB: no reader beside a writer) the ledger read
    says so (None) instead of failing the tick; before the first landing the ledger is empty."""
    assert read_ledger(warehouse.database) == {}
    writer = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import duckdb, sys; con = duckdb.connect(sys.argv[1]); "
            "con.execute('CREATE TABLE t (x INT)'); print('locked', flush=True); sys.stdin.read()",
            warehouse.database,
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert writer.stdout.readline().strip() == "locked"
        assert read_ledger(warehouse.database, wait_seconds=0) is None
    finally:
        writer.communicate("", timeout=60)
    assert read_ledger(warehouse.database, wait_seconds=0) == {}
