"""The landing sensor: new or changed files in the landing folder become partition runs.

Rules it keeps (each is tested over several ticks):
- a file is taken only when its size and mtime are the same on two consecutive ticks, so a file
  still being written is never ingested half-way (names ending in ``.tmp`` are never taken);
- the cursor remembers every (path, size, mtime) it requested runs for, not a high-water mark, so
  files that arrive with older mtimes are still seen;
- it requests runs for exactly the days the file's lines fall on (plus, for a changed file, the
  days its previous version touched, so its old rows are replaced);
- at most ``max_runs_per_tick`` runs per tick; the rest wait in the cursor's backlog;
- it never opens the warehouse (a running step may hold DuckDB's write lock); it reads the
  files' ``ts`` with a private in-memory DuckDB.
"""


import datetime as dt
import hashlib
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import dagster as dg

from data_platform.ingestion.landing import LandingFile, list_landing_files, scan_file_days
from data_platform.partitions import daily_partitions, partitions_start
from data_platform.resources import LandingZone, sensors_default_status

MAX_RUNS_PER_TICK = 10
SCAN_BUDGET_SECONDS = 30.0  # sensor ticks time out at 60 s; leave room


@dataclass
class LandingCursor:
    """What the sensor remembers between ticks (stored as JSON in the sensor cursor)."""

    seen: dict[str, list] = field(default_factory=dict)  # rel -> [size, mtime_ns, [days]]
    pending: dict[str, list] = field(default_factory=dict)  # rel -> [size, mtime_ns] seen once
    backlog: dict[str, list[str]] = field(default_factory=dict)  # day -> file tokens not yet requested

    @classmethod
    def load(cls, raw: str | None) -> "LandingCursor":
        if not raw:
            return cls()
        data = json.loads(raw)
        return cls(seen=data.get("seen", {}), pending=data.get("pending", {}), backlog=data.get("backlog", {}))

    def dump(self) -> str:
        return json.dumps({"seen": self.seen, "pending": self.pending, "backlog": self.backlog}, sort_keys=True)


@dataclass(frozen=True)
class DayRequest:
    day: str
    tokens: tuple[str, ...]  # "path@size@mtime_ns" of the files that made this day due

    @property
    def run_key(self) -> str:
        digest = hashlib.sha256("\n".join(sorted(self.tokens)).encode()).hexdigest()[:16]
        return f"{self.day}:{digest}"


def plan_tick(
    cursor: LandingCursor,
    files: list[LandingFile],
    scan: Callable[[LandingFile], list[dt.date]],
    *,
    is_partition: Callable[[str], bool] = lambda day: True,
    max_runs: int = MAX_RUNS_PER_TICK,
    budget_seconds: float = SCAN_BUDGET_SECONDS,
    clock: Callable[[], float] = time.monotonic,
) -> tuple[list[DayRequest], LandingCursor, list[str]]:
    """One sensor tick as a pure function: which days to run now, the new cursor, log lines.

    Days that are not partitions yet (an event stamped tomorrow) stay in the backlog until they are.
    """
    started = clock()
    log: list[str] = []
    present = {f.rel for f in files}
    cursor.pending = {rel: fp for rel, fp in cursor.pending.items() if rel in present}
    for lf in files:
        fingerprint = [lf.size, lf.mtime_ns]
        previous = cursor.seen.get(lf.rel)
        if previous and previous[:2] == fingerprint:
            continue
        if cursor.pending.get(lf.rel) != fingerprint:
            cursor.pending[lf.rel] = fingerprint  # first sight, or still changing: wait a tick
            continue
        if clock() - started > budget_seconds:
            log.append(f"scan budget used up; {lf.rel} waits for the next tick")
            break
        days = [d.isoformat() for d in scan(lf)]
        old_days = previous[2] if previous else []
        token = f"{lf.rel}@{lf.size}@{lf.mtime_ns}"
        for day in sorted(set(days) | set(old_days)):
            cursor.backlog.setdefault(day, []).append(token)
        cursor.seen[lf.rel] = [*fingerprint, days]
        del cursor.pending[lf.rel]
        log.append(f"{'changed' if previous else 'new'} file {lf.rel}: days {days}")
    due = [day for day in sorted(cursor.backlog) if is_partition(day)][:max_runs]
    requests = [DayRequest(day, tuple(cursor.backlog.pop(day))) for day in due]
    if cursor.backlog:
        log.append(f"{len(cursor.backlog)} more day(s) wait for the next tick (cap {max_runs} runs per tick)")
    return requests, cursor, log


def build_landing_sensor(job) -> dg.SensorDefinition:
    """The landing sensor, targeting the partitioned ingestion job; RUNNING by default."""

    @dg.sensor(
        name="landing_sensor",
        job=job,
        minimum_interval_seconds=30,
        default_status=sensors_default_status(),
        description="Watches the landing folder's events/ and requests an ingestion run for every day "
        "that new or changed files (stable for two ticks) have lines on.",
    )
    def landing_sensor(context: dg.SensorEvaluationContext, landing: LandingZone):
        cursor = LandingCursor.load(context.cursor)
        now = dt.datetime.now(dt.timezone.utc)
        min_ts = partitions_start()

        def scan(lf: LandingFile) -> list[dt.date]:
            fallback = min(max(lf.mtime.date(), min_ts.date()), now.date())
            return scan_file_days(
                lf.path, lf.compressed, min_ts=min_ts, max_ts=now + dt.timedelta(days=1), fallback_day=fallback
            )

        partition_keys = set(daily_partitions.get_partition_keys())
        requests, cursor, log = plan_tick(
            cursor, list_landing_files(landing.events_dir()), scan, is_partition=partition_keys.__contains__
        )
        for line in log:
            context.log.info(line)
        context.update_cursor(cursor.dump())
        if not requests:
            return dg.SkipReason("no new or changed stable files")
        return [
            dg.RunRequest(
                run_key=r.run_key,
                partition_key=r.day,
                tags={"data_platform/trigger": "landing_sensor", "data_platform/files": str(len(r.tokens)),
                      # fresh data goes ahead of queued backfill runs (the queue is otherwise first in, first out)
                      "dagster/priority": "1"},
            )
            for r in requests
        ]

    return landing_sensor
