"""The ``data-platform`` command: generate logs, run the demo, summarise the warehouse.

    data-platform generate --start 2026-11-01 --days 7 --events-per-day 20000 --seed 7 \\
        [--incident category_drift@2026-11-05] [--landing DIR]
    data-platform demo [--keep]      generate a week, materialize every partition, print a summary
    data-platform launch --job daily_pipeline --partition-range 2026-11-02...2026-11-04   dg launch, quiet, summarised
    data-platform privacy            apply new opt-out / erasure requests from <landing>/privacy/
    data-platform annotate [--batch batch-0001]   simulated raters answer a task batch (demo, tests)
    data-platform tick annotation_sensor          evaluate a sensor once and run what it requests
    data-platform infer-schema --from 2026-11-01 --to 2026-11-04   reviewable schemas from a reference window
    data-platform trace ctr_examples <impression-id>     an example back to its raw lines
    data-platform impact --source-file '2026-11-05/%' | --app-version 3.2.0 | --rule crawler_user_agent@1
    data-platform invalidate --rule repeated_review_with_link@1 --reason "..."   void, republish, audit
    data-platform summary            rows per stage, latest checks, where the data is
    data-platform backfill --job ingest_raw_events --from 2026-11-01 --to 2026-11-07   through the daemon
    data-platform init-instance      DAGSTER_HOME ready (the project's dagster.yaml if it has none), before services
    data-platform plan-labeling --days 10 --budget 500 [--pool crowd]   examples, days, cost, quality
    data-platform plan-labeling --examples 2000                          the other way round
    data-platform label-studio-sync  push task batches to a Label Studio server, pull its export
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import shutil
import sys
import time
from pathlib import Path

import duckdb

from data_platform.resources import (
    PROJECT_ROOT,
    exports_root,
    labeling_root,
    landing_root,
    reports_root,
    warehouse_path,
)


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
        for path in (warehouse_path(), landing_root() / "events", landing_root() / "annotations", labeling_root(),
                     exports_root(), reports_root()):
            if path.is_dir():
                shutil.rmtree(path)
            elif path.exists():
                path.unlink()
        for wal in warehouse_path().parent.glob(warehouse_path().name + ".wal"):
            wal.unlink()
        # the project's own demo instance starts empty too: its history (runs, sensor cursors, trigger events
        # "once per version") described the warehouse just deleted. Another DAGSTER_HOME is left alone.
        demo_home = PROJECT_ROOT / "dagster_home"
        if Path(os.environ.get("DAGSTER_HOME", demo_home)).resolve() == demo_home.resolve():
            for name in ("history", "storage", "schedules", "logs"):
                shutil.rmtree(demo_home / name, ignore_errors=True)
    # the demo's world ends on its last simulated day: its partitions end there, so the UI shows the days
    # that have data, not every day up to today (clicks just after its last midnight wait, as they would)
    last_day = args.start + dt.timedelta(days=args.days + args.signal_days - 1)
    os.environ.setdefault("DATA_PLATFORM_END_DATE", last_day.isoformat())
    if os.environ["DATA_PLATFORM_END_DATE"] < last_day.isoformat():
        print(f"DATA_PLATFORM_END_DATE={os.environ['DATA_PLATFORM_END_DATE']} ends before the demo's last day "
              f"{last_day}: unset it or set a later day", file=sys.stderr)
        return 2
    print(f"== 1/{STEPS} generating {args.days} days x {args.events_per_day:,} events from {args.start}")
    manifest = cmd_generate(args)
    event_days = sorted(manifest["valid_lines_by_event_day"])  # late clicks can spill past midnight
    first, last = event_days[0], min(event_days[-1], os.environ["DATA_PLATFORM_END_DATE"])
    # the generator renames finished files into place, so they need no settling time
    os.environ["DATA_PLATFORM_SETTLE_SECONDS"] = "0"
    os.environ.setdefault("DAGSTER_HOME", str(PROJECT_ROOT / "dagster_home"))
    steps = [
        (f"== 2/{STEPS} ingest, clean and label clicks for {first}...{last} (dg launch, one run)",
         ["--job", "daily_pipeline", "--partition-range", f"{first}...{last}"]),
        (f"== 3/{STEPS} weak supervision, labeled reviews, first task batch for raters (dg launch)",
         ["--job", "review_labeling"]),
    ]
    for title, launch_args in steps:
        print(title)
        if (code := _dg_launch(launch_args)) != 0:
            return code
    print("   the data source inventory: owners, cadence, expected against measured volume (monitoring/source_inventory)")
    if (code := _dg_launch(["--assets", "monitoring/source_inventory"])) != 0:
        return code
    print(f"== 4/{STEPS} a late click lands after midnight; the late-click sensor relabels the earlier day")
    if (code := _demo_late_click()) != 0:
        return code
    print(f"== 5/{STEPS} simulated raters answer the batch; the annotation sensor picks the export up")
    if (code := cmd_annotate(argparse.Namespace(batch=None, raters_per_task=3, seed=args.seed))) != 0:
        return code
    if (code := cmd_tick(argparse.Namespace(sensor="annotation_sensor"))) != 0:
        return code
    print(f"== 6/{STEPS} the next batch: active learning, a random slice, gold, suspected label errors (dg launch)")
    if (code := _dg_launch(["--assets", "labels/annotation_tasks"])) != 0:
        return code
    print("   the labeling plan against progress, and the step-size guard (labels/labeling_plan)")
    if (code := _dg_launch(["--assets", "labels/labeling_plan"])) != 0:
        return code
    print(f"== 7/{STEPS} split both datasets by person, check for leakage, publish versioned Parquet with cards (dg launch)")
    if (code := _dg_launch(["--job", "publish_datasets"])) != 0:
        return code
    print(f"== 8/{STEPS} months later: a spam rule version turns out wrong; invalidate it, republish, audit")
    _print_spam_quality("before")
    if (code := cmd_invalidate(argparse.Namespace(
            source_file=None, app_version=None, rule="repeated_review_with_link@1", who="demo",
            reason="it took links to the shop's own help pages for promotion and removed genuine reviews "
                   "citing them; version 2 corrects it"))) != 0:
        return code
    _print_spam_quality("after")
    if args.signal_days:
        print(f"== 9/{STEPS} the next {args.signal_days} days arrive after the published version; the retraining "
              "signal judges each day (drift, new labels, calibration) and the retraining sensor fires the training trigger")
        if (code := _demo_retraining_signal(args)) != 0:
            return code
    print("== the sensors tick as the daemon would (cursors stored), so `make ui` has nothing to catch up on")
    if (code := _settle_sensors()) != 0:
        return code
    print("== summary")
    return cmd_summary(args)


STEPS = 9


def _print_spam_quality(when: str) -> None:
    """The spam rules' precision and recall against the generator's truth (the demo's step 8)."""
    from data_platform.cleaning.assets import spam_truth, spam_rule_quality
    from data_platform.resources import LandingZone

    truth = spam_truth(LandingZone(root=str(landing_root())))
    if truth is None:
        return
    with duckdb.connect(str(warehouse_path()), read_only=True) as con:
        quality = spam_rule_quality(con, {"start_day": dt.date.min, "end_day": dt.date.max}, truth)
    total = next(iter(quality.values()), {}).get("spam_reviews", 0)

    def share(value) -> str:
        return "-" if value is None else f"{value:.3f}"
    print(f"   spam rules {when}, against the generator's {total} spam reviews: " + (", ".join(
        f"{rule} removes {q['flagged']} (precision {share(q['precision'])}, recall {share(q['recall'])})"
        for rule, q in quality.items()) or "nothing removed"))


def _quiet_figures(figures: dict) -> str:
    """What was measured on a day that asks for nothing (the demo's signal step)."""
    parts = []
    if figures.get("new_label_share") is not None:
        parts.append(f"new labels {figures['new_label_share']:.0%} of the version's")
    if figures.get("ctr_z") is not None:
        parts.append(f"CTR {figures['ctr_new']:.4f} vs {figures['ctr_version']:.4f} (z {figures['ctr_z']:+.1f})")
    if figures.get("calibration_ratio_new") is not None:
        parts.append(f"actual/predicted {figures['calibration_ratio_new']:.3f} vs "
                     f"{figures['calibration_ratio_version']:.3f}")
    if figures.get("features_judged"):
        parts.append(f"{figures['features_judged']} feature-days judged, no ERROR drift")
    if "new_reviews" in figures:
        parts.append(f"{figures['new_reviews']} new reviews, {figures.get('new_labels', 0)} new human labels")
    return ", ".join(parts) or "nothing moved"


def _demo_retraining_signal(args: argparse.Namespace) -> int:
    """Generate ``args.signal_days`` more days continuing the same world (same seed; incidents whose
    date falls in them apply), run the daily pipeline over them, then the retraining signal day by
    day, and tick the retraining sensor."""
    import json

    from data_platform.generator import generate_logs, parse_incident

    start = args.start + dt.timedelta(days=args.days)
    incidents = [parse_incident(spec) for spec in args.incident or []]
    manifest = generate_logs(landing_root(), start, args.signal_days, args.events_per_day, args.seed, incidents)
    new_days = sorted(d for d in manifest["valid_lines_by_event_day"]
                      if str(start) <= d <= os.environ["DATA_PLATFORM_END_DATE"])
    active = [f"{i.kind}@{i.start}" for i in incidents if i.start >= start]
    days = [start + dt.timedelta(days=i) for i in range(args.signal_days)]
    spill = [d for d in new_days if d > str(days[-1])]  # clicks just after the last midnight
    print(f"   generated {args.signal_days} days, {days[0]}...{days[-1]}"
          + (f", and the late clicks of the last one on {', '.join(spill)}" if spill else "")
          + (f" (incidents: {', '.join(active)})" if active else " (no incident in them)"))
    if (code := _dg_launch(["--job", "daily_pipeline", "--partition-range", f"{new_days[0]}...{new_days[-1]}"])) != 0:
        return code
    # every day of the world gets its decision (the days inside the published version say so), so the
    # signal's partitions look as complete as the data
    if (code := _dg_launch(["--assets", "monitoring/retraining_signal", "--partition-range",
                            f"{args.start}...{days[-1]}"])) != 0:
        return code
    with duckdb.connect(str(warehouse_path()), read_only=True) as con:
        for day, dataset, refresh, reasons, figures, note in con.execute(
                "SELECT day, dataset, refresh, reasons, figures, note FROM monitoring.retraining_signal "
                "WHERE day >= ? AND day <= ? ORDER BY day, dataset", [days[0], days[-1]]).fetchall():
            why = "; ".join(r["detail"] for r in json.loads(reasons)) or note or _quiet_figures(json.loads(figures))
            print(f"   {day} {dataset:<16} {'REFRESH RECOMMENDED' if refresh else 'no refresh'}: {why}")
    return cmd_tick(argparse.Namespace(sensor="retraining_sensor"))


def _demo_late_click() -> int:
    """Deliver, in a late file, a click on an unclicked impression from just before midnight; run the
    next day; let the late-click sensor relabel the impression's day; show the label flip."""
    import json
    import uuid

    def label_of(impression_id: str) -> tuple:
        with duckdb.connect(str(warehouse_path()), read_only=True) as con:
            return con.execute("SELECT label, label_status FROM labels.ctr_examples WHERE impression_id = ?",
                               [impression_id]).fetchone()

    with duckdb.connect(str(warehouse_path()), read_only=True) as con:
        found = con.execute("""
            SELECT r.event_date, r.impression_id, r.item_id, r.anon_id, r.user_agent, r.ts
            FROM labels.ctr_examples x JOIN raw.events r ON r.event_id = x.impression_event_id
            WHERE x.label = 0 AND hour(x.impression_ts) = 23 AND minute(x.impression_ts) >= 45
              AND x.event_date < (SELECT max(event_date) FROM labels.ctr_examples)
            ORDER BY x.impression_ts DESC LIMIT 1""").fetchone()
    if found is None:
        print("   no unclicked impression just before midnight: skipped")
        return 0
    day, impression_id, item_id, anon_id, user_agent, ts = found
    click_ts = ts + dt.timedelta(minutes=15)
    late = landing_root() / "events" / "late" / f"late-click-{click_ts:%Y-%m-%d}.jsonl"
    late.parent.mkdir(parents=True, exist_ok=True)
    late.write_text(json.dumps({
        "event_id": str(uuid.uuid4()), "event_type": "click", "ts": click_ts.isoformat(), "anon_id": anon_id,
        "impression_id": impression_id, "item_id": item_id, "user_agent": user_agent}) + "\n")
    before = label_of(impression_id)
    if (code := _dg_launch(["--job", "daily_pipeline", "--partition", f"{click_ts:%Y-%m-%d}"])) != 0:
        return code
    if (code := cmd_tick(argparse.Namespace(sensor="late_click_sensor"))) != 0:
        return code
    print(f"   impression {impression_id} of {day} ({ts:%H:%M}), clicked at {click_ts:%Y-%m-%d %H:%M}: "
          f"label {before} -> {label_of(impression_id)}")
    return 0


def _dg_launch(launch_args: list[str]) -> int:
    """``dg launch`` with the project's instance (see :func:`data_platform.launch.dg_launch`)."""
    from data_platform.launch import dg_launch

    return dg_launch(launch_args)


def cmd_launch(args: argparse.Namespace) -> int:
    """``dg launch`` without its log on the terminal: what ran, how long, the run's steps and every check
    that did not pass with its reason (the full log stays in the run history, the UI's Runs page)."""
    os.environ.setdefault("DAGSTER_HOME", str(PROJECT_ROOT / "dagster_home"))
    launch_args = ["--job", args.job] if args.job else ["--assets", args.assets]
    if args.partition:
        launch_args += ["--partition", args.partition]
    if args.partition_range:
        launch_args += ["--partition-range", args.partition_range]
    return _dg_launch(launch_args)


def cmd_annotate(args: argparse.Namespace) -> int:
    """Simulated raters answer a task batch; their Label Studio export lands in <landing>/annotations/."""
    import json

    from data_platform.generator.raters import simulate_annotations, write_export

    tasks_dir = labeling_root() / "tasks"
    batches = sorted(tasks_dir.glob("batch-*.tasks.json"))
    if args.batch:
        batches = [p for p in batches if p.name == f"{args.batch}.tasks.json"]
    if not batches:
        print(f"no task batch {args.batch or ''} under {tasks_dir}: materialize labels/annotation_tasks first",
              file=sys.stderr)
        return 1
    path = batches[-1]
    batch_id = path.name.removesuffix(".tasks.json")
    export = simulate_annotations(json.loads(path.read_text()), raters_per_task=args.raters_per_task, seed=args.seed)
    out = write_export(export, landing_root(), f"{batch_id}-export")
    done = sum(a["result"] != [] for t in export for a in t["annotations"])
    print(f"   {len(export)} tasks of {batch_id} answered ({done} annotations) -> {out}")
    return 0


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


def _print_tick(name: str, report) -> None:
    for event in report.asset_events:
        print(f"   {name}: {event.asset_key.to_user_string()} <- "
              f"{event.description or 'event'} {_metadata_text(event.metadata)}")
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
    from data_platform.launch import init_instance, request_job_backfill

    init_instance()
    with dg.DagsterInstance.get() as instance:
        try:
            backfill_id = request_job_backfill(instance, defs, args.job, str(args.start), str(args.end),
                                               json.loads(args.tags) if args.tags else None)
        except ValueError as error:
            print(error, file=sys.stderr)
            return 2
    print(f"backfill {backfill_id} of {args.job}, {args.start}...{args.end}: the daemon launches it "
          f"(make ui, or dagster-daemon run -w workspace.yaml); progress on the UI's Backfills page")
    return 0


def _init_instance():
    from data_platform.launch import init_instance

    return init_instance()


def _metadata_text(metadata) -> str:
    """Short text of an event's metadata (version, day, reasons) for the terminal."""
    shown = {k: getattr(v, "value", v) for k, v in (metadata or {}).items() if k in ("dataset", "version", "day", "reasons")}
    return " ".join(f"{k}={v}" for k, v in shown.items())


def cmd_plan_labeling(args: argparse.Namespace) -> int:
    """How many reviews M days and a budget label (or what N examples take), per rater pool, at the
    target accuracy; from the rater registry and what the warehouse measured about the raters."""
    from data_platform.labeling.plan_assets import format_report, measured_inputs, plan_report

    if args.examples is None and (args.days is None or args.budget is None):
        print("give --days and --budget, or --examples", file=sys.stderr)
        return 2
    pools = [p for spec in args.pool or [] for p in spec.split(",") if p] or None
    path = warehouse_path()
    con = duckdb.connect(str(path), read_only=True) if path.exists() else None
    try:
        measured = measured_inputs(con, landing_root() / "annotations")
    finally:
        if con is not None:
            con.close()
    try:
        report = plan_report(measured, days=args.days, budget=args.budget, examples=args.examples, pools=pools,
                             target=args.target_accuracy, gold_share=args.gold_share, plurality=args.plurality,
                             registry_path=args.registry, max_growth=args.max_growth)
    except ValueError as e:
        print(str(e), file=sys.stderr)
        return 2
    ask = (f"{args.examples:,} examples" if args.examples is not None
           else f"{args.days:g} days, EUR {args.budget:,.2f}")
    print(f"labeling plan for {ask}")
    print(format_report(report))
    return 0


def cmd_label_studio_sync(args: argparse.Namespace) -> int:
    """Push the task batches to the Label Studio server and pull its export (LABEL_STUDIO_URL and
    LABEL_STUDIO_API_KEY name the server)."""
    from data_platform.labeling.jobs import label_studio_resources, sync_label_studio

    resources = label_studio_resources()
    if not resources:
        print("set LABEL_STUDIO_URL and LABEL_STUDIO_API_KEY (a personal access token) first", file=sys.stderr)
        return 2
    server = resources["label_studio"].process_config_and_initialize()
    result = sync_label_studio(server, labeling_root() / "tasks", landing_root())
    print(f"   project {result['project_id']}: imported {result['imported']}; export -> {result['export']}")
    return 0


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
        from data_platform.launch import check_line

        failed = [c for c in checks if not c.passed]
        print(f"checks (latest evaluation per day in the recent runs): {len(checks) - len(failed)} passed, "
              f"{len(failed)} did not (FAILED: severity ERROR, WARN: severity WARN)")
        for evaluation in checks:
            if not evaluation.passed:
                print(f"  {check_line(evaluation)}")
    print(f"landing folder: {landing_root()}")
    print("open the UI: make ui   (then http://127.0.0.1:3000, asset groups by lifecycle stage)")
    return 0


def _stage_counts(con: duckdb.DuckDBPyConnection) -> list[str]:
    from data_platform.resources import rows

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
    if ("labels", "ctr_examples") in tables:
        n, pos, provisional = con.execute(
            "SELECT count(*), sum(label), count(*) FILTER (WHERE label_status = 'provisional') FROM labels.ctr_examples"
        ).fetchone()
        aside = con.execute("SELECT reason, count(*) FROM labels.unattributed_clicks GROUP BY 1 ORDER BY 2 DESC").fetchall()
        lines.append(f"labels.ctr_examples {n:>7,} impressions, {pos or 0:,} clicked (CTR {(pos or 0) / max(n, 1):.4f}), "
                     f"{provisional:,} provisional")
        lines.append("  clicks kept aside: " + (", ".join(f"{r} {c}" for r, c in aside) or "none"))
    if ("labels", "review_examples") in tables:
        by_source = con.execute(
            "SELECT label_source, count(*) FROM labels.review_examples GROUP BY 1 ORDER BY 2 DESC").fetchall()
        total = sum(c for _, c in by_source)
        lines.append(f"labels.review_examples {total:>4,} reviews: " + ", ".join(f"{s} {c}" for s, c in by_source))
        weak_acc, weak_n, human_acc, human_n = con.execute(
            "SELECT avg((w.label = g.label)::INT), count(*) FILTER (WHERE w.label IS NOT NULL), "
            "(SELECT avg((h.label = g2.label)::INT) FROM labels.human_consensus h JOIN labels.gold g2 USING (review_id)), "
            "(SELECT count(*) FROM labels.human_consensus h JOIN labels.gold g2 USING (review_id)) "
            "FROM labels.gold g LEFT JOIN labels.weak_labels w USING (review_id)").fetchone()
        lines.append("  accuracy on gold: " + ", ".join(
            f"{who} {acc:.3f} ({n} items)" if n else f"{who}: no gold items"
            for who, acc, n in (("label model", weak_acc, weak_n), ("human consensus", human_acc, human_n))))
        batches = con.execute("SELECT batch_id, count(*), string_agg(DISTINCT selection, ',' ORDER BY selection) "
                              "FROM labels.tasks GROUP BY 1 ORDER BY 1").fetchall()
        lines.append("  task batches: " + ", ".join(f"{b} ({n} tasks: {s})" for b, n, s in batches))
    if ("splits", "exports") in tables:
        for dataset, version, path, examples in con.execute(
                "SELECT dataset, version, path, examples FROM splits.exports "
                "QUALIFY row_number() OVER (PARTITION BY dataset ORDER BY created_at DESC) = 1 ORDER BY 1").fetchall():
            from data_platform.splits.split import DATASETS

            shares = ", ".join(f"{r['split']} {r['examples']:,}" for r in rows(
                con, "splits/count_by_split.sql", table=f"splits.{DATASETS[dataset].name}"))
            lines.append(f"exports/{dataset}: version {version}, {examples:,} examples ({shares}) -> {path}")
    if ("provenance", "invalidations") in tables:
        for inv_id, kind, value, status, reason in con.execute(
                "SELECT invalidation_id, kind, value, status, reason FROM provenance.invalidations ORDER BY 1").fetchall():
            moved = con.execute("SELECT string_agg(table_name || ' ' || rows_before || '->' || rows_after, ', ' "
                                "ORDER BY table_name) FROM provenance.invalidation_audit WHERE invalidation_id = ? "
                                "AND rows_before <> rows_after", [inv_id]).fetchone()[0]
            lines.append(f"provenance: invalidation {inv_id} {kind} {value} ({status}): {reason}")
            lines.append(f"  rows tracing to it: {moved or 'unchanged'}")
    if ("monitoring", "retraining_signal") in tables:
        import json

        for day, dataset, refresh, reasons in con.execute(
                "SELECT day, dataset, refresh, reasons FROM monitoring.retraining_signal "
                "WHERE version IS NOT NULL ORDER BY day, dataset").fetchall():
            kinds = ", ".join(r["reason"] for r in json.loads(reasons))
            lines.append(f"retraining signal {day} {dataset}: " + (f"REFRESH ({kinds})" if refresh else "no refresh"))
    if ("monitoring", "anomalies") in tables:
        stats_rows, stats_days = con.execute(
            "SELECT count(*), count(DISTINCT partition_date) FROM monitoring.feature_stats").fetchone()
        lines.append(f"monitoring.feature_stats {stats_rows:>5,} feature profiles over {stats_days} days")
        by_day = con.execute("""
            SELECT day, count(*) FILTER (WHERE severity = 'ERROR'), count(*) FILTER (WHERE severity = 'WARN'),
                   string_agg(DISTINCT kind || ' ' || table_name || '.' || feature, ', ' ORDER BY kind || ' ' || table_name || '.' || feature)
                       FILTER (WHERE severity = 'ERROR')
            FROM monitoring.anomalies GROUP BY day ORDER BY day""").fetchall()
        for day, errors, warnings, what in by_day:
            shown = (what or "")[:150] + ("..." if what and len(what) > 150 else "")
            lines.append(f"  {day}: {errors} ERROR, {warnings} WARN" + (f"  ({shown})" if errors else ""))
    return lines


def _latest_run_checks(runs: int = 10) -> list:
    """The latest evaluation of every check and partition in the last ``runs`` runs (sorted by asset,
    check and partition)."""
    if not os.environ.get("DAGSTER_HOME"):
        return []
    import dagster as dg
    from dagster._core.events import DagsterEventType

    latest: dict[tuple[str, str, str], object] = {}
    with dg.DagsterInstance.get() as instance:
        for run in reversed(instance.get_runs(limit=runs)):  # oldest first: later evaluations win
            for record in instance.all_logs(run.run_id, of_type=DagsterEventType.ASSET_CHECK_EVALUATION):
                evaluation = record.dagster_event.event_specific_data
                latest[evaluation.asset_key.to_user_string(), evaluation.check_name, evaluation.partition or ""] = evaluation
    return [latest[k] for k in sorted(latest)]


def cmd_privacy(args: argparse.Namespace) -> int:
    """Apply new consent and erasure request files now (the same code as the Dagster job)."""
    import json

    from data_platform.privacy.requests import process_requests
    from data_platform.resources import LandingZone, Warehouse

    with Warehouse.from_env().connect() as con:
        summary = process_requests(con, LandingZone.from_env().privacy_dir(), run_id="cli")
    print(json.dumps(summary, indent=2))
    return 1 if any(summary["rows_remaining"].values()) else 0


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
                print(f"   {monitored.table}: no statistics in [{args.start}, {args.end}): materialize "
                      "monitoring/feature_stats for those days first", file=sys.stderr)
                return 1
            schema_name, table = monitored.table.split(".")
            columns = [(r["column_name"], r["data_type"]) for r in rows(
                con, "validation/table_columns.sql", {"schema": schema_name, "table": table})]
            unbounded = frozenset(f.name for f in monitored.features if not f.bounded)
            path = write_schema(infer_schema(monitored.table, columns, stats, args.start, args.end, unbounded),
                                schema_dir)
            print(f"   {monitored.table}: {len({r['feature'] for r in stats})} features -> {path}")
    return 0


def cmd_trace(args: argparse.Namespace) -> int:
    """Print the chain of one example back to its raw lines (personal data masked)."""
    from data_platform.provenance.trace import trace, trace_markdown

    with duckdb.connect(str(warehouse_path()), read_only=True) as con:
        result = trace(con, args.dataset, args.example_id, landing_root())
    print(trace_markdown(result))
    return 0 if result.found else 1


def cmd_impact(args: argparse.Namespace) -> int:
    """Print how many rows each downstream table and export version holds from one input."""
    from data_platform.provenance.trace import impact

    kind, value = _input_of(args)
    with duckdb.connect(str(warehouse_path())) as con:  # impact stages its event ids in a temp table
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
    os.environ.setdefault("DAGSTER_HOME", str(PROJECT_ROOT / "dagster_home"))
    os.environ["DATA_PLATFORM_SETTLE_SECONDS"] = "0"  # re-runs read files already landed
    result = run_invalidation(lambda read_only: duckdb.connect(str(warehouse_path()), read_only=read_only),
                              kind, value, args.reason, args.who or getpass.getuser(), _dg_launch,
                              partitions_start().date())
    days = (f"days {result['days'][0]}..{result['days'][1]}" if result["days"]
            else "it removed nothing: no day to rebuild")
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
    return next((k, v) for k, v in (("source_file", args.source_file), ("app_version", args.app_version),
                                    ("rule", args.rule)) if v)


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
    demo.add_argument("--signal-days", type=int, default=3,
                      help="days generated after publishing, judged by the retraining signal (0: skip step 9)")
    demo.set_defaults(func=cmd_demo)

    launch = sub.add_parser("launch", help="dg launch, quietly, then a summary of the run's steps and checks")
    target = launch.add_mutually_exclusive_group(required=True)
    target.add_argument("--job", help="a job, e.g. daily_pipeline")
    target.add_argument("--assets", help="an asset selection, e.g. group:ingestion or key:raw/events")
    days = launch.add_mutually_exclusive_group()
    days.add_argument("--partition", help="one day, e.g. 2026-11-03")
    days.add_argument("--partition-range", help="first...last, e.g. 2026-11-02...2026-11-04 (one run)")
    launch.set_defaults(func=cmd_launch)

    privacy = sub.add_parser("privacy", help="apply new opt-out and erasure requests from <landing>/privacy/")
    privacy.set_defaults(func=cmd_privacy)

    annotate = sub.add_parser("annotate", help="simulated raters answer a task batch (the latest by default)")
    annotate.add_argument("--batch", help="batch id, e.g. batch-0001")
    annotate.add_argument("--raters-per-task", type=int, default=3)
    annotate.add_argument("--seed", type=int, default=7)
    annotate.set_defaults(func=cmd_annotate)

    tick = sub.add_parser("tick", help="evaluate a sensor once and run the runs it requests")
    tick.add_argument("sensor", help="e.g. annotation_sensor, late_click_sensor")
    tick.set_defaults(func=cmd_tick)

    infer = sub.add_parser("infer-schema", help="write reviewable schemas from a reference window's statistics")
    infer.add_argument("--from", dest="start", type=_date, required=True, help="first day of the window")
    infer.add_argument("--to", dest="end", type=_date, required=True, help="day after the window")
    infer.add_argument("--schema-dir", help="default: data_platform/validation/schemas (in the repo)")
    infer.set_defaults(func=cmd_infer_schema)

    trace_p = sub.add_parser("trace", help="follow an example of a dataset back to its raw lines")
    trace_p.add_argument("dataset", choices=("ctr_examples", "review_examples"))
    trace_p.add_argument("example_id", help="impression_id (ctr_examples) or review_id (review_examples)")
    trace_p.set_defaults(func=cmd_trace)

    impact_p = sub.add_parser("impact", help="rows downstream of a file, an app version or a rule version")
    _add_input_args(impact_p)
    impact_p.set_defaults(func=cmd_impact)

    inv = sub.add_parser("invalidate", help="declare an input bad, republish everything downstream, audit")
    _add_input_args(inv)
    inv.add_argument("--reason", required=True)
    inv.add_argument("--who", help="default: the current user")
    inv.set_defaults(func=cmd_invalidate)

    plan = sub.add_parser("plan-labeling", help="examples, days, cost and label quality per rater pool")
    plan.add_argument("--days", type=float, help="working days available")
    plan.add_argument("--budget", type=float, help="budget in EUR")
    plan.add_argument("--examples", type=int, help="plan for this many new examples instead (days and cost)")
    plan.add_argument("--pool", action="append", metavar="POOL[,POOL]",
                      help="in_house, outsourced, crowd (default: each, then all together)")
    plan.add_argument("--target-accuracy", type=float, default=0.95, help="label accuracy to reach (default 0.95)")
    plan.add_argument("--gold-share", type=float, default=0.15, help="share of each batch that is hidden gold")
    plan.add_argument("--plurality", action="store_true",
                      help="exact 3-class plurality vote instead of the binomial majority formula (a lower bound)")
    plan.add_argument("--max-growth", type=float, default=10.0, help="step-size guard (x the labeled set)")
    plan.add_argument("--registry", help="rater registry YAML (default: the shipped raters.yaml)")
    plan.set_defaults(func=cmd_plan_labeling)

    ls_sync = sub.add_parser("label-studio-sync", help="push task batches to Label Studio, pull its export")
    ls_sync.set_defaults(func=cmd_label_studio_sync)

    backfill = sub.add_parser("backfill", help="request a backfill of a partitioned job from the daemon "
                              "(the UI's Launch backfill, from the shell)")
    backfill.add_argument("--job", required=True, help="e.g. ingest_raw_events, daily_pipeline")
    backfill.add_argument("--from", dest="start", type=_date, required=True, help="first day")
    backfill.add_argument("--to", dest="end", type=_date, required=True, help="last day (included)")
    backfill.add_argument("--tags", help='JSON object of run tags, e.g. \'{"dagster/priority": "-1"}\'')
    backfill.set_defaults(func=cmd_backfill)

    init = sub.add_parser("init-instance", help="make DAGSTER_HOME a ready instance (the project's dagster.yaml "
                          "if it has none) before the webserver and the daemon start")
    init.set_defaults(func=lambda a: print(f"instance ready: {_init_instance()}") or 0)

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
