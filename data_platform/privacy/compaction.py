"""Reclaim the bytes of deleted rows: the warehouse file rewritten into a fresh file and swapped in.

DuckDB does not zero what it frees: after ``DELETE`` and ``CHECKPOINT`` an erased person's values stay in
the file's free blocks (measured: the raw ids of deleted rows are still found in the file's bytes). After an
erasure the warehouse is therefore copied table by table into a new file (``COPY FROM DATABASE``: schemas,
tables, views, constraints, indexes, macros and types), which holds live rows only, and the new file
replaces the old one with an atomic rename. The caller must hold the warehouse's only writer (the ``duckdb``
pool); the old file's inode lives on only while a reader still holds it open.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import duckdb

from data_platform.resources import STORAGE_VERSION, run_sql

_FRESH = "erasure_compaction"


class CompactionError(RuntimeError):
    """The warehouse could not be rewritten safely; the original file was left as it was."""


def _remove(path: Path) -> None:
    path.unlink(missing_ok=True)


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def reclaim_deleted_bytes(
    database: str | Path, in_copy: str | None = None, memory_limit: str | None = None, threads: int = 0
) -> dict:
    """Rewrite the DuckDB file ``database`` so that no byte of a deleted row remains in it or in a WAL.

    Checkpoints, copies every object into ``<database>.compact`` (left over from a crashed attempt: removed
    first), runs the ``sql/`` statement ``in_copy`` in the copy (e.g. to record that the bytes are gone: it
    is true only once the copy replaces the original, and a crash before that leaves the original, and the
    record undone, as they were), and renames the copy over the original once it is complete and durable.
    Returns the sizes before and after and the seconds it took. Nothing is connected to the warehouse when
    it returns. ``memory_limit`` and ``threads`` (0: DuckDB's default) are the warehouse's settings; beyond the
    limit the copy spills beside the file, like every step.
    """
    database = Path(database)
    fresh = database.with_name(database.name + ".compact")
    wal = Path(str(database) + ".wal")
    started = time.perf_counter()
    before = database.stat().st_size + (wal.stat().st_size if wal.exists() else 0)
    for leftover in (fresh, Path(str(fresh) + ".wal")):
        _remove(leftover)
    config = {"temp_directory": str(database.with_suffix(".tmp"))}
    if memory_limit:
        config["memory_limit"] = memory_limit
    if threads:
        config["threads"] = threads
    con = duckdb.connect(str(database), config=config)
    try:
        con.execute("CHECKPOINT")
        name = con.execute("SELECT current_database()").fetchone()[0]
        # the copy is written in the format of new warehouses: an older warehouse is upgraded by its first erasure
        con.execute(f"ATTACH '{_quoted(fresh)}' AS {_FRESH} (STORAGE_VERSION '{STORAGE_VERSION}')")
        con.execute(f'COPY FROM DATABASE "{name}" TO {_FRESH}')
        if in_copy:
            con.execute(f"USE {_FRESH}")
            run_sql(con, in_copy)
            con.execute(f'USE "{name}"')
        con.execute(f"DETACH {_FRESH}")
        if wal.exists() or Path(str(fresh) + ".wal").exists():
            _remove(fresh)
            raise CompactionError(f"{wal.name} was not checkpointed away: the warehouse is still in use")
        _fsync(fresh)
        # swapped while this connection still holds the warehouse's lock (it writes nothing more), so no other
        # process can write to the old file between the copy and the rename
        os.replace(fresh, database)
        _fsync(database.parent)
    finally:
        con.close()
    return {
        "bytes_before": before,
        "bytes_after": database.stat().st_size,
        "seconds": round(time.perf_counter() - started, 2),
    }


def _quoted(path: Path) -> str:
    return str(path).replace("'", "''")
