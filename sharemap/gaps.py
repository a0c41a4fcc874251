"""Coverage gaps: who is outside a walk, where, and the nearest space they would walk to.

``compute_gaps`` ranks the boundary units with the most residents outside each
category's threshold and lists the largest blocks outside with their walk time and
nearest space (``gaps.csv``); ``nearest_spaces`` finds, for any points, the
nearest space of each category by walking, and ``audit_gaps`` is ``gaps.csv`` as
the audit in :mod:`sharemap.coverage` makes it (searching from the listed blocks
only, on the study's prepared points). They are a module of their own because they
search the network while the rest of the audit only counts.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import geopandas as gpd
import numpy as np
import numpy.typing as npt
import pandas as pd

from .access import JoinedPoints, PreparedPoints, as_prepared, prepare_points, walk_col
from .blocks import block_origins
from .network import MIN_WEIGHT_M
from .profiles import at_group_speed, get_profile, group_minutes

if TYPE_CHECKING:
    from scipy import sparse

    from .config import GroupConfig, StudyConfig
    from .network import WalkNetwork

__all__ = ["GAP_COLUMNS", "StudyOrigins", "audit_gaps", "compute_gaps", "finest_level",
           "nearest_spaces", "study_origins"]

logger = logging.getLogger(__name__)

GAP_COLUMNS = (
    "kind", "category", "threshold_min", "rank", "level", "area", "area_id", "block_id",
    "lon", "lat", "population", "population_outside", "share_outside", "blocks", "blocks_outside",
    "walk_min", "nearest_space_id", "nearest_space_name",
)


def _super_source(csr: sparse.csr_matrix, nodes: npt.NDArray[np.int64],
                  weights: npt.NDArray[np.float64]) -> sparse.csr_matrix:
    """Add one node linked to `nodes` by one-way edges of `weights` (least per node)."""
    from scipy import sparse

    total = csr.shape[0]
    best = np.full(total, np.inf)
    np.minimum.at(best, nodes, np.maximum(weights, MIN_WEIGHT_M))
    targets = np.flatnonzero(np.isfinite(best))
    coo = csr.tocoo()
    rows = np.concatenate([coo.row, np.full(len(targets), total)])
    cols = np.concatenate([coo.col, targets])
    data = np.concatenate([coo.data, best[targets]])
    return sparse.csr_matrix((data, (rows, cols)), shape=(total + 1, total + 1))


def _roots(pred: npt.NDArray[np.int32], source: int) -> npt.NDArray[np.int64]:
    """Per node, the first node after `source` on its shortest path (-1 if unreached)."""
    n = len(pred)
    ar = np.arange(n)
    is_root = pred == source
    parent = np.where(is_root | (pred < 0), ar, pred).astype(np.int64)
    while True:  # pointer jumping: depth halves every pass
        nxt = parent[parent]
        if np.array_equal(nxt, parent):
            break
        parent = nxt
    return np.where(is_root[parent], parent, -1)


def _node_space(idx: npt.NDArray[np.int64], s_node: npt.NDArray[np.int64],
                s_off: npt.NDArray[np.float64], size: int) -> npt.NDArray[np.int64]:
    """Map each node to the space it stands for (-1: none): the least offset, then the first."""
    order = np.lexsort((idx, s_off[idx], s_node[idx]))
    first = np.unique(s_node[idx][order], return_index=True)
    node_space = np.full(size, -1, dtype=np.int64)
    node_space[first[0]] = idx[order][first[1]]
    return node_space


def nearest_spaces(network: WalkNetwork | PreparedPoints,
                   origins: gpd.GeoSeries | gpd.GeoDataFrame, spaces: gpd.GeoDataFrame, *,
                   categories: Sequence[str] | None = None,
                   max_snap_m: float | None = None) -> pd.DataFrame:
    """Find, for each origin, its nearest space of each category and the walk to it.

    Parameters
    ----------
    network
        The walking network, or the origins and spaces prepared on it
        (:func:`~sharemap.access.prepare_points`).
    origins
        Points (block origins) in the network's CRS (with prepared points: their
        origins).
    spaces
        Spaces with ``category``, in the network's CRS (with prepared points: their
        targets).
    categories
        Categories to search (default: those of `spaces`).
    max_snap_m
        Points farther from every street are not analysed; default 250 m, or the
        prepared points' own.

    Returns
    -------
    nearest
        Aligned to `origins`: per category, ``space_<category>`` (position in
        `spaces`, -1 when none is reachable) and ``distance_m_<category>``.

    Notes
    -----
    One Dijkstra pass per category from a virtual node linked to every space (as
    for the walk times), keeping predecessors; following them back from each
    origin's node gives the space its shortest path starts from. Spaces that join
    the network at the same node are told apart by their offset (the nearer wins).
    """
    cats = list(dict.fromkeys(spaces["category"].astype(str))) if categories is None \
        else list(categories)
    points = as_prepared(network, origins, spaces, max_snap_m=max_snap_m)
    out = _nearest_on(points.joined, points.n_origins,
                      spaces["category"].astype(str).to_numpy(), cats)
    return pd.DataFrame(out, index=origins.index)


def _nearest_on(joined: JoinedPoints, n_o: int, space_cat: npt.NDArray[np.object_],
                cats: Sequence[str]) -> dict[str, Any]:
    """:func:`nearest_spaces` on joined points: `n_o` origins, then the spaces."""
    from scipy.sparse.csgraph import dijkstra

    o_node, o_off = joined.node[:n_o], joined.offset_m[:n_o]
    s_node, s_off = joined.node[n_o:], joined.offset_m[n_o:]
    out: dict[str, Any] = {}
    ok = o_node >= 0
    for cat in cats:
        idx = np.flatnonzero((space_cat == cat) & (s_node >= 0))
        best = np.full(n_o, -1, dtype=np.int64)
        dist_m = np.full(n_o, np.nan)
        if len(idx) and ok.any():
            graph = _super_source(joined.csr, s_node[idx], s_off[idx])
            src = graph.shape[0] - 1
            dist, pred = dijkstra(graph, directed=True, indices=src, return_predecessors=True)
            root = _roots(pred, src)
            node_space = _node_space(idx, s_node, s_off, graph.shape[0])
            r = root[o_node[ok]]
            best[ok] = np.where(r >= 0, node_space[np.maximum(r, 0)], -1)
            d = dist[o_node[ok]] + o_off[ok]
            dist_m[ok] = np.where(np.isfinite(d), d, np.nan)
        out[f"space_{cat}"] = best
        out[f"distance_m_{cat}"] = dist_m
    return out


def _closest_nodes(joined: JoinedPoints, origin: npt.NDArray[np.int64],
                   nodes: npt.NDArray[np.int64], weight: npt.NDArray[np.float64],
                   limit: npt.NDArray[np.float64]) -> npt.NDArray[np.int64] | None:
    """Per origin node, the node of `nodes` least ``weight + walk`` away (-1: none reachable).

    Searches `joined`'s graph from the origins up to `limit` (each answer must lie a
    tolerance inside it), then without a limit for the rest. None when, for some
    origin, a second node comes within a micrometre of the best (float rounding could
    order them either way). Kept in the disk cache with ``joined.cache``.
    """
    found = joined.memo("closest_nodes", (origin, nodes, weight, limit),
                        lambda: _search_closest(joined.csr, origin, nodes, weight, limit),
                        code=(Path(__file__),))
    return None if found["tie"].any() else found["best"]


def _search_closest(csr: sparse.csr_matrix, origin: npt.NDArray[np.int64],
                    nodes: npt.NDArray[np.int64], weight: npt.NDArray[np.float64],
                    limit: npt.NDArray[np.float64]) -> dict[str, npt.NDArray[Any]]:
    """:func:`_closest_nodes`' searches: ``best`` per origin, and ``tie`` (True: None)."""
    from ._engine import pairs_within

    best = np.full(len(origin), -1, dtype=np.int64)
    todo = np.flatnonzero(origin >= 0)
    for bounded in (True, False):
        run = todo[np.isfinite(limit[todo])] if bounded else todo
        if not len(run):
            continue
        lim = float(limit[run].max()) if bounded else np.inf
        g, t, d = pairs_within(csr, origin[run], np.zeros(len(run)), nodes, weight, max_m=lim)
        order = np.lexsort((d, g))
        g, t, d = g[order], t[order], d[order]
        head = np.flatnonzero(np.r_[True, g[1:] != g[:-1]]) if len(g) else np.empty(0, int)
        second = np.r_[g[1:] == g[:-1], False][head]
        runner_up = np.where(second, d[np.minimum(head + 1, max(len(d) - 1, 0))], np.inf)
        tol = 1e-6 + 1e-9 * d[head]
        sure = d[head] + tol <= lim
        if (sure & (runner_up - d[head] <= tol)).any():
            return {"best": best, "tie": np.ones(1, dtype=bool)}
        best[run[g[head][sure]]] = nodes[t[head][sure]]
        todo = np.setdiff1d(todo, run[g[head][sure]]) if bounded else todo[:0]
    return {"best": best, "tie": np.zeros(1, dtype=bool)}


