"""The real Dagster webserver, started from workspace.yaml, serves the graph the UI draws."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from data_platform.resources import PROJECT_ROOT
from data_platform_tests.processes import FairShareDeadline, free_port, graphql
from data_platform_tests.test_definitions import BLOCKING

pytestmark = pytest.mark.slow

QUERY = """{ assetNodes { assetKey { path } groupName description hasAssetChecks
  assetChecksOrError { ... on AssetChecks { checks { name blocking } } } } }"""


def test_webserver_shows_the_stage_groups_with_descriptions_and_blocking_checks(tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    shutil.copy(PROJECT_ROOT / "dagster_home" / "dagster.yaml", home / "dagster.yaml")
    port = free_port()
    env = {
        **os.environ,
        "DAGSTER_HOME": str(home),
        "DATA_PLATFORM_WAREHOUSE": str(tmp_path / "w.duckdb"),
        "DATA_PLATFORM_LANDING": str(tmp_path / "landing"),
    }
    server = subprocess.Popen(
        [
            str(Path(sys.executable).with_name("dagster-webserver")),
            "-w",
            "workspace.yaml",
            "-h",
            "127.0.0.1",
            "-p",
            str(port),
        ],
        cwd=PROJECT_ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        deadline = FairShareDeadline(120)  # a busy machine makes the wait longer instead of failing it
        nodes = None
        while not deadline.passed():
            try:
                nodes = graphql(port, QUERY)["data"]["assetNodes"]
                if nodes:
                    break
            except (OSError, KeyError, TypeError):
                pass
            time.sleep(1)
        assert nodes, "webserver did not answer"
        by_key = {"/".join(n["assetKey"]["path"]): n for n in nodes}
        assert {"raw/files", "raw/events", "raw/quarantine", "clean/events"} <= set(by_key)
        assert {n["groupName"] for n in nodes} == {
            "ingestion",
            "cleaning",
            "labeling",
            "monitoring",
            "splits",
            "synthetic",
            "provenance",
            "training",
        }
        assert all(len(n["description"]) > 40 for n in nodes)
        checks = {c["name"]: c["blocking"] for n in nodes for c in n["assetChecksOrError"]["checks"]}
        assert checks == BLOCKING
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)
