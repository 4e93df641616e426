"""Review-sentiment labeling assets: weak supervision, the human round trip, the labeled dataset.

The graph (unpartitioned: labeling rounds span every day seen so far)::

    clean/events -> labels/reviews -> labels/label_matrix ---------------> labels/weak_labels
    landing annotations/gold/*.csv -> labels/gold                            ^   (anchored on people's labels)
    landing annotations/*.json -> labels/annotations -> labels/human_consensus
    reviews + gold + weak_labels + human_consensus -> labels/review_examples (+ labels.label_issues)
    weak_labels + review_examples -> labels/annotation_tasks (the next batch for raters)

Annotations are an input (files raters' exports land as), not a child of the tasks asset, so the
human loop is a cycle in time, not in the graph: tasks go out, exports come back through the
``annotation_sensor``, the consensus and the dataset are rebuilt, and the next batch (with the
suspected label errors) goes out.
"""

import dagster as dg
import numpy as np
import pyarrow as pa

from data_platform.base.keys import CLEAN_EVENTS, REVIEW_EXAMPLES
from data_platform.cleaning.rules import definitive
from data_platform.labeling import SENTIMENTS
from data_platform.labeling.active import STRATEGIES, pick_most_uncertain
from data_platform.labeling.aggregation import expected_calibration_error
from data_platform.labeling.functions import REVIEW_LFS, lf_registry_version, lfs_markdown
from data_platform.labeling.human import (
    Calibration,
    batch_agreement,
    consensus,
    rater_report,
    read_gold_files,
    vote_table,
)
from data_platform.labeling.label_errors import find_label_issues
from data_platform.labeling.label_studio import build_tasks, parse_export, write_batch
from data_platform.labeling.stage import REVIEW_EXAMPLES_CONTRACT, REVIEW_EXAMPLES_STEP, REVIEWS_STEP, STAGE
from data_platform.labeling.weak import (
    accuracy_on,
    build_label_matrix,
    fit_label_model,
    lf_analysis,
    out_of_sample_probs,
    vote_matrix,
)
from data_platform.metadata import StageClock, markdown_table, table_schema_of
from data_platform.resources import (
    LabelingDesk,
    LandingZone,
    Warehouse,
    load_sql,
    rows,
    run_sql,
    transaction,
    write_rows,
)

REVIEWS = dg.AssetKey(["labels", "reviews"])
GOLD = dg.AssetKey(["labels", "gold"])
LABEL_MATRIX = dg.AssetKey(["labels", "label_matrix"])
WEAK_LABELS = dg.AssetKey(["labels", "weak_labels"])
ANNOTATIONS = dg.AssetKey(["labels", "annotations"])
HUMAN_CONSENSUS = dg.AssetKey(["labels", "human_consensus"])
ANNOTATION_TASKS = dg.AssetKey(["labels", "annotation_tasks"])

K = len(SENTIMENTS)
LABEL_MODEL = f"dawid-skene/{lf_registry_version()}"
_COMMON = dict(group_name="labeling", kinds={"duckdb", "python"}, owners=["team:data-platform"])

AGREEMENT_CHECK = dg.AssetCheckSpec(
    "rater_agreement",
    asset=HUMAN_CONSENSUS,
    blocking=False,
    description="Krippendorff's alpha (nominal) of the latest annotated batch is at least the threshold; "
    "when it is not, the check names the raters whose removal raises alpha (and raters below the gold "
    "accuracy floor).",
)
EXAMPLES_CHECK = dg.AssetCheckSpec(
    "review_examples_accounted",
    asset=REVIEW_EXAMPLES,
    blocking=True,
    description="Every review is labelled once or counted as unlabeled; labels in the label set, "
    "confidence in [0, 1], gold wins over human consensus which wins over weak labels, provenance present.",
)
SPAM_CHECK = dg.AssetCheckSpec(
    "no_known_spam",
    asset=REVIEW_EXAMPLES,
    blocking=True,
    description="No labeled review matches the definition of a spam rule (the latest version of each, "
    "evaluated on the raw texts of those days whichever version cleaned them): spam must never be "
    "labeled and published.",
)


