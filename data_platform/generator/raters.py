"""Simulated human raters for the review sentiment project, answering Label Studio tasks.

A rater (:class:`RaterProfile`) has a known accuracy, an optional lean towards one class and a skip
rate, so label aggregation (majority vote, Dawid-Skene, ...) can be checked against the truth the
generator knows (:func:`simulate.review_truth`). :func:`simulate_annotations` answers import tasks
(as built by :func:`data_platform.labeling.label_studio.build_tasks`) and returns what Label Studio's
full JSON export would hold; :func:`write_export` drops it where exports land.
"""

from __future__ import annotations

import copy
import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from data_platform.base.enums import SENTIMENTS
from data_platform.generator.simulate import review_truth
from data_platform.labeling.label_studio import check_file_name, choice_result, write_json_atomic

DEFAULT_START = dt.datetime(2026, 11, 16, 9, 0, tzinfo=dt.UTC)
SECONDS_PER_TASK = 6.0  # median time on a task: this plus SECONDS_PER_CHAR per character of text
SECONDS_PER_CHAR = 0.08
PAUSE_SECONDS = 2.0  # mean gap between submitting a task and opening the next


@dataclass(frozen=True)
class RaterProfile:
    """How one simulated rater answers (``user_id`` is their Label Studio user id, keyword only).

    On a task with a known truth the rater first skips it with probability ``skip_rate``; otherwise
    they answer the truth with probability ``accuracy``. When wrong they pick one of the other
    classes uniformly, except that, with probability ``bias`` (when ``bias_toward`` is set), the
    wrong answer is ``bias_toward`` (if the truth is ``bias_toward`` itself, the wrong answer stays
    uniform). So ``accuracy`` is the rater's accuracy whatever the bias, and the bias decides where
    their mistakes go: see :meth:`confusion`.
    """

    name: str
    accuracy: float
    bias_toward: str | None = None
    bias: float = 0.0
    skip_rate: float = 0.02
    user_id: int = field(kw_only=True)

    def __post_init__(self) -> None:
        for name in ("accuracy", "bias", "skip_rate"):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"{self.name}: {name} must be in [0, 1], got {value}")
        if self.bias_toward is not None and self.bias_toward not in SENTIMENTS:
            raise ValueError(f"{self.name}: bias_toward must be one of {SENTIMENTS}, got {self.bias_toward!r}")

    def confusion(self, classes: Sequence[str] = SENTIMENTS) -> np.ndarray:
        """P(answer | truth) when the rater answers (rows: truth, columns: answer, in ``classes`` order)."""
        k = len(classes)
        out = np.full((k, k), (1.0 - self.accuracy) / (k - 1))
        lean = classes.index(self.bias_toward) if self.bias_toward is not None else None
        for truth in range(k):
            if lean is not None and truth != lean:
                out[truth] *= 1.0 - self.bias
                out[truth, lean] += (1.0 - self.accuracy) * self.bias
            out[truth, truth] = self.accuracy
        return out

    def answer(self, truth: str, rng: np.random.Generator, classes: Sequence[str] = SENTIMENTS) -> str | None:
        """One answer to a task whose true class is ``truth``: a class, or None for a skip."""
        skip, correct, biased, other = rng.random(4)
        if skip < self.skip_rate:
            return None
        if correct < self.accuracy:
            return truth
        if self.bias_toward is not None and self.bias_toward != truth and biased < self.bias:
            return self.bias_toward
        others = [c for c in classes if c != truth]
        return others[int(other * len(others))]


DEFAULT_PANEL: tuple[RaterProfile, ...] = (
    RaterProfile("alice", 0.95, user_id=101),
    RaterProfile("bilal", 0.93, user_id=102),
    RaterProfile("chen", 0.92, user_id=103),
    RaterProfile("dana", 0.80, user_id=104),
    RaterProfile("emil", 0.50, skip_rate=0.05, user_id=105),
    RaterProfile("fatou", 0.75, bias_toward="positive", bias=0.5, user_id=106),
)
"""Six raters: three good ones (alice, bilal, chen: 92-95% accurate), an average one (dana, 80%),
a careless one (emil, 50%, skips 5% of tasks) and one who leans positive (fatou, 75%: half of her
mistakes are "positive", so she answers "positive" for ~19% of negative and neutral reviews where
an unbiased rater of her accuracy would for 12.5%)."""


