"""The demo as a user runs it, at a small size with two seeds: a real ``data-platform demo`` process on a
temporary instance, warehouse and landing folder. Step 8's story must be true on whatever data the seed
gives: version 1 of the campaign rule removed genuine reviews, its invalidation gives them back, version 2
keeps removing the spam, and no spam is published.

Seed 5 is the demo with its defaults (3 signal days: step 9 too), built here. Seed 11 is the session's small demo
world (conftest's ``small_demo``: seed 11, steps 1-8, no signal days), built once for the session and read by
``test_cli_processes.py`` and ``test_privacy_erasure_e2e.py`` too: building it a second time here cost a whole
demo (about 80 s) for the same checks on the same seed. This test only reads it."""

from __future__ import annotations

import json
import re
from pathlib import Path

import duckdb
import pytest

from data_platform_tests.conftest import SMALL_DEMO_ARGS
from data_platform_tests.processes import BIN, platform_env, run_cli

SMALL_DEMO_SEED = int(SMALL_DEMO_ARGS[SMALL_DEMO_ARGS.index("--seed") + 1])


@pytest.fixture
def demo_world(request, tmp_path) -> tuple[Path, str]:
    """(root, the demo's output) of a small demo world of seed ``request.param``, in :func:`platform_env`'s
    layout: the session's ``small_demo`` for its seed, else a demo process with its default signal days."""
    seed = request.param
    if seed == SMALL_DEMO_SEED:
        return request.getfixturevalue("small_demo")
    done = run_cli(
        [str(BIN / "data-platform"), "demo", "--days", "2", "--events-per-day", "2000", "--seed", str(seed)],
        platform_env(tmp_path, home=tmp_path / "home"),
        timeout=3000,
    )
    return tmp_path, done.stdout


@pytest.mark.slow
@pytest.mark.parametrize("demo_world", [5, SMALL_DEMO_SEED], indirect=True, ids=lambda seed: f"seed{seed}")
def test_the_demo_tells_a_true_story_at_a_small_size(demo_world):
    root, out = demo_world
    assert "nothing downstream traces to the input any more" in out
    # step 7 shows the near-duplicate check: the generator's injected pairs found, none across splits
    near = next(x for x in out.splitlines() if "no_near_duplicate_leakage" in x)
    found, injected = map(int, re.search(r"(\d+) of the generator's (\d+) injected pairs", near).groups())
    assert near.strip().startswith("PASSED splits/review_examples") and "0 near-duplicate review pairs across" in near
    assert found == injected > 0

    def figures(when: str) -> dict[str, tuple[int, float, float]]:
        line = next(x for x in out.splitlines() if x.strip().startswith(f"spam rules {when}"))
        return {
            rule: (int(n), float(p), float(r))
            for rule, n, p, r in re.findall(
                r"(\w+@\d+|all rules) removes (\d+) \(precision ([\d.]+), recall ([\d.]+)\)", line
            )
        }

    before, after = figures("before"), figures("after")
    assert before["repeated_review_with_link@1"][1] < 1.0  # it removed genuine reviews too
    assert "repeated_review_with_link@1" not in after
    assert after["repeated_review_with_link@2"][1:] == (1.0, 1.0) and after["all rules"][1:] == (1.0, 1.0)

    manifest = json.loads(next((root / "landing" / "events").glob("manifest-2026-11-01-*.json")).read_text())
    spam = manifest["reviews"]["spam_event_ids"]
    assert spam
    with duckdb.connect(str(root / "warehouse.duckdb"), read_only=True) as con:
        restored = con.execute(
            "SELECT count(*) FROM labels.review_examples r JOIN raw.events e "
            "ON e.event_id = r.review_id WHERE e.text LIKE '%example-shop.com/%'"
        ).fetchone()[0]
        path = con.execute(
            "SELECT path FROM splits.exports WHERE dataset = 'review_examples' ORDER BY created_at DESC LIMIT 1"
        ).fetchone()[0]
        published = {r[0] for r in con.execute(f"SELECT example_id FROM read_parquet('{path}/*.parquet')").fetchall()}
    assert restored > 0
    assert published and not published & set(spam)
    # the synthetic twin of the click data is published once, after the datasets, and passed its privacy check
    assert len(re.findall(r"^   twin \w+: [\d,]+ synthetic rows", out, re.M)) == 1 and " 0 exact copies" in out
    with duckdb.connect(str(root / "warehouse.duckdb"), read_only=True) as con:
        assert con.execute("SELECT count(*) FROM splits.twins").fetchone()[0] == 1

    # the demo leaves the instance as a daemon would: the openlineage_sensor sent every finished run's events to
    # the default file, each one valid, each run a START and an end, each materialization a START and an end
    import dagster as dg
    from dagster._core.instance.ref import InstanceRef

    from data_platform_tests.test_provenance_openlineage import read_events, validate

    events = read_events(root / "lineage" / "openlineage.jsonl")
    validate(events)
    with dg.DagsterInstance.from_ref(InstanceRef.from_dir(str(root / "home"))) as instance:
        finished = {r.run_id for r in instance.get_runs() if r.is_finished}
    states: dict[tuple[str, str], list[str]] = {}
    for e in events:
        states.setdefault((e["job"]["name"], e["run"]["runId"]), []).append(e["eventType"])
    assert {run for (_, run) in states if run in finished} == finished
    assert all(s[0] == "START" and len(s) == 2 and s[1] in ("COMPLETE", "FAIL", "ABORT") for s in states.values())
