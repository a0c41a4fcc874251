"""The audit report (report.html): sections, numbers, offline, escaped; and in a browser."""

from __future__ import annotations

import html
import re
import shutil
import sys
from html.parser import HTMLParser

import _browser  # tests/_browser.py
import geopandas as gpd
import pandas as pd
import pytest
from conftest import dongdaemun_toml

from sharemap import MissingDependencyError, read_config, run_study
from sharemap.datasets import demo_dir
from sharemap.report import render_report, write_report

EVIL_DONG = '<script>window.__pwned=1</script>누리"1동'
EVIL_STUDY = "<img src=x onerror=window.__pwned2=1>데모구"
EVIL_TOOL = "<b>공구</b> & 대여소"
SECTIONS = ["headline", "coverage", "supply", "chart", "gaps", "maps", "method"]


class _Page(HTMLParser):
    """Collect section ids, image sources, scripts, table cells and all attributes."""

    def __init__(self) -> None:
        super().__init__()
        self.sections: list[str] = []
        self.images: list[str] = []
        self.scripts = 0
        self.svgs = 0
        self.cells: list[str] = []
        self.attrs: list[str] = []
        self._cell: list[str] | None = None

    def handle_starttag(self, tag, attrs):
        d = dict(attrs)
        self.attrs += [v or "" for _, v in attrs]
        if tag == "section":
            self.sections.append(d.get("id", ""))
        elif tag == "img":
            self.images.append(d.get("src", ""))
        elif tag == "script":
            self.scripts += 1
        elif tag == "svg":
            self.svgs += 1
        elif tag in ("td", "th"):
            self._cell = []

    def handle_endtag(self, tag):
        if tag in ("td", "th") and self._cell is not None:
            self.cells.append("".join(self._cell).strip())
            self._cell = None

    def handle_data(self, data):
        if self._cell is not None:
            self._cell.append(data)


def _parse(text: str) -> _Page:
    page = _Page()
    page.feed(text)
    return page


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    """The demo district with a hostile dong name, study name and tool-library name, and 65+."""
    folder = tmp_path_factory.mktemp("demo_report")
    shutil.copytree(demo_dir(), folder, dirs_exist_ok=True)
    dongs = gpd.read_file(folder / "dong.geojson")
    dongs.loc[0, "dong_nm"] = EVIL_DONG
    dongs.to_file(folder / "dong.geojson")
    tools = pd.read_csv(folder / "tool_libraries.csv", encoding="utf-8-sig")
    tools.loc[:, "name"] = EVIL_TOOL
    tools.to_csv(folder / "tool_libraries.csv", index=False)
    toml = (folder / "study.toml").read_text(encoding="utf-8")
    toml = re.sub(r'name = ".*?"', f"name = '{EVIL_STUDY}'", toml, count=1)
    assert 'label = "65+", walk_speed_kmh = 3.6' in toml  # the demo audits residents 65+
    (folder / "study.toml").write_text(toml, encoding="utf-8")
    result = run_study(read_config(folder / "study.toml"))
    path = write_report(result, folder / "out" / "report.html")
    return result, path


def test_report_sections_and_self_contained(demo):
    result, path = demo
    text = path.read_text(encoding="utf-8")
    page = _parse(text)
    assert page.sections == SECTIONS
    assert page.scripts == 0
    assert page.svgs == 1  # the chart
    # one map per category plus the proximity map, all inline PNG
    assert len(page.images) == len(result.config.categories) + 1
    assert all(src.startswith("data:image/png;base64,") for src in page.images)
    assert not re.search(r"https?://", text), "no URL may be loaded or linked"
    assert not [a for a in page.attrs if a.startswith(("http", "//"))]
    assert not list(path.parent.glob(".*tmp*")), "temporary file left behind"


def test_report_escapes_input_text(demo):
    _, path = demo
    text = path.read_text(encoding="utf-8")
    for evil in (EVIL_DONG, EVIL_STUDY, EVIL_TOOL):
        assert evil not in text
    assert html.escape(EVIL_DONG) in text
    assert html.escape(EVIL_STUDY) in text
    page = _parse(text)
    assert EVIL_DONG in page.cells  # the parser reads the escaped text back as the name


def test_report_numbers_are_the_coverage_tables(demo):
    """The headline row for `all` shows the city share of residents at 15 min, and 65+."""
    result, path = demo
    cells = _parse(path.read_text(encoding="utf-8")).cells
    cov = result.coverage
    city = cov[(cov["level"] == "city") & (cov["threshold_min"] == 15)].set_index("category")
    grp = result.coverage_groups
    old = grp[(grp["group"] == "65+") & (grp["level"] == "city")
              & (grp["threshold_min"] == 15)].set_index("category")
    i = cells.index("all categories")
    share, old_share = city.loc["all", "share_population"], old.loc["all", "share_population"]
    assert cells[i + 2] == f"{100 * share:.1f}%"
    assert cells[i + 3] == f"{100 * old_share:.1f}%"
    outside = city.loc["all", "population"] - city.loc["all", "population_covered"]
    assert cells[i + 4] == f"{round(outside):,}"
    # the coverage-by-dong table has one row per dong, plus the whole study
    for name in result.blocks["dong"].dropna().unique():
        assert name in cells
    # the largest bike gap in gaps.csv leads the bike gap table
    gaps = result.gaps
    top = gaps[(gaps["kind"] == "area") & (gaps["population_outside"] > 0)]
    if len(top):
        assert top.iloc[0]["area"] in cells


