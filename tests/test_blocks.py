"""Blocks from street lines and from user polygons, on hand-drawn layouts with known blocks."""

from __future__ import annotations

import geopandas as gpd
import networkx as nx
import numpy as np
import pytest
import shapely
from conftest import CRS, X0, Y0, grid_edges, grid_nodes, osm_graph
from shapely.geometry import LineString, box

from sharemap import InputDataError
from sharemap.blocks import (
    block_faces,
    block_origins,
    blocks_from_network,
    read_barriers,
    read_blocks,
)
from sharemap.config import ConfigError, parse_config
from sharemap.network import network_from_graph


def _net(nodes, ways):
    """A network from ``{id: (dx, dy)}`` offsets from (X0, Y0) and ``[(u, v, tags)]`` ways."""
    g = nx.MultiDiGraph(crs=CRS)
    for n, (dx, dy) in nodes.items():
        g.add_node(n, x=X0 + dx, y=Y0 + dy)
    for u, v, tags in ways:
        attrs = {"highway": "residential", "name": "", **tags}
        g.add_edge(u, v, **attrs)
        g.add_edge(v, u, **attrs)
    return network_from_graph(g, crs=CRS)


def _areas(blocks):
    return sorted(blocks["area_m2"].round(1).tolist())


def test_grid_gives_four_square_blocks(grid3):
    """The 3x3 grid of 100 m streets encloses exactly four 100 m x 100 m blocks."""
    blocks = blocks_from_network(grid3)
    assert len(blocks) == 4
    assert blocks["area_m2"].tolist() == pytest.approx([10_000.0] * 4)
    assert blocks["block_id"].tolist() == [1, 2, 3, 4]
    # ids read like a page: north-west block first
    first = blocks.geometry.iloc[0].bounds
    assert first == pytest.approx((X0, Y0 + 100, X0 + 100, Y0 + 200))
    assert blocks.crs == CRS


def test_footpath_and_service_way_do_not_split_blocks():
    """A footway across block (00,01,11,10) and a service way into it leave 4 blocks."""
    nodes = {**grid_nodes(), 50: (X0 + 50, Y0), 51: (X0 + 50, Y0 + 100), 60: (X0, Y0 + 50),
             61: (X0 + 60, Y0 + 50)}
    edges = [e for e in grid_edges() if e not in [(0, 1), (10, 11), (0, 10)]]
    g = osm_graph(nodes, [*edges, (0, 50), (50, 1), (10, 51), (51, 11), (0, 60), (60, 10)])
    g.add_edge(50, 51, highway="footway")
    g.add_edge(51, 50, highway="footway")
    g.add_edge(60, 61, highway="service")
    g.add_edge(61, 60, highway="service")
    blocks = blocks_from_network(network_from_graph(g, crs=CRS))
    assert len(blocks) == 4
    assert blocks["area_m2"].tolist() == pytest.approx([10_000.0] * 4)


def test_footway_mesh_and_service_loop_inside_a_complex_stay_one_block():
    r"""A 300 m x 300 m complex ringed by streets, with a footway grid and a service loop.

    The footways cut the complex into nine 100 m squares and the service loop runs
    round the middle one; none of them bounds a block, so the complex is one block.
    """
    nodes = {10 * r + c: (100.0 * c, 100.0 * r) for r in range(4) for c in range(4)}
    nodes |= {100: (120, 120), 101: (180, 120), 102: (180, 180), 103: (120, 180), 104: (100, 120)}
    ring = [(0, 1), (1, 2), (2, 3), (3, 13), (13, 23), (23, 33), (33, 32), (32, 31), (31, 30),
            (30, 20), (20, 10), (10, 0)]
    inner = [(1, 11), (11, 21), (21, 31), (2, 12), (12, 22), (22, 32), (10, 11), (11, 12),
             (12, 13), (20, 21), (21, 22), (22, 23)]
    inner = [(11, 104) if e == (11, 21) else e for e in inner] + [(104, 21)]
    loop = [(100, 101), (101, 102), (102, 103), (103, 100), (104, 100)]
    ways = [(u, v, {}) for u, v in ring] + [(u, v, {"highway": "footway"}) for u, v in inner]
    ways += [(u, v, {"highway": "service"}) for u, v in loop]
    blocks = blocks_from_network(_net(nodes, ways))
    assert _areas(blocks) == pytest.approx([90_000.0])


