"""Site suggestions on the demo, checked by brute force and by what-ifs."""

from __future__ import annotations

import itertools

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely

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


# ------------------------------------------------------------- issue 15: suggest


def _walk_min(res, sites, speed_kmh):
    """Per block origin and site, the walk in minutes at `speed_kmh` (walk_times, one by one)."""
    origins = res.origins.geometry
    cols = []
    for i in range(len(sites)):
        one = sites.iloc[[i]].assign(category="x")
        cols.append(walk_times(res.network, origins, one,
                               walk_speed_kmh=speed_kmh)["walk_min_x"].to_numpy())
    return np.column_stack(cols)


def test_candidates_never_include_an_existing_space_of_the_category(demo):
    """Shortfall 1: suggesting facilities used to offer the facilities that exist (+0 each)."""
    from sharemap.study import site_candidates

    s = suggest_sites(demo, category="facility", add=3)
    assert s.info["candidate_source"] == "grid"
    existing = demo.spaces[demo.spaces["category"] == "facility"]
    assert not s.candidates["site_id"].isin(existing["space_id"]).any()
    # two sites reach every resident still beyond 15 minutes: no third site that adds nothing
    assert s.info["chosen"] == len(s.suggestions) == 2 and s.info["asked"] == 3
    assert (s.suggestions["gain_population"] > 0).all()
    assert s.info["covered_population_after"] == pytest.approx(s.info["optimum_population"])
    # given candidates: an existing tool library among them is left out and named
    tools = demo.spaces[demo.spaces["category"] == "tools"]
    p = tools.geometry.iloc[0]
    given = gpd.GeoDataFrame({"site_id": ["T-A", "NEW-1"], "name": ["same", "new"]},
                             geometry=[p, shapely.Point(p.x + 300, p.y)], crs=tools.crs)
    found = site_candidates(demo, category="tools", candidates=given)
    assert found.sites["site_id"].tolist() == ["NEW-1"]
    assert found.existing["space_id"].tolist() == [tools["space_id"].iloc[0]]
    # 1.9 m away is the same space (the 2 m duplicate rule); 2.5 m away is a new site
    near = given.assign(geometry=[shapely.Point(p.x + 1.9, p.y), shapely.Point(p.x + 2.5, p.y)])
    assert site_candidates(demo, category="tools", candidates=near).sites["site_id"].tolist() \
        == ["NEW-1"]


def test_grid_on_walkable_streets_away_from_existing_sites(demo):
    from sharemap.study import site_candidates

    found = site_candidates(demo, category="tools", grid_m=300.0)
    assert found.source == "grid" and found.grid_m == 300.0 and len(found.sites) > 20
    edges = shapely.union_all(demo.network.edges.geometry.to_numpy())
    dist = shapely.distance(found.sites.geometry.to_numpy(), edges)
    assert dist.max() < 1e-6  # on a street of the walking network
    tools = demo.spaces[demo.spaces["category"] == "tools"].geometry
    nearest = np.array([tools.distance(p).min() for p in found.sites.geometry])
    assert nearest.min() > 150.0  # none within half the spacing of an existing library
    assert len(found.existing) > 0
    # --grid wins over the study's facilities; with --candidates it is an error
    s = suggest_sites(demo, category="tools", add=2, grid_m=300.0)
    assert s.info["candidate_source"] == "grid" and s.info["grid_m"] == 300.0
    with pytest.raises(ConfigError, match="not both"):
        suggest_sites(demo, category="tools", add=1, grid_m=300.0,
                      candidates=found.sites)


def test_exclude_removes_sites_in_the_areas(demo, tmp_path):
    from sharemap.study import read_areas, site_candidates

    every = site_candidates(demo, category="tools", grid_m=200.0).sites
    x0, y0, x1, y1 = every.total_bounds
    park = shapely.box(x0, y0, (x0 + x1) / 2, (y0 + y1) / 2)
    path = tmp_path / "parks.geojson"
    gpd.GeoDataFrame({"name": ["park"]}, geometry=[park], crs=every.crs).to_crs(4326).to_file(
        path, driver="GeoJSON")
    areas = read_areas(path, crs=demo.config.crs)
    found = site_candidates(demo, category="tools", grid_m=200.0, exclude=areas)
    inside = shapely.intersects(areas.iloc[0], every.geometry.to_numpy())  # as read back
    assert found.excluded == int(inside.sum()) > 0
    assert set(found.sites["site_id"]) == set(every["site_id"][~inside])
    s = suggest_sites(demo, category="tools", add=2, grid_m=200.0, exclude=areas)
    assert not shapely.intersects(areas.iloc[0], s.suggestions.geometry.to_numpy()).any()
    assert s.info["candidates_excluded"] == found.excluded


