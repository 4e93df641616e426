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

And on a fresh demo instance (``data-platform demo``, small, as a real process; then the webserver and the
daemon with every sensor running, as ``make ui`` starts them), what a new user sees (screenshots under
``data_platform_tests/artifacts/screenshots/demo/``):

- no run is queued or started in the first 3 minutes after the UI starts (the demo stored the sensors'
  cursors; the landing sensor finds every file in the raw.files ledger), read from the run records'
  creation times once the 3 minutes are over; the other page checks, the backfill below (its runs, of a
  backfill this module asked for by its id, are the only ones the window lets through) and the one-day run
  above (its own instance, webserver and daemon) run during those minutes instead of a wait;
- the asset graph; a day of the demo's range run shows its own row count (the SQL count of that day);
- the anomaly check failed on 2026-11-05 (the cents incident) and passed on 2026-11-02;
- every asset page has column descriptions;
- a backfill requested with ``data-platform backfill`` runs, and its page shows its runs and partition
  statuses, no "Unexpected GraphQL error".
"""

from __future__ import annotations

import re
import shutil
import time
from pathlib import Path

import dagster as dg
import duckdb
import pytest

from data_platform_tests.conftest import generated_world
from data_platform_tests.processes import (
    ARTIFACTS,
    BIN,
    FairShareDeadline,
    daemon,
    free_port,
    platform_env,
    requires_peer,
    run_cli,
    runs_of,
    wait_for_runs,
    wait_for_webserver,
    wait_until,
    webserver,
)

CHROMIUM = Path("/usr/bin/chromium")
# a missing chromium skips the module locally and fails it under CI=true
pytestmark = [
    pytest.mark.slow,
    requires_peer(CHROMIUM.exists(), f"Debian's chromium ({CHROMIUM})", "run .ci/setup_browser.sh"),
]
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
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
  isPartitioned
  assetMaterializations(partitions: [$day]) { partition
    metadataEntries { label ... on IntMetadataEntry { intValue } } }
  latest: assetMaterializations(limit: 1) { partition
    metadataEntries { label ... on IntMetadataEntry { intValue } } } } }"""


def _post(port: int, query: str, variables: dict) -> dict:
    import json
    import urllib.request

    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/graphql",
        data=json.dumps({"query": query, "variables": variables}).encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=60) as response:
        body = json.load(response)
    assert "errors" not in body, body["errors"]
    return body["data"]


def _count(database: str, table: str, day_column: str | None = "event_date") -> int:
    """Rows of ``table`` on ``DAY`` (every row when ``day_column`` is None)."""
    where = f" WHERE {day_column} = DATE '{DAY}'" if day_column else ""
    con = duckdb.connect(database, read_only=True)
    try:
        return con.execute(f"SELECT count(*) FROM {table}{where}").fetchone()[0]
    finally:
        con.close()


@pytest.fixture(scope="module")
def screenshots() -> Path:
    """The folder of the first test's screenshots, emptied of earlier runs' (the demo's, in ``demo/``, are the
    demo fixture's: this test runs after it has taken some)."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    for old in SCREENSHOTS.glob("*.png"):
        old.unlink()
    return SCREENSHOTS


@pytest.fixture(scope="module")
def browser():
    """One headless Chromium for the module: playwright's sync API runs one at a time in a thread, and the
    first test runs while the demo's page is open (each test opens its own page, in its own context)."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


def _open(page, url: str):
    page.goto(url)
    page.wait_for_load_state("networkidle")
    # a fresh instance greets the user with a "Join the Dagster community" dialog over the page
    skip = page.get_by_role("button", name="Skip")
    if skip.count():
        skip.first.click()


def _text_when(page, pattern: str, timeout: float = 60) -> str:
    """The page's text once ``pattern`` (a regex) appears in it (the UI fills in data asynchronously)."""
    deadline = FairShareDeadline(timeout)
    while True:
        text = page.inner_text("body")
        if re.search(pattern, text):
            return text
        assert not deadline.passed(), f"{pattern!r} never appeared on {page.url}:\n{text[:3000]}"
        page.wait_for_timeout(500)


