"""Plan targets: where a study stands against a plan, and the sites that close each gap.

A plan (``[plan]`` in the study file) is a list of targets, each a metric and the
value aimed at: the number of sharing ``villages``, the number of ``spaces`` of a
category, their ``capacity`` (docks, bays, ...) or the ``coverage`` of a category
(or of every category, ``"all"``): the share of residents within a walk.
:func:`plan_targets` measures each on the study (``current``), says how far it is
from the target (``shortfall``), and chooses the sites that close it with the
suggestion machinery (:func:`sharemap.suggest.suggest_sites`).

What "most effectively" means, per metric
-----------------------------------------
``spaces``
    The shortfall is a number of spaces, so that many sites are added; they are the
    sites that bring the most residents newly within the target's `minutes` (15) of
    the category (suggest's maximal covering, greedy), counting the existing spaces
    and the plan's earlier sites. Once every resident is within reach, a further site
    adds no one: the printout and ``plan_sites.gpkg`` say so (gain 0).
``capacity``
    Each new site brings `site_capacity` (default: the median capacity of the
    category's spaces), so ``ceil(shortfall / site_capacity)`` sites are added,
    chosen as for ``spaces``.
``coverage`` of one category
    Maximal covering until the share is reached: sites are taken in suggest's greedy
    order (each the one adding the most residents newly within `minutes`) until the
    residents within reach make up the target share, so no fewer sites of that
    greedy order reach it.
``coverage`` of ``"all"``
    A resident counts when every category is within `minutes`. Each category's sites
    are taken in suggest's order for that category, and the categories take turns by
    what their next site adds: first the residents it brings within reach of *every*
    category, then (when no single site completes anyone, because residents miss two
    categories) those it leaves missing only one other category, then the residents
    it brings within reach of its own category. So the plan fills, one category
    after another, the gaps that stand between residents and full coverage.
``villages``
    A village is a group of touching candidate blocks, so a site that makes a block
    touching a village a candidate grows the village (or merges two) instead of adding
    one. Sites are therefore taken one at a time by the count itself: the one after
    which the study has the most villages; when no single site adds one (a block may
    need two more spaces), the one that brings the most blocks apart from every
    village closer to candidacy. A site that would merge villages is never taken.

Where the sites stand
---------------------
Every site is a point of a grid of ``[plan] grid_m`` metres (200) over the study area,
moved onto the nearest walkable street, and none stands within half the spacing of a
space of its category (existing or planned by an earlier target): no target "adds" a
place that is already there.

The targets are closed in the order given, each from the study with the sites of the
targets before it added (so a ``coverage`` target after a ``spaces`` target of the same
category counts the sites already planned), but for ``villages`` targets, closed last:
a site added for another target may merge two villages. The walks are reused
throughout: the network, blocks, block origins and their snaps are the study's, and
only the sites are walked from (:func:`sharemap.study.whatif`). ``after_own`` is each
metric right after its own sites, ``after`` once all the plan's sites are added. A
target may add at most ``[plan] max_sites`` sites (100).
"""

from __future__ import annotations

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
from scipy.sparse.csgraph import connected_components

from . import _outputs
from ._crs import to_web_crs
from ._errors import ConfigError
from .access import walk_col
from .config import PlanConfig, PlanTarget
from .pipeline import StudyResult
from .report import render_report
from .study import cover_matrix, origin_cover_matrix, site_candidates, whatif
from .suggest import suggest_sites
from .villages import TOUCH_TOLERANCE_M

__all__ = ["PLAN_COLUMNS", "PLAN_OUTPUTS", "PlanResult", "check_plan", "measure_target",
           "plan_targets", "write_plan"]

logger = logging.getLogger(__name__)

#: The columns of ``plan.csv``, in order (more follow: ``label``, ``year``, ``met``, ...).
PLAN_COLUMNS = ("metric", "category", "minutes", "target", "current", "shortfall",
                "sites_added", "after")
_SITE_COLUMNS = ("target", "metric", "category", "order", "site_id", "name", "capacity",
                 "gain_population", "gain_minutes", "gain_blocks", "villages_after")
#: suggest's largest `add`
_MAX_ADD = 10_000


