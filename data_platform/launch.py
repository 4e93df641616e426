"""Running Dagster from code the way a person and the daemon do: ``dg launch`` followed by a short,
readable account of what the run did (its steps, and every check that did not pass, with its reason), a
sensor's tick, and the instance both work on."""

from __future__ import annotations

import datetime as dt
import importlib.resources
import os
import subprocess
import sys
import textwrap
import time
from dataclasses import dataclass, field
from pathlib import Path

import dagster as dg

from data_platform.metadata import counts_text
from data_platform.resources import dagster_home

# The code location, as workspace.yaml declares it for the webserver and the daemon (module and name): the
# runs and sensor ticks made from the command line belong to the same location, whatever the current folder.
DEFINITIONS_MODULE = "data_platform.definitions"
LOCATION_NAME = "data_platform"
# The instance settings a new DAGSTER_HOME gets (run queue, the duckdb pool): the package's copy of
# dagster_home/dagster.yaml, so an installed wheel has them too.
INSTANCE_YAML = importlib.resources.files("data_platform") / "dagster.yaml"
# ``dg launch`` as a process: dg's launch command without dg's other commands (data_platform/dg_launch_cli.py),
# in this interpreter; ``-P``: the current folder is not put on sys.path (as with the ``dg`` script), so an
# installed package is not shadowed by a source tree in the folder the command runs in.
DG_LAUNCH = [sys.executable, "-P", "-m", "data_platform.dg_launch_cli", "launch"]


def dg_launch(launch_args: list[str]) -> int:
    """Run ``dg launch <launch_args>`` (dg's launch command, as :data:`DG_LAUNCH`) on the code location
    (:data:`DEFINITIONS_MODULE`) with the instance of ``DAGSTER_HOME`` (default: ``dagster_home/`` in the
    current folder, initialised if new); print what ran,
    how long it took and the run's summary (:func:`run_summary`), and on failure the end of dg's output too;
    return its exit code. dg's own log (DEBUG lines, library warnings) stays out of the terminal: it is in
    the instance's run history (the UI's Runs page). It runs in the current folder, so relative settings
    (``data/...``) name the same files for the command and for the run."""
    home = _ready_home()
    cmd = [*DG_LAUNCH, *launch_args, "--module-name", DEFINITIONS_MODULE]
    since = dt.datetime.now(dt.UTC)
    started = time.perf_counter()
    done = subprocess.run(cmd, env={**os.environ, "DAGSTER_HOME": str(home)}, capture_output=True, text=True)
    seconds = time.perf_counter() - started
    summary = run_summary(since, home)
    if done.returncode != 0:
        print(done.stderr[-3000:], file=sys.stderr)
        print(
            f"dg launch {' '.join(launch_args)} failed (exit {done.returncode}) after {seconds:.1f}s", file=sys.stderr
        )
        for line in summary:
            print(line, file=sys.stderr)
        return done.returncode
    print(f"   {_what(launch_args)}: done in {seconds:.1f}s")
    for line in summary:
        print(line)
    return 0


_READY_HOMES: set[Path] = set()  # the instances dg_launch made ready in this process


def _ready_home() -> Path:
    """``DAGSTER_HOME`` made ready by :func:`init_instance` once per process: the demo launches a dozen runs on
    the same instance, and each init opened the instance and its storages again (about 0.17 s of the demo's
    process a launch). A home whose ``dagster.yaml`` has gone since is made ready again."""
    home = Path(dagster_home()).resolve()
    if home not in _READY_HOMES or not (home / "dagster.yaml").exists():
        _READY_HOMES.add(init_instance(home))
    return home


def _what(launch_args: list[str]) -> str:
    """``job daily_pipeline, partitions 2026-11-01...2026-11-08`` from dg launch's arguments."""
    names = {"--job": "job", "--assets": "assets", "--partition": "partition", "--partition-range": "partitions"}
    pairs = zip(launch_args[::2], launch_args[1::2])
    return ", ".join(f"{names.get(flag, flag)} {value}" for flag, value in pairs)


