"""Where data lives and how it is reached: the one place that knows paths and the warehouse.

Every setting has a default that makes the embedded demo work (a DuckDB file and a landing folder
inside the project) and an environment variable that overrides it:

- ``DATA_PLATFORM_WAREHOUSE``  DuckDB file (default ``data/warehouse.duckdb``)
- ``DATA_PLATFORM_LANDING``    landing folder (default ``data/landing``; events under ``events/``)
- ``DATA_PLATFORM_DUCKDB_MEMORY``  DuckDB memory_limit (default ``4GB``); DuckDB spills beyond it
- ``DATA_PLATFORM_DUCKDB_THREADS`` DuckDB threads (default: all cores)
- ``DATA_PLATFORM_START_DATE`` first daily partition (default ``2026-11-01``)
- ``DATA_PLATFORM_END_DATE``   last daily partition (default: today, UTC); the demo's world ends on its last day
- ``DATA_PLATFORM_SENSORS``    ``stopped`` makes the sensors start stopped (default: running)
- ``DATA_PLATFORM_LABELING``   task batches for raters (default ``data/labeling``)
- ``DATA_PLATFORM_REPORTS``    HTML data reports (default ``data/reports``)
- ``DATA_PLATFORM_EXPORTS``    versioned dataset exports (default ``data/exports``)
- ``DATA_PLATFORM_CERTIFICATES`` erasure certificates (default ``data/privacy/certificates``)
- ``DATA_PLATFORM_LINEAGE``    OpenLineage run events written as JSON lines when no OpenLineage transport is
  configured (default ``data/lineage``; see ``provenance/openlineage.py``)
- ``DATA_PLATFORM_SETTLE_SECONDS`` how old a landing file's mtime must be before the landing sensor requests it
  and a run reads it (5)
- ``DATA_PLATFORM_MAX_LINE_BYTES`` longest landing line read as an event (1 MiB); longer: ``line_too_long``
- ``DATA_PLATFORM_MODE`` / ``DATA_PLATFORM_PSEUDONYM_KEY``: see ``base/pseudonyms.py``
- ``DATA_PLATFORM_LAKE_CATALOG``   the ``lake`` profile: a DuckLake catalog instead of the file, e.g.
  ``postgres:dbname=lake host=db.internal`` (no password in it: libpq's ``PGPASSWORD``/``PGPASSFILE`` or a
  DuckDB ``postgres`` secret); empty (the default): the DuckDB file above
- ``DATA_PLATFORM_LAKE_DATA_PATH`` where the lake's Parquet files go, e.g. ``s3://bucket/lake/``; S3 credentials
  from ``AWS_ACCESS_KEY_ID``/``AWS_SECRET_ACCESS_KEY`` (+ ``AWS_SESSION_TOKEN``, ``AWS_REGION``,
  ``AWS_ENDPOINT_URL`` for an S3-compatible store) or a persistent DuckDB ``s3`` secret; see docs/operations.md
- ``DATA_PLATFORM_LAKE_WRITERS``   on the lake: how many warehouse steps of one Dagster instance run at once (the
  ``ducklake`` pool's limit, set by ``data-platform init-instance``; default 4); the file's ``duckdb`` pool stays 1
- ``DATA_PLATFORM_BACKFILL``       ``range`` (default): a backfill is one run over the range; ``per_day``: one run
  per day, each after the days it reads (the lake's parallel backfills, through the daemon); see docs/operations.md
- ``DATA_PLATFORM_LAKE_RETENTION_DAYS`` how long lake maintenance keeps snapshots for time travel (7; 0 keeps
  only the current one); snapshots a published dataset version was read from are kept whatever their age

Every value is checked when it is read, with a message naming the variable, the value and what is
allowed; :func:`check_settings` reads them all at once (the definitions call it when they load), so a
typo stops the code location from loading instead of silently turning a guard off.
"""

from __future__ import annotations

import datetime as dt
import importlib.resources
import math
import os
import random
import re
import tempfile
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import dagster as dg
import duckdb
from dagster._utils.backoff import backoff
from dagster_duckdb import DuckDBResource
from pydantic import PrivateAttr

from data_platform.base.allocator import release_freed_memory

# The source checkout (tests and tools read the repository through it); the platform itself reads its files as
# package resources, so an installed wheel works from any folder.
PROJECT_ROOT = Path(__file__).resolve().parents[1]
# ``sql/<stage>/``: the top-level sql/ folder, reached as the package's ``sql`` (a link in the checkout, a copy
# in the wheel)
SQL_DIR = importlib.resources.files("data_platform") / "sql"

DEFAULT_START_DATE = "2026-11-01"
DEFAULT_DAGSTER_HOME = "dagster_home"  # in the current folder: the checkout's demo instance when run from its root
DEFAULT_MAX_LINE_BYTES = 1 << 20  # a longer landing line is quarantined as line_too_long
DEFAULT_LAKE_RETENTION_DAYS = 7  # lake maintenance keeps a week of snapshots (time travel) by default


