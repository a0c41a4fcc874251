"""Walking times, reachable spaces and isochrones against hand-worked answers and networkx."""

from __future__ import annotations

import networkx as nx
import numpy as np
import pandas as pd
import pytest
import shapely
from conftest import CRS, X0, Y0, grid_edges, grid_nodes, osm_graph, points

from sharemap import access
from sharemap.network import network_from_graph


def test_snap_distances_by_hand(grid3):
    """A point 5 m south of edge 00-01, 80 m from node 00: 85 m to 00 and 25 m to 01."""
    snaps = access.snap_points(grid3, points([(X0 + 80, Y0 - 5), (X0 + 100, Y0 + 100)]))
    assert snaps.loc[0, "offset_m"] == pytest.approx(5.0)
    assert snaps.loc[0, "position_m"] == pytest.approx(80.0)
    assert snaps.loc[0, "dist_u_m"] == pytest.approx(85.0)
    assert snaps.loc[0, "dist_v_m"] == pytest.approx(25.0)
    assert snaps.loc[1, "offset_m"] == pytest.approx(0.0)


def test_snap_limit_marks_off_network(grid3):
    snaps = access.snap_points(grid3, points([(X0 + 100, Y0 - 300), (X0 + 100, Y0 - 240)]),
                               max_snap_m=250)
    assert snaps["on_network"].tolist() == [False, True]
    assert snaps.loc[1, "offset_m"] == pytest.approx(240.0)
    assert snaps.loc[0, "edge"] == -1


def test_walk_times_hand_checked(grid3):
    r"""Hand-worked walking distances on the 3x3 grid (80 m/min).

    origin A (50, 10): on edge 00-01 at 50 m, offset 10.
    space a1 (80, -5): same edge at 80 m, offset 5 -> 10 + 30 + 5 = 45 m = 0.5625 min
      (directly along the shared edge, not via a node).
    space a2 at node 11 (100, 100): 10 + 50 + 100 = 160 m = 2.0 min.
    space b (150, 205): edge 21-22 at 50 m, offset 5 -> 10 + 50 + 100 + 100 + 50 + 5 = 315 m.
    origin B at node 22: to b 50 + 5 = 55 m; to a2 200 m (2.5 min); to a1 300 m to node 01
      (any shortest route) + 20 + 5 = 325 m, beyond a 3-minute (240 m) walk.
    """
    origins = points([(X0 + 50, Y0 + 10), (X0 + 200, Y0 + 200)])
    spaces = points([(X0 + 80, Y0 - 5), (X0 + 150, Y0 + 205), (X0 + 100, Y0 + 100)],
                    category=["a", "b", "a"])
    t = access.walk_times(grid3, origins, spaces)
    assert t.loc[0, "walk_min_a"] == pytest.approx(45 / 80)
    assert t.loc[0, "walk_min_b"] == pytest.approx(315 / 80)
    assert t.loc[1, "walk_min_a"] == pytest.approx(200 / 80)
    assert t.loc[1, "walk_min_b"] == pytest.approx(55 / 80)
    pairs = access.spaces_within(grid3, origins, spaces, minutes=3)
    got = {(o, s): m for o, s, m in pairs.itertuples(index=False)}
    assert got == pytest.approx({(0, 0): 45 / 80, (0, 2): 2.0, (1, 1): 55 / 80, (1, 2): 2.5})
    wider = access.spaces_within(grid3, origins, spaces, minutes=5)
    assert wider.set_index(["origin", "space"]).loc[(1, 0), "minutes"] == pytest.approx(325 / 80)


def test_walk_speed_scales_minutes(grid3):
    origins = points([(X0, Y0)])
    spaces = points([(X0 + 200, Y0)], category=["a"])
    fast = access.walk_times(grid3, origins, spaces, walk_speed_kmh=4.8)
    slow = access.walk_times(grid3, origins, spaces, walk_speed_kmh=3.6)
    assert fast.iloc[0, 0] == pytest.approx(200 / 80)
    assert slow.iloc[0, 0] == pytest.approx(200 / 60)


def test_disconnected_piece_and_unreachable_category():
    """A separate 2-node street 1 km away is dropped; a space there is off the network."""
    nodes = {**grid_nodes(), 90: (X0 + 1000, Y0), 91: (X0 + 1100, Y0)}
    net = network_from_graph(osm_graph(nodes, [*grid_edges(), (90, 91)]), crs=CRS)
    assert net.info["components_dropped"] == 1
    assert net.info["nodes_dropped"] == 2
    spaces = points([(X0 + 1050, Y0 + 1)], category=["a"])
    snaps = access.snap_points(net, spaces)
    assert not snaps["on_network"].iloc[0]
    t = access.walk_times(net, points([(X0, Y0)]), spaces)
    assert np.isnan(t.iloc[0, 0])


def test_parallel_edges_keep_shortest():
    """Two streets join 0 and 1: straight (100 m) and a detour (~241 m); 100 m wins."""
    g = osm_graph({0: (X0, Y0), 1: (X0 + 100, Y0)}, [(0, 1)])
    detour = shapely.LineString([(X0, Y0), (X0 + 50, Y0 + 100), (X0 + 100, Y0)])
    g.add_edge(0, 1, key=1, highway="footway", geometry=detour)
    g.add_edge(1, 0, key=1, highway="footway", geometry=shapely.reverse(detour))
    net = network_from_graph(g, crs=CRS)
    assert len(net.edges) == 2
    assert net.csr[0, 1] == pytest.approx(100.0)
    t = access.walk_times(net, points([(X0, Y0)]), points([(X0 + 100, Y0)], category=["a"]))
    assert t.iloc[0, 0] == pytest.approx(100 / 80)