def test_cul_de_sac_does_not_split_a_block(grid3):
    """A dead-end residential street into the south-west block leaves it whole."""
    nodes = {**grid_nodes(), 50: (X0 + 50, Y0), 51: (X0 + 50, Y0 + 60)}
    edges = [e for e in grid_edges() if e != (0, 1)] + [(0, 50), (50, 1), (50, 51)]
    blocks = blocks_from_network(network_from_graph(osm_graph(nodes, edges), crs=CRS))
    assert blocks["area_m2"].tolist() == pytest.approx([10_000.0] * 4)


def test_min_area_and_clip_to_area(grid3):
    area = box(X0 - 50, Y0 - 50, X0 + 150, Y0 + 250)  # cuts the eastern blocks in half
    blocks = blocks_from_network(grid3, area=area, min_area_m2=6000)
    assert len(blocks) == 2
    blocks = blocks_from_network(grid3, area=area, min_area_m2=1000)
    assert sorted(blocks["area_m2"]) == pytest.approx([5000.0, 5000.0, 10_000.0, 10_000.0])


def test_dual_carriageway_median_is_not_a_block():
    r"""Two one-way carriageways of 왕산로 10 m apart cross a 200 m x 200 m grid.

    ::

        0 ---- 100 ---- 200   y=200   residential
        |       |        |
        ======= 왕산로 ======   y=105   primary, northbound carriageway
        ======= 왕산로 ======   y=95    primary, southbound carriageway
        |       |        |
        0 ---- 100 ---- 200   y=0

    Four blocks of 100 x 95 m; the two 100 x 10 m medians (1,000 m², above the
    500 m² minimum) are street space.
    """
    nodes = {(c, r): (100.0 * c, y) for c in range(3) for r, y in enumerate((0, 95, 105, 200))}
    ways = []
    for c in range(3):
        ways += [((c, r), (c, r + 1), {}) for r in range(3)]
    for r in range(4):
        tags = {"highway": "primary", "name": "왕산로"} if r in (1, 2) else {}
        ways += [((c, r), (c + 1, r), tags) for c in range(2)]
    net = _net({10 * c + r: xy for (c, r), xy in nodes.items()},
               [(10 * u[0] + u[1], 10 * v[0] + v[1], t) for u, v, t in ways])
    for sidewalks in (True, False):
        blocks = blocks_from_network(net, min_area_m2=500, sidewalks=sidewalks)
        assert _areas(blocks) == pytest.approx([9_500.0] * 4)
    faces = block_faces(net)
    assert sorted(faces.loc[faces["kind"] == "street", "area_m2"].round(1)) == [1000.0, 1000.0]


def test_overpass_crossing_streets_without_meeting_them(grid3):
    """A bridge-tagged road from the south-west corner over the grid to the east side.

    It crosses two streets without a shared node; left in the linework it would cut
    the south-west and the two eastern blocks into pieces.
    """
    nodes = {**grid_nodes(), 99: (X0 + 200, Y0 + 150)}
    edges = [e for e in grid_edges() if e != (12, 22)] + [(12, 99), (99, 22), (0, 99)]
    for bridge, n_blocks in (("yes", 4), ("", 7)):
        g = osm_graph(nodes, edges, tags={(0, 99): {"highway": "primary", "bridge": bridge}})
        blocks = blocks_from_network(network_from_graph(g, crs=CRS), min_area_m2=100)
        assert len(blocks) == n_blocks
    assert blocks["area_m2"].sum() == pytest.approx(40_000.0)


def _river_net():
    r"""A 200 m x 300 m enclosure with a 20 m river across it and one bridge.

    ::

        (0,300) ------(100,300)------ (200,300)
           |              |               |
           |          (100,170)           |
        ~~~~~~~~~~~~~~~~ bridge ~~~~~~~~~~~~~~~~   river y = 140..160
           |          (100,130)           |
           |              |               |
        (0,0) -------- (100,0) ------- (200,0)
    """
    nodes = {1: (0, 0), 2: (100, 0), 3: (200, 0), 4: (0, 300), 5: (100, 300), 6: (200, 300),
             7: (100, 130), 8: (100, 170)}
    ways = [(1, 2, {}), (2, 3, {}), (4, 5, {}), (5, 6, {}), (1, 4, {}), (3, 6, {}), (2, 7, {}),
            (7, 8, {"bridge": "yes"}), (8, 5, {})]
    return _net(nodes, ways)


