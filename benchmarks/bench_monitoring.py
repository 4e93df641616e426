"""Monitoring benchmark: profile a wide table day by day with compute_feature_stats, print figures.

    python benchmarks/bench_monitoring.py [--rows 10000000] [--memory 2GB] [--threads 2]

Builds, inside DuckDB (range() and hash-based pseudo-random numbers, no Python loops), a table of
--rows rows over two days with 20 features: 12 numeric of different shapes (normal, log-normal,
uniform, exponential, Pareto tail, bimodal, zero-inflated, Poisson-like counts, a 0/1 label, few
distinct values, a constant, one with 20% NULLs), 6 categorical with 5 to 500 values (skewed), and 2
texts (one with NULLs and non-ASCII characters). Then times compute_feature_stats for each day and,
when data_platform/validation/drift.py provides compare_numeric / compare_categorical, the
comparisons of day 2 against day 1 feature by feature, and the exact KS statistic in SQL
(ks_statistic_sql) of every numeric feature, day 2 against day 1. Prints seconds per phase, the peak RSS
(getrusage; DuckDB runs in-process) after each phase, and the DuckDB settings used; appends the result
as a JSON line to benchmarks/out/monitoring.jsonl. The table is built by a child process (its peak is
reported apart), so the peaks after the profiling phases are the profiling's own.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import multiprocessing
import os
import platform
import re
import resource
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import duckdb  # noqa: E402

from data_platform.validation import FeatureSpec  # noqa: E402
from data_platform.validation.stats import compute_feature_stats  # noqa: E402

DAY_1 = dt.date(2026, 11, 1)

# u(k): a uniform [0, 1) number per row and stream k, from a hash of the row number (deterministic,
# parallel, no random() state); n(k): a standard normal from two uniforms (Box-Muller).
U = "(CAST(hash(i, {k}) >> 11 AS DOUBLE) / 9007199254740992.0)"


def u(k: int) -> str:
    return U.format(k=k)


def n(k: int) -> str:
    return f"(sqrt(-2 * ln(1 - {u(k)})) * cos(2 * pi() * {u(k + 1000)}))"


NUMERIC = {
    "normal": f"100 + 15 * {n(1)}",
    "lognormal": f"exp(3 + 0.8 * {n(2)})",
    "uniform": f"{u(3)} * 50 - 25",
    "exponential": f"-ln(1 - {u(4)}) * 7",
    "pareto": f"1 / pow(1 - {u(5)}, 1 / 1.5)",
    "bimodal": f"CASE WHEN {u(6)} < 0.3 THEN 10 + {n(6)} ELSE 40 + 3 * {n(7)} END",
    "zero_inflated": f"CASE WHEN {u(8)} < 0.6 THEN 0 ELSE -ln(1 - {u(9)}) * 20 END",
    "counts": f"floor(-ln(1 - {u(10)}) * 4)",
    "label": f"CAST({u(11)} < 0.04 AS INTEGER)",
    "rating": f"1 + floor(pow({u(12)}, 0.5) * 5)",
    "constant": "42.0",
    "sparse": f"CASE WHEN {u(13)} < 0.2 THEN NULL ELSE 5 * {n(14)} END",
}
CATEGORICAL = {f"cat_{k}": k for k in (5, 20, 50, 100, 250, 500)}
TEXT = {
    "title": f"repeat('ab', CAST(floor({u(20)} * 30) AS INTEGER))",
    "review": f"CASE WHEN {u(21)} < 0.3 THEN NULL "
    f"ELSE repeat('é€x ', CAST(floor(-ln(1 - {u(22)}) * 20) AS INTEGER)) END",
}


def features() -> list[FeatureSpec]:
    return (
        [FeatureSpec(name, "numeric") for name in NUMERIC]
        + [FeatureSpec(name, "categorical") for name in CATEGORICAL]
        + [FeatureSpec(name, "text") for name in TEXT]
    )


def build_table(con: duckdb.DuckDBPyConnection, rows: int) -> None:
    """bench.wide: ``rows`` rows, half on each of two days, the 20 features as columns."""
    cols = [f"{expr} AS {name}" for name, expr in NUMERIC.items()]
    # skewed categories: the value index is floor(u^2 * k), so low indexes are the frequent ones
    cols += [
        f"'v' || CAST(floor(pow({u(30 + j)}, 2) * {k}) AS INTEGER) AS {name}"
        for j, (name, k) in enumerate(CATEGORICAL.items())
    ]
    cols += [f"{expr} AS {name}" for name, expr in TEXT.items()]
    con.execute("CREATE SCHEMA IF NOT EXISTS bench")
    con.execute(
        "CREATE OR REPLACE TABLE bench.wide AS SELECT $day_1 + CAST(i % 2 AS INTEGER) AS event_date, "
        + ", ".join(cols)
        + " FROM range($rows) AS r(i)",
        {"day_1": DAY_1, "rows": rows},
    )


def peak_rss_mb() -> int:
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)  # KB on Linux


def drift_functions():
    """compare_numeric / compare_categorical from drift.py, or None when it is not there (yet)."""
    try:
        from data_platform.validation.drift import compare_categorical, compare_numeric
    except ImportError:
        return None
    return compare_numeric, compare_categorical


def _connect(path: Path, memory: str, threads: int) -> duckdb.DuckDBPyConnection:
    con = duckdb.connect(str(path))
    con.execute(f"SET memory_limit = '{memory}'")  # SET takes no parameters; checked in main()
    con.execute(f"SET threads = {int(threads)}")
    spill = str(path.parent / "spill").replace("'", "''")
    con.execute(f"SET temp_directory = '{spill}'")
    con.execute("SET TimeZone = 'UTC'")
    con.execute("SET enable_progress_bar = false")
    return con


def _build_in_child(path: str, rows: int, memory: str, threads: int) -> None:
    con = _connect(Path(path), memory, threads)
    build_table(con, rows)
    con.close()


def bench(rows: int, memory: str, threads: int, workdir: Path) -> dict:
    """The table is built in a child process, so that this process's peak RSS is the profiling's."""
    db = workdir / "monitoring.duckdb"
    result: dict = {"date": dt.date.today().isoformat(), "rows": rows, "features": len(features())}
    phases: dict[str, float] = {}
    rss: dict[str, int] = {}

    t0 = time.perf_counter()
    child = multiprocessing.get_context("spawn").Process(target=_build_in_child, args=(str(db), rows, memory, threads))
    child.start()
    child.join()
    if child.exitcode != 0:
        raise SystemExit(f"building the table failed (exit code {child.exitcode})")
    phases["build_table_s"] = round(time.perf_counter() - t0, 2)
    rss["build_table"] = round(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024)

    con = _connect(db, memory, threads)
    rss["open"] = peak_rss_mb()
    stats_by_day = {}
    for d in (DAY_1, DAY_1 + dt.timedelta(days=1)):
        t0 = time.perf_counter()
        stats_by_day[d] = compute_feature_stats(
            con, "bench.wide", features(), "event_date", d, d + dt.timedelta(days=1)
        )
        phases[f"stats_{d}_s"] = round(time.perf_counter() - t0, 2)
        rss[f"stats_{d}"] = peak_rss_mb()
        assert len(stats_by_day[d]) == len(features()), len(stats_by_day[d])

    drift = drift_functions()
    if drift is None:
        result["drift"] = "skipped: data_platform/validation/drift.py not importable"
    else:
        compare_numeric, compare_categorical = drift
        current = {r["feature"]: r for r in stats_by_day[DAY_1 + dt.timedelta(days=1)]}
        reference = {r["feature"]: r for r in stats_by_day[DAY_1]}
        t0 = time.perf_counter()
        for name, cur in current.items():
            compare = compare_categorical if cur["kind"] == "categorical" else compare_numeric
            compare(cur, reference[name])
        phases["drift_compare_s"] = round(time.perf_counter() - t0, 4)
        rss["drift_compare"] = peak_rss_mb()
        result["drift"] = f"{len(current)} comparisons (day 2 against day 1)"

    # the KS statistic of every numeric feature, day 2 against day 1, inside DuckDB (what the drift
    # asset runs per numeric feature; its exactness is tested in data_platform_tests/test_validation_drift.py)
    from data_platform.validation.drift import ks_statistic_sql

    day_sql = "(SELECT {name} FROM bench.wide WHERE event_date = ${day})"
    t0 = time.perf_counter()
    for spec in (f for f in features() if f.kind == "numeric"):
        ks_statistic_sql(
            con,
            spec.name,
            day_sql.format(name=spec.name, day="day_a"),
            day_sql.format(name=spec.name, day="day_b"),
            {"day_a": DAY_1, "day_b": DAY_1 + dt.timedelta(days=1)},
        )
    phases["ks_sql_numeric_s"] = round(time.perf_counter() - t0, 2)
    rss["ks_sql_numeric"] = peak_rss_mb()

    settings = dict(
        con.execute("SELECT name, value FROM duckdb_settings() WHERE name IN ('memory_limit', 'threads')").fetchall()
    )
    con.close()
    result.update(
        seconds=phases,
        peak_rss_mb_after=rss,
        duckdb_settings=settings,
        rows_per_s_per_day=int(rows / 2 / max(phases[f"stats_{DAY_1}_s"], 1e-9)),
        machine=f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}",
        versions=f"duckdb {duckdb.__version__}",
    )
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=10_000_000, help="rows over the two days (default 10M)")
    parser.add_argument("--memory", default="2GB", help="DuckDB memory_limit (default 2GB)")
    parser.add_argument("--threads", type=int, default=2, help="DuckDB threads (default 2)")
    parser.add_argument("--keep", action="store_true", help="keep the work folder")
    args = parser.parse_args()
    if not re.fullmatch(r"\d+(\.\d+)?\s*(KB|MB|GB|TB|KiB|MiB|GiB|TiB)", args.memory.strip(), re.IGNORECASE):
        raise SystemExit(f"--memory must look like '2GB', got {args.memory!r}")
    workdir = Path(tempfile.mkdtemp(prefix=f"bench-monitoring-{args.rows}-", dir=os.environ.get("BENCH_TMP")))
    try:
        result = bench(args.rows, args.memory, args.threads, workdir)
    finally:
        if not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)
    out_dir = ROOT / "benchmarks" / "out"
    out_dir.mkdir(parents=True, exist_ok=True)
    with open(out_dir / "monitoring.jsonl", "a") as fh:
        fh.write(json.dumps(result) + "\n")
    print(json.dumps(result), flush=True)
    print("| phase | seconds | peak RSS MB after |\n|---|---|---|")
    for phase, seconds in result["seconds"].items():
        name = phase.removesuffix("_s")
        label = f"{name} (child process)" if name == "build_table" else name
        print(f"| {label} | {seconds} | {result['peak_rss_mb_after'][name]} |")
    print(f"DuckDB: {result['duckdb_settings']}; drift: {result['drift']}")


if __name__ == "__main__":
    main()
