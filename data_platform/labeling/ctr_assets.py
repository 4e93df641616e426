"""Direct-label assets: labels/ctr_examples (daily, by impression day) and its late-click sensor."""

import dagster as dg
from dagster._core.events import DagsterEventType
from pydantic import Field

from data_platform.base.keys import CLEAN_EVENTS, CTR_EXAMPLES
from data_platform.labeling.direct import (
    DEFAULT_SLICE_ROWS,
    DEFAULT_WINDOW_S,
    HISTORY_DAYS,
    CtrStats,
    ctr_calibration,
    label_ctr_days,
    miscalibrated_models,
)
from data_platform.labeling.stage import CTR_EXAMPLES_CONTRACT, STAGE
from data_platform.metadata import PartitionReport, StageClock, counts_text, markdown_table
from data_platform.partitions import WAREHOUSE_STEP, daily_check, daily_partitions, partition_days
from data_platform.resources import Warehouse, sensors_default_status

ACCOUNTED_CHECK = daily_check(
    "ctr_examples_accounted",
    CTR_EXAMPLES,
    blocking=True,
    description="One example per clean impression of the day, no invalid row (label 0/1 with its click, "
    "delay inside the window, history counts present), and every click the day owns either labelled "
    "an impression or is kept aside in labels.unattributed_clicks with a reason.",
)
CALIBRATION_CHECK = daily_check(
    "ctr_calibration",
    CTR_EXAMPLES,
    blocking=False,
    description="WARN when a serving model's actual/predicted CTR ratio leaves [1 - tolerance, 1 + tolerance] "
    "or its normalized entropy exceeds the limit, on its mature examples.",
)


class CtrLabelConfig(dg.Config):
    """Attribution and calibration settings of the direct labels."""

    attribution_window_minutes: int = DEFAULT_WINDOW_S // 60
    calibration_tolerance: float = 0.15
    max_normalized_entropy: float = 1.0
    min_impressions: int = 1000
    slice_rows: int = Field(
        DEFAULT_SLICE_ROWS,
        description="Impressions labelled per slice: each statement sorts or joins about this many rows, so the "
        "stage's memory does not grow with the day. Lower it under a smaller DuckDB memory limit; it changes no row.",
    )


@dg.asset(
    key=CTR_EXAMPLES,
    group_name="labeling",
    kinds={"duckdb", "python"},
    owners=["team:data-platform"],
    code_version="ctr-labels-1",
    partitions_def=daily_partitions,
    ins={
        "clean_events": dg.AssetIn(
            CLEAN_EVENTS,
            dagster_type=dg.Nothing,
            # Day D's labels read clean days D-7 to D-1 (person and item history, impressions of the clicks
            # just after midnight), day D and day D+1 (clicks after midnight): declared, so a backfill in
            # any order labels a day only after cleaning those days, and a later cleaning marks it stale.
            partition_mapping=dg.TimeWindowPartitionMapping(
                start_offset=-HISTORY_DAYS, end_offset=1, allow_nonexistent_upstream_partitions=True
            ),
        )
    },
    metadata={"dagster/column_schema": CTR_EXAMPLES_CONTRACT.table_schema()},
    check_specs=[ACCOUNTED_CHECK, CALIBRATION_CHECK],
    **WAREHOUSE_STEP,
)
def ctr_examples(context: dg.AssetExecutionContext, config: CtrLabelConfig, warehouse: Warehouse):
    """Click-through examples: one row per impression with features known at impression time
    (7-day person and item history strictly before it, position, category, price, device, hour) and
    label 1 when a click arrived within the attribution window (default 30 min). mature/provisional
    says whether the window had closed given the data seen; late clicks re-run the day through the
    late_click_sensor. Repeat, late, early and orphan clicks are kept in labels.unattributed_clicks."""
    days = partition_days(context)
    clock = StageClock()
    report = PartitionReport(context)
    with warehouse.connect() as con:
        by_day = label_ctr_days(
            con,
            days["start_day"],
            days["end_day"],
            context.run.run_id,
            window_s=config.attribution_window_minutes * 60,
            slice_rows=config.slice_rows,
        )
        clock.lap("label_s")
        judged = {}  # per day: (stats, calibration), for the day's metadata and checks
        for _, day in report.windows:
            judged[day["start_day"]] = (
                by_day[day["start_day"]],
                ctr_calibration(con, day["start_day"], day["end_day"]),
            )
        clock.lap("calibration_s")
    report.describe(lambda day: {CTR_EXAMPLES: _day_metadata(*judged[day["start_day"]])})
    report.check(lambda day: _day_checks(config, *judged[day["start_day"]]))
    yield from report.results(
        [CTR_EXAMPLES],
        run_metadata={
            CTR_EXAMPLES: {
                "run_days": report.run_days,
                "run_stage_seconds": dg.MetadataValue.json(clock.laps),
                "attribution_window_minutes": config.attribution_window_minutes,
                **STAGE.lineage_metadata("labels.ctr_examples"),
            }
        },
    )


