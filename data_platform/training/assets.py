"""training/model_runs: a baseline model for every published version, and what starts it.

    exports/<dataset>, training/<dataset>_trigger -> training/model_runs
        (training.model_runs, training.version_comparisons, the version's dataset card)

It runs in the ``publish_datasets`` job (every publication trains its version), and the
``baseline_sensor`` turns a retraining trigger (the retraining signal's "refresh recommended") into a
``retrain_<dataset>`` run: split, publish a new version with the data that arrived, train its
baseline and compare it with the version it replaces.
"""

import datetime as dt
import json
from pathlib import Path

import dagster as dg

from data_platform.base.keys import MODEL_RUNS
from data_platform.flywheel.assets import EXPORTS, TRIGGERS
from data_platform.metadata import markdown_table
from data_platform.partitions import warehouse_pool
from data_platform.resources import (
    Warehouse,
    existing_tables,
    rows,
    run_sql,
    sensors_default_status,
    transaction,
    write_rows,
)
from data_platform.splits.assets import BALANCED
from data_platform.splits.export import Export, write_card
from data_platform.splits.split import SPLITS
from data_platform.training.baseline import (
    BASELINES,
    CODE_VERSION,
    BaselineSpec,
    Comparison,
    VersionResult,
    compare_versions,
    last_doubling_gain,
    train_version,
)
from data_platform.training.stage import MODEL_RUNS_CONTRACT, VERSION_COMPARISONS_CONTRACT

CARD_SECTION = "Baseline model"


class BaselineConfig(dg.Config):
    """How the baselines are trained and compared."""

    seed: int = 0  # the solvers' and the bootstrap's seed: the same seed, the same figures
    resamples: int = 1000  # bootstrap replicates over persons for version N+1 against N
    confidence: float = 0.95  # level of the interval


@dg.asset(
    key=MODEL_RUNS,
    deps=[*EXPORTS, *TRIGGERS.values()],
    group_name="training",
    kinds={"duckdb", "python", "scikit-learn"},
    owners=["team:data-platform"],
    code_version=CODE_VERSION,
    pool=warehouse_pool(),
    metadata={"dagster/column_schema": MODEL_RUNS_CONTRACT.table_schema()},
)
def model_runs(context: dg.AssetExecutionContext, config: BaselineConfig, warehouse: Warehouse):
    """A fast, well-known baseline for every published version without one: logistic regression on the
    exported click features (AUC, log loss, normalized entropy, actual/predicted overall and by
    category, next to the serving model's logged predicted_ctr); TF-IDF + logistic regression on the
    redacted review text (macro-F1, accuracy, recall per class). Trained on train, scored on dev and
    test; a learning curve on 25/50/100% of train by person; against the previous version on the test
    persons both hold, with a bootstrap interval over persons. Written to training.model_runs and
    training.version_comparisons, and into the version's dataset card."""
    trained: list[tuple[BaselineSpec, VersionResult, Comparison | None, str]] = []
    skipped: list[str] = []
    with warehouse.connect() as con:
        run_sql(con, "training/create_tables.sql")
        versions = (
            rows(con, "training/versions.sql", {"code_version": CODE_VERSION})
            if "splits.exports" in existing_tables(con)
            else []
        )
        known = {(v["dataset"], v["version"]): v for v in versions}
        for v in versions:
            spec = BASELINES.get(v["dataset"])
            if v["trained"] or spec is None:
                continue
            path = Path(v["path"])
            if not _complete(path):
                skipped.append(f"{v['dataset']} {v['version']}: its files are gone ({path})")
                continue
            result, model = train_version(con, spec, path, v["version"], config.seed)
            previous = known.get((v["dataset"], v["previous_version"]))
            comparison = None
            if previous is None:
                result.notes.append("first version: nothing to compare with")
            elif not _complete(Path(previous["path"])):
                result.notes.append(f"previous version {previous['version']}: its files are gone, not compared")
            else:
                comparison = compare_versions(
                    con,
                    spec,
                    model,
                    path,
                    Path(previous["path"]),
                    previous["version"],
                    config.seed,
                    config.resamples,
                    config.confidence,
                )
                if comparison is None:
                    result.notes.append(f"not compared with {previous['version']}: no shared test person or model")
            _write(con, result, comparison, context.run.run_id)
            markdown = card_section(spec, result, comparison, config)
            _add_to_card(path, result, comparison, markdown)
            trained.append((spec, result, comparison, markdown))
    for _, result, comparison, _ in trained:
        context.log.info(
            f"{result.dataset} {result.version}: trained"
            + (f"; vs {comparison.previous_version}: {comparison.verdict()}" if comparison else "")
        )
    return dg.MaterializeResult(
        metadata={
            "dagster/row_count": sum(len(r.rows) for _, r, _, _ in trained),
            "versions_trained": [f"{r.dataset} {r.version}" for _, r, _, _ in trained],
            "skipped": "; ".join(skipped) or "-",
            "seed": config.seed,
            **{
                f"{result.dataset}": dg.MetadataValue.md(f"**{result.version}**\n\n{markdown}")
                for _, result, _, markdown in trained
            },
            **{
                f"{result.dataset}_figures": dg.MetadataValue.json(_figures_json(spec, result, comparison))
                for spec, result, comparison, _ in trained
            },
            "note": "every published version has its baseline already" if not trained and not skipped else "-",
        }
    )


