"""Proof of erasure: no raw identifier in Dagster's storage in the first place (previews and samples masked at
the root), ``privacy verify`` finding every copy by keyed tokens, the certificate, and the job's blocking
verification."""

from __future__ import annotations

import gzip
import json
import re
import shutil
from pathlib import Path

import dagster as dg
import duckdb
import pytest

from data_platform.base.identifiers import mask_records
from data_platform.base.pseudonyms import key_id, pseudonym_key, pseudonymise
from data_platform.catalog import PERSON_TABLES
from data_platform.definitions import process_privacy_requests
from data_platform.metadata import markdown_table
from data_platform.privacy.certificate import verify_and_certify
from data_platform.privacy.requests import process_requests
from data_platform.privacy.verify import SearchRoots, VerificationError, verify_erasure
from data_platform.resources import PROJECT_ROOT, Warehouse
from data_platform_tests.conftest import event, generated_world, project_jobs, query, write_lines
from data_platform_tests.processes import BIN, platform_env, run_cli
from data_platform_tests.test_cleaning import CHROME, run_pipeline, ts

ANN = {
    "user_id": "u4711",
    "anon_id": "ann-phone",
    "anon_id_2": "ann-laptop",
    "ip": "10.1.1.1",
    "email": "ann.lee@example.org",
    "phone": "+44 20 7946 0958",
}


def test_previews_and_samples_mask_every_identifier_and_keep_the_rest():
    line = json.dumps(
        {
            "event_id": "e-1",
            "anon_id": "3f2a0c1e-aaaa-bbbb-cccc-1234567890ab",
            "user_id": "u1000113",
            "ip": "10.1.2.3",
            "text": 'mail ann.lee@example.org or "call" +44 20 7946 0958',
            "ts": "2026-11-02T10:00:00.000Z",
        }
    )
    records = [
        {"anon_id": "dev-a", "event_id": "e-1", "ts": "2026-11-02 10:00:00+00:00", "raw_line": line},
        {"anon_id": "dev-b", "event_id": "e-2", "ts": None, "raw_line": line[:75]},  # cut inside the text
        {"anon_id": "dev-a", "event_id": "e-3", "ts": "x", "raw_line": '{"user_id":1000113,"anon_id":"abc'},
        {"anon_id": None, "event_id": pseudonymise("dev-a", "k" * 16), "ts": "fe80:0:0:0:1", "raw_line": "ok"},
    ]
    masked = mask_records(records)
    shown = markdown_table(records)
    for secret in ("dev-a", "dev-b", "3f2a0c1e", "u1000113", "1000113", "10.1.2.3", "ann.lee", "7946", "abc"):
        assert secret not in json.dumps(masked) and secret not in shown, secret
    assert "p_" not in shown and "fe80" not in shown
    # the same device is the same number within one preview; what names no one stays
    devices = [m["anon_id"] for m in masked]
    assert devices[0] == devices[2] != devices[1] and devices[3] is None and devices[0].startswith("<anon_id ")
    device_in_line = re.search(r'"anon_id": "(<anon_id \d+>)"', masked[0]["raw_line"]).group(1)
    assert f'"anon_id": "{device_in_line}"' in masked[1]["raw_line"] and device_in_line not in devices
    assert [m["event_id"] for m in masked[:3]] == ["e-1", "e-2", "e-3"]
    assert (
        masked[0]["ts"] == "2026-11-02 10:00:00+00:00" and '"ts": "2026-11-02T10:00:00.000Z"' in masked[0]["raw_line"]
    )


