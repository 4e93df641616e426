"""Direct labels (labels/ctr_examples) run for real: ingestion, cleaning, labels over a temp DuckDB."""

from __future__ import annotations

import datetime as dt

import dagster as dg
import pytest

from data_platform.cleaning.assets import clean_layer
from data_platform.ingestion.assets import raw_ingestion
from data_platform.labeling import ctr_assets as ctr_assets_module
from data_platform.labeling.ctr_assets import (
    ctr_examples,
    late_click_sensor,
    stale_label_days,
)
from data_platform.labeling.direct import check_slice_rows, check_window, miscalibrated_models
from data_platform_tests.conftest import checks_by_name, event, query, write_lines
from data_platform_tests.test_cleaning import assert_runs_as_declared, record_statements

CHROME = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 Chrome/131.0 Safari/537.36"
ASSETS = [raw_ingestion, clean_layer, ctr_examples]


def run(warehouse, landing, partition, instance=None, assets=ASSETS, window_minutes=None, slice_rows=None):
    kwargs = (
        {"partition_key": partition}
        if isinstance(partition, str)
        else {
            "tags": {
                "dagster/asset_partition_range_start": partition[0],
                "dagster/asset_partition_range_end": partition[1],
            }
        }
    )
    config = {"attribution_window_minutes": window_minutes, "slice_rows": slice_rows}
    if config := {k: v for k, v in config.items() if v is not None}:
        kwargs["run_config"] = {"ops": {"labels__ctr_examples": {"config": config}}}
    result = dg.materialize(assets, resources={"warehouse": warehouse, "landing": landing}, instance=instance, **kwargs)
    assert result.success
    return result


def imp(n, ts, anon="dev-1", item="item-1", **kw):
    return event(
        f"ev-imp-{n}",
        "impression",
        ts=ts,
        anon_id=anon,
        impression_id=f"imp-{n}",
        item_id=item,
        user_agent=CHROME,
        **kw,
    )


def click(n, imp_n, ts, anon="dev-1", item="item-1"):
    return event(
        f"ev-click-{n}", "click", ts=ts, anon_id=anon, impression_id=f"imp-{imp_n}", item_id=item, user_agent=CHROME
    )


def labels(warehouse):
    return {
        r[0]: r[1:]
        for r in query(
            warehouse,
            "SELECT impression_id, label, label_status, clicks_on_impression FROM labels.ctr_examples ORDER BY 1",
        )
    }


def test_window_dedup_and_reasons(warehouse, landing):
    write_lines(
        landing.events_dir() / "a.jsonl",
        [
            imp(1, "2026-11-02T10:00:00Z"),
            click(1, 1, "2026-11-02T10:00:20Z"),
            click(2, 1, "2026-11-02T10:01:00Z"),
            imp(2, "2026-11-02T11:00:00Z"),
            click(3, 2, "2026-11-02T11:45:00Z"),  # 45 min: after the window
            imp(3, "2026-11-02T12:00:00Z"),
            click(4, 3, "2026-11-02T11:59:00Z"),  # before its impression
            imp(4, "2026-11-02T13:00:00Z"),
            imp(5, "2026-11-02T23:50:00Z"),  # window open at the end
            imp(6, "2026-11-02T14:00:00Z"),
            click(5, 6, "2026-11-02T14:29:59Z"),  # just inside
        ],
    )
    result = run(warehouse, landing, "2026-11-02")
    assert labels(warehouse) == {
        "imp-1": (1, "mature", 2),
        "imp-2": (0, "mature", 1),
        "imp-3": (0, "mature", 1),
        "imp-4": (0, "mature", 0),
        "imp-5": (0, "provisional", 0),
        "imp-6": (1, "mature", 1),
    }
    aside = query(warehouse, "SELECT click_event_id, reason FROM labels.unattributed_clicks ORDER BY 1")
    assert aside == [
        ("ev-click-2", "repeat_click"),
        ("ev-click-3", "after_window"),
        ("ev-click-4", "before_impression"),
    ]
    checks = checks_by_name(result)
    assert checks["ctr_examples_accounted"].passed
    meta = result.asset_materializations_for_node("labels__ctr_examples")[0].metadata
    assert meta["positives"].value == 2 and meta["provisional_labels"].value == 1
    # column lineage derived from the SQL, as Dagster and OpenLineage read it
    deps = meta["dagster/column_lineage"].value.deps_by_column
    assert [(d.asset_key.to_user_string(), d.column_name) for d in deps["impression_event_id"]] == [
        ("clean/events", "event_id")
    ]
    assert ("clean/events", "ts") in [(d.asset_key.to_user_string(), d.column_name) for d in deps["label"]]
    facet = meta["openlineage_column_lineage"].value
    assert facet["fields"]["impression_event_id"]["inputFields"] == [
        {"namespace": "duckdb", "name": "clean.events", "field": "event_id"}
    ]


