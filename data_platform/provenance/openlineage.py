"""OpenLineage run events for every asset materialization, sent through the official client (``openlineage-python``).

Lineage tools (Marquez, DataHub, OpenMetadata, Atlan) collect OpenLineage *run events*. The
``openlineage_sensor`` reads the Dagster event log of every run that has finished since its cursor and
sends, for that run:

- the Dagster run as a parent job (namespace ``OPENLINEAGE_NAMESPACE``, default ``data_platform``; name: the
  Dagster job): ``START``, then ``COMPLETE``, ``FAIL`` (with its error message) or ``ABORT`` (canceled);
- each asset materialization (one asset, one partition) as a run of the job named by the asset key
  (``clean/events``): ``START`` when its step started, then ``COMPLETE`` when it was materialized, ``FAIL``
  when its step failed (the step's error), ``ABORT`` when the run ended before its step did. Its facets:
  ``parent`` (the Dagster run id and job), ``jobType`` (``DAGSTER``/``ASSET``), ``documentation`` (the
  asset's description), ``nominalTime`` (the day of a daily partition), ``processing_engine``; its inputs
  are the tables of the asset's upstream assets and of its column lineage, its output is its table with
  the ``schema`` facet (``dagster/column_schema``), the ``columnLineage`` facet (``dagster/column_lineage``,
  derived from the SQL by ``base/lineage.py``) and ``outputStatistics`` (``dagster/row_count``).

Datasets live in the warehouse's namespace: ``duckdb://<absolute path of the file>``, or ``ducklake:<catalog>``
for the lake profile; a dataset's name is its table (``clean.events``). Every event's time is when it
happened (from the event log), and run ids are stable (the Dagster run id for the parent; a UUIDv7 derived
from the step's start, the run id, the asset and the partition for a materialization), so an event sent
twice is the same event.

Where events go is the client's own configuration (``OPENLINEAGE_URL``/``OPENLINEAGE_ENDPOINT``/
``OPENLINEAGE_API_KEY``, ``openlineage.yml`` or ``OPENLINEAGE_CONFIG``, ``OPENLINEAGE__TRANSPORT__*``); with
none of them set, one JSON line per event is appended to ``openlineage.jsonl`` under ``DATA_PLATFORM_LINEAGE``
(default ``data/lineage``). ``OPENLINEAGE_DISABLED=true`` turns it off.

Why a sensor over the event log: it sees every materialization however it was launched (UI, ``dg launch``,
backfills, other sensors), outside the data run, so a failure to send lineage can never fail a data run; it
is logged on the sensor's tick and the cursor stays before that run, so the next tick sends it again (a
lineage server that is down loses nothing). The events of a run are sent once it has finished, at the next
tick (every 30 s with the daemon; ``data-platform tick openlineage_sensor`` without it).

No personal data: only table and column names, types, descriptions, row counts and masked error messages
leave; no metadata preview, no row, no stack trace.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import os
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import dagster as dg
from dagster._core.events import DagsterEventType

from data_platform.base.identifiers import mask_text
from data_platform.base.openlineage_names import OPENLINEAGE_PRODUCER
from data_platform.resources import Warehouse, lineage_root, sensors_default_status

PRODUCER = OPENLINEAGE_PRODUCER
EVENTS_FILE = "openlineage.jsonl"
DEFAULT_JOB_NAMESPACE = "data_platform"
RUNS_PER_TICK = 50  # finished runs sent per tick (a tick must end within Dagster's 60 s)

_RUN_END = (DagsterEventType.RUN_SUCCESS, DagsterEventType.RUN_FAILURE, DagsterEventType.RUN_CANCELED)
_READ = {
    DagsterEventType.RUN_START,
    *_RUN_END,
    DagsterEventType.STEP_START,
    DagsterEventType.STEP_SUCCESS,
    DagsterEventType.STEP_FAILURE,
    DagsterEventType.ASSET_MATERIALIZATION_PLANNED,
    DagsterEventType.ASSET_MATERIALIZATION,
}

TableOf = Callable[[dg.AssetKey], str]


def table_of_key(key: dg.AssetKey) -> str:
    """The warehouse table of an asset named like its table (``clean/events`` -> ``clean.events``)."""
    return ".".join(key.path)


def warehouse_namespace(warehouse: Warehouse) -> str:
    """The OpenLineage namespace of the warehouse's tables: ``duckdb://<absolute file path>``, or
    ``ducklake:<catalog>`` for the lake profile (the catalog holds no credential, see ``resources.py``)."""
    if warehouse.is_lake:
        return f"ducklake:{warehouse.lake_catalog}"
    return "duckdb://" + Path(warehouse.database).resolve().as_posix()


def job_namespace() -> str:
    """The namespace of the jobs (``OPENLINEAGE_NAMESPACE``, as in the other OpenLineage integrations)."""
    return os.environ.get("OPENLINEAGE_NAMESPACE", "").strip() or DEFAULT_JOB_NAMESPACE


def configured_transport() -> bool:
    """Whether the user configured the client's transport (``OPENLINEAGE_URL``, an ``openlineage.yml``,
    ``OPENLINEAGE_CONFIG`` or ``OPENLINEAGE__*`` variables); if not, the events go to the file."""
    from openlineage.client import OpenLineageClient

    return bool(
        os.environ.get("OPENLINEAGE_URL")
        or any(name.startswith(OpenLineageClient.DYNAMIC_ENV_VARS_PREFIX) for name in os.environ)
        or OpenLineageClient._find_yaml_config_path()
    )


def lineage_client():
    """The OpenLineage client: configured by its own settings when there are any (``OPENLINEAGE_DISABLED=true``
    gives its no-op transport), else a file transport appending to ``<DATA_PLATFORM_LINEAGE>/openlineage.jsonl``.
    The client is imported here, not at module level: loading the definitions stays cheap."""
    from openlineage.client import OpenLineageClient
    from openlineage.client.transport.file import FileConfig, FileTransport

    if configured_transport():
        return OpenLineageClient()
    path = lineage_root() / EVENTS_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    return OpenLineageClient(transport=FileTransport(FileConfig(log_file_path=str(path), append=True)))


def transport_target(client) -> str:
    """Where ``client`` sends events, for people: the file, the URL, or the transport kind."""
    transport = client.transport
    path = getattr(getattr(transport, "config", None), "log_file_path", None)
    url = getattr(transport, "url", None)
    return str(path or url or f"the {transport.kind} transport")


# --------------------------------------------------------------------------------------------------
# A run's event log, read once


@dataclass
class _Step:
    started: float | None = None
    ended: float | None = None
    error: str | None = None  # the failure's class and (masked) message when the step failed


@dataclass
class _Materialization:
    """One asset and partition a step planned or materialized."""

    key: dg.AssetKey
    partition: str | None
    step: str
    at: float | None = None  # when it was materialized
    metadata: Mapping[str, Any] = field(default_factory=dict)


@dataclass
class _RunLog:
    started: float | None = None
    ended: float | None = None
    end: DagsterEventType | None = None
    error: str | None = None
    steps: dict[str, _Step] = field(default_factory=dict)
    materializations: dict[tuple[dg.AssetKey, str | None], _Materialization] = field(default_factory=dict)


def _records(instance: dg.DagsterInstance, run_id: str) -> Iterable:
    cursor = None
    while True:
        page = instance.get_records_for_run(run_id, cursor=cursor, of_type=_READ, limit=1000)
        yield from page.records
        if not page.has_more:
            return
        cursor = page.cursor


def _error_text(error) -> str | None:
    """``Class: message`` of a serialized error's root cause (Dagster wraps what the step raised), identifiers
    masked; no stack trace (it may quote values)."""
    if error is None:
        return None
    while error.cause is not None:
        error = error.cause
    return mask_text(f"{error.cls_name}: {error.message}".strip() if error.cls_name else error.message.strip())


def read_run(instance: dg.DagsterInstance, run_id: str) -> _RunLog:
    """What lineage needs of a run's event log: run and step times, failures, planned and done materializations."""
    log = _RunLog()
    for record in _records(instance, run_id):
        entry = record.event_log_entry
        event = entry.dagster_event
        kind, at = event.event_type, entry.timestamp
        if kind == DagsterEventType.RUN_START:
            log.started = at
        elif kind in _RUN_END:
            log.ended, log.end = at, kind
            if kind == DagsterEventType.RUN_FAILURE:
                data = event.event_specific_data
                log.error = _error_text(getattr(data, "error", None)) or mask_text(event.message or "the run failed")
        elif kind == DagsterEventType.STEP_START:  # a retried step starts afresh: its last attempt counts
            log.steps[event.step_key] = _Step(started=at)
        elif kind in (DagsterEventType.STEP_SUCCESS, DagsterEventType.STEP_FAILURE):
            step = log.steps.setdefault(event.step_key, _Step())
            step.ended = at
            if kind == DagsterEventType.STEP_FAILURE:
                step.error = _error_text(event.step_failure_data.error) or "the step failed"
        elif kind == DagsterEventType.ASSET_MATERIALIZATION_PLANNED:
            data = event.event_specific_data
            partitions = (
                data.partitions_subset.get_partition_keys() if data.partitions_subset is not None else [data.partition]
            )
            for partition in partitions:
                log.materializations.setdefault(
                    (data.asset_key, partition), _Materialization(data.asset_key, partition, event.step_key)
                )
        elif kind == DagsterEventType.ASSET_MATERIALIZATION:
            done = event.step_materialization_data.materialization
            item = log.materializations.setdefault(
                (done.asset_key, done.partition), _Materialization(done.asset_key, done.partition, event.step_key)
            )
            item.at, item.metadata, item.step = at, done.metadata, event.step_key or item.step
    return log


