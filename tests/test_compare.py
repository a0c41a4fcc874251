"""`sharemap compare` (issue 15, "Change over time"): two studies of one area compared.

The test case is the issue's: Dongdaemun-gu with the real Ttareungyi dock tables of
June 2022 (A) and December 2025 (B). The comparison (one CLI run, shared by the module)
is checked against two separate runs of the same studies (`sharemap run`, read back
from their coverage.csv, blocks.gpkg and spaces.gpkg): every per-dong figure, every
changed block and every new or gone station.
"""

from __future__ import annotations

import contextlib
import io
import json
from pathlib import Path

import _browser  # tests/_browser.py
import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from conftest import dongdaemun_toml

from sharemap.cli import main
from sharemap.compare import COMPARE_COVERAGE_COLUMNS, compare_studies
from sharemap.outputs import missing_outputs

ROOT = Path(__file__).resolve().parents[1]
DEMO = ROOT / "data" / "demo" / "study.toml"
THRESHOLDS = (5.0, 10.0, 15.0)


def _csv(path: Path) -> pd.DataFrame:
    return pd.read_csv(path, encoding="utf-8-sig", keep_default_na=False, na_values=[""],
                       dtype={"area_id": str})


@pytest.fixture(scope="module")
def snapshots(seoul_data, tmp_path_factory):
    """The two studies' TOML files, their own runs' folders and the comparison's folder."""
    d = seoul_data
    root = tmp_path_factory.mktemp("compare")
    files = {}
    for key, name in (("a", "ttareungyi_station_docks_2022-06.csv"),
                      ("b", "ttareungyi_station_docks_2025-12.csv")):
        bike = d / "points" / name
        if not bike.is_file():
            pytest.skip(f"{bike} not found (the real Ttareungyi snapshots)")
        files[key] = root / f"bikes_{key}.toml"
        files[key].write_text(dongdaemun_toml(d, bike=bike.as_posix()), encoding="utf-8")
    runs = {}
    for key in ("a", "b"):  # two separate runs
        runs[key] = root / f"run_{key}"
        assert main(["run", str(files[key]), "--out", str(runs[key]), "-q"]) == 0
    out = root / "compare"
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        assert main(["compare", str(files["a"]), str(files["b"]), "--out", str(out)]) == 0
    return {"files": files, "runs": runs, "out": out, "printed": buf.getvalue()}


def test_coverage_per_dong_is_the_two_runs(snapshots):
    comp = _csv(snapshots["out"] / "compare_coverage.csv")
    assert list(comp.columns[:len(COMPARE_COVERAGE_COLUMNS)]) == list(COMPARE_COVERAGE_COLUMNS)
    keys = ["level", "area_id", "category", "threshold_min"]
    a = _csv(snapshots["runs"]["a"] / "coverage.csv")
    b = _csv(snapshots["runs"]["b"] / "coverage.csv")
    assert len(comp) == len(a) == len(b)
    # against each run's own coverage.csv
    ra = a.set_index(keys)["population_covered"]
    rb = b.set_index(keys)["population_covered"]
    c = comp.set_index(keys)
    np.testing.assert_allclose(c["population_covered_a"], ra.reindex(c.index), rtol=0,
                               atol=1e-6)
    np.testing.assert_allclose(c["population_covered_b"], rb.reindex(c.index), rtol=0,
                               atol=1e-6)
    np.testing.assert_allclose(c["change_population"],
                               rb.reindex(c.index) - ra.reindex(c.index), atol=1e-6)
    np.testing.assert_allclose(c["share_population_a"],
                               a.set_index(keys)["share_population"].reindex(c.index), atol=1e-9)
    np.testing.assert_allclose(c["share_population_b"],
                               b.set_index(keys)["share_population"].reindex(c.index), atol=1e-9)
    dongs = comp[comp["level"] == "dong"]
    assert dongs["area_id"].nunique() == 14  # Dongdaemun-gu's dongs
    bike = dongs[(dongs["category"] == "bike") & (dongs["threshold_min"] == 5)]
    assert (bike["change_population"] != 0).any()  # the stations moved something


