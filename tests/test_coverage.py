"""Population spreading, the coverage table, groups, gaps and the audit.

Hand-built cases with answers worked out in the docstrings, a networkx-checked
nearest-space search, and the real Dongdaemun-gu study (skipped without the data).
"""

from __future__ import annotations

import re

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from conftest import X0, Y0, dongdaemun_toml, grid_edges, osm_graph, points
from shapely.geometry import LineString, box

from sharemap import ConfigError, InputDataError, access, read_config, run_study, write_outputs
from sharemap.blocks import block_origins
from sharemap.config import GroupConfig, PopulationTableConfig, parse_config
from sharemap.coverage import (
    COVERAGE_COLUMNS,
    GAP_COLUMNS,
    allocate_population,
    assign_units,
    block_weights,
    compute_coverage,
    compute_gaps,
    compute_group_coverage,
    compute_proximity,
    nearest_spaces,
    read_boundaries,
)
from sharemap.network import network_from_graph

CRS = "EPSG:5186"


def _blocks():
    r"""Four blocks: two in dong W (x < 200), two in dong E.

    B1 (0,0)-(100,100) 10,000 m²; B2 (100,0)-(200,100) 30,000 m² is (100,0)-(200,300);
    B3 (200,0)-(300,100) 10,000 m²; B4 (300,0)-(400,100) 10,000 m².
    Walk minutes to bike: 3, 12, NaN, 7; to tools: 14, 4, 9, 20.
    """
    geoms = [box(0, 0, 100, 100), box(100, 0, 200, 300), box(200, 0, 300, 100),
             box(300, 0, 400, 100)]
    return gpd.GeoDataFrame({
        "block_id": [1, 2, 3, 4],
        "area_m2": [10_000.0, 30_000.0, 10_000.0, 10_000.0],
        "walk_min_bike": [3.0, 12.0, np.nan, 7.0],
        "walk_min_tools": [14.0, 4.0, 9.0, 20.0],
    }, geometry=geoms, crs=CRS)


def _units(tmp_path, names=("서", "동"), pops=(8000, 2000)):
    """Dong W (11) is (0,0)-(200,300), dong E (12) is (200,0)-(400,300); 65+: 800 and 400."""
    gdf = gpd.GeoDataFrame({"dong_nm": list(names), "code": ["11", "12"],
                            "pop": list(pops), "old": [800, 400]},
                           geometry=[box(0, 0, 200, 300), box(200, 0, 400, 300)], crs=CRS)
    path = tmp_path / "dong.geojson"
    gdf.to_crs("EPSG:4326").to_file(path)
    return path


def test_population_spread_by_area_and_conserved(tmp_path):
    """Dong W (8,000) -> B1 1/4 = 2,000, B2 3/4 = 6,000; dong E (2,000) -> 1,000 each."""
    units = read_boundaries(_units(tmp_path), crs=CRS, name="dong_nm", id="code",
                            population="pop")
    blocks = _blocks()
    assigned = assign_units(block_origins(blocks), units)
    assert assigned["id"].tolist() == ["11", "11", "12", "12"]
    pop, lost = allocate_population(blocks, assigned["id"], units)
    assert pop.tolist() == pytest.approx([2000.0, 6000.0, 1000.0, 1000.0])
    assert lost == 0.0
    area = box(0, 0, 300, 300)  # dong E half outside the study area -> keeps half
    pop, _ = allocate_population(blocks, assigned["id"], units, area=area)
    assert pop.tolist() == pytest.approx([2000.0, 6000.0, 500.0, 500.0])