def _scan_for_raw(folder: Path, values: set[str]) -> dict[str, list[str]]:
    """Which of ``values`` occur in the bytes of which file under ``folder`` (an independent byte search:
    UUID, ``u<digits>`` and IPv4 shapes cut out and intersected; other values searched as they are)."""
    shapes = re.compile(rb"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}|u\d+|\d{1,3}(?:\.\d{1,3}){3}")
    shaped = {v for v in values if shapes.fullmatch(v.encode())}
    others = [v.encode() for v in values - shaped]
    hits: dict[str, list[str]] = {}
    for path in (p for p in folder.rglob("*") if p.is_file()):
        data = path.read_bytes()
        found = {m.decode() for m in shapes.findall(data)} & shaped
        found |= {v.decode() for v in others if v in data}
        if found:
            hits[str(path.relative_to(folder))] = sorted(found)[:5]
    return hits


def test_a_demo_day_leaves_no_identifier_in_dagster_storage(tmp_path, monkeypatch):
    """A generated day through the daily pipeline's real assets and checks, on a real instance: no raw id,
    address, e-mail or phone of the input, and no pseudonym of one, anywhere under DAGSTER_HOME."""
    landing, warehouse, _ = generated_world(tmp_path, days=1, events_per_day=1500, seed=3)
    review = event("x-review", "review", ts=ts(5), anon_id="dev-x", user_agent=CHROME, ip="10.7.7.7", rating=5,
                   item_id="item-1", text=f"great, write to {ANN['email']} or call {ANN['phone']}")  # fmt: skip
    broken = json.dumps({**review, "event_id": "x-broken", "ts": "yesterday", "user_id": "u4711"})
    write_lines(landing.events_dir() / "2026-11-02" / "extra.jsonl", [review, broken, broken[:-30]])
    home = tmp_path / "home"
    home.mkdir()
    shutil.copy(PROJECT_ROOT / "dagster_home" / "dagster.yaml", home / "dagster.yaml")
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    defs, _ = project_jobs(tmp_path, monkeypatch, landing, warehouse)
    with dg.DagsterInstance.get() as instance:
        result = defs.resolve_job_def("daily_pipeline").execute_in_process(
            partition_key="2026-11-02", instance=instance, raise_on_error=False
        )
    assert result.success
    ids = {ANN["email"], ANN["phone"], "u4711", "dev-x", "10.7.7.7"} | {
        v
        for (v,) in query(
            warehouse,
            "SELECT DISTINCT unnest([anon_id, user_id, ip]) FROM raw.events UNION "
            "SELECT DISTINCT unnest(regexp_extract_all(text, '[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+')) FROM raw.events",
        )
        if v
    }
    quarantined = query(warehouse, "SELECT raw_line FROM raw.quarantine WHERE raw_line LIKE '%anon_id%'")
    assert len(ids) > 200 and len(quarantined) >= 2  # the preconditions of the claim
    assert (home / "history").is_dir()  # the event log of the run is there to be searched
    assert _scan_for_raw(home, ids) == {}
    key = pseudonym_key()
    pseudonyms = {pseudonymise(v, key) for v in ids}
    stored = {
        m.decode() for p in home.rglob("*") if p.is_file() for m in re.findall(rb"p_[0-9a-f]{24}", p.read_bytes())
    }
    assert not stored & pseudonyms


def _ann_world(warehouse, landing):
    lines = [
        event("a-login", "login", ts=ts(1), anon_id="ann-phone", user_id="u4711", ip="10.1.1.1", user_agent=CHROME),
        event("a-laptop", "login", ts=ts(2), anon_id="ann-laptop", user_id="u4711", user_agent=CHROME),
        event("a-mail", "review", ts=ts(3), anon_id="ann-laptop", user_agent=CHROME,
              text=f"write to {ANN['email']} or call {ANN['phone']}"),
        event("b-login", "login", ts=ts(4), anon_id="bob-phone", user_id="bob", ip="10.9.9.9", user_agent=CHROME),
    ]  # fmt: skip
    write_lines(landing.events_dir() / "a.jsonl", lines[:3])
    write_lines(landing.events_dir() / "bob.jsonl", lines[3:])
    run_pipeline(warehouse, landing)
    landing.privacy_dir().mkdir()
    write_lines(
        landing.privacy_dir() / "r1.jsonl",
        [{"request_id": "req-1", "user_id": "u4711", "kind": "erase", "ts": "2026-11-20T10:00:00Z"}],
    )


