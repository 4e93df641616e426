"""Consent and erasure requests: read from the landing folder, applied to every table, audited.

Requests land as JSONL under ``<landing>/privacy/``: ``request_id``, exactly one of ``user_id`` /
``anon_id``, ``kind`` (``opt_out`` or ``erase``), ``ts`` (ISO-8601 with offset). A bad line is
recorded in ``privacy.rejected_requests`` with its reason, never dropped silently; a file is read once
(by name and SHA-256).

- ``opt_out`` adds the subject's keyed pseudonym to ``privacy.consent_history``; the clean step
  excludes the subject's events from its next materialization on (history is not rewritten).
- ``erase`` removes the person's rows from every person table, raw included, in one transaction (each
  stage declares its tables and the predicate that finds a person's rows in them, ``Stage.person_columns``;
  ``catalog.PERSON_TABLES`` collects them, later stages first, and passes them in here), records the
  subject's identifiers as keyed pseudonyms (the tombstones landing checks, ``tombstones.py``), verifies that
  nothing of the person is left and marks the request, all in that transaction; it writes
  ``privacy.erasure_audit`` (request id, table, rows removed, when), which keeps no id and no pseudonym. For a
  ``user_id`` the person is every event carrying it plus every device whose logins only ever name this user;
  a shared device keeps other people's rows.

Once all its requests committed, a file is rewritten without the subjects' raw ids (:func:`rewrite_lines`)
and only then recorded as read; a crash at any point leaves work the next run completes. :func:`run_requests` then
rewrites the warehouse file so that no byte of the erased rows remains (``compaction.py``).
Every copy in files goes too: the file erasers each stage declares (``Stage.file_erasers``,
``catalog.FILE_ERASERS``) rewrite the landing files, re-issue the export versions and clean the labeling
files and reports that hold the subject (``privacy/files.py``, recorded in ``privacy.erased_files``). Requests refuse to
run under another key than the one the warehouse's pseudonyms were written with (``keys.py``).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import duckdb

from data_platform.base.pseudonyms import key_id, keyring, pseudonym_key, pseudonymise, pseudonymise_sql
from data_platform.privacy.compaction import reclaim_deleted_bytes
from data_platform.privacy.files import FileEraser, erase_files
from data_platform.privacy.keys import check_key
from data_platform.privacy.landed import landed_events
from data_platform.privacy.redaction import PII_PATTERNS
from data_platform.privacy.tables import ensure_tables
from data_platform.resources import Warehouse, existing_tables, run_sql, transaction

KINDS = ("opt_out", "erase")
SUBJECT_KINDS = ("user_id", "anon_id")
# an erasure's status once its rows are gone, until the warehouse file no longer holds their bytes ("done")
ERASED = "erased"
APPLIED = "applied"  # the status of a request line rewritten once applied (no raw id left in it)


@dataclass(frozen=True)
class Request:
    request_id: str
    kind: str
    subject_kind: str  # user_id | anon_id
    subject: str  # the raw id: kept in memory only
    requested_ts: dt.datetime
    source_file: str
    source_line: int


def _parse(line: str) -> tuple[dict | None, str | None]:
    """A request line as a dict (``applied`` true for a line an earlier run rewrote, see :func:`rewrite_lines`),
    or the reason it is rejected."""
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
    if obj.get("status") == APPLIED:
        if any(k in obj for k in SUBJECT_KINDS):
            return None, "needs_exactly_one_of_user_id_anon_id"
        return {**obj, "applied": True}, None
    subjects = [k for k in SUBJECT_KINDS if isinstance(obj.get(k), str) and obj[k]]
    if len(subjects) != 1:
        return None, "needs_exactly_one_of_user_id_anon_id"
    try:
        ts = dt.datetime.fromisoformat(str(obj.get("ts")).replace("Z", "+00:00"))
    except ValueError:
        return None, "bad_ts"
    if ts.tzinfo is None:
        return None, "bad_ts"
    return {**obj, "subject_kind": subjects[0], "ts": ts, "applied": False}, None


@dataclass(frozen=True)
class RequestFile:
    """A request file not read before: its bytes' hash, its lines, the valid requests and the rejected lines."""

    path: Path
    sha256: str
    lines: list[bytes]  # split on b"\n", so that joining them gives the file back byte for byte
    requests: list[Request]
    rejected: list[tuple[int, str]]  # (line number, reason)
    applied_before: int  # lines an earlier run already applied and rewrote