def test_coverage_table_by_hand(tmp_path):
    """At 10 min: bike covers B1, B4 (pop 3,000 of 10,000); tools B2, B3 (7,000);
    all: none. At 15 min: bike B1, B2, B4 (9,000); tools B1, B2, B3 (9,000); all B1, B2."""
    units = read_boundaries(_units(tmp_path), crs=CRS, name="dong_nm", id="code",
                            population="pop")
    blocks = _blocks()
    assigned = assign_units(block_origins(blocks), units)
    blocks["dong"], blocks["dong_id"] = assigned["name"].to_numpy(), assigned["id"].to_numpy()
    blocks["population"] = allocate_population(blocks, assigned["id"], units)[0].to_numpy()
    cov = compute_coverage(blocks, categories=["bike", "tools"], thresholds=[10, 15],
                           levels=[("dong", "dong_id")], city_name="Test")
    key = cov.set_index(["level", "area_id", "category", "threshold_min"])
    assert key.loc[("city", "Test", "bike", 10), "population_covered"] == pytest.approx(3000)
    assert key.loc[("city", "Test", "tools", 10), "population_covered"] == pytest.approx(7000)
    assert key.loc[("city", "Test", "all", 10), "blocks_covered"] == 0
    assert key.loc[("city", "Test", "all", 15), "population_covered"] == pytest.approx(8000)
    assert key.loc[("city", "Test", "all", 15), "share_blocks"] == pytest.approx(0.5)
    assert key.loc[("dong", "12", "bike", 15), "blocks_covered"] == 1
    assert key.loc[("dong", "12", "bike", 15), "share_population"] == pytest.approx(0.5)
    assert key.loc[("dong", "11", "all", 15), "share_population"] == pytest.approx(1.0)
    assert (cov.loc[cov["level"] == "dong", "area"].unique() == ["동", "서"]).all()
    # every dong row agrees with a direct count over blocks.gpkg-like data
    for (lvl, aid, cat, t), row in key.iterrows():
        sub = blocks if lvl == "city" else blocks[blocks["dong_id"] == aid]
        cols = ["walk_min_bike", "walk_min_tools"] if cat == "all" else [f"walk_min_{cat}"]
        covered = sub[cols].le(t).all(axis=1)
        assert row["blocks_covered"] == covered.sum()
        assert row["population_covered"] == pytest.approx(sub.loc[covered, "population"].sum())


def test_repeated_names_told_apart_by_id(tmp_path):
    path = _units(tmp_path, names=("신사동", "신사동"))
    units = read_boundaries(path, crs=CRS, name="dong_nm", id="code", population="pop")
    assert units["id"].tolist() == ["11", "12"]
    with pytest.raises(InputDataError, match="repeats"):
        read_boundaries(path, crs=CRS, name="dong_nm")


def test_missing_column_named(tmp_path):
    with pytest.raises(InputDataError, match="pop_total"):
        read_boundaries(_units(tmp_path), crs=CRS, name="dong_nm", population="pop_total")


def test_no_population_gives_nan_shares():
    blocks = _blocks()
    cov = compute_coverage(blocks, categories=["bike"], thresholds=[5])
    row = cov.iloc[0]
    assert row["blocks_covered"] == 1 and row["blocks"] == 4
    assert pd.isna(row["share_population"])


# ----------------------------------------------------------------------------- groups


def _study_blocks(tmp_path):
    """The four blocks with dong columns, residents and 65+ residents.

    Residents: B1 2,000, B2 6,000, B3 1,000, B4 1,000. 65+ (W 800, E 400, by area):
    B1 200, B2 600, B3 200, B4 200.
    """
    units = read_boundaries(_units(tmp_path), crs=CRS, name="dong_nm", id="code",
                            population="pop", columns=["old"])
    blocks = _blocks()
    assigned = assign_units(block_origins(blocks), units)
    blocks["dong"], blocks["dong_id"] = assigned["name"].to_numpy(), assigned["id"].to_numpy()
    blocks["population"] = allocate_population(blocks, assigned["id"], units)[0].to_numpy()
    blocks["population_65plus"] = allocate_population(blocks, assigned["id"], units,
                                                      column="old")[0].to_numpy()
    return blocks


