"""Data incidents the generator can inject from a given day on (to exercise drift and quality checks)."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

from data_platform.contracts import FIELDS

INCIDENT_KINDS = ("category_drift", "cents_prices", "volume_drop", "null_spike")

# Optional fields a null_spike may hit (currency is excluded: it is required whenever price is set).
NULL_SPIKE_FIELDS = tuple(f.name for f in FIELDS if not f.required_for and f.name != "currency")
DEFAULT_NULL_SPIKE_FIELD = "country"


@dataclass(frozen=True)
class Incident:
    """A data incident active from ``start`` (inclusive) to the last generated day.

    kind: ``category_drift`` (one category jumps from ~10% to ~40% of impressions),
    ``cents_prices`` (app version 3.2.0 appears on ~20% of devices and sends prices in integer
    cents), ``volume_drop`` (volume x 0.3) or ``null_spike`` (``field`` is missing or null on ~40%
    of events instead of ~1%; ``field`` defaults to ``country`` and is only allowed for null_spike).
    """

    kind: str
    start: dt.date
    field: str | None = None

    def __post_init__(self) -> None:
        if self.kind not in INCIDENT_KINDS:
            raise ValueError(f"unknown incident kind {self.kind!r}; expected one of {', '.join(INCIDENT_KINDS)}")
        if not isinstance(self.start, dt.date):
            raise ValueError(f"incident start must be a date, got {self.start!r}")
        if self.kind != "null_spike":
            if self.field is not None:
                raise ValueError(f"only null_spike takes a field, got {self.kind}:{self.field}")
            return
        if self.field is None:
            object.__setattr__(self, "field", DEFAULT_NULL_SPIKE_FIELD)
        if self.field not in NULL_SPIKE_FIELDS:
            raise ValueError(f"null_spike field must be one of {', '.join(NULL_SPIKE_FIELDS)}, got {self.field!r}")

    def active_on(self, day: dt.date) -> bool:
        """Whether the incident affects events of ``day``."""
        return day >= self.start

    def to_dict(self) -> dict:
        """JSON-ready form, as recorded in the manifest."""
        return {"kind": self.kind, "start": self.start.isoformat(), "field": self.field}


def parse_incident(spec: str) -> Incident:
    """Parse ``kind@YYYY-MM-DD`` or ``null_spike@YYYY-MM-DD:field`` into an Incident.

    Raises ValueError with the expected format on anything else.
    """
    usage = "expected kind@YYYY-MM-DD or null_spike@YYYY-MM-DD:field"
    kind, at, rest = spec.strip().partition("@")
    if not at or not kind or not rest:
        raise ValueError(f"bad incident {spec!r}: {usage}")
    day_text, colon, field = rest.partition(":")
    if colon and not field:
        raise ValueError(f"bad incident {spec!r}: empty field after ':'; {usage}")
    try:
        if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", day_text):
            raise ValueError
        start = dt.date.fromisoformat(day_text)
    except ValueError:
        raise ValueError(f"bad incident {spec!r}: {day_text!r} is not a YYYY-MM-DD date; {usage}") from None
    return Incident(kind, start, field or None)
