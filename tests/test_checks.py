"""Study consistency checks (sharemap.checks): inputs that do not fit together are said, loudly.

Hand-checked geometry first (the network's reach against shapely's exact buffer), then the
cases seen on the real Seoul data (issue 12, finding 1; issue 16, item 4).
"""

from __future__ import annotations

import contextlib
import io
import json
import shutil
import xml.etree.ElementTree as ET

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from conftest import CRS, X0, Y0, dongdaemun_toml, grid_edges, grid_nodes, osm_graph

from sharemap import StudyCheckError, read_config, run_study
from sharemap.checks import (
    MIN_NETWORK_SHARE,
    Check,
    measure_network_reach,
    within_reach,
)
from sharemap.cli import main
from sharemap.datasets import demo_dir
from sharemap.network import network_from_graph

# ----------------------------------------------------------------------------- the parts


def test_check_is_plain_json_and_knows_its_statuses():
    c = Check("x", "warning", np.float64(0.25), "m")
    assert json.loads(json.dumps(c.as_dict())) == {"name": "x", "status": "warning",
                                                   "figure": 0.25, "message": "m"}
    assert Check("n", "ok", np.int64(3), "m").as_dict()["figure"] == 3
    assert Check("n", "ok", float("nan"), "m").as_dict()["figure"] is None
    with pytest.raises(ValueError, match="status"):
        Check("x", "fine", None, "m")


@pytest.fixture(scope="module")
def square():
    """A 200 m x 200 m street grid (3 x 3 nodes) at (X0, Y0)."""
    return network_from_graph(osm_graph(grid_nodes(), grid_edges()), crs=CRS)


def test_reach_is_exact_where_it_is_decided(square):
    """Every point within max_snap_m of a street, against shapely's distance to the streets."""
    rng = np.random.default_rng(1)
    xy = np.column_stack([rng.uniform(X0 - 400, X0 + 600, 20_000),
                          rng.uniform(Y0 - 400, Y0 + 600, 20_000)])
    streets = shapely.union_all(square.edges.geometry.to_numpy())
    dist = shapely.distance(shapely.points(xy), streets)
    got = within_reach(square, xy, max_snap_m=250.0)
    assert (got == (dist <= 250.0)).all()
    assert 0.2 < got.mean() < 0.8  # both kinds of point were tried, also near the edge
    assert ((dist > 245) & (dist < 255)).sum() > 50


def test_reach_shares_match_the_exact_buffer(square):
    """Share of an area, of two units and of their residents within 250 m, against exact areas.

    The streets' 250 m buffer is the 200 m square grown by 250 m with rounded corners:
    200^2 + 4 * 200 * 250 + pi * 250^2 = 436,350 m2 inside a 1.44 km2 study area.
    """
    area = shapely.box(X0 - 500, Y0 - 500, X0 + 700, Y0 + 700)
    buffer = shapely.buffer(shapely.union_all(square.edges.geometry.to_numpy()), 250.0,
                            quad_segs=64)
    assert buffer.area == pytest.approx(200**2 + 4 * 200 * 250 + np.pi * 250**2, rel=1e-4)
    units = gpd.GeoDataFrame({"id": ["west", "east"], "name": ["W", "E"],
                              "population": [1000.0, 3000.0]},
                             geometry=[shapely.box(X0 - 500, Y0 - 500, X0 + 100, Y0 + 700),
                                       shapely.box(X0 + 100, Y0 - 500, X0 + 700, Y0 + 700)],
                             crs=CRS)
    reach = measure_network_reach(square, area, {"dong": units}, max_snap_m=250.0,
                                  population_level="dong", min_spacing_m=5.0,
                                  max_points=10**6)
    exact = buffer.intersection(area).area / area.area
    assert reach.share_area == pytest.approx(exact, abs=0.002)
    for uid, geom in zip(units["id"], units.geometry, strict=True):
        want = buffer.intersection(geom).area / geom.area
        assert reach.unit_share["dong"][uid] == pytest.approx(want, abs=0.003)
    west, east = (buffer.intersection(g).area / g.area for g in units.geometry)
    assert reach.share_residents == pytest.approx((1000 * west + 3000 * east) / 4000, abs=0.003)
    # the default grid (20 m or coarser) gives the same answer to a percent
    coarse = measure_network_reach(square, area, {"dong": units}, max_snap_m=250.0)
    assert coarse.spacing_m == 20.0
    assert coarse.share_area == pytest.approx(exact, abs=0.01)


