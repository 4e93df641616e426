"""Small helpers for asset metadata the Dagster UI shows well."""

import time
from functools import cache

import dagster as dg
import duckdb

from data_platform.resources import load_sql


class StageClock:
    """Wall seconds per stage of a step, for the run log and the asset metadata."""

    def __init__(self) -> None:
        self.laps: dict[str, float] = {}
        self._last = time.perf_counter()

    def lap(self, name: str) -> None:
        now = time.perf_counter()
        self.laps[name] = round(now - self._last, 2)
        self._last = now


def markdown_table(records: list[dict]) -> str:
    """A small markdown table for asset metadata (values cut to 60 characters, pipes escaped)."""
    if not records:
        return "_none_"
    cols = list(records[0])
    out = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    for r in records:
        cells = [str(r[c])[:60].replace("|", "\\|").replace("\n", " ") for c in cols]
        out.append("| " + " | ".join(cells) + " |")
    return "\n".join(out)


@cache
def _ddl_catalog(ddl_name: str) -> dict[str, list[tuple[str, str]]]:
    con = duckdb.connect()
    try:
        con.execute(load_sql(ddl_name))
        catalog: dict[str, list[tuple[str, str]]] = {}
        for schema, table, column, dtype in con.execute(
            "SELECT schema_name, table_name, column_name, data_type FROM duckdb_columns() "
            "WHERE NOT internal ORDER BY schema_name, table_name, column_index"
        ).fetchall():
            catalog.setdefault(f"{schema}.{table}", []).append((column, dtype))
        return catalog
    finally:
        con.close()


def table_schema_of(con: duckdb.DuckDBPyConnection, table: str) -> dg.TableSchema:
    """The dagster/column_schema of a table as it stands in the warehouse (for tables rebuilt with
    CREATE TABLE AS, whose columns follow their query)."""
    schema, name = table.split(".")
    cols = con.execute(
        "SELECT column_name, data_type FROM duckdb_columns() WHERE schema_name = ? AND table_name = ? "
        "ORDER BY column_index", [schema, name]).fetchall()
    return dg.TableSchema(columns=[dg.TableColumn(name=c, type=t) for c, t in cols])


def ddl_columns(ddl_name: str, table: str) -> tuple[tuple[str, str, str], ...]:
    """(name, DuckDB type, description) of ``table`` as the stage's DDL file creates it (the
    description is the empty string: the DDL's comments are for readers of the SQL)."""
    return tuple((c, t, "") for c, t in _ddl_catalog(ddl_name)[table])
