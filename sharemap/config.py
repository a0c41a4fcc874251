"""The study configuration: a TOML file read into frozen dataclasses.

Every key has one meaning (see ``SPEC.md`` and the README); an unknown key is
an error that names it, so a typo is never silently ignored.
"""

from __future__ import annotations

import itertools
import math
import re
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from ._compat import warn_renamed
from ._crs import parse_crs, require_projected
from ._errors import ConfigError
from ._presets import PRESETS
from ._profiles import get_profile
from ._validate import LIMITS, Limit, check_number, check_whole

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

__all__ = [
    "DEFAULT_SNAP_EXCLUDE",
    "PLAN_METRICS",
    "SNAP_EXCLUDE_VALUES",
    "BlocksConfig",
    "BoundaryConfig",
    "CoverageConfig",
    "GroupConfig",
    "LayerConfig",
    "MapConfig",
    "NetworkConfig",
    "PlanConfig",
    "PlanTarget",
    "PopulationTableConfig",
    "StudyConfig",
    "SupplyConfig",
    "VillagesConfig",
    "WeightsConfig",
    "check_input_files",
    "input_files",
    "read_config",
]

NETWORK_SOURCES = ("graphml", "osm_xml", "osm_pbf", "place", "bbox")


class FrozenDict(dict[str, Any]):
    """A read-only, hashable dict: the TOML tables (filters) of a frozen configuration.

    It reads, compares and serialises (``json``, ``dataclasses.asdict``) as the dict
    it holds; changing it raises ``TypeError`` (make a new configuration instead,
    e.g. with ``dataclasses.replace``).

    Examples
    --------
    >>> f = FrozenDict({"sggnm": "동대문구"})
    >>> f["sggnm"], f == {"sggnm": "동대문구"}, hash(f) == hash(FrozenDict(f))
    ('동대문구', True, True)
    >>> f["x"] = 1
    Traceback (most recent call last):
    ...
    TypeError: a configuration is read-only: make a new one (dataclasses.replace)
    """

    __slots__ = ()

    def __hash__(self) -> int:  # type: ignore[override]  # dict's is None
        return hash(frozenset(self.items()))

    def __repr__(self) -> str:
        return f"FrozenDict({dict.__repr__(self)})"

    def __reduce__(self) -> tuple[Any, ...]:  # copy and pickle without __setitem__
        return (type(self), (dict(self),))


def _read_only(self: Any, *args: Any, **kwargs: Any) -> Any:
    msg = "a configuration is read-only: make a new one (dataclasses.replace)"
    raise TypeError(msg)


for _name in ("__setitem__", "__delitem__", "__ior__", "clear", "pop", "popitem", "setdefault",
              "update"):
    setattr(FrozenDict, _name, _read_only)


def _freeze(value: Any) -> Any:
    """Return `value` with its dicts, lists and sets made read-only (FrozenDict, tuple)."""
    if isinstance(value, dict) and not isinstance(value, FrozenDict):
        return FrozenDict({k: _freeze(v) for k, v in value.items()})
    if isinstance(value, list | tuple) and any(isinstance(v, dict | list | set) for v in value):
        return tuple(_freeze(v) for v in value)
    if isinstance(value, list):
        return tuple(value)
    if isinstance(value, set):
        return frozenset(value)
    return value


#: Edges a point joins only when no other edge lies within ``max_snap_m``: a pedestrian
#: cannot step onto an expressway, an elevated road or a tunnel from the roadside.
DEFAULT_SNAP_EXCLUDE = ("motorway", "motorway_link", "trunk", "trunk_link", "bridge", "tunnel")
#: What ``snap_exclude`` may name: the ``bridge`` and ``tunnel`` tags, and the values of
#: OpenStreetMap's ``highway`` key that a way can have (so a typo is an error, not a rule
#: that silently excludes nothing).
SNAP_EXCLUDE_VALUES = frozenset({
    "bridge", "tunnel",
    "motorway", "trunk", "primary", "secondary", "tertiary", "unclassified", "residential",
    "motorway_link", "trunk_link", "primary_link", "secondary_link", "tertiary_link",
    "living_street", "service", "pedestrian", "track", "bus_guideway", "escape", "raceway",
    "road", "busway", "footway", "bridleway", "steps", "corridor", "path", "via_ferrata",
    "cycleway", "construction", "proposed", "platform", "elevator"})


class _Frozen:
    """Makes a frozen dataclass truly read-only: its dict, list and set fields are frozen.

    So a configuration built in Python with plain dicts and lists is as immutable
    and hashable as one read from TOML.
    """

    def __post_init__(self) -> None:
        for f in fields(self):  # type: ignore[arg-type]  # every subclass is a dataclass
            value = getattr(self, f.name)
            frozen = _freeze(value)
            if frozen is not value:
                object.__setattr__(self, f.name, frozen)


@dataclass(frozen=True)
class LayerConfig(_Frozen):
    """One resource layer: where it is and how to read it."""

    category: str
    path: Path
    preset: str | None = None
    x: str | None = None
    y: str | None = None
    crs: str | None = None
    id: str | None = None
    name: str | None = None
    encoding: str | None = None
    sheet: str | None = None
    layer: str | None = None
    #: The capacity column (or columns, added up); None: the preset's, else 1 per space.
    capacity: str | tuple[str, ...] | None = None
    #: Whether rows sharing an id are one space (None: the preset's choice).
    merge: bool | None = None
    #: opening hours: a column, or (day type, start column, end column) triples of HHMM
    hours: str | tuple[tuple[str, str, str], ...] | None = None

    def columns(self) -> dict[str, Any]:
        """Return the explicit column options that were set (they override a preset)."""
        keys = ("x", "y", "crs", "id", "name", "encoding", "sheet", "layer", "capacity",
                "merge")
        out: dict[str, Any] = {k: getattr(self, k) for k in keys if getattr(self, k) is not None}
        if isinstance(self.hours, tuple):
            out["hours"] = {dtype: (start, end) for dtype, start, end in self.hours}
        elif self.hours is not None:
            out["hours"] = self.hours
        return out


@dataclass(frozen=True)
class NetworkConfig(_Frozen):
    """Where the walking network comes from (exactly one source), and how points join it.

    ``allow_partial`` lets a study run although the network reaches less of it than
    the checks require (:mod:`sharemap.checks`); every figure then covers only the
    part the network reaches. ``snap_exclude`` names the edges a point joins only when
    no other edge lies within ``max_snap_m`` (highway classes, ``bridge``, ``tunnel``).
    """

    source: str
    value: Any
    max_snap_m: float = 250.0
    allow_partial: bool = False
    snap_exclude: tuple[str, ...] = DEFAULT_SNAP_EXCLUDE


@dataclass(frozen=True)
class BlocksConfig(_Frozen):
    """Block options: user blocks, or derived from the street network.

    ``barriers`` are polygon/line files (water areas, railways) that bound derived
    blocks; ``sidewalks = false`` derives blocks from road classes alone. Blocks of
    at least ``multi_origin_min_area_m2`` are judged from a grid of origins
    ``origin_spacing_m`` apart (see :mod:`sharemap.origins`); ``multi_origin = false``
    judges every block from its representative point.
    """

    path: Path | None = None
    min_area_m2: float = 1000.0
    layer: str | None = None
    barriers: tuple[Path, ...] = ()
    sidewalks: bool = True
    multi_origin: bool = True
    multi_origin_min_area_m2: float = 40_000.0
    origin_spacing_m: float = 100.0

    @property
    def origin_grid_min_area_m2(self) -> float:
        """The area from which a block gets a grid of origins (inf: never)."""
        return self.multi_origin_min_area_m2 if self.multi_origin else math.inf


