"""Uncertainty sampling for active learning: which unlabeled items are most worth a human label.

``probs`` is an ``[n_items, K]`` array of predicted class probabilities (rows summing to 1). Every
score is oriented so that HIGHER means more uncertain, i.e. more worth labeling.
"""

from __future__ import annotations

from collections.abc import Collection, Hashable, Sequence

import numpy as np

STRATEGIES: tuple[str, ...] = ("least_confidence", "margin", "entropy")


def uncertainty(probs: np.ndarray, strategy: str) -> np.ndarray:
    """Uncertainty score per row of ``probs`` (higher = more worth labeling).

    * ``"least_confidence"``: ``1 - p_max`` (0 for a one-hot row, ``1 - 1/K`` for a uniform row);
    * ``"margin"``: ``1 - (p_1st - p_2nd)``, the gap between the two largest probabilities; with a
      single class ``p_2nd`` is taken as 0;
    * ``"entropy"``: ``-sum_k p_k ln p_k`` in nats, with ``0 ln 0 = 0`` (0 for one-hot, ``ln K``
      for uniform).

    Returns a float array of shape ``[n_items]`` (empty for no rows). Rows are not renormalised; a
    row containing nan gives a nan score. Raises ``ValueError`` for an unknown strategy (the message
    lists ``STRATEGIES``) or a ``probs`` that is not 2-D.
    """
    if strategy not in STRATEGIES:
        raise ValueError(f"unknown strategy {strategy!r}; valid strategies: {', '.join(STRATEGIES)}")
    probs = np.asarray(probs, dtype=np.float64)
    if probs.ndim != 2:
        raise ValueError(f"probs must be a 2-D [n_items, n_classes] array, got shape {probs.shape}")
    if probs.shape[0] == 0 or probs.shape[1] == 0:
        return np.zeros(probs.shape[0])
    if strategy == "least_confidence":
        return 1.0 - probs.max(axis=1)
    if strategy == "margin":
        ordered = np.sort(probs, axis=1)
        second = ordered[:, -2] if probs.shape[1] > 1 else np.zeros(probs.shape[0])
        return 1.0 - (ordered[:, -1] - second)
    positive = probs > 0
    terms = np.where(positive, probs * np.log(np.where(positive, probs, 1.0)), 0.0)  # 0 ln 0 = 0
    terms[np.isnan(probs)] = np.nan
    return -terms.sum(axis=1)


def pick_most_uncertain(
    ids: Sequence[Hashable],
    probs: np.ndarray,
    strategy: str,
    n: int,
    exclude: Collection[Hashable] = (),
) -> list[tuple[Hashable, float]]:
    """The ``n`` most uncertain items as ``(id, score)`` pairs, most uncertain first.

    ``ids[i]`` names row ``i`` of ``probs``; ids in ``exclude`` (e.g. already labeled or already
    queued) are skipped. The score is :func:`uncertainty` with ``strategy``. Deterministic: equal
    scores are ordered by id (ascending, so ids must be mutually comparable), and nan scores come last.
    Returns fewer than ``n`` pairs when fewer candidates remain, and ``[]`` for ``n <= 0``.
    """
    scores = uncertainty(probs, strategy)
    if len(ids) != scores.shape[0]:
        raise ValueError(f"{len(ids)} ids for {scores.shape[0]} rows of probs")
    if n <= 0:
        return []
    excluded = set(exclude)
    candidates = [(item, float(score)) for item, score in zip(ids, scores) if item not in excluded]
    candidates.sort(key=lambda pair: (np.isnan(pair[1]), -pair[1] if not np.isnan(pair[1]) else 0.0, pair[0]))
    return candidates[:n]
