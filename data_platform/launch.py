"""Running Dagster jobs from code the way a person does from a shell: ``dg launch``."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

from data_platform.resources import PROJECT_ROOT


def dg_launch(launch_args: list[str]) -> int:
    """Run ``dg launch <launch_args>`` with the current environment's instance (``DAGSTER_HOME``);
    print its time, or its output when it fails; return its exit code."""
    cmd = [str(Path(sys.executable).with_name("dg")), "launch", *launch_args]
    started = time.perf_counter()
    done = subprocess.run(cmd, cwd=PROJECT_ROOT, env=dict(os.environ), capture_output=True, text=True)
    if done.returncode != 0:
        print(done.stdout[-4000:], done.stderr[-8000:], sep="\n", file=sys.stderr)
        print(f"dg launch {' '.join(launch_args)} failed (exit {done.returncode})", file=sys.stderr)
        return done.returncode
    print(f"   done in {time.perf_counter() - started:.1f}s")
    return 0
