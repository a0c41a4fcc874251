"""Where to add the next facilities: coverage-maximising site suggestions and what-ifs.

Objectives
----------
``population`` (maximal covering): choose N candidate sites to maximise the residents
of blocks whose walk to the category is at most T minutes, counting the existing
spaces. Greedy with lazy evaluation: coverage is submodular, so the greedy choice is
within (1 - 1/e) of the optimum in the worst case and usually optimal in practice.
Where the instance is small enough, the exact optimum is also computed as a
mixed-integer programme (scipy's HiGHS ``milp``), and reported beside the greedy
answer so the gap is visible.

``villages``: choose N sites to turn the most blocks into sharing-village
candidates (a new site within ``adjacent_minutes`` adds one adjacent space). This
objective is not submodular (a block may need two new sites), so the greedy looks
one site ahead and ties are broken by residents; small instances are solved
exactly by enumeration.
"""

from __future__ import annotations

import heapq
import itertools
import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import numpy.typing as npt
import pandas as pd
import shapely
from scipy import sparse

from . import _io
from ._crs import to_web_crs
from ._errors import ConfigError, InputDataError
from .access import join_points, snap_points, walk_col, within_pairs
from .layers import dedupe_spaces

__all__ = [
    "SuggestResult",
    "WhatIfResult",
    "candidate_sites",
    "cover_matrix",
    "suggest_sites",
    "whatif",
    "write_suggestions",
    "write_whatif",
]

logger = logging.getLogger(__name__)

OBJECTIVES = ("population", "villages")
#: Largest instance solved exactly (sites x blocks non-zeros for the MILP; subsets enumerated).
_MILP_MAX_SITES = 3000
_ENUM_MAX_SUBSETS = 200_000


@dataclass(frozen=True, eq=False)
class SuggestResult:
    """Chosen sites, every candidate considered, and the before/after numbers."""

    suggestions: gpd.GeoDataFrame
    candidates: gpd.GeoDataFrame
    info: dict[str, Any] = field(default_factory=dict)


def candidate_sites(result: Any, *, candidates: gpd.GeoDataFrame | None = None,
                    grid_m: float = 200.0) -> gpd.GeoDataFrame:
    """Return the candidate sites: given points, the open-facility layer, or a network grid.

    Parameters
    ----------
    result
        A :class:`~sharemap.pipeline.StudyResult`.
    candidates
        Points with ``site_id`` and ``name`` (e.g. from :func:`sharemap.read_layer`).
    grid_m
        Spacing of the fallback grid; each grid point is moved to the nearest point
        of the walking network.

    Returns
    -------
    sites
        ``site_id``, ``name`` and point geometry in the analysis CRS.
    """
    if candidates is not None:
        sites = candidates.to_crs(result.network.crs)
        return gpd.GeoDataFrame({"site_id": sites["site_id"].astype(str).to_numpy(),
                                 "name": sites["name"].astype(str).to_numpy()},
                                geometry=sites.geometry.to_numpy(), crs=sites.crs)
    fac = result.spaces[result.spaces["category"] == "facility"]
    if len(fac):
        return gpd.GeoDataFrame({"site_id": fac["space_id"].astype(str).to_numpy(),
                                 "name": fac["name"].astype(str).to_numpy()},
                                geometry=fac.geometry.to_numpy(), crs=fac.crs)
    return _grid_sites(result, grid_m)


