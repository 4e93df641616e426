"""labels/labeling_plan: the current labeling plan against actual progress, and the step-size guard.

The same report backs the ``data-platform plan-labeling`` command (:func:`plan_report`).
"""

import math
from collections.abc import Sequence
from pathlib import Path

import dagster as dg

from data_platform.base.keys import MODEL_RUNS
from data_platform.labeling import SENTIMENTS
from data_platform.labeling.planner import (
    DEFAULT_TARGET,
    growth_factor,
    learning_curve,
    plan_for_budget,
    plan_for_examples,
    pool_rates,
    useful_growth,
)
from data_platform.labeling.registry import (
    POOLS,
    annotation_timings,
    load_registry,
    rater_profiles,
    unregistered,
)
from data_platform.labeling.review_assets import ANNOTATIONS, GOLD, HUMAN_CONSENSUS
from data_platform.metadata import markdown_table, report_schema
from data_platform.resources import LandingZone, Warehouse, existing_tables

LABELING_PLAN = dg.AssetKey(["labels", "labeling_plan"])

STEP_CHECK = dg.AssetCheckSpec(
    "labeling_step_size",
    asset=LABELING_PLAN,
    blocking=False,
    description="WARN when the plan would grow the human-labeled set beyond what the measured learning curve "
    "(the review baseline of training/model_runs) predicts still pays (min_gain per doubling), and never more than "
    "max_growth times (default 10x, the assumption used while nothing is measured) in one step.",
)


def measured_inputs(con, landing_annotations: Path | None) -> dict:
    """What the platform has measured: per-rater quality (gold accuracy, agreement, Dawid–Skene),
    annotation timings from the exports, and progress (labeled reviews, annotations, raters seen)."""
    from data_platform.labeling.human import rater_report, vote_table
    from data_platform.resources import rows, run_sql

    out = {
        "quality": [],
        "timings": [],
        "labeled": 0,
        "annotations": {},
        "raters_seen": [],
        "first": None,
        "last": None,
    }
    tables = existing_tables(con) if con is not None else set()
    if "labels.annotations" in tables and "labels.human_consensus" in tables:
        found = rows(con, "labeling/annotation_rows.sql")
        gold = dict(run_sql(con, "labeling/gold_indexes.sql").fetchall()) if "labels.gold" in tables else {}
        agreed = [
            {"review_id": r, "label_index": SENTIMENTS.index(label) if label in SENTIMENTS else -1}
            for r, label in con.execute("SELECT review_id, label FROM labels.human_consensus").fetchall()
        ]
        out["quality"] = rater_report(vote_table(found), gold, agreed)
        out["labeled"] = len(agreed)
        by_status: dict[str, int] = {}
        for a in found:
            by_status[a["status"]] = by_status.get(a["status"], 0) + 1
        out["annotations"] = by_status
        out["raters_seen"] = sorted({a["rater"] for a in found})
        out["per_rater_annotations"] = {}
        for a in found:
            out["per_rater_annotations"][a["rater"]] = out["per_rater_annotations"].get(a["rater"], 0) + 1
        stamps = sorted(a["created_at"] for a in found if a.get("created_at"))
        out["first"], out["last"] = (stamps[0], stamps[-1]) if stamps else (None, None)
    out["learning_curve"] = []
    if {"labels.label_matrix", "labels.review_examples"} <= tables:
        from data_platform.labeling.functions import REVIEW_LFS
        from data_platform.labeling.weak import vote_matrix

        ids, votes = vote_matrix(con, "labels.label_matrix", len(REVIEW_LFS))
        human = dict(
            con.execute(
                "SELECT review_id, label FROM labels.review_examples WHERE label_source IN ('gold', 'human_consensus')"
            ).fetchall()
        )
        labels = [SENTIMENTS.index(human[r]) if human.get(r) in SENTIMENTS else -1 for r in ids]
        out["learning_curve"] = learning_curve(votes, labels, len(SENTIMENTS))
    out["baseline_curve"] = (
        rows(con, "labeling/baseline_curve.sql") if {"training.model_runs", "splits.exports"} <= tables else []
    )
    if landing_annotations is not None and Path(landing_annotations).is_dir():
        out["timings"] = annotation_timings(sorted(Path(landing_annotations).glob("*.json")))
    return out


