"""File readers for resource layers: CSV, JSON, Excel, GeoPackage and Shapefile.

Every reader returns a :class:`RawTable`: one row per data record, attribute values as
read (strings for text formats), plus the geometry's representative point for
geometry files. Record positions (``source_row`` = position + 1) follow the file:
CSV lines after the header, JSON array order, XLSX rows after the header, features
in order. Blank lines (and CSV/XLSX rows whose cells are all empty) carry nothing
and are not records. CSV and XLSX files alike may carry Seoul's multi-row header
(five rows under merged cells, as in the Ttareungyi station file OA-13252): the
header rows are recognised and each column is named from its cells (see
:func:`_header_block` and :func:`_header_names`); records are counted from the
first data row.

A CSV record with fewer fields than the header (a truncated last line) is
``unreadable_row``: it is incomplete, so even a coordinate it does carry may be
cut short (``127.0`` of ``127.0345``). A record with more non-empty fields than the
header (an unquoted comma) is ``unreadable_row`` too; trailing empty fields are
ignored. Any failure to read a file raises :class:`InputDataError` naming the file
and the reason.
"""

from __future__ import annotations

import csv
import io
import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import shapely
from pyproj import CRS

from ._errors import ConfigError, InputDataError

if TYPE_CHECKING:
    import geopandas as gpd

__all__ = ["RawTable", "decode_bytes", "keep_polygons", "read_table", "read_vector"]

logger = logging.getLogger(__name__)

TEXT_SUFFIXES = (".csv", ".tsv", ".txt")
JSON_SUFFIXES = (".json", ".geojson")
EXCEL_SUFFIXES = (".xlsx", ".xlsm")
GIS_SUFFIXES = (".gpkg", ".shp", ".zip", ".fgb", ".gml", ".kml", ".gdb")
_BOMS = ((b"\xef\xbb\xbf", "utf-8-sig"), (b"\xff\xfe", "utf-16"), (b"\xfe\xff", "utf-16"))


@dataclass
class RawTable:
    """Records of one file before validation.

    ``frame`` holds the attributes (RangeIndex, one row per data record);
    ``unreadable`` maps a record position to the reason it could not be read;
    ``geom_x``/``geom_y`` are the representative point of each record's geometry
    (NaN when it has none) for geometry files, None for tables.
    """

    frame: pd.DataFrame
    fmt: str
    unreadable: dict[int, str] = field(default_factory=dict)
    geom_x: np.ndarray | None = None
    geom_y: np.ndarray | None = None
    crs: CRS | None = None

    @property
    def has_geometry(self) -> bool:
        """Whether the records carry a geometry."""
        return self.geom_x is not None


# ----------------------------------------------------------------------------- text


def decode_bytes(data: bytes, encoding: str | None, file: str) -> tuple[str, str]:
    """Decode a file's bytes: the given encoding, else a BOM, else UTF-8, else CP949.

    A character cut in two at the very end (a truncated file) is replaced rather
    than failing the whole file.

    Returns
    -------
    text, encoding
        The text and the encoding used.

    Raises
    ------
    InputDataError
        If the bytes do not decode.
    """
    if encoding is not None:
        candidates = [encoding]
    else:
        candidates = [enc for bom, enc in _BOMS if data.startswith(bom)] or ["utf-8", "cp949"]
    failed: dict[str, int] = {}  # where each candidate failed
    for enc in candidates:
        try:
            text = data.decode(enc)
        except LookupError:
            msg = f"{file}: unknown encoding {enc!r} (try 'utf-8' or 'cp949')"
            raise ConfigError(msg) from None
        except UnicodeDecodeError as exc:
            if exc.start >= len(data) - 3 and b"\n" not in data[exc.start:]:
                return data.decode(enc, errors="replace"), enc
            failed[enc] = exc.start
            continue
        return text.lstrip("\ufeff"), enc
    raise InputDataError(_decode_error(data, failed, file))


