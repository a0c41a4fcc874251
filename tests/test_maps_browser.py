"""The map in headless Chromium: popups, tooltips, styles and the decoded geometry.

Every block's popup is opened and read back as (label, value) rows: the browser builds
them from the feature's properties (sharemap/_map_data.py), so these rows are the
contract. Hostile names must show as text. The geometry Leaflet received is compared
with the page's data decoded in Python (tests/test_map_data.py) and with the input.
"""

from __future__ import annotations

import _browser  # tests/_browser.py
import geopandas as gpd
import pytest
import shapely
from shapely.geometry import Point
from test_map_data import HOSTILE, X0, Y0, layer_with, odd_blocks, one_space, shapes
from test_maps import KIDS, PWN_IMG, make_blocks, make_boundaries, make_spaces, make_villages

from sharemap.maps import ADJACENT_CLASSES, WALK_CLASSES, build_map, escape_text, save_map

pytestmark = pytest.mark.browser
CRS = "EPSG:5186"
GREY = "#8c8c8c"
WALK = [c for _u, _label, c in WALK_CLASSES]

_OPEN_ALL = """
const key = arguments[0], idKey = arguments[1], out = [];
for (const k of Object.keys(window)) {
    const v = window[k];
    if (!(v instanceof L.GeoJSON)) { continue; }
    v.eachLayer(l => {
        const p = l.feature.properties;
        if (p[key] === undefined) { return; }
        l.openPopup();
        // this popup's own content (a closed one fades out for a while, still in the DOM)
        const el = l.getPopup() && l.getPopup().getElement();
        const box = el && el.querySelector('.leaflet-popup-content');
        out.push({
            id: p[idKey], title: p.t,
            shown: box && box.querySelector('b').textContent,
            rows: box ? Array.from(box.querySelectorAll('tr')).map(
                tr => [tr.querySelector('th').textContent, tr.querySelector('td').textContent])
                : null,
            tags: box ? Array.from(box.querySelectorAll('*')).map(e => e.tagName) : null,
            fill: l.options.fillColor, color: l.options.color, weight: l.options.weight,
            geometry: l.feature.geometry,
            rings: l.getLatLngs ? JSON.stringify(l.getLatLngs()).split('[{').length - 1 : 0,
        });
        l.closePopup();
    });
}
return out;
"""


@pytest.fixture(scope="module")
def pages(tmp_path_factory):
    folder = tmp_path_factory.mktemp("browser_maps")
    iso = gpd.GeoDataFrame({"space_id": ["b1", "b1"], "category": [KIDS, KIDS],
                            "minutes": [5, 15]},
                           geometry=[Point(X0 + 50, Y0 + 150).buffer(r) for r in (100, 300)],
                           crs=CRS)
    plain = build_map(make_blocks(), make_spaces(), make_villages(), boundaries=make_boundaries(),
                      isochrones=iso, color_by="walk_min_bike", tiles=None)
    odd = odd_blocks()
    odd_map = build_map(odd, one_space(), odd.iloc[:0], color_by="walk_min_bike", tiles=None)
    return {"plain": save_map(plain, folder / "plain.html"),
            "odd": save_map(odd_map, folder / "odd.html")}


def _open_all(driver, page, key: str, id_key: str | None = None) -> dict:
    """Open the popup of every feature that has property `key`; keyed by `id_key`."""
    _browser.open_file(driver, page)
    found = driver.execute_script(_OPEN_ALL, key, id_key or key)
    for feature in found:
        feature["rows"] = [tuple(row) for row in feature["rows"] or []]
    assert _browser.severe_errors(driver) == []
    assert driver.execute_script("return [typeof window.__pwned, typeof window.__pwned2]") == [
        "undefined", "undefined"]
    return {f["id"]: f for f in found}


