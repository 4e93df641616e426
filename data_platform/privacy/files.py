"""Erasure in files: every copy of an erased subject outside the warehouse, rewritten or re-issued, and recorded.

An erase request removes the subject's rows from the warehouse (``requests.py``); the same request must reach
the files the platform reads or wrote: the landing files, the published export versions, the task batches
sent to raters and the annotation exports that came back, the HTML reports. Each stage knows its own files,
so each declares its *file erasers* (``Stage.file_erasers``, collected by ``catalog.FILE_ERASERS`` in stage
order); :func:`erase_files` calls them with a :class:`FileErasure` right after the rows are gone and records
every file they rewrote, deleted or re-issued in ``privacy.erased_files`` (a location relative to its data
folder, the SHA-256 before and after, lines removed, when: a hash names no one).

What erasers share, here:

- :class:`FileErasure`: the request, the warehouse connection, the key, and how to know the subject without
  keeping a raw id: :meth:`FileErasure.names_subject` splits a text into candidate tokens (ids, UUIDs, IPs,
  e-mail addresses, phone numbers: :func:`candidate_tokens`) and looks each, and its keyed pseudonym, up in
  the subject's pseudonyms (``privacy.erased_identifiers`` plus their person keys);
- :func:`rewrite_lines`: a line file (plain or gzip) rewritten atomically (a hidden temporary file in the
  same folder, then a rename) with chosen lines emptied, every other line byte-identical and the line
  numbers unchanged, so provenance that names a file and a line keeps pointing at the same line.
"""

from __future__ import annotations

import datetime as dt
import gzip
import hashlib
import os
import re
import tempfile
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

import duckdb

from data_platform.base.pseudonyms import pseudonymise
from data_platform.privacy.redaction import PII_PATTERNS
from data_platform.resources import run_sql

ACTIONS = ("rewritten", "deleted", "reissued")

# identifier shapes: e-mail addresses, phone numbers and IPs as redaction finds them (what
# privacy.erased_identifiers pseudonymised), id-like words (user ids, UUIDs, pseudonyms; with and without
# dots, @ and +), and quoted JSON strings (an id as a landing line sends it, whatever its shape)
_TOKENS = [re.compile(PII_PATTERNS[k]) for k in ("<EMAIL>", "<PHONE>", "<IP>")] + [
    re.compile(r"[\w:-]+"),
    re.compile(r"[\w.@+:-]*\w"),
    re.compile(r'"([^"\\]*)"'),
]


def candidate_tokens(text: str) -> set[str]:
    """Every substring of ``text`` shaped like an identifier (each distinct one once)."""
    return {m for pattern in _TOKENS for m in pattern.findall(text)}


@dataclass(frozen=True)
class ErasedFile:
    """One file an eraser rewrote, deleted or re-issued.

    ``location``: ``<data folder>/<path inside it>``, the folder being ``landing``, ``exports``,
    ``labeling`` or ``reports`` (e.g. ``landing/events/2026-11-02/a.jsonl``); never an absolute path.
    """

    location: str
    action: str
    sha256_before: str | None
    sha256_after: str | None
    lines_removed: int

    def __post_init__(self) -> None:
        if self.action not in ACTIONS:
            raise ValueError(f"action must be one of {ACTIONS}, got {self.action!r}")


