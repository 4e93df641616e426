"""The retraining signal: should the model of a dataset be retrained, and why.

For each published dataset (``splits.exports``: CTR clicks, reviews) the signal of day D compares
what arrived after the latest published version's last day, up to D, with the version itself:

- **feature drift**: each new day's feature statistics (``monitoring.feature_stats``) against the
  version's days merged, with the platform's drift metrics and ERROR limits
  (``validation/drift_thresholds.yaml``); reviews, too few a day for that, compare the category and
  rating shares of all new reviews with the version's (L-infinity, the categorical ERROR limit);
- **label drift**: CTR of the new mature examples against the version's (two-proportion z-test, and
  a minimum relative change so that big samples do not flag trivia); for reviews the shares of the
  label classes (L-infinity);
- **new mature labels**: mature click labels (or new human review labels) not in the version, as a
  share of the version's;
- **calibration** (CTR): the actual/predicted CTR ratio of the new mature examples against the
  version's, and the change in normalized entropy.

Each reason that fires is kept with its figures; ``refresh`` is true when any does. Pure functions
here; :mod:`data_platform.flywheel.assets` reads the warehouse and records the decisions.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

REASONS = {
    "feature_drift": "a feature of the new data drifted past its ERROR limit against the published version",
    "label_drift": "the label distribution moved against the published version",
    "new_labels": "enough new mature labels accumulated since the published version",
    "calibration": "actual vs predicted CTR degraded against the published version",
}


@dataclass(frozen=True)
class SignalThresholds:
    """When each reason fires (defaults are the asset config's)."""

    min_new_label_share: float = 0.5  # new mature labels / the version's labeled examples
    label_z: float = 4.0  # |z| of the two-proportion test for the CTR
    label_min_relative_change: float = 0.10  # ... and the CTR must move by at least this much (relative)
    label_linf: float = 0.15  # review label classes: L-infinity of the shares
    calibration_tolerance: float = 0.15  # |ratio_new / ratio_version - 1|
    max_entropy_increase: float = 0.05  # normalized entropy new - version
    min_rows: int = 1000  # a span under this many values is not judged (CTR)
    min_reviews: int = 200  # review spans under this many reviews are not judged


@dataclass
class Decision:
    """The signal for one dataset on one day."""

    dataset: str
    day: str
    version: str | None
    refresh: bool = False
    reasons: list[dict] = field(default_factory=list)
    figures: dict = field(default_factory=dict)
    note: str = ""

    def as_dict(self) -> dict:
        """JSON-ready form (stored in monitoring.retraining_signal and in the asset metadata)."""
        return {
            "dataset": self.dataset,
            "day": self.day,
            "version": self.version,
            "refresh": self.refresh,
            "reasons": self.reasons,
            "figures": self.figures,
            "note": self.note,
        }

    def summary(self) -> str:
        """One line: the decision and its reasons."""
        if not self.refresh:
            return f"{self.dataset}: no refresh" + (f" ({self.note})" if self.note else "")
        return f"{self.dataset}: REFRESH RECOMMENDED ({'; '.join(r['detail'] for r in self.reasons)})"


def two_proportion_z(k1: int, n1: int, k2: int, n2: int) -> float:
    """z statistic of the difference of two proportions (pooled variance); 0 when undefined."""
    if min(n1, n2) <= 0:
        return 0.0
    pooled = (k1 + k2) / (n1 + n2)
    se = math.sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / n2))
    return 0.0 if se == 0 else (k1 / n1 - k2 / n2) / se


def linf_shares(current: Mapping[str, float], reference: Mapping[str, float]) -> tuple[float, str | None]:
    """(L-infinity distance of two count vectors as shares, the value that moved most)."""
    total_c, total_r = sum(current.values()), sum(reference.values())
    if not total_c or not total_r:
        return 0.0, None
    moves = {k: abs(current.get(k, 0) / total_c - reference.get(k, 0) / total_r) for k in set(current) | set(reference)}
    worst = max(moves, key=lambda k: (moves[k], k))
    return moves[worst], worst


