"""Monitoring assets: feature statistics per day, anomalies (drift, skew, schema, volume) with an HTML
report per day, and the data source inventory."""

import datetime as dt
import json
from pathlib import Path

import dagster as dg
import pyarrow as pa

from data_platform.base.keys import ANOMALIES, CLEAN_EVENTS, CTR_EXAMPLES, FEATURE_STATS, RAW_EVENTS
from data_platform.metadata import PartitionReport, StageClock, markdown_table, report_schema, table_schema_of
from data_platform.partitions import WAREHOUSE_STEP, daily_check, daily_partitions, partition_days
from data_platform.resources import (
    Warehouse,
    existing_tables,
    load_sql,
    reports_root,
    rows,
    run_sql,
    transaction,
    write_rows,
)
from data_platform.validation.drift import ks_statistic_sql, load_thresholds
from data_platform.validation.features import BY_TABLE, MONITORED, SKEW, skew_features
from data_platform.validation.monitor import MIN_ROWS, compare, merge_stats, volume_anomalies, warming_up
from data_platform.validation.moved import moved_features
from data_platform.validation.report import render_report, summary_markdown, write_report
from data_platform.validation.schema import SCHEMA_DIR, check_against_schema, read_schema
from data_platform.validation.sources import load_sources
from data_platform.validation.stats import compute_feature_stats, load_stats, write_feature_stats

SOURCE_INVENTORY = dg.AssetKey(["monitoring", "source_inventory"])
_COMMON = dict(group_name="monitoring", kinds={"duckdb", "python"}, owners=["team:data-platform"])

ERRORS_CHECK = daily_check(
    "no_error_anomalies",
    ANOMALIES,
    blocking=False,
    description="No ERROR anomaly (drift, training/serving skew, schema, volume) on the day.",
)
WARNINGS_CHECK = daily_check(
    "no_warn_anomalies",
    ANOMALIES,
    blocking=False,
    description="No WARN anomaly on the day (fails with severity WARN: someone should look).",
)


@dg.asset(
    key=FEATURE_STATS,
    partitions_def=daily_partitions,
    deps=[RAW_EVENTS, CLEAN_EVENTS, CTR_EXAMPLES],
    code_version="feature-stats-1",
    **_COMMON,
    **WAREHOUSE_STEP,
)
def feature_stats(context: dg.AssetExecutionContext, warehouse: Warehouse):
    """Statistics of every monitored feature per day, computed in DuckDB and kept as history in
    monitoring.feature_stats: count, missing, zeros, min/max/mean/std, quantiles, an equal-width and a
    quantile histogram for numerics; distinct count and top values for categoricals; length statistics
    for text. Tables: raw.events (before corrections), clean.events, labels.ctr_examples and the serving
    impressions (for training/serving skew)."""
    days = partition_days(context)
    clock = StageClock()
    written = {}
    with warehouse.connect() as con:
        con.execute(load_sql("validation/serving_view.sql"))
        for monitored in MONITORED:
            stats = compute_feature_stats(
                con, monitored.table, monitored.features, monitored.partition_column, days["start_day"], days["end_day"]
            )
            write_feature_stats(
                con, stats, context.run.run_id, replace_span=(monitored.table, days["start_day"], days["end_day"])
            )
            written[monitored.table] = stats
            clock.lap(monitored.table)
        schema = table_schema_of(con, "monitoring.feature_stats")
    report = PartitionReport(context)
    report.describe(
        lambda day: {
            FEATURE_STATS: _stats_metadata(
                {t: [r for r in stats if r["partition_date"] == day["start_day"]] for t, stats in written.items()}
            )
        }
    )
    yield from report.results(
        [FEATURE_STATS],
        run_metadata={
            FEATURE_STATS: {
                "run_days": report.run_days,
                "run_stage_seconds": dg.MetadataValue.json(clock.laps),
                "dagster/column_schema": schema,
            }
        },
    )


