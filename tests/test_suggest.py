"""Site suggestions on the demo, checked by brute force and by what-ifs."""

from __future__ import annotations

import itertools

import geopandas as gpd
import numpy as np
import pytest

from sharemap import ConfigError, read_config, run_study
from sharemap.access import walk_times
from sharemap.datasets import get_path
from sharemap.study import _grid_sites, whatif
from sharemap.suggest import suggest_sites


@pytest.fixture(scope="module")
def demo():
    return run_study(read_config(get_path("demo")))


def _covers_independently(res, sites, minutes):
    """Per site, the block origins it reaches, from walk_times (one site at a time)."""
    origins = res.origins.geometry
    out = []
    for i in range(len(sites)):
        one = sites.iloc[[i]].assign(category="x")
        t = walk_times(res.network, origins, one,
                       walk_speed_kmh=res.config.walk_speed_kmh)["walk_min_x"].to_numpy()
        out.append(np.flatnonzero(t <= minutes))
    return out


def test_population_objective_matches_brute_force(demo):
    """Grid candidates; the best 2 of them by exhaustive search equals the exact MILP."""
    sites = _grid_sites(demo, 400.0)
    covers = _covers_independently(demo, sites, 15)
    # residents where the walks start: each block origin holds its share of its block's
    pop = demo.origins["population"].to_numpy()
    covered0 = (demo.origins["walk_min_tools"] <= 15).to_numpy()
    best = 0.0
    for a, b in itertools.combinations(range(len(sites)), 2):
        hit = np.zeros(len(pop), bool)
        hit[covers[a]] = hit[covers[b]] = True
        best = max(best, pop[hit & ~covered0].sum())
    s = suggest_sites(demo, category="tools", add=2, candidates=sites)
    before = s.info["covered_population_before"]
    assert before == pytest.approx(pop[covered0].sum())
    assert s.info["optimum_population"] - before == pytest.approx(best, rel=1e-9)
    assert s.info["covered_population_after"] - before >= 0.95 * best
    # gains in order are non-increasing and add up
    gains = s.suggestions["gain_population"].to_numpy()
    assert (np.diff(gains) <= 1e-9).all()
    assert s.suggestions["covered_population_after"].iloc[-1] == \
        pytest.approx(s.info["covered_population_after"])
    assert s.candidates["chosen"].sum() == 2


def test_greedy_gain_is_the_true_new_coverage(demo):
    s = suggest_sites(demo, category="toys", add=3)
    chosen = s.suggestions
    added = chosen[["site_id", "name", "geometry"]].rename(columns={"site_id": "space_id"})
    added = added.assign(category="toys")
    after = whatif(demo, add=added).after
    pop = after.origins["population"].to_numpy()
    assert pop[(after.origins["walk_min_toys"] <= 15).to_numpy()].sum() == \
        pytest.approx(s.info["covered_population_after"])
    city = after.coverage.query("level == 'city' and category == 'toys' and threshold_min == 15")
    assert city["population_covered"].iloc[0] == pytest.approx(s.info["covered_population_after"])


def test_villages_objective_counts_new_candidates(demo):
    s = suggest_sites(demo, category="tools", add=2, objective="villages")
    chosen = s.suggestions[["site_id", "name", "geometry"]].rename(columns={"site_id": "space_id"})
    after = whatif(demo, add=chosen.assign(category="tools")).after
    assert int(after.blocks["candidate"].sum()) == s.info["candidate_blocks_after"]
    assert s.info["candidate_blocks_after"] - s.info["candidate_blocks_before"] >= \
        0.95 * s.info["optimum_new_candidate_blocks"]


def test_bad_options(demo):
    with pytest.raises(ConfigError, match="objective"):
        suggest_sites(demo, category="tools", add=1, objective="votes")
    with pytest.raises(ConfigError, match="not in the study"):
        suggest_sites(demo, category="boats", add=1)
    empty = gpd.GeoDataFrame({"site_id": [], "name": []}, geometry=[], crs=demo.network.crs)
    with pytest.raises(Exception, match="no candidate sites"):
        suggest_sites(demo, category="tools", add=1, candidates=empty)


def test_cli_suggest_and_whatif_outputs(tmp_path, capsys):
    import json

    from sharemap.cli import main

    cfg = str(get_path("demo"))
    assert main(["suggest", cfg, "--category", "tools", "--add", "2",
                 "--out", str(tmp_path / "s")]) == 0
    sug = gpd.read_file(tmp_path / "s" / "suggestions.gpkg", layer="suggestions")
    assert list(sug.columns) == ["order", "site_id", "name", "gain_population",
                                 "covered_population_after", "geometry"]
    assert sug.crs.to_epsg() == 4326
    cand = gpd.read_file(tmp_path / "s" / "candidates.gpkg", layer="candidates")
    assert {"site_id", "name", "chosen"} <= set(cand.columns) and cand["chosen"].sum() == 2
    info = json.loads((tmp_path / "s" / "suggest.json").read_text(encoding="utf-8"))
    for key in ("category", "minutes", "objective", "covered_population_before",
                "covered_population_after", "population_total", "optimum_population"):
        assert key in info
    assert (tmp_path / "s" / "map.html").stat().st_size > 0
    pts = tmp_path / "new.csv"
    tool = (get_path("demo").parent / "tool_libraries.csv").read_text(encoding="utf-8-sig")
    lines = tool.splitlines()
    pts.write_text("\n".join([lines[0], lines[1].replace(lines[1].split(",")[0], "NEW1", 1)]),
                   encoding="utf-8")
    assert main(["whatif", cfg, "--add", str(pts), "--category", "tools", "--x", "lon",
                 "--y", "lat", "--crs", "EPSG:4326", "--id", "lib_id", "--name", "name",
                 "--out", str(tmp_path / "w")]) == 0
    info = json.loads((tmp_path / "w" / "whatif.json").read_text(encoding="utf-8"))
    assert info["added_duplicates"] == 1 and info["blocks_changed"] == 0
    assert main(["whatif", cfg, "--remove", "nope", "--out", str(tmp_path / "w2")]) == 2
    assert "nope" in capsys.readouterr().err
