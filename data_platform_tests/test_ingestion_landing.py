"""Landing and parsing: line reading, the quarantine rules of the contract, file versions."""

from __future__ import annotations

import datetime as dt
import gzip
import hashlib
import json
import os

import pytest

from data_platform import contracts
from data_platform.ingestion import landing as landing_module
from data_platform.ingestion.landing import (
    KEPT_PREFIX_BYTES,
    MAX_LINE_BYTES,
    land_new_files,
    list_landing_files,
    read_lines,
    scan_file_days,
)
from data_platform_tests.conftest import UTC, event, write_lines

MIN_TS = dt.datetime(2026, 11, 1, tzinfo=UTC)
NOW = dt.datetime.now(UTC)


def land(warehouse, landing, now=None):
    with warehouse.connect() as con:
        return land_new_files(con, landing.events_dir(), "run-test", min_ts=MIN_TS, now=now, settle_seconds=0)


def landed_lines(warehouse, source_file):
    with warehouse.connect() as con:
        return con.execute(
            "SELECT source_line, reason, detail, partition_date, event_id "
            "FROM raw.landed_lines JOIN raw.files USING (file_id) "
            "WHERE source_file = ? ORDER BY source_line",
            [source_file],
        ).fetchall()


def test_read_lines_numbers_lines_and_flags_invalid_utf8(tmp_path):
    path = tmp_path / "a.jsonl"
    path.write_bytes(b'{"a":1}\n\xff\xfe bad\n\nlast-without-newline')
    batches = list(read_lines(path, compressed=False))
    table = [row for b in batches for row in zip(*(c.to_pylist() for c in b.columns))]
    assert [r[0] for r in table] == [1, 2, 3, 4]
    assert table[1][2] is False and "\ufffd" in table[1][1]
    assert table[2][1] == "" and table[3][1] == "last-without-newline"
    assert all(r[2] for i, r in enumerate(table) if i != 1)