# --------------------------------------------------------------------------------------------------
# Events


def _time(epoch: float) -> str:
    return dt.datetime.fromtimestamp(epoch, dt.UTC).isoformat()


def _value(entry: Any) -> Any:
    return entry.value if isinstance(entry, dg.MetadataValue) else entry


@dataclass(frozen=True)
class LineageContext:
    """What turns a run's event log into OpenLineage events: the asset graph (upstream assets, descriptions,
    partitions, declared schemas), the warehouse namespace, the job namespace and the asset -> table naming."""

    asset_graph: Any
    namespace: str
    jobs: str = DEFAULT_JOB_NAMESPACE
    table_of: TableOf = table_of_key

    def node(self, key: dg.AssetKey):
        return self.asset_graph.get(key) if self.asset_graph.has(key) else None


def run_events(ctx: LineageContext, run: dg.DagsterRun, log: _RunLog) -> list:
    """The OpenLineage run events of one finished Dagster run, in the order they happened (see the module)."""
    import dagster
    from openlineage.client import __version__ as client_version
    from openlineage.client.event_v2 import Job, Run, RunEvent, RunState
    from openlineage.client.facet_v2 import error_message_run, job_type_job, parent_run, processing_engine_run

    engine = processing_engine_run.ProcessingEngineRunFacet(
        version=dagster.__version__, name="Dagster", openlineageAdapterVersion=client_version, producer=PRODUCER
    )
    ended = log.ended or max([log.started or 0.0, *(s.ended or s.started or 0.0 for s in log.steps.values())])
    started = log.started or min([ended, *(s.started for s in log.steps.values() if s.started)])
    parent_job = Job(
        namespace=ctx.jobs,
        name=run.job_name,
        facets={
            "jobType": job_type_job.JobTypeJobFacet(
                processingType="BATCH", integration="DAGSTER", jobType="JOB", producer=PRODUCER
            )
        },
    )

    def error(message: str):
        return {
            "errorMessage": error_message_run.ErrorMessageRunFacet(
                message=message, programmingLanguage="python", producer=PRODUCER
            )
        }

    terminal = {
        DagsterEventType.RUN_SUCCESS: RunState.COMPLETE,
        DagsterEventType.RUN_FAILURE: RunState.FAIL,
        DagsterEventType.RUN_CANCELED: RunState.ABORT,
    }.get(log.end, RunState.ABORT)
    events = [
        (
            started,
            0,
            RunEvent(
                eventType=RunState.START,
                eventTime=_time(started),
                run=Run(runId=run.run_id, facets={"processing_engine": engine}),
                job=parent_job,
                producer=PRODUCER,
            ),
        ),
        (
            ended,
            3,
            RunEvent(
                eventType=terminal,
                eventTime=_time(ended),
                run=Run(
                    runId=run.run_id, facets={"processing_engine": engine, **(error(log.error) if log.error else {})}
                ),
                job=parent_job,
                producer=PRODUCER,
            ),
        ),
    ]
    parent = {
        "parent": parent_run.ParentRunFacet(
            run=parent_run.Run(runId=run.run_id),
            job=parent_run.Job(namespace=ctx.jobs, name=run.job_name),
            root=parent_run.Root(
                run=parent_run.RootRun(runId=run.run_id), job=parent_run.RootJob(namespace=ctx.jobs, name=run.job_name)
            ),
            producer=PRODUCER,
        ),
        "processing_engine": engine,
    }
    for item in _per_partition_of_the_asset(ctx, log.materializations.values()):
        step = log.steps.get(item.step)
        if step is None or step.started is None:
            continue  # its step never ran (an upstream step failed): nothing happened to it
        events += _materialization_events(ctx, run, item, step, parent, ended, error)
    return [event for *_, event in sorted(events, key=lambda e: (e[0], e[1]))]


