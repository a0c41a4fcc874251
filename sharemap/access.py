"""Walking access: snapping points to the network, walk times, reachable spaces, isochrones.

Every distance here follows ``SPEC.md``: a point joins the network at the nearest
point of the nearest edge; from there it walks along that edge (in both
directions) and on through the network; the straight-line offset from the point
to the edge is added once at each end. Points are joined into the graph as extra
nodes that split their edges, so two points on the same street segment are
connected directly along it, and every answer is an exact shortest path.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

import geopandas as gpd
import numpy as np
import numpy.typing as npt
import pandas as pd
import shapely
from scipy import sparse
from scipy.sparse.csgraph import dijkstra
from tqdm.auto import tqdm

from ._crs import check_same_crs
from ._errors import InputDataError
from .network import MIN_WEIGHT_M, WalkNetwork, undirected_csr

__all__ = [
    "JoinedPoints",
    "count_within",
    "isochrones",
    "join_points",
    "nearest_distance",
    "snap_points",
    "spaces_within",
    "walk_col",
    "walk_times",
]

logger = logging.getLogger(__name__)

DEFAULT_SPEED_KMH = 4.8
#: Rows of a dense distance block held at once (float64: 8 bytes each).
_CHUNK_CELLS = 20_000_000


def walk_col(category: str) -> str:
    """Return the block column holding the walk minutes to `category`."""
    return f"walk_min_{category}"


def _m_per_min(walk_speed_kmh: float) -> float:
    return walk_speed_kmh * 1000.0 / 60.0


def _points(geoms: gpd.GeoSeries | gpd.GeoDataFrame, network: WalkNetwork,
            what: str) -> npt.NDArray[np.object_]:
    series = geoms.geometry if isinstance(geoms, gpd.GeoDataFrame) else geoms
    check_same_crs(series.crs, network.crs, f"{what} and the network")
    arr = series.to_numpy()
    bad = ~shapely.is_empty(arr) & (shapely.get_type_id(arr) != 0)
    if bad.any():
        arr = arr.copy()
        arr[bad] = shapely.point_on_surface(arr[bad])
    return arr


# ----------------------------------------------------------------------------- snapping


def snap_points(network: WalkNetwork, points: gpd.GeoSeries | gpd.GeoDataFrame, *,
                max_snap_m: float = 250.0) -> pd.DataFrame:
    """Snap points to the nearest point of the nearest network edge.

    Parameters
    ----------
    network
        The walking network.
    points
        Points (other geometries use their representative point) in the network's CRS.
    max_snap_m
        Points farther than this from every edge are not snapped.

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
    Vectorised with shapely's STRtree ``query_nearest``; ties go to the edge
    listed first.
    """
    arr = _points(points, network, "points")
    n = len(arr)
    edge = np.full(n, -1, dtype=np.int64)
    offset = np.full(n, np.nan)
    valid = ~(shapely.is_empty(arr) | shapely.is_missing(arr))
    if valid.any() and len(network.edges):
        idx = np.flatnonzero(valid)
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
    """

    csr: sparse.csr_matrix
    n_base: int
    node: npt.NDArray[np.int64]
    offset_m: npt.NDArray[np.float64]


