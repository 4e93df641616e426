"""Running Dagster jobs from code the way a person does from a shell: ``dg launch``, then a short,
readable account of what the run did (its steps, and every check that did not pass, with its reason)."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import dagster as dg

from data_platform.metadata import counts_text
from data_platform.resources import PROJECT_ROOT


def dg_launch(launch_args: list[str]) -> int:
    """Run ``dg launch <launch_args>`` with the current environment's instance (``DAGSTER_HOME``);
    print what ran, how long it took and the run's summary (:func:`run_summary`), and on failure the
    end of dg's output too; return its exit code. dg's own log (DEBUG lines, library warnings) stays
    out of the terminal: it is in the instance's run history (the UI's Runs page)."""
    cmd = [str(Path(sys.executable).with_name("dg")), "launch", *launch_args]
    since = dt.datetime.now(dt.timezone.utc)
    started = time.perf_counter()
    done = subprocess.run(cmd, cwd=PROJECT_ROOT, env=dict(os.environ), capture_output=True, text=True)
    seconds = time.perf_counter() - started
    summary = run_summary(since)
    if done.returncode != 0:
        print(done.stderr[-3000:], file=sys.stderr)
        print(f"dg launch {' '.join(launch_args)} failed (exit {done.returncode}) after {seconds:.1f}s", file=sys.stderr)
        for line in summary:
            print(line, file=sys.stderr)
        return done.returncode
    print(f"   {_what(launch_args)}: done in {seconds:.1f}s")
    for line in summary:
        print(line)
    return 0


def _what(launch_args: list[str]) -> str:
    """``job daily_pipeline, partitions 2026-11-01...2026-11-08`` from dg launch's arguments."""
    names = {"--job": "job", "--assets": "assets", "--partition": "partition", "--partition-range": "partitions"}
    pairs = zip(launch_args[::2], launch_args[1::2])
    return ", ".join(f"{names.get(flag, flag)} {value}" for flag, value in pairs)


def run_summary(since: dt.datetime) -> list[str]:
    """One block per run created since ``since`` in the instance of ``DAGSTER_HOME``: the run's status,
    its steps and their seconds, the number of materializations and checks, and each check that did not
    pass on a partition, with its reason. Empty without ``DAGSTER_HOME``."""
    if not os.environ.get("DAGSTER_HOME"):
        return []
    from dagster._core.events import DagsterEventType as T

    lines = []
    with dg.DagsterInstance.get() as instance:
        for run in reversed(instance.get_runs(filters=dg.RunsFilter(created_after=since))):
            records = instance.all_logs(run.run_id, of_type={T.STEP_SUCCESS, T.STEP_FAILURE, T.ASSET_MATERIALIZATION,
                                                             T.ASSET_CHECK_EVALUATION})
            steps, materialized, checks = [], 0, []
            for record in records:
                event = record.dagster_event
                if event.event_type == T.STEP_SUCCESS:
                    steps.append(f"{event.step_key} {event.event_specific_data.duration_ms / 1000:.1f}s")
                elif event.event_type == T.STEP_FAILURE:
                    steps.append(f"{event.step_key} FAILED")
                elif event.event_type == T.ASSET_MATERIALIZATION:
                    materialized += 1
                else:
                    checks.append(event.event_specific_data)
            not_passed = [c for c in checks if not c.passed]
            lines += textwrap.wrap(
                f"run {run.run_id[:8]} {run.status.value}: steps {', '.join(steps) or 'none'}; {materialized} "
                f"materializations; checks {len(checks) - len(not_passed)} passed, {len(not_passed)} did not",
                width=120, initial_indent="     ", subsequent_indent="       ", break_on_hyphens=False)
            lines += [f"       {check_line(c)}" for c in not_passed]
    return lines


def check_line(evaluation) -> str:
    """``FAILED clean/events clean_contract 2026-11-05: price_not_converted: 1,484 rows`` (WARN for a
    check of WARN severity)."""
    state = "PASSED" if evaluation.passed else (
        "WARN" if evaluation.severity == dg.AssetCheckSeverity.WARN else "FAILED")
    where = f" {evaluation.partition}" if getattr(evaluation, "partition", None) else ""
    reason = "" if evaluation.passed else check_reason(evaluation)
    return f"{state} {evaluation.asset_key.to_user_string()} {evaluation.check_name}{where}" + (
        f": {reason}" if reason else "")


def check_reason(evaluation) -> str:
    """Why a check did not pass: its description, else what its metadata says (count breakdowns such
    as ``violations`` or ``by_reason`` first, else the non-zero whole numbers, else short texts and the
    rows of markdown tables), so a check written by anyone shows its reason without code here knowing it."""
    if evaluation.description:
        return evaluation.description
    breakdowns: dict[str, int] = {}
    numbers: dict[str, int] = {}
    texts: list[str] = []
    for key, entry in (evaluation.metadata or {}).items():
        value = getattr(entry, "value", entry)
        if isinstance(value, dict):
            breakdowns.update({str(k): v for k, v in value.items() if _count(v)})
        elif _count(value):
            numbers[key] = value
        elif isinstance(entry, dg.MarkdownMetadataValue) and value.startswith("|"):
            texts.append(f"{key}: {value.count(chr(10)) - 1} rows")  # header and rule lines, then one per row
        elif isinstance(value, str) and value not in ("", "-", "_none_") and len(value) <= 200:
            texts.append(f"{key}: {value}")
    return counts_text(breakdowns or numbers, "") or ", ".join(texts)


def _count(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value != 0