def _erase(warehouse, landing):
    with warehouse.connect() as con:
        process_requests(con, landing.privacy_dir(), "run-1", PERSON_TABLES)


def _verify(warehouse, roots, key=None):
    with warehouse.connect() as con:
        return verify_erasure(con, "req-1", roots, key=key)


def test_verify_finds_every_copy_by_kind_and_place_and_nothing_once_they_are_gone(warehouse, landing, tmp_path):
    _ann_world(warehouse, landing)
    _erase(warehouse, landing)
    data = tmp_path / "data"
    (data / "reports").mkdir(parents=True)
    (data / "exports" / "v1").mkdir(parents=True)
    (data / "reports" / "day.html").write_text(f"<td>{ANN['anon_id']}</td><td>bob-phone</td>")
    with gzip.open(data / "exports" / "old.jsonl.gz", "wt") as f:
        f.write(json.dumps({"ip": ANN["ip"]}) + "\n")
    with duckdb.connect() as con:  # Parquet pages are compressed: only a read through DuckDB sees the e-mail
        con.execute(
            "COPY (SELECT 'ex-' || i AS example_id, CASE WHEN i = 500 THEN $text WHEN i % 2 = 0 THEN 'a' || i "
            "ELSE 'z' || i END AS text, CASE WHEN i = 7 THEN $group END AS group_key, i FROM range(1000) AS r(i)) "
            "TO $path (FORMAT parquet, COMPRESSION zstd)",
            {
                "text": f"mail {ANN['email']}.",
                "group": pseudonymise(f"u:{ANN['user_id']}", pseudonym_key()),  # her person key, as exports have it
                "path": str(data / "exports" / "v1" / "part-0.parquet"),
            },
        )
    assert ANN["email"].encode() not in (data / "exports" / "v1" / "part-0.parquet").read_bytes()
    home = tmp_path / "home"
    home.mkdir()  # a pseudonym of hers left in Dagster's storage is her too
    (data / "reports" / "ann-laptop.html").write_text("<p>a report named after her device</p>")
    (home / "event.log").write_text(f"materialized {pseudonymise(ANN['anon_id_2'], pseudonym_key())} and p_{'0' * 24}")
    with warehouse.connect() as con:  # and a pseudonymised copy in a table nobody declared
        con.execute(
            "CREATE TABLE main.stray AS SELECT $p AS who, 1 AS n", {"p": pseudonymise(ANN["user_id"], pseudonym_key())}
        )
    roots = SearchRoots(None, {"landing": Path(landing.root), "data": data}, home)

    found = {p.location: p.found for p in _verify(warehouse, roots).hits}
    assert found == {
        "landing/events/a.jsonl": {"user_id": 1, "anon_id": 2, "ip": 1, "email": 1, "phone": 1},
        "data/reports/day.html": {"anon_id": 1},
        "data/exports/old.jsonl.gz": {"ip": 1},
        "data/exports/v1/part-0.parquet": {"email": 1, "person_key": 1},
        "data/<a file whose name holds an identifier of the subject>": {"in_file_name": 1},
        "dagster_home/event.log": {"anon_id": 1},
        "main.stray": {"user_id": 1},
    }
    # the copies go (what the other parts of an erasure do): nothing is found, everything is still searched
    (Path(landing.root) / "events" / "a.jsonl").unlink()
    for path in (
        data / "reports" / "day.html",
        data / "reports" / "ann-laptop.html",
        data / "exports" / "old.jsonl.gz",
    ):
        path.unlink()
    (data / "exports" / "v1" / "part-0.parquet").unlink()
    (home / "event.log").unlink()
    with warehouse.connect() as con:
        con.execute("DROP TABLE main.stray")
    result = _verify(warehouse, roots)
    assert result.passed and result.identifiers == {
        "user_id": 1,
        "anon_id": 2,
        "person_key": 3,
        "ip": 1,
        "email": 1,
        "phone": 1,
    }
    kinds = {p.kind for p in result.places}
    assert kinds == {"table", "file"} and {"raw.events", "clean.events", "landing/events/bob.jsonl"} <= {
        p.location for p in result.places
    }
    assert all(p.tokens > 0 for p in result.places if p.location in ("raw.events", "landing/events/bob.jsonl"))


