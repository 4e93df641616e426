"""The single entry point Dagster loads (``dg dev``, ``dagster dev -w workspace.yaml``, the CLI).

Each lifecycle stage contributes its assets, checks, jobs and sensors here; the resources say where
the data lives (see ``data_platform.resources``).
"""

from __future__ import annotations

import atexit
import gc

import dagster as dg

from data_platform.base.keys import ANOMALIES, CTR_EXAMPLES, FEATURE_STATS
from data_platform.catalog import CONTRACTS, FILE_ERASERS, PERSON_TABLES
from data_platform.cleaning.assets import CLEANING_ASSETS
from data_platform.flywheel.assets import TRIGGER_SPECS, retraining_check, retraining_sensor, retraining_signal
from data_platform.ingestion.assets import raw_ingestion
from data_platform.ingestion.sensors import build_landing_sensor
from data_platform.labeling.ctr_assets import ctr_examples, late_click_sensor, relabel_ctr
from data_platform.labeling.jobs import (
    annotation_round,
    annotation_sensor,
    label_studio_resources,
    label_studio_sync,
    relabel_reviews,
    review_labeling,
)
from data_platform.labeling.plan_assets import labeling_plan
from data_platform.labeling.review_assets import REVIEW_LABELING_ASSETS
from data_platform.maintenance import lake_maintenance, lake_maintenance_schedule
from data_platform.metadata import ddl_tables, described
from data_platform.privacy.jobs import build_privacy_requests
from data_platform.provenance.assets import invalidations
from data_platform.provenance.jobs import invalidate_input
from data_platform.provenance.openlineage import build_openlineage_sensor
from data_platform.resources import LabelingDesk, LandingZone, Warehouse, check_settings
from data_platform.splits.assets import SPLITS_GROUP_ASSETS
from data_platform.splits.twin_assets import TWIN_ASSETS
from data_platform.training.assets import RETRAIN_JOBS, baseline_sensor, model_runs, publish_datasets
from data_platform.validation.assets import anomalies, feature_stats, source_inventory
from data_platform.validation.checks import build_contract_checks
from data_platform.validation.sources import freshness_policies

check_settings()  # every DATA_PLATFORM_* setting, with a clear message, before anything runs

# A process that loaded the definitions (a `dg launch` run, a code server) holds a few hundred thousand objects
# of Dagster's and ours until it exits. Python's shutdown walks them all for garbage cycles, which took about
# 0.8 s after a run's last event on a quiet machine, 1.4 to 2.3 s under load (docs/benchmarks.md, issue #19;
# 0.09 to 0.23 s after, under load). Freezing them as the process exits
# (after every other exit handler) skips that walk; memory goes back to the system with the process anyway,
# and nothing of ours relies on a finaliser run at exit (connections are closed by their `with` blocks).
atexit.register(gc.freeze)

# the cross-cutting parts get every stage's declarations (catalog.py) passed in
CONTRACT_CHECKS = build_contract_checks(CONTRACTS.values())
process_privacy_requests, privacy_request_sensor = build_privacy_requests(PERSON_TABLES, FILE_ERASERS)

ingest_raw_events = dg.define_asset_job(
    name="ingest_raw_events",
    selection=dg.AssetSelection.groups("ingestion"),
    description="Land new files and (re)build raw.events and raw.quarantine for one day.",
)

daily_pipeline = dg.define_asset_job(
    name="daily_pipeline",
    selection=dg.AssetSelection.groups("ingestion", "cleaning")
    | dg.AssetSelection.assets(CTR_EXAMPLES, FEATURE_STATS, ANOMALIES),
    description="Every daily stage for one day: land and ingest, clean, direct labels, statistics and "
    "anomalies. The landing sensor runs it.",
)

_FRESHNESS = freshness_policies()
_DDL_TABLES = ddl_tables()
# assets whose table is not named like the asset key (schema/table)
_TABLE_OF = {dg.AssetKey(["labels", "annotation_tasks"]): "labels.tasks"}


def _table_of(key: dg.AssetKey) -> str:
    """The warehouse table of an asset: ``schema.table`` from its key, unless it is named otherwise."""
    return _TABLE_OF.get(key, ".".join(key.path))


def _with_freshness(spec: dg.AssetSpec) -> dg.AssetSpec:
    """The freshness policy of the source that feeds the asset (sources.yaml), and the described
    columns of its table (see :func:`_with_columns`)."""
    policy = _FRESHNESS.get(spec.key)
    return _with_columns(spec.replace_attributes(freshness_policy=policy) if policy else spec)


def _with_columns(spec: dg.AssetSpec) -> dg.AssetSpec:
    """The asset's dagster/column_schema with a description on every column (column_descriptions.yaml):
    the one it declares, else its table contract's, else its table's as the stage's DDL creates it. Tables built with
    CREATE
    TABLE AS get theirs, described the same way, on each materialization."""
    table = _table_of(spec.key)
    schema = spec.metadata.get("dagster/column_schema") or (
        CONTRACTS[table].table_schema() if table in CONTRACTS else _DDL_TABLES.get(table)
    )
    if schema is None:
        return spec
    return spec.replace_attributes(metadata={**spec.metadata, "dagster/column_schema": described(schema, table)})


defs = dg.Definitions(
    assets=dg.map_asset_specs(
        _with_freshness,
        [
            raw_ingestion,
            *CLEANING_ASSETS,
            ctr_examples,
            *REVIEW_LABELING_ASSETS,
            feature_stats,
            anomalies,
            source_inventory,
            *SPLITS_GROUP_ASSETS,
            *TWIN_ASSETS,
            invalidations,
            labeling_plan,
            retraining_signal,
            *TRIGGER_SPECS,
            model_runs,
        ],
    ),
    asset_checks=CONTRACT_CHECKS,
    jobs=[
        ingest_raw_events,
        daily_pipeline,
        relabel_ctr,
        review_labeling,
        relabel_reviews,
        annotation_round,
        publish_datasets,
        *RETRAIN_JOBS.values(),
        retraining_check,
        invalidate_input,
        process_privacy_requests,
        lake_maintenance,
        # the Label Studio server round trip, when LABEL_STUDIO_URL and LABEL_STUDIO_API_KEY are set
        *([label_studio_sync] if label_studio_resources() else []),
    ],
    sensors=[
        build_landing_sensor(daily_pipeline),
        privacy_request_sensor,
        late_click_sensor,
        annotation_sensor,
        retraining_sensor,
        baseline_sensor,
        # OpenLineage run events of every finished run (provenance/openlineage.py)
        build_openlineage_sensor(_table_of),
    ],
    schedules=[lake_maintenance_schedule],
    resources={
        "warehouse": Warehouse.from_env(),
        "landing": LandingZone.from_env(),
        "labeling": LabelingDesk.from_env(),
        **label_studio_resources(),
    },
    # Steps run one after another in the run's process: DuckDB takes one writer at a time anyway (the
    # "duckdb" pool), and a process per step cost 3 to 4 s each, most of a one-day run's time.
    executor=dg.in_process_executor,
)
