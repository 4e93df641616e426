"""Tests of the review ground truth (texts, gold labels, manifest counts) and of the simulated raters."""

from __future__ import annotations

import csv
import datetime as dt
import json
import re
from collections import Counter, defaultdict

import numpy as np
import pytest

from data_platform.generator import generate_logs
from data_platform.generator.raters import DEFAULT_PANEL, RaterProfile, simulate_annotations, write_export
from data_platform.generator.simulate import (
    MILD_REVIEW_TEXTS,
    REVIEW_TEXTS,
    SENTIMENT_BY_RATING,
    _pii_snippets,
    review_truth,
)
from data_platform.labeling import SENTIMENTS
from data_platform.privacy.redaction import redact_text
from data_platform_tests.test_generator import Generated, load

START = dt.date(2026, 11, 2)
EVENT_ID = re.compile(rb'"event_id":"([^"]+)"')


def _pii_sentences(n: int) -> list[str]:
    """Decoded PII sentences as the generator appends them (it keeps them JSON-escaped)."""
    return [json.loads(f'"{s}"') for s in _pii_snippets(np.random.default_rng(4), n + 1)[1:]]


# --- Review texts and their truth ---------------------------------------------------------------


def test_pools_are_varied_and_keep_spam():
    assert tuple(REVIEW_TEXTS) == (*SENTIMENTS, "spam")
    for sentiment in SENTIMENTS:
        assert 12 <= len(REVIEW_TEXTS[sentiment]) <= 16, sentiment
        assert len(set(REVIEW_TEXTS[sentiment])) == len(REVIEW_TEXTS[sentiment])
    assert len(REVIEW_TEXTS["spam"]) >= 2
    # hard cases for keyword rules are where they belong
    assert review_truth("Not bad at all, works well.") == "positive"
    assert review_truth("Not great, not terrible.") == "neutral"
    assert review_truth("I wanted to love it but it broke in a week.") == "negative"
    non_ascii = [t for s in SENTIMENTS for t in REVIEW_TEXTS[s] if not t.isascii()]
    assert len(non_ascii) >= 8  # several languages


def test_no_text_is_a_prefix_of_a_text_of_another_pool():
    texts = [(pool, t) for pool, pool_texts in REVIEW_TEXTS.items() for t in pool_texts]
    for (pool_a, a), (pool_b, b) in ((x, y) for x in texts for y in texts):
        if pool_a != pool_b:
            assert not b.startswith(a), (a, b)


def test_review_truth_of_every_text_raw_and_redacted():
    suffixes = _pii_sentences(40)
    assert {redact_text(s) for s in suffixes} != set(suffixes)  # the suffixes do hold personal data
    for pool, texts in REVIEW_TEXTS.items():
        expected = None if pool == "spam" else pool
        for i, text in enumerate(texts):
            assert review_truth(text) == expected, text
            if pool == "spam":
                assert review_truth(redact_text(text)) is None
                continue
            assert redact_text(text) == text  # nothing in a base text looks like personal data
            for suffix in suffixes[i % 5 :: 5]:
                assert review_truth(text + suffix) == pool
                redacted = redact_text(text + suffix)
                assert re.search(r"<(EMAIL|PHONE|URL|CARD|IP)>", redacted), redacted
                assert review_truth(redacted) == pool, redacted


def test_review_truth_of_anything_else_is_none():
    for text in (None, "", "Great", "great quality, arrived fast.", "What a product", 42):
        assert review_truth(text) is None
    # decoded text, as in the warehouse: quotes and emoji are plain characters there
    assert review_truth('Says "waterproof" but it is not. <EMAIL>') == "negative"
    assert review_truth("Producto horrible, no lo recomiendo 😡 Call <PHONE>, ask for Anna.") == "negative"


def test_mild_texts_are_polar():
    assert MILD_REVIEW_TEXTS <= set(REVIEW_TEXTS["negative"]) | set(REVIEW_TEXTS["positive"])
    for sentiment in ("negative", "positive"):
        mild = MILD_REVIEW_TEXTS & set(REVIEW_TEXTS[sentiment])
        assert 3 <= len(mild) < len(REVIEW_TEXTS[sentiment])


# --- Generated reviews, gold labels, manifest ---------------------------------------------------


@pytest.fixture(scope="module")
def two_days(tmp_path_factory) -> tuple[Generated, object]:
    landing = tmp_path_factory.mktemp("landing_reviews")
    manifest = generate_logs(landing, START, 2, 20_000, seed=7)
    return load(landing / "events", manifest), landing


def _reviews(g: Generated) -> list[dict]:
    return [line.event for line in g.unique_events().values() if line.event["event_type"] == "review"]


