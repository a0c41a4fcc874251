"""Static figures: ``map.png`` and the small maps of ``report.html`` (matplotlib, no tiles).

Private module; use :func:`sharemap.maps.static_map`. It draws the same things as the
interactive map, with the same colours: blocks by adjacent spaces or walking time,
candidate blocks and villages outlined (village ranks labelled), spaces as coloured
dots per category, boundary outlines with unit names, a legend and a scale bar.
Korean text needs a CJK font; :func:`korean_font` finds one if installed.

Every static figure is drawn here: :mod:`sharemap.report` draws its per-category
maps with :func:`draw_blocks`, :func:`draw_boundaries` and :func:`draw_spaces`, in
:func:`font_context`, with the colours of :func:`category_colours` and
:func:`class_legend`, so the report, ``map.png`` and ``map.html`` agree.
"""

from __future__ import annotations

import functools
import logging
import math
import re
import warnings
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import geopandas as gpd
import numpy as np
import pandas as pd

from ._errors import MissingDependencyError
from ._io import atomic_path
from ._mapstyle import (
    ADJACENT,
    ADJACENT_CLASSES,
    CANDIDATE_COLOUR,
    UNREACHABLE,
    VILLAGE_COLOUR,
    WALK_CLASSES,
    BlockStyle,
    Rings,
    block_style,
    category_styles,
    check_color_by,
    check_layer,
    class_index,
    int_text,
    ordered_categories,
    polygon_rings,
    truthy_mask,
)

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

__all__ = [
    "KOREAN_FONTS",
    "category_colours",
    "class_legend",
    "draw_blocks",
    "draw_boundaries",
    "draw_spaces",
    "font_context",
    "import_matplotlib",
    "korean_font",
    "plain",
    "static_map",
]

logger = logging.getLogger("sharemap.maps")

_Layer = TypeVar("_Layer", gpd.GeoDataFrame, gpd.GeoSeries)

#: Font families tried, in order, for Korean text (Debian: ``fonts-noto-cjk``).
KOREAN_FONTS = (
    "Noto Sans CJK KR", "Noto Sans KR", "Source Han Sans KR", "Source Han Sans K",
    "NanumGothic", "NanumBarunGothic", "Malgun Gothic", "Apple SD Gothic Neo", "AppleGothic",
    "UnDotum", "Baekmuk Gulim", "Noto Sans CJK JP", "Noto Sans CJK SC", "Noto Sans CJK TC",
)
#: File-name prefixes of those families' font files (lower case, letters only).
_KOREAN_FONT_FILES = (
    "notosanscjk", "notosanskr", "sourcehansans", "nanumgothic", "nanumbarungothic", "malgun",
    "applesdgothicneo", "applegothic", "undotum", "baekmukgulim",
)
_BACKGROUND = "#f4f3ef"
_BOUNDARY_FILL, _BOUNDARY_EDGE = "#fbfaf6", "#6b6b6b"
_MAX_RANK_LABELS = 20
_MAX_UNIT_LABELS = 60
_NICE_LENGTHS_M = (10, 20, 25, 50, 100, 200, 250, 500, 1_000, 2_000, 2_500, 5_000, 10_000,
                   20_000, 25_000, 50_000, 100_000)


def import_matplotlib(purpose: str = "drawing map.png") -> Any:
    """Import matplotlib, or say what `purpose` needs it for and how to install it."""
    try:
        import matplotlib
    except ImportError as exc:
        msg = (f"{purpose} needs matplotlib; install it with "
               f"`pip install matplotlib` (or reinstall sharemap) ({exc})")
        raise MissingDependencyError(msg) from None
    return matplotlib


def korean_font_files() -> list[str]:
    """Return the installed font files that hold Korean glyphs, found by their file names.

    Returns
    -------
    paths
        Files of the families of :data:`KOREAN_FONTS` in the system's font folders
        (those matplotlib searches), sorted.
    """
    from matplotlib import font_manager

    found = []
    for path in font_manager.findSystemFonts():
        key = re.sub(r"[^a-z]", "", Path(path).name.lower())
        if key.startswith(_KOREAN_FONT_FILES):
            found.append(path)
    return sorted(found)


