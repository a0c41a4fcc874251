"""`sharemap plan` (issue 15, "Plan targets"): the [plan] table, the shortfall and the sites.

One plan run on the documented example (data/examples/seoul_plan_2025.toml, Seoul's own
2025 targets on the demo district) through the CLI, shared by the module. Its figures
are checked against direct computations: `current` against the study's own outputs
(spaces, villages, coverage.csv), `after` against a what-if that adds the sites read
back from plan_sites.gpkg, and each site's gain against the study with that site added.
"""

from __future__ import annotations

import re
from pathlib import Path

import _browser  # tests/_browser.py
import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely

from sharemap import read_config, run_study
from sharemap.cli import main
from sharemap.config import PlanConfig, PlanTarget
from sharemap.outputs import missing_outputs
from sharemap.plan import PLAN_COLUMNS, plan_targets
from sharemap.study import whatif

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "data" / "examples" / "seoul_plan_2025.toml"
DEMO = ROOT / "data" / "demo"


def _share_all(result, minutes: float) -> float:
    """Share of residents within `minutes` of every category, from coverage.csv's city row."""
    cov = result.coverage
    row = cov[(cov["level"] == "city") & (cov["category"] == "all")
              & (cov["threshold_min"] == minutes)]
    return float(row["share_population"].iloc[0])


@pytest.fixture(scope="module")
def planned(tmp_path_factory):
    out = tmp_path_factory.mktemp("plan") / "out"
    import contextlib
    import io
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        code = main(["plan", str(EXAMPLE), "--out", str(out)])
    assert code == 0
    table = pd.read_csv(out / "plan.csv", encoding="utf-8-sig", keep_default_na=False,
                        na_values=[""])
    sites = gpd.read_file(out / "plan_sites.gpkg", layer="plan_sites")
    study = run_study(read_config(EXAMPLE))
    return {"out": out, "printed": buf.getvalue(), "table": table, "sites": sites,
            "study": study}


def test_example_config_holds_seouls_targets():
    cfg = read_config(EXAMPLE)
    assert cfg.plan.year == 2025
    got = [(t.metric, t.category, t.value) for t in cfg.plan.targets]
    assert got == [("spaces", "tools", 4), ("villages", "bike", 10),
                   ("spaces", "facility", 15), ("coverage", "all", 0.9)]
    text = EXAMPLE.read_text(encoding="utf-8")
    for figure in ("430 -> 530", "2 -> 10", "4 -> 15"):
        assert figure in text


def test_plan_csv_columns_and_current_against_the_study(planned):
    table, study = planned["table"], planned["study"]
    assert list(table.columns[:len(PLAN_COLUMNS)]) == list(PLAN_COLUMNS)
    spaces = study.spaces["category"].value_counts()
    tools, villages, facility, cover = table.to_dict("records")
    assert tools["current"] == spaces["tools"] == 3
    assert facility["current"] == spaces["facility"] == 4
    assert villages["current"] == len(study.villages)
    assert cover["current"] == pytest.approx(_share_all(study, 15))
    for row in (tools, villages, facility, cover):
        assert row["shortfall"] == pytest.approx(max(0.0, row["target"] - row["current"]))
        assert row["after"] >= row["current"] - 1e-9
        assert row["sites_added"] == int((planned["sites"]["target"] == 1 + [
            tools, villages, facility, cover].index(row)).sum())


def test_after_is_the_study_with_the_sites_read_back(planned):
    """Adding plan_sites.gpkg's sites with whatif gives plan.csv's `after`, target by target."""
    table, sites, study = planned["table"], planned["sites"], planned["study"]
    add = gpd.GeoDataFrame({"space_id": sites["site_id"], "category": sites["category"],
                            "name": sites["name"], "capacity": sites["capacity"]},
                           geometry=sites.geometry, crs=sites.crs)
    after = whatif(study, add=add).after
    counts = after.spaces["category"].value_counts()
    tools, villages, facility, cover = table.to_dict("records")
    assert tools["after"] == counts["tools"] == 4
    assert facility["after"] == counts["facility"] == 15
    assert villages["after"] == len(after.villages)
    assert cover["after"] == pytest.approx(_share_all(after, 15))
    assert tools["met"] and facility["met"] and cover["met"]
    assert cover["after"] >= 0.9


