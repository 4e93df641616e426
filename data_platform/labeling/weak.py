"""Weak supervision: apply labeling functions in DuckDB, analyse them, fit a label model.

- :func:`build_label_matrix` evaluates every LF's SQL expression over a source table in one DuckDB
  statement and writes the label matrix in long form ``(example_id, lf_index, lf, lf_version, vote)``,
  vote -1 meaning abstain.
- :func:`lf_analysis` gives each LF's polarity, coverage, overlaps, conflicts and accuracy on gold.
- :func:`fit_label_model` fits the generative label model: Dawid–Skene EM with the LFs as "raters"
  (one confusion matrix per LF, abstains ignored, the class prior estimated), the classic generative
  model of LF accuracies under conditional independence, anchored on the classes people already
  gave. Majority vote is the baseline.

The machinery is generic (any table, any id column, any LF list): the tests also run it on a real
SMS spam corpus with spam LFs.
"""

from __future__ import annotations

from dataclasses import dataclass

import duckdb
import numpy as np

from data_platform.labeling.aggregation import DawidSkeneResult, dawid_skene, majority_vote
from data_platform.labeling.functions import LabelingFunction
from data_platform.resources import load_sql, rows, run_sql

_IDENT = r"[A-Za-z_][A-Za-z0-9_]*"


def build_label_matrix(
    con: duckdb.DuckDBPyConnection, source: str, id_column: str, target: str, lfs: tuple[LabelingFunction, ...]
) -> int:
    """(Re)create ``target`` as the label matrix of ``source`` under ``lfs``; returns its row count."""
    selects = "\nUNION ALL\n".join(
        load_sql(
            "labeling/lf_select.sql",
            id_column=id_column,
            lf_index=str(i),
            lf_name=lf.name,
            lf_version=str(lf.version),
            lf_sql=lf.sql,
            source=source,
        ).strip()
        for i, lf in enumerate(lfs)
    )
    run_sql(con, "labeling/label_matrix.sql", target=target, lf_selects=selects)
    return con.execute(f"SELECT count(*) FROM {target}").fetchone()[0]


def vote_matrix(con: duckdb.DuckDBPyConnection, matrix: str, n_lfs: int) -> tuple[list[str], np.ndarray]:
    """``(example ids, votes[n_examples, n_lfs])`` from a long label matrix, in example_id order."""
    ids = [r[0] for r in con.execute(f"SELECT DISTINCT example_id FROM {matrix} ORDER BY example_id").fetchall()]
    cells = con.execute(f"SELECT vote FROM {matrix} ORDER BY example_id, lf_index").fetchnumpy()["vote"]
    return ids, np.asarray(cells, dtype=np.int64).reshape(len(ids), n_lfs)


def lf_analysis(con: duckdb.DuckDBPyConnection, matrix: str, gold: str) -> list[dict]:
    """Per LF: polarity, coverage, overlaps, conflicts, gold_votes, gold_accuracy (see the SQL)."""
    return rows(con, "labeling/lf_analysis.sql", matrix=matrix, gold=gold)


@dataclass(frozen=True)
class LabelModel:
    """The fitted label model and its baseline over one label matrix."""

    ids: list[str]
    votes: np.ndarray
    model: DawidSkeneResult
    mv_labels: np.ndarray
    mv_confidence: np.ndarray
    anchors: int  # examples whose class people already know (clamped in EM)

    @property
    def covered(self) -> np.ndarray:
        """Examples at least one LF voted on (the others get no weak label)."""
        return (self.votes >= 0).any(axis=1)


