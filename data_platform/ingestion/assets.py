"""Ingestion assets: raw/files, raw/events and raw/quarantine, one daily-partitioned step.

The step lands every new or changed file first (each file is parsed once, whichever run sees it
first), then cuts the partition's days out of the parse store, then runs the blocking checks.
"""

import datetime as dt
from functools import cache
from pathlib import Path

import dagster as dg

from data_platform import contracts
from data_platform.base.keys import RAW_EVENTS
from data_platform.base.pseudonyms import pseudonym_key
from data_platform.ingestion.erasure import TOMBSTONES, erase_landing_lines
from data_platform.ingestion.landing import ensure_tables, land_new_files, sql_list, table_fragments
from data_platform.ingestion.stage import RAW_EVENTS_CONTRACT, RAW_QUARANTINE_CONTRACT
from data_platform.metadata import PartitionReport, StageClock, counts_text, markdown_table
from data_platform.partitions import WAREHOUSE_STEP, daily_check, daily_partitions, partition_days, partitions_start
from data_platform.privacy.files import erase_files
from data_platform.resources import LandingZone, Warehouse, rows, run_sql, transaction

RAW_FILES = dg.AssetKey(["raw", "files"])
RAW_QUARANTINE = dg.AssetKey(["raw", "quarantine"])

INGESTION_CODE_VERSION = f"ingestion-1/contract-{contracts.CONTRACT_VERSION}"
_COMMON = dict(
    group_name="ingestion",
    kinds={"duckdb", "python"},
    owners=["team:data-platform"],
    code_version=INGESTION_CODE_VERSION,
    partitions_def=daily_partitions,
)

FILES_SCHEMA = [
    ("file_id", "BIGINT", "landing order; key of the parsed lines"),
    ("source_file", "VARCHAR", "path relative to the landing folder"),
    ("file_sha256", "VARCHAR", "SHA-256 of the bytes landed"),
    ("size_bytes", "BIGINT", "size on disk"),
    ("mtime", "TIMESTAMPTZ", "modification time when landed"),
    ("compressed", "BOOLEAN", "gzip"),
    ("lines", "BIGINT", "lines read"),
    ("accepted", "BIGINT", "lines accepted into raw.events"),
    ("quarantined", "BIGINT", "lines quarantined"),
    ("partitions", "DATE[]", "days its lines fall on"),
    ("status", "VARCHAR", "current, or superseded by new bytes at the same path"),
    ("landed_at", "TIMESTAMPTZ", "when it was parsed"),
    ("landed_run_id", "VARCHAR", "the run that parsed it"),
    ("superseded_at", "TIMESTAMPTZ", "when new bytes replaced it"),
    ("superseded_by", "VARCHAR", "SHA-256 of the replacing bytes"),
    ("erased_subject", "BIGINT", "lines of erased subjects: dropped at landing or erased since, never stored"),
]

ACCOUNTING_CHECK = daily_check(
    "lines_accounted",
    RAW_FILES,
    blocking=True,
    description="For every file with lines on the day: lines read = accepted + quarantined + erased_subject "
    "(lines of erased subjects, never stored), and "
    "the rows in raw.events plus raw.quarantine equal the lines parsed for the day.",
)
CONTRACT_CHECK = daily_check(
    "contract_v1",
    RAW_EVENTS,
    blocking=True,
    description="Every row keeps the raw contract: known event_type, required fields per type, "
    "numeric ranges, event_date = UTC day of ts, complete provenance.",
)
REASONS_CHECK = daily_check(
    "reasons_known",
    RAW_QUARANTINE,
    blocking=True,
    description="Every quarantined line has a contract reason code and its file and line number.",
)


