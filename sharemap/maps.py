"""Folium maps of blocks, spaces and villages that work on an offline PC.

:func:`build_map` turns the pipeline's GeoDataFrames into a :class:`folium.Map`;
:func:`save_map` writes it as one self-contained HTML file, with Leaflet and every
other asset inlined from the ``folium-offline`` package, so that the data layers
render with no network at all (base tiles, when asked for, simply stay blank).

Every text taken from input data (names, ids, sources, categories, boundary
names) is HTML-escaped with :func:`escape_text` before it reaches a popup, a
tooltip, the legend or the layer control.

Also here: :func:`static_map` (the ``map.png`` figure, matplotlib, no tiles; drawn
in ``_static_map``, which draws the report's maps too),
:func:`save_split_maps` (one map per gu or other boundary unit, plus an index
page, for a whole city) and :func:`notebook_map` (show a map in Jupyter offline).
"""

from __future__ import annotations

import html
import logging
import math
import re
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import folium
import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from branca.element import Element, MacroElement
from folium.template import Template

from ._crs import WEB_CRS
from ._errors import ConfigError, InputDataError, MissingDependencyError
from ._io import write_text
from ._map_data import (
    MAP_JS,
    RESERVED_PROPERTIES,
    DataLayer,
    EncodedGeometry,
    bool_column,
    encode_geometry,
    id_list_column,
    json_list,
    layer_json,
    number_column,
    text_column,
)
from ._mapstyle import (
    ADJACENT,
    ADJACENT_CLASSES,
    CANDIDATE_COLOUR,
    CATEGORY_STYLES,
    SUPPLY_PREFIX,
    UNREACHABLE,
    VILLAGE_COLOUR,
    WALK_CLASSES,
    WALK_PREFIX,
    BlockStyle,
    block_style,
    category_styles,
    check_color_by,
    check_layer,
    class_index,
    escape_text,
    fmt_num,
    int_text,
    ordered_categories,
    supply_reference,
    tolerance,
    truthy,
)
from ._split_maps import block_units, index_html, unit_file, unit_layers
from ._static_map import korean_font, static_map

__all__ = [
    "ADJACENT_CLASSES",
    "CANVAS_THRESHOLD",
    "CATEGORY_STYLES",
    "WALK_CLASSES",
    "add_change_layers",
    "build_map",
    "escape_text",
    "korean_font",
    "notebook_map",
    "render_html",
    "save_map",
    "save_split_maps",
    "static_map",
]

logger = logging.getLogger(__name__)

#: Display simplification tolerance in metres.
SIMPLIFY_M = 0.5
#: Maps with more blocks than this draw blocks (and the layers below them) on one ``<canvas>``
#: instead of one SVG path per block (a city's 100,000 SVG paths take a browser many
#: seconds to open; a canvas, a few). Smaller maps keep SVG.
CANVAS_THRESHOLD = 5_000
#: The pane whose canvas holds the blocks (and the boundaries and isochrones below them).
_CANVAS_PANE = "sharemap-blocks"
_SEOUL = (37.5665, 126.9780)

_ISO_COLOURS = ("#08519c", "#3182bd", "#6baed6", "#9ecae1", "#c6dbef")

# Panes keep the drawing order fixed however layers are toggled. Isochrones lie under
# the blocks, so that a click on a block inside one opens the block's popup; they show
# through the blocks' translucent fill and in full on the streets between blocks (the
# streets they follow), where their tooltip names the space.
_PANES = (("sharemap-boundaries", 350), ("sharemap-isochrones", 390),
          ("sharemap-blocks", 400), ("sharemap-villages", 420))

_CSS = """
<style>
.folium-map.leaflet-container { background: #f4f3ef; }
.sharemap-box { background: rgba(255,255,255,0.92); padding: 6px 9px; border-radius: 5px;
  box-shadow: 0 1px 4px rgba(0,0,0,0.3); font: 12px/1.35 sans-serif; color: #222; }
.sharemap-title { font-size: 15px; font-weight: bold; }
.sharemap-warnings { max-width: 440px; margin-top: 4px; color: #8a1c00; }
.sharemap-warnings summary { cursor: pointer; font-weight: bold; }
.sharemap-warnings ul { margin: 3px 0 0 0; padding-left: 16px; max-height: 30vh;
  overflow-y: auto; }
.sharemap-legend { max-height: 60vh; overflow-y: auto; }
.sharemap-legend .sw { display: inline-block; width: 14px; height: 11px; margin-right: 5px;
  vertical-align: middle; border: 1px solid #777; }
.sharemap-legend .dot { border-radius: 50%; width: 15px; height: 15px; border: 0;
  color: #fff; font-size: 9px; line-height: 15px; text-align: center; }
.sharemap-dot { width: 20px; height: 20px; border-radius: 50%; box-sizing: border-box;
  border: 1.5px solid #fff; box-shadow: 0 0 3px rgba(0,0,0,0.7); color: #fff;
  font-size: 10px; line-height: 17px; text-align: center; }
.sharemap-popup td, .sharemap-popup th { padding: 1px 6px 1px 0; vertical-align: top;
  text-align: left; font-size: 12px; }
.leaflet-tooltip.sharemap-label { background: #222; color: #fff; border: 0; font-weight: bold;
  padding: 1px 5px; }
</style>
"""

Bounds = tuple[float, float, float, float]


class _HtmlControl(MacroElement):
    """A Leaflet control showing prepared (already escaped) HTML."""

    _template = Template("""
        {% macro script(this, kwargs) %}
        (function() {
            var ctl = L.control({position: {{ this.position|tojson }}});
            ctl.onAdd = function() {
                var div = L.DomUtil.create("div", {{ this.css_class|tojson }});
                div.innerHTML = {{ this.html|tojson }};
                L.DomEvent.disableClickPropagation(div);
                L.DomEvent.disableScrollPropagation(div);
                return div;
            };
            ctl.addTo({{ this._parent.get_name() }});
        })();
        {% endmacro %}
    """)

    def __init__(self, html_text: str, *, position: str, css_class: str) -> None:
        super().__init__()  # type: ignore[no-untyped-call]  # branca's is untyped
        self._name = "HtmlControl"
        self.html = html_text
        self.position = position
        self.css_class = css_class


# ---------------------------------------------------------------------------
# preparing layers (see sharemap._map_data for the encoding and the browser side)


