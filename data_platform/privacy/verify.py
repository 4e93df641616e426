"""Proof of an erasure: search every place data lands for every identifier of an erased subject.

No raw identifier of the subject is stored anywhere after the erasure, so the search works by tokens: every
place is cut into candidate tokens of identifier shapes (``base/identifiers.py``: runs of identifier
characters and their parts, e-mails, IPv4/IPv6 addresses, phone numbers), each *distinct* token is
pseudonymised with the current key (``base/pseudonyms.py``) and looked up among the keyed pseudonyms the
erasure recorded in ``privacy.erased_identifiers``. A token that is itself one of those pseudonyms counts
too (a pseudonymised copy of the subject is still the subject), except in the warehouse file's bytes,
which hold the tombstone list itself.

The places (:func:`verify_erasure`):

- every table of the warehouse (every column that can hold text), set-based in DuckDB, except
  ``privacy.erased_identifiers``;
- every file under the data folders (landing, labeling, reports, exports, certificates): Parquet read
  through DuckDB (its pages are compressed, its bytes say nothing), gzip decompressed, anything else by
  its bytes;
- every file under ``DAGSTER_HOME``: the run and event-log databases (SQLite), compute logs;
- the bytes of the DuckDB file and its write-ahead log (deleted rows can survive in free blocks).

The result says where it looked (each place and its size), how many distinct tokens it checked and, per
identifier kind, how many of the subject's identifiers it found: never which ones.
"""

from __future__ import annotations

import datetime as dt
import gzip
import re
import time
from collections.abc import Iterator, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path

import duckdb
import pyarrow as pa

from data_platform.base.identifiers import PII_PATTERNS, PSEUDONYM_SHAPE, SUB_TOKEN_PATTERNS, TOKEN_PATTERN
from data_platform.base.pseudonyms import key_id, pseudonym_key, pseudonymise_sql
from data_platform.resources import run_sql

TOMBSTONES = "privacy.erased_identifiers"
CHUNK_BYTES = 16 << 20  # files are read in chunks this large (with an overlap longer than any identifier)
OVERLAP_BYTES = 512
_TOKENS = re.compile(TOKEN_PATTERN.encode())
_PHONES = re.compile(PII_PATTERNS["<PHONE>"].encode())
_QUOTED = re.compile(rb'"([^"\\\n]{1,256})"')  # a JSON string: an id of free shape (with spaces, say) is one


class VerificationError(RuntimeError):
    """The request cannot be verified: no erasure recorded for it, or its pseudonyms were made with
    another key than the one in use (a search with the wrong key would find nothing and prove nothing)."""


@dataclass
class Place:
    """One place searched: what (``table``, ``file``, ``parquet``, ``database file``, ``dagster``), where
    (a table name or a path), its size (rows or bytes), the distinct tokens checked and the subject's
    identifiers found there per kind."""

    kind: str
    location: str
    size: int
    unit: str
    tokens: int = 0
    found: dict[str, int] = field(default_factory=dict)


@dataclass
class Verification:
    """The outcome of one search for one erasure request."""

    request_id: str
    key_id: str
    verified_at: str
    identifiers: dict[str, int]  # kind -> how many identifiers of the subject were searched for
    places: list[Place]
    seconds: float = 0.0

    @property
    def hits(self) -> list[Place]:
        """The places where an identifier of the subject was found."""
        return [p for p in self.places if p.found]

    @property
    def passed(self) -> bool:
        """Nothing of the subject found anywhere."""
        return not self.hits

    def totals(self) -> dict[str, dict[str, int]]:
        """Per kind of place: places, size and distinct tokens checked, places with a hit."""
        out: dict[str, dict[str, int]] = {}
        for p in self.places:
            t = out.setdefault(p.kind, {"places": 0, "size": 0, "tokens": 0, "with_hits": 0})
            t["places"] += 1
            t["size"] += p.size
            t["tokens"] += p.tokens
            t["with_hits"] += bool(p.found)
        return out

    def to_dict(self) -> dict:
        """JSON-ready (counts and places only; no identifier, no pseudonym)."""
        return {**asdict(self), "passed": self.passed, "totals": self.totals()}