def _decode_error(data: bytes, failed: dict[str, int], file: str) -> str:
    """Name the line where the encoding that read furthest stops (mixed files included)."""
    enc, bad_at = max(failed.items(), key=lambda kv: kv[1])  # the first of equals
    line = data[:bad_at].count(b"\n") + 1
    if len(failed) == 1:
        return (f"{file}: cannot decode line {line} (byte {bad_at}) as {enc}; "
                "set `encoding` to the file's encoding")
    if line > 1 and all(data[:bad_at].count(b"\n") > data[:b].count(b"\n")
                        for e, b in failed.items() if e != enc):
        # the lines before `line` read as `enc`, and no other encoding gets as far
        return (f"{file}: line {line} (byte {bad_at}) is not {enc} although the lines before "
                f"it are: the file mixes text encodings ({' and '.join(failed)} tried); "
                f"re-save it in one encoding (UTF-8), or fix line {line}")
    return (f"{file}: cannot decode line {line} (byte {bad_at}) as {' or '.join(failed)}; "
            "set `encoding` to the file's encoding")


def _unique_names(names: list[str]) -> list[str]:
    out: list[str] = []
    seen: dict[str, int] = {}
    for i, raw in enumerate(names):
        name = raw.strip() or f"column_{i + 1}"
        if name in seen:
            seen[name] += 1
            name = f"{name}.{seen[name]}"
        seen.setdefault(name, 0)
        out.append(name)
    return out


def _read_csv(data: bytes, encoding: str | None, file: str) -> RawTable:
    text, enc = decode_bytes(data, encoding, file)
    if text.lstrip()[:1] == "<":
        msg = f"{file}: looks like HTML or XML, not CSV (an error page saved as a file?)"
        raise InputDataError(msg)
    first = text.split("\n", 1)[0]
    delim = max(",\t;|", key=first.count) if any(c in first for c in ",\t;|") else ","
    try:
        rows = [r for r in csv.reader(io.StringIO(text, newline=""), delimiter=delim)
                if "".join(r).strip()]
    except csv.Error as exc:
        msg = f"{file}: not a readable CSV file ({exc})"
        raise InputDataError(msg) from None
    if not rows:
        msg = f"{file}: has no header line (the file is blank)"
        raise InputDataError(msg)
    start, data_start = _header_block(rows)  # one header line, or Seoul's five merged rows
    width = len(rows[start])
    header = _unique_names(_header_names(rows, start, data_start, width))
    records = rows[data_start:]
    if records and text.count('"') % 2 == 1 and any("\n" in f for f in records[-1]):
        msg = (f"{file}: data record {len(records)} opens a quote that is never closed, so it "
               "runs to the end of the file; close the quote or remove the record")
        raise InputDataError(msg)
    unreadable: dict[int, str] = {}
    fixed: list[list[str]] = []
    for i, rec in enumerate(records):
        if len(rec) == width:
            fixed.append(rec)
            continue
        if len(rec) < width:
            unreadable[i] = f"has {len(rec)} of the header's {width} fields (a truncated line?)"
            rec = rec + [""] * (width - len(rec))  # noqa: PLW2901
        elif any(f.strip() for f in rec[width:]):
            unreadable[i] = (f"has {len(rec)} fields but the header has {width} "
                             "(an unquoted comma?)")
        fixed.append(rec[:width])
    frame = pd.DataFrame(fixed, columns=header, dtype=object) if fixed else \
        pd.DataFrame({c: pd.Series([], dtype=object) for c in header})
    return RawTable(frame=frame, fmt=f"CSV ({enc})", unreadable=unreadable)


# ----------------------------------------------------------------------------- JSON


def _json_records(doc: Any, file: str) -> tuple[list[Any], str]:
    if isinstance(doc, list):
        return doc, "JSON list"
    if isinstance(doc, dict):
        for key, val in doc.items():
            if key.lower() == "data" and isinstance(val, list):
                return val, "portal JSON (DATA)"
        for key, val in doc.items():
            if isinstance(val, dict) and isinstance(val.get("row"), list):
                return val["row"], f"open API JSON ({key}.row)"
        result = doc.get("RESULT") or next(
            (v.get("RESULT") for v in doc.values() if isinstance(v, dict)), None)
        if isinstance(result, dict) and "CODE" in result:
            if result["CODE"] == "INFO-200":  # "no data" from the open API
                return [], "open API JSON (no data)"
            msg = f"{file}: the open API answered {result['CODE']}: {result.get('MESSAGE', '')}"
            raise InputDataError(msg)
        lists = [k for k, v in doc.items() if isinstance(v, list)]
        if len(lists) == 1:
            return doc[lists[0]], f"JSON ({lists[0]})"
        keys = ", ".join(map(str, list(doc)[:10]))
    else:
        keys = type(doc).__name__
    msg = (f"{file}: JSON layout not recognised (top level: {keys}); expected a list of "
           "records, a GeoJSON FeatureCollection or {\"DESCRIPTION\": ..., \"DATA\": [...]}")
    raise InputDataError(msg)


