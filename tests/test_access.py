"""Walking times and reachable spaces against hand-worked answers and networkx."""

from __future__ import annotations

import networkx as nx
import numpy as np
import pandas as pd
import pytest
import shapely
from conftest import CRS, X0, Y0, grid_edges, grid_nodes, osm_graph, points, random_grid

from sharemap import _engine, access
from sharemap.isochrones import isochrones
from sharemap.network import network_from_graph, undirected_csr


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
    nodes, edges = random_grid(seed)
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


def test_points_in_another_crs_are_reprojected(grid3):
    """An analyst's WGS84 points give the same answers as the same points in metres."""
    origins = points([(X0 + 30, Y0 + 5), (X0 + 200, Y0 + 130)])
    spaces = points([(X0 + 10, Y0), (X0 + 100, Y0 + 190)], category=["a", "b"])
    want = access.walk_times(grid3, origins, spaces)
    got = access.walk_times(grid3, origins.to_crs(4326), spaces.to_crs(4326))
    assert got.index.equals(want.index)
    np.testing.assert_allclose(got.to_numpy(), want.to_numpy(), atol=1e-6)
    counts = access.count_within(grid3, origins.to_crs(4326), spaces, minutes=(2,))
    assert counts.equals(access.count_within(grid3, origins, spaces, minutes=(2,)))
    iso = isochrones(grid3, spaces.to_crs(4326), minutes=(1,))
    assert iso.crs == grid3.crs
    assert iso.geometry.iloc[0].contains(spaces.geometry.iloc[0])


def test_points_that_cannot_be_reprojected_get_a_short_error(grid3):
    from sharemap import CRSError

    # metric coordinates labelled as degrees: no place on Earth, nothing to snap
    wrong = points([(X0, Y0)]).set_crs("EPSG:4326", allow_override=True)
    with pytest.raises(CRSError, match=r"EPSG:4326.*EPSG:5186") as err:
        access.snap_points(grid3, wrong)
    assert len(str(err.value)) < 300  # the CRSs by name, not 1,500 characters of WKT
    assert "PROJCRS" not in str(err.value)
    bare = points([(X0, Y0)]).set_crs(None, allow_override=True)
    with pytest.raises(CRSError, match=r"no coordinate reference system.*set_crs") as err:
        access.walk_times(grid3, bare, points([(X0, Y0)], category=["a"]))
    assert len(str(err.value)) < 300


def test_count_within_aligned_to_index(grid3):
    origins = points([(X0, Y0), (X0 + 200, Y0 + 200)])
    origins.index = pd.Index(["p", "q"])
    spaces = points([(X0 + 10, Y0)], category=["a"])
    counts = access.count_within(grid3, origins, spaces, minutes=(1,))
    assert counts.index.tolist() == ["p", "q"]
    assert counts["n_reachable_a_1"].tolist() == [1, 0]


# ------------------------------------------------------------------ more hand-checked


@pytest.fixture(autouse=True)
def _cache_in_tmp(tmp_path, monkeypatch):
    """Never write sharemap's network cache to the real home folder."""
    monkeypatch.setenv("SHAREMAP_CACHE_DIR", str(tmp_path / "sharemap-cache"))


def test_spaces_on_the_origins_street_both_sides(grid3):
    """Origin O (50, 10) on edge 00-01 at 50 m, offset 10.

    space p (20, -5): same street at 20 m, the other side, offset 5: 10 + 30 + 5 = 45 m.
    space q (90, 3): same street at 90 m, offset 3: 10 + 40 + 3 = 53 m.
    (Round a node instead: at least 10 + 50 + 20 + 5 = 85 m.) At 0.6 min (48 m) only p
    is within reach, at 1 min (80 m) both.
    """
    origins = points([(X0 + 50, Y0 + 10)])
    spaces = points([(X0 + 20, Y0 - 5), (X0 + 90, Y0 + 3)], category=["a", "b"])
    t = access.walk_times(grid3, origins, spaces)
    assert t.loc[0, "walk_min_a"] == pytest.approx(45 / 80, abs=1e-12)
    assert t.loc[0, "walk_min_b"] == pytest.approx(53 / 80, abs=1e-12)
    pairs = access.spaces_within(grid3, origins, spaces, minutes=1)
    assert pairs["space"].tolist() == [0, 1]
    assert pairs["minutes"].tolist() == pytest.approx([45 / 80, 53 / 80], abs=1e-12)
    counts = access.count_within(grid3, origins, spaces, minutes=(0.6, 1))
    assert counts.iloc[0].to_dict() == {"n_reachable_a_0.6": 1, "n_reachable_a_1": 1,
                                        "n_reachable_b_0.6": 0, "n_reachable_b_1": 1}


