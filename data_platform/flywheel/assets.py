"""The retraining signal asset, the training triggers, and the sensor that fires them.

    monitoring/feature_stats, labels/ctr_examples, labels/review_examples, exports/<dataset>
        -> monitoring/retraining_signal (daily: one decision per dataset, with its reasons)
        -> retraining_sensor -> training/<dataset>_trigger (an asset event per refresh recommendation)

A training pipeline subscribes to ``training/<dataset>_trigger`` (an asset sensor, or an asset with
``deps=[trigger]`` and an eager automation condition); the trigger's metadata names the published
version it would replace, the day and the reasons.
"""

import datetime as dt
import json
from pathlib import Path

import dagster as dg
import pyarrow as pa

from data_platform.base.keys import CTR_EXAMPLES, FEATURE_STATS, REVIEW_EXAMPLES
from data_platform.flywheel.signal import REASONS, Decision, SignalThresholds, decide
from data_platform.metadata import PartitionReport, markdown_table
from data_platform.partitions import WAREHOUSE_STEP, daily_partitions, partition_days
from data_platform.resources import Warehouse, existing_tables, sensors_default_status, transaction, write_rows
from data_platform.validation.drift import load_thresholds
from data_platform.validation.features import BY_TABLE
from data_platform.validation.monitor import compare, merge_stats
from data_platform.validation.stats import load_stats

RETRAINING_SIGNAL = dg.AssetKey(["monitoring", "retraining_signal"])
DATASETS = ("ctr_examples", "review_examples")
TRIGGERS = {name: dg.AssetKey(["training", f"{name}_trigger"]) for name in DATASETS}
EXPORTS = [dg.AssetKey(["exports", name]) for name in DATASETS]
CTR_TABLE = "labels.ctr_examples"


class RetrainingSignalConfig(dg.Config):
    """When the retraining signal recommends a refresh (see data_platform/flywheel/signal.py)."""

    min_new_label_share: float = 0.5
    label_z: float = 4.0
    label_min_relative_change: float = 0.10
    label_linf: float = 0.15
    calibration_tolerance: float = 0.15
    max_entropy_increase: float = 0.05
    min_rows: int = 1000
    min_reviews: int = 200
    thresholds_file: str = ""  # feature drift ERROR limits; empty: validation/drift_thresholds.yaml

    def thresholds(self) -> SignalThresholds:
        """The signal thresholds of this config."""
        return SignalThresholds(**{k: getattr(self, k) for k in SignalThresholds.__dataclass_fields__})


@dg.asset(
    key=RETRAINING_SIGNAL,
    partitions_def=daily_partitions,
    group_name="monitoring",
    kinds={"duckdb", "python"},
    owners=["team:data-platform"],
    code_version="retraining-signal-1",
    deps=[FEATURE_STATS, CTR_EXAMPLES, REVIEW_EXAMPLES, *EXPORTS],
    **WAREHOUSE_STEP,
    metadata={
        "dagster/column_schema": dg.TableSchema(
            columns=[
                dg.TableColumn("day", "DATE", "the partition: the decision as of this day"),
                dg.TableColumn("dataset", "VARCHAR", "ctr_examples or review_examples"),
                dg.TableColumn("version", "VARCHAR", "the latest published version compared against (NULL: none yet)"),
                dg.TableColumn("refresh", "BOOLEAN", "refresh recommended"),
                dg.TableColumn(
                    "reasons",
                    "VARCHAR",
                    "JSON list of {reason, detail}: feature_drift, label_drift, new_labels, calibration",
                ),
                dg.TableColumn("figures", "VARCHAR", "JSON of the measured figures (shares, ratios, z)"),
                dg.TableColumn("note", "VARCHAR", "why nothing was judged, if so"),
                dg.TableColumn("run_id", "VARCHAR", "the run that wrote the row"),
            ]
        )
    },
)
def retraining_signal(context: dg.AssetExecutionContext, config: RetrainingSignalConfig, warehouse: Warehouse):
    """Should each dataset's model be retrained? Per day and dataset (CTR clicks, reviews): drift of the
    features and of the labels since the latest published training version, the share of new mature
    labels, and (clicks) actual-vs-predicted CTR degradation, combined into "refresh recommended" with
    its reasons. Kept in monitoring.retraining_signal; the retraining_sensor turns a recommendation
    into an event on training/<dataset>_trigger that a training pipeline subscribes to."""
    days = partition_days(context)
    drift_limits = load_thresholds(config.thresholds_file or None)
    decisions: list[Decision] = []
    with warehouse.connect() as con:
        day = days["start_day"]
        while day < days["end_day"]:
            decisions += [
                signal_for_ctr(con, day, config.thresholds(), drift_limits),
                signal_for_reviews(con, day, config.thresholds()),
            ]
            day += dt.timedelta(days=1)
        con.execute(CREATE_TABLE)
        with transaction(con):
            con.execute(
                "DELETE FROM monitoring.retraining_signal WHERE day >= ? AND day < ?",
                [days["start_day"], days["end_day"]],
            )
            write_rows(
                con,
                "monitoring.retraining_signal",
                [
                    {
                        "day": dt.date.fromisoformat(d.day),
                        "dataset": d.dataset,
                        "version": d.version,
                        "refresh": d.refresh,
                        "reasons": json.dumps(d.reasons),
                        "figures": json.dumps(d.figures),
                        "note": d.note,
                        "run_id": context.run.run_id,
                    }
                    for d in decisions
                ],
                SIGNAL_SCHEMA,
                replace=False,
            )
    for d in decisions:
        context.log.info(f"{d.day} {d.summary()}")
    report = PartitionReport(context)
    report.describe(
        lambda days: {
            RETRAINING_SIGNAL: _decisions_metadata([d for d in decisions if d.day == days["start_day"].isoformat()])
        }
    )
    yield from report.results(
        [RETRAINING_SIGNAL],
        run_metadata={
            RETRAINING_SIGNAL: {
                "run_days": report.run_days,
                "reason_kinds": dg.MetadataValue.md(
                    markdown_table([{"reason": k, "when": v} for k, v in REASONS.items()])
                ),
            }
        },
    )


