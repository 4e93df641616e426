"""Fuzzed raw input: lines and files of every shape never crash ingestion, every line is accepted or
quarantined with a contract reason, and per file lines in = accepted + quarantined.

Shapes: valid events, truncated JSON, wrong types, huge fields, invalid UTF-8, NUL bytes (raw and
escaped), deeply nested values, duplicate keys, extreme numbers and dates, random bytes and text,
CR/BOM noise; files that are empty, gzip (whole, empty, multi-member, truncated, corrupted, not gzip
at all), with or without a final newline.

The expected line count of a file comes from the format's definition (lines are split on ``\\n``; a
final newline does not start a line), computed here independently of the ingestion code.
"""

from __future__ import annotations

import datetime as dt
import gzip
import json
import os
import random
import tempfile
import time
from pathlib import Path

import duckdb
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from data_platform import contracts
from data_platform.ingestion.landing import land_new_files
from data_platform.resources import LandingZone
from data_platform_tests.conftest import checks_by_name, event, ingest, query

MIN_TS = dt.datetime(2026, 11, 1, tzinfo=dt.UTC)
NOW = dt.datetime.now(dt.UTC)
EXTREME_NUMBERS = [
    "1e400",
    "-1e400",
    "NaN",
    "Infinity",
    "-Infinity",
    "-0",
    "1e-400",
    "9" * 40,
    "-" + "9" * 40,
    "0.1e99999",
    "4.9e-324",
    "1.7976931348623157e308",
    "9223372036854775808",
    "-9223372036854775809",
    "18446744073709551616",
    "0",
    "-1",
    "1.5",
    "3",
]
EXTREME_TS = [
    '"0000-01-01T00:00:00Z"',
    '"9999-12-31T23:59:59Z"',
    '"+275760-09-13T00:00:00Z"',
    '"2026-02-29T00:00:00Z"',
    '"2026-11-02T10:00:00+99:99"',
    '"2026-11-02T24:00:00Z"',
    '"2026-11-02T10:00:60Z"',
    '"2026-11-02T10:00:00"',
    '"2026-11-02"',
    '""',
    "999999999999999",
    "1793613600000",
    "-1793613600000",
    "1793613600000.5",
    "1e13",
    "17936136000000000000000",
    '"2026-11-02T10:00:00.123456789012Z"',
    '"\\u0032026-11-02T10:00:00Z"',
    "null",
    "true",
    "[]",
    "{}",
]
INVALID_UTF8 = [
    b"\xff",
    b"\xfe\xff",
    b"\xc3",
    b"\xc3\x28",
    b"\xed\xa0\x80",
    b"\xf8\x88\x80\x80\x80",
    b"\x80",
    b"\xe2\x82",
]
FIELD_NAMES = [f.name for f in contracts.FIELDS]


def _valid(rnd: random.Random) -> dict:
    kind = rnd.choice(contracts.EVENT_TYPES)
    ts = rnd.choice(
        [
            "2026-11-02T10:00:00Z",
            "2026-11-03T23:59:59.999+02:00",
            1793613600000,
            "2026-11-01T00:00:00Z",
            "2026-11-04T12:00:00-05:30",
        ]
    )
    return event(f"e{rnd.getrandbits(40):x}", kind, ts=ts)


def _json_value(rnd: random.Random, depth: int = 0):
    roll = rnd.random()
    if depth > 3 or roll < 0.5:
        return rnd.choice([None, True, False, 0, -1, 2**63, 1.5, "", "x", "\u0000", "\ud7ff\ue000", "💥", [], {}])
    if roll < 0.75:
        return [_json_value(rnd, depth + 1) for _ in range(rnd.randrange(4))]
    return {rnd.choice(FIELD_NAMES + ["k", ""]): _json_value(rnd, depth + 1) for _ in range(rnd.randrange(4))}