def test_group_spread_like_total_and_audited_at_its_speed(tmp_path):
    """At 3.6 km/h walk minutes grow by 4.8/3.6: bike 3, 12, NaN, 7 -> 4, 16, NaN, 9.33.

    15 min, bike: all residents B1, B2, B4 = 9,000 of 10,000; 65+ B1, B4 = 400 of 1,200.
    tools (14, 4, 9, 20 -> 18.67, 5.33, 12, 26.67): 65+ B2, B3 = 800 of 1,200.
    """
    blocks = _study_blocks(tmp_path)
    assert blocks["population_65plus"].tolist() == pytest.approx([200, 600, 200, 200])
    group = GroupConfig(column="old", label="65+", walk_speed_kmh=3.6)
    cov = compute_group_coverage(blocks, [group], categories=["bike", "tools"],
                                 thresholds=[10, 15], levels=[("dong", "dong_id")],
                                 city_name="Test", walk_speed_kmh=4.8)
    assert list(cov.columns[:3]) == ["group", "walk_speed_kmh", "profile"]
    assert list(cov.columns[3:]) == list(COVERAGE_COLUMNS)
    assert set(cov["profile"]) == {"walk"}
    plain = compute_coverage(blocks, categories=["bike", "tools"], thresholds=[10, 15],
                             levels=[("dong", "dong_id")], city_name="Test")
    everyone = cov[cov["group"] == "all residents"].drop(
        columns=["group", "walk_speed_kmh", "profile"])
    pd.testing.assert_frame_equal(everyone.reset_index(drop=True), plain)
    key = cov.set_index(["group", "level", "area_id", "category", "threshold_min"])
    assert key.loc[("all residents", "city", "Test", "bike", 15), "population_covered"] == \
        pytest.approx(9000)
    row = key.loc[("65+", "city", "Test", "bike", 15)]
    assert row["population"] == pytest.approx(1200)
    assert row["population_covered"] == pytest.approx(400)
    assert row["blocks_covered"] == 2 and row["walk_speed_kmh"] == 3.6
    assert key.loc[("65+", "city", "Test", "tools", 15), "population_covered"] == \
        pytest.approx(800)
    assert key.loc[("65+", "dong", "11", "bike", 10), "share_population"] == pytest.approx(0.25)
    # exactly the documented formula, block by block
    for (lvl, aid, cat, t), r in key.loc["65+"].iterrows():
        sub = blocks if lvl == "city" else blocks[blocks["dong_id"] == aid]
        cols = ["walk_min_bike", "walk_min_tools"] if cat == "all" else [f"walk_min_{cat}"]
        covered = (sub[cols] * 4.8 / 3.6).le(t).all(axis=1)
        assert r["population_covered"] == pytest.approx(sub.loc[covered,
                                                                "population_65plus"].sum())


def test_proximity_is_the_farthest_nearest():
    blocks = _blocks()
    prox = compute_proximity(blocks, ["bike", "tools"])
    assert prox.name == "proximity_min"
    np.testing.assert_array_equal(prox.to_numpy(), [14.0, 12.0, np.nan, 20.0])
    cov = compute_coverage(blocks, categories=["bike", "tools"], thresholds=[14, 15])
    all_rows = cov[cov["category"] == "all"].set_index("threshold_min")
    assert all_rows.loc[14, "blocks_covered"] == (prox <= 14).sum() == 2


# ----------------------------------------------------------------------------- table join


def _table_csv(path, rows, encoding="utf-8"):
    text = "동이름,코드,인구,고령\n" + "".join(f"{r}\n" for r in rows)
    path.write_bytes(text.encode(encoding))
    return path


def test_population_from_a_table_by_name_and_by_code(tmp_path):
    """A CP949 table with thousands separators; a row for a unit outside the filter."""
    csv = _table_csv(tmp_path / "pop.csv", ['서,11,"8,000",800', '동,12,"2,000",400',
                                             '북,13,"5,000",900'], encoding="cp949")
    by_name = PopulationTableConfig(path=csv, key="동이름", boundary_key="dong_nm")
    units = read_boundaries(_units(tmp_path, pops=(1, 1)), crs=CRS, name="dong_nm", id="code",
                            population="인구", columns=["고령"], table=by_name)
    assert units["population"].tolist() == [8000.0, 2000.0]
    assert units["고령"].tolist() == [800.0, 400.0]
    by_code = PopulationTableConfig(path=csv, key="코드", boundary_key="code")
    units = read_boundaries(_units(tmp_path, pops=(1, 1)), crs=CRS, name="dong_nm", id="code",
                            population="인구", table=by_code, filter={"code": "12"})
    assert units["population"].tolist() == [2000.0]


def test_table_mismatch_lists_both_sides(tmp_path):
    csv = _table_csv(tmp_path / "pop.csv", ["서,11,8000,800", "동 ,12,2000,400",
                                             "동녘,14,100,1"])
    table = PopulationTableConfig(path=csv, key="동이름", boundary_key="dong_nm")
    path = _units(tmp_path, names=("서", "동쪽"))
    with pytest.raises(InputDataError) as err:
        read_boundaries(path, crs=CRS, name="dong_nm", id="code", population="인구",
                        table=table)
    msg = str(err.value)
    assert "1 of 2 units" in msg and "'동쪽'" in msg      # the unit without a row
    assert "'동' (row 2)" in msg and "'동녘' (row 3)" in msg  # the rows without a unit
    assert "pop.csv" in msg and "dong.geojson" in msg
    # trailing spaces do not count: '동 ' matches '동'
    units = read_boundaries(_units(tmp_path), crs=CRS, name="dong_nm", id="code",
                            population="인구", table=table)
    assert units["population"].tolist() == [8000.0, 2000.0]


