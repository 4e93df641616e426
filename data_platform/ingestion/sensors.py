"""The landing sensor: new or changed files in the landing folder become partition runs.

What a file has become is the warehouse's business: ``raw.files``, the ledger every run writes when it
lands a file, says which version of each path is landed (size, mtime, the days its lines fall on). The
sensor compares the folder with that ledger; its cursor only holds what is in flight, so it stays small
whatever the history (files seen once and waiting to be stable, files handed to runs not landed yet,
days waiting for a run).

Rules it keeps (each is tested over several ticks):
- a file is complete, and taken, once nothing was written to it for the landing zone's settle time
  (``DATA_PLATFORM_SETTLE_SECONDS``, 5 s), judged by its mtime within one tick: a tick that sees a new file
  younger than that waits for it to settle (at most :data:`SETTLE_WAIT_CAP_SECONDS`) and looks again, so a
  file still being written is never ingested half-way, and one renamed into place is requested about
  the settle time after its last write; names that mark a file in progress (``.name``, ``_name``,
  ``name.jsonl.tmp``: :func:`~data_platform.ingestion.landing.is_landing_name`) are never taken. Runs
  apply the same settle time, so a file the sensor requests is one its run will read;
- a file is new when the ledger has no current version of its path with its size and mtime, whatever
  its mtime (files that arrive with older mtimes are still seen), and whoever landed it (a backfill,
  ``dg launch``, a run of this sensor);
- it requests runs for exactly the days the file's lines fall on (plus, for a changed file, the
  days its landed version touched, so its old rows are replaced);
- every run lands every new file, so a run of another day (a backfill's) may land a file first: the
  file's days outside that run's partitions are requested all the same (the cursor keeps the landing
  time of the newest ledger entry it looked at);
- at most ``max_runs_per_tick`` runs per tick; the rest wait in the cursor's backlog;
- it opens the warehouse read-only for the ledger, for a moment; while a run holds DuckDB's write
  lock it waits a few seconds, then skips the tick and says so; it reads the files' ``ts`` with a
  private in-memory DuckDB;
- every tick says in one line what it did (the tick's log, and the skip reason when it requests nothing).
"""

import datetime as dt
import hashlib
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import dagster as dg
import duckdb

from data_platform.ingestion.landing import LandingFile, list_landing_files, scan_file_days
from data_platform.partitions import daily_partitions, partitions_start
from data_platform.resources import LandingZone, Warehouse, existing_tables, run_sql, sensors_default_status

MAX_RUNS_PER_TICK = 10
# The daemon looks at its sensors every 5 s (at most). A minimum interval of 5 s would skip every other look
# whenever a look comes a moment less than 5 s after the previous tick (10 s between ticks, measured): 1 s
# lets the landing sensor tick on every look.
MIN_INTERVAL_SECONDS = 1
SETTLE_WAIT_CAP_SECONDS = 10.0  # a tick waits this long at most for new files to settle (ticks time out at 60 s)
SCAN_BUDGET_SECONDS = 30.0  # sensor ticks time out at 60 s; leave room
LEDGER_WAIT_SECONDS = 15.0  # how long a tick waits for a writing run to release the warehouse


@dataclass(frozen=True)
class Landed:
    """The ledger's current version of a path (``raw.files``)."""

    size: int
    mtime: dt.datetime
    days: tuple[str, ...]
    landed_at: dt.datetime | None = None
    run_id: str | None = None  # the run that landed it

    def matches(self, lf: LandingFile) -> bool:
        return self.size == lf.size and self.mtime == lf.mtime