# ---------------------------------------------------------------------------------------------- the demo
DEMO_SCREENSHOTS = SCREENSHOTS / "demo"
QUIET_SECONDS = 180  # no run may start in the first 3 minutes after the UI starts
DEMO_END = "2026-11-10"  # the demo's defaults: 7 days from 2026-11-01 and 3 signal days
INCIDENT_DAY, QUIET_DAY = "2026-11-05", "2026-11-02"


class DemoUI:
    """A demo instance served by a webserver and a daemon, and one browser page on it."""

    def __init__(self, env: dict, port: int, services: tuple, page, demo_runs: set[str]):
        self.env, self.port, self.services, self.page, self.demo_runs = env, port, services, page, demo_runs
        self.base = f"http://127.0.0.1:{port}"
        # taken before the webserver and the daemon start: the quiet window covers their whole start-up
        self.started, self.started_at = time.monotonic(), time.time()
        self.new_runs_in_quiet_window: list | None = None
        self.own_backfills: set[str] = set()  # backfills a test asked for: their runs are not the UI's doing

    def quiet_window(self) -> list:
        """The runs the instance created (other than the demo's, and those of a backfill in ``own_backfills``)
        in the 3 minutes after the UI started.

        Read from the run records' creation times once the 3 minutes are over, so the module's other tests
        run during the window (the only runs they start on this instance are those of a backfill they asked
        for, by its id) and a run created after it does not count; the webserver and the daemon must be alive
        all along."""
        if self.new_runs_in_quiet_window is None:
            while True:
                for svc in self.services:
                    svc.assert_alive()
                if time.monotonic() - self.started >= QUIET_SECONDS:
                    break
                time.sleep(5)
            end = self.started_at + QUIET_SECONDS
            with dg.DagsterInstance.from_config(self.env["DAGSTER_HOME"]) as instance:
                records = instance.get_run_records()
            self.new_runs_in_quiet_window = [
                f"{r.dagster_run.job_name} {r.dagster_run.status.value} {dict(r.dagster_run.tags)} "
                f"created {r.create_timestamp.timestamp() - self.started_at:.0f} s after the UI started"
                for r in records
                if r.dagster_run.run_id not in self.demo_runs
                and r.dagster_run.tags.get("dagster/backfill") not in self.own_backfills
                and r.create_timestamp.timestamp() <= end
            ]
        return self.new_runs_in_quiet_window

    def sql(self, statement: str, params=None):
        con = duckdb.connect(self.env["DATA_PLATFORM_WAREHOUSE"], read_only=True)
        try:
            return con.execute(statement, params or []).fetchall()
        finally:
            con.close()


@pytest.fixture(scope="module")
def demo_ui(tmp_path_factory, browser):
    """``data-platform demo`` as ``make demo`` runs it (20,000 events a day, the default dates, seed and
    incidents) on a new instance, then a webserver and a daemon on it, every sensor running. (At 2,000
    events a day a quiet day can show ERROR drift by chance: one day of reference is a small sample.)"""
    root = tmp_path_factory.mktemp("demo-ui")
    env = platform_env(root, home=root / "home", DATA_PLATFORM_END_DATE=DEMO_END)
    (root / "home" / "dagster.yaml").unlink()  # a new DAGSTER_HOME: the platform brings its own settings
    run_cli(
        [
            str(BIN / "data-platform"),
            "demo",
            "--events-per-day",
            "20000",
            "--incident",
            f"cents_prices@{INCIDENT_DAY}",
            "--incident",
            "category_drift@2026-11-10",
        ],
        env,
        timeout=1800,
    )
    assert (root / "home" / "dagster.yaml").read_text() == (
        Path(__file__).parents[1] / "dagster_home" / "dagster.yaml"
    ).read_text()
    demo_runs = {r.run_id for r in runs_of(env["DAGSTER_HOME"])}
    shutil.rmtree(DEMO_SCREENSHOTS, ignore_errors=True)
    DEMO_SCREENSHOTS.mkdir(parents=True)
    port = free_port()
    with webserver(env, port, root / "webserver.log") as web, daemon(env, root / "daemon.log") as dmn:
        ui = DemoUI(env, port, (web, dmn), None, demo_runs)
        wait_for_webserver(port, web)
        ui.page = browser.new_page(viewport={"width": 1600, "height": 1000})  # its own context
        try:
            ui.page.set_default_timeout(60_000)
            # a new instance greets the first page with a "Join the Dagster community" dialog, once
            ui.page.goto(ui.base)
            ui.page.get_by_role("button", name="Skip").first.click()
            yield ui
        finally:
            ui.page.close()