@dg.asset(key=REVIEWS, deps=[CLEAN_EVENTS], code_version="reviews-1", **_COMMON)
def reviews(warehouse: Warehouse) -> dg.MaterializeResult:
    """Every clean review to label: redacted text, rating, item and its category, the person pseudonym
    and the landing file and line it came from (review_id is the review event's id)."""
    with warehouse.connect() as con:
        run_sql(con, "labeling/create_review_tables.sql")
        REVIEWS_STEP.run(con)
        n = con.execute("SELECT count(*) FROM labels.reviews").fetchone()[0]
        schema = table_schema_of(con, "labels.reviews")
    return dg.MaterializeResult(
        metadata={"dagster/row_count": n, "dagster/column_schema": schema, **STAGE.lineage_metadata("labels.reviews")}
    )


@dg.asset(key=GOLD, deps=[REVIEWS], code_version="gold-1", **_COMMON)
def gold(warehouse: Warehouse, landing: LandingZone) -> dg.MaterializeResult:
    """Expert answers for gold items, read from landing annotations/gold/*.csv
    (review_id,label,labeled_by). Bad rows are rejected with a reason into labels.annotation_rejects;
    answers for reviews not (yet) in labels.reviews are kept aside the same way."""
    answers, rejects = read_gold_files(landing.annotations_dir() / "gold")
    with warehouse.connect() as con:
        run_sql(con, "labeling/create_review_tables.sql")
        known = {r[0] for r in con.execute("SELECT review_id FROM labels.reviews").fetchall()}
        unknown = [a for a in answers if a["review_id"] not in known]
        rejects += [
            {"source_file": a["source_file"], "position": None, "reason": "unknown_review", "detail": a["review_id"]}
            for a in unknown
        ]
        answers = [a for a in answers if a["review_id"] in known]
        _replace_read_rows(con, "gold", answers, GOLD_SCHEMA, rejects)
        schema = table_schema_of(con, "labels.gold")
    by_label = {s: sum(a["label"] == s for a in answers) for s in SENTIMENTS}
    return dg.MaterializeResult(
        metadata={
            "dagster/row_count": len(answers),
            "dagster/column_schema": schema,
            "by_label": dg.MetadataValue.json(by_label),
            "rejected": dg.MetadataValue.json(_count_by(rejects, "reason")),
        }
    )


@dg.asset(key=LABEL_MATRIX, deps=[REVIEWS, GOLD], code_version=f"matrix-1/{lf_registry_version()}", **_COMMON)
def label_matrix(warehouse: Warehouse) -> dg.MaterializeResult:
    """The label matrix: every registered labeling function's vote on every review (long form:
    review_id, LF, version, vote; -1 = abstain), evaluated in one DuckDB pass. The metadata holds the
    LF analysis: polarity, coverage, overlaps, conflicts and accuracy on gold."""
    with warehouse.connect() as con:
        cells = build_label_matrix(con, "labels.reviews", "review_id", "labels.label_matrix", REVIEW_LFS)
        run_sql(con, "labeling/gold_examples.sql")
        analysis = lf_analysis(con, "labels.label_matrix", "gold_examples")
        schema = table_schema_of(con, "labels.label_matrix")
    table = [
        {
            "lf": f"{a['lf']}@{a['lf_version']}",
            "polarity": ",".join(SENTIMENTS[v] for v in a["polarity"] or []),
            "coverage": round(a["coverage"], 4),
            "overlaps": round(a["overlaps"], 4),
            "conflicts": round(a["conflicts"], 4),
            "gold_votes": a["gold_votes"],
            "gold_accuracy": None if a["gold_accuracy"] is None else round(a["gold_accuracy"], 4),
        }
        for a in analysis
    ]
    return dg.MaterializeResult(
        metadata={
            "dagster/row_count": cells,
            "dagster/column_schema": schema,
            "labeling_functions": len(REVIEW_LFS),
            "lf_registry_version": lf_registry_version(),
            "lf_analysis": dg.MetadataValue.md(markdown_table(table)),
            "registry": dg.MetadataValue.md(lfs_markdown()),
        }
    )


