"""Crash recovery: a real materialization in a child process is killed with SIGKILL in the middle of a
stage's write (ingestion's landing and its cut of the days, cleaning, click labels, splits, the
export), at a deterministic point (see ``reliability_support``). Then:

- nothing partial is visible: every table is exactly what it was before the killed run started;
- the next run repairs it: its tables equal those of a run that never crashed (run ids and
  timestamps aside), with nothing duplicated.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import dagster as dg
import duckdb
import pytest

from data_platform.cleaning.assets import CLEANING_ASSETS, clean_layer
from data_platform.ingestion.assets import raw_ingestion
from data_platform.ingestion.landing import land_new_files
from data_platform.labeling.ctr_assets import ctr_examples
from data_platform.partitions import partitions_start
from data_platform.resources import LandingZone, Warehouse
from data_platform.splits.assets import SPLIT_ASSETS, build_export_asset, ctr_train_balanced
from data_platform.splits.split import CTR
from data_platform_tests.conftest import event, generated_world, query, write_lines
from data_platform_tests.reliability_support import copy_warehouse, digest_tables, run_child

EXPORT_CTR = build_export_asset(CTR)
PUBLISH = [SPLIT_ASSETS[0], ctr_train_balanced, EXPORT_CTR]


def _range_tags(first: str, last: str) -> dict:
    return {"dagster/asset_partition_range_start": first, "dagster/asset_partition_range_end": last}


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """A warehouse built without any crash: ingest, clean, label clicks over the generated days, then
    split and export the click data. Crash tests start from copies of it."""
    root = tmp_path_factory.mktemp("crash_reference")
    landing, warehouse, manifest = generated_world(root, days=2, events_per_day=1500, seed=23)
    days = sorted(manifest["valid_lines_by_event_day"])
    mp = pytest.MonkeyPatch()
    mp.setenv("DATA_PLATFORM_EXPORTS", str(root / "exports"))
    resources = {"warehouse": warehouse, "landing": landing}
    assert dg.materialize(
        [raw_ingestion, *CLEANING_ASSETS, ctr_examples], resources=resources, tags=_range_tags(days[0], days[-1])
    ).success
    assert dg.materialize(PUBLISH, resources={"warehouse": warehouse}).success
    mp.undo()
    golden = copy_warehouse(warehouse.database, root / "golden" / "warehouse.duckdb")
    return {
        "root": root,
        "landing": landing,
        "db": golden,
        "days": (days[0], days[-1]),
        "exports": root / "exports",
        "digests": digest_tables(golden, exclude=frozenset()),
    }


def _copy(reference, tmp_path) -> Warehouse:
    db = copy_warehouse(reference["db"], tmp_path / "warehouse.duckdb")
    return Warehouse(database=str(db), memory_limit="1GB", threads=2)


def _kill_during(spec: dict, tmp_path: Path, env: dict | None = None):
    child = run_child(spec, tmp_path / "child", env=env)
    assert child.killed, f"the child never reached its pause point:\n{child.stderr[-3000:]}"
    assert child.returncode == -9
    return child


STAGES = {
    # stage: (assets re-materialized, pause point inside that stage's write transaction)
    "ingestion_cut": (["raw_ingestion"], {"kind": "statement", "name": "ingestion/delete_quarantine.sql"}),
    "cleaning": (["clean_layer"], {"kind": "statement", "name": "cleaning/insert_clean_events.sql"}),
    "labels": (["ctr_examples"], {"kind": "statement", "name": "labeling/insert_unattributed_clicks.sql"}),
    "splits": (
        ["split_ctr"],
        {"kind": "udf", "name": "splits/assign.sql", "fragment": "where", "column": CTR.id_column},
    ),
}


@pytest.mark.parametrize("stage", list(STAGES))
def test_kill_mid_write_leaves_the_previous_state_and_the_rerun_repairs(reference, tmp_path, stage):
    """SIGKILL in the middle of re-materializing a stage (its old rows already deleted and new ones
    inserted, uncommitted; or, for the split, inside its CREATE OR REPLACE statement) leaves every
    table exactly as before the run; rerunning the stage gives the crash-free tables, nothing twice."""
    assets, pause = STAGES[stage]
    warehouse = _copy(reference, tmp_path)
    spec = {
        "warehouse": warehouse.database,
        "landing": reference["landing"].root,
        "assets": assets,
        "pause": pause,
        "partition_range": None if stage == "splits" else list(reference["days"]),
    }
    child = _kill_during(spec, tmp_path, env={"DATA_PLATFORM_EXPORTS": str(tmp_path / "exports")})
    assert child.marker["kind"] == pause["kind"]

    # nothing partial is visible: every table, every column, as before the killed run
    assert digest_tables(warehouse.database, exclude=frozenset()) == reference["digests"]

    # the next run repairs: same content as the crash-free reference, nothing duplicated
    objects = {
        "raw_ingestion": raw_ingestion,
        "clean_layer": clean_layer,
        "ctr_examples": ctr_examples,
        "split_ctr": SPLIT_ASSETS[0],
    }
    kwargs = {} if stage == "splits" else {"tags": _range_tags(*reference["days"])}
    assert dg.materialize(
        [objects[a] for a in assets], resources={"warehouse": warehouse, "landing": reference["landing"]}, **kwargs
    ).success
    assert digest_tables(warehouse.database) == digest_tables(reference["db"])
    [(dups,)] = query(warehouse, "SELECT count(*) - count(DISTINCT event_id) FROM clean.events")
    assert dups == 0


def test_kill_mid_parse_of_a_landing_file_keeps_only_whole_files(tmp_path):
    """SIGKILL while DuckDB is inserting the parsed lines of a large landing file (the first 16 MiB
    batch, ~129k lines, is in: more than a row group, so DuckDB has already written row groups of the
    uncommitted insert to disk), the first of a group of new files landing in one transaction: the file an
    earlier run landed stays, nothing of the killed group is visible, and the next run lands the group
    exactly once."""
    landing = LandingZone(root=str(tmp_path / "landing"), settle_seconds=0)
    events = landing.events_dir()
    write_lines(events / "a.jsonl", [event(f"a{i}", ts="2026-11-02T10:00:00Z") for i in range(100)])
    crashed = Warehouse(database=str(tmp_path / "crashed.duckdb"), memory_limit="1GB", threads=2)
    with crashed.connect() as con:  # an earlier run landed a.jsonl (its days not cut yet)
        land_new_files(con, events, "earlier-run", min_ts=partitions_start(), settle_seconds=0)
    big = events / "b.jsonl"
    con = duckdb.connect()
    con.execute(f"""COPY (SELECT 'b' || i AS event_id, 'login' AS event_type, '2026-11-02T11:00:00Z' AS ts,
                         'anon-' || (i % 997) AS anon_id, 'user-' || (i % 501) AS user_id
                  FROM range(140000) t(i))
                    TO '{big}' (FORMAT json)""")
    con.close()
    write_lines(events / "c.jsonl", [event(f"c{i}", ts="2026-11-03T10:00:00Z") for i in range(50)] + ["oops"])
    past = os.stat(events / "a.jsonl").st_mtime
    os.utime(big, (past, past))

    spec = {
        "warehouse": crashed.database,
        "landing": landing.root,
        "assets": ["raw_ingestion"],
        "partition_range": ["2026-11-02", "2026-11-03"],
        "pause": {"kind": "reader", "file": 1, "batch": 1},
    }
    child = _kill_during(spec, tmp_path)
    assert child.marker["file"].endswith("b.jsonl") and child.marker["batches_handed_to_duckdb"] == 1

    assert query(crashed, "SELECT source_file, status, lines FROM raw.files") == [("a.jsonl", "current", 100)]
    assert query(
        crashed, "SELECT count(*), count(DISTINCT source_line), min(file_id), max(file_id) FROM raw.landed_lines"
    ) == [(100, 100, 1, 1)]
    assert query(crashed, "SELECT count(*) FROM raw.events") == [(0,)]  # the cut never ran

    tags = _range_tags("2026-11-02", "2026-11-03")
    assert dg.materialize([raw_ingestion], resources={"warehouse": crashed, "landing": landing}, tags=tags).success
    assert query(crashed, "SELECT source_file, lines, accepted, quarantined FROM raw.files ORDER BY 1") == [
        ("a.jsonl", 100, 100, 0),
        ("b.jsonl", 140000, 140000, 0),
        ("c.jsonl", 51, 50, 1),
    ]
    expected = {f"a{i}" for i in range(100)} | {f"b{i}" for i in range(140000)} | {f"c{i}" for i in range(50)}
    got = query(crashed, "SELECT event_id FROM raw.events")
    assert len(got) == len(expected) and {r[0] for r in got} == expected  # each line once
    assert query(crashed, "SELECT count(*), count(DISTINCT (file_id, source_line)) FROM raw.landed_lines") == [
        (140151, 140151)
    ]
    assert query(crashed, "SELECT source_file, source_line, reason FROM raw.quarantine") == [
        ("c.jsonl", 51, "not_json")
    ]


def test_kill_mid_export_publishes_nothing_and_the_rerun_publishes_once(reference, tmp_path):
    """SIGKILL after the first split's Parquet file of a new export version is written and while the
    second is being written: no version directory and no registry row are visible; the rerun publishes
    exactly the version (same id, same rows) a crash-free run published, registered once, and removes the
    killed run's staging folder."""
    warehouse = _copy(reference, tmp_path)
    with warehouse.connect() as con:  # a first publish into an empty exports folder
        con.execute("DELETE FROM splits.exports")
    exports = tmp_path / "exports"
    spec = {
        "warehouse": warehouse.database,
        "assets": ["export_ctr"],
        "pause": {"kind": "statement", "name": "splits/copy_split.sql", "occurrence": 2},
    }
    _kill_during(spec, tmp_path, env={"DATA_PLATFORM_EXPORTS": str(exports)})

    visible = [p for p in (exports / CTR.name).iterdir() if not p.name.startswith(".")]
    assert visible == []
    assert [p for p in (exports / CTR.name).iterdir() if p.name.startswith(".")], "the killed run's staging"
    assert not list(exports.rglob("card.json"))
    assert query(warehouse, "SELECT count(*) FROM splits.exports") == [(0,)]

    mp = pytest.MonkeyPatch()
    mp.setenv("DATA_PLATFORM_EXPORTS", str(exports))
    try:
        assert dg.materialize([EXPORT_CTR], resources={"warehouse": warehouse}).success
    finally:
        mp.undo()
    [(version, path)] = query(warehouse, "SELECT version, path FROM splits.exports")
    [(ref_version, ref_path)] = query(
        Warehouse(database=str(reference["db"])), "SELECT version, path FROM splits.exports"
    )
    assert version == ref_version
    assert [p.name for p in (exports / CTR.name).iterdir()] == [version]  # the killed staging is swept too
    con = duckdb.connect()
    for split in ("train", "dev", "test"):
        ours, theirs = (
            con.execute(
                f"SELECT count(*), md5(string_agg(md5(t::VARCHAR), '' ORDER BY md5(t::VARCHAR))) "
                f"FROM read_parquet('{p}/{split}.parquet') t"
            ).fetchone()
            for p in (path, ref_path)
        )
        assert ours == theirs and ours[0] > 0
    assert Path(path, "card.json").exists()


