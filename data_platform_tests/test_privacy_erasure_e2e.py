"""Issue #21's test, with real processes: a person leaves no byte behind, anywhere, and cannot come back.

A generated world with the demo's stages run and both datasets published (a copy of the session's small demo
world, conftest's ``small_demo``: a ``data-platform demo`` process, 2 days, seed 11, no signal days);
a user who appears in raw events, in review texts with their e-mail, in labels, task batches and exports is
erased through the privacy landing folder by the daemon's sensor. Then no byte under the data folders or
DAGSTER_HOME holds their user id, devices, the addresses only they used or their e-mail; ``privacy verify``
agrees and the certificate names none of them; one of their old files landed again brings back no row (each
of their lines counted as ``erased_subject``); everyone else's rows and export rows are unchanged."""

from __future__ import annotations

import gzip
import hashlib
import json
import re
from pathlib import Path

import duckdb
import pytest

from data_platform.base.identifiers import PII_PATTERNS
from data_platform.base.pseudonyms import pseudonym_key, pseudonymise
from data_platform_tests.processes import BIN, copy_world, daemon, platform_env, run_cli, runs_of, wait_for_runs

DAY_FILES = re.compile(r"\d{4}-\d{2}-\d{2}/")

# A user whose own devices (no other user logs in on them) wrote a review with an e-mail address in it, and
# whose reviews reached the review labels, a task batch and a published export.
SUBJECT_SQL = """
WITH
owner AS (
    SELECT anon_id, min(user_id) AS user_id FROM raw.events WHERE user_id IS NOT NULL
    GROUP BY anon_id HAVING count(DISTINCT user_id) = 1
),
mine AS (SELECT o.user_id, e.event_id, e.event_type, e.text FROM raw.events AS e JOIN owner AS o USING (anon_id))
SELECT
    user_id,
    count(*) FILTER (WHERE event_type = 'review' AND regexp_matches(text, $email)) AS mailed,
    count(*) FILTER (WHERE event_id IN (SELECT review_id FROM labels.review_examples)) AS labeled,
    count(*) FILTER (WHERE event_id IN (SELECT review_id FROM labels.tasks)) AS tasked,
    count(*) FILTER (WHERE event_id IN (SELECT example_id FROM read_parquet($exported))) AS exported
FROM mine GROUP BY user_id
HAVING mailed > 0 AND labeled > 0 AND tasked > 0 AND exported > 0
ORDER BY mailed + labeled + tasked + exported DESC, user_id
LIMIT 1
"""


def _latest_exports(con) -> dict[str, str]:
    return dict(
        con.execute(
            "SELECT dataset, arg_max(path, created_at) FROM splits.exports GROUP BY dataset ORDER BY dataset"
        ).fetchall()
    )


def _subject(con) -> dict:
    exports = _latest_exports(con)
    row = con.execute(
        SUBJECT_SQL, {"email": PII_PATTERNS["<EMAIL>"], "exported": f"{exports['review_examples']}/*.parquet"}
    ).fetchone()
    assert row, "the generated world has no user in every place the test needs: change its size or seed"
    user = row[0]
    devices = [
        r[0]
        for r in con.execute(
            "SELECT anon_id FROM raw.events GROUP BY anon_id "
            "HAVING bool_and(user_id IS NULL OR user_id = $u) AND bool_or(user_id = $u)",
            {"u": user},
        ).fetchall()
    ]
    mine = "(anon_id IN (SELECT unnest($devices)) OR user_id = $u)"
    params = {"devices": devices, "u": user}
    ips = [
        r[0]
        for r in con.execute(
            f"SELECT ip FROM raw.events WHERE ip IS NOT NULL GROUP BY ip HAVING bool_and({mine})", params
        ).fetchall()
    ]
    emails = [
        r[0]
        for r in con.execute(
            f"SELECT DISTINCT unnest(regexp_extract_all(text, $email)) FROM raw.events WHERE {mine}",
            {**params, "email": PII_PATTERNS["<EMAIL>"]},
        ).fetchall()
    ]
    events = [
        r[0]
        for r in con.execute(
            f"SELECT DISTINCT id FROM (SELECT unnest([event_id, impression_id]) AS id FROM raw.events WHERE {mine}) "
            "WHERE id IS NOT NULL",
            params,
        ).fetchall()
    ]
    files = [
        r[0]
        for r in con.execute(
            f"SELECT source_file FROM raw.events WHERE {mine} GROUP BY source_file ORDER BY count(*) DESC", params
        ).fetchall()
    ]
    days = [r[0] for r in con.execute("SELECT DISTINCT event_date FROM raw.events ORDER BY 1").fetchall()]
    return {
        "user_id": user,
        "anon_ids": devices,
        "ips": ips,
        "emails": emails,
        "events": events,
        "files": files,
        "days": days,
    }


