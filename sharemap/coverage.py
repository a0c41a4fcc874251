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
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import geopandas as gpd
import numpy as np
import numpy.typing as npt
import pandas as pd
import shapely
from scipy import sparse
from scipy.sparse.csgraph import dijkstra

from ._crs import to_analysis_crs
from ._errors import InputDataError
from .access import JoinedPoints, join_points, snap_points, walk_col
from .blocks import block_origins
from .network import MIN_WEIGHT_M

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
    "finest_level",
    "nearest_spaces",
    "proximity_minutes",
    "read_boundaries",
]

logger = logging.getLogger(__name__)

COVERAGE_COLUMNS = (
    "level", "area", "area_id", "category", "threshold_min", "blocks", "blocks_covered",
    "share_blocks", "population", "population_covered", "share_population",
)
GROUP_COVERAGE_COLUMNS = ("group", "walk_speed_kmh", *COVERAGE_COLUMNS)
GAP_COLUMNS = (
    "kind", "category", "threshold_min", "rank", "level", "area", "area_id", "block_id",
    "lon", "lat", "population", "population_outside", "share_outside", "blocks", "blocks_outside",
    "walk_min", "nearest_space_id", "nearest_space_name",
)
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
        msg = (f"{file}: {what} {int(rows[i])}: column `{column}` value {values.iloc[i]!r} is "
               "not a count of residents (a number >= 0)")
        raise InputDataError(msg)
    return num.to_numpy(np.float64)


def _table_values(gdf: gpd.GeoDataFrame, keep: npt.NDArray[np.bool_],
                  table: PopulationTableConfig, columns: Sequence[str], bfile: str,
                  name: str) -> pd.DataFrame:
    """Join the population table to the kept units; every kept unit must match one row."""
    from ._readers import read_table

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
                    population: str | None = None, filter: dict[str, Any] | None = None,
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

    Raises
    ------
    InputDataError
        If the file cannot be read, a column is missing, ids repeat, a count is
        not a number, or a unit has no row in the population table (the message
        lists the units and the table rows that do not match).
    """
    p = Path(path)
    try:
        gdf = gpd.read_file(p)
    except Exception as exc:
        msg = f"{p}: cannot read boundaries ({type(exc).__name__}: {exc})"
        raise InputDataError(msg) from None
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
    keep = np.ones(len(gdf), dtype=bool)
    for col, value in (filter or {}).items():
        keep &= (gdf[col].astype(str) == str(value)).to_numpy()
    if not keep.any():
        msg = f"{p}: no feature matches the filter {filter}"
        raise InputDataError(msg)
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
    return gpd.GeoDataFrame(out, geometry=gdf.geometry.to_numpy(), crs=gdf.crs)


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
    try:
        gdf = gpd.read_file(p, layer=layer) if layer else gpd.read_file(p)
    except Exception as exc:
        msg = f"{p}: cannot read the weights layer ({type(exc).__name__}: {exc})"
        raise InputDataError(msg) from None
    if column is not None and column not in gdf:
        msg = f"{p}: no column {column!r} (given as weights `column`); columns are {list(gdf)}"
        raise InputDataError(msg)
    gdf = gdf[gdf.geometry.notna() & ~gdf.geometry.is_empty]
    kind = gdf.geometry.geom_type.to_numpy()
    bad = ~np.isin(kind, ["Polygon", "MultiPolygon"])
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        msg = (f"{p}: feature {gdf.index[i] + 1} is a {kind[i]}; the weights layer must hold "
               "polygons (building footprints or residential areas)")
        raise InputDataError(msg)
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
        whole = units.geometry.area.to_numpy()
        inside = units.geometry.intersection(area).area.to_numpy()
        # boundary files rarely match the study area to the last vertex: a unit
        # missing less than 1 m² (or a millionth of itself) counts as wholly inside
        frac = np.where(whole - inside <= np.maximum(1.0, 1e-6 * whole), 1.0, inside / whole)
        unit_pop = unit_pop * pd.Series(np.clip(frac, 0.0, 1.0), index=unit_pop.index)
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


def proximity_minutes(blocks: pd.DataFrame, categories: Sequence[str]) -> pd.Series:
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
          labels: Sequence[tuple[str, float]]) -> list[tuple[Any, ...]]:
    """Build the coverage rows of one level: unit by unit, then category, then threshold.

    Population sums add each unit's blocks in block order with ``np.sum`` (NaN as 0),
    exactly as ``Series.sum`` does, so the numbers equal a per-unit pandas sum.
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
        for k in range(cov.shape[1]):
            pk = p[cov[:, k]]
            cb = np.concatenate([[0], np.cumsum(n_cov[:, k])])
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


