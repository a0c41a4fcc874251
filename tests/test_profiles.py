"""Mobility profiles (issue 14): a profile's streets, points cut off, and group figures on them."""

from __future__ import annotations

import itertools
import json
import math

import geopandas as gpd
import networkx as nx
import numpy as np
import pandas as pd
import pytest
import shapely
from conftest import CRS, X0, Y0, dongdaemun_toml, grid_edges, grid_nodes, osm_graph

from sharemap import ConfigError, InputDataError, read_config, run_study
from sharemap.access import prepare_points, walk_times
from sharemap.config import GroupConfig
from sharemap.network import network_from_graph
from sharemap.profiles import (
    MAX_RAMP_PCT,
    PROFILES,
    STROLLER,
    WALK,
    WHEELCHAIR,
    cut_off_points,
    edge_reasons,
    group_walk_col,
    incline_percent,
    profile_network,
    profile_points,
)

# ----------------------------------------------------------------------------- the tags


@pytest.mark.parametrize(("value", "pct"), [
    ("8%", 8.0), ("-10 %", 10.0), ("12", 12.0), ("3,5%", 3.5), ("+4%", 4.0),
    ("45°", 100.0), ("5 deg", math.tan(math.radians(5)) * 100), ("3%;up;12 %", 12.0),
    ("up", None), ("down", None), ("", None), ("steep", None), ("yes;up", None),
])
def test_incline_values_read_as_percent_or_degrees(value, pct):
    got = incline_percent(value)
    assert (got is None) if pct is None else got == pytest.approx(pct)


def test_edge_reasons_follow_the_merged_tags():
    """An edge any of whose merged parts is steps is steps; ``wheelchair=no`` likewise."""
    edges = pd.DataFrame({
        "highway": ["footway", "footway;steps", "residential;steps", "steps", "footway",
                    "footway", "footway", "footway", "path", "footway"],
        "wheelchair": ["", "", "", "yes", "no", "limited;no", "yes", "", "", "limited"],
        "incline": ["", "", "", "", "", "", "12%", "8%", "up", "4.8°"],
    })
    reason, unknown = edge_reasons(edges, WHEELCHAIR)
    assert [("", "steps", "wheelchair_no", "incline")[r] for r in reason] == [
        "", "steps", "steps", "steps", "wheelchair_no", "wheelchair_no", "incline", "", "",
        "incline"]  # 4.8 degrees is 8.40%, over 1:12 (8.33%)
    assert unknown == 1  # "up": tagged, but gives no slope (kept)
    reason, _ = edge_reasons(edges, STROLLER)
    assert reason.tolist() == [0, 1, 1, 1, 0, 0, 0, 0, 0, 0]
    assert not edge_reasons(edges, WALK)[0].any()
    assert MAX_RAMP_PCT == pytest.approx(100 / 12)


def _osm_xml(path, *, junctions=True):
    """Four ways in a row west to east: footway, steps, a wheelchair=no footway, a 12% ramp.

    With `junctions`, a 50 m footway leaves each inner node northwards, so the four
    stay four edges; without, osmnx's simplification merges them into one.
    """
    from pyproj import Transformer

    to_wgs = Transformer.from_crs(CRS, "EPSG:4326", always_xy=True)
    lines = ['<?xml version="1.0" encoding="UTF-8"?>', '<osm version="0.6">']
    xy = [(100 * i, 0) for i in range(5)] + [(100 * i, 50) for i in (1, 2, 3)]
    for i, (x, y) in enumerate(xy):
        lon, lat = to_wgs.transform(X0 + x, Y0 + y)
        lines.append(f'  <node id="{i + 1}" lat="{lat:.9f}" lon="{lon:.9f}"/>')
    ways = [((1, 2), {"highway": "footway"}), ((2, 3), {"highway": "steps", "incline": "up"}),
            ((3, 4), {"highway": "footway", "wheelchair": "no"}),
            ((4, 5), {"highway": "footway", "incline": "-12%"})]
    if junctions:
        ways += [((2, 6), {"highway": "footway"}), ((3, 7), {"highway": "footway"}),
                 ((4, 8), {"highway": "footway"})]
    for i, (refs, t) in enumerate(ways):
        lines += [f'  <way id="{i + 1}">', *(f'    <nd ref="{r}"/>' for r in refs)]
        lines += [f'    <tag k="{k}" v="{v}"/>' for k, v in t.items()]
        lines.append("  </way>")
    path.write_text("\n".join([*lines, "</osm>"]), encoding="utf-8")
    return path


