"""Consensus confidence that means what it says: calibration measures (against sklearn and by hand),
temperature scaling, the confusion-matrix prior, and the human consensus on simulated rater worlds
(independent raters; and 20 raters per item who err together on ambiguous items, each seen on a few
items only) judged on hundreds of gold items, through the real Label Studio export path."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.calibration import calibration_curve

from data_platform.generator.raters import DEFAULT_PANEL, RaterProfile, simulate_annotations, write_export
from data_platform.generator.simulate import REVIEW_TEXTS, review_truth
from data_platform.labeling import SENTIMENTS
from data_platform.labeling.aggregation import (
    calibration_table,
    dawid_skene,
    expected_calibration_error,
    fit_temperature,
    majority_vote,
    one_coin_posteriors,
    temper,
    vote_counts,
)
from data_platform.labeling.human import MIN_RATER_ITEMS, consensus, vote_table
from data_platform.labeling.label_studio import build_tasks, parse_export

K = len(SENTIMENTS)


def test_ece_by_hand_on_a_small_case():
    # bins 0.9-1.0: two items at 0.95, one right (|0.5 - 0.95| = 0.45); 0.5-0.6: one at 0.55, right
    # (0.45); 0.1-0.2: one at 0.15, wrong (0.15). ECE = (2 * 0.45 + 0.45 + 0.15) / 4 = 0.375
    conf, correct = [0.95, 0.95, 0.55, 0.15], [True, False, True, False]
    assert expected_calibration_error(conf, correct) == pytest.approx(0.375)
    assert [(r["bin"], r["items"], r["accuracy"]) for r in calibration_table(conf, correct)] == [
        ("0.1-0.2", 1, 0.0),
        ("0.5-0.6", 1, 1.0),
        ("0.9-1.0", 2, 0.5),
    ]
    assert expected_calibration_error([0.8] * 5, [True] * 4 + [False]) == pytest.approx(0.0)
    assert np.isnan(expected_calibration_error([], []))
    assert np.isnan(expected_calibration_error([np.nan], [True]))


@pytest.mark.parametrize("seed", range(3))
def test_reliability_table_and_ece_match_sklearn_calibration_curve(seed):
    rng = np.random.default_rng(seed)
    conf = rng.uniform(0.2, 1.0, 3000) ** 0.5
    correct = rng.random(3000) < conf**2  # over-confident on purpose
    table = calibration_table(conf, correct)
    prob_true, prob_pred = calibration_curve(correct, conf, n_bins=10, strategy="uniform")
    counts, _ = np.histogram(conf, bins=np.linspace(0, 1, 11))
    counts = counts[counts > 0]
    assert [r["accuracy"] for r in table] == pytest.approx(prob_true)
    assert [r["mean_confidence"] for r in table] == pytest.approx(prob_pred)
    assert [r["items"] for r in table] == counts.tolist()
    reference = float(np.sum(counts / counts.sum() * np.abs(prob_true - prob_pred)))
    assert expected_calibration_error(conf, correct) == pytest.approx(reference)
    assert reference > 0.05  # the case is miscalibrated: the ECE has something to measure


def test_temperature_keeps_the_argmax_and_fitting_recovers_a_known_temperature():
    rng = np.random.default_rng(4)
    true_probs = rng.dirichlet([0.7] * K, 6000)
    truth = np.array([rng.choice(K, p=p) for p in true_probs])
    sharpened = temper(true_probs, 1 / 3)  # a model three times too sure
    assert (sharpened.argmax(axis=1) == true_probs.argmax(axis=1)).all()
    assert np.allclose(temper(true_probs, 1.0), true_probs)
    assert np.allclose(temper(sharpened, 3.0), true_probs)
    assert fit_temperature(sharpened, truth) == pytest.approx(3.0, rel=0.1)
    assert fit_temperature(true_probs, truth) == pytest.approx(1.0, rel=0.1)
    before = expected_calibration_error(sharpened.max(axis=1), sharpened.argmax(axis=1) == truth)
    after = expected_calibration_error(temper(sharpened, 3.0).max(axis=1), sharpened.argmax(axis=1) == truth)
    assert before > 0.1 and after < 0.03
    with pytest.raises(ValueError, match="temperature"):
        temper(true_probs, 0)


def test_confusion_prior_keeps_a_rater_seen_on_a_few_items_near_the_prior_accuracy():
    # four raters on 200 items; rater 3 labeled only 3 items and agreed with the majority on all of them
    rng = np.random.default_rng(2)
    truth = rng.integers(0, K, 200)
    votes = np.where(rng.random((200, 3)) < 0.8, truth[:, None], (truth[:, None] + rng.integers(1, K, (200, 3))) % K)
    newcomer = np.full((200, 1), -1)
    newcomer[:3, 0] = truth[:3]
    votes = np.hstack([votes, newcomer])
    plain = dawid_skene(votes, K)
    with_prior = dawid_skene(votes, K, prior_strength=10, prior_accuracy=0.7)
    seen = np.unique(truth[:3])  # the classes the newcomer was seen on
    assert (plain.confusion[3, seen, seen] > 0.95).all()  # a few agreements make a "perfect" rater
    # with the prior: (n + 7) / (n + 10) for n <= 3 agreements, close to the prior accuracy
    assert ((with_prior.confusion[3, seen, seen] > 0.7) & (with_prior.confusion[3, seen, seen] < 0.8)).all()
    assert with_prior.accuracy[:3] == pytest.approx(plain.accuracy[:3], abs=0.03)  # 200 items outweigh it
    assert np.array_equal(dawid_skene(votes, K, prior_strength=0).posteriors, plain.posteriors)
    with pytest.raises(ValueError, match="prior_accuracy"):
        dawid_skene(votes, K, prior_strength=1, prior_accuracy=1.0)


def _annotated(tmp_path, n_tasks, panel, raters_per_task, seed, ambiguity=0.0):
    """Tasks over generated review texts, answered by simulated raters, read back from the export file:
    the vote table and the truth the generator knows."""
    rng = np.random.default_rng(seed)
    pool = [t for s in SENTIMENTS for t in REVIEW_TEXTS[s]]
    rows = [
        {
            "task_id": i + 1,
            "review_id": f"rev-{i:05d}",
            "batch_id": "batch-0001",
            "text": pool[rng.integers(len(pool))],
            "item_id": "item-1",
            "category": "books",
            "predicted_label": None,
            "predicted_score": 0.0,
        }
        for i in range(n_tasks)
    ]
    export = simulate_annotations(
        build_tasks(rows, "test"), panel, raters_per_task=raters_per_task, seed=seed, ambiguity=ambiguity
    )
    parsed = parse_export(write_export(export, tmp_path, f"world-{seed}"))
    assert not parsed.rejected
    table = vote_table(parsed.annotations)
    truth = np.array([SENTIMENTS.index(review_truth(rows[int(r.split("-")[1])]["text"])) for r in table.reviews])
    return table, truth


def _held_out_ece(rows, truth, gold_mask):
    label = np.array([r["label_index"] for r in rows])
    conf = np.array([r["confidence"] for r in rows])
    held = ~gold_mask
    return expected_calibration_error(conf[held], label[held] == truth[held]), float((label == truth).mean())


@pytest.mark.parametrize("seed", [1, 2])
def test_consensus_of_the_default_panel_is_calibrated_on_500_gold_items(tmp_path, seed):
    """Three raters of the default panel per task, 1,100 tasks, half of them gold: the confidence is
    right as often as it says, on the gold items (out of fold) and on the other half (held out)."""
    table, truth = _annotated(tmp_path, 1100, DEFAULT_PANEL, 3, seed)
    gold_mask = np.arange(len(truth)) % 2 == 0
    gold = {r: int(t) for r, t, g in zip(table.reviews, truth, gold_mask) if g}
    rows, calibration = consensus(table, gold)
    assert calibration.gold_items >= 500 and not calibration.note
    assert calibration.ece <= 0.05
    held_out, accuracy = _held_out_ece(rows, truth, gold_mask)
    assert held_out <= 0.05 and accuracy > 0.85
    assert {r["method"] for r in rows} == {"dawid_skene"}  # every rater labeled hundreds of items


def _crowd(n_raters, seed):
    rng = np.random.default_rng(seed)
    return [
        RaterProfile(f"crowd-{i}", float(rng.uniform(0.6, 0.95)), skip_rate=0.0, user_id=1000 + i)
        for i in range(n_raters)
    ]


@pytest.mark.parametrize("seed", [3, 4])
def test_twenty_raters_per_item_seen_on_a_few_items_do_not_flip_majorities(tmp_path, seed):
    """20 raters per item from a crowd of 4,000 (6 items each), who err together on ambiguous items:
    plain Dawid–Skene turns majorities such as 12/7/1 into the runner-up at confidence ~1; the
    consensus keeps the plurality and says how sure it can be (temperature fitted on 600 gold items).
    A single temperature cannot fix every confidence level of this world: ECE 0.03-0.07 measured."""
    table, truth = _annotated(tmp_path, 1200, _crowd(4000, seed), 20, seed, ambiguity=0.5)
    counts = vote_counts(table.votes, K)
    mv, _ = majority_vote(table.votes, K)
    plain = dawid_skene(table.votes, K)
    flipped = (mv >= 0) & (plain.labels != mv) & (plain.confidence > 0.99)
    assert flipped.sum() >= 3, "the world must reproduce the problem, or this test proves nothing"
    assert counts[flipped].max(axis=1).max() >= 11  # clear majorities among them, such as 12/7/1

    gold_mask = np.arange(len(truth)) % 2 == 0
    gold = {r: int(t) for r, t, g in zip(table.reviews, truth, gold_mask) if g}
    rows, calibration = consensus(table, gold)
    label = np.array([r["label_index"] for r in rows])
    conf = np.array([r["confidence"] for r in rows])
    assert np.median((table.votes >= 0).sum(axis=0)) < MIN_RATER_ITEMS
    unique = mv >= 0
    assert (label[unique] == mv[unique]).all()  # no plurality is overruled by raters the model barely knows
    fallbacks = sum(r["method"] == "majority_fallback" for r in rows)
    assert fallbacks >= 0.95 * len(rows)  # almost every item: its raters are known from ~6 items
    split_12_7_1 = (counts.max(axis=1) <= 12) & unique
    assert split_12_7_1.sum() >= 100 and conf[split_12_7_1].mean() < 0.8  # not "certain" on a 12/7/1 split
    assert calibration.ece_raw > 0.15 and calibration.ece <= 0.08  # measured, and much improved
    held_out, accuracy = _held_out_ece(rows, truth, gold_mask)
    assert held_out <= 0.08 and accuracy >= (mv == truth).mean()
    assert calibration.temperature > 1.5  # the model's own posteriors were far too sure


def test_one_coin_posteriors_by_hand_on_a_12_7_1_split():
    votes = np.array([[0] * 12 + [1] * 7 + [2], [0] * 10 + [1] * 10])
    odds = 0.7 * 2 / 0.3  # p (K - 1) / (1 - p)
    expected = np.array([[odds**12, odds**7, odds], [odds**10, odds**10, 1.0]])
    expected /= expected.sum(axis=1, keepdims=True)
    assert one_coin_posteriors(votes, K, accuracy=0.7) == pytest.approx(expected)
    # default p: the share of votes agreeing with a unique plurality (12 of 20; the tie is left out)
    assert one_coin_posteriors(votes, K) == pytest.approx(one_coin_posteriors(votes, K, accuracy=0.6))


def test_ambiguous_items_make_raters_err_together_and_bad_ambiguity_is_refused(tmp_path):
    panel = _crowd(40, 0)

    def shares(ambiguity):
        table, truth = _annotated(tmp_path / str(ambiguity), 300, panel, 20, 8, ambiguity=ambiguity)
        counts = vote_counts(table.votes, K)
        right = counts[np.arange(len(truth)), truth]
        wrong = counts.copy()
        wrong[np.arange(len(truth)), truth] = 0
        # share of the truth among the votes, and of the most voted wrong class among the wrong votes
        return right.sum() / counts.sum(), wrong.max(axis=1).sum() / wrong.sum()

    independent, ambiguous = shares(0.0), shares(0.6)
    assert ambiguous[0] < independent[0] - 0.15  # the same raters are right less often
    assert ambiguous[1] > independent[1] + 0.1  # and their wrong votes pile up on one class per item
    with pytest.raises(ValueError, match="ambiguity"):
        simulate_annotations([], panel, raters_per_task=2, ambiguity=1.0)
