"""Issue 15, what-if you can see: each group's before/after, villages matched, the map.

The village matching is checked on a hand-made case; the group figures against walks
measured independently at the group's pace; the map in headless Chromium.
"""

from __future__ import annotations

import json
import types

import geopandas as gpd
import numpy as np
import pytest
import shapely

from sharemap import read_config, run_study
from sharemap.access import walk_times
from sharemap.datasets import get_path
from sharemap.maps import escape_text
from sharemap.study import village_change, whatif


@pytest.fixture(scope="module")
def demo():
    return run_study(read_config(get_path("demo")))


def _far_site(demo, category="tools"):
    """A point on the block farthest from `category`, as a new space."""
    blocks = demo.blocks
    far = blocks.iloc[[int(np.nanargmax(blocks[f"walk_min_{category}"].to_numpy(np.float64)))]]
    return gpd.GeoDataFrame({"space_id": ["NEW1"], "category": [category], "name": ["new"]},
                            geometry=[far.geometry.iloc[0].representative_point()],
                            crs=blocks.crs)


def _state(blocks_villages, ranks):
    """A stand-in study: blocks 1..n with their village, villages with rank and shape."""
    n = len(blocks_villages)
    boxes = [shapely.box(i * 10, 0, i * 10 + 9, 9) for i in range(n)]
    blocks = gpd.GeoDataFrame({"block_id": np.arange(1, n + 1),
                               "village_id": gpd.pd.array(blocks_villages, dtype="Int64")},
                              geometry=boxes, crs="EPSG:5186")
    ids = sorted(ranks)
    shapes = [shapely.union_all([boxes[i] for i, v in enumerate(blocks_villages) if v == vid])
              for vid in ids]
    villages = gpd.GeoDataFrame({"village_id": ids, "rank": [ranks[v] for v in ids]},
                                geometry=shapes, crs="EPSG:5186")
    return types.SimpleNamespace(blocks=blocks, villages=villages)


def test_villages_appeared_vanished_merged_split_reranked_by_hand():
    # blocks:          1  2  3  4  5     6     7  8     9  10
    before = _state([1, 1, 2, 2, 3, None, 4, None, 5, 5], {1: 2, 2: 3, 3: 4, 4: 1, 5: 5})
    after = _state([1, 1, 1, 1, None, 2, 3, None, 4, 5], {1: 1, 2: 4, 3: 2, 4: 3, 5: 5})
    table = village_change(before, after)
    got = {(r.change, r.villages_before, r.villages_after, r.ranks_before, r.ranks_after,
            r.blocks_before, r.blocks_after) for r in table.itertuples()}
    assert got == {
        ("merged", "1,2", "1", "2,3", "1", 4, 4),        # blocks 1-4 now one village
        ("vanished", "3", "", "4", "", 1, 0),            # block 5 no longer a candidate
        ("appeared", "", "2", "", "4", 0, 1),            # block 6 new
        ("re-ranked", "4", "3", "1", "2", 1, 1),         # block 7: same blocks, rank 1 -> 2
        ("split", "5", "4,5", "5", "3,5", 2, 2),         # blocks 9, 10 apart
    }
    assert table["change"].tolist()[:3] == ["appeared", "vanished", "merged"]
    merged = table[table["change"] == "merged"].geometry.iloc[0]
    assert merged.equals(after.villages.geometry.iloc[0])  # drawn where the village is now
    vanished = table[table["change"] == "vanished"].geometry.iloc[0]
    assert vanished.equals(before.villages.geometry.iloc[2])  # drawn where it was
    same = village_change(before, before)
    assert same.empty