@dataclass(frozen=True, eq=False)
class PlanResult:
    """A plan's targets measured and closed.

    Attributes
    ----------
    table
        One row per target (``plan.csv``): the :data:`PLAN_COLUMNS`, then ``after_own``
        (right after the target's own sites), ``label``, ``year``, ``met`` (the target
        is reached after the plan), ``site_capacity`` and ``note``.
    sites
        Every site the plan adds, target by target in the order chosen
        (``plan_sites.gpkg``): ``target`` (the row of `table`, from 1), ``metric``,
        ``category``, ``order``, ``site_id``, ``name``, ``capacity``,
        ``gain_population`` (residents newly within ``gain_minutes`` when chosen) or
        ``gain_blocks`` (new village-candidate blocks) and ``villages_after``, point
        geometry in the analysis CRS.
    before
        The study as it is.
    after
        The study with every site of the plan added.
    info
        What ``plan.json`` holds.
    """

    table: pd.DataFrame
    sites: gpd.GeoDataFrame
    before: StudyResult
    after: StudyResult
    info: dict[str, Any] = field(default_factory=dict)


# ------------------------------------------------------------------------- measures


def _origin_population(result: StudyResult) -> npt.NDArray[np.float64]:
    """Residents per block origin (the block's residents times the origin's share)."""
    origins = result.study_origins()
    pop = result.blocks["population"].fillna(0.0).to_numpy(np.float64) \
        if "population" in result.blocks else np.zeros(len(result.blocks))
    return pop[origins["block"].to_numpy(np.int64)] * origins["share"].to_numpy(np.float64)


def _within(result: StudyResult, categories: Sequence[str],
            minutes: float) -> dict[str, npt.NDArray[np.bool_]]:
    """Per category, which block origins are within `minutes` of it."""
    origins = result.study_origins()
    out = {}
    for cat in categories:
        walk = origins[walk_col(cat)].to_numpy(np.float64, na_value=np.nan)
        out[cat] = np.nan_to_num(walk, nan=np.inf) <= minutes + 1e-9
    return out


def _categories(result: StudyResult, target: PlanTarget) -> tuple[str, ...]:
    cat = target.category
    return result.config.categories if cat in (None, "all") else (str(cat),)


def measure_target(result: StudyResult, target: PlanTarget) -> float:
    """Return a target's metric on a study.

    ``villages``: the number of villages; ``spaces``: the analysed spaces of the
    category; ``capacity``: their capacity added up; ``coverage``: the share of
    residents (counted origin by origin, as ``coverage.csv``) within the target's
    minutes of the category, or of every category for ``"all"``.
    """
    if target.metric == "villages":
        return float(len(result.villages))
    if target.metric in ("spaces", "capacity"):
        mine = result.spaces[result.spaces["category"] == target.category]
        return float(len(mine) if target.metric == "spaces" else mine["capacity"].sum())
    pop = _origin_population(result)
    total = float(pop.sum())
    if total <= 0:
        return math.nan
    within = _within(result, _categories(result, target), target.minutes)
    ok = np.logical_and.reduce(list(within.values()))
    return float(pop[ok].sum()) / total


# ---------------------------------------------------------------------- choosing sites


@dataclass
class _Chosen:
    """The sites one target adds, and what to say about them."""

    sites: gpd.GeoDataFrame
    notes: list[str] = field(default_factory=list)


def _sites_frame(rows: gpd.GeoDataFrame, category: str, *, capacity: float,
                 gain_population: Sequence[float] | None = None, gain_minutes: float = math.nan,
                 gain_blocks: Sequence[float] | None = None,
                 villages_after: Sequence[float] | None = None) -> gpd.GeoDataFrame:
    n = len(rows)
    nan = [math.nan] * n
    return gpd.GeoDataFrame({
        "category": [category] * n,
        "site_id": rows["site_id"].astype(str).to_numpy(),
        "name": rows["name"].astype(str).to_numpy(),
        "capacity": [float(capacity)] * n,
        "gain_population": list(gain_population) if gain_population is not None else nan,
        "gain_minutes": [gain_minutes] * n,
        "gain_blocks": list(gain_blocks) if gain_blocks is not None else nan,
        "villages_after": list(villages_after) if villages_after is not None else nan,
    }, geometry=rows.geometry.to_numpy(), crs=rows.crs)


