"""The ``data-platform`` command: generate logs, run the demo, summarise the warehouse.

    data-platform generate --start 2026-11-01 --days 7 --events-per-day 20000 --seed 7 \\
        [--incident category_drift@2026-11-05] [--landing DIR]
    data-platform demo [--keep]      generate a week, materialize every partition, print a summary
    data-platform launch --job daily_pipeline --partition-range 2026-11-02...2026-11-04   dg launch, quiet, summarised
    data-platform privacy            apply new opt-out / erasure requests from <landing>/privacy/
    data-platform rotate-key         after a key rotation: re-key consent records, list what to re-materialize
    data-platform privacy verify req-17   search everywhere for an erased subject; exit 1 on a hit; certificate
    data-platform annotate [--batch batch-0001]   simulated raters answer a task batch (demo, tests)
    data-platform tick annotation_sensor          evaluate a sensor once and run what it requests
    data-platform stop-sensor landing_sensor      stop a sensor the daemon runs; returns once it stays stopped
    data-platform infer-schema --from 2026-11-01 --to 2026-11-04   reviewable schemas from a reference window
    data-platform trace ctr_examples <impression-id>     an example back to its raw lines
    data-platform dataset-version ctr_examples <version>  a published version read back exactly (lake)
    data-platform lake maintain [--retention-days 7]     merge small files, expire old snapshots (lake)
    data-platform impact --source-file '2026-11-05/%' | --app-version 3.2.0 | --rule crawler_user_agent@1
    data-platform invalidate --rule repeated_review_with_link@1 --reason "..."   void, republish, audit
    data-platform summary            rows per stage, latest checks, where the data is
    data-platform backfill --job ingest_raw_events --from 2026-11-01 --to 2026-11-07   through the daemon
    data-platform backfill --job daily_pipeline --from 2026-11-01 --to 2026-11-30 --assets   each day after its reads
    data-platform init-instance      DAGSTER_HOME ready (the project's dagster.yaml if it has none), before services
    data-platform plan-labeling --days 10 --budget 500 [--pool crowd]   examples, days, cost, quality
    data-platform plan-labeling --examples 2000                          the other way round
    data-platform label-studio-sync  push task batches to a Label Studio server, pull its export
"""

from __future__ import annotations

import argparse
import datetime as dt
import os

from data_platform.cli.admin import (
    _add_input_args,
    _init_instance,
    cmd_backfill,
    cmd_dataset_version,
    cmd_impact,
    cmd_infer_schema,
    cmd_invalidate,
    cmd_label_studio_sync,
    cmd_lake_maintain,
    cmd_launch,
    cmd_plan_labeling,
    cmd_privacy,
    cmd_privacy_verify,
    cmd_rotate_key,
    cmd_stop_sensor,
    cmd_tick,
    cmd_trace,
)
from data_platform.cli.demo import cmd_annotate, cmd_demo, cmd_generate
from data_platform.cli.summary import cmd_summary


