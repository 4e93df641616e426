"""Identity resolution: which devices (anon_id) belong to one person, from login events.

The rule:
- a device seen with at most ``max_users_per_device`` distinct user ids (default 1) links them;
  a device seen with more is *shared* (a family tablet, a shop terminal): it links nobody and
  keeps its own key ``a:<anon_id>``;
- persons are the connected components of the graph user_id - anon_id over the linking devices,
  keyed ``u:<smallest user_id in the component>``. With the default every device joins its one
  user; with ``max_users_per_device=2`` two accounts used on one phone merge, transitively;
- devices that never logged in are not in the map: their events keep ``a:<anon_id>``
  (``coalesce(person_key, 'a:' || anon_id)`` after a LEFT JOIN on anon_id).

Components are computed in DuckDB by min-label propagation, one statement per round, until no
label changes; the graph never enters Python.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import duckdb

from data_platform.resources import run_sql

MAX_ROUNDS = 100


@dataclass(frozen=True)
class IdentityStats:
    devices: int
    users: int
    persons: int
    merged_persons: int  # persons with more than one user id
    shared_devices: int
    largest_component: int  # devices in the largest person
    iterations: int


def build_identity_map(con: duckdb.DuckDBPyConnection, links_table: str, max_users_per_device: int = 1) -> IdentityStats:
    """(Re)build ``clean.identity_map`` from a table or view of (anon_id, user_id, ts) login links."""
    if not re.fullmatch(r"[A-Za-z_]\w*(\.[A-Za-z_]\w*)?", links_table):
        raise ValueError(f"not a table name: {links_table!r}")
    con.execute("CREATE SCHEMA IF NOT EXISTS clean")
    run_sql(con, "cleaning/identity_devices.sql", {"max_users": max_users_per_device}, links=links_table)
    run_sql(con, "cleaning/identity_edges.sql", links=links_table)
    run_sql(con, "cleaning/identity_labels_init.sql")
    rounds = 0
    while rounds < MAX_ROUNDS:
        rounds += 1
        run_sql(con, "cleaning/identity_labels_step.sql")
        changed = run_sql(con, "cleaning/identity_labels_changed.sql").fetchone()[0]
        con.execute("DROP TABLE identity_labels")
        con.execute("ALTER TABLE identity_labels_next RENAME TO identity_labels")
        if not changed:
            break
    else:
        raise RuntimeError(f"identity labels did not converge in {MAX_ROUNDS} rounds")
    run_sql(con, "cleaning/identity_map.sql", {"rule": f"login_cc/max_users_per_device={max_users_per_device}"})
    row = run_sql(con, "cleaning/identity_stats.sql").fetchone()
    return IdentityStats(*row, iterations=rounds)
