"""Near-duplicate leakage across splits: shingles and Jaccard against independent computations, MinHash
against the exact figure, the generator's injected pairs (and that they leave the rest of the world
as it was), and the real split asset: the injected pairs are all found, the clusters stay in one split,
and the blocking check fails when the split groups by person only."""

from __future__ import annotations

import datetime as dt
import gzip
import itertools
import json
import re
from pathlib import Path

import dagster as dg
import duckdb
import numpy as np
import pytest
from sklearn.metrics import jaccard_score

from data_platform.cleaning.assets import CLEANING_ASSETS
from data_platform.generator import generate_logs
from data_platform.generator import simulate as sim
from data_platform.ingestion.assets import raw_ingestion
from data_platform.labeling.review_assets import REVIEW_LABELING_ASSETS
from data_platform.resources import LabelingDesk
from data_platform.splits.assets import LEAK_SAMPLE, NEAR_DUPLICATE_CHECK, build_export_asset, build_split_asset
from data_platform.splits.near_duplicates import (
    NearDuplicateSettings,
    find_near_duplicates,
    jaccard,
    minhash,
    shingles,
    similar_texts,
)
from data_platform.splits.split import REVIEWS
from data_platform_tests.conftest import checks_by_name, generated_world, query

WORDS = re.compile(r"[^\W_]+")  # Python's own reading of "letters and digits" (the SQL uses RE2's \p{L}\p{N})


def plain_shingles(text: str, k: int) -> set[tuple[str, ...]]:
    """An independent shingling: tuples of words, not joined strings."""
    words = WORDS.findall(text.lower())
    if len(words) <= k:
        return {tuple(words)} if words else set()
    return {tuple(words[i : i + k]) for i in range(len(words) - k + 1)}


def plain_jaccard(a: str, b: str, k: int = 3) -> float:
    sa, sb = plain_shingles(a, k), plain_shingles(b, k)
    return len(sa & sb) / len(sa | sb)


def ours(text: str, k: int = 3) -> frozenset[str]:
    return shingles(WORDS.findall(text.lower()), k)


SAMPLES = [
    "Broke after two days. Very disappointed. Would not recommend, the zipper jammed on day one. Thanks, Anna.",
    "Broke after two days. Very disappointed. Would not recommend, the zipper jammed on day one. Thanks, Jonas.",
    "Broke after two days, very disappointed; would NOT recommend: the zipper jammed on day one!",
    "Super Qualität, gerne wieder 👍 Très bon produit, livraison rapide. Can't fault it.",
    "Super Qualität, gerne wieder. Très bon produit, livraison rapide. Can't fault it, really.",
    "meh",
    "It's okay, does the job. Call <PHONE>, ask for Noah.",
    "It's okay, does the job. Call <PHONE>, ask for Emma.",
]


def test_exact_jaccard_matches_a_plain_python_set_jaccard_and_sklearn():
    for a, b in itertools.combinations(SAMPLES, 2):
        exact = jaccard(ours(a), ours(b))
        assert exact == pytest.approx(plain_jaccard(a, b))
        # sklearn's Jaccard of the two binary indicator vectors over the shingle vocabulary
        vocabulary = sorted(ours(a) | ours(b))
        x = [int(s in ours(a)) for s in vocabulary]
        y = [int(s in ours(b)) for s in vocabulary]
        assert exact == pytest.approx(jaccard_score(x, y))
    # a changed name at the end changes one shingle of 15: 14 / 16
    assert jaccard(ours(SAMPLES[0]), ours(SAMPLES[1])) == pytest.approx(14 / 16)
    # punctuation and case do not matter; fewer words than a shingle make one shingle
    assert jaccard(ours("Meh!"), ours(SAMPLES[5])) == 1.0 and ours("meh") == frozenset({"meh"})