def _random_grid(seed: int, n: int = 12):
    rng = np.random.default_rng(seed)
    nodes = {10 * r + c: (X0 + c * 90 + rng.uniform(-20, 20), Y0 + r * 90 + rng.uniform(-20, 20))
             for r in range(n) for c in range(n)}
    edges = []
    for r in range(n):
        for c in range(n):
            if c + 1 < n and rng.random() > 0.15:
                edges.append((10 * r + c, 10 * r + c + 1))
            if r + 1 < n and rng.random() > 0.15:
                edges.append((10 * r + c, 10 * (r + 1) + c))
    return nodes, edges


def _brute_force(net, origins, spaces):
    """Reference: networkx Dijkstra from every origin's two edge ends, plus same-edge walks."""
    g = net.to_networkx()
    so = access.snap_points(net, origins)
    ss = access.snap_points(net, spaces)
    dist = {}
    for i, o in so.iterrows():
        ends = {int(net.edge_u[o.edge]): o.dist_u_m, int(net.edge_v[o.edge]): o.dist_v_m}
        best = {}
        for node, d0 in ends.items():
            for k, d in nx.single_source_dijkstra_path_length(g, node, weight="length").items():
                best[k] = min(best.get(k, np.inf), d0 + d)
        for j, s in ss.iterrows():
            d = min(best[int(net.edge_u[s.edge])] + s.dist_u_m,
                    best[int(net.edge_v[s.edge])] + s.dist_v_m)
            if s.edge == o.edge:
                d = min(d, abs(s.position_m - o.position_m) + s.offset_m + o.offset_m)
            dist[(i, j)] = d
    return dist


@pytest.mark.parametrize("seed", [0, 1])
def test_matches_networkx_brute_force(seed):
    nodes, edges = _random_grid(seed)
    net = network_from_graph(osm_graph(nodes, edges), crs=CRS)
    rng = np.random.default_rng(100 + seed)
    xy = rng.uniform([X0 - 20, Y0 - 20], [X0 + 1010, Y0 + 1010], size=(60, 2))
    origins = points([tuple(p) for p in xy[:25]])
    cats = rng.choice(["a", "b", "c"], size=35)
    spaces = points([tuple(p) for p in xy[25:]], category=cats)
    ref = _brute_force(net, origins, spaces)
    times = access.walk_times(net, origins, spaces)
    for c in "abc":
        cols = [j for j in range(len(spaces)) if cats[j] == c]
        expect = [min(ref[(i, j)] for j in cols) / 80 for i in range(len(origins))]
        np.testing.assert_allclose(times[f"walk_min_{c}"].to_numpy(), expect, rtol=1e-9)
    pairs = access.spaces_within(net, origins, spaces, minutes=5)
    got = {(o, s): m for o, s, m in pairs.itertuples(index=False)}
    want = {k: d / 80 for k, d in ref.items() if d <= 400 + 1e-9}
    assert got.keys() == want.keys()
    assert got == pytest.approx(want)
    counts = access.count_within(net, origins, spaces, minutes=(5, 10))
    for c in "abc":
        for m in (5, 10):
            expect = [sum(1 for j in range(len(spaces)) if cats[j] == c and ref[(i, j)] <= m * 80)
                      for i in range(len(origins))]
            assert counts[f"n_reachable_{c}_{m}"].tolist() == expect


def test_isochrones_nested_and_follow_streets(grid3):
    """A space at node 00: 1 min = 80 m along both streets; nothing reaches node 11."""
    spaces = points([(X0, Y0)], category=["a"], space_id=["s1"])
    iso = access.isochrones(grid3, spaces, minutes=(1, 2, 5), buffer_m=10)
    assert iso["minutes"].tolist() == [1.0, 2.0, 5.0]
    polys = iso.geometry.to_numpy()
    assert all(shapely.is_valid(polys))
    assert polys[1].contains(polys[0].buffer(-0.01))
    assert polys[2].contains(polys[1].buffer(-0.01))
    one = polys[0]
    assert one.contains(shapely.Point(X0 + 75, Y0))
    assert not one.contains(shapely.Point(X0 + 95, Y0))
    # the 2-minute (160 m) polygon reaches node 01 and 60 m up towards 11, not the block middle
    two = polys[1]
    assert two.contains(shapely.Point(X0 + 100, Y0 + 55))
    assert not two.contains(shapely.Point(X0 + 50, Y0 + 50))
    assert iso["space_id"].tolist() == ["s1"] * 3


def test_crs_mismatch_is_an_error(grid3):
    from sharemap import CRSError

    wgs = points([(X0, Y0)]).set_crs("EPSG:4326", allow_override=True)
    with pytest.raises(CRSError):
        access.snap_points(grid3, wgs)


def test_count_within_aligned_to_index(grid3):
    origins = points([(X0, Y0), (X0 + 200, Y0 + 200)])
    origins.index = pd.Index(["p", "q"])
    spaces = points([(X0 + 10, Y0)], category=["a"])
    counts = access.count_within(grid3, origins, spaces, minutes=(1,))
    assert counts.index.tolist() == ["p", "q"]
    assert counts["n_reachable_a_1"].tolist() == [1, 0]
