"""The production profile (deploy/dagster.yaml) against a real PostgreSQL server and the real daemon.

What it proves:

- ``deploy/dagster.yaml`` takes every PostgreSQL setting from the environment (no literal host, user or
  password in the file) and loads as an instance whose run, event-log and schedule storage are PostgreSQL,
  with the QueuedRunCoordinator, run limits and the ``duckdb`` pool limit of 1;
- with that file as ``$DAGSTER_HOME/dagster.yaml``, a real ``dagster-daemon``:
  1. runs the landing sensor (started with ``dagster sensor start``, its state kept in PostgreSQL): files
     dropped into the landing folder become ``daily_pipeline`` runs for the days they touch; stopped with
     ``data-platform stop-sensor`` while the daemon runs, it stays stopped (no tick after the stop);
  2. launches the 14 runs of ``dagster job backfill -j ingest_raw_events`` over 2026-11-01..14 through the
     run queue, several in flight, the ``duckdb`` pool keeping the writing steps one at a time;
- every run succeeded; the run history, the materializations, the sensor's ticks and cursor and the
  backfill are rows in PostgreSQL (read with psycopg2, not through Dagster), and nothing went to SQLite;
- the warehouse holds exactly what the generator wrote (its manifest is the oracle): accepted lines per
  day and quarantined lines per reason.

Needs the PostgreSQL server binaries (Debian: ``.ci/setup_postgres.sh``); skipped, saying so, without them
(failed under ``CI=true``).
"""

from __future__ import annotations

import datetime as dt
import re
import time

import dagster as dg
import duckdb
import pytest
import yaml

from data_platform.generator import generate_logs
from data_platform.launch import _sensor_origin
from data_platform.resources import PROJECT_ROOT
from data_platform_tests.processes import (
    BIN,
    PostgresServer,
    daemon,
    deliver_bundled,
    job_backfill,
    platform_env,
    postgres_bin,
    requires_peer,
    run_cli,
    runs_of,
    step_intervals,
    wait_for_runs,
)

pytestmark = pytest.mark.slow

DEPLOY_YAML = PROJECT_ROOT / "deploy" / "dagster.yaml"
START, DAYS = dt.date(2026, 11, 1), 14
FIRST, LAST = "2026-11-01", "2026-11-14"
SENSOR_DELIVERY_DAYS = ("2026-11-01", "2026-11-02")  # the files the sensor ingests; the backfill takes the rest

PG_BIN = postgres_bin()
requires_postgres = requires_peer(
    PG_BIN is not None, "PostgreSQL server binaries (/usr/lib/postgresql/*/bin)", "run .ci/setup_postgres.sh"
)


@pytest.fixture(scope="module")
def postgres():
    server = PostgresServer(PG_BIN).start()
    try:
        yield server
    finally:
        print(server.log())
        server.stop()


def _leaves(node, path=()):
    if isinstance(node, dict):
        for key, value in node.items():
            yield from _leaves(value, (*path, key))
    else:
        yield path, node


def test_deploy_yaml_reads_every_connection_setting_from_the_environment():
    config = yaml.safe_load(DEPLOY_YAML.read_text())
    db = config["storage"]["postgres"]["postgres_db"]
    assert {k: v for k, v in db.items() if k != "scheme"} == {
        "hostname": {"env": "DAGSTER_PG_HOST"},
        "port": {"env": "DAGSTER_PG_PORT"},
        "username": {"env": "DAGSTER_PG_USER"},
        "password": {"env": "DAGSTER_PG_PASSWORD"},
        "db_name": {"env": "DAGSTER_PG_DB"},
    }
    # no literal secret anywhere in the file, comments and examples included
    assert not re.search(r"(?im)^[\s#]*(password|postgres_url)\s*:[ \t]*[^\s#]", DEPLOY_YAML.read_text())
    assert not [path for path, _ in _leaves(config) if "password" in path and path[-1] != "env"]
    assert config["run_coordinator"]["class"] == "QueuedRunCoordinator"
    assert config["concurrency"]["pools"]["default_limit"] == 1
    assert 1 < config["concurrency"]["runs"]["max_concurrent_runs"] <= 8


