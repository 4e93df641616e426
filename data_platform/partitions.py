"""The daily partitions every stage shares: UTC days, from DATA_PLATFORM_START_DATE to today (or to
DATA_PLATFORM_END_DATE)."""

from __future__ import annotations

import datetime as dt
import warnings

import dagster as dg

from data_platform.resources import backfill_runs, end_date, lake_catalog, start_date


def _daily_partitions() -> dg.DailyPartitionsDefinition:
    """Days from DATA_PLATFORM_START_DATE to today (end_offset=1: today's partition exists too, so events
    of the current day can be ingested), or to DATA_PLATFORM_END_DATE when set: a simulated world (the
    demo) ends on its last day, and the UI then counts the days it has data for, not weeks that never came."""
    last = end_date()
    if last is None:
        return dg.DailyPartitionsDefinition(start_date=start_date(), timezone="UTC", end_offset=1)
    end = dt.date.fromisoformat(last) + dt.timedelta(days=1)  # Dagster's end_date is exclusive
    return dg.DailyPartitionsDefinition(start_date=start_date(), end_date=end.isoformat(), timezone="UTC")


daily_partitions = _daily_partitions()


def last_partition_day() -> dt.date:
    """The last daily partition as configured now (``DATA_PLATFORM_END_DATE``, else today, UTC): a range
    computed from the data (e.g. widened by a day) is clamped to it before it is launched."""
    last = end_date()
    return dt.date.fromisoformat(last) if last else dt.datetime.now(dt.UTC).date()


def partitions_start() -> dt.datetime:
    """The first instant a partition covers; earlier events are quarantined (ts_out_of_range)."""
    return dt.datetime.fromisoformat(start_date()).replace(tzinfo=dt.UTC)


# Dagster features used on purpose whose API is marked beta or preview in 1.13: said once here (docs/layout.md
# pins the version), not printed by every process that loads the definitions.
for _message, _category in (
    ("Parameter `backfill_policy`", dg.BetaWarning),
    ("Parameter `allow_nonexistent_upstream_partitions`", dg.BetaWarning),
    ("Specifying a partitions_def on an AssetCheckSpec", dg.PreviewWarning),
):
    warnings.filterwarnings("ignore", message=_message, category=_category)

FILE_POOL = "duckdb"
"""The pool of the warehouse steps on the DuckDB file: one slot (``default_limit: 1``), DuckDB's one writer."""
LAKE_POOL = "ducklake"
"""The pool of the warehouse steps on the lake: ``DATA_PLATFORM_LAKE_WRITERS`` slots (``init_instance`` sets it)."""


def warehouse_pool() -> str:
    """The concurrency pool of the steps that write the warehouse, by profile. Two names, so that raising the
    lake's limit can never let two writers at a DuckDB file, and an instance that switches profile gets the
    limit of the profile it is on."""
    return LAKE_POOL if lake_catalog() else FILE_POOL


def warehouse_backfill_policy() -> dg.BackfillPolicy:
    """``DATA_PLATFORM_BACKFILL``: ``range`` (one run over the range, one pass per step) or ``per_day`` (one
    run per day; the daemon launches a day once the days it reads are materialized, through the partition
    mappings the assets declare)."""
    if backfill_runs() == "per_day":
        return dg.BackfillPolicy.multi_run(max_partitions_per_run=1)
    return dg.BackfillPolicy.single_run()


# Every step that writes the warehouse: its backfill policy and the instance-wide pool of the profile, so
# steps never contend for DuckDB's write lock on the file and write in parallel, within a limit, on the lake.
WAREHOUSE_STEP = {"backfill_policy": warehouse_backfill_policy(), "pool": warehouse_pool()}


def partition_days(context: dg.AssetExecutionContext) -> dict[str, dt.date]:
    """``{"start_day", "end_day"}`` (end exclusive) of the run's partition or partition range."""
    window = context.partition_time_window
    return {"start_day": window.start.date(), "end_day": window.end.date()}


def partition_windows(context) -> list[tuple[str, dict[str, dt.date]]]:
    """``(partition key, {"start_day", "end_day"})`` of every day of the run's partition or range, so a
    range run can describe and judge each day on its own (see :class:`data_platform.metadata.PartitionReport`)."""
    out = []
    for key in context.partition_keys:
        window = daily_partitions.time_window_for_partition_key(key)
        out.append((key, {"start_day": window.start.date(), "end_day": window.end.date()}))
    return out


def daily_check(name: str, asset: dg.AssetKey, **kwargs) -> dg.AssetCheckSpec:
    """An asset check on a daily asset, partitioned like it: each evaluation belongs to one day, so a
    green result on one day never hides a red one on another (the UI shows the check per partition)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", dg.PreviewWarning)  # partitioned checks are a preview in dagster 1.13
        return dg.AssetCheckSpec(name, asset=asset, partitions_def=daily_partitions, **kwargs)
