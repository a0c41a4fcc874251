"""Boundaries, population and the coverage audit by city, gu and dong.

Population: a boundary unit's residents are spread over the blocks whose origins
it contains, in proportion to block area, or, with a weights layer (buildings,
residential land), to that layer's polygon area inside each block (times an
optional column such as floors); a unit with no weight in any block falls back to
area. A unit partly outside the study area keeps the share of its area inside; a
unit wholly inside keeps its whole population. Residents of a unit holding no
block origin are counted in ``summary.json`` as ``population_unallocated``.
Population and group columns come from the boundary file or from a table joined
by code or name (every unit must match one row; the error lists both sides).

Groups (e.g. residents aged 65+) are spread like the total and audited at their
own walking speed: distances do not change, so their walk minutes are
``walk_min * walk_speed_kmh / group walk_speed_kmh`` (``walk_min * 4.8 / 3.6``).
"""

from __future__ import annotations

import itertools
import logging
import unicodedata
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import geopandas as gpd
import numpy as np
import numpy.typing as npt
import pandas as pd
import shapely

from ._boundaries import (
    BOUNDARY_REJECT_COLUMNS,
    boundary_rejects_message,
    covered_units,
    repair_units,
)
from ._compat import warn_renamed
from ._crs import to_analysis_crs
from ._errors import InputDataError
from ._readers import keep_polygons, read_table, read_vector
from ._validate import plain_repr
from .access import JoinedPoints, PreparedPoints, walk_col
from .gaps import (
    GAP_COLUMNS,
    StudyOrigins,
    audit_gaps,
    compute_gaps,
    finest_level,
    nearest_spaces,
    splice_gaps,
    study_origins,
)
from .profiles import at_group_speed, get_profile, group_minutes

if TYPE_CHECKING:
    from .config import GroupConfig, PopulationTableConfig, StudyConfig
    from .network import WalkNetwork

__all__ = [
    "ALL_RESIDENTS",
    "COVERAGE_COLUMNS",
    "GAP_COLUMNS",
    "GROUP_COVERAGE_COLUMNS",
    "CoverageAudit",
    "allocate_population",
    "assign_units",
    "block_weights",
    "compute_audit",
    "compute_coverage",
    "compute_gaps",
    "compute_group_coverage",
    "compute_proximity",
    "finest_level",
    "inside_share",
    "nearest_spaces",
    "read_area",
    "read_boundaries",
    "read_boundary_units",
]

logger = logging.getLogger(__name__)

COVERAGE_COLUMNS = (
    "level", "area", "area_id", "category", "threshold_min", "blocks", "blocks_covered",
    "share_blocks", "population", "population_covered", "share_population",
)
GROUP_COVERAGE_COLUMNS = ("group", "walk_speed_kmh", "profile", *COVERAGE_COLUMNS)
#: The ``group`` of the rows for the whole population in ``coverage_groups.csv``.
ALL_RESIDENTS = "all residents"
_MAX_LISTED = 12


# ----------------------------------------------------------------------------- boundaries


def _norm_key(value: Any) -> str | None:
    """Return a join key as text: trimmed, NFC, spaces collapsed (1123051000.0 -> '1123051000')."""
    if value is None or (isinstance(value, float) and np.isnan(value)) or value is pd.NA:
        return None
    if isinstance(value, (float, np.floating)) and float(value).is_integer():
        value = int(value)
    text = " ".join(unicodedata.normalize("NFC", str(value)).split())
    return text or None


def _listing(items: Sequence[str]) -> str:
    more = len(items) - _MAX_LISTED
    return ", ".join(items[:_MAX_LISTED]) + (f" ... and {more} more" if more > 0 else "")


def _counts(values: pd.Series, file: str, column: str, rows: npt.NDArray[np.int64],
            what: str) -> npt.NDArray[np.float64]:
    """Parse a count column ("12,345" allowed); name the first bad row."""
    text = values.astype("object").map(lambda v: v.replace(",", "").strip()
                                       if isinstance(v, str) else v)
    num = pd.to_numeric(text, errors="coerce")
    bad = (num.isna() | (num < 0)).to_numpy()
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        msg = (f"{file}: {what} {int(rows[i])}: column `{column}` value "
               f"{plain_repr(values.iloc[i])} is not a count of residents (a number >= 0)")
        raise InputDataError(msg)
    return num.to_numpy(np.float64)


