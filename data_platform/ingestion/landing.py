"""Landing: find the files producers dropped, read them safely, and parse every line once.

Pure logic, no Dagster: the assets in ``assets.py`` and the landing sensor both build on it.

How files map to days: a file is parsed once, when it is first seen, into ``raw.landed_lines``;
each line gets the UTC day of its own ``ts`` as its partition (so late events land on the day
they happened, whatever file brought them). A line whose ts is unusable is quarantined on the
earliest event day of its file. The daily partitions of raw.events and raw.quarantine are then
cut from ``raw.landed_lines``.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import stat
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from data_platform import contracts
from data_platform.privacy.tombstones import landing_predicate
from data_platform.resources import DEFAULT_MAX_LINE_BYTES, load_sql, run_sql, transaction

LANDING_SUFFIXES = (".jsonl", ".jsonl.gz")
# Names that mark a file or folder as in progress or not for us (the producer contract, docs/ingestion.md):
# hidden (``.name``) and ``_name`` (Hadoop and Spark staging: ``_temporary/``, ``_COPYING_``) are never read.
IN_PROGRESS_PREFIXES = (".", "_")
_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
READ_CHUNK_BYTES = 16 << 20
MAX_LINE_BYTES = DEFAULT_MAX_LINE_BYTES  # default cap on one line (DATA_PLATFORM_MAX_LINE_BYTES)
KEPT_PREFIX_BYTES = 4096  # what a line_too_long quarantine row keeps of its line
LINE_SCHEMA = pa.schema(
    [("line_no", pa.int64()), ("line", pa.large_string()), ("utf8_ok", pa.bool_()), ("too_long", pa.bool_())]
)


@dataclass(frozen=True)
class LandingFile:
    """A file in the landing folder, as seen by stat (nothing read yet)."""

    path: Path
    rel: str  # path relative to the landing folder, with forward slashes
    size: int
    mtime_ns: int
    # (st_dev, st_ino) of the file the listing vetted (inside the landing folder); reading checks the
    # file it opens is that one, so a symlink retargeted after the listing cannot make us read outside
    inode: tuple[int, int] | None = None

    @property
    def compressed(self) -> bool:
        return self.rel.endswith(".gz")

    def settled(self, now: float, settle_seconds: float) -> bool:
        """Whether nothing was written to the file for ``settle_seconds`` at ``now`` (unix seconds), judged by
        its mtime; an mtime ahead of ``now`` (a clock ahead, a producer's future stamp) is not settled."""
        return now - self.mtime_ns / 1e9 >= settle_seconds

    @property
    def mtime(self) -> dt.datetime:
        """mtime at microsecond precision (what a TIMESTAMPTZ stores), so stored stats compare exactly."""
        return _EPOCH + dt.timedelta(microseconds=self.mtime_ns // 1000)


def is_landing_name(name: str) -> bool:
    """Whether a file name is one producers mean to be read: it ends in ``.jsonl`` or ``.jsonl.gz`` and does
    not mark the file as in progress (``.name``, ``_name``; ``name.jsonl.tmp`` and the like end otherwise)."""
    return name.endswith(LANDING_SUFFIXES) and not name.startswith(IN_PROGRESS_PREFIXES)


def list_landing_files(events_dir: Path, refused: list[tuple[str, str]] | None = None) -> list[LandingFile]:
    """Every candidate landing file under ``events_dir``, sorted by relative path.

    Only ``*.jsonl`` and ``*.jsonl.gz`` count (:func:`is_landing_name`); files and folders whose name starts
    with ``.`` or ``_`` (a producer's staging) and anything else (``*.tmp`` being written, manifests) are
    ignored. A symlink is followed only if its
    target stays inside the landing folder; symlinked folders are not descended into. Candidates
    that are refused (a link leading outside, a link loop, not a regular file) are appended to
    ``refused`` as (path relative to the landing folder, why), so a run can say so.
    """
    root = events_dir.resolve()
    found: list[LandingFile] = []
    if not root.is_dir():
        return found
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith(IN_PROGRESS_PREFIXES))
        for name in sorted(filenames):
            if not is_landing_name(name):
                continue
            path = Path(dirpath) / name
            rel = path.relative_to(root).as_posix()
            try:
                real = path.resolve(strict=True)
                if not real.is_relative_to(root):
                    _refuse(refused, rel, "symlink to a target outside the landing folder")
                    continue
                if not real.is_file():
                    _refuse(refused, rel, "not a regular file")
                    continue
                st = real.stat()
            except FileNotFoundError:
                if path.is_symlink():
                    _refuse(refused, rel, "broken symlink")
                continue  # vanished: it will be seen again if it comes back
            except (OSError, RuntimeError):
                _refuse(refused, rel, "symlink loop or unreadable entry")
                continue
            found.append(
                LandingFile(path=path, rel=rel, size=st.st_size, mtime_ns=st.st_mtime_ns, inode=(st.st_dev, st.st_ino))
            )
    return found


def _refuse(refused: list[tuple[str, str]] | None, rel: str, why: str) -> None:
    if refused is not None:
        refused.append((rel, why))


class LandingFileChanged(OSError):
    """The path no longer leads to the file the listing vetted (replaced or retargeted since)."""


def open_vetted(lf: LandingFile):
    """Open a listed landing file, making sure it is still the very file the listing vetted.

    Between listing and reading (minutes, for a long run) a symlink could be retargeted, or a file
    replaced by a symlink, to something outside the landing folder; comparing device and inode of
    the open file with the listing's closes that window. (O_NONBLOCK: a file swapped for a FIFO
    must not block the open; it then fails the identity check.)
    """
    fh = os.fdopen(os.open(lf.path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0)), "rb")
    st = os.fstat(fh.fileno())
    if (lf.inode is not None and (st.st_dev, st.st_ino) != lf.inode) or not stat.S_ISREG(st.st_mode):
        fh.close()
        raise LandingFileChanged(f"{lf.rel} changed between listing and reading")
    return fh


