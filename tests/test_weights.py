"""Population weights: land use, OSM land use and a raster grid, checked by hand.

Every source only says how a unit's residents are shared among its blocks (and a
block's among its origins); the unit's total is conserved.
"""

from __future__ import annotations

import dataclasses

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
import tomllib
from conftest import CRS, X0, Y0, hand_study, layer_toml, osm_graph
from shapely.geometry import box

from sharemap import ConfigError, InputDataError, run_study
from sharemap.config import parse_config
from sharemap.network import network_from_graph
from sharemap.weights import (
    ZERO_CLASSES,
    class_weights,
    landuse_weights,
    raster_weights,
    read_landuse,
    read_osm_landuse,
)

# ----------------------------------------------------------------------------- classes


def test_class_weights_study_first_then_built_in_then_default():
    got = class_weights(["leisure=park", "park", "forest", "amenity=university", "residential",
                         "leisure=park", "묘지", None],
                        weights={"residential": 2.0, "묘지": 0.0}, default=1.0)
    assert got.tolist() == [0.0, 0.0, 0.0, 0.0, 2.0, 0.0, 0.0, 1.0]
    # the study may give a built-in class a weight (a dormitory campus)
    assert class_weights(["amenity=university"], weights={"university": 0.5}).tolist() == [0.5]
    assert {"leisure=park", "landuse=forest", "amenity=university", "landuse=cemetery",
            "natural=water"} <= set(ZERO_CLASSES)


def test_landuse_weights_by_hand():
    r"""One 100 m x 100 m part, three polygons::

        park (0)        x 0..40, all y           -> 4,000 m² at 0
        residential (2) x 20..70, all y          -> 20..40 is park (the lowest weight
                                                    holds): 3,000 m² at 2
        commercial (0.5) x 60..80, y 0..50       -> 60..70 under residential (0.5 is
                                                    lower): 1,000 m² at 0.5; 70..80: 500
        uncovered: 100 m² x ... = 10,000 - 4,000 - 3,000 + ... at default 1
    """
    part = gpd.GeoSeries([box(0, 0, 100, 100)], crs=CRS)
    land = gpd.GeoDataFrame({"class": ["park", "residential", "commercial"]}, crs=CRS,
                            geometry=[box(0, 0, 40, 100), box(20, 0, 70, 100),
                                      box(60, 0, 80, 50)])
    w = landuse_weights(part, land, classes={"residential": 2.0, "commercial": 0.5})
    park, resid, comm = 4000.0, 3000.0 - 500.0, 1000.0  # residential 40..70 less 60..70 x 50
    uncovered = 10_000.0 - 4000.0 - 3000.0 - 500.0
    assert resid + 500.0 == 3000.0
    want = 0.0 * park + 2.0 * resid + 0.5 * comm + 1.0 * uncovered
    assert w.tolist() == pytest.approx([want])
    # default applies to unmapped land and to classes no one named
    w0 = landuse_weights(part, land, classes={"residential": 2.0, "commercial": 0.5},
                         default=0.0)
    assert w0.tolist() == pytest.approx([2.0 * resid + 0.5 * comm])


# ----------------------------------------------------------------------------- config


def _cfg(tmp_path, weights: str):
    text = f"""
[study]
name = "T"
[network]
graphml = "g.graphml"
[[layers]]
category = "bike"
path = "b.csv"
[coverage]
weights = {weights}
boundaries = [ {{ level = "dong", path = "d.geojson", name = "n", population = "p" }} ]
"""
    return parse_config(tomllib.loads(text), base=tmp_path, source=tmp_path / "s.toml")


