"""What training declares for the rest of the platform: the contracts of its tables and its line of the
status summary (one per dataset: the latest version's baseline)."""

from __future__ import annotations

import duckdb

from data_platform.base.stage import Stage
from data_platform.base.tables import TableContract, at_least, between, isin
from data_platform.training.baseline import BASELINES

_RUN_COLUMNS = (
    ("dataset", "VARCHAR", ""),
    ("version", "VARCHAR", ""),
    ("model", "VARCHAR", ""),
    ("model_spec", "VARCHAR", ""),
    ("code_version", "VARCHAR", ""),
    ("train_fraction", "DOUBLE", ""),
    ("train_examples", "BIGINT", ""),
    ("train_persons", "BIGINT", ""),
    ("split", "VARCHAR", ""),
    ("metric", "VARCHAR", ""),
    ("segment", "VARCHAR", ""),
    ("value", "DOUBLE", ""),
    ("examples", "BIGINT", ""),
    ("seed", "BIGINT", ""),
    ("trained_at", "TIMESTAMP WITH TIME ZONE", ""),
    ("run_id", "VARCHAR", ""),
)
METRICS = ("auc", "log_loss", "normalized_entropy", "calibration", "macro_f1", "accuracy", "recall")
MODEL_RUNS_CONTRACT = TableContract(
    "training.model_runs",
    _RUN_COLUMNS,
    None,
    frozenset({"dataset", "version", "model", "code_version", "split", "metric", "segment", "examples", "seed"}),
    unique=("dataset", "version", "model", "train_fraction", "split", "metric", "segment"),
    column_checks={
        "model": [isin(("baseline", "serving"))],
        "split": [isin(("dev", "test"))],
        "metric": [isin(METRICS)],
        "train_fraction": [between(0, 1)],
        "examples": [at_least(0)],
    },
    description="the baseline model's figures per published version, split and metric (and the serving model's)",
)
_COMPARISON_COLUMNS = (
    ("dataset", "VARCHAR", ""),
    ("version", "VARCHAR", ""),
    ("previous_version", "VARCHAR", ""),
    ("code_version", "VARCHAR", ""),
    ("metric", "VARCHAR", ""),
    ("persons", "BIGINT", ""),
    ("examples", "BIGINT", ""),
    ("previous_value", "DOUBLE", ""),
    ("new_value", "DOUBLE", ""),
    ("delta", "DOUBLE", ""),
    ("ci_low", "DOUBLE", ""),
    ("ci_high", "DOUBLE", ""),
    ("resamples", "BIGINT", ""),
    ("seed", "BIGINT", ""),
    ("verdict", "VARCHAR", ""),
    ("run_id", "VARCHAR", ""),
)
VERSION_COMPARISONS_CONTRACT = TableContract(
    "training.version_comparisons",
    _COMPARISON_COLUMNS,
    None,
    frozenset({"dataset", "version", "previous_version", "metric", "persons", "examples", "verdict"}),
    unique=("dataset", "version", "metric"),
    column_checks={
        "verdict": [isin(("helped", "hurt", "no measurable change", "not measurable"))],
        "persons": [at_least(1)],
    },
    description="each version's baseline against the previous version's on the test persons both hold",
    written_by="training.model_runs",
)


def summary(con: duckdb.DuckDBPyConnection, tables: set[tuple[str, str]]) -> list[str]:
    """One line per dataset: the latest published version's baseline on test, the serving model's figure
    next to it, and the verdict against the previous version."""
    if ("training", "model_runs") not in tables or ("splits", "exports") not in tables:
        return []
    lines = []
    latest = con.execute(
        "SELECT dataset, version FROM splits.exports "
        "QUALIFY row_number() OVER (PARTITION BY dataset ORDER BY created_at DESC) = 1 ORDER BY 1"
    ).fetchall()
    for dataset, version in latest:
        figures = dict(
            (f"{model} {metric}", value)
            for model, metric, value in con.execute(
                "SELECT model, metric, value FROM training.model_runs WHERE dataset = ? AND version = ? "
                "AND split = 'test' AND segment = 'all' AND coalesce(train_fraction, 1) = 1",
                [dataset, version],
            ).fetchall()
        )
        if not figures:
            lines.append(f"training/{dataset}: version {version} has no baseline yet")
            continue
        if dataset in BASELINES and figures.get(f"baseline {BASELINES[dataset].headline[0]}") is None:
            lines.append(f"training/{dataset}: version {version}: no baseline model (too few labeled examples)")
            continue
        shown = [
            f"{metric} {figures[f'baseline {metric}']:.3f}"
            + (f" (serving {figures[f'serving {metric}']:.3f})" if figures.get(f"serving {metric}") is not None else "")
            for metric in ("auc", "normalized_entropy", "calibration", "macro_f1", "accuracy")
            if figures.get(f"baseline {metric}") is not None
        ]
        compared = (
            con.execute(
                "SELECT previous_version, metric, delta, ci_low, ci_high, verdict FROM training.version_comparisons "
                "WHERE dataset = ? AND version = ? ORDER BY metric = 'auc' DESC, metric = 'macro_f1' DESC LIMIT 1",
                [dataset, version],
            ).fetchone()
            if ("training", "version_comparisons") in tables
            else None
        )
        versus = (
            f"; vs {compared[0]}: {compared[1]} {compared[2]:+.4f} [{compared[3]:+.4f}, {compared[4]:+.4f}] "
            f"{compared[5]}"
            if compared
            else ""
        )
        lines.append(f"training/{dataset}: baseline on {version} test: {', '.join(shown)}{versus}")
    return lines


STAGE = Stage(name="training", contracts=(MODEL_RUNS_CONTRACT, VERSION_COMPARISONS_CONTRACT), summary=summary)