@dataclass(frozen=True)
class SearchRoots:
    """Where to search besides the warehouse tables: the warehouse file, the data folders (name -> folder)
    and the Dagster instance's folder."""

    warehouse_file: Path | None
    folders: Mapping[str, Path]
    dagster_home: Path | None

    @classmethod
    def from_env(cls) -> SearchRoots:
        """The platform's own places, from the environment settings (``resources.py``)."""
        from data_platform.resources import (
            certificates_root,
            dagster_home,
            exports_root,
            labeling_root,
            landing_root,
            reports_root,
            warehouse_path,
        )

        return cls(
            warehouse_file=warehouse_path(),
            folders={
                "landing": landing_root(),
                "labeling": labeling_root(),
                "reports": reports_root(),
                "exports": exports_root(),
                "certificates": certificates_root(),
            },
            dagster_home=dagster_home(),
        )


def subject_identifiers(con: duckdb.DuckDBPyConnection, request_id: str, key: str) -> dict[str, int]:
    """Stage the identifiers request ``request_id`` erased (``verify_subject``) and count them per kind;
    :class:`VerificationError` if there are none or another key made them."""
    present = run_sql(con, "common/existing_tables.sql").fetchall()
    if ("privacy", "erased_identifiers") not in present:
        raise VerificationError(f"no erasure recorded for request {request_id!r}: the warehouse has no {TOMBSTONES}")
    run_sql(con, "privacy/verify_subject.sql", {"request_id": request_id})
    rows = run_sql(con, "privacy/verify_subject_counts.sql").fetchall()
    if not rows:
        raise VerificationError(f"no erasure recorded for request {request_id!r} in {TOMBSTONES}")
    keys = {r[1] for r in rows}
    if keys != {key_id(key)}:
        raise VerificationError(
            f"request {request_id!r} was erased with key {', '.join(sorted(keys))}, but the key in use is "
            f"{key_id(key)}: set DATA_PLATFORM_PSEUDONYM_KEY to the key of that erasure (a search with "
            "another key finds nothing and proves nothing)"
        )
    counts: dict[str, int] = {}
    for kind, _, n in rows:
        counts[kind] = counts.get(kind, 0) + n
    return counts


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


class _Search:
    """Candidate tokens of every place, gathered first (``verify_candidates``: place number, token; tables and
    Parquet in DuckDB, files in Python), then looked up in one statement: each distinct token anywhere is cut
    into its parts and pseudonymised once, however many places hold it."""

    def __init__(self, con: duckdb.DuckDBPyConnection, key: str) -> None:
        self.con, self.key = con, key
        self.places: list[Place] = []
        self.direct: list[bool] = []
        self._tokens: list[str] = []
        self._token_places: list[int] = []
        run_sql(con, "privacy/verify_candidates.sql")

    def _add(self, place: Place, direct: bool = True) -> int:
        self.places.append(place)
        self.direct.append(direct)
        return len(self.places) - 1

    def relation(self, place: Place, relation: str, columns: list[str], params: Mapping | None = None) -> None:
        """A table or a Parquet file: the distinct tokens of its text ``columns``, cut out in DuckDB."""
        number = self._add(place)
        if columns:
            run_sql(
                self.con,
                "privacy/verify_relation_tokens.sql",
                {"place": number, "token_pattern": TOKEN_PATTERN, "phone_pattern": PII_PATTERNS["<PHONE>"]}
                | dict(params or {}),
                relation=relation,
                columns=", ".join(f"CAST({_quote(c)} AS VARCHAR)" for c in columns),
            )

    def tokens(self, place: Place, tokens: set[bytes], direct: bool = True) -> None:
        """A place whose tokens were cut out in Python (a file's bytes, a file name)."""
        number = self._add(place, direct)
        self._tokens += [t.decode("latin-1") for t in tokens]
        self._token_places += [number] * len(tokens)

    def run(self) -> list[Place]:
        """Look every place's tokens up; the places with their token counts and findings."""
        tokens = pa.table(
            {
                "place": pa.array(self._token_places, pa.int32()),
                "token": pa.array(self._tokens, pa.string()),
            }
        )
        directs = pa.table({"place": pa.array(range(len(self.places)), pa.int32()), "direct": self.direct})
        self.con.register("verify_file_tokens", tokens)
        self.con.register("verify_direct", directs)
        try:
            run_sql(self.con, "privacy/verify_candidates_from.sql", relation="verify_file_tokens")
            rows = run_sql(
                self.con,
                "privacy/verify_found.sql",
                {
                    "word_pattern": SUB_TOKEN_PATTERNS["word"],
                    "email_pattern": SUB_TOKEN_PATTERNS["email"],
                    "ipv4_pattern": SUB_TOKEN_PATTERNS["ipv4"],
                    "ipv6_pattern": SUB_TOKEN_PATTERNS["ipv6"],
                    "pseudonym_pattern": PSEUDONYM_SHAPE,
                    "pseudonym_key": self.key,
                },
                pseudonym=pseudonymise_sql("t"),
            ).fetchall()
        finally:
            self.con.unregister("verify_file_tokens")
            self.con.unregister("verify_direct")
        for number, n_tokens, found in rows:
            self.places[number].tokens = n_tokens
            self.places[number].found = {f["kind"]: f["n"] for f in found or []}
        return self.places