def _table_values(gdf: gpd.GeoDataFrame, keep: npt.NDArray[np.bool_],
                  table: PopulationTableConfig, columns: Sequence[str], bfile: str,
                  name: str) -> pd.DataFrame:
    """Join the population table to the kept units; every kept unit must match one row."""
    raw = read_table(table.path, encoding=table.encoding, sheet=table.sheet)
    tfile, frame = table.path.name, raw.frame
    if raw.unreadable:
        row, why = next(iter(sorted(raw.unreadable.items())))
        msg = f"{tfile}: data record {row + 1} {why}"
        raise InputDataError(msg)
    for col, key in ((table.key, "key"), *((c, "a population column") for c in columns)):
        if col not in frame:
            msg = f"{tfile}: no column {col!r} (given as {key}); columns are {list(frame.columns)}"
            raise InputDataError(msg)
    if table.boundary_key not in gdf:
        msg = (f"{bfile}: no column {table.boundary_key!r} (given as population_table "
               f"`boundary_key`); columns are {[c for c in gdf.columns if c != 'geometry']}")
        raise InputDataError(msg)
    tkeys = frame[table.key].map(_norm_key)
    bkeys_all = gdf[table.boundary_key].map(_norm_key)
    bkeys = bkeys_all[keep]
    rep = bkeys[bkeys.duplicated() & bkeys.notna()]
    if len(rep):
        msg = (f"{bfile}: `{table.boundary_key}` value {rep.iloc[0]!r} names more than one unit, "
               "so the population table cannot be joined on it; join on a column that tells "
               "the units apart (a code, or a full name such as adm_nm)")
        raise InputDataError(msg)
    known = set(tkeys.dropna())
    missing = [f"{n!r} ({k})" if k != n else repr(n)
               for n, k in zip(gdf[name][keep].astype(str), bkeys, strict=True)
               if k is None or k not in known]
    units_all = set(bkeys_all.dropna())
    extra = [f"{k!r} (row {i + 1})" for i, k in enumerate(tkeys) if k is not None
             and k not in units_all]
    if missing:
        msg = (f"{tfile}: {len(missing)} of {len(bkeys)} units of {bfile} have no row in the "
               f"population table (table column `{table.key}` = boundary column "
               f"`{table.boundary_key}`): {_listing(missing)}. Table rows that match no unit: "
               f"{_listing(extra) if extra else 'none'}. Make the names or codes equal, or "
               "join on a code column")
        raise InputDataError(msg)
    if extra:
        logger.info("%s: %d table rows match no unit of %s (ignored): %s", tfile, len(extra),
                    bfile, _listing(extra))
    need = set(bkeys)
    dup = tkeys[tkeys.duplicated(keep=False) & tkeys.isin(need)]
    if len(dup):
        rows = [str(i + 1) for i in dup.index[dup == dup.iloc[0]]]
        msg = (f"{tfile}: key {dup.iloc[0]!r} of column `{table.key}` is on data records "
               f"{', '.join(rows)}; each unit needs exactly one row")
        raise InputDataError(msg)
    pos = pd.Series(np.arange(len(frame)), index=tkeys.to_numpy())
    rows = pos[~pos.index.duplicated()].reindex(bkeys.to_numpy()).to_numpy(np.int64)
    out = pd.DataFrame(index=range(len(rows)))
    for col in columns:
        out[col] = _counts(frame[col].iloc[rows].reset_index(drop=True), tfile, col,
                           rows + 1, "data record")
    return out


def read_boundaries(path: str | Path, *, crs: Any, name: str, id: str | None = None,
                    population: str | None = None, filter: Mapping[str, Any] | None = None,
                    columns: Sequence[str] = (), table: PopulationTableConfig | None = None
                    ) -> gpd.GeoDataFrame:
    """Read a boundary layer (gu, dong, ...) with its name, id and population columns.

    Parameters
    ----------
    path
        Any polygon file GDAL reads.
    crs
        The analysis CRS.
    name, id, population
        Column names: the unit's name, its id (to tell apart repeated names, such as
        Seoul's two 신사동) and its population.
    filter
        Keep only features whose columns equal these values.
    columns
        More count columns to carry (population groups such as ``pop_65plus``).
    table
        A population table: `population` and `columns` are read from it, joined on
        ``table.key`` = ``table.boundary_key`` (codes or names, compared as trimmed
        text) instead of from the boundary file.

    Returns
    -------
    units
        Columns ``name``, ``id`` (the id column, else the name), ``population``
        (float, NaN when not given), one float column per entry of `columns` (under
        its own name), and geometry.

    Warns
    -----
    UserWarning
        Naming the units left out (no geometry, not a polygon), the units lying
        inside an earlier unit, and the invalid polygons that were repaired; see
        :func:`read_boundary_units` for the list itself.

    Raises
    ------
    InputDataError
        If the file cannot be read, a column is missing, ids repeat, a count is
        not a number, or a unit has no row in the population table (the message
        lists the units and the table rows that do not match).
    """
    units, rejects = read_boundary_units(path, crs=crs, name=name, id=id,
                                         population=population, filter=filter,
                                         columns=columns, table=table)
    if len(rejects):
        warnings.warn(boundary_rejects_message(rejects, "boundary"), UserWarning, stacklevel=2)
    return units