@dataclass(frozen=True)
class VillagesConfig(_Frozen):
    """The adjacency rule for sharing-village candidates.

    ``count = "spaces"`` (default): a candidate has at least `min_spaces` adjacent
    spaces (or distinct categories). ``count = "capacity"``: the adjacent spaces'
    capacity adds up to at least `min_capacity`.
    """

    adjacent_minutes: float = 5.0
    min_spaces: int = 3
    distinct_categories: bool = False
    count: str = "spaces"
    min_capacity: float | None = None


@dataclass(frozen=True)
class BoundaryConfig(_Frozen):
    """One boundary level (gu, dong, ...) with its name, id and population columns."""

    level: str
    path: Path
    name: str
    id: str | None = None
    population: str | None = None
    filter: Mapping[str, Any] = field(default_factory=FrozenDict)


@dataclass(frozen=True)
class PopulationTableConfig(_Frozen):
    """A table (CSV, XLSX) holding the population columns, joined to the population level.

    Rows join units where the table's `key` column equals the boundary file's
    `boundary_key` column (codes or names; compared as trimmed text).
    """

    path: Path
    key: str
    boundary_key: str
    encoding: str | None = None
    sheet: str | None = None


@dataclass(frozen=True)
class WeightsConfig(_Frozen):
    """Where residents live inside their unit: the layer that spreads each unit's population.

    ``source`` says what `path` is (see :mod:`sharemap.weights`):

    - ``"polygons"`` (TOML ``path``): buildings or residential land; a block's weight is
      the area of the polygons inside it, times `column`;
    - ``"landuse"`` (``path`` with ``class_column``): land-use polygons, each weighing
      its class's weight in `classes` (`default` for other classes and unmapped land);
    - ``"osm"`` (``osm``): the landuse, leisure, amenity and natural polygons of an OSM
      XML/PBF file, weighed like land use by their ``key=value`` tags;
    - ``"raster"`` (``raster``): a population grid (GeoTIFF): the sum of its cells.
    """

    path: Path
    layer: str | None = None
    column: str | None = None
    source: str = "polygons"
    class_column: str | None = None
    classes: Mapping[str, float] = field(default_factory=FrozenDict)
    default: float = 1.0
    band: int = 1


@dataclass(frozen=True)
class GroupConfig(_Frozen):
    """A population group (a count column of the population level), its pace and its streets.

    ``profile`` names a mobility profile (``"walk"``, ``"wheelchair"``, ``"stroller"``;
    see :mod:`sharemap.profiles`): the streets the group can use. ``walk_speed_kmh``
    defaults (NaN) to the profile's speed (walk and stroller 3.6 km/h, wheelchair 3.3).
    """

    column: str
    label: str
    walk_speed_kmh: float = math.nan
    profile: str = "walk"

    def __post_init__(self) -> None:
        super().__post_init__()
        prof = get_profile(self.profile, where=f"`profile` of group {self.label!r}")
        if math.isnan(self.walk_speed_kmh):
            object.__setattr__(self, "walk_speed_kmh", prof.walk_speed_kmh)

    @property
    def slug(self) -> str:
        """The label as a column-name fragment (``"65+"`` -> ``"65plus"``)."""
        return group_slug(self.label)

    @property
    def population_column(self) -> str:
        """The block column holding the group's residents (``population_<slug>``)."""
        return f"population_{self.slug}"


def group_slug(label: str) -> str:
    """Turn a group label into a column-name fragment (``"65+"`` -> ``"65plus"``)."""
    return re.sub(r"\W+", "_", label.replace("+", "plus")).strip("_").lower()


@dataclass(frozen=True)
class CoverageConfig(_Frozen):
    """Coverage thresholds, boundary levels, and how residents are counted and spread."""

    thresholds_minutes: tuple[float, ...] = (5.0, 10.0, 15.0)
    boundaries: tuple[BoundaryConfig, ...] = ()
    population_table: PopulationTableConfig | None = None
    weights: WeightsConfig | None = None
    groups: tuple[GroupConfig, ...] = ()
    gap_blocks: int = 20

    @property
    def population_level(self) -> BoundaryConfig | None:
        """The boundary level that carries `population` (None if none does)."""
        return next((b for b in self.boundaries if b.population is not None), None)

    @property
    def audit_min(self) -> float:
        """The threshold of the gaps and the report, minutes (15, or the nearest configured).

        15 if it is among the thresholds, else the largest threshold under 15, else
        the smallest.
        """
        ths = self.thresholds_minutes
        under = [t for t in ths if t <= 15.0]
        return 15.0 if 15.0 in ths else (max(under) if under else min(ths))

    @property
    def audit_minutes(self) -> float:
        """Deprecated: :attr:`audit_min` (units are spelled ``_min`` in Python names)."""
        warn_renamed("CoverageConfig.audit_minutes", "CoverageConfig.audit_min")
        return self.audit_min


@dataclass(frozen=True)
class MapConfig(_Frozen):
    """What the map shows (an addition to the SPEC's keys; all optional)."""

    color_by: str = "adjacent_spaces"
    isochrone_categories: tuple[str, ...] = ()
    isochrone_minutes: tuple[float, ...] = (5.0, 10.0, 15.0)
    tiles: str | None = "OpenStreetMap"
    #: A boundary level (e.g. "gu"): also write ``maps/<unit id>.html`` per unit.
    split_by: str | None = None


#: E2SFCA distance-decay weights of the catchment's thirds (Luo & Qi 2009).
DEFAULT_BAND_WEIGHTS = (1.0, 0.68, 0.22)


def default_bands(minutes: float) -> tuple[tuple[float, float], ...]:
    """Return the default bands: the catchment in thirds, weighted 1.0, 0.68 and 0.22.

    Examples
    --------
    >>> default_bands(15.0)
    ((5.0, 1.0), (10.0, 0.68), (15.0, 0.22))
    """
    return tuple((minutes * (k + 1) / 3, w) for k, w in enumerate(DEFAULT_BAND_WEIGHTS))


#: The default bands of a 15-minute catchment: ((5, 1.0), (10, 0.68), (15, 0.22)).
DEFAULT_BANDS = default_bands(15.0)


@dataclass(frozen=True)
class SupplyConfig(_Frozen):
    """Supply per resident (E2SFCA): the catchment, its distance-decay bands, categories.

    ``bands`` are ``(upper_minute, weight)`` pairs: a walk of t minutes takes the
    weight of the first band with ``t <= upper_minute``; the last upper minute is the
    catchment (`minutes`). ``((minutes, 1.0),)`` is the plain two-step method.
    ``categories`` None means every category of the study.
    """

    minutes: float = 15.0
    bands: tuple[tuple[float, float], ...] = DEFAULT_BANDS
    categories: tuple[str, ...] | None = None


#: The metrics a plan target may name (``[plan] targets``).
PLAN_METRICS = ("villages", "spaces", "capacity", "coverage")


@dataclass(frozen=True)
class PlanTarget(_Frozen):
    """One target of a plan: a metric, the value aimed at, and what it applies to.

    ``villages``: the study's number of sharing villages. ``spaces``: the number of
    spaces of `category`. ``capacity``: their capacity added up (docks, bays, ...).
    ``coverage``: the share (0-1) of residents within `minutes` of `category` (or of
    every category, ``"all"``). `minutes` is also the walk the sites of a ``spaces`` or
    ``capacity`` target are chosen by (residents newly within it); `site_capacity`
    the capacity of each new site of a ``capacity`` target (default: the median of the
    category's spaces). `category` of a ``villages`` target is the category of the
    spaces added (default: the study's first).
    """

    metric: str
    value: float
    category: str | None = None
    minutes: float = 15.0
    site_capacity: float | None = None
    label: str = ""