def test_block_popups_styles_and_hostile_level_name(driver, pages):
    blocks = _open_all(driver, pages["plain"], "block_id")
    assert sorted(blocks) == [1, 2, 3, 4]
    common = [("dong", "회기동"), ("area", "0.81 ha")]
    assert blocks[1]["rows"] == [*common, ("residents", "120"), ("walk to bike", "2.0 min"),
                                 ("walk to tools", "4.0 min"),
                                 ("adjacent spaces", "3 (2 categories)"),
                                 ("adjacent ids", "b1, t1, k1"), ("candidate", "yes"),
                                 ("village", "1")]
    assert blocks[2]["rows"] == [("dong", "<i>dong</i>"), ("area", "0.81 ha"),
                                 ("residents", "80"), ("walk to bike", "7.5 min"),
                                 ("walk to tools", "5.0 min"),
                                 ("adjacent spaces", "2 (2 categories)"),
                                 ("adjacent ids", "b1, t1"), ("candidate", "no")]
    # no residents (NaN), no ids (""), no village: those rows are left out
    assert blocks[3]["rows"] == [*common, ("walk to bike", "15.0 min"),
                                 ("walk to tools", "15.1 min"),
                                 ("adjacent spaces", "0 (0 categories)"), ("candidate", "no")]
    assert blocks[4]["rows"] == [*common, ("residents", "40"), ("walk to bike", "unreachable"),
                                 ("walk to tools", "unreachable"),
                                 ("adjacent spaces", "7 (3 categories)"), ("candidate", "no")]
    for i, block in blocks.items():
        assert block["title"] == f"Block {escape_text(i)}" and block["shown"] == f"Block {i}"
        assert set(block["tags"]) == {"B", "TABLE", "TBODY", "TR", "TH", "TD"}  # no <i>
    # fill by walking time to bike (2.0, 7.5, 15.0, unreachable); the candidate outlined
    assert [blocks[i]["fill"] for i in (1, 2, 3, 4)] == [WALK[0], WALK[1], WALK[2], GREY]
    assert [(blocks[i]["color"], blocks[i]["weight"]) for i in (1, 2, 3, 4)] == [
        ("#000000", 2.2), ("#ffffff", 0.6), ("#ffffff", 0.6), ("#ffffff", 0.6)]


def test_village_space_boundary_and_isochrone_texts(driver, pages):
    villages = _open_all(driver, pages["plain"], "rank", "village_id")
    assert villages[1]["title"] == "Sharing village #1"
    assert villages[1]["rows"] == [
        ("village_id", "1"), ("rank", "1"), ("score", "3.25"), ("blocks", "1"),
        ("spaces", "3"), ("categories", f"bike, tools, {KIDS}"), ("residents", "120")]
    assert villages[1]["tags"].count("B") == 1  # KIDS' <b> is text
    assert villages[1]["color"] == "#c51b8a" and villages[1]["weight"] == 3.5
    assert driver.execute_script(
        "return Array.from(document.querySelectorAll('.leaflet-tooltip.sharemap-label'))"
        ".map(e => e.textContent)") == ["#1"]  # top-ranked villages are labelled
    spaces = _open_all(driver, pages["plain"], "source_row", "space_id")
    assert spaces["b1"]["shown"] == PWN_IMG and spaces["b1"]["title"] == escape_text(PWN_IMG)
    assert spaces["b1"]["rows"] == [("category", "bike"), ("space_id", "b1"),
                                    ("source", "bike.csv"), ("source row", "1"),
                                    ("to path", "3 m")]
    assert spaces["k1"]["rows"][0] == ("category", KIDS)
    assert "IMG" not in spaces["b1"]["tags"]
    tips = driver.execute_script(
        """
        const out = [];
        for (const k of Object.keys(window)) {
            const v = window[k];
            if (!(v instanceof L.GeoJSON)) { continue; }
            v.eachLayer(l => {
                const p = l.feature.properties;
                if (p.tip === undefined || p.tip === null || !l.getBounds) { return; }
                l.openTooltip(l.getBounds().getCenter());
                const t = l.getTooltip().getElement();
                out.push([t.textContent, t.querySelectorAll('*').length,
                          l.options.color || null]);
                l.closeTooltip();
            });
        }
        return out;
        """)
    assert ["<b>회기동</b>", 0, "#6b6b6b"] in tips  # the boundary's name, as text
    iso = [t for t in tips if t[0].endswith("min walk")]
    # the 15-minute area first (drawn below), each duration in its own colour
    assert iso == [[f"b1 ({KIDS}): 15 min walk", 0, "#3182bd"],
                   [f"b1 ({KIDS}): 5 min walk", 0, "#08519c"]]


