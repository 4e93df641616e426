"""Invalidate an input found bad later (a landing file pattern, a client version, a rule version),
remove or recompute everything downstream through Dagster, and audit it.

What an invalidation does:

- ``source_file`` / ``app_version``: the input itself is bad. Its events stay in raw (evidence) but the
  clean layer removes them from then on (``clean.filtered_events`` kind ``invalidated``, named by the
  invalidation id), so no label, split or export is built from them.
- ``rule``: the rule version was wrong. Its decisions are void: the re-cleaned days keep the events it
  removed, unless the version that corrects it (``corrects`` in ``cleaning/rules.py``), which runs from
  the invalidation on, removes them again under its own version.

:func:`run_invalidation` records the invalidation, re-materializes the affected days through Dagster
(``daily_pipeline`` over the range, widened by a day on each side for clicks and their impressions), then
the review labels (``relabel_reviews``: no new task batch) and the published datasets, audits rows tracing to the
input per table before and
after, marks the export versions it replaced as superseded in their cards, and verifies that nothing
downstream traces to the input any more.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from pathlib import Path

import duckdb

from data_platform.partitions import last_partition_day
from data_platform.provenance.trace import count_staged, impact
from data_platform.resources import existing_tables, rows, run_sql
from data_platform.splits.export import Export, write_card

# Tables that must hold nothing of an invalidated input afterwards (raw keeps it as evidence, and the
# filtered events are where it went).
DOWNSTREAM = (
    "clean.events",
    "labels.ctr_examples",
    "labels.unattributed_clicks",
    "labels.review_examples",
    "splits.ctr_examples",
    "splits.review_examples",
)


def record_invalidation(con: duckdb.DuckDBPyConnection, kind: str, value: str, reason: str, who: str) -> int:
    """Store the invalidation (status ``applying``); returns its id."""
    if kind not in ("source_file", "app_version", "rule"):
        raise ValueError(f"invalidation kind must be source_file, app_version or rule, got {kind!r}")
    if not reason.strip():
        raise ValueError("an invalidation needs a reason")
    run_sql(con, "provenance/create_tables.sql")
    new_id = con.execute("SELECT coalesce(max(invalidation_id), 0) + 1 FROM provenance.invalidations").fetchone()[0]
    run_sql(
        con,
        "provenance/insert_invalidation.sql",
        {"id": new_id, "kind": kind, "value": value, "reason": reason, "who": who},
    )
    return new_id


def affected_days(con: duckdb.DuckDBPyConnection, kind: str, value: str) -> tuple[dt.date, dt.date] | None:
    """First and last day to re-materialize (None when the input holds no event)."""
    impact(con, kind, value)  # stages impact_events
    first, last = run_sql(con, "provenance/affected_days.sql").fetchone()
    return (
        (first.date() if hasattr(first, "date") else first, last.date() if hasattr(last, "date") else last)
        if first
        else None
    )


def counts(con: duckdb.DuckDBPyConnection, kind: str, value: str) -> dict[str, int]:
    """Rows tracing to the input, per table and export version (see :func:`impact`)."""
    return {r["table"]: r["rows"] for r in impact(con, kind, value)}


def remaining(after: dict[str, int], kind: str, latest_exports: list[str]) -> dict[str, int]:
    """What still traces to the input downstream (must be empty): for a rule, the events it removed
    are back in clean, so what must be gone is its filtering decisions."""
    if kind == "rule":
        return {t: n for t, n in after.items() if t == "clean.filtered_events" and n}
    watched = set(DOWNSTREAM) | {f"export {e}" for e in latest_exports}
    return {t: n for t, n in after.items() if t in watched and n}


def run_invalidation(
    connect: Callable[[bool], duckdb.DuckDBPyConnection],
    kind: str,
    value: str,
    reason: str,
    who: str,
    launch: Callable[[list[str]], int],
    partition_start: dt.date,
) -> dict:
    """The whole invalidation; ``launch`` runs ``dg launch`` arguments, ``connect(read_only)`` opens the
    warehouse (closed between Dagster runs: DuckDB has one writer)."""
    with connect(False) as con:
        before = counts(con, kind, value)
        exports_before = _latest_exports(con)
        days = affected_days(con, kind, value)
        if days is None and kind != "rule":
            raise ValueError(f"no event matches {kind} {value!r}: nothing to invalidate")
        invalidation_id = record_invalidation(con, kind, value, reason, who)
        # the input's events as they are now: after, the same events are counted again (for a voided
        # rule, the events it removed are back downstream; for a bad input, they are gone)
        run_sql(con, "provenance/save_events.sql", {"id": invalidation_id})
    # a rule version that removed nothing (yet) is still declared wrong: nothing to rebuild, and the
    # version correcting it runs from the next cleaning on
    # (widened by a day on each side, the range stays within the partitions that exist)
    first, last = (max(days[0], partition_start), min(days[1], last_partition_day())) if days else (None, None)
    steps = (
        [
            ["--job", "daily_pipeline", "--partition-range", f"{first}...{last}"],
            ["--job", "relabel_reviews"],
            ["--job", "publish_datasets"],
        ]
        if days
        else []
    )
    for step in steps:
        if (code := launch(step)) != 0:
            raise RuntimeError(
                f"dg launch {' '.join(step)} failed (exit {code}); invalidation {invalidation_id} stays 'applying'"
            )
    with connect(False) as con:
        after = counts(con, kind, value)
        exports_after = _latest_exports(con)
        # checked before the audit view below: for a rule, its decisions must be gone (a correcting
        # version may remove some of the same events again, under its own version)
        left = remaining(after, kind, [e for e in exports_after if e not in exports_before])
        run_sql(con, "provenance/stage_saved_events.sql", {"id": invalidation_id})
        restored = {t: n for t, n in ((r["table"], r["rows"]) for r in count_staged(con))}
        if kind == "rule":  # the audit shows where the voided decisions' events are now
            after = {**after, **{t: n for t, n in restored.items() if not t.startswith("export")}}
        for table in sorted(set(before) | set(after)):
            run_sql(
                con,
                "provenance/insert_audit.sql",
                {
                    "id": invalidation_id,
                    "table_name": table,
                    "before": before.get(table, 0),
                    "after": after.get(table, 0),
                },
            )
        superseded = _supersede(con, exports_before, exports_after, invalidation_id, reason)
        run_sql(con, "provenance/mark_applied.sql", {"id": invalidation_id, "status": "failed" if left else "applied"})
    return {
        "invalidation_id": invalidation_id,
        "days": [str(first), str(last)] if days else [],
        "before": before,
        "after": after,
        "remaining": left,
        "exports_before": exports_before,
        "exports_after": exports_after,
        "superseded": superseded,
    }


def _latest_exports(con) -> list[str]:
    present = existing_tables(con)
    if "splits.exports" not in present:
        return []
    return [f"{r['dataset']} {r['version']}" for r in rows(con, "provenance/latest_exports.sql")]


def _supersede(con, before: list[str], after: list[str], invalidation_id: int, reason: str) -> list[str]:
    """Mark the export versions replaced by the republication as superseded in their cards."""
    done = []
    new_by_dataset = {e.split()[0]: e.split()[1] for e in after}
    for export in before:
        dataset, version = export.split()
        if new_by_dataset.get(dataset, version) == version:
            continue
        path = Path(run_sql(con, "provenance/export_path.sql", {"dataset": dataset, "version": version}).fetchone()[0])
        card_path = path / "card.json"
        if card_path.exists() and "superseded_by" not in json.loads(card_path.read_text()):
            card = json.loads(card_path.read_text())
            card["superseded_by"] = {
                "version": new_by_dataset[dataset],
                "invalidation_id": invalidation_id,
                "reason": reason,
            }
            write_card(Export(dataset, version, path, card.get("counts", {}), written=False), card)
        done.append(export)
    return done
