"""Monitoring end to end on generated logs: every injected incident is found on its day and feature,
and two weeks without incidents raise no ERROR."""

from __future__ import annotations

import datetime as dt
import html as html_lib
import re
from pathlib import Path

import dagster as dg
import numpy as np
import pandas as pd
import pytest

from data_platform.cleaning.assets import clean_layer
from data_platform.definitions import CONTRACT_CHECKS
from data_platform.generator import generate_logs
from data_platform.ingestion.assets import raw_ingestion
from data_platform.labeling.ctr_assets import ctr_examples
from data_platform.resources import LandingZone, Warehouse, rows
from data_platform.validation.assets import ANOMALIES, anomalies, feature_stats
from data_platform.validation.features import MONITORED, SKEW
from data_platform.validation.schema import infer_schema, read_schema, write_schema
from data_platform.validation.stats import load_stats
from data_platform_tests.conftest import query as query_warehouse

START = dt.date(2026, 11, 2)
DAILY = [raw_ingestion, clean_layer, ctr_examples, feature_stats, anomalies]


def build(root: Path, days: int, incidents: list[str]) -> dict:
    """Generate, profile, infer schemas from the first 3 days, then judge every day."""
    landing = LandingZone(root=str(root / "landing"), settle_seconds=0)
    warehouse = Warehouse(database=str(root / "warehouse.duckdb"), memory_limit="2GB", threads=2)
    manifest = generate_logs(landing.root, start=START, days=days, events_per_day=5000, seed=5, incidents=incidents)
    last = sorted(manifest["valid_lines_by_event_day"])[-1]
    resources = {"warehouse": warehouse, "landing": landing}
    tags = {"dagster/asset_partition_range_start": START.isoformat(), "dagster/asset_partition_range_end": last}
    instance = dg.DagsterInstance.ephemeral()
    built = set().union(*(a.keys for a in DAILY[:4]))
    daily_checks = [c for c in CONTRACT_CHECKS if all(k.asset_key in built for k in c.check_keys)]
    assert dg.materialize([*DAILY[:4], *daily_checks], resources=resources, tags=tags, instance=instance).success
    schemas = root / "schemas"
    with warehouse.connect() as con:
        for monitored in MONITORED:
            if monitored.table == SKEW[1]:
                continue
            schema_name, table = monitored.table.split(".")
            columns = [
                (r["column_name"], r["data_type"])
                for r in rows(con, "validation/table_columns.sql", {"schema": schema_name, "table": table})
            ]
            stats = load_stats(con, monitored.table, START, START + dt.timedelta(days=3))
            unbounded = frozenset(f.name for f in monitored.features if not f.bounded)
            write_schema(
                infer_schema(monitored.table, columns, stats, START, START + dt.timedelta(days=3), unbounded), schemas
            )
    config = {
        "ops": {"monitoring__anomalies": {"config": {"schema_dir": str(schemas), "reports_dir": str(root / "reports")}}}
    }
    result = dg.materialize(
        DAILY, resources=resources, tags=tags, selection=[anomalies.key], run_config=config, instance=instance
    )
    assert result.success
    return {"result": result, "warehouse": warehouse, "root": root, "last": last, "instance": instance}


def query(built, sql):
    return query_warehouse(built["warehouse"], sql)


@pytest.fixture(scope="module")
def incidents(tmp_path_factory):
    return build(
        tmp_path_factory.mktemp("incidents"),
        10,
        [
            "category_drift@2026-11-06",
            "cents_prices@2026-11-08",
            "null_spike@2026-11-09:country",
            "volume_drop@2026-11-10",
        ],
    )


def first_error(built, kind: str, table: str, feature: str):
    found = query(
        built,
        f"SELECT min(day) FROM monitoring.anomalies WHERE severity = 'ERROR' AND kind = '{kind}' "
        f"AND table_name = '{table}' AND feature = '{feature}'",
    )
    return found[0][0]


@pytest.mark.parametrize(
    "kind, table, feature, day",
    [
        ("drift", "clean.events", "category", "2026-11-06"),  # category_drift: the mix moves
        ("skew", "labels.ctr_examples vs serving", "category", "2026-11-06"),  # ... so serving leaves training
        ("out_of_range", "raw.events", "price", "2026-11-08"),  # cents_prices: x100 prices from one client
        ("unexpected_values", "raw.events", "app_version", "2026-11-08"),  # ... the new client version
        ("presence_drop", "raw.events", "country", "2026-11-09"),  # null_spike on country
        ("drift", "clean.events", "country", "2026-11-09"),  # ... as a missing-rate change
        ("volume", "raw.events", "*", "2026-11-10"),  # volume_drop
        ("volume", "raw.events", "impression", "2026-11-10"),
    ],
)
def test_each_incident_is_found_on_its_day_and_feature(incidents, kind, table, feature, day):
    assert first_error(incidents, kind, table, feature) == dt.date.fromisoformat(day)


