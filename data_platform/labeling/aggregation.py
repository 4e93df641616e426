"""Turning several labels per item into one: vote counts, majority vote and Dawid–Skene, and how far
to trust its confidence: temperature scaling and calibration (reliability table, ECE) against gold.

Conventions (see ``data_platform.labeling``): classes are ints ``0..K-1``; a vote matrix is a 2-D int
array ``votes[n_items, n_raters]`` holding ``-1`` where a rater (or labeling function) gave no label.
Only numpy is used here, so the module is cheap to import from assets.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from data_platform.labeling import ABSTAIN


def as_vote_matrix(votes: np.ndarray, n_classes: int) -> np.ndarray:
    """Validate a vote matrix and return it as a 2-D int64 array.

    ``votes`` must be 2-D (``[n_items, n_raters]``) with integer values in ``-1..n_classes-1``
    (``-1`` = no label). An empty array of any dtype is accepted (shape kept). ``n_classes`` must be
    >= 1. Raises ``ValueError`` (bad shape, out-of-range value, bad ``n_classes``) or ``TypeError``
    (non-integer values).
    """
    if n_classes < 1:
        raise ValueError(f"n_classes must be >= 1, got {n_classes}")
    arr = np.asarray(votes)
    if arr.ndim != 2:
        raise ValueError(f"votes must be a 2-D [n_items, n_raters] array, got shape {arr.shape}")
    if arr.size == 0:
        return arr.astype(np.int64)
    if arr.dtype.kind not in "iu":
        raise TypeError(f"votes must be an integer array with {ABSTAIN} for missing, got dtype {arr.dtype}")
    arr = arr.astype(np.int64)
    low, high = int(arr.min()), int(arr.max())
    if low < ABSTAIN or high >= n_classes:
        raise ValueError(f"votes must lie in {ABSTAIN}..{n_classes - 1}, found values in {low}..{high}")
    return arr


def vote_counts(votes: np.ndarray, n_classes: int) -> np.ndarray:
    """Per-item vote counts: ``counts[i, k] = #{raters r : votes[i, r] == k}``.

    Returns an int64 array of shape ``[n_items, n_classes]``; missing votes (-1) are not counted, so an
    item nobody labeled has a row of zeros. An input with no items gives shape ``(0, n_classes)``.
    """
    votes = as_vote_matrix(votes, n_classes)
    n_items = votes.shape[0]
    item_index, rater_index = np.nonzero(votes >= 0)
    flat = item_index * n_classes + votes[item_index, rater_index]
    return np.bincount(flat, minlength=n_items * n_classes).reshape(n_items, n_classes)


def majority_vote(votes: np.ndarray, n_classes: int) -> tuple[np.ndarray, np.ndarray]:
    """Plurality vote per item.

    ``label[i] = argmax_k counts[i, k]`` when that maximum is unique, and ``-1`` when the item has no
    votes **or when two or more classes tie for the most votes** (ties are deliberately left unlabeled
    rather than broken arbitrarily). ``confidence[i] = max_k counts[i, k] / sum_k counts[i, k]``, the
    share of the item's votes that went to the winning count; it is ``nan`` for items with no votes and
    is still reported for ties (e.g. 0.5 for a 1–1 tie) even though their label is -1.

    Returns ``(labels int64[n], confidence float64[n])``; empty input gives two empty arrays.
    """
    counts = vote_counts(votes, n_classes)
    total = counts.sum(axis=1)
    top = counts.max(axis=1)
    n_winners = (counts == top[:, None]).sum(axis=1)
    labels = np.where((total > 0) & (n_winners == 1), counts.argmax(axis=1), ABSTAIN).astype(np.int64)
    with np.errstate(invalid="ignore", divide="ignore"):
        confidence = np.where(total > 0, top / np.maximum(total, 1), np.nan)
    return labels, confidence.astype(np.float64)


@dataclass(frozen=True)
class DawidSkeneResult:
    """Output of :func:`dawid_skene`.

    posteriors: ``[n, K]`` P(true class = k | votes on item i); rows sum to 1.
    labels: ``[n]`` argmax of the posterior, ``-1`` for items with no votes.
    confidence: ``[n]`` max posterior, ``nan`` for items with no votes.
    class_prior: ``[K]`` estimated P(true class = k).
    confusion: ``[R, K, K]``; ``confusion[r, k, l]`` = P(rater r says l | true class k); rows sum to 1.
    accuracy: ``[R]`` ``sum_k class_prior[k] * confusion[r, k, k]`` (expected accuracy of rater r).
    iterations: EM iterations run.
    converged: whether the stopping rule was met before ``max_iter``.
    log_likelihood: marginal log-likelihood of the observed votes under the final parameters.
    """

    posteriors: np.ndarray
    labels: np.ndarray
    confidence: np.ndarray
    class_prior: np.ndarray
    confusion: np.ndarray
    accuracy: np.ndarray
    iterations: int
    converged: bool
    log_likelihood: float


def _log_normalise(log_scores: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Row-wise softmax of log scores; returns (probabilities, row log-sum-exp)."""
    row_max = log_scores.max(axis=1, keepdims=True)
    shifted = np.exp(log_scores - row_max)
    row_sum = shifted.sum(axis=1, keepdims=True)
    return shifted / row_sum, (row_max + np.log(row_sum))[:, 0]


