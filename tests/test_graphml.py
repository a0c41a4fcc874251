"""The streaming GraphML reader gives the network osmnx's ``load_graphml`` path gives."""

from __future__ import annotations

import logging
import math

import numpy as np
import pytest
import shapely
from conftest import CRS
from geopandas.testing import assert_geodataframe_equal

from sharemap import InputDataError, network
from sharemap._graphml import EDGE_TAGS, UnsupportedGraphMLError, read_graphml
from sharemap.datasets import demo_dir
from sharemap.network import network_from_graphml

TAGS = EDGE_TAGS  # highway, name, bridge, tunnel, wheelchair, incline


def assert_same_network(fast, slow, *, same_source=True):
    """Field by field: nodes (osmid, order, xy), edges (ends, length, tags, geometry), info."""
    assert fast.nodes["osmid"].tolist() == slow.nodes["osmid"].tolist()
    np.testing.assert_allclose(shapely.get_coordinates(fast.nodes.geometry.to_numpy()),
                               shapely.get_coordinates(slow.nodes.geometry.to_numpy()),
                               rtol=0, atol=1e-6)
    assert fast.edge_u.tolist() == slow.edge_u.tolist()
    assert fast.edge_v.tolist() == slow.edge_v.tolist()
    np.testing.assert_allclose(fast.edge_length, slow.edge_length, rtol=0, atol=1e-6)
    for col in TAGS:
        assert fast.edges[col].tolist() == slow.edges[col].tolist(), col
    assert shapely.equals_exact(fast.edges.geometry.to_numpy(), slow.edges.geometry.to_numpy(),
                                tolerance=1e-6).all()
    fast_info, slow_info = dict(fast.info), dict(slow.info)
    if not same_source:
        assert fast_info.pop("source") != slow_info.pop("source")
    assert fast_info == slow_info
    assert fast.crs == slow.crs
    # and the frames themselves: columns, dtypes, index
    assert_geodataframe_equal(fast.nodes, slow.nodes)
    assert_geodataframe_equal(fast.edges, slow.edges)
    assert_geodataframe_equal(fast.dropped, slow.dropped)


def both(path, crs=CRS):
    return (network_from_graphml(path, crs=crs),
            network._network_from_graphml_osmnx(path, crs=crs))


@pytest.fixture(scope="module")
def demo_graph():
    """osmnx's graph of the demo OSM file, every way kept (as network_from_osm_xml reads it)."""
    import osmnx as ox

    g = ox.graph_from_xml(demo_dir() / "walk.osm", bidirectional=True, simplify=False,
                          retain_all=True)
    return ox.simplify_graph(g)


# ------------------------------------------------------------------ (a) the demo network


def test_demo_network_same_as_osmnx(tmp_path, demo_graph):
    import osmnx as ox

    path = tmp_path / "demo.graphml"
    ox.save_graphml(demo_graph, path)
    fast, slow = both(path)
    assert_same_network(fast, slow)
    assert fast.info["edges"] > 500
    # osmnx's simplification merges ways: list-valued tags were in the file
    assert fast.edges["name"].str.contains(";").any()
    assert (fast.edges["bridge"] == "yes").any()


def test_demo_edge_order_is_networkx_order(tmp_path, demo_graph):
    """The reader's edges come in the order osmnx's MultiDiGraph iterates them."""
    import osmnx as ox

    path = tmp_path / "demo.graphml"
    ox.save_graphml(demo_graph, path)
    arrays = read_graphml(path)
    g = ox.load_graphml(path)
    assert arrays.node_id.tolist() == list(g.nodes)
    ids = arrays.node_id
    assert list(zip(ids[arrays.u].tolist(), ids[arrays.v].tolist(), strict=True)) == \
        [(u, v) for u, v, _ in g.edges(keys=True)]
    np.testing.assert_array_equal(arrays.x, [d["x"] for _, d in g.nodes(data=True)])