def test_sites_are_new_places_on_the_grid(planned):
    """No site duplicates a space of its category (within half the 200 m grid), none twice."""
    sites, study = planned["sites"], planned["study"]
    sites = sites.to_crs(study.spaces.crs)
    for cat, group in sites.groupby("category"):
        mine = study.spaces[study.spaces["category"] == cat].geometry.to_numpy()
        d = shapely.distance(group.geometry.to_numpy()[:, None], mine[None, :])
        assert d.min() >= 100 - 1e-6, cat
        pts = group.geometry.to_numpy()
        pair = shapely.distance(pts[:, None], pts[None, :])[np.triu_indices(len(pts), 1)]
        assert (pair >= 100 - 1e-6).all(), cat
    assert sites.crs == study.spaces.crs


def test_tools_site_gain_is_the_coverage_it_adds(planned):
    """The tools target's one site: its gain is what coverage.csv shows with it added."""
    sites, study = planned["sites"], planned["study"]
    site = sites[sites["target"] == 1].to_crs(study.spaces.crs)
    assert len(site) == 1
    add = gpd.GeoDataFrame({"space_id": site["site_id"], "category": "tools",
                            "name": site["name"]}, geometry=site.geometry, crs=site.crs)
    after = whatif(study, add=add).after

    def covered(res):
        cov = res.coverage
        return float(cov[(cov["level"] == "city") & (cov["category"] == "tools")
                         & (cov["threshold_min"] == 15)]["population_covered"].iloc[0])

    gain = covered(after) - covered(study)
    assert gain > 0
    assert site["gain_population"].iloc[0] == pytest.approx(gain, rel=1e-6)


def test_printout_names_each_target_shortfall_and_sites(planned):
    printed, table = planned["printed"], planned["table"]
    assert "4 targets for 2025" in printed
    assert "tools spaces" in printed and "3 now, target 4, shortfall 1" in printed
    assert "sharing villages" in printed and "facility spaces" in printed
    assert "residents within 15 min of all" in printed and "target 90.0%" in printed
    # every site is printed under its target with its gain
    site_lines = re.findall(r"^\s+\d+\. \w+ at (grid-\d+) ", printed, flags=re.M)
    assert sorted(site_lines) == sorted(planned["sites"]["site_id"])
    unmet = table[~table["met"].astype(bool)]
    for note in unmet["note"]:
        assert note and note in printed  # an unmet target says why


def test_readme_example_figures_are_the_run(planned):
    """README's figures for the example are this run's."""
    table, sites = planned["table"], planned["sites"]
    readme = " ".join((ROOT / "README.md").read_text(encoding="utf-8").split())
    _tools, villages, facility, cover = table.to_dict("records")
    gain = sites.loc[sites["target"] == 1, "gain_population"].iloc[0]
    assert f"tool libraries 3 -> 4 (one site, +{gain:,.0f} residents" in readme
    assert f"{100 * cover['current']:.1f}% -> {100 * cover['after']:.1f}% of residents" in readme
    assert f"({cover['sites_added']} toy-library sites)" in readme
    assert (f"villages {villages['current']:.0f} -> {villages['after']:.0f}, not 10: after "
            f"{villages['sites_added']} bike sites") in readme
    assert f"living sharing spaces 4 -> 15 ({facility['sites_added']} sites" in readme


def test_every_file_of_the_registry_is_written(planned):
    assert missing_outputs(planned["out"], "plan") == []


def test_report_has_the_plan_section(planned):
    html = (planned["out"] / "report.html").read_text(encoding="utf-8")
    assert '<section id="plan">' in html and "Plan targets for 2025" in html
    assert "living sharing spaces: Seoul 4 -&gt; 15" in html