def dawid_skene(
    votes: np.ndarray,
    n_classes: int,
    max_iter: int = 200,
    tol: float = 1e-6,
    smoothing: float = 0.01,
    known: np.ndarray | None = None,
    prior_strength: float = 0.0,
    prior_accuracy: float = 0.7,
) -> DawidSkeneResult:
    """Dawid–Skene (1979) EM estimate of true labels, class prior and per-rater confusion matrices.

    Model: item i has a latent class ``z_i ~ Categorical(prior)``; rater r, independently given
    ``z_i = k``, says ``l`` with probability ``confusion[r, k, l]``. Missing votes (-1) are simply
    not observed and contribute nothing. Also usable as a generative label model over labeling
    functions (raters = LFs, abstain = -1).

    EM, fully vectorised over items (``obs[i, r, l] = 1`` if rater r said l on item i):

    * initialisation: posteriors ``T[i, k]`` = majority-vote soft counts ``counts[i, k] / n_i``;
    * M-step (additive smoothing ``s = smoothing`` so no probability becomes 0):
      ``prior_k = (sum_i T_ik + s) / (n_voted + K s)`` over items with at least one vote,
      ``confusion[r, k, l] = (sum_i T_ik obs_irl + a_kl + s) / (sum_i T_ik sum_l' obs_irl' + sum_l' a_kl' + K s)``
      where ``a`` is a Dirichlet prior on each row of every confusion matrix worth ``prior_strength``
      votes: ``a_kk = prior_strength * prior_accuracy`` and ``a_kl = prior_strength * (1 - prior_accuracy)
      / (K - 1)`` off the diagonal (MAP EM; ``prior_strength=0``, the default, is plain maximum
      likelihood). A rater seen on a handful of items then keeps roughly the prior accuracy instead of
      looking perfectly right (or wrong) after agreeing with the consensus on those few items, which is
      what lets a few raters with weak identities outvote a clear majority;
    * E-step: ``log T_ik = log prior_k + sum_r sum_l obs_irl log confusion[r, k, l]`` (normalised);
    * stop when the log-likelihood ``sum_i log sum_k prior_k prod_r confusion[r, k, v_ir]`` changes by
      less than ``tol * max(1, |log-likelihood|)`` between iterations (``converged=True``), or after
      ``max_iter`` iterations (``converged=False``).

    Edge cases: items with no votes get the prior as posterior, label -1 and confidence nan; a rater
    with no votes keeps a uniform confusion matrix (accuracy ``1/K``); with no votes at all (including
    an empty matrix) the prior and confusion matrices are uniform, ``iterations=0``,
    ``converged=True`` and ``log_likelihood=0``. ``smoothing`` must be > 0.

    ``known`` (optional, ``[n]``, class index or -1): items whose true class is known (e.g. labelled
    by people when the "raters" are labeling functions). Their posteriors are clamped to that class
    at every E-step (semi-supervised EM), which anchors the confusion matrices when too few
    conditionally independent raters make the unsupervised model unidentifiable.
    """
    if smoothing <= 0:
        raise ValueError(f"smoothing must be > 0, got {smoothing}")
    if prior_strength < 0 or not 0 < prior_accuracy < 1:
        raise ValueError(
            f"prior_strength must be >= 0 and prior_accuracy in (0, 1), got {prior_strength}, {prior_accuracy}"
        )
    if max_iter < 1:
        raise ValueError(f"max_iter must be >= 1, got {max_iter}")
    k = n_classes
    votes = as_vote_matrix(votes, k)
    n_items, n_raters = votes.shape

    observed = votes >= 0
    obs = np.zeros((n_items, n_raters, k))
    item_index, rater_index = np.nonzero(observed)
    obs[item_index, rater_index, votes[item_index, rater_index]] = 1.0
    counts = obs.sum(axis=1)
    has_votes = counts.sum(axis=1) > 0
    # Flattened to [items, raters * K] so that both EM steps are plain matrix products.
    voted_obs = obs[has_votes].reshape(-1, n_raters * k)

    prior = np.full(k, 1.0 / k)
    confusion = np.full((n_raters, k, k), 1.0 / k)
    off_diagonal = (1.0 - prior_accuracy) / (k - 1) if k > 1 else 0.0
    pseudo_votes = prior_strength * np.where(np.eye(k, dtype=bool), prior_accuracy, off_diagonal) + smoothing
    posteriors_voted = counts[has_votes] / np.maximum(counts[has_votes].sum(axis=1, keepdims=True), 1)
    anchored = np.zeros(0, dtype=np.int64)
    if known is not None:
        known = np.asarray(known, dtype=np.int64)
        if known.shape != (n_items,) or known.max(initial=-1) >= k or known.min(initial=-1) < -1:
            raise ValueError("known must hold one class index or -1 per item")
        anchored = known[has_votes]
        posteriors_voted[anchored >= 0] = np.eye(k)[anchored[anchored >= 0]]
    log_likelihood = 0.0
    iterations = 0
    converged = True

    if has_votes.any():
        converged = False
        previous = -np.inf
        for iterations in range(1, max_iter + 1):  # noqa: B007 (the count is reported after the loop)
            # M-step: smoothed prior and confusion matrices from the current soft labels.
            prior = (posteriors_voted.sum(axis=0) + smoothing) / (posteriors_voted.shape[0] + k * smoothing)
            # joint[r, k, l] = sum_i T_ik obs_irl
            joint = (posteriors_voted.T @ voted_obs).reshape(k, n_raters, k).transpose(1, 0, 2) + pseudo_votes
            confusion = joint / joint.sum(axis=2, keepdims=True)
            # E-step: log T_ik = log prior_k + sum_{r,l} obs_irl log confusion[r, k, l], then normalise.
            log_confusion = np.log(confusion).transpose(0, 2, 1).reshape(n_raters * k, k)
            log_scores = np.log(prior)[None, :] + voted_obs @ log_confusion
            posteriors_voted, item_log_lik = _log_normalise(log_scores)
            if anchored.size:
                rows = np.flatnonzero(anchored >= 0)
                posteriors_voted[rows] = np.eye(k)[anchored[rows]]
                # what EM maximises for an anchored item is the likelihood of its known class
                item_log_lik[rows] = log_scores[rows, anchored[rows]]
            log_likelihood = float(item_log_lik.sum())
            if abs(log_likelihood - previous) < tol * max(1.0, abs(log_likelihood)):
                converged = True
                break
            previous = log_likelihood

    posteriors = np.tile(prior, (n_items, 1))
    posteriors[has_votes] = posteriors_voted
    labels = np.where(has_votes, posteriors.argmax(axis=1), ABSTAIN).astype(np.int64)
    confidence = np.where(has_votes, posteriors.max(axis=1), np.nan)
    accuracy = np.einsum("k,rkk->r", prior, confusion)
    return DawidSkeneResult(
        posteriors=posteriors,
        labels=labels,
        confidence=confidence,
        class_prior=prior,
        confusion=confusion,
        accuracy=accuracy,
        iterations=iterations,
        converged=converged,
        log_likelihood=log_likelihood,
    )


