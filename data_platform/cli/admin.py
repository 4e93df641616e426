"""The operator's commands: ``launch``, ``tick``, ``stop-sensor``, ``backfill``, ``init-instance``, ``plan-labeling``,
``label-studio-sync``, ``privacy``, ``rotate-key``, ``infer-schema``, ``trace``, ``dataset-version``,
``lake maintain``, ``impact`` and ``invalidate``."""

from __future__ import annotations

import argparse
import os
import sys
from contextlib import nullcontext
from pathlib import Path

from data_platform.resources import (
    SnapshotExpired,
    Warehouse,
    dagster_home,
    existing_tables,
    labeling_root,
    landing_root,
    run_sql,
)

LAKE_CLI_ATTEMPTS = 20  # a maintenance commit that conflicts with writers is retried this often


def _dg_launch(launch_args: list[str]) -> int:
    """``dg launch`` with the project's instance (see :func:`data_platform.launch.dg_launch`)."""
    from data_platform.launch import dg_launch

    return dg_launch(launch_args)


def cmd_launch(args: argparse.Namespace) -> int:
    """``dg launch`` without its log on the terminal: what ran, how long, the run's steps and every check
    that did not pass with its reason (the full log stays in the run history, the UI's Runs page)."""
    os.environ.setdefault("DAGSTER_HOME", str(dagster_home()))
    launch_args = ["--job", args.job] if args.job else ["--assets", args.assets]
    if args.partition:
        launch_args += ["--partition", args.partition]
    if args.partition_range:
        launch_args += ["--partition-range", args.partition_range]
    return _dg_launch(launch_args)


def cmd_tick(args: argparse.Namespace) -> int:
    """Tick one sensor as the daemon would (stored cursor, tick and state), running what it requests in process."""
    import warnings

    import dagster as dg

    from data_platform.launch import init_instance, tick_sensor

    with warnings.catch_warnings():  # dagster's beta/preview notices about our own definitions: not news here
        warnings.simplefilter("ignore", (dg.BetaWarning, dg.PreviewWarning))
        from data_platform.definitions import defs

    init_instance()
    with dg.DagsterInstance.get() as instance:
        report = tick_sensor(instance, defs, args.sensor)
    _print_tick(args.sensor, report)
    return 0 if all(success for *_, success, _ in report.runs) else 1


def cmd_stop_sensor(args: argparse.Namespace) -> int:
    """Stop a sensor while the daemon runs, and wait until it stays stopped (see
    :func:`data_platform.launch.stop_sensor`: ``dagster sensor stop`` alone can be undone by a tick in flight)."""
    import dagster as dg

    from data_platform.definitions import defs
    from data_platform.launch import SensorStopError, init_instance, stop_sensor

    init_instance()
    with dg.DagsterInstance.get() as instance:
        try:
            stops = stop_sensor(instance, defs, args.sensor)
        except dg.DagsterInvariantViolationError as error:  # no such sensor: the message lists the sensors
            print(error, file=sys.stderr)
            return 2
        except SensorStopError as error:
            print(error, file=sys.stderr)
            return 1
    if stops == 0:
        print(f"{args.sensor} was not running")
    else:
        again = f" (the daemon wrote it back to running {stops - 1} time(s): stopped again)" if stops > 1 else ""
        print(f"{args.sensor} stopped; no tick of it is in flight{again}")
    return 0


def _print_tick(name: str, report) -> None:
    for event in report.asset_events:
        print(
            f"   {name}: {event.asset_key.to_user_string()} <- "
            f"{event.description or 'event'} {_metadata_text(event.metadata)}"
        )
    for key in report.already_run:
        print(f"   {name}: run key {key} already ran")
    for job_name, _, run_id, success, seconds in report.runs:
        print(f"   {name} -> {job_name} {'succeeded' if success else 'FAILED'} in {seconds:.1f}s (run {run_id[:8]})")
    if not (report.runs or report.asset_events or report.already_run):
        print(f"   {name}: nothing to do ({report.skip_message})")