def test_space_beyond_the_snapping_limit_is_never_counted(grid3):
    """Space `far` is 300 m south of the grid (limit 250 m): off the network, no time,
    no count, no pair. Space `near` is 240 m below node 01: 100 + 240 = 340 m from node 00.
    """
    origins = points([(X0, Y0)])
    spaces = points([(X0, Y0 - 300), (X0 + 100, Y0 - 240)], category=["far", "near"])
    t = access.walk_times(grid3, origins, spaces, max_snap_m=250)
    assert np.isnan(t.loc[0, "walk_min_far"])
    assert t.loc[0, "walk_min_near"] == pytest.approx(340 / 80)
    counts = access.count_within(grid3, origins, spaces, minutes=(5,))
    assert counts.iloc[0].tolist() == [0, 1]
    pairs = access.spaces_within(grid3, origins, spaces, minutes=60)
    assert pairs["space"].tolist() == [1]


def test_two_spaces_at_one_position_both_count(grid3):
    """Three spaces 5 m off edge 01-02 at its middle: 150 + 5 m from node 00."""
    origins = points([(X0, Y0)])
    spaces = points([(X0 + 150, Y0 + 5)] * 3, category=["a", "a", "b"])
    t = access.walk_times(grid3, origins, spaces)
    assert t.iloc[0].tolist() == pytest.approx([155 / 80, 155 / 80])
    counts = access.count_within(grid3, origins, spaces, minutes=(2,))
    assert counts.iloc[0].tolist() == [2, 1]
    pairs = access.spaces_within(grid3, origins, spaces, minutes=2)
    assert sorted(pairs["space"]) == [0, 1, 2]
    assert pairs["minutes"].tolist() == pytest.approx([155 / 80] * 3)


def test_zero_length_edge():
    """Node 99 sits exactly on node 22 and leads on to node 98, 100 m east of it.

    From node 00: 400 m to 22, + 0 to 99, + 100 to 98 = 500 m. A space standing on 22
    and 99 is 400 m away. (A zero-length street weighs 1e-6 m in the CSR matrix.)
    """
    nodes = {**grid_nodes(), 99: (X0 + 200, Y0 + 200), 98: (X0 + 300, Y0 + 200)}
    net = network_from_graph(osm_graph(nodes, [*grid_edges(), (22, 99), (99, 98)]), crs=CRS)
    assert (net.edge_length == 0).sum() == 1
    spaces = points([(X0 + 300, Y0 + 200), (X0 + 200, Y0 + 200)], category=["a", "b"])
    t = access.walk_times(net, points([(X0, Y0)]), spaces)
    assert t.iloc[0].tolist() == pytest.approx([500 / 80, 400 / 80], abs=1e-6)


def test_engine_disconnected_piece():
    """Edges 0-1 (10 m), 1-2 (0 m), 2-3 (5 m) and a separate piece 4-5 (7 m).

    From 0 (start offset 2): 2, 12, 12, 17, unreachable, unreachable.
    """
    csr = undirected_csr(np.array([0, 1, 2, 4]), np.array([1, 2, 3, 5]),
                         np.array([10.0, 0.0, 5.0, 7.0]), 6)
    d = _engine.multi_source(csr, [0], [2.0])
    np.testing.assert_allclose(d, [2, 12, 12, 17, np.inf, np.inf], atol=1e-5)
    d = _engine.multi_source(csr, [0], [2.0], limit=12.5)
    np.testing.assert_allclose(d, [2, 12, 12, np.inf, np.inf, np.inf], atol=1e-5)
    g, t, dd = _engine.pairs_within(csr, [0, 4], [0.0, 0.0], [3, 5], [1.0, 1.0], max_m=100)
    got = {(int(a), int(b)): x for a, b, x in zip(g, t, dd, strict=True)}
    assert got == pytest.approx({(0, 0): 16.0, (1, 1): 8.0}, abs=1e-5)
    c = _engine.counts_within(csr, [0, 4], [0.0, 0.0], [3, 5, 5], [1.0, 1.0, 0.0],
                              limits_m=[7.5, 20], labels=[0, 1], n_labels=2)
    # rows are targets; target 5 (offset 0) is 7 m from source 4 (label 1)
    assert c.tolist() == [[[0, 1], [0, 0]], [[0, 0], [0, 1]], [[0, 0], [1, 1]]]


