"""Identity resolution: connected components of login links, checked by hand, against scipy and by
a property test against a small union-find oracle."""

from __future__ import annotations

import datetime as dt

import duckdb
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from data_platform.cleaning.identity import IdentityStats, apply_identity_sql, build_identity_map

T0 = dt.datetime(2026, 11, 1, tzinfo=dt.UTC)
MAP_COLUMNS = "anon_id, person_key, user_ids, component_devices, is_shared_device, first_login_ts, last_login_ts, rule"


def links_con(links, table: str = "links") -> duckdb.DuckDBPyConnection:
    """An in-memory warehouse with ``table`` holding (anon_id, user_id[, minutes after T0]) links."""
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    if "." in table:
        con.execute(f"CREATE SCHEMA {table.split('.')[0]}")
    con.execute(f"CREATE TABLE {table} (anon_id VARCHAR, user_id VARCHAR, ts TIMESTAMPTZ)")
    rows = [(a, u, T0 + dt.timedelta(minutes=(rest[0] if rest else i))) for i, (a, u, *rest) in enumerate(links)]
    if rows:  # one statement, not executemany: the random graphs have thousands of links
        anon_ids, user_ids, stamps = map(list, zip(*rows))
        con.execute(
            f"INSERT INTO {table} SELECT unnest($a), unnest($u), unnest($t)",
            {"a": anon_ids, "u": user_ids, "t": stamps},
        )
    return con


def identity_map(con) -> dict[str, dict]:
    cur = con.execute(f"SELECT {MAP_COLUMNS} FROM clean.identity_map ORDER BY anon_id")
    names = [d[0] for d in cur.description]
    return {r[0]: dict(zip(names, r)) for r in cur.fetchall()}


def build(links, **kw) -> tuple[IdentityStats, dict[str, dict]]:
    con = links_con(links)
    stats = build_identity_map(con, "links", **kw)
    return stats, identity_map(con)


def keys(m: dict[str, dict]) -> dict[str, str]:
    return {a: row["person_key"] for a, row in m.items()}


def test_a_user_with_three_devices_is_one_person():
    stats, m = build([("d1", "u1", 5), ("d2", "u1", 1), ("d3", "u1", 3), ("d1", "u1", 9)])
    assert keys(m) == {"d1": "u:u1", "d2": "u:u1", "d3": "u:u1"}
    assert {a: (r["user_ids"], r["component_devices"], r["is_shared_device"]) for a, r in m.items()} == {
        a: (["u1"], 3, False) for a in ("d1", "d2", "d3")
    }
    assert (m["d1"]["first_login_ts"], m["d1"]["last_login_ts"]) == (
        T0 + dt.timedelta(minutes=5),
        T0 + dt.timedelta(minutes=9),
    )
    assert m["d1"]["rule"] == "login_cc/max_users_per_device=1"
    assert stats == IdentityStats(
        devices=3,
        users=1,
        persons=1,
        merged_persons=0,
        shared_devices=0,
        largest_component=3,
        iterations=stats.iterations,
    )


def test_a_shared_device_merges_nobody_under_the_default():
    stats, m = build([("d1", "u1"), ("d2", "u1"), ("tablet", "u1"), ("tablet", "u2"), ("d4", "u2")])
    assert keys(m) == {"d1": "u:u1", "d2": "u:u1", "tablet": "a:tablet", "d4": "u:u2"}
    assert m["tablet"]["is_shared_device"] and m["tablet"]["user_ids"] == [] and m["tablet"]["component_devices"] == 1
    assert m["d4"]["user_ids"] == ["u2"] and m["d1"]["component_devices"] == 2
    assert (
        stats.devices,
        stats.users,
        stats.persons,
        stats.merged_persons,
        stats.shared_devices,
        stats.largest_component,
    ) == (4, 2, 3, 0, 1, 2)


def test_with_two_users_per_device_a_chain_merges_transitively():
    chain = [("d1", "u1"), ("d1", "u2"), ("d2", "u2"), ("d2", "u3"), ("d3", "u9")]
    stats, m = build(chain, max_users_per_device=2)
    assert keys(m) == {"d1": "u:u1", "d2": "u:u1", "d3": "u:u9"}
    assert m["d2"]["user_ids"] == ["u1", "u2", "u3"] and m["d2"]["component_devices"] == 2
    assert m["d1"]["rule"] == "login_cc/max_users_per_device=2"
    assert (stats.persons, stats.merged_persons, stats.largest_component, stats.shared_devices) == (2, 1, 2, 0)
    assert stats.iterations >= 2
    # the same links under the default: both chain devices are shared, nobody merges
    stats, m = build(chain)
    assert keys(m) == {"d1": "a:d1", "d2": "a:d2", "d3": "u:u9"}
    assert (stats.persons, stats.merged_persons, stats.shared_devices) == (3, 0, 2)


