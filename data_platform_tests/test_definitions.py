"""The definitions load, the graph has the shape the docs promise, and the docs match the code."""

from __future__ import annotations

import tomllib

import dagster as dg

from data_platform import contracts
from data_platform.catalog import CONTRACTS
from data_platform.definitions import defs
from data_platform.resources import PROJECT_ROOT


def test_definitions_load():
    dg.Definitions.validate_loadable(defs)


def test_asset_graph_snapshot():
    """Keys, groups, deps and checks: a change here is a lineage change worth a reviewer's look."""
    graph = defs.resolve_asset_graph()
    specs = {
        key.to_user_string(): (
            graph.get(key).group_name,
            sorted(p.to_user_string() for p in graph.get(key).parent_keys),
        )
        for key in graph.get_all_asset_keys()
    }
    assert specs == {
        "raw/files": ("ingestion", []),
        "raw/events": ("ingestion", ["raw/files"]),
        "raw/quarantine": ("ingestion", ["raw/files"]),
        "clean/events": ("cleaning", ["raw/events"]),
        "clean/filtered_events": ("cleaning", ["raw/events"]),
        "clean/identity_map": ("cleaning", ["raw/events"]),
        "labels/ctr_examples": ("labeling", ["clean/events"]),
        "labels/reviews": ("labeling", ["clean/events"]),
        "labels/gold": ("labeling", ["labels/reviews"]),
        "labels/label_matrix": ("labeling", ["labels/gold", "labels/reviews"]),
        "labels/annotations": ("labeling", ["labels/reviews"]),
        "labels/human_consensus": ("labeling", ["labels/annotations", "labels/gold"]),
        "labels/weak_labels": ("labeling", ["labels/gold", "labels/human_consensus", "labels/label_matrix"]),
        "labels/review_examples": (
            "labeling",
            ["labels/gold", "labels/human_consensus", "labels/reviews", "labels/weak_labels"],
        ),
        "labels/annotation_tasks": ("labeling", ["labels/review_examples", "labels/weak_labels"]),
        "monitoring/feature_stats": ("monitoring", ["clean/events", "labels/ctr_examples", "raw/events"]),
        "monitoring/anomalies": ("monitoring", ["monitoring/feature_stats"]),
        "monitoring/source_inventory": ("monitoring", ["raw/events"]),
        "splits/ctr_examples": ("splits", ["clean/identity_map", "labels/ctr_examples"]),
        "splits/review_examples": ("splits", ["clean/identity_map", "labels/review_examples"]),
        "splits/ctr_examples_train_balanced": ("splits", ["splits/ctr_examples"]),
        "exports/ctr_examples": ("splits", ["splits/ctr_examples", "splits/ctr_examples_train_balanced"]),
        "exports/review_examples": ("splits", ["splits/review_examples"]),
        "synthetic/ctr_examples": ("synthetic", ["exports/ctr_examples"]),
        "provenance/invalidations": ("provenance", []),
        "labels/labeling_plan": (
            "labeling",
            ["labels/annotations", "labels/gold", "labels/human_consensus", "training/model_runs"],
        ),
        "monitoring/retraining_signal": (
            "monitoring",
            [
                "exports/ctr_examples",
                "exports/review_examples",
                "labels/ctr_examples",
                "labels/review_examples",
                "monitoring/feature_stats",
            ],
        ),
        "training/ctr_examples_trigger": ("training", ["monitoring/retraining_signal"]),
        "training/review_examples_trigger": ("training", ["monitoring/retraining_signal"]),
        "training/model_runs": (
            "training",
            [
                "exports/ctr_examples",
                "exports/review_examples",
                "training/ctr_examples_trigger",
                "training/review_examples_trigger",
            ],
        ),
    }
    checks = {(k.asset_key.to_user_string(), k.name) for k in graph.asset_check_keys}
    assert checks == {
        ("raw/files", "lines_accounted"),
        ("raw/events", "contract_v1"),
        ("raw/quarantine", "reasons_known"),
        ("clean/events", "raw_rows_accounted"),
        ("clean/events", "clean_contract"),
        ("clean/events", "no_personal_data"),
        ("labels/ctr_examples", "ctr_examples_accounted"),
        ("labels/ctr_examples", "ctr_calibration"),
        ("labels/human_consensus", "rater_agreement"),
        ("labels/review_examples", "review_examples_accounted"),
        ("labels/review_examples", "no_known_spam"),
        ("monitoring/anomalies", "no_error_anomalies"),
        ("monitoring/anomalies", "no_warn_anomalies"),
        *{
            (f"splits/{d}", c)
            for d in ("ctr_examples", "review_examples")
            for c in ("split_ratios", "label_balance", "no_leakage", "fairness")
        },
        ("splits/review_examples", "no_near_duplicate_leakage"),  # text datasets only
        ("splits/ctr_examples_train_balanced", "synthetic_only_in_train"),
        ("synthetic/ctr_examples", "privacy"),
        ("provenance/invalidations", "invalidated_inputs_gone"),
        ("labels/labeling_plan", "labeling_step_size"),
        *{(c.asset_key.to_user_string(), c.check_name) for c in CONTRACTS.values()},
    }


