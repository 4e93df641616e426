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

Versions. Fixing a rule means a new version; the old one stays in :data:`RULE_HISTORY` with its
parameters, so rows it removed remain identifiable (``clean.filtered_events`` names ``id@version``).
A new version either replaces the old one from the next cleaning on (the old one leaves
:data:`RULES`), or ``corrects`` a version found wrong: both stay in :data:`RULES`, the wrong one keeps
running until it is invalidated (``data-platform invalidate --rule id@N``), and from then on the
correction runs, so the switch happens together with the re-cleaning, audit and republication of
everything the wrong version touched (see :func:`applied`).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

# Version 1 of the link rules: counts where a link starts, so "http://www.example-shop.com" counted twice
# (``http://`` and ``www.``), and bare domains with a path were no link at all.
LINK_PATTERN_V1 = r"https?://|www\.[a-z0-9-]+\.[a-z]"
# One match per URL (texts are lowercased first; RE2 syntax): a scheme or ``www.`` followed by everything
# up to a space, a quote or a comma, or a bare domain followed by a path (``example-shop.com/help``).
# The character before it must not belong to a word or an e-mail address, so ``anna@gmail.com`` is no
# link, and a ``www.`` inside ``http://www.`` is part of the URL already matched. Group 1 is the URL.
URL_PATTERN = (
    r"(?:^|[^a-z0-9@._%+-])((?:https?://|www\.)[^\s<>\"',]+"
    r"|[a-z0-9-]+(?:\.[a-z0-9-]+)*\.[a-z]{2,24}/[^\s<>\"',]*)"
)
# The shop's own site: a link there (a help page, a product page) promotes nothing.
SHOP_SITE_PATTERN = r"^(?:https?://)?(?:[a-z0-9-]+\.)*example-shop\.com(?:[/:?#]|$)"


@dataclass(frozen=True)
class Rule:
    """One filtering rule."""

    id: str
    version: int
    kind: str  # "bot" or "spam"
    level: str  # "device" (returns anon_id) or "event" (returns event_id)
    description: str
    params: dict = field(default_factory=dict)
    corrects: int | None = None  # the version this one corrects: it runs once that one is invalidated
    sql_file: str = ""  # the rule's SQL under sql/cleaning/rules/ (default: the rule id)
    retired: str = ""  # why a version no longer runs (RULE_HISTORY only)

    @property
    def ref(self) -> str:
        """``id@version``, the form used in tables and CLI commands."""
        return f"{self.id}@{self.version}"

    @property
    def sql_name(self) -> str:
        return f"cleaning/rules/{self.sql_file or self.id}.sql"


RULES: tuple[Rule, ...] = (
    Rule(
        "crawler_user_agent",
        1,
        "bot",
        "device",
        "the device's user agent names a crawler, a script or a headless browser",
        {"pattern": r"bot|crawl|spider|slurp|python-requests|curl/|wget|headless|scrapy|httpclient"},
    ),
    Rule(
        "inhuman_event_rate",
        1,
        "bot",
        "device",
        "the device sends 20 or more events a minute for at least 10 minutes of the day",
        {"events_per_minute": 20, "min_busy_minutes": 10},
    ),
    Rule(
        "click_without_impression",
        1,
        "bot",
        "event",
        "a click whose impression_id no impression of that day or the day before carries",
    ),
    Rule(
        "repeated_review_with_link",
        1,
        "spam",
        "event",
        "the same review text with a link, posted from 3 or more devices (any link, the shop's own help "
        "pages too: wrong, corrected by version 2)",
        {"link_pattern": LINK_PATTERN_V1, "min_devices": 3},
    ),
    Rule(
        "repeated_review_with_link",
        2,
        "spam",
        "event",
        "the same review text with a link to a site other than the shop's own, posted from 3 or more "
        "devices on one day",
        {"link_pattern": URL_PATTERN, "shop_site_pattern": SHOP_SITE_PATTERN, "min_devices": 3},
        corrects=1,
        sql_file="repeated_review_with_outside_link",
    ),
    Rule(
        "link_heavy_review",
        2,
        "spam",
        "event",
        "a review with 2 or more links (whole URLs: a scheme, www. or a domain with a path; not e-mail addresses)",
        {"link_pattern": URL_PATTERN, "min_links": 2},
    ),
)
# Every version that ever ran, the current ones included: what a rule id@version in provenance meant.
RULE_HISTORY: tuple[Rule, ...] = RULES + (
    Rule(
        "link_heavy_review",
        1,
        "spam",
        "event",
        "a review with 2 or more links",
        {"link_pattern": LINK_PATTERN_V1, "min_links": 2},
        retired="replaced by version 2: counted http:// and www. of one URL as two links, so it removed "
        "genuine reviews holding a single URL",
    ),
)


def applied(void: set[tuple[str, int]], rules: tuple[Rule, ...] = RULES) -> list[tuple[int, Rule]]:
    """(rank, rule) of the rule versions that run, given the invalidated ``(id, version)`` pairs:
    an invalidated version never runs, and a version that ``corrects`` another runs only once that
    one is invalidated (until then the old version runs)."""
    return [
        (rank, r)
        for rank, r in enumerate(rules)
        if (r.id, r.version) not in void and (r.corrects is None or (r.id, r.corrects) in void)
    ]


def definitive(rules: tuple[Rule, ...] = RULES, kind: str | None = None) -> list[Rule]:
    """The latest version of each rule (of ``kind``): the rule's own definition, whichever version ran."""
    latest: dict[str, Rule] = {}
    for r in rules:
        if (kind is None or r.kind == kind) and (r.id not in latest or r.version > latest[r.id].version):
            latest[r.id] = r
    return list(latest.values())


def find_rule(ref: str) -> Rule | None:
    """The rule version named ``id@version`` in :data:`RULE_HISTORY`, or None."""
    return next((r for r in RULE_HISTORY if r.ref == ref), None)


def ruleset_version(rules: tuple[Rule, ...] = RULES) -> str:
    """A short stable version of the whole ruleset, e.g. ``rs-1a2b3c4d`` (changes with any rule)."""
    text = ";".join(sorted(f"{r.ref}:{sorted(r.params.items())}" for r in rules))
    return "rs-" + hashlib.sha256(text.encode()).hexdigest()[:8]


RULESET_VERSION = ruleset_version()


def rules_markdown() -> str:
    """The registry as a markdown table (docs/cleaning.md and asset metadata)."""
    lines = ["| rule | version | kind | removes | what | runs |", "|---|---|---|---|---|---|"]
    for r in sorted(RULE_HISTORY, key=lambda r: ([x.id for x in RULES].index(r.id), r.version)):
        runs = (
            f"no: {r.retired}"
            if r.retired
            else f"once version {r.corrects} is invalidated"
            if r.corrects
            else next(
                (
                    f"until invalidated (version {c.version} corrects it)"
                    for c in RULES
                    if c.id == r.id and c.corrects == r.version
                ),
                "yes",
            )
        )
        lines.append(
            f"| `{r.id}` | {r.version} | {r.kind} | {'the device' if r.level == 'device' else 'the event'} "
            f"| {r.description} | {runs} |"
        )
    return "\n".join(lines)