@dg.multi_asset(
    name="raw_ingestion",
    specs=[
        dg.AssetSpec(
            RAW_FILES,
            description="Registry of every landing file version seen: SHA-256, size, lines read, accepted "
            "and quarantined, the days its lines fall on, and whether newer bytes superseded it. Each "
            "partition's materialization lists the files with lines on that day.",
            metadata={"dagster/column_schema": contracts.table_schema(FILES_SCHEMA)},
            **_COMMON,
        ),
        dg.AssetSpec(
            RAW_EVENTS,
            description="Raw events that keep the log contract (v1), one row per accepted line, typed, "
            "on the UTC day of their ts (late events land on the day they happened). Every row keeps "
            "its provenance: source_file, source_line, file_sha256, ingested_at, run_id. Duplicates "
            "are kept here; cleaning removes them.",
            deps=[RAW_FILES],
            metadata={"dagster/column_schema": RAW_EVENTS_CONTRACT.table_schema()},
            **_COMMON,
        ),
        dg.AssetSpec(
            RAW_QUARANTINE,
            description="Lines that broke the log contract, with the reason code, the field or value that "
            "triggered it, the raw line and where it came from. Nothing is dropped silently.",
            deps=[RAW_FILES],
            metadata={"dagster/column_schema": RAW_QUARANTINE_CONTRACT.table_schema()},
            **_COMMON,
        ),
    ],
    check_specs=[ACCOUNTING_CHECK, CONTRACT_CHECK, REASONS_CHECK],
    **WAREHOUSE_STEP,
)
def raw_ingestion(context: dg.AssetExecutionContext, warehouse: Warehouse, landing: LandingZone):
    """Land new files, then (re)build the partition's days of raw.events and raw.quarantine."""
    days = partition_days(context)
    clock = StageClock()
    if not Path(landing.root).is_dir():
        raise FileNotFoundError(
            f"the landing folder {landing.root} does not exist: create it, or point "
            "DATA_PLATFORM_LANDING at the folder producers write to"
        )
    if not landing.events_dir().is_dir():
        context.log.warning(f"no events/ folder under the landing folder {landing.root}: nothing to land")
    with warehouse.connect() as con:
        ensure_tables(con)
        refused: list[tuple[str, str]] = []
        landed = land_new_files(
            con,
            landing.events_dir(),
            context.run.run_id,
            min_ts=partitions_start(),
            settle_seconds=landing.settle_seconds,
            refused=refused,
            max_line_bytes=landing.max_line_bytes,
            max_file_attempts=landing.max_file_attempts,
        )
        # Entries that are never read (a symlink leading outside the landing folder, a link loop...)
        # used to be skipped without a word; say so in the run's log and in the raw/files metadata.
        for rel, why in refused:
            context.log.warning(f"refused landing entry {rel!r}: {why}")
        for f in landed:
            context.log.info(
                f"landed {f.rel}: {f.lines} lines, {f.accepted} accepted, {f.quarantined} quarantined, "
                f"{f.erased_subject} of erased subjects dropped, "
                f"days {[d.isoformat() for d in f.partitions]}"
            )
        if any(f.erased_subject for f in landed):
            # the dropped lines are still in the files that brought them back: empty them there too
            for f in erase_files(
                con, TOMBSTONES, pseudonym_key(), Path(landing.root), dt.datetime.now(dt.UTC), [erase_landing_lines]
            ):
                context.log.info(f"emptied {f.lines_removed} lines of erased subjects in {f.location}")
        clock.lap("land_s")
        with transaction(con):
            for statement in ("delete_events", "insert_events", "delete_quarantine", "insert_quarantine"):
                run_sql(con, f"ingestion/{statement}.sql", days, **table_fragments())
        clock.lap("cut_days_s")
        report = PartitionReport(context)
        report.describe(lambda day: _day_metadata(con, day))
        report.check(lambda day: [_accounting_check(con, day), _contract_check(con, day), _reasons_check(con, day)])
        clock.lap("checks_and_metadata_s")
    context.log.info(f"stage seconds: {clock.laps}")

    run = {"run_days": report.run_days, "run_stage_seconds": dg.MetadataValue.json(clock.laps)}
    yield from report.results(
        [RAW_FILES, RAW_EVENTS, RAW_QUARANTINE],
        run_metadata={
            RAW_FILES: {
                **run,
                "files_landed_by_this_run": len(landed),
                "entries_refused_by_this_run": dg.MetadataValue.md(
                    markdown_table([{"entry": rel, "why": why} for rel, why in refused])
                ),
                "lines_landed_by_this_run": sum(f.lines for f in landed),
                "dagster/column_schema": contracts.table_schema(FILES_SCHEMA),
            },
            RAW_EVENTS: {**run, "dagster/column_schema": RAW_EVENTS_CONTRACT.table_schema()},
            RAW_QUARANTINE: {**run, "dagster/column_schema": RAW_QUARANTINE_CONTRACT.table_schema()},
        },
    )