def _empty_sites(crs: Any) -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame({c: [] for c in _SITE_COLUMNS if c not in ("target", "metric",
                                                                       "order")},
                            geometry=gpd.GeoSeries([], crs=crs), crs=crs)


def _site_capacity(result: StudyResult, target: PlanTarget) -> float:
    if target.site_capacity is not None:
        return target.site_capacity
    mine = result.spaces.loc[result.spaces["category"] == target.category, "capacity"]
    return max(1.0, float(np.median(mine))) if len(mine) else 1.0


def _candidates(state: StudyResult, category: str, grid_m: float) -> gpd.GeoDataFrame:
    """Return the grid's points on the network, none within half the spacing of a space.

    :func:`sharemap.study.site_candidates` with the grid: the study's spaces include
    the sites of the plan's earlier targets, so no site is planned twice and none stands
    on an existing space of its category.
    """
    return site_candidates(state, category=category, grid_m=grid_m).sites


def _suggest(state: StudyResult, category: str, add: int, plan: PlanConfig, **kw: Any
             ) -> gpd.GeoDataFrame:
    """Return suggest's greedy choice of `add` grid sites for `category` (at most all)."""
    cand = _candidates(state, category, plan.grid_m)
    if not len(cand):
        return _empty_sites(state.spaces.crs).assign(covered_population_after=[])
    return suggest_sites(state, category=category, add=max(1, min(add, len(cand), _MAX_ADD)),
                         candidates=cand, exact=False, **kw).suggestions


def _residents_sites(state: StudyResult, target: PlanTarget, n: int, plan: PlanConfig,
                     capacity: float) -> _Chosen:
    """`n` sites of the target's category: the most residents newly within its minutes.

    Once no site brings anyone newly within the target's minutes (everyone who can be
    reached is), the next sites are chosen by the study's shorter thresholds in turn
    (10, then 5 minutes): they bring residents closer still. ``gain_minutes`` says
    which walk each site's gain counts.
    """
    cat = str(target.category)
    notes = []
    if n > plan.max_sites:
        notes.append(f"{n:,} sites needed; [plan] max_sites = {plan.max_sites} added")
        n = plan.max_sites
    shorter = sorted((t for t in state.config.coverage.thresholds_minutes
                      if t < target.minutes), reverse=True)
    frames: list[gpd.GeoDataFrame] = []
    left, work = n, state
    for minutes in (target.minutes, *shorter):
        rows = _suggest(work, cat, left, plan, minutes=minutes)
        useful = rows[rows["gain_population"] > 0]
        if not len(useful):
            continue
        frame = _sites_frame(useful, cat, capacity=capacity, gain_minutes=float(minutes),
                             gain_population=useful["gain_population"].tolist())
        frames.append(frame)
        left -= len(useful)
        work = _add_sites(work, frame)
        if not left:
            break
    if left:  # no site brings anyone closer: the rest in the greedy order, gaining nothing
        rest = _suggest(work, cat, left, plan, minutes=target.minutes).iloc[:left]
        if len(rest):
            frames.append(_sites_frame(rest, cat, capacity=capacity,
                                       gain_minutes=float(target.minutes),
                                       gain_population=[0.0] * len(rest)))
            notes.append(f"{len(rest)} of the sites bring no resident closer (everyone "
                         "reachable is already within every threshold)")
        if len(rest) < left:
            notes.append(f"only {n - left + len(rest)} candidate sites on the {plan.grid_m:g} m "
                         f"grid for {n} needed (a finer [plan] grid_m gives more)")
    by_shorter = sum(len(f) for f in frames if f["gain_minutes"].iat[0] < target.minutes)
    if by_shorter:
        notes.append(f"{by_shorter} sites chosen by the shorter walks "
                     f"({', '.join(f'{t:g}' for t in shorter)} min): every resident who can "
                     f"be is within {target.minutes:g} min")
    return _Chosen(_concat(frames, state.spaces.crs), notes)


