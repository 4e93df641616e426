"""The peer rule of the process tests (data_platform_tests/processes.py): a test whose peer is missing
is skipped on a developer's machine, with the reason listed, and fails under ``CI=true``."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from data_platform.resources import PROJECT_ROOT

pytestmark = pytest.mark.slow  # each case runs pytest in a process

SUITE = """
from data_platform_tests.processes import requires_peer

@requires_peer(False, "the frobnicator (/usr/bin/frob)", "run setup_frob.sh")
def test_needs_a_missing_peer():
    pass

@requires_peer(True, "a present peer", "nothing to do")
def test_needs_a_present_peer():
    pass
"""


def _run_suite(tmp_path: Path, ci: str | None) -> subprocess.CompletedProcess:
    (tmp_path / "conftest.py").write_text(
        "from data_platform_tests.conftest import pytest_collection_modifyitems, pytest_runtest_setup  # noqa\n"
    )
    (tmp_path / "test_suite.py").write_text(SUITE)
    env = {k: v for k, v in os.environ.items() if k != "CI"}
    env["PYTHONPATH"] = os.pathsep.join([str(PROJECT_ROOT), env.get("PYTHONPATH", "")])
    if ci is not None:
        env["CI"] = ci
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-rs",
            "-p",
            "no:cacheprovider",
            "-p",
            "no:randomly",
            "-o",
            "markers=peer: needs a real peer",
            str(tmp_path),
        ],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


@pytest.mark.parametrize("ci", [None, "false"])
def test_a_missing_peer_is_a_listed_skip_outside_ci(tmp_path, ci):
    done = _run_suite(tmp_path, ci)
    assert done.returncode == 0, done.stdout
    assert "1 passed, 1 skipped" in done.stdout
    assert "SKIPPED [1] test_suite.py:4: the frobnicator (/usr/bin/frob) is missing: run setup_frob.sh" in done.stdout


@pytest.mark.parametrize("ci", ["true", "1"])
def test_a_missing_peer_fails_the_run_under_ci(tmp_path, ci):
    done = _run_suite(tmp_path, ci)
    assert done.returncode == 1, done.stdout
    assert "1 passed, 1 error" in done.stdout
    assert "CI=true and the frobnicator (/usr/bin/frob) is missing: run setup_frob.sh" in done.stdout


@pytest.mark.parametrize(
    ("load", "wall_seconds_to_pass"),
    [(0.5, 100), (2.0, 100), (4.0, 200), (8.0, 400)],  # on 2 cores: half the machine at load 4
)
def test_a_fair_share_deadline_counts_wall_seconds_at_the_machines_share(monkeypatch, load, wall_seconds_to_pass):
    """A 100 s deadline passes after 100 wall seconds on a quiet machine and after cores / load times as many on
    a busy one (a fake clock and load average: nothing here sleeps)."""
    from data_platform_tests import processes

    now = [1000.0]
    monkeypatch.setattr(processes.time, "monotonic", lambda: now[0])
    monkeypatch.setattr(processes.os, "getloadavg", lambda: (load, load, load))
    monkeypatch.setattr(processes.FairShareDeadline, "CORES", 2)
    deadline = processes.FairShareDeadline(100)
    passed_at = None
    for second in range(1, 1000):
        now[0] = 1000.0 + second
        if deadline.passed():
            passed_at = second
            break
    assert passed_at == wall_seconds_to_pass + 1  # passed once more than 100 s have counted


TIMED_SUITE = """
import time

def test_sleeps_three_seconds():
    time.sleep(3)
"""


@pytest.mark.parametrize(("load", "passes"), [(1.0, False), (8.0, True)])
def test_the_per_test_timeout_counts_the_machines_fair_share(tmp_path, load, passes):
    """conftest's pytest_timeout_set_timer: a test of 3 wall seconds under a 2 s limit fails on a quiet machine
    (load 1 on 2 cores) with pytest-timeout's message, and passes at load 8 (a quarter of the machine: 2 s of
    fair share take 8 wall seconds). The load average is faked in the inner run."""
    (tmp_path / "conftest.py").write_text(
        "import os\n"
        "from data_platform_tests import conftest, processes\n"
        "from data_platform_tests.conftest import pytest_timeout_set_timer  # noqa: F401\n"
        "conftest.TIMEOUT_POLL_SECONDS = 0.1\n"
        "processes.FairShareDeadline.CORES = 2\n"
        f"os.getloadavg = lambda: ({load}, {load}, {load})\n"
    )
    (tmp_path / "test_timed.py").write_text(TIMED_SUITE)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(PROJECT_ROOT), os.environ.get("PYTHONPATH", "")])}
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-o", "timeout=2", str(tmp_path)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    if passes:
        assert done.returncode == 0 and "1 passed" in done.stdout, done.stdout
    else:
        assert done.returncode == 1 and "Failed: Timeout (>2.0s) from pytest-timeout" in done.stdout, done.stdout


def test_the_s3_server_leaves_no_folder_behind():
    from data_platform_tests.processes import S3Server

    server = S3Server().start()
    folder = server.log.parent
    try:
        assert server.keys("") == [] and server.log.exists()  # it answers, and logs into a folder of its own
    finally:
        server.stop()
    assert not folder.exists()
