"""Tests of the Folium map: structure, escaping, self-contained HTML, and a headless browser.

The synthetic study, in EPSG:5186 (x0 = 200,000, y0 = 550,000; metres)::

      b1 (bike)      t1 (tools)      k1 (kids & <b>toys</b>)     b2 (bike)     y0 + 150
    +--------+      +--------+      +--------+      +--------+              y0 + 95
    | blk 1  |      | blk 2  |      | blk 3  |      | blk 4  |
    | cand.  |      |        |      |        |      |        |
    +--------+      +--------+      +--------+      +--------+              y0 + 5
    x0+5..95        x0+105..195     x0+205..295     x0+305..395

Block 1 is a candidate and forms village 1. Space names include two hostile payloads:
``<img src=x onerror="window.__pwned=1">`` (b1) and ``<script>window.__pwned2=1</script>`` (t1).
Walk minutes to bike per block: 2.0, 7.5, 15.0, NaN, so the colour classes are
"0-5", "5-10", "10-15" (15 is inclusive) and "unreachable"; adjacent spaces: 3, 2, 0, 7.
"""

from __future__ import annotations

import html
import json
import math
import os
import re

import _browser  # tests/_browser.py (pytest puts tests/ on sys.path)
import folium
import geopandas as gpd
import numpy as np
import pytest
from conftest import dongdaemun_toml
from pyproj import Transformer
from shapely.geometry import Point, Polygon, box

from sharemap._errors import ConfigError, CRSError, InputDataError, MissingDependencyError
from sharemap.datasets import get_path
from sharemap.maps import (
    ADJACENT_CLASSES,
    WALK_CLASSES,
    build_map,
    escape_text,
    render_html,
    save_map,
)

X0, Y0 = 200_000.0, 550_000.0
CRS = "EPSG:5186"
PWN_IMG = '<img src=x onerror="window.__pwned=1">'
PWN_SCRIPT = "<script>window.__pwned2=1</script>"
KIDS = "kids & <b>toys</b>"
GREY = "#8c8c8c"
TILE_HOSTS = ("tile.openstreetmap.org",)


def make_blocks() -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(
        {
            "block_id": [1, 2, 3, 4],
            "area_m2": [8100.0] * 4,
            "population": [120.0, 80.0, np.nan, 40.0],
            "dong": ["회기동", "<i>dong</i>", "회기동", "회기동"],
            "walk_min_bike": [2.0, 7.5, 15.0, np.nan],
            "walk_min_tools": [4.0, 5.0, 15.1, np.nan],
            "adjacent_spaces": [3, 2, 0, 7],
            "adjacent_categories": [2, 2, 0, 3],
            "candidate": [True, False, False, False],
            "village_id": [1.0, np.nan, np.nan, np.nan],
            "adjacent_space_ids": ["b1,t1,k1", "b1,t1", "", None],
        },
        geometry=[box(X0 + 100 * i + 5, Y0 + 5, X0 + 100 * i + 95, Y0 + 95) for i in range(4)],
        crs=CRS,
    )


def make_spaces() -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(
        {
            "space_id": ["b1", "t1", "k1", "b2"],
            "category": ["bike", "tools", KIDS, "bike"],
            "name": [PWN_IMG, PWN_SCRIPT, "장난감 도서관", "Station 2"],
            "source": ["bike.csv", "tools.geojson", "toys.csv", "bike.csv"],
            "source_row": [1, 7, 3, 2],
            "snap_m": [3.0, 4.0, 5.0, 6.0],
        },
        geometry=[Point(X0 + 50 + 100 * i, Y0 + 150) for i in range(4)],
        crs=CRS,
    )


def make_villages() -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(
        {"village_id": [1], "rank": [1], "score": [3.25], "n_blocks": [1], "n_spaces": [3],
         "categories": ["bike,tools," + KIDS], "population": [120.0]},
        geometry=[box(X0 + 5, Y0 + 5, X0 + 95, Y0 + 95)], crs=CRS,
    )


def make_boundaries() -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame({"name": ["<b>회기동</b>"]},
                            geometry=[box(X0 - 20, Y0 - 20, X0 + 420, Y0 + 180)], crs=CRS)


@pytest.fixture
def layers() -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame, gpd.GeoDataFrame]:
    return make_blocks(), make_spaces(), make_villages()


def groups(m: folium.Map) -> dict[str, folium.FeatureGroup]:
    return {c.layer_name: c for c in m._children.values() if isinstance(c, folium.FeatureGroup)}


def geojson_of(group: folium.FeatureGroup) -> dict:
    (gj,) = [c for c in group._children.values() if isinstance(c, folium.GeoJson)]
    return gj.data


def group_starting(m: folium.Map, prefix: str) -> folium.FeatureGroup:
    found = [g for name, g in groups(m).items() if name.startswith(prefix)]
    assert len(found) == 1, (prefix, list(groups(m)))
    return found[0]


# ---------------------------------------------------------------------------
# structure


def test_one_feature_group_per_category_plus_blocks_and_villages(layers):
    m = build_map(*layers, tiles=None)
    names = list(groups(m))
    assert names[0].startswith("Blocks by adjacent spaces (4;")
    assert names[1] == "Sharing villages (1)"
    # categories: built-ins in SPEC order, then the user category; names escaped
    assert names[2:] == ["bike (2)", "tools (1)", html.escape(KIDS) + " (1)"]
    bike = geojson_of(groups(m)["bike (2)"])
    assert sorted(f["properties"]["space_id"] for f in bike["features"]) == ["b1", "b2"]