def _settle_sensors(rounds: int = 5) -> int:
    """Tick every sensor, as the daemon does, until a whole round runs nothing: the demo then leaves
    the instance as a running daemon would have (cursors stored, their runs done), and ``make ui`` has
    nothing to catch up on."""
    import dagster as dg

    from data_platform.definitions import defs
    from data_platform.launch import tick_sensor

    with dg.DagsterInstance.get() as instance:
        for _ in range(rounds):
            reports = [(sensor.name, tick_sensor(instance, defs, sensor.name)) for sensor in defs.sensors]
            for name, report in reports:
                _print_tick(name, report)
            if not all(success for _, report in reports for *_, success, _ in report.runs):
                return 1
            if not any(report.runs or report.asset_events for _, report in reports):
                return 0
    print(f"   the sensors still request runs after {rounds} rounds", file=sys.stderr)
    return 1


def cmd_backfill(args: argparse.Namespace) -> int:
    """Request a backfill of a partitioned job from the daemon (tracked on the UI's Backfills page)."""
    import json

    import dagster as dg

    from data_platform.definitions import defs
    from data_platform.launch import init_instance, request_asset_backfill, request_job_backfill

    init_instance()
    request = request_asset_backfill if args.assets else request_job_backfill
    with dg.DagsterInstance.get() as instance:
        try:
            backfill_id = request(
                instance, defs, args.job, str(args.start), str(args.end), json.loads(args.tags) if args.tags else None
            )
        except ValueError as error:
            print(error, file=sys.stderr)
            return 2
    print(
        f"{'asset ' if args.assets else ''}backfill {backfill_id} of {args.job}, {args.start}...{args.end}: the daemon "
        f"launches it "
        f"(make ui, or dagster-daemon run -w workspace.yaml); progress on the UI's Backfills page"
    )
    return 0


def _init_instance():
    from data_platform.launch import init_instance

    return init_instance()


def _metadata_text(metadata) -> str:
    """Short text of an event's metadata (version, day, reasons) for the terminal."""
    shown = {
        k: getattr(v, "value", v) for k, v in (metadata or {}).items() if k in ("dataset", "version", "day", "reasons")
    }
    return " ".join(f"{k}={v}" for k, v in shown.items())


def cmd_plan_labeling(args: argparse.Namespace) -> int:
    """How many reviews M days and a budget label (or what N examples take), per rater pool, at the
    target accuracy; from the rater registry and what the warehouse measured about the raters."""
    from data_platform.labeling.plan_assets import format_report, measured_inputs, plan_report

    if args.examples is None and (args.days is None or args.budget is None):
        print("give --days and --budget, or --examples", file=sys.stderr)
        return 2
    pools = [p for spec in args.pool or [] for p in spec.split(",") if p] or None
    warehouse = Warehouse.from_env()
    with warehouse.connect(read_only=True) if warehouse.exists() else nullcontext() as con:
        measured = measured_inputs(con, landing_root() / "annotations")
    try:
        report = plan_report(
            measured,
            days=args.days,
            budget=args.budget,
            examples=args.examples,
            pools=pools,
            target=args.target_accuracy,
            gold_share=args.gold_share,
            plurality=args.plurality,
            registry_path=args.registry,
            max_growth=args.max_growth,
        )
    except ValueError as e:
        print(str(e), file=sys.stderr)
        return 2
    ask = f"{args.examples:,} examples" if args.examples is not None else f"{args.days:g} days, EUR {args.budget:,.2f}"
    print(f"labeling plan for {ask}")
    print(format_report(report))
    return 0


def cmd_label_studio_sync(args: argparse.Namespace) -> int:
    """Push the task batches to the Label Studio server and pull its export (LABEL_STUDIO_URL and
    LABEL_STUDIO_API_KEY name the server)."""
    from data_platform.labeling.jobs import label_studio_resources, sync_label_studio
    from data_platform.labeling.label_studio import LabelStudioError

    resources = label_studio_resources()
    if not resources:
        print("set LABEL_STUDIO_URL and LABEL_STUDIO_API_KEY (a personal access token) first", file=sys.stderr)
        return 2
    server = resources["label_studio"].process_config_and_initialize()
    try:
        result = sync_label_studio(server, labeling_root() / "tasks", landing_root())
    except LabelStudioError as error:  # refused, no answer, or the client not installed: one line, no traceback
        print(f"label studio: {error}", file=sys.stderr)
        return 1
    print(f"   project {result['project_id']}: imported {result['imported']}; export -> {result['export']}")
    return 0


