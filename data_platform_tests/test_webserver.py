"""The real Dagster webserver, started from workspace.yaml, serves the graph the UI draws."""

from __future__ import annotations

import os
import shutil

import pytest

from data_platform.resources import PROJECT_ROOT
from data_platform_tests.processes import free_port, wait_for_webserver, webserver
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
    with webserver(env, port, tmp_path / "webserver.log") as server:
        nodes = wait_for_webserver(port, server, timeout=120, query=QUERY)
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
