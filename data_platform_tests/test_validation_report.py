"""The monitoring report: self-contained, escaped, one chart per feature, counts in the header,
written atomically; the markdown summary."""

from __future__ import annotations

import datetime as dt
import os
import re
from html.parser import HTMLParser

import duckdb
import pytest

from data_platform.validation import FeatureSpec
from data_platform.validation import report as report_module
from data_platform.validation.report import render_report, summary_markdown, write_report
from data_platform.validation.stats import compute_feature_stats

EVIL = "<script>alert(1)</script>"
EVIL_FEATURE = 'x"><img src=x onerror=alert(2)>'
DAY, REF_DAY = dt.date(2026, 11, 2), dt.date(2026, 11, 1)


def _stats() -> tuple[list[dict], list[dict]]:
    """Real statistics rows of two days (the current one with a malicious category value)."""
    con = duckdb.connect()
    con.execute(
        """
        CREATE TABLE clean.events AS
        SELECT DATE '2026-11-01' + CAST(i % 2 AS INTEGER) AS event_date,
               CASE WHEN i % 2 = 1 THEN i % 37 * 1.5 ELSE i % 23 END AS price,
               CASE WHEN i % 2 = 1 AND i % 5 = 0 THEN $evil ELSE 'cat & "' || CAST(i % 7 AS VARCHAR) || '"' END
                   AS category,
               CASE WHEN i % 11 = 0 THEN NULL ELSE repeat('é', CAST(i % 13 AS INTEGER)) END AS review,
               3.0 AS constant
        FROM range(2000) AS r(i)
    """.replace("CREATE TABLE clean.events", "CREATE SCHEMA clean; CREATE TABLE clean.events"),
        {"evil": EVIL},
    )
    features = [
        FeatureSpec("price", "numeric"),
        FeatureSpec("category", "categorical"),
        FeatureSpec("review", "text"),
        FeatureSpec("constant", "numeric"),
    ]
    rows = compute_feature_stats(con, "clean.events", features, "event_date", REF_DAY, DAY + dt.timedelta(days=1))
    return ([r for r in rows if r["partition_date"] == DAY], [r for r in rows if r["partition_date"] == REF_DAY])


DRIFT = [
    {
        "table": "clean.events",
        "feature": "price",
        "metric": "psi",
        "value": 0.31,
        "warn": 0.1,
        "error": 0.25,
        "severity": "ERROR",
        "top_movers": [{"range": [0.0, 2.7], "reference_share": 0.05, "current_share": 0.2, "delta": 0.15}],
    },
    {
        "table": "clean.events",
        "feature": "category",
        "metric": "linf",
        "value": 0.12,
        "warn": 0.1,
        "error": 0.3,
        "severity": "WARN",
        "top_movers": [{"value": EVIL, "reference_share": 0.0, "current_share": 0.1, "delta": 0.1}],
    },
    {
        "table": "clean.events",
        "feature": "review",
        "metric": "jsd",
        "value": 0.01,
        "warn": 0.1,
        "error": 0.3,
        "severity": "OK",
    },
    {
        "table": "clean.events",
        "feature": "constant",
        "metric": "mean_shift",
        "value": None,
        "warn": 1,
        "error": 3,
        "severity": "OK",
        "top_movers": [],
    },
]
ANOMALIES = [
    {
        "table": "clean.events",
        "kind": "volume",
        "feature": None,
        "severity": "WARN",
        "detail": "rows fell to 40% of the 7-day median & <b>more</b>",
    },
    {
        "table": "clean.events",
        "kind": "null_spike",
        "feature": EVIL_FEATURE,
        "severity": "ERROR",
        "detail": "missing rate 80% > 's' \"quoted\"",
    },
    {"table": "clean.events", "kind": "freshness", "feature": None, "severity": "ERROR", "detail": "late"},
]


class _Collector(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data):
        self.text.append(data)


def _parse(page: str) -> _Collector:
    parser = _Collector()
    parser.feed(page)
    parser.close()
    return parser


@pytest.fixture(scope="module")
def page() -> str:
    current, reference = _stats()
    return render_report("Data monitoring <daily>", "2026-11-02", current, reference, DRIFT, ANOMALIES)


def test_the_page_is_self_contained(page):
    parsed = _parse(page)
    assert not re.search(r"""(src|href)\s*=\s*["']?\s*(https?:)?//""", page, re.IGNORECASE)
    assert "http://" not in page and "https://" not in page
    assert not [t for t, _ in parsed.tags if t in ("script", "link", "iframe", "img", "object", "embed")]
    assert "@import" not in page and "url(" not in page
    assert all(a["href"].startswith("#") for t, a in parsed.tags if t == "a")
    assert page.startswith("<!DOCTYPE html>") and "<style>" in page


