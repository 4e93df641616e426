"""Predictive signal of single features for a binary or multiclass label, measured on a training split.

Two views, both on one feature at a time:

* **mutual information** ``I(X; Y)`` in nats (plug-in estimate on a contingency table). Categorical
  features are used as they are; numeric features are first cut into quantile bins
  (:func:`quantile_bin_codes`). Missing values (``None``, ``NaN``) are their own category / bin, so
  "is missing" can carry signal too.
* **single-feature ROC AUC** for binary labels: the raw value for numeric features, an out-of-fold
  per-category positive rate for categorical ones (so that ids cannot look predictive by memorising).

:func:`feature_signal` combines them into one row per feature with a verdict ("useless", "signal",
"suspiciously strong"). Both estimates are their published formulas computed with numpy (the plug-in MI of the
contingency table, the AUC from average ranks); they equal scikit-learn's ``mutual_info_score`` and
``roc_auc_score`` up to float rounding (tested), without importing scikit-learn (about 1 s per split step).
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

KINDS = ("numeric", "categorical")

# Verdict thresholds (see feature_signal). normalized_mi = I(X; Y) / H(Y) is the share of the label's
# entropy that the feature explains; AUC is reported as max(auc, 1 - auc) for numeric features.
# "useless": below both floors, the feature explains < 0.1% of the label entropy and ranks positives
# hardly better than a coin (0.52).
USELESS_MAX_NORMALIZED_MI = 0.001
USELESS_MAX_AUC = 0.52
# "suspiciously strong": a single feature that alone separates the classes almost perfectly, or explains
# half the label entropy, is more often a leak (a copy or a consequence of the label, a post-outcome
# field) than a genuine predictor: look at how it is produced before training on it.
LEAKAGE_MIN_AUC = 0.95
LEAKAGE_MIN_NORMALIZED_MI = 0.5

DEFAULT_BINS = 20
DEFAULT_FOLDS = 5
DEFAULT_SEED = 0


# ---------------------------------------------------------------------------------------------------
# encodings


def _is_missing_scalar(value: object) -> bool:
    if value is None:
        return True
    try:
        return bool(value != value)  # NaN (float, numpy float, ...) is the only value unequal to itself
    except (TypeError, ValueError):
        return False


def category_codes(x: np.ndarray) -> tuple[np.ndarray, int]:
    """Integer codes ``0..n_codes-1`` for the distinct values of ``x``, missing values included.

    ``None`` and ``NaN`` are missing and all get one shared code of their own (the last one, if any
    are present). The order of the codes carries no meaning. Returns ``(codes int64[n], n_codes)``;
    an empty ``x`` gives ``(empty, 0)``.
    """
    arr = np.asarray(x)
    if arr.ndim != 1:
        arr = arr.reshape(-1)
    if arr.size == 0:
        return np.zeros(0, dtype=np.int64), 0
    if arr.dtype.kind == "f":
        missing = np.isnan(arr)
        _, present = np.unique(arr[~missing], return_inverse=True)
        n_present = int(present.max()) + 1 if present.size else 0
    elif arr.dtype.kind in "biuUSM":
        missing = np.zeros(arr.shape[0], dtype=bool)
        _, present = np.unique(arr, return_inverse=True)
        n_present = int(present.max()) + 1
    else:  # object (or anything else): hash the Python values
        missing = np.fromiter((_is_missing_scalar(v) for v in arr), dtype=bool, count=arr.shape[0])
        index: dict[object, int] = {}
        present = np.fromiter((index.setdefault(v, len(index)) for v, m in zip(arr, missing) if not m), dtype=np.int64)
        n_present = len(index)
    codes = np.full(arr.shape[0], n_present, dtype=np.int64)
    codes[~missing] = present.reshape(-1)
    return codes, n_present + int(missing.any())


def _as_float(x: np.ndarray) -> np.ndarray:
    """A float64 copy of ``x`` with ``None`` and +-inf replaced by ``NaN`` (= missing)."""
    arr = np.asarray(x)
    if arr.ndim != 1:
        arr = arr.reshape(-1)
    if arr.dtype.kind == "O":
        arr = np.array([np.nan if v is None else v for v in arr], dtype=np.float64)
    else:
        arr = arr.astype(np.float64)
    arr[~np.isfinite(arr)] = np.nan
    return arr


def quantile_bin_codes(x: np.ndarray, bins: int = DEFAULT_BINS) -> np.ndarray:
    """Discretise a numeric feature into up to ``bins`` quantile bins; missing values get their own bin.

    Over the present (finite) values ``v``: edges ``e = unique(quantile(v, [0, 1/bins, ..., 1]))``
    (numpy's default linear interpolation; duplicated edges are dropped, so heavily tied features get
    fewer bins). Bins are right-closed with the lowest one closed on both sides:
    ``[e_0, e_1], (e_1, e_2], ..., (e_{m-1}, e_m]``, coded ``0..m-1``, i.e. the same bins as
    ``pandas.qcut(x, bins, labels=False, duplicates="drop")``. Missing values (``None``, ``NaN``,
    ``+-inf``) get code ``m`` (or ``0`` if every value is missing). A constant feature is one bin.
    Returns int64 codes, one per value.
    """
    if bins < 1:
        raise ValueError(f"bins must be >= 1, got {bins}")
    values = _as_float(x)
    present = ~np.isnan(values)
    codes = np.zeros(values.shape[0], dtype=np.int64)
    if not present.any():
        return codes
    edges = np.unique(np.quantile(values[present], np.linspace(0.0, 1.0, bins + 1)))
    codes[present] = np.searchsorted(edges[1:-1], values[present], side="left")
    codes[~present] = max(edges.shape[0] - 1, 1)
    return codes


def _label_codes(y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Codes ``0..K-1`` for the sorted distinct labels, and those labels. Missing labels raise."""
    arr = np.asarray(y).reshape(-1)
    if arr.dtype.kind == "O" or arr.dtype.kind == "f":
        if any(_is_missing_scalar(v) for v in arr):
            raise ValueError("y must not contain missing labels (None/NaN): drop those rows first")
    classes, codes = np.unique(arr, return_inverse=True)
    return codes.reshape(-1).astype(np.int64), classes