def read_boundary_units(path: str | Path, *, crs: Any, name: str, id: str | None = None,
                        population: str | None = None, filter: Mapping[str, Any] | None = None,
                        columns: Sequence[str] = (), table: PopulationTableConfig | None = None
                        ) -> tuple[gpd.GeoDataFrame, pd.DataFrame]:
    """Read a boundary layer like :func:`read_boundaries`; also return the units not used.

    Returns
    -------
    units
        As :func:`read_boundaries` returns them: invalid polygons repaired (with a
        warning), units without a usable polygon left out.
    rejects
        One row per unit left out (``missing_geometry``, ``not_a_polygon``) or lying
        inside an earlier unit (``covered_by_another_unit``; still among `units`, but
        it receives no block): :data:`~sharemap._boundaries.BOUNDARY_REJECT_COLUMNS`,
        with the unit's residents (NaN without a population column).
    """
    p = Path(path)
    gdf = read_vector(p, what="boundaries")
    counts = [c for c in (population, *columns) if c is not None]
    reserved = {"name", "id", "population", "geometry"} & set(columns)
    if reserved:
        msg = f"{p}: group column {sorted(reserved)[0]!r} clashes with a units column; rename it"
        raise InputDataError(msg)
    own = [("name", name), ("id", id), *((f"filter {k}", k) for k in (filter or {}))]
    if table is None:
        own += [("population" if c == population else "group column", c) for c in counts]
    for key, col in own:
        if col is not None and col not in gdf:
            msg = f"{p}: no column {col!r} (given as `{key}`); columns are {list(gdf.columns)}"
            raise InputDataError(msg)
    keep = _filter_mask(gdf, filter, p)
    feature = np.flatnonzero(keep) + 1
    if table is not None and counts:
        values = _table_values(gdf, keep, table, counts, p.name, name)
    else:
        values = pd.DataFrame({c: _counts(gdf[c][keep].reset_index(drop=True), p.name, c,
                                          feature, "feature") for c in counts})
    gdf = to_analysis_crs(gdf[keep], crs, f"boundary file {p}")
    ids = gdf[id].astype(str) if id else gdf[name].astype(str)
    if ids.duplicated().any():
        msg = (f"{p}: unit {'id' if id else 'name'} {ids[ids.duplicated()].iloc[0]!r} repeats; "
               "give an `id` column that tells the units apart")
        raise InputDataError(msg)
    out = {"name": gdf[name].astype(str).to_numpy(), "id": ids.to_numpy(),
           "population": (values[population].to_numpy() if population
                          else np.full(len(gdf), np.nan))}
    out.update({c: values[c].to_numpy() for c in columns})
    units = gpd.GeoDataFrame(out, geometry=gdf.geometry.to_numpy(), crs=gdf.crs)
    return _usable_units(units, feature, p)


def _usable_units(units: gpd.GeoDataFrame, feature: npt.NDArray[np.int64], p: Path
                  ) -> tuple[gpd.GeoDataFrame, pd.DataFrame]:
    """Repair invalid polygons (warning), set aside units without one, find covered units."""
    geoms, reasons, details, repaired = repair_units(units.geometry.to_numpy())
    if repaired:
        names = ", ".join(repr(units["name"].iloc[i]) for i in repaired[:10])
        warnings.warn(f"{p}: {len(repaired)} unit(s) had an invalid polygon (self-intersecting, "
                      f"e.g. a bow-tie) and were repaired with make_valid: {names}",
                      UserWarning, stacklevel=3)
    units = units.set_geometry(gpd.GeoSeries(geoms, crs=units.crs))
    usable = np.array([r is None for r in reasons])
    for j, i in covered_units(geoms[usable]).items():
        j_all, i_all = np.flatnonzero(usable)[[j, i]]
        reasons[j_all] = "covered_by_another_unit"
        details[j_all] = (f"lies inside unit {units['name'].iloc[i_all]} (feature "
                          f"{feature[i_all]}), which comes first in the file and takes its "
                          "block origins")
    listed = np.flatnonzero([r is not None for r in reasons])
    rejects = pd.DataFrame({
        "source": p.name, "feature": feature[listed].astype(np.int64),
        "unit": units["name"].to_numpy()[listed], "unit_id": units["id"].to_numpy()[listed],
        "reason": [reasons[i] for i in listed],
        "population": units["population"].to_numpy()[listed].astype(float),
        "detail": [details[i] for i in listed]}, columns=list(BOUNDARY_REJECT_COLUMNS))
    return units[usable].reset_index(drop=True), rejects


def read_area(path: str | Path, *, crs: Any, filter: Mapping[str, Any] | None = None
              ) -> shapely.Geometry:
    """Read a study area: the union of a polygon file's features (those matching `filter`).

    Parameters
    ----------
    path
        Any polygon file GDAL reads.
    crs
        The analysis CRS.
    filter
        Keep only features whose columns equal these values.

    Returns
    -------
    area
        One valid (Multi)Polygon in `crs`. Invalid polygons are repaired
        (``make_valid``); features without a polygon are skipped.

    Raises
    ------
    InputDataError
        If the file cannot be read, a filter column is missing, no feature matches,
        or no feature has a polygon.
    """
    p = Path(path)
    gdf = read_vector(p, what="the study area")
    keep = _filter_mask(gdf, filter, p)
    geoms, reasons, _, _ = repair_units(
        to_analysis_crs(gdf[keep], crs, f"study area {p}").geometry.to_numpy())
    usable = geoms[[r is None for r in reasons]]
    if not len(usable):
        msg = f"{p}: no feature of the study area has a polygon"
        raise InputDataError(msg)
    return shapely.make_valid(shapely.union_all(usable))


#: Values of a filter column named when a filter matches no feature.
_SHOWN_VALUES = 8


def _filter_mask(gdf: gpd.GeoDataFrame, filter: Mapping[str, Any] | None, p: Path
                 ) -> npt.NDArray[np.bool_]:
    """Features whose columns equal the filter's values (compared as text)."""
    for col in filter or {}:
        if col not in gdf:
            msg = (f"{p}: no column {col!r} (given as `filter {col}`); columns are "
                   f"{list(gdf.columns)}")
            raise InputDataError(msg)
    keep = np.ones(len(gdf), dtype=bool)
    alone: dict[str, bool] = {}
    for col, value in (filter or {}).items():
        match = (gdf[col].astype(str) == str(value)).to_numpy()
        alone[col] = bool(match.any())
        keep &= match
    if not keep.any():
        raise InputDataError(_no_match(gdf, filter or {}, alone, p))
    return keep