def _dump(obj) -> bytes:
    """JSON bytes, with non-ASCII escaped or not (deterministically, half of the time)."""
    return json.dumps(obj, ensure_ascii=len(repr(obj)) % 2 == 0).encode("utf-8", "surrogatepass")


def _with_raw_field(line: bytes, name: str, raw: str) -> bytes:
    """The object of ``line`` with ``name`` set to the raw JSON text ``raw`` (appended last)."""
    body = json.loads(line)
    body.pop(name, None)
    text = json.dumps(body)
    return (text[:-1] + ("," if len(body) else "") + json.dumps(name) + ":" + raw + "}").encode()


def _nested(depth: int, kind: str) -> str:
    return ("[" * depth + "]" * depth) if kind == "array" else ('{"a":' * depth + "1" + "}" * depth)


SHAPES = {
    "valid": lambda r: _dump(_valid(r)),
    "truncated": lambda r: (lambda b: b[: r.randrange(len(b))])(_dump(_valid(r))),
    "wrong_type": lambda r: _dump({**_valid(r), r.choice(FIELD_NAMES): _json_value(r)}),
    "huge_field": lambda r: _dump(
        {
            **_valid(r),
            r.choice(["text", "extra_blob", "event_id", "user_agent"]): "x" * r.choice([70_000] * 9 + [1_000_000]),
        }
    ),
    "invalid_utf8": lambda r: (lambda b, i: b[:i] + r.choice(INVALID_UTF8) + b[i:])(
        _dump(_valid(r)), r.randrange(1, 30)
    ),
    "nul_raw": lambda r: (lambda b, i: b[:i] + b"\x00" * r.randrange(1, 4) + b[i:])(
        _dump(_valid(r)), r.randrange(0, 40)
    ),
    "nul_escaped": lambda r: _dump({**_valid(r), r.choice(["anon_id", "text", "event_id", "k"]): "a\u0000b"}),
    "deep": lambda r: (
        _nested(r.choice([64, 1000, 1000, 100_000]), r.choice(["array", "object"])).encode()
        if r.random() < 0.5
        else _with_raw_field(
            _dump(_valid(r)),
            r.choice(["extra", "text", "event_id"]),
            _nested(r.choice([64, 5000]), r.choice(["array", "object"])),
        )
    ),
    "duplicate_key": lambda r: (lambda b, k: b[:-1] + b',"' + k.encode() + b'":"again"}')(
        _dump(_valid(r)), r.choice(["event_id", "ts", "anon_id", "k", "k"])
    ),
    "extreme_number": lambda r: _with_raw_field(
        _dump(_valid(r)),
        r.choice(["position", "price", "rating", "predicted_ctr", "extra_num"]),
        r.choice(EXTREME_NUMBERS),
    ),
    "extreme_ts": lambda r: _with_raw_field(_dump(_valid(r)), "ts", r.choice(EXTREME_TS)),
    "random_bytes": lambda r: bytes(r.getrandbits(8) for _ in range(r.randrange(0, 120))),
    "random_text": lambda r: "".join(
        chr(r.choice([r.randrange(32, 127), r.randrange(0, 0x2FFFF)])) for _ in range(r.randrange(0, 60))
    ).encode("utf-8", "surrogatepass"),
    "json_value": lambda r: json.dumps(_json_value(r)).encode(),
    "noise": lambda r: (
        r.choice(
            [
                b"",
                b" ",
                b"\t",
                b"\r",
                b"\xef\xbb\xbf",
                b"\xef\xbb\xbf{}",
                b"{}",
                b"[]",
                b"null",
                b'"str"',
                b"{",
                b"}",
                b'{"event_id":}',
                b"\x1a",
            ]
        )
        + (_dump(_valid(r)) if r.random() < 0.3 else b"")
        + r.choice([b"", b"\r", b" ", b"\r\r"])
    ),
}


# Huge and deeply nested lines are costly to build and parse: rarer, but present in every few files.
WEIGHTS = {name: (1 if name in ("huge_field", "deep") else 6) for name in SHAPES}