def _records_frame(records: list[Any]) -> tuple[pd.DataFrame, dict[int, str]]:
    unreadable = {i: f"is a JSON {type(r).__name__}, not an object of fields"
                  for i, r in enumerate(records) if not isinstance(r, dict)}
    rows = [{} if i in unreadable else r for i, r in enumerate(records)] if unreadable \
        else records
    frame = pd.DataFrame.from_records(rows) if rows else pd.DataFrame()
    frame = frame.astype(object) if len(frame.columns) else pd.DataFrame(index=range(len(rows)))
    frame.columns = _unique_names([str(c) for c in frame.columns])
    return frame, unreadable


def _geojson_crs(doc: dict[str, Any], file: str) -> CRS:
    name = (doc.get("crs") or {}).get("properties", {}).get("name") \
        if isinstance(doc.get("crs"), dict) else None
    if not name:
        return CRS.from_epsg(4326)
    try:
        return CRS.from_user_input(name)
    except Exception:
        msg = f"{file}: GeoJSON crs {name!r} is not a coordinate reference system"
        raise InputDataError(msg) from None


def _read_geojson(doc: dict[str, Any], file: str) -> RawTable:
    feats = doc.get("features")
    if not isinstance(feats, list):
        msg = f"{file}: GeoJSON FeatureCollection without a `features` list"
        raise InputDataError(msg)
    props = [f.get("properties") or {} if isinstance(f, dict) else None for f in feats]
    frame, unreadable = _records_frame(props)
    geoms = [f.get("geometry") if isinstance(f, dict) else None for f in feats]
    parsed = shapely.from_geojson(
        np.array([json.dumps(g) if g is not None else None for g in geoms], dtype=object),
        on_invalid="ignore",
    ) if geoms else np.array([], dtype=object)
    for i, (g, p) in enumerate(zip(geoms, parsed, strict=True)):
        if g is not None and p is None and i not in unreadable:
            unreadable[i] = "its geometry is not valid GeoJSON"
    gx, gy = _representative_xy(np.asarray(parsed, dtype=object), file)
    return RawTable(frame=frame, fmt="GeoJSON", unreadable=unreadable, geom_x=gx, geom_y=gy,
                    crs=_geojson_crs(doc, file))


def _read_json(data: bytes, encoding: str | None, file: str) -> RawTable:
    text, _ = decode_bytes(data, encoding, file)
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        msg = f"{file}: not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg})"
        raise InputDataError(msg) from None
    if isinstance(doc, dict) and doc.get("type") == "FeatureCollection":
        return _read_geojson(doc, file)
    records, fmt = _json_records(doc, file)
    frame, unreadable = _records_frame(records)
    return RawTable(frame=frame, fmt=fmt, unreadable=unreadable)


# ----------------------------------------------------------------------------- Excel


def _is_number(value: Any) -> bool:
    if isinstance(value, bool):
        return False
    if isinstance(value, (int, float)):
        return True
    if isinstance(value, str):
        try:
            float(value.replace(",", ""))
        except ValueError:
            return False
        return True
    return False


def _filled(value: Any) -> bool:
    return value is not None and str(value).strip() != ""


def _header_block(rows: Sequence[Sequence[Any]]) -> tuple[int, int]:
    """Return (first header row, first data row) for a one- or multi-row header.

    The header starts at the first row with two or more filled cells (a title
    row above it is skipped). Seoul's XLSX files stack up to five header rows
    under merged cells (data from row 6): a following row continues the header
    while it holds no number and fills only cells under a horizontally merged
    heading of the first row (a column empty there, or one followed by an empty
    column); at most six rows. A data record fills other cells, so it is never
    taken for a header row, even without coordinates.
    """
    start = next((i for i, r in enumerate(rows) if sum(map(_filled, r)) >= 2), None)
    if start is None:
        start = next(i for i, r in enumerate(rows) if any(map(_filled, r)))
    head = list(rows[start])
    width = len(head)  # a record wider than the header fills a cell outside the spans
    top = [_filled(head[c]) for c in range(width)] + [True]
    under_span = {c for c in range(width) if not top[c] or not top[c + 1]}
    end = start + 1
    while end < min(start + 7, len(rows)):
        cells = [c for c, v in enumerate(rows[end]) if _filled(v)]
        if any(_is_number(rows[end][c]) for c in cells) or not set(cells) <= under_span:
            break
        end += 1
    return start, end