def test_an_id_of_free_shape_is_found_as_a_whole_json_string_and_a_whole_value(warehouse, landing):
    """A user id with spaces is no run of identifier characters: found as a whole JSON string in a file and as a
    whole column value in a table."""
    who = "Ann Lee 7"
    write_lines(landing.events_dir() / "a.jsonl", [event("a-1", "login", ts=ts(1), anon_id="dev-q", user_id=who)])
    run_pipeline(warehouse, landing)
    landing.privacy_dir().mkdir()
    write_lines(
        landing.privacy_dir() / "r1.jsonl", [{"request_id": "req-1", "user_id": who, "kind": "erase", "ts": ts(2)}]
    )
    _erase(warehouse, landing)
    with warehouse.connect() as con:
        con.execute("CREATE TABLE main.stray AS SELECT $who AS who", {"who": who})
    found = {p.location: p.found for p in _verify(warehouse, SearchRoots(None, {}, None)).hits}
    assert found == {"main.stray": {"user_id": 1}}
    (Path(landing.root) / "copy.jsonl").write_text(json.dumps({"who": who}) + "\n")  # a copy someone kept
    found = {
        p.location: p.found for p in _verify(warehouse, SearchRoots(None, {"landing": Path(landing.root)}, None)).hits
    }
    assert found["landing/copy.jsonl"] == {"user_id": 1}


def test_the_database_file_is_searched_by_its_bytes_and_its_tombstones_are_no_hit(warehouse, landing, tmp_path):
    _ann_world(warehouse, landing)
    _erase(warehouse, landing)

    def database_file(path):
        [place] = [p for p in _verify(warehouse, SearchRoots(path, {}, None)).places if p.kind == "database file"]
        return place

    # a DuckDB file holding the tombstone list (her pseudonyms) and nothing else of hers: no hit
    tombstones = tmp_path / "tombstones.duckdb"
    with duckdb.connect(str(tombstones)) as con:
        con.execute(
            "CREATE TABLE t (request_id VARCHAR, kind VARCHAR, pseudonym VARCHAR, key_id VARCHAR, erased_at VARCHAR)"
        )
        con.executemany(
            "INSERT INTO t VALUES (?, ?, ?, ?, ?)", query(warehouse, "SELECT * FROM privacy.erased_identifiers")
        )
    place = database_file(tombstones)
    assert place.found == {} and place.size == tombstones.stat().st_size and place.tokens > 0
    # DuckDB keeps a column's strings back to back: an address and an e-mail run on into their neighbours
    packed = tmp_path / "packed.duckdb"
    packed.write_bytes(b"\x00" * 4096 + f"10.9.9.91{ANN['ip']}7.7.7.7zz{ANN['email']}comx\x00".encode())
    assert database_file(packed).found == {"email": 1, "ip": 1}


def _timestamp_run(n: int, seed: int) -> str:
    """``n`` timestamps with offsets written back to back, as DuckDB's v1.5.0 format stores a text column of them:
    one run of identifier characters (a single token) made of thousands of distinct words and addresses."""
    return "".join(
        f"2026-10-{seed:02d}T{i // 3600 % 24:02d}:{i // 60 % 60:02d}:{i % 60:02d}.{i % 997:03d}-05:00" for i in range(n)
    )


