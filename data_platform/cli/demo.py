"""The demo script: ``data-platform generate`` and ``data-platform demo`` (generate a small world of logs,
run every stage through Dagster, show the late click, the simulated raters, an invalidation and the
retraining signal), and ``data-platform annotate`` (simulated raters answer a task batch)."""

from __future__ import annotations

import argparse
import datetime as dt
import os
import shutil
import sys
import time
from pathlib import Path

from data_platform.cli.admin import _dg_launch, _settle_sensors, cmd_invalidate, cmd_tick
from data_platform.cli.summary import cmd_summary
from data_platform.resources import (
    DEFAULT_DAGSTER_HOME,
    Warehouse,
    dagster_home,
    existing_tables,
    exports_root,
    labeling_root,
    landing_root,
    reports_root,
    warehouse_path,
)


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
        for path in (
            warehouse_path(),
            landing_root() / "events",
            landing_root() / "annotations",
            labeling_root(),
            exports_root(),
            reports_root(),
        ):
            if path.is_dir():
                shutil.rmtree(path)
            elif path.exists():
                path.unlink()
        for wal in warehouse_path().parent.glob(warehouse_path().name + ".wal"):
            wal.unlink()
        # the demo's own instance (the default, dagster_home/ here) starts empty too: its history (runs, sensor
        # cursors, trigger events "once per version") described the warehouse just deleted. Another DAGSTER_HOME
        # is left alone.
        demo_home = Path(DEFAULT_DAGSTER_HOME).resolve()
        if dagster_home().resolve() == demo_home:
            for name in ("history", "storage", "schedules", "logs"):
                shutil.rmtree(demo_home / name, ignore_errors=True)
    # the demo's world ends on its last simulated day: its partitions end there, so the UI shows the days
    # that have data, not every day up to today (clicks just after its last midnight wait, as they would)
    last_day = args.start + dt.timedelta(days=args.days + args.signal_days - 1)
    if not os.environ.get("DATA_PLATFORM_END_DATE"):  # unset or empty: the demo's own last day
        os.environ["DATA_PLATFORM_END_DATE"] = last_day.isoformat()
    if os.environ["DATA_PLATFORM_END_DATE"] < last_day.isoformat():
        print(
            f"DATA_PLATFORM_END_DATE={os.environ['DATA_PLATFORM_END_DATE']} ends before the demo's last day "
            f"{last_day}: unset it or set a later day",
            file=sys.stderr,
        )
        return 2
    print(f"== 1/{STEPS} generating {args.days} days x {args.events_per_day:,} events from {args.start}")
    manifest = cmd_generate(args)
    event_days = sorted(manifest["valid_lines_by_event_day"])  # late clicks can spill past midnight
    first, last = event_days[0], min(event_days[-1], os.environ["DATA_PLATFORM_END_DATE"])
    # the generator renames finished files into place, so they need no settling time
    os.environ["DATA_PLATFORM_SETTLE_SECONDS"] = "0"
    os.environ.setdefault("DAGSTER_HOME", str(dagster_home()))
    steps = [
        (
            f"== 2/{STEPS} ingest, clean and label clicks for {first}...{last} (dg launch, one run)",
            ["--job", "daily_pipeline", "--partition-range", f"{first}...{last}"],
        ),
        (
            f"== 3/{STEPS} weak supervision, labeled reviews, first task batch for raters (dg launch)",
            ["--job", "review_labeling"],
        ),
    ]
    for title, launch_args in steps:
        print(title)
        if (code := _dg_launch(launch_args)) != 0:
            return code
    print(
        "   the data source inventory: owners, cadence, expected against measured volume (monitoring/source_inventory)"
    )
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
    # two assets that do not read each other, one run (each `dg launch` costs a process start, ~2 s)
    print(f"== 6/{STEPS} the next batch: active learning, a random slice, gold, suspected label errors (dg launch)")
    print("   the labeling plan against progress, and the step-size guard (labels/labeling_plan, same run)")
    if (code := _dg_launch(["--assets", "labels/annotation_tasks,labels/labeling_plan"])) != 0:
        return code
    print(
        f"== 7/{STEPS} split both datasets by person (reviews: with their near copies by others), check for leakage, "
        "publish versioned Parquet with cards, train each version's baseline model (dg launch)"
    )
    if (code := _dg_launch(["--job", "publish_datasets"])) != 0:
        return code
    _print_near_duplicates(manifest)
    _print_baselines()
    # the plan and the twin read the published versions, not each other: one run
    print("   the labeling plan again: its step-size guard now reads the measured learning curve")
    print(
        "   a synthetic twin of the published click data for sharing: no real person, its privacy measured "
        "(synthetic/ctr_examples, same run)"
    )
    code = _dg_launch(["--assets", "labels/labeling_plan,synthetic/ctr_examples"])
    if code != 0 and not _only_the_twin_withheld():
        return code
    _print_growth_limit()
    if code != 0:
        # the blocking check did its job: on a small world the twin can sit too close to the real rows
        print("   the twin was withheld: its blocking privacy check failed (reason above); nothing was published")
    else:
        _print_twin()
    print(f"== 8/{STEPS} months later: a spam rule version turns out wrong; invalidate it, republish, audit")
    _print_spam_quality("before")
    if (
        code := cmd_invalidate(
            argparse.Namespace(
                source_file=None,
                app_version=None,
                rule="repeated_review_with_link@1",
                who="demo",
                reason="it took links to the shop's own help pages for promotion and removed genuine reviews "
                "citing them; version 2 corrects it",
            )
        )
    ) != 0:
        return code
    _print_spam_quality("after")
    if args.signal_days:
        print(
            f"== 9/{STEPS} the next {args.signal_days} days arrive after the published version; the retraining "
            "signal judges each day (drift, new labels, calibration) and the retraining sensor fires the "
            "training trigger"
        )
        if (code := _demo_retraining_signal(args)) != 0:
            return code
    print("== the sensors tick as the daemon would (cursors stored), so `make ui` has nothing to catch up on")
    if (code := _settle_sensors()) != 0:
        return code
    print("== summary")
    return cmd_summary(args)


