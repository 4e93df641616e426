"""Dagster wiring of consent and erasure: a job, and a sensor on the landing folder's privacy/."""

import json
from collections.abc import Mapping, Sequence

import dagster as dg

from data_platform.privacy.files import FileEraser
from data_platform.privacy.requests import process_requests
from data_platform.resources import LandingZone, Warehouse, sensors_default_status

ERASURE_AUDIT = dg.AssetKey(["privacy", "erasure_audit"])


def build_privacy_requests(
    person_tables: Mapping[str, str], file_erasers: Sequence[FileEraser] = ()
) -> tuple[dg.JobDefinition, dg.SensorDefinition]:
    """The job ``process_privacy_requests`` and its sensor, erasing from ``person_tables`` (table -> the
    predicate that finds a person's rows; every stage declares its own, ``catalog.PERSON_TABLES``
    collects them, later stages first) and from the files ``file_erasers`` reach (``catalog.FILE_ERASERS``)."""
    tables, erasers = dict(person_tables), tuple(file_erasers)

    @dg.op(
        name="apply_privacy_requests",
        pool="duckdb",
        description="Read new privacy request files; record opt-outs; erase and verify.",
    )
    def apply_privacy_requests(context: dg.OpExecutionContext, warehouse: Warehouse, landing: LandingZone) -> dict:
        with warehouse.connect() as con:
            summary = process_requests(con, landing.privacy_dir(), context.run.run_id, tables, file_erasers=erasers)
            if summary["erasures"]:
                summary.update(warehouse.forget_history(con))  # the lake: no old snapshot or file keeps them
        context.log_event(
            dg.AssetMaterialization(
                asset_key=ERASURE_AUDIT,
                description="Privacy requests applied: counts only, no personal data.",
                metadata={k: dg.MetadataValue.json(v) if isinstance(v, dict) else v for k, v in summary.items()},
            )
        )
        left = {t: n for t, n in summary["rows_remaining"].items() if n}
        if left:
            raise dg.Failure(description=f"erasure left rows behind: {left}")
        return summary

    @dg.job(
        name="process_privacy_requests",
        description="Apply consent (opt_out) and erasure requests from the landing folder's privacy/ files.",
    )
    def process_privacy_requests():
        apply_privacy_requests()

    @dg.sensor(
        name="privacy_request_sensor",
        job=process_privacy_requests,
        minimum_interval_seconds=30,
        default_status=sensors_default_status(),
        description="Runs process_privacy_requests when request files appear or change under privacy/.",
    )
    def privacy_request_sensor(context: dg.SensorEvaluationContext, landing: LandingZone):
        files = sorted(landing.privacy_dir().glob("*.jsonl")) if landing.privacy_dir().is_dir() else []
        fingerprints = {p.name: [p.stat().st_size, p.stat().st_mtime_ns] for p in files}
        seen = json.loads(context.cursor) if context.cursor else {}
        new = sorted(n for n, fp in fingerprints.items() if seen.get(n) != fp)
        context.update_cursor(json.dumps(fingerprints, sort_keys=True))
        if not new:
            return dg.SkipReason("no new privacy request files")
        return dg.RunRequest(run_key="|".join(f"{n}@{fingerprints[n]}" for n in new))

    return process_privacy_requests, privacy_request_sensor
