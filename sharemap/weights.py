"""Where residents live inside their unit: the weights that spread a unit's population.

A boundary unit's residents go to its blocks in proportion to a weight per block
(block area without ``[coverage] weights``), and a block's residents to its
origins in proportion to the weight of each origin's part of the block
(:mod:`sharemap.origins`). This module computes those weights, per part (a block
with one origin is its own part), from one of four sources:

``polygons`` (``weights = { path = "buildings.gpkg", column = "floors" }``)
    The area of the layer's polygons inside the part, times `column` (floors gives
    floor area). Overlapping polygons count each time; land no polygon covers
    weighs 0.
``landuse`` (``weights = { path = "landuse.gpkg", class_column = "class", classes =
{ park = 0, residential = 1 } }``)
    Every point of land weighs the weight of its polygon's class: the class's value
    in ``classes``, else the built-in weight of that class name (0 for the parks,
    forests, campuses, cemeteries and water of :data:`ZERO_CLASSES`), else
    ``default`` (1). Land no polygon covers weighs ``default``; where polygons
    overlap, the lowest weight holds (a park drawn inside a residential zone weighs
    0). A part's weight is the sum over its land of area x weight.
``osm`` (``weights = { osm = "district.osm.pbf" }``)
    The same, with the polygons (closed ways and multipolygon relations) tagged
    ``landuse``, ``leisure``, ``amenity`` or ``natural`` in an OSM XML file (read
    with osmnx) or PBF file (read with pyosmium). A polygon's classes are its
    ``key=value`` tags (``leisure=park``); with several, the lowest weight holds.
    ``classes`` may name ``key=value`` pairs or plain values.
``raster`` (``weights = { raster = "pop_100m.tif", band = 1 }``)
    A population grid (the SGIS 100 m grid, WorldPop): the sum of the cells over
    the part, each cell counted by the share of its area inside the part (so a
    cell split by a street counts half on each side). Summed with exactextract on
    the cells read with rasterio; nodata cells count 0.

Whatever the source, a unit's total is conserved: the weights only say how it is
shared (a unit whose blocks all weigh 0 is shared by block area, and a block
whose parts all weigh 0 by part area).
"""

from __future__ import annotations

import logging
import math
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import geopandas as gpd
import numpy as np
import numpy.typing as npt
import shapely

from ._crs import to_analysis_crs
from ._errors import InputDataError, MissingDependencyError

if TYPE_CHECKING:
    from .config import WeightsConfig

__all__ = [
    "OSM_KEYS",
    "ZERO_CLASSES",
    "class_weights",
    "landuse_weights",
    "part_weights",
    "raster_weights",
    "read_landuse",
    "read_osm_landuse",
]

logger = logging.getLogger(__name__)

#: The OSM keys whose polygons are read as land use.
OSM_KEYS = ("landuse", "leisure", "amenity", "natural")
#: Land where no one lives (weight 0 unless ``classes`` says otherwise): parks and
#: gardens, forests and other green land, campuses and schools, hospitals,
#: cemeteries, water, railways and car parks. Given as OSM ``key=value``; a plain
#: class name matches the value (``park`` is ``leisure=park``).
ZERO_CLASSES = (
    "leisure=park", "leisure=garden", "leisure=nature_reserve", "leisure=golf_course",
    "leisure=pitch", "leisure=stadium", "leisure=track", "leisure=sports_centre",
    "leisure=playground", "leisure=common", "leisure=dog_park",
    "landuse=forest", "landuse=cemetery", "landuse=grass", "landuse=meadow",
    "landuse=recreation_ground", "landuse=village_green", "landuse=reservoir",
    "landuse=basin", "landuse=railway", "landuse=military", "landuse=religious",
    "landuse=construction", "landuse=brownfield", "landuse=landfill", "landuse=quarry",
    "landuse=farmland", "landuse=orchard", "landuse=allotments", "landuse=education",
    "natural=wood", "natural=water", "natural=wetland", "natural=scrub", "natural=heath",
    "natural=grassland", "natural=bare_rock", "natural=beach", "natural=scree",
    "amenity=university", "amenity=college", "amenity=school", "amenity=kindergarten",
    "amenity=hospital", "amenity=grave_yard", "amenity=parking", "amenity=prison",
    "amenity=place_of_worship",
)