def test_coordinates_are_wgs84_rounded_to_6_decimals(layers):
    m = build_map(*layers, tiles=None)
    lon, lat = Transformer.from_crs(CRS, "EPSG:4326", always_xy=True).transform(X0 + 50, Y0 + 150)
    feat = geojson_of(groups(m)["bike (2)"])["features"][0]
    assert feat["geometry"]["type"] == "Point"
    assert feat["geometry"]["coordinates"] == pytest.approx((round(lon, 6), round(lat, 6)),
                                                           abs=1e-12)
    for f in geojson_of(group_starting(m, "Blocks"))["features"]:
        for x, y in f["geometry"]["coordinates"][0]:
            assert 126 < x < 128 and 37 < y < 38
            assert round(x, 6) == x and round(y, 6) == y


def test_fit_bounds_covers_all_layers(layers):
    m = build_map(*layers, boundaries=make_boundaries(), tiles=None)
    (fit,) = [c for c in m._children.values() if isinstance(c, folium.FitBounds)]
    tr = Transformer.from_crs(CRS, "EPSG:4326", always_xy=True)
    # the boundary box is the outermost layer; its corners give the bounds
    xs, ys = tr.transform([X0 - 20, X0 + 420, X0 - 20, X0 + 420],
                          [Y0 - 20, Y0 - 20, Y0 + 180, Y0 + 180])
    (south, west), (north, east) = fit.bounds
    assert south == pytest.approx(min(ys), abs=1e-6) and north == pytest.approx(max(ys), abs=1e-6)
    assert west == pytest.approx(min(xs), abs=1e-6) and east == pytest.approx(max(xs), abs=1e-6)


def test_simplifies_sub_metre_wiggles_but_keeps_shape():
    # a 90 m square with one extra vertex 0.2 m off its bottom edge, and one 5 m off its top
    ring = [(0, 0), (45, -0.2), (90, 0), (90, 90), (45, 95), (0, 90), (0, 0)]
    poly = Polygon([(X0 + x, Y0 + y) for x, y in ring])
    blocks = make_blocks().iloc[:1].set_geometry([poly], crs=CRS)
    m = build_map(blocks, make_spaces(), make_villages(), tiles=None)
    coords = geojson_of(group_starting(m, "Blocks"))["features"][0]["geometry"]["coordinates"][0]
    assert len(coords) == 6  # the 0.2 m wiggle is gone, the 5 m gable stays (5 + closing)


@pytest.mark.parametrize(
    ("color_by", "expected"),
    [
        ("walk_min_bike", [WALK_CLASSES[0][2], WALK_CLASSES[1][2], WALK_CLASSES[2][2], GREY]),
        ("walk_min_tools", [WALK_CLASSES[0][2], WALK_CLASSES[0][2], WALK_CLASSES[3][2], GREY]),
        ("adjacent_spaces", [ADJACENT_CLASSES[3][2], ADJACENT_CLASSES[2][2],
                             ADJACENT_CLASSES[0][2], ADJACENT_CLASSES[5][2]]),
    ],
)
def test_block_colours_follow_classes(layers, color_by, expected):
    m = build_map(*layers, color_by=color_by, tiles=None)
    feats = geojson_of(group_starting(m, "Blocks"))["features"]
    classes = ADJACENT_CLASSES if color_by == "adjacent_spaces" else WALK_CLASSES
    palette = [c for _u, _label, c in classes] + [GREY]  # the layer's colour per class
    assert [palette[f["properties"]["class"]] for f in feats] == expected
    # only the candidate block (block 1) is outlined (the browser test checks the drawing)
    assert [f["properties"]["candidate"] for f in feats] == [True, False, False, False]


def test_block_properties(layers):
    """Block values as the page carries them (the browser test checks the popup text)."""
    m = build_map(*layers, tiles=None)
    feats = geojson_of(group_starting(m, "Blocks"))["features"]
    assert feats[0]["properties"] == {
        "block_id": 1, "dong": "회기동", "area_m2": 8100, "population": 120,
        "walk_min_bike": 2, "walk_min_tools": 4, "adjacent_spaces": 3,
        "adjacent_categories": 2, "adjacent_space_ids": "b1,t1,k1", "candidate": True,
        "village_id": 1, "class": 3}
    second, third, fourth = (f["properties"] for f in feats[1:])
    assert second["dong"] == "&lt;i&gt;dong&lt;/i&gt;" and second["village_id"] is None
    assert second["walk_min_bike"] == 7.5 and third["population"] is None
    assert third["adjacent_space_ids"] is None and fourth["adjacent_space_ids"] is None
    assert fourth["walk_min_bike"] is None and fourth["walk_min_tools"] is None  # unreachable


def test_village_popup_and_rank_label(layers):
    m = build_map(*layers, tiles=None)
    props = geojson_of(groups(m)["Sharing villages (1)"])["features"][0]["properties"]
    assert props == {"village_id": 1, "rank": 1, "score": 3.25, "n_blocks": 1, "n_spaces": 3,
                     "population": 120, "categories": "bike,tools," + html.escape(KIDS),
                     "label": "#1", "tip": None}


def test_isochrones_and_boundaries(layers):
    iso = gpd.GeoDataFrame({"space_id": ["b1", "b1"], "category": ["bike", "bike"],
                            "minutes": [5, 15]},
                           geometry=[Point(X0 + 50, Y0 + 150).buffer(r) for r in (300, 900)],
                           crs=CRS)
    m = build_map(*layers, isochrones=iso, boundaries=make_boundaries(), tiles=None)
    feats = geojson_of(groups(m)["Isochrones (2)"])["features"]
    # the 15-minute polygon is drawn first so that the 5-minute one stays on top; without
    # a name the tooltip falls back to the space's id
    assert [f["properties"]["tip"] for f in feats] == ["b1 (bike): 15 min walk",
                                                       "b1 (bike): 5 min walk"]
    assert [f["properties"]["class"] for f in feats] == [1, 0]  # a colour per duration
    (boundary,) = geojson_of(groups(m)["Boundaries"])["features"]
    assert boundary["properties"] == {"name": "&lt;b&gt;회기동&lt;/b&gt;",
                                      "tip": "&lt;b&gt;회기동&lt;/b&gt;"}
    # drawn in this order: boundaries, isochrones, then the blocks above them
    assert list(groups(m))[:3] == ["Boundaries", "Isochrones (2)",
                                   next(n for n in groups(m) if n.startswith("Bl"))]