def _complete(path: Path) -> bool:
    return all((path / f"{s}.parquet").exists() for s in SPLITS)


def _write(con, result: VersionResult, comparison: Comparison | None, run_id: str) -> None:
    """The version's rows, replacing any it had (a rerun or a new baseline code version)."""
    now = dt.datetime.now(dt.UTC)
    run_rows = [{**r, "version": result.version, "trained_at": now, "run_id": run_id} for r in result.rows]
    compared = (
        [
            {
                **c,
                "dataset": result.dataset,
                "version": result.version,
                "previous_version": comparison.previous_version,
                "code_version": CODE_VERSION,
                "persons": comparison.persons,
                "examples": comparison.examples,
                "resamples": comparison.resamples,
                "seed": comparison.seed,
                "run_id": run_id,
            }
            for c in comparison.metrics
        ]
        if comparison
        else []
    )
    with transaction(con):
        for statement in ("training/delete_runs.sql", "training/delete_comparisons.sql"):
            run_sql(con, statement, {"dataset": result.dataset, "version": result.version})
        write_rows(con, "training.model_runs", run_rows, MODEL_RUNS_CONTRACT.arrow_schema(), replace=False)
        write_rows(
            con, "training.version_comparisons", compared, VERSION_COMPARISONS_CONTRACT.arrow_schema(), replace=False
        )


def _figures_json(spec: BaselineSpec, result: VersionResult, comparison: Comparison | None) -> dict:
    return {
        "version": result.version,
        "test": {
            f"{r['model']} {r['metric']} {r['segment']}": r["value"]
            for r in result.rows
            if r["split"] == "test" and r["train_fraction"] in (None, 1.0)
        },
        "learning_curve": result.curve,
        "last_doubling_gain": {m: last_doubling_gain(result.curve, m) for m in spec.headline},
        "comparison": None
        if comparison is None
        else {"previous_version": comparison.previous_version, "persons": comparison.persons, **_by_metric(comparison)},
        "notes": result.notes,
    }


def _by_metric(comparison: Comparison) -> dict:
    return {c["metric"]: {k: v for k, v in c.items() if k != "metric"} for c in comparison.metrics}


def _value(value) -> str:
    return "-" if value is None else f"{value:.4f}"


def card_section(spec: BaselineSpec, result: VersionResult, comparison: Comparison | None, config) -> str:
    """The dataset card's "Baseline model" section: the figures, the learning curve, the comparison."""
    full = [r for r in result.rows if r["train_fraction"] in (None, 1.0)]
    metrics = list(dict.fromkeys(r["metric"] for r in full if r["segment"] == "all"))
    table = [
        {
            "split": split,
            "model": "baseline" if model == "baseline" else f"serving ({spec.serving})",
            **{
                metric: _value(
                    next(
                        (
                            r["value"]
                            for r in full
                            if (r["split"], r["model"], r["metric"], r["segment"]) == (split, model, metric, "all")
                        ),
                        None,
                    )
                )
                for metric in metrics
            },
        }
        for split in ("dev", "test")
        for model in ("baseline", "serving")
        if any(r["split"] == split and r["model"] == model for r in full)
    ]
    lines = [
        f"{spec.model_spec}; trained on train ({_train_size(result)}), seed {config.seed}, code {CODE_VERSION}. "
        "Figures in training.model_runs.",
        "",
        markdown_table(table) if table else "no model: " + "; ".join(result.notes),
    ]
    segments = [r for r in full if r["segment"] != "all" and r["split"] == "test"]
    if segments:
        by_model: dict[str, list[str]] = {}
        for r in segments:
            by_model.setdefault(r["model"], []).append(f"{r['segment'].split('=', 1)[1]} {_value(r['value'])}")
        what = "actual/predicted by category" if spec.serving else "recall per class"
        lines += ["", f"Test, {what}:"] + [f"- {model}: {', '.join(values)}" for model, values in by_model.items()]
    primary = spec.headline[0]
    points = [p for p in result.curve if p.get(f"dev_{primary}") is not None]
    if points:
        gain = last_doubling_gain(result.curve, primary)
        lines += [
            "",
            f"Learning curve (dev {primary}, train subsets by person): "
            + ", ".join(f"{p['fraction']:.0%} ({p['train_examples']:,}) {p[f'dev_{primary}']:.4f}" for p in points)
            + ("" if gain is None else f"; the last doubling of the data gained {gain:+.4f}"),
        ]
    if comparison is not None:
        lines += [
            "",
            f"Against the previous version {comparison.previous_version}, on the {comparison.persons:,} test persons "
            f"in both ({comparison.examples:,} examples), {config.confidence:.0%} bootstrap interval over persons "
            f"({comparison.resamples} resamples, seed {comparison.seed}):",
            "",
        ]
        lines += [
            f"- {c['metric']}: {c['previous_value']:.4f} -> {c['new_value']:.4f} ({c['delta']:+.4f}, "
            f"[{c['ci_low']:+.4f}, {c['ci_high']:+.4f}]): {c['verdict']}"
            for c in comparison.metrics
        ]
        lines += ["", f"**Did the new version help?** {_helped(comparison, primary)}"]
    if result.notes:
        lines += [""] + [f"- note: {n}" for n in result.notes]
    return "\n".join(lines).rstrip() + "\n"