def _level_units(blocks: pd.DataFrame, levels: Sequence[tuple[str, str]], city_name: str
                 ) -> list[tuple[str, npt.NDArray[np.int64], list[Any]]]:
    """Per level (``city`` first): its name, each block's unit code and the units' keys."""
    city = [(city_name, city_name)] if len(blocks) else []
    out = [("city", np.zeros(len(blocks), dtype=np.int64), city)]
    for level, id_col in levels:
        out.append((level, *_unit_codes(blocks[level], blocks[id_col])))
    return out


def _coverage_table(units: list[tuple[str, npt.NDArray[np.int64], list[Any]]],
                    minutes: npt.NDArray[np.float64], pop: npt.NDArray[np.float64] | None, *,
                    categories: Sequence[str], thresholds: Sequence[float]) -> pd.DataFrame:
    """Build the coverage table (:data:`COVERAGE_COLUMNS`) from arrays, all levels at once."""
    covered = _covered(minutes, thresholds)
    labels = [(c, t) for c in [*categories, "all"] for t in thresholds]
    rows = []
    for level, codes, keys in units:
        rows += _rows(codes, keys, level, covered, pop, labels)
    return pd.DataFrame(rows, columns=list(COVERAGE_COLUMNS))


def _population(values: pd.Series) -> npt.NDArray[np.float64] | None:
    """Residents per block with NaN as 0 (None when no block has a number)."""
    pop = values.to_numpy(dtype=np.float64, na_value=np.nan)
    if not (~np.isnan(pop)).any():
        return None
    return np.where(np.isnan(pop), 0.0, pop)


def compute_coverage(blocks: pd.DataFrame, *, categories: Sequence[str],
                     thresholds: Sequence[float], levels: Sequence[tuple[str, str]] = (),
                     city_name: str = "city") -> pd.DataFrame:
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

    Returns
    -------
    coverage
        The columns of :data:`COVERAGE_COLUMNS`: first ``level == "city"`` (all
        blocks), then every unit of every level. Unreachable (NaN) counts as not
        covered.
    """
    pop = _population(blocks["population"]) if "population" in blocks else None
    return _coverage_table(_level_units(blocks, levels, city_name), _minutes(blocks, categories),
                           pop, categories=categories, thresholds=thresholds)


def compute_group_coverage(blocks: pd.DataFrame, groups: Sequence[GroupConfig], *,
                           categories: Sequence[str], thresholds: Sequence[float],
                           levels: Sequence[tuple[str, str]] = (), city_name: str = "city",
                           walk_speed_kmh: float = 4.8) -> pd.DataFrame:
    """Audit coverage for population groups, each at its own walking speed.

    Parameters
    ----------
    blocks
        As for :func:`compute_coverage`, plus each group's ``population_<slug>``.
    groups
        The groups (``column``, ``label``, ``walk_speed_kmh``).
    categories, thresholds, levels, city_name
        As for :func:`compute_coverage`.
    walk_speed_kmh
        The study's walking speed, at which ``walk_min_<category>`` was computed.

    Returns
    -------
    coverage_groups
        :data:`GROUP_COVERAGE_COLUMNS`: ``group`` (the label; ``all residents``
        first, equal to :func:`compute_coverage`), ``walk_speed_kmh``, then the
        coverage columns, where a block is covered for a group at T minutes when
        ``walk_min * walk_speed_kmh / group speed <= T``.
    """
    units = _level_units(blocks, levels, city_name)
    minutes = _minutes(blocks, categories)
    pop = _population(blocks["population"]) if "population" in blocks else None
    base = _coverage_table(units, minutes, pop, categories=categories, thresholds=thresholds)
    return _with_groups(base, blocks, groups, units, minutes, categories=categories,
                        thresholds=thresholds, walk_speed_kmh=walk_speed_kmh)


def _with_groups(base: pd.DataFrame, blocks: pd.DataFrame, groups: Sequence[GroupConfig],
                 units: list[tuple[str, npt.NDArray[np.int64], list[Any]]],
                 minutes: npt.NDArray[np.float64], *, categories: Sequence[str],
                 thresholds: Sequence[float], walk_speed_kmh: float) -> pd.DataFrame:
    """Stack `base` (all residents) and each group's table (:data:`GROUP_COVERAGE_COLUMNS`)."""
    parts = [base.assign(group=ALL_RESIDENTS, walk_speed_kmh=walk_speed_kmh)]
    for g in groups:
        # the same operations, in the same order, as ``walk_min * speed / group speed``
        g_minutes = minutes * walk_speed_kmh / g.walk_speed_kmh
        table = _coverage_table(units, g_minutes, _population(blocks[g.population_column]),
                                categories=categories, thresholds=thresholds)
        parts.append(table.assign(group=g.label, walk_speed_kmh=g.walk_speed_kmh))
    return pd.concat(parts, ignore_index=True)[list(GROUP_COVERAGE_COLUMNS)]