# ---------------------------------------------------------------------------------------------------
# mutual information


def _mutual_information_codes(a: np.ndarray, b: np.ndarray) -> float:
    """Plug-in mutual information (nats) between two arrays of non-negative integer codes.

    From the contingency table of the ``N`` pairs, with ``n_ij`` the count of (a = i, b = j) and
    ``a_i``, ``b_j`` its margins: ``I = sum over n_ij > 0 of (n_ij / N) log(N n_ij / (a_i b_j))``
    (scikit-learn's ``mutual_info_score`` up to float rounding). 0.0 for empty input or when either
    side takes a single value; never negative (rounding is clipped).
    """
    n = a.shape[0]
    if n == 0:
        return 0.0
    n_b = int(b.max()) + 1
    # one cell id per (a, b) pair; codes are dense (at most one per row), so the table has <= N * n_b cells
    cells, counts = np.unique(a.astype(np.int64) * n_b + b, return_counts=True)
    a_of_cell, b_of_cell = np.divmod(cells, n_b)
    a_margin = np.bincount(a_of_cell, weights=counts)
    b_margin = np.bincount(b_of_cell, weights=counts, minlength=n_b)
    if np.count_nonzero(a_margin) < 2 or np.count_nonzero(b_margin) < 2:
        return 0.0
    joint = counts.astype(np.float64)
    terms = joint / n * (np.log(joint) + np.log(n) - np.log(a_margin[a_of_cell]) - np.log(b_margin[b_of_cell]))
    return max(float(terms.sum()), 0.0)


def label_entropy(y: np.ndarray) -> float:
    """Entropy of the label in nats: ``H(Y) = -sum_k p_k log p_k`` with ``p_k`` the class shares.

    0 for an empty ``y`` or a single class.
    """
    codes, _ = _label_codes(y)
    if codes.size == 0:
        return 0.0
    p = np.bincount(codes) / codes.shape[0]
    p = p[p > 0]
    return max(float(-np.sum(p * np.log(p))), 0.0)