def read_request_file(con: duckdb.DuckDBPyConnection, path: Path) -> RequestFile | None:
    """The requests of a file, or None when this file (name and SHA-256) was read before."""
    data = path.read_bytes()
    sha = hashlib.sha256(data).hexdigest()
    if run_sql(con, "privacy/request_file_seen.sql", {"source_file": path.name, "file_sha256": sha}).fetchone()[0]:
        return None
    lines = data.split(b"\n")
    requests, rejected, applied = [], [], 0
    for number, raw in enumerate(lines, start=1):
        line = raw.decode("utf-8", errors="replace")
        if not line.strip():
            continue
        obj, reason = _parse(line)
        if reason:
            rejected.append((number, reason))
        elif obj["applied"]:
            applied += 1
        else:
            subject = obj[obj["subject_kind"]]
            requests.append(
                Request(obj["request_id"], obj["kind"], obj["subject_kind"], subject, obj["ts"], path.name, number)
            )
    return RequestFile(path, sha, lines, requests, rejected, applied)


def read_new_requests(con: duckdb.DuckDBPyConnection, privacy_dir: Path) -> list[RequestFile]:
    """Every request file of ``privacy_dir`` not read before (by name and SHA-256), in name order."""
    ensure_tables(con)
    files = sorted(privacy_dir.glob("*.jsonl")) if privacy_dir.is_dir() else []
    return [f for f in (read_request_file(con, p) for p in files) if f is not None]


def request_files_read(warehouse: Warehouse, paths: Sequence[Path]) -> set[str] | None:
    """The names among ``paths`` whose current bytes were read before (name and SHA-256 recorded in
    ``privacy.request_files``), or None when a writing run holds the warehouse file (DuckDB: no reader beside
    a writer). A file a run has processed is rewritten without its raw ids (:func:`rewrite_lines`) and that
    version recorded, so the privacy sensor, which watches size and mtime, knows the change is the run's own."""
    if not warehouse.exists():
        return set()
    try:
        with warehouse.connect(read_only=True) as con:
            if "privacy.request_files" not in existing_tables(con):
                return set()
            return {
                p.name
                for p in paths
                if run_sql(
                    con,
                    "privacy/request_file_seen.sql",
                    {"source_file": p.name, "file_sha256": hashlib.sha256(p.read_bytes()).hexdigest()},
                ).fetchone()[0]
            }
    except duckdb.IOException:  # a writing run holds the file
        return None


def rewrite_lines(f: RequestFile, key: str) -> bytes:
    """The file with each applied request line replaced by what may be kept of it: request id, kind, ts,
    the subject's kind, the key id and ``"status": "applied"``: no raw id, and no pseudonym either (a pseudonym
    is still personal data; the warehouse keeps the ones it needs, and ``privacy verify`` counts one found in
    a file as a hit). Rejected and blank lines are kept byte for byte (a rejected line is not a request: the
    operator fixes and resends it)."""
    lines = list(f.lines)
    for r in f.requests:
        lines[r.source_line - 1] = json.dumps(
            {
                "request_id": r.request_id,
                "kind": r.kind,
                "ts": r.requested_ts.isoformat(),
                "subject_kind": r.subject_kind,
                "key_id": key_id(key),
                "status": APPLIED,
            }
        ).encode()
    return b"\n".join(lines)