def _header_names(rows: list[Any], start: int, end: int, width: int) -> list[str]:
    """Column names from header rows ``start:end`` (whitespace in a cell collapsed).

    A one-row header gives its cells. Under a multi-row header, a column is named
    by its cells below a heading that spans several columns (``설치형태`` over
    ``LCD`` / ``QR``, each over ``거치 대수``, gives ``LCD 거치 대수`` and
    ``QR 거치 대수``; ``소재지(위치)`` over ``위도`` gives ``위도``), otherwise by
    all its cells joined, so two columns under one heading keep apart.
    """
    def cell(r: Any, c: int) -> str:
        return " ".join(str(r[c]).split()) if c < len(r) and _filled(r[c]) else ""

    head = rows[start]
    top = [cell(head, c) for c in range(width)] + ["end"]
    names = []
    for c in range(width):
        lower = [t for t in (cell(r, c) for r in rows[start + 1:end]) if t]
        spans = bool(top[c]) and not top[c + 1]
        parts = lower if (spans or not top[c]) and lower else [top[c], *lower]
        names.append(" ".join(t for t in parts if t))
    return names


def _read_excel(path: Path, sheet: str | None, file: str) -> RawTable:
    import openpyxl  # local: only Excel users pay for it

    try:
        wb = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except Exception as exc:  # zip, XML and openpyxl errors alike: the file is unusable
        msg = f"{file}: not a readable .xlsx workbook ({exc})"
        raise InputDataError(msg) from None
    try:
        if sheet is not None and sheet not in wb.sheetnames:
            msg = f"{file}: no sheet {sheet!r}; sheets: {', '.join(wb.sheetnames)}"
            raise InputDataError(msg)
        ws = wb[sheet] if sheet is not None else wb.worksheets[0]
        rows = [r for r in ws.iter_rows(values_only=True)
                if any(v is not None and str(v).strip() != "" for v in r)]
    finally:
        wb.close()
    if not rows:
        msg = f"{file}: sheet {ws.title!r} is empty (no header row)"
        raise InputDataError(msg)
    start, data_start = _header_block(rows)
    width = max(len(r) for r in rows)
    names = _header_names(rows, start, data_start, width)
    records = [list(r) + [None] * (width - len(r)) for r in rows[data_start:]]
    frame = pd.DataFrame(records, columns=_unique_names(names), dtype=object) if records else \
        pd.DataFrame({c: pd.Series([], dtype=object) for c in _unique_names(names)})
    return RawTable(frame=frame, fmt=f"XLSX (sheet {ws.title!r})")


# ----------------------------------------------------------------------------- GIS


def _representative_xy(geoms: np.ndarray, file: str) -> tuple[np.ndarray, np.ndarray]:
    """Return x, y of each geometry's representative point (NaN for none/empty)."""
    geoms = np.asarray(geoms, dtype=object)
    points = geoms.copy()
    nonpoint = ~shapely.is_missing(geoms) & (shapely.get_type_id(geoms) != 0)
    if nonpoint.any():
        try:
            points[nonpoint] = shapely.point_on_surface(geoms[nonpoint])
        except shapely.errors.GEOSException:
            points[nonpoint] = shapely.point_on_surface(shapely.make_valid(geoms[nonpoint]))
        logger.debug("%s: %d non-point geometries -> representative points", file,
                     int(nonpoint.sum()))
    xy = shapely.get_coordinates(points, include_z=False)
    x = np.full(len(geoms), np.nan)
    y = np.full(len(geoms), np.nan)
    counts = shapely.get_num_coordinates(points)
    has = counts > 0
    if has.any():
        idx = np.concatenate([[0], np.cumsum(counts)[:-1]])[has]
        x[has], y[has] = xy[idx, 0], xy[idx, 1]
    return x, y


def _dbf_encoding(path: Path, file: str) -> str:
    """Return a Shapefile's .dbf encoding: its .cpg, else UTF-8 if it decodes, else CP949."""
    for suffix in (".cpg", ".CPG"):
        cpg = path.with_suffix(suffix)
        if cpg.is_file():
            return cpg.read_text(encoding="ascii", errors="replace").strip() or "utf-8"
    dbf = next((p for p in (path.with_suffix(".dbf"), path.with_suffix(".DBF")) if p.is_file()),
               None)
    if dbf is None:
        return "cp949"
    try:
        dbf.read_bytes().decode("utf-8")
    except UnicodeDecodeError:
        logger.info("%s: no .cpg file; reading the attributes as CP949", file)
        return "cp949"
    return "utf-8"