def test_wheelchair_and_incline_tags_survive_every_reader(tmp_path):
    """OSM XML keeps them (osmnx drops tags it is not told of); GraphML both ways; the cache."""
    import osmnx as ox

    from sharemap.config import NetworkConfig
    from sharemap.network import (
        _network_from_graphml_osmnx,
        load_network,
        network_from_graphml,
        network_from_osm_xml,
    )

    before = list(ox.settings.useful_tags_way)
    net = network_from_osm_xml(_osm_xml(tmp_path / "row.osm"), crs=CRS)
    assert ox.settings.useful_tags_way == before  # restored
    row = net.edges[net.edges["length_m"].round(3) == 100.0]
    got = set(zip(row["highway"], row["wheelchair"], row["incline"], strict=True))
    assert len(row) == 4 and got == {
        ("footway", "", ""), ("steps", "", "up"), ("footway", "no", ""), ("footway", "", "-12%")}
    pnet = profile_network(net, "wheelchair", cache=False)
    # the east end (the wheelchair=no way, the ramp, their stubs) hangs on the steps only
    assert pnet.info["edges_removed"] == {"steps": 1, "wheelchair_no": 1, "incline": 1,
                                          "disconnected": 2}
    assert pnet.info["incline_unknown"] == 0  # "up" is on the steps, left out anyway
    # merged into one street by osmnx: one part steps makes all 400 m steps
    merged = network_from_osm_xml(_osm_xml(tmp_path / "one.osm", junctions=False), crs=CRS)
    assert merged.edges[["highway", "wheelchair", "incline"]].to_numpy().tolist() == [
        ["footway;steps", "no", "-12%;up"]]
    assert profile_network(merged, "stroller", cache=False).info["edges_removed"]["steps"] == 1
    # GraphML as osmnx writes a graph carrying the tags: streamed and osmnx's reader alike
    g = osm_graph({i: (X0 + 100 * i, Y0) for i in range(3)}, [(0, 1), (1, 2)],
                  highway="footway", tags={(0, 1): {"wheelchair": "no"},
                                           (1, 2): {"incline": "['5%', '10%']"}})
    path = tmp_path / "row.graphml"
    ox.save_graphml(ox.project_graph(g, to_crs="EPSG:4326"), path)
    for read in (network_from_graphml, _network_from_graphml_osmnx):
        tags = read(path, crs=CRS).edges[["wheelchair", "incline"]].to_numpy().tolist()
        assert sorted(tags) == [["", "10%;5%"], ["no", ""]], read
    cfg = NetworkConfig(source="graphml", value=path)
    first, again = load_network(cfg, CRS), load_network(cfg, CRS)
    assert (first.info["cache"], again.info["cache"]) == ("miss", "hit")
    assert again.edges["wheelchair"].tolist() == first.edges["wheelchair"].tolist()
    assert again.edges["incline"].tolist() == first.edges["incline"].tolist()


# ------------------------------------------------------------- a grid with one flight of steps


def _stepped_grid():
    r"""The 3x3 grid (100 m) with steps between 11 and 12, and a spur east of 12.

    ::

        20 --- 21 --- 22
        |      |      |
        10 -A- 11 =C= 12 === 13 -B- 14      (=== steps; 13-14 a footway)
        |      |      S
        00 --- 01 --- 02

    S: a bike station on 12-22, 50 m north of 12. Origins: A mid 10-11; B mid 13-14;
    C 3 m north of the middle of the steps 11-12; D mid 01-11 (not drawn).

    Walking (steps allowed): A 50 + 100 (steps) + 50 = 200 m; B 50 + 100 (steps) + 50
    = 200 m; C 3 + 50 + 50 = 103 m; D 50 + 100 (steps) + 50 = 200 m.
    Wheelchair (no steps): A 50 + 11-21-22 200 + 50 = 300 m; D the same 300 m (or
    01-02-12: 50 + 100 + 100 + 50 = 300 m); B is on 13-14, which only the steps join
    to the rest: cut off ("disconnected"); C joins the network on the steps: cut off
    ("steps").
    """
    nodes = {**grid_nodes(), 13: (X0 + 300, Y0 + 100), 14: (X0 + 400, Y0 + 100)}
    edges = [*grid_edges(), (12, 13), (13, 14)]
    tags = {(11, 12): {"highway": "steps"}, (12, 13): {"highway": "steps"},
            (13, 14): {"highway": "footway"}}
    return nodes, edges, tags


ORIGINS = {"A": (50, 100), "B": (350, 100), "C": (150, 103), "D": (100, 50)}
STATION = (200, 150)


def test_hand_checked_grid_walk_and_wheelchair():
    """The answers of :func:`_stepped_grid`'s docstring, and networkx on the filtered graph."""
    nodes, edges, tags = _stepped_grid()
    net = network_from_graph(osm_graph(nodes, edges, tags=tags), crs=CRS)
    origins = gpd.GeoSeries([shapely.Point(X0 + x, Y0 + y) for x, y in ORIGINS.values()],
                            index=list(ORIGINS), crs=CRS)
    spaces = gpd.GeoDataFrame({"category": ["bike"]},
                              geometry=[shapely.Point(X0 + STATION[0], Y0 + STATION[1])],
                              crs=CRS)
    pts = prepare_points(net, origins, spaces)
    pnet = profile_network(net, "wheelchair", cache=False)
    assert pnet.info["edges_removed"] == {"steps": 2, "wheelchair_no": 0, "incline": 0,
                                          "disconnected": 1}
    assert not pnet.network.edges["highway"].str.contains("steps").any()
    chair = profile_points(pts, pnet)
    walk_m = walk_times(pts, origins, spaces, walk_speed_kmh=0.06)["walk_min_bike"]  # 1 m/min
    chair_m = walk_times(chair, origins, spaces, walk_speed_kmh=0.06)["walk_min_bike"]
    assert walk_m.to_dict() == pytest.approx({"A": 200, "B": 200, "C": 103, "D": 200})
    assert chair_m[["A", "D"]].tolist() == pytest.approx([300, 300])
    assert chair_m[["B", "C"]].isna().all()
    assert cut_off_points(pts.origin_snaps, pnet).to_dict() == {
        "A": "", "B": "disconnected", "C": "steps", "D": ""}
    assert cut_off_points(pts.target_snaps, pnet).tolist() == [""]
    # networkx on the graph without steps: A is 50 m from 10 and 11, S 50 m from 12 and 22
    g = net.to_networkx()
    steps = net.edges["highway"].str.split(";").map(lambda p: "steps" in p).to_numpy()
    g.remove_edges_from(zip(net.edge_u[steps], net.edge_v[steps], strict=True))
    main = max(nx.connected_components(g), key=len)
    osm = net.nodes["osmid"].tolist()
    n = {k: osm.index(k) for k in (10, 11, 12, 13, 14, 22)}
    assert n[13] not in main and n[14] not in main
    d = min(50 + nx.shortest_path_length(g, n[a], n[s], weight="length") + 50
            for a in (10, 11) for s in (12, 22))
    assert d == pytest.approx(chair_m["A"])


