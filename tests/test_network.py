"""Network sources and cleaning: OSM XML, GraphML, PBF, downloads (offline), CSR."""

from __future__ import annotations

import networkx as nx
import pytest
from conftest import CRS, grid_edges, grid_nodes, osm_graph
from pyproj import Transformer

from sharemap import InputDataError, NetworkDownloadError, network
from sharemap.network import network_from_graph, network_from_graphml, network_from_osm_xml

TO_WGS = Transformer.from_crs(CRS, "EPSG:4326", always_xy=True)


def _osm_xml(path, ways):
    """Write a tiny OSM XML file: the 3x3 grid's nodes and the given ways."""
    nodes = grid_nodes()
    lines = ['<?xml version="1.0" encoding="UTF-8"?>', '<osm version="0.6">']
    for n, (x, y) in nodes.items():
        lon, lat = TO_WGS.transform(x, y)
        lines.append(f'  <node id="{n + 1}" lat="{lat:.9f}" lon="{lon:.9f}"/>')
    for i, (refs, tags) in enumerate(ways, start=1):
        lines.append(f'  <way id="{i}">')
        lines += [f'    <nd ref="{r + 1}"/>' for r in refs]
        lines += [f'    <tag k="{k}" v="{v}"/>' for k, v in tags.items()]
        lines.append("  </way>")
    lines.append("</osm>")
    path.write_text("\n".join(lines), encoding="utf-8")
    return path


def test_osm_xml_two_way_and_walk_filter(tmp_path):
    """Rows and columns of the grid as ways; a motorway way is not walkable and is dropped.

    The one-way tag must not matter for walking: every street is two-way.
    """
    ways = [([0, 1, 2], {"highway": "residential", "oneway": "yes"}),
            ([10, 11, 12], {"highway": "residential"}),
            ([20, 21, 22], {"highway": "footway"}),
            ([0, 10, 20], {"highway": "residential"}),
            ([1, 11, 21], {"highway": "residential"}),
            ([2, 12, 22], {"highway": "motorway"})]
    net = network_from_osm_xml(_osm_xml(tmp_path / "grid.osm", ways), crs=CRS)
    # 12 grid segments less the 2 motorway ones = 1,000 m; osmnx's simplification merges
    # the two corners left with two streets (00 and 20) into 200 m edges: 8 edges remain
    assert net.info["length_km"] == pytest.approx(1.0, abs=1e-4)
    assert sorted(net.edges["length_m"].round(2)) == [100.0] * 6 + [200.0] * 2
    g = net.to_networkx()
    # node 02 -> 01 against the one-way street, then up to 11: 200 m
    osm = net.nodes["osmid"].tolist()
    assert nx.shortest_path_length(g, osm.index(3), osm.index(12), weight="length") == \
        pytest.approx(200.0, abs=0.05)


def test_graphml_roundtrip(tmp_path):
    import osmnx as ox

    g = osm_graph(grid_nodes(), grid_edges())
    path = tmp_path / "grid.graphml"
    ox.save_graphml(ox.project_graph(g, to_crs="EPSG:4326"), path)
    net = network_from_graphml(path, crs=CRS)
    assert (net.info["nodes"], net.info["edges"]) == (9, 12)
    assert net.csr.sum() == pytest.approx(2 * 1200.0, rel=1e-6)


def test_reciprocal_edges_merged_and_csr_symmetric():
    net = network_from_graph(osm_graph(grid_nodes(), grid_edges()), crs=CRS)
    assert net.info["directed_edges_in_source"] == 24
    assert len(net.edges) == 12
    assert (net.csr != net.csr.T).nnz == 0
    assert (net.edges["u"] <= net.edges["v"]).all()


def test_missing_and_broken_files(tmp_path):
    with pytest.raises(InputDataError, match="not found"):
        network_from_osm_xml(tmp_path / "nope.osm")
    bad = tmp_path / "bad.osm"
    bad.write_text("<osm><node", encoding="utf-8")
    with pytest.raises(InputDataError, match=r"bad\.osm"):
        network_from_osm_xml(bad)


def test_geographic_crs_refused():
    from sharemap import CRSError

    with pytest.raises(CRSError, match="projected"):
        network_from_graph(osm_graph(grid_nodes(), grid_edges()), crs="EPSG:4326")