def _per_partition_of_the_asset(ctx: LineageContext, items: Iterable[_Materialization]) -> list[_Materialization]:
    """One item per asset and partition *of that asset*: Dagster plans an unpartitioned asset of a partitioned
    run (``clean/identity_map`` in a daily run) with the run's partitions, then materializes it once, without
    one; the materialized item wins over the planned ones."""
    merged: dict[tuple[dg.AssetKey, str | None], _Materialization] = {}
    for item in items:
        node = ctx.node(item.key)
        partition = item.partition if node is None or node.partitions_def is not None else None
        seen = merged.get((item.key, partition))
        if seen is None or (seen.at is None and item.at is not None):
            merged[(item.key, partition)] = dataclasses.replace(item, partition=partition)
    return list(merged.values())


def _materialization_events(ctx: LineageContext, run, item: _Materialization, step: _Step, parent, run_end, error):
    from openlineage.client.event_v2 import InputDataset, Job, OutputDataset, Run, RunEvent, RunState
    from openlineage.client.facet_v2 import (
        column_lineage_dataset,
        documentation_job,
        job_type_job,
        nominal_time_run,
        output_statistics_output_dataset,
        schema_dataset,
    )
    from openlineage.client.uuid import generate_static_uuid

    node = ctx.node(item.key)
    declared = node.metadata if node is not None else {}
    table = ctx.table_of(item.key)
    run_id = str(
        generate_static_uuid(
            dt.datetime.fromtimestamp(step.started, dt.UTC),
            f"{run.run_id}/{item.key.to_user_string()}/{item.partition or ''}".encode(),
        )
    )
    facets = dict(parent)
    window = _time_window(node, item.partition)
    if window is not None:
        facets["nominalTime"] = nominal_time_run.NominalTimeRunFacet(
            nominalStartTime=_time(window.start.timestamp()),
            nominalEndTime=_time(window.end.timestamp()),
            producer=PRODUCER,
        )
    job_facets = {
        "jobType": job_type_job.JobTypeJobFacet(
            processingType="BATCH", integration="DAGSTER", jobType="ASSET", producer=PRODUCER
        )
    }
    if node is not None and node.description:
        job_facets["documentation"] = documentation_job.DocumentationJobFacet(
            description=node.description, contentType="text/markdown", producer=PRODUCER
        )
    job = Job(namespace=ctx.jobs, name=item.key.to_user_string(), facets=job_facets)

    dataset_facets: dict[str, Any] = {}
    schema = _value(item.metadata.get("dagster/column_schema") or declared.get("dagster/column_schema"))
    if schema is not None:
        dataset_facets["schema"] = schema_dataset.SchemaDatasetFacet(
            fields=[
                schema_dataset.SchemaDatasetFacetFields(
                    name=c.name, type=c.type, description=c.description or None, ordinal_position=i
                )
                for i, c in enumerate(schema.columns, start=1)
            ],
            producer=PRODUCER,
        )
    lineage = _value(item.metadata.get("dagster/column_lineage") or declared.get("dagster/column_lineage"))
    sources: set[str] = set()
    if lineage is not None:
        pairs = {
            column: [(ctx.table_of(dep.asset_key), dep.column_name) for dep in deps]
            for column, deps in lineage.deps_by_column.items()
        }
        sources = {source for deps in pairs.values() for source, _ in deps}
        from data_platform.base.lineage import openlineage_facet  # sqlglot: only when a facet is built

        facet = openlineage_facet(table, pairs, namespace=ctx.namespace, producer=PRODUCER)
        dataset_facets["columnLineage"] = column_lineage_dataset.ColumnLineageDatasetFacet(
            fields={
                column: column_lineage_dataset.Fields(
                    inputFields=[column_lineage_dataset.InputField(**f) for f in spec["inputFields"]]
                )
                for column, spec in facet["fields"].items()
            },
            producer=PRODUCER,
        )
    upstream = {ctx.table_of(k) for k in (node.parent_keys if node is not None else ())}
    inputs = [InputDataset(namespace=ctx.namespace, name=name) for name in sorted((upstream | sources) - {table})]

    def output(stats: bool) -> list:
        rows = _value(item.metadata.get("dagster/row_count")) if stats else None
        out_facets = (
            {
                "outputStatistics": output_statistics_output_dataset.OutputStatisticsOutputDatasetFacet(
                    rowCount=int(rows), producer=PRODUCER
                )
            }
            if rows is not None
            else {}
        )
        return [OutputDataset(namespace=ctx.namespace, name=table, facets=dataset_facets, outputFacets=out_facets)]

    def event(state, at: float, extra: Mapping | None = None, stats: bool = False):
        return RunEvent(
            eventType=state,
            eventTime=_time(at),
            run=Run(runId=run_id, facets={**facets, **(extra or {})}),
            job=job,
            inputs=inputs,
            outputs=output(stats),
            producer=PRODUCER,
        )

    if item.at is not None:
        end = (item.at, 2, event(RunState.COMPLETE, item.at, stats=True))
    elif step.error is not None:
        end = (step.ended, 2, event(RunState.FAIL, step.ended, error(step.error)))
    elif step.ended is not None:  # the step succeeded without materializing it (an optional output)
        end = (step.ended, 2, event(RunState.COMPLETE, step.ended))
    else:  # the run ended (canceled, crashed) before the step did
        end = (run_end, 2, event(RunState.ABORT, run_end))
    return [(step.started, 1, event(RunState.START, step.started)), end]


