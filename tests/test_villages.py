"""Candidates and villages from hand-drawn blocks and adjacency lists."""

from __future__ import annotations

import geopandas as gpd
import pandas as pd
import pytest
from shapely.geometry import box

from sharemap import InputDataError
from sharemap.villages import (
    compute_candidates,
    compute_villages,
    explain_block,
    sweep,
    village_score,
)

CRS = "EPSG:5186"


def _blocks():
    r"""Five 100 m square blocks on a 20 m street grid.

    ::

        [3]        [5]
             [4]             B4 touches B3 and B5 only at corners (shared corner points).
        [1]  [2]             B1 and B2 are 20 m apart (a street between them).

    B1 = (0,0)-(100,100); B2 = (120,0)-(220,100); B3 = (0,220)-(100,320) ... made to
    touch B4 = (100,120)-(200,220) at the corner (100,220); B5 = (200,220)-(300,320)
    touches B4 at the corner (200,220).
    """
    geoms = [box(0, 0, 100, 100), box(120, 0, 220, 100), box(0, 220, 100, 320),
             box(100, 120, 200, 220), box(200, 220, 300, 320)]
    return gpd.GeoDataFrame({"block_id": [1, 2, 3, 4, 5],
                             "population": [1000.0, 500.0, 200.0, 300.0, 4000.0]},
                            geometry=geoms, crs=CRS)


def _spaces():
    return pd.DataFrame({"space_id": ["b1", "b2", "c1", "p1", "t1"],
                         "category": ["bike", "bike", "carshare", "parking", "tools"]})


def _adjacency(pairs):
    return pd.DataFrame(pairs, columns=["block_id", "space"])


def test_candidates_by_count_and_by_category():
    """B1: b1 b2 c1 (3 spaces, 2 categories); B2: b1 (1); B3: b1 c1 p1 t1 (4, 4)."""
    blocks = _blocks()
    adj = _adjacency([(1, 0), (1, 1), (1, 2), (2, 0), (3, 0), (3, 2), (3, 3), (3, 4)])
    flags = compute_candidates(blocks, adj, _spaces(), min_spaces=3)
    assert flags["adjacent_spaces"].tolist() == [3, 1, 4, 0, 0]
    assert flags["adjacent_categories"].tolist() == [2, 1, 4, 0, 0]
    assert flags["candidate"].tolist() == [True, False, True, False, False]
    assert flags.loc[0, "adjacent_space_ids"] == "b1,b2,c1"
    distinct = compute_candidates(blocks, adj, _spaces(), min_spaces=3, distinct_categories=True)
    assert distinct["candidate"].tolist() == [False, False, True, False, False]


def test_villages_group_touching_blocks_including_corners():
    """Candidates B1, B3, B4, B5: B3-B4-B5 touch at corners -> one village; B1 alone."""
    blocks = _blocks()
    blocks["candidate"] = [True, False, True, True, True]
    adj = _adjacency([(1, 0), (1, 1), (1, 2), (3, 0), (4, 3), (5, 4), (5, 0)])
    village, table = compute_villages(blocks, adj, _spaces())
    assert village.tolist() == [1, pd.NA, 2, 2, 2]
    v1 = table.set_index("village_id").loc[1]
    v2 = table.set_index("village_id").loc[2]
    assert (v1["n_blocks"], v1["n_spaces"], v1["categories"]) == (1, 3, "bike,carshare")
    assert (v2["n_blocks"], v2["n_spaces"], v2["categories"]) == (3, 3, "bike,parking,tools")
    assert v2["population"] == pytest.approx(4500.0)
    # score = n_spaces + 2 * categories + population / 1000
    assert v1["score"] == pytest.approx(3 + 2 * 2 + 1.0)
    assert v2["score"] == pytest.approx(3 + 2 * 3 + 4.5)
    assert v2["rank"] == 1 and v1["rank"] == 2
    assert table.set_index("village_id").loc[2, "geometry"].area == pytest.approx(30000)