def _date(value: str) -> dt.date:
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a date like 2026-11-01, got {value!r}") from None


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="data-platform", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    sub = parser.add_subparsers(dest="command", required=True)

    def add_generation_args(p: argparse.ArgumentParser) -> None:
        p.add_argument("--start", type=_date, default=dt.date(2026, 11, 1), help="first day (UTC)")
        p.add_argument("--days", type=int, default=7)
        p.add_argument("--events-per-day", type=int, default=20000)
        p.add_argument("--seed", type=int, default=7)
        p.add_argument(
            "--incident",
            action="append",
            metavar="KIND@DATE[:FIELD]",
            help="category_drift, cents_prices, volume_drop or null_spike from DATE on",
        )
        p.add_argument("--landing", help="landing folder (default: DATA_PLATFORM_LANDING or data/landing)")

    gen = sub.add_parser("generate", help="write realistic raw event logs into the landing folder")
    add_generation_args(gen)
    gen.set_defaults(func=lambda a: cmd_generate(a) and 0)

    demo = sub.add_parser("demo", help="generate logs, materialize every partition, print a summary")
    add_generation_args(demo)
    demo.add_argument("--keep", action="store_true", help="keep the existing warehouse and landing files")
    demo.add_argument(
        "--signal-days",
        type=int,
        default=3,
        help="days generated after publishing, judged by the retraining signal (0: skip step 9)",
    )
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
    privacy_sub = privacy.add_subparsers(dest="privacy_command")
    verify = privacy_sub.add_parser(
        "verify",
        help="search every place for every identifier of an erased subject; exit 1 on any hit; write the certificate",
    )
    verify.add_argument("request_id", help="the erasure request, e.g. req-17")
    verify.add_argument("--json", action="store_true", help="print the whole result as JSON")
    verify.set_defaults(func=cmd_privacy_verify)

    rotate = sub.add_parser(
        "rotate-key", help="after a key rotation: re-key consent records, list what is still under an old key"
    )
    rotate.set_defaults(func=cmd_rotate_key)

    annotate = sub.add_parser("annotate", help="simulated raters answer a task batch (the latest by default)")
    annotate.add_argument("--batch", help="batch id, e.g. batch-0001")
    annotate.add_argument("--raters-per-task", type=int, default=3)
    annotate.add_argument("--seed", type=int, default=7)
    annotate.set_defaults(func=cmd_annotate)

    tick = sub.add_parser("tick", help="evaluate a sensor once and run the runs it requests")
    tick.add_argument("sensor", help="e.g. annotation_sensor, late_click_sensor")
    tick.set_defaults(func=cmd_tick)

    stop = sub.add_parser(
        "stop-sensor", help="stop a sensor the daemon runs, and wait until no tick in flight can restart it"
    )
    stop.add_argument("sensor", help="e.g. landing_sensor")
    stop.set_defaults(func=cmd_stop_sensor)

    infer = sub.add_parser("infer-schema", help="write reviewable schemas from a reference window's statistics")
    infer.add_argument("--from", dest="start", type=_date, required=True, help="first day of the window")
    infer.add_argument("--to", dest="end", type=_date, required=True, help="day after the window")
    infer.add_argument("--schema-dir", help="default: data_platform/validation/schemas (in the repo)")
    infer.set_defaults(func=cmd_infer_schema)

    trace_p = sub.add_parser("trace", help="follow an example of a dataset back to its raw lines")
    trace_p.add_argument("dataset", choices=("ctr_examples", "review_examples"))
    trace_p.add_argument("example_id", help="impression_id (ctr_examples) or review_id (review_examples)")
    trace_p.set_defaults(func=cmd_trace)

    version_p = sub.add_parser(
        "dataset-version", help="read a published dataset version back exactly as published (lake: time travel)"
    )
    version_p.add_argument("dataset", choices=("ctr_examples", "review_examples"))
    version_p.add_argument("version", help="the version id (the content hash in splits.exports and its card)")
    version_p.add_argument("--out", default="dataset-versions", help="folder for <dataset>/<version>/*.parquet")
    version_p.set_defaults(func=cmd_dataset_version)

    lake = sub.add_parser("lake", help="the lake profile's upkeep (DuckLake)")
    lake_sub = lake.add_subparsers(dest="lake_command", required=True)
    maintain = lake_sub.add_parser(
        "maintain",
        help="merge small data files, expire snapshots older than the retention (never one a published dataset "
        "version records), delete files no snapshot reads; print what it did",
    )
    maintain.add_argument(
        "--retention-days",
        type=float,
        help="keep this many days of snapshots for time travel (default: DATA_PLATFORM_LAKE_RETENTION_DAYS or 7)",
    )
    maintain.set_defaults(func=cmd_lake_maintain)

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
    plan.add_argument(
        "--pool",
        action="append",
        metavar="POOL[,POOL]",
        help="in_house, outsourced, crowd (default: each, then all together)",
    )
    plan.add_argument("--target-accuracy", type=float, default=0.95, help="label accuracy to reach (default 0.95)")
    plan.add_argument("--gold-share", type=float, default=0.15, help="share of each batch that is hidden gold")
    plan.add_argument(
        "--plurality",
        action="store_true",
        help="exact 3-class plurality vote instead of the binomial majority formula (a lower bound)",
    )
    plan.add_argument("--max-growth", type=float, default=10.0, help="step-size guard (x the labeled set)")
    plan.add_argument("--registry", help="rater registry YAML (default: the shipped raters.yaml)")
    plan.set_defaults(func=cmd_plan_labeling)

    ls_sync = sub.add_parser("label-studio-sync", help="push task batches to Label Studio, pull its export")
    ls_sync.set_defaults(func=cmd_label_studio_sync)

    backfill = sub.add_parser(
        "backfill",
        help="request a backfill of a partitioned job from the daemon (the UI's Launch backfill, from the shell)",
    )
    backfill.add_argument("--job", required=True, help="e.g. ingest_raw_events, daily_pipeline")
    backfill.add_argument("--from", dest="start", type=_date, required=True, help="first day")
    backfill.add_argument("--to", dest="end", type=_date, required=True, help="last day (included)")
    backfill.add_argument("--tags", help='JSON object of run tags, e.g. \'{"dagster/priority": "-1"}\'')
    backfill.add_argument(
        "--assets",
        action="store_true",
        help="an asset backfill of the job's assets: each day once the days it reads are done (one run per day "
        "with DATA_PLATFORM_BACKFILL=per_day, several at once on the lake)",
    )
    backfill.set_defaults(func=cmd_backfill)

    init = sub.add_parser(
        "init-instance",
        help="make DAGSTER_HOME a ready instance (the project's dagster.yaml "
        "if it has none) before the webserver and the daemon start",
    )
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