@dataclass(frozen=True)
class PlanConfig(_Frozen):
    """A plan's targets (``[plan]``), how many sites each may add at most, and the grid.

    The sites are chosen among the points of a grid of `grid_m` metres moved onto the
    walking network (none within half the spacing of a space of the category).
    """

    year: int | None = None
    targets: tuple[PlanTarget, ...] = ()
    max_sites: int = 100
    grid_m: float = 200.0


@dataclass(frozen=True)
class StudyConfig(_Frozen):
    """A whole study: parameters, network source, layers, blocks, villages and coverage.

    Paths are absolute (resolved against the configuration file's folder).
    """

    name: str
    crs: str
    network: NetworkConfig
    layers: tuple[LayerConfig, ...]
    walk_speed_kmh: float = 4.8
    area: Path | None = None
    area_filter: Mapping[str, Any] = field(default_factory=FrozenDict)
    blocks: BlocksConfig = field(default_factory=BlocksConfig)
    villages: VillagesConfig = field(default_factory=VillagesConfig)
    coverage: CoverageConfig = field(default_factory=CoverageConfig)
    map: MapConfig = field(default_factory=MapConfig)
    source: Path | None = None
    supply: SupplyConfig = field(default_factory=SupplyConfig)
    #: a time of week ("Sat 14:00"): only the spaces open then are analysed
    at: str | None = None
    #: spaces up to this far outside the study area are walked to (not audited)
    spaces_beyond_m: float = 0.0
    #: the plan's targets (``[plan]``; ``sharemap plan``)
    plan: PlanConfig = field(default_factory=PlanConfig)

    @property
    def walk_speed_m_per_min(self) -> float:
        """Walking speed in metres per minute (4.8 km/h is 80 m/min)."""
        return self.walk_speed_kmh * 1000.0 / 60.0

    @property
    def walk_speed_m_min(self) -> float:
        """Deprecated (it read as "minimum"): :attr:`walk_speed_m_per_min`."""
        warn_renamed("StudyConfig.walk_speed_m_min", "StudyConfig.walk_speed_m_per_min")
        return self.walk_speed_m_per_min

    @property
    def categories(self) -> tuple[str, ...]:
        """The study's categories, in layer order, each once."""
        return tuple(dict.fromkeys(layer.category for layer in self.layers))

    @property
    def supply_categories(self) -> tuple[str, ...]:
        """The categories whose supply per resident is computed (``[supply] categories``)."""
        chosen = self.supply.categories
        return self.categories if chosen is None else tuple(
            c for c in self.categories if c in chosen)

    def with_villages(self, **changes: Any) -> StudyConfig:
        """Return a copy with some adjacency-rule options changed."""
        return replace(self, villages=replace(self.villages, **changes))

    def with_at(self, at: str | None, *, what: str = "`at`") -> StudyConfig:
        """Return a copy analysing only the spaces open at `at` (``"Sat 14:00"``; None: all).

        `what` names the value's origin in the error a bad time raises (e.g. ``--at``).
        """
        from .hours import parse_time_of_week

        return replace(self, at=None if at is None else str(parse_time_of_week(at, what=what)))


# ----------------------------------------------------------------------------- parsing


def _check_keys(table: dict[str, Any], allowed: set[str], where: str, src: Path) -> None:
    unknown = sorted(set(table) - allowed)
    if unknown:
        msg = (
            f"{src}: unknown key(s) {', '.join(repr(k) for k in unknown)} in [{where}]; "
            f"allowed: {', '.join(sorted(allowed))}"
        )
        raise ConfigError(msg)


def _table(doc: dict[str, Any], key: str, src: Path) -> dict[str, Any]:
    value = doc.get(key, {})
    if not isinstance(value, dict):
        msg = f"{src}: [{key}] must be a table"
        raise ConfigError(msg)
    return value


def _number(value: Any, key: str, src: Path, limit: Limit) -> float:
    """Return a finite number in `limit` (TOML has NaN and infinity too), else raise."""
    return check_number(value, f"{src}: `{key}`", limit)


def _path(value: Any, key: str, base: Path, src: Path) -> Path:
    if not isinstance(value, str) or not value:
        msg = f"{src}: `{key}` must be a file path string, got {value!r}"
        raise ConfigError(msg)
    return (base / value).resolve()


def _parse_network(doc: dict[str, Any], base: Path, src: Path) -> NetworkConfig:
    net = _table(doc, "network", src)
    _check_keys(net, {*NETWORK_SOURCES, "max_snap_m", "allow_partial", "snap_exclude"},
                "network", src)
    given = [k for k in NETWORK_SOURCES if k in net]
    if len(given) != 1:
        msg = f"{src}: [network] needs exactly one of {', '.join(NETWORK_SOURCES)}; got {given}"
        raise ConfigError(msg)
    source = given[0]
    value = net[source]
    if source in ("graphml", "osm_xml", "osm_pbf"):
        value = _path(value, f"network.{source}", base, src)
    elif source == "bbox":
        value = _bbox(value, src)
    elif not isinstance(value, str):
        msg = f"{src}: `network.place` must be a place name string"
        raise ConfigError(msg)
    max_snap = _number(net.get("max_snap_m", 250.0), "network.max_snap_m", src,
                       LIMITS["max_snap_m"])
    partial = net.get("allow_partial", False)
    if not isinstance(partial, bool):
        msg = f"{src}: `network.allow_partial` must be true or false, got {partial!r}"
        raise ConfigError(msg)
    exclude = net.get("snap_exclude", list(DEFAULT_SNAP_EXCLUDE))
    if not isinstance(exclude, list) or not all(isinstance(v, str) and v for v in exclude):
        msg = (f"{src}: `network.snap_exclude` must be a list of highway classes and/or "
               f'"bridge", "tunnel" (e.g. ["trunk", "trunk_link", "bridge"]; [] joins the '
               f"nearest edge whatever it is), got {exclude!r}")
        raise ConfigError(msg)
    unknown = [v for v in exclude if v not in SNAP_EXCLUDE_VALUES]
    if unknown:
        msg = (f"{src}: `network.snap_exclude` names {unknown[0]!r}, which is neither an "
               f'OpenStreetMap highway class nor "bridge" or "tunnel" (e.g. "trunk", '
               f'"motorway_link", "bridge"; the default is {list(DEFAULT_SNAP_EXCLUDE)})')
        raise ConfigError(msg)
    return NetworkConfig(source=source, value=value, max_snap_m=max_snap, allow_partial=partial,
                         snap_exclude=tuple(dict.fromkeys(exclude)))


def _bbox(value: Any, src: Path) -> tuple[float, float, float, float]:
    """Parse ``network.bbox``: [west, south, east, north] in degrees, west < east, south < north."""
    msg = f"{src}: `network.bbox` must be [west, south, east, north] in degrees, got {value!r}"
    if not isinstance(value, list) or len(value) != 4:
        raise ConfigError(msg)
    lon, lat = Limit(-180.0, 180.0, low_inclusive=True), Limit(-90.0, 90.0, low_inclusive=True)
    w, s, e, n = (check_number(v, f"{src}: `network.bbox` {k}", lim) for v, k, lim in
                  zip(value, ("west", "south", "east", "north"), (lon, lat, lon, lat),
                      strict=True))
    if not (w < e and s < n):
        msg = f"{msg} (west must be less than east, and south less than north)"
        raise ConfigError(msg)
    return w, s, e, n