def run_summary(since: dt.datetime, home: str | Path | None = None) -> list[str]:
    """One block per run created since ``since`` in the instance at ``home`` (default ``DAGSTER_HOME``):
    the run's status, its steps and their seconds, the number of materializations and checks, and each
    check that did not pass on a partition, with its reason. Empty without an instance."""
    home = home or os.environ.get("DAGSTER_HOME")
    if not home:
        return []
    from dagster._core.events import DagsterEventType as T

    lines = []
    with dg.DagsterInstance.from_config(str(home)) as instance:
        for run in reversed(instance.get_runs(filters=dg.RunsFilter(created_after=since))):
            records = instance.all_logs(
                run.run_id, of_type={T.STEP_SUCCESS, T.STEP_FAILURE, T.ASSET_MATERIALIZATION, T.ASSET_CHECK_EVALUATION}
            )
            steps, materialized, checks = [], 0, []
            for record in records:
                event = record.dagster_event
                if event.event_type == T.STEP_SUCCESS:
                    steps.append(f"{event.step_key} {event.event_specific_data.duration_ms / 1000:.1f}s")
                elif event.event_type == T.STEP_FAILURE:
                    steps.append(f"{event.step_key} FAILED")
                elif event.event_type == T.ASSET_MATERIALIZATION:
                    materialized += 1
                else:
                    checks.append(event.event_specific_data)
            not_passed = [c for c in checks if not c.passed]
            lines += textwrap.wrap(
                f"run {run.run_id[:8]} {run.status.value}: steps {', '.join(steps) or 'none'}; {materialized} "
                f"materializations; checks {len(checks) - len(not_passed)} passed, {len(not_passed)} did not",
                width=120,
                initial_indent="     ",
                subsequent_indent="       ",
                break_on_hyphens=False,
            )
            lines += [f"       {check_line(c)}" for c in not_passed]
    return lines


def check_line(evaluation) -> str:
    """``FAILED clean/events clean_contract 2026-11-05: price_not_converted: 1,484 rows`` (WARN for a
    check of WARN severity)."""
    state = (
        "PASSED" if evaluation.passed else ("WARN" if evaluation.severity == dg.AssetCheckSeverity.WARN else "FAILED")
    )
    where = f" {evaluation.partition}" if getattr(evaluation, "partition", None) else ""
    reason = "" if evaluation.passed else check_reason(evaluation)
    return f"{state} {evaluation.asset_key.to_user_string()} {evaluation.check_name}{where}" + (
        f": {reason}" if reason else ""
    )


def check_reason(evaluation) -> str:
    """Why a check did not pass: its description, else what its metadata says (count breakdowns such
    as ``violations`` or ``by_reason`` first, else the non-zero whole numbers, else short texts and the
    rows of markdown tables), so a check written by anyone shows its reason without code here knowing it."""
    if evaluation.description:
        return evaluation.description
    breakdowns: dict[str, int] = {}
    numbers: dict[str, int] = {}
    texts: list[str] = []
    for key, entry in (evaluation.metadata or {}).items():
        value = getattr(entry, "value", entry)
        if isinstance(value, dict):
            breakdowns.update({str(k): v for k, v in value.items() if _count(v)})
        elif _count(value):
            numbers[key] = value
        elif isinstance(entry, dg.MarkdownMetadataValue) and value.startswith("|"):
            texts.append(f"{key}: {value.count(chr(10)) - 1} rows")  # header and rule lines, then one per row
        elif isinstance(value, str) and value not in ("", "-", "_none_") and len(value) <= 200:
            texts.append(f"{key}: {value}")
    return counts_text(breakdowns or numbers, "") or ", ".join(texts)


