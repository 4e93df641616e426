"""Trace an example back to its raw lines, and count what an input (a file, an app version, a rule
version) reaches downstream.

Row lineage is in the data: an export row names its example; a click example names its impression and
click event ids, a review example its review event id; every clean and raw event names its landing
file and line. :func:`trace` follows those ids; :func:`impact` starts from the raw events an input holds
and counts, table by table and export version by export version, the rows built from them.
"""

from __future__ import annotations

import gzip
import json
from dataclasses import dataclass, field
from pathlib import Path

import duckdb

from data_platform.privacy.redaction import redact_text
from data_platform.resources import existing_tables, rows, run_sql

# personal fields of a raw line, masked when a trace prints it
_MASKED = {"anon_id": "<ID>", "user_id": "<ID>", "session_id": "<ID>", "ip": "<IP>"}


@dataclass
class Trace:
    """The chain of one example, from the export back to the raw lines."""

    dataset: str
    example_id: str
    steps: list[dict] = field(default_factory=list)  # {step, table, what, version}
    raw_lines: list[dict] = field(default_factory=list)  # {event_id, role, source_file, source_line, line}

    @property
    def found(self) -> bool:
        """Whether the example exists at all."""
        return bool(self.steps)


def trace(con: duckdb.DuckDBPyConnection, dataset: str, example_id: str, landing_root: Path | None = None) -> Trace:
    """Follow one example of ``dataset`` (``ctr_examples`` or ``review_examples``) to its raw lines."""
    if dataset not in ("ctr_examples", "review_examples"):
        raise ValueError(f"unknown dataset {dataset!r}: ctr_examples or review_examples")
    present = existing_tables(con)
    out = Trace(dataset, example_id)
    for export in _exports_holding(con, present, dataset, example_id):
        out.steps.append(
            {
                "step": "export",
                "table": export["path"],
                "what": f"split {export['split']}",
                "version": export["version"],
            }
        )
    if f"splits.{dataset}" in present:
        for r in rows(con, "provenance/split_row.sql", {"id": example_id}, table=f"splits.{dataset}"):
            out.steps.append(
                {
                    "step": "split",
                    "table": f"splits.{dataset}",
                    "what": f"{r['split']} (person {r['group_key']})",
                    "version": "splits-2",
                }
            )
    events: list[tuple[str, str]] = []
    if dataset == "ctr_examples":
        for r in rows(con, "provenance/ctr_example.sql", {"id": example_id}):
            out.steps.append(
                {
                    "step": "direct label",
                    "table": "labels.ctr_examples",
                    "what": f"label {r['label']} ({r['label_status']}), window {r['attribution_window_s']} s",
                    "version": f"run {r['label_run_id']}",
                }
            )
            events += [(r["impression_event_id"], "impression")] + (
                [(r["click_event_id"], "click")] if r["click_event_id"] else []
            )
    else:
        for r in rows(con, "provenance/review_example.sql", {"id": example_id}):
            out.steps.append(
                {
                    "step": "label",
                    "table": "labels.review_examples",
                    "what": f"{r['label']} from {r['label_source']} (confidence {r['label_confidence']:.3f}, "
                    f"{r['rater_count']} raters)",
                    "version": r["label_model"],
                }
            )
            events.append((example_id, "review"))
    for event_id, role in events:
        for r in rows(con, "provenance/clean_event.sql", {"id": event_id}):
            out.steps.append(
                {
                    "step": f"clean {role}",
                    "table": "clean.events",
                    "what": f"{event_id} ({r['price_fix'] or 'no price fix'})",
                    "version": f"ruleset {r['ruleset_version']}, fx {r['fx_version']}",
                }
            )
        for r in rows(con, "provenance/raw_event.sql", {"id": event_id}):
            out.raw_lines.append(
                {
                    "event_id": event_id,
                    "role": role,
                    "source_file": r["source_file"],
                    "source_line": r["source_line"],
                    "file_sha256": r["file_sha256"][:12],
                    "ingest_run": r["run_id"],
                    "line": _masked_line(landing_root, r["source_file"], r["source_line"]),
                }
            )
    return out


def _exports_holding(con, present: set[str], dataset: str, example_id: str) -> list[dict]:
    if "splits.exports" not in present:
        return []
    found = []
    for export in rows(con, "provenance/export_versions.sql", {"dataset": dataset}):
        files = [Path(export["path"]) / f"{s}.parquet" for s in ("train", "dev", "test")]
        if not all(f.exists() for f in files):
            continue
        hit = run_sql(
            con,
            "provenance/example_in_export.sql",
            {"id": example_id},
            files="[" + ", ".join("'" + str(f).replace("'", "''") + "'" for f in files) + "]",
        ).fetchone()
        if hit:
            found.append({**export, "split": hit[0]})
    return found