def _display_geoms(gdf: gpd.GeoDataFrame, *, simplify: bool) -> np.ndarray:
    """Geometries of `gdf` simplified for display (in the CRS of `gdf`)."""
    geoms = gdf.geometry.to_numpy()
    if simplify:
        geoms = shapely.simplify(geoms, tolerance(gdf.crs, SIMPLIFY_M), preserve_topology=True)
    return geoms


def _encode(gdf: gpd.GeoDataFrame, *, kind: str,
            simplify: bool) -> tuple[EncodedGeometry, gpd.GeoDataFrame]:
    """Encode the geometry of `gdf`; also return its rows that kept a geometry."""
    geometry = encode_geometry(_display_geoms(gdf, simplify=simplify), kind=kind, crs=gdf.crs)
    if geometry.keep.all():
        return geometry, gdf
    logger.info("Map: skipped %d features with no %s to draw", int((~geometry.keep).sum()), kind)
    return geometry, gdf[geometry.keep]


def _values(series: pd.Series, decimals: int | None = None) -> str:
    """Encode a property column: numbers stay numbers, everything else is escaped text."""
    if pd.api.types.is_numeric_dtype(series.dtype) and not pd.api.types.is_bool_dtype(
            series.dtype):
        return number_column(series, decimals)
    return text_column(series)


def _level_columns(blocks: gpd.GeoDataFrame) -> list[str]:
    """Boundary level columns such as ``dong``: text columns other than the known ones."""
    known = {"block_id", "area_m2", "population", ADJACENT, "adjacent_categories",
             "adjacent_capacity", "candidate", "village_id", "adjacent_space_ids",
             blocks.geometry.name, *RESERVED_PROPERTIES}
    return [c for c in blocks.columns if c not in known and not str(c).startswith(WALK_PREFIX)
            and pd.api.types.is_string_dtype(blocks[c].dtype)][:4]


def _add_layer(m: folium.Map, group_name: str, encoded: str, *, show: bool = True,
               canvas: bool = False, **options: Any) -> folium.FeatureGroup:
    """Add an encoded layer inside a toggleable FeatureGroup named `group_name`.

    `options` are Leaflet path options; `canvas` draws the layer on the blocks'
    shared canvas (see ``MAP_JS``).
    """
    group = folium.FeatureGroup(name=group_name, show=show)
    if canvas:
        options["sharemap_canvas"] = _CANVAS_PANE
    DataLayer(encoded, **options).add_to(group)
    group.add_to(m)
    return group


def _add_boundaries(m: folium.Map, boundaries: gpd.GeoDataFrame, *,
                    canvas: bool) -> Bounds | None:
    geometry, kept = _encode(boundaries, kind="polygon", simplify=True)
    cols = {"name": text_column(kept["name"])} if "name" in kept.columns else {}
    if cols:
        cols["tip"] = cols["name"]
    _add_layer(m, "Boundaries", layer_json(geometry, cols, {}), pane="sharemap-boundaries",
               color="#6b6b6b", weight=1.2, fill_color="#fbfaf6", fill_opacity=0.6,
               dash_array="4 3", canvas=canvas)
    return geometry.bounds


def _block_columns(blocks: gpd.GeoDataFrame, walk_cols: Sequence[str],
                   levels: Sequence[str]) -> tuple[dict[str, str], list[list[str]]]:
    """Property columns of the block layer and its popup rows (label, format, keys)."""
    cols = {"block_id": _values(blocks["block_id"])}
    rows: list[list[str]] = []
    for lvl in levels:
        cols[str(lvl)] = text_column(blocks[lvl])
        rows.append([escape_text(lvl), "t", str(lvl)])
    numeric = [("area_m2", 0, "area", "ha"), ("population", 0, "residents", "n0"),
               *((c, 1, f"walk to {escape_text(c[len(WALK_PREFIX):])}", "min")
                 for c in walk_cols),
               (ADJACENT, 0, "adjacent spaces", "adj"), ("adjacent_categories", 0, "", ""),
               ("adjacent_capacity", 1, "adjacent capacity", "n0")]
    for col, decimals, label, fmt in numeric:
        if col in blocks.columns:
            cols[col] = number_column(blocks[col], decimals)
            if label:
                rows.append([label, fmt, col, "adjacent_categories" if fmt == "adj" else ""])
    if "adjacent_space_ids" in blocks.columns:
        cols["adjacent_space_ids"] = id_list_column(blocks["adjacent_space_ids"])
        rows.append(["adjacent ids", "list", "adjacent_space_ids", ""])
    if "candidate" in blocks.columns:
        cols["candidate"] = bool_column(blocks["candidate"])
        rows.append(["candidate", "yn", "candidate", ""])
    if "village_id" in blocks.columns:
        cols["village_id"] = _values(blocks["village_id"])
        rows.append(["village", "t", "village_id", ""])
    return cols, rows


def _add_blocks(m: folium.Map, blocks: gpd.GeoDataFrame, *, color_by: str,
                style: BlockStyle, canvas: bool) -> Bounds | None:
    walk_cols = [c for c in blocks.columns if str(c).startswith(WALK_PREFIX)]
    classes = style.classes
    geometry, kept = _encode(blocks, kind="polygon", simplify=True)
    cols, rows = _block_columns(kept, walk_cols, _level_columns(kept))
    if color_by.startswith(SUPPLY_PREFIX) and color_by in kept.columns:
        # the measure the map shows; the other categories' supply stay in blocks.gpkg
        cols[color_by] = number_column(kept[color_by], 3)
        rows.append([escape_text(f"{color_by[len(SUPPLY_PREFIX):]} per 1,000 residents"),
                     "f2", color_by, ""])
    values = kept[color_by] if color_by in kept.columns else pd.Series(np.nan, index=kept.index)
    cols["class"] = number_column(class_index(values, classes))
    spec = {"title": ["Block ", "block_id"], "rows": rows, "by": "class", "keys": ["fillColor"],
            "pal": [c for _u, _label, c in classes] + [UNREACHABLE[1]],
            "flag": "candidate", "flagStyle": {"color": CANDIDATE_COLOUR, "weight": 2.2}}
    n_cand = int(np.fromiter((truthy(v) for v in kept["candidate"]), bool, len(kept)).sum()
                 ) if "candidate" in kept.columns else 0
    head = style.head.replace("\n", " ")
    what = "adjacent spaces" if color_by == ADJACENT else head[:1].lower() + head[1:]
    name = f"Blocks by {escape_text(what)} ({len(blocks):,}; {n_cand:,} candidates outlined)"
    _add_layer(m, name, layer_json(geometry, cols, spec), pane="sharemap-blocks",
               color="#ffffff", weight=0.6, fill_opacity=0.65, canvas=canvas)
    return geometry.bounds