def test_villages_target_adds_villages_not_merges():
    """A village target's sites raise the count one site at a time, never merging villages."""
    res = run_study(read_config(DEMO / "study.toml"))
    target = PlanTarget(metric="villages", value=len(res.villages) + 1, category="bike")
    plan = plan_targets(res, plan=PlanConfig(targets=(target,)))
    row = plan.table.iloc[0]
    assert row["current"] == len(res.villages)
    assert row["after"] == len(plan.after.villages) >= row["current"] + 1
    counts = plan.sites["villages_after"].tolist()
    assert counts == sorted(counts) and counts[-1] == row["after"]


def test_target_reached_by_earlier_sites_says_so():
    """A coverage target the previous target's site already reaches adds none and says why."""
    res = run_study(read_config(DEMO / "study.toml"))
    first = PlanTarget(metric="spaces", category="toys", value=2)
    one = plan_targets(res, plan=PlanConfig(targets=(first,)))
    reached = float(one.after.coverage.query(
        "level == 'city' and category == 'toys' and threshold_min == 15")[
        "share_population"].iloc[0])
    cover = PlanTarget(metric="coverage", category="toys", minutes=15, value=reached)
    two = plan_targets(res, plan=PlanConfig(targets=(first, cover)))
    row = two.table.iloc[1]
    assert row["current"] < reached and row["shortfall"] > 0
    assert row["sites_added"] == 0 and row["met"]
    assert row["after"] == pytest.approx(reached)
    assert "reached with the sites of the targets closed before it" in row["note"]


def test_spaces_target_met_already_adds_nothing():
    res = run_study(read_config(DEMO / "study.toml"))
    plan = plan_targets(res, plan=PlanConfig(targets=(
        PlanTarget(metric="capacity", category="bike", value=1.0),)))
    row = plan.table.iloc[0]
    assert row["shortfall"] == 0 and row["sites_added"] == 0 and row["met"]
    assert row["after"] == row["current"] == res.spaces.loc[
        res.spaces["category"] == "bike", "capacity"].sum()
    assert len(plan.sites) == 0


# ---------------------------------------------------------------------- bad [plan] tables


def _study_with(tmp_path: Path, plan: str) -> Path:
    text = (DEMO / "study.toml").read_text(encoding="utf-8")
    for name in ("gu.geojson", "walk.osm", "bike_stations.csv", "carshare_spots.geojson",
                 "shared_parking.csv", "tool_libraries.csv", "toy_libraries.csv",
                 "public_facilities.geojson", "water.geojson", "dong.geojson"):
        text = text.replace(f'"{name}"', f'"{(DEMO / name).as_posix()}"')
    path = tmp_path / "study.toml"
    path.write_text(text + "\n" + plan, encoding="utf-8")
    return path