# ----------------------------------------------------------------------------- gaps


def _super_source(csr: sparse.csr_matrix, nodes: npt.NDArray[np.int64],
                  weights: npt.NDArray[np.float64]) -> sparse.csr_matrix:
    """Add one node linked to `nodes` by one-way edges of `weights` (least per node)."""
    total = csr.shape[0]
    best = np.full(total, np.inf)
    np.minimum.at(best, nodes, np.maximum(weights, MIN_WEIGHT_M))
    targets = np.flatnonzero(np.isfinite(best))
    coo = csr.tocoo()
    rows = np.concatenate([coo.row, np.full(len(targets), total)])
    cols = np.concatenate([coo.col, targets])
    data = np.concatenate([coo.data, best[targets]])
    return sparse.csr_matrix((data, (rows, cols)), shape=(total + 1, total + 1))


def _roots(pred: npt.NDArray[np.int32], source: int) -> npt.NDArray[np.int64]:
    """Per node, the first node after `source` on its shortest path (-1 if unreached)."""
    n = len(pred)
    ar = np.arange(n)
    is_root = pred == source
    parent = np.where(is_root | (pred < 0), ar, pred).astype(np.int64)
    while True:  # pointer jumping: depth halves every pass
        nxt = parent[parent]
        if np.array_equal(nxt, parent):
            break
        parent = nxt
    return np.where(is_root[parent], parent, -1)


def _node_space(idx: npt.NDArray[np.int64], s_node: npt.NDArray[np.int64],
                s_off: npt.NDArray[np.float64], size: int) -> npt.NDArray[np.int64]:
    """Map each node to the space it stands for (-1: none): the least offset, then the first."""
    order = np.lexsort((idx, s_off[idx], s_node[idx]))
    first = np.unique(s_node[idx][order], return_index=True)
    node_space = np.full(size, -1, dtype=np.int64)
    node_space[first[0]] = idx[order][first[1]]
    return node_space


def nearest_spaces(network: WalkNetwork, origins: gpd.GeoSeries | gpd.GeoDataFrame,
                   spaces: gpd.GeoDataFrame, *, categories: Sequence[str] | None = None,
                   max_snap_m: float = 250.0) -> pd.DataFrame:
    """Find, for each origin, its nearest space of each category and the walk to it.

    Parameters
    ----------
    network
        The walking network.
    origins
        Points (block origins) in the network's CRS.
    spaces
        Spaces with ``category``, in the network's CRS.
    categories
        Categories to search (default: those of `spaces`).
    max_snap_m
        Points farther from every street are not analysed.

    Returns
    -------
    nearest
        Aligned to `origins`: per category, ``space_<category>`` (position in
        `spaces`, -1 when none is reachable) and ``distance_m_<category>``.

    Notes
    -----
    One Dijkstra pass per category from a virtual node linked to every space (as
    for the walk times), keeping predecessors; following them back from each
    origin's node gives the space its shortest path starts from. Spaces that join
    the network at the same node are told apart by their offset (the nearer wins).
    """
    cats = list(dict.fromkeys(spaces["category"].astype(str))) if categories is None \
        else list(categories)
    so = snap_points(network, origins, max_snap_m=max_snap_m)
    ss = snap_points(network, spaces, max_snap_m=max_snap_m)
    joined = join_points(network, pd.concat([so, ss], ignore_index=True))
    out = _nearest_on(joined, len(so), spaces["category"].astype(str).to_numpy(), cats)
    return pd.DataFrame(out, index=origins.index)


