"""Boundaries, population and the coverage audit by city, gu and dong.

Population
----------
A boundary unit's population is spread over the blocks whose origins it
contains, in proportion to block area. A unit only partly inside the study
area keeps the share of its population that matches the share of its area
inside; a unit wholly inside keeps its whole population (the total is
conserved). A unit that contains no block origin cannot place its residents;
they are counted in ``summary.json`` as ``population_unallocated``.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from ._crs import to_analysis_crs
from ._errors import InputDataError
from .access import walk_col

__all__ = [
    "COVERAGE_COLUMNS",
    "allocate_population",
    "assign_units",
    "compute_coverage",
    "read_boundaries",
]

logger = logging.getLogger(__name__)

COVERAGE_COLUMNS = (
    "level", "area", "area_id", "category", "threshold_min", "blocks", "blocks_covered",
    "share_blocks", "population", "population_covered", "share_population",
)


def read_boundaries(path: str | Path, *, crs: Any, name: str, id: str | None = None,
                    population: str | None = None, filter: dict[str, Any] | None = None
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

    Returns
    -------
    units
        Columns ``name``, ``id`` (the id column, else the name), ``population``
        (float, NaN when not given) and geometry.

    Raises
    ------
    InputDataError
        If the file cannot be read, a column is missing, or ids repeat.
    """
    p = Path(path)
    try:
        gdf = gpd.read_file(p)
    except Exception as exc:
        msg = f"{p}: cannot read boundaries ({type(exc).__name__}: {exc})"
        raise InputDataError(msg) from None
    for key, col in (("name", name), ("id", id), ("population", population),
                     *((f"filter {k}", k) for k in (filter or {}))):
        if col is not None and col not in gdf:
            msg = f"{p}: no column {col!r} (given as `{key}`); columns are {list(gdf.columns)}"
            raise InputDataError(msg)
    for col, value in (filter or {}).items():
        gdf = gdf[gdf[col].astype(str) == str(value)]
    if gdf.empty:
        msg = f"{p}: no feature matches the filter {filter}"
        raise InputDataError(msg)
    gdf = to_analysis_crs(gdf, crs, f"boundary file {p}")
    ids = gdf[id].astype(str) if id else gdf[name].astype(str)
    if ids.duplicated().any():
        msg = (f"{p}: unit {'id' if id else 'name'} {ids[ids.duplicated()].iloc[0]!r} repeats; "
               "give an `id` column that tells the units apart")
        raise InputDataError(msg)
    pop = np.full(len(gdf), np.nan)
    if population:
        pop = pd.to_numeric(gdf[population], errors="coerce")
        bad = pop.isna() | (pop < 0)
        if bad.any():
            row = int(np.flatnonzero(bad.to_numpy())[0]) + 1
            msg = f"{p}: feature {row}: population {gdf[population].iloc[row - 1]!r} is not a count"
            raise InputDataError(msg)
        pop = pop.to_numpy(float)
    return gpd.GeoDataFrame({"name": gdf[name].astype(str).to_numpy(), "id": ids.to_numpy(),
                             "population": pop}, geometry=gdf.geometry.to_numpy(), crs=gdf.crs)


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


def allocate_population(blocks: gpd.GeoDataFrame, unit_id: pd.Series, units: gpd.GeoDataFrame,
                        *, area: shapely.Geometry | None = None) -> tuple[pd.Series, float]:
    """Spread each unit's population over its blocks in proportion to block area.

    Parameters
    ----------
    blocks
        Blocks with ``area_m2``.
    unit_id
        Per block, the id of the unit containing its origin (from :func:`assign_units`).
    units
        The population units (``id``, ``population``, geometry).
    area
        The study area; a unit partly outside keeps the share of its population
        matching the share of its area inside.

    Returns
    -------
    population
        Per block (aligned to `blocks`), residents (float).
    unallocated
        Residents of units that contain no block origin.
    """
    unit_pop = units.set_index("id")["population"].astype(float)
    if area is not None:
        whole = units.geometry.area.to_numpy()
        inside = units.geometry.intersection(area).area.to_numpy()
        # boundary files rarely match the study area to the last vertex: a unit
        # missing less than 1 m² (or a millionth of itself) counts as wholly inside
        frac = np.where(whole - inside <= np.maximum(1.0, 1e-6 * whole), 1.0, inside / whole)
        unit_pop = unit_pop * pd.Series(np.clip(frac, 0.0, 1.0), index=unit_pop.index)
    weight = blocks["area_m2"].astype(float)
    total = weight.groupby(unit_id).transform("sum")
    pop = unit_pop.reindex(unit_id.to_numpy()).to_numpy() * (weight / total).to_numpy()
    placed = set(unit_id.dropna())
    unallocated = float(unit_pop[~unit_pop.index.isin(placed)].sum())
    return pd.Series(pop, index=blocks.index, dtype=float), unallocated


def _rows(block_frame: pd.DataFrame, level: str, categories: Sequence[str],
          thresholds: Sequence[float], has_pop: bool) -> list[dict[str, Any]]:
    rows = []
    for (name, uid), grp in block_frame.groupby(["_area", "_area_id"], sort=True, dropna=True):
        pop = grp["population"] if has_pop else None
        for cat in [*categories, "all"]:
            cols = [walk_col(c) for c in categories] if cat == "all" else [walk_col(cat)]
            worst = grp[cols].max(axis=1, skipna=False)
            for t in thresholds:
                covered = (worst <= t).to_numpy()
                p_all = float(pop.sum()) if pop is not None else np.nan
                p_cov = float(pop[covered].sum()) if pop is not None else np.nan
                rows.append({
                    "level": level, "area": name, "area_id": uid, "category": cat,
                    "threshold_min": t, "blocks": len(grp), "blocks_covered": int(covered.sum()),
                    "share_blocks": covered.mean() if len(grp) else np.nan,
                    "population": p_all, "population_covered": p_cov,
                    "share_population": p_cov / p_all if p_all and p_all > 0 else np.nan,
                })
    return rows


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
    has_pop = "population" in blocks and blocks["population"].notna().any()
    frame = pd.DataFrame(blocks).copy()
    frame["_area"], frame["_area_id"] = city_name, city_name
    rows = _rows(frame, "city", categories, thresholds, has_pop)
    for level, id_col in levels:
        frame["_area"], frame["_area_id"] = blocks[level], blocks[id_col]
        rows += _rows(frame, level, categories, thresholds, has_pop)
    out = pd.DataFrame(rows, columns=list(COVERAGE_COLUMNS))
    return out