def _no_match(gdf: gpd.GeoDataFrame, filter: Mapping[str, Any], alone: Mapping[str, bool],
              p: Path) -> str:
    """Say that no feature matches `filter`, and the values a column could take."""
    wanted = " and ".join(f"{col} = {str(value)!r}" for col, value in filter.items())
    head = f"{p}: no feature has {wanted} (filter values are compared as text)"
    col = next((c for c, ok in alone.items() if not ok), None)
    if col is None:
        return f"{head}: each matches some feature, but no feature matches all; drop one"
    values = sorted(set(gdf[col].dropna().astype(str)))
    shown = ", ".join(repr(v) for v in values[:_SHOWN_VALUES])
    more = ", ..." if len(values) > _SHOWN_VALUES else ""
    return (f"{head}: {col} has {len(values):,} values ({shown}{more}); give one of them "
            "exactly as the file writes it")


def assign_units(origins: gpd.GeoSeries, units: gpd.GeoDataFrame) -> pd.DataFrame:
    """Find the unit that contains each origin point.

    Returns
    -------
    assigned
        Aligned to `origins`: ``name`` and ``id`` of the containing unit (NaN if none;
        the first unit in file order where units overlap).
    """
    tree = shapely.STRtree(units.geometry.to_numpy())
    pi, ui = tree.query(origins.to_numpy(), predicate="intersects")
    first = pd.Series(ui).groupby(pi).min()
    out = pd.DataFrame({"name": pd.Series(pd.NA, index=origins.index, dtype="object"),
                        "id": pd.Series(pd.NA, index=origins.index, dtype="object")})
    pos = first.index.to_numpy()
    out.iloc[pos, 0] = units["name"].to_numpy()[first.to_numpy()]
    out.iloc[pos, 1] = units["id"].to_numpy()[first.to_numpy()]
    return out


# ----------------------------------------------------------------------------- population


def block_weights(blocks: gpd.GeoDataFrame, path: str | Path, *, crs: Any,
                  layer: str | None = None, column: str | None = None) -> pd.Series:
    """Weigh blocks by the area of a polygon layer (buildings, residential land) inside them.

    Parameters
    ----------
    blocks
        Blocks in the analysis CRS.
    path
        The polygon layer (any file GDAL reads).
    crs
        The analysis CRS.
    layer
        Layer name in a multi-layer file.
    column
        Optional multiplier per polygon (e.g. number of floors: floor area).

    Returns
    -------
    weights
        Per block (aligned to `blocks`): the sum over the layer's polygons of the
        area (m²) inside the block, times `column`. Overlapping polygons count
        each time; dissolve them first if they overlap.

    Raises
    ------
    InputDataError
        If the file cannot be read, a feature is not a polygon, or `column` is
        missing or not a number >= 0.
    """
    p = Path(path)
    gdf = read_vector(p, what="the weights layer", layer=layer)
    if column is not None and column not in gdf:
        msg = f"{p}: no column {column!r} (given as weights `column`); columns are {list(gdf)}"
        raise InputDataError(msg)
    gdf = keep_polygons(gdf, p, "the weights layer (building footprints or residential areas)")
    gdf = to_analysis_crs(gdf, crs, f"weights layer {p}")
    mult = (np.ones(len(gdf)) if column is None else
            _counts(gdf[column].reset_index(drop=True), p.name, column,
                    gdf.index.to_numpy() + 1, "feature"))
    geoms = shapely.make_valid(gdf.geometry.to_numpy())
    bgeoms = blocks.geometry.to_numpy()
    bi, wi = shapely.STRtree(geoms).query(bgeoms, predicate="intersects")
    inside = shapely.area(shapely.intersection(bgeoms[bi], geoms[wi])) * mult[wi]
    weights = np.bincount(bi, weights=inside, minlength=len(blocks))
    logger.info("Weighted %d blocks by %d polygons of %s", int((weights > 0).sum()), len(gdf),
                p.name)
    return pd.Series(weights, index=blocks.index, dtype=float)


def inside_share(units: gpd.GeoDataFrame, area: shapely.Geometry | None
                 ) -> npt.NDArray[np.float64]:
    """Return the share of each unit's area inside the study area (1 with no area).

    Boundary files rarely match the study area to the last vertex: a unit missing
    less than 1 m² (or a millionth of itself) counts as wholly inside.
    """
    if area is None:
        return np.ones(len(units))
    whole = units.geometry.area.to_numpy()
    inside = units.geometry.intersection(area).area.to_numpy()
    with np.errstate(divide="ignore", invalid="ignore"):
        frac = np.where(whole - inside <= np.maximum(1.0, 1e-6 * whole), 1.0, inside / whole)
    return np.clip(frac, 0.0, 1.0)


