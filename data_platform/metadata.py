"""Helpers for what the Dagster UI shows: per-partition metadata and check results of range runs
(PartitionReport), described column schemas, stage timings, markdown tables."""

import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from functools import cache
from pathlib import Path

import dagster as dg
import duckdb
import yaml

from data_platform.base.identifiers import mask_records
from data_platform.partitions import partition_windows
from data_platform.resources import load_sql


class StageClock:
    """Wall seconds per stage of a step, for the run log and the asset metadata."""

    def __init__(self) -> None:
        self.laps: dict[str, float] = {}
        self._last = time.perf_counter()

    def lap(self, name: str) -> None:
        now = time.perf_counter()
        self.laps[name] = round(now - self._last, 2)
        self._last = now


def markdown_table(records: list[dict]) -> str:
    """A small markdown table for asset metadata (values cut to 60 characters, pipes escaped).

    Every table shown in Dagster goes through here, previews and failing-row samples included, so here
    personal identifiers are masked (:func:`~data_platform.base.identifiers.mask_records`): no raw id,
    address, e-mail, phone or keyed pseudonym reaches Dagster's event log."""
    if not records:
        return "_none_"
    cols = list(records[0])
    out = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    for r in mask_records(records):
        cells = [str(r[c])[:60].replace("|", "\\|").replace("\n", " ") for c in cols]
        out.append("| " + " | ".join(cells) + " |")
    return "\n".join(out)


@cache
def _scratch_database() -> duckdb.DuckDBPyConnection:
    """One in-memory DuckDB per process for reading what the DDL files create. Opening a database costs
    30 to 100 ms and its first catalog query as much again (loading the definitions read a dozen files);
    a cursor on this one and an attached empty database cost about 1 ms."""
    return duckdb.connect(config={"threads": 1})


_DDL_LOCK = threading.Lock()


@cache
def _ddl_catalog(ddl_name: str) -> dict[str, list[tuple[str, str]]]:
    """``schema.table -> [(column, DuckDB type)]`` of every table ``sql/<ddl_name>`` creates (temporary
    tables under schema ``main``), as DuckDB creates them: the file runs on a connection of its own (own
    temporary tables) in an empty in-memory database of its own, attached for it and detached after.
    No parameter is bound: binding one makes DuckDB import pandas (about 0.5 s), which loading the
    definitions does not otherwise need."""
    with _DDL_LOCK:
        con = _scratch_database().cursor()
        con.execute("ATTACH ':memory:' AS ddl_scratch")
        try:
            con.execute("USE ddl_scratch")
            con.execute(load_sql(ddl_name))
            catalog: dict[str, list[tuple[str, str]]] = {}
            for schema, table, column, dtype in con.execute(
                "SELECT schema_name, table_name, column_name, data_type FROM duckdb_columns() "
                "WHERE database_name IN ('ddl_scratch', 'temp') AND NOT internal "
                "ORDER BY schema_name, table_name, column_index"
            ).fetchall():
                catalog.setdefault(f"{schema}.{table}", []).append((column, dtype))
            return catalog
        finally:
            con.execute("USE memory")
            con.execute("DETACH ddl_scratch")
            con.close()


COLUMN_DESCRIPTIONS = Path(__file__).with_name("column_descriptions.yaml")


@cache
def _glossary() -> tuple[dict[str, str], dict[str, dict[str, str]]]:
    from data_platform import contracts

    shipped = yaml.safe_load(COLUMN_DESCRIPTIONS.read_text())
    raw = {name: desc for name, _, desc in (*contracts.raw_events_columns(), *contracts.RAW_QUARANTINE_COLUMNS)}
    return {**raw, **shipped["columns"]}, shipped["tables"]


def column_description(table: str, column: str) -> str:
    """What ``column`` of ``table`` (``schema.table``) means, from ``column_descriptions.yaml`` (a name
    means the same in every table unless the table says otherwise) and the raw log contract; empty
    when nobody wrote it down."""
    columns, tables = _glossary()
    return tables.get(table, {}).get(column) or columns.get(column, "")


def described(schema: dg.TableSchema, table: str) -> dg.TableSchema:
    """``schema`` with every column lacking a description given the one of :func:`column_description`."""
    return dg.TableSchema(
        columns=[
            c
            if c.description
            else dg.TableColumn(
                name=c.name,
                type=c.type,
                description=column_description(table, c.name) or None,
                constraints=c.constraints,
                tags=c.tags,
            )
            for c in schema.columns
        ],
        constraints=schema.constraints,
    )