class _Counter:
    """What streaming a file found out: lines read, whether its tail was unreadable, its SHA-256."""

    def __init__(self) -> None:
        self.lines = 0
        self.unreadable = False
        self.digest = hashlib.sha256()

    def read(self, fh, size: int = READ_CHUNK_BYTES) -> bytes:
        raw = fh.read(size)
        self.digest.update(raw)
        return raw


def read_lines(
    path: Path, compressed: bool, counter: _Counter | None = None, *, opened=None, max_line_bytes: int = MAX_LINE_BYTES
) -> Iterator[pa.RecordBatch]:
    """Stream a landing file as Arrow batches of (line_no, line, utf8_ok, too_long), in bounded memory.

    Lines are split on ``\\n`` (a final newline does not start a line). Invalid UTF-8 is replaced
    by U+FFFD and flagged (``utf8_ok`` false) so the line is quarantined rather than lost. A line
    longer than ``max_line_bytes`` is flagged ``too_long`` and only its first
    :data:`KEPT_PREFIX_BYTES` are kept (reason ``line_too_long``); the rest of it is read and dropped
    as it streams by, so memory stays bounded by the chunk size plus the cap, whatever the line (a
    gzip that inflates to one 1 GiB line included). If a gzip stream is corrupt or truncated,
    everything read so far is kept and one marker line with ``line = NULL`` records where reading
    stopped (reason ``unreadable_file``). ``opened``: the file already open (see
    :func:`open_vetted`); it is closed when reading ends.
    """
    counter = counter if counter is not None else _Counter()
    rest = b""
    skipping = False  # inside a line already known to be too long: its prefix is in `rest`
    for chunk in _file_chunks(path, compressed, counter, opened):
        if skipping:
            end = chunk.find(b"\n")
            if end < 0:
                continue  # still inside the long line: drop these bytes
            yield _batch(rest, counter, max_line_bytes, last_too_long=True)
            rest, skipping, chunk = b"", False, chunk[end + 1 :]
        chunk = rest + chunk
        cut = chunk.rfind(b"\n")
        if cut >= 0:
            rest = chunk[cut + 1 :]
            yield _batch(chunk[:cut], counter, max_line_bytes)
        else:
            rest = chunk
        if len(rest) > max_line_bytes:
            rest, skipping = rest[:KEPT_PREFIX_BYTES], True
    if rest or skipping:
        yield _batch(rest, counter, max_line_bytes, last_too_long=skipping)
    if counter.unreadable:
        counter.lines += 1
        yield pa.record_batch(
            [
                pa.array([counter.lines], pa.int64()),
                pa.array([None], pa.large_string()),
                pa.array([True]),
                pa.array([False]),
            ],
            schema=LINE_SCHEMA,
        )


def file_content(path: Path, compressed: bool) -> Iterator[bytes]:
    """A landing file's bytes (decompressed for gzip) in chunks, exactly as landing reads its lines: a corrupt
    or truncated gzip stream yields what decompressed cleanly and stops."""
    yield from _file_chunks(path, compressed, _Counter())


def _file_chunks(path: Path, compressed: bool, counter: _Counter, opened=None) -> Iterator[bytes]:
    """The file's bytes (decompressed for gzip, multi-member included) in chunks.

    A corrupt or truncated gzip stream yields everything that decompressed cleanly, then sets
    ``counter.unreadable``; it never raises for bad content.
    """
    with opened if opened is not None else open(path, "rb") as fh:
        try:
            yield from _chunks(fh, compressed, counter)
        finally:
            while counter.read(fh):  # hash every byte, also past a corrupt gzip member
                pass


def _chunks(fh, compressed: bool, counter: _Counter) -> Iterator[bytes]:
    if not compressed:
        while chunk := counter.read(fh):
            yield chunk
        return
    inflater = zlib.decompressobj(wbits=31)
    try:
        while raw := counter.read(fh):
            while raw:
                out = inflater.decompress(raw, READ_CHUNK_BYTES)
                if out:
                    yield out
                raw = inflater.unconsumed_tail
                if inflater.eof:  # end of a gzip member; another may follow
                    raw = inflater.unused_data + raw
                    inflater = zlib.decompressobj(wbits=31)
                    if not raw:
                        raw = counter.read(fh)
                        if not raw:
                            return
        tail = inflater.flush()
        if tail:
            yield tail
        if not inflater.eof:
            counter.unreadable = True  # the stream stopped before its end: truncated
    except zlib.error:
        counter.unreadable = True


