"""The end-to-end benchmark's bookkeeping (no timing here): a stage's CPU from the process tree's samples,
and the per-stage linearity verdict judged on CPU seconds."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))

from bench_pipeline import verdicts  # noqa: E402
from measure import Measured  # noqa: E402


def _scale(events: int, stage_cpu: dict[str, float], peak: int = 1000) -> dict:
    stages = {stage: {"seconds": cpu * 3, "cpu_seconds": cpu, "peak_rss_mb": peak} for stage, cpu in stage_cpu.items()}
    return {
        "events": events,
        "ours": {"peak_rss_mb": peak, "stages": stages},
        "ours_vs_floor": 1.0,
        "pandas": {"finished": False, "why": "skipped"},
    }


def test_cpu_between_is_the_tree_cpu_at_the_end_minus_at_the_start():
    m = Measured(0, "", "", 10.0, cpu_samples=[(100.0, 1.0), (101.0, 1.5), (102.0, 4.0), (103.0, 4.25)])
    assert m.cpu_between(101.0, 102.96) == 2.75
    assert m.cpu_between(100.04, 100.05) == 0.0
    assert Measured(0, "", "", 1.0).cpu_between(0, 1) == 0.0


def test_a_stage_whose_cpu_grows_faster_than_the_events_fails_and_a_linear_one_passes():
    rows = verdicts(
        [_scale(1_000_000, {"clean": 10.0, "split": 5.0}), _scale(10_000_000, {"clean": 112.0, "split": 54.0})], None
    )
    by_stage = {t.split(":")[0]: (m, v) for t, m, v in rows if "the CPU seconds" in t}
    assert by_stage == {
        "clean": ("11.2x (10.0 -> 112.0 CPU s)", "FAIL"),
        "split": ("10.8x (5.0 -> 54.0 CPU s)", "PASS"),
    }


def test_no_linearity_verdict_for_a_stage_without_cpu_at_the_smallest_size():
    small = _scale(1_000_000, {"split": 5.0})
    del small["ours"]["stages"]["split"]["cpu_seconds"]
    rows = verdicts([small, _scale(3_000_000, {"split": 15.0})], None)
    assert not [t for t, _, _ in rows if "the CPU seconds" in t]


def _sized(events: int, vs_floor: float, pandas_vs_ours: float | None) -> dict:
    size = _scale(events, {"clean": events / 100_000})
    size["ours_vs_floor"] = vs_floor
    if pandas_vs_ours is not None:
        size["pandas"] = {"finished": True}
        size["pandas_vs_ours"] = pandas_vs_ours
    return size


def test_the_floor_and_pandas_targets_are_judged_at_every_size_and_the_stretch_only_from_10m():
    rows = verdicts([_sized(1_000_000, 1.9, 0.8), _sized(3_000_000, 2.3, 1.4)], None)
    judged = {t: v for t, _, v in rows}
    assert judged["ours within 2.0x of the DuckDB floor at 1,000,000"] == "PASS"
    assert judged["ours within 2.0x of the DuckDB floor at 3,000,000"] == "FAIL"
    assert judged["faster than the pandas baseline at 1,000,000"] == "FAIL"
    assert judged["faster than the pandas baseline at 3,000,000"] == "PASS"
    assert not [t for t in judged if t.startswith("stretch")]

    rows = verdicts([_sized(1_000_000, 1.9, None), _sized(10_000_000, 1.6, 3.0)], None)
    judged = {t: v for t, _, v in rows}
    assert judged["stretch: ours within 1.5x of the floor at 10,000,000"] == "FAIL"
    assert judged["faster than the pandas baseline at 1,000,000 (or pandas unable to finish)"] == "FAIL"


def test_a_tie_with_pandas_is_not_faster():
    rows = verdicts([_sized(1_000_000, 1.9, 1.0), _sized(3_000_000, 1.9, 1.01)], None)
    judged = {t: v for t, _, v in rows}
    assert judged["faster than the pandas baseline at 1,000,000"] == "FAIL"
    assert judged["faster than the pandas baseline at 3,000,000"] == "PASS"
