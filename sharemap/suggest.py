"""Where to add the next facilities: coverage-maximising site suggestions.

The candidate sites and the walks from them come from the study level
(:func:`sharemap.study.site_candidates`, :func:`sharemap.study.site_walks`, on the
study's prepared block origins); this module chooses among them. To check a choice,
:func:`sharemap.study.whatif` recomputes the study with the sites added.

A candidate site never duplicates a space of the category that already exists (within
2 m, the layers' duplicate rule; a grid point within half the spacing): it would add
nothing, so it is left out and counted in ``suggest.json``.

Objectives
----------
``population`` (maximal covering): choose N candidate sites to maximise the residents
whose walk to the category is at most T minutes, counting the existing spaces. The
residents are counted where the study's walks start: at the block origins, each
holding its share of its block's residents (one origin per block except for large
blocks, see :mod:`sharemap.origins`). With group weights (``{"65+": 2}``), a resident
of a group counts that many times and is covered at the group's own walking speed;
the other residents count once at the study's speed.

Greedy with lazy evaluation: coverage is submodular, so the greedy choice is within
(1 - 1/e) of the optimum in the worst case and usually optimal in practice. Beside
it, an upper bound on the optimum is always given: the exact optimum (a
mixed-integer programme solved with scipy's HiGHS ``milp``) where it is found within
the time limit, else the solver's bound or, for instances too large for it (a
city's 15,000 grid sites), the LP relaxation's Lagrangian bound (subgradient steps,
:func:`lagrangian_bound`), and never worse than the greedy's own online bound (its
gain plus the N largest marginal gains left).

``villages``: choose N sites to turn the most blocks into sharing-village
candidates (a new site adds one adjacent space to a block when it is within
``adjacent_minutes`` of origins holding at least half of the block's residents). This
objective is not submodular (a block may need two new sites), so the greedy looks
one site ahead and ties are broken by residents; the exact optimum is solved as an
integer programme.

The pure choice on a coverage matrix, :func:`choose_sites`, serves any caller that
has its own items to cover (``sharemap plan`` chooses one category after another).
"""

from __future__ import annotations

import heapq
import logging
import time
from collections.abc import Mapping, Sequence
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
from .access import metres_per_minute, walk_col
from .pipeline import StudyResult
from .profiles import at_group_speed, get_profile
from .study import (
    CandidateSites,
    SiteWalks,
    block_cover,
    candidate_sites,
    cover_matrix,
    find_group,
    group_origin_minutes,
    site_candidates,
    site_walks,
)

__all__ = ["SUGGEST_OUTPUTS", "CoverChoice", "SuggestResult", "candidate_sites", "choose_sites",
           "cover_matrix", "lagrangian_bound", "parse_weights", "suggest_sites",
           "write_suggestions"]

logger = logging.getLogger(__name__)

OBJECTIVES = ("population", "villages")
#: The exact optimum is sought as a MILP up to this many non-zeros of the (reduced)
#: coverage matrix; above, the LP relaxation's Lagrangian bound is given (HiGHS does not
#: solve the LP of a city's 15,000 sites x 45,000 items within the time limit).
_MILP_MAX_NNZ = 2_000_000
#: Subgradient steps of the Lagrangian bound (each one sparse product) and their time limit.
_LAGRANGE_ITERS = 400
_LAGRANGE_MAX_S = 10.0
#: Seconds the exact solver may take (then its bound and best solution are reported).
DEFAULT_TIME_LIMIT_S = 30.0


@dataclass(frozen=True, eq=False)
class SuggestResult:
    """Chosen sites, every candidate considered, and the before/after numbers.

    Attributes
    ----------
    suggestions
        The greedy choice in the order chosen (``order``, ``site_id``, ``name``, the
        gains, point geometry).
    candidates
        Every candidate site with ``chosen`` and ``in_optimum`` (the exact optimum's
        sites, where it was solved; else all false).
    info
        The numbers for ``suggest.json``.
    optimum
        The exact optimum's sites, ordered as the greedy would add them (same columns
        as `suggestions`); None when the optimum was not solved.
    """

    suggestions: gpd.GeoDataFrame
    candidates: gpd.GeoDataFrame
    info: dict[str, Any] = field(default_factory=dict)
    optimum: gpd.GeoDataFrame | None = None


@dataclass(frozen=True, eq=False)
class CoverChoice:
    """The sites chosen to cover the most weight, and how far from the best they can be.

    Attributes
    ----------
    order
        ``[(site, gain), ...]``: the greedy choice in order, with each site's gain.
    optimum
        The sites of the exact optimum (positions), or None when it was not proven.
    optimum_gain
        Its gain (None when not proven).
    bound_gain
        An upper bound on the best gain any `k` sites reach (the optimum itself when
        proven).
    bound_method
        ``"optimum"``, ``"milp_bound"`` (the solver's bound at its time limit),
        ``"lagrangian"`` (the LP relaxation's Lagrangian bound, :func:`lagrangian_bound`)
        or ``"greedy_online"`` (the greedy's gain plus the k largest marginal gains
        left), whichever is lowest.
    seconds
        Seconds spent choosing (greedy, bound).
    """

    order: list[tuple[int, float]]
    optimum: npt.NDArray[np.int64] | None
    optimum_gain: float | None
    bound_gain: float
    bound_method: str
    seconds: dict[str, float] = field(default_factory=dict)

    @property
    def greedy_gain(self) -> float:
        """The greedy choice's total gain."""
        return float(sum(g for _, g in self.order))


# --------------------------------------------------------------------- the choice


