"""Candidates and villages from hand-drawn blocks and adjacency lists."""

from __future__ import annotations

import geopandas as gpd
import pandas as pd
import pytest
from shapely.geometry import box

from sharemap.villages import compute_candidates, compute_villages, village_score

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


def test_adjacent_space_ids_tell_apart_an_id_two_categories_share():
    """Bike station 666 and Nanumcar spot 666 both stand in real Dongdaemun-gu (the dock
    table's station numbers and the Nanumcar spot codes overlap). `adjacent_space_ids`
    listed a bare "666" for 53 blocks (which of the two?), and a block next to both listed
    "666" once while `adjacent_spaces` counted 2. An id several categories use is now
    written `category:id`, the form `sharemap whatif --remove` asks for; other ids stay bare.
    """
    blocks = _blocks()
    spaces = pd.DataFrame({"space_id": ["666", "666", "c1", "b2"],
                           "category": ["bike", "carshare", "carshare", "bike"]})
    adj = _adjacency([(1, 0), (1, 1), (1, 2), (2, 1), (2, 3), (3, 3)])
    flags = compute_candidates(blocks, adj, spaces, min_spaces=3)
    assert flags["adjacent_spaces"].tolist() == [3, 2, 1, 0, 0]
    assert flags["adjacent_space_ids"].tolist() == [
        "bike:666,carshare:666,c1", "carshare:666,b2", "b2", "", ""]
    listed = flags["adjacent_space_ids"].map(lambda s: len(s.split(",")) if s else 0)
    assert (listed == flags["adjacent_spaces"]).all()
