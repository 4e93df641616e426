"""Identity resolution: connected components of login links, checked against scipy."""

from __future__ import annotations

import duckdb
import numpy as np
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from data_platform.cleaning.identity import build_identity_map


def identity(links: list[tuple[str, str]], **kw):
    con = duckdb.connect()
    con.execute("CREATE TABLE links (anon_id VARCHAR, user_id VARCHAR, ts TIMESTAMPTZ)")
    con.executemany("INSERT INTO links VALUES (?, ?, now())", links)
    stats = build_identity_map(con, "links", **kw)
    mapping = {r[0]: r[1:] for r in con.execute(
        "SELECT anon_id, person_key, is_shared_device FROM clean.identity_map").fetchall()}
    return stats, mapping


def test_a_person_with_several_devices_and_a_shared_device_that_merges_nobody():
    stats, m = identity([("d1", "u1"), ("d2", "u1"), ("d3", "u1"), ("tablet", "u1"), ("tablet", "u2"), ("d4", "u2")])
    assert m["d1"] == m["d2"] == m["d3"] == ("u:u1", False)
    assert m["tablet"] == ("a:tablet", True) and m["d4"] == ("u:u2", False)
    assert (stats.persons, stats.shared_devices, stats.merged_persons, stats.largest_component) == (3, 1, 0, 3)


def test_with_two_users_per_device_merges_propagate_along_a_chain():
    stats, m = identity([("d1", "u3"), ("d1", "u2"), ("d2", "u2"), ("d2", "u1"), ("d3", "u9")], max_users_per_device=2)
    assert m["d1"][0] == m["d2"][0] == "u:u1" and m["d3"][0] == "u:u9"
    assert stats.merged_persons == 1 and stats.iterations >= 2


def test_rebuilding_gives_the_same_map():
    links = [(f"d{i}", f"u{i % 7}") for i in range(50)]
    assert identity(links)[1] == identity(links)[1]


def test_components_match_scipy_on_a_random_graph():
    rng = np.random.default_rng(4)
    links = sorted({(f"d{rng.integers(3000)}", f"u{rng.integers(1500)}") for _ in range(4000)})
    stats, m = identity(links, max_users_per_device=3)
    users_per_device: dict[str, set] = {}
    for d, u in links:
        users_per_device.setdefault(d, set()).add(u)
    kept = [(d, u) for d, u in links if len(users_per_device[d]) <= 3]
    nodes = sorted({d for d, _ in kept} | {u for _, u in kept})
    index = {n: i for i, n in enumerate(nodes)}
    graph = coo_matrix((np.ones(len(kept)), ([index[d] for d, _ in kept], [index[u] for _, u in kept])),
                       shape=(len(nodes), len(nodes)))
    _, labels = connected_components(graph, directed=False)
    ours = {}
    for d in {d for d, _ in kept}:
        ours.setdefault(m[d][0], set()).add(d)
    theirs = {}
    for d in {d for d, _ in kept}:
        theirs.setdefault(labels[index[d]], set()).add(d)
    assert sorted(map(sorted, ours.values())) == sorted(map(sorted, theirs.values()))
    assert stats.merged_persons > 0