def test_weights_keys(tmp_path):
    w = _cfg(tmp_path, '"b.gpkg"').coverage.weights
    assert (w.source, w.path.name) == ("polygons", "b.gpkg")
    w = _cfg(tmp_path, '{ path = "l.gpkg", class_column = "cls", classes = { park = 0, '
                       '"leisure=pitch" = 0.5 }, default = 0.8 }').coverage.weights
    assert (w.source, w.class_column, w.classes, w.default) == (
        "landuse", "cls", {"park": 0.0, "leisure=pitch": 0.5}, 0.8)
    w = _cfg(tmp_path, '{ osm = "x.osm.pbf", classes = { residential = 1 } }').coverage.weights
    assert (w.source, w.path.name, w.classes) == ("osm", "x.osm.pbf", {"residential": 1.0})
    w = _cfg(tmp_path, '{ raster = "pop.tif", band = 2 }').coverage.weights
    assert (w.source, w.path.name, w.band) == ("raster", "pop.tif", 2)
    bad = {
        '{ path = "a", osm = "b" }': "exactly one of `path`",
        '{ layer = "x" }': "exactly one of `path`",
        '{ raster = "p.tif", classes = { a = 1 } }': r"`coverage\.weights\.classes` does not go "
                                                     "with `raster`",
        '{ osm = "x.osm", column = "floors" }': r"`coverage\.weights\.column` does not go",
        '{ path = "l.gpkg", column = "f", class_column = "c" }': "not both",
        '{ path = "l.gpkg", classes = { park = 0 } }': "give `class_column`",
        '{ path = "l.gpkg", class_column = "c", classes = { park = -1 } }':
            r"`coverage\.weights\.classes\.park`",
        '{ path = "l.gpkg", class_column = "c", classes = [1] }': "table of class = weight",
        '{ path = "l.gpkg", class_column = "c", default = nan }': r"`coverage\.weights\.default`",
        '{ raster = "p.tif", band = 0 }': r"`coverage\.weights\.band`",
        '{ path = "l.gpkg", klass_column = "c" }': r"unknown key.*klass_column",
    }
    for text, match in bad.items():
        with pytest.raises(ConfigError, match=match):
            _cfg(tmp_path, text)


# ----------------------------------------------------------------------------- a study


def _study(tmp_path, weights: str, *, blocks=None):
    r"""Two dongs on a 2 x 1 grid of streets; blocks and residents by hand.

    Dong W (x < 200) has 8,000 residents, dong E (x >= 200) 2,000. Blocks:
    B1 (0,0)-(100,100), B2 (100,0)-(200,300) (3 ha, one origin), B3 (200,0)-(300,100),
    B4 (300,0)-(400,100). Streets along y = -10 and x = -10 (every block within 250 m).
    """
    geoms = blocks or [box(0, 0, 100, 100), box(100, 0, 200, 300), box(200, 0, 300, 100),
                       box(300, 0, 400, 100)]
    gpd.GeoDataFrame({"block_id": list(range(1, len(geoms) + 1))}, crs=CRS,
                     geometry=[shapely.affinity.translate(g, X0, Y0) for g in geoms]).to_file(
        tmp_path / "blocks.geojson")
    gpd.GeoDataFrame({"name": ["서", "동"], "code": ["11", "12"], "pop": [8000, 2000]},
                     geometry=[box(X0 - 50, Y0 - 50, X0 + 200, Y0 + 400),
                               box(X0 + 200, Y0 - 50, X0 + 450, Y0 + 400)],
                     crs=CRS).to_file(tmp_path / "dong.geojson")
    pd.DataFrame({"id": ["b1"], "x": [X0 - 10], "y": [Y0 - 10]}).to_csv(tmp_path / "b.csv",
                                                                       index=False)
    cfg = hand_study(tmp_path, layer_toml("bike", "b.csv", name=False),
                     coverage=f"weights = {weights}")
    nodes = {0: (X0 - 10, Y0 - 10), 1: (X0 - 10, Y0 + 2000), 2: (X0 + 2000, Y0 - 10)}
    net = network_from_graph(osm_graph(nodes, [(0, 1), (0, 2)]), crs=CRS)
    return cfg, net


def _write_landuse(tmp_path, rows):
    gpd.GeoDataFrame({"cls": [c for c, _ in rows]}, crs=CRS,
                     geometry=[shapely.affinity.translate(g, X0, Y0) for _, g in rows]).to_file(
        tmp_path / "landuse.gpkg")


