"""Where the split step's time and memory go: the real ``splits/<dataset>`` asset materialized in process over
a copy of a warehouse, every SQL statement timed with the peak RSS of this process while it ran.

    python benchmarks/profile_split.py WAREHOUSE.duckdb [--dataset ctr_examples] [--memory 1GB] [--threads 2]
        [--explain DIR] [--out COPY.duckdb] [--asset labels/ctr_examples --partition-range 2026-11-01...2026-11-02]

``--asset`` profiles another asset the same way (e.g. the direct labels; a key of a multi-asset, such as
``clean/events``, brings the keys computed with it), over the daily partitions of ``--partition-range``
(first...last, inclusive) when it is partitioned.

WAREHOUSE is a warehouse with the dataset's labels (``bench_pipeline.py --keep`` leaves one in its work
folder). It is copied to a temporary folder and the split asset (with its checks) is materialized there with
the same DuckDB memory limit and threads as the benchmark. Prints the step's wall and CPU seconds and peak
RSS (and in which statement it fell, with DuckDB's own account of its memory there), then per SQL file the
wall and CPU seconds summed over its runs, how often it ran, the highest RSS sampled (every 20 ms) while it
ran and DuckDB's buffer-managed memory at that peak (``duckdb_memory()``), most CPU first. The step's peak is
also split by allocator (``allocator_account``: DuckDB's jemalloc, glibc's malloc). The RSS is this
whole process (Python, Dagster and DuckDB); the baseline before the step is printed too. ``--explain DIR``
writes DuckDB's profile of every statement to DIR (``PRAGMA enable_profiling = 'json'``); ``--out`` keeps the
copy (to compare two versions' tables).
"""

from __future__ import annotations

import argparse
import ctypes
import ctypes.util
import json
import os
import shutil
import sys
import tempfile
import threading
import time
import warnings
from collections import defaultdict
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from measure import PAGE, cpu_seconds  # noqa: E402

MB = 2**20


class _MallInfo2(ctypes.Structure):
    """glibc's ``struct mallinfo2`` (every field a size_t)."""

    _fields_ = [
        (name, ctypes.c_size_t)
        for name in (
            "arena",
            "ordblks",
            "smblks",
            "hblks",
            "hblkhd",
            "usmblks",
            "fsmblks",
            "uordblks",
            "fordblks",
            "keepcost",
        )
    ]


def _glibc_mallinfo2():
    """glibc's ``mallinfo2`` (None elsewhere, or on a glibc before 2.33)."""
    try:
        fn = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6").mallinfo2
    except (OSError, AttributeError):
        return None
    fn.restype = _MallInfo2
    return fn


def _duckdb_mallctl():
    """``mallctl`` of the jemalloc built into DuckDB's Python module (exported as ``duckdb_je_mallctl`` by the
    Linux wheels; None where it is not)."""
    import duckdb  # noqa: F401 - loads _duckdb

    try:
        fn = ctypes.CDLL(sys.modules["_duckdb"].__file__).duckdb_je_mallctl
    except (OSError, AttributeError, KeyError):
        return None
    size_p = ctypes.POINTER(ctypes.c_size_t)
    fn.argtypes = [ctypes.c_char_p, ctypes.c_void_p, size_p, ctypes.c_void_p, ctypes.c_size_t]
    return fn


MALLINFO2, MALLCTL = _glibc_mallinfo2(), _duckdb_mallctl()


def allocator_account() -> dict[str, int]:
    """What the two allocators of the process hold. DuckDB allocates through its own jemalloc: ``je_allocated``
    (live: the buffer pool and what DuckDB does not count), ``je_kept`` (resident pages jemalloc holds beyond
    that: freed memory not yet returned to the system, and its metadata). Python, Dagster and DuckDB's own
    C++ objects (``new``, containers: not its ``Allocator``) allocate through glibc: ``glibc_in_use``,
    ``glibc_free`` (freed chunks still in glibc's heaps, resident unless trimmed)."""
    account = {}
    if MALLCTL is not None:
        epoch = ctypes.c_uint64(1)
        MALLCTL(b"epoch", None, None, ctypes.byref(epoch), ctypes.sizeof(epoch))  # refresh the statistics

        def stat(name: str) -> int:
            value, size = ctypes.c_size_t(), ctypes.c_size_t(ctypes.sizeof(ctypes.c_size_t))
            MALLCTL(name.encode(), ctypes.byref(value), ctypes.byref(size), None, 0)
            return value.value

        allocated = stat("stats.allocated")
        account.update(je_allocated=allocated, je_kept=stat("stats.resident") - allocated)
    if MALLINFO2 is not None:
        info = MALLINFO2()
        account.update(glibc_in_use=info.uordblks + info.hblkhd, glibc_free=info.fordblks)
    return account


