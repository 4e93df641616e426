"""The landing sensor over several ticks, with build_sensor_context, the real definitions and a real
warehouse whose raw.files ledger says which files are landed."""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys

import dagster as dg
import pytest

from data_platform.definitions import defs
from data_platform.ingestion.landing import list_landing_files, scan_file_days
from data_platform.ingestion.sensors import LandingCursor, plan_tick, read_ledger, settled_listing
from data_platform.resources import LandingZone
from data_platform_tests.conftest import event, ingest, query, write_lines


@pytest.fixture
def landing_tick(landing, warehouse):
    """``tick(instance, cursor=None, zone=landing)``: evaluate the real sensor once over the test's landing
    folder (``zone``: the same folder with other settings) and warehouse; returns (run requests, new
    cursor); the tick's skip reason is kept in ``tick.skipped``."""

    def tick(instance, cursor=None, zone=landing):
        sensor = defs.get_sensor_def("landing_sensor")
        context = dg.build_sensor_context(
            cursor=cursor, instance=instance, resources={"landing": zone, "warehouse": warehouse}, definitions=defs
        )
        result = sensor.evaluate_tick(context)
        tick.skipped = result.skip_message
        return result.run_requests or [], result.cursor

    return tick


def days_of(requests):
    return sorted(r.partition_key for r in requests)


def days_of_plan(requests):
    return sorted(r.day for r in requests)


def scan(lf):
    """The sensor's scan of a file's days, over November 2026."""
    return scan_file_days(
        lf.path,
        lf.compressed,
        min_ts=dt.datetime(2026, 11, 1, tzinfo=dt.UTC),
        max_ts=dt.datetime(2026, 12, 1, tzinfo=dt.UTC),
        fallback_day=dt.date(2026, 11, 1),
    )


def stamp(path, mtime: float):
    """Set a file's mtime (unix seconds), as its last write would."""
    os.utime(path, (mtime, mtime))
    return path


def test_sensor_is_running_by_default_and_targets_the_daily_pipeline():
    sensor = defs.get_sensor_def("landing_sensor")
    assert sensor.default_status == dg.DefaultSensorStatus.RUNNING
    assert sensor.job_name == "daily_pipeline"


def test_new_file_is_requested_for_exactly_its_days_once_settled(landing, landing_tick):
    instance = dg.DagsterInstance.ephemeral()
    write_lines(
        landing.events_dir() / "a.jsonl",
        [
            event("a", ts="2026-11-02T10:00:00Z"),
            event("late", ts="2026-11-01T23:00:00-02:00"),
            "junk",
        ],
    )
    requests, cursor = landing_tick(instance)  # last written an hour ago: settled, taken at first sight
    assert days_of(requests) == ["2026-11-02"]  # 23:00 at -02:00 is 01:00 UTC on the 2nd
    requests, cursor = landing_tick(instance, cursor)
    assert requests == []  # nothing new
    write_lines(
        landing.events_dir() / "b.jsonl", [event("b", ts="2026-11-03T10:00:00Z"), event("c", ts="2026-11-05T10:00:00Z")]
    )
    requests, cursor = landing_tick(instance, cursor)
    assert days_of(requests) == ["2026-11-03", "2026-11-05"]
    assert len({r.run_key for r in requests}) == 2


def test_a_file_still_being_written_is_not_requested(landing):
    """Ticks at explicit times: a file is taken only once its last write (mtime) is settle_seconds old."""
    path = write_lines(landing.events_dir() / "growing.jsonl", [event("a", ts="2026-11-02T10:00:00Z")])
    t = 1_800_000_000.0
    stamp(path, t)
    cursor = LandingCursor()
    requests, cursor, log = plan_tick(cursor, list_landing_files(landing.events_dir()), {}, scan, now=t + 1)
    assert requests == [] and "1 files written to less than 5 s ago, taken once settled" in log
    with open(path, "a") as fh:  # the producer goes on writing: half a line
        fh.write('{"event_id": "b", "event_type": "lo')
    stamp(path, t + 4)
    requests, cursor, _ = plan_tick(cursor, list_landing_files(landing.events_dir()), {}, scan, now=t + 6)
    assert requests == []  # 5 s after its first write, but only 2 s after its last one
    with open(path, "a") as fh:
        fh.write('gin", "ts": "2026-11-04T10:00:00Z", "anon_id": "x", "user_id": "u"}\n')
    stamp(path, t + 7)
    requests, cursor, _ = plan_tick(cursor, list_landing_files(landing.events_dir()), {}, scan, now=t + 11.9)
    assert requests == []
    requests, cursor, _ = plan_tick(cursor, list_landing_files(landing.events_dir()), {}, scan, now=t + 12)
    assert days_of_plan(requests) == ["2026-11-02", "2026-11-04"]  # the whole file, its last line included
    assert cursor.pending == {}