def _greedy_cover(cover: sparse.csr_matrix, weight: npt.NDArray[np.float64],
                  covered: npt.NDArray[np.bool_], k: int, *,
                  progress: bool = False) -> list[tuple[int, float]]:
    """Lazy greedy maximal covering: [(site, gain), ...] in the order chosen."""
    from tqdm import tqdm

    covered = covered.copy()
    open_w = np.where(covered, 0.0, weight)
    first = np.asarray(cover @ open_w).ravel()
    heap = [(-float(g), s) for s, g in enumerate(first)]
    heapq.heapify(heap)
    chosen: list[tuple[int, float]] = []
    indptr, indices = cover.indptr, cover.indices
    with tqdm(total=k, disable=not progress, desc="choosing sites", unit="site") as bar:
        while heap and len(chosen) < k:
            _, s = heapq.heappop(heap)
            idx = indices[indptr[s]:indptr[s + 1]]
            gain = float(weight[idx][~covered[idx]].sum())
            if heap and gain < -heap[0][0] - 1e-9 * max(1.0, gain):
                heapq.heappush(heap, (-gain, s))  # stale bound: re-insert with the true gain
                continue
            if gain <= 0:  # no site adds anything any more: suggest no site that adds nothing
                break
            chosen.append((s, gain))
            covered[idx] = True
            bar.update(1)
    return chosen


def _reduce(cover: sparse.csr_matrix, weight: npt.NDArray[np.float64],
            covered: npt.NDArray[np.bool_]) -> tuple[sparse.csr_matrix, npt.NDArray[np.float64]]:
    """Keep the items still open, with weight and reached by a site; merge identical columns.

    Items reached by the same set of sites behave as one (their weights added): the
    programme shrinks without changing its optimum.
    """
    keep = np.flatnonzero(~covered & (weight > 0))
    sub = cover.tocsc()[:, keep]
    nnz = np.diff(sub.indptr)
    reached = nnz > 0
    sub, keep, nnz = sub[:, reached], keep[reached], nnz[reached]
    if not sub.shape[1]:
        return sparse.csr_matrix((cover.shape[0], 0), dtype=bool), np.zeros(0)
    rng = np.random.default_rng(0)
    keys = []
    for _ in range(2):  # two 64-bit sums of random keys: equal sets, equal sums
        r = rng.integers(0, 2**63, size=cover.shape[0], dtype=np.uint64)
        vals = r[sub.indices]
        starts = sub.indptr[:-1]
        with np.errstate(over="ignore"):
            keys.append(np.add.reduceat(vals, starts))
    table = pd.DataFrame({"a": keys[0], "b": keys[1], "n": nnz})
    group = table.groupby(["a", "b", "n"], sort=False).ngroup().to_numpy()
    first = np.unique(group, return_index=True)[1]
    return sub[:, first].tocsr().astype(bool), np.bincount(group, weights=weight[keep]).astype(
        np.float64)


def _solve(cover: sparse.csr_matrix, weight: npt.NDArray[np.float64], k: int, *,
           integral: bool, time_limit_s: float) -> tuple[str, float | None, float | None,
                                                          npt.NDArray[np.float64] | None]:
    """Solve max w.y, y_j <= sum_i C_ij x_i, sum x <= k (x binary if `integral`).

    Returns (status, value of the solution found, upper bound, x): status
    ``"optimal"``, ``"time_limit"`` or ``"failed"``.
    """
    from scipy.optimize import Bounds, LinearConstraint, milp

    n_sites, n_items = cover.shape
    c = np.concatenate([np.zeros(n_sites), -weight])
    link = sparse.hstack([-cover.T.astype(np.float64).tocsr(),
                          sparse.identity(n_items, format="csr")]).tocsr()
    budget = sparse.csr_matrix(np.concatenate([np.ones(n_sites), np.zeros(n_items)])[None, :])
    cons = [LinearConstraint(link, -np.inf, 0.0), LinearConstraint(budget, 0.0, float(k))]
    integrality = np.concatenate([np.ones(n_sites) if integral else np.zeros(n_sites),
                                  np.zeros(n_items)])
    res = milp(c, constraints=cons, integrality=integrality, bounds=Bounds(0.0, 1.0),
               options={"time_limit": time_limit_s, "disp": False, "mip_rel_gap": 1e-9})
    x = None if res.x is None else np.round(res.x[:n_sites]) if integral else res.x[:n_sites]
    value = None if x is None or not integral else float(
        weight @ np.minimum(1.0, cover.T.astype(np.float64) @ x))
    if res.status == 0:
        return "optimal", value, float(-res.fun), x
    dual = getattr(res, "mip_dual_bound", None)
    if res.status == 1 and dual is not None and np.isfinite(dual):
        return "time_limit", value, float(-dual), x
    logger.warning("exact optimum not found: %s", res.message)
    return "failed", None, None, None