@functools.lru_cache(maxsize=1)
def _register_korean_fonts() -> int:
    """Add the installed Korean font files to matplotlib's font manager (once per process).

    matplotlib lists the system's fonts once and caches the list on disk, so a font
    installed after that (``apt-get install fonts-noto-cjk`` after matplotlib's
    first use) stays unknown to it until its cache is deleted.
    """
    from matplotlib import font_manager

    added = 0
    for path in korean_font_files():
        try:
            font_manager.fontManager.addfont(path)
        except (OSError, RuntimeError, ValueError) as exc:  # an unreadable font file
            logger.debug("Could not register the font file %s (%s)", path, exc)
        else:
            added += 1
    return added


def korean_font() -> str | None:
    """Return the name of an installed font family that has Korean glyphs, or None.

    Returns
    -------
    family
        The first of :data:`KOREAN_FONTS` that matplotlib's font manager knows, after
        registering the installed Korean font files it does not know yet (its font
        cache may predate them).

    Notes
    -----
    On Debian or Ubuntu, ``apt-get install fonts-noto-cjk`` provides "Noto Sans CJK KR".
    """
    from matplotlib import font_manager

    def known() -> str | None:
        names = {entry.name for entry in font_manager.fontManager.ttflist}
        return next((family for family in KOREAN_FONTS if family in names), None)

    family = known()
    if family is None and _register_korean_fonts():
        family = known()
        if family is not None:
            logger.info("Using the Korean font %s (newer than matplotlib's font cache)", family)
    return family


@contextmanager
def font_context(*, without: str = "Korean names in map.png show as empty boxes",
                 rc: dict[str, Any] | None = None) -> Iterator[str | None]:
    """Use a Korean font (DejaVu Sans as fallback) and silence missing-glyph warnings.

    Yields the Korean font family, or None (then a warning saying `without` is logged).
    `rc`: more matplotlib settings for the figures drawn inside.
    """
    import matplotlib

    family = korean_font()
    if family is None:
        logger.warning("No Korean font found: %s (install one, e.g. `apt-get install "
                       "fonts-noto-cjk`)", without)
    families = [family, "DejaVu Sans"] if family else ["DejaVu Sans"]
    settings: dict[Any, Any] = {"font.family": families, "svg.fonttype": "none", **(rc or {})}
    with matplotlib.rc_context(settings), warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=r"Glyph \d+ .*missing from", category=UserWarning)
        warnings.filterwarnings("ignore", message=r".*findfont: Font family", category=UserWarning)
        yield family


def _halo(width: float = 2.2) -> list[Any]:
    """Return a white outline that keeps text readable over coloured blocks."""
    from matplotlib import patheffects

    return [patheffects.withStroke(linewidth=width, foreground="#ffffff")]


def plain(text: Any) -> str:
    """Text from data, safe from matplotlib's mathtext (``$...$``)."""
    if text is None or (isinstance(text, float) and math.isnan(text)) or text is pd.NA:
        return ""
    return str(text).replace("$", r"\$")


# ---------------------------------------------------------------------------
# geometry to matplotlib paths


def _rings(geoms: Sequence[Any] | np.ndarray) -> Rings:
    """Return the polygon rings of `geoms` (see :func:`polygon_rings`) oriented for matplotlib.

    Exteriors run counter-clockwise and holes clockwise, so that matplotlib's non-zero
    fill leaves the holes empty.
    """
    rings = polygon_rings(geoms)
    vertices, sizes = rings.vertices, rings.sizes
    if not len(vertices):
        return rings
    ring_of = np.repeat(np.arange(len(sizes)), sizes)
    xy = vertices - vertices.mean(axis=0)  # twice the signed area of each ring:
    cross = xy[:-1, 0] * xy[1:, 1] - xy[1:, 0] * xy[:-1, 1]
    inside = ring_of[:-1] == ring_of[1:]
    area2 = np.bincount(ring_of[:-1][inside], weights=cross[inside], minlength=len(sizes))
    flip = np.where(rings.exterior, area2 < 0, area2 > 0)[ring_of]
    if flip.any():
        ends = np.cumsum(sizes)
        start, end = (ends - sizes)[ring_of], ends[ring_of]
        order = np.arange(len(vertices))
        vertices = vertices[np.where(flip, start + end - 1 - order, order)]
    return rings._replace(vertices=vertices)