_LAYER_KEYS = {"category", "path", "preset", "x", "y", "crs", "id", "name", "encoding", "sheet",
               "layer", "capacity", "merge", "hours"}


def _layer_extras(item: dict[str, Any], where: str, src: Path) -> dict[str, Any]:
    """``capacity`` (a column or a list of columns to add up) and ``merge`` (a bool)."""
    out: dict[str, Any] = {}
    if "capacity" in item:
        cap = item["capacity"]
        cols = [cap] if isinstance(cap, str) else cap
        if not isinstance(cols, list) or not cols or not all(
                isinstance(c, str) and c for c in cols):
            msg = (f"{src}: [{where}] `capacity` must be a column name, or a list of columns "
                   f'to add up (e.g. ["LCD 거치대수", "QR 거치대수"]), got {cap!r}')
            raise ConfigError(msg)
        out["capacity"] = cap if isinstance(cap, str) else tuple(cols)
    if "merge" in item:
        if not isinstance(item["merge"], bool):
            msg = f"{src}: [{where}] `merge` must be true or false, got {item['merge']!r}"
            raise ConfigError(msg)
        out["merge"] = item["merge"]
    return out


def _parse_layer_hours(value: Any, where: str, src: Path
                       ) -> str | tuple[tuple[str, str, str], ...]:
    """``hours``: a column name, or a table of day type = [start column, end column]."""
    from .hours import DAY_TYPES

    if isinstance(value, str) and value:
        return value
    ok = isinstance(value, dict) and value and all(
        isinstance(v, list) and len(v) == 2 and all(isinstance(c, str) and c for c in v)
        for v in value.values())
    if not ok:
        msg = (f"{src}: [{where}] `hours` must be a column name, or a table of day type = "
               '[start column, end column] (HHMM), e.g. { weekday = ["평일 운영 시작시각(HHMM)", '
               '"평일 운영 종료시각(HHMM)"] }')
        raise ConfigError(msg)
    _check_keys(value, set(DAY_TYPES), f"{where}.hours", src)
    if ("weekend" in value and ({"saturday", "sunday"} & set(value))) or (
            "everyday" in value and len(set(value) - {"holiday"}) > 1):
        msg = f"{src}: [{where}] `hours` day types {sorted(value)} name some days twice"
        raise ConfigError(msg)
    return tuple((dtype, cols[0], cols[1]) for dtype, cols in value.items())


def _parse_layers(doc: dict[str, Any], base: Path, src: Path) -> tuple[LayerConfig, ...]:
    raw = doc.get("layers", [])
    if not isinstance(raw, list) or not raw:
        msg = f"{src}: at least one [[layers]] table is required"
        raise ConfigError(msg)
    layers: list[LayerConfig] = []
    for i, item in enumerate(raw, start=1):
        where = f"layers #{i}"
        if not isinstance(item, dict):
            msg = f"{src}: [[layers]] #{i} must be a table"
            raise ConfigError(msg)
        _check_keys(item, _LAYER_KEYS, where, src)
        for key in ("category", "path"):
            if not isinstance(item.get(key), str) or not item[key]:
                msg = f"{src}: [{where}] needs `{key}` (a string)"
                raise ConfigError(msg)
        opts: dict[str, Any] = {k: item[k] for k in _LAYER_KEYS - {"category", "path", "capacity",
                                                                  "merge", "hours"}
                                if k in item}
        for key, val in opts.items():
            if not isinstance(val, str):
                msg = f"{src}: [{where}] `{key}` must be a string, got {val!r}"
                raise ConfigError(msg)
        if "crs" in opts:
            parse_crs(opts["crs"], what=f"{where}.crs")
        if "hours" in item:
            opts["hours"] = _parse_layer_hours(item["hours"], where, src)
        _check_layer_options(opts, where, src)
        layer = LayerConfig(category=item["category"],
                            path=_path(item["path"], "path", base, src), **opts,
                            **_layer_extras(item, where, src))
        ident = (layer.path, layer.category, layer.sheet, layer.layer)
        same = next((j for j, other in enumerate(layers, start=1)
                     if (other.path, other.category, other.sheet, other.layer) == ident), None)
        if same is not None:
            msg = (f"{src}: [{where}] reads the same file, sheet/layer and category as "
                   f"[layers #{same}]: its rows would be counted twice; remove one")
            raise ConfigError(msg)
        layers.append(layer)
    return tuple(layers)


def _check_layer_options(opts: dict[str, str], where: str, src: Path) -> None:
    """Check that a layer's preset and encoding exist (before any file is read)."""
    import codecs

    if "preset" in opts and opts["preset"] not in PRESETS:
        msg = (f"{src}: [{where}] unknown preset {opts['preset']!r}; known presets: "
               f"{', '.join(sorted(PRESETS))}")
        raise ConfigError(msg)
    if "encoding" in opts:
        try:
            codecs.lookup(opts["encoding"])
        except LookupError:
            msg = (f"{src}: [{where}] unknown encoding {opts['encoding']!r} (try 'utf-8' or "
                   "'cp949')")
            raise ConfigError(msg) from None


def _parse_boundary(item: Any, i: int, base: Path, src: Path) -> BoundaryConfig:
    where = f"coverage.boundaries #{i}"
    if not isinstance(item, dict):
        msg = f"{src}: {where} must be a table"
        raise ConfigError(msg)
    _check_keys(item, {"level", "path", "name", "id", "population", "filter"}, where, src)
    for key in ("level", "path", "name"):
        if not isinstance(item.get(key), str) or not item[key]:
            msg = f"{src}: [{where}] needs `{key}` (a string)"
            raise ConfigError(msg)
    if item["level"] == "city":
        msg = f"{src}: [{where}] level name 'city' is reserved for the whole study"
        raise ConfigError(msg)
    opts = _text_opts(item, ("id", "population"), where, src)
    return BoundaryConfig(
        level=item["level"], path=_path(item["path"], "path", base, src), name=item["name"],
        id=opts.get("id"), population=opts.get("population"),
        filter=_filter(item.get("filter", {}), f"{where}.filter", src),
    )


def _filter(value: Any, key: str, src: Path) -> FrozenDict:
    """Parse a filter table: column = a text, number or true/false (compared as text)."""
    if not isinstance(value, dict):
        msg = f"{src}: `{key}` must be a table of column = value"
        raise ConfigError(msg)
    for col, val in value.items():
        ok = isinstance(val, (str, int, bool)) or (isinstance(val, float) and math.isfinite(val))
        if not ok:
            msg = (f"{src}: `{key}.{col}` must be a text or a number to compare the column "
                   f"with, got {val!r}")
            raise ConfigError(msg)
    return FrozenDict(value)


def _text_opts(item: dict[str, Any], keys: tuple[str, ...], where: str, src: Path
               ) -> dict[str, str]:
    out = {}
    for key in keys:
        if key in item:
            if not isinstance(item[key], str) or not item[key]:
                msg = f"{src}: `{where}.{key}` must be a non-empty string, got {item[key]!r}"
                raise ConfigError(msg)
            out[key] = item[key]
    return out


