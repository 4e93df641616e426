"""Lake maintenance in Dagster: the job ``lake_maintenance`` and its nightly schedule.

On the lake profile every commit writes its own small Parquet files and keeps a snapshot; the job merges the
files, expires the snapshots older than the retention (never one a published dataset version records) and
deletes the files no snapshot reads (:meth:`~data_platform.resources.Warehouse.maintain`). What it did is the
metadata of the ``lake/maintenance`` asset's materialization. The schedule runs it nightly, switched on by
default on the lake profile only (the DuckDB file has nothing to maintain: the job then records nothing).
"""

import dagster as dg

from data_platform.partitions import warehouse_pool
from data_platform.resources import Warehouse, lake_catalog, retention_cutoff

LAKE_MAINTENANCE = dg.AssetKey(["lake", "maintenance"])


class MaintenanceConfig(dg.Config):
    """How long to keep snapshots for time travel (days; default ``DATA_PLATFORM_LAKE_RETENTION_DAYS``)."""

    retention_days: float | None = None


@dg.op(
    pool=warehouse_pool(),
    description="Merge the lake's small data files, expire snapshots older than the retention (except those "
    "published dataset versions were read from), delete the files no snapshot reads; record what it did.",
)
def maintain_lake(context: dg.OpExecutionContext, config: MaintenanceConfig, warehouse: Warehouse) -> dict:
    """One maintenance pass over the lake; its report is the ``lake/maintenance`` materialization's metadata."""
    cutoff = retention_cutoff(config.retention_days)
    with warehouse.connect() as con:
        report = warehouse.maintain(con, cutoff)
    if not report:
        context.log.info("the warehouse is the DuckDB file: no snapshots or small files to maintain")
        return {}
    context.log_event(
        dg.AssetMaterialization(
            asset_key=LAKE_MAINTENANCE,
            description="Lake maintenance: files merged, snapshots expired, unread files deleted.",
            metadata=report,
        )
    )
    context.add_output_metadata(report)
    return report


@dg.job(
    name="lake_maintenance",
    description="Lake maintenance (lake profile): merge small files, expire old snapshots (keeping every "
    "snapshot a published dataset version records), delete files no snapshot reads. Holds the warehouse's "
    "pool (ducklake on the lake).",
)
def lake_maintenance():
    maintain_lake()


def schedule_status() -> dg.DefaultScheduleStatus:
    """The nightly schedule's default status: running on the lake profile, stopped on the DuckDB file."""
    return dg.DefaultScheduleStatus.RUNNING if lake_catalog() else dg.DefaultScheduleStatus.STOPPED


lake_maintenance_schedule = dg.ScheduleDefinition(
    name="lake_maintenance_nightly",
    job=lake_maintenance,
    cron_schedule="30 2 * * *",
    execution_timezone="UTC",
    default_status=schedule_status(),
    description="Runs lake_maintenance every night at 02:30 UTC; running by default on the lake profile only.",
)
