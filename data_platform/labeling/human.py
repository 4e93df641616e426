"""Human labels: from annotation rows to a consensus per review, agreement per batch, rater quality.

Input rows are Label Studio annotations as :func:`data_platform.labeling.label_studio.parse_export`
reads them. Only ``completed`` annotations vote; ``cancelled`` (skipped) and ``empty`` ones are counted
and otherwise ignored. When a rater labelled the same review more than once (the review came back in
a later batch), the rater's latest annotation counts.

Consensus is Dawid–Skene over every batch at once (more annotations per rater estimate its confusion
matrix better), with majority vote kept alongside, made robust and honest in three ways (see
:func:`consensus`): a Dirichlet prior on every rater's confusion matrix, the plurality where the
raters of an item are known from too few items, and a confidence calibrated against gold.
Agreement is computed per batch on that batch's annotations: Fleiss' kappa, Krippendorff's alpha
(nominal) and Cohen's kappa for every rater pair with enough common items.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from data_platform.labeling import SENTIMENTS
from data_platform.labeling.aggregation import (
    calibration_table,
    dawid_skene,
    expected_calibration_error,
    fit_temperature,
    majority_vote,
    one_coin_posteriors,
    temper,
)
from data_platform.labeling.agreement import (
    fleiss_kappa,
    krippendorff_alpha_nominal,
    pairwise_cohen,
    rater_quality,
    raters_pulling_down,
)

K = len(SENTIMENTS)
PRIOR_STRENGTH = 10.0  # pseudo-votes per row of every rater's confusion matrix (Dirichlet prior)
PRIOR_ACCURACY = 0.7  # the accuracy that prior assumes (errors spread evenly over the other classes)
MIN_RATER_ITEMS = 10  # an item whose raters have a median of fewer labeled items keeps its plurality
MIN_CALIBRATION_GOLD = 30  # gold items with votes needed to fit the temperature (else T = 1, said so)
CALIBRATION_FOLDS = 5  # the ECE reported is out of fold: T fitted on the other folds' gold items


@dataclass(frozen=True)
class VoteTable:
    """Completed annotations as a dense matrix: ``votes[review, rater]`` = class index or -1."""

    reviews: list[str]
    raters: list[str]
    votes: np.ndarray


def vote_table(annotations: list[dict]) -> VoteTable:
    """The latest completed label of each (review, rater), as a dense vote matrix."""
    latest: dict[tuple[str, str], tuple[str, str]] = {}
    for a in annotations:
        if a["status"] != "completed" or a["label"] not in SENTIMENTS:
            continue
        key = (a["review_id"], a["rater"])
        stamp = (a.get("created_at") or "", a.get("annotation_id") or 0)
        if key not in latest or stamp >= latest[key][0]:
            latest[key] = (stamp, a["label"])
    reviews = sorted({r for r, _ in latest})
    raters = sorted({u for _, u in latest})
    votes = np.full((len(reviews), len(raters)), -1, dtype=np.int64)
    row = {r: i for i, r in enumerate(reviews)}
    col = {u: j for j, u in enumerate(raters)}
    for (review, rater), (_, label) in latest.items():
        votes[row[review], col[rater]] = SENTIMENTS.index(label)
    return VoteTable(reviews, raters, votes)


@dataclass(frozen=True)
class Calibration:
    """How far the consensus confidence can be trusted, measured on gold items that raters labeled.

    ``temperature``: fitted on every such gold item (1.0 when there are fewer than
    ``MIN_CALIBRATION_GOLD``); ``ece_raw``: expected calibration error of the untempered Dawid–Skene
    confidence on them; ``ece``: of the reported confidence, out of fold (each fold's temperature
    fitted on the other folds), so it is not flattered by the fit; ``reliability``: that out-of-fold
    reliability table; ``note``: why there is no calibration, if there is none.
    """

    temperature: float
    gold_items: int
    ece_raw: float
    ece: float
    accuracy: float
    reliability: list[dict]
    note: str = ""


def _fit_ds(votes: np.ndarray):
    return dawid_skene(votes, K, prior_strength=PRIOR_STRENGTH, prior_accuracy=PRIOR_ACCURACY)


def consensus(table: VoteTable, gold: dict[str, int] | None = None) -> tuple[list[dict], Calibration]:
    """One row per review: the consensus label and its calibrated confidence, the majority vote, the
    rater count and the method; and the :class:`Calibration` measured on ``gold`` (review -> class).

    1. Dawid–Skene with a Dirichlet prior on each rater's confusion matrix (``PRIOR_STRENGTH``
       pseudo-votes at ``PRIOR_ACCURACY``), so a rater seen on a few items is not taken for perfect.
    2. Where the raters of an item are known from fewer than ``MIN_RATER_ITEMS`` labeled items (the
       median over its raters), the model has too little evidence about them to overrule a majority:
       the label is the plurality (``method = "majority_fallback"``; Dawid–Skene's choice on a tie)
       and the posterior comes from the one-coin model, which needs no rater identities.
    3. The confidence is the posterior of the chosen label after temperature scaling, the temperature
       fitted on the gold items raters labeled (Dawid–Skene assumes raters err independently; when
       they do not, e.g. on ambiguous items, its posteriors are far too sure).
    """
    gold = gold or {}
    if not table.reviews:
        return [], Calibration(1.0, 0, float("nan"), float("nan"), float("nan"), [], "no annotations")
    ds = _fit_ds(table.votes)
    mv, mv_conf = majority_vote(table.votes, K)
    rated = table.votes >= 0
    items_per_rater = rated.sum(axis=0).astype(float)
    evidence = np.array([np.median(items_per_rater[row]) if row.any() else 0.0 for row in rated])
    fallback = evidence < MIN_RATER_ITEMS
    posteriors = np.where(fallback[:, None], one_coin_posteriors(table.votes, K), ds.posteriors)
    labels = np.where(fallback, np.where(mv >= 0, mv, ds.labels), ds.labels)
    truth = np.array([gold.get(r, -1) for r in table.reviews], dtype=np.int64)
    calibration = _calibrate(posteriors, labels, truth)
    tempered = temper(posteriors, calibration.temperature)
    out = []
    for i, review in enumerate(table.reviews):
        out.append(
            {
                "review_id": review,
                "label": SENTIMENTS[labels[i]] if labels[i] >= 0 else None,
                "label_index": int(labels[i]),
                "confidence": round(float(tempered[i, labels[i]]), 6) if labels[i] >= 0 else float("nan"),
                "method": "majority_fallback" if fallback[i] else "dawid_skene",
                "mv_label": SENTIMENTS[mv[i]] if mv[i] >= 0 else None,
                "mv_confidence": None if np.isnan(mv_conf[i]) else round(float(mv_conf[i]), 6),
                "raters": int(rated[i].sum()),
            }
        )
    return out, calibration


def _calibrate(posteriors: np.ndarray, labels: np.ndarray, truth: np.ndarray) -> Calibration:
    """Temperature on every labeled gold item; ECE before, and after out of fold (see :class:`Calibration`)."""
    rows_ = np.flatnonzero((truth >= 0) & (labels >= 0))
    n = len(rows_)
    correct = labels[rows_] == truth[rows_]
    raw = posteriors[rows_, labels[rows_]]
    accuracy = float(correct.mean()) if n else float("nan")
    ece_raw = expected_calibration_error(raw, correct)
    if n < MIN_CALIBRATION_GOLD:
        return Calibration(
            1.0,
            n,
            ece_raw,
            ece_raw,
            accuracy,
            calibration_table(raw, correct),
            f"{n} gold items with votes < {MIN_CALIBRATION_GOLD}: confidence not calibrated",
        )
    out_of_fold = np.empty(n)
    fold = np.arange(n) % CALIBRATION_FOLDS
    for f in range(CALIBRATION_FOLDS):
        held = fold == f
        t = fit_temperature(posteriors[rows_[~held]], truth[rows_[~held]])
        out_of_fold[held] = temper(posteriors[rows_[held]], t)[np.arange(held.sum()), labels[rows_[held]]]
    temperature = fit_temperature(posteriors[rows_], truth[rows_])
    return Calibration(
        temperature,
        n,
        ece_raw,
        expected_calibration_error(out_of_fold, correct),
        accuracy,
        calibration_table(out_of_fold, correct),
    )


def rater_accuracy_estimates(table: VoteTable) -> dict[str, float]:
    """Each rater's accuracy as Dawid–Skene estimates it (no gold needed)."""
    if not table.reviews:
        return {}
    ds = _fit_ds(table.votes)
    return {rater: round(float(acc), 4) for rater, acc in zip(table.raters, ds.accuracy)}


def batch_agreement(annotations: list[dict], min_overlap: int = 5, min_gain: float = 0.02) -> list[dict]:
    """Per batch: items with >= 2 labels, Fleiss' kappa, Krippendorff's alpha, mean pairwise Cohen's
    kappa, and the raters whose removal would raise alpha by at least ``min_gain``."""
    out = []
    for batch in sorted({a["batch_id"] for a in annotations if a.get("batch_id")}):
        table = vote_table([a for a in annotations if a.get("batch_id") == batch])
        multi = (table.votes >= 0).sum(axis=1) >= 2
        pairs = pairwise_cohen(table.votes, table.raters, K, min_overlap=min_overlap)
        kappas = [p["kappa"] for p in pairs if not np.isnan(p["kappa"])]
        out.append(
            {
                "batch_id": batch,
                "items": len(table.reviews),
                "items_multi_rated": int(multi.sum()),
                "raters": len(table.raters),
                "fleiss_kappa": _round(fleiss_kappa(table.votes, K)),
                "krippendorff_alpha": _round(krippendorff_alpha_nominal(table.votes, K)),
                "mean_cohen_kappa": _round(float(np.mean(kappas))) if kappas else None,
                "pulling_down": raters_pulling_down(table.votes, table.raters, K, min_gain=min_gain),
            }
        )
    return out


def rater_report(table: VoteTable, gold: dict[str, int], consensus_rows: list[dict]) -> list[dict]:
    """Per rater: items, gold accuracy, agreement with the consensus, alpha without the rater, and the
    Dawid–Skene accuracy estimate."""
    if not table.reviews:
        return []
    gold_vec = np.array([gold.get(r, -1) for r in table.reviews], dtype=np.int64)
    by_review = {c["review_id"]: c["label_index"] for c in consensus_rows}
    cons_vec = np.array([by_review.get(r, -1) for r in table.reviews], dtype=np.int64)
    estimates = rater_accuracy_estimates(table)
    report = rater_quality(table.votes, table.raters, gold_vec, cons_vec, K)
    for row in report:
        row["ds_accuracy"] = estimates.get(row["rater"])
        for k, v in list(row.items()):
            if isinstance(v, float):
                row[k] = _round(v)
    return report


def _round(value: float) -> float | None:
    return None if value is None or np.isnan(value) else round(float(value), 4)


GOLD_COLUMNS = ("review_id", "label", "labeled_by")


def read_gold_files(gold_dir: Path) -> tuple[list[dict], list[dict]]:
    """Gold answers from ``gold_dir/*.csv`` (header ``review_id,label,labeled_by``), and the rejects.

    A row is rejected (``reason``) when it has the wrong number of fields (``malformed_row``), no
    review id (``missing_review_id``), a label outside the label set (``unknown_label``), or when files
    give the same review different labels (``conflicting_gold``: every answer for it is rejected).
    A file without the expected header is rejected whole (``bad_header``).
    """
    answers: dict[str, list[dict]] = {}
    rejects: list[dict] = []
    for path in sorted(gold_dir.glob("*.csv")) if gold_dir.is_dir() else []:
        source = f"gold/{path.name}"
        with path.open(newline="", encoding="utf-8", errors="replace") as f:
            reader = csv.reader(f)
            header = next(reader, None)
            if tuple(h.strip() for h in header or ()) != GOLD_COLUMNS:
                rejects.append(
                    {
                        "source_file": source,
                        "position": 1,
                        "reason": "bad_header",
                        "detail": f"expected {','.join(GOLD_COLUMNS)}, got {header!r}"[:200],
                    }
                )
                continue
            for line, fields in enumerate(reader, start=2):
                problem = _gold_problem(fields)
                if problem:
                    rejects.append(
                        {"source_file": source, "position": line, "reason": problem, "detail": ",".join(fields)[:200]}
                    )
                    continue
                answers.setdefault(fields[0].strip(), []).append(
                    {
                        "review_id": fields[0].strip(),
                        "label": fields[1].strip(),
                        "label_index": SENTIMENTS.index(fields[1].strip()),
                        "labeled_by": fields[2].strip(),
                        "source_file": source,
                        "position": line,
                    }
                )
    gold = []
    for review_id, rows_ in sorted(answers.items()):
        if len({r["label"] for r in rows_}) > 1:
            rejects += [
                {
                    "source_file": r["source_file"],
                    "position": r["position"],
                    "reason": "conflicting_gold",
                    "detail": f"{review_id}: {r['label']}",
                }
                for r in rows_
            ]
            continue
        first = rows_[0]
        gold.append({k: first[k] for k in ("review_id", "label", "label_index", "labeled_by", "source_file")})
    return gold, rejects


def _gold_problem(fields: list[str]) -> str | None:
    if len(fields) != len(GOLD_COLUMNS):
        return "malformed_row"
    if not fields[0].strip():
        return "missing_review_id"
    if fields[1].strip() not in SENTIMENTS:
        return "unknown_label"
    return None
