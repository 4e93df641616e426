"""The raw event log contract, v1: the one source of truth for what a landing line must look like.

The ingestion SQL, the quarantine reason codes, the generator's malformed-line kinds, the table
schemas shown in the Dagster UI and the contract table in docs/contract.md are all derived from the
definitions in this module, so the contract cannot drift between them.
"""

from __future__ import annotations

from dataclasses import dataclass

import dagster as dg

CONTRACT_VERSION = "v1"

EVENT_TYPES = ("impression", "click", "purchase", "review", "login")

PRICE_MAX = 1e9
"""The largest price accepted, in units of any currency: a billion yen, rupees or euros is no product
price, and a bound keeps every later sum, conversion and statistic finite (a price of 1e200 made the
standard deviation overflow, 1.7e308 GBP became an infinite EUR price)."""


@dataclass(frozen=True)
class Field:
    """One field of a raw event line.

    kind: "string", "integer", "number" or "ts" (ISO-8601 string with offset, or integer epoch ms).
    required_for: event types for which the field must be present and non-null ("*" means all).
    minimum / maximum: inclusive numeric bounds; a value outside them is quarantined as out_of_range.
    """

    name: str
    kind: str
    required_for: tuple[str, ...] = ()
    meaning: str = ""
    minimum: float | None = None
    maximum: float | None = None

    @property
    def sql_type(self) -> str:
        """The DuckDB column type this field is stored as in raw.events."""
        return {"string": "VARCHAR", "integer": "BIGINT", "number": "DOUBLE", "ts": "TIMESTAMPTZ"}[self.kind]


ALL = tuple(EVENT_TYPES)

FIELDS: tuple[Field, ...] = (
    Field("event_id", "string", ALL, "unique per event; producers retry, so an event may arrive again"),
    Field("event_type", "string", ALL, "one of: " + ", ".join(EVENT_TYPES)),
    Field("ts", "ts", ALL, "ISO-8601 string with offset, or integer epoch milliseconds"),
    Field("anon_id", "string", ALL, "device/cookie id"),
    Field("user_id", "string", ("login",), "logged-in user; a login links anon_id to user_id"),
    Field("session_id", "string", (), "session"),
    Field("impression_id", "string", ("impression", "click"), "a click names the impression it came from"),
    Field("item_id", "string", ("impression", "click", "purchase", "review"), "item"),
    Field("category", "string", ("impression",), "item category"),
    Field("position", "integer", ("impression",), "slot on the page, >= 1", minimum=1),
    Field(
        "price",
        "number",
        ("impression", "purchase"),
        "in `currency`, from 0 to 1e9 (more is a unit or encoding error, not a price)",
        minimum=0,
        maximum=PRICE_MAX,
    ),
    Field("currency", "string", (), "ISO 4217 code; required whenever price is present"),
    Field("predicted_ctr", "number", ("impression",), "serving model's prediction in [0, 1]", 0, 1),
    Field("model_version", "string", ("impression",), "serving model"),
    Field("text", "string", ("review",), "free text; may contain personal data"),
    Field("rating", "integer", ("review",), "1 to 5", minimum=1, maximum=5),
    Field("country", "string", (), "ISO 3166 alpha-2"),
    Field("device", "string", (), "ios, android or web"),
    Field("app_version", "string", (), "client app version"),
    Field("user_agent", "string", (), "client user agent"),
    Field("ip", "string", (), "client IP address (personal data)"),
)

FIELD_NAMES = tuple(f.name for f in FIELDS)

# Quarantine reason codes, in the order they are tested: a line gets the first that applies.
QUARANTINE_REASONS: dict[str, str] = {
    "line_too_long": "the line is longer than the cap (DATA_PLATFORM_MAX_LINE_BYTES, default 1 MiB); its "
    "first 4 KiB are kept and the rest is never held in memory",
    "invalid_utf8": "the line is not valid UTF-8",
    "empty_line": "a blank line inside the file",
    "not_json": "the line does not parse as JSON",
    "not_an_object": "the line is JSON but not an object",
    "duplicate_key": "the object names the same key twice",
    "missing_required_field": "a field required for the event's type is absent, null or an empty string "
    "(also: price without currency)",
    "unknown_event_type": "event_type is not one of the contract's types",
    "wrong_type": 'a field has the wrong JSON type (e.g. position "3" or 3.5, price "9.5")',
    "bad_ts": "ts is neither an ISO-8601 string with an offset nor non-negative integer epoch milliseconds",
    "ts_out_of_range": "ts is before the first partition (DATA_PLATFORM_START_DATE) or more than a day "
    "after the moment of ingestion",
    "out_of_range": "a numeric field is outside its allowed range",
    "unreadable_file": "the file could not be read to its end (corrupt or truncated gzip); "
    "the line number is where reading stopped",
}

