"""Where to add the next facilities: coverage-maximising site suggestions.

The candidate sites and which blocks each reaches come from the study level
(:func:`sharemap.study.candidate_sites`, :func:`sharemap.study.cover_matrix`, on the
study's prepared block origins); this module chooses among them. To check a choice,
:func:`sharemap.study.whatif` recomputes the study with the sites added.

Objectives
----------
``population`` (maximal covering): choose N candidate sites to maximise the residents
whose walk to the category is at most T minutes, counting the existing spaces. The
residents are counted where the study's walks start: at the block origins, each
holding its share of its block's residents (one origin per block except for large
blocks, see :mod:`sharemap.origins`). Greedy with lazy evaluation: coverage is
submodular, so the greedy choice is within (1 - 1/e) of the optimum in the worst case
and usually optimal in practice.
Where the instance is small enough, the exact optimum is also computed as a
mixed-integer programme (scipy's HiGHS ``milp``), and reported beside the greedy
answer so the gap is visible.

``villages``: choose N sites to turn the most blocks into sharing-village
candidates (a new site adds one adjacent space to a block when it is within
``adjacent_minutes`` of origins holding at least half of the block's residents). This
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
from scipy import sparse

from . import _outputs
from ._crs import to_web_crs
from ._errors import ConfigError, InputDataError
from ._validate import LIMITS, check_number, check_whole
from .access import nearest_distance, prepare_points, walk_col
from .pipeline import StudyResult
from .study import candidate_sites, cover_matrix, origin_cover_matrix

__all__ = ["SUGGEST_OUTPUTS", "SuggestResult", "suggest_sites", "write_suggestions"]

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


def _population(result: StudyResult) -> npt.NDArray[np.float64]:
    """Residents per block origin (the block's residents times the origin's share)."""
    blocks = result.blocks
    if "population" not in blocks or blocks["population"].isna().all():
        msg = ("the population objective needs residents: give a boundary level with "
               "`population` in [coverage] boundaries")
        raise ConfigError(msg)
    origins = result.study_origins()
    pop = blocks["population"].fillna(0.0).to_numpy(np.float64)
    return pop[origins["block"].to_numpy(np.int64)] * origins["share"].to_numpy(np.float64)


def _origin_minutes(result: StudyResult, category: str) -> npt.NDArray[np.float64]:
    """Per block origin, the walk to `category` (the study's, or measured now)."""
    origins = result.study_origins()
    col = walk_col(category)
    if col in origins:
        return origins[col].to_numpy(np.float64, na_value=np.nan)
    if len(origins) == len(result.blocks):
        return result.blocks[col].to_numpy(np.float64, na_value=np.nan)
    mine = result.spaces[result.spaces["category"] == category]
    points = prepare_points(result.network, result.block_snaps(), mine,
                            max_snap_m=result.config.network.max_snap_m)
    dist = nearest_distance(points.joined, points.origin_idx, points.target_idx)
    return dist / result.config.walk_speed_m_per_min


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


def suggest_sites(result: StudyResult, *, category: str, add: int, minutes: float = 15.0,
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
    add = check_whole(add, "`add`", LIMITS["add"])
    minutes = check_number(minutes, "`minutes`", LIMITS["minutes"])
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


def _suggest_population(result: StudyResult, sites: gpd.GeoDataFrame, category: str, add: int,
                        minutes: float, exact: bool
                        ) -> tuple[dict[str, Any], list[tuple[int, float]]]:
    pop = _population(result)
    covered = _origin_minutes(result, category) <= minutes
    cover = origin_cover_matrix(result, sites, minutes=minutes)
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


def _suggest_villages(result: StudyResult, sites: gpd.GeoDataFrame, add: int,
                      exact: bool) -> tuple[dict[str, Any], list[tuple[int, float]]]:
    vcfg = result.config.villages
    if vcfg.distinct_categories or vcfg.count == "capacity":
        msg = ('the villages objective counts spaces; set distinct_categories = false and '
               'count = "spaces"')
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


def _suggest_map(src: tuple[SuggestResult, StudyResult]) -> Any:
    from .maps import build_map, save_map

    suggestion, result = src
    cat = suggestion.info["category"]
    proposed = suggestion.suggestions
    extra = gpd.GeoDataFrame({
        "space_id": proposed["site_id"].to_numpy(), "category": f"{cat} (suggested)",
        "name": [f"#{o} {n}" for o, n in zip(proposed["order"], proposed["name"], strict=True)],
        "source": "suggestion", "source_row": proposed["order"].to_numpy(),
    }, geometry=proposed.geometry.to_numpy(), crs=proposed.crs)
    spaces = pd.concat([result.spaces[result.spaces["category"] == cat], extra],
                       ignore_index=True)

    def write(path: Path) -> Path:
        fmap = build_map(result.blocks, gpd.GeoDataFrame(spaces, crs=extra.crs),
                         result.villages, color_by=walk_col(cat),
                         title=f"{result.config.name}: new {cat} sites",
                         tiles=result.config.map.tiles)
        return save_map(fmap, path)

    return write


_O = _outputs.Output
#: Every file ``sharemap suggest`` writes (registry entries; see :mod:`sharemap.outputs`).
SUGGEST_OUTPUTS: tuple[_outputs.Output, ...] = (
    _O("suggestions.gpkg", "gpkg", layer="suggestions",
       make=lambda s: to_web_crs(s[0].suggestions, "suggestions"),
       columns=("order", "site_id", "name"),
       holds="one row per chosen site in the order chosen: `order`, `site_id`, `name`, "
       "`gain_population` (or `gain_blocks`), `covered_population_after`"),
    _O("candidates.gpkg", "gpkg", layer="candidates",
       make=lambda s: to_web_crs(s[0].candidates, "candidates"),
       columns=("site_id", "name", "chosen"),
       holds="every candidate site considered: `site_id`, `name`, `chosen`"),
    _O("map.html", "file", make=_suggest_map, stage="map",
       holds="the existing spaces of the category and the chosen sites, blocks coloured by "
       "the walk to the category"),
    _O("suggest.json", "json", make=lambda s: dict(s[0].info), index=True,
       holds="`category`, `minutes`, `objective`, `covered_population_before`/`_after`, "
       "`population_total`, `optimum_population` where the exact optimum was computed, "
       "and `outputs`: every file in the folder"),
)


def write_suggestions(suggestion: SuggestResult, result: StudyResult,
                      out_dir: str | Path | _outputs.OutputFolder) -> dict[str, Path]:
    """Write ``suggestions.gpkg``, ``candidates.gpkg``, ``map.html`` and ``suggest.json``.

    The folder then holds this suggestion's files only (see
    :func:`sharemap.write_outputs`); returns file name to path.
    """
    return _outputs.write(SUGGEST_OUTPUTS, (suggestion, result), out_dir,
                          inputs=_outputs.input_paths(result.config))


def __getattr__(name: str) -> Any:
    # the what-if needs a whole study: it moved to sharemap.study (with candidate_sites and
    # cover_matrix, which this module imports from there)
    if name in ("WhatIfResult", "whatif", "write_whatif"):
        import warnings

        from . import study

        warnings.warn(f"sharemap.suggest.{name} is deprecated: use sharemap.study.{name}",
                      FutureWarning, stacklevel=2)
        return getattr(study, name)
    msg = f"module {__name__!r} has no attribute {name!r}"
    raise AttributeError(msg)