def test_browser_geometry_is_the_page_data_and_the_input(driver, pages):
    blocks = _open_all(driver, pages["odd"], "block_id")
    page = pages["odd"].read_text(encoding="utf-8")
    decoded = shapes(layer_with(page, "block_id"))
    odd = odd_blocks()
    for (block_id, want), got in zip(zip(odd["block_id"], odd.geometry, strict=True), decoded,
                                     strict=True):
        key = block_id.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
        in_browser = shapely.geometry.shape(blocks[key]["geometry"])
        assert in_browser.equals_exact(got, 1e-12)  # JS and numpy decode alike
        back = gpd.GeoSeries([in_browser], crs=4326).to_crs(CRS).iloc[0]
        assert back.hausdorff_distance(want) < 0.2
    # Leaflet drew the donut with its hole, and both parts of the two-part block
    assert blocks["A-1"]["rings"] == 2 and blocks["B&amp;2"]["rings"] == 2
    assert blocks["A-1"]["rows"][0] == ("dong", HOSTILE)  # text, template syntax untouched
    assert blocks["C&lt;3&gt;"]["title"] == "Block C&lt;3&gt;"  # the escaped HTML ...
    assert blocks["C&lt;3&gt;"]["shown"] == "Block C<3>"  # ... shows the literal id
    assert blocks["C&lt;3&gt;"]["rows"][2] == ("residents", "3,456,789")
    assert blocks["C&lt;3&gt;"]["rows"][-2:] == [("candidate", "no"), ("village", "7")]
    assert blocks["B&amp;2"]["fill"] == GREY and blocks["A-1"]["fill"] == WALK[0]
    assert ADJACENT_CLASSES[0][2] not in {b["fill"] for b in blocks.values()}


# ---------------------------------------------------------------------------
# a city-size map: blocks on one canvas

COLS, ROWS, PITCH, SIDE = 72, 70, 24.0, 20.0  # 20 m blocks, 4 m streets
TARGET = (20, 35)  # (column, row) of the block with the hostile dong name
GAP = (24, 35)  # no block here: the boundary below shows through
BOUNDARY = "<b>회기동</b>"
BACKGROUND, BOUNDARY_FILL = "#f4f3ef", "#fbfaf6"


def _cell_id(col: int, row: int) -> int:
    return row * COLS + col


def city_blocks() -> gpd.GeoDataFrame:
    """A grid of small square blocks, just over the canvas threshold (one cell left out)."""
    import numpy as np
    import pandas as pd

    col, row = np.meshgrid(np.arange(COLS), np.arange(ROWS))
    col, row = col.ravel(), row.ravel()
    ids = _cell_id(col, row)
    keep = ids != _cell_id(*GAP)
    col, row, ids = col[keep], row[keep], ids[keep]
    x, y = X0 + col * PITCH, Y0 + row * PITCH
    near = (np.abs(col - TARGET[0]) <= 3) & (np.abs(row - TARGET[1]) <= 3)
    return gpd.GeoDataFrame(
        {"block_id": ids, "area_m2": SIDE * SIDE, "population": (ids % 50).astype(float),
         "dong": np.where(ids == _cell_id(*TARGET), HOSTILE, "회기동"),
         "walk_min_bike": np.array([2.0, 7.5, 12.0, np.nan])[ids % 4],
         "adjacent_spaces": ids % 5, "adjacent_categories": np.minimum(ids % 5, 3),
         "candidate": ids % 7 == 0,
         "village_id": pd.array([1 if n else None for n in near], dtype="Int64")},
        geometry=shapely.box(x, y, x + SIDE, y + SIDE), crs=CRS)


def _cell_centre(col: int, row: int) -> tuple[float, float]:
    return X0 + col * PITCH + SIDE / 2, Y0 + row * PITCH + SIDE / 2


