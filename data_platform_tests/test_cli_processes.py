"""The user's entry points, run as processes the way a user runs them: ``data-platform demo`` (small),
``generate``, ``summary``, ``trace``, ``impact``, ``invalidate`` and ``privacy``.

One small demo world is built once for the session (conftest's ``small_demo``: a real ``data-platform demo``
with its ``dg launch`` runs, shared with ``test_privacy_erasure_e2e.py``) and never changed by the tests: the
commands that change a world (``privacy``, ``invalidate``) work on their own copy of it (``copy_world``: its
registries of published versions point into the copy). Every path the platform reads from the
environment (warehouse, landing, labeling, reports, exports, ``DAGSTER_HOME``) points under the test's
folder (:func:`data_platform_tests.processes.platform_env`).
"""

from __future__ import annotations

import gzip
import json
import re
from pathlib import Path

import duckdb
import pytest

from data_platform_tests.processes import BIN, copy_world, platform_env, run_cli

pytestmark = pytest.mark.slow

CLI = str(BIN / "data-platform")


def _env(root: Path) -> dict[str, str]:
    return platform_env(root, home=root / "home")


def _query(root: Path, sql: str, params=None) -> list[tuple]:
    with duckdb.connect(str(root / "warehouse.duckdb"), read_only=True) as con:
        return con.execute(sql, params or []).fetchall()


@pytest.fixture
def demo(small_demo) -> tuple[Path, str]:
    """The session's small demo world (steps 1-8, no signal days): (root, output)."""
    return small_demo


@pytest.fixture
def world_copy(demo, tmp_path) -> Path:
    """A copy of the demo world (warehouse, landing, exports, instance) for a command that changes it."""
    return copy_world(demo[0], tmp_path / "world")


def _stage_rows(output: str, table: str) -> int:
    match = re.search(rf"^\s*{re.escape(table)}\s+([\d,]+) ", output, re.MULTILINE)
    assert match, f"no {table} line in:\n{output}"
    return int(match.group(1).replace(",", ""))


def test_demo_runs_its_steps_and_prints_a_summary_that_matches_the_warehouse(demo):
    root, output = demo
    for step in range(1, 9):
        assert f"== {step}/9 " in output, f"step {step} missing:\n{output}"
    assert "== 9/9" not in output  # --signal-days 0
    summary = output[output.index("== summary") :]
    assert f"warehouse: {root / 'warehouse.duckdb'}" in summary
    [(events, clean, reviews)] = _query(
        root,
        "SELECT (SELECT count(*) FROM raw.events), "
        "(SELECT count(*) FROM clean.events), "
        "(SELECT count(*) FROM labels.review_examples)",
    )
    assert _stage_rows(summary, "raw.events") == events > 0
    assert _stage_rows(summary, "clean.events") == clean > 0
    assert _stage_rows(summary, "labels.review_examples") == reviews > 0
    assert "(balances)" in summary
    assert "nothing downstream traces to the input any more" in output  # step 8's invalidation held


def test_summary_reports_the_warehouse_and_says_when_there_is_none(demo, tmp_path):
    root, _ = demo
    output = run_cli([CLI, "summary"], _env(root)).stdout
    [(events, ctr, clicked)] = _query(
        root, "SELECT (SELECT count(*) FROM raw.events), count(*), sum(label) FROM labels.ctr_examples"
    )
    assert _stage_rows(output, "raw.events") == events
    assert re.search(rf"labels\.ctr_examples\s+{ctr:,} impressions, {clicked:,} clicked", output), output
    checks = re.search(r"checks \(latest evaluation per day in the recent runs\): (\d+) passed, (\d+) did not", output)
    assert checks, output
    # every check that did not pass is listed on its own line, with its state and reason
    listed = re.findall(r"^  (?:FAILED|WARN) \S+ \S+.*: .+$", output, flags=re.MULTILINE)
    assert int(checks.group(1)) > 0 and len(listed) == int(checks.group(2)), output
    empty = run_cli([CLI, "summary"], _env(tmp_path / "empty"), returncode=1)
    assert "no warehouse at" in empty.stderr


