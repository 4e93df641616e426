"""The platform as a user installs it: the built wheel (not the checkout) carries its SQL and its instance
settings as package resources, and runs the demo from an empty folder.

The slow test builds the wheel, installs it with the dependency tree of ``uv.lock`` into a fresh venv outside
the checkout (no ``PYTHONPATH``, no editable install), and runs ``data-platform demo`` in an empty folder.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from data_platform.resources import PROJECT_ROOT

UV = Path(sys.executable).with_name("uv")  # `make install` puts uv into the venv


def test_code_location_is_the_one_workspace_yaml_declares():
    """Sensor ticks and backfills requested from the command line are stored under the origin the webserver
    and the daemon load from workspace.yaml; the CLI builds it without reading that file (a wheel has none)."""
    from dagster._core.definitions.repository_definition.valid_definitions import SINGLETON_REPOSITORY_NAME
    from dagster._core.remote_origin import RemoteRepositoryOrigin
    from dagster._core.workspace.load import location_origins_from_yaml_paths

    from data_platform.launch import _repository_origin

    [location] = location_origins_from_yaml_paths([str(PROJECT_ROOT / "workspace.yaml")])
    assert _repository_origin().get_id() == RemoteRepositoryOrigin(location, SINGLETON_REPOSITORY_NAME).get_id()


def test_package_resources_are_the_checkout_files():
    """In the checkout the package's ``sql`` and ``dagster.yaml`` are the top-level sql/ and the demo
    instance's dagster_home/dagster.yaml (links), so there is one copy of each to edit."""
    from data_platform.launch import INSTANCE_YAML
    from data_platform.resources import SQL_DIR, load_sql

    assert Path(str(SQL_DIR)).resolve() == (PROJECT_ROOT / "sql").resolve()
    assert INSTANCE_YAML.read_text() == (PROJECT_ROOT / "dagster_home" / "dagster.yaml").read_text()
    assert load_sql("ingestion/create_tables.sql") == (PROJECT_ROOT / "sql/ingestion/create_tables.sql").read_text()


def _build_wheel(tmp: Path) -> Path:
    """``pip wheel`` of a copy of the sources (the build writes build/ and *.egg-info next to them)."""
    src = tmp / "src"
    src.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(PROJECT_ROOT / name, src / name)
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    shutil.copytree(PROJECT_ROOT / "data_platform", src / "data_platform", symlinks=True, ignore=ignore)
    shutil.copytree(PROJECT_ROOT / "sql", src / "sql", ignore=ignore)
    (src / "dagster_home").mkdir()
    shutil.copy(PROJECT_ROOT / "dagster_home" / "dagster.yaml", src / "dagster_home" / "dagster.yaml")
    out = tmp / "dist"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "--quiet",
            "--wheel-dir",
            str(out),
            str(src),
        ],
        check=True,
        capture_output=True,
        text=True,
    )
    [wheel] = out.glob("data_platform-*.whl")
    return wheel


@pytest.mark.slow
@pytest.mark.skipif(not UV.exists(), reason="uv is not in the venv (make install puts it there)")
def test_wheel_runs_the_demo_from_an_empty_folder(tmp_path):
    import zipfile

    wheel = _build_wheel(tmp_path)
    names = zipfile.ZipFile(wheel).namelist()
    shipped_sql = {n.removeprefix("data_platform/sql/") for n in names if n.startswith("data_platform/sql/")}
    assert shipped_sql == {
        p.relative_to(PROJECT_ROOT / "sql").as_posix() for p in (PROJECT_ROOT / "sql").rglob("*.sql")
    }
    assert "data_platform/dagster.yaml" in names
    assert not [n for n in names if n.startswith("data_platform_tests/")], "the tests are not part of the package"

    # a fresh venv: the wheel plus exactly the locked dependency tree (what CI tested), nothing from the checkout
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    locked = subprocess.run(
        [str(UV), "export", "--frozen", "--no-hashes", "--no-emit-project", "--format", "requirements-txt", "--quiet"],
        cwd=PROJECT_ROOT,
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    (tmp_path / "locked.txt").write_text(locked)
    # a user's environment: none of the checkout's settings, and Python writes the bytecode of what it imports
    # (this machine's PYTHONDONTWRITEBYTECODE=1 would make each of the demo's dozen processes compile dagster
    # and the definitions again: about 1.7 CPU s each, docs/benchmarks.md)
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("PYTHONPATH", "DAGSTER_HOME", "VIRTUAL_ENV", "PYTHONDONTWRITEBYTECODE")
        and not k.startswith("DATA_PLATFORM_")
    }
    subprocess.run(
        [
            str(UV),
            "pip",
            "install",
            "--quiet",
            "--python",
            str(venv / "bin" / "python"),
            "-r",
            str(tmp_path / "locked.txt"),
            str(wheel),
        ],
        check=True,
        env=env,
        capture_output=True,
        text=True,
    )

    empty = tmp_path / "work"
    empty.mkdir()
    where = subprocess.run(
        [str(venv / "bin" / "python"), "-c", "import data_platform; print(data_platform.__file__)"],
        cwd=empty,
        env=env,
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    assert Path(where.strip()).is_relative_to(venv), where

    done = subprocess.run(
        [str(venv / "bin" / "data-platform"), "demo", "--days", "1", "--events-per-day", "2000"],
        cwd=empty,
        env=env,
        capture_output=True,
        text=True,
        timeout=1800,
    )
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-4000:]
    assert "== summary" in done.stdout and "exports/ctr_examples: version" in done.stdout, done.stdout[-4000:]
    # everything the demo made is in the folder it ran in: the warehouse, the exports, the instance (with the
    # package's settings)
    assert (empty / "data" / "warehouse.duckdb").exists()
    assert list((empty / "data" / "exports").rglob("*.parquet"))
    assert (empty / "dagster_home" / "dagster.yaml").read_text() == (
        PROJECT_ROOT / "dagster_home" / "dagster.yaml"
    ).read_text()
