"""The local instance's SQLite run history (data_platform/instance.py): no fsync per event, nothing lost.

Dagster's SQLite storage opens, commits and closes a connection for every event; the local instance makes
those connections ``synchronous=NORMAL`` and keeps one idle connection per file so that a close does not
checkpoint. These tests pin what that may and may not change: the tuning reaches the instance's own files
only, the kept connections stay bounded, and events stored by a process that is then SIGKILLed are all
there for the next process.
"""

from __future__ import annotations

import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path

import dagster as dg
import pytest
import sqlalchemy

from data_platform import instance as platform_instance
from data_platform.resources import PROJECT_ROOT


def _home(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    shutil.copy(PROJECT_ROOT / "dagster_home" / "dagster.yaml", path / "dagster.yaml")
    return path


def _synchronous(path: Path) -> int:
    """``PRAGMA synchronous`` of a new SQLAlchemy connection to ``path`` (0 OFF, 1 NORMAL, 2 FULL)."""
    engine = sqlalchemy.create_engine(f"sqlite:///{path}", poolclass=sqlalchemy.pool.NullPool)
    try:
        with engine.connect() as conn:
            return conn.exec_driver_sql("PRAGMA synchronous").scalar()
    finally:
        engine.dispose()


def _report(instance: dg.DagsterInstance, run: dg.DagsterRun, n: int) -> None:
    for i in range(n):
        instance.report_engine_event(f"event {i}", dagster_run=run)


def test_the_instance_files_commit_without_fsync_and_a_close_does_not_checkpoint(tmp_path):
    """A run's event shard, the run storage and the index get ``synchronous=NORMAL`` and a kept connection,
    so the WAL survives Dagster's close of its connection (before, every close checkpointed and removed
    it); a WAL SQLite file outside the instance folder keeps SQLite's default (FULL)."""
    other = tmp_path / "other.db"
    with sqlite3.connect(other) as conn:
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("CREATE TABLE t (x)")
    with dg.DagsterInstance.from_config(str(_home(tmp_path / "home"))) as instance:
        run = instance.add_run(dg.DagsterRun(job_name="tuned"))
        _report(instance, run, 3)
        shard = tmp_path / "home" / "history" / "runs" / f"{run.run_id}.db"
        runs_db = tmp_path / "home" / "history" / "runs.db"
        for path in (shard, runs_db, shard.with_name("index.db")):
            assert _synchronous(path) == 1, path
            assert str(path) in {str(Path(p).resolve()) for p in platform_instance._kept_open}, path
        wal = shard.with_name(shard.name + "-wal")
        assert wal.exists() and wal.stat().st_size > 0, "closing Dagster's connection checkpointed the WAL"
        assert [e.dagster_event.message for e in instance.all_logs(run.run_id)] == ["event 0", "event 1", "event 2"]
    assert _synchronous(other) == 2


def test_the_kept_connections_stay_bounded_to_the_most_recent_files(tmp_path, monkeypatch):
    """With room for two, four runs' shards leave the last two kept; the evicted ones are closed."""
    monkeypatch.setattr(platform_instance, "KEEP_OPEN", 2)
    with dg.DagsterInstance.from_config(str(_home(tmp_path / "home"))) as instance:
        seen: dict[str, sqlite3.Connection] = {}
        run_ids = []
        for _ in range(4):
            run = instance.add_run(dg.DagsterRun(job_name="bounded"))
            _report(instance, run, 1)
            run_ids.append(run.run_id)
            seen.update(platform_instance._kept_open)
        kept = list(platform_instance._kept_open)
        assert len(kept) == 2
        assert Path(kept[-1]).name == f"{run_ids[-1]}.db"  # the latest shard is the most recent file
        evicted = [conn for path, conn in seen.items() if platform_instance._kept_open.get(path) is not conn]
        assert evicted  # the earlier runs' shards were kept once and let go
        for conn in evicted:
            with pytest.raises(sqlite3.ProgrammingError):
                conn.execute("SELECT 1")


def test_events_stored_by_a_killed_process_are_all_read_by_the_next(tmp_path):
    """A child process stores 50 events on the local instance and is SIGKILLed without closing anything
    (no checkpoint, no clean close): a new process reads the run and all 50 events."""
    home = _home(tmp_path / "home")
    child = textwrap.dedent(
        f"""
        import os, signal, sys
        import dagster as dg
        instance = dg.DagsterInstance.from_config({str(home)!r})
        run = instance.add_run(dg.DagsterRun(job_name="killed"))
        for i in range(50):
            instance.report_engine_event(f"event {{i}}", dagster_run=run)
        print(run.run_id, flush=True)
        os.kill(os.getpid(), signal.SIGKILL)
        """
    )
    proc = subprocess.run(
        [sys.executable, "-c", child],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "DAGSTER_HOME": str(home)},
        check=False,
    )
    assert proc.returncode == -signal.SIGKILL, proc.stderr[-3000:]
    run_id = proc.stdout.strip()
    with dg.DagsterInstance.from_config(str(home)) as instance:
        assert instance.get_run_by_id(run_id) is not None
        messages = [e.dagster_event.message for e in instance.all_logs(run_id) if e.dagster_event]
        assert messages == [f"event {i}" for i in range(50)]
