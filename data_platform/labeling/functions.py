"""The labeling functions for review sentiment: registered here, and only here.

A labeling function (LF) is a DuckDB SQL expression over a review's columns (``text``, redacted, and
``rating``) that returns a class index (0 negative, 1 neutral, 2 positive, see
:data:`data_platform.labeling.SENTIMENTS`) or -1 to abstain. SQL keeps the label matrix inside
DuckDB (one pass over the reviews, out of core). Each LF has a version: bump it when its logic
changes, so the label matrix, the LF analysis and every weak label say which logic produced them.

Adding an LF: append a :class:`LabelingFunction` to :data:`REVIEW_LFS`; its analysis (coverage,
overlaps, conflicts, accuracy on gold) appears on ``labels/label_matrix`` in the UI at the next run.
Give an LF more than one polarity when you can (e.g. the lexicon votes all three classes): the label
model ignores abstains, so a one-sided LF ("positive or abstain") looks the same whatever the true
class and only counts in the majority-vote baseline.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

NEG, NEU, POS = 0, 1, 2


@dataclass(frozen=True)
class LabelingFunction:
    """One labeling function: a SQL expression returning a class index or -1 (abstain)."""

    name: str
    version: int
    sql: str
    description: str

    def __post_init__(self) -> None:
        if not re.fullmatch(r"[a-z][a-z0-9_]*", self.name):
            raise ValueError(f"LF names are lower_snake_case identifiers, got {self.name!r}")

    @property
    def id(self) -> str:
        """``name@version``."""
        return f"{self.name}@{self.version}"


_NEGATED = r"\bnot (bad|terrible|disappointed)\b|\bno complaints\b|\bnever disappoint"
_NEUTRAL = (
    r"\b(okay|ok|average|nothing special|does the job|as expected|sans plus|fine for the price|mixed)\b"
    r"|not great, not terrible"
)
_NEGATIVE = (
    r"\b(broke|broken|terrible|disappoint\w*|damaged|do not buy|don.t buy|horrible|awful|waste|refund|useless|"
    r"worst|not worth|schrott|kaputt|nul|arnaque|never again)\b"
)
_POSITIVE = (
    r"\b(great|love[ds]?|excellent|perfect|amazing|fantastic|super|wonderful|recommend|très bon|genial|toll"
    r"|five stars)\b"
)

REVIEW_LFS: tuple[LabelingFunction, ...] = (
    LabelingFunction(
        "stars",
        1,
        f"CASE WHEN rating <= 2 THEN {NEG} WHEN rating = 3 THEN {NEU} WHEN rating >= 4 THEN {POS} ELSE -1 END",
        "the star rating: 1-2 negative, 3 neutral, 4-5 positive (people do not always write what they rate)",
    ),
    LabelingFunction(
        "lexicon",
        1,
        f"CASE WHEN regexp_matches(lower(text), '{_NEGATED}') THEN {POS} "
        f"WHEN regexp_matches(lower(text), '{_NEUTRAL}') THEN {NEU} "
        f"WHEN regexp_matches(lower(text), '{_NEGATIVE}') THEN {NEG} "
        f"WHEN regexp_matches(lower(text), '{_POSITIVE}') THEN {POS} ELSE -1 END",
        "sentiment vocabulary in English, German, French and Spanish, first match wins: a negated complaint "
        '("not bad at all") reads positive, then lukewarm, complaint and praise words',
    ),
    LabelingFunction(
        "emoji",
        1,
        "CASE WHEN regexp_matches(text, '[😡👎😠💩]') THEN 0 "
        "WHEN regexp_matches(text, '[👍😍❤😊🥰]') THEN 2 ELSE -1 END",
        "angry or happy emoji",
    ),
)


def lf_registry_version(lfs: tuple[LabelingFunction, ...] = REVIEW_LFS) -> str:
    """A short hash over every LF's name, version and SQL: changes whenever the label matrix would."""
    digest = hashlib.sha256("\x1f".join(f"{f.id}\x1e{f.sql}" for f in lfs).encode()).hexdigest()
    return f"lfs-{digest[:10]}"


def lfs_markdown(lfs: tuple[LabelingFunction, ...] = REVIEW_LFS) -> str:
    """The registry as a markdown table (asset metadata, docs/labeling.md)."""
    lines = ["| labeling function | what it says |", "|---|---|"]
    lines += [f"| `{f.id}` | {f.description} |" for f in lfs]
    return "\n".join(lines)
