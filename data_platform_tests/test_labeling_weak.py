"""Weak supervision (``data_platform.labeling.weak``) on real text and on seeded simulations.

The real corpus is the UCI SMS Spam Collection (T. A. Almeida, J. M. Gómez Hidalgo, A. Yamakami,
"Contributions to the Study of SMS Spam Filtering: New Collection and Results", DocEng 2011),
licensed CC BY 4.0; the copy used here (``data_platform_tests/data/sms-spam.csv``, columns ``index, spam,
text``) holds 4,837 messages of which 638 are spam. The tests that need it are skipped when the file
is absent.

Everything the library computes is checked against an independent computation: the LF votes are
recomputed with Python's ``re`` on texts read with the ``csv`` module (not DuckDB), the LF analysis
with numpy. Measured numbers (seeded, so reproducible) are quoted in the docstrings and printed.
"""

from __future__ import annotations

import csv
import re
from pathlib import Path

import duckdb
import numpy as np
import pytest

from data_platform.labeling.aggregation import dawid_skene
from data_platform.labeling.functions import LabelingFunction
from data_platform.labeling.weak import (
    accuracy_on,
    build_label_matrix,
    fit_label_model,
    lf_analysis,
    out_of_sample_probs,
    vote_matrix,
)

SMS_CSV = Path(__file__).resolve().parent / "data" / "sms-spam.csv"  # attribution: data/README.md
requires_sms = pytest.mark.skipif(
    not SMS_CSV.is_file(), reason=f"SMS Spam Collection not found at {SMS_CSV} (shared data not mounted)"
)

HAM, SPAM = 0, 1

# ---------------------------------------------------------------------------------------------------
# spam labeling functions: SQL for DuckDB, and the same rule in Python
#
# DuckDB's regexp_matches is RE2 with search (not full-match) semantics; RE2's \b and [0-9] are
# ASCII-only, so the Python mirrors use re.search with re.ASCII. lower() and length() agree between
# DuckDB and Python on this corpus (both work on code points). Some LFs vote both ways (e.g. "a digit
# run of 5+ is spam, no digit at all is ham"): see test_label_model_with_one_sided_lfs_* for why.

_SPAM_WORDS = r"\b(free|win|won|winner|prize|claim|urgent|txt|call now|awarded|guaranteed|cash)\b"
_CHAT_WORDS = r"\b(ok|lol|see you|i'll|haha|k)\b"
_CHAT_WORDS_SQL = _CHAT_WORDS.replace("'", "''")  # a quote inside a SQL string literal is doubled
_CAPS = "length(regexp_replace(text, '[^A-Z]', '', 'g'))"

SMS_LFS: tuple[LabelingFunction, ...] = (
    LabelingFunction(
        "spam_words",
        1,
        f"CASE WHEN regexp_matches(lower(text), '{_SPAM_WORDS}') THEN {SPAM} ELSE -1 END",
        "prize / free / claim vocabulary",
    ),
    LabelingFunction(
        "long_number",
        1,
        f"CASE WHEN regexp_matches(text, '[0-9]{{5,}}') THEN {SPAM} "
        f"WHEN NOT regexp_matches(text, '[0-9]') THEN {HAM} ELSE -1 END",
        "a run of 5+ digits (phone number, shortcode) is spam; no digit at all is ham",
    ),
    LabelingFunction(
        "currency", 1, f"CASE WHEN regexp_matches(text, '[£$€]') THEN {SPAM} ELSE -1 END", "a currency symbol"
    ),
    LabelingFunction(
        "shouting",
        1,
        f"CASE WHEN {_CAPS} >= 12 THEN {SPAM} WHEN {_CAPS} <= 2 THEN {HAM} ELSE -1 END",
        "12+ capital letters is spam; at most 2 is ham",
    ),
    LabelingFunction(
        "link", 1, f"CASE WHEN regexp_matches(lower(text), 'www\\.|http') THEN {SPAM} ELSE -1 END", "a web address"
    ),
    LabelingFunction(
        "short_chat",
        1,
        f"CASE WHEN length(text) <= 60 AND regexp_matches(lower(text), '{_CHAT_WORDS_SQL}') "
        f"THEN {HAM} WHEN length(text) >= 130 THEN {SPAM} ELSE -1 END",
        "a short message with chat words is ham; a near-full 160-character SMS is spam",
    ),
)


