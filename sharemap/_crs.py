"""Explicit CRS handling: check at the boundary, analyse in metres, map in WGS84."""

from __future__ import annotations

from typing import Any

import geopandas as gpd
from pyproj import CRS
from pyproj.exceptions import CRSError as _PyprojCRSError

from ._errors import CRSError

__all__ = [
    "KOREAN_TM_EPSG",
    "WEB_CRS",
    "check_same_crs",
    "ensure_crs",
    "parse_crs",
    "require_projected",
    "to_analysis_crs",
    "to_web_crs",
]

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


def check_same_crs(left: Any, right: Any, what: str) -> None:
    """Raise if two CRSs differ (geopandas' `_check_crs` idea)."""
    if left is None or right is None or CRS.from_user_input(left) != CRS.from_user_input(right):
        msg = f"{what}: CRS mismatch ({left} vs {right})"
        raise CRSError(msg)
