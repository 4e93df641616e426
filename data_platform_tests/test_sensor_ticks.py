"""Sensor ticks outside the daemon (``data-platform tick``, the demo's last step) leave the instance as the
daemon would: cursor, tick and sensor state stored where the daemon reads them; a new instance is
initialised once, with the project's settings. ``data-platform stop-sensor`` stops a sensor for good even when
a tick in flight writes its stale copy of the state (status RUNNING) back over the stop."""

from __future__ import annotations

import json
import threading
import time

import dagster as dg
import pytest
from dagster._core.definitions.run_request import InstigatorType
from dagster._core.scheduler.instigation import (
    InstigatorState,
    InstigatorStatus,
    SensorInstigatorData,
    TickData,
    TickStatus,
)

from data_platform.launch import (
    INSTANCE_YAML,
    SensorStopError,
    _sensor_origin,
    init_instance,
    stop_sensor,
    tick_sensor,
)
from data_platform.partitions import _daily_partitions


@dg.op
def noop() -> None:
    pass


@dg.job
def toy_job():
    noop()


@dg.sensor(job=toy_job, default_status=dg.DefaultSensorStatus.RUNNING)
def toy_sensor(context: dg.SensorEvaluationContext):
    """Requests one run per new value of the cursor's counter, up to 1; then says why it skips."""
    seen = json.loads(context.cursor or '{"n": 0}')["n"]
    if seen >= 1:
        return dg.SkipReason(f"{seen} request(s) already made")
    context.update_cursor(json.dumps({"n": seen + 1}))
    return dg.RunRequest(run_key="first")


@dg.sensor(job=toy_job, default_status=dg.DefaultSensorStatus.RUNNING)
def forgetful_sensor(context: dg.SensorEvaluationContext):
    """Keeps no cursor and asks for the same run every time: the run key keeps it from running twice."""
    return dg.RunRequest(run_key="same")


DEFS = dg.Definitions(jobs=[toy_job], sensors=[toy_sensor, forgetful_sensor])


@pytest.fixture
def instance(tmp_path):
    home = init_instance(tmp_path / "home")
    with dg.DagsterInstance.from_config(str(home)) as instance:
        yield instance


def test_a_tick_stores_its_cursor_tick_and_state_where_the_daemon_reads_them(instance):
    from dagster._core.definitions.run_request import InstigatorType
    from dagster._core.definitions.selector import InstigatorSelector
    from dagster._core.scheduler.instigation import TickStatus

    first = tick_sensor(instance, DEFS, "toy_sensor")
    assert [(job, key, ok) for job, key, _, ok, _ in first.runs] == [("toy_job", "first", True)]
    [run] = instance.get_runs()
    assert run.tags["dagster/sensor_name"] == "toy_sensor" and run.tags["dagster/run_key"] == "first"
    second = tick_sensor(instance, DEFS, "toy_sensor")  # starts from the stored cursor
    assert second.runs == [] and second.skip_message == "1 request(s) already made"

    # the daemon finds sensor states by selector (code location of workspace.yaml, the repository, the name)
    selector_id = InstigatorSelector(
        location_name="data_platform", repository_name="__repository__", name="toy_sensor"
    ).get_id()
    states = {s.selector_id: s for s in instance.all_instigator_state(instigator_type=InstigatorType.SENSOR)}
    state = states[selector_id]
    assert json.loads(state.instigator_data.cursor) == {"n": 1}
    assert state.instigator_data.last_tick_success_timestamp is not None
    ticks = instance.get_ticks(state.instigator_origin_id, selector_id)
    assert [(t.status, t.skip_reason) for t in ticks] == [
        (TickStatus.SKIPPED, "1 request(s) already made"),
        (TickStatus.SUCCESS, None),
    ]
    assert ticks[1].run_ids == [run.run_id]


def test_a_run_key_already_run_for_the_sensor_is_not_run_again(instance):
    assert len(tick_sensor(instance, DEFS, "forgetful_sensor").runs) == 1
    again = tick_sensor(instance, DEFS, "forgetful_sensor")
    assert again.runs == [] and again.already_run == ["same"]
    assert len(instance.get_runs()) == 1


def test_a_new_dagster_home_gets_the_project_settings_and_an_own_one_is_kept(tmp_path):
    home = init_instance(tmp_path / "new")
    assert (home / "dagster.yaml").read_text() == INSTANCE_YAML.read_text()
    # run, event log and schedule storage exist before any service starts
    assert all((home / db).is_file() for db in ("history/runs.db", "history/runs/index.db", "schedules/schedules.db"))
    with dg.DagsterInstance.from_config(str(home)) as instance:
        assert type(instance.run_coordinator).__name__ == "QueuedRunCoordinator"
    own = tmp_path / "own"
    own.mkdir()
    (own / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    init_instance(own)
    assert (own / "dagster.yaml").read_text() == "telemetry:\n  enabled: false\n"


def test_dg_launch_makes_its_instance_ready_once_per_process_and_again_if_it_went(tmp_path, monkeypatch):
    """The demo's dozen launches on one instance initialise it once (each init opened the instance again); an
    instance folder emptied since, or another DAGSTER_HOME, is made ready again."""
    from data_platform import launch

    made_ready = []
    monkeypatch.setattr(launch, "init_instance", lambda home: made_ready.append(home) or init_instance(home))
    monkeypatch.setattr(launch, "_READY_HOMES", set())
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "a"))
    assert launch._ready_home() == launch._ready_home() == (tmp_path / "a").resolve()
    assert len(made_ready) == 1 and (tmp_path / "a" / "dagster.yaml").is_file()
    (tmp_path / "a" / "dagster.yaml").unlink()
    launch._ready_home()
    assert len(made_ready) == 2 and (tmp_path / "a" / "dagster.yaml").is_file()
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "b"))
    assert launch._ready_home() == (tmp_path / "b").resolve() and len(made_ready) == 3