def _path(rings: Rings, rows: np.ndarray | None = None) -> Any:
    """Return one compound matplotlib Path of the rings (of the rows where `rows` is True)."""
    from matplotlib.path import Path as MplPath

    vertices, sizes = rings.vertices, rings.sizes
    if rows is not None:
        chosen = rows[rings.row]
        vertices, sizes = vertices[np.repeat(chosen, sizes)], sizes[chosen]
    if not len(sizes):
        return MplPath(np.empty((0, 2)))
    codes = np.full(len(vertices), MplPath.LINETO, dtype=MplPath.code_type)
    ends = np.cumsum(sizes)
    codes[ends - sizes] = MplPath.MOVETO
    codes[ends - 1] = MplPath.CLOSEPOLY
    return MplPath(vertices, codes)


def _add_polygons(ax: Axes, gdf: gpd.GeoDataFrame, **style: Any) -> None:
    """Draw all polygons of `gdf` in one style (one compound path)."""
    from matplotlib.collections import PathCollection

    ax.add_collection(PathCollection([_path(_rings(gdf.geometry.to_numpy()))], **style),
                      autolim=False)


def _plot_crs(layers: Sequence[gpd.GeoDataFrame | None]) -> Any:
    """Return the CRS to draw in: the first layer's, or its UTM zone if geographic."""
    first = next(gdf for gdf in layers if gdf is not None)
    if first.crs.is_geographic:
        return first.estimate_utm_crs()
    return first.crs


def _nice_length(span_m: float) -> float:
    """Return a round scale-bar length of at most a quarter of `span_m`."""
    fits = [n for n in _NICE_LENGTHS_M if n <= span_m / 4]
    return float(fits[-1]) if fits else span_m / 4


def _scale_bar(ax: Axes, bounds: tuple[float, float, float, float], unit_m: float) -> None:
    """Draw a scale bar in the lower-left corner (axes in projected units of `unit_m` m)."""
    west, south, east, north = bounds
    length_m = _nice_length((east - west) * unit_m)
    length = length_m / unit_m
    x0 = west + 0.03 * (east - west)
    y0 = south + 0.03 * (north - south)
    tick = 0.008 * (north - south)
    ax.plot([x0, x0, x0 + length, x0 + length], [y0 + tick, y0, y0, y0 + tick], color="#222",
            lw=1.6, solid_capstyle="butt", zorder=8)
    label = f"{length_m / 1000:g} km" if length_m >= 1000 else f"{length_m:g} m"
    ax.text(x0 + length / 2, y0 + 1.5 * tick, label, ha="center", va="bottom", fontsize=8,
            color="#222", zorder=8, path_effects=_halo())


# ---------------------------------------------------------------------------
# layers (also drawn by the report's maps)

#: How boundaries are drawn: under the blocks with a pale fill and dashed edges
#: (map.png, where they show between blocks), or as dark lines over them (the
#: report's small maps, where the units are what a reader looks for).
_BOUNDARY_STYLES: dict[str, dict[str, Any]] = {
    "under": {"facecolors": _BOUNDARY_FILL, "edgecolors": _BOUNDARY_EDGE, "linewidths": 0.8,
              "linestyles": (0, (4, 3)), "zorder": 1},
    "over": {"facecolors": "none", "edgecolors": "#444444", "linewidths": 0.6, "zorder": 3},
}


def draw_boundaries(ax: Axes, boundaries: gpd.GeoDataFrame, *, style: str = "under",
                    max_names: int = _MAX_UNIT_LABELS, name_size: float = 7.5,
                    ascii_names_only: bool = False) -> None:
    """Draw boundary units (see :data:`_BOUNDARY_STYLES`) and their ``name`` at their middle.

    Names are left off when there are more than `max_names` units; with
    `ascii_names_only` (no Korean font), names a font cannot show are left off.
    """
    _add_polygons(ax, boundaries, **_BOUNDARY_STYLES[style])
    if "name" not in boundaries.columns or len(boundaries) > max_names:
        return
    halo = _halo(2.2 if style == "under" else 2.0)
    for name, point in zip(boundaries["name"], boundaries.geometry.representative_point(),
                           strict=True):
        text = plain(name)
        if ascii_names_only and not text.isascii():
            continue
        ax.text(point.x, point.y, text, ha="center", va="center", fontsize=name_size,
                color="#333" if style == "under" else "#222", zorder=7, clip_on=True,
                path_effects=halo)


