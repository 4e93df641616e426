"""The landed events as privacy reads them, whether or not anything has landed yet.

An erasure finds the subject's devices, events, addresses, e-mails and phone numbers in the landed events
(``sql/privacy/erase_devices.sql``, ``erase_ids.sql``, ``insert_erased_identifiers.sql``), and key rotation
finds there the raw ids behind the consent records (``rekey_consent.sql``). Those statements take the relation
as the fragment ``{events}``: the ingestion's table, or, before the first ingestion created it, a relation of the
same columns with no row (``no_landed_events.sql``). A request can arrive before any data: nothing of anyone is
in the warehouse yet, so an erasure removes nothing, knows the subject by the id of the request alone and
records its tombstones, which keep the subject's lines out of every later landing (``tombstones.py``). This is
the rule erasure already follows for a person table that does not exist yet: it holds no one's rows.
"""

from __future__ import annotations

import duckdb

from data_platform.resources import existing_tables, load_sql

LANDED_EVENTS = "raw.events"


def landed_events(con: duckdb.DuckDBPyConnection) -> str:
    """The relation a privacy statement reads the landed events from: ``raw.events``, or an empty one of the
    columns those statements read when no ingestion has created it yet."""
    if LANDED_EVENTS in existing_tables(con):
        return LANDED_EVENTS
    return f"({load_sql('privacy/no_landed_events.sql')})"