def test_long_tokens_with_thousands_of_parts_are_searched_within_a_small_memory_limit(warehouse, landing, tmp_path):
    """The verification holds a token once, not once per part: a place of long runs with thousands of parts each
    (what made a v1.5.0 database file need more than 1 GB) is searched under a 64 MB DuckDB limit, and the
    subject's identifiers inside such a run, in its middle and at its ends, are still found."""
    _ann_world(warehouse, landing)
    _erase(warehouse, landing)
    runs = [_timestamp_run(3000, day) for day in range(1, 25)]
    middle = len(runs[0]) // 2
    runs[0] = f"{runs[0][:middle]}.{ANN['user_id']}.{runs[0][middle:]}"  # a word inside a 90 KB token
    runs[1] = f"{ANN['email']}:{runs[1]}:{ANN['ip']}"  # an address at each end of another one
    data = tmp_path / "data"
    data.mkdir()
    (data / "ts.log").write_text(" ".join(runs))
    # what the lookup had to hold when it carried each token's text with each of its parts: far over the limit
    words = [set(re.findall(r"[A-Za-z0-9_-]+", run)) for run in runs]
    assert sum(len(w) * len(run) for w, run in zip(words, runs)) > 2_000_000_000
    small = Warehouse(database=warehouse.database, memory_limit="64MB", threads=1)

    with small.connect() as con:
        result = verify_erasure(con, "req-1", SearchRoots(None, {"data": data}, None))
    [place] = [p for p in result.places if p.location == "data/ts.log"]
    assert place.found == {"user_id": 1, "email": 1, "ip": 1}
    assert place.tokens >= len(runs) and {p.location for p in result.hits} == {"data/ts.log"}
    (data / "ts.log").write_text(" ".join(_timestamp_run(3000, day) for day in range(1, 25)))
    with small.connect() as con:
        assert verify_erasure(con, "req-1", SearchRoots(None, {"data": data}, None)).passed


def test_verification_refuses_an_unknown_request_and_another_key(warehouse, landing):
    _ann_world(warehouse, landing)
    _erase(warehouse, landing)
    roots = SearchRoots(None, {}, None)
    with warehouse.connect() as con, pytest.raises(VerificationError, match="no erasure recorded for request 'req-9'"):
        verify_erasure(con, "req-9", roots)
    other = "another-key-of-sixteen-chars"
    with pytest.raises(
        VerificationError, match=f"erased with key {key_id(pseudonym_key())}.*in use is {key_id(other)}"
    ):
        _verify(warehouse, roots, key=other)


def test_the_certificate_says_what_where_and_how_much_and_names_no_one(warehouse, landing, tmp_path):
    _ann_world(warehouse, landing)
    _erase(warehouse, landing)
    folder = tmp_path / "certificates"
    roots = SearchRoots(Path(warehouse.database), {"landing": Path(landing.root)}, None)
    copy = Path(landing.root) / "copy.txt"
    copy.write_text(f"a note about {ANN['user_id']}")  # a copy someone kept
    with warehouse.connect() as con:
        [(first, path)] = verify_and_certify(con, ["req-1"], roots, folder)
        copy.unlink()
        [(second, _)] = verify_and_certify(con, ["req-1"], roots, folder)
    cert = json.loads(path.read_text())
    text = path.with_suffix(".txt").read_text()
    removed = dict(query(warehouse, "SELECT table_name, rows_removed FROM privacy.erasure_audit"))
    assert {t["table"]: t["rows_removed"] for t in cert["tables"]} == removed and removed["raw.events"] == 3
    assert cert["searched_for"] == {"user_id": 1, "anon_id": 2, "person_key": 3, "ip": 1, "email": 1, "phone": 1}
    assert len(cert["places"]) == len(second.places) and {"raw.events", "landing/events/a.jsonl"} <= {
        p["location"] for p in cert["places"]
    }
    # both verifications are kept; the later one no longer finds the copy
    assert [h["passed"] for h in cert["verifications"]] == [False, False]
    assert [len(h["places_with_hits"]) for h in cert["verifications"]] == [len(first.hits), len(first.hits) - 1]
    assert "FOUND in file landing/events/a.jsonl" in text and "raw.events: 3 (0)" in text
    key = pseudonym_key()
    secrets = {v for k, v in ANN.items()} | {pseudonymise(v, key) for v in ANN.values()}
    for content in (path.read_text(), text):
        assert not any(s in content for s in secrets)


