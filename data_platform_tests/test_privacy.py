"""Redaction, IP truncation, keyed pseudonyms and the PII scan: Python and DuckDB must agree."""

from __future__ import annotations

import csv
import hashlib
import re
from pathlib import Path

import duckdb
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from data_platform.base.pseudonyms import PseudonymKeyError, key_status, pseudonym_key, pseudonymise, pseudonymise_sql
from data_platform.privacy.redaction import (
    PII_PATTERNS,
    redact_sql,
    redact_text,
    scan_for_pii,
    truncate_ip,
    truncate_ip_sql,
)

PII = [
    ("write to jane.doe+shop@example.co.uk please", "write to <EMAIL> please"),
    ("see https://shop.example.com/item?id=3 now", "see <URL> now"),
    ("see www.free-cards.example.net!", "see <URL>"),
    ("card 4481 3817 6221 8058 charged twice", "card <CARD> charged twice"),
    ("card 4481-3817-6221-8058", "card <CARD>"),
    ("from 203.0.113.57 at night", "from <IP> at night"),
    ("call +1 (415) 555-0174, ask for Emma", "call <PHONE>, ask for Emma"),
    ("ruf an: +49 30 1234567", "ruf an: <PHONE>"),
    ("Tel 030 1234 5678", "Tel <PHONE>"),
    ("Handy 0171-2345678 bitte", "Handy <PHONE> bitte"),
]
CLEAN = [
    "Five stars, arrived in 2 days.",
    "Paid $500/day? No: 39.99 EUR, order 12345, size 42, year 2026.",
    "Super Qualität, gerne wieder 👍",
    "Rated 4/5 - would buy again (3rd time)",
    "Version 3.1.0 crashes at 10:45",
]


@pytest.mark.parametrize("text,expected", PII)
def test_each_kind_of_personal_data_is_replaced_by_its_placeholder(text, expected):
    assert redact_text(text) == expected


@pytest.mark.parametrize("text", CLEAN)
def test_ordinary_numbers_and_text_are_left_alone(text):
    assert redact_text(text) == text


def _sql_redact(texts: list[str]) -> list[str]:
    con = duckdb.connect()
    con.execute("CREATE TABLE t (i INTEGER, text VARCHAR)")
    con.executemany("INSERT INTO t VALUES (?, ?)", list(enumerate(texts)))
    return [r[0] for r in con.execute(f"SELECT {redact_sql('text')} FROM t ORDER BY i").fetchall()]


def test_sql_and_python_redaction_agree_on_the_corpus():
    texts = [t for t, _ in PII] + CLEAN + [a + " " + b for a, _ in PII for b in CLEAN[:2]]
    assert _sql_redact(texts) == [redact_text(t) for t in texts]


FRAGMENTS = st.sampled_from([t for t, _ in PII] + CLEAN + ["x", "2", "ab@", "www", "+", "(", "0", "  ", "é"])


@settings(max_examples=60, deadline=None)
@given(st.lists(FRAGMENTS, min_size=1, max_size=6).map(" ".join))
def test_sql_and_python_redaction_agree_on_generated_text(text):
    assert _sql_redact([text]) == [redact_text(text)]


@pytest.mark.parametrize(
    "ip,expected",
    [("203.0.113.57", "203.0.113.0"), ("2001:db8:85a3:8d3:1319:8a2e:370:7348", "2001:db8:85a3::"), ("nope", None)],
)
def test_ip_truncation_in_python_and_sql(ip, expected):
    assert truncate_ip(ip) == expected
    assert (
        duckdb.execute(f"SELECT {truncate_ip_sql('x')} FROM (SELECT ?::VARCHAR AS x)", [ip]).fetchone()[0] == expected
    )


def test_pseudonyms_are_keyed_deterministic_and_the_same_in_sql():
    key = "k" * 20
    got = duckdb.execute(f"SELECT {pseudonymise_sql('x')} FROM (SELECT 'user-1' AS x)", {"pseudonym_key": key})
    # the documented definition, computed here with hashlib: p_ + 24 hex digits of sha256(key \x1f value)
    expected = "p_" + hashlib.sha256(b"kkkkkkkkkkkkkkkkkkkk\x1fuser-1").hexdigest()[:24]
    assert got.fetchone()[0] == pseudonymise("user-1", key) == expected
    assert pseudonymise("user-1", key) != pseudonymise("user-1", "j" * 20) != pseudonymise("user-2", key)
    assert pseudonymise(None, key) is None


def test_production_mode_needs_a_real_key(monkeypatch):
    monkeypatch.setenv("DATA_PLATFORM_MODE", "production")
    monkeypatch.delenv("DATA_PLATFORM_PSEUDONYM_KEY", raising=False)
    with pytest.raises(PseudonymKeyError, match="DATA_PLATFORM_PSEUDONYM_KEY"):
        pseudonym_key()
    monkeypatch.setenv("DATA_PLATFORM_PSEUDONYM_KEY", "a-secret-of-enough-length")
    assert pseudonym_key() == "a-secret-of-enough-length"
    assert key_status() == {"mode": "production", "key": "from DATA_PLATFORM_PSEUDONYM_KEY", "warning": False}
    assert "a-secret" not in str(key_status())