def test_table_errors_name_the_problem(tmp_path):
    csv = _table_csv(tmp_path / "pop.csv", ["서,11,8000,800", "서,11,7000,1", "동,12,x,4"])
    table = PopulationTableConfig(path=csv, key="코드", boundary_key="code")
    with pytest.raises(InputDataError, match=r"'11' .* data records 1, 2"):
        read_boundaries(_units(tmp_path), crs=CRS, name="dong_nm", id="code",
                        population="인구", table=table)
    csv = _table_csv(tmp_path / "pop2.csv", ["서,11,8000,800", "동,12,x,4"])
    table = PopulationTableConfig(path=csv, key="코드", boundary_key="code")
    with pytest.raises(InputDataError, match=r"data record 2: column `인구` value 'x'"):
        read_boundaries(_units(tmp_path), crs=CRS, name="dong_nm", id="code",
                        population="인구", table=table)
    # joining on a name two units share is refused (Seoul has two 신사동)
    table = PopulationTableConfig(path=csv, key="동이름", boundary_key="dong_nm")
    with pytest.raises(InputDataError, match="names more than one unit"):
        read_boundaries(_units(tmp_path, names=("신사동", "신사동")), crs=CRS, name="dong_nm",
                        id="code", population="인구", table=table)


# ----------------------------------------------------------------------------- weights


def test_weights_layer_spreads_by_building_area(tmp_path):
    """Buildings: 250 m² inside B1, and 100 m² straddling B1/B2 (50 + 50).

    Dong W (8,000) -> B1 300/350, B2 50/350. Dong E has no building: by area (1,000 each).
    With `floors` (1 and 3): B1 250 + 50 * 3 = 400, B2 50 * 3 = 150.
    """
    blds = gpd.GeoDataFrame({"floors": [1, 3]}, geometry=[
        box(10, 10, 35, 20),        # 250 m² in B1
        box(95, 10, 105, 20),       # 100 m²: 50 in B1, 50 in B2
    ], crs=CRS)
    path = tmp_path / "buildings.gpkg"
    blds.to_file(path, layer="b")
    blocks = _blocks()
    w = block_weights(blocks, path, crs=CRS)
    assert w.tolist() == pytest.approx([300.0, 50.0, 0.0, 0.0])
    units = read_boundaries(_units(tmp_path), crs=CRS, name="dong_nm", id="code",
                            population="pop")
    uid = assign_units(block_origins(blocks), units)["id"]
    pop, _ = allocate_population(blocks, uid, units, weights=w)
    assert pop.tolist() == pytest.approx([8000 * 300 / 350, 8000 * 50 / 350, 1000, 1000])
    assert pop.sum() == pytest.approx(10_000)
    wf = block_weights(blocks, path, crs=CRS, layer="b", column="floors")
    assert wf.tolist() == pytest.approx([250 + 150, 150, 0, 0])


def test_weights_layer_must_be_polygons(tmp_path):
    path = tmp_path / "lines.geojson"
    gpd.GeoDataFrame(geometry=[LineString([(0, 0), (50, 50)])], crs=CRS).to_file(path)
    with pytest.raises(InputDataError, match="feature 1 is a LineString"):
        block_weights(_blocks(), path, crs=CRS)


# ----------------------------------------------------------------------------- nearest space


def test_nearest_space_matches_per_space_walks():
    """Random streets: the space found is one at the least walk (each walk from access)."""
    rng = np.random.default_rng(7)
    nodes = {10 * r + c: (X0 + c * 90 + rng.uniform(-20, 20), Y0 + r * 90 + rng.uniform(-20, 20))
             for r in range(8) for c in range(8)}
    edges = [(a, b) for a, b in grid_edges(8, 8) if rng.random() > 0.15]
    net = network_from_graph(osm_graph(nodes, edges), crs=CRS)
    xy = rng.uniform([X0, Y0], [X0 + 630, Y0 + 630], size=(45, 2))
    origins = points([tuple(p) for p in xy[:25]]).geometry
    cats = np.array(["a", "b"])[rng.integers(0, 2, 20)]
    spaces = points([tuple(p) for p in xy[25:]], category=cats)
    near = nearest_spaces(net, origins, spaces)
    each = np.column_stack([access.walk_times(net, origins, spaces.iloc[[j]])
                            .iloc[:, 0].to_numpy() for j in range(len(spaces))]) * 80
    for c in "ab":
        cols = np.flatnonzero(cats == c)
        best = np.nanmin(each[:, cols], axis=1)
        got = near[f"space_{c}"].to_numpy()
        assert np.isin(got, cols).all()
        np.testing.assert_allclose(each[np.arange(len(origins)), got], best, rtol=1e-9)
        np.testing.assert_allclose(near[f"distance_m_{c}"], best, rtol=1e-9)