# --------------------------------------------------------- (b) a hand-made GraphML file

X0, Y0 = 200_000.0, 550_000.0
HAND_NODES = {1: (0, 0), 2: (100, 0), 3: (100, 100), 4: (0, 100), 5: (300, 0),
              6: (1000, 1000), 7: (1050, 1000)}


def _wkt(*xy):
    return "LINESTRING (" + ", ".join(f"{X0 + x} {Y0 + y}" for x, y in xy) + ")"


def _graphml_text(nodes, edges, *, graph_data='<data key="g0">epsg:5186</data>',
                  edgedefault="directed"):
    """GraphML as osmnx writes it; `edges` are (u, v, key, {name: value}) in document order."""
    keys = {"g0": ("graph", "crs"), "n0": ("node", "x"), "n1": ("node", "y"),
            "e0": ("edge", "highway"), "e1": ("edge", "name"), "e2": ("edge", "geometry"),
            "e3": ("edge", "bridge"), "e4": ("edge", "tunnel"), "e5": ("edge", "length"),
            "e6": ("edge", "oneway")}
    by_name = {name: k for k, (_, name) in keys.items()}
    out = ["<?xml version='1.0' encoding='utf-8'?>",
           '<graphml xmlns="http://graphml.graphdrawing.org/xmlns">']
    out += [f'  <key id="{k}" for="{f}" attr.name="{n}" attr.type="string" />'
            for k, (f, n) in keys.items()]
    out.append(f'  <graph edgedefault="{edgedefault}">')
    for n, (x, y) in nodes.items():
        out.append(f'    <node id="{n}"><data key="n0">{X0 + x}</data>'
                   f'<data key="n1">{Y0 + y}</data></node>')
    for u, v, k, data in edges:
        body = "".join(f'<data key="{by_name[a]}">{val}</data>' for a, val in data.items())
        out.append(f'    <edge source="{u}" target="{v}" id="{k}">{body}</edge>')
    out += [f"    {graph_data}", "  </graph>", "</graphml>"]
    return "\n".join(out)


#: document order differs from node order on purpose (networkx reorders edges by source)
HAND_EDGES = [
    (3, 4, 0, {"highway": "footway", "name": "['A길', 'B길']", "bridge": "yes",
               "length": "100.0"}),
    (1, 2, 0, {"highway": "residential", "name": "Tom &amp; Jerry",
               "geometry": _wkt((0, 0), (50, 20), (100, 0)), "oneway": "False"}),
    (2, 3, 0, {"highway": "['residential', 'service']"}),  # no geometry: a straight line
    (2, 1, 0, {"highway": "residential", "name": "Tom &amp; Jerry",
               "geometry": _wkt((100, 0), (50, 20), (0, 0))}),
    (4, 3, 0, {"highway": "footway", "name": "['A길', 'B길']", "bridge": "yes"}),
    (1, 4, 0, {"highway": "['motorway', 'footway']", "tunnel": "yes"}),
    (2, 5, 0, {"highway": "motorway"}),  # not walkable: node 5 is left without edges
    (4, 1, 0, {"highway": "['motorway', 'motorway_link']"}),  # not walkable either
    (6, 7, 0, {"highway": "footway"}),  # a disconnected piece
    (1, 2, 1, {"highway": "service", "geometry": _wkt((0, 0), (50, -40), (100, 0))}),
]


