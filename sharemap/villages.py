"""Sharing-village candidates (blocks with enough adjacent spaces) and villages.

Score
-----
A village's score is ``n_spaces + 2 * n_categories + population / 1000``: each
distinct adjacent space counts 1, each distinct category 2 (mixing kinds of
sharing is the plan's aim), and every 1,000 residents 1. Rank 1 is the highest
score; ties go to the lower ``village_id``.
"""

from __future__ import annotations

import logging

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from scipy import sparse
from scipy.sparse.csgraph import connected_components

__all__ = ["TOUCH_TOLERANCE_M", "compute_candidates", "compute_villages", "village_score"]

logger = logging.getLogger(__name__)

#: Blocks whose boundaries come this close (shared edge or corner) touch.
TOUCH_TOLERANCE_M = 1.0


def compute_candidates(blocks: gpd.GeoDataFrame, adjacency: pd.DataFrame, spaces: pd.DataFrame,
                       *, min_spaces: int = 3, distinct_categories: bool = False
                       ) -> pd.DataFrame:
    """Count adjacent spaces per block and flag sharing-village candidates.

    Parameters
    ----------
    blocks
        Blocks with ``block_id``.
    adjacency
        One row per (block, adjacent space): columns ``block_id`` and ``space``
        (the space's index label in `spaces`), nearest first within a block.
    spaces
        Spaces with ``space_id`` and ``category``.
    min_spaces
        A block with at least this many adjacent spaces (or categories) is a candidate.
    distinct_categories
        Count distinct categories instead of spaces.

    Returns
    -------
    flags
        Aligned to `blocks`' index: ``adjacent_spaces``, ``adjacent_categories``,
        ``adjacent_space_ids`` (comma-separated, nearest first) and ``candidate``.
    """
    adj = _with_space_cols(adjacency, spaces)
    grouped = adj.groupby("block_id", sort=False)
    n_sp = grouped["space"].nunique()
    n_cat = grouped["category"].nunique()
    ids = grouped["space_id"].agg(lambda s: ",".join(dict.fromkeys(s.astype(str))))
    key = blocks["block_id"]
    out = pd.DataFrame(index=blocks.index)
    out["adjacent_spaces"] = n_sp.reindex(key).fillna(0).astype(np.int64).to_numpy()
    out["adjacent_categories"] = n_cat.reindex(key).fillna(0).astype(np.int64).to_numpy()
    out["adjacent_space_ids"] = ids.reindex(key).fillna("").astype(str).to_numpy()
    counted = out["adjacent_categories"] if distinct_categories else out["adjacent_spaces"]
    out["candidate"] = counted >= min_spaces
    return out


def _with_space_cols(adjacency: pd.DataFrame, spaces: pd.DataFrame) -> pd.DataFrame:
    looked = spaces.loc[adjacency["space"].to_numpy(), ["space_id", "category"]]
    return adjacency.assign(space_id=looked["space_id"].astype(str).to_numpy(),
                            category=looked["category"].astype(str).to_numpy())


def village_score(n_spaces: pd.Series, n_categories: pd.Series,
                  population: pd.Series) -> pd.Series:
    """Score villages: ``n_spaces + 2 * n_categories + population / 1000`` (see module doc)."""
    return n_spaces + 2.0 * n_categories + population.fillna(0.0) / 1000.0


def _touch_groups(geoms: np.ndarray) -> np.ndarray:
    tree = shapely.STRtree(geoms)
    left, right = tree.query(geoms, predicate="dwithin", distance=TOUCH_TOLERANCE_M)
    n = len(geoms)
    graph = sparse.coo_matrix((np.ones(len(left)), (left, right)), shape=(n, n))
    _, labels = connected_components(graph, directed=False)
    return labels


def compute_villages(blocks: gpd.GeoDataFrame, adjacency: pd.DataFrame,
                     spaces: pd.DataFrame) -> tuple[pd.Series, gpd.GeoDataFrame]:
    """Group touching candidate blocks into villages, and score and rank them.

    Parameters
    ----------
    blocks
        Blocks with ``block_id``, ``candidate`` and optionally ``population``.
    adjacency
        ``block_id``, ``space`` pairs (as for :func:`compute_candidates`).
    spaces
        Spaces with ``space_id`` and ``category``.

    Returns
    -------
    village_id
        Aligned to `blocks`' index: the block's village (nullable Int64).
    villages
        ``village_id``, ``rank``, ``score``, ``n_blocks``, ``n_spaces``, ``categories``,
        ``population`` and the union of the blocks' geometries.

    Notes
    -----
    Blocks touch when their boundaries are within 1 m (a shared edge or a shared
    corner). Villages are numbered by their first block id; ``n_spaces`` counts
    the distinct spaces adjacent to any of the village's blocks.
    """
    cand = blocks[blocks["candidate"].astype(bool)]
    village = pd.Series(pd.NA, index=blocks.index, dtype="Int64")
    cols = ["village_id", "rank", "score", "n_blocks", "n_spaces", "categories", "population"]
    if cand.empty:
        return village, gpd.GeoDataFrame({c: [] for c in cols}, geometry=[], crs=blocks.crs)
    labels = _touch_groups(cand.geometry.to_numpy())
    first_block = pd.Series(cand["block_id"].to_numpy()).groupby(labels).transform("min")
    vid = pd.Series(first_block.rank(method="dense").astype(np.int64).to_numpy(),
                    index=cand.index)
    village.loc[cand.index] = vid.to_numpy()
    members = pd.DataFrame({"block_id": cand["block_id"].to_numpy(), "village_id": vid.to_numpy()})
    adj = _with_space_cols(adjacency.merge(members, on="block_id"), spaces)
    per = adj.groupby("village_id")
    pop = (cand["population"] if "population" in cand else pd.Series(np.nan, index=cand.index))
    table = pd.DataFrame({
        "n_blocks": vid.value_counts().sort_index(),
        "n_spaces": per["space"].nunique(),
        "categories": per["category"].agg(lambda s: ",".join(sorted(set(s)))),
        "population": pop.groupby(vid).sum(min_count=1),
    })
    table.index.name = "village_id"
    n_cat = per["category"].nunique().reindex(table.index).fillna(0)
    table["n_spaces"] = table["n_spaces"].fillna(0).astype(np.int64)
    table["score"] = village_score(table["n_spaces"], n_cat, table["population"]).round(3)
    table = table.reset_index().sort_values(["score", "village_id"], ascending=[False, True])
    table["rank"] = np.arange(1, len(table) + 1)
    geoms = pd.Series({k: shapely.union_all(g.to_numpy())
                       for k, g in cand.geometry.groupby(vid.to_numpy())})
    table = table.sort_values("village_id")
    out = gpd.GeoDataFrame(table[cols].reset_index(drop=True),
                           geometry=geoms.reindex(table["village_id"]).to_numpy(), crs=blocks.crs)
    logger.info("Found %d villages from %d candidate blocks", len(out), len(cand))
    return village, out