def cmd_privacy(args: argparse.Namespace) -> int:
    """Apply new consent and erasure request files now (the same code as the Dagster job)."""
    import json

    from data_platform.catalog import FILE_ERASERS, PERSON_TABLES
    from data_platform.privacy.keys import KeyMismatch
    from data_platform.privacy.requests import ErasureIncomplete, run_requests
    from data_platform.resources import LandingZone, Warehouse

    try:
        summary = run_requests(
            Warehouse.from_env(), LandingZone.from_env().privacy_dir(), "cli", PERSON_TABLES, file_erasers=FILE_ERASERS
        )
    except (KeyMismatch, ErasureIncomplete) as error:  # nothing of the request was committed: it stays open
        print(f"{type(error).__name__}: {error}", file=sys.stderr)
        return 1
    print(json.dumps(summary, indent=2))
    return 1 if any(summary["rows_remaining"].values()) else 0


def cmd_rotate_key(args: argparse.Namespace) -> int:
    """After a key rotation (docs/privacy.md): re-key the consent records made under the retired keys and list
    what the warehouse still holds under another key than the current one; exit 1 while something is left."""
    import json

    from data_platform.privacy.keys import rotate_key
    from data_platform.resources import Warehouse

    with Warehouse.from_env().connect() as con:
        result = rotate_key(con)
    print(json.dumps(result, indent=2, default=str))
    return 1 if result["still_under_other_keys"] else 0