@pytest.fixture(scope="module")
def city_page(tmp_path_factory):
    from sharemap.maps import CANVAS_THRESHOLD

    blocks = city_blocks()
    assert CANVAS_THRESHOLD < len(blocks) < CANVAS_THRESHOLD + 100  # just over
    x, y = _cell_centre(*TARGET)
    villages = gpd.GeoDataFrame(
        {"village_id": [1], "rank": [1], "score": [2.5], "n_blocks": [49], "n_spaces": [2],
         "categories": ["bike"], "population": [1000.0]},
        geometry=[shapely.box(x - 3.4 * PITCH, y - 3.4 * PITCH, x + 3.4 * PITCH,
                              y + 3.4 * PITCH)], crs=CRS)
    boundaries = gpd.GeoDataFrame(
        {"name": [BOUNDARY]},
        geometry=[shapely.box(X0 - 30, Y0 - 30, X0 + COLS * PITCH + 30, Y0 + ROWS * PITCH + 30)],
        crs=CRS)
    space = one_space().set_geometry([Point(_cell_centre(60, 8))], crs=CRS)
    m = build_map(blocks, space, villages, boundaries=boundaries, color_by="walk_min_bike",
                  tiles=None)
    return blocks, save_map(m, tmp_path_factory.mktemp("city") / "city.html")


def _lat_lng(x: float, y: float) -> tuple[float, float]:
    lon, lat = gpd.GeoSeries([Point(x, y)], crs=CRS).to_crs(4326).iloc[0].coords[0]
    return lat, lon


def _screen_point(driver, cell: tuple[int, int]) -> tuple[float, float]:
    """Where a cell's centre is on the page, in CSS pixels."""
    return tuple(driver.execute_script(
        """
        const map = Object.values(window).find(v => v instanceof L.Map);
        const p = map.latLngToContainerPoint(arguments[0]);
        const box = map.getContainer().getBoundingClientRect();
        return [box.left + p.x, box.top + p.y];
        """, _lat_lng(*_cell_centre(*cell))))


def _at(driver, point: tuple[float, float], *, click: bool) -> None:
    """Move the real mouse to a page point (and click there)."""
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.by import By

    body = driver.find_element(By.TAG_NAME, "body")
    rect = body.rect
    chain = ActionChains(driver).move_to_element_with_offset(
        body, round(point[0] - rect["x"] - rect["width"] / 2),
        round(point[1] - rect["y"] - rect["height"] / 2))
    (chain.click() if click else chain).perform()


def _painted(driver) -> None:
    driver.execute_async_script(
        "const done = arguments[0]; requestAnimationFrame(() => requestAnimationFrame(done));")


def _pixel(driver, point: tuple[float, float]) -> tuple[int, int, int]:
    import io

    from PIL import Image

    _painted(driver)
    with Image.open(io.BytesIO(driver.get_screenshot_as_png())) as img:
        ratio = img.width / driver.execute_script("return window.innerWidth")
        return img.convert("RGB").getpixel((round(point[0] * ratio), round(point[1] * ratio)))


def _over(below: tuple[float, ...], colour: str, alpha: float) -> tuple[float, ...]:
    rgb = [int(colour[i:i + 2], 16) for i in (1, 3, 5)]
    return tuple(alpha * c + (1 - alpha) * b for b, c in zip(below, rgb, strict=True))


def test_small_maps_stay_svg(driver, pages):
    _browser.open_file(driver, pages["plain"])
    assert driver.execute_script("return document.querySelectorAll('canvas').length") == 0
    assert driver.execute_script(
        "return document.querySelectorAll('.leaflet-sharemap-blocks-pane path').length") == 4


