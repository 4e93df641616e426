"""Monitoring judgements on hand-made inputs: merged reference windows, volume anomalies, schema anomalies."""

from __future__ import annotations

import datetime as dt

import duckdb
import numpy as np
import pytest
from scipy.spatial.distance import jensenshannon

from data_platform.validation import FeatureSpec
from data_platform.validation.drift import load_thresholds
from data_platform.validation.monitor import compare, merge_stats, volume_anomalies
from data_platform.validation.schema import check_against_schema, infer_schema, read_schema, write_schema
from data_platform.validation.stats import compute_feature_stats

D = dt.date(2026, 11, 10)


def numeric_row(values, day=D, missing=0, bins=20):
    values = np.asarray(values, dtype=float)
    counts, edges = np.histogram(values, bins=bins)
    return {
        "table_name": "t",
        "feature": "x",
        "kind": "numeric",
        "partition_date": day,
        "count": len(values) + missing,
        "missing": missing,
        "zeros": int((values == 0).sum()),
        "min": values.min(),
        "max": values.max(),
        "mean": values.mean(),
        "std": values.std(ddof=1),
        "quantiles": list(np.quantile(values, [0.01, 0.05, 0.25, 0.5, 0.75, 0.95, 0.99])),
        "hist_edges": list(edges),
        "hist_counts": list(counts),
        "other_count": 0,
    }


def categorical_row(counts: dict, day=D, missing=0, other=0, feature="c"):
    ordered = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
    return {
        "table_name": "t",
        "feature": feature,
        "kind": "categorical",
        "partition_date": day,
        "count": sum(counts.values()) + missing + other,
        "missing": missing,
        "zeros": 0,
        "top_values": [k for k, _ in ordered],
        "top_counts": [v for _, v in ordered],
        "other_count": other,
        "distinct_count": len(counts) + (1 if other else 0),
    }


def test_merged_numeric_window_keeps_counts_mean_and_pooled_std():
    rng = np.random.default_rng(0)
    days = [rng.normal(10 + i, 2 + i / 3, 3000 + 500 * i) for i in range(5)]
    merged = merge_stats([numeric_row(v, missing=7) for v in days])
    everything = np.concatenate(days)
    assert merged["count"] == len(everything) + 35 and merged["missing"] == 35
    assert merged["mean"] == pytest.approx(everything.mean(), rel=1e-12)
    assert merged["std"] == pytest.approx(everything.std(ddof=1), rel=1e-9)
    assert sum(merged["hist_counts"]) == pytest.approx(len(everything))
    assert merged["min"] == everything.min() and merged["max"] == everything.max()
    # the median read off the merged histogram is close to the real one
    assert merged["quantiles"][3] == pytest.approx(np.median(everything), abs=0.15)


def test_merged_categorical_window_adds_counts():
    merged = merge_stats([categorical_row({"a": 5, "b": 3}), categorical_row({"b": 4, "c": 1}, other=2)])
    assert merged["top_values"] == ["b", "a", "c"] and merged["top_counts"] == [7, 5, 1]
    assert merged["count"] == 15 and merged["other_count"] == 2
    assert merge_stats([]) is None


def test_compare_judges_big_spans_and_notes_small_ones():
    thresholds = load_thresholds()
    base = categorical_row({"books": 900, "toys": 100, "garden": 1000})
    drifted = categorical_row({"books": 900, "toys": 800, "garden": 300})
    rows = compare(drifted, base, "clean.events", "day_over_day", thresholds, min_rows=1000)
    by_metric = {r["metric"]: r for r in rows}
    assert by_metric["linf"]["severity"] == "ERROR" and by_metric["linf"]["value"] == pytest.approx(0.35)
    assert by_metric["linf"]["top_movers"][0]["value"] == "toys"
    small = compare(categorical_row({"a": 5}), categorical_row({"b": 5}), "clean.events", "day_over_day", thresholds)
    assert [r["severity"] for r in small] == ["OK"] and "not judged" in small[0]["note"]


def _constant_days(values_by_day: dict[dt.date, tuple[float, int]]) -> list[dict]:
    """Real feature statistics rows (compute_feature_stats in DuckDB) of a feature that is one value a day."""
    con = duckdb.connect()
    con.execute("CREATE TABLE served (d DATE, score DOUBLE)")
    for day, (value, n) in values_by_day.items():
        con.execute("INSERT INTO served SELECT $d, $v FROM range($n)", {"d": day, "v": value, "n": n})
    return compute_feature_stats(
        con,
        "served",
        [FeatureSpec("score", "numeric")],
        "d",
        min(values_by_day),
        max(values_by_day) + dt.timedelta(days=1),
    )