def _demo_copy(tmp_path, *, grow_m: float, partial: bool):
    """The demo study with its area grown by `grow_m` (its network and units unchanged)."""
    folder = tmp_path / "demo"
    shutil.copytree(demo_dir(), folder)
    gu = gpd.read_file(folder / "gu.geojson").to_crs(CRS)
    gu.assign(geometry=gu.buffer(grow_m)).to_crs(4326).to_file(folder / "big.geojson")
    text = (folder / "study.toml").read_text(encoding="utf-8")
    text = text.replace('area = "gu.geojson"', 'area = "big.geojson"')
    if partial:
        text = text.replace("max_snap_m = 250", "max_snap_m = 250\nallow_partial = true")
    (folder / "big.toml").write_text(text, encoding="utf-8")
    return folder / "big.toml"


def test_a_network_covering_a_fraction_of_the_area_stops_the_study(tmp_path):
    with pytest.raises(StudyCheckError) as err:
        run_study(read_config(_demo_copy(tmp_path, grow_m=3000, partial=False)))
    msg = str(err.value)
    assert "\n" not in msg
    assert "reaches only 10.8% of the study area" in msg
    assert "allow_partial = true" in msg and "smaller [study] area" in msg


def test_allow_partial_counts_the_covered_part_as_its_own_study(tmp_path):
    """The demo inside an area 9 times its size: same figures as the demo, and a warning."""
    from sharemap.datasets import get_path

    alone = run_study(read_config(get_path("demo")))
    partial = run_study(read_config(_demo_copy(tmp_path, grow_m=3000, partial=True)))
    pd.testing.assert_frame_equal(alone.coverage, partial.coverage)
    pd.testing.assert_frame_equal(alone.gaps, partial.gaps)
    reach = next(c for c in partial.checks if c.name == "network_covers_study_area")
    assert reach.status == "warning" and reach.figure == pytest.approx(0.108, abs=0.002)
    assert [c.name for c in alone.warnings()] == []
    assert partial.summary["partial"] == {"blocks_left_out": 0, "population_left_out": None,
                                          "units_left_out": {"gu": 0, "dong": 0}}


# ------------------------------------------------------------- the real Seoul data


def _seoul_wide(d, *, partial: bool = False, extra: str = "") -> str:
    """Issue 12's study: all 25 gu (no filter) and all 425 dongs on the Dongdaemun network."""
    text = dongdaemun_toml(d).replace('area_filter = { sggnm = "동대문구" }\n', "")
    text = text.replace('filter = { sggnm = "동대문구" }\n', "")
    if partial:
        text = text.replace("[network]\n", "[network]\nallow_partial = true\n")
    return text + extra


@pytest.mark.seoul
def test_seoul_wide_study_on_a_district_network_stops(seoul_data, tmp_path):
    """Finding 1: exited 0 printing 46.7% with 96% of Seoul's residents unallocated."""
    cfg = tmp_path / "seoul.toml"
    cfg.write_text(_seoul_wide(seoul_data), encoding="utf-8")
    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        assert main(["run", str(cfg), "--out", str(tmp_path / "out")]) == 2
    line = err.getvalue().strip()
    assert "\n" not in line
    assert line.startswith("sharemap: error: the study's inputs do not fit together: the walk "
                           "network reaches only 2.9% of the study area")
    assert "allow_partial = true" in line
    assert not (tmp_path / "out" / "summary.json").exists()  # stopped before any figure


