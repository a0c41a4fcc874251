"""The synthetic demo district: shipped, deterministic, and shaped as promised.

The checks recompute every property from the files themselves (areas in
EPSG:5186, network topology through osmnx, row counts through the csv module),
never from the generator's internals.
"""

from __future__ import annotations

import csv
import io
import itertools
import re
import xml.etree.ElementTree as ET
from pathlib import Path

import geopandas as gpd
import networkx as nx
import numpy as np
import osmnx as ox
import pandas as pd
import pytest
from shapely.ops import polygonize, unary_union

from sharemap import datasets
from sharemap.config import read_config
from sharemap.datasets._demo import DEMO_FILES, make_demo_district

REPO = Path(__file__).resolve().parents[1]
DEMO = datasets.demo_dir()
TM = "EPSG:5186"
BIKE_HEADER = ("대여소번호,보관소(대여소)명,자치구,상세주소,위도,경도,설치시기,"
               "LCD 거치대수,QR 거치대수,운영방식")
TARGET_PER_KM2 = {"bike": 5.0, "carshare": 4.0, "parking": 3.0, "facility": 1.0,
                  "tools": 0.7, "toys": 0.2}


@pytest.fixture(scope="module")
def fresh(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("demo")
    paths = make_demo_district(out, seed=0)
    assert sorted(paths) == sorted(DEMO_FILES)
    assert all(p == out / name and p.is_file() for name, p in paths.items())
    return out


@pytest.fixture(scope="module")
def graph() -> nx.MultiDiGraph:
    return ox.graph_from_xml(DEMO / "walk.osm", bidirectional=True, simplify=True,
                             retain_all=False)


@pytest.fixture(scope="module")
def edges(graph: nx.MultiDiGraph) -> gpd.GeoDataFrame:
    edges = ox.graph_to_gdfs(ox.project_graph(graph, to_crs=TM), nodes=False)
    edges["hw"] = edges["highway"].map(lambda h: h if isinstance(h, str) else h[0])
    return edges


@pytest.fixture(scope="module")
def gu() -> gpd.GeoDataFrame:
    return gpd.read_file(DEMO / "gu.geojson").to_crs(TM)


def _bike_rows() -> list[list[str]]:
    text = (DEMO / "bike_stations.csv").read_bytes().decode("cp949")
    return list(csv.reader(io.StringIO(text)))[1:]


def _points(df: pd.DataFrame, x: str, y: str, crs: str) -> gpd.GeoSeries:
    pts = gpd.points_from_xy(df[x].astype(float), df[y].astype(float))
    return gpd.GeoSeries(pts, crs=crs).to_crs(TM)


def _valid_spaces() -> dict[str, gpd.GeoSeries]:
    """Every space a correct reader keeps: bad rows (0/0, empty, far, twin) left out."""
    bike = pd.DataFrame(_bike_rows(), columns=BIKE_HEADER.split(","))
    bike = bike[(bike["위도"] != "") & (bike["위도"].replace("", "0").astype(float) != 0)]
    bike_pts = _points(bike, "경도", "위도", "EPSG:4326").reset_index(drop=True)
    gu_poly = gpd.read_file(DEMO / "gu.geojson").to_crs(TM).geometry.iloc[0]
    bike_pts = bike_pts[bike_pts.within(gu_poly)]
    twins = {j for i, j in itertools.combinations(bike_pts.index, 2)
             if bike_pts[i].distance(bike_pts[j]) <= 2.0}
    parking = pd.read_csv(DEMO / "shared_parking.csv")
    return {
        "bike": bike_pts.drop(index=list(twins)),
        "carshare": gpd.read_file(DEMO / "carshare_spots.geojson").to_crs(TM).geometry,
        "parking": _points(parking[(parking.x != 0) | (parking.y != 0)], "x", "y", TM),
        "tools": _points(pd.read_csv(DEMO / "tool_libraries.csv", encoding="utf-8-sig"),
                         "lon", "lat", "EPSG:4326"),
        "toys": _points(pd.read_csv(DEMO / "toy_libraries.csv"), "lon", "lat", "EPSG:4326"),
        "facility": gpd.read_file(DEMO / "public_facilities.geojson").to_crs(TM)
        .drop_duplicates("geometry").representative_point(),
    }


# ----------------------------------------------------------------------------- shipping


def test_generation_is_deterministic_and_seeded(fresh: Path, tmp_path: Path) -> None:
    again = make_demo_district(tmp_path / "again", seed=0)
    for name in DEMO_FILES:
        assert again[name].read_bytes() == (fresh / name).read_bytes(), name
    other = make_demo_district(tmp_path / "seed1", seed=1)
    assert other["walk.osm"].read_bytes() != (fresh / "walk.osm").read_bytes()


@pytest.mark.parametrize("folder", [DEMO, REPO / "data" / "demo"], ids=["package", "data"])
def test_shipped_copies_equal_a_fresh_generation(fresh: Path, folder: Path) -> None:
    assert sorted(p.name for p in folder.iterdir()) == sorted(DEMO_FILES)
    for name in DEMO_FILES:
        assert (folder / name).read_bytes() == (fresh / name).read_bytes(), (
            f"{folder / name} is stale: run `python -m sharemap.datasets._demo`")


def test_get_path_and_study_file() -> None:
    path = datasets.get_path("demo")
    assert path.is_file() and path.name == "study.toml" and path.parent == DEMO
    assert datasets.available == ("demo",)
    with pytest.raises(ValueError, match="available: demo"):
        datasets.get_path("dongdaemun")
    cfg = read_config(path)
    assert cfg.categories == ("bike", "carshare", "parking", "tools", "toys", "facility")
    assert cfg.network.source == "osm_xml" and cfg.crs == "EPSG:5186"
    assert cfg.layers[0].preset == "ttareungyi"
    used = [cfg.network.value, cfg.area, *(la.path for la in cfg.layers),
            *(b.path for b in cfg.coverage.boundaries)]
    assert all(Path(p).parent == DEMO and Path(p).is_file() for p in used)


def test_total_size_and_readme() -> None:
    assert sum((DEMO / name).stat().st_size for name in DEMO_FILES) < 1.5e6
    readme = (DEMO / "README.md").read_text(encoding="utf-8")
    assert "SYNTHETIC" in readme and "make_demo_district(seed=0)" in readme
    assert "not real Seoul data" in readme
    assert all(f"`{name}`" in readme for name in DEMO_FILES if name != "README.md")


# ----------------------------------------------------------------------------- network


def test_walk_osm_is_one_connected_highway_network(graph: nx.MultiDiGraph) -> None:
    root = ET.parse(DEMO / "walk.osm").getroot()
    assert root.tag == "osm" and root.get("version") == "0.6"
    text = (DEMO / "walk.osm").read_text(encoding="utf-8")
    node_lines = re.findall(r'<node id="(\d+)" lat="([-\d.]+)" lon="([-\d.]+)"/>', text)
    assert len(node_lines) == len(root.findall("node"))
    assert all(int(i) > 0 and len(lat.split(".")[1]) == 7 == len(lon.split(".")[1])
               for i, lat, lon in node_lines)
    highway_nodes: set[int] = set()
    water_nodes: set[int] = set()
    for way in root.findall("way"):
        tags = {t.get("k"): t.get("v") for t in way.findall("tag")}
        refs = {int(nd.get("ref")) for nd in way.findall("nd")}
        (highway_nodes if "highway" in tags else water_nodes).update(refs)
    assert water_nodes and not water_nodes & highway_nodes
    # unsimplified, everything kept: the highways are one component, the stream another
    full = ox.graph_from_xml(DEMO / "walk.osm", bidirectional=True, simplify=False,
                             retain_all=True)
    components = sorted(nx.weakly_connected_components(full), key=len, reverse=True)
    assert [set(c) for c in components] == [highway_nodes, water_nodes]
    # as a loader would read it
    assert nx.is_weakly_connected(graph) and set(graph.nodes) <= highway_nodes
    assert len(graph) > 200
    assert all("highway" in d for _, _, d in graph.edges(data=True))
    assert all(graph.has_edge(v, u) for u, v in graph.edges())


def test_stream_is_crossed_only_by_bridges(graph: nx.MultiDiGraph,
                                           edges: gpd.GeoDataFrame) -> None:
    water = gpd.read_file(DEMO / "water.geojson").to_crs(TM).geometry.iloc[0]
    crossing = edges[edges.intersects(water)]
    pairs = {frozenset(uv) for uv in crossing.index.droplevel("key")}
    assert 2 <= len(pairs) <= 3
    assert (crossing["bridge"] == "yes").all()
    # without its bridges the district falls apart into a north and a south
    cut = graph.copy()
    cut.remove_edges_from([(u, v) for u, v, _ in crossing.index])
    assert nx.number_weakly_connected_components(cut) == 2


def test_blocks_are_60_to_200_m_with_one_superblock(edges: gpd.GeoDataFrame) -> None:
    road = edges[~edges["hw"].isin(["footway", "service"])]
    blocks = gpd.GeoSeries(list(polygonize(unary_union(list(road.geometry)))), crs=TM)
    size = np.sqrt(blocks.area)
    assert 60 <= np.percentile(size, 10) and np.percentile(size, 90) <= 200
    assert 60 <= np.median(size) <= 200 and len(blocks) > 100
    # the apartment complex: one ~300 x 350 m block holding the service roads
    service = edges[edges["hw"] == "service"]
    holders = [b for b in blocks if service.within(b).any()]
    assert len(holders) == 1 and 80_000 <= holders[0].area <= 150_000
    assert service.within(holders[0]).all()
    # mid-block footways lie inside blocks, so they do not split them
    footways = edges[edges["hw"] == "footway"]
    assert sum(footways.within(b).any() for b in blocks) >= 6


# ----------------------------------------------------------------------------- areas


def test_gu_area_and_properties(gu: gpd.GeoDataFrame) -> None:
    assert len(gu) == 1 and gu.geom_type.iloc[0] == "Polygon"
    assert 3e6 <= gu.area.iloc[0] <= 6e6
    assert (gu["sgg"].iloc[0], gu["sggnm"].iloc[0]) == ("11999", "데모구")


def test_dongs_tile_the_gu(gu: gpd.GeoDataFrame) -> None:
    dong = gpd.read_file(DEMO / "dong.geojson").to_crs(TM)
    assert len(dong) in (4, 5)
    gu_poly = gu.geometry.iloc[0]
    union = unary_union(list(dong.geometry))
    assert abs(union.area - gu_poly.area) <= 1e-3 * gu_poly.area
    assert union.symmetric_difference(gu_poly).area <= 1e-3 * gu_poly.area
    for a, b in itertools.combinations(dong.geometry, 2):
        assert a.intersection(b).area < 1.0
    assert dong["adm_cd2"].map(lambda c: isinstance(c, str) and re.fullmatch(r"11999\d{5}", c)
                               is not None).all()
    assert dong["adm_cd2"].is_unique and {"누리1동", "누리2동"} <= set(dong["dong_nm"])
    assert (dong["adm_nm"] == "서울특별시 데모구 " + dong["dong_nm"]).all()
    assert (dong["sgg"] == "11999").all() and (dong["sggnm"] == "데모구").all()
    density = dong["pop_total"] / (dong.area / 1e6)
    assert density.between(10_000, 30_000).all()
    assert 60_000 <= dong["pop_total"].sum() <= 120_000
    assert (dong["pop_65plus"] / dong["pop_total"]).between(0.15, 0.20).all()
    assert (dong["households"] < dong["pop_total"]).all()


# ----------------------------------------------------------------------------- layers


def test_bike_file_is_seoul_layout_with_bad_rows(gu: gpd.GeoDataFrame) -> None:
    raw = (DEMO / "bike_stations.csv").read_bytes()
    with pytest.raises(UnicodeDecodeError):
        raw.decode("utf-8")
    assert raw.decode("cp949").splitlines()[0] == BIKE_HEADER
    rows = _bike_rows()
    assert all(len(r) == 10 for r in rows)
    ids = [r[0] for r in rows]
    assert len(set(ids)) == len(ids) and all(i.isdigit() for i in ids)
    assert all(r[1].startswith(f"{r[0]}. ") and r[2] == "데모구" for r in rows)
    assert all(re.fullmatch(r"20\d\d-\d\d-\d\d", r[6]) and r[9] in ("LCD", "QR") for r in rows)
    zero = [k for k, r in enumerate(rows) if r[4] == "0" and r[5] == "0"]
    empty = [k for k, r in enumerate(rows) if r[4] == "" and r[5] == ""]
    assert len(zero) == 2 and len(empty) == 1
    located = [r for r in rows if r[4] not in ("", "0")]
    pts = _points(pd.DataFrame(located, columns=BIKE_HEADER.split(",")), "경도", "위도",
                  "EPSG:4326")
    outside = pts[~pts.within(gu.geometry.iloc[0])]
    assert len(outside) == 1 and outside.distance(gu.geometry.iloc[0]).iloc[0] > 10_000
    twins = [(i, j) for i, j in itertools.combinations(range(len(pts)), 2)
             if pts.iloc[i].distance(pts.iloc[j]) <= 2.0]
    assert len(twins) == 1 and 0.3 < pts.iloc[twins[0][0]].distance(pts.iloc[twins[0][1]])
    assert sorted(zero + empty) != list(range(len(rows) - 3, len(rows)))  # not all at the end


def test_other_layers_formats() -> None:
    parking_raw = (DEMO / "shared_parking.csv").read_bytes()
    assert not parking_raw.startswith(b"\xef\xbb\xbf")
    parking = pd.read_csv(io.StringIO(parking_raw.decode("utf-8")), dtype=str)
    assert list(parking.columns) == ["parking_id", "name", "address", "x", "y"]
    assert ((parking.x.astype(float) == 0) & (parking.y.astype(float) == 0)).sum() == 1
    assert parking.x.str.fullmatch(r"\d+\.\d\d").all()
    resident = parking.name.str.startswith("거주자우선주차 공유").sum()
    opened = parking.name.str.startswith("부설주차장 개방").sum()
    assert resident + opened == len(parking) and abs(resident - opened) <= 2
    tools_raw = (DEMO / "tool_libraries.csv").read_bytes()
    toys_raw = (DEMO / "toy_libraries.csv").read_bytes()
    assert tools_raw.startswith(b"\xef\xbb\xbflib_id,name,address,lon,lat")
    assert toys_raw.startswith(b"lib_id,name,address,lon,lat")
    assert pd.read_csv(io.BytesIO(tools_raw), encoding="utf-8-sig").name.str.endswith(
        "공구대여소").all()
    car = gpd.read_file(DEMO / "carshare_spots.geojson")
    assert car.crs.to_epsg() == 4326 and (car.geom_type == "Point").all()
    assert {"spot_id", "name", "address", "operators"} <= set(car.columns)
    assert car.spot_id.is_unique and set(car.operators) <= {"쏘카", "그린카", "쏘카;그린카"}
    fac = gpd.read_file(DEMO / "public_facilities.geojson")
    assert (fac.geom_type == "Polygon").all() and fac.facility_id.is_unique
    same = [(a, b) for a, b in itertools.combinations(fac.index, 2)
            if fac.geometry[a].equals(fac.geometry[b])]
    assert len(same) == 1 and fac.name[same[0][0]] == fac.name[same[0][1]]
    assert fac.name.str.contains('<다목적실> & "강당"', regex=False).sum() == 1
    sides = fac.to_crs(TM).geometry.map(lambda g: sorted(
        np.hypot(*np.diff(np.asarray(g.exterior.coords)[:3], axis=0).T)))
    assert sides.map(lambda s: 14.9 <= s[0] and s[1] <= 40.1).all()


def test_spaces_are_at_seoul_densities_off_streets(gu: gpd.GeoDataFrame,
                                                   edges: gpd.GeoDataFrame) -> None:
    area_km2 = gu.area.iloc[0] / 1e6
    streets = unary_union(list(edges.geometry))
    spaces = _valid_spaces()
    for category, pts in spaces.items():
        target = TARGET_PER_KM2[category]
        assert target / 1.6 <= len(pts) / area_km2 <= target * 1.6, category
        assert pts.within(gu.geometry.iloc[0]).all(), category
        dist = pts.distance(streets)
        high = 40.0 if category == "facility" else 30.01
        assert dist.between(4.9, high).all(), (category, dist.min(), dist.max())
    assert len(spaces["tools"]) >= 2 and len(spaces["toys"]) >= 1


def test_dense_clusters_and_far_areas(graph: nx.MultiDiGraph) -> None:
    """Some street corners reach 3+ spaces in 400 m; some are > 1,200 m from a toy library."""
    projected = ox.project_graph(graph, to_crs=TM)
    walk = projected.to_undirected()
    nodes = ox.graph_to_gdfs(projected, edges=False)
    xy = np.c_[nodes.geometry.x, nodes.geometry.y]

    def nearest(pts: gpd.GeoSeries) -> list[int]:
        d = np.hypot(xy[:, None, 0] - pts.x.to_numpy(), xy[:, None, 1] - pts.y.to_numpy())
        return list(nodes.index[d.argmin(axis=0)])

    spaces = _valid_spaces()
    reach = {n: 0 for n in walk}
    for pts in spaces.values():
        for node in nearest(pts):
            for n in nx.single_source_dijkstra_path_length(walk, node, 400, weight="length"):
                reach[n] += 1
    assert sum(v >= 3 for v in reach.values()) >= 0.1 * len(reach)
    toys = nx.multi_source_dijkstra_path_length(walk, set(nearest(spaces["toys"])),
                                                weight="length")
    assert max(toys.values()) > 1200
