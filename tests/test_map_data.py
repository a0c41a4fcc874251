"""Tests of the compact map layers: what the saved page carries, decoded independently.

The page holds each layer as ``sharemap.fill(<layer>, {...})`` (see sharemap/_map_data.py):
integer micro-degree coordinate differences and column-wise properties. Here the page is
parsed with ``json`` and decoded with numpy (a ``cumsum``, not the package's decoder), and
compared with the input layers; the static figure's compound paths are checked against
the polygons' areas, holes included.
"""

from __future__ import annotations

import html
import json
import math
import re

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from shapely.geometry import MultiPolygon, Point, Polygon, box

from sharemap._map_data import DataLayer, id_list_column, number_column, text_column
from sharemap.maps import build_map, notebook_map, render_html, save_map, static_map

X0, Y0 = 200_000.0, 550_000.0
CRS = "EPSG:5186"
HOSTILE = '<img src=x onerror="window.__pwned=1">{{ 7 * 7 }}'


def page_layers(page: str) -> list[dict]:
    """Every encoded layer in a page, in page order, parsed as JSON."""
    decoder = json.JSONDecoder()
    return [decoder.raw_decode(page, mt.end())[0]
            for mt in re.finditer(r"sharemap\.fill\(\w+, ", page)]


def layer_with(page: str, column: str) -> dict:
    (found,) = [layer for layer in page_layers(page) if column in layer["c"]]
    return found


def shapes(layer: dict) -> list:
    """The layer's geometries (WGS84), decoded with a cumulative sum of the differences."""
    xy = np.asarray(layer["x"], dtype=np.int64).reshape(-1, 2).cumsum(axis=0) / 1e6
    if layer["k"] == "point":
        return [Point(p) for p in xy]
    n = layer["n"]
    parts = layer["f"] or [1] * n
    rings_per_part = layer["p"] or [1] * sum(parts)
    sizes = iter(layer["r"])
    n_rings = iter(rings_per_part)
    pos = 0
    out = []
    for n_parts in parts:
        polys = []
        for _ in range(n_parts):
            rings = []
            for _ in range(next(n_rings)):
                size = next(sizes)
                rings.append(xy[pos:pos + size])
                pos += size
            polys.append(Polygon(rings[0], rings[1:]))
        out.append(polys[0] if len(polys) == 1 else MultiPolygon(polys))
    assert pos == len(xy)  # every coordinate used
    return out


def values(layer: dict, column: str) -> list:
    """One property column, decoded (dictionary and id-list columns expanded)."""
    col = layer["c"][column]
    if isinstance(col, list):
        return col
    if "l" in col:
        return [None if ids is None else ",".join(col["d"][k] for k in ids) for ids in col["l"]]
    return [None if k is None else col["d"][k] for k in col["i"]]


def odd_blocks() -> gpd.GeoDataFrame:
    """Blocks with a hole (whose ring runs the same way as its exterior), two parts, an L."""
    shell = [(0, 0), (120, 0), (120, 90), (0, 90)]
    hole_same_way = [(30, 30), (70, 30), (70, 60), (30, 60)]
    donut = Polygon(shell, [hole_same_way])
    assert donut.is_valid and donut.interiors[0].is_ccw == donut.exterior.is_ccw
    two = MultiPolygon([box(150, 0, 200, 40), box(150, 50, 200, 90)])
    ell = Polygon([(230, 0), (330, 0), (330, 30), (260, 30), (260, 90), (230, 90)])
    geoms = [shapely.affinity.translate(g, X0, Y0) for g in (donut, two, ell)]
    return gpd.GeoDataFrame(
        {"block_id": ["A-1", "B&2", "C<3>"], "area_m2": [g.area for g in geoms],
         "population": [10.4, np.nan, 3_456_789.0], "dong": [HOSTILE, "회기동", "회기동"],
         "walk_min_bike": [1.25, np.nan, 30.0], "adjacent_spaces": [0, 1, 9],
         "adjacent_categories": [0, 1, 2], "adjacent_space_ids": ["", "s,1", "s,1,x{y}"],
         "candidate": [False, True, pd.NA], "village_id": pd.array([pd.NA, 7, 7], "Int64")},
        geometry=geoms, crs=CRS)


def one_space() -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame({"space_id": ["s"], "category": ["bike"], "name": [HOSTILE]},
                            geometry=[Point(X0 + 60, Y0 + 80)], crs=CRS)