def test_river_with_one_bridge_needs_the_water_barrier(tmp_path):
    net = _river_net()
    # the bridge is left out; without the water the banks are one block across the river
    assert _areas(blocks_from_network(net)) == pytest.approx([60_000.0])
    water = box(X0 - 20, Y0 + 140, X0 + 220, Y0 + 160)
    path = tmp_path / "water.geojson"
    gpd.GeoDataFrame({"name": ["river"]}, geometry=[water], crs=CRS).to_crs(4326).to_file(path)
    barriers = read_barriers([path], crs=CRS)
    blocks = blocks_from_network(net, barriers=barriers)
    assert _areas(blocks) == pytest.approx([28_000.0, 28_000.0], rel=1e-5)
    assert blocks.intersection(water).area.max() < 1.0
    faces = block_faces(net, barriers=barriers)
    assert faces.loc[faces["kind"] == "water", "area_m2"].sum() == pytest.approx(4800, rel=1e-4)


def test_railway_line_barrier_splits_blocks(grid3):
    rail = gpd.GeoSeries([LineString([(X0 + 50, Y0 - 10), (X0 + 50, Y0 + 210)])], crs=CRS)
    blocks = blocks_from_network(grid3, barriers=rail)
    assert _areas(blocks) == pytest.approx([5_000.0] * 4 + [10_000.0] * 2)


def _sidewalk_net(*, footpath: bool = True):
    r"""An arterial mapped only as its two sidewalks (x = 90 and x = 110) with crosswalks.

    ::

        0 -------- 90 :  : 110 -------- 200    y=200   residential, ending at sidewalks
        |           :  :                |
        |           :  :                |      : sidewalks (footway), .. crosswalks
        0 -------- 90 .. 110 ---------- 200    y=100
        |           :  :                |
        + - - - - - +  :                |      a footpath across the south-west block
        |           :  :                |
        0 -------- 90 .. 110 ---------- 200    y=0
    """
    nodes = {}
    ways = []
    for i, y in enumerate((0, 100, 200)):
        nodes |= {10 * i: (0, y), 10 * i + 1: (90, y), 10 * i + 2: (110, y), 10 * i + 3: (200, y)}
        ways += [(10 * i, 10 * i + 1, {}), (10 * i + 2, 10 * i + 3, {}),
                 (10 * i + 1, 10 * i + 2, {"highway": "footway"})]
    for i in range(2):
        ways += [(10 * i, 10 * i + 10, {}), (10 * i + 3, 10 * i + 13, {}),
                 (10 * i + 1, 10 * i + 11, {"highway": "footway"}),
                 (10 * i + 2, 10 * i + 12, {"highway": "footway"})]
    if footpath:
        nodes |= {90: (0, 50), 91: (90, 50)}
        ways = [w for w in ways if (w[0], w[1]) not in [(0, 10), (1, 11)]]
        ways += [(0, 90, {}), (90, 10, {}), (1, 91, {"highway": "footway"}),
                 (91, 11, {"highway": "footway"}), (90, 91, {"highway": "footway"})]
    return _net(nodes, ways)


def test_sidewalks_bound_blocks_where_the_road_is_missing():
    net = _sidewalk_net()
    blocks = blocks_from_network(net)
    # four 90 x 100 m blocks; the 20 x 100 m carriageway strips (2,000 m²) are no blocks,
    # and the footpath across the south-west block does not split it
    assert _areas(blocks) == pytest.approx([9_000.0] * 4)
    assert all(b.bounds[0] >= X0 + 110 - 1e-6 or b.bounds[2] <= X0 + 90 + 1e-6
               for b in blocks.geometry)
    faces = block_faces(net)
    street = faces[faces["kind"] == "street"]
    assert sorted(street["area_m2"].round(1)) == [2000.0, 2000.0]
    # road classes alone enclose nothing here (the failure that left 56% of Dongdaemun out)
    assert len(blocks_from_network(net, sidewalks=False)) == 0