def decide(
    decision: Decision,
    thresholds: SignalThresholds,
    *,
    feature_drift: Sequence[Mapping] = (),
    label: Mapping | None = None,
    new_labels: Mapping | None = None,
    calibration: Mapping | None = None,
) -> Decision:
    """Fill ``decision`` from the measured parts (any may be missing: it is then not judged).

    ``feature_drift``: drift rows (table, feature, metric, value, error, severity, day) already judged
    with the drift thresholds; only ERROR rows count. ``label``: for CTR ``{"current": (clicks, n),
    "reference": (clicks, n)}``, for reviews ``{"current": counts by class, "reference": ...}``.
    ``new_labels``: ``{"new": int, "reference": int}``. ``calibration``: ``{"current": (ratio, ne),
    "reference": (ratio, ne), "rows": n}``.
    """
    t = thresholds
    errors = [r for r in feature_drift if r.get("severity") == "ERROR"]
    if errors:
        worst = {}
        for r in errors:
            key = (r["feature"], r.get("day"))
            if key not in worst or abs(r["value"]) / max(r["error"], 1e-12) > abs(worst[key]["value"]) / max(
                worst[key]["error"], 1e-12
            ):
                worst[key] = r
        shown = sorted(worst.values(), key=lambda r: (str(r.get("day")), r["feature"]))
        decision.reasons.append(
            {
                "reason": "feature_drift",
                "detail": "drift of "
                + ", ".join(
                    f"{r['feature']} on {r.get('day')} ({r['metric']} {r['value']:.3g} >= {r['error']})"
                    for r in shown[:5]
                ),
                "features": sorted({r["feature"] for r in errors}),
            }
        )
    decision.figures["features_judged"] = len({(r["feature"], r.get("day")) for r in feature_drift})

    if label is not None:
        current, reference = label["current"], label["reference"]
        if isinstance(current, tuple):  # CTR: (clicks, examples)
            (k1, n1), (k2, n2) = current, reference
            if min(n1, n2) >= t.min_rows:
                z = two_proportion_z(k1, n1, k2, n2)
                ctr_new, ctr_ref = k1 / n1, k2 / n2
                change = ctr_new / ctr_ref - 1 if ctr_ref else 0.0
                decision.figures.update(ctr_new=round(ctr_new, 5), ctr_version=round(ctr_ref, 5), ctr_z=round(z, 2))
                if abs(z) >= t.label_z and abs(change) >= t.label_min_relative_change:
                    decision.reasons.append(
                        {
                            "reason": "label_drift",
                            "detail": f"CTR {ctr_ref:.4f} -> {ctr_new:.4f} ({change:+.1%}, z {z:.1f})",
                        }
                    )
        elif sum(current.values()) >= t.min_reviews and sum(reference.values()) >= t.min_reviews:
            distance, moved = linf_shares(current, reference)
            decision.figures["label_linf"] = round(distance, 4)
            if distance >= t.label_linf:
                decision.reasons.append(
                    {"reason": "label_drift", "detail": f"label shares moved by {distance:.3f} (most: {moved})"}
                )

    if new_labels is not None:
        share = new_labels["new"] / new_labels["reference"] if new_labels["reference"] else math.inf
        decision.figures.update(
            new_labels=new_labels["new"],
            version_labels=new_labels["reference"],
            new_label_share=round(share, 4) if math.isfinite(share) else None,
        )
        if new_labels["new"] and share >= t.min_new_label_share:
            decision.reasons.append(
                {
                    "reason": "new_labels",
                    "detail": f"{new_labels['new']:,} new mature labels, "
                    f"{share:.0%} of the version's {new_labels['reference']:,}",
                }
            )

    if calibration is not None and calibration.get("rows", 0) >= t.min_rows:
        (ratio_new, ne_new), (ratio_ref, ne_ref) = calibration["current"], calibration["reference"]
        if ratio_new is not None and ratio_ref:
            drift = ratio_new / ratio_ref - 1
            decision.figures.update(
                calibration_ratio_new=round(ratio_new, 4),
                calibration_ratio_version=round(ratio_ref, 4),
                normalized_entropy_new=_r(ne_new),
                normalized_entropy_version=_r(ne_ref),
            )
            worse_entropy = ne_new is not None and ne_ref is not None and ne_new - ne_ref > t.max_entropy_increase
            if abs(drift) > t.calibration_tolerance or worse_entropy:
                decision.reasons.append(
                    {
                        "reason": "calibration",
                        "detail": f"actual/predicted CTR {ratio_ref:.3f} -> "
                        f"{ratio_new:.3f}"
                        + (f", normalized entropy {ne_ref:.3f} -> {ne_new:.3f}" if worse_entropy else ""),
                    }
                )
    decision.refresh = bool(decision.reasons)
    return decision


def _r(value):
    return None if value is None else round(float(value), 4)