def _feature_codes(x: np.ndarray, kind: str, bins: int) -> np.ndarray:
    if kind == "numeric":
        return quantile_bin_codes(x, bins)
    if kind == "categorical":
        return category_codes(x)[0]
    raise ValueError(f"kind must be one of {KINDS}, got {kind!r}")


def mutual_information(x: np.ndarray, y: np.ndarray, kind: str, bins: int = DEFAULT_BINS) -> float:
    """Mutual information between one feature and the label, in nats.

    ``x`` is discretised first: ``kind="categorical"`` uses the values as they are (``None``/``NaN``
    form one category of their own, see :func:`category_codes`); ``kind="numeric"`` uses
    :func:`quantile_bin_codes` (up to ``bins`` quantile bins, missing values in their own bin).
    With ``n_ij`` the joint counts of (bin i, class j), ``a_i``/``b_j`` the marginals and ``N`` rows:
    ``I = sum_ij (n_ij / N) log(N n_ij / (a_i b_j))``, equal to
    ``sklearn.metrics.mutual_info_score(codes, y)`` up to float rounding.

    Edge cases: 0.0 for empty input, a constant feature or a single-class label. The plug-in estimate
    is biased upwards, by about ``(bins_used - 1)(K - 1) / (2N)`` for an independent feature with
    ``K`` classes; in particular an id column (one category per row) reaches ``I = H(Y)``.
    Missing labels raise ``ValueError``.
    """
    codes = _feature_codes(x, kind, bins)
    labels, _ = _label_codes(y)
    if codes.shape[0] != labels.shape[0]:
        raise ValueError(f"x has {codes.shape[0]} values but y has {labels.shape[0]}")
    return _mutual_information_codes(codes, labels)


# ---------------------------------------------------------------------------------------------------
# single-feature AUC


def average_ranks(values: np.ndarray) -> np.ndarray:
    """1-based ranks of ``values`` (float64), tied values sharing the mean of the ranks they span
    (``scipy.stats.rankdata(method="average")``)."""
    order = np.argsort(values, kind="stable")
    ordered = values[order]
    n = ordered.shape[0]
    # first position of each run of equal values, and the position after its end
    starts = np.flatnonzero(np.concatenate(([True], ordered[1:] != ordered[:-1])))
    ends = np.append(starts[1:], n)
    ranks = np.empty(n, dtype=np.float64)
    ranks[order] = np.repeat((starts + ends + 1) / 2.0, ends - starts)
    return ranks


def roc_auc(scores: np.ndarray, positive: np.ndarray) -> float | None:
    """ROC AUC of ``scores`` for the boolean ``positive``, ties counted half.

    Computed as the Mann-Whitney ``U / (n_+ n_-)`` from average ranks:
    ``U = (sum of the positives' ranks) - n_+ (n_+ + 1) / 2`` (equal to scikit-learn's
    ``roc_auc_score`` up to float rounding). ``None`` when there are no positives or no negatives;
    non-finite scores (NaN, +-inf) raise ``ValueError`` (impute them first).
    """
    scores = np.asarray(scores, dtype=np.float64).reshape(-1)
    positive = np.asarray(positive, dtype=bool).reshape(-1)
    if scores.shape[0] != positive.shape[0]:
        raise ValueError(f"scores has {scores.shape[0]} values but positive has {positive.shape[0]}")
    if positive.all() or not positive.any():
        return None
    if not np.isfinite(scores).all():
        raise ValueError("scores must be finite (no NaN or infinity): impute missing values first")
    n_positive = int(np.count_nonzero(positive))
    n_negative = positive.shape[0] - n_positive
    u = float(average_ranks(scores)[positive].sum()) - n_positive * (n_positive + 1) / 2.0
    return u / (n_positive * n_negative)