def test_the_clean_layer_hides_the_cents_incident_but_the_raw_view_shows_it(incidents):
    # the corrected prices stay in range; the fix itself is a new value of price_fix
    assert first_error(incidents, "out_of_range", "clean.events", "price_eur") is None
    assert first_error(incidents, "unexpected_values", "clean.events", "price_fix") == dt.date(2026, 11, 8)


def test_days_before_the_first_incident_raise_no_error(incidents):
    assert query(
        incidents, "SELECT count(*) FROM monitoring.anomalies WHERE severity = 'ERROR' AND day < DATE '2026-11-06'"
    ) == [(0,)]


def test_reports_and_metadata(incidents):
    result = incidents["result"]
    meta = {m.partition: m.metadata for m in result.asset_materializations_for_node("monitoring__anomalies")}
    assert len(meta) == (dt.date.fromisoformat(incidents["last"]) - START).days + 1  # one per day
    for day, m in meta.items():  # each day links its own report
        report = Path(m["report"].value)
        assert report.exists() and report.name == f"data-report-{day}.html"
        assert m["report_url"].value == report.as_uri()
    html = (incidents["root"] / "reports" / "data-report-2026-11-08.html").read_text()
    assert "ERROR" in html and "price" in html and "<svg" in html and "http://" not in html
    assert meta["2026-11-08"]["errors"].value > 0 and meta["2026-11-03"]["errors"].value == 0
    checks = {(c.check_name, c.partition): c for c in result.get_asset_check_evaluations()}
    assert not checks["no_error_anomalies", "2026-11-06"].passed
    assert "clean.events.category drift" in checks["no_error_anomalies", "2026-11-06"].description
    drift = query(incidents, "SELECT DISTINCT comparison FROM monitoring.drift")
    assert {r[0] for r in drift} == {"day_over_day", "vs_reference", "training_vs_serving"}
    assert query(incidents, "SELECT count(*) FROM monitoring.drift WHERE metric = 'ks'")[0][0] > 0


def _days(built) -> list[str]:
    last = dt.date.fromisoformat(built["last"])
    return [str(START + dt.timedelta(days=i)) for i in range((last - START).days + 1)]


@pytest.mark.parametrize(
    "asset, sql",
    [
        ("raw/events", "SELECT count(*) FROM raw.events WHERE event_date = ?"),
        ("raw/quarantine", "SELECT count(*) FROM raw.quarantine WHERE partition_date = ?"),
        ("clean/events", "SELECT count(*) FROM clean.events WHERE event_date = ?"),
        ("clean/filtered_events", "SELECT count(*) FROM clean.filtered_events WHERE event_date = ?"),
        ("labels/ctr_examples", "SELECT count(*) FROM labels.ctr_examples WHERE event_date = ?"),
        ("monitoring/feature_stats", "SELECT count(*) FROM monitoring.feature_stats WHERE partition_date = ?"),
        ("monitoring/anomalies", "SELECT count(*) FROM monitoring.anomalies WHERE day = ?"),
    ],
)
def test_a_range_run_records_each_days_own_row_count(incidents, asset, sql):
    """The instance's event log, read per partition as the UI does: every day of the range run shows
    the rows of that day, not the range total."""
    instance = incidents["instance"]
    counts = {}
    for day in _days(incidents):
        [record] = instance.fetch_materializations(
            dg.AssetRecordsFilter(asset_key=dg.AssetKey.from_user_string(asset), asset_partitions=[day]), limit=1
        ).records
        counts[day] = (
            record.asset_materialization.metadata["dagster/row_count"].value,
            query_warehouse(incidents["warehouse"], sql, [day])[0][0],
        )
    assert all(shown == actual for shown, actual in counts.values()), counts
    assert sum(shown for shown, _ in counts.values()) > max(
        shown for shown, _ in counts.values()
    )  # several days hold rows


def _evaluations(built, asset_key: dg.AssetKey, check: str) -> dict[str, object]:
    history = built["instance"].event_log_storage.get_asset_check_execution_history(
        dg.AssetCheckKey(asset_key, check), limit=1000
    )
    return {r.partition: r.event.dagster_event.event_specific_data for r in history}


