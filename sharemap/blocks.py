"""City blocks: polygons enclosed by the streets that bound them, or a user's polygons.

Which streets bound a block
---------------------------
Road classes that carry traffic between blocks (``BLOCK_ROADS``) bound blocks.
Footways, paths, steps and service ways (``NON_SPLITTING``) do not: a footpath
through an apartment complex or a driveway does not cut the block in two.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from ._crs import to_analysis_crs
from ._errors import InputDataError
from .network import WalkNetwork

__all__ = [
    "BLOCK_ROADS",
    "NON_SPLITTING",
    "block_origins",
    "blocks_from_network",
    "bounding_edges",
    "read_blocks",
]

logger = logging.getLogger(__name__)

#: OSM highway classes whose ways bound city blocks.
BLOCK_ROADS = frozenset({
    "trunk", "trunk_link", "primary", "primary_link", "secondary", "secondary_link",
    "tertiary", "tertiary_link", "unclassified", "residential", "living_street", "road",
    "busway",
})
#: Walkable classes that never split a block.
NON_SPLITTING = frozenset({
    "service", "footway", "path", "steps", "pedestrian", "track", "corridor", "cycleway",
    "bridleway", "elevator", "sidewalk", "crossing",
})


def bounding_edges(network: WalkNetwork) -> pd.Series:
    """Flag the network edges that bound blocks.

    Returns
    -------
    mask
        Boolean Series aligned to ``network.edges``: True where any highway class of
        the (possibly merged) way is in :data:`BLOCK_ROADS`.
    """
    parts = network.edges["highway"].str.split(";")
    return parts.map(lambda vals: any(v in BLOCK_ROADS for v in vals)).astype(bool)


def _finish(faces: np.ndarray, crs: Any, area: shapely.Geometry | None,
            min_area_m2: float) -> gpd.GeoDataFrame:
    geoms = gpd.GeoSeries(faces, crs=crs)
    if area is not None:
        geoms = geoms[geoms.intersects(area)].intersection(area)
    geoms = geoms.explode(index_parts=False)
    geoms = geoms[geoms.geom_type == "Polygon"]
    geoms = geoms[geoms.area >= min_area_m2]
    # north-west first, so ids read like a page
    rep = geoms.representative_point()
    order = np.lexsort((rep.x.round(0).to_numpy(), -rep.y.round(0).to_numpy()))
    geoms = geoms.iloc[order]
    out = gpd.GeoDataFrame({
        "block_id": np.arange(1, len(geoms) + 1, dtype=np.int64),
        "area_m2": geoms.area.round(1).to_numpy(),
    }, geometry=geoms.to_numpy(), crs=crs)
    return out


def blocks_from_network(network: WalkNetwork, *, area: shapely.Geometry | None = None,
                        min_area_m2: float = 1000.0) -> gpd.GeoDataFrame:
    """Derive city blocks by polygonising the block-bounding streets.

    Parameters
    ----------
    network
        The walking network.
    area
        Optional study-area polygon (network CRS); blocks are clipped to it.
    min_area_m2
        Faces smaller than this (slivers, traffic islands) are dropped.

    Returns
    -------
    blocks
        ``block_id`` (1..n), ``area_m2`` and Polygon geometry in the network's CRS.

    Examples
    --------
    >>> from sharemap.datasets import demo_dir
    >>> from sharemap.network import network_from_osm_xml
    >>> blocks = blocks_from_network(network_from_osm_xml(demo_dir() / "walk.osm"))
    >>> bool((blocks.area_m2 >= 1000).all())
    True
    """
    lines = network.edges.geometry[bounding_edges(network)].to_numpy()
    if not len(lines):
        msg = "the network has no block-bounding streets (highway classes: residential, ...)"
        raise InputDataError(msg)
    noded = shapely.union_all(lines)
    faces = shapely.get_parts(shapely.polygonize(shapely.get_parts(noded)))
    blocks = _finish(faces, network.crs, area, min_area_m2)
    logger.info("Derived %s blocks from %s bounding edges", f"{len(blocks):,}", f"{len(lines):,}")
    return blocks


def read_blocks(path: str | Path, *, crs: Any, area: shapely.Geometry | None = None,
                min_area_m2: float = 0.0, layer: str | None = None) -> gpd.GeoDataFrame:
    """Read user blocks (any polygon file: census output areas, parcels).

    Parameters
    ----------
    path
        A polygon file GDAL can read (GeoPackage, Shapefile, GeoJSON, ...).
    crs
        The analysis CRS to reproject to.
    area
        Optional study-area polygon; blocks are clipped to it.
    min_area_m2
        Blocks smaller than this after clipping are dropped.
    layer
        The layer to read from a multi-layer file.

    Returns
    -------
    blocks
        ``block_id`` (the file's ``block_id`` column if present, else 1..n), ``area_m2``
        and geometry.
    """
    p = Path(path)
    if not p.exists():
        msg = f"{p}: blocks file not found"
        raise InputDataError(msg)
    try:
        gdf = gpd.read_file(p, layer=layer) if layer else gpd.read_file(p)
    except Exception as exc:
        msg = f"{p}: cannot read blocks ({type(exc).__name__}: {exc})"
        raise InputDataError(msg) from None
    gdf = to_analysis_crs(gdf, crs, f"blocks file {p}")
    gdf = gdf[gdf.geom_type.isin(["Polygon", "MultiPolygon"])]
    if "block_id" in gdf:
        ids = gdf["block_id"]
        if ids.duplicated().any():
            msg = f"{p}: column `block_id` repeats values, e.g. {ids[ids.duplicated()].iloc[0]!r}"
            raise InputDataError(msg)
        geoms = gdf.geometry if area is None else gdf.geometry.intersection(area)
        out = gpd.GeoDataFrame({"block_id": ids.to_numpy()}, geometry=geoms.to_numpy(), crs=gdf.crs)
        out = out[~out.geometry.is_empty]
        out.insert(1, "area_m2", out.area.round(1))
        return out[out["area_m2"] >= min_area_m2].reset_index(drop=True)
    return _finish(gdf.geometry.to_numpy(), gdf.crs, area, min_area_m2)


def block_origins(blocks: gpd.GeoDataFrame) -> gpd.GeoSeries:
    """Return each block's origin: its representative point (``point_on_surface``)."""
    return blocks.geometry.representative_point()