def test_place_download_offline_is_one_clear_error(monkeypatch, tmp_path):
    """The online path through osmnx, with its HTTP layer failing as it does offline."""
    import osmnx as ox
    import requests

    monkeypatch.setenv("SHAREMAP_CACHE_DIR", str(tmp_path))

    def refuse(*args, **kwargs):
        raise requests.exceptions.ConnectionError("no network")

    monkeypatch.setattr(requests, "get", refuse)
    monkeypatch.setattr(requests, "post", refuse)
    monkeypatch.setattr(ox.settings, "use_cache", False)
    with pytest.raises(NetworkDownloadError, match="Dongdaemun"):
        network.network_from_place("Dongdaemun-gu, Seoul, South Korea")


def test_place_download_uses_osmnx_result(monkeypatch, tmp_path):
    """A recorded-style response: osmnx's place call replaced by a graph it would return."""
    import osmnx as ox

    calls = {}

    def fake(place, **kwargs):
        calls.update(place=place, **kwargs)
        return ox.project_graph(osm_graph(grid_nodes(), grid_edges()), to_crs="EPSG:4326")

    monkeypatch.setenv("SHAREMAP_CACHE_DIR", str(tmp_path))
    monkeypatch.setattr(ox, "graph_from_place", fake)
    net = network.network_from_place("Somewhere", crs=CRS)
    assert calls["network_type"] == "walk"
    assert net.info["source"] == "place:Somewhere"
    assert net.info["edges"] == 12
    assert (tmp_path / "osmnx").is_dir()


def test_osm_pbf(tmp_path):
    osmium = pytest.importorskip("osmium", reason="pyosmium not installed (extra: sharemap[pbf])")
    ways = [([0, 1, 2], {"highway": "residential"}), ([0, 10, 20], {"highway": "residential"})]
    xml = _osm_xml(tmp_path / "g.osm", ways)
    pbf = tmp_path / "g.osm.pbf"
    writer = osmium.SimpleWriter(str(pbf))
    for obj in osmium.FileProcessor(str(xml)):
        writer.add(obj)
    writer.close()
    net = network.network_from_osm_pbf(pbf, crs=CRS)
    # two ways meeting at node 00 are simplified into one 400 m street 20-10-00-01-02
    assert net.info["edges"] == 1
    assert net.edges["length_m"].iloc[0] == pytest.approx(400.0, abs=0.01)
    assert net.info["source"].endswith("g.osm.pbf")


def test_real_dongdaemun_graphml(seoul_data):
    net = network_from_graphml(seoul_data / "network" / "dongdaemun_walk.graphml", crs=CRS)
    assert net.info["components_dropped"] == 0
    assert 7000 < net.info["nodes"] <= 7695
    # every undirected segment once: about half of the 21,598 directed edges
    assert 10_000 < net.info["edges"] < 11_000


# ------------------------------------------------------------ prepared-network cache


@pytest.fixture(autouse=True)
def _cache_in_tmp(tmp_path, monkeypatch):
    """Never write sharemap's cache to the real home folder."""
    monkeypatch.setenv("SHAREMAP_CACHE_DIR", str(tmp_path / "sharemap-cache"))


def _graphml(path):
    import osmnx as ox

    g = osm_graph(grid_nodes(), grid_edges(), tags={(0, 1): {"name": "종로"}})
    ox.save_graphml(ox.project_graph(g, to_crs="EPSG:4326"), path)
    return path


def _cache_files(tmp_path):
    return sorted((tmp_path / "sharemap-cache" / "networks").glob("*.npz"))


def test_cache_hit_gives_the_same_network(tmp_path, monkeypatch):
    from geopandas.testing import assert_geodataframe_equal

    from sharemap.config import NetworkConfig

    cfg = NetworkConfig(source="graphml", value=_graphml(tmp_path / "g.graphml"))
    first = network.load_network(cfg, crs=CRS)
    assert first.info["cache"] == "miss"
    assert len(_cache_files(tmp_path)) == 1
    # a hit must not parse the file again
    monkeypatch.setattr(network, "network_from_graphml",
                        lambda *a, **k: pytest.fail("the source was read again"))
    second = network.load_network(cfg, crs=CRS)
    assert second.info["cache"] == "hit"
    assert_geodataframe_equal(first.nodes, second.nodes)
    assert_geodataframe_equal(first.edges, second.edges)
    assert second.crs == first.crs
    assert {k: v for k, v in second.info.items() if k != "cache"} == \
        {k: v for k, v in first.info.items() if k != "cache"}
    assert (second.csr != first.csr).nnz == 0
    assert second.edges.loc[second.edges["name"] != "", "name"].unique().tolist() == ["종로"]