def _day_metadata(con, days) -> dict[dg.AssetKey, dict]:
    """What each ingestion asset's partition holds for one day: counts, breakdowns, previews."""
    summary = rows(con, "ingestion/partition_summary.sql", days)[0]
    by_type = {r["event_type"]: r["n"] for r in rows(con, "ingestion/events_by_type.sql", days)}
    by_reason = {r["reason"]: r["n"] for r in rows(con, "ingestion/quarantine_by_reason.sql", days)}
    files = rows(con, "ingestion/files_in_range.sql", days)
    return {
        RAW_FILES: {
            "dagster/row_count": len(files),
            "files_known": summary["files_known"],
            "files": dg.MetadataValue.md(markdown_table(files)),
        },
        RAW_EVENTS: {
            "dagster/row_count": summary["events"],
            "events_by_type": dg.MetadataValue.json(by_type),
            "source_files": summary["files"],
            "preview": dg.MetadataValue.md(markdown_table(rows(con, "ingestion/preview_events.sql", days))),
        },
        RAW_QUARANTINE: {
            "dagster/row_count": summary["quarantined"],
            **{f"reason/{code}": by_reason.get(code, 0) for code in contracts.QUARANTINE_REASONS},
            "quarantine_share": round(summary["quarantined"] / max(1, summary["quarantined"] + summary["events"]), 5),
            "preview": dg.MetadataValue.md(markdown_table(rows(con, "ingestion/preview_quarantine.sql", days))),
        },
    }


def _accounting_check(con, days) -> dg.AssetCheckResult:
    bad = rows(con, "ingestion/check_accounting.sql", days)
    return dg.AssetCheckResult(
        check_name=ACCOUNTING_CHECK.name,
        asset_key=RAW_FILES,
        passed=not bad,
        severity=dg.AssetCheckSeverity.ERROR,
        description=(f"{len(bad):,} files not balancing: " + ", ".join(str(r["source_file"]) for r in bad[:5]))
        if bad
        else None,
        metadata={
            "files_not_balancing": len(bad),
            "sample": dg.MetadataValue.md(markdown_table(bad[:10])),
        },
    )


@cache
def _contract_check_fragments() -> dict[str, str]:
    missing = [
        f"count(*) FILTER (WHERE event_type IN {sql_list(f.required_for)} "
        f"AND ({f.name} IS NULL OR {f.name}::VARCHAR = '')) AS missing_{f.name}"
        for f in contracts.FIELDS
        if f.required_for
    ]
    ranges = []
    for f in contracts.FIELDS:
        bounds = [
            f"{f.name} < {f.minimum}" if f.minimum is not None else None,
            f"{f.name} > {f.maximum}" if f.maximum is not None else None,
        ]
        bounds = [b for b in bounds if b]
        if bounds:
            ranges.append(f"count(*) FILTER (WHERE {' OR '.join(bounds)}) AS out_of_range_{f.name}")
    return {
        "event_types": sql_list(contracts.EVENT_TYPES),
        "missing_counts": ",\n    ".join(missing),
        "range_counts": ",\n    ".join(ranges),
    }


def _contract_check(con, days) -> dg.AssetCheckResult:
    cur = run_sql(con, "ingestion/check_events_contract.sql", days, **_contract_check_fragments())
    counts = dict(zip([d[0] for d in cur.description], cur.fetchone()))
    checked = counts.pop("rows_checked")
    violations = {k: v for k, v in counts.items() if v}
    return dg.AssetCheckResult(
        check_name=CONTRACT_CHECK.name,
        asset_key=RAW_EVENTS,
        passed=not violations,
        severity=dg.AssetCheckSeverity.ERROR,
        description=counts_text(violations, "rows") or None,
        metadata={"rows_checked": checked, "violations": dg.MetadataValue.json(violations)},
    )


def _reasons_check(con, days) -> dg.AssetCheckResult:
    bad = rows(con, "ingestion/check_quarantine_reasons.sql", days, reasons=sql_list(contracts.QUARANTINE_REASONS))
    return dg.AssetCheckResult(
        check_name=REASONS_CHECK.name,
        asset_key=RAW_QUARANTINE,
        passed=not bad,
        severity=dg.AssetCheckSeverity.ERROR,
        description=counts_text({str(r["reason"]): r["n"] for r in bad}, "rows") or None,
        metadata={
            "bad_rows": sum(r["n"] for r in bad),
            "by_reason": dg.MetadataValue.json({str(r["reason"]): r["n"] for r in bad}),
        },
    )


__all__ = ["RAW_EVENTS", "RAW_FILES", "RAW_QUARANTINE", "raw_ingestion"]