def _caps(text: str) -> int:
    return len(re.sub("[^A-Z]", "", text))


PY_LFS = (
    lambda t: SPAM if re.search(_SPAM_WORDS, t.lower(), re.ASCII) else -1,
    lambda t: SPAM if re.search("[0-9]{5,}", t) else HAM if not re.search("[0-9]", t) else -1,
    lambda t: SPAM if re.search("[£$€]", t) else -1,
    lambda t: SPAM if _caps(t) >= 12 else HAM if _caps(t) <= 2 else -1,
    lambda t: SPAM if re.search(r"www\.|http", t.lower()) else -1,
    lambda t: HAM if len(t) <= 60 and re.search(_CHAT_WORDS, t.lower(), re.ASCII) else SPAM if len(t) >= 130 else -1,
)


class Sms:
    """The corpus in DuckDB and its label matrix, aligned in ``vote_matrix`` (example_id) order."""

    def __init__(self) -> None:
        with SMS_CSV.open(newline="", encoding="utf-8") as f:
            reader = csv.reader(f)
            assert next(reader) == ["", "spam", "text"]
            by_id = {row[0]: (int(row[1]), row[2]) for row in reader}
        self.con = duckdb.connect()
        self.con.execute(
            "CREATE TABLE sms AS SELECT column0 AS idx, spam, text FROM read_csv($path, header = true)",
            {"path": str(SMS_CSV)},
        )
        self.n_rows = build_label_matrix(self.con, "sms", "idx", "sms_matrix", SMS_LFS)
        self.ids, self.votes = vote_matrix(self.con, "sms_matrix", len(SMS_LFS))
        self.by_id = by_id
        self.texts = [by_id[i][1] for i in self.ids]
        self.truth = np.array([by_id[i][0] for i in self.ids])
        self.covered = (self.votes >= 0).any(axis=1)


@pytest.fixture(scope="module")
def sms():
    if not SMS_CSV.is_file():
        pytest.skip(f"SMS Spam Collection not found at {SMS_CSV}")
    corpus = Sms()
    yield corpus
    corpus.con.close()


def lf_accuracies(votes: np.ndarray, truth: np.ndarray) -> np.ndarray:
    """Each LF's accuracy on the examples it votes on."""
    voted = votes >= 0
    return np.array([np.mean(votes[voted[:, j], j] == truth[voted[:, j]]) for j in range(votes.shape[1])])


def empirical_model_accuracy(votes: np.ndarray, truth: np.ndarray, n_classes: int) -> np.ndarray:
    """The empirical counterpart of ``DawidSkeneResult.accuracy`` (``sum_k prior_k confusion[r, k, k]``):
    the true class shares among covered examples times each LF's true P(vote = k | class k, voted)."""
    covered = (votes >= 0).any(axis=1)
    prior = np.bincount(truth[covered], minlength=n_classes) / covered.sum()
    diag = np.array(
        [
            [np.mean(votes[(truth == k) & (votes[:, r] >= 0), r] == k) for k in range(n_classes)]
            for r in range(votes.shape[1])
        ]
    )
    assert not np.isnan(diag).any()  # every LF voted on examples of every class
    return diag @ prior


# ---------------------------------------------------------------------------------------------------
# 1. label matrix


@requires_sms
def test_label_matrix_has_one_row_per_example_and_lf(sms):
    n, n_lfs = 4837, len(SMS_LFS)
    assert sms.n_rows == n * n_lfs
    ((rows_, pairs, examples),) = sms.con.execute(
        "SELECT count(*), count(DISTINCT (example_id, lf_index)), count(DISTINCT example_id) FROM sms_matrix"
    ).fetchall()
    assert (rows_, pairs, examples) == (n * n_lfs, n * n_lfs, n)
    per_lf = sms.con.execute(
        "SELECT lf_index, lf, lf_version, count(*) FROM sms_matrix GROUP BY ALL ORDER BY lf_index"
    ).fetchall()
    assert per_lf == [(i, lf.name, lf.version, n) for i, lf in enumerate(SMS_LFS)]
    assert {v for (v,) in sms.con.execute("SELECT DISTINCT vote FROM sms_matrix").fetchall()} == {-1, HAM, SPAM}
    assert sms.votes.shape == (n, n_lfs)
    assert sorted(sms.ids) == sorted(sms.by_id) and len(set(sms.ids)) == n
    assert int(sms.truth.sum()) == 638


