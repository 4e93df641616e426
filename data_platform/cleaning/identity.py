"""Identity resolution: which devices (anon_id) belong to one person, from login events.

Input: a table or view of login links ``(anon_id VARCHAR, user_id VARCHAR, ts TIMESTAMPTZ)``. Output:
``clean.identity_map`` (or another ``target``), one row per device, rebuilt from scratch on every call
(create or replace), so a rebuild over the same links gives the same table.

The cleaning step builds two maps, each a function of the data only (never of which days a run covers):
for each day it cleans, the map *as of the end of that day* (the links of that day and every earlier
one, in a temp table) keys that day's rows, so a later login never rewrites earlier rows and per-day,
range and repeated runs agree; then ``clean.identity_map`` from *every* link, the current map, which
splits group examples by (a device that logged in after its first examples sits in one split).

The rule (``login_cc/max_users_per_device=<n>``, default n = 1):

- A device seen with ``n`` or fewer distinct user ids links them: it belongs to that user (or, with
  n > 1, to the person those users form).
- A device seen with more than ``n`` distinct user ids is a *shared* device (a family tablet, a shop
  terminal): it links nobody, does not merge the users seen on it and keeps its own key
  ``a:<anon_id>``. A user seen only on shared devices therefore has no person of their own.
- Persons are the connected components of the bipartite graph user_id - anon_id over the links of
  non-shared devices. With the default a component is one user and that user's devices; with
  ``max_users_per_device=2`` two user ids seen on one device merge into one person, and merges
  propagate transitively (u1 - d1 - u2 - d2 - u3 is one person), which is why this is a
  connected-components computation and not a lookup.
- A component's key is ``u:`` + the smallest user_id in it. A shared device, and a device whose links
  carry no user id, is its own person ``a:<anon_id>``. A device that never logged in is not in the
  map at all: applying the map falls back to the same ``a:<anon_id>``.

Columns of ``clean.identity_map``: ``anon_id``, ``person_key``, ``user_ids`` (sorted user ids of the
component; empty for ``a:`` persons), ``component_devices`` (devices in the component; 1 for ``a:``
persons), ``is_shared_device``, ``first_login_ts`` / ``last_login_ts`` (the device's links), ``rule``.

Applying the map to events (what :func:`apply_identity_sql` returns, ``sql/cleaning/identity_apply.sql``)::

    SELECT e.*, coalesce(m.person_key, 'a:' || e.anon_id) AS person_key
    FROM <events> e
    LEFT JOIN clean.identity_map m USING (anon_id)

How: components are computed inside DuckDB, out of core, by iterative min-label propagation over
integer node ids (one ``CREATE TABLE AS`` per round, ``sql/cleaning/identity_labels_step.sql``, with
pointer jumping and hooking so long chains need few rounds) until a round changes no label, guarded by
``max_iterations``. The graph never enters Python; only the round's changed-label count does.
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass

import duckdb

from data_platform.base.stage import SqlStep
from data_platform.resources import load_sql

MAX_ITERATIONS = 100
RULE_ID = "login_cc"

_TABLE_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)?")
# Temp tables of the computation; ping-pong between the two label tables, one round each.
_WORK_TABLES = ("identity_devices", "identity_nodes", "identity_edges", "identity_labels_a", "identity_labels_b")


@dataclass(frozen=True)
class IdentityStats:
    """What one build of ``clean.identity_map`` found."""

    devices: int  # rows of the map (devices with a login link)
    users: int  # distinct user ids in the links
    persons: int  # distinct person_key in the map (shared / never-linked devices count as their own)
    merged_persons: int  # persons with more than one user id
    shared_devices: int
    largest_component: int  # devices in the largest person
    iterations: int  # propagation rounds run (the last one changed nothing)


def checked_table_name(name: str) -> str:
    """``name`` if it is a plain ``table`` or ``schema.table`` identifier, else ValueError."""
    if not isinstance(name, str) or not _TABLE_NAME.fullmatch(name):
        raise ValueError(f"expected a table name like 'table' or 'schema.table', got {name!r}")
    if name.rsplit(".", 1)[-1].lower() in _WORK_TABLES:
        raise ValueError(f"{name!r} is one of the identity step's own working tables")
    return name


def rule_name(max_users_per_device: int) -> str:
    """The value of the ``rule`` column, e.g. ``login_cc/max_users_per_device=1``."""
    return f"{RULE_ID}/max_users_per_device={max_users_per_device}"


def build_identity_map(
    con: duckdb.DuckDBPyConnection,
    links_table: str,
    max_users_per_device: int = 1,
    *,
    max_iterations: int = MAX_ITERATIONS,
    target: str = "clean.identity_map",
) -> IdentityStats:
    """(Re)build ``target`` (default ``clean.identity_map``) from ``links_table`` (anon_id, user_id, ts)
    by the rule above.

    Runs in the caller's transaction if there is one. Raises RuntimeError if the labels have not
    converged after ``max_iterations`` rounds (the map is then not written). The cleaning step also
    builds maps *as of* a day into a temporary table, ``target="temp.<name>"`` (see ``clean.py``).
    """
    links = checked_table_name(links_table)
    target = checked_table_name(target)
    if isinstance(max_users_per_device, bool) or not isinstance(max_users_per_device, int) or max_users_per_device < 1:
        raise ValueError(f"max_users_per_device must be an integer >= 1, got {max_users_per_device!r}")
    if isinstance(max_iterations, bool) or not isinstance(max_iterations, int) or max_iterations < 1:
        raise ValueError(f"max_iterations must be an integer >= 1, got {max_iterations!r}")

    devices, nodes, edges, init, step, changed, mapping, stats, *drops = identity_steps(
        links, target, max_users_per_device
    )
    for statement in (devices, nodes, edges, init):
        statement.run(con)
    current, following = "identity_labels_a", "identity_labels_b"
    iterations = 0
    while True:
        if iterations == max_iterations:
            _drop_work_tables(drops, con)
            raise RuntimeError(f"identity labels did not converge in {max_iterations} rounds")
        iterations += 1
        pair = {"current": current, "next": following}
        dataclasses.replace(step, fragments=pair).run(con)
        n_changed = dataclasses.replace(changed, fragments=pair).run(con).fetchone()[0]
        current, following = following, current
        if n_changed == 0:
            break
    con.execute("CREATE SCHEMA IF NOT EXISTS clean")
    dataclasses.replace(mapping, fragments={**mapping.fragments, "labels": current}).run(con)
    row = stats.run(con).fetchone()
    _drop_work_tables(drops, con)
    return IdentityStats(*row, iterations=iterations)


def apply_identity_sql(events_table: str) -> str:
    """A query: ``events_table``'s rows plus ``person_key`` from ``clean.identity_map``.

    Devices not in the map (never logged in) and shared devices get their own key ``a:<anon_id>``.
    """
    return load_sql("cleaning/identity_apply.sql", events=checked_table_name(events_table))


def identity_steps(links: str, target: str, max_users_per_device: int = 1) -> tuple[SqlStep, ...]:
    """The statements :func:`build_identity_map` runs, in order, with one propagation round (the round
    repeats, the two label tables swapping places, until no label changes): what lineage reads."""
    temporary, _, name = target.rpartition(".")
    rounds = {"current": "identity_labels_a", "next": "identity_labels_b"}
    return (
        SqlStep("cleaning/identity_devices.sql", {"links": links}, {"max_users": max_users_per_device}),
        SqlStep("cleaning/identity_nodes.sql", {"links": links}),
        SqlStep("cleaning/identity_edges.sql", {"links": links}),
        SqlStep("cleaning/identity_labels_init.sql", {"labels": "identity_labels_a"}),
        SqlStep("cleaning/identity_labels_step.sql", rounds),
        SqlStep("cleaning/identity_labels_changed.sql", rounds),
        SqlStep(
            "cleaning/identity_map.sql",
            {
                "labels": "identity_labels_b",
                "target": f"TEMP TABLE {name}" if temporary == "temp" else f"TABLE {target}",
            },
            {"rule": rule_name(max_users_per_device)},
        ),
        SqlStep("cleaning/identity_stats.sql", {"links": links, "target": target}),
        *(SqlStep("cleaning/identity_drop.sql", {"table": table}) for table in _WORK_TABLES),
    )


def _drop_work_tables(drops: tuple[SqlStep, ...], con: duckdb.DuckDBPyConnection) -> None:
    for drop in drops:
        drop.run(con)


__all__ = ["IdentityStats", "apply_identity_sql", "build_identity_map", "identity_steps", "rule_name"]
