"""The spam rules: links counted as whole URLs in the forms people write, a wrong rule version replaced
by its correction when it is invalidated, precision and recall against the truth in the run's metadata,
and the blocking check that keeps spam out of the labeled reviews whatever rule version ran."""

from __future__ import annotations

import datetime as dt
import json

import duckdb

from data_platform.cleaning.rules import RULES, applied, definitive, find_rule, rules_markdown
from data_platform.generator.simulate import REVIEW_TEXTS, SHOP_LINK_TEXTS, review_truth
from data_platform.privacy.redaction import redact_text
from data_platform.provenance.invalidate import record_invalidation, run_invalidation
from data_platform.resources import load_sql
from data_platform_tests.conftest import (
    checks_by_name,
    event,
    jobs_world,
    materializations,
    query,
    run_job,
    write_lines,
)

CHROME = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 Chrome/131.0 Safari/537.36"
DAY = "2026-11-02"

# (review text, links in it)
URL_FORMS = [
    ("Good support: http://www.example-shop.com/support.asp helped me.", 1),  # scheme + www
    ("The guide at www.example-shop.com/help/setup is clear", 1),  # bare www
    ("Specs on example-shop.com/p/123 and a video at youtu.be/abc", 2),  # bare domains with a path
    ("Questions? Write me at anna.schmidt12@gmail.com", 0),  # an e-mail address is not a link
    ("Mail support@example-shop.com/help if it breaks", 0),  # nor one followed by a path
    ("Full review with photos: https://www.smith-reviews.com/p/123456", 1),
    ("two at once: https://a.example.com/x,https://b.example.com/y", 2),
    ("HTTPS://WWW.SHOP.EXAMPLE.ORG/FAQ and http://deals.example.biz", 2),
    ("Rated 4.5/5, i.e. fine, and/or better than the old one.", 0),  # numbers and abbreviations
    ("BEST DEALS >>> www.free-giftcards-now.example.net <<< and http://likes.example.biz/buy", 2),
]


def _rule_hits(rule, texts: list[str]) -> set[int]:
    """Indices of ``texts`` (reviews from distinct devices on one day) that ``rule`` matches."""
    con = duckdb.connect()
    con.execute(
        "CREATE TEMP TABLE day_events AS SELECT i::VARCHAR AS event_id, 'review' AS event_type, "
        "'d' || i AS anon_id, DATE '2026-11-02' AS event_date, t AS text "
        "FROM unnest(?::VARCHAR[]) WITH ORDINALITY AS u(t, i)",
        [texts],
    )
    return {int(r[0]) - 1 for r in con.execute(load_sql(rule.sql_name), rule.params).fetchall()}


def test_one_url_is_one_link_whatever_form_it_is_written_in():
    texts = [t for t, _ in URL_FORMS]
    link_heavy = find_rule("link_heavy_review@2")
    assert link_heavy in RULES
    assert _rule_hits(link_heavy, texts) == {i for i, (_, n) in enumerate(URL_FORMS) if n >= 2}
    con = duckdb.connect()
    counted = [
        len(
            con.execute("SELECT regexp_extract_all(lower(?), ?, 1)", [t, link_heavy.params["link_pattern"]]).fetchone()[
                0
            ]
        )
        for t in texts
    ]
    assert counted == [n for _, n in URL_FORMS]
    # version 1 stays identifiable in history: it took a single scheme + www URL for two links
    old = find_rule("link_heavy_review@1")
    assert old not in RULES and "replaced by version 2" in old.retired
    assert 0 in _rule_hits(old, texts) and 5 in _rule_hits(old, texts)
    assert "`link_heavy_review` | 1 |" in rules_markdown()


def test_a_correction_runs_only_once_the_wrong_version_is_invalidated():
    refs = lambda void: {r.ref for _, r in applied(void)}  # noqa: E731
    assert {"repeated_review_with_link@1", "link_heavy_review@2"} <= refs(set())
    assert "repeated_review_with_link@2" not in refs(set())
    after = refs({("repeated_review_with_link", 1)})
    assert "repeated_review_with_link@2" in after and "repeated_review_with_link@1" not in after
    assert {r.ref for r in definitive(kind="spam")} == {"repeated_review_with_link@2", "link_heavy_review@2"}


def test_genuine_reviews_citing_the_shop_keep_their_sentiment_raw_and_redacted():
    for sentiment, texts in SHOP_LINK_TEXTS.items():
        for text in texts:
            assert "example-shop.com/" in text and "<URL>" in redact_text(text)
            assert review_truth(text) == review_truth(redact_text(text)) == sentiment
    assert review_truth(redact_text(REVIEW_TEXTS["spam"][0])) is None