@pytest.fixture(scope="module")
def odd_page():
    blocks = odd_blocks()
    m = build_map(blocks, one_space(), blocks.iloc[:0], color_by="walk_min_bike", tiles=None)
    return blocks, m, render_html(m)


def test_page_geometry_round_trips_within_a_fifth_of_a_metre(odd_page):
    blocks, _m, page = odd_page
    layer = layer_with(page, "block_id")
    assert layer["n"] == 3 and layer["f"] == [1, 2, 1] and layer["p"] == [2, 1, 1, 1]
    back = gpd.GeoSeries(shapes(layer), crs=4326).to_crs(CRS)
    for got, want in zip(back, blocks.geometry, strict=True):
        assert got.geom_type == want.geom_type
        assert got.hausdorff_distance(want) < 0.2
        assert got.area == pytest.approx(want.area, abs=0.2 * want.length)
    assert back.iloc[0].interiors[0].centroid.distance(Point(X0 + 50, Y0 + 45)) < 0.2
    assert not back.iloc[0].contains(Point(X0 + 50, Y0 + 45))


def test_page_coordinates_are_micro_degrees(odd_page):
    _blocks, _m, page = odd_page
    layer = layer_with(page, "block_id")
    lon, lat = gpd.GeoSeries([Point(X0, Y0)], crs=CRS).to_crs(4326).iloc[0].coords[0]
    # the first vertex is absolute, rounded to 6 decimals; the others are differences
    assert layer["x"][:2] == [round(lon * 1e6), round(lat * 1e6)]
    assert all(isinstance(v, int) for v in layer["x"])
    assert max(abs(v) for v in layer["x"][2:]) < 2_000  # a few hundred metres at most
    # exterior + hole + 2 parts + L: 4 + 4 + 4 + 4 + 6 vertices, closing ones not stored
    assert layer["r"] == [4, 4, 4, 4, 6] and len(layer["x"]) == 2 * 22


def test_page_values_are_escaped_and_exact(odd_page):
    _blocks, _m, page = odd_page
    layer = layer_with(page, "block_id")
    assert values(layer, "block_id") == ["A-1", "B&amp;2", "C&lt;3&gt;"]
    assert values(layer, "dong") == [html.escape(HOSTILE).replace("{", "&#123;").replace(
        "}", "&#125;"), "회기동", "회기동"]
    assert values(layer, "population") == [10, None, 3_456_789]
    assert values(layer, "walk_min_bike") == [1.2, None, 30]  # one decimal (half to even)
    assert values(layer, "adjacent_space_ids") == [None, "s,1", "s,1,x&#123;y&#125;"]
    assert layer["c"]["adjacent_space_ids"]["d"] == ["s", "1", "x&#123;y&#125;"]  # ids once
    assert values(layer, "candidate") == [False, True, False]
    assert values(layer, "village_id") == [None, 7, 7]
    assert values(layer, "class") == [0, 4, 3]  # 1.25 min, unreachable, over 15 min
    # nothing raw in the page: the payload and the names only appear escaped
    assert HOSTILE not in page and "<img" not in page and "{{ 7" not in page
    assert "\\u003cimg" not in page  # escaped as HTML before the JSON escapes


def test_folium_data_and_bounds_match_the_page(odd_page):
    """`GeoJson.data` (what an analyst reads) is what the page carries."""
    _blocks, m, page = odd_page
    layer = layer_with(page, "block_id")
    (gj,) = [c for g in m._children.values() for c in g._children.values()
             if isinstance(c, DataLayer) and "block_id" in c.encoded]
    feats = gj.data["features"]
    assert [f["properties"]["block_id"] for f in feats] == values(layer, "block_id")
    for feat, shape in zip(feats, shapes(layer), strict=True):
        assert shapely.geometry.shape(feat["geometry"]).equals_exact(shape, 1e-9)
    (south, west), (north, east) = m.get_bounds()
    xy = np.asarray(layer["x"]).reshape(-1, 2).cumsum(axis=0) / 1e6
    assert (west, south) == pytest.approx(tuple(xy.min(axis=0)), abs=1e-9)
    assert (east, north) == pytest.approx(tuple(xy.max(axis=0)), abs=1e-9)