def cmd_privacy_verify(args: argparse.Namespace) -> int:
    """Verify one erasure request everywhere (the same search as the job's ``verify_erasures``), extend its
    certificate, print the readable result: exit 0 when nothing of the subject is found, 1 on any hit, 2 when
    the request cannot be verified (unknown, or erased with another key)."""
    import json

    from data_platform.privacy.certificate import certificate_text, verify_and_certify
    from data_platform.privacy.verify import SearchRoots, VerificationError
    from data_platform.resources import Warehouse, certificates_root

    try:
        with Warehouse.from_env().connect() as con:
            [(verification, path)] = verify_and_certify(
                con, [args.request_id], SearchRoots.from_env(), certificates_root()
            )
    except VerificationError as error:
        print(f"cannot verify: {error}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps(verification.to_dict(), indent=2))
    else:
        print(certificate_text(json.loads(path.read_text(encoding="utf-8"))), end="")
        print(f"certificate: {path} (and {path.with_suffix('.txt').name})")
    return 0 if verification.passed else 1


def cmd_infer_schema(args: argparse.Namespace) -> int:
    """Infer each monitored table's schema from the statistics of a reference window; write the YAML files."""
    from data_platform.resources import Warehouse, rows
    from data_platform.validation.features import MONITORED, SKEW
    from data_platform.validation.schema import SCHEMA_DIR, infer_schema, write_schema
    from data_platform.validation.stats import load_stats

    schema_dir = Path(args.schema_dir) if args.schema_dir else SCHEMA_DIR
    with Warehouse.from_env().connect() as con:
        for monitored in MONITORED:
            if monitored.table == SKEW[1]:
                continue  # a view of clean.events: its schema is clean.events'
            stats = load_stats(con, monitored.table, args.start, args.end)
            if not stats:
                print(
                    f"   {monitored.table}: no statistics in [{args.start}, {args.end}): materialize "
                    "monitoring/feature_stats for those days first",
                    file=sys.stderr,
                )
                return 1
            schema_name, table = monitored.table.split(".")
            columns = [
                (r["column_name"], r["data_type"])
                for r in rows(con, "validation/table_columns.sql", {"schema": schema_name, "table": table})
            ]
            unbounded = frozenset(f.name for f in monitored.features if not f.bounded)
            path = write_schema(
                infer_schema(monitored.table, columns, stats, args.start, args.end, unbounded), schema_dir
            )
            print(f"   {monitored.table}: {len({r['feature'] for r in stats})} features -> {path}")
    return 0


def cmd_trace(args: argparse.Namespace) -> int:
    """Print the chain of one example back to its raw lines (personal data masked)."""
    from data_platform.provenance.trace import trace, trace_markdown

    with Warehouse.from_env().connect(read_only=True) as con:
        result = trace(con, args.dataset, args.example_id, landing_root())
    print(trace_markdown(result))
    return 0 if result.found else 1


def cmd_dataset_version(args: argparse.Namespace) -> int:
    """Write a published version of a dataset again, exactly as it was published, from the lake snapshot its
    export was read from (time travel), into ``--out``/<dataset>/<version>/; the rows' content hash must be
    the version id, so a match is proven, not assumed. Works after later days changed the tables, until an
    erasure expires the snapshots before it (lake maintenance keeps every snapshot a version records;
    docs/operations.md)."""
    from data_platform.splits.export import write_export
    from data_platform.splits.split import DATASETS

    warehouse = Warehouse.from_env()
    key = {"dataset": args.dataset, "version": args.version}
    with warehouse.connect(read_only=True) as con:
        snapshot = (run_sql(con, "splits/export_snapshot.sql", key).fetchone() or (None,))[0]
        reissued = (
            "splits.export_reissues" in existing_tables(con) and run_sql(con, "splits/reissue_of.sql", key).fetchone()
        )
    if snapshot is None and reissued:
        print(
            f"{args.dataset} version {args.version} was re-issued after erasure request {reissued[0]}: it was "
            "written from the version it replaces, not read from a lake snapshot: its exported folder is the version",
            file=sys.stderr,
        )
        return 1
    if snapshot is None:
        print(
            f"no lake snapshot recorded for {args.dataset} version {args.version} (not published, or published "
            "on the DuckDB file, which keeps no history: its exported folder is the version)",
            file=sys.stderr,
        )
        return 1
    try:
        with warehouse.connect_at(snapshot) as con:
            export = write_export(con, DATASETS[args.dataset], Path(args.out))
    except SnapshotExpired as error:
        print(f"{error}; the version's exported folder is what remains of it", file=sys.stderr)
        return 1
    if export.version != args.version:
        print(f"snapshot {snapshot} holds version {export.version}, not {args.version}", file=sys.stderr)
        return 1
    counts = ", ".join(f"{split} {n:,}" for split, n in export.counts.items())
    print(f"{args.dataset} {args.version}: read back from lake snapshot {snapshot} into {export.path} ({counts})")
    return 0


def cmd_lake_maintain(args: argparse.Namespace) -> int:
    """Lake maintenance now (the same code as the ``lake_maintenance`` job): merge small files, expire the
    snapshots older than the retention except those published versions record, delete unread files; print
    what it did. A commit conflict with a running writer is retried after its backoff."""
    import time

    import dagster as dg

    from data_platform.resources import SettingError, retention_cutoff

    try:
        cutoff = retention_cutoff(args.retention_days)
    except SettingError as error:
        print(error, file=sys.stderr)
        return 2
    warehouse = Warehouse.from_env()
    if not warehouse.is_lake:
        print("the warehouse is the DuckDB file: no snapshots or small files to maintain (lake profile only)")
        return 0
    for attempt in range(LAKE_CLI_ATTEMPTS):
        try:
            with warehouse.connect() as con:
                report = warehouse.maintain(con, cutoff)
            break
        except dg.RetryRequested as retry:
            if attempt == LAKE_CLI_ATTEMPTS - 1:
                raise
            print(f"   commit conflict with another writer, retrying in {retry.seconds_to_wait:.1f} s", file=sys.stderr)
            time.sleep(retry.seconds_to_wait)
    print(f"lake maintenance of {warehouse.location()}, snapshots before {report['retention_cutoff']} expired:")
    print(f"  {'':<34} {'before':>14} {'after':>14}")
    for label, key in (
        ("data files read now", "lake_live_files"),
        ("bytes read now", "lake_live_bytes"),
        ("files stored (all snapshots)", "lake_stored_files"),
        ("bytes stored (all snapshots)", "lake_stored_bytes"),
        ("snapshots", "lake_snapshots"),
    ):
        print(f"  {label:<34} {report[key + '_before']:>14,} {report[key + '_after']:>14,}")
    for label, key in (
        ("files merged", "lake_files_merged"),
        ("files rewritten without deleted rows", "lake_files_rewritten"),
        ("files written", "lake_files_written"),
        ("snapshots expired", "lake_snapshots_expired"),
        ("older snapshots kept: published versions", "lake_snapshots_kept_for_exports"),
        ("files deleted from the bucket", "lake_files_deleted"),
        ("orphaned files deleted", "lake_orphans_deleted"),
    ):
        print(f"  {label:<42} {report[key]:>6,}")
    if "erasure_lake_snapshots_expired" in report:
        print("  (an erasure's history was not yet forgotten: done first, every older snapshot expired)")
    return 0


def cmd_impact(args: argparse.Namespace) -> int:
    """Print how many rows each downstream table and export version holds from one input."""
    from data_platform.provenance.trace import impact

    kind, value = _input_of(args)
    with Warehouse.from_env().connect() as con:  # impact stages its event ids in a temp table
        found = impact(con, kind, value)
    print(f"rows holding data from {kind.replace('_', ' ')} {value!r}, per table and per published export version:")
    print(f"  {'table / export version':<45} {'rows':>10}")
    for row in found:
        status = f"  ({row['status']})" if row.get("status") else ""
        print(f"  {row['table']:<45} {row['rows']:>10,}{status}")
    return 0


def cmd_invalidate(args: argparse.Namespace) -> int:
    """Invalidate an input, republish everything downstream through Dagster, audit and verify."""
    import getpass

    from data_platform.partitions import partitions_start
    from data_platform.provenance.invalidate import run_invalidation

    kind, value = _input_of(args)
    os.environ.setdefault("DAGSTER_HOME", str(dagster_home()))
    os.environ["DATA_PLATFORM_SETTLE_SECONDS"] = "0"  # re-runs read files already landed
    result = run_invalidation(
        Warehouse.from_env().connect,
        kind,
        value,
        args.reason,
        args.who or getpass.getuser(),
        _dg_launch,
        partitions_start().date(),
    )
    days = (
        f"days {result['days'][0]}..{result['days'][1]}" if result["days"] else "it removed nothing: no day to rebuild"
    )
    print(f"   invalidation {result['invalidation_id']}: {kind} {value!r}, {days}")
    for table in sorted(set(result["before"]) | set(result["after"])):
        print(f"     {table:<45} {result['before'].get(table, 0):>9,} -> {result['after'].get(table, 0):>9,}")
    print(f"   exports {', '.join(result['exports_before'])} -> {', '.join(result['exports_after'])}")
    if (code := _dg_launch(["--assets", "provenance/invalidations"])) != 0:
        return code
    if result["remaining"]:
        print(f"   STILL TRACING to the input: {result['remaining']}", file=sys.stderr)
        return 1
    print("   nothing downstream traces to the input any more")
    return 0


def _add_input_args(parser: argparse.ArgumentParser) -> None:
    """The input ``impact`` and ``invalidate`` act on: exactly one of a file pattern, a version, a rule."""
    which = parser.add_mutually_exclusive_group(required=True)
    which.add_argument("--source-file", help="a landing path or LIKE pattern, e.g. '2026-11-05/%%'")
    which.add_argument("--app-version", help="the events a client version sent")
    which.add_argument("--rule", help="rule_id@version: the events that rule version removed")


def _input_of(args: argparse.Namespace) -> tuple[str, str]:
    """(kind, value) of the input named on the command line."""
    return next(
        (k, v)
        for k, v in (("source_file", args.source_file), ("app_version", args.app_version), ("rule", args.rule))
        if v
    )