def test_nearest_space_unreachable_and_shared_node(grid3):
    """Two spaces at node 11 (offsets 0 and 30 m): the nearer is named; none of 'z'."""
    spaces = points([(X0 + 100, Y0 + 130), (X0 + 100, Y0 + 100)], category=["a", "a"])
    origins = points([(X0, Y0), (X0 + 5000, Y0)]).geometry
    near = nearest_spaces(grid3, origins, spaces, categories=["a", "z"])
    assert near["space_a"].tolist() == [1, -1]
    assert near["distance_m_a"].iloc[0] == pytest.approx(200.0)
    assert near["space_z"].tolist() == [-1, -1]
    assert near["distance_m_z"].isna().all()


# ----------------------------------------------------------------------------- gaps


def _config(tmp_path, extra=""):
    text = f"""
[study]
name = "Test"
[network]
graphml = "g.graphml"
[[layers]]
category = "bike"
path = "b.csv"
[[layers]]
category = "tools"
path = "t.csv"
[coverage]
thresholds_minutes = [10, 15]
{extra}
[[coverage.boundaries]]
level = "dong"
path = "{_units(tmp_path)}"
name = "dong_nm"
id = "code"
population = "pop"

"""
    import tomllib

    return parse_config(tomllib.loads(text), base=tmp_path, source=tmp_path / "s.toml")


def test_gaps_rank_dongs_and_blocks(tmp_path):
    """15 min, bike (3, 12, NaN, 7): only B3 is outside (unreachable, 1,000 residents).

    tools (14, 4, 9, 20): outside B4 only (1,000). With 65+ at 3.6 km/h, bike outside
    B2 (16 min, 600) and B3 (200); tools B1 (18.7, 200) and B4 (200).
    """
    cfg = _config(tmp_path, 'groups = [{ column = "old", label = "65+" }]\ngap_blocks = 5')
    assert cfg.coverage.audit_min == 15.0
    blocks = _study_blocks(tmp_path)
    spaces = pd.DataFrame({"space_id": ["b1", "t1"], "name": ["<자전거>", "공구"],
                           "category": ["bike", "tools"]})
    nearest = pd.DataFrame({"space_bike": [0, 0, -1, 0], "space_tools": [1, 1, 1, 1]},
                           index=blocks.index)
    gaps = compute_gaps(blocks, spaces, nearest, cfg)
    assert list(gaps.columns) == [*GAP_COLUMNS, "population_outside_65plus"]
    area = gaps[gaps["kind"] == "area"].set_index(["category", "area_id"])
    assert area.loc[("bike", "12"), "population_outside"] == pytest.approx(1000)
    assert area.loc[("bike", "12"), "share_outside"] == pytest.approx(0.5)
    assert area.loc[("bike", "12"), "rank"] == 1
    assert area.loc[("bike", "11"), "population_outside"] == 0
    assert area.loc[("bike", "11"), "population_outside_65plus"] == pytest.approx(600)
    assert area.loc[("tools", "12"), "blocks_outside"] == 1
    assert area.loc[("tools", "11"), "population_outside_65plus"] == pytest.approx(200)
    blk = gaps[gaps["kind"] == "block"]
    assert blk["category"].tolist() == ["bike", "tools"]
    bike = blk.iloc[0]
    assert bike["block_id"] == 3 and pd.isna(bike["walk_min"])
    assert pd.isna(bike["nearest_space_id"])           # none reachable
    tools = blk.iloc[1]
    assert tools["block_id"] == 4 and tools["walk_min"] == 20.0
    assert (tools["nearest_space_id"], tools["nearest_space_name"]) == ("t1", "공구")
    assert tools["lon"] == pytest.approx(gpd.GeoSeries([box(300, 0, 400, 100).centroid],
                                                        crs=CRS).to_crs(4326).x[0], abs=1e-6)


def test_gaps_without_population(tmp_path):
    """No residents: dongs rank by blocks outside, blocks by walk (unreachable first)."""
    cfg = _config(tmp_path)
    blocks = _blocks()
    blocks["dong"], blocks["dong_id"] = ["서", "서", "동", "동"], ["11", "11", "12", "12"]
    spaces = pd.DataFrame({"space_id": ["b1"], "name": ["b"], "category": ["bike"]})
    nearest = pd.DataFrame({"space_bike": [0, 0, -1, 0], "space_tools": [-1] * 4},
                           index=blocks.index)
    gaps = compute_gaps(blocks, spaces, nearest, cfg)
    tools = gaps[gaps["category"] == "tools"]
    area = tools[tools["kind"] == "area"]
    # tools (14, 4, 9, 20) beyond 15: B4 only -> dong 12 first
    assert area["area_id"].tolist() == ["12", "11"]
    assert area["blocks_outside"].tolist() == [1, 0]
    assert area["population_outside"].isna().all()
    bike = gaps[(gaps["category"] == "bike") & (gaps["kind"] == "block")]
    assert bike["block_id"].tolist() == [3]  # unreachable
    assert tools[tools["kind"] == "block"]["block_id"].tolist() == [4]


