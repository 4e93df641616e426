"""The rater registry and the labeling budget planner, checked against independent computations
(scipy.stats.binom, Monte Carlo plurality votes) and hand-worked plans."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.stats import binom

from data_platform.labeling.planner import (
    growth_factor,
    majority_vote_accuracy,
    plan_for_budget,
    plan_for_examples,
    plurality_accuracy,
    pool_rates,
    votes_needed,
)
from data_platform.labeling.registry import (
    POOLS,
    Rater,
    load_registry,
    rater_profiles,
    seconds_per_label,
    unregistered,
)


@pytest.mark.parametrize("p", [0.5, 0.6, 0.75, 0.85, 0.93, 0.99])
@pytest.mark.parametrize("n", [1, 2, 3, 4, 5, 7, 8, 11])
def test_majority_vote_accuracy_is_the_binomial_tail(p, n):
    expected = binom.sf(n // 2, n, p)  # P(X > n/2) for odd n, P(X > n/2) for even n
    if n % 2 == 0:
        expected += 0.5 * binom.pmf(n // 2, n, p)  # ties broken by a coin
    assert majority_vote_accuracy(p, n) == pytest.approx(expected, abs=1e-12)


def test_plurality_accuracy_matches_a_simulation_and_bounds_the_binomial():
    rng = np.random.default_rng(0)
    for p, n, k in [(0.7, 3, 3), (0.6, 4, 3), (0.55, 5, 3), (0.8, 2, 3), (0.5, 6, 4)]:
        trials = 200_000
        right = rng.random((trials, n)) < p
        wrong_class = rng.integers(1, k, size=(trials, n))
        votes = np.where(right, 0, wrong_class)
        counts = np.stack([(votes == c).sum(axis=1) for c in range(k)], axis=1)
        top = counts.max(axis=1)
        leaders = (counts == top[:, None]).sum(axis=1)
        simulated = np.mean(np.where(counts[:, 0] == top, 1.0 / leaders, 0.0))
        exact = plurality_accuracy(p, n, k)
        assert exact == pytest.approx(simulated, abs=0.004), (p, n, k)
        assert exact >= majority_vote_accuracy(p, n) - 1e-12  # split wrong votes only help the truth
    assert plurality_accuracy(0.8, 3, 2) == pytest.approx(majority_vote_accuracy(0.8, 3), abs=1e-12)


def test_votes_needed_is_the_smallest_n_reaching_the_target():
    for p, target in [(0.9, 0.95), (0.75, 0.95), (0.85, 0.99), (0.95, 0.95)]:
        n = votes_needed(p, target)
        assert binom.sf(n // 2, n, p) + (0.5 * binom.pmf(n // 2, n, p) if n % 2 == 0 else 0) >= target
        assert all(majority_vote_accuracy(p, m) < target for m in range(1, n))
    assert votes_needed(0.95, 0.95) == 1
    assert votes_needed(0.5, 0.9) is None  # a coin never gets there
    assert votes_needed(0.75, 0.95, n_classes=3) <= votes_needed(0.75, 0.95)


def _rater(rid, pool, cost, speed, hours, accuracy):
    return Rater(
        id=rid,
        name=rid,
        pool=pool,
        languages=("en",),
        domain_expert=False,
        cost_per_label=cost,
        labels_per_hour=speed,
        hours_per_day=hours,
        prior_accuracy=accuracy,
    )


def test_a_plan_worked_by_hand():
    raters = [_rater("a", "in_house", 0.10, 100, 5, 0.9), _rater("b", "in_house", 0.20, 100, 5, 0.8)]
    rates = pool_rates(raters, ["in_house"])
    assert rates.votes_per_day == 1000 and rates.cost_per_vote == pytest.approx(0.15)
    assert rates.vote_accuracy == pytest.approx(0.85)
    # 0.85 per vote: 3 votes give 0.939, 5 give 0.973 >= 0.95
    plan = plan_for_budget(rates, days=4, budget=300, target=0.95, gold_share=0.2)
    assert plan.votes_per_example == 5
    assert plan.expected_accuracy == pytest.approx(binom.sf(2, 5, 0.85))
    assert plan.examples_per_day == pytest.approx(1000 * 0.8 / 5)  # 160
    assert plan.cost_per_example == pytest.approx(5 * 0.15 / 0.8)  # 0.9375
    assert plan.examples == math.floor(300 / 0.9375) == 320 and plan.binding == "budget"  # time allows 640
    roomy = plan_for_budget(rates, days=1, budget=10_000, target=0.95, gold_share=0.2)
    assert roomy.examples == 160 and roomy.binding == "time"
    back = plan_for_examples(rates, 320, target=0.95, gold_share=0.2)
    assert back.days == pytest.approx(2.0) and back.cost == pytest.approx(300.0)
    assert plan_for_budget(pool_rates([_rater("c", "crowd", 0.01, 500, 8, 0.5)]), 10, 100).binding == "target"


def test_growth_factor():
    assert growth_factor(100, 900) == 10 and growth_factor(100, 901) > 10
    assert math.isinf(growth_factor(0, 5)) and growth_factor(0, 0) == 1


def test_the_shipped_registry_loads_and_covers_the_simulated_panel():
    from data_platform.generator.raters import DEFAULT_PANEL

    raters = load_registry()
    assert {r.pool for r in raters} == set(POOLS)
    assert {f"user-{p.user_id}" for p in DEFAULT_PANEL} <= {r.id for r in raters}
    assert all(r.cost_per_label > 0 and r.labels_per_hour > 0 for r in raters)
    assert unregistered(raters, ["user-101", "user-999"]) == ["user-999"]


@pytest.mark.parametrize(
    "body, message",
    [
        ("raters:\n  - {id: x, pool: moon}\n", "pool must be one of"),
        (
            "pools:\n  crowd: {cost_per_label: 0.1, labels_per_hour: 10, hours_per_day: 1, prior_accuracy: 0.8}\n"
            "raters:\n  - {id: x, pool: crowd}\n  - {id: x, pool: crowd}\n",
            "given twice",
        ),
        (
            "raters:\n  - {id: x, pool: crowd, cost_per_label: 0, labels_per_hour: 1, hours_per_day: 1, "
            "prior_accuracy: 0.8}\n",
            "cost_per_label must be a positive",
        ),
    ],
)
def test_a_bad_registry_is_refused(tmp_path, body, message):
    path = tmp_path / "raters.yaml"
    path.write_text(body)
    with pytest.raises(ValueError, match=message):
        load_registry(path)


def test_measured_throughput_and_quality_replace_the_declared_figures():
    timings = []
    for i in range(30):  # one label every 12 s, lead time 10 s, with a lunch break after 15
        minutes = i * 0.2 + (60 if i >= 15 else 0)
        timings.append(
            {
                "rater": "a",
                "created_at": f"2026-11-16T09:{int(minutes) % 60:02d}:{(minutes * 60) % 60:06.3f}Z".replace(
                    "09:", f"{9 + int(minutes) // 60:02d}:", 1
                ),
                "lead_time": 10.0,
            }
        )
    seconds, timed = seconds_per_label(timings)["a"]
    # 28 gaps of 12 s, the first label and the one after the break timed by their lead time (10 s)
    assert timed == 30 and seconds == pytest.approx((28 * 12 + 2 * 10) / 30)
    bulk = [{"rater": "b", "created_at": "2026-11-16T09:00:00Z", "lead_time": 8.0}] * 25
    assert seconds_per_label(bulk)["b"] == (8.0, 25)  # submitted at once: the lead times count
    registry = [_rater("a", "in_house", 0.1, 100, 5, 0.9), _rater("c", "crowd", 0.02, 300, 3, 0.7)]
    quality = [{"rater": "a", "gold_items": 10, "gold_accuracy": 0.6}]
    a, c = rater_profiles(registry, quality, timings)
    assert a.labels_per_hour == pytest.approx(3600 / seconds) and a.throughput_source.startswith("measured")
    assert a.planning_accuracy == pytest.approx((6 + 10 * 0.9) / 20)  # shrunk towards the prior
    assert c.labels_per_hour == 300 and c.planning_accuracy == 0.7 and c.throughput_source == "registry"


def naive_bayes_by_hand(train_votes, train_labels, test_row, n_classes, prior_smoothing):
    """log P(votes, class) counted in plain Python from the formula (the oracle: no numpy, no sklearn)."""
    values = n_classes + 1
    n = len(train_labels)
    out = []
    for c in range(n_classes):
        rows = [v for v, y in zip(train_votes, train_labels) if y == c]
        prior = (len(rows) + prior_smoothing) / (n + prior_smoothing * n_classes)
        log_joint = math.log(prior) if prior > 0 else -math.inf
        for j, vote in enumerate(test_row):
            log_joint += math.log((sum(1 for r in rows if r[j] == vote) + 1) / (len(rows) + values))
        out.append(log_joint)
    return out


def test_the_vote_naive_bayes_equals_the_formula_counted_by_hand():
    from data_platform.labeling.weak import vote_naive_bayes

    # 3 classes, class 2 never seen in training; 2 LFs voting -1 (abstain), 0, 1 or 2
    train = [(0, 0), (0, -1), (1, 1), (-1, 1), (0, 1), (1, -1)]
    labels = [0, 0, 1, 1, 0, 1]
    test = [(0, 0), (1, 1), (-1, -1), (2, 2), (0, 1)]
    for smoothing in (0.0, 1.0):
        ours = vote_naive_bayes(np.array(train), np.array(labels), np.array(test), 3, prior_smoothing=smoothing)
        for row, got in zip(test, ours):
            assert got.tolist() == pytest.approx(naive_bayes_by_hand(train, labels, row, 3, smoothing), rel=1e-12)
    assert np.isneginf(vote_naive_bayes(np.array(train), np.array(labels), np.array(test), 3, 0.0)[:, 2]).all()


def test_the_learning_curve_model_predicts_the_most_probable_class_counted_by_hand():
    from data_platform.labeling.planner import learning_curve, naive_bayes_predict

    rng = np.random.default_rng(1)
    n, k = 600, 3
    truth = rng.integers(0, k, n)
    # three LFs: right 80/65/50% of the time when they vote, abstaining (-1) 20% of the time
    votes = np.stack([np.where(rng.random(n) < acc, truth, rng.integers(0, k, n)) for acc in (0.8, 0.65, 0.5)], axis=1)
    votes[rng.random(votes.shape) < 0.2] = -1
    train, test = slice(0, 400), slice(400, None)
    ours = naive_bayes_predict(votes[train], truth[train], votes[test], k)
    train_rows, train_labels = votes[train].tolist(), truth[train].tolist()
    by_hand = [
        int(np.argmax(naive_bayes_by_hand(train_rows, train_labels, row, k, 0.0))) for row in votes[test].tolist()
    ]
    assert ours.tolist() == by_hand

    curve = learning_curve(votes, truth, k)
    assert [p["fraction"] for p in curve] == [0.25, 0.5, 1.0]
    assert curve[0]["train_examples"] < curve[1]["train_examples"] < curve[2]["train_examples"] == 420
    assert all(0.4 < p["accuracy"] <= 1 for p in curve)
    assert learning_curve(votes[:10], truth[:10], k) == []  # too few labels to say anything


def test_the_useful_growth_of_a_power_law_learning_curve():
    from data_platform.labeling.planner import useful_growth

    def error(n):
        return 0.6 * n**-0.3

    curve = [{"train_examples": n, "score": 1 - error(n)} for n in (100, 200, 400)]
    fitted = useful_growth(curve, min_gain=0.01)
    assert fitted["exponent"] == pytest.approx(0.3)
    assert fitted["last_doubling_gain"] == pytest.approx(error(200) - error(400))
    assert fitted["next_doubling_gain"] == pytest.approx(error(400) - error(800))
    # the doubling that ends at the useful growth gains exactly min_gain: the last one still worth it
    end = 400 * fitted["useful_growth"]
    assert error(end / 2) - error(end) == pytest.approx(0.01)
    # a curve that does not rise (or too little) says no growth pays; one point says nothing
    flat = [{"train_examples": n, "score": s} for n, s in ((100, 0.6), (200, 0.58), (400, 0.59))]
    assert useful_growth(flat, 0.01)["useful_growth"] == 1.0
    assert useful_growth(curve, min_gain=1.0)["useful_growth"] == 1.0
    assert useful_growth(curve[:1], 0.01) is None


def test_the_step_guard_uses_the_measured_curve_instead_of_the_assumed_10x():
    from data_platform.labeling.plan_assets import plan_report

    measured = {"quality": [], "timings": [], "labeled": 1000, "annotations": {}, "raters_seen": [], "first": None}
    measured["last"] = None
    assumed = plan_report(measured, examples=2000)  # 3x growth, nothing measured: under the assumed 10x
    assert assumed["step_ok"] and assumed["growth_limit"] == 10.0 and assumed["limit_source"].startswith("assumed")
    flat = [
        {"version": "v1", "fraction": f, "train_examples": n, "score": s}
        for f, n, s in ((0.25, 250, 0.70), (0.5, 500, 0.702), (1.0, 1000, 0.703))
    ]
    guarded = plan_report({**measured, "baseline_curve": flat}, examples=2000)
    assert not guarded["step_ok"] and guarded["growth_limit"] == 1.0  # the measured curve is flat
    assert guarded["limit_source"].startswith("measured: the review baseline's learning curve on version v1")
    steep = [{**p, "score": 1 - 0.6 * p["train_examples"] ** -0.3} for p in flat]
    assert plan_report({**measured, "baseline_curve": steep}, examples=2000)["step_ok"]
    assert plan_report({**measured, "baseline_curve": steep}, examples=20000)["growth_limit"] == 10.0  # the cap
