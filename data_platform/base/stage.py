"""What a stage declares once, in its own package (``<stage>/stage.py``), for others to collect.

Privacy (erasure), the contract checks, the CLI summary and column lineage never name another stage's
tables: ``data_platform/catalog.py`` gathers every stage's :class:`Stage` and hands the collected
declarations to them.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import dagster as dg
import duckdb

from data_platform.base import STAGES
from data_platform.base.tables import TableContract
from data_platform.resources import load_sql, run_sql

_PARAM = re.compile(r"\$([A-Za-z_]\w*)")


@dataclass(frozen=True)
class SqlStep:
    """One ``sql/`` statement a stage runs: its file, the structure fragments it is filled with, and the
    parameter values the declaration fixes (a rule's parameters, say)."""

    name: str
    fragments: Mapping[str, str] = field(default_factory=dict)
    params: Mapping[str, Any] = field(default_factory=dict)

    def run(self, con: duckdb.DuckDBPyConnection, values: Mapping[str, Any] | None = None) -> duckdb.DuckDBPyConnection:
        """Execute the statement, binding each ``$name`` it uses from :attr:`params`, else from ``values``
        (the runner's values of the moment: the day, the run id...); a name found in neither is a KeyError."""
        available = {**(values or {}), **self.params}
        wanted = set(_PARAM.findall(load_sql(self.name, **self.fragments)))
        missing = sorted(wanted - set(available))
        if missing:
            raise KeyError(f"{self.name} needs ${', $'.join(missing)}")
        return run_sql(con, self.name, {k: available[k] for k in wanted}, **self.fragments)


@dataclass(frozen=True)
class StepGroup:
    """Statements one function runs together (e.g. a loop until convergence): ``steps`` in the order
    of one pass (what lineage reads), ``runner(con)`` runs them."""

    steps: tuple[SqlStep, ...]
    runner: Callable[[duckdb.DuckDBPyConnection], object]

    def run(self, con: duckdb.DuckDBPyConnection, values: Mapping[str, Any] | None = None) -> object:
        """Run the group (its own values are bound by its runner)."""
        return self.runner(con)


def flatten(steps: Iterable[SqlStep | StepGroup]) -> tuple[SqlStep, ...]:
    """The statements of ``steps``, groups expanded, in order."""
    return tuple(s for step in steps for s in (step.steps if isinstance(step, StepGroup) else (step,)))


Summary = Callable[[duckdb.DuckDBPyConnection, set[tuple[str, str]]], list[str]]


@dataclass(frozen=True)
class Stage:
    """The declarations of one lifecycle stage.

    - ``contracts``: the contracts of the tables the stage writes (validated by blocking checks);
    - ``person_columns``: table -> SQL predicate that finds a person's rows in it, evaluated by an
      erasure with the temp tables ``erase_subject_ids`` (id, pseudonym) and ``erase_events`` (event_id)
      staged (``privacy/requests.py``);
    - ``summary``: ``(connection, existing (schema, table) pairs) -> lines`` for ``data-platform status``;
    - ``steps``: table -> the ordered SQL statements that build it, as the stage's runner executes
      them; the table's column lineage is derived from exactly these;
    - ``file_erasers``: functions that take an erased subject out of the files the stage writes outside the
      warehouse (landing files, export versions, task batches, reports); each is called with a
      ``privacy.files.FileErasure`` once an erase request's rows are gone and returns the files it rewrote
      or deleted (``privacy/files.py`` records them in ``privacy.erased_files``).
    """

    name: str
    contracts: Sequence[TableContract] = ()
    person_columns: Mapping[str, str] = field(default_factory=dict)
    summary: Summary | None = None
    steps: Mapping[str, Sequence[SqlStep | StepGroup]] = field(default_factory=dict)
    file_erasers: Sequence[Callable[[Any], Sequence[Any]]] = ()

    def __post_init__(self) -> None:
        if self.name not in STAGES:
            raise ValueError(f"unknown stage {self.name!r}: the stages are {STAGES}")

    def contract(self, table: str) -> TableContract:
        """The contract this stage declares for ``table``."""
        for contract in self.contracts:
            if contract.table == table:
                return contract
        raise KeyError(f"stage {self.name} declares no contract for {table}")

    def lineage_metadata(self, table: str) -> dict:
        """Column-lineage metadata of ``table`` derived from its declared steps (once per process): the
        ``dagster/column_lineage`` Dagster understands, a readable markdown table (the open-source UI
        does not draw column lineage) and the OpenLineage column-lineage facet."""
        key = (self.name, table)
        if key not in _LINEAGE:
            # sqlglot (about 0.08 s to import) only in the steps that write lineage, not in every process that
            # loads the definitions (each `dg launch`, each run the daemon starts)
            from data_platform.base.lineage import lineage_markdown, lineage_of_sql_files, openlineage_facet, to_dagster

            lineage = lineage_of_sql_files([(s.name, dict(s.fragments)) for s in flatten(self.steps[table])], table)
            _LINEAGE[key] = {
                "dagster/column_lineage": to_dagster(lineage),
                "column_lineage": dg.MetadataValue.md(lineage_markdown(table, lineage)),
                "openlineage_column_lineage": dg.MetadataValue.json(openlineage_facet(table, lineage)),
            }
        return _LINEAGE[key]


_LINEAGE: dict[tuple[str, str], dict] = {}