@dg.asset(
    key=WEAK_LABELS,
    deps=[LABEL_MATRIX, GOLD, HUMAN_CONSENSUS],
    code_version=f"weak-1/{lf_registry_version()}",
    **_COMMON,
)
def weak_labels(warehouse: Warehouse) -> dg.MaterializeResult:
    """Probabilistic labels from the generative label model: EM over the LF votes estimates each LF's
    accuracy and the class prior (LFs independent given the class); majority vote is the baseline. Reviews no LF
    voted on
    get no weak label. Accuracy on gold of both models is in the metadata."""
    clock = StageClock()
    with warehouse.connect() as con:
        ids, votes = vote_matrix(con, "labels.label_matrix", len(REVIEW_LFS))
        gold_by_id = dict(run_sql(con, "labeling/gold_indexes.sql").fetchall())
        human = dict(run_sql(con, "labeling/anchor_indexes.sql").fetchall())
        fitted = fit_label_model(ids, votes, K, known=np.array([human.get(r, -1) for r in ids], dtype=np.int64))
        clock.lap("fit_s")
        covered = fitted.covered
        probs = fitted.model.posteriors
        records = [
            {
                "review_id": rid,
                **{f"p_{s}": round(float(probs[i, k]), 6) for k, s in enumerate(SENTIMENTS)},
                "label": SENTIMENTS[fitted.model.labels[i]] if covered[i] else None,
                "confidence": round(float(fitted.model.confidence[i]), 6) if covered[i] else None,
                "mv_label": SENTIMENTS[fitted.mv_labels[i]] if fitted.mv_labels[i] >= 0 else None,
                "lf_votes": int((votes[i] >= 0).sum()),
                "label_model": LABEL_MODEL,
            }
            for i, rid in enumerate(ids)
        ]
        write_rows(con, "labels.weak_labels", records, WEAK_SCHEMA, replace=True)
        schema = table_schema_of(con, "labels.weak_labels")
        clock.lap("save_s")
    gold_vec = np.array([gold_by_id.get(r, -1) for r in ids], dtype=np.int64)
    ds_labels = np.where(covered, fitted.model.labels, -1)
    ds_acc, n_gold = accuracy_on(ds_labels, gold_vec)
    mv_acc, _ = accuracy_on(fitted.mv_labels, gold_vec)
    lf_table = [
        {"lf": lf.id, "estimated_accuracy": round(float(a), 4)} for lf, a in zip(REVIEW_LFS, fitted.model.accuracy)
    ]
    return dg.MaterializeResult(
        metadata={
            "dagster/row_count": len(records),
            "dagster/column_schema": schema,
            "covered": int(covered.sum()),
            "label_model": LABEL_MODEL,
            "label_model_accuracy_on_gold": _r(ds_acc),
            "majority_vote_accuracy_on_gold": _r(mv_acc),
            "gold_items": n_gold,
            "human_anchors": fitted.anchors,
            "class_prior": dg.MetadataValue.json(
                {s: round(float(p), 4) for s, p in zip(SENTIMENTS, fitted.model.class_prior)}
            ),
            "estimated_lf_accuracy": dg.MetadataValue.md(markdown_table(lf_table)),
            "em_iterations": int(fitted.model.iterations),
            "em_converged": bool(fitted.model.converged),
            "seconds": dg.MetadataValue.json(clock.laps),
        }
    )


