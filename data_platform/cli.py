"""The ``data-platform`` command: generate logs, run the demo, summarise the warehouse.

    data-platform generate --start 2026-11-01 --days 7 --events-per-day 20000 --seed 7 \\
        [--incident category_drift@2026-11-05] [--landing DIR]
    data-platform demo [--keep]      generate a week, materialize every partition, print a summary
    data-platform privacy            apply new opt-out / erasure requests from <landing>/privacy/
    data-platform summary            rows per stage, latest checks, where the data is
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import duckdb

from data_platform.resources import PROJECT_ROOT, landing_root, warehouse_path


def _date(value: str) -> dt.date:
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a date like 2026-11-01, got {value!r}") from None


def _progress(message: str) -> None:
    print(f"  {message}", file=sys.stderr, flush=True)


def cmd_generate(args: argparse.Namespace) -> dict:
    """Write realistic landing files (and a manifest) for a range of days; return the manifest."""
    from data_platform.generator import generate_logs, parse_incident

    incidents = [parse_incident(spec) for spec in args.incident or []]
    landing = Path(args.landing) if args.landing else landing_root()
    started = time.perf_counter()
    manifest = generate_logs(
        landing, args.start, args.days, args.events_per_day, args.seed, incidents, progress=_progress
    )
    seconds = time.perf_counter() - started
    print(
        f"wrote {len(manifest['files'])} files, {manifest['total_lines']:,} lines under {landing / 'events'} "
        f"in {seconds:.1f}s"
    )
    return manifest


def cmd_demo(args: argparse.Namespace) -> int:
    """Generate logs, materialize every partition with ``dg launch``, print the summary."""
    if not args.keep:
        for path in (warehouse_path(), landing_root() / "events"):
            if path.is_dir():
                shutil.rmtree(path)
            elif path.exists():
                path.unlink()
        for wal in warehouse_path().parent.glob(warehouse_path().name + ".wal"):
            wal.unlink()
    print(f"== 1/3 generating {args.days} days x {args.events_per_day:,} events from {args.start}")
    manifest = cmd_generate(args)
    event_days = sorted(manifest["valid_lines_by_event_day"])  # late clicks can spill past midnight
    first, last = event_days[0], event_days[-1]
    print(f"== 2/3 materializing every asset for {first}...{last} (dg launch, one run)")
    env = {
        **os.environ,
        "DAGSTER_HOME": os.environ.get("DAGSTER_HOME", str(PROJECT_ROOT / "dagster_home")),
        # the generator renames finished files into place, so they need no settling time
        "DATA_PLATFORM_SETTLE_SECONDS": "0",
    }
    cmd = [str(Path(sys.executable).with_name("dg")), "launch", "--assets", "*", "--partition-range", f"{first}...{last}"]
    started = time.perf_counter()
    done = subprocess.run(cmd, cwd=PROJECT_ROOT, env=env, capture_output=True, text=True)
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        print(done.stdout[-4000:], done.stderr[-8000:], sep="\n", file=sys.stderr)
        print(f"dg launch failed (exit {done.returncode})", file=sys.stderr)
        return done.returncode
    print(f"   done in {seconds:.1f}s")
    print("== 3/3 summary")
    return cmd_summary(args)


def cmd_summary(args: argparse.Namespace) -> int:
    """Print rows per stage, the latest run's checks, and where things are."""
    path = warehouse_path()
    if not path.exists():
        print(f"no warehouse at {path} yet: run `make demo` first", file=sys.stderr)
        return 1
    con = duckdb.connect(str(path), read_only=True)
    try:
        print(f"warehouse: {path}")
        for line in _stage_counts(con):
            print(f"  {line}")
    finally:
        con.close()
    checks = _latest_run_checks()
    if checks:
        failed = [c for c in checks if not c[2]]
        print(f"checks in the latest run: {len(checks) - len(failed)} passed, {len(failed)} failed")
        for asset, name, passed, partition in sorted(checks):
            if not passed:
                print(f"  FAILED {asset} {name} {partition or ''}")
    print(f"landing folder: {landing_root()}")
    print("open the UI: make ui   (then http://127.0.0.1:3000, asset groups by lifecycle stage)")
    return 0