@dataclass
class FileErasure:
    """What a file eraser gets: the erase request just applied to the warehouse.

    The subject's raw ids are read from the temporary table ``erase_subject_ids`` the erasure staged (in
    memory of this connection only, never stored); their pseudonyms from ``privacy.erased_identifiers``.
    ``landing_root``: the landing folder (events, privacy requests, annotation exports).
    """

    con: duckdb.DuckDBPyConnection
    request_id: str
    key: str
    landing_root: Path
    now: dt.datetime
    shared: dict = field(default_factory=dict)  # what an earlier eraser found for later ones (stage order)

    @cached_property
    def raw_ids(self) -> tuple[str, ...]:
        """The subject's user id and devices, as staged by the erasure; none outside an erasure (landing's
        tombstones, say: then the subject is known by the pseudonyms alone)."""
        try:
            found = run_sql(self.con, "privacy/staged_subject_ids.sql").fetchall()
        except duckdb.CatalogException:  # no erasure staged in this connection
            return ()
        return tuple(sorted(r[0] for r in found))

    @cached_property
    def event_ids(self) -> frozenset[str]:
        """The subject's event ids, as staged by the erasure (none outside an erasure)."""
        try:
            return frozenset(r[0] for r in run_sql(self.con, "privacy/staged_subject_events.sql").fetchall())
        except duckdb.CatalogException:
            return frozenset()

    @cached_property
    def person_keys(self) -> frozenset[str]:
        """The person keys (``group_key`` of examples, ``person_key`` of clean events) the subject has:
        the keyed pseudonyms of ``u:<user id>`` and ``a:<device>`` (``sql/cleaning/identity_map.sql``)."""
        return frozenset(pseudonymise(f"{p}:{i}", self.key) for i in self.raw_ids for p in ("u", "a"))

    def pseudonyms(self, *, every_request: bool = False) -> frozenset[str]:
        """The pseudonyms of the subject's identifiers (of every erased subject with ``every_request``)."""
        found = run_sql(
            self.con, "privacy/erased_pseudonyms.sql", {"request_id": None if every_request else self.request_id}
        ).fetchall()
        return frozenset(r[0] for r in found)

    @cached_property
    def _known(self) -> frozenset[str]:
        return self.pseudonyms() | self.person_keys

    def subject_tokens(self, text: str, known: frozenset[str] | None = None) -> set[str]:
        """The tokens of ``text`` that name the subject: one of their pseudonyms or person keys as such, or a
        raw value whose keyed pseudonym is one (``known``: other pseudonyms to look for instead)."""
        known = self._known if known is None else known
        return {t for t in candidate_tokens(text) if t in known or pseudonymise(t, self.key) in known}

    def names_subject(self, text: str, known: frozenset[str] | None = None) -> bool:
        """Whether ``text`` names the subject (see :meth:`subject_tokens`)."""
        return bool(self.subject_tokens(text, known))


FileEraser = Callable[[FileErasure], Iterable[ErasedFile]]
"""A stage's file eraser: yields each file it rewrote, deleted or re-issued, as soon as it is done."""


def erase_files(
    con: duckdb.DuckDBPyConnection,
    request_id: str,
    key: str,
    landing_root: Path,
    now: dt.datetime,
    erasers: Iterable[FileEraser],
) -> list[ErasedFile]:
    """Run every file eraser (stage order) for one erase request, once its rows are gone from the warehouse,
    and record each file it rewrote, deleted or re-issued in ``privacy.erased_files`` as it reports it.

    An eraser that fails does not stop the others: every eraser runs, what was done is recorded, then the
    first failure is raised with a note listing them all (the erasure is not complete)."""
    job = FileErasure(con, request_id, key, Path(landing_root), now)
    done: list[ErasedFile] = []
    errors: list[tuple[Exception, str]] = []
    for eraser in erasers:
        try:
            for f in eraser(job):
                _record(con, request_id, f, now)
                done.append(f)
        except Exception as error:  # noqa: BLE001 - raised below, after the other erasers ran
            errors.append((error, f"{getattr(eraser, '__name__', eraser)}: {type(error).__name__}: {error}"))
    if errors:
        first = errors[0][0]
        first.add_note("file erasers that failed (the others ran):\n" + "\n".join(f"- {m}" for _, m in errors))
        raise first
    return done


def _record(con: duckdb.DuckDBPyConnection, request_id: str, f: ErasedFile, now: dt.datetime) -> None:
    run_sql(
        con,
        "privacy/insert_erased_file.sql",
        {
            "request_id": request_id,
            "location": f.location,
            "action": f.action,
            "sha256_before": f.sha256_before,
            "sha256_after": f.sha256_after,
            "lines_removed": f.lines_removed,
            "processed_at": now,
        },
    )


def sha256_of(path: Path) -> str:
    """SHA-256 of a file's bytes."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def _chunks(path: Path, compressed: bool) -> Iterator[bytes]:
    """A file's (decompressed) bytes; a gzip that does not decompress whole raises."""
    with (gzip.open if compressed else open)(path, "rb") as fh:
        while chunk := fh.read(1 << 20):
            yield chunk


def _split_lines(chunks: Iterable[bytes]) -> Iterator[bytes]:
    """Lines (each with its ``\n``, the last one maybe without) of a stream of bytes."""
    rest = b""
    for chunk in chunks:
        parts = (rest + chunk).split(b"\n")
        rest = parts.pop()
        for part in parts:
            yield part + b"\n"
    if rest:
        yield rest


@dataclass(frozen=True)
class Rewrite:
    """What :func:`rewrite_lines` did to a file."""

    sha256_before: str
    sha256_after: str
    lines_removed: int
    size_after: int