def read_ledger(
    warehouse: Warehouse | str | Path,
    *,
    wait_seconds: float = LEDGER_WAIT_SECONDS,
    clock: Callable[[], float] = time.monotonic,
) -> dict[str, Landed] | None:
    """``{path: Landed}`` of every current file in ``raw.files`` (empty before the first landing), or
    None when a writing run held the warehouse file for ``wait_seconds`` (DuckDB: one writing process, and
    no reader beside it; the lake has no such lock). A path stands for the DuckDB file there."""
    if not isinstance(warehouse, Warehouse):
        warehouse = Warehouse(database=str(warehouse))
    if not warehouse.exists():
        return {}
    deadline = clock() + wait_seconds
    while True:
        try:
            with warehouse.connect(read_only=True) as con:
                return _ledger(con)
        except duckdb.IOException:  # a writing run holds the file
            if clock() >= deadline:
                return None
            time.sleep(0.5)


def _ledger(con: duckdb.DuckDBPyConnection) -> dict[str, Landed]:
    if "raw.files" not in existing_tables(con):
        return {}
    return {
        rel: Landed(
            size,
            mtime.astimezone(dt.UTC),
            tuple(d.isoformat() for d in days),
            landed_at.astimezone(dt.UTC),
            run_id,
        )
        for rel, size, mtime, days, landed_at, run_id in run_sql(con, "ingestion/ledger.sql").fetchall()
    }


@dataclass
class LandingCursor:
    """What the sensor remembers between ticks (JSON in the sensor cursor): only what is in flight.

    ``requested`` may also be set by an operator (``dagster sensor cursor --set``) to files a backfill
    is about to land, so the sensor leaves them to it.
    """

    pending: dict[str, list] = field(default_factory=dict)  # rel -> [size, mtime_ns] new, not settled yet
    requested: dict[str, list] = field(default_factory=dict)  # rel -> [size, mtime_ns] handed to runs, not landed
    backlog: dict[str, list] = field(default_factory=dict)  # day -> [files, digest of their versions] not requested
    landed_until: str | None = None  # landed_at of the newest ledger entry whose days were looked at

    @classmethod
    def load(cls, raw: str | None) -> "LandingCursor":
        if not raw:
            return cls()
        data = json.loads(raw)  # a cursor of the old format ("seen": every file ever) keeps only what is in flight
        backlog = {
            day: v if len(v) == 2 and isinstance(v[0], int) else [len(v), _digest(v)]
            for day, v in data.get("backlog", {}).items()
        }
        return cls(
            pending=data.get("pending", {}),
            requested=data.get("requested", {}),
            backlog=backlog,
            landed_until=data.get("landed_until"),
        )

    def dump(self) -> str:
        return json.dumps(
            {
                "pending": self.pending,
                "requested": self.requested,
                "backlog": self.backlog,
                "landed_until": self.landed_until,
            },
            sort_keys=True,
        )


def _digest(tokens, previous: str = "") -> str:
    return hashlib.sha256("\n".join([previous, *sorted(tokens)]).encode()).hexdigest()[:16]


@dataclass(frozen=True)
class DayRequest:
    day: str
    files: int  # file versions that made this day due
    digest: str  # of those versions ("path@size@mtime_ns"): a new version makes a new run key

    @property
    def run_key(self) -> str:
        return f"{self.day}:{self.digest}"


def _is_new(lf: LandingFile, ledger: dict[str, Landed], cursor: LandingCursor) -> bool:
    """Not landed in this version, and not handed to a run in this version either."""
    landed = lf.rel in ledger and ledger[lf.rel].matches(lf)
    return not landed and cursor.requested.get(lf.rel) != [lf.size, lf.mtime_ns]


def settle_wait(
    files: list[LandingFile],
    ledger: dict[str, Landed],
    cursor: LandingCursor,
    now: float,
    settle_seconds: float,
    cap_seconds: float = SETTLE_WAIT_CAP_SECONDS,
) -> float:
    """Seconds until the new files not settled at ``now`` (unix seconds) all are, if that is at most
    ``cap_seconds`` (files further off are left to later ticks); 0 when there is nothing to wait for."""
    remaining = [
        settle_seconds - (now - lf.mtime_ns / 1e9)
        for lf in files
        if _is_new(lf, ledger, cursor) and not lf.settled(now, settle_seconds)
    ]
    return max((r for r in remaining if r <= cap_seconds), default=0.0)