def table_schema_of(con: duckdb.DuckDBPyConnection, table: str) -> dg.TableSchema:
    """The dagster/column_schema of a table as it stands in the warehouse (for tables rebuilt with
    CREATE TABLE AS, whose columns follow their query), with the columns' descriptions."""
    schema, name = table.split(".")
    cols = con.execute(
        "SELECT column_name, data_type FROM duckdb_columns() WHERE schema_name = ? AND table_name = ? "
        "ORDER BY column_index",
        [schema, name],
    ).fetchall()
    return dg.TableSchema(
        columns=[dg.TableColumn(name=c, type=t, description=column_description(table, c) or None) for c, t in cols]
    )


def parquet_schema_of(con: duckdb.DuckDBPyConnection, path: str, *tables: str) -> dg.TableSchema:
    """The dagster/column_schema of a Parquet file (an export), each column described as in the first of
    ``tables`` (the warehouse tables it was written from) that describes it."""
    cols = con.execute(
        "SELECT column_name, column_type FROM (DESCRIBE SELECT * FROM read_parquet($path))", {"path": path}
    ).fetchall()
    return dg.TableSchema(
        columns=[
            dg.TableColumn(
                name=c, type=t, description=next((d for d in (column_description(x, c) for x in tables) if d), None)
            )
            for c, t in cols
        ]
    )


def report_schema(rows: list[dict], table: str) -> dg.TableSchema:
    """The dagster/column_schema of a report's rows (a plan, an inventory shown as a markdown table), so
    its page lists and describes its columns like a warehouse table's."""
    kinds = {bool: "BOOLEAN", int: "BIGINT", float: "DOUBLE"}
    columns = {}
    for row in rows:
        for name, value in row.items():
            if value is not None and name not in columns:
                columns[name] = kinds.get(type(value), "VARCHAR")
    names = list(dict.fromkeys(name for row in rows for name in row))
    return dg.TableSchema(
        columns=[
            dg.TableColumn(name=n, type=columns.get(n, "VARCHAR"), description=column_description(table, n) or None)
            for n in names
        ]
    )


def ddl_columns(ddl_name: str, table: str) -> tuple[tuple[str, str, str], ...]:
    """(name, DuckDB type, description) of ``table`` as the stage's DDL file creates it (the
    description from :func:`column_description`)."""
    return tuple((c, t, column_description(table, c)) for c, t in _ddl_catalog(ddl_name)[table])


def ddl_tables() -> dict[str, dg.TableSchema]:
    """Every table a stage's DDL file (``sql/<stage>/create_*.sql``) creates, as a described
    dagster/column_schema (tables built with CREATE TABLE AS are not in it)."""
    from data_platform.resources import SQL_DIR

    out = {}
    ddl_files = [
        (f"{stage.name}/{path.name}", path)
        for stage in SQL_DIR.iterdir()
        if stage.is_dir()
        for path in stage.iterdir()
        if path.name.startswith("create_") and path.name.endswith(".sql")
    ]
    for name, path in sorted(ddl_files, key=lambda named: named[0]):
        if "{" in path.read_text():
            continue  # a template its stage fills in (ingestion's landed lines): not a plain DDL
        for table, cols in _ddl_catalog(name).items():
            out[table] = dg.TableSchema(
                columns=[dg.TableColumn(c, t, column_description(table, c) or None) for c, t in cols]
            )
    return out


DayWindow = dict  # {"start_day": date, "end_day": date}, end exclusive