def _gold(landing) -> list[dict]:
    path = landing / "annotations" / "gold" / f"gold-{START}-d2-s7.csv"
    with path.open(newline="", encoding="utf-8") as f:
        assert f.readline() == "review_id,label,labeled_by\n"
        f.seek(0)
        return list(csv.DictReader(f))


def test_gold_labels_are_true_sentiments_of_real_reviews(two_days):
    g, landing = two_days
    gold = _gold(landing)
    assert not list((landing / "annotations").rglob("*.tmp"))
    by_id = {e["event_id"]: e for e in _reviews(g)}
    ids = [row["review_id"] for row in gold]
    assert len(ids) == len(set(ids)) == g.manifest["reviews"]["gold"]
    for row in gold:
        assert row["review_id"] in by_id, row
        assert row["label"] == review_truth(by_id[row["review_id"]]["text"]) in SENTIMENTS
        assert row["labeled_by"] == "expert"
    # Only ever the review itself (and its exact duplicate deliveries): never a malformed copy.
    lines_of = defaultdict(list)
    for line in g.lines:
        m = EVENT_ID.search(line.raw)
        if m:
            lines_of[m.group(1).decode()].append(line)
    for review_id in ids:
        assert all(line.reason is None for line in lines_of[review_id])
        assert len({line.raw for line in lines_of[review_id]}) == 1


def test_gold_share_is_about_three_percent_and_at_least_one_per_day(two_days):
    g, landing = two_days
    reviews = g.manifest["reviews"]
    non_spam = reviews["total"] - reviews["spam"]
    assert reviews["gold"] >= 2
    assert 0.02 <= reviews["gold"] / non_spam <= 0.045
    gold_days = Counter(g.unique_events()[row["review_id"]].ts.date() for row in _gold(landing))
    assert min(gold_days[START + dt.timedelta(days=d)] for d in range(2)) >= 1


def test_manifest_review_counts_match_the_files(two_days):
    g, _ = two_days
    reviews = _reviews(g)
    counts = g.manifest["reviews"]
    truths = Counter(review_truth(r["text"]) for r in reviews)
    assert counts["total"] == len(reviews) == g.manifest["events_by_type"]["review"]
    assert counts["by_sentiment"] == {s: truths[s] for s in SENTIMENTS}
    assert counts["spam"] == truths[None]
    assert all(re.search(r"http|www\.", r["text"]) for r in reviews if review_truth(r["text"]) is None)
    assert all(counts["by_sentiment"][s] > 0 for s in SENTIMENTS)


def test_text_sentiment_follows_the_rating_only_mostly(two_days):
    g, _ = two_days
    pairs = [(SENTIMENT_BY_RATING[r["rating"]], review_truth(r["text"])) for r in _reviews(g)]
    pairs = [(by_rating, truth) for by_rating, truth in pairs if truth is not None]
    assert len(pairs) > 250
    agreement = sum(a == b for a, b in pairs) / len(pairs)
    assert 0.7 < agreement < 0.9, agreement
    # Disagreement is always with an adjacent sentiment ...
    assert not any({a, b} == {"negative", "positive"} for a, b in pairs)
    # ... and a 3-star review only gets a mild polar text.
    for r in _reviews(g):
        truth = review_truth(r["text"])
        if r["rating"] == 3 and truth in ("negative", "positive"):
            assert any(r["text"].startswith(t) for t in MILD_REVIEW_TEXTS), r["text"]


def test_gold_labels_are_deterministic(tmp_path):
    for name in ("a", "b"):
        generate_logs(tmp_path / name, START, 2, 1500, seed=3)
    first, second = (tmp_path / n / "annotations" / "gold" / f"gold-{START}-d2-s3.csv" for n in ("a", "b"))
    assert first.read_bytes() == second.read_bytes()
    assert len(first.read_text().splitlines()) >= 3  # the header and at least one per day


# --- Simulated raters ---------------------------------------------------------------------------


def _tasks(n: int, seed: int = 0, spam_every: int = 0) -> list[dict]:
    rng = np.random.default_rng(seed)
    texts = [t for s in SENTIMENTS for t in REVIEW_TEXTS[s]]
    tasks = []
    for i in range(n):
        text = texts[rng.integers(len(texts))]
        if spam_every and i % spam_every == 0:
            text = REVIEW_TEXTS["spam"][i % 2]
        tasks.append(
            {
                "id": 1000 + i,
                "data": {"review_id": f"r-{i}", "batch_id": "b1", "text": text},
                "predictions": [{"model_version": "m1", "score": 0.5, "result": []}],
            }
        )
    return tasks