def _concat(frames: Sequence[gpd.GeoDataFrame], crs: Any) -> gpd.GeoDataFrame:
    frames = [f for f in frames if len(f)]
    return (gpd.GeoDataFrame(pd.concat(frames, ignore_index=True), crs=crs) if frames
            else _empty_sites(crs))


def _coverage_sites(state: StudyResult, target: PlanTarget, plan: PlanConfig) -> _Chosen:
    """Maximal covering until the share of residents within the minutes reaches the target."""
    cat = str(target.category)
    max_sites = plan.max_sites
    pop = _origin_population(state)
    need = target.value * float(pop.sum())
    rows = _suggest(state, cat, max_sites, plan, minutes=target.minutes)
    rows = rows[rows["gain_population"] > 0]
    reached = np.flatnonzero(rows["covered_population_after"].to_numpy() >= need - 1e-6)
    notes = []
    if len(reached):
        rows = rows.iloc[: reached[0] + 1]
    else:
        notes.append(_unreached(len(rows), max_sites))
    return _Chosen(_sites_frame(rows, cat, capacity=_site_capacity(state, target),
                                gain_minutes=target.minutes,
                                gain_population=rows["gain_population"].tolist()), notes)


def _unreached(n: int, max_sites: int) -> str:
    if n >= max_sites:
        return f"not reached with [plan] max_sites = {max_sites} sites"
    return f"not reached: after {n} sites no candidate site adds a resident"


@dataclass
class _Queue:
    """One category's sites in suggest's order, with the block origins each reaches."""

    category: str
    sites: gpd.GeoDataFrame
    reach: list[npt.NDArray[np.int64]]
    next: int = 0


def _all_queues(state: StudyResult, target: PlanTarget, cats: Sequence[str],
                within: dict[str, npt.NDArray[np.bool_]], plan: PlanConfig) -> list[_Queue]:
    queues = []
    for cat in cats:
        if within[cat].all():
            continue
        rows = _suggest(state, cat, plan.max_sites, plan, minutes=target.minutes)
        rows = rows[rows["gain_population"] > 0].reset_index(drop=True)
        if not len(rows):
            continue
        cover = origin_cover_matrix(state, rows, minutes=target.minutes)
        queues.append(_Queue(cat, rows, [cover[i].indices for i in range(len(rows))]))
    return queues


def _all_coverage_sites(state: StudyResult, target: PlanTarget, plan: PlanConfig) -> _Chosen:
    """Sites of every category, taking turns, until the share covered for all is reached."""
    cats = state.config.categories
    max_sites = plan.max_sites
    pop = _origin_population(state)
    need = target.value * float(pop.sum())
    within = _within(state, cats, target.minutes)
    queues = _all_queues(state, target, cats, within, plan)
    picks: list[tuple[_Queue, int, float]] = []
    while len(picks) < max_sites:
        missing = np.sum([~within[c] for c in cats], axis=0)
        if float(pop[missing == 0].sum()) >= need - 1e-6:
            break
        best: tuple[tuple[float, float, float], _Queue] | None = None
        for q in queues:
            if q.next >= len(q.reach):
                continue
            idx = q.reach[q.next]
            new = idx[~within[q.category][idx]]
            score = (float(pop[new[missing[new] == 1]].sum()),
                     float(pop[new[missing[new] == 2]].sum()), float(pop[new].sum()))
            if score[2] > 0 and (best is None or score > best[0]):
                best = (score, q)
        if best is None:
            break
        q = best[1]
        within[q.category][q.reach[q.next]] = True
        picks.append((q, q.next, best[0][2]))
        q.next += 1
    notes = [] if float(pop[np.logical_and.reduce([within[c] for c in cats])].sum()) \
        >= need - 1e-6 else [_unreached(len(picks), max_sites)]
    frames = [_sites_frame(q.sites.iloc[[i]], q.category, capacity=_site_capacity(
        state, PlanTarget(metric="capacity", value=0, category=q.category)),
        gain_minutes=target.minutes, gain_population=[gain]) for q, i, gain in picks]
    sites = (gpd.GeoDataFrame(pd.concat(frames, ignore_index=True), crs=state.spaces.crs)
             if frames else _empty_sites(state.spaces.crs))
    return _Chosen(sites, notes)


