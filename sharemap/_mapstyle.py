"""Styles and input checks shared by the interactive map, the static figures and the report.

Private module (its names are for the map modules: :mod:`sharemap.maps`,
``_map_data``, ``_split_maps``, ``_static_map``); :mod:`sharemap.maps` re-exports
those meant for users (``ADJACENT_CLASSES``, ``WALK_CLASSES``, ``CATEGORY_STYLES``,
:func:`escape_text`).
"""

from __future__ import annotations

import html
import logging
import math
from collections.abc import Iterable, Sequence
from typing import Any, NamedTuple

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from pyproj import CRS

from ._errors import ConfigError, CRSError, InputDataError

__all__ = [
    "ADJACENT",
    "ADJACENT_CLASSES",
    "CANDIDATE_COLOUR",
    "CATEGORY_STYLES",
    "SUPPLY_PREFIX",
    "UNREACHABLE",
    "VILLAGE_COLOUR",
    "WALK_CLASSES",
    "WALK_PREFIX",
    "BlockStyle",
    "Rings",
    "block_style",
    "category_styles",
    "check_color_by",
    "check_layer",
    "class_index",
    "escape_text",
    "fmt_num",
    "int_text",
    "ordered_categories",
    "polygon_rings",
    "supply_classes",
    "supply_reference",
    "tolerance",
    "truthy",
    "truthy_mask",
]

logger = logging.getLogger("sharemap.maps")

WALK_PREFIX = "walk_min_"
SUPPLY_PREFIX = "supply_per_1000_"
ADJACENT = "adjacent_spaces"

#: Block classes by adjacent-space count: (upper bound inclusive, label, colour).
ADJACENT_CLASSES: tuple[tuple[float, str, str], ...] = (
    (0, "0 spaces", "#d9d9d9"), (1, "1", "#ffffcc"), (2, "2", "#c2e699"), (3, "3", "#78c679"),
    (4, "4", "#31a354"), (math.inf, "5 or more", "#006837"),
)
#: Block classes by walking minutes: (upper bound inclusive, label, colour).
WALK_CLASSES: tuple[tuple[float, str, str], ...] = (
    (5, "0–5 min", "#1a9850"), (10, "5–10 min", "#a6d96a"), (15, "10–15 min", "#fee08b"),
    (math.inf, "over 15 min", "#f46d43"),
)
UNREACHABLE = ("unreachable", "#8c8c8c")

#: Built-in categories: (marker colour, Font Awesome 6 solid icon name).
CATEGORY_STYLES: dict[str, tuple[str, str]] = {
    "bike": ("#2e9e3a", "bicycle"),
    "carshare": ("#1f77b4", "car"),
    "parking": ("#0f8a8f", "square-parking"),
    "tools": ("#e6750a", "screwdriver-wrench"),
    "toys": ("#9467bd", "puzzle-piece"),
    "facility": ("#d62728", "building"),
}
_EXTRA_STYLES = (
    ("#8c564b", "star"), ("#e377c2", "heart"), ("#7f7f7f", "users"), ("#393b79", "box"),
    ("#8c8c1e", "leaf"), ("#843c39", "book"), ("#17becf", "gift"), ("#222222", "mug-hot"),
)
#: Outline of candidate blocks and of villages.
CANDIDATE_COLOUR = "#000000"
VILLAGE_COLOUR = "#c51b8a"


def escape_text(value: Any) -> str:
    """Return `value` as text safe to put into HTML (missing values become "").

    Braces become character references too: folium's branca renders every element's
    output through jinja a second time, so a name holding ``{{ ... }}`` or ``{% ... %}``
    would otherwise be run as a template (code execution while the map is built).

    Examples
    --------
    >>> escape_text('<img src=x onerror="alert(1)">')
    '&lt;img src=x onerror=&quot;alert(1)&quot;&gt;'
    >>> escape_text("{{ 7 * 7 }}")
    '&#123;&#123; 7 * 7 &#125;&#125;'
    >>> escape_text(float("nan"))
    ''
    """
    if value is None or value is pd.NA or value is pd.NaT:
        return ""
    if isinstance(value, float) and math.isnan(value):
        return ""
    text = html.escape(str(value), quote=True)
    return text.replace("{", "&#123;").replace("}", "&#125;")