def replace_file(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically: a hidden temporary file beside it (``.name.tmp``, which no reader
    takes), fsynced, renamed over it, the folder fsynced. A crash leaves the old or the new file, never a mix."""
    tmp = path.with_name(f".{path.name}.tmp")
    with open(tmp, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)
    folder = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(folder)
    finally:
        os.close(folder)


def _existing(con: duckdb.DuckDBPyConnection, person_tables: Mapping[str, str]) -> list[str]:
    present = existing_tables(con)
    return [t for t in person_tables if t in present]


def _stage_subject(con, subject_kind: str, subject: str, key: str) -> None:
    ids = {
        "anon_id": subject if subject_kind == "anon_id" else None,
        "user_id": subject if subject_kind == "user_id" else None,
    }
    events = landed_events(con)  # before the first ingestion: none (nothing of the subject to find yet)
    run_sql(con, "privacy/erase_devices.sql", ids, events=events)
    run_sql(con, "privacy/erase_ids.sql", {"user_id": ids["user_id"]}, events=events)
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
    return _staged_rows(con, person_tables)


def _staged_rows(con: duckdb.DuckDBPyConnection, person_tables: Mapping[str, str]) -> dict[str, int]:
    return {
        t: run_sql(con, "privacy/count_subject_rows.sql", table=t, predicate=person_tables[t]).fetchone()[0]
        for t in _existing(con, person_tables)
    }


class ErasureIncomplete(RuntimeError):
    """Rows of the subject were still found after their erasure: it was rolled back, the request stays open."""


# statements run just before the subject's rows leave a table: the parse store's lines move, in their files'
# accounting, to erased_subject (lines = accepted + quarantined + erased_subject keeps holding)
_BEFORE_ERASING = {"raw.landed_lines": "privacy/recount_erased_lines.sql"}


def _mark_done(con, r: Request, received_at: dt.datetime, now: dt.datetime, status: str = "done") -> None:
    run_sql(
        con,
        "privacy/insert_request.sql",
        {
            "request_id": r.request_id,
            "kind": r.kind,
            "subject_kind": r.subject_kind,
            "requested_ts": r.requested_ts,
            "received_at": received_at,
            "source_file": r.source_file,
            "source_line": r.source_line,
            "status": status,
            "processed_at": now,
        },
    )


def erase_subject(
    con, request: Request, key: str, run_id: str, now: dt.datetime, person_tables: Mapping[str, str]
) -> dict[str, int]:
    """Remove the subject's rows from every person table (table -> predicate, erased in that order), record
    the subject's identifiers as keyed pseudonyms (``privacy.erased_identifiers``, the tombstones landing
    checks), audit the counts, verify that no row of the subject is left and mark the request done: all in one
    transaction, so a crash at any point leaves the request open for the next run. Rows left behind raise
    :class:`ErasureIncomplete` (and nothing is committed)."""
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
            events=landed_events(con),
        )
        removed = {}
        for table in _existing(con, person_tables):
            removed[table] = run_sql(
                con, "privacy/count_subject_rows.sql", table=table, predicate=person_tables[table]
            ).fetchone()[0]
            if table in _BEFORE_ERASING and removed[table]:
                run_sql(con, _BEFORE_ERASING[table], predicate=person_tables[table])
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
        ids = [r[0] for r in run_sql(con, "privacy/staged_subject_ids.sql").fetchall()]
        pseudonyms = [pseudonymise(i, k) for i in ids for k in keyring().values()]
        run_sql(con, "privacy/erase_consent.sql", {"pseudonyms": pseudonyms})
        # verified against what was staged before the rows went (the devices are found through raw.events)
        left = {t: n for t, n in _staged_rows(con, person_tables).items() if n}
        if left:
            raise ErasureIncomplete(f"erasure {request.request_id} left rows behind: {left}; nothing was committed")
        _mark_done(con, request, now, now, ERASED)
    return removed


def _record_consent(con, r: Request, key: str, now: dt.datetime) -> None:
    with transaction(con):
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
        _mark_done(con, r, now, now)


def _is_done(con, r: Request) -> bool:
    params = {"request_id": r.request_id, "kind": r.kind, "source_file": r.source_file, "source_line": r.source_line}
    return run_sql(con, "privacy/request_done.sql", params).fetchone()[0]


def _close_file(con, f: RequestFile, key: str, now: dt.datetime) -> None:
    """After every request of ``f`` committed: rewrite it without the subjects' raw ids (atomically), then
    record it as read (with its rejected lines) in one transaction. A crash before the record leaves the
    rewritten file, whose applied lines the next run recognises and skips; its rejected lines are
    recorded once, with the file."""
    data = rewrite_lines(f, key) if f.requests else b"\n".join(f.lines)
    if f.requests:
        replace_file(f.path, data)
    with transaction(con):
        for number, reason in f.rejected:
            run_sql(
                con,
                "privacy/insert_rejected.sql",
                {"source_file": f.path.name, "source_line": number, "reason": reason, "received_at": now},
            )
        run_sql(
            con,
            "privacy/insert_request_file.sql",
            {"source_file": f.path.name, "file_sha256": hashlib.sha256(data).hexdigest(), "read_at": now},
        )


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
    :func:`~data_platform.privacy.files.erase_files`), and verify them.

    Crash-safe: each request is applied and marked done in one transaction; a file is recorded as read
    only after all its requests committed (and after it was rewritten without their raw ids, see
    :func:`rewrite_lines`), so the next run after a crash re-reads it and applies what is not done yet.
    Before anything is applied the key in use must be the one the warehouse's pseudonyms were written
    with (:func:`~data_platform.privacy.keys.check_key`).
    """
    now = now or dt.datetime.now(dt.UTC)
    key = pseudonym_key()
    files = read_new_requests(con, privacy_dir)
    if any(f.requests for f in files):
        check_key(con, key)
    removed: dict[str, int] = {}
    remaining: dict[str, int] = {}
    applied = {"opt_out": 0, "erase": 0}
    already = sum(f.applied_before for f in files)
    for f in files:
        for r in f.requests:
            if _is_done(con, r):  # committed by a run that crashed before it could close the file
                already += 1
                if r.kind == "erase":  # its files may not have been reached (erasing them again finds nothing)
                    erase_files(con, r.request_id, key, privacy_dir.parent, now, file_erasers)
                continue
            if r.kind == "opt_out":
                _record_consent(con, r, key, now)
            else:
                for table, n in erase_subject(con, r, key, run_id, now, person_tables).items():
                    removed[table] = removed.get(table, 0) + n
                    remaining.setdefault(table, 0)
                erase_files(con, r.request_id, key, privacy_dir.parent, now, file_erasers)
            applied[r.kind] += 1
        _close_file(con, f, key, now)
    return {
        "requests": sum(len(f.requests) for f in files),
        "opt_outs": applied["opt_out"],
        "erasures": applied["erase"],
        "already_applied": already,
        "rejected_lines": sum(len(f.rejected) for f in files),
        "rows_removed": removed,
        "rows_remaining": remaining,
    }


