"""Helpers of the reliability tests (issue #10): table digests, and real runs in a child process that
can be paused at an exact point of a write and killed there with SIGKILL.

The child (``python -m data_platform_tests.reliability_support <spec.json>``) materializes real assets
with ``dg.materialize`` (or runs a job of the definitions, ``spec["job"]``). A *pause point* makes it
stop, deterministically, in the middle of a write:

- ``statement``: just before the n-th execution of a named statement of ``sql/`` (so the statements
  before it in the same transaction have run, uncommitted);
- ``reader``: inside the streamed parse of a landing file, after k Arrow batches of its lines were
  handed to DuckDB (so DuckDB is in the middle of one INSERT);
- ``udf``: inside a single SQL statement, via a Python UDF injected into one of its SQL fragments
  (so DuckDB is in the middle of, e.g., a ``CREATE OR REPLACE TABLE ... AS``).

At the pause the child writes a marker file and sleeps; the parent sees the marker and sends SIGKILL.
Nothing depends on timing: the kill always lands at that point.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import duckdb

from data_platform.resources import Warehouse

PROJECT_ROOT = Path(__file__).resolve().parents[1]

# Columns whose value legitimately differs between two runs over the same input: which run wrote the
# row, and the wall-clock time at which the pipeline processed it. Everything else, data and
# provenance alike, must be identical. Timestamps that are data (an event's ts, a consent's
# effective_at, a Label Studio annotation's created_at text) are compared.
RUN_TIMESTAMPS = frozenset(
    {
        "ingested_at",
        "landed_at",
        "superseded_at",  # raw: when a line was parsed, a file landed/replaced
        "cleaned_at",
        "labeled_at",
        "computed_at",  # clean, labels, monitoring: when the row was built
        "created_at",  # splits.exports, labels.tasks, provenance.invalidations: when the row was inserted
        "read_at",
        "received_at",
        "processed_at",  # privacy: when a request file was read and applied
        "recorded_at",
        "applied_at",  # provenance: when an invalidation was audited and applied
        "trained_at",  # training: when a version's baseline was trained
        "written_at",  # privacy.pseudonym_keys: when a key wrote a table's pseudonyms
    }
)


def is_run_dependent(column: str, dtype: str = "TIMESTAMP WITH TIME ZONE") -> bool:
    """True for a column that records which run wrote a row (``run_id``, ``*_run_id``) or when the
    pipeline processed it (a TIMESTAMPTZ named in :data:`RUN_TIMESTAMPS`)."""
    if column == "run_id" or column.endswith("_run_id"):
        return True
    return column in RUN_TIMESTAMPS and dtype.startswith("TIMESTAMP")


def table_columns(con: duckdb.DuckDBPyConnection) -> dict[str, list[tuple[str, str]]]:
    """``schema.table`` -> [(column, type)] of every base table."""
    out: dict[str, list[tuple[str, str]]] = {}
    for schema, table, column, dtype in con.execute(
        "SELECT table_schema, table_name, column_name, data_type FROM information_schema.columns "
        "WHERE table_catalog = current_database() AND (table_schema, table_name) IN "
        "(SELECT schema_name, table_name FROM duckdb_tables() WHERE NOT internal AND NOT temporary) "
        "ORDER BY table_schema, table_name, ordinal_position"
    ).fetchall():
        out.setdefault(f"{schema}.{table}", []).append((column, dtype))
    return out


def digest_tables(
    database: str | Path | Warehouse,
    exclude: frozenset[str] | None = None,
    only: set[str] | None = None,
    also_exclude: frozenset[str] = frozenset(),
) -> dict[str, tuple[int, str]]:
    """``table -> (rows, md5)`` of every table: the md5 of the sorted per-row md5s (a multiset hash:
    order-free, but two copies of a row count twice), over all columns except ``exclude`` (default:
    the run-dependent ones, see :func:`is_run_dependent`; ``frozenset()`` compares every column).
    ``database``: a DuckDB file, or a :class:`Warehouse` of either profile; ``also_exclude``: columns left out
    besides those."""
    warehouse = database if isinstance(database, Warehouse) else Warehouse(database=str(database))
    with warehouse.connect(read_only=True) as con:
        out = {}
        for table, columns in table_columns(con).items():
            if only is not None and table not in only:
                continue
            kept = [
                _as_text(c, t)
                for c, t in columns
                if not (is_run_dependent(c, t) if exclude is None else c in exclude) and c not in also_exclude
            ]
            row = "concat_ws(chr(30), " + ", ".join(f"coalesce({c}, chr(0))" for c in kept) + ")"
            n, h = con.execute(
                f"SELECT count(*), md5(coalesce(string_agg(md5({row}), '' ORDER BY md5({row})), '')) FROM {table}"
            ).fetchone()
            out[table] = (n, h)
        return out


def _as_text(column: str, dtype: str) -> str:
    """A column as text for hashing. Floating-point values are compared to 12 significant digits:
    DuckDB's parallel aggregates add doubles in a thread-dependent order, so a mean or a standard
    deviation can differ in its last bit (measured: 2e-15 relative) between two identical runs."""
    if dtype in ("DOUBLE", "FLOAT"):
        return f"printf('%.12g', \"{column}\")"
    return f'"{column}"::VARCHAR'


def copy_warehouse(src: str | Path, dst: str | Path) -> Path:
    """Copy a closed DuckDB file with its WAL (if any)."""
    src, dst = Path(src), Path(dst)
    dst.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy2(src, dst)
    wal = Path(str(src) + ".wal")
    if wal.exists():
        shutil.copy2(wal, str(dst) + ".wal")
    return dst


def child_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    """The environment of a child run: this one, with the project importable."""
    env = dict(os.environ)
    env["PYTHONPATH"] = str(PROJECT_ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    env.update(extra or {})
    return env


def proc_rss_kb(pid: int) -> int:
    """Resident set size of a process from /proc (0 when it is gone)."""
    try:
        with open(f"/proc/{pid}/status") as fh:
            for line in fh:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except (FileNotFoundError, ProcessLookupError):
        pass
    return 0


class ChildResult:
    def __init__(self, returncode, killed, marker, peak_rss_kb, hwm_kb, stdout, stderr, seconds):
        self.returncode, self.killed, self.marker = returncode, killed, marker
        self.peak_rss_kb, self.hwm_kb, self.seconds = peak_rss_kb, hwm_kb, seconds
        self.stdout, self.stderr = stdout, stderr


def start_child(spec: dict, workdir: Path, *, env: dict[str, str] | None = None):
    """Start the child on ``spec`` and return at once: ``(process, pause marker, stdout file, stderr file)``; the
    marker file appears when the child reaches its pause point."""
    workdir.mkdir(parents=True, exist_ok=True)
    marker = workdir / f"pause-{time.monotonic_ns()}.json"
    spec = {**spec, "marker": str(marker)}
    spec_path = workdir / f"spec-{time.monotonic_ns()}.json"
    spec_path.write_text(json.dumps(spec))
    out, err = workdir / f"{spec_path.stem}.out", workdir / f"{spec_path.stem}.err"
    with open(out, "wb") as fo, open(err, "wb") as fe:
        proc = subprocess.Popen(
            [sys.executable, "-m", "data_platform_tests.reliability_support", str(spec_path)],
            cwd=str(workdir),
            env=child_env(env),
            stdout=fo,
            stderr=fe,
        )
    return proc, marker, out, err


def run_child(
    spec: dict, workdir: Path, *, env: dict[str, str] | None = None, kill_at_pause: bool = True, timeout: float = 300
) -> ChildResult:
    """Run the child on ``spec``; SIGKILL it when it reaches its pause point (if it has one).

    Samples the child's RSS from /proc every 20 ms and reads its VmHWM (peak RSS as the kernel
    counts it) just before it exits, when the child reports it on stderr (``spec["report_hwm"]``).
    """
    started = time.perf_counter()
    proc, marker, out, err = start_child(spec, workdir, env=env)
    with proc:
        peak, killed, paused = 0, False, None
        while proc.poll() is None:
            peak = max(peak, proc_rss_kb(proc.pid))
            if marker.exists() and kill_at_pause:
                paused = json.loads(marker.read_text())
                os.kill(proc.pid, signal.SIGKILL)
                killed = True
                proc.wait()
                break
            if time.perf_counter() - started > timeout:
                os.kill(proc.pid, signal.SIGKILL)
                proc.wait()
                raise TimeoutError(f"child did not finish or pause within {timeout}s: {err.read_text()[-3000:]}")
            time.sleep(0.02)
    stderr = err.read_text(errors="replace")
    hwm = 0
    for line in stderr.splitlines():
        if line.startswith("RELIABILITY_VMHWM_KB="):
            hwm = int(line.split("=", 1)[1])
    return ChildResult(
        proc.returncode,
        killed,
        paused,
        peak,
        hwm,
        out.read_text(errors="replace"),
        stderr,
        time.perf_counter() - started,
    )


# --- the child ------------------------------------------------------------------------------------


def _pause(marker: str, info: dict) -> None:
    """Tell the parent where we are, then wait to be killed."""
    tmp = marker + ".tmp"
    with open(tmp, "w") as fh:
        json.dump(info, fh)
    os.replace(tmp, marker)  # the parent never sees a half-written marker
    while True:
        time.sleep(60)


def _install_pause(pause: dict, marker: str) -> None:
    from data_platform import resources
    from data_platform.ingestion import landing

    kind = pause["kind"]
    if kind == "statement":
        original_load_sql = resources.load_sql
        seen = {"n": 0}

        def load_sql(name, **fragments):
            if name == pause["name"]:
                seen["n"] += 1
                if seen["n"] == pause.get("occurrence", 1):
                    _pause(marker, {"kind": kind, "name": name, "occurrence": seen["n"]})
            return original_load_sql(name, **fragments)

        resources.load_sql = load_sql  # run_sql looks load_sql up in its module: every stage goes through it
    elif kind == "reader":
        original_read_lines = landing.read_lines
        files = {"n": 0}

        def read_lines(path, compressed, counter=None, **kwargs):
            files["n"] += 1
            this_file = files["n"]
            for i, batch in enumerate(original_read_lines(path, compressed, counter, **kwargs), start=1):
                yield batch
                if this_file == pause["file"] and i == pause["batch"]:
                    _pause(marker, {"kind": kind, "file": str(path), "batches_handed_to_duckdb": i})

        landing.read_lines = read_lines
    elif kind == "udf":
        original_load_sql = resources.load_sql
        original_connect = resources.Warehouse.connect

        def paused_udf(value: str) -> bool:
            _pause(marker, {"kind": kind, "name": pause["name"], "first_value": value})
            return True

        def connect(self):
            with original_connect(self) as con:
                con.create_function("reliability_pause", paused_udf, ["VARCHAR"], "BOOLEAN", side_effects=True)
                yield con

        def load_sql(name, **fragments):
            if name == pause["name"]:
                fragment = pause["fragment"]
                fragments[fragment] = f"({fragments[fragment]}) AND reliability_pause({pause['column']}::VARCHAR)"
            return original_load_sql(name, **fragments)

        from contextlib import contextmanager

        resources.Warehouse.connect = contextmanager(connect)
        resources.load_sql = load_sql
    else:
        raise ValueError(f"unknown pause kind {kind!r}")


def _assets(names: list[str]):
    from data_platform.cleaning.assets import clean_layer, identity_map
    from data_platform.ingestion.assets import raw_ingestion
    from data_platform.labeling.ctr_assets import ctr_examples
    from data_platform.splits.assets import SPLIT_ASSETS, build_export_asset, ctr_train_balanced
    from data_platform.splits.split import CTR

    known = {
        "raw_ingestion": raw_ingestion,
        "clean_layer": clean_layer,
        "identity_map": identity_map,
        "ctr_examples": ctr_examples,
        "split_ctr": SPLIT_ASSETS[0],
        "ctr_train_balanced": ctr_train_balanced,
    }
    return [build_export_asset(CTR) if n == "export_ctr" else known[n] for n in names]


def child_main(spec_path: str) -> int:
    spec = json.loads(Path(spec_path).read_text())
    for var, value in spec.get("env", {}).items():
        os.environ[var] = value
    import dagster as dg

    from data_platform.resources import LandingZone, Warehouse

    if spec.get("pause"):
        _install_pause(spec["pause"], spec["marker"])
    if spec["warehouse"] is None:  # the profile of the environment (the lake's settings, e.g.)
        warehouse = Warehouse.from_env()
    else:
        warehouse = Warehouse(
            database=spec["warehouse"], memory_limit=spec.get("memory_limit", "1GB"), threads=spec.get("threads", 2)
        )
    resources = {"warehouse": warehouse}
    if spec.get("landing"):
        resources["landing"] = LandingZone(root=spec["landing"], settle_seconds=0)
    kwargs = {}
    if spec.get("partition_range"):
        first, last = spec["partition_range"]
        kwargs["tags"] = {"dagster/asset_partition_range_start": first, "dagster/asset_partition_range_end": last}
    if spec.get("instance"):  # the instance at DAGSTER_HOME (run history, concurrency pools), else ephemeral
        kwargs["instance"] = dg.DagsterInstance.get()
    started = time.perf_counter()
    try:
        if spec.get("job"):  # a job of the definitions (e.g. process_privacy_requests) instead of assets
            from data_platform.definitions import defs

            job = defs.resolve_job_def(spec["job"])
            result = job.execute_in_process(resources=resources, raise_on_error=False, **kwargs)
        else:
            result = dg.materialize(_assets(spec["assets"]), resources=resources, raise_on_error=False, **kwargs)
        ok = result.success
        errors = [
            str(e.event_specific_data.error.message) for e in result.all_events if e.event_type_value == "STEP_FAILURE"
        ]
    finally:
        with open("/proc/self/status") as fh:
            hwm = next((int(line.split()[1]) for line in fh if line.startswith("VmHWM:")), 0)
        print(f"RELIABILITY_VMHWM_KB={hwm}", file=sys.stderr, flush=True)
    print(json.dumps({"success": ok, "seconds": round(time.perf_counter() - started, 2), "errors": errors}))
    return 0 if ok else 3


if __name__ == "__main__":
    code = child_main(sys.argv[1])
    sys.stdout.flush()
    sys.stderr.flush()
    # The child's verdict is reported above; skip the interpreter's teardown. After a parse that failed half
    # way (out of memory), the landing generator stays "running" on a DuckDB worker's Python thread state and is
    # only released while the interpreter finalizes: that aborts (SIGABRT, duckdb/duckdb#20715) or, about one
    # run in eight under load, hangs (docs/reliability.md). The tests are about the run, not that teardown.
    os._exit(code)


def differing_columns(a: str | Path, b: str | Path, table: str) -> list[str]:
    """The columns of ``table`` whose multiset of values differs between two warehouses (a diagnostic)."""
    out = []
    ca, cb = duckdb.connect(str(a), read_only=True), duckdb.connect(str(b), read_only=True)
    try:
        for column, _ in table_columns(ca)[table]:
            sql = (
                f'SELECT md5(coalesce(string_agg(coalesce("{column}"::VARCHAR, chr(0)), chr(30) ORDER BY '
                f"coalesce(\"{column}\"::VARCHAR, chr(0))), '')) FROM {table}"
            )
            if ca.execute(sql).fetchone() != cb.execute(sql).fetchone():
                out.append(column)
    finally:
        ca.close()
        cb.close()
    return out
