"""Which key wrote which pseudonyms: recorded with the data, checked before a request acts on it.

Every step that writes keyed pseudonyms records the key's id (:func:`~data_platform.base.pseudonyms.key_id`,
a fingerprint, never the key) per table and day in ``privacy.pseudonym_keys``. A privacy request run under
another key would look for the wrong pseudonyms: an erasure would delete the raw rows and orphan the clean
ones while reporting success. :func:`check_key` makes that a clear error before anything is deleted. Key
rotation (docs/privacy.md) re-materializes what the old key wrote; the same table shows what is left.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

import duckdb

from data_platform.base.pseudonyms import key_id, pseudonym_key, pseudonymise_sql, retired_keys
from data_platform.privacy.landed import landed_events
from data_platform.privacy.tables import ensure_tables
from data_platform.resources import rows, run_sql, transaction

PSEUDONYM_TABLES_BY_DAY = ("clean.events", "clean.filtered_events")
PSEUDONYM_TABLES_WHOLE = ("clean.identity_map",)


class KeyMismatch(RuntimeError):
    """Pseudonyms in the warehouse were written with another key than the one in use."""


def record_key_use(
    con: duckdb.DuckDBPyConnection,
    tables: Sequence[str],
    key: str,
    run_id: str,
    now: dt.datetime,
    days: tuple[dt.date, dt.date] | None = None,
) -> None:
    """Record that ``key`` wrote the pseudonyms of ``tables`` on the days ``[start, end)`` of ``days`` (or the
    whole tables when ``days`` is None). Run it in the transaction that writes them."""
    start, end = days or (None, None)
    span = {"tables": list(tables), "start_day": start, "end_day": end}
    run_sql(con, "privacy/forget_key_use.sql", span)
    run_sql(con, "privacy/record_key_use.sql", {**span, "key_id": key_id(key), "run_id": run_id, "written_at": now})


def foreign_key_use(con: duckdb.DuckDBPyConnection, key: str) -> list[dict]:
    """What the warehouse holds under another key than ``key``: table, key id, parts (days) and their range."""
    return rows(con, "privacy/foreign_keys.sql", {"key_id": key_id(key)})


def check_key(con: duckdb.DuckDBPyConnection, key: str) -> None:
    """Raise :class:`KeyMismatch`, naming the tables and days, when pseudonyms in the warehouse were written
    with another key than ``key``."""
    other = foreign_key_use(con, key)
    if other:
        where = "; ".join(
            f"{r['table_name']} ({r['parts']} part(s) {r['first_part']}..{r['last_part']}) under {r['key_id']}"
            for r in other
        )
        raise KeyMismatch(
            f"the pseudonym key in use is {key_id(key)}, but the warehouse holds pseudonyms written with another "
            f"key: {where}. A request applied now would miss those rows. Run with the key that wrote them, or "
            "finish the key rotation first (re-materialize them under the new key: docs/privacy.md)."
        )


def rotate_key(con: duckdb.DuckDBPyConnection) -> dict:
    """Carry what can be carried to the current key after a rotation (docs/privacy.md, key rotation): every
    consent record made under a retired key (``DATA_PLATFORM_PSEUDONYM_RETIRED_KEYS``) gets its twin under the
    current key, through the subject's raw ids in raw.events. Tombstones stay under their own key (landing
    matches them with the retired key). Returns the records added and what the warehouse still holds under
    another key (to re-materialize under the current one)."""
    current = pseudonym_key()
    added = 0
    ensure_tables(con)  # a warehouse no request has touched yet has nothing to re-key, and says so
    with transaction(con):
        for old in retired_keys():
            added += run_sql(
                con,
                "privacy/rekey_consent.sql",
                {"old_key": old, "pseudonym_key": current},
                old_pseudonym=pseudonymise_sql("ids.id", "old_key"),
                new_pseudonym=pseudonymise_sql("ids.id"),
                events=landed_events(con),
            ).fetchone()[0]
    return {
        "key_id": key_id(current),
        "consent_records_rekeyed": added,
        "still_under_other_keys": foreign_key_use(con, current),
    }
