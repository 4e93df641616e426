"""Synthetic minority rows for the train split: SMOTE (Chawla et al. 2002), neighbours by scikit-learn.

Each synthetic row interpolates between a minority row ``x_i`` (the *parent*) and one of its ``k``
nearest same-class rows ``x_nn`` (the *neighbour*)::

    x_new = x_i + u * (x_nn - x_i),    u ~ U[0, 1), one u per synthetic row

Only ever apply this to the **train** split: synthetic rows in dev/test would leak train rows (every
synthetic row is a mix of two of them) and distort the evaluation class balance.

Documented choices
------------------
- **How many rows.** Binary labels: the minority class (the smaller one, or ``minority``) grows until
  ``minority count / majority count >= target_ratio``, i.e. to ``ceil(target_ratio * majority)`` rows
  (so the ratio is reached exactly or overshoots by less than one row). Multiclass with
  ``minority=None``: every class grows to ``ceil(target_ratio * largest class)`` rows (classes already
  there get none; the largest class never does). With ``minority`` given, only that class grows, up to
  ``target_ratio`` times the largest *other* class. ``0 < target_ratio <= 1``.
- **Parents.** The new rows of a class are spread evenly over its rows: each row is a parent
  ``n_new // n_class`` times and ``n_new % n_class`` rows, drawn without replacement, once more.
  The neighbour is drawn uniformly among the parent's ``k`` nearest neighbours.
- **Distance.** Euclidean on the class's numeric features after two steps: NaN is replaced by the
  column median *of that class* (0 if the column is all NaN in the class), then each column is
  standardised by the class's mean and (population) standard deviation of the imputed values, a zero
  standard deviation counting as 1. This equals sklearn's ``SimpleImputer(strategy="median",
  keep_empty_features=True)`` followed by ``StandardScaler`` fitted on the class's rows.
  Ties in distance are broken by the lower row position, so the neighbour sets are a pure function of
  the data. The k-NN is scikit-learn's ``NearestNeighbors`` (a k-d tree: exact distances, memory linear
  in the class's rows), with that tie rule added (:func:`knn_indices`).
- **Too few rows.** A class with fewer than 2 rows gets no synthetic rows (``note`` says why); with
  fewer than ``k + 1`` rows, all ``n_class - 1`` other rows are the neighbours. ``min_rows`` (default
  2) raises that floor: a class with fewer real rows gets none, and ``note`` says there are too few
  real rows to synthesize from (20 points interpolated into thousands only repeat those 20).
- **Cap.** ``max_per_row`` (default: no cap) bounds the synthetic rows of a class at
  ``floor(max_per_row * n_class)``, even when ``target_ratio`` is then not reached (``note`` says
  which ratio was reached instead). Chawla et al. oversampled by 100% to 500%, i.e. ``max_per_row``
  1 to 5; on 0.4% positives a target of 0.5 would ask for over 100 synthetic rows per real one.
- **NaN in the output.** The imputed values only serve the distance. In the synthetic row a column
  is NaN only if both parent and neighbour are NaN there; if one of them is NaN, the other's value is
  taken as is (no interpolation with an imputed value that was never observed).
- **Integer columns.** A numeric column whose non-NaN input values are all integers (counts, flags)
  is rounded to the nearest integer (half to even) after interpolation. Both ends being integers, the
  rounded value stays between them.
- **Categoricals.** The whole categorical vector of a synthetic row is copied from the neighbour with
  probability ``u`` and from the parent with probability ``1 - u`` (the same ``u`` as the numeric
  interpolation, one draw per row for all categorical columns), so categoricals follow the nearer end
  and combinations that occur together (e.g. country and currency) stay consistent. SMOTE-NC instead
  takes, per column, the majority value among the k neighbours; that ignores where on the segment the
  numeric part landed and can create combinations no real row has.
- **No numeric columns** (``d = 0``): there is no distance, so the neighbour is drawn uniformly among
  the other rows of the class; categoricals then follow the same ``u`` rule.
- **Why not imbalanced-learn's SMOTE/SMOTE-NC.** It does not say which two real rows a synthetic row was
  made from. Here ``parent_ids``/``neighbour_ids`` are the balanced table's row lineage, and erasure uses
  them to remove every synthetic row made from an erased person's examples; and SMOTE-NC's categorical
  rule (above) can create combinations no real row has. The neighbour search, the part with numerical
  pitfalls, is scikit-learn's.
- **Determinism.** Everything random comes from ``numpy.random.default_rng(seed)``; the same inputs
  and seed give the same rows. Synthetic ids are ``syn-<seed>-<i>``, ``i`` counting from 0 over the
  whole output (classes in ``numpy.unique`` order).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

_REL_TOL = 1e-9  # rows this close (relative) to the k-th distance are looked up again as possible ties


@dataclass(frozen=True)
class SyntheticRows:
    """The synthetic rows (never the original ones), aligned by position.

    ``u`` is the interpolation factor of each row, ``parent_ids``/``neighbour_ids`` name the two real
    rows it was made from; ``note`` explains classes that got fewer rows than asked (or none).
    """

    numeric: np.ndarray  # [m, d] float64
    categorical: np.ndarray  # [m, c] object
    labels: np.ndarray  # [m]
    ids: np.ndarray  # [m] str, "syn-<seed>-<i>"
    parent_ids: np.ndarray  # [m] str
    neighbour_ids: np.ndarray  # [m] str
    u: np.ndarray  # [m] float64 in [0, 1)
    added: dict = field(default_factory=dict)  # {str(label): rows generated}
    note: str = ""

    def __len__(self) -> int:
        return len(self.ids)


def standardise(numeric: np.ndarray) -> np.ndarray:
    """The distance features of one class: median-imputed, then standardised (std 0 counts as 1)."""
    x = np.array(numeric, dtype=np.float64, copy=True)
    if x.size == 0:
        return x
    nan = np.isnan(x)
    if nan.any():
        observed = ~nan.all(axis=0)
        medians = np.zeros(x.shape[1])
        if observed.any():
            medians[observed] = np.nanmedian(x[:, observed], axis=0)
        x = np.where(nan, medians, x)
    mean = x.mean(axis=0)
    std = x.std(axis=0)
    std[std == 0] = 1.0
    return (x - mean) / std


def knn_indices(points: np.ndarray, k: int, queries: np.ndarray | None = None) -> np.ndarray:
    """Positions ``[len(queries), k]`` of the ``k`` nearest rows of ``points`` to each query row
    (a position of ``points``), the query itself excluded, nearest first, ties by lower position.

    The search is scikit-learn's ``NearestNeighbors`` on a k-d tree (exact Euclidean distances, memory
    linear in the rows). scikit-learn leaves the order of rows at equal distance open, so the ``k + 1``
    nearest are re-ordered by (distance, position); a query whose ``k``-th and last candidates are at
    the same distance (more tied rows than were fetched) takes every row within that distance from a
    radius query and keeps the ``k`` lowest positions among the ties.
    """
    from sklearn.neighbors import NearestNeighbors  # scikit-learn loads when rows are synthesised

    pts = np.ascontiguousarray(points, dtype=np.float64)
    n = pts.shape[0]
    queries = np.arange(n) if queries is None else np.asarray(queries, dtype=np.int64)
    if not 1 <= k <= n - 1:
        raise ValueError(f"k must be between 1 and {n - 1} for {n} points, got {k}")
    out = np.empty((len(queries), k), dtype=np.int64)
    if len(queries) == 0:
        return out
    index = NearestNeighbors(algorithm="kd_tree").fit(pts)
    fetched = min(n, k + 2)  # the query itself (or a duplicate of it), k others, and one to see a tie
    idx = index.kneighbors(pts[queries], n_neighbors=fetched, return_distance=False)
    d2 = _squared_distances(pts, queries[:, None], idx)
    d2[idx == queries[:, None]] = np.inf  # the query itself goes last, then is cut
    order = np.lexsort((idx, d2), axis=1)
    d2, idx = np.take_along_axis(d2, order, axis=1), np.take_along_axis(idx, order, axis=1)
    out[:] = idx[:, :k]
    # the k-th distance (nearly) equal to the last candidate's: more ties may lie beyond those fetched
    margin = _REL_TOL * d2[:, k - 1] + 1e-300
    for row in np.flatnonzero((fetched < n) & (d2[:, fetched - 2] <= d2[:, k - 1] + margin)):
        q = queries[row]
        radius = float(np.sqrt(d2[row, k - 1] + 2 * margin[row]))
        (near,) = index.radius_neighbors(pts[q][None, :], radius=radius, return_distance=False)
        near = near[near != q]
        out[row] = near[np.lexsort((near, _squared_distances(pts, q, near)))[:k]]
    return out


def _squared_distances(pts: np.ndarray, a, b) -> np.ndarray:
    """``sum((pts[a] - pts[b]) ** 2)`` column by column (broadcast over ``a`` and ``b``): the one
    distance the neighbours are ranked and tied by, whatever scikit-learn rounded."""
    out = np.zeros(np.broadcast_shapes(np.shape(a), np.shape(b)))
    for j in range(pts.shape[1]):
        t = pts[a, j] - pts[b, j]
        out += t * t
    return out


def _integer_columns(x: np.ndarray) -> np.ndarray:
    """Columns with at least one non-NaN value, all of them integers."""
    if x.size == 0:
        return np.zeros(x.shape[1], dtype=bool)
    nan = np.isnan(x)
    filled = np.where(nan, 0.0, x)
    return (~nan).any(axis=0) & (filled == np.round(filled)).all(axis=0)


def _label_key(label) -> str:
    return str(label.item() if isinstance(label, np.generic) else label)


def _targets(labels: np.ndarray, target_ratio: float, minority) -> list[tuple[object, int]]:
    """``(class label, rows to add)`` for every class that is to grow, in ``numpy.unique`` order."""
    classes, counts = np.unique(labels, return_counts=True)

    def goal(reference: int) -> int:
        return math.ceil(target_ratio * reference - 1e-9)

    if minority is not None:
        present = [i for i, c in enumerate(classes) if c == minority]
        own = int(counts[present[0]]) if present else 0
        others = [int(n) for i, n in enumerate(counts) if i not in present]
        return [(minority, max(0, goal(max(others, default=0)) - own))]
    if len(classes) < 2:
        return []
    largest = int(counts.max())
    return [(label, max(0, goal(largest) - int(n))) for label, n in zip(classes, counts) if n < largest]


def smote(
    numeric: np.ndarray | None,
    categorical: np.ndarray | None,
    labels: np.ndarray,
    ids: np.ndarray,
    target_ratio: float = 1.0,
    k: int = 5,
    seed: int = 0,
    minority=None,
    *,
    max_per_row: float | None = None,
    min_rows: int = 2,
) -> SyntheticRows:
    """SMOTE rows that bring the minority class(es) up to ``target_ratio`` (see the module docstring),
    at most ``max_per_row`` per real row of the class, and none for a class with fewer than
    ``min_rows`` real rows.

    ``numeric`` is ``[n, d]`` float (NaN allowed; ``None`` or ``d = 0`` for none), ``categorical``
    ``[n, c]`` (``None`` or ``c = 0`` for none), ``labels`` and ``ids`` ``[n]``.
    """
    labels = np.asarray(labels)
    n = len(labels)
    ids = np.asarray(ids).astype(str)
    num = np.zeros((n, 0)) if numeric is None else np.asarray(numeric, dtype=np.float64)
    cat = np.empty((n, 0), dtype=object) if categorical is None else np.asarray(categorical, dtype=object)
    if num.ndim != 2 or cat.ndim != 2 or labels.ndim != 1:
        raise ValueError("numeric and categorical must be 2-D, labels 1-D")
    if not (len(num) == len(cat) == len(ids) == n):
        raise ValueError(f"row counts differ: numeric {len(num)}, categorical {len(cat)}, labels {n}, ids {len(ids)}")
    if np.isinf(num).any():
        raise ValueError("numeric features contain infinite values")
    if not (0 < target_ratio <= 1) or not math.isfinite(target_ratio):
        raise ValueError(f"target_ratio must be in (0, 1], got {target_ratio}")
    if int(k) != k or k < 1:
        raise ValueError(f"k must be a positive integer, got {k}")
    if max_per_row is not None and not (max_per_row >= 0 and math.isfinite(max_per_row)):
        raise ValueError(f"max_per_row must be a finite number >= 0, got {max_per_row}")
    if int(min_rows) != min_rows or min_rows < 2:
        raise ValueError(f"min_rows must be an integer >= 2, got {min_rows}")
    k = int(k)
    if len(np.unique(ids)) != n:
        raise ValueError("ids are not unique")

    d, c = num.shape[1], cat.shape[1]
    rng = np.random.default_rng(seed)
    integer_cols = _integer_columns(num)
    notes: list[str] = []
    parts: list[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]] = []  # parent, neighbour, u, take_nn
    added: dict[str, int] = {}

    todo = _targets(labels, target_ratio, minority)
    if not todo:
        notes.append(f"{len(np.unique(labels))} class(es): nothing to balance")
    for label, n_new in todo:
        key = _label_key(label)
        members = np.flatnonzero(labels == label)
        n_c = len(members)
        added[key] = 0
        if n_new == 0:
            if minority is not None:
                notes.append(f"class {key!r}: {n_c} rows already reach target_ratio={target_ratio}")
            continue
        if n_c < 2:
            notes.append(f"class {key!r}: {n_c} row(s), SMOTE needs at least 2: no synthetic rows ({n_new} wanted)")
            continue
        if n_c < min_rows:
            notes.append(
                f"class {key!r}: too few real rows to synthesize from ({n_c} < min_rows={min_rows}): "
                f"no synthetic rows ({n_new} wanted)"
            )
            continue
        if max_per_row is not None and n_new > math.floor(max_per_row * n_c):
            wanted, n_new = n_new, math.floor(max_per_row * n_c)
            notes.append(
                f"class {key!r}: capped at {max_per_row:g} synthetic rows per real row: {n_new} of "
                f"{wanted} wanted, target_ratio={target_ratio} not reached"
            )
            if n_new == 0:
                continue
        k_c = min(k, n_c - 1)
        if k_c < k:
            notes.append(f"class {key!r}: only {n_c} rows, k={k} reduced to {k_c}")
        q, r = divmod(n_new, n_c)
        local_parents = np.sort(np.concatenate([np.repeat(np.arange(n_c), q), rng.choice(n_c, size=r, replace=False)]))
        pick = rng.integers(0, k_c, size=n_new)
        u = rng.random(n_new)
        take_nn = rng.random(n_new) < u
        if d == 0:
            # no distance: a uniform other row of the class (skip the parent's own position)
            other = rng.integers(0, n_c - 1, size=n_new)
            local_nn = other + (other >= local_parents)
            notes.append(f"class {key!r}: no numeric columns, neighbours drawn at random in the class")
        else:
            used, inverse = np.unique(local_parents, return_inverse=True)
            neighbours = knn_indices(standardise(num[members]), k_c, queries=used)
            local_nn = neighbours[inverse, pick]
        parts.append((members[local_parents], members[local_nn], u, take_nn))
        added[key] = n_new

    if parts:
        parent = np.concatenate([p[0] for p in parts])
        neighbour = np.concatenate([p[1] for p in parts])
        u = np.concatenate([p[2] for p in parts])
        take_nn = np.concatenate([p[3] for p in parts])
    else:
        parent = neighbour = np.zeros(0, dtype=np.int64)
        u = np.zeros(0)
        take_nn = np.zeros(0, dtype=bool)
    m = len(parent)

    a, b = num[parent], num[neighbour]
    new = a + u[:, None] * (b - a)
    new = np.where(np.isnan(a), b, np.where(np.isnan(b), a, new))  # NaN only where both are NaN
    new[:, integer_cols] = np.rint(new[:, integer_cols])
    new_cat = np.where(take_nn[:, None], cat[neighbour], cat[parent]) if c else np.empty((m, 0), dtype=object)

    new_ids = np.array([f"syn-{seed}-{j}" for j in range(m)], dtype=str)
    clash = np.intersect1d(new_ids, ids)
    if len(clash):
        raise ValueError(f"synthetic ids collide with existing ids, e.g. {clash[0]!r}; use another seed")
    return SyntheticRows(
        numeric=new,
        categorical=np.asarray(new_cat, dtype=object),
        labels=labels[parent],
        ids=new_ids,
        parent_ids=ids[parent],
        neighbour_ids=ids[neighbour],
        u=u,
        added=added,
        note="; ".join(notes),
    )


def balanced_summary(labels_before, labels_after) -> dict:
    """Counts per class before and after balancing (keys are ``str(label)``), rows added per class,
    and the smallest-to-largest class ratio before and after."""

    def counts(labels) -> dict[str, int]:
        values, n = np.unique(np.asarray(labels), return_counts=True)
        return {_label_key(v): int(c) for v, c in zip(values, n)}

    def ratio(cnt: dict[str, int]) -> float | None:
        return min(cnt.values()) / max(cnt.values()) if cnt else None

    before, after = counts(labels_before), counts(labels_after)
    return {
        "before": before,
        "after": after,
        "added": {key: after.get(key, 0) - before.get(key, 0) for key in sorted(set(before) | set(after))},
        "rows_before": sum(before.values()),
        "rows_after": sum(after.values()),
        "minority_ratio_before": ratio(before),
        "minority_ratio_after": ratio(after),
    }
