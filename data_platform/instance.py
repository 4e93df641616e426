"""The local Dagster instance: a dead run never holds the ``duckdb`` pool slot; run history without an fsync per event.

Every step that writes the warehouse takes the one slot of the instance-wide ``duckdb`` pool. A run
whose process is killed (``kill -9``, an out-of-memory kill, a closed laptop) never gives its slot
back, and Dagster frees slots only from the daemon, and only for runs already marked finished: with
``dg launch`` (in-process, no daemon) the next run waited for the slot forever, and Dagster's wait
loop spins without sleeping and ignores SIGTERM and SIGINT while it waits.

:class:`SlotReclaimingEventLogStorage` is the SQLite event log storage of the local instance
(:class:`PlatformInstance`, the ``instance_class`` of ``dagster_home/dagster.yaml``; same files as the
default) with one change, in the call every waiting step makes to claim a slot:

- when the slot is taken, it looks at the runs holding (or queued for) it; a run that no longer
  exists, has already finished, or whose process is gone (its pid, from the run's RUN_START event, is
  not alive, or is a newer process that reused the pid) is marked failed with the reason, and its
  slots are freed; then the claim is tried again. So the next run takes the slot within one claim;
- while still blocked, it waits up to :data:`WAIT_SECONDS` itself (Dagster's loop would spin) and
  raises ``DagsterExecutionInterruptedError`` as soon as the process got SIGTERM or SIGINT, so a
  waiting run stops, is marked failed and gives back its place in the queue.

A SQLite instance lives on one machine, so a pid check is sound; the PostgreSQL production instance
(``deploy/dagster.yaml``) relies on the daemon's run monitoring instead.

**Run history without an fsync per event.** Dagster's SQLite storage opens a new connection for every
event it stores, commits, and closes it. On its WAL files (Dagster sets ``journal_mode=WAL``) each commit
waits for an fsync (SQLite's default ``synchronous=FULL``), and each close of the last connection to a file
checkpoints the WAL into the database with two more: 20 to 30 ms an event on a busy virtual disk, several
seconds of every run (a daily run of the pipeline stores about 200 events, 570 commits). :func:`tune_sqlite_connection`
runs on every SQLite connection the process opens to a WAL file under a :class:`PlatformInstance`'s folder:
it sets ``synchronous=NORMAL`` (WAL commits are durable at the next checkpoint; a crashed or killed process
loses nothing, a power loss at most the last events, and the files are never corrupted: SQLite's documented
guarantee for WAL mode) and keeps one idle connection open to each of the :data:`KEEP_OPEN` files used most
recently, so that closing Dagster's connection is no longer the last close and does not checkpoint (SQLite
checkpoints the WAL itself every 1000 pages).
"""

from __future__ import annotations

import os
import sqlite3
import threading
import time
from collections import OrderedDict
from pathlib import Path

import dagster as dg
import sqlalchemy
import yaml
from dagster._core.errors import DagsterExecutionInterruptedError
from dagster._core.events import DagsterEventType
from dagster._core.instance.ref import InstanceRef
from dagster._core.storage.event_log import SqliteEventLogStorage
from dagster._serdes import ConfigurableClassData
from dagster._utils.interrupts import check_captured_interrupt

WAIT_SECONDS = 1.0  # how long one blocked claim waits before Dagster asks again
_POLL_SECONDS = 0.1
KEEP_OPEN = 16  # SQLite files of the instance a process keeps one idle connection to (most recently used)

_instance_dirs: set[str] = set()  # folders of the PlatformInstances this process has opened
_kept_open: OrderedDict[str, sqlite3.Connection] = OrderedDict()
_kept_open_lock = threading.Lock()


class PlatformInstance(dg.DagsterInstance):
    """The local instance (``instance_class`` in ``dagster_home/dagster.yaml``): Dagster's SQLite storage
    in the instance folder, as by default, with :class:`SlotReclaimingEventLogStorage` as its event log."""

    @classmethod
    def config_schema(cls):
        return {}

    @staticmethod
    def config_defaults(base_dir: str):
        # called while Dagster reads dagster.yaml, before the storages below connect: from here on this
        # process tunes its SQLite connections to files under base_dir (see the module docstring)
        _instance_dirs.add(os.path.join(os.path.realpath(base_dir), ""))
        defaults = dict(InstanceRef.config_defaults(base_dir))
        events = ConfigurableClassData(
            __name__,
            SlotReclaimingEventLogStorage.__name__,
            yaml.dump({"base_dir": os.path.join(base_dir, "history", "runs", "")}, default_flow_style=False),
        )
        parts = {
            "run_storage": defaults["run_storage"],
            "event_log_storage": events,
            "schedule_storage": defaults["schedule_storage"],
        }
        defaults["event_log_storage"] = events
        defaults["storage"] = ConfigurableClassData(
            "dagster._core.storage.legacy_storage",
            "CompositeStorage",
            yaml.dump(
                {
                    name: {"module_name": d.module_name, "class_name": d.class_name, "config_yaml": d.config_yaml}
                    for name, d in parts.items()
                },
                default_flow_style=False,
            ),
        )
        return defaults