def test_a_wider_window_from_run_config_changes_the_label(warehouse, landing):
    write_lines(landing.events_dir() / "a.jsonl", [imp(2, "2026-11-02T11:00:00Z"), click(3, 2, "2026-11-02T11:45:00Z")])
    run(warehouse, landing, "2026-11-02", window_minutes=60)
    # labelled 1, but the 60-minute window is still open given the data seen (last event 11:45)
    assert labels(warehouse)["imp-2"] == (1, "provisional", 1)
    with pytest.raises(ValueError):
        check_window(2 * 24 * 3600)


def test_features_are_point_in_time(warehouse, landing):
    """History counts only see events strictly before the impression, from the same person / item."""
    write_lines(
        landing.events_dir() / "a.jsonl",
        [
            imp(1, "2026-11-02T10:00:00Z"),
            click(1, 1, "2026-11-02T10:00:30Z"),
            imp(2, "2026-11-02T10:00:30Z"),  # same instant as the click: the click is not before it
            imp(3, "2026-11-02T10:05:00Z"),
            click(2, 3, "2026-11-02T10:06:00Z"),
            imp(4, "2026-11-02T10:10:00Z", anon="dev-2"),  # another person, same item
            imp(5, "2026-11-02T10:20:00Z", item="item-2"),  # same person, another item
        ],
    )
    run(warehouse, landing, "2026-11-02")
    got = {
        r[0]: r[1:]
        for r in query(
            warehouse,
            """
        SELECT impression_id, user_impressions_7d, user_clicks_7d, item_impressions_7d, item_clicks_7d
        FROM labels.ctr_examples""",
        )
    }
    assert got == {
        "imp-1": (0, 0, 0, 0),
        "imp-2": (1, 0, 1, 0),
        "imp-3": (2, 1, 2, 1),
        "imp-4": (0, 0, 3, 2),
        "imp-5": (3, 2, 0, 0),
    }


def test_an_impression_logged_twice_gives_one_example_from_its_first_event(warehouse, landing):
    """Two events of one impression_id on a day make one example, from the earliest (ts, then event_id);
    the other event still counts in the history of the person's later impressions."""

    def again(event_id, n, ts):
        return event(
            event_id,
            "impression",
            ts=ts,
            anon_id="dev-1",
            impression_id=f"imp-{n}",
            item_id="item-1",
            user_agent=CHROME,
        )

    write_lines(
        landing.events_dir() / "a.jsonl",
        [
            again("ev-9-late", 9, "2026-11-02T10:00:05Z"),
            again("ev-9-early", 9, "2026-11-02T10:00:00Z"),
            again("ev-8-b", 8, "2026-11-02T12:00:00Z"),  # same instant: the smaller event_id is the first
            again("ev-8-a", 8, "2026-11-02T12:00:00Z"),
            imp(10, "2026-11-02T13:00:00Z"),
        ],
    )
    result = run(warehouse, landing, "2026-11-02")
    got = query(
        warehouse,
        "SELECT impression_id, impression_event_id, strftime(impression_ts, '%H:%M:%S'), user_impressions_7d, "
        "item_impressions_7d FROM labels.ctr_examples ORDER BY 1",
    )
    assert got == [
        ("imp-10", "ev-imp-10", "13:00:00", 4, 4),
        ("imp-8", "ev-8-a", "12:00:00", 2, 2),
        ("imp-9", "ev-9-early", "10:00:00", 0, 0),
    ]
    assert checks_by_name(result)["ctr_examples_accounted"].passed