def _batch(
    block: bytes, counter: _Counter, max_line_bytes: int = MAX_LINE_BYTES, *, last_too_long: bool = False
) -> pa.RecordBatch:
    lines = pc.split_pattern(pa.array([block], pa.large_binary()), b"\n").flatten()
    too_long = np.asarray(pc.greater(pc.binary_length(lines), max_line_bytes).to_numpy(zero_copy_only=False))
    if last_too_long:
        too_long[-1] = True
    if too_long.any():  # keep only a prefix of each over-long line (rare: a Python pass is fine)
        lines = pa.array(
            [raw[:KEPT_PREFIX_BYTES] if long else raw for raw, long in zip(lines.to_pylist(), too_long)],
            pa.large_binary(),
        )
    try:
        text = lines.cast(pa.large_string())
        ok = pa.array(np.ones(len(lines), dtype=bool))
    except pa.ArrowInvalid:  # some line is not UTF-8 (most chunks of real logs hold one): see below
        text, ok = _decode_replacing(lines, too_long)
    numbers = pa.array(np.arange(counter.lines + 1, counter.lines + 1 + len(lines), dtype=np.int64))
    counter.lines += len(lines)
    return pa.record_batch([numbers, text, ok, pa.array(too_long)], schema=LINE_SCHEMA)


def _decode_replacing(lines: pa.Array, too_long: np.ndarray) -> tuple[pa.Array, pa.Array]:
    """Text and ``utf8_ok`` flags of ``lines`` (binary) when some of them are not UTF-8.

    Only lines with a byte outside ASCII can be invalid (found by a vectorised test on the bytes, which
    never decodes them); each of those is decoded alone, and one that fails gets its invalid bytes replaced
    by U+FFFD and is flagged, unless it was cut to its prefix (``too_long``): a cut inside a character is
    not an encoding error.
    """
    ok = np.ones(len(lines), dtype=bool)
    non_ascii = pc.invert(pc.string_is_ascii(lines.view(pa.large_string())))  # a byte test: no decoding
    bad, replacements = [], []
    for i in np.flatnonzero(non_ascii.to_numpy(zero_copy_only=False)):
        raw = lines[int(i)].as_py()
        try:
            raw.decode("utf-8")
        except UnicodeDecodeError:
            bad.append(i)
            replacements.append(raw.decode("utf-8", errors="replace").encode("utf-8"))
            ok[i] = too_long[i]
    mask = np.zeros(len(lines), dtype=bool)
    mask[bad] = True
    fixed = pc.replace_with_mask(lines, pa.array(mask), pa.array(replacements, pa.large_binary()))
    return fixed.cast(pa.large_string()), pa.array(ok)


# --- SQL generated from the contract -----------------------------------------------------------

# Type tests on a field's JSON text (cheap string tests instead of re-parsing each value).
_IS_TYPE = {
    "string": "starts_with({j}, '\"')",
    "integer": "regexp_full_match({j}, '-?[0-9]+')",
    "number": "{n} IS NOT NULL",
    "ts": "(starts_with({j}, '\"') OR regexp_full_match({j}, '-?[0-9]+'))",
}
_INT64_LIMIT = 9.2e18
# The numeric value of a field's JSON text (NULL for a string, a literal or anything that does not read).
_JSON_NUMBER = "CASE WHEN NOT starts_with({j}, '\"') THEN try_cast({j} AS DOUBLE) END"


def _within_bounds(f: contracts.Field, value: str) -> str:
    """SQL: the numeric ``value`` of field ``f`` is finite and within the contract's bounds (and an integer
    within BIGINT). NULL when ``value`` is NULL."""
    bounds = [f"isfinite({value})"]
    if f.minimum is not None:
        bounds.append(f"{value} >= {f.minimum}")
    if f.maximum is not None:
        bounds.append(f"{value} <= {f.maximum}")
    if f.kind == "integer":
        bounds.append(f"{value}::DOUBLE BETWEEN -{_INT64_LIMIT} AND {_INT64_LIMIT}")
    return "(" + " AND ".join(bounds) + ")"


def _quoted_strings(values) -> str:
    return ", ".join("'" + v.replace("'", "''") + "'" for v in values)


def sql_list(values) -> str:
    """A SQL list literal of strings, e.g. ('a', 'b'), for IN tests on contract constants."""
    return "(" + _quoted_strings(values) + ")"


def sql_array(values) -> str:
    """A SQL list value of strings, e.g. ['a', 'b'], for ``list_contains`` (an IN list of five or more values
    becomes a join in DuckDB's plan)."""
    return "[" + _quoted_strings(values) + "]"


def _first_match(cases: list[tuple[str, str]]) -> str:
    whens = " ".join(f"WHEN {cond} THEN '{name}'" for cond, name in cases)
    return f"CASE {whens} END" if cases else "NULL"


PARSE_PATHS = ("both", "full", "fast")
# the fields that name a subject, and what parse_lines.sql calls their raw values where tombstones are tested
SUBJECT_FIELDS = ("anon_id", "user_id")
SUBJECT_COLUMNS = ("subject_anon", "subject_user")