class SettingError(ValueError):
    """An environment setting has a value the platform cannot use."""


class SnapshotExpired(LookupError):
    """Time travel to a lake snapshot that maintenance or an erasure expired."""


def _env(var: str, default: str, parse, allowed: str):
    """``parse(value)`` of the environment variable (``default`` when unset or empty); any failure,
    or a value ``parse`` rejects, is a :class:`SettingError` naming the variable and what is allowed."""
    raw = os.environ.get(var, "").strip() or default
    try:
        return parse(raw)
    except (ValueError, TypeError, OverflowError) as error:
        raise SettingError(f"{var}={raw!r} is not usable: {allowed} ({error})") from None


def _bounded(kind, low: float, high: float):
    def parse(raw: str):
        value = kind(raw)
        if not (math.isfinite(value) and low <= value <= high):
            raise ValueError(f"{value} is outside [{low:g}, {high:g}]")
        return value

    return parse


def _one_of(*choices: str):
    def parse(raw: str) -> str:
        if raw.lower() not in choices:
            raise ValueError(f"not one of {', '.join(choices)}")
        return raw.lower()

    return parse


def _env_path(var: str, default: str) -> Path:
    path = Path(_env(var, default, str, "a file or folder path"))
    return path if path.is_absolute() else (Path.cwd() / path)


def warehouse_path() -> Path:
    """The DuckDB warehouse file."""
    return _env_path("DATA_PLATFORM_WAREHOUSE", "data/warehouse.duckdb")


def lake_catalog() -> str:
    """The DuckLake catalog of the ``lake`` profile (``DATA_PLATFORM_LAKE_CATALOG``), or "" for the DuckDB file.

    A password in it is refused: credentials come from the environment or DuckDB secrets, never from
    a setting that ends up in run configs, logs and the UI."""

    def parse(raw: str) -> str:
        if re.search(r"(?i)\bpassword\s*=", raw):
            raise ValueError("it holds a password: set PGPASSWORD (or a PGPASSFILE, or a DuckDB postgres secret)")
        return raw.removeprefix("ducklake:")

    return _env("DATA_PLATFORM_LAKE_CATALOG", "", parse, "a DuckLake catalog such as 'postgres:dbname=lake host=db'")


def lake_data_path() -> str:
    """Where the ``lake`` profile's data files live (``DATA_PLATFORM_LAKE_DATA_PATH``; required with a catalog)."""

    def parse(raw: str) -> str:
        if lake_catalog() and not raw:
            raise ValueError("DATA_PLATFORM_LAKE_CATALOG is set, so the lake needs a data path (s3://bucket/prefix/)")
        return raw if not raw or raw.endswith("/") else raw + "/"

    return _env("DATA_PLATFORM_LAKE_DATA_PATH", "", parse, "a folder URL such as s3://bucket/lake/")


def lake_writers() -> int:
    """How many warehouse steps of one Dagster instance write the lake at once (``DATA_PLATFORM_LAKE_WRITERS``,
    default 4): the limit :func:`data_platform.launch.init_instance` gives the lake's pool."""
    return _env("DATA_PLATFORM_LAKE_WRITERS", "4", _bounded(int, 1, 1000), "a whole number of writers from 1 to 1000")


def backfill_runs() -> str:
    """How a backfill of the daily assets is cut into runs (``DATA_PLATFORM_BACKFILL``): ``range`` (one run over
    the whole range, the default: the file's one writer, ``dg launch --partition-range``) or ``per_day`` (one run
    per day, each launched once the days it reads are done: the lake's parallel writers, through the daemon)."""
    return _env("DATA_PLATFORM_BACKFILL", "range", _one_of("range", "per_day"), "range or per_day")


def lake_retention_days() -> float:
    """How many days of lake snapshots maintenance keeps (``DATA_PLATFORM_LAKE_RETENTION_DAYS``, default 7)."""
    return _env(
        "DATA_PLATFORM_LAKE_RETENTION_DAYS",
        str(DEFAULT_LAKE_RETENTION_DAYS),
        _bounded(float, 0, 36500),
        "a number of days from 0 to 36500 (fractions allowed)",
    )


def retention_cutoff(days: float | None = None) -> dt.datetime:
    """The instant before which lake maintenance expires snapshots: now (UTC) less ``days``, by default
    :func:`lake_retention_days`."""
    if days is not None and not (math.isfinite(days) and 0 <= days <= 36500):
        raise SettingError(f"a retention of {days} days is not usable: a number of days from 0 to 36500")
    kept = lake_retention_days() if days is None else days
    return dt.datetime.now(dt.UTC) - dt.timedelta(days=kept)


def dagster_home() -> Path:
    """The Dagster instance the commands use: ``DAGSTER_HOME``, else ``dagster_home`` in the current folder
    (the project's demo instance when run from the checkout, as ``make`` does)."""
    return _env_path("DAGSTER_HOME", DEFAULT_DAGSTER_HOME)