def test_every_group_before_and_after_at_its_own_pace(demo):
    """65+ residents newly within 15 min of tools at 3.6 km/h, from walks measured apart."""
    site = _far_site(demo)
    w = whatif(demo, add=site)
    cov = w.coverage_change
    assert cov["group"].iloc[0] == "all residents"
    assert set(cov["group"]) == {"all residents", "65+"}
    row = cov.query("group == '65+' and level == 'city' and category == 'tools' "
                    "and threshold_min == 15").iloc[0]
    assert row["walk_speed_kmh"] == 3.6
    tools = demo.spaces[demo.spaces["category"] == "tools"]
    origins = demo.origins
    old = origins["population_65plus"].to_numpy()
    before = walk_times(demo.network, origins.geometry, tools,
                        walk_speed_kmh=3.6)["walk_min_tools"].to_numpy() <= 15
    new = walk_times(demo.network, origins.geometry, site.assign(category="tools"),
                     walk_speed_kmh=3.6)["walk_min_tools"].to_numpy() <= 15
    assert row["population_covered_before"] == pytest.approx(old[before].sum())
    assert row["population_covered_after"] == pytest.approx(old[before | new].sum())
    assert row["population_covered_change"] == pytest.approx(old[new & ~before].sum())
    assert row["population_covered_change"] > 0
    # all residents at the study's pace, as before
    plain = cov.query("group == 'all residents' and level == 'city' and category == 'tools' "
                      "and threshold_min == 15").iloc[0]
    fast = walk_times(demo.network, origins.geometry, site.assign(category="tools"),
                      walk_speed_kmh=4.8)["walk_min_tools"].to_numpy() <= 15
    was = (origins["walk_min_tools"] <= 15).to_numpy()
    assert plain["population_covered_change"] == pytest.approx(
        origins["population"].to_numpy()[fast & ~was].sum())
    assert w.added["space_id"].tolist() == ["NEW1"] and w.removed.empty


def test_removing_a_station_splits_a_village_and_says_so(demo):
    """Shortfall 3: a removal reshaped villages and renumbered ranks, and nothing said so."""
    w = whatif(demo, remove=["3502"])
    assert w.removed["space_id"].tolist() == ["3502"] and w.added.empty
    vc = w.village_change
    split = vc[vc["change"] == "split"]
    assert len(split) == 1
    # independently: the blocks of the village before, and the villages they are in after
    vb = demo.blocks["village_id"].to_numpy(dtype=object, na_value=None)
    va = w.after.blocks["village_id"].to_numpy(dtype=object, na_value=None)
    before_id = int(split["villages_before"].iloc[0])
    now = sorted({v for b, v in zip(vb, va, strict=True) if b == before_id and v is not None})
    assert split["villages_after"].iloc[0] == ",".join(str(v) for v in now) and len(now) == 2
    assert split["blocks_before"].iloc[0] == int((vb == before_id).sum())


@pytest.fixture(scope="module")
def whatif_run(tmp_path_factory, demo):
    from sharemap.cli import main

    folder = tmp_path_factory.mktemp("whatif_changes")
    site = _far_site(demo).to_crs(4326)
    csv = folder / "new.csv"
    csv.write_text(f"id,name,lon,lat\nNEW1,새 공구도서관 <b>,{site.geometry.x.iloc[0]:.7f},"
                   f"{site.geometry.y.iloc[0]:.7f}\n", encoding="utf-8")
    out = folder / "w"
    import contextlib
    import io

    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        code = main(["whatif", str(get_path("demo")), "--add", str(csv), "--category", "tools",
                     "--x", "lon", "--y", "lat", "--crs", "EPSG:4326", "--id", "id",
                     "--name", "name", "--remove", "3502", "--out", str(out)])
    assert code == 0
    return out, buf.getvalue()


def test_whatif_json_and_printout_list_groups_and_villages(whatif_run):
    out, printed = whatif_run
    info = json.loads((out / "whatif.json").read_text(encoding="utf-8"))
    assert info["spaces_added"] == ["tools:NEW1"] and info["spaces_removed"] == ["bike:3502"]
    assert info["villages_split"] == 1
    kinds = [v["change"] for v in info["village_changes"]]
    assert "split" in kinds
    assert "65+ residents (3.6 km/h) within 15 min" in printed
    assert "village split: #" in printed
    import pandas as pd

    cov = pd.read_csv(out / "whatif_coverage.csv")
    assert list(cov.columns[:8]) == ["group", "walk_speed_kmh", "profile", "level", "area",
                                     "area_id", "category", "threshold_min"]
    assert set(cov["group"]) == {"all residents", "65+"}