def test_a_tick_waits_for_a_file_closed_a_moment_ago_and_takes_it(landing):
    """The settle time is judged within one tick: a new file 2 s old is taken in the same tick, 3 s later,
    not on the next tick; a file written to during that wait is not."""
    events = landing.events_dir()
    clock = [1_800_000_000.0]
    stamp(write_lines(events / "closed.jsonl", [event("a", ts="2026-11-02T10:00:00Z")]), clock[0] - 2)
    stamp(write_lines(events / "growing.jsonl", [event("b", ts="2026-11-03T10:00:00Z")]), clock[0] - 1)
    slept = []

    def sleep(seconds):  # the producer of growing.jsonl writes once more while the tick waits
        slept.append(seconds)
        clock[0] += seconds
        with open(events / "growing.jsonl", "a") as fh:
            fh.write(json.dumps(event("c", ts="2026-11-03T11:00:00Z")) + "\n")
        stamp(events / "growing.jsonl", clock[0] - 0.5)

    cursor = LandingCursor()
    files = settled_listing(events, {}, cursor, 5.0, clock=lambda: clock[0], sleep=sleep)
    assert slept == [4.0]  # until the younger of the two is 5 s old
    requests, cursor, _ = plan_tick(cursor, files, {}, scan, now=clock[0])
    assert days_of_plan(requests) == ["2026-11-02"] and list(cursor.pending) == ["growing.jsonl"]
    slept.clear()
    later = clock[0] + 10
    assert settled_listing(events, {}, cursor, 5.0, clock=lambda: later, sleep=sleep) and slept == []
    # a file whose settle time is further off than the wait cap is left to a later tick, without waiting
    stamp(events / "growing.jsonl", later + 60)
    assert settled_listing(events, {}, cursor, 5.0, clock=lambda: later, sleep=sleep) and slept == []


def test_a_file_renamed_into_place_is_requested_on_the_next_tick_once(landing, warehouse, landing_tick):
    """The producer contract: write under an in-progress name, rename when complete. The staged file is
    never taken; renamed into place it is requested on the next tick, once (exactly once: later ticks and
    the run that lands it request nothing more)."""
    instance = dg.DagsterInstance.ephemeral()
    zone = LandingZone(root=landing.root, settle_seconds=5)  # the default settle time
    staged = write_lines(landing.events_dir() / ".incoming" / "a.jsonl", [event("a", ts="2026-11-02T10:00:00Z")])
    requests, cursor = landing_tick(instance, zone=zone)
    assert requests == [] and landing_tick.skipped == "0 files landed"
    os.replace(staged, landing.events_dir() / "a.jsonl")
    requests, cursor = landing_tick(instance, cursor, zone=zone)
    assert days_of(requests) == ["2026-11-02"]
    requests, cursor = landing_tick(instance, cursor, zone=zone)
    assert requests == [] and "1 files wait for their run to land them" in landing_tick.skipped
    ingest(warehouse, landing, "2026-11-02", instance=instance)
    requests, cursor = landing_tick(instance, cursor, zone=zone)
    assert requests == [] and landing_tick.skipped == "1 files landed"


IN_PROGRESS = [".a.jsonl", "_b.jsonl", "c.jsonl.tmp", "d.jsonl.part", ".incoming/e.jsonl", "_temporary/0/f.jsonl"]