def _stats_metadata(written: dict[str, list[dict]]) -> dict:
    """What one day's feature profiles hold: rows, rows profiled per table, missing rates of clean.events."""
    missing = [
        {
            "table": t,
            "feature": r["feature"],
            "day": str(r["partition_date"]),
            "rows": r["count"],
            "missing": f"{r['missing'] / r['count']:.1%}" if r["count"] else "-",
        }
        for t, stats in written.items()
        for r in stats
        if t == "clean.events"
    ]
    return {
        "dagster/row_count": sum(len(s) for s in written.values()),
        "rows_profiled": dg.MetadataValue.json(
            {t: sum(r["count"] for r in s if r["feature"] == BY_TABLE[t].features[0].name) for t, s in written.items()}
        ),
        "clean_events_missing": dg.MetadataValue.md(markdown_table(missing)),
    }


class MonitoringConfig(dg.Config):
    """Where schemas, thresholds and reports are, and what is judged."""

    schema_dir: str = str(SCHEMA_DIR)
    thresholds_file: str = ""  # empty: data_platform/validation/drift_thresholds.yaml
    reports_dir: str = ""  # empty: DATA_PLATFORM_REPORTS (data/reports)
    min_rows: int = MIN_ROWS
    ks: bool = True  # exact two-sample KS in DuckDB, day over day, for numeric features


@dg.asset(
    key=ANOMALIES,
    partitions_def=daily_partitions,
    code_version="anomalies-1",
    ins={
        "stats": dg.AssetIn(
            FEATURE_STATS,
            dagster_type=dg.Nothing,
            # A day is judged against the statistics of the day before, the trailing 7 days and the schema's
            # reference window (fixed days, possibly long before), with the warm-up counted from the first
            # raw day, and the latest raw day not judged on volume: so a backfill judges a day once every day's
            # statistics are computed.
            partition_mapping=dg.AllPartitionMapping(),
        )
    },
    check_specs=[ERRORS_CHECK, WARNINGS_CHECK],
    **_COMMON,
    **WAREHOUSE_STEP,
)
def anomalies(context: dg.AssetExecutionContext, config: MonitoringConfig, warehouse: Warehouse):
    """Per day: drift against the day before and against the schema's reference window (L-infinity,
    Jensen-Shannon, PSI, KS, median/mean shift, missing-rate change), training/serving skew, schema
    anomalies (new/missing column, type change, unexpected values, out of range, presence drop) and
    row-count anomalies per event type against the trailing 7 days. WARN and ERROR rows go to
    monitoring.anomalies, every comparison to monitoring.drift, and a self-contained HTML report per day
    to data/reports/ (linked below)."""
    thresholds = load_thresholds(config.thresholds_file or None)
    reports = Path(config.reports_dir) if config.reports_dir else reports_root()
    clock = StageClock()
    report = PartitionReport(context)
    judged: dict[dt.date, dict] = {}  # per day: its anomalies, drift comparisons and HTML report
    with warehouse.connect() as con:
        run_sql(con, "validation/create_monitoring_tables.sql")
        first, latest = con.execute("SELECT min(event_date), max(event_date) FROM raw.events").fetchone()
        for _, window in report.windows:
            day = window["start_day"]
            drift_rows, found, current, reference = _judge_day(con, day, first, latest, config, thresholds)
            _save_day(con, day, drift_rows, found, context.run.run_id)
            moved = moved_features(con, day, drift_rows)
            html = render_report(f"Data report {day}", str(day), current, reference, drift_rows, found, moved)
            judged[day] = {
                "drift": drift_rows,
                "report": write_report(html, reports, f"data-report-{day}"),
                "found": rows(con, "validation/anomalies_in_range.sql", window),
            }
        schema = table_schema_of(con, "monitoring.anomalies")
    clock.lap("judge_s")
    report.describe(lambda window: {ANOMALIES: _anomalies_metadata(judged[window["start_day"]])})
    report.check(lambda window: _anomaly_checks(judged[window["start_day"]]["found"]))
    yield from report.results(
        [ANOMALIES],
        run_metadata={
            ANOMALIES: {
                "run_days": report.run_days,
                "run_stage_seconds": dg.MetadataValue.json(clock.laps),
                "dagster/column_schema": schema,
                "thresholds": thresholds.source,
            }
        },
    )


def _anomaly_rows(found: list[dict]) -> list[dict]:
    return [{k: str(a[k]) for k in ("day", "severity", "table_name", "kind", "feature", "detail")} for a in found]