def test_demo_study_with_weights_conserves_each_dong(tmp_path):
    """Buildings only in the first dong: its blocks without a building get no residents."""
    from sharemap.datasets import demo_dir

    dongs = gpd.read_file(demo_dir() / "dong.geojson").to_crs(CRS)
    first = dongs.geometry.iloc[0]
    x0, y0 = first.representative_point().x, first.representative_point().y
    blds = gpd.GeoDataFrame(geometry=[box(x0 + dx, y0 + dy, x0 + dx + 20, y0 + dy + 15)
                                      for dx in range(-400, 400, 60)
                                      for dy in range(-400, 400, 60)], crs=CRS)
    blds = blds[blds.within(first)]
    blds.to_file(tmp_path / "buildings.gpkg")
    toml = (demo_dir() / "study.toml").read_text(encoding="utf-8")
    toml = toml.replace('"gu.geojson"', f'"{demo_dir() / "gu.geojson"}"')
    toml = re.sub(r'(path|osm_xml) = "([^"/]+)"', lambda m: f'{m[1]} = "{demo_dir() / m[2]}"',
                  toml)
    toml = toml.replace('"water.geojson"', f'"{demo_dir() / "water.geojson"}"')
    toml = toml.replace("[coverage]\n", '[coverage]\nweights = "buildings.gpkg"\n')
    assert "pop_65plus" in toml  # the demo study audits residents aged 65+
    (tmp_path / "study.toml").write_text(toml, encoding="utf-8")
    result = run_study(read_config(tmp_path / "study.toml"))
    b = result.blocks
    for row in dongs.itertuples():
        held = b.loc[b["dong_id"] == row.adm_cd2, ["population", "population_65plus"]].sum()
        assert held.tolist() == pytest.approx([row.pop_total, row.pop_65plus])
    w = block_weights(b, tmp_path / "buildings.gpkg", crs=CRS)
    in_first = b["dong_id"] == dongs["adm_cd2"].iloc[0]
    assert (w[in_first] > 0).any() and (w[~in_first] == 0).all()
    assert (b.loc[in_first & (w == 0), "population"] == 0).all()
    share = b.loc[in_first, "population"] / dongs["pop_total"].iloc[0]
    np.testing.assert_allclose(share, w[in_first] / w[in_first].sum())
    # outside the first dong: by area
    other = b[~in_first & (b["dong_id"] == dongs["adm_cd2"].iloc[1])]
    np.testing.assert_allclose(other["population"] / other["population"].sum(),
                               other["area_m2"] / other["area_m2"].sum())
    assert result.coverage_groups is not None and "population_65plus" in b


def test_coverage_config_keys(tmp_path):
    cfg = _config(tmp_path, """
population_table = { path = "pop.csv", key = "adm_nm" }
weights = { path = "b.gpkg", layer = "buildings", column = "floors" }
groups = [{ column = "pop_65plus", label = "65+" },
          { column = "kids", label = "under 10", walk_speed_kmh = 3.0 }]
gap_blocks = 7""")
    cov = cfg.coverage
    assert cov.population_table.path == (tmp_path / "pop.csv").resolve()
    assert cov.population_table.boundary_key == "adm_nm"
    assert (cov.weights.layer, cov.weights.column) == ("buildings", "floors")
    assert [g.population_column for g in cov.groups] == ["population_65plus",
                                                         "population_under_10"]
    assert [g.walk_speed_kmh for g in cov.groups] == [3.6, 3.0]
    assert cov.gap_blocks == 7 and cov.population_level.level == "dong"
    assert _config(tmp_path, 'weights = "b.gpkg"').coverage.weights.layer is None
    for bad, match in (('groups = [{ column = "a", label = "+" }, { column = "b", label = "p" },'
                        '{ column = "c", label = "plus" }]', "differ"),
                       ('population_table = { path = "p.csv", on = "x" }', "'on'"),
                       ("gap_blocks = -1", "gap_blocks"),
                       ('groups = [{ column = "a", walk_speed_kmh = 0 }]', "must be > 0")):
        with pytest.raises(ConfigError, match=match):
            _config(tmp_path, bad)