def _train_size(result: VersionResult) -> str:
    full = next((p for p in result.curve if p["fraction"] == 1.0), None)
    return "-" if full is None else f"{full['train_examples']:,} examples, {full['train_persons']:,} persons"


def _helped(comparison: Comparison, primary: str) -> str:
    verdict = comparison.verdict()
    return {
        "helped": f"yes: {primary} improved beyond the interval's doubt",
        "hurt": f"no: {primary} got worse beyond the interval's doubt",
        "no measurable change": f"not measurably: the {primary} interval includes no change",
    }.get(verdict, f"cannot say ({verdict})")


def _add_to_card(path: Path, result: VersionResult, comparison: Comparison | None, markdown: str) -> None:
    """The baseline in the version's card.json (``baseline``) and card.md (its section)."""
    card_file = path / "card.json"
    if not card_file.exists():
        return
    card = json.loads(card_file.read_text(encoding="utf-8"))
    spec = BASELINES[result.dataset]
    card["baseline"] = _figures_json(spec, result, comparison)
    card.setdefault("sections", {})[CARD_SECTION] = markdown
    write_card(Export(result.dataset, result.version, path, card.get("counts", {}), written=False), card)


def _retrain_selection(dataset: str) -> list[dg.AssetKey]:
    return [
        dg.AssetKey(["splits", dataset]),
        *([BALANCED] if dataset == "ctr_examples" else []),
        dg.AssetKey(["exports", dataset]),
        MODEL_RUNS,
    ]


publish_datasets = dg.define_asset_job(
    name="publish_datasets",
    selection=dg.AssetSelection.groups("splits") | dg.AssetSelection.assets(MODEL_RUNS),
    description="Split both labeled datasets (with leakage, balance and fairness checks), build the train-only "
    "balanced click data, export versioned Parquet with dataset cards, and train each new version's baseline.",
)
RETRAIN_JOBS = {
    name: dg.define_asset_job(
        name=f"retrain_{name}",
        selection=dg.AssetSelection.assets(*_retrain_selection(name)),
        description=f"Publish a new version of {name} with the data that arrived and train its baseline against "
        "the version it replaces (the baseline_sensor runs it on a retraining trigger).",
    )
    for name in TRIGGERS
}


@dg.sensor(
    jobs=list(RETRAIN_JOBS.values()),
    minimum_interval_seconds=60,
    default_status=sensors_default_status(),
    description="On each new event of training/<dataset>_trigger (the retraining signal recommends a refresh), "
    "runs retrain_<dataset>: a new version is published and its baseline trained and compared with the previous.",
)
def baseline_sensor(context: dg.SensorEvaluationContext):
    """One retrain run per trigger event (the cursor holds the last trigger event seen per dataset)."""
    cursor = json.loads(context.cursor) if context.cursor else {}
    requests = []
    for name, key in TRIGGERS.items():
        records = context.instance.fetch_materializations(key, limit=1).records
        if not records or records[0].storage_id <= cursor.get(name, -1):
            continue
        record = records[0]
        cursor[name] = record.storage_id
        version = record.asset_materialization.metadata.get("version") if record.asset_materialization else None
        requests.append(
            dg.RunRequest(
                run_key=f"retrain-{name}-{record.storage_id}",
                job_name=RETRAIN_JOBS[name].name,
                tags={"data_platform/replaces_version": str(version.value if version is not None else "")},
            )
        )
    if not requests:
        return dg.SkipReason("no new training trigger")
    return dg.SensorResult(run_requests=requests, cursor=json.dumps(cursor))
