"""What cleaning declares for the rest of the platform: its tables' contracts, where a person's rows are
(erasure), its lines of the status summary, and the SQL steps clean.events is built with."""

from __future__ import annotations

import duckdb

from data_platform.base import tables
from data_platform.base.identifiers import PSEUDONYM_SHAPE
from data_platform.base.stage import SqlStep, Stage, StepGroup
from data_platform.base.tables import TableContract, at_least, isin, matches, row_check
from data_platform.cleaning.clean import day_steps, identity_map_steps
from data_platform.metadata import ddl_columns

CLEAN_EVENTS_CONTRACT = TableContract(
    "clean.events",
    ddl_columns("cleaning/create_tables.sql", "clean.events"),
    "event_date",
    frozenset(
        tables.always_required()
        | tables.PROVENANCE_COLUMNS
        | {"event_date", "person_key", "ruleset_version", "fx_version", "cleaned_at", "clean_run_id"}
    ),
    unique=("event_id",),
    column_checks={
        **{k: v for k, v in tables.raw_event_checks().items() if k != "price"},
        "price_eur": [at_least(0)],
        "person_key": [matches(f"^{PSEUDONYM_SHAPE}$", "a keyed pseudonym p_<24 hex>")],
    },
    row_checks=(
        tables.EVENT_DAY,
        *[c for c in tables.required_by_event_type() if "price" not in c.name and "currency" not in c.name],
        row_check("price_eur set when a price was sent", "price_raw IS NULL OR price_eur IS NOT NULL"),
    ),
    description="clean events: unique event_id, pseudonymised ids, EUR prices, rule and fx versions",
)
FILTERED_EVENTS_CONTRACT = TableContract(
    "clean.filtered_events",
    ddl_columns("cleaning/create_tables.sql", "clean.filtered_events"),
    "event_date",
    frozenset(
        {"event_id", "event_date", "rule_id", "rule_version", "kind", "ruleset_version", "source_file", "source_line"}
    ),
    column_checks={"kind": [isin(("bot", "spam", "invalidated", "set_aside"))], "rule_version": [at_least(1)]},
    description="events removed by a rule (or an invalidation, or set aside with a reason), with the rule "
    "id and version",
)
DUPLICATES_CONTRACT = TableContract(
    "clean.duplicates",
    ddl_columns("cleaning/create_tables.sql", "clean.duplicates"),
    "event_date",
    frozenset(
        {"event_id", "event_date", "source_file", "source_line", "kept_source_file", "kept_source_line", "clean_run_id"}
    ),
    unique=("source_file", "source_line"),
    row_checks=(
        row_check(
            "the dropped copy is not the kept one",
            "source_file <> kept_source_file OR source_line <> kept_source_line",
        ),
    ),
    description="dropped repeated deliveries, each with the copy that was kept",
    written_by="clean/events",
)

# clean tables hold keyed pseudonyms, never raw ids
_PSEUDO_IDS = (
    "(anon_id IN (SELECT pseudonym FROM erase_subject_ids) OR user_id IN (SELECT pseudonym FROM erase_subject_ids))"
)


def _steps() -> dict[str, tuple[SqlStep | StepGroup, ...]]:
    # the tables are declared first, then every statement of a cleaned day, as the runner runs them; the current
    # identity map is its own asset, built from every login
    return {
        "clean.events": (SqlStep("cleaning/create_tables.sql"), *day_steps()),
        "clean.identity_map": identity_map_steps(),
    }


def summary(con: duckdb.DuckDBPyConnection, tables: set[tuple[str, str]]) -> list[str]:
    """Clean rows, persons, corrected prices, what was removed and which rules fired."""
    if ("clean", "events") not in tables:
        return []
    lines = []
    kept, filtered, dups, persons, fixed = con.execute(
        "SELECT (SELECT count(*) FROM clean.events), (SELECT count(*) FROM clean.filtered_events), "
        "(SELECT count(*) FROM clean.duplicates), (SELECT count(DISTINCT person_key) FROM clean.events), "
        "(SELECT count(*) FROM clean.events WHERE price_fix IS NOT NULL)"
    ).fetchone()
    lines.append(f"clean.events     {kept:>10,} rows, {persons:,} persons, {fixed:,} prices corrected")
    lines.append(f"  removed: {dups:,} duplicate deliveries, {filtered:,} by spam/bot rules")
    by_rule = con.execute(
        "SELECT rule_id || '@' || rule_version, count(*) FROM clean.filtered_events GROUP BY 1 ORDER BY 2 DESC"
    ).fetchall()
    lines.append("  rules: " + (", ".join(f"{r} {n}" for r, n in by_rule) or "none fired"))
    return lines


STAGE = Stage(
    name="cleaning",
    contracts=(CLEAN_EVENTS_CONTRACT, FILTERED_EVENTS_CONTRACT, DUPLICATES_CONTRACT),
    person_columns={
        "clean.events": _PSEUDO_IDS,
        "clean.filtered_events": "anon_id IN (SELECT pseudonym FROM erase_subject_ids)",
        "clean.duplicates": "event_id IN (SELECT event_id FROM erase_events)",
        "clean.identity_map": "anon_id IN (SELECT pseudonym FROM erase_subject_ids)",
        # the events of an opted-out person left out of a day: an erased one's are theirs too
        "clean.consent_exclusions": "event_id IN (SELECT event_id FROM erase_events)",
    },
    summary=summary,
    steps=_steps(),
)
