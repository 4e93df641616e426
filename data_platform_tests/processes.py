"""Helpers for tests that start real Dagster processes (webserver, daemon, CLI) and real servers.

Every process test imports its helpers from here: free ports, GraphQL, running a CLI, the runs and
step intervals of an instance, and:

- :func:`platform_env`: the environment of a process that works on a temporary instance, warehouse
  and landing folder (every path the platform reads from the environment points under the test's
  own folder);
- :func:`service`: a long-running process (``dagster-webserver``, ``dagster-daemon``) started in its own
  process group with its output in a log file, stopped (SIGTERM, then SIGKILL) when the block ends, its
  log's tail shown when the test fails;
- :func:`wait_until` and :func:`wait_for_runs`: polling with a deadline and a clear message, the deadline
  counted in the machine's fair share of its cores (:class:`FairShareDeadline`), so a busy machine makes the
  wait longer instead of failing it;
- :class:`PostgresServer`: a throw-away PostgreSQL cluster (Debian binaries) on a free port;
- :func:`copy_world`: a copy of a built world that a test may change, relocated (no path in it points
  back to the original);
- :func:`deliver_bundled`: generated logs delivered as two files per delivery day instead of one per
  hour, so that tests over many days spend their time on runs, not on landing hundreds of tiny files;
- :func:`requires_peer`: a test that needs a real peer (chromium, PostgreSQL, Label Studio) is skipped
  without it on a developer's machine, and **fails** without it under ``CI=true`` (CI installs every
  peer, so a missing one is a broken setup, not a reason to stay green).
"""

from __future__ import annotations

import glob
import gzip
import json
import os
import pwd
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import dagster as dg
import duckdb
import pytest

from data_platform.launch import init_instance
from data_platform.resources import PROJECT_ROOT

BIN = Path(sys.executable).parent  # the venv's dagster, dg, dagster-daemon, data-platform

sys.path.insert(0, str(PROJECT_ROOT / "benchmarks"))
from measure import tree_usage  # noqa: E402  (the benchmarks' /proc reading of a process tree)


def in_ci() -> bool:
    """Whether this is a CI run: ``CI`` is set to ``true`` (or ``1``), as CI services and ``.ci/run`` do."""
    return os.environ.get("CI", "").strip().lower() in ("true", "1", "yes")


def requires_peer(present: bool, what: str, install: str) -> pytest.MarkDecorator:
    """Mark a test (or a module, via ``pytestmark``) that needs a real peer process or binary.

    When ``present`` is false the test is skipped, with ``what`` is missing and how to ``install`` it,
    except under ``CI=true`` (:func:`in_ci`), where it fails with that message instead: CI installs every
    peer (``.ci/run``), so a missing one must turn the run red. The conftest hook
    hooks (``pytest_collection_modifyitems``, ``pytest_runtest_setup``) act on the mark.
    """
    return pytest.mark.peer(present=present, what=what, install=install)


def missing_peer(item: pytest.Item) -> str | None:
    """What the first missing peer of ``item``'s :func:`requires_peer` marks is and how to install it."""
    for mark in item.iter_markers("peer"):
        if not mark.kwargs["present"]:
            return f"{mark.kwargs['what']} is missing: {mark.kwargs['install']}"
    return None


# Servers the tests start listen on a port drawn here, below Linux's ephemeral range (32768-60999): a port
# the kernel hands out (bind to 0, every outgoing connection) is free again the moment it is returned, so
# another test or client could take it before our server binds it; drawn at random from a range the kernel
# does not hand out, two workers meet only by chance (1 in 12,000 per pair of servers).
TEST_PORTS = range(20_000, 32_000)


def cpu_seconds(pid: int) -> float:
    """CPU time (user and system, seconds) used so far by process ``pid`` and every process below it, from
    ``/proc`` (the benchmarks' own reading, ``benchmarks/measure.py``).

    A start-up deadline counted in the process's own CPU time holds on a busy machine, where the same work takes
    several times the wall time: it fails a server that is broken, not one that waited for a core."""
    return tree_usage(pid)[1]


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nobody listens on right now, from ``TEST_PORTS``."""
    draw = random.Random(f"{os.getpid()}-{time.monotonic_ns()}")
    for _ in range(200):
        port = draw.choice(TEST_PORTS)
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError(f"no free port in {TEST_PORTS}")


def graphql(port: int, query: str) -> dict:
    """POST a query to the webserver's GraphQL endpoint; the decoded answer."""
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/graphql",
        data=json.dumps({"query": query}).encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.load(response)