def _nearest_on(joined: JoinedPoints, n_o: int, space_cat: npt.NDArray[np.object_],
                cats: Sequence[str]) -> dict[str, Any]:
    """:func:`nearest_spaces` on joined points: `n_o` origins, then the spaces."""
    o_node, o_off = joined.node[:n_o], joined.offset_m[:n_o]
    s_node, s_off = joined.node[n_o:], joined.offset_m[n_o:]
    out: dict[str, Any] = {}
    ok = o_node >= 0
    for cat in cats:
        idx = np.flatnonzero((space_cat == cat) & (s_node >= 0))
        best = np.full(n_o, -1, dtype=np.int64)
        dist_m = np.full(n_o, np.nan)
        if len(idx) and ok.any():
            graph = _super_source(joined.csr, s_node[idx], s_off[idx])
            src = graph.shape[0] - 1
            dist, pred = dijkstra(graph, directed=True, indices=src, return_predecessors=True)
            root = _roots(pred, src)
            node_space = _node_space(idx, s_node, s_off, graph.shape[0])
            r = root[o_node[ok]]
            best[ok] = np.where(r >= 0, node_space[np.maximum(r, 0)], -1)
            d = dist[o_node[ok]] + o_off[ok]
            dist_m[ok] = np.where(np.isfinite(d), d, np.nan)
        out[f"space_{cat}"] = best
        out[f"distance_m_{cat}"] = dist_m
    return out


def _closest_nodes(csr: sparse.csr_matrix, origin: npt.NDArray[np.int64],
                   nodes: npt.NDArray[np.int64], weight: npt.NDArray[np.float64],
                   limit: npt.NDArray[np.float64]) -> npt.NDArray[np.int64] | None:
    """Per origin node, the node of `nodes` least ``weight + walk`` away (-1: none reachable).

    Searches from the origins up to `limit` (each answer must lie a tolerance inside
    it), then without a limit for the rest. None when, for some origin, a second node
    comes within a micrometre of the best (float rounding could order them either way).
    """
    from ._engine import pairs_within

    best = np.full(len(origin), -1, dtype=np.int64)
    todo = np.flatnonzero(origin >= 0)
    for bounded in (True, False):
        run = todo[np.isfinite(limit[todo])] if bounded else todo
        if not len(run):
            continue
        lim = float(limit[run].max()) if bounded else np.inf
        g, t, d = pairs_within(csr, origin[run], np.zeros(len(run)), nodes, weight, max_m=lim)
        order = np.lexsort((d, g))
        g, t, d = g[order], t[order], d[order]
        head = np.flatnonzero(np.r_[True, g[1:] != g[:-1]]) if len(g) else np.empty(0, int)
        second = np.r_[g[1:] == g[:-1], False][head]
        runner_up = np.where(second, d[np.minimum(head + 1, max(len(d) - 1, 0))], np.inf)
        tol = 1e-6 + 1e-9 * d[head]
        sure = d[head] + tol <= lim
        if (sure & (runner_up - d[head] <= tol)).any():
            return None
        best[run[g[head][sure]]] = nodes[t[head][sure]]
        todo = np.setdiff1d(todo, run[g[head][sure]]) if bounded else todo[:0]
    return best