def _anomalies_metadata(day: dict) -> dict:
    """One day's anomalies, counts and report (linked: the UI opens it)."""
    found, path = day["found"], day["report"].resolve()
    return {
        "dagster/row_count": len(found),
        "errors": sum(a["severity"] == "ERROR" for a in found),
        "warnings": sum(a["severity"] == "WARN" for a in found),
        "summary": dg.MetadataValue.md(
            summary_markdown(day["drift"], [{"table": a["table_name"], **a} for a in found])
        ),
        "anomalies": dg.MetadataValue.md(markdown_table(_anomaly_rows(found)[:50])),
        "report": dg.MetadataValue.path(str(path)),
        "report_url": dg.MetadataValue.url(path.as_uri()),
    }


def _anomaly_checks(found: list[dict]) -> list[dg.AssetCheckResult]:
    """No ERROR (fails with severity ERROR) and no WARN (severity WARN) anomaly on one day."""
    errors = [a for a in found if a["severity"] == "ERROR"]
    warnings = [a for a in found if a["severity"] == "WARN"]
    return [
        dg.AssetCheckResult(
            check_name=ERRORS_CHECK.name,
            passed=not errors,
            severity=dg.AssetCheckSeverity.ERROR,
            metadata={"errors": len(errors), "first": dg.MetadataValue.md(markdown_table(_anomaly_rows(errors)[:10]))},
            description=None
            if not errors
            else f"{len(errors)} ERROR anomalies: "
            + "; ".join(list(dict.fromkeys(f"{a['table_name']}.{a['feature']} {a['kind']}" for a in errors))[:6]),
        ),
        dg.AssetCheckResult(
            check_name=WARNINGS_CHECK.name,
            passed=not warnings,
            severity=dg.AssetCheckSeverity.WARN,
            metadata={"warnings": len(warnings)},
            description=None
            if not warnings
            else f"{len(warnings)} WARN anomalies: "
            + "; ".join(list(dict.fromkeys(f"{a['table_name']}.{a['feature']} {a['kind']}" for a in warnings))[:6]),
        ),
    ]


def _judge_day(con, day: dt.date, first_raw_day, latest_raw_day, config: MonitoringConfig, thresholds):
    """Drift rows, anomalies, and the statistics shown in the report, for one day.

    ``first_raw_day`` starts the warm-up of history features (not judged until their history is full,
    and compared with the trailing week rather than a reference window that may lie in the warm-up);
    ``latest_raw_day`` is still filling up with late events: its volume and presence are not judged."""
    first_raw_day = first_raw_day or day
    one = dt.timedelta(days=1)
    drift_rows: list[dict] = []
    found: list[dict] = []
    current_all, reference_all = [], []
    for monitored in MONITORED:
        table = monitored.table
        current = {r["feature"]: r for r in load_stats(con, table, day, day + one)}
        if not current:
            continue
        current_all += current.values()
        previous = {r["feature"]: r for r in load_stats(con, table, day - one, day)}
        schema = read_schema(table, Path(config.schema_dir))
        ref_days = _reference_window(schema, day)
        reference = _merged(load_stats(con, table, *ref_days))
        reference_all += reference.values()
        specs = {f.name: f for f in monitored.features}
        trailing = None
        today, yesterday = (table, day, day + one), (table, day - one, day)
        for name, row in current.items():
            base = {"table": table, "feature": name, "comparison": "day_over_day"}
            history = specs[name].history_days if name in specs else 0
            # day over day needs yesterday past the warm-up too
            if waiting := warming_up(base, first_raw_day, day - dt.timedelta(days=1), history):
                drift_rows.append(waiting)
                continue
            if name in previous:
                compared = compare(row, previous[name], table, "day_over_day", thresholds, config.min_rows)
                drift_rows += _sided(compared, today, yesterday)
            against, span = reference, (table, *ref_days)
            warm = first_raw_day + dt.timedelta(days=history)
            if history and ref_days[0] < warm:  # compare with the days since the warm-up instead
                span = (table, max(day - dt.timedelta(days=7), warm), day)
                trailing = trailing or _merged(load_stats(con, table, *span[1:]))
                against = trailing
            if name in against:
                compared = compare(row, against[name], table, "vs_reference", thresholds, config.min_rows)
                drift_rows += _sided(compared, today, span)
        if config.ks and previous:
            ks = _ks_rows(con, monitored, day, first_raw_day, current, previous, thresholds, config.min_rows)
            drift_rows += _sided(ks, today, yesterday)
        if schema is not None and table != SKEW[1] and (latest_raw_day is None or day < latest_raw_day):
            columns = [
                (r["column_name"], r["data_type"])
                for r in rows(
                    con, "validation/table_columns.sql", {"schema": table.split(".")[0], "table": table.split(".")[1]}
                )
            ]
            judged = [r for r in current.values() if r["count"] >= config.min_rows]
            found += [{**a, "table": table} for a in check_against_schema(schema, columns, judged)]
    drift_rows += _skew_rows(con, day, thresholds, config.min_rows)
    found += [
        {
            "table": r["table"],
            "kind": "skew" if r["comparison"] == "training_vs_serving" else "drift",
            "feature": r["feature"],
            "severity": r["severity"],
            "value": r["value"],
            "detail": f"{r['comparison']}: {r['metric']} {r['value']:.4g} (warn {r['warn']}, error {r['error']})"
            + _movers_text(r)
            + (f"; {r['note']}" if r.get("note") else ""),
        }
        for r in drift_rows
        if r["severity"] != "OK"
    ]
    if latest_raw_day is None or day < latest_raw_day:  # the newest day is still filling up: not judged
        counts = rows(con, "validation/volume_by_type.sql", {"start_day": day, "end_day": day + one})
        found += [{**a, "table": "raw.events"} for a in volume_anomalies(counts, day)]
    return drift_rows, found, current_all, reference_all