def allocate_population(blocks: gpd.GeoDataFrame, unit_id: pd.Series, units: gpd.GeoDataFrame,
                        *, area: shapely.Geometry | None = None,
                        weights: pd.Series | None = None,
                        column: str = "population") -> tuple[pd.Series, float]:
    """Spread each unit's population over its blocks in proportion to block area (or weight).

    Parameters
    ----------
    blocks
        Blocks with ``area_m2``.
    unit_id
        Per block, the id of the unit containing its origin (from :func:`assign_units`).
    units
        The population units (``id``, `column`, geometry).
    area
        The study area; a unit partly outside keeps the share of its population
        matching the share of its area inside.
    weights
        Per block weight (from :func:`block_weights`); a unit whose blocks all
        weigh 0 falls back to block area. None: block area.
    column
        The units' column to spread (``population`` or a group column).

    Returns
    -------
    population
        Per block (aligned to `blocks`), residents (float).
    unallocated
        Residents of units that contain no block origin.
    """
    unit_pop = units.set_index("id")[column].astype(float)
    if area is not None:
        unit_pop = unit_pop * pd.Series(inside_share(units, area), index=unit_pop.index)
    weight = blocks["area_m2"].astype(float)
    if weights is not None:
        w = weights.reindex(blocks.index).fillna(0.0).clip(lower=0.0)
        has = w.groupby(unit_id).transform("sum") > 0
        weight = w.where(has, weight)
    total = weight.groupby(unit_id).transform("sum")
    pop = unit_pop.reindex(unit_id.to_numpy()).to_numpy() * (weight / total).to_numpy()
    unallocated = float(unit_pop[~unit_pop.index.isin(set(unit_id.dropna()))].sum())
    return pd.Series(pop, index=blocks.index, dtype=float), unallocated


# ----------------------------------------------------------------------------- coverage


def compute_proximity(blocks: pd.DataFrame, categories: Sequence[str]) -> pd.Series:
    """Compute the walk to the farthest of the nearest spaces across categories, per block.

    Returns
    -------
    proximity_min
        Per block, the maximum of ``walk_min_<category>`` over `categories`; NaN if
        any is NaN (some category unreachable) or there are no categories. A block
        is covered for ``all`` at T minutes exactly when ``proximity_min <= T``.
    """
    if not categories:
        return pd.Series(np.nan, index=blocks.index, name="proximity_min")
    cols = [walk_col(c) for c in categories]
    return blocks[cols].max(axis=1, skipna=False).rename("proximity_min")


def _minutes(blocks: pd.DataFrame, categories: Sequence[str]) -> npt.NDArray[np.float64]:
    """Stack the blocks' ``walk_min_<category>`` columns into one (blocks x categories) array."""
    out = np.empty((len(blocks), len(categories)))
    for j, cat in enumerate(categories):
        out[:, j] = blocks[walk_col(cat)].to_numpy(dtype=np.float64, na_value=np.nan)
    return out


def _covered(minutes: npt.NDArray[np.float64],
             thresholds: Sequence[float]) -> npt.NDArray[np.bool_]:
    """Per block, (category then ``all``) x threshold: walk <= threshold (NaN: not covered)."""
    worst = np.full((len(minutes), minutes.shape[1] + 1), np.nan)
    worst[:, :-1] = minutes
    if minutes.shape[1]:
        worst[:, -1] = minutes.max(axis=1)  # NaN when any category is unreachable
    limits = np.asarray(list(thresholds), dtype=np.float64)
    covered = worst[:, :, None] <= limits[None, None, :]
    return covered.reshape(len(minutes), worst.shape[1] * len(limits))


def _unit_codes(area: pd.Series, area_id: pd.Series) -> tuple[npt.NDArray[np.int64], list[Any]]:
    """Code each block by its (area, area_id) unit as a sorted groupby does (-1: no unit)."""
    keys = pd.DataFrame({"_area": area.reset_index(drop=True),
                         "_area_id": area_id.reset_index(drop=True)})
    grouped = keys.groupby(["_area", "_area_id"], sort=True, dropna=True)
    codes = grouped.ngroup().to_numpy(dtype=np.float64, na_value=np.nan)
    return np.where(np.isnan(codes), -1, codes).astype(np.int64), list(grouped.size().index)


def _rows(codes: npt.NDArray[np.int64], units: Sequence[tuple[Any, Any]], level: str,
          covered: npt.NDArray[np.bool_], pop: npt.NDArray[np.float64] | None,
          labels: Sequence[tuple[str, float]],
          residents: tuple[npt.NDArray[np.float64], npt.NDArray[np.bool_]] | None = None
          ) -> list[tuple[Any, ...]]:
    """Build the coverage rows of one level: unit by unit, then category, then threshold.

    `residents`: per block and column of `covered`, the residents covered (summed over
    the block's origins) and whether any origin is covered; None: a block's residents
    are covered with it. Population sums add each unit's blocks in block order with
    ``np.sum`` (NaN as 0), exactly as ``Series.sum`` does, so the numbers equal a
    per-unit pandas sum.
    """
    pos = np.flatnonzero(codes >= 0)
    pos = pos[np.argsort(codes[pos], kind="stable")]
    n_blocks = np.bincount(codes[pos], minlength=len(units))
    bounds = np.concatenate([[0], np.cumsum(n_blocks)])
    cov = covered[pos]
    group = codes[pos]
    n_cov = np.zeros((len(units), cov.shape[1]), dtype=np.int64)
    for k in range(cov.shape[1]):
        n_cov[:, k] = np.bincount(group[cov[:, k]], minlength=len(units))
    share = n_cov / n_blocks[:, None]
    p_all = p_cov = np.full(n_cov.shape, np.nan)
    if pop is not None:
        p = pop[pos]
        whole = [float(np.sum(p[s:e])) for s, e in itertools.pairwise(bounds)]
        p_all = np.repeat(np.asarray(whole)[:, None], cov.shape[1], axis=1)
        p_cov = np.empty(n_cov.shape)
        res_cov, touched = (None, cov) if residents is None else (
            residents[0][pos], residents[1][pos])
        for k in range(cov.shape[1]):
            hit = touched[:, k]
            pk = p[hit] if res_cov is None else res_cov[hit, k]
            cb = np.concatenate([[0], np.cumsum(np.bincount(group[hit], minlength=len(units)))])
            p_cov[:, k] = [np.sum(pk[s:e]) for s, e in itertools.pairwise(cb)]
    with np.errstate(divide="ignore", invalid="ignore"):
        share_pop = np.where(p_all > 0, p_cov / p_all, np.nan)
    n = len(units) * len(labels)
    cats = [c for c, _ in labels] * len(units)
    thresholds = [t for _, t in labels] * len(units)
    return list(zip([level] * n, [u[0] for u in units for _ in labels],
                    [u[1] for u in units for _ in labels], cats, thresholds,
                    np.repeat(n_blocks, len(labels)).tolist(), n_cov.ravel().tolist(),
                    share.ravel().tolist(), p_all.ravel().tolist(), p_cov.ravel().tolist(),
                    share_pop.ravel().tolist(), strict=True))