def test_anomaly_checks_are_judged_per_day(incidents):
    """no_error_anomalies fails on each day with an ERROR anomaly and passes on clean days: a green
    last day no longer hides the red ones before it."""
    evaluations = _evaluations(incidents, ANOMALIES, "no_error_anomalies")
    assert sorted(evaluations) == _days(incidents)
    error_days = {
        str(d) for (d,) in query(incidents, "SELECT DISTINCT day FROM monitoring.anomalies WHERE severity = 'ERROR'")
    }
    assert {day for day, e in evaluations.items() if not e.passed} == error_days
    assert not evaluations["2026-11-08"].passed and evaluations["2026-11-03"].passed
    [(errors_08,)] = query(
        incidents, "SELECT count(*) FROM monitoring.anomalies WHERE severity = 'ERROR' AND day = DATE '2026-11-08'"
    )
    assert evaluations["2026-11-08"].metadata["errors"].value == errors_08
    # each evaluation points at the materialization of its own day
    record = (
        incidents["instance"]
        .fetch_materializations(dg.AssetRecordsFilter(asset_key=ANOMALIES, asset_partitions=["2026-11-08"]), limit=1)
        .records[0]
    )
    assert evaluations["2026-11-08"].target_materialization_data.storage_id == record.storage_id


@pytest.mark.parametrize(
    "asset, check",
    [
        ("raw/events", "contract_v1"),
        ("raw/files", "lines_accounted"),
        ("clean/events", "clean_contract"),
        ("clean/events", "no_personal_data"),
        ("labels/ctr_examples", "ctr_examples_accounted"),
        ("raw/events", "pandera_contract"),
        ("clean/events", "pandera_contract"),
    ],
)
def test_every_check_on_daily_data_has_one_evaluation_per_day(incidents, asset, check):
    evaluations = _evaluations(incidents, dg.AssetKey.from_user_string(asset), check)
    assert sorted(evaluations) == _days(incidents)
    assert all(e.passed for e in evaluations.values())


@pytest.mark.slow
def test_two_weeks_without_incidents_raise_no_error(tmp_path):
    built = build(tmp_path, 14, [])
    errors = query(
        built, "SELECT day, table_name, kind, feature, detail FROM monitoring.anomalies WHERE severity = 'ERROR'"
    )
    assert errors == []
    warnings = query(built, "SELECT count(*) FROM monitoring.anomalies WHERE severity = 'WARN'")[0][0]
    print(f"WARN anomalies over 14 clean days: {warnings}")
    assert warnings < 250  # measured 155 at 5,000 events a day (country and device noise, mostly)


def test_the_committed_schemas_parse_and_match_the_tables(incidents):
    for monitored in MONITORED:
        if monitored.table == SKEW[1]:
            continue
        schema = read_schema(monitored.table)
        assert schema is not None, f"no committed schema for {monitored.table}"
        schema_name, table = monitored.table.split(".")
        columns = query(
            incidents,
            f"SELECT column_name, data_type FROM duckdb_columns() "
            f"WHERE schema_name = '{schema_name}' AND table_name = '{table}'",
        )
        assert dict(columns) == schema["columns"], monitored.table
        assert set(schema["features"]) == {f.name for f in monitored.features}


def moved_card(html: str, table: str, feature: str) -> tuple[dict, str]:
    """The attributes and the body of a report's "What moved" card."""
    found = re.search(
        rf'<div class="card moved" id="moved-\d+" data-table="{re.escape(table)}" data-feature="{feature}" '
        r'data-comparison="([^"]+)" data-metric="([^"]+)">(.*?)</div>',
        html,
        flags=re.S,
    )
    assert found, f"no moved card for {table}.{feature}"
    return {"comparison": found[1], "metric": found[2]}, found[3]


def compared_sides(built, table: str, feature: str, comparison: str, day: dt.date) -> dict[str, pd.Series]:
    """The feature's values (not NULL, not NaN) on each side of a comparison, read with pandas: the day, and
    the day before or the reference window (the schemas were inferred from the first 3 days)."""
    if comparison == "day_over_day":
        start, end = day - dt.timedelta(days=1), day
    else:
        assert comparison == "vs_reference"
        start, end = START, START + dt.timedelta(days=3)
    values = pd.DataFrame(
        query(built, f"SELECT event_date, {feature} FROM {table} WHERE {feature} IS NOT NULL"), columns=["day", "v"]
    )
    values = values[values["v"] == values["v"]]  # NaN
    return {
        "current": values[values["day"] == day]["v"],
        "reference": values[(values["day"] >= start) & (values["day"] < end)]["v"],
    }