def test_isochrone_tooltips_name_the_space_or_the_merged_spaces(layers):
    """Issue 16: the tooltip named the space's id; merged polygons say how many they cover."""
    iso = gpd.GeoDataFrame({"space_id": ["b1", ""], "category": ["bike", KIDS],
                            "name": [PWN_IMG, "any of its 4,000 spaces"], "minutes": [5, 15],
                            "n_spaces": [1, 4000]},
                           geometry=[Point(X0 + 50, Y0 + 150).buffer(r) for r in (300, 900)],
                           crs=CRS)
    m = build_map(*layers, isochrones=iso, tiles=None)
    tips = [f["properties"]["tip"] for f in geojson_of(groups(m)["Isochrones (2)"])["features"]]
    assert tips == [f"{html.escape(KIDS)}: within a 15 min walk of any of its 4,000 spaces",
                    f"{escape_text(PWN_IMG)} (bike): 5 min walk"]


def test_empty_villages_still_listed(layers):
    blocks, spaces, villages = layers
    m = build_map(blocks, spaces, villages.iloc[:0], tiles=None)
    assert "Sharing villages (none)" in groups(m)


def test_color_by_unknown_is_config_error(layers):
    with pytest.raises(ConfigError, match=r"walk_min_toys.*adjacent_spaces, walk_min_bike, "
                                          r"walk_min_tools"):
        build_map(*layers, color_by="walk_min_toys", tiles=None)


def test_missing_crs_and_columns_are_rejected(layers):
    blocks, spaces, villages = layers
    no_crs = gpd.GeoDataFrame(spaces.drop(columns="geometry"), geometry=list(spaces.geometry))
    with pytest.raises(CRSError, match="spaces"):
        build_map(blocks, no_crs, villages, tiles=None)
    with pytest.raises(InputDataError, match="'category'"):
        build_map(blocks, spaces.drop(columns="category"), villages, tiles=None)


def test_inputs_not_mutated(layers):
    before = [gdf.copy() for gdf in layers]
    build_map(*layers, boundaries=make_boundaries(), tiles=None)
    for a, b in zip(before, layers, strict=True):
        assert a.equals(b)


def test_tiles_optional(layers):
    none = build_map(*layers, tiles=None)
    osm = build_map(*layers)
    assert not [c for c in none._children.values() if isinstance(c, folium.TileLayer)]
    assert len([c for c in osm._children.values() if isinstance(c, folium.TileLayer)]) == 1


def test_escape_text():
    assert escape_text(PWN_IMG) == "&lt;img src=x onerror=&quot;window.__pwned=1&quot;&gt;"
    assert escape_text(None) == "" and escape_text(math.nan) == ""
    assert escape_text(3) == "3"


# ---------------------------------------------------------------------------
# the saved file


def test_saved_html_is_self_contained_and_escaped(layers, tmp_path):
    m = build_map(*layers, boundaries=make_boundaries(), title="<b>Test</b> & map")
    out = save_map(m, tmp_path / "sub" / "map.html")
    assert out == tmp_path / "sub" / "map.html"
    assert [p.name for p in out.parent.iterdir()] == ["map.html"]  # no temp file left
    text = out.read_text(encoding="utf-8")
    assert not re.search(r"<script[^>]*\bsrc=", text, re.IGNORECASE)
    assert not re.search(r"<link[^>]*\bhref=[\"']?https?:", text, re.IGNORECASE)
    assert "L.map(" in text and "leaflet" in text.lower()
    # relative font/image url()s that nothing ships are dropped; data: URIs stay
    assert not re.search(r"url\(\s*(?![\"']?(?:data:|#))", text)
    assert "url(data:font/woff2" in text
    # the payloads only appear escaped
    for raw in (PWN_IMG, PWN_SCRIPT, "<b>Test</b>", KIDS, "<b>회기동</b>", "<i>dong</i>"):
        assert raw not in text
    assert "<title>&lt;b&gt;Test&lt;/b&gt; &amp; map</title>" in text
    assert 1_000_000 < len(text.encode()) < 2_500_000  # ~1.5 MB of inlined assets


def test_unknown_asset_is_a_clear_error(layers, tmp_path):
    m = build_map(*layers, tiles=None)
    url = "https://example.invalid/plugin.js"
    m.get_root().header.add_child(folium.elements.JavascriptLink(url))
    with pytest.raises(MissingDependencyError, match=re.escape(url)):
        save_map(m, tmp_path / "map.html")
    assert not (tmp_path / "map.html").exists()


def test_render_html_inlines_every_default_script(layers):
    from offlinefolium.elements import _res

    text = render_html(build_map(*layers, tiles=None))
    for _name, url in folium.Map.default_js:
        assert f'src="{url}"' not in text
        assert "<script>" + _res[url][:500] in text