def test_city_size_map_draws_blocks_on_one_canvas(driver, city_page):
    blocks, page = city_page
    _browser.open_file(driver, page)
    assert _browser.severe_errors(driver) == []
    drawn = driver.execute_script(
        """
        const out = {};
        for (const k of Object.keys(window)) {
            const v = window[k];
            if (!(v instanceof L.GeoJSON)) { continue; }
            const ls = v.getLayers();
            const kind = ls[0] && ls[0].feature.properties.block_id !== undefined ? 'blocks'
                : ls[0] && ls[0].feature.properties.rank !== undefined ? 'villages'
                : v.options.pane || 'spaces';
            out[kind] = [ls.length, ls.filter(l => l._renderer instanceof L.Canvas).length,
                         ls.filter(l => l._path).length,
                         new Set(ls.map(l => l._renderer && L.stamp(l._renderer))).size,
                         ls[0] && ls[0]._renderer ? L.stamp(ls[0]._renderer) : null];
        }
        out.canvases = Array.from(document.querySelectorAll('canvas')).map(
            c => [c.parentElement.className, getComputedStyle(c).pointerEvents]);
        out.paths = document.querySelectorAll('.leaflet-map-pane path').length;
        return out;
        """)
    n = len(blocks)
    assert drawn["blocks"][:4] == [n, n, 0, 1]  # every block on the canvas, no SVG path
    assert drawn["sharemap-boundaries"][:4] == [1, 1, 0, 1]
    assert drawn["sharemap-boundaries"][4] == drawn["blocks"][4]  # the same canvas
    assert drawn["villages"][:3] == [1, 0, 1]  # the village outline stays SVG, above
    assert drawn["canvases"] == [["leaflet-pane leaflet-sharemap-blocks-pane", "auto"]]
    assert drawn["paths"] == 1
    # the space's marker sits on its place, moved with a 2D transform (a 3D one makes
    # every marker of a city a compositor layer: seconds to draw)
    icon = driver.execute_script(
        """
        const el = document.querySelector('.sharemap-space'), r = el.getBoundingClientRect();
        return [el.style.transform, r.left + r.width / 2, r.top + r.height / 2];
        """)
    assert icon[0].startswith("translate(")
    assert icon[1:] == pytest.approx(_screen_point(driver, (60, 8)), abs=1)


def test_city_size_map_click_opens_the_block_popup(driver, city_page):
    _blocks, page = city_page
    _browser.open_file(driver, page)
    # a real click on the block's place in the first view (inside the village outline)
    _at(driver, _screen_point(driver, TARGET), click=True)
    popup = driver.execute_script(
        """
        const box = document.querySelector('.leaflet-popup-content');
        return box && [box.querySelector('b').textContent,
                       Array.from(box.querySelectorAll('tr')).map(
                           tr => [tr.querySelector('th').textContent,
                                  tr.querySelector('td').textContent]),
                       Array.from(box.querySelectorAll('*')).map(e => e.tagName)];
        """)
    assert popup is not None, "no popup opened"
    title, rows, tags = popup
    block_id = _cell_id(*TARGET)
    assert title == f"Block {block_id}"
    assert [tuple(r) for r in rows] == [
        ("dong", HOSTILE), ("area", "0.04 ha"), ("residents", str(block_id % 50)),
        ("walk to bike", "2.0 min"), ("adjacent spaces", f"{block_id % 5} (0 categories)"),
        ("candidate", "no"), ("village", "1")]
    assert set(tags) == {"B", "TABLE", "TBODY", "TR", "TH", "TD"}  # the name is text
    assert driver.execute_script("return typeof window.__pwned") == "undefined"
    # a click on another block (below, clear of the open popup) gives that block's popup
    _painted(driver)
    _at(driver, _screen_point(driver, (TARGET[0], TARGET[1] - 2)), click=True)
    shown = driver.execute_script(  # the first popup may still be fading out
        "return Array.from(document.querySelectorAll('.leaflet-popup-content b'))"
        ".map(b => b.textContent)")
    assert shown[-1] == f"Block {block_id - 2 * COLS}"
    assert _browser.severe_errors(driver) == []