# where a row came from (a landing file rewritten without the person renumbers its lines) and when it was written
# change with an erasure; what the row says must not
POSITION = (
    "source_file",
    "source_line",
    "file_id",
    "ingested_at",
    "run_id",
    "file_sha256",
    "cleaned_at",
    "clean_run_id",
)


def _others_hash(con, relation: str, where: str, params: dict) -> str:
    """sha256 of the sorted rows of ``relation`` not matching ``where``, without their position columns."""
    columns = [c for (c,) in con.execute(f"SELECT column_name FROM (DESCRIBE SELECT * FROM {relation})").fetchall()]
    shown = ", ".join(f'"{c}"' for c in columns if c not in POSITION)
    used = {k: v for k, v in params.items() if f"${k}" in where}
    rows = con.execute(f"SELECT {shown} FROM {relation} WHERE NOT ({where}) ORDER BY ALL", used).fetchall()
    return hashlib.sha256(repr(rows).encode()).hexdigest()


def _fingerprints(con, subject: dict) -> dict[str, str]:
    """Hashes of everyone else's sorted rows: raw and clean events, and each dataset's latest export."""
    key = pseudonym_key()
    params = {
        "devices": subject["anon_ids"],
        "u": subject["user_id"],
        "pdevices": [pseudonymise(d, key) for d in subject["anon_ids"]],
        "pu": pseudonymise(subject["user_id"], key),
        "events": subject["events"],
        "days": subject["days"],
    }
    # the days the demo materialized (a daemon's sensors may go on to later days meanwhile)
    other_day = "event_date NOT IN (SELECT unnest($days))"
    out = {
        "raw.events": _others_hash(
            con,
            "raw.events",
            f"anon_id IN (SELECT unnest($devices)) OR coalesce(user_id = $u, false) OR {other_day}",
            params,
        ),
        "clean.events": _others_hash(
            con,
            "clean.events",
            f"anon_id IN (SELECT unnest($pdevices)) OR coalesce(user_id = $pu, false) OR {other_day}",
            params,
        ),
    }
    for dataset, path in _latest_exports(con).items():
        for part in sorted(Path(path).glob("*.parquet")):  # the parts differ in columns (train_balanced)
            relation = f"read_parquet('{part}')"  # a path the platform wrote, not input
            columns = {
                c for (c,) in con.execute(f"SELECT column_name FROM (DESCRIBE SELECT * FROM {relation})").fetchall()
            }
            keys = [c for c in ("example_id", "parent_id", "neighbour_id") if c in columns]
            where = " OR ".join(f"coalesce({c} IN (SELECT unnest($events)), false)" for c in keys)
            if "is_synthetic" in columns:  # interpolated rows are no one's: their neighbours may change
                where += " OR is_synthetic"
            out[f"export {dataset} {part.name}"] = _others_hash(con, relation, where, params)
    return out


def _texts(path: Path) -> list[bytes]:
    """What a file holds, as bytes to search: gzip decompressed, Parquet's values read through DuckDB."""
    if path.suffix == ".parquet":
        with duckdb.connect() as con:
            rows = con.execute("SELECT * FROM read_parquet($p)", {"p": str(path)}).fetchall()
        return [repr(rows).encode()]
    data = path.read_bytes()
    return [gzip.decompress(data) if path.suffix == ".gz" else data]


def _bytes_holding(roots: list[Path], values: list[str]) -> dict[str, list[str]]:
    """Which of ``values`` occur in which file under ``roots`` (names of the kinds only)."""
    hits: dict[str, list[str]] = {}
    needles = [v.encode() for v in values]
    for root in roots:
        for path in (p for p in root.rglob("*") if p.is_file()):
            found = [v.decode() for v in needles for blob in _texts(path) if v in blob]
            found += [v.decode() for v in needles if v in str(path).encode()]
            if found:
                hits[str(path.relative_to(root.parent))] = sorted(set(found))[:3]
    return hits


