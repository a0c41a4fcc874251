"""Output writing: every file atomically, every CSV cell safe to open in a spreadsheet.

Each writer writes a temporary file beside the target and renames it into place.
:func:`write_csv` is the one CSV writer: text cells that a spreadsheet would run as
a formula are neutralised (:func:`neutralise_cell`).
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import geopandas as gpd
import pandas as pd

__all__ = ["atomic_path", "neutralise_cell", "neutralise_csv", "write_csv", "write_geojson",
           "write_gpkg", "write_gpkg_layers", "write_json", "write_text"]

#: GeoPackage version written: 1.2, the newest that GDAL 3.6 (Debian 12, and the QGIS
#: builds on it) opens without a warning; GDAL 3.7+ would write 1.4 by default.
GPKG_VERSION = "1.2"

#: First characters that make Excel, LibreOffice or Google Sheets read a cell as a
#: formula (OWASP "CSV Injection": = + - @, tab and carriage return).
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_NUMBER = re.compile(r"[+-]?(?:\d+(?:[.,]\d*)*|[.,]\d+)(?:[eE][+-]?\d+)?%?")


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary path in the target's folder; rename it onto `path` on success.

    Parameters
    ----------
    path
        The final file name.

    Yields
    ------
    tmp
        A path to write to. It keeps the target's suffix so that drivers chosen
        by extension (GeoPackage, GeoJSON) still work.

    Notes
    -----
    The rename is atomic on POSIX and Windows when both names are on the same
    file system, which holds because the temporary file sits beside the target.
    An interrupted run therefore leaves either the old file or none, never a
    half-written one; the temporary file is removed on error.
    """
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    # a short name: the target's own may be near the 255-byte limit (long Hangul ids)
    fd, tmp_name = tempfile.mkstemp(prefix=".tmp-", suffix=target.suffix[-16:], dir=target.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    tmp.unlink()  # drivers such as GPKG refuse to write over an existing empty file
    try:
        yield tmp
        os.replace(tmp, target)
    finally:
        if tmp.exists():
            tmp.unlink()


def write_text(text: str, path: str | os.PathLike[str], *, encoding: str = "utf-8") -> Path:
    """Write `text` to `path` atomically and return the path."""
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding=encoding)
    return Path(path)


def write_json(obj: Any, path: str | os.PathLike[str]) -> Path:
    """Write `obj` as indented UTF-8 JSON atomically and return the path."""
    return write_text(json.dumps(obj, indent=2, ensure_ascii=False, default=str) + "\n", path)


def neutralise_cell(value: Any) -> Any:
    """Return `value` made inert for spreadsheets when it is text that starts a formula.

    A string starting with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return gets
    a leading apostrophe, as OWASP advises (``=HYPERLINK(...)`` is shown as text, not
    followed), unless it is a plain number such as ``-5`` or ``+82.5``, which a
    spreadsheet reads as that number. Anything that is not a string is returned as is.
    """
    if (isinstance(value, str) and value.startswith(FORMULA_START)
            and not _NUMBER.fullmatch(value)):
        return "'" + value
    return value


def neutralise_csv(df: pd.DataFrame) -> pd.DataFrame:
    """Return `df` with every text cell and column name passed through :func:`neutralise_cell`.

    Numeric, boolean and date columns are left untouched (a number is never a formula).
    """
    out = df.rename(columns={c: neutralise_cell(c) for c in df.columns if isinstance(c, str)})
    for pos in range(out.shape[1]):
        col = out.iloc[:, pos]
        if col.dtype == object or isinstance(col.dtype, pd.StringDtype):
            out.isetitem(pos, col.map(neutralise_cell, na_action="ignore"))
    return out


def write_csv(df: pd.DataFrame, path: str | os.PathLike[str]) -> Path:
    """Write `df` as UTF-8 CSV (with BOM, so Excel shows Korean text) atomically.

    Rows end in CRLF as RFC 4180 says, so a cell holding a line break is quoted. Text
    cells that would start a spreadsheet formula are neutralised
    (:func:`neutralise_csv`); this is sharemap's only CSV writer.
    """
    safe = neutralise_csv(df)
    with atomic_path(path) as tmp:
        # CRLF rows (RFC 4180): a cell holding a lone CR or LF is then quoted
        safe.to_csv(tmp, index=False, encoding="utf-8-sig", lineterminator="\r\n")
    return Path(path)


def write_gpkg(gdf: gpd.GeoDataFrame, path: str | os.PathLike[str], *, layer: str) -> Path:
    """Write `gdf` to a one-layer GeoPackage (version 1.2) atomically and return the path."""
    with atomic_path(path) as tmp:
        gdf.to_file(tmp, layer=layer, driver="GPKG", engine="pyogrio", VERSION=GPKG_VERSION)
    return Path(path)


def write_geojson(gdf: gpd.GeoDataFrame, path: str | os.PathLike[str]) -> Path:
    """Write polygons to GeoJSON as RFC 7946 says, atomically, and return the path.

    Coordinates in WGS84 longitude/latitude with 7 decimals (1 cm), exterior rings
    counter-clockwise and holes clockwise, every geometry a MultiPolygon so a reader
    sees one geometry type; written by GDAL's own GeoJSON driver (``RFC7946=YES``).
    """
    import shapely

    if gdf.crs is None or not gdf.crs.equals("EPSG:4326"):
        gdf = gdf.to_crs("EPSG:4326")
    geoms = gdf.geometry.to_numpy()
    single = shapely.get_type_id(geoms) == 3  # Polygon
    if single.any():
        geoms = geoms.copy()
        geoms[single] = shapely.multipolygons(geoms[single, None].tolist())
        gdf = gdf.set_geometry(gpd.GeoSeries(geoms, index=gdf.index, crs=gdf.crs))
    with atomic_path(path) as tmp:
        gdf.to_file(tmp, driver="GeoJSON", engine="pyogrio", RFC7946="YES",
                    WRITE_NAME="NO", COORDINATE_PRECISION=7, geometry_type="MultiPolygon")
    return Path(path)


def write_gpkg_layers(layers: dict[str, gpd.GeoDataFrame], path: str | os.PathLike[str]) -> Path:
    """Write several layers (name to frame, in order) to one GeoPackage atomically."""
    with atomic_path(path) as tmp:
        for i, (layer, gdf) in enumerate(layers.items()):
            options = {"append": True} if i else {"VERSION": GPKG_VERSION}
            gdf.to_file(tmp, layer=layer, driver="GPKG", engine="pyogrio", **options)
    return Path(path)