def _grid_sites(result: Any, grid_m: float) -> gpd.GeoDataFrame:
    net = result.network
    area = result.study_area
    x0, y0, x1, y1 = area.bounds if area is not None else net.edges.total_bounds
    xs = np.arange(x0 + grid_m / 2, x1, grid_m)
    ys = np.arange(y0 + grid_m / 2, y1, grid_m)
    gx, gy = np.meshgrid(xs, ys)
    pts = shapely.points(gx.ravel(), gy.ravel())
    if area is not None:
        pts = pts[shapely.covers(area, pts)]
    snaps = snap_points(net, gpd.GeoSeries(pts, crs=net.crs), max_snap_m=grid_m)
    ok = snaps["on_network"].to_numpy()
    lines = net.edges.geometry.to_numpy()[snaps["edge"].to_numpy()[ok]]
    on_street = shapely.line_interpolate_point(lines, snaps["position_m"].to_numpy()[ok])
    n = int(ok.sum())
    return gpd.GeoDataFrame({"site_id": [f"grid-{i + 1}" for i in range(n)],
                             "name": [f"grid point {i + 1}" for i in range(n)]},
                            geometry=on_street, crs=net.crs)


def cover_matrix(result: Any, points: gpd.GeoDataFrame, *,
                 minutes: float) -> sparse.csr_matrix:
    """Which blocks each point reaches within `minutes` (sites x blocks, boolean CSR).

    The walk is measured exactly as for spaces: snapping, along-edge distances and
    the straight-line offsets at both ends.
    """
    net = result.network
    speed = result.config.walk_speed_m_min
    max_snap = result.config.network.max_snap_m
    so = result.block_snaps()
    sp = snap_points(net, points, max_snap_m=max_snap)
    joined = join_points(net, pd.concat([so, sp], ignore_index=True))
    o_idx = np.arange(len(so), dtype=np.int64)
    p_idx = len(so) + np.arange(len(sp), dtype=np.int64)
    pairs = within_pairs(joined, p_idx, o_idx, max_m=minutes * speed)
    data = np.ones(len(pairs), dtype=bool)
    return sparse.csr_matrix((data, (pairs["origin"].to_numpy(), pairs["target"].to_numpy())),
                             shape=(len(sp), len(so)))


def _population(result: Any) -> npt.NDArray[np.float64]:
    blocks = result.blocks
    if "population" not in blocks or blocks["population"].isna().all():
        msg = ("the population objective needs residents: give a boundary level with "
               "`population` in [coverage] boundaries")
        raise ConfigError(msg)
    return blocks["population"].fillna(0.0).to_numpy(np.float64)


def _greedy_cover(cover: sparse.csr_matrix, weight: npt.NDArray[np.float64],
                  covered: npt.NDArray[np.bool_], k: int) -> list[tuple[int, float]]:
    """Lazy greedy maximal covering: [(site, gain), ...] in the order chosen."""
    covered = covered.copy()
    heap = [(-float(weight[cover[s].indices][~covered[cover[s].indices]].sum()), s)
            for s in range(cover.shape[0])]
    heapq.heapify(heap)
    chosen: list[tuple[int, float]] = []
    while heap and len(chosen) < k:
        _, s = heapq.heappop(heap)
        idx = cover[s].indices
        gain = float(weight[idx][~covered[idx]].sum())
        if heap and gain < -heap[0][0] - 1e-12:
            heapq.heappush(heap, (-gain, s))  # stale bound: re-insert with the true gain
            continue
        chosen.append((s, gain))
        covered[idx] = True
    return chosen


def _exact_cover(cover: sparse.csr_matrix, weight: npt.NDArray[np.float64],
                 covered: npt.NDArray[np.bool_], k: int) -> float | None:
    """Return the optimal new coverage (MCLP as a MILP with HiGHS), or None if too large."""
    from scipy.optimize import Bounds, LinearConstraint, milp

    n_sites = cover.shape[0]
    open_blocks = np.flatnonzero(~covered & (weight > 0))
    sub = cover[:, open_blocks].astype(np.float64).tocsc()
    reach = np.flatnonzero(np.diff(sub.indptr) > 0)
    if n_sites > _MILP_MAX_SITES or k >= n_sites:
        if k >= n_sites:
            return float(weight[open_blocks[reach]].sum())
        return None
    sub = sub[:, reach]
    w = weight[open_blocks[reach]]
    n_b = len(w)
    # variables: x_site (binary) then y_block (0..1); maximise w.y
    c = np.concatenate([np.zeros(n_sites), -w])
    # y_b - sum_{s covers b} x_s <= 0
    link = sparse.hstack([-sub.T.tocsr(), sparse.identity(n_b, format="csr")]).tocsr()
    budget = sparse.csr_matrix(np.concatenate([np.ones(n_sites), np.zeros(n_b)])[None, :])
    cons = [LinearConstraint(link, -np.inf, 0.0), LinearConstraint(budget, 0.0, float(k))]
    integrality = np.concatenate([np.ones(n_sites), np.zeros(n_b)])
    res = milp(c, constraints=cons, integrality=integrality, bounds=Bounds(0.0, 1.0))
    if not res.success:
        logger.warning("exact optimum not found: %s", res.message)
        return None
    return float(-res.fun)