@dg.asset(key=ANNOTATIONS, deps=[REVIEWS], code_version="annotations-1", **_COMMON)
def annotations(warehouse: Warehouse, landing: LandingZone) -> dg.MaterializeResult:
    """Rater annotations read from the Label Studio JSON exports in landing annotations/*.json:
    one row per rater and task, completed, cancelled (skipped) or empty. Unusable parts of an export
    are rejected with a reason into labels.annotation_rejects; nothing is dropped silently."""
    found, rejects = [], []
    files = sorted(landing.annotations_dir().glob("*.json")) if landing.annotations_dir().is_dir() else []
    for path in files:
        parsed = parse_export(path)
        found += parsed.annotations
        rejects += [
            {"source_file": r["source_file"], "position": r["task_index"], "reason": r["reason"], "detail": r["detail"]}
            for r in parsed.rejected
        ]
    with warehouse.connect() as con:
        run_sql(con, "labeling/create_review_tables.sql")
        _replace_read_rows(con, "annotations", found, ANNOTATION_SCHEMA, rejects)
        schema = table_schema_of(con, "labels.annotations")
    return dg.MaterializeResult(
        metadata={
            "dagster/row_count": len(found),
            "dagster/column_schema": schema,
            "files": len(files),
            "by_status": dg.MetadataValue.json(_count_by(found, "status")),
            "rejected": dg.MetadataValue.json(_count_by(rejects, "reason")),
        }
    )


class AgreementConfig(dg.Config):
    """Thresholds of the rater-agreement check."""

    min_alpha: float = 0.6
    min_gain: float = 0.02  # a rater "pulls agreement down" when alpha without them is this much higher
    min_gold_accuracy: float = 0.7
    min_gold_items: int = 5  # gold accuracy names a rater only when measured on this many gold items


@dg.asset(
    key=HUMAN_CONSENSUS, deps=[ANNOTATIONS, GOLD], code_version="consensus-2", check_specs=[AGREEMENT_CHECK], **_COMMON
)
def human_consensus(context: dg.AssetExecutionContext, config: AgreementConfig, warehouse: Warehouse):
    """One consensus label per annotated review: Dawid–Skene over all raters and batches (EM over
    rater confusion matrices with a prior), the plurality where its raters are known from too few
    items, majority vote alongside, and as confidence the posterior calibrated on gold (temperature).
    Metadata: calibration on gold (expected calibration error before and after, out of fold, and the
    reliability table), agreement per batch (Fleiss' kappa, Krippendorff's alpha, mean pairwise
    Cohen's kappa) and rater quality (gold accuracy, agreement with consensus, estimated accuracy)."""
    with warehouse.connect() as con:
        found = rows(con, "labeling/annotation_rows.sql")
        gold_by_id = dict(run_sql(con, "labeling/gold_indexes.sql").fetchall())
        table = vote_table(found)
        agreed, calibration = consensus(table, gold_by_id)
        write_rows(con, "labels.human_consensus", agreed, CONSENSUS_SCHEMA, replace=True)
        schema = table_schema_of(con, "labels.human_consensus")
    batches = batch_agreement(found, min_gain=config.min_gain)
    raters = rater_report(table, gold_by_id, agreed)
    yield dg.MaterializeResult(
        metadata={
            "dagster/row_count": len(agreed),
            "dagster/column_schema": schema,
            "annotations": len(found),
            "cancelled_or_empty": sum(a["status"] != "completed" for a in found),
            "majority_vote_disagrees": sum(a["mv_label"] != a["label"] for a in agreed),
            "majority_fallbacks": sum(a["method"] == "majority_fallback" for a in agreed),
            "confidence_temperature": round(calibration.temperature, 4),
            "calibration_gold_items": calibration.gold_items,
            "accuracy_on_gold": _r(calibration.accuracy),
            "ece_on_gold_uncalibrated": _r(calibration.ece_raw),
            "ece_on_gold": _r(calibration.ece),
            "reliability_on_gold": dg.MetadataValue.md(_reliability_markdown(calibration)),
            "agreement_by_batch": dg.MetadataValue.md(
                markdown_table([{**b, "pulling_down": ", ".join(b["pulling_down"]) or "-"} for b in batches])
            ),
            "rater_quality": dg.MetadataValue.md(markdown_table(raters)),
        }
    )
    latest = batches[-1] if batches else None
    low_gold = [
        r["rater"]
        for r in raters
        if r.get("gold_accuracy") is not None
        and r["gold_items"] >= config.min_gold_items
        and r["gold_accuracy"] < config.min_gold_accuracy
    ]
    alpha = latest["krippendorff_alpha"] if latest else None
    passed = latest is None or (alpha is not None and alpha >= config.min_alpha)
    named = (latest["pulling_down"] if latest else []) + [
        r for r in low_gold if r not in (latest or {}).get("pulling_down", [])
    ]
    yield dg.AssetCheckResult(
        check_name=AGREEMENT_CHECK.name,
        passed=passed,
        severity=dg.AssetCheckSeverity.ERROR,
        description=None
        if passed
        else f"alpha {alpha} < {config.min_alpha} in {latest['batch_id']}; "
        f"pulling it down: {', '.join(named) or 'no single rater'}",
        metadata={
            "batch": latest["batch_id"] if latest else "-",
            "krippendorff_alpha": alpha,
            "min_alpha": config.min_alpha,
            "raters_pulling_down": ", ".join(named) or "-",
        },
    )