STEPS = 9


def _print_baselines() -> None:
    """The baseline of each published version, as the status summary says it (the demo's step 7)."""
    from data_platform.training.stage import summary

    with Warehouse.from_env().connect(read_only=True) as con:
        tables = {tuple(name.split(".", 1)) for name in existing_tables(con)}
        for line in summary(con, tables):
            print(f"   {line}")


def _print_growth_limit() -> None:
    """Where the labeling plan's step-size limit came from (the latest labels/labeling_plan)."""
    import dagster as dg

    with dg.DagsterInstance.get() as instance:
        event = instance.get_latest_materialization_event(dg.AssetKey(["labels", "labeling_plan"]))
    meta = event.asset_materialization.metadata if event and event.asset_materialization else {}
    if "growth_limit" in meta:
        print(f"   step-size limit: {meta['growth_limit'].value}")


def _print_twin() -> None:
    """The published twin's card in one line (the demo's step 7)."""
    import json

    with Warehouse.from_env().connect(read_only=True) as con:
        found = con.execute(
            "SELECT path FROM splits.twins WHERE dataset = 'ctr_examples' ORDER BY created_at DESC LIMIT 1"
        ).fetchone()
    if found is None:
        return
    card = json.loads((Path(found[0]) / "card.json").read_text())
    u, p = card["utility"], card["privacy"]

    def auc(value) -> str:
        return "-" if value is None else f"{value:.3f}"

    print(
        f"   twin {card['version']}: {card['counts']['train']:,} synthetic rows of {card['persons']:,} synthetic "
        f"persons from version {card['source']['version']}; AUC on real test {auc(u.get('auc_train_on_synthetic'))} "
        f"trained on it vs {auc(u.get('auc_train_on_real'))} on real; {p['exact_copies']} exact copies, "
        f"close share {p['close_share']:.3f}, membership advantage {p['membership_advantage']:.3f} -> {found[0]}"
    )


def _print_spam_quality(when: str) -> None:
    """The spam rules' precision and recall against the generator's truth (the demo's step 8)."""
    from data_platform.cleaning.assets import spam_rule_quality, spam_truth
    from data_platform.resources import LandingZone

    truth = spam_truth(LandingZone(root=str(landing_root())))
    if truth is None:
        return
    with Warehouse.from_env().connect(read_only=True) as con:
        quality = spam_rule_quality(con, {"start_day": dt.date.min, "end_day": dt.date.max}, truth)
    total = next(iter(quality.values()), {}).get("spam_reviews", 0)

    def share(value) -> str:
        return "-" if value is None else f"{value:.3f}"

    print(
        f"   spam rules {when}, against the generator's {total} spam reviews: "
        + (
            ", ".join(
                f"{rule} removes {q['flagged']} (precision {share(q['precision'])}, recall {share(q['recall'])})"
                for rule, q in quality.items()
            )
            or "nothing removed"
        )
    )