@cache
def contract_sql_fragments(paths: str = "both") -> dict[str, str]:
    """SQL structure derived from ``contracts.FIELDS`` for ``sql/ingestion/parse_lines.sql``.

    ``paths``: "both" (what landing runs: the typed fast path, the full classifier for the other lines);
    "full" (every line through the full classifier) and "fast" (the fast path alone: a line it does not
    take is quarantined as if it were no JSON object) exist so tests can hold the two paths against each
    other.
    """
    if paths not in PARSE_PATHS:
        raise ValueError(f"paths must be one of {PARSE_PATHS}, got {paths!r}")
    fields = contracts.FIELDS
    numeric = [f for f in fields if f.kind in ("integer", "number")]
    absent = {f.name: f"(j_{f.name} IS NULL OR j_{f.name} = '\"\"')" for f in fields}
    missing: list[tuple[str, str]] = []
    for f in fields:
        if f.name == "event_type" or not f.required_for:
            continue
        if f.required_for == contracts.ALL:
            missing.append((absent[f.name], f.name))
        else:
            missing.append((f"et IN {sql_list(f.required_for)} AND {absent[f.name]}", f.name))
    missing.append((f"NOT {absent['price']} AND {absent['currency']}", "currency"))
    wrong = [
        (f"j_{f.name} IS NOT NULL AND NOT " + _IS_TYPE[f.kind].format(j=f"j_{f.name}", n=f"n_{f.name}"), f.name)
        for f in fields
    ]
    ranges = [(f"NOT {_within_bounds(f, f'n_{f.name}')}", f.name) for f in numeric]
    slow = {"string": "j_{n} ->> '$'", "integer": "try_cast(j_{n} AS BIGINT)", "number": "n_{n}"}
    value = {
        f.name: f"CASE WHEN fast_ok THEN v_{f.name} ELSE {slow[f.kind].format(n=f.name)} END"
        for f in fields
        if f.kind != "ts"
    }
    # an erased subject's line keeps nothing
    typed = [f"CASE WHEN erased THEN NULL ELSE {expr} END AS {name}" for name, expr in value.items()]
    names = [f.name for f in fields]
    return {
        **_fast_path_fragments(),
        **({"fast_ok": "FALSE"} if paths == "full" else {}),
        "full_path": "FALSE" if paths == "fast" else "NOT fast_ok",
        "field_json": ",\n           ".join(f"m['{n}']::VARCHAR AS j_{n}" for n in names),
        "numeric_values": ",\n           ".join(
            _JSON_NUMBER.format(j=f"j_{f.name}") + f" AS n_{f.name}" for f in numeric
        ),
        # a list for list_contains: an IN list of five or more becomes a join in DuckDB's plan, and a join
        # keeps the parse from landing its lines in full row groups (LINES_PER_BATCH)
        "event_types": sql_array(contracts.EVENT_TYPES),
        "missing_field": _first_match(missing),
        "wrong_type_field": _first_match(wrong),
        "out_of_range_field": _first_match(ranges),
        "typed_columns": ",\n    ".join(typed),
        "subject_ids": ", ".join(f"{value[n]} AS {alias}" for n, alias in zip(SUBJECT_FIELDS, SUBJECT_COLUMNS)),
        "erased": "FALSE",  # no tombstone; landing passes the real test (privacy/tombstones.py)
        "known_present": " + ".join(f"(j_{n} IS NOT NULL)::INT" for n in names),
        "known_keys": "[" + ", ".join(f"'{n}'" for n in names) + "]",
    }


# How the fast path reads a field: a string field as its text (any JSON value reads as text: whether it was
# a string is proven from the member types); a number or ts as its JSON text, valued by the same casts as
# the full classifier's.
_FAST_READ = {"string": "VARCHAR", "integer": "JSON", "number": "JSON", "ts": "JSON"}
_FAST_VALUE = {
    "string": "{j}",
    "integer": f"CASE WHEN {_IS_TYPE['integer']} THEN try_cast({{j}} AS BIGINT) END",
    "number": _JSON_NUMBER,
    "ts": "CASE WHEN starts_with({j}, '\"') THEN {j} ->> '$' ELSE {j} END",  # as sql/ingestion/macros.sql's event_ts
}


def _fast_path_fragments() -> dict[str, str]:
    """The fast path of ``parse_lines.sql``: the typed reading of a line and the test that it keeps the contract.

    A line is parsed twice: ``json_transform`` reads the contract's fields (string fields as text, numbers
    and ts as their JSON text), ``json_type(line, '$.*')`` lists the JSON type of every member, duplicates
    and unknown keys included. The test is a sufficient condition for the full classifier to accept the line
    with the same values:

    - every key is a contract field, named once: the member count equals the contract fields read (when a
      member is a JSON null, which the transform reads as absent, the count of contract paths present is
      taken from ``json_type`` on the contract's paths instead);
    - each string field held a JSON string: with every member a contract field, the members neither VARCHAR
      nor NULL are exactly as many as the numbers read plus ts when it is a number;
    - each number has its JSON type and reads as a finite value within its bounds (the full classifier's
      own casts on the same JSON text), ts reads as an instant within [min_ts, max_ts];
    - the event type is known, the fields its type requires are there (a price with its currency).

    Any other line goes through the full classifier, which finds its reason.
    """
    fields = contracts.FIELDS
    absent = {
        f.name: f"(v_{f.name} IS NULL OR v_{f.name} = '')" if f.kind in ("string", "ts") else f"v_{f.name} IS NULL"
        for f in fields
    }
    read = {f.name: f"v_{f.name}" if f.kind == "string" else f"jf_{f.name}" for f in fields}  # NULL: absent or null
    present = " + ".join(f"({read[f.name]} IS NOT NULL)::INT" for f in fields)
    paths = "[" + ", ".join(f"'$.{f.name}'" for f in fields) + "]"
    always = {f.name for f in fields if f.required_for == contracts.ALL}
    others = " + ".join(f"({read[f.name]} IS NOT NULL)::INT" for f in fields if f.kind in ("integer", "number"))
    tests = [
        "f IS NOT NULL",
        f"len(f.t) = CASE WHEN list_contains(f.t, 'NULL') THEN list_count(json_type(line, {paths})) ELSE {present} END",
        f"len(list_filter(f.t, t -> t NOT IN ('VARCHAR', 'NULL'))) = {others} + (NOT starts_with(jf_ts, '\"'))::INT",
    ]
    for f in fields:
        if f.kind in ("integer", "number"):
            tests.append(f"(jf_{f.name} IS NULL) = (v_{f.name} IS NULL)")  # a number of its JSON type reads
            tests.append(f"(v_{f.name} IS NULL OR {_within_bounds(f, f'v_{f.name}')})")
        if f.name in always and f.name != "event_type":
            tests.append(f"NOT {absent[f.name]}")
    # the event type is known and the fields it requires are there: one branch per type
    by_type = " ".join(
        f"WHEN '{t}' THEN "
        + (" AND ".join(f"NOT {absent[n]}" for n in contracts.required_fields(t) if n not in always) or "TRUE")
        for t in contracts.EVENT_TYPES
    )
    tests.append(f"CASE v_event_type {by_type} ELSE FALSE END")
    tests.append(f"(v_price IS NULL OR NOT {absent['currency']})")
    tests.append("v_ts_value BETWEEN $min_ts AND $max_ts")
    spec = "{" + ", ".join(f'"{f.name}": "{_FAST_READ[f.kind]}"' for f in fields) + "}"
    return {
        "fast_struct": spec,
        "fast_columns": ",\n           ".join(
            ("" if f.kind == "string" else f"f.v.{f.name}::VARCHAR AS jf_{f.name}, ")
            + _FAST_VALUE[f.kind].format(j=f"f.v.{f.name}" + ("" if f.kind == "string" else "::VARCHAR"))
            + f" AS v_{f.name}"
            for f in fields
        ),
        "fast_ok": "(" + "\n        AND ".join(tests) + ")",
    }


