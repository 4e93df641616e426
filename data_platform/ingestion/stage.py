"""What ingestion declares for the rest of the platform: its tables' contracts, where a person's rows
are (erasure), and its lines of the status summary."""

from __future__ import annotations

import duckdb

from data_platform import contracts as raw_contract
from data_platform.base.stage import Stage
from data_platform.base.tables import (
    EVENT_DAY,
    PROVENANCE_COLUMNS,
    TableContract,
    always_required,
    at_least,
    isin,
    raw_event_checks,
    required_by_event_type,
)
from data_platform.ingestion.erasure import erase_landing_lines

RAW_EVENTS_CONTRACT = TableContract(
    "raw.events",
    tuple(raw_contract.raw_events_columns()),
    "event_date",
    frozenset(always_required() | PROVENANCE_COLUMNS | {"event_date", "ts_raw", "ingested_at", "run_id"}),
    unique=("source_file", "source_line"),
    column_checks=raw_event_checks(),
    row_checks=(EVENT_DAY, *required_by_event_type()),
    description="accepted events: contract v1 types, domains and per-type required fields",
)
RAW_QUARANTINE_CONTRACT = TableContract(
    "raw.quarantine",
    tuple(raw_contract.RAW_QUARANTINE_COLUMNS),
    "partition_date",
    frozenset({"partition_date", "source_file", "source_line", "file_sha256", "reason", "ingested_at", "run_id"}),
    unique=("source_file", "source_line"),
    column_checks={"reason": [isin(raw_contract.QUARANTINE_REASONS)], "source_line": [at_least(1)]},
    description="quarantined lines: a known reason and where the line came from",
)

# raw ids are stored as sent; a quarantined line names the id as a JSON string value: match it quoted
# (so "ann" is not "annual")
_RAW_IDS = "(anon_id IN (SELECT id FROM erase_subject_ids) OR user_id IN (SELECT id FROM erase_subject_ids))"
_RAW_LINE = "EXISTS (SELECT 1 FROM erase_subject_ids s WHERE contains(raw_line, '\"' || s.id || '\"'))"


def summary(con: duckdb.DuckDBPyConnection, tables: set[tuple[str, str]]) -> list[str]:
    """Files landed, accepted and quarantined rows, quarantine reasons, and whether lines balance."""
    if ("raw", "files") not in tables:
        return []
    lines = []
    files, lines_read, accepted, quarantined = con.execute(
        "SELECT count(*), sum(lines), sum(accepted), sum(quarantined) FROM raw.files WHERE status = 'current'"
    ).fetchone()
    lines.append(f"raw.files        {files:>10,} files, {lines_read or 0:,} lines read")
    events = con.execute("SELECT count(*) FROM raw.events").fetchone()[0]
    quarantine = con.execute("SELECT count(*) FROM raw.quarantine").fetchone()[0]
    lines.append(f"raw.events       {events:>10,} rows ({accepted or 0:,} accepted lines landed)")
    lines.append(f"raw.quarantine   {quarantine:>10,} rows ({quarantined or 0:,} quarantined lines landed)")
    reasons = con.execute("SELECT reason, count(*) FROM raw.quarantine GROUP BY reason ORDER BY 2 DESC, 1").fetchall()
    lines.append("  quarantine reasons: " + ", ".join(f"{r} {n}" for r, n in reasons))
    balanced = (events + quarantine) == (lines_read or 0)
    lines.append(
        f"accounting: lines read {lines_read or 0:,} = accepted {events:,} + quarantined {quarantine:,}"
        + ("  (balances)" if balanced else "  (DOES NOT BALANCE: some days are not materialized yet)")
    )
    return lines


STAGE = Stage(
    name="ingestion",
    contracts=(RAW_EVENTS_CONTRACT, RAW_QUARANTINE_CONTRACT),
    person_columns={
        "raw.landed_lines": f"({_RAW_IDS} OR (reason IS NOT NULL AND {_RAW_LINE}))",
        "raw.events": _RAW_IDS,
        "raw.quarantine": _RAW_LINE,
    },
    summary=summary,
    file_erasers=(erase_landing_lines,),
)
