"""The contract checks: one blocking asset check per table contract (``pandera_contract`` on the asset's
own table, ``pandera_<table>`` for a side table the asset also writes). The contracts are declared by
the stages that own the tables and passed in (:func:`build_contract_checks`).

A daily table's check is partitioned like its asset (Dagster's partitioned asset checks), so each
check evaluation belongs to the day it validated, also in a single-run backfill (one evaluation per
day of the range). A failing check blocks everything downstream of the table in that run. The
metadata holds the number of failing rows, failures per column and check, and a sample of failing
rows (where they came from and why).
"""

from collections.abc import Iterable

import dagster as dg

from data_platform.base.tables import TableContract, contract_markdown, validate_partition
from data_platform.metadata import StageClock, check_evaluations, counts_text, markdown_table
from data_platform.partitions import daily_partitions, partition_windows, warehouse_pool
from data_platform.resources import Warehouse


def build_contract_check(contract: TableContract) -> dg.AssetChecksDefinition:
    """The blocking pandera check of one table contract."""
    partitioned = contract.partition_column is not None

    @dg.asset_check(
        asset=contract.asset_key,
        name=contract.check_name,
        blocking=True,
        partitions_def=daily_partitions if partitioned else None,
        pool=warehouse_pool(),
        description=f"Pandera contract of {contract.table} ({contract.description}), validated per partition "
        "in DuckDB over the table as written (one aggregate pass, uniqueness by GROUP BY).",
    )
    def _check(context: dg.AssetCheckExecutionContext, warehouse: Warehouse):
        windows = partition_windows(context) if partitioned else [(None, {})]
        results = []
        with warehouse.connect() as con:
            for partition, days in windows:  # one evaluation per day, also in a range run
                clock = StageClock()
                report = validate_partition(con, contract, **days)
                clock.lap("validate_s")
                results.append((partition, _result(contract, report, clock)))
        yield from check_evaluations(context, results)

    return _check


def _result(contract: TableContract, report, clock: StageClock) -> dg.AssetCheckResult:
    """The check result of one validated partition: failing rows by column and check, a sample, why."""
    return dg.AssetCheckResult(
        passed=report.passed,
        description=None
        if report.passed
        else f"{report.failing_rows:,} failing rows in {contract.table}: " + counts_text(report.failures),
        metadata={
            "rows_checked": report.rows_checked,
            "failing_rows": report.failing_rows,
            "duplicate_keys": report.duplicate_keys,
            "failures": dg.MetadataValue.json(report.failures),
            "failing_sample": dg.MetadataValue.md(
                markdown_table([{k: str(v) for k, v in row.items()} for row in report.sample])
            ),
            "contract": dg.MetadataValue.md(contract_markdown(contract)),
            "seconds": dg.MetadataValue.json(clock.laps),
        },
    )


def build_contract_checks(contracts: Iterable[TableContract]) -> list[dg.AssetChecksDefinition]:
    """The blocking pandera check of every contract (the stages' contracts, collected in ``catalog.CONTRACTS``)."""
    return [build_contract_check(c) for c in contracts]