def test_a_point_at_the_foot_of_the_steps_is_not_cut_off():
    """A point snapped to an end node of the steps stands on that node: usable streets meet there.

    Station exactly at node 12 (where the steps 11-12 and 12-13 meet 02-12 and 12-22):
    whichever street it is joined to, a wheelchair reaches it, from A 50 + 300 = 350 m
    (10-11, then 11-21-22-12 or 11-01-02-12).
    """
    nodes, edges, tags = _stepped_grid()
    net = network_from_graph(osm_graph(nodes, edges, tags=tags), crs=CRS)
    origins = gpd.GeoSeries([shapely.Point(X0 + 50, Y0 + 100)], index=["A"], crs=CRS)
    spaces = gpd.GeoDataFrame({"category": ["bike"]},
                              geometry=[shapely.Point(X0 + 200, Y0 + 100)], crs=CRS)
    pts = prepare_points(net, origins, spaces)
    pnet = profile_network(net, "wheelchair", cache=False)
    assert cut_off_points(pts.target_snaps, pnet).tolist() == [""]
    chair = profile_points(pts, pnet)
    got = walk_times(chair, origins, spaces, walk_speed_kmh=0.06)["walk_min_bike"]
    assert got["A"] == pytest.approx(350)


def test_profile_network_is_cached_by_content(tmp_path, monkeypatch):
    nodes, edges, tags = _stepped_grid()
    net = network_from_graph(osm_graph(nodes, edges, tags=tags), crs=CRS)
    monkeypatch.setenv("SHAREMAP_CACHE_DIR", str(tmp_path))
    first, again = profile_network(net, "wheelchair"), profile_network(net, "wheelchair")
    assert (first.info["cache"], again.info["cache"]) == ("miss", "hit")
    assert np.array_equal(first.edge_reason, again.edge_reason)
    assert profile_network(net, "stroller").info["cache"] == "miss"  # another profile
    tags[(13, 14)] = {"highway": "footway", "wheelchair": "no"}  # a changed tag misses
    changed = network_from_graph(osm_graph(nodes, edges, tags=tags), crs=CRS)
    other = profile_network(changed, "wheelchair")
    assert other.info["cache"] == "miss"
    assert other.info["edges_removed"]["wheelchair_no"] == 1
    # the tags each profile reads that no street carries (not cached: read from the network)
    assert first.info["tags_missing"] == ["wheelchair", "incline"]
    assert other.info["tags_missing"] == ["incline"]
    assert profile_network(net, "stroller").info["tags_missing"] == []
    (tmp_path / "profiles").mkdir(exist_ok=True)
    for entry in (tmp_path / "profiles").glob("*.npz"):
        entry.write_bytes(b"")  # damaged: derived again, never an error
    assert profile_network(net, "wheelchair").info["cache"] == "miss"


# --------------------------------------------------------- the whole study, by hand


def _grid_study(tmp_path, groups: str) -> str:
    """The stepped grid as a study: the four origins as small square blocks, one station.

    One dong holds every block: 1,000 residents, 400 aged 65+ (`old`) and 100 wheelchair
    users (`chair`), spread by block area: the blocks are equal, so a quarter each.
    """
    import osmnx as ox

    nodes, edges, tags = _stepped_grid()
    ox.save_graphml(ox.project_graph(osm_graph(nodes, edges, tags=tags), to_crs="EPSG:4326"),
                    tmp_path / "grid.graphml")
    squares = [shapely.box(X0 + x - 1, Y0 + y - 1, X0 + x + 1, Y0 + y + 1)
               for x, y in ORIGINS.values()]
    gpd.GeoDataFrame({"block_id": [1, 2, 3, 4]}, geometry=squares, crs=CRS).to_file(
        tmp_path / "blocks.gpkg")
    gpd.GeoDataFrame({"dong": ["Grid-dong"], "code": ["1"], "pop": [1000], "old": [400],
                      "chair": [100]}, geometry=[shapely.box(X0 - 50, Y0 - 50, X0 + 450,
                                                             Y0 + 250)],
                     crs=CRS).to_file(tmp_path / "dong.gpkg")
    pd.DataFrame({"id": ["S"], "name": ["station"], "x": [X0 + STATION[0]],
                  "y": [Y0 + STATION[1]]}).to_csv(tmp_path / "bike.csv", index=False)
    return (
        '[study]\nname = "Grid"\ncrs = "EPSG:5186"\n'
        '[network]\ngraphml = "grid.graphml"\n'
        '[[layers]]\ncategory = "bike"\npath = "bike.csv"\nx = "x"\ny = "y"\n'
        'crs = "EPSG:5186"\nid = "id"\nname = "name"\n'
        '[blocks]\npath = "blocks.gpkg"\nmin_area_m2 = 0\n'
        f'[coverage]\nthresholds_minutes = [5, 10]\ngroups = {groups}\n'
        '[[coverage.boundaries]]\nlevel = "dong"\npath = "dong.gpkg"\nname = "dong"\n'
        'id = "code"\npopulation = "pop"\n'
    )


def test_profile_cache_key_holds_the_code_that_decides_the_streets(tmp_path, monkeypatch):
    """Which streets a profile leaves out is decided in _profiles.py (the tag rules) and
    profiles.py: an edit to either, under the same version, must miss the cache."""
    from pathlib import Path

    from sharemap import _cache, _profiles, profiles

    seen = []
    key = _cache.cache_key

    def spy(*parts, code=()):
        seen.append(set(code))
        return key(*parts, code=code)

    monkeypatch.setattr(_cache, "cache_key", spy)
    monkeypatch.setenv("SHAREMAP_CACHE_DIR", str(tmp_path))
    nodes, edges, tags = _stepped_grid()
    profile_network(network_from_graph(osm_graph(nodes, edges, tags=tags), crs=CRS), "wheelchair")
    assert seen and {Path(_profiles.__file__), Path(profiles.__file__)} <= seen[0]