def test_undirected_csr_equals_sorting_by_pair_and_weight():
    """The shortest of parallel edges, pairs in order: the matrix of a full sort, exactly."""
    from scipy import sparse

    rng = np.random.default_rng(7)
    n, m = 50, 400
    u, v = rng.integers(0, n, m), rng.integers(0, n, m)
    w = np.round(rng.uniform(0, 30, m), 0)  # ties among parallel edges
    w[:5] = np.nan
    w[rng.random(m) < 0.05] = 0.0
    keep = u != v
    a, b = np.minimum(u[keep], v[keep]), np.maximum(u[keep], v[keep])
    ww = np.maximum(w[keep], 1e-6)
    order = np.lexsort((ww, b, a))
    a, b, ww = a[order], b[order], ww[order]
    first = np.r_[True, (a[1:] != a[:-1]) | (b[1:] != b[:-1])]
    a, b, ww = a[first], b[first], ww[first]
    want = sparse.csr_matrix((np.r_[ww, ww], (np.r_[a, b], np.r_[b, a])), shape=(n, n))
    got = undirected_csr(u, v, w, n)
    for part in ("indptr", "indices", "data"):
        np.testing.assert_array_equal(getattr(got, part), getattr(want, part))
    assert undirected_csr(np.array([3]), np.array([3]), np.array([1.0]), 4).nnz == 0


# ------------------------------------------------------- compiled vs networkx


def _random_graph(seed: int, n: int = 120, m: int = 330):
    """Random weights, parallel edges, self-loops and a few zero-length edges."""
    rng = np.random.default_rng(seed)
    u = rng.integers(0, n, m)
    v = np.where(rng.random(m) < 0.05, u, rng.integers(0, n, m))
    w = np.round(rng.uniform(0, 120, m), 1)
    w[rng.random(m) < 0.03] = 0.0
    csr = undirected_csr(u, v, w, n)
    g = nx.Graph()
    g.add_nodes_from(range(n))
    for a, b, x in sorted(zip(u.tolist(), v.tolist(), w.tolist(), strict=True),
                          key=lambda e: -e[2]):  # the shortest parallel edge wins
        if a != b:
            g.add_edge(a, b, weight=max(x, 1e-6))
    return rng, csr, g


def _nx_from(g, nodes, offsets, cutoff=None):
    """networkx distances from a virtual node joined to `nodes` by their offsets."""
    for node, off in zip(nodes, offsets, strict=True):
        if not g.has_edge("s", node) or g["s"][node]["weight"] > off:
            g.add_edge("s", node, weight=off)
    try:
        d = nx.single_source_dijkstra_path_length(g, "s", cutoff=cutoff)
    finally:
        g.remove_node("s")
    d.pop("s")
    return d


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_engine_matches_networkx_on_random_graphs(seed):
    rng, csr, g = _random_graph(seed)
    n = csr.shape[0]
    src = rng.integers(0, n, 8)
    off = rng.uniform(0, 30, 8)
    ref = _nx_from(g, src, off)
    expect = np.array([ref.get(i, np.inf) for i in range(n)])
    limit = float(np.median(expect[np.isfinite(expect)]))
    got = _engine.multi_source(csr, src, off)
    np.testing.assert_allclose(got, expect, rtol=0, atol=1e-9)
    got = _engine.multi_source(csr, src, off, limit=limit)
    np.testing.assert_allclose(got, np.where(expect <= limit, expect, np.inf), atol=1e-9)
    # every (source, target) pair within max_m, each source on its own
    tgt = rng.integers(0, n, 25)
    toff = rng.uniform(0, 20, 25)
    max_m = 150.0
    want = {}
    for i in range(len(src)):
        d = _nx_from(g, [src[i]], [off[i]])
        for j in range(len(tgt)):
            total = d.get(int(tgt[j]), np.inf) + toff[j]
            if total <= max_m:
                want[(i, j)] = total
    labels = rng.integers(0, 3, len(src))
    gg, tt, dd = _engine.pairs_within(csr, src, off, tgt, toff, max_m=max_m)
    got = {(int(a), int(b)): x for a, b, x in zip(gg, tt, dd, strict=True)}
    assert got.keys() == want.keys()
    assert got == pytest.approx(want, rel=0, abs=1e-9)
    counts = _engine.counts_within(csr, src, off, tgt, toff, limits_m=[60.0, max_m],
                                   labels=labels, n_labels=3)
    for j in range(len(tgt)):
        for c in range(3):
            for k, lim in enumerate((60.0, max_m)):
                assert counts[j, c, k] == sum(
                    1 for (i, jj), x in want.items() if jj == j and labels[i] == c
                    and x <= lim)
    per_source = _engine.counts_within(csr, src, off, tgt, toff, limits_m=[max_m],
                                       labels=np.zeros(len(tgt)), n_labels=1,
                                       to_source=True)
    assert per_source[:, 0, 0].tolist() == [sum(1 for (i, _) in want if i == s)
                                            for s in range(len(src))]