def _listed_nearest(network: WalkNetwork, blocks: pd.DataFrame, spaces: gpd.GeoDataFrame,
                    config: StudyConfig, outside: dict[str, _Outside], *,
                    joined: JoinedPoints | None = None) -> dict[str, npt.NDArray[np.int64]]:
    """Per category, what :func:`nearest_spaces` gives for the blocks outside (see Notes).

    Notes
    -----
    Only the blocks ``gaps.csv`` lists need their nearest space: a search from each
    of them, bounded by its walk time, finds every space node within reach, and the
    least ``max(offset, MIN_WEIGHT_M) + walk`` wins, as in the tree of
    :func:`nearest_spaces`. The other blocks outside only decide whether the name
    columns hold text (as the full table would): each gets a stand-in, the first
    space of the category if its walk time is finite, else -1. A category falls back
    to :func:`nearest_spaces` when two spaces tie within a micrometre, a space's
    name is not text, or a listed block's walk time disagrees with the search.
    """
    listed = np.unique(np.concatenate([o.listed for o in outside.values()]
                                      or [np.empty(0, dtype=np.int64)]))
    max_snap = config.network.max_snap_m
    points = None
    if joined is not None:
        if len(joined.node) != len(blocks) + len(spaces):
            msg = (f"`joined` holds {len(joined.node)} points, not the {len(blocks)} block "
                   f"origins and {len(spaces)} spaces")
            raise ValueError(msg)
        points = (joined, joined.node[listed], len(blocks))
    elif len(listed):
        so = snap_points(network, block_origins(blocks.iloc[listed]), max_snap_m=max_snap)
        ss = snap_points(network, spaces, max_snap_m=max_snap)
        mini = join_points(network, pd.concat([so, ss], ignore_index=True))
        points = (mini, mini.node[:len(so)], len(so))
    space_cat = spaces["category"].astype(str).to_numpy()
    named = np.array([isinstance(v, str) for v in spaces["name"].astype("object")], dtype=bool)
    out: dict[str, npt.NDArray[np.int64]] = {}
    full: list[str] = []
    for cat, o in outside.items():
        mine = np.flatnonzero(space_cat == cat)
        walk = blocks[walk_col(cat)].to_numpy(dtype=np.float64, na_value=np.nan)
        pos = (_category_nearest(points, listed, o, walk, mine, config.walk_speed_m_min)
               if named[mine].all() else None)
        if pos is None:
            full.append(cat)
        else:
            out[cat] = pos
    if full:  # ties, unnamed spaces or odd walk times: every block, as nearest_spaces does
        logger.debug("Nearest spaces: the full search for %s", ", ".join(full))
        if joined is not None:
            tree = _nearest_on(joined, len(blocks), space_cat, full)
        else:
            tree = nearest_spaces(network, block_origins(blocks), spaces, categories=full,
                                  max_snap_m=max_snap)
        out.update({c: np.asarray(tree[f"space_{c}"])[outside[c].mask] for c in full})
    return out


def _category_nearest(points: tuple[JoinedPoints, npt.NDArray[np.int64], int] | None,
                      listed: npt.NDArray[np.int64], outside: _Outside,
                      walk: npt.NDArray[np.float64], mine: npt.NDArray[np.int64],
                      speed_m_min: float) -> npt.NDArray[np.int64] | None:
    """One category's spaces for its blocks outside (None: take the full search).

    `points`: the joined points, the listed blocks' nodes (in `listed` order) and
    where the spaces start; `mine`: the category's spaces (all named).
    """
    pos = np.where(np.isnan(walk[outside.mask]), -1, mine[0] if len(mine) else -1)
    rows = outside.listed
    if not len(rows):
        return pos.astype(np.int64)
    if points is None:
        return None
    joined, o_node, n_o = points
    s_node, s_off = joined.node[n_o:], joined.offset_m[n_o:]
    idx = mine[s_node[mine] >= 0]
    w = np.full(joined.csr.shape[0], np.inf)
    np.minimum.at(w, s_node[idx], np.maximum(s_off[idx], MIN_WEIGHT_M))
    nodes = np.flatnonzero(np.isfinite(w))
    limit = np.where(np.isnan(walk[rows]), np.inf, walk[rows] * speed_m_min + 1.0)
    found = _closest_nodes(joined.csr, o_node[np.searchsorted(listed, rows)], nodes, w[nodes],
                           limit)
    if found is None or ((found >= 0) == np.isnan(walk[rows])).any():
        return None
    node_space = _node_space(idx, s_node, s_off, joined.csr.shape[0])
    pos[np.searchsorted(np.flatnonzero(outside.mask), rows)] = np.where(
        found >= 0, node_space[np.maximum(found, 0)], -1)
    return pos.astype(np.int64)


