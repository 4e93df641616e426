"""Feature statistics computed in DuckDB against an independent numpy / Counter computation, and the
monitoring.feature_stats history table (write, replace, load)."""

from __future__ import annotations

import datetime as dt
import math
from collections import Counter

import duckdb
import numpy as np
import pytest

from data_platform.resources import load_sql
from data_platform.validation import DISCRETE_MAX, HIST_BINS, QHIST_BINS, QUANTILES, STATS_COLUMNS, TOP_K, FeatureSpec
from data_platform.validation.stats import (
    COMPUTED_COLUMNS,
    compute_feature_stats,
    equal_width_edges,
    load_stats,
    quantile_edges,
    write_feature_stats,
)

D0 = dt.date(2026, 11, 1)
DAYS = [D0, D0 + dt.timedelta(days=1), D0 + dt.timedelta(days=3)]  # no row on D0 + 2
OUTSIDE = D0 + dt.timedelta(days=5)  # rows there are outside the profiled range
START, END = D0, D0 + dt.timedelta(days=5)
WORDS = ["", "a", "é", "日本語", "emoji 👍🏽", "<b>&amp;</b>", "tab\tnew\nline", "x" * 40]

FEATURES = [
    FeatureSpec("amount", "numeric"),  # normal, one decimal: ties; NULLs and zeros
    FeatureSpec("small_int", "numeric"),  # 0..9: heavy ties, integer deciles
    FeatureSpec("on_edges", "numeric"),  # 0..20 integers with min 0, max 20: every value on an edge
    FeatureSpec("tenths", "numeric"),  # 0.0..2.0 by 0.1: values next to floating-point edges
    FeatureSpec("constant", "numeric"),  # one value: degenerate histograms
    FeatureSpec("null_on_d1", "numeric"),  # all NULL on the second day
    FeatureSpec("doubled", "numeric", "amount * 2 + 1"),  # an expression
    FeatureSpec("color", "categorical"),  # more than TOP_K values, skewed, ties, NULLs
    FeatureSpec("small_int_cat", "categorical", "small_int"),  # integers profiled as categories
    FeatureSpec("comment", "text"),  # NULLs, empty strings, unicode
]