# ---- a killed run and the duckdb pool slot (issue #16, item 9)


def _pool(home: Path) -> tuple[set[str], set[str]]:
    """Run ids holding, and waiting for, a slot of the duckdb pool of the instance at ``home``."""
    with dg.DagsterInstance.from_config(str(home)) as instance:
        info = instance.event_log_storage.get_concurrency_info("duckdb")
        return {s.run_id for s in info.claimed_slots}, {p.run_id for p in info.pending_steps}


@pytest.mark.slow
def test_a_killed_run_does_not_hold_the_duckdb_slot_for_the_next_launch(tmp_path):
    """SIGKILL a run while its step holds the instance's one duckdb slot (paused inside the cut of the
    day, on the shipped local instance configuration), then `dg launch` the same assets: it finishes on
    its own (within the 5-minute timeout), the dead run is marked failed, and no slot stays taken."""
    from data_platform_tests.processes import BIN, platform_env, run_cli, runs_of

    home = tmp_path / "home"
    env = platform_env(tmp_path, home=home)
    landing, _, manifest = generated_world(tmp_path, days=1, events_per_day=300, seed=5)
    day = sorted(manifest["valid_lines_by_event_day"])[0]
    spec = {
        "assets": ["raw_ingestion"],
        "warehouse": env["DATA_PLATFORM_WAREHOUSE"],
        "landing": landing.root,
        "partition_range": [day, day],
        "instance": True,
        "pause": {"kind": "statement", "name": "ingestion/insert_events.sql"},
    }
    _kill_during(spec, tmp_path, env={"DAGSTER_HOME": str(home)})
    [dead] = runs_of(str(home))
    assert dead.status == dg.DagsterRunStatus.STARTED
    assert _pool(home)[0] == {dead.run_id}  # the slot is held by a process that no longer exists

    run_cli([str(BIN / "dg"), "launch", "--assets", "group:ingestion", "--partition", day], env, timeout=300)
    runs = {r.run_id: r for r in runs_of(str(home))}
    [new] = [r for r in runs.values() if r.run_id != dead.run_id]
    assert new.status == dg.DagsterRunStatus.SUCCESS
    assert runs[dead.run_id].status == dg.DagsterRunStatus.FAILURE
    with dg.DagsterInstance.from_config(str(home)) as instance:
        [failure] = instance.get_records_for_run(dead.run_id, of_type=dg.DagsterEventType.RUN_FAILURE).records
    assert "is gone" in failure.event_log_entry.dagster_event.message
    assert _pool(home) == (set(), set())
    assert query(Warehouse(database=env["DATA_PLATFORM_WAREHOUSE"]), "SELECT count(*) FROM raw.events")[0][0] > 0