@pytest.mark.slow
def test_an_erased_person_leaves_no_byte_behind_and_cannot_come_back(small_demo, tmp_path):
    # the demo's world (its warehouse, landing, exports, labeling desk, reports and DAGSTER_HOME), copied
    data = copy_world(small_demo[0], tmp_path / "data")
    home = data / "home"
    env = platform_env(data, home=home)
    with duckdb.connect(env["DATA_PLATFORM_WAREHOUSE"], read_only=True) as con:
        subject = _subject(con)
        before = _fingerprints(con, subject)
        exported_before = {d: p for d, p in _latest_exports(con).items()}
    # the copy's published versions are its own: the erasure re-issues and deletes nothing of the shared world
    assert exported_before and all(Path(p).is_relative_to(data) for p in exported_before.values())
    identifiers = [subject["user_id"], *subject["anon_ids"], *subject["ips"], *subject["emails"]]
    assert subject["emails"] and subject["ips"] and len(subject["events"]) > 3
    # one of their old files, kept in memory to be delivered again later
    old_name = subject["files"][0]
    old_file = (data / "landing" / "events" / old_name).read_bytes()
    # (DAGSTER_HOME is under data)
    assert _bytes_holding([data], identifiers), "the person is everywhere before the erasure"

    request = {
        "request_id": "erase-e2e-1",
        "user_id": subject["user_id"],
        "kind": "erase",
        "ts": "2026-11-20T10:00:00Z",
    }
    (data / "landing" / "privacy").mkdir(parents=True, exist_ok=True)
    (data / "landing" / "privacy" / "erase-e2e-1.jsonl.tmp").write_text(json.dumps(request) + "\n")
    (data / "landing" / "privacy" / "erase-e2e-1.jsonl.tmp").rename(data / "landing" / "privacy" / "erase-e2e-1.jsonl")
    known = {r.run_id for r in runs_of(str(home))}
    with daemon(env, tmp_path / "daemon.log") as service:
        [run] = wait_for_runs(
            home,
            1,
            timeout=900,
            services=(service,),
            matching=lambda r: r.job_name == "process_privacy_requests" and r.run_id not in known,
        )
    assert run.is_success, f"the erasure run {run.run_id} failed: see {tmp_path / 'daemon.log'}"
    with duckdb.connect(env["DATA_PLATFORM_WAREHOUSE"], read_only=True) as con:
        after = _fingerprints(con, subject)
        exported_after = _latest_exports(con)
    # everyone else: the same rows, and the same export rows in the versions re-issued without the person
    assert after == before
    assert set(exported_after.values()).isdisjoint(exported_before.values())

    # no byte anywhere holds them, and verification (its own process) agrees; the certificate names no one
    assert _bytes_holding([data], identifiers) == {}
    verified = run_cli([str(BIN / "data-platform"), "privacy", "verify", "erase-e2e-1"], env)
    assert "PASSED" in verified.stdout
    certificate = Path(env["DATA_PLATFORM_CERTIFICATES"]) / "erase-e2e-1.json"
    cert = json.loads(certificate.read_text())
    assert cert["passed"] and len(cert["verifications"]) == 2 and cert["tables"]
    assert {p["kind"] for p in cert["places"]} >= {"table", "file", "parquet", "dagster", "database file"}

    # one of their old files delivered again: nothing of them is stored, every line of theirs is counted
    redelivered = data / "landing" / "events" / DAY_FILES.match(old_name).group(0) / ("again-" + Path(old_name).name)
    redelivered.write_bytes(old_file)
    day = DAY_FILES.match(old_name).group(0).strip("/")
    run_cli([str(BIN / "data-platform"), "launch", "--job", "ingest_raw_events", "--partition", day], env, timeout=900)
    with duckdb.connect(env["DATA_PLATFORM_WAREHOUSE"], read_only=True) as con:
        mine = con.execute(
            "SELECT count(*) FROM raw.events WHERE anon_id IN (SELECT unnest($d)) OR user_id = $u",
            {"d": subject["anon_ids"], "u": subject["user_id"]},
        ).fetchone()[0]
        counted = con.execute(  # the file's accounting: lines = accepted + quarantined + erased_subject
            "SELECT sum(erased_subject) FROM raw.files WHERE source_file LIKE '%again-%'"
        ).fetchone()[0]
    theirs = sum(
        1
        for line in (gzip.decompress(old_file) if old_name.endswith(".gz") else old_file).splitlines()
        if any(i.encode() in line for i in [subject["user_id"], *subject["anon_ids"]])
    )
    assert mine == 0 and counted == theirs > 0