def _masked_line(landing_root: Path | None, source_file: str, line_no: int) -> str | None:
    """The raw line as landed, personal data masked (None when the file is gone)."""
    if landing_root is None:
        return None
    path = Path(landing_root) / "events" / source_file
    if not path.exists():
        return None
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rb") as f:
        for number, raw in enumerate(f, start=1):
            if number == line_no:
                text = raw.decode("utf-8", errors="replace").rstrip("\n")
                try:
                    obj = json.loads(text)
                except ValueError:
                    return redact_text(text)
                if not isinstance(obj, dict):
                    return redact_text(text)
                return json.dumps(
                    {k: _MASKED.get(k, redact_text(v) if isinstance(v, str) else v) for k, v in obj.items()},
                    ensure_ascii=False,
                )
    return None


def trace_markdown(t: Trace) -> str:
    """A trace as text for the terminal."""
    if not t.found:
        return f"{t.dataset} {t.example_id}: not found"
    lines = [f"{t.dataset} {t.example_id}", ""]
    lines += [f"  {s['step']:<14} {s['table']}: {s['what']}  [{s['version']}]" for s in t.steps]
    lines.append("")
    for r in t.raw_lines:
        lines.append(
            f"  raw {r['role']:<10} {r['source_file']}:{r['source_line']} (sha {r['file_sha256']}, "
            f"ingested by run {r['ingest_run'][:8]})"
        )
        if r["line"]:
            lines.append(f"    {r['line']}")
    return "\n".join(lines)


IMPACT_KINDS = ("source_file", "app_version", "rule")


def impact(con: duckdb.DuckDBPyConnection, kind: str, value: str) -> list[dict]:
    """Rows downstream of an input, per table and per export version: ``[{table, rows}]`` (an export
    version also says ``status``: ``current``, or ``superseded by <version>``).

    ``kind``: ``source_file`` (a LIKE pattern over landing paths, e.g. ``2026-11-05/%``), ``app_version``
    (events sent by that client version) or ``rule`` (``rule_id@version``: the events that rule
    version removed). The starting set is the raw event ids the input holds; a click example counts
    when its impression or its attributed click is in the set.
    """
    if kind not in IMPACT_KINDS:
        raise ValueError(f"impact kind must be one of {IMPACT_KINDS}")
    params: dict = {"value": value}
    if kind == "rule":
        rule_id, _, version = value.partition("@")
        if not version.isdigit():
            raise ValueError(f"a rule is rule_id@version, e.g. crawler_user_agent@1, got {value!r}")
        params = {"rule_id": rule_id, "version": int(version)}
    run_sql(con, f"provenance/impact_events_{kind}.sql", params)
    return count_staged(con)


def count_staged(con: duckdb.DuckDBPyConnection) -> list[dict]:
    """:func:`impact`'s counts for the event ids staged in the temp table ``impact_events``."""
    present = existing_tables(con)
    out = []
    for table, sql in IMPACT_TABLES:
        if table in present and all(t in present for t in IMPACT_NEEDS.get(table, ())):
            out.append({"table": table, "rows": run_sql(con, f"provenance/{sql}").fetchone()[0]})
    if "splits.exports" in present:
        exports = rows(con, "provenance/all_exports.sql")
        latest = {e["dataset"]: e["version"] for e in exports}  # ordered by creation: the last one wins
        for export in exports:
            files = [Path(export["path"]) / f"{s}.parquet" for s in ("train", "dev", "test")]
            if all(f.exists() for f in files) and f"labels.{export['dataset']}" in present:
                n = run_sql(
                    con,
                    f"provenance/impact_export_{export['dataset']}.sql",
                    files="[" + ", ".join("'" + str(f).replace("'", "''") + "'" for f in files) + "]",
                ).fetchone()[0]
                current = latest[export["dataset"]] == export["version"]
                out.append(
                    {
                        "table": f"export {export['dataset']} {export['version']}",
                        "rows": n,
                        "status": "current" if current else f"superseded by {latest[export['dataset']]}",
                    }
                )
    return out


# (table, counting query) in lineage order; the queries read the temp table impact_events(event_id)
IMPACT_TABLES = (
    ("raw.events", "impact_raw_events.sql"),
    ("clean.events", "impact_clean_events.sql"),
    ("clean.filtered_events", "impact_filtered_events.sql"),
    ("labels.ctr_examples", "impact_ctr_examples.sql"),
    ("labels.unattributed_clicks", "impact_unattributed_clicks.sql"),
    ("labels.review_examples", "impact_review_examples.sql"),
    ("splits.ctr_examples", "impact_split_ctr.sql"),
    ("splits.review_examples", "impact_split_reviews.sql"),
)
IMPACT_NEEDS = {"splits.ctr_examples": ("labels.ctr_examples",)}