def test_landuse_layer_must_be_polygons(tmp_path):
    """A land-use line (a park's edge drawn as a line) is named, not silently dropped."""
    path = tmp_path / "landuse.geojson"
    gpd.GeoDataFrame({"cls": ["park", "park"]},
                     geometry=[box(0, 0, 10, 10), shapely.LineString([(0, 0), (50, 50)])],
                     crs=CRS).to_file(path)
    with pytest.raises(InputDataError, match="feature 2 is a LineString; the land-use layer"):
        read_landuse(path, class_column="cls", crs=CRS)


def test_landuse_layer_in_a_study(tmp_path):
    """A park over all of B1 and half of B2; a school over B3.

    Dong W: B1 weighs 0, B2 30,000 - 5,000 (park over (100,0)-(200,50)) = 25,000:
    all 8,000 residents go to B2. Dong E: B3 0 (school), B4 10,000: all 2,000 to B4.
    """
    _write_landuse(tmp_path, [("park", box(0, 0, 200, 50)), ("park", box(0, 0, 100, 100)),
                              ("school", box(200, 0, 300, 100))])
    cfg, net = _study(tmp_path, '{ path = "landuse.gpkg", class_column = "cls" }')
    r = run_study(cfg, network=net, cache=False)
    assert r.blocks["population"].tolist() == pytest.approx([0, 8000, 0, 2000])
    # `classes` overrides the built-in weights: the school holds residents at 0.5
    cfg, net = _study(tmp_path, '{ path = "landuse.gpkg", class_column = "cls", classes = '
                                '{ school = 0.5 } }')
    r = run_study(cfg, network=net, cache=False)
    assert r.blocks["population"].tolist() == pytest.approx(
        [0, 8000, 2000 * 5000 / 15000, 2000 * 10000 / 15000])
    assert r.blocks["population"].sum() == pytest.approx(10_000)
    # the report says how the residents were spread
    from sharemap.report import render_report

    assert "the land use of landuse.gpkg (class weights" in render_report(r)


def test_a_block_s_origins_hold_residents_where_they_live(tmp_path):
    """B2 = (0,150)-(200,350) (4 ha): 4 origins at (50|150, 200|300); a park over its
    northern half (y > 250). Dong W's 8,000 residents: B1 10,000 of weight, B2 20,000.

    B2's residents live at its two southern origins (half each), so its walk is theirs:
    the bike station at (-10,-10) is 60 + 210 = 270 m from (50,200) and 160 + 210 =
    370 m from (150,200) -> the median 270 m (3.375 min). Shared by area it would be
    370 m (270, 370, 370, 470).
    """
    blocks = [box(0, 0, 100, 100), box(0, 150, 200, 350)]
    _write_landuse(tmp_path, [("park", box(0, 250, 200, 350))])
    cfg, net = _study(tmp_path, '{ path = "landuse.gpkg", class_column = "cls" }',
                      blocks=blocks)
    r = run_study(cfg, network=net, cache=False)
    b = r.blocks.set_index("block_id")
    assert b["n_origins"].tolist() == [1, 4]
    assert b["population"].tolist() == pytest.approx([8000 / 3, 16000 / 3])
    mine = r.origins[r.origins["block_id"] == 2]
    y = mine.geometry.y.to_numpy() - Y0
    assert mine["share"].to_numpy()[y < 250].tolist() == pytest.approx([0.5, 0.5])
    assert mine["share"].to_numpy()[y > 250].tolist() == pytest.approx([0.0, 0.0])
    assert sorted(mine["walk_min_bike"] * 80) == pytest.approx([270, 370, 370, 470])
    assert b.loc[2, "walk_min_bike"] == pytest.approx(270 / 80)
    by_area = run_study(dataclasses.replace(cfg, coverage=dataclasses.replace(
        cfg.coverage, weights=None)), network=net, cache=False)
    assert by_area.blocks["walk_min_bike"].iloc[1] == pytest.approx(370 / 80)


# ----------------------------------------------------------------------------- OSM

