"""The command line and the whole demo study: the SPEC's output contract, end to end."""

from __future__ import annotations

import json

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely

from sharemap.cli import main
from sharemap.datasets import get_path
from sharemap.pipeline import OUTPUT_FILES

BLOCK_COLS = ["block_id", "area_m2", "population", "gu", "dong", "adjacent_spaces",
              "adjacent_categories", "candidate", "village_id"]
CATS = ["bike", "carshare", "parking", "tools", "toys", "facility"]


@pytest.fixture(scope="module")
def demo_out(tmp_path_factory):
    out = tmp_path_factory.mktemp("demo")
    assert main(["demo", "--out", str(out)]) == 0
    return out


def test_demo_writes_every_file(demo_out, capsys):
    for name in OUTPUT_FILES:
        assert (demo_out / name).stat().st_size > 0, name
    assert not list(demo_out.glob(".*tmp*")), "temporary files left behind"


def test_blocks_contract_and_candidate_rule(demo_out):
    blocks = gpd.read_file(demo_out / "blocks.gpkg", layer="blocks")
    assert blocks.crs.to_epsg() == 4326
    for col in [*BLOCK_COLS, *(f"walk_min_{c}" for c in CATS)]:
        assert col in blocks, col
    assert blocks["block_id"].is_unique
    assert (blocks["candidate"] == (blocks["adjacent_spaces"] >= 3)).all()
    # the ids listed explain the count
    n_ids = blocks["adjacent_space_ids"].fillna("").map(lambda s: len(s.split(",")) if s else 0)
    assert (n_ids == blocks["adjacent_spaces"]).all()
    assert (blocks.loc[~blocks["candidate"], "village_id"].isna()).all()
    assert blocks.loc[blocks["candidate"], "village_id"].notna().all()


def test_villages_add_up(demo_out):
    blocks = gpd.read_file(demo_out / "blocks.gpkg", layer="blocks").to_crs(5186)
    villages = gpd.read_file(demo_out / "villages.geojson")
    assert sorted(villages["rank"]) == list(range(1, len(villages) + 1))
    assert list(villages.sort_values("rank")["score"]) == sorted(villages["score"], reverse=True)
    for v in villages.itertuples():
        members = blocks[blocks["village_id"] == v.village_id]
        assert len(members) == v.n_blocks
        assert members["population"].sum() == pytest.approx(v.population, rel=1e-6)
        ids = set(",".join(members["adjacent_space_ids"]).split(","))
        assert len(ids) == v.n_spaces
    # villages are exactly the groups of touching candidates: no two villages touch
    cand = blocks[blocks["candidate"]]
    by_v = {k: shapely.union_all(g.geometry.to_numpy()) for k, g in cand.groupby("village_id")}
    keys = list(by_v)
    for i, a in enumerate(keys):
        for b in keys[i + 1:]:
            assert by_v[a].distance(by_v[b]) > 1.0


def test_every_row_is_a_space_or_a_reject(demo_out):
    summary = json.loads((demo_out / "summary.json").read_text(encoding="utf-8"))
    spaces = gpd.read_file(demo_out / "spaces.gpkg", layer="spaces")
    rejects = pd.read_csv(demo_out / "rejects.csv", encoding="utf-8-sig")
    assert list(rejects.columns) == ["source", "source_row", "category", "reason", "detail"]
    demo = get_path("demo").parent
    for entry in summary["inputs"]:
        src = entry["source"]
        path = demo / src
        if path.suffix == ".csv":
            enc = "cp949" if src == "bike_stations.csv" else "utf-8-sig"
            n_rows = len(pd.read_csv(path, encoding=enc, dtype=str, keep_default_na=False))
        else:
            n_rows = len(json.loads(path.read_text(encoding="utf-8"))["features"])
        n_sp = int((spaces["source"] == src).sum())
        n_rj = int((rejects["source"] == src).sum())
        assert n_rows == n_sp + n_rj == entry["rows_read"], src
        assert entry["accounted"]
        both = set(spaces.loc[spaces["source"] == src, "source_row"]) & \
            set(rejects.loc[rejects["source"] == src, "source_row"])
        assert not both, f"{src}: rows both analysed and rejected: {both}"
    bike = rejects[rejects["source"] == "bike_stations.csv"]
    assert sorted(bike["reason"]) == ["duplicate", "missing_coordinates", "outside_study_area",
                                      "zero_coordinates", "zero_coordinates"]


