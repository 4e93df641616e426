"""The contract checks: one blocking asset check per table contract (``pandera_contract`` on the asset's
own table, ``pandera_<table>`` for a side table the asset also writes).

A daily table's check is partitioned like its asset (Dagster's partitioned asset checks), so each
check evaluation belongs to the day it validated; in a single-run backfill it validates the run's
whole range in one pass. A failing check blocks everything downstream of the table in that run. The
metadata holds the number of failing rows, failures per column and check, and a sample of failing
rows (where they came from and why).
"""

import dagster as dg

from data_platform.metadata import StageClock, markdown_table
from data_platform.partitions import daily_partitions
from data_platform.resources import Warehouse
from data_platform.validation.contracts import CONTRACTS, TableContract, contract_markdown, validate_partition

def build_contract_check(contract: TableContract) -> dg.AssetChecksDefinition:
    """The blocking pandera check of one table contract."""
    partitioned = contract.partition_column is not None

    @dg.asset_check(
        asset=contract.asset_key,
        name=contract.check_name,
        blocking=True,
        partitions_def=daily_partitions if partitioned else None,
        pool="duckdb",
        description=f"Pandera contract of {contract.table} ({contract.description}), validated per partition "
        "in bounded chunks; uniqueness in DuckDB.",
    )
    def _check(context: dg.AssetCheckExecutionContext, warehouse: Warehouse) -> dg.AssetCheckResult:
        clock = StageClock()
        days = {}
        if partitioned:
            window = context.partition_time_window
            days = {"start_day": window.start.date(), "end_day": window.end.date()}
        with warehouse.connect() as con:
            report = validate_partition(con, contract, **days)
        clock.lap("validate_s")
        return dg.AssetCheckResult(
            passed=report.passed,
            description=None if report.passed else
            f"{report.failing_rows} failing rows, {report.duplicate_keys} duplicated keys in {contract.table}",
            metadata={
                "rows_checked": report.rows_checked,
                "failing_rows": report.failing_rows,
                "duplicate_keys": report.duplicate_keys,
                "chunks": report.chunks,
                "failures": dg.MetadataValue.json(report.failures),
                "failing_sample": dg.MetadataValue.md(markdown_table([
                    {k: str(v) for k, v in row.items()} for row in report.sample])),
                "contract": dg.MetadataValue.md(contract_markdown(contract)),
                "seconds": dg.MetadataValue.json(clock.laps),
            },
        )

    return _check


CONTRACT_CHECKS = [build_contract_check(c) for c in CONTRACTS.values()]