_OSM = """<?xml version="1.0" encoding="UTF-8"?>
<osm version="0.6" generator="hand">
{nodes}
 <way id="1" version="1"><nd ref="1"/><nd ref="2"/><nd ref="3"/><nd ref="4"/><nd ref="1"/>
  <tag k="leisure" v="park"/><tag k="landuse" v="grass"/></way>
 <way id="2" version="1"><nd ref="5"/><nd ref="6"/><nd ref="7"/><nd ref="8"/><nd ref="5"/>
 </way>
 <way id="3" version="1"><nd ref="9"/><nd ref="10"/><nd ref="11"/><nd ref="12"/><nd ref="9"/>
 </way>
 <relation id="1" version="1"><member type="way" ref="2" role="outer"/>
  <member type="way" ref="3" role="inner"/>
  <tag k="type" v="multipolygon"/><tag k="landuse" v="residential"/></relation>
 <way id="4" version="1"><nd ref="1"/><nd ref="3"/><tag k="highway" v="footway"/></way>
</osm>
"""


def _osm_file(tmp_path):
    """A park (100 m x 100 m, also landuse=grass) and a residential multipolygon with a hole.

    Park: (0,0)-(100,100). Residential: (200,0)-(400,200) less (250,50)-(350,150):
    40,000 - 10,000 = 30,000 m². Coordinates in EPSG:5186 metres from (X0, Y0).
    """
    xy = [(0, 0), (100, 0), (100, 100), (0, 100), (200, 0), (400, 0), (400, 200), (200, 200),
          (250, 50), (350, 50), (350, 150), (250, 150)]
    pts = gpd.GeoSeries.from_xy([X0 + x for x, _ in xy], [Y0 + y for _, y in xy],
                                crs=CRS).to_crs(4326)
    nodes = "\n".join(f' <node id="{i}" version="1" lat="{p.y:.9f}" lon="{p.x:.9f}"/>'
                      for i, p in enumerate(pts, start=1))
    path = tmp_path / "land.osm"
    path.write_text(_OSM.format(nodes=nodes), encoding="utf-8")
    return path


def test_osm_xml_and_pbf_land_use(tmp_path):
    xml = _osm_file(tmp_path)
    land = read_osm_landuse(xml, crs=CRS)
    areas = {c: round(float(a)) for c, a in zip(land["class"], land.area, strict=True)}
    assert areas == {"leisure=park": 10_000, "landuse=grass": 10_000,
                     "landuse=residential": 30_000}
    osmium = pytest.importorskip("osmium")
    pbf = tmp_path / "land.osm.pbf"
    writer = osmium.SimpleWriter(str(pbf))
    for obj in osmium.FileProcessor(str(xml)):
        writer.add(obj)
    writer.close()
    land_pbf = read_osm_landuse(pbf, crs=CRS)
    areas_pbf = dict(zip(land_pbf["class"], land_pbf.area, strict=True))
    assert areas_pbf == pytest.approx(areas, rel=1e-4)  # PBF keeps 1e-7 degrees (~1 cm)
    # weights: the park 0, the residential land 1 (its hole is unmapped: default 1)
    part = gpd.GeoSeries([box(X0, Y0, X0 + 400, Y0 + 200)], crs=CRS)
    assert landuse_weights(part, land).tolist() == pytest.approx([80_000 - 10_000])
    # unmapped land (and unnamed classes) at 0: only the residential land counts
    assert landuse_weights(part, land, classes={"landuse=residential": 1.0},
                           default=0.0).tolist() == pytest.approx([30_000])


def test_osm_weights_in_a_study(tmp_path):
    """B1 (0,0)-(100,100) is the park: dong W's 8,000 residents all go to B2."""
    import shutil

    shutil.copy(_osm_file(tmp_path), tmp_path / "area.osm")
    cfg, net = _study(tmp_path, '{ osm = "area.osm" }')
    r = run_study(cfg, network=net, cache=False)
    assert r.blocks["population"].tolist()[:2] == pytest.approx([0, 8000], abs=0.01)


# ----------------------------------------------------------------------------- raster