def _village_gain(counts: npt.NDArray[np.int64], adj: sparse.csr_matrix,
                  need: int, weight: npt.NDArray[np.float64],
                  chosen: Sequence[int]) -> tuple[int, float]:
    extra = np.asarray(adj[list(chosen)].sum(axis=0)).ravel() if chosen else 0
    became = (counts < need) & (counts + extra >= need)
    return int(became.sum()), float(weight[became].sum())


def _greedy_villages(adj: sparse.csr_matrix, counts: npt.NDArray[np.int64], need: int,
                     weight: npt.NDArray[np.float64], k: int) -> list[tuple[int, float]]:
    chosen: list[int] = []
    gains: list[tuple[int, float]] = []
    base = (0, 0.0)
    for _ in range(min(k, adj.shape[0])):
        best, best_val = -1, (-1, -1.0, -1.0)
        for s in range(adj.shape[0]):
            if s in chosen:
                continue
            now = _village_gain(counts, adj, need, weight, [*chosen, s])
            # look one site ahead: a block one site short also counts, a little
            ahead = counts + np.asarray(adj[[*chosen, s]].sum(axis=0)).ravel()
            near = float(((ahead == need - 1) & (counts < need - 1)).sum())
            val = (now[0], now[1], near)
            if val > best_val:
                best, best_val = s, val
        chosen.append(best)
        gains.append((best, float(best_val[0] - base[0])))
        base = (best_val[0], best_val[1])
    return gains


def _exact_villages(adj: sparse.csr_matrix, counts: npt.NDArray[np.int64], need: int,
                    weight: npt.NDArray[np.float64], k: int) -> int | None:
    n = adj.shape[0]
    if math.comb(n, min(k, n)) > _ENUM_MAX_SUBSETS:
        return None
    return max(_village_gain(counts, adj, need, weight, list(sub))[0]
               for sub in itertools.combinations(range(n), min(k, n)))


