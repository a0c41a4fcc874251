r"""Column layouts of Seoul's published files (presets), and column resolution.

A preset is a list of alternative layouts tried in order; the first layout whose
x and y columns are both present in the file is used. Column names are matched
after removing all whitespace (including the line breaks of Excel headers) and
ignoring case, so ``대여소 번호``, ``대여소번호`` and ``대여소\n번호`` are one name.
Explicit options (``x``, ``y``, ``crs``, ``id``, ``name``) always override a preset.

Presets (``preset_table()`` renders this as a Markdown table for the README)::

    ttareungyi          portal JSON master (OA-21235): statn_lnt/statn_lat, id lendplace_id,
                          name statn_addr2 or statn_addr1 (the master has no names), EPSG:4326
                        station info CSV/XLSX (OA-13252): 경도/위도, id 대여소번호,
                          name 보관소(대여소)명 or 대여소명 or 상세주소, EPSG:4326,
                          capacity LCD 거치대수 + QR 거치대수 (or 거치대수)
                        open API bikeList: stationLongitude/stationLatitude, id stationId,
                          name stationName, EPSG:4326, capacity rackTotCnt
                        tidy CSV: lon/lat, id station_id, name address_detail or address
                        tidy dock table: lon/lat, id station_no, name station_name,
                          capacity total_docks or rack_count
    nanumcar            open API NanumcarSpotList: LO/LA, id POSITN_CD, name POSITN_NM;
                          one row per operator: rows merged, capacity = operators
                        tidy CSV: lon/lat, id spot_id, name name, capacity n_operators
    shared_parking      open API GetParkingInfo: LOT/LAT, id PKLT_CD, name PKLT_NM, capacity
                          TPKCT; rows sharing an id merged (capacity summed)
                        open API GetParkInfo: LNG/LAT, id PARKING_CODE, name PARKING_NAME,
                          capacity CAPACITY; merged likewise
                        Korean CSV (OA-13122): 경도/위도, id 주차장코드, name 주차장명,
                          capacity 총 주차면; merged likewise (on-street car parks are
                          published one row per bay)
                        tidy CSV: lon/lat (degrees) or x/y (CRS detected), id parking_id, name
                        tidy public car parks: lon/lat, id park_code, capacity capacity_est
    tool_library        Korean CSV (공구대여소): 경도/위도, id 대여소ID or 연번,
                          name 대여소명 or 공구대여소명 or 공구대여소 or 시설명, hours 운영시간
                        tidy CSV: lon/lat, id lib_id, name name, hours opening_hours
    toy_library         Korean CSV (장난감도서관): 경도/위도, id 시설ID or 연번,
                          name 시설명 or 도서관명 or 장난감도서관명
                        tidy CSV: lon/lat, id lib_id, name name
    public_reservation  open API ListPublicReservation*: X/Y (X is longitude), id SVCID,
                          name PLACENM
                        portal CSV: 장소X좌표/장소Y좌표, id 서비스ID, name 장소명
                        tidy CSV: lon/lat, id service_id, name place_name

All preset layouts are in WGS84 (EPSG:4326) except the tidy x/y parking layout.

A layout that names a capacity reads it as :mod:`sharemap._capacity` says (empty
or unreadable values count as 1, with a note). When two layouts share x/y names
(two tidy ``lon``/``lat`` tables), the one whose id column is present is used.

Only the Ttareungyi, Nanumcar, public-reservation, Korean public-parking and
tool-library layouts were checked against real files (the tool-library files of
Dongdaemun-gu and Seongbuk-gu from data.go.kr); the parking APIs and toy-library
layouts list the columns the preset expects (give ``x``, ``y``, ``id``, ``name`` and
``capacity`` explicitly for other files).

Without a preset and without ``x``/``y``, a geometry file uses its geometry and a
table is searched for common coordinate names: x from ``lon``, ``lng``, ``long``,
``longitude``, ``x``, ``경도``, ``x좌표``; y from ``lat``, ``latitude``, ``y``, ``위도``,
``y좌표``; the name from ``name``, ``이름``, ``명칭``, ``시설명``; the id from ``id``.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from ._errors import ConfigError, InputDataError

__all__ = [
    "PRESETS",
    "ColumnChoice",
    "Layout",
    "normalize_column",
    "preset_table",
    "require_column",
    "resolve_columns",
]

WGS84 = "EPSG:4326"


@dataclass(frozen=True)
class Layout:
    """One column layout: candidate names per role (the first present one wins)."""

    label: str
    x: tuple[str, ...]
    y: tuple[str, ...]
    id: tuple[str, ...] = ()
    name: tuple[str, ...] = ()
    crs: str | None = WGS84
    #: Alternatives for the capacity: each a group of columns added up (LCD + QR docks);
    #: the first group whose columns are all present is used.
    capacity: tuple[tuple[str, ...], ...] = ()
    #: Rows sharing an id are one space (a car park published one row per bay).
    merge: bool = False
    #: opening-hours column (OSM syntax or a Korean form; see :mod:`sharemap.hours`)
    hours: tuple[str, ...] = ()


@dataclass(frozen=True)
class ColumnChoice:
    """The columns a layer is read with (``x``/``y`` None: use the file's geometry)."""

    x: str | None
    y: str | None
    id: str | None
    names: tuple[str, ...]
    crs: str | None
    layout: str
    #: The columns whose sum is a row's capacity (empty: the layer has none).
    capacity: tuple[str, ...] = ()
    #: Whether rows sharing an id are merged into one space.
    merge: bool = False
    hours: str | None = None


_LON = ("lon", "lng", "long", "longitude", "x", "경도", "x좌표", "xcoord")
_LAT = ("lat", "latitude", "y", "위도", "y좌표", "ycoord")
GENERIC = Layout("common coordinate names", _LON, _LAT, ("id",), ("name", "이름", "명칭", "시설명"),
                 None)

_DOCKS = (("LCD 거치대수", "QR 거치대수"), ("거치대수",))

PRESETS: dict[str, tuple[Layout, ...]] = {
    "ttareungyi": (
        Layout("portal JSON master (OA-21235)", ("statn_lnt",), ("statn_lat",),
               ("lendplace_id",), ("statn_addr2", "statn_addr1")),
        Layout("station info CSV/XLSX (OA-13252)", ("경도",), ("위도",), ("대여소번호",),
               ("보관소(대여소)명", "대여소명", "상세주소"), capacity=_DOCKS),
        Layout("open API bikeList", ("stationLongitude",), ("stationLatitude",), ("stationId",),
               ("stationName",), capacity=(("rackTotCnt",),)),
        Layout("tidy CSV", ("lon",), ("lat",), ("station_id",), ("address_detail", "address")),
        Layout("tidy dock table", ("lon",), ("lat",), ("station_no",), ("station_name",),
               capacity=(("total_docks",), ("rack_count",))),
    ),
    "nanumcar": (
        Layout("open API NanumcarSpotList", ("LO",), ("LA",), ("POSITN_CD",), ("POSITN_NM",),
               merge=True),
        Layout("tidy CSV", ("lon",), ("lat",), ("spot_id",), ("name",),
               capacity=(("n_operators",),)),
    ),
    "shared_parking": (
        Layout("open API GetParkingInfo", ("LOT",), ("LAT",), ("PKLT_CD",), ("PKLT_NM",),
               capacity=(("TPKCT",),), merge=True),
        Layout("open API GetParkInfo", ("LNG",), ("LAT",), ("PARKING_CODE",), ("PARKING_NAME",),
               capacity=(("CAPACITY",),), merge=True),
        Layout("Korean CSV (OA-13122)", ("경도",), ("위도",), ("주차장코드",), ("주차장명",),
               capacity=(("총 주차면",),), merge=True),
        Layout("tidy CSV, degrees", ("lon",), ("lat",), ("parking_id",), ("name",)),
        Layout("tidy CSV, TM metres", ("x",), ("y",), ("parking_id",), ("name",), None),
        Layout("tidy public car parks", ("lon",), ("lat",), ("park_code",), ("name",),
               capacity=(("capacity_est",),)),
    ),
    "tool_library": (
        # checked against data.go.kr's Dongdaemun-gu (2024-08-13) and Seongbuk-gu
        # (2025-03-12) files: 공구대여소명 / 공구대여소, 위도, 경도, 운영시간; no id column
        Layout("Korean CSV (공구대여소)", ("경도",), ("위도",), ("대여소ID", "연번"),
               ("대여소명", "공구대여소명", "공구대여소", "시설명"), hours=("운영시간",)),
        Layout("tidy CSV", ("lon",), ("lat",), ("lib_id",), ("name",), hours=("opening_hours",)),
    ),
    "toy_library": (
        Layout("Korean CSV (장난감도서관)", ("경도",), ("위도",), ("시설ID", "연번"),
               ("시설명", "도서관명", "장난감도서관명")),
        Layout("tidy CSV", ("lon",), ("lat",), ("lib_id",), ("name",)),
    ),
    "public_reservation": (
        Layout("open API ListPublicReservation*", ("X",), ("Y",), ("SVCID",), ("PLACENM",)),
        Layout("portal CSV (Korean headers)", ("장소X좌표",), ("장소Y좌표",), ("서비스ID",),
               ("장소명",)),
        Layout("tidy CSV", ("lon",), ("lat",), ("service_id",), ("place_name",)),
    ),
}


def normalize_column(name: object) -> str:
    """Return a column name without whitespace (incl. line breaks and BOM), lower-cased."""
    return re.sub(r"[\s\ufeff]+", "", str(name)).lower()


def _find(columns: Sequence[str], wanted: str) -> str | None:
    """Return the file's column matching `wanted` (exactly, else after normalisation)."""
    if wanted in columns:
        return wanted
    key = normalize_column(wanted)
    for col in columns:
        if normalize_column(col) == key:
            return col
    return None


def _first(columns: Sequence[str], candidates: Sequence[str]) -> str | None:
    for cand in candidates:
        found = _find(columns, cand)
        if found is not None:
            return found
    return None


def _layouts(preset: str | None) -> tuple[Layout, ...]:
    if preset is None:
        return ()
    if preset not in PRESETS:
        msg = f"unknown preset {preset!r}; known presets: {', '.join(sorted(PRESETS))}"
        raise ConfigError(msg)
    return PRESETS[preset]


def require_column(columns: Sequence[str], wanted: str, role: str, file: str) -> str:
    """Return the file's column for `wanted`, or raise naming the file, role and columns."""
    found = _find(columns, wanted)
    if found is None:
        msg = (f"{file}: column {wanted!r} (`{role}`) not found; columns found: "
               f"{', '.join(map(str, columns)) or '(none)'}")
        raise InputDataError(msg)
    return found


def _pick_layout(columns: Sequence[str], layouts: Sequence[Layout], *,
                 need_xy: bool) -> Layout | None:
    """Return the first layout that fits (of those sharing x/y names, one with its id).

    Two tidy tables can both use ``lon``/``lat`` (a station list and a dock table):
    the id column tells them apart, and without it the first of them is used.
    """
    found: Layout | None = None
    for lay in layouts:
        has_xy = _first(columns, lay.x) is not None and _first(columns, lay.y) is not None
        fits = has_xy if need_xy else (has_xy or _first(columns, lay.id) is not None
                                       or _first(columns, lay.name) is not None)
        if not fits:
            continue
        if not lay.id or _first(columns, lay.id) is not None:
            return lay
        found = found or lay
    return found


def _capacity_columns(columns: Sequence[str], layout: Layout, capacity: str | Sequence[str]
                      | None, file: str) -> tuple[str, ...]:
    """Return the columns a row's capacity adds up (explicit, else the layout's first fit)."""
    if capacity is not None:
        wanted = [capacity] if isinstance(capacity, str) else list(capacity)
        return tuple(require_column(columns, c, "capacity", file) for c in wanted)
    for group in layout.capacity:
        found = [_find(columns, c) for c in group]
        if all(f is not None for f in found):
            return tuple(f for f in found if f is not None)
    return ()


def resolve_columns(  # noqa: PLR0913
    columns: Sequence[str], *, file: str, has_geometry: bool, preset: str | None = None,
    x: str | None = None, y: str | None = None, crs: str | None = None, id: str | None = None,
    name: str | None = None, capacity: str | Sequence[str] | None = None,
    merge: bool | None = None, hours: str | None = None,
) -> ColumnChoice:
    """Decide which columns give the coordinates, id and name of a layer.

    Parameters
    ----------
    columns
        The file's column names.
    file
        The file name, for messages.
    has_geometry
        Whether the file has a geometry column (used when `x`/`y` are not given).
    preset, x, y, crs, id, name, hours
        The layer options; explicit ones override the preset.
    capacity
        A column (or columns, added up) holding each row's capacity; default: the
        preset's, else none.
    merge
        Whether rows sharing an id are one space; default: the preset's choice.

    Returns
    -------
    choice
        The chosen columns (``x``/``y`` None when the geometry is used).

    Raises
    ------
    ConfigError
        If the preset is unknown or only one of `x` and `y` is given.
    InputDataError
        If a named column is missing or no coordinate columns can be found.
    """
    layouts = _layouts(preset)
    if (x is None) != (y is None):
        msg = f"{file}: give both `x` and `y` columns (got x={x!r}, y={y!r})"
        raise ConfigError(msg)
    xcol: str | None
    ycol: str | None
    if x is not None and y is not None:
        xcol = require_column(columns, x, "x", file)
        ycol = require_column(columns, y, "y", file)
        layout = _pick_layout(columns, layouts, need_xy=False) or GENERIC
        label = "explicit columns"
    elif has_geometry:
        xcol = ycol = None
        layout = _pick_layout(columns, layouts, need_xy=False) or GENERIC
        label = "geometry"
    else:
        found = _pick_layout(columns, layouts or (GENERIC,), need_xy=True)
        if found is None:
            if layouts:
                expected = "; ".join(f"{lay.label}: {lay.x[0]}/{lay.y[0]}" for lay in layouts)
                what = f"none of preset {preset!r}'s layouts match ({expected})"
            else:
                what = "no coordinate columns found (give `x` and `y`)"
            msg = f"{file}: {what}; columns found: {', '.join(map(str, columns)) or '(none)'}"
            raise InputDataError(msg)
        layout = found
        xcol, ycol = _first(columns, layout.x), _first(columns, layout.y)
        label = layout.label
    id_col = (require_column(columns, id, "id", file) if id is not None
              else _first(columns, layout.id))
    if name is not None:
        names: tuple[str, ...] = (require_column(columns, name, "name", file),)
    else:
        names = tuple(c for c in (_find(columns, n) for n in layout.name) if c is not None)
    if crs is None and label == layout.label:
        crs = layout.crs  # the preset's CRS holds only for the preset's own x/y columns
    merge = layout.merge if merge is None else merge
    if merge and id_col is None:
        msg = f"{file}: `merge` joins rows that share an id, but the layer has no `id` column"
        raise ConfigError(msg)
    hours_col = (require_column(columns, hours, "hours", file) if hours is not None
                 else _first(columns, layout.hours))
    return ColumnChoice(x=xcol, y=ycol, id=id_col, names=names, crs=crs, layout=label,
                        capacity=_capacity_columns(columns, layout, capacity, file),
                        merge=merge, hours=hours_col)


def preset_table() -> str:
    """Return the presets as a Markdown table (for the README).

    Returns
    -------
    table
        One row per layout: preset, layout, x, y, id, name, CRS and hours columns.
    """
    def alts(names: tuple[str, ...]) -> str:
        return " or ".join(f"`{n}`" for n in names) or "-"

    def capacity(lay: Layout) -> str:
        text = " or ".join(" + ".join(f"`{c}`" for c in group) for group in lay.capacity)
        if lay.merge:
            text = f"{text or 'one per row'}, summed over rows sharing the id"
        return text or "-"

    lines = ["| preset | layout | x | y | id | name | capacity | crs | hours |",
             "|---|---|---|---|---|---|---|---|---|"]
    for preset, layouts in PRESETS.items():
        for lay in layouts:
            lines.append(
                f"| `{preset}` | {lay.label} | {alts(lay.x)} | {alts(lay.y)} | {alts(lay.id)} "
                f"| {alts(lay.name)} | {capacity(lay)} | {lay.crs or 'detected'} "
                f"| {alts(lay.hours)} |"
            )
    return "\n".join(lines)