@dataclass(frozen=True, eq=False)
class StudyOrigins:
    """The blocks' origins as the audit uses them (see :mod:`sharemap.origins`).

    Attributes
    ----------
    block
        Per origin, its block's position.
    share
        Per origin, its share of the block's residents.
    minutes
        Per origin, the walk to each category (origins x categories, NaN: none).
    points
        The origin points (analysis CRS).
    which
        Per category, per block: the origin whose walk is the block's (weighted
        median) walk.
    groups
        Per group (by slug) whose mobility profile leaves streets out: its own walk
        from each origin to each category (origins x categories, NaN: none).
    """

    block: npt.NDArray[np.int64]
    share: npt.NDArray[np.float64]
    minutes: npt.NDArray[np.float64]
    points: gpd.GeoSeries
    which: dict[str, npt.NDArray[np.int64]]
    groups: dict[str, npt.NDArray[np.float64]] = field(default_factory=dict)

    def residents(self, population: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
        """Per origin, its residents: the block's `population` times its share."""
        return population[self.block] * self.share

    def group_minutes(self, group: GroupConfig, walk_speed_kmh: float
                      ) -> npt.NDArray[np.float64]:
        """Per origin and category, `group`'s walk (see :func:`sharemap.profiles.group_minutes`).

        Its own walks where its profile leaves streets out; else everyone's minutes
        at its speed, ``minutes * walk_speed_kmh / group speed`` (exact: the same streets).
        """
        own = self.groups.get(group.slug)
        if own is not None:
            return own
        return at_group_speed(self.minutes, group, walk_speed_kmh=walk_speed_kmh)


def study_origins(blocks: pd.DataFrame, categories: Sequence[str],
                  origins: pd.DataFrame | None = None,
                  groups: Sequence[GroupConfig] = (),
                  medians: Sequence[str] | None = None) -> StudyOrigins:
    """Gather the blocks' origins for the audit.

    Parameters
    ----------
    blocks
        Blocks with ``walk_min_<category>`` (and geometry, for the origin points when
        `origins` is None).
    categories
        The study's categories.
    origins
        The study's origins (``block``, ``share``, ``walk_min_<category>``, point
        geometry); None: one origin per block, its representative point, with the
        block's own walk minutes.
    groups
        The population groups: those whose profile leaves streets out bring their own
        walks (``walk_min_<category>_<slug>`` of `origins`, or of `blocks`).
    medians
        The categories whose median origin (``which``) is wanted (None: all).

    Returns
    -------
    origins
        The arrays the audit needs.
    """
    from .origins import block_median

    n = len(blocks)
    if origins is None:
        minutes = np.empty((n, len(categories)))
        for j, cat in enumerate(categories):
            minutes[:, j] = blocks[walk_col(cat)].to_numpy(dtype=np.float64, na_value=np.nan)
        points = (block_origins(blocks) if isinstance(blocks, gpd.GeoDataFrame)
                  else gpd.GeoSeries([None] * n))
        idx = np.arange(n, dtype=np.int64)
        return StudyOrigins(block=idx, share=np.ones(n), minutes=minutes,
                            points=points.reset_index(drop=True),
                            which={c: idx for c in categories},
                            groups=_own_group_minutes(blocks, categories, groups))
    block = origins["block"].to_numpy(np.int64)
    share = origins["share"].to_numpy(np.float64)
    minutes = np.empty((len(origins), len(categories)))
    which = {}
    for j, cat in enumerate(categories):
        minutes[:, j] = origins[walk_col(cat)].to_numpy(dtype=np.float64, na_value=np.nan)
        if medians is None or cat in medians:
            which[cat] = block_median(minutes[:, j], block, share, n)[1]
    return StudyOrigins(block=block, share=share, minutes=minutes,
                        points=origins.geometry.reset_index(drop=True), which=which,
                        groups=_own_group_minutes(origins, categories, groups))


def _own_group_minutes(frame: pd.DataFrame, categories: Sequence[str],
                       groups: Sequence[GroupConfig]) -> dict[str, npt.NDArray[np.float64]]:
    """Return the own walks (points x categories) of the groups whose profile filters streets."""
    out = {}
    for g in groups:
        if get_profile(g.profile).filters:
            out[g.slug] = np.column_stack([
                group_minutes(frame, c, g, walk_speed_kmh=np.nan).to_numpy(
                    dtype=np.float64, na_value=np.nan) for c in categories]
            ).reshape(len(frame), len(categories))
    return out


def _listed_nearest(network: WalkNetwork, blocks: pd.DataFrame, spaces: gpd.GeoDataFrame,
                    config: StudyConfig, outside: dict[str, _Outside], origins: StudyOrigins,
                    *, joined: JoinedPoints | None = None) -> dict[str, npt.NDArray[np.int64]]:
    """Per category, what :func:`nearest_spaces` gives for the blocks outside (see Notes).

    Notes
    -----
    A block's nearest space is that of its median origin (the origin whose walk is
    the block's walk). Only the blocks ``gaps.csv`` lists need it: a search from
    each of them, bounded by its walk time, finds every space node within reach, and
    the least ``max(offset, MIN_WEIGHT_M) + walk`` wins, as in the tree of
    :func:`nearest_spaces`. The other blocks outside only decide whether the name
    columns hold text (as the full table would): each gets a stand-in, the first
    space of the category if its walk time is finite, else -1. A category falls back
    to :func:`nearest_spaces` when two spaces tie within a micrometre, a space's
    name is not text, or a listed block's walk time disagrees with the search.
    """
    n_o = len(origins.block)
    max_snap = config.network.max_snap_m
    needed = np.unique(np.concatenate([origins.which[c][o.listed] for c, o in outside.items()]
                                      or [np.empty(0, dtype=np.int64)]))
    base: tuple[JoinedPoints, npt.NDArray[np.int64], int] | None = None
    if joined is not None:
        if len(joined.node) != n_o + len(spaces):
            msg = (f"the prepared points hold {len(joined.node)} points, not the {n_o} block "
                   f"origins and {len(spaces)} spaces: give the study's `origins` "
                   "(StudyResult.origins) with its prepared points")
            raise ValueError(msg)
        base = (joined, np.arange(n_o, dtype=np.int64), n_o)
    elif len(needed):
        mini = prepare_points(network, gpd.GeoSeries(origins.points.iloc[needed].to_numpy(),
                                                     crs=spaces.crs), spaces,
                              max_snap_m=max_snap)
        at = np.full(n_o, -1, dtype=np.int64)
        at[needed] = mini.origin_idx
        base = (mini.joined, at, mini.n_origins)
    space_cat = spaces["category"].astype(str).to_numpy()
    named = np.array([isinstance(v, str) for v in spaces["name"].astype("object")], dtype=bool)
    out: dict[str, npt.NDArray[np.int64]] = {}
    full: list[str] = []
    for cat, o in outside.items():
        mine = np.flatnonzero(space_cat == cat)
        walk = blocks[walk_col(cat)].to_numpy(dtype=np.float64, na_value=np.nan)
        points = None if base is None else (
            base[0], base[0].node[base[1][origins.which[cat][o.listed]]], base[2])
        pos = (_category_nearest(points, o, walk, mine, config.walk_speed_m_per_min)
               if named[mine].all() else None)
        if pos is None:
            full.append(cat)
        else:
            out[cat] = pos
    if full:  # ties, unnamed spaces or odd walk times: every origin, as nearest_spaces does
        logger.debug("Nearest spaces: the full search for %s", ", ".join(full))
        if joined is not None:
            tree = _nearest_on(joined, n_o, space_cat, full)
        else:
            tree = nearest_spaces(network, gpd.GeoSeries(origins.points.to_numpy(),
                                                         crs=spaces.crs),
                                  spaces, categories=full, max_snap_m=max_snap)
        out.update({c: np.asarray(tree[f"space_{c}"])[origins.which[c]][outside[c].mask]
                    for c in full})
    return out


def _category_nearest(points: tuple[JoinedPoints, npt.NDArray[np.int64], int] | None,
                      outside: _Outside, walk: npt.NDArray[np.float64],
                      mine: npt.NDArray[np.int64],
                      speed_m_per_min: float) -> npt.NDArray[np.int64] | None:
    """One category's spaces for its blocks outside (None: take the full search).

    `points`: the joined points, the nodes of the listed blocks' (median) origins (in
    ``outside.listed`` order) and where the spaces start; `mine`: the category's
    spaces (all named).
    """
    pos = np.where(np.isnan(walk[outside.mask]), -1, mine[0] if len(mine) else -1)
    rows = outside.listed
    if not len(rows):
        return pos.astype(np.int64)
    if points is None:
        return None
    joined, o_node, n_o = points
    s_node, s_off = joined.node[n_o:], joined.offset_m[n_o:]
    idx = mine[s_node[mine] >= 0]
    w = np.full(joined.csr.shape[0], np.inf)
    np.minimum.at(w, s_node[idx], np.maximum(s_off[idx], MIN_WEIGHT_M))
    nodes = np.flatnonzero(np.isfinite(w))
    limit = np.where(np.isnan(walk[rows]), np.inf, walk[rows] * speed_m_per_min + 1.0)
    found = _closest_nodes(joined, o_node, nodes, w[nodes], limit)
    if found is None or ((found >= 0) == np.isnan(walk[rows])).any():
        return None
    node_space = _node_space(idx, s_node, s_off, joined.csr.shape[0])
    pos[np.searchsorted(np.flatnonzero(outside.mask), rows)] = np.where(
        found >= 0, node_space[np.maximum(found, 0)], -1)
    return pos.astype(np.int64)


def finest_level(blocks: pd.DataFrame, levels: Sequence[str]) -> str | None:
    """Return the boundary level with the most units among the blocks (the later on ties)."""
    best, count = None, -1
    for level in levels:
        n = blocks[level].nunique() if level in blocks else 0
        if n >= count:
            best, count = level, n
    return best


def _outside(blocks: pd.DataFrame, cat: str, threshold: float, speed: float = 1.0,
             group_speed: float = 1.0) -> pd.Series:
    """Blocks beyond `threshold` (or unreachable) at `group_speed` (same formula as groups)."""
    return ~(blocks[walk_col(cat)] * speed / group_speed <= threshold)


def _residents_outside(blocks: pd.DataFrame, config: StudyConfig, origins: StudyOrigins,
                       has_pop: bool, categories: Sequence[str]
                       ) -> dict[str, dict[str, npt.NDArray[np.float64]]]:
    """Per category, per block: the residents (and each group's) beyond the audit time.

    Summed over the block's origins: an origin's residents are outside when its own
    walk is beyond the threshold (or none is reachable); with one origin per block
    that is the block's population where the block is outside, else 0.
    """
    t = config.coverage.audit_min
    n = len(blocks)
    out: dict[str, dict[str, npt.NDArray[np.float64]]] = {}
    pops = {"population": "population"} if has_pop else {}
    pops.update({f"population_outside_{g.slug}": g.population_column
                 for g in config.coverage.groups})
    walks = {g.population_column: origins.group_minutes(g, config.walk_speed_kmh)
             for g in config.coverage.groups}  # the same as the group coverage's
    for j, cat in enumerate(config.categories):
        if cat not in categories:
            continue
        mine = {}
        for name, col in pops.items():
            pop_o = origins.residents(blocks[col].to_numpy(np.float64, na_value=np.nan))
            walk = walks[col][:, j] if col in walks else origins.minutes[:, j]
            far = np.where(~(walk <= t), pop_o, 0.0)
            key = "population_outside" if name == "population" else name
            mine[key] = np.asarray(np.bincount(origins.block, weights=far, minlength=n),
                                   dtype=np.float64)
        out[cat] = mine
    return out


def _area_gaps(blocks: pd.DataFrame, config: StudyConfig, level: str | None,
               has_pop: bool, residents: dict[str, dict[str, npt.NDArray[np.float64]]]
               ) -> dict[str, pd.DataFrame]:
    """Per category of `residents`, the units ranked by residents outside (one groupby)."""
    if not residents:
        return {}
    t = config.coverage.audit_min
    cols: dict[str, Any] = {
        "area": blocks[level] if level else config.name,
        "area_id": blocks[f"{level}_id"] if level else config.name,
        "population": blocks["population"] if has_pop else np.nan, "blocks": 1}
    names = {}
    for k, cat in enumerate(residents):
        out = _outside(blocks, cat, t).astype(int)
        mine: dict[str, Any] = {"blocks_outside": out}
        mine["population_outside"] = np.nan
        mine.update({c: pd.Series(v, index=blocks.index) for c, v in residents[cat].items()})
        names[cat] = {f"{k}:{c}": c for c in mine}
        cols.update({f"{k}:{c}": v for c, v in mine.items()})
    # a column's sums do not depend on the other columns: one groupby serves all
    every = pd.DataFrame(cols).groupby(["area", "area_id"], sort=True, dropna=True).sum(
        min_count=1).reset_index()
    key = "population_outside" if has_pop else "blocks_outside"
    result = {}
    for cat in residents:
        agg = every[["area", "area_id", "population", "blocks", *names[cat]]].rename(
            columns=names[cat])
        agg["share_outside"] = agg["population_outside"] / agg["population"].where(
            agg["population"] > 0) if has_pop else agg["blocks_outside"] / agg["blocks"]
        agg = agg.sort_values([key, "area_id"], ascending=[False, True], ignore_index=True)
        agg["kind"], agg["level"] = "area", level or "city"
        result[cat] = agg
    return result


def _lon_lat(points: gpd.GeoSeries, rows: npt.NDArray[np.int64]
             ) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """WGS84 longitude and latitude (6 decimals) of the origins at `rows` of `points`."""
    if points.crs is None or not len(rows):
        return np.full(len(rows), np.nan), np.full(len(rows), np.nan)
    pts = gpd.GeoSeries(points.to_numpy()[rows], crs=points.crs).to_crs(4326)
    return pts.x.round(6).to_numpy(), pts.y.round(6).to_numpy()


def _outside_rows(blocks: pd.DataFrame, cat: str, config: StudyConfig, level: str | None,
                  has_pop: bool, residents: dict[str, npt.NDArray[np.float64]],
                  which: npt.NDArray[np.int64]) -> tuple[npt.NDArray[np.bool_], pd.DataFrame]:
    """Blocks with residents beyond the audit time (without residents: blocks beyond it).

    Returns the mask and their columns, with each group's residents outside and
    ``_origin``, the block's median origin.
    """
    if has_pop:
        out = residents["population_outside"] > 0
    else:
        out = _outside(blocks, cat, config.coverage.audit_min).to_numpy()
    cols = ["block_id", *((level, f"{level}_id") if level else ()),
            *(("population",) if has_pop else ()), walk_col(cat)]
    sub = pd.DataFrame(blocks[list(dict.fromkeys(cols))]).assign(
        **{k: v for k, v in residents.items()}, _origin=which)
    return out, sub[out]


@dataclass(frozen=True, eq=False)
class _Outside:
    """One category's blocks outside: mask, their columns and the rows ``gaps.csv`` lists."""

    mask: npt.NDArray[np.bool_]
    rows: pd.DataFrame
    listed: npt.NDArray[np.int64]


def _gap_inputs(blocks: pd.DataFrame, config: StudyConfig, origins: StudyOrigins,
                categories: Sequence[str] | None = None
                ) -> tuple[bool, str | None, dict[str, _Outside],
                           dict[str, dict[str, npt.NDArray[np.float64]]]]:
    """Return whether blocks have residents, the finest level and what lies outside.

    What lies outside: each category's (of `categories`, None: all) blocks outside, and
    its residents outside per block.
    """
    cats = [c for c in config.categories if categories is None or c in categories]
    has_pop = "population" in blocks and bool(blocks["population"].notna().any())
    level = finest_level(blocks, [b.level for b in config.coverage.boundaries])
    residents = _residents_outside(blocks, config, origins, has_pop, cats)
    out = {}
    for cat in cats:
        mask, sub = _outside_rows(blocks, cat, config, level, has_pop, residents[cat],
                                  origins.which[cat])
        # the order of _block_gaps: most residents outside (or longest walk) first, then id
        key = sub["population_outside"] if has_pop else sub[walk_col(cat)].fillna(np.inf)
        frame = pd.DataFrame({"_k": key.to_numpy(), "block_id": sub["block_id"].to_numpy(),
                              "_pos": np.flatnonzero(mask)})
        frame = frame.sort_values(["_k", "block_id"], ascending=[False, True])
        out[cat] = _Outside(mask, sub, frame["_pos"].to_numpy()[:config.coverage.gap_blocks])
    return has_pop, level, out, residents


def _block_gaps(sub: pd.DataFrame, spaces: pd.DataFrame, pos: npt.NDArray[np.int64],
                cat: str, config: StudyConfig, level: str | None, has_pop: bool,
                points: gpd.GeoSeries) -> pd.DataFrame:
    """List the gap blocks; `sub`: the blocks outside, `pos`: their nearest space (-1: none)."""
    frame = pd.DataFrame({
        "block_id": sub["block_id"].to_numpy(),
        "area": sub[level].to_numpy() if level else config.name,
        "area_id": sub[f"{level}_id"].to_numpy() if level else config.name,
        "population": sub["population"].to_numpy() if has_pop else np.nan,
        "walk_min": sub[walk_col(cat)].to_numpy(),
        "population_outside": (sub["population_outside"].to_numpy() if has_pop else np.nan),
        "_origin": sub["_origin"].to_numpy(),
    })
    for g in config.coverage.groups:
        col = f"population_outside_{g.slug}"
        frame[col] = sub[col].to_numpy()
    has = pos >= 0
    ids, names = np.full(len(sub), None, dtype=object), np.full(len(sub), None, dtype=object)
    ids[has] = spaces["space_id"].astype(str).to_numpy()[pos[has]]
    names[has] = spaces["name"].astype("object").to_numpy()[pos[has]]
    frame["nearest_space_id"], frame["nearest_space_name"] = ids, names
    if has_pop:
        frame = frame.sort_values(["population_outside", "block_id"], ascending=[False, True])
    else:  # no residents: the longest walks first, unreachable blocks before all
        frame["_w"] = frame["walk_min"].fillna(np.inf)
        frame = frame.sort_values(["_w", "block_id"], ascending=[False, True]).drop(columns="_w")
    frame = frame.head(config.coverage.gap_blocks).reset_index(drop=True)
    frame["lon"], frame["lat"] = _lon_lat(points, frame.pop("_origin").to_numpy(np.int64))
    frame["kind"], frame["level"] = "block", level or "city"
    return frame


def compute_gaps(blocks: pd.DataFrame, spaces: pd.DataFrame, nearest: pd.DataFrame,
                 config: StudyConfig, *, origins: pd.DataFrame | None = None) -> pd.DataFrame:
    """Rank the units of the finest level, and the blocks, by residents outside the walk.

    Parameters
    ----------
    blocks
        Blocks with walk minutes, population, group populations and level columns.
    spaces
        The analysed spaces (``space_id``, ``name``), positions as in `nearest`.
    nearest
        From :func:`nearest_spaces` on the block origins (aligned to `origins` when
        given, else to `blocks`).
    config
        The study: categories, ``coverage.audit_min``, groups, ``gap_blocks``.
    origins
        The blocks' origins with their shares and walk minutes
        (:attr:`sharemap.StudyResult.origins`); None: one per block.

    Returns
    -------
    gaps
        :data:`GAP_COLUMNS` plus ``population_outside_<slug>`` per group. For each
        category: ``kind = "area"`` rows, one per unit of the finest level, ranked by
        residents beyond ``threshold_min`` (or unreachable), then ``kind = "block"``
        rows, the ``gap_blocks`` blocks with the most such residents, with the nearest
        space and the walk to it. Without population, units rank by blocks outside
        and blocks by walking time (unreachable first).

    Notes
    -----
    A block's residents are outside as its origins are (each origin holds its share
    of them); its ``walk_min``, nearest space and ``lon``/``lat`` are those of its
    median origin, the origin whose walk is the block's ``walk_min_<category>``.
    """
    so = study_origins(blocks, config.categories, origins, config.coverage.groups)
    inputs = _gap_inputs(blocks, config, so)
    pos = {cat: nearest[f"space_{cat}"].to_numpy()[so.which[cat]][o.mask]
           for cat, o in inputs[2].items()}
    return _gaps(blocks, spaces, config, inputs, pos, so)


def audit_gaps(blocks: pd.DataFrame, spaces: gpd.GeoDataFrame, network: WalkNetwork,
               config: StudyConfig, *, joined: JoinedPoints | None = None,
               origins: pd.DataFrame | None = None, categories: Sequence[str] | None = None,
               known_origins: StudyOrigins | None = None) -> pd.DataFrame:
    """Compute the audit's ``gaps.csv``: :func:`compute_gaps` without the full search.

    Parameters
    ----------
    blocks
        Blocks with walk minutes, population, group populations and level columns.
    spaces
        The analysed spaces (``space_id``, ``category``, ``name``).
    network
        The walking network.
    config
        The study: categories, ``coverage.audit_min``, groups, ``gap_blocks``.
    joined
        The blocks' origins then the spaces joined into the network
        (``PreparedPoints.joined``, as the access stage measured them); None: the
        listed blocks and the spaces are snapped now.
    origins
        The blocks' origins (:attr:`sharemap.StudyResult.origins`), in the order of
        `joined`'s origins; None: one per block, its representative point.
    categories
        The categories to list (None: all), in the study's order.
    known_origins
        `origins` as :func:`study_origins` gathers them (with the medians of
        `categories`), when the caller has them already.

    Returns
    -------
    gaps
        The table of :func:`compute_gaps` with :func:`nearest_spaces` for `nearest`.

    Notes
    -----
    Only the blocks ``gaps.csv`` lists need their nearest space: each is searched
    from its own (median) origin (see ``_listed_nearest``), which gives what the full
    search of :func:`nearest_spaces` would.
    """
    so = known_origins or study_origins(blocks, config.categories, origins,
                                        config.coverage.groups, medians=categories)
    inputs = _gap_inputs(blocks, config, so, categories)
    nearest = _listed_nearest(network, blocks, spaces, config, inputs[2], so, joined=joined)
    return _gaps(blocks, spaces, config, inputs, nearest, so)


def _gaps(blocks: pd.DataFrame, spaces: pd.DataFrame, config: StudyConfig,
          inputs: tuple[bool, str | None, dict[str, _Outside],
                        dict[str, dict[str, npt.NDArray[np.float64]]]],
          nearest: dict[str, npt.NDArray[np.int64]], origins: StudyOrigins) -> pd.DataFrame:
    """:func:`compute_gaps` from :func:`_gap_inputs` and the nearest space per block outside."""
    has_pop, level, outside, residents = inputs
    t = config.coverage.audit_min
    extra = [f"population_outside_{g.slug}" for g in config.coverage.groups]
    parts = []
    areas = _area_gaps(blocks, config, level, has_pop, residents)
    for cat in outside:
        for part in (areas[cat], _block_gaps(outside[cat].rows, spaces, nearest[cat], cat,
                                             config, level, has_pop, origins.points)):
            part["category"], part["threshold_min"] = cat, t
            part["rank"] = np.arange(1, len(part) + 1)
            parts.append(part)
    cols = [*GAP_COLUMNS, *extra]
    if not parts:
        return pd.DataFrame(columns=cols)
    gaps = pd.concat([p.reindex(columns=cols) for p in parts], ignore_index=True)
    for col in ("blocks", "blocks_outside") + (
            ("block_id",) if pd.api.types.is_integer_dtype(blocks["block_id"]) else ()):
        gaps[col] = gaps[col].astype("Int64")
    return gaps


def splice_gaps(known: pd.DataFrame, part: pd.DataFrame, categories: Sequence[str],
                redo: set[str]) -> pd.DataFrame:
    """`known`'s gaps with the rows of the categories in `redo` taken from `part` instead.

    `categories`: the study's, in order (each category's rows are together in both).
    """
    pieces = [(part if cat in redo else known).loc[lambda g, c=cat: g["category"] == c]
              for cat in categories]
    if not pieces:
        return known
    return pd.concat(pieces, ignore_index=True)