def run_cli(cmd: list[str], env: dict, timeout: int = 300, returncode: int = 0) -> subprocess.CompletedProcess:
    """Run a CLI from the project root; fail the test with its output unless it exits with ``returncode``."""
    done = subprocess.run(cmd, cwd=PROJECT_ROOT, env=env, capture_output=True, text=True, timeout=timeout)
    assert done.returncode == returncode, (
        f"{cmd} exited with {done.returncode}, expected {returncode}:\n{done.stdout[-3000:]}\n{done.stderr[-6000:]}"
    )
    return done


def copy_world(src: Path, dst: Path) -> Path:
    """A copy at ``dst`` of the world a platform process built under ``src`` (:func:`platform_env`'s layout:
    warehouse, landing, exports, instance...), for a test that changes it while others read ``src``.

    The registries of published versions (``splits.exports``, ``splits.twins``) hold absolute paths: in the
    copy they point into the copy, so a command run on it (an erasure re-issuing an export and deleting the
    old version, say) never reads or deletes anything under ``src``."""
    shutil.copytree(src, dst)
    with duckdb.connect(str(dst / "warehouse.duckdb")) as con:
        for table in ("splits.exports", "splits.twins"):
            con.execute(f"UPDATE {table} SET path = replace(path, $src, $dst)", {"src": str(src), "dst": str(dst)})
    return dst


def job_backfill(env: dict, job: str, first: str, last: str, tags: dict | None = None) -> subprocess.CompletedProcess:
    """``dagster job backfill`` of ``job`` over the days ``first``..``last`` from the workspace, as the docs show
    it (one run per day, queued for the daemon); ``tags`` go on every run."""
    tag_args = ["--tags", json.dumps(tags)] if tags else []
    cmd = [str(BIN / "dagster"), "job", "backfill", "-w", "workspace.yaml", "-j", job, "--from", first, "--to", last]
    return run_cli([*cmd, *tag_args, "--noprompt"], env)


def runs_of(home: str) -> list[dg.DagsterRun]:
    """Every run of the instance at ``home``."""
    with dg.DagsterInstance.from_config(home) as instance:
        return list(instance.get_runs())


def step_intervals(home: str) -> list[tuple[float, float]]:
    """(start, end) of every step of every run of the instance at ``home``, sorted."""
    with dg.DagsterInstance.from_config(home) as instance:
        return sorted(
            (stat.start_time, stat.end_time)
            for run in instance.get_runs()
            for stat in instance.get_run_step_stats(run.run_id)
        )


ARTIFACTS = Path(__file__).resolve().parent / "artifacts"


def platform_env(root: Path, *, home: Path, dagster_yaml: Path | None = None, **extra: str) -> dict[str, str]:
    """The environment of a platform process whose instance, warehouse and landing live under ``root``.

    ``home`` becomes ``DAGSTER_HOME`` and gets ``dagster_yaml`` (default: the project's
    ``dagster_home/dagster.yaml``) as its ``dagster.yaml``. ``extra`` adds or overrides variables.
    """
    home.mkdir(parents=True, exist_ok=True)
    shutil.copy(dagster_yaml or PROJECT_ROOT / "dagster_home" / "dagster.yaml", home / "dagster.yaml")
    env = {
        **os.environ,
        "DAGSTER_HOME": str(home),
        "DATA_PLATFORM_WAREHOUSE": str(root / "warehouse.duckdb"),
        "DATA_PLATFORM_LANDING": str(root / "landing"),
        "DATA_PLATFORM_LABELING": str(root / "labeling"),
        "DATA_PLATFORM_REPORTS": str(root / "reports"),
        "DATA_PLATFORM_EXPORTS": str(root / "exports"),
        "DATA_PLATFORM_CERTIFICATES": str(root / "certificates"),
        "DATA_PLATFORM_LINEAGE": str(root / "lineage"),
        "DATA_PLATFORM_SETTLE_SECONDS": "0",
        "DATA_PLATFORM_DUCKDB_MEMORY": "1GB",
        "DATA_PLATFORM_DUCKDB_THREADS": "1",
    }
    env.update(extra)
    return env