def landing_root() -> Path:
    """The landing folder; producers drop files under ``events/`` (and later ``privacy/``...)."""
    return _env_path("DATA_PLATFORM_LANDING", "data/landing")


def start_date() -> str:
    """The first daily partition (YYYY-MM-DD)."""

    def parse(raw: str) -> str:
        if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", raw):
            raise ValueError("not YYYY-MM-DD")
        return dt.date.fromisoformat(raw).isoformat()

    return _env("DATA_PLATFORM_START_DATE", DEFAULT_START_DATE, parse, "a date YYYY-MM-DD")


def end_date() -> str | None:
    """The last daily partition (YYYY-MM-DD), or None: partitions then run to today (the clock)."""
    value = os.environ.get("DATA_PLATFORM_END_DATE") or None
    if value is not None and not re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
        raise ValueError(f"DATA_PLATFORM_END_DATE must be YYYY-MM-DD, got {value!r}")
    return value


def sensors_default_status():
    """RUNNING unless ``DATA_PLATFORM_SENSORS=stopped`` (e.g. an instance used only for backfills)."""
    stopped = _env("DATA_PLATFORM_SENSORS", "running", _one_of("running", "stopped"), "running or stopped")
    return dg.DefaultSensorStatus.STOPPED if stopped == "stopped" else dg.DefaultSensorStatus.RUNNING


def duckdb_memory() -> str:
    """DuckDB's memory_limit (``DATA_PLATFORM_DUCKDB_MEMORY``, default 4GB)."""
    return _env("DATA_PLATFORM_DUCKDB_MEMORY", "4GB", _checked_size, "a size such as 512MB or 4GB")


def duckdb_threads() -> int:
    """DuckDB's threads (``DATA_PLATFORM_DUCKDB_THREADS``; 0, the default: all cores)."""
    return _env("DATA_PLATFORM_DUCKDB_THREADS", "0", _bounded(int, 0, 1024), "a whole number of threads, 0 = all")


def settle_seconds() -> float:
    """How old a landing file's mtime must be before the sensor requests it and a run reads it
    (``DATA_PLATFORM_SETTLE_SECONDS``)."""
    return _env(
        "DATA_PLATFORM_SETTLE_SECONDS",
        "5",
        _bounded(float, 0, 86400),
        "a number of seconds from 0 to 86400 (nan, inf and negative values would switch the guard off "
        "or take no file at all)",
    )


def max_line_bytes() -> int:
    """The longest landing line read as an event (``DATA_PLATFORM_MAX_LINE_BYTES``, default 1 MiB)."""
    return _env(
        "DATA_PLATFORM_MAX_LINE_BYTES",
        str(DEFAULT_MAX_LINE_BYTES),
        _bounded(int, 1024, 1 << 30),
        "a whole number of bytes from 1024 to 1073741824",
    )


def check_settings() -> None:
    """Read every environment setting; one :class:`SettingError` listing every unusable value."""
    from data_platform.base.pseudonyms import key_status

    problems = []
    for read in (
        warehouse_path,
        lake_catalog,
        lake_data_path,
        lake_writers,
        backfill_runs,
        lake_retention_days,
        landing_root,
        start_date,
        sensors_default_status,
        duckdb_memory,
        duckdb_threads,
        settle_seconds,
        max_line_bytes,
        reports_root,
        exports_root,
        labeling_root,
        certificates_root,
        lineage_root,
        key_status,
    ):
        try:
            read()
        except (SettingError, ValueError, RuntimeError) as error:
            problems.append(str(error))
    if problems:
        raise SettingError("unusable settings:\n- " + "\n- ".join(problems))


def load_sql(name: str, **fragments: str) -> str:
    """The text of ``sql/<name>``.

    ``fragments`` fill ``{placeholders}`` with SQL *structure* generated from the contract (column
    lists, per-field checks); values are never formatted in: they are bound as ``$parameters``.
    """
    text = SQL_DIR.joinpath(*name.split("/")).read_text(encoding="utf-8")
    return text.format(**fragments) if fragments else text


def repeated_key_hashes_sql(relation: str, keys: str) -> str:
    """The shared CTE body of ``sql/common/repeated_key_hashes.sql``: the 64-bit hashes of ``keys`` (a column
    list) seen on more than one row of ``relation`` (a table or CTE name), column ``key_hash``.

    Counting or listing repeated keys "hash first" groups integers instead of every key string, then
    compares exactly only the rows whose hash repeats (``WHERE hash(keys) IN (SELECT key_hash FROM ...)``):
    the same result as grouping the keys themselves. A statement takes it as a fragment
    (``{repeated_key_hashes}``), so the pattern is written once.
    """
    return load_sql("common/repeated_key_hashes.sql", relation=relation, keys=keys)