def _time_window(node, partition: str | None):
    if node is None or partition is None or not isinstance(node.partitions_def, dg.TimeWindowPartitionsDefinition):
        return None
    return node.partitions_def.time_window_for_partition_key(partition)


# --------------------------------------------------------------------------------------------------
# The sensor


def finished_runs(instance: dg.DagsterInstance, after: int | None, limit: int) -> list:
    """The run-end records (success, failure, cancel) after storage id ``after``, oldest first, at most ``limit``."""
    from dagster._core.event_api import RunStatusChangeRecordsFilter

    found = []
    for kind in _RUN_END:
        result = instance.fetch_run_status_changes(
            RunStatusChangeRecordsFilter(kind, after_storage_id=after), limit=limit, ascending=True
        )
        found += result.records
    return sorted(found, key=lambda r: r.storage_id)[:limit]


@dataclass
class Sent:
    """What one pass sent: events and runs, the runs whose events could not be built (skipped), and the
    delivery error that stopped it (the cursor stays before that run)."""

    events: int = 0
    runs: int = 0
    unreadable: list[str] = field(default_factory=list)
    failed: str | None = None
    cursor: int | None = None


def send_finished_runs(
    instance: dg.DagsterInstance, ctx: LineageContext, client, after: int | None, log, limit: int = RUNS_PER_TICK
) -> Sent:
    """Send the events of the runs that finished after storage id ``after``. A run whose events cannot be
    built is logged and skipped (a retry would fail the same way); a delivery failure stops the pass before
    that run, so the next pass sends it again. ``log``: where failures are reported (the tick's log)."""
    sent = Sent(cursor=after)
    for record in finished_runs(instance, after, limit):
        run_id = record.event_log_entry.run_id
        run = instance.get_run_by_id(run_id)
        events = []
        if run is not None:
            try:
                events = run_events(ctx, run, read_run(instance, run_id))
            except Exception as error:  # a bug here must not stop lineage for every later run
                log.error(f"OpenLineage events of run {run_id} could not be built, skipped: {error!r}")
                sent.unreadable.append(run_id)
        try:
            for event in events:
                client.emit(event)
        except Exception as error:
            sent.failed = f"run {run_id}: {error}"
            log.error(
                f"OpenLineage events of run {run_id} were not delivered to {transport_target(client)}: {error}; "
                "the next tick sends them again"
            )
            return sent
        sent.events += len(events)
        sent.runs += bool(events)
        sent.cursor = record.storage_id
    return sent