def plan_report(
    measured: dict,
    *,
    days: float | None = None,
    budget: float | None = None,
    examples: int | None = None,
    pools: Sequence[str] | None = None,
    target: float = DEFAULT_TARGET,
    gold_share: float = 0.15,
    plurality: bool = False,
    registry_path: str | None = None,
    max_growth: float = 10.0,
    min_gain: float = 0.005,
) -> dict:
    """Plans per pool (each one alone, then the chosen pools together) for ``days`` + ``budget``, or for
    ``examples``; the raters' figures; actual progress and spend; and the step-size guard: the growth
    limit is what the measured learning curve predicts still gains ``min_gain`` per doubling (capped at
    ``max_growth``), or ``max_growth`` itself while no curve is measured."""
    if examples is None and (days is None or budget is None):
        raise ValueError("give days and budget, or examples")
    raters = rater_profiles(load_registry(registry_path), measured["quality"], measured["timings"])
    chosen = [p for p in (pools or POOLS)]
    unknown = set(chosen) - set(POOLS)
    if unknown:
        raise ValueError(f"unknown pools {sorted(unknown)}; expected {POOLS}")
    n_classes = len(SENTIMENTS) if plurality else None
    plans = []
    for group in [[p] for p in chosen] + ([chosen] if len(chosen) > 1 else []):
        try:
            rates = pool_rates(raters, group)
        except ValueError:
            continue
        plan = (
            plan_for_examples(rates, examples, target, gold_share, n_classes)
            if examples is not None
            else plan_for_budget(rates, days, budget, target, gold_share, n_classes)
        )
        plans.append(plan)
    rater_rows = [
        {
            "rater": r.id,
            "name": r.name,
            "pool": r.pool,
            "languages": ",".join(r.languages),
            "domain_expert": "yes" if r.domain_expert else "no",
            "cost_per_label": r.cost_per_label,
            "labels_per_hour": round(r.labels_per_hour, 1),
            "throughput": r.throughput_source,
            "planning_accuracy": round(r.planning_accuracy, 4),
            "accuracy": r.accuracy_source,
            "gold_accuracy": r.history.get("gold_accuracy"),
            "gold_items": r.history.get("gold_items", 0),
            "agreement_with_consensus": r.history.get("agreement_with_consensus"),
            "ds_accuracy": r.history.get("ds_accuracy"),
        }
        for r in raters
    ]
    cost_of = {r.id: r.cost_per_label for r in raters}
    per_rater = measured.get("per_rater_annotations", {})
    spent = sum(n * cost_of.get(rater, 0.0) for rater, n in per_rater.items())
    best = min((p for p in plans if p.votes_per_example), default=None, key=lambda p: (p.cost_per_example, -p.examples))
    if examples is None and best is not None:
        best = max((p for p in plans if p.votes_per_example), key=lambda p: (p.examples, -p.cost))
    growth = growth_factor(measured["labeled"], best.examples if best else 0)
    curve = measured.get("baseline_curve") or []
    fitted = useful_growth(curve, min_gain) if curve else None
    limit = max_growth if fitted is None else min(max_growth, fitted["useful_growth"])
    return {
        "plans": plans,
        "best": best,
        "raters": rater_rows,
        "target": target,
        "gold_share": gold_share,
        "formula": "plurality (3 classes)" if plurality else "majority vote, binomial",
        "progress": {
            "labeled_reviews": measured["labeled"],
            "annotations": measured["annotations"],
            "spent_eur": round(spent, 2),
            "first_annotation": measured["first"],
            "last_annotation": measured["last"],
            "unregistered_raters": unregistered(load_registry(registry_path), measured["raters_seen"]),
        },
        "growth": growth,
        "max_growth": max_growth,
        "learning_curve": measured.get("learning_curve", []),
        "last_doubling_gain": _last_doubling_gain(measured.get("learning_curve", [])),
        "step_ok": growth <= limit,
        "max_step": int(measured["labeled"] * (limit - 1)) if measured["labeled"] else None,
        "growth_limit": limit,
        "min_gain": min_gain,
        "measured_curve": curve,
        "measured_fit": fitted,
        "limit_source": _limit_source(curve, fitted, max_growth, min_gain),
    }