def test_hand_made_graphml(tmp_path):
    path = tmp_path / "hand.graphml"
    path.write_text(_graphml_text(HAND_NODES, HAND_EDGES), encoding="utf-8")
    net = network_from_graphml(path, crs=CRS)
    osm = net.nodes["osmid"].to_numpy()
    assert sorted(osm.tolist()) == [1, 2, 3, 4]
    bent = 2 * math.hypot(50, 20)
    detour = 2 * math.hypot(50, 40)
    got = sorted(
        (tuple(sorted((int(osm[u]), int(osm[v])))), round(ln, 6), hw, name, br, tu)
        for u, v, ln, hw, name, br, tu in zip(
            net.edge_u, net.edge_v, net.edge_length, net.edges["highway"], net.edges["name"],
            net.edges["bridge"], net.edges["tunnel"], strict=True))
    assert got == [
        ((1, 2), round(bent, 6), "residential", "Tom & Jerry", "", ""),
        ((1, 2), round(detour, 6), "service", "", "", ""),
        ((1, 4), 100.0, "footway;motorway", "", "", "yes"),  # list values sorted
        ((2, 3), 100.0, "residential;service", "", "", ""),
        ((3, 4), 100.0, "footway", "A길;B길", "yes", ""),
    ]
    # every geometry runs from its u node to its v node
    xy = shapely.get_coordinates(net.nodes.geometry.to_numpy())
    starts = shapely.get_coordinates(shapely.get_point(net.edges.geometry.to_numpy(), 0))
    ends = shapely.get_coordinates(shapely.get_point(net.edges.geometry.to_numpy(), -1))
    np.testing.assert_allclose(starts, xy[net.edge_u], atol=1e-9)
    np.testing.assert_allclose(ends, xy[net.edge_v], atol=1e-9)
    assert net.info == {
        "source": str(path), "crs": "EPSG:5186", "nodes": 4, "edges": 5,
        "directed_edges_in_source": 10, "components_dropped": 1, "nodes_dropped": 3,
        "length_km": round((bent + detour + 300.0) / 1000.0, 3), "length_km_dropped": 0.05,
    }
    # the disconnected piece 6-7 is kept aside (rows near it are rejected with that reason)
    assert net.dropped[["piece", "highway", "length_m"]].values.tolist() == [[1, "footway", 50.0]]
    assert_same_network(net, network._network_from_graphml_osmnx(path, crs=CRS))


def test_hand_made_graphml_reprojected(tmp_path):
    """A graph in EPSG:5186 read into EPSG:5179: osmnx's projection, to the micrometre."""
    path = tmp_path / "hand.graphml"
    path.write_text(_graphml_text(HAND_NODES, HAND_EDGES), encoding="utf-8")
    fast, slow = both(path, crs="EPSG:5179")
    assert_same_network(fast, slow)
    hand_km = (2 * math.hypot(50, 20) + 2 * math.hypot(50, 40) + 300.0) / 1000.0
    assert fast.info["length_km"] == pytest.approx(hand_km, abs=0.002)


def test_hand_made_edge_order(tmp_path):
    import osmnx as ox

    path = tmp_path / "hand.graphml"
    path.write_text(_graphml_text(HAND_NODES, HAND_EDGES), encoding="utf-8")
    arrays = read_graphml(path)
    ids = arrays.node_id
    expected = [(1, 2), (1, 2), (1, 4), (2, 3), (2, 1), (2, 5), (3, 4), (4, 3), (4, 1), (6, 7)]
    got = list(zip(ids[arrays.u].tolist(), ids[arrays.v].tolist(), strict=True))
    assert got == expected
    assert got == [(u, v) for u, v, _ in ox.load_graphml(path).edges(keys=True)]
    # the second 1 -> 2 edge (key 1) has its own geometry; 2 -> 3 has none
    assert arrays.geometry[1] == _wkt((0, 0), (50, -40), (100, 0))
    assert arrays.geometry[3] is None
    assert arrays.tags["name"][0] == "Tom & Jerry"
    assert arrays.tags["bridge"][0] is None
    assert arrays.graph == {"crs": "epsg:5186"}


def _move_nodes_after_edges(text):
    lines = text.split("\n")
    nodes = [ln for ln in lines if ln.strip().startswith("<node ")]
    rest = [ln for ln in lines if ln not in nodes]
    at = rest.index("  </graph>") - 1  # before the graph data
    return "\n".join(rest[:at] + nodes + rest[at:])


