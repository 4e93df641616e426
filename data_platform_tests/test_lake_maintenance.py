"""Lake maintenance for real (``Warehouse.maintain``, the ``lake_maintenance`` job, ``data-platform lake
maintain``) on a lake of several days, its catalog in a real PostgreSQL and its files on moto's S3 server.

What it proves:

- maintenance merges the small files (fewer data files read) and changes no table's content;
- snapshots taken before the retention are expired, except those a published dataset version records: every
  published version still reads back exactly (``data-platform dataset-version``, its content hash checked), and
  time travel to an expired snapshot fails saying so; snapshots within the retention stay;
- the job records what it did as the ``lake/maintenance`` materialization's metadata, the CLI prints it, and the
  catalog and the bucket agree afterwards (no file left that no snapshot reads);
- an erasure after maintenance kept the published versions' snapshots still ends every snapshot holding the
  person, and maintenance afterwards keeps it so: the person is in no Parquet object in the bucket.
"""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import dagster as dg
import pytest

from data_platform.cli import main
from data_platform.maintenance import LAKE_MAINTENANCE
from data_platform.resources import (
    LandingZone,
    SettingError,
    SnapshotExpired,
    Warehouse,
    retention_cutoff,
    rows,
    run_sql,
)
from data_platform_tests.conftest import (
    lake_files_holding,
    lake_warehouse,
    project_jobs,
    query,
    run_job,
    write_lines,
)
from data_platform_tests.processes import on_lake_peers
from data_platform_tests.reliability_support import digest_tables

pytestmark = [pytest.mark.lake]


DAYS = ("2026-11-01", "2026-11-02")
SNAPSHOTS = "SELECT snapshot_id, snapshot_time FROM ducklake_snapshots('lake') ORDER BY snapshot_id"
PUBLISHED = "SELECT dataset, version, lake_snapshot FROM splits.exports ORDER BY created_at, dataset"


@pytest.fixture(scope="module")
def world(tmp_path_factory, lake_peers):
    """Two days landed from hourly files (each landing its own commit, its own small files): the first day and
    the review labels, published; then ``cutoff``; then the second day, published again."""
    from data_platform.generator import generate_logs

    root = tmp_path_factory.mktemp("lake-maintenance")
    landing = LandingZone(root=str(root / "landing"), settle_seconds=0)
    generate_logs(landing.root, start=dt.date(2026, 11, 1), days=len(DAYS), events_per_day=300, seed=31)
    mp = pytest.MonkeyPatch()
    try:
        lake = lake_warehouse(lake_peers, mp, "maintained")
        defs, _ = project_jobs(root, mp, landing, lake)
        mp.setenv("DATA_PLATFORM_LANDING", landing.root)
        run_job(defs, "daily_pipeline", DAYS[0])
        run_job(defs, "review_labeling")
        run_job(defs, "publish_datasets")
        cutoff = dt.datetime.now(dt.UTC)
        run_job(defs, "daily_pipeline", DAYS[1])
        run_job(defs, "publish_datasets")
        yield {"lake": lake, "defs": defs, "landing": landing, "cutoff": cutoff, "peers": lake_peers}
    finally:
        mp.undo()


def _maintenance_job(defs: dg.Definitions, retention_days: float) -> dict:
    """Run the ``lake_maintenance`` job; the metadata of its ``lake/maintenance`` materialization."""
    config = {"ops": {"maintain_lake": {"config": {"retention_days": retention_days}}}}
    result = defs.resolve_job_def("lake_maintenance").execute_in_process(run_config=config, raise_on_error=False)
    assert result.success, [e.message for e in result.all_events if e.is_failure]
    (event,) = [e for e in result.get_asset_materialization_events() if e.asset_key == LAKE_MAINTENANCE]
    return {k: v.value for k, v in event.materialization.metadata.items()}


def _snapshots(lake) -> dict[int, dt.datetime]:
    return dict(query(lake, SNAPSHOTS))


def test_the_retention_is_a_checked_setting(monkeypatch):
    monkeypatch.setenv("DATA_PLATFORM_LAKE_RETENTION_DAYS", "-1")
    with pytest.raises(SettingError, match="DATA_PLATFORM_LAKE_RETENTION_DAYS='-1'"):
        retention_cutoff()
    monkeypatch.setenv("DATA_PLATFORM_LAKE_RETENTION_DAYS", "2.5")
    before = dt.datetime.now(dt.UTC)
    cutoff = retention_cutoff()
    assert before - dt.timedelta(days=2.5) <= cutoff <= dt.datetime.now(dt.UTC) - dt.timedelta(days=2.5)
    assert retention_cutoff(0) >= before  # an explicit retention wins over the setting
    with pytest.raises(SettingError, match="-1 days is not usable"):
        retention_cutoff(-1)
    assert main(["lake", "maintain", "--retention-days", "nan"]) == 2  # refused before anything is touched