def exact_median_sql(relation: str, key: str, value: str) -> str:
    """The shared CTE body of ``sql/common/exact_median.sql``: per ``key`` of ``relation`` (a table or CTE name),
    the median of ``value`` (column ``median``, the same as DuckDB's ``median()``) and the group's row count
    (column ``n``), computed from a window so that no per-group state lives outside DuckDB's buffer pool. A
    statement takes it as a fragment, so the pattern is written once."""
    return load_sql("common/exact_median.sql", relation=relation, key=key, value=value)


def run_sql(
    con: duckdb.DuckDBPyConnection, name: str, params: Mapping[str, Any] | None = None, **fragments: str
) -> duckdb.DuckDBPyConnection:
    """Execute one statement from ``sql/<name>`` with named parameters bound (``$name`` in the SQL), then give
    the memory it freed back to the system (``base/allocator.py``)."""
    result = con.execute(load_sql(name, **fragments), dict(params or {}))
    release_freed_memory()
    return result


@contextmanager
def transaction(con: duckdb.DuckDBPyConnection) -> Iterator[duckdb.DuckDBPyConnection]:
    """``BEGIN`` ... ``COMMIT``; on any error ``ROLLBACK`` and re-raise *that* error (see :func:`rollback`)."""
    con.execute("BEGIN TRANSACTION")
    try:
        yield con
        con.execute("COMMIT")
    except BaseException as error:
        rollback(con, error)
        raise


def rollback(con: duckdb.DuckDBPyConnection, error: BaseException) -> None:
    """``ROLLBACK`` after ``error``; the caller re-raises ``error``.

    When the rollback fails too (DuckDB has already aborted the transaction after a failed commit on a
    full disk: "cannot rollback - no transaction is active"), its failure is added to ``error`` as a
    note instead of replacing it, so the root cause is what the user reads.
    """
    try:
        con.execute("ROLLBACK")
    except duckdb.Error as rollback_error:
        error.add_note(f"(the rollback failed too: {rollback_error})")


# The DuckDB extensions of the lake profile, loaded from their installed wheels (the ``lake`` extra): a plain
# LOAD would try to download them, which production machines and CI must never need.
LAKE_EXTENSIONS = ("ducklake", "httpfs", "postgres_scanner")
LAKE_INIT_ATTEMPTS = 5
LAKE_ALIAS = "lake"  # the name the DuckLake catalog is attached under (USE lake: sql/ names stay schema.table)
RETRIES_TAG = "data_platform/lake_commit_retries"  # run tag: commit conflicts retried in the run
# Every conflict means another writer committed, so the retries make progress; the bound is for a broken lake.
MAX_CONFLICT_RETRIES = 100
# Lake maintenance rewrites a data file without its deleted rows once more than this share of them is deleted
# (reads stop skipping them); an erasure rewrites every file with a deleted row (Warehouse.forget_history).
MAINTENANCE_DELETE_SHARE = 0.5
# A file in the data path that the catalog does not know is deleted only once it is this old: a younger one may
# be a running writer's, whose commit is still to come.
ORPHAN_GRACE = dt.timedelta(hours=1)
# The storage format a new warehouse file is created in (existing files keep theirs until rewritten, e.g. by an
# erasure's compaction). DuckDB otherwise writes the v0.10.2 format, whose string compression costs about 30%
# more CPU per row written at the same size or larger (docs/benchmarks.md); files of this format need DuckDB
# 1.5 or later to be read.
STORAGE_VERSION = "v1.5.0"


def create_database_file(path: str | Path) -> None:
    """Create the DuckDB file ``path`` in :data:`STORAGE_VERSION`'s format if there is no file there yet.

    The format is fixed when a file is created, and a connection's ``storage_compatibility_version`` would
    make every other connection to the file in this process need the same configuration: the file is created
    by attaching it once from an in-memory database instead. Another process creating it at the same moment
    holds its lock: that one's file is used.
    """
    if Path(path).exists() or str(path) == ":memory:":
        return
    with duckdb.connect() as con:
        try:
            con.execute(f"ATTACH '{_quote_path(Path(path))}' AS new_warehouse (STORAGE_VERSION '{STORAGE_VERSION}')")
        except duckdb.IOException:
            if not Path(path).exists():
                raise


