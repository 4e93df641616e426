"""The local Dagster instance's event log storage: a dead run never holds the ``duckdb`` pool slot.

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
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import dagster as dg
import yaml
from dagster._core.errors import DagsterExecutionInterruptedError
from dagster._core.events import DagsterEventType
from dagster._core.instance.ref import InstanceRef
from dagster._core.storage.event_log import SqliteEventLogStorage
from dagster._serdes import ConfigurableClassData
from dagster._utils.interrupts import check_captured_interrupt

WAIT_SECONDS = 1.0  # how long one blocked claim waits before Dagster asks again
_POLL_SECONDS = 0.1


class PlatformInstance(dg.DagsterInstance):
    """The local instance (``instance_class`` in ``dagster_home/dagster.yaml``): Dagster's SQLite storage
    in the instance folder, as by default, with :class:`SlotReclaimingEventLogStorage` as its event log."""

    @classmethod
    def config_schema(cls):
        return {}

    @staticmethod
    def config_defaults(base_dir: str):
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