def one_coin_posteriors(votes: np.ndarray, n_classes: int, accuracy: float | None = None) -> np.ndarray:
    """Posteriors ``[n, K]`` of the one-coin model: every rater is right with the same probability
    ``p`` and otherwise picks one of the other ``K - 1`` classes uniformly, classes equally likely a
    priori, so ``P(k | votes_i) = softmax_k(counts[i, k] * log(p (K - 1) / (1 - p)))``.

    It needs no rater identities, so it is the model for raters seen on too few items to estimate
    their own confusion matrices; its arg-max is the plurality (all classes on a tie). ``p`` defaults
    to the share of votes that agree with their item's unique plurality (clipped to
    ``[1/K + 0.01, 0.99]``). Items without votes get ``1/K`` everywhere.
    """
    counts = vote_counts(votes, n_classes).astype(np.float64)
    k = n_classes
    if k < 2:
        return np.ones((len(counts), k))
    if accuracy is None:
        labels, _ = majority_vote(votes, n_classes)
        decided = labels >= 0
        total = counts[decided].sum()
        accuracy = counts[decided, labels[decided]].sum() / total if total else 1.0 / k
    p = float(np.clip(accuracy, 1.0 / k + 0.01, 0.99))
    return _log_normalise(counts * np.log(p * (k - 1) / (1 - p)))[0] if len(counts) else np.zeros((0, k))