def _parse_population_table(value: Any, base: Path, src: Path) -> PopulationTableConfig:
    where = "coverage.population_table"
    if not isinstance(value, dict):
        msg = (f"{src}: `{where}` must be a table like "
               '{ path = "pop.csv", key = "adm_nm", boundary_key = "adm_nm" }')
        raise ConfigError(msg)
    _check_keys(value, {"path", "key", "boundary_key", "encoding", "sheet"}, where, src)
    opts = _text_opts(value, ("path", "key", "boundary_key", "encoding", "sheet"), where, src)
    for key in ("path", "key"):
        if key not in opts:
            msg = f"{src}: `{where}` needs `{key}`"
            raise ConfigError(msg)
    return PopulationTableConfig(
        path=_path(opts["path"], f"{where}.path", base, src), key=opts["key"],
        boundary_key=opts.get("boundary_key", opts["key"]), encoding=opts.get("encoding"),
        sheet=opts.get("sheet"))


_WEIGHT_SOURCES = {"path": "polygons", "osm": "osm", "raster": "raster"}
#: Per source of ``[coverage] weights``, the keys that go with it.
_WEIGHT_KEYS = {"path": {"layer", "column", "class_column", "classes", "default"},
                "osm": {"classes", "default"}, "raster": {"band"}}


def _parse_weights(value: Any, base: Path, src: Path) -> WeightsConfig:
    where = "coverage.weights"
    if isinstance(value, str):
        value = {"path": value}
    given = [k for k in _WEIGHT_SOURCES if isinstance(value, dict) and k in value]
    if not isinstance(value, dict) or len(given) != 1:
        msg = (f"{src}: `{where}` needs exactly one of `path` (buildings, residential or "
               "land-use polygons), `osm` (an OSM XML/PBF file) or `raster` (a population "
               f'GeoTIFF), e.g. {{ path = "landuse.gpkg", class_column = "class" }}; got '
               f"{sorted(value) if isinstance(value, dict) else value!r}")
        raise ConfigError(msg)
    key = given[0]
    _check_keys(value, {*_WEIGHT_SOURCES, *_WEIGHT_KEYS["path"], *_WEIGHT_KEYS["raster"]},
                where, src)
    wrong = sorted(set(value) - {key, *_WEIGHT_KEYS[key]})
    if wrong:
        msg = (f"{src}: `{where}.{wrong[0]}` does not go with `{key}`; with `{key}` give "
               f"{', '.join(f'`{k}`' for k in sorted(_WEIGHT_KEYS[key]))}")
        raise ConfigError(msg)
    opts = _text_opts(value, (key, "layer", "column", "class_column"), where, src)
    if "column" in opts and "class_column" in opts:
        msg = (f"{src}: `{where}` takes `column` (a multiplier per polygon, e.g. floors) or "
               "`class_column` (a land-use class per polygon), not both")
        raise ConfigError(msg)
    source = _WEIGHT_SOURCES[key]
    if source == "polygons" and "class_column" in opts:
        source = "landuse"
    elif source == "polygons" and ({"classes", "default"} & set(value)):
        msg = (f"{src}: `{where}.classes` and `default` weigh land-use classes: give "
               "`class_column`, the column that holds each polygon's class")
        raise ConfigError(msg)
    return WeightsConfig(
        path=_path(opts[key], f"{where}.{key}", base, src), layer=opts.get("layer"),
        column=opts.get("column"), source=source, class_column=opts.get("class_column"),
        classes=_weight_classes(value.get("classes", {}), f"{where}.classes", src),
        default=_number(value.get("default", 1.0), f"{where}.default", src, LIMITS["weight"]),
        band=check_whole(value.get("band", 1), f"{src}: `{where}.band`", LIMITS["band"]))


def _weight_classes(value: Any, where: str, src: Path) -> dict[str, float]:
    """``classes``: a table of class name (or OSM ``key=value``) to a weight >= 0."""
    if not isinstance(value, dict):
        msg = (f'{src}: `{where}` must be a table of class = weight, e.g. {{ park = 0, '
               f'residential = 1, "leisure=park" = 0 }}; got {value!r}')
        raise ConfigError(msg)
    return {str(k): _number(v, f"{where}.{k}", src, LIMITS["weight"]) for k, v in value.items()}


def _parse_groups(value: Any, src: Path) -> tuple[GroupConfig, ...]:
    if not isinstance(value, list):
        msg = (f"{src}: `coverage.groups` must be a list of tables like "
               '{ column = "pop_65plus", label = "65+", walk_speed_kmh = 3.6 } (optional: '
               'profile = "walk", "wheelchair" or "stroller")')
        raise ConfigError(msg)
    groups = []
    for i, item in enumerate(value, start=1):
        where = f"coverage.groups #{i}"
        if not isinstance(item, dict):
            msg = f"{src}: {where} must be a table"
            raise ConfigError(msg)
        _check_keys(item, {"column", "label", "walk_speed_kmh", "profile"}, where, src)
        opts = _text_opts(item, ("column", "label", "profile"), where, src)
        if "column" not in opts:
            msg = f"{src}: [{where}] needs `column` (the group's count column)"
            raise ConfigError(msg)
        profile = get_profile(opts.get("profile", "walk"), where=f"{src}: `{where}.profile`")
        speed = _number(item.get("walk_speed_kmh", profile.walk_speed_kmh),
                        f"{where}.walk_speed_kmh", src, LIMITS["walk_speed_kmh"])
        group = GroupConfig(column=opts["column"], label=opts.get("label", opts["column"]),
                            walk_speed_kmh=speed, profile=profile.name)
        if not group.slug:
            msg = f"{src}: [{where}] `label` {group.label!r} needs a letter or digit"
            raise ConfigError(msg)
        groups.append(group)
    slugs = [g.slug for g in groups]
    if len(set(slugs)) != len(slugs):
        msg = f"{src}: `coverage.groups` labels must differ as column names, got {slugs}"
        raise ConfigError(msg)
    return tuple(groups)


def _parse_gap_blocks(value: Any, src: Path) -> int:
    return check_whole(value, f"{src}: `coverage.gap_blocks`", LIMITS["gap_blocks"])


def _parse_coverage(doc: dict[str, Any], base: Path, src: Path) -> CoverageConfig:
    cov = _table(doc, "coverage", src)
    _check_keys(cov, {"thresholds_minutes", "boundaries", "population_table", "weights",
                      "groups", "gap_blocks"}, "coverage", src)
    thresholds = cov.get("thresholds_minutes", [5, 10, 15])
    if not isinstance(thresholds, list) or not thresholds:
        msg = f"{src}: `coverage.thresholds_minutes` must be a non-empty list of minutes"
        raise ConfigError(msg)
    ths = tuple(sorted({_number(t, "coverage.thresholds_minutes", src,
                                           LIMITS["minutes"]) for t in thresholds}))
    raw = cov.get("boundaries", [])
    if not isinstance(raw, list):
        msg = f"{src}: `coverage.boundaries` must be a list of tables"
        raise ConfigError(msg)
    bounds = tuple(_parse_boundary(item, i, base, src) for i, item in enumerate(raw, start=1))
    levels = [b.level for b in bounds]
    if len(set(levels)) != len(levels):
        msg = f"{src}: boundary levels must be distinct, got {levels}"
        raise ConfigError(msg)
    if sum(b.population is not None for b in bounds) > 1:
        msg = f"{src}: give `population` on one boundary level only (the finest)"
        raise ConfigError(msg)
    extra = [k for k in ("population_table", "weights", "groups") if k in cov]
    if extra and not any(b.population is not None for b in bounds):
        msg = (f"{src}: `coverage.{extra[0]}` needs a boundary level with `population` "
               "(the column of residents)")
        raise ConfigError(msg)
    return CoverageConfig(
        thresholds_minutes=ths, boundaries=bounds,
        population_table=(_parse_population_table(cov["population_table"], base, src)
                          if "population_table" in cov else None),
        weights=_parse_weights(cov["weights"], base, src) if "weights" in cov else None,
        groups=_parse_groups(cov.get("groups", []), src),
        gap_blocks=_parse_gap_blocks(cov.get("gap_blocks", 20), src),
    )


