"""The rater registry (``raters.yaml``) joined with what the platform measures about each rater.

Declared per rater: pool (in_house, outsourced, crowd), qualifications (languages, domain expert),
cost per label, labels per hour and hours per working day. Measured, from the annotations the
platform has read: throughput (from annotation lead times and the gaps between a rater's
submissions) and quality (accuracy on gold, agreement with the consensus, the Dawid–Skene estimate).
:func:`rater_profiles` merges both; the planner (:mod:`data_platform.labeling.planner`) plans with it.
"""

from __future__ import annotations

import datetime as dt
import json
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path

import yaml

REGISTRY_FILE = Path(__file__).with_name("raters.yaml")
POOLS = ("in_house", "outsourced", "crowd")
SESSION_BREAK_S = 30 * 60  # a gap longer than this between two submissions is a break, not work
MIN_TIMED = 20  # annotations needed before a rater's measured throughput replaces the declared one
PRIOR_WEIGHT = 10.0  # gold accuracy is shrunk towards the prior as if the prior had this many gold items


@dataclass(frozen=True)
class Rater:
    """One registered rater, with measured figures once known (``*_source`` says where each came from)."""

    id: str
    name: str
    pool: str
    languages: tuple[str, ...]
    domain_expert: bool
    cost_per_label: float
    labels_per_hour: float
    hours_per_day: float
    prior_accuracy: float
    gold_only: bool = False
    accuracy: float | None = None  # planning accuracy: gold accuracy shrunk to the prior, else the prior
    accuracy_source: str = "registry"
    throughput_source: str = "registry"
    history: dict = field(default_factory=dict)

    @property
    def labels_per_day(self) -> float:
        """Labels a working day at the rater's throughput."""
        return self.labels_per_hour * self.hours_per_day

    @property
    def planning_accuracy(self) -> float:
        """The accuracy the planner assumes for this rater."""
        return self.prior_accuracy if self.accuracy is None else self.accuracy


def load_registry(path: str | Path | None = None) -> list[Rater]:
    """The raters of ``raters.yaml`` (default: the one shipped beside this module), pool defaults
    filled in. Raises ValueError on an unknown pool, a duplicate id, or a non-positive cost, speed
    or working time, or an accuracy outside (0, 1]."""
    source = Path(path) if path else REGISTRY_FILE
    document = yaml.safe_load(source.read_text(encoding="utf-8")) or {}
    pools = document.get("pools") or {}
    unknown = set(pools) - set(POOLS)
    if unknown:
        raise ValueError(f"{source}: unknown pools {sorted(unknown)}; expected {POOLS}")
    raters, seen = [], set()
    for n, entry in enumerate(document.get("raters") or []):
        where = f"{source}: rater {n} ({entry.get('id')!r})"
        pool = entry.get("pool")
        if pool not in POOLS:
            raise ValueError(f"{where}: pool must be one of {POOLS}, got {pool!r}")
        defaults = pools.get(pool, {})
        values = {
            k: entry.get(k, defaults.get(k))
            for k in ("cost_per_label", "labels_per_hour", "hours_per_day", "prior_accuracy")
        }
        for key, value in values.items():
            if not isinstance(value, (int, float)) or isinstance(value, bool) or value <= 0:
                raise ValueError(f"{where}: {key} must be a positive number, got {value!r}")
        if values["prior_accuracy"] > 1:
            raise ValueError(f"{where}: prior_accuracy must be in (0, 1], got {values['prior_accuracy']}")
        rater_id = str(entry.get("id") or "")
        if not rater_id or rater_id in seen:
            raise ValueError(f"{where}: id missing or given twice")
        seen.add(rater_id)
        raters.append(
            Rater(
                id=rater_id,
                name=str(entry.get("name") or rater_id),
                pool=pool,
                languages=tuple(entry.get("languages") or ()),
                domain_expert=bool(entry.get("domain_expert", False)),
                gold_only=bool(entry.get("gold_only", False)),
                **{k: float(v) for k, v in values.items()},
            )
        )
    return raters


