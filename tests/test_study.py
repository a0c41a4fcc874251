"""The study level on the demo: what-ifs, sweeps and explanations, checked by separate runs."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import sharemap
from sharemap import InputDataError, read_config, run_study
from sharemap.access import count_within, walk_times
from sharemap.datasets import get_path
from sharemap.study import explain_block, sweep, whatif


@pytest.fixture(scope="module")
def demo():
    return run_study(read_config(get_path("demo")))


# ------------------------------------------------------------------------- what-ifs


def test_adding_at_an_existing_site_changes_nothing(demo):
    tool = demo.spaces[demo.spaces["category"] == "tools"].iloc[[0]]
    same = tool[["space_id", "category", "name", "geometry"]].assign(space_id="copy")
    w = whatif(demo, add=same)
    assert w.info["added_duplicates"] == 1
    assert w.block_change.empty
    assert (w.coverage_change["population_covered_change"].abs() < 1e-9).all()
    assert w.after.blocks["candidate"].equals(demo.blocks["candidate"])


def test_removal_lowers_coverage_exactly_where_it_was_the_only_site(demo):
    tools = demo.spaces[demo.spaces["category"] == "tools"]
    gone = tools["space_id"].iloc[0]
    w = whatif(demo, remove=[gone])
    origins = demo.origins.geometry  # every block origin, each with its residents
    counts = count_within(demo.network, origins, tools, minutes=(15,),
                          walk_speed_kmh=demo.config.walk_speed_kmh)["n_reachable_tools_15"]
    reach_gone = walk_times(demo.network, origins,
                            tools[tools["space_id"] == gone])["walk_min_tools"] <= 15
    expect_lost = (reach_gone & (counts == 1)).to_numpy()
    assert expect_lost.any()
    before = (demo.origins["walk_min_tools"] <= 15).to_numpy()
    after = (w.after.origins["walk_min_tools"] <= 15).to_numpy()
    assert (before & ~after).tolist() == expect_lost.tolist()
    assert not (~before & after).any()
    city = w.coverage_change.query("level == 'city' and category == 'tools' "
                                   "and threshold_min == 15").iloc[0]
    pop = demo.origins["population"].to_numpy()
    assert city["population_covered_change"] == pytest.approx(-pop[expect_lost].sum())
    # blocks: one origin loses coverage with its origin; larger ones by the median rule
    single = (demo.blocks["n_origins"] == 1).to_numpy()
    lost_blocks = ((demo.blocks["walk_min_tools"] <= 15).to_numpy()
                   & ~(w.after.blocks["walk_min_tools"] <= 15).to_numpy())
    one = demo.origins["block"].to_numpy()[expect_lost]
    assert lost_blocks[single].tolist() == np.isin(np.flatnonzero(single), one).tolist()


def test_whatif_equals_a_separate_run(demo, tmp_path):
    """Removing a bike station by what-if equals a full run without that row."""
    bike = demo.spaces[demo.spaces["category"] == "bike"]
    gone = bike.iloc[3]
    w = whatif(demo, remove=[gone["space_id"]])
    src = get_path("demo").parent

    raw = pd.read_csv(src / "bike_stations.csv", encoding="cp949", dtype=str,
                      keep_default_na=False)
    raw = raw.drop(index=int(gone["source_row"]) - 1)
    for f in src.iterdir():
        (tmp_path / f.name).write_bytes(f.read_bytes())
    raw.to_csv(tmp_path / "bike_stations.csv", index=False, encoding="cp949")
    sep = run_study(read_config(tmp_path / "study.toml"))
    np.testing.assert_allclose(w.after.blocks["walk_min_bike"], sep.blocks["walk_min_bike"])
    assert w.after.blocks["candidate"].tolist() == sep.blocks["candidate"].tolist()
    assert len(w.after.villages) == len(sep.villages)


# ------------------------------------------------------------- sweeps and explanations


def test_sweep_agrees_with_separate_runs(demo):
    from sharemap import run_study

    table = sweep(demo, adjacent_minutes=[7, 3, 5], min_spaces=[4, 2])
    assert table[["adjacent_minutes", "min_spaces"]].values.tolist() == [
        [3, 2], [3, 4], [5, 2], [5, 4], [7, 2], [7, 4]]
    cfg = demo.config
    for m, k in [(3, 2), (5, 4), (7, 2)]:
        full = run_study(cfg.with_villages(adjacent_minutes=m, min_spaces=k),
                         network=demo.network)
        row = table[(table["adjacent_minutes"] == m) & (table["min_spaces"] == k)].iloc[0]
        cand = full.blocks["candidate"]
        assert row["candidate_blocks"] == int(cand.sum())
        assert row["villages"] == len(full.villages)
        assert row["residents_in_candidates"] == pytest.approx(
            full.blocks.loc[cand, "population"].sum())
        assert row["residents_in_villages"] == pytest.approx(
            full.blocks.loc[full.blocks["village_id"].notna(), "population"].sum())
    # more minutes or fewer required spaces never lose a candidate
    wide = table.set_index(["adjacent_minutes", "min_spaces"])["candidate_blocks"]
    assert wide[(3, 2)] <= wide[(5, 2)] <= wide[(7, 2)]
    assert wide[(7, 4)] <= wide[(7, 2)]


def test_sweep_rejects_empty_rules(demo):
    with pytest.raises(InputDataError, match="adjacent_minutes"):
        sweep(demo, adjacent_minutes=[], min_spaces=[3])


def test_explain_a_candidate_block_names_its_spaces(demo):
    blocks, adj = demo.blocks, demo.adjacency
    vil = demo.villages.set_index("village_id")
    row = blocks[blocks["candidate"]].iloc[0]
    text = explain_block(demo, str(row["block_id"]))  # ids arrive as text from a CLI
    lines = text.splitlines()
    assert lines[0].startswith(f"Block {row['block_id']} in gu 데모구, dong {row['dong']} (")
    assert "at least 3 sharing spaces are within 5 minutes' walk (400 m at 4.8 km/h)" in text
    mine = adj[adj["block_id"] == row["block_id"]].sort_values("minutes")
    listed = [ln for ln in lines if ln.startswith("  ")]
    assert len(listed) == len(mine) == row["adjacent_spaces"]
    for line, r in zip(listed, mine.itertuples(), strict=True):
        name = demo.spaces.loc[r.space, "name"]
        assert line.endswith(f"{name} ({r.category} {r.space_id}): {r.minutes:.1f} min walk")
    shown = [float(ln.rsplit(": ", 1)[1].split()[0]) for ln in listed]
    assert shown == sorted(shown)
    assert f"IS a sharing-village candidate: {row['adjacent_spaces']} adjacent spaces" in text
    v = vil.loc[int(row["village_id"])]
    assert (f"sharing village {int(row['village_id'])}: rank {int(v['rank'])} of "
            f"{len(vil)}, score {v['score']:.2f}") in text


def test_explain_a_non_candidate_block_says_how_short_it_falls(demo):
    blocks = demo.blocks
    row = blocks[~blocks["candidate"] & (blocks["adjacent_spaces"] == 1)].iloc[0]
    text = explain_block(demo, int(row["block_id"]))
    assert "It is NOT a candidate: 1 adjacent space, 2 short of the 3 the rule asks for." in text
    assert "belongs to no sharing village" in text
    assert f"bike {row['walk_min_bike']:.1f} min" in text
    with pytest.raises(InputDataError, match="not in this study"):
        explain_block(demo, 99_999)


# ------------------------------------------------------------------- moved names


@pytest.mark.parametrize(("old", "name"), [
    ("villages", "sweep"), ("villages", "explain_block"), ("suggest", "whatif"),
    ("suggest", "WhatIfResult"), ("suggest", "write_whatif")])
def test_moved_names_still_import_with_a_warning_naming_the_new_home(old, name):
    import importlib

    from sharemap import study

    module = importlib.import_module(f"sharemap.{old}")
    with pytest.warns(FutureWarning, match=f"use sharemap.study.{name}"):
        assert getattr(module, name) is getattr(study, name)
    with pytest.raises(AttributeError):
        module.no_such_name  # noqa: B018


def test_the_flat_api_points_at_the_study_level():
    from sharemap import study

    assert sharemap.sweep is study.sweep
    assert sharemap.explain_block is study.explain_block
    from sharemap import suggest

    assert suggest.candidate_sites is study.candidate_sites
    assert suggest.cover_matrix is study.cover_matrix


# ------------------------------------------------------------- prepared once


def test_study_commands_reuse_the_studys_prepared_points(demo, monkeypatch):
    """Sweeps, explanations, audits and suggestions snap no block origin again."""
    from sharemap import access, pipeline, study
    from sharemap.coverage import compute_audit
    from sharemap.suggest import suggest_sites

    pts = demo.prepared_points()
    assert pts is demo.points
    assert pts.n_origins == len(demo.origins) and len(pts.target_snaps) == len(demo.spaces)
    snapped: list[int] = []
    real = access.snap_points

    def counting(network, points, **kwargs):
        snapped.append(len(points))
        return real(network, points, **kwargs)

    for module in (access, pipeline, study):
        monkeypatch.setattr(module, "snap_points", counting)
    sweep(demo, adjacent_minutes=[3, 5], min_spaces=[3])
    explain_block(demo, int(demo.blocks["block_id"].iloc[0]))
    audit = compute_audit(demo.blocks, demo.spaces, demo.network, demo.config, points=pts,
                          origins=demo.origins)
    pd.testing.assert_frame_equal(audit.gaps, demo.gaps)
    assert snapped == []
    sites = demo.spaces[demo.spaces["category"] == "facility"]
    suggest_sites(demo, category="tools", add=1)
    assert snapped == [len(sites)]  # the candidate sites only
    w = whatif(demo, remove=[demo.spaces["space_id"].iloc[0]])
    assert snapped[1:] == [len(demo.spaces) - 1]  # the spaces of the what-if only
    assert w.after.points.n_origins == len(demo.origins)


def test_sweep_says_zero_residents_where_no_block_is_a_candidate(demo):
    """0 where 0 is meant: no candidate means 0 residents in candidates, not NaN."""
    table = sweep(demo, adjacent_minutes=[1], min_spaces=[50])
    row = table.iloc[0]
    assert row["candidate_blocks"] == 0 and row["villages"] == 0
    assert row["residents_in_candidates"] == 0
    assert row["residents_in_villages"] == 0
    # without a population layer the residents are unknown: NaN
    from dataclasses import replace

    unknown = replace(demo, blocks=demo.blocks.drop(columns="population"))
    nopop = sweep(unknown, adjacent_minutes=[1, 5], min_spaces=[3, 50])
    assert nopop["residents_in_candidates"].isna().all()
    assert nopop["residents_in_villages"].isna().all()


def test_explain_an_unknown_block_prints_plain_numbers(demo, capsys):
    from sharemap.cli import main

    with pytest.raises(InputDataError, match=r"block ids run from 1 to \d+ ") as err:
        explain_block(demo, 99999)
    assert "np." not in str(err.value)
    assert main(["explain", str(get_path("demo")), "99999"]) == 2
    err_text = capsys.readouterr().err
    assert "block ids run from 1 to " in err_text and "np.int64" not in err_text


def test_an_audit_known_from_another_study_is_refused_in_one_line(demo):
    """compute_audit(known=, changed=) reuses rows of the same study; another's is named."""
    from dataclasses import replace

    from sharemap.coverage import compute_audit

    kwargs = {"points": demo.prepared_points(), "origins": demo.origins}
    known = compute_audit(demo.blocks, demo.spaces, demo.network, demo.config, **kwargs)
    again = compute_audit(demo.blocks, demo.spaces, demo.network, demo.config, known=known,
                          changed=["tools"], **kwargs)
    pd.testing.assert_frame_equal(again.coverage, known.coverage)
    cov = demo.config.coverage
    other = replace(demo.config, coverage=replace(cov, thresholds_minutes=(5.0, 15.0)))
    with pytest.raises(InputDataError, match=r"`known` is not an audit of these blocks.*"
                       r"rows of categories"):
        compute_audit(demo.blocks, demo.spaces, demo.network, other, known=known,
                      changed=["tools"], **kwargs)