def test_files_whose_names_mark_them_in_progress_are_never_read(landing, warehouse, landing_tick):
    """Old enough to be settled, yet never requested by the sensor nor landed by a run."""
    instance = dg.DagsterInstance.ephemeral()
    for i, name in enumerate(IN_PROGRESS):
        write_lines(landing.events_dir() / name, [event(f"e{i}", ts="2026-11-02T10:00:00Z")], age_seconds=86400)
    write_lines(landing.events_dir() / "done.jsonl", [event("done", ts="2026-11-02T10:00:00Z")], age_seconds=86400)
    requests, cursor = landing_tick(instance)
    assert days_of(requests) == ["2026-11-02"] and json.loads(cursor)["requested"].keys() == {"done.jsonl"}
    ingest(warehouse, landing, "2026-11-02", instance=instance)
    assert query(warehouse, "SELECT source_file FROM raw.files") == [("done.jsonl",)]
    assert query(warehouse, "SELECT event_id FROM raw.events") == [("done",)]


def test_files_with_older_mtimes_arriving_later_are_still_seen(landing, landing_tick):
    instance = dg.DagsterInstance.ephemeral()
    write_lines(landing.events_dir() / "new.jsonl", [event("n", ts="2026-11-03T10:00:00Z")], age_seconds=60)
    requests, cursor = landing_tick(instance)
    assert days_of(requests) == ["2026-11-03"]
    # a file copied in with its original, much older mtime
    write_lines(landing.events_dir() / "old.jsonl", [event("o", ts="2026-11-02T10:00:00Z")], age_seconds=86400 * 5)
    requests, cursor = landing_tick(instance, cursor)
    assert days_of(requests) == ["2026-11-02"]


def test_a_changed_file_reruns_its_old_and_new_days_with_a_new_run_key(landing, warehouse, landing_tick):
    instance = dg.DagsterInstance.ephemeral()
    path = write_lines(landing.events_dir() / "a.jsonl", [event("a", ts="2026-11-02T10:00:00Z")])
    first, cursor = landing_tick(instance)
    ingest(warehouse, landing, "2026-11-02", instance=instance)  # the ledger now knows its days
    write_lines(path, [event("b", ts="2026-11-06T10:00:00Z")], age_seconds=30)
    second, cursor = landing_tick(instance, cursor)
    assert days_of(second) == ["2026-11-02", "2026-11-06"]
    assert {r.run_key for r in first}.isdisjoint({r.run_key for r in second})


def test_run_requests_per_tick_are_capped_and_the_rest_wait(landing):
    lines = [event(f"e{d}", ts=f"2026-11-{d:02d}T10:00:00Z") for d in range(1, 16)]
    write_lines(landing.events_dir() / "wide.jsonl", lines)
    files = list_landing_files(landing.events_dir())
    cursor = LandingCursor()
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
    two_days = lambda lf: [dt.date(2026, 11, 2), dt.date(2099, 1, 1)]  # noqa: E731
    requests, cursor, _ = plan_tick(LandingCursor(), files, {}, two_days, is_partition=lambda d: d < "2030")
    assert [r.day for r in requests] == ["2026-11-02"]
    assert list(cursor.backlog) == ["2099-01-01"]


def test_the_scan_stops_at_its_time_budget_and_resumes(landing):
    for i in range(3):
        write_lines(landing.events_dir() / f"f{i}.jsonl", [event(f"e{i}", ts=f"2026-11-0{i + 2}T10:00:00Z")])
    files = list_landing_files(landing.events_dir())
    ticks = iter([0.0, 0.0, 100.0, 100.0, 100.0])
    cursor = LandingCursor()
    requests, cursor, log = plan_tick(cursor, files, {}, scan, budget_seconds=10, clock=lambda: next(ticks))
    assert [r.day for r in requests] == [
        "2026-11-02"
    ] and "scan budget used up, 2 settled files wait for the next tick" in log
    requests, cursor, _ = plan_tick(cursor, files, {}, scan)
    assert [r.day for r in requests] == ["2026-11-03", "2026-11-04"]


def test_sensor_run_request_materializes_the_requested_day(landing, warehouse, landing_tick):
    """Tick the sensor, then execute its run request's partition as the daemon would."""
    from data_platform.ingestion.assets import raw_ingestion

    instance = dg.DagsterInstance.ephemeral()
    write_lines(landing.events_dir() / "a.jsonl", [event("a", ts="2026-11-02T10:00:00Z")])
    [request], _ = landing_tick(instance)
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
    requests, cursor = landing_tick(instance)
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