def test_junction_of_two_sidewalk_arterials_does_not_chain_the_corners():
    r"""Two arterials mapped as sidewalks cross; crosswalks ring the junction.

    The junction's octagon touches all four corner blocks along the short
    sidewalk corners; it is street space, so the four quadrants stay four blocks
    of 185 x 185 m less a 5 x 5 m corner triangle.
    """
    nodes, ways = {}, []
    k = iter(range(1000))

    def node(x, y):
        key = (round(x, 3), round(y, 3))
        if key not in nodes:
            nodes[key] = next(k)
        return nodes[key]

    def way(a, b, **tags):
        ways.append((node(*a), node(*b), tags))

    fw = {"highway": "footway"}
    for sx in (1, -1):
        for sy in (1, -1):
            # sidewalks of the quadrant, rounding its corner at the junction
            way((15 * sx, 200 * sy), (15 * sx, 20 * sy), **fw)
            way((15 * sx, 20 * sy), (20 * sx, 15 * sy), **fw)
            way((20 * sx, 15 * sy), (200 * sx, 15 * sy), **fw)
            # the residential streets closing the quadrant
            way((15 * sx, 200 * sy), (200 * sx, 200 * sy))
            way((200 * sx, 200 * sy), (200 * sx, 15 * sy))
    for s in (1, -1):  # crosswalks: at the junction and at the far ends of each arm
        way((-15, 20 * s), (15, 20 * s), **fw)
        way((20 * s, -15), (20 * s, 15), **fw)
        way((-15, 200 * s), (15, 200 * s), **fw)
        way((200 * s, -15), (200 * s, 15), **fw)
    net = _net({v: xy for xy, v in nodes.items()}, ways)
    blocks = blocks_from_network(net)
    assert _areas(blocks) == pytest.approx([185.0 ** 2 - 12.5] * 4)
    octagon = block_faces(net).query("area_m2 > 1500 and area_m2 < 1600")
    assert octagon["kind"].tolist() == ["street"]


def test_blocks_never_overlap_and_origins_lie_inside(grid3):
    blocks = blocks_from_network(_sidewalk_net())
    union = shapely.union_all(blocks.geometry.to_numpy())
    assert union.area == pytest.approx(blocks.area.sum())
    origins = block_origins(blocks)
    assert all(b.contains(o) for b, o in zip(blocks.geometry, origins, strict=True))


def test_demo_blocks_stay_out_of_the_stream():
    """The demo's stream: blocks never reach into it, with or without the barrier."""
    from sharemap.datasets import demo_dir
    from sharemap.network import network_from_osm_xml

    net = network_from_osm_xml(demo_dir() / "walk.osm")
    water = read_barriers([demo_dir() / "water.geojson"], crs=CRS)
    plain = blocks_from_network(net)
    barred = blocks_from_network(net, barriers=water)
    stream = water.union_all()
    for blocks in (plain, barred):
        assert blocks.intersection(stream).area.max() < 1.0
        assert (blocks["area_m2"] >= 1000).all()
    # the apartment superblock (누리아파트) is one block holding its service loop
    loop = net.edges[net.edges["name"] == "누리아파트 단지내도로"]
    mids = loop.geometry.interpolate(0.5, normalized=True)
    holder = [np.flatnonzero(barred.contains(p)) for p in mids]
    assert {tuple(h) for h in holder} == {tuple(holder[0])} and len(holder[0]) == 1


def test_user_blocks(tmp_path):
    gdf = gpd.GeoDataFrame({"block_id": ["A", "B"]},
                           geometry=[box(0, 0, 100, 100), box(100, 0, 130, 10)], crs=CRS)
    path = tmp_path / "blocks.gpkg"
    gdf.to_crs("EPSG:4326").to_file(path)
    blocks = read_blocks(path, crs=CRS, min_area_m2=1000)
    assert blocks["block_id"].tolist() == ["A"]
    assert blocks["area_m2"].iloc[0] == pytest.approx(10_000, rel=1e-4)
    with pytest.raises(InputDataError, match="not found"):
        read_blocks(tmp_path / "missing.gpkg", crs=CRS)


def test_no_streets_is_an_error():
    g = osm_graph(grid_nodes(), grid_edges(), highway="footway")
    with pytest.raises(InputDataError, match="block-bounding"):
        blocks_from_network(network_from_graph(g, crs=CRS))


def test_barrier_file_errors(tmp_path):
    with pytest.raises(InputDataError, match="barrier file not found"):
        read_barriers([tmp_path / "nope.geojson"], crs=CRS)
    pts = tmp_path / "points.geojson"
    gpd.GeoDataFrame(geometry=gpd.points_from_xy([X0], [Y0]), crs=CRS).to_file(pts)
    with pytest.raises(InputDataError, match="no polygon or line"):
        read_barriers([pts], crs=CRS)