def make_line(rnd: random.Random) -> bytes:
    """One fuzzed line (never containing the line separator itself)."""
    line = SHAPES[rnd.choices(list(WEIGHTS), weights=list(WEIGHTS.values()))[0]](rnd)
    return line.replace(b"\n", b"\\n")


def expected_lines(body: bytes) -> int:
    """Lines in a body by the landing format's definition: split on \\n, a final \\n starts no line."""
    if not body:
        return 0
    return body.count(b"\n") + (0 if body.endswith(b"\n") else 1)


FILE_SHAPES = ("plain", "gzip", "gzip_multi", "gzip_truncated", "gzip_corrupt", "not_gzip", "empty", "empty_gzip")


def make_file(rnd: random.Random, n_lines: int, shape: str | None = None) -> tuple[str, bytes, bytes, bool]:
    """(suffix, bytes on disk, uncompressed body, intact?) for a fuzzed file of ``n_lines`` lines."""
    lines = [make_line(rnd) for _ in range(n_lines)]
    body = b"\n".join(lines) + (b"\n" if lines and rnd.random() < 0.8 else b"")
    shape = shape or rnd.choice(["plain"] * 5 + list(FILE_SHAPES[1:]))
    if shape == "plain":
        return ".jsonl", body, body, True
    if shape == "empty":
        return ".jsonl", b"", b"", True
    if shape == "empty_gzip":
        return ".jsonl.gz", gzip.compress(b""), b"", True
    if shape == "not_gzip":
        return ".jsonl.gz", body or b"plain", body or b"plain", False
    packed = gzip.compress(body, mtime=0)
    if shape == "gzip":
        return ".jsonl.gz", packed, body, True
    if shape == "gzip_multi":
        cut = rnd.randrange(len(body) + 1)
        return ".jsonl.gz", gzip.compress(body[:cut], mtime=0) + gzip.compress(body[cut:], mtime=0), body, True
    if shape == "gzip_truncated":
        return ".jsonl.gz", packed[: rnd.randrange(len(packed))], body, False
    corrupt = bytearray(packed)
    for _ in range(rnd.randrange(1, 6)):
        corrupt[rnd.randrange(len(corrupt))] = rnd.getrandbits(8)
    return ".jsonl.gz", bytes(corrupt), body, False


def land_and_check(files: list[tuple[str, bytes, bytes, bool]], root: Path) -> int:
    """Land the files into a fresh in-memory DuckDB and check every line is accounted for; returns the
    number of lines read."""
    events = root / "events"
    events.mkdir(parents=True)
    names = []
    for i, (suffix, data, _, _) in enumerate(files):
        path = events / f"f{i:02d}{suffix}"
        path.write_bytes(data)
        past = time.time() - 3600
        os.utime(path, (past, past))
        names.append(path.name)
    con = duckdb.connect()
    try:
        con.execute("SET TimeZone = 'UTC'")
        landed = land_new_files(con, events, "fuzz", min_ts=MIN_TS, now=NOW, settle_seconds=0)
        by_name = {f.rel: f for f in landed}
        assert sorted(by_name) == names  # every file landed, none skipped, none twice
        total = 0
        for name, (_suffix, _data, body, intact) in zip(names, files):
            f = by_name[name]
            numbers = [
                r[0]
                for r in con.execute(
                    "SELECT source_line FROM raw.landed_lines WHERE file_id = ? ORDER BY source_line", [f.file_id]
                ).fetchall()
            ]
            assert numbers == list(range(1, f.lines + 1)), name  # each line exactly once
            assert f.lines == f.accepted + f.quarantined, name
            [(files_lines, acc, qua)] = con.execute(
                "SELECT lines, accepted, quarantined FROM raw.files WHERE file_id = ?", [f.file_id]
            ).fetchall()
            assert (files_lines, acc, qua) == (f.lines, f.accepted, f.quarantined)
            reasons = [
                r[0]
                for r in con.execute(
                    "SELECT reason FROM raw.landed_lines WHERE file_id = ? ORDER BY source_line", [f.file_id]
                ).fetchall()
            ]
            assert {r for r in reasons if r is not None} <= set(contracts.QUARANTINE_REASONS), name
            if intact or "unreadable_file" not in reasons:
                # an intact file; or damage gzip does not detect (a byte of the header's mtime or OS
                # field): then every line must be there
                assert f.lines == expected_lines(body), name
                assert "unreadable_file" not in reasons
                _check_lines_against_source(con, f.file_id, body)
            else:
                assert reasons[-1] == "unreadable_file", name  # one marker closes the file
                assert reasons.count("unreadable_file") == 1
                assert f.lines - 1 <= expected_lines(body), name
            total += f.lines
        _check_accepted_rows(con)
        return total
    finally:
        con.close()


