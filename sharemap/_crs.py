"""Explicit CRS handling: check at the boundary, analyse in metres, map in WGS84."""

from __future__ import annotations

import logging
from typing import Any

import geopandas as gpd
import numpy as np
import shapely
from pyproj import CRS
from pyproj.exceptions import CRSError as _PyprojCRSError

from ._errors import CRSError

__all__ = [
    "KOREAN_TM_EPSG",
    "WEB_CRS",
    "check_same_crs",
    "crs_name",
    "ensure_crs",
    "parse_crs",
    "require_projected",
    "to_analysis_crs",
    "to_crs_of",
    "to_web_crs",
]

logger = logging.getLogger(__name__)

#: Korean TM systems in daily use, in metres (2097 is the old Bessel central belt).
KOREAN_TM_EPSG = (5174, 5179, 5181, 5186, 2097)
WEB_CRS = CRS.from_epsg(4326)


def parse_crs(value: Any, *, what: str = "crs") -> CRS:
    """Parse a CRS given as "EPSG:5186", 5186, a WKT string or a pyproj CRS.

    Raises
    ------
    CRSError
        If the value is not a CRS pyproj understands.
    """
    try:
        return CRS.from_user_input(value)
    except (_PyprojCRSError, TypeError, ValueError) as exc:
        msg = f"`{what}` = {value!r} is not a coordinate reference system ({exc})"
        raise CRSError(msg) from None


def ensure_crs(gdf: gpd.GeoDataFrame, name: str) -> gpd.GeoDataFrame:
    """Return `gdf` unchanged if it has a CRS, else raise naming the layer."""
    if gdf.crs is None:
        msg = f"{name} has no coordinate reference system; declare one (e.g. crs = \"EPSG:4326\")"
        raise CRSError(msg)
    return gdf


def require_projected(crs: Any, name: str) -> CRS:
    """Refuse geographic CRSs for metric work."""
    parsed = parse_crs(crs, what=name)
    if not parsed.is_projected:
        msg = f"{name} must be in a projected CRS in metres, got {parsed.to_string()}"
        raise CRSError(msg)
    return parsed


def to_analysis_crs(gdf: gpd.GeoDataFrame, crs: Any, name: str) -> gpd.GeoDataFrame:
    """Reproject `gdf` to the metric analysis CRS (a copy)."""
    ensure_crs(gdf, name)
    target = require_projected(crs, "study crs")
    if CRS.from_user_input(gdf.crs) == target:
        return gdf.copy()
    return gdf.to_crs(target)


def to_web_crs(gdf: gpd.GeoDataFrame, name: str = "layer") -> gpd.GeoDataFrame:
    """Reproject `gdf` to WGS84 (EPSG:4326) for web maps and outputs (a copy)."""
    ensure_crs(gdf, name)
    return gdf.to_crs(WEB_CRS)


def crs_name(crs: Any) -> str:
    """Name a CRS as a person would (``EPSG:5186``, else its name), never by its WKT."""
    if crs is None:
        return "no CRS"
    try:
        parsed = CRS.from_user_input(crs)
    except (_PyprojCRSError, TypeError, ValueError):
        return repr(crs)[:80]
    authority = parsed.to_authority(min_confidence=90)
    return ":".join(authority) if authority else parsed.name


def check_same_crs(left: Any, right: Any, what: str) -> None:
    """Raise if two CRSs differ (geopandas' `_check_crs` idea)."""
    if left is None or right is None or CRS.from_user_input(left) != CRS.from_user_input(right):
        msg = f"{what}: CRS mismatch ({crs_name(left)} vs {crs_name(right)})"
        raise CRSError(msg)


def to_crs_of(geoms: gpd.GeoSeries, crs: CRS, what: str) -> gpd.GeoSeries:
    """Return `geoms` in `crs`, reprojected when they are in another CRS.

    Parameters
    ----------
    geoms
        Geometries with a CRS.
    crs
        The CRS wanted (a network's, a study's).
    what
        What the geometries are, for messages (``"origins"``).

    Returns
    -------
    geoms
        `geoms` itself when already in `crs`, else a reprojected copy.

    Raises
    ------
    CRSError
        When `geoms` have no CRS, or some cannot be expressed in `crs` (coordinates
        impossible for their CRS, such as metres labelled as degrees). The message
        names both CRSs, e.g. ``EPSG:4326`` and ``EPSG:5186``.
    """
    if geoms.crs is None:
        msg = (f"{what} have no coordinate reference system; set it, e.g. "
               f"`{what}.set_crs(\"EPSG:4326\")` for longitude/latitude")
        raise CRSError(msg)
    if CRS.from_user_input(geoms.crs) == crs:
        return geoms
    src, dst = crs_name(geoms.crs), crs_name(crs)
    try:
        out = geoms.to_crs(crs)
    except Exception as exc:  # pyproj raises several kinds
        msg = f"{what} in {src} cannot be reprojected to {dst} ({type(exc).__name__})"
        raise CRSError(msg) from None
    box = shapely.bounds(out.to_numpy())
    bad = ~np.isfinite(box).all(axis=1) & ~shapely.is_empty(geoms.to_numpy())
    bad &= ~shapely.is_missing(geoms.to_numpy())
    if bad.any():
        first = geoms.to_numpy()[bad][0]
        x, y = shapely.get_coordinates(first)[0] if not first.is_empty else (np.nan, np.nan)
        msg = (f"{what}: {int(bad.sum()):,} of {len(geoms):,} in {src} cannot be expressed "
               f"in {dst} (the first at x={x:g}, y={y:g}); are their coordinates really "
               f"in {src}?")
        raise CRSError(msg)
    logger.info("Reprojected %s %s from %s to %s", f"{len(geoms):,}", what, src, dst)
    return out
