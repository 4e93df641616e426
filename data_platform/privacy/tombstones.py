"""Tombstones: an erased subject's lines that land later are dropped at landing, never stored.

An erasure records every identifier of the subject as a keyed pseudonym in ``privacy.erased_identifiers``
(``requests.erase_subject``). Landing (``sql/ingestion/parse_lines.sql``) tests each parsed line against the
``anon_id`` and ``user_id`` tombstones, set-based, inside its one parse statement: a line whose device or user
pseudonymises to a tombstone (or, for a quarantined line, whose raw text names one as a JSON string) is
counted as ``erased_subject`` and stored nowhere. With no tombstone the test is the constant ``FALSE``:
landing costs nothing more.

Tombstones keep the key id they were made with. A key rotation does not re-key them (a pseudonym cannot be
re-keyed without the raw id, which no one keeps): landing matches each tombstone under its own key, taken
from the keyring (the current key and ``DATA_PLATFORM_PSEUDONYM_RETIRED_KEYS``). A tombstone whose key is
not in the keyring is a clear error, never a silent pass.
"""

from __future__ import annotations

import duckdb

from data_platform.base.pseudonyms import RETIRED_KEYS_VAR, keyring, pseudonymise_sql
from data_platform.resources import existing_tables, run_sql

SUBJECT_KINDS = ("anon_id", "user_id")
# a JSON string value (what a quarantined line's ids look like: the erasure matches them quoted too)
TOKEN_PATTERN = '"([^"\\\\]{1,256})"'


class TombstoneKeyMissing(RuntimeError):
    """Tombstones were made with a key that is neither the current key nor a retired one."""


def tombstone_keys(con: duckdb.DuckDBPyConnection) -> list[str]:
    """The key ids the device and user tombstones were made with (empty when there are none)."""
    if "privacy.erased_identifiers" not in existing_tables(con):
        return []
    return [r[0] for r in run_sql(con, "privacy/tombstone_keys.sql", {"kinds": list(SUBJECT_KINDS)}).fetchall()]


def landing_predicate(
    con: duckdb.DuckDBPyConnection, ids: tuple[str, ...], line: str, quarantined: str
) -> tuple[str, dict]:
    """A SQL predicate (and its bound values) true for a parsed line of an erased subject.

    ``ids``: the expressions of the line's raw device and user ids; ``line``: its raw text, searched for a
    tombstoned id as a JSON string when ``quarantined`` (an SQL condition) holds. Stages the temp table
    ``landing_tombstones``; returns ``("FALSE", {})`` when there is no tombstone. Raises
    :class:`TombstoneKeyMissing` when a tombstone's key is not in the keyring.
    """
    kids = tombstone_keys(con)
    if not kids:
        return "FALSE", {}
    ring = keyring()
    missing = sorted(set(kids) - set(ring))
    if missing:
        raise TombstoneKeyMissing(
            f"erased subjects' tombstones were made with key id(s) {', '.join(missing)}, which is neither the "
            f"current key nor in {RETIRED_KEYS_VAR}: landing cannot tell whether a line belongs to an erased "
            "subject. Add the retired key (docs/privacy.md, key rotation)."
        )
    run_sql(con, "privacy/landing_tombstones.sql", {"kinds": list(SUBJECT_KINDS)})
    params: dict = {"tomb_token_pattern": TOKEN_PATTERN}
    tests = []
    for i, kid in enumerate(kids):
        key, listed = f"tomb_key_{i}", f"tomb_kid_{i}"
        params[key], params[listed] = ring[kid], kid
        stones = f"SELECT pseudonym FROM landing_tombstones WHERE key_id = ${listed}"
        tests += [f"{pseudonymise_sql(expr, key)} IN ({stones})" for expr in ids]
        tokens = (
            f"list_transform(regexp_extract_all({line}, $tomb_token_pattern, 1), t -> {pseudonymise_sql('t', key)})"
        )
        tests.append(
            f"CASE WHEN {quarantined} AND {line} IS NOT NULL THEN list_has_any({tokens}, (SELECT list(pseudonym) "
            f"FROM landing_tombstones WHERE key_id = ${listed})) ELSE FALSE END"
        )
    return "(" + " OR ".join(f"coalesce({t}, FALSE)" for t in tests) + ")", params
