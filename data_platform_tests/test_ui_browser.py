"""The Dagster UI, used as a person would: a real webserver and daemon, a real run, a real browser.

What it proves, end to end, against a temporary instance, warehouse and landing folder:

- ``dagster-webserver`` and ``dagster-daemon`` start from ``workspace.yaml`` and the project's
  ``dagster_home/dagster.yaml`` (QueuedRunCoordinator, the ``duckdb`` pool);
- a run of ``daily_pipeline`` for one day, submitted through the webserver's GraphQL API (the mutation the
  UI's "Materialize" button sends), is queued and launched by the daemon and succeeds over generated logs;
- the GraphQL API (``/graphql``) serves the asset graph: the six lifecycle groups, the assets, their checks
  with their latest results, and ``dagster/row_count`` metadata equal to the rows in DuckDB;
- headless Chromium (Debian's ``/usr/bin/chromium`` driven by playwright) shows the same thing on screen:
  the groups in the global lineage, each asset of a group with its checks passed, an asset's page with its
  row count and its checks tab. Screenshots go to ``data_platform_tests/artifacts/screenshots/``.
"""

from __future__ import annotations

import re
import shutil
import time
from pathlib import Path

import duckdb
import pytest

from data_platform_tests.conftest import generated_world
from data_platform_tests.processes import (
    ARTIFACTS, daemon, free_port, platform_env, requires_peer, wait_for_runs, wait_for_webserver, webserver,
)

pytestmark = pytest.mark.slow

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run", "--disable-quic"]
SCREENSHOTS = ARTIFACTS / "screenshots"
LOCATION = "data_platform"
DAY = "2026-11-02"
LIFECYCLE_GROUPS = {"ingestion", "cleaning", "labeling", "monitoring", "splits", "provenance"}

LAUNCH = """mutation($params: ExecutionParams!) { launchRun(executionParams: $params) {
  __typename ... on LaunchRunSuccess { run { runId } } ... on PythonError { message }
  ... on RunConfigValidationInvalid { errors { message } } } }"""

GRAPH = """query($day: String!) { assetNodes { assetKey { path } groupName hasAssetChecks
  assetChecksOrError { ... on AssetChecks { checks { name blocking
    executionForLatestMaterialization { status evaluation { success } } } } }
  assetMaterializations(partitions: [$day]) { partition
    metadataEntries { label ... on IntMetadataEntry { intValue } } } } }"""


def _post(port: int, query: str, variables: dict) -> dict:
    import json
    import urllib.request

    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/graphql", data=json.dumps({"query": query, "variables": variables}).encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=60) as response:
        body = json.load(response)
    assert "errors" not in body, body["errors"]
    return body["data"]


def _count(database: str, table: str, day_column: str = "event_date") -> int:
    con = duckdb.connect(database, read_only=True)
    try:
        return con.execute(f"SELECT count(*) FROM {table} WHERE {day_column} = DATE '{DAY}'").fetchone()[0]
    finally:
        con.close()


@pytest.fixture(scope="module")
def screenshots() -> Path:
    shutil.rmtree(SCREENSHOTS, ignore_errors=True)
    SCREENSHOTS.mkdir(parents=True)
    return SCREENSHOTS


def _open(page, url: str):
    page.goto(url)
    page.wait_for_load_state("networkidle")
    # a fresh instance greets the user with a "Join the Dagster community" dialog over the page
    skip = page.get_by_role("button", name="Skip")
    if skip.count():
        skip.first.click()


def _text_when(page, pattern: str, timeout: float = 60) -> str:
    """The page's text once ``pattern`` (a regex) appears in it (the UI fills in data asynchronously)."""
    deadline = time.monotonic() + timeout
    while True:
        text = page.inner_text("body")
        if re.search(pattern, text):
            return text
        assert time.monotonic() < deadline, f"{pattern!r} never appeared on {page.url}:\n{text[:3000]}"
        page.wait_for_timeout(500)