# Labeling rounds span every day seen so far: those assets are unpartitioned, and rebuilt whole; so is
# the source inventory.
UNPARTITIONED = {
    "clean/identity_map",
    "labels/reviews",
    "labels/gold",
    "labels/label_matrix",
    "labels/weak_labels",
    "labels/annotations",
    "labels/human_consensus",
    "labels/review_examples",
    "labels/annotation_tasks",
    "monitoring/source_inventory",
    "splits/ctr_examples",
    "splits/review_examples",
    "splits/ctr_examples_train_balanced",
    "exports/ctr_examples",
    "exports/review_examples",
    "synthetic/ctr_examples",
    "provenance/invalidations",
    "labels/labeling_plan",
    "training/ctr_examples_trigger",
    "training/review_examples_trigger",
    "training/model_runs",
}
# Tables rebuilt whole, or monitoring results: their columns are reported by each materialization.
SCHEMA_AT_RUNTIME = UNPARTITIONED | {"monitoring/feature_stats", "monitoring/anomalies"}


def test_every_asset_is_described_owned_versioned_and_partitioned_daily():
    for node in defs.resolve_asset_graph().asset_nodes:
        assert len(node.description or "") > 40, node.key
        assert node.owners and node.code_version and node.kinds, node.key
        key = node.key.to_user_string()
        if key in UNPARTITIONED:
            assert node.partitions_def is None, key
        else:
            assert isinstance(node.partitions_def, dg.DailyPartitionsDefinition), key
        if key not in SCHEMA_AT_RUNTIME:
            assert "dagster/column_schema" in node.metadata, key


def test_every_table_asset_describes_every_column():
    """Every asset page shows what each column means: every declared column schema has a description
    on every column, and every asset whose table a stage's DDL or contract defines declares one."""
    from data_platform.metadata import ddl_tables

    tables = set(ddl_tables()) | set(CONTRACTS)
    undescribed = {}
    for spec in defs.resolve_all_asset_specs():
        schema = spec.metadata.get("dagster/column_schema")
        if schema is None:
            assert ".".join(spec.key.path) not in tables, f"{spec.key.to_user_string()} has no column schema"
            continue
        if missing := [c.name for c in schema.columns if not c.description]:
            undescribed[spec.key.to_user_string()] = missing
    assert undescribed == {}
    assert "labels.ctr_examples" in tables and "labels.review_examples" in tables


def test_every_table_a_stage_creates_describes_every_column():
    """Tables behind runtime schemas too (monitoring, annotations, privacy, provenance): what a
    materialization reports as its columns comes from the same descriptions."""
    from data_platform.metadata import ddl_tables

    undescribed = {
        table: [c.name for c in schema.columns if not c.description] for table, schema in ddl_tables().items()
    }
    assert {t: cols for t, cols in undescribed.items() if cols} == {}
    assert {"labels.ctr_examples", "monitoring.anomalies", "monitoring.feature_stats", "labels.tasks"} <= set(
        undescribed
    )