def _search_tables(search: _Search) -> None:
    """Every warehouse table but the tombstone list: its text columns, in DuckDB."""
    tables = run_sql(search.con, "privacy/verify_columns.sql", {"skip": [TOMBSTONES]}).fetchall()
    for schema, table, names, types, rows in tables:
        place = Place("table", f"{schema}.{table}", rows, "rows")
        search.relation(place, f"{_quote(schema)}.{_quote(table)}", _text_columns(names, types))


def _tokens_of_bytes(chunks: Iterator[bytes], packed: bool = False) -> set[bytes]:
    """The candidate tokens of a file read in chunks; ``packed``: also identifier shapes at every offset (a
    DuckDB file, see ``_PACKED``)."""
    tokens: set[bytes] = set()
    tail = b""
    for chunk in chunks:
        data = tail + chunk
        tokens.update(_TOKENS.findall(data))
        tokens.update(_PHONES.findall(data))
        tokens.update(_QUOTED.findall(data))
        if packed:
            tokens.update(_packed_tokens(data))
        tail = data[-OVERLAP_BYTES:]
    return tokens


# DuckDB stores a column's strings back to back ("...u1000261u1000033u1000204..."): in the database file's bytes a
# token runs on into its neighbours. There, identifiers of known shapes are cut out at every offset: UUIDs,
# IPv4 addresses (each length of the last octet), a name followed by a number (u1000033), pseudonyms, and e-mail
# addresses (every start of the local part, every end of the top-level domain). Ids of free shape stored back to
# back are not found in those bytes (their tables are searched through SQL).
_PACKED = [
    re.compile(rb"(?=([0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}))"),
    *(re.compile(rb"(?=(\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{%d}))" % n) for n in (1, 2, 3)),
    re.compile(rb"(?=([A-Za-z_]+[0-9]+))"),
    re.compile(rb"(?=(%s))" % PSEUDONYM_SHAPE.encode()),
]
_PACKED_EMAIL = re.compile(rb"(?=([A-Za-z0-9._%+-]{1,64}@[A-Za-z0-9.-]{1,255}))")
_TLD = re.compile(rb"\.([A-Za-z]{2,})")


def _packed_tokens(data: bytes) -> set[bytes]:
    """Identifier-shaped substrings at every offset of ``data`` (see ``_PACKED``)."""
    found: set[bytes] = set()
    for pattern in _PACKED:
        found.update(pattern.findall(data))
    for candidate in set(_PACKED_EMAIL.findall(data)):
        local, _, domain = candidate.partition(b"@")
        for tld in _TLD.finditer(domain):
            for end in range(tld.start(1) + 2, min(tld.end(1), tld.start(1) + 10) + 1):
                found.add(local + b"@" + domain[:end])
    return found


def _chunks(path: Path) -> Iterator[bytes]:
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rb") as f:
        while chunk := f.read(CHUNK_BYTES):
            yield chunk


WITHHELD = "<a file whose name holds an identifier of the subject>"


