"""Read and validate the sharing-resource layers: every row becomes a space or a reject.

Formats (see :mod:`sharemap._readers`): CSV in UTF-8, UTF-8 with BOM or CP949/EUC-KR
(detected), JSON (a list of records, a GeoJSON FeatureCollection, the portal's
``{"DESCRIPTION": ..., "DATA": [...]}`` and the open API's ``{"<name>": {"row": [...]}}``),
Excel .xlsx, GeoPackage, Shapefile (CP949 when no .cpg says otherwise) and other GDAL
formats. Polygons and lines use their representative point. Column layouts of
Seoul's open data are recognised by presets (see :mod:`sharemap._presets`).

Validation gives each record at most one reason, the first fault in :data:`REASONS`:

- ``unreadable_row``: the record cannot be read (a truncated CSV line, a JSON value
  that is not an object, a broken geometry);
- ``missing_coordinates``: x or y is empty (``""``, ``NaN``, ``null``, ``None``, ``NA``,
  ``-``) or the geometry is missing or empty;
- ``invalid_coordinates``: x or y is not a number, or a non-zero value is impossible
  in the layer's CRS (longitude beyond ±180, latitude beyond ±90, TM metres far
  outside the system's area of use);
- ``zero_coordinates``: x or y is exactly 0, Seoul's code for an unknown position;
- ``outside_study_area``: the point is not covered by the study area;
- ``merged``: in a layer whose rows sharing an id are one space (a car park
  published one row per bay), a row merged into the space kept for its id (see
  :mod:`sharemap._capacity`);
- ``duplicate`` (by :func:`dedupe_spaces`): within 2 m of an earlier kept space of
  the same category;
- ``disconnected_network`` (by the network stage): no street of the network within
  ``max_snap_m``, but one of a piece not connected to the rest, which was dropped;
- ``off_network`` (by the network stage): no walkable street within ``max_snap_m``;
- ``closed`` (by the pipeline, only with ``[study] at``): closed at that time of week.

CRS: a layer's ``crs`` (or its preset's, or a geometry file's own) is used;
otherwise a table's values decide: Korean longitude/latitude ranges (124-132,
33-39) mean WGS84, metres mean one of the Korean TM systems (EPSG:5174, 5179,
5181, 5186, 2097), chosen as the one putting the most points in the study area.
Swapped latitude/longitude, TM metres declared as degrees, degrees declared as
TM, and a layer that lands nowhere near the study area are errors naming the
file, example rows and the fix.

Capacity: every space has a ``capacity`` (docks, parking bays, operators; 1 where
the layer has none) and a ``capacity_note`` (why the default of 1 was used, else
""); see :mod:`sharemap._capacity`.
"""

from __future__ import annotations

import logging
import os
import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from pyproj import CRS, Transformer

from ._capacity import merge_groups, row_capacities
from ._crs import KOREAN_TM_EPSG, parse_crs, require_projected
from ._errors import CRSError, InputDataError
from ._presets import ColumnChoice, require_column, resolve_columns
from ._readers import RawTable, read_table
from .config import StudyConfig
from .hours import ParsedHours, hours_from_hhmm, parse_hours

__all__ = [
    "REASONS",
    "REJECT_COLUMNS",
    "SPACE_COLUMNS",
    "dedupe_spaces",
    "distinct_ids",
    "layer_sources",
    "read_layer",
    "read_layers",
]

logger = logging.getLogger(__name__)

REJECT_COLUMNS = ("source", "source_row", "category", "reason", "detail")
SPACE_COLUMNS = ("space_id", "category", "name", "source", "source_row", "capacity",
                 "capacity_note")
REASONS = ("unreadable_row", "missing_coordinates", "invalid_coordinates", "zero_coordinates",
           "outside_study_area", "merged", "duplicate", "disconnected_network", "off_network",
           "closed")

#: distance beyond which a layer with no point in the study area is an error, not rejects
NOWHERE_NEAR_M = 5000.0
_MISSING_TOKENS = frozenset({"", "nan", "null", "none", "na", "n/a", "-"})
_WGS84 = CRS.from_epsg(4326)


# ----------------------------------------------------------------------------- helpers


class _Verdicts:
    """Per-record reason codes (0 = fine, k = REASONS[k - 1]) and details."""

    def __init__(self, n: int) -> None:
        self.code = np.zeros(n, dtype=np.int8)
        self.detail = np.full(n, "", dtype=object)

    def ok(self) -> np.ndarray:
        return self.code == 0

    def flag(self, mask: np.ndarray, reason: str, details: Any) -> None:
        """Give `reason` to the records in `mask` that have no reason yet."""
        new = mask & self.ok()
        if not new.any():
            return
        self.code[new] = REASONS.index(reason) + 1
        self.detail[new] = details(new) if callable(details) else details


def _text(series: pd.Series) -> list[str]:
    """Values as display strings: missing -> '', 102.0 -> '102', strings stripped.

    NUL characters are removed: GDAL ends a string at the first one, so a name
    holding one would be cut short (or to '') in every GeoPackage written.
    """
    kind = pd.api.types.infer_dtype(series, skipna=True)
    if kind in ("string", "empty"):
        out = series.astype(object).where(series.notna(), "").str.strip().tolist()
    else:
        out = []
        for v in series.to_numpy(dtype=object):
            if v is None or v is pd.NA or (isinstance(v, float) and np.isnan(v)):
                out.append("")
            elif isinstance(v, float) and v.is_integer():
                out.append(str(int(v)))
            else:
                out.append(str(v).strip())
    return [t.replace("\x00", "").strip() if "\x00" in t else t for t in out]