def suggest_sites(result: Any, *, category: str, add: int, minutes: float = 15.0,
                  candidates: gpd.GeoDataFrame | None = None,
                  objective: str = "population", exact: bool = True) -> SuggestResult:
    """Choose `add` new sites for `category` among candidate locations.

    Parameters
    ----------
    result
        A :class:`~sharemap.pipeline.StudyResult` (its network, blocks and spaces are reused).
    category
        The category to add sites for; its existing spaces count as coverage.
    add
        Number of sites to choose.
    minutes
        Coverage threshold (``population`` objective).
    candidates
        Candidate points (``site_id``, ``name``); default: see :func:`candidate_sites`.
    objective
        ``"population"`` or ``"villages"`` (see the module notes).
    exact
        Also compute the exact optimum where the instance is small enough.

    Returns
    -------
    suggestion
        The chosen sites in order with their gains, every candidate with ``chosen``,
        and the numbers for ``suggest.json``.

    Examples
    --------
    >>> from sharemap import read_config, run_study
    >>> from sharemap.datasets import get_path
    >>> res = run_study(read_config(get_path("demo")))
    >>> s = suggest_sites(res, category="tools", add=2)
    >>> s.info["covered_population_after"] >= s.info["covered_population_before"]
    True
    """
    if objective not in OBJECTIVES:
        msg = f"`objective` must be one of {', '.join(OBJECTIVES)}, got {objective!r}"
        raise ConfigError(msg)
    if category not in result.config.categories:
        msg = (f"category {category!r} is not in the study; its categories are "
               f"{', '.join(result.config.categories)}")
        raise ConfigError(msg)
    if add < 1:
        msg = f"`add` must be at least 1, got {add}"
        raise ConfigError(msg)
    sites = candidate_sites(result, candidates=candidates)
    if sites.empty:
        msg = "no candidate sites: give --candidates, or a study area for the grid"
        raise InputDataError(msg)
    if objective == "population":
        info, order = _suggest_population(result, sites, category, add, minutes, exact)
    else:
        info, order = _suggest_villages(result, sites, add, exact)
    info = {"category": category, "minutes": minutes, "objective": objective,
            "candidates": len(sites), **info}
    chosen = sites.iloc[[s for s, _ in order]].copy()
    chosen.insert(0, "order", np.arange(1, len(order) + 1))
    chosen["gain_population" if objective == "population" else "gain_blocks"] = \
        [g for _, g in order]
    if objective == "population":
        chosen["covered_population_after"] = (
            info["covered_population_before"] + np.cumsum([g for _, g in order]))
    cand = sites.copy()
    cand["chosen"] = False
    cand.iloc[[s for s, _ in order], cand.columns.get_loc("chosen")] = True
    return SuggestResult(suggestions=chosen.reset_index(drop=True), candidates=cand, info=info)


def _suggest_population(result: Any, sites: gpd.GeoDataFrame, category: str, add: int,
                        minutes: float, exact: bool) -> tuple[dict[str, Any], list]:
    pop = _population(result)
    covered = (result.blocks[walk_col(category)] <= minutes).to_numpy()
    cover = cover_matrix(result, sites, minutes=minutes)
    order = _greedy_cover(cover, pop, covered, add)
    before = float(pop[covered].sum())
    gain = sum(g for _, g in order)
    info: dict[str, Any] = {
        "covered_population_before": before,
        "covered_population_after": before + gain,
        "population_total": float(pop.sum()),
    }
    if exact:
        best = _exact_cover(cover, pop, covered, add)
        if best is not None:
            info["optimum_population"] = before + best
            info["greedy_share_of_optimal_gain"] = 1.0 if best <= 0 else gain / best
    return info, order


def _suggest_villages(result: Any, sites: gpd.GeoDataFrame, add: int,
                      exact: bool) -> tuple[dict[str, Any], list]:
    vcfg = result.config.villages
    if vcfg.distinct_categories:
        msg = "the villages objective counts spaces; set distinct_categories = false"
        raise ConfigError(msg)
    adj = cover_matrix(result, sites, minutes=vcfg.adjacent_minutes).astype(np.int64)
    counts = result.blocks["adjacent_spaces"].to_numpy(np.int64)
    weight = (result.blocks["population"].fillna(0.0).to_numpy(np.float64)
              if "population" in result.blocks else np.zeros(len(counts)))
    order = _greedy_villages(adj, counts, vcfg.min_spaces, weight, add)
    new_blocks, new_pop = _village_gain(counts, adj, vcfg.min_spaces, weight,
                                        [s for s, _ in order])
    before = int(result.blocks["candidate"].sum())
    info: dict[str, Any] = {"candidate_blocks_before": before,
                            "candidate_blocks_after": before + new_blocks,
                            "residents_in_new_candidates": new_pop}
    if exact:
        best = _exact_villages(adj, counts, vcfg.min_spaces, weight, add)
        if best is not None:
            info["optimum_new_candidate_blocks"] = best
    return info, order