def test_history_reaches_back_seven_days_across_partitions(warehouse, landing):
    write_lines(
        landing.events_dir() / "a.jsonl",
        [
            imp(1, "2026-11-02T10:00:00Z"),
            click(1, 1, "2026-11-02T10:01:00Z"),
            imp(2, "2026-11-05T10:00:00Z"),
            imp(3, "2026-11-09T10:00:01Z"),  # imp-1 is 7 days and 1 s earlier: out of the window
        ],
    )
    run(warehouse, landing, ("2026-11-02", "2026-11-09"))
    got = dict(query(warehouse, "SELECT impression_id, user_impressions_7d FROM labels.ctr_examples"))
    assert got == {"imp-1": 0, "imp-2": 1, "imp-3": 1}


def test_history_features_match_a_python_recount_of_the_seven_days_before(warehouse, landing):
    """The 7-day counts (computed from per-day counts and one running sum over two days, not a 7-day frame)
    equal a plain recount: the clean events of the same person (item) with ts in [t - 7 days, t), for a
    range run over ten generated days and for a last day run alone on top of that history; with edges
    at exactly 7 days, 7 days + 1 s and the same instant."""
    from bisect import bisect_left
    from collections import defaultdict

    from data_platform.generator import generate_logs

    generate_logs(landing.root, start=dt.date(2026, 11, 2), days=10, events_per_day=1500, seed=5)
    write_lines(
        landing.events_dir() / "edges.jsonl",
        [
            imp(1, "2026-11-03T10:00:00Z", anon="dev-edge", item="item-edge"),
            click(1, 1, "2026-11-03T10:00:30Z", anon="dev-edge", item="item-edge"),
            imp(2, "2026-11-10T10:00:00Z", anon="dev-edge", item="item-edge"),  # imp-1 exactly 7 days before
            imp(3, "2026-11-10T10:00:31Z", anon="dev-edge", item="item-edge"),  # the click 7 days + 1 s before
            imp(4, "2026-11-10T10:00:31Z", anon="dev-edge", item="item-edge"),  # same instant as imp-3
        ],
    )
    run(warehouse, landing, ("2026-11-02", "2026-11-11"), assets=[raw_ingestion, clean_layer])
    run(warehouse, landing, ("2026-11-02", "2026-11-10"), assets=[ctr_examples])
    run(warehouse, landing, "2026-11-11", assets=[ctr_examples])

    history: dict[tuple[str, str, str], list] = defaultdict(list)
    for event_type, ts, person, item in query(
        warehouse,
        "SELECT event_type, ts, person_key, item_id FROM clean.events WHERE event_type IN ('impression', 'click')",
    ):
        history["person", person, event_type].append(ts)
        history["item", item, event_type].append(ts)
    for times in history.values():
        times.sort()

    def recount(kind, key, event_type, t):
        times = history.get((kind, key, event_type), [])
        return bisect_left(times, t) - bisect_left(times, t - dt.timedelta(days=7))

    examples = query(
        warehouse,
        "SELECT impression_id, impression_ts, person_key, item_id, user_impressions_7d, user_clicks_7d, "
        "item_impressions_7d, item_clicks_7d FROM labels.ctr_examples",
    )
    assert len(examples) > 5000
    assert {e[0]: e[4:] for e in examples if e[0].startswith("imp-")} == {
        "imp-1": (0, 0, 0, 0),
        "imp-2": (1, 1, 1, 1),
        "imp-3": (1, 0, 1, 0),
        "imp-4": (1, 0, 1, 0),
    }
    wrong = [
        e
        for e in examples
        if e[4:]
        != (
            recount("person", e[2], "impression", e[1]),
            recount("person", e[2], "click", e[1]),
            recount("item", e[3], "impression", e[1]),
            recount("item", e[3], "click", e[1]),
        )
    ]
    assert not wrong, wrong[:5]
    assert max(e[4] for e in examples) > 10  # the generated persons have a history to count