def finest_level(blocks: pd.DataFrame, levels: Sequence[str]) -> str | None:
    """Return the boundary level with the most units among the blocks (the later on ties)."""
    best, count = None, -1
    for level in levels:
        n = blocks[level].nunique() if level in blocks else 0
        if n >= count:
            best, count = level, n
    return best


def _outside(blocks: pd.DataFrame, cat: str, threshold: float, speed: float = 1.0,
             group_speed: float = 1.0) -> pd.Series:
    """Blocks beyond `threshold` (or unreachable) at `group_speed` (same formula as groups)."""
    return ~(blocks[walk_col(cat)] * speed / group_speed <= threshold)


def _area_gaps(blocks: pd.DataFrame, config: StudyConfig, level: str | None,
               has_pop: bool) -> dict[str, pd.DataFrame]:
    """Per category, the units ranked by residents outside (one groupby for all)."""
    if not config.categories:
        return {}
    t = config.coverage.audit_minutes
    cols: dict[str, Any] = {
        "area": blocks[level] if level else config.name,
        "area_id": blocks[f"{level}_id"] if level else config.name,
        "population": blocks["population"] if has_pop else np.nan, "blocks": 1}
    names = {}
    for k, cat in enumerate(config.categories):
        out = _outside(blocks, cat, t).astype(int)
        mine = {"blocks_outside": out, "population_outside": blocks["population"].where(
            out == 1, 0.0) if has_pop else np.nan}
        for g in config.coverage.groups:
            g_out = _outside(blocks, cat, t, config.walk_speed_kmh, g.walk_speed_kmh)
            mine[f"population_outside_{g.slug}"] = blocks[g.population_column].where(g_out, 0.0)
        names[cat] = {f"{k}:{c}": c for c in mine}
        cols.update({f"{k}:{c}": v for c, v in mine.items()})
    # a column's sums do not depend on the other columns: one groupby serves all
    every = pd.DataFrame(cols).groupby(["area", "area_id"], sort=True, dropna=True).sum(
        min_count=1).reset_index()
    key = "population_outside" if has_pop else "blocks_outside"
    result = {}
    for cat in config.categories:
        agg = every[["area", "area_id", "population", "blocks", *names[cat]]].rename(
            columns=names[cat])
        agg["share_outside"] = agg["population_outside"] / agg["population"].where(
            agg["population"] > 0) if has_pop else agg["blocks_outside"] / agg["blocks"]
        agg = agg.sort_values([key, "area_id"], ascending=[False, True], ignore_index=True)
        agg["kind"], agg["level"] = "area", level or "city"
        result[cat] = agg
    return result


def _lon_lat(blocks: pd.DataFrame, block_ids: pd.Series
             ) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """WGS84 longitude and latitude (6 decimals) of the origins of the given blocks."""
    crs = getattr(blocks, "crs", None)
    if crs is None or not len(block_ids):
        return np.full(len(block_ids), np.nan), np.full(len(block_ids), np.nan)
    sub = pd.DataFrame(blocks[["block_id", "geometry"]]).set_index("block_id")
    sub = sub.loc[block_ids.to_numpy()]
    pts = block_origins(gpd.GeoDataFrame(sub, geometry="geometry", crs=crs)).to_crs(4326)
    return pts.x.round(6).to_numpy(), pts.y.round(6).to_numpy()