def _villages_count(vil: dict[str, Any], src: Path) -> tuple[str, float | None]:
    """``count`` ("spaces" or "capacity") and ``min_capacity`` (needed with capacity)."""
    count = vil.get("count", "spaces")
    if count not in ("spaces", "capacity"):
        msg = f'{src}: `villages.count` must be "spaces" or "capacity", got {count!r}'
        raise ConfigError(msg)
    if count == "spaces":
        if "min_capacity" in vil:
            msg = (f'{src}: `villages.min_capacity` applies with count = "capacity" only; '
                   'set count = "capacity" or remove it')
            raise ConfigError(msg)
        return count, None
    if "min_capacity" not in vil:
        msg = (f'{src}: `villages.count = "capacity"` needs `min_capacity`, the capacity the '
               "adjacent spaces must add up to (e.g. min_capacity = 30)")
        raise ConfigError(msg)
    if vil.get("distinct_categories", False):
        msg = (f'{src}: `villages.distinct_categories` counts categories; it does not combine '
               'with count = "capacity"')
        raise ConfigError(msg)
    return count, _number(vil["min_capacity"], "villages.min_capacity", src,
                          LIMITS["capacity"])


def _parse_villages(doc: dict[str, Any], src: Path) -> VillagesConfig:
    vil = _table(doc, "villages", src)
    _check_keys(vil, {"adjacent_minutes", "min_spaces", "distinct_categories", "count",
                      "min_capacity"}, "villages", src)
    min_spaces = check_whole(vil.get("min_spaces", 3), f"{src}: `villages.min_spaces`",
                             LIMITS["min_spaces"])
    distinct = vil.get("distinct_categories", False)
    if not isinstance(distinct, bool):
        msg = f"{src}: `villages.distinct_categories` must be true or false"
        raise ConfigError(msg)
    count, min_capacity = _villages_count(vil, src)
    return VillagesConfig(
        adjacent_minutes=_number(vil.get("adjacent_minutes", 5), "villages.adjacent_minutes", src,
                                 LIMITS["minutes"]),
        min_spaces=min_spaces, distinct_categories=distinct, count=count,
        min_capacity=min_capacity,
    )


def _check_reachable_rule(villages: VillagesConfig, categories: Sequence[str],
                          src: Path) -> None:
    """Refuse a candidate rule no block can meet: more distinct categories than exist."""
    if villages.distinct_categories and villages.min_spaces > len(categories):
        msg = (f"{src}: `villages.min_spaces` = {villages.min_spaces} with "
               f"distinct_categories = true asks for more categories than the study's "
               f"{len(categories)} categories ({', '.join(categories)}), so no block could be "
               f"a candidate: lower min_spaces to at most {len(categories)}, add layers of "
               "other categories, or count spaces (distinct_categories = false)")
        raise ConfigError(msg)


def _parse_bands(value: Any, src: Path) -> tuple[tuple[float, float], ...]:
    example = "[[5, 1.0], [10, 0.68], [15, 0.22]]"
    if not isinstance(value, list) or not value or not all(
            isinstance(b, list) and len(b) == 2 for b in value):
        msg = f"{src}: `supply.bands` must be a list of [upper_minute, weight] pairs like {example}"
        raise ConfigError(msg)
    bands = tuple((_number(u, "supply.bands upper minute", src, LIMITS["minutes"]),
                   _number(w, "supply.bands weight", src, LIMITS["weight"])) for u, w in value)
    uppers = [u for u, _ in bands]
    if any(b <= a for a, b in itertools.pairwise(uppers)):
        msg = f"{src}: `supply.bands` upper minutes must increase, got {uppers}"
        raise ConfigError(msg)
    if any(w < 0 for _, w in bands) or not any(w > 0 for _, w in bands):
        msg = f"{src}: `supply.bands` weights must be >= 0 and not all 0, got {value!r}"
        raise ConfigError(msg)
    return bands


def _parse_supply(doc: dict[str, Any], src: Path, categories: tuple[str, ...],
                  has_population: bool) -> SupplyConfig:
    """``[supply]``: minutes, bands (default: the catchment in thirds) and categories."""
    if "supply" not in doc:
        return SupplyConfig()
    sup = _table(doc, "supply", src)
    _check_keys(sup, {"minutes", "bands", "categories"}, "supply", src)
    if not has_population:
        msg = (f"{src}: [supply] needs residents: give `population` on a level of "
               "[coverage] boundaries")
        raise ConfigError(msg)
    minutes = (_number(sup["minutes"], "supply.minutes", src, LIMITS["minutes"])
               if "minutes" in sup else None)
    bands = _parse_bands(sup["bands"], src) if "bands" in sup else None
    if bands is None:
        bands = default_bands(minutes if minutes is not None else 15.0)
    if minutes is None:
        minutes = bands[-1][0]
    if bands[-1][0] != minutes:
        msg = (f"{src}: `supply.bands` end at {bands[-1][0]:g} min but `supply.minutes` is "
               f"{minutes:g}: the last band's upper minute is the catchment; make them equal")
        raise ConfigError(msg)
    chosen = sup.get("categories")
    if chosen is not None:
        if not isinstance(chosen, list) or not chosen or not all(
                isinstance(c, str) for c in chosen):
            msg = f"{src}: `supply.categories` must be a list of category names"
            raise ConfigError(msg)
        unknown = [c for c in chosen if c not in categories]
        if unknown:
            msg = (f"{src}: `supply.categories` names {', '.join(map(repr, unknown))}, not a "
                   f"category of the study's layers ({', '.join(categories)})")
            raise ConfigError(msg)
    return SupplyConfig(minutes=minutes, bands=bands,
                        categories=None if chosen is None else tuple(chosen))


def _parse_blocks(doc: dict[str, Any], base: Path, src: Path) -> BlocksConfig:
    blk = _table(doc, "blocks", src)
    _check_keys(blk, {"path", "min_area_m2", "layer", "barriers", "sidewalks", "multi_origin",
                      "multi_origin_min_area_m2", "origin_spacing_m"}, "blocks", src)
    path = _path(blk["path"], "blocks.path", base, src) if "path" in blk else None
    min_area = _number(blk.get("min_area_m2", 1000), "blocks.min_area_m2", src,
                       LIMITS["min_area_m2"])
    raw = blk.get("barriers", [])
    if isinstance(raw, str):
        raw = [raw]
    if not isinstance(raw, list):
        msg = f"{src}: `blocks.barriers` must be a list of polygon/line files, got {raw!r}"
        raise ConfigError(msg)
    barriers = tuple(_path(p, "blocks.barriers", base, src) for p in raw)
    sidewalks = blk.get("sidewalks", True)
    if not isinstance(sidewalks, bool):
        msg = f"{src}: `blocks.sidewalks` must be true or false, got {sidewalks!r}"
        raise ConfigError(msg)
    layer = _text_opts(blk, ("layer",), "blocks", src).get("layer")
    multi = blk.get("multi_origin", True)
    if not isinstance(multi, bool):
        msg = f"{src}: `blocks.multi_origin` must be true or false, got {multi!r}"
        raise ConfigError(msg)
    min_multi = _number(blk.get("multi_origin_min_area_m2", 40_000),
                        "blocks.multi_origin_min_area_m2", src,
                        LIMITS["multi_origin_min_area_m2"])
    spacing = _number(blk.get("origin_spacing_m", 100), "blocks.origin_spacing_m", src,
                      LIMITS["origin_spacing_m"])
    return BlocksConfig(path=path, min_area_m2=min_area, layer=layer,
                        barriers=barriers, sidewalks=sidewalks, multi_origin=multi,
                        multi_origin_min_area_m2=min_multi, origin_spacing_m=spacing)