def test_generate_writes_the_lines_its_manifest_counts(tmp_path):
    landing = tmp_path / "generated"
    done = run_cli(
        [
            CLI,
            "generate",
            "--start",
            "2026-11-02",
            "--days",
            "1",
            "--events-per-day",
            "800",
            "--seed",
            "3",
            "--landing",
            str(landing),
        ],
        _env(tmp_path),
    )
    match = re.search(r"wrote (\d+) files, ([\d,]+) lines under (\S+)", done.stdout)
    assert match, done.stdout
    files = [p for p in (landing / "events").rglob("*") if p.name.endswith((".jsonl", ".jsonl.gz"))]
    lines = sum(
        (gzip.decompress(p.read_bytes()) if p.name.endswith(".gz") else p.read_bytes()).count(b"\n") for p in files
    )
    [manifest] = [json.loads(p.read_text()) for p in (landing / "events").glob("manifest-*.json")]
    assert int(match.group(1)) == len(files) == len(manifest["files"])
    assert int(match.group(2).replace(",", "")) == lines == manifest["total_lines"] > 0
    assert not (tmp_path / "warehouse.duckdb").exists()  # generating lands files, it builds nothing


def test_trace_follows_a_labeled_review_to_its_raw_line_and_fails_for_an_unknown_id(demo):
    root, _ = demo
    [(review_id, source_file, source_line)] = _query(
        root, "SELECT review_id, source_file, source_line FROM labels.review_examples ORDER BY review_id LIMIT 1"
    )
    output = run_cli([CLI, "trace", "review_examples", review_id], _env(root)).stdout
    assert output.startswith(f"review_examples {review_id}")
    assert f"{source_file}:{source_line}" in output and "labels.review_examples" in output
    missing = run_cli([CLI, "trace", "review_examples", "no-such-review"], _env(root), returncode=1)
    assert "no-such-review: not found" in missing.stdout


def test_impact_counts_the_rows_of_an_app_version(demo):
    root, _ = demo
    [(version, raw_rows, clean_rows)] = _query(
        root,
        """
        SELECT app_version, count(*), (SELECT count(*) FROM clean.events c WHERE c.app_version = r.app_version)
        FROM raw.events r WHERE app_version IS NOT NULL GROUP BY app_version ORDER BY count(*) DESC, 1 LIMIT 1""",
    )
    output = run_cli([CLI, "impact", "--app-version", version], _env(root)).stdout
    counts = {
        m.group(1): int(m.group(2).replace(",", ""))
        for m in re.finditer(r"^\s+(\S+)\s+([\d,]+)$", output, re.MULTILINE)
    }
    assert counts["raw.events"] == raw_rows > 0
    assert counts["clean.events"] == clean_rows > 0


def test_privacy_erases_a_user_everywhere_and_prints_the_audit(world_copy):
    [(user_id,)] = _query(
        world_copy,
        """
        SELECT user_id FROM raw.events WHERE user_id IS NOT NULL GROUP BY user_id ORDER BY count(*) DESC, 1 LIMIT 1""",
    )
    requests = world_copy / "landing" / "privacy"
    requests.mkdir(parents=True, exist_ok=True)
    (requests / "requests-1.jsonl").write_text(
        json.dumps({"request_id": "req-cli-1", "user_id": user_id, "kind": "erase", "ts": "2026-12-01T10:00:00Z"})
        + "\n"
    )
    done = run_cli([CLI, "privacy"], _env(world_copy))
    summary = json.loads(done.stdout)
    assert summary["erasures"] == 1 and not any(summary["rows_remaining"].values())
    assert _query(world_copy, "SELECT count(*) FROM raw.events WHERE user_id = ?", [user_id]) == [(0,)]
    assert _query(world_copy, "SELECT count(*) FROM privacy.erasure_audit WHERE request_id = 'req-cli-1'")[0][0] > 0
    again = json.loads(run_cli([CLI, "privacy"], _env(world_copy)).stdout)
    assert again["erasures"] == 0  # a request file is read once


def test_invalidate_republishes_without_the_input_and_audits_it(world_copy):
    [(version,)] = _query(
        world_copy,
        """
        SELECT app_version FROM clean.events WHERE app_version IS NOT NULL AND event_type = 'impression'
        GROUP BY 1 ORDER BY count(*), 1 LIMIT 1""",
    )
    [(exports_before,)] = _query(world_copy, "SELECT count(*) FROM splits.exports")
    done = run_cli(
        [CLI, "invalidate", "--app-version", version, "--reason", "a test of the CLI", "--who", "tester"],
        _env(world_copy),
        timeout=1800,
    )
    assert f"app_version {version!r}" in done.stdout
    assert "nothing downstream traces to the input any more" in done.stdout
    assert _query(world_copy, "SELECT count(*) FROM clean.events WHERE app_version = ?", [version]) == [(0,)]
    assert _query(world_copy, "SELECT count(*) FROM splits.exports")[0][0] > exports_before
    [(who, reason)] = _query(world_copy, "SELECT who, reason FROM provenance.invalidations WHERE value = ?", [version])
    assert (who, reason) == ("tester", "a test of the CLI")