def test_blocks_a_street_apart_do_not_touch():
    blocks = _blocks()
    blocks["candidate"] = [True, True, False, False, False]
    adj = _adjacency([(1, 0), (2, 1)])
    village, table = compute_villages(blocks, adj, _spaces())
    assert village.iloc[:2].tolist() == [1, 2]
    assert len(table) == 2


def test_no_candidates_gives_empty_villages():
    blocks = _blocks()
    blocks["candidate"] = False
    village, table = compute_villages(blocks, _adjacency([]), _spaces())
    assert village.isna().all()
    assert len(table) == 0 and "rank" in table


def test_score_rewards_each_factor():
    base = village_score(pd.Series([3]), pd.Series([2]), pd.Series([1000.0]))[0]
    assert village_score(pd.Series([4]), pd.Series([2]), pd.Series([1000.0]))[0] > base
    assert village_score(pd.Series([3]), pd.Series([3]), pd.Series([1000.0]))[0] > base
    assert village_score(pd.Series([3]), pd.Series([2]), pd.Series([2000.0]))[0] > base


# ------------------------------------------------------------- sweeps and explanations


@pytest.fixture(scope="module")
def demo_result():
    from sharemap import read_config, run_study
    from sharemap.datasets import get_path

    return run_study(read_config(get_path("demo")))


def test_sweep_agrees_with_separate_runs(demo_result):
    from sharemap import run_study

    table = sweep(demo_result, adjacent_minutes=[7, 3, 5], min_spaces=[4, 2])
    assert table[["adjacent_minutes", "min_spaces"]].values.tolist() == [
        [3, 2], [3, 4], [5, 2], [5, 4], [7, 2], [7, 4]]
    cfg = demo_result.config
    for m, k in [(3, 2), (5, 4), (7, 2)]:
        full = run_study(cfg.with_villages(adjacent_minutes=m, min_spaces=k),
                         network=demo_result.network)
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


def test_sweep_rejects_empty_rules(demo_result):
    with pytest.raises(InputDataError, match="adjacent_minutes"):
        sweep(demo_result, adjacent_minutes=[], min_spaces=[3])


def test_explain_a_candidate_block_names_its_spaces(demo_result):
    blocks, adj = demo_result.blocks, demo_result.adjacency
    vil = demo_result.villages.set_index("village_id")
    row = blocks[blocks["candidate"]].iloc[0]
    text = explain_block(demo_result, str(row["block_id"]))  # ids arrive as text from a CLI
    lines = text.splitlines()
    assert lines[0].startswith(f"Block {row['block_id']} in gu 데모구, dong {row['dong']} (")
    assert "at least 3 sharing spaces are within 5 minutes' walk (400 m at 4.8 km/h)" in text
    mine = adj[adj["block_id"] == row["block_id"]].sort_values("minutes")
    listed = [ln for ln in lines if ln.startswith("  ")]
    assert len(listed) == len(mine) == row["adjacent_spaces"]
    for line, r in zip(listed, mine.itertuples(), strict=True):
        name = demo_result.spaces.loc[r.space, "name"]
        assert line.endswith(f"{name} ({r.category} {r.space_id}): {r.minutes:.1f} min walk")
    shown = [float(ln.rsplit(": ", 1)[1].split()[0]) for ln in listed]
    assert shown == sorted(shown)
    assert f"IS a sharing-village candidate: {row['adjacent_spaces']} adjacent spaces" in text
    v = vil.loc[int(row["village_id"])]
    assert (f"sharing village {int(row['village_id'])}: rank {int(v['rank'])} of "
            f"{len(vil)}, score {v['score']:.2f}") in text


def test_explain_a_non_candidate_block_says_how_short_it_falls(demo_result):
    blocks = demo_result.blocks
    row = blocks[~blocks["candidate"] & (blocks["adjacent_spaces"] == 1)].iloc[0]
    text = explain_block(demo_result, int(row["block_id"]))
    assert "It is NOT a candidate: 1 adjacent space, 2 short of the 3 the rule asks for." in text
    assert "belongs to no sharing village" in text
    assert f"bike {row['walk_min_bike']:.1f} min" in text
    with pytest.raises(InputDataError, match="not in this study"):
        explain_block(demo_result, 99_999)