def _parse_map(doc: dict[str, Any], src: Path, categories: tuple[str, ...],
               supplied: tuple[str, ...] = (), groups: tuple[GroupConfig, ...] = ()
               ) -> MapConfig:
    """``[map]``, checked against the study's categories (before any work is done).

    `supplied`: the categories whose supply per resident the study computes (none
    without residents), which ``color_by`` may name as ``supply_per_1000_<category>``;
    `groups`: the population groups, whose walks it may name as
    ``walk_min_<category>_<group slug>``.
    """
    mp = _table(doc, "map", src)
    _check_keys(mp, {"color_by", "isochrone_categories", "isochrone_minutes", "tiles",
                     "split_by"}, "map", src)
    cats = mp.get("isochrone_categories", [])
    if not isinstance(cats, list) or not all(isinstance(c, str) for c in cats):
        msg = f"{src}: `map.isochrone_categories` must be a list of category names"
        raise ConfigError(msg)
    unknown = [c for c in cats if c not in categories]
    if unknown:
        msg = (f"{src}: `map.isochrone_categories` names {', '.join(map(repr, unknown))}, "
               f"not a category of the study's [[layers]] ({', '.join(map(repr, categories))})")
        raise ConfigError(msg)
    mins = mp.get("isochrone_minutes", [5, 10, 15])
    if not isinstance(mins, list) or not mins:
        msg = f"{src}: `map.isochrone_minutes` must be a non-empty list of minutes"
        raise ConfigError(msg)
    minutes = sorted({_number(m, "map.isochrone_minutes", src, LIMITS["minutes"])
                      for m in mins})
    return MapConfig(
        color_by=_color_by(mp.get("color_by", "adjacent_spaces"), categories, src, supplied,
                           groups),
        isochrone_categories=tuple(dict.fromkeys(cats)),
        isochrone_minutes=tuple(minutes),
        tiles=_tiles(mp.get("tiles", "OpenStreetMap"), src),
        split_by=_split_by(mp, doc, src),
    )


def _color_by(value: Any, categories: tuple[str, ...], src: Path,
              supplied: tuple[str, ...] = (), groups: tuple[GroupConfig, ...] = ()) -> str:
    """``map.color_by``: a block measure of the study.

    ``adjacent_spaces``, ``walk_min_<category>`` of a study category,
    ``walk_min_<category>_<group slug>`` (a population group's walk, at its speed on
    its streets), or ``supply_per_1000_<category>`` of a category whose supply is
    computed.
    """
    allowed = ["adjacent_spaces", *(f"walk_min_{c}" for c in categories),
               *(f"walk_min_{c}_{g.slug}" for g in groups for c in categories),
               *(f"supply_per_1000_{c}" for c in supplied)]
    if not isinstance(value, str) or value not in allowed:
        why = (" (supply per resident needs `population` on a level of [coverage] boundaries)"
               if isinstance(value, str) and value.startswith("supply_per_1000_")
               and not supplied else "")
        msg = (f"{src}: `map.color_by` = {value!r} is not a block measure{why}; use one of: "
               + ", ".join(allowed))
        raise ConfigError(msg)
    return value


def _tiles(value: Any, src: Path) -> str | None:
    """``map.tiles``: "none", or a tile provider name that folium knows (via xyzservices)."""
    hint = ('a provider name such as "OpenStreetMap" or "CartoDB positron", or "none" for no '
            "base map")
    if not isinstance(value, str) or not value.strip():
        msg = f"{src}: `map.tiles` must be {hint}, got {value!r}"
        raise ConfigError(msg)
    if value.lower() == "none":
        return None
    if value.lower() == "openstreetmap":
        return value
    import xyzservices  # folium's own provider list (a folium dependency; light to import)

    try:
        xyzservices.providers.query_name(value)
    except ValueError:
        what = "a URL needs an attribution, which sharemap cannot pass; use" if "/" in value \
            else "not a tile provider; use"
        msg = f"{src}: `map.tiles` = {value!r}: {what} {hint}"
        raise ConfigError(msg) from None
    return value


def _split_by(mp: dict[str, Any], doc: dict[str, Any], src: Path) -> str | None:
    """``map.split_by``: None, or the name of a configured boundary level."""
    if "split_by" not in mp:
        return None
    value = mp["split_by"]
    bounds = doc.get("coverage", {}).get("boundaries", [])
    levels = [b.get("level") for b in bounds if isinstance(b, dict)] if isinstance(
        bounds, list) else []
    if not isinstance(value, str) or value not in levels:
        msg = (f"{src}: `map.split_by` = {value!r} must name a boundary level of "
               f"[coverage] boundaries ({', '.join(map(repr, levels)) or 'none configured'})")
        raise ConfigError(msg)
    return value


def parse_config(doc: dict[str, Any], *, base: Path, source: Path) -> StudyConfig:
    """Build a :class:`StudyConfig` from a parsed TOML document.

    Parameters
    ----------
    doc
        The TOML document as a dict.
    base
        Folder that relative paths are relative to.
    source
        The file the document came from (named in error messages).

    Returns
    -------
    config
        The validated study configuration.

    Raises
    ------
    ConfigError
        On an unknown key, a missing key or a value of the wrong kind.
    """
    _check_keys(doc, {"study", "network", "layers", "blocks", "villages", "coverage", "map",
                      "supply", "plan"}, "top level", source)
    study = _table(doc, "study", source)
    _check_keys(study, {"name", "crs", "walk_speed_kmh", "area", "area_filter", "at",
                        "spaces_beyond_m"}, "study", source)
    crs = study.get("crs", "EPSG:5186")
    require_projected(parse_crs(crs, what="study.crs"), "study.crs")
    name = study.get("name", source.stem)
    if not isinstance(name, str):
        msg = f"{source}: `study.name` must be a text, got {name!r}"
        raise ConfigError(msg)
    layers = _parse_layers(doc, base, source)
    coverage = _parse_coverage(doc, base, source)
    categories = tuple(dict.fromkeys(layer.category for layer in layers))
    villages = _parse_villages(doc, source)
    _check_reachable_rule(villages, categories, source)
    has_population = coverage.population_level is not None
    supply = _parse_supply(doc, source, categories, has_population)
    supplied = (supply.categories or categories) if has_population else ()
    return StudyConfig(
        name=name,
        crs=str(crs),
        walk_speed_kmh=_number(study.get("walk_speed_kmh", 4.8), "study.walk_speed_kmh", source,
                               LIMITS["walk_speed_kmh"]),
        area=_path(study["area"], "study.area", base, source) if "area" in study else None,
        area_filter=_filter(study.get("area_filter", {}), "study.area_filter", source),
        network=_parse_network(doc, base, source),
        layers=layers,
        blocks=_parse_blocks(doc, base, source),
        villages=villages,
        coverage=coverage,
        map=_parse_map(doc, source, categories, supplied, coverage.groups),
        source=source,
        supply=supply,
        at=_parse_at(study, source),
        spaces_beyond_m=_number(study.get("spaces_beyond_m", 0.0), "study.spaces_beyond_m",
                                source, _BEYOND_M),
        plan=_parse_plan(doc, source, categories, coverage.population_level is not None),
    )


_PLAN_KEYS = {"villages": {"category"},
              "spaces": {"category", "minutes"},
              "capacity": {"category", "minutes", "site_capacity"},
              "coverage": {"category", "minutes"}}