class Service:
    """A started process and its log file."""

    def __init__(self, name: str, popen: subprocess.Popen, log: Path):
        self.name, self.popen, self.log = name, popen, log

    def tail(self, chars: int = 4000) -> str:
        text = self.log.read_text(errors="replace") if self.log.exists() else ""
        return f"--- last output of {self.name} ({self.log}) ---\n{text[-chars:]}"

    def assert_alive(self) -> None:
        assert self.popen.poll() is None, f"{self.name} exited with {self.popen.returncode}\n{self.tail()}"

    def stop(self, timeout: float = 60) -> None:
        if self.popen.poll() is not None:
            return
        os.killpg(self.popen.pid, signal.SIGTERM)
        try:
            self.popen.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(self.popen.pid, signal.SIGKILL)
            self.popen.wait(timeout=30)


@contextmanager
def service(name: str, cmd: list[str], env: dict[str, str], log: Path) -> Iterator[Service]:
    """Run ``cmd`` from the project root for the duration of the block; print its log on failure."""
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("wb") as out:
        popen = subprocess.Popen(
            cmd, cwd=PROJECT_ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
    svc = Service(name, popen, log)
    try:
        yield svc
    except BaseException:
        print(svc.tail())
        raise
    finally:
        svc.stop()


def webserver(env: dict[str, str], port: int, log: Path):
    """``dagster-webserver -w workspace.yaml`` on 127.0.0.1:``port`` (its instance initialised first)."""
    init_instance(env["DAGSTER_HOME"])
    return service(
        "dagster-webserver",
        [str(BIN / "dagster-webserver"), "-w", "workspace.yaml", "-h", "127.0.0.1", "-p", str(port)],
        env,
        log,
    )


def daemon(env: dict[str, str], log: Path):
    """``dagster-daemon run -w workspace.yaml`` (run queue, sensors, backfills; its instance initialised
    first: a webserver started at the same moment on a new instance would otherwise race it to create
    the storage schema), its backfill loop every few seconds instead of Dagster's fixed 30
    (:mod:`data_platform_tests.backfill_daemon`)."""
    init_instance(env["DAGSTER_HOME"])
    cmd = [sys.executable, "-m", "data_platform_tests.backfill_daemon", "run", "-w", "workspace.yaml"]
    return service("dagster-daemon", cmd, env, log)


class FairShareDeadline:
    """A deadline of ``seconds`` counted in this machine's fair share of its cores, not in wall seconds.

    Each second of wall time counts ``min(1, cores / load)`` (the 1-minute load average): all of it on a quiet
    machine, half of it while twice as many processes as cores want to run (two test workers beside other
    jobs, say). The processes a test waits for (a daemon and its runs, a webserver loading the code location)
    then get the same CPU before the deadline on a busy machine as on a quiet one, so the deadline fails a
    process that is stuck, not one that waited for a core. pytest's per-test limit is counted the same way
    (conftest's ``pytest_timeout_set_timer``)."""

    CORES = os.cpu_count() or 1

    def __init__(self, seconds: float):
        self.seconds, self.counted, self.last = seconds, 0.0, time.monotonic()

    @staticmethod
    def share() -> float:
        """The share of a wall second that counts now: ``min(1, cores / 1-minute load average)``."""
        load = os.getloadavg()[0]
        return 1.0 if load <= FairShareDeadline.CORES else FairShareDeadline.CORES / load

    def passed(self) -> bool:
        """Whether the deadline has passed (counts the wall time since the previous call at today's share)."""
        now = time.monotonic()
        self.counted += (now - self.last) * self.share()
        self.last = now
        return self.counted > self.seconds


def wait_until(
    predicate: Callable[[], object],
    *,
    timeout: float,
    what: str,
    interval: float = 2.0,
    services: tuple[Service, ...] = (),
):
    """Poll ``predicate`` until it returns something truthy (returned); fail after ``timeout`` seconds of the
    machine's fair share (:class:`FairShareDeadline`: wall seconds on a quiet machine, more on a busy one)."""
    deadline, started = FairShareDeadline(timeout), time.monotonic()
    while True:
        for svc in services:
            svc.assert_alive()
        value = predicate()
        if value:
            return value
        if deadline.passed():
            raise AssertionError(
                f"timed out after {timeout:.0f} s of the machine's fair share "
                f"({time.monotonic() - started:.0f} wall s) waiting for {what}"
            )
        time.sleep(interval)


def wait_for_runs(
    home: str | Path,
    count: int,
    *,
    timeout: float,
    services: tuple[Service, ...] = (),
    matching: Callable[[dg.DagsterRun], bool] = lambda run: True,
) -> list[dg.DagsterRun]:
    """Wait until at least ``count`` runs (those ``matching``) exist and every run of the instance is finished."""

    def done():
        runs = runs_of(str(home))
        selected = [r for r in runs if matching(r)]
        return selected if len(selected) >= count and all(r.is_finished for r in runs) else None

    return wait_until(done, timeout=timeout, what=f"{count} finished runs in {home}", interval=3, services=services)


def wait_for_webserver(
    port: int, server: Service, timeout: float = 180, query: str = "{ assetNodes { id } }"
) -> list[dict]:
    """Wait until the webserver has loaded the code location and answers ``assetNodes`` (the fields ``query``
    asks for); returns them."""

    def nodes():
        try:
            return graphql(port, query)["data"]["assetNodes"]
        except (OSError, KeyError, TypeError):
            return None

    return wait_until(nodes, timeout=timeout, what="the webserver's GraphQL API", interval=1, services=(server,))


def deliver_bundled(generated_events: Path, landing_events: Path, deliveries: list[str]) -> list[Path]:
    """Deliver each generated delivery day (``<generated_events>/<day>/*``) as two files, the hourly files'
    lines concatenated in name order: ``<day>/bundle-a.jsonl`` and ``<day>/bundle-b.jsonl.gz`` (every
    other hourly file). Written aside under a hidden folder and renamed into place, as producers should.

    The lines are byte for byte the generator's, so its manifest's per-day and per-reason counts hold.
    """
    dropped = []
    for day in deliveries:
        hourly = sorted(p for p in (generated_events / day).iterdir() if p.name.endswith((".jsonl", ".jsonl.gz")))
        bodies: list[list[bytes]] = [[], []]
        for i, path in enumerate(hourly):
            body = gzip.decompress(path.read_bytes()) if path.name.endswith(".gz") else path.read_bytes()
            bodies[i % 2].append(body if body.endswith(b"\n") or not body else body + b"\n")
        staging = landing_events.parent / ".incoming" / day
        staging.mkdir(parents=True, exist_ok=True)
        (staging / "bundle-a.jsonl").write_bytes(b"".join(bodies[0]))
        (staging / "bundle-b.jsonl.gz").write_bytes(gzip.compress(b"".join(bodies[1]), mtime=0))
        target = landing_events / day
        target.parent.mkdir(parents=True, exist_ok=True)
        os.replace(staging, target)
        dropped += sorted(target.iterdir())
    return dropped


# ---------------------------------------------------------------------------------------------- PostgreSQL


def postgres_bin() -> Path | None:
    """The newest Debian PostgreSQL binaries folder (``/usr/lib/postgresql/<major>/bin``), if installed."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(Path(p).parts[-3]))
    return Path(found[-1]).parent if found else None


class PostgresServer:
    """A PostgreSQL cluster in a temporary folder on 127.0.0.1:``port``, with password authentication.

    As root, the server runs as the ``postgres`` (or ``nobody``) user: ``initdb`` refuses to run as root.
    """

    def __init__(
        self, bindir: Path, user: str = "dagster", password: str = "dagster-test-password", database: str = "dagster"
    ):
        self.bindir, self.user, self.password, self.database = bindir, user, password, database
        self.port = free_port()
        self.root = Path(tempfile.mkdtemp(prefix="data-platform-pg-"))
        self.data = self.root / "data"
        self.run_as: list[str] = []
        if os.geteuid() == 0:
            account = _first_account("postgres", "nobody")
            entry = pwd.getpwnam(account)
            os.chown(self.root, entry.pw_uid, entry.pw_gid)
            self.run_as = ["runuser", "-u", account, "--"]
            self._owner = (entry.pw_uid, entry.pw_gid)
        else:
            self._owner = None

    def _cmd(self, *args: str, timeout: float = 120) -> subprocess.CompletedProcess:
        done = subprocess.run([*self.run_as, *args], capture_output=True, text=True, timeout=timeout, cwd=self.root)
        assert done.returncode == 0, f"{args[0]} failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
        return done

    def start(self) -> PostgresServer:
        pwfile = self.root / "pwfile"
        pwfile.write_text(self.password + "\n")
        if self._owner:
            os.chown(pwfile, *self._owner)
        self._cmd(
            str(self.bindir / "initdb"),
            "-D",
            str(self.data),
            "-U",
            self.user,
            f"--pwfile={pwfile}",
            "--auth=scram-sha-256",
            "-E",
            "UTF8",
            "--locale=C.UTF-8",
        )
        pwfile.unlink()
        self._cmd(
            str(self.bindir / "pg_ctl"),
            "-D",
            str(self.data),
            "-l",
            str(self.root / "server.log"),
            "-w",
            "-t",
            "60",
            "-o",
            f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c max_connections=200 -c fsync=off",
            "start",
        )
        self.psql(f"CREATE DATABASE {self.database}")
        return self

    def connect(self, database: str | None = None):
        import psycopg2

        return psycopg2.connect(
            host="127.0.0.1", port=self.port, user=self.user, password=self.password, dbname=database or self.database
        )

    def psql(self, sql: str) -> None:
        con = self.connect("postgres")
        try:
            con.autocommit = True
            with con.cursor() as cur:
                cur.execute(sql)
        finally:
            con.close()

    def env(self) -> dict[str, str]:
        """The variables deploy/dagster.yaml reads its connection from."""
        return {
            "DAGSTER_PG_HOST": "127.0.0.1",
            "DAGSTER_PG_PORT": str(self.port),
            "DAGSTER_PG_USER": self.user,
            "DAGSTER_PG_PASSWORD": self.password,
            "DAGSTER_PG_DB": self.database,
        }

    def log(self) -> str:
        path = self.root / "server.log"
        return path.read_text(errors="replace")[-3000:] if path.exists() else ""

    def stop(self) -> None:
        if (self.data / "postmaster.pid").exists():
            subprocess.run(
                [*self.run_as, str(self.bindir / "pg_ctl"), "-D", str(self.data), "-m", "fast", "-w", "stop"],
                capture_output=True,
                timeout=120,
                cwd=self.root,
            )
        shutil.rmtree(self.root, ignore_errors=True)


def _first_account(*names: str) -> str:
    for name in names:
        try:
            pwd.getpwnam(name)
            return name
        except KeyError:
            continue
    raise RuntimeError(f"none of the accounts {names} exists to run PostgreSQL as")


# ------------------------------------------------------------------------------------ the lake's peers


class S3Server:
    """moto's S3-compatible server (``moto_server``, the dev extra) on 127.0.0.1:``port``, with one bucket.

    The object store of the lake profile's tests: the warehouse reaches it over HTTP exactly as it reaches
    S3 (httpfs, path-style URLs), with throw-away credentials.
    """

    key_id, secret, region = "lake-test-key", "lake-test-secret", "us-east-1"

    def __init__(self, bucket: str = "lake", log: Path | None = None):
        self.bucket, self.port = bucket, free_port()
        # a folder of its own for the log unless one is given; removed by stop()
        self._own_folder = None if log else Path(tempfile.mkdtemp(prefix="data-platform-s3-"))
        self.log = log or self._own_folder / "moto.log"
        self.popen: subprocess.Popen | None = None

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 60) -> S3Server:
        with self.log.open("wb") as out:
            self.popen = subprocess.Popen(
                [str(BIN / "moto_server"), "-H", "127.0.0.1", "-p", str(self.port)],
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        wait_until(self._create_bucket, timeout=timeout, what=f"moto_server on port {self.port}", interval=0.3)
        return self

    def client(self):
        import boto3

        return boto3.client(
            "s3",
            endpoint_url=self.endpoint,
            aws_access_key_id=self.key_id,
            aws_secret_access_key=self.secret,
            region_name=self.region,
        )

    def _create_bucket(self) -> bool:
        assert self.popen is not None and self.popen.poll() is None, self.log.read_text(errors="replace")[-3000:]
        try:
            self.client().create_bucket(Bucket=self.bucket)
            return True
        except Exception:  # noqa: BLE001 - not listening yet (connection refused) is the usual answer
            return False

    def keys(self, prefix: str) -> list[str]:
        """Every object key under ``prefix`` in the bucket."""
        pages = self.client().get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=prefix)
        return [item["Key"] for page in pages for item in page.get("Contents", [])]

    def env(self) -> dict[str, str]:
        """The standard AWS variables the lake profile reads its S3 credentials and endpoint from."""
        return {
            "AWS_ACCESS_KEY_ID": self.key_id,
            "AWS_SECRET_ACCESS_KEY": self.secret,
            "AWS_REGION": self.region,
            "AWS_ENDPOINT_URL": self.endpoint,
        }

    def stop(self) -> None:
        if self.popen is not None and self.popen.poll() is None:
            os.killpg(self.popen.pid, signal.SIGTERM)
            try:
                self.popen.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.popen.pid, signal.SIGKILL)
                self.popen.wait(timeout=30)
        if self._own_folder is not None:
            shutil.rmtree(self._own_folder, ignore_errors=True)


class LakePeers:
    """A real PostgreSQL (the DuckLake catalogs) and an S3 server (their data files); :meth:`new_lake` makes a
    fresh, empty lake: its own catalog database and its own prefix in the bucket."""

    def __init__(self, postgres: PostgresServer, s3: S3Server):
        self.postgres, self.s3 = postgres, s3
        self._count = 0

    def env(self) -> dict[str, str]:
        """Every credential the lake profile needs, as the environment carries it in production: libpq's
        ``PG*`` variables and the AWS ones (none of them in a setting, a run config or a log)."""
        return {
            "PGHOST": "127.0.0.1",
            "PGPORT": str(self.postgres.port),
            "PGUSER": self.postgres.user,
            "PGPASSWORD": self.postgres.password,
            **self.s3.env(),
        }

    def new_lake(self, name: str = "lake") -> dict[str, str]:
        """``DATA_PLATFORM_LAKE_CATALOG`` and ``DATA_PLATFORM_LAKE_DATA_PATH`` of a new empty lake."""
        self._count += 1
        database = f"{name}_{self._count}"
        self.postgres.psql(f"CREATE DATABASE {database}")
        return {
            "DATA_PLATFORM_LAKE_CATALOG": f"postgres:dbname={database}",
            "DATA_PLATFORM_LAKE_DATA_PATH": f"s3://{self.s3.bucket}/{database}/",
        }

    def stop(self) -> None:
        self.s3.stop()
        self.postgres.stop()


def moto_server_present() -> bool:
    """Whether moto's S3 server is installed (the dev extra)."""
    return (BIN / "moto_server").exists()


def requires_lake() -> pytest.MarkDecorator:
    """The peers of a lake test: the PostgreSQL server binaries and moto's S3 server (see :func:`requires_peer`)."""
    try:
        import duckdb_extensions  # noqa: F401

        extensions = True
    except ImportError:
        extensions = False
    present = postgres_bin() is not None and moto_server_present() and extensions
    return requires_peer(
        present,
        "the lake's peers (PostgreSQL server binaries, moto_server, the DuckLake extension wheels)",
        "run .ci/setup_postgres.sh and pip install -e '.[dev,lake]'",
    )


def on_lake_peers(test):
    """Mark a test that runs on the lake's peers (PostgreSQL and moto started as processes: slow); see
    :func:`requires_lake`."""
    return pytest.mark.slow(requires_lake()(test))


class PartitionRun:
    """One ``dg launch`` of a job for one partition, in its own process with its own instance."""

    def __init__(self, day: str, home: Path, returncode: int, seconds: float, output: str):
        self.day, self.home, self.returncode, self.seconds, self.output = day, home, returncode, seconds, output

    def run(self) -> dg.DagsterRun:
        (run,) = runs_of(str(self.home))
        return run

    def commit_retries(self) -> int:
        """Commit conflicts the run retried (its ``data_platform/lake_commit_retries`` tag)."""
        from data_platform.resources import RETRIES_TAG

        return int(self.run().tags.get(RETRIES_TAG, "0"))


def launch_partitions(
    days: list[str], env: dict[str, str], root: Path, *, concurrency: int, job: str = "daily_pipeline"
) -> list[PartitionRun]:
    """``dg launch --job <job> --partition <day>`` for every day, at most ``concurrency`` processes at once. Each
    process is a stand-in for a machine: its own ``DAGSTER_HOME`` under ``root`` (nothing of Dagster shared),
    the warehouse and landing folder of ``env``. Returns the runs in ``days`` order."""
    from concurrent.futures import ThreadPoolExecutor

    def launch(day: str) -> PartitionRun:
        home = root / "homes" / day
        home.mkdir(parents=True, exist_ok=True)
        shutil.copy(PROJECT_ROOT / "dagster_home" / "dagster.yaml", home / "dagster.yaml")
        cmd = [
            str(BIN / "dg"),
            "launch",
            "--job",
            job,
            "--partition",
            day,
            "--module-name",
            "data_platform.definitions",
        ]
        started = time.monotonic()
        done = subprocess.run(
            cmd, cwd=PROJECT_ROOT, env={**env, "DAGSTER_HOME": str(home)}, capture_output=True, text=True, timeout=1800
        )
        return PartitionRun(day, home, done.returncode, time.monotonic() - started, done.stdout + done.stderr)

    with ThreadPoolExecutor(max_workers=concurrency) as pool:
        return list(pool.map(launch, days))


class DaemonBackfill:
    """What :func:`daemon_backfill` saw: the backfill's final status, its runs, and its wall seconds."""

    def __init__(self, backfill_id: str, status: str, runs: list[dg.DagsterRun], seconds: float, home: Path):
        self.backfill_id, self.status, self.runs, self.seconds, self.home = backfill_id, status, runs, seconds, home

    def failed(self) -> list[dg.DagsterRun]:
        return [r for r in self.runs if r.status != dg.DagsterRunStatus.SUCCESS]

    def commit_retries(self) -> list[int]:
        """Per run, the commit conflicts it retried (its ``data_platform/lake_commit_retries`` tag)."""
        from data_platform.resources import RETRIES_TAG

        return [int(r.tags.get(RETRIES_TAG, "0")) for r in self.runs]

    def run_days(self) -> list[tuple[str, str] | None]:
        """Per run, the first and last day it covered (the same day twice for a run of one day; None for a run of
        unpartitioned assets only, such as the current identity map)."""
        out = []
        for run in self.runs:
            tags = run.tags
            one = tags.get("dagster/partition")
            start, end = tags.get("dagster/asset_partition_range_start"), tags.get("dagster/asset_partition_range_end")
            out.append((one, one) if one else (start, end) if start else None)
        return out

    def max_runs_at_once(self) -> int:
        """The most runs that were executing at the same moment (from the run records' start and end times)."""
        with dg.DagsterInstance.from_config(str(self.home)) as instance:
            records = instance.get_run_records(dg.RunsFilter(run_ids=[r.run_id for r in self.runs]))
        moments = sorted(
            [(r.start_time, 1) for r in records if r.start_time] + [(r.end_time, -1) for r in records if r.end_time]
        )
        best = current = 0
        for _, delta in moments:
            current += delta
            best = max(best, current)
        return best


def daemon_backfill(
    env: dict[str, str], job: str, first: str, last: str, log: Path, *, timeout: float = 3600
) -> DaemonBackfill:
    """An asset backfill of ``job``'s assets over ``first``..``last``, run by a real ``dagster-daemon`` on the
    instance at ``env["DAGSTER_HOME"]``: ``data-platform init-instance`` (the profile's pool limit), then
    ``data-platform backfill --assets``, then the daemon until the backfill has finished; every run is its own
    process (the instance's run launcher), as many at once as the run queue allows."""
    home = Path(env["DAGSTER_HOME"])
    run_cli([str(BIN / "data-platform"), "init-instance"], env)
    done = run_cli(
        [str(BIN / "data-platform"), "backfill", "--job", job, "--from", first, "--to", last, "--assets"], env
    )
    backfill_id = done.stdout.split("backfill ", 1)[1].split()[0]
    started = time.monotonic()
    with daemon(env, log) as svc:

        def finished():
            with dg.DagsterInstance.from_config(str(home)) as instance:
                backfill = instance.get_backfill(backfill_id)
                runs = list(instance.get_runs())
            terminal = backfill.status.value not in ("REQUESTED", "CANCELING", "FAILING")
            return backfill.status.value if terminal and all(r.is_finished for r in runs) else None

        status = wait_until(finished, timeout=timeout, what=f"backfill {backfill_id}", interval=3, services=(svc,))
    return DaemonBackfill(backfill_id, status, runs_of(str(home)), time.monotonic() - started, home)