def lagrangian_bound(cover: sparse.csr_matrix, weight: npt.ArrayLike, k: int, *,
                     lower: float = 0.0, iters: int = _LAGRANGE_ITERS,
                     max_s: float = _LAGRANGE_MAX_S) -> float:
    """Return an upper bound on the weight `k` sites (rows of `cover`) can cover.

    The Lagrangian relaxation of the linking constraints of maximal covering
    (``y_j <= sum_i a_ij x_i``, multipliers ``u_j >= 0``): for every `u`,
    ``L(u) = sum_j max(0, w_j - u_j) + (sum of the k largest (A u)_i)`` bounds every
    choice of `k` sites from above, and its minimum equals the LP relaxation's optimum.
    `u` starts at `weight` (``L`` is then the sum of the k largest single-site gains)
    and follows subgradient steps (Polyak's step towards `lower`, a known choice's
    value, halved after 20 steps without progress). Each step is one sparse product.

    Examples
    --------
    >>> from scipy import sparse
    >>> cover = sparse.csr_matrix([[1, 1, 0], [0, 1, 1], [1, 0, 1]], dtype=bool)
    >>> round(lagrangian_bound(cover, [1.0, 1.0, 1.0], 1, lower=2.0), 3)  # any 1 site: 2
    2.0
    """
    a = sparse.csr_matrix(cover, dtype=np.float64)
    at = a.T.tocsr()
    w = np.asarray(weight, dtype=np.float64)
    n = a.shape[0]
    if k >= n:
        return float(w[np.asarray(at.sum(axis=1)).ravel() > 0].sum())
    u = w.copy()
    best, theta, stale = np.inf, 1.0, 0
    t0 = time.perf_counter()
    for _ in range(iters):
        s = a @ u
        top = np.argpartition(-s, k - 1)[:k]
        value = float(np.maximum(w - u, 0.0).sum() + s[top].sum())
        if value < best - 1e-9 * max(1.0, value):
            best, stale = value, 0
        else:
            stale += 1
            if stale >= 20:
                theta, stale = theta / 2, 0
        if best - lower <= 1e-7 * max(1.0, best) or time.perf_counter() - t0 > max_s:
            break
        pick = np.zeros(n)
        pick[top] = 1.0
        g = (at @ pick) - (u < w)  # d L / d u
        norm = float(g @ g)
        if norm == 0.0:
            break
        u = np.clip(u - theta * max(value - lower, 1e-9 * value) / norm * g, 0.0, w)
    return float(best)


def choose_sites(cover: sparse.csr_matrix, weight: npt.ArrayLike, covered: npt.ArrayLike,
                 k: int, *, exact: bool = True, time_limit_s: float = DEFAULT_TIME_LIMIT_S,
                 progress: bool = False) -> CoverChoice:
    """Choose `k` sites (rows of `cover`) covering the most weight not yet covered.

    Parameters
    ----------
    cover
        Sites x items, boolean CSR: which items (block origins, or origins of each
        group) a site would cover.
    weight
        Per item, what covering it is worth (residents, weighted residents).
    covered
        Per item, whether it is covered already (by the existing spaces).
    k
        How many sites to choose.
    exact
        Also seek the exact optimum (a MILP; for very large instances the LP
        relaxation's bound only) within `time_limit_s`.
    time_limit_s
        Seconds the solver may take.
    progress
        Show progress bars (on standard error).

    Returns
    -------
    choice
        The greedy order with gains, the optimum where proven, and an upper bound.

    Examples
    --------
    >>> from scipy import sparse
    >>> cover = sparse.csr_matrix([[1, 1, 0, 0], [0, 1, 1, 0], [0, 0, 1, 1]], dtype=bool)
    >>> c = choose_sites(cover, [1.0, 1.0, 1.0, 1.0], [False] * 4, 2)
    >>> c.greedy_gain, c.optimum_gain, sorted(c.optimum.tolist())
    (4.0, 4.0, [0, 2])
    """
    w = np.asarray(weight, dtype=np.float64)
    done = np.asarray(covered, dtype=bool)
    cover = sparse.csr_matrix(cover, dtype=bool)
    t0 = time.perf_counter()
    red, red_w = _reduce(cover, w, done)
    order = _greedy_cover(red, red_w, np.zeros(len(red_w), dtype=bool), k, progress=progress)
    seconds = {"greedy": time.perf_counter() - t0}
    gain = float(sum(g for _, g in order))
    # the greedy's online bound: no k sites add more than the k largest gains left
    hit = np.zeros(len(red_w), dtype=bool)
    for s, _ in order:
        hit[red.indices[red.indptr[s]:red.indptr[s + 1]]] = True
    left = np.asarray(red @ np.where(hit, 0.0, red_w)).ravel()
    online = gain + float(np.sort(left)[::-1][:k].sum())
    bound, method = online, "greedy_online"
    optimum: npt.NDArray[np.int64] | None = None
    optimum_gain: float | None = None
    useful = np.flatnonzero(np.diff(red.indptr) > 0)
    if len(useful) <= k:  # every useful site fits: that is the optimum
        optimum, optimum_gain = useful.astype(np.int64), float(red_w.sum())
        bound, method = optimum_gain, "optimum"
    elif exact and red.nnz and gain < online - 1e-9 * max(1.0, online):
        t1 = time.perf_counter()
        sub = red[useful]
        lag = lagrangian_bound(sub, red_w, k, lower=gain)
        seconds["lagrangian"] = time.perf_counter() - t1
        if lag < bound:
            bound, method = lag, "lagrangian"
        if lag <= gain * (1 + 1e-9):  # nothing adds more than the greedy: it is optimal
            optimum = np.array([s for s, _ in order], dtype=np.int64)
            optimum_gain, bound, method = gain, gain, "optimum"
        elif red.nnz <= _MILP_MAX_NNZ:
            if progress or red.nnz > 200_000:
                logger.warning("seeking the exact optimum (%d sites, %d items; at most %.0f s)",
                               len(useful), sub.shape[1], time_limit_s)
            status, value, ub, x = _solve(sub, red_w, k, integral=True,
                                          time_limit_s=time_limit_s)
            if status == "optimal" and x is not None and value is not None:
                optimum = useful[np.flatnonzero(x > 0.5)].astype(np.int64)
                optimum_gain = bound = value
                method = "optimum"
                if value < gain:  # within the solver's tolerance: the greedy is optimal
                    optimum = np.array([s for s, _ in order], dtype=np.int64)
                    optimum_gain = bound = gain
            elif ub is not None and ub < bound:
                bound, method = ub, "milp_bound"
        seconds["bound"] = time.perf_counter() - t1
    elif exact:  # the greedy meets its own bound: it is optimal
        optimum = np.array([s for s, _ in order], dtype=np.int64)
        optimum_gain, bound, method = gain, gain, "optimum"
    return CoverChoice(order=order, optimum=optimum, optimum_gain=optimum_gain,
                       bound_gain=max(bound, gain), bound_method=method, seconds=seconds)