def _touch_graph(blocks: gpd.GeoDataFrame) -> sparse.csr_matrix:
    """Which blocks touch (within :data:`~sharemap.villages.TOUCH_TOLERANCE_M`), as villages."""
    geoms = blocks.geometry.to_numpy()
    left, right = shapely.STRtree(geoms).query(geoms, predicate="dwithin",
                                               distance=TOUCH_TOLERANCE_M)
    n = len(geoms)
    return sparse.csr_matrix((np.ones(len(left), dtype=np.int8), (left, right)), shape=(n, n))


def _groups(graph: sparse.csr_matrix, flags: npt.NDArray[np.bool_]) -> int:
    """Count the groups of touching flagged blocks (villages, as the study counts them)."""
    idx = np.flatnonzero(flags)
    if not len(idx):
        return 0
    return int(connected_components(graph[idx][:, idx], directed=False)[0])


@dataclass
class _Candidacy:
    """Each block's count towards candidacy, as ``[villages]`` counts it, and one site's step."""

    level: npt.NDArray[np.float64]
    need: float
    step: float
    counts: npt.NDArray[np.bool_]  # False where a site of the category adds nothing
    once: bool = False  # a category counts once per block: a second site adds nothing


def _candidacy(state: StudyResult, category: str, capacity: float) -> _Candidacy:
    vcfg, blocks = state.config.villages, state.blocks
    if vcfg.count == "capacity" and vcfg.min_capacity is not None:
        return _Candidacy(blocks["adjacent_capacity"].to_numpy(np.float64),
                          float(vcfg.min_capacity), capacity, np.ones(len(blocks), bool))
    if vcfg.distinct_categories:  # a block that has the category gains nothing from it
        adj = state.adjacency
        has = blocks["block_id"].isin(adj.loc[adj["category"] == category, "block_id"])
        return _Candidacy(blocks["adjacent_categories"].to_numpy(np.float64),
                          float(vcfg.min_spaces), 1.0, ~has.to_numpy(), once=True)
    return _Candidacy(blocks["adjacent_spaces"].to_numpy(np.float64), float(vcfg.min_spaces),
                      1.0, np.ones(len(blocks), bool))


def _village_pick(reach: sparse.csr_matrix, graph: sparse.csr_matrix, cand: _Candidacy,
                  flags: npt.NDArray[np.bool_], free: npt.NDArray[np.bool_]
                  ) -> tuple[int, int, int] | None:
    """Find the site that adds the most villages, else readies the most blocks for new ones.

    Returns the site, the villages after it and the blocks it turns into candidates;
    None when no site adds a village or brings a block apart from the villages closer
    to candidacy (a site that only merges villages is never taken).
    """
    now = _groups(graph, flags)
    best: tuple[tuple[int, int, int], int, int, int] | None = None
    for s in np.flatnonzero(free):
        idx = reach.indices[reach.indptr[s]:reach.indptr[s + 1]]
        idx = idx[cand.counts[idx] & ~flags[idx]]
        if not len(idx):
            continue
        newly = idx[cand.level[idx] + cand.step >= cand.need - 1e-9]
        after = flags.copy()
        after[newly] = True
        count = _groups(graph, after) if len(newly) else now
        apart = idx[np.asarray(graph[idx] @ after.astype(np.int8)).ravel() == 0]
        key = (count - now, len(apart), len(newly))
        if (key[0] > 0 or (key[0] == 0 and key[1] > 0)) and (best is None or key > best[0]):
            best = (key, int(s), count, len(newly))
    return None if best is None else (best[1], best[2], best[3])


