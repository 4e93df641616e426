"""Shared fixtures: a temporary warehouse and landing folder, and helpers that run real assets."""

from __future__ import annotations

import datetime as dt
import gzip
import json
import os
import signal
import threading
import time
from pathlib import Path

import dagster as dg
import pytest

from data_platform.ingestion.assets import raw_ingestion
from data_platform.resources import LandingZone, Warehouse
from data_platform_tests.processes import (
    BIN,
    FairShareDeadline,
    LakePeers,
    PostgresServer,
    S3Server,
    in_ci,
    missing_peer,
    platform_env,
    postgres_bin,
    run_cli,
)

UTC = dt.UTC


def event(event_id: str, event_type: str = "login", ts="2026-11-02T10:00:00Z", **fields) -> dict:
    """A valid raw event of the given type (required fields filled in), overridable field by field."""
    base = {"event_id": event_id, "event_type": event_type, "ts": ts, "anon_id": "anon-1"}
    required = {
        "login": {"user_id": "user-1"},
        "impression": {
            "impression_id": f"imp-{event_id}",
            "item_id": "item-1",
            "category": "books",
            "position": 1,
            "price": 9.5,
            "currency": "EUR",
            "predicted_ctr": 0.1,
            "model_version": "ctr-1",
        },
        "click": {"impression_id": "imp-1", "item_id": "item-1"},
        "purchase": {"item_id": "item-1", "price": 9.5, "currency": "EUR"},
        "review": {"item_id": "item-1", "text": "fine", "rating": 4},
    }.get(event_type, {})
    return {**base, **required, **fields}


def write_lines(path: Path, lines: list, *, gz: bool = False, age_seconds: float = 3600) -> Path:
    """Write landing lines (dicts become JSON, str/bytes are written as they are), mtime in the past."""
    path.parent.mkdir(parents=True, exist_ok=True)
    body = b"".join(
        (json.dumps(x).encode() if isinstance(x, dict) else x if isinstance(x, bytes) else x.encode()) + b"\n"
        for x in lines
    )
    path.write_bytes(gzip.compress(body) if gz else body)
    past = time.time() - age_seconds
    os.utime(path, (past, past))
    return path


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Outside CI, a test marked with :func:`data_platform_tests.processes.requires_peer` whose peer is
    missing is skipped, with the reason (listed at the end of the run: ``-rs``).

    On several processes (pytest-xdist, ``make test``: whole modules per process, ``--dist loadfile
    --no-loadscope-reorder``) the modules holding a ``slow`` test come first: they start real processes and
    take minutes each, so they are spread over the workers from the start and the quick modules fill in at the
    end, instead of one slow module starting last while the other workers sit idle."""
    if os.environ.get("PYTEST_XDIST_WORKER"):
        slow_modules = {item.path for item in items if item.get_closest_marker("slow")}
        items.sort(key=lambda item: item.path not in slow_modules)  # stable: file order within each part
    if not in_ci():
        for item in items:
            message = missing_peer(item)
            if message:
                item.add_marker(pytest.mark.skip(reason=message))


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    """Under ``CI=true`` a test whose peer is missing fails (before its fixtures start anything)."""
    message = missing_peer(item) if in_ci() else None
    if message:
        pytest.fail(f"CI=true and {message}", pytrace=False)


# how often the watcher of a test's time limit looks at the clock and the load (seconds)
TIMEOUT_POLL_SECONDS = 5.0


@pytest.hookimpl(tryfirst=True)
def pytest_timeout_set_timer(item: pytest.Item, settings) -> bool | None:
    """pytest-timeout's per-test limit (900 s, setup included) counted in the machine's fair share of its cores
    (:class:`data_platform_tests.processes.FairShareDeadline`) instead of wall seconds: on a quiet machine the same
    limit, on a busy one (two workers beside other jobs) proportionally more wall time, so a module's world built
    while other work holds the cores is not cut off, and a test that hangs still fails.

    A watcher thread checks the deadline every ``TIMEOUT_POLL_SECONDS``; once it has passed, it sends SIGALRM to the
    main thread, whose handler is pytest-timeout's own (the threads' stacks, then the test fails), as with
    pytest-timeout's signal method. Its thread method (no signals: a run outside the main thread) is left as it is.
    """
    import pytest_timeout

    if settings.method != "signal" or threading.current_thread() is not threading.main_thread():
        return None
    deadline, stop = FairShareDeadline(settings.timeout), threading.Event()

    def watch() -> None:
        while not stop.wait(TIMEOUT_POLL_SECONDS):
            if deadline.passed():
                signal.pthread_kill(threading.main_thread().ident, signal.SIGALRM)
                return

    def cancel() -> None:
        stop.set()
        watcher.join()
        signal.signal(signal.SIGALRM, signal.SIG_DFL)

    signal.signal(signal.SIGALRM, lambda signum, frame: pytest_timeout.timeout_sigalrm(item, settings))
    watcher = threading.Thread(target=watch, name=f"fair-share timeout of {item.nodeid}", daemon=True)
    watcher.start()
    item.cancel_timeout = cancel
    return True


@pytest.fixture(autouse=True)
def _certificates_in_tmp(tmp_path, monkeypatch) -> None:
    """Erasure certificates of in-process privacy runs, and OpenLineage events of in-process sensor ticks, go to
    the test's folder, never into the checkout."""
    if "DATA_PLATFORM_CERTIFICATES" not in os.environ:
        monkeypatch.setenv("DATA_PLATFORM_CERTIFICATES", str(tmp_path / "certificates"))
    if "DATA_PLATFORM_LINEAGE" not in os.environ:
        monkeypatch.setenv("DATA_PLATFORM_LINEAGE", str(tmp_path / "lineage"))