@pytest.fixture(scope="module")
def seoul_partial(seoul_data, tmp_path_factory):
    """The Seoul-wide study with allow_partial and one map per gu, through the CLI."""
    import sharemap.maps
    import sharemap.report

    folder = tmp_path_factory.mktemp("seoul_partial")
    cfg = folder / "study.toml"
    cfg.write_text(_seoul_wide(seoul_data, partial=True, extra='[map]\nsplit_by = "gu"\n'),
                   encoding="utf-8")
    out = io.StringIO()
    frames = []  # map.png's and the report's small maps' axes limits, as matplotlib drew them
    real_static, real_small = sharemap.maps.static_map, sharemap.report._draw_map

    def static_map(*args, **kwargs):
        fig = real_static(*args, **kwargs)
        frames.append((fig.axes[0].get_xlim(), fig.axes[0].get_ylim()))
        return fig

    def draw_map(ax, *args, **kwargs):
        real_small(ax, *args, **kwargs)
        frames.append((ax.get_xlim(), ax.get_ylim()))

    with pytest.MonkeyPatch.context() as mp, contextlib.redirect_stdout(out):
        mp.setattr(sharemap.maps, "static_map", static_map)
        mp.setattr(sharemap.report, "_draw_map", draw_map)
        assert main(["audit", str(cfg), "--out", str(folder / "out")]) == 0
    return folder / "out", out.getvalue(), frames


def _dongdaemun(seoul_data) -> gpd.GeoDataFrame:
    gu = gpd.read_file(seoul_data / "boundaries/seoul_gu_2021.geojson")
    return gu[gu["sggnm"] == "동대문구"]


def _fits(view, want, slack: float) -> None:
    """`view` (west, south, east, north) holds `want` and is at most `slack` times as long
    along the side that limits the fit (the other follows the window's shape)."""
    assert view[0] <= want[0] and view[1] <= want[1]
    assert view[2] >= want[2] and view[3] >= want[3]
    ratios = ((view[2] - view[0]) / (want[2] - want[0]), (view[3] - view[1]) / (want[3] - want[1]))
    assert min(ratios) <= slack, ratios


@pytest.mark.seoul
def test_seoul_wide_partial_figures_show_only_the_covered_part(seoul_partial, seoul_data):
    """allow_partial: blocks, villages and every drawn map are about Dongdaemun-gu (the part
    the network reaches), not Seoul: map.png and the report's maps are framed on it."""
    out, _, frames = seoul_partial
    ddm = _dongdaemun(seoul_data).to_crs(5186)
    dongs = gpd.read_file(seoul_data / "boundaries/seoul_hangjeongdong_2021.geojson")
    ddm_dongs = set(dongs.loc[dongs["sggnm"] == "동대문구", "adm_cd2"].astype(str))
    blocks = gpd.read_file(out / "blocks.gpkg", layer="blocks").to_crs(5186)
    assert set(blocks["dong_id"].astype(str)) <= ddm_dongs and len(blocks) > 500
    assert set(blocks["gu"]) == {"동대문구"}
    villages = gpd.read_file(out / "villages.geojson").to_crs(5186)
    assert len(villages)
    inside = villages.geometry.intersection(ddm.geometry.iloc[0]).area / villages.area
    assert (inside > 0.5).all()  # every village stands in Dongdaemun-gu (blocks may cross it)
    want = ddm.total_bounds
    assert len(frames) == 5  # map.png, then the report's 4 small maps
    for (x0, x1), (y0, y1) in frames:
        _fits((x0, y0, x1, y1), want, slack=1.4)