# ------------------------------------------------------------------ the suggestion


def parse_weights(text: str | Mapping[str, float] | None, groups: Sequence[Any]
                  ) -> dict[str, float]:
    """Read group weights (``"65+=2"``, ``"65+=2,children=1.5"`` or a mapping) by group label.

    Raises
    ------
    ConfigError
        For a label that is not one of the study's ``[coverage] groups``, or a weight
        that is not a number in 0-1000.
    """
    if text is None:
        return {}
    labels = {g.label: g for g in groups}
    known = ", ".join(repr(x) for x in labels) or "none ([coverage] groups is empty)"
    if isinstance(text, str):
        items: list[tuple[str, Any]] = []
        for part in (p.strip() for p in text.split(",")):
            if not part:
                continue
            label, eq, value = part.rpartition("=")
            if not eq or not label.strip():
                msg = (f"--weights: {part!r} is not GROUP=WEIGHT (e.g. \"65+=2\"); the "
                       f"study's groups are {known}")
                raise ConfigError(msg)
            try:
                number: Any = float(value)
            except ValueError:
                number = value
            items.append((label.strip(), number))
    else:
        items = list(text.items())
    out: dict[str, float] = {}
    for label, value in items:
        if label not in labels:
            msg = (f"--weights: {label!r} is not a population group of the study; its groups "
                   f"are {known} (the `label` of [coverage] groups)")
            raise ConfigError(msg)
        out[label] = check_number(value, f"--weights: the weight of {label!r}",
                                  LIMITS["group_weight"])
    return out


@dataclass(frozen=True, eq=False)
class _Items:
    """What the population objective covers: each block origin once per class of residents.

    Class 0 is the residents not in a weighted group, at the study's speed, counted
    once; class g the residents of weighted group g, at its own speed, counted
    weight_g times. Items are origin-major within a class: item = class * n + origin.
    """

    cover: sparse.csr_matrix          # sites x items
    weight: npt.NDArray[np.float64]   # per item
    covered: npt.NDArray[np.bool_]    # per item, by the existing spaces
    labels: list[str]                 # class 0 "", then the weighted groups' labels


def _residents(result: StudyResult) -> npt.NDArray[np.float64]:
    """Residents per block origin (the block's residents times the origin's share)."""
    blocks = result.blocks
    if "population" not in blocks or blocks["population"].isna().all():
        msg = ("the population objective needs residents: give a boundary level with "
               "`population` in [coverage] boundaries")
        raise ConfigError(msg)
    origins = result.study_origins()
    pop = blocks["population"].fillna(0.0).to_numpy(np.float64)
    return pop[origins["block"].to_numpy(np.int64)] * origins["share"].to_numpy(np.float64)


def _group_residents(result: StudyResult, group: Any) -> npt.NDArray[np.float64]:
    col = group.population_column
    if col not in result.blocks:
        msg = (f"--weights: group {group.label!r} has no residents in the blocks (its column "
               f"{group.column!r} was not found at the population level)")
        raise ConfigError(msg)
    origins = result.study_origins()
    pop = result.blocks[col].fillna(0.0).to_numpy(np.float64)
    return pop[origins["block"].to_numpy(np.int64)] * origins["share"].to_numpy(np.float64)


def _class_cover(result: StudyResult, walks: SiteWalks, label: str, ask: _Ask
                 ) -> tuple[sparse.csr_matrix, npt.NDArray[np.bool_]]:
    """Sites x origins the class `label` would reach, and the origins it reaches already.

    Residents not in a weighted group ("") walk at the study's speed; a group on the
    ``walk`` profile walks the same streets at its own pace (everyone's minutes at its
    speed, :func:`sharemap.profiles.at_group_speed`, as coverage_groups.csv counts
    them); a group on a profile that leaves streets out walks that profile's streets
    (walks of their own from the sites). The existing spaces' walks are
    :func:`sharemap.study.group_origin_minutes`.
    """
    minutes = ask.minutes
    group = find_group(result, label) if label else None
    have = group_origin_minutes(result, group, ask.category, spaces=ask.existing)
    if group is not None and get_profile(group.profile).filters:  # streets of its own
        speed = metres_per_minute(group.walk_speed_kmh)
        own = site_walks(result, walks.sites, max_m=minutes * speed * (1 + 1e-9) + 1e-6,
                         progress=ask.progress, profile=group.profile)
        with np.errstate(invalid="ignore"):
            return own.within(own.distance_m / speed <= minutes), have <= minutes
    mins = walks.distance_m / result.config.walk_speed_m_per_min
    if group is not None:
        mins = at_group_speed(mins, group, walk_speed_kmh=result.config.walk_speed_kmh)
    with np.errstate(invalid="ignore"):
        return walks.within(mins <= minutes), have <= minutes


