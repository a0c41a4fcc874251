"""Helpers for per-unit maps (:func:`sharemap.maps.save_split_maps`): private.

A whole city on one page is too heavy for a browser; one map per gu (or any boundary
level) keeps each page small. These helpers pick each unit's part of the layers and
write the index page that links the maps.
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path
from typing import Any
from urllib.parse import quote

import geopandas as gpd
import numpy as np
import pandas as pd

from ._errors import InputDataError
from ._mapstyle import escape_text, int_text, tolerance

__all__ = ["block_units", "index_html", "unit_file", "unit_layers"]

INDEX_CSS = """
body { font: 14px/1.45 sans-serif; color: #222; margin: 24px auto; max-width: 980px;
  padding: 0 16px; }
h1 { font-size: 22px; margin-bottom: 4px; }
table { border-collapse: collapse; margin-top: 12px; }
th, td { padding: 4px 10px; border-bottom: 1px solid #ddd; text-align: right; }
th:first-child, td:first-child, th:nth-child(2), td:nth-child(2) { text-align: left; }
img { max-width: 100%; border: 1px solid #ddd; margin-top: 12px; }
"""


#: Longest file-name stem in bytes (UTF-8). File systems allow 255 bytes per name; a
#: Hangul syllable takes 3, so 79 of them (237 bytes) plus ".html" and a temporary
#: file's decoration would not fit.
MAX_STEM_BYTES = 100
_RESERVED = re.compile(r"(?i)(con|prn|aux|nul|com\d|lpt\d)(\..*)?")  # Windows device names


def unit_file(unit_id: str, used: set[str]) -> str:
    """Return a safe, unique file name for a unit id (letters, digits, Hangul, ``.-_`` kept).

    Names are at most :data:`MAX_STEM_BYTES` bytes before ``.html``: a longer id is cut
    on a character boundary and ends in 8 hex digits of its hash, so two long ids that
    share a beginning still get different names.
    """
    stem = re.sub(r"[^\w.-]+", "_", unit_id).strip("._") or "unit"
    if _RESERVED.fullmatch(stem):
        stem = f"_{stem}"
    if len(stem.encode("utf-8")) > MAX_STEM_BYTES:
        digest = hashlib.sha1(unit_id.encode("utf-8")).hexdigest()[:8]
        cut = stem.encode("utf-8")[:MAX_STEM_BYTES - 9].decode("utf-8", errors="ignore")
        stem = f"{cut.rstrip('._')}-{digest}"
    name, n = f"{stem}.html", 2
    while name.lower() in used or name.lower() == "index.html":
        name, n = f"{stem}-{n}.html", n + 1
    used.add(name.lower())
    return name


def block_units(blocks: gpd.GeoDataFrame, level: str, units: gpd.GeoDataFrame) -> pd.Series:
    """Return the unit id of every block (None if none), from ``<level>_id``/``<level>``."""
    def as_text(values: pd.Series) -> pd.Series:
        return values.astype(object).map(lambda v: None if pd.isna(v) else str(int_text(v)))

    if f"{level}_id" in blocks.columns:
        return as_text(blocks[f"{level}_id"])
    if level in blocks.columns:
        by_name = dict(zip(units["name"].astype(str), units["id"].astype(str), strict=True))
        return as_text(blocks[level]).map(by_name)
    msg = (f"the blocks have neither a `{level}_id` nor a `{level}` column, so they cannot be "
           f"split by {level!r}; add the boundary level {level!r} to [coverage] boundaries")
    raise InputDataError(msg)


def unit_layers(layers: dict[str, gpd.GeoDataFrame | None], unit: pd.Series,
                in_unit: np.ndarray, pad_m: float) -> dict[str, gpd.GeoDataFrame | None]:
    """Select the blocks, spaces, villages, boundaries and isochrones of one unit."""
    blocks, spaces, villages = layers["blocks"], layers["spaces"], layers["villages"]
    if blocks is None:
        return dict.fromkeys(("blocks", "spaces", "villages", "boundaries", "isochrones"))
    units = layers["units"]
    if units is None:
        msg = "no units to split the map by"
        raise InputDataError(msg)
    area = gpd.GeoSeries([unit[units.geometry.name]], crs=units.crs)
    unit_blocks = blocks[in_unit]
    out: dict[str, gpd.GeoDataFrame | None] = {"blocks": unit_blocks}
    if spaces is not None:
        near = area.to_crs(spaces.crs).buffer(tolerance(spaces.crs, pad_m)).iloc[0]
        out["spaces"] = spaces[spaces.geometry.intersects(near).to_numpy()]
    else:
        out["spaces"] = None
    if villages is not None and "village_id" in blocks.columns:
        ids = set(pd.to_numeric(unit_blocks["village_id"], errors="coerce").dropna())
        vid = pd.to_numeric(villages["village_id"], errors="coerce")
        out["villages"] = villages[vid.isin(ids).to_numpy()]
    else:
        out["villages"] = None if villages is None else villages[
            villages.geometry.intersects(area.to_crs(villages.crs).iloc[0]).to_numpy()]
    bounds = layers["boundaries"]
    if bounds is not None:
        inside = area.to_crs(bounds.crs).buffer(tolerance(bounds.crs, 1.0)).iloc[0]
        bounds = bounds[bounds.geometry.representative_point().within(inside).to_numpy()]
    out["boundaries"] = bounds if bounds is not None and len(bounds) else \
        gpd.GeoDataFrame({"name": [unit["name"]]}, geometry=area, crs=area.crs)
    iso = layers["isochrones"]
    if iso is not None and out["spaces"] is not None:
        keys = set(zip(out["spaces"]["category"].astype(str), out["spaces"]["space_id"].astype(str),
                       strict=True))
        mine = np.array([(c, s) in keys for c, s in zip(
            iso["category"].astype(str), iso["space_id"].astype(str), strict=True)], dtype=bool)
        if "n_spaces" in iso.columns:  # a category's merged polygons: those touching the unit
            merged = (pd.to_numeric(iso["n_spaces"], errors="coerce") > 1).to_numpy()
            near = area.to_crs(iso.crs).buffer(tolerance(iso.crs, pad_m)).iloc[0]
            mine |= merged & iso.geometry.intersects(near).to_numpy()
        out["isochrones"] = iso[mine]
    else:
        out["isochrones"] = None
    return out


def index_html(rows: list[dict[str, Any]], *, level: str, title: str | None,
                folder: Path, skipped: list[str] | None = None) -> str:
    """Return the index page linking every unit map (all text escaped, links relative)."""
    head = escape_text(title or "sharemap")
    lvl = escape_text(level)
    link = image = ""
    if (folder.parent / "map.html").exists():
        link = ('<p><a href="../map.html">The whole study on one map</a> '
                '(may be slow for a whole city)</p>')
    if (folder.parent / "map.png").exists():
        image = f'<p><img src="../map.png" alt="{head}: overview figure"></p>'
    missing = ""
    if skipped:
        missing = (f"<p class=\"skipped\"><b>No map for {len(skipped):,} {lvl} unit"
                   f"{'s' if len(skipped) > 1 else ''}</b> (no block of the study lies in "
                   f"{'them' if len(skipped) > 1 else 'it'}): "
                   f"{', '.join(escape_text(n) for n in skipped)}.</p>")
    body = "".join(
        f"<tr><td><a href=\"{quote(r['file'])}\">{escape_text(r['name'])}</a></td>"
        f"<td>{escape_text(r['id'])}</td><td>{r['blocks']:,}</td><td>{r['candidates']:,}</td>"
        f"<td>{r['villages']:,}</td><td>{r['spaces']:,}</td><td>{r['mb']:.1f} MB</td></tr>"
        for r in rows)
    return (f"<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\">"
            f"<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
            f"<title>{head}: maps by {lvl}</title><style>{INDEX_CSS}</style></head><body>"
            f"<h1>{head}</h1><p>One map per {lvl} ({len(rows):,} maps). Each file is "
            f"self-contained and opens with no internet access.</p>{missing}{link}"
            f"<table><thead><tr><th>{lvl}</th><th>id</th><th>blocks</th><th>candidate blocks"
            f"</th><th>villages</th><th>spaces</th><th>file</th></tr></thead><tbody>{body}"
            f"</tbody></table>{image}</body></html>\n")