_VILLAGE_ROWS = [["village_id", "t", "village_id", ""], ["rank", "t", "rank", ""],
                 ["score", "f2", "score", ""], ["blocks", "i0", "n_blocks", ""],
                 ["spaces", "i0", "n_spaces", ""], ["categories", "list", "categories", ""],
                 ["residents", "n0", "population", ""]]


def _add_villages(m: folium.Map, villages: gpd.GeoDataFrame | None) -> Bounds | None:
    if villages is None:
        empty = encode_geometry(np.array([], dtype=object), kind="polygon")
        _add_layer(m, "Sharing villages (none)", layer_json(empty, {}, {}))
        return None
    villages = villages.sort_values("rank", kind="stable")
    geometry, kept = _encode(villages, kind="polygon", simplify=True)
    decimals = {"score": 2, "population": 0}
    cols = {c: _values(kept[c], decimals.get(c)) for _label, _fmt, c, _k in _VILLAGE_ROWS
            if c in kept.columns and c != "categories"}
    if "categories" in kept.columns:
        cols["categories"] = text_column(kept["categories"])
    ranks = [int_text(r) for r in kept["rank"]]
    texts = [escape_text(r) for r in ranks]
    cols["label"] = json_list([f"#{t}" if isinstance(r, int) and r <= 20 else None
                                for r, t in zip(ranks, texts, strict=True)])
    cols["tip"] = json_list([None if isinstance(r, int) and r <= 20 else
                              f"Sharing village #{t}" for r, t in zip(ranks, texts, strict=True)])
    spec = {"title": ["Sharing village #", "rank"],
            "rows": [r for r in _VILLAGE_ROWS if r[2] in cols]}
    _add_layer(m, f"Sharing villages ({len(villages):,})", layer_json(geometry, cols, spec),
               pane="sharemap-villages", color=VILLAGE_COLOUR, weight=3.5, fill=False)
    return geometry.bounds


def _add_isochrones(m: folium.Map, isochrones: gpd.GeoDataFrame, *,
                    canvas: bool = False) -> Bounds | None:
    minutes = pd.to_numeric(isochrones["minutes"], errors="coerce")
    # the longest walks first, so that the shorter ones are drawn on top
    iso = isochrones.iloc[np.argsort(-minutes.to_numpy(), kind="stable")]
    geometry, kept = _encode(iso, kind="polygon", simplify=True)
    kept_min = pd.to_numeric(kept["minutes"], errors="coerce")
    levels = sorted(minutes.dropna().unique())
    cols = {"space_id": text_column(kept["space_id"]), "category": text_column(kept["category"]),
            "minutes": number_column(kept_min),
            "class": number_column(kept_min.map({mi: i for i, mi in enumerate(levels)})),
            "tip": json_list(_isochrone_tips(kept, kept_min))}
    spec = {"by": "class", "keys": ["color", "fillColor"],
            "pal": [_ISO_COLOURS[i % len(_ISO_COLOURS)] for i in range(len(levels))]}
    _add_layer(m, f"Isochrones ({len(isochrones):,})", layer_json(geometry, cols, spec),
               pane="sharemap-isochrones", color="#3182bd", fill_color="#3182bd", weight=1.5,
               fill_opacity=0.2, canvas=canvas)
    return geometry.bounds


def _isochrone_tips(iso: gpd.GeoDataFrame, minutes: pd.Series) -> list[str]:
    """Tooltips naming the space (its name, else its id), or the spaces a merged one covers."""
    names = (iso["name"] if "name" in iso.columns else pd.Series("", index=iso.index))
    merged = (pd.to_numeric(iso["n_spaces"], errors="coerce").fillna(1) > 1
              if "n_spaces" in iso.columns else pd.Series(False, index=iso.index))
    tips = []
    for cat, sid, name, mi, many in zip(iso["category"], iso["space_id"], names, minutes,
                                        merged, strict=True):
        walk = f"{fmt_num(mi, 'g')} min walk"
        label = "" if name is None or (isinstance(name, float) and math.isnan(name)) else name
        if many:
            tips.append(f"{escape_text(cat)}: within a {walk} of {escape_text(label)}")
        else:
            tips.append(f"{escape_text(label or sid)} ({escape_text(cat)}): {walk}")
    return tips


_SPACE_ROWS = [["category", "t", "category", ""], ["space_id", "t", "space_id", ""],
               ["source", "t", "source", ""], ["source row", "t", "source_row", ""],
               ["to path", "m", "snap_m", ""]]


def _add_spaces(m: folium.Map, spaces: gpd.GeoDataFrame,
                styles: dict[str, tuple[str, str]]) -> list[Bounds | None]:
    spaces = spaces.copy()
    not_point = spaces.geom_type != "Point"
    if not_point.any():
        points = spaces.geometry[not_point].representative_point()
        spaces.loc[not_point, spaces.geometry.name] = points
    cats = spaces["category"].astype(object).where(spaces["category"].notna(), "").map(str)
    geoms = spaces.geometry.to_numpy()
    bounds = []
    for cat, (colour, icon) in styles.items():
        mask = (cats == cat).to_numpy()
        geometry = encode_geometry(geoms[mask], kind="point", crs=spaces.crs)
        sub = spaces[mask][geometry.keep]
        cols = {c: _values(sub[c], 0 if c == "snap_m" else None)
                for c in ("name", "category", "space_id", "source", "source_row", "snap_m")
                if c in sub.columns}
        names = [escape_text(n) for n in sub.get("name", pd.Series(None, index=sub.index))]
        cols["tip"] = json_list([n or escape_text(s) for n, s in
                                 zip(names, sub["space_id"], strict=True)])
        spec = {"title": ["", "name", "(no name)"],
                "rows": [r for r in _SPACE_ROWS if r[2] in cols],
                "icon": f"<div class='sharemap-dot' style='background:{colour}'>"
                        f"<i class='fa-solid fa-{icon}'></i></div>"}
        _add_layer(m, f"{escape_text(cat)} ({int(mask.sum()):,})",
                   layer_json(geometry, cols, spec))
        bounds.append(geometry.bounds)
    return bounds