def _stage_counts(con: duckdb.DuckDBPyConnection) -> list[str]:
    tables = {
        (s, t) for s, t in con.execute(
            "SELECT schema_name, table_name FROM duckdb_tables() WHERE NOT internal"
        ).fetchall()
    }
    lines = []
    if ("raw", "files") in tables:
        files, lines_read, accepted, quarantined = con.execute(
            "SELECT count(*), sum(lines), sum(accepted), sum(quarantined) FROM raw.files WHERE status = 'current'"
        ).fetchone()
        lines.append(f"raw.files        {files:>10,} files, {lines_read or 0:,} lines read")
        events = con.execute("SELECT count(*) FROM raw.events").fetchone()[0]
        quarantine = con.execute("SELECT count(*) FROM raw.quarantine").fetchone()[0]
        lines.append(f"raw.events       {events:>10,} rows ({accepted or 0:,} accepted lines landed)")
        lines.append(f"raw.quarantine   {quarantine:>10,} rows ({quarantined or 0:,} quarantined lines landed)")
        reasons = con.execute(
            "SELECT reason, count(*) FROM raw.quarantine GROUP BY reason ORDER BY 2 DESC, 1"
        ).fetchall()
        lines.append("  quarantine reasons: " + ", ".join(f"{r} {n}" for r, n in reasons))
        balanced = (events + quarantine) == (lines_read or 0)
        lines.append(
            f"accounting: lines read {lines_read or 0:,} = accepted {events:,} + quarantined {quarantine:,}"
            + ("  (balances)" if balanced else "  (DOES NOT BALANCE: some days are not materialized yet)")
        )
    if ("clean", "events") in tables:
        kept, filtered, dups, persons, fixed = con.execute(
            "SELECT (SELECT count(*) FROM clean.events), (SELECT count(*) FROM clean.filtered_events), "
            "(SELECT count(*) FROM clean.duplicates), (SELECT count(DISTINCT person_key) FROM clean.events), "
            "(SELECT count(*) FROM clean.events WHERE price_fix IS NOT NULL)"
        ).fetchone()
        lines.append(f"clean.events     {kept:>10,} rows, {persons:,} persons, {fixed:,} prices corrected")
        lines.append(f"  removed: {dups:,} duplicate deliveries, {filtered:,} by spam/bot rules")
        by_rule = con.execute(
            "SELECT rule_id || '@' || rule_version, count(*) FROM clean.filtered_events GROUP BY 1 ORDER BY 2 DESC"
        ).fetchall()
        lines.append("  rules: " + (", ".join(f"{r} {n}" for r, n in by_rule) or "none fired"))
    return lines


def _latest_run_checks() -> list[tuple[str, str, bool, str | None]]:
    """(asset, check, passed, partition) for every check evaluated by the latest run."""
    if not os.environ.get("DAGSTER_HOME"):
        return []
    import dagster as dg
    from dagster._core.events import DagsterEventType

    with dg.DagsterInstance.get() as instance:
        runs = instance.get_runs(limit=1)
        if not runs:
            return []
        records = instance.all_logs(runs[0].run_id, of_type=DagsterEventType.ASSET_CHECK_EVALUATION)
        out = []
        for record in records:
            evaluation = record.dagster_event.event_specific_data
            out.append((
                evaluation.asset_key.to_user_string(), evaluation.check_name, evaluation.passed,
                getattr(evaluation, "partition", None),
            ))
        return out


def cmd_privacy(args: argparse.Namespace) -> int:
    """Apply new consent and erasure request files now (the same code as the Dagster job)."""
    import json

    from data_platform.privacy.requests import process_requests
    from data_platform.resources import LandingZone, Warehouse

    with Warehouse.from_env().connect() as con:
        summary = process_requests(con, LandingZone.from_env().privacy_dir(), run_id="cli")
    print(json.dumps(summary, indent=2))
    return 1 if any(summary["rows_remaining"].values()) else 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="data-platform", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)

    def add_generation_args(p: argparse.ArgumentParser) -> None:
        p.add_argument("--start", type=_date, default=dt.date(2026, 11, 1), help="first day (UTC)")
        p.add_argument("--days", type=int, default=7)
        p.add_argument("--events-per-day", type=int, default=20000)
        p.add_argument("--seed", type=int, default=7)
        p.add_argument("--incident", action="append", metavar="KIND@DATE[:FIELD]",
                       help="category_drift, cents_prices, volume_drop or null_spike from DATE on")
        p.add_argument("--landing", help="landing folder (default: DATA_PLATFORM_LANDING or data/landing)")

    gen = sub.add_parser("generate", help="write realistic raw event logs into the landing folder")
    add_generation_args(gen)
    gen.set_defaults(func=lambda a: cmd_generate(a) and 0)

    demo = sub.add_parser("demo", help="generate logs, materialize every partition, print a summary")
    add_generation_args(demo)
    demo.add_argument("--keep", action="store_true", help="keep the existing warehouse and landing files")
    demo.set_defaults(func=cmd_demo)

    privacy = sub.add_parser("privacy", help="apply new opt-out and erasure requests from <landing>/privacy/")
    privacy.set_defaults(func=cmd_privacy)

    summary = sub.add_parser("summary", help="rows per stage, latest checks, where the data is")
    summary.set_defaults(func=cmd_summary)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``data-platform`` console script."""
    args = build_parser().parse_args(argv)
    if getattr(args, "landing", None):
        os.environ["DATA_PLATFORM_LANDING"] = args.landing
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
