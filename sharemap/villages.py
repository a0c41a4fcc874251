"""Sharing-village candidates (blocks with enough adjacent spaces) and villages.

Score
-----
A village's score is ``n_spaces + 2 * n_categories + population / 1000``: each
distinct adjacent space counts 1, each distinct category 2 (mixing kinds of
sharing is the plan's aim), and every 1,000 residents 1. Rank 1 is the highest
score; ties go to the lower ``village_id``.
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from scipy import sparse
from scipy.sparse.csgraph import connected_components

from ._errors import InputDataError

if TYPE_CHECKING:
    from .pipeline import StudyResult

__all__ = ["TOUCH_TOLERANCE_M", "compute_candidates", "compute_villages", "explain_block",
           "sweep", "village_score"]

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
    ids = pd.Series(_joined_ids(adj, grouped), index=n_sp.index, dtype=object)
    key = blocks["block_id"]
    out = pd.DataFrame(index=blocks.index)
    out["adjacent_spaces"] = n_sp.reindex(key).fillna(0).astype(np.int64).to_numpy()
    out["adjacent_categories"] = n_cat.reindex(key).fillna(0).astype(np.int64).to_numpy()
    out["adjacent_space_ids"] = ids.reindex(key).fillna("").astype(str).to_numpy()
    counted = out["adjacent_categories"] if distinct_categories else out["adjacent_spaces"]
    out["candidate"] = counted >= min_spaces
    return out


def _joined_ids(adj: pd.DataFrame, grouped: Any) -> list[str]:
    """Per block group (in `grouped`'s order): its distinct space ids, comma-separated.

    Ids keep the adjacency's order (nearest first), each at its first appearance.
    """
    codes = grouped.ngroup().to_numpy(dtype=np.float64, na_value=np.nan)
    first = ~adj.duplicated(["block_id", "space_id"]).to_numpy() & ~np.isnan(codes)
    pos = np.flatnonzero(first)
    group = codes[pos].astype(np.int64)
    order = np.argsort(group, kind="stable")
    values = adj["space_id"].to_numpy(dtype=object)[pos[order]].tolist()
    ends = np.cumsum(np.bincount(group, minlength=grouped.ngroups)).tolist()
    return [",".join(values[s:e]) for s, e in itertools.pairwise([0, *ends])]


def _with_space_cols(adjacency: pd.DataFrame, spaces: pd.DataFrame) -> pd.DataFrame:
    looked = spaces.loc[adjacency["space"].to_numpy(), ["space_id", "category"]]
    return adjacency.assign(space_id=looked["space_id"].astype(str).to_numpy(),
                            category=looked["category"].astype(str).to_numpy())


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


def _unions(geoms: np.ndarray, village: np.ndarray) -> np.ndarray:
    """Per village 1..n: the union of its blocks' geometries (block order kept)."""
    order = np.argsort(village, kind="stable")
    ends = np.cumsum(np.bincount(village, minlength=int(village.max()) + 1)[1:]).tolist()
    parts = geoms[order]
    return np.array([shapely.union_all(parts[s:e]) for s, e in itertools.pairwise([0, *ends])],
                    dtype=object)


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
    geoms = _unions(cand.geometry.to_numpy(), vid.to_numpy())
    out = gpd.GeoDataFrame(table[cols].reset_index(drop=True),
                           geometry=geoms[table["village_id"].to_numpy() - 1], crs=blocks.crs)
    logger.info("Found %d villages from %d candidate blocks", len(out), len(cand))
    return village, out


# --------------------------------------------------------------------------- sweeps


def _adjacency_at(result: StudyResult, max_minutes: float) -> pd.DataFrame:
    """All (block, space) pairs within `max_minutes`, computed as the pipeline does."""
    from .access import join_points, snap_points, within_pairs

    cfg, blocks, spaces = result.config, result.blocks, result.spaces
    max_snap = cfg.network.max_snap_m
    o_snaps = result.block_snaps()
    s_snaps = snap_points(result.network, spaces, max_snap_m=max_snap)
    joined = join_points(result.network, pd.concat([o_snaps, s_snaps], ignore_index=True))
    o_idx = np.arange(len(o_snaps), dtype=np.int64)
    s_idx = len(o_snaps) + np.arange(len(s_snaps), dtype=np.int64)
    speed = cfg.walk_speed_m_min
    pairs = within_pairs(joined, o_idx, s_idx, max_m=max_minutes * speed)
    tgt = pairs["target"].to_numpy()
    return pd.DataFrame({
        "block_id": blocks["block_id"].to_numpy()[pairs["origin"].to_numpy()],
        "space": spaces.index.to_numpy()[tgt],
        "space_id": spaces["space_id"].to_numpy()[tgt],
        "category": spaces["category"].to_numpy()[tgt],
        "distance_m": pairs["distance_m"].to_numpy(),
    })


def sweep(result: StudyResult, *, adjacent_minutes: Sequence[float],
          min_spaces: Sequence[int], distinct_categories: bool | None = None) -> pd.DataFrame:
    """Count candidates, villages and residents for several adjacency rules at once.

    Parameters
    ----------
    result
        A study result (:func:`sharemap.run_study`); its network, blocks, spaces and
        population are reused.
    adjacent_minutes
        The walking times that define "adjacent" (e.g. ``(3, 5, 7)``).
    min_spaces
        The numbers of adjacent spaces (or categories) that make a candidate.
    distinct_categories
        Count distinct categories instead of spaces (default: the study's setting).

    Returns
    -------
    table
        One row per pair, minutes outer, counts inner: ``adjacent_minutes``,
        ``min_spaces``, ``candidate_blocks``, ``villages``,
        ``residents_in_candidates`` (population of candidate blocks) and
        ``residents_in_villages`` (population of blocks in a village; every candidate
        is in one, a village of one block included, so the two agree); the resident
        columns are NaN without a population layer.

    Notes
    -----
    The walking distances are computed once, at the longest time, and filtered
    for each rule exactly as a full run would (within 1e-9 m), so every row equals
    ``run_study(config.with_villages(adjacent_minutes=..., min_spaces=...))``.

    Examples
    --------
    >>> from sharemap import read_config, run_study
    >>> from sharemap.datasets import get_path
    >>> table = sweep(run_study(read_config(get_path("demo"))),
    ...               adjacent_minutes=(3, 5), min_spaces=(2, 3))
    >>> table[["adjacent_minutes", "min_spaces"]].values.tolist()
    [[3.0, 2.0], [3.0, 3.0], [5.0, 2.0], [5.0, 3.0]]
    """
    minutes = sorted({float(m) for m in adjacent_minutes})
    counts = sorted({int(k) for k in min_spaces})
    if not minutes or not counts or minutes[0] <= 0 or counts[0] < 1:
        msg = ("`adjacent_minutes` must be positive minutes and `min_spaces` whole numbers "
               f">= 1, got {list(adjacent_minutes)} and {list(min_spaces)}")
        raise InputDataError(msg)
    distinct = (result.config.villages.distinct_categories if distinct_categories is None
                else distinct_categories)
    blocks = result.blocks.drop(columns=["candidate"], errors="ignore")
    pop = (blocks["population"] if "population" in blocks
           else pd.Series(np.nan, index=blocks.index))
    all_pairs = _adjacency_at(result, minutes[-1])
    speed = result.config.walk_speed_m_min
    rows = []
    for m in minutes:
        adj = all_pairs[all_pairs["distance_m"].to_numpy() <= m * speed + 1e-9]
        for k in counts:
            flags = compute_candidates(blocks, adj, result.spaces, min_spaces=k,
                                       distinct_categories=distinct)
            village, table = compute_villages(blocks.assign(candidate=flags["candidate"]),
                                              adj, result.spaces)
            cand = flags["candidate"].to_numpy()
            rows.append({"adjacent_minutes": m, "min_spaces": k,
                         "candidate_blocks": int(cand.sum()), "villages": len(table),
                         "residents_in_candidates": pop[cand].sum(min_count=1),
                         "residents_in_villages": pop[village.notna().to_numpy()]
                         .sum(min_count=1)})
    logger.info("Swept %d adjacency rules from one distance computation", len(rows))
    return pd.DataFrame(rows)


# ---------------------------------------------------------------------- explanations


def _find_block(blocks: pd.DataFrame, block_id: Any) -> Any:
    hit = blocks.index[blocks["block_id"].astype(str) == str(block_id)]
    if not len(hit):
        ids = blocks["block_id"]
        msg = (f"block {block_id!r} is not in this study; block ids run from "
               f"{ids.min()!r} to {ids.max()!r} (see blocks.gpkg)")
        raise InputDataError(msg)
    return hit[0]


def _fmt_min(value: float) -> str:
    return "none reachable" if pd.isna(value) else f"{value:.1f} min"


def _place(result: StudyResult, row: pd.Series) -> str:
    parts = []
    for b in result.config.coverage.boundaries:
        name = row.get(b.level)
        if isinstance(name, str) and name:
            parts.append(f"{b.level} {name}")
    where = f" in {', '.join(parts)}" if parts else ""
    size = f"{row['area_m2']:,.0f} m²"
    if "population" in row and pd.notna(row["population"]):
        size += f", about {row['population']:,.0f} residents"
    return f"Block {row['block_id']}{where} ({size})."


def _space_lines(result: StudyResult, block_id: Any) -> list[str]:
    adj = result.adjacency[result.adjacency["block_id"].astype(str) == str(block_id)]
    adj = adj.sort_values(["minutes", "category", "space_id"], kind="stable")
    names = result.spaces["name"] if "name" in result.spaces else None
    lines = []
    for i, r in enumerate(adj.itertuples(index=False), start=1):
        name = "" if names is None else names.get(r.space, "")
        name = "" if pd.isna(name) else str(name)
        label = f"{name} " if name else ""
        lines.append(f"  {i}. {label}({r.category} {r.space_id}): {r.minutes:.1f} min walk")
    return lines


def _verdict(result: StudyResult, row: pd.Series) -> str:
    vcfg = result.config.villages
    have = int(row["adjacent_categories"] if vcfg.distinct_categories else row["adjacent_spaces"])
    what = ("distinct categor" + ("y" if have == 1 else "ies") if vcfg.distinct_categories
            else "space" + ("" if have == 1 else "s"))
    if bool(row["candidate"]):
        return (f"It IS a sharing-village candidate: {have} adjacent {what}, at least the "
                f"{vcfg.min_spaces} the rule asks for.")
    return (f"It is NOT a candidate: {have} adjacent {what}, {vcfg.min_spaces - have} short "
            f"of the {vcfg.min_spaces} the rule asks for.")


def _village_line(result: StudyResult, row: pd.Series) -> str:
    vid = row.get("village_id")
    if vid is None or pd.isna(vid):
        return "It belongs to no sharing village (only candidate blocks do)."
    v = result.villages.set_index("village_id").loc[int(vid)]
    pop = "" if pd.isna(v["population"]) else f", {v['population']:,.0f} residents"
    return (f"It belongs to sharing village {int(vid)}: rank {int(v['rank'])} of "
            f"{len(result.villages)}, score {v['score']:.2f} "
            f"(spaces + 2 x categories + residents / 1000), {int(v['n_blocks'])} touching "
            f"candidate block(s), {int(v['n_spaces'])} spaces ({v['categories']}){pop}.")


def _off_network_line(result: StudyResult, row: pd.Series) -> str | None:
    from .access import snap_points
    from .blocks import block_origins

    one = result.blocks.loc[[row.name]]
    max_snap = result.config.network.max_snap_m
    snap = snap_points(result.network, block_origins(one), max_snap_m=max_snap)
    if bool(snap["on_network"].iloc[0]):
        return None
    return (f"Its origin (a point inside it) is more than max_snap_m = {max_snap:g} m from "
            "every walkable street, so no walking time was computed for it.")


def explain_block(result: StudyResult, block_id: Any) -> str:
    """Say in words why a block is (or is not) a sharing-village candidate.

    Parameters
    ----------
    result
        A study result (:func:`sharemap.run_study`).
    block_id
        The block's ``block_id`` (as in ``blocks.gpkg``; text or number).

    Returns
    -------
    text
        Several lines: the block and its boundary units, the rule, every adjacent
        space (name, category, id, walking minutes) nearest first, the verdict with
        the count against the rule, its village with rank and score, and the nearest
        space of each category.

    Raises
    ------
    InputDataError
        When no block has that id.

    Examples
    --------
    >>> from sharemap import read_config, run_study
    >>> from sharemap.datasets import get_path
    >>> result = run_study(read_config(get_path("demo")))
    >>> text = explain_block(result, 1)
    >>> text.splitlines()[0].startswith("Block 1 ")
    True
    """
    idx = _find_block(result.blocks, block_id)
    row = result.blocks.loc[idx]
    cfg = result.config
    vcfg = cfg.villages
    metres = vcfg.adjacent_minutes * cfg.walk_speed_m_min
    counted = "distinct categories of space" if vcfg.distinct_categories else "sharing spaces"
    lines = [
        _place(result, row),
        f"Rule: a block is a candidate when at least {vcfg.min_spaces} {counted} are within "
        f"{vcfg.adjacent_minutes:g} minutes' walk ({metres:,.0f} m at "
        f"{cfg.walk_speed_kmh:g} km/h) of its origin.",
    ]
    spaces = _space_lines(result, row["block_id"])
    if spaces:
        lines.append(f"Spaces within {vcfg.adjacent_minutes:g} minutes, nearest first "
                     f"({len(spaces)}):")
        lines += spaces
    else:
        lines.append(f"No space is within {vcfg.adjacent_minutes:g} minutes' walk.")
        off = _off_network_line(result, row)
        if off:
            lines.append(off)
    lines.append(_verdict(result, row))
    lines.append(_village_line(result, row))
    nearest = [f"{c} {_fmt_min(row.get(f'walk_min_{c}', np.nan))}" for c in cfg.categories]
    if nearest:
        lines.append("Nearest space of each category: " + "; ".join(nearest) + ".")
    return "\n".join(lines)