def _limit_source(curve: list[dict], fitted: dict | None, max_growth: float, min_gain: float) -> str:
    """Where the step-size limit comes from, in words."""
    if fitted is None:
        return (
            f"assumed: {max_growth:g}x (no learning curve measured yet: publish the reviews so training/model_runs "
            "trains their baseline)"
        )
    points = ", ".join(f"{p['fraction']:.0%} ({p['train_examples']:,}) {p['score']:.3f}" for p in curve)
    return (
        f"measured: the review baseline's learning curve on version {curve[0]['version']} (dev macro-F1 {points}; "
        f"last doubling {fitted['last_doubling_gain']:+.3f}, power-law exponent {fitted['exponent']:.3f}) predicts "
        f"{fitted['next_doubling_gain']:+.4f} from one more doubling and at least {min_gain:g} per doubling up to "
        f"{fitted['useful_growth']:.1f}x; limit min(that, {max_growth:g}x)"
    )


def _last_doubling_gain(curve: list[dict]) -> float | None:
    """Held-out accuracy gained between the last two points of the learning curve (None without one)."""
    return round(curve[-1]["accuracy"] - curve[-2]["accuracy"], 4) if len(curve) >= 2 else None


def format_report(report: dict) -> str:
    """The report as text for the terminal."""
    lines = [
        f"target label accuracy {report['target']:.2%} ({report['formula']}), gold share "
        f"{report['gold_share']:.0%} of each batch"
    ]
    header = (
        "pools",
        "raters",
        "vote_acc",
        "votes",
        "exp_acc",
        "ex/day",
        "EUR/ex",
        "examples",
        "days",
        "EUR",
        "binding",
    )
    lines.append(f"  {header[0]:<26}" + " ".join(f"{h:>9}" for h in header[1:]))
    for plan in report["plans"]:
        r = plan.as_row()
        cells = (
            r["pools"],
            r["raters"],
            r["vote_accuracy"],
            r["votes_per_example"] or "-",
            r["expected_accuracy"] if r["expected_accuracy"] is not None else "-",
            r["examples_per_day"],
            r["cost_per_example"] if math.isfinite(r["cost_per_example"]) else "-",
            f"{r['examples']:,}",
            r["days"] if math.isfinite(r["days"]) else "-",
            r["cost"] if math.isfinite(r["cost"]) else "-",
            r["binding"],
        )
        lines.append(f"  {cells[0]:<26}" + " ".join(f"{str(c):>9}" for c in cells[1:]))
    p = report["progress"]
    lines.append(
        f"progress: {p['labeled_reviews']:,} reviews labeled by people, annotations "
        f"{p['annotations'] or 'none yet'}, spent EUR {p['spent_eur']:,.2f}"
        + (f", unregistered raters: {', '.join(p['unregistered_raters'])}" if p["unregistered_raters"] else "")
    )
    measured = [r for r in report["raters"] if r["throughput"] != "registry" or r["accuracy"] != "registry"]
    for r in measured:
        lines.append(
            f"  {r['rater']} ({r['name']}, {r['pool']}): {r['labels_per_hour']} labels/h [{r['throughput']}], "
            f"accuracy {r['planning_accuracy']} [{r['accuracy']}]"
        )
    best = report["best"]
    if best is not None:
        verdict = (
            "ok"
            if report["step_ok"]
            else (
                f"WARN: more than {report['growth_limit']:.1f}x in one step; label at most {report['max_step']:,} "
                "first and check the learning curve"
                if report["max_step"] is not None
                else "WARN: first labels: start with a small step and check the learning curve"
            )
        )
        growth = "inf" if math.isinf(report["growth"]) else f"{report['growth']:.1f}x"
        lines.append(
            f"step: {best.examples:,} new examples with {'+'.join(best.pools)} would grow the human-labeled "
            f"set {growth}: {verdict}"
        )
    lines.append(f"step-size limit {report['growth_limit']:.1f}x, {report['limit_source']}")
    if report["learning_curve"]:
        points = ", ".join(f"{p['train_examples']} -> {p['accuracy']:.3f}" for p in report["learning_curve"])
        lines.append(
            f"learning curve (naive Bayes over the LF votes, held-out human labels): {points}; "
            f"last doubling {report['last_doubling_gain']:+.3f}"
        )
    return "\n".join(lines)