def test_every_render_path_carries_the_data(odd_page, tmp_path):
    _blocks, m, page = odd_page
    encoded = layer_with(page, "block_id")
    assert layer_with(render_html(m), "block_id") == encoded  # rendering again
    saved = save_map(m, tmp_path / "m.html").read_text(encoding="utf-8")
    assert layer_with(saved, "block_id") == encoded
    shown = notebook_map(m)._repr_html_()
    inner = html.unescape(shown.split('srcdoc="', 1)[1].split('" style=', 1)[0])
    assert layer_with(inner, "block_id") == encoded
    # folium's own notebook display and m.save() (an analyst's habits) carry it too
    folium_page = m.get_root().render()
    assert layer_with(folium_page, "block_id") == encoded
    m.save(str(tmp_path / "folium.html"))
    assert layer_with((tmp_path / "folium.html").read_text(encoding="utf-8"),
                      "block_id") == encoded


def test_encoded_layer_is_never_parsed_as_a_template():
    """The data goes into the page after jinja ran: template syntax in it stays text."""
    import folium

    m = folium.Map(tiles=None)
    payload = '{"k":"point","n":0,"x":[],"c":{"a":["{{ 7 * 7 }}{% if %}{#"]},"s":{}}'
    layer = DataLayer(payload).add_to(m)
    page = m.get_root().render()
    # unchanged: jinja would have printed 49, and raised on the unclosed `{% if %}`
    assert f"sharemap.fill({layer.get_name()}, {payload});" in page


def _layer_options(m) -> dict[str, dict]:
    """Each data layer's Leaflet options, by the first word of its layer-control name."""
    return {g.layer_name.split()[0]: c.options for g in m._children.values()
            for c in g._children.values() if isinstance(c, DataLayer)}


@pytest.mark.parametrize(("threshold", "canvas"), [(3, False), (2, True)])
def test_more_blocks_than_the_threshold_share_one_canvas(monkeypatch, threshold, canvas):
    from sharemap import maps

    monkeypatch.setattr(maps, "CANVAS_THRESHOLD", threshold)
    blocks = odd_blocks()  # 3 blocks
    village = blocks.iloc[:1].assign(rank=1)
    bounds = gpd.GeoDataFrame({"name": ["gu"]}, geometry=[box(X0 - 9, Y0 - 9, X0 + 400, Y0 + 99)],
                              crs=CRS)
    iso = gpd.GeoDataFrame({"space_id": ["s"], "category": ["bike"], "minutes": [5]},
                           geometry=[Point(X0, Y0).buffer(50)], crs=CRS)
    m = build_map(blocks, one_space(), village, boundaries=bounds, isochrones=iso, tiles=None)
    options = _layer_options(m)
    assert sorted(options) == ["Blocks", "Boundaries", "Isochrones", "Sharing", "bike"]
    shared = {name for name, opts in options.items() if "sharemap_canvas" in opts}
    # blocks and the boundaries and isochrones below them on one canvas (so the blocks
    # take the clicks there too); the layers above stay as they were
    assert shared == ({"Blocks", "Boundaries", "Isochrones"} if canvas else set())
    assert {options[n]["sharemap_canvas"] for n in shared} <= {"sharemap-blocks"}
    page = render_html(m)
    assert page.count('"sharemapCanvas": "sharemap-blocks"') == len(shared)


def test_map_is_fitted_before_anything_is_drawn():
    """Fitting after the layers were added would project and draw every feature twice."""
    m = build_map(odd_blocks(), one_space(), odd_blocks().iloc[:0])  # with tiles
    page = m.get_root().render()  # folium's page: Leaflet itself not inlined
    fit = page.index(".fitBounds(")
    assert page.index("L.map(") < fit < page.index("L.tileLayer(")
    assert fit < page.index("sharemap.fill(sharemap_layer")
    assert re.match(r"\.fitBounds\(\s*\[\[[^]]+\], \[[^]]+\]\],\s*\{\"animate\": false\}",
                    page[fit:])
    assert page.count(".fitBounds(") == 1


def test_column_encoders():
    assert text_column(["a", "a", "b", None]) == '{"d":["a","b"],"i":[0,0,1,null]}'
    assert text_column(["x<y", "z", None]) == '["x\\u0026lt;y","z",null]'  # all distinct
    assert number_column([1.0, 2.5, math.nan, None, 3]) == "[1,2.5,null,null,3]"
    assert number_column(pd.Series([1, 2], dtype="int64")) == "[1,2]"
    assert number_column([2.25, 2.35], 1) == "[2.2,2.4]"
    assert number_column(pd.array([None, 4], dtype="Int64")) == "[null,4]"
    assert id_list_column(["a,b", None, "", "b, a", "c"]) == (
        '{"d":["a","b","c"],"l":[[0,1],null,null,[1,0],[2]]}')


