"""Jobs and the sensor of the human-labeling loop."""

import hashlib
import json

import dagster as dg

from data_platform.labeling.review_assets import (
    ANNOTATION_TASKS,
    ANNOTATIONS,
    GOLD,
    HUMAN_CONSENSUS,
    REVIEW_EXAMPLES,
    REVIEW_LABELING_ASSETS,
    WEAK_LABELS,
)
from data_platform.resources import LandingZone, sensors_default_status

review_labeling = dg.define_asset_job(
    "review_labeling",
    selection=dg.AssetSelection.assets(*REVIEW_LABELING_ASSETS),
    description="Weak supervision over every review, the labeled review dataset, and the next batch of "
    "tasks for raters (active learning, a random slice, gold items, suspected label errors).",
)

relabel_reviews = dg.define_asset_job(
    "relabel_reviews",
    selection=dg.AssetSelection.assets(*REVIEW_LABELING_ASSETS) - dg.AssetSelection.assets(ANNOTATION_TASKS),
    description="Rebuild the review labels (weak, human consensus, the labeled dataset) without issuing a new "
    "task batch: what an invalidation re-runs.",
)

annotation_round = dg.define_asset_job(
    "annotation_round",
    selection=dg.AssetSelection.assets(GOLD, ANNOTATIONS, HUMAN_CONSENSUS, WEAK_LABELS, REVIEW_EXAMPLES),
    description="Read new annotation exports and gold answers, rebuild the human consensus, agreement "
    "and rater quality, refit the label model on the new human labels, and rebuild the labeled "
    "review dataset. The annotation sensor runs it.",
)


def annotation_files_state(landing: LandingZone, now: float) -> tuple[dict[str, list], bool]:
    """``({relative path: [size, mtime]}, settled)`` of the exports and gold files in the landing zone.

    ``settled`` is False while any file is younger than the landing zone's settle time (a rater's
    export still being copied in)."""
    root = landing.annotations_dir()
    paths = sorted([*root.glob("*.json"), *root.glob("gold/*.csv")]) if root.is_dir() else []
    state, settled = {}, True
    for path in paths:
        st = path.stat()
        state[str(path.relative_to(root))] = [st.st_size, st.st_mtime]
        settled &= now - st.st_mtime >= landing.settle_seconds
    return state, settled


@dg.sensor(
    job=annotation_round,
    minimum_interval_seconds=30,
    default_status=sensors_default_status(),
    description="Runs annotation_round when a Label Studio export or a gold file lands, changes or goes "
    "away under landing/annotations/.",
)
def annotation_sensor(context: dg.SensorEvaluationContext, landing: LandingZone):
    """One run per new state of the annotation folder, once every file in it has settled."""
    import time

    state, settled = annotation_files_state(landing, time.time())
    previous = json.loads(context.cursor) if context.cursor else {}
    if state == previous:
        return dg.SkipReason("no new or changed annotation files")
    if not settled:
        return dg.SkipReason("an annotation file is still settling")
    changed = sorted(set(state) ^ set(previous) | {p for p in state if p in previous and state[p] != previous[p]})
    context.update_cursor(json.dumps(state))
    key = hashlib.sha256(json.dumps(state, sort_keys=True).encode()).hexdigest()[:16]
    return dg.RunRequest(run_key=f"annotations-{key}", tags={"data_platform/changed_files": ",".join(changed)[:1000]})


# --- Label Studio as a server (optional; the file round trip above stays the default) ------------


def label_studio_resources() -> dict:
    """``{"label_studio": LabelStudioServer}`` when ``LABEL_STUDIO_URL`` and ``LABEL_STUDIO_API_KEY``
    are set, else nothing (then the file round trip is the only route)."""
    from data_platform.labeling.label_studio import LabelStudioServer

    server = LabelStudioServer.from_env()
    return {"label_studio": server} if server is not None else {}


def sync_label_studio(server, tasks_dir, landing_root) -> dict:
    """Push every task batch file under ``tasks_dir`` (already imported tasks are skipped) to the
    server's project, then pull its export into ``<landing_root>/annotations/``, where the annotation
    sensor and the file route's parser take it. Returns what was pushed and the export's path."""
    from pathlib import Path

    project = server.ensure_project()
    pushed = {}
    for path in sorted(Path(tasks_dir).glob("batch-*.tasks.json")):
        result = server.push_batch(json.loads(path.read_text(encoding="utf-8")), project)
        pushed[path.name.removesuffix(".tasks.json")] = result["imported"]
    export = server.pull_annotations(project, landing_root)
    return {"project_id": project, "imported": pushed, "export": str(export)}


@dg.op(
    required_resource_keys={"label_studio", "labeling", "landing"},
    description="Push the task batches to the Label Studio project and pull its export into the landing folder.",
)
def label_studio_push_pull(context: dg.OpExecutionContext) -> None:
    """One push-and-pull round with the Label Studio server."""
    result = sync_label_studio(
        context.resources.label_studio, context.resources.labeling.tasks_dir(), context.resources.landing.root
    )
    context.log.info(f"label studio sync: {result}")


@dg.job(
    description="Label Studio server round trip: push task batches (with pre-annotations) to the project "
    "named by the resource and pull finished annotations back where the annotation sensor reads them. "
    "Needs LABEL_STUDIO_URL and LABEL_STUDIO_API_KEY."
)
def label_studio_sync():
    """Push and pull, once."""
    label_studio_push_pull()
