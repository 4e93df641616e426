"""The baseline's metrics against independent implementations (scipy, scikit-learn, worked by hand), and
the bootstrap over persons: weights are repeated rows, the replicates are seeded, a person's rows move
together."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.stats import mannwhitneyu
from sklearn.metrics import accuracy_score, f1_score, log_loss, recall_score, roc_auc_score

from data_platform.training import metrics as m
from data_platform.training.baseline import verdict

CLASSES = ("negative", "neutral", "positive")


def _clicks(n=400, seed=0):
    rng = np.random.default_rng(seed)
    p = rng.uniform(0.01, 0.6, n).round(2)  # rounded: many ties
    y = (rng.uniform(size=n) < p).astype(int)
    return y, p


def test_auc_is_the_mann_whitney_statistic_with_ties():
    y, p = _clicks()
    u = mannwhitneyu(p[y == 1], p[y == 0]).statistic
    assert m.auc(y, p) == pytest.approx(u / ((y == 1).sum() * (y == 0).sum()), abs=1e-12)
    assert m.auc(y, p) == pytest.approx(roc_auc_score(y, p), abs=1e-12)
    assert math.isnan(m.auc(np.zeros(5), np.arange(5)))  # one class: undefined


def test_log_loss_normalized_entropy_and_calibration_by_hand():
    y, p = np.array([1, 0, 1, 0]), np.array([0.8, 0.3, 0.6, 0.1])
    by_hand = -(math.log(0.8) + math.log(0.7) + math.log(0.6) + math.log(0.9)) / 4
    assert m.log_loss(y, p) == pytest.approx(by_hand, abs=1e-15)
    assert m.log_loss(y, p) == pytest.approx(log_loss(y, p), abs=1e-15)
    entropy = -(0.5 * math.log(0.5) * 2)  # click rate 1/2
    assert m.normalized_entropy(y, p) == pytest.approx(by_hand / entropy, abs=1e-15)
    assert m.calibration(y, p) == pytest.approx(2 / 1.8)
    # a constant prediction at the observed rate has normalized entropy 1
    y, _ = _clicks()
    assert m.normalized_entropy(y, np.full(len(y), y.mean())) == pytest.approx(1.0)


def test_class_metrics_equal_sklearns():
    rng = np.random.default_rng(1)
    y = rng.choice(CLASSES, 300, p=[0.2, 0.1, 0.7])
    predicted = np.where(rng.uniform(size=300) < 0.7, y, rng.choice(CLASSES, 300))
    assert m.macro_f1(y, predicted, CLASSES) == pytest.approx(f1_score(y, predicted, average="macro"), abs=1e-12)
    assert m.accuracy(y, predicted) == pytest.approx(accuracy_score(y, predicted), abs=1e-12)
    expected = recall_score(y, predicted, labels=list(CLASSES), average=None)
    assert list(m.recall(y, predicted, CLASSES).values()) == pytest.approx(list(expected), abs=1e-12)
    # a class never predicted nor present counts 0 in the macro mean, as sklearn with labels= does
    two = np.array(["negative", "positive"] * 5)
    assert m.macro_f1(two, two, CLASSES) == pytest.approx(
        f1_score(two, two, labels=list(CLASSES), average="macro", zero_division=0)
    )


@pytest.mark.parametrize("metric", ["auc", "log_loss", "normalized_entropy", "calibration"])
def test_integer_weights_are_repeated_rows(metric):
    y, p = _clicks(200, seed=2)
    counts = np.random.default_rng(3).integers(0, 4, len(y))
    repeated = getattr(m, metric)(np.repeat(y, counts), np.repeat(p, counts))
    assert getattr(m, metric)(y, p, counts) == pytest.approx(repeated, abs=1e-12)
    # a matrix of weights gives one value per row, each the vector's
    matrix = np.vstack([counts, np.ones(len(y))])
    assert getattr(m, metric)(y, p, matrix) == pytest.approx([repeated, getattr(m, metric)(y, p)], abs=1e-12)


def test_class_metrics_take_weights_as_repeated_rows():
    rng = np.random.default_rng(4)
    y = rng.choice(CLASSES, 100)
    predicted = rng.choice(CLASSES, 100)
    counts = rng.integers(0, 3, 100)
    assert m.macro_f1(y, predicted, CLASSES, counts) == pytest.approx(
        f1_score(np.repeat(y, counts), np.repeat(predicted, counts), average="macro"), abs=1e-12
    )


def test_the_bootstrap_draws_persons_with_their_rows_and_is_seeded():
    persons = np.array(["a", "a", "a", "b", "c", "c"])
    seen = []

    def statistic(weights):
        seen.append(weights)
        return weights.sum(axis=1)

    first = m.bootstrap_over_persons(persons, statistic, resamples=250, seed=7, chunk=100)
    weights = np.vstack(seen)
    assert weights.shape == (250, 6) and len(first) == 250
    # a person's rows carry the same weight, and each replicate draws as many persons as there are
    assert (weights[:, 0] == weights[:, 1]).all() and (weights[:, 1] == weights[:, 2]).all()
    assert (weights[:, 4] == weights[:, 5]).all()
    assert (weights[:, [0, 3, 4]].sum(axis=1) == 3).all()
    again = m.bootstrap_over_persons(persons, lambda w: w.sum(axis=1), resamples=250, seed=7, chunk=100)
    assert (first == again).all()
    assert not (m.bootstrap_over_persons(persons, lambda w: w.sum(axis=1), 250, seed=8) == first).all()


def test_the_interval_and_the_verdict():
    assert m.interval(np.arange(101, dtype=float)) == pytest.approx((2.5, 97.5))
    assert verdict(0.01, 0.05, lower_is_better=False) == "helped"
    assert verdict(-0.05, -0.01, lower_is_better=False) == "hurt"
    assert verdict(-0.01, 0.05, lower_is_better=False) == "no measurable change"
    assert verdict(-0.05, -0.01, lower_is_better=True) == "helped"  # the log loss fell
    assert verdict(0.01, 0.05, lower_is_better=True) == "hurt"
    assert verdict(float("nan"), float("nan"), lower_is_better=False) == "not measurable"
