"""Measuring a command the way the benchmarks report it: wall seconds and the resident memory of its whole
process tree over time, sampled from /proc (Linux)."""

from __future__ import annotations

import os
import resource
import signal
import subprocess
import threading
import time
from dataclasses import dataclass, field

PAGE = os.sysconf("SC_PAGE_SIZE")
TICK = os.sysconf("SC_CLK_TCK")


def tree_usage(pid: int) -> tuple[int, float]:
    """Resident bytes and CPU seconds so far (user + system, with those of the descendants already waited
    for) of a process and all its live descendants, from /proc."""
    children: dict[int, list[int]] = {}
    usage: dict[int, tuple[int, float]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as fh:
                fields = fh.read().rsplit(")", 1)[1].split()
            ppid, pages = int(fields[1]), int(fields[21])
            ticks = sum(int(f) for f in fields[11:15])  # utime, stime, cutime, cstime
        except (OSError, IndexError, ValueError):
            continue
        children.setdefault(ppid, []).append(int(entry))
        usage[int(entry)] = (pages * PAGE, ticks / TICK)
    rss, cpu, stack = 0, 0.0, [pid]
    while stack:
        p = stack.pop()
        r, c = usage.get(p, (0, 0.0))
        rss, cpu = rss + r, cpu + c
        stack.extend(children.get(p, []))
    return rss, cpu


def tree_rss_bytes(pid: int) -> int:
    """Resident memory of a process and all its descendants, from /proc."""
    return tree_usage(pid)[0]


@dataclass
class Measured:
    """One measured command: exit code, output, wall seconds, the RSS samples (unix time, bytes), whether it
    was stopped for crossing the memory cap, and the CPU seconds (user + system) of its process tree (every
    descendant that was waited for), which move far less than wall seconds when other work shares the cores.
    ``cpu_samples`` (unix time, CPU seconds of the tree so far) give the CPU of a part of the run."""

    returncode: int
    stdout: str
    stderr: str
    seconds: float
    samples: list[tuple[float, int]] = field(default_factory=list)
    killed_at_cap: bool = False
    cpu_seconds: float = 0.0
    cpu_samples: list[tuple[float, float]] = field(default_factory=list)

    @property
    def peak_bytes(self) -> int:
        return max((b for _, b in self.samples), default=0)

    def peak_between(self, start: float, end: float) -> int:
        """Peak RSS among the samples taken between two unix times (the nearest sample if none)."""
        inside = [b for t, b in self.samples if start <= t <= end]
        if inside:
            return max(inside)
        nearest = min(self.samples, key=lambda s: abs(s[0] - start), default=(0, 0))
        return nearest[1]

    def cpu_between(self, start: float, end: float) -> float:
        """CPU seconds the process tree used between two unix times (from the samples nearest each side)."""

        def at(t: float) -> float:
            return min(self.cpu_samples, key=lambda s: abs(s[0] - t), default=(0, 0.0))[1]

        return max(at(end) - at(start), 0.0)


def run_measured(
    cmd: list[str],
    env: dict | None = None,
    cwd=None,
    cap_bytes: int | None = None,
    timeout_s: float | None = None,
    interval_s: float = 0.1,
) -> Measured:
    """Run a command, sampling its process tree's RSS every ``interval_s``; kill the tree (SIGKILL) when it
    crosses ``cap_bytes`` or runs past ``timeout_s``, so a baseline cannot take the machine down."""
    started = time.perf_counter()
    cpu_before = _children_cpu()
    proc = subprocess.Popen(
        cmd, env=env, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True
    )
    samples: list[tuple[float, int]] = []
    cpu_samples: list[tuple[float, float]] = []
    stop = threading.Event()
    killed = threading.Event()

    def sample() -> None:
        while not stop.is_set():
            rss, cpu = tree_usage(proc.pid)
            now = time.time()
            samples.append((now, rss))
            cpu_samples.append((now, cpu))
            over_cap = cap_bytes is not None and rss > cap_bytes
            over_time = timeout_s is not None and time.perf_counter() - started > timeout_s
            if (over_cap or over_time) and not killed.is_set():
                killed.set()
                try:
                    os.killpg(proc.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            time.sleep(interval_s)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    out, err = proc.communicate()
    stop.set()
    sampler.join()
    seconds = time.perf_counter() - started
    return Measured(
        proc.returncode,
        out,
        err,
        seconds,
        samples,
        killed.is_set(),
        round(_children_cpu() - cpu_before, 2),
        cpu_samples,
    )


def cpu_seconds() -> float:
    """User + system CPU seconds of this process so far (all its threads: DuckDB's included)."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _children_cpu() -> float:
    """User + system CPU seconds of every terminated, waited-for descendant of this process so far."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime
