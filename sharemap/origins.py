"""Block origins: the points a block's walks start from, and each one's share of its residents.

A block is judged from one origin, its representative point (shapely
``point_on_surface``), unless it is large: a block of at least
:data:`MULTI_ORIGIN_MIN_AREA_M2` (4 ha) is judged from the points of a regular
grid of :data:`ORIGIN_SPACING_M` (100 m) that fall inside it, when at least two
do. The grid is centred on the block's bounding box. Each grid origin stands for
the part of the block nearer to it than to the block's other origins (the
block clipped to the origins' Voronoi cells), and holds the share of the block's
residents that live in that part: its share of the block's area, or, with a
weights layer (:mod:`sharemap.weights`), its share of the block's weight. A block
with one origin has one part, the block itself, with share 1.

From the origins to the block (:func:`block_median`, :func:`block_pairs`):

* the block's walk to a category is the **weighted median** over its origins:
  the shortest walk ``t`` such that origins holding at least half of the block's
  residents reach the category within ``t`` (sort the origins by walk, add up their
  shares, take the first walk where the sum reaches one half);
* a space is **adjacent** to the block when origins holding at least half of its
  residents are within ``adjacent_minutes`` of it; its minutes are the weighted
  median of the origins' walks to it, by the same rule.

A block with one origin therefore keeps exactly the figures of that origin.
"""

from __future__ import annotations

import logging
import math

import geopandas as gpd
import numpy as np
import numpy.typing as npt
import pandas as pd
import shapely

__all__ = [
    "HALF",
    "MULTI_ORIGIN_MIN_AREA_M2",
    "ORIGIN_SPACING_M",
    "block_median",
    "block_origin_points",
    "block_pairs",
    "origin_shares",
]

logger = logging.getLogger(__name__)

#: Blocks at least this large (m²) are judged from a grid of origins (4 ha: a
#: 200 m square, whose corners are 141 m, 1.8 minutes' walk, from its centre).
MULTI_ORIGIN_MIN_AREA_M2 = 40_000.0
#: Spacing of the grid of origins inside a large block (m).
ORIGIN_SPACING_M = 100.0
#: Origins holding at least this share of a block's residents decide for it
#: (one half, less a tolerance for the rounding of shares that sum to 1).
HALF = 0.5 - 1e-9


def _grid(geom: shapely.Geometry, spacing_m: float) -> npt.NDArray[np.object_]:
    """Return the points of a grid of `spacing_m`, centred on `geom`'s bounds, inside it."""
    x0, y0, x1, y1 = geom.bounds
    nx = max(1, math.ceil((x1 - x0) / spacing_m))
    ny = max(1, math.ceil((y1 - y0) / spacing_m))
    xs = (x0 + x1) / 2 + (np.arange(nx) - (nx - 1) / 2) * spacing_m
    ys = (y0 + y1) / 2 + (np.arange(ny) - (ny - 1) / 2) * spacing_m
    gx, gy = np.meshgrid(xs, ys[::-1])  # north first, west to east: reads like a page
    pts = shapely.points(gx.ravel(), gy.ravel())
    shapely.prepare(geom)
    return pts[shapely.contains_properly(geom, pts)]


def _voronoi_parts(geom: shapely.Geometry, pts: npt.NDArray[np.object_]
                   ) -> npt.NDArray[np.object_]:
    """Return the part of `geom` nearer to each point of `pts` than to the others, in order."""
    cells = shapely.get_parts(shapely.voronoi_polygons(shapely.multipoints(pts),
                                                       extend_to=geom))
    # the cells come in no promised order: match each to the point inside it
    ci, pi = shapely.STRtree(pts).query(cells, predicate="contains")
    ordered = np.empty(len(pts), dtype=object)
    ordered[pi] = cells[ci]
    return shapely.intersection(ordered, geom)


def block_origin_points(blocks: gpd.GeoDataFrame, *,
                        min_area_m2: float = MULTI_ORIGIN_MIN_AREA_M2,
                        spacing_m: float = ORIGIN_SPACING_M,
                        parts: bool = False) -> gpd.GeoDataFrame:
    """Return every block's origins (see the module notes for the rule).

    Parameters
    ----------
    blocks
        Blocks (``block_id`` and polygon geometry) in a metric CRS.
    min_area_m2
        Blocks at least this large (by their geometry's area) get a grid of origins;
        ``inf`` judges every block from one origin.
    spacing_m
        The grid's spacing.
    parts
        Also return each origin's part of the block (column ``part``).

    Returns
    -------
    origins
        One row per origin, block by block in the blocks' order: ``block`` (the
        block's position in `blocks`), ``block_id``, ``origin`` (1..k within the
        block, north-west first), ``part_area_m2`` (the area of the block nearer to
        this origin than to its other origins; the block's area for a block with one
        origin), the origin point as geometry and, with `parts`, the part itself.

    Examples
    --------
    >>> import shapely, geopandas as gpd
    >>> blocks = gpd.GeoDataFrame({"block_id": [1, 2]}, crs="EPSG:5186", geometry=[
    ...     shapely.box(0, 0, 50, 50), shapely.box(100, 0, 400, 200)])
    >>> origins = block_origin_points(blocks)
    >>> origins.groupby("block_id").size().tolist()
    [1, 6]
    >>> origins["part_area_m2"].tolist()
    [2500.0, 10000.0, 10000.0, 10000.0, 10000.0, 10000.0, 10000.0]
    """
    geoms = blocks.geometry.to_numpy()
    area = shapely.area(geoms)
    block = np.arange(len(blocks), dtype=np.int64)
    points = shapely.point_on_surface(geoms)
    part_geoms = geoms.copy()
    counts = np.ones(len(blocks), dtype=np.int64)
    big = np.flatnonzero(area >= min_area_m2) if spacing_m > 0 else np.empty(0, np.int64)
    extra: dict[int, tuple[npt.NDArray[np.object_], npt.NDArray[np.object_]]] = {}
    for b in big:
        pts = _grid(geoms[b], spacing_m)
        if len(pts) >= 2:
            extra[int(b)] = (pts, _voronoi_parts(geoms[b], pts))
            counts[b] = len(pts)
    if extra:
        block = np.repeat(block, counts)
        first = np.concatenate([[0], np.cumsum(counts)[:-1]])
        out_pts = np.repeat(points, counts)
        out_parts = np.repeat(part_geoms, counts)
        for k, (pts, prt) in extra.items():
            out_pts[first[k]:first[k] + len(pts)] = pts
            out_parts[first[k]:first[k] + len(pts)] = prt
        points, part_geoms = out_pts, out_parts
    part_area = shapely.area(part_geoms)
    # 1..k within each block (also for no block at all: a study that finds none)
    origin = np.arange(len(block)) - np.repeat(np.cumsum(counts) - counts, counts) + 1
    out = gpd.GeoDataFrame({
        "block": block, "block_id": blocks["block_id"].to_numpy()[block],
        "origin": origin.astype(np.int64), "part_area_m2": part_area,
    }, geometry=points, crs=blocks.crs)
    if parts:
        out["part"] = gpd.GeoSeries(part_geoms, crs=blocks.crs)
    if extra:
        logger.info("%d blocks of %g m² or more are judged from %d origins (a %g m grid)",
                    len(extra), min_area_m2, int(counts[list(extra)].sum()), spacing_m)
    return out


def origin_shares(block: npt.NDArray[np.int64], part_area_m2: npt.NDArray[np.float64],
                  n_blocks: int, weight: npt.NDArray[np.float64] | None = None
                  ) -> npt.NDArray[np.float64]:
    """Return each origin's share of its block's residents.

    Parameters
    ----------
    block
        Per origin, its block's position.
    part_area_m2
        Per origin, the area of its part.
    n_blocks
        Number of blocks.
    weight
        Per origin, the weight of its part (land use, buildings, a population grid);
        None: area. A block whose parts all weigh 0 is shared by area.

    Returns
    -------
    share
        Per origin, in [0, 1]; the shares of a block sum to 1 (exactly 1.0 for a
        block with one origin).
    """
    area = np.asarray(part_area_m2, dtype=np.float64)
    w = area if weight is None else np.clip(np.asarray(weight, dtype=np.float64), 0.0, None)
    total = np.bincount(block, weights=w, minlength=n_blocks)
    by_area = total[block] <= 0
    w = np.where(by_area, area, w)
    total = np.bincount(block, weights=w, minlength=n_blocks)
    with np.errstate(divide="ignore", invalid="ignore"):
        share = np.where(total[block] > 0, w / total[block], 0.0)
    single = np.bincount(block, minlength=n_blocks)[block] == 1
    share[single] = 1.0
    return share


def block_median(values: npt.NDArray[np.float64], block: npt.NDArray[np.int64],
                 share: npt.NDArray[np.float64], n_blocks: int
                 ) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.int64]]:
    """Return each block's share-weighted median of its origins' `values`.

    Parameters
    ----------
    values
        Per origin (NaN: none reachable, taken as longer than any walk).
    block
        Per origin, its block's position (origins of a block next to each other).
    share
        Per origin, its share of the block's residents.
    n_blocks
        Number of blocks.

    Returns
    -------
    median
        Per block, the smallest value such that origins holding at least half of the
        block's residents have a value no larger; NaN when that is "none reachable"
        (or the block has no origin).
    which
        Per block, the origin (row) whose value is the median (-1: no origin).

    Examples
    --------
    >>> import numpy as np
    >>> block_median(np.array([9.0, 2.0, np.nan, 4.0]), np.array([0, 1, 1, 1]),
    ...              np.array([1.0, 0.3, 0.5, 0.2]), 2)[0].tolist()
    [9.0, 4.0]
    """
    vals = np.where(np.isnan(values), np.inf, values)
    order = np.lexsort((np.arange(len(vals)), vals, block))
    blk = block[order]
    cum = np.cumsum(share[order])
    start = np.searchsorted(blk, blk, side="left")
    before = np.where(start > 0, cum[np.maximum(start - 1, 0)], 0.0)
    reached = (cum - before) >= HALF
    last = np.r_[blk[1:] != blk[:-1], True] if len(blk) else np.zeros(0, dtype=bool)
    pick = reached | last  # a block whose shares fall short takes its largest value
    rows = np.flatnonzero(pick)
    first_rows = rows[np.r_[True, blk[rows][1:] != blk[rows][:-1]]] if len(rows) else rows
    which = np.full(n_blocks, -1, dtype=np.int64)
    which[blk[first_rows]] = order[first_rows]
    median = np.full(n_blocks, np.nan)
    has = which >= 0
    median[has] = vals[which[has]]
    median[np.isinf(median)] = np.nan
    return median, which


def block_pairs(pairs: pd.DataFrame, block: npt.NDArray[np.int64],
                share: npt.NDArray[np.float64]) -> pd.DataFrame:
    """Turn (origin, target) walking pairs into (block, target) pairs by the median rule.

    Parameters
    ----------
    pairs
        ``origin``, ``target`` and ``distance_m`` (from
        :func:`sharemap.access.pairs_within`: every pair within some distance).
    block
        Per origin, its block's position.
    share
        Per origin, its share of the block's residents.

    Returns
    -------
    block_pairs
        ``origin`` (here: the block's position), ``target`` and ``distance_m``: a
        target is kept for a block when origins holding at least half of the block's
        residents are within the distance of `pairs`, and its distance is their
        share-weighted median (see :func:`block_median`). Sorted by block, distance
        and target, as :func:`~sharemap.access.pairs_within` sorts; for blocks with one
        origin exactly the pairs of that origin.
    """
    org = pairs["origin"].to_numpy(np.int64)
    tgt = pairs["target"].to_numpy(np.int64)
    dist = pairs["distance_m"].to_numpy(np.float64)
    blk = block[org]
    order = np.lexsort((org, dist, tgt, blk))
    b, t, d = blk[order], tgt[order], dist[order]
    cum = np.cumsum(share[org][order])
    head = np.r_[True, (b[1:] != b[:-1]) | (t[1:] != t[:-1])] if len(b) else np.zeros(0, bool)
    start = np.maximum.accumulate(np.where(head, np.arange(len(b)), 0))
    before = np.where(start > 0, cum[np.maximum(start - 1, 0)], 0.0)
    reached = (cum - before) >= HALF
    group = np.cumsum(head) - 1
    rows = np.flatnonzero(reached)
    rows = rows[np.r_[True, group[rows][1:] != group[rows][:-1]]] if len(rows) else rows
    out = pd.DataFrame({"origin": b[rows], "target": t[rows], "distance_m": d[rows]})
    return out.sort_values(["origin", "distance_m", "target"], ignore_index=True)
