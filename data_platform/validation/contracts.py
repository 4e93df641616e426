"""Table contracts: a pandera model for every stage's tables, validated per partition in bounded chunks.

Each :class:`TableContract` names a warehouse table, its columns (names and DuckDB types taken from the
stage's own DDL, so the contract cannot drift from the table), which columns may not be NULL, value
checks per column (domains, ranges), row checks across columns, and the key that must be unique.
From it come:

- the pandera (polars) schema, :meth:`TableContract.schema`;
- the ``dagster/column_schema`` the UI shows, :meth:`TableContract.table_schema`, with the same
  constraints (nullable, unique, checks);
- the blocking asset check ``pandera_contract`` (see ``validation/checks.py``).

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

from data_platform import contracts as raw_contract
from data_platform.labeling import SENTIMENTS
from data_platform.metadata import ddl_columns
from data_platform.resources import run_sql

POLARS_TYPES = {
    "VARCHAR": pl.String, "JSON": pl.String, "BIGINT": pl.Int64, "INTEGER": pl.Int32, "DOUBLE": pl.Float64,
    "BOOLEAN": pl.Boolean, "DATE": pl.Date, "TIMESTAMPTZ": pl.Datetime("us", "UTC"),
    "TIMESTAMP WITH TIME ZONE": pl.Datetime("us", "UTC"), "VARCHAR[]": pl.List(pl.String),
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
            {name: pa.Column(POLARS_TYPES[typ], nullable=name not in self.required,
                             checks=self.column_checks.get(name, []), description=desc or None)
             for name, typ, desc in self.columns},
            checks=list(self.row_checks), name=self.table, description=self.description, strict=True,
        )

    def table_schema(self) -> dg.TableSchema:
        """The dagster/column_schema, constraints included, from the same definitions."""
        return dg.TableSchema(
            columns=[dg.TableColumn(
                name=name, type=typ, description=desc or None,
                constraints=dg.TableColumnConstraints(
                    nullable=name not in self.required,
                    unique=self.unique == (name,),
                    other=[str(c.error or c.name) for c in self.column_checks.get(name, [])],
                ),
            ) for name, typ, desc in self.columns],
            constraints=dg.TableConstraints(other=[
                *([f"unique ({', '.join(self.unique)})"] if self.unique else []),
                *[str(c.error or c.name) for c in self.row_checks]]),
        )


def _isin(values) -> pa.Check:
    return pa.Check.isin(list(values), error=f"in {{{', '.join(map(str, values))}}}")


def _between(lo: float, hi: float) -> pa.Check:
    return pa.Check.in_range(lo, hi, error=f"in [{lo}, {hi}]")


def _at_least(lo: float) -> pa.Check:
    return pa.Check.ge(lo, error=f">= {lo}")


def _row_check(name: str, expr: pl.Expr) -> pa.Check:
    """A check across columns; ``expr`` is True for a good row."""
    return pa.Check(lambda data: data.lazyframe.select(expr.fill_null(False)), name=name, error=name)


def _required_by_event_type() -> list[pa.Check]:
    """Per event type, the contract's required fields are present (e.g. an impression has a position)."""
    checks = []
    for field_ in raw_contract.FIELDS:
        types = [t for t in field_.required_for if t]
        if not types or set(types) == set(raw_contract.EVENT_TYPES):
            continue
        checks.append(_row_check(f"{field_.name} present for {'/'.join(types)}",
                                 ~pl.col("event_type").is_in(types) | pl.col(field_.name).is_not_null()))
    return checks


_EVENT_DAY = _row_check("event_date is the UTC day of ts", pl.col("event_date") == pl.col("ts").dt.date())
_PROVENANCE = {"source_file", "source_line", "file_sha256"}


def _raw_event_checks() -> dict[str, list[pa.Check]]:
    checks: dict[str, list[pa.Check]] = {"event_type": [_isin(raw_contract.EVENT_TYPES)]}
    for f in raw_contract.FIELDS:
        if f.minimum is not None and f.maximum is not None:
            checks.setdefault(f.name, []).append(_between(f.minimum, f.maximum))
        elif f.minimum is not None:
            checks.setdefault(f.name, []).append(_at_least(f.minimum))
    return checks