def test_ddl_catalog_reads_each_file_as_a_fresh_database_would():
    """The column schemas read from the DDL files (one shared in-memory DuckDB, a database and a
    connection per file) are what each file creates in a database of its own: same tables, columns,
    types and order; a temporary table is listed under ``main`` and stays with its own file."""
    import duckdb

    from data_platform.metadata import _ddl_catalog
    from data_platform.resources import SQL_DIR, load_sql

    names = sorted(f"{p.parent.name}/{p.name}" for p in SQL_DIR.glob("*/create_*.sql") if "{" not in p.read_text())
    assert "cleaning/create_rule_hits.sql" in names and len(names) >= 10
    for name in [*names, *names]:  # twice: a second read of a file gives the same answer as the first
        fresh = duckdb.connect()
        fresh.execute(load_sql(name))
        expected: dict[str, list[tuple[str, str]]] = {}
        for schema, table, column, dtype in fresh.execute(
            "SELECT schema_name, table_name, column_name, data_type FROM duckdb_columns() "
            "WHERE NOT internal ORDER BY schema_name, table_name, column_index"
        ).fetchall():
            expected.setdefault(f"{schema}.{table}", []).append((column, dtype))
        fresh.close()
        _ddl_catalog.cache_clear()
        assert _ddl_catalog(name) == expected, name
    assert list(_ddl_catalog("cleaning/create_rule_hits.sql")) == ["main.rule_hits"]
    assert "main.rule_hits" not in _ddl_catalog("cleaning/create_tables.sql")


# Every check by name: does it block downstream steps? (The webserver test asserts the same through the UI's API.)
BLOCKING = {
    "lines_accounted": True,
    "contract_v1": True,
    "reasons_known": True,
    "raw_rows_accounted": True,
    "clean_contract": True,
    "no_personal_data": True,
    "ctr_examples_accounted": True,
    "review_examples_accounted": True,
    "no_known_spam": True,
    "pandera_contract": True,
    "pandera_duplicates": True,
    "pandera_unattributed_clicks": True,
    "pandera_version_comparisons": True,
    "ctr_calibration": False,
    "rater_agreement": False,
    "no_error_anomalies": False,
    "no_warn_anomalies": False,
    "split_ratios": True,
    "label_balance": True,
    "no_leakage": True,
    "no_near_duplicate_leakage": True,
    "fairness": False,
    "synthetic_only_in_train": True,
    "privacy": True,
    "invalidated_inputs_gone": False,
    "labeling_step_size": False,
}


def test_contract_and_accounting_checks_block_and_quality_alarms_do_not():
    """Checks that guard a table's contract or accounting stop downstream steps; checks that grade
    data or people (calibration of a serving model, rater agreement) alarm without blocking."""
    graph = defs.resolve_asset_graph()
    specs = {key.name: graph.get_check_spec(key).blocking for key in graph.asset_check_keys}
    assert specs == BLOCKING


def test_freshness_policies_follow_the_source_inventory():
    graph = defs.resolve_asset_graph()
    policy = graph.get(dg.AssetKey(["raw", "events"])).freshness_policy
    assert policy is not None and policy.fail_window.to_timedelta().total_seconds() == 2 * 3600
    assert graph.get(dg.AssetKey(["labels", "annotations"])).freshness_policy.fail_window.to_timedelta().days == 14


def test_contract_page_tables_are_generated_from_the_code():
    page = (PROJECT_ROOT / "docs" / "contract.md").read_text()
    assert contracts.contract_markdown() in page
    assert contracts.reasons_markdown() in page


def test_cleaning_page_rules_table_is_generated_from_the_registry():
    from data_platform.cleaning.rules import rules_markdown

    assert rules_markdown() in (PROJECT_ROOT / "docs" / "cleaning.md").read_text()