@pytest.mark.parametrize(("plan", "words"), [
    ('[plan]\ntargets = [{ metric = "trees", value = 3 }]',
     ["plan.targets[1].metric", "villages, spaces, capacity, coverage", "'trees'"]),
    ('[plan]\ntargets = [{ metric = "spaces", category = "tools" }]',
     ["plan.targets[1]", "needs `value`"]),
    ('[plan]\ntargets = [{ metric = "spaces", value = 5 }]',
     ["plan.targets[1]", "needs `category`"]),
    ('[plan]\ntargets = [{ metric = "spaces", category = "bikes", value = 5 }]',
     ["plan.targets[1].category", "'bikes'", "bike, carshare"]),
    ('[plan]\ntargets = [{ metric = "coverage", category = "all", value = 90 }]',
     ["plan.targets[1].value", "share"]),
    ('[plan]\ntargets = [{ metric = "villages", value = 2.5 }]',
     ["plan.targets[1].value"]),
    ('[plan]\ntargets = [{ metric = "villages", value = 2, minutes = 5 }]',
     ["minutes"]),
    ('[plan]\nyear = 25\ntargets = []', ["plan.year"]),
    ('[plan]\ntarget = []', ["target"]),
    ('[plan]\ntargets = { metric = "villages", value = 2 }', ["plan.targets", "list"]),
])
def test_bad_plan_is_one_line_before_any_work(tmp_path, capsys, plan, words):
    cfg = _study_with(tmp_path, plan)
    out = tmp_path / "out"
    assert main(["plan", str(cfg), "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "Traceback" not in err
    assert str(cfg) in err
    for w in words:
        assert w in err, (w, err)
    assert not out.exists()  # validated before any work: no folder made


def test_study_without_plan_is_one_line(tmp_path, capsys):
    cfg = _study_with(tmp_path, "")
    out = tmp_path / "out"
    assert main(["plan", str(cfg), "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "[plan]" in err and "targets" in err
    assert not out.exists()


# ------------------------------------------------------------------------------ browser


@pytest.mark.browser
def test_plan_map_shows_the_sites_in_the_browser(planned, driver):
    _browser.open_file(driver, planned["out"] / "map.html")
    assert _browser.severe_errors(driver, ("tile.openstreetmap.org",)) == []  # offline tiles
    found = driver.execute_script("""
        const out = [];
        for (const k of Object.keys(window)) {
            const v = window[k];
            if (!(v instanceof L.GeoJSON)) { continue; }
            v.eachLayer(l => {
                const p = l.feature.properties;
                if (p.change !== 'added') { return; }
                l.openPopup();
                const box = l.getPopup().getElement().querySelector('.leaflet-popup-content');
                out.push([p.category, p.space_id, box.textContent]);
                l.closePopup();
            });
        }
        return out;
    """)
    sites = planned["sites"]
    assert sorted((c, s) for c, s, _t in found) == sorted(
        zip(sites["category"], sites["site_id"], strict=True))
    assert all("plan target" in text for _c, _s, text in found)
    legend = " ".join(e.text for e in driver.find_elements("css selector", ".sharemap-legend"))
    assert "space added" in legend


@pytest.mark.parametrize("min_spaces", [3, 5])
def test_villages_target_counting_distinct_categories(min_spaces):
    """[villages] distinct_categories: a planned site adds its category to a block once.

    It raised KeyError 'category' (the adjacency table already carries it), and once past
    that, two sites of one category reaching a block counted as two categories, so the
    plan's villages_after overstated the study after it. Each site's villages_after must be
    the count a run of the study with the sites so far gives."""
    import dataclasses

    cfg = read_config(DEMO / "study.toml")
    cfg = dataclasses.replace(cfg, villages=dataclasses.replace(
        cfg.villages, distinct_categories=True, min_spaces=min_spaces))
    res = run_study(cfg)
    target = PlanTarget(metric="villages", category="tools", value=len(res.villages) + 3)
    plan = plan_targets(res, plan=PlanConfig(targets=(target,), max_sites=4))
    sites = plan.sites.reset_index(drop=True)
    for k in range(len(sites)):
        first = sites.iloc[:k + 1]
        added = whatif(res, add=gpd.GeoDataFrame(
            {"space_id": first["site_id"], "category": first["category"],
             "name": first["name"], "capacity": first["capacity"]},
            geometry=first.geometry, crs=first.crs))
        assert sites["villages_after"].iloc[k] == len(added.after.villages), k
    assert plan.table["after"].iloc[0] == len(plan.after.villages)


def test_capacity_rows_report_the_capacity_their_sites_were_given():
    """A capacity target without `site_capacity` gives its sites the median capacity of the
    category as the plan stands when its turn comes (after earlier targets' sites); plan.csv
    reported the median of the study before the plan instead (1 here, for sites of 5)."""
    res = run_study(read_config(DEMO / "study.toml"))
    assert res.spaces.loc[res.spaces["category"] == "tools", "capacity"].tolist() == [1, 1, 1]
    first = PlanTarget(metric="capacity", category="tools", value=23, site_capacity=5)
    second = PlanTarget(metric="capacity", category="tools", value=33)
    plan = plan_targets(res, plan=PlanConfig(targets=(first, second)))
    for i, row in enumerate(plan.table.to_dict("records"), start=1):
        given = plan.sites.loc[plan.sites["target"] == i, "capacity"]
        assert len(given) and (given == row["site_capacity"]).all(), (i, row["site_capacity"])
    assert plan.table["site_capacity"].tolist() == [5.0, 5.0]