# ----------------------------------------------------------------------------- classes


def class_weights(classes: npt.ArrayLike, *, weights: Mapping[str, float] | None = None,
                  default: float = 1.0) -> npt.NDArray[np.float64]:
    """Return the weight of each land-use class.

    Parameters
    ----------
    classes
        Class names (``park``) or OSM ``key=value`` pairs (``leisure=park``).
    weights
        The study's weights per class (``[coverage] weights.classes``); they take
        precedence over the built-in ones.
    default
        The weight of a class neither names.

    Returns
    -------
    weights
        One weight per class: the study's for the class (or for its value, for a
        ``key=value`` pair), else 0 for the classes of :data:`ZERO_CLASSES` (by
        ``key=value`` or by value), else `default`.

    Examples
    --------
    >>> class_weights(["leisure=park", "park", "residential", "공원"],
    ...               weights={"공원": 0.0, "residential": 2.0}).tolist()
    [0.0, 0.0, 2.0, 0.0]
    """
    given = dict(weights or {})
    zero = set(ZERO_CLASSES) | {c.split("=", 1)[1] for c in ZERO_CLASSES}
    out = []
    for name in np.asarray(classes, dtype=object).tolist():
        text = "" if name is None or (isinstance(name, float) and math.isnan(name)) \
            else str(name).strip()
        value = text.split("=", 1)[1] if "=" in text else text
        if text in given:
            out.append(given[text])
        elif value in given:
            out.append(given[value])
        else:
            out.append(0.0 if text in zero or value in zero else default)
    return np.asarray(out, dtype=np.float64)


# ----------------------------------------------------------------------------- readers


def read_landuse(path: str | Path, *, class_column: str, crs: Any,
                 layer: str | None = None) -> gpd.GeoDataFrame:
    """Read a land-use polygon layer: each polygon with its class.

    Parameters
    ----------
    path
        Any polygon file GDAL reads.
    class_column
        The column holding each polygon's class.
    crs
        The analysis CRS.
    layer
        The layer of a multi-layer file.

    Returns
    -------
    landuse
        ``class`` (text) and polygon geometry in the analysis CRS.

    Raises
    ------
    InputDataError
        If the file cannot be read, has no such column or holds non-polygons.
    """
    from ._readers import keep_polygons, read_vector

    p = Path(path)
    gdf = read_vector(p, what="the land-use layer", layer=layer)
    if class_column not in gdf:
        msg = (f"{p}: no column {class_column!r} (given as weights `class_column`); columns "
               f"are {[c for c in gdf.columns if c != gdf.geometry.name]}")
        raise InputDataError(msg)
    gdf = keep_polygons(gdf, p, "the land-use layer")
    gdf = to_analysis_crs(gdf, crs, f"land-use layer {p}")
    classes = gdf[class_column].astype("object").where(gdf[class_column].notna(), "")
    return gpd.GeoDataFrame({"class": classes.astype(str).str.strip().to_numpy()},
                            geometry=shapely.make_valid(gdf.geometry.to_numpy()), crs=gdf.crs)


def read_osm_landuse(path: str | Path, *, crs: Any) -> gpd.GeoDataFrame:
    """Read the land-use polygons of an OSM XML or PBF file.

    Parameters
    ----------
    path
        ``.osm`` / ``.xml`` (read with osmnx) or ``.pbf`` (read with pyosmium).
    crs
        The analysis CRS.

    Returns
    -------
    landuse
        One row per (polygon, tag) for the tags of :data:`OSM_KEYS`: ``class``
        (``key=value``) and polygon geometry in the analysis CRS.

    Raises
    ------
    InputDataError
        If the file cannot be read.
    MissingDependencyError
        For a PBF file without pyosmium.
    """
    p = Path(path)
    try:
        if p.suffix.lower() == ".pbf":
            geoms, classes = _osm_pbf_polygons(p)
        else:
            geoms, classes = _osm_xml_polygons(p)
    except (InputDataError, MissingDependencyError):
        raise
    except Exception as exc:
        msg = f"{p}: cannot read OSM land use ({type(exc).__name__}: {exc})"
        raise InputDataError(msg) from None
    out = gpd.GeoDataFrame({"class": classes}, geometry=geoms, crs="EPSG:4326")
    out = out[out.geometry.notna() & ~out.geometry.is_empty]
    logger.info("Read %d land-use polygons (%d tags) from %s",
                len(set(map(id, out.geometry))), len(out), p.name)
    return to_analysis_crs(out.reset_index(drop=True), crs, f"OSM file {p}")