def test_the_threshold_is_inclusive_and_a_device_over_it_is_shared():
    links = [("d1", "u1"), ("d1", "u2"), ("d1", "u3"), ("d2", "u1"), ("d2", "u2"), ("d3", "u3")]
    _, m = build(links, max_users_per_device=2)
    assert keys(m) == {"d1": "a:d1", "d2": "u:u1", "d3": "u:u3"}
    _, m = build(links, max_users_per_device=3)
    assert set(keys(m).values()) == {"u:u1"}


def test_a_long_chain_is_one_person_in_few_rounds():
    # 1,000 devices each seen with two users, numbered out of order: one component of 2,000 nodes whose
    # diameter is ~2,000; plain min-label propagation would need ~1,000 rounds.
    n = 1000
    perm = np.random.default_rng(7).permutation(n)
    links = [(f"d{i}", f"u{perm[i]}") for i in range(n)] + [(f"d{i}", f"u{perm[i + 1]}") for i in range(n - 1)]
    stats, m = build(links, max_users_per_device=2)
    assert set(keys(m).values()) == {"u:u0"}
    assert m["d0"]["user_ids"] == sorted(f"u{i}" for i in range(n))
    assert (stats.persons, stats.largest_component) == (1, n)
    assert stats.iterations <= 30


def test_the_iteration_guard_stops_a_run_that_has_not_converged():
    links = [(f"d{i}", f"u{i}") for i in range(40)] + [(f"d{i}", f"u{i + 1}") for i in range(39)]
    con = links_con(links)
    with pytest.raises(RuntimeError, match="did not converge in 1 rounds"):
        build_identity_map(con, "links", max_users_per_device=2, max_iterations=1)
    assert con.execute("SELECT count(*) FROM duckdb_tables() WHERE table_name = 'identity_map'").fetchone()[0] == 0


def test_isolated_anon_ids_keep_their_own_key():
    con = links_con([("d1", "u1"), ("lonely", None), (None, "u7")])
    stats = build_identity_map(con, "links")
    m = identity_map(con)
    assert keys(m) == {"d1": "u:u1", "lonely": "a:lonely"}
    assert (m["lonely"]["user_ids"], m["lonely"]["is_shared_device"], m["lonely"]["component_devices"]) == (
        [],
        False,
        1,
    )
    assert (stats.devices, stats.persons, stats.shared_devices) == (2, 2, 0)
    # applying the map: a device that never logged in falls back to its own key too
    con.execute("CREATE TABLE events (event_id VARCHAR, anon_id VARCHAR)")
    con.execute("INSERT INTO events VALUES ('e1', 'd1'), ('e2', 'lonely'), ('e3', 'never-logged-in')")
    applied = con.execute(f"SELECT event_id, person_key FROM ({apply_identity_sql('events')}) ORDER BY event_id")
    assert applied.fetchall() == [("e1", "u:u1"), ("e2", "a:lonely"), ("e3", "a:never-logged-in")]


def test_person_keys_do_not_depend_on_link_order():
    links = [
        ("d1", "u5"),
        ("d1", "u3"),
        ("d2", "u3"),
        ("d2", "u4"),
        ("d3", "u8"),
        ("d4", "u8"),
        ("d4", "u1"),
        ("d4", "u2"),
        ("d5", None),
    ]
    _, forward = build(links, max_users_per_device=2)
    rng = np.random.default_rng(1)
    for _ in range(3):
        shuffled = [links[i] for i in rng.permutation(len(links))]
        # the same links in another order (and inserted at other times) give the same persons
        _, other = build([(a, u) for a, u in shuffled], max_users_per_device=2)
        assert keys(other) == keys(forward)
        assert {a: r["user_ids"] for a, r in other.items()} == {a: r["user_ids"] for a, r in forward.items()}
    assert keys(forward) == {"d1": "u:u3", "d2": "u:u3", "d3": "u:u8", "d4": "a:d4", "d5": "a:d5"}


def test_rebuilding_gives_an_identical_table_and_works_inside_a_transaction():
    links = [(f"d{i}", f"u{i % 7}") for i in range(50)] + [("shared", "u1"), ("shared", "u2")]
    con = links_con(links)
    first_stats = build_identity_map(con, "links")
    first = con.execute("SELECT * FROM clean.identity_map").fetchall()
    con.execute("BEGIN TRANSACTION")
    second_stats = build_identity_map(con, "links")
    con.execute("COMMIT")
    assert con.execute("SELECT * FROM clean.identity_map").fetchall() == first
    assert second_stats == first_stats and first_stats.persons == 8
    leftovers = con.execute("SELECT table_name FROM duckdb_tables() WHERE temporary").fetchall()
    assert leftovers == []


def test_schema_qualified_links_and_names_that_are_not_plain_identifiers():
    con = links_con([("d1", "u1")], table="staging.links")
    assert build_identity_map(con, "staging.links").persons == 1
    for bad in ("links; DROP TABLE x", "a.b.c", "1links", "links--", "", "identity_edges"):
        with pytest.raises(ValueError):
            build_identity_map(con, bad)
    with pytest.raises(ValueError):
        apply_identity_sql("events e; --")
    for bad in (0, -1, True, 1.5):
        with pytest.raises(ValueError):
            build_identity_map(con, "staging.links", max_users_per_device=bad)


