"""What is monitored: the tables, their partition column, and their features.

Ids (session, user, event ids) are not monitored as categoricals: every day brings new values, so
their "distribution" always drifts. Three views of the data are profiled every day:

- ``raw.events``: what producers send, before any correction (a client sending prices in cents shows
  here, even though the clean layer fixes it);
- ``clean.events``: what every later stage reads;
- ``labels.ctr_examples``: the training examples of the click model.

and one more for training/serving skew: ``monitoring.serving_impressions``, a view of the clean
impressions (what the serving model sees), compared with the training examples on their shared features.
"""

from __future__ import annotations

from dataclasses import dataclass

from data_platform.validation import FeatureSpec


@dataclass(frozen=True)
class MonitoredTable:
    """A table (or view) profiled per day."""

    table: str
    partition_column: str
    features: tuple[FeatureSpec, ...]


N, C, T = "numeric", "categorical", "text"

MONITORED: tuple[MonitoredTable, ...] = (
    MonitoredTable(
        "raw.events",
        "event_date",
        (
            FeatureSpec("event_type", C),
            FeatureSpec("price", N),
            FeatureSpec("currency", C),
            FeatureSpec("position", N),
            FeatureSpec("predicted_ctr", N),
            FeatureSpec("model_version", C),
            FeatureSpec("category", C),
            FeatureSpec("rating", N),
            FeatureSpec("text", T),
            FeatureSpec("country", C),
            FeatureSpec("device", C),
            FeatureSpec("app_version", C),
            FeatureSpec("user_agent", T),
            FeatureSpec("ip", T),
        ),
    ),
    MonitoredTable(
        "clean.events",
        "event_date",
        (
            FeatureSpec("event_type", C),
            FeatureSpec("price_eur", N),
            FeatureSpec("position", N),
            FeatureSpec("predicted_ctr", N),
            FeatureSpec("category", C),
            FeatureSpec("rating", N),
            FeatureSpec("text", T),
            FeatureSpec("country", C),
            FeatureSpec("device", C),
            FeatureSpec("app_version", C),
            FeatureSpec("price_fix", C),
        ),
    ),
    MonitoredTable(
        "labels.ctr_examples",
        "event_date",
        (
            FeatureSpec("label", N),
            FeatureSpec("position", N),
            FeatureSpec("price_eur", N),
            FeatureSpec("category", C),
            FeatureSpec("device", C),
            FeatureSpec("country", C),
            FeatureSpec("predicted_ctr", N),
            FeatureSpec("hour_of_day", N),
            *(
                FeatureSpec(name, N, history_days=7, bounded=False)
                for name in ("user_impressions_7d", "user_clicks_7d", "item_impressions_7d", "item_clicks_7d")
            ),
        ),
    ),
    MonitoredTable(
        "monitoring.serving_impressions",
        "event_date",
        (
            FeatureSpec("position", N),
            FeatureSpec("price_eur", N),
            FeatureSpec("category", C),
            FeatureSpec("device", C),
            FeatureSpec("country", C),
            FeatureSpec("predicted_ctr", N),
        ),
    ),
)
BY_TABLE = {m.table: m for m in MONITORED}

# Training vs serving: the training examples against what the serving model sees, feature by feature.
SKEW = ("labels.ctr_examples", "monitoring.serving_impressions")


def skew_features() -> tuple[str, ...]:
    """The features both sides of the skew comparison have."""
    training = {f.name for f in BY_TABLE[SKEW[0]].features}
    return tuple(f.name for f in BY_TABLE[SKEW[1]].features if f.name in training)