def test_bike_zero_rows_are_the_files_zero_rows(demo_out):
    path = get_path("demo").parent / "bike_stations.csv"
    raw = pd.read_csv(path, encoding="cp949", dtype=str, keep_default_na=False)
    zero = [i + 1 for i, r in raw.iterrows()
            if r["위도"].strip() and float(r["위도"]) == 0 and float(r["경도"]) == 0]
    rejects = pd.read_csv(demo_out / "rejects.csv", encoding="utf-8-sig")
    got = rejects[(rejects["source"] == "bike_stations.csv")
                  & (rejects["reason"] == "zero_coordinates")]["source_row"].tolist()
    assert sorted(got) == zero


def test_coverage_agrees_with_blocks(demo_out):
    """Blocks are counted by their own walks; residents by their origins' (layer ``origins``)."""
    blocks = gpd.read_file(demo_out / "blocks.gpkg", layer="blocks")
    origins = gpd.read_file(demo_out / "blocks.gpkg", layer="origins").merge(
        blocks[["block_id", "gu_id", "dong_id"]], on="block_id")
    cov = pd.read_csv(demo_out / "coverage.csv", encoding="utf-8-sig", dtype={"area_id": str})
    assert set(cov["level"]) == {"city", "gu", "dong"}
    assert set(cov["category"]) == {*CATS, "all"}
    assert (blocks["n_origins"] > 1).any()
    for row in cov.itertuples():
        sub, org = (blocks, origins) if row.level == "city" else (
            frame[frame[f"{row.level}_id"].astype(str) == row.area_id]
            for frame in (blocks, origins))
        cols = [f"walk_min_{c}" for c in CATS] if row.category == "all" else \
            [f"walk_min_{row.category}"]
        covered = sub[cols].le(row.threshold_min).all(axis=1)
        assert row.blocks == len(sub)
        assert row.blocks_covered == covered.sum()
        o_covered = org[cols].le(row.threshold_min).all(axis=1)
        assert row.population_covered == pytest.approx(org.loc[o_covered, "population"].sum(),
                                                       abs=0.05)
    dong = gpd.read_file(get_path("demo").parent / "dong.geojson")
    assert blocks["population"].sum() == pytest.approx(dong["pop_total"].sum(), abs=1)


def test_walk_minutes_match_an_independent_networkx_computation(demo_out):
    """Recompute a sample of block origins' minutes with networkx on the osmnx graph."""
    import networkx as nx
    import osmnx as ox

    from sharemap.config import read_config
    from sharemap.network import network_from_osm_xml

    cfg = read_config(get_path("demo"))
    net = network_from_osm_xml(cfg.network.value, crs=cfg.crs)
    g = net.to_networkx()
    origins = gpd.read_file(demo_out / "blocks.gpkg", layer="origins").to_crs(cfg.crs)
    spaces = gpd.read_file(demo_out / "spaces.gpkg", layer="spaces").to_crs(cfg.crs)
    edges = net.edges.geometry
    tree = shapely.STRtree(edges.to_numpy())
    # README, Snapping: not onto a bridge (the demo has three) while another edge is near
    steppable = np.flatnonzero(net.edges["bridge"].isin(["", "no"]).to_numpy()
                               & ~net.edges["highway"].str.contains("trunk|motorway").to_numpy())
    steppable_tree = shapely.STRtree(edges.to_numpy()[steppable])

    def ends(pt):
        near = steppable_tree.nearest(pt)
        e = int(steppable[near]) if edges.iloc[steppable[near]].distance(pt) <= 250 \
            else int(tree.nearest(pt))
        line = edges.iloc[e]
        off = line.distance(pt)
        pos = line.project(pt)
        return e, pos, off, {int(net.edge_u[e]): pos + off,
                             int(net.edge_v[e]): line.length - pos + off}

    toys = spaces[spaces["category"] == "toys"]
    sp_e, sp_pos, sp_off, sp_ends = ends(toys.geometry.iloc[0])
    dist = nx.multi_source_dijkstra_path_length(g, set(sp_ends), weight="length")
    # multi_source ignores the start offsets: add them by running from each end separately
    per_end = {n: nx.single_source_dijkstra_path_length(g, n, weight="length") for n in sp_ends}
    del dist
    rng = np.random.default_rng(0)
    sample = origins.iloc[rng.choice(len(origins), 40, replace=False)]
    for (_, blk), o in zip(sample.iterrows(), sample.geometry, strict=True):
        e, pos, off, o_ends = ends(o)
        best = min(d0 + per_end[s][n] + s0 for n, d0 in o_ends.items()
                   for s, s0 in sp_ends.items())
        if e == sp_e:
            best = min(best, abs(pos - sp_pos) + off + sp_off)
        assert blk["walk_min_toys"] == pytest.approx(best / 80.0, abs=1e-3)
    del ox