def check_layer(gdf: gpd.GeoDataFrame | None, name: str,
                 required: Sequence[str]) -> gpd.GeoDataFrame | None:
    """Check type, CRS and columns of an input layer; None or empty gives None."""
    if gdf is None:
        return None
    if not isinstance(gdf, gpd.GeoDataFrame):
        msg = f"`{name}` must be a GeoDataFrame, got {type(gdf).__name__}"
        raise InputDataError(msg)
    if len(gdf) == 0:
        return None
    if gdf.crs is None:
        msg = (f"`{name}` has no coordinate reference system; set one "
               f"(e.g. `{name}.set_crs('EPSG:5186')`) before building the map")
        raise CRSError(msg)
    missing = [c for c in required if c not in gdf.columns]
    if missing:
        msg = (f"`{name}` lacks the column(s) {', '.join(map(repr, missing))} needed for the map; "
               f"it has {', '.join(map(str, gdf.columns))}")
        raise InputDataError(msg)
    keep = gdf.geometry.notna() & ~gdf.geometry.is_empty
    if keep.all():
        return gdf
    logger.info("Map: skipped %d %s without geometry", int((~keep).sum()), name)
    return gdf[keep]



def fmt_num(value: Any, fmt: str, missing: str = "–") -> str:
    """Format a number, or `missing` when it is absent or NaN."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        return missing
    return missing if math.isnan(number) else format(number, fmt)


def class_index(values: Any, classes: Sequence[tuple[float, str, str]]) -> np.ndarray:
    """Index of the class holding each value (upper bounds inclusive), ``len(classes)`` if missing.

    Examples
    --------
    >>> class_index([0, 5, 5.1, 15, 99, None], WALK_CLASSES).tolist()
    [0, 0, 1, 2, 3, 4]
    """
    numbers = pd.to_numeric(pd.Series(values, dtype=object), errors="coerce").to_numpy(
        dtype=float, na_value=np.nan)
    uppers = np.array([upper for upper, _label, _colour in classes], dtype=float)
    index = np.minimum(np.searchsorted(uppers, numbers, side="left"), len(classes) - 1)
    index[np.isnan(numbers)] = len(classes)
    return index


def truthy_mask(values: Any) -> np.ndarray:
    """Boolean array of :func:`truthy` for each value."""
    series = pd.Series(values, dtype=object)
    return series.where(series.notna(), False).map(bool).to_numpy(dtype=bool)


class Rings(NamedTuple):
    """The polygon rings of an array of geometries, as flat arrays (see :func:`polygon_rings`)."""

    vertices: np.ndarray  # (m, 2): every ring closed (its first vertex repeated at its end)
    sizes: np.ndarray  # coordinates per ring
    row: np.ndarray  # the input geometry of each ring (non-decreasing)
    exterior: np.ndarray  # True for a polygon's exterior, which precedes its holes


def polygon_rings(geoms: Sequence[Any] | np.ndarray) -> Rings:
    """Rings of the polygon parts of `geoms`, in input order (other geometry types ignored).

    Polygons without holes (most blocks) are read with two vectorised calls; only the
    others are split into parts and rings. Holes with fewer than 4 coordinates are
    dropped, and so are polygons whose exterior has fewer than 4.

    Examples
    --------
    >>> from shapely.geometry import Point, box
    >>> donut = box(0, 0, 10, 10).difference(box(4, 4, 6, 6))
    >>> r = polygon_rings([box(0, 0, 1, 1), Point(0, 0), donut])
    >>> r.sizes.tolist(), r.row.tolist(), r.exterior.tolist()
    ([5, 5, 5], [0, 2, 2], [True, True, False])
    """
    geoms = np.asarray(geoms, dtype=object)
    type_id = shapely.get_type_id(geoms)
    simple = (type_id == 3) & (shapely.get_num_interior_rings(geoms) == 0)
    sizes = [shapely.get_num_coordinates(geoms[simple])]
    vertices = [shapely.get_coordinates(geoms[simple])]
    rows = [np.flatnonzero(simple)]
    exterior = [np.ones(len(rows[0]), dtype=bool)]
    other = np.flatnonzero(~simple & np.isin(type_id, (3, 6)))
    if len(other):
        parts, part_row = shapely.get_parts(geoms[other], return_index=True)
        parts, part_row = parts[shapely.get_type_id(parts) == 3], part_row[
            shapely.get_type_id(parts) == 3]
        rings, ring_part = shapely.get_rings(parts, return_index=True)
        sizes.append(shapely.get_num_coordinates(rings))
        vertices.append(shapely.get_coordinates(rings))
        rows.append(other[part_row[ring_part]])
        exterior.append(np.r_[True, ring_part[1:] != ring_part[:-1]][:len(ring_part)])
    size, vertex = np.concatenate(sizes), np.concatenate(vertices)
    row, ext = np.concatenate(rows), np.concatenate(exterior)
    if len(other):  # back to input order (stable: a polygon's rings keep their order)
        order = np.argsort(row, kind="stable")
        starts = np.cumsum(size) - size
        vertex = vertex[np.repeat(starts[order] - (np.cumsum(size[order]) - size[order]),
                                  size[order]) + np.arange(len(vertex))]
        size, row, ext = size[order], row[order], ext[order]
    part = np.cumsum(ext) - 1
    keep = (size >= 4) & np.isin(part, part[ext & (size >= 4)])
    return Rings(vertex[np.repeat(keep, size)], size[keep], row[keep], ext[keep])


def check_color_by(blocks: gpd.GeoDataFrame | None, color_by: str) -> None:
    """Raise ConfigError unless `color_by` names a block measure the map can show."""
    columns = [] if blocks is None else [str(c) for c in blocks.columns]
    allowed = [ADJACENT, *sorted(c for c in columns if c.startswith(WALK_PREFIX)),
               *sorted(c for c in columns if c.startswith(SUPPLY_PREFIX))]
    prefixed = color_by.startswith((WALK_PREFIX, SUPPLY_PREFIX))
    if color_by == ADJACENT or (prefixed and color_by in allowed):
        if blocks is not None and len(blocks) and color_by not in columns:
            msg = f"`color_by` = {color_by!r} but the blocks have no column {color_by!r}"
            raise InputDataError(msg)
        return
    msg = (f"`color_by` = {color_by!r} is not a block measure; use one of: "
           f"{', '.join(allowed)}")
    raise ConfigError(msg)


#: Colours of the supply classes: none reachable, then light to dark.
_SUPPLY_COLOURS = ("#d9d9d9", "#edf8fb", "#b3cde3", "#8c96c6", "#8856a7", "#810f7c")


def supply_reference(blocks: pd.DataFrame, column: str) -> float:
    """Return the population-weighted mean of a supply column (the plain mean without residents).

    The supply classes of a map are multiples of it, so that one legend reads the same
    for a category of 3 docks and one of 300 bays per 1,000 residents.
    """
    values = pd.to_numeric(blocks[column], errors="coerce").to_numpy(dtype=float)
    ok = ~np.isnan(values)
    if "population" in blocks.columns:
        pop = pd.to_numeric(blocks["population"], errors="coerce").fillna(0).to_numpy(float)
        if (pop[ok] > 0).any():
            return float((pop[ok] * values[ok]).sum() / pop[ok].sum())
    return float(values[ok].mean()) if ok.any() else math.nan


def _num_label(value: float) -> str:
    if value < 1:
        return f"{value:.3g}"
    return f"{value:,.2f}" if value < 100 else f"{value:,.0f}"


def supply_classes(reference: float) -> tuple[tuple[float, str, str], ...]:
    """Return the block classes of a supply map: none, then steps of half the study's mean.

    Examples
    --------
    >>> [label for _u, label, _c in supply_classes(3.0)]
    ['none within reach', 'up to 1.50', '1.50–3.00 (mean)', '3.00–4.50', '4.50–6.00', 'over 6.00']
    """
    none = (0.0, "none within reach", _SUPPLY_COLOURS[0])
    if not math.isfinite(reference) or reference <= 0:
        return (none, (math.inf, "some within reach", _SUPPLY_COLOURS[3]))
    a, b, c, d = (reference * k for k in (0.5, 1.0, 1.5, 2.0))
    return (none, (a, f"up to {_num_label(a)}", _SUPPLY_COLOURS[1]),
            (b, f"{_num_label(a)}–{_num_label(b)} (mean)", _SUPPLY_COLOURS[2]),
            (c, f"{_num_label(b)}–{_num_label(c)}", _SUPPLY_COLOURS[3]),
            (d, f"{_num_label(c)}–{_num_label(d)}", _SUPPLY_COLOURS[4]),
            (math.inf, f"over {_num_label(d)}", _SUPPLY_COLOURS[5]))


class BlockStyle(NamedTuple):
    """How blocks are coloured: the legend's heading, the classes, the missing class."""

    head: str
    classes: tuple[tuple[float, str, str], ...]
    missing: tuple[str, str] | None