def _legend_html(style: BlockStyle, styles: dict[str, tuple[str, str]],
                 *, has_villages: bool, has_isochrones: bool) -> str:
    """Legend HTML: block classes, outlines and the category colours (all escaped)."""
    classes = (*style.classes, (math.nan, *style.missing)) if style.missing else style.classes
    parts = [f"<b>{escape_text(style.head).replace(chr(10), '<br>')}</b><br>"]
    parts += [f"<span class='sw' style='background:{c}'></span>{escape_text(label)}<br>"
              for _u, label, c in classes]
    parts.append(f"<span class='sw' style='border:2px solid {CANDIDATE_COLOUR}'></span>"
                 "candidate block<br>")
    if has_villages:
        parts.append(f"<span class='sw' style='border:3px solid {VILLAGE_COLOUR}'></span>"
                     "sharing village (#rank)<br>")
    if has_isochrones:
        parts.append("<span class='sw' style='background:#c6dbef;border-color:#3182bd'>"
                     "</span>isochrone<br>")
    if styles:
        parts.append("<b>Sharing spaces</b><br>")
        parts += [f"<span class='sw dot' style='background:{colour}'><i class='fa-solid "
                  f"fa-{icon}'></i></span>{escape_text(cat)}<br>"
                  for cat, (colour, icon) in styles.items()]
    return "".join(parts)


def _fit(m: folium.Map, bounds: Iterable[Bounds | None]) -> None:
    """Fit the map to the WGS84 bounds of all drawn layers (Seoul when none).

    The fit comes first in the page, right after the map is made and before any layer
    (tiles included) is added, and is not animated: fitting after the layers were
    added would project and draw every feature twice.
    """
    found = [b for b in bounds if b is not None and np.isfinite(b).all()]
    if not found:
        m.location = list(_SEOUL)
        return
    arr = np.array(found)
    west, south = arr[:, 0].min(), arr[:, 1].min()
    east, north = arr[:, 2].max(), arr[:, 3].max()
    m.location = [float((south + north) / 2), float((west + east) / 2)]
    fit = folium.FitBounds([[float(south), float(west)], [float(north), float(east)]])
    fit.options["animate"] = False
    m.add_child(fit)
    m._children.move_to_end(fit.get_name(), last=False)


def _warnings_html(warnings: Sequence[str]) -> str:
    """Return the title box's list of the study's warnings (escaped; open, scrolling if long)."""
    if not warnings:
        return ""
    n = len(warnings)
    items = "".join(f"<li>{escape_text(w)}</li>" for w in warnings)
    return (f"<details class='sharemap-warnings' open><summary>&#9888; {n} warning"
            f"{'s' if n > 1 else ''}: read before using these figures</summary>"
            f"<ul>{items}</ul></details>")


def _base_map(tiles: str | None, title: str | None,
              warnings: Sequence[str] = ()) -> folium.Map:
    try:
        m = folium.Map(location=list(_SEOUL), zoom_start=12, tiles=tiles, control_scale=True,
                       zoom_snap=0.25, zoom_delta=0.5)
    except ValueError as exc:
        msg = (f"`tiles` = {tiles!r} cannot be used ({exc}); "
               "use a name such as 'OpenStreetMap', or None for no base map")
        raise ConfigError(msg) from None
    root: Any = m.get_root()  # the Figure: typed as a plain Element
    root.header.add_child(Element(_CSS), name="sharemap_css")
    root.header.add_child(Element(MAP_JS), name="sharemap_js")
    if title:
        root.title = escape_text(title)
    if title or warnings:
        head = f"<div class='sharemap-title'>{escape_text(title)}</div>" if title else ""
        _HtmlControl(head + _warnings_html(warnings), position="topleft",
                     css_class="sharemap-box").add_to(m)
    for name, z in _PANES:
        folium.map.CustomPane(name, z_index=z).add_to(m)
    return m