def _villages_sites(state: StudyResult, target: PlanTarget, plan: PlanConfig
                    ) -> tuple[_Chosen, StudyResult]:
    """Sites, one at a time, each adding the most villages (greedy on the count itself).

    A site turns the blocks within the villages' walk of it into candidates when they
    reach ``[villages] min_spaces`` (or ``min_capacity``); the site taken is the one
    after which the study has the most villages, and when no site adds one, the one
    bringing the most blocks that touch no village closer to candidacy (two sites
    may be needed to make one). A site that would merge villages is never chosen for
    it. The count is then measured as a run would, with every site added.
    """
    cat = target.category or state.config.categories[0]
    capacity = _site_capacity(state, PlanTarget(metric="capacity", value=0, category=cat))
    sites = _candidates(state, cat, plan.grid_m)
    if not len(sites) or len(state.villages) >= target.value:
        notes = [] if len(state.villages) >= target.value else ["no candidate site"]
        return _Chosen(_empty_sites(state.spaces.crs), notes), state
    reach = cover_matrix(state, sites, minutes=state.config.villages.adjacent_minutes).tocsr()
    graph = _touch_graph(state.blocks)
    cand = _candidacy(state, cat, capacity)
    flags = state.blocks["candidate"].to_numpy(bool).copy()
    free = np.ones(len(sites), dtype=bool)
    picks: list[tuple[int, int, int]] = []
    count = _groups(graph, flags)
    while count < target.value and len(picks) < plan.max_sites:
        pick = _village_pick(reach, graph, cand, flags, free)
        if pick is None:
            break
        s, count, _ = pick
        idx = reach.indices[reach.indptr[s]:reach.indptr[s + 1]]
        idx = idx[cand.counts[idx]]
        cand.level[idx] += cand.step
        flags[idx[cand.level[idx] >= cand.need - 1e-9]] = True
        if cand.once:
            cand.counts[idx] = False
        free[s] = False
        picks.append(pick)
    rows = sites.iloc[[p[0] for p in picks]]
    frame = _sites_frame(rows, cat, capacity=capacity, gain_blocks=[p[2] for p in picks],
                         villages_after=[p[1] for p in picks])
    after = _add_sites(state, frame)
    notes = []
    if len(after.villages) < target.value:
        notes.append(f"not reached with [plan] max_sites = {plan.max_sites} sites"
                     if len(picks) >= plan.max_sites else
                     f"not reached: after {len(picks)} sites no candidate site adds a village "
                     "or readies a block apart from the villages")
    return _Chosen(frame, notes), after


def _add_sites(state: StudyResult, sites: gpd.GeoDataFrame) -> StudyResult:
    """Return the study with `sites` added as spaces (network, blocks and origins reused)."""
    if not len(sites):
        return state
    add = gpd.GeoDataFrame({
        "space_id": sites["site_id"].to_numpy(), "category": sites["category"].to_numpy(),
        "name": sites["name"].to_numpy(), "source": "plan",
        "source_row": np.arange(1, len(sites) + 1), "capacity": sites["capacity"].to_numpy(),
        "capacity_note": "a planned site",
    }, geometry=sites.geometry.to_numpy(), crs=sites.crs)
    return whatif(state, add=add).after


def _close(state: StudyResult, target: PlanTarget, plan: PlanConfig
           ) -> tuple[_Chosen, StudyResult]:
    """Choose the sites that close `target` from `state`; return them and the study after."""
    now = measure_target(state, target)
    if target.metric == "villages":
        return _villages_sites(state, target, plan)
    if now >= target.value - 1e-9:
        return _Chosen(_empty_sites(state.spaces.crs)), state
    if target.metric == "spaces":
        chosen = _residents_sites(state, target, math.ceil(target.value - now - 1e-9),
                                  plan, _site_capacity(state, target))
    elif target.metric == "capacity":
        per = _site_capacity(state, target)
        chosen = _residents_sites(state, target, math.ceil((target.value - now) / per - 1e-9),
                                  plan, per)
    elif target.category == "all":
        chosen = _all_coverage_sites(state, target, plan)
    else:
        chosen = _coverage_sites(state, target, plan)
    return chosen, _add_sites(state, chosen.sites)


def check_plan(plan: PlanConfig, categories: Sequence[str]) -> None:
    """Refuse a plan without targets, or with a category the study lacks (one line).

    Raises
    ------
    ConfigError
        When there is no target, or a target names a category not in `categories`.
    """
    if not plan.targets:
        msg = ("the study has no plan targets: add a [plan] table with `targets`, e.g. "
               'targets = [{ metric = "spaces", category = "tools", value = 530 }]')
        raise ConfigError(msg)
    for i, t in enumerate(plan.targets, start=1):
        if t.category not in (None, "all", *categories):
            msg = (f"plan target {i} ({t.metric}): category {t.category!r} is not in the "
                   f"study ({', '.join(categories)})")
            raise ConfigError(msg)