@dg.asset(
    key=REVIEW_EXAMPLES,
    deps=[REVIEWS, GOLD, WEAK_LABELS, HUMAN_CONSENSUS],
    code_version="review-examples-1",
    check_specs=[EXAMPLES_CHECK, SPAM_CHECK],
    **_COMMON,
)
def review_examples(context: dg.AssetExecutionContext, warehouse: Warehouse):
    """The labeled review dataset: one label per review with label_source (gold > human_consensus >
    weak), label_confidence (its calibration on gold per source is in the metadata), rater count,
    the weak and human labels side by side, a suspected label error flag (confident learning) and the
    landing file and line of the review event."""
    with warehouse.connect() as con:
        issues = _find_label_issues(con)
        write_rows(con, "labels.label_issues", issues, ISSUE_SCHEMA, replace=True)
        REVIEW_EXAMPLES_STEP.run(con, {"label_model": LABEL_MODEL, "run_id": context.run.run_id})
        summary = rows(con, "labeling/review_examples_summary.sql")[0]
        sources = rows(con, "labeling/label_sources.sql")
        on_gold = rows(con, "labeling/confidence_on_gold.sql")
        schema = REVIEW_EXAMPLES_CONTRACT.table_schema()
        spam = known_spam(con)
    yield dg.MaterializeResult(
        metadata={
            "dagster/row_count": summary["examples"],
            "dagster/column_schema": schema,
            "unlabeled_reviews": summary["unlabeled"],
            "by_source": dg.MetadataValue.md(markdown_table(sources)),
            "suspected_label_errors": len(issues),
            "confidence_on_gold": dg.MetadataValue.md(markdown_table(_confidence_on_gold(on_gold))),
            **STAGE.lineage_metadata("labels.review_examples"),
        }
    )
    yield dg.AssetCheckResult(
        check_name=EXAMPLES_CHECK.name,
        passed=(
            summary["examples"] == summary["distinct_reviews"]
            and summary["examples"] + summary["unlabeled"] == summary["reviews"]
            and summary["invalid_rows"] == 0
        ),
        metadata={k: v for k, v in summary.items()},
    )
    yield dg.AssetCheckResult(
        check_name=SPAM_CHECK.name,
        passed=not any(spam.values()),
        description=None
        if not any(spam.values())
        else "spam reached the labeled reviews: " + ", ".join(f"{r} {len(ids)}" for r, ids in spam.items() if ids),
        metadata={
            "spam_by_rule": dg.MetadataValue.json({r: len(ids) for r, ids in spam.items()}),
            "sample": dg.MetadataValue.json({r: ids[:5] for r, ids in spam.items() if ids}),
        },
    )


