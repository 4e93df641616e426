"""Near-duplicate texts across splits: found with MinHash LSH (datasketch), confirmed by exact Jaccard.

A review in test that is a near copy of one in train (the same text signed with another name, a review
reposted by another person) leaks: a model that memorised the train copy looks better on test than it
is. Persons are kept in one split already; this module finds the copies *between* persons.

**What counts as a near-duplicate.** Texts are compared as sets of word shingles: the redacted text
lowercased, cut into words (runs of letters and digits, so punctuation, emoji and the brackets of a
redaction placeholder such as ``<PHONE>`` do not count), and every run of ``shingle_words`` (3)
consecutive words is a shingle (a text with fewer words is one shingle). Two texts are near-duplicates
when the Jaccard similarity of their shingle sets is at least ``threshold`` (0.8); identical word
sequences (Jaccard 1) are near-duplicates too.

- Texts of fewer than ``min_words`` (15) words are not compared: a stock phrase ("Great quality,
  arrived fast.") written by two people is no copy, and pairing every such review would join most
  persons into one group.
- A cluster of near-duplicate texts written by more than ``max_persons`` (10) persons is a *common
  text* (a template, a one-tap answer, a campaign): it is counted and reported, not grouped and not
  treated as a leak. A review reposted by 11 or more persons is therefore not caught: lower it to be
  stricter.

**How.** Distinct word sequences are computed in DuckDB (``sql/splits/example_texts.sql``); each gets a
MinHash of ``num_perm`` (128) permutations, and an LSH index tuned for Jaccard ``threshold - 0.1`` and
weighted towards recall proposes candidate pairs (so a pair just above ``threshold`` whose estimate falls
short is still proposed: 99.8% of pairs at 0.8, 99.99% at 0.85); each candidate is confirmed by its exact
Jaccard, so no pair below the threshold is reported. The reported pairs carry both figures.

**Clusters.** Near-duplicate pairs (below ``max_persons``) are edges between the persons (groups) of
their examples; the connected components of these edges, unioned with the person grouping, are the
clusters a split is drawn for (``cluster_key``: the smallest person key of the component). A person
with no near-duplicate keeps its own key, so its split is the same as with the person grouping.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from itertools import combinations, product
from typing import TYPE_CHECKING

import duckdb

from data_platform.resources import rows

if TYPE_CHECKING:  # datasketch (and scipy under it) is imported when texts are compared, not with the definitions
    from datasketch import MinHash

WORD_PATTERN = r"[\p{L}\p{N}]+"  # a word: a run of letters and digits (RE2, applied to the lowercased text)
LSH_MARGIN = 0.1  # the LSH index proposes candidates from Jaccard threshold - LSH_MARGIN on
# ... weighing a missed pair 9 times a false candidate (false candidates cost one exact Jaccard each):
# at the default 0.8 and 128 permutations that is 20 bands of 6 rows, which proposes a pair of Jaccard
# 0.8 with probability 1 - (1 - 0.8^6)^20 = 0.998 and one of 0.85 with 0.9999.
LSH_WEIGHTS = (0.1, 0.9)


@dataclass(frozen=True)
class NearDuplicateSettings:
    """What counts as a near-duplicate (see the module docstring)."""

    threshold: float = 0.8  # exact Jaccard of the word shingle sets, at least
    shingle_words: int = 3
    min_words: int = 15  # shorter texts are not compared
    max_persons: int = 10  # a cluster written by more persons is a common text: reported, not grouped
    num_perm: int = 128
    seed: int = 1

    def __post_init__(self) -> None:
        if not 0 < self.threshold <= 1:
            raise ValueError(f"near-duplicate threshold must be in (0, 1], got {self.threshold}")
        if self.shingle_words < 1 or self.min_words < 1 or self.max_persons < 1 or self.num_perm < 16:
            raise ValueError(f"near-duplicate settings out of range: {self}")


def shingles(words: Sequence[str], size: int) -> frozenset[str]:
    """The word ``size``-shingles of ``words`` (the whole sequence when it is shorter; none when empty)."""
    if len(words) <= size:
        return frozenset([" ".join(words)]) if words else frozenset()
    return frozenset(" ".join(words[i : i + size]) for i in range(len(words) - size + 1))


def jaccard(a: frozenset[str], b: frozenset[str]) -> float:
    """Exact Jaccard similarity |a & b| / |a | b| (0 for two empty sets)."""
    union = len(a | b)
    return len(a & b) / union if union else 0.0


def minhash(shingle_set: Iterable[str], num_perm: int, seed: int) -> MinHash:
    """The MinHash signature of a shingle set (UTF-8 bytes of each shingle)."""
    from datasketch import MinHash

    signature = MinHash(num_perm=num_perm, seed=seed)
    signature.update_batch([s.encode("utf-8") for s in shingle_set])
    return signature


@dataclass(frozen=True)
class TextPair:
    """Two distinct texts (their ids) that are near-duplicates."""

    a: str
    b: str
    estimated: float  # MinHash estimate of the Jaccard similarity
    exact: float


def similar_texts(texts: dict[str, frozenset[str]], settings: NearDuplicateSettings) -> list[TextPair]:
    """Pairs of distinct texts (id -> shingle set) whose exact Jaccard is at least ``settings.threshold``,
    found through MinHash LSH candidates; ordered, ``a < b``."""
    candidate_threshold = max(0.05, settings.threshold - LSH_MARGIN)
    from datasketch import MinHashLSH

    lsh = MinHashLSH(threshold=candidate_threshold, num_perm=settings.num_perm, weights=LSH_WEIGHTS)
    signatures = {}
    for text_id in sorted(texts):
        if texts[text_id]:
            signatures[text_id] = minhash(texts[text_id], settings.num_perm, settings.seed)
            lsh.insert(text_id, signatures[text_id])
    pairs = []
    for a in sorted(signatures):
        for b in sorted(lsh.query(signatures[a])):
            if b > a and (exact := jaccard(texts[a], texts[b])) >= settings.threshold:
                pairs.append(TextPair(a, b, round(signatures[a].jaccard(signatures[b]), 4), round(exact, 4)))
    return pairs


class _Components:
    """Union-find whose representative is the smallest member (deterministic whatever the order)."""

    def __init__(self) -> None:
        self.parent: dict[str, str] = {}

    def find(self, x: str) -> str:
        self.parent.setdefault(x, x)
        while self.parent[x] != x:
            self.parent[x] = self.parent[self.parent[x]]
            x = self.parent[x]
        return x

    def union(self, a: str, b: str) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            self.parent[max(ra, rb)] = min(ra, rb)


@dataclass
class NearDuplicates:
    """The near-duplicates of a dataset: example pairs between different persons, and the clusters."""

    settings: NearDuplicateSettings
    pairs: list[dict] = field(default_factory=list)  # example_a < example_b, jaccards, text ids
    cluster_of: dict[str, str] = field(default_factory=dict)  # person (group) -> cluster key, merged ones only
    compared_texts: int = 0  # distinct texts of at least min_words words
    common_texts: int = 0  # clusters of near-duplicate texts written by more than max_persons persons
    common_examples: int = 0

    @property
    def clusters(self) -> int:
        """Clusters that join two or more persons."""
        return len(set(self.cluster_of.values()))


def find_near_duplicates(
    con: duckdb.DuckDBPyConnection,
    split_table: str,
    source: str,
    id_column: str,
    text_column: str,
    settings: NearDuplicateSettings,
) -> NearDuplicates:
    """The near-duplicates among the examples of ``split_table`` (its ``group_key`` is the person), by
    the text in ``source``: pairs between examples of different persons and the person clusters."""
    found = NearDuplicates(settings)
    texts, examples = {}, {}
    for r in rows(
        con,
        "splits/example_texts.sql",
        {"min_words": settings.min_words, "word_pattern": WORD_PATTERN},
        split_table=split_table,
        source=source,
        id_column=id_column,
        text_column=text_column,
    ):
        texts[r["text_id"]] = shingles(r["words"], settings.shingle_words)
        examples[r["text_id"]] = list(zip(r["examples"], r["units"]))
    found.compared_texts = len(texts)
    text_pairs = similar_texts(texts, settings)
    clusters = _Components()
    for text_id in texts:
        clusters.find(text_id)
    for p in text_pairs:
        clusters.union(p.a, p.b)
    members: dict[str, list[str]] = {}
    for text_id in sorted(texts):
        members.setdefault(clusters.find(text_id), []).append(text_id)
    common = set()
    for root, text_ids in members.items():
        units = {u for t in text_ids for _, u in examples[t]}
        if len(units) > settings.max_persons:
            common.add(root)
            found.common_texts += 1
            found.common_examples += sum(len(examples[t]) for t in text_ids)
    persons = _Components()
    edges = [(t, t, 1.0, 1.0) for t in texts] + [(p.a, p.b, p.estimated, p.exact) for p in text_pairs]
    for a, b, estimated, exact in edges:
        if clusters.find(a) in common:
            continue
        between = combinations(examples[a], 2) if a == b else product(examples[a], examples[b])
        for (x, ux), (y, uy) in between:
            if ux == uy:
                continue  # one person: in one split whatever happens
            persons.union(ux, uy)
            first, second = sorted([(x, a), (y, b)])
            found.pairs.append(
                {
                    "example_a": first[0],
                    "example_b": second[0],
                    "estimated_jaccard": estimated,
                    "jaccard": exact,
                    "text_a": first[1][:12],
                    "text_b": second[1][:12],
                }
            )
    found.pairs.sort(key=lambda p: (p["example_a"], p["example_b"]))
    found.cluster_of = {u: persons.find(u) for u in sorted(persons.parent)}
    return found