def _parse_numbers(series: pd.Series) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Return (values, missing, not_a_number) for a column read as text or numbers."""
    if pd.api.types.is_numeric_dtype(series) and not pd.api.types.is_bool_dtype(series):
        vals = series.to_numpy(dtype=float, na_value=np.nan)
        missing = np.isnan(vals)
        return vals, missing, np.isinf(vals)
    obj = series.astype(object)
    missing = np.array(obj.isna(), dtype=bool)
    text = obj.where(~missing, "").astype(str).str.strip()  # JSON/Excel floats round-trip
    missing |= text.str.lower().isin(_MISSING_TOKENS).to_numpy()
    vals = np.array(pd.to_numeric(text.where(~missing, None), errors="coerce"), dtype=float)
    bad = ~missing & ~np.isfinite(vals)
    if pd.api.types.infer_dtype(obj, skipna=True) not in ("string", "empty"):  # JSON, Excel
        bad |= obj.map(lambda v: isinstance(v, (bool, np.bool_))).to_numpy(dtype=bool)
    vals[bad | missing] = np.nan
    return vals, missing, bad


def _fmt(v: float) -> str:
    return f"{v:.10g}"


def _examples(rows: np.ndarray, x: np.ndarray, y: np.ndarray, mask: np.ndarray) -> str:
    idx = np.flatnonzero(mask)[:3]
    return "; ".join(f"row {rows[i]}: x={_fmt(x[i])}, y={_fmt(y[i])}" for i in idx)


def _empty_spaces(crs: CRS) -> gpd.GeoDataFrame:
    kinds = {"source_row": "int64", "capacity": "float64"}
    data = {c: pd.Series([], dtype=kinds.get(c, "str")) for c in SPACE_COLUMNS}
    return gpd.GeoDataFrame(data, geometry=gpd.GeoSeries([], crs=crs), crs=crs)


def _rejects_frame(source: str, rows: Any, category: str, reasons: Any,
                   details: Any) -> pd.DataFrame:
    rows = np.asarray(rows, dtype=np.int64)
    return pd.DataFrame({
        "source": pd.Series([source] * len(rows), dtype="str"),
        "source_row": pd.Series(rows, dtype="int64"),
        "category": pd.Series([category] * len(rows), dtype="str"),
        "reason": pd.Series(list(reasons), dtype="str"),
        "detail": pd.Series(list(details), dtype="str"),
    })


def _check_study_area(area: Any, target: CRS) -> Any:
    if area is None:
        return None
    if not isinstance(area, shapely.Geometry) or area.is_empty or area.area <= 0:
        msg = "`study_area` must be a non-empty shapely (Multi)Polygon in the analysis CRS"
        raise CRSError(msg)
    if target.is_projected and max(abs(v) for v in area.bounds) <= 360:
        msg = (f"`study_area` bounds {tuple(round(v, 4) for v in area.bounds)} look like degrees;"
               f" give it in the analysis CRS {target.to_string()}")
        raise CRSError(msg)
    area = shapely.from_wkb(shapely.to_wkb(area))  # a copy: preparing must not touch the input
    shapely.prepare(area)
    return area


# ----------------------------------------------------------------------------- coordinates


def _coordinates(raw: RawTable, choice: ColumnChoice, v: _Verdicts
                 ) -> tuple[np.ndarray, np.ndarray, str, str]:
    """Flag unreadable/missing/non-numeric records; return x, y and their labels."""
    if raw.unreadable:
        idx = np.fromiter(raw.unreadable, dtype=np.int64)
        v.code[idx] = REASONS.index("unreadable_row") + 1
        v.detail[idx] = [raw.unreadable[i] for i in idx]
    if choice.x is None or choice.y is None:
        if raw.geom_x is None or raw.geom_y is None:  # resolve_columns prevents this
            msg = "no x/y columns and no geometry"
            raise InputDataError(msg)
        x, y = raw.geom_x.copy(), raw.geom_y.copy()
        v.flag(np.isnan(x) | np.isnan(y), "missing_coordinates", "the geometry is missing or empty")
        return x, y, "x", "y"
    xlab, ylab = choice.x, choice.y
    x, xmiss, xbad = _parse_numbers(raw.frame[choice.x])
    y, ymiss, ybad = _parse_numbers(raw.frame[choice.y])

    def missing_detail(mask: np.ndarray) -> list[str]:
        both, only_x = (xmiss & ymiss)[mask], xmiss[mask]
        return [f"{ylab}/{xlab} are empty" if b else f"{xlab if ox else ylab} is empty"
                for b, ox in zip(both, only_x, strict=True)]

    def bad_detail(mask: np.ndarray) -> list[str]:
        xs, ys = raw.frame[choice.x].to_numpy()[mask], raw.frame[choice.y].to_numpy()[mask]
        return [f"{xlab} = {str(a)!r} is not a number" if bx else
                f"{ylab} = {str(b)!r} is not a number"
                for a, b, bx in zip(xs, ys, xbad[mask], strict=True)]

    v.flag(xmiss | ymiss, "missing_coordinates", missing_detail)
    v.flag(xbad | ybad, "invalid_coordinates", bad_detail)
    return x, y, xlab, ylab


def _looks(x: np.ndarray, y: np.ndarray) -> dict[str, np.ndarray]:
    return {
        "korea": (x >= 124) & (x <= 132) & (y >= 33) & (y <= 39),
        "swapped": (x >= 33) & (x <= 39) & (y >= 124) & (y <= 132),
        "degrees": (np.abs(x) <= 180) & (np.abs(y) <= 90),
        "metres": (np.abs(x) > 1000) | (np.abs(y) > 1000),
    }


def _most(mask: np.ndarray) -> bool:
    return bool(mask.size) and mask.mean() > 0.5


def _check_declared(crs: CRS, x: np.ndarray, y: np.ndarray, rows: np.ndarray, file: str,
                    labels: tuple[str, str]) -> None:
    xlab, ylab = labels
    look = _looks(x, y)
    name = crs.to_string()
    if crs.is_geographic and _most(look["swapped"]):
        msg = (f"{file}: {xlab}/{ylab} look swapped: most rows have x in 33-39 (a latitude) and "
               f"y in 124-132 (a longitude) ({_examples(rows, x, y, look['swapped'])}); swap the "
               f"`x` and `y` columns (x = {ylab!r}, y = {xlab!r})")
        raise InputDataError(msg)
    if crs.is_geographic and _most(look["metres"]):
        eg = _examples(rows, x, y, look["metres"])
        msg = (f"{file}: crs is {name} (degrees) but most {xlab}/{ylab} values are in the "
               f"hundreds of thousands, like Korean TM metres ({eg}); declare the layer's TM "
               "crs, e.g. crs = \"EPSG:5186\" (or EPSG:5174, 5179, 5181, 2097)")
        raise InputDataError(msg)
    if crs.is_projected and _most(look["degrees"]):
        msg = (f"{file}: crs is {name} (metres) but most {xlab}/{ylab} values look like degrees "
               f"({_examples(rows, x, y, look['degrees'])}); declare crs = \"EPSG:4326\"")
        raise InputDataError(msg)


def _distance_outside(area: Any, points: np.ndarray) -> np.ndarray:
    """Distance from points outside `area` to it (via an STRtree of boundary segments)."""
    if not len(points):
        return np.zeros(0)
    parts = shapely.get_parts(shapely.boundary(area))
    coords, part = shapely.get_coordinates(parts, return_index=True)
    same = part[1:] == part[:-1]
    segments = shapely.linestrings(np.stack([coords[:-1][same], coords[1:][same]], axis=1))
    (inp, _), dist = shapely.STRtree(segments).query_nearest(
        points, return_distance=True, all_matches=False)
    out = np.empty(len(points))
    out[inp] = dist
    return out


def _covered(area: Any, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    return shapely.covers(area, shapely.points(x, y))


def _transform(src: CRS, target: CRS, x: np.ndarray, y: np.ndarray
               ) -> tuple[np.ndarray, np.ndarray]:
    if src == target:
        return x.copy(), y.copy()
    tx, ty = Transformer.from_crs(src, target, always_xy=True).transform(x, y)
    return np.asarray(tx, dtype=float), np.asarray(ty, dtype=float)


#: Two Korean TM systems that put a table's points closer than this (median) cannot be
#: told apart by whether the points fall in a study area; detection refuses to guess.
_TM_APART_M = 5_000.0


def _detect_tm(x: np.ndarray, y: np.ndarray, rows: np.ndarray, area: Any, target: CRS,
               file: str) -> CRS:
    codes = ", ".join(f"EPSG:{c}" for c in KOREAN_TM_EPSG)
    if area is None:
        msg = (f"{file}: coordinates are in metres ({_examples(rows, x, y, np.ones_like(x, bool))}"
               f") but no `crs` is declared, and without a study area the Korean TM systems "
               f"({codes}) cannot be told apart; declare crs, e.g. crs = \"EPSG:5186\"")
        raise InputDataError(msg)
    placed = {code: _transform(CRS.from_epsg(code), target, x, y) for code in KOREAN_TM_EPSG}
    counts = {code: int(_covered(area, *xy).sum()) for code, xy in placed.items()}
    ranked = sorted(counts.items(), key=lambda kv: -kv[1])
    (best, n_best), (_, n_second) = ranked[0], ranked[1]
    tally = ", ".join(f"EPSG:{c} {n}" for c, n in ranked)
    if n_best == 0:
        msg = (f"{file}: layer lands nowhere near the study area: its metre coordinates put no "
               f"point inside it in any Korean TM system ({codes}); check the x/y columns and "
               "declare the crs")
        raise InputDataError(msg)
    # Systems that put the points within a few hundred metres of the best one's (5174,
    # 5181 and 2097 share a false origin) cannot be told apart by a study area: which of
    # them puts more points inside it is chance at its edge, never evidence.
    near = [code for code, n in ranked[1:] if n and float(np.median(np.hypot(
        placed[code][0] - placed[best][0], placed[code][1] - placed[best][1])))
        < _TM_APART_M]
    if near:
        gaps = [float(np.median(np.hypot(placed[c][0] - placed[best][0],
                                         placed[c][1] - placed[best][1]))) for c in near]
        close = ", ".join(f"EPSG:{c}" for c in sorted([best, *near]))
        msg = (f"{file}: coordinates are in metres but no `crs` is declared, and {close} "
               f"place them within {min(gaps):,.0f}-{max(gaps):,.0f} m of each other, which the "
               f"study area cannot tell apart (points inside it: {tally}); declare which "
               "one with `crs` (the file's publisher states it)")
        raise InputDataError(msg)
    if n_second >= 0.95 * n_best:
        msg = (f"{file}: coordinates are in metres but no `crs` is declared and several Korean "
               f"TM systems fit (points inside the study area: {tally}); declare crs, e.g. "
               f"crs = \"EPSG:{best}\"")
        raise InputDataError(msg)
    logger.info("%s: no crs declared; EPSG:%d puts %d of %d points in the study area (%s)",
                file, best, n_best, len(x), tally)
    return CRS.from_epsg(best)


def _source_crs(raw: RawTable, choice: ColumnChoice,
                pts: tuple[np.ndarray, np.ndarray, np.ndarray], *, area: Any, target: CRS,
                file: str, labels: tuple[str, str]) -> CRS:
    """Return the CRS of the layer's coordinates: declared, the file's own, or detected.

    `pts` holds x, y and source rows of the records usable so far (non-zero numbers).
    """
    x, y, rows = pts
    declared: str | CRS | None = choice.crs
    if declared is None and choice.x is None:
        if raw.crs is None:
            msg = (f"{file}: the file has no coordinate reference system; declare one, "
                   "e.g. crs = \"EPSG:5186\"")
            raise InputDataError(msg)
        declared = raw.crs
    elif declared is not None and choice.x is None and raw.crs is not None:
        logger.info("%s: declared crs %s replaces the file's %s", file, declared,
                    raw.crs.to_string())
    if declared is not None:
        crs = parse_crs(declared, what=f"{file} crs")
        _check_declared(crs, x, y, rows, file, labels)
        return crs
    look = _looks(x, y)
    if not x.size:
        return _WGS84
    if _most(look["metres"]):
        return _detect_tm(x, y, rows, area, target, file)
    if _most(look["swapped"]) or look["degrees"].any():
        _check_declared(_WGS84, x, y, rows, file, labels)  # raises if swapped
        return _WGS84
    msg = (f"{file}: cannot tell the coordinate system of {labels[0]}/{labels[1]} "
           f"({_examples(rows, x, y, np.ones_like(x, bool))}); declare crs")
    raise InputDataError(msg)


def _flag_impossible(crs: CRS, x: np.ndarray, y: np.ndarray, v: _Verdicts,
                     labels: tuple[str, str]) -> None:
    """Non-zero values impossible in `crs` are invalid_coordinates."""
    xlab, ylab = labels
    nzx, nzy = x != 0, y != 0
    if crs.is_geographic:
        badx, bady = nzx & (np.abs(x) > 180), nzy & (np.abs(y) > 90)
        swapped = _looks(x, y)["swapped"]

        def detail(mask: np.ndarray) -> list[str]:
            out = []
            for xi, yi, bx, sw in zip(x[mask], y[mask], badx[mask], swapped[mask], strict=True):
                s = (f"{xlab} = {_fmt(xi)} is not a longitude (-180..180)" if bx else
                     f"{ylab} = {_fmt(yi)} is not a latitude (-90..90)")
                out.append(s + (" (latitude and longitude swapped?)" if sw else ""))
            return out

        v.flag(badx | bady, "invalid_coordinates", detail)
        return
    aou = crs.area_of_use
    if aou is None:
        return
    west, south, east, north = aou.bounds
    fwd = Transformer.from_crs(_WGS84, crs, always_xy=True)
    x0, y0, x1, y1 = fwd.transform_bounds(max(west - 5, -180), max(south - 5, -90),
                                          min(east + 5, 180), min(north + 5, 90))
    bad = (nzx & ((x < x0) | (x > x1))) | (nzy & ((y < y0) | (y > y1)))
    v.flag(bad, "invalid_coordinates",
           lambda m: [f"{xlab}/{ylab} = {_fmt(a)}, {_fmt(b)} lie far outside the area where "
                      f"{crs.to_string()} is used" for a, b in zip(x[m], y[m], strict=True)])


def _flag_zero(x: np.ndarray, y: np.ndarray, v: _Verdicts, labels: tuple[str, str]) -> None:
    xlab, ylab = labels
    zx, zy = x == 0, y == 0
    v.flag(zx | zy, "zero_coordinates",
           lambda m: [f"{ylab}/{xlab} are 0,0 (Seoul's code for unknown)" if a and b else
                      f"{xlab if a else ylab} is 0 (Seoul's code for unknown)"
                      for a, b in zip(zx[m], zy[m], strict=True)])


def _place(x: np.ndarray, y: np.ndarray, v: _Verdicts, crs: CRS, target: CRS, area: Any,
           file: str) -> tuple[np.ndarray, np.ndarray]:
    """Project usable records to `target`; flag failures and points outside `area`."""
    ok = v.ok()
    tx = np.full(len(x), np.nan)
    ty = np.full(len(x), np.nan)
    tx[ok], ty[ok] = _transform(crs, target, x[ok], y[ok])
    v.flag(ok & ~(np.isfinite(tx) & np.isfinite(ty)), "invalid_coordinates",
           f"cannot be projected from {crs.to_string()} to {target.to_string()}")
    ok = v.ok()
    if area is None or not ok.any():
        return tx, ty
    pts = shapely.points(tx[ok], ty[ok])
    inside = shapely.covers(area, pts)
    dist = np.zeros(len(x))
    dist[np.flatnonzero(ok)[~inside]] = _distance_outside(area, pts[~inside])
    if not inside.any():
        nearest = float(dist[ok].min())
        if nearest > NOWHERE_NEAR_M:
            msg = (f"{file}: layer lands nowhere near the study area: read as "
                   f"{crs.to_string()}, its nearest point is {nearest / 1000:,.1f} km away; "
                   "check the layer's crs and its x/y columns")
            raise InputDataError(msg)
    outside = np.zeros(len(x), dtype=bool)
    outside[np.flatnonzero(ok)[~inside]] = True
    v.flag(outside, "outside_study_area",
           lambda m: [f"{d:,.0f} m outside the study area" for d in dist[m]])
    return tx, ty


def _merge_rows(raw: RawTable, choice: ColumnChoice, v: _Verdicts,
                pts: tuple[np.ndarray, np.ndarray, np.ndarray],
                cap: tuple[np.ndarray, np.ndarray]) -> None:
    """Merge the usable rows that share an id into one space each (flags ``merged``).

    The kept row's capacity becomes the group's sum (in place in `cap`).
    """
    tx, ty, rows = pts
    caps, notes = cap
    idx = np.flatnonzero(v.ok())
    if choice.id is None or len(idx) < 2:
        return
    ids = _text(raw.frame[choice.id].iloc[idx])
    kept = merge_groups(ids, tx[idx], ty[idx])  # positions into idx
    others = kept != np.arange(len(idx))
    if not others.any():
        return
    count = np.bincount(kept, minlength=len(idx))
    total = np.bincount(kept, weights=caps[idx], minlength=len(idx))
    defaulted = np.bincount(kept, weights=(notes[idx] != "").astype(float), minlength=len(idx))
    for h in np.flatnonzero(count > 1):
        caps[idx[h]] = total[h]
        if defaulted[h]:
            notes[idx[h]] = (f"{defaulted[h]:.0f} of the {count[h]} rows of id {ids[h]} had "
                             "no readable capacity; each counted as 1")
    detail = np.full(len(v.code), "", dtype=object)
    detail[idx[others]] = [
        f"one of the {count[k]} rows of id {ids[k]}: merged into space {ids[k]} (row "
        f"{rows[idx[k]]}), whose capacity is their sum ({total[k]:g})" for k in kept[others]]
    merged = np.zeros(len(v.code), dtype=bool)
    merged[idx[others]] = True
    v.flag(merged, "merged", lambda m: detail[m])


def _space_ids(raw: RawTable, choice: ColumnChoice, keep: np.ndarray, rows: np.ndarray,
               stem: str, file: str) -> tuple[pd.Series, str | None]:
    """Ids of the kept records, made unique with ~2, ~3 suffixes; and a warning if needed."""
    fallback = [f"{stem}-{r}" for r in rows[keep]]
    if choice.id is None:
        return pd.Series(fallback, dtype="str"), None
    given = _text(raw.frame[choice.id][keep])
    ids = [g or f for g, f in zip(given, fallback, strict=True)]
    nth = pd.Series(ids, dtype=object).groupby(ids, sort=False).cumcount().to_numpy()
    if not (nth > 0).any():
        return pd.Series(ids, dtype="str"), None
    repeated = list(dict.fromkeys(ids[i] for i in np.flatnonzero(nth > 0)))
    taken = set(ids)
    for i in np.flatnonzero(nth > 0):
        k = nth[i] + 1
        while f"{ids[i]}~{k}" in taken:
            k += 1
        ids[i] = f"{ids[i]}~{k}"
        taken.add(ids[i])
    shown = ", ".join(repr(r) for r in repeated[:5])
    warning = (f"{file}: id column {choice.id!r} repeats {len(repeated)} value(s) ({shown}); "
               "the repeats were kept with suffixes ~2, ~3, ...")
    return pd.Series(ids, dtype="str"), warning


def _hours(raw: RawTable, choice: ColumnChoice,
           hhmm: Mapping[str, Sequence[str]] | None, keep: np.ndarray, file: str
           ) -> tuple[list[str], list[str]] | None:
    """Return the kept records' hours as given and in OSM syntax ('' = unknown), or None.

    Values that are not understood are kept as unknown and logged with their counts.
    """
    frame = raw.frame[keep]
    if hhmm is not None:
        pairs = {}
        for dtype, cols in hhmm.items():
            if isinstance(cols, str) or len(cols) != 2:
                msg = (f"{file}: hours {dtype!r} needs [start column, end column], "
                       f"got {cols!r}")
                raise InputDataError(msg)
            start, end = (require_column(list(raw.frame.columns), c, f"hours.{dtype}",
                                         file) for c in cols)
            pairs[dtype] = (frame[start].tolist(), frame[end].tolist())
        parsed = hours_from_hhmm(pairs)
        given = ["; ".join(f"{d} {pairs[d][0][i]!s}-{pairs[d][1][i]!s}" for d in pairs)
                 for i in range(len(frame))]
    elif choice.hours is not None:
        given = _text(frame[choice.hours])
        parsed = [parse_hours(v) for v in given]
    else:
        return None
    _log_unknown_hours(given, parsed, file)
    return given, [h.osm or "" for h in parsed]


def _log_unknown_hours(given: list[str], parsed: list[ParsedHours], file: str) -> None:
    notes = pd.Series([h.note for h in parsed if h.osm is None and h.note != "no hours given"])
    missing = sum(h.note == "no hours given" for h in parsed)
    if missing:
        logger.info("%s: %d spaces have no opening hours (kept as unknown)", file, missing)
    if len(notes):
        values = pd.Series([g for g, h in zip(given, parsed, strict=True)
                            if h.osm is None and h.note != "no hours given"])
        shown = "; ".join(f"{v!r} x{n}" for v, n in values.value_counts().head(5).items())
        logger.warning("%s: %d opening-hours values not understood, kept as hours unknown "
                       "(%s); first reason: %s", file, len(notes), shown, notes.iloc[0])


# ----------------------------------------------------------------------------- public


def read_layer(  # noqa: PLR0913
    path: str | os.PathLike[str], *, category: str, preset: str | None = None,
    x: str | None = None, y: str | None = None, crs: str | None = None, id: str | None = None,
    name: str | None = None, encoding: str | None = None, sheet: str | None = None,
    layer: str | None = None, study_area: shapely.Geometry | None = None,
    analysis_crs: str = "EPSG:5186", source: str | None = None,
    capacity: str | Sequence[str] | None = None, merge: bool | None = None,
    hours: str | Mapping[str, Sequence[str]] | None = None,
) -> tuple[gpd.GeoDataFrame, pd.DataFrame]:
    r"""Read one resource layer and validate every record.

    Parameters
    ----------
    path
        The layer file (CSV, JSON/GeoJSON, XLSX, GeoPackage, Shapefile, ...).
    category
        The category of every space in the layer (e.g. ``"bike"``).
    preset
        A known Seoul layout (``ttareungyi``, ``nanumcar``, ``shared_parking``,
        ``tool_library``, ``toy_library``, ``public_reservation``).
    x, y, crs, id, name
        Explicit columns and CRS; they override the preset.
    encoding
        Text encoding of a CSV/JSON file or Shapefile attributes (detected when None).
    sheet, layer
        Excel sheet / GIS layer to read (default: the first sheet / the only layer).
    study_area
        Polygon in `analysis_crs`; points not covered by it are ``outside_study_area``.
    analysis_crs
        The metric CRS of the returned spaces.
    source
        The name recorded in ``source`` (default: the file name).
    capacity
        The column holding each space's capacity (docks, bays, ...), or several
        columns added up; default: the preset's (see the README), else none
        (every space 1). Empty or unreadable values count as 1, with a
        ``capacity_note``.
    merge
        Whether rows sharing an id are one space whose capacity is their sum
        (reason ``merged`` for the others); default: the preset's choice (the
        parking and Nanumcar API layouts merge), else False.
    hours
        The opening-hours column (OSM ``opening_hours`` syntax or a Korean form such
        as ``평일 09:00 ~ 18:00``), or start/end ``HHMM`` columns per day type, e.g.
        ``{"weekday": ("평일 운영 시작시각(HHMM)", "평일 운영 종료시각(HHMM)")}``
        (day types: ``weekday``, ``saturday``, ``sunday``, ``weekend``, ``everyday``,
        ``holiday``); default: the preset's hours column, if the file has it. See
        :mod:`sharemap.hours`.

    Returns
    -------
    spaces
        GeoDataFrame in `analysis_crs` with :data:`SPACE_COLUMNS` and point geometry;
        with hours, also ``hours`` (the value as given) and ``hours_osm`` (in OSM
        syntax; empty where the hours are missing or not understood).
    rejects
        DataFrame with :data:`REJECT_COLUMNS`, one row per rejected record.

    Raises
    ------
    InputDataError
        If the file is empty, unreadable, has no usable coordinate columns, has
        swapped or mis-declared coordinates, or lands nowhere near the study area.
    ConfigError
        On an unknown preset or inconsistent options.

    Notes
    -----
    ``len(spaces) + len(rejects)`` equals the number of data records; duplicates
    and off-network points are checked later (:func:`dedupe_spaces`, the network
    stage). Text (names, ids) is kept verbatim; maps escape it.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> f = pathlib.Path(tempfile.mkdtemp()) / "lib.csv"
    >>> _ = f.write_text("id,name,lon,lat\n1,A,127.05,37.58\n2,B,0,0\n", encoding="utf-8")
    >>> spaces, rejects = read_layer(f, category="tools", id="id")
    >>> spaces["space_id"].tolist(), rejects["reason"].tolist()
    (['1'], ['zero_coordinates'])
    """
    file = Path(path)
    src = source if source is not None else file.name
    target = require_projected(analysis_crs, "analysis_crs")
    area = _check_study_area(study_area, target)
    raw = read_table(file, encoding=encoding, sheet=sheet, layer=layer)
    n = len(raw.frame)
    if n == 0:
        warnings.warn(f"{file.name}: no data records (header only); the layer is empty",
                      UserWarning, stacklevel=2)
        return _empty_spaces(target), _rejects_frame(src, [], category, [], [])
    choice = resolve_columns(list(raw.frame.columns), file=file.name,
                             has_geometry=raw.has_geometry, preset=preset, x=x, y=y, crs=crs,
                             id=id, name=name, capacity=capacity, merge=merge,
                             hours=hours if isinstance(hours, str) else None)
    rows = np.arange(1, n + 1, dtype=np.int64)
    v = _Verdicts(n)
    xs, ys, xlab, ylab = _coordinates(raw, choice, v)
    labels = (xlab, ylab)
    ok = v.ok() & (xs != 0) & (ys != 0)
    src_crs = _source_crs(raw, choice, (xs[ok], ys[ok], rows[ok]), area=area, target=target,
                          file=file.name, labels=labels)
    _flag_impossible(src_crs, xs, ys, v, labels)
    _flag_zero(xs, ys, v, labels)
    tx, ty = _place(xs, ys, v, src_crs, target, area, file.name)
    caps, notes = row_capacities(raw.frame, choice.capacity)
    if choice.merge:
        _merge_rows(raw, choice, v, (tx, ty, rows), (caps, notes))

    keep = v.ok()
    ids, warning = _space_ids(raw, choice, keep, rows, file.stem, file.name)
    if warning is not None:
        warnings.warn(warning, UserWarning, stacklevel=2)
    names = [""] * int(keep.sum())
    for col in reversed(choice.names):  # first non-empty of the name columns wins
        vals = _text(raw.frame[col][keep])
        names = [a or b for a, b in zip(vals, names, strict=True)]
    spaces = gpd.GeoDataFrame(
        {
            "space_id": ids,
            "category": pd.Series([category] * len(ids), dtype="str"),
            "name": pd.Series(names, dtype="str"),
            "source": pd.Series([src] * len(ids), dtype="str"),
            "source_row": pd.Series(rows[keep], dtype="int64"),
            "capacity": pd.Series(caps[keep], dtype="float64"),
            "capacity_note": pd.Series(notes[keep], dtype="str"),
        },
        geometry=gpd.points_from_xy(tx[keep], ty[keep]), crs=target,
    )
    n_default = int((notes[keep] != "").sum())
    if n_default:
        eg = "; ".join(f"row {r}: {t}" for r, t in zip(rows[keep][notes[keep] != ""][:3],
                                                      notes[keep][notes[keep] != ""][:3],
                                                      strict=True))
        logger.warning("%s: %d of %d spaces have no readable capacity and count as 1 (%s)",
                       file.name, n_default, int(keep.sum()), eg)
    opening = _hours(raw, choice, None if isinstance(hours, str) else hours, keep, file.name)
    if opening is not None:
        spaces.insert(len(SPACE_COLUMNS), "hours", pd.Series(opening[0], dtype="str"))
        spaces.insert(len(SPACE_COLUMNS) + 1, "hours_osm", pd.Series(opening[1], dtype="str"))
    bad = ~keep
    rejects = _rejects_frame(src, rows[bad], category,
                             [REASONS[c - 1] for c in v.code[bad]], v.detail[bad])
    logger.info("Read %s (%s, %s, %s): %d records, %d spaces, %d rejects; capacity: %s",
                file.name, raw.fmt, choice.layout, src_crs.to_string(), n, len(spaces),
                len(rejects), " + ".join(choice.capacity) or "none (1 per space)")
    return spaces, rejects


def _pairs_within_distance(xy: np.ndarray, distance: float) -> np.ndarray:
    """Return the pairs ``(i, j)``, ``i < j``, of points at most `distance` apart.

    The same pairs as ``scipy.spatial.cKDTree(xy).query_pairs(distance)`` (squared
    distance at most `distance` squared), found with shapely's STRtree, which is
    loaded anyway: scipy.spatial would add a noticeable import to every run.
    """
    pts = shapely.points(xy)
    i, j = shapely.STRtree(pts).query(pts, predicate="dwithin",
                                      distance=distance * (1 + 1e-9))  # candidates
    keep = i < j
    i, j = i[keep], j[keep]
    d = xy[i] - xy[j]
    near = d[:, 0] * d[:, 0] + d[:, 1] * d[:, 1] <= distance * distance
    return np.column_stack([i[near], j[near]]).astype(np.int64)


def _greedy_duplicates(xy: np.ndarray, tolerance_m: float) -> np.ndarray:
    """For each point, -1 if kept, else the index of the kept point it duplicates.

    Points are taken in order; a point within `tolerance_m` of an earlier kept
    point is a duplicate of the nearest such point. Identical positions are
    collapsed first, so a stack of repeats costs no more than one point (a
    repeat names the space the first point at its position was merged into).
    """
    n = len(xy)
    of = np.full(n, -1, dtype=np.int64)
    if n < 2:
        return of
    uniq, first, inverse = np.unique(xy, axis=0, return_index=True, return_inverse=True)
    inverse = inverse.ravel()
    order = np.argsort(first)  # unique positions in order of first appearance
    ufirst = first[order]
    rank = np.empty(len(order), dtype=np.int64)
    rank[order] = np.arange(len(order))
    upts = uniq[order]
    uof = np.full(len(upts), -1, dtype=np.int64)  # kept unique position it duplicates
    pairs = _pairs_within_distance(upts, tolerance_m)
    if len(pairs):
        pairs = pairs[np.lexsort((pairs[:, 0], pairs[:, 1]))]  # by later point, then earlier
        later, earlier = pairs[:, 1], pairs[:, 0]
        starts = np.flatnonzero(np.r_[True, later[1:] != later[:-1]])
        ends = np.r_[starts[1:], len(later)]
        for s, e in zip(starts, ends, strict=True):
            cand = earlier[s:e]
            cand = cand[uof[cand] == -1]
            if cand.size:
                d = np.hypot(*(upts[cand] - upts[later[s]]).T)
                uof[later[s]] = cand[np.argmin(d)]
    u = rank[inverse]  # unique position of each point
    rep = ufirst[u]  # the first point at that position
    merged = uof[u]  # the kept position that position merged into, or -1
    # A repeat of a position is a duplicate of the first point there if that one was
    # kept, else of the space the first point merged into.
    of = np.where(merged >= 0, ufirst[np.maximum(merged, 0)], rep)
    of[(np.arange(n) == rep) & (merged < 0)] = -1
    return of


def dedupe_spaces(spaces: gpd.GeoDataFrame, *, tolerance_m: float = 2.0
                  ) -> tuple[gpd.GeoDataFrame, pd.DataFrame]:
    """Merge spaces of one category that stand within `tolerance_m` of each other.

    Parameters
    ----------
    spaces
        Spaces (possibly from several layers) in a metric CRS, in input order.
    tolerance_m
        Distance (metres, inclusive) within which two spaces are one.

    Returns
    -------
    kept
        The spaces that are kept (RangeIndex, same columns).
    rejects
        The duplicates, reason ``duplicate``, with the kept ``space_id`` in ``detail``.

    Notes
    -----
    Greedy in input order within each category: a space within `tolerance_m` of
    an earlier *kept* space is a duplicate (of the nearest such space); a space
    near only rejected duplicates is kept. Pairs come from a k-d tree, so the
    cost is that of the close pairs, not of all pairs. The kept space keeps its own
    ``capacity``: a duplicate is the same space listed again (a station listed twice,
    a venue listed once per programme), so its capacity is not added.
    """
    require_projected(spaces.crs, "spaces")
    xy = shapely.get_coordinates(spaces.geometry.to_numpy())
    if len(xy) != len(spaces):
        msg = "dedupe_spaces needs one non-empty point per space"
        raise InputDataError(msg)
    dup_of = np.full(len(spaces), -1, dtype=np.int64)
    cats = spaces["category"].to_numpy()
    for cat in pd.unique(cats):
        idx = np.flatnonzero(cats == cat)
        local = _greedy_duplicates(xy[idx], tolerance_m)
        dup_of[idx[local >= 0]] = idx[local[local >= 0]]
    dups = np.flatnonzero(dup_of >= 0)
    kept_of = dup_of[dups]
    dist = np.hypot(*(xy[dups] - xy[kept_of]).T) if len(dups) else np.array([])
    sid = spaces["space_id"].to_numpy()
    srcs = spaces["source"].to_numpy()
    srows = spaces["source_row"].to_numpy()
    details = [f"within {d:.1f} m of kept space {sid[k]} ({srcs[k]} row {srows[k]})"
               for d, k in zip(dist, kept_of, strict=True)]
    rejects = pd.DataFrame({
        "source": pd.Series(srcs[dups], dtype="str"),
        "source_row": pd.Series(srows[dups], dtype="int64"),
        "category": pd.Series(cats[dups], dtype="str"),
        "reason": pd.Series(["duplicate"] * len(dups), dtype="str"),
        "detail": pd.Series(details, dtype="str"),
    })
    kept = spaces.iloc[np.flatnonzero(dup_of < 0)].reset_index(drop=True)
    if len(dups):
        logger.info("Merged %d duplicate spaces (within %.1f m)", len(dups), tolerance_m)
    return kept, rejects


def _relative_source(path: Path, base: Path | None) -> str:
    """Name a layer's file in outputs: relative to the study's folder when inside it.

    A file elsewhere keeps its absolute path (``/data/seoul/bike.json``), not a climb
    such as ``../../../data/seoul/bike.json``; without a study folder, the file name.
    """
    if base is None:
        return path.name
    resolved = path.resolve()
    try:
        return resolved.relative_to(base.resolve()).as_posix()
    except ValueError:  # outside the folder (or on another drive)
        return resolved.as_posix()


def layer_sources(config: StudyConfig) -> list[str]:
    """Name the ``source`` that each layer's spaces and rejects carry, in layer order.

    A path relative to the configuration file's folder; where one file is read by
    several layers from different sheets or GIS layers, the sheet or layer name
    follows a ``#`` (``bikes.xlsx#2022``), so that ``(source, source_row)`` still
    names one record.
    """
    base = config.source.resolve().parent if config.source is not None else None
    plain = [_relative_source(lay.path, base) for lay in config.layers]
    parts: dict[str, set[tuple[str | None, str | None]]] = {}
    for src, lay in zip(plain, config.layers, strict=True):
        parts.setdefault(src, set()).add((lay.sheet, lay.layer))
    return [f"{src}#{lay.sheet or lay.layer}" if len(parts[src]) > 1 and (lay.sheet or lay.layer)
            else src for src, lay in zip(plain, config.layers, strict=True)]


def read_layers(config: StudyConfig, *, study_area: shapely.Geometry | None = None
                ) -> tuple[gpd.GeoDataFrame, pd.DataFrame, dict[str, int]]:
    """Read every layer of a study, then merge duplicates across them.

    Parameters
    ----------
    config
        The study; its ``layers`` are read in order and ``crs`` is the analysis CRS.
    study_area
        The study-area polygon in ``config.crs`` (None: no area check).

    Returns
    -------
    spaces
        All spaces (RangeIndex), after :func:`dedupe_spaces`.
    rejects
        All rejects, sorted by source then source row.
    rows_read
        Data records per source (see :func:`layer_sources`); a file that two layers
        read (as two categories) counts its records once.
    """
    all_spaces: list[gpd.GeoDataFrame] = []
    all_rejects: list[pd.DataFrame] = []
    rows_read: dict[str, int] = {}
    target = require_projected(config.crs, "study crs")
    taken: dict[str, dict[str, str]] = {}  # category -> id -> the source that has it
    for lay, src in zip(config.layers, layer_sources(config), strict=True):
        spaces, rejects = read_layer(lay.path, category=lay.category, preset=lay.preset,
                                     study_area=study_area, analysis_crs=config.crs,
                                     source=src, **lay.columns())
        spaces = distinct_ids(spaces, taken.setdefault(lay.category, {}), src)
        all_spaces.append(spaces)
        all_rejects.append(rejects)
        # a file read by two layers (two categories) has its records once, not twice
        rows_read[src] = len(spaces) + len(rejects)
    if any("hours" in s for s in all_spaces):  # one layer with hours: every space has them
        all_spaces = [s if "hours" in s else s.assign(hours="", hours_osm="")
                      for s in all_spaces]
    spaces = _concat_spaces(all_spaces, target)
    spaces, dups = dedupe_spaces(spaces)
    rejects = pd.concat([*all_rejects, dups], ignore_index=True)
    rejects = rejects.sort_values(["source", "source_row"], kind="mergesort",
                                  ignore_index=True)
    return spaces, rejects, rows_read


def distinct_ids(spaces: gpd.GeoDataFrame, taken: dict[str, str], src: str
                 ) -> gpd.GeoDataFrame:
    """Write an id that `taken` already holds as ``<id>@<src>`` (warned).

    `spaces` are of one category; `taken` maps that category's ids so far to their
    source, and is updated. Ids are unique within a file; two files of one category
    (one per year or per gu, named alike, or numbered 1, 2, ... by 연번) would otherwise
    give two spaces one id, which ``whatif --remove`` and ``adjacent_space_ids`` could
    not tell apart.
    """
    ids = spaces["space_id"].astype(str)
    clash = ids.isin(taken.keys()).to_numpy()
    if clash.any():
        first = ids[clash].tolist()
        others = sorted({taken[i] for i in first})
        shown = ", ".join(repr(i) for i in first[:5]) + (" ..." if len(first) > 5 else "")
        warnings.warn(
            f"{src}: {len(first):,} id(s) ({shown}) are already used in category "
            f"{spaces['category'].iloc[0]!r} by {', '.join(others)}; kept as <id>@{src}",
            UserWarning, stacklevel=3)
        ids = ids.where(~clash, ids + "@" + src)
        spaces = spaces.assign(space_id=ids.to_numpy())
    taken.update(dict.fromkeys(ids.tolist(), src))
    return spaces


def _concat_spaces(frames: Sequence[gpd.GeoDataFrame], crs: CRS) -> gpd.GeoDataFrame:
    frames = [f for f in frames if len(f)]
    if not frames:
        return _empty_spaces(crs)
    return gpd.GeoDataFrame(pd.concat(frames, ignore_index=True), geometry="geometry", crs=crs)