def _sided(drift_rows: list[dict], current: tuple, reference: tuple) -> list[dict]:
    """Drift rows with the spans they compared, (table, first day, end day), for the report's plots."""
    return [{**r, "sides": {"current": current, "reference": reference}} for r in drift_rows]


def _reference_window(schema: dict | None, day: dt.date) -> tuple[dt.date, dt.date]:
    """The schema's reference window when it lies before ``day``, else the 7 days before ``day``."""
    if schema is not None:
        start, end = (dt.date.fromisoformat(d) for d in schema["inferred_from"])
        if end <= day:
            return start, end
    return day - dt.timedelta(days=7), day


def _merged(stats: list[dict]) -> dict[str, dict]:
    by_feature: dict[str, list[dict]] = {}
    for r in stats:
        by_feature.setdefault(r["feature"], []).append(r)
    return {name: merge_stats(group) for name, group in by_feature.items()}


def _ks_rows(con, monitored, day, first_raw_day, current, previous, thresholds, min_rows) -> list[dict]:
    out = []
    relation = load_sql(
        "validation/ks_day_relation.sql", table=monitored.table, partition_column=monitored.partition_column
    ).strip()
    for spec in monitored.features:
        if (
            spec.kind != "numeric"
            or spec.name not in previous
            or day - dt.timedelta(days=1) < first_raw_day + dt.timedelta(days=spec.history_days)
        ):
            continue
        values = [side[spec.name]["count"] - side[spec.name]["missing"] for side in (current, previous)]
        if min(values) < min_rows:
            continue
        value = ks_statistic_sql(
            con,
            spec.sql,
            relation.replace("$day", "$day_a"),
            relation.replace("$day", "$day_b"),
            {"day_a": day, "day_b": day - dt.timedelta(days=1)},
        )
        warn, error = thresholds.limits(monitored.table, spec.name, "ks", kind="numeric")
        out.append(
            {
                "table": monitored.table,
                "feature": spec.name,
                "comparison": "day_over_day",
                "metric": "ks",
                "value": value,
                "warn": warn,
                "error": error,
                "severity": thresholds.severity(monitored.table, spec.name, "ks", value, kind="numeric"),
                "top_movers": [],
                "note": None,
            }
        )
    return out


def _skew_rows(con, day, thresholds, min_rows) -> list[dict]:
    """Training examples of the 7 days before ``day`` against what the serving model saw on ``day``."""
    training_table, serving_table = SKEW
    serving_span = (serving_table, day, day + dt.timedelta(days=1))
    serving = {r["feature"]: r for r in load_stats(con, *serving_span)}
    training_span = (training_table, day - dt.timedelta(days=7), day)
    training = _merged(load_stats(con, *training_span))
    out = []
    for name in skew_features():
        if name in serving and name in training:
            out += _sided(
                compare(
                    serving[name],
                    training[name],
                    training_table,
                    "training_vs_serving",
                    thresholds,
                    min_rows,
                    label=f"{training_table} vs serving",
                ),
                serving_span,
                training_span,
            )
    return out


