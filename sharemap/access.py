"""Walking access: snapping points to the network, walk times, reachable spaces.

Every distance here follows ``SPEC.md``: a point joins the network at the nearest
point of the nearest edge; from there it walks along that edge (in both
directions) and on through the network; the straight-line offset from the point
to the edge is added once at each end. Points are joined into the graph as extra
nodes that split their edges, so two points on the same street segment are
connected directly along it, and every answer is an exact shortest path.

Prepare once, then measure: :func:`prepare_points` snaps a set of origins and a set
of targets and joins them into the network (a :class:`PreparedPoints`, which also
says which points are off the network); :func:`walk_times`, :func:`spaces_within`,
:func:`count_within` and :func:`sharemap.isochrones.isochrones` take it in place of the
network, and so do the study's stages, so a study snaps its points once. Given the network and
plain points instead, each measure prepares them itself.

The searches run in :mod:`sharemap._engine`: compiled bounded Dijkstra searches
whose cost grows with the nodes they reach, not with the size of the city (one
multi-source pass per category for walk times; one bounded search per point of
the smaller side for pairs and counts). Points prepared with ``cache=True`` (a
study's, when it runs with the cache) keep each search's result in sharemap's
content-keyed cache, so the same study run again searches nothing and never imports
the compiled engine (:attr:`JoinedPoints.cache`).
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeAlias

import geopandas as gpd
import numpy as np
import numpy.typing as npt
import pandas as pd
import shapely

from . import _cache
from ._compat import warn_renamed
from ._crs import to_crs_of
from ._errors import InputDataError
from .network import WalkNetwork, undirected_csr

if TYPE_CHECKING:
    from scipy import sparse  # imported where used: `import sharemap` stays light

__all__ = [
    "DEFAULT_MAX_SNAP_M",
    "JoinedPoints",
    "PreparedPoints",
    "as_prepared",
    "count_within",
    "counts_within",
    "join_points",
    "metres_per_minute",
    "nearest_distance",
    "pairs_within",
    "point_array",
    "prepare_points",
    "snap_points",
    "spaces_within",
    "walk_col",
    "walk_times",
]

logger = logging.getLogger(__name__)

#: The source files whose text keys a cached search (changing the algorithm misses).
_SEARCH_CODE = (Path(__file__), Path(__file__).with_name("_engine.py"))

DEFAULT_SPEED_KMH = 4.8
#: Points farther than this from every street are off the network (SPEC ``max_snap_m``).
DEFAULT_MAX_SNAP_M = 250.0


def walk_col(category: str) -> str:
    """Return the block column holding the walk minutes to `category`."""
    return f"walk_min_{category}"


def metres_per_minute(walk_speed_kmh: float) -> float:
    """Return the metres walked per minute at `walk_speed_kmh` (4.8 km/h: 80 m)."""
    return walk_speed_kmh * 1000.0 / 60.0


def point_array(geoms: gpd.GeoSeries | gpd.GeoDataFrame, network: WalkNetwork,
                what: str) -> npt.NDArray[np.object_]:
    """Return `geoms` as an array of points in the network's CRS.

    Points in another CRS are reprojected; other shapes give their representative
    point. Raises CRSError (naming `what` and both CRSs) when they have no CRS or
    cannot be expressed in the network's.
    """
    series = geoms.geometry if isinstance(geoms, gpd.GeoDataFrame) else geoms
    arr = to_crs_of(series, network.crs, what).to_numpy()
    bad = ~shapely.is_empty(arr) & (shapely.get_type_id(arr) != 0)
    if bad.any():
        arr = arr.copy()
        arr[bad] = shapely.point_on_surface(arr[bad])
    return arr


# ----------------------------------------------------------------------------- snapping


def snap_points(network: WalkNetwork, points: gpd.GeoSeries | gpd.GeoDataFrame, *,
                max_snap_m: float = DEFAULT_MAX_SNAP_M,
                exclude: tuple[str, ...] | None = None) -> pd.DataFrame:
    """Snap points to the nearest point of the nearest street a pedestrian can step onto.

    Parameters
    ----------
    network
        The walking network.
    points
        Points (other geometries use their representative point) in any CRS
        (reprojected to the network's).
    max_snap_m
        Points farther than this from every edge are not snapped.
    exclude
        Edges a point joins only when no other edge lies within `max_snap_m`:
        highway classes and ``bridge``, ``tunnel`` (default: the network's
        ``snap_exclude``, from ``[network] snap_exclude``; ``()``: the nearest edge
        whatever it is). See :meth:`sharemap.network.WalkNetwork.snap_excluded`.

    Returns
    -------
    snaps
        Aligned to `points`' index: ``edge`` (edge row, -1 if off the network),
        ``position_m`` (distance along the edge from its ``u`` end), ``offset_m``
        (straight-line distance to the edge; NaN if off), ``dist_u_m`` and
        ``dist_v_m`` (walking distance to each end: along the edge plus the
        offset), ``on_network`` (bool).

    Notes
    -----
    A point joins the nearest edge that `exclude` does not name, if one lies within
    `max_snap_m`; else the nearest edge of all (an expressway's verge is still
    reached from it). Excluded edges stay in the network for walking along them.
    Vectorised with shapely's STRtree ``query_nearest``; ties go to the edge
    listed first.
    """
    arr = point_array(points, network, "points")
    n = len(arr)
    edge = np.full(n, -1, dtype=np.int64)
    offset = np.full(n, np.nan)
    valid = ~(shapely.is_empty(arr) | shapely.is_missing(arr))
    if valid.any() and len(network.edges):
        idx = np.flatnonzero(valid)
        allowed = network.snap_tree(exclude)
        if allowed is not None:  # first the streets a pedestrian steps onto
            tree, rows = allowed
            (pi, ei), dist = tree.query_nearest(arr[idx], max_distance=max_snap_m,
                                                return_distance=True, all_matches=False)
            edge[idx[pi]] = rows[ei]
            offset[idx[pi]] = dist
            idx = idx[edge[idx] < 0]
        (pi, ei), dist = network.tree.query_nearest(
            arr[idx], max_distance=max_snap_m, return_distance=True, all_matches=False)
        edge[idx[pi]] = ei
        offset[idx[pi]] = dist
    on = edge >= 0
    pos = np.full(n, np.nan)
    if on.any():
        lines = network.edges.geometry.to_numpy()[edge[on]]
        pos[on] = shapely.line_locate_point(lines, arr[on])
    length = np.where(on, network.edge_length[np.where(on, edge, 0)], np.nan)
    pos = np.clip(pos, 0.0, length)
    return pd.DataFrame({
        "edge": edge, "position_m": pos, "offset_m": offset,
        "dist_u_m": pos + offset, "dist_v_m": (length - pos) + offset, "on_network": on,
    }, index=points.index)


# ------------------------------------------------------------------ points as graph nodes


@dataclass(frozen=True, eq=False)
class JoinedPoints:
    """The network with snapped points joined in as nodes that split their edges.

    Attributes
    ----------
    csr
        Symmetric adjacency matrix in metres over ``n_base`` network nodes plus the
        new point nodes.
    n_base
        Number of network nodes; rows from ``n_base`` on are point nodes.
    node
        Per input point (in input order), its node (-1 if off the network).
    offset_m
        Per input point, the straight-line offset to its node (NaN if off).
    cache
        Keep the results of the searches on this graph in sharemap's disk cache
        (:mod:`sharemap._cache`, kind ``searches``), keyed on the graph's arrays, the
        nodes and offsets searched from and to, the search's parameters and the
        engine's code: a study run again with the same inputs then runs no search
        (nor imports the compiled engine). Treat the arrays as read-only once joined.
    searches
        How the searches made with :attr:`cache` were had: counts of ``"hit"``,
        ``"miss"`` (searched and kept) and ``"off"`` (searched; not kept), shared by
        the points narrowed from these (:meth:`PreparedPoints.select`) and put on a
        profile's streets (for a study's ``summary.json``).
    """

    csr: sparse.csr_matrix
    n_base: int
    node: npt.NDArray[np.int64]
    offset_m: npt.NDArray[np.float64]
    cache: bool = False
    searches: Counter[str] = field(default_factory=Counter, repr=False)

    def memo(self, search: str, parts: tuple[Any, ...],
             derive: Callable[[], dict[str, npt.NDArray[Any]]], *,
             code: tuple[Path, ...] = ()) -> dict[str, npt.NDArray[Any]]:
        """Return `derive()`, from the disk cache when :attr:`cache` is set.

        `search` names the search; `parts` are everything besides the graph that its
        result depends on (the nodes and offsets searched, limits). The key also holds
        this module's and the engine's source text, and that of the files in `code`
        (the caller's, when `derive` does more than call the engine).
        """
        if not self.cache:
            return derive()
        graph = _cache.array_fingerprint(self.csr, self.csr.indptr, self.csr.indices,
                                         self.csr.data, np.asarray(self.csr.shape))
        key = _cache.cache_key(search, graph, *parts, code=(*_SEARCH_CODE, *code))
        found, status = _cache.cached_arrays("searches", key, derive,
                                             what=f"the {search} search")
        self.searches[status] += 1
        return found


def join_points(network: WalkNetwork, snaps: pd.DataFrame, *,
                cache: bool = False) -> JoinedPoints:
    """Join snapped points into the network as nodes (exact along-edge distances).

    Parameters
    ----------
    network
        The walking network.
    snaps
        Output of :func:`snap_points` (any number of point sets concatenated).
    cache
        Keep the searches' results in the disk cache (see :attr:`JoinedPoints.cache`).

    Returns
    -------
    joined
        The augmented graph and each point's node.
    """
    n = network.n_nodes
    on = snaps["on_network"].to_numpy(bool)
    edge = snaps["edge"].to_numpy(np.int64)[on]
    pos = snaps["position_m"].to_numpy(np.float64)[on]
    length = network.edge_length[edge]
    u, v = network.edge_u[edge], network.edge_v[edge]
    node_on = np.where(pos <= 0.0, u, np.where(pos >= length, v, -1))
    inner = node_on < 0
    # one new node per distinct (edge, position) inside an edge
    ie, ip = edge[inner], pos[inner]
    order = np.lexsort((ip, ie))
    se, sp = ie[order], ip[order]
    new = np.ones(len(se), dtype=bool)
    new[1:] = (se[1:] != se[:-1]) | (sp[1:] != sp[:-1])
    group = np.cumsum(new) - 1
    inner_node = np.empty(len(se), dtype=np.int64)
    inner_node[order] = n + group
    node_on[inner] = inner_node
    ue, up, un = se[new], sp[new], n + np.arange(int(new.sum()))
    # chains u -> p1 -> ... -> v replace each split edge
    split = np.unique(ue)
    ce = np.concatenate([split, ue, split])
    cp = np.concatenate([np.zeros(len(split)), up, network.edge_length[split]])
    cn = np.concatenate([network.edge_u[split], un, network.edge_v[split]])
    rank = np.concatenate([np.zeros(len(split)), np.ones(len(ue)), np.full(len(split), 2.0)])
    order = np.lexsort((rank, cp, ce))
    ce, cp, cn = ce[order], cp[order], cn[order]
    same = ce[1:] == ce[:-1]
    chain_a, chain_b = cn[:-1][same], cn[1:][same]
    chain_w = (cp[1:] - cp[:-1])[same]
    keep = np.ones(len(network.edges), dtype=bool)
    keep[split] = False
    total = n + int(new.sum())
    csr = undirected_csr(
        np.concatenate([network.edge_u[keep], chain_a]),
        np.concatenate([network.edge_v[keep], chain_b]),
        np.concatenate([network.edge_length[keep], chain_w]),
        total,
    )
    node = np.full(len(snaps), -1, dtype=np.int64)
    node[on] = node_on
    offset = np.where(snaps["on_network"].to_numpy(bool),
                      snaps["offset_m"].to_numpy(np.float64), np.nan)
    return JoinedPoints(csr=csr, n_base=n, node=node, offset_m=offset, cache=cache)


def _no_backend(backend: str | None) -> None:
    if backend is not None:
        import warnings

        warnings.warn("the `backend` argument is deprecated and ignored (the compiled engine "
                      "is the only one: numba is required); drop it: it goes in the next "
                      "release", FutureWarning, stacklevel=3)


def nearest_distance(joined: JoinedPoints, origin_idx: npt.NDArray[np.int64],
                     source_idx: npt.NDArray[np.int64], *,
                     backend: str | None = None) -> npt.NDArray[np.float64]:
    """Compute the walking distance (m) from each origin point to its nearest source point.

    Parameters
    ----------
    joined
        Points joined into the network.
    origin_idx, source_idx
        Positions (into the joined points) of the origins and of the sources.
    backend
        Deprecated and ignored: the compiled engine is the only one (numba is
        required); it goes in the next release.

    Returns
    -------
    distance_m
        One value per origin; NaN when the origin is off the network or no source
        is reachable.

    Notes
    -----
    One multi-source Dijkstra pass, every source starting at its offset from the
    street, so the cost is that of a single shortest-path tree whatever the number
    of sources (and, walking being symmetric, the tree gives every origin at once).
    """
    _no_backend(backend)
    out = np.full(len(origin_idx), np.nan)
    src_node, org_node = joined.node[source_idx], joined.node[origin_idx]
    ok_src, ok_org = src_node >= 0, org_node >= 0
    if not ok_src.any() or not ok_org.any():
        return out
    src_off = joined.offset_m[source_idx][ok_src]

    def search() -> dict[str, npt.NDArray[Any]]:
        from . import _engine

        return {"distance_m": _engine.multi_source(joined.csr, src_node[ok_src],
                                                   src_off)[org_node[ok_org]]}

    dist = joined.memo("nearest_distance", (org_node[ok_org], src_node[ok_src], src_off),
                       search)["distance_m"]
    d = dist + joined.offset_m[origin_idx][ok_org]
    out[ok_org] = np.where(np.isfinite(d), d, np.nan)
    return out


def _sides(joined: JoinedPoints, origin_idx: npt.NDArray[np.int64],
           target_idx: npt.NDArray[np.int64]
           ) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    """Positions (into `origin_idx` and `target_idx`) of the points on the network."""
    return (np.flatnonzero(joined.node[origin_idx] >= 0),
            np.flatnonzero(joined.node[target_idx] >= 0))


def pairs_within(joined: JoinedPoints, origin_idx: npt.NDArray[np.int64],
                 target_idx: npt.NDArray[np.int64], *, max_m: float,
                 backend: str | None = None, sort: bool = True) -> pd.DataFrame:
    """Find all (origin, target) pairs within `max_m` metres of walking, with the distance.

    Parameters
    ----------
    joined
        Points joined into the network.
    origin_idx, target_idx
        Positions (into the joined points) of the origins and of the targets.
    max_m
        The longest walk kept (inclusive, within 1e-9 m).
    backend
        Deprecated and ignored (see :func:`nearest_distance`).
    sort
        Sort the pairs by origin, distance and target (False: in no particular
        order, which saves sorting millions of pairs when only sums are needed).

    Returns
    -------
    pairs
        Columns ``origin`` and ``target`` (positions into `origin_idx` and
        `target_idx`) and ``distance_m``, sorted by origin then distance.

    Notes
    -----
    One bounded search per point of the smaller side (walking is symmetric), each
    costing in proportion to the nodes within `max_m` of it; the searches run in
    node order (nodes are numbered along a Hilbert curve), so consecutive searches
    find the nodes they reach still in the CPU cache.
    """
    _no_backend(backend)
    org_ok, tgt_ok = _sides(joined, origin_idx, target_idx)
    empty = pd.DataFrame({"origin": np.array([], np.int64), "target": np.array([], np.int64),
                          "distance_m": np.array([], np.float64)})
    if not len(org_ok) or not len(tgt_ok):
        return empty
    o_pts, t_pts = origin_idx[org_ok], target_idx[tgt_ok]
    from_targets = len(tgt_ok) < len(org_ok)
    src, tgt = (t_pts, o_pts) if from_targets else (o_pts, t_pts)
    order = np.argsort(joined.node[src], kind="stable")
    src = src[order]
    sn, so, tn, to = joined.node[src], joined.offset_m[src], joined.node[tgt], joined.offset_m[tgt]

    def search() -> dict[str, npt.NDArray[Any]]:
        from . import _engine

        g, t, d = _engine.pairs_within(joined.csr, sn, so, tn, to, max_m=max_m + 1e-9)
        return {"g": g, "t": t, "d": d}

    found = joined.memo("pairs_within", (sn, so, tn, to, float(max_m)), search)
    g, t, d = order[found["g"]], found["t"], found["d"]
    o, tt = (t, g) if from_targets else (g, t)
    pairs = pd.DataFrame({"origin": org_ok[o], "target": tgt_ok[tt], "distance_m": d})
    if not sort:
        return pairs
    return pairs.sort_values(["origin", "distance_m", "target"], ignore_index=True)


def counts_within(joined: JoinedPoints, origin_idx: npt.NDArray[np.int64],
                  target_idx: npt.NDArray[np.int64], target_label: npt.NDArray[np.int64], *,
                  limits_m: Sequence[float], n_labels: int,
                  backend: str | None = None) -> npt.NDArray[np.int64]:
    """Count the targets of each label within each walking distance of every origin.

    Parameters
    ----------
    joined
        Points joined into the network.
    origin_idx, target_idx
        Positions (into the joined points) of the origins and of the targets.
    target_label
        Per target, a label in ``0..n_labels-1`` (e.g. its category's position).
    limits_m
        Increasing distances in metres (inclusive, within 1e-9 m).
    n_labels
        Number of labels.
    backend
        Deprecated and ignored (see :func:`nearest_distance`).

    Returns
    -------
    counts
        Shape ``(len(origin_idx), n_labels, len(limits_m))``; zero for origins off
        the network.

    Notes
    -----
    No pair list is built: bounded searches run from the smaller side (usually the
    spaces) and add up counts as they go.
    """
    _no_backend(backend)
    lim = np.asarray(limits_m, dtype=np.float64) + 1e-9
    out = np.zeros((len(origin_idx), n_labels, len(lim)), dtype=np.int64)
    org_ok, tgt_ok = _sides(joined, origin_idx, target_idx)
    if not len(org_ok) or not len(tgt_ok):
        return out
    o_pts, t_pts = origin_idx[org_ok], target_idx[tgt_ok]
    labels = np.asarray(target_label, dtype=np.int64)[tgt_ok]
    from_origins = len(org_ok) <= len(tgt_ok)
    src, tgt = (o_pts, t_pts) if from_origins else (t_pts, o_pts)
    sn, so, tn, to = joined.node[src], joined.offset_m[src], joined.node[tgt], joined.offset_m[tgt]

    def search() -> dict[str, npt.NDArray[Any]]:
        from . import _engine

        return {"counts": _engine.counts_within(
            joined.csr, sn, so, tn, to, limits_m=lim, labels=labels, n_labels=n_labels,
            to_source=from_origins)}

    out[org_ok] = joined.memo("counts_within", (sn, so, tn, to, lim, labels, n_labels,
                                                from_origins), search)["counts"]
    return out


# ------------------------------------------------------------------ prepare once, then measure

#: The columns :func:`snap_points` gives (a table with them is reused as it is).
SNAP_COLUMNS = ("edge", "position_m", "offset_m", "dist_u_m", "dist_v_m", "on_network")

Points: TypeAlias = gpd.GeoSeries | gpd.GeoDataFrame


@dataclass(frozen=True, eq=False)
class PreparedPoints:
    """Origins and targets snapped to the network and joined into it: prepare once, measure often.

    Made by :func:`prepare_points`. Every measure takes one: walk times, pairs and
    counts within a walk (this module), nearest spaces (:mod:`sharemap.gaps`),
    isochrones (:mod:`sharemap.isochrones`), and the study's stages. Snapping and
    joining are the costly part of a small query (seconds for 100,000 points); the
    searches then touch only the nodes they reach.

    Attributes
    ----------
    network
        The walking network.
    joined
        The network with every on-network point joined in as a node: the origins
        first, then the targets.
    origin_snaps, target_snaps
        :func:`snap_points` of the origins and of the targets, each aligned to its
        points' index (the labels the measures look points up by).
    max_snap_m
        The snapping limit they were made with.
    """

    network: WalkNetwork
    joined: JoinedPoints
    origin_snaps: pd.DataFrame
    target_snaps: pd.DataFrame
    max_snap_m: float

    @property
    def n_origins(self) -> int:
        """Number of origins (on the network or not)."""
        return len(self.origin_snaps)

    @property
    def origin_idx(self) -> npt.NDArray[np.int64]:
        """Positions of the origins in :attr:`joined`."""
        return np.arange(self.n_origins, dtype=np.int64)

    @property
    def target_idx(self) -> npt.NDArray[np.int64]:
        """Positions of the targets in :attr:`joined`."""
        return self.n_origins + np.arange(len(self.target_snaps), dtype=np.int64)

    @property
    def off_network_origins(self) -> pd.Index:
        """Labels of the origins farther than :attr:`max_snap_m` from every street."""
        return self.origin_snaps.index[~self.origin_snaps["on_network"].to_numpy(bool)]

    @property
    def off_network_targets(self) -> pd.Index:
        """Labels of the targets farther than :attr:`max_snap_m` from every street."""
        return self.target_snaps.index[~self.target_snaps["on_network"].to_numpy(bool)]

    def __repr__(self) -> str:
        return (f"PreparedPoints({self.n_origins:,} origins, {len(self.target_snaps):,} "
                f"targets, {len(self.off_network_origins) + len(self.off_network_targets):,} "
                f"off the network; max_snap_m={self.max_snap_m:g})")

    def locate(self, origins: Points | pd.Index | None = None,
               targets: Points | pd.Index | None = None
               ) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
        """Return the positions in :attr:`joined` of some origins and targets (by index label).

        Parameters
        ----------
        origins, targets
            Points (or index labels) among those the points were prepared with; None
            for all of them.

        Returns
        -------
        origin_idx, target_idx
            Positions into :attr:`joined`, in the order given.

        Raises
        ------
        InputDataError
            When a label is not among the prepared points.
        """
        o = _positions(self.origin_snaps.index, origins, "origins")
        t = _positions(self.target_snaps.index, targets, "targets")
        return o, self.n_origins + t

    def select(self, origins: Points | pd.Index | None = None,
               targets: Points | pd.Index | None = None) -> PreparedPoints:
        """Return these points narrowed to some origins and targets (by index label).

        Nothing is snapped or joined again: the result shares :attr:`joined`'s graph.

        Parameters
        ----------
        origins, targets
            As for :meth:`locate`.

        Returns
        -------
        points
            Prepared points holding exactly `origins` and `targets`, in that order
            (itself when they are all of them, in order).
        """
        o, t = self.locate(origins, targets)
        if np.array_equal(o, self.origin_idx) and np.array_equal(t, self.target_idx):
            return self
        keep = np.concatenate([o, t])
        joined = JoinedPoints(csr=self.joined.csr, n_base=self.joined.n_base,
                              node=self.joined.node[keep], offset_m=self.joined.offset_m[keep],
                              cache=self.joined.cache, searches=self.joined.searches)
        return PreparedPoints(network=self.network, joined=joined,
                              origin_snaps=self.origin_snaps.iloc[o],
                              target_snaps=self.target_snaps.iloc[t - self.n_origins],
                              max_snap_m=self.max_snap_m)


def _positions(prepared: pd.Index, given: Points | pd.Index | None,
               what: str) -> npt.NDArray[np.int64]:
    """Positions of `given`'s labels in `prepared` (all of them for None)."""
    if given is None:
        return np.arange(len(prepared), dtype=np.int64)
    labels = given if isinstance(given, pd.Index) else given.index
    if not len(labels):
        return np.empty(0, dtype=np.int64)
    if labels.equals(prepared):
        return np.arange(len(prepared), dtype=np.int64)
    pos = prepared.get_indexer(labels) if prepared.is_unique else None
    if pos is None or (pos < 0).any():
        msg = (f"these {what} are not among the points prepared (looked up by index label); "
               f"prepare them with `prepare_points(network, origins, targets)`")
        raise InputDataError(msg)
    return pos.astype(np.int64)


def _snaps_of(network: WalkNetwork, points: Points | pd.DataFrame, max_snap_m: float,
              what: str) -> pd.DataFrame:
    if isinstance(points, gpd.GeoSeries | gpd.GeoDataFrame):
        geoms = points.geometry if isinstance(points, gpd.GeoDataFrame) else points
        return snap_points(network, to_crs_of(geoms, network.crs, what),
                           max_snap_m=max_snap_m)
    if isinstance(points, pd.DataFrame) and set(SNAP_COLUMNS) <= set(points.columns):
        return points
    msg = (f"`{what}` must be points (a GeoSeries or GeoDataFrame) or their snaps from "
           f"`snap_points`, got {type(points).__name__}")
    raise InputDataError(msg)


def prepare_points(network: WalkNetwork, origins: Points | pd.DataFrame,
                   targets: Points | pd.DataFrame, *,
                   max_snap_m: float = DEFAULT_MAX_SNAP_M,
                   cache: bool = False) -> PreparedPoints:
    """Snap origins and targets to the network and join them in: the work every measure shares.

    Parameters
    ----------
    network
        The walking network.
    origins, targets
        Points in any CRS, reprojected to the network's (other geometries use their
        representative point), or their snaps from :func:`snap_points`, reused as they are (a study
        keeps its block origins' snaps: see ``StudyResult.block_snaps``).
    max_snap_m
        Points farther than this from every edge are off the network: they are
        kept (and listed by ``off_network_origins`` / ``off_network_targets``) but
        reach nothing.
    cache
        Keep the results of the searches made on these points in sharemap's disk
        cache, so that the same searches in a later process read them instead (see
        :attr:`JoinedPoints.cache`; a study run with ``cache=True`` sets it).

    Returns
    -------
    points
        The prepared points, for :func:`walk_times`, :func:`spaces_within`,
        :func:`count_within`, :func:`sharemap.isochrones.isochrones` and the
        study's stages.

    Examples
    --------
    >>> import geopandas as gpd
    >>> from sharemap.datasets import demo_dir
    >>> from sharemap.network import network_from_osm_xml
    >>> net = network_from_osm_xml(demo_dir() / "walk.osm")
    >>> spaces = gpd.GeoDataFrame({"category": ["bike", "tools"]},
    ...                           geometry=list(net.nodes.geometry.iloc[[0, 50]]), crs=net.crs)
    >>> origins = net.nodes.geometry.iloc[:3]
    >>> pts = prepare_points(net, origins, spaces)
    >>> walk_times(pts, origins, spaces).equals(walk_times(net, origins, spaces))
    True
    """
    so = _snaps_of(network, origins, max_snap_m, "origins")
    st = _snaps_of(network, targets, max_snap_m, "targets")
    joined = join_points(network, pd.concat([so, st], ignore_index=True), cache=cache)
    return PreparedPoints(network=network, joined=joined, origin_snaps=so, target_snaps=st,
                          max_snap_m=float(max_snap_m))


def as_prepared(network: WalkNetwork | PreparedPoints, origins: Points | pd.Index,
                targets: Points | pd.Index, *, max_snap_m: float | None = None
                ) -> PreparedPoints:
    """Return `origins` and `targets` prepared: from prepared points, or on a network.

    What every measure that takes "a network, or points prepared on it" calls first.

    Parameters
    ----------
    network
        The walking network, or points prepared on it (:func:`prepare_points`) that
        include `origins` and `targets` (by index label).
    origins, targets
        The points the measure is for (with prepared points, index labels will do).
    max_snap_m
        The snapping limit: default 250 m, or the prepared points' own (another
        value with prepared points is an error).

    Returns
    -------
    points
        Prepared points holding exactly `origins` then `targets`.

    Raises
    ------
    InputDataError
        When prepared points lack some of the points, or were snapped with another
        `max_snap_m`.
    """
    if isinstance(network, PreparedPoints):
        if max_snap_m is not None and float(max_snap_m) != network.max_snap_m:
            msg = (f"`max_snap_m` = {max_snap_m:g}, but the points were prepared with "
                   f"{network.max_snap_m:g}; leave it out or prepare them again")
            raise InputDataError(msg)
        return network.select(origins, targets)
    return prepare_points(network, origins, targets,
                          max_snap_m=DEFAULT_MAX_SNAP_M if max_snap_m is None else max_snap_m)


# ----------------------------------------------------------------------- analyst API


def _categories(spaces: gpd.GeoDataFrame, category_col: str) -> list[str]:
    if category_col not in spaces:
        msg = f"spaces have no `{category_col}` column; columns are {list(spaces.columns)}"
        raise InputDataError(msg)
    return list(dict.fromkeys(spaces[category_col].astype(str)))


def walk_times(network: WalkNetwork | PreparedPoints, origins: Points,
               spaces: gpd.GeoDataFrame, *, category_col: str = "category",
               walk_speed_kmh: float = DEFAULT_SPEED_KMH, max_snap_m: float | None = None
               ) -> pd.DataFrame:
    """Compute walking minutes from every origin to the nearest space of each category.

    Parameters
    ----------
    network
        The walking network, or points prepared on it (:func:`prepare_points`), so
        that several measures snap and join the points once.
    origins
        Origin points (e.g. block origins), in any CRS (reprojected); with prepared
        points, some or all of their origins (looked up by index label).
    spaces
        Spaces with a category column, in any CRS (reprojected); with prepared points,
        some or all of their targets.
    category_col
        The column naming each space's category.
    walk_speed_kmh
        Walking speed.
    max_snap_m
        Points farther than this from the network are not analysed (NaN); default
        250 m, or the prepared points' own.

    Returns
    -------
    times
        Aligned to `origins`' index, one column ``walk_min_<category>`` per category;
        NaN where no space of that category is reachable.

    Examples
    --------
    >>> import geopandas as gpd
    >>> from shapely.geometry import Point
    >>> from sharemap.datasets import demo_dir
    >>> from sharemap.network import network_from_osm_xml
    >>> net = network_from_osm_xml(demo_dir() / "walk.osm")
    >>> node = net.nodes.geometry.iloc[0]
    >>> spaces = gpd.GeoDataFrame({"category": ["bike"]}, geometry=[node], crs=net.crs)
    >>> origins = gpd.GeoSeries([node], crs=net.crs)
    >>> float(walk_times(net, origins, spaces)["walk_min_bike"].iloc[0])
    0.0
    """
    cats = _categories(spaces, category_col)
    points = as_prepared(network, origins, spaces, max_snap_m=max_snap_m)
    o_idx, s_idx = points.origin_idx, points.target_idx
    speed = metres_per_minute(walk_speed_kmh)
    labels = spaces[category_col].astype(str).to_numpy()
    out = {walk_col(c): nearest_distance(points.joined, o_idx, s_idx[labels == c]) / speed
           for c in cats}
    return pd.DataFrame(out, index=origins.index)


def spaces_within(network: WalkNetwork | PreparedPoints, origins: Points,
                  spaces: gpd.GeoDataFrame, *, minutes: float,
                  walk_speed_kmh: float = DEFAULT_SPEED_KMH, max_snap_m: float | None = None
                  ) -> pd.DataFrame:
    """Find every (origin, space) pair within `minutes` of walking.

    Parameters
    ----------
    network
        The walking network, or points prepared on it (:func:`prepare_points`).
    origins
        Origin points in any CRS (reprojected; with prepared points: some or all of
        their origins).
    spaces
        Spaces in any CRS (reprojected; with prepared points: some or all of their
        targets).
    minutes
        The longest walk kept.
    walk_speed_kmh
        Walking speed.
    max_snap_m
        Points farther than this from the network are not analysed; default 250 m,
        or the prepared points' own.

    Returns
    -------
    pairs
        Columns ``origin`` (origins' index label), ``space`` (spaces' index label)
        and ``minutes``, sorted by origin then minutes.
    """
    points = as_prepared(network, origins, spaces, max_snap_m=max_snap_m)
    o_idx, s_idx = points.origin_idx, points.target_idx
    speed = metres_per_minute(walk_speed_kmh)
    pairs = pairs_within(points.joined, o_idx, s_idx, max_m=minutes * speed)
    return pd.DataFrame({
        "origin": origins.index.to_numpy()[pairs["origin"].to_numpy()],
        "space": spaces.index.to_numpy()[pairs["target"].to_numpy()],
        "minutes": pairs["distance_m"].to_numpy() / speed,
    })


def count_within(network: WalkNetwork | PreparedPoints, origins: Points,
                 spaces: gpd.GeoDataFrame, *, minutes: Sequence[float] = (5, 10, 15),
                 category_col: str = "category", walk_speed_kmh: float = DEFAULT_SPEED_KMH,
                 max_snap_m: float | None = None) -> pd.DataFrame:
    """Count the spaces of each category within each walking time of every origin.

    Parameters
    ----------
    network
        The walking network, or points prepared on it (:func:`prepare_points`).
    origins
        Origin points in any CRS (reprojected; with prepared points: some or all of
        their origins).
    spaces
        Spaces with a category column, in any CRS (reprojected; with prepared points:
        some or all of their targets).
    minutes
        Walking times.
    category_col
        The column naming each space's category.
    walk_speed_kmh
        Walking speed.
    max_snap_m
        Points farther than this from the network are not analysed (count 0);
        default 250 m, or the prepared points' own.

    Returns
    -------
    counts
        Aligned to `origins`' index, columns ``n_reachable_<category>_<minutes>``.
    """
    cats = _categories(spaces, category_col)
    points = as_prepared(network, origins, spaces, max_snap_m=max_snap_m)
    o_idx, s_idx = points.origin_idx, points.target_idx
    speed = metres_per_minute(walk_speed_kmh)
    mins = sorted({float(m) for m in minutes})
    labels = pd.Categorical(spaces[category_col].astype(str), categories=cats).codes
    counts = counts_within(points.joined, o_idx, s_idx, labels.astype(np.int64),
                           limits_m=[m * speed for m in mins], n_labels=len(cats))
    out = {}
    for c, cat in enumerate(cats):
        for m in minutes:
            k = mins.index(float(m))
            out[f"n_reachable_{cat}_{float(m):g}"] = counts[:, c, k]
    return pd.DataFrame(out, index=origins.index)


#: Renamed (one verb for "within", as the engine says); the old names work for one release.
_RENAMED = {"within_pairs": "pairs_within", "within_counts": "counts_within"}


def __getattr__(name: str) -> Any:
    if name in _RENAMED:
        warn_renamed(f"sharemap.access.{name}", f"sharemap.access.{_RENAMED[name]}")
        return globals()[_RENAMED[name]]
    # isochrones moved to their own module, sharemap.isochrones (the one import of
    # this module that points up; the import contract allows it)
    if name == "isochrones":
        import warnings

        from .isochrones import isochrones  # the module, not sharemap.isochrones

        warnings.warn("sharemap.access.isochrones is deprecated: use "
                      "sharemap.isochrones.isochrones (or sharemap.isochrones)",
                      FutureWarning, stacklevel=2)
        return isochrones
    msg = f"module {__name__!r} has no attribute {name!r}"
    raise AttributeError(msg)