FILE_COLUMNS = ("source_file", "file_sha256")  # kept once per file in raw.files, not per parsed line


@cache
def table_fragments() -> dict[str, str]:
    """Column lists of the ingestion tables, from the contract."""
    events = contracts.raw_events_columns()
    quarantine = contracts.RAW_QUARANTINE_COLUMNS

    def select(columns):
        return ", ".join(f"f.{n}" if n in FILE_COLUMNS else f"l.{n}" for n, _, _ in columns)

    return {
        "event_columns": ",\n    ".join(f"{n} {t}" for n, t, _ in events),
        "landed_columns": ",\n    ".join(f"{n} {t}" for n, t, _ in events if n not in FILE_COLUMNS),
        "event_select": select(events),
        "quarantine_select": select(quarantine),
        "quarantine_columns": ",\n    ".join(f"{n} {t}" for n, t, _ in contracts.RAW_QUARANTINE_COLUMNS),
        "event_column_names": ", ".join(n for n, _, _ in contracts.raw_events_columns()),
        "quarantine_column_names": ", ".join(n for n, _, _ in contracts.RAW_QUARANTINE_COLUMNS),
    }


def ensure_tables(con: duckdb.DuckDBPyConnection) -> None:
    """Create the raw schema and its tables if they do not exist yet, and the session macros."""
    con.execute(load_sql("ingestion/create_tables.sql", **table_fragments()))
    con.execute(load_sql("ingestion/macros.sql"))


def scan_file_days(
    path: Path, compressed: bool, *, min_ts: dt.datetime, max_ts: dt.datetime, fallback_day: dt.date
) -> list[dt.date]:
    """The daily partitions a file's lines will land on, from a light read of their ``ts`` only.

    Uses the same ts rules as the parse (``sql/ingestion/macros.sql``), in a private in-memory
    DuckDB, so the landing sensor never opens the warehouse (which a running step may hold).
    """
    con = duckdb.connect()
    try:
        con.execute("SET TimeZone = 'UTC'")
        con.execute("SET threads = 1")  # a background scan: one thread leaves the daemon room
        con.execute(load_sql("ingestion/macros.sql"))
        reader = pa.RecordBatchReader.from_batches(LINE_SCHEMA, read_lines(path, compressed))
        con.register("landing_lines", reader)
        days, has_undated = run_sql(
            con, "ingestion/scan_file_days.sql", {"min_ts": min_ts, "max_ts": max_ts}
        ).fetchone()
    finally:
        con.close()
    days = list(days)
    if has_undated and not days:
        days = [fallback_day]
    return days


# --- Landing ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class LandedFile:
    """What landing one file version did."""

    file_id: int
    rel: str
    sha256: str
    lines: int
    accepted: int
    quarantined: int
    erased_subject: int  # lines of erased subjects: dropped, never stored
    partitions: tuple[dt.date, ...]
    replaced_partitions: tuple[dt.date, ...]  # days the superseded version of this path touched


