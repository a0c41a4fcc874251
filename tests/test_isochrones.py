"""Isochrones against hand-worked answers and exact GEOS buffers of networkx walks."""

from __future__ import annotations

import networkx as nx
import numpy as np
import pandas as pd
import pytest
import shapely
from conftest import CRS, X0, Y0, osm_graph, points, random_grid

from sharemap import access
from sharemap.isochrones import isochrones
from sharemap.network import network_from_graph


def test_isochrones_nested_and_follow_streets(grid3):
    """A space at node 00: 1 min = 80 m along both streets; nothing reaches node 11."""
    spaces = points([(X0, Y0)], category=["a"], space_id=["s1"])
    iso = isochrones(grid3, spaces, minutes=(1, 2, 5), buffer_m=10)
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


def test_isochrone_walk_to_a_far_street_is_partial(grid3):
    """A point 100 m south of edge 00-01's middle. In 1 min (80 m) it walks 80 m
    towards the street and no further; in 2 min (160 m) it reaches the street with
    60 m left each way: along y = 0 to both corners (50 m) and 10 m past each, so up
    the side streets to y = 10 and along edge 01-02 to x = 110.
    """
    pt = points([(X0 + 50, Y0 - 100)])
    one, two = isochrones(grid3, pt, minutes=(1, 2), buffer_m=10).geometry
    assert one.contains(shapely.Point(X0 + 50, Y0 - 28))
    assert not one.intersects(shapely.Point(X0 + 50, Y0 - 8))
    assert two.contains(shapely.Point(X0 + 105, Y0))
    assert two.contains(shapely.Point(X0 + 50, Y0 + 5))
    assert not two.intersects(shapely.Point(X0 + 125, Y0))
    assert two.contains(shapely.Point(X0, Y0 + 15))
    assert not two.intersects(shapely.Point(X0, Y0 + 25))


def _exact_isochrone(net, point, budget, buffer_m):
    """Reference: networkx distances, shapely substrings, every piece buffered, unioned."""
    from shapely.ops import substring

    g = net.to_networkx()
    snap = access.snap_points(net, points([point])).iloc[0]
    e = int(snap.edge)
    ends = {int(net.edge_u[e]): snap.dist_u_m, int(net.edge_v[e]): snap.dist_v_m}
    best = {}
    for node, d0 in ends.items():
        for k, d in nx.single_source_dijkstra_path_length(g, node, weight="length").items():
            best[k] = min(best.get(k, np.inf), d0 + d)
    lines = [shapely.LineString([point, substring(net.edges.geometry[e], snap.position_m,
                                                  snap.position_m).coords[0]])]
    r = budget - snap.offset_m
    lines.append(substring(net.edges.geometry[e], max(0, snap.position_m - r),
                           min(net.edge_length[e], snap.position_m + r)))
    for i, geom in enumerate(net.edges.geometry):
        length = net.edge_length[i]
        ra = budget - best.get(int(net.edge_u[i]), np.inf)
        rb = budget - best.get(int(net.edge_v[i]), np.inf)
        if max(ra, 0) + max(rb, 0) >= length:
            lines.append(geom)
            continue
        if ra > 0:
            lines.append(substring(geom, 0, ra))
        if rb > 0:
            lines.append(substring(geom, length - rb, length))
    return shapely.union_all(shapely.buffer(np.array(lines), buffer_m))


def test_isochrones_match_exact_buffers_and_nest():
    """The traced outline against GEOS buffers of independently computed reached streets."""
    nodes, edges = random_grid(5)
    net = network_from_graph(osm_graph(nodes, edges), crs=CRS)
    pts = [(X0 + 333, Y0 + 401), (X0 + 700, Y0 + 95)]
    iso = isochrones(net, points(pts), minutes=(2, 4, 6), buffer_m=20)
    assert iso["minutes"].tolist() == [2.0, 4.0, 6.0] * 2
    polys = iso.geometry.to_numpy()
    assert shapely.is_valid(polys).all()
    for i, pt in enumerate(pts):
        for k, minutes in enumerate((2, 4, 6)):
            mine = polys[3 * i + k]
            exact = _exact_isochrone(net, pt, minutes * 80.0, 20.0)
            # the outline is traced on a 20/3 m grid: it never misses more than half a
            # cell of the exact polygon, never claims more than a cell beyond it (holes
            # narrower than a cell may close), and is off by well under a metre on average
            px = 20 / 3
            assert mine.buffer(px / 2).covers(exact)
            assert exact.buffer(px).covers(mine)
            sliver = shapely.symmetric_difference(mine, exact).area
            assert sliver < 0.01 * exact.area
            assert sliver / exact.boundary.length < 1.0
            if k:  # nested, up to the rounding of the traced crossing points
                assert mine.buffer(1e-6).covers(polys[3 * i + k - 1])