def draw_blocks(ax: Axes, blocks: gpd.GeoDataFrame, color_by: str, *,
                linewidth: float = 0.25, candidates: bool = True) -> None:
    """Fill blocks by the classes of `color_by` (adjacent spaces, else walking minutes).

    One compound path per colour; candidate blocks outlined when `candidates`.
    """
    from matplotlib.collections import PathCollection

    classes = block_style(blocks, color_by).classes
    palette = [colour for _upper, _label, colour in classes] + [UNREACHABLE[1]]
    index = class_index(blocks[color_by], classes)
    rings = _rings(blocks.geometry.to_numpy())
    used = [i for i in range(len(palette)) if (index == i).any()]
    paths = [_path(rings, index == i) for i in used]  # one path per colour
    ax.add_collection(PathCollection(paths, facecolors=[palette[i] for i in used],
                                     edgecolors="#ffffff", linewidths=linewidth, zorder=2),
                      autolim=False)
    if candidates and "candidate" in blocks.columns:
        cand = truthy_mask(blocks["candidate"])
        if cand.any():
            ax.add_collection(PathCollection([_path(rings, cand)], facecolors="none",
                                             edgecolors=CANDIDATE_COLOUR, linewidths=0.7,
                                             zorder=3), autolim=False)


def _draw_villages(ax: Axes, villages: gpd.GeoDataFrame) -> None:
    _add_polygons(ax, villages, facecolors="none", edgecolors=VILLAGE_COLOUR, linewidths=1.8,
                  zorder=4)
    top = villages.sort_values("rank", kind="stable").head(_MAX_RANK_LABELS)
    for rank, point in zip(top["rank"], top.geometry.representative_point(), strict=True):
        ax.text(point.x, point.y, f"#{plain(int_text(rank))}", ha="center", va="center",
                fontsize=7, fontweight="bold", color="#ffffff", zorder=9, clip_on=True,
                bbox={"boxstyle": "round,pad=0.15", "fc": VILLAGE_COLOUR, "ec": "none",
                      "alpha": 0.9})


def draw_spaces(ax: Axes, spaces: gpd.GeoDataFrame, colours: dict[str, str], *,
                size: float = 16, linewidth: float = 0.5) -> None:
    """Draw spaces as dots in their category's colour (categories not in `colours`: none)."""
    points = spaces.geometry.representative_point()
    cats = _categories(spaces)
    for cat, colour in colours.items():
        sel = (cats == cat).to_numpy()
        ax.scatter(points.x.to_numpy()[sel], points.y.to_numpy()[sel], s=size, c=colour,
                   edgecolors="#ffffff", linewidths=linewidth, zorder=5)


def _categories(spaces: gpd.GeoDataFrame) -> pd.Series:
    """Each space's category as text ("" when missing)."""
    return spaces["category"].astype(object).where(spaces["category"].notna(), "").map(str)


def category_colours(categories: Sequence[str]) -> dict[str, str]:
    """Return each category's colour, as on the maps (built-ins fixed, others from a cycle)."""
    styles = category_styles(ordered_categories(categories))
    return {c: styles[c][0] for c in categories}


def class_legend(color_by: str) -> list[tuple[str, str]]:
    """Return (label, colour) of every block class of `color_by`, "unreachable" last."""
    classes = ADJACENT_CLASSES if color_by == ADJACENT else WALK_CLASSES
    return [(label, c) for _upper, label, c in classes] + [UNREACHABLE]


