"""The definitions load, the graph has the shape the docs promise, and the docs match the code."""

from __future__ import annotations

import tomllib

import dagster as dg

from data_platform import contracts
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
    }
    checks = {(k.asset_key.to_user_string(), k.name) for k in graph.asset_check_keys}
    assert checks == {("raw/files", "lines_accounted"), ("raw/events", "contract_v1"),
                      ("raw/quarantine", "reasons_known"), ("clean/events", "raw_rows_accounted"),
                      ("clean/events", "clean_contract"), ("clean/events", "no_personal_data")}


def test_every_asset_is_described_owned_versioned_and_partitioned_daily():
    for node in defs.resolve_asset_graph().asset_nodes:
        assert len(node.description or "") > 40, node.key
        assert node.owners and node.code_version and node.kinds, node.key
        assert isinstance(node.partitions_def, dg.DailyPartitionsDefinition), node.key
        assert "dagster/column_schema" in node.metadata, node.key


def test_every_check_is_blocking():
    specs = [spec for a in defs.assets for spec in a.check_specs]
    assert len(specs) == 6 and all(spec.blocking for spec in specs)


def test_readme_contract_tables_are_generated_from_the_code():
    readme = (PROJECT_ROOT / "README.md").read_text()
    assert contracts.contract_markdown() in readme
    assert contracts.reasons_markdown() in readme


def test_readme_rules_table_is_generated_from_the_registry():
    from data_platform.cleaning.rules import rules_markdown

    assert rules_markdown() in (PROJECT_ROOT / "README.md").read_text()


def test_landing_sensor_runs_the_whole_daily_pipeline():
    job = defs.resolve_job_def("daily_pipeline")
    assert {k.to_user_string() for k in job.asset_layer.executable_asset_keys} >= {"raw/events", "clean/events"}
    assert defs.get_sensor_def("landing_sensor").job_name == "daily_pipeline"


def test_every_dependency_is_pinned_exactly():
    project = tomllib.loads((PROJECT_ROOT / "pyproject.toml").read_text())["project"]
    deps = project["dependencies"] + [d for group in project["optional-dependencies"].values() for d in group]
    assert deps and all("==" in d for d in deps), [d for d in deps if "==" not in d]