@requires_peer(CHROMIUM.exists(), f"Debian's chromium ({CHROMIUM})", "run .ci/setup_browser.sh")
def test_ui_shows_groups_assets_checks_and_row_counts(tmp_path, screenshots):
    from playwright.sync_api import sync_playwright

    landing, warehouse, _ = generated_world(tmp_path, days=1, events_per_day=200, seed=11)
    env = platform_env(tmp_path, home=tmp_path / "home", DATA_PLATFORM_LANDING=landing.root,
                       DATA_PLATFORM_WAREHOUSE=warehouse.database,
                       # the only run is the one this test submits, as a person would from the UI
                       DATA_PLATFORM_SENSORS="stopped")
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    with webserver(env, port, tmp_path / "webserver.log") as web, daemon(env, tmp_path / "daemon.log") as dmn:
        wait_for_webserver(port, web)
        launched = _post(port, LAUNCH, {"params": {
            "selector": {"repositoryLocationName": LOCATION, "repositoryName": "__repository__",
                         "jobName": "daily_pipeline"},
            "executionMetadata": {"tags": [{"key": "dagster/partition", "value": DAY}]},
        }})["launchRun"]
        assert launched["__typename"] == "LaunchRunSuccess", launched
        [run] = wait_for_runs(env["DAGSTER_HOME"], 1, timeout=300, services=(web, dmn))
        assert run.status.value == "SUCCESS" and run.tags["dagster/partition"] == DAY

        # ------------------------------------------------------------------ the graph through GraphQL
        nodes = _post(port, GRAPH, {"day": DAY})["assetNodes"]
        by_key = {"/".join(n["assetKey"]["path"]): n for n in nodes}
        # the six lifecycle stages (later stages may add groups of their own)
        assert LIFECYCLE_GROUPS <= {n["groupName"] for n in nodes}
        groups = {g: sorted(k for k, n in by_key.items() if n["groupName"] == g) for g in {n["groupName"] for n in nodes}}
        assert {"raw/files", "raw/events", "raw/quarantine"} <= set(groups["ingestion"])
        assert {"clean/events", "clean/filtered_events", "clean/identity_map"} <= set(groups["cleaning"])
        checks = {k: n["assetChecksOrError"]["checks"] for k, n in by_key.items()}
        assert all(bool(checks[k]) == n["hasAssetChecks"] for k, n in by_key.items())
        assert all(checks[k] for k in ("raw/files", "raw/events", "raw/quarantine", "clean/events"))
        # every check of the ingestion and cleaning assets ran on this materialization and passed
        for key in groups["ingestion"] + groups["cleaning"]:
            for check in checks[key]:
                execution = check["executionForLatestMaterialization"]
                assert execution and execution["status"] == "SUCCEEDED", (key, check)
        row_counts = {}
        for key in groups["ingestion"] + groups["cleaning"]:
            [materialization] = by_key[key]["assetMaterializations"]
            assert materialization["partition"] == DAY
            meta = {m["label"]: m.get("intValue") for m in materialization["metadataEntries"]}
            row_counts[key] = meta["dagster/row_count"]
        assert row_counts["raw/events"] == _count(warehouse.database, "raw.events") > 100
        assert row_counts["clean/events"] == _count(warehouse.database, "clean.events") > 100
        assert row_counts["raw/quarantine"] == _count(warehouse.database, "raw.quarantine", "partition_date") > 0

        # ------------------------------------------------------------------ the same, on screen
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
            try:
                page = browser.new_page(viewport={"width": 1600, "height": 1000})
                page.set_default_timeout(60_000)

                _open(page, f"{base}/asset-groups")
                _text_when(page, r"Global asset lineage")
                for group in groups:  # every group (a box in the graph and an entry in the sidebar)
                    page.get_by_text(group, exact=True).first.wait_for(state="visible")
                page.screenshot(path=str(screenshots / "01-global-lineage.png"))

                for n, group in enumerate(("ingestion", "cleaning"), start=2):
                    _open(page, f"{base}/locations/{LOCATION}/asset-groups/{group}/lineage")
                    text = _text_when(page, r"Asset checks\s+\d+ / \d+")
                    for key in groups[group]:
                        page.get_by_text(key.split("/")[-1], exact=True).first.wait_for(state="visible")
                    # "passed / total" on each asset node: every check of every asset, all passed
                    shown = sorted(re.findall(r"Asset checks\s+(\d+) / (\d+) Passed", text))
                    expected = sorted((str(len(checks[k])),) * 2 for k in groups[group] if checks[k])
                    assert shown == expected, (group, shown, expected)
                    page.screenshot(path=str(screenshots / f"0{n}-group-{group}.png"))

                _open(page, f"{base}/assets/raw/events?partition={DAY}")
                text = _text_when(page, r"Row count\s+[\d,]+")
                shown_rows = int(re.search(r"Row count\s+([\d,]+)", text).group(1).replace(",", ""))
                assert shown_rows == row_counts["raw/events"]
                assert "ingestion" in text and DAY in text
                page.screenshot(path=str(screenshots / "04-asset-raw-events.png"), full_page=True)

                _open(page, f"{base}/assets/raw/events?view=checks")
                text = _text_when(page, r"Checks \(\d+\)")
                assert f"Checks ({len(checks['raw/events'])})" in text
                for check in checks["raw/events"]:
                    page.get_by_text(check["name"], exact=True).first.wait_for(state="visible")
                assert text.count("Succeeded") >= len(checks["raw/events"])
                assert "This is a blocking asset check." in text
                page.screenshot(path=str(screenshots / "05-asset-raw-events-checks.png"))
            finally:
                browser.close()
    assert sorted(p.name for p in screenshots.iterdir()) == [
        "01-global-lineage.png", "02-group-ingestion.png", "03-group-cleaning.png", "04-asset-raw-events.png",
        "05-asset-raw-events-checks.png"]
