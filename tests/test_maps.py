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
import math
import os
import re

import _browser  # tests/_browser.py (pytest puts tests/ on sys.path)
import folium
import geopandas as gpd
import numpy as np
import pytest
from pyproj import Transformer
from shapely.geometry import Point, Polygon, box

from sharemap._errors import ConfigError, CRSError, InputDataError, MissingDependencyError
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
    assert sorted(f["properties"]["v"][1] for f in bike["features"]) == ["b1", "b2"]


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
    assert [f["properties"]["style"]["fillColor"] for f in feats] == expected
    # only the candidate block (block 1) is outlined
    assert [f["properties"]["style"].get("weight") for f in feats] == [2.2, None, None, None]


def test_block_popup_values(layers):
    m = build_map(*layers, tiles=None)
    feat = geojson_of(group_starting(m, "Blocks"))["features"][0]
    values = feat["properties"]["v"]
    assert feat["properties"]["t"] == "Block 1"
    assert values == ["회기동", "0.81 ha", "120", "2.0 min", "4.0 min", "3 (2 categories)",
                      "b1, t1, k1", "yes", "1"]
    second = geojson_of(group_starting(m, "Blocks"))["features"][1]["properties"]["v"]
    assert second[0] == "&lt;i&gt;dong&lt;/i&gt;" and second[-1] == ""
    fourth = geojson_of(group_starting(m, "Blocks"))["features"][3]["properties"]["v"]
    assert fourth[3:5] == ["unreachable", "unreachable"]


def test_village_popup_and_rank_label(layers):
    m = build_map(*layers, tiles=None)
    props = geojson_of(groups(m)["Sharing villages (1)"])["features"][0]["properties"]
    assert props["label"] == "#1"
    assert props["v"] == ["1", "1", "3.25", "1", "3", "bike, tools, " + html.escape(KIDS), "120"]


def test_isochrones_and_boundaries(layers):
    iso = gpd.GeoDataFrame({"space_id": ["b1", "b1"], "category": ["bike", "bike"],
                            "minutes": [5, 15]},
                           geometry=[Point(X0 + 50, Y0 + 150).buffer(r) for r in (300, 900)],
                           crs=CRS)
    m = build_map(*layers, isochrones=iso, boundaries=make_boundaries(), tiles=None)
    feats = geojson_of(groups(m)["Isochrones (2)"])["features"]
    # the 15-minute polygon is drawn first so that the 5-minute one stays on top
    assert [f["properties"]["tip"] for f in feats] == ["bike b1: 15 min walk",
                                                       "bike b1: 5 min walk"]
    assert feats[0]["properties"]["style"]["color"] != feats[1]["properties"]["style"]["color"]
    (boundary,) = geojson_of(groups(m)["Boundaries"])["features"]
    assert boundary["properties"] == {"tip": "&lt;b&gt;회기동&lt;/b&gt;"}
    assert list(groups(m))[:2] == ["Boundaries", next(n for n in groups(m) if n.startswith("Bl"))]


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
    """Blocks polygonized from the real Dongdaemun-gu walk network: the file stays < 15 MB."""
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
    assert size < 15e6 and (size - 1.5e6) / n < 2_000  # < 2 kB per block


# ---------------------------------------------------------------------------
# headless browser

SKIP_BROWSER = _browser.skip_reason()


@pytest.fixture(scope="module")
def driver():
    if SKIP_BROWSER:
        if os.environ.get("SHAREMAP_REQUIRE_BROWSER"):  # CI installs Chromium: never skip there
            pytest.fail(f"browser required but unavailable: {SKIP_BROWSER}")
        pytest.skip(SKIP_BROWSER)
    drv = _browser.launch()
    yield drv
    _browser.quit_browser(drv)


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
