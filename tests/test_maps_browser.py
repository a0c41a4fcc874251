"""The map in headless Chromium: popups, tooltips, styles and the decoded geometry.

Every block's popup is opened and read back as (label, value) rows: the browser builds
them from the feature's properties (sharemap/_map_data.py), so these rows are the
contract. Hostile names must show as text. The geometry Leaflet received is compared
with the page's data decoded in Python (tests/test_map_data.py) and with the input.
"""

from __future__ import annotations

import os

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
def driver():
    reason = _browser.skip_reason()
    if reason:
        if os.environ.get("SHAREMAP_REQUIRE_BROWSER"):
            pytest.fail(f"browser required but unavailable: {reason}")
        pytest.skip(reason)
    drv = _browser.launch()
    yield drv
    _browser.quit_browser(drv)


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
    assert iso == [[f"{KIDS} b1: 15 min walk", 0, "#3182bd"],
                   [f"{KIDS} b1: 5 min walk", 0, "#08519c"]]


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
