"""Street-following isochrones: where a walk of 5, 10, 15 minutes reaches, as polygons.

One bounded search per point (from both ends of the street it joins, exactly as
:mod:`sharemap.access` measures walks) gives the walk to every node within the longest
time; from it, the reached stretch of every edge at each time, cut into straight
segments with plain array arithmetic. The polygon is the contour, at `buffer_m`, of the
exact distance to those segments on a fine grid (compiled, in :mod:`sharemap._engine`),
so it follows the streets and never spans a river or railway the network does not
cross. The polygons are for display (the map's isochrone layer): counting never uses
them.

Note that ``sharemap.isochrones`` is the function (the flat API), not this module:
import from the module with ``from sharemap.isochrones import isochrones``.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import geopandas as gpd
import numpy as np
import numpy.typing as npt
import pandas as pd
import shapely
from tqdm import tqdm  # not tqdm.auto: it warns in Jupyter without ipywidgets

from .access import (
    DEFAULT_MAX_SNAP_M,
    DEFAULT_SPEED_KMH,
    PreparedPoints,
    as_prepared,
    metres_per_minute,
    point_array,
    snap_points,
)
from .network import WalkNetwork

__all__ = ["MAX_ISOCHRONE_SPACES", "MERGED_MAX_CELLS", "isochrone_layer", "isochrones",
           "merged_isochrones"]

logger = logging.getLogger(__name__)

#: Points per batch of isochrone searches (bounds the memory of the reach tables).
_ISO_BATCH = 128
#: The most spaces of one category drawn one isochrone each on a map; above it the
#: category's isochrones are merged (:func:`merged_isochrones`), one polygon per time.
MAX_ISOCHRONE_SPACES = 200
#: The largest grid a merged isochrone is traced on (8 million cells, 64 MB per field):
#: over a larger extent the grid is coarsened, so memory does not grow with the area.
MERGED_MAX_CELLS = 8_000_000


def _reach_table(network: WalkNetwork, snaps: pd.DataFrame, budget_m: float, *,
                 merged: bool = False
                 ) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64],
                            npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """For every point, the edges it reaches: (point, edge, walk to ``u``, walk to ``v``).

    One bounded search per point, started at both ends of its street; a walk is
    ``inf`` at an end not reached within `budget_m`. With `merged`, one search from
    all the points together (the walk from the nearest), reported as point 0.
    """
    from . import _engine  # numba: imported when first needed (import sharemap stays light)

    k = len(snaps)
    eu = network.edge_u[snaps["edge"].to_numpy()]
    ev = network.edge_v[snaps["edge"].to_numpy()]
    src = np.column_stack([eu, ev]).ravel()
    off = snaps[["dist_u_m", "dist_v_m"]].to_numpy(np.float64).ravel()
    n = network.n_nodes
    groups = np.array([0, 2 * k]) if merged else np.arange(0, 2 * k + 1, 2)
    g, node, d = _engine.pairs_within(network.csr, src, off, np.arange(n), np.zeros(n),
                                      max_m=budget_m, group_ptr=groups)
    ptr, inc_edge, inc_end = network.node_edges
    cnt = ptr[node + 1] - ptr[node]
    rep = np.repeat(np.arange(len(node)), cnt)
    first = np.cumsum(cnt) - cnt
    pos = ptr[node][rep] + np.arange(int(cnt.sum())) - first[rep]
    m = len(network.edges)
    keys, inv = np.unique(g[rep] * m + inc_edge[pos], return_inverse=True)
    du = np.full(len(keys), np.inf)
    dv = np.full(len(keys), np.inf)
    at_u = inc_end[pos] == 0
    du[inv[at_u]] = d[rep][at_u]
    dv[inv[~at_u]] = d[rep][~at_u]
    return keys // m, keys % m, du, dv


def _pieces(network: WalkNetwork, reach: tuple[npt.NDArray[Any], ...], snaps: pd.DataFrame,
            budget: float) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64],
                                    npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """Return the reached stretch ``[a, b]`` (metres from ``u``) of each edge, per point."""
    pt, e, du, dv = reach
    length = network.edge_length[e]
    ra = budget - du
    rb = budget - dv
    full = (np.maximum(ra, 0) + np.maximum(rb, 0) >= length) & ((ra > 0) | (rb > 0))
    from_u = ~full & (ra > 0)
    from_v = ~full & (rb > 0)
    # the point's own street, walked both ways from the snap position
    r = budget - snaps["offset_m"].to_numpy(np.float64)
    own = np.flatnonzero(r > 0)
    oe = snaps["edge"].to_numpy(np.int64)[own]
    op = snaps["position_m"].to_numpy(np.float64)[own]
    return (
        np.concatenate([pt[full], pt[from_u], pt[from_v], own]),
        np.concatenate([e[full], e[from_u], e[from_v], oe]),
        np.concatenate([np.zeros(full.sum()), np.zeros(from_u.sum()),
                        length[from_v] - rb[from_v], np.maximum(op - r[own], 0.0)]),
        np.concatenate([length[full], np.minimum(ra[from_u], length[from_u]), length[from_v],
                        np.minimum(op + r[own], network.edge_length[oe])]),
    )


def _segments(network: WalkNetwork, owner: npt.NDArray[np.int64], edge: npt.NDArray[np.int64],
              a: npt.NDArray[np.float64], b: npt.NDArray[np.float64]
              ) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float64]]:
    """Cut each edge stretch ``[a, b]`` into straight segments ``(x1, y1, x2, y2)``."""
    xy, vptr, along = network.edge_vertices
    nseg = vptr[edge + 1] - vptr[edge] - 1
    rep = np.repeat(np.arange(len(edge)), nseg)
    first = np.cumsum(nseg) - nseg
    j = vptr[edge][rep] + np.arange(int(nseg.sum())) - first[rep]
    c0, c1 = along[j], along[j + 1]
    lo, hi = a[rep], b[rep]
    keep = (c1 > lo) & (c0 < hi) & (hi > lo)
    j, c0, c1, lo, hi, rep = j[keep], c0[keep], c1[keep], lo[keep], hi[keep], rep[keep]
    step = c1 - c0
    t0 = ((np.maximum(lo, c0) - c0) / step)[:, None]
    t1 = ((np.minimum(hi, c1) - c0) / step)[:, None]
    p, q = xy[j], xy[j + 1]
    return owner[rep], np.hstack([p + t0 * (q - p), p + t1 * (q - p)])


def _connectors(points: npt.NDArray[np.object_], network: WalkNetwork, snaps: pd.DataFrame,
                budget: float) -> npt.NDArray[np.float64]:
    """Return the walk from each point towards its street, as far as `budget` allows."""
    lines = network.edges.geometry.to_numpy()[snaps["edge"].to_numpy()]
    on_street = shapely.line_interpolate_point(lines, snaps["position_m"].to_numpy())
    start = shapely.get_coordinates(points)
    end = shapely.get_coordinates(on_street)
    off = snaps["offset_m"].to_numpy(np.float64)
    frac = np.divide(np.minimum(budget, off), off, out=np.zeros_like(off), where=off > 0)
    return np.hstack([start, start + frac[:, None] * (end - start)])


def _contour(field: npt.NDArray[np.float64], xs: npt.NDArray[np.float64],
             ys: npt.NDArray[np.float64], level: float) -> shapely.Geometry:
    """Trace the region ``field <= level`` as a (multi)polygon, with holes."""
    import contourpy

    gen = contourpy.contour_generator(xs, ys, field, name="serial",
                                      fill_type=contourpy.FillType.OuterOffset)
    filled: Any = gen.filled(-1.0, level)  # (points, offsets) for FillType.OuterOffset
    pts, offs = filled
    if not len(pts):
        return shapely.Polygon()
    coords = np.concatenate(pts)
    ring_len = np.concatenate([np.diff(o) for o in offs])
    n_rings = np.array([len(o) - 1 for o in offs])
    rings = shapely.linearrings(coords, indices=np.repeat(np.arange(len(ring_len)), ring_len))
    polys = shapely.polygons(rings, indices=np.repeat(np.arange(len(offs)), n_rings))
    geom = polys[0] if len(polys) == 1 else shapely.multipolygons(polys)
    return geom if shapely.is_valid(geom) else shapely.make_valid(geom)


def _nested_polygons(segs_by_level: list[npt.NDArray[np.float64]], buffer_m: float,
                     px: float) -> list[shapely.Geometry]:
    """Polygons within `buffer_m` of each level's segments, each containing the last.

    One distance field per point: each level lowers the previous level's field with
    its own segments, so the fields are nested by construction, and so are their
    contours (a lower field crosses the level farther out along every grid line, and
    a saddle cell joins whenever the higher field's does), up to floating-point
    rounding of the crossing points (about 1e-10 m).
    """
    from . import _engine

    allseg = segs_by_level[-1]
    if not len(allseg):
        return [shapely.Polygon() for _ in segs_by_level]
    margin = buffer_m + 2 * px
    lo = np.minimum(allseg[:, [0, 1]], allseg[:, [2, 3]]).min(axis=0) - margin
    hi = np.maximum(allseg[:, [0, 1]], allseg[:, [2, 3]]).max(axis=0) + margin
    nx_, ny_ = (np.ceil((hi - lo) / px).astype(int) + 1).tolist()
    xs = lo[0] + px * np.arange(nx_)
    ys = lo[1] + px * np.arange(ny_)
    field = np.full((ny_, nx_), 2.0 * buffer_m)
    out = []
    for segs in segs_by_level:
        field = _engine.distance_field(segs, x0=lo[0], y0=lo[1], px=px, shape=(ny_, nx_),
                                       radius=buffer_m, field=field.copy())
        out.append(_contour(field, xs, ys, buffer_m))
    return out


def _snaps(network: WalkNetwork | PreparedPoints, points: gpd.GeoDataFrame,
           max_snap_m: float | None) -> tuple[WalkNetwork, pd.DataFrame]:
    """Return the network and the points' snaps (the prepared points' own, or snapped now)."""
    if isinstance(network, PreparedPoints):
        prepared = as_prepared(network, pd.Index([]), points, max_snap_m=max_snap_m)
        return prepared.network, prepared.target_snaps
    limit = DEFAULT_MAX_SNAP_M if max_snap_m is None else max_snap_m
    return network, snap_points(network, points, max_snap_m=limit)


def isochrones(network: WalkNetwork | PreparedPoints, points: gpd.GeoDataFrame, *,
               minutes: Sequence[float] = (5, 10, 15),
               walk_speed_kmh: float = DEFAULT_SPEED_KMH, buffer_m: float = 25.0,
               max_snap_m: float | None = None, resolution_m: float | None = None,
               progress: bool = False) -> gpd.GeoDataFrame:
    """Street-following isochrone polygons for each point and walking time.

    Parameters
    ----------
    network
        The walking network, or points prepared on it
        (:func:`~sharemap.access.prepare_points`) whose targets include `points`
        (by index label): their snaps are reused.
    points
        Points in any CRS (reprojected to the network's); their other columns are
        carried over.
    minutes
        Walking times; polygons are nested (5 ⊂ 10 ⊂ 15).
    walk_speed_kmh
        Walking speed.
    buffer_m
        Half-width of the band drawn around every reached street.
    max_snap_m
        Points farther than this from the network get no polygon; default 250 m, or
        the prepared points' own.
    resolution_m
        Grid spacing of the distance field the outline is traced on (default
        `buffer_m` / 3).
    progress
        Show a progress bar.

    Returns
    -------
    isochrones
        One row per point on the network and time, indexed by the point's index
        label: the point's columns, ``minutes``, and the polygon: every place
        within `buffer_m` of the streets reached (including the reached part of
        edges where time runs out, and the walk from the point to its street).

    Notes
    -----
    One bounded search per point (from both ends of its street) gives the walk to
    every node within the longest time; from it, the reached stretch of every edge
    at each time, cut into straight segments with plain array arithmetic. Instead of
    buffering and unioning segments with GEOS (tens of milliseconds per polygon),
    the exact distance to the nearest reached segment is computed on a grid of
    `resolution_m` around the point (compiled) and the polygon is the contour at
    `buffer_m` (contourpy's marching squares, linear interpolation along grid
    lines): along straight streets the outline is exact, at the round ends and
    corners it departs from a true buffer by well under a metre at the default
    resolution. Only streets are buffered, so a polygon never spans a river or
    railway the network does not cross (wider than twice `buffer_m`). Counting
    never uses these polygons; they are for display.

    Examples
    --------
    >>> import geopandas as gpd
    >>> from sharemap.datasets import demo_dir
    >>> from sharemap.network import network_from_osm_xml
    >>> net = network_from_osm_xml(demo_dir() / "walk.osm")
    >>> pts = gpd.GeoDataFrame(geometry=[net.nodes.geometry.iloc[0]], crs=net.crs)
    >>> iso = isochrones(net, pts, minutes=(5, 10))
    >>> five, ten = iso.geometry.iloc[0], iso.geometry.iloc[1]
    >>> bool(five.difference(ten).area < 1e-6)  # nested, up to contour rounding
    True
    """
    from . import _engine

    network, snaps_all = _snaps(network, points, max_snap_m)
    arr = point_array(points, network, "points")
    mins = sorted(float(m) for m in minutes)
    budgets = [m * metres_per_minute(walk_speed_kmh) for m in mins]
    px = float(resolution_m) if resolution_m is not None else buffer_m / 3.0
    on = np.flatnonzero(snaps_all["on_network"].to_numpy())
    geoms: list[shapely.Geometry] = []
    bar = tqdm(total=len(on), disable=not progress, desc="isochrones", unit="point")
    for start in range(0, len(on), _ISO_BATCH):
        rows = on[start:start + _ISO_BATCH]
        snaps = snaps_all.iloc[rows]
        reach = _reach_table(network, snaps, budgets[-1])
        per_level = []
        for budget in budgets:
            owner, segs = _segments(network, *_pieces(network, reach, snaps, budget))
            conn = _connectors(arr[rows], network, snaps, budget)
            owner = np.concatenate([owner, np.arange(len(rows))])
            segs = np.vstack([segs, conn])
            order = np.argsort(owner, kind="stable")
            split = np.searchsorted(owner[order], np.arange(len(rows) + 1))
            per_level.append((segs[order], split))
        def trace(i: int, per_level: list[Any] = per_level) -> list[shapely.Geometry]:
            return _nested_polygons([s[sp[i]:sp[i + 1]] for s, sp in per_level], buffer_m, px)

        # the distance field (compiled) and shapely release the GIL: trace on threads
        with ThreadPoolExecutor(max_workers=_engine.threads()) as pool:
            for polys in pool.map(trace, range(len(rows))):
                geoms.extend(polys)
        bar.update(len(rows))
    bar.close()
    base = pd.DataFrame(points.drop(columns=points.geometry.name))
    base = base.iloc[np.repeat(on, len(mins))]  # the index is the id: each point's label
    base["minutes"] = np.tile(mins, len(on))
    return gpd.GeoDataFrame(base, geometry=geoms, crs=network.crs)


def merged_isochrones(network: WalkNetwork | PreparedPoints, points: gpd.GeoDataFrame, *,
                      minutes: Sequence[float] = (5, 10, 15),
                      walk_speed_kmh: float = DEFAULT_SPEED_KMH, buffer_m: float = 25.0,
                      max_snap_m: float | None = None, resolution_m: float | None = None,
                      max_cells: int = MERGED_MAX_CELLS) -> gpd.GeoDataFrame:
    """Where a walk from the nearest of many points reaches: one polygon per time.

    The union of the points' :func:`isochrones`, computed at the cost of one: one
    bounded search from all the points together gives the walk from the nearest to
    every node, and one distance field over the reached streets gives the outline.
    Time and memory grow with the network reached, not with the number of points,
    so a layer of 100,000 spaces costs what a layer of 1,000 covering the same
    streets costs.

    Parameters
    ----------
    network
        The walking network, or points prepared on it (as for :func:`isochrones`).
    points
        Points in the network's CRS.
    minutes
        Walking times; the polygons are nested.
    walk_speed_kmh
        Walking speed.
    buffer_m
        Half-width of the band drawn around every reached street.
    max_snap_m
        Points farther than this from the network are left out (as for
        :func:`isochrones`).
    resolution_m
        Grid spacing of the distance field (default `buffer_m` / 3, coarsened so that
        the grid has at most `max_cells` cells).
    max_cells
        The largest grid the outline is traced on.

    Returns
    -------
    isochrones
        One row per time: ``minutes``, ``n_points`` (the points on the network) and the
        polygon (empty when no point is on the network).

    Examples
    --------
    >>> import geopandas as gpd
    >>> from sharemap.datasets import demo_dir
    >>> from sharemap.network import network_from_osm_xml
    >>> net = network_from_osm_xml(demo_dir() / "walk.osm")
    >>> pts = gpd.GeoDataFrame(geometry=net.nodes.geometry.iloc[[0, 50]].to_numpy(),
    ...                        crs=net.crs)
    >>> one = merged_isochrones(net, pts, minutes=(5,))
    >>> each = isochrones(net, pts, minutes=(5,))
    >>> union = each.union_all()  # the same up to the grids' rounding (a few cm)
    >>> bool(one.geometry.iloc[0].symmetric_difference(union).area < 0.01 * union.area)
    True
    """
    network, snaps_all = _snaps(network, points, max_snap_m)
    arr = point_array(points, network, "points")
    mins = sorted(float(m) for m in minutes)
    budgets = [m * metres_per_minute(walk_speed_kmh) for m in mins]
    on = np.flatnonzero(snaps_all["on_network"].to_numpy())
    if not len(on):
        return gpd.GeoDataFrame({"minutes": mins, "n_points": 0},
                                geometry=[shapely.Polygon() for _ in mins], crs=network.crs)
    snaps = snaps_all.iloc[on]
    reach = _reach_table(network, snaps, budgets[-1], merged=True)
    segs_by_level = []
    for budget in budgets:
        _, segs = _segments(network, *_pieces(network, reach, snaps, budget))
        segs_by_level.append(np.vstack([segs, _connectors(arr[on], network, snaps, budget)]))
    allseg = segs_by_level[-1]
    extent = (np.maximum(allseg[:, [0, 1]], allseg[:, [2, 3]]).max(axis=0)
              - np.minimum(allseg[:, [0, 1]], allseg[:, [2, 3]]).min(axis=0) + 2 * buffer_m)
    px = float(resolution_m) if resolution_m is not None else buffer_m / 3.0
    px = max(px, float(np.sqrt(extent[0] * extent[1] / max_cells)) * 1.01)
    polys = _nested_polygons(segs_by_level, buffer_m, px)
    logger.info("Merged isochrones of %d points (%s min) on a %.1f m grid", len(on),
                ", ".join(f"{m:g}" for m in mins), px)
    return gpd.GeoDataFrame({"minutes": mins, "n_points": len(on)}, geometry=polys,
                            crs=network.crs)


def isochrone_layer(network: WalkNetwork | PreparedPoints, spaces: gpd.GeoDataFrame,
                    categories: Sequence[str], *, minutes: Sequence[float] = (5, 10, 15),
                    walk_speed_kmh: float = DEFAULT_SPEED_KMH,
                    max_spaces: int = MAX_ISOCHRONE_SPACES,
                    progress: bool = False) -> gpd.GeoDataFrame | None:
    """Build the map's isochrone layer: per space, or merged where a category has many.

    Parameters
    ----------
    network
        The walking network, or points prepared on it (as for :func:`isochrones`).
    spaces
        Spaces with ``space_id``, ``category`` and ``name``.
    categories
        The categories to draw.
    minutes
        Walking times.
    walk_speed_kmh
        Walking speed.
    max_spaces
        A category with more spaces than this is drawn merged: one polygon per time
        (where a walk from its nearest space reaches) instead of one per space, so
        the map's time, memory and size stay bounded whatever the layer holds.
    progress
        Show a progress bar.

    Returns
    -------
    isochrones
        ``space_id``, ``category``, ``name``, ``minutes``, ``n_spaces`` (1, or the
        number merged, with ``space_id`` empty) and the polygon; None when no space
        is of the categories.
    """
    parts = []
    for cat in dict.fromkeys(categories):
        mine = spaces[spaces["category"] == cat]
        if not len(mine):
            continue
        if len(mine) <= max_spaces:
            iso = isochrones(network, mine[["space_id", "category", "name", "geometry"]],
                             minutes=minutes, walk_speed_kmh=walk_speed_kmh, progress=progress)
            parts.append(iso.reset_index(drop=True).assign(n_spaces=1))
            continue
        logger.warning("%s: %d spaces, more than %d: their isochrones are drawn merged (one "
                       "polygon per time, from the nearest space)", cat, len(mine), max_spaces)
        merged = merged_isochrones(network, mine, minutes=minutes, walk_speed_kmh=walk_speed_kmh)
        n = int(merged["n_points"].iloc[0])
        parts.append(gpd.GeoDataFrame(
            {"space_id": "", "category": cat, "name": f"any of its {n:,} spaces",
             "minutes": merged["minutes"].to_numpy(), "n_spaces": n},
            geometry=merged.geometry.to_numpy(), crs=merged.crs))
    if not parts:
        return None
    return gpd.GeoDataFrame(pd.concat(parts, ignore_index=True), geometry="geometry",
                            crs=parts[0].crs)
