"""Parallel writers on the lake, through Dagster's own backfill: an asset backfill of ``daily_pipeline`` over a
few days, one run per day and asset (``DATA_PLATFORM_BACKFILL=per_day``), launched by a real ``dagster-daemon``
with the project's run queue (4 runs at once), each run its own process writing the lake (real PostgreSQL
catalog, moto's S3 server) in the ``ducklake`` pool (``DATA_PLATFORM_LAKE_WRITERS`` slots).

Every read of neighbouring days is a declared partition mapping (clean reads every raw day, labels the clean
days D-7..D+1, anomalies every day's statistics), so the daemon launches a day's step only once what it reads
is materialized. What it proves:

- no run fails, every run covers one day, and no step ran before a partition it reads was materialized (read
  from the run records: a clean run starts after every raw run has ended, and so on);
- every table (file ids aside: which run landed which file first is up to the race) equals, row for row, the
  same backfill on the DuckDB file (one run over the range, the file's backfill policy); no settling pass;
- every landing file landed once, under an id no other file has.

The 30-day backfill with 1, 2 and 4 runs at once is ``benchmarks/bench_lake.py`` (docs/benchmarks.md).
"""

from __future__ import annotations

import datetime as dt

import dagster as dg
import pytest

from data_platform.base.keys import ANOMALIES, CLEAN_EVENTS, CTR_EXAMPLES, FEATURE_STATS, IDENTITY_MAP, RAW_EVENTS
from data_platform.generator import generate_logs
from data_platform.resources import LandingZone, Warehouse
from data_platform_tests.conftest import project_jobs, query
from data_platform_tests.processes import daemon_backfill, deliver_bundled, platform_env, requires_lake
from data_platform_tests.reliability_support import digest_tables

pytestmark = [pytest.mark.lake, pytest.mark.slow, requires_lake()]

START, DAYS, EVENTS_PER_DAY = dt.date(2026, 11, 1), 4, 150
# what each asset's day waits for, as declared: (reader, what it reads, days of it: offsets or "all")
READS = [
    (CLEAN_EVENTS, RAW_EVENTS, "all"),
    (CTR_EXAMPLES, CLEAN_EVENTS, (-7, 1)),
    (FEATURE_STATS, CTR_EXAMPLES, (0, 0)),
    (ANOMALIES, FEATURE_STATS, "all"),
]


