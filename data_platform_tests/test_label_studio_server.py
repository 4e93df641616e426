"""Label Studio as a real server: push a batch through the official client (label-studio-sdk), let
simulated raters annotate it through the API, pull the export back, and get the same consensus and agreement
as the file route.

Needs Label Studio in its own venv (``bash .ci/setup_labelstudio.sh``): skipped, with that reason,
when the venv is absent (failed under ``CI=true``). The server runs on localhost with its own temporary data dir and
SQLite
database; the test signs in as the user it created and makes a personal access token (legacy
tokens are off by default in Label Studio 1.23).
"""

from __future__ import annotations

import os
import random
import re
import subprocess
import time
from pathlib import Path

import dagster as dg
import httpx
import pytest

from data_platform.generator.raters import DEFAULT_PANEL, simulate_annotations, write_export
from data_platform.generator.simulate import REVIEW_TEXTS
from data_platform.labeling import SENTIMENTS
from data_platform.labeling.jobs import annotation_sensor
from data_platform.labeling.label_studio import LabelStudioServer, build_tasks, parse_export
from data_platform.labeling.review_assets import annotations, gold, human_consensus, reviews
from data_platform.resources import LandingZone, Warehouse
from data_platform_tests.conftest import query
from data_platform_tests.processes import cpu_seconds, free_port, requires_peer

ROOT = Path(__file__).resolve().parents[1]
LS_VENV = Path(os.environ.get("LABEL_STUDIO_VENV", ROOT / ".venv-labelstudio"))
LS_BIN = LS_VENV / "bin" / "label-studio"
HEALTH_CPU_SECONDS = 240  # of the server's own CPU time, for its first start to answer /health
EMAIL, PASSWORD = "platform-admin@example.com", "not-a-real-secret-42"

