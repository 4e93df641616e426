"""``data-platform summary``: rows per stage, the latest checks, where the data is."""

from __future__ import annotations

import argparse
import os
import sys

import duckdb

from data_platform.resources import Warehouse, landing_root


def cmd_summary(args: argparse.Namespace) -> int:
    """Print rows per stage, the latest run's checks, and where things are."""
    warehouse = Warehouse.from_env()
    if not warehouse.exists():
        print(f"no warehouse at {warehouse.location()} yet: run `make demo` first", file=sys.stderr)
        return 1
    with warehouse.connect(read_only=True) as con:
        print(f"warehouse: {warehouse.location()}")
        for line in _stage_counts(con):
            print(f"  {line}")
    checks = _latest_run_checks()
    if checks:
        from data_platform.launch import check_line

        failed = [c for c in checks if not c.passed]
        print(
            f"checks (latest evaluation per day in the recent runs): {len(checks) - len(failed)} passed, "
            f"{len(failed)} did not (FAILED: severity ERROR, WARN: severity WARN)"
        )
        for evaluation in checks:
            if not evaluation.passed:
                print(f"  {check_line(evaluation)}")
    print(f"landing folder: {landing_root()}")
    print("open the UI: make ui   (then http://127.0.0.1:3000, asset groups by lifecycle stage)")
    return 0


def _stage_counts(con: duckdb.DuckDBPyConnection) -> list[str]:
    """The status summary: every stage's declared summary lines (``Stage.summary``), in stage order."""
    from data_platform.catalog import summary_lines

    return summary_lines(con)


def _latest_run_checks(runs: int = 10) -> list:
    """The latest evaluation of every check and partition in the last ``runs`` runs (sorted by asset,
    check and partition)."""
    if not os.environ.get("DAGSTER_HOME"):
        return []
    import dagster as dg
    from dagster._core.events import DagsterEventType

    latest: dict[tuple[str, str, str], object] = {}
    with dg.DagsterInstance.get() as instance:
        for run in reversed(instance.get_runs(limit=runs)):  # oldest first: later evaluations win
            for record in instance.all_logs(run.run_id, of_type=DagsterEventType.ASSET_CHECK_EVALUATION):
                evaluation = record.dagster_event.event_specific_data
                latest[evaluation.asset_key.to_user_string(), evaluation.check_name, evaluation.partition or ""] = (
                    evaluation
                )
    return [latest[k] for k in sorted(latest)]