def test_on_the_duckdb_file_there_is_nothing_to_maintain(tmp_path, monkeypatch, capsys):
    from data_platform.maintenance import lake_maintenance, schedule_status

    monkeypatch.delenv("DATA_PLATFORM_LAKE_CATALOG", raising=False)
    monkeypatch.setenv("DATA_PLATFORM_WAREHOUSE", str(tmp_path / "warehouse.duckdb"))
    assert main(["lake", "maintain"]) == 0
    assert "the warehouse is the DuckDB file" in capsys.readouterr().out
    warehouse = Warehouse(database=str(tmp_path / "warehouse.duckdb"))
    result = lake_maintenance.execute_in_process(resources={"warehouse": warehouse})
    assert result.success and result.get_asset_materialization_events() == []
    assert schedule_status() == dg.DefaultScheduleStatus.STOPPED  # nightly on the lake only
    monkeypatch.setenv("DATA_PLATFORM_LAKE_CATALOG", "postgres:dbname=lake")
    assert schedule_status() == dg.DefaultScheduleStatus.RUNNING


# the module's lake is built by the first of these tests' setup, which counts against its time limit
@pytest.mark.timeout(1800)
@on_lake_peers
def test_maintenance_merges_files_keeps_published_versions_and_expires_older_snapshots(world, tmp_path, capsys):
    lake, defs, cutoff = world["lake"], world["defs"], world["cutoff"]
    published = query(lake, PUBLISHED)
    recorded = {s for *_, s in published}
    assert len(published) >= 2 and None not in recorded
    tables = digest_tables(lake)
    snapshots = _snapshots(lake)
    current = max(snapshots)
    old = {s for s, t in snapshots.items() if t < cutoff and s not in recorded}
    recent = {s for s, t in snapshots.items() if t >= cutoff}
    assert old and recent - recorded - {current}  # both sides of the cutoff hold snapshots no version records

    with lake.connect() as con:
        files = rows(con, "common/lake_files.sql")[0]
        report = lake.maintain(con, cutoff)
    assert report["lake_live_files_before"] == files["live_files"] > 24 * len(DAYS)  # at least one per landing
    assert report["lake_live_files_after"] < report["lake_live_files_before"] / 2
    assert report["lake_files_merged"] > report["lake_live_files_before"] / 2
    assert report["lake_snapshots_expired"] == len(old)
    kept = _snapshots(lake)
    assert old.isdisjoint(kept) and recent <= set(kept) and recorded <= set(kept)
    assert report["lake_snapshots_kept_for_exports"] == len({s for s in recorded if snapshots[s] < cutoff}) > 0
    assert digest_tables(lake) == tables  # same rows in every table, fewer files

    # time travel to an expired snapshot fails, saying what happened
    with pytest.raises(SnapshotExpired, match=f"lake snapshot {min(old)} cannot be read any more: it was expired"):
        with lake.connect_at(min(old)):
            pass

    # the nightly job with no retention: the published versions' snapshots stay, and beside them only the
    # current one and those of the job's own commits (made after its cutoff)
    current, job_started = max(kept), dt.datetime.now(dt.UTC)
    recorded_by_job = _maintenance_job(defs, retention_days=0)
    left = _snapshots(lake)
    assert recorded <= set(left)
    assert all(s == current or t >= job_started for s, t in left.items() if s not in recorded)
    assert recorded_by_job["lake_snapshots_expired"] == len(set(kept) - set(left)) > 0
    assert recorded_by_job["lake_snapshots_after"] == len(left)
    # the catalog and the bucket agree: every object left is one a snapshot reads
    prefix = lake.lake_data_path.removeprefix(f"s3://{world['peers'].s3.bucket}/")
    objects = [k for k in world["peers"].s3.keys(prefix) if k.endswith(".parquet")]
    assert len(objects) == recorded_by_job["lake_stored_files_after"]
    assert recorded_by_job["lake_stored_files_after"] < report["lake_stored_files_before"]

    # the CLI: the same maintenance from the environment, what it did printed (nothing left to expire)
    capsys.readouterr()
    assert main(["lake", "maintain", "--retention-days", "0"]) == 0
    out = capsys.readouterr().out
    with lake.connect(read_only=True) as con:
        now = rows(con, "common/lake_files.sql")[0]
    assert re.search(rf"data files read now +[\d,]+ +{now['live_files']:,}\n", out), out
    assert re.search(rf"snapshots +[\d,]+ +{len(_snapshots(lake)):,}\n", out), out

    # every published version reads back exactly (the command checks its content hash against the version id)
    assert digest_tables(lake) == tables
    for dataset, version, _ in published:
        assert main(["dataset-version", dataset, version, "--out", str(tmp_path)]) == 0
        assert (tmp_path / dataset / version / "train.parquet").is_file()


