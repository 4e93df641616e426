"""The retraining signal run for real: publish a CTR version over clean days, let more days arrive,
and check that clean days recommend no refresh while the category drift incident does, with the
drift as its reason; then the retraining sensor fires the training trigger once per version."""

from __future__ import annotations

import datetime as dt
import json

import dagster as dg
import pytest

from data_platform.cleaning.assets import CLEANING_ASSETS
from data_platform.flywheel.assets import TRIGGERS, retraining_sensor, retraining_signal, triggers_to_fire
from data_platform.flywheel.signal import Decision, SignalThresholds, decide, two_proportion_z
from data_platform.ingestion.assets import raw_ingestion
from data_platform.labeling.ctr_assets import ctr_examples
from data_platform.splits.assets import SPLIT_ASSETS, build_export_asset, ctr_train_balanced
from data_platform.splits.split import CTR
from data_platform.validation.assets import feature_stats
from data_platform_tests.conftest import generated_world, query

DAILY = [raw_ingestion, *CLEANING_ASSETS, ctr_examples, feature_stats]


def _range(first: str, last: str) -> dict:
    return {"dagster/asset_partition_range_start": first, "dagster/asset_partition_range_end": last}


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    """Days 11-02..11-07 generated with category drift from 11-07; a CTR version published over
    11-02..11-05, then the later days processed."""
    root = tmp_path_factory.mktemp("signal")
    mp = pytest.MonkeyPatch()
    mp.setenv("DATA_PLATFORM_EXPORTS", str(root / "exports"))
    landing, warehouse, _ = generated_world(
        root, days=6, events_per_day=5000, seed=21, incidents=["category_drift@2026-11-07"]
    )
    resources = {"warehouse": warehouse, "landing": landing}
    with dg.instance_for_test() as instance:
        # the published version: clean days 11-02..11-05 (11-06 read only as the last day's lookahead)
        assert dg.materialize(
            DAILY, resources=resources, instance=instance, tags=_range("2026-11-02", "2026-11-05")
        ).success
        assert dg.materialize(
            [SPLIT_ASSETS[0], ctr_train_balanced, build_export_asset(CTR)], resources=resources, instance=instance
        ).success
        # the days after it
        assert dg.materialize(
            DAILY, resources=resources, instance=instance, tags=_range("2026-11-06", "2026-11-08")
        ).success
        yield {"warehouse": warehouse, "resources": resources, "instance": instance}
    mp.undo()


def _signal(world, day: str) -> dict:
    result = dg.materialize(
        [retraining_signal], resources=world["resources"], instance=world["instance"], partition_key=day
    )
    assert result.success
    rows = query(
        world["warehouse"],
        "SELECT dataset, version, refresh, reasons, figures, note FROM monitoring.retraining_signal WHERE day = ?",
        [dt.date.fromisoformat(day)],
    )
    return {
        r[0]: {"version": r[1], "refresh": r[2], "reasons": json.loads(r[3]), "figures": json.loads(r[4]), "note": r[5]}
        for r in rows
    }


def test_clean_days_do_not_ask_for_a_refresh_and_the_drift_incident_does(world):
    inside = _signal(world, "2026-11-04")["ctr_examples"]
    assert not inside["refresh"] and "inside the published version" in inside["note"]

    clean = _signal(world, "2026-11-06")
    ctr = clean["ctr_examples"]
    assert ctr["version"] is not None
    assert not ctr["refresh"], ctr["reasons"]  # a clean day after the version: nothing to do
    assert ctr["figures"]["features_judged"] >= 6  # the features were judged, not skipped
    assert 0 < ctr["figures"]["new_label_share"] < 0.5
    assert abs(ctr["figures"]["calibration_ratio_new"] / ctr["figures"]["calibration_ratio_version"] - 1) < 0.15
    assert not clean["review_examples"]["refresh"]  # no review version published in this test
    assert clean["review_examples"]["note"] == "no published version yet"

    drifted = _signal(world, "2026-11-07")["ctr_examples"]
    assert drifted["refresh"]
    drift = [r for r in drifted["reasons"] if r["reason"] == "feature_drift"]
    assert drift and "category" in drift[0]["features"], drifted["reasons"]
    assert "category on 2026-11-07" in drift[0]["detail"]

    # the sensor turns the recommendation into one trigger event per published version, and asks for the
    # signal of the day whose statistics changed after publication but was never judged (11-08)
    context = dg.build_sensor_context(instance=world["instance"])
    result = retraining_sensor(context)
    assert isinstance(result, dg.SensorResult)
    assert [r.partition_key for r in result.run_requests] == ["2026-11-08"]
    (event,) = result.asset_events
    assert event.asset_key == TRIGGERS["ctr_examples"]
    assert event.metadata["version"].value == drifted["version"] and "feature_drift" in event.metadata["reasons"].value
    world["instance"].report_runless_asset_event(event)
    _signal(world, "2026-11-08")
    again = retraining_sensor(dg.build_sensor_context(instance=world["instance"]))
    assert isinstance(again, dg.SkipReason)  # every day judged, and already triggered for this version


def test_days_to_judge():
    from data_platform.flywheel.assets import days_to_judge

    stats = {"2026-11-01": 10, "2026-11-02": 30, "2026-11-03": 40}
    assert days_to_judge(stats, {"2026-11-02": 35}, published_at=20) == {"2026-11-03": 40}
    assert days_to_judge(stats, {}, published_at=None) == {}


def test_decide_combines_the_reasons():
    t = SignalThresholds()
    quiet = decide(
        Decision("ctr_examples", "2026-11-09", "v1"),
        t,
        feature_drift=[
            {
                "feature": "price_eur",
                "metric": "jsd",
                "value": 0.01,
                "error": 0.15,
                "severity": "OK",
                "day": "2026-11-09",
            }
        ],
        label={"current": (700, 10_000), "reference": (6_900, 100_000)},
        new_labels={"new": 10_000, "reference": 100_000},
        calibration={"rows": 10_000, "current": (1.01, 0.9), "reference": (1.0, 0.9)},
    )
    assert not quiet.refresh and quiet.reasons == []
    loud = decide(
        Decision("ctr_examples", "2026-11-09", "v1"),
        t,
        label={"current": (1_000, 10_000), "reference": (6_900, 100_000)},
        new_labels={"new": 60_000, "reference": 100_000},
        calibration={"rows": 10_000, "current": (1.3, 0.9), "reference": (1.0, 0.9)},
    )
    assert loud.refresh and {r["reason"] for r in loud.reasons} == {"label_drift", "new_labels", "calibration"}
    # the z statistic is the textbook pooled two-proportion test
    p = (1_000 + 6_900) / 110_000
    z = (0.1 - 0.069) / (p * (1 - p) * (1 / 10_000 + 1 / 100_000)) ** 0.5
    assert two_proportion_z(1_000, 10_000, 6_900, 100_000) == pytest.approx(z)
    events = triggers_to_fire(
        [loud.as_dict(), quiet.as_dict() | {"dataset": "review_examples"}], {"ctr_examples": "v0"}
    )
    assert [e.asset_key for e in events] == [TRIGGERS["ctr_examples"]]
    assert triggers_to_fire([loud.as_dict()], {"ctr_examples": "v1"}) == []