def rewrite_lines(
    path: Path,
    drop: Callable[[int, bytes], bool],
    *,
    compressed: bool | None = None,
    expect_sha256: str | None = None,
    keep_numbers: bool = True,
    before_replace: Callable[[Rewrite], object] | None = None,
    chunks: Callable[[Path], Iterable[bytes]] | None = None,
) -> Rewrite | None:
    """Empty every line of ``path`` for which ``drop(line number, line bytes)`` holds, atomically.

    Lines are numbered from 1 and split on ``\\n`` as landing reads them (a gzip file is read whole,
    multi-member included, and written back as one member). An emptied line keeps its newline, so every
    other line keeps its number and its bytes; the file keeps its mode and mtime. The new file is written
    under a hidden name in the same folder (never taken by landing), synced, then renamed over the old one.
    ``keep_numbers=False`` removes the dropped lines instead (for files where no one refers to a line by its
    number, e.g. a CSV whose reader would reject an empty row).
    ``expect_sha256``: rewrite only if the file's bytes still hash to this (else None, nothing touched).
    ``before_replace(rewrite)`` runs just before the rename (e.g. recording the new hash in an open
    transaction): if it raises, the file is left as it was.
    ``chunks(path)``: the file's content as the reader of its lines sees it (landing passes its own, which
    stops quietly at a corrupt gzip tail: that tail, unreadable and of unknown persons, is then not written
    back); by default the whole file, and a gzip that does not decompress whole is an ``OSError`` naming
    the file (nothing is changed).
    Returns None, touching nothing, when no line is dropped.
    """
    path = Path(path)
    compressed = path.name.endswith(".gz") if compressed is None else compressed
    before = sha256_of(path)
    if expect_sha256 is not None and before != expect_sha256:
        return None
    st = path.stat()
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.erasing-", dir=path.parent)
    tmp = Path(tmp_name)
    removed = 0
    try:
        with os.fdopen(fd, "wb") as raw_out:
            out = gzip.GzipFile(filename="", fileobj=raw_out, mode="wb", mtime=0) if compressed else raw_out
            try:
                content = chunks(path) if chunks is not None else _chunks(path, compressed)
                for number, line in enumerate(_split_lines(content), start=1):
                    body = line[:-1] if line.endswith(b"\n") else line
                    if body and drop(number, body):
                        removed += 1
                        out.write(b"\n" if keep_numbers and line.endswith(b"\n") else b"")
                    else:
                        out.write(line)
            except (EOFError, gzip.BadGzipFile, OSError) as error:
                raise OSError(f"{path.name}: not rewritten, it does not read as a whole ({error})") from error
            finally:
                if compressed:
                    out.close()
            raw_out.flush()
            os.fsync(raw_out.fileno())
        if not removed:
            return None
        os.chmod(tmp, st.st_mode & 0o7777)
        os.utime(tmp, ns=(st.st_atime_ns, st.st_mtime_ns))
        done = Rewrite(before, sha256_of(tmp), removed, tmp.stat().st_size)
        if before_replace is not None:
            before_replace(done)
        os.replace(tmp, path)
        return done
    finally:
        tmp.unlink(missing_ok=True)


MASK = "<erased>"


def scrub_text_file(path: Path, job: FileErasure) -> Rewrite | None:
    """Replace every token of a text file that names the subject (:meth:`FileErasure.subject_tokens`) by
    ``<erased>``, atomically (a hidden temporary file in the same folder, then a rename); for files derived
    from many people, such as a report, where only the identifiers are the subject's. ``lines_removed``
    counts the lines changed. None, touching nothing, when the file names them nowhere."""
    path = Path(path)
    data = path.read_bytes()
    text = data.decode("utf-8", errors="surrogateescape")
    found = job.subject_tokens(text)
    if not found:
        return None
    alternatives = "|".join(re.escape(t) for t in sorted(found, key=len, reverse=True))
    pattern = re.compile(rf"(?<![\w-])(?:{alternatives})(?![\w-])")  # whole tokens, not inside other words
    lines = text.split("\n")
    scrubbed = [pattern.sub(MASK, line) for line in lines]
    body = "\n".join(scrubbed).encode("utf-8", errors="surrogateescape")
    changed = sum(a != b for a, b in zip(lines, scrubbed))
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.erasing-", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(body)
            out.flush()
            os.fsync(out.fileno())
        os.chmod(tmp_name, path.stat().st_mode & 0o7777)
        os.replace(tmp_name, path)
    finally:
        Path(tmp_name).unlink(missing_ok=True)
    return Rewrite(hashlib.sha256(data).hexdigest(), hashlib.sha256(body).hexdigest(), changed, len(body))