def join_points(network: WalkNetwork, snaps: pd.DataFrame) -> JoinedPoints:
    """Join snapped points into the network as nodes (exact along-edge distances).

    Parameters
    ----------
    network
        The walking network.
    snaps
        Output of :func:`snap_points` (any number of point sets concatenated).

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
    return JoinedPoints(csr=csr, n_base=n, node=node, offset_m=offset)


def _with_super_source(csr: sparse.csr_matrix, nodes: npt.NDArray[np.int64],
                       weights: npt.NDArray[np.float64]) -> sparse.csr_matrix:
    """Add one node linked to `nodes` by one-way edges of `weights` (min per node)."""
    total = csr.shape[0]
    best = np.full(total, np.inf)
    np.minimum.at(best, nodes, np.maximum(weights, MIN_WEIGHT_M))
    targets = np.flatnonzero(np.isfinite(best))
    coo = csr.tocoo()
    rows = np.concatenate([coo.row, np.full(len(targets), total)])
    cols = np.concatenate([coo.col, targets])
    data = np.concatenate([coo.data, best[targets]])
    return sparse.csr_matrix((data, (rows, cols)), shape=(total + 1, total + 1))


def nearest_distance(joined: JoinedPoints, origin_idx: npt.NDArray[np.int64],
                     source_idx: npt.NDArray[np.int64]) -> npt.NDArray[np.float64]:
    """Compute the walking distance (m) from each origin point to its nearest source point.

    Parameters
    ----------
    joined
        Points joined into the network.
    origin_idx, source_idx
        Positions (into the joined points) of the origins and of the sources.

    Returns
    -------
    distance_m
        One value per origin; NaN when the origin is off the network or no source
        is reachable.

    Notes
    -----
    One Dijkstra pass from a virtual node linked to every source by its offset,
    so the cost is that of a single shortest-path tree, whatever the number of
    sources.
    """
    out = np.full(len(origin_idx), np.nan)
    src_node = joined.node[source_idx]
    ok_src = src_node >= 0
    org_node = joined.node[origin_idx]
    ok_org = org_node >= 0
    if not ok_src.any() or not ok_org.any():
        return out
    graph = _with_super_source(joined.csr, src_node[ok_src],
                               joined.offset_m[source_idx][ok_src])
    dist = dijkstra(graph, directed=True, indices=graph.shape[0] - 1)
    d = dist[org_node[ok_org]] + joined.offset_m[origin_idx][ok_org]
    out[ok_org] = np.where(np.isfinite(d), d, np.nan)
    return out


def within_pairs(joined: JoinedPoints, origin_idx: npt.NDArray[np.int64],
                 target_idx: npt.NDArray[np.int64], *, max_m: float,
                 progress: bool = False) -> pd.DataFrame:
    """Find all (origin, target) pairs within `max_m` metres of walking, with the distance.

    Returns
    -------
    pairs
        Columns ``origin`` and ``target`` (positions into `origin_idx` and
        `target_idx`) and ``distance_m``, sorted by origin then distance.
    """
    org_node = joined.node[origin_idx]
    tgt_node = joined.node[target_idx]
    org_ok = np.flatnonzero(org_node >= 0)
    tgt_ok = np.flatnonzero(tgt_node >= 0)
    empty = pd.DataFrame({"origin": np.array([], np.int64), "target": np.array([], np.int64),
                          "distance_m": np.array([], np.float64)})
    if not len(org_ok) or not len(tgt_ok):
        return empty
    t_nodes = tgt_node[tgt_ok]
    t_off = joined.offset_m[target_idx][tgt_ok]
    o_off_all = joined.offset_m[origin_idx]
    chunk = max(1, _CHUNK_CELLS // joined.csr.shape[0])
    parts = []
    for start in tqdm(range(0, len(org_ok), chunk), disable=not progress, desc="reach",
                      unit="chunk"):
        rows = org_ok[start:start + chunk]
        dist = dijkstra(joined.csr, directed=False, indices=org_node[rows], limit=max_m)
        total = dist[:, t_nodes] + t_off[None, :] + o_off_all[rows][:, None]
        r, c = np.nonzero(total <= max_m + 1e-9)
        parts.append(pd.DataFrame({"origin": rows[r], "target": tgt_ok[c],
                                   "distance_m": total[r, c]}))
    pairs = pd.concat(parts, ignore_index=True) if parts else empty
    return pairs.sort_values(["origin", "distance_m", "target"], ignore_index=True)


# ----------------------------------------------------------------------- analyst API


def _prepare(network: WalkNetwork, origins: gpd.GeoSeries | gpd.GeoDataFrame,
             spaces: gpd.GeoDataFrame, max_snap_m: float
             ) -> tuple[JoinedPoints, npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    so = snap_points(network, origins, max_snap_m=max_snap_m)
    ss = snap_points(network, spaces, max_snap_m=max_snap_m)
    joined = join_points(network, pd.concat([so, ss], ignore_index=True))
    o_idx = np.arange(len(so), dtype=np.int64)
    s_idx = np.arange(len(so), len(so) + len(ss), dtype=np.int64)
    return joined, o_idx, s_idx


def _categories(spaces: gpd.GeoDataFrame, category_col: str) -> list[str]:
    if category_col not in spaces:
        msg = f"spaces have no `{category_col}` column; columns are {list(spaces.columns)}"
        raise InputDataError(msg)
    return list(dict.fromkeys(spaces[category_col].astype(str)))


def walk_times(network: WalkNetwork, origins: gpd.GeoSeries | gpd.GeoDataFrame,
               spaces: gpd.GeoDataFrame, *, category_col: str = "category",
               walk_speed_kmh: float = DEFAULT_SPEED_KMH, max_snap_m: float = 250.0
               ) -> pd.DataFrame:
    """Compute walking minutes from every origin to the nearest space of each category.

    Parameters
    ----------
    network
        The walking network.
    origins
        Origin points (e.g. block origins), in the network's CRS.
    spaces
        Spaces with a category column, in the network's CRS.
    category_col
        The column naming each space's category.
    walk_speed_kmh
        Walking speed.
    max_snap_m
        Points farther than this from the network are not analysed (NaN).

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
    joined, o_idx, s_idx = _prepare(network, origins, spaces, max_snap_m)
    speed = _m_per_min(walk_speed_kmh)
    labels = spaces[category_col].astype(str).to_numpy()
    out = {walk_col(c): nearest_distance(joined, o_idx, s_idx[labels == c]) / speed
           for c in cats}
    return pd.DataFrame(out, index=origins.index)