def _read_gis(path: Path, *, layer: str | None, encoding: str | None, file: str) -> RawTable:
    if encoding is None and path.suffix.lower() == ".shp":
        encoding = _dbf_encoding(path, file)
    df = read_vector(path, what="", layer=layer, encoding=encoding, label=file, one_layer=True)
    geom_name = getattr(df, "_geometry_column_name", None) if hasattr(df, "crs") else None
    if geom_name is None or geom_name not in df.columns:
        frame = pd.DataFrame(df).astype(object).reset_index(drop=True)
        return RawTable(frame=frame, fmt=f"{path.suffix.lstrip('.').upper()} table")
    frame = pd.DataFrame(df.drop(columns=geom_name)).reset_index(drop=True)
    gx, gy = _representative_xy(df.geometry.to_numpy(), file)
    crs = CRS.from_user_input(df.crs) if df.crs is not None else None
    return RawTable(frame=frame, fmt=path.suffix.lstrip(".").upper(), geom_x=gx, geom_y=gy,
                    crs=crs)


def read_vector(path: str | Path, *, what: str, layer: str | None = None,
                encoding: str | None = None, label: str | None = None,
                one_layer: bool = False) -> gpd.GeoDataFrame:
    """Read a GIS file (a layer, boundaries, blocks, barriers, weights, the study area) with GDAL.

    The one place where a GDAL read failure becomes an :class:`InputDataError`.

    Parameters
    ----------
    path
        Any vector file GDAL reads (GeoJSON, GeoPackage, Shapefile, ...).
    what
        What the file is, for messages (``"boundaries"``, ``"blocks"``, ...).
    layer
        The layer of a multi-layer file (default: the first).
    encoding
        The attributes' encoding (default: GDAL's choice).
    label
        How messages name the file (default: its path).
    one_layer
        Refuse a file with several layers when `layer` is not given.

    Returns
    -------
    frame
        The features in file order (RangeIndex), in the file's CRS (a plain DataFrame
        for a table without geometry).

    Raises
    ------
    InputDataError
        If the file does not exist, GDAL cannot read it, or (with `one_layer`) it has
        several layers and none is named (one line naming the file).
    """
    import geopandas as gpd
    import pyogrio

    p = Path(path)
    name = label if label is not None else str(p)
    if not p.exists():
        msg = f"{name}: {what or 'GIS'} file not found"
        raise InputDataError(msg)
    try:
        if one_layer and layer is None:
            layers = pyogrio.list_layers(p)
            if len(layers) > 1:
                names = ", ".join(str(n) for n in layers[:, 0])
                msg = f"{name}: has {len(layers)} layers ({names}); set `layer` to one of them"
                raise InputDataError(msg)
        gdf = gpd.read_file(p, layer=layer, encoding=encoding)
    except InputDataError:
        raise
    except Exception as exc:  # pyogrio/GDAL raise many types; the user needs one line
        reason = " ".join(f"{type(exc).__name__}: {exc}".split())
        msg = f"{name}: cannot read{' ' + what if what else ''} ({reason})"
        raise InputDataError(msg) from None
    return gdf.reset_index(drop=True)


# ----------------------------------------------------------------------------- dispatch

#: File signatures of binary formats that end up with a text suffix (a renamed file).
_SIGNATURES = ((b"PK\x03\x04", "a ZIP archive"), (b"PK\x05\x06", "an empty ZIP archive"),
               (b"\x1f\x8b", "a gzip archive"), (b"\xd0\xcf\x11\xe0", "an old Excel .xls "
               "workbook (or another MS Office file)"), (b"SQLite format 3\x00",
               "an SQLite database (a GeoPackage?)"), (b"%PDF", "a PDF document"),
               (b"7z\xbc\xaf", "a 7-Zip archive"), (b"Rar!", "a RAR archive"),
               (b"\x89PNG", "a PNG image"), (b"\xff\xd8\xff", "a JPEG image"))


