"""The data source inventory (``sources.yaml``) and the freshness policies it implies."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import dagster as dg
import yaml

SOURCES_FILE = Path(__file__).parent / "sources.yaml"
CADENCES = {
    "hourly": dt.timedelta(hours=1),
    "daily": dt.timedelta(days=1),
    "weekly": dt.timedelta(weeks=1),
    "monthly": dt.timedelta(days=31),
}
FIELDS = (
    "name",
    "description",
    "owner",
    "landing",
    "feeds",
    "refresh",
    "expected_daily_volume",
    "cost_per_month_eur",
    "time_to_collect",
    "labeled",
)


def load_sources(path: Path = SOURCES_FILE) -> list[dict]:
    """The inventory's sources; ValueError naming the entry when one is incomplete or has an unknown cadence."""
    body = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    sources = body.get("sources") if isinstance(body, dict) else None
    if not isinstance(sources, list):
        raise ValueError(f"{path}: expected a 'sources' list")
    for i, source in enumerate(sources):
        missing = [f for f in FIELDS if f not in (source or {})]
        if missing:
            raise ValueError(f"{path}: source #{i + 1} lacks {', '.join(missing)}")
        if source["refresh"] not in CADENCES:
            raise ValueError(f"{path}: source {source['name']}: refresh must be one of {', '.join(CADENCES)}")
    return sources


def freshness_policies(sources: list[dict] | None = None) -> dict[dg.AssetKey, dg.FreshnessPolicy]:
    """Per fed asset: warn after one refresh cadence without new data, fail after two."""
    out = {}
    for source in sources if sources is not None else load_sources():
        cadence = CADENCES[source["refresh"]]
        out[dg.AssetKey(source["feeds"].split("/"))] = dg.FreshnessPolicy.time_window(
            fail_window=2 * cadence, warn_window=cadence
        )
    return out