def _items(result: StudyResult, walks: SiteWalks, ask: _Ask,
           weights: Mapping[str, float]) -> _Items:
    total = _residents(result)
    groups = {g.label: g for g in result.config.coverage.groups}
    rest = total.copy()
    per_class: list[tuple[str, npt.NDArray[np.float64], float]] = []
    for label, w in weights.items():
        pop = _group_residents(result, groups[label])
        rest -= pop
        per_class.append((label, pop, w))
    if (rest < -1e-6 * max(1.0, float(total.max(initial=0)))).any():
        logger.warning("the weighted groups together outnumber the residents of some blocks "
                       "(do they overlap?); the rest is counted as 0 there")
    classes = [("", np.maximum(rest, 0.0), 1.0), *per_class]
    covers, weight, covered = [], [], []
    for label, pop, w in classes:
        cover, done = _class_cover(result, walks, label, ask)
        covers.append(cover)
        weight.append(pop * w)
        covered.append(done)
    return _Items(cover=sparse.hstack(covers, format="csr").astype(bool),
                  weight=np.concatenate(weight), covered=np.concatenate(covered),
                  labels=[c[0] for c in classes])


def _replay(cover: sparse.csr_matrix, weight: npt.NDArray[np.float64],
            covered: npt.NDArray[np.bool_], sites: Sequence[int]) -> npt.NDArray[np.float64]:
    """Return the gain of each site in turn, adding `sites` in this order."""
    covered = covered.copy()
    gains = []
    for s in sites:
        idx = cover.indices[cover.indptr[s]:cover.indptr[s + 1]]
        gains.append(float(weight[idx][~covered[idx]].sum()))
        covered[idx] = True
    return np.asarray(gains, dtype=np.float64)


def suggest_sites(  # noqa: PLR0913 - keyword-only options
        result: StudyResult, *, category: str, add: int, minutes: float = 15.0,
                  candidates: gpd.GeoDataFrame | CandidateSites | None = None,
                  grid_m: float | None = None,
                  exclude: gpd.GeoSeries | gpd.GeoDataFrame | None = None,
                  weights: str | Mapping[str, float] | None = None,
                  objective: str = "population", exact: bool = True,
                  existing: gpd.GeoDataFrame | None = None,
                  time_limit_s: float = DEFAULT_TIME_LIMIT_S,
                  progress: bool = False) -> SuggestResult:
    """Choose `add` new sites for `category` among candidate locations.

    Parameters
    ----------
    result
        A :class:`~sharemap.pipeline.StudyResult` (its network, blocks and spaces are reused).
    category
        The category to add sites for; its existing spaces count as coverage, and no
        candidate site duplicates one (see :func:`sharemap.study.site_candidates`).
    add
        Number of sites to choose.
    minutes
        Coverage threshold (``population`` objective).
    candidates
        Candidate points (``site_id``, ``name``), or sites already found with
        :func:`sharemap.study.site_candidates`; default: the study's facilities,
        else a grid (see there).
    grid_m
        Use a grid of this spacing on the walking network as the candidates.
    exclude
        Areas (polygons) where no site may be (parks, water; see
        :func:`sharemap.study.read_areas`).
    weights
        Group weights, ``{"65+": 2}`` or ``"65+=2"``: a resident of the group counts
        that many times and is covered at the group's own walking speed
        (``[coverage] groups``); the other residents count once at the study's.
    objective
        ``"population"`` or ``"villages"`` (see the module notes).
    exact
        Also seek the exact optimum (or, for very large instances, a bound).
    existing
        The category's spaces to count as existing (default: the study's); e.g. the
        spaces after an earlier round of additions.
    time_limit_s
        Seconds the exact solver may take.
    progress
        Show progress bars on standard error (the walks from the sites, the choice).

    Returns
    -------
    suggestion
        The chosen sites in order with their gains, every candidate with ``chosen``
        and ``in_optimum``, the optimum's sites in order, and the numbers for
        ``suggest.json``.

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
    wts = parse_weights(weights, result.config.coverage.groups)
    if wts and objective != "population":
        msg = "--weights applies to the population objective (residents newly within reach)"
        raise ConfigError(msg)
    found = candidates if isinstance(candidates, CandidateSites) else site_candidates(
        result, category=category, candidates=candidates, grid_m=grid_m, exclude=exclude)
    sites = found.sites
    if sites.empty:
        msg = ("no candidate sites: give --candidates, or a study area for the grid"
               if not len(found.existing) and not found.excluded else
               f"no candidate sites left: {len(found.existing)} already hold a {category} "
               f"space and {found.excluded} lie in the excluded areas; give --candidates or "
               "--grid")
        raise InputDataError(msg)
    t0 = time.perf_counter()
    ask = _Ask(category=category, add=add, minutes=minutes, weights=wts, exact=exact,
               existing=existing, time_limit_s=time_limit_s, progress=progress)
    if objective == "population":
        info, choice, gains = _suggest_population(result, found, ask)
    else:
        info, choice, gains = _suggest_villages(result, sites, ask)
    info = {"category": category, "minutes": minutes, "objective": objective,
            "weights": wts, "candidates": len(sites), **found.info(), "asked": add,
            "chosen": len(choice.order), **info, "seconds": round(time.perf_counter() - t0, 3),
            "seconds_choice": {k: round(v, 3) for k, v in choice.seconds.items()}}
    if len(choice.order) < add:
        logger.info("Only %d of %d sites add anything", len(choice.order), add)
    chosen = _ordered(sites, [s for s, _ in choice.order], gains(
        [s for s, _ in choice.order]), info)
    optimum = None
    if choice.optimum is not None:
        opt_order = _greedy_order(choice, gains)
        optimum = _ordered(sites, opt_order, gains(opt_order), info)
        info["optimum_sites"] = optimum["site_id"].tolist()
    cand = sites.copy()
    cand["chosen"] = False
    cand.iloc[[s for s, _ in choice.order], cand.columns.get_loc("chosen")] = True
    cand["in_optimum"] = False
    if choice.optimum is not None:
        cand.iloc[choice.optimum, cand.columns.get_loc("in_optimum")] = True
    return SuggestResult(suggestions=chosen, candidates=cand, info=info, optimum=optimum)


def _greedy_order(choice: CoverChoice, gains: Any) -> list[int]:
    """Order the optimum's sites so that each adds the most (its own greedy order)."""
    left = [int(s) for s in (choice.optimum if choice.optimum is not None else [])]
    order: list[int] = []

    def last(chosen: list[int]) -> float:
        table = gains(chosen)
        col = "gain_weighted" if "gain_weighted" in table else table.columns[0]
        return float(table[col].iloc[-1])

    while left:
        best = max(left, key=lambda s: (last([*order, s]), -s))
        order.append(best)
        left.remove(best)
    return order


