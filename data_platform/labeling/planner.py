"""The labeling budget planner: how many examples M days and a budget buy, at what label quality.

The model, stated so it can be checked:

- **Votes.** Each task goes to ``n`` raters drawn from the chosen pool(s) in proportion to their
  daily capacity, so a vote is right with probability ``p = sum_i w_i p_i`` (``w_i``: rater i's share
  of the votes, ``p_i``: their planning accuracy, see :mod:`data_platform.labeling.registry`). Votes
  on a task are taken as independent given the truth.
- **Majority-vote accuracy** (:func:`majority_vote_accuracy`): with ``n`` votes, the item is right when
  more than half are right; a tie (even ``n``) is broken by a coin:
  ``P = sum_{k > n/2} C(n, k) p^k (1-p)^(n-k) + 1/2 C(n, n/2) p^(n/2) (1-p)^(n/2)``. Wrong votes
  may also split over several wrong classes, which only helps the truth, so for K > 2 classes this
  is a lower bound; :func:`plurality_accuracy` gives the exact plurality-vote figure when wrong votes
  fall uniformly on the K - 1 other classes.
- **Redundancy** (:func:`votes_needed`): the smallest ``n`` whose accuracy reaches the target.
- **Throughput and cost.** Capacity = sum of labels per day of the pool's raters (measured labels per
  hour when known, else declared, times hours per day); cost of a vote = the capacity-weighted mean
  cost per label. A share of every batch are hidden gold items (``gold_share``): they are paid for but
  add no new example. So new examples per day = capacity x (1 - gold_share) / n, and a new example
  costs n x vote cost / (1 - gold_share).
- **Plan.** Examples = min(days x per day, budget / cost per example), rounded down; the smaller one
  names the binding constraint. The inverse (:func:`plan_for_examples`) gives days and cost for N.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from data_platform.labeling.registry import Rater

DEFAULT_TARGET = 0.95
MAX_VOTES = 15


def majority_vote_accuracy(p: float, n: int) -> float:
    """P(a majority of ``n`` independent votes, each right with probability ``p``, is right); ties
    (even ``n``) broken at random. ``n >= 1``, ``0 <= p <= 1``."""
    if n < 1:
        raise ValueError(f"n must be >= 1, got {n}")
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"p must be in [0, 1], got {p}")
    total = sum(math.comb(n, k) * p**k * (1 - p) ** (n - k) for k in range(n // 2 + 1, n + 1))
    if n % 2 == 0:
        total += 0.5 * math.comb(n, n // 2) * (p * (1 - p)) ** (n // 2)
    return float(total)


def plurality_accuracy(p: float, n: int, k: int) -> float:
    """P(the plurality of ``n`` votes is right) with ``k`` classes, each vote right with probability
    ``p`` and otherwise one of the ``k - 1`` wrong classes uniformly; ties among the leaders broken
    uniformly at random. Exact, by enumerating the vote counts (fine for n <= 15, k <= 5)."""
    if k < 2:
        raise ValueError(f"k must be >= 2, got {k}")
    q = (1 - p) / (k - 1)
    total = 0.0
    for counts in _compositions(n, k):
        prob = math.factorial(n) * p ** counts[0] / math.factorial(counts[0])
        for c in counts[1:]:
            prob *= q**c / math.factorial(c)
        top = max(counts)
        if counts[0] == top:
            total += prob / sum(c == top for c in counts)
    return float(total)


def _compositions(n: int, k: int):
    """Every tuple of ``k`` non-negative ints that sums to ``n``."""
    if k == 1:
        yield (n,)
        return
    for first in range(n + 1):
        for rest in _compositions(n - first, k - 1):
            yield (first, *rest)


def votes_needed(p: float, target: float, max_votes: int = MAX_VOTES, n_classes: int | None = None) -> int | None:
    """The smallest number of votes whose majority (or, with ``n_classes``, plurality) accuracy
    reaches ``target``; None when even ``max_votes`` do not (a pool this noisy cannot get there)."""
    for n in range(1, max_votes + 1):
        accuracy = majority_vote_accuracy(p, n) if n_classes is None else plurality_accuracy(p, n, n_classes)
        if accuracy >= target - 1e-12:
            return n
    return None


@dataclass(frozen=True)
class PoolRates:
    """What the chosen raters can do together per working day."""

    pools: tuple[str, ...]
    raters: tuple[str, ...]
    votes_per_day: float
    cost_per_vote: float
    vote_accuracy: float
    throughput_sources: dict = field(default_factory=dict)


def pool_rates(raters: Sequence[Rater], pools: Sequence[str] | None = None) -> PoolRates:
    """Capacity, mean cost and mean accuracy of a vote from the raters of ``pools`` (all pools when
    None), each rater weighted by their labels per day. Gold-only raters (experts) are left out."""
    chosen = [r for r in raters if not r.gold_only and (not pools or r.pool in pools)]
    if not chosen:
        raise ValueError(f"no rater in pools {list(pools or [])}")
    capacity = sum(r.labels_per_day for r in chosen)
    weights = [r.labels_per_day / capacity for r in chosen]
    return PoolRates(
        pools=tuple(sorted({r.pool for r in chosen})),
        raters=tuple(r.id for r in chosen),
        votes_per_day=capacity,
        cost_per_vote=sum(w * r.cost_per_label for w, r in zip(weights, chosen)),
        vote_accuracy=sum(w * r.planning_accuracy for w, r in zip(weights, chosen)),
        throughput_sources={r.id: r.throughput_source for r in chosen},
    )


@dataclass(frozen=True)
class Plan:
    """A labeling plan and the quality it buys."""

    pools: tuple[str, ...]
    votes_per_example: int | None
    expected_accuracy: float | None
    examples: int
    days: float
    cost: float
    examples_per_day: float
    cost_per_example: float
    binding: str  # "budget", "time", or "target" (the target accuracy is out of reach)
    rates: PoolRates

    def as_row(self) -> dict:
        """A flat row for tables (CLI, asset metadata)."""
        return {
            "pools": "+".join(self.pools),
            "raters": len(self.rates.raters),
            "vote_accuracy": round(self.rates.vote_accuracy, 4),
            "votes_per_example": self.votes_per_example,
            "expected_accuracy": None if self.expected_accuracy is None else round(self.expected_accuracy, 4),
            "examples_per_day": round(self.examples_per_day, 1),
            "cost_per_example": round(self.cost_per_example, 4),
            "examples": self.examples,
            "days": round(self.days, 2),
            "cost": round(self.cost, 2),
            "binding": self.binding,
        }


def _unit_figures(rates: PoolRates, target: float, gold_share: float, n_classes: int | None):
    if not 0.0 <= gold_share < 1.0:
        raise ValueError(f"gold_share must be in [0, 1), got {gold_share}")
    n = votes_needed(rates.vote_accuracy, target, n_classes=n_classes)
    if n is None:
        return None, None, 0.0, math.inf
    accuracy = (
        majority_vote_accuracy(rates.vote_accuracy, n)
        if n_classes is None
        else plurality_accuracy(rates.vote_accuracy, n, n_classes)
    )
    per_day = rates.votes_per_day * (1 - gold_share) / n
    cost = n * rates.cost_per_vote / (1 - gold_share)
    return n, accuracy, per_day, cost


def plan_for_budget(
    rates: PoolRates,
    days: float,
    budget: float,
    target: float = DEFAULT_TARGET,
    gold_share: float = 0.15,
    n_classes: int | None = None,
) -> Plan:
    """How many new examples ``days`` working days and ``budget`` EUR label at ``target`` accuracy."""
    if days < 0 or budget < 0:
        raise ValueError("days and budget must be >= 0")
    n, accuracy, per_day, unit_cost = _unit_figures(rates, target, gold_share, n_classes)
    if n is None:
        return Plan(rates.pools, None, None, 0, 0.0, 0.0, 0.0, math.inf, "target", rates)
    by_time, by_budget = days * per_day, budget / unit_cost
    examples = int(math.floor(min(by_time, by_budget) + 1e-9))
    return Plan(
        rates.pools,
        n,
        accuracy,
        examples,
        examples / per_day if per_day else 0.0,
        examples * unit_cost,
        per_day,
        unit_cost,
        "budget" if by_budget < by_time else "time",
        rates,
    )


def plan_for_examples(
    rates: PoolRates,
    examples: int,
    target: float = DEFAULT_TARGET,
    gold_share: float = 0.15,
    n_classes: int | None = None,
) -> Plan:
    """Working days and cost to label ``examples`` new examples at ``target`` accuracy."""
    if examples < 0:
        raise ValueError("examples must be >= 0")
    n, accuracy, per_day, unit_cost = _unit_figures(rates, target, gold_share, n_classes)
    if n is None:
        return Plan(rates.pools, None, None, 0, math.inf, math.inf, 0.0, math.inf, "target", rates)
    return Plan(
        rates.pools,
        n,
        accuracy,
        examples,
        examples / per_day,
        examples * unit_cost,
        per_day,
        unit_cost,
        "examples",
        rates,
    )


def growth_factor(labeled_now: int, new_examples: int) -> float:
    """How many times the human-labeled set would grow: ``(labeled_now + new) / labeled_now``
    (infinite from an empty set)."""
    if labeled_now <= 0:
        return math.inf if new_examples > 0 else 1.0
    return (labeled_now + new_examples) / labeled_now


def naive_bayes_predict(train_votes, train_labels, test_votes, n_classes: int):
    """Class predictions of a categorical naive Bayes over LF votes (:func:`~data_platform.labeling.weak.
    vote_naive_bayes`: scikit-learn's ``CategoricalNB``, add-one smoothed likelihoods, empirical class
    prior), trained on ``train_votes``/``train_labels`` and applied to ``test_votes``."""
    from data_platform.labeling.weak import vote_naive_bayes

    scores = vote_naive_bayes(
        np.asarray(train_votes), np.asarray(train_labels), np.asarray(test_votes), n_classes, prior_smoothing=0.0
    )
    return np.argmax(scores, axis=1)


def learning_curve(
    votes, labels, n_classes: int, fractions: Sequence[float] = (0.25, 0.5, 1.0), test_share: float = 0.3, seed: int = 0
) -> list[dict]:
    """Does the model still benefit from more labels? Accuracy on a fixed held-out share of the
    human-labeled examples of a naive Bayes over the LF votes (:func:`naive_bayes_predict`) trained
    on growing fractions of the rest. Rows: fraction, train_examples, accuracy. Empty with fewer than
    20 labeled examples."""
    import numpy as np

    votes, labels = np.asarray(votes), np.asarray(labels)
    labeled = np.flatnonzero(labels >= 0)
    if len(labeled) < 20:
        return []
    order = np.random.default_rng(seed).permutation(labeled)
    n_test = max(int(round(len(order) * test_share)), 5)
    test, pool = order[:n_test], order[n_test:]
    out = []
    for fraction in fractions:
        train = pool[: max(int(round(len(pool) * fraction)), 1)]
        predicted = naive_bayes_predict(votes[train], labels[train], votes[test], n_classes)
        out.append(
            {
                "fraction": fraction,
                "train_examples": len(train),
                "accuracy": round(float(np.mean(predicted == labels[test])), 4),
            }
        )
    return out


def useful_growth(curve: Sequence[dict], min_gain: float) -> dict | None:
    """What a measured learning curve says about growing the data: ``curve`` rows hold ``train_examples``
    and ``score`` (in [0, 1], higher better: the training stage's baseline on dev). The error
    ``1 - score`` is fitted as a power law of the examples, ``err(n) = a n^-b`` (least squares on the
    logarithms: the usual form of learning curves), so a doubling from ``m`` examples gains
    ``err(m) (1 - 2^-b)``. Returns the exponent ``b``, the last measured doubling's gain, the next
    doubling's predicted gain, and ``useful_growth``: the growth of the largest measured size ``n`` up to
    which every doubling is still predicted to gain at least ``min_gain``,
    ``2 (err(n) (1 - 2^-b) / min_gain)^(1/b)`` (1 when even the next doubling would not, or when the
    error does not fall with more data). None with fewer than two points of different sizes."""
    points = sorted((int(p["train_examples"]), float(p["score"])) for p in curve if p.get("score") is not None)
    sizes = np.array([n for n, _ in points], dtype=float)
    if len(points) < 2 or len(set(sizes)) < 2 or sizes.min() <= 0:
        return None
    errors = np.clip(1 - np.array([s for _, s in points]), 1e-6, None)
    slope, intercept = np.polyfit(np.log(sizes), np.log(errors), 1)
    b = -float(slope)
    last_gain = points[-1][1] - points[-2][1]
    if b <= 0:
        return {"exponent": b, "last_doubling_gain": last_gain, "next_doubling_gain": 0.0, "useful_growth": 1.0}
    error_now = float(np.exp(intercept) * sizes.max() ** slope)
    next_gain = error_now * (1 - 2**-b)
    growth = 2 * (next_gain / min_gain) ** (1 / b) if next_gain >= min_gain else 1.0
    return {
        "exponent": b,
        "last_doubling_gain": last_gain,
        "next_doubling_gain": next_gain,
        "useful_growth": max(1.0, float(growth)),
    }
