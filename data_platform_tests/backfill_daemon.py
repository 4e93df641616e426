"""``dagster-daemon`` for the tests: Dagster's own daemon, its backfill loop every few seconds instead of 30.

Dagster's backfill daemon sleeps a fixed 30 s between iterations (``DEFAULT_DAEMON_INTERVAL_SECONDS``; no
setting changes it: dagster-io/dagster#11649), and an asset backfill launches the runs whose parents are done
only at its next iteration. A test's backfill of a few short runs over several dependency waves spends most of
its time in that sleep (the lake's parallel backfill: 5 waves). This entry point sets the constant to
:data:`BACKFILL_LOOP_SECONDS` (:func:`pace_backfill_loop`), then runs ``dagster-daemon``'s own command line:
the same daemons, run queue, pools and storage. The constant also paces Dagster's asset daemon, which has
nothing to do here (no asset of the project has an automation condition). Production runs ``dagster-daemon``.

Run as ``python -m data_platform_tests.backfill_daemon run -w workspace.yaml`` (``processes.daemon``).
"""

from __future__ import annotations

BACKFILL_LOOP_SECONDS = 5


def pace_backfill_loop(seconds: float = BACKFILL_LOOP_SECONDS) -> None:
    """Make the backfill daemon of this process iterate every ``seconds`` (Dagster reads the constant from its
    controller module at each iteration: ``test_backfill_daemon.py`` checks that it still does)."""
    from dagster._daemon import controller

    controller.DEFAULT_DAEMON_INTERVAL_SECONDS = seconds


if __name__ == "__main__":
    from dagster._daemon.cli import main

    pace_backfill_loop()
    main()
