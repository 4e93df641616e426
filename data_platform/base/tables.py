"""Table contracts: a pandera model for every stage's tables, validated per partition in bounded chunks.

Each :class:`TableContract` names a warehouse table, its columns (names and DuckDB types taken from the
stage's own DDL, so the contract cannot drift from the table), which columns may not be NULL, value
checks per column (domains, ranges), row checks across columns, and the key that must be unique.
From it come:

- the pandera (polars) schema, :meth:`TableContract.schema`;
- the ``dagster/column_schema`` the UI shows, :meth:`TableContract.table_schema`, with the same
  constraints (nullable, unique, checks);
- the blocking asset check ``pandera_contract`` (see ``validation/checks.py``).

The machinery lives here, below every stage; each stage declares the contracts of its own tables
(``<stage>/stage.py``) and ``data_platform/catalog.py`` collects them.

**How large partitions are validated** (:func:`validate_partition`): never whole in Python. The
partition's rows stream out of DuckDB as Arrow record batches of ``chunk_rows`` rows (default 100k)
and each batch is validated by pandera's polars backend (types, nullability, domains, row checks), so
memory is bounded by the chunk, not the partition. Uniqueness cannot be judged chunk by chunk: it is
checked in DuckDB with one ``GROUP BY ... HAVING count(*) > 1`` over the partition.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import dagster as dg
import duckdb
import pandera.polars as pa
import polars as pl
import pyarrow

from data_platform import contracts as raw_contract
from data_platform.resources import run_sql

POLARS_TYPES = {
    "VARCHAR": pl.String,
    "JSON": pl.String,
    "BIGINT": pl.Int64,
    "INTEGER": pl.Int32,
    "DOUBLE": pl.Float64,
    "BOOLEAN": pl.Boolean,
    "DATE": pl.Date,
    "TIMESTAMPTZ": pl.Datetime("us", "UTC"),
    "TIMESTAMP WITH TIME ZONE": pl.Datetime("us", "UTC"),
    "VARCHAR[]": pl.List(pl.String),
}
ARROW_TYPES = {
    "VARCHAR": pyarrow.string(),
    "BIGINT": pyarrow.int64(),
    "INTEGER": pyarrow.int32(),
    "DOUBLE": pyarrow.float64(),
    "BOOLEAN": pyarrow.bool_(),
    "DATE": pyarrow.date32(),
    "TIMESTAMPTZ": pyarrow.timestamp("us", tz="UTC"),
    "TIMESTAMP WITH TIME ZONE": pyarrow.timestamp("us", tz="UTC"),
}
SAMPLE_ROWS = 5


@dataclass(frozen=True)
class TableContract:
    """What one table promises. ``columns``: (name, DuckDB type, description) in table order."""

    table: str
    columns: tuple[tuple[str, str, str], ...]
    partition_column: str | None
    required: frozenset[str]
    unique: tuple[str, ...] = ()
    column_checks: dict[str, list[pa.Check]] = field(default_factory=dict)
    row_checks: tuple[pa.Check, ...] = ()
    description: str = ""
    written_by: str | None = None  # the asset that writes a side table (default: the table's own asset)

    @property
    def asset_key(self) -> dg.AssetKey:
        """The asset that materializes the table (asset keys mirror schema/table; a side table such as
        clean.duplicates belongs to the asset that writes it)."""
        return dg.AssetKey((self.written_by or self.table).replace(".", "/").split("/"))

    @property
    def check_name(self) -> str:
        """``pandera_contract`` for an asset's own table, ``pandera_<table>`` for a side table."""
        return f"pandera_{self.table.split('.')[1]}" if self.written_by else "pandera_contract"

    def schema(self) -> pa.DataFrameSchema:
        """The pandera (polars) schema of one chunk of the table."""
        unknown = (set(self.column_checks) | set(self.required)) - {c for c, _, _ in self.columns}
        if unknown:
            raise ValueError(f"{self.table}: checks or requirements name unknown columns {sorted(unknown)}")
        return pa.DataFrameSchema(
            {
                name: pa.Column(
                    POLARS_TYPES[typ],
                    nullable=name not in self.required,
                    checks=self.column_checks.get(name, []),
                    description=desc or None,
                )
                for name, typ, desc in self.columns
            },
            checks=list(self.row_checks),
            name=self.table,
            description=self.description,
            strict=True,
        )

    def arrow_schema(self):
        """The pyarrow schema of the table's rows, for writing rows computed in Python
        (:func:`data_platform.resources.write_rows`)."""
        return pyarrow.schema([(name, ARROW_TYPES[typ]) for name, typ, _ in self.columns])

    def table_schema(self) -> dg.TableSchema:
        """The dagster/column_schema, constraints included, from the same definitions."""
        return dg.TableSchema(
            columns=[
                dg.TableColumn(
                    name=name,
                    type=typ,
                    description=desc or None,
                    constraints=dg.TableColumnConstraints(
                        nullable=name not in self.required,
                        unique=self.unique == (name,),
                        other=[str(c.error or c.name) for c in self.column_checks.get(name, [])],
                    ),
                )
                for name, typ, desc in self.columns
            ],
            constraints=dg.TableConstraints(
                other=[
                    *([f"unique ({', '.join(self.unique)})"] if self.unique else []),
                    *[str(c.error or c.name) for c in self.row_checks],
                ]
            ),
        )