def write_suggestions(suggestion: SuggestResult, result: Any, out_dir: str | Path,
                      ) -> dict[str, Path]:
    """Write ``suggestions.gpkg``, ``candidates.gpkg``, ``suggest.json`` and ``map.html``."""
    from .maps import build_map, save_map

    out = Path(out_dir)
    paths = {
        "suggestions.gpkg": _io.write_gpkg(to_web_crs(suggestion.suggestions, "suggestions"),
                                           out / "suggestions.gpkg", layer="suggestions"),
        "candidates.gpkg": _io.write_gpkg(to_web_crs(suggestion.candidates, "candidates"),
                                          out / "candidates.gpkg", layer="candidates"),
        "suggest.json": _io.write_json(suggestion.info, out / "suggest.json"),
    }
    cat = suggestion.info["category"]
    proposed = suggestion.suggestions
    extra = gpd.GeoDataFrame({
        "space_id": proposed["site_id"].to_numpy(), "category": f"{cat} (suggested)",
        "name": [f"#{o} {n}" for o, n in zip(proposed["order"], proposed["name"], strict=True)],
        "source": "suggestion", "source_row": proposed["order"].to_numpy(),
    }, geometry=proposed.geometry.to_numpy(), crs=proposed.crs)
    spaces = pd.concat([result.spaces[result.spaces["category"] == cat], extra],
                       ignore_index=True)
    fmap = build_map(result.blocks, gpd.GeoDataFrame(spaces, crs=extra.crs), result.villages,
                     color_by=walk_col(cat), title=f"{result.config.name}: new {cat} sites",
                     tiles=result.config.map.tiles)
    paths["map.html"] = save_map(fmap, out / "map.html")
    return paths


# ----------------------------------------------------------------------------- what-if


@dataclass(frozen=True, eq=False)
class WhatIfResult:
    """A study before and after adding and removing spaces, and the differences."""

    before: Any
    after: Any
    coverage_change: pd.DataFrame
    block_change: gpd.GeoDataFrame
    info: dict[str, Any] = field(default_factory=dict)


def whatif(result: Any, *, add: gpd.GeoDataFrame | None = None,
           remove: Sequence[str] = ()) -> WhatIfResult:
    """Recompute coverage and villages with spaces added and removed (same network, blocks).

    Parameters
    ----------
    result
        The study as it is (:class:`~sharemap.pipeline.StudyResult`).
    add
        New spaces (``space_id``, ``category``, ``name``, point geometry), e.g. from
        :func:`sharemap.read_layer`.
    remove
        ``space_id`` values to remove (``category:space_id`` where an id repeats across
        categories).

    Returns
    -------
    whatif
        Both results, the coverage difference per level, area, category and threshold,
        and the blocks whose walk times or candidacy changed.
    """
    from .pipeline import recompute_with_spaces

    spaces = result.spaces
    keys = spaces["category"].astype(str) + ":" + spaces["space_id"].astype(str)
    drop = np.zeros(len(spaces), dtype=bool)
    for rid in remove:
        hit = (keys == rid).to_numpy() if ":" in rid else (spaces["space_id"] == rid).to_numpy()
        if not hit.any():
            msg = f"--remove: no analysed space has id {rid!r}"
            raise InputDataError(msg)
        if hit.sum() > 1:
            msg = f"--remove: id {rid!r} is used in several categories; write category:{rid}"
            raise InputDataError(msg)
        drop |= hit
    cols = [c for c in spaces.columns if c != "snap_m"]
    new = spaces.loc[~drop, cols]
    dup_rejects = pd.DataFrame()
    if add is not None and len(add):
        extra = add.to_crs(spaces.crs)
        extra = extra.assign(
            source=extra["source"] if "source" in extra else "whatif",
            source_row=extra["source_row"] if "source_row" in extra
            else np.arange(1, len(extra) + 1))
        # an added space within 2 m of a kept one of its category is the same space
        merged = gpd.GeoDataFrame(pd.concat([new, extra[cols]], ignore_index=True),
                                  crs=spaces.crs)
        new, dup_rejects = dedupe_spaces(merged)
    after = recompute_with_spaces(result, gpd.GeoDataFrame(new, crs=spaces.crs))
    info = {"added": 0 if add is None else len(add), "removed": len(remove),
            "added_duplicates": len(dup_rejects), "added_off_network": len(after.rejects)}
    return WhatIfResult(before=result, after=after,
                        coverage_change=_coverage_change(result.coverage, after.coverage),
                        block_change=_block_change(result, after), info=info)