def _sql(postgres: PostgresServer, sql: str, params=()) -> list[tuple]:
    con = postgres.connect()
    try:
        with con.cursor() as cur:
            cur.execute(sql, params)
            return cur.fetchall()
    finally:
        con.close()


@requires_postgres
def test_sensor_and_backfill_on_postgres_storage(tmp_path, postgres, monkeypatch):
    for name, value in postgres.env().items():
        monkeypatch.setenv(name, value)  # this process reads the same instance as the daemon
    generated = tmp_path / "generated"
    manifest = generate_logs(generated, START, DAYS, 100, seed=23)
    deliveries = sorted(p.name for p in (generated / "events").iterdir() if p.is_dir())
    landing = tmp_path / "landing"
    (landing / "events").mkdir(parents=True)
    home = tmp_path / "home"
    env = platform_env(
        tmp_path,
        home=home,
        dagster_yaml=DEPLOY_YAML,
        DATA_PLATFORM_LANDING=str(landing),
        # every sensor starts stopped; the test starts the landing sensor like an operator
        DATA_PLATFORM_SENSORS="stopped",
        **postgres.env(),
    )

    with dg.DagsterInstance.from_config(str(home)) as instance:
        assert type(instance.run_storage).__name__ == "PostgresRunStorage"
        assert type(instance.event_log_storage).__name__ == "PostgresEventLogStorage"
        assert type(instance.schedule_storage).__name__ == "PostgresScheduleStorage"
        assert type(instance.run_coordinator).__name__ == "QueuedRunCoordinator"

    run_cli([str(BIN / "dagster"), "sensor", "start", "landing_sensor", "-w", "workspace.yaml"], env)
    sensor_files = len(deliver_bundled(generated / "events", landing / "events", list(SENSOR_DELIVERY_DAYS)))
    with daemon(env, tmp_path / "daemon.log") as dmn:
        # 1. the landing sensor: the files are settled at first sight (settle time 0 here), one run per day
        sensor_runs = wait_for_runs(
            home,
            2,
            timeout=300,
            services=(dmn,),
            matching=lambda r: r.tags.get("data_platform/trigger") == "landing_sensor",
        )
        # while the daemon ticks it: `dagster sensor stop` alone can be undone by the tick in flight (the
        # daemon writes back the state it read before the stop); this command waits until the stop holds
        run_cli([str(BIN / "data-platform"), "stop-sensor", "landing_sensor"], env)
        stopped_at = time.time()
        # 2. the rest of the history arrives and is backfilled, one run per day, through the queue
        backfill_files = len(
            deliver_bundled(
                generated / "events", landing / "events", [d for d in deliveries if d not in SENSOR_DELIVERY_DAYS]
            )
        )
        job_backfill(env, "ingest_raw_events", FIRST, LAST)
        backfill_runs = wait_for_runs(
            home, DAYS, timeout=600, services=(dmn,), matching=lambda r: "dagster/backfill" in r.tags
        )

    # ---------------------------------------------------------------- every run, through Dagster's API
    runs = runs_of(str(home))
    assert {r.status for r in runs} == {dg.DagsterRunStatus.SUCCESS}, [(r.job_name, r.status) for r in runs]
    sensor_runs = [r for r in runs if r.tags.get("data_platform/trigger") == "landing_sensor"]
    backfill_runs = [r for r in runs if "dagster/backfill" in r.tags]
    assert len(runs) == len(sensor_runs) + len(backfill_runs)
    assert {r.job_name for r in sensor_runs} == {"daily_pipeline"}
    assert set(SENSOR_DELIVERY_DAYS) <= {r.tags["dagster/partition"] for r in sensor_runs}
    assert {r.job_name for r in backfill_runs} == {"ingest_raw_events"}
    assert sorted(r.tags["dagster/partition"] for r in backfill_runs) == [
        (START + dt.timedelta(days=i)).isoformat() for i in range(DAYS)
    ]
    # the queue may run several backfill runs at once (whether it did depends on the machine's speed, so it
    # is not asserted), yet no two writing steps overlapped (duckdb pool)
    with dg.DagsterInstance.from_config(str(home)) as instance:
        queue = instance.get_concurrency_config().run_queue_config
        pool = instance.event_log_storage.get_concurrency_info("duckdb")
    backfill_limit = {limit["key"]: limit["limit"] for limit in queue.tag_concurrency_limits}["dagster/backfill"]
    assert queue.max_concurrent_runs > backfill_limit > 1
    assert pool.limit == 1 and not pool.claimed_slots and not pool.pending_steps
    intervals = step_intervals(str(home))
    assert all(end <= next_start for (_, end), (next_start, _) in zip(intervals, intervals[1:]))

    # ---------------------------------------------------------------- the history is in PostgreSQL
    pg_runs = {
        run_id: (job, partition, status)
        for run_id, job, partition, status in _sql(
            postgres, "SELECT run_id, pipeline_name, partition, status FROM runs"
        )
    }
    assert pg_runs == {r.run_id: (r.job_name, r.tags["dagster/partition"], "SUCCESS") for r in runs}
    materialized_days = {
        (key, partition)
        for key, partition in _sql(
            postgres, "SELECT asset_key, partition FROM event_logs WHERE dagster_event_type = 'ASSET_MATERIALIZATION'"
        )
    }
    for day in (START + dt.timedelta(days=i) for i in range(DAYS)):
        assert ('["raw", "events"]', day.isoformat()) in materialized_days
    assert ('["clean", "events"]', SENSOR_DELIVERY_DAYS[0]) in materialized_days  # the sensor ran daily_pipeline
    [(sensor_selector,)] = _sql(
        postgres,
        "SELECT selector_id FROM instigators WHERE instigator_body LIKE '%%landing_sensor%%' AND status = 'STOPPED'",
    )
    ticks = dict(
        _sql(
            postgres,
            "SELECT status, count(*) FROM job_ticks WHERE selector_id = %s GROUP BY status",
            (sensor_selector,),
        )
    )
    assert ticks.get("SUCCESS", 0) >= 1 and ticks.get("FAILURE", 0) == 0, ticks
    # stopped means stopped: the daemon started no tick of it in the minutes of the backfill
    origin = _sensor_origin("landing_sensor")
    with dg.DagsterInstance.from_config(str(home)) as instance:
        late = [t.timestamp - stopped_at for t in instance.get_ticks(origin.get_id(), origin.get_selector().get_id())]
    assert origin.get_selector().get_id() == sensor_selector
    assert not [s for s in late if s > 0], f"ticks {late} s after the stop"
    assert _sql(postgres, 'SELECT "limit" FROM concurrency_limits WHERE concurrency_key = %s', ("duckdb",)) == [(1,)]
    assert not list(home.rglob("*.db")), "something wrote a SQLite database in DAGSTER_HOME"

    # ---------------------------------------------------------------- the data: the generator's manifest
    con = duckdb.connect(env["DATA_PLATFORM_WAREHOUSE"], read_only=True)
    try:
        per_day = dict(
            con.execute("SELECT strftime(event_date, '%Y-%m-%d'), count(*) FROM raw.events GROUP BY 1").fetchall()
        )
        reasons = dict(con.execute("SELECT reason, count(*) FROM raw.quarantine GROUP BY 1").fetchall())
        [(files,)] = con.execute("SELECT count(*) FROM raw.files WHERE superseded_at IS NULL").fetchall()
    finally:
        con.close()
    assert per_day == manifest["valid_lines_by_event_day"]
    assert reasons == {k: v for k, v in manifest["malformed"].items() if v}
    assert files == sensor_files + backfill_files == 2 * len(deliveries)
    print(
        f"production profile: {len(sensor_runs)} sensor runs, {len(backfill_runs)} backfill runs, "
        f"{sum(per_day.values())} events, "
        f"{len(pg_runs)} runs in PostgreSQL"
    )