#: XML written differently from networkx, which both readers must read alike
VARIANTS = {
    "crs first": lambda t: t.replace('    <data key="g0">epsg:5186</data>\n', "").replace(
        '<graph edgedefault="directed">',
        '<graph edgedefault="directed"><data key="g0">epsg:5186</data>'),
    "nodes after edges": _move_nodes_after_edges,
    "attribute order and quotes": lambda t: t.replace(
        '<edge source="1" target="2" id="1">', "<edge id='1' target='2' source='1'>"),
    "empty and blank values": lambda t: t.replace(
        '<data key="e1">Tom &amp; Jerry</data>', '<data key="e1"/>', 1).replace(
        '<data key="e1">Tom &amp; Jerry</data>', '<data key="e1"> </data>'),
    "CDATA, comments, desc": lambda t: t.replace(
        '<data key="e0">service</data>',
        '<data key="e0"><![CDATA[serv]]><!-- note -->ice</data><desc>a service road</desc>'
    ).replace("<graph ", "<desc>hand-made</desc><graph "),
    "extra osmnx attributes": lambda t: t.replace(
        '<data key="e6">False</data>', '<data key="e6">False</data><data key="e5">1.5</data>'),
    # networkx merges the second 1 -> 2 edge with key 0 into the first: only osmnx's
    # reader reproduces that, so the fast reader hands the file over
    "repeated edge key": lambda t: t.replace('<edge source="1" target="2" id="1">',
                                             '<edge source="1" target="2" id="0">'),
    "parallel edges with and without id": lambda t: t.replace(
        '<edge source="1" target="2" id="1">', '<edge source="1" target="2">'),
}


@pytest.mark.parametrize("variant", list(VARIANTS))
def test_variants_read_as_osmnx_reads_them(tmp_path, variant):
    path = tmp_path / "variant.graphml"
    text = VARIANTS[variant](_graphml_text(HAND_NODES, HAND_EDGES))
    assert text != _graphml_text(HAND_NODES, HAND_EDGES)
    path.write_text(text, encoding="utf-8")
    fast, slow = both(path)
    assert_same_network(fast, slow)
    handed_over = variant.startswith(("repeated", "parallel"))
    if handed_over:
        with pytest.raises(UnsupportedGraphMLError):
            read_graphml(path)
    else:
        assert read_graphml(path).n_edges == len(HAND_EDGES)


def test_typed_keys(tmp_path):
    """osmnx refuses GraphML with typed (non-string) attributes, as other writers make.

    The fast reader reads typed coordinates (networkx would parse them with ``float``
    too); typed tags it hands to osmnx, which refuses them.
    """
    plain = tmp_path / "plain.graphml"
    plain.write_text(_graphml_text(HAND_NODES, HAND_EDGES), encoding="utf-8")
    coords = tmp_path / "coords.graphml"
    coords.write_text(_graphml_text(HAND_NODES, HAND_EDGES).replace(
        'attr.name="x" attr.type="string"', 'attr.name="x" attr.type="double"'),
        encoding="utf-8")
    with pytest.raises(InputDataError, match="not a readable osmnx GraphML"):
        network._network_from_graphml_osmnx(coords)
    assert_same_network(network_from_graphml(coords), network_from_graphml(plain),
                        same_source=False)
    tag = tmp_path / "tag.graphml"
    tag.write_text(_graphml_text(HAND_NODES, HAND_EDGES).replace(
        'attr.name="highway" attr.type="string"', 'attr.name="highway" attr.type="long"'),
        encoding="utf-8")
    with pytest.raises(UnsupportedGraphMLError, match="highway"):
        read_graphml(tag)
    with pytest.raises(InputDataError, match=r"tag\.graphml: not a readable osmnx GraphML"):
        network_from_graphml(tag)