@pytest.mark.seoul
def test_seoul_wide_partial_study_counts_only_the_covered_part(seoul_partial, seoul_data):
    out, printed, _ = seoul_partial
    dongs = gpd.read_file(seoul_data / "boundaries/seoul_hangjeongdong_2021.geojson")
    ddm = dongs[dongs["sggnm"] == "동대문구"]
    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    # every figure is about the 14 dongs of Dongdaemun-gu, each with all its residents
    cov = pd.read_csv(out / "coverage.csv", dtype={"area_id": str})
    per_dong = cov[(cov["level"] == "dong") & (cov["category"] == "all")
                   & (cov["threshold_min"] == 15)].set_index("area_id")["population"]
    want = ddm.set_index(ddm["adm_cd2"].astype(str))["pop_total"].astype(float)
    pd.testing.assert_series_equal(per_dong.sort_index(), want.sort_index(),
                                   check_names=False)
    assert set(cov.loc[cov["level"] == "gu", "area"]) == {"동대문구"}
    assert summary["counts"]["population"] == ddm["pop_total"].sum() == 352_259
    assert summary["counts"]["population_unallocated"] == 0
    # 안암동 (Seongbuk-gu) is partly within reach: left out, not stuffed into one block
    blocks = gpd.read_file(out / "blocks.gpkg", layer="blocks")
    assert "안암동" not in set(blocks["dong"]) and blocks["dong"].notna().all()
    gaps = pd.read_csv(out / "gaps.csv")
    assert "안암동" not in set(gaps["area"])
    assert summary["partial"]["units_left_out"] == {"gu": 24, "dong": 411}
    assert summary["partial"]["population_left_out"] == dongs["pop_total"].sum() - 352_259
    assert summary["boundaries"]["dong"]["outside_network_reach"] == 411
    # said loudly: summary.json, the printout, the report and the map
    failed = {c["name"]: c for c in summary["checks"] if c["status"] != "ok"}
    # (and, as on the Dongdaemun-gu study alone, blocks 507 and 138 hold most of their dong)
    assert set(failed) == {"network_covers_study_area", "network_covers_residents",
                           "partial_study", "split_map_units_skipped",
                           "block_holds_most_of_unit"}
    assert failed["network_covers_study_area"]["figure"] == pytest.approx(0.029, abs=0.001)
    assert failed["network_covers_residents"]["figure"] == pytest.approx(0.043, abs=0.001)
    assert all(c["status"] in ("ok", "warning") for c in summary["checks"])
    assert "WARNINGS        : 5" in printed
    assert "! network_covers_study_area: the walk network reaches only 2.9%" in printed
    # (this study's blocks are cut from all of Seoul's area: 전농2동's park is block 508 here)
    assert "! block_holds_most_of_unit: 2 block(s) hold more than half of their dong's " \
           "residents: block 508 (전농2동: 15,080 of 19,192 residents, 78.6%)" in printed


@pytest.mark.seoul
def test_seoul_wide_partial_split_maps_name_the_skipped_gu(seoul_partial):
    out, _, _ = seoul_partial
    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    skipped = summary["split_maps"]["skipped"]
    assert len(skipped) == 24 and "동대문구" not in skipped and "강남구" in skipped
    check = next(c for c in summary["checks"] if c["name"] == "split_map_units_skipped")
    assert check["figure"] == 24 and "24 of 25 gu units" in check["message"]
    assert sorted(p.name for p in (out / "maps").iterdir()) == ["11230.html", "index.html"]


@pytest.mark.seoul
@pytest.mark.browser
def test_seoul_wide_partial_warnings_show_in_the_pages(seoul_partial, seoul_data, driver):
    import _browser

    out, _, _ = seoul_partial
    _browser.open_file(driver, out / "report.html")
    first = driver.execute_script(
        "const s = document.querySelector('main').children[1];"
        "return [s.id, Array.from(s.querySelectorAll('li')).map(li => li.textContent)];")
    assert first[0] == "checks"  # right under the title, before any figure
    assert len(first[1]) == 5 and first[1][0].startswith("network_covers_study_area: ")
    # the block-holds-most warning names its blocks there too (and in the map below)
    named = "block 508 (전농2동: 15,080 of 19,192 residents, 78.6%), block 138 (회기동"
    assert any(li.startswith("block_holds_most_of_unit: ") and named in li for li in first[1])
    _browser.open_file(driver, out / "map.html")
    box = driver.execute_script(
        "const d = document.querySelector('.sharemap-warnings');"
        "const r = d.getBoundingClientRect();"
        "return [d.open, d.querySelector('summary').textContent,"
        " Array.from(d.querySelectorAll('li')).map(li => li.textContent), r.width, r.height];")
    assert box[0] is True and box[1].startswith("⚠ 5 warnings")
    assert box[2][0].startswith("the walk network reaches only 2.9% of the study area")
    assert any(named in li for li in box[2])
    assert 100 < box[3] <= 460 and box[4] > 50  # shown, and no wider than its box
    bounds = driver.execute_script(
        "const m = Object.values(window).find(v => v instanceof L.Map);"
        "const b = m.getBounds(); return [b.getWest(), b.getSouth(), b.getEast(), b.getNorth()];")
    _fits(bounds, _dongdaemun(seoul_data).total_bounds, slack=1.6)  # opens on the covered part
    _browser.open_file(driver, out / "maps" / "index.html")
    text = driver.execute_script("return document.querySelector('.skipped').textContent")
    assert text.startswith("No map for 24 gu units") and "강남구" in text