def test_the_privacy_job_fails_visibly_when_verification_finds_the_subject(warehouse, landing, tmp_path, monkeypatch):
    """The job's verify_erasures step searches everything after the erasure and fails the run on a hit (here a
    pseudonymised copy of her in a table no stage declares, which no eraser knows), with the places in its
    failure metadata and the certificate written."""
    _ann_world(warehouse, landing)
    with warehouse.connect() as con:
        con.execute("CREATE TABLE main.stray AS SELECT $p AS who", {"p": pseudonymise(ANN["user_id"], pseudonym_key())})
    monkeypatch.setenv("DATA_PLATFORM_CERTIFICATES", str(tmp_path / "certificates"))
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    with dg.DagsterInstance.get() as instance:
        result = process_privacy_requests.execute_in_process(
            resources={"warehouse": warehouse, "landing": landing}, instance=instance, raise_on_error=False
        )
    assert not result.success
    [failure] = [e for e in result.all_events if e.event_type == dg.DagsterEventType.STEP_FAILURE]
    assert failure.step_key == "verify_erasures"
    hits = failure.step_failure_data.user_failure_data.metadata["places_with_hits"].data["req-1"]
    assert "table main.stray: {'user_id': 1}" in hits
    assert not any("bob" in h for h in hits)
    cert = json.loads((tmp_path / "certificates" / "req-1.json").read_text())
    assert cert["passed"] is False and any(p["kind"] == "dagster" for p in cert["places"])
    assert query(warehouse, "SELECT count(*) FROM raw.events WHERE user_id = 'u4711'") == [(0,)]
    # the failure sticks: the next privacy run, with no new request, verifies her again and fails again
    with dg.DagsterInstance.get() as instance:
        again = process_privacy_requests.execute_in_process(
            resources={"warehouse": warehouse, "landing": landing}, instance=instance, raise_on_error=False
        )
    assert not again.success
    verifications = query(
        warehouse, "SELECT request_id, passed, run_id FROM privacy.erasure_verifications ORDER BY verified_at"
    )
    assert verifications == [("req-1", False, result.run_id), ("req-1", False, again.run_id)]


@pytest.mark.slow
def test_the_verify_command_exits_on_hits_and_on_an_unknown_request(tmp_path):
    env = platform_env(tmp_path, home=tmp_path / "home")
    landing_dir = tmp_path / "landing"
    write_lines(
        landing_dir / "events" / "a.jsonl",
        [event("a-login", "login", ts=ts(1), anon_id="ann-phone", user_id="u4711", user_agent=CHROME)],
    )
    write_lines(
        landing_dir / "privacy" / "r1.jsonl",
        [{"request_id": "req-1", "user_id": "u4711", "kind": "erase", "ts": "2026-11-20T10:00:00Z"}],
    )
    run_cli([str(BIN / "data-platform"), "launch", "--job", "ingest_raw_events", "--partition", "2026-11-02"], env)
    run_cli([str(BIN / "data-platform"), "privacy"], env)
    with duckdb.connect(env["DATA_PLATFORM_WAREHOUSE"]) as con:  # a copy of her that no eraser knows
        con.execute("CREATE TABLE main.stray AS SELECT 'u4711' AS who, 'ann-phone' AS device")
    done = run_cli([str(BIN / "data-platform"), "privacy", "verify", "req-1"], env, returncode=1)
    assert "FOUND in table main.stray: 1 anon_id, 1 user_id" in done.stdout
    assert "ann-phone" not in done.stdout
    assert Path(env["DATA_PLATFORM_CERTIFICATES"], "req-1.json").exists()
    unknown = run_cli([str(BIN / "data-platform"), "privacy", "verify", "req-9"], env, returncode=2)
    assert "no erasure recorded for request 'req-9'" in unknown.stderr