def test_hand_checked_study_every_group_figure_on_its_profile(tmp_path):
    """coverage_groups, gaps and blocks of the stepped grid, by hand (see `_stepped_grid`).

    Everyone (4.8 km/h = 80 m/min): A, B, D 200 m = 2.5 min, C 103 m = 1.2875 min.
    65+ (walk, 3 km/h = 50 m/min): 4, 4, 2.06, 4 min: all 400 within 5 min.
    Wheelchair users (3 km/h): A and D 300 m = 6 min; B and C cut off (never reached):
    none within 5 min, A + D = 50 within 10 min; at the audit's 10 min, B and C's 50
    are outside.
    """
    (tmp_path / "study.toml").write_text(_grid_study(tmp_path, (
        '[ { column = "old", label = "65+", walk_speed_kmh = 3.0 }, '
        '{ column = "chair", label = "wheelchair users", profile = "wheelchair", '
        'walk_speed_kmh = 3.0 } ]')), encoding="utf-8")
    result = run_study(read_config(tmp_path / "study.toml"), cache=False)
    b = result.blocks.set_index("block_id")
    assert b["walk_min_bike"].tolist() == pytest.approx([2.5, 2.5, 1.2875, 2.5])
    chair = b[group_walk_col("bike", "wheelchair_users")]
    assert chair[[1, 4]].tolist() == pytest.approx([6.0, 6.0])
    assert chair[[2, 3]].isna().all()
    assert group_walk_col("bike", "65plus") not in b  # a walk group is an exact rescale
    cov = result.coverage_groups.set_index(["group", "level", "category", "threshold_min"])
    city = {(g, t): cov.loc[(g, "city", "bike", t), "population_covered"]
            for g in ("all residents", "65+", "wheelchair users") for t in (5.0, 10.0)}
    assert city == pytest.approx({("all residents", 5.0): 1000, ("all residents", 10.0): 1000,
                                  ("65+", 5.0): 400, ("65+", 10.0): 400,
                                  ("wheelchair users", 5.0): 0,
                                  ("wheelchair users", 10.0): 50})
    assert cov.loc[("wheelchair users", "city", "bike", 10.0), "profile"] == "wheelchair"
    assert cov.loc[("wheelchair users", "city", "bike", 10.0), "walk_speed_kmh"] == 3.0
    gaps = result.gaps
    area = gaps[(gaps["kind"] == "area") & (gaps["category"] == "bike")].iloc[0]
    assert area["threshold_min"] == 10.0
    assert (area["population_outside"], area["population_outside_65plus"],
            area["population_outside_wheelchair_users"]) == pytest.approx((0, 0, 50))
    prof = result.summary["profiles"]["wheelchair"]
    assert prof["edges_removed"] == {"steps": 2, "wheelchair_no": 0, "incline": 0,
                                     "disconnected": 1}
    assert prof["block_ids_cut_off"] == {"disconnected": [2], "steps": [3]}
    assert prof["origins_cut_off"] == prof["blocks_cut_off"] == 2
    assert prof["residents_cut_off"] == {"wheelchair users": pytest.approx(50)}
    assert prof["spaces_cut_off"] == []
    json.dumps(prof)  # plain JSON (no numpy numbers)
    # the outputs carry them: blocks.gpkg has the group's own minutes
    from sharemap import write_outputs

    paths = write_outputs(result, tmp_path / "out")
    for layer in ("blocks", "origins"):  # one origin per small block: the same walks
        written = gpd.read_file(paths["blocks.gpkg"], layer=layer).set_index("block_id")
        assert written["walk_min_bike_wheelchair_users"][[1, 4]].tolist() == \
            pytest.approx([6, 6])
        assert written["walk_min_bike_wheelchair_users"][[2, 3]].isna().all()
    groups = pd.read_csv(paths["coverage_groups.csv"], encoding="utf-8-sig")
    assert list(groups.columns[:3]) == ["group", "walk_speed_kmh", "profile"]