def test_city_size_map_boundary_tooltip_shows_between_blocks(driver, city_page):
    _blocks, page = city_page
    _browser.open_file(driver, page)
    tips = "Array.from(document.querySelectorAll('.leaflet-tooltip:not(.sharemap-label)'))"
    _at(driver, _screen_point(driver, TARGET), click=False)  # over a block: no tooltip
    assert driver.execute_script(f"return {tips}.length") == 0
    _at(driver, _screen_point(driver, GAP), click=False)  # where a block is missing
    assert driver.execute_script(
        f"return {tips}.map(t => [t.textContent, t.querySelectorAll('*').length])") == [
        [BOUNDARY, 0]]  # the boundary's name, as text


def test_city_size_map_colours_and_order_on_the_canvas(driver, city_page):
    _blocks, page = city_page
    _browser.open_file(driver, page)
    driver.execute_script("document.querySelector('.leaflet-control-container')"
                          ".style.display = 'none';")
    # the boundary's fill (0.6) over the background, and a block's fill (0.65) over that
    under = _over(tuple(int(BACKGROUND[i:i + 2], 16) for i in (1, 3, 5)), BOUNDARY_FILL, 0.6)

    def expect(colour: str) -> tuple[float, ...]:
        return _over(under, colour, 0.65)

    cells = {(TARGET[0] + 1, TARGET[1] + 10): WALK[1],  # 7.5 min
             (TARGET[0] + 3, TARGET[1] + 10): GREY}  # unreachable
    assert [_cell_id(*c) % 4 for c in cells] == [1, 3]
    points = {c: _screen_point(driver, c) for c in cells}
    before = {c: _pixel(driver, p) for c, p in points.items()}
    for cell, colour in cells.items():
        assert before[cell] == pytest.approx(expect(colour), abs=4), (cell, colour)
    gap = _pixel(driver, _screen_point(driver, GAP))
    assert gap == pytest.approx(under, abs=4)  # the boundary's fill over the background
    # hiding and showing the boundaries again keeps them below the blocks
    driver.execute_script(
        """
        const box = document.querySelector('.leaflet-control-layers-overlays input');
        box.click(); box.click();
        """)
    order = driver.execute_script(
        """
        const map = Object.values(window).find(v => v instanceof L.Map);
        let r = null;
        map.eachLayer(l => { if (l instanceof L.Canvas) { r = l; } });
        const out = [];
        for (let o = r._drawFirst; o; o = o.next) {
            const p = o.layer.feature.properties;
            const kind = p.block_id !== undefined ? 'block' : 'boundary';
            if (out[out.length - 1] !== kind) { out.push(kind); }
        }
        return out;
        """)
    assert order == ["boundary", "block"]
    assert {c: _pixel(driver, p) for c, p in points.items()} == before


def test_city_size_map_screenshot_is_not_blank(driver, city_page):
    _blocks, page = city_page
    _browser.open_file(driver, page)
    driver.execute_script("document.querySelector('.leaflet-control-container')"
                          ".style.display = 'none';")
    _painted(driver)
    with_data = _browser.distinct_colours(driver, driver.get_screenshot_as_png())
    driver.execute_script(
        "document.querySelectorAll('.leaflet-map-pane > .leaflet-pane:not(.leaflet-tile-pane)')"
        ".forEach(p => { p.style.display = 'none'; });")
    _painted(driver)
    blank = _browser.distinct_colours(driver, driver.get_screenshot_as_png())
    assert blank <= 3 and with_data > 20


# ---------------------------------------------------------------------------
# isochrones under the blocks, for the real mouse too (issue 16)

ISO_NAME = "Toy <b>library</b> 1"


@pytest.fixture(scope="module")
def iso_pages(tmp_path_factory):
    """The plain map with a 5- and a 15-minute isochrone of a named space: SVG and canvas.

    The 15-minute one (300 m around X0+50, Y0+150) covers blocks 1-3 and the streets
    between them; the canvas page draws its 4 blocks on one canvas (threshold 2).
    """
    from sharemap import maps

    folder = tmp_path_factory.mktemp("iso_maps")
    iso = gpd.GeoDataFrame({"space_id": ["k1", "k1"], "category": [KIDS, KIDS],
                            "name": [ISO_NAME, ISO_NAME], "minutes": [5, 15]},
                           geometry=[Point(X0 + 50, Y0 + 150).buffer(r) for r in (100, 300)],
                           crs=CRS)
    out = {}
    for name, threshold in (("svg", 5000), ("canvas", 2)):
        old, maps.CANVAS_THRESHOLD = maps.CANVAS_THRESHOLD, threshold
        try:
            m = build_map(make_blocks(), make_spaces(), make_villages(),
                          boundaries=make_boundaries(), isochrones=iso, tiles=None)
        finally:
            maps.CANVAS_THRESHOLD = old
        out[name] = save_map(m, folder / f"{name}.html")
    return out


