"""The invalidation as a Dagster job: the same steps and config as ``data-platform invalidate``."""

import os

import dagster as dg

from data_platform.launch import dg_launch
from data_platform.partitions import partitions_start
from data_platform.provenance.invalidate import run_invalidation
from data_platform.resources import Warehouse


class InvalidateConfig(dg.Config):
    """What to invalidate and why."""

    kind: str  # source_file | app_version | rule
    value: str  # a landing path LIKE pattern, a client version, or rule_id@version
    reason: str
    who: str = "dagster"


@dg.op(
    description="Record the invalidation, re-materialize the affected days, the review labels and the "
    "published datasets through their jobs, audit, and verify that nothing downstream traces to the input."
)
def apply_invalidation(context: dg.OpExecutionContext, config: InvalidateConfig, warehouse: Warehouse) -> dict:
    # this op holds no DuckDB connection while the jobs it launches run (they take the "duckdb" pool)
    os.environ["DATA_PLATFORM_SETTLE_SECONDS"] = "0"
    result = run_invalidation(
        warehouse.connect,
        config.kind,
        config.value,
        config.reason,
        config.who,
        dg_launch,
        partitions_start().date(),
    )
    dg_launch(["--assets", "provenance/invalidations"])
    context.log.info(f"invalidation {result['invalidation_id']}: before {result['before']}, after {result['after']}")
    if result["remaining"]:
        raise dg.Failure(f"rows still trace to the invalidated input: {result['remaining']}")
    return {k: result[k] for k in ("invalidation_id", "days", "exports_before", "exports_after", "superseded")}


@dg.job(
    description="Invalidate a landing file pattern, a client version or a rule version (config: kind, value, "
    "reason, who) and republish everything downstream, with an audit."
)
def invalidate_input():
    apply_invalidation()