def _count(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value != 0


def init_instance(home: str | Path | None = None) -> Path:
    """Make ``home`` (default ``DAGSTER_HOME``) a ready Dagster instance, once, before services start.

    A folder without a ``dagster.yaml`` gets the project's (run queue, the ``duckdb`` pool); one with its
    own is left as it is. Opening the instance creates its SQLite storage here, in one process: the
    webserver and the daemon of ``dagster dev`` started on an empty folder both create the schema at
    once and one of them can die (``table alembic_version already exists``)."""
    import dagster as dg

    home = Path(home or dagster_home()).resolve()
    home.mkdir(parents=True, exist_ok=True)
    if not (home / "dagster.yaml").exists():
        (home / "dagster.yaml").write_bytes(INSTANCE_YAML.read_bytes())
        print(
            f"   {home}/dagster.yaml: the project's instance settings (run queue, one DuckDB writer)", file=sys.stderr
        )
    with dg.DagsterInstance.from_config(str(home)) as instance:
        instance.get_runs(limit=1)  # run, event log and schedule storage: each created now
        instance.get_asset_keys(limit=1)
        instance.all_instigator_state()
        set_pool_limit(instance)
    return home


def set_pool_limit(instance) -> int:
    """Give the warehouse steps' pool of the profile its limit in ``instance``; returns the limit.

    On the lake, the ``ducklake`` pool gets ``DATA_PLATFORM_LAKE_WRITERS`` slots (default 4): that many warehouse
    steps of this instance's runs write at once, the lake arbitrating their commits. On the DuckDB file the
    ``duckdb`` pool keeps the instance's ``default_limit`` (1 in the project's dagster.yaml) and nothing is set:
    the two pools have different names, so a lake limit never reaches a file's single writer."""
    from data_platform.partitions import LAKE_POOL, warehouse_pool
    from data_platform.resources import lake_writers

    pool = warehouse_pool()
    if pool != LAKE_POOL:
        return instance.event_log_storage.get_concurrency_info(pool).limit or 0
    limit = lake_writers()
    if instance.event_log_storage.get_concurrency_info(pool).slot_count != limit:
        instance.event_log_storage.set_concurrency_slots(pool, limit)
    return limit


@dataclass
class TickReport:
    """What one sensor tick did: its skip message, the asset events it recorded, the runs it ran
    (job, run key, run id, success, seconds) and the run keys it found already run."""

    skip_message: str | None = None
    asset_events: list = field(default_factory=list)
    runs: list[tuple[str, str | None, str, bool, float]] = field(default_factory=list)
    already_run: list[str] = field(default_factory=list)


def _repository_origin():
    """The repository's origin as the webserver and the daemon see it (the code location workspace.yaml
    declares), so what is stored here is what they read."""
    from dagster._core.definitions.repository_definition.valid_definitions import SINGLETON_REPOSITORY_NAME
    from dagster._core.remote_origin import RemoteRepositoryOrigin
    from dagster._core.workspace.load import location_origin_from_module_name

    location = location_origin_from_module_name(DEFINITIONS_MODULE, None, None, LOCATION_NAME)
    return RemoteRepositoryOrigin(location, SINGLETON_REPOSITORY_NAME)


def _sensor_origin(name: str):
    from dagster._core.remote_origin import RemoteInstigatorOrigin

    return RemoteInstigatorOrigin(_repository_origin(), name)


def _job_days(defs, job_name: str, first: str, last: str):
    """The partitioned job ``job_name`` and its days ``first``..``last``; ValueError for an unknown day."""
    job = defs.resolve_job_def(job_name)
    if job.partitions_def is None:
        raise ValueError(f"job {job_name} is not partitioned")
    keys = job.partitions_def.get_partition_keys()
    for day in (first, last):
        if day not in keys:
            raise ValueError(f"{day} is not a partition of {job_name} ({keys[0]}...{keys[-1]})")
    return job, keys[keys.index(first) : keys.index(last) + 1]


def request_job_backfill(instance, defs, job_name: str, first: str, last: str, tags: dict | None = None) -> str:
    """Ask the daemon for a backfill of a partitioned job over the days ``first``..``last``, as the UI's
    "Launch backfill" does; returns its id.

    The daemon launches it as the job's assets' backfill policy says (single run: one run over the
    range) and tracks it on the Backfills page. ``dagster job backfill`` instead launches one run per
    day itself, without the range tags the page then expects for these single-run assets, and the page
    fails ("Unexpected GraphQL error", KeyError 'dagster/asset_partition_range_start'; dagster-io/dagster
    issue #22281, and #17404 / #17665 on job backfills and backfill policies)."""
    from dagster._core.execution.backfill import BulkActionStatus, PartitionBackfill
    from dagster._core.remote_origin import RemotePartitionSetOrigin
    from dagster._core.utils import make_new_backfill_id

    _, days = _job_days(defs, job_name, first, last)
    backfill = PartitionBackfill(
        backfill_id=make_new_backfill_id(),
        partition_set_origin=RemotePartitionSetOrigin(
            repository_origin=_repository_origin(), partition_set_name=f"{job_name}_partition_set"
        ),
        status=BulkActionStatus.REQUESTED,
        partition_names=days,
        from_failure=False,
        reexecution_steps=None,
        tags=dict(tags or {}),
        backfill_timestamp=time.time(),
    )
    instance.add_backfill(backfill)
    return backfill.backfill_id


def request_asset_backfill(instance, defs, job_name: str, first: str, last: str, tags: dict | None = None) -> str:
    """Ask the daemon for an *asset* backfill of a partitioned job's assets over the days ``first``..``last``,
    as the UI's "Materialize" of a partition range does; returns its id.

    Unlike a job backfill (:func:`request_job_backfill`: each day's run takes the whole job, in any order), the
    daemon launches each asset's days once the partitions they read (the declared partition mappings) are
    materialized, cut into runs by the assets' backfill policy: one run over the range by default, one run per
    day with ``DATA_PLATFORM_BACKFILL=per_day`` (the lake's parallel writers, at most
    ``max_concurrent_runs`` at once). So the tables do not depend on the order the runs happen to finish in."""
    from dagster._core.execution.backfill import PartitionBackfill
    from dagster._core.utils import make_new_backfill_id

    job, days = _job_days(defs, job_name, first, last)
    backfill = PartitionBackfill.from_asset_partitions(
        backfill_id=make_new_backfill_id(),
        asset_graph=defs.resolve_asset_graph(),
        partition_names=days,
        asset_selection=sorted(job.asset_layer.executable_asset_keys),
        backfill_timestamp=time.time(),
        tags=dict(tags or {}),
        dynamic_partitions_store=instance,
        all_partitions=False,
        title=f"{job_name} {first}...{last}",
        description=None,
        run_config=None,
    )
    instance.add_backfill(backfill)
    return backfill.backfill_id


def _resolve_sensor(defs, name: str):
    """Sensor ``name``'s definition, its origin, and the (origin id, selector id) its stored state and ticks are
    kept under; an unknown name raises Dagster's error listing the sensors."""
    sensor = defs.resolve_sensor_def(name)
    origin = _sensor_origin(name)
    return sensor, origin, origin.get_id(), origin.get_selector().get_id()


def tick_sensor(instance, defs, name: str, *, quiet_runs: bool = True) -> TickReport:
    """One tick of sensor ``name`` as the sensor daemon does it, its requested runs executed in process.

    Like the daemon: the evaluation starts from the sensor's stored cursor; the new cursor, the tick
    (skipped with its reason, or with its runs) and the sensor's state are stored in the instance; a
    run key already run for this sensor is not run again; runs carry the sensor name and run key tags;
    asset events are recorded. So the webserver shows the tick, and a daemon started later goes on
    from here instead of evaluating the sensor from scratch."""
    import dagster as dg
    from dagster._core.definitions.run_request import InstigatorType
    from dagster._core.scheduler.instigation import (
        InstigatorState,
        InstigatorStatus,
        SensorInstigatorData,
        TickData,
        TickStatus,
    )
    from dagster._core.storage.dagster_run import RunsFilter
    from dagster._core.storage.tags import RUN_KEY_TAG, SENSOR_NAME_TAG

    sensor, origin, origin_id, selector_id = _resolve_sensor(defs, name)
    state = instance.get_instigator_state(origin_id, selector_id)
    data = state.instigator_data if state is not None else None
    now = time.time()
    tick = instance.create_tick(
        TickData(
            instigator_origin_id=origin_id,
            instigator_name=name,
            instigator_type=InstigatorType.SENSOR,
            status=TickStatus.STARTED,
            timestamp=now,
            selector_id=selector_id,
        )
    )
    context = dg.build_sensor_context(
        instance=instance,
        cursor=data.cursor if data else None,
        sensor_name=name,
        resources=defs.resources,
        definitions=defs,
    )
    result = sensor.evaluate_tick(context)
    report = TickReport(skip_message=result.skip_message, asset_events=list(result.asset_events or []))
    for event in report.asset_events:
        instance.report_runless_asset_event(event)
    quiet = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}} if quiet_runs else {}
    for request in result.run_requests or []:
        key = request.run_key
        if key and instance.get_runs(filters=RunsFilter(tags={RUN_KEY_TAG: key, SENSOR_NAME_TAG: name}), limit=1):
            report.already_run.append(key)
            continue
        job = defs.resolve_job_def(request.job_name or sensor.job_name)
        tags = {**request.tags, SENSOR_NAME_TAG: name, **({RUN_KEY_TAG: key} if key else {})}
        started = time.perf_counter()
        run = job.execute_in_process(
            instance=instance,
            tags=tags,
            partition_key=request.partition_key,
            run_config={**(request.run_config or {}), **quiet},
            raise_on_error=False,
        )
        report.runs.append((job.name, key, run.run_id, run.success, time.perf_counter() - started))
        tick = tick.with_run_info(run.run_id, key)
    done = time.time()
    cursor = result.cursor if result.cursor is not None else (data.cursor if data else None)
    if report.runs or report.asset_events:
        tick = tick.with_status(TickStatus.SUCCESS)
    else:
        tick = tick.with_status(TickStatus.SKIPPED).with_reason(result.skip_message)
    instance.update_tick(tick.with_cursor(cursor))
    new_data = SensorInstigatorData(
        last_tick_timestamp=done,
        last_run_key=report.runs[-1][1] if report.runs else (data.last_run_key if data else None),
        min_interval=sensor.minimum_interval_seconds,
        cursor=cursor,
        last_tick_start_timestamp=now,
        last_sensor_start_timestamp=data.last_sensor_start_timestamp
        if data and data.last_sensor_start_timestamp
        else now,
        sensor_type=sensor.sensor_type,
        last_tick_success_timestamp=done,
    )
    if state is None:
        instance.add_instigator_state(
            InstigatorState(origin, InstigatorType.SENSOR, InstigatorStatus.DECLARED_IN_CODE, new_data)
        )
    else:
        instance.update_instigator_state(state.with_data(new_data))
    return report