def test_minhash_estimates_the_exact_jaccard_within_its_standard_error():
    rng = np.random.default_rng(5)
    vocabulary = [f"w{i}" for i in range(400)]
    errors = []
    for _ in range(60):
        base = list(rng.choice(vocabulary, 60, replace=False))
        keep = int(rng.integers(20, 61))
        other = base[:keep] + [f"x{i}" for i in rng.integers(0, 10_000, 60 - keep)]
        a, b = frozenset(base), frozenset(other)
        exact = jaccard(a, b)
        estimate = minhash(a, 128, 1).jaccard(minhash(b, 128, 1))
        # the estimate is a binomial share of 128 permutations: within 4 standard errors
        assert abs(estimate - exact) <= 4 * (exact * (1 - exact) / 128) ** 0.5 + 1e-9
        errors.append(estimate - exact)
    assert abs(np.mean(errors)) < 0.02  # unbiased


def test_lsh_finds_the_pairs_a_brute_force_finds_and_nothing_else():
    rng = np.random.default_rng(9)
    settings = NearDuplicateSettings()
    texts = {}
    for i in range(150):
        words = [f"w{j}" for j in rng.integers(0, 5000, 20)]
        texts[f"t{i:03d}"] = frozenset(shingles(words, 3))
        if i % 3 == 0:  # a near copy: one or three words changed at the end (Jaccard 16/20, 14/22 ...)
            changed = words[: 20 - (1 + i % 4)] + [f"n{i}x{j}" for j in range(1 + i % 4)]
            texts[f"t{i:03d}c"] = frozenset(shingles(changed, 3))
    brute = {
        (a, b) for a, b in itertools.combinations(sorted(texts), 2) if jaccard(texts[a], texts[b]) >= settings.threshold
    }
    found = similar_texts(texts, settings)
    pairs = {(p.a, p.b) for p in found}
    # confirmed by the exact figure: nothing below the threshold; every pair from 0.85 on (LSH proposes
    # those with probability 0.9999), and at least 95% of those in [0.8, 0.85) (0.998 each)
    assert pairs <= brute
    assert {(a, b) for a, b in brute if jaccard(texts[a], texts[b]) >= 0.85} <= pairs
    assert len(pairs) >= 0.95 * len(brute) and len(brute) >= 20 and any(0.8 <= p.exact < 0.85 for p in found)
    # some planted copies fall below the threshold and are rightly left out
    assert any(0.5 < jaccard(texts[f"t{i:03d}"], texts[f"t{i:03d}c"]) < 0.8 for i in range(0, 150, 3))
    for p in found:
        assert p.exact == pytest.approx(jaccard(texts[p.a], texts[p.b]), abs=1e-4)
        assert abs(p.estimated - p.exact) <= 0.2


LONG = "Broke after two days and support never answered my three emails about the broken zipper at all"


def _dataset(reviews: list[tuple[str, str, str]]) -> duckdb.DuckDBPyConnection:
    """A split table and its source holding (example id, person, text) rows."""
    con = duckdb.connect()
    con.execute("CREATE SCHEMA splits")
    con.execute("CREATE TABLE splits.t (example_id VARCHAR, group_key VARCHAR)")
    con.execute("CREATE TABLE src (review_id VARCHAR, text VARCHAR)")
    con.executemany("INSERT INTO splits.t VALUES (?, ?)", [r[:2] for r in reviews])
    con.executemany("INSERT INTO src VALUES (?, ?)", [(r[0], r[2]) for r in reviews])
    return con