def test_landing_sensor_runs_the_whole_daily_pipeline():
    job = defs.resolve_job_def("daily_pipeline")
    assert {k.to_user_string() for k in job.asset_layer.executable_asset_keys} >= {"raw/events", "clean/events"}
    assert defs.get_sensor_def("landing_sensor").job_name == "daily_pipeline"


def test_labeling_page_lists_the_labeling_functions():
    from data_platform.labeling.functions import lfs_markdown

    assert lfs_markdown() in (PROJECT_ROOT / "docs" / "labeling.md").read_text()


def test_every_dependency_is_pinned_exactly():
    project = tomllib.loads((PROJECT_ROOT / "pyproject.toml").read_text())["project"]
    deps = project["dependencies"] + [d for group in project["optional-dependencies"].values() for d in group]
    assert deps and all("==" in d for d in deps), [d for d in deps if "==" not in d]


def _stdout_of(cmd: list[str]) -> str:
    """Run ``cmd``, check it succeeds, return what it printed."""
    import subprocess

    done = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


def _last_line_printed_by(code: str) -> str:
    """Run ``code`` in a fresh interpreter (this one's), check it succeeds, return the last line it printed."""
    import sys

    return _stdout_of([sys.executable, "-c", code]).splitlines()[-1]


def test_a_process_that_loaded_the_definitions_freezes_its_objects_at_exit():
    """Python's shutdown would walk every object of Dagster's and ours for garbage cycles (about 0.8 s after
    a `dg launch` run's last event on a quiet machine); the definitions register gc.freeze to run at exit, after the
    other exit handlers, so that walk is skipped. Checked in a fresh interpreter: nothing is frozen while
    the process runs, everything once its exit handlers have run."""
    code = (
        "import atexit, gc\n"
        "import data_platform.definitions\n"
        "assert gc.get_freeze_count() == 0, gc.get_freeze_count()\n"
        "atexit._run_exitfuncs()\n"
        "print(gc.get_freeze_count())\n"
    )
    assert int(_last_line_printed_by(code)) > 10_000


def test_loading_the_definitions_imports_no_library_that_only_steps_use():
    """Every `dg launch` and every run the daemon starts loads the definitions first: sqlglot (column lineage),
    polars (pandera schemas, the baselines' and the twin's frames), pandas, scikit-learn and pandera are imported
    by the steps that use them, not at load (together several tenths of a second of every process). Checked in a
    fresh interpreter."""
    step_only = ["sqlglot", "polars", "pandas", "sklearn", "scipy", "pandera"]
    code = f"import sys\nimport data_platform.definitions\nprint([m for m in {step_only!r} if m in sys.modules])\n"
    assert _last_line_printed_by(code) == "[]"


def test_the_launch_process_is_dg_launch_without_dgs_other_commands():
    """`data-platform launch` and the demo start dg's own launch command in dg's own group
    (data_platform/dg_launch_cli.py), not the `dg` script, which imports every one of its commands first: the same
    options as `dg launch`, and none of dg's other command modules loaded."""
    import re
    import sys
    from pathlib import Path

    from data_platform.launch import DG_LAUNCH

    def usage(cmd: list[str]) -> list[str]:
        """The command's help, lines stripped, its program name (``dg``, ``python -m ...``) left out."""
        return [
            re.sub(r"^Usage: .* launch ", "Usage: launch ", line.strip())
            for line in _stdout_of([*cmd, "--help"]).splitlines()
        ]

    dg_usage = usage([str(Path(sys.executable).with_name("dg")), "launch"])
    assert "Usage: launch [OPTIONS]" in dg_usage and usage(DG_LAUNCH) == dg_usage
    code = (
        "import sys\n"
        "from data_platform import dg_launch_cli\n"
        "sys.argv = ['dg', 'launch', '--help']\n"
        "try:\n"
        "    dg_launch_cli.main()\n"
        "except SystemExit:\n"
        "    pass\n"
        "print(sorted(m for m in sys.modules if m.startswith('dagster_dg_cli.cli.')))\n"
    )
    loaded = _last_line_printed_by(code)
    assert "scaffold" not in loaded and "plus" not in loaded and "labs" not in loaded, loaded
