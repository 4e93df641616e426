"""Backfills through the real command-line tools against a temporary DAGSTER_HOME.

- ``dg launch --assets ... --partition-range A...B``: one in-process run over the whole range;
- ``dagster job backfill -j ingest_raw_events --from A --to B``: one run per partition, launched by
  a real ``dagster-daemon`` with several runs in flight, kept off each other's DuckDB write lock by
  the instance's ``duckdb`` concurrency pool (limit 1).
Both must give the same rows as each other.
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
from pathlib import Path

import dagster as dg
import pytest

from data_platform.generator import generate_logs
from data_platform.resources import PROJECT_ROOT, Warehouse
from data_platform_tests.conftest import query
from data_platform_tests.processes import (
    BIN,
    daemon,
    free_port,
    graphql,
    job_backfill,
    run_cli,
    runs_of,
    step_intervals,
    wait_for_runs,
    wait_for_webserver,
    webserver,
)
from data_platform_tests.test_ingestion_assets import _content_hash

pytestmark = pytest.mark.slow
FIRST, LAST = "2026-11-01", "2026-11-03"


@pytest.fixture(scope="module")
def landing_root(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("cli-landing")
    generate_logs(root, dt.date(2026, 11, 1), 3, 2000, seed=5)
    # keep the test to the three generated days: drop files delivered after them (late lines only)
    for day_dir in (root / "events").iterdir():
        if day_dir.is_dir() and day_dir.name > LAST:
            shutil.rmtree(day_dir)
    return root


def _env(tmp_path: Path, landing_root: Path, name: str) -> dict[str, str]:
    home = tmp_path / f"home-{name}"
    home.mkdir()
    shutil.copy(PROJECT_ROOT / "dagster_home" / "dagster.yaml", home / "dagster.yaml")
    return {
        **os.environ,
        "DAGSTER_HOME": str(home),
        "DATA_PLATFORM_WAREHOUSE": str(tmp_path / f"{name}.duckdb"),
        "DATA_PLATFORM_LANDING": str(landing_root),
        "DATA_PLATFORM_SETTLE_SECONDS": "0",
        "DATA_PLATFORM_DUCKDB_MEMORY": "1GB",
        # only the backfill's runs: the landing sensor would otherwise run the same days again
        "DATA_PLATFORM_SENSORS": "stopped",
    }


def test_dg_launch_range_and_daemon_backfill_give_the_same_rows(tmp_path, landing_root):
    launch_env = _env(tmp_path, landing_root, "launch")
    run_cli(
        [str(BIN / "dg"), "launch", "--assets", "group:ingestion", "--partition-range", f"{FIRST}...{LAST}"], launch_env
    )
    runs = runs_of(launch_env["DAGSTER_HOME"])
    assert len(runs) == 1 and runs[0].status == dg.DagsterRunStatus.SUCCESS
    launched = Warehouse(database=launch_env["DATA_PLATFORM_WAREHOUSE"])

    backfill_env = _env(tmp_path, landing_root, "backfill")
    job_backfill(backfill_env, "ingest_raw_events", FIRST, LAST)
    with daemon(backfill_env, tmp_path / "daemon.log") as dmn:
        runs = wait_for_runs(backfill_env["DAGSTER_HOME"], 3, timeout=400, services=(dmn,))
    assert sorted(r.tags.get("dagster/partition") for r in runs) == ["2026-11-01", "2026-11-02", "2026-11-03"]
    assert [r.status for r in runs] == [dg.DagsterRunStatus.SUCCESS] * 3
    # runs were in flight together, but the duckdb pool let one writing step run at a time
    intervals = step_intervals(backfill_env["DAGSTER_HOME"])
    assert len(intervals) == 3 * 3  # per run: raw_ingestion and the two blocking pandera contract checks
    assert all(end <= next_start for (_, end), (next_start, _) in zip(intervals, intervals[1:]))
    backfilled = Warehouse(database=backfill_env["DATA_PLATFORM_WAREHOUSE"])
    for table in ("raw.events", "raw.quarantine"):
        assert _content_hash(backfilled, table) == _content_hash(launched, table)
        assert _content_hash(launched, table)[0] > 0


def test_data_platform_launch_is_quiet_and_the_ui_shows_each_day_of_the_range(tmp_path, landing_root):
    """``data-platform launch`` over a range prints what ran and its checks, no DEBUG log; the webserver's
    GraphQL API (what the UI draws) shows each day's own row count and a check evaluation per day."""
    env = _env(tmp_path, landing_root, "quiet")
    done = run_cli(
        [str(BIN / "data-platform"), "launch", "--assets", "group:ingestion", "--partition-range", f"{FIRST}...{LAST}"],
        env,
    )
    out = done.stdout + done.stderr
    assert f"assets group:ingestion, partitions {FIRST}...{LAST}: done in" in done.stdout
    assert "SUCCESS: steps raw_ingestion" in done.stdout and "9 materializations" in done.stdout
    assert "checks 15 passed, 0 did not" in done.stdout  # 5 checks (3 in the step, 2 pandera) x 3 days
    assert "DEBUG" not in out and "Warning" not in out

    counts = dict(
        query(
            Warehouse(database=env["DATA_PLATFORM_WAREHOUSE"]),
            "SELECT strftime(event_date, '%Y-%m-%d'), count(*) FROM raw.events GROUP BY 1",
        )
    )
    port = free_port()
    with webserver(env, port, tmp_path / "webserver.log") as server:
        wait_for_webserver(port, server)
        answer = graphql(
            port,
            """{ assetNodes(assetKeys: [{path: ["raw", "events"]}]) {
            assetMaterializations(partitions: ["2026-11-02", "2026-11-03"]) {
              partition metadataEntries { label ... on IntMetadataEntry { intValue } } } } }""",
        )
        shown = {
            m["partition"]: next(e["intValue"] for e in m["metadataEntries"] if e["label"] == "dagster/row_count")
            for m in answer["data"]["assetNodes"][0]["assetMaterializations"]
        }
        assert shown == {day: counts[day] for day in ("2026-11-02", "2026-11-03")}
        assert shown["2026-11-02"] != shown["2026-11-03"]
        checks = graphql(
            port,
            """{ assetCheckExecutions(assetKey: {path: ["raw", "events"]},
            checkName: "contract_v1", limit: 10) { partition status evaluation { partition } } }""",
        )
        executions = checks["data"]["assetCheckExecutions"]
        assert sorted(e["partition"] for e in executions) == [FIRST, "2026-11-02", LAST]
        assert {e["status"] for e in executions} == {"SUCCEEDED"}
        # the asset's page: each check's result for the latest materialization (a partition of the range)
        latest = graphql(
            port,
            """{ assetNodes(assetKeys: [{path: ["raw", "events"]}]) { assetChecksOrError {
            ... on AssetChecks { checks { name executionForLatestMaterialization { status partition } } } } } }""",
        )
        shown = {
            c["name"]: c["executionForLatestMaterialization"]
            for c in latest["data"]["assetNodes"][0]["assetChecksOrError"]["checks"]
        }
        assert shown["contract_v1"] == {"status": "SUCCEEDED", "partition": LAST}
        assert shown["pandera_contract"]["status"] == "SUCCEEDED"