def _ordered(sites: gpd.GeoDataFrame, order: Sequence[int], table: pd.DataFrame,
             info: Mapping[str, Any]) -> gpd.GeoDataFrame:
    out = sites.iloc[list(order)].reset_index(drop=True)
    out.insert(0, "order", np.arange(1, len(order) + 1))
    for col in table.columns:
        out[col] = table[col].to_numpy()
    if "gain_population" in table and "covered_population_before" in info:
        out["covered_population_after"] = (info["covered_population_before"]
                                           + np.cumsum(table["gain_population"].to_numpy()))
    cols = [c for c in out.columns if c != "geometry"]
    return gpd.GeoDataFrame(out[cols], geometry=out.geometry.to_numpy(), crs=sites.crs)


@dataclass(frozen=True)
class _Ask:
    """What a suggestion was asked (suggest_sites' options, checked)."""

    category: str
    add: int
    minutes: float
    weights: Mapping[str, float]
    exact: bool
    existing: gpd.GeoDataFrame | None
    time_limit_s: float
    progress: bool


def _suggest_population(result: StudyResult, found: CandidateSites, ask: _Ask
                        ) -> tuple[dict[str, Any], CoverChoice, Any]:
    add, minutes, weights = ask.add, ask.minutes, ask.weights
    progress = ask.progress
    groups = {g.label: g for g in result.config.coverage.groups}
    slowest = max([1.0, *(result.config.walk_speed_kmh / groups[label].walk_speed_kmh
                          for label in weights if not get_profile(groups[label].profile).filters)])
    speed = result.config.walk_speed_m_per_min
    walks = site_walks(result, found.sites, max_m=minutes * speed * slowest * (1 + 1e-9) + 1e-6,
                       progress=progress)
    items = _items(result, walks, ask, weights)
    choice = choose_sites(items.cover, items.weight, items.covered, add, exact=ask.exact,
                          time_limit_s=ask.time_limit_s, progress=progress)
    # plain residents at the study's speed (as coverage.csv counts them), and each
    # weighted group's residents at its own speed (as coverage_groups.csv)
    plain = _items(result, walks, ask, {}) if weights else items
    pop = plain.weight
    before = float(pop[plain.covered].sum())
    per_group = {label: items.cover[:, i * walks.n_origins:(i + 1) * walks.n_origins]
                 for i, label in enumerate(items.labels) if label}

    def gains(order: Sequence[int]) -> pd.DataFrame:
        table = {"gain_population": _replay(plain.cover, pop, plain.covered, order)}
        if weights:
            table["gain_weighted"] = _replay(items.cover, items.weight, items.covered, order)
            n = walks.n_origins
            for i, label in enumerate(items.labels):
                if label:
                    table[f"gain_{groups[label].slug}"] = _replay(
                        per_group[label], _group_residents(result, groups[label]),
                        items.covered[i * n:(i + 1) * n], order)
        return pd.DataFrame(table)

    greedy = gains([s for s, _ in choice.order])
    info: dict[str, Any] = {
        "covered_population_before": before,
        "covered_population_after": before + float(greedy["gain_population"].sum()),
        "population_total": float(pop.sum()),
        "objective_before": float(items.weight[items.covered].sum()),
        "greedy_gain": choice.greedy_gain,
        "bound_gain": choice.bound_gain,
        "bound_method": choice.bound_method,
        "greedy_share_of_bound": 1.0 if choice.bound_gain <= 0
        else choice.greedy_gain / choice.bound_gain,
    }
    info["objective_after"] = info["objective_before"] + choice.greedy_gain
    if choice.optimum is not None and choice.optimum_gain is not None:
        info["optimum_gain"] = choice.optimum_gain
        info["optimum_population"] = before + float(
            gains(list(choice.optimum))["gain_population"].sum())
        info["greedy_share_of_optimal_gain"] = (1.0 if choice.optimum_gain <= 0
                                                else choice.greedy_gain / choice.optimum_gain)
    if weights:
        for label in weights:
            slug = groups[label].slug
            info[f"gain_{slug}"] = float(greedy[f"gain_{slug}"].sum())
    return info, choice, gains


