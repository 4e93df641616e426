"""The warehouse steps' concurrency pool follows the profile, within ONE Dagster instance.

Two runs of ``raw_ingestion`` (two days), each in its own process on the same ``DAGSTER_HOME``, each paused in the
middle of its step (just before its first landing statement, so the step holds its pool slot) until the test
has looked at the instance's concurrency records (``get_concurrency_info``), then killed:

- on the lake, ``data-platform init-instance`` gives the ``ducklake`` pool ``DATA_PLATFORM_LAKE_WRITERS`` slots,
  and both runs' steps hold a slot at once (two claimed slots, two run ids);
- on the DuckDB file the steps are in the ``duckdb`` pool, which keeps the instance's ``default_limit`` of 1: the
  first run holds the slot and the second run's step is recorded as waiting for it.

Nothing waits for a time: the test waits for the pause markers and for the records.
"""

from __future__ import annotations

import datetime as dt
import os
import signal
from pathlib import Path

import dagster as dg
import pytest

from data_platform.generator import generate_logs
from data_platform.partitions import FILE_POOL, LAKE_POOL
from data_platform_tests.processes import BIN, platform_env, requires_lake, run_cli, wait_until
from data_platform_tests.reliability_support import start_child

pytestmark = [pytest.mark.slow]

DAYS = ["2026-11-01", "2026-11-02"]


def _paused_ingestion(env: dict[str, str], root: Path, day: str):
    """A ``raw_ingestion`` run of ``day`` on the instance and warehouse of ``env``, paused inside its step."""
    spec = {
        "assets": ["raw_ingestion"],
        "warehouse": None,  # Warehouse.from_env(): the profile of env
        "landing": env["DATA_PLATFORM_LANDING"],
        "partition_range": [day, day],
        "instance": True,
        "pause": {"kind": "statement", "name": "ingestion/current_version.sql"},
    }
    return start_child(spec, root / day, env=env)


def _concurrency(env: dict[str, str], pool: str):
    with dg.DagsterInstance.from_config(env["DAGSTER_HOME"]) as instance:
        return instance.event_log_storage.get_concurrency_info(pool)


def _two_runs(env: dict[str, str], root: Path, pool: str, both_claimed: bool):
    """Start the first run, wait for its pause; start the second; wait until the records show both runs
    (holding a slot each, or the second waiting); return the pool's records then. Both runs are killed."""
    generate_logs(env["DATA_PLATFORM_LANDING"], start=dt.date(2026, 11, 1), days=2, events_per_day=100, seed=5)
    children = []
    try:
        children.append(_paused_ingestion(env, root, DAYS[0]))
        wait_until(lambda: children[0][1].exists(), timeout=300, what="the first run's pause")
        children.append(_paused_ingestion(env, root, DAYS[1]))
        if both_claimed:
            wait_until(lambda: children[1][1].exists(), timeout=300, what="the second run's pause")
        else:
            wait_until(lambda: _concurrency(env, pool).pending_run_ids, timeout=300, what="the second run waiting")
        for proc, _, _, err in children:
            assert proc.poll() is None, err.read_text()[-3000:]
        return _concurrency(env, pool)
    finally:
        for proc, *_ in children:
            if proc.poll() is None:
                os.kill(proc.pid, signal.SIGKILL)
            proc.wait()


@requires_lake()
@pytest.mark.lake
def test_on_the_lake_two_runs_of_one_instance_hold_the_pool_at_once(tmp_path, lake_peers):
    env = platform_env(
        tmp_path,
        home=tmp_path / "home",
        DATA_PLATFORM_LAKE_WRITERS="3",
        **lake_peers.env(),
        **lake_peers.new_lake("pool"),
    )
    run_cli([str(BIN / "data-platform"), "init-instance"], env)
    info = _two_runs(env, tmp_path, LAKE_POOL, both_claimed=True)
    assert info.slot_count == 3  # DATA_PLATFORM_LAKE_WRITERS, set by init-instance
    assert len(info.claimed_slots) == 2 and len(info.active_run_ids) == 2
    assert {s.step_key for s in info.claimed_slots} == {"raw_ingestion"}
    assert _concurrency(env, FILE_POOL).claimed_slots == []


def test_on_the_file_the_second_run_waits_for_the_one_writer(tmp_path):
    env = platform_env(tmp_path, home=tmp_path / "home", DATA_PLATFORM_LAKE_WRITERS="3")
    run_cli([str(BIN / "data-platform"), "init-instance"], env)
    info = _two_runs(env, tmp_path, FILE_POOL, both_claimed=False)
    assert info.limit == 1
    assert len(info.claimed_slots) == 1 and len(info.pending_run_ids) == 1
    assert info.active_run_ids.isdisjoint(info.pending_run_ids)
    assert _concurrency(env, LAKE_POOL).claimed_slots == []