@pytest.mark.seoul
def test_district_sized_map_stays_small(seoul_data, tmp_path):
    """Blocks polygonized from the real Dongdaemun-gu walk network: < 250 bytes a block."""
    import pandas as pd
    import shapely

    edges = pd.read_csv(seoul_data / "network" / "dongdaemun_walk_edges.csv",
                        usecols=["geometry_wkt"])
    lines = gpd.GeoSeries(shapely.from_wkt(edges["geometry_wkt"]), crs=4326).to_crs(CRS)
    faces = shapely.get_parts(shapely.polygonize([shapely.union_all(lines.to_numpy())]))
    blocks = gpd.GeoDataFrame(geometry=faces, crs=CRS)
    blocks = blocks[blocks.area >= 1000].reset_index(drop=True)
    n = len(blocks)
    rng = np.random.default_rng(0)
    blocks["block_id"] = np.arange(n)
    blocks["area_m2"] = blocks.area
    blocks["dong"] = "회기동"
    for cat in ("bike", "carshare", "parking", "tools", "toys", "facility"):
        blocks[f"walk_min_{cat}"] = rng.gamma(2, 4, n)
    blocks["adjacent_spaces"] = rng.integers(0, 8, n)
    blocks["candidate"] = blocks["adjacent_spaces"] >= 3
    cx, cy = blocks.representative_point().x.to_numpy(), blocks.representative_point().y.to_numpy()
    spaces = gpd.GeoDataFrame({"space_id": [f"s{i}" for i in range(300)],
                               "category": rng.choice(["bike", "tools", "toys"], 300),
                               "name": "서울 공유센터"},
                              geometry=gpd.points_from_xy(cx[:300], cy[:300]), crs=CRS)
    out = save_map(build_map(blocks, spaces, blocks.iloc[:0], tiles=None), tmp_path / "m.html")
    size = out.stat().st_size
    assert n > 1500
    # ~1.5 MB of inlined assets, then ~130 bytes a block (plain GeoJSON with a popup
    # string per block took ~600; a city's 100,000 blocks must stay well under 25 MB)
    assert size < 3e6 and (size - 1.5e6) / n < 250


# ---------------------------------------------------------------------------
# headless browser

@pytest.fixture(scope="module")
def hostile_map(tmp_path_factory):
    folder = tmp_path_factory.mktemp("maps")
    kwargs = {"boundaries": make_boundaries(), "title": "<img src=x onerror=alert(1)>"}
    with_tiles = save_map(build_map(make_blocks(), make_spaces(), make_villages(), **kwargs),
                          folder / "tiles.html")
    no_tiles = save_map(build_map(make_blocks(), make_spaces(), make_villages(), tiles=None,
                                  color_by="walk_min_bike", **kwargs), folder / "plain.html")
    return {"tiles": with_tiles, "plain": no_tiles}


def _map_var(driver) -> str:
    return driver.execute_script(
        "return Object.keys(window).find(k => k.startsWith('map_') && window[k] instanceof L.Map);")


def _layer_with(driver, text: str):
    """The Leaflet layer whose popup title contains `text` (escaped form), centred on the map."""
    return driver.execute_script(
        """
        const text = arguments[0], map = window[arguments[1]];
        let found = null;
        for (const k of Object.keys(window)) {
            const v = window[k];
            if (v instanceof L.GeoJSON) {
                v.eachLayer(l => { if ((l.feature.properties.t || '').includes(text)) found = l; });
            }
        }
        if (found && found.getLatLng) { map.setView(found.getLatLng(), 18, {animate: false}); }
        return found ? (found._icon || found._path) : null;
        """, text, _map_var(driver))


@pytest.mark.browser
@pytest.mark.parametrize("which", ["tiles", "plain"])
def test_browser_loads_offline_without_errors_or_payloads(driver, hostile_map, which):
    _browser.open_file(driver, hostile_map[which])
    assert driver.execute_script("return typeof L") == "object"  # assets were inlined
    assert _browser.severe_errors(driver, TILE_HOSTS) == []
    assert driver.execute_script("return [typeof window.__pwned, typeof window.__pwned2]") == [
        "undefined", "undefined"]
    remote = [u for u in _browser.requested_urls(driver)
              if not u.startswith(("file:", "data:", "chrome:", "about:", "blob:"))]
    if which == "plain":
        assert remote == []
    else:
        assert all(any(h in u for h in TILE_HOSTS) for u in remote), remote


@pytest.mark.browser
def test_browser_layer_control_and_vector_layers(driver, hostile_map):
    _browser.open_file(driver, hostile_map["plain"])
    labels = driver.execute_script(
        "return Array.from(document.querySelectorAll('.leaflet-control-layers-overlays label'))"
        ".map(e => e.textContent.trim());")
    assert labels[0] == "Boundaries"
    assert labels[1].startswith("Blocks by walk to bike (4;")
    assert labels[2:] == ["Sharing villages (1)", "bike (2)", "tools (1)", f"{KIDS} (1)"]
    n_paths = driver.execute_script(
        "return document.querySelectorAll('path.leaflet-interactive').length")
    assert n_paths == 1 + 4 + 1  # boundary, blocks, village
    n_markers = driver.execute_script(
        "return document.querySelectorAll('.leaflet-marker-pane .sharemap-space').length")
    assert n_markers == 4
    legend = driver.execute_script(
        "return document.querySelector('.sharemap-legend').textContent")
    assert "unreachable" in legend and KIDS in legend
    title = driver.execute_script("return document.querySelector('.sharemap-title').textContent")
    assert title == "<img src=x onerror=alert(1)>"


@pytest.mark.browser
@pytest.mark.parametrize(("needle", "raw", "source", "row"),
                         [("onerror", PWN_IMG, "bike.csv", 1),
                          ("__pwned2", PWN_SCRIPT, "tools.geojson", 7)])