def _tif(path, values, *, x0=X0, y1=Y0 + 200, cell=100.0, crs=CRS, nodata=-1.0):
    """A GeoTIFF of `values` (rows north to south), cells `cell` m, top-left at (x0, y1)."""
    rasterio = pytest.importorskip("rasterio")
    from affine import Affine

    arr = np.asarray(values, dtype="float32")
    with rasterio.open(path, "w", driver="GTiff", height=arr.shape[0], width=arr.shape[1],
                       count=1, dtype="float32", crs=crs, nodata=nodata,
                       transform=Affine(cell, 0.0, x0, 0.0, -cell, y1)) as dst:
        dst.write(arr, 1)
    return path


def test_raster_sums_cells_by_the_share_inside(tmp_path):
    r"""A 2 x 4 grid of 100 m cells over (0,0)-(400,200), residents per cell::

        north  10  20  30  -1 (nodata)
        south   1   2   3   4

    A part (0,0)-(100,100) holds the south-west cell: 1. A part (50,50)-(150,150) a
    quarter of four cells: (10 + 20 + 1 + 2) / 4 = 8.25. The whole grid: 70. A part
    beyond the grid: 0.
    """
    path = _tif(tmp_path / "pop.tif", [[10, 20, 30, -1], [1, 2, 3, 4]])
    parts = gpd.GeoSeries([box(X0, Y0, X0 + 100, Y0 + 100),
                           box(X0 + 50, Y0 + 50, X0 + 150, Y0 + 150),
                           box(X0, Y0, X0 + 400, Y0 + 200),
                           box(X0 + 900, Y0, X0 + 1000, Y0 + 100)], crs=CRS)
    assert raster_weights(parts, path).tolist() == pytest.approx([1.0, 8.25, 70.0, 0.0])
    # a grid in another CRS (WGS84, like WorldPop) is summed in its own CRS
    assert raster_weights(parts.to_crs(4326), path).tolist() == pytest.approx(
        [1.0, 8.25, 70.0, 0.0], rel=1e-6)


def test_raster_weights_in_a_study_conserve_each_unit(tmp_path):
    """Cells: B1 (0,0)-(100,100) holds 1, B2 (100,0)-(200,300) 2 + 20 = 22 (its third
    row is beyond the grid), B3 3, B4 4. Dong W 8,000 -> 8,000/23 and 8,000 x 22/23;
    dong E 2,000 -> 2,000 x 3/7 and 2,000 x 4/7."""
    _tif(tmp_path / "pop.tif", [[10, 20, 30, -1], [1, 2, 3, 4]])
    cfg, net = _study(tmp_path, '{ raster = "pop.tif" }')
    r = run_study(cfg, network=net, cache=False)
    assert r.blocks["population"].tolist() == pytest.approx(
        [8000 / 23, 8000 * 22 / 23, 2000 * 3 / 7, 2000 * 4 / 7])
    assert r.blocks["population"].sum() == pytest.approx(10_000)


def test_raster_errors(tmp_path):
    parts = gpd.GeoSeries([box(X0, Y0, X0 + 100, Y0 + 100)], crs=CRS)
    bad = _tif(tmp_path / "neg.tif", [[10, -5], [1, 2]])
    whole = gpd.GeoSeries([box(X0, Y0, X0 + 200, Y0 + 200)], crs=CRS)
    with pytest.raises(InputDataError, match=r"neg.tif: cell \(row 1, column 2\) holds -5"):
        raster_weights(whole, bad)
    # only the cells under the study are read (a national grid is large)
    assert raster_weights(parts, bad).tolist() == [1.0]
    good = _tif(tmp_path / "ok.tif", [[1, 2], [3, 4]])
    with pytest.raises(InputDataError, match="no band 2"):
        raster_weights(parts, good, band=2)
    (tmp_path / "junk.tif").write_bytes(b"not a tiff")
    with pytest.raises(InputDataError, match=r"junk\.tif: cannot read the population grid"):
        raster_weights(parts, tmp_path / "junk.tif")
    rasterio = pytest.importorskip("rasterio")
    from affine import Affine

    with rasterio.open(tmp_path / "nocrs.tif", "w", driver="GTiff", height=1, width=1, count=1,
                       dtype="float32", transform=Affine(100.0, 0.0, X0, 0.0, -100.0, Y0)) as dst:
        dst.write(np.ones((1, 1), dtype="float32"), 1)
    with pytest.raises(InputDataError, match="has no CRS"):
        raster_weights(parts, tmp_path / "nocrs.tif")