# Files that land together in one parse statement and one transaction: one statement per file cost about half
# again the CPU of one statement over the same lines (docs/benchmarks.md, the ingest stage alone). A group is
# closed at this many bytes of lines (a gzip file counted at GZIP_RATIO times its size) or this many files.
GROUP_BYTES = 256 << 20
GROUP_FILES = 256
GZIP_RATIO = 8  # about what the generator's and producers' JSON lines compress by
GROUP_LINE_SCHEMA = pa.schema([("file_id", pa.int64()), *LINE_SCHEMA])
# Lines in each batch the parse statement scans: a quarter of a row group. The parse is an ordered insert (DuckDB's
# batch insert: its plan has no join and keeps the order of its input), which writes the batches it scans as
# row groups, merging consecutive small ones; batches of a quarter row group come out as full row groups, a
# partial one only at the end of each statement. Before (a join in the plan, batches of a 16 MB read or a
# file's tail), each parse left a partial row group per thread, which the checkpoint at the connection's close
# rewrote: at 1M events 1 to 1.6 s of wall time and 2 CPU s. Batches of a whole row group also land full; they
# parsed slower than a quarter's in one series of landing alone and the same in another, and the whole step at 1M
# came out the same as before either way (the parse costs what the close saved): docs/benchmarks.md, issue #19.
ROW_GROUP_ROWS = 122_880  # DuckDB's default row group size (the warehouse does not change it)
LINES_PER_BATCH = ROW_GROUP_ROWS // 4


def land_new_files(
    con: duckdb.DuckDBPyConnection,
    events_dir: Path,
    run_id: str,
    *,
    min_ts: dt.datetime,
    now: dt.datetime | None = None,
    settle_seconds: float = 5.0,
    refused: list[tuple[str, str]] | None = None,
    max_line_bytes: int = MAX_LINE_BYTES,
    max_file_attempts: int = 3,
) -> list[LandedFile]:
    """Parse every new or changed landing file into ``raw.landed_lines`` (once per file version).

    A file is taken only once its mtime is ``settle_seconds`` old (producers should write under an
    in-progress name and rename, see :func:`is_landing_name`; this guards those who do not). A file whose
    path is known with the same size and mtime is skipped without reading; one whose bytes hash the same
    as the current version is rolled back after reading (the hash is computed while parsing, one read per
    file). A path with new bytes is a new version: the old version is
    marked superseded (its lines leave raw.landed_lines; raw.files keeps the record).
    Files never landed before land in groups (:data:`GROUP_BYTES`, :data:`GROUP_FILES`), a group in one
    parse statement and one transaction; a new version of a landed path lands alone. Either way a crash
    leaves no half-landed file. Entries that are refused (see :func:`list_landing_files`, or a file that
    changed identity between listing and reading) are appended to ``refused`` as (relative path, why).

    A file whose landing fails (DuckDB out of memory on it, an error in its parse) is rolled back,
    recorded in ``raw.file_failures`` and reported in ``refused``; the other files still land (a group that
    fails is rolled back and its files land one by one, so the failure is pinned on its file), then
    the first such error is raised (the run fails and says why). After ``max_file_attempts`` failures
    of the same version (path, size, mtime) the file is *set aside*: later runs skip it with the
    reason, without reading it, so it no longer blocks every run; new bytes under its name, or a new
    mtime (``touch`` it once the cause is fixed), make it a version to try again. Errors of the
    warehouse itself (I/O, a full disk) are raised at once.
    """
    now = now or dt.datetime.now(dt.UTC)
    ensure_tables(con)
    # lines of erased subjects are dropped as they land (privacy/tombstones.py); FALSE when no one was erased
    tombstones = landing_predicate(con, SUBJECT_COLUMNS, "line", "reason IS NOT NULL")
    if run_sql(con, "ingestion/undated_lines.sql").fetchone()[0]:  # a crash came after a landing's commit
        _date_undated_lines(con, 0, _LAST_FILE_ID)  # (checked first: a run with nothing to do writes nothing)
    known = {r[0]: r[1:] for r in run_sql(con, "ingestion/current_files.sql").fetchall()}
    failures = {(r[0], r[1], r[2]): r[3:] for r in run_sql(con, "ingestion/file_failures.sql").fetchall()}
    run = _LandingRun(con, run_id, min_ts, now, max_line_bytes, tombstones, max_file_attempts, refused)
    group: list[_Candidate] = []
    for lf in list_landing_files(events_dir, refused):
        if not lf.settled(now.timestamp(), settle_seconds):
            continue
        previous = known.get(lf.rel)  # (file_id, sha256, size, mtime) of the current version
        if previous and previous[2] == lf.size and previous[3] == lf.mtime:
            continue
        attempts, last_error = failures.get((lf.rel, lf.size, lf.mtime), (0, None))
        if attempts >= max_file_attempts:
            _refuse(
                refused,
                lf.rel,
                f"set aside after {attempts} failed landings (last: {last_error}); "
                "new bytes under this name are tried again",
            )
            continue
        candidate = _Candidate(lf, previous, attempts)
        if previous:  # a new version lands alone: its same-bytes case rolls back its own transaction only
            run.land_group(group)
            run.land_group([candidate])
            group = []
            continue
        if group and (len(group) >= GROUP_FILES or sum(c.weight for c in group) + candidate.weight > GROUP_BYTES):
            run.land_group(group)
            group = []
        group.append(candidate)
    run.land_group(group)
    if run.errors:
        first = run.errors[0][0]
        first.add_note(
            "files that failed to land (each set aside after its last attempt; the other files "
            "landed):\n" + "\n".join(f"- {line}" for _, line in run.errors)
        )
        raise first
    return run.landed


_LAST_FILE_ID = 2**62  # above any file id: the bound of "every file"