def test_browser_hostile_name_shows_as_text_in_popup(driver, hostile_map, needle, raw, source,
                                                     row):
    _browser.open_file(driver, hostile_map["plain"])
    element = _layer_with(driver, needle)
    assert element is not None
    element.click()
    popup = driver.execute_script(
        "const p = document.querySelector('.leaflet-popup-content');"
        "return p && [p.textContent, p.querySelectorAll('img, script').length];")
    assert popup is not None, "no popup opened"
    assert popup[0].startswith(raw)  # the title is the literal name
    assert f"source{source}source row{row}" in popup[0]
    assert popup[1] == 0
    assert driver.execute_script("return [typeof window.__pwned, typeof window.__pwned2]") == [
        "undefined", "undefined"]
    assert _browser.severe_errors(driver, TILE_HOSTS) == []


@pytest.mark.browser
def test_browser_block_popup_and_screenshot(driver, hostile_map):
    _browser.open_file(driver, hostile_map["tiles"])
    text = driver.execute_script(
        """
        let block = null;
        for (const k of Object.keys(window)) {
            const v = window[k];
            if (v instanceof L.GeoJSON) {
                v.eachLayer(l => { if (l.feature.properties.t === 'Block 1') block = l; });
            }
        }
        block.openPopup();
        return document.querySelector('.leaflet-popup-content').textContent;
        """)
    assert "Block 1" in text and "walk to bike2.0 min" in text and "candidateyes" in text
    # without controls and popup, the picture is the data alone (tiles do not load offline)
    driver.execute_script(
        "window[arguments[0]].closePopup();"
        "document.querySelector('.leaflet-control-container').style.display = 'none';",
        _map_var(driver))
    with_data = _browser.distinct_colours(driver, driver.get_screenshot_as_png())
    driver.execute_script(
        "document.querySelectorAll('.leaflet-map-pane > .leaflet-pane:not(.leaflet-tile-pane)')"
        ".forEach(p => { p.style.display = 'none'; });")
    blank = _browser.distinct_colours(driver, driver.get_screenshot_as_png())
    assert blank <= 3
    assert with_data > 20


def test_notebook_map_is_self_contained(layers):
    from sharemap.maps import notebook_map

    shown = notebook_map(build_map(*layers, tiles=None), height_px=400)._repr_html_()
    assert shown.startswith('<iframe srcdoc="') and "height:400px" in shown
    page = html.unescape(shown.split('srcdoc="', 1)[1].split('" style=', 1)[0])
    assert page.startswith("<!DOCTYPE html>") and "L.map(" in page
    assert not re.search(r"<script[^>]*\bsrc=", page, re.IGNORECASE)


# ---------------------------------------------------------------------------
# the static figure (map.png)


def _hex(colour: str) -> tuple[int, int, int]:
    return tuple(int(colour[i:i + 2], 16) for i in (1, 3, 5))


def _pixels(path) -> np.ndarray:
    from PIL import Image

    with Image.open(path) as img:
        assert img.format == "PNG"
        return np.asarray(img.convert("RGB"))


def _pixel_at(fig, rgb: np.ndarray, x: float, y: float) -> tuple[int, int, int]:
    """The colour of the PNG pixel showing data point (x, y) of the figure's map axes."""
    ax = fig.axes[0]
    px, py = ax.transData.transform((x, y))
    return tuple(int(v) for v in rgb[rgb.shape[0] - 1 - round(py), round(px)])


def _colours(rgb: np.ndarray) -> set[tuple[int, int, int]]:
    packed = np.unique((rgb[..., 0].astype(np.int64) << 16) | (rgb[..., 1].astype(np.int64) << 8)
                       | rgb[..., 2])
    return {(int(v) >> 16, (int(v) >> 8) & 255, int(v) & 255) for v in packed}


@pytest.mark.parametrize(("color_by", "expected"), [
    # block i is drawn in its class colour: adjacent 3, 2, 0, 7 / walk 2.0, 7.5, 15.0, NaN
    ("adjacent_spaces", ["#78c679", "#c2e699", "#d9d9d9", "#006837"]),
    ("walk_min_bike", ["#1a9850", "#a6d96a", "#fee08b", GREY]),
])
def test_static_map_png_draws_blocks_in_legend_colours(layers, tmp_path, color_by, expected):
    from sharemap.maps import static_map

    path = tmp_path / "sub" / "map.png"
    fig = static_map(*layers, color_by=color_by, boundaries=make_boundaries(), path=path,
                     title="<b>회기동</b> $x$")
    assert [p.name for p in path.parent.iterdir()] == ["map.png"]  # written atomically
    rgb = _pixels(path)
    assert rgb.shape == (1050, 1350, 3)  # 9 x 7 inches at 150 dpi
    assert len(_colours(rgb)) > 200  # a real picture, not a blank or flat image
    for i, colour in enumerate(expected):  # a point inside block i, away from labels
        assert _pixel_at(fig, rgb, X0 + 100 * i + 20, Y0 + 20) == _hex(colour), i
    # spaces: a dot in its category colour (built-in bike green) at the space itself
    assert _pixel_at(fig, rgb, X0 + 50, Y0 + 150) == _hex("#2e9e3a")
    # outside every block but inside the boundary: the plain boundary fill
    assert _pixel_at(fig, rgb, X0 - 10, Y0 + 120) == _hex("#fbfaf6")
    other = {"adjacent_spaces": "#1a9850", "walk_min_bike": "#78c679"}[color_by]
    assert _hex(other) not in _colours(rgb)


def test_static_map_text_legend_and_scale_bar(layers):
    from sharemap.maps import static_map

    spaces = layers[1].copy()
    spaces.loc[2, "category"] = r"a$\frac$b"  # broken mathtext must print literally
    fig = static_map(layers[0], spaces, layers[2], boundaries=make_boundaries(), title="T")
    fig.canvas.draw()  # renders without error
    ax = fig.axes[0]
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert legend[0] == "Adjacent sharing spaces"
    assert legend[1:7] == [label for _u, label, _c in ADJACENT_CLASSES]
    assert "sharing village (#rank)" in legend
    assert legend[-4:] == ["Sharing spaces", "bike (2)", "tools (1)", r"a\$\frac\$b (1)"]
    texts = [t.get_text() for t in ax.texts]
    # the figure spans about 466 m across: the scale bar takes the round 100 m (<= a quarter)
    assert "100 m" in texts
    assert "#1" in texts and "<b>회기동</b>" in texts  # village rank and unit name, as text
    xmin, xmax = ax.get_xlim()
    assert xmin < X0 - 20 and xmax > X0 + 420  # every layer in view