def _outside_rows(blocks: pd.DataFrame, cat: str, config: StudyConfig, level: str | None,
                  has_pop: bool) -> tuple[npt.NDArray[np.bool_], pd.DataFrame]:
    """Blocks beyond the audit time (with residents, if any): the mask and their columns."""
    out = _outside(blocks, cat, config.coverage.audit_minutes)
    if has_pop:
        out &= blocks["population"] > 0
    cols = ["block_id", *((level, f"{level}_id") if level else ()),
            *(("population",) if has_pop else ()), walk_col(cat),
            *(g.population_column for g in config.coverage.groups)]
    return out.to_numpy(), pd.DataFrame(blocks[list(dict.fromkeys(cols))])[out]


@dataclass(frozen=True, eq=False)
class _Outside:
    """One category's blocks outside: mask, their columns and the rows ``gaps.csv`` lists."""

    mask: npt.NDArray[np.bool_]
    rows: pd.DataFrame
    listed: npt.NDArray[np.int64]


def _gap_inputs(blocks: pd.DataFrame, config: StudyConfig
                ) -> tuple[bool, str | None, dict[str, _Outside]]:
    """Whether blocks have residents, the finest level, and each category's blocks outside."""
    has_pop = "population" in blocks and bool(blocks["population"].notna().any())
    level = finest_level(blocks, [b.level for b in config.coverage.boundaries])
    out = {}
    for cat in config.categories:
        mask, sub = _outside_rows(blocks, cat, config, level, has_pop)
        # the order of _block_gaps: most residents (or longest walk) first, then block id
        key = sub["population"] if has_pop else sub[walk_col(cat)].fillna(np.inf)
        frame = pd.DataFrame({"_k": key.to_numpy(), "block_id": sub["block_id"].to_numpy(),
                              "_pos": np.flatnonzero(mask)})
        frame = frame.sort_values(["_k", "block_id"], ascending=[False, True])
        out[cat] = _Outside(mask, sub, frame["_pos"].to_numpy()[:config.coverage.gap_blocks])
    return has_pop, level, out


def _block_gaps(blocks: pd.DataFrame, spaces: pd.DataFrame, sub: pd.DataFrame,
                pos: npt.NDArray[np.int64], cat: str, config: StudyConfig, level: str | None,
                has_pop: bool) -> pd.DataFrame:
    """List the gap blocks; `sub`: the blocks outside, `pos`: their nearest space (-1: none)."""
    t = config.coverage.audit_minutes
    frame = pd.DataFrame({
        "block_id": sub["block_id"].to_numpy(),
        "area": sub[level].to_numpy() if level else config.name,
        "area_id": sub[f"{level}_id"].to_numpy() if level else config.name,
        "population": sub["population"].to_numpy() if has_pop else np.nan,
        "walk_min": sub[walk_col(cat)].to_numpy(),
    })
    frame["population_outside"] = frame["population"]
    for g in config.coverage.groups:
        g_out = _outside(sub, cat, t, config.walk_speed_kmh, g.walk_speed_kmh)
        frame[f"population_outside_{g.slug}"] = sub[g.population_column].where(g_out,
                                                                                0.0).to_numpy()
    has = pos >= 0
    ids, names = np.full(len(sub), None, dtype=object), np.full(len(sub), None, dtype=object)
    ids[has] = spaces["space_id"].astype(str).to_numpy()[pos[has]]
    names[has] = spaces["name"].astype("object").to_numpy()[pos[has]]
    frame["nearest_space_id"], frame["nearest_space_name"] = ids, names
    if has_pop:
        frame = frame.sort_values(["population", "block_id"], ascending=[False, True])
    else:  # no residents: the longest walks first, unreachable blocks before all
        frame["_w"] = frame["walk_min"].fillna(np.inf)
        frame = frame.sort_values(["_w", "block_id"], ascending=[False, True]).drop(columns="_w")
    frame = frame.head(config.coverage.gap_blocks).reset_index(drop=True)
    frame["lon"], frame["lat"] = _lon_lat(blocks, frame["block_id"])
    frame["kind"], frame["level"] = "block", level or "city"
    return frame