def test_clusters_join_persons_and_leave_short_and_common_texts_out():
    reviews = [
        ("e1", "p1", LONG + " Thanks, Anna."),
        ("e2", "p2", LONG + " Thanks, Jonas."),  # a changed name: p1 and p2 are one cluster
        ("e3", "p2", "Another review of p2 that has nothing in common with the first one at all, none."),
        ("e4", "p3", "Great quality, arrived fast."),  # a stock phrase written by two persons: not compared
        ("e5", "p4", "Great quality, arrived fast."),
        ("e6", "p5", LONG + " Thanks, Anna."),  # p5 copies p1: joins the cluster
        ("e7", "p1", LONG + " Thanks, Anna."),  # p1 twice: no pair within one person
        *[
            (
                f"c{i}",
                f"q{i}",
                "Setup is fiddly: follow the guide on the help page step by step and it works fine for me.",
            )
            for i in range(4)
        ],  # a template of 4 persons: common when max_persons is 3
    ]
    con = _dataset(reviews)
    found = find_near_duplicates(con, "splits.t", "src", "review_id", "text", NearDuplicateSettings(max_persons=3))
    pairs = {(p["example_a"], p["example_b"]): p for p in found.pairs}
    assert set(pairs) == {("e1", "e2"), ("e1", "e6"), ("e2", "e6"), ("e2", "e7"), ("e6", "e7")}
    assert pairs[("e1", "e6")]["jaccard"] == 1.0 and pairs[("e1", "e2")]["jaccard"] == pytest.approx(16 / 18, abs=1e-4)
    assert pairs[("e1", "e6")]["text_a"] == pairs[("e1", "e6")]["text_b"] != pairs[("e1", "e2")]["text_b"]
    assert found.cluster_of == {"p1": "p1", "p2": "p1", "p5": "p1"} and found.clusters == 1
    assert (found.common_texts, found.common_examples, found.compared_texts) == (1, 4, 4)
    # with a larger allowance the template's persons are one cluster too
    relaxed = find_near_duplicates(con, "splits.t", "src", "review_id", "text", NearDuplicateSettings(max_persons=4))
    assert relaxed.clusters == 2 and relaxed.common_texts == 0
    assert {relaxed.cluster_of[f"q{i}"] for i in range(4)} == {"q0"}


def test_settings_out_of_range_are_refused():
    with pytest.raises(ValueError, match="threshold"):
        NearDuplicateSettings(threshold=1.5)
    with pytest.raises(ValueError, match="out of range"):
        NearDuplicateSettings(shingle_words=0)


# --- The generator's injected pairs ---------------------------------------------------------------


def _lines(root: Path) -> dict[str, str]:
    """event_id -> the first line carrying it, over every landing file under ``root``."""
    out = {}
    for path in sorted((root / "events").rglob("*.jsonl*")):
        data = gzip.decompress(path.read_bytes()) if path.name.endswith(".gz") else path.read_bytes()
        for raw in data.split(b"\n"):
            m = re.search(rb'"event_id":"([0-9a-f-]{36})"', raw)
            if m:
                out.setdefault(m.group(1).decode(), raw.decode("utf-8", "replace"))
    return out


def test_injected_pairs_are_in_the_manifest_and_leave_the_rest_of_the_world_as_it_was(tmp_path, monkeypatch):
    start = dt.date(2026, 11, 2)
    manifest = generate_logs(tmp_path / "with", start=start, days=2, events_per_day=6000, seed=3)
    monkeypatch.setattr(sim, "NEAR_DUPLICATE_SHARE", 0.0)
    without = generate_logs(tmp_path / "without", start=start, days=2, events_per_day=6000, seed=3)
    pairs = manifest["reviews"]["near_duplicates"]["pairs"]
    assert without["reviews"]["near_duplicates"]["pairs"] == []
    assert len(pairs) >= 2 and {p["kind"] for p in pairs} == {"repost", "changed_name"}
    # every figure but the review sentiments (copies take their original's) is the same
    for key in ("valid_events", "events_by_type", "duplicates", "malformed", "late_events", "persons", "bots"):
        assert manifest[key] == without[key], key
    assert manifest["reviews"]["total"] == without["reviews"]["total"]
    assert manifest["reviews"]["spam_event_ids"] == without["reviews"]["spam_event_ids"]
    with_lines, without_lines = _lines(tmp_path / "with"), _lines(tmp_path / "without")
    assert with_lines.keys() == without_lines.keys()
    injected = {p[k] for p in pairs for k in ("original", "copy")}
    changed = {e for e in with_lines if with_lines[e] != without_lines[e]}
    # besides the injected reviews, only malformed copies of them (a malformed line has an id of its own)
    assert injected <= changed and all(" Thanks, " in with_lines[e] for e in changed - injected)
    for e in injected:  # only the text and the rating differ
        a, b = json.loads(with_lines[e]), json.loads(without_lines[e])
        assert {k for k in a if a[k] != b.get(k)} <= {"text", "rating"} and a.keys() == b.keys()
    for p in pairs:
        original, copy = (json.loads(with_lines[p[k]]) for k in ("original", "copy"))
        assert original["anon_id"] != copy["anon_id"] and original["rating"] == copy["rating"]
        assert sim.review_truth(original["text"]) == sim.review_truth(copy["text"]) is not None
        assert len(original["text"].split()) >= sim.NEAR_DUPLICATE_MIN_WORDS
        if p["kind"] == "repost":
            assert original["text"] == copy["text"]
        else:
            body, _, name = original["text"].rpartition(" Thanks, ")
            other_body, _, other_name = copy["text"].rpartition(" Thanks, ")
            assert body == other_body and name != other_name and name[:-1] in sim.SIGN_OFF_NAMES
        assert plain_jaccard(original["text"], copy["text"]) >= 0.85


