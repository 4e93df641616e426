"""Handing the memory a statement freed back to the system, so that a step's resident memory is what DuckDB
holds (its buffer pool, capped by ``memory_limit``) and not, on top of it, what earlier statements freed.

DuckDB's Linux wheels allocate its buffer pool through a jemalloc built into the module, and its C++ objects
(``new``, containers) through glibc's malloc. Neither gave freed memory back promptly here (duckdb 1.5.5):
jemalloc keeps freed pages until its one-second decay is next looked at (no background thread by default), and
glibc keeps freed chunks in its heaps (duckdb/duckdb#23253: the ``malloc_trim`` of DuckDB's allocator flush
was dropped from jemalloc builds in 1.5.3). In the clean step at 10M events, at the step's peak: 74 MB of
jemalloc's pages beyond what was allocated and 178 MB of free glibc chunks (docs/benchmarks.md, 2026-12-05).

:func:`release_freed_memory` is called after each statement (``resources.run_sql``) and when a connection
closes. It costs a few milliseconds; it is a no-op where the calls are missing (macOS, musl, a wheel without
jemalloc).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import sys
from collections.abc import Callable

# jemalloc's pseudo-index for "every arena" (MALLCTL_ARENAS_ALL)
_ALL_ARENAS_PURGE = b"arena.4096.purge"


def _glibc_malloc_trim() -> Callable[[int], int] | None:
    """glibc's ``malloc_trim`` (None where the C library has none)."""
    try:
        trim = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6").malloc_trim
    except (OSError, AttributeError):
        return None
    trim.argtypes, trim.restype = [ctypes.c_size_t], ctypes.c_int
    return trim


def _duckdb_jemalloc_mallctl() -> Callable | None:
    """``mallctl`` of the jemalloc inside DuckDB's Python module (``duckdb_je_mallctl``; None without it)."""
    import duckdb  # noqa: F401 - loads the _duckdb module

    module = sys.modules.get("_duckdb")
    try:
        mallctl = ctypes.CDLL(module.__file__).duckdb_je_mallctl
    except (OSError, AttributeError, TypeError):
        return None
    size_p = ctypes.POINTER(ctypes.c_size_t)
    mallctl.argtypes = [ctypes.c_char_p, ctypes.c_void_p, size_p, ctypes.c_void_p, ctypes.c_size_t]
    mallctl.restype = ctypes.c_int
    return mallctl


_MALLOC_TRIM = _glibc_malloc_trim()
_MALLCTL = _duckdb_jemalloc_mallctl()


def release_freed_memory() -> None:
    """Return the pages of freed memory to the system: jemalloc's (DuckDB's buffer pool and allocator) and
    glibc's heaps (DuckDB's C++ objects, Python). Live memory is untouched; nothing DuckDB caches is dropped."""
    if _MALLCTL is not None:
        _MALLCTL(_ALL_ARENAS_PURGE, None, None, None, 0)
    if _MALLOC_TRIM is not None:
        _MALLOC_TRIM(0)
