"""The privacy schema's tables, created where privacy first needs them: a request, a clean run that records its
key, a key rotation on a warehouse no request has touched yet."""

from __future__ import annotations

import duckdb

from data_platform.resources import load_sql


def ensure_tables(con: duckdb.DuckDBPyConnection) -> None:
    """Create the privacy schema and tables if they do not exist yet."""
    con.execute(load_sql("privacy/create_tables.sql"))