# --- The split asset on a small real world --------------------------------------------------------


@pytest.fixture(scope="module")
def reviews_world(tmp_path_factory):
    """Three generated days ingested, cleaned and weakly labeled (the labeled review dataset), with three
    times the generator's share of near-duplicate pairs (a dozen on this small world)."""
    root = tmp_path_factory.mktemp("near_duplicates")
    mp = pytest.MonkeyPatch()
    mp.setenv("DATA_PLATFORM_EXPORTS", str(root / "exports"))
    mp.setattr(sim, "NEAR_DUPLICATE_SHARE", 3 * sim.NEAR_DUPLICATE_SHARE)
    landing, warehouse, manifest = generated_world(root, days=3, events_per_day=12000, seed=11)
    resources = {"warehouse": warehouse, "landing": landing, "labeling": LabelingDesk(root=str(root / "labeling"))}
    tags = {"dagster/asset_partition_range_start": "2026-11-02", "dagster/asset_partition_range_end": "2026-11-05"}
    assert dg.materialize([raw_ingestion, *CLEANING_ASSETS], resources=resources, tags=tags).success
    assert dg.materialize(REVIEW_LABELING_ASSETS, resources=resources).success
    yield {"warehouse": warehouse, "manifest": manifest, "resources": resources}
    mp.undo()


def _split(world, **config):
    run_config = {"ops": {"splits__review_examples": {"config": config}}} if config else None
    return dg.materialize(
        [build_split_asset(REVIEWS), build_export_asset(REVIEWS)],
        resources={"warehouse": world["warehouse"]},
        run_config=run_config,
        raise_on_error=False,
    )


def _splits(warehouse) -> dict[str, tuple[str, str, str]]:
    return {
        e: (s, g, c)
        for e, s, g, c in query(
            warehouse, "SELECT example_id, split, group_key, cluster_key FROM splits.review_examples"
        )
    }


@pytest.fixture(scope="module")
def by_person(reviews_world):
    result = _split(reviews_world, group_near_duplicates=False)
    return result, _splits(reviews_world["warehouse"])


@pytest.fixture(scope="module")
def by_cluster(reviews_world, by_person):
    result = _split(reviews_world)
    pairs = query(
        reviews_world["warehouse"],
        "SELECT example_a, example_b, estimated_jaccard, jaccard FROM splits.review_examples_near_duplicates",
    )
    return result, _splits(reviews_world["warehouse"]), pairs


def test_every_injected_pair_is_found(reviews_world, by_cluster):
    _, splits, pairs = by_cluster
    found = {frozenset(p[:2]) for p in pairs}
    injected = reviews_world["manifest"]["reviews"]["near_duplicates"]["pairs"]
    labeled = [p for p in injected if p["original"] in splits and p["copy"] in splits]
    assert len(labeled) >= 6 and len(labeled) >= 0.8 * len(injected)
    for p in labeled:
        same_person = splits[p["original"]][1] == splits[p["copy"]][1]
        assert same_person or frozenset((p["original"], p["copy"])) in found, p


def test_reported_jaccards_match_a_plain_python_jaccard_of_the_texts(reviews_world, by_cluster):
    _, _, pairs = by_cluster
    text = dict(query(reviews_world["warehouse"], "SELECT review_id, text FROM labels.review_examples"))
    assert pairs
    for a, b, estimated, exact in pairs:
        assert exact == pytest.approx(plain_jaccard(text[a], text[b]), abs=1e-4) and exact >= 0.8
        assert abs(estimated - exact) <= 4 * (exact * (1 - exact) / 128) ** 0.5 + 0.01