def test_demo_mode_uses_a_dev_key_and_says_so(monkeypatch):
    monkeypatch.delenv("DATA_PLATFORM_MODE", raising=False)
    monkeypatch.delenv("DATA_PLATFORM_PSEUDONYM_KEY", raising=False)
    assert pseudonym_key() and key_status()["warning"] is True


def test_scan_finds_planted_personal_data_with_masked_samples_and_nothing_else():
    con = duckdb.connect()
    con.execute("CREATE SCHEMA s; CREATE TABLE s.t (day DATE, text VARCHAR, note VARCHAR)")
    con.execute("""INSERT INTO s.t VALUES ('2026-11-02', 'mail jane.doe@example.com', 'fine'),
        ('2026-11-02', 'fine', 'call +49 30 1234567'), ('2026-11-02', 'all good', NULL),
        ('2026-11-03', 'mail joe@example.org', NULL)""")
    findings = scan_for_pii(con, "s.t", partition_column="day", start_day="2026-11-02", end_day="2026-11-03")
    assert [(f.column, f.kind, f.rows) for f in findings] == [("text", "email", 1), ("note", "phone", 1)]
    assert findings[0].masked_sample == ["ja" + "*" * 16 + "om"]
    con.execute(f"UPDATE s.t SET text = {redact_sql('text')}, note = {redact_sql('note')}")
    assert scan_for_pii(con, "s.t") == []
    with pytest.raises(ValueError):
        scan_for_pii(con, "s.t", ["text; DROP TABLE s.t"])


SMS_CSV = Path(__file__).resolve().parent / "data" / "sms-spam.csv"  # attribution: data/README.md


def test_scan_counts_every_pattern_like_python_re_on_real_messages():
    """The scan looks pattern by pattern only at the rows one combined pattern matches: on real SMS texts
    (phone numbers, URLs in any case, prices) and the same texts upper-cased, each column's count per
    kind is what Python's ``re`` finds with that kind's pattern alone."""
    with SMS_CSV.open(encoding="utf-8") as f:
        texts = [row["text"] for row in csv.DictReader(f)]
    columns = {"text": texts, "shout": [t.upper() for t in texts]}
    con = duckdb.connect()
    con.execute("CREATE TABLE sms (text VARCHAR, shout VARCHAR)")
    con.executemany("INSERT INTO sms VALUES (?, ?)", list(zip(*columns.values())))
    found = {(f.column, f.kind): f.rows for f in scan_for_pii(con, "sms")}
    expected = {
        (column, placeholder.strip("<>").lower()): n
        for column, values in columns.items()
        for placeholder, pattern in PII_PATTERNS.items()
        if (n := sum(1 for t in values if re.search(pattern, t)))
    }
    assert found == expected
    assert found[("text", "phone")] > 10 and found[("shout", "url")] == found[("text", "url")] > 0


def test_shared_counts_suppress_groups_smaller_than_k():
    from data_platform.privacy.aggregates import k_anonymous_counts

    con = duckdb.connect()
    con.execute(
        "CREATE TABLE t AS SELECT CASE WHEN i < 50 THEN 'DE' WHEN i < 62 THEN 'FR' WHEN i < 66 THEN 'LU' "
        "WHEN i < 70 THEN 'MT' ELSE 'IS' END AS country FROM range(73) r(i)"
    )
    got = k_anonymous_counts(con, "t", "country", k=10)
    assert got["groups"] == {"DE": 50, "FR": 12, "<suppressed>": 11}
    assert got["suppressed_groups"] == 3 and got["dropped_rows"] == 0
    assert k_anonymous_counts(con, "t", "country", k=13)["groups"] == {"DE": 50, "<suppressed>": 23}
    tiny = k_anonymous_counts(con, "t", "country", k=60)
    assert tiny["groups"] == {"<suppressed>": 73} and tiny["suppressed_groups"] == 5
    with pytest.raises(ValueError):
        k_anonymous_counts(con, "t; DROP TABLE t", "country")


def test_production_mode_without_a_key_fails_when_the_definitions_load(tmp_path):
    import os
    import subprocess
    import sys

    env = {k: v for k, v in os.environ.items() if k != "DATA_PLATFORM_PSEUDONYM_KEY"}
    env["DATA_PLATFORM_MODE"] = "production"
    done = subprocess.run(
        [sys.executable, "-c", "import data_platform.definitions"],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode != 0 and "DATA_PLATFORM_PSEUDONYM_KEY must be set" in done.stderr