def test_edge_to_undeclared_node_is_a_one_line_error_naming_it(tmp_path):
    """Issue 16 #10: it went to osmnx, which raised a bare KeyError; osmnx cannot read it."""
    path = tmp_path / "dangling.graphml"
    edges = [*HAND_EDGES, (1, 99, 0, {"highway": "footway", "geometry": _wkt((0, 0), (9, 9))})]
    path.write_text(_graphml_text(HAND_NODES, edges), encoding="utf-8")
    want = (f"{path}: not a readable osmnx GraphML file (the edge 1 -> 99 names node 99, which "
            "the file does not declare (no <node> with its x and y))")
    with pytest.raises(InputDataError) as err:
        network_from_graphml(path)
    assert str(err.value) == want
    with pytest.raises(InputDataError, match=r"node 99 has no 'x' coordinate \(an edge names a "
                       "node the file does not declare"):  # and the osmnx path names it too
        network._network_from_graphml_osmnx(path)


@pytest.mark.parametrize(("old", "new", "words"), [
    ('<node id="3"><data key="n0">200100.0</data>', '<node id="3">',
     "node 3 has no 'x' coordinate; every node needs x and y"),
    ('<data key="n1">550100.0</data></node>\n    <node id="4">',
     '</node>\n    <node id="4">', "node 3 has no 'y' coordinate"),
    ('<node id="4"><data key="n0">200000.0</data>', '<node id="4"><data key="n0">nan</data>',
     "node 4 has x = 'nan', not a finite number"),
])
def test_node_without_coordinates_is_a_one_line_error_naming_it(tmp_path, old, new, words):
    text = _graphml_text(HAND_NODES, HAND_EDGES)
    assert old in text
    path = tmp_path / "bad.graphml"
    path.write_text(text.replace(old, new, 1), encoding="utf-8")
    with pytest.raises(InputDataError) as err:
        network_from_graphml(path)
    assert words in str(err.value) and "\n" not in str(err.value)
    with pytest.raises(InputDataError, match="every node needs x and y"):
        network._network_from_graphml_osmnx(path)  # osmnx's own path: a KeyError before


def test_graph_without_node_coordinates_names_the_node():
    import networkx as nx

    from sharemap.network import network_from_graph

    g = nx.MultiDiGraph(crs=CRS)
    g.add_node(1, x=X0, y=Y0)
    g.add_edge(1, 2, highway="footway")  # node 2 only named by the edge
    with pytest.raises(InputDataError, match=r"^graph: node 2 has no 'x' coordinate \(an edge "):
        network_from_graph(g, crs=CRS)


# ------------------------------------------------------------------ (c) projected GraphML


@pytest.mark.parametrize("to_crs", [None, "EPSG:5186"])
def test_projected_graphml(tmp_path, demo_graph, to_crs):
    """A graph osmnx projected (UTM by default, or already the study CRS) before saving."""
    import osmnx as ox

    path = tmp_path / "projected.graphml"
    ox.save_graphml(ox.project_graph(demo_graph, to_crs=to_crs), path)
    assert read_graphml(path).crs == (to_crs or "EPSG:32652")
    fast, slow = both(path)
    assert_same_network(fast, slow)
    assert fast.info["edges"] > 500


# ------------------------------------------------------------------------- (d) errors


def test_not_xml(tmp_path):
    bad = tmp_path / "bad.graphml"
    bad.write_text("this is not XML", encoding="utf-8")
    with pytest.raises(InputDataError, match=r"bad\.graphml: not a readable osmnx GraphML"):
        network_from_graphml(bad)
    empty = tmp_path / "empty.graphml"
    empty.write_bytes(b"")
    with pytest.raises(InputDataError, match=r"empty\.graphml: not a readable osmnx GraphML"):
        network_from_graphml(empty)