def known_spam(con) -> dict[str, list[str]]:
    """Rule ref -> ids of labeled reviews the latest version of that spam rule matches, evaluated on
    the raw texts of all the reviews of the same days (independent of the rule version that ran)."""
    run_sql(con, "labeling/known_spam_events.sql")
    return {
        rule.ref: [
            r[0]
            for r in run_sql(
                con, "labeling/known_spam_in_examples.sql", rule.params, rule_sql=load_sql(rule.sql_name)
            ).fetchall()
        ]
        for rule in definitive(kind="spam")
    }


def _find_label_issues(con) -> list[dict]:
    """Human consensus labels that confident learning flags, with out-of-sample probabilities from a
    naive Bayes over the LF votes trained on the other folds of the human-labelled reviews."""
    ids, votes = vote_matrix(con, "labels.label_matrix", len(REVIEW_LFS))
    human = dict(
        con.execute("SELECT review_id, label_index FROM labels.human_consensus WHERE label_index >= 0").fetchall()
    )
    labels = np.array([human.get(r, -1) for r in ids], dtype=np.int64)
    if (labels >= 0).sum() < 20:
        return []
    probs = out_of_sample_probs(votes, labels, K)
    rows_ = np.flatnonzero(labels >= 0)
    found = find_label_issues(labels[rows_], probs[rows_])
    return [
        {
            "review_id": ids[i],
            "given_label": SENTIMENTS[labels[i]],
            "suggested_label": SENTIMENTS[found.suggested_label[j]],
            "self_confidence": round(float(found.self_confidence[j]), 6),
            "method": "confident_learning/nb-lf-votes",
        }
        for j, i in enumerate(rows_)
        if found.is_issue[j]
    ]


class TaskBatchConfig(dg.Config):
    """What the next batch for raters contains."""

    batch_size: int = 120
    strategy: str = "entropy"  # least_confidence | margin | entropy
    random_share: float = 0.25  # a stratified random slice (by predicted label) keeps estimates unbiased
    gold_share: float = 0.15  # items with known answers, hidden among the others, score the raters
    max_label_errors: int = 30  # suspected label errors sent back for review, on top of batch_size
    seed: int = 0


@dg.asset(key=ANNOTATION_TASKS, deps=[WEAK_LABELS, REVIEW_EXAMPLES], code_version="tasks-1", **_COMMON)
def annotation_tasks(
    context: dg.AssetExecutionContext, config: TaskBatchConfig, warehouse: Warehouse, labeling: LabelingDesk
) -> dg.MaterializeResult:
    """The next batch for human raters, as a Label Studio import file (tasks with redacted text, item
    context and the label model's prediction as a pre-annotation) plus the labeling config: the most
    uncertain reviews by active learning, a stratified random slice, hidden gold items, and suspected
    label errors sent back for review. Every task is recorded in labels.tasks with why it was chosen."""
    if config.strategy not in STRATEGIES:
        raise ValueError(f"strategy must be one of {STRATEGIES}, got {config.strategy!r}")
    with warehouse.connect() as con:
        run_sql(con, "labeling/create_review_tables.sql")
        batch_no, next_task = run_sql(con, "labeling/next_batch.sql").fetchone()
        batch_id = f"batch-{batch_no:04d}"
        candidates = rows(con, "labeling/task_candidates.sql")
        gold_pool = rows(con, "labeling/gold_pool.sql")
        errors = [r["review_id"] for r in rows(con, "labeling/label_errors_to_review.sql")][: config.max_label_errors]
        reviews_by_id = {r["review_id"]: r for r in rows(con, "labeling/task_context.sql")}
        picks = _pick_batch(candidates, gold_pool, errors, config, batch_no)
        rng = np.random.default_rng([config.seed, batch_no])
        order = rng.permutation(len(picks))  # raters must not see gold or errors grouped together
        task_rows, records = [], []
        for n, index in enumerate(order):
            review_id, selection, score = picks[index]
            context_row = reviews_by_id[review_id]
            task_rows.append(
                {
                    "task_id": next_task + n,
                    "review_id": review_id,
                    "batch_id": batch_id,
                    "text": context_row["text"],
                    "item_id": context_row["item_id"],
                    "category": context_row["category"] or "",
                    "predicted_label": context_row["prediction"] or SENTIMENTS[1],
                    "predicted_score": float(context_row["prediction_score"] or 0.0),
                }
            )
            records.append(
                {
                    "batch_id": batch_id,
                    "task_id": next_task + n,
                    "review_id": review_id,
                    "selection": selection,
                    "score": score,
                    "strategy": config.strategy,
                    "prediction": context_row["prediction"],
                    "prediction_score": context_row["prediction_score"],
                }
            )
        path = write_batch(build_tasks(task_rows, LABEL_MODEL), labeling.tasks_dir(), batch_id)
        write_rows(
            con, "labels.tasks", [{**r, "run_id": context.run.run_id} for r in records], TASK_SCHEMA, replace=False
        )
        schema = table_schema_of(con, "labels.tasks")
    return dg.MaterializeResult(
        metadata={
            "dagster/row_count": len(records),
            "dagster/column_schema": schema,
            "batch_id": batch_id,
            "tasks_file": dg.MetadataValue.path(str(path.resolve())),
            "by_selection": dg.MetadataValue.json(_count_by(records, "selection")),
            "strategy": config.strategy,
            "candidates_left": len(candidates) - sum(r["selection"] in ("active", "random") for r in records),
        }
    )