def test_a_constant_that_stays_never_drifts_and_a_changed_constant_says_so():
    # A serving model logging one fixed prediction: 0.1 every day, a different number of rows a day.
    # The reference window used to get a pooled std of ~1e-17 and every day a mean_shift ERROR.
    week = {D - dt.timedelta(days=k): (0.1, 3000 + 137 * k) for k in range(1, 8)}
    stats = _constant_days({**week, D: (0.1, 4321), D + dt.timedelta(days=1): (0.25, 4000)})
    by_day = {r["partition_date"]: r for r in stats}
    reference = merge_stats([by_day[d] for d in week])
    assert reference["std"] == 0.0 and reference["mean"] == 0.1
    thresholds = load_thresholds()
    same = compare(by_day[D], reference, "t", "vs_reference", thresholds)
    assert {r["severity"] for r in same} == {"OK"} and same
    assert not {"mean_shift", "median_shift"} & {r["metric"] for r in same}
    assert same[0]["note"] == "constant 0.1 on both sides"
    changed = {
        r["metric"]: r for r in compare(by_day[D + dt.timedelta(days=1)], reference, "t", "vs_reference", thresholds)
    }
    assert "mean_shift" not in changed and "median_shift" not in changed  # no z-score of 10^15
    assert changed["jsd"]["severity"] == "ERROR" and changed["jsd"]["note"] == "constant changed: 0.1 -> 0.25"
    assert changed["jsd"]["value"] == pytest.approx(jensenshannon([1, 0, 0], [0, 0, 1], base=2) ** 2)
    assert {m["value"] for m in changed["jsd"]["top_movers"]} == {"0.1", "0.25"}  # a constant is one value


def test_a_constant_reference_with_float_noise_in_its_stored_means_is_still_a_constant():
    # Rows stored before a constant's mean was its value: daily means an ulp apart, a pooled std of ~1e-17.
    days = [
        dict(numeric_row([0.1] * 2000, day=D - dt.timedelta(days=k)), mean=0.1 + k * 2.0**-56, std=0.0)
        for k in range(1, 8)
    ]
    reference = merge_stats(days)
    assert 0 < reference["std"] < 1e-15
    rows = compare(numeric_row([0.1] * 2000), reference, "t", "vs_reference", load_thresholds())
    assert {r["severity"] for r in rows} == {"OK"}
    assert not {"mean_shift", "median_shift"} & {r["metric"] for r in rows}


def _profiled_days(draw, days: int = 8, feature: str = "x") -> list[dict]:
    """Real statistics rows (compute_feature_stats in DuckDB) of ``draw(rng, n)`` per day, D - 7 .. D."""
    rng = np.random.default_rng(11)
    con = duckdb.connect()
    con.execute(f"CREATE TABLE t (d DATE, {feature} DOUBLE)")
    for k in range(days):
        values = draw(rng, 3000 + 250 * k)
        con.execute("INSERT INTO t SELECT $d, unnest($v)", {"d": D - dt.timedelta(days=days - 1 - k), "v": values})
    return compute_feature_stats(
        con, "t", [FeatureSpec(feature, "numeric")], "d", D - dt.timedelta(days=days - 1), D + dt.timedelta(days=1)
    )


def test_a_binary_label_is_compared_on_its_shares_not_on_a_histogram_median():
    # A 0/1 label with median 0 every day used to get median_shift WARNs: the reference median was read
    # off the merged histogram, the current one was exact. Now both sides are discrete: linf, jsd and psi
    # on the exact shares of 0 and 1.
    stats = _profiled_days(lambda rng, n: (rng.random(n) < 0.05).astype(float).tolist(), feature="label")
    *week, today = stats
    assert today["top_values"] and today["distinct_count"] == 2
    reference = merge_stats(week)
    assert reference["distinct_count"] == 2 and sum(reference["top_counts"]) == sum(r["count"] for r in week)
    rows = compare(today, reference, "labels.ctr_examples", "vs_reference", load_thresholds())
    by_metric = {r["metric"]: r for r in rows}
    assert set(by_metric) == {"linf", "jsd", "psi", "missing_rate_delta"}  # no median_shift, no mean_shift
    assert {r["severity"] for r in rows} == {"OK"}
    share = lambda row: dict(zip(row["top_values"], row["top_counts"]))["1.0"] / (row["count"] - row["missing"])  # noqa: E731
    p, q = share(today), share(reference)
    assert by_metric["linf"]["value"] == pytest.approx(abs(p - q), abs=1e-15)
    assert by_metric["jsd"]["value"] == pytest.approx(jensenshannon([1 - p, p], [1 - q, q], base=2) ** 2, rel=1e-9)
    assert "discrete (2 values)" in by_metric["linf"]["note"]
    # a real change of the positive rate (5% -> 25%) is an ERROR on linf, with 1.0 as the value that moved
    jumped = _profiled_days(lambda rng, n: (rng.random(n) < 0.25).astype(float).tolist(), days=1, feature="label")[0]
    moved = {
        r["metric"]: r for r in compare(jumped, reference, "labels.ctr_examples", "vs_reference", load_thresholds())
    }
    assert moved["linf"]["severity"] == "ERROR" and moved["linf"]["top_movers"][0]["value"] in ("0.0", "1.0")