def _villages_greedy(adj: sparse.csr_matrix, counts: npt.NDArray[np.int64], need: int,
                     weight: npt.NDArray[np.float64], k: int, *,
                     progress: bool = False) -> list[tuple[int, float]]:
    """Greedy with one-site look-ahead: blocks turned, then residents, then blocks one short.

    Every site's gains are one sparse product per step (the blocks a site would turn
    are those it reaches that are one space short), so a step costs the matrix's size.
    """
    from tqdm import tqdm

    n = adj.shape[0]
    extra = np.zeros(len(counts), dtype=np.int64)
    taken = np.zeros(n, dtype=bool)
    index = np.arange(n)
    out: list[tuple[int, float]] = []
    adj_f = adj.astype(np.float64)
    with tqdm(total=min(k, n), disable=not progress, desc="choosing sites", unit="site") as bar:
        for _ in range(min(k, n)):
            have = counts + extra
            short1 = (have == need - 1).astype(np.float64)
            turned = np.asarray(adj_f @ short1).ravel()
            people = np.asarray(adj_f @ (short1 * weight)).ravel()
            near = np.asarray(adj_f @ (have == need - 2).astype(np.float64)).ravel()
            turned[taken] = people[taken] = near[taken] = -1.0
            best = int(np.lexsort((-index, near, people, turned))[-1])
            if turned[best] <= 0 and near[best] <= 0:  # no site brings any block closer
                break
            out.append((best, float(turned[best])))
            taken[best] = True
            extra[adj.indices[adj.indptr[best]:adj.indptr[best + 1]]] += 1
            bar.update(1)
    return out


def _villages_exact(adj: sparse.csr_matrix, counts: npt.NDArray[np.int64], need: int, k: int,
                    *, time_limit_s: float) -> tuple[npt.NDArray[np.int64] | None, float | None]:
    """Most blocks turned into candidates by `k` sites: an integer programme (HiGHS).

    Variables: x_s (site chosen), z_b (block turned); (need - counts_b) z_b <= sum_s
    a_sb x_s for every block still short; sum x <= k; maximise sum z. Returns the sites
    and the count, or (None, bound) when the time limit stopped the solver.
    """
    from scipy.optimize import Bounds, LinearConstraint, milp

    # a block can only turn when its gap fits the budget and enough sites reach it
    csc = adj.tocsc()
    n_reach = np.diff(csc.indptr)
    gap_all = need - counts
    keep = np.flatnonzero((gap_all > 0) & (gap_all <= k) & (n_reach >= gap_all))
    if not len(keep):
        return np.zeros(0, dtype=np.int64), 0.0
    sub = csc[:, keep]
    # blocks reached by the same sites with the same gap turn together: one variable,
    # weighted by their number (the programme shrinks, its optimum does not change)
    rng = np.random.default_rng(0)
    key = rng.integers(0, 2**63, size=adj.shape[0], dtype=np.uint64)
    with np.errstate(over="ignore"):
        sums = np.add.reduceat(key[sub.indices], sub.indptr[:-1])
    group = pd.DataFrame({"s": sums, "g": gap_all[keep], "n": np.diff(sub.indptr)}).groupby(
        ["s", "g", "n"], sort=False).ngroup().to_numpy()
    first = np.unique(group, return_index=True)[1]
    size = np.bincount(group).astype(np.float64)
    sub = sub[:, first]
    used = np.flatnonzero(np.diff(sub.tocsr().indptr) > 0)  # sites reaching a kept block
    sub = sub.tocsr()[used].astype(np.float64)
    gap = gap_all[keep][first].astype(np.float64)
    n_s, n_b = sub.shape
    link = sparse.hstack([-sub.T.tocsr(), sparse.diags(gap, format="csr")]).tocsr()
    budget = sparse.csr_matrix(np.concatenate([np.ones(n_s), np.zeros(n_b)])[None, :])
    res = milp(np.concatenate([np.zeros(n_s), -size]),
               constraints=[LinearConstraint(link, -np.inf, 0.0),
                            LinearConstraint(budget, 0.0, float(k))],
               integrality=np.ones(n_s + n_b), bounds=Bounds(0.0, 1.0),
               options={"time_limit": time_limit_s, "disp": False})
    if res.status == 0 and res.x is not None:
        return used[np.flatnonzero(res.x[:n_s] > 0.5)].astype(np.int64), float(round(-res.fun))
    dual = getattr(res, "mip_dual_bound", None)
    return None, (float(-dual) if dual is not None and np.isfinite(dual) else None)