def _only_the_twin_withheld() -> bool:
    """Whether the latest run failed only because the twin's blocking privacy check did not pass: its one
    failed step is the twin's, and the check's latest evaluation did not pass (the plan's step succeeded)."""
    import dagster as dg
    from dagster._core.events import DagsterEventType

    twin_check = _latest_check_evaluation(dg.AssetCheckKey(dg.AssetKey(["synthetic", "ctr_examples"]), "privacy"))
    if twin_check is None or twin_check.passed:
        return False
    with dg.DagsterInstance.from_config(os.environ["DAGSTER_HOME"]) as instance:
        run = instance.get_runs(limit=1)[0]
        failed = {
            r.dagster_event.step_key for r in instance.all_logs(run.run_id, of_type=DagsterEventType.STEP_FAILURE)
        }
    return failed == {"synthetic__ctr_examples"}


def _latest_check_evaluation(key):
    """The latest recorded evaluation of an asset check on the demo's instance, or None."""
    import dagster as dg

    with dg.DagsterInstance.from_config(os.environ["DAGSTER_HOME"]) as instance:
        record = instance.event_log_storage.get_latest_asset_check_execution_by_key([key]).get(key)
    if record is None or record.event is None or record.event.dagster_event is None:
        return None
    return record.event.dagster_event.event_specific_data


def _print_near_duplicates(manifest: dict) -> None:
    """The review split's near-duplicate check as the run recorded it, and how many of the generator's
    injected pairs it found (the demo's step 7)."""
    import dagster as dg

    from data_platform.launch import check_line
    from data_platform.splits.assets import NEAR_DUPLICATE_CHECK
    from data_platform.splits.split import REVIEWS

    evaluation = _latest_check_evaluation(dg.AssetCheckKey(dg.AssetKey(["splits", REVIEWS.name]), NEAR_DUPLICATE_CHECK))
    if evaluation is None:
        return
    meta = {k: v.value for k, v in (evaluation.metadata or {}).items()}
    injected = manifest["reviews"]["near_duplicates"]["pairs"]
    with Warehouse.from_env().connect(read_only=True) as con:
        if REVIEWS.near_duplicates_table not in existing_tables(con):
            return  # no review to split
        found = {
            tuple(r)
            for r in con.execute(f"SELECT example_a, example_b FROM {REVIEWS.near_duplicates_table}").fetchall()
        }
        labeled = {r[0] for r in con.execute(f"SELECT example_id FROM splits.{REVIEWS.name}").fetchall()}
    pairs = [tuple(sorted((p["original"], p["copy"]))) for p in injected]
    in_dataset = [p for p in pairs if set(p) <= labeled]
    print(
        f"   {check_line(evaluation)}: {meta.get('pairs_across_splits')} near-duplicate review pairs across splits; "
        f"{meta.get('near_duplicate_pairs')} pairs between persons found, {sum(p in found for p in in_dataset)} of "
        f"the generator's {len(in_dataset)} injected pairs in the dataset among them; "
        f"{meta.get('clusters_of_several_persons')} clusters of persons kept in one split"
    )