def test_truncated_graphml(tmp_path):
    whole = _graphml_text(HAND_NODES, HAND_EDGES)
    cut = tmp_path / "cut.graphml"
    cut.write_text(whole[: len(whole) // 2], encoding="utf-8")
    with pytest.raises(InputDataError, match=r"cut\.graphml: not a readable osmnx GraphML"):
        network_from_graphml(cut)


def test_xml_but_not_graphml(tmp_path):
    osm = tmp_path / "walk.graphml"
    osm.write_bytes((demo_dir() / "walk.osm").read_bytes())
    with pytest.raises(InputDataError, match=r"walk\.graphml: .*root element is <osm>"):
        network_from_graphml(osm)
    # GraphML without the GraphML namespace, as osmnx's reader refuses it too
    plain = tmp_path / "plain.graphml"
    plain.write_text(_graphml_text(HAND_NODES, HAND_EDGES).replace(' xmlns="http', ' x="http'),
                     encoding="utf-8")
    with pytest.raises(InputDataError, match=r"plain\.graphml: .*not <graphml>"):
        network_from_graphml(plain)
    with pytest.raises(InputDataError, match=r"plain\.graphml: not a readable"):
        network._network_from_graphml_osmnx(plain)


def test_missing_crs(tmp_path):
    path = tmp_path / "nocrs.graphml"
    path.write_text(_graphml_text(HAND_NODES, HAND_EDGES, graph_data=""), encoding="utf-8")
    with pytest.raises(InputDataError, match=r"nocrs\.graphml: the graph has no `crs`"):
        network_from_graphml(path)
    with pytest.raises(InputDataError, match="no `crs` graph attribute"):
        network._network_from_graphml_osmnx(path)


def test_bad_crs_wkt_and_ids(tmp_path):
    cases = {
        "crs": _graphml_text(HAND_NODES, HAND_EDGES,
                             graph_data='<data key="g0">not a crs</data>'),
        "wkt": _graphml_text(HAND_NODES, [(1, 2, 0, {"highway": "footway",
                                                     "geometry": "LINESTRING (1"})]),
        "ids": _graphml_text({"a": (0, 0), 2: (1, 1)}, [(2, "a", 0, {})]),
        "undeclared key": _graphml_text(HAND_NODES, HAND_EDGES).replace('key="e1"',
                                                                          'key="zz"'),
    }
    for what, text in cases.items():
        path = tmp_path / f"{what}.graphml"
        path.write_text(text, encoding="utf-8")
        with pytest.raises(InputDataError, match=rf"{what}\.graphml: "):
            network_from_graphml(path)


def test_unusual_graphml_goes_to_osmnx(tmp_path, caplog):
    """An undirected graph: networkx reads it differently, so osmnx reads it."""
    path = tmp_path / "undirected.graphml"
    path.write_text(_graphml_text(HAND_NODES, HAND_EDGES, edgedefault="undirected"),
                    encoding="utf-8")
    with pytest.raises(UnsupportedGraphMLError, match="undirected"):
        read_graphml(path)
    with caplog.at_level(logging.INFO, logger="sharemap.network"):
        fast, slow = both(path)
    assert "reading it with osmnx instead" in caplog.text
    assert_same_network(fast, slow)


def test_repeated_node_id_goes_to_osmnx(tmp_path):
    nodes = dict(HAND_NODES)
    text = _graphml_text(nodes, HAND_EDGES).replace(
        '<node id="7">', '<node id="6"><data key="n0">1.0</data></node><node id="7">')
    path = tmp_path / "twice.graphml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(UnsupportedGraphMLError, match="declared twice"):
        read_graphml(path)


# -------------------------------------------------------------- (e) real Dongdaemun-gu


def test_real_dongdaemun_same_as_osmnx(seoul_data):
    path = seoul_data / "network" / "dongdaemun_walk.graphml"
    fast, slow = both(path)
    assert_same_network(fast, slow)
    assert fast.info["directed_edges_in_source"] == 21_598