def simulate_annotations(
    tasks: list[dict],
    panel: Sequence[RaterProfile] = DEFAULT_PANEL,
    raters_per_task: int = 3,
    seed: int = 0,
    truth: Callable[[str], str | None] = review_truth,
    *,
    started_at: dt.datetime = DEFAULT_START,
    ambiguity: float = 0.0,
) -> list[dict]:
    """Label Studio's full JSON export of ``tasks`` after ``raters_per_task`` raters of ``panel`` did them.

    ``tasks`` are import tasks (``id``, ``data`` with ``text``, optional ``predictions``); each comes
    back (a copy, with its ``id``, ``data`` and ``predictions``) with ``annotations``: one per rater,
    ``raters_per_task`` distinct raters drawn at random per task, each annotation with ``id``
    (numbered from 1 over the export), ``completed_by`` (the rater's user id), ``result`` (the
    sentiment choice), ``was_cancelled``, ``ground_truth`` (false), ``created_at`` / ``updated_at``
    (ISO-8601 UTC; every rater works through their tasks in order from ``started_at``),
    ``lead_time`` (seconds) and ``task``. A skipped task is an annotation with ``was_cancelled``
    true and an empty ``result``; a task whose ``truth(text)`` is None (spam, unknown text) is
    skipped by all its raters. Deterministic for a given ``seed``.

    ``ambiguity`` (0 by default: raters err independently, the Dawid–Skene assumption) makes raters
    err *together*, as on real data: each task gets an ambiguity ``a ~ U[0, ambiguity)`` and a
    plausible wrong class (uniform among the others); each of its raters answers that class with
    probability ``a`` and otherwise answers as their profile says. Ambiguous items then get splits
    such as 12/7/1 out of 20 even from good raters, whose errors a model that assumes independent
    raters takes for near-certain evidence.
    """
    if not 0.0 <= ambiguity < 1.0:
        raise ValueError(f"ambiguity must be in [0, 1), got {ambiguity}")
    if not 1 <= raters_per_task <= len(panel):
        raise ValueError(f"raters_per_task must be between 1 and {len(panel)} (the panel), got {raters_per_task}")
    if len({r.user_id for r in panel}) != len(panel):
        raise ValueError("the panel's user ids are not distinct")
    rng = np.random.default_rng(seed)
    clock = {r.user_id: started_at for r in panel}
    export = []
    annotation_id = 0
    for task in tasks:
        task = copy.deepcopy(task)
        text = (task.get("data") or {}).get("text")
        true_label = truth(text) if isinstance(text, str) else None
        annotations = []
        confusable, item_ambiguity = None, 0.0
        if ambiguity > 0 and true_label is not None:
            others = [c for c in SENTIMENTS if c != true_label]
            confusable, item_ambiguity = others[int(rng.integers(len(others)))], float(rng.uniform(0, ambiguity))
        for rater in (panel[i] for i in rng.choice(len(panel), raters_per_task, replace=False)):
            label = rater.answer(true_label, rng) if true_label is not None else None
            if label is not None and confusable is not None and rng.random() < item_ambiguity:
                label = confusable
            speed = 0.4 + 0.6 * rater.accuracy  # careless raters click faster
            lead_time = float(
                rng.lognormal(np.log(speed * (SECONDS_PER_TASK + SECONDS_PER_CHAR * len(text or ""))), 0.5)
            )
            if label is None:
                lead_time = min(lead_time, float(rng.uniform(1.0, 4.0)))
            started = clock[rater.user_id] + dt.timedelta(seconds=float(rng.exponential(PAUSE_SECONDS)))
            done = started + dt.timedelta(seconds=lead_time)
            clock[rater.user_id] = done
            annotation_id += 1
            annotations.append(
                {
                    "id": annotation_id,
                    "completed_by": rater.user_id,
                    "result": [] if label is None else choice_result(label),
                    "was_cancelled": label is None,
                    "ground_truth": False,
                    "created_at": _iso(done),
                    "updated_at": _iso(done),
                    "lead_time": round(lead_time, 3),
                    "task": task.get("id"),
                }
            )
        task["annotations"] = annotations
        task.setdefault("predictions", [])
        task["total_annotations"] = sum(not a["was_cancelled"] for a in annotations)
        task["cancelled_annotations"] = sum(a["was_cancelled"] for a in annotations)
        task["total_predictions"] = len(task["predictions"])
        export.append(task)
    return export


def write_export(export: list[dict], landing_root: Path, name: str) -> Path:
    """Write an export atomically to ``<landing_root>/annotations/<name>.json``; return its path.

    ``name`` must be a plain file name stem (letters, digits, ``.``, ``_``, ``-``).
    """
    return write_json_atomic(Path(landing_root) / "annotations" / f"{check_file_name(name)}.json", export)


def _iso(t: dt.datetime) -> str:
    """The way Label Studio writes times: ``2026-11-16T09:00:12.345678Z``."""
    return t.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
