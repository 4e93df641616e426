"""The monitoring report, read in a real browser (Debian's chromium driven by playwright), apart from the
Dagster UI's module: that module holds one browser open for its whole demo instance, and playwright's sync
API allows one at a time in a process."""

from __future__ import annotations

import shutil

import pytest

from data_platform_tests.processes import ARTIFACTS, requires_peer
from data_platform_tests.test_ui_browser import CHROMIUM, CHROMIUM_ARGS

# a missing chromium skips the module locally and fails it under CI=true
pytestmark = [
    pytest.mark.slow,
    requires_peer(CHROMIUM.exists(), f"Debian's chromium ({CHROMIUM})", "run .ci/setup_browser.sh"),
]

REPORT_SCREENSHOTS = ARTIFACTS / "screenshots-report"


def test_the_data_report_reads_in_a_browser_with_what_moved_first(tmp_path):
    """A day's monitoring report over generated logs with a category drift from 2026-11-06, opened in
    Chromium from its file: nothing is fetched from anywhere else, the "What moved" section comes first and
    draws the drifted feature's distributions and its score day by day, every chart has a title. The
    screenshots (the page's top, one card) are the ones in docs/monitoring.md."""
    from playwright.sync_api import sync_playwright

    from data_platform_tests.test_validation_monitoring import build

    build(tmp_path, 7, ["category_drift@2026-11-06"])
    report = tmp_path / "reports" / "data-report-2026-11-07.html"
    shutil.rmtree(REPORT_SCREENSHOTS, ignore_errors=True)
    REPORT_SCREENSHOTS.mkdir(parents=True)
    fetched: list[str] = []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.on("request", lambda request: fetched.append(request.url))
            page.goto(report.as_uri())
            page.wait_for_load_state("load")
            headings = page.locator("h2").all_inner_texts()
            assert headings[:2] == ["What moved", "Anomalies"]
            card = page.locator('#moved .card[data-table="clean.events"][data-feature="category"]')
            assert "moved since 2026-11-06" in card.inner_text()
            for chart in card.locator("svg").all():
                box = chart.bounding_box()
                assert box and box["width"] > 300 and box["height"] > 100  # drawn, not collapsed
            charts = page.locator("svg")
            assert charts.count() == page.locator("svg > title").count() > 0  # every chart is titled
            assert page.locator("svg:not([role='img'])").count() == 0
            page.screenshot(path=str(REPORT_SCREENSHOTS / "report-top.png"))
            card.screenshot(path=str(REPORT_SCREENSHOTS / "report-moved-category.png"))
        finally:
            browser.close()
    assert fetched == [report.as_uri()]  # self-contained: no script, font or image from elsewhere