def test_hand_checked_check_explain_whatif_and_sites_on_the_profile(tmp_path):
    """The stepped grid again: the check, explain, whatif and a site's reach, per group.

    A new station N at (0, 150), on 10-20, 50 m north of 10: everyone's walk from A
    falls to 50 + 50 = 100 m; from D it stays 200 m (01-11-10-20, over no steps) while
    the wheelchair walk from D falls from 300 m to that same 200 m, so D's block moves
    only for the wheelchair group. At 3 km/h (50 m/min) wheelchair users in A and D
    (25 each) are within 5 minutes after (2 and 4 min), none before (6 and 6).
    65+ (walk, 50 m/min) reach N within 5 min (250 m) from A (100 m), C (3 + 50 + 100
    + 50 = 203 m, over the steps) and D (200 m), not B (400 m); wheelchair users from
    A and D only (C stands on the steps, B on the piece they cut off).
    """
    from sharemap.study import (
        explain_block,
        group_origin_minutes,
        origin_cover_matrix,
        whatif,
        write_whatif,
    )

    (tmp_path / "study.toml").write_text(_grid_study(tmp_path, (
        '[ { column = "old", label = "65+", walk_speed_kmh = 3.0 }, '
        '{ column = "chair", label = "wheelchair users", profile = "wheelchair", '
        'walk_speed_kmh = 3.0 } ]')), encoding="utf-8")
    result = run_study(read_config(tmp_path / "study.toml"), cache=False)
    # the check: 2 origins cut off, named with their reasons, never silently dropped
    check = next(c for c in result.checks if c.name == "profile_points_cut_off")
    assert (check.status, check.figure) == ("warning", 2)
    assert "wheelchair: 2 block origins in 2 blocks (50 of 'wheelchair users' residents)" \
        in check.message and "(disconnected, steps)" in check.message
    assert check.as_dict() in result.summary["checks"]
    tags = next(c for c in result.checks if c.name == "profile_tags_missing")
    assert (tags.status, tags.figure) == ("warning", 1)
    assert "wheelchair (wheelchair, incline)" in tags.message
    # explain: each group's walk on its own streets, and why a block reaches nothing
    text = {b: explain_block(result, b) for b in (1, 2, 3)}
    assert "For 65+ (3 km/h, every walkable way): bike 4.0 min." in text[1]
    assert ("For wheelchair users (3 km/h, the wheelchair profile: no steps, no ways tagged "
            "wheelchair=no, no incline over 8.33%): bike 6.0 min.") in text[1]
    assert "leaves out" not in text[1]
    assert "wheelchair users (3 km/h, the wheelchair profile" in text[3]
    assert "bike none reachable." in text[3]
    assert "Its origin stands on a street the wheelchair profile leaves out (steps)" in text[3]
    assert "leaves out (disconnected)" in text[2]
    # report.html: the method says how a profile group is measured (not a rescale)
    import html
    import re

    from sharemap.report import render_report

    page = html.unescape(re.sub(r"<[^>]+>", "", render_report(result)))
    assert "wheelchair users at 3 km/h on the streets of the wheelchair profile" in page
    assert ("wheelchair users (column chair, mobility profile wheelchair): spread like all "
            "residents and audited at 3 km/h on the streets the profile may use (no steps"
            in page)
    assert "65+ (column old): spread like all residents and audited at 3 km/h. Distances" \
        in page
    assert "profile_points_cut_off" in page
    # per origin, the group's own minutes (blocks 1-4: A, B, C, D)
    order = result.study_origins()["block_id"].tolist()
    assert order == [1, 2, 3, 4]
    chair = group_origin_minutes(result, "wheelchair users", "bike")
    assert chair[[0, 3]].tolist() == pytest.approx([6, 6]) and np.isnan(chair[[1, 2]]).all()
    assert group_origin_minutes(result, "65+", "bike").tolist() == pytest.approx(
        [4, 4, 2.06, 4])
    # a new site's reach, per group
    site = gpd.GeoDataFrame({"space_id": ["N"], "category": ["bike"], "name": ["new"]},
                            geometry=[shapely.Point(X0, Y0 + 150)], crs=CRS)
    reach = {g: origin_cover_matrix(result, site, minutes=5, group=g).toarray()[0].tolist()
             for g in ("65+", "wheelchair users")}
    assert reach == {"65+": [True, False, True, True],
                     "wheelchair users": [True, False, False, True]}
    with pytest.raises(InputDataError, match=r"'nobody' is not a population group.*'65\+'"):
        origin_cover_matrix(result, site, minutes=5, group="nobody")
    # whatif: the group's coverage and blocks move on its own streets
    change = whatif(result, add=site)
    groups = change.coverage_change.set_index(
        ["group", "level", "category", "threshold_min"])
    moved = groups["population_covered_change"]
    assert moved[("wheelchair users", "city", "bike", 5.0)] == pytest.approx(50)
    assert moved[("all residents", "city", "bike", 5.0)] == pytest.approx(0)
    assert moved[("65+", "city", "bike", 5.0)] == pytest.approx(0)
    assert groups.loc[("wheelchair users", "city", "bike", 5.0), "profile"] == "wheelchair"
    blocks = change.block_change.set_index("block_id")
    assert 4 in blocks.index  # only the wheelchair walk moved there
    assert blocks.loc[4, "walk_min_bike_before"] == pytest.approx(
        blocks.loc[4, "walk_min_bike_after"], abs=1e-9)
    assert (blocks.loc[4, "walk_min_bike_wheelchair_users_before"],
            blocks.loc[4, "walk_min_bike_wheelchair_users_after"]) == pytest.approx((6, 4))
    from sharemap.study import _whatif_blocks_for_map  # what the map's popups show

    shown = _whatif_blocks_for_map(change).columns
    assert {"walk_min_bike_wheelchair_users_before", "walk_min_bike_wheelchair_users_after",
            "walk_min_bike_before"} <= set(shown)
    paths = write_whatif(change, tmp_path / "whatif")
    written = pd.read_csv(paths["whatif_coverage.csv"], encoding="utf-8-sig")
    assert set(written["group"]) == {"all residents", "65+", "wheelchair users"}


def test_hand_checked_suggest_weights_a_group_on_its_own_streets(tmp_path):
    """suggest --weights "wheelchair users=1" on the stepped grid, at 5 minutes.

    The 900 other residents walk at 4.8 km/h and all reach S within 5 min already.
    Wheelchair users (100, 25 per block, 3 km/h = 50 m/min) reach S only from A and D,
    in 6 min, so none within 5 (on everyone's streets, rescaled, all 100 would be: A, B,
    D 200 m = 4 min). Site N (0, 150) brings A (100 m) and D (200 m) within 5 min: 50;
    site P, on the steps 12-13, is cut off for them: 0.
    """
    from sharemap.suggest import suggest_sites

    (tmp_path / "study.toml").write_text(_grid_study(tmp_path, (
        '[ { column = "chair", label = "wheelchair users", profile = "wheelchair", '
        'walk_speed_kmh = 3.0 } ]')), encoding="utf-8")
    result = run_study(read_config(tmp_path / "study.toml"), cache=False)
    sites = gpd.GeoDataFrame({"site_id": ["P", "N"], "name": ["on the steps", "west"]},
                             geometry=[shapely.Point(X0 + 250, Y0 + 103),
                                       shapely.Point(X0, Y0 + 150)], crs=CRS)
    s = suggest_sites(result, category="bike", add=1, minutes=5, candidates=sites,
                      weights="wheelchair users=1")
    assert s.info["objective_before"] == pytest.approx(900)
    assert s.suggestions["site_id"].tolist() == ["N"]
    assert s.info["gain_wheelchair_users"] == pytest.approx(50)
    assert s.info["objective_after"] == pytest.approx(950)