def _contracts() -> dict[str, TableContract]:
    always = {f.name for f in raw_contract.FIELDS if set(f.required_for) == set(raw_contract.EVENT_TYPES)}
    raw_checks = _raw_event_checks()
    clean_checks = {k: v for k, v in raw_checks.items() if k != "price"}
    labels = list(SENTIMENTS)
    out = [
        TableContract(
            "raw.events", tuple(raw_contract.raw_events_columns()), "event_date",
            frozenset(always | _PROVENANCE | {"event_date", "ts_raw", "ingested_at", "run_id"}),
            unique=("source_file", "source_line"), column_checks=raw_checks,
            row_checks=(_EVENT_DAY, *_required_by_event_type()),
            description="accepted events: contract v1 types, domains and per-type required fields"),
        TableContract(
            "raw.quarantine", tuple(raw_contract.RAW_QUARANTINE_COLUMNS), "partition_date",
            frozenset({"partition_date", "source_file", "source_line", "file_sha256", "reason", "ingested_at",
                       "run_id"}),
            unique=("source_file", "source_line"),
            column_checks={"reason": [_isin(raw_contract.QUARANTINE_REASONS)], "source_line": [_at_least(1)]},
            description="quarantined lines: a known reason and where the line came from"),
        TableContract(
            "clean.events", ddl_columns("cleaning/create_tables.sql", "clean.events"), "event_date",
            frozenset(always | _PROVENANCE | {"event_date", "person_key", "ruleset_version", "fx_version",
                                              "cleaned_at", "clean_run_id"}),
            unique=("event_id",),
            column_checks={**clean_checks, "price_eur": [_at_least(0)], "person_key": [
                pa.Check.str_matches(r"^p_[0-9a-f]{24}$", error="a keyed pseudonym p_<24 hex>")]},
            row_checks=(_EVENT_DAY, *[c for c in _required_by_event_type() if "price" not in c.name and
                                      "currency" not in c.name],
                        _row_check("price_eur set when a price was sent",
                                   pl.col("price_raw").is_null() | pl.col("price_eur").is_not_null())),
            description="clean events: unique event_id, pseudonymised ids, EUR prices, rule and fx versions"),
        TableContract(
            "clean.filtered_events", ddl_columns("cleaning/create_tables.sql", "clean.filtered_events"),
            "event_date", frozenset({"event_id", "event_date", "rule_id", "rule_version", "kind", "ruleset_version",
                                     "source_file", "source_line"}),
            column_checks={"kind": [_isin(("bot", "spam", "invalidated", "set_aside"))],
                           "rule_version": [_at_least(1)]},
            description="events removed by a rule (or an invalidation, or set aside with a reason), with the rule "
            "id and version"),
        TableContract(
            "labels.ctr_examples", ddl_columns("labeling/create_tables.sql", "labels.ctr_examples"), "event_date",
            frozenset({"impression_id", "event_date", "impression_ts", "person_key", "item_id", "position",
                       "position_bucket", "hour_of_day", "day_of_week", "user_impressions_7d", "user_clicks_7d",
                       "item_impressions_7d", "item_clicks_7d", "predicted_ctr", "model_version", "label",
                       "label_status", "clicks_on_impression", "attribution_window_s", "impression_event_id",
                       "source_file", "source_line", "label_run_id"}),
            unique=("impression_id",),
            column_checks={
                "label": [_isin((0, 1))], "label_status": [_isin(("mature", "provisional"))],
                "position": [_at_least(1)], "position_bucket": [_isin(("1", "2-3", "4-10", "11+"))],
                "predicted_ctr": [_between(0, 1)], "hour_of_day": [_between(0, 23)], "day_of_week": [_between(1, 7)],
                **{c: [_at_least(0)] for c in ("user_impressions_7d", "user_clicks_7d", "item_impressions_7d",
                                               "item_clicks_7d", "clicks_on_impression", "click_delay_s")},
            },
            row_checks=(
                _row_check("label 1 has its click", (pl.col("label") != 1) | pl.col("click_event_id").is_not_null()),
                _row_check("click delay within the window",
                           pl.col("click_delay_s").is_null() | (pl.col("click_delay_s") <= pl.col("attribution_window_s"))),
                _row_check("event_date is the UTC day of impression_ts",
                           pl.col("event_date") == pl.col("impression_ts").dt.date()),
            ),
            description="click-through examples: one per impression, label 0/1 with its click, maturity"),
        TableContract(
            "labels.unattributed_clicks", ddl_columns("labeling/create_tables.sql", "labels.unattributed_clicks"),
            "owner_date", frozenset({"click_event_id", "owner_date", "click_ts", "reason", "source_file", "source_line",
                                     "label_run_id"}),
            unique=("click_event_id",),
            column_checks={"reason": [_isin(("repeat_click", "after_window", "before_impression",
                                             "unknown_impression"))]},
            row_checks=(_row_check("a known impression for every reason but unknown_impression",
                                   (pl.col("reason") == "unknown_impression") | pl.col("impression_id").is_not_null()),),
            description="clicks that labelled nothing, each with its reason", written_by="labels/ctr_examples"),
        TableContract(
            "clean.duplicates", ddl_columns("cleaning/create_tables.sql", "clean.duplicates"), "event_date",
            frozenset({"event_id", "event_date", "source_file", "source_line", "kept_source_file", "kept_source_line",
                       "clean_run_id"}),
            unique=("source_file", "source_line"),
            row_checks=(_row_check("the dropped copy is not the kept one",
                                   (pl.col("source_file") != pl.col("kept_source_file"))
                                   | (pl.col("source_line") != pl.col("kept_source_line"))),),
            description="dropped repeated deliveries, each with the copy that was kept", written_by="clean/events"),
        TableContract(
            "labels.review_examples", _REVIEW_EXAMPLE_COLUMNS, None,
            frozenset({"review_id", "label", "label_source", "label_confidence", "rater_count", "source_file",
                       "source_line", "suspected_label_error"}),
            unique=("review_id",),
            column_checks={"label": [_isin(labels)], "human_label": [_isin(labels)], "weak_label": [_isin(labels)],
                           "label_source": [_isin(("gold", "human_consensus", "weak"))],
                           "label_confidence": [_between(0, 1)], "rating": [_between(1, 5)],
                           "rater_count": [_at_least(0)]},
            row_checks=(_row_check("human consensus rows name raters",
                                   (pl.col("label_source") != "human_consensus") | (pl.col("rater_count") > 0)),),
            description="the labeled review dataset: one label per review with its source and confidence"),
    ]
    return {c.table: c for c in out}