def _residents_covered(origins: StudyOrigins, minutes: npt.NDArray[np.float64],
                       pop: npt.NDArray[np.float64] | None, thresholds: Sequence[float],
                       columns: npt.NDArray[np.int64] | None = None
                       ) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.bool_]] | None:
    """Per block and (category then ``all``) x threshold: residents covered, any covered.

    `minutes`: per origin and category. An origin is covered for ``all`` when it is
    for every category; its residents are its share of the block's. None when every
    block has one origin (its residents are covered exactly when it is). `columns`:
    only these columns (of category then ``all`` x threshold; None: all).
    """
    n_blocks = len(pop) if pop is not None else 0
    if pop is None or len(origins.block) == n_blocks:
        return None
    cov_o = _covered(minutes, thresholds)
    if columns is not None:
        cov_o = cov_o[:, columns]
    pop_o = origins.residents(pop)
    res = np.empty((n_blocks, cov_o.shape[1]))
    touched = np.empty((n_blocks, cov_o.shape[1]), dtype=bool)
    for k in range(cov_o.shape[1]):
        res[:, k] = np.bincount(origins.block, weights=np.where(cov_o[:, k], pop_o, 0.0),
                                minlength=n_blocks)
        touched[:, k] = np.bincount(origins.block, weights=cov_o[:, k],
                                    minlength=n_blocks) > 0
    return res, touched


def _level_units(blocks: pd.DataFrame, levels: Sequence[tuple[str, str]], city_name: str
                 ) -> list[tuple[str, npt.NDArray[np.int64], list[Any]]]:
    """Per level (``city`` first): its name, each block's unit code and the units' keys."""
    city = [(city_name, city_name)] if len(blocks) else []
    out = [("city", np.zeros(len(blocks), dtype=np.int64), city)]
    for level, id_col in levels:
        out.append((level, *_unit_codes(blocks[level], blocks[id_col])))
    return out


def _label_columns(categories: Sequence[str], thresholds: Sequence[float],
                   only: Sequence[str] | None) -> npt.NDArray[np.int64] | None:
    """Return the columns (category then ``all`` x threshold) of `only`'s categories."""
    if only is None:
        return None
    keep = set(only)
    return np.asarray([i for i, (c, _) in enumerate(
        (c, t) for c in [*categories, "all"] for t in thresholds) if c in keep], dtype=np.int64)


def _coverage_table(units: list[tuple[str, npt.NDArray[np.int64], list[Any]]],
                    minutes: npt.NDArray[np.float64], pop: npt.NDArray[np.float64] | None, *,
                    categories: Sequence[str], thresholds: Sequence[float],
                    residents: tuple[npt.NDArray[np.float64], npt.NDArray[np.bool_]] | None
                    = None, only: Sequence[str] | None = None) -> pd.DataFrame:
    """Build the coverage table (:data:`COVERAGE_COLUMNS`) from arrays, all levels at once.

    `only`: the rows of these categories (and ``all``) only, in the table's order
    (`residents` then holds only their columns, see :func:`_label_columns`).
    """
    covered = _covered(minutes, thresholds)
    labels = [(c, t) for c in [*categories, "all"] for t in thresholds]
    cols = _label_columns(categories, thresholds, only)
    if cols is not None:
        covered, labels = covered[:, cols], [labels[i] for i in cols]
    rows = []
    for level, codes, keys in units:
        rows += _rows(codes, keys, level, covered, pop, labels, residents)
    return pd.DataFrame(rows, columns=list(COVERAGE_COLUMNS))


def _population(values: pd.Series) -> npt.NDArray[np.float64] | None:
    """Residents per block with NaN as 0 (None when no block has a number)."""
    pop = values.to_numpy(dtype=np.float64, na_value=np.nan)
    if not (~np.isnan(pop)).any():
        return None
    return np.where(np.isnan(pop), 0.0, pop)