def test_a_merged_reference_median_is_compared_with_a_median_read_the_same_way():
    # A count that is 0 on 97% of rows and otherwise 1..30 (more values than a discrete feature has): the
    # exact median is 0, the one read off a 20-bin histogram ~0.8; mixing the two made a shift of ~-0.3
    # reference stds (a WARN) between two samples of the same distribution.
    draw = lambda rng, n: np.where(rng.random(n) < 0.97, 0, rng.integers(1, 31, n)).astype(float).tolist()  # noqa: E731
    *week, today = _profiled_days(draw)
    assert today["top_values"] is None and today["quantiles"][3] == 0.0
    reference = merge_stats(week)
    assert reference["quantiles_exact"] is False and reference["quantiles"][3] > 0.5
    rows = {r["metric"]: r for r in compare(today, reference, "t", "vs_reference", load_thresholds())}
    mixed = (today["quantiles"][3] - reference["quantiles"][3]) / reference["std"]
    assert mixed < -0.25  # what the old comparison reported
    assert abs(rows["median_shift"]["value"]) < 0.05 and rows["median_shift"]["severity"] == "OK"


def volume(day_rows: dict[int, int], event_type="click"):
    return [{"day": D - dt.timedelta(days=back), "event_type": event_type, "rows": n} for back, n in day_rows.items()]


def test_volume_sudden_drop_and_spike():
    steady = {b: 1000 + 10 * b for b in range(1, 8)}
    assert volume_anomalies(volume({0: 1000, **steady}), D) == []
    drop = volume_anomalies(volume({0: 300, **steady}), D)
    assert [(a["kind"], a["feature"], a["severity"]) for a in drop] == [
        ("volume", "click", "ERROR"),
        ("volume", "*", "ERROR"),
    ]
    spike = volume_anomalies(volume({0: 1500, **steady}), D)
    assert {a["severity"] for a in spike} == {"WARN"}


def test_volume_slow_trend_and_too_little_history():
    rising = {7: 600, 6: 650, 5: 700, 4: 750, 3: 1000, 2: 1050, 1: 1100}
    found = volume_anomalies(volume({0: 1100, **rising}), D)
    assert [(a["kind"], a["severity"]) for a in found if a["feature"] == "click"] == [("volume_trend", "WARN")]
    assert volume_anomalies(volume({0: 10, 1: 1000, 2: 1000}), D) == []  # 2 days of history: not judged


def test_a_type_that_vanishes_counts_as_zero():
    rows = volume({b: 1000 for b in range(1, 8)}) + volume({b: 500 for b in range(0, 8)}, event_type="login")
    found = volume_anomalies(rows, D)
    assert ("click", "ERROR") in {(a["feature"], a["severity"]) for a in found}


def test_schema_inference_and_every_anomaly_kind(tmp_path):
    reference = [numeric_row(np.linspace(1, 100, 2000), day=D - dt.timedelta(days=i)) for i in (1, 2)] + [
        categorical_row({"ios": 500, "web": 500}, day=D - dt.timedelta(days=i), missing=20, feature="device")
        for i in (1, 2)
    ]
    columns = [("x", "DOUBLE"), ("device", "VARCHAR"), ("gone", "BIGINT")]
    schema = infer_schema("t.t", columns, reference, D - dt.timedelta(days=2), D)
    path = write_schema(schema, tmp_path)
    assert path.read_text().startswith("# Inferred schema of t.t")
    again = read_schema("t.t", tmp_path)
    assert again == schema and again["features"]["device"]["domain"] == ["ios", "web"]
    assert again["features"]["x"]["range"] == [1.0, 100.0]
    assert again["features"]["device"]["min_presence"] == pytest.approx(1000 / 1020, abs=1e-4)

    today_columns = [("x", "BIGINT"), ("device", "VARCHAR"), ("extra", "JSON")]
    today = [
        numeric_row(np.concatenate([np.linspace(1, 100, 1900), np.full(100, 10_000.0)])),
        categorical_row({"ios": 400, "web": 300, "android": 300}, missing=600, feature="device"),
    ]
    found = {(a["kind"], a["feature"]): a["severity"] for a in check_against_schema(again, today_columns, today)}
    assert found == {
        ("new_column", "extra"): "ERROR",
        ("missing_column", "gone"): "ERROR",
        ("type_change", "x"): "ERROR",
        ("out_of_range", "x"): "ERROR",
        ("unexpected_values", "device"): "ERROR",
        ("presence_drop", "device"): "ERROR",
    }
    assert check_against_schema(again, columns, reference[:1] + reference[2:3]) == []