def test_static_map_geographic_input_is_drawn_in_metres(layers):
    from sharemap.maps import static_map

    # blocks and spaces span x0+5 .. x0+395 (390 m) and y0+5 .. y0+150; the axes box is
    # wider than that band, so the view is 390 m plus 6% margin across
    width = np.diff(static_map(*layers).axes[0].get_xlim())[0]
    assert width == pytest.approx(390 * 1.06)
    fig = static_map(*[gdf.to_crs(4326) for gdf in layers])
    assert "100 m" in [t.get_text() for t in fig.axes[0].texts]
    width = np.diff(fig.axes[0].get_xlim())[0]
    assert width == pytest.approx(390 * 1.06, rel=0.01)  # metres (a UTM zone), not degrees


def test_static_map_korean_font_and_fallback(layers, monkeypatch, caplog, tmp_path):
    import shutil
    import subprocess

    from sharemap import _static_map
    from sharemap.maps import static_map

    has_cjk = shutil.which("fc-list") and "CJK" in subprocess.run(
        ["fc-list"], capture_output=True, text=True, check=False).stdout
    if has_cjk:
        assert _static_map.korean_font() in _static_map.KOREAN_FONTS
        fig = static_map(*layers, title="동대문구")
        assert fig.texts[0].get_fontfamily()[0] == _static_map.korean_font()
    # without any Korean font: a logged hint, no warning (warnings are errors here)
    monkeypatch.setattr(_static_map, "korean_font", lambda: None)
    with caplog.at_level("WARNING", logger="sharemap.maps"):
        static_map(*layers, title="동대문구", path=tmp_path / "m.png")
    assert "fonts-noto-cjk" in caplog.text
    assert (tmp_path / "m.png").stat().st_size > 10_000


def test_static_map_errors_and_empty_inputs(layers, tmp_path):
    from sharemap.maps import static_map

    with pytest.raises(ConfigError, match="color_by"):
        static_map(*layers, color_by="population")
    with pytest.raises(CRSError):
        static_map(layers[0].set_crs(None, allow_override=True), *layers[1:])
    empty = [gdf.iloc[:0] for gdf in layers]
    fig = static_map(*empty, path=tmp_path / "empty.png")
    assert "nothing to show" in [t.get_text() for t in fig.axes[0].texts]


# ---------------------------------------------------------------------------
# one map per unit (maps/<id>.html and maps/index.html)


def make_units() -> gpd.GeoDataFrame:
    """Units "회기동" (id "A/1": blocks 1, 3, 4), "<i>dong</i>" (id "회기": block 2), "empty"."""
    return gpd.GeoDataFrame(
        {"name": ["회기동", "<i>dong</i>", "empty"], "id": ["A/1", "회기", "Z"]},
        geometry=[box(X0, Y0, X0 + 100, Y0 + 100).union(box(X0 + 200, Y0, X0 + 400, Y0 + 100)),
                  box(X0 + 100, Y0, X0 + 200, Y0 + 100), box(X0, Y0 + 500, X0 + 10, Y0 + 510)],
        crs=CRS)


def test_save_split_maps_writes_one_map_per_unit_and_an_index(layers, tmp_path):
    from sharemap.maps import save_split_maps

    blocks = layers[0].copy()
    blocks["dong_id"] = ["A/1", "회기", "A/1", "A/1"]
    (tmp_path / "map.html").write_text("whole")  # the index links the whole-study map
    paths = save_split_maps(blocks, layers[1], layers[2], tmp_path / "maps", level="dong",
                            units=make_units(), pad_m=30.0, tiles=None, title="Study")
    assert sorted(paths) == ["A_1.html", "index.html", "회기.html"]  # no map for "empty"
    assert sorted(p.name for p in (tmp_path / "maps").iterdir()) == sorted(paths)
    index = paths["index.html"].read_text(encoding="utf-8")
    hrefs = re.findall(r'href="([^"]+)"', index)
    assert hrefs == ["../map.html", "A_1.html", "%ED%9A%8C%EA%B8%B0.html"]
    assert "&lt;i&gt;dong&lt;/i&gt;" in index and "<i>" not in index
    assert "map.png" not in index  # no overview figure beside the folder
    one = paths["A_1.html"].read_text(encoding="utf-8")
    two = paths["회기.html"].read_text(encoding="utf-8")
    assert not re.search(r"<script[^>]*\bsrc=", one + two, re.IGNORECASE)  # self-contained
    # unit A/1 has blocks 1, 3, 4 (one candidate) and village 1; unit 회기 has block 2 only
    assert "Blocks by adjacent spaces (3; 1 candidates outlined)" in one
    assert "Sharing villages (1)" in one and "Study · 회기동" in one
    assert "Blocks by adjacent spaces (1; 0 candidates outlined)" in two
    assert "Sharing villages (none)" in two and "Study · &lt;i&gt;dong&lt;/i&gt;" in two
    # spaces within 30 m of unit 회기: t1 stands 50 m above it (y0 + 150), so none;
    # with the default 400 m every space shows
    assert "bike (" not in two and "tools (" not in two
    wide = save_split_maps(blocks, layers[1], layers[2], tmp_path / "wide", level="dong",
                           units=make_units(), tiles=None)
    assert "bike (2)" in wide["회기.html"].read_text(encoding="utf-8")
    assert "index.html" in one and "all dong maps" in one  # each map links to the index