@pytest.mark.seoul
def test_a_study_of_another_gu_on_the_district_network_stops(seoul_data, tmp_path):
    """Finding 1: a Gangnam-gu study on the Dongdaemun network exited 0 with 0 blocks."""
    cfg = tmp_path / "gangnam.toml"
    cfg.write_text(dongdaemun_toml(seoul_data).replace("동대문구", "강남구"), encoding="utf-8")
    with pytest.raises(StudyCheckError) as err:
        run_study(read_config(cfg))
    msg = str(err.value)
    assert "reaches only 0.0% of the study area" in msg
    assert "no block in the study" in msg and "no sharing space was analysed" in msg


# ------------------------------------------- issue 16, item 4: a network that falls apart


def _split_graphml(src, dst, lon: float) -> None:
    """Copy an osmnx GraphML file without the edges whose ends lie on either side of `lon`."""
    ns = "{http://graphml.graphdrawing.org/xmlns}"
    ET.register_namespace("", ns[1:-1])
    tree = ET.parse(src)
    root = tree.getroot()
    xkey = next(k.get("id") for k in root.iter(f"{ns}key")
                if k.get("attr.name") == "x" and k.get("for") == "node")
    graph = root.find(f"{ns}graph")
    x = {n.get("id"): float(next(d.text for d in n if d.get("key") == xkey))
         for n in graph.iter(f"{ns}node")}
    for edge in list(graph.iter(f"{ns}edge")):
        if (x[edge.get("source")] < lon) != (x[edge.get("target")] < lon):
            graph.remove(edge)
    tree.write(dst, encoding="utf-8", xml_declaration=True)


@pytest.fixture(scope="module")
def split_study(seoul_data, tmp_path_factory):
    folder = tmp_path_factory.mktemp("split")
    _split_graphml(seoul_data / "network/dongdaemun_walk.graphml", folder / "split.graphml",
                   127.06)
    text = dongdaemun_toml(seoul_data, levels=("dong",)).replace(
        str((seoul_data / "network/dongdaemun_walk.graphml").as_posix()),
        str((folder / "split.graphml").as_posix()))
    (folder / "study.toml").write_text(text, encoding="utf-8")
    (folder / "partial.toml").write_text(
        text.replace("[network]\n", "[network]\nallow_partial = true\n"), encoding="utf-8")
    return folder


@pytest.mark.seoul
def test_a_split_network_stops_the_study_naming_the_shortfall(split_study):
    """Issue 16 #4: dropped 3,146 of 7,695 nodes and 3 dongs with no console message."""
    with pytest.raises(StudyCheckError) as err:
        run_study(read_config(split_study / "study.toml"))
    assert "the walk network reaches only" in str(err.value)


@pytest.mark.seoul
def test_rows_lost_with_a_dropped_piece_get_their_own_reason(split_study, seoul_data):
    result = run_study(read_config(split_study / "partial.toml"))
    info = result.network.info
    assert info["nodes_dropped"] == 3146 and info["nodes"] == 7695 - 3146
    pieces = next(c for c in result.checks if c.name == "network_pieces_dropped")
    share = info["length_km_dropped"] / (info["length_km"] + info["length_km_dropped"])
    assert pieces.status == "warning" and pieces.figure == pytest.approx(share, abs=1e-4)
    assert f"({100 * share:.1f}%)" in pieces.message
    # the 44 spaces on the dropped streets: their own reason, and a detail that is true
    rj = result.rejects
    lost = rj[rj["reason"] == "disconnected_network"]
    assert len(lost) == 44
    assert lost["detail"].str.contains("is on a piece of the network not connected").all()
    off = rj[rj["reason"] == "off_network"]
    assert not off["detail"].str.contains("not connected").any()
    # true: each lost row is within 250 m of a dropped street and farther from every kept one
    spaces = gpd.GeoDataFrame(geometry=gpd.points_from_xy(*_row_xy(lost, seoul_data)),
                              crs=4326).to_crs(CRS).geometry.to_numpy()
    kept = shapely.union_all(result.network.edges.geometry.to_numpy())
    dropped = shapely.union_all(result.network.dropped.geometry.to_numpy())
    assert (shapely.distance(spaces, kept) > 250).all()
    assert (shapely.distance(spaces, dropped) <= 250).all()
    # the dongs beyond the cut are left out, by name, with their residents
    partial = next(c for c in result.checks if c.name == "partial_study")
    assert partial.status == "warning"
    left = result.summary["partial"]
    assert left["units_left_out"]["dong"] >= 3 and left["population_left_out"] >= 92_334
    for entry in result.summary["inputs"]:
        assert entry["accounted"]


