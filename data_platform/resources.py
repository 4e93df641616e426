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
- ``DATA_PLATFORM_SETTLE_SECONDS`` how old a landing file's mtime must be before the landing sensor requests it
  and a run reads it (5)
- ``DATA_PLATFORM_MAX_LINE_BYTES`` longest landing line read as an event (1 MiB); longer: ``line_too_long``
- ``DATA_PLATFORM_MODE`` / ``DATA_PLATFORM_PSEUDONYM_KEY``: see ``base/pseudonyms.py``

Every value is checked when it is read, with a message naming the variable, the value and what is
allowed; :func:`check_settings` reads them all at once (the definitions call it when they load), so a
typo stops the code location from loading instead of silently turning a guard off.
"""

from __future__ import annotations

import datetime as dt
import importlib.resources
import math
import os
import re
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import dagster as dg
import duckdb
from dagster_duckdb import DuckDBResource

# The source checkout (tests and tools read the repository through it); the platform itself reads its files as
# package resources, so an installed wheel works from any folder.
PROJECT_ROOT = Path(__file__).resolve().parents[1]
# ``sql/<stage>/``: the top-level sql/ folder, reached as the package's ``sql`` (a link in the checkout, a copy
# in the wheel)
SQL_DIR = importlib.resources.files("data_platform") / "sql"

DEFAULT_START_DATE = "2026-11-01"
DEFAULT_DAGSTER_HOME = "dagster_home"  # in the current folder: the checkout's demo instance when run from its root
DEFAULT_MAX_LINE_BYTES = 1 << 20  # a longer landing line is quarantined as line_too_long


class SettingError(ValueError):
    """An environment setting has a value the platform cannot use."""


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


def run_sql(
    con: duckdb.DuckDBPyConnection, name: str, params: Mapping[str, Any] | None = None, **fragments: str
) -> duckdb.DuckDBPyConnection:
    """Execute one statement from ``sql/<name>`` with named parameters bound (``$name`` in the SQL)."""
    return con.execute(load_sql(name, **fragments), dict(params or {}))


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


class Warehouse(DuckDBResource):
    """The DuckDB warehouse: a file, a memory cap (DuckDB spills to disk beyond it) and a thread count.

    All stages reach the warehouse through ``connect()``; each stage creates its own tables (its
    ``sql/<stage>/create_tables.sql``) before writing. Moving to another storage engine means replacing
    this resource, not the assets.
    """

    memory_limit: str = "4GB"
    threads: int = 0  # 0: DuckDB's default (all cores)

    @classmethod
    def from_env(cls) -> Warehouse:
        """The warehouse configured by environment variables (see the module docstring)."""
        return cls(
            database=str(warehouse_path()),
            memory_limit=duckdb_memory(),
            threads=duckdb_threads(),
        )

    @contextmanager
    def connect(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """A connection with the session settings every statement in ``sql/`` assumes (UTC)."""
        Path(self.database).parent.mkdir(parents=True, exist_ok=True)
        with self.get_connection() as con:
            con.execute("SET TimeZone = 'UTC'")
            con.execute(f"SET memory_limit = '{_checked_size(self.memory_limit)}'")
            if self.threads:
                con.execute(f"SET threads = {int(self.threads)}")
            spill = Path(self.database).with_suffix(".tmp")
            con.execute(f"SET temp_directory = '{_quote_path(spill)}'")  # SET takes no parameters
            # Bulk loads commit once per landed file; checkpointing after each (the default 16MB
            # threshold) rewrote the growing tables every time. The WAL keeps commits durable.
            con.execute("SET checkpoint_threshold = '1GB'")
            try:
                yield con
            finally:
                # DuckDBResource closes only after a clean exit: a failed step's connection stayed open (held by
                # the traceback), and the next connection in the process with other settings was refused
                con.close()


def _checked_size(value: str) -> str:
    if not re.fullmatch(r"\d+(\.\d+)?\s*(KB|MB|GB|TB|KiB|MiB|GiB|TiB|B)", value.strip(), re.IGNORECASE):
        raise ValueError(f"DuckDB memory limit must look like '4GB', got {value!r}")
    return value.strip()


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