def build_map(  # noqa: PLR0913 - keyword-only options
        blocks: gpd.GeoDataFrame, spaces: gpd.GeoDataFrame, villages: gpd.GeoDataFrame, *,
        color_by: str = ADJACENT, boundaries: gpd.GeoDataFrame | None = None,
        isochrones: gpd.GeoDataFrame | None = None, title: str | None = None,
        tiles: str | None = "OpenStreetMap", color_reference: float | None = None,
        warnings: Sequence[str] = (), frame: gpd.GeoSeries | None = None) -> folium.Map:
    """Build the study map: blocks by a measure, spaces by category, villages by rank.

    Parameters
    ----------
    blocks
        Blocks with ``block_id`` and the measure named by `color_by`; also shown when
        present: ``area_m2``, ``population``, ``walk_min_<category>``, ``adjacent_spaces``,
        ``adjacent_categories``, ``candidate``, ``village_id``, ``adjacent_space_ids`` and
        boundary level columns (text columns such as ``dong``).
    spaces
        Spaces with ``space_id`` and ``category`` (also ``name``, ``source``,
        ``source_row``, ``snap_m``). Non-point geometries use their representative point.
    villages
        Villages with ``village_id`` and ``rank`` (also ``score``, ``n_blocks``,
        ``n_spaces``, ``categories``, ``population``); may be empty.
    color_by
        ``"adjacent_spaces"``, ``"walk_min_<category>"`` or ``"supply_per_1000_<category>"``
        (capacity reachable per 1,000 residents; classes in steps of half the
        population-weighted mean): the measure that colours blocks.
    boundaries
        Optional boundary polygons (a ``name`` column gives their tooltip), drawn as thin
        outlines over a plain light fill, which is the background when tiles cannot load.
    isochrones
        Optional isochrone polygons with ``space_id``, ``category`` and ``minutes``
        (also ``name``, and ``n_spaces`` for a polygon merged from several spaces; see
        :func:`sharemap.isochrones.isochrone_layer`).
    title
        Optional title shown on the map and as the page title.
    tiles
        A folium tile name or URL for the base map, or None for no base map.
    color_reference
        For a supply measure: the value the classes are multiples of (default: the
        population-weighted mean over `blocks`).
    warnings
        The study's warnings (e.g. the messages of its checks that did not pass),
        listed under the title.
    frame
        The area the map opens on (e.g. the study area, in any CRS); default: every
        drawn layer but the isochrones.

    Returns
    -------
    m
        The map. Save it with :func:`save_map` for a self-contained file.

    Raises
    ------
    CRSError
        If a non-empty layer has no CRS.
    InputDataError
        If a layer lacks a column the map needs.
    ConfigError
        If `color_by` is not a block measure, or `tiles` is unusable.

    Notes
    -----
    Layers may be in any CRS; they are reprojected to EPSG:4326 here only. Polygons are
    simplified by 0.5 m and coordinates rounded to 6 decimals (about 0.1 m) to keep the
    file small. Every text from the data is HTML-escaped.

    Each data layer is a :class:`folium.GeoJson` whose features are written compactly
    (integer coordinate differences, one list per property column) and decoded by the
    page; the browser builds popups, tooltips and styles from the properties. The data
    enters the page after folium's templates run, so ``m.save``, folium's own notebook
    display, :func:`save_map` and :func:`notebook_map` all carry it, and a layer's
    ``.data`` gives its features as GeoJSON. A whole city (100,000 blocks) makes an
    18 MB page in about 3 s.

    With more than :data:`CANVAS_THRESHOLD` (5,000) blocks, the blocks and the
    boundaries and isochrones below them are drawn on one ``<canvas>`` (Leaflet's
    canvas renderer) instead of one SVG path per feature: popups, tooltips, styles and
    the layer control work the same, and the city's page opens in about 5 s in headless
    Chromium instead of 16-18 s. Villages and spaces stay SVG and HTML markers above
    it; smaller maps keep SVG throughout. The map is fitted to the data before any layer
    is drawn.

    Isochrones lie under the blocks, for drawing and for the mouse: a click on a block
    inside an isochrone opens the block's popup, and the isochrone's tooltip (naming
    its space) shows on the streets between blocks.

    Examples
    --------
    >>> import geopandas as gpd
    >>> from shapely.geometry import Point, box
    >>> blocks = gpd.GeoDataFrame({"block_id": [1], "adjacent_spaces": [3]},
    ...                           geometry=[box(0, 0, 100, 100)], crs="EPSG:5186")
    >>> spaces = gpd.GeoDataFrame({"space_id": ["b1"], "category": ["bike"]},
    ...                           geometry=[Point(50, 50)], crs="EPSG:5186")
    >>> m = build_map(blocks, spaces, spaces.iloc[:0], tiles=None)
    >>> type(m).__name__
    'Map'
    """
    blocks_ok = check_layer(blocks, "blocks", ["block_id"])
    check_color_by(blocks, color_by)
    spaces_ok = check_layer(spaces, "spaces", ["space_id", "category"])
    villages_ok = check_layer(villages, "villages", ["village_id", "rank"])
    bounds_ok = check_layer(boundaries, "boundaries", [])
    iso_ok = check_layer(isochrones, "isochrones", ["space_id", "category", "minutes"])

    categories = [] if spaces_ok is None else ordered_categories(
        spaces_ok["category"].astype(object).where(spaces_ok["category"].notna(), "").map(str))
    styles = category_styles(categories)

    m = _base_map(tiles, title, warnings)
    canvas = blocks_ok is not None and len(blocks_ok) > CANVAS_THRESHOLD
    bounds: list[Bounds | None] = []
    if bounds_ok is not None:
        bounds.append(_add_boundaries(m, bounds_ok, canvas=canvas))
    if iso_ok is not None:  # under the blocks (for clicks too); not fitted: may reach far
        _add_isochrones(m, iso_ok, canvas=canvas)
    no_blocks = gpd.GeoDataFrame({"block_id": []}, geometry=gpd.GeoSeries([], crs=WEB_CRS))
    style = block_style(blocks_ok, color_by, color_reference)
    bounds.append(_add_blocks(m, no_blocks if blocks_ok is None else blocks_ok,
                              color_by=color_by, style=style, canvas=canvas))
    bounds.append(_add_villages(m, villages_ok))
    if spaces_ok is not None:
        bounds += _add_spaces(m, spaces_ok, styles)
    _HtmlControl(_legend_html(style, styles, has_villages=villages_ok is not None,
                              has_isochrones=iso_ok is not None),
                 position="bottomright", css_class="sharemap-box sharemap-legend").add_to(m)
    folium.LayerControl(collapsed=False).add_to(m)
    if frame is not None and len(frame) and not frame.is_empty.all():
        west, south, east, north = (float(v) for v in frame.to_crs(WEB_CRS).total_bounds)
        bounds = [(west, south, east, north)]
    _fit(m, bounds)
    logger.info("Built map: %d blocks (%s), %d spaces in %d categories, %d villages",
                0 if blocks_ok is None else len(blocks_ok), "canvas" if canvas else "SVG",
                0 if spaces_ok is None else len(spaces_ok), len(categories),
                0 if villages_ok is None else len(villages_ok))
    return m


# ---------------------------------------------------------------------------
# saving

_SCRIPT_TAG = re.compile(r"<script\s+src=\"(https?://[^\"]+)\"\s*>\s*</script>", re.IGNORECASE)
_LINK_TAG = re.compile(r"<link\s+rel=\"stylesheet\"\s+href=\"(https?://[^\"]+)\"\s*/?>",
                       re.IGNORECASE)
_REMOTE_TAG = re.compile(r"<(?:script|link)\b[^>]*\b(?:src|href)\s*=\s*[\"']?(https?://[^\"'\s>]+)",
                         re.IGNORECASE)
# A CSS url() that is neither a data: URI nor a fragment, with an optional format().
_CSS_URL = re.compile(r"url\(\s*(?![\"']?(?:data:|#))[^)]*\)(?:\s*format\([^)]*\))?",
                      re.IGNORECASE)


def _assets() -> dict[str, str]:
    """URL -> text of the assets shipped in the ``folium-offline`` package."""
    try:
        from offlinefolium.elements import _res
    except ImportError as exc:
        msg = ("writing a self-contained map needs the package `folium-offline`; "
               f"install it with `pip install folium-offline` ({exc})")
        raise MissingDependencyError(msg) from None
    return dict(_res)