@pytest.fixture(scope="module")
def simulated() -> tuple[list[dict], list[dict]]:
    tasks = _tasks(3000)
    return tasks, simulate_annotations(tasks, DEFAULT_PANEL, raters_per_task=3, seed=1)


def _answers(export: list[dict]) -> dict[int, list[tuple[str, str | None]]]:
    """Rater user id -> (truth, answer or None for a skip) of each of their annotations."""
    out = defaultdict(list)
    for task in export:
        truth = review_truth(task["data"]["text"])
        for a in task["annotations"]:
            answer = None if a["was_cancelled"] else a["result"][0]["value"]["choices"][0]
            out[a["completed_by"]].append((truth, answer))
    return out


def test_default_panel():
    assert len(DEFAULT_PANEL) == 6
    accuracies = sorted(r.accuracy for r in DEFAULT_PANEL)
    assert sum(0.92 <= a <= 0.95 for a in accuracies) == 3 and 0.8 in accuracies and 0.5 in accuracies
    biased = [r for r in DEFAULT_PANEL if r.bias_toward]
    assert [(r.bias_toward, r.bias) for r in biased] == [("positive", 0.5)]
    assert len({r.user_id for r in DEFAULT_PANEL}) == len({r.name for r in DEFAULT_PANEL}) == 6


def test_each_rater_is_as_accurate_as_their_profile(simulated):
    _, export = simulated
    answers = _answers(export)
    for rater in DEFAULT_PANEL:
        answered = [(t, a) for t, a in answers[rater.user_id] if a is not None]
        assert len(answered) > 1200
        accuracy = sum(t == a for t, a in answered) / len(answered)
        assert abs(accuracy - rater.accuracy) < 0.04, (rater.name, accuracy)


def test_confusion_matches_the_answers(simulated):
    _, export = simulated
    answers = _answers(export)
    for rater in DEFAULT_PANEL:
        expected = rater.confusion()
        assert np.allclose(expected.sum(axis=1), 1.0) and np.allclose(np.diag(expected), rater.accuracy)
        observed = np.zeros((3, 3))
        for t, a in answers[rater.user_id]:
            if a is not None:
                observed[SENTIMENTS.index(t), SENTIMENTS.index(a)] += 1
        observed /= observed.sum(axis=1, keepdims=True)
        assert np.abs(observed - expected).max() < 0.06, (rater.name, observed.round(3), expected.round(3))


def test_the_biased_rater_over_answers_positive(simulated):
    _, export = simulated
    answers = _answers(export)
    biased = next(r for r in DEFAULT_PANEL if r.bias_toward == "positive")
    average = next(r for r in DEFAULT_PANEL if r.accuracy == 0.8)

    def false_positive_rate(rater) -> float:
        answered = [(t, a) for t, a in answers[rater.user_id] if a is not None and t != "positive"]
        return sum(a == "positive" for _, a in answered) / len(answered)

    assert abs(false_positive_rate(biased) - biased.confusion()[0, 2]) < 0.04
    assert false_positive_rate(biased) > 0.15 > false_positive_rate(average)

    def positive_shares(rater) -> tuple[float, float]:
        answered = [(t, a) for t, a in answers[rater.user_id] if a is not None]
        return (
            sum(a == "positive" for _, a in answered) / len(answered),
            sum(t == "positive" for t, _ in answered) / len(answered),
        )

    # Despite her 25% errors she says "positive" more often than reviews are positive; raters whose
    # mistakes spread evenly say it less often.
    said, truly = positive_shares(biased)
    assert said > truly
    said, truly = positive_shares(average)
    assert said < truly
    # the wrong answers of an unbiased rater spread evenly
    wrong = Counter(a for t, a in answers[average.user_id] if a is not None and t == "neutral" and a != t)
    assert abs(wrong["negative"] - wrong["positive"]) < 0.35 * sum(wrong.values())


def test_skip_rate(simulated):
    _, export = simulated
    answers = _answers(export)
    for rater in DEFAULT_PANEL:
        skipped = sum(a is None for _, a in answers[rater.user_id]) / len(answers[rater.user_id])
        assert abs(skipped - rater.skip_rate) < 0.02, (rater.name, skipped)