def _page_point(driver, x: float, y: float) -> tuple[float, float]:
    return tuple(driver.execute_script(
        """
        const map = Object.values(window).find(v => v instanceof L.Map);
        const p = map.latLngToContainerPoint(arguments[0]);
        const box = map.getContainer().getBoundingClientRect();
        return [box.left + p.x, box.top + p.y];
        """, _lat_lng(x, y)))


@pytest.mark.parametrize("kind", ["svg", "canvas"])
def test_a_click_on_a_block_inside_an_isochrone_opens_the_block(driver, iso_pages, kind):
    """Before, the isochrone lay over the blocks: a click showed only "15 min walk"."""
    _browser.open_file(driver, iso_pages[kind])
    assert driver.execute_script("return document.querySelectorAll('canvas').length") == (
        1 if kind == "canvas" else 0)
    for block_id, x in ((1, X0 + 50), (2, X0 + 150), (3, X0 + 250)):  # all inside 15 min
        _at(driver, _page_point(driver, x, Y0 + 50), click=True)
        _painted(driver)
        title = driver.execute_script(
            "const b = document.querySelector('.leaflet-popup-content b');"
            "return b && b.textContent;")
        assert title == f"Block {block_id}"
        driver.execute_script(
            "Object.values(window).find(v => v instanceof L.Map).closePopup();")
    # on the street between blocks 2 and 3 the isochrone takes the mouse: its tooltip
    # names the space (as text) and the walk
    _at(driver, _page_point(driver, X0 + 200, Y0 + 50), click=False)
    _painted(driver)
    tips = driver.execute_script(
        "return Array.from(document.querySelectorAll('.leaflet-tooltip'))"
        ".filter(t => !t.classList.contains('sharemap-label')).map(t => t.textContent);")
    assert tips == [f"{ISO_NAME} ({KIDS}): 15 min walk"]
    assert _browser.severe_errors(driver) == []


def test_the_map_colours_blocks_by_a_groups_walk(driver, tmp_path):
    """[map] color_by = "walk_min_tools_65plus": the 65+ group's walk (3 km/h, 50 m/min).

    tests/test_hours.py's street: the nearest library is 121 m from B1, B3, B4 and B6 and
    321 m from B2 and B5: 2.42 and 6.42 minutes for the 65+ (everyone: 1.51 and 4.01, all
    under 5), so B2 and B5 are filled as 5-10 minutes, the others as 0-5; blocks.gpkg has
    the column the map is coloured by.
    """
    from test_hours import hand_study_65plus

    from sharemap.cli import main

    study = hand_study_65plus(tmp_path, extra='[map]\ncolor_by = "walk_min_tools_65plus"\n'
                                               'tiles = "none"\n')
    out = tmp_path / "out"
    assert main(["run", str(study), "--out", str(out), "-q"]) == 0
    blocks = gpd.read_file(out / "blocks.gpkg", layer="blocks").set_index("block_id")
    want = {"B1": 121, "B2": 321, "B3": 121, "B4": 121, "B5": 321, "B6": 121}
    for b, metres in want.items():
        assert blocks.loc[b, "walk_min_tools_65plus"] == pytest.approx(metres / 50.0)
        assert blocks.loc[b, "walk_min_tools"] == pytest.approx(metres / 80.0)
    found = _open_all(driver, out / "map.html", "block_id")
    fills = {b: found[b]["fill"] for b in want}
    assert fills == {b: WALK[1] if want[b] > 250 else WALK[0] for b in want}