def _asset(url: str, assets: dict[str, str]) -> str:
    if url not in assets:
        msg = (f"the map needs {url}, which the installed `folium-offline` does not ship; "
               "the map cannot be made self-contained (upgrade `folium-offline` or drop "
               "the plugin that needs it)")
        raise MissingDependencyError(msg)
    return assets[url]


def _inline_script(text: str) -> str:
    # `</script` or `<!--` inside an inline script would end or confuse the element.
    text = re.sub(r"</(script)", r"\\x3C/\1", text, flags=re.IGNORECASE)
    return "<script>" + text.replace("<!--", "\\x3C!--") + "</script>"


def _inline_style(text: str) -> str:
    # Drop relative url()s (fonts and images the package does not embed): they would
    # be requested from beside the HTML file. Embedded data: URIs stay.
    text = _CSS_URL.sub("", text)
    text = re.sub(r"src\s*:\s*,", "src:", text)
    text = re.sub(r"</(style)", r"\\3C/\1", text, flags=re.IGNORECASE)
    return "<style>" + text + "</style>"


def render_html(m: folium.Map) -> str:
    """Render `m` as one self-contained HTML document (no remote scripts or styles).

    Parameters
    ----------
    m
        A map from :func:`build_map` (or any folium map using folium's default assets).

    Returns
    -------
    html_text
        The page, with every ``<script src="http...">`` and stylesheet link replaced by
        the asset's text from the ``folium-offline`` package.

    Raises
    ------
    MissingDependencyError
        If the map uses an asset that ``folium-offline`` does not ship.
    """
    assets = _assets()
    page = m.get_root().render()
    page = _SCRIPT_TAG.sub(lambda mt: _inline_script(_asset(mt.group(1), assets)), page)
    page = _LINK_TAG.sub(lambda mt: _inline_style(_asset(mt.group(1), assets)), page)
    left = _REMOTE_TAG.findall(page)
    if left:
        msg = (f"the map still loads {', '.join(sorted(set(left)))} from the internet; "
               "it cannot be made self-contained")
        raise MissingDependencyError(msg)
    return page


def save_map(m: folium.Map, path: str | Path) -> Path:
    """Write `m` to `path` as one self-contained HTML file (atomically).

    Parameters
    ----------
    m
        The map, e.g. from :func:`build_map`.
    path
        The HTML file to write; its folder is created.

    Returns
    -------
    path
        The written file.

    Raises
    ------
    MissingDependencyError
        If an asset cannot be inlined (see :func:`render_html`).

    Notes
    -----
    Leaflet, jQuery, Bootstrap, Font Awesome and the awesome-markers plugin are inlined
    (about 1.4 MB), so the file opens on a PC with no internet access; only base map
    tiles, if any, come from the network.
    """
    text = render_html(m)
    out = write_text(text, path)
    logger.info("Wrote map %s (%.1f MB)", out, len(text.encode("utf-8")) / 1e6)
    return out


# ---------------------------------------------------------------------------
# one map per boundary unit (a whole city in pieces a browser opens quickly)

def save_split_maps(  # noqa: PLR0913 - build_map's options, passed on
        blocks: gpd.GeoDataFrame, spaces: gpd.GeoDataFrame, villages: gpd.GeoDataFrame,
        out_dir: str | Path, *, level: str, units: gpd.GeoDataFrame, pad_m: float = 400.0,
        color_by: str = ADJACENT, boundaries: gpd.GeoDataFrame | None = None,
        isochrones: gpd.GeoDataFrame | None = None, title: str | None = None,
        tiles: str | None = "OpenStreetMap", warnings: Sequence[str] = (),
        skipped: Sequence[str] = (), frame: gpd.GeoSeries | None = None) -> dict[str, Path]:
    """Write one self-contained map per unit of a boundary level, and an index page.

    Parameters
    ----------
    blocks, spaces, villages
        As for :func:`build_map`; `blocks` must say which unit holds each block
        (a ``<level>_id`` column, as :func:`sharemap.run_study` adds, or ``<level>``).
    out_dir
        The folder to write (created), e.g. ``maps/`` inside a run's output folder.
    level
        The boundary level's name (e.g. ``"gu"``).
    units
        The level's units with ``name``, ``id`` and polygons (``StudyResult.boundaries``).
    pad_m
        Spaces this far outside a unit are shown too (those that serve its border blocks).
    color_by, tiles
        As for :func:`build_map`.
    title
        As for :func:`build_map`; the unit's name is added.
    boundaries, isochrones
        As for :func:`build_map`, cut to each unit.
    warnings
        As for :func:`build_map` (every unit's map lists them).
    skipped
        Names of more units of the level that get no map (e.g. left out of a partial
        study), listed on the index page with the units of `units` that hold no block.
    frame
        The study area: each unit's map opens on the unit's part of it (default: on
        the whole unit).

    Returns
    -------
    paths
        File name (relative to `out_dir`) to path: ``index.html`` and one
        ``<unit id>.html`` per unit that has blocks.

    Raises
    ------
    InputDataError
        If `units` is empty or the blocks do not name their units.

    Notes
    -----
    A unit's map holds its blocks (by the unit that contains each block origin), the
    spaces within `pad_m` of it, the villages any of its blocks belong to (whole, even
    when they cross into a neighbour) and the finer boundaries inside it. The index page
    links the maps with relative links, so the folder can be copied anywhere.
    """
    units_ok = check_layer(units, "units", ["name", "id"])
    if units_ok is None:
        msg = f"no units to split the map by (level {level!r} has none)"
        raise InputDataError(msg)
    layers: dict[str, Any] = {
        "blocks": check_layer(blocks, "blocks", ["block_id"]),
        "spaces": check_layer(spaces, "spaces", ["space_id", "category"]),
        "villages": check_layer(villages, "villages", ["village_id", "rank"]),
        "boundaries": check_layer(boundaries, "boundaries", []),
        "isochrones": check_layer(isochrones, "isochrones",
                                   ["space_id", "category", "minutes"]),
        "units": units_ok,
    }
    reference = None
    if (color_by.startswith(SUPPLY_PREFIX) and layers["blocks"] is not None
            and color_by in layers["blocks"].columns):
        # one legend for every unit's map: classes relative to the whole study's mean
        reference = supply_reference(layers["blocks"], color_by)
    folder = Path(out_dir)
    keys = (pd.Series([], dtype=object) if layers["blocks"] is None
            else block_units(layers["blocks"], level, units_ok))
    paths: dict[str, Path] = {}
    rows: list[dict[str, Any]] = []
    used: set[str] = set()
    no_map = list(skipped)
    for _, unit in units_ok.iterrows():
        in_unit = (keys == str(unit["id"])).to_numpy()
        if not in_unit.any():
            logger.info("Split maps: %s %s has no blocks; no map", level, unit["name"])
            if str(unit["name"]) not in no_map:
                no_map.append(str(unit["name"]))
            continue
        part = unit_layers(layers, unit, in_unit, pad_m)
        unit_blocks = part["blocks"] if part["blocks"] is not None else blocks.iloc[:0]
        unit_title = f"{title} · {unit['name']}" if title else str(unit["name"])
        m = build_map(part["blocks"], part["spaces"], part["villages"],
                      boundaries=part["boundaries"], isochrones=part["isochrones"],
                      title=unit_title, color_by=color_by, tiles=tiles,
                      color_reference=reference, warnings=warnings,
                      frame=_unit_frame(unit[units_ok.geometry.name], units_ok.crs, frame))
        _HtmlControl(f"<a href=\"index.html\">&larr; all {escape_text(level)} maps</a>",
                     position="topleft", css_class="sharemap-box").add_to(m)
        name = unit_file(str(unit["id"]), used)
        paths[name] = save_map(m, folder / name)
        rows.append({"name": unit["name"], "id": unit["id"], "file": name,
                     "blocks": int(in_unit.sum()),
                     "candidates": int(sum(truthy(v) for v in unit_blocks.get(
                         "candidate", pd.Series([], dtype=bool)))),
                     "villages": 0 if part["villages"] is None else len(part["villages"]),
                     "spaces": 0 if part["spaces"] is None else len(part["spaces"]),
                     "mb": paths[name].stat().st_size / 1e6})
    paths["index.html"] = write_text(index_html(rows, level=level, title=title, folder=folder,
                                                skipped=no_map), folder / "index.html")
    logger.info("Wrote %d maps by %s and %s", len(rows), level, paths["index.html"])
    return paths


