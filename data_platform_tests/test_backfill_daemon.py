"""The tests' daemon (``data_platform_tests/backfill_daemon.py``) paces Dagster's own backfill loop.

If a Dagster upgrade moved the constant the loop sleeps by, the tests' daemon would silently go back to 30 s
iterations (the daemon tests would pass, several minutes slower): this fails instead.
"""

from __future__ import annotations

import logging

from dagster._daemon import backfill, controller

from data_platform_tests.backfill_daemon import BACKFILL_LOOP_SECONDS, pace_backfill_loop


class _RecordedSleeps:
    """A shutdown event that records how long the loop asks to wait, and never waits."""

    def __init__(self):
        self.waits: list[float] = []

    def wait(self, seconds: float) -> bool:
        self.waits.append(seconds)
        return False

    def is_set(self) -> bool:
        return False


def _first_sleep_of_the_backfill_loop(monkeypatch) -> float:
    monkeypatch.setattr(backfill, "execute_backfill_iteration", lambda *args, **kwargs: iter(()))
    sleeps = _RecordedSleeps()
    for _ in backfill.execute_backfill_iteration_loop(None, logging.getLogger(__name__), sleeps):
        if sleeps.waits:
            return sleeps.waits[0]
    raise AssertionError("the backfill loop ended without sleeping")


def test_dagsters_backfill_loop_sleeps_30_s_and_the_tests_daemon_makes_it_a_few(monkeypatch):
    # the loop sleeps the interval minus what its iteration took (nothing here, but a busy machine may pause it)
    assert 20 < _first_sleep_of_the_backfill_loop(monkeypatch) <= 30
    monkeypatch.setattr(controller, "DEFAULT_DAEMON_INTERVAL_SECONDS", controller.DEFAULT_DAEMON_INTERVAL_SECONDS)
    pace_backfill_loop()
    assert 0 < _first_sleep_of_the_backfill_loop(monkeypatch) <= BACKFILL_LOOP_SECONDS