class Warehouse(DuckDBResource):
    """The warehouse, in one of two profiles, with a memory cap (DuckDB spills beyond it) and a thread count.

    - **file** (the default, ``make demo``): the DuckDB file ``database``; one writing process at a time.
    - **lake** (``lake_catalog`` set): a DuckLake catalog (PostgreSQL) with its Parquet files under
      ``lake_data_path`` (S3-compatible storage), attached as ``lake`` and made the default database, so every
      statement of ``sql/`` runs unchanged. Several processes may write at once; a commit that conflicts with
      another writer's (DuckLake: both changed one table, one of them by a delete) is rolled back, the step is
      retried with backoff (``dg.RetryRequested``) and the retry is counted in the run's tag
      ``data_platform/lake_commit_retries``. ``database`` is then only the session's local DuckDB
      (``:memory:``), and no credential is a field here: they come from the environment or DuckDB secrets.

    All stages reach the warehouse through ``connect()``; each stage creates its own tables (its
    ``sql/<stage>/create_tables.sql``) before writing.
    """

    memory_limit: str = "4GB"
    threads: int = 0  # 0: DuckDB's default (all cores)
    lake_catalog: str = ""  # e.g. "postgres:dbname=lake host=db" (no password: PGPASSWORD or a DuckDB secret)
    lake_data_path: str = ""  # e.g. "s3://bucket/lake/"

    _conflicts: int = PrivateAttr(default=0)
    _run: Any = PrivateAttr(default=None)  # (instance, run id, log) while a Dagster run uses this resource

    @classmethod
    def from_env(cls) -> Warehouse:
        """The warehouse configured by environment variables (see the module docstring)."""
        catalog = lake_catalog()
        return cls(
            database=":memory:" if catalog else str(warehouse_path()),
            memory_limit=duckdb_memory(),
            threads=duckdb_threads(),
            lake_catalog=catalog,
            lake_data_path=lake_data_path(),
        )

    @property
    def is_lake(self) -> bool:
        """Whether this is the lake profile (a DuckLake catalog) rather than the DuckDB file."""
        return bool(self.lake_catalog)

    def exists(self) -> bool:
        """Whether there is a warehouse to read (the file exists; a lake catalog always answers)."""
        return self.is_lake or Path(self.database).exists()

    def location(self) -> str:
        """Where the warehouse is, for people (no credential is ever part of it)."""
        if self.is_lake:
            return f"DuckLake catalog {self.lake_catalog!r}, data files under {self.lake_data_path}"
        return self.database

    def setup_for_execution(self, context: dg.InitResourceContext) -> None:
        """Remember the run (instance, id, log) so that retried commit conflicts are counted on it."""
        run = context.run
        if context.instance is not None and run is not None:
            self._run = (context.instance, run.run_id, context.log)

    @contextmanager
    def connect(self, read_only: bool = False) -> Iterator[duckdb.DuckDBPyConnection]:
        """A connection with the session settings every statement in ``sql/`` assumes (UTC).

        ``read_only`` opens the file read-only (readers beside no writer), or attaches the lake read-only.
        On the lake, a commit conflict raised inside the block becomes a retry of the step (see the class).
        """
        if self.is_lake:
            spill = Path(tempfile.gettempdir()) / "data-platform-spill"
        else:
            Path(self.database).parent.mkdir(parents=True, exist_ok=True)
            spill = Path(self.database).with_suffix(".tmp")
            if not read_only:
                create_database_file(self.database)
        kwargs = {"database": self.database, "read_only": read_only and not self.is_lake}
        # a writer waits (with backoff) for another process's lock on the file; a reader is told at once
        con = (
            duckdb.connect(**kwargs)
            if read_only
            else backoff(fn=duckdb.connect, retry_on=(RuntimeError, duckdb.IOException), kwargs=kwargs, max_retries=10)
        )
        try:
            con.execute("SET TimeZone = 'UTC'")
            con.execute(f"SET memory_limit = '{_checked_size(self.memory_limit)}'")
            if self.threads:
                con.execute(f"SET threads = {int(self.threads)}")
            con.execute(f"SET temp_directory = '{_quote_path(spill)}'")  # SET takes no parameters
            # Bulk loads commit once per landed file; checkpointing after each (the default 16MB
            # threshold) rewrote the growing tables every time. The WAL keeps commits durable.
            con.execute("SET checkpoint_threshold = '1GB'")
            if self.is_lake:
                attach_lake(con, self.lake_catalog, self.lake_data_path, read_only=read_only)
            yield con
        except duckdb.TransactionException as error:
            if not (self.is_lake and is_commit_conflict(error)):
                raise
            raise self._retry(error) from error
        finally:
            con.close()
            release_freed_memory()  # the closed database's buffer pool

    def snapshot(self, con: duckdb.DuckDBPyConnection) -> int | None:
        """The lake snapshot ``con`` reads (inside a transaction: the one it started on); None on the file."""
        return run_sql(con, "common/lake_snapshot.sql").fetchone()[0] if self.is_lake else None

    @contextmanager
    def connect_at(self, snapshot: int) -> Iterator[duckdb.DuckDBPyConnection]:
        """A read-only connection to the lake as it was at ``snapshot`` (time travel; the lake profile only)."""
        if not self.is_lake:
            raise SettingError("time travel needs the lake profile (DATA_PLATFORM_LAKE_CATALOG)")
        with duckdb.connect() as con:
            con.execute("SET TimeZone = 'UTC'")
            try:
                attach_lake(con, self.lake_catalog, self.lake_data_path, snapshot=snapshot)
            except duckdb.InvalidInputException as error:
                if "No snapshot found" not in str(error):
                    raise
                with self.connect(read_only=True) as now:
                    oldest = run_sql(now, "common/lake_oldest_snapshot.sql").fetchone()[0]
                raise SnapshotExpired(
                    f"lake snapshot {snapshot} cannot be read any more: it was expired, by lake maintenance "
                    "(older than the retention and recorded by no published dataset version) or by an erasure "
                    f"(which ends every snapshot before it); the oldest readable snapshot is {oldest}"
                ) from error
            yield con

    def forget_history(self, con: duckdb.DuckDBPyConnection) -> dict[str, int]:
        """After an erasure on the lake: make what was deleted unreadable everywhere. Rewrites every data file
        with deleted rows without them, expires every snapshot but the current one and deletes the files no
        remaining snapshot reads (docs/privacy.md). Time travel before this moment ends; published dataset
        versions stay readable from their exported files, which the erasure rewrites itself. The file profile
        keeps no history: nothing to do (``{}``)."""
        if not self.is_lake:
            return {}
        rewritten = run_sql(con, "common/lake_rewrite_deleted.sql", {"delete_threshold": 0}).fetchall()
        expired = run_sql(con, "common/lake_expire_snapshots.sql").fetchall()
        deleted = run_sql(con, "common/lake_cleanup_files.sql").fetchall()
        return {
            "lake_files_rewritten": sum(r[2] for r in rewritten),
            "lake_snapshots_expired": len(expired),
            "lake_files_deleted": len(deleted),
        }

    def maintain(self, con: duckdb.DuckDBPyConnection, older_than: dt.datetime) -> dict[str, Any]:
        """Lake maintenance with DuckLake's own functions, each step its own commit (a conflict with a writer is
        retried like any other, see the class), in this order:

        1. an erasure whose rows are deleted but whose history is not yet forgotten (a run interrupted between
           the two) is finished first (:meth:`forget_history`), so no step below can keep its rows readable;
        2. each table's small adjacent files are merged (``ducklake_merge_adjacent_files``), and files with more
           than ``MAINTENANCE_DELETE_SHARE`` of their rows deleted are rewritten without them;
        3. the snapshots taken before ``older_than`` are expired, except the current one and every snapshot a
           published dataset version records (``splits.exports.lake_snapshot``: ``data-platform dataset-version``
           keeps reading them back); an erasure expires those too (:meth:`forget_history`);
        4. the files no remaining snapshot reads are deleted from the bucket, and so are files the catalog does
           not know (failed commits) older than ``older_than`` and at least ``ORPHAN_GRACE`` old.

        Returns what it did (files and bytes before and after, snapshots expired and kept), for the job's
        metadata and the CLI. The DuckDB file has no snapshots and no small files: ``{}``."""
        if not self.is_lake:
            return {}
        before = rows(con, "common/lake_files.sql")[0]
        report: dict[str, Any] = {"retention_cutoff": older_than.isoformat()}
        if (
            "privacy.requests" in existing_tables(con)
            and run_sql(con, "privacy/erased_not_reclaimed.sql").fetchone()[0]
        ):
            report.update({f"erasure_{k}": v for k, v in self.forget_history(con).items()})
            run_sql(con, "privacy/mark_reclaimed.sql")
        merged = run_sql(con, "common/lake_merge_files.sql").fetchall()
        rewritten = run_sql(
            con, "common/lake_rewrite_deleted.sql", {"delete_threshold": MAINTENANCE_DELETE_SHARE}
        ).fetchall()
        exports = (
            "splits.exports" if "splits.exports" in existing_tables(con) else "(SELECT NULL::BIGINT AS lake_snapshot)"
        )
        expirable = [
            s
            for (s,) in run_sql(
                con, "common/lake_expirable_snapshots.sql", {"older_than": older_than}, exports=exports
            ).fetchall()
        ]
        if expirable:
            run_sql(con, "common/lake_expire_versions.sql", {"versions": expirable}).fetchall()
        deleted = run_sql(con, "common/lake_cleanup_files.sql").fetchall()
        orphan_cutoff = min(older_than, dt.datetime.now(dt.UTC) - ORPHAN_GRACE)
        orphans = run_sql(con, "common/lake_delete_orphans.sql", {"older_than": orphan_cutoff}).fetchall()
        after = rows(con, "common/lake_files.sql")[0]
        since = {"older_than": older_than}
        (kept,) = run_sql(con, "common/lake_export_snapshots.sql", since, exports=exports).fetchone()
        report.update(
            {
                "lake_files_merged": sum(r[2] for r in merged),
                "lake_files_written": sum(r[3] for r in merged) + sum(r[3] for r in rewritten),
                "lake_files_rewritten": sum(r[2] for r in rewritten),
                "lake_snapshots_expired": len(expirable),
                "lake_snapshots_kept_for_exports": kept,
                "lake_files_deleted": len(deleted),
                "lake_orphans_deleted": len(orphans),
                **{f"lake_{k}_before": v for k, v in before.items()},
                **{f"lake_{k}_after": v for k, v in after.items()},
            }
        )
        return report

    def _retry(self, error: duckdb.TransactionException) -> dg.RetryRequested:
        """Count a commit conflict (on the run's tag, in its log) and ask Dagster to retry the step after a
        jittered exponential backoff."""
        self._conflicts += 1
        wait = min(10.0, 0.25 * 2 ** min(self._conflicts, 6)) * random.uniform(0.5, 1.5)
        if self._run is not None:
            instance, run_id, log = self._run
            run = instance.get_run_by_id(run_id)
            counted = int(run.tags.get(RETRIES_TAG, "0")) + 1 if run is not None else self._conflicts
            instance.add_run_tags(run_id, {RETRIES_TAG: str(counted)})
            if log is not None:
                log.warning(
                    f"lake commit conflict #{counted} in this run, retrying the step in {wait:.1f} s: "
                    f"{str(error).splitlines()[-1]}"
                )
        return dg.RetryRequested(max_retries=MAX_CONFLICT_RETRIES, seconds_to_wait=wait)