# ----------------------------------------------------------------------------- the check


def test_block_holding_most_of_its_unit_is_named():
    """Unit A: 80 of 100 on block 11 (named); unit B: 50/50 (exactly half: not more);
    unit C: one block (named, its only block); unit D: 51 of 100 on block 51 (just more
    than half: named); a block in no unit is not counted."""
    from sharemap.checks import concentration_check

    blocks = pd.DataFrame({
        "block_id": [11, 12, 13, 21, 22, 31, 41, 51, 52],
        "dong": ["A", "A", "A", "B", "B", "C", None, "D", "D"],
        "dong_id": ["a", "a", "a", "b", "b", "c", None, "d", "d"],
        "population": [80.0, 10.0, 10.0, 50.0, 50.0, 7.0, 900.0, 51.0, 49.0],
    })
    check = concentration_check(blocks, "dong", weighted=False)
    assert (check.name, check.status, check.figure) == ("block_holds_most_of_unit", "warning", 3)
    assert "block 31 (C: 7 of 7 residents, 100.0%, its only block)" in check.message
    assert "block 11 (A: 80 of 100 residents, 80.0%)" in check.message
    assert "block 51 (D: 51 of 100 residents, 51.0%)" in check.message
    assert "block 21" not in check.message and "block 41" not in check.message
    assert "give [coverage] weights" in check.message
    assert check.as_dict() == {"name": "block_holds_most_of_unit", "status": "warning",
                               "figure": 3, "message": check.message}
    even = blocks[blocks["dong"] == "B"]
    assert concentration_check(even, "dong", weighted=True).status == "ok"


# ----------------------------------------------------------------------------- real data