_FEATURES = """
const out = [];
for (const k of Object.keys(window)) {
    const v = window[k];
    if (!(v instanceof L.GeoJSON)) { continue; }
    v.eachLayer(l => {
        const p = l.feature.properties;
        let rows = null;
        if (l.getPopup()) {
            l.openPopup();
            const box = l.getPopup().getElement().querySelector('.leaflet-popup-content');
            rows = Array.from(box.querySelectorAll('tr')).map(
                tr => [tr.querySelector('th').textContent, tr.querySelector('td').textContent]);
            l.closePopup();
        }
        const icon = l.options.icon ? l.options.icon.options.html : null;
        out.push({change: p.change === undefined ? null : p.change,
                  block_id: p.block_id === undefined ? null : p.block_id,
                  space_id: p.space_id === undefined ? null : p.space_id,
                  name: p.name === undefined ? null : p.name,
                  icon: icon, color: l.options.color || null, dash: l.options.dashArray || null,
                  visible: l._map ? true : false, rows: rows});
    });
}
return out;
"""


@pytest.mark.browser
def test_browser_finds_added_removed_and_changed_features(driver, whatif_run):
    import _browser  # tests/_browser.py

    out, _ = whatif_run
    _browser.open_file(driver, out / "map.html")
    feats = driver.execute_script(_FEATURES)
    assert _browser.severe_errors(driver, ("tile.openstreetmap.org",)) == []
    added = [f for f in feats if f["change"] == "added"]
    removed = [f for f in feats if f["change"] == "removed"]
    name = escape_text("새 공구도서관 <b>")  # as text, never markup
    assert [(f["space_id"], f["name"]) for f in added] == [("NEW1", name)]
    assert "sharemap-added" in added[0]["icon"] and added[0]["visible"]
    assert [f["space_id"] for f in removed] == ["3502"]
    assert "sharemap-removed" in removed[0]["icon"]
    # the removed station is not among the spaces drawn as they are now
    assert [f for f in feats if f["space_id"] == "3502" and f["change"] is None] == []
    # struck through and grey in the page as drawn
    style = driver.execute_script(
        "const e = document.querySelector('.sharemap-removed');"
        "const s = getComputedStyle(e), a = getComputedStyle(e, '::after');"
        "return [s.filter, a.borderTopStyle, a.content];")
    assert style[0] == "grayscale(1)" and style[1] == "solid"
    # every changed block of whatif_blocks.gpkg is outlined, with its before/after
    gpkg = gpd.read_file(out / "whatif_blocks.gpkg", layer="changed_blocks")
    outlined = {f["block_id"]: f for f in feats if f["rows"] and f["block_id"] is not None
                and f["rows"][0][0] == "change"}
    assert set(outlined) == set(gpkg["block_id"]) and len(outlined) > 0
    lost = gpkg[gpkg["change"] == "loses candidacy"]
    assert len(lost) > 0
    rows = dict(outlined[int(lost["block_id"].iloc[0])]["rows"])
    assert rows["candidate: before"] == "yes" and rows["candidate: after"] == "no"
    assert rows["change"] == "loses candidacy"
    one = gpkg.iloc[0]
    rows = dict(outlined[int(one["block_id"])]["rows"])
    assert rows["walk to bike: before"] == f"{one['walk_min_bike_before']:.1f} min"
    assert rows["walk to bike: after"] == (f"{one['walk_min_bike_after']:.1f} min"
                                           if np.isfinite(one["walk_min_bike_after"])
                                           else "unreachable")
    assert {f["color"] for f in outlined.values()} == {"#ff7f00"}
    # the split village, outlined, its villages and ranks before and after
    split = [f for f in feats if f["change"] == "split"]
    assert len(split) == 1
    info = json.loads((out / "whatif.json").read_text(encoding="utf-8"))
    rec = next(v for v in info["village_changes"] if v["change"] == "split")
    rows = dict(split[0]["rows"])
    assert rows["villages before"] == rec["villages_before"]
    assert rows["villages after"] == rec["villages_after"].replace(",", ", ")
    legend = driver.execute_script(
        "return Array.from(document.querySelectorAll('.sharemap-legend'))"
        ".map(e => e.textContent).join(' ')")
    assert "space added" in legend and "space removed" in legend and "village split" in legend