def _day_metadata(stats: CtrStats, calibration: list[dict]) -> dict:
    """What one impression day's labels hold: examples, clicks, calibration by model, category, position."""
    return {
        "dagster/row_count": stats.examples,
        "positives": stats.positives,
        "ctr": round(stats.positives / stats.examples, 5) if stats.examples else 0.0,
        "provisional_labels": stats.provisional,
        "clicks_owned": stats.clicks_owned,
        "clicks_unattributed": dg.MetadataValue.json(stats.unattributed_by_reason),
        **{
            f"calibration_by_{breakdown}": dg.MetadataValue.md(
                markdown_table([r for r in calibration if r["breakdown"] == breakdown])
            )
            for breakdown in ("model", "category", "position")
        },
    }


def _day_checks(config: CtrLabelConfig, stats: CtrStats, calibration: list[dict]) -> list[dg.AssetCheckResult]:
    """Accounting (blocking) and calibration (WARN) of one impression day."""
    drifted = miscalibrated_models(
        calibration, config.calibration_tolerance, config.max_normalized_entropy, config.min_impressions
    )
    problems = {
        "impressions without one example": abs(stats.clean_impressions - stats.distinct_impressions),
        "duplicate examples": stats.examples - stats.distinct_impressions,
        "invalid rows": stats.invalid_rows,
        "clicks unaccounted for": abs(stats.clicks_owned - stats.positives - stats.clicks_unattributed),
    }
    return [
        dg.AssetCheckResult(
            check_name=ACCOUNTED_CHECK.name,
            passed=(
                stats.examples == stats.distinct_impressions == stats.clean_impressions
                and stats.invalid_rows == 0
                and stats.clicks_balanced
            ),
            description=counts_text(problems, "") or None,
            metadata={
                "examples": stats.examples,
                "clean_impressions": stats.clean_impressions,
                "duplicate_examples": stats.examples - stats.distinct_impressions,
                "invalid_rows": stats.invalid_rows,
                "clicks_owned": stats.clicks_owned,
                "clicks_labelling": stats.positives,
                "clicks_unattributed": stats.clicks_unattributed,
            },
        ),
        dg.AssetCheckResult(
            check_name=CALIBRATION_CHECK.name,
            passed=not drifted,
            severity=dg.AssetCheckSeverity.WARN,
            description="miscalibrated: " + ", ".join(str(r["model_version"]) for r in drifted) if drifted else None,
            metadata={
                "miscalibrated_models": dg.MetadataValue.md(markdown_table(drifted)),
                "tolerance": config.calibration_tolerance,
                "max_normalized_entropy": config.max_normalized_entropy,
                "min_impressions": config.min_impressions,
            },
        ),
    ]


relabel_ctr = dg.define_asset_job(
    "relabel_ctr",
    selection=[CTR_EXAMPLES],
    partitions_def=daily_partitions,
    description="Rebuild the direct labels of one impression day (the late-click sensor runs it).",
)


def stale_label_days(
    clean_latest: dict[str, int], labels_latest: dict[str, int], partition_keys: list[str]
) -> dict[str, int]:
    """Impression days whose labels are older than the next day's clean events: ``{day: clean storage id}``.

    ``clean_latest`` / ``labels_latest``: the latest materialization storage id per partition. A day
    never labelled is left to the daily pipeline; the next day's clean events are where late clicks
    (after midnight, or in a late file for that day) show up.
    """
    stale = {}
    for day, next_day in zip(partition_keys, partition_keys[1:]):
        labelled, cleaned_next = labels_latest.get(day), clean_latest.get(next_day)
        if labelled is not None and cleaned_next is not None and cleaned_next > labelled:
            stale[day] = cleaned_next
    return stale


@dg.sensor(
    job=relabel_ctr,
    minimum_interval_seconds=30,
    default_status=sensors_default_status(),
    description="Re-runs labels/ctr_examples for day D when clean events of day D+1 were materialized "
    "after D's labels: late clicks flip their impression's label without a manual rebuild.",
)
def late_click_sensor(context: dg.SensorEvaluationContext):
    """Request a relabel of every impression day whose lookahead day changed since it was labelled."""
    instance = context.instance
    event = DagsterEventType.ASSET_MATERIALIZATION
    clean_latest = dict(instance.get_latest_storage_id_by_partition(CLEAN_EVENTS, event))
    labels_latest = dict(instance.get_latest_storage_id_by_partition(CTR_EXAMPLES, event))
    keys = daily_partitions.get_partition_keys(dynamic_partitions_store=instance)
    stale = stale_label_days(clean_latest, labels_latest, keys)
    if not stale:
        return dg.SkipReason("every labelled day is newer than its next day's clean events")
    # The run key names the clean materialization it answers, so a queued relabel is not requested twice.
    return [
        dg.RunRequest(run_key=f"relabel-{day}-after-{sid}", partition_key=day) for day, sid in sorted(stale.items())
    ]