@pytest.mark.seoul
def test_real_blocks_round_trip(seoul_data):
    """Dongdaemun-gu's street blocks: the page holds them to 0.2 m of what is drawn.

    Drawn is each block simplified by 0.5 m (GEOS's topology-preserving simplifier, which
    may stray a little further from the original than its tolerance).
    """
    edges = pd.read_csv(seoul_data / "network" / "dongdaemun_walk_edges.csv",
                        usecols=["geometry_wkt"])
    lines = gpd.GeoSeries(shapely.from_wkt(edges["geometry_wkt"]), crs=4326).to_crs(CRS)
    faces = shapely.get_parts(shapely.polygonize([shapely.union_all(lines.to_numpy())]))
    blocks = gpd.GeoDataFrame({"block_id": np.arange(len(faces))}, geometry=faces, crs=CRS)
    blocks = blocks[blocks.area >= 1000].reset_index(drop=True)
    blocks["adjacent_spaces"] = 1
    holes = int(shapely.get_num_interior_rings(blocks.geometry.to_numpy()).sum())
    page = render_html(build_map(blocks, one_space(), blocks.iloc[:0], tiles=None))
    layer = layer_with(page, "block_id")
    assert values(layer, "block_id") == blocks["block_id"].tolist()
    back = gpd.GeoSeries(shapes(layer), crs=4326).to_crs(CRS)
    drawn = blocks.geometry.simplify(0.5, preserve_topology=True)
    to_drawn = [a.hausdorff_distance(b) for a, b in zip(back, drawn, strict=True)]
    to_input = [a.hausdorff_distance(b) for a, b in zip(back, blocks.geometry, strict=True)]
    assert len(blocks) > 1500 and max(to_drawn) < 0.2 and max(to_input) < 1.0
    assert (np.abs(back.area - blocks.area) <= 0.6 * blocks.length).all()
    assert int(shapely.get_num_interior_rings(back.to_numpy()).sum()) == holes


# ---------------------------------------------------------------------------
# the static figure's paths


def test_static_paths_cover_the_polygons_with_their_holes():
    from matplotlib.path import Path as MplPath

    from sharemap._static_map import _path, _rings

    blocks = odd_blocks()
    path = _path(_rings(blocks.geometry.to_numpy()))
    # exterior + hole + two parts + L = 5 rings, each closed by a CLOSEPOLY vertex
    assert (path.codes == MplPath.MOVETO).sum() == 5 == (path.codes == MplPath.CLOSEPOLY).sum()
    assert len(path.vertices) == sum(shapely.get_num_coordinates(
        shapely.get_rings(shapely.get_parts(blocks.geometry.to_numpy()))))
    # signed ring areas (exteriors counter-clockwise, holes clockwise) add up to the area
    signed = sum(Polygon(ring).area * (1 if Polygon(ring).exterior.is_ccw else -1)
                 for ring in path.to_polygons(closed_only=True))
    assert signed == pytest.approx(blocks.area.sum())
    only_two = _path(_rings(blocks.geometry.to_numpy()), np.array([False, True, False]))
    assert (only_two.codes == MplPath.MOVETO).sum() == 2


def test_static_map_leaves_holes_empty(tmp_path):
    from PIL import Image

    blocks = odd_blocks()
    fig = static_map(blocks, one_space(), blocks.iloc[:0], color_by="walk_min_bike",
                     path=tmp_path / "m.png")
    with Image.open(tmp_path / "m.png") as img:
        rgb = np.asarray(img.convert("RGB"))

    def pixel(x: float, y: float) -> tuple[int, int, int]:
        px, py = fig.axes[0].transData.transform((x, y))
        return tuple(int(v) for v in rgb[rgb.shape[0] - 1 - round(py), round(px)])

    assert pixel(X0 + 10, Y0 + 10) == (0x1A, 0x98, 0x50)  # 1.25 min: the 0-5 min green
    assert pixel(X0 + 50, Y0 + 45) == (0xF4, 0xF3, 0xEF)  # the hole: plain background
    assert pixel(X0 + 175, Y0 + 20) == pixel(X0 + 175, Y0 + 70) == (0x8C, 0x8C, 0x8C)
    assert pixel(X0 + 175, Y0 + 45) == (0xF4, 0xF3, 0xEF)  # between the two parts
    assert pixel(X0 + 245, Y0 + 60) == (0xF4, 0x6D, 0x43)  # the L: over 15 min
    assert pixel(X0 + 300, Y0 + 60) == (0xF4, 0xF3, 0xEF)  # outside the L's corner
