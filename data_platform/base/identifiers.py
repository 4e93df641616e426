"""What a personal identifier looks like, in one place: the patterns redaction, masking and erasure
verification share (base layer: every stage and the metadata helpers use them).

- :data:`PII_PATTERNS`: personal data in free text (URLs, e-mails, card-like numbers, IPv4, phones), each
  with its placeholder; :func:`redact_text` replaces them (the clean step's redaction, see
  ``privacy/redaction.py`` for its SQL twin).
- :data:`PERSON_FIELDS`: field names whose whole value names a person (``anon_id``, ``user_id``, ``ip``...).
- :class:`Masker` / :func:`mask_records`: what every preview and failing-row sample shown in Dagster goes
  through (``metadata.markdown_table`` calls it), so no raw identifier, and no keyed pseudonym, reaches
  Dagster's event log or the UI. A value of a person field becomes ``<anon_id 1>``, ``<anon_id 2>``...
  (numbered per table: rows of one device stay recognisable within a preview and nowhere else); in any
  other text, e-mails, phones, addresses, pseudonyms and the values of person fields in a raw JSON line are
  replaced by placeholders.
- :data:`TOKEN_PATTERN`, :data:`SUB_TOKEN_PATTERNS`, :data:`PSEUDONYM_SHAPE`: the candidate tokens erasure
  verification cuts text into (``privacy/verify.py``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping

PII_PATTERNS: dict[str, str] = {
    "<URL>": r"(?i)\b(?:https?://|www\.)[^\s<>\"']+",
    "<EMAIL>": r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}",
    "<CARD>": r"\b\d{4}[ -]?\d{4}[ -]?\d{4}[ -]?\d{1,7}\b",
    "<IP>": r"\b\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}\b",
    "<PHONE>": r"(?:\+\d{1,3}[ .-]?(?:\(\d{1,4}\)[ .-]?)?\d{1,4}(?:[ .-]?\d{2,4}){1,4}"
    r"|\(\d{3}\)[ .-]?\d{3}[ .-]\d{4}"
    r"|\b0\d{2,4}[ /.-]?\d{3,4}(?:[ .-]?\d{2,5})?\b)",
}
"""Personal data in free text, in the order it is replaced (URLs first, so an address inside a link goes
with the link; card-like numbers before phones). Python ``re`` and DuckDB's RE2 read them alike."""

IPV6 = r"(?i)\b[0-9a-f]{1,4}(?::[0-9a-f]{0,4}){3,7}\b"  # three colons at least: not a time of day
PSEUDONYM_SHAPE = r"p_[0-9a-f]{24}"
"""A keyed pseudonym as ``base/pseudonyms.py`` makes it, without word boundaries (for text packed without
separators); :data:`PSEUDONYM` is the same as a whole word."""
PSEUDONYM = rf"\b{PSEUDONYM_SHAPE}\b"

PERSON_FIELDS: tuple[str, ...] = ("anon_id", "user_id", "person_key", "ip", "email", "phone", "subject")
"""Field (column, JSON key) names whose whole value names a person, raw or pseudonymised."""

TOKEN_PATTERN = r"[A-Za-z0-9_.@%+:-]+"
"""Candidate tokens for erasure verification: maximal runs of the characters identifiers are made of
(ids, UUIDs, pseudonyms, e-mails, IPv4 and IPv6 addresses). Phones, which hold spaces, are cut out with
``PII_PATTERNS['<PHONE>']`` besides."""

SUB_TOKEN_PATTERNS: dict[str, str] = {
    "word": r"[A-Za-z0-9_-]+",
    "email": PII_PATTERNS["<EMAIL>"],
    "ipv4": PII_PATTERNS["<IP>"],
    "ipv6": r"[0-9A-Fa-f]{0,4}(?::[0-9A-Fa-f]{0,4}){2,7}",
}
"""What a candidate token is cut into as well (``user.name@host``: the address, and ``user``, ``name``...):
an identifier inside punctuation is still found."""

_COMPILED = [(placeholder, re.compile(pattern)) for placeholder, pattern in PII_PATTERNS.items()]
FREE_TEXT_FIELDS: tuple[str, ...] = ("text",)
"""Field names of free text: in a raw line shown in a preview their whole value is masked (a line cut short
can end inside an e-mail address that no pattern recognises any more)."""
_FIELD_NAMES = "|".join((*PERSON_FIELDS, *FREE_TEXT_FIELDS))
# "anon_id": "...", "user_id":123, anon_id=... in a raw line, also cut short or broken; escaped quotes kept inside
_FIELD_VALUE = re.compile(rf"""(["']?\b({_FIELD_NAMES})\b["']?\s*[:=]\s*)("(?:[^"\\]|\\.)*"?|'[^']*'?|[^\s,}}\]]+)""")
_MASKS = [
    *_COMPILED,
    ("<IP>", re.compile(IPV6)),
    ("<PSEUDONYM>", re.compile(PSEUDONYM)),
]


def redact_text(text: str | None) -> str | None:
    """Replace every match of :data:`PII_PATTERNS` by its placeholder (None stays None)."""
    if text is None:
        return None
    for placeholder, pattern in _COMPILED:
        text = pattern.sub(placeholder, text)
    return text


class Masker:
    """Masks the values of one preview: person fields numbered per kind (the same value, the same number),
    identifiers in other text replaced by placeholders."""

    def __init__(self) -> None:
        self._numbers: dict[str, dict[str, int]] = {}

    def person(self, kind: str, value: object) -> str:
        """``<kind n>``: the n-th distinct value of that kind this masker has seen."""
        seen = self._numbers.setdefault(kind, {})
        return f"<{kind} {seen.setdefault(str(value), len(seen) + 1)}>"

    def text(self, value: str) -> str:
        """``value`` with the values of person fields (``"anon_id": "..."``), e-mails, phones, URLs, card
        numbers, IP addresses and keyed pseudonyms replaced."""

        def field(match: re.Match) -> str:
            raw = match.group(3)
            quote = raw[0] if raw[:1] in ("'", '"') else ""
            closed = quote if quote and len(raw) > 1 and raw.endswith(quote) else ""
            inner = raw[len(quote) : len(raw) - len(closed)]
            return match.group(1) + quote + self.person(match.group(2), inner) + closed

        value = _FIELD_VALUE.sub(field, value)
        for placeholder, pattern in _MASKS:
            value = pattern.sub(placeholder, value)
        return value

    def cell(self, column: str, value: object) -> object:
        """A preview cell: masked by its column's name if it is a person field, else by its text."""
        if value is None:
            return None
        if column in PERSON_FIELDS:
            return self.person(column, value)
        if isinstance(value, (bool, int, float)):
            return value
        return self.text(str(value))


def mask_records(records: list[Mapping]) -> list[dict]:
    """Rows for a preview or a failing-row sample with no identifier left (see :class:`Masker`)."""
    masker = Masker()
    return [{column: masker.cell(column, value) for column, value in r.items()} for r in records]


def mask_text(text: str) -> str:
    """One text (a log line, a description) with no identifier left (see :meth:`Masker.text`)."""
    return Masker().text(text)
