"""base/allocator.py: the memory DuckDB freed goes back to the system, the memory it holds stays."""

from __future__ import annotations

import ctypes

import duckdb
import pytest

from data_platform.base import allocator

MB = 2**20


def jemalloc_stat(name: str) -> int:
    allocator._MALLCTL(b"epoch", None, None, ctypes.byref(ctypes.c_uint64(1)), 8)
    value, size = ctypes.c_size_t(), ctypes.c_size_t(ctypes.sizeof(ctypes.c_size_t))
    assert allocator._MALLCTL(name.encode(), ctypes.byref(value), ctypes.byref(size), None, 0) == 0
    return value.value


@pytest.mark.skipif(allocator._MALLCTL is None, reason="this DuckDB wheel has no jemalloc of its own")
def test_the_pages_duckdb_freed_are_returned_and_its_tables_kept():
    con = duckdb.connect()
    con.execute("SET threads = 2")
    con.execute("CREATE TABLE t AS SELECT range AS i, md5(range::VARCHAR) AS s FROM range(2000000)")
    con.execute("SELECT s, count(*) FROM t GROUP BY s").fetchall()  # a hash table built and freed
    allocator.release_freed_memory()
    kept = jemalloc_stat("stats.resident") - jemalloc_stat("stats.allocated")
    assert kept < 32 * MB  # jemalloc's own metadata and partly used pages, not the freed hash table
    assert con.execute("SELECT count(*), count(DISTINCT s) FROM t").fetchone() == (2000000, 2000000)