def _build(con: duckdb.DuckDBPyConnection, seed: int = 7) -> list[dict]:
    rng = np.random.default_rng(seed)
    records = []
    for day, n in [(DAYS[0], 1500), (DAYS[1], 1100), (DAYS[2], 900), (OUTSIDE, 50)]:
        for i in range(n):
            amount = (
                None if rng.random() < 0.08 else (0.0 if rng.random() < 0.05 else round(float(rng.normal(20, 6)), 1))
            )
            color_index = int(rng.integers(0, 90) ** 2 // 90) if rng.random() < 0.9 else None
            records.append(
                {
                    "event_date": day,
                    "amount": amount,
                    "small_int": None if rng.random() < 0.05 else int(rng.integers(0, 10)),
                    "on_edges": 0 if i == 0 else (20 if i == 1 else int(rng.integers(0, 21))),
                    "tenths": round(int(rng.integers(0, 21)) * 0.1, 1),
                    "constant": 7.25,
                    "null_on_d1": None if day == DAYS[1] else float(rng.exponential(3)),
                    "color": None if color_index is None else f"c{color_index:02d}",
                    "comment": None if rng.random() < 0.1 else WORDS[int(rng.integers(0, len(WORDS)))],
                }
            )
    con.execute("CREATE SCHEMA IF NOT EXISTS clean")
    con.execute(
        "CREATE OR REPLACE TABLE clean.profiled (event_date DATE, amount DOUBLE, small_int INTEGER, on_edges BIGINT, "
        "tenths DOUBLE, constant DOUBLE, null_on_d1 DOUBLE, color VARCHAR, comment VARCHAR)"
    )
    cols = list(records[0])
    con.execute(
        "INSERT INTO clean.profiled SELECT " + ", ".join(f"unnest(${c})" for c in cols),
        {c: [r[c] for r in records] for c in cols},
    )
    return records


@pytest.fixture
def con():
    connection = duckdb.connect()
    connection.execute("SET TimeZone = 'UTC'")
    connection.execute("SET threads = 2")
    yield connection
    connection.close()


@pytest.fixture
def records(con):
    return _build(con)


def _values(records: list[dict], day: dt.date, feature: FeatureSpec) -> list:
    source = {"doubled": "amount", "small_int_cat": "small_int"}.get(feature.name, feature.name)
    out = []
    for r in records:
        if r["event_date"] != day:
            continue
        v = r[source]
        if feature.name == "doubled" and v is not None:
            v = v * 2 + 1
        out.append(v)
    return out


def _close(a, b, rel=1e-9) -> bool:
    return a == b or math.isclose(a, b, rel_tol=rel, abs_tol=1e-12)


def test_every_statistic_matches_an_independent_computation(con, records):
    stats = compute_feature_stats(con, "clean.profiled", FEATURES, "event_date", START, END)

    assert [(r["partition_date"], r["feature"]) for r in stats] == [
        (d, f.name) for d in DAYS for f in FEATURES
    ]  # no row for the empty day nor outside the range
    assert all(set(r) == set(COMPUTED_COLUMNS) for r in stats)
    by_key = {(r["partition_date"], r["feature"]): r for r in stats}
    for day in DAYS:
        for feature in FEATURES:
            row = by_key[(day, feature.name)]
            raw = _values(records, day, feature)
            assert row["table_name"] == "clean.profiled" and row["kind"] == feature.kind
            assert row["count"] == len(raw)
            assert row["missing"] == sum(v is None for v in raw)
            if feature.kind == "categorical":
                _check_categorical(row, [str(v) for v in raw if v is not None])
            else:
                values = [float(len(v)) if feature.kind == "text" else float(v) for v in raw if v is not None]
                _check_numeric(row, np.array(values), feature.kind)


def _check_numeric(row: dict, values: np.ndarray, kind: str = "numeric") -> None:
    counter = Counter(values.tolist())
    if kind == "numeric" and 0 < len(counter) <= DISCRETE_MAX:  # a discrete day: every value counted
        assert {float(v): n for v, n in zip(row["top_values"], row["top_counts"])} == counter
        assert row["top_counts"] == sorted(row["top_counts"], reverse=True)
        assert row["distinct_count"] == len(counter) and row["other_count"] == 0
    else:
        assert row["distinct_count"] is None and row["top_values"] is None and row["top_counts"] is None
        assert row["other_count"] is None
    assert row["zeros"] == int(np.sum(values == 0))
    if values.size == 0:
        assert row["min"] is None and row["max"] is None and row["mean"] is None and row["std"] is None
        assert row["quantiles"] is None and row["hist_edges"] is None and row["qhist_counts"] is None
        return
    assert row["min"] == values.min() and row["max"] == values.max()
    assert _close(row["mean"], float(values.mean()))
    if values.size > 1:
        assert _close(row["std"], float(np.std(values, ddof=1)))
    expected_q = np.quantile(values, QUANTILES, method="linear")
    assert len(row["quantiles"]) == len(QUANTILES)
    assert all(_close(a, float(b), rel=1e-12) for a, b in zip(row["quantiles"], expected_q))

    if values.min() == values.max():
        v = float(values.min())
        assert row["hist_edges"] == [v, v] and row["hist_counts"] == [values.size]
        assert row["qhist_edges"] == [v, v] and row["qhist_counts"] == [values.size]
        return
    # equal-width: numpy.linspace edges, numpy.histogram counts with those very edges
    assert row["hist_edges"] == np.linspace(values.min(), values.max(), HIST_BINS + 1).tolist()
    assert row["hist_counts"] == np.histogram(values, bins=np.array(row["hist_edges"]))[0].tolist()
    # quantile histogram: edges at the deciles (deduplicated), counts as numpy.histogram counts them
    edges = row["qhist_edges"]
    assert edges[0] == values.min() and edges[-1] == values.max()
    assert all(a < b for a, b in zip(edges, edges[1:])) and len(edges) <= QHIST_BINS + 1
    deciles = np.unique(np.quantile(values, np.linspace(0, 1, QHIST_BINS + 1), method="linear"))
    assert len(edges) == len(deciles)
    assert all(_close(a, float(b), rel=1e-12) for a, b in zip(edges, deciles))
    assert row["qhist_counts"] == np.histogram(values, bins=np.array(edges))[0].tolist()
    assert sum(row["hist_counts"]) == sum(row["qhist_counts"]) == values.size


def _check_categorical(row: dict, values: list[str]) -> None:
    for column in (
        "zeros",
        "min",
        "max",
        "mean",
        "std",
        "quantiles",
        "hist_edges",
        "hist_counts",
        "qhist_edges",
        "qhist_counts",
    ):
        assert row[column] is None, column
    counter = Counter(values)
    ranked = sorted(counter.items(), key=lambda kv: (-kv[1], kv[0]))[:TOP_K]
    assert row["distinct_count"] == len(counter)
    assert row["top_values"] == [v for v, _ in ranked]
    assert row["top_counts"] == [c for _, c in ranked]
    assert row["other_count"] == len(values) - sum(c for _, c in ranked)


def test_the_fixture_covers_the_hard_cases(con, records):
    stats = compute_feature_stats(con, "clean.profiled", FEATURES, "event_date", START, END)
    by_key = {(r["partition_date"], r["feature"]): r for r in stats}
    color = by_key[(DAYS[0], "color")]
    assert color["distinct_count"] > TOP_K and color["other_count"] > 0 and len(color["top_values"]) == TOP_K
    assert len(set(color["top_counts"])) < TOP_K  # ties, broken by value
    assert by_key[(DAYS[0], "amount")]["zeros"] > 0 and by_key[(DAYS[0], "amount")]["missing"] > 0
    assert by_key[(DAYS[1], "null_on_d1")]["missing"] == by_key[(DAYS[1], "null_on_d1")]["count"]
    comment = by_key[(DAYS[0], "comment")]
    assert comment["zeros"] > 0 and comment["missing"] > 0  # empty strings and NULLs
    assert comment["max"] == 40  # characters, not bytes: "日本語" is 3, "emoji 👍🏽" 8
    # integer ties: the quantile histogram's edges are the tied integers themselves, not an ulp away
    small = by_key[(DAYS[0], "small_int")]
    assert all(e == int(e) for e in small["qhist_edges"])
    # discrete days: 10 values counted; 21 values (on_edges, tenths) pass the estimate's margin, are
    # counted in scan 2, and are then one too many; a constant is one value, counted without scan 2
    assert small["distinct_count"] == 10 and sum(small["top_counts"]) == small["count"] - small["missing"]
    assert by_key[(DAYS[0], "on_edges")]["top_values"] is None and by_key[(DAYS[0], "tenths")]["top_values"] is None
    assert by_key[(DAYS[0], "constant")]["top_values"] == ["7.25"]


def test_days_without_rows_produce_nothing(con, records):
    assert (
        compute_feature_stats(
            con, "clean.profiled", FEATURES, "event_date", D0 + dt.timedelta(days=2), D0 + dt.timedelta(days=3)
        )
        == []
    )
    only_outside = compute_feature_stats(
        con, "clean.profiled", FEATURES[:2], "event_date", OUTSIDE, OUTSIDE + dt.timedelta(days=1)
    )
    assert {r["partition_date"] for r in only_outside} == {OUTSIDE}


def test_categorical_only_and_numeric_only_feature_sets(con, records):
    both = compute_feature_stats(con, "clean.profiled", FEATURES, "event_date", START, END)
    by_key = {(r["partition_date"], r["feature"]): r for r in both}
    for subset in ([FEATURES[7], FEATURES[8]], [FEATURES[4]], [FEATURES[0], FEATURES[9]]):
        alone = compute_feature_stats(con, "clean.profiled", subset, "event_date", START, END)
        assert alone == [by_key[(r["partition_date"], r["feature"])] for r in alone]
        assert len(alone) == len(DAYS) * len(subset)


def test_timestamp_partitions_are_cut_in_utc_and_inside_a_caller_transaction():
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    con.execute("CREATE TABLE events (ts TIMESTAMPTZ, x DOUBLE)")
    con.execute(
        "INSERT INTO events VALUES ('2026-11-01 23:59:59+00', 1), ('2026-11-02 00:00:00+00', 2), "
        "('2026-11-02 12:00:00+00', 4)"
    )
    con.execute("BEGIN TRANSACTION")
    stats = compute_feature_stats(con, "events", [FeatureSpec("x", "numeric")], "ts", "2026-11-01", "2026-11-03")
    con.execute("COMMIT")
    assert [(r["partition_date"], r["count"], r["mean"]) for r in stats] == [
        (dt.date(2026, 11, 1), 1, 1.0),
        (dt.date(2026, 11, 2), 2, 3.0),
    ]


@pytest.mark.parametrize("table", ["clean.events; DROP TABLE x", "a.b.c", "1abc", "clean events", ""])
def test_table_must_be_an_identifier(con, table):
    with pytest.raises(ValueError):
        compute_feature_stats(con, table, FEATURES, "event_date", START, END)


def test_guards(con, records):
    with pytest.raises(ValueError):
        compute_feature_stats(con, "clean.profiled", FEATURES, "event_date; --", START, END)
    with pytest.raises(ValueError):
        compute_feature_stats(
            con, "clean.profiled", [FeatureSpec("x", "numeric", "1; DROP TABLE y")], "event_date", START, END
        )
    with pytest.raises(ValueError):
        compute_feature_stats(con, "clean.profiled", [FEATURES[0], FEATURES[0]], "event_date", START, END)


def test_edge_helpers():
    assert equal_width_edges(0.0, 1.0, 4) == [0.0, 0.25, 0.5, 0.75, 1.0]
    assert equal_width_edges(3.0, 3.0) == [3.0, 3.0]
    # an interpolated tie an ulp off the integer snaps to it; duplicates go; the ends stay exact
    assert quantile_edges(
        1.0, 5.0, [1.0, 1.0, 2.0000000000000004, 1.9999999999999998, 3.0, 3.0, 3.0, 4.000000000000001, 5.0, 5.0, 5.0]
    ) == [1.0, 2.0, 3.0, 4.0, 5.0]
    third = 1 / 3
    edges = quantile_edges(0.0, 1.0, [0.0, third, third, third, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 1.0])
    assert edges[1] < third and math.isclose(edges[1], third, rel_tol=1e-14)  # moved down, never up


def test_stats_ddl_matches_stats_columns():
    con = duckdb.connect()
    con.execute(load_sql("validation/create_tables.sql"))
    con.execute("CREATE TABLE expected (" + ", ".join(f'"{n}" {t}' for n, t, _ in STATS_COLUMNS) + ")")
    columns = con.execute(
        "SELECT table_name, column_name, data_type FROM duckdb_columns() "
        "WHERE table_name IN ('feature_stats', 'expected') ORDER BY table_name, column_index"
    ).fetchall()
    actual = [(c, t) for table, c, t in columns if table == "feature_stats"]
    expected = [(c, t) for table, c, t in columns if table == "expected"]
    assert actual == expected and len(actual) == len(STATS_COLUMNS)


def _stored_key(row: dict) -> tuple:
    return row["table_name"], row["partition_date"], row["feature"]


def test_write_load_round_trip_and_replacing_days(con, records):
    stats = compute_feature_stats(con, "clean.profiled", FEATURES, "event_date", START, END)
    other_table = [dict(r, table_name="raw.profiled") for r in stats if r["partition_date"] == DAYS[0]]
    assert load_stats(con, "clean.profiled", START, END) == []  # nothing stored yet, nothing created

    assert write_feature_stats(con, stats + other_table, "run-1") == len(stats) + len(other_table)
    loaded = load_stats(con, "clean.profiled", START, END)
    assert [(r["partition_date"], r["feature"]) for r in loaded] == sorted(
        (r["partition_date"], r["feature"]) for r in stats
    )
    by_key = {_stored_key(r): r for r in stats}
    for r in loaded:
        assert {c: r[c] for c in COMPUTED_COLUMNS} == by_key[_stored_key(r)]  # lists as lists, exact floats
        assert r["run_id"] == "run-1" and r["computed_at"].tzinfo is not None

    # re-profile the first day only, with changed data: its rows are replaced, the others stay
    con.execute("DELETE FROM clean.profiled WHERE event_date = $d AND color = 'c00'", {"d": DAYS[0]})
    again = compute_feature_stats(
        con, "clean.profiled", FEATURES, "event_date", DAYS[0], DAYS[0] + dt.timedelta(days=1)
    )
    write_feature_stats(con, again, "run-2")
    loaded = load_stats(con, "clean.profiled", START, END)
    assert len(loaded) == len(stats)  # no duplicates
    assert {r["run_id"] for r in loaded if r["partition_date"] == DAYS[0]} == {"run-2"}
    assert {r["run_id"] for r in loaded if r["partition_date"] != DAYS[0]} == {"run-1"}
    new_count = {r["feature"]: r["count"] for r in again}
    assert all(r["count"] == new_count[r["feature"]] for r in loaded if r["partition_date"] == DAYS[0])
    assert new_count["color"] < by_key[("clean.profiled", DAYS[0], "color")]["count"]
    assert len(load_stats(con, "raw.profiled", START, END)) == len(other_table)  # other table untouched

    # a span re-profiled after a day lost all its rows: replace_span drops that day's old profile
    con.execute("DELETE FROM clean.profiled WHERE event_date = $d", {"d": DAYS[1]})
    span = compute_feature_stats(con, "clean.profiled", FEATURES, "event_date", START, END)
    write_feature_stats(con, span, "run-3", replace_span=("clean.profiled", START, END))
    loaded = load_stats(con, "clean.profiled", START, END)
    assert {r["partition_date"] for r in loaded} == {DAYS[0], DAYS[2]}
    assert {r["run_id"] for r in loaded} == {"run-3"}
    assert len(load_stats(con, "raw.profiled", START, END)) == len(other_table)


def test_failed_write_changes_nothing(con, records):
    stats = compute_feature_stats(con, "clean.profiled", FEATURES[:3], "event_date", START, END)
    write_feature_stats(con, stats, "run-1")
    broken = [dict(r, quantiles=["not a number"]) if i == len(stats) - 1 else r for i, r in enumerate(stats)]
    with pytest.raises(duckdb.Error):
        write_feature_stats(con, broken, "run-2")
    assert {r["run_id"] for r in load_stats(con, "clean.profiled", START, END)} == {"run-1"}
    with pytest.raises(ValueError):
        write_feature_stats(con, [{k: v for k, v in stats[0].items() if k != "mean"}], "run-3")


def test_a_tie_between_deciles_counts_in_the_bin_that_starts_at_it(con):
    # DuckDB 1.5 interpolates the 0.7 and 0.8 deciles of these 13 values (between two copies of 0.85
    # each) as 0.8500000000000001: taken as they are, the edge would sit above the three 0.85 and count
    # them in the bin below. The edge is the tied value itself.
    con.execute(
        "CREATE TABLE ties AS SELECT DATE '2026-11-01' AS d, unnest($v) AS x", {"v": [0.0] * 8 + [0.85] * 3 + [5.0] * 2}
    )
    (row,) = compute_feature_stats(con, "ties", [FeatureSpec("x", "numeric")], "d", START, END)
    edges, counts = row["qhist_edges"], row["qhist_counts"]
    assert 0.85 in edges and counts[edges.index(0.85)] == 3
    values = np.array([0.0] * 8 + [0.85] * 3 + [5.0] * 2)
    assert counts == np.histogram(values, bins=np.array(edges))[0].tolist()


def test_extreme_finite_values_are_profiled_not_a_failed_scan(con):
    # A price of 1e200 made STDDEV_SAMP overflow ("out of range") and fail the whole scan; two values
    # of 1.7e308 sum to inf. Mean and std come out as numpy computes them on the values scaled by 2^-600.
    days = {
        D0: [1e200, 1.0, 3.5],
        D0 + dt.timedelta(days=1): [1.7e308, 1.7e308, -1.7e308, 2.0],
        D0 + dt.timedelta(days=2): [1e144, -1e144, 5.0],
    }  # just under the wide threshold: plain std
    con.execute("CREATE TABLE huge (d DATE, x DOUBLE)")
    for day, values in days.items():
        con.execute("INSERT INTO huge SELECT $d, unnest($v)", {"d": day, "v": values})
    stats = compute_feature_stats(con, "huge", [FeatureSpec("x", "numeric")], "d", START, END)
    assert [r["partition_date"] for r in stats] == list(days)
    for row, values in zip(stats, days.values()):
        scaled = np.array(values) / 2.0**600
        assert row["min"] == min(values) and row["max"] == max(values)
        assert _close(row["mean"], float(scaled.mean()) * 2.0**600)
        assert _close(row["std"], float(np.std(scaled, ddof=1)) * 2.0**600)
        assert math.isfinite(row["std"]) and math.isfinite(row["mean"])
    assert stats[1]["hist_edges"] is None  # max - min overflows: no histogram, the rest is there
    assert sum(stats[0]["hist_counts"]) == 3 and stats[0]["quantiles"][3] == 3.5


def test_a_constant_has_its_own_value_as_mean_and_std_zero(con):
    # avg() over 10,000 copies of 0.1 is not 0.1: the daily means of a constant differed by an ulp,
    # which a pooled reference std of ~1e-17 then turned into a "mean shift" of many deviations.
    con.execute("CREATE TABLE flat AS SELECT DATE '2026-11-01' AS d, 0.1::DOUBLE AS x FROM range(10000)")
    assert con.execute("SELECT avg(x) <> 0.1 FROM flat").fetchone()[0]  # the float sum this guards against
    (row,) = compute_feature_stats(con, "flat", [FeatureSpec("x", "numeric")], "d", START, END)
    assert row["mean"] == 0.1 and row["std"] == 0.0 and row["hist_counts"] == [10000]


def test_category_ties_are_broken_by_code_point_order(con):
    values = ["é", "z", "Z", "ä", "日", "a b", "", "😀", "e\u0301"] * 3 + ["most"] * 4
    con.execute("CREATE TABLE cats AS SELECT DATE '2026-11-01' AS d, unnest($v) AS c", {"v": values})
    (row,) = compute_feature_stats(con, "cats", [FeatureSpec("c", "categorical")], "d", START, END)
    expected = sorted(Counter(values).items(), key=lambda kv: (-kv[1], kv[0]))
    assert list(zip(row["top_values"], row["top_counts"])) == expected
    assert row["distinct_count"] == len(set(values)) and row["other_count"] == 0