def _check_lines_against_source(con, file_id: int, body: bytes) -> None:
    """Independent oracle per line: invalid UTF-8 and blank lines get their reason; an accepted line
    is valid UTF-8 and, when Python's json reads it as an object, carries its event_id and type."""
    source = body.split(b"\n")
    rows = con.execute(
        "SELECT source_line, reason, event_id, event_type FROM raw.landed_lines WHERE file_id = ? ORDER BY source_line",
        [file_id],
    ).fetchall()
    for line_no, reason, event_id, event_type in rows:
        raw = source[line_no - 1]
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            assert reason == "invalid_utf8", (line_no, raw[:80])
            continue
        if text.strip(" \t\r") == "":
            assert reason == "empty_line", (line_no, raw[:80])
            continue
        assert reason not in ("invalid_utf8", "empty_line"), (line_no, raw[:80])
        if reason is None:
            try:
                obj = json.loads(text)
            except (ValueError, RecursionError):
                continue  # DuckDB's reader is more lenient (e.g. a trailing comma): see docs/reliability.md
            assert isinstance(obj, dict) and obj.get("event_id") == event_id and obj.get("event_type") == event_type


def _check_accepted_rows(con) -> None:
    bad = con.execute(
        """
        SELECT count(*) FROM raw.landed_lines
        WHERE reason IS NULL AND (event_id IS NULL OR event_id = '' OR anon_id IS NULL OR anon_id = ''
           OR event_type NOT IN ('impression', 'click', 'purchase', 'review', 'login')
           OR ts IS NULL OR ts < TIMESTAMPTZ '2026-11-01 00:00:00+00' OR ts > $now::TIMESTAMPTZ + INTERVAL 1 DAY
           OR partition_date IS DISTINCT FROM CAST(timezone('UTC', ts) AS DATE)
           OR NOT isfinite(coalesce(price, 0)) OR price < 0 OR price > $price_max OR position < 1
           OR predicted_ctr < 0 OR predicted_ctr > 1 OR rating < 1 OR rating > 5)
    """,
        {"now": NOW, "price_max": contracts.PRICE_MAX},
    ).fetchone()[0]
    assert bad == 0
    assert (
        con.execute(
            "SELECT count(*) FROM raw.landed_lines WHERE reason IS NOT NULL AND raw_line IS NULL "
            "AND reason <> 'unreadable_file'"
        ).fetchone()[0]
        == 0
    )


LINES_SEEN = {"n": 0}