def compute_coverage(blocks: pd.DataFrame, *, categories: Sequence[str],
                     thresholds: Sequence[float], levels: Sequence[tuple[str, str]] = (),
                     city_name: str = "city",
                     origins: pd.DataFrame | None = None) -> pd.DataFrame:
    """Audit coverage: share of blocks and residents within each walking time.

    Parameters
    ----------
    blocks
        Blocks with ``walk_min_<category>`` columns, optionally ``population`` and
        one column per boundary level (and its id column).
    categories
        The study's categories; ``all`` is added (covered for every category).
    thresholds
        Walking times in minutes.
    levels
        ``(level, id_column)`` pairs: the blocks' column holding the unit name and
        the one holding its id.
    city_name
        The ``area`` (and ``area_id``) written for the whole-study rows.
    origins
        The blocks' origins (``block``, ``share``, ``walk_min_<category>``; see
        :attr:`sharemap.StudyResult.origins`); None: one origin per block.

    Returns
    -------
    coverage
        The columns of :data:`COVERAGE_COLUMNS`: first ``level == "city"`` (all
        blocks), then every unit of every level. Unreachable (NaN) counts as not
        covered. A block counts as covered (``blocks_covered``) when its
        ``walk_min_<category>`` is within the threshold; its residents count as
        covered origin by origin (each origin holds its share of them).
    """
    pop = _population(blocks["population"]) if "population" in blocks else None
    so = study_origins(blocks, categories, origins)
    return _coverage_table(_level_units(blocks, levels, city_name), _minutes(blocks, categories),
                           pop, categories=categories, thresholds=thresholds,
                           residents=_residents_covered(so, so.minutes, pop, thresholds))


def compute_group_coverage(blocks: pd.DataFrame, groups: Sequence[GroupConfig], *,
                           categories: Sequence[str], thresholds: Sequence[float],
                           levels: Sequence[tuple[str, str]] = (), city_name: str = "city",
                           walk_speed_kmh: float = 4.8,
                           origins: pd.DataFrame | None = None) -> pd.DataFrame:
    """Audit coverage for population groups, each at its own walking speed and on its streets.

    Parameters
    ----------
    blocks
        As for :func:`compute_coverage`, plus each group's ``population_<slug>`` and,
        for a group whose mobility profile leaves streets out, its own
        ``walk_min_<category>_<slug>`` (which :func:`sharemap.run_study` fills; the
        origins carry theirs too).
    groups
        The groups (``column``, ``label``, ``walk_speed_kmh``, ``profile``).
    categories, thresholds, levels, city_name
        As for :func:`compute_coverage`.
    walk_speed_kmh
        The study's walking speed, at which ``walk_min_<category>`` was computed.
    origins
        As for :func:`compute_coverage`.

    Returns
    -------
    coverage_groups
        :data:`GROUP_COVERAGE_COLUMNS`: ``group`` (the label; ``all residents``
        first, equal to :func:`compute_coverage`), ``walk_speed_kmh``, ``profile``,
        then the coverage columns, where a block is covered for a group at T minutes
        when its walk is at most T: ``walk_min * walk_speed_kmh / group speed`` for a
        ``walk`` group (the same streets), its own ``walk_min_<category>_<slug>``
        for another profile (see :func:`sharemap.profiles.group_minutes`).
    """
    units = _level_units(blocks, levels, city_name)
    minutes = _minutes(blocks, categories)
    pop = _population(blocks["population"]) if "population" in blocks else None
    so = study_origins(blocks, categories, origins, groups)
    base = _coverage_table(units, minutes, pop, categories=categories, thresholds=thresholds,
                           residents=_residents_covered(so, so.minutes, pop, thresholds))
    return _with_groups(base, blocks, groups, units, so, categories=categories,
                        thresholds=thresholds, walk_speed_kmh=walk_speed_kmh)


def _with_groups(  # noqa: PLR0913 - the tables' inputs, then options
        base: pd.DataFrame, blocks: pd.DataFrame, groups: Sequence[GroupConfig],
        units: list[tuple[str, npt.NDArray[np.int64], list[Any]]],
        origins: StudyOrigins, *, categories: Sequence[str],
        thresholds: Sequence[float], walk_speed_kmh: float,
        only: Sequence[str] | None = None) -> pd.DataFrame:
    """Stack `base` (all residents) and each group's table (:data:`GROUP_COVERAGE_COLUMNS`).

    `only`: each group's rows of these categories (and ``all``) only (`base` likewise).
    """
    cols = _label_columns(categories, thresholds, only)
    minutes = _minutes(blocks, categories)
    parts = [base.assign(group=ALL_RESIDENTS, walk_speed_kmh=walk_speed_kmh, profile="walk")]
    for g in groups:
        if get_profile(g.profile).filters:  # its own walks, on the streets it can use
            g_minutes = np.column_stack([
                group_minutes(blocks, c, g, walk_speed_kmh=walk_speed_kmh).to_numpy(
                    dtype=np.float64, na_value=np.nan) for c in categories]
            ).reshape(len(blocks), len(categories))
        else:  # everyone's walks at its speed, as every group figure scales them
            g_minutes = at_group_speed(minutes, g, walk_speed_kmh=walk_speed_kmh)
        o_minutes = origins.group_minutes(g, walk_speed_kmh)
        pop = _population(blocks[g.population_column])
        table = _coverage_table(units, g_minutes, pop, categories=categories,
                                thresholds=thresholds, only=only,
                                residents=_residents_covered(origins, o_minutes, pop, thresholds,
                                                             cols))
        parts.append(table.assign(group=g.label, walk_speed_kmh=g.walk_speed_kmh,
                                  profile=g.profile))
    return pd.concat(parts, ignore_index=True)[list(GROUP_COVERAGE_COLUMNS)]


# ----------------------------------------------------------------------------- the audit