def seconds_per_label(timings: Iterable[Mapping]) -> dict[str, tuple[float, int]]:
    """Measured working seconds per label for each rater: ``{rater: (seconds, annotations timed)}``.

    ``timings``: rows with ``rater``, ``created_at`` (ISO-8601, the submission time) and
    ``lead_time`` (seconds spent on the task, or None). A rater's annotations are taken in time
    order; each one's working time is the gap since the rater's previous submission (the pause
    between tasks included), except that the lead time is used for the first one, after a break
    (a gap over :data:`SESSION_BREAK_S`), and when the gap is shorter than the lead time (answers
    submitted in bulk, e.g. through the API). Without a lead time such an annotation is not timed.
    """
    by_rater: dict[str, list[tuple[dt.datetime, float | None]]] = {}
    for t in timings:
        created = _parse_time(t.get("created_at"))
        lead = t.get("lead_time")
        lead = float(lead) if isinstance(lead, (int, float)) and not isinstance(lead, bool) and lead > 0 else None
        if created is not None and t.get("rater"):
            by_rater.setdefault(str(t["rater"]), []).append((created, lead))
    out = {}
    for rater, items in by_rater.items():
        items.sort(key=lambda x: x[0])
        busy, previous = [], None
        for created, lead in items:
            gap = (created - previous).total_seconds() if previous is not None else None
            previous = created
            if gap is None or gap > SESSION_BREAK_S or (lead is not None and gap < lead):
                if lead is not None:
                    busy.append(lead)
            elif gap > 0:
                busy.append(gap)
        if busy:
            out[rater] = (sum(busy) / len(busy), len(busy))
    return out


def _parse_time(value) -> dt.datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)


def annotation_timings(export_files: Iterable[Path]) -> list[dict]:
    """``rater``, ``created_at`` and ``lead_time`` of every annotation in Label Studio JSON exports.

    Raters are named as :func:`data_platform.labeling.label_studio.parse_export` names them; files
    or parts it would reject are skipped here (the annotations asset reports them)."""
    from data_platform.labeling.label_studio import parse_export

    out = []
    for path in export_files:
        parsed = parse_export(path)
        by_id = {a["annotation_id"]: a for a in parsed.annotations if a.get("annotation_id") is not None}
        if not by_id:
            continue
        try:
            tasks = json.loads(Path(path).read_text(encoding="utf-8-sig"))
        except (OSError, ValueError):
            continue
        for task in tasks if isinstance(tasks, list) else []:
            for annotation in (task.get("annotations") or []) if isinstance(task, dict) else []:
                row = by_id.get(annotation.get("id")) if isinstance(annotation, dict) else None
                if row is not None:
                    out.append(
                        {
                            "rater": row["rater"],
                            "created_at": row["created_at"],
                            "lead_time": annotation.get("lead_time"),
                        }
                    )
    return out


def rater_profiles(
    registry: list[Rater], quality: Iterable[Mapping] = (), timings: Iterable[Mapping] = ()
) -> list[Rater]:
    """The registry with each rater's measured figures folded in.

    ``quality``: rows of :func:`data_platform.labeling.human.rater_report` (``rater``, ``gold_items``,
    ``gold_accuracy``, ``agreement_with_consensus``, ``ds_accuracy``, ...). Planning accuracy is the
    gold accuracy shrunk towards the registry prior, ``(correct + PRIOR_WEIGHT * prior) / (gold_items
    + PRIOR_WEIGHT)``; without gold items, the prior (Dawid–Skene's estimate is shown, not planned on:
    it can be optimistic with few raters per item). Throughput: measured when at least
    :data:`MIN_TIMED` annotations were timed (see :func:`seconds_per_label`), else declared.
    Raters seen in the annotations but not registered are left out (the caller lists them).
    """
    by_rater = {str(q["rater"]): dict(q) for q in quality}
    speeds = seconds_per_label(timings)
    out = []
    for rater in registry:
        history = by_rater.get(rater.id, {})
        changes: dict = {"history": history}
        gold_items = int(history.get("gold_items") or 0)
        gold_accuracy = history.get("gold_accuracy")
        if gold_items and gold_accuracy is not None and not math.isnan(float(gold_accuracy)):
            correct = float(gold_accuracy) * gold_items
            changes["accuracy"] = (correct + PRIOR_WEIGHT * rater.prior_accuracy) / (gold_items + PRIOR_WEIGHT)
            changes["accuracy_source"] = f"gold ({gold_items} items) + prior"
        seconds, timed = speeds.get(rater.id, (None, 0))
        if seconds and timed >= MIN_TIMED:
            changes["labels_per_hour"] = 3600.0 / seconds
            changes["throughput_source"] = f"measured ({timed} annotations)"
        out.append(replace(rater, **changes))
    return out


def unregistered(registry: list[Rater], seen_raters: Iterable[str]) -> list[str]:
    """Raters who annotated but are not in the registry (their cost and pool are unknown)."""
    known = {r.id for r in registry}
    return sorted({str(r) for r in seen_raters} - known)
