"""The house's layers: the base imports no stage, a stage imports only the base and the stages before it
(``data_platform.base.STAGES``), and only the assembly modules (catalog, definitions, cli) import freely.

Every ``import`` in every module counts, also one inside a function."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import data_platform
from data_platform import catalog
from data_platform.base import ASSEMBLY, STAGES

PACKAGE = Path(data_platform.__file__).parent
BASE = -1
TOP = len(STAGES)
# known upward imports, each with its reason (none today; a stale entry fails the test below)
KNOWN_EXCEPTIONS: set[tuple[str, str]] = set()


def layer(module: str) -> int:
    """The rank of a ``data_platform`` module: -1 for the base layer, a stage's index, or above all."""
    parts = module.split(".")
    if len(parts) == 1:
        return BASE  # the package itself
    head = parts[1]
    if head in STAGES:
        return STAGES.index(head)
    if head in ASSEMBLY:
        return TOP
    return BASE


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports(path: Path) -> list[tuple[int, str]]:
    """(line, imported data_platform module) of every import in the file, relative ones resolved."""
    module = module_name(path)
    package = module if path.name == "__init__.py" else module.rsplit(".", 1)[0]
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, a.name) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            # "from data_platform import contracts" imports the module data_platform.contracts
            found += [(node.lineno, f"{target}.{a.name}" if target == "data_platform" else target) for a in node.names]
    return [(line, t) for line, t in found if t == "data_platform" or t.startswith("data_platform.")]


def edges() -> list[tuple[str, int, str]]:
    return [(module_name(p), line, target) for p in sorted(PACKAGE.rglob("*.py")) for line, target in imports(p)]


def test_every_stage_package_is_placed_in_the_stage_order():
    packages = {p.parent.name for p in PACKAGE.glob("*/__init__.py")} - {"base", *ASSEMBLY}
    assert packages == set(STAGES), "a new stage package must be listed in data_platform.base.STAGES"


def test_no_module_imports_a_layer_above_its_own():
    upward = [
        f"{m}:{line} imports {t}" for m, line, t in edges() if layer(t) > layer(m) and (m, t) not in KNOWN_EXCEPTIONS
    ]
    assert upward == []
    # an exception that no longer exists is removed from the list
    assert {(m, t) for m, _, t in edges()} >= KNOWN_EXCEPTIONS


def test_no_two_stage_packages_import_each_other():
    pairs = {
        (m.split(".")[1], t.split(".")[1])
        for m, _, t in edges()
        if BASE < layer(m) < TOP and BASE < layer(t) < TOP and layer(m) != layer(t)
    }
    assert {(a, b) for a, b in pairs if (b, a) in pairs} == set()


@pytest.mark.parametrize(
    ("module", "target", "upward"),
    [
        ("data_platform.cleaning.assets", "data_platform.validation.checks", True),
        ("data_platform.validation.assets", "data_platform.cleaning.rules", False),
        ("data_platform.metadata", "data_platform.privacy.redaction", True),
        ("data_platform.base.tables", "data_platform.contracts", False),
        ("data_platform.definitions", "data_platform.flywheel.assets", False),
    ],
)
def test_the_rule_judges_an_edge_by_the_stage_order(module, target, upward):
    assert (layer(target) > layer(module)) is upward


def test_the_import_walk_sees_imports_inside_functions():
    # the cli package imports stages only inside its command functions
    assert any(t.startswith("data_platform.privacy.") for m, _, t in edges() if m.startswith("data_platform.cli."))


def test_every_stage_declaration_is_collected():
    declared = {p.parent.name for p in PACKAGE.glob("*/stage.py")} - {"base"}
    assert {s.name for s in catalog.DECLARED} == declared
    assert [s.name for s in catalog.DECLARED] == sorted(declared, key=STAGES.index)