@dataclass(frozen=True, eq=False)
class CoverageAudit:
    """The coverage audit of one study.

    Attributes
    ----------
    coverage
        ``coverage.csv`` (:data:`COVERAGE_COLUMNS`).
    coverage_groups
        ``coverage_groups.csv`` (:data:`GROUP_COVERAGE_COLUMNS`), None without groups.
    gaps
        ``gaps.csv`` (see :func:`compute_gaps`).
    proximity_min
        Per block, the walk to the farthest of the nearest spaces across categories.
    """

    coverage: pd.DataFrame
    coverage_groups: pd.DataFrame | None
    gaps: pd.DataFrame
    proximity_min: pd.Series


def _splice(known: pd.DataFrame, part: pd.DataFrame, redo: set[str]) -> pd.DataFrame:
    """`known` with its rows of the categories in `redo` replaced by `part`'s (same order)."""
    mask = known["category"].isin(redo).to_numpy()
    if int(mask.sum()) != len(part):
        msg = (f"`known` is not an audit of these blocks, units and thresholds: it has "
               f"{int(mask.sum())} rows of categories {', '.join(sorted(redo))}, this audit "
               f"{len(part)}; give the audit of the same study (or no `known`)")
        raise InputDataError(msg)
    out = known.copy()
    for col in ("blocks_covered", "population_covered", "share_blocks", "share_population"):
        values = out[col].to_numpy().copy()
        values[mask] = part[col].to_numpy(dtype=values.dtype)
        out[col] = values
    return out


def compute_audit(  # noqa: PLR0913 - the audit's inputs, then options
        blocks: gpd.GeoDataFrame, spaces: gpd.GeoDataFrame, network: WalkNetwork,
        config: StudyConfig, *, points: PreparedPoints | None = None,
        joined: JoinedPoints | None = None, origins: gpd.GeoDataFrame | None = None,
        known: CoverageAudit | None = None,
        changed: Sequence[str] | None = None) -> CoverageAudit:
    """Run the whole coverage audit: coverage, group coverage, gaps and proximity time.

    Parameters
    ----------
    blocks
        Blocks with walk minutes, population (and group populations) and levels.
    spaces
        The analysed spaces.
    network
        The walking network (to find each block's nearest space per category).
    config
        The study configuration.
    points
        The blocks' origins and the spaces, prepared (:func:`~sharemap.access.prepare_points`)
        as the access stage measured them; saves snapping again.
    joined
        Deprecated: ``points.joined``; give `points` instead.
    origins
        The blocks' origins (:attr:`sharemap.StudyResult.origins`: ``block``,
        ``share``, ``walk_min_<category>``, points) in the order of `points`' origins;
        None: one per block, its representative point.
    known, changed
        The audit of the same blocks, boundaries and residents with other spaces, and
        the categories whose spaces differ (a what-if's): the rows of the other
        categories are taken from `known` (their walks, hence their figures, are the
        same); those of `changed` and ``all`` are computed. None: all computed.

    Returns
    -------
    audit
        The tables of ``coverage.csv``, ``coverage_groups.csv`` and ``gaps.csv``,
        and the blocks' ``proximity_min``.

    Notes
    -----
    The gap blocks' nearest spaces are those of :func:`nearest_spaces`, found by
    searches from the listed blocks only (see :func:`~sharemap.gaps.audit_gaps`).
    """
    cov = config.coverage
    units = _level_units(blocks, [(b.level, f"{b.level}_id") for b in cov.boundaries],
                         config.name)
    minutes = _minutes(blocks, config.categories)
    cats, ths = config.categories, cov.thresholds_minutes
    with_groups = bool(cov.groups) and "population" in blocks
    redo = None
    if (known is not None and changed is not None and known.gaps is not None
            and (known.coverage_groups is not None or not with_groups)):
        redo = [c for c in cats if c in set(changed)]
    only = None if redo is None else [*redo, "all"]
    pop = _population(blocks["population"]) if "population" in blocks else None
    so = study_origins(blocks, cats, origins, cov.groups, medians=redo)
    coverage = _coverage_table(units, minutes, pop, categories=cats, thresholds=ths, only=only,
                               residents=_residents_covered(so, so.minutes, pop, ths,
                                                            _label_columns(cats, ths, only)))
    groups = None
    if with_groups:
        groups = _with_groups(coverage, blocks, cov.groups, units, so,
                              walk_speed_kmh=config.walk_speed_kmh, categories=cats,
                              thresholds=ths, only=only)
    if joined is not None:
        warnings.warn("compute_audit(joined=...) is deprecated: give points=prepare_points(...)",
                      FutureWarning, stacklevel=2)
    elif points is not None:
        joined = points.joined
    gaps = audit_gaps(blocks, spaces, network, config, joined=joined, origins=origins,
                      categories=redo, known_origins=so)
    if redo is not None and known is not None:
        coverage = _splice(known.coverage, coverage, set(only or ()))
        if groups is not None and known.coverage_groups is not None:
            groups = _splice(known.coverage_groups, groups, set(only or ()))
        gaps = splice_gaps(known.gaps, gaps, cats, set(redo))
    return CoverageAudit(coverage=coverage, coverage_groups=groups, gaps=gaps,
                         proximity_min=compute_proximity(blocks, config.categories))


def __getattr__(name: str) -> Any:
    # renamed (functions verb-first; the old name works for one release)
    if name == "proximity_minutes":
        warn_renamed("sharemap.coverage.proximity_minutes", "sharemap.coverage.compute_proximity")
        return compute_proximity
    msg = f"module {__name__!r} has no attribute {name!r}"
    raise AttributeError(msg)
