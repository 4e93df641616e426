"""The landing sensor over several ticks, with build_sensor_context and the real definitions."""

from __future__ import annotations


import dagster as dg

from data_platform.definitions import defs
from data_platform.ingestion.landing import list_landing_files
from data_platform.ingestion.sensors import LandingCursor, plan_tick
from data_platform_tests.conftest import event, write_lines


def tick(landing, instance, cursor=None):
    """Evaluate the real sensor once; returns (run requests, new cursor)."""
    sensor = defs.get_sensor_def("landing_sensor")
    context = dg.build_sensor_context(
        cursor=cursor, instance=instance, resources={"landing": landing}, definitions=defs
    )
    result = sensor.evaluate_tick(context)
    return result.run_requests or [], result.cursor


def days_of(requests):
    return sorted(r.partition_key for r in requests)


def test_sensor_is_running_by_default_and_targets_the_daily_pipeline():
    sensor = defs.get_sensor_def("landing_sensor")
    assert sensor.default_status == dg.DefaultSensorStatus.RUNNING
    assert sensor.job_name == "daily_pipeline"


def test_new_file_is_requested_for_exactly_its_days_once_stable(landing):
    instance = dg.DagsterInstance.ephemeral()
    write_lines(landing.events_dir() / "a.jsonl", [
        event("a", ts="2026-11-02T10:00:00Z"), event("late", ts="2026-11-01T23:00:00-02:00"), "junk",
    ])
    requests, cursor = tick(landing, instance)
    assert requests == []  # first sight: wait one tick for the file to be stable
    requests, cursor = tick(landing, instance, cursor)
    assert days_of(requests) == ["2026-11-02"]  # 23:00 at -02:00 is 01:00 UTC on the 2nd
    requests, cursor = tick(landing, instance, cursor)
    assert requests == []  # nothing new
    write_lines(landing.events_dir() / "b.jsonl", [event("b", ts="2026-11-03T10:00:00Z"),
                                                   event("c", ts="2026-11-05T10:00:00Z")])
    _, cursor = tick(landing, instance, cursor)
    requests, cursor = tick(landing, instance, cursor)
    assert days_of(requests) == ["2026-11-03", "2026-11-05"]
    assert len({r.run_key for r in requests}) == 2


def test_a_file_still_being_written_is_not_requested(landing):
    instance = dg.DagsterInstance.ephemeral()
    path = landing.events_dir() / "growing.jsonl"
    write_lines(path, [event("a", ts="2026-11-02T10:00:00Z")])
    _, cursor = tick(landing, instance)
    with open(path, "a") as fh:  # the producer appends between the two ticks
        fh.write('{"event_id": "b", "event_type": "lo')
    requests, cursor = tick(landing, instance, cursor)
    assert requests == []
    with open(path, "a") as fh:
        fh.write('gin", "ts": "2026-11-04T10:00:00Z", "anon_id": "x", "user_id": "u"}\n')
    requests, cursor = tick(landing, instance, cursor)
    assert requests == []  # changed again: one more tick
    requests, cursor = tick(landing, instance, cursor)
    assert days_of(requests) == ["2026-11-02", "2026-11-04"]


def test_files_with_older_mtimes_arriving_later_are_still_seen(landing):
    instance = dg.DagsterInstance.ephemeral()
    write_lines(landing.events_dir() / "new.jsonl", [event("n", ts="2026-11-03T10:00:00Z")], age_seconds=60)
    _, cursor = tick(landing, instance)
    requests, cursor = tick(landing, instance, cursor)
    assert days_of(requests) == ["2026-11-03"]
    # a file copied in with its original, much older mtime
    write_lines(landing.events_dir() / "old.jsonl", [event("o", ts="2026-11-02T10:00:00Z")], age_seconds=86400 * 5)
    _, cursor = tick(landing, instance, cursor)
    requests, cursor = tick(landing, instance, cursor)
    assert days_of(requests) == ["2026-11-02"]


def test_a_changed_file_reruns_its_old_and_new_days_with_a_new_run_key(landing):
    instance = dg.DagsterInstance.ephemeral()
    path = write_lines(landing.events_dir() / "a.jsonl", [event("a", ts="2026-11-02T10:00:00Z")])
    _, cursor = tick(landing, instance)
    first, cursor = tick(landing, instance, cursor)
    write_lines(path, [event("b", ts="2026-11-06T10:00:00Z")], age_seconds=30)
    _, cursor = tick(landing, instance, cursor)
    second, cursor = tick(landing, instance, cursor)
    assert days_of(second) == ["2026-11-02", "2026-11-06"]
    assert {r.run_key for r in first}.isdisjoint({r.run_key for r in second})


def test_run_requests_per_tick_are_capped_and_the_rest_wait(landing):
    lines = [event(f"e{d}", ts=f"2026-11-{d:02d}T10:00:00Z") for d in range(1, 16)]
    write_lines(landing.events_dir() / "wide.jsonl", lines)
    files = list_landing_files(landing.events_dir())
    from data_platform.ingestion.landing import scan_file_days
    import datetime as dt

    def scan(lf):
        return scan_file_days(lf.path, lf.compressed, min_ts=dt.datetime(2026, 11, 1, tzinfo=dt.timezone.utc),
                              max_ts=dt.datetime(2026, 12, 1, tzinfo=dt.timezone.utc),
                              fallback_day=dt.date(2026, 11, 1))

    cursor = LandingCursor()
    requests, cursor, _ = plan_tick(cursor, files, scan, max_runs=4)
    assert requests == []
    seen = []
    for _ in range(4):
        requests, cursor, _ = plan_tick(LandingCursor.load(cursor.dump()), files, scan, max_runs=4)
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
    _, cursor, _ = plan_tick(cursor, files, scan)
    requests, cursor, _ = plan_tick(cursor, files, scan, is_partition=lambda d: d < "2030")
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
    _, cursor, _ = plan_tick(cursor, files, scan)
    requests, cursor, log = plan_tick(cursor, files, scan, budget_seconds=10, clock=lambda: next(ticks))
    assert [r.day for r in requests] == ["2026-11-02"] and "budget" in " ".join(log)
    requests, cursor, _ = plan_tick(cursor, files, scan)
    assert [r.day for r in requests] == ["2026-11-03", "2026-11-04"]


def test_sensor_run_request_materializes_the_requested_day(landing, warehouse):
    """Tick the sensor, then execute its run request's partition as the daemon would."""
    from data_platform.ingestion.assets import raw_ingestion
    from data_platform_tests.conftest import ingest, query

    instance = dg.DagsterInstance.ephemeral()
    write_lines(landing.events_dir() / "a.jsonl", [event("a", ts="2026-11-02T10:00:00Z")])
    _, cursor = tick(landing, instance)
    [request], _ = tick(landing, instance, cursor)
    ingest(warehouse, landing, request.partition_key, instance=instance)
    assert query(warehouse, "SELECT event_id, event_date::VARCHAR FROM raw.events") == [("a", "2026-11-02")]
    assert raw_ingestion.partitions_def.has_partition_key(request.partition_key)
