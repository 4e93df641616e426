"""The spam and bot rule registry: every rule that can remove an event, with its version.

A rule is a SQL file under ``sql/cleaning/rules/`` that selects from the deduplicated events of the
days being cleaned (the temp view ``day_events``; ``context_impressions`` adds the impressions of the
day before, so a click just after midnight still finds its impression). It returns either
``anon_id`` (``level="device"``: every event of that device is removed) or ``event_id``
(``level="event"``: only those events). Thresholds are bound parameters kept here, next to the
version, so a threshold change is a version change.

The ruleset version is derived from the ids and versions of all rules: every kept row of
clean.events records it, every removed row records the rule and version that removed it, and the
cleaning assets' ``code_version`` contains it, so Dagster marks everything downstream stale when a
rule changes, and a bad rule version can later be traced to the rows it touched.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

LINK_PATTERN = r"https?://|www\.[a-z0-9-]+\.[a-z]"


@dataclass(frozen=True)
class Rule:
    """One filtering rule."""

    id: str
    version: int
    kind: str  # "bot" or "spam"
    level: str  # "device" (returns anon_id) or "event" (returns event_id)
    description: str
    params: dict = field(default_factory=dict)

    @property
    def ref(self) -> str:
        """``id@version``, the form used in tables and CLI commands."""
        return f"{self.id}@{self.version}"

    @property
    def sql_name(self) -> str:
        return f"cleaning/rules/{self.id}.sql"


RULES: tuple[Rule, ...] = (
    Rule(
        "crawler_user_agent", 1, "bot", "device",
        "the device's user agent names a crawler, a script or a headless browser",
        {"pattern": r"bot|crawl|spider|slurp|python-requests|curl/|wget|headless|scrapy|httpclient"},
    ),
    Rule(
        "inhuman_event_rate", 1, "bot", "device",
        "the device sends 20 or more events a minute for at least 10 minutes of the day",
        {"events_per_minute": 20, "min_busy_minutes": 10},
    ),
    Rule(
        "click_without_impression", 1, "bot", "event",
        "a click whose impression_id no impression of that day or the day before carries",
    ),
    Rule(
        "repeated_review_with_link", 1, "spam", "event",
        "the same review text with a link, posted from 3 or more devices",
        {"link_pattern": LINK_PATTERN, "min_devices": 3},
    ),
    Rule(
        "link_heavy_review", 1, "spam", "event",
        "a review with 2 or more links",
        {"link_pattern": LINK_PATTERN, "min_links": 2},
    ),
)


def ruleset_version(rules: tuple[Rule, ...] = RULES) -> str:
    """A short stable version of the whole ruleset, e.g. ``rs-1a2b3c4d`` (changes with any rule)."""
    text = ";".join(sorted(f"{r.ref}:{sorted(r.params.items())}" for r in rules))
    return "rs-" + hashlib.sha256(text.encode()).hexdigest()[:8]


RULESET_VERSION = ruleset_version()


def rules_markdown() -> str:
    """The registry as a markdown table (README and asset metadata)."""
    lines = ["| rule | version | kind | removes | what |", "|---|---|---|---|---|"]
    for r in RULES:
        lines.append(f"| `{r.id}` | {r.version} | {r.kind} | {'the device' if r.level == 'device' else 'the event'} "
                     f"| {r.description} |")
    return "\n".join(lines)
