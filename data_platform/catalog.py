"""The catalog: every stage's declarations, collected (above every stage, like ``definitions.py``).

Each stage declares once, in ``<stage>/stage.py``, what it owns (:class:`~data_platform.base.stage.Stage`):
its tables' contracts, the predicates that find a person's rows (erasure), its status-summary lines
and the SQL steps its tables are built with. The cross-cutting parts (the contract checks, erasure,
``data-platform status``, column lineage) get the collections below passed in and name no other stage's
tables, with two exceptions in privacy, where the subject is found and keys change: an erasure and a key
rotation read the landed events by name (``privacy/landed.py``: ``raw.events``, or no row before the first
ingestion), and ``privacy/keys.py`` lists the clean tables that carry pseudonyms. Adding a stage: write its
``stage.py`` and list its ``STAGE`` here.
"""

from __future__ import annotations

import duckdb

from data_platform.base import STAGES
from data_platform.base.stage import SqlStep, Stage, flatten
from data_platform.base.tables import TableContract
from data_platform.cleaning.stage import STAGE as CLEANING
from data_platform.flywheel.stage import STAGE as FLYWHEEL
from data_platform.ingestion.stage import STAGE as INGESTION
from data_platform.labeling.stage import STAGE as LABELING
from data_platform.provenance.stage import STAGE as PROVENANCE
from data_platform.splits.stage import STAGE as SPLITS
from data_platform.training.stage import STAGE as TRAINING
from data_platform.validation.stage import STAGE as VALIDATION

DECLARED: tuple[Stage, ...] = tuple(
    sorted(
        (INGESTION, CLEANING, LABELING, VALIDATION, SPLITS, PROVENANCE, FLYWHEEL, TRAINING),
        key=lambda s: STAGES.index(s.name),
    )
)
"""Every stage's declarations, in stage order."""


def _unique(pairs, what: str) -> dict:
    out: dict = {}
    for stage, key, value in pairs:
        if key in out:
            raise ValueError(f"{what} {key} is declared twice (again by stage {stage})")
        out[key] = value
    return out


CONTRACTS: dict[str, TableContract] = _unique(
    ((s.name, c.table, c) for s in DECLARED for c in s.contracts), "the contract of"
)
"""Every table contract, by table."""

PERSON_TABLES: dict[str, str] = _unique(
    ((s.name, t, p) for s in reversed(DECLARED) for t, p in s.person_columns.items()), "the person columns of"
)
"""Table -> the predicate that finds a person's rows, later stages first: derived rows are erased before
the rows they were derived from (a split table finds the person's impressions through raw.events)."""

FILE_ERASERS: tuple = tuple(eraser for s in DECLARED for eraser in s.file_erasers)
"""Every stage's file erasers, in stage order: the landing files are rewritten before the export versions that
point at their lines are re-issued."""

STEPS: dict[str, tuple[SqlStep, ...]] = _unique(
    ((s.name, t, flatten(steps)) for s in DECLARED for t, steps in s.steps.items()), "the steps of"
)
"""Table -> the SQL statements that build it, as its stage runs them (column lineage is derived from these)."""


def summary_lines(con: duckdb.DuckDBPyConnection) -> list[str]:
    """Every stage's status-summary lines, in stage order, over the tables that exist."""
    tables = {
        (s, t)
        for s, t in con.execute("SELECT schema_name, table_name FROM duckdb_tables() WHERE NOT internal").fetchall()
    }
    return [line for stage in DECLARED if stage.summary for line in stage.summary(con, tables)]