def test_partitions_end_on_the_configured_last_day_or_run_to_today(monkeypatch):
    import datetime as dt

    monkeypatch.setenv("DATA_PLATFORM_END_DATE", "2026-11-11")
    keys = _daily_partitions().get_partition_keys()
    assert keys[0] == "2026-11-01" and keys[-1] == "2026-11-11" and len(keys) == 11
    monkeypatch.delenv("DATA_PLATFORM_END_DATE")
    today = dt.datetime.now(dt.UTC).date().isoformat()
    assert _daily_partitions().get_partition_keys()[-1] == today
    monkeypatch.setenv("DATA_PLATFORM_END_DATE", "11/11/2026")
    with pytest.raises(ValueError, match="YYYY-MM-DD"):
        _daily_partitions()


def _running_state(instance, name: str) -> InstigatorState:
    """The sensor started, as ``dagster sensor start`` stores it."""
    return instance.add_instigator_state(
        InstigatorState(
            _sensor_origin(name),
            InstigatorType.SENSOR,
            InstigatorStatus.RUNNING,
            SensorInstigatorData(min_interval=30, last_sensor_start_timestamp=time.time()),
        )
    )


def _status(instance, name: str) -> InstigatorStatus:
    origin = _sensor_origin(name)
    return instance.get_instigator_state(origin.get_id(), origin.get_selector().get_id()).status


def test_stop_sensor_stops_again_when_the_tick_in_flight_writes_its_stale_state_back(instance):
    origin = _sensor_origin("toy_sensor")
    selector_id = origin.get_selector().get_id()
    stale = _running_state(instance, "toy_sensor")  # the daemon's copy, read as its tick began
    tick = instance.create_tick(
        TickData(
            instigator_origin_id=origin.get_id(),
            instigator_name="toy_sensor",
            instigator_type=InstigatorType.SENSOR,
            status=TickStatus.STARTED,
            timestamp=time.time(),
            selector_id=selector_id,
        )
    )

    def tick_ends_after_the_stop():
        # what the sensor daemon's SensorLaunchContext._write does when its read came before the stop
        while _status(instance, "toy_sensor") != InstigatorStatus.STOPPED:
            time.sleep(0.01)
        time.sleep(3)  # a tick longer than the stop's settle time: a stop that did not wait for it would be over
        instance.update_tick(tick.with_status(TickStatus.SKIPPED))
        # the daemon marks the tick finished first, then writes the state: a stop that looked only at the
        # tick's status would be over before this write
        time.sleep(0.2)
        instance.update_instigator_state(
            stale.with_data(stale.instigator_data._replace(last_tick_timestamp=tick.timestamp))
        )

    daemon_thread = threading.Thread(target=tick_ends_after_the_stop)
    daemon_thread.start()
    try:
        stops = stop_sensor(instance, DEFS, "toy_sensor", settle_seconds=2, poll_seconds=0.02, tick_timeout=600)
    finally:
        daemon_thread.join(timeout=600)
    assert stops == 2  # the first stop was written back to RUNNING by the tick in flight
    assert _status(instance, "toy_sensor") == InstigatorStatus.STOPPED
    assert stop_sensor(instance, DEFS, "toy_sensor", settle_seconds=0) == 0  # already stopped: nothing written


class _DaemonAlwaysWinning:
    """An instance whose every stop is at once overwritten by a tick's stale RUNNING copy."""

    def __init__(self, instance, stale: InstigatorState):
        self._instance, self._stale = instance, stale

    def __getattr__(self, name):
        return getattr(self._instance, name)

    def update_instigator_state(self, state):
        self._instance.update_instigator_state(state)
        return self._instance.update_instigator_state(self._stale)


def test_stop_sensor_fails_when_the_sensor_never_stays_stopped(instance):
    stale = _running_state(instance, "toy_sensor")
    with pytest.raises(SensorStopError, match="written back to running after each of 3 stops"):
        stop_sensor(_DaemonAlwaysWinning(instance, stale), DEFS, "toy_sensor", settle_seconds=0, attempts=3)
    assert _status(instance, "toy_sensor") == InstigatorStatus.RUNNING


def test_stop_sensor_stops_a_sensor_running_by_default_that_has_no_state_yet(instance):
    assert stop_sensor(instance, DEFS, "forgetful_sensor", settle_seconds=0) == 1
    assert _status(instance, "forgetful_sensor") == InstigatorStatus.STOPPED
    with pytest.raises(dg.DagsterInvariantViolationError):
        stop_sensor(instance, DEFS, "no_such_sensor", settle_seconds=0)