def _osm_xml_polygons(path: Path) -> tuple[list[Any], list[str]]:
    """Polygons and their ``key=value`` classes from OSM XML, with osmnx."""
    import osmnx as ox

    try:
        gdf = ox.features_from_xml(path, tags={k: True for k in OSM_KEYS})
    except Exception as exc:  # osmnx's InsufficientResponseError: no such feature at all
        if type(exc).__name__ == "InsufficientResponseError":
            return [], []
        raise
    gdf = gdf[gdf.geometry.geom_type.isin(["Polygon", "MultiPolygon"])]
    geoms: list[Any] = []
    classes: list[str] = []
    for key in OSM_KEYS:
        if key not in gdf:
            continue
        tagged = gdf[key].notna()
        geoms += list(gdf.geometry[tagged])
        classes += [f"{key}={v}" for v in gdf[key][tagged]]
    return geoms, classes


def _osm_pbf_polygons(path: Path) -> tuple[list[Any], list[str]]:
    """Polygons and their ``key=value`` classes from an OSM PBF file, with pyosmium."""
    try:
        import osmium
    except ImportError:
        msg = (f"{path}: reading land use from an OSM PBF file needs pyosmium: "
               'pip install "sharemap[pbf]"')
        raise MissingDependencyError(msg) from None
    wkb = osmium.geom.WKBFactory()
    geoms: list[Any] = []
    classes: list[str] = []
    areas = osmium.FileProcessor(str(path)).with_areas().with_filter(
        osmium.filter.KeyFilter(*OSM_KEYS))
    for obj in areas:
        if not isinstance(obj, osmium.osm.Area):
            continue
        tags = [(k, obj.tags.get(k)) for k in OSM_KEYS if obj.tags.get(k)]
        if not tags:
            continue
        try:
            geom = shapely.from_wkb(bytes.fromhex(wkb.create_multipolygon(obj)))
        except RuntimeError:  # an unclosed or broken ring: not an area
            continue
        for key, value in tags:
            geoms.append(geom)
            classes.append(f"{key}={value}")
    return geoms, classes


# ----------------------------------------------------------------------------- weights


def _pairs_area(parts: npt.NDArray[np.object_], pieces: npt.NDArray[np.object_]
                ) -> npt.NDArray[np.float64]:
    """Per part, the area of `pieces` (disjoint polygons) inside it."""
    if not len(pieces) or not len(parts):
        return np.zeros(len(parts))
    pi, qi = shapely.STRtree(pieces).query(parts, predicate="intersects")
    inside = shapely.area(shapely.intersection(parts[pi], pieces[qi]))
    return np.asarray(np.bincount(pi, weights=inside, minlength=len(parts)), dtype=np.float64)