def test_demo_asset_graph_and_a_range_run_day_shows_its_own_row_count(demo_ui):
    page = demo_ui.page
    _open(page, f"{demo_ui.base}/asset-groups")
    _text_when(page, r"Global asset lineage")
    for group in LIFECYCLE_GROUPS:
        page.get_by_text(group, exact=True).first.wait_for(state="visible")
    page.screenshot(path=str(DEMO_SCREENSHOTS / "01-asset-graph.png"))
    # the same graph, wide and short, for the README (docs/ui-asset-graph.png is a copy of it)
    page.set_viewport_size({"width": 1600, "height": 560})
    _open(page, f"{demo_ui.base}/asset-groups")
    page.get_by_text("monitoring", exact=True).last.wait_for(state="visible")
    page.screenshot(path=str(DEMO_SCREENSHOTS / "01-asset-graph-wide.png"))
    page.set_viewport_size({"width": 1600, "height": 1000})

    # the demo ingested 2026-11-01...2026-11-08 in one range run: the day's partition shows that day's rows
    [(rows,)] = demo_ui.sql("SELECT count(*) FROM raw.events WHERE event_date = ?", [QUIET_DAY])
    _open(page, f"{demo_ui.base}/assets/raw/events?view=partitions&partition={QUIET_DAY}")
    text = _text_when(page, r"dagster/row_count\s+[\d,]+")
    assert int(re.search(r"dagster/row_count\s+([\d,]+)", text).group(1).replace(",", "")) == rows > 1000
    page.screenshot(path=str(DEMO_SCREENSHOTS / "02-raw-events-day.png"), full_page=True)


def test_demo_partitions_end_at_the_last_day_with_data(demo_ui):
    """The partitions bar of a daily asset: every day of the demo's world materialized, no day after it."""
    page = demo_ui.page
    _open(page, f"{demo_ui.base}/assets/clean/events?view=partitions")
    text = _text_when(page, r"Missing \(\d+\)")
    assert "10 Partitions" in text and "Materialized (10)" in text and "Missing (0)" in text, text[:2000]
    page.screenshot(path=str(DEMO_SCREENSHOTS / "03-clean-events-partitions.png"))


def test_demo_anomaly_check_fails_on_the_incident_day_and_passes_on_a_quiet_one(demo_ui):
    page = demo_ui.page
    _open(page, f"{demo_ui.base}/assets/monitoring/anomalies?view=checks&checkDetail=no_error_anomalies")
    page.get_by_text("Execution history", exact=True).first.click()
    _text_when(page, INCIDENT_DAY)
    # the latest evaluation of each day (rows newest first): its result and its partition on one row
    latest = {day: page.locator("tr", has_text=day).first.inner_text() for day in (INCIDENT_DAY, QUIET_DAY)}
    assert latest[INCIDENT_DAY].startswith("Failed"), latest
    # the UI labels a passing evaluation "Passed" (older builds: "Succeeded"); never "Failed"
    assert latest[QUIET_DAY].startswith(("Passed", "Succeeded")), latest
    page.screenshot(path=str(DEMO_SCREENSHOTS / "04-anomaly-check-per-day.png"), full_page=True)