def settled_listing(
    events_dir: Path,
    ledger: dict[str, Landed],
    cursor: LandingCursor,
    settle_seconds: float,
    *,
    clock: Callable[[], float] = time.time,
    sleep: Callable[[float], None] = time.sleep,
) -> list[LandingFile]:
    """The landing files, listed once the new files seen younger than ``settle_seconds`` have settled (see
    :func:`settle_wait`): the settle time is judged within one tick instead of one tick later. A file written
    to during the wait is listed with its new mtime, so it is still not settled."""
    files = list_landing_files(events_dir)
    wait = settle_wait(files, ledger, cursor, clock(), settle_seconds)
    if wait <= 0:
        return files
    sleep(wait)
    return list_landing_files(events_dir)


def plan_tick(
    cursor: LandingCursor,
    files: list[LandingFile],
    ledger: dict[str, Landed],
    scan: Callable[[LandingFile], list[dt.date]],
    *,
    now: float | None = None,
    settle_seconds: float = 5.0,
    is_partition: Callable[[str], bool] = lambda day: True,
    run_days: Callable[[str | None], set[str]] = lambda run_id: set(),
    max_runs: int = MAX_RUNS_PER_TICK,
    budget_seconds: float = SCAN_BUDGET_SECONDS,
    clock: Callable[[], float] = time.monotonic,
) -> tuple[list[DayRequest], LandingCursor, str]:
    """One sensor tick as a pure function: which days to run now, the new cursor, one line saying what it did.

    A new file is taken once it is settled at ``now`` (unix seconds, default the current time): nothing
    written to it for ``settle_seconds``, by its mtime. Days that are not partitions yet (an event stamped
    tomorrow) stay in the backlog until they are. A file some other run landed (every run lands every new
    file) is cut only on that run's own days (``run_days``): its other days go to the backlog, so they are
    not left out of raw.events.
    """
    started = clock()
    now = time.time() if now is None else now
    present = {f.rel: [f.size, f.mtime_ns] for f in files}
    landed = {f.rel for f in files if f.rel in ledger and ledger[f.rel].matches(f)}
    newly = {
        rel: e
        for rel, e in ledger.items()
        if e.landed_at is not None and (cursor.landed_until is None or e.landed_at.isoformat() > cursor.landed_until)
    }
    for rel, entry in sorted(newly.items()):
        if rel in cursor.requested:
            continue  # handed to runs for all its days (by this sensor, or to a backfill)
        for day in sorted(set(entry.days) - run_days(entry.run_id)):
            count, digest = cursor.backlog.get(day, [0, ""])
            cursor.backlog[day] = [count + 1, _digest([f"{rel}@landed@{entry.landed_at.isoformat()}"], digest)]
    if newly:
        cursor.landed_until = max(e.landed_at for e in newly.values()).isoformat()
    cursor.pending = {}
    cursor.requested = {rel: fp for rel, fp in cursor.requested.items() if present.get(rel) == fp and rel not in landed}
    new_files, changed, waiting = 0, 0, 0
    for lf in files:
        fingerprint = [lf.size, lf.mtime_ns]
        if not _is_new(lf, ledger, cursor):
            continue
        if not lf.settled(now, settle_seconds):
            cursor.pending[lf.rel] = fingerprint  # written to a moment ago: maybe not complete yet
            continue
        if clock() - started > budget_seconds:
            waiting += 1  # scan budget used up: the next tick takes it
            continue
        previous = ledger.get(lf.rel)
        token = f"{lf.rel}@{lf.size}@{lf.mtime_ns}"
        for day in sorted({d.isoformat() for d in scan(lf)} | set(previous.days if previous else ())):
            count, digest = cursor.backlog.get(day, [0, ""])
            cursor.backlog[day] = [count + 1, _digest([token], digest)]
        cursor.requested[lf.rel] = fingerprint
        changed += previous is not None
        new_files += previous is None
    due = [day for day in sorted(cursor.backlog) if is_partition(day)][:max_runs]
    requests = [DayRequest(day, *cursor.backlog.pop(day)) for day in due]
    parts = [f"{len(landed)} files landed"]
    if new_files or changed:
        parts.append(f"{new_files} new and {changed} changed settled files")
    if requests:
        parts.append(f"requested {len(requests)} day runs ({_days_text([r.day for r in requests])})")
    if cursor.requested:
        parts.append(f"{len(cursor.requested)} files wait for their run to land them")
    if cursor.pending:
        parts.append(f"{len(cursor.pending)} files written to less than {settle_seconds:g} s ago, taken once settled")
    if waiting:
        parts.append(f"scan budget used up, {waiting} settled files wait for the next tick")
    if cursor.backlog:
        blocked = [day for day in cursor.backlog if not is_partition(day)]
        parts.append(
            f"{len(cursor.backlog)} days wait (cap {max_runs} runs per tick"
            + (f"; {len(blocked)} are not partitions yet" if blocked else "")
            + ")"
        )
    return requests, cursor, "; ".join(parts)