def _blocks(run: Path) -> gpd.GeoDataFrame:
    return gpd.read_file(run / "blocks.gpkg", layer="blocks")


def test_readme_figures_are_the_printout(snapshots):
    """README's "Change over time" figures are this run's printout."""
    printed = snapshots["printed"]
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    for shown, told in (("bike 82 -> 89 (18 new, 11 gone)", "82 -> 89 analysed bike stations "
                         "(18 new, 11 gone)"),
                        ("5 min 70.2% -> 69.8% (-1,377)", "70.2% -> 69.8% (-1,377"),
                        ("전농1동", "전농1동 +4,565"),
                        ("61 gained access, 67 lost; candidates 451 -> 505",
                         "candidate blocks 451 -> 505"),
                        ("62 -> 70 (14 appeared", "villages 62 -> 70 (14 appeared")):
        assert shown in printed, shown
        assert told in " ".join(readme.split()), told
    assert "+4,565" in printed.split("전농1동", 1)[1].splitlines()[0]


def test_changed_blocks_are_the_two_runs_walks(snapshots):
    a, b = _blocks(snapshots["runs"]["a"]), _blocks(snapshots["runs"]["b"])
    assert (a["block_id"].to_numpy() == b["block_id"].to_numpy()).all()
    changed = gpd.read_file(snapshots["out"] / "compare_blocks.gpkg", layer="changed_blocks")
    wa = a["walk_min_bike"].fillna(np.inf).to_numpy()
    wb = b["walk_min_bike"].fillna(np.inf).to_numpy()
    gained = np.zeros(len(a), bool)
    lost = np.zeros(len(a), bool)
    for t in THRESHOLDS:
        gained |= (wa > t + 1e-9) & (wb <= t + 1e-9)
        lost |= (wa <= t + 1e-9) & (wb > t + 1e-9)
    got = changed.set_index("block_id")
    bike_gained = {i for i, g in zip(got.index, got["gained"].fillna(""), strict=True)
                   if "bike (" in g}
    bike_lost = {i for i, g in zip(got.index, got["lost"].fillna(""), strict=True)
                 if "bike (" in g}
    assert bike_gained == set(a["block_id"][gained])
    assert bike_lost == set(a["block_id"][lost])
    assert bike_gained  # 2022 -> 2025 brought stations to some blocks
    cand = {i for i, c in zip(a["block_id"], a["candidate"] != b["candidate"], strict=True)
            if c}
    assert cand == set(got.index[got["candidate_a"] != got["candidate_b"]])


def test_new_and_gone_stations_are_the_two_runs_spaces(snapshots):
    info = json.loads((snapshots["out"] / "compare.json").read_text(encoding="utf-8"))
    sa = gpd.read_file(snapshots["runs"]["a"] / "spaces.gpkg", layer="spaces")
    sb = gpd.read_file(snapshots["runs"]["b"] / "spaces.gpkg", layer="spaces")
    ida = set(sa.loc[sa["category"] == "bike", "space_id"].astype(str))
    idb = set(sb.loc[sb["category"] == "bike", "space_id"].astype(str))
    bike = info["spaces"]["by_category"]["bike"]
    # a station renumbered on the same spot (within 2 m) is kept, not new and gone
    assert bike["new"] <= len(idb - ida) and bike["gone"] <= len(ida - idb)
    assert bike["kept"] + bike["gone"] == len(ida)
    assert bike["kept"] + bike["new"] == len(idb)
    assert bike["new"] > 0 and bike["gone"] > 0
    for cat in ("carshare", "facility"):  # the same files in both studies
        assert info["spaces"]["by_category"][cat]["new"] == 0
        assert info["spaces"]["by_category"][cat]["gone"] == 0


def _ids(values) -> set[int]:
    return {int(x) for v in values.dropna() for x in str(v).split(",") if x}