def plan_targets(result: StudyResult, *, plan: PlanConfig | None = None,
                 progress: bool = False) -> PlanResult:
    """Measure a plan's targets on a study and choose the sites that close each.

    Parameters
    ----------
    result
        The study as it is (:func:`sharemap.run_study`).
    plan
        The targets; default: the study's ``[plan]``.
    progress
        Show a progress bar over the targets (on standard error).

    Returns
    -------
    plan
        ``table`` (``plan.csv``: current, shortfall, sites added and the value after the
        plan, per target), ``sites`` (``plan_sites.gpkg``) and the study after.

    Raises
    ------
    ConfigError
        When there is no target, or a target's category is not in the study.

    Notes
    -----
    See the module notes for what each metric's sites maximise.

    Examples
    --------
    >>> from sharemap import read_config, run_study
    >>> from sharemap.config import PlanConfig, PlanTarget
    >>> from sharemap.datasets import get_path
    >>> res = run_study(read_config(get_path("demo")))
    >>> p = plan_targets(res, plan=PlanConfig(targets=(
    ...     PlanTarget(metric="spaces", category="tools", value=5),)))
    >>> p.table[["current", "target", "shortfall", "sites_added", "after"]].values.tolist()
    [[3.0, 5.0, 2.0, 2.0, 5.0]]
    """
    plan = result.config.plan if plan is None else plan
    check_plan(plan, result.config.categories)
    state = result
    frames: dict[int, gpd.GeoDataFrame] = {}
    rows: dict[int, dict[str, Any]] = {}
    # villages last: a site added for another target may merge two villages
    order = sorted(range(len(plan.targets)), key=lambda j: plan.targets[j].metric == "villages")
    from tqdm import tqdm

    for j in tqdm(order, disable=not progress, desc="plan targets", unit="target"):
        target, i = plan.targets[j], j + 1
        now = measure_target(result, target)
        per = _site_capacity(state, target) if target.metric == "capacity" else math.nan
        chosen, state = _close(state, target, plan)
        sites = chosen.sites
        sites.insert(0, "order", np.arange(1, len(sites) + 1))
        sites.insert(0, "metric", target.metric)
        sites.insert(0, "target", i)
        frames[j] = sites
        closed = measure_target(state, target)
        if not len(sites) and now < target.value - 1e-9 <= closed:
            chosen.notes.append("reached with the sites of the targets closed before it"
                                + (" (villages targets come last)"
                                   if target.metric == "villages" else ""))
        rows[j] = {"now": now, "added": len(sites), "notes": chosen.notes, "closed": closed,
                   "site_capacity": per}  # as its sites were given, after earlier targets
        logger.info("Plan target %d (%s %s): %g now, %g aimed at, %d sites", i, target.metric,
                    target.category or "", now, target.value, len(sites))
    frames_list = [frames[j] for j in range(len(plan.targets))]
    rows_list = [rows[j] for j in range(len(plan.targets))]
    table = _table(state, plan, rows_list)
    sites = gpd.GeoDataFrame(pd.concat(frames_list, ignore_index=True), crs=result.spaces.crs)
    sites = sites[[*_SITE_COLUMNS, "geometry"]]
    info = _info(result, plan, table, sites)
    return PlanResult(table=table, sites=sites, before=result, after=state, info=info)


def _table(after: StudyResult, plan: PlanConfig,
           rows: list[dict[str, Any]]) -> pd.DataFrame:
    out = []
    for target, row in zip(plan.targets, rows, strict=True):
        value_after = measure_target(after, target)
        out.append({
            "metric": target.metric,
            "category": target.category or "",
            "minutes": math.nan if target.metric == "villages" else target.minutes,
            "target": target.value,
            "current": row["now"],
            "shortfall": max(0.0, target.value - row["now"]),
            "sites_added": row["added"],
            "after": value_after,
            "after_own": row["closed"],
            "label": target.label,
            "year": plan.year,
            "met": bool(value_after >= target.value - 1e-9),
            "site_capacity": row["site_capacity"],
            "note": "; ".join(row["notes"]),
        })
    return pd.DataFrame(out)