def test_optimum_sites_are_written_and_agree_with_a_whatif(demo):
    """Shortfall 2: the optimum's value was printed but never its sites."""
    sites = _grid_sites(demo, 400.0)
    s = suggest_sites(demo, category="tools", add=2, candidates=sites)
    assert s.info["bound_method"] == "optimum"
    assert s.candidates["in_optimum"].sum() == 2
    opt = s.optimum
    assert list(opt["order"]) == [1, 2]
    assert set(opt["site_id"]) == set(s.candidates.loc[s.candidates["in_optimum"], "site_id"])
    assert s.info["optimum_sites"] == opt["site_id"].tolist()
    added = opt[["site_id", "name", "geometry"]].rename(columns={"site_id": "space_id"})
    after = whatif(demo, add=added.assign(category="tools")).after
    city = after.coverage.query("level == 'city' and category == 'tools' and threshold_min == 15")
    assert city["population_covered"].iloc[0] == pytest.approx(s.info["optimum_population"])
    assert opt["covered_population_after"].iloc[-1] == pytest.approx(s.info["optimum_population"])
    assert s.info["optimum_gain"] >= s.info["greedy_gain"] - 1e-6


def test_group_weighted_objective_matches_brute_force(demo):
    """--weights "65+=2": a 65+ resident counts twice, at 3.6 km/h; by exhaustive search."""
    sites = _grid_sites(demo, 400.0)
    pop = demo.origins["population"].to_numpy()
    old = demo.origins["population_65plus"].to_numpy()
    rest = pop - old
    fast = _walk_min(demo, sites, 4.8)   # the study's pace
    slow = _walk_min(demo, sites, 3.6)   # the group's
    tools = demo.spaces[demo.spaces["category"] == "tools"]
    have_fast = walk_times(demo.network, demo.origins.geometry, tools,
                           walk_speed_kmh=4.8)["walk_min_tools"].to_numpy()
    have_slow = walk_times(demo.network, demo.origins.geometry, tools,
                           walk_speed_kmh=3.6)["walk_min_tools"].to_numpy()

    def value(chosen):
        f = np.fmin(have_fast, fast[:, list(chosen)].min(axis=1, initial=np.inf))
        sl = np.fmin(have_slow, slow[:, list(chosen)].min(axis=1, initial=np.inf))
        return rest[f <= 15].sum() + 2 * old[sl <= 15].sum()

    base = value([])
    best = max(value(c) for c in itertools.combinations(range(len(sites)), 2))
    s = suggest_sites(demo, category="tools", add=2, candidates=sites, weights="65+=2")
    assert s.info["weights"] == {"65+": 2.0}
    assert s.info["objective_before"] == pytest.approx(base)
    assert s.info["optimum_gain"] == pytest.approx(best - base, rel=1e-9)
    chosen = [int(np.flatnonzero(sites["site_id"] == i)[0]) for i in s.suggestions["site_id"]]
    assert s.suggestions["gain_weighted"].sum() == pytest.approx(value(chosen) - base)
    # the 65+ gain is the group's residents newly within 15 min at 3.6 km/h
    sl = np.fmin(have_slow, slow[:, chosen].min(axis=1))
    assert s.info["gain_65plus"] == pytest.approx(old[(sl <= 15) & ~(have_slow <= 15)].sum())
    # weighting changes the question: not always the same sites as unweighted
    plain = suggest_sites(demo, category="tools", add=2, candidates=sites)
    assert plain.info["optimum_gain"] == pytest.approx(
        max(pop[np.fmin(have_fast, fast[:, list(c)].min(axis=1)) <= 15].sum()
            for c in itertools.combinations(range(len(sites)), 2)) - pop[have_fast <= 15].sum(),
        rel=1e-9)


def test_bad_weights(demo):
    with pytest.raises(ConfigError, match="not a population group"):
        suggest_sites(demo, category="tools", add=1, weights="kids=2")
    with pytest.raises(ConfigError, match="GROUP=WEIGHT"):
        suggest_sites(demo, category="tools", add=1, weights="65+")
    with pytest.raises(ConfigError, match="weight of '65\\+'"):
        suggest_sites(demo, category="tools", add=1, weights="65+=-1")
    with pytest.raises(ConfigError, match="population objective"):
        suggest_sites(demo, category="tools", add=1, weights="65+=2", objective="villages")