def isin(values) -> pa.Check:
    """The column's values are among ``values``."""
    return pa.Check.isin(list(values), error=f"in {{{', '.join(map(str, values))}}}")


def between(lo: float, hi: float) -> pa.Check:
    """The column's values lie in ``[lo, hi]``."""
    return pa.Check.in_range(lo, hi, error=f"in [{lo}, {hi}]")


def at_least(lo: float) -> pa.Check:
    """The column's values are ``>= lo``."""
    return pa.Check.ge(lo, error=f">= {lo}")


def row_check(name: str, expr: pl.Expr) -> pa.Check:
    """A check across columns; ``expr`` is True for a good row."""
    return pa.Check(lambda data: data.lazyframe.select(expr.fill_null(False)), name=name, error=name)


def required_by_event_type() -> list[pa.Check]:
    """Per event type, the contract's required fields are present (e.g. an impression has a position)."""
    checks = []
    for field_ in raw_contract.FIELDS:
        types = [t for t in field_.required_for if t]
        if not types or set(types) == set(raw_contract.EVENT_TYPES):
            continue
        checks.append(
            row_check(
                f"{field_.name} present for {'/'.join(types)}",
                ~pl.col("event_type").is_in(types) | pl.col(field_.name).is_not_null(),
            )
        )
    return checks


EVENT_DAY = row_check("event_date is the UTC day of ts", pl.col("event_date") == pl.col("ts").dt.date())
PROVENANCE_COLUMNS = {"source_file", "source_line", "file_sha256"}


def always_required() -> set[str]:
    """The event contract's fields that every event type must carry."""
    return {f.name for f in raw_contract.FIELDS if set(f.required_for) == set(raw_contract.EVENT_TYPES)}


def raw_event_checks() -> dict[str, list[pa.Check]]:
    """The event contract's value checks per field: the event type domain and the numeric bounds."""
    checks: dict[str, list[pa.Check]] = {"event_type": [isin(raw_contract.EVENT_TYPES)]}
    for f in raw_contract.FIELDS:
        if f.minimum is not None and f.maximum is not None:
            checks.setdefault(f.name, []).append(between(f.minimum, f.maximum))
        elif f.minimum is not None:
            checks.setdefault(f.name, []).append(at_least(f.minimum))
    return checks


@dataclass
class ContractReport:
    """The outcome of validating one partition of one table."""

    table: str
    rows_checked: int = 0
    failing_rows: int = 0
    duplicate_keys: int = 0
    failures: dict[str, int] = field(default_factory=dict)  # "column: check" -> failing rows
    sample: list[dict] = field(default_factory=list)  # a few failing rows: where and why
    chunks: int = 0

    @property
    def passed(self) -> bool:
        """No failing row and no duplicated key."""
        return self.failing_rows == 0 and self.duplicate_keys == 0