def test_groups_need_a_population_level(tmp_path):
    import tomllib

    text = """
[study]
name = "T"
[network]
graphml = "g.graphml"
[[layers]]
category = "bike"
path = "b.csv"
[coverage]
groups = [{ column = "pop_65plus" }]
"""
    with pytest.raises(ConfigError, match="needs a boundary level with `population`"):
        parse_config(tomllib.loads(text), base=tmp_path, source=tmp_path / "s.toml")


# ----------------------------------------------------------------------------- real data


@pytest.fixture(scope="module")
def dongdaemun(seoul_data, tmp_path_factory):
    """The real district: dong populations joined from the 2021 table by adm_nm, 65+ group."""
    d = seoul_data
    folder = tmp_path_factory.mktemp("ddm_cov")
    cfg = folder / "study.toml"
    cfg.write_text(dongdaemun_toml(d, extra_coverage=(
        f'population_table = {{ path = "{d}/boundaries/seoul_dong_population_2021q2.csv", '
        'key = "adm_nm" }\n'
        'groups = [{ column = "pop_65plus", label = "65+", walk_speed_kmh = 3.6 }]')),
        encoding="utf-8")
    result = run_study(read_config(cfg))
    out = folder / "out"
    write_outputs(result, out)
    return result, out


def _recompute(blocks, origins, cats, levels, thresholds, pop_col="population", factor=1.0):
    """Coverage from blocks.gpkg's two layers, as the README says to recompute it.

    A block is covered when its own ``walk_min_*`` is within T; its residents are
    covered origin by origin (layer ``origins``: each origin's ``population`` is its
    share of the block's, covered when the origin's own walks are within T).
    """
    origins = origins.merge(blocks[["block_id", *(f"{lv}_id" for lv in levels)]], on="block_id")
    rows = {}
    for lvl in ["city", *levels]:
        if lvl == "city":
            groups = [("Dongdaemun-gu", blocks, origins)]
        else:
            by = dict(list(origins.groupby(f"{lvl}_id")))
            groups = [(aid, sub, by[aid]) for aid, sub in blocks.groupby(f"{lvl}_id")]
        for aid, sub, org in groups:
            for cat in [*cats, "all"]:
                cols = [f"walk_min_{c}" for c in (cats if cat == "all" else [cat])]
                for t in thresholds:
                    cov = (sub[cols] * factor).le(t).all(axis=1)
                    o_cov = (org[cols] * factor).le(t).all(axis=1)
                    rows[(lvl, str(aid), cat, t)] = (len(sub), int(cov.sum()),
                                                     sub[pop_col].sum(),
                                                     org.loc[o_cov, pop_col].sum())
    return rows


@pytest.mark.seoul
def test_real_coverage_agrees_with_blocks_gpkg(dongdaemun, seoul_data):
    _, out = dongdaemun
    blocks = gpd.read_file(out / "blocks.gpkg", layer="blocks")
    origins = gpd.read_file(out / "blocks.gpkg", layer="origins")
    cov = pd.read_csv(out / "coverage.csv", dtype={"area_id": str})
    assert list(cov.columns) == list(COVERAGE_COLUMNS)
    cats = ["bike", "carshare", "facility"]
    want = _recompute(blocks, origins, cats, ["gu", "dong"], [5, 10, 15])
    assert len(cov) == len(want) == (1 + 1 + 14) * 4 * 3
    for r in cov.itertuples():
        n, n_cov, pop, pop_cov = want[(r.level, r.area_id, r.category, r.threshold_min)]
        assert (r.blocks, r.blocks_covered) == (n, n_cov)
        assert r.population == pop  # exactly
        assert r.population_covered == pytest.approx(pop_cov, rel=1e-12, abs=1e-9)
    # the origins hold their blocks' residents: one row per origin, shares summing to 1
    assert len(origins) == blocks["n_origins"].sum() > len(blocks)
    per = origins.groupby("block_id")[["share", "population"]].sum()
    per = per.loc[blocks["block_id"]]
    np.testing.assert_allclose(per["share"], 1.0, rtol=1e-12)
    np.testing.assert_allclose(per["population"], blocks["population"], rtol=1e-12)
    # the blocks hold the district's 2021 population (sum of its 14 dongs)
    table = pd.read_csv(seoul_data / "boundaries/seoul_dong_population_2021q2.csv")
    total = table.loc[table["gu"] == "동대문구", "pop_total"].sum()
    assert blocks["population"].sum() == pytest.approx(total, rel=0.01)
    assert blocks["population"].sum() == pytest.approx(total, rel=1e-9)  # all dongs inside
    # proximity time
    prox = blocks[[f"walk_min_{c}" for c in cats]].max(axis=1, skipna=False)
    np.testing.assert_array_equal(blocks["proximity_min"].to_numpy(), prox.to_numpy())