def _decisions_metadata(decisions: list[Decision]) -> dict:
    """One day's decisions, one per dataset."""
    table = [
        {
            "day": d.day,
            "dataset": d.dataset,
            "version": d.version or "-",
            "refresh": "REFRESH" if d.refresh else "no",
            "reasons": "; ".join(r["detail"] for r in d.reasons) or d.note or "-",
        }
        for d in decisions
    ]
    return {
        "dagster/row_count": len(decisions),
        "refresh_recommended": sorted({d.dataset for d in decisions if d.refresh}),
        "decisions_table": dg.MetadataValue.md(markdown_table(table)),
        "decisions": dg.MetadataValue.json([d.as_dict() for d in decisions]),
    }


def published_version(con, dataset: str) -> dict | None:
    """The latest published version of ``dataset``: version, path, first and last example day, rows.
    None when nothing is published or its files are gone."""
    if "splits.exports" not in existing_tables(con):
        return None
    found = con.execute(
        "SELECT version, path FROM splits.exports WHERE dataset = ? ORDER BY created_at DESC LIMIT 1", [dataset]
    ).fetchone()
    if not found or not all((Path(found[1]) / f"{s}.parquet").exists() for s in ("train", "dev", "test")):
        return None
    files = [str(Path(found[1]) / f"{s}.parquet") for s in ("train", "dev", "test")]
    first, last, n = con.execute(
        "SELECT min(example_date), max(example_date), count(*) FROM read_parquet(?)", [files]
    ).fetchone()
    return {"version": found[0], "path": found[1], "files": files, "first_day": first, "last_day": last, "rows": n}


def signal_for_ctr(con, day: dt.date, thresholds: SignalThresholds, drift_limits) -> Decision:
    """The CTR dataset's decision as of ``day`` (see :mod:`data_platform.flywheel.signal`)."""
    version = published_version(con, "ctr_examples")
    decision = Decision("ctr_examples", str(day), version and version["version"])
    if version is None:
        decision.note = "no published version yet"
        return decision
    first, last = version["first_day"], version["last_day"]
    if day <= last:
        decision.note = f"day inside the published version (up to {last})"
        return decision
    decision.figures["new_days"] = (day - last).days
    # feature drift: every day since the version against the version's days
    drift_rows = []
    monitored = BY_TABLE[CTR_TABLE]
    first_stats = (
        con.execute(
            "SELECT min(partition_date) FROM monitoring.feature_stats WHERE table_name = ?", [CTR_TABLE]
        ).fetchone()[0]
        if "monitoring.feature_stats" in existing_tables(con)
        else None
    )
    reference_rows = load_stats(con, CTR_TABLE, first, last + dt.timedelta(days=1))
    for spec in monitored.features:
        if spec.name == "label":
            continue  # judged as label drift on mature labels below
        ref_start = first
        if spec.history_days and first_stats is not None:
            ref_start = max(first, first_stats + dt.timedelta(days=spec.history_days))  # past the warm-up
        reference = merge_stats(
            [r for r in reference_rows if r["feature"] == spec.name and r["partition_date"] >= ref_start]
        )
        if reference is None:
            continue
        current_day = last + dt.timedelta(days=1)
        while current_day <= day:
            current = [
                r
                for r in load_stats(con, CTR_TABLE, current_day, current_day + dt.timedelta(days=1))
                if r["feature"] == spec.name
            ]
            if current:
                drift_rows += [
                    {**r, "day": str(current_day)}
                    for r in compare(
                        current[0], reference, CTR_TABLE, "vs_published_version", drift_limits, thresholds.min_rows
                    )
                    if r["metric"] != "-"
                ]
            current_day += dt.timedelta(days=1)
    reference_label = con.execute(
        "SELECT count(*), coalesce(sum(label), 0), avg(label) / nullif(avg(p), 0), "
        "-avg(label * ln(p) + (1 - label) * ln(1 - p)) FROM (SELECT label, "
        "greatest(least(predicted_ctr, 1 - 1e-6), 1e-6) AS p FROM read_parquet(?))",
        [version["files"]],
    ).fetchone()
    new = con.execute(
        "SELECT count(*), coalesce(sum(label), 0), avg(label) / nullif(avg(p), 0), "
        "-avg(label * ln(p) + (1 - label) * ln(1 - p)) FROM (SELECT label, "
        "greatest(least(predicted_ctr, 1 - 1e-6), 1e-6) AS p FROM labels.ctr_examples "
        "WHERE label_status = 'mature' AND event_date <= ? AND impression_id NOT IN "
        "(SELECT example_id FROM read_parquet(?)))",
        [day, version["files"]],
    ).fetchone()
    return decide(
        decision,
        thresholds,
        feature_drift=drift_rows,
        label={"current": (int(new[1]), int(new[0])), "reference": (int(reference_label[1]), int(reference_label[0]))},
        new_labels={"new": int(new[0]), "reference": int(reference_label[0])},
        calibration={
            "rows": int(new[0]),
            "current": (new[2], _ne(new[3], new[1], new[0])),
            "reference": (reference_label[2], _ne(reference_label[3], reference_label[1], reference_label[0])),
        },
    )