def validate_partition(
    con: duckdb.DuckDBPyConnection,
    contract: TableContract,
    start_day: dt.date | None = None,
    end_day: dt.date | None = None,
    chunk_rows: int = 100_000,
) -> ContractReport:
    """Validate the rows of [start_day, end_day) (all rows for an unpartitioned table) in chunks."""
    report = ContractReport(contract.table)
    schema = contract.schema()
    where, params = _where(contract, start_day, end_day)
    reader = run_sql(con, "validation/contract_rows.sql", params, table=contract.table, where=where).to_arrow_reader(
        chunk_rows
    )
    offset = 0
    for batch in reader:
        frame = pl.from_arrow(batch)
        if not isinstance(frame, pl.DataFrame):  # a one-column batch comes back as a Series
            frame = frame.to_frame()
        report.chunks += 1
        report.rows_checked += frame.height
        _validate_chunk(frame, schema, contract, offset, report)
        offset += frame.height
    if contract.unique:
        keys = ", ".join(contract.unique)
        dup = run_sql(con, "validation/duplicate_keys.sql", params, table=contract.table, where=where, keys=keys)
        names = [d[0] for d in dup.description]
        dups = [dict(zip(names, r)) for r in dup.fetchall()]
        if dups:
            report.duplicate_keys = dups[0]["duplicated_keys"]
            report.failures[f"unique ({keys})"] = report.duplicate_keys
            report.sample += [
                {"check": f"unique ({keys})", **{k: v for k, v in d.items() if k != "duplicated_keys"}}
                for d in dups[:SAMPLE_ROWS]
            ]
    return report


def _where(contract: TableContract, start_day, end_day) -> tuple[str, dict]:
    if contract.partition_column is None or start_day is None:
        return "true", {}
    return (
        f"{contract.partition_column} >= $start_day AND {contract.partition_column} < $end_day",
        {"start_day": start_day, "end_day": end_day},
    )


def _validate_chunk(
    frame: pl.DataFrame, schema: pa.DataFrameSchema, contract: TableContract, offset: int, report: ContractReport
) -> None:
    try:
        schema.validate(frame, lazy=True)
        return
    except pa.errors.SchemaErrors as errors:
        cases = errors.failure_cases
    bad_rows: set[int] = set()
    for (column, check), group in cases.group_by(["column", "check"], maintain_order=True):
        label = f"{'row' if column in (None, contract.table) else column}: {check}"
        indexes = [i for i in group["index"].to_list() if i is not None]
        # a schema-level failure (wrong type, missing column) has no row index: the whole chunk fails
        rows = set(indexes) if indexes else set(range(frame.height))
        report.failures[label] = report.failures.get(label, 0) + len(rows)
        bad_rows |= rows
        for index in sorted(rows)[: max(0, SAMPLE_ROWS - len(report.sample))]:
            row = frame.row(index, named=True) if index < frame.height else {}
            report.sample.append(
                {
                    "check": label,
                    "row": offset + index + 1,
                    **{k: row.get(k) for k in (*contract.unique, column) if k and k in row},
                    "value": str(group["failure_case"][0])[:80],
                }
            )
    report.failing_rows += len(bad_rows)


def contract_markdown(contract: TableContract) -> str:
    """The contract as a markdown table (asset check metadata)."""
    schema = contract.schema()
    lines = [
        f"**{contract.table}**: {contract.description}",
        "",
        "| column | type | not null | checks |",
        "|---|---|---|---|",
    ]
    for name, typ, _ in contract.columns:
        checks = ", ".join(str(c.error or c.name) for c in schema.columns[name].checks)
        lines.append(f"| {name} | {typ} | {'yes' if name in contract.required else ''} | {checks} |")
    if contract.unique:
        lines.append(f"\nunique: ({', '.join(contract.unique)})")
    for check in contract.row_checks:
        lines.append(f"\nrow check: {check.error or check.name}")
    return "\n".join(lines)


__all__ = [
    "EVENT_DAY",
    "PROVENANCE_COLUMNS",
    "ContractReport",
    "TableContract",
    "at_least",
    "between",
    "contract_markdown",
    "isin",
    "raw_event_checks",
    "required_by_event_type",
    "row_check",
    "validate_partition",
]