def _row_xy(rejects: pd.DataFrame, d) -> tuple[np.ndarray, np.ndarray]:
    """The WGS84 coordinates of rejected rows, read back from their source files."""
    xs, ys = [], []
    for row in rejects.itertuples():
        if "ttareungyi" in row.source:
            raw = json.loads((d / "raw/ttareungyi_master_seoul_open_data.json")
                             .read_text(encoding="utf-8"))["DATA"][row.source_row - 1]
            xs.append(float(raw["statn_lnt"]))
            ys.append(float(raw["statn_lat"]))
        else:
            name = ("points/nanumcar_spots_2017.csv" if "nanumcar" in row.source
                    else "points/public_service_reservation_culture_2025-04.csv")
            rec = pd.read_csv(d / name).iloc[row.source_row - 1]
            xs.append(float(rec["lon"]))
            ys.append(float(rec["lat"]))
    return np.array(xs), np.array(ys)


def test_min_network_share_is_the_documented_90_percent():
    assert MIN_NETWORK_SHARE == 0.9


def test_dropped_pieces_survive_the_network_cache(tmp_path):
    from sharemap import network

    nodes = {**grid_nodes(), 90: (X0 + 900, Y0), 91: (X0 + 960, Y0)}
    net = network_from_graph(osm_graph(nodes, [*grid_edges(), (90, 91)]), crs=CRS)
    assert net.dropped[["piece", "length_m"]].values.tolist() == [[1, 60.0]]
    assert net.info["length_km_dropped"] == 0.06
    path = tmp_path / "net.npz"
    np.savez(path, **network._network_arrays(net))
    with np.load(path, allow_pickle=False) as z:
        back = network._network_from_arrays(dict(z))
    from geopandas.testing import assert_geodataframe_equal

    assert_geodataframe_equal(back.dropped, net.dropped, check_dtype=False)


def test_units_and_layers_without_content_are_named():
    from sharemap.checks import population_check, space_checks, units_checks

    units = gpd.GeoDataFrame({"name": ["가동", "나동", "다동"], "id": ["1", "2", "3"],
                              "population": [100.0, 250.0, np.nan]},
                             geometry=[shapely.box(0, 0, 1, 1)] * 3, crs=CRS)
    (check,) = units_checks({"dong": units}, {"dong": {"1"}})
    assert (check.name, check.status, check.figure) == ("units_without_blocks:dong", "warning", 2)
    assert "2 of 3 dong units hold no block" in check.message
    assert "나동 (250 residents), 다동" in check.message
    assert units_checks({"dong": units}, {"dong": {"1", "2", "3"}})[0].status == "ok"
    inputs = [{"source": "a.csv", "category": "bike", "rows_read": 5, "spaces": 5,
               "rejects_by_reason": {}},
              {"source": "b.csv", "category": "tools", "rows_read": 7, "spaces": 0,
               "rejects_by_reason": {"off_network": 7}}]
    spaces, layers = space_checks(inputs, allow_partial=False)
    assert spaces.status == "ok" and spaces.figure == 5
    assert layers.status == "warning" and "tools (b.csv: 7 rows; off_network 7)" in layers.message
    none = [{**i, "spaces": 0} for i in inputs]
    assert space_checks(none, allow_partial=False)[0].status == "error"
    assert space_checks(none, allow_partial=True)[0].status == "warning"
    lost = population_check(350.0, 1050.0)
    assert lost.status == "warning" and "350 residents (25.0% of 1,400)" in lost.message
    assert population_check(0.0, 1050.0).status == "ok"