def test_a_late_click_flips_the_earlier_partition_through_the_sensor(warehouse, landing):
    with dg.instance_for_test() as instance:
        write_lines(
            landing.events_dir() / "day2.jsonl",
            [imp(1, "2026-11-02T23:50:00Z"), imp(2, "2026-11-02T12:00:00Z")],
            age_seconds=7200,
        )
        run(warehouse, landing, "2026-11-02", instance)
        assert labels(warehouse)["imp-1"] == (0, "provisional", 0)
        ctx = dg.build_sensor_context(instance=instance)
        assert isinstance(late_click_sensor(ctx), dg.SkipReason)

        # The click comes 10 minutes after midnight, in a file of the next day.
        write_lines(
            landing.events_dir() / "day3.jsonl",
            [click(1, 1, "2026-11-03T00:00:10Z"), imp(3, "2026-11-03T08:00:00Z")],
            age_seconds=60,
        )
        run(warehouse, landing, "2026-11-03", instance)
        assert labels(warehouse)["imp-1"] == (0, "provisional", 0)  # day 2 not re-run yet

        requests = late_click_sensor(dg.build_sensor_context(instance=instance))
        assert [r.partition_key for r in requests] == ["2026-11-02"]
        run(warehouse, landing, requests[0].partition_key, instance, assets=[ctr_examples])
        assert labels(warehouse)["imp-1"] == (1, "mature", 1)
        assert labels(warehouse)["imp-2"] == (0, "mature", 0)
        assert isinstance(late_click_sensor(dg.build_sensor_context(instance=instance)), dg.SkipReason)


def test_stale_label_days():
    keys = ["d1", "d2", "d3", "d4"]
    assert stale_label_days({"d1": 1, "d2": 5, "d3": 9}, {"d1": 3, "d2": 6, "d3": 10}, keys) == {"d1": 5, "d2": 9}
    assert stale_label_days({"d2": 5}, {}, keys) == {}  # never labelled: the daily pipeline's job


def test_calibration_warning_names_the_drifting_model():
    calibration = [
        {
            "breakdown": "model",
            "model_version": "m1",
            "impressions": 5000,
            "calibration_ratio": 1.05,
            "normalized_entropy": 0.9,
        },
        {
            "breakdown": "model",
            "model_version": "m2",
            "impressions": 5000,
            "calibration_ratio": 0.7,
            "normalized_entropy": 0.95,
        },
        {
            "breakdown": "model",
            "model_version": "m3",
            "impressions": 5000,
            "calibration_ratio": 1.0,
            "normalized_entropy": 1.2,
        },
        {
            "breakdown": "model",
            "model_version": "m4",
            "impressions": 10,
            "calibration_ratio": 3.0,
            "normalized_entropy": 2.0,
        },
        {
            "breakdown": "category",
            "model_version": "m1",
            "impressions": 5000,
            "calibration_ratio": 3.0,
            "normalized_entropy": 2.0,
        },
    ]
    assert [r["model_version"] for r in miscalibrated_models(calibration, 0.15, 1.0, 1000)] == ["m2", "m3"]