def is_commit_conflict(error: BaseException) -> bool:
    """Whether a DuckLake commit failed because another writer committed a conflicting change first."""
    return isinstance(error, duckdb.TransactionException) and "Transaction conflict" in str(error)


def load_lake_extensions() -> None:
    """Install the lake's extensions from their wheels into DuckDB's extension folder (once per process)."""
    global _LAKE_EXTENSIONS_READY
    if _LAKE_EXTENSIONS_READY:
        return
    try:
        import duckdb_extensions
    except ImportError as error:
        raise SettingError(
            "the lake profile needs the DuckLake extensions: pip install 'data_platform[lake]'"
        ) from error
    for name in LAKE_EXTENSIONS:
        duckdb_extensions.import_extension(name)
    _LAKE_EXTENSIONS_READY = True


_LAKE_EXTENSIONS_READY = False


def attach_lake(
    con: duckdb.DuckDBPyConnection,
    catalog: str,
    data_path: str,
    *,
    read_only: bool = False,
    snapshot: int | None = None,
) -> None:
    """Load the lake's extensions, create the S3 secret from the environment (when ``AWS_ACCESS_KEY_ID`` is set;
    else DuckDB's persistent secrets answer), attach the DuckLake ``catalog`` as ``lake`` and use it.
    ``snapshot`` attaches it read-only as it was at that snapshot (time travel)."""
    load_lake_extensions()
    for name in LAKE_EXTENSIONS:
        con.execute(f"LOAD {name}")
    if os.environ.get("AWS_ACCESS_KEY_ID"):
        run_sql(con, "common/s3_secret.sql", s3_secret_params())
    # ATTACH takes no parameters: the catalog and the path (never a credential, see lake_catalog) are quoted
    # no data inlined into the catalog: every row lives in a Parquet file, so an erasure can rewrite and delete
    # the files that held a person (rows deleted from inlined data stay in the catalog's tables)
    options = f"DATA_PATH {_sql_literal(data_path)}, DATA_INLINING_ROW_LIMIT 0"
    if read_only or snapshot is not None:
        options += ", READ_ONLY"
    if snapshot is not None:
        options += f", SNAPSHOT_VERSION {int(snapshot)}"
    for attempt in range(LAKE_INIT_ATTEMPTS):
        try:
            run_sql(con, "common/attach_lake.sql", catalog=_sql_literal(f"ducklake:{catalog}"), options=options)
            break
        except duckdb.Error as error:
            # the first attach of a new, empty catalog creates its tables: two processes doing it at once
            # collide in PostgreSQL, and the loser attaches again to the catalog the winner made
            if "Failed to initialize DuckLake" not in str(error) or attempt == LAKE_INIT_ATTEMPTS - 1:
                raise
            time.sleep(0.5 * (attempt + 1))
    con.execute(f"USE {LAKE_ALIAS}")