def build_openlineage_sensor(table_of: TableOf = table_of_key) -> dg.SensorDefinition:
    """The ``openlineage_sensor`` (see the module); ``table_of`` names each asset's table."""

    @dg.sensor(
        name="openlineage_sensor",
        minimum_interval_seconds=30,
        default_status=sensors_default_status(),
        description="Sends OpenLineage run events (START, COMPLETE/FAIL) of every asset materialization of the "
        "runs that finished since its last tick, with inputs, outputs, schema, row counts and column lineage: "
        "to OPENLINEAGE_URL or the client's openlineage.yml when set, else to data/lineage/openlineage.jsonl.",
    )
    def openlineage_sensor(context: dg.SensorEvaluationContext, warehouse: Warehouse):
        client = lineage_client()
        if client.transport.kind == "noop":
            return dg.SkipReason("OpenLineage is off (OPENLINEAGE_DISABLED=true or a noop transport)")
        ctx = LineageContext(
            asset_graph=context.repository_def.asset_graph,
            namespace=warehouse_namespace(warehouse),
            jobs=job_namespace(),
            table_of=table_of,
        )
        after = int(context.cursor) if context.cursor else None
        try:
            sent = send_finished_runs(context.instance, ctx, client, after, context.log)
        finally:
            client.close()
        message = f"sent {sent.events} OpenLineage events of {sent.runs} runs to {transport_target(client)}"
        if sent.unreadable:
            message += f"; {len(sent.unreadable)} runs skipped, their events could not be built (see the tick log)"
        if sent.failed:
            message += f"; stopped, not delivered ({sent.failed}): sent again next tick"
        cursor = str(sent.cursor) if sent.cursor is not None else context.cursor
        return dg.SensorResult(skip_reason=dg.SkipReason(message), cursor=cursor)

    return openlineage_sensor