def test_choose_sites_bound_when_the_optimum_is_not_sought():
    """The greedy's online bound is an upper bound; a small MCLP where greedy is not optimal."""
    from scipy import sparse

    from sharemap.suggest import choose_sites

    # greedy takes the middle site (5) and then one side (3): 8; the two sides make 9
    cover = sparse.csr_matrix(np.array([
        [1, 1, 1, 1, 1, 0, 0, 0, 0],
        [0, 0, 0, 0, 0, 1, 1, 1, 1],
        [0, 0, 1, 1, 1, 1, 1, 0, 0],
    ], dtype=bool))
    w = np.array([1, 1, 1, 1, 0.5, 1, 1, 1, 1.0])
    w[[2, 3, 4, 5, 6]] = [1, 1, 1, 1.2, 1]
    choice = choose_sites(cover, w, np.zeros(9, bool), 2, exact=False)
    best = max(w[cover[list(c)].toarray().any(axis=0)].sum()
               for c in itertools.combinations(range(3), 2))
    assert choice.bound_method == "greedy_online"
    assert choice.greedy_gain <= best <= choice.bound_gain + 1e-12
    exact = choose_sites(cover, w, np.zeros(9, bool), 2)
    assert exact.bound_method == "optimum" and exact.optimum_gain == pytest.approx(best)
    assert sorted(exact.optimum.tolist()) == [0, 1]


def test_villages_objective_optimum_matches_enumeration(demo):
    sites = _grid_sites(demo, 500.0)
    s = suggest_sites(demo, category="tools", add=2, objective="villages", candidates=sites)
    from sharemap.study import cover_matrix

    adj = cover_matrix(demo, sites, minutes=demo.config.villages.adjacent_minutes).toarray()
    counts = demo.blocks["adjacent_spaces"].to_numpy()
    need = demo.config.villages.min_spaces
    best = max(int(((counts < need) & (counts + adj[list(c)].sum(axis=0) >= need)).sum())
               for c in itertools.combinations(range(len(sites)), 2))
    assert s.info["optimum_new_candidate_blocks"] == best
    assert s.candidates["in_optimum"].sum() <= 2
    assert s.suggestions["gain_blocks"].sum() == \
        s.info["candidate_blocks_after"] - s.info["candidate_blocks_before"]


def test_progress_is_shown(demo, capsys):
    suggest_sites(demo, category="tools", add=2, grid_m=300.0, progress=True)
    err = capsys.readouterr().err
    assert "walks from candidate sites" in err and "choosing sites" in err


def test_cli_suggest_grid_exclude_weights_and_the_gap(tmp_path, capsys):
    import json

    from sharemap.cli import main

    cfg = str(get_path("demo"))
    park = tmp_path / "park.geojson"
    res_crs = "EPSG:5186"
    gpd.GeoDataFrame({"n": [1]}, geometry=[shapely.Point(203_000, 554_000).buffer(300)],
                     crs=res_crs).to_file(park, driver="GeoJSON")
    out = tmp_path / "s"
    assert main(["suggest", cfg, "--category", "tools", "--add", "2", "--grid", "250",
                 "--exclude", str(park), "--weights", "65+=2", "--out", str(out)]) == 0
    text = capsys.readouterr().out
    assert "250 m grid" in text and "exact optimum" in text and "% below the optimum" in text
    assert "65+ residents newly within reach" in text
    cand = gpd.read_file(out / "candidates.gpkg", layer="candidates")
    assert {"chosen", "in_optimum"} <= set(cand.columns)
    assert cand["in_optimum"].sum() == 2
    opt = gpd.read_file(out / "suggestions.gpkg", layer="optimum")
    assert list(opt["order"]) == [1, 2] and set(opt["site_id"]) == set(
        cand.loc[cand["in_optimum"], "site_id"])
    info = json.loads((out / "suggest.json").read_text(encoding="utf-8"))
    assert info["grid_m"] == 250 and info["weights"] == {"65+": 2.0}
    assert info["candidates_excluded"] > 0
    assert main(["suggest", cfg, "--category", "tools", "--add", "1", "--weights", "nobody=2",
                 "--out", str(tmp_path / "bad")]) == 2
    assert "nobody" in capsys.readouterr().err


# ---------------------------------------------------------------- real Dongdaemun-gu


@pytest.fixture(scope="module")
def dongdaemun(seoul_data, tmp_path_factory):
    from conftest import dongdaemun_toml

    cfg = tmp_path_factory.mktemp("ddm-suggest") / "study.toml"
    cfg.write_text(dongdaemun_toml(seoul_data), encoding="utf-8")
    return cfg