def s3_secret_params() -> dict[str, Any]:
    """The S3 secret's values from the standard AWS variables (an ``AWS_ENDPOINT_URL`` names an S3-compatible
    store: its host and port, TLS by its scheme, path-style URLs)."""
    endpoint = os.environ.get("AWS_ENDPOINT_URL_S3") or os.environ.get("AWS_ENDPOINT_URL") or ""
    scheme, _, host = endpoint.rpartition("://")
    return {
        "key_id": os.environ["AWS_ACCESS_KEY_ID"],
        "secret": os.environ.get("AWS_SECRET_ACCESS_KEY", ""),
        "session_token": os.environ.get("AWS_SESSION_TOKEN", ""),
        "region": os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or "us-east-1",
        "endpoint": host.rstrip("/") or "s3.amazonaws.com",
        "use_ssl": scheme != "http",
        "url_style": "path" if endpoint else "vhost",
    }


def _checked_size(value: str) -> str:
    if not re.fullmatch(r"\d+(\.\d+)?\s*(KB|MB|GB|TB|KiB|MiB|GiB|TiB|B)", value.strip(), re.IGNORECASE):
        raise ValueError(f"DuckDB memory limit must look like '4GB', got {value!r}")
    return value.strip()


def _sql_literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _quote_path(path: Path) -> str:
    return str(path).replace("'", "''")