def test_cache_misses_when_the_file_or_crs_changes(tmp_path):
    import os

    from sharemap.config import NetworkConfig

    path = _graphml(tmp_path / "g.graphml")
    cfg = NetworkConfig(source="graphml", value=path)
    assert network.load_network(cfg, crs=CRS).info["cache"] == "miss"
    assert network.load_network(cfg, crs="EPSG:5179").info["cache"] == "miss"
    assert network.load_network(cfg, crs="EPSG:5179").info["cache"] == "hit"
    # the same file rewritten: new modification time, so read afresh; the stale entry
    # for this file is removed
    st = path.stat()
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))
    again = network.load_network(cfg, crs=CRS)
    assert again.info["cache"] == "miss"
    assert len(_cache_files(tmp_path)) == 1
    assert network.load_network(cfg, crs=CRS, cache=False).info["cache"] == "off"


def test_unreadable_cache_file_is_rebuilt(tmp_path):
    from sharemap.config import NetworkConfig

    cfg = NetworkConfig(source="graphml", value=_graphml(tmp_path / "g.graphml"))
    network.load_network(cfg, crs=CRS)
    (entry,) = _cache_files(tmp_path)
    entry.write_bytes(b"not a zip file")
    net = network.load_network(cfg, crs=CRS)
    assert net.info["cache"] == "miss"
    assert net.info["edges"] == 12
    assert network.load_network(cfg, crs=CRS).info["cache"] == "hit"


def test_node_edges_and_edge_vertices(grid3):
    """Node 11, the grid's middle, has four edges; every edge is one 100 m segment."""
    ptr, edge, end = grid3.node_edges
    middle = grid3.nodes["osmid"].tolist().index(11)
    at = edge[ptr[middle]:ptr[middle + 1]]
    assert len(at) == 4
    ends = end[ptr[middle]:ptr[middle + 1]]
    assert all((grid3.edge_u[e] if k == 0 else grid3.edge_v[e]) == middle
               for e, k in zip(at, ends, strict=True))
    _, vptr, along = grid3.edge_vertices
    assert (vptr[1:] - vptr[:-1]).tolist() == [2] * 12
    assert along.reshape(-1, 2).tolist() == [[0.0, 100.0]] * 12


def test_merged_tags_do_not_depend_on_the_hash_seed():
    """osmnx merges simplified ways' tags through a set: the order must not leak out."""
    import subprocess
    import sys

    from sharemap.network import _norm_tag

    assert _norm_tag(["secondary", "footway", "secondary"]) == "footway;secondary"
    assert _norm_tag("['residential', 'footway']") == "footway;residential"
    code = ("from sharemap.network import network_from_osm_xml;"
            "from sharemap.datasets import demo_dir;"
            "n = network_from_osm_xml(demo_dir() / 'walk.osm');"
            "print('|'.join(n.edges.highway + '/' + n.edges.name))")
    outs = {subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                           check=True, env={**__import__("os").environ,
                                            "PYTHONHASHSEED": seed}).stdout
            for seed in ("1", "2", "3")}
    assert len(outs) == 1
    assert ";" in outs.pop()  # the demo has merged ways, so the check means something


def test_load_network_takes_a_network_config_and_a_crs(tmp_path):
    """The study-wide call still works for one release, with a FutureWarning naming the fix."""
    from sharemap.config import NetworkConfig, StudyConfig

    cfg = NetworkConfig(source="graphml", value=_graphml(tmp_path / "g.graphml"))
    net = network.load_network(cfg, "EPSG:5179", cache=False)
    assert net.crs.to_epsg() == 5179
    study = StudyConfig(name="t", crs="EPSG:5179", network=cfg, layers=())
    with pytest.warns(FutureWarning, match=r"load_network\(config\.network, config\.crs\)"):
        old = network.load_network(study, cache=False)
    assert old.crs == net.crs
    assert (old.csr != net.csr).nnz == 0
    with pytest.warns(FutureWarning, match="without a CRS"):
        assert network.load_network(cfg, cache=False).crs.to_epsg() == 5186
    with pytest.raises(TypeError, match="must be a NetworkConfig"):
        network.load_network(str(cfg.value), CRS)