def run_partition_days(instance, run_id: str | None) -> set[str]:
    """The days a run of the instance covers (its partition, or its partition range); none if unknown."""
    run = instance.get_run_by_id(run_id) if run_id else None
    if run is None:
        return set()
    tags = run.tags
    if "dagster/partition" in tags:
        return {tags["dagster/partition"]}
    start, end = tags.get("dagster/asset_partition_range_start"), tags.get("dagster/asset_partition_range_end")
    if start and end:
        return set(daily_partitions.get_partition_keys_in_range(dg.PartitionKeyRange(start, end)))
    return set()


def _days_text(days: list[str]) -> str:
    return ", ".join(days) if len(days) <= 3 else f"{days[0]}...{days[-1]}"


def build_landing_sensor(job) -> dg.SensorDefinition:
    """The landing sensor, targeting the partitioned ingestion job; RUNNING by default."""

    @dg.sensor(
        name="landing_sensor",
        job=job,
        minimum_interval_seconds=MIN_INTERVAL_SECONDS,
        default_status=sensors_default_status(),
        description="Watches the landing folder's events/ and requests a daily_pipeline run for every day "
        "that new or changed files (settled: not written to for the settle time; not in the raw.files ledger "
        "yet) have lines on.",
    )
    def landing_sensor(context: dg.SensorEvaluationContext, landing: LandingZone, warehouse: Warehouse):
        cursor = LandingCursor.load(context.cursor)
        ledger = read_ledger(warehouse)
        if ledger is None:
            message = "the warehouse is busy (a run is writing): looking again on the next tick"
            context.log.info(message)
            return dg.SkipReason(message)
        now = dt.datetime.now(dt.UTC)
        min_ts = partitions_start()

        def scan(lf: LandingFile) -> list[dt.date]:
            fallback = min(max(lf.mtime.date(), min_ts.date()), now.date())
            return scan_file_days(
                lf.path, lf.compressed, min_ts=min_ts, max_ts=now + dt.timedelta(days=1), fallback_day=fallback
            )

        partition_keys = set(daily_partitions.get_partition_keys())
        files = settled_listing(landing.events_dir(), ledger, cursor, landing.settle_seconds)
        requests, cursor, summary = plan_tick(
            cursor,
            files,
            ledger,
            scan,
            now=time.time(),
            settle_seconds=landing.settle_seconds,
            is_partition=partition_keys.__contains__,
            run_days=lambda run_id: run_partition_days(context.instance, run_id),
        )
        context.log.info(summary)
        context.update_cursor(cursor.dump())
        if not requests:
            return dg.SkipReason(summary)
        return [
            dg.RunRequest(
                run_key=r.run_key,
                partition_key=r.day,
                tags={
                    "data_platform/trigger": "landing_sensor",
                    "data_platform/files": str(r.files),
                    # fresh data goes ahead of queued backfill runs (the queue is otherwise first in, first out)
                    "dagster/priority": "1",
                },
            )
            for r in requests
        ]

    return landing_sensor