def test_villages_are_the_two_runs(snapshots):
    """Listed groups and unlisted villages, checked against the two runs' blocks and ranks."""
    a, b = _blocks(snapshots["runs"]["a"]), _blocks(snapshots["runs"]["b"])
    va = gpd.read_file(snapshots["runs"]["a"] / "villages.geojson")
    vb = gpd.read_file(snapshots["runs"]["b"] / "villages.geojson")
    info = json.loads((snapshots["out"] / "compare.json").read_text(encoding="utf-8"))
    assert info["villages_a"] == len(va) and info["villages_b"] == len(vb)
    table = _csv(snapshots["out"] / "compare_villages.csv")
    listed_a, listed_b = _ids(table["villages_a"]), _ids(table["villages_b"])
    assert listed_a <= set(va["village_id"]) and listed_b <= set(vb["village_id"])

    def blocks_of(blocks, v):
        return frozenset(blocks.loc[blocks["village_id"] == v, "block_id"])

    rank_a = dict(zip(va["village_id"], va["rank"], strict=True))
    rank_b = dict(zip(vb["village_id"], vb["rank"], strict=True))
    same_b = {blocks_of(b, w): w for w in set(vb["village_id"]) - listed_b}
    unlisted = set(va["village_id"]) - listed_a
    assert len(unlisted) == len(same_b)  # a village not listed is there in both, unchanged
    for v in unlisted:
        w = same_b[blocks_of(a, v)]
        assert rank_a[v] == rank_b[w]
    for row in table[table["change"] == "appeared"].itertuples():
        for w in _ids(pd.Series([row.villages_b])):
            assert a.set_index("block_id").loc[list(blocks_of(b, w)), "village_id"].isna().all()
    for row in table[table["change"] == "vanished"].itertuples():
        for v in _ids(pd.Series([row.villages_a])):
            assert b.set_index("block_id").loc[list(blocks_of(a, v)), "village_id"].isna().all()
    assert (table["change"] == "appeared").sum() > 0


def test_printout_names_the_change_by_dong(snapshots):
    printed = snapshots["printed"]
    assert "residents within reach of bike" in printed
    assert "by dong (B - A)" in printed
    assert "villages" in printed and "gained access" in printed
    assert missing_outputs(snapshots["out"], "compare") == []


@pytest.fixture(scope="module")
def demo():
    from sharemap import read_config, run_study

    return run_study(read_config(DEMO))


def test_same_study_twice_changes_nothing(demo):
    res = demo
    same = compare_studies(res, res)
    assert float(same.coverage["change_population"].abs().max()) == 0.0
    assert len(same.blocks) == 0
    assert len(same.villages) == 0  # no village changed
    assert set(same.spaces["change"]) == {"kept"}
    from sharemap.cli import _compare_lines  # the printout says so, not "3 -> 3 ()"

    assert any(line.strip().endswith(f"{len(res.villages)} -> {len(res.villages)} "
                                     "(none changed)") for line in _compare_lines(same))


def test_categories_in_one_study_only_are_said_not_compared(demo):
    """A study run before a tool-library layer was added, compared with one after: the
    printout said "residents within reach: no change in any category or threshold",
    while B's 26 (here the demo's 3) tool libraries and its `all` (every category) were
    left out of the comparison without a word. It now names what was not compared, and
    why, in the printout and in compare.json."""
    import dataclasses

    from sharemap.cli import _compare_lines
    from sharemap.pipeline import run_study

    cfg = demo.config
    without = dataclasses.replace(cfg, layers=tuple(
        layer for layer in cfg.layers if layer.category != "tools"))
    comp = compare_studies(run_study(without), demo)
    assert comp.info["categories_not_compared"] == {
        "tools": "only in B", "all": "every category: the two studies' categories differ"}
    lines = _compare_lines(comp)
    said = [line for line in lines if "not compared" in line]
    assert len(said) == 1 and "tools (only in B)" in said[0] and "all (" in said[0], lines
    assert not any("no change in any category or threshold" in line for line in lines)
    same = compare_studies(demo, demo)
    assert same.info["categories_not_compared"] == {}
    assert not any("not compared" in line for line in _compare_lines(same))