def compute_gaps(blocks: pd.DataFrame, spaces: pd.DataFrame, nearest: pd.DataFrame,
                 config: StudyConfig) -> pd.DataFrame:
    """Rank the units of the finest level, and the blocks, by residents outside the walk.

    Parameters
    ----------
    blocks
        Blocks with walk minutes, population, group populations and level columns.
    spaces
        The analysed spaces (``space_id``, ``name``), positions as in `nearest`.
    nearest
        From :func:`nearest_spaces` on the block origins.
    config
        The study: categories, ``coverage.audit_minutes``, groups, ``gap_blocks``.

    Returns
    -------
    gaps
        :data:`GAP_COLUMNS` plus ``population_outside_<slug>`` per group. For each
        category: ``kind = "area"`` rows, one per unit of the finest level, ranked by
        residents beyond ``threshold_min`` (or unreachable), then ``kind = "block"``
        rows, the ``gap_blocks`` blocks with the most such residents, with the nearest
        space and the walk to it. Without population, units rank by blocks outside
        and blocks by walking time (unreachable first).
    """
    inputs = _gap_inputs(blocks, config)
    pos = {cat: nearest.loc[blocks.index[o.mask], f"space_{cat}"].to_numpy()
           for cat, o in inputs[2].items()}
    return _gaps(blocks, spaces, config, inputs, pos)


def _gaps(blocks: pd.DataFrame, spaces: pd.DataFrame, config: StudyConfig,
          inputs: tuple[bool, str | None, dict[str, _Outside]],
          nearest: dict[str, npt.NDArray[np.int64]]) -> pd.DataFrame:
    """:func:`compute_gaps` from :func:`_gap_inputs` and the nearest space per block outside."""
    has_pop, level, outside = inputs
    t = config.coverage.audit_minutes
    extra = [f"population_outside_{g.slug}" for g in config.coverage.groups]
    parts = []
    areas = _area_gaps(blocks, config, level, has_pop)
    for cat in config.categories:
        for part in (areas[cat], _block_gaps(blocks, spaces, outside[cat].rows, nearest[cat],
                                             cat, config, level, has_pop)):
            part["category"], part["threshold_min"] = cat, t
            part["rank"] = np.arange(1, len(part) + 1)
            parts.append(part)
    cols = [*GAP_COLUMNS, *extra]
    if not parts:
        return pd.DataFrame(columns=cols)
    gaps = pd.concat([p.reindex(columns=cols) for p in parts], ignore_index=True)
    for col in ("blocks", "blocks_outside") + (
            ("block_id",) if pd.api.types.is_integer_dtype(blocks["block_id"]) else ()):
        gaps[col] = gaps[col].astype("Int64")
    return gaps


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


def compute_audit(blocks: gpd.GeoDataFrame, spaces: gpd.GeoDataFrame, network: WalkNetwork,
                  config: StudyConfig, *, joined: JoinedPoints | None = None) -> CoverageAudit:
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
    joined
        The blocks' origins then the spaces joined into the network, as the access
        stage joins them (``join_points`` on their snaps); saves snapping again.

    Returns
    -------
    audit
        The tables of ``coverage.csv``, ``coverage_groups.csv`` and ``gaps.csv``,
        and the blocks' ``proximity_min``.

    Notes
    -----
    The gap blocks' nearest spaces are those of :func:`nearest_spaces`, found by
    searches from the listed blocks only (see ``_listed_nearest``).
    """
    cov = config.coverage
    units = _level_units(blocks, [(b.level, f"{b.level}_id") for b in cov.boundaries],
                         config.name)
    minutes = _minutes(blocks, config.categories)
    kwargs = {"categories": config.categories, "thresholds": cov.thresholds_minutes}
    pop = _population(blocks["population"]) if "population" in blocks else None
    coverage = _coverage_table(units, minutes, pop, **kwargs)
    groups = None
    if cov.groups and "population" in blocks:
        groups = _with_groups(coverage, blocks, cov.groups, units, minutes,
                              walk_speed_kmh=config.walk_speed_kmh, **kwargs)
    inputs = _gap_inputs(blocks, config)
    nearest = _listed_nearest(network, blocks, spaces, config, inputs[2], joined=joined)
    gaps = _gaps(blocks, spaces, config, inputs, nearest)
    return CoverageAudit(coverage=coverage, coverage_groups=groups, gaps=gaps,
                         proximity_min=proximity_minutes(blocks, config.categories))
