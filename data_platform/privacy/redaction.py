"""Redaction of personal data in free text, the same in Python and in DuckDB SQL (offline, regexes).

Each pattern is replaced by a typed placeholder. The regexes use only syntax that Python's ``re`` and
DuckDB's RE2 read alike (no lookbehind, no backreferences), and are applied in this order:
URLs first (so an address inside a link goes with the link), then emails, card-like numbers
(before phones: a card is a longer digit run), IPv4 addresses, then phone numbers.

Known limits: bare domains without ``www.`` or a scheme (``example.com``) are kept; phone numbers
written as words or with unusual grouping can slip through; a 13-19 digit order number is taken for
a card. Short numbers (ratings, prices, years, "2 days") are never touched.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import duckdb

# the patterns and the Python redaction live in the base layer (masking and erasure verification use them too)
from data_platform.base.identifiers import PII_PATTERNS as PII_PATTERNS
from data_platform.base.identifiers import redact_text as redact_text


def _sql_str(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def any_pii_pattern() -> str:
    """One regex that matches where any of :data:`PII_PATTERNS` does (each in its own group, so the
    ``(?i)`` of one applies to it alone): one pass over a text tells whether it holds anything at all."""
    return "|".join(f"(?:{pattern})" for pattern in PII_PATTERNS.values())


def redact_sql(expr: str) -> str:
    """A DuckDB expression that redacts the SQL expression ``expr`` exactly as :func:`redact_text`.

    A text that no pattern matches is returned as it is after one pass of :func:`any_pii_pattern` (the
    replacements run in turn only where one matches): most texts hold no personal data."""
    redacted = expr
    for placeholder, pattern in PII_PATTERNS.items():
        redacted = f"regexp_replace({redacted}, {_sql_str(pattern)}, {_sql_str(placeholder)}, 'g')"
    return f"CASE WHEN regexp_matches({expr}, {_sql_str(any_pii_pattern())}) THEN {redacted} ELSE {expr} END"


def truncate_ip(ip: str | None) -> str | None:
    """IPv4 to its /24 (last octet 0), IPv6 to its first three groups + ``::``; anything else None."""
    if ip is None:
        return None
    if re.fullmatch(r"\d{1,3}(\.\d{1,3}){3}", ip):
        return ip.rsplit(".", 1)[0] + ".0"
    if ":" in ip:
        return ":".join(ip.split(":")[:3]) + "::"
    return None


def truncate_ip_sql(expr: str) -> str:
    """The DuckDB twin of :func:`truncate_ip` for the SQL expression ``expr``."""
    return (
        f"CASE WHEN regexp_full_match({expr}, '\\d{{1,3}}(\\.\\d{{1,3}}){{3}}') "
        f"THEN regexp_replace({expr}, '\\.\\d{{1,3}}$', '.0') "
        f"WHEN contains({expr}, ':') THEN array_to_string(string_split({expr}, ':')[1:3], ':') || '::' END"
    )


@dataclass(frozen=True)
class PiiFinding:
    """Rows of one column of one table that still hold one kind of personal data."""

    table: str
    column: str
    kind: str
    rows: int
    masked_sample: list[str]


def _mask(value: str) -> str:
    return value[:2] + "*" * max(1, len(value) - 4) + value[-2:] if len(value) > 4 else "*" * len(value)


_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def scan_for_pii(
    con: duckdb.DuckDBPyConnection,
    table: str,
    columns: list[str] | None = None,
    *,
    partition_column: str | None = None,
    start_day=None,
    end_day=None,
    sample_size: int = 3,
) -> list[PiiFinding]:
    """Count, in DuckDB, the rows of ``table`` whose text columns still match a PII pattern.

    ``columns``: the columns to scan (default: every VARCHAR column). With ``partition_column`` only
    rows with ``start_day <= partition_column < end_day`` are scanned. Identifiers are checked
    against the catalog before they are put into SQL; values are bound.
    """
    schema, _, name = table.rpartition(".")
    schema = schema or "main"
    catalog = {
        r[0]: r[1]
        for r in con.execute(
            "SELECT column_name, data_type FROM duckdb_columns() WHERE schema_name = ? AND table_name = ?",
            [schema, name],
        ).fetchall()
    }
    if not catalog:
        raise ValueError(f"no table {table!r}")
    columns = [c for c, t in catalog.items() if t == "VARCHAR"] if columns is None else columns
    for c in [*columns, *([partition_column] if partition_column else [])]:
        if c not in catalog or not _IDENT.fullmatch(c):
            raise ValueError(f"{table} has no column {c!r}")
    if not columns:
        return []
    parts = []
    for c in columns:
        for pattern in PII_PATTERNS.values():
            p = _sql_str(pattern)
            parts.append(f'count(*) FILTER (WHERE regexp_matches("{c}", {p}))')
            parts.append(
                f'list(regexp_extract("{c}", {p})) FILTER (WHERE regexp_matches("{c}", {p}))[1:{int(sample_size)}]'
            )
    # One pass of one combined pattern per column finds the rows holding anything at all (few, in a table
    # already redacted); only those are counted and sampled pattern by pattern.
    any_pattern = _sql_str(any_pii_pattern())
    where = " OR ".join(f'regexp_matches("{c}", {any_pattern})' for c in columns)
    if partition_column:
        where = f'"{partition_column}" >= $start AND "{partition_column}" < $end AND ({where})'
    params = {"start": start_day, "end": end_day} if partition_column else {}
    selected = ", ".join(f'"{c}"' for c in columns)
    candidates = f'SELECT {selected} FROM "{schema}"."{name}" WHERE {where}'
    values = con.execute(f"SELECT {', '.join(parts)} FROM ({candidates})", params).fetchone()
    findings, i = [], 0
    for c in columns:
        for placeholder in PII_PATTERNS:
            n, sample = values[i], values[i + 1]
            i += 2
            if n:
                findings.append(
                    PiiFinding(table, c, placeholder.strip("<>").lower(), n, [_mask(s) for s in sample or []])
                )
    return findings