def _unit_frame(unit: shapely.Geometry, crs: Any, frame: gpd.GeoSeries | None
                ) -> gpd.GeoSeries:
    """Return the part of the study area in a unit (the whole unit when that part is empty)."""
    area = gpd.GeoSeries([unit], crs=crs)
    if frame is None or not len(frame):
        return area
    part = area.intersection(shapely.union_all(frame.to_crs(crs).to_numpy()))
    return area if part.is_empty.all() else part


class _NotebookMap:
    """Jupyter display of a self-contained map (an iframe whose document is inlined)."""

    def __init__(self, page: str, height_px: int) -> None:
        self.page = page
        self.height_px = height_px

    def _repr_html_(self) -> str:
        return (f'<iframe srcdoc="{html.escape(self.page, quote=True)}" '
                f'style="width:100%;height:{self.height_px}px;border:none" '
                'sandbox="allow-scripts allow-popups"></iframe>')


def notebook_map(m: folium.Map, *, height_px: int = 520) -> _NotebookMap:
    """Wrap `m` for Jupyter so that it shows without internet access.

    Folium's own notebook display loads Leaflet from a CDN; this one inlines it like
    :func:`save_map` does.

    Parameters
    ----------
    m
        The map, e.g. from :func:`build_map`.
    height_px
        Height of the map in the notebook, in pixels.

    Returns
    -------
    view
        An object Jupyter displays as the map (the last expression of a cell).
    """
    return _NotebookMap(render_html(m), height_px)


# ---------------------------------------------------------------------------
# what changed: added and removed spaces, changed blocks and villages

#: Colours of the change layers (:func:`add_change_layers`).
ADDED_COLOUR = "#00a651"
REMOVED_COLOUR = "#9e9e9e"
CHANGED_BLOCK_COLOUR = "#ff7f00"
VILLAGE_CHANGE_COLOURS = {"appeared": "#00a651", "vanished": "#7a7a7a", "merged": "#6a3d9a",
                          "split": "#e31a1c", "regrouped": "#e31a1c", "grew": "#1f78b4",
                          "shrank": "#1f78b4", "reshaped": "#1f78b4", "re-ranked": "#a6cee3"}
_MARKS = {
    "added": ("<div class='sharemap-dot sharemap-added' style='background:{c}'>"
              "<i class='fa-solid fa-plus'></i></div>"),
    "removed": ("<div class='sharemap-dot sharemap-removed' style='background:{c}'>"
                "<i class='fa-solid fa-xmark'></i></div>"),
}
_CHANGE_CSS = """<style>
.sharemap-added { border: 2.5px solid #111; border-radius: 3px; transform: rotate(45deg); }
.sharemap-added i { transform: rotate(-45deg); }
.sharemap-removed { opacity: 0.75; filter: grayscale(1); position: relative; }
.sharemap-removed::after { content: ""; position: absolute; left: -4px; right: -4px; top: 8px;
  border-top: 2.5px solid #c00; transform: rotate(-35deg); }
</style>"""


def _pair_rows(gdf: gpd.GeoDataFrame, labels: dict[str, str]) -> list[list[str]]:
    """Popup rows for ``X_before`` / ``X_after`` column pairs (in `gdf`'s column order)."""
    fmts = {"walk_min": "min", "candidate": "yn", "population": "n0",
            "adjacent_spaces": "i0"}
    rows = []
    for col in gdf.columns:
        if not str(col).endswith("_before") or f"{col[:-7]}_after" not in gdf.columns:
            continue
        base = str(col[:-7])
        fmt = next((f for k, f in fmts.items() if base.startswith(k)), "t")
        label = labels.get(base, base.replace("_", " "))
        rows += [[escape_text(f"{label}: before"), fmt, str(col), ""],
                 [escape_text(f"{label}: after"), fmt, f"{base}_after", ""]]
    return rows


def _column(series: pd.Series) -> str:
    if pd.api.types.is_bool_dtype(series.dtype):
        return bool_column(series)
    return _values(series, 1 if pd.api.types.is_float_dtype(series.dtype) else None)