def test_the_backend_argument_is_deprecated_and_ignored():
    """numba is required: the scipy fallback is gone; `backend=` warns for one release."""
    joined = access.join_points(*_two_points_on_a_street())
    idx = np.array([0], dtype=np.int64)
    want = access.nearest_distance(joined, idx, idx + 1)
    assert want.tolist() == pytest.approx([2 + 50 + 3])
    with pytest.warns(FutureWarning, match="`backend` argument is deprecated and ignored"):
        got = access.nearest_distance(joined, idx, idx + 1, backend="scipy")
    assert got.tolist() == want.tolist()
    with pytest.warns(FutureWarning, match="`backend`"):
        access.pairs_within(joined, idx, idx + 1, max_m=500, backend="numba")
    assert not hasattr(_engine, "HAVE_NUMBA")


def _two_points_on_a_street():
    from sharemap.network import network_from_graph

    net = network_from_graph(osm_graph(grid_nodes(), grid_edges()), crs=CRS)
    pts = points([(X0 + 10, Y0 + 2), (X0 + 60, Y0 - 3)])
    return net, access.snap_points(net, pts)


# ------------------------------------------------------------ real Dongdaemun network


def test_real_dongdaemun_matches_networkx(seoul_data):
    """Every Ttareungyi station in Dongdaemun-gu to every node, against networkx.

    A space's walk to a node leaves its street by one of the two ends, so networkx
    from a virtual node joined to both ends (by the along-street walk plus the
    offset) is an independent reference.
    """
    from sharemap.coverage import read_boundaries
    from sharemap.layers import read_layer
    from sharemap.network import network_from_graphml

    net = network_from_graphml(seoul_data / "network" / "dongdaemun_walk.graphml", crs=CRS)
    gu = read_boundaries(seoul_data / "boundaries" / "seoul_gu_2021.geojson", crs=CRS,
                         name="sggnm", filter={"sggnm": "동대문구"})
    spaces, _ = read_layer(seoul_data / "raw" / "ttareungyi_master_seoul_open_data.json",
                           category="bike", preset="ttareungyi",
                           study_area=shapely.union_all(gu.geometry.to_numpy()))
    snaps = access.snap_points(net, spaces)
    assert len(spaces) > 80 and snaps["on_network"].all()
    joined = access.join_points(net, snaps)
    n = net.n_nodes
    g = net.to_networkx()
    nx.set_edge_attributes(g, {e: max(w, 1e-6) for e, w in
                               nx.get_edge_attributes(g, "length").items()}, "weight")
    ends = [(int(net.edge_u[e]), int(net.edge_v[e])) for e in snaps["edge"]]
    offs = snaps[["dist_u_m", "dist_v_m"]].to_numpy()
    # nearest station from every node
    want = _nx_from(g, [x for uv in ends for x in uv], offs.ravel())
    got = _engine.multi_source(joined.csr, joined.node, joined.offset_m)[:n]
    np.testing.assert_allclose(got, [want[i] for i in range(n)], rtol=0, atol=1e-6)
    # every (station, node) pair within 15 minutes, and the counts at 5/10/15
    gg, tt, dd = _engine.pairs_within(joined.csr, joined.node, joined.offset_m,
                                      np.arange(n), np.zeros(n), max_m=1200.0)
    counts = np.zeros((n, 3), np.int64)
    for i, (uv, off) in enumerate(zip(ends, offs, strict=True)):
        ref = _nx_from(g, uv, off, cutoff=1200.0)
        nodes = np.fromiter(ref.keys(), np.int64, len(ref))
        dist = np.fromiter(ref.values(), float, len(ref))
        order = np.argsort(nodes)
        mine = gg == i
        np.testing.assert_array_equal(np.sort(tt[mine]), nodes[order])
        np.testing.assert_allclose(dd[mine][np.argsort(tt[mine])], dist[order], atol=1e-6)
        np.add.at(counts, nodes, dist[:, None] <= np.array([400.0, 800.0, 1200.0]))
    engine_counts = _engine.counts_within(
        joined.csr, joined.node, joined.offset_m, np.arange(n), np.zeros(n),
        limits_m=[400.0, 800.0, 1200.0], labels=np.zeros(len(spaces)), n_labels=1)
    np.testing.assert_array_equal(engine_counts[:, 0, :], counts)