def _reviews() -> tuple[list[dict], set[str], set[str]]:
    """Genuine reviews citing the shop's help page (the same text from 3 devices), a spam campaign (one
    text from 4 devices) and a single genuine review with one scheme + www URL."""
    help_text = "Setup is fiddly: follow https://www.example-shop.com/help/setup step by step and it works."
    spam_text = "Free gift cards here >>> www.free-giftcards-now.example.net <<< Make $500/day from home!"
    lines, help_ids, spam_ids = [], set(), set()
    for i in range(3):
        lines.append(
            event(
                f"help-{i}",
                "review",
                ts=f"{DAY}T09:0{i}:00Z",
                anon_id=f"cust-{i}",
                text=help_text,
                rating=3,
                user_agent=CHROME,
            )
        )
        help_ids.add(f"help-{i}")
    for i in range(4):
        lines.append(
            event(
                f"spam-{i}",
                "review",
                ts=f"{DAY}T10:0{i}:00Z",
                anon_id=f"spammer-{i}",
                text=spam_text,
                rating=5,
                user_agent=CHROME,
            )
        )
        spam_ids.add(f"spam-{i}")
    lines.append(
        event(
            "one-url",
            "review",
            ts=f"{DAY}T11:00:00Z",
            anon_id="cust-9",
            rating=2,
            user_agent=CHROME,
            text="Broke in a week and http://www.example-shop.com/support.asp did not help.",
        )
    )
    lines += [
        event(
            f"plain-{i}",
            "review",
            ts=f"{DAY}T12:0{i}:00Z",
            anon_id=f"plain-{i}",
            rating=5,
            text="Great quality, arrived fast.",
            user_agent=CHROME,
        )
        for i in range(6)
    ]
    return lines, help_ids, spam_ids


def _void(warehouse, ref: str) -> None:
    with duckdb.connect(warehouse.database) as con:
        record_invalidation(con, "rule", ref, "test", "tester")


def test_the_wrong_version_removes_genuine_reviews_its_correction_only_the_spam(tmp_path, monkeypatch):
    lines, help_ids, spam_ids = _reviews()
    defs, warehouse = jobs_world(tmp_path, monkeypatch, lines)
    (tmp_path / "landing" / "events" / "manifest-test.json").write_text(
        json.dumps({"bots": {"anon_ids": []}, "reviews": {"spam_event_ids": sorted(spam_ids)}})
    )

    def removed() -> dict:
        return dict(query(warehouse, "SELECT event_id, rule_id || '@' || rule_version FROM clean.filtered_events"))

    quality = materializations(run_job(defs, "daily_pipeline", DAY))["clean/filtered_events"]
    quality = quality["spam_rule_quality"].value
    assert removed() == {i: "repeated_review_with_link@1" for i in help_ids | spam_ids}
    assert quality["repeated_review_with_link@1"] == {
        "flagged": 7,
        "spam_flagged": 4,
        "precision": round(4 / 7, 4),
        "recall": 1.0,
        "spam_reviews": 4,
    }

    _void(warehouse, "repeated_review_with_link@1")
    quality = materializations(run_job(defs, "daily_pipeline", DAY))["clean/filtered_events"]["spam_rule_quality"].value
    assert removed() == {i: "repeated_review_with_link@2" for i in spam_ids}
    assert quality["repeated_review_with_link@2"]["precision"] == quality["all rules"]["recall"] == 1.0
    assert "repeated_review_with_link@1" not in quality

    result = run_job(defs, "review_labeling")
    assert checks_by_name(result)["no_known_spam"].passed
    labeled = {r[0] for r in query(warehouse, "SELECT review_id FROM labels.review_examples")}
    assert help_ids | {"one-url"} <= labeled and not labeled & spam_ids


def test_spam_that_reaches_the_labeled_reviews_fails_the_blocking_check(tmp_path, monkeypatch):
    lines, help_ids, spam_ids = _reviews()
    defs, warehouse = jobs_world(tmp_path, monkeypatch, lines)
    run_job(defs, "daily_pipeline", DAY)
    run_job(defs, "review_labeling")
    # a bad day for the registry: both versions of the campaign rule are declared wrong, nothing removes the spam
    _void(warehouse, "repeated_review_with_link@1")
    _void(warehouse, "repeated_review_with_link@2")
    run_job(defs, "daily_pipeline", DAY)
    assert not query(warehouse, "SELECT * FROM clean.filtered_events")
    result = run_job(defs, "relabel_reviews", succeed=False)
    check = checks_by_name(result)["no_known_spam"]
    assert not check.passed
    assert check.metadata["spam_by_rule"].value == {"repeated_review_with_link@2": 4, "link_heavy_review@2": 0}
    assert "repeated_review_with_link@2 4" in check.description


def test_a_wrong_rule_version_that_removed_nothing_yet_can_still_be_invalidated(tmp_path, monkeypatch):
    lines, _, spam_ids = _reviews()
    later = [line for line in lines if line["event_id"] in spam_ids]  # the campaign comes after the invalidation
    defs, warehouse = jobs_world(
        tmp_path,
        monkeypatch,
        [line for line in lines if line["event_id"] not in spam_ids and not line["event_id"].startswith("help")],
    )
    run_job(defs, "daily_pipeline", DAY)
    launched = []
    result = run_invalidation(
        lambda read_only: duckdb.connect(warehouse.database, read_only=read_only),
        "rule",
        "repeated_review_with_link@1",
        "takes the shop's help links for promotion",
        "tester",
        lambda args: launched.append(args) or 0,
        dt.date(2026, 11, 1),
    )
    assert launched == [] and result["days"] == [] and result["remaining"] == {}
    assert query(warehouse, "SELECT status FROM provenance.invalidations") == [("applied",)]
    # from the next cleaning on, the correction runs
    write_lines(tmp_path / "landing" / "events" / DAY / "part-1.jsonl", later)
    run_job(defs, "daily_pipeline", DAY)
    assert set(query(warehouse, "SELECT DISTINCT rule_id || '@' || rule_version FROM clean.filtered_events")) == {
        ("repeated_review_with_link@2",)
    }