def test_unknown_key_is_a_one_line_error(tmp_path, capsys):
    cfg = tmp_path / "study.toml"
    text = get_path("demo").read_text(encoding="utf-8").replace("max_snap_m", "max_snapm")
    cfg.write_text(text, encoding="utf-8")
    assert main(["run", str(cfg), "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1
    assert "max_snapm" in err


def test_missing_config_is_a_one_line_error(tmp_path, capsys):
    assert main(["run", str(tmp_path / "nope.toml"), "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "not found" in err


def test_summary_printed(tmp_path, capsys):
    assert main(["demo", "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    for word in ("spaces analysed", "rows rejected", "blocks", "candidates", "villages",
                 "within 15 min of every category", "map.html", "65+"):
        assert word in out
    summary = json.loads((tmp_path / "summary.json").read_text(encoding="utf-8"))
    head = summary["coverage_headline"]
    groups = pd.read_csv(tmp_path / "coverage_groups.csv", encoding="utf-8-sig")
    row = groups[(groups["group"] == "65+") & (groups["level"] == "city")
                 & (groups["category"] == "all") & (groups["threshold_min"] == 15)].iloc[0]
    assert head["share_population_all_by_group"]["65+"] == pytest.approx(
        row["share_population"], abs=1e-4)


@pytest.mark.parametrize("argv", [["run"], ["sweep"], ["suggest", "x.toml"], ["demo", "--bad"]])
def test_usage_errors_are_one_line(argv, capsys):
    with pytest.raises(SystemExit) as exc:
        main(argv)
    assert exc.value.code == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "--help" in err


def test_every_subcommand_help_shows_an_example(capsys):
    for cmd in ("run", "demo", "suggest", "whatif", "explain", "sweep", "audit"):
        with pytest.raises(SystemExit):
            main([cmd, "--help"])
        assert "example" in capsys.readouterr().out, cmd


def test_audit_writes_report(tmp_path, capsys):
    assert main(["audit", str(get_path("demo")), "--out", str(tmp_path)]) == 0
    html = (tmp_path / "report.html").read_text(encoding="utf-8")
    assert "누리1동" in html and "http://" not in html and "https://" not in html
    assert (tmp_path / "gaps.csv").stat().st_size > 0
    assert "report" in capsys.readouterr().out


def test_explain_and_sweep_commands(demo_out, tmp_path, capsys):
    blocks = gpd.read_file(demo_out / "blocks.gpkg", layer="blocks")
    cand = blocks[blocks["candidate"]].iloc[0]
    assert main(["explain", str(get_path("demo")), str(cand["block_id"])]) == 0
    text = capsys.readouterr().out
    for sid in cand["adjacent_space_ids"].split(","):
        assert sid in text
    assert main(["explain", str(get_path("demo")), "999999"]) == 2
    assert main(["sweep", str(get_path("demo")), "--adjacent-minutes", "5",
                 "--min-spaces", "3", "--out", str(tmp_path)]) == 0
    table = pd.read_csv(tmp_path / "sweep.csv", encoding="utf-8-sig")
    assert table["candidate_blocks"].tolist() == [int(blocks["candidate"].sum())]


def test_split_by_writes_unit_maps(tmp_path, capsys):
    assert main(["demo", "--out", str(tmp_path), "--split-by", "dong"]) == 0
    assert (tmp_path / "maps" / "index.html").is_file()
    assert len(list((tmp_path / "maps").glob("*.html"))) == 1 + 5
    assert main(["demo", "--out", str(tmp_path), "--split-by", "nope"]) == 2
    assert "nope" in capsys.readouterr().err


def test_the_printout_states_the_candidate_rule_in_use(tmp_path, capsys):
    """A capacity rule's candidates were printed as 'blocks with enough adjacent spaces'."""
    from sharemap.datasets import get_path

    text = get_path("demo").read_text(encoding="utf-8")
    base = get_path("demo").parent
    for extra, said in (("", "blocks with at least 3 adjacent spaces"),
                        ('count = "capacity"\nmin_capacity = 30\n',
                         "blocks with an adjacent capacity of at least 30"),
                        ("distinct_categories = true\n",
                         "blocks with at least 3 categories of adjacent spaces")):
        study = tmp_path / "study.toml"
        own = text.replace("distinct_categories = false\n", "", 1)
        study.write_text(own.replace("[villages]\n", "[villages]\n" + extra, 1),
                         encoding="utf-8")
        for f in base.iterdir():
            if f.name != "study.toml" and not (tmp_path / f.name).exists():
                (tmp_path / f.name).symlink_to(f)
        assert main(["run", str(study), "--out", str(tmp_path / "out"), "-q"]) == 0
        line = next(x for x in capsys.readouterr().out.splitlines() if "candidates" in x)
        assert line.endswith(said), line