def _info(result: StudyResult, plan: PlanConfig, table: pd.DataFrame,
          sites: gpd.GeoDataFrame) -> dict[str, Any]:
    pop = _origin_population(result)
    return {"study": result.config.name, "year": plan.year, "max_sites": plan.max_sites,
            "population_total": float(pop.sum()), "sites": len(sites),
            "targets": [{k: (None if isinstance(v, float) and math.isnan(v) else v)
                         for k, v in row.items()} for row in table.to_dict("records")],
            "targets_met": int(table["met"].sum())}


# ----------------------------------------------------------------------------- outputs


def _plan_map(plan: PlanResult) -> Any:
    from .maps import add_change_layers, build_map, save_map

    after, sites = plan.after, plan.sites
    added = gpd.GeoDataFrame({
        "space_id": sites["site_id"].to_numpy(), "category": sites["category"].to_numpy(),
        "name": [f"plan target {t}, site {o}: {n}" for t, o, n in
                 zip(sites["target"], sites["order"], sites["name"], strict=True)],
    }, geometry=sites.geometry.to_numpy(), crs=sites.crs)
    year = f" {plan.info['year']}" if plan.info.get("year") else ""
    title = f"{after.config.name}: plan{year} ({len(sites)} sites)"

    def write(path: Path) -> Path:
        fmap = build_map(after.blocks, after.spaces, after.villages, title=title,
                         tiles=after.config.map.tiles, frame=plan.before.map_frame())
        add_change_layers(fmap, added=added)
        return save_map(fmap, path)

    return write


def _report(plan: PlanResult) -> str:
    return render_report(plan.before, plan=plan.table,
                         plan_sites=pd.DataFrame(plan.sites.drop(columns="geometry")))


_O = _outputs.Output
#: Every file ``sharemap plan`` writes (registry entries; see :mod:`sharemap.outputs`).
PLAN_OUTPUTS: tuple[_outputs.Output, ...] = (
    _O("plan.csv", "csv", make=lambda p: p.table, columns=PLAN_COLUMNS,
       holds="one row per target: `metric`, `category`, `minutes`, `target`, `current`, "
       "`shortfall`, `sites_added`, `after` (with every site of the plan), then `after_own` "
       "(right after the target's own sites), `label`, `year`, `met`, `site_capacity`, "
       "`note` (why a target is not reached; see [Plan targets](#plan-targets))"),
    _O("plan_sites.gpkg", "gpkg", layer="plan_sites",
       make=lambda p: to_web_crs(p.sites, "plan sites"), columns=_SITE_COLUMNS,
       holds="every site the plan adds, target by target in the order chosen: `target` (the "
       "row of plan.csv), `metric`, `category`, `order`, `site_id`, `name`, `capacity`, "
       "`gain_population` (residents newly within `gain_minutes` when chosen), or "
       "`gain_blocks` (new village-candidate blocks) and `villages_after`"),
    _O("map.html", "file", make=_plan_map, stage="map",
       holds="the study after the plan (blocks, villages and spaces with every site), the "
       "plan's sites drawn as added spaces (a diamond with a plus; popup: target, order)"),
    _O("report.html", "html", make=_report, stage="report",
       holds="the coverage audit of the study as it is, with the plan's targets and sites "
       "(section `#plan`)"),
    _O("plan.json", "json", make=lambda p: dict(p.info), index=True,
       holds="`study`, `year`, `max_sites`, `population_total`, `sites`, `targets` (the rows "
       "of plan.csv), `targets_met`, and `outputs`: every file in the folder"),
)


def write_plan(plan: PlanResult,
               out_dir: str | Path | _outputs.OutputFolder) -> dict[str, Path]:
    """Write ``plan.csv``, ``plan_sites.gpkg``, ``map.html``, ``report.html``, ``plan.json``.

    The folder then holds this plan's files only (see :func:`sharemap.write_outputs`);
    returns file name to path.
    """
    return _outputs.write(PLAN_OUTPUTS, plan, out_dir,
                          inputs=_outputs.input_paths(plan.before.config))