def test_thresholds_in_one_study_only_are_said_not_compared(demo):
    """Study B audited at 10, 15 and 20 minutes against the demo's 5, 10 and 15: the
    5- and 20-minute rows left the comparison without a word. They are now named."""
    import dataclasses

    from sharemap.cli import _compare_lines
    from sharemap.pipeline import run_study

    cfg = demo.config
    later = dataclasses.replace(cfg, coverage=dataclasses.replace(
        cfg.coverage, thresholds_minutes=(10.0, 15.0, 20.0)))
    comp = compare_studies(demo, run_study(later))
    assert comp.info["thresholds_not_compared"] == {"5": "only in A", "20": "only in B"}
    said = [line for line in _compare_lines(comp) if "not compared" in line]
    assert said and "5 min (only in A)" in said[0] and "20 min (only in B)" in said[0], said
    assert set(comp.coverage["threshold_min"]) == {10.0, 15.0}


def test_a_whatif_compared_is_the_whatif(demo):
    """The demo before and after removing tool library TL01: compare agrees with whatif."""
    from sharemap.study import whatif

    res = demo
    w = whatif(res, remove=["TL01"])
    comp = compare_studies(res, w.after)
    keys = ["level", "area_id", "category", "threshold_min"]
    wc = w.coverage_change[w.coverage_change["group"] == "all residents"]
    both = comp.coverage.merge(wc, on=keys)
    assert len(both) == len(comp.coverage) == len(wc)
    np.testing.assert_allclose(both["change_population"], both["population_covered_change"],
                               atol=1e-6)
    assert (both.loc[both["category"] == "tools", "change_population"] < 0).any()
    assert comp.info["spaces"]["by_category"]["tools"] == {"kept": 2, "new": 0, "gone": 1}
    gone = comp.spaces[comp.spaces["change"] == "gone"]
    assert gone["space_id_a"].tolist() == ["TL01"]
    # the villages that changed are whatif's, sides renamed
    assert comp.villages["change"].tolist() == w.village_change["change"].tolist()
    assert comp.villages["villages_a"].tolist() == w.village_change["villages_before"].tolist()
    # a block lost tools access within T exactly when its walk crossed T
    wa = res.blocks["walk_min_tools"].fillna(np.inf).to_numpy()
    wb = w.after.blocks["walk_min_tools"].fillna(np.inf).to_numpy()
    crossed = np.zeros(len(wa), bool)
    for t in THRESHOLDS:
        crossed |= (wa <= t) & (wb > t)
    lost = comp.blocks.loc[comp.blocks["lost"].str.contains("tools"), "block_id"]
    assert set(lost) == set(res.blocks["block_id"][crossed])
    assert not comp.blocks["gained"].str.len().any()  # removing gains nothing