def test_everything_from_the_data_is_escaped(page):
    assert EVIL not in page and "<img" not in page and "<b>more" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page  # shown, as text
    parsed = _parse(page)
    text = "".join(parsed.text)
    assert EVIL in text  # the category in the chart and the mover, the feature name in the anomaly
    assert EVIL_FEATURE in text
    assert "cat &amp; &quot;" in page  # & and quotes of category values
    assert "<title>Data monitoring &lt;daily&gt;" in page


def test_one_svg_per_feature(page):
    assert page.count("<svg") == 4  # price, category, review, constant
    parsed = _parse(page)
    cards = [a["id"] for t, a in parsed.tags if t == "div" and a.get("class") == "card"]
    assert len(cards) == 4
    # categorical: bars with the current and the reference share; numeric: both histograms
    assert page.count('fill="#2f6fdf"') > 0 and page.count('fill="#9aa5b1"') > 0
    assert "length (characters)" in page  # the text feature is drawn by its length


def test_header_counts_errors_and_warnings(page):
    header = page.split("</header>")[0]
    # drift: 1 ERROR, 1 WARN; anomalies: 2 ERROR, 1 WARN
    assert "3 ERROR" in header and "2 WARN" in header
    assert "2026-11-02" in header
    # severities are colored by class, worst first
    anomalies = page.split('id="anomalies"')[1].split("</section>")[0]
    assert anomalies.index("sev-ERROR") < anomalies.index("sev-WARN")
    assert 'class="badge sev-ERROR"' in page and 'class="badge sev-WARN"' in page


def test_drift_table_shows_thresholds_and_movers(page):
    drift = page.split('id="drift"')[1].split("</section>")[0]
    for header in ("table", "feature", "metric", "value", "warn", "error", "severity", "top movers"):
        assert f"<th>{header}</th>" in drift
    assert "0.31" in drift and "0.25" in drift and "+15.0 pp" in drift
    assert "[0, 2.7)" in drift
    assert 'href="#feature-' in drift


def test_without_reference_or_findings():
    current, _ = _stats()
    page = render_report("t", "2026-11-02", current, None, [], [])
    assert page.count("<svg") == len(current)
    assert "all clear" in page and "No anomaly." in page and "No drift comparison." in page
    assert "<th>reference</th>" not in page and 'fill="#9aa5b1"' not in page  # current values only
    assert render_report("t", "p", [], None, [], []).count("<svg") == 0


def test_write_report_is_atomic(tmp_path, page, monkeypatch):
    reports = tmp_path / "reports" / "daily"
    path = write_report(page, reports, "2026-11-02")
    assert path == reports / "2026-11-02.html"
    assert path.read_text(encoding="utf-8") == page
    assert sorted(p.name for p in reports.iterdir()) == ["2026-11-02.html"]  # no temporary file left

    # a failing rename leaves the previous page whole and no temporary file
    def broken_replace(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr(report_module.os, "replace", broken_replace)
    with pytest.raises(OSError):
        write_report("<html>new</html>", reports, "2026-11-02.html")
    assert path.read_text(encoding="utf-8") == page
    assert sorted(p.name for p in reports.iterdir()) == ["2026-11-02.html"]
    monkeypatch.undo()

    assert write_report("<html>new</html>", reports, "2026-11-02.html").read_text() == "<html>new</html>"
    assert oct(os.stat(path).st_mode & 0o777) == "0o644"
    for bad in ("../escape", "a/b", "", ".hidden", "x y"):
        with pytest.raises(ValueError):
            write_report(page, reports, bad)


def test_summary_markdown():
    text = summary_markdown(DRIFT, ANOMALIES)
    assert text.startswith("**3 ERROR, 2 WARN**")
    lines = text.splitlines()
    table = [line for line in lines if line.startswith("| ")]
    assert len(table) == 1 + 5  # header and the five findings, OK rows left out
    assert table[1].startswith("| ERROR") and table[-1].startswith("| WARN")
    assert summary_markdown([DRIFT[2]], []).endswith("All clear.")
    many = summary_markdown([dict(DRIFT[0], feature=f"f{i}") for i in range(15)], [], limit=10)
    assert "_and 5 more in the report_" in many