def _date_undated_lines(con: duckdb.DuckDBPyConnection, first_file_id: int, last_file_id: int) -> None:
    """Give the lines without a usable ts of files ``first_file_id`` to ``last_file_id`` their file's day (the
    first of its ``raw.files.partitions``), in a transaction of its own after their landing committed.

    Inside the landing's transaction this UPDATE made DuckDB write every landed row to the WAL as well at
    commit (rows of a large insert already sit compressed in the database file; an update to them in the
    same transaction sends them all through the WAL): at 1M events about 400 MB and 2 CPU seconds.
    Between the two commits the lines wait undated (``lines_not_cut.sql`` counts them under no day); a crash
    there leaves them so until the next landing starts, which dates them first.
    """
    with transaction(con):
        run_sql(
            con,
            "ingestion/fill_partition_dates.sql",
            {"first_file_id": first_file_id, "last_file_id": last_file_id},
        )


@dataclass(frozen=True)
class _Candidate:
    """A file version to land: the listing's entry, its path's current version (None: a new path), and how
    many times this version failed to land before."""

    lf: LandingFile
    previous: tuple | None
    attempts: int

    @property
    def weight(self) -> int:
        """About the bytes of lines the file holds, for the group budget."""
        return self.lf.size * (GZIP_RATIO if self.lf.compressed else 1)


class _LandedMeanwhile(Exception):
    """Another run landed a version of the path after this run listed it."""


class _SameBytes(Exception):
    """A file version's bytes are those of its current version (a copy with a new mtime)."""


# Errors of the warehouse itself (a lake commit conflict included: the step is retried), never a file's.
_WAREHOUSE_ERRORS = (duckdb.IOException, duckdb.FatalException, duckdb.InterruptException, duckdb.TransactionException)


class _LandingRun:
    """One run's landing: lands groups of files, records the files that fail, collects what landed."""

    def __init__(self, con, run_id, min_ts, now, max_line_bytes, tombstones, max_file_attempts, refused) -> None:
        self.con, self.run_id, self.min_ts, self.now = con, run_id, min_ts, now
        self.max_line_bytes, self.tombstones, self.max_file_attempts = max_line_bytes, tombstones, max_file_attempts
        self.refused = refused
        self.landed: list[LandedFile] = []
        self.errors: list[tuple[BaseException, str]] = []

    def land_group(self, group: list[_Candidate]) -> None:
        """Land ``group`` in one transaction; if it fails for a file's reason, land its files one by one."""
        if not group:
            return
        refusals: list[tuple[str, str]] = []  # kept only if the group lands (its files are listed again alone)
        try:
            landed = _land_files(self, group, refusals)
        except _WAREHOUSE_ERRORS:
            raise
        except (duckdb.Error, MemoryError) as error:
            if len(group) > 1:
                for candidate in group:
                    self.land_group([candidate])
                return
            self._record_failure(group[0], error)
            return
        if landed:
            _date_undated_lines(self.con, landed[0].file_id, landed[-1].file_id)
        for rel, why in refusals:
            _refuse(self.refused, rel, why)
        self.landed.extend(landed)

    def _record_failure(self, candidate: _Candidate, error: BaseException) -> None:
        lf = candidate.lf
        message = f"{type(error).__name__}: {str(error).splitlines()[0] if str(error) else ''}"[:500]
        run_sql(
            self.con,
            "ingestion/insert_file_failure.sql",
            {
                "source_file": lf.rel,
                "size_bytes": lf.size,
                "mtime": lf.mtime,
                "failed_at": self.now,
                "run_id": self.run_id,
                "error": message,
            },
        )
        why = f"landing failed (attempt {candidate.attempts + 1} of {self.max_file_attempts}): {message}"
        _refuse(self.refused, lf.rel, why)
        self.errors.append((error, f"{lf.rel}: {why}"))


@dataclass
class _Reading:
    """A file the group's line stream opened: the file_id its lines got, and what reading it found."""

    file_id: int
    candidate: _Candidate
    counter: _Counter


def _group_lines(
    group: list[_Candidate], first_file_id: int, opened: list[_Reading], refusals: list, max_line_bytes: int
) -> Iterator[pa.RecordBatch]:
    """The lines of ``group``'s files one file after the other, each batch with its file's ``file_id``.

    A file is opened (:func:`open_vetted`) only when the stream reaches it, so the window between the vetting
    and the read stays one file's; one that changed identity since the listing is refused (``refusals``) and
    one that vanished is skipped, neither taking a file_id. Each file read is appended to ``opened``.
    """
    file_id = first_file_id
    for candidate in group:
        lf = candidate.lf
        try:
            fh = open_vetted(lf)
        except LandingFileChanged:
            refusals.append(
                (
                    lf.rel,
                    "changed between listing and reading (e.g. a symlink retargeted): "
                    "not read; the next run looks at it again",
                )
            )
            continue
        except FileNotFoundError:
            continue  # vanished since the listing: it will be seen again if it comes back
        reading = _Reading(file_id, candidate, _Counter())
        opened.append(reading)
        for batch in read_lines(lf.path, lf.compressed, reading.counter, opened=fh, max_line_bytes=max_line_bytes):
            ids = pa.array(np.full(batch.num_rows, file_id, dtype=np.int64))
            yield pa.record_batch([ids, *batch.columns], schema=GROUP_LINE_SCHEMA)
        file_id += 1


