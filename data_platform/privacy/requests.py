"""Consent and erasure requests: read from the landing folder, applied to every table, audited.

Requests land as JSONL under ``<landing>/privacy/``: ``request_id``, exactly one of ``user_id`` /
``anon_id``, ``kind`` (``opt_out`` or ``erase``), ``ts`` (ISO-8601 with offset). A bad line is
recorded in ``privacy.rejected_requests`` with its reason, never dropped silently; a file is read once
(by name and SHA-256).

- ``opt_out`` adds the subject's keyed pseudonym to ``privacy.consent_history``; the clean step
  excludes the subject's events from its next materialization on (history is not rewritten).
- ``erase`` removes the person's rows from every person table, raw included, in one transaction (each
  stage declares its tables and the predicate that finds a person's rows in them, ``Stage.person_columns``;
  ``catalog.PERSON_TABLES`` collects them, later stages first, and passes them in here), and writes
  ``privacy.erasure_audit`` (request id, table, rows removed, when), which keeps no id and no pseudonym. For a
  ``user_id`` the person is every event carrying it plus every device
  whose logins only ever name this user; a shared device keeps other people's rows.

Then every copy in files: the file erasers each stage declares (``Stage.file_erasers``,
``catalog.FILE_ERASERS``) rewrite the landing files, re-issue the export versions and clean the labeling
files and reports that hold the subject (``privacy/files.py``, recorded in ``privacy.erased_files``).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import duckdb

from data_platform.base.pseudonyms import key_id, pseudonym_key, pseudonymise, pseudonymise_sql
from data_platform.privacy.files import FileEraser, erase_files
from data_platform.privacy.redaction import PII_PATTERNS
from data_platform.resources import existing_tables, load_sql, run_sql, transaction

KINDS = ("opt_out", "erase")


@dataclass(frozen=True)
class Request:
    request_id: str
    kind: str
    subject_kind: str  # user_id | anon_id
    subject: str  # the raw id: kept in memory only
    requested_ts: dt.datetime
    source_file: str
    source_line: int


def ensure_tables(con: duckdb.DuckDBPyConnection) -> None:
    """Create the privacy schema and tables if they do not exist yet."""
    con.execute(load_sql("privacy/create_tables.sql"))


def _parse(line: str) -> tuple[dict | None, str | None]:
    try:
        obj = json.loads(line)
    except json.JSONDecodeError:
        return None, "not_json"
    if not isinstance(obj, dict):
        return None, "not_an_object"
    if not isinstance(obj.get("request_id"), str) or not obj["request_id"]:
        return None, "missing_request_id"
    if obj.get("kind") not in KINDS:
        return None, "unknown_kind"
    subjects = [k for k in ("user_id", "anon_id") if isinstance(obj.get(k), str) and obj[k]]
    if len(subjects) != 1:
        return None, "needs_exactly_one_of_user_id_anon_id"
    try:
        ts = dt.datetime.fromisoformat(str(obj.get("ts")).replace("Z", "+00:00"))
    except ValueError:
        return None, "bad_ts"
    if ts.tzinfo is None:
        return None, "bad_ts"
    return {**obj, "subject_kind": subjects[0], "ts": ts}, None


def read_new_requests(con: duckdb.DuckDBPyConnection, privacy_dir: Path, now: dt.datetime) -> list[Request]:
    """Valid requests from files not read before; bad lines go to privacy.rejected_requests."""
    ensure_tables(con)
    found = []
    for path in sorted(privacy_dir.glob("*.jsonl")) if privacy_dir.is_dir() else []:
        data = path.read_bytes()
        sha = hashlib.sha256(data).hexdigest()
        if run_sql(con, "privacy/request_file_seen.sql", {"source_file": path.name, "file_sha256": sha}).fetchone()[0]:
            continue
        for number, line in enumerate(data.decode("utf-8", errors="replace").splitlines(), start=1):
            if not line.strip():
                continue
            obj, reason = _parse(line)
            if reason:
                run_sql(
                    con,
                    "privacy/insert_rejected.sql",
                    {"source_file": path.name, "source_line": number, "reason": reason, "received_at": now},
                )
                continue
            found.append(
                Request(
                    obj["request_id"],
                    obj["kind"],
                    obj["subject_kind"],
                    obj[obj["subject_kind"]],
                    obj["ts"],
                    path.name,
                    number,
                )
            )
        run_sql(con, "privacy/insert_request_file.sql", {"source_file": path.name, "file_sha256": sha, "read_at": now})
    return found


def _existing(con: duckdb.DuckDBPyConnection, person_tables: Mapping[str, str]) -> list[str]:
    present = existing_tables(con)
    return [t for t in person_tables if t in present]


def _stage_subject(con, subject_kind: str, subject: str, key: str) -> None:
    ids = {
        "anon_id": subject if subject_kind == "anon_id" else None,
        "user_id": subject if subject_kind == "user_id" else None,
    }
    run_sql(con, "privacy/erase_devices.sql", ids)
    run_sql(con, "privacy/erase_ids.sql", {"user_id": ids["user_id"]})
    run_sql(
        con,
        "privacy/erase_subject_ids.sql",
        {"user_id": ids["user_id"], "pseudonym_key": key},
        pseudonym=pseudonymise_sql("id"),
    )


def subject_rows(
    con: duckdb.DuckDBPyConnection, subject_kind: str, subject: str, key: str, person_tables: Mapping[str, str]
) -> dict[str, int]:
    """Rows per person table that still belong to the subject (all zero after an erasure)."""
    _stage_subject(con, subject_kind, subject, key)
    return {
        t: run_sql(con, "privacy/count_subject_rows.sql", table=t, predicate=person_tables[t]).fetchone()[0]
        for t in _existing(con, person_tables)
    }


def erase_subject(
    con, request: Request, key: str, run_id: str, now: dt.datetime, person_tables: Mapping[str, str]
) -> dict[str, int]:
    """Remove the subject's rows from every person table (table -> predicate, erased in that order) in
    one transaction; record the subject's identifiers as keyed pseudonyms (``privacy.erased_identifiers``) and
    audit the counts."""
    with transaction(con):
        _stage_subject(con, request.subject_kind, request.subject, key)
        run_sql(
            con,
            "privacy/insert_erased_identifiers.sql",
            {
                "request_id": request.request_id,
                "user_id": request.subject if request.subject_kind == "user_id" else None,
                "key_id": key_id(key),
                "erased_at": now,
                "email_pattern": PII_PATTERNS["<EMAIL>"],
                "phone_pattern": PII_PATTERNS["<PHONE>"],
                "pseudonym_key": key,
            },
            pseudonym=pseudonymise_sql("id"),
        )
        removed = {}
        for table in _existing(con, person_tables):
            removed[table] = run_sql(
                con, "privacy/count_subject_rows.sql", table=table, predicate=person_tables[table]
            ).fetchone()[0]
            run_sql(con, "privacy/erase_rows.sql", table=table, predicate=person_tables[table])
            run_sql(
                con,
                "privacy/insert_audit.sql",
                {
                    "request_id": request.request_id,
                    "table_name": table,
                    "rows_removed": removed[table],
                    "processed_at": now,
                    "run_id": run_id,
                },
            )
    return removed


def process_requests(
    con: duckdb.DuckDBPyConnection,
    privacy_dir: Path,
    run_id: str,
    person_tables: Mapping[str, str],
    now: dt.datetime | None = None,
    file_erasers: Sequence[FileEraser] = (),
) -> dict:
    """Read new request files, record opt-outs, carry out erasures over ``person_tables`` (table ->
    predicate, see :func:`erase_subject`) and in the files (``file_erasers``, see
    :func:`~data_platform.privacy.files.erase_files`), and verify them."""
    now = now or dt.datetime.now(dt.UTC)
    key = pseudonym_key()
    requests = read_new_requests(con, privacy_dir, now)
    removed: dict[str, int] = {}
    remaining: dict[str, int] = {}
    for r in requests:
        if r.kind == "opt_out":
            run_sql(
                con,
                "privacy/insert_consent.sql",
                {
                    "subject_kind": r.subject_kind,
                    "subject_pseudonym": pseudonymise(r.subject, key),
                    "status": "opted_out",
                    "effective_at": now,
                    "request_id": r.request_id,
                },
            )
        else:
            for table, n in erase_subject(con, r, key, run_id, now, person_tables).items():
                removed[table] = removed.get(table, 0) + n
            erase_files(con, r.request_id, key, privacy_dir.parent, now, file_erasers)
            for table, n in subject_rows(con, r.subject_kind, r.subject, key, person_tables).items():
                remaining[table] = remaining.get(table, 0) + n
        run_sql(
            con,
            "privacy/insert_request.sql",
            {
                "request_id": r.request_id,
                "kind": r.kind,
                "subject_kind": r.subject_kind,
                "requested_ts": r.requested_ts,
                "received_at": now,
                "source_file": r.source_file,
                "source_line": r.source_line,
                "status": "done",
                "processed_at": now,
            },
        )
    rejected = run_sql(con, "privacy/rejected_since.sql", {"at": now}).fetchone()[0]
    return {
        "requests": len(requests),
        "opt_outs": sum(r.kind == "opt_out" for r in requests),
        "erasures": sum(r.kind == "erase" for r in requests),
        "rejected_lines": rejected,
        "rows_removed": removed,
        "rows_remaining": remaining,
    }