def test_dongdaemun_facility_suggestions_each_add_residents(dongdaemun, seoul_data, tmp_path,
                                                             capsys):
    """Done-when: three new facility sites, each adding residents; the optimum written."""
    import json

    from sharemap.cli import main

    out = tmp_path / "s"
    assert main(["suggest", str(dongdaemun), "--category", "facility", "--add", "3",
                 "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    sug = gpd.read_file(out / "suggestions.gpkg", layer="suggestions")
    assert len(sug) == 3 and (sug["gain_population"] > 0).all()
    info = json.loads((out / "suggest.json").read_text(encoding="utf-8"))
    assert info["candidate_source"] == "grid" and info["candidates_existing"] >= 1
    cand = gpd.read_file(out / "candidates.gpkg", layer="candidates")
    assert cand["in_optimum"].sum() == 3 and info["bound_method"] == "optimum"
    assert info["optimum_gain"] >= info["greedy_gain"]
    assert "exact optimum" in printed


def test_dongdaemun_bike_candidates_write_the_optimum(dongdaemun, seoul_data, tmp_path, capsys):
    """Shortfall 2 on the real data: bike stations as candidates; the optimum's sites written."""
    import json

    from sharemap.cli import main

    out = tmp_path / "s"
    assert main(["suggest", str(dongdaemun), "--category", "facility", "--add", "3",
                 "--candidates", str(seoul_data / "raw/ttareungyi_master_seoul_open_data.json"),
                 "--preset", "ttareungyi", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    info = json.loads((out / "suggest.json").read_text(encoding="utf-8"))
    opt = gpd.read_file(out / "suggestions.gpkg", layer="optimum")
    assert len(opt) == 3 and opt["site_id"].tolist() == info["optimum_sites"]
    assert info["optimum_population"] >= info["covered_population_after"]
    gap = 100 * (info["optimum_gain"] - info["greedy_gain"]) / info["optimum_gain"]
    assert f"({gap:.2f}% below the optimum)" in printed


def test_weights_walk_a_groups_own_profile(tmp_path):
    """A wheelchair group is weighted on the streets it can use (the stepped grid by hand).

    tests/test_profiles.py's grid: wheelchair users (3 km/h = 50 m/min, 25 per block)
    reach the station from A and D in 300 m = 6 min, from B and C never (cut off). Site
    X at (0, 50), on 00-10, is 100 m from A and 200 m from D: both within 5 min. Site
    Y at (350, 110) joins 13-14, a piece only steps reach: it reaches no wheelchair user.
    Rescaling everyone's walks (the walk profile) would count A and D as covered
    already (200 m = 4 min) and choose nothing.
    """
    from test_profiles import X0, Y0, _grid_study

    (tmp_path / "study.toml").write_text(_grid_study(tmp_path, (
        '[ { column = "chair", label = "wheelchair users", profile = "wheelchair", '
        'walk_speed_kmh = 3.0 } ]')), encoding="utf-8")
    result = run_study(read_config(tmp_path / "study.toml"), cache=False)
    sites = gpd.GeoDataFrame({"site_id": ["X", "Y"], "name": ["x", "y"]},
                             geometry=[shapely.Point(X0, Y0 + 50),
                                       shapely.Point(X0 + 350, Y0 + 110)], crs="EPSG:5186")
    s = suggest_sites(result, category="bike", add=2, minutes=5, candidates=sites,
                      weights="wheelchair users=2")
    assert s.suggestions["site_id"].tolist() == ["X"] and s.info["chosen"] == 1
    assert s.info["gain_wheelchair_users"] == pytest.approx(50)
    assert s.suggestions["gain_weighted"].tolist() == pytest.approx([100])
    assert s.suggestions["gain_population"].tolist() == pytest.approx([0])
    assert s.info["bound_method"] == "optimum" and s.info["optimum_gain"] == pytest.approx(100)
    # the pipeline's own profile walks agree: a what-if with X
    added = sites.iloc[[0]].rename(columns={"site_id": "space_id"}).assign(category="bike")
    cov = whatif(result, add=added).coverage_change
    row = cov.query("group == 'wheelchair users' and level == 'city' and category == 'bike' "
                    "and threshold_min == 5").iloc[0]
    assert (row["population_covered_before"], row["population_covered_after"]) == \
        pytest.approx((0, 50))


def test_site_walks_within_when_the_last_sites_reach_nothing():
    """Sites with no walk at the end (cut off, or off the network) used to raise IndexError."""
    from sharemap.study import SiteWalks

    walks = SiteWalks(sites=gpd.GeoDataFrame({"site_id": list("abc")},
                                             geometry=[shapely.Point(0, 0)] * 3),
                      max_m=100.0, indptr=np.array([0, 2, 2, 2]), origin=np.array([0, 3]),
                      distance_m=np.array([50.0, 150.0]), n_origins=4)
    got = walks.within(walks.distance_m <= 100).toarray()
    assert got.tolist() == [[True, False, False, False], [False] * 4, [False] * 4]
    assert walks.within(np.ones(2, bool)).toarray()[0].tolist() == [True, False, False, True]


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_lagrangian_bound_is_above_the_optimum_and_near_the_lp(seed):
    """Random maximal-covering instances: brute force <= Lagrangian; LP (HiGHS) <= it, close."""
    from scipy import sparse

    from sharemap.suggest import _solve, lagrangian_bound

    rng = np.random.default_rng(seed)
    dense = rng.random((9, 40)) < 0.2
    cover = sparse.csr_matrix(dense)
    w = rng.uniform(1, 10, 40)
    k = 3
    best = max(w[dense[list(c)].any(axis=0)].sum()
               for c in itertools.combinations(range(9), k))
    status, _, lp, _ = _solve(cover, w, k, integral=False, time_limit_s=30)
    assert status == "optimal"
    lag = lagrangian_bound(cover, w, k, lower=0.9 * best, iters=3000, max_s=30)
    assert best - 1e-9 <= lp + 1e-6 and lp <= lag + 1e-6
    assert lag <= lp * 1.02  # subgradient steps come close to the LP's value
    first = np.sort(cover.astype(float) @ w)[::-1][:k].sum()
    assert lag <= first + 1e-9  # never above where it starts


def test_a_groups_walk_on_a_threshold_counts_as_coverage_groups_counts_it(tmp_path):
    """One formula scales everyone's minutes to a group's speed (profiles.at_group_speed).

    One street; the block's origin sits on its west end, the station 850 m east: 10.625
    min at 4.8 km/h, and for the 65+ at 3.4 km/h 10.625 * 4.8 / 3.4 = 15.0 exactly, so
    coverage_groups.csv counts them within 15 minutes. Suggest scaled the same walk as
    10.625 * (4.8 / 3.4) = 15.000000000000002, found them outside, and credited a new
    site beside them with 300 65+ residents the audit already counts as covered.
    """
    from conftest import CRS, X0, Y0, hand_study, layer_toml, osm_graph
    from shapely.geometry import box

    from sharemap.network import network_from_graph

    gpd.GeoDataFrame({"block_id": [1]}, geometry=[box(X0 - 1, Y0 - 1, X0 + 1, Y0 + 1)],
                     crs=CRS).to_file(tmp_path / "blocks.geojson")
    gpd.GeoDataFrame({"name": ["동"], "code": ["1"], "pop": [1000], "old": [300]},
                     geometry=[box(X0 - 50, Y0 - 50, X0 + 900, Y0 + 50)],
                     crs=CRS).to_file(tmp_path / "dong.geojson")
    pd.DataFrame({"id": ["S"], "x": [X0 + 850.0], "y": [Y0]}).to_csv(tmp_path / "b.csv",
                                                                   index=False)
    cfg = hand_study(tmp_path, layer_toml("bike", "b.csv", name=False),
                     blocks="min_area_m2 = 0",
                     coverage='groups = [ { column = "old", label = "65+", '
                              'walk_speed_kmh = 3.4 } ]')
    net = network_from_graph(osm_graph({0: (X0, Y0), 1: (X0 + 850.0, Y0)}, [(0, 1)]), crs=CRS)
    result = run_study(cfg, network=net, cache=False)
    assert result.blocks["walk_min_bike"].tolist() == [850.0 / 80.0]
    row = result.coverage_groups.query(
        "group == '65+' and level == 'dong' and category == 'bike' and threshold_min == 15")
    assert row["population_covered"].tolist() == [300]  # 15.0 <= 15
    site = gpd.GeoDataFrame({"site_id": ["N"], "name": ["new"]},
                            geometry=[shapely.Point(X0 + 10.0, Y0)], crs=CRS)
    s = suggest_sites(result, category="bike", add=1, minutes=15, candidates=site,
                      weights="65+=2")
    assert s.info["objective_before"] == pytest.approx(700 + 2 * 300)  # everyone covered
    assert s.info.get("gain_65plus", 0) == 0
    assert s.suggestions["gain_weighted"].sum() == 0