def test_grouping_by_person_only_lets_pairs_cross_splits_and_the_blocking_check_fails(by_person):
    result, splits = by_person
    check = checks_by_name(result)[NEAR_DUPLICATE_CHECK]
    assert not check.passed and check.metadata["pairs_across_splits"].value > 0
    assert check.metadata["grouping"].value == "persons only"
    crossing = check.metadata["pairs_across_splits"].value
    assert (
        check.description
        == f"{crossing} pairs of near-duplicate texts sit in two splits (allowed 0), grouped by person only"
    )
    # the table lists them (at most LEAK_SAMPLE), each across two splits
    rows_ = [r.split(" | ") for r in check.metadata["pairs"].value.splitlines()[2:]]
    assert len(rows_) == min(crossing, LEAK_SAMPLE) and all(r[1] != r[3] for r in rows_)
    table = check.metadata["pairs"].value
    assert table.startswith("| example_a | split_a | example_b | split_b | estimated_jaccard | jaccard |")
    assert "Thanks" not in table  # no text (it may hold a name): a digest of it
    # blocking: the export did not run
    assert not result.asset_materializations_for_node("exports__review_examples")
    # the other leakage checks still pass: the persons are each in one split
    assert checks_by_name(result)["no_leakage"].passed


def test_the_split_keeps_each_cluster_in_one_split_and_the_check_passes(by_person, by_cluster):
    result, splits, pairs = by_cluster
    checks = checks_by_name(result)
    assert checks[NEAR_DUPLICATE_CHECK].passed and checks["no_leakage"].passed
    assert checks[NEAR_DUPLICATE_CHECK].metadata["pairs_across_splits"].value == 0
    assert checks[NEAR_DUPLICATE_CHECK].metadata["clusters_of_several_persons"].value > 0
    for a, b, *_ in pairs:
        assert splits[a][0] == splits[b][0] and splits[a][2] == splits[b][2]
    clusters = {}
    for split, _, cluster in splits.values():
        clusters.setdefault(cluster, set()).add(split)
    assert all(len(s) == 1 for s in clusters.values())
    # a person whose reviews have no near copy keeps the split the person grouping gave
    _, person_splits = by_person
    unmerged = [e for e, (_, g, c) in splits.items() if g == c]
    merged = [e for e, (_, g, c) in splits.items() if g != c]
    assert merged and len(unmerged) > 0.9 * len(splits)
    assert all(splits[e][0] == person_splits[e][0] for e in unmerged)
    export = result.asset_materializations_for_node("exports__review_examples")[-1].metadata
    card = json.loads((Path(export["path"].value) / "card.json").read_text())["near_duplicates"]
    assert card["pairs_between_persons"] == len(pairs) and card["pairs_across_splits"] == 0
    assert "## Near-duplicate texts" in export["card"].value


def test_the_split_is_deterministic(reviews_world, by_cluster):
    _, splits, pairs = by_cluster
    _split(reviews_world)
    assert _splits(reviews_world["warehouse"]) == splits
    assert (
        query(
            reviews_world["warehouse"],
            "SELECT example_a, example_b, estimated_jaccard, jaccard FROM splits.review_examples_near_duplicates",
        )
        == pairs
    )


def test_the_allowance_lets_that_many_pairs_across_splits_through(reviews_world, by_person):
    crossing = checks_by_name(by_person[0])[NEAR_DUPLICATE_CHECK].metadata["pairs_across_splits"].value
    allowed = _split(reviews_world, group_near_duplicates=False, max_near_duplicate_pairs_across_splits=crossing)
    assert checks_by_name(allowed)[NEAR_DUPLICATE_CHECK].passed
    stricter = _split(reviews_world, group_near_duplicates=False, max_near_duplicate_pairs_across_splits=crossing - 1)
    assert not checks_by_name(stricter)[NEAR_DUPLICATE_CHECK].passed
    _split(reviews_world)  # back to the default grouping for the other tests