def spaces_within(network: WalkNetwork, origins: gpd.GeoSeries | gpd.GeoDataFrame,
                  spaces: gpd.GeoDataFrame, *, minutes: float,
                  walk_speed_kmh: float = DEFAULT_SPEED_KMH, max_snap_m: float = 250.0
                  ) -> pd.DataFrame:
    """Find every (origin, space) pair within `minutes` of walking.

    Returns
    -------
    pairs
        Columns ``origin`` (origins' index label), ``space`` (spaces' index label)
        and ``minutes``, sorted by origin then minutes.
    """
    joined, o_idx, s_idx = _prepare(network, origins, spaces, max_snap_m)
    speed = _m_per_min(walk_speed_kmh)
    pairs = within_pairs(joined, o_idx, s_idx, max_m=minutes * speed)
    return pd.DataFrame({
        "origin": origins.index.to_numpy()[pairs["origin"].to_numpy()],
        "space": spaces.index.to_numpy()[pairs["target"].to_numpy()],
        "minutes": pairs["distance_m"].to_numpy() / speed,
    })


def count_within(network: WalkNetwork, origins: gpd.GeoSeries | gpd.GeoDataFrame,
                 spaces: gpd.GeoDataFrame, *, minutes: Sequence[float] = (5, 10, 15),
                 category_col: str = "category", walk_speed_kmh: float = DEFAULT_SPEED_KMH,
                 max_snap_m: float = 250.0) -> pd.DataFrame:
    """Count the spaces of each category within each walking time of every origin.

    Returns
    -------
    counts
        Aligned to `origins`' index, columns ``n_reachable_<category>_<minutes>``.
    """
    cats = _categories(spaces, category_col)
    pairs = spaces_within(network, origins, spaces, minutes=max(minutes),
                          walk_speed_kmh=walk_speed_kmh, max_snap_m=max_snap_m)
    pairs["category"] = spaces[category_col].astype(str).reindex(pairs["space"]).to_numpy()
    out = {}
    for cat in cats:
        sub = pairs[pairs["category"] == cat]
        for m in minutes:
            counts = sub[sub["minutes"] <= m + 1e-9].groupby("origin").size()
            label = f"{m:g}"
            out[f"n_reachable_{cat}_{label}"] = (
                counts.reindex(origins.index, fill_value=0).astype(np.int64))
    return pd.DataFrame(out, index=origins.index)


