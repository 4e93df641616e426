"""Table contracts: a pandera model for every stage's tables, validated per partition in DuckDB.

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

**How partitions are validated** (:func:`validate_partition`): where the table already is, never by a
second pass of its rows in Python. The contract compiles to DuckDB conditions (:func:`sql_checks`: the
column types from the catalog, nullability, pandera's built-in checks from their statistics, the row
checks from the SQL they are declared with, which also gives pandera its polars expression), and one
aggregate over the partition counts the failing rows of each; a few failing rows are read back only
when something fails. Uniqueness: ``GROUP BY ... HAVING count(*) > 1`` over the partition, hash first.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import dagster as dg
import duckdb
import pyarrow

if TYPE_CHECKING:
    import pandera.polars as pa

from data_platform import contracts as raw_contract
from data_platform.resources import repeated_key_hashes_sql, run_sql


def polars_type(duckdb_type: str):
    """The polars type of a contract column's DuckDB type (pandera's schema). Polars is imported here, when a
    pandera schema is asked for, not when the contracts are declared (every definitions load)."""
    import polars as pl

    return {
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
    }[duckdb_type]


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
class ContractCheck:
    """One check of a contract, as declared: the name of the pandera built-in it is (``isin``, ``in_range``,
    ``greater_than_or_equal_to``, ``str_matches``) or of a row check, its message, and its statistics (what
    DuckDB's condition is built from). Plain data, so declaring the stages' contracts (every definitions load,
    every run's start) does not import pandera; :meth:`pandera` builds the pandera check when a schema is
    asked for."""

    name: str
    error: str
    statistics: dict[str, Any] = field(default_factory=dict, hash=False)
    row: bool = False  # a check across columns: statistics["sql"] is its condition

    def pandera(self) -> pa.Check:
        """The same check as a pandera (polars) check; a row check's condition becomes a polars expression
        (``pl.sql_expr``), so the SQL and pandera forms cannot drift."""
        import pandera.polars as pa
        import polars as pl

        if self.row:
            expr = pl.sql_expr(self.statistics["sql"])
            return pa.Check(
                lambda data: data.lazyframe.select(expr.fill_null(False)),
                name=self.name,
                error=self.error,
                statistics=dict(self.statistics),
            )
        stats = self.statistics
        if self.name == "isin":
            return pa.Check.isin(list(stats["allowed_values"]), error=self.error)
        if self.name == "in_range":
            return pa.Check.in_range(stats["min_value"], stats["max_value"], error=self.error)
        if self.name == "greater_than_or_equal_to":
            return pa.Check.ge(stats["min_value"], error=self.error)
        if self.name == "str_matches":
            return pa.Check.str_matches(stats["pattern"], error=self.error)
        raise ValueError(f"no pandera check for {self.name!r}")


@dataclass(frozen=True)
class TableContract:
    """What one table promises. ``columns``: (name, DuckDB type, description) in table order."""

    table: str
    columns: tuple[tuple[str, str, str], ...]
    partition_column: str | None
    required: frozenset[str]
    unique: tuple[str, ...] = ()
    column_checks: dict[str, list[ContractCheck]] = field(default_factory=dict)
    row_checks: tuple[ContractCheck, ...] = ()
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
        import pandera.polars as pa

        self.check_columns()
        return pa.DataFrameSchema(
            {
                name: pa.Column(
                    polars_type(typ),
                    nullable=name not in self.required,
                    checks=[c.pandera() for c in self.column_checks.get(name, [])],
                    description=desc or None,
                )
                for name, typ, desc in self.columns
            },
            checks=[c.pandera() for c in self.row_checks],
            name=self.table,
            description=self.description,
            strict=True,
        )

    def check_columns(self) -> None:
        """ValueError if a check or a requirement names a column the table does not have."""
        unknown = (set(self.column_checks) | set(self.required)) - {c for c, _, _ in self.columns}
        if unknown:
            raise ValueError(f"{self.table}: checks or requirements name unknown columns {sorted(unknown)}")

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


def isin(values) -> ContractCheck:
    """The column's values are among ``values``."""
    values = list(values)
    return ContractCheck("isin", f"in {{{', '.join(map(str, values))}}}", {"allowed_values": values})


def between(lo: float, hi: float) -> ContractCheck:
    """The column's values lie in ``[lo, hi]``."""
    return ContractCheck("in_range", f"in [{lo}, {hi}]", {"min_value": lo, "max_value": hi})


def at_least(lo: float) -> ContractCheck:
    """The column's values are ``>= lo``."""
    return ContractCheck("greater_than_or_equal_to", f">= {lo}", {"min_value": lo})


def matches(pattern: str, error: str) -> ContractCheck:
    """The column's values match the regular expression ``pattern`` (from their start)."""
    return ContractCheck("str_matches", error, {"pattern": pattern})


def row_check(name: str, sql: str) -> ContractCheck:
    """A check across columns; ``sql`` is a SQL condition, true for a good row (NULL counts as false).
    DuckDB evaluates it over the table (:func:`validate_partition`); the pandera schema gets the same
    condition as a polars expression (``pl.sql_expr``), so the two cannot drift."""
    return ContractCheck(name, name, {"sql": sql}, row=True)


def required_by_event_type() -> list[ContractCheck]:
    """Per event type, the contract's required fields are present (e.g. an impression has a position)."""
    checks = []
    for field_ in raw_contract.FIELDS:
        types = [t for t in field_.required_for if t]
        if not types or set(types) == set(raw_contract.EVENT_TYPES):
            continue
        checks.append(
            row_check(
                f"{field_.name} present for {'/'.join(types)}",
                f"event_type NOT IN ({', '.join(repr(t) for t in types)}) OR {field_.name} IS NOT NULL",
            )
        )
    return checks


EVENT_DAY = row_check("event_date is the UTC day of ts", "event_date = CAST(ts AS DATE)")  # sessions run in UTC
PROVENANCE_COLUMNS = {"source_file", "source_line", "file_sha256"}


def always_required() -> set[str]:
    """The event contract's fields that every event type must carry."""
    return {f.name for f in raw_contract.FIELDS if set(f.required_for) == set(raw_contract.EVENT_TYPES)}


def raw_event_checks() -> dict[str, list[ContractCheck]]:
    """The event contract's value checks per field: the event type domain and the numeric bounds."""
    checks: dict[str, list[ContractCheck]] = {"event_type": [isin(raw_contract.EVENT_TYPES)]}
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

    @property
    def passed(self) -> bool:
        """No failing row and no duplicated key."""
        return self.failing_rows == 0 and self.duplicate_keys == 0


@dataclass(frozen=True)
class SqlCheck:
    """One check of a contract as DuckDB evaluates it: its label (``column: check``, ``row: check``), the
    SQL condition true for a *failing* row, the column it is about (None for a row check) and the values
    the condition binds."""

    label: str
    failing: str
    column: str | None = None
    params: dict = field(default_factory=dict)


def _column_check_sql(column: str, check: ContractCheck, n: int) -> tuple[str, dict]:
    """The SQL condition a non-NULL value of ``column`` passes, from a pandera built-in check's statistics
    (pandera ignores NULLs in column checks; nullability is its own check)."""
    stats, p = check.statistics or {}, f"c{n}"
    if check.name == "isin":
        return f"list_contains(${p}, {column})", {p: list(stats["allowed_values"])}
    if check.name == "in_range":
        lo, hi = ">=" if stats.get("include_min", True) else ">", "<=" if stats.get("include_max", True) else "<"
        return f"{column} {lo} ${p}_lo AND {column} {hi} ${p}_hi", {
            f"{p}_lo": stats["min_value"],
            f"{p}_hi": stats["max_value"],
        }
    if check.name == "greater_than_or_equal_to":
        return f"{column} >= ${p}", {p: stats["min_value"]}
    if check.name == "str_matches":
        return f"regexp_matches({column}, ${p})", {p: stats["pattern"]}
    raise ValueError(f"no SQL for the pandera check {check.name!r} on {column}: add it to _column_check_sql")


def sql_checks(contract: TableContract, present: dict[str, str]) -> list[SqlCheck]:
    """The contract's checks as DuckDB conditions over a table whose columns and types are ``present``
    (``name -> DuckDB type``), labelled as pandera labels its failure cases: schema problems first (a
    missing, unexpected or mistyped column fails every row), then per column nullability and its checks,
    then the row checks. Checks on a column the table lacks or mistypes are left out (that is reported),
    and so are the row checks then."""
    expected = {name: typ for name, typ, _ in contract.columns}
    usable = {c for c, typ in expected.items() if c in present and _normal_type(present[c]) == _normal_type(typ)}
    out = [SqlCheck(f"row: column_in_schema ({c})", "true") for c in present if c not in expected]
    out += [SqlCheck(f"row: column_in_dataframe ({c})", "true") for c in expected if c not in present]
    out += [SqlCheck(f"{c}: dtype('{expected[c]}')", "true", c) for c in expected if c in present and c not in usable]
    for name in [c for c in expected if c in usable]:
        if name in contract.required:
            out.append(SqlCheck(f"{name}: not_nullable", f"{name} IS NULL", name))
        for check in contract.column_checks.get(name, []):
            passing, params = _column_check_sql(name, check, len(out))
            failing = f"{name} IS NOT NULL AND NOT ({passing})"
            out.append(SqlCheck(f"{name}: {check.error or check.name}", failing, name, params))
    if usable == set(expected):
        out += [
            SqlCheck(f"row: {check.error or check.name}", f"NOT coalesce(({check.statistics['sql']}), false)")
            for check in contract.row_checks
        ]
    return out


def _normal_type(typ: str) -> str:
    """DuckDB spells TIMESTAMPTZ out in its catalog."""
    return {"TIMESTAMP WITH TIME ZONE": "TIMESTAMPTZ"}.get(typ.upper(), typ.upper())


def validate_partition(
    con: duckdb.DuckDBPyConnection,
    contract: TableContract,
    start_day: dt.date | None = None,
    end_day: dt.date | None = None,
) -> ContractReport:
    """Validate the rows of [start_day, end_day) (all rows for an unpartitioned table) where they are: one
    DuckDB aggregate over the table counts the failing rows of every check and the rows failing any (each
    check's condition evaluated once per row: half the cost of evaluating it for both counts); only
    when something fails, a few failing rows are read back as a sample. No row comes to Python to be
    checked. Uniqueness: ``GROUP BY ... HAVING count(*) > 1`` over the partition, by key hash first (only the rows whose
    hash repeats are grouped by their keys: ``repeated_key_hashes_sql``)."""
    report = ContractReport(contract.table)
    schema_name, table_name = contract.table.split(".")
    present = dict(
        run_sql(con, "validation/table_columns.sql", {"schema": schema_name, "table": table_name}).fetchall()
    )
    checks = sql_checks(contract, present)
    where, params = _where(contract, start_day, end_day)
    bound = {**params, **{k: v for c in checks for k, v in c.params.items()}}
    counts = run_sql(
        con,
        "validation/contract_counts.sql",
        bound,
        table=contract.table,
        where=where,
        flags=", ".join(f"coalesce({c.failing}, false) AS fails_{i}" for i, c in enumerate(checks)) or "true AS flag",
        failing=", ".join(f"count(*) FILTER (WHERE fails_{i}) AS f{i}" for i in range(len(checks))) or "0 AS f",
        any_failing=" OR ".join(f"fails_{i}" for i in range(len(checks))) or "false",
    ).fetchone()
    report.rows_checked, report.failing_rows = counts[0], counts[1]
    for check, failing in zip(checks, counts[2:]):
        if failing:
            report.failures[check.label] = failing
            room = SAMPLE_ROWS - len(report.sample)
            if room > 0:
                report.sample += _sample(con, contract, check, where, {**params, **check.params}, present, room)
    if contract.unique:
        keys = ", ".join(contract.unique)
        dup = run_sql(
            con,
            "validation/duplicate_keys.sql",
            params,
            table=contract.table,
            where=where,
            keys=keys,
            repeated_key_hashes=repeated_key_hashes_sql("scoped", keys),
        )
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


def _sample(
    con, contract: TableContract, check: SqlCheck, where: str, params: dict, present: dict, n: int
) -> list[dict]:
    """At most ``n`` rows failing one check: their row number in the partition, key, column and value."""
    shown = [c for c in dict.fromkeys((*contract.unique, check.column)) if c and c in present]
    rows = run_sql(
        con,
        "validation/contract_sample.sql",
        {**params, "n": n},
        table=contract.table,
        where=where,
        failing=check.failing,
        columns=", ".join(["__row", *shown]) if shown else "__row",
    ).fetchall()
    return [
        {
            "check": check.label,
            "row": row[0],
            **dict(zip(shown, row[1:])),
            "value": str(row[1 + shown.index(check.column)] if check.column in shown else False)[:80],
        }
        for row in rows
    ]


def contract_markdown(contract: TableContract) -> str:
    """The contract as a markdown table (asset check metadata); from the declared checks, so a check step
    needs no pandera schema (nor pandera) to describe its contract."""
    contract.check_columns()
    lines = [
        f"**{contract.table}**: {contract.description}",
        "",
        "| column | type | not null | checks |",
        "|---|---|---|---|",
    ]
    for name, typ, _ in contract.columns:
        checks = ", ".join(str(c.error or c.name) for c in contract.column_checks.get(name, []))
        lines.append(f"| {name} | {typ} | {'yes' if name in contract.required else ''} | {checks} |")
    if contract.unique:
        lines.append(f"\nunique: ({', '.join(contract.unique)})")
    for check in contract.row_checks:
        lines.append(f"\nrow check: {check.error or check.name}")
    return "\n".join(lines)


__all__ = [
    "EVENT_DAY",
    "PROVENANCE_COLUMNS",
    "ContractCheck",
    "ContractReport",
    "TableContract",
    "at_least",
    "between",
    "contract_markdown",
    "isin",
    "matches",
    "raw_event_checks",
    "required_by_event_type",
    "row_check",
    "validate_partition",
]
