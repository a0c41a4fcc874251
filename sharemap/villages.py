"""Sharing-village candidates (blocks with enough adjacent spaces) and villages.

Candidates
----------
``[villages] count = "spaces"`` (default): a block with at least ``min_spaces``
adjacent spaces (or distinct categories with ``distinct_categories = true``).
``count = "capacity"``: a block whose adjacent spaces' capacity (docks, bays, ...)
adds up to at least ``min_capacity``, so one 40-dock station next to a 30-bay car
park can make a candidate where three 2-dock stations do not.

Score
-----
A village's score is ``n_spaces + 2 * n_categories + population / 1000``: each
distinct adjacent space counts 1, each distinct category 2 (mixing kinds of
sharing is the plan's aim), and every 1,000 residents 1. Rank 1 is the highest
score; ties go to the lower ``village_id``.

A stage: blocks and adjacency pairs in, flags and villages out. What needs a whole
study (sweeps over several rules, explanations of one block) is in
:mod:`sharemap.study`.
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import Mapping
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

__all__ = ["TOUCH_TOLERANCE_M", "compute_candidates", "compute_villages", "village_score",
           "village_unions"]

logger = logging.getLogger(__name__)

#: Blocks whose boundaries come this close (shared edge or corner) touch.
TOUCH_TOLERANCE_M = 1.0


def compute_candidates(blocks: gpd.GeoDataFrame, adjacency: pd.DataFrame, spaces: pd.DataFrame,
                       *, min_spaces: int = 3, distinct_categories: bool = False,
                       min_capacity: float | None = None) -> pd.DataFrame:
    """Count adjacent spaces (and their capacity) per block and flag sharing-village candidates.

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
    min_capacity
        When given (``[villages] count = "capacity"``), a block is a candidate when
        its adjacent spaces' capacity adds up to at least this, whatever their number
        (`min_spaces` and `distinct_categories` are then not used).

    Returns
    -------
    flags
        Aligned to `blocks`' index: ``adjacent_spaces``, ``adjacent_categories``,
        ``adjacent_capacity`` (the sum of the distinct adjacent spaces' ``capacity``;
        1 per space where `spaces` has no capacity), ``adjacent_space_ids``
        (comma-separated, nearest first; ``category:id`` for an id several categories
        use) and ``candidate``.
    """
    adj = _with_space_cols(adjacency, spaces)
    grouped = adj.groupby("block_id", sort=False)
    n_sp = grouped["space"].nunique()
    n_cat = grouped["category"].nunique()
    once = adj.drop_duplicates(["block_id", "space"])
    cap = once.groupby("block_id", sort=False)["capacity"].sum()
    ids = pd.Series(_joined_ids(adj, grouped), index=n_sp.index, dtype=object)
    key = blocks["block_id"]
    out = pd.DataFrame(index=blocks.index)
    out["adjacent_spaces"] = n_sp.reindex(key).fillna(0).astype(np.int64).to_numpy()
    out["adjacent_categories"] = n_cat.reindex(key).fillna(0).astype(np.int64).to_numpy()
    out["adjacent_capacity"] = cap.reindex(key).fillna(0.0).astype(np.float64).to_numpy()
    out["adjacent_space_ids"] = ids.reindex(key).fillna("").astype(str).to_numpy()
    if min_capacity is not None:
        out["candidate"] = out["adjacent_capacity"] >= min_capacity
        return out
    counted = out["adjacent_categories"] if distinct_categories else out["adjacent_spaces"]
    out["candidate"] = counted >= min_spaces
    return out


def _joined_ids(adj: pd.DataFrame, grouped: Any) -> list[str]:
    """Per block group (in `grouped`'s order): its distinct space ids, comma-separated.

    Ids keep the adjacency's order (nearest first), each space at its first appearance
    (spaces told apart by their index label, not their id: two categories may share an
    id), written as ``label`` (see :func:`_with_space_cols`).
    """
    codes = grouped.ngroup().to_numpy(dtype=np.float64, na_value=np.nan)
    first = ~adj.duplicated(["block_id", "space"]).to_numpy() & ~np.isnan(codes)
    pos = np.flatnonzero(first)
    group = codes[pos].astype(np.int64)
    order = np.argsort(group, kind="stable")
    values = adj["label"].to_numpy(dtype=object)[pos[order]].tolist()
    ends = np.cumsum(np.bincount(group, minlength=grouped.ngroups)).tolist()
    return [",".join(values[s:e]) for s, e in itertools.pairwise([0, *ends])]


def _with_space_cols(adjacency: pd.DataFrame, spaces: pd.DataFrame) -> pd.DataFrame:
    """Add each adjacent space's ``space_id``, ``category``, ``capacity`` and ``label``.

    ``label`` is the id, or ``category:id`` where several categories of `spaces` use
    the id (Seoul's bike station numbers and Nanumcar spot codes overlap), the form
    ``sharemap whatif --remove`` takes.
    """
    looked = spaces.loc[adjacency["space"].to_numpy()]
    cap = (looked["capacity"].to_numpy(dtype=np.float64, na_value=1.0) if "capacity" in looked
           else np.ones(len(looked)))
    ids = looked["space_id"].astype(str).to_numpy()
    cats = looked["category"].astype(str).to_numpy()
    per_id = spaces.assign(space_id=spaces["space_id"].astype(str)).groupby(
        "space_id")["category"].nunique()
    shared = per_id.index[per_id.to_numpy() > 1]
    label = ids.astype(object)
    if len(shared):
        both = np.isin(ids, shared.to_numpy(dtype=str))
        label[both] = (pd.Series(cats[both], dtype=object) + ":"
                       + pd.Series(ids[both], dtype=object)).to_numpy(dtype=object)
    return adjacency.assign(space_id=ids, category=cats, capacity=cap, label=label)


def village_score(n_spaces: pd.Series, n_categories: pd.Series,
                  population: pd.Series) -> pd.Series:
    """Score villages: ``n_spaces + 2 * n_categories + population / 1000`` (see module doc)."""
    return n_spaces + 2.0 * n_categories + population.fillna(0.0) / 1000.0


def _touch_groups(geoms: np.ndarray) -> np.ndarray:
    """Label the groups of blocks that touch (within :data:`TOUCH_TOLERANCE_M`), directly or not.

    The pairs are those of ``STRtree.query(predicate="dwithin")``: boxes grown a
    little past the tolerance pick the candidates, then one vectorised ``dwithin``
    call decides (three to five times faster than the tree's own predicate).
    """
    from scipy import sparse
    from scipy.sparse.csgraph import connected_components

    tree = shapely.STRtree(geoms)
    x0, y0, x1, y1 = shapely.bounds(geoms).T
    pad = TOUCH_TOLERANCE_M * (1 + 1e-9) + 1e-6
    left, right = tree.query(shapely.box(x0 - pad, y0 - pad, x1 + pad, y1 + pad))
    near = shapely.dwithin(geoms[left], geoms[right], TOUCH_TOLERANCE_M)
    left, right = left[near], right[near]
    n = len(geoms)
    graph = sparse.coo_matrix((np.ones(len(left)), (left, right)), shape=(n, n))
    _, labels = connected_components(graph, directed=False)
    return labels


def _joined_categories(adj: pd.DataFrame) -> pd.Series:
    """Per village: its distinct categories, sorted and comma-separated."""
    pairs = adj[["village_id", "category"]].drop_duplicates()
    codes, villages = pd.factorize(pairs["village_id"], sort=True)
    order = np.argsort(codes, kind="stable")
    values = pairs["category"].to_numpy(dtype=object)[order].tolist()
    ends = np.cumsum(np.bincount(codes[codes >= 0], minlength=len(villages))).tolist()
    text = [",".join(sorted(values[s:e])) for s, e in itertools.pairwise([0, *ends])]
    return pd.Series(text, index=pd.Index(villages, name="village_id"))


def _unions(geoms: np.ndarray, village: np.ndarray, block_ids: np.ndarray | None = None,
            known: Mapping[tuple[Any, ...], Any] | None = None) -> np.ndarray:
    """Per village 1..n: the union of its blocks' geometries (block order kept).

    `known` maps a tuple of block ids (in block order) to its union, already made
    (a what-if's villages whose blocks did not change): those are not made again.
    """
    order = np.argsort(village, kind="stable")
    ends = np.cumsum(np.bincount(village, minlength=int(village.max()) + 1)[1:]).tolist()
    parts = geoms[order]
    ids = block_ids[order] if block_ids is not None and known else None
    out = []
    for s, e in itertools.pairwise([0, *ends]):
        done = known.get(tuple(ids[s:e].tolist())) if ids is not None and known else None
        out.append(done if done is not None else shapely.union_all(parts[s:e]))
    return np.array(out, dtype=object)


def village_unions(blocks: pd.DataFrame, villages: gpd.GeoDataFrame
                   ) -> dict[tuple[Any, ...], Any]:
    """Map each village's block ids (a tuple, in block order) to its geometry.

    For :func:`compute_villages`' `known`: a what-if reuses the shapes of the villages
    whose blocks it did not change.
    """
    vid = blocks["village_id"].to_numpy(dtype=object, na_value=None)
    inside = np.flatnonzero(pd.notna(blocks["village_id"]).to_numpy())
    members = pd.Series(blocks["block_id"].to_numpy()[inside]).groupby(
        vid[inside].astype(np.int64), sort=False).agg(tuple)
    shapes = dict(zip(villages["village_id"].to_numpy().tolist(), villages.geometry,
                      strict=True))
    return {ids: shapes[v] for v, ids in members.items() if v in shapes}


def compute_villages(blocks: gpd.GeoDataFrame, adjacency: pd.DataFrame,
                     spaces: pd.DataFrame, *,
                     known: Mapping[tuple[Any, ...], Any] | None = None
                     ) -> tuple[pd.Series, gpd.GeoDataFrame]:
    """Group touching candidate blocks into villages, and score and rank them.

    Parameters
    ----------
    blocks
        Blocks with ``block_id``, ``candidate`` and optionally ``population``.
    adjacency
        ``block_id``, ``space`` pairs (as for :func:`compute_candidates`).
    spaces
        Spaces with ``space_id`` and ``category``.
    known
        Village shapes already made, by their block ids (:func:`village_unions`).

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
        "categories": _joined_categories(adj),
        "population": pop.groupby(vid).sum(min_count=1),
    })
    table.index.name = "village_id"
    n_cat = per["category"].nunique().reindex(table.index).fillna(0)
    table["n_spaces"] = table["n_spaces"].fillna(0).astype(np.int64)
    table["score"] = village_score(table["n_spaces"], n_cat, table["population"]).round(3)
    table = table.reset_index().sort_values(["score", "village_id"], ascending=[False, True])
    table["rank"] = np.arange(1, len(table) + 1)
    table = table.sort_values("village_id")
    geoms = _unions(cand.geometry.to_numpy(), vid.to_numpy(), cand["block_id"].to_numpy(),
                    known)
    out = gpd.GeoDataFrame(table[cols].reset_index(drop=True),
                           geometry=geoms[table["village_id"].to_numpy() - 1], crs=blocks.crs)
    logger.info("Found %d villages from %d candidate blocks", len(out), len(cand))
    return village, out


def __getattr__(name: str) -> Any:
    # `sweep` and `explain_block` need a whole study: they moved up to sharemap.study
    # (the one import of this module that points up; the import contract allows it)
    if name in ("sweep", "explain_block"):
        import warnings

        from . import study

        warnings.warn(f"sharemap.villages.{name} is deprecated: use sharemap.study.{name} "
                      f"(or sharemap.{name})", FutureWarning, stacklevel=2)
        return getattr(study, name)
    msg = f"module {__name__!r} has no attribute {name!r}"
    raise AttributeError(msg)
