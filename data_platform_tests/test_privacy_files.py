"""Erasure in files: the landing files, the published export versions, the labeling files and the reports,
with real ingestion, cleaning, labeling and publishing, then the real erasure job."""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import time

import dagster as dg
import pytest
import yaml

from data_platform.base.pseudonyms import pseudonym_key, pseudonymise
from data_platform.ingestion.landing import land_new_files
from data_platform.privacy.files import candidate_tokens, rewrite_lines
from data_platform_tests.conftest import event, query, write_lines
from data_platform_tests.test_cleaning import CHROME, run_pipeline, ts
from data_platform_tests.test_landing_sensor import landing_tick  # noqa: F401 (a fixture)
from data_platform_tests.test_privacy_requests import _apply, _request, _world

ERASE_ANN = {"request_id": "req-1", "user_id": "ann", "kind": "erase", "ts": "2026-11-20T10:00:00Z"}


def _sha(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _lines(path) -> list[bytes]:
    data = gzip.decompress(path.read_bytes()) if path.name.endswith(".gz") else path.read_bytes()
    return data.split(b"\n")


def test_rewrite_lines_empties_chosen_lines_and_keeps_the_rest_byte_identical(tmp_path):
    path = tmp_path / "f.jsonl"
    path.write_bytes(b'{"a": 1}\r\nsecret line\n\n{"b": "\xc3\xa9"}\nlast without newline')
    stat = path.stat()
    done = rewrite_lines(path, lambda n, line: b"secret" in line or b"last" in line)
    assert path.read_bytes() == b'{"a": 1}\r\n\n\n{"b": "\xc3\xa9"}\n'
    assert done.lines_removed == 2 and done.sha256_after == _sha(path) and done.size_after == path.stat().st_size
    assert path.stat().st_mtime_ns == stat.st_mtime_ns  # the file keeps its mtime
    assert not [p for p in tmp_path.iterdir() if p.name != "f.jsonl"]  # no temporary file left
    # nothing to drop: the file is not touched at all
    assert rewrite_lines(path, lambda n, line: False) is None and _sha(path) == done.sha256_after
    # a gzip file is rewritten as gzip
    gz = tmp_path / "g.jsonl.gz"
    gz.write_bytes(gzip.compress(b"keep\ndrop\n") + gzip.compress(b"keep too\n"))  # two members
    assert rewrite_lines(gz, lambda n, line: n == 2).lines_removed == 1
    assert gzip.decompress(gz.read_bytes()) == b"keep\n\nkeep too\n"
    # lines removed rather than emptied, where no one refers to a line by its number
    csv_file = tmp_path / "g.csv"
    csv_file.write_bytes(b"h\nx\ny\n")
    assert rewrite_lines(csv_file, lambda n, line: line == b"x", keep_numbers=False).lines_removed == 1
    assert csv_file.read_bytes() == b"h\ny\n"
    csv_file.unlink()
    # a hook that fails before the rename leaves the file as it was
    before = path.read_bytes()

    def refuse(_):
        raise RuntimeError("no")

    with pytest.raises(RuntimeError):
        rewrite_lines(path, lambda n, line: n == 1, before_replace=refuse)
    assert path.read_bytes() == before and len(list(tmp_path.iterdir())) == 2
    # the bytes are not the expected version: nothing is touched
    assert rewrite_lines(path, lambda n, line: n == 1, expect_sha256="0" * 64) is None
    assert path.read_bytes() == before


def test_candidate_tokens_find_identifier_shapes():
    tokens = candidate_tokens(
        '{"anon_id":"4f81e787-aa","text":"mail ann.x@example.com, call +44 20 7946 0958"} 10.0.0.7'
    )
    assert {"4f81e787-aa", "ann.x@example.com", "+44 20 7946 0958", "10.0.0.7", "anon_id"} <= tokens


def _c_file(landing):
    """A gzip landing file with one line of Ann's between Bob's."""
    return write_lines(
        landing.events_dir() / "c.jsonl.gz",
        [
            event("b-c1", "login", ts=ts(20), anon_id="bob-phone", user_id="bob", user_agent=CHROME),
            event("a-c2", "login", ts=ts(21), anon_id="ann-laptop", user_id="ann", user_agent=CHROME),
            event("b-c3", "login", ts=ts(22), anon_id="bob-phone", user_id="bob", user_agent=CHROME),
        ],
        gz=True,
    )


def test_erasure_rewrites_the_landing_files_and_they_are_not_landed_again(warehouse, landing, landing_tick):  # noqa: F811
    _world(landing)
    _c_file(landing)
    run_pipeline(warehouse, landing)
    a, b, c = (landing.events_dir() / n for n in ("a.jsonl", "b.jsonl", "c.jsonl.gz"))
    before = {p.name: (_lines(p), _sha(p)) for p in (a, b, c)}
    instance = dg.DagsterInstance.ephemeral()
    _, cursor = landing_tick(instance)
    _request(landing, "r1.jsonl", ERASE_ANN)
    _apply(warehouse, landing)

    # a.jsonl: Ann's six lines (her devices, her tablet login, her quarantined line) are empty; Bob's two
    # lines are byte-identical and keep their numbers; the file has as many lines as before
    old, new = before["a.jsonl"][0], _lines(a)
    assert len(new) == len(old)
    assert [n for n, line in enumerate(new, 1) if line != old[n - 1]] == [1, 2, 3, 4, 5, 8]
    assert all(new[n - 1] == b"" for n in (1, 2, 3, 4, 5, 8)) and b"ann" not in a.read_bytes()
    assert _lines(c) == [before["c.jsonl.gz"][0][0], b"", before["c.jsonl.gz"][0][2], b""]
    assert _sha(b) == before["b.jsonl"][1]  # Bob only: untouched, not recorded
    recorded = query(
        warehouse,
        "SELECT location, action, sha256_before, sha256_after, lines_removed FROM privacy.erased_files "
        "WHERE request_id = 'req-1' AND location LIKE 'landing/%' ORDER BY 1",
    )
    assert recorded == [
        ("landing/events/a.jsonl", "rewritten", before["a.jsonl"][1], _sha(a), 6),
        ("landing/events/c.jsonl.gz", "rewritten", before["c.jsonl.gz"][1], _sha(c), 1),
    ]
    # raw.files knows the new bytes, and the rows of the remaining lines name them
    files = dict(query(warehouse, "SELECT source_file, file_sha256 FROM raw.files WHERE status = 'current'"))
    assert files == {"a.jsonl": _sha(a), "b.jsonl": _sha(b), "c.jsonl.gz": _sha(c)}
    sizes = dict(query(warehouse, "SELECT source_file, size_bytes FROM raw.files"))
    assert sizes == {p.name: p.stat().st_size for p in (a, b, c)}
    for table in ("raw.events", "clean.events"):  # (b.jsonl's duplicate is not in clean.events)
        named = query(warehouse, f"SELECT DISTINCT source_file, file_sha256 FROM {table}")
        assert ("a.jsonl", _sha(a)) in named and set(named) <= set(files.items()), table

    # the landing sensor does not take the rewritten files as new, landing skips them, the next run
    # changes nothing and still balances
    requests, _ = landing_tick(instance, cursor)
    assert requests == []
    events_before = sorted(query(warehouse, "SELECT event_id, source_file, source_line FROM raw.events"))
    with warehouse.connect() as con:
        assert land_new_files(con, landing.events_dir(), "again", min_ts=_min_ts(), settle_seconds=0) == []
    from data_platform_tests.conftest import checks_by_name

    assert checks_by_name(run_pipeline(warehouse, landing))["raw_rows_accounted"].passed
    assert sorted(query(warehouse, "SELECT event_id, source_file, source_line FROM raw.events")) == events_before
    assert query(warehouse, "SELECT count(*), count(*) FILTER (status = 'current') FROM raw.files") == [(3, 3)]
    # a rerun of the erasure finds nothing more to rewrite
    _request(landing, "r2.jsonl", {**ERASE_ANN, "request_id": "req-2"})
    _apply(warehouse, landing)
    assert query(warehouse, "SELECT count(*) FROM privacy.erased_files WHERE request_id = 'req-2'") == [(0,)]


def _min_ts():
    import datetime as dt

    return dt.datetime(2026, 11, 1, tzinfo=dt.UTC)


def _rows_hash(warehouse, files, without=()) -> str:
    """SHA-256 of the sorted rows of Parquet files (as text), leaving out the rows of the persons ``without``."""
    listed = ", ".join(f"'{f}'" for f in files)
    found = query(
        warehouse, f"SELECT * FROM read_parquet([{listed}]) WHERE group_key NOT IN (SELECT unnest($k))", {"k": without}
    )
    return hashlib.sha256(repr(sorted(map(repr, found))).encode()).hexdigest()


def _export_files(version_dir):
    return [version_dir / f"{s}.parquet" for s in ("train", "dev", "test")]


def test_erasure_reissues_exports_and_cleans_labeling_files_and_reports(warehouse, landing, tmp_path, monkeypatch):
    from data_platform.provenance.trace import trace
    from data_platform.splits.assets import EXPORT_ASSETS, ctr_train_balanced
    from data_platform_tests.test_privacy_requests import labeling_world

    for var, folder in (("EXPORTS", "exports"), ("LABELING", "desk"), ("REPORTS", "reports")):
        monkeypatch.setenv(f"DATA_PLATFORM_{var}", str(tmp_path / folder))
    resources = labeling_world(warehouse, landing, tmp_path / "desk")
    assert dg.materialize([ctr_train_balanced, *EXPORT_ASSETS], resources=resources).success
    versions = dict(query(warehouse, "SELECT dataset, path FROM splits.exports"))
    old = {d: tmp_path / "exports" / d / p.rsplit("/", 1)[1] for d, p in versions.items()}
    ann_keys = [pseudonymise(f"{p}:{i}", pseudonym_key()) for p in "ua" for i in ("ann", "ann-phone", "ann-laptop")]
    for d, path in old.items():  # Ann has an example in both datasets, Bob too
        listed = ", ".join(f"'{f}'" for f in _export_files(path))
        held = query(
            warehouse, f"SELECT group_key IN (SELECT unnest($k)) FROM read_parquet([{listed}])", {"k": ann_keys}
        )
        assert {h[0] for h in held} == {True, False}, d
    others = {d: _rows_hash(warehouse, _export_files(p), ann_keys) for d, p in old.items()}
    batch = next((tmp_path / "desk" / "tasks").glob("batch-*.tasks.json"))
    tasks = json.loads(batch.read_text())
    assert {t["data"]["review_id"] for t in tasks} == {"a-review", "b-review"}
    annotations = landing.annotations_dir() / "export-1.json"
    annotations.parent.mkdir(parents=True)
    annotations.write_text(json.dumps([{**t, "annotations": []} for t in tasks]))
    gold = landing.annotations_dir() / "gold" / "expert.csv"
    gold.parent.mkdir()
    gold.write_text("review_id,label,labeled_by\na-review,positive,expert\nb-review,neutral,expert\n")
    report = tmp_path / "reports" / "2026-11-02.html"
    report.parent.mkdir()
    report.write_text("<table><tr><td>ann-phone</td><td>bob-phone</td></tr>\n<tr><td>ann-phones</td></tr></table>\n")
    with warehouse.connect() as con:
        trace_of_bob = trace(con, "review_examples", "b-review", landing.root)
    assert [(r["source_file"], r["source_line"]) for r in trace_of_bob.raw_lines] == [("c.jsonl", 4)]

    # the click version as published before the datasets layout: its balanced variant under the old name
    (old["ctr_examples"] / "balanced.parquet").rename(old["ctr_examples"] / "train_balanced.parquet")
    (old["ctr_examples"] / "README.md").unlink()

    _request(landing, "r1.jsonl", ERASE_ANN)
    _apply(warehouse, landing)

    # exports: each version is re-issued without Ann; the old files are gone; Bob's rows are unchanged
    new = dict(query(warehouse, "SELECT dataset, path FROM splits.exports ORDER BY 1"))
    assert set(new) == set(old) and not any(p.exists() for p in old.values())
    reissues = query(
        warehouse,
        "SELECT dataset, old_version, new_version, request_id, examples_removed FROM splits.export_reissues ORDER BY 1",
    )
    assert [(d, o, n, r) for d, o, n, r, _ in reissues] == [
        (d, old[d].name, new[d].rsplit("/", 1)[1], "req-1") for d in sorted(old)
    ]
    assert all(r[4] >= 1 for r in reissues)
    for d, path in new.items():
        files = _export_files(tmp_path / "exports" / d / path.rsplit("/", 1)[1])
        assert _rows_hash(warehouse, files) == others[d], d  # everyone else's rows, exactly
        card = (files[0].parent / "card.md").read_text()
        assert "Re-issued after erasure request req-1" in card and "ann" not in card
        assert json.loads((files[0].parent / "card.json").read_text())["version"] == files[0].parent.name
        # the re-issue is in the datasets layout: its README names its own folder and its split sizes
        header = yaml.safe_load((files[0].parent / "README.md").read_text().split("---\n")[1])
        counts = json.loads((files[0].parent / "card.json").read_text())["counts"]
        names = {"train": "train", "dev": "validation", "test": "test"}  # the empty splits are left out
        assert {s["name"]: s["num_examples"] for s in header["dataset_info"][0]["splits"]} == {
            names[k]: n for k, n in counts.items() if n
        }
        assert str(files[0].parent.resolve()) in (files[0].parent / "README.md").read_text()
    ctr = tmp_path / "exports" / "ctr_examples" / new["ctr_examples"].rsplit("/", 1)[1]
    assert (ctr / "balanced.parquet").is_file() and not (ctr / "train_balanced.parquet").exists()
    recorded = query(
        warehouse,
        "SELECT action, count(*) FROM privacy.erased_files WHERE location LIKE 'exports/%' GROUP BY 1 ORDER BY 1",
    )
    assert [a for a, _ in recorded] == ["deleted", "reissued"]

    # labeling files: Ann's task is gone from the batch and from the annotation export; Bob's is as it was
    assert json.loads(batch.read_text()) == [t for t in tasks if t["data"]["review_id"] == "b-review"]
    assert [t["data"]["review_id"] for t in json.loads(annotations.read_text())] == ["b-review"]
    assert gold.read_text() == "review_id,label,labeled_by\nb-review,neutral,expert\n"
    # the report keeps Bob and the rest, Ann's device is masked
    # (a longer word that merely contains her id is someone else's)
    assert report.read_text() == (
        "<table><tr><td><erased></td><td>bob-phone</td></tr>\n<tr><td>ann-phones</td></tr></table>\n"
    )
    locations = {r[0] for r in query(warehouse, "SELECT location FROM privacy.erased_files WHERE request_id = 'req-1'")}
    assert {
        "labeling/tasks/" + batch.name,
        "landing/annotations/export-1.json",
        "landing/annotations/gold/expert.csv",
        "reports/2026-11-02.html",
        "landing/events/c.jsonl",
    } <= locations

    # trace of a remaining row: the same line, still Bob's review
    with warehouse.connect() as con:
        after = trace(con, "review_examples", "b-review", landing.root)
    assert after.raw_lines[0]["source_line"] == 4 and '"event_id": "b-review"' in after.raw_lines[0]["line"]
    assert after.raw_lines[0]["line"] == trace_of_bob.raw_lines[0]["line"]
    assert [s for s in after.steps if s["step"] == "export"] and all(
        s["version"] == new["review_examples"].rsplit("/", 1)[1] for s in after.steps if s["step"] == "export"
    )


def test_a_truncated_gzip_landing_file_is_rewritten_from_what_reads(warehouse, landing):
    """Landing keeps what decompresses of a truncated gzip (and marks where reading stopped); the erasure
    rewrites that readable part without the subject and leaves out the unreadable tail."""
    _world(landing)
    lines = [
        event("b-t1", "login", ts=ts(30), anon_id="bob-phone", user_id="bob", user_agent=CHROME),
        event("a-t2", "login", ts=ts(31), anon_id="ann-laptop", user_id="ann", user_agent=CHROME),
        event("b-t3", "login", ts=ts(32), anon_id="bob-phone", user_id="bob", user_agent=CHROME),
    ]
    path = write_lines(landing.events_dir() / "t.jsonl.gz", lines + [event(f"b-pad-{i}") for i in range(50)], gz=True)
    whole = gzip.decompress(path.read_bytes())
    data = path.read_bytes()
    path.write_bytes(data[: len(data) - 40])  # the tail is lost in transit
    os.utime(path, (time.time() - 3600, time.time() - 3600))
    run_pipeline(warehouse, landing)
    assert query(warehouse, "SELECT count(*) FROM raw.quarantine WHERE reason = 'unreadable_file'") == [(1,)]
    _request(landing, "r1.jsonl", ERASE_ANN)
    _apply(warehouse, landing)
    rewritten = gzip.decompress(path.read_bytes()).split(b"\n")  # reads whole now
    first = whole.split(b"\n")
    assert rewritten[:3] == [first[0], b"", first[2]] and b"ann" not in path.read_bytes()
    assert rewritten[3:-1] == first[3 : len(rewritten) - 1]  # the readable rest, as it was
    assert query(warehouse, "SELECT file_sha256 FROM raw.files WHERE source_file = 't.jsonl.gz'") == [(_sha(path),)]
    with warehouse.connect() as con:
        assert land_new_files(con, landing.events_dir(), "again", min_ts=_min_ts(), settle_seconds=0) == []


def test_a_failing_eraser_does_not_stop_the_others_and_what_was_done_is_recorded(warehouse):
    import datetime as dt

    from data_platform.privacy.files import ErasedFile, erase_files
    from data_platform.privacy.tables import ensure_tables

    def broken(job):
        yield ErasedFile("landing/events/x.jsonl", "rewritten", "a" * 64, "b" * 64, 2)
        raise OSError("disk full")

    def fine(job):
        yield ErasedFile("reports/r.html", "rewritten", "c" * 64, "d" * 64, 1)

    with warehouse.connect() as con:
        ensure_tables(con)
        with pytest.raises(OSError, match="disk full") as raised:
            erase_files(
                con, "req-9", "key", warehouse.database, dt.datetime(2026, 11, 20, tzinfo=dt.UTC), [broken, fine]
            )
        assert "broken: OSError: disk full" in "\n".join(raised.value.__notes__)
        assert sorted(con.execute("SELECT location, lines_removed FROM privacy.erased_files").fetchall()) == [
            ("landing/events/x.jsonl", 2),
            ("reports/r.html", 1),
        ]
        # outside an erasure (nothing staged in the connection) the subject is known by pseudonyms alone
        from data_platform.privacy.files import FileErasure

        alone = FileErasure(con, "req-9", "key", warehouse.database, dt.datetime(2026, 11, 20, tzinfo=dt.UTC))
        assert alone.raw_ids == () and alone.event_ids == frozenset() and alone.person_keys == frozenset()
    with pytest.raises(ValueError, match="action"):
        ErasedFile("x", "shredded", None, None, 0)