def _binary_positive(y: np.ndarray, positive: object | None) -> np.ndarray | None:
    """Boolean "is positive" mask; ``None`` when y has a single class. More than 2 classes raise."""
    codes, classes = _label_codes(y)
    if classes.shape[0] > 2:
        raise ValueError(f"a binary label is required, found {classes.shape[0]} classes")
    if classes.shape[0] < 2:
        return None
    if positive is None:
        return codes == 1  # the larger of the two sorted classes, e.g. 1 for 0/1, True for booleans
    if not np.any(classes == positive):
        raise ValueError(f"positive={positive!r} is not one of the classes {classes.tolist()}")
    return np.asarray(y).reshape(-1) == positive


def _out_of_fold_rate(codes: np.ndarray, is_positive: np.ndarray, folds: int, seed: int) -> np.ndarray:
    """Per-row positive rate of the row's category, computed on the other folds only."""
    n = codes.shape[0]
    n_codes = int(codes.max()) + 1
    fold = np.random.default_rng(seed).permutation(n) % folds
    fallback = float(is_positive.mean())  # one constant for every fold: carries no per-row information
    encoded = np.empty(n, dtype=np.float64)
    for f in range(folds):
        held_out = fold == f
        train = ~held_out
        totals = np.bincount(codes[train], minlength=n_codes)
        positives = np.bincount(codes[train], weights=is_positive[train].astype(np.float64), minlength=n_codes)
        with np.errstate(invalid="ignore", divide="ignore"):
            rate = np.where(totals > 0, positives / np.maximum(totals, 1), fallback)
        encoded[held_out] = rate[codes[held_out]]
    return encoded


def single_feature_auc_with_direction(
    x: np.ndarray,
    y: np.ndarray,
    kind: str,
    *,
    positive: object | None = None,
    folds: int = DEFAULT_FOLDS,
    seed: int = DEFAULT_SEED,
) -> tuple[float, str | None] | None:
    """ROC AUC of one feature for a binary label, and its direction: ``(auc, direction)``.

    * ``kind="numeric"``: the raw value is the score. Missing values (``None``, ``NaN``, ``+-inf``)
      are imputed with the median of the present values (so they sit in the middle of the ranking;
      an all-missing feature is constant, AUC 0.5). With ``a`` the AUC of the value for the positive
      class, returns ``(max(a, 1 - a), "higher" if a >= 0.5 else "lower")``: "higher" means larger
      values indicate the positive class.
    * ``kind="categorical"``: the score of a row is the positive rate of its category computed
      **out of fold**: rows are dealt into ``folds`` folds by a permutation seeded with ``seed``, and
      a row's score uses only the other folds (categories unseen there get the overall positive rate,
      one constant shared by all such rows). Returns ``(a, None)``: the score is already oriented
      (no flip), and an AUC at or below 0.5 means the categories carry no signal that generalises to
      unseen rows. A unique id scores exactly 0.5; an in-sample rate would score near 1.

    ``positive`` is the positive class (default: the larger of the two sorted classes, 1 for 0/1);
    the AUC itself does not depend on it, only the direction. Returns ``None`` when ``y`` has a single
    class; raises ``ValueError`` for more than two classes, missing labels or an unknown ``kind``.
    """
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}, got {kind!r}")
    if folds < 2:
        raise ValueError(f"folds must be >= 2, got {folds}")
    is_positive = _binary_positive(y, positive)
    n = np.asarray(y).reshape(-1).shape[0]
    if np.asarray(x).reshape(-1).shape[0] != n:
        raise ValueError(f"x has {np.asarray(x).reshape(-1).shape[0]} values but y has {n}")
    if is_positive is None:
        return None
    if kind == "numeric":
        values = _as_float(x)
        missing = np.isnan(values)
        if missing.all():
            values[:] = 0.0
        elif missing.any():
            values[missing] = np.median(values[~missing])
        auc = roc_auc(values, is_positive)
        assert auc is not None
        return (auc, "higher") if auc >= 0.5 else (1.0 - auc, "lower")
    codes, _ = category_codes(x)
    auc = roc_auc(_out_of_fold_rate(codes, is_positive, folds, seed), is_positive)
    assert auc is not None
    return auc, None