def test_save_split_maps_by_name_column_and_errors(layers, tmp_path):
    from sharemap.maps import save_split_maps

    blocks = layers[0]  # a `dong` column (names) but no `dong_id`
    units = make_units().assign(name=["회기동", "<i>dong</i>", "x"])
    paths = save_split_maps(blocks, layers[1], layers[2], tmp_path, level="dong", units=units,
                            tiles=None)
    assert sorted(paths) == ["A_1.html", "index.html", "회기.html"]
    with pytest.raises(InputDataError, match="`gu_id` nor a `gu` column"):
        save_split_maps(blocks, layers[1], layers[2], tmp_path, level="gu", units=units)
    with pytest.raises(InputDataError, match="no units"):
        save_split_maps(blocks, layers[1], layers[2], tmp_path, level="dong",
                        units=units.iloc[:0])


def test_split_by_config_key(tmp_path):
    import shutil

    from sharemap.config import read_config

    folder = shutil.copytree(get_path("demo").parent, tmp_path / "demo")  # inputs must exist
    demo = get_path("demo").read_text(encoding="utf-8")
    cfg = folder / "study.toml"
    cfg.write_text(demo.replace("[map]\n", '[map]\nsplit_by = "gu"\n'), encoding="utf-8")
    assert read_config(cfg).map.split_by == "gu"
    assert read_config(get_path("demo")).map.split_by is None
    cfg.write_text(demo.replace("[map]\n", '[map]\nsplit_by = "ward"\n'), encoding="utf-8")
    with pytest.raises(ConfigError, match=r"`map.split_by` = 'ward'.*'gu', 'dong'"):
        read_config(cfg)


def test_write_outputs_png_and_split_maps_on_the_demo(tmp_path):
    import dataclasses

    from sharemap import read_config, run_study, write_outputs

    cfg = read_config(get_path("demo"))
    cfg = dataclasses.replace(cfg, map=dataclasses.replace(cfg.map, split_by="dong"))
    result = run_study(cfg)
    paths = write_outputs(result, tmp_path)
    rgb = _pixels(paths["map.png"])
    assert rgb.shape[0] >= 1000 and len(_colours(rgb)) > 200
    units = result.boundaries["dong"]
    counts = result.blocks["dong_id"].value_counts()
    index = (tmp_path / "maps" / "index.html").read_text(encoding="utf-8")
    assert '<img src="../map.png"' in index and 'href="../map.html"' in index
    links = re.findall(r'href="([^"]+\.html)"', index)[1:]
    assert sorted(links) == sorted(f"{i}.html" for i in counts.index)
    for unit_id, n in counts.items():
        page = (tmp_path / "maps" / f"{unit_id}.html").read_text(encoding="utf-8")
        name = units.loc[units["id"] == unit_id, "name"].iloc[0]
        assert f"Blocks by adjacent spaces ({n:,};" in page and escape_text(name) in page
    summary = json.loads((tmp_path / "summary.json").read_text(encoding="utf-8"))
    assert "map.png" in summary["outputs"] and "maps/index.html" in summary["outputs"]
    assert not list(tmp_path.rglob(".*tmp*"))


# ---------------------------------------------------------------------------
# the real Dongdaemun-gu study, with a hostile venue name in a copied input file



@pytest.fixture(scope="module")
def seoul_run(seoul_data, tmp_path_factory):
    """The Dongdaemun-gu study on the real data; one Nanumcar spot is renamed to PWN_IMG."""
    import pandas as pd

    from sharemap import read_config, run_study, write_outputs

    folder = tmp_path_factory.mktemp("seoul")
    cars = pd.read_csv(seoul_data / "points" / "nanumcar_spots_2017.csv", dtype=str)
    row = cars.index[cars["gu_by_polygon"] == "동대문구"][0]
    cars.loc[row, "name"] = PWN_IMG
    cars.to_csv(folder / "cars.csv", index=False)
    toml = dongdaemun_toml(seoul_data, carshare="cars.csv",
                           extra='[map]\nsplit_by = "dong"\ntiles = "none"\n')
    (folder / "study.toml").write_text(toml, encoding="utf-8")
    result = run_study(read_config(folder / "study.toml"))
    write_outputs(result, folder / "out")
    return result, folder / "out"


@pytest.mark.seoul
def test_seoul_map_size_escaping_and_split(seoul_run):
    result, out = seoul_run
    page = (out / "map.html").read_text(encoding="utf-8")
    assert (out / "map.html").stat().st_size < 15e6
    assert PWN_IMG not in page and "onerror" in page  # present, but only escaped
    assert result.spaces["name"].eq(PWN_IMG).sum() == 1
    units = result.blocks["dong_id"].dropna().unique()
    assert len(units) >= 10  # Dongdaemun-gu has 14 dongs
    assert sorted(p.name for p in (out / "maps").glob("*.html")) == sorted(
        [*(f"{u}.html" for u in units), "index.html"])
    rgb = _pixels(out / "map.png")
    assert len(_colours(rgb)) > 500