pytestmark = [
    pytest.mark.slow,
    requires_peer(
        LS_BIN.exists(), f"Label Studio ({LS_BIN})", "run `bash .ci/setup_labelstudio.sh` (a separate venv, ~75 s)"
    ),
]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """A Label Studio server on a free localhost port, and a personal access token of its admin."""
    data = tmp_path_factory.mktemp("label-studio")
    port = free_port()
    env = {
        **os.environ,
        "LABEL_STUDIO_BASE_DATA_DIR": str(data),
        "LABEL_STUDIO_USERNAME": EMAIL,
        "LABEL_STUDIO_PASSWORD": PASSWORD,
        "LABEL_STUDIO_DISABLE_SIGNUP_WITHOUT_LINK": "true",
    }
    log = (data / "server.log").open("wb")
    process = subprocess.Popen(
        [str(LS_BIN), "start", "--no-browser", "--host", "127.0.0.1", "--port", str(port)],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        cwd=data,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        # the first start (migrations, then the server) answers after about 40 s on a quiet machine; the deadline
        # counts that CPU time, not the wall clock, so a busy machine (where the same start takes many times
        # longer) makes the wait longer instead of failing the test; pytest's per-test timeout still bounds it
        while True:
            if process.poll() is not None:
                pytest.fail(
                    f"label-studio exited with {process.returncode}: "
                    f"{(data / 'server.log').read_text(errors='replace')[-2000:]}"
                )
            try:
                if httpx.get(f"{base}/health", timeout=2).json().get("status") == "UP":
                    break
            except (httpx.HTTPError, ValueError):
                pass
            if (used := cpu_seconds(process.pid)) > HEALTH_CPU_SECONDS:
                pytest.fail(f"label-studio used {used:.0f} s of CPU and did not answer /health")
            time.sleep(1)
        yield {"url": base, "token": _personal_access_token(base)}
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
        log.close()


def _personal_access_token(base: str) -> str:
    """Sign in through the login form (session + CSRF) and create a personal access token (a JWT)."""
    with httpx.Client(timeout=30) as session:  # follows no redirect: the login answers 302
        session.get(f"{base}/user/login/")
        response = session.post(
            f"{base}/user/login/",
            data={"email": EMAIL, "password": PASSWORD, "csrfmiddlewaretoken": session.cookies.get("csrftoken")},
            headers={"Referer": f"{base}/user/login/"},
        )
        assert response.status_code == 302, response.text[:300]
        response = session.post(
            f"{base}/api/token/", headers={"X-CSRFToken": session.cookies.get("csrftoken"), "Referer": base}
        )
        assert response.status_code == 201, response.text[:300]
        return response.json()["token"]


def _tasks(n: int, batch_id: str = "batch-0001") -> list[dict]:
    """Import tasks over generated review texts (whose true sentiment the rater simulator knows)."""
    rng = random.Random(5)
    rows = []
    for i in range(n):
        truth = SENTIMENTS[i % len(SENTIMENTS)]
        text = rng.choice(REVIEW_TEXTS[truth])
        guess = truth if rng.random() < 0.7 else rng.choice(SENTIMENTS)
        rows.append(
            {
                "task_id": 1000 + i,
                "review_id": f"review-{i:03d}",
                "batch_id": batch_id,
                "text": text,
                "item_id": f"item-{i % 7}",
                "category": "books",
                "predicted_label": guess,
                "predicted_score": round(rng.uniform(0.4, 0.9), 3),
            }
        )
    return build_tasks(rows, "dawid-skene/test")


def _consensus_run(root: Path) -> tuple[list[tuple], dict]:
    """Run the platform's annotation assets over ``root/landing`` (the same code for both routes)."""
    landing = LandingZone(root=str(root / "landing"), settle_seconds=0)
    warehouse = Warehouse(database=str(root / "warehouse.duckdb"), memory_limit="1GB", threads=1)
    result = dg.materialize(
        [reviews, gold, annotations, human_consensus],
        selection=[gold.key, annotations.key, human_consensus.key],
        resources={"warehouse": warehouse, "landing": landing},
    )
    assert result.success
    meta = result.asset_materializations_for_node("labels__human_consensus")[0].metadata
    consensus = query(
        warehouse,
        "SELECT review_id, label, confidence, mv_label, raters FROM labels.human_consensus ORDER BY review_id",
    )
    statuses = dict(query(warehouse, "SELECT status, count(*) FROM labels.annotations GROUP BY 1"))
    return consensus, {
        "agreement": meta["agreement_by_batch"].value,
        "raters": meta["rater_quality"].value,
        "statuses": statuses,
        "landing": landing,
        "check": {c.check_name: c for c in result.get_asset_check_evaluations()},
    }


def _create_reviews_table(root: Path) -> None:
    """The annotation assets read only landing files and the labels schema: no reviews are needed."""
    import duckdb

    root.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect(str(root / "warehouse.duckdb"))
    try:
        from data_platform.resources import run_sql

        run_sql(con, "labeling/create_review_tables.sql")
        con.execute("CREATE TABLE labels.reviews (review_id VARCHAR)")  # gold answers need known reviews
    finally:
        con.close()


def test_push_annotate_pull_gives_the_same_consensus_and_agreement(server, tmp_path, monkeypatch):
    monkeypatch.setenv("LABEL_STUDIO_URL", server["url"])
    monkeypatch.setenv("LABEL_STUDIO_API_KEY", server["token"])
    configured = LabelStudioServer.from_env()  # Dagster EnvVars, resolved when the resource is initialised
    assert configured is not None and "127.0.0.1" not in repr(configured)  # the secret is not in its config
    connector = configured.process_config_and_initialize()
    assert connector.url == server["url"] and connector.api_key == server["token"]

    tasks = _tasks(45)
    simulated = simulate_annotations(tasks, raters_per_task=3, seed=8)  # the raters' answers

    # File route: the export as raters' Label Studio would write it, dropped into the landing folder.
    file_root = tmp_path / "file"
    _create_reviews_table(file_root)
    write_export(simulated, file_root / "landing", "batch-0001-export")
    file_consensus, file_meta = _consensus_run(file_root)

    # Server route: push the batch (predictions as pre-annotations), idempotently.
    pushed = connector.push_batch(tasks)
    assert pushed["imported"] == 45 and connector.push_batch(tasks)["imported"] == 0
    project = pushed["project_id"]
    in_server = connector.export(project, all_tasks=True)
    assert len(in_server) == 45 and all(t["total_predictions"] == 1 for t in in_server)
    by_review = {t["data"]["review_id"]: t["id"] for t in in_server}

    # The same raters, as Label Studio users (created in panel order), answer through the API.
    user_of = {}
    for rater in DEFAULT_PANEL:
        user = connector.client.users.create(
            username=rater.name, email=f"{rater.name}@example.com", first_name=rater.name
        )
        user_of[rater.user_id] = user.id
    for task in simulated:
        for a in task["annotations"]:
            connector.client.annotations.create(
                by_review[task["data"]["review_id"]],
                result=a["result"],
                was_cancelled=a["was_cancelled"],
                lead_time=a["lead_time"],
                completed_by=user_of[a["completed_by"]],
            )

    server_root = tmp_path / "server"
    _create_reviews_table(server_root)
    landing = LandingZone(root=str(server_root / "landing"), settle_seconds=0)
    pulled = connector.pull_annotations(project, landing.root)
    assert pulled.name == f"labelstudio-project-{project}.json"
    mtime = pulled.stat().st_mtime_ns
    assert connector.pull_annotations(project, landing.root).stat().st_mtime_ns == mtime  # unchanged: not rewritten
    parsed = parse_export(pulled)
    assert not parsed.rejected and len(parsed.annotations) == 45 * 3
    assert {a["task_id"] for a in parsed.annotations} == {t["id"] for t in tasks}  # the platform's task ids

    # The annotation sensor sees the pulled export like any dropped file.
    request = annotation_sensor(
        dg.build_sensor_context(instance=dg.DagsterInstance.ephemeral(), resources={"landing": landing})
    )
    assert isinstance(request, dg.RunRequest) and pulled.name in request.tags["data_platform/changed_files"]

    server_consensus, server_meta = _consensus_run(server_root)
    assert len(server_consensus) == len(
        {t["data"]["review_id"] for t in simulated if any(not a["was_cancelled"] for a in t["annotations"])}
    )
    assert server_consensus == file_consensus  # same labels, confidences, majority votes, rater counts
    rename = {f"user-{ls_id}": f"user-{panel_id}" for panel_id, ls_id in user_of.items()}

    def renamed(text: str) -> str:  # Label Studio numbered the same raters 2..7 instead of 101..106
        return re.sub(r"user-\d+\b", lambda m: rename.get(m.group(0), m.group(0)), text)

    assert renamed(server_meta["agreement"]) == file_meta["agreement"]  # Fleiss, alpha, Cohen, who pulls it down
    assert "user-105" in file_meta["agreement"]  # the careless rater is named on both routes
    assert renamed(server_meta["raters"]) == file_meta["raters"]  # per-rater quality, same figures
    assert server_meta["statuses"] == file_meta["statuses"]
    assert server_meta["check"]["rater_agreement"].passed == file_meta["check"]["rater_agreement"].passed


def test_a_bad_token_is_refused_with_a_clear_error(server):
    from data_platform.labeling.label_studio import LabelStudioError

    with pytest.raises(LabelStudioError, match="401|403"):
        LabelStudioServer(url=server["url"], api_key="not-a-token").ensure_project()


def test_the_sync_job_pushes_every_batch_file_and_pulls_the_export(server, tmp_path):
    from data_platform.labeling.jobs import label_studio_sync
    from data_platform.labeling.label_studio import write_batch
    from data_platform.resources import LabelingDesk

    desk = LabelingDesk(root=str(tmp_path / "labeling"))
    write_batch(_tasks(6, batch_id="batch-0007"), desk.tasks_dir(), "batch-0007")
    connector = LabelStudioServer(url=server["url"], api_key=server["token"], project_title="sync job test")
    landing = LandingZone(root=str(tmp_path / "landing"), settle_seconds=0)
    resources = {"label_studio": connector, "labeling": desk, "landing": landing}
    assert label_studio_sync.execute_in_process(resources=resources).success
    project = connector.ensure_project()
    assert {t["data"]["batch_id"] for t in connector.export(project, all_tasks=True)} == {"batch-0007"}
    assert (tmp_path / "landing" / "annotations" / f"labelstudio-project-{project}.json").exists()
    assert label_studio_sync.execute_in_process(resources=resources).success  # nothing new: nothing imported
    assert len(connector.export(project, all_tasks=True)) == 6