def test_report_without_population_or_groups(demo, tmp_path):
    """A study without residents still reports, by blocks."""
    result, _ = demo
    blocks = result.blocks.drop(columns=[c for c in result.blocks if c.startswith("population")])
    cfg = result.config
    from dataclasses import replace

    cov_cfg = replace(cfg.coverage, groups=(), boundaries=tuple(
        replace(b, population=None) for b in cfg.coverage.boundaries))
    bare = replace(result, blocks=blocks, config=replace(cfg, coverage=cov_cfg), gaps=None,
                   coverage_groups=None)
    from sharemap.coverage import compute_coverage

    bare = replace(bare, coverage=compute_coverage(
        blocks, categories=cfg.categories, thresholds=cfg.coverage.thresholds_minutes,
        levels=[("dong", "dong_id")], city_name=cfg.name))
    text = render_report(bare)
    page = _parse(text)
    assert page.sections == [s for s in SECTIONS if s != "supply"]  # supply needs residents
    assert "of blocks within 15 min of every category" in text
    assert "residents" not in "".join(page.cells)


def test_report_needs_matplotlib(demo, monkeypatch, tmp_path):
    result, _ = demo
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    with pytest.raises(MissingDependencyError, match="pip install matplotlib"):
        write_report(result, tmp_path / "r.html")
    assert not (tmp_path / "r.html").exists()


@pytest.mark.seoul
def test_real_district_report(seoul_data, tmp_path):
    d = seoul_data
    cfg = tmp_path / "study.toml"
    cfg.write_text(dongdaemun_toml(d, levels=("dong",), extra_coverage=(
        'groups = [{ column = "pop_65plus", label = "65+" }]')), encoding="utf-8")
    result = run_study(read_config(cfg))
    text = write_report(result, tmp_path / "report.html").read_text(encoding="utf-8")
    page = _parse(text)
    # the district's one warning comes first: blocks 507 and 138 hold most of their dong
    assert page.sections == ["checks", *SECTIONS]
    assert "block_holds_most_of_unit" in text and "block 507 (전농2동" in text
    for dong in ("회기동", "휘경1동", "청량리동", "장안2동", "답십리1동", "이문2동"):
        assert dong in page.cells
    assert "352,259" in page.cells  # the district's 2021 residents
    assert not re.search(r"https?://", text)


# ----------------------------------------------------------------------------- browser

@pytest.mark.browser
def test_report_opens_offline_in_a_browser(driver, demo):
    _, path = demo
    _browser.open_file(driver, path)
    assert _browser.severe_errors(driver) == []
    remote = [u for u in _browser.requested_urls(driver)
              if not u.startswith(("file:", "data:", "chrome:", "about:", "blob:"))]
    assert remote == []
    assert driver.execute_script("return [typeof window.__pwned, typeof window.__pwned2]") == [
        "undefined", "undefined"]
    sizes = driver.execute_script(
        "return Array.from(document.images).map(i => [i.complete, i.naturalWidth]);")
    assert sizes and all(done and width > 100 for done, width in sizes)
    box = driver.execute_script(
        "const r = document.querySelector('#chart svg').getBoundingClientRect();"
        "return [r.width, r.height];")
    assert box[0] > 300 and box[1] > 150
    assert driver.execute_script(
        "return document.querySelectorAll('#chart svg text').length") > 5
    title = driver.execute_script("return document.title")
    assert EVIL_STUDY in title


# ------------------------------------------------------------- one drawing code


def test_report_maps_are_drawn_by_the_static_map_code(demo, monkeypatch):
    """Each small map's blocks go through map.png's draw_blocks, by the panel's walk."""
    from sharemap import _static_map

    result, _ = demo
    drawn: list[str] = []
    real = _static_map.draw_blocks

    def spy(ax, blocks, color_by, **kwargs):
        drawn.append(color_by)
        return real(ax, blocks, color_by, **kwargs)

    monkeypatch.setattr(_static_map, "draw_blocks", spy)
    render_report(result)
    assert drawn == [f"walk_min_{c}" for c in result.config.categories] + ["proximity_min"]


def test_report_colours_are_the_maps_colours():
    """A category of the user's own gets the colour map.html's legend gives it."""
    from sharemap import report
    from sharemap._mapstyle import CATEGORY_STYLES
    from sharemap.maps import build_map

    cats = ["zeta", "bike", "alpha"]  # the maps colour the extra ones in sorted order
    colours = report._colours(cats)
    spaces = gpd.GeoDataFrame({"space_id": ["z", "b", "a"], "category": cats},
                              geometry=gpd.points_from_xy([127.0] * 3, [37.5] * 3),
                              crs="EPSG:4326")
    page = build_map(None, spaces, None, tiles=None).get_root().render()
    # the legend's swatch for a category: style='background:<colour>'...</span><category>
    swatch = {cat: re.search(r"background:(#[0-9a-f]{6})\\u0027\\u003e(?:(?!background:).)*?"
                             r"\\u003c/span\\u003e" + cat, page).group(1)
              for cat in cats}
    assert swatch == {c: colours[c] for c in cats}
    assert colours["bike"] == CATEGORY_STYLES["bike"][0]
    assert colours["alpha"] != colours["zeta"]
    assert colours["all"] == "#111111"


def test_write_report_never_replaces_an_input(demo):
    """`sharemap.write_report(result, path)` with `path` naming a file the study reads (a
    layer, the study TOML) wrote the page over it: the analyst's tool-library table
    became HTML. Commands already refuse this; the library call now does too, before
    rendering, with one line naming the input."""
    from sharemap import OutputError

    result, _ = demo
    layer = result.config.layers[3].path
    assert layer.name == "tool_libraries.csv"
    before = layer.read_bytes()
    for target in (layer, result.config.source):
        with pytest.raises(OutputError, match="which the study reads") as err:
            write_report(result, target)
        assert "\n" not in str(err.value) and target.name in str(err.value)
    assert layer.read_bytes() == before