# ----------------------------------------------------------- prepare once, then measure


def _hand_points():
    """The points of test_walk_times_hand_checked, plus an origin and a space 300 m off."""
    origins = points([(X0 + 50, Y0 + 10), (X0 + 200, Y0 + 200), (X0 + 100, Y0 - 300)])
    spaces = points([(X0 + 80, Y0 - 5), (X0 + 150, Y0 + 205), (X0 + 100, Y0 + 100),
                     (X0 - 300, Y0)], category=["a", "b", "a", "b"])
    return origins.set_axis([10, 20, 30]), spaces.set_axis(["s1", "s2", "s3", "s4"])


def test_prepared_points_give_the_same_answers_as_the_network(grid3):
    origins, spaces = _hand_points()
    pts = access.prepare_points(grid3, origins, spaces)
    assert list(pts.off_network_origins) == [30]
    assert list(pts.off_network_targets) == ["s4"]
    t = access.walk_times(pts, origins, spaces)
    assert t.loc[10, "walk_min_a"] == pytest.approx(45 / 80)  # the hand-worked answers
    assert t.loc[20, "walk_min_b"] == pytest.approx(55 / 80)
    assert t.loc[30].isna().all()
    pd.testing.assert_frame_equal(t, access.walk_times(grid3, origins, spaces))
    pd.testing.assert_frame_equal(access.count_within(pts, origins, spaces),
                                  access.count_within(grid3, origins, spaces))
    pd.testing.assert_frame_equal(access.spaces_within(pts, origins, spaces, minutes=3),
                                  access.spaces_within(grid3, origins, spaces, minutes=3))
    from sharemap.gaps import nearest_spaces

    pd.testing.assert_frame_equal(nearest_spaces(pts, origins, spaces),
                                  nearest_spaces(grid3, origins, spaces))


def test_prepared_points_serve_any_subset_by_label(grid3):
    origins, spaces = _hand_points()
    pts = access.prepare_points(grid3, origins, spaces)
    few_o, few_s = origins.loc[[20, 10]], spaces.loc[["s3", "s2"]]
    sub = pts.select(few_o, few_s)
    assert sub.joined.csr is pts.joined.csr  # nothing joined again
    assert list(sub.origin_snaps.index) == [20, 10]
    pd.testing.assert_frame_equal(access.walk_times(pts, few_o, few_s),
                                  access.walk_times(grid3, few_o, few_s))
    pd.testing.assert_frame_equal(access.count_within(pts, few_o, few_s, minutes=(2, 3)),
                                  access.count_within(grid3, few_o, few_s, minutes=(2, 3)))
    assert pts.select() is pts
    stranger = points([(X0, Y0)], category=["a"]).set_axis(["new"])
    with pytest.raises(access.InputDataError, match="not among the points prepared"):
        access.walk_times(pts, origins, stranger)
    with pytest.raises(access.InputDataError, match="prepared with 250"):
        access.walk_times(pts, origins, spaces, max_snap_m=100)


def test_prepared_points_reuse_snaps_as_given(grid3, monkeypatch):
    origins, spaces = _hand_points()
    so = access.snap_points(grid3, origins)
    ss = access.snap_points(grid3, spaces)

    def refuse(*args, **kwargs):
        raise AssertionError("snapped again")

    monkeypatch.setattr(access, "snap_points", refuse)
    pts = access.prepare_points(grid3, so, ss)
    t = access.walk_times(pts, origins, spaces)
    assert t.loc[20, "walk_min_a"] == pytest.approx(200 / 80)
    with pytest.raises(access.InputDataError, match="must be points"):
        access.prepare_points(grid3, so, spaces.drop(columns="geometry"))
    assert "3 origins, 4 targets, 2 off the network" in repr(pts)