def _suggest_villages(result: StudyResult, sites: gpd.GeoDataFrame, ask: _Ask
                      ) -> tuple[dict[str, Any], CoverChoice, Any]:
    add, exact, time_limit_s, progress = ask.add, ask.exact, ask.time_limit_s, ask.progress
    vcfg = result.config.villages
    if vcfg.distinct_categories or vcfg.count == "capacity":
        msg = ('the villages objective counts spaces; set distinct_categories = false and '
               'count = "spaces"')
        raise ConfigError(msg)
    speed = result.config.walk_speed_m_per_min
    walks = site_walks(result, sites, max_m=vcfg.adjacent_minutes * speed, progress=progress)
    adj = block_cover(result, walks.within(np.ones(len(walks.distance_m), dtype=bool)))
    adj = sparse.csr_matrix(adj, dtype=bool)
    counts = result.blocks["adjacent_spaces"].to_numpy(np.int64)
    need = vcfg.min_spaces
    weight = (result.blocks["population"].fillna(0.0).to_numpy(np.float64)
              if "population" in result.blocks else np.zeros(len(counts)))
    t0 = time.perf_counter()
    order = _villages_greedy(adj, counts, need, weight, add, progress=progress)
    seconds = {"greedy": time.perf_counter() - t0}

    def turned(chosen: Sequence[int]) -> npt.NDArray[np.bool_]:
        if not len(chosen):
            return np.zeros(len(counts), dtype=bool)
        extra = np.asarray(adj[list(chosen)].astype(np.int64).sum(axis=0)).ravel()
        return (counts < need) & (counts + extra >= need)

    def gains(chosen: Sequence[int]) -> pd.DataFrame:
        rows, before = [], np.zeros(len(counts), dtype=bool)
        for i in range(len(chosen)):
            now = turned(chosen[:i + 1])
            rows.append((int((now & ~before).sum()), float(weight[now & ~before].sum())))
            before = now
        return pd.DataFrame({"gain_blocks": np.array([r[0] for r in rows], dtype=np.int64),
                             "gain_residents": np.array([r[1] for r in rows])})

    greedy = int(turned([s for s, _ in order]).sum())
    optimum: npt.NDArray[np.int64] | None = None
    bound: float | None = None
    method = "none"
    if exact:
        t1 = time.perf_counter()
        if progress:
            logger.warning("seeking the exact optimum (at most %.0f s)", time_limit_s)
        optimum, bound = _villages_exact(adj, counts, need, add, time_limit_s=time_limit_s)
        seconds["bound"] = time.perf_counter() - t1
        method = "optimum" if optimum is not None else "milp_bound"
        if optimum is not None and int(turned(list(optimum)).sum()) < greedy:
            optimum = np.array([s for s, _ in order], dtype=np.int64)  # solver tolerance
            bound = float(greedy)
    choice = CoverChoice(order=order, optimum=optimum,
                         optimum_gain=bound if optimum is not None else None,
                         bound_gain=float(max(bound if bound is not None else greedy, greedy)),
                         bound_method=method, seconds=seconds)
    before = int(result.blocks["candidate"].sum())
    info: dict[str, Any] = {"candidate_blocks_before": before,
                            "candidate_blocks_after": before + greedy,
                            "residents_in_new_candidates": float(
                                weight[turned([s for s, _ in order])].sum()),
                            "greedy_gain": float(greedy), "bound_gain": choice.bound_gain,
                            "bound_method": method}
    if optimum is not None:
        info["optimum_new_candidate_blocks"] = int(turned(list(optimum)).sum())
        info["optimum_gain"] = float(info["optimum_new_candidate_blocks"])
    return info, choice, gains


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
    parts = [result.spaces[result.spaces["category"] == cat], extra]
    opt = suggestion.optimum
    if opt is not None:  # the optimum's sites the greedy did not choose
        other = opt[~opt["site_id"].isin(proposed["site_id"])]
        parts.append(gpd.GeoDataFrame({
            "space_id": other["site_id"].to_numpy(), "category": f"{cat} (optimum)",
            "name": [f"optimum #{o} {n}" for o, n in zip(other["order"], other["name"],
                                                         strict=True)],
            "source": "suggestion", "source_row": other["order"].to_numpy(),
        }, geometry=other.geometry.to_numpy(), crs=proposed.crs))
    spaces = pd.concat(parts, ignore_index=True)

    def write(path: Path) -> Path:
        fmap = build_map(result.blocks, gpd.GeoDataFrame(spaces, crs=extra.crs),
                         result.villages, color_by=walk_col(cat),
                         title=f"{result.config.name}: new {cat} sites",
                         tiles=result.config.map.tiles)
        return save_map(fmap, path)

    return write


def _suggestion_layers(src: tuple[SuggestResult, StudyResult]) -> Any:
    suggestion = src[0]
    layers = {"suggestions": to_web_crs(suggestion.suggestions, "suggestions")}
    if suggestion.optimum is not None:
        layers["optimum"] = to_web_crs(suggestion.optimum, "optimum")
    return layers


_O = _outputs.Output
#: Every file ``sharemap suggest`` writes (registry entries; see :mod:`sharemap.outputs`).
SUGGEST_OUTPUTS: tuple[_outputs.Output, ...] = (
    _O("suggestions.gpkg", "gpkg", layer="suggestions", make=_suggestion_layers,
       columns=("order", "site_id", "name"),
       holds="one row per chosen site in the order chosen: `order`, `site_id`, `name`, "
       "`gain_population` (residents newly within reach, as `coverage.csv` counts them; "
       "`gain_blocks` and `gain_residents` for `--objective villages`), "
       "`covered_population_after`; with `--weights` also `gain_weighted` (the objective) "
       "and `gain_<group>` (the group's residents newly within reach at its own pace); "
       "and where the exact optimum was solved, layer `optimum`: its sites, the same "
       "columns, ordered so that each adds the most"),
    _O("candidates.gpkg", "gpkg", layer="candidates",
       make=lambda s: to_web_crs(s[0].candidates, "candidates"),
       columns=("site_id", "name", "chosen", "in_optimum"),
       holds="every candidate site considered: `site_id`, `name`, `chosen` (by the "
       "greedy), `in_optimum` (a site of the exact optimum, when it was solved)"),
    _O("map.html", "file", make=_suggest_map, stage="map",
       holds="the existing spaces of the category and the chosen sites, blocks coloured by "
       "the walk to the category"),
    _O("suggest.json", "json", make=lambda s: dict(s[0].info), index=True,
       holds="`category`, `minutes`, `objective`, `weights`, the candidates (`candidates`, "
       "`candidate_source`, `grid_m`, `candidates_existing`: left out as a space of the "
       "category already stands there, `candidates_excluded`), "
       "`covered_population_before`/`_after`, `population_total`, `greedy_gain`, "
       "`bound_gain` and `bound_method` (an upper bound on the best gain: `optimum`, "
       "`milp_bound`, `lagrangian` or `greedy_online`), `optimum_gain`, "
       "`optimum_population` and `optimum_sites` where the exact optimum was solved, "
       "`seconds` (`seconds_choice`: the greedy's and the bound's), and `outputs`: every "
       "file in the folder"),
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
