"""Representation, label rates and label agreement per group (e.g. language, country, device) across
train/dev/test splits.

* :func:`group_table`: how many examples each group has in each split, its share of the split and its
  positive-label rate, plus an ``"all"`` row per group (:func:`group_table_from_counts`: the same from
  counts per group and split, e.g. a SQL ``GROUP BY``);
* :func:`divergences`: groups whose share or label rate in a split departs from the reference by more
  than a tolerance;
* :func:`agreement_by_group`: Krippendorff's alpha of the human votes within each group, to spot
  groups whose labels are less reliable.

Only numpy is used, so the module is cheap to import from assets.
"""

from __future__ import annotations

import numpy as np

from data_platform.labeling.aggregation import as_vote_matrix
from data_platform.labeling.agreement import krippendorff_alpha_nominal

ALL_SPLITS = "all"
UNKNOWN_GROUP = "unknown"


def _group_names(groups: np.ndarray) -> np.ndarray:
    """Groups as a 1-D array of Python strings; ``None`` and ``NaN`` become ``"unknown"``."""
    out = []
    for value in np.asarray(groups, dtype=object).reshape(-1):
        missing = value is None or (isinstance(value, float) and value != value)
        out.append(UNKNOWN_GROUP if missing else str(value))
    return np.array(out, dtype=object)