@pytest.mark.slow
def test_a_launch_waiting_for_the_duckdb_slot_stops_on_sigterm(tmp_path):
    """A run holds the slot (paused inside its write, alive); `dg launch` of another run waits for it.
    SIGTERM stops the waiting launch: it exits, its run is marked failed and leaves the pool's queue,
    and the holder keeps its slot."""
    import signal
    import subprocess
    import sys

    from data_platform_tests.processes import BIN, platform_env, runs_of, wait_until
    from data_platform_tests.reliability_support import PROJECT_ROOT, child_env

    home = tmp_path / "home"
    env = platform_env(tmp_path, home=home)
    landing, _, manifest = generated_world(tmp_path, days=1, events_per_day=300, seed=5)
    day = sorted(manifest["valid_lines_by_event_day"])[0]
    marker = tmp_path / "holder-paused.json"
    spec = tmp_path / "holder.json"
    spec.write_text(
        json.dumps(
            {
                "assets": ["raw_ingestion"],
                "warehouse": env["DATA_PLATFORM_WAREHOUSE"],
                "landing": landing.root,
                "partition_range": [day, day],
                "instance": True,
                "marker": str(marker),
                "pause": {"kind": "statement", "name": "ingestion/insert_events.sql"},
            }
        )
    )
    holder = subprocess.Popen(
        [sys.executable, "-m", "data_platform_tests.reliability_support", str(spec)],
        cwd=tmp_path,
        env=child_env({"DAGSTER_HOME": str(home)}),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    waiter = None
    try:
        wait_until(marker.exists, timeout=240, what="the holder to pause inside its write")
        [held] = runs_of(str(home))
        waiter = subprocess.Popen(
            [str(BIN / "dg"), "launch", "--assets", "group:ingestion", "--partition", day],
            cwd=PROJECT_ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )

        def queued():
            assert waiter.poll() is None, f"the launch ended instead of waiting:\n{waiter.communicate()[0][-3000:]}"
            return _pool(home)[1] - {held.run_id}

        wait_until(queued, timeout=240, what="the launch to queue for the slot")
        [waiting] = _pool(home)[1] - {held.run_id}
        waiter.send_signal(signal.SIGTERM)
        output, _ = waiter.communicate(timeout=120)  # it stops: no kill needed
        runs = {r.run_id: r for r in runs_of(str(home))}
        assert runs[waiting].status in (dg.DagsterRunStatus.FAILURE, dg.DagsterRunStatus.CANCELED), output[-3000:]
        with dg.DagsterInstance.from_config(str(home)) as instance:
            ends = [
                str(e.dagster_event.event_specific_data)
                for e in instance.all_logs(waiting)
                if e.dagster_event and e.dagster_event.is_run_failure
            ]
        assert any("interrupted while step" in end for end in ends), ends  # stopped by SIGTERM, not by a crash
        claimed, queued = _pool(home)
        assert claimed == {held.run_id} and queued - {held.run_id} == set()  # the holder (alive) keeps its slot
        assert runs[held.run_id].status == dg.DagsterRunStatus.STARTED
    finally:
        for proc in (waiter, holder):
            if proc is not None and proc.poll() is None:
                proc.kill()
                proc.wait()


def test_a_blocked_claim_waits_keeps_a_live_holder_and_reclaims_a_vanished_one(tmp_path):
    """The local instance's claim, called directly as Dagster's wait loop calls it: while a live run
    (RUN_START from this very process) holds the one slot, every claim of another run is refused and
    asks to be called again at once (the call itself waited); once the holder is gone, the next claim
    frees its slot and takes it."""
    import shutil

    from dagster._core.events import DagsterEvent

    from data_platform.instance import SlotReclaimingEventLogStorage
    from data_platform.resources import PROJECT_ROOT

    shutil.copy(PROJECT_ROOT / "dagster_home" / "dagster.yaml", tmp_path / "dagster.yaml")
    with dg.DagsterInstance.from_config(str(tmp_path)) as instance:
        storage = instance.event_log_storage
        assert isinstance(storage, SlotReclaimingEventLogStorage)
        storage.set_concurrency_slots("duckdb", 1)
        holder = instance.add_run(dg.DagsterRun(job_name="holder", status=dg.DagsterRunStatus.STARTED))
        instance.report_dagster_event(
            DagsterEvent(dg.DagsterEventType.RUN_START.value, job_name="holder", pid=os.getpid()), run_id=holder.run_id
        )
        assert storage.claim_concurrency_slot("duckdb", holder.run_id, "write").is_claimed
        for _ in range(2):  # two rounds of the wait loop: refused, and asked again at once
            waiting = storage.claim_concurrency_slot("duckdb", "waiting-run", "write")
            assert (waiting.is_claimed, waiting.sleep_interval) == (False, 0.0)
        assert {s.run_id for s in storage.get_concurrency_info("duckdb").claimed_slots} == {holder.run_id}
        instance.delete_run(holder.run_id)  # the holder vanished without freeing its slot
        assert storage.claim_concurrency_slot("duckdb", "waiting-run", "write").is_claimed
        assert {s.run_id for s in storage.get_concurrency_info("duckdb").claimed_slots} == {"waiting-run"}