# Reasons the line reader gives (from how a file's bytes read, not from what a line says); every other
# reason is about a line's content, and the generator's malformed lines cover each of those.
READ_REASONS = ("line_too_long", "unreadable_file")

# Provenance columns every raw row carries.
PROVENANCE_COLUMNS: dict[str, str] = {
    "source_file": "path of the landing file, relative to the landing folder",
    "source_line": "1-based line number in that file",
    "file_sha256": "SHA-256 of the file's bytes as landed",
    "ingested_at": "when the line was parsed into the warehouse (UTC)",
    "run_id": "the Dagster run that parsed it",
}

RAW_EVENT_EXTRA_COLUMNS: dict[str, tuple[str, str]] = {
    "event_date": ("DATE", "UTC day of ts; the daily partition the row belongs to"),
    "ts_raw": ("VARCHAR", "ts exactly as sent (ISO string or epoch ms digits)"),
    "extra": ("JSON", "fields outside the contract, kept as a JSON object (NULL when none)"),
}


def required_fields(event_type: str) -> list[str]:
    """Names of the fields an event of this type must carry (non-null)."""
    return [f.name for f in FIELDS if event_type in f.required_for]


def raw_events_columns() -> list[tuple[str, str, str]]:
    """(name, DuckDB type, description) of every raw.events column, in table order."""
    cols = [(f.name, f.sql_type, f.meaning) for f in FIELDS]
    cols += [(name, typ, desc) for name, (typ, desc) in RAW_EVENT_EXTRA_COLUMNS.items()]
    prov_types = {"source_line": "BIGINT", "ingested_at": "TIMESTAMPTZ"}
    cols += [(name, prov_types.get(name, "VARCHAR"), desc) for name, desc in PROVENANCE_COLUMNS.items()]
    return cols


RAW_QUARANTINE_COLUMNS: list[tuple[str, str, str]] = [
    ("partition_date", "DATE", "UTC day of ts when it parses, else the earliest event day of the file"),
    ("source_file", "VARCHAR", PROVENANCE_COLUMNS["source_file"]),
    ("source_line", "BIGINT", PROVENANCE_COLUMNS["source_line"]),
    ("file_sha256", "VARCHAR", PROVENANCE_COLUMNS["file_sha256"]),
    ("reason", "VARCHAR", "quarantine reason code (see docs/contract.md)"),
    ("detail", "VARCHAR", "which field or value triggered the reason"),
    ("raw_line", "VARCHAR", "the line as read (invalid UTF-8 replaced by U+FFFD), cut at 64 KiB"),
    ("ingested_at", "TIMESTAMPTZ", PROVENANCE_COLUMNS["ingested_at"]),
    ("run_id", "VARCHAR", PROVENANCE_COLUMNS["run_id"]),
]


def table_schema(columns: list[tuple[str, str, str]]) -> dg.TableSchema:
    """A Dagster TableSchema (shown as dagster/column_schema in the UI) from (name, type, description)."""
    return dg.TableSchema(columns=[dg.TableColumn(name=n, type=t, description=d) for n, t, d in columns])


def contract_markdown() -> str:
    """The contract as a markdown table (used in docs/contract.md and in asset metadata)."""
    kinds = {"ts": "ISO-8601 string with offset, or integer epoch ms"}
    lines = ["| field | type | required for | meaning |", "|---|---|---|---|"]
    for f in FIELDS:
        req = "all" if f.required_for == ALL else (", ".join(f.required_for) or "-")
        lines.append(f"| {f.name} | {kinds.get(f.kind, f.kind)} | {req} | {f.meaning} |")
    return "\n".join(lines)


def reasons_markdown() -> str:
    """The quarantine reason codes as a markdown table, in the order they are tested."""
    lines = ["| reason | meaning |", "|---|---|"]
    lines += [f"| `{code}` | {meaning} |" for code, meaning in QUARANTINE_REASONS.items()]
    return "\n".join(lines)