def temper(posteriors: np.ndarray, temperature: float) -> np.ndarray:
    """Temperature-scaled posteriors: ``p_k^(1/T) / sum_l p_l^(1/T)`` per row (Guo et al. 2017).

    ``T > 1`` softens over-confident posteriors, ``T < 1`` sharpens them, ``T = 1`` returns them as
    they are; the arg-max never changes. Zero probabilities stay zero. Rows of ``nan`` stay ``nan``.
    """
    if not temperature > 0:
        raise ValueError(f"temperature must be > 0, got {temperature}")
    p = np.asarray(posteriors, dtype=np.float64)
    with np.errstate(divide="ignore"):
        log_p = np.log(p) / temperature
    log_p = np.where(np.isnan(log_p), -np.inf, log_p)
    out = np.full_like(p, np.nan)
    finite = np.isfinite(log_p).any(axis=1) if p.size else np.zeros(len(p), dtype=bool)
    if finite.any():
        out[finite] = _log_normalise(log_p[finite])[0]
    return out


def fit_temperature(posteriors: np.ndarray, truth: np.ndarray, low: float = 0.25, high: float = 1000.0) -> float:
    """The temperature ``T`` in ``[low, high]`` that minimises the negative log-likelihood of ``truth``
    (class indexes) under :func:`temper`-ed ``posteriors``, on a log-spaced grid refined twice
    (relative precision better than 0.1%). With no rows, ``1.0``.
    """
    p = np.asarray(posteriors, dtype=np.float64)
    truth = np.asarray(truth, dtype=np.int64)
    if len(truth) == 0:
        return 1.0
    with np.errstate(divide="ignore"):
        log_p = np.log(np.maximum(p, 1e-300))

    def nll(t: float) -> float:
        scaled = log_p / t
        return float(-(scaled[np.arange(len(truth)), truth] - _log_normalise(scaled)[1]).sum())

    lo, hi = np.log(low), np.log(high)
    best = 0.0
    for _ in range(3):
        grid = np.linspace(lo, hi, 61)
        values = [nll(float(np.exp(g))) for g in grid]
        i = int(np.argmin(values))
        best = float(grid[i])
        step = grid[1] - grid[0]
        lo, hi = max(best - step, np.log(low)), min(best + step, np.log(high))
    return float(np.exp(best))


def calibration_table(confidence: np.ndarray, correct: np.ndarray, n_bins: int = 10) -> list[dict]:
    """Reliability table of confidences against outcomes, in ``n_bins`` equal-width bins over [0, 1].

    A confidence ``c`` falls in bin ``b`` when ``edges[b] < c <= edges[b + 1]`` (the first bin also
    holds 0), the binning of ``sklearn.calibration.calibration_curve(strategy="uniform")``. One row per
    non-empty bin: ``bin`` (``"0.9-1.0"``), ``items``, ``mean_confidence`` and ``accuracy`` (share of
    ``correct``), in bin order. ``nan`` confidences are left out.
    """
    conf = np.asarray(confidence, dtype=np.float64)
    ok = np.asarray(correct, dtype=bool)
    keep = ~np.isnan(conf)
    conf, ok = conf[keep], ok[keep]
    edges = np.linspace(0.0, 1.0, n_bins + 1)
    bins = np.searchsorted(edges[1:-1], conf, side="left")
    out = []
    for b in range(n_bins):
        member = bins == b
        if member.any():
            out.append(
                {
                    "bin": f"{edges[b]:.1f}-{edges[b + 1]:.1f}",
                    "items": int(member.sum()),
                    "mean_confidence": float(conf[member].mean()),
                    "accuracy": float(ok[member].mean()),
                }
            )
    return out


def expected_calibration_error(confidence: np.ndarray, correct: np.ndarray, n_bins: int = 10) -> float:
    """ECE (Naeini et al. 2015; Guo et al. 2017): ``sum_b (n_b / N) |accuracy_b - mean confidence_b|``
    over the bins of :func:`calibration_table`; ``nan`` with no confidences. 0 means every confidence
    level is right as often as it says."""
    table = calibration_table(confidence, correct, n_bins)
    n = sum(row["items"] for row in table)
    if n == 0:
        return float("nan")
    return float(sum(row["items"] / n * abs(row["accuracy"] - row["mean_confidence"]) for row in table))