def test_isochrones_do_not_cross_a_river_the_streets_do_not_cross():
    """Two riverside streets 120 m apart, joined only by a bridge 2 km east.

    A space on the south street at x = 0: the 15-minute walk (1,200 m) goes 1,200 m
    along the south street and never reaches the bridge (2,000 m + 120 m), so the
    north street, 120 m away as the crow flies, is outside: the polygon is a band of
    `buffer_m` around the streets walked. From the bridge's north end the walk
    crosses, and then the band covers both banks but still not the river between.
    """
    step = 100.0
    south = {k: (X0 + k * step, Y0) for k in range(-15, 21)}
    north = {100 + k: (X0 + k * step, Y0 + 120.0) for k in range(-15, 21)}
    edges = [(k, k + 1) for k in range(-15, 20)] + [(100 + k, 101 + k) for k in range(-15, 20)]
    edges.append((20, 120))  # the bridge
    net = network_from_graph(osm_graph({**south, **north}, edges), crs=CRS)
    spaces = points([(X0, Y0)], category=["a"], space_id=["s"])
    poly = isochrones(net, spaces, minutes=(15,), buffer_m=25.0).geometry.iloc[0]
    north_street = shapely.LineString([north[100 - 15], north[100 + 20]])
    assert not poly.intersects(north_street.buffer(25.0 + 1.0))
    assert poly.contains(shapely.Point(X0 + 1150, Y0))  # 1,150 m along the south street
    assert not poly.contains(shapely.Point(X0 + 1260, Y0))
    assert not poly.contains(shapely.Point(X0, Y0 + 60))  # the river's middle
    # the same walk from the north street's end of the bridge reaches across it
    far = points([(X0 + 2000, Y0 + 120.0)], category=["a"], space_id=["b"])
    reach = isochrones(net, far, minutes=(15,), buffer_m=25.0).geometry.iloc[0]
    assert reach.contains(shapely.Point(X0 + 2000, Y0 + 60))  # on the bridge
    assert reach.contains(shapely.Point(X0 + 1000, Y0))  # 1,120 m: over and back west
    assert not reach.contains(shapely.Point(X0 + 1500, Y0 + 60))  # the river, not walked


# ------------------------------------------------------------ prepared points, one home


def test_isochrones_from_prepared_points_equal_those_from_the_network():
    nodes, edges = random_grid(5)
    net = network_from_graph(osm_graph(nodes, edges), crs=CRS)
    spaces = points([(X0 + 333, Y0 + 401), (X0 + 700, Y0 + 95), (X0 + 400, Y0 - 900)],
                    category=["a", "b", "a"]).set_axis(["p", "q", "far"])
    origins = points([(X0 + 10, Y0 + 10)])
    pts = access.prepare_points(net, origins, spaces)
    want = isochrones(net, spaces.loc[["q", "far"]], minutes=(2, 4))
    got = isochrones(pts, spaces.loc[["q", "far"]], minutes=(2, 4))
    assert got.index.tolist() == ["q", "q"]  # the point off the network has none
    pd.testing.assert_frame_equal(got.drop(columns="geometry"), want.drop(columns="geometry"))
    assert all(shapely.equals_exact(got.geometry.to_numpy(), want.geometry.to_numpy(), 0.0))
    with pytest.raises(access.InputDataError, match="not among the points prepared"):
        isochrones(pts, origins, minutes=(2,))


def test_the_module_and_the_flat_name_and_the_old_path():
    import sharemap
    import sharemap.isochrones as module_or_function  # `sharemap.isochrones` is the function

    assert callable(sharemap.isochrones)
    assert module_or_function is sharemap.isochrones is isochrones
    with pytest.warns(FutureWarning, match="sharemap.isochrones.isochrones"):
        from sharemap.access import isochrones as old
    assert old is isochrones