def _quiet_figures(figures: dict) -> str:
    """What was measured on a day that asks for nothing (the demo's signal step)."""
    parts = []
    if figures.get("new_label_share") is not None:
        parts.append(f"new labels {figures['new_label_share']:.0%} of the version's")
    if figures.get("ctr_z") is not None:
        parts.append(f"CTR {figures['ctr_new']:.4f} vs {figures['ctr_version']:.4f} (z {figures['ctr_z']:+.1f})")
    if figures.get("calibration_ratio_new") is not None:
        parts.append(
            f"actual/predicted {figures['calibration_ratio_new']:.3f} vs {figures['calibration_ratio_version']:.3f}"
        )
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
    new_days = sorted(
        d for d in manifest["valid_lines_by_event_day"] if str(start) <= d <= os.environ["DATA_PLATFORM_END_DATE"]
    )
    active = [f"{i.kind}@{i.start}" for i in incidents if i.start >= start]
    days = [start + dt.timedelta(days=i) for i in range(args.signal_days)]
    spill = [d for d in new_days if d > str(days[-1])]  # clicks just after the last midnight
    print(
        f"   generated {args.signal_days} days, {days[0]}...{days[-1]}"
        + (f", and the late clicks of the last one on {', '.join(spill)}" if spill else "")
        + (f" (incidents: {', '.join(active)})" if active else " (no incident in them)")
    )
    if (code := _dg_launch(["--job", "daily_pipeline", "--partition-range", f"{new_days[0]}...{new_days[-1]}"])) != 0:
        return code
    # every day of the world gets its decision (the days inside the published version say so), so the
    # signal's partitions look as complete as the data
    if (
        code := _dg_launch(
            ["--assets", "monitoring/retraining_signal", "--partition-range", f"{args.start}...{days[-1]}"]
        )
    ) != 0:
        return code
    with Warehouse.from_env().connect(read_only=True) as con:
        for day, dataset, refresh, reasons, figures, note in con.execute(
            "SELECT day, dataset, refresh, reasons, figures, note FROM monitoring.retraining_signal "
            "WHERE day >= ? AND day <= ? ORDER BY day, dataset",
            [days[0], days[-1]],
        ).fetchall():
            why = "; ".join(r["detail"] for r in json.loads(reasons)) or note or _quiet_figures(json.loads(figures))
            print(f"   {day} {dataset:<16} {'REFRESH RECOMMENDED' if refresh else 'no refresh'}: {why}")
    return cmd_tick(argparse.Namespace(sensor="retraining_sensor"))


def _demo_late_click() -> int:
    """Deliver, in a late file, a click on an unclicked impression from just before midnight; run the
    next day; let the late-click sensor relabel the impression's day; show the label flip."""
    import json
    import uuid

    def label_of(impression_id: str) -> tuple:
        with Warehouse.from_env().connect(read_only=True) as con:
            return con.execute(
                "SELECT label, label_status FROM labels.ctr_examples WHERE impression_id = ?", [impression_id]
            ).fetchone()

    with Warehouse.from_env().connect(read_only=True) as con:
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
    late.write_text(
        json.dumps(
            {
                "event_id": str(uuid.uuid4()),
                "event_type": "click",
                "ts": click_ts.isoformat(),
                "anon_id": anon_id,
                "impression_id": impression_id,
                "item_id": item_id,
                "user_agent": user_agent,
            }
        )
        + "\n"
    )
    before = label_of(impression_id)
    if (code := _dg_launch(["--job", "daily_pipeline", "--partition", f"{click_ts:%Y-%m-%d}"])) != 0:
        return code
    if (code := cmd_tick(argparse.Namespace(sensor="late_click_sensor"))) != 0:
        return code
    print(
        f"   impression {impression_id} of {day} ({ts:%H:%M}), clicked at {click_ts:%Y-%m-%d %H:%M}: "
        f"label {before} -> {label_of(impression_id)}"
    )
    return 0


def cmd_annotate(args: argparse.Namespace) -> int:
    """Simulated raters answer a task batch; their Label Studio export lands in <landing>/annotations/."""
    import json

    from data_platform.generator.raters import simulate_annotations, write_export

    tasks_dir = labeling_root() / "tasks"
    batches = sorted(tasks_dir.glob("batch-*.tasks.json"))
    if args.batch:
        batches = [p for p in batches if p.name == f"{args.batch}.tasks.json"]
    if not batches:
        print(
            f"no task batch {args.batch or ''} under {tasks_dir}: materialize labels/annotation_tasks first",
            file=sys.stderr,
        )
        return 1
    path = batches[-1]
    batch_id = path.name.removesuffix(".tasks.json")
    export = simulate_annotations(json.loads(path.read_text()), raters_per_task=args.raters_per_task, seed=args.seed)
    out = write_export(export, landing_root(), f"{batch_id}-export")
    done = sum(a["result"] != [] for t in export for a in t["annotations"])
    print(f"   {len(export)} tasks of {batch_id} answered ({done} annotations) -> {out}")
    return 0