def single_feature_auc(
    x: np.ndarray,
    y: np.ndarray,
    kind: str,
    *,
    positive: object | None = None,
    folds: int = DEFAULT_FOLDS,
    seed: int = DEFAULT_SEED,
) -> float | None:
    """ROC AUC of one feature for a binary label; :func:`single_feature_auc_with_direction` without
    the direction.

    Numeric: ``max(auc, 1 - auc)`` of the raw value, missing values imputed with the median.
    Categorical: AUC of the out-of-fold per-category positive rate (``folds`` folds, seeded), not
    flipped. ``None`` when ``y`` has a single class.
    """
    result = single_feature_auc_with_direction(x, y, kind, positive=positive, folds=folds, seed=seed)
    return None if result is None else result[0]


# ---------------------------------------------------------------------------------------------------
# report


def verdict(normalized_mi: float, auc: float | None) -> str:
    """Classify a feature from its normalised MI and (binary labels only) its AUC.

    * ``"suspiciously strong"`` when ``auc >= LEAKAGE_MIN_AUC`` (0.95) or
      ``normalized_mi >= LEAKAGE_MIN_NORMALIZED_MI`` (0.5): possible leakage, checked first;
    * ``"useless"`` when ``normalized_mi < USELESS_MAX_NORMALIZED_MI`` (0.001) and (``auc`` is
      ``None`` or ``auc < USELESS_MAX_AUC`` (0.52));
    * ``"signal"`` otherwise.
    """
    if (auc is not None and auc >= LEAKAGE_MIN_AUC) or normalized_mi >= LEAKAGE_MIN_NORMALIZED_MI:
        return "suspiciously strong"
    if normalized_mi < USELESS_MAX_NORMALIZED_MI and (auc is None or auc < USELESS_MAX_AUC):
        return "useless"
    return "signal"


def feature_signal(
    columns: Mapping[str, tuple[np.ndarray, str]],
    y: np.ndarray,
    binary: bool,
    *,
    bins: int = DEFAULT_BINS,
    positive: object | None = None,
    folds: int = DEFAULT_FOLDS,
    seed: int = DEFAULT_SEED,
) -> list[dict]:
    """One row per feature describing its predictive signal for ``y``, strongest first.

    ``columns`` maps a feature name to ``(values, kind)`` with ``kind`` "numeric" or "categorical";
    every array has one value per row of ``y`` (the training split). Row keys:

    * ``feature``, ``kind``;
    * ``mutual_information``: :func:`mutual_information` in nats (``bins`` quantile bins for numeric);
    * ``normalized_mi``: ``I(X; Y) / H(Y)`` in ``[0, 1]``; 0.0 when ``H(Y) = 0`` (single class);
    * binary labels only (``binary=True``): ``auc`` and ``direction`` from
      :func:`single_feature_auc_with_direction` (both ``None`` when ``y`` has a single class);
    * ``verdict``: :func:`verdict` ("useless", "signal", "suspiciously strong").

    Sorted by mutual information descending (ties by feature name). ``binary=True`` with more than two
    classes raises ``ValueError``. Caveat: the plug-in MI is biased upwards on small samples (see
    :func:`mutual_information`), so a pure-noise feature needs roughly
    ``N > (bins - 1)(K - 1) / (2 * 0.001 * H(Y))`` rows to be called "useless", and a high-cardinality
    id gets a large normalised MI (hence "suspiciously strong") even when its out-of-fold AUC is 0.5.
    """
    labels = np.asarray(y).reshape(-1)
    entropy = label_entropy(labels)
    rows = []
    for name, (values, kind) in columns.items():
        mi = mutual_information(values, labels, kind, bins=bins)
        normalized = min(mi / entropy, 1.0) if entropy > 0 else 0.0
        row: dict = {"feature": name, "kind": kind, "mutual_information": mi, "normalized_mi": normalized}
        auc = None
        if binary:
            result = single_feature_auc_with_direction(values, labels, kind, positive=positive, folds=folds, seed=seed)
            auc, direction = (None, None) if result is None else result
            row["auc"] = auc
            row["direction"] = direction
        row["verdict"] = verdict(normalized, auc)
        rows.append(row)
    rows.sort(key=lambda r: (-r["mutual_information"], r["feature"]))
    return rows