def run_requests(
    warehouse: Warehouse,
    privacy_dir: Path,
    run_id: str,
    person_tables: Mapping[str, str],
    file_erasers: Sequence[FileEraser] = (),
) -> dict:
    """:func:`process_requests` on the warehouse, then, if an erasure's rows are gone but not yet their bytes
    (this run's, or one a crash interrupted), those bytes go and the requests become ``done``: the warehouse file
    is rewritten without them (:func:`~data_platform.privacy.compaction.reclaim_deleted_bytes`), or on the lake
    the data files holding deleted rows are rewritten, old snapshots expired and unread files deleted
    (:meth:`~data_platform.resources.Warehouse.forget_history`). Call it holding the warehouse's only writer."""
    with warehouse.connect() as con:
        summary = process_requests(con, privacy_dir, run_id, person_tables, file_erasers=file_erasers)
        pending = run_sql(con, "privacy/erased_not_reclaimed.sql").fetchone()[0]
        if pending and warehouse.is_lake:
            summary.update(warehouse.forget_history(con))
            run_sql(con, "privacy/mark_reclaimed.sql")
    summary["file_rewritten"] = (
        reclaim_deleted_bytes(
            warehouse.database, "privacy/mark_reclaimed.sql", warehouse.memory_limit, warehouse.threads
        )
        if pending and not warehouse.is_lake
        else None
    )
    return summary