def landuse_weights(parts: gpd.GeoSeries | gpd.GeoDataFrame, landuse: gpd.GeoDataFrame, *,
                    classes: Mapping[str, float] | None = None,
                    default: float = 1.0) -> npt.NDArray[np.float64]:
    """Weigh each part by the land use inside it (see the module notes).

    Parameters
    ----------
    parts
        Parts of blocks (or blocks), polygons in the analysis CRS.
    landuse
        ``class`` and polygon geometry in the same CRS (:func:`read_landuse`,
        :func:`read_osm_landuse`).
    classes
        Weights per class (see :func:`class_weights`).
    default
        The weight of unnamed classes and of land no polygon covers.

    Returns
    -------
    weights
        Per part: the sum over its land of area (m²) x weight, where a point's
        weight is the lowest weight of the polygons covering it, or `default`.

    Examples
    --------
    >>> import shapely, geopandas as gpd
    >>> part = gpd.GeoSeries([shapely.box(0, 0, 100, 100)], crs="EPSG:5186")
    >>> land = gpd.GeoDataFrame({"class": ["park", "residential"]}, crs="EPSG:5186",
    ...     geometry=[shapely.box(0, 0, 50, 100), shapely.box(25, 0, 100, 100)])
    >>> landuse_weights(part, land).tolist()  # 5,000 m² of park (0), the rest 1
    [5000.0]
    """
    geoms = parts.geometry.to_numpy() if isinstance(parts, gpd.GeoDataFrame) \
        else parts.to_numpy()
    total = shapely.area(geoms)
    w = class_weights(landuse["class"].to_numpy(), weights=classes, default=default)
    polys = landuse.geometry.to_numpy()
    # only the polygons that touch some part matter
    near = np.unique(shapely.STRtree(geoms).query(polys, predicate="intersects")[0])
    polys, w = polys[near], w[near]
    out = np.zeros(len(geoms))
    below = np.zeros(len(geoms))  # area covered by polygons of the levels done so far
    for level in np.unique(w):
        covered = _pairs_area(geoms, shapely.get_parts(shapely.union_all(polys[w <= level])))
        out += level * _area_step(covered - below)
        below = covered
    return out + default * _area_step(total - below)