def test_blocks_config_keys(tmp_path):
    doc = {"study": {"name": "t"}, "network": {"graphml": "g.graphml"},
           "layers": [{"category": "bike", "path": "b.csv"}],
           "blocks": {"barriers": ["water.geojson", "rail.gpkg"], "sidewalks": False}}
    cfg = parse_config(doc, base=tmp_path, source=tmp_path / "s.toml")
    assert cfg.blocks.barriers == ((tmp_path / "water.geojson").resolve(),
                                   (tmp_path / "rail.gpkg").resolve())
    assert cfg.blocks.sidewalks is False
    doc["blocks"] = {"sidewalks": "yes"}
    with pytest.raises(ConfigError, match="sidewalks"):
        parse_config(doc, base=tmp_path, source=tmp_path / "s.toml")


# ------------------------------------------------------------------ real Dongdaemun-gu


@pytest.fixture(scope="module")
def dongdaemun(seoul_data):
    from sharemap.network import network_from_graphml

    net = network_from_graphml(seoul_data / "network" / "dongdaemun_walk.graphml", crs=CRS)
    gu = gpd.read_file(seoul_data / "boundaries" / "seoul_gu_2021.geojson")
    area = gu[gu["sggnm"] == "동대문구"].to_crs(CRS).geometry.iloc[0]
    return net, area, blocks_from_network(net, area=area, min_area_m2=1000)


def test_dongdaemun_blocks_tile_the_district(dongdaemun):
    net, area, blocks = dongdaemun
    total = blocks.area.sum()
    union = shapely.union_all(blocks.geometry.to_numpy()).area
    assert abs(total - union) <= 0.001 * union  # no overlaps
    assert (blocks.area >= 1000).all()
    assert blocks.within(area.buffer(1e-3)).all()
    assert total / area.area > 0.70
    roads_only = blocks_from_network(net, area=area, min_area_m2=1000, sidewalks=False)
    assert roads_only.area.sum() / area.area < 0.5
    # plausible city blocks: about 1,500 of them, a few thousand m² each
    assert 1000 <= len(blocks) <= 2500
    assert 2000 <= blocks.area.median() <= 6000
    assert blocks.area.quantile(0.9) <= 20_000
    assert blocks.area.max() <= 1.5e6  # a campus with its hill park, not a chain of blocks
    # no carriageway strips: blocks are not long and thin
    elong = blocks.length ** 2 / (4 * blocks.area)
    assert ((elong > 12) & (2 * blocks.area / blocks.length < 15)).sum() <= 0.01 * len(blocks)


def test_dongdaemun_apartment_complex_is_one_block(dongdaemun):
    """이문동 현대아파트: its internal roads (and driveway loops) lie in one block."""
    net, _, blocks = dongdaemun
    roads = net.edges[net.edges["name"] == "이문동현대아파트 내 도로"]
    assert len(roads) >= 3
    mids = roads.geometry.interpolate(0.5, normalized=True)
    holders = {int(i) for p in mids for i in np.flatnonzero(blocks.intersects(p.buffer(1)))}
    assert len(holders) == 1


def test_piece_ends_match_geos_one_piece_at_a_time():
    """`_ends` works on coordinate arrays; GEOS's per-piece answers are the reference."""
    from sharemap.blocks import _ends

    rng = np.random.default_rng(11)
    lines = []
    for _ in range(300):
        k = int(rng.integers(2, 7))
        pts = np.cumsum(rng.normal(0, 4, (k, 2)), axis=0) + rng.integers(0, 5, 2) * 10
        if rng.random() < 0.2:
            pts = np.vstack([pts[:1], pts[:1], pts[1:]])  # a repeated vertex
        lines.append(shapely.LineString(pts))
    lines.append(shapely.LineString([(0, 0), (0.5, 0)]))  # shorter than two steps
    lines = np.array(lines, dtype=object)
    node, out = _ends(lines, step_m=5.0)
    length = shapely.length(lines)
    for end, pos in ((0, np.minimum(5.0, length / 2)), (1, np.maximum(length - 5.0, length / 2))):
        tip = shapely.get_coordinates(shapely.get_point(lines, -end))
        near = shapely.get_coordinates(shapely.line_interpolate_point(lines, pos))
        want = near - tip
        want /= np.hypot(want[:, 0], want[:, 1])[:, None]
        np.testing.assert_allclose(out[:, end], want, atol=1e-9)
        # two ends share a node id exactly when they share a point
        keys = [tuple(p) for p in np.round(tip, 6)]
        for other in range(2):
            tip2 = [tuple(p) for p in np.round(shapely.get_coordinates(
                shapely.get_point(lines, -other)), 6)]
            same = np.array([[a == b for b in tip2] for a in keys])
            assert ((node[:, end][:, None] == node[:, other][None, :]) == same).all()