@pytest.mark.timeout(2400)  # 5 waves of 4 runs, each wave at the daemon's next backfill iteration (tests: every 5 s)
def test_a_daemon_backfill_on_the_lake_with_parallel_runs_equals_the_same_backfill_on_the_file(
    tmp_path, lake_peers, monkeypatch
):
    landing = LandingZone(root=str(tmp_path / "landing"), settle_seconds=0)
    # two files per delivery day (not 24 hourly ones): every run lands what it finds, each file one lake commit
    generate_logs(tmp_path / "generated", start=START, days=DAYS, events_per_day=EVENTS_PER_DAY, seed=31)
    deliveries = sorted(p.name for p in (tmp_path / "generated" / "events").iterdir() if p.is_dir())
    deliver_bundled(tmp_path / "generated" / "events", landing.events_dir(), deliveries)
    days = [(START + dt.timedelta(days=i)).isoformat() for i in range(DAYS)]

    lake_settings = lake_peers.new_lake("parallel")
    env = platform_env(
        tmp_path / "lake",
        home=tmp_path / "lake" / "home",
        DATA_PLATFORM_LANDING=landing.root,
        DATA_PLATFORM_END_DATE=days[-1],
        DATA_PLATFORM_BACKFILL="per_day",
        DATA_PLATFORM_SENSORS="stopped",
        **lake_peers.env(),
        **lake_settings,
    )
    backfill = daemon_backfill(env, "daily_pipeline", days[0], days[-1], tmp_path / "daemon.log")
    assert (backfill.status, [r.run_id for r in backfill.failed()]) == ("COMPLETED_SUCCESS", [])
    # each run one day, but one: the current identity map's (unpartitioned, of every day), once
    assert [days is None for days in backfill.run_days()].count(True) == 1
    assert all(days is None or days[0] == days[1] for days in backfill.run_days())
    print(
        f"lake backfill: {len(backfill.runs)} runs in {backfill.seconds:.0f} s, {backfill.max_runs_at_once()} at once"
    )
    assert_reads_waited(backfill, days)

    monkeypatch.setenv("DATA_PLATFORM_END_DATE", days[-1])
    file = Warehouse(database=str(tmp_path / "file" / "warehouse.duckdb"), memory_limit="1GB", threads=2)
    defs, _ = project_jobs(tmp_path / "file", monkeypatch, landing, file)
    tags = {"dagster/asset_partition_range_start": days[0], "dagster/asset_partition_range_end": days[-1]}
    result = defs.resolve_job_def("daily_pipeline").execute_in_process(tags=tags, raise_on_error=False)
    assert result.success

    for key, value in lake_peers.env().items():
        monkeypatch.setenv(key, value)
    lake = Warehouse(
        database=":memory:",
        lake_catalog=lake_settings["DATA_PLATFORM_LAKE_CATALOG"],
        lake_data_path=lake_settings["DATA_PLATFORM_LAKE_DATA_PATH"],
    )
    on_file = digest_tables(file, also_exclude=frozenset({"file_id"}))
    on_lake = digest_tables(lake, also_exclude=frozenset({"file_id"}))
    assert on_file.keys() == on_lake.keys()
    assert {"clean.events", "clean.identity_map", "labels.ctr_examples", "monitoring.anomalies"} <= on_file.keys()
    assert {t: (on_file[t], d) for t, d in on_lake.items() if on_file[t] != d} == {}
    assert query(lake, "SELECT count(*) FROM labels.ctr_examples")[0][0] > 0
    # every file landed once, under an id no other file has, and its lines point to it
    assert query(lake, "SELECT count(*), count(DISTINCT file_id), count(DISTINCT source_file) FROM raw.files") == [
        (len(list(landing.events_dir().rglob("*.jsonl*"))),) * 3
    ]
    assert query(lake, "SELECT count(*) FROM raw.landed_lines l ANTI JOIN raw.files f ON f.file_id = l.file_id") == [
        (0,)
    ]


def assert_reads_waited(backfill, days: list[str]) -> None:
    """Every run that materialized a day of a reader either materialized what that day reads itself (the run's
    plan orders the steps) or started after every run that materialized it had ended (from the instance's run
    records and materializations)."""
    with dg.DagsterInstance.from_config(str(backfill.home)) as instance:
        records = {r.dagster_run.run_id: r for r in instance.get_run_records()}
        by: dict[tuple[dg.AssetKey, str], str] = {}  # (asset, day) -> the run that materialized it
        for key in {k for reader, read, _ in READS for k in (reader, read)} | {IDENTITY_MAP}:
            for event in instance.fetch_materializations(key, limit=1000).records:
                by[(key, event.partition_key)] = event.run_id
    # the current identity map reads every raw day: its one run started after every raw run had ended
    map_run = by[(IDENTITY_MAP, None)]
    late = [d for d in days if records[by[(RAW_EVENTS, d)]].end_time > records[map_run].start_time]
    assert late == [], f"clean/identity_map started before raw/events {late} ended"
    for reader, read, offsets in READS:
        for i, day in enumerate(days):
            wanted = days if offsets == "all" else days[max(0, i + offsets[0]) : i + offsets[1] + 1]
            run = by[(reader, day)]
            started = records[run].start_time
            late = [d for d in wanted if by[(read, d)] != run and records[by[(read, d)]].end_time > started]
            assert late == [], f"{reader.to_user_string()} {day} started before {read.to_user_string()} {late} ended"