#: A plan's year, and how many sites one target may add (each is a suggestion's site).
_PLAN_YEAR = Limit(1900, 2200, low_inclusive=True)
_PLAN_MAX_SITES = Limit(1, 10_000, low_inclusive=True)
_PLAN_GRID_M = Limit(10.0, 5_000.0, low_inclusive=True)
_SHARE = Limit(0.0, 1.0, low_inclusive=True)
#: ``[study] spaces_beyond_m``: 0 (the SPEC: spaces outside the area are rejected) to 5 km
_BEYOND_M = Limit(0.0, 5_000.0, low_inclusive=True, unit="m")
_COUNT = Limit(0.0, 1e9, low_inclusive=True)


def _parse_plan(doc: dict[str, Any], src: Path, categories: tuple[str, ...],
                has_population: bool) -> PlanConfig:
    """``[plan]``: `year`, `targets` (``{ metric, value, ... }`` tables), `max_sites`, `grid_m`."""
    if "plan" not in doc:
        return PlanConfig()
    plan = _table(doc, "plan", src)
    _check_keys(plan, {"year", "targets", "max_sites", "grid_m"}, "plan", src)
    year = (check_whole(plan["year"], f"{src}: `plan.year`", _PLAN_YEAR)
            if "year" in plan else None)
    max_sites = check_whole(plan.get("max_sites", 100), f"{src}: `plan.max_sites`",
                            _PLAN_MAX_SITES)
    raw = plan.get("targets", [])
    if not isinstance(raw, list) or not all(isinstance(t, dict) for t in raw):
        msg = (f"{src}: `plan.targets` must be a list of tables like "
               '{ metric = "spaces", category = "tools", value = 530 }')
        raise ConfigError(msg)
    targets = tuple(_parse_target(t, i, src, categories, has_population)
                    for i, t in enumerate(raw, start=1))
    grid_m = check_number(plan.get("grid_m", 200.0), f"{src}: `plan.grid_m` (metres)",
                          _PLAN_GRID_M)
    return PlanConfig(year=year, targets=targets, max_sites=max_sites, grid_m=grid_m)


def _parse_target(item: dict[str, Any], i: int, src: Path, categories: tuple[str, ...],
                  has_population: bool) -> PlanTarget:
    where = f"plan.targets[{i}]"
    metric = item.get("metric")
    if metric not in PLAN_METRICS:
        msg = (f"{src}: `{where}.metric` must be one of {', '.join(PLAN_METRICS)}, "
               f"got {metric!r}")
        raise ConfigError(msg)
    _check_keys(item, {"metric", "value", "label", *_PLAN_KEYS[metric]}, where, src)
    if "value" not in item:
        msg = f"{src}: `{where}` needs `value`, the {metric} aimed at"
        raise ConfigError(msg)
    if metric == "coverage":
        value = check_number(item["value"], f"{src}: `{where}.value` (a share of residents)",
                             _SHARE)
    elif metric == "capacity":
        value = check_number(item["value"], f"{src}: `{where}.value`", _COUNT)
    else:
        value = float(check_whole(item["value"], f"{src}: `{where}.value`", _COUNT))
    category = _target_category(item, metric, where, src, categories)
    if metric != "villages" and not has_population:
        msg = (f"{src}: `{where}` ({metric}) chooses sites by the residents they reach: give "
               "`population` on a level of [coverage] boundaries")
        raise ConfigError(msg)
    label = item.get("label", "")
    if not isinstance(label, str):
        msg = f"{src}: `{where}.label` must be a text, got {label!r}"
        raise ConfigError(msg)
    return PlanTarget(
        metric=metric, value=value, category=category, label=label,
        minutes=_number(item.get("minutes", 15), f"{where}.minutes", src, LIMITS["minutes"]),
        site_capacity=(_number(item["site_capacity"], f"{where}.site_capacity", src,
                               LIMITS["capacity"]) if "site_capacity" in item else None))


def _target_category(item: dict[str, Any], metric: str, where: str, src: Path,
                     categories: tuple[str, ...]) -> str | None:
    category = item.get("category")
    if category is None:
        if metric == "villages":
            return None
        what = ('a category or "all"' if metric == "coverage" else "a category")
        msg = f"{src}: `{where}` ({metric}) needs `category`, {what} of the study"
        raise ConfigError(msg)
    allowed = (*categories, "all") if metric == "coverage" else categories
    if category not in allowed:
        msg = (f"{src}: `{where}.category` is {category!r}, not a category of the study's "
               f"layers ({', '.join(allowed)})")
        raise ConfigError(msg)
    return str(category)


def _parse_at(study: dict[str, Any], src: Path) -> str | None:
    """``study.at``: a time of week, kept as its canonical text (``"Sat 14:00"``)."""
    if "at" not in study:
        return None
    from .hours import parse_time_of_week

    if not isinstance(study["at"], str):
        msg = f'{src}: `study.at` must be a time of week like "Sat 14:00", got {study["at"]!r}'
        raise ConfigError(msg)
    return str(parse_time_of_week(study["at"], what=f"{src}: `study.at`"))


def read_config(path: str | Path) -> StudyConfig:
    """Read a study configuration TOML file.

    Parameters
    ----------
    path
        The TOML file. Relative paths inside it are relative to its folder.

    Returns
    -------
    config
        The validated study configuration.

    Raises
    ------
    ConfigError
        If the file is missing, is not valid TOML, or has an unknown or invalid key.

    Examples
    --------
    >>> from sharemap.datasets import get_path
    >>> cfg = read_config(get_path("demo"))
    >>> cfg.villages.min_spaces
    3
    """
    src = Path(path)
    if not src.is_file():
        msg = f"{src}: configuration file not found"
        raise ConfigError(msg)
    try:
        doc = tomllib.loads(src.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        msg = f"{src}: not a valid TOML file ({exc})"
        raise ConfigError(msg) from None
    return parse_config(doc, base=src.resolve().parent, source=src)


def input_files(config: StudyConfig) -> list[tuple[str, Path]]:
    """Every file a study reads, as (key in the study file, path)."""
    files: list[tuple[str, Path]] = []
    if config.area is not None:
        files.append(("study.area", config.area))
    if isinstance(config.network.value, Path):
        files.append((f"network.{config.network.source}", config.network.value))
    files += [(f"layers #{i}.path", lay.path) for i, lay in enumerate(config.layers, start=1)]
    if config.blocks.path is not None:
        files.append(("blocks.path", config.blocks.path))
    files += [("blocks.barriers", p) for p in config.blocks.barriers]
    cov = config.coverage
    files += [(f"coverage.boundaries #{i}.path", b.path)
              for i, b in enumerate(cov.boundaries, start=1)]
    if cov.population_table is not None:
        files.append(("coverage.population_table.path", cov.population_table.path))
    if cov.weights is not None:
        key = {"osm": "osm", "raster": "raster"}.get(cov.weights.source, "path")
        files.append((f"coverage.weights.{key}", cov.weights.path))
    return files


def check_input_files(config: StudyConfig, *, network: bool = True) -> None:
    """Check that every file the study reads exists (a run does this before any work).

    Parameters
    ----------
    config
        The study.
    network
        Check the network file too (not when a prepared network is given).

    Raises
    ------
    ConfigError
        Naming the study file, the key and the missing path.
    """
    src = config.source if config.source is not None else Path("study")
    for key, path in input_files(config):
        if not network and key.startswith("network."):
            continue
        if not path.exists():
            msg = f"{src}: `{key}` file not found: {path}"
            raise ConfigError(msg)