@sqlalchemy.event.listens_for(sqlalchemy.engine.Engine, "connect")
def tune_sqlite_connection(dbapi_connection, _connection_record) -> None:
    """On a new SQLite connection to a WAL file of a :class:`PlatformInstance`: ``synchronous=NORMAL``, and one
    idle connection kept open to the file (see the module docstring). Any other connection is left alone."""
    if not isinstance(dbapi_connection, sqlite3.Connection) or not _instance_dirs:
        return
    path = next((row[2] for row in dbapi_connection.execute("PRAGMA database_list") if row[1] == "main"), "")
    if not path or not any(os.path.realpath(path).startswith(d) for d in _instance_dirs):
        return
    if dbapi_connection.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
        return  # a file Dagster has not switched to WAL yet (its first connection): FULL stays right
    dbapi_connection.execute("PRAGMA synchronous=NORMAL")
    _keep_open(path)


def _keep_open(path: str) -> None:
    """Keep one idle connection to ``path`` (the :data:`KEEP_OPEN` most recent files), closing the oldest."""
    with _kept_open_lock:
        if path in _kept_open:
            _kept_open.move_to_end(path)
            return
        try:
            keeper = sqlite3.connect(path, check_same_thread=False)
            keeper.execute("SELECT 1 FROM sqlite_master LIMIT 1").fetchall()  # opens the file and its WAL index
        except sqlite3.Error:
            return  # only a saving: Dagster's own connection works as before
        _kept_open[path] = keeper
        evicted = [_kept_open.popitem(last=False)[1] for _ in range(len(_kept_open) - KEEP_OPEN)]
    for connection in evicted:
        connection.close()


class SlotReclaimingEventLogStorage(SqliteEventLogStorage):
    """SQLite event log storage whose slot claims free the slots of dead runs (see the module)."""

    @classmethod
    def from_config_value(cls, inst_data, config_value):
        return cls(inst_data=inst_data, **config_value)

    def claim_concurrency_slot(self, concurrency_key: str, run_id: str, step_key: str, priority: int | None = None):
        status = super().claim_concurrency_slot(concurrency_key, run_id, step_key, priority)
        if status.is_claimed:
            return status
        if reclaim_slots_of_dead_runs(self._instance, concurrency_key, waiting_run_id=run_id):
            status = super().claim_concurrency_slot(concurrency_key, run_id, step_key, priority)
            if status.is_claimed:
                return status
        deadline = time.monotonic() + WAIT_SECONDS
        while time.monotonic() < deadline:
            if check_captured_interrupt():
                raise DagsterExecutionInterruptedError(
                    f"interrupted while step {step_key} waited for a slot of pool {concurrency_key}"
                )
            time.sleep(_POLL_SECONDS)
        return status.with_sleep_interval(0.0)  # this call already waited: ask again at once


def reclaim_slots_of_dead_runs(
    instance: dg.DagsterInstance, concurrency_key: str, *, waiting_run_id: str | None = None
) -> list[str]:
    """Free the slots (claimed or queued) of ``concurrency_key`` held by runs that are dead, marking a
    dead run that is not finished yet as failed with the reason; the run ids freed."""
    storage = instance.event_log_storage
    info = storage.get_concurrency_info(concurrency_key)
    holders = {s.run_id for s in info.claimed_slots} | {p.run_id for p in info.pending_steps}
    holders.discard(waiting_run_id)
    freed = []
    for run_id in sorted(holders):
        run = instance.get_run_by_id(run_id)
        why = _why_dead(instance, run)
        if why is None:
            continue
        if run is not None and not run.is_finished:
            instance.report_run_failed(
                run,
                f"Marked failed: {why}. Its slots of pool {concurrency_key!r} were "
                f"freed{f' by run {waiting_run_id}' if waiting_run_id else ''}.",
            )
        storage.free_concurrency_slots_for_run(run_id)
        freed.append(run_id)
    return freed


def _why_dead(instance: dg.DagsterInstance, run: dg.DagsterRun | None) -> str | None:
    """Why ``run`` can no longer use a slot, or None while it may (alive, or not started yet)."""
    if run is None:
        return "the run no longer exists"
    if run.is_finished:
        return f"the run ended ({run.status.value}) without giving its slot back"
    records = instance.get_records_for_run(run.run_id, of_type=DagsterEventType.RUN_START).records
    if not records:
        return None  # not started: its process has not claimed anything yet
    entry = records[-1].event_log_entry
    pid = entry.dagster_event.pid if entry.dagster_event else None
    if pid is None or _process_alive(pid, started_before=entry.timestamp):
        return None
    return f"its process {pid} is gone (killed or crashed)"


def _process_alive(pid: int, started_before: float) -> bool:
    """Whether process ``pid`` runs and is the one that was running at ``started_before`` (epoch s):
    a zombie, or a newer process that reused the pid, is not."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        boot = next(
            int(line.split()[1]) for line in Path("/proc/stat").read_text().splitlines() if line.startswith("btime ")
        )
    except (OSError, StopIteration):
        return True  # no /proc: trust kill(0)
    fields = stat[stat.rindex(")") + 2 :].split()  # after "pid (comm) "
    if fields[0] == "Z":
        return False
    started = boot + int(fields[19]) / os.sysconf("SC_CLK_TCK")
    return started <= started_before + 1