def bars(svg: str) -> list[dict]:
    """The bars of a chart: their series, value (categorical), share and size, from their attributes."""
    out = []
    for tag in re.findall(r"<rect [^>]*data-series=[^>]*>", svg):
        a = {k: html_lib.unescape(v) for k, v in re.findall(r'([\w-]+)="([^"]*)"', tag)}
        out.append(
            {
                "series": a["data-series"],
                "value": a.get("data-value"),
                "share": float(a["data-share"]),
                "width": float(a["width"]),
                "height": float(a["height"]),
            }
        )
    return out


def test_the_report_shows_what_moved_with_distributions_computed_independently(incidents):
    """category_drift from 2026-11-06: on 2026-11-07 the report's card for clean.events.category draws the
    reference and current shares of each category as pandas counts them from the table, and its score day
    by day as monitoring.drift holds it, one point a day, moved since the incident's day."""
    day = dt.date(2026, 11, 7)
    html = (incidents["root"] / "reports" / f"data-report-{day}.html").read_text()
    assert html.index('id="moved"') < html.index('id="anomalies"')  # what changed comes first
    which, card = moved_card(html, "clean.events", "category")
    assert "moved since <strong>2026-11-06</strong>" in card

    sides = compared_sides(incidents, "clean.events", "category", which["comparison"], day)
    shares = {side: values.value_counts(normalize=True) for side, values in sides.items()}
    distribution, series_svg = card.split("Drift score over time")
    drawn = [b for b in bars(distribution) if b["value"] != "(other values)"]
    assert len(drawn) == 2 * min(10, len(set(shares["current"].index) | set(shares["reference"].index)))
    for b in drawn:
        assert b["share"] == pytest.approx(shares[b["series"]].get(b["value"], 0.0), abs=1e-6), b
    # the bars' lengths are the shares on one scale
    scale = [b["width"] / b["share"] for b in drawn if b["share"] > 0.05]
    assert scale == pytest.approx([scale[0]] * len(scale), rel=0.01)
    moved_category = max(drawn, key=lambda b: b["share"] - shares["reference"].get(b["value"], 0.0))
    assert moved_category["series"] == "current"  # the category that jumped is the current side's longest lead

    points = [
        (dt.date.fromisoformat(m[1]), float(m[2]))
        for m in re.finditer(r'<circle [^>]*data-day="([\d-]+)" data-value="([^"]+)"', series_svg)
    ]
    held = query(
        incidents,
        "SELECT day, value FROM monitoring.drift WHERE table_name = 'clean.events' AND feature = 'category' "
        f"AND comparison = '{which['comparison']}' AND metric = '{which['metric']}' AND value IS NOT NULL "
        f"AND day <= DATE '{day}' ORDER BY day",
    )
    assert points == held and len({d for d, _ in points}) == len(points)  # one point a day, as stored
    assert points[-1][0] == day and dt.date(2026, 11, 6) in dict(points)


def test_a_numeric_feature_that_moved_is_drawn_on_bins_shared_by_both_sides(incidents):
    """cents_prices from 2026-11-08: raw.events.price is drawn on 20 bins over both sides' range, each
    side's shares as numpy.histogram counts them."""
    day = dt.date(2026, 11, 8)
    html = (incidents["root"] / "reports" / f"data-report-{day}.html").read_text()
    which, card = moved_card(html, "raw.events", "price")
    assert "on shared bins" in card
    sides = {
        k: v.to_numpy(dtype=float)
        for k, v in compared_sides(incidents, "raw.events", "price", which["comparison"], day).items()
    }
    pooled = np.concatenate(list(sides.values()))
    distribution = card.split("Drift score over time")[0]
    drawn = bars(distribution)
    for side, values in sides.items():
        counts, _ = np.histogram(values, bins=20, range=(pooled.min(), pooled.max()))
        expected = [c / len(values) for c in counts]  # every bin, the empty ones at 0
        assert [b["share"] for b in drawn if b["series"] == side] == pytest.approx(expected, abs=1e-6), side
    scale = [b["height"] / b["share"] for b in drawn if b["share"] > 0.05]  # one y scale for both sides
    assert len(scale) >= 2 and scale == pytest.approx([scale[0]] * len(scale), rel=0.01)
