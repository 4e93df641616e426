"""How often a stop of a running sensor is undone by the sensor daemon (docs/operations.md, "Stopping a sensor").

    PYTHONPATH=. python benchmarks/sensor_stop_race.py --cycles 60 [--stop dagster|data-platform]

Starts a PostgreSQL server (the Debian binaries, as ``test_production_postgres.py`` does), an instance on
``deploy/dagster.yaml`` and a real ``dagster-daemon`` running ``landing_sensor`` over an empty landing folder
(every tick skips). Each cycle waits until the daemon marks the start of a tick, waits a random 0 to 0.6 s
(the tick's own writes fall in there), stops the sensor, and 7 s later (more than one pass of the daemon's
5 s sensor loop) reads its status and counts the ticks that started after the stop; then starts it again as
``dagster sensor start`` does. ``--stop dagster`` stops with ``instance.stop_sensor`` (what ``dagster sensor
stop`` and the UI call), ``--stop data-platform`` with :func:`data_platform.launch.stop_sensor` (``data-platform
stop-sensor``). Prints one line a cycle and the count of stops that did not hold. Each cycle takes 10 to 20 s;
the result depends on the machine's load (printed on each line): run it beside the work it must survive.
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import tempfile
import time
from pathlib import Path

import dagster as dg
from dagster._core.scheduler.instigation import InstigatorStatus

from data_platform.launch import _sensor_origin, stop_sensor
from data_platform.resources import PROJECT_ROOT
from data_platform_tests.processes import BIN, PostgresServer, daemon, platform_env, postgres_bin, run_cli

SENSOR = "landing_sensor"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cycles", type=int, default=30)
    parser.add_argument("--stop", choices=("dagster", "data-platform"), default="dagster")
    args = parser.parse_args()
    bindir = postgres_bin()
    if bindir is None:
        raise SystemExit("needs the PostgreSQL server binaries (.ci/setup_postgres.sh)")
    root = Path(tempfile.mkdtemp(prefix="sensor-stop-race-"))
    server = PostgresServer(bindir).start()
    try:
        (root / "landing" / "events").mkdir(parents=True)
        env = platform_env(
            root,
            home=root / "home",
            dagster_yaml=PROJECT_ROOT / "deploy" / "dagster.yaml",
            DATA_PLATFORM_SENSORS="stopped",
            **server.env(),
        )
        os.environ.update({k: v for k, v in env.items() if k.startswith(("DAGSTER_", "DATA_PLATFORM_"))})
        run_cli([str(BIN / "dagster"), "sensor", "start", SENSOR, "-w", "workspace.yaml"], env)
        undone = _cycles(args.cycles, args.stop, env, root)
        print(f"{len(undone)} of {args.cycles} stops ({args.stop}) did not hold: cycles {undone}")
    finally:
        server.stop()
        shutil.rmtree(root, ignore_errors=True)


def _cycles(cycles: int, how: str, env: dict[str, str], root: Path) -> list[int]:
    from data_platform.definitions import defs

    origin = _sensor_origin(SENSOR)
    origin_id, selector_id = origin.get_id(), origin.get_selector().get_id()
    undone = []
    with daemon(env, root / "daemon.log") as service, dg.DagsterInstance.get() as instance:

        def state():
            return instance.get_instigator_state(origin_id, selector_id)

        for cycle in range(cycles):
            marked = state().instigator_data.last_tick_start_timestamp
            waited = time.monotonic()
            while state().instigator_data.last_tick_start_timestamp == marked:  # the daemon marked a tick start
                service.assert_alive()
                if time.monotonic() - waited > 120:
                    raise SystemExit("no tick in 120 s")
                time.sleep(0.005)
            offset = random.uniform(0, 0.6)
            time.sleep(offset)
            if how == "dagster":
                instance.stop_sensor(origin_id, selector_id, None)
                stops = 1
            else:
                stops = stop_sensor(instance, defs, SENSOR)
            stopped_at = time.time()
            time.sleep(7)
            after = state()
            late = [t for t in instance.get_ticks(origin_id, selector_id, limit=10) if t.timestamp > stopped_at]
            held = after.status == InstigatorStatus.STOPPED and not late
            print(
                f"cycle {cycle}: stopped {offset:.3f} s after a tick's start ({stops} stop(s)); 7 s later "
                f"{after.status.value}, {len(late)} tick(s) started since; load {os.getloadavg()[0]:.1f}",
                flush=True,
            )
            if not held:
                undone.append(cycle)
            data = after.instigator_data  # start again, as instance.start_sensor writes it
            instance.update_instigator_state(
                after.with_status(InstigatorStatus.RUNNING).with_data(data.with_sensor_start_timestamp(time.time()))
            )
    return undone


if __name__ == "__main__":
    main()