def test_the_network_reach_is_cached_like_the_blocks(tmp_path):
    """A second run takes the reach from the cache (0.5 s on Dongdaemun-gu) and agrees."""
    from sharemap.datasets import get_path

    first = run_study(read_config(get_path("demo")))
    second = run_study(read_config(get_path("demo")))
    assert second.summary["cache"]["reach"] == "hit"
    assert first.summary["cache"]["reach"] in ("hit", "miss")
    assert second.summary["network_reach"] == first.summary["network_reach"]
    assert [c.as_dict() for c in second.checks] == [c.as_dict() for c in first.checks]
    off = run_study(read_config(get_path("demo")), cache=False)
    assert off.summary["cache"]["reach"] == "off"
    assert off.summary["network_reach"] == first.summary["network_reach"]


def test_the_reach_figures_recompute_by_the_readme_recipe():
    """README, Study checks: cell centres ((i + 1/2) s, (j + 1/2) s) inside the study area,
    s = max(20 m, sqrt(area / 100,000)); reached = exact distance to the nearest edge at
    most max_snap_m; residents' share = sum(residents_u * share_u) / sum(residents_u).
    On the demo as run (250 m: everything reached) and at 40 m (a fraction reached)."""
    from sharemap.coverage import inside_share
    from sharemap.datasets import get_path

    result = run_study(read_config(get_path("demo")))
    area, net = result.study_area, result.network
    s = max(20.0, np.sqrt(area.area / 100_000))
    x0, y0, x1, y1 = area.bounds
    xs = (np.arange(np.floor(x0 / s), np.ceil(x1 / s)) + 0.5) * s
    ys = (np.arange(np.floor(y0 / s), np.ceil(y1 / s)) + 0.5) * s
    gx, gy = (a.ravel() for a in np.meshgrid(xs, ys))
    pts = shapely.points(gx, gy)
    pts = pts[shapely.contains(area, pts)]
    dist = shapely.distance(pts, shapely.union_all(net.edges.geometry.to_numpy()))
    level = next(b.level for b in result.config.coverage.boundaries if b.population)
    units = result.boundaries[level]
    residents = units["population"].to_numpy(float) * inside_share(units, area)
    inside = [shapely.contains(g, pts) for g in units.geometry]

    def by_hand(max_snap_m):
        reached = dist <= max_snap_m
        share = np.array([reached[i].mean() for i in inside])
        return reached.mean(), (residents * share).sum() / residents.sum(), share

    summary = result.summary["network_reach"]
    assert summary["grid_spacing_m"] == s and summary["grid_points"] == len(pts)
    assert (summary["share_area"], summary["share_residents"]) == by_hand(250.0)[:2] == (1, 1)
    got = measure_network_reach(net, area, {level: units}, max_snap_m=40.0,
                                population_level=level)
    area_share, res_share, unit_share = by_hand(40.0)
    assert 0.3 < area_share < 0.9  # both kinds of point
    assert got.points == len(pts)
    assert got.share_area == pytest.approx(area_share, abs=1e-12)
    assert got.share_residents == pytest.approx(res_share, abs=1e-12)
    np.testing.assert_allclose(got.unit_share[level].to_numpy(), unit_share, atol=1e-12)


def test_space_checks_at_a_time_say_which_layers_are_all_closed():
    """The demo at Sun 03:00: its 3 tool and 1 toy libraries are all closed, so the
    figures count 56 spaces and none of those two layers, yet the checks said "60 spaces
    analysed" and "every layer has analysed spaces". Closed spaces still count as inputs
    that fit (no error at night), but the messages now say how many are closed and name
    the layers with no space open then."""
    from sharemap.datasets import get_path

    res = run_study(read_config(get_path("demo")).with_at("Sun 03:00"))
    checks = {c.name: c for c in res.checks}
    spaces, empty = checks["spaces"], checks["layers_without_spaces"]
    assert spaces.status == "ok" and spaces.figure == 60
    assert "60 spaces analysed, 4 of them closed at Sun 03:00" in spaces.message
    assert empty.status == "ok" and empty.figure == 0
    assert "every layer has analysed spaces" in empty.message
    for part in ("no space open at Sun 03:00", "tools", "toys"):
        assert part in empty.message, (part, empty.message)
    assert len(res.spaces) == 56