def _legend(ax: Axes, style: BlockStyle, colours: dict[str, str],
            counts: dict[str, int], *, has_villages: bool) -> None:
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    def header(text: str) -> tuple[Any, str]:
        return Patch(visible=False), text

    classes = [(label, c) for _upper, label, c in style.classes]
    if style.missing:  # a count or a supply is never unreachable; a walk can be
        classes.append(style.missing)
    entries = [header(plain(style.head))]
    entries += [(Patch(facecolor=c, edgecolor="#999", linewidth=0.5), label)
                for label, c in classes]
    entries.append((Patch(facecolor="none", edgecolor=CANDIDATE_COLOUR, linewidth=1.0),
                    "candidate block"))
    if has_villages:
        entries.append((Patch(facecolor="none", edgecolor=VILLAGE_COLOUR, linewidth=2.0),
                        "sharing village (#rank)"))
    if colours:
        entries.append(header("Sharing spaces"))
        entries += [(Line2D([], [], marker="o", linestyle="", markersize=6, markerfacecolor=c,
                            markeredgecolor="#ffffff"), f"{plain(cat)} ({counts[cat]:,})")
                    for cat, c in colours.items()]
    legend = ax.legend([h for h, _ in entries], [t for _, t in entries], loc="upper left",
                       bbox_to_anchor=(1.01, 1.0), frameon=False, fontsize=8,
                       handlelength=1.4, borderaxespad=0.0)
    for (handle, _text), text in zip(entries, legend.get_texts(), strict=True):
        if not handle.get_visible():
            text.set_fontweight("bold")


def _draw(ax: Axes, layers: dict[str, gpd.GeoDataFrame | None], color_by: str) -> None:
    """Draw every layer; all are already in the plotting CRS."""
    blocks, spaces = layers["blocks"], layers["spaces"]
    villages, bounds = layers["villages"], layers["boundaries"]
    if bounds is not None:
        draw_boundaries(ax, bounds)
    if blocks is not None:
        draw_blocks(ax, blocks, color_by)
    if villages is not None:
        _draw_villages(ax, villages)
    colours: dict[str, str] = {}
    counts: dict[str, int] = {}
    if spaces is not None:
        cats = _categories(spaces)
        colours = category_colours(ordered_categories(cats))
        counts = cats.value_counts().to_dict()
        draw_spaces(ax, spaces, colours)
    _legend(ax, block_style(blocks, color_by), colours, counts,
            has_villages=villages is not None)


def _caption(layers: dict[str, gpd.GeoDataFrame | None], crs: Any) -> str:
    blocks, villages = layers["blocks"], layers["villages"]
    parts = []
    if blocks is not None:
        n_cand = int(truthy_mask(blocks["candidate"]).sum()) if "candidate" in blocks else 0
        parts.append(f"{len(blocks):,} blocks, {n_cand:,} candidates")
    parts.append(f"{0 if villages is None else len(villages):,} villages")
    epsg = crs.to_epsg()
    parts.append(f"EPSG:{epsg}" if epsg else crs.name)
    return " · ".join(parts)