@pytest.mark.seoul
def test_real_groups_and_gaps_agree(dongdaemun, seoul_data):
    result, out = dongdaemun
    blocks = gpd.read_file(out / "blocks.gpkg", layer="blocks")
    origins = gpd.read_file(out / "blocks.gpkg", layer="origins")
    groups = pd.read_csv(out / "coverage_groups.csv", dtype={"area_id": str})
    cats = ["bike", "carshare", "facility"]
    old = groups[groups["group"] == "65+"]
    want = _recompute(blocks, origins, cats, ["dong"], [15], "population_65plus", 4.8 / 3.6)
    table = pd.read_csv(seoul_data / "boundaries/seoul_dong_population_2021q2.csv")
    assert blocks["population_65plus"].sum() == pytest.approx(
        table.loc[table["gu"] == "동대문구", "pop_65plus"].sum(), rel=1e-9)
    checked = 0
    for r in old[old["threshold_min"] == 15].itertuples():
        if r.level == "gu":
            continue
        _, n_cov, _, pop_cov = want[(r.level, r.area_id, r.category, 15)]
        assert r.blocks_covered == n_cov
        assert r.population_covered == pytest.approx(pop_cov, rel=1e-9, abs=1e-9)
        checked += 1
    assert checked == 15 * 4
    gaps = pd.read_csv(out / "gaps.csv", dtype={"area_id": str})
    cov = pd.read_csv(out / "coverage.csv", dtype={"area_id": str})
    c15 = cov[(cov["level"] == "dong") & (cov["threshold_min"] == 15)].set_index(
        ["area_id", "category"])
    area = gaps[gaps["kind"] == "area"]
    assert len(area) == 14 * 3
    for r in area.itertuples():
        c = c15.loc[(r.area_id, r.category)]
        assert r.population_outside == pytest.approx(c.population - c.population_covered,
                                                     abs=1e-6)
    for cat, grp in area.groupby("category"):
        assert grp["rank"].tolist() == list(range(1, 15))
        assert grp["population_outside"].is_monotonic_decreasing, cat
    blk = gaps[gaps["kind"] == "block"]
    spaces = result.spaces.set_index("space_id")
    assert len(blk) > 0
    for r in blk.itertuples():
        b = blocks.loc[blocks["block_id"] == r.block_id].iloc[0]
        # residents outside: the block's origins beyond 15 minutes, each with its share
        mine = origins[origins["block_id"] == r.block_id]
        far = ~(mine[f"walk_min_{r.category}"] <= 15)
        assert r.population_outside == pytest.approx(mine.loc[far, "population"].sum(),
                                                     rel=1e-12) and r.population_outside > 0
        assert b["n_origins"] > 1 or not b[f"walk_min_{r.category}"] <= 15
        assert r.walk_min == pytest.approx(b[f"walk_min_{r.category}"], rel=1e-12) or (
            pd.isna(r.walk_min) and pd.isna(b[f"walk_min_{r.category}"]))
        # lon/lat: the (median) origin the walk starts from; the walk from it, by hand
        start = gpd.GeoSeries(gpd.points_from_xy([r.lon], [r.lat]), crs=4326).to_crs(
            result.spaces.crs)
        if b["n_origins"] == 1:
            rep = block_origins(result.blocks[result.blocks["block_id"] == r.block_id])
            assert start.iloc[0].distance(rep.iloc[0]) < 0.2
        if pd.notna(r.nearest_space_id):
            sp = spaces.loc[str(r.nearest_space_id)]
            sp = sp[sp["category"] == r.category].iloc[0] if isinstance(sp, pd.DataFrame) else sp
            assert sp["category"] == r.category and sp["name"] == r.nearest_space_name
            exact = origins.to_crs(result.spaces.crs).geometry[
                mine.index[mine[f"walk_min_{r.category}"] == r.walk_min][:1]]
            assert exact.iloc[0].distance(start.iloc[0]) < 0.2
            walk = access.walk_times(result.network, exact, sp.to_frame().T.pipe(
                gpd.GeoDataFrame, geometry="geometry", crs=result.spaces.crs))
            assert walk.iloc[0, 0] == pytest.approx(r.walk_min, rel=1e-9)