def test_calibration_on_generated_logs_matches_a_python_recount(warehouse, landing, tmp_path):
    from data_platform.generator import generate_logs

    generate_logs(landing.root, start=dt.date(2026, 11, 2), days=2, events_per_day=4000, seed=3)
    result = run(warehouse, landing, ("2026-11-02", "2026-11-03"))
    assert checks_by_name(result)["ctr_examples_accounted"].passed
    import math

    # the range run's materialization of each day carries that day's calibration (recounted here)
    by_day = {m.partition: m.metadata for m in result.asset_materializations_for_node("labels__ctr_examples")}
    assert sorted(by_day) == ["2026-11-02", "2026-11-03"]
    for day, meta in by_day.items():
        rows = query(
            warehouse,
            "SELECT model_version, label, predicted_ctr FROM labels.ctr_examples "
            "WHERE label_status = 'mature' AND event_date = ?",
            [day],
        )
        table = meta["calibration_by_model"].value
        for model in {r[0] for r in rows}:
            mine = [r for r in rows if r[0] == model]
            actual = sum(r[1] for r in mine) / len(mine)
            predicted = sum(r[2] for r in mine) / len(mine)
            loss = -sum(
                y * math.log(min(max(p, 1e-6), 1 - 1e-6)) + (1 - y) * math.log(1 - min(max(p, 1e-6), 1 - 1e-6))
                for _, y, p in mine
            ) / len(mine)
            assert (
                f"| {model} | * | {len(mine)} | {sum(r[1] for r in mine)} | {round(actual, 5)} | "
                f"{round(predicted, 5)} | {round(actual / predicted, 4)} | {round(loss, 5)} |" in table
            )
        assert (
            meta["dagster/row_count"].value
            == query(warehouse, "SELECT count(*) FROM labels.ctr_examples WHERE event_date = ?", [day])[0][0]
        )
    # the generator's late clicks (3% after 30 minutes) are kept aside, not lost
    assert sum(m["clicks_unattributed"].value.get("after_window", 0) for m in by_day.values()) > 0
    assert (
        query(warehouse, "SELECT count(*) FROM labels.ctr_examples")[0][0]
        == query(warehouse, "SELECT count(DISTINCT impression_id) FROM clean.events WHERE event_type = 'impression'")[
            0
        ][0]
    )


def test_ctr_lineage_comes_from_the_statements_a_labeled_day_runs(warehouse, landing, monkeypatch):
    """What labeling an impression day executes is the step list labels.ctr_examples' column lineage is
    derived from (after the table declarations), statement for statement."""
    from data_platform.catalog import STEPS

    write_lines(landing.events_dir() / "a.jsonl", [imp(1, "2026-11-02T10:00:00Z"), click(1, 1, "2026-11-02T10:00:20Z")])
    run(warehouse, landing, "2026-11-02", assets=[raw_ingestion, clean_layer])
    executed = record_statements(monkeypatch, ctr_assets_module, "label_ctr_days")  # as the asset calls it
    run(warehouse, landing, "2026-11-02", assets=[ctr_examples])
    declared = STEPS["labels.ctr_examples"]
    assert declared[0].name == "labeling/create_tables.sql"
    # label_ctr_days declares the tables, runs the day's statements, then counts the day's labels
    counts = {"labeling/ctr_summary.sql", "labeling/unattributed_by_reason.sql"}
    assert_runs_as_declared([p for p in executed if p[0] not in counts], declared)


def label_tables(warehouse):
    """Both label tables, row for row, without the run stamps."""
    return (
        query(
            warehouse,
            "SELECT * EXCLUDE (labeled_at, label_run_id) FROM labels.ctr_examples ORDER BY impression_id, event_date",
        ),
        query(
            warehouse,
            "SELECT * EXCLUDE (label_run_id) FROM labels.unattributed_clicks ORDER BY click_event_id, owner_date",
        ),
    )