def test_demo_every_asset_page_has_column_descriptions(demo_ui):
    """Each asset's page shows a Columns table in which every column has a description (every asset the
    platform materializes; the training trigger events are external assets that hold no table)."""
    page = demo_ui.page
    nodes = _post(demo_ui.port, "{ assetNodes { assetKey { path } isMaterializable } }", {})["assetNodes"]
    keys = sorted("/".join(n["assetKey"]["path"]) for n in nodes if n["isMaterializable"])
    missing = {}
    for key in keys:
        _open(page, f"{demo_ui.base}/assets/{key}")
        table = page.locator("table", has_text="Column name")
        try:
            # the page's default timeout (60 s), not a shorter one: on a busy machine a slow page is not a missing table
            table.first.wait_for(state="visible")
        except Exception:  # playwright's TimeoutError: no Columns table on the page
            missing[key] = "no Columns table"
            continue
        rows = [
            [cell.inner_text().strip() for cell in row.locator("td").all()]
            for row in table.first.locator("tbody tr").all()
        ]
        undescribed = [cells[0].split("\n")[0] for cells in rows if len(cells) < 3 or not cells[2]]
        if not rows or undescribed:
            missing[key] = undescribed or "no columns"
    page.screenshot(path=str(DEMO_SCREENSHOTS / "05-asset-columns.png"), full_page=True)
    assert len(keys) > 20 and not missing, missing


def test_demo_backfill_page_shows_its_runs_and_partitions(demo_ui):
    """A backfill as docs/backfills.md asks for it, run by the daemon, and its page. It runs inside the quiet window
    (its runs wait for the daemon's backfill iterations): the window lets its runs through, by the backfill's id."""
    page = demo_ui.page
    done = run_cli(
        [
            str(BIN / "data-platform"),
            "backfill",
            "--job",
            "ingest_raw_events",
            "--from",
            "2026-11-01",
            "--to",
            "2026-11-02",
        ],
        demo_ui.env,
    )
    backfill_id = re.search(r"backfill (\w+) of", done.stdout).group(1)
    demo_ui.own_backfills.add(backfill_id)

    def finished():
        with dg.DagsterInstance.from_config(demo_ui.env["DAGSTER_HOME"]) as instance:
            return instance.get_backfill(backfill_id).status.value.startswith("COMPLETED")

    wait_until(finished, timeout=600, what=f"backfill {backfill_id} finished", services=demo_ui.services)
    # its overview: per-partition statuses (the page of a `dagster job backfill` here fails upstream)
    _open(page, f"{demo_ui.base}/runs/b/{backfill_id}")
    text = _text_when(page, r"\d+% completed")
    assert re.search(r"ingest_raw_events\s+100% completed\s+2\s+0\s+2\s+0", text), text[:2000]
    page.screenshot(path=str(DEMO_SCREENSHOTS / "09-backfill-overview.png"))
    _open(page, f"{demo_ui.base}/runs/b/{backfill_id}?tab=runs")
    runs_text = _text_when(page, r"ingest_raw_events[\s\S]*Success")
    page.screenshot(path=str(DEMO_SCREENSHOTS / "10-backfill-runs.png"))
    for shown in (text, runs_text):
        assert "Unexpected GraphQL error" not in shown and "Partition statuses unavailable" not in shown


