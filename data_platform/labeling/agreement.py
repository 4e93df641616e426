"""Inter-rater agreement for nominal labels: Cohen's kappa, Fleiss' kappa, Krippendorff's alpha,
and per-rater quality summaries built on them.

Conventions (see ``data_platform.labeling``): classes are ints ``0..K-1``; a vote matrix is a 2-D int
array ``votes[n_items, n_raters]`` holding ``-1`` where a rater gave no label. Every function returns
``nan`` (never raises) when the statistic is undefined for the data, e.g. no items with two ratings,
or all ratings in one class.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from data_platform.labeling.aggregation import as_vote_matrix, vote_counts


def cohen_kappa(a: np.ndarray, b: np.ndarray, n_classes: int) -> float:
    """Cohen's kappa between two raters, over the items both of them labeled.

    ``a`` and ``b`` are 1-D int arrays of equal length (``-1`` = no label). With ``N`` common items,
    ``p_o = (1/N) sum_k C[k, k]`` and ``p_e = (1/N^2) sum_k C[k, .] C[., k]`` where ``C`` is their
    ``K x K`` confusion matrix, ``kappa = (p_o - p_e) / (1 - p_e)``.

    Returns ``nan`` when fewer than 2 items are labeled by both, or when ``p_e == 1`` (both raters
    used one and the same class throughout, so chance agreement is already perfect).
    """
    a = np.asarray(a)
    b = np.asarray(b)
    if a.shape != b.shape or a.ndim != 1:
        raise ValueError(f"a and b must be 1-D arrays of the same length, got {a.shape} and {b.shape}")
    pair = as_vote_matrix(np.stack([a, b], axis=1), n_classes)
    pair = pair[(pair >= 0).all(axis=1)]
    n = pair.shape[0]
    if n < 2:
        return float("nan")
    table = np.bincount(pair[:, 0] * n_classes + pair[:, 1], minlength=n_classes**2)
    table = table.reshape(n_classes, n_classes)
    observed = np.trace(table) / n
    expected = float(table.sum(axis=1) @ table.sum(axis=0)) / n**2
    if expected >= 1.0:
        return float("nan")
    return float((observed - expected) / (1.0 - expected))


def pairwise_cohen(votes: np.ndarray, raters: Sequence[str], n_classes: int, min_overlap: int = 5) -> list[dict]:
    """Cohen's kappa for every pair of raters (columns) with at least ``min_overlap`` common items.

    Returns rows ``{"rater_a", "rater_b", "items", "kappa"}`` for ``a < b`` in column order, where
    ``items`` is the number of items both labeled and ``kappa`` is :func:`cohen_kappa` (may be ``nan``,
    e.g. when both used a single class). Pairs below ``min_overlap`` are omitted; an empty list means
    no pair overlaps enough.
    """
    votes = as_vote_matrix(votes, n_classes)
    if len(raters) != votes.shape[1]:
        raise ValueError(f"{len(raters)} rater names for {votes.shape[1]} vote columns")
    rated = votes >= 0
    overlap = rated.T.astype(np.int64) @ rated.astype(np.int64)
    rows = []
    for i in range(votes.shape[1]):
        for j in range(i + 1, votes.shape[1]):
            if overlap[i, j] >= min_overlap:
                rows.append(
                    {
                        "rater_a": raters[i],
                        "rater_b": raters[j],
                        "items": int(overlap[i, j]),
                        "kappa": cohen_kappa(votes[:, i], votes[:, j], n_classes),
                    }
                )
    return rows


def fleiss_kappa(votes: np.ndarray, n_classes: int) -> float:
    """Fleiss' kappa, generalised to a varying number of ratings per item.

    Only items with ``n_i >= 2`` ratings are used. With ``n_ij`` = ratings of item i in class j:
    ``P_i = (sum_j n_ij^2 - n_i) / (n_i (n_i - 1))``, ``P_bar = mean_i P_i``,
    ``p_j = sum_i n_ij / sum_i n_i``, ``P_e = sum_j p_j^2``, ``kappa = (P_bar - P_e) / (1 - P_e)``.
    When every item has the same number of ratings this is the classical Fleiss (1971) kappa (as in
    ``statsmodels.stats.inter_rater.fleiss_kappa``); which raters gave them does not matter.

    Returns ``nan`` when no item has 2 ratings or when every rating is the same class (``P_e == 1``).
    """
    counts = vote_counts(votes, n_classes)
    n_i = counts.sum(axis=1)
    counts, n_i = counts[n_i >= 2], n_i[n_i >= 2]
    if counts.shape[0] == 0:
        return float("nan")
    per_item = ((counts**2).sum(axis=1) - n_i) / (n_i * (n_i - 1))
    p_bar = per_item.mean()
    p_class = counts.sum(axis=0) / n_i.sum()
    p_e = float(p_class @ p_class)
    if p_e >= 1.0:
        return float("nan")
    return float((p_bar - p_e) / (1.0 - p_e))


def _coincidence_matrix(votes: np.ndarray, n_classes: int) -> np.ndarray:
    """Krippendorff's coincidence matrix over pairable items (items with >= 2 ratings).

    ``o[c, k] = sum_u (n_uc n_uk - [c == k] n_uc) / (m_u - 1)``: each ordered pair of ratings from
    different raters on item u, weighted by ``1 / (m_u - 1)`` so that item u contributes ``m_u``.
    """
    counts = vote_counts(votes, n_classes)
    m = counts.sum(axis=1)
    counts, m = counts[m >= 2].astype(np.float64), m[m >= 2]
    weights = 1.0 / (m - 1)
    return (counts * weights[:, None]).T @ counts - np.diag(weights @ counts)


def krippendorff_alpha_nominal(votes: np.ndarray, n_classes: int) -> float:
    """Krippendorff's alpha for nominal data, via the coincidence matrix.

    Only pairable values count (items with >= 2 ratings). With coincidences ``o[c, k]`` (see
    ``_coincidence_matrix``), ``n_c = sum_k o[c, k]`` and ``n = sum_c n_c``:
    ``D_o = (n - sum_c o[c, c]) / n``, ``D_e = (n^2 - sum_c n_c^2) / (n (n - 1))``,
    ``alpha = 1 - D_o / D_e``. Handles any pattern of missing ratings.

    Returns ``nan`` when there are no pairable values or when all pairable values are one class
    (``D_e == 0``, no variation to explain).
    """
    coincidence = _coincidence_matrix(votes, n_classes)
    n_c = coincidence.sum(axis=1)
    n = n_c.sum()
    if n < 2:
        return float("nan")
    expected_disagreement = n**2 - float(n_c @ n_c)
    if expected_disagreement <= 1e-9 * n**2:
        return float("nan")
    observed_disagreement = n - np.trace(coincidence)
    return float(1.0 - (n - 1) * observed_disagreement / expected_disagreement)


def rater_quality(
    votes: np.ndarray,
    raters: Sequence[str],
    gold: np.ndarray,
    consensus: np.ndarray,
    n_classes: int,
) -> list[dict]:
    """One row of quality figures per rater (vote column).

    ``gold`` and ``consensus`` are 1-D int arrays with one label per item (``-1`` = unknown). Row keys:

    * ``rater``; ``items``: how many items the rater labeled;
    * ``gold_items``: of those, how many have a gold label; ``gold_accuracy``: share of them where the
      rater's label equals gold (``nan`` when ``gold_items == 0``);
    * ``consensus_items``: rated items with a consensus label (``consensus >= 0``);
      ``agreement_with_consensus``: share of those where the rater's label equals the consensus
      (``nan`` when ``consensus_items == 0``). This is NOT leave-one-out: the consensus usually
      includes the rater's own vote, which inflates agreement, most for items with few ratings;
    * ``alpha_without_rater``: :func:`krippendorff_alpha_nominal` of ``votes`` with this rater's
      column removed (``nan`` when undefined, e.g. with only one other rater).
    """
    votes = as_vote_matrix(votes, n_classes)
    n_items, n_raters = votes.shape
    if len(raters) != n_raters:
        raise ValueError(f"{len(raters)} rater names for {n_raters} vote columns")
    gold = np.asarray(gold).reshape(-1)
    consensus = np.asarray(consensus).reshape(-1)
    if gold.shape[0] != n_items or consensus.shape[0] != n_items:
        raise ValueError(f"gold and consensus must have one entry per item ({n_items})")

    rows = []
    for r, name in enumerate(raters):
        column = votes[:, r]
        rated = column >= 0
        with_gold = rated & (gold >= 0)
        with_consensus = rated & (consensus >= 0)
        rows.append(
            {
                "rater": name,
                "items": int(rated.sum()),
                "gold_items": int(with_gold.sum()),
                "gold_accuracy": float(np.mean(column[with_gold] == gold[with_gold]))
                if with_gold.any()
                else float("nan"),
                "consensus_items": int(with_consensus.sum()),
                "agreement_with_consensus": (
                    float(np.mean(column[with_consensus] == consensus[with_consensus]))
                    if with_consensus.any()
                    else float("nan")
                ),
                "alpha_without_rater": krippendorff_alpha_nominal(np.delete(votes, r, axis=1), n_classes),
            }
        )
    return rows


def raters_pulling_down(
    votes: np.ndarray,
    raters: Sequence[str],
    n_classes: int,
    min_gain: float = 0.02,
    gold_accuracy: Mapping[str, float] | None = None,
    min_gold_accuracy: float | None = None,
) -> list[str]:
    """Raters who hurt label quality, most harmful first.

    A rater is named when removing their column raises Krippendorff's alpha by at least ``min_gain``
    (``gain = alpha(without rater) - alpha(all raters)``), or, if both ``gold_accuracy`` (rater name ->
    accuracy on gold items) and ``min_gold_accuracy`` are given, when their gold accuracy is below
    ``min_gold_accuracy``. ``nan`` values never trigger a flag (undefined alpha, rater without gold).

    Order: largest alpha gain first (raters flagged only by gold, whose gain is below ``min_gain`` or
    undefined, come after those flagged by alpha), then lowest gold accuracy, then name.
    Returns an empty list when nobody qualifies.
    """
    votes = as_vote_matrix(votes, n_classes)
    if len(raters) != votes.shape[1]:
        raise ValueError(f"{len(raters)} rater names for {votes.shape[1]} vote columns")
    alpha_all = krippendorff_alpha_nominal(votes, n_classes)
    flagged = []
    for r, name in enumerate(raters):
        gain = krippendorff_alpha_nominal(np.delete(votes, r, axis=1), n_classes) - alpha_all
        accuracy = float("nan")
        if gold_accuracy is not None and name in gold_accuracy:
            accuracy = float(gold_accuracy[name])
        by_alpha = bool(gain >= min_gain)  # False for nan
        by_gold = min_gold_accuracy is not None and bool(accuracy < min_gold_accuracy)
        if by_alpha or by_gold:
            sort_gain = gain if not np.isnan(gain) else -np.inf
            sort_accuracy = accuracy if not np.isnan(accuracy) else np.inf
            flagged.append((-sort_gain, sort_accuracy, name))
    return [name for _, _, name in sorted(flagged)]