def test_a_range_is_labelled_in_one_pass_exactly_as_each_day_alone(warehouse, landing):
    """A range run labels every day in one set-based pass; each day gets what a run of that day alone
    gives (its clicks, the impressions it can see, its data_seen_until), whatever the order of the days."""
    write_lines(
        landing.events_dir() / "a.jsonl",
        [
            imp(1, "2026-11-02T10:00:00Z"),
            click(1, 1, "2026-11-02T10:00:20Z"),
            click(2, 1, "2026-11-02T10:05:00Z"),  # repeat
            imp(2, "2026-11-02T23:50:00Z"),
            click(3, 2, "2026-11-03T00:05:00Z"),  # after midnight: labels day 2
            imp(3, "2026-11-03T00:01:00Z"),
            event("ev-imp-4a", "impression", ts="2026-11-03T09:00:00Z", impression_id="imp-4", item_id="item-1"),
            event("ev-imp-4b", "impression", ts="2026-11-04T09:00:00Z", impression_id="imp-4", item_id="item-1"),
            click(5, 4, "2026-11-04T09:10:00Z"),  # days 3 and 4 both match the first imp-4: after its window
            imp(5, "2026-11-04T12:00:00Z", anon="dev-2", item="item-2"),
            imp(6, "2026-11-05T08:00:00Z"),  # the lookahead day of day 4
        ],
    )
    ingest_range = ("2026-11-02", "2026-11-05")
    run(warehouse, landing, ingest_range, assets=[raw_ingestion, clean_layer])
    run(warehouse, landing, ("2026-11-02", "2026-11-04"), assets=[ctr_examples])
    in_one_pass = label_tables(warehouse)
    for day in ("2026-11-04", "2026-11-02", "2026-11-03"):
        run(warehouse, landing, day, assets=[ctr_examples])
    assert label_tables(warehouse) == in_one_pass

    aside = query(warehouse, "SELECT click_event_id, owner_date::VARCHAR, reason FROM labels.unattributed_clicks")
    assert sorted(aside) == [
        ("ev-click-2", "2026-11-02", "repeat_click"),
        ("ev-click-5", "2026-11-03", "after_window"),  # owned by day 3 only, though days 3 and 4 stage it
    ]
    got = query(
        warehouse,
        "SELECT impression_id, event_date::VARCHAR, label, strftime(data_seen_until, '%m-%d %H:%M') "
        "FROM labels.ctr_examples ORDER BY 1, 2",
    )
    assert got == [
        ("imp-1", "2026-11-02", 1, "11-03 09:00"),
        ("imp-2", "2026-11-02", 1, "11-03 09:00"),
        ("imp-3", "2026-11-03", 0, "11-04 12:00"),
        ("imp-4", "2026-11-03", 0, "11-04 12:00"),
        ("imp-4", "2026-11-04", 0, "11-05 08:00"),
        ("imp-5", "2026-11-04", 0, "11-05 08:00"),
    ]


def test_small_slices_label_exactly_as_one_slice(warehouse, landing, monkeypatch):
    """Ten generated days labelled in one slice, then again in slices of 700 impressions (person and item
    history by hash slices, examples by rowid ranges): both label tables are the same row for row, with
    an impression_id logged twice and a click at the edge of the window among them."""
    from data_platform.generator import generate_logs

    generate_logs(landing.root, start=dt.date(2026, 11, 2), days=10, events_per_day=1500, seed=8)

    def edge(event_id, event_type, ts):
        return event(
            event_id,
            event_type,
            ts=ts,
            anon_id="dev-edge",
            impression_id="imp-edge",
            item_id="item-edge",
            user_agent=CHROME,
        )

    write_lines(landing.events_dir() / "edge-a.jsonl", [edge("ev-edge-early", "impression", "2026-11-05T10:00:00Z")])
    write_lines(
        landing.events_dir() / "edge-b.jsonl",
        [
            edge("ev-edge-late", "impression", "2026-11-05T10:00:05Z"),  # the same impression_id again
            edge("ev-edge-click", "click", "2026-11-05T10:30:00Z"),  # 30 minutes after the first: in the window
        ],
    )
    days = ("2026-11-02", "2026-11-11")
    run(warehouse, landing, days, assets=[raw_ingestion, clean_layer])
    run(warehouse, landing, days, assets=[ctr_examples])
    whole = label_tables(warehouse)
    executed = record_statements(monkeypatch, ctr_assets_module, "label_ctr_days")
    run(warehouse, landing, days, assets=[ctr_examples], slice_rows=700)
    sliced = label_tables(warehouse)
    runs = [name for name, _ in executed]
    assert runs.count("labeling/insert_ctr_examples.sql") > 10  # many slices of examples
    assert runs.count("labeling/insert_ctr_history.sql") == 2 * runs.count("labeling/insert_ctr_examples.sql")
    assert len(whole[0]) > 10_000 and len(whole[1]) > 10
    assert sliced == whole
    assert query(
        warehouse,
        "SELECT impression_event_id, label, click_event_id FROM labels.ctr_examples WHERE impression_id = 'imp-edge'",
    ) == [("ev-edge-early", 1, "ev-edge-click")]


def test_slice_size_must_be_positive():
    with pytest.raises(ValueError, match="slice size"):
        check_slice_rows(0)
    assert check_slice_rows(1) == 1