def test_two_areas_are_refused_in_one_line_before_any_work(snapshots, tmp_path, capsys):
    out = tmp_path / "out"
    assert main(["compare", str(snapshots["files"]["a"]), str(DEMO), "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "Traceback" not in err
    assert "same area" in err and str(DEMO) in err
    assert not out.exists()


@pytest.mark.browser
def test_compare_map_shows_changed_blocks_and_stations(snapshots, driver):
    _browser.open_file(driver, snapshots["out"] / "map.html")
    assert _browser.severe_errors(driver, ("tile.openstreetmap.org",)) == []
    found = driver.execute_script("""
        const blocks = [], spaces = [];
        for (const k of Object.keys(window)) {
            const v = window[k];
            if (!(v instanceof L.GeoJSON)) { continue; }
            v.eachLayer(l => {
                const p = l.feature.properties;
                if (p.change !== undefined && p.block_id !== undefined) {
                    l.openPopup();
                    const box = l.getPopup().getElement().querySelector('.leaflet-popup-content');
                    blocks.push([p.block_id, p.change, box.textContent]);
                    l.closePopup();
                }
                if (p.block_id === undefined && (p.change === 'added' || p.change === 'removed')) {
                    spaces.push([p.change, p.category]);
                }
            });
        }
        return [blocks, spaces];
    """)
    blocks, spaces = found
    changed = gpd.read_file(snapshots["out"] / "compare_blocks.gpkg", layer="changed_blocks")
    assert sorted(b[0] for b in blocks) == sorted(changed["block_id"].tolist())
    row = changed.set_index("block_id").loc[blocks[0][0]]
    shown = blocks[0][2]  # A's and B's walks side by side in the popup, as in the gpkg
    assert f"walk to bike: before{row['walk_min_bike_a']:.1f} min" in shown
    assert f"walk to bike: after{row['walk_min_bike_b']:.1f} min" in shown
    assert all(("gained" in c or "lost" in c or "candidacy" in c) for _b, c, _t in blocks)
    info = json.loads((snapshots["out"] / "compare.json").read_text(encoding="utf-8"))
    assert spaces.count(["added", "bike"]) == info["spaces"]["by_category"]["bike"]["new"]
    assert spaces.count(["removed", "bike"]) == info["spaces"]["by_category"]["bike"]["gone"]
    legend = " ".join(e.text for e in driver.find_elements("css selector", ".sharemap-legend"))
    assert "space added" in legend and "block changed" in legend


def test_two_folders_with_copies_of_the_same_files_are_one_area(tmp_path):
    """A planner copies the study folder to swap a layer: the copies of the area, the
    network and the boundaries are the same place (compared by content, not by path);
    an edited network file is not."""
    import shutil

    from sharemap import ConfigError, read_config
    from sharemap.compare import check_same_area

    a, b = tmp_path / "2022", tmp_path / "2025"
    shutil.copytree(DEMO.parent, a)
    shutil.copytree(DEMO.parent, b)
    check_same_area(read_config(a / DEMO.name), read_config(b / DEMO.name))  # no error
    osm = b / "walk.osm"
    osm.write_text(osm.read_text(encoding="utf-8").replace("</osm>", "<!-- edited -->\n</osm>"),
                   encoding="utf-8")
    with pytest.raises(ConfigError, match=r"\[network\] differs"):
        check_same_area(read_config(a / DEMO.name), read_config(b / DEMO.name))


def test_a_repeated_id_in_either_study_is_matched_once():
    """Ids are unique per file, not per category: two bike files may both hold station "1".
    A repeated (category, id) in B raised a numpy ValueError; now the first is matched by
    id, the other by place (within 2 m) or counted new or gone."""
    from shapely.geometry import Point

    from sharemap.compare import _match_spaces

    def spaces(rows):
        return gpd.GeoDataFrame({"category": ["bike"] * len(rows),
                                 "space_id": [r[0] for r in rows],
                                 "name": [r[0] for r in rows], "capacity": 1.0},
                                geometry=[Point(r[1], 0) for r in rows], crs="EPSG:5186")

    a = spaces([("1", 0.0)])
    b = spaces([("1", 0.0), ("1", 500.0)])
    got = _match_spaces(a, b)
    assert sorted(zip(got["change"], got.geometry.x, strict=True)) == [("kept", 0.0),
                                                                        ("new", 500.0)]
    got = _match_spaces(b, a)
    assert sorted(zip(got["change"], got.geometry.x, strict=True)) == [("gone", 500.0),
                                                                        ("kept", 0.0)]


def test_adjacent_space_ids_name_one_space_each(snapshots):
    """In study A (June 2022 dock table), bike station 666 and Nanumcar spot 666 share an
    id. An analyst re-adding each block's adjacent capacity from spaces.gpkg by the ids in
    `adjacent_space_ids` got a different sum for 53 blocks, whose bare "666" matched both
    spaces; such ids are now `category:id`, so each names exactly one space."""
    run = snapshots["runs"]["a"]
    spaces = gpd.read_file(run / "spaces.gpkg")
    blocks = gpd.read_file(run / "blocks.gpkg", layer="blocks")
    shared = spaces.groupby("space_id")["category"].nunique()
    assert "666" in set(shared.index[shared > 1])  # the real collision
    capacity = {**dict(zip(spaces["space_id"], spaces["capacity"], strict=True)),
                **{f"{c}:{i}": k for i, c, k in zip(spaces["space_id"], spaces["category"],
                                                     spaces["capacity"], strict=True)}}
    named = 0
    for ids, n, cap in zip(blocks["adjacent_space_ids"].fillna(""), blocks["adjacent_spaces"],
                           blocks["adjacent_capacity"], strict=True):
        listed = ids.split(",") if ids else []
        assert len(listed) == n
        assert "666" not in listed
        named += any(s.endswith(":666") for s in listed)
        assert sum(capacity[s] for s in listed) == pytest.approx(cap)
    assert named == 53