# No shrinking phase: a shrink of multi-megabyte files takes many minutes; the failing example is
# printed as drawn (derandomized, so it reproduces).
@settings(
    max_examples=45,
    deadline=None,
    derandomize=True,
    database=None,
    phases=(Phase.explicit, Phase.generate),
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(
    files=st.lists(
        st.tuples(st.integers(0, 2**32 - 1), st.integers(150, 400), st.sampled_from(FILE_SHAPES)),
        min_size=2,
        max_size=4,
    )
)
def _fuzz_landing(files):
    # Hypothesis draws each file's shape, size and seed; the seed drives the shapes of its lines
    # (drawing every byte through Hypothesis made examples too large for its buffer).
    built = [make_file(random.Random(seed), n, shape) for seed, n, shape in files]
    with tempfile.TemporaryDirectory(prefix="fuzz-") as tmp:
        LINES_SEEN["n"] += land_and_check(built, Path(tmp))


def test_fuzzed_files_never_crash_landing_and_every_line_is_accounted_for():
    """Hypothesis drives the shapes (at least 10,000 lines over the examples): landing never raises,
    every line of every file is landed once with a contract reason or accepted, per file lines read =
    accepted + quarantined, intact files have exactly the lines the format defines, damaged gzip
    files end with one unreadable_file marker, and accepted rows keep the contract."""
    LINES_SEEN["n"] = 0
    _fuzz_landing()
    assert LINES_SEEN["n"] >= 10_000, LINES_SEEN


def test_fuzzed_landing_folder_through_the_real_asset(tmp_path, warehouse):
    """A seeded corpus of 12 files x 420 fuzzed lines, of every shape (some damaged or empty), goes
    through the real ingestion asset: the run succeeds, its blocking checks pass (accounting, contract,
    reasons), and the lines read equal the rows in raw.events plus raw.quarantine."""
    rnd = random.Random(20261126)
    landing = LandingZone(root=str(tmp_path / "landing"), settle_seconds=0)
    events = landing.events_dir()
    events.mkdir(parents=True)
    expected_total = 0
    for i in range(12):
        suffix, data, body, intact = make_file(rnd, 420)
        path = events / f"sub{i % 3}" / f"fuzz-{i:02d}{suffix}"
        path.parent.mkdir(exist_ok=True)
        path.write_bytes(data)
        past = time.time() - 3600
        os.utime(path, (past, past))
        expected_total += expected_lines(body) if intact else 0
    result = ingest(warehouse, landing, ("2026-11-01", NOW.date().isoformat()))
    assert {name: c.passed for name, c in checks_by_name(result).items()} == {
        "lines_accounted": True,
        "contract_v1": True,
        "reasons_known": True,
    }
    [(files, lines, accepted, quarantined)] = query(
        warehouse, "SELECT count(*), sum(lines), sum(accepted), sum(quarantined) FROM raw.files"
    )
    [(events_rows,)] = query(warehouse, "SELECT count(*) FROM raw.events")
    [(quarantine_rows,)] = query(warehouse, "SELECT count(*) FROM raw.quarantine")
    assert files == 12 and lines == accepted + quarantined == events_rows + quarantine_rows
    assert lines >= 3_000 and accepted > 0 and quarantined > 0


def test_impossible_utc_offsets_are_bad_ts_not_a_shifted_event(tmp_path):
    """Bug found while fuzzing: DuckDB's cast accepts any two-digit offset, so '10:00:00+99:99' was an
    accepted event 4 days earlier, on another partition. Offsets must be within -23:59..+23:59."""
    good = ["+23:59", "-23:59", "+05:30", "+0530", "+05", "Z", "-00:00"]
    bad = ["+99:99", "+24:00", "+2400", "-25", "+05:60", "+12:75"]
    body = b"\n".join(_dump(event(f"o{i}", ts=f"2026-11-06T10:00:00{off}")) for i, off in enumerate(good + bad))
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    events = tmp_path / "again" / "events"
    events.mkdir(parents=True)
    path = events / "o.jsonl"
    path.write_bytes(body + b"\n")
    os.utime(path, (time.time() - 3600, time.time() - 3600))
    land_new_files(con, events, "r", min_ts=MIN_TS, now=NOW, settle_seconds=0)
    reasons = dict(con.execute("SELECT event_id, coalesce(reason, 'accepted') FROM raw.landed_lines").fetchall())
    assert [reasons[f"o{i}"] for i in range(len(good))] == ["accepted"] * len(good)
    assert [reasons[f"o{i}"] for i in range(len(good), len(good) + len(bad))] == ["bad_ts"] * len(bad)