def _even_batches(batches: Iterator[pa.RecordBatch], rows: int) -> Iterator[pa.RecordBatch]:
    """``batches`` again, cut and joined into batches of exactly ``rows`` rows (the last one shorter), in order.

    A batch of ``batches`` is pulled only when the ones before it cannot fill the next batch, so a file is still
    opened when the stream reaches it; this holds at most about two batches of ``rows`` rows more (what waits
    to be joined, and the join).
    """
    pending: list[pa.RecordBatch] = []
    held = 0
    for batch in batches:
        pending.append(batch)
        held += batch.num_rows
        if held < rows:
            continue
        joined = pa.concat_batches(pending) if len(pending) > 1 else pending[0]
        start = 0
        while held - start >= rows:
            yield joined.slice(start, rows)
            start += rows
        pending = [joined.slice(start)] if held > start else []
        held -= start
    if held:
        yield pa.concat_batches(pending) if len(pending) > 1 else pending[0]


def _land_files(run: _LandingRun, group: list[_Candidate], refusals: list) -> list[LandedFile]:
    """Parse a group of file versions in one statement and one transaction; each file is read once (hashed
    while parsed). A file with a current version (``previous``) must be alone in its group.

    ``run.tombstones``: the predicate that finds an erased subject's lines, with its values
    (:func:`~data_platform.privacy.tombstones.landing_predicate`): they are counted as ``erased_subject``
    and leave no row. A file whose bytes are those of its current version leaves nothing behind but its new
    mtime; a path another run landed since the listing is left alone.
    """
    con = run.con
    assert len(group) == 1 or not any(c.previous for c in group), "a new version of a path lands alone"
    erased_sql, erased_params = run.tombstones
    opened: list[_Reading] = []
    try:
        with transaction(con):
            # another run (on the lake, several write at once) may have landed a path since the listing: then
            # there is nothing to do for it; one committing while this transaction runs makes it conflict (below)
            pending = [
                c
                for c in group
                if run_sql(con, "ingestion/current_version.sql", {"source_file": c.lf.rel}).fetchone()[0]
                == (c.previous[0] if c.previous else None)
            ]
            if not pending:
                raise _LandedMeanwhile
            first_file_id = run_sql(con, "ingestion/next_file_id.sql").fetchone()[0]
            lines = _even_batches(
                _group_lines(pending, first_file_id, opened, refusals, run.max_line_bytes), LINES_PER_BATCH
            )
            con.register("landing_lines", pa.RecordBatchReader.from_batches(GROUP_LINE_SCHEMA, lines))
            try:
                run_sql(
                    con,
                    "ingestion/parse_lines.sql",
                    {
                        "run_id": run.run_id,
                        "ingested_at": run.now,
                        "min_ts": run.min_ts,
                        "max_ts": run.now + dt.timedelta(days=1),
                        "max_line_bytes": run.max_line_bytes,
                        **erased_params,
                    },
                    **{**contract_sql_fragments(), "erased": erased_sql},
                )
            finally:
                con.unregister("landing_lines")
            if not opened:
                return []
            # the counter row is updated in the group's transaction: two landings at once (runs on the lake)
            # conflict at commit and one is retried, so no id is handed out twice and no file lands twice
            run_sql(con, "ingestion/take_file_id.sql", {"file_id": opened[-1].file_id})
            return [_register(run, reading) for reading in opened]
    except _LandedMeanwhile:
        return []
    except _SameBytes:  # its parse is rolled back; only the file's new mtime is recorded
        lf = group[0].lf
        run_sql(con, "ingestion/touch_file.sql", {"source_file": lf.rel, "mtime": lf.mtime, "size": lf.size})
        return []


def _register(run: _LandingRun, reading: _Reading) -> LandedFile:
    """After the parse, in the group's transaction: supersede the path's old version, drop the stubs of erased
    subjects and record the file version in ``raw.files`` (its days include the one its undated lines get
    from :func:`_date_undated_lines` once the transaction commits)."""
    con, lf, previous, file_id = run.con, reading.candidate.lf, reading.candidate.previous, reading.file_id
    sha = reading.counter.digest.hexdigest()
    if previous and previous[1] == sha:  # same bytes, new mtime (copied again): keep the old parse
        raise _SameBytes
    erased = 0
    if run.tombstones[0] != "FALSE":  # the stubs of erased subjects' lines go before anything reads them
        erased = run_sql(con, "ingestion/drop_erased_lines.sql", {"file_id": file_id}).fetchone()[0]
    replaced: tuple[dt.date, ...] = ()
    if previous:
        replaced = tuple(run_sql(con, "ingestion/file_counts.sql", {"file_id": previous[0]}).fetchone()[2])
        old = {"old_file_id": previous[0]}
        run_sql(con, "ingestion/supersede_file.sql", {**old, "new_sha256": sha, "at": run.now})
        run_sql(con, "ingestion/drop_landed_lines.sql", old)
    run_sql(
        con,
        "ingestion/register_file.sql",
        {
            "file_id": file_id,
            "fallback_day": min(max(lf.mtime.date(), run.min_ts.date()), run.now.date()),
            "source_file": lf.rel,
            "file_sha256": sha,
            "size_bytes": lf.size,
            "mtime": lf.mtime,
            "compressed": lf.compressed,
            "lines": reading.counter.lines,
            "erased_subject": erased,
            "landed_at": run.now,
            "run_id": run.run_id,
        },
    )
    accepted, quarantined, partitions = run_sql(con, "ingestion/file_counts.sql", {"file_id": file_id}).fetchone()
    return LandedFile(
        file_id=file_id,
        rel=lf.rel,
        sha256=sha,
        lines=reading.counter.lines,
        accepted=accepted,
        quarantined=quarantined,
        erased_subject=erased,
        partitions=tuple(partitions),
        replaced_partitions=replaced,
    )