def group_table(groups: np.ndarray, splits: np.ndarray, y: np.ndarray, positive: object = 1) -> list[dict]:
    """Examples, share of split and label rate for every (group, split) pair that has examples.

    ``groups``, ``splits`` and ``y`` have one entry per example. Groups are strings (``None``/``NaN``
    become ``"unknown"``); splits are strings (any names except ``"all"``); ``y`` holds 0/1 or class
    names and an example is positive when ``y == positive``. Rows
    ``{"group", "split", "examples", "share_of_split", "label_rate"}`` with

    * ``share_of_split = examples(group, split) / examples(split)``;
    * ``label_rate = #{positive in (group, split)} / examples(group, split)``;
    * per group one more row with ``split = "all"``: its examples over every split, its share of all
      examples and its label rate over every split.

    (group, split) pairs without examples are omitted (a group absent from a split has no row there).
    Sorted by group, then split name, with the ``"all"`` row last. Raises ``ValueError`` on length
    mismatch, on a split named ``"all"``, or when ``positive`` never occurs in a non-empty ``y``
    (most likely a wrong ``positive``, e.g. 1 for string classes). Empty input gives ``[]``.
    """
    group_arr = _group_names(groups)
    split_arr = np.array([str(s) for s in np.asarray(splits, dtype=object).reshape(-1)], dtype=object)
    labels = np.asarray(y).reshape(-1)
    n = group_arr.shape[0]
    if split_arr.shape[0] != n or labels.shape[0] != n:
        raise ValueError(
            f"groups, splits and y must have the same length, got {n}, {split_arr.shape[0]}, {labels.shape[0]}"
        )
    if n == 0:
        return []
    if np.any(split_arr == ALL_SPLITS):
        raise ValueError(f"a split may not be named {ALL_SPLITS!r}: that name is reserved for the totals")
    is_positive = np.asarray(labels == positive, dtype=bool).reshape(-1)
    if is_positive.shape[0] != n or not is_positive.any():
        raise ValueError(f"positive={positive!r} does not occur in y")

    group_names, group_idx = np.unique(group_arr.astype(str), return_inverse=True)
    split_names, split_idx = np.unique(split_arr.astype(str), return_inverse=True)
    n_groups, n_splits = group_names.shape[0], split_names.shape[0]
    cell = group_idx.reshape(-1) * n_splits + split_idx.reshape(-1)
    examples = np.bincount(cell, minlength=n_groups * n_splits)
    positives = np.bincount(cell, weights=is_positive.astype(np.float64), minlength=n_groups * n_splits)
    return group_table_from_counts(
        [
            (str(group_names[c // n_splits]), str(split_names[c % n_splits]), int(examples[c]), int(positives[c]))
            for c in np.flatnonzero(examples)
        ]
    )


def group_table_from_counts(counts: list[tuple[str, str, int, int]]) -> list[dict]:
    """:func:`group_table` from the counts per (group, split): ``(group, split, examples, positives)``
    tuples, e.g. a SQL ``GROUP BY`` over the table, so the examples never come to Python. Same rows, same
    order, same errors (a split named ``"all"``, no positive at all in non-empty counts)."""
    counts = [(str(g), str(s), int(n), int(p)) for g, s, n, p in counts if n]
    if not counts:
        return []
    if any(s == ALL_SPLITS for _, s, _, _ in counts):
        raise ValueError(f"a split may not be named {ALL_SPLITS!r}: that name is reserved for the totals")
    if not any(p for *_, p in counts):
        raise ValueError("the positive label does not occur in y")
    split_totals: dict[str, int] = {}
    by_group: dict[str, list[tuple[str, int, int]]] = {}
    for group, split, n, positives in sorted(counts):
        split_totals[split] = split_totals.get(split, 0) + n
        by_group.setdefault(group, []).append((split, n, positives))
    total = sum(split_totals.values())
    rows = []
    for group, cells in by_group.items():
        for split, n, positives in cells:
            rows.append(
                {
                    "group": group,
                    "split": split,
                    "examples": n,
                    "share_of_split": n / split_totals[split],
                    "label_rate": positives / n,
                }
            )
        examples, positives = sum(c[1] for c in cells), sum(c[2] for c in cells)
        rows.append(
            {
                "group": group,
                "split": ALL_SPLITS,
                "examples": examples,
                "share_of_split": examples / total,
                "label_rate": positives / examples,
            }
        )
    return rows


def divergences(
    table: list[dict],
    share_tolerance: float = 0.05,
    rate_tolerance: float = 0.05,
    min_examples: int = 200,
) -> list[dict]:
    """Groups whose representation or label rate in a split departs from the reference.

    ``table`` is the output of :func:`group_table`. Only rows with ``examples >= min_examples`` are
    checked. For such a row of group g in split s:

    * ``"representation"`` (real splits only): ``value = share_of_split(g, s)``,
      ``reference = share_of_split(g, "all")`` (g's share of all examples), flagged when
      ``|value - reference| > share_tolerance`` (absolute, in share points);
    * ``"label_rate"`` (real splits and ``"all"``): ``value = label_rate(g, s)``,
      ``reference`` = label rate of split s over all groups
      (``sum_g examples * label_rate / sum_g examples``), flagged when
      ``|value - reference| > rate_tolerance``. On the ``"all"`` rows this flags a group whose base
      rate differs overall.

    Returns rows ``{"group", "split", "kind", "value", "reference", "difference"}`` with
    ``difference = value - reference``, in table order (representation before label_rate for the same
    row). ``[]`` when nothing diverges. Caveat: with ``min_examples=200`` a label rate near 0.5 has a
    standard error of about 0.035, so ``rate_tolerance=0.05`` also flags some pure sampling noise;
    raise ``min_examples`` or the tolerance for small splits.
    """
    overall_share: dict[str, float] = {}
    split_examples: dict[str, int] = {}
    split_positives: dict[str, float] = {}
    for row in table:
        if row["split"] == ALL_SPLITS:
            overall_share[row["group"]] = row["share_of_split"]
        split_examples[row["split"]] = split_examples.get(row["split"], 0) + row["examples"]
        split_positives[row["split"]] = split_positives.get(row["split"], 0.0) + row["examples"] * row["label_rate"]

    flagged = []
    for row in table:
        if row["examples"] < min_examples:
            continue
        group, split = row["group"], row["split"]
        if split != ALL_SPLITS and group in overall_share:
            reference = overall_share[group]
            difference = row["share_of_split"] - reference
            if abs(difference) > share_tolerance:
                flagged.append(
                    {
                        "group": group,
                        "split": split,
                        "kind": "representation",
                        "value": row["share_of_split"],
                        "reference": reference,
                        "difference": difference,
                    }
                )
        reference = split_positives[split] / split_examples[split]
        difference = row["label_rate"] - reference
        if abs(difference) > rate_tolerance:
            flagged.append(
                {
                    "group": group,
                    "split": split,
                    "kind": "label_rate",
                    "value": row["label_rate"],
                    "reference": reference,
                    "difference": difference,
                }
            )
    return flagged


def agreement_by_group(votes: np.ndarray, groups: np.ndarray, n_classes: int) -> list[dict]:
    """Krippendorff's alpha (nominal) of the votes on the items of each group.

    ``votes`` is a vote matrix ``[n_items, n_raters]`` (ints ``0..n_classes-1``, ``-1`` = no vote);
    ``groups`` has one entry per item (``None``/``NaN`` -> ``"unknown"``). For each group, ``alpha`` is
    :func:`data_platform.labeling.agreement.krippendorff_alpha_nominal` on that group's rows only:
    ``alpha = 1 - (n - 1) D_o / D_e`` over the pairable values (items with >= 2 votes), so the
    expected disagreement uses the group's own class distribution.

    Rows ``{"group", "items", "pairable_items", "alpha"}`` sorted by group: ``items`` = items of the
    group, ``pairable_items`` = those with at least two votes. ``alpha`` is ``nan`` when undefined
    (no pairable item, or every pairable vote in one class). Raises ``ValueError`` on a length
    mismatch or an invalid vote matrix.
    """
    matrix = as_vote_matrix(votes, n_classes)
    names = _group_names(groups)
    if names.shape[0] != matrix.shape[0]:
        raise ValueError(f"{names.shape[0]} groups for {matrix.shape[0]} items")
    ratings = (matrix >= 0).sum(axis=1)
    rows = []
    for group in sorted(set(names.tolist())):
        mask = names == group
        rows.append(
            {
                "group": group,
                "items": int(mask.sum()),
                "pairable_items": int((ratings[mask] >= 2).sum()),
                "alpha": krippendorff_alpha_nominal(matrix[mask], n_classes),
            }
        )
    return rows