class LabelingPlanConfig(dg.Config):
    """The plan to show: a horizon and budget (or a number of examples), pools and target quality."""

    days: float = 10.0
    budget_eur: float = 500.0
    examples: int = 0  # > 0: plan for this many examples instead of days + budget
    pools: list[str] = list(POOLS)
    target_accuracy: float = DEFAULT_TARGET
    gold_share: float = 0.15
    plurality: bool = False
    max_growth: float = 10.0  # the step-size guard: the assumption while nothing is measured, and the cap
    min_gain: float = 0.005  # dev macro-F1 a doubling must still gain, by the measured learning curve


@dg.asset(
    key=LABELING_PLAN,
    deps=[ANNOTATIONS, GOLD, HUMAN_CONSENSUS, MODEL_RUNS],
    check_specs=[STEP_CHECK],
    group_name="labeling",
    kinds={"duckdb", "python"},
    owners=["team:data-platform"],
    code_version="plan-1",
)
def labeling_plan(
    context: dg.AssetExecutionContext, config: LabelingPlanConfig, warehouse: Warehouse, landing: LandingZone
):
    """The labeling plan and actual progress: from the rater registry (raters.yaml: pool, languages,
    domain expertise, cost, speed) joined with each rater's measured quality (gold accuracy, agreement)
    and throughput (annotation timings), how many reviews the configured days and budget label at the
    target accuracy per pool (votes per item from the majority-vote binomial formula), what was
    labeled and spent so far, and a WARN check when the step would grow the labeled set more than the
    measured learning curve of the review baseline says still pays (over 10x while nothing is measured)."""
    with warehouse.connect() as con:
        measured = measured_inputs(con, landing.annotations_dir())
    report = plan_report(
        measured,
        days=None if config.examples else config.days,
        budget=None if config.examples else config.budget_eur,
        examples=config.examples or None,
        pools=config.pools,
        target=config.target_accuracy,
        gold_share=config.gold_share,
        plurality=config.plurality,
        max_growth=config.max_growth,
        min_gain=config.min_gain,
    )
    best = report["best"]
    plans = [p.as_row() for p in report["plans"]]
    yield dg.MaterializeResult(
        metadata={
            "dagster/row_count": len(plans),
            "dagster/column_schema": report_schema(plans, "labels.labeling_plan"),
            "plans": dg.MetadataValue.md(markdown_table(plans)),
            "recommended": dg.MetadataValue.json(best.as_row() if best else {}),
            "raters": dg.MetadataValue.md(markdown_table(report["raters"])),
            "progress": dg.MetadataValue.json(report["progress"]),
            "report": dg.MetadataValue.md("```\n" + format_report(report) + "\n```"),
            "learning_curve": dg.MetadataValue.md(markdown_table(report["learning_curve"])),
            "measured_learning_curve": dg.MetadataValue.md(markdown_table(report["measured_curve"])),
            "growth_limit": dg.MetadataValue.md(f"{report['growth_limit']:.1f}x, {report['limit_source']}"),
        }
    )
    growth = report["growth"]
    yield dg.AssetCheckResult(
        check_name=STEP_CHECK.name,
        passed=report["step_ok"],
        severity=dg.AssetCheckSeverity.WARN,
        description=None
        if report["step_ok"]
        else (
            f"the plan grows the human-labeled set {'from nothing' if math.isinf(growth) else f'{growth:.1f}x'} "
            f"(limit {report['growth_limit']:.1f}x, {report['limit_source']}): label a smaller step and check "
            "the model still benefits"
            + (
                ""
                if report["last_doubling_gain"] is None
                else f" (the last doubling of labels gained {report['last_doubling_gain']:+.3f} held-out accuracy)"
            )
        ),
        metadata={
            "labeled_now": report["progress"]["labeled_reviews"],
            "last_doubling_gain": report["last_doubling_gain"],
            "planned_examples": best.examples if best else 0,
            "growth": None if math.isinf(growth) else round(growth, 2),
            "max_growth": config.max_growth,
            "growth_limit": round(report["growth_limit"], 2),
            "limit_source": report["limit_source"],
            "measured_next_doubling_gain": None
            if report["measured_fit"] is None
            else round(report["measured_fit"]["next_doubling_gain"], 5),
        },
    )