@pytest.mark.parametrize("cap", [MAX_LINE_BYTES, KEPT_PREFIX_BYTES + 2])
def test_read_lines_decodes_invalid_utf8_as_each_line_alone(tmp_path, cap):
    """Lines with invalid bytes among valid ones (a chunk is decoded at once): each line's text and flag are
    those of Python decoding that line alone, including sequences cut by a newline, a real U+FFFD in a valid
    line, and (with a small cap) an over-long line whose kept prefix ends inside a character."""
    import random

    rng = random.Random(19)
    pieces = [
        b"\xff",
        b"\xfe\xff",
        b"\xe2\x82",
        b"\xed\xa0\x80",
        b"\xc3",
        b"\xf0\x9f\x98",
        "é€😀\ufffd".encode(),
        b"ok",
    ]
    raw_lines = [b"".join(rng.choice(pieces) for _ in range(rng.randrange(0, 6))) for _ in range(3000)]
    raw_lines += [b"x" + "é".encode() * (KEPT_PREFIX_BYTES // 2 + 2), b"\xe2\x82\n"[:2] + b"tail"]
    path = tmp_path / "mixed.jsonl"
    path.write_bytes(b"\n".join(raw_lines) + b"\n")
    rows = [
        r
        for b in read_lines(path, compressed=False, max_line_bytes=cap)
        for r in zip(*(c.to_pylist() for c in b.columns))
    ]
    assert [r[0] for r in rows] == list(range(1, len(raw_lines) + 1))
    for raw, (_, text, utf8_ok, too_long) in zip(raw_lines, rows, strict=True):
        kept = raw[:KEPT_PREFIX_BYTES] if too_long else raw
        assert too_long == (len(raw) > cap)
        assert text == kept.decode("utf-8", errors="replace")
        try:
            kept.decode("utf-8")
            valid = True
        except UnicodeDecodeError:
            valid = too_long
        assert utf8_ok == valid, raw
    assert sum(not r[2] for r in rows) > 1000 and any(r[3] for r in rows) == (cap < MAX_LINE_BYTES)


def test_truncated_gzip_keeps_what_was_read_and_marks_the_rest(tmp_path):
    body = b"".join(json.dumps(event(f"e{i}")).encode() + b"\n" for i in range(2000))
    path = tmp_path / "t.jsonl.gz"
    path.write_bytes(gzip.compress(body)[:-200])
    batches = list(read_lines(path, compressed=True))
    lines = [x for b in batches for x in b.column("line").to_pylist()]
    assert lines[-1] is None  # the unreadable_file marker
    assert 1000 < len(lines) <= 2001


CASES = [
    ('{"event_id": "' + "x" * MAX_LINE_BYTES + '"}', "line_too_long", None),
    (b"\xff\xfe{}", "invalid_utf8", None),
    ("   ", "empty_line", None),
    ('{"event_id": "x", ', "not_json", None),
    ("[1, 2, 3]", "not_an_object", None),
    ('{"event_id":"d1","event_id":"d2","event_type":"login","ts":"2026-11-02T10:00:00Z"}', "duplicate_key", None),
    ({k: v for k, v in event("m1").items() if k != "event_type"}, "missing_required_field", "event_type"),
    (event("m2", user_id=None), "missing_required_field", "user_id"),
    (event("m3", "impression", item_id=""), "missing_required_field", "item_id"),
    ({k: v for k, v in event("m4", "purchase").items() if k != "currency"}, "missing_required_field", "currency"),
    (event("u1", "signup"), "unknown_event_type", "signup"),
    (event("w1", event_type=7), "wrong_type", "event_type"),
    (event("w2", "impression", position="3"), "wrong_type", "position"),
    (event("w3", "impression", position=3.5), "wrong_type", "position"),
    (event("w4", "impression", price="9.5"), "wrong_type", "price"),
    (event("w5", anon_id=12), "wrong_type", "anon_id"),
    (event("w6", ts=True), "wrong_type", "ts"),
    (event("t1", ts="yesterday"), "bad_ts", None),
    (event("t2", ts="2026-11-02T10:00:00"), "bad_ts", None),  # no offset
    (event("t3", ts="2026-13-45T10:00:00Z"), "bad_ts", None),
    (event("t4", ts="1999-01-01T00:00:00Z"), "ts_out_of_range", None),
    (event("t5", ts="2099-01-01T00:00:00Z"), "ts_out_of_range", None),
    (event("r1", "impression", position=0), "out_of_range", "position"),
    (event("r2", "impression", predicted_ctr=1.5), "out_of_range", "predicted_ctr"),
    (event("r3", "review", rating=6), "out_of_range", "rating"),
    (event("r4", "purchase", price=-1), "out_of_range", "price"),
    (event("r5", "purchase", price=1e200), "out_of_range", "price"),  # overflowed the price statistics
    (event("r6", "purchase", price=1.7e308, currency="GBP"), "out_of_range", "price"),  # was an infinite EUR price
    (event("r7", "purchase", price=contracts.PRICE_MAX * 1.0000001), "out_of_range", "price"),
    (event("ok0", "purchase", price=contracts.PRICE_MAX), None, None),  # the bound itself is a price
    (event("ok1"), None, None),
    (event("ok2", "impression", ts=1793613600000), None, None),
    (event("ok3", "review", ts="2026-11-02T10:00:00.123+05:30"), None, None),
    (event("ok4", "click", country="DE", utm={"source": "mail"}), None, None),
]


def test_every_quarantine_rule_and_its_precedence(warehouse, landing):
    write_lines(landing.events_dir() / "rules.jsonl", [c[0] for c in CASES])
    [landed] = land(warehouse, landing)
    got = landed_lines(warehouse, "rules.jsonl")
    assert [
        (r[1], r[2] if r[1] in ("missing_required_field", "wrong_type", "out_of_range", "unknown_event_type") else None)
        for r in got
    ] == [(c[1], c[2]) for c in CASES]
    assert landed.lines == len(CASES) == landed.accepted + landed.quarantined
    expected_reasons = {c[1] for c in CASES if c[1]}
    assert expected_reasons == set(contracts.QUARANTINE_REASONS) - {"unreadable_file"}


def test_accepted_rows_are_typed_on_their_utc_day_with_extra_fields_kept(warehouse, landing):
    write_lines(
        landing.events_dir() / "typed.jsonl",
        [
            event("a", "review", ts="2026-11-02T01:30:00+05:30", rating=5, text="great"),  # 2026-11-01 20:00 UTC
            event("b", "impression", ts=1793613600000, position=2, price=3),  # epoch ms: 2026-11-02 10:00 UTC
            event("c", "click", utm={"source": "mail"}, note="x"),
        ],
    )
    land(warehouse, landing)
    with warehouse.connect() as con:
        got = {
            r[0]: r[1:]
            for r in con.execute(
                "SELECT event_id, ts, partition_date, ts_raw, position, price, rating, extra FROM raw.landed_lines"
            ).fetchall()
        }
    assert got["a"][0] == dt.datetime(2026, 11, 1, 20, 0, tzinfo=UTC)
    assert got["a"][1] == dt.date(2026, 11, 1) and got["a"][2] == "2026-11-02T01:30:00+05:30"
    assert got["b"][1] == dt.date(2026, 11, 2) and got["b"][2] == "1793613600000"
    assert got["b"][3:5] == (2, 3.0) and got["a"][5] == 5
    assert json.loads(got["c"][6]) == {"utm": {"source": "mail"}, "note": "x"}
    assert got["a"][6] is None


def test_lines_without_usable_ts_go_to_the_files_earliest_day(warehouse, landing):
    write_lines(
        landing.events_dir() / "d.jsonl",
        [
            event("late", ts="2026-11-03T09:00:00Z"),
            "not json",
            event("early", ts="2026-11-02T23:59:59Z"),
        ],
    )
    land(warehouse, landing)
    days = {r[0]: r[3] for r in landed_lines(warehouse, "d.jsonl")}
    assert days == {1: dt.date(2026, 11, 3), 2: dt.date(2026, 11, 2), 3: dt.date(2026, 11, 2)}


def test_undated_lines_left_by_a_crash_after_the_landing_commit_are_dated_by_the_next_landing(
    warehouse, landing, monkeypatch
):
    # the undated lines get their day in a transaction after the landing's: a crash in between leaves them
    # undated, with their file recorded (its days included); the next landing dates them before anything else
    write_lines(landing.events_dir() / "d.jsonl", [event("a", ts="2026-11-03T09:00:00Z"), "not json"])
    write_lines(landing.events_dir() / "undated.jsonl", ["{broken", "[1]"])

    def crash(con, first_file_id, last_file_id):
        if first_file_id > 0:
            raise KeyboardInterrupt("killed between the landing's commit and the dating")

    real = landing_module._date_undated_lines
    monkeypatch.setattr(landing_module, "_date_undated_lines", crash)
    with pytest.raises(KeyboardInterrupt):
        land(warehouse, landing)
    assert [r[3] for r in landed_lines(warehouse, "d.jsonl")] == [dt.date(2026, 11, 3), None]
    with warehouse.connect() as con:
        partitions = dict(con.execute("SELECT source_file, partitions FROM raw.files").fetchall())
    mtime_day = max(
        dt.datetime.fromtimestamp((landing.events_dir() / "undated.jsonl").stat().st_mtime, UTC).date(),
        MIN_TS.date(),
    )
    assert partitions == {"d.jsonl": [dt.date(2026, 11, 3)], "undated.jsonl": [mtime_day]}

    monkeypatch.setattr(landing_module, "_date_undated_lines", real)
    assert land(warehouse, landing) == []  # nothing new to land: the files are known
    assert [r[3] for r in landed_lines(warehouse, "d.jsonl")] == [dt.date(2026, 11, 3)] * 2
    assert [r[3] for r in landed_lines(warehouse, "undated.jsonl")] == [mtime_day] * 2


def test_landing_is_idempotent_and_a_changed_file_is_a_new_version(warehouse, landing):
    path = write_lines(landing.events_dir() / "v.jsonl", [event("a", ts="2026-11-02T10:00:00Z")])
    assert len(land(warehouse, landing)) == 1
    assert land(warehouse, landing) == []  # same stat: not even read
    os.utime(path, (path.stat().st_atime, path.stat().st_mtime + 60))
    assert land(warehouse, landing) == []  # new mtime, same bytes: hashed, not parsed again
    write_lines(path, [event("b", ts="2026-11-05T10:00:00Z"), event("c", ts="2026-11-05T11:00:00Z")], age_seconds=10)
    [changed] = land(warehouse, landing)
    assert changed.partitions == (dt.date(2026, 11, 5),)
    assert changed.replaced_partitions == (dt.date(2026, 11, 2),)
    with warehouse.connect() as con:
        versions = con.execute("SELECT status, lines FROM raw.files ORDER BY file_id").fetchall()
        ids = [r[0] for r in con.execute("SELECT event_id FROM raw.landed_lines ORDER BY event_id").fetchall()]
    assert versions == [("superseded", 1), ("current", 2)]
    assert ids == ["b", "c"]


def test_unsettled_tmp_hidden_and_escaping_files_are_not_taken(warehouse, landing, tmp_path):
    events = landing.events_dir()
    write_lines(events / "fresh.jsonl", [event("f")], age_seconds=0)
    write_lines(events / "writing.jsonl.tmp", [event("t")])
    write_lines(events / ".hidden.jsonl", [event("h")])
    outside = write_lines(tmp_path / "outside.jsonl", [event("o")])
    (events / "link.jsonl").symlink_to(outside)
    assert [f.rel for f in list_landing_files(events)] == ["fresh.jsonl"]
    with warehouse.connect() as con:
        assert land_new_files(con, events, "r", min_ts=MIN_TS, settle_seconds=30) == []
        assert [f.rel for f in land_new_files(con, events, "r", min_ts=MIN_TS, settle_seconds=0)] == ["fresh.jsonl"]


def test_scan_file_days_agrees_with_the_parse(warehouse, landing):
    lines = [
        event("a", ts="2026-11-02T23:30:00-01:00"),
        event("b", ts=1793613600000),
        "junk",
        event("c", ts="1999-01-01T00:00:00Z"),
        event("d", "nope", ts="2026-11-04T00:00:00Z"),
    ]
    path = write_lines(landing.events_dir() / "s.jsonl", lines)
    days = scan_file_days(
        path, False, min_ts=MIN_TS, max_ts=NOW + dt.timedelta(days=1), fallback_day=dt.date(2026, 11, 20)
    )
    [landed] = land(warehouse, landing)
    assert days == list(landed.partitions) == [dt.date(2026, 11, 2), dt.date(2026, 11, 3), dt.date(2026, 11, 4)]


def test_gzip_files_land_like_plain_ones(warehouse, landing):
    lines = [event(f"g{i}", ts=f"2026-11-02T10:00:{i:02d}Z") for i in range(50)] + ["oops"]
    write_lines(landing.events_dir() / "a.jsonl", lines)
    write_lines(landing.events_dir() / "b.jsonl.gz", lines, gz=True)
    a, b = land(warehouse, landing)
    assert (a.lines, a.accepted, a.quarantined) == (b.lines, b.accepted, b.quarantined) == (51, 50, 1)


@pytest.mark.parametrize("field", [f.name for f in contracts.FIELDS if f.required_for == contracts.ALL])
def test_fields_required_for_all_types_are_enforced(warehouse, landing, field):
    line = {k: v for k, v in event("x").items() if k != field}
    write_lines(landing.events_dir() / "r.jsonl", [line])
    land(warehouse, landing)
    [(_, reason, detail, _, _)] = landed_lines(warehouse, "r.jsonl")
    assert reason == "missing_required_field" and detail == field


# ---- one long line (issue #16, item 12)

CAP = 64 << 10  # a small configured cap; the long lines below are far longer


def test_a_line_over_the_cap_is_quarantined_with_its_first_bytes_and_reading_goes_on(warehouse, landing):
    long_line = '{"event_id": "huge", "text": "' + "é" * (3 * CAP) + '"}'  # cut inside a 2-byte character
    write_lines(landing.events_dir() / "long.jsonl", [event("before"), long_line, event("after"), "x" * (CAP + 1)])
    with warehouse.connect() as con:
        [landed] = land_new_files(
            con, landing.events_dir(), "run-test", min_ts=MIN_TS, settle_seconds=0, max_line_bytes=CAP
        )
        kept = con.execute(
            "SELECT source_line, reason, detail, strlen(raw_line) FROM raw.landed_lines "
            "WHERE reason IS NOT NULL ORDER BY source_line"
        ).fetchall()
    assert (landed.lines, landed.accepted, landed.quarantined) == (4, 2, 2)
    assert [(r[0], r[1]) for r in kept] == [(2, "line_too_long"), (4, "line_too_long")]
    assert f"longer than {CAP} bytes" in kept[0][2]
    assert KEPT_PREFIX_BYTES - 4 <= kept[0][3] <= KEPT_PREFIX_BYTES  # the prefix, never the line
    assert [r[4] for r in landed_lines(warehouse, "long.jsonl") if r[1] is None] == ["before", "after"]


@pytest.mark.parametrize("split_across_chunks", [False, True])
def test_read_lines_holds_at_most_the_cap_of_a_long_line(tmp_path, monkeypatch, split_across_chunks):
    """A gzip of ~130 KB that inflates to one 128 MiB line between two events (a scaled-down bomb): the
    line comes out flagged with a 4 KiB prefix, and Python never holds more than a few read chunks
    (16 MiB each) and the cap, where holding the line took over 128 MiB."""
    import tracemalloc

    from data_platform.ingestion import landing as landing_module

    chunk = landing_module.READ_CHUNK_BYTES
    if split_across_chunks:  # small inflated chunks: the long line spans thousands of them
        monkeypatch.setattr(landing_module, "READ_CHUNK_BYTES", 64 << 10)
    path = tmp_path / "bomb.jsonl.gz"
    with gzip.open(path, "wb", compresslevel=9) as fh:
        fh.write(json.dumps(event("first")).encode() + b"\n")
        for _ in range(128):
            fh.write(b"a" * (1 << 20))
        fh.write(b"\n" + json.dumps(event("last")).encode() + b"\n")
    assert path.stat().st_size < 300_000
    tracemalloc.start()
    try:
        rows = [
            r
            for b in read_lines(path, compressed=True, max_line_bytes=CAP)
            for r in zip(*(c.to_pylist() for c in b.columns))
        ]
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert [(r[0], r[3]) for r in rows] == [(1, False), (2, True), (3, False)]
    assert rows[1][1] == "a" * KEPT_PREFIX_BYTES and json.loads(rows[2][1])["event_id"] == "last"
    assert peak < 4 * chunk + 8 * CAP  # the 128 MiB line was never held


def test_a_file_that_keeps_failing_is_set_aside_and_the_others_land(warehouse, landing, monkeypatch):
    import duckdb

    from data_platform.ingestion import landing as landing_module
    from data_platform.resources import transaction

    write_lines(landing.events_dir() / "good.jsonl", [event("g1")])
    bad = write_lines(landing.events_dir() / "poison.jsonl", [event("p1")])
    real = landing_module._land_files

    def failing(run, group, *args, **kwargs):
        if any(c.lf.rel == "poison.jsonl" for c in group):
            with transaction(run.con):
                run.con.execute("CREATE TEMP TABLE half_done AS SELECT 1")  # work the failure must roll back
                raise duckdb.OutOfMemoryException("Out of Memory Error: failed to allocate (simulated)")
        return real(run, group, *args, **kwargs)

    monkeypatch.setattr(landing_module, "_land_files", failing)
    outcomes = []
    for attempt in range(4):
        refused: list[tuple[str, str]] = []
        with warehouse.connect() as con:
            if attempt < 3:  # the run fails and says why, after landing the other files
                with pytest.raises(duckdb.OutOfMemoryException) as raised:
                    land_new_files(
                        con,
                        landing.events_dir(),
                        "run-test",
                        min_ts=MIN_TS,
                        settle_seconds=0,
                        refused=refused,
                        max_file_attempts=3,
                    )
                assert "poison.jsonl" in "".join(raised.value.__notes__)
            else:  # set aside: the run goes through
                assert (
                    land_new_files(
                        con,
                        landing.events_dir(),
                        "run-test",
                        min_ts=MIN_TS,
                        settle_seconds=0,
                        refused=refused,
                        max_file_attempts=3,
                    )
                    == []
                )
            files = [r[0] for r in con.execute("SELECT source_file FROM raw.files").fetchall()]
        outcomes.append((files, dict(refused)["poison.jsonl"]))
    assert [o[0] for o in outcomes] == [["good.jsonl"]] * 4  # the poisoned file never stops the good one
    whys = [o[1] for o in outcomes]
    assert [w.split(":")[0] for w in whys[:3]] == [f"landing failed (attempt {i} of 3)" for i in (1, 2, 3)]
    assert "OutOfMemoryException" in whys[0]
    assert whys[3].startswith("set aside after 3 failed landings") and "Out of Memory" in whys[3]
    # new bytes under the name are tried again (and land once the cause is gone)
    monkeypatch.setattr(landing_module, "_land_files", real)
    write_lines(bad, [event("p1"), event("p2")])
    assert [f.rel for f in land(warehouse, landing)] == ["poison.jsonl"]


# ---- files landing in groups: one parse statement and one transaction for several new files


def test_files_landing_together_keep_their_own_lines_numbers_and_days(warehouse, landing):
    """Three new files parsed in one statement: each line keeps its own file and line number, each file its own
    counts, and a line without a usable ts goes to the earliest day of *its* file, not of the group."""
    events = landing.events_dir()
    write_lines(events / "a.jsonl", [event("a1", ts="2026-11-04T10:00:00Z"), "not json"])
    write_lines(events / "b.jsonl", [event("b1", ts="2026-11-02T10:00:00Z"), event("b2", ts="2026-11-03T10:00:00Z")])
    write_lines(events / "c.jsonl.gz", ["{", event("c1", ts="2026-11-03T10:00:00Z")], gz=True)
    landed = land(warehouse, landing)
    assert [(f.file_id, f.rel, f.lines, f.accepted, f.quarantined) for f in landed] == [
        (1, "a.jsonl", 2, 1, 1),
        (2, "b.jsonl", 2, 2, 0),
        (3, "c.jsonl.gz", 2, 1, 1),
    ]
    assert [f.partitions for f in landed] == [
        (dt.date(2026, 11, 4),),
        (dt.date(2026, 11, 2), dt.date(2026, 11, 3)),
        (dt.date(2026, 11, 3),),
    ]
    assert [(r[0], r[1], r[3]) for r in landed_lines(warehouse, "a.jsonl")] == [
        (1, None, dt.date(2026, 11, 4)),
        (2, "not_json", dt.date(2026, 11, 4)),
    ]
    assert [(r[0], r[4]) for r in landed_lines(warehouse, "b.jsonl")] == [(1, "b1"), (2, "b2")]
    assert [(r[0], r[1], r[3]) for r in landed_lines(warehouse, "c.jsonl.gz")] == [
        (1, "not_json", dt.date(2026, 11, 3)),
        (2, None, dt.date(2026, 11, 3)),
    ]
    with warehouse.connect() as con:
        shas = dict(con.execute("SELECT source_file, file_sha256 FROM raw.files").fetchall())
    assert shas["b.jsonl"] == hashlib.sha256((events / "b.jsonl").read_bytes()).hexdigest()


def test_a_failing_file_in_a_group_is_recorded_and_the_others_land(warehouse, landing, monkeypatch):
    """Reading one file of a group breaks off half-way: the group is rolled back, its other files land (once
    each, with the file ids they would have had), the bad one is recorded in raw.file_failures and the run
    fails naming it."""
    import duckdb

    from data_platform.ingestion import landing as landing_module

    events = landing.events_dir()
    write_lines(events / "a.jsonl", [event("a1"), event("a2")])
    write_lines(events / "b-bad.jsonl", [event("b1")])
    write_lines(events / "c.jsonl", [event("c1")])
    original = landing_module.read_lines

    def breaking(path, compressed, counter=None, **kwargs):
        for batch in original(path, compressed, counter, **kwargs):
            yield batch
            if path.name == "b-bad.jsonl":
                raise OSError("the disk went away under b-bad.jsonl (simulated)")

    monkeypatch.setattr(landing_module, "read_lines", breaking)
    refused: list[tuple[str, str]] = []
    with warehouse.connect() as con:
        with pytest.raises(duckdb.Error) as raised:
            land_new_files(con, events, "run-test", min_ts=MIN_TS, settle_seconds=0, refused=refused)
        files = con.execute("SELECT file_id, source_file, lines FROM raw.files ORDER BY file_id").fetchall()
        lines = con.execute("SELECT file_id, source_line, event_id FROM raw.landed_lines ORDER BY ALL").fetchall()
        failures = con.execute("SELECT source_file, error FROM raw.file_failures").fetchall()
    assert "b-bad.jsonl" in "".join(raised.value.__notes__)
    assert files == [(1, "a.jsonl", 2), (2, "c.jsonl", 1)]
    assert lines == [(1, 1, "a1"), (1, 2, "a2"), (2, 1, "c1")]
    assert [f[0] for f in failures] == ["b-bad.jsonl"] and "disk went away" in failures[0][1]
    assert dict(refused)["b-bad.jsonl"].startswith("landing failed (attempt 1 of 3)")
    monkeypatch.setattr(landing_module, "read_lines", original)  # the cause is gone: it lands next run
    assert [f.rel for f in land(warehouse, landing)] == ["b-bad.jsonl"]


def test_a_new_version_among_new_files_supersedes_its_old_one(warehouse, landing):
    """A run that sees new bytes under a landed name beside new files: the new version replaces the old one
    (superseded, its lines gone from the parse store) and the new files land, in listing order."""
    events = landing.events_dir()
    path = write_lines(events / "b.jsonl", [event("old", ts="2026-11-02T10:00:00Z")])
    assert [f.rel for f in land(warehouse, landing)] == ["b.jsonl"]
    write_lines(events / "a.jsonl", [event("a1", ts="2026-11-03T10:00:00Z")])
    write_lines(path, [event("new1", ts="2026-11-04T10:00:00Z"), event("new2", ts="2026-11-04T11:00:00Z")])
    write_lines(events / "c.jsonl", [event("c1", ts="2026-11-03T10:00:00Z")])
    landed = land(warehouse, landing)
    assert [(f.file_id, f.rel, f.partitions, f.replaced_partitions) for f in landed] == [
        (2, "a.jsonl", (dt.date(2026, 11, 3),), ()),
        (3, "b.jsonl", (dt.date(2026, 11, 4),), (dt.date(2026, 11, 2),)),
        (4, "c.jsonl", (dt.date(2026, 11, 3),), ()),
    ]
    with warehouse.connect() as con:
        versions = con.execute(
            "SELECT file_id, source_file, status, superseded_by FROM raw.files ORDER BY file_id"
        ).fetchall()
        ids = [r[0] for r in con.execute("SELECT event_id FROM raw.landed_lines ORDER BY event_id").fetchall()]
    new_sha = hashlib.sha256(path.read_bytes()).hexdigest()
    assert versions == [
        (1, "b.jsonl", "superseded", new_sha),
        (2, "a.jsonl", "current", None),
        (3, "b.jsonl", "current", None),
        (4, "c.jsonl", "current", None),
    ]
    assert ids == ["a1", "c1", "new1", "new2"]


def test_groups_are_cut_by_their_byte_budget(warehouse, landing, monkeypatch):
    """With a budget below one file's size every file lands in a group of its own (three parse statements
    instead of one), with the same result."""
    from data_platform.ingestion import landing as landing_module

    monkeypatch.setattr(landing_module, "GROUP_BYTES", 10)
    groups: list[list[str]] = []
    real = landing_module._land_files

    def recording(run, group, *args, **kwargs):
        groups.append([c.lf.rel for c in group])
        return real(run, group, *args, **kwargs)

    monkeypatch.setattr(landing_module, "_land_files", recording)
    events = landing.events_dir()
    for name in ("a", "b", "c"):
        write_lines(events / f"{name}.jsonl", [event(f"{name}1"), "{"])
    landed = land(warehouse, landing)
    assert groups == [["a.jsonl"], ["b.jsonl"], ["c.jsonl"]]
    assert [(f.file_id, f.rel, f.accepted, f.quarantined) for f in landed] == [
        (1, "a.jsonl", 1, 1),
        (2, "b.jsonl", 1, 1),
        (3, "c.jsonl", 1, 1),
    ]


# Lines at the edges of the typed fast path: each must come out of it exactly as the full classifier says.
FAST_PATH_EDGES = [
    event("big", "impression", position=9007199254740993),  # above 2**53: kept exact
    event("huge", "impression", position=18446744073709551615),  # beyond BIGINT
    event("neg0", "impression", position=-0),
    event("int_price", "purchase", price=5),
    event("nulls", "click", country=None, session_id=None),
    event("empty_opt", "click", country=""),
    event("no_cur", "purchase", currency=""),
    event("null_extra", "click", note=None),
    event("case", "Click"),
    event("digits_ts", ts="1793613600000"),
    event("long_ms", ts=17936136000000000),
    event("neg_ms", ts=-1),
    event("float_ms", ts=1.7936136e12),
    event("lower_z", ts="2026-11-02 10:00:00z"),
    event("esc", text='caf\u00e9 "quoted" \\ back', anon_id="a\u0000b"),
    event("tiny", "impression", predicted_ctr=1e-320),
    event("obj", "impression", category={"a": 1}),
    event("arr", anon_id=["x"]),
    event("bool", "review", rating=True),
    # a string field given text that reads as another JSON value, or that value itself (typed as VARCHAR, a
    # number or NaN comes out as the same text as the string would)
    event("num_text", session_id="123", country="1e5", app_version="3.1"),
    event("num_value", session_id=123, app_version=3.1),
    event("nan_value", country=float("nan")),
    event("inf_value", device=float("-inf")),
    event("word_text", device="Infinity", country="NaN", session_id="true"),
    event("lit_value", session_id=True),
    # a number field given its number as a string, or a non-finite one
    event("str_position", "impression", position="3"),
    event("str_price", "purchase", price="5"),
    event("inf_price", "purchase", price=float("inf")),
    {},
    '{"\\u0065vent_id":"k1","event_type":"login","ts":"2026-11-02T10:00:00Z","anon_id":"a","user_id":"u"}',
    '{"event_id":"k2","event_type":"login","ts":"\\u0032026-11-02T10:00:00Z","anon_id":"a","user_id":"u"}',
    '  {"event_id":"k3","event_type":"login","ts":"2026-11-02T10:00:00Z","anon_id":"a","user_id":"u"}',
    '{"event_id":"k4","event_type":"login","ts":"2026-11-02T10:00:00Z","anon_id":"a","user_id":"u","x":1,"x":2}',
    '{"event_id":"k5","event_type":"login","ts":"2026-11-02T10:00:00Z","anon_id":"a","user_id":"u","user_id":"v"}',
    '{"event_id":"k6","event_type":"login","ts":"2026-11-02T10:00:00Z","anon_id":"a","user_id":"u"} ',
    # the fast path counts the members and their JSON types (json_type(line, '$.*')): a null member is read as
    # absent, so a null beside a duplicate, an unknown key or a wrong type must not balance the counts
    '{"event_id":"k7","event_type":"login","ts":"2026-11-02T10:00:00Z","anon_id":"a","user_id":"u","country":null,'
    '"country":"US"}',
    '{"event_id":"k8","event_type":"login","ts":"2026-11-02T10:00:00Z","anon_id":"a","user_id":"u","country":"US",'
    '"country":null}',
    '{"event_id":"k9","event_type":"login","ts":"2026-11-02T10:00:00Z","anon_id":"a","user_id":"u","user_id":null}',
    event("null_num", "click", country=None, session_id=123),
    event("null_unknown", "click", country=None, note="x"),
    event("swap", "impression", position="3", session_id=3),
    event("num_str_int_ts", session_id=5, ts=1793613600000),
    event("null_ts", ts=None),
    event("bool_ts", ts=True),
    event("obj_ts", ts={"ms": 1793613600000}),
    event("null_type", event_type=None),
    event("float_position", "impression", position=3.0),
    '{"event_id":"k10","event_type":"impression","ts":"2026-11-02T10:00:00Z","anon_id":"a","impression_id":"i",'
    '"item_id":"t","category":"c","position":1e2,"price":9.5,"currency":"EUR","predicted_ctr":0.1,"model_version":"m"}',
    event("bool_price", "purchase", price=True),
    event("arr_price", "purchase", price=[5]),
]


def parse_with(tmp_path, lines, paths, name):
    """raw.landed_lines of ``lines`` parsed by ``paths`` of parse_lines.sql ("both", "full" or "fast")."""
    import duckdb
    import pyarrow as pa

    from data_platform.ingestion.landing import GROUP_LINE_SCHEMA, contract_sql_fragments, ensure_tables
    from data_platform.resources import run_sql

    path = write_lines(tmp_path / f"{name}.jsonl", lines)
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    ensure_tables(con)
    batches = (
        pa.record_batch([pa.array([1] * b.num_rows, pa.int64()), *b.columns], schema=GROUP_LINE_SCHEMA)
        for b in read_lines(path, False)
    )
    con.register("landing_lines", pa.RecordBatchReader.from_batches(GROUP_LINE_SCHEMA, batches))
    params = {"run_id": "r", "ingested_at": NOW, "min_ts": MIN_TS, "max_ts": NOW + dt.timedelta(days=1)}
    run_sql(
        con, "ingestion/parse_lines.sql", {**params, "max_line_bytes": MAX_LINE_BYTES}, **contract_sql_fragments(paths)
    )
    cur = con.execute("SELECT * FROM raw.landed_lines ORDER BY source_line")
    names = [d[0] for d in cur.description]
    return [dict(zip(names, row)) for row in cur.fetchall()]


def test_the_fast_path_lands_every_line_as_the_full_classifier_does(tmp_path):
    lines = [c[0] for c in CASES] + FAST_PATH_EDGES
    both, full = parse_with(tmp_path, lines, "both", "both"), parse_with(tmp_path, lines, "full", "full")
    assert both == full  # reasons, details, typed values, days, provenance: row for row
    fast = parse_with(tmp_path, lines, "fast", "fast")
    taken = {r["source_line"] for r in fast if r["reason"] is None}
    assert taken <= {
        r["source_line"] for r in full if r["reason"] is None
    }  # never accepts what the classifier quarantines
    # it takes the plain valid lines (here: those with no extra fields, a known key once, no leading blank)
    assert {r["event_id"] for r in fast if r["reason"] is None} >= {
        "ok0",
        "ok1",
        "ok2",
        "ok3",
        "big",
        "int_price",
        "nulls",
    }
    assert next(r for r in both if r["event_id"] == "big")["position"] == 9007199254740993  # beyond 2**53: exact


def test_the_fast_path_takes_every_valid_generated_line(tmp_path):
    from data_platform.generator import generate_logs

    manifest = generate_logs(tmp_path / "gen", dt.date(2026, 11, 1), 1, 3000, seed=3)
    lines = [
        raw
        for f in sorted((tmp_path / "gen" / "events").rglob("*.jsonl*"))
        for raw in (gzip.decompress(f.read_bytes()) if f.name.endswith(".gz") else f.read_bytes()).split(b"\n")[:-1]
    ]
    both, full = parse_with(tmp_path, lines, "both", "both"), parse_with(tmp_path, lines, "full", "full")
    assert both == full
    fast = parse_with(tmp_path, lines, "fast", "fast")
    assert sum(r["reason"] is None for r in fast) == sum(r["reason"] is None for r in full) == manifest["valid_lines"]


def test_the_line_stream_is_cut_into_batches_of_one_size_in_order_and_read_only_as_needed():
    import pyarrow as pa

    pulled = []

    def source():
        start = 0
        for size in (5, 3, 0, 9, 2):
            pulled.append(size)
            yield pa.record_batch([pa.array(range(start, start + size), pa.int64())], names=["n"])
            start += size

    stream = landing_module._even_batches(source(), 4)
    first = next(stream)
    assert first.column(0).to_pylist() == [0, 1, 2, 3]
    assert pulled == [5]  # the next file is not opened before its lines are needed
    rest = list(stream)
    assert [b.num_rows for b in [first, *rest]] == [4, 4, 4, 4, 3]
    assert [n for b in [first, *rest] for n in b.column(0).to_pylist()] == list(range(19))


def test_the_parse_is_an_ordered_insert_with_no_join():
    """A join in parse_lines.sql's plan (an IN list of five or more values becomes one) makes the insert a
    parallel one again, each thread leaving a partial row group for the connection's close to rewrite."""
    import duckdb
    import pyarrow as pa

    from data_platform.ingestion.landing import GROUP_LINE_SCHEMA, contract_sql_fragments, ensure_tables
    from data_platform.resources import load_sql

    con = duckdb.connect()
    con.execute("SET threads = 2")
    ensure_tables(con)
    con.register("landing_lines", pa.RecordBatchReader.from_batches(GROUP_LINE_SCHEMA, iter([])))
    params = {"run_id": "r", "ingested_at": NOW, "min_ts": MIN_TS, "max_ts": NOW, "max_line_bytes": MAX_LINE_BYTES}
    plan = con.execute("EXPLAIN " + load_sql("ingestion/parse_lines.sql", **contract_sql_fragments()), params)
    plan = plan.fetchall()[0][1]
    assert "BATCH_INSERT" in plan
    assert "JOIN" not in plan
