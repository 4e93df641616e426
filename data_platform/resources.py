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
- ``DATA_PLATFORM_SETTLE_SECONDS`` how old a landing file's mtime must be before a run takes it (5)
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import dagster as dg
import duckdb
from dagster_duckdb import DuckDBResource

PROJECT_ROOT = Path(__file__).resolve().parents[1]
SQL_DIR = PROJECT_ROOT / "sql"

DEFAULT_START_DATE = "2026-11-01"


def _env_path(var: str, default: str) -> Path:
    value = os.environ.get(var) or default
    path = Path(value)
    return path if path.is_absolute() else (Path.cwd() / path)


def warehouse_path() -> Path:
    """The DuckDB warehouse file."""
    return _env_path("DATA_PLATFORM_WAREHOUSE", "data/warehouse.duckdb")


def landing_root() -> Path:
    """The landing folder; producers drop files under ``events/`` (and later ``privacy/``...)."""
    return _env_path("DATA_PLATFORM_LANDING", "data/landing")


def start_date() -> str:
    """The first daily partition (YYYY-MM-DD)."""
    value = os.environ.get("DATA_PLATFORM_START_DATE") or DEFAULT_START_DATE
    if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
        raise ValueError(f"DATA_PLATFORM_START_DATE must be YYYY-MM-DD, got {value!r}")
    return value


def end_date() -> str | None:
    """The last daily partition (YYYY-MM-DD), or None: partitions then run to today (the clock)."""
    value = os.environ.get("DATA_PLATFORM_END_DATE") or None
    if value is not None and not re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
        raise ValueError(f"DATA_PLATFORM_END_DATE must be YYYY-MM-DD, got {value!r}")
    return value


def sensors_default_status():
    """RUNNING unless ``DATA_PLATFORM_SENSORS=stopped`` (e.g. an instance used only for backfills)."""
    import dagster as dg

    stopped = os.environ.get("DATA_PLATFORM_SENSORS", "running").lower() == "stopped"
    return dg.DefaultSensorStatus.STOPPED if stopped else dg.DefaultSensorStatus.RUNNING


def load_sql(name: str, **fragments: str) -> str:
    """The text of ``sql/<name>``.

    ``fragments`` fill ``{placeholders}`` with SQL *structure* generated from the contract (column
    lists, per-field checks); values are never formatted in: they are bound as ``$parameters``.
    """
    text = (SQL_DIR / name).read_text(encoding="utf-8")
    return text.format(**fragments) if fragments else text


def run_sql(
    con: duckdb.DuckDBPyConnection, name: str, params: Mapping[str, Any] | None = None, **fragments: str
) -> duckdb.DuckDBPyConnection:
    """Execute one statement from ``sql/<name>`` with named parameters bound (``$name`` in the SQL)."""
    return con.execute(load_sql(name, **fragments), dict(params or {}))


class Warehouse(DuckDBResource):
    """The DuckDB warehouse: a file, a memory cap (DuckDB spills to disk beyond it) and a thread count.

    All stages reach the warehouse through ``connect()``; each stage creates its own tables (its
    ``sql/<stage>/create_tables.sql``) before writing. Moving to another storage engine means replacing
    this resource, not the assets.
    """

    memory_limit: str = "4GB"
    threads: int = 0  # 0: DuckDB's default (all cores)

    @classmethod
    def from_env(cls) -> "Warehouse":
        """The warehouse configured by environment variables (see the module docstring)."""
        return cls(
            database=str(warehouse_path()),
            memory_limit=os.environ.get("DATA_PLATFORM_DUCKDB_MEMORY", "4GB"),
            threads=int(os.environ.get("DATA_PLATFORM_DUCKDB_THREADS", "0")),
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
            yield con


def _checked_size(value: str) -> str:
    if not re.fullmatch(r"\d+(\.\d+)?\s*(KB|MB|GB|TB|KiB|MiB|GiB|TiB|B)", value.strip(), re.IGNORECASE):
        raise ValueError(f"DuckDB memory limit must look like '4GB', got {value!r}")
    return value.strip()


def _quote_path(path: Path) -> str:
    return str(path).replace("'", "''")


class LandingZone(dg.ConfigurableResource):
    """The folder producers drop files into (``events/`` for event logs).

    ``settle_seconds``: a run takes a file only once its mtime is this old, a guard for producers
    that write in place instead of renaming a finished file into the folder.
    """

    root: str
    settle_seconds: float = 5.0

    @classmethod
    def from_env(cls) -> "LandingZone":
        """The landing zone from ``DATA_PLATFORM_LANDING`` and ``DATA_PLATFORM_SETTLE_SECONDS``."""
        return cls(
            root=str(landing_root()),
            settle_seconds=float(os.environ.get("DATA_PLATFORM_SETTLE_SECONDS", "5")),
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
    def from_env(cls) -> "LabelingDesk":
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
        run_sql(con, "common/replace_with_relation.sql" if replace else "common/append_relation.sql",
                table=table, relation="py_rows")
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