class LandingZone(dg.ConfigurableResource):
    """The folder producers drop files into (``events/`` for event logs).

    ``settle_seconds``: the landing sensor requests, and a run reads, a file only once its mtime is this
    old, a guard for producers that write in place instead of renaming a finished file into the folder.
    """

    root: str
    settle_seconds: float = 5.0
    max_line_bytes: int = DEFAULT_MAX_LINE_BYTES
    max_file_attempts: int = 3  # a file whose landing fails this often is set aside until it changes

    @classmethod
    def from_env(cls) -> LandingZone:
        """The landing zone from ``DATA_PLATFORM_LANDING``, ``DATA_PLATFORM_SETTLE_SECONDS`` and
        ``DATA_PLATFORM_MAX_LINE_BYTES``."""
        return cls(
            root=str(landing_root()),
            settle_seconds=settle_seconds(),
            max_line_bytes=max_line_bytes(),
        )

    def events_dir(self) -> Path:
        """Where raw event log files land."""
        return Path(self.root) / "events"

    def privacy_dir(self) -> Path:
        """Where consent and erasure requests land (JSONL)."""
        return Path(self.root) / "privacy"

    def annotations_dir(self) -> Path:
        """Where Label Studio JSON exports land (gold answers, CSV, under ``gold/``)."""
        return Path(self.root) / "annotations"


def reports_root() -> Path:
    """Where the HTML data reports go (``DATA_PLATFORM_REPORTS``, default ``data/reports``)."""
    return _env_path("DATA_PLATFORM_REPORTS", "data/reports")


def exports_root() -> Path:
    """Where versioned dataset exports go (``DATA_PLATFORM_EXPORTS``, default ``data/exports``)."""
    return _env_path("DATA_PLATFORM_EXPORTS", "data/exports")


def labeling_root() -> Path:
    """Where task batches for raters are written (``DATA_PLATFORM_LABELING``, default ``data/labeling``)."""
    return _env_path("DATA_PLATFORM_LABELING", "data/labeling")


def certificates_root() -> Path:
    """Where erasure certificates go (``DATA_PLATFORM_CERTIFICATES``, default ``data/privacy/certificates``)."""
    return _env_path("DATA_PLATFORM_CERTIFICATES", "data/privacy/certificates")


def lineage_root() -> Path:
    """Where the OpenLineage events go when no OpenLineage transport is configured (``DATA_PLATFORM_LINEAGE``,
    default ``data/lineage``)."""
    return _env_path("DATA_PLATFORM_LINEAGE", "data/lineage")


class LabelingDesk(dg.ConfigurableResource):
    """The outbox of the human-labeling round trip: Label Studio task files and the labeling config."""

    root: str

    @classmethod
    def from_env(cls) -> LabelingDesk:
        """The desk at ``DATA_PLATFORM_LABELING``."""
        return cls(root=str(labeling_root()))

    def tasks_dir(self) -> Path:
        """Where each batch's ``<batch_id>.tasks.json`` and ``labeling_config.xml`` are written."""
        return Path(self.root) / "tasks"


def rows(
    con: duckdb.DuckDBPyConnection, sql_name: str, params: Mapping[str, Any] | None = None, **fragments: str
) -> list[dict]:
    """Run a query from ``sql/`` and return its rows as dicts (for small results only)."""
    cur = run_sql(con, sql_name, params, **fragments)
    names = [d[0] for d in cur.description]
    return [dict(zip(names, r)) for r in cur.fetchall()]


def existing_tables(con: duckdb.DuckDBPyConnection) -> set[str]:
    """``schema.table`` of every table and view in the warehouse (for steps that read optional tables)."""
    return {f"{s}.{t}" for s, t in run_sql(con, "common/existing_tables.sql").fetchall()}


def write_rows(con: duckdb.DuckDBPyConnection, table: str, records: list[dict], schema, *, replace: bool) -> None:
    """Write rows computed in Python to ``table`` through Arrow, typed by ``schema`` (a pyarrow schema):
    ``replace`` recreates the table from them, else they are appended (columns matched by name; an
    empty list appends nothing)."""
    import pyarrow as pa

    if not records and not replace:
        return
    relation = pa.Table.from_pylist(records, schema=schema)
    con.register("py_rows", relation)
    try:
        run_sql(
            con,
            "common/replace_with_relation.sql" if replace else "common/append_relation.sql",
            table=table,
            relation="py_rows",
        )
    finally:
        con.unregister("py_rows")


__all__ = [
    "LabelingDesk",
    "existing_tables",
    "write_rows",
    "LandingZone",
    "Warehouse",
    "landing_root",
    "load_sql",
    "rows",
    "run_sql",
    "end_date",
    "start_date",
    "warehouse_path",
]