# How long after a stop no write-back from the daemon is expected any more, beyond what the ticks table shows:
# one pass of the sensor daemon's loop (it looks at the sensors every 5 s). See :func:`stop_sensor`.
STOP_SETTLE_SECONDS = 5.0
# How long to wait for the tick in flight at the stop to finish (the daemon gives a tick 60 s by default).
STOP_TICK_TIMEOUT_SECONDS = 180.0


class SensorStopError(RuntimeError):
    """The sensor could not be seen stopped for good (the daemon kept writing it back, or a tick hung)."""


def stop_sensor(
    instance,
    defs,
    name: str,
    *,
    settle_seconds: float = STOP_SETTLE_SECONDS,
    tick_timeout: float = STOP_TICK_TIMEOUT_SECONDS,
    attempts: int = 5,
    poll_seconds: float = 0.2,
) -> int:
    """Stop sensor ``name`` while the daemon may be ticking it, and return once it stays stopped; returns how
    many stops it took: 0 if it was not running, 1 unless the daemon wrote a tick's stale state back over a stop.

    ``dagster sensor stop`` (and the UI's toggle) only writes STOPPED into the sensor's stored state. The
    sensor daemon (Dagster 1.13, ``dagster/_daemon/sensor.py``) writes that whole state twice per tick, each
    time from a copy it read just before, status included: when the tick starts
    (``mark_sensor_state_for_tick``) and when it ends (``SensorLaunchContext._write``). A stop that lands
    between one of those reads and its write is overwritten with RUNNING and the sensor goes on ticking; on a
    busy machine those windows are long enough to be hit (docs/operations.md, "Stopping a sensor").

    So this stops the sensor, then waits until the daemon cannot hold such a copy any more: the sensor's
    latest tick has finished and its end was written into the state (``last_tick_timestamp``) or it ended
    ``settle_seconds`` ago, and ``settle_seconds`` have passed since the stop (a tick whose first write is
    still to come has no row yet). It then reads the status again; if it is running again it stops it again,
    up to ``attempts`` times (:class:`SensorStopError` after that, or when the tick in flight does not finish
    within ``tick_timeout``). A tick already in flight at the stop still completes, as with Dagster's stop."""
    from dagster._core.definitions.run_request import InstigatorType
    from dagster._core.scheduler.instigation import (
        InstigatorState,
        InstigatorStatus,
        SensorInstigatorData,
        TickStatus,
    )

    sensor, origin, origin_id, selector_id = _resolve_sensor(defs, name)  # an unknown name fails here

    def running(state) -> bool:
        if state is None or state.status == InstigatorStatus.DECLARED_IN_CODE:
            return sensor.default_status == dg.DefaultSensorStatus.RUNNING
        return state.status == InstigatorStatus.RUNNING

    def daemon_done_writing() -> bool:
        # the latest tick has ended, and its end is in the state or was settle_seconds ago (the stop itself
        # writes the state from a copy it read, so it may have overwritten that end: then it came first)
        latest = next(iter(instance.get_ticks(origin_id, selector_id, limit=1)), None)
        if latest is None:
            return True
        if latest.status == TickStatus.STARTED:
            return False
        if latest.end_timestamp is not None and time.time() - latest.end_timestamp >= settle_seconds:
            return True
        state = instance.get_instigator_state(origin_id, selector_id)
        written = state.instigator_data.last_tick_timestamp if state and state.instigator_data else None
        return written is not None and written >= latest.timestamp

    stops = 0
    while running(state := instance.get_instigator_state(origin_id, selector_id)):
        if stops == attempts:
            raise SensorStopError(f"{name} was written back to running after each of {attempts} stops")
        if state is None:
            instance.add_instigator_state(
                InstigatorState(
                    origin,
                    InstigatorType.SENSOR,
                    InstigatorStatus.STOPPED,
                    SensorInstigatorData(min_interval=sensor.minimum_interval_seconds, sensor_type=sensor.sensor_type),
                )
            )
        else:
            instance.update_instigator_state(state.with_status(InstigatorStatus.STOPPED))
        stops += 1
        stopped_at = time.monotonic()
        while not (time.monotonic() - stopped_at >= settle_seconds and daemon_done_writing()):
            if time.monotonic() - stopped_at > tick_timeout:
                raise SensorStopError(
                    f"{name} is stopped, but its tick in flight has not finished after {tick_timeout:.0f} s: that "
                    "tick may still write the sensor back to running; look at its status again once it ends"
                )
            time.sleep(poll_seconds)
    return stops