def test_a_whatif_measures_only_the_changed_categories_and_equals_measuring_all(demo,
                                                                                monkeypatch):
    """The walks and supply of untouched categories are reused: the same figures as all anew."""
    import pandas as pd

    from sharemap import study

    site = _far_site(demo)
    quick = whatif(demo, add=site, remove=["3502"])
    assert study._changed_categories(demo.spaces, quick.after.spaces) == ["bike", "tools"]
    monkeypatch.setattr(study, "_changed_categories",
                        lambda before, after: list(demo.config.categories))
    full = whatif(demo, add=site, remove=["3502"])
    cols = sorted(full.after.blocks.columns)
    assert sorted(quick.after.blocks.columns) == cols
    pd.testing.assert_frame_equal(quick.after.blocks[cols], full.after.blocks[cols])
    pd.testing.assert_frame_equal(quick.coverage_change, full.coverage_change)
    pd.testing.assert_frame_equal(quick.after.gaps, full.after.gaps)
    if full.after.supply is not None:
        pd.testing.assert_frame_equal(quick.after.supply, full.after.supply)
    ocols = sorted(full.after.origins.columns)
    pd.testing.assert_frame_equal(quick.after.origins[ocols], full.after.origins[ocols])
    # nothing changed: no category measured again, the same figures as before
    same = whatif(demo, remove=[])
    pd.testing.assert_frame_equal(same.after.coverage, demo.coverage)


def test_a_whatif_reuses_the_shapes_of_unchanged_villages(demo, monkeypatch):
    """Villages whose blocks did not change keep their shape; the others are made again."""
    from sharemap import villages

    made = []
    real = villages.shapely.union_all
    monkeypatch.setattr(villages.shapely, "union_all",
                        lambda parts, *a, **k: made.append(len(parts)) or real(parts, *a, **k))
    w = whatif(demo, remove=["3502"])  # splits village 3; villages 1 and 2 unchanged
    # the two pieces of village 3 (33 and 5 blocks) are made; villages 1 and 2 (25 and
    # 16 blocks, unchanged) are not (the what-if's own outline of the split: 2 parts)
    assert sorted(made) == [2, 5, 33]
    for v in w.after.villages.itertuples():
        mine = w.after.blocks.loc[w.after.blocks["village_id"] == v.village_id]
        assert v.geometry.equals(shapely.union_all(mine.geometry.to_numpy()))


def test_an_added_space_with_an_id_its_category_already_has_is_still_added(demo):
    """`whatif --add new/tools.csv` where the new file's ids (tools-1, ... from its name,
    or TL01 from the planner's own numbering) are already used by the study's tool
    libraries: the space was walked to, but whatif.json said "added": 1 with
    "spaces_added": [], and the map drew no added space (added spaces were told by
    category:id). It now keeps its own id, `<id>@<file>`, and is listed."""
    site = _far_site(demo).assign(space_id="TL01", source="new/tools.csv")
    with pytest.warns(UserWarning, match=r"new/tools\.csv.*'TL01'.*kept as <id>@"):
        w = whatif(demo, add=site)
    assert w.added["space_id"].tolist() == ["TL01@new/tools.csv"]
    assert len(w.after.spaces) == len(demo.spaces) + 1
    tools = w.after.spaces[w.after.spaces["category"] == "tools"]
    assert not tools["space_id"].duplicated().any()


def test_adding_spaces_of_a_category_the_study_lacks_is_refused(demo, tmp_path, capsys):
    """`whatif --add two_sites.csv --category library` on a study without that category
    ran: the two sites counted as adjacent spaces (candidate blocks +15, villages grew on
    real Dongdaemun-gu with `toys`) but no coverage row measured them and `all` still
    meant the study's own categories, so "residents within 15 min" showed no change for
    a service the planner had just added. `suggest` already refuses such a category; so
    does whatif now, before any work, naming the fix."""
    from sharemap import InputDataError
    from sharemap.cli import main

    site = _far_site(demo).assign(category="library")
    with pytest.raises(InputDataError, match=r"category 'library' is not in the study.*"
                                             r"\[\[layers\]\]"):
        whatif(demo, add=site)
    (tmp_path / "sites.csv").write_text("lon,lat\n127.04,37.59\n", encoding="utf-8")
    code = main(["whatif", str(get_path("demo")), "--add", str(tmp_path / "sites.csv"),
                 "--category", "library", "--out", str(tmp_path / "out")])
    err = capsys.readouterr().err.strip()
    assert code == 2 and len(err.splitlines()) == 1 and "'library'" in err, err
    assert not (tmp_path / "out").exists()