# labels.review_examples is created by a query (CREATE TABLE AS); its columns, as that query makes them.
_REVIEW_EXAMPLE_COLUMNS: tuple[tuple[str, str, str], ...] = (
    ("review_id", "VARCHAR", "the review event's event_id"), ("event_date", "DATE", ""), ("item_id", "VARCHAR", ""),
    ("category", "VARCHAR", ""), ("text", "VARCHAR", "redacted"), ("rating", "BIGINT", ""),
    ("label", "VARCHAR", "negative | neutral | positive"),
    ("label_source", "VARCHAR", "gold > human_consensus > weak"), ("label_confidence", "DOUBLE", ""),
    ("rater_count", "BIGINT", ""), ("human_label", "VARCHAR", ""), ("human_confidence", "DOUBLE", ""),
    ("weak_label", "VARCHAR", ""), ("weak_confidence", "DOUBLE", ""), ("suspected_label_error", "BOOLEAN", ""),
    ("person_key", "VARCHAR", ""), ("source_file", "VARCHAR", ""), ("source_line", "BIGINT", ""),
    ("label_model", "VARCHAR", ""), ("labeled_at", "TIMESTAMP WITH TIME ZONE", ""), ("label_run_id", "VARCHAR", ""),
)

CONTRACTS: dict[str, TableContract] = _contracts()


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


def validate_partition(con: duckdb.DuckDBPyConnection, contract: TableContract, start_day: dt.date | None = None,
                       end_day: dt.date | None = None, chunk_rows: int = 100_000) -> ContractReport:
    """Validate the rows of [start_day, end_day) (all rows for an unpartitioned table) in chunks."""
    report = ContractReport(contract.table)
    schema = contract.schema()
    where, params = _where(contract, start_day, end_day)
    reader = run_sql(con, "validation/contract_rows.sql", params, table=contract.table, where=where).to_arrow_reader(
        chunk_rows)
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
            report.sample += [{"check": f"unique ({keys})", **{k: v for k, v in d.items() if k != "duplicated_keys"}}
                              for d in dups[:SAMPLE_ROWS]]
    return report


def _where(contract: TableContract, start_day, end_day) -> tuple[str, dict]:
    if contract.partition_column is None or start_day is None:
        return "true", {}
    return (f"{contract.partition_column} >= $start_day AND {contract.partition_column} < $end_day",
            {"start_day": start_day, "end_day": end_day})


def _validate_chunk(frame: pl.DataFrame, schema: pa.DataFrameSchema, contract: TableContract, offset: int,
                    report: ContractReport) -> None:
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
            report.sample.append({"check": label, "row": offset + index + 1,
                                  **{k: row.get(k) for k in (*contract.unique, column) if k and k in row},
                                  "value": str(group["failure_case"][0])[:80]})
    report.failing_rows += len(bad_rows)


def contract_markdown(contract: TableContract) -> str:
    """The contract as a markdown table (asset check metadata)."""
    schema = contract.schema()
    lines = [f"**{contract.table}**: {contract.description}", "", "| column | type | not null | checks |",
             "|---|---|---|---|"]
    for name, typ, _ in contract.columns:
        checks = ", ".join(str(c.error or c.name) for c in schema.columns[name].checks)
        lines.append(f"| {name} | {typ} | {'yes' if name in contract.required else ''} | {checks} |")
    if contract.unique:
        lines.append(f"\nunique: ({', '.join(contract.unique)})")
    for check in contract.row_checks:
        lines.append(f"\nrow check: {check.error or check.name}")
    return "\n".join(lines)


__all__ = ["CONTRACTS", "ContractReport", "TableContract", "contract_markdown", "validate_partition"]