def _search_file(search: _Search, path: Path, kind: str, name: str, direct: bool = True) -> None:
    """One file, named ``name`` in the result: a Parquet file read through DuckDB, any other by its
    (decompressed) bytes, and its name (a separate place, merged into the file's by :func:`_named`);
    ``direct=False``: a pseudonym of the subject found as it is is no hit (the warehouse file, which holds
    the tombstone list)."""
    search.tokens(Place("file name", name, len(name), "bytes"), _tokens_of_bytes(iter([name.encode()])), direct)
    if path.suffix == ".parquet":
        params = {"path": str(path)}
        rows, names, types = run_sql(search.con, "privacy/verify_parquet_rows.sql", params).fetchone()
        search.relation(
            Place("parquet", name, rows, "rows"), "read_parquet($path)", _text_columns(names, types), params
        )
    else:
        tokens = _tokens_of_bytes(_chunks(path), packed=kind == "database file")
        search.tokens(Place(kind, name, path.stat().st_size, "bytes"), tokens, direct)


def _named(places: list[Place]) -> list[Place]:
    """Each file's name merged into its place: a name that holds an identifier counts as ``in_file_name`` and is
    never written out."""
    out: list[Place] = []
    for place in places:
        if out and out[-1].kind == "file name":
            name = out.pop()
            if name.found:
                place.location = f"{place.location.split('/')[0]}/{WITHHELD}"
                place.found = {**place.found, "in_file_name": sum(name.found.values())}
        out.append(place)
    return out


_NOT_TEXT = re.compile(
    r"(BOOLEAN|TINYINT|SMALLINT|INTEGER|BIGINT|HUGEINT|UTINYINT|USMALLINT|UINTEGER|UBIGINT|FLOAT|DOUBLE"
    r"|DATE|TIME.*|INTERVAL|DECIMAL.*)"
)


def _text_columns(names: list[str], types: list[str]) -> list[str]:
    """The columns that can hold an identifier: all but numbers, booleans and times (lists, structs, JSON and
    blobs are read cast to VARCHAR)."""
    return [n for n, t in zip(names, types) if not _NOT_TEXT.fullmatch(t.upper())]


def _files(folder: Path, skip: set[Path]) -> Iterator[tuple[Path, str]]:
    """Every file under ``folder`` not in ``skip`` (resolved paths; the ones yielded are added), with its
    path relative to the folder."""
    if folder.is_dir():
        for path in sorted(folder.rglob("*")):
            if path.is_file() and path.resolve() not in skip:
                skip.add(path.resolve())
                yield path, path.relative_to(folder).as_posix()


def verify_erasure(
    con: duckdb.DuckDBPyConnection,
    request_id: str,
    roots: SearchRoots,
    key: str | None = None,
    now: dt.datetime | None = None,
) -> Verification:
    """Search every place for every identifier request ``request_id`` erased (see the module docstring);
    :class:`VerificationError` when the request erased nothing or another key made its pseudonyms."""
    started = time.perf_counter()
    key = key or pseudonym_key()
    identifiers = subject_identifiers(con, request_id, key)
    search = _Search(con, key)
    _search_tables(search)
    warehouse = [roots.warehouse_file, Path(f"{roots.warehouse_file}.wal")] if roots.warehouse_file else []
    seen = {p.resolve() for p in warehouse}
    folders = {**roots.folders, **({"dagster_home": roots.dagster_home} if roots.dagster_home else {})}
    for folder_name, folder in folders.items():
        kind = "dagster" if folder_name == "dagster_home" else "file"
        for path, relative in _files(folder, seen):
            _search_file(search, path, kind, f"{folder_name}/{relative}")
    for path in warehouse:
        if path.is_file():  # the tombstone list lives here: its pseudonyms are no hit, raw identifiers are
            _search_file(search, path, "database file", path.name, direct=False)
    places = _named(search.run())
    run_sql(con, "privacy/verify_cleanup.sql")
    return Verification(
        request_id,
        key_id(key),
        (now or dt.datetime.now(dt.UTC)).isoformat(timespec="milliseconds"),
        identifiers,
        places,
        round(time.perf_counter() - started, 2),
    )
