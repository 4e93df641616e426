"""Resource limits: a day far above the usual volume, and one very large landing file, are ingested
within the configured DuckDB memory limit (DuckDB spills to disk) or fail with a clear error, never
by being killed for memory.

The run is a real ``dg.materialize`` of the ingestion in a child process; its peak RSS is read from
/proc (sampled every 20 ms, and the kernel's VmHWM just before exit). The default test is small
(about a million lines under a 200MB DuckDB limit); the heavy one (a 5 GB landing file) runs only with
``-m heavy``.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import duckdb
import pytest

from data_platform_tests.reliability_support import run_child

DAY = "2026-11-02"


def write_big_day(path: Path, lines: int, *, malformed_every: int = 1000) -> int:
    """One landing file of ``lines`` JSON lines on one day, written in bulk by DuckDB (a mix of event
    types; 1 in ``malformed_every`` lines has an unknown event type); returns its size in bytes."""
    path.parent.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect()
    con.execute("SET preserve_insertion_order = false")
    con.execute(f"""
        COPY (
            SELECT 'ev-' || i AS event_id,
                   CASE WHEN i % {malformed_every} = 7 THEN 'page_view'  -- quarantined: unknown_event_type
                        ELSE ['impression', 'click', 'purchase', 'login'][1 + i % 4] END AS event_type,
                   strftime(TIMESTAMP '{DAY}' + to_microseconds((i * 86399999999 // {lines})::BIGINT),
                            '%Y-%m-%dT%H:%M:%S.%fZ') AS ts,
                   'anon-' || (i % 50021) AS anon_id, 'user-' || (i % 20011) AS user_id,
                   'imp-' || (i - i % 4) AS impression_id, 'item-' || (i % 5003) AS item_id,
                   'cat-' || (i % 17) AS category, 1 + i % 10 AS position, (i % 9973) / 100.0 AS price,
                   'EUR' AS currency, (i % 1000) / 1000.0 AS predicted_ctr, 'ctr-1' AS model_version,
                   'DE' AS country, 'web' AS device, '3.1.0' AS app_version,
                   'Mozilla/5.0 (X11; Linux x86_64) reliability-test' AS user_agent
            FROM range({lines}) t(i)
        ) TO '{path}' (FORMAT json)
    """)
    con.close()
    past = time.time() - 3600
    os.utime(path, (past, past))
    return path.stat().st_size


def ingest_in_child(tmp_path: Path, memory_limit: str, threads: int = 2, timeout: float = 600):
    spec = {
        "warehouse": str(tmp_path / "warehouse.duckdb"),
        "landing": str(tmp_path / "landing"),
        "assets": ["raw_ingestion"],
        "partition_range": [DAY, DAY],
        "memory_limit": memory_limit,
        "threads": threads,
    }
    return run_child(spec, tmp_path / "child", kill_at_pause=False, timeout=timeout)


def _counts(db: Path) -> tuple[int, int, int]:
    con = duckdb.connect(str(db), read_only=True)
    try:
        return con.execute(
            "SELECT (SELECT sum(lines) FROM raw.files), (SELECT count(*) FROM raw.events), "
            "(SELECT count(*) FROM raw.quarantine)"
        ).fetchone()
    finally:
        con.close()


def _check_run(child, tmp_path: Path, lines: int, rss_bound_mb: int) -> dict:
    figures = {
        "seconds": round(child.seconds, 1),
        "peak_rss_mb": round(max(child.peak_rss_kb, child.hwm_kb) / 1024),
        "returncode": child.returncode,
    }
    print(f"\nreliability figures: {figures}")
    assert child.returncode != -9, "killed (SIGKILL: the kernel's OOM killer?)"
    assert child.returncode == 0, f"the run failed:\n{child.stdout[-3000:]}\n{child.stderr[-3000:]}"
    read, accepted, quarantined = _counts(tmp_path / "warehouse.duckdb")
    assert read == lines == accepted + quarantined
    assert quarantined == len(range(7, lines, 1000))
    # DuckDB's memory_limit bounds its buffer pool, not the process: Python, Dagster and the libraries
    # take ~430 MB before any data, and Arrow batches of the reader and DuckDB's untracked allocations
    # come on top. The bound is a regression guard set from measurements (see docs/reliability.md).
    assert figures["peak_rss_mb"] < rss_bound_mb, figures
    return figures


def test_ten_times_a_day_ingests_within_a_200mb_duckdb_limit(tmp_path):
    """1M lines (400 MB) in one day (the demo's day is ~20k events: 50x) under a 200MB DuckDB memory
    limit: the run completes (DuckDB spills to disk), every line is accounted for, and the child's peak
    RSS stays under 1.6 GB (measured: 1.14 GB; 0.43 GB for a 10k-line day)."""
    lines = 1_000_000
    size = write_big_day(tmp_path / "landing" / "events" / "big-day.jsonl", lines)
    assert size > 300e6
    child = ingest_in_child(tmp_path, "200MB")
    _check_run(child, tmp_path, lines, rss_bound_mb=1600)


def test_a_too_small_memory_limit_fails_with_a_clear_error_not_a_kill(tmp_path):
    """With an absurdly small DuckDB limit (8MB) the step fails with DuckDB's "Out of Memory Error"
    reported as the step's failure (never a SIGKILL), and nothing is half-landed: the file's
    transaction was rolled back."""
    write_big_day(tmp_path / "landing" / "events" / "day.jsonl", 200_000)
    child = ingest_in_child(tmp_path, "8MB")
    assert child.returncode == 3, (child.returncode, child.stderr[-3000:])  # a reported failure
    reported = json.loads(child.stdout.strip().splitlines()[-1])  # printed before the process exits
    assert reported["success"] is False
    assert "Out of Memory Error" in child.stderr and "memory_limit" in child.stderr
    con = duckdb.connect(str(tmp_path / "warehouse.duckdb"), read_only=True)
    try:
        assert con.execute("SELECT count(*) FROM raw.files").fetchone()[0] == 0
        assert con.execute("SELECT count(*) FROM raw.landed_lines").fetchone()[0] == 0
    finally:
        con.close()


@pytest.mark.heavy
def test_a_5gb_landing_file_ingests_within_a_1gb_duckdb_limit(tmp_path, request):
    """A single ~5 GB landing file (12.5M lines) under a 1GB DuckDB memory limit: completes with every
    line accounted for and a peak RSS under 4 GB. Run with ``-m heavy`` (skipped otherwise, also while
    the marker is not registered in pyproject.toml)."""
    markexpr = request.config.getoption("markexpr") or ""
    if "heavy" not in markexpr or "not heavy" in markexpr:
        pytest.skip("heavy: run with -m heavy")
    lines = 12_500_000
    size = write_big_day(tmp_path / "landing" / "events" / "huge.jsonl", lines)
    assert size > 4.5e9
    child = ingest_in_child(tmp_path, "1GB", timeout=3600)
    figures = _check_run(child, tmp_path, lines, rss_bound_mb=4096)
    print(f"heavy: {size / 1e9:.2f} GB, {lines:,} lines, {figures}")
    assert child.returncode == 0


def _storage_version(path: Path) -> str:
    con = duckdb.connect(str(path), read_only=True)
    try:
        return con.execute("SELECT tags['storage_version'] FROM duckdb_databases() WHERE NOT internal").fetchone()[0]
    finally:
        con.close()


def test_a_new_warehouse_is_created_in_the_current_storage_format_and_an_old_one_keeps_its_own(tmp_path):
    """A warehouse file the platform creates is in ``STORAGE_VERSION``'s format (DuckDB's default, v0.10.2,
    costs about 30% more CPU per string written); an existing file in the old format is opened and written as
    it is (DuckDB cannot change a file's format in place), and other connections in the same process need no
    special configuration to open either."""
    from data_platform.resources import STORAGE_VERSION, Warehouse

    new = Warehouse(database=str(tmp_path / "new" / "warehouse.duckdb"), memory_limit="200MB", threads=1)
    with new.connect() as con:
        con.execute("CREATE TABLE t AS SELECT 'v-' || i AS v FROM range(1000) r(i)")
        plain = duckdb.connect(new.database, read_only=False)  # a second, unconfigured connection in-process
        assert plain.execute("SELECT count(*) FROM t").fetchone() == (1000,)
        plain.close()
    assert _storage_version(Path(new.database)) == f"{STORAGE_VERSION}+"
    with pytest.raises(duckdb.Error):  # read-only never creates a file
        with Warehouse(database=str(tmp_path / "absent.duckdb")).connect(read_only=True):
            pass
    assert not (tmp_path / "absent.duckdb").exists()

    old_path = tmp_path / "old.duckdb"
    duckdb.connect(str(old_path)).close()  # DuckDB's default format
    old_version = _storage_version(old_path)
    assert old_version != f"{STORAGE_VERSION}+"
    with Warehouse(database=str(old_path), memory_limit="200MB", threads=1).connect() as con:
        con.execute("CREATE TABLE t AS SELECT 'v-' || i AS v FROM range(1000) r(i)")
        con.execute("CHECKPOINT")
    assert _storage_version(old_path) == old_version
    con = duckdb.connect(str(old_path), read_only=True)
    assert con.execute("SELECT count(DISTINCT v) FROM t").fetchone() == (1000,)
    con.close()