def test_hand_checked_sweep_per_group(tmp_path, capsys):
    """sweep --group: "adjacent" as the group walks, its residents counted (stepped grid).

    One station S, min_spaces 1. Everyone (80 m/min): A, B, D 200 m, C 103 m: all four
    blocks within 5 min, 1,000 residents. 65+ (walk, 50 m/min; 5 min = 250 m): the same
    four, 400 residents. Wheelchair users (50 m/min): A and D 300 m, so none at 5 min
    and both at 10 (500 m): 50 residents; B and C are cut off, never adjacent.
    """
    from sharemap.cli import main
    from sharemap.study import sweep

    (tmp_path / "study.toml").write_text(_grid_study(tmp_path, (
        '[ { column = "old", label = "65+", walk_speed_kmh = 3.0 }, '
        '{ column = "chair", label = "wheelchair users", profile = "wheelchair", '
        'walk_speed_kmh = 3.0 } ]')), encoding="utf-8")
    result = run_study(read_config(tmp_path / "study.toml"), cache=False)

    def counts(group=None):
        t = sweep(result, adjacent_minutes=(5, 10), min_spaces=(1,), group=group)
        assert (t["villages"] == t["candidate_blocks"]).all()  # the blocks do not touch
        return t[["candidate_blocks", "residents_in_candidates"]].values.tolist()

    assert counts() == [[4, 1000], [4, 1000]]
    assert counts("65+") == [[4, 400], [4, 400]]
    assert counts("wheelchair users") == [[0, 0], [2, 50]]
    table = sweep(result, adjacent_minutes=(10,), min_spaces=(1,), group="wheelchair users")
    assert table[["group", "walk_speed_kmh", "profile"]].values.tolist() == [
        ["wheelchair users", 3.0, "wheelchair"]]
    # the command: the group's table; a label that is not a group is one line, exit 2
    assert main(["sweep", str(tmp_path / "study.toml"), "--adjacent-minutes", "10",
                 "--min-spaces", "1", "--group", "wheelchair users", "--no-cache"]) == 0
    assert "wheelchair users" in capsys.readouterr().out
    assert main(["sweep", str(tmp_path / "study.toml"), "--group", "wheelchairs"]) == 2
    err = capsys.readouterr().err.strip()
    assert "'wheelchairs' is not a population group" in err and "\n" not in err


def test_group_profile_in_the_study_file(tmp_path):
    """``profile`` defaults to walk; its speed is the profile's unless given; typos are named."""
    (tmp_path / "study.toml").write_text(_grid_study(tmp_path, (
        '[ { column = "old", label = "65+" }, { column = "chair", label = "chairs", '
        'profile = "wheelchair" }, { column = "pop", label = "prams", profile = "stroller", '
        'walk_speed_kmh = 4.2 } ]')), encoding="utf-8")
    groups = read_config(tmp_path / "study.toml").coverage.groups
    assert [(g.profile, g.walk_speed_kmh) for g in groups] == [
        ("walk", 3.6), ("wheelchair", PROFILES["wheelchair"].walk_speed_kmh), ("stroller", 4.2)]
    assert GroupConfig(column="c", label="x", profile="wheelchair").walk_speed_kmh == 3.3
    (tmp_path / "bad.toml").write_text(_grid_study(tmp_path, (
        '[ { column = "chair", label = "chairs", profile = "wheel chair" } ]')),
        encoding="utf-8")
    with pytest.raises(ConfigError) as err:
        read_config(tmp_path / "bad.toml")
    text = str(err.value)
    assert "coverage.groups #1.profile" in text and "'wheel chair'" in text
    assert "'walk', 'wheelchair', 'stroller'" in text and "\n" not in text


# ------------------------------------------------------- the real Dongdaemun-gu network

DDM_GROUPS = (
    '[ { column = "pop_65plus", label = "65+" }, '
    '{ column = "pop_total", label = "everyone at 3.3", walk_speed_kmh = 3.3 }, '
    '{ column = "pop_total", label = "wheelchair", profile = "wheelchair" } ]')


@pytest.fixture(scope="module")
def ddm(seoul_data, tmp_path_factory):
    """The real study with three groups: 65+, all residents at 3.3 km/h walking, and
    all residents at 3.3 km/h in a wheelchair (the same people and pace: only the streets
    differ between the last two)."""
    cfg = tmp_path_factory.mktemp("ddm-profiles") / "study.toml"
    cfg.write_text(dongdaemun_toml(seoul_data, extra_coverage=f"groups = {DDM_GROUPS}\n"),
                   encoding="utf-8")
    return run_study(read_config(cfg))


def _is_steps(highway) -> np.ndarray:
    return np.array(["steps" in str(h).split(";") for h in highway], dtype=bool)