class PartitionReport:
    """What a daily step tells Dagster, one partition at a time, whether its run covered one day or a range.

    A single-run backfill writes many days in one pass; Dagster then records one materialization per
    partition, all with the metadata the step gives it. So that every partition shows figures about
    itself (row counts, breakdowns, previews) and every check evaluation belongs to one day, a step
    describes and judges each day with functions of one day's window::

        report = PartitionReport(context)
        with warehouse.connect() as con:
            ...  # write the whole range
            report.describe(lambda days: {KEY: {"dagster/row_count": count(con, days)}})
            report.check(lambda days: [dg.AssetCheckResult(check_name=..., passed=..., metadata=...)])
        yield from report.results([KEY], run_metadata={KEY: {"run_seconds": ...}})

    ``run_metadata`` is about the run as a whole (stage timings of the range pass, configuration); it
    is recorded on every partition's materialization under the ``run_`` keys the caller gives it.
    """

    def __init__(self, context) -> None:
        self.context = context
        self.windows = partition_windows(context)
        self._checks: list[tuple[str, dg.AssetCheckResult]] = []

    @property
    def run_days(self) -> str:
        """The run's days, ``first...last`` (or the one day)."""
        first, last = self.windows[0][0], self.windows[-1][0]
        return first if first == last else f"{first}...{last}"

    def describe(self, per_day: Callable[[DayWindow], Mapping[dg.AssetKey, Mapping]]) -> None:
        """Attach ``per_day(window)[asset_key]`` to that asset's materialization of each partition."""
        for partition, days in self.windows:
            for key, metadata in per_day(days).items():
                self.context.add_asset_metadata(dict(metadata), asset_key=key, partition_key=partition)

    def check(self, per_day: Callable[[DayWindow], Iterable[dg.AssetCheckResult]]) -> None:
        """Judge each partition with ``per_day(window)``; the results are reported by :meth:`results`."""
        for partition, days in self.windows:
            self._checks += [(partition, result) for result in per_day(days)]

    def results(
        self, asset_keys: Iterable[dg.AssetKey] = (), run_metadata: Mapping[dg.AssetKey, Mapping] | None = None
    ) -> Iterator:
        """The step's events: one MaterializeResult per asset (in the order given: upstream first), then
        one check evaluation per check and partition, then the check outputs."""
        for key in asset_keys:
            yield dg.MaterializeResult(asset_key=key, metadata=dict((run_metadata or {}).get(key, {})))
        yield from check_evaluations(self.context, self._checks)


def check_evaluations(context, results: Iterable[tuple[str, dg.AssetCheckResult]]) -> Iterator:
    """Turn ``(partition, AssetCheckResult)`` pairs into check evaluations of that partition.

    Dagster stamps a check result with the run's partition only when the run has exactly one; in a
    range run the result would belong to no day. Each evaluation here names its own partition and the
    materialization of that partition it judged; a failed blocking one still stops the run. Every
    selected check then gets its (empty) output, as Dagster expects of a check that ran."""
    assets_def = context.op_execution_context.assets_def
    selected = context.selected_asset_check_keys
    names: dict[dg.AssetKey, set[str]] = {}
    for key in assets_def.check_keys:
        names.setdefault(key.asset_key, set()).add(key.name)
    done = []
    for partition, result in results:
        key = result.resolve_target_check_key(names)
        if key not in selected:
            continue
        spec = assets_def.get_spec_for_check_key(key)
        on_day = partition if spec.partitions_def is not None else None
        yield dg.AssetCheckEvaluation(
            asset_key=key.asset_key,
            check_name=key.name,
            passed=result.passed,
            metadata=result.metadata,
            severity=result.severity,
            description=result.description,
            blocking=spec.blocking,
            partition=on_day,
            target_materialization_data=_latest_materialization(context.instance, key.asset_key, on_day),
        )
        if key not in done:
            done.append(key)
    for key in done:
        yield dg.Output(None, output_name=assets_def.get_output_name_for_asset_check_key(key))


def _latest_materialization(instance: dg.DagsterInstance, asset_key: dg.AssetKey, partition: str | None):
    """Where the judged materialization is (the check's "target" in the UI), or None."""
    from dagster._core.definitions.asset_checks.asset_check_evaluation import (
        AssetCheckEvaluationTargetMaterializationData,
    )

    found = instance.fetch_materializations(
        dg.AssetRecordsFilter(asset_key=asset_key, asset_partitions=[partition] if partition else None), limit=1
    ).records
    if not found:
        return None
    return AssetCheckEvaluationTargetMaterializationData(
        storage_id=found[0].storage_id, run_id=found[0].run_id, timestamp=found[0].timestamp
    )


def counts_text(counts: Mapping[str, int], unit: str = "rows", limit: int = 6) -> str:
    """``"price_not_converted: 1,484 rows, missing_ts: 2 rows"``: the non-zero counts, largest first,
    as a failing check's description (what the UI and ``data-platform summary`` show as its reason)."""
    shown = sorted(((k, v) for k, v in counts.items() if v), key=lambda kv: (-kv[1], kv[0]))
    text = ", ".join(f"{k}: {v:,}" + (f" {unit}" if unit else "") for k, v in shown[:limit])
    return text + (f" (+{len(shown) - limit} more)" if len(shown) > limit else "")