def _area_step(area: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    """Areas as they add up, with the rounding of overlay (under 1 mm²) taken as 0."""
    return np.where(area < 1e-6, 0.0, area)


def raster_weights(parts: gpd.GeoSeries | gpd.GeoDataFrame, path: str | Path, *,
                   band: int = 1) -> npt.NDArray[np.float64]:
    """Sum a population grid over each part, cells counted by the share inside it.

    Parameters
    ----------
    parts
        Parts of blocks (or blocks), polygons with a CRS.
    path
        A GeoTIFF (any raster GDAL reads) with a CRS: residents per cell.
    band
        The band to read (1 = the first).

    Returns
    -------
    weights
        Per part, the sum of ``cell value x share of the cell's area inside the
        part`` (nodata cells count 0), computed by exactextract.

    Raises
    ------
    InputDataError
        If the file cannot be read, has no CRS or no such band, is rotated, or a cell
        under the parts is negative or infinite (only those cells are read).
    MissingDependencyError
        Without rasterio and exactextract (``pip install "sharemap[raster]"``).
    """
    try:
        import rasterio
        from exactextract import exact_extract
        from exactextract.raster import NumPyRasterSource
        from rasterio.windows import Window
    except ImportError:
        msg = ("population from a raster grid needs rasterio and exactextract: "
               'pip install "sharemap[raster]"')
        raise MissingDependencyError(msg) from None
    p = Path(path)
    series = parts.geometry if isinstance(parts, gpd.GeoDataFrame) else parts
    try:
        with warnings.catch_warnings():  # a grid without georeferencing: said below
            warnings.simplefilter("ignore", rasterio.errors.NotGeoreferencedWarning)
            src = rasterio.open(p)
    except Exception as exc:
        msg = f"{p}: cannot read the population grid ({type(exc).__name__}: {exc})"
        raise InputDataError(msg) from None
    with src:
        if src.crs is None:
            msg = f"{p}: the population grid has no CRS; write it with one (e.g. EPSG:5179)"
            raise InputDataError(msg)
        if not 1 <= band <= src.count:
            msg = f"{p}: no band {band} (weights `band`); the grid has {src.count} band(s)"
            raise InputDataError(msg)
        t = src.transform
        if t.b or t.d:
            msg = f"{p}: the population grid is rotated; write it north-up"
            raise InputDataError(msg)
        local = series.to_crs(src.crs)
        if not len(local):
            return np.zeros(0)
        # the cells under the parts only (a national grid is large)
        x0, y0, x1, y1 = local.total_bounds
        cols = sorted(((x0 - t.c) / t.a, (x1 - t.c) / t.a))
        rows = sorted(((y0 - t.f) / t.e, (y1 - t.f) / t.e))
        c0, c1 = max(math.floor(cols[0]), 0), min(math.ceil(cols[1]), src.width)
        r0, r1 = max(math.floor(rows[0]), 0), min(math.ceil(rows[1]), src.height)
        if c1 <= c0 or r1 <= r0:  # the grid does not reach the parts
            return np.zeros(len(local))
        cells = src.read(band, window=Window(c0, r0, c1 - c0, r1 - r0),
                         masked=True).astype(np.float64)
    _check_cells(cells, p, r0, c0)
    values = np.ma.filled(cells, np.nan)
    xs = (t.c + t.a * c0, t.c + t.a * c1)
    ys = (t.f + t.e * r0, t.f + t.e * r1)
    raster = NumPyRasterSource(values, min(xs), min(ys), max(xs), max(ys), nodata=np.nan,
                               srs_wkt=local.crs.to_wkt())
    table = exact_extract(raster, gpd.GeoDataFrame(geometry=local.to_numpy(), crs=local.crs),
                          "sum", output="pandas")
    return np.nan_to_num(table["sum"].to_numpy(dtype=np.float64), nan=0.0)


def _check_cells(cells: np.ma.MaskedArray, path: Path, row0: int, col0: int) -> None:
    """Refuse a grid with a negative (or infinite) count of residents; name the cell."""
    data = np.ma.filled(cells, 0.0)
    bad = ~np.isfinite(data) | (data < 0)
    if bad.any():
        r, c = (int(v) for v in np.argwhere(bad)[0])
        msg = (f"{path}: cell (row {row0 + r + 1}, column {col0 + c + 1}) holds "
               f"{float(data[r, c]):g}; a population grid needs counts >= 0 (mark empty cells "
               "as nodata)")
        raise InputDataError(msg)


def _check_classes_named(classes: npt.ArrayLike, given: Mapping[str, float], path: Path
                         ) -> None:
    """Refuse `classes` none of whose names is a class of the land-use layer.

    Such a mapping weighs nothing as asked (every polygon would take the built-in
    weight or `default`), so the figures would stay those of the spread by area.
    """
    if not given:
        return
    names, counts = np.unique(np.asarray(classes, dtype=str), return_counts=True)
    have = set(names.tolist())
    values = have | {c.split("=", 1)[1] for c in have if "=" in c}
    if any(name in values for name in given):
        return
    order = np.argsort(-counts, kind="stable")[:12]
    shown = ", ".join(f"{names[i]!r} ({counts[i]:,})" for i in order)
    more = f" and {len(names) - 12:,} more" if len(names) > 12 else ""
    msg = (f"{path}: weights `classes` names {', '.join(map(str, given))}, but no polygon of "
           f"the layer has any of these classes (its classes: {shown}{more}), so every piece "
           "of land would weigh as without them; name the classes exactly as the layer "
           "writes them")
    raise InputDataError(msg)


def part_weights(parts: gpd.GeoSeries | gpd.GeoDataFrame, config: WeightsConfig, *,
                 crs: Any) -> npt.NDArray[np.float64]:
    """Weigh the parts of blocks by ``[coverage] weights`` (see the module notes).

    Parameters
    ----------
    parts
        The parts (a block with one origin is its own part), in the analysis CRS.
    config
        The study's ``[coverage] weights``.
    crs
        The analysis CRS.

    Returns
    -------
    weights
        One weight per part (>= 0).
    """
    series = parts.geometry if isinstance(parts, gpd.GeoDataFrame) else parts
    frame = gpd.GeoDataFrame(geometry=series.to_numpy(), crs=series.crs)
    if config.source == "raster":
        return raster_weights(frame, config.path, band=config.band)
    if config.source in ("landuse", "osm"):
        land = (read_osm_landuse(config.path, crs=crs) if config.source == "osm" else
                read_landuse(config.path, class_column=str(config.class_column), crs=crs,
                             layer=config.layer))
        if config.source == "landuse":
            _check_classes_named(land["class"], config.classes, config.path)
        return landuse_weights(frame, land, classes=config.classes, default=config.default)
    from .coverage import block_weights

    return block_weights(frame, config.path, crs=crs, layer=config.layer,
                         column=config.column).to_numpy(np.float64)