def _pick_batch(
    candidates: list[dict], gold_pool: list[dict], errors: list[str], config: TaskBatchConfig, batch_no: int
) -> list[tuple[str, str, float | None]]:
    """(review_id, selection, score) of the batch: gold, active, stratified random, label errors."""
    rng = np.random.default_rng([config.seed, batch_no, 1])
    n_gold = min(round(config.batch_size * config.gold_share), len(gold_pool))
    n_random = round(config.batch_size * config.random_share)
    n_active = max(config.batch_size - n_gold - n_random, 0)
    taken = set(errors)
    picks: list[tuple[str, str, float | None]] = [(r, "label_error", None) for r in errors]
    # gold: the least shown items first, in random order among equals
    shuffled = [gold_pool[i] for i in rng.permutation(len(gold_pool))]
    gold_ids = [g["review_id"] for g in sorted(shuffled, key=lambda g: g["times_shown"])[:n_gold]]
    picks += [(r, "gold", None) for r in gold_ids if r not in taken]
    taken |= set(gold_ids)
    pool = [c for c in candidates if c["review_id"] not in taken]
    if pool and n_active:
        probs = np.array([[c[f"p_{s}"] for s in SENTIMENTS] for c in pool], dtype=float)
        for review_id, score in pick_most_uncertain([c["review_id"] for c in pool], probs, config.strategy, n_active):
            picks.append((review_id, "active", float(score)))
            taken.add(review_id)
    pool = [c for c in pool if c["review_id"] not in taken]
    picks += [(r, "random", None) for r in _stratified_sample(pool, n_random, rng)]
    return picks


def _stratified_sample(pool: list[dict], n: int, rng: np.random.Generator) -> list[str]:
    """``n`` ids drawn without replacement, proportionally from each predicted label (largest remainder)."""
    if n <= 0 or not pool:
        return []
    n = min(n, len(pool))
    strata: dict[str, list[str]] = {}
    for c in pool:
        strata.setdefault(c["prediction"] or "-", []).append(c["review_id"])
    quotas = {s: n * len(ids) / len(pool) for s, ids in strata.items()}
    take = {s: int(q) for s, q in quotas.items()}
    for s in sorted(quotas, key=lambda s: (take[s] - quotas[s], s))[: n - sum(take.values())]:
        take[s] += 1
    out = []
    for s, ids in sorted(strata.items()):
        out += [ids[i] for i in sorted(rng.choice(len(ids), take[s], replace=False))]
    return out


