"""Dagster wiring of consent and erasure: a job, and a sensor on the landing folder's privacy/."""

import json
from collections.abc import Mapping, Sequence
from pathlib import Path

import dagster as dg

from data_platform.partitions import warehouse_pool
from data_platform.privacy.certificate import to_verify, verify_and_certify
from data_platform.privacy.files import FileEraser
from data_platform.privacy.requests import request_files_read, run_requests
from data_platform.privacy.verify import SearchRoots
from data_platform.resources import LandingZone, Warehouse, certificates_root, sensors_default_status

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
        pool=warehouse_pool(),
        description="Read new privacy request files; record opt-outs; erase from the tables and the files and "
        "verify; rewrite the warehouse file so that no byte of an erased row remains.",
    )
    def apply_privacy_requests(context: dg.OpExecutionContext, warehouse: Warehouse, landing: LandingZone) -> dict:
        summary = run_requests(warehouse, landing.privacy_dir(), context.run.run_id, tables, file_erasers=erasers)
        context.log_event(
            dg.AssetMaterialization(
                asset_key=ERASURE_AUDIT,
                description="Privacy requests applied: counts only, no personal data.",
                metadata={
                    k: dg.MetadataValue.json(v) if isinstance(v, dict) else v
                    for k, v in summary.items()
                    if v is not None
                },
            )
        )
        left = {t: n for t, n in summary["rows_remaining"].items() if n}
        if left:
            raise dg.Failure(description=f"erasure left rows behind: {left}")
        return summary

    @dg.op(
        name="verify_erasures",
        pool=warehouse_pool(),
        description="Search every place (warehouse tables, data folders, exports, Dagster's storage, the "
        "database file's bytes) for every identifier of each subject erased by this run, and of every earlier "
        "erasure whose last verification failed; write each request's certificate; fail the run on any hit.",
    )
    def verify_erasures(context: dg.OpExecutionContext, warehouse: Warehouse, landing: LandingZone, applied: dict):
        roots = SearchRoots.from_env()
        home = None if context.instance.is_ephemeral else context.instance.root_directory
        roots = SearchRoots(
            Path(warehouse.database), {**roots.folders, "landing": Path(landing.root)}, home and Path(home)
        )
        with warehouse.connect() as con:
            done = verify_and_certify(
                con, to_verify(con, context.run.run_id), roots, certificates_root(), context.run.run_id
            )
        results = {v.request_id: {"passed": v.passed, "certificate": str(path)} for v, path in done}
        hits = {v.request_id: [f"{p.kind} {p.location}: {p.found}" for p in v.hits] for v, _ in done if v.hits}
        context.add_output_metadata(
            {
                "verified": len(done),
                "results": dg.MetadataValue.json(results),
                "seconds": sum(v.seconds for v, _ in done),
            }
        )
        if hits:
            raise dg.Failure(
                description=f"erasure verification found the subject in {sum(map(len, hits.values()))} places",
                metadata={"places_with_hits": dg.MetadataValue.json(hits)},
            )
        return results

    @dg.job(
        name="process_privacy_requests",
        description="Apply consent (opt_out) and erasure requests from the landing folder's privacy/ files, "
        "then verify every erasure (the run fails if anything of an erased subject is found anywhere).",
    )
    def process_privacy_requests():
        verify_erasures(apply_privacy_requests())

    @dg.sensor(
        name="privacy_request_sensor",
        job=process_privacy_requests,
        minimum_interval_seconds=30,
        default_status=sensors_default_status(),
        description="Runs process_privacy_requests when request files appear or change under privacy/ (not "
        "when the change is a run's own rewrite of a file it processed).",
    )
    def privacy_request_sensor(context: dg.SensorEvaluationContext, landing: LandingZone, warehouse: Warehouse):
        files = sorted(landing.privacy_dir().glob("*.jsonl")) if landing.privacy_dir().is_dir() else []
        fingerprints = {p.name: [p.stat().st_size, p.stat().st_mtime_ns] for p in files}
        seen = json.loads(context.cursor) if context.cursor else {}
        changed = [p for p in files if seen.get(p.name) != fingerprints[p.name]]
        read = request_files_read(warehouse, changed) if changed else set()
        if read is None:  # decided on a later tick, when no run writes the warehouse
            return dg.SkipReason("privacy request files changed; the warehouse is being written, deciding later")
        context.update_cursor(json.dumps(fingerprints, sort_keys=True))
        new = sorted(p.name for p in changed if p.name not in read)
        if not new:
            return dg.SkipReason("no new privacy request files")
        return dg.RunRequest(run_key="|".join(f"{n}@{fingerprints[n]}" for n in new))

    return process_privacy_requests, privacy_request_sensor
