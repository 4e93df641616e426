"""Settings are checked when they load, and errors name their root cause (issue #16, item 13)."""

from __future__ import annotations

import subprocess
import sys

import dagster as dg
import duckdb
import pytest

from data_platform.base.pseudonyms import DEV_KEY, PseudonymKeyError, key_status, pseudonym_key
from data_platform.ingestion.assets import raw_ingestion
from data_platform.resources import LandingZone, SettingError, check_settings, transaction
from data_platform_tests.reliability_support import PROJECT_ROOT, child_env

ALL_SETTINGS = (
    "DATA_PLATFORM_WAREHOUSE",
    "DATA_PLATFORM_LANDING",
    "DATA_PLATFORM_DUCKDB_MEMORY",
    "DATA_PLATFORM_DUCKDB_THREADS",
    "DATA_PLATFORM_START_DATE",
    "DATA_PLATFORM_SENSORS",
    "DATA_PLATFORM_SETTLE_SECONDS",
    "DATA_PLATFORM_MAX_LINE_BYTES",
    "DATA_PLATFORM_MODE",
    "DATA_PLATFORM_PSEUDONYM_KEY",
    "DATA_PLATFORM_LAKE_WRITERS",
    "DATA_PLATFORM_BACKFILL",
)


@pytest.fixture
def clean_env(monkeypatch):
    for name in ALL_SETTINGS:
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


BAD = [
    ("DATA_PLATFORM_SETTLE_SECONDS", "nan"),  # used to switch the settle guard off
    ("DATA_PLATFORM_SETTLE_SECONDS", "inf"),  # used to ingest nothing and exit 0
    ("DATA_PLATFORM_SETTLE_SECONDS", "-100"),
    ("DATA_PLATFORM_SETTLE_SECONDS", "five"),
    ("DATA_PLATFORM_DUCKDB_THREADS", "-1"),
    ("DATA_PLATFORM_DUCKDB_THREADS", "2.5"),
    ("DATA_PLATFORM_DUCKDB_MEMORY", "lots"),
    ("DATA_PLATFORM_START_DATE", "2026-13-40"),
    ("DATA_PLATFORM_SENSORS", "paused"),
    ("DATA_PLATFORM_MAX_LINE_BYTES", "10"),
    ("DATA_PLATFORM_MAX_LINE_BYTES", "1e6"),
    ("DATA_PLATFORM_MODE", "prod"),
    ("DATA_PLATFORM_PSEUDONYM_KEY", "short-key"),  # used to fall back to the dev key in demo mode
    ("DATA_PLATFORM_LAKE_WRITERS", "0"),  # a pool of no slot: every lake step would wait forever
    ("DATA_PLATFORM_BACKFILL", "parallel"),
]


@pytest.mark.parametrize(("name", "value"), BAD)
def test_an_unusable_setting_stops_the_load_with_its_name_and_value(clean_env, name, value):
    clean_env.setenv(name, value)
    with pytest.raises(SettingError) as raised:
        check_settings()
    message = str(raised.value)
    assert name in message and (value in message or name == "DATA_PLATFORM_PSEUDONYM_KEY")
    assert "short-key" not in message  # never the key itself


def test_every_problem_is_listed_at_once_and_good_values_pass(clean_env):
    check_settings()  # the defaults
    for name, value in (
        ("DATA_PLATFORM_SETTLE_SECONDS", "0"),
        ("DATA_PLATFORM_DUCKDB_THREADS", "2"),
        ("DATA_PLATFORM_MAX_LINE_BYTES", "65536"),
        ("DATA_PLATFORM_SENSORS", "STOPPED"),
        ("DATA_PLATFORM_LAKE_WRITERS", "8"),
        ("DATA_PLATFORM_BACKFILL", "per_day"),
    ):
        clean_env.setenv(name, value)
    check_settings()
    zone = LandingZone.from_env()
    assert (zone.settle_seconds, zone.max_line_bytes) == (0.0, 65536)
    clean_env.setenv("DATA_PLATFORM_SETTLE_SECONDS", "nan")
    clean_env.setenv("DATA_PLATFORM_SENSORS", "paused")
    with pytest.raises(SettingError) as raised:
        check_settings()
    assert "DATA_PLATFORM_SETTLE_SECONDS" in str(raised.value) and "DATA_PLATFORM_SENSORS" in str(raised.value)


def test_a_short_pseudonym_key_is_an_error_in_demo_mode_too(clean_env):
    assert pseudonym_key() == DEV_KEY and key_status()["warning"]  # unset: the dev key, with a warning
    clean_env.setenv("DATA_PLATFORM_PSEUDONYM_KEY", "x" * 15)
    with pytest.raises(PseudonymKeyError, match="15 characters"):
        pseudonym_key()
    with pytest.raises(PseudonymKeyError):
        key_status()  # metadata can no longer say "unset" while a key is set
    clean_env.setenv("DATA_PLATFORM_PSEUDONYM_KEY", "x" * 16)
    assert pseudonym_key() == "x" * 16 and not key_status()["warning"]


@pytest.mark.slow
def test_the_definitions_refuse_to_load_with_a_bad_setting():
    done = subprocess.run(
        [sys.executable, "-c", "import data_platform.definitions"],
        cwd=PROJECT_ROOT,
        env=child_env({"DATA_PLATFORM_SETTLE_SECONDS": "inf"}),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode != 0
    assert "DATA_PLATFORM_SETTLE_SECONDS='inf' is not usable" in done.stderr


def test_a_missing_landing_folder_fails_the_run_and_says_which(warehouse, tmp_path):
    missing = tmp_path / "no-such-landing"
    result = dg.materialize(
        [raw_ingestion],
        partition_key="2026-11-02",
        raise_on_error=False,
        resources={"warehouse": warehouse, "landing": LandingZone(root=str(missing))},
    )
    assert not result.success
    [failure] = [e for e in result.all_events if e.is_step_failure]
    assert str(missing) in failure.step_failure_data.error.cause.message
    assert "DATA_PLATFORM_LANDING" in failure.step_failure_data.error.cause.message


def test_a_failed_commit_is_the_error_raised_not_the_failed_rollback():
    """A commit that fails (here a key another transaction committed first; on a full disk, the write)
    aborts DuckDB's transaction, so the ROLLBACK after it fails with "no transaction is active": the
    error the caller sees must still be the commit's."""
    db = duckdb.connect()
    db.execute("CREATE TABLE t (k INTEGER PRIMARY KEY)")
    first, second = db.cursor(), db.cursor()
    with pytest.raises(duckdb.TransactionException) as raised:
        with transaction(second):
            second.execute("INSERT INTO t VALUES (1)")
            with transaction(first):
                first.execute("INSERT INTO t VALUES (1)")
    assert "constraint violation" in str(raised.value)
    assert any("no transaction is active" in note for note in raised.value.__notes__)
    assert db.execute("SELECT count(*) FROM t").fetchone() == (1,)
