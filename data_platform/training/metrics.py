"""The baseline models' metrics, weighted, and the bootstrap over persons that gives their intervals.

Every metric takes per-example ``weights``: ``None`` (each example once: the point estimate), one
vector, or a matrix of shape (replicates, examples) whose rows are bootstrap replicates. A replicate of
the bootstrap over persons draws persons with replacement and weighs each example by the number of
times its person was drawn, so a single code path gives the figure and its interval, and two models
scored on the same rows are compared pair-wise (the same persons drawn for both).

Definitions (weights ``w``, labels ``y``, predictions ``p``):

- **AUC**: the probability that a random clicked example scores above a random unclicked one, ties
  counting one half (the Mann–Whitney U statistic over ``n1 n0``), with pairs weighted by ``w_i w_j``;
- **log loss**: ``-sum w (y ln p + (1 - y) ln(1 - p)) / sum w``, ``p`` clipped to ``[eps, 1 - eps]``
  (``eps`` the float64 machine epsilon, as scikit-learn);
- **normalized entropy** (He et al., *Practical lessons from predicting clicks on ads at Facebook*,
  2014): the log loss over the entropy of the observed click rate ``c``,
  ``-(c ln c + (1 - c) ln(1 - c))``: 1 is no better than always predicting the average;
- **calibration**: actual over predicted clicks, ``sum w y / sum w p`` (1 is calibrated);
- **accuracy**, **recall** of a class (its examples predicted as it), **macro-F1**: the unweighted mean
  over the classes of ``2 TP / (2 TP + FP + FN)`` (0 for a class with neither examples nor predictions).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

EPS = np.finfo(np.float64).eps


def _matrix(weights, n: int) -> tuple[np.ndarray, bool]:
    """``weights`` as a (replicates, n) float matrix, and whether a single vector (or none) was given."""
    if weights is None:
        return np.ones((1, n)), True
    w = np.asarray(weights, dtype=float)
    if w.ndim == 1:
        return w[None, :], True
    return w, False


def _out(values: np.ndarray, single: bool):
    return float(values[0]) if single else values


def _ratio(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(den > 0, num / np.where(den > 0, den, 1), np.nan)


def auc(y, score, weights=None):
    """Area under the ROC curve (see the module docstring); NaN without both classes."""
    y = np.asarray(y).astype(bool)
    score = np.asarray(score, dtype=float)
    w, single = _matrix(weights, len(y))
    order = np.argsort(score, kind="stable")
    ranked, clicked = score[order], y[order]
    starts = np.flatnonzero(np.r_[True, ranked[1:] != ranked[:-1]])  # tie groups, lowest score first
    w = w[:, order]
    pos = np.add.reduceat(w * clicked, starts, axis=1)  # (replicates, groups)
    neg = np.add.reduceat(w * ~clicked, starts, axis=1)
    below = np.cumsum(neg, axis=1) - neg
    num = (pos * (below + 0.5 * neg)).sum(axis=1)
    return _out(_ratio(num, pos.sum(axis=1) * neg.sum(axis=1)), single)


def _clipped(p) -> np.ndarray:
    return np.clip(np.asarray(p, dtype=float), EPS, 1 - EPS)


def log_loss(y, p, weights=None):
    """Mean binary cross-entropy of the predicted probabilities ``p``."""
    y, p = np.asarray(y, dtype=float), _clipped(p)
    w, single = _matrix(weights, len(y))
    losses = -(y * np.log(p) + (1 - y) * np.log(1 - p))
    return _out(_ratio(w @ losses, w.sum(axis=1)), single)


def binary_entropy(rate) -> np.ndarray:
    """``-(c ln c + (1 - c) ln(1 - c))`` (NaN at 0 and 1, where normalized entropy is undefined)."""
    c = np.asarray(rate, dtype=float)
    with np.errstate(invalid="ignore", divide="ignore"):
        h = -(c * np.log(c) + (1 - c) * np.log(1 - c))
    return np.where((c > 0) & (c < 1), h, np.nan)


def normalized_entropy(y, p, weights=None):
    """Log loss over the entropy of the observed click rate (He et al. 2014)."""
    y = np.asarray(y, dtype=float)
    w, single = _matrix(weights, len(y))
    loss = np.atleast_1d(log_loss(y, p, w))
    rate = _ratio(w @ y, w.sum(axis=1))
    return _out(_ratio(loss, binary_entropy(rate)), single)


def calibration(y, p, weights=None):
    """Actual over predicted: observed clicks over the sum of predicted probabilities."""
    y, p = np.asarray(y, dtype=float), np.asarray(p, dtype=float)
    w, single = _matrix(weights, len(y))
    return _out(_ratio(w @ y, w @ p), single)


def accuracy(y, predicted, weights=None):
    """Share of examples whose predicted class is their label."""
    right = (np.asarray(y) == np.asarray(predicted)).astype(float)
    w, single = _matrix(weights, len(right))
    return _out(_ratio(w @ right, w.sum(axis=1)), single)


def _confusion(y, predicted, classes, w) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """True positives, false positives and false negatives per class: each (replicates, classes)."""
    y, predicted = np.asarray(y), np.asarray(predicted)
    truth = np.column_stack([y == c for c in classes]).astype(float)
    guess = np.column_stack([predicted == c for c in classes]).astype(float)
    tp = w @ (truth * guess)
    return tp, w @ guess - tp, w @ truth - tp


def recall(y, predicted, classes: Sequence[str], weights=None) -> dict:
    """Recall of each class: ``{class: value}`` (NaN for a class without examples)."""
    w, single = _matrix(weights, len(np.asarray(y)))
    tp, _, fn = _confusion(y, predicted, classes, w)
    values = _ratio(tp, tp + fn)
    return {c: _out(values[:, i], single) for i, c in enumerate(classes)}


def macro_f1(y, predicted, classes: Sequence[str], weights=None):
    """Unweighted mean of the per-class F1 over ``classes``."""
    w, single = _matrix(weights, len(np.asarray(y)))
    tp, fp, fn = _confusion(y, predicted, classes, w)
    f1 = np.nan_to_num(_ratio(2 * tp, 2 * tp + fp + fn))
    return _out(f1.mean(axis=1), single)


def bootstrap_over_persons(
    persons, statistic: Callable[[np.ndarray], np.ndarray], resamples: int, seed: int, chunk: int = 100
) -> np.ndarray:
    """``statistic(weights)`` over ``resamples`` replicates, each drawing the distinct ``persons`` with
    replacement (as many draws as persons) and weighing each example by its person's draws. Seeded:
    the same inputs give the same replicates. ``statistic`` takes a (replicates, examples) matrix."""
    codes, index = np.unique(np.asarray(persons).astype(str), return_inverse=True)
    rng = np.random.default_rng(seed)
    share = np.full(len(codes), 1 / len(codes))
    out = []
    for start in range(0, resamples, chunk):
        draws = rng.multinomial(len(codes), share, size=min(chunk, resamples - start))
        out.append(np.asarray(statistic(draws[:, index].astype(float)), dtype=float))
    return np.concatenate(out)


def interval(replicates: np.ndarray, level: float = 0.95) -> tuple[float, float]:
    """The percentile interval of the bootstrap replicates (NaN replicates left out)."""
    finite = replicates[np.isfinite(replicates)]
    if not len(finite):
        return (float("nan"), float("nan"))
    tail = (1 - level) / 2 * 100
    low, high = np.percentile(finite, [tail, 100 - tail])
    return float(low), float(high)