def _ne(log_loss, clicks, n) -> float | None:
    """Normalized entropy: log loss over the entropy of the actual CTR (None when undefined)."""
    import math

    if not n or log_loss is None or not 0 < clicks < n:
        return None
    p = clicks / n
    return float(log_loss) / -(p * math.log(p) + (1 - p) * math.log(1 - p))


def signal_for_reviews(con, day: dt.date, thresholds: SignalThresholds) -> Decision:
    """The review dataset's decision as of ``day``: category, rating and label shares of the reviews
    since the version against the version's, and the new human labels (gold, consensus)."""
    version = published_version(con, "review_examples")
    decision = Decision("review_examples", str(day), version and version["version"])
    if version is None or "labels.review_examples" not in existing_tables(con):
        decision.note = "no published version yet"
        return decision
    last = version["last_day"]
    files = version["files"]

    def counts(sql: str, params: list) -> dict[str, int]:
        return {str(k): int(n) for k, n in con.execute(sql, params).fetchall()}

    since = "FROM labels.review_examples WHERE event_date > ? AND event_date <= ?"
    drift_rows = []
    for column in ("category", "rating"):
        current = counts(f"SELECT {column}, count(*) {since} GROUP BY 1", [last, day])
        reference = counts(f"SELECT {column}, count(*) FROM read_parquet(?) GROUP BY 1", [files])
        if sum(current.values()) >= thresholds.min_reviews:
            from data_platform.flywheel.signal import linf_shares

            distance, _ = linf_shares(current, reference)
            limit = 0.15  # the categorical L-infinity ERROR limit of drift_thresholds.yaml's defaults
            drift_rows.append(
                {
                    "feature": column,
                    "metric": "linf",
                    "value": distance,
                    "error": limit,
                    "severity": "ERROR" if distance >= limit else "OK",
                    "day": f"{last}..{day}",
                }
            )
    human = "label_source IN ('gold', 'human_consensus')"
    new_human = con.execute(
        f"SELECT count(*) FROM labels.review_examples r WHERE {human} AND NOT EXISTS (SELECT 1 FROM read_parquet(?) v "
        "WHERE v.example_id = r.review_id AND v.label = r.label AND v.label_source = r.label_source)",
        [files],
    ).fetchone()[0]
    version_human = con.execute(f"SELECT count(*) FROM read_parquet(?) WHERE {human}", [files]).fetchone()[0]
    decision.figures["new_reviews"] = con.execute(f"SELECT count(*) {since}", [last, day]).fetchone()[0]
    if day <= last and not new_human:
        decision.note = f"day inside the published version (up to {last})"
        return decision
    return decide(
        decision,
        thresholds,
        feature_drift=drift_rows,
        label={
            "current": counts(f"SELECT label, count(*) {since} AND label IS NOT NULL GROUP BY 1", [last, day]),
            "reference": counts("SELECT label, count(*) FROM read_parquet(?) GROUP BY 1", [files]),
        },
        new_labels={"new": int(new_human), "reference": int(version_human)},
    )