def _coverage_change(before: pd.DataFrame, after: pd.DataFrame) -> pd.DataFrame:
    keys = ["level", "area", "area_id", "category", "threshold_min"]
    cols = ["blocks_covered", "population_covered", "share_blocks", "share_population"]
    merged = before[[*keys, "blocks", "population", *cols]].merge(
        after[[*keys, *cols]], on=keys, suffixes=("_before", "_after"))
    for c in cols:
        merged[f"{c}_change"] = merged[f"{c}_after"] - merged[f"{c}_before"]
    return merged


def _block_change(before: Any, after: Any) -> gpd.GeoDataFrame:
    cats = before.config.categories
    b, a = before.blocks, after.blocks
    out = pd.DataFrame({"block_id": b["block_id"].to_numpy()})
    for c in cats:
        out[f"{walk_col(c)}_before"] = b[walk_col(c)].to_numpy()
        out[f"{walk_col(c)}_after"] = a[walk_col(c)].to_numpy()
    out["adjacent_spaces_before"] = b["adjacent_spaces"].to_numpy()
    out["adjacent_spaces_after"] = a["adjacent_spaces"].to_numpy()
    out["candidate_before"] = b["candidate"].to_numpy()
    out["candidate_after"] = a["candidate"].to_numpy()
    out["change"] = np.select(
        [~out["candidate_before"] & out["candidate_after"],
         out["candidate_before"] & ~out["candidate_after"]],
        ["gains candidacy", "loses candidacy"], default="")
    times_b = b[[walk_col(c) for c in cats]].to_numpy()
    times_a = a[[walk_col(c) for c in cats]].to_numpy()
    moved = ~np.isclose(times_b, times_a, equal_nan=True).all(axis=1)
    keep = moved | (out["change"] != "").to_numpy() | \
        (out["adjacent_spaces_before"] != out["adjacent_spaces_after"]).to_numpy()
    return gpd.GeoDataFrame(out[keep].reset_index(drop=True),
                            geometry=b.geometry.to_numpy()[keep], crs=b.crs)


def write_whatif(change: WhatIfResult, out_dir: str | Path) -> dict[str, Path]:
    """Write ``whatif_coverage.csv``, ``whatif_blocks.gpkg``, ``whatif.json`` and ``map.html``."""
    from .maps import build_map, save_map

    out = Path(out_dir)
    after = change.after
    changed = change.block_change
    info = {**change.info,
            "blocks_changed": len(changed),
            "blocks_gaining_candidacy": int((changed["change"] == "gains candidacy").sum()),
            "blocks_losing_candidacy": int((changed["change"] == "loses candidacy").sum()),
            "candidates_before": int(change.before.blocks["candidate"].sum()),
            "candidates_after": int(after.blocks["candidate"].sum()),
            "villages_before": len(change.before.villages),
            "villages_after": len(after.villages)}
    paths = {
        "whatif_coverage.csv": _io.write_csv(change.coverage_change,
                                             out / "whatif_coverage.csv"),
        "whatif_blocks.gpkg": _io.write_gpkg(to_web_crs(changed, "changed blocks"),
                                             out / "whatif_blocks.gpkg", layer="changed_blocks"),
        "whatif.json": _io.write_json(info, out / "whatif.json"),
    }
    fmap = build_map(after.blocks, after.spaces, after.villages,
                     title=f"{after.config.name}: what-if", tiles=after.config.map.tiles)
    paths["map.html"] = save_map(fmap, out / "map.html")
    return paths