@pytest.fixture
def landing(tmp_path) -> LandingZone:
    (tmp_path / "landing" / "events").mkdir(parents=True)
    return LandingZone(root=str(tmp_path / "landing"), settle_seconds=0)


@pytest.fixture(scope="session")
def lake_peers():
    """A real PostgreSQL and an S3 server (moto) for the whole session; each lake test makes its own lake on
    them (:meth:`LakePeers.new_lake`). Use it with :func:`data_platform_tests.processes.requires_lake`."""
    peers = LakePeers(PostgresServer(postgres_bin()).start(), S3Server().start())
    try:
        yield peers
    finally:
        print(peers.postgres.log())
        peers.stop()


# the small demo world (steps 1-8, no signal days): 2 days of 2,000 events, seed 11 (a seed and size whose world
# has a user in every place test_privacy_erasure_e2e.py needs: raw events, a review with an e-mail, labels, a task
# batch and a published export)
SMALL_DEMO_ARGS = ["--days", "2", "--events-per-day", "2000", "--seed", "11", "--signal-days", "0"]


@pytest.fixture(scope="session")
def small_demo(tmp_path_factory) -> tuple[Path, str]:
    """A small demo world, built once per session (per worker) by a real ``data-platform demo`` process with its
    ``dg launch`` runs, under its own root in :func:`platform_env`'s layout (``DAGSTER_HOME`` is ``root/home``):
    (root, the demo's output). The user commands of ``test_cli_processes.py`` and ``test_demo_small.py``'s seed-11
    case read it, and ``test_privacy_erasure_e2e.py`` erases a person in its own copy; no test changes it (a test
    that changes a world works on :func:`data_platform_tests.processes.copy_world` of it)."""
    root = tmp_path_factory.mktemp("small-demo")
    cmd = [str(BIN / "data-platform"), "demo", *SMALL_DEMO_ARGS]
    done = run_cli(cmd, platform_env(root, home=root / "home"), timeout=1800)
    return root, done.stdout


def lake_warehouse(peers: LakePeers, mp: pytest.MonkeyPatch, name: str = "lake") -> Warehouse:
    """A new empty lake-profile warehouse, as ``Warehouse.from_env()`` builds it: its catalog and data path in
    ``DATA_PLATFORM_LAKE_*``, its credentials in the ``PG*`` and ``AWS_*`` variables (set through ``mp``)."""
    for key, value in {**peers.env(), **peers.new_lake(name)}.items():
        mp.setenv(key, value)
    mp.setenv("DATA_PLATFORM_DUCKDB_MEMORY", "1GB")
    mp.setenv("DATA_PLATFORM_DUCKDB_THREADS", "2")
    return Warehouse.from_env()


def lake_files_holding(con, peers: LakePeers, lake: Warehouse, text: str, under: str = "") -> int:
    """Rows of every data file in the lake's part of the bucket (read directly, not through the catalog), or in
    its folder ``under`` (``raw/events/``), whose values, as text, contain ``text``."""
    prefix = lake.lake_data_path.removeprefix(f"s3://{peers.s3.bucket}/") + under
    files = [
        f"s3://{peers.s3.bucket}/{k}"
        for k in peers.s3.keys(prefix)
        if k.endswith(".parquet") and not k.endswith("-delete.parquet")
    ]
    assert files
    return con.execute(
        "SELECT count(*) FROM read_parquet($files, union_by_name => true) t WHERE contains(CAST(t AS VARCHAR), $text)",
        {"files": files, "text": text},
    ).fetchone()[0]


