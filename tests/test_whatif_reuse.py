"""Issue 15, a fast what-if: the audit rows of untouched categories are reused.

A what-if measures again only the categories whose spaces changed; the coverage, group
coverage and gap rows of the others are the study's. Checked here against a study run
from scratch on the after-state files: the demo (a tool library removed, one added) and
a hand-made grid (spaces of two of three categories changed).
"""

from __future__ import annotations

import shutil

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from conftest import CRS, X0, Y0, grid_edges, grid_nodes, hand_study, layer_toml, osm_graph

from sharemap import gaps as gaps_module
from sharemap import read_config, run_study
from sharemap.datasets import get_path
from sharemap.network import network_from_graph
from sharemap.study import whatif


def _same_audit(got, want):
    """coverage.csv, coverage_groups.csv and gaps.csv of two results: the same, exactly."""
    for name in ("coverage", "coverage_groups", "gaps"):
        a, b = getattr(got, name), getattr(want, name)
        assert (a is None) == (b is None), name
        if a is not None:
            pd.testing.assert_frame_equal(a, b, check_exact=True, obj=name)
            assert a.to_csv(index=False) == b.to_csv(index=False), name


def _spy(monkeypatch):
    """Record the categories whose gaps each audit lists (None: all)."""
    seen = []
    real = gaps_module._gap_inputs

    def spy(blocks, config, origins, categories=None):
        seen.append(None if categories is None else list(categories))
        return real(blocks, config, origins, categories)

    monkeypatch.setattr(gaps_module, "_gap_inputs", spy)
    return seen


# ----------------------------------------------------------------------------- the demo


@pytest.fixture(scope="module")
def demo_after(tmp_path_factory):
    """The demo, and the demo from scratch with TL01 removed and a tool library NEW1 added."""
    before = run_study(read_config(get_path("demo")))
    blocks = before.blocks  # the new one on the block farthest from a tool library
    far = blocks.geometry.iloc[int(np.nanargmax(blocks["walk_min_tools"].to_numpy(float)))]
    lonlat = gpd.GeoSeries([far.representative_point()], crs=blocks.crs).to_crs(4326)
    d = tmp_path_factory.mktemp("demo_after") / "demo"
    shutil.copytree(get_path("demo").parent, d)
    path = d / "tool_libraries.csv"
    lines = path.read_text(encoding="utf-8-sig").splitlines()
    kept = [ln for ln in lines if not ln.startswith("TL01,")]
    assert len(kept) == len(lines) - 1
    kept.append(f"NEW1,새 공구대여소,서울특별시 데모구,{lonlat.x[0]:.7f},{lonlat.y[0]:.7f},")
    path.write_text("\n".join(kept) + "\n", encoding="utf-8")
    return before, run_study(read_config(d / "study.toml"))


def test_demo_whatif_audit_equals_the_after_state_run_from_scratch(demo_after, monkeypatch):
    before, scratch = demo_after
    new = scratch.spaces[scratch.spaces["space_id"] == "NEW1"]
    assert len(new) == 1
    seen = _spy(monkeypatch)
    w = whatif(before, add=new, remove=["TL01"])
    assert seen == [["tools"]]  # only the tools rows were computed again
    _same_audit(w.after, scratch)
    # and the figures moved where they should: tools and "all" only
    cov = w.coverage_change.query("group == 'all residents'")
    moved = set(cov.loc[cov["population_covered_change"] != 0, "category"])
    assert moved and moved <= {"tools", "all"}


# ----------------------------------------------------------------------------- by hand


def _grid_study(folder, spaces):
    """A 5 x 5 street grid (100 m), its 16 cells as blocks, two dongs, three categories."""
    cells = [shapely.box(X0 + c * 100 + 10, Y0 + r * 100 + 10, X0 + c * 100 + 90,
                         Y0 + r * 100 + 90) for r in range(4) for c in range(4)]
    gpd.GeoDataFrame({"block_id": range(1, 17)}, geometry=cells, crs=CRS).to_file(
        folder / "blocks.geojson")
    gpd.GeoDataFrame({"name": ["서", "동"], "code": ["11", "12"], "pop": [8000, 6000],
                      "pop_65plus": [1500, 900]},
                     geometry=[shapely.box(X0 - 50, Y0 - 50, X0 + 200, Y0 + 450),
                               shapely.box(X0 + 200, Y0 - 50, X0 + 450, Y0 + 450)],
                     crs=CRS).to_file(folder / "dong.geojson")
    layers = ""
    for cat in ("bike", "tools", "toys"):
        rows = [(i, x, y) for c, i, x, y in spaces if c == cat]
        pd.DataFrame(rows, columns=["id", "x", "y"]).assign(name=lambda f: "n-" + f["id"]).to_csv(
            folder / f"{cat}.csv", index=False)
        layers += layer_toml(cat, f"{cat}.csv")
    return hand_study(folder, layers,
                      tables="[villages]\nadjacent_minutes = 2\nmin_spaces = 2",
                      coverage="thresholds_minutes = [1, 2, 4]\n"
                               'groups = [ { column = "pop_65plus", label = "65+", '
                               "walk_speed_kmh = 3.0 } ]")


BEFORE = [("bike", "b1", X0 + 5, Y0 + 100), ("bike", "b2", X0 + 300, Y0 + 395),
          ("tools", "t1", X0 + 100, Y0 + 5), ("tools", "t2", X0 + 395, Y0 + 200),
          ("toys", "y1", X0 + 200, Y0 + 205), ("toys", "y2", X0 + 5, Y0 + 300)]
ADDED = [("bike", "b3", X0 + 400, Y0 + 5), ("toys", "y3", X0 + 300, Y0 + 105)]


def test_hand_made_whatif_audit_equals_the_after_state_run_from_scratch(tmp_path, monkeypatch):
    net = network_from_graph(osm_graph(grid_nodes(5, 5), grid_edges(5, 5)), crs=CRS)
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    before = run_study(_grid_study(tmp_path / "a", BEFORE), network=net, cache=False)
    after_spaces = [s for s in BEFORE if s[1] != "b1"] + ADDED
    scratch = run_study(_grid_study(tmp_path / "b", after_spaces), network=net, cache=False)
    assert scratch.coverage_groups is not None and len(scratch.gaps)
    add = scratch.spaces[scratch.spaces["space_id"].isin(["b3", "y3"])]
    seen = _spy(monkeypatch)
    w = whatif(before, add=add, remove=["b1"])
    assert seen == [["bike", "toys"]]  # tools' rows are the study's
    _same_audit(w.after, scratch)
    # the tools rows are the study's own, the others did move
    for name in ("coverage", "gaps"):
        a, b = getattr(w.after, name), getattr(before, name)
        pd.testing.assert_frame_equal(a[a["category"] == "tools"].reset_index(drop=True),
                                      b[b["category"] == "tools"].reset_index(drop=True))
    assert not w.after.coverage.equals(before.coverage)