def static_map(  # noqa: PLR0913 - keyword-only options
        blocks: gpd.GeoDataFrame, spaces: gpd.GeoDataFrame, villages: gpd.GeoDataFrame, *,
        color_by: str = ADJACENT, boundaries: gpd.GeoDataFrame | None = None,
        path: str | Path | None = None, title: str | None = None, dpi: int = 150,
        frame: gpd.GeoSeries | None = None) -> Figure:
    """Draw the study as a static figure (``map.png``) with no tiles and no network.

    Parameters
    ----------
    blocks
        Blocks with the measure named by `color_by` (``candidate`` outlines them).
    spaces
        Spaces with ``category``; non-point geometries use their representative point.
    villages
        Villages with ``rank``; may be empty.
    color_by
        ``"adjacent_spaces"`` or ``"walk_min_<category>"``, as in :func:`build_map`.
    boundaries
        Optional boundary polygons, drawn as dashed outlines (named by ``name``).
    path
        If given, the PNG file to write (atomically; its folder is created).
    title
        Optional title.
    dpi
        Resolution of the PNG.
    frame
        The area the figure shows (e.g. the study area, in any CRS); default: every
        layer.

    Returns
    -------
    figure
        A :class:`matplotlib.figure.Figure` (not registered with pyplot).

    Raises
    ------
    CRSError, InputDataError, ConfigError
        As :func:`build_map` does for the same inputs.
    MissingDependencyError
        If matplotlib is not installed.

    Notes
    -----
    Layers are drawn in the blocks' CRS (a projected CRS; a geographic one is replaced
    by its UTM zone), so the scale bar is true. Colours match the interactive map's legend.
    Korean text uses :func:`korean_font`; without one it shows as boxes and a warning is
    logged.

    Examples
    --------
    >>> import geopandas as gpd
    >>> from shapely.geometry import Point, box
    >>> blocks = gpd.GeoDataFrame({"block_id": [1], "adjacent_spaces": [3]},
    ...                           geometry=[box(0, 0, 100, 100)], crs="EPSG:5186")
    >>> spaces = gpd.GeoDataFrame({"space_id": ["b1"], "category": ["bike"]},
    ...                           geometry=[Point(50, 50)], crs="EPSG:5186")
    >>> static_map(blocks, spaces, spaces.iloc[:0]).get_size_inches().round(1).tolist()
    [9.0, 7.0]
    """
    import_matplotlib()
    from matplotlib.figure import Figure

    layers = {
        "blocks": check_layer(blocks, "blocks", ["block_id"]),
        "spaces": check_layer(spaces, "spaces", ["space_id", "category"]),
        "villages": check_layer(villages, "villages", ["village_id", "rank"]),
        "boundaries": check_layer(boundaries, "boundaries", []),
    }
    check_color_by(blocks, color_by)
    present = [gdf for gdf in layers.values() if gdf is not None]
    crs = _plot_crs(present) if present else None
    layers = {k: None if g is None else _to_crs(g, crs) for k, g in layers.items()}
    with font_context():
        fig = Figure(figsize=(9.0, 7.0), dpi=dpi, facecolor="#ffffff")
        ax = fig.add_axes((0.02, 0.06, 0.70, 0.86))
        ax.set_facecolor(_BACKGROUND)
        ax.set_xticks([])
        ax.set_yticks([])
        for spine in ax.spines.values():
            spine.set_edgecolor("#bbbbbb")
        if title:
            fig.suptitle(plain(title), x=0.02, ha="left", fontsize=13, fontweight="bold")
        if crs is None:
            ax.text(0.5, 0.5, "nothing to show", ha="center", va="center",
                    transform=ax.transAxes, color="#777")
        else:
            _draw(ax, layers, color_by)
            shown = [g for g in layers.values() if g is not None]
            if frame is not None and len(frame) and not frame.is_empty.all():
                shown = [_to_crs(frame, crs)]
            _frame(ax, shown, crs)
            fig.text(0.02, 0.02, _caption(layers, crs), fontsize=7, color="#555")
        if path is not None:
            _save(fig, path)
    return fig


def _to_crs(gdf: _Layer, crs: Any) -> _Layer:
    """Return `gdf` in `crs` (itself, not a copy, when it is in `crs` already)."""
    return gdf if gdf.crs == crs else gdf.to_crs(crs)


def _frame(ax: Axes, present: Sequence[gpd.GeoDataFrame | gpd.GeoSeries], crs: Any) -> None:
    """Fit the axes to the data (layers in `crs`; equal scale, 3% margin), add a scale bar."""
    arr = np.array([gdf.total_bounds for gdf in present])
    west, south = float(arr[:, 0].min()), float(arr[:, 1].min())
    east, north = float(arr[:, 2].max()), float(arr[:, 3].max())
    # fill the axes box: widen the shorter side to its aspect (0.70 x 0.86 of 9 x 7 in)
    box_ratio = (0.86 * 7.0) / (0.70 * 9.0)
    width, height = max(east - west, 1.0), max(north - south, 1.0)
    if height / width > box_ratio:
        width = height / box_ratio
    else:
        height = width * box_ratio
    cx, cy = (west + east) / 2, (south + north) / 2
    width, height = width * 1.06, height * 1.06
    bounds = (cx - width / 2, cy - height / 2, cx + width / 2, cy + height / 2)
    ax.set_xlim(bounds[0], bounds[2])
    ax.set_ylim(bounds[1], bounds[3])
    ax.set_aspect("equal", adjustable="box")
    unit = crs.axis_info[0].unit_conversion_factor if crs.axis_info else 1.0
    _scale_bar(ax, bounds, unit or 1.0)


def _save(fig: Figure, path: str | Path) -> Path:
    with atomic_path(path) as tmp:
        # zlib level 3: about half the time of the default (6) for a 3% larger file
        fig.savefig(tmp, format="png", facecolor=fig.get_facecolor(),
                    pil_kwargs={"compress_level": 3})
    logger.info("Wrote figure %s", path)
    return Path(path)