class _Walks:
    """Walking distances on a network's edges with networkx, points joined as the SPEC says.

    A point stands on its street at ``position_m`` from ``u``, ``offset_m`` away; it walks
    to either end along the street, or straight along it to a point on the same street.
    With `without_steps`, step edges are gone and only the largest piece is kept; a point
    along a removed street, or on another piece, is cut off (an end position stands on
    the node).
    """

    def __init__(self, net, *, without_steps):
        self.net = net
        keep = ~_is_steps(net.edges["highway"]) if without_steps else np.ones(
            len(net.edges), dtype=bool)
        g = nx.Graph()
        for u, v, w in zip(net.edge_u[keep], net.edge_v[keep], net.edge_length[keep],
                           strict=True):
            if u != v and (not g.has_edge(u, v) or g[u][v]["w"] > w):
                g.add_edge(int(u), int(v), w=float(w))
        self.main = max(nx.connected_components(g), key=len)
        self.graph = g.subgraph(self.main).copy()
        self.keep = keep

    def ends(self, snap):
        """{node: metres} of a snapped point (empty: cut off or off the network)."""
        if not snap.on_network:
            return {}
        e, pos, off = int(snap.edge), snap.position_m, snap.offset_m
        u, v, length = int(self.net.edge_u[e]), int(self.net.edge_v[e]), self.net.edge_length[e]
        if self.keep[e]:
            out = {u: pos + off, v: min(length - pos + off, np.inf if u != v else pos + off)}
        elif pos <= 0:
            out = {u: off}
        elif pos >= length:
            out = {v: off}
        else:
            return {}
        return {n: w for n, w in out.items() if n in self.main}

    def nearest(self, origins, targets):
        """Metres from each origin snap to the nearest target snap (NaN: none)."""
        g = self.graph.copy()
        for t in targets.itertuples():
            for n, w in self.ends(t).items():
                if not g.has_edge("S", n) or g["S"][n]["w"] > w:
                    g.add_edge("S", n, w=w)
        dist = nx.single_source_dijkstra_path_length(g, "S", weight="w") if "S" in g else {}
        out = []
        for o in origins.itertuples():
            ends = self.ends(o)
            best = min((dist.get(n, np.inf) + w for n, w in ends.items()), default=np.inf)
            for t in targets.itertuples():  # the same usable street: straight along it
                if ends and self.ends(t) and t.edge == o.edge:
                    best = min(best, abs(t.position_m - o.position_m) + o.offset_m + t.offset_m)
            out.append(best if np.isfinite(best) else np.nan)
        return np.array(out)


@pytest.mark.seoul
def test_dongdaemun_wheelchair_network_has_no_steps(ddm, seoul_data):
    """The 228 directed step edges of the real file (114 streets) are what the profile removes."""
    raw = pd.read_csv(seoul_data / "network/dongdaemun_walk_edges.csv", usecols=["highway"])
    directed = raw["highway"].astype(str).str.contains("steps").sum()
    assert directed == 228
    pnet = ddm.profiles["wheelchair"]
    assert pnet.info["edges_removed"]["steps"] == directed // 2 == \
        int(_is_steps(ddm.network.edges["highway"]).sum())
    assert not _is_steps(pnet.network.edges["highway"]).any()
    report = ddm.summary["profiles"]["wheelchair"]
    assert report["edges_removed"]["steps"] == 114 and report["groups"] == ["wheelchair"]
    # every origin cut off is listed (by its block) with its reason, and reaches nothing
    why = cut_off_points(ddm.prepared_points().origin_snaps, pnet).to_numpy()
    o = ddm.origins
    assert report["origins_cut_off"] == int((why != "").sum()) > 0
    for reason, ids in report["block_ids_cut_off"].items():
        assert sorted(set(o["block_id"][why == reason])) == ids
    cols = [group_walk_col(c, "wheelchair") for c in ddm.config.categories]
    assert o.loc[why != "", cols].isna().all(axis=None)
    assert o.loc[why == "", cols].notna().any(axis=1).all()
    assert report["residents_cut_off"]["wheelchair"] == pytest.approx(
        o.loc[why != "", "population_wheelchair"].sum(), abs=1e-3)
    # the real file has no wheelchair or incline tag at all: only steps can be left out,
    # and the study says so
    assert report["tags_missing"] == ["wheelchair", "incline"]
    tags = next(c for c in ddm.checks if c.name == "profile_tags_missing")
    assert tags.status == "warning" and "wheelchair (wheelchair, incline)" in tags.message
    # ... and the study's checks warn of them (origins and spaces together)
    check = next(c for c in ddm.checks if c.name == "profile_points_cut_off")
    assert check.status == "warning"
    assert check.figure == report["origins_cut_off"] + len(report["spaces_cut_off"])
    assert all(f"{s['category']} {s['space_id']}" in check.message
               for s in report["spaces_cut_off"])


@pytest.mark.seoul
def test_dongdaemun_wheelchair_walks_agree_with_networkx(ddm):
    """Every block origin's wheelchair walk to the nearest space of each category, recomputed
    with networkx on the network without its steps (largest piece), from the study's snaps;
    a block's walk is then the share-weighted median of its origins', as for everyone."""
    from sharemap.origins import block_median

    pts = ddm.prepared_points()
    walk, chair = (_Walks(ddm.network, without_steps=s) for s in (False, True))
    speed = 3.3 * 1000 / 60
    cats = ddm.spaces["category"].to_numpy()
    o = ddm.origins
    assert len(o) > len(ddm.blocks)  # large blocks are judged from several origins
    for cat in ddm.config.categories:
        targets = pts.target_snaps[cats == cat]
        ours = o[group_walk_col(cat, "wheelchair")].to_numpy() * speed
        theirs = chair.nearest(pts.origin_snaps, targets)
        np.testing.assert_allclose(ours, theirs, rtol=0, atol=1e-6, err_msg=cat)
        everyone = o[f"walk_min_{cat}"].to_numpy() * ddm.config.walk_speed_m_per_min
        np.testing.assert_allclose(everyone, walk.nearest(pts.origin_snaps, targets),
                                   rtol=0, atol=1e-6, err_msg=cat)
        # no street is added, so no walk gets shorter
        finite = np.isfinite(ours)
        assert (ours[finite] >= everyone[finite] - 1e-6).all()
        median = block_median(ours / speed, o["block"].to_numpy(), o["share"].to_numpy(),
                              len(ddm.blocks))[0]
        np.testing.assert_array_equal(
            median, ddm.blocks[group_walk_col(cat, "wheelchair")].to_numpy())