def _zip_kind(data: bytes) -> tuple[str, str]:
    """Say what a ZIP archive holds (an .xlsx workbook, a zipped Shapefile) and what to do."""
    import zipfile

    try:
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            names = zf.namelist()
    except zipfile.BadZipFile:
        return "a damaged ZIP archive", "give the file it was made from"
    if "xl/workbook.xml" in names:
        return "an Excel .xlsx workbook", "rename it to .xlsx"
    if any(n.lower().endswith(".shp") for n in names):
        return "a zipped Shapefile", "rename it to .zip (GDAL reads it) or unzip it"
    shown = ", ".join(names[:3]) + (" ..." if len(names) > 3 else "")
    return f"a ZIP archive ({shown or 'empty'})", "unzip it and give the file inside"


def _refuse_binary(data: bytes, suffix: str, file: str) -> None:
    """Refuse a binary file given as text (a renamed .xlsx, a zip): decoding it is pointless."""
    for magic, kind in _SIGNATURES:
        if data.startswith(magic):
            what, fix = _zip_kind(data) if magic == b"PK\x03\x04" else (
                kind, "save it in the format its name says")
            msg = f"{file}: is {what}, not a {suffix.lstrip('.').upper() or 'text'} file; {fix}"
            raise InputDataError(msg)


def _check_options(suffix: str, sheet: str | None, layer: str | None, file: str) -> None:
    if sheet is not None and suffix not in EXCEL_SUFFIXES:
        msg = f"{file}: `sheet` applies to Excel files only"
        raise ConfigError(msg)
    if layer is not None and suffix not in GIS_SUFFIXES:
        msg = f"{file}: `layer` applies to GeoPackage and other GIS files only"
        raise ConfigError(msg)


def read_table(path: Path, *, encoding: str | None = None, sheet: str | None = None,
               layer: str | None = None) -> RawTable:
    """Read the records of a layer file, choosing the reader by the file's suffix.

    Parameters
    ----------
    path
        The file (.csv/.tsv/.txt, .json/.geojson, .xlsx, .gpkg, .shp, or another
        format GDAL reads).
    encoding
        Text encoding; detected when None (BOM, UTF-8, else CP949).
    sheet
        Excel sheet name (default: the first sheet).
    layer
        Layer name in a multi-layer GIS file.

    Returns
    -------
    table
        The records before validation.

    Raises
    ------
    InputDataError
        If the file is missing, empty (0 bytes) or cannot be read.
    """
    file = path.name
    if not path.exists():
        msg = f"{path}: file not found"
        raise InputDataError(msg)
    suffix = path.suffix.lower()
    _check_options(suffix, sheet, layer, file)
    if path.is_file() and path.stat().st_size == 0:
        msg = f"{file}: the file is empty (0 bytes)"
        raise InputDataError(msg)
    if suffix in EXCEL_SUFFIXES:
        table = _read_excel(path, sheet, file)
    elif suffix == ".xls":
        msg = f"{file}: old Excel .xls files are not supported; save it as .xlsx or CSV"
        raise InputDataError(msg)
    elif suffix in GIS_SUFFIXES or path.is_dir():
        table = _read_gis(path, layer=layer, encoding=encoding, file=file)
    else:
        try:
            data = path.read_bytes()
        except OSError as exc:
            msg = f"{file}: cannot read ({exc.strerror})"
            raise InputDataError(msg) from None
        if not data.strip():
            msg = f"{file}: the file is empty (only blank space)"
            raise InputDataError(msg)
        _refuse_binary(data, suffix, file)
        is_json = suffix in JSON_SUFFIXES or (
            suffix not in TEXT_SUFFIXES and data.lstrip(b"\xef\xbb\xbf \t\r\n")[:1] in (b"{", b"[")
        )
        table = (_read_json if is_json else _read_csv)(data, encoding, file)
    logger.debug("%s: %d records read as %s", file, len(table.frame), table.fmt)
    return table


def keep_polygons(gdf: gpd.GeoDataFrame, path: Path, what: str) -> gpd.GeoDataFrame:
    """Drop the features without geometry; name the first one that is not a polygon.

    `what` says what the layer must be (e.g. "the land-use layer") in the error.
    Features are numbered from 1 in file order, as GIS programs show them.
    """
    gdf = gdf[gdf.geometry.notna() & ~gdf.geometry.is_empty]
    kind = gdf.geometry.geom_type.to_numpy()
    bad = ~np.isin(kind, ["Polygon", "MultiPolygon"])
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        msg = f"{path}: feature {gdf.index[i] + 1} is a {kind[i]}; {what} must hold polygons"
        raise InputDataError(msg)
    return gdf