@pytest.mark.timeout(1800)
@on_lake_peers
def test_an_erasure_ends_the_kept_snapshots_and_maintenance_keeps_the_person_out_of_the_bucket(world, tmp_path, capsys):
    lake, defs, peers = world["lake"], world["defs"], world["peers"]
    _maintenance_job(defs, retention_days=0)  # the published versions' snapshots are kept
    (user,) = query(lake, "SELECT user_id FROM raw.events WHERE user_id IS NOT NULL ORDER BY user_id LIMIT 1")[0]
    published = query(lake, PUBLISHED)
    holding = "SELECT count(*) FROM raw.events AT (VERSION => {}) WHERE user_id = ?"
    kept = [s for *_, s in published if query(lake, holding.format(int(s)), [user])[0][0]]
    assert kept  # a retained snapshot holds the person

    write_lines(
        Path(world["landing"].root) / "privacy" / "erase.jsonl",
        [{"request_id": "erase-m", "user_id": user, "kind": "erase", "ts": "2026-11-04T10:00:00Z"}],
    )
    erased_at = dt.datetime.now(dt.UTC)
    run_job(defs, "process_privacy_requests")
    _maintenance_job(defs, retention_days=0)

    snapshots = _snapshots(lake)
    assert all(t > erased_at for t in snapshots.values())  # nothing from before the erasure is readable
    with lake.connect(read_only=True) as con:
        for snapshot in snapshots:
            for table in ("raw.events", "raw.landed_lines", "clean.events"):
                found = f"SELECT count(*) FROM {table} AT (VERSION => {snapshot}) WHERE user_id = ?"
                assert con.execute(found, [user]).fetchone()[0] == 0
        assert lake_files_holding(con, peers, lake, user) == 0  # read from the bucket, not through the catalog
    # a version whose snapshot the erasure ended says so (its exported folder is what remains), and so does
    # one the erasure re-issued without the person (its folder is the version)
    for dataset, version, snapshot in query(lake, PUBLISHED):
        capsys.readouterr()
        assert main(["dataset-version", dataset, version, "--out", str(tmp_path)]) == 1
        error = capsys.readouterr().err
        assert (f"lake snapshot {snapshot} cannot be read any more" if snapshot else "re-issued after erasure") in error


@pytest.mark.timeout(1800)
@on_lake_peers
def test_maintenance_finishes_an_erasure_interrupted_before_the_lake_forgot_its_history(world):
    lake, defs, peers = world["lake"], world["defs"], world["peers"]
    person = "SELECT user_id FROM raw.events WHERE user_id IS NOT NULL GROUP BY 1 ORDER BY count(*) DESC LIMIT 1"
    ((user,),) = query(lake, person)
    # an erasure that deleted the rows, then died before forget_history: its request is left 'erased'
    with lake.connect() as con:
        before = con.execute("SELECT id FROM current_snapshot()").fetchone()[0]
        con.execute("DELETE FROM raw.events WHERE user_id = ?", [user])
        run_sql(con, "privacy/create_tables.sql")
        con.execute("INSERT INTO privacy.requests (request_id, kind, status) VALUES ('erase-cut', 'erase', 'erased')")
        assert lake_files_holding(con, peers, lake, user, under="raw/events/") > 0  # the old files hold them

    report = _maintenance_job(defs, retention_days=30)  # a retention that would keep every snapshot
    assert report["erasure_lake_snapshots_expired"] > 0
    assert before not in _snapshots(lake)
    assert query(lake, "SELECT status FROM privacy.requests WHERE request_id = 'erase-cut'") == [("done",)]
    with lake.connect(read_only=True) as con:
        assert lake_files_holding(con, peers, lake, user, under="raw/events/") == 0