def test_distinct_raters_per_task_and_export_shape(simulated):
    tasks, export = simulated
    assert len(export) == len(tasks)
    user_ids = {r.user_id for r in DEFAULT_PANEL}
    per_rater = Counter()
    annotation_ids = set()
    for task, done in zip(tasks, export):
        assert "annotations" not in task  # the input is not modified
        assert done["id"] == task["id"] and done["data"] == task["data"]
        assert done["predictions"] == task["predictions"]
        raters = [a["completed_by"] for a in done["annotations"]]
        assert len(raters) == len(set(raters)) == 3 and set(raters) <= user_ids
        per_rater.update(raters)
        for a in done["annotations"]:
            assert {
                "id",
                "completed_by",
                "result",
                "was_cancelled",
                "ground_truth",
                "created_at",
                "updated_at",
                "lead_time",
            } <= set(a)
            assert a["ground_truth"] is False and isinstance(a["lead_time"], float) and a["lead_time"] > 0
            assert a["created_at"].endswith("Z") and a["updated_at"] >= a["created_at"]
            dt.datetime.fromisoformat(a["created_at"].replace("Z", "+00:00"))
            if a["was_cancelled"]:
                assert a["result"] == []
            else:
                [item] = a["result"]
                assert {k: item[k] for k in ("from_name", "to_name", "type")} == {
                    "from_name": "sentiment",
                    "to_name": "text",
                    "type": "choices",
                }
                assert item["value"]["choices"][0] in SENTIMENTS
            annotation_ids.add(a["id"])
    assert len(annotation_ids) == 3 * len(tasks)
    assert all(abs(n / len(tasks) - 0.5) < 0.05 for n in per_rater.values())  # 3 of 6 raters each


def test_raters_per_task(simulated):
    tasks, _ = simulated
    export = simulate_annotations(tasks[:200], DEFAULT_PANEL, raters_per_task=2, seed=5)
    assert all(len({a["completed_by"] for a in t["annotations"]}) == len(t["annotations"]) == 2 for t in export)
    export = simulate_annotations(tasks[:50], DEFAULT_PANEL, raters_per_task=6, seed=5)
    assert all(len({a["completed_by"] for a in t["annotations"]}) == 6 for t in export)
    for bad in (0, 7):
        with pytest.raises(ValueError, match="raters_per_task"):
            simulate_annotations(tasks[:5], DEFAULT_PANEL, raters_per_task=bad)


def test_deterministic_for_a_seed(simulated):
    tasks, export = simulated
    assert simulate_annotations(tasks, DEFAULT_PANEL, raters_per_task=3, seed=1) == export
    other = simulate_annotations(tasks, DEFAULT_PANEL, raters_per_task=3, seed=2)
    assert other != export


def test_spam_and_unknown_texts_are_skipped_by_everyone():
    tasks = _tasks(60, spam_every=3)
    tasks.append({"id": 1, "data": {"review_id": "x", "text": "Some review we never generated."}})
    tasks.append({"id": 2, "data": {"review_id": "y"}})
    export = simulate_annotations(tasks, DEFAULT_PANEL, seed=3)
    for task in export:
        if review_truth(task["data"].get("text")) is None:
            assert all(a["was_cancelled"] and a["result"] == [] for a in task["annotations"])
            assert task["cancelled_annotations"] == 3 and task["total_annotations"] == 0
    assert export[-1]["predictions"] == []


def test_a_custom_truth_and_panel():
    perfect = (RaterProfile("p1", 1.0, skip_rate=0.0, user_id=1), RaterProfile("p2", 1.0, skip_rate=0.0, user_id=2))
    tasks = [{"id": i, "data": {"review_id": str(i), "text": f"t{i}"}} for i in range(20)]
    export = simulate_annotations(tasks, perfect, raters_per_task=2, truth=lambda text: "neutral")
    labels = {a["result"][0]["value"]["choices"][0] for t in export for a in t["annotations"]}
    assert labels == {"neutral"}


def test_rater_profile_validation():
    with pytest.raises(ValueError):
        RaterProfile("x", 1.2, user_id=1)
    with pytest.raises(ValueError):
        RaterProfile("x", 0.9, bias_toward="happy", bias=0.3, user_id=1)
    with pytest.raises(ValueError):
        RaterProfile("x", 0.9, skip_rate=-0.1, user_id=1)
    with pytest.raises(TypeError):
        RaterProfile("x", 0.9)  # user_id is required
    with pytest.raises(ValueError, match="user ids"):
        simulate_annotations(
            [], (RaterProfile("a", 0.9, user_id=1), RaterProfile("b", 0.9, user_id=1)), raters_per_task=1
        )


def test_write_export(tmp_path, simulated):
    _, export = simulated
    path = write_export(export[:10], tmp_path, "project-1-at-2026-11-16")
    assert path == tmp_path / "annotations" / "project-1-at-2026-11-16.json"
    assert json.loads(path.read_text(encoding="utf-8")) == export[:10]
    assert [p.name for p in (tmp_path / "annotations").iterdir()] == [path.name]
    for bad in ("", "../x", "a/b", ".hidden"):
        with pytest.raises(ValueError):
            write_export(export[:1], tmp_path, bad)