CREATE_TABLE = """
CREATE SCHEMA IF NOT EXISTS monitoring;
CREATE TABLE IF NOT EXISTS monitoring.retraining_signal (
    day DATE, dataset VARCHAR, version VARCHAR, refresh BOOLEAN, reasons VARCHAR, figures VARCHAR,
    note VARCHAR, run_id VARCHAR)
"""
SIGNAL_SCHEMA = pa.schema(
    [
        ("day", pa.date32()),
        ("dataset", pa.string()),
        ("version", pa.string()),
        ("refresh", pa.bool_()),
        ("reasons", pa.string()),
        ("figures", pa.string()),
        ("note", pa.string()),
        ("run_id", pa.string()),
    ]
)

TRIGGER_SPECS = [
    dg.AssetSpec(
        key,
        group_name="training",
        deps=[RETRAINING_SIGNAL],
        owners=["team:data-platform"],
        kinds={"python"},
        code_version="trigger-1",
        description=f"Training trigger of {name}: the retraining_sensor records an event here when the "
        "retraining signal recommends a refresh of the latest published version (metadata: version, day, "
        "reasons). A training pipeline subscribes to it; nothing here trains.",
    )
    for name, key in TRIGGERS.items()
]


def triggers_to_fire(
    decisions: list[dict], last_trigger_version: dict[str, str | None]
) -> list[dg.AssetMaterialization]:
    """One trigger event per dataset whose latest decision recommends a refresh of a version not
    triggered yet (``last_trigger_version``: dataset -> version of its latest trigger event)."""
    events = []
    for d in decisions:
        if (
            not d.get("refresh")
            or d["dataset"] not in TRIGGERS
            or last_trigger_version.get(d["dataset"]) == d["version"]
        ):
            continue
        events.append(
            dg.AssetMaterialization(
                asset_key=TRIGGERS[d["dataset"]],
                description="refresh recommended",
                metadata={
                    "dataset": d["dataset"],
                    "version": d["version"],
                    "day": d["day"],
                    "reasons": ", ".join(r["reason"] for r in d["reasons"]),
                    "details": dg.MetadataValue.md("\n".join(f"- {r['detail']}" for r in d["reasons"])),
                    "figures": dg.MetadataValue.json(d.get("figures") or {}),
                },
            )
        )
    return events


retraining_check = dg.define_asset_job(
    "retraining_check",
    selection=[RETRAINING_SIGNAL],
    description="Judge one day for the retraining signal (the retraining sensor runs it for days whose statistics "
    "changed after the latest published version).",
)


def days_to_judge(
    stats_latest: dict[str, int], signal_latest: dict[str, int], published_at: int | None
) -> dict[str, int]:
    """Days whose feature statistics were (re)computed after the latest publication and after that
    day's signal: ``{day: stats storage id}``. Nothing before the first publication."""
    if published_at is None:
        return {}
    return {day: sid for day, sid in stats_latest.items() if sid > published_at and signal_latest.get(day, -1) < sid}


@dg.sensor(
    job=retraining_check,
    minimum_interval_seconds=60,
    default_status=sensors_default_status(),
    description="Keeps monitoring/retraining_signal current (a run for each day whose statistics changed after the "
    "latest published version), and when its latest decisions recommend refreshing a dataset's model, records "
    "an event on training/<dataset>_trigger (once per published version) for the training pipeline.",
)
def retraining_sensor(context: dg.SensorEvaluationContext):
    """Request signal runs for new days; turn refresh recommendations into training trigger events."""
    from dagster._core.events import DagsterEventType

    instance = context.instance
    materialized = DagsterEventType.ASSET_MATERIALIZATION
    published = [r.storage_id for k in EXPORTS for r in instance.fetch_materializations(k, limit=1).records]
    stale = days_to_judge(
        dict(instance.get_latest_storage_id_by_partition(FEATURE_STATS, materialized)),
        dict(instance.get_latest_storage_id_by_partition(RETRAINING_SIGNAL, materialized)),
        max(published) if published else None,
    )
    requests = [
        dg.RunRequest(run_key=f"signal-{day}-after-{sid}", partition_key=day) for day, sid in sorted(stale.items())
    ]
    latest = instance.get_latest_materialization_event(RETRAINING_SIGNAL)
    events = []
    if latest is not None and latest.asset_materialization is not None:
        decisions = latest.asset_materialization.metadata.get("decisions")
        fired = {}
        for name, key in TRIGGERS.items():
            event = instance.get_latest_materialization_event(key)
            version = (
                event.asset_materialization.metadata.get("version") if event and event.asset_materialization else None
            )
            fired[name] = version.value if version is not None else None
        events = triggers_to_fire(decisions.value if decisions is not None else [], fired)
    if not events and not requests:
        return dg.SkipReason("no day to judge and no refresh recommended for a version not triggered yet")
    return dg.SensorResult(run_requests=requests, asset_events=events)