def test_isochrones_keep_the_points_index_and_columns_only(grid3):
    """The index is the id (momepy): each polygon is labelled by its point, no `index` column."""
    spaces = points([(X0, Y0), (X0 + 200, Y0 + 200)], category=["a", "b"],
                    space_id=["s1", "s2"]).set_axis(pd.Index([7, 9], name="space"))
    iso = isochrones(grid3, spaces, minutes=(1, 2), buffer_m=10)
    assert list(iso.columns) == ["category", "space_id", "minutes", "geometry"]
    assert iso.index.tolist() == [7, 7, 9, 9]
    assert iso.index.name == "space"
    assert iso.loc[9, "space_id"].tolist() == ["s2", "s2"]


# ------------------------------------------------------------------ many spaces: merged


def test_merged_isochrones_are_the_union_of_exact_buffers():
    """One search from all points equals the union of each point's exact isochrone."""
    from sharemap.isochrones import merged_isochrones

    nodes, edges = random_grid(5)
    net = network_from_graph(osm_graph(nodes, edges), crs=CRS)
    pts = [(X0 + 333, Y0 + 401), (X0 + 700, Y0 + 95), (X0 + 90, Y0 + 900)]
    merged = merged_isochrones(net, points(pts), minutes=(2, 4), buffer_m=20)
    assert merged["minutes"].tolist() == [2.0, 4.0] and merged["n_points"].tolist() == [3, 3]
    px = 20 / 3
    for poly, minutes in zip(merged.geometry, (2, 4), strict=True):
        exact = shapely.union_all([_exact_isochrone(net, pt, minutes * 80.0, 20.0)
                                   for pt in pts])
        assert poly.is_valid
        assert poly.buffer(px / 2).covers(exact) and exact.buffer(px).covers(poly)
        assert shapely.symmetric_difference(poly, exact).area < 0.01 * exact.area
    assert merged.geometry.iloc[1].buffer(1e-6).covers(merged.geometry.iloc[0])


def test_merged_isochrones_grid_is_bounded():
    """The outline is traced on at most `max_cells` cells: coarser, not bigger."""
    from sharemap.isochrones import merged_isochrones

    nodes, edges = random_grid(5)
    net = network_from_graph(osm_graph(nodes, edges), crs=CRS)
    pts = points([(X0 + 333, Y0 + 401), (X0 + 700, Y0 + 95)])
    fine = merged_isochrones(net, pts, minutes=(4,), buffer_m=20).geometry.iloc[0]
    coarse = merged_isochrones(net, pts, minutes=(4,), buffer_m=20,
                               max_cells=10_000).geometry.iloc[0]
    # ~1 km across on 10,000 cells: ~11 m cells instead of 6.7 m; the same area within 3%
    assert abs(coarse.area - fine.area) < 0.03 * fine.area
    off = merged_isochrones(net, points([(X0 - 5000, Y0)]), minutes=(4,))
    assert off["n_points"].tolist() == [0] and off.geometry.iloc[0].is_empty


def test_isochrone_layer_merges_above_the_cap(caplog):
    """Two categories: 3 tools drawn one by one; 5 toys above a cap of 4, merged."""
    import logging

    from sharemap.isochrones import isochrone_layer

    nodes, edges = random_grid(5)
    net = network_from_graph(osm_graph(nodes, edges), crs=CRS)
    xy = [(X0 + 100 + 110 * i, Y0 + 100 + 90 * (i % 3)) for i in range(8)]
    spaces = points(xy, category=["tools"] * 3 + ["toys"] * 5,
                    space_id=[f"s{i}" for i in range(8)], name=[f"n{i}" for i in range(8)])
    with caplog.at_level(logging.WARNING, logger="sharemap.isochrones"):
        layer = isochrone_layer(net, spaces, ["tools", "toys", "bike"], minutes=(2, 4),
                                max_spaces=4)
    assert "toys: 5 spaces, more than 4: their isochrones are drawn merged" in caplog.text
    tools = layer[layer["category"] == "tools"]
    assert tools["space_id"].tolist() == ["s0", "s0", "s1", "s1", "s2", "s2"]
    assert (tools["n_spaces"] == 1).all() and "index" not in layer.columns
    toys = layer[layer["category"] == "toys"]
    assert toys[["space_id", "name", "minutes", "n_spaces"]].values.tolist() == [
        ["", "any of its 5 spaces", 2.0, 5], ["", "any of its 5 spaces", 4.0, 5]]
    each = isochrones(net, spaces[spaces["category"] == "toys"], minutes=(4,), buffer_m=25)
    union = each.union_all()
    assert shapely.symmetric_difference(toys.geometry.iloc[1], union).area < 0.01 * union.area
    assert isochrone_layer(net, spaces, ["bike"]) is None