@requires_sms
def test_vote_matrix_equals_votes_recomputed_in_python(sms):
    expected = np.array([[lf(text) for lf in PY_LFS] for text in sms.texts])
    for j, lf in enumerate(SMS_LFS):
        assert (expected[:, j] >= 0).sum() >= 90, f"{lf.name} votes too rarely to be a meaningful check"
        np.testing.assert_array_equal(sms.votes[:, j], expected[:, j], err_msg=lf.name)
    # the rows really follow the ids: spot-check a known message
    first = sms.ids.index("2")  # "Free entry in 2 a wkly comp to win FA Cup final tkts ..."
    assert sms.texts[first].startswith("Free entry in 2 a wkly comp")
    assert sms.votes[first, 0] == SPAM and sms.votes[first, 1] == SPAM


# ---------------------------------------------------------------------------------------------------
# 2. LF analysis


@requires_sms
def test_lf_analysis_matches_numpy_snorkel_definitions(sms):
    rng = np.random.default_rng(2011)
    gold_rows = np.sort(rng.choice(len(sms.ids), size=len(sms.ids) // 10, replace=False))
    sms.con.execute("CREATE OR REPLACE TABLE sms_gold (example_id VARCHAR, label INTEGER)")
    sms.con.executemany("INSERT INTO sms_gold VALUES (?, ?)", [(sms.ids[i], int(sms.truth[i])) for i in gold_rows])
    analysis = lf_analysis(sms.con, "sms_matrix", "sms_gold")

    votes = sms.votes
    voted = votes >= 0
    voters = voted.sum(axis=1)
    distinct = np.array([len(set(row[row >= 0].tolist())) for row in votes])
    gold = np.full(len(sms.ids), -1)
    gold[gold_rows] = sms.truth[gold_rows]
    assert [a["lf"] for a in analysis] == [lf.name for lf in SMS_LFS]
    for j, a in enumerate(analysis):
        v = voted[:, j]
        assert a["lf_version"] == 1
        assert a["polarity"] == sorted(set(votes[v, j].tolist()))
        assert a["coverage"] == pytest.approx(v.mean(), abs=1e-12)
        assert a["overlaps"] == pytest.approx((v & (voters >= 2)).mean(), abs=1e-12)
        assert a["conflicts"] == pytest.approx((v & (distinct >= 2)).mean(), abs=1e-12)
        on_gold = v & (gold >= 0)
        assert a["gold_votes"] == on_gold.sum() > 0
        assert a["gold_accuracy"] == pytest.approx(np.mean(votes[on_gold, j] == gold[on_gold]), abs=1e-12)
    # the one-sided LFs have one polarity, the others both; every LF overlaps and conflicts somewhere
    assert [a["polarity"] for a in analysis] == [[1], [0, 1], [1], [0, 1], [1], [0, 1]]
    assert all(0 < a["conflicts"] <= a["overlaps"] <= a["coverage"] for a in analysis)


# ---------------------------------------------------------------------------------------------------
# 3. the label model on real text


@requires_sms
def test_label_model_on_sms_beats_majority_vote_and_every_lf_floor(sms):
    """Measured: Dawid–Skene 0.937 on the 97.5% covered messages, majority vote 0.847 (8.4% of them
    are ties, left unlabeled and counted wrong), LF accuracies 0.59–0.99; estimated spam prior 0.199
    vs 0.134 true among covered messages."""
    model = fit_label_model(sms.ids, sms.votes, 2)
    covered, truth = model.covered, sms.truth
    np.testing.assert_array_equal(covered, sms.covered)
    ds_acc, n = accuracy_on(model.model.labels[covered], truth[covered])
    mv_acc, _ = accuracy_on(model.mv_labels[covered], truth[covered])
    lf_acc = lf_accuracies(sms.votes, truth)
    true_prior = truth[covered].mean()
    print(
        f"\nSMS label model: covered {n} ({covered.mean():.3f}); Dawid-Skene {ds_acc:.4f}, "
        f"majority vote {mv_acc:.4f} (ties {np.mean(model.mv_labels[covered] < 0):.3f}); "
        f"LF accuracies {np.round(lf_acc, 3)}; spam prior est {model.model.class_prior[SPAM]:.3f} "
        f"true {true_prior:.3f}"
    )
    assert model.model.converged and model.anchors == 0
    assert n > 0.95 * len(truth)
    assert ds_acc > 0.90  # measured 0.937
    assert ds_acc >= lf_acc.min()
    assert ds_acc > mv_acc + 0.05  # measured +0.090
    assert abs(model.model.class_prior[SPAM] - true_prior) < 0.1  # measured 0.066
    # the labels are the posterior argmax and uncovered messages get none
    np.testing.assert_array_equal(model.model.labels[covered], model.model.posteriors[covered].argmax(axis=1))
    assert (model.model.labels[~covered] == -1).all()


@requires_sms
def test_anchoring_on_sms_keeps_accuracy_and_moves_lf_accuracies_toward_empirical(sms):
    """10% of the true labels as ``known``. Measured: accuracy on the other 90% of covered messages
    0.9370 with and without anchors; summed |estimated - empirical| LF accuracy 0.416 -> 0.224, summed
    |confusion - empirical confusion| 0.862 -> 0.514."""
    truth = sms.truth
    rng = np.random.default_rng(0)
    known = np.where(rng.random(len(truth)) < 0.1, truth, -1)
    free = fit_label_model(sms.ids, sms.votes, 2)
    anchored = fit_label_model(sms.ids, sms.votes, 2, known=known)
    assert anchored.anchors == int((known >= 0).sum())
    rest = sms.covered & (known < 0)
    acc_free, _ = accuracy_on(free.model.labels[rest], truth[rest])
    acc_anchored, _ = accuracy_on(anchored.model.labels[rest], truth[rest])
    # anchored examples are clamped to their known class
    np.testing.assert_array_equal(anchored.model.labels[sms.covered & (known >= 0)], known[sms.covered & (known >= 0)])

    empirical = empirical_model_accuracy(sms.votes, truth, 2)
    dist_free = np.abs(free.model.accuracy - empirical).sum()
    dist_anchored = np.abs(anchored.model.accuracy - empirical).sum()
    empirical_confusion = np.array(
        [
            [[np.mean(sms.votes[(truth == k) & (sms.votes[:, r] >= 0), r] == v) for v in (0, 1)] for k in (0, 1)]
            for r in range(len(SMS_LFS))
        ]
    )
    conf_free = np.abs(free.model.confusion - empirical_confusion).sum()
    conf_anchored = np.abs(anchored.model.confusion - empirical_confusion).sum()
    print(
        f"\nSMS anchoring: accuracy on the other 90% {acc_free:.4f} -> {acc_anchored:.4f}; "
        f"LF accuracy distance {dist_free:.3f} -> {dist_anchored:.3f}; "
        f"confusion distance {conf_free:.3f} -> {conf_anchored:.3f}"
    )
    assert acc_anchored >= acc_free - 0.01
    assert dist_anchored < 0.75 * dist_free
    assert conf_anchored < 0.75 * conf_free


@requires_sms
@pytest.mark.xfail(
    strict=True,
    reason=(
        "KNOWN LIMITATION (documented in labeling/functions.py): dawid_skene ignores abstains, "
        "so an LF that only ever votes one class gets "
        "confusion rows ~[0, 1] for every true class and its votes carry no evidence; with the usual "
        "one-sided spam LFs every covered message gets the (drifted) prior's class. Measured: all "
        "covered messages labelled spam, accuracy 0.461 vs 0.740 for majority vote, prior 0.81 vs 0.46."
    ),
)
def test_label_model_with_one_sided_lfs_is_at_least_as_good_as_majority_vote(sms):
    votes = sms.votes.copy()
    # the classic one-sided LFs: keep only the spam votes of the spam LFs and the ham votes of short_chat
    for j in (1, 3):
        votes[votes[:, j] == HAM, j] = -1
    votes[votes[:, 5] == SPAM, 5] = -1
    assert all(len(set(votes[votes[:, j] >= 0, j])) == 1 for j in range(votes.shape[1]))
    model = fit_label_model(sms.ids, votes, 2)
    covered, truth = model.covered, sms.truth
    ds_acc, _ = accuracy_on(model.model.labels[covered], truth[covered])
    mv_acc, _ = accuracy_on(model.mv_labels[covered], truth[covered])
    print(
        f"\none-sided LFs: Dawid-Skene {ds_acc:.4f}, majority vote {mv_acc:.4f}, "
        f"prior {model.model.class_prior.round(3)}, true spam share {truth[covered].mean():.3f}"
    )
    assert ds_acc >= mv_acc
    assert abs(model.model.class_prior[SPAM] - truth[covered].mean()) < 0.1


# ---------------------------------------------------------------------------------------------------
# 4. accuracy_on


def test_accuracy_on_counts_unlabeled_predictions_as_wrong_and_is_nan_without_gold():
    labels = np.array([0, 1, -1, 2, -1, 1])
    gold = np.array([0, 2, 1, 2, -1, -1])
    acc, n = accuracy_on(labels, gold)
    assert n == 4 and acc == 0.5  # right on items 0 and 3; item 2 (unlabeled) is wrong; 4 and 5 have no gold
    assert accuracy_on(np.array([-1, -1]), np.array([0, 1])) == (0.0, 2)
    acc, n = accuracy_on(np.array([0, 1, -1]), np.array([-1, -1, -1]))
    assert n == 0 and np.isnan(acc)
    acc, n = accuracy_on(np.array([], dtype=int), np.array([], dtype=int))
    assert n == 0 and np.isnan(acc)


# ---------------------------------------------------------------------------------------------------
# 5. out-of-sample probabilities


def _partial_labels(truth: np.ndarray, share: float, seed: int) -> np.ndarray:
    return np.where(np.random.default_rng(seed).random(len(truth)) < share, truth, -1)


@requires_sms
def test_out_of_sample_probs_nan_for_unlabelled_and_rows_sum_to_one(sms):
    labels = _partial_labels(sms.truth, 0.3, seed=1)
    labelled = labels >= 0
    probs = out_of_sample_probs(sms.votes, labels, 2)
    assert probs.shape == (len(labels), 2)
    assert np.isnan(probs[~labelled]).all()
    assert not np.isnan(probs[labelled]).any()
    np.testing.assert_allclose(probs[labelled].sum(axis=1), 1.0, atol=1e-12)
    assert ((probs[labelled] >= 0) & (probs[labelled] <= 1)).all()
    # fewer than two labelled examples: nothing to train on, all NaN
    one = np.full(len(labels), -1)
    one[0] = 1
    assert np.isnan(out_of_sample_probs(sms.votes, one, 2)).all()


@requires_sms
@pytest.mark.parametrize("pick", [0, 17, 311])
def test_out_of_sample_probs_own_row_does_not_depend_on_own_label(sms, pick):
    """Folds are a seeded permutation of the *positions* of labelled examples, so flipping one label
    (it stays labelled) leaves every fold unchanged: the example's own row comes from a model trained on
    the other folds only and must be bit-for-bit identical. Rows of its own fold are unchanged too, every
    other labelled row sees the flipped label in training and moves."""
    labels = _partial_labels(sms.truth, 0.3, seed=2)
    labelled = np.flatnonzero(labels >= 0)
    i = labelled[pick]
    flipped = labels.copy()
    flipped[i] = 1 - flipped[i]
    before = out_of_sample_probs(sms.votes, labels, 2, folds=5, seed=0)
    after = out_of_sample_probs(sms.votes, flipped, 2, folds=5, seed=0)
    np.testing.assert_array_equal(after[i], before[i])
    unchanged = np.flatnonzero((after[labelled] == before[labelled]).all(axis=1))
    assert len(unchanged) in (len(labelled) // 5, -(-len(labelled) // 5))  # exactly one fold: i's own
    assert np.isnan(after[labels < 0]).all()


@requires_sms
def test_out_of_sample_probs_are_accurate_on_sms(sms):
    """Naive Bayes over the six LF votes, 5-fold: measured accuracy 0.971 with all labels known, 0.974
    with 30% known (on those 30%)."""
    probs = out_of_sample_probs(sms.votes, sms.truth, 2)
    acc = np.mean((probs[:, SPAM] > 0.5) == sms.truth)
    labels = _partial_labels(sms.truth, 0.3, seed=1)
    part = out_of_sample_probs(sms.votes, labels, 2)
    labelled = labels >= 0
    acc_part = np.mean((part[labelled, SPAM] > 0.5) == sms.truth[labelled])
    print(f"\nout-of-sample naive Bayes on SMS: accuracy {acc:.4f} (all labelled), {acc_part:.4f} (30%)")
    assert acc > 0.95 and acc_part > 0.95


# ---------------------------------------------------------------------------------------------------
# 6. two always-voting LFs, three classes: not identifiable without anchors

K = 3
TRUE_ACCURACY = (0.95, 0.75)
SKEWED_PRIOR = (0.7, 0.2, 0.1)


def two_lf_simulation(seed: int, n: int = 4000):
    """``(truth, votes[n, 2], known)``: each LF right with its accuracy, otherwise uniformly one of the
    other classes; ``known`` reveals a random 10% of the truth."""
    rng = np.random.default_rng(seed)
    truth = rng.choice(K, size=n, p=SKEWED_PRIOR)
    columns = []
    for acc in TRUE_ACCURACY:
        wrong = (truth + rng.integers(1, K, n)) % K
        columns.append(np.where(rng.random(n) < acc, truth, wrong))
    known = np.where(rng.random(n) < 0.1, truth, -1)
    return truth, np.stack(columns, axis=1), known


@pytest.mark.parametrize("seed", range(3))
def test_two_lfs_unsupervised_model_cannot_tell_them_apart(seed):
    """Measured: both estimated accuracies 0.83–0.84 (true 0.95 and 0.75)."""
    truth, votes, _ = two_lf_simulation(seed)
    empirical = (votes == truth[:, None]).mean(axis=0)
    model = fit_label_model([str(i) for i in range(len(truth))], votes, K)
    print(f"\nseed {seed}: empirical {empirical.round(3)}, unsupervised estimate {model.model.accuracy.round(3)}")
    assert empirical[0] - empirical[1] > 0.15
    assert abs(model.model.accuracy[0] - model.model.accuracy[1]) < 0.01
    assert abs(model.model.accuracy[0] - empirical[0]) > 0.08


@pytest.mark.parametrize("seed", range(5))
def test_two_lfs_anchoring_recovers_accuracies_when_em_runs_to_convergence(seed):
    """With 10% anchors and a tight tolerance, measured errors <= 0.011 (seeds 0-4)."""
    truth, votes, known = two_lf_simulation(seed)
    empirical = (votes == truth[:, None]).mean(axis=0)
    result = dawid_skene(votes, K, known=known, tol=1e-12, max_iter=5000)
    print(
        f"\nseed {seed}: empirical {empirical.round(3)}, anchored estimate {result.accuracy.round(3)} "
        f"after {result.iterations} iterations"
    )
    assert result.converged
    np.testing.assert_allclose(result.accuracy, empirical, atol=0.05)
    np.testing.assert_allclose(result.accuracy, TRUE_ACCURACY, atol=0.05)
    rest = known < 0
    assert np.mean(result.labels[rest] == truth[rest]) > 0.93  # measured 0.94-0.95


def test_two_lfs_fit_label_model_anchoring_recovers_accuracies():
    errors = []
    for seed in range(5):
        truth, votes, known = two_lf_simulation(seed)
        empirical = (votes == truth[:, None]).mean(axis=0)
        model = fit_label_model([str(i) for i in range(len(truth))], votes, K, known=known)
        errors.append(np.abs(model.model.accuracy - empirical).max())
    print(f"\nfit_label_model with 10% anchors: max error per seed {np.round(errors, 3)}")
    assert max(errors) < 0.05