# ------------------------------------------------------------------- a run submitted from the UI, on its own world
# It runs after the demo's page checks and before the quiet window is read (the tests run in file order): its own
# instance, webserver and daemon fill the demo's 3 quiet minutes instead of a wait.
def test_ui_shows_groups_assets_checks_and_row_counts(tmp_path, screenshots, browser):
    landing, warehouse, _ = generated_world(tmp_path, days=1, events_per_day=200, seed=11)
    env = platform_env(
        tmp_path,
        home=tmp_path / "home",
        DATA_PLATFORM_LANDING=landing.root,
        DATA_PLATFORM_WAREHOUSE=warehouse.database,
        # the only run is the one this test submits, as a person would from the UI
        DATA_PLATFORM_SENSORS="stopped",
    )
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    with webserver(env, port, tmp_path / "webserver.log") as web, daemon(env, tmp_path / "daemon.log") as dmn:
        wait_for_webserver(port, web)
        launched = _post(
            port,
            LAUNCH,
            {
                "params": {
                    "selector": {
                        "repositoryLocationName": LOCATION,
                        "repositoryName": "__repository__",
                        "jobName": "daily_pipeline",
                    },
                    "executionMetadata": {"tags": [{"key": "dagster/partition", "value": DAY}]},
                }
            },
        )["launchRun"]
        assert launched["__typename"] == "LaunchRunSuccess", launched
        [run] = wait_for_runs(env["DAGSTER_HOME"], 1, timeout=300, services=(web, dmn))
        assert run.status.value == "SUCCESS" and run.tags["dagster/partition"] == DAY

        # ------------------------------------------------------------------ the graph through GraphQL
        nodes = _post(port, GRAPH, {"day": DAY})["assetNodes"]
        by_key = {"/".join(n["assetKey"]["path"]): n for n in nodes}
        # the six lifecycle stages (later stages may add groups of their own)
        assert LIFECYCLE_GROUPS <= {n["groupName"] for n in nodes}
        groups = {
            g: sorted(k for k, n in by_key.items() if n["groupName"] == g) for g in {n["groupName"] for n in nodes}
        }
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
            # a daily asset's materialization of the day; the unpartitioned identity map's latest one
            node = by_key[key]
            [materialization] = node["assetMaterializations"] if node["isPartitioned"] else node["latest"]
            assert materialization["partition"] == (DAY if node["isPartitioned"] else None)
            meta = {m["label"]: m.get("intValue") for m in materialization["metadataEntries"]}
            row_counts[key] = meta["dagster/row_count"]
        assert row_counts["raw/events"] == _count(warehouse.database, "raw.events") > 100
        assert row_counts["clean/events"] == _count(warehouse.database, "clean.events") > 100
        assert row_counts["clean/identity_map"] == _count(warehouse.database, "clean.identity_map", None) > 0
        assert row_counts["raw/quarantine"] == _count(warehouse.database, "raw.quarantine", "partition_date") > 0

        # ------------------------------------------------------------------ the same, on screen
        page = browser.new_page(viewport={"width": 1600, "height": 1000})  # its own context
        try:
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
            page.close()
    assert sorted(p.name for p in screenshots.glob("*.png")) == [
        "01-global-lineage.png",
        "02-group-ingestion.png",
        "03-group-cleaning.png",
        "04-asset-raw-events.png",
        "05-asset-raw-events-checks.png",
    ]


def test_demo_ui_starts_no_run_in_its_first_3_minutes(demo_ui):
    page = demo_ui.page
    _open(page, f"{demo_ui.base}/overview/automation")
    _text_when(page, r"landing_sensor")
    page.screenshot(path=str(DEMO_SCREENSHOTS / "06-sensors.png"))
    new_runs = demo_ui.quiet_window()
    assert new_runs == [], new_runs
    # what a person sees: nothing queued or in progress, and the landing sensor's one-line tick
    _open(page, f"{demo_ui.base}/runs")
    text = _text_when(page, r"Queued \(\d+\)")
    assert "Queued (0)" in text and "In progress (0)" in text, text[:1500]
    page.screenshot(path=str(DEMO_SCREENSHOTS / "07-runs-after-3-minutes.png"))
    _open(page, f"{demo_ui.base}/locations/{LOCATION}/sensors/landing_sensor")
    text = _text_when(page, r"Cursor")
    # the cursor holds only what is in flight (no file, here), not every file ever seen
    assert '"pending": {}, "requested": {}' in text and '"seen"' not in text
    page.get_by_text("View logs").first.click()  # the latest tick, the daemon's: one line
    text = _text_when(page, r"\d+ files landed")
    [(files,)] = demo_ui.sql("SELECT count(*) FROM raw.files WHERE status = 'current'")
    assert f"{files} files landed" in text
    page.screenshot(path=str(DEMO_SCREENSHOTS / "08-landing-sensor-tick.png"))
    page.get_by_role("button", name="Done").click()