@pytest.mark.seoul
def test_dongdaemun_a_block_where_the_steps_matter(ddm):
    """The block origin whose walk to a bike station the steps shorten most, and why.

    networkx on the full network gives the walker's path: it climbs a flight of steps;
    without them the path is longer, so the wheelchair minutes are more than the
    minutes walking at the same 3.3 km/h.
    """
    o = ddm.origins.reset_index(drop=True)
    chair = o[group_walk_col("bike", "wheelchair")].to_numpy()
    same_pace = o["walk_min_bike"].to_numpy() * ddm.config.walk_speed_kmh / 3.3
    gain = np.where(np.isfinite(chair) & np.isfinite(same_pace), chair - same_pace, -np.inf)
    i = int(np.argmax(gain))
    assert gain[i] > 1.0  # minutes: the steps save a walker more than a minute here
    _assert_walker_climbs_steps(ddm, i)
    assert chair[i] > same_pace[i]


def _assert_walker_climbs_steps(ddm, i):
    """networkx: origin `i`'s shortest walk to a bike station (the study's) uses steps."""
    pts = ddm.prepared_points()
    net = ddm.network
    bikes = pts.target_snaps[ddm.spaces["category"].to_numpy() == "bike"]
    o = ddm.origins.reset_index(drop=True)
    walk = _Walks(net, without_steps=False)
    g = walk.graph.copy()
    for t in bikes.itertuples():
        for n, w in walk.ends(t).items():
            if not g.has_edge("S", n) or g["S"][n]["w"] > w:
                g.add_edge("S", n, w=w)
    dist, paths = nx.single_source_dijkstra(g, "S", weight="w")
    snap = pts.origin_snaps.iloc[i]
    end = min(walk.ends(snap).items(), key=lambda kv: dist[kv[0]] + kv[1])[0]
    path = paths[end][1:]
    is_steps = _is_steps(net.edges["highway"])
    stepped = {tuple(sorted((int(u), int(v)))) for u, v in zip(
        net.edge_u[is_steps], net.edge_v[is_steps], strict=True)}
    on_steps = [p for p in itertools.pairwise(path) if tuple(sorted(p)) in stepped]
    assert on_steps, "the walker's shortest path to a bike station uses no steps"
    assert dist[end] + walk.ends(snap)[end] == pytest.approx(
        o["walk_min_bike"].iloc[i] * ddm.config.walk_speed_m_per_min, abs=1e-6)


@pytest.mark.seoul
def test_dongdaemun_block_757_as_the_readme_tells_it(ddm):
    """README's example: block 757 in 전농2동 (one origin) reaches a bike station in 149 m
    over a flight of steps (2.7 min at 3.3 km/h); the wheelchair route is 291 m (5.3 min),
    and ``explain`` says both."""
    from sharemap.study import explain_block

    o = ddm.origins.reset_index(drop=True)
    i = int(np.flatnonzero(o["block_id"].to_numpy() == 757)[0])
    assert (o["block_id"] == 757).sum() == 1
    assert ddm.blocks.loc[ddm.blocks["block_id"] == 757, "dong"].item() == "전농2동"
    walk_m = o.loc[i, "walk_min_bike"] * ddm.config.walk_speed_m_per_min
    chair_m = o.loc[i, group_walk_col("bike", "wheelchair")] * 3.3 * 1000 / 60
    assert (round(walk_m), round(chair_m)) == (149, 291)
    _assert_walker_climbs_steps(ddm, i)
    text = explain_block(ddm, 757)
    assert "For everyone at 3.3 (3.3 km/h, every walkable way): bike 2.7 min" in text
    assert "For wheelchair (3.3 km/h, the wheelchair profile: no steps" in text
    assert "): bike 5.3 min" in text


@pytest.mark.seoul
def test_dongdaemun_wheelchair_coverage_below_walking_at_the_same_pace(ddm):
    """Same residents, same 3.3 km/h: the wheelchair figure never exceeds the walking one,
    and is lower for the district where steps matter."""
    g = ddm.coverage_groups
    key = ["level", "area_id", "category", "threshold_min"]
    walk = g[g["group"] == "everyone at 3.3"].set_index(key)["population_covered"]
    chair = g[g["group"] == "wheelchair"].set_index(key)["population_covered"]
    assert (chair <= walk + 1e-6).all()
    city = ("city", "Dongdaemun-gu")
    for cat in ("bike", "all"):
        assert chair.loc[(*city, cat, 15.0)] < walk.loc[(*city, cat, 15.0)], cat
    gaps = ddm.gaps[ddm.gaps["kind"] == "area"]
    assert (gaps["population_outside_wheelchair"]
            >= gaps["population_outside_everyone_at_3_3"] - 1e-6).all()
    assert (gaps["population_outside_wheelchair"]
            > gaps["population_outside_everyone_at_3_3"] + 1e-6).any()
    # sharing villages as each walks (sweep --group): no street is added, so no pair gets
    # nearer and the wheelchair candidates are fewer (README: 437 against 456 at 7 min)
    from sharemap.study import sweep

    kw = {"adjacent_minutes": (5, 7), "min_spaces": (3,)}
    walk_t = sweep(ddm, group="everyone at 3.3", **kw)
    chair_t = sweep(ddm, group="wheelchair", **kw)
    assert (chair_t["candidate_blocks"] <= walk_t["candidate_blocks"]).all()
    assert chair_t["candidate_blocks"].tolist()[1] < walk_t["candidate_blocks"].tolist()[1]
    assert (chair_t["candidate_blocks"].tolist(), walk_t["candidate_blocks"].tolist()) == (
        [84, 437], [86, 456])