def _add_marked_spaces(m: folium.Map, spaces: gpd.GeoDataFrame, *, mark: str,
                       colour: str) -> Bounds | None:
    spaces = spaces.copy()
    not_point = spaces.geom_type != "Point"
    if not_point.any():
        points = spaces.geometry[not_point].representative_point()
        spaces.loc[not_point, spaces.geometry.name] = points
    geometry = encode_geometry(spaces.geometry.to_numpy(), kind="point", crs=spaces.crs)
    sub = spaces[geometry.keep]
    cols = {c: _values(sub[c]) for c in ("name", "category", "space_id") if c in sub.columns}
    cols["change"] = text_column(pd.Series(mark, index=sub.index))
    names = [escape_text(n) for n in sub.get("name", pd.Series(None, index=sub.index))]
    cols["tip"] = json_list([f"{mark}: {n or escape_text(s)}"
                             for n, s in zip(names, sub["space_id"], strict=True)])
    spec = {"title": [f"{mark.capitalize()}: ", "name", f"{mark.capitalize()} space"],
            "rows": [["change", "t", "change", ""], ["category", "t", "category", ""],
                     ["space_id", "t", "space_id", ""]],
            "icon": _MARKS[mark].format(c=colour)}
    what = "Added" if mark == "added" else "Removed"
    _add_layer(m, f"{what} spaces ({len(sub):,})", layer_json(geometry, cols, spec))
    return geometry.bounds


def _add_changed_blocks(m: folium.Map, blocks: gpd.GeoDataFrame,
                        labels: dict[str, str]) -> Bounds | None:
    geometry, kept = _encode(blocks, kind="polygon", simplify=True)
    rows = [["change", "t", "change", ""], *_pair_rows(kept, labels)]
    cols = {c: _column(kept[c]) for c in kept.columns if c != kept.geometry.name}
    cols["tip"] = json_list([escape_text(f"block {b}: {c or 'walk times changed'}")
                             for b, c in zip(kept["block_id"], kept["change"], strict=True)])
    spec = {"title": ["Changed block ", "block_id"], "rows": rows}
    _add_layer(m, f"Changed blocks ({len(kept):,}; before and after in the popup)",
               layer_json(geometry, cols, spec), pane="sharemap-villages",
               color=CHANGED_BLOCK_COLOUR, weight=3, fill=False, dash_array="5 3")
    return geometry.bounds


def _add_village_changes(m: folium.Map, villages: gpd.GeoDataFrame) -> Bounds | None:
    geometry, kept = _encode(villages, kind="polygon", simplify=True)
    kinds = list(VILLAGE_CHANGE_COLOURS)
    cols = {c: _column(kept[c]) for c in kept.columns if c != kept.geometry.name}
    cols["class"] = number_column(kept["change"].map({k: i for i, k in enumerate(kinds)}))
    cols["tip"] = json_list([escape_text(f"village {c}") for c in kept["change"]])
    rows = [["change", "t", "change", ""], ["villages before", "list", "villages_before", ""],
            ["villages after", "list", "villages_after", ""],
            ["rank before", "list", "ranks_before", ""],
            ["rank after", "list", "ranks_after", ""],
            ["blocks before", "i0", "blocks_before", ""],
            ["blocks after", "i0", "blocks_after", ""]]
    spec = {"title": ["Village ", "change"], "rows": [r for r in rows if r[2] in cols],
            "by": "class", "keys": ["color"], "pal": list(VILLAGE_CHANGE_COLOURS.values())}
    _add_layer(m, f"Villages changed ({len(kept):,})", layer_json(geometry, cols, spec),
               pane="sharemap-villages", weight=4.5, fill=False, dash_array="8 4")
    return geometry.bounds


def add_change_layers(m: folium.Map, *, added: gpd.GeoDataFrame | None = None,
                      removed: gpd.GeoDataFrame | None = None,
                      blocks: gpd.GeoDataFrame | None = None,
                      villages: gpd.GeoDataFrame | None = None,
                      labels: dict[str, str] | None = None) -> folium.Map:
    """Draw what changed over a map from :func:`build_map` (a what-if, a comparison).

    Parameters
    ----------
    m
        The map of the state after the change.
    added, removed
        Spaces added (a diamond with a plus, outlined) and removed (greyed, struck
        through): ``space_id``, ``category``, ``name``.
    blocks
        Blocks that changed: ``block_id``, ``change`` (text) and ``X_before`` /
        ``X_after`` column pairs, shown side by side in the popup; outlined.
    villages
        Villages that changed: ``change`` (one of :data:`VILLAGE_CHANGE_COLOURS`),
        ``villages_before``, ``villages_after``, ``ranks_before``, ``ranks_after``,
        ``blocks_before``, ``blocks_after``; outlined in the change's colour.
    labels
        Popup labels of the column pairs' stems (default: the stem, spaced).

    Returns
    -------
    m
        The same map (the layer control moved last so it lists the new layers).
    """
    root: Any = m.get_root()
    root.header.add_child(Element(_CHANGE_CSS), name="sharemap_change_css")
    labels = labels or {}
    if blocks is not None and len(blocks):
        _add_changed_blocks(m, blocks, labels)
    if villages is not None and len(villages):
        _add_village_changes(m, villages)
    if removed is not None and len(removed):
        _add_marked_spaces(m, removed, mark="removed", colour=REMOVED_COLOUR)
    if added is not None and len(added):
        _add_marked_spaces(m, added, mark="added", colour=ADDED_COLOUR)
    parts = ["<b>What changed</b><br>",
             f"<span class='sw dot' style='background:{ADDED_COLOUR}'><i class='fa-solid "
             "fa-plus'></i></span>space added<br>",
             f"<span class='sw dot' style='background:{REMOVED_COLOUR}'><i class='fa-solid "
             "fa-xmark'></i></span>space removed (struck)<br>",
             f"<span class='sw' style='border:2px dashed {CHANGED_BLOCK_COLOUR}'></span>"
             "block changed (before/after in popup)<br>"]
    parts += [f"<span class='sw' style='border:2px dashed {c}'></span>village {escape_text(k)}"
              "<br>" for k, c in VILLAGE_CHANGE_COLOURS.items()
              if villages is not None and k in set(villages["change"])]
    _HtmlControl("".join(parts), position="bottomleft",
                 css_class="sharemap-box sharemap-legend").add_to(m)
    for name, child in list(m._children.items()):  # the control must come after its layers
        if isinstance(child, folium.LayerControl):
            m._children.move_to_end(name)
    return m