def _movers_text(row: dict) -> str:
    movers = row.get("top_movers") or []
    if not movers:
        return ""
    m = movers[0]
    where = m.get("value", m.get("range"))
    return f"; moved most: {where} {m['reference_share']:.1%} -> {m['current_share']:.1%}"


def _save_day(con, day: dt.date, drift_rows: list[dict], found: list[dict], run_id: str) -> None:
    """Replace the day's rows of monitoring.drift and monitoring.anomalies in one transaction."""
    drift = [
        {
            "day": day,
            "table_name": r["table"],
            "feature": r["feature"],
            "comparison": r["comparison"],
            "metric": r["metric"],
            "value": r["value"],
            "warn": r["warn"],
            "error": r["error"],
            "severity": r["severity"],
            "top_movers": json.dumps(r.get("top_movers") or [], default=str),
            "note": r.get("note"),
            "run_id": run_id,
        }
        for r in drift_rows
    ]
    found_rows = [
        {
            "day": day,
            "table_name": a["table"],
            "kind": a["kind"],
            "feature": a["feature"],
            "severity": a["severity"],
            "value": a.get("value"),
            "detail": a["detail"],
            "run_id": run_id,
        }
        for a in found
    ]
    with transaction(con):
        run_sql(con, "validation/delete_day.sql", {"day": day}, table="monitoring.drift")
        run_sql(con, "validation/delete_day.sql", {"day": day}, table="monitoring.anomalies")
        write_rows(con, "monitoring.drift", drift, DRIFT_SCHEMA, replace=False)
        write_rows(con, "monitoring.anomalies", found_rows, ANOMALY_SCHEMA, replace=False)


DRIFT_SCHEMA = pa.schema(
    [
        ("day", pa.date32()),
        ("table_name", pa.string()),
        ("feature", pa.string()),
        ("comparison", pa.string()),
        ("metric", pa.string()),
        ("value", pa.float64()),
        ("warn", pa.float64()),
        ("error", pa.float64()),
        ("severity", pa.string()),
        ("top_movers", pa.string()),
        ("note", pa.string()),
        ("run_id", pa.string()),
    ]
)
ANOMALY_SCHEMA = pa.schema(
    [
        ("day", pa.date32()),
        ("table_name", pa.string()),
        ("kind", pa.string()),
        ("feature", pa.string()),
        ("severity", pa.string()),
        ("value", pa.float64()),
        ("detail", pa.string()),
        ("run_id", pa.string()),
    ]
)


# How a source's arrivals are measured: its table and date column (sources without one show "-").
MEASURED_BY = {"product_events": ("raw.events", "event_date"), "click_feedback": ("labels.ctr_examples", "event_date")}


@dg.asset(key=SOURCE_INVENTORY, deps=[RAW_EVENTS], code_version="sources-1", **_COMMON)
def source_inventory(warehouse: Warehouse) -> dg.MaterializeResult:
    """The data source inventory from data_platform/validation/sources.yaml: owner, refresh cadence
    (which sets the freshness policy of the asset it feeds), expected daily volume against the volume
    measured over the last 7 days of data, cost and time to collect, and whether it carries labels."""
    sources = load_sources()
    with warehouse.connect() as con:
        present = existing_tables(con)
        measured = {
            name: run_sql(con, "validation/source_volume.sql", table=table, date_column=column).fetchone()[0]
            for name, (table, column) in MEASURED_BY.items()
            if table in present
        }
    table = [
        {
            "source": s["name"],
            "owner": s["owner"],
            "feeds": s["feeds"],
            "refresh": s["refresh"],
            "expected_per_day": s["expected_daily_volume"],
            "measured_per_day": round(measured[s["name"]]) if measured.get(s["name"]) is not None else "-",
            "cost_eur_month": s["cost_per_month_eur"],
            "time_to_collect": s["time_to_collect"],
            "labeled": "yes" if s["labeled"] else "no",
        }
        for s in sources
    ]
    return dg.MaterializeResult(
        metadata={
            "dagster/row_count": len(sources),
            "dagster/column_schema": report_schema(table, "monitoring.source_inventory"),
            "inventory": dg.MetadataValue.md(markdown_table(table)),
            "labeled_sources": sum(bool(s["labeled"]) for s in sources),
        }
    )