@pytest.mark.seoul
def test_real_jeonnong2_residents_leave_the_park_and_campus(seoul_data, tmp_path):
    """Issue 12, finding 4: spread by block area, 15,080 of 전농2동's 19,192 residents (79%)
    land on block 507 (배봉산 and the University of Seoul campus, 1.06 km²).

    No land-use layer of Dongdaemun-gu is in ../shared/data/seoul, so this test draws
    one by hand from block 507's own geometry (EPSG:5186): the part of the block east
    of x = 205,500 is the park (배봉산, class ``park``), the part in
    (204,700, 553,500)-(205,500, 554,300) the campus (class ``university``); the rest of
    the block (its northern and south-western edges) is left unmapped and so keeps
    weight 1, as does every other block of the district.
    """
    from conftest import dongdaemun_toml

    from sharemap import read_config

    cfg_path = tmp_path / "study.toml"
    cfg_path.write_text(dongdaemun_toml(seoul_data), encoding="utf-8")
    config = read_config(cfg_path)
    before = run_study(config)
    b0 = before.blocks.set_index("block_id")
    dong = b0.loc[507, "dong"]
    assert dong == "전농2동"
    in_dong = b0[b0["dong"] == dong]
    assert in_dong["population"].sum() == pytest.approx(19_192, abs=1)
    assert b0.loc[507, "population"] == pytest.approx(15_080, abs=1)  # as the issue saw
    assert b0.loc[507, "n_origins"] > 1  # and judged from many points, not one
    # the study says so: a warning naming block 507 (and 회기동's block 138, 61%)
    (warn,) = [c for c in before.summary["checks"] if c["name"] == "block_holds_most_of_unit"]
    assert warn["status"] == "warning" and warn["figure"] == 2
    assert "block 507 (전농2동: 15,080 of 19,192 residents, 78.6%)" in warn["message"]
    assert "block 138 (회기동: 7,723 of 12,566 residents, 61.5%)" in warn["message"]
    # block 138 (forest and campus) heads the facility gap list: the warning flags that row
    gaps = before.gaps[(before.gaps["kind"] == "block") & (before.gaps["category"] == "facility")]
    assert gaps.sort_values("rank").iloc[0]["block_id"] == 138

    geom = b0.loc[507, "geometry"]
    _, y0, x1, y1 = geom.bounds
    park = geom.intersection(box(205_500, y0 - 1, x1 + 1, y1 + 1))
    campus = geom.intersection(box(204_700, 553_500, 205_500, 554_300))
    land = gpd.GeoDataFrame({"class": ["park", "university"]}, geometry=[park, campus],
                            crs=CRS)
    land.to_file(tmp_path / "landuse.gpkg")
    weighted = dataclasses.replace(config, coverage=dataclasses.replace(
        config.coverage, weights=_landuse_config(tmp_path / "landuse.gpkg")))
    after = run_study(weighted)
    b1 = after.blocks.set_index("block_id")
    # the dong keeps its residents; block 507 keeps those of its unmapped land only
    assert b1.loc[b1["dong"] == dong, "population"].sum() == pytest.approx(19_192, abs=1)
    left = geom.area - shapely.union_all([park, campus]).area
    assert 0 < left < 0.2 * geom.area
    others = sum(b1.loc[i, "geometry"].area for i in in_dong.index if i != 507)
    want = 19_192 * left / (left + others)
    assert b1.loc[507, "population"] == pytest.approx(want, rel=1e-3)
    assert b1.loc[507, "population"] < 0.5 * 19_192
    assert b1.loc[507, "population"] == pytest.approx(4_737, abs=1)  # the README's figure
    # no block holds most of 전농2동 any more; every other block of it gained residents
    assert b1.loc[b1["dong"] == dong, "population"].max() < 0.5 * 19_192
    gained = b1.loc[in_dong.index.drop(507), "population"] > in_dong["population"].drop(507)
    assert gained.all()
    # the origins in the park and on the campus hold no residents
    mine = after.origins[after.origins["block_id"] == 507]
    on_land = mine.geometry.within(shapely.union_all([park, campus]).buffer(-1))
    assert on_land.sum() > 50 and (mine.loc[on_land, "population"] == 0).all()
    assert (mine["population"] == 0).sum() == 89 and len(mine) == 101  # the README's figures
    assert mine["population"].sum() == pytest.approx(b1.loc[507, "population"], rel=1e-9)
    # and the warning no longer names it (the layer marks nothing in 회기동: 138 stays)
    (warn,) = [c for c in after.checks if c.name == "block_holds_most_of_unit"]
    assert "block 507 " not in warn.message and "block 138 " in warn.message


def _landuse_config(path):
    from sharemap.config import WeightsConfig

    return WeightsConfig(path=path, source="landuse", class_column="class")


def test_classes_that_name_no_class_of_the_layer_are_refused(tmp_path):
    """A Korean land-use layer whose classes are `근린공원` and `학교용지`, weighed with the
    README's example `classes = { "공원" = 0, "학교" = 0 }`: no key names a class of the layer,
    so every square metre weighed the default 1, exactly as without weights, and the
    figures did not move (B1 kept 2,000 residents under its park) without a word. Now one
    line names the keys, the layer's classes and the fix; a key the layer does have keeps
    working."""
    _write_landuse(tmp_path, [("근린공원", box(0, 0, 100, 100)),
                              ("학교용지", box(200, 0, 300, 100))])
    cfg, net = _study(tmp_path, '{ path = "landuse.gpkg", class_column = "cls", classes = '
                                '{ "공원" = 0, "학교" = 0 } }')
    with pytest.raises(InputDataError) as err:
        run_study(cfg, network=net, cache=False)
    msg = str(err.value)
    for part in ("landuse.gpkg", "공원", "학교", "'근린공원'", "'학교용지'", "classes"):
        assert part in msg, (part, msg)
    assert "\n" not in msg
    cfg, net = _study(tmp_path, '{ path = "landuse.gpkg", class_column = "cls", classes = '
                                '{ "근린공원" = 0, "학교" = 0 } }')
    r = run_study(cfg, network=net, cache=False)
    assert r.blocks["population"].tolist()[0] == pytest.approx(0.0)  # the park holds no one