def own_rss() -> int:
    """Resident bytes of this process, from /proc."""
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * PAGE


class PeakSampler:
    """This process's RSS sampled in a thread; :meth:`reset` starts a new window, :attr:`peak` is its maximum.

    With a DuckDB connection to look through (:meth:`watching`), each time the RSS of the window climbs 8 MB
    past what was last looked at, DuckDB's own account is read too (``duckdb_memory()``: the buffer pool's
    bytes in memory and spilled, by tag), through a cursor of its own, so the window's peak can be split into
    DuckDB's buffer-managed memory and the rest (Python, Dagster, allocations DuckDB does not count).
    :attr:`where` names the statement (or the gap after it) in which the overall peak fell.
    """

    LOOK_EVERY = 8 * MB

    def __init__(self, interval_s: float = 0.02):
        self.interval_s, self.peak, self.overall = interval_s, own_rss(), own_rss()
        self.label, self.where = "before the step", "before the step"
        self.duckdb_at_peak: dict[str, int] = {}
        self.overall_duckdb: dict[str, int] = {}
        self._cursor, self._looked_at, self._lock = None, 0, threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    @contextmanager
    def watching(self, con):
        """Read DuckDB's memory through a cursor of ``con`` while the block runs (closed after it, so no cursor
        keeps the database open between the step's connections)."""
        cursor = con.cursor()
        with self._lock:
            self._cursor = cursor
        try:
            yield
        finally:
            with self._lock:
                self._cursor = None
                cursor.close()

    def _duckdb_memory(self) -> dict[str, int]:
        with self._lock:
            if self._cursor is None:
                return self.duckdb_at_peak
            try:
                found = self._cursor.execute(
                    "SELECT tag, memory_usage_bytes, temporary_storage_bytes FROM duckdb_memory() "
                    "WHERE memory_usage_bytes + temporary_storage_bytes > 0"
                ).fetchall()
            except Exception:  # noqa: BLE001 - a sample missed, not a failed profile
                return self.duckdb_at_peak
        memory = {tag: used for tag, used, _ in found}
        return {
            "buffer_pool": sum(memory.values()),
            "spilled": sum(s for *_, s in found),
            **memory,
            **allocator_account(),
        }

    def _run(self) -> None:
        while not self._stop.is_set():
            rss = own_rss()
            if rss > self.peak:
                self.peak = rss
                if rss > self._looked_at + self.LOOK_EVERY:
                    self._looked_at, self.duckdb_at_peak = rss, self._duckdb_memory()
            if rss > self.overall:
                self.overall, self.where, self.overall_duckdb = rss, self.label, dict(self.duckdb_at_peak)
            time.sleep(self.interval_s)

    def reset(self, label: str) -> None:
        self.peak, self.label, self._looked_at, self.duckdb_at_peak = own_rss(), label, 0, {}

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("warehouse", type=Path)
    parser.add_argument("--dataset", default="ctr_examples")
    parser.add_argument("--memory", default="1GB")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--explain", type=Path, help="write each statement's DuckDB JSON profile here")
    parser.add_argument("--out", type=Path, help="keep the split copy of the warehouse here")
    parser.add_argument("--asset", help="another asset key to profile (default splits/<dataset>)")
    parser.add_argument("--partition-range", help="FIRST...LAST daily partitions of a partitioned --asset")
    args = parser.parse_args()
    warnings.simplefilter("ignore")

    with tempfile.TemporaryDirectory(prefix="profile-split-", dir=args.out.parent if args.out else None) as tmp:
        db = Path(tmp) / "warehouse.duckdb"
        shutil.copy(args.warehouse, db)
        wal = args.warehouse.with_suffix(args.warehouse.suffix + ".wal")
        if wal.exists():
            shutil.copy(wal, db.with_suffix(".duckdb.wal"))
        os.environ.update(
            DATA_PLATFORM_WAREHOUSE=str(db),
            DATA_PLATFORM_DUCKDB_MEMORY=args.memory,
            DATA_PLATFORM_DUCKDB_THREADS=str(args.threads),
            DATA_PLATFORM_SENSORS="stopped",
            DATA_PLATFORM_EXPORTS=str(Path(tmp) / "exports"),
            DATA_PLATFORM_REPORTS=str(Path(tmp) / "reports"),
            DATA_PLATFORM_LABELING=str(Path(tmp) / "labeling"),
        )
        import dagster as dg

        import data_platform.resources as resources
        from data_platform.definitions import defs

        seconds: dict[str, float] = defaultdict(float)
        cpu: dict[str, float] = defaultdict(float)
        peak: dict[str, int] = defaultdict(int)
        pool: dict[str, int] = defaultdict(int)  # DuckDB's buffer-managed bytes at that peak
        runs: dict[str, int] = defaultdict(int)
        original = resources.run_sql
        counter = iter(range(10**9))
        sampler = PeakSampler()

        def timed_run_sql(con, name, params=None, **fragments):
            if args.explain:
                con.execute("PRAGMA enable_profiling = 'json'")
                path = args.explain / f"{next(counter):05d}-{name.replace('/', '-')}.json"
                con.execute(f"PRAGMA profiling_output = '{path}'")
            sampler.reset(name)
            with sampler.watching(con):
                t0, c0 = time.perf_counter(), cpu_seconds()
                result = original(con, name, params, **fragments)
                seconds[name] += time.perf_counter() - t0
                cpu[name] += cpu_seconds() - c0
            if sampler.peak >= peak[name]:
                peak[name], pool[name] = sampler.peak, sampler.duckdb_at_peak.get("buffer_pool", 0)
            runs[name] += 1
            sampler.label = f"after {name} (fetching its result, or before the next statement)"
            return result

        # every module that imported run_sql by name calls the timed one
        for module in list(sys.modules.values()):
            if (module.__name__ or "").startswith("data_platform") and getattr(module, "run_sql", None) is original:
                module.run_sql = timed_run_sql
        if args.explain:
            args.explain.mkdir(parents=True, exist_ok=True)

        everything = [*defs.assets, *(defs.asset_checks or [])]
        asset = args.asset or f"splits/{args.dataset}"
        tags = {}
        if args.partition_range:
            first, last = args.partition_range.split("...")
            tags = {"dagster/asset_partition_range_start": first, "dagster/asset_partition_range_end": last}
        before = own_rss()
        sampler.overall = before
        wall0, cpu0 = time.perf_counter(), cpu_seconds()
        with dg.DagsterInstance.ephemeral() as instance:
            result = dg.materialize(
                everything,
                # a key of a multi-asset (clean/events of clean_layer) brings the keys computed with it
                selection=dg.AssetSelection.assets(
                    dg.AssetKey.from_user_string(asset)
                ).required_multi_asset_neighbors(),
                tags=tags,
                resources=defs.resources,
                instance=instance,
                raise_on_error=True,
            )
        wall, step_cpu = time.perf_counter() - wall0, cpu_seconds() - cpu0
        sampler.stop()
        checks = {e.check_name: e.passed for e in result.get_asset_check_evaluations()}
        with resources.Warehouse(database=str(db), memory_limit=args.memory, threads=args.threads).connect() as con:
            examples = con.execute(f"SELECT count(*) FROM {asset.replace('/', '.')}").fetchone()[0]
        if args.out:
            shutil.copy(db, args.out)
    print(
        json.dumps(
            {
                "examples": examples,
                "wall_s": round(wall, 2),
                "cpu_s": round(step_cpu, 2),
                "rss_before_mb": round(before / MB),
                "peak_rss_mb": round(sampler.overall / MB),
                "peak_in": sampler.where,
                "duckdb_mb_at_peak": {k: round(v / MB) for k, v in sampler.overall_duckdb.items()},
                "checks_passed": checks,
            }
        )
    )
    print(" wall s   cpu s  peak RSS MB  DuckDB MB  runs  statement")
    for name, s in sorted(seconds.items(), key=lambda kv: -cpu[kv[0]]):
        print(f"{s:7.2f} {cpu[name]:7.2f} {peak[name] / MB:12.0f} {pool[name] / MB:10.0f} {runs[name]:5d}  {name}")


if __name__ == "__main__":
    main()