# ------------------------------------------------------------------------- isochrones


def _reached_lines(network: WalkNetwork, dist: npt.NDArray[np.float64], budget: float,
                   snap: pd.Series) -> list[shapely.Geometry]:
    """Return the parts of every edge reachable within `budget` metres, given node distances."""
    du, dv = dist[network.edge_u], dist[network.edge_v]
    length = network.edge_length
    ra = np.clip(budget - du, 0.0, None)
    rb = np.clip(budget - dv, 0.0, None)
    geoms = network.edges.geometry.to_numpy()
    full = ra + rb >= length
    lines = list(geoms[full])
    for i in np.flatnonzero(~full & ((ra > 0) | (rb > 0))):
        if ra[i] > 0:
            lines.append(shapely.ops.substring(geoms[i], 0.0, ra[i]))
        if rb[i] > 0:
            lines.append(shapely.ops.substring(geoms[i], length[i] - rb[i], length[i]))
    # the point's own edge, walked both ways from the snap position
    e = int(snap["edge"])
    r = budget - float(snap["offset_m"])
    if r > 0:
        p = float(snap["position_m"])
        lines.append(shapely.ops.substring(geoms[e], max(0.0, p - r), min(length[e], p + r)))
    return lines


def isochrones(network: WalkNetwork, points: gpd.GeoDataFrame, *,
               minutes: Sequence[float] = (5, 10, 15),
               walk_speed_kmh: float = DEFAULT_SPEED_KMH, buffer_m: float = 25.0,
               max_snap_m: float = 250.0, progress: bool = False) -> gpd.GeoDataFrame:
    """Street-following isochrone polygons for each point and walking time.

    Parameters
    ----------
    network
        The walking network.
    points
        Points in the network's CRS (their other columns are carried over).
    minutes
        Walking times; polygons are nested (5 ⊂ 10 ⊂ 15).
    walk_speed_kmh
        Walking speed.
    buffer_m
        Half-width of the band drawn around every reached street.
    max_snap_m
        Points farther than this from the network get no polygon.
    progress
        Show a progress bar.

    Returns
    -------
    isochrones
        One row per point and time: the point's columns, ``minutes``, and the
        polygon (the reached streets, including the reached part of edges where
        time runs out, and the walk from the point to its street, buffered).

    Notes
    -----
    Only streets are buffered, so a polygon never spans a river or railway the
    network does not cross (wider than twice `buffer_m`). Counting never uses
    these polygons; they are for display.
    """
    snaps = snap_points(network, points, max_snap_m=max_snap_m)
    speed = _m_per_min(walk_speed_kmh)
    arr = _points(points, network, "points")
    rows, geoms = [], []
    mins = sorted(float(m) for m in minutes)
    for i in tqdm(range(len(points)), disable=not progress, desc="isochrones"):
        snap = snaps.iloc[i]
        if not snap["on_network"]:
            continue
        e = int(snap["edge"])
        u, v = int(network.edge_u[e]), int(network.edge_v[e])
        budget_max = mins[-1] * speed
        dist = dijkstra(network.csr, directed=False, indices=[u, v], limit=budget_max)
        node_dist = np.minimum(dist[0] + snap["dist_u_m"], dist[1] + snap["dist_v_m"])
        line_from_point = shapely.shortest_line(arr[i], network.edges.geometry.iloc[e])
        for m in mins:
            budget = m * speed
            lines = _reached_lines(network, node_dist, budget, snap)
            if budget > snap["offset_m"]:
                lines.append(line_from_point)
            poly = shapely.union_all(shapely.buffer(np.array(lines, dtype=object), buffer_m))
            rows.append(i)
            geoms.append(shapely.make_valid(poly))
    base = pd.DataFrame(points.drop(columns=points.geometry.name)).iloc[rows]
    base = base.reset_index(drop=False)
    base["minutes"] = [m for i in range(len(points)) if snaps.iloc[i]["on_network"] for m in mins]
    return gpd.GeoDataFrame(base, geometry=geoms, crs=network.crs)