def test_empty_links_give_an_empty_map():
    stats = build_identity_map(links_con([]), "links")
    assert stats == IdentityStats(0, 0, 0, 0, 0, 0, iterations=1)


@pytest.mark.parametrize("max_users", [1, 2, 3])
def test_components_match_scipy_on_a_random_graph(max_users):
    rng = np.random.default_rng(4 + max_users)
    links = sorted({(f"d{rng.integers(3000)}", f"u{rng.integers(1500)}") for _ in range(4000)})
    stats, m = build(links, max_users_per_device=max_users)

    users_per_device: dict[str, set] = {}
    for d, u in links:
        users_per_device.setdefault(d, set()).add(u)
    kept = [(d, u) for d, u in links if len(users_per_device[d]) <= max_users]
    nodes = sorted({d for d, _ in kept} | {u for _, u in kept})
    index = {n: i for i, n in enumerate(nodes)}
    graph = coo_matrix(
        (np.ones(len(kept)), ([index[d] for d, _ in kept], [index[u] for _, u in kept])), shape=(len(nodes), len(nodes))
    )
    n_components, labels = connected_components(graph, directed=False)

    theirs: dict[int, set] = {}
    for d in {d for d, _ in kept}:
        theirs.setdefault(labels[index[d]], set()).add(d)
    ours: dict[str, set] = {}
    for d in {d for d, _ in kept}:
        ours.setdefault(m[d]["person_key"], set()).add(d)
    assert sorted(map(sorted, ours.values())) == sorted(map(sorted, theirs.values()))
    # each component's key is its smallest user id, and its user list is exactly its users
    component_users: dict[int, list] = {}
    for n in nodes:
        if n.startswith("u"):
            component_users.setdefault(labels[index[n]], []).append(n)
    component_users = {label: sorted(users) for label, users in component_users.items()}
    for d in {d for d, _ in kept}:
        users = component_users[labels[index[d]]]
        assert (m[d]["person_key"], m[d]["user_ids"]) == ("u:" + users[0], users)
        assert m[d]["component_devices"] == len(theirs[labels[index[d]]])
    shared = {d for d, us in users_per_device.items() if len(us) > max_users}
    assert {d for d, r in m.items() if r["is_shared_device"]} == shared
    assert all(m[d]["person_key"] == "a:" + d for d in shared)
    assert stats.persons == len(theirs) + len(shared)
    assert stats.merged_persons == sum(len(us) > 1 for us in component_users.values())
    assert stats.largest_component == max(len(ds) for ds in theirs.values())
    assert stats.users == len({u for _, u in links}) and stats.devices == len(users_per_device)
    if max_users > 1:
        assert stats.merged_persons > 0
    print(f"max_users_per_device={max_users}: {stats}")


def oracle(links: list[tuple[str, str | None]], max_users: int) -> dict[str, tuple]:
    """The rule, by union-find in Python: anon_id -> (person_key, user_ids, component_devices, shared)."""
    users_of: dict[str, set] = {}
    for a, u in links:
        if a is not None:
            users_of.setdefault(a, set())
            if u is not None:
                users_of[a].add(u)
    parent: dict[str, str] = {}

    def find(x):
        while parent.setdefault(x, x) != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for a, us in users_of.items():
        if 0 < len(us) <= max_users:
            for u in us:
                parent[find("d:" + a)] = find("u:" + u)
    members: dict[str, list] = {}
    for node in list(parent):
        members.setdefault(find(node), []).append(node)
    out = {}
    for a, us in users_of.items():
        if 0 < len(us) <= max_users:
            group = members[find("d:" + a)]
            users = sorted(n[2:] for n in group if n.startswith("u:"))
            out[a] = ("u:" + users[0], users, sum(n.startswith("d:") for n in group), False)
        else:
            out[a] = ("a:" + a, [], 1, len(us) > max_users)
    return out


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    links=st.lists(
        st.tuples(
            st.sampled_from([f"d{i}" for i in range(8)] + [None]), st.sampled_from([f"u{i}" for i in range(6)] + [None])
        ),
        max_size=25,
    ),
    max_users=st.integers(1, 3),
)
def test_property_map_follows_the_rule(links, max_users):
    stats, m = build(links, max_users_per_device=max_users)
    expected = oracle(links, max_users)
    got = {a: (r["person_key"], r["user_ids"], r["component_devices"], r["is_shared_device"]) for a, r in m.items()}
    assert got == expected
    persons = {v[0] for v in expected.values()}
    assert (stats.devices, stats.persons, stats.shared_devices) == (
        len(expected),
        len(persons),
        sum(v[3] for v in expected.values()),
    )
    assert stats.merged_persons == len({v[0] for v in expected.values() if len(v[1]) > 1})
    assert stats.users == len({u for a, u in links if a is not None and u is not None})