def fit_label_model(ids: list[str], votes: np.ndarray, n_classes: int, known: np.ndarray | None = None) -> LabelModel:
    """Fit the generative label model over the LF votes, and majority vote as the baseline.

    The model is Dawid–Skene with the LFs as raters: per LF a confusion matrix P(vote | true class),
    and the class prior, by EM; abstains are ignored. With two dominant LFs the model is not
    identifiable on its own (it cannot tell which of two disagreeing LFs is right), so the classes
    people already gave (``known``: human consensus, class index or -1) are clamped during EM
    (semi-supervised): each human round makes the weak labels better. Gold stays out of the fit, so
    accuracy on gold is an honest, held-out figure.
    """
    mv_labels, mv_confidence = majority_vote(votes, n_classes)
    model = dawid_skene(votes, n_classes, known=known)
    anchors = 0 if known is None else int((np.asarray(known) >= 0).sum())
    return LabelModel(ids, votes, model, mv_labels, mv_confidence, anchors)


def accuracy_on(labels: np.ndarray, gold: np.ndarray) -> tuple[float, int]:
    """``(accuracy, n)`` of predicted ``labels`` over examples with a gold label (>= 0); an unlabeled
    prediction (-1) on a gold example counts as wrong, so abstaining does not flatter a model."""
    has_gold = gold >= 0
    n = int(has_gold.sum())
    return (float((labels[has_gold] == gold[has_gold]).mean()) if n else float("nan")), n


def vote_naive_bayes(
    train_votes: np.ndarray, train_labels: np.ndarray, test_votes: np.ndarray, n_classes: int, prior_smoothing: float
) -> np.ndarray:
    """``log P(votes, class)`` of each ``test_votes`` row for every class ``0 .. n_classes - 1``, from a
    categorical naive Bayes over LF votes trained on ``train_votes``/``train_labels``.

    Each LF's vote (abstain ``-1`` included) is one categorical feature; the likelihoods are
    scikit-learn's ``CategoricalNB`` with add-one smoothing. The class prior is
    ``(count + prior_smoothing) / (n + prior_smoothing * n_classes)``; a class absent from training gets
    that prior and every vote equally likely (add-one over no counts), which scikit-learn cannot
    represent, so its column is computed here.
    """
    from sklearn.naive_bayes import CategoricalNB  # scikit-learn loads when a model is fitted, not at load

    values = n_classes + 1  # -1 .. n_classes - 1
    counts = np.bincount(train_labels, minlength=n_classes).astype(np.float64)
    with np.errstate(divide="ignore"):
        log_prior = np.log((counts + prior_smoothing) / (counts.sum() + prior_smoothing * n_classes))
    out = np.tile(log_prior - test_votes.shape[1] * np.log(values), (test_votes.shape[0], 1))
    if len(train_labels):
        model = CategoricalNB(alpha=1.0, min_categories=values).fit(train_votes + 1, train_labels)
        present = model.classes_.astype(np.int64)
        out[:, present] = model.predict_joint_log_proba(test_votes + 1) - model.class_log_prior_ + log_prior[present]
    return out


def out_of_sample_probs(
    votes: np.ndarray, labels: np.ndarray, n_classes: int, folds: int = 5, seed: int = 0
) -> np.ndarray:
    """Class probabilities for the labelled examples (``labels >= 0``) from a model that never saw them.

    The model is :func:`vote_naive_bayes` (add-one smoothed prior), trained on the other folds of the
    labelled examples: the out-of-sample probabilities confident learning needs. Rows of unlabelled
    examples are NaN.
    """
    probs = np.full((votes.shape[0], n_classes), np.nan)
    labelled = np.flatnonzero(labels >= 0)
    if len(labelled) < 2:
        return probs
    fold_of = np.random.default_rng(seed).permutation(len(labelled)) % min(folds, len(labelled))
    for fold in np.unique(fold_of):
        train, test = labelled[fold_of != fold], labelled[fold_of == fold]
        scores = vote_naive_bayes(votes[train], labels[train], votes[test], n_classes, prior_smoothing=1.0)
        scores -= scores.max(axis=1, keepdims=True)
        p = np.exp(scores)
        probs[test] = p / p.sum(axis=1, keepdims=True)
    return probs