@pytest.mark.seoul
@pytest.mark.browser
def test_browser_seoul_map_offline_layers_and_hostile_name(driver, seoul_run):
    result, out = seoul_run
    _browser.open_file(driver, out / "map.html")
    # the page is parsed and every layer drawn by DOMContentLoaded (its scripts are inline)
    ready_ms = driver.execute_script(
        "const t = performance.timing; return t.domContentLoadedEventEnd - t.navigationStart;")
    assert 0 < ready_ms < 10_000
    assert _browser.severe_errors(driver) == []
    remote = [u for u in _browser.requested_urls(driver)
              if not u.startswith(("file:", "data:", "chrome:", "about:", "blob:"))]
    assert remote == []  # no base tiles configured: nothing at all from the network
    n_paths = driver.execute_script(
        "return document.querySelectorAll('path.leaflet-interactive').length")
    assert n_paths >= len(result.blocks) + len(result.villages)  # vector layers drawn
    labels = driver.execute_script(
        "return Array.from(document.querySelectorAll('.leaflet-control-layers-overlays label'))"
        ".map(e => e.textContent.trim());")
    counts = result.spaces["category"].value_counts()
    assert [lb for lb in labels if "(" in lb and not lb.startswith(("Blocks", "Sharing"))] == [
        f"{cat} ({counts[cat]})" for cat in ("bike", "carshare", "facility")]
    assert any(lb.startswith(f"Blocks by adjacent spaces ({len(result.blocks):,};")
               for lb in labels)
    assert f"Sharing villages ({len(result.villages)})" in labels
    popup = driver.execute_script(
        """
        let found = null;
        for (const k of Object.keys(window)) {
            const v = window[k];
            if (v instanceof L.GeoJSON) {
                v.eachLayer(l => {
                    if ((l.feature.properties.t || '').includes('onerror')) { found = l; }
                });
            }
        }
        if (!found) { return null; }
        found.openPopup();  // other markers may stand on it: open it directly
        const p = document.querySelector('.leaflet-popup-content');
        return p && [p.textContent, p.querySelectorAll('img, script').length];
        """)
    assert popup is not None and popup[0].startswith(PWN_IMG) and popup[1] == 0
    assert driver.execute_script("return typeof window.__pwned") == "undefined"
    # a per-dong map, reached through the index's relative link, works offline too
    _browser.open_file(driver, out / "maps" / "index.html")
    link = driver.find_element("css selector", "td a")
    assert "/" not in link.get_dom_attribute("href")  # relative: a file beside the index
    driver.get(link.get_attribute("href"))
    assert driver.current_url.startswith((out / "maps").resolve().as_uri())
    assert driver.execute_script("return typeof L") == "object"
    assert _browser.severe_errors(driver) == []


TEMPLATE_PAYLOAD = "Q{{ 7 * 7 }}Z"
TEMPLATE_CODE = "R{{ cycler.__init__.__globals__.os.getpid() }}S"
TEMPLATE_BROKEN = "T{% if %}U"


def test_template_syntax_in_any_input_text_is_never_run(tmp_path):
    """branca renders folium output through jinja again: braces must not reach it raw.

    Every text field carries a template: if any were evaluated, "Q49Z" or the process id
    would appear, and the broken `{% if %}` would raise while rendering.
    """

    from sharemap.maps import build_map, save_map, static_map

    blocks, spaces, villages = make_blocks(), make_spaces(), make_villages()
    blocks["dong"] = [TEMPLATE_PAYLOAD, TEMPLATE_CODE, TEMPLATE_BROKEN, "x"]
    blocks["adjacent_space_ids"] = [TEMPLATE_PAYLOAD, "", "", None]
    spaces["name"] = [TEMPLATE_PAYLOAD, TEMPLATE_CODE, TEMPLATE_BROKEN, "ok"]
    spaces["space_id"] = ["b{{1}}", "t1", "k1", "b2"]
    spaces["source"] = [TEMPLATE_CODE, "a", "b", "c"]
    spaces["category"] = ["bike", TEMPLATE_PAYLOAD, KIDS, "bike"]
    villages["categories"] = [TEMPLATE_BROKEN]
    bounds = make_boundaries().assign(name=[TEMPLATE_CODE])
    iso = gpd.GeoDataFrame({"space_id": [TEMPLATE_PAYLOAD], "category": [TEMPLATE_CODE],
                            "minutes": [5.0]}, geometry=[box(X0, Y0, X0 + 50, Y0 + 50)], crs=CRS)
    m = build_map(blocks, spaces, villages, boundaries=bounds, isochrones=iso,
                  title=TEMPLATE_CODE)
    page = save_map(m, tmp_path / "map.html").read_text(encoding="utf-8")
    assert "Q49Z" not in page
    assert f"R{os.getpid()}S" not in page
    # kept as text: braces as character references (inside JSON, & is written \u0026)
    assert "Q\\u0026#123;\\u0026#123; 7 * 7 \\u0026#125;\\u0026#125;Z" in page
    static_map(blocks, spaces, villages, boundaries=bounds, title=TEMPLATE_CODE,
               path=tmp_path / "map.png")


def test_korean_font_found_even_when_matplotlibs_font_cache_predates_it(monkeypatch):
    """matplotlib caches the fonts it saw once; a Korean font installed later is still used.

    The stale cache is simulated by a font manager that lists no Korean font; sharemap
    must find the installed font file itself and register it.
    """
    import copy

    from matplotlib import font_manager

    from sharemap import _static_map

    installed = _static_map.korean_font_files()
    if not installed:
        pytest.skip("no Korean font installed (Debian: apt-get install fonts-noto-cjk)")
    stale = copy.copy(font_manager.fontManager)
    stale.ttflist = [f for f in font_manager.fontManager.ttflist
                     if f.name not in _static_map.KOREAN_FONTS]
    monkeypatch.setattr(font_manager, "fontManager", stale)
    _static_map._register_korean_fonts.cache_clear()
    try:
        assert {f.name for f in stale.ttflist}.isdisjoint(_static_map.KOREAN_FONTS)
        family = _static_map.korean_font()
        assert family in _static_map.KOREAN_FONTS
        assert family in {f.name for f in stale.ttflist}  # registered with matplotlib
    finally:  # the next test registers with the real font manager again, if need be
        _static_map._register_korean_fonts.cache_clear()