def _replace_read_rows(con, table: str, records: list[dict], schema: pa.Schema, rejects: list[dict]) -> None:
    """Replace ``labels.<table>`` (gold or annotations, rebuilt from every landing file on each run)
    and that reader's rows of labels.annotation_rejects, in one transaction."""
    with transaction(con):
        con.execute(f"DELETE FROM labels.{table}")
        write_rows(con, f"labels.{table}", records, schema, replace=False)
        run_sql(con, "labeling/delete_rejects.sql", {"gold": table == "gold"})
        write_rows(con, "labels.annotation_rejects", rejects, REJECT_SCHEMA, replace=False)


def _confidence_on_gold(found: list[dict]) -> list[dict]:
    """Per label source: gold items, accuracy, mean confidence and expected calibration error."""
    out = []
    for source in sorted({r["source"] for r in found}):
        conf = np.array([r["confidence"] for r in found if r["source"] == source], dtype=float)
        correct = np.array([r["correct"] for r in found if r["source"] == source], dtype=bool)
        out.append(
            {
                "source": source,
                "gold_items": len(conf),
                "accuracy": _r(float(correct.mean())),
                "mean_confidence": _r(float(np.nanmean(conf))),
                "ece": _r(expected_calibration_error(conf, correct)),
            }
        )
    return out


def _reliability_markdown(calibration: Calibration) -> str:
    """The out-of-fold reliability table on gold, and why there is no calibration when there is none."""
    table = markdown_table(
        [{k: round(v, 4) if isinstance(v, float) else v for k, v in row.items()} for row in calibration.reliability]
    )
    return f"{calibration.note}\n\n{table}" if calibration.note else table


def _count_by(records: list[dict], key: str) -> dict[str, int]:
    out: dict[str, int] = {}
    for r in records:
        out[str(r[key])] = out.get(str(r[key]), 0) + 1
    return dict(sorted(out.items()))


def _r(value: float) -> float | None:
    return None if value != value else round(value, 4)


def _schema(*fields: tuple[str, pa.DataType]) -> pa.Schema:
    return pa.schema(list(fields))


S, I, F, B = pa.string(), pa.int64(), pa.float64(), pa.bool_()  # noqa: E741 (short type names of the schemas below)
GOLD_SCHEMA = _schema(("review_id", S), ("label", S), ("label_index", I), ("labeled_by", S), ("source_file", S))
REJECT_SCHEMA = _schema(("source_file", S), ("position", I), ("reason", S), ("detail", S))
ANNOTATION_SCHEMA = _schema(
    ("source_file", S),
    ("task_id", I),
    ("review_id", S),
    ("batch_id", S),
    ("rater", S),
    ("label", S),
    ("status", S),
    ("annotation_id", I),
    ("created_at", S),
)
TASK_SCHEMA = _schema(
    ("batch_id", S),
    ("task_id", I),
    ("review_id", S),
    ("selection", S),
    ("score", F),
    ("strategy", S),
    ("prediction", S),
    ("prediction_score", F),
    ("run_id", S),
)
WEAK_SCHEMA = _schema(
    ("review_id", S),
    *[(f"p_{s}", F) for s in SENTIMENTS],
    ("label", S),
    ("confidence", F),
    ("mv_label", S),
    ("lf_votes", I),
    ("label_model", S),
)
CONSENSUS_SCHEMA = _schema(
    ("review_id", S),
    ("label", S),
    ("label_index", I),
    ("confidence", F),
    ("method", S),
    ("mv_label", S),
    ("mv_confidence", F),
    ("raters", I),
)
ISSUE_SCHEMA = _schema(
    ("review_id", S), ("given_label", S), ("suggested_label", S), ("self_confidence", F), ("method", S)
)

REVIEW_LABELING_ASSETS = [
    reviews,
    gold,
    label_matrix,
    weak_labels,
    annotations,
    human_consensus,
    review_examples,
    annotation_tasks,
]
