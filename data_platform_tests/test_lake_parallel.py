"""Parallel writers on the lake: partition runs in separate processes (stand-ins for machines: each has its own
Dagster instance; they share nothing but PostgreSQL, the object store and the landing folder) write the lake at
the same time, with no failed run, and leave exactly the tables the same runs leave on the DuckDB file one
after another.

Only the raw layer is independent of the order in which days are processed. Downstream, a day reads its
neighbours by design, on any profile: cleaning (identity links and duplicates across days), a day's click
labels (whether the next day's clicks were in yet) and monitoring (which earlier days' statistics existed).
Runs at once take the days in any order, so the raw tables are compared as the runs left them, and then both
warehouses get the settling pass production gets from the late-click sensor and the next days' runs (the
downstream assets re-materialized over the whole range, in order) and every table must be equal.

The backfill here is 3 days, all 3 runs at once (the suite runs on 2 cores); the 30-day backfill with 1, 2 and
4 runs at once is ``benchmarks/bench_lake.py`` (figures in docs/benchmarks.md).
"""

from __future__ import annotations

import datetime as dt

import dagster as dg
import pytest

from data_platform.cleaning.assets import clean_layer
from data_platform.generator import generate_logs
from data_platform.labeling.ctr_assets import ctr_examples
from data_platform.resources import LandingZone, Warehouse
from data_platform.validation.assets import anomalies, feature_stats
from data_platform_tests.conftest import project_jobs, query, run_job
from data_platform_tests.processes import launch_partitions, platform_env, requires_lake
from data_platform_tests.reliability_support import digest_tables

pytestmark = [pytest.mark.lake, pytest.mark.slow, requires_lake()]

START, DAYS, EVENTS_PER_DAY, CONCURRENCY = dt.date(2026, 11, 1), 3, 300, 3


def test_concurrent_partition_runs_on_the_lake_equal_the_same_runs_on_the_file(tmp_path, lake_peers, monkeypatch):
    landing = LandingZone(root=str(tmp_path / "landing"), settle_seconds=0)
    generate_logs(landing.root, start=START, days=DAYS, events_per_day=EVENTS_PER_DAY, seed=31)
    days = [(START + dt.timedelta(days=i)).isoformat() for i in range(DAYS)]

    lake_settings = lake_peers.new_lake("parallel")
    env = platform_env(
        tmp_path / "lake",
        home=tmp_path / "lake" / "home",
        DATA_PLATFORM_LANDING=landing.root,
        DATA_PLATFORM_END_DATE=days[-1],
        **lake_peers.env(),
        **lake_settings,
    )
    runs = launch_partitions(days, env, tmp_path / "lake", concurrency=CONCURRENCY)
    failed = {r.day: r.output[-3000:] for r in runs if r.returncode or r.run().status != dg.DagsterRunStatus.SUCCESS}
    assert failed == {}
    print(f"commit conflicts retried per run: {[r.commit_retries() for r in runs]}")

    monkeypatch.setenv("DATA_PLATFORM_END_DATE", days[-1])
    file = Warehouse(database=str(tmp_path / "file" / "warehouse.duckdb"), memory_limit="1GB", threads=2)
    defs, _ = project_jobs(tmp_path / "file", monkeypatch, landing, file)
    for day in days:
        run_job(defs, "daily_pipeline", day)

    for key, value in lake_peers.env().items():
        monkeypatch.setenv(key, value)
    lake = Warehouse(
        database=":memory:",
        lake_catalog=lake_settings["DATA_PLATFORM_LAKE_CATALOG"],
        lake_data_path=lake_settings["DATA_PLATFORM_LAKE_DATA_PATH"],
    )
    # which run landed which file, in which order, is up to the race: file ids are left out of the comparison
    # and checked on their own below
    raw = {"raw.events", "raw.quarantine", "raw.files", "raw.landed_lines", "raw.file_failures"}
    assert differing(file, lake, raw) == {}
    for warehouse in (file, lake):
        settle(warehouse, landing, days)
    assert differing(file, lake) == {}
    assert query(lake, "SELECT count(*) FROM raw.events")[0][0] > DAYS * EVENTS_PER_DAY * 0.8
    # every file landed once, under an id no other file has, and its lines point to it
    assert query(lake, "SELECT count(*), count(DISTINCT file_id), count(DISTINCT source_file) FROM raw.files") == [
        (len(list(landing.events_dir().rglob("*.jsonl*"))),) * 3
    ]
    assert query(lake, "SELECT count(*) FROM raw.landed_lines l ANTI JOIN raw.files f ON f.file_id = l.file_id") == [
        (0,)
    ]


def differing(file: Warehouse, lake: Warehouse, only: set[str] | None = None) -> dict:
    """``table -> (digest on the file, digest on the lake)`` of the tables whose rows differ (file ids aside)."""
    on_file = digest_tables(file, only=only, also_exclude=frozenset({"file_id"}))
    on_lake = digest_tables(lake, only=only, also_exclude=frozenset({"file_id"}))
    assert on_file.keys() == on_lake.keys() and on_file
    return {t: (on_file[t], d) for t, d in on_lake.items() if on_file[t] != d}


def settle(warehouse: Warehouse, landing: LandingZone, days: list[str]) -> None:
    """The day-order-dependent assets re-materialized over the whole range in one run (days in order)."""
    tags = {"dagster/asset_partition_range_start": days[0], "dagster/asset_partition_range_end": days[-1]}
    result = dg.materialize(
        [clean_layer, ctr_examples, feature_stats, anomalies],
        resources={"warehouse": warehouse, "landing": landing},
        tags=tags,
    )
    assert result.success