@pytest.fixture
def warehouse(tmp_path) -> Warehouse:
    return Warehouse(database=str(tmp_path / "warehouse.duckdb"), memory_limit="1GB", threads=2)


def ingest(warehouse: Warehouse, landing: LandingZone, partition: str | tuple[str, str], instance=None):
    """Materialize the ingestion assets for one partition key or an inclusive (first, last) range."""
    kwargs = {}
    if isinstance(partition, tuple):
        kwargs["tags"] = {
            "dagster/asset_partition_range_start": partition[0],
            "dagster/asset_partition_range_end": partition[1],
        }
    else:
        kwargs["partition_key"] = partition
    result = dg.materialize(
        [raw_ingestion],
        resources={"warehouse": warehouse, "landing": landing},
        instance=instance or dg.DagsterInstance.ephemeral(),
        **kwargs,
    )
    assert result.success
    return result


def query(warehouse: Warehouse, sql: str, params=None) -> list[tuple]:
    """Rows of ``sql`` read from ``warehouse`` (either profile) on a read-only connection."""
    with warehouse.connect(read_only=True) as con:
        return con.execute(sql, params or []).fetchall()


def checks_by_name(result) -> dict[str, dg.AssetCheckEvaluation]:
    return {c.check_name: c for c in result.get_asset_check_evaluations()}


def generated_world(
    root: Path, days: int, events_per_day: int, seed: int, incidents=(), start: dt.date = dt.date(2026, 11, 2)
) -> tuple[LandingZone, Warehouse, dict]:
    """A landing zone with generated logs and an empty warehouse under ``root`` (and the manifest)."""
    from data_platform.generator import generate_logs

    landing = LandingZone(root=str(root / "landing"), settle_seconds=0)
    warehouse = Warehouse(database=str(root / "warehouse.duckdb"), memory_limit="1GB", threads=2)
    manifest = generate_logs(
        landing.root, start=start, days=days, events_per_day=events_per_day, seed=seed, incidents=list(incidents)
    )
    return landing, warehouse, manifest


def jobs_world(tmp_path: Path, monkeypatch, lines: list, day: str = "2026-11-02"):
    """Every job of the project, in process, over a temp warehouse whose landing holds ``lines`` on ``day``
    (exports and reports under ``tmp_path``). Returns (definitions, warehouse)."""
    landing = LandingZone(root=str(tmp_path / "landing"), settle_seconds=0)
    write_lines(landing.events_dir() / day / "part-0.jsonl", lines)
    warehouse = Warehouse(database=str(tmp_path / "warehouse.duckdb"), memory_limit="1GB", threads=2)
    defs, _ = project_jobs(tmp_path, monkeypatch, landing, warehouse)
    return defs, warehouse


def project_jobs(root: Path, monkeypatch, landing: LandingZone, warehouse: Warehouse):
    """Every asset, check and job of the project, in process, over ``landing`` and ``warehouse`` (exports,
    reports and the labeling desk under ``root``). Returns (definitions, resources)."""
    from data_platform import definitions
    from data_platform.resources import LabelingDesk

    monkeypatch.setenv("DATA_PLATFORM_EXPORTS", str(root / "exports"))
    monkeypatch.setenv("DATA_PLATFORM_REPORTS", str(root / "reports"))
    resources = {"warehouse": warehouse, "landing": landing, "labeling": LabelingDesk(root=str(root / "desk"))}
    defs = dg.Definitions(
        assets=definitions.defs.assets,
        asset_checks=definitions.defs.asset_checks,
        jobs=definitions.defs.jobs,
        resources=resources,
        executor=dg.in_process_executor,
    )
    return defs, resources


def run_job(defs: dg.Definitions, job: str, partition: str | None = None, *, succeed: bool = True):
    """Run a job in process; assert it succeeded (or failed, with ``succeed=False``)."""
    result = defs.resolve_job_def(job).execute_in_process(partition_key=partition, raise_on_error=False)
    assert result.success is succeed, [e.message for e in result.all_events if e.is_failure]
    return result


def materializations(result) -> dict[str, dict]:
    """asset path ("clean/events") -> metadata of its materialization in the run."""
    return {"/".join(e.asset_key.path): e.materialization.metadata for e in result.get_asset_materialization_events()}