def block_style(blocks: pd.DataFrame | None, color_by: str,
                reference: float | None = None) -> BlockStyle:
    """Return the legend heading and classes of the block measure `color_by`.

    `reference` (supply only) is the value the classes are multiples of; default:
    :func:`supply_reference` of `blocks` (the split maps pass the whole study's, so
    every unit's map uses one legend).
    """
    if color_by == ADJACENT:
        return BlockStyle("Adjacent sharing spaces", ADJACENT_CLASSES, None)
    if color_by.startswith(SUPPLY_PREFIX):
        if reference is None:
            reference = (supply_reference(blocks, color_by)
                         if blocks is not None and color_by in blocks.columns else math.nan)
        head = f"{color_by[len(SUPPLY_PREFIX):]} capacity reachable\nper 1,000 residents"
        return BlockStyle(head, supply_classes(reference), None)
    return BlockStyle(f"Walk to {color_by[len(WALK_PREFIX):]}", WALK_CLASSES, UNREACHABLE)


def category_styles(categories: Sequence[str]) -> dict[str, tuple[str, str]]:
    """Marker colour and icon for each category (built-ins fixed, others from a cycle)."""
    others = [c for c in categories if c not in CATEGORY_STYLES]
    return {c: CATEGORY_STYLES[c] if c in CATEGORY_STYLES else
            _EXTRA_STYLES[others.index(c) % len(_EXTRA_STYLES)] for c in categories}


def ordered_categories(values: Iterable[str]) -> list[str]:
    """Built-in categories in their SPEC order, then the others sorted."""
    seen = set(values)
    builtin = [c for c in CATEGORY_STYLES if c in seen]
    return builtin + sorted(seen - set(builtin))



def truthy(value: Any) -> bool:
    """Tell whether a boolean-like value is true (missing counts as False)."""
    if value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value)):
        return False
    return bool(value)


def int_text(value: Any) -> Any:
    """Show whole floats (ids read back as float because of NaN) without ".0"."""
    if isinstance(value, float | np.floating) and not math.isnan(value) and value.is_integer():
        return int(value)
    return value


def tolerance(crs: Any, metres: float) -> float:
    """`metres` expressed in the units of `crs` (degrees for a geographic CRS)."""
    parsed = CRS.from_user_input(crs)
    if parsed.is_geographic:
        return metres / 111_320.0
    factor = parsed.axis_info[0].unit_conversion_factor if parsed.axis_info else 1.0
    return metres / (factor or 1.0)
