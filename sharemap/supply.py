r"""Supply per resident: the enhanced two-step floating catchment area (E2SFCA).

How much of a service's capacity (docks, parking bays, operators) each resident can
reach on foot, with capacity shared among everyone who can reach it (Luo & Qi 2009;
the method of PySAL's ``access`` package). For one category, with ``S_j`` the
capacity of space *j*, ``P_k`` the residents at origin *k*, ``t_kj`` the walk in
minutes and ``W`` the weight of the band holding a walk:

1. each space's capacity per resident of its catchment:
   ``R_j = S_j / sum_k P_k W(t_kj)`` over the origins within the catchment;
2. each origin's supply: ``A_k = sum_j R_j W(t_kj)`` over the spaces within it.

``supply_per_1000_<category>`` is ``1000 A`` (capacity reachable per 1,000
residents). ``W(t)`` is the weight of the first band ``(upper_minute, weight)``
with ``t <= upper_minute``, and 0 beyond the last (the catchment). Default bands:
the 15-minute catchment in thirds, ``[[5, 1.0], [10, 0.68], [15, 0.22]]``;
``[[15, 1.0]]`` is the plain two-step method (2SFCA).

Demand sits at each block's origin(s): a block judged from several origins puts
a share of its residents at each (shares summing to 1), and its value is the
population-weighted mean over them, ``sum_k share_k A_k``. A space no resident can
reach gives its capacity to no one; a block whose origin is off the network
reaches nothing (0).

A unit's ``supply_per_1000`` (``supply.csv``) is the population-weighted mean of
its blocks' values. Because step 1 shares every reached capacity out exactly, the
city's value is ``1000 x (capacity of the spaces some resident reaches) /
residents``: the method redistributes capacity, it does not create it.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

import geopandas as gpd
import numpy as np
import numpy.typing as npt
import pandas as pd

from ._capacity import DEFAULT_CAPACITY
from .access import PreparedPoints, as_prepared, pairs_within
from .config import DEFAULT_BANDS
from .network import WalkNetwork

__all__ = [
    "SUPPLY_COLUMNS",
    "SUPPLY_PREFIX",
    "band_weights",
    "compute_supply",
    "e2sfca",
    "supply_col",
    "supply_headline",
    "supply_per_block",
    "supply_table",
]

logger = logging.getLogger(__name__)

SUPPLY_PREFIX = "supply_per_1000_"
#: The columns of ``supply.csv``.
SUPPLY_COLUMNS = ("level", "area", "area_id", "category", "capacity", "population",
                  "supply_per_1000")

Bands = Sequence[tuple[float, float]]


def supply_col(category: str) -> str:
    """Return the block column holding the supply of `category` per 1,000 residents."""
    return f"{SUPPLY_PREFIX}{category}"


def band_weights(minutes: npt.ArrayLike, bands: Bands) -> npt.NDArray[np.float64]:
    """Weight of each walk: that of the first band whose upper minute holds it, else 0.

    Parameters
    ----------
    minutes
        Walking times in minutes.
    bands
        ``(upper_minute, weight)`` pairs with increasing upper minutes.

    Returns
    -------
    weights
        One weight per walk (0 beyond the last band, and for NaN).

    Examples
    --------
    >>> band_weights([0, 5, 5.01, 10, 14.9, 15, 15.01], [(5, 1.0), (10, 0.68), (15, 0.22)])
    array([1.  , 1.  , 0.68, 0.68, 0.22, 0.22, 0.  ])
    """
    t = np.asarray(minutes, dtype=np.float64)
    uppers = np.array([u for u, _ in bands], dtype=np.float64)
    w = np.array([*(w for _, w in bands), 0.0], dtype=np.float64)
    k = np.searchsorted(uppers, t, side="left")
    k[np.isnan(t)] = len(uppers)
    return w[k]


def _two_steps(origin: npt.NDArray[np.int64], target: npt.NDArray[np.int64],
               weight: npt.NDArray[np.float64], demand: npt.NDArray[np.float64],
               capacity: npt.NDArray[np.float64], label: npt.NDArray[np.int64], n_labels: int
               ) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """Both steps at once for targets of several labels (a space is of one category).

    Step 1 is per target whatever its label; step 2 sums per (origin, label) in one
    ``bincount``, so every category costs one pass over the pairs together.
    """
    reached = np.bincount(target, weights=weight * demand[origin], minlength=len(capacity))
    ratio = np.zeros(len(capacity))
    np.divide(capacity, reached, out=ratio, where=reached > 0)
    key = origin * n_labels + label[target]
    access = np.bincount(key, weights=weight * ratio[target], minlength=len(demand) * n_labels)
    return access.astype(np.float64).reshape(len(demand), n_labels), ratio


def e2sfca(origin: npt.NDArray[np.int64], target: npt.NDArray[np.int64],
           minutes: npt.NDArray[np.float64], *, demand: npt.NDArray[np.float64],
           capacity: npt.NDArray[np.float64], bands: Bands
           ) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """Run both E2SFCA steps on a list of (origin, target, minutes) pairs.

    Parameters
    ----------
    origin, target
        Per pair, the demand point and the supply point (positions into `demand`
        and `capacity`).
    minutes
        Per pair, the walk in minutes (pairs beyond the last band weigh 0).
    demand
        Residents per demand point.
    capacity
        Capacity per supply point.
    bands
        ``(upper_minute, weight)`` pairs (see :func:`band_weights`).

    Returns
    -------
    access
        Per demand point, the capacity reachable per resident (``A``).
    ratio
        Per supply point, its capacity per weighted resident of its catchment
        (``R``; 0 where no resident reaches it).
    """
    access, ratio = _two_steps(np.asarray(origin, np.int64), np.asarray(target, np.int64),
                               band_weights(minutes, bands), np.asarray(demand, np.float64),
                               np.asarray(capacity, np.float64),
                               np.zeros(len(capacity), np.int64), 1)
    return access[:, 0], ratio


def supply_per_block(  # noqa: PLR0913 (the arrays of one computation, all keyword-only)
        points: PreparedPoints, *, population: npt.ArrayLike, capacity: npt.ArrayLike,
        space_category: npt.ArrayLike, categories: Sequence[str], walk_speed_m_per_min: float,
        bands: Bands = DEFAULT_BANDS, origin_block: npt.ArrayLike | None = None,
        origin_share: npt.ArrayLike | None = None) -> pd.DataFrame:
    """Compute the supply per 1,000 residents of every block, per category.

    Parameters
    ----------
    points
        The blocks' origins and the spaces, prepared on the network
        (:func:`sharemap.prepare_points`).
    population
        Residents per block (NaN counts as 0).
    capacity
        Capacity per space (NaN counts as :data:`~sharemap._capacity.DEFAULT_CAPACITY`).
    space_category
        Category per space.
    categories
        The categories to compute (one column each, in this order).
    walk_speed_m_per_min
        Walking speed (metres per minute).
    bands
        ``(upper_minute, weight)`` pairs; the last upper minute is the catchment.
    origin_block, origin_share
        For blocks judged from several origins: per origin, its block (position
        into `population`) and its share of the block's residents (shares of one
        block sum to 1). Default: one origin per block, in block order.

    Returns
    -------
    supply
        One row per block (RangeIndex), one column ``supply_per_1000_<category>``
        per category.
    """
    pop = np.nan_to_num(np.asarray(population, dtype=np.float64), nan=0.0)
    n_blocks = len(pop)
    block = (np.arange(n_blocks) if origin_block is None
             else np.asarray(origin_block, dtype=np.int64))
    share = (np.ones(len(block)) if origin_share is None
             else np.asarray(origin_share, dtype=np.float64))
    if len(block) != points.n_origins or len(share) != points.n_origins:
        msg = "`origin_block` and `origin_share` need one value per origin"
        raise ValueError(msg)
    cap = np.asarray(capacity, dtype=np.float64)
    cap = np.where(np.isnan(cap), DEFAULT_CAPACITY, cap)
    code = pd.Index(list(categories)).get_indexer(
        np.asarray(space_category, dtype=object)).astype(np.int64)  # -1: not computed
    chosen = code >= 0
    catchment_m = bands[-1][0] * walk_speed_m_per_min
    pairs = pairs_within(points.joined, points.origin_idx, points.target_idx[chosen],
                         max_m=catchment_m, sort=False)
    o = pairs["origin"].to_numpy()
    t = pairs["target"].to_numpy()
    weight = band_weights(pairs["distance_m"].to_numpy() / walk_speed_m_per_min, bands)
    access, _ = _two_steps(o, t, weight, pop[block] * share, cap[chosen], code[chosen],
                           len(categories))
    if origin_block is None:
        per_block = access
    else:  # each block: the population-weighted mean over its origins
        per_block = np.zeros((n_blocks, len(categories)))
        np.add.at(per_block, block, share[:, None] * access)
    logger.info("Supply per resident (E2SFCA, %g min): %d origin-space pairs, %d categories",
                bands[-1][0], len(pairs), len(categories))
    return pd.DataFrame(1000.0 * per_block, columns=[supply_col(c) for c in categories])


def compute_supply(  # noqa: PLR0913 (keyword-only options)
        network: WalkNetwork | PreparedPoints, blocks: gpd.GeoDataFrame,
        spaces: gpd.GeoDataFrame, *, population: str = "population",
        capacity: str = "capacity", categories: Sequence[str] | None = None,
        bands: Bands = DEFAULT_BANDS, walk_speed_kmh: float = 4.8,
        max_snap_m: float | None = None, origins: gpd.GeoDataFrame | None = None
        ) -> pd.DataFrame:
    """Compute every block's supply per 1,000 residents, per category (E2SFCA on foot).

    Parameters
    ----------
    network
        The walking network, or points prepared on it (:func:`sharemap.prepare_points`)
        that include the blocks' origins and the spaces.
    blocks
        Blocks (polygons; their representative point is the origin) with a
        `population` column, in the network's CRS.
    spaces
        Spaces (points) with ``category`` and a `capacity` column (1 per space
        when absent).
    population, capacity
        The column names of residents and of capacity.
    categories
        The categories to compute (default: every category of `spaces`).
    bands
        ``(upper_minute, weight)`` pairs (default: 5, 10 and 15 minutes weighted
        1.0, 0.68 and 0.22).
    walk_speed_kmh
        Walking speed.
    max_snap_m
        Farther than this from any street, a point is off the network (default
        250 m, or the prepared points' own).
    origins
        The blocks' origins with their shares of the residents (``block``, ``share``,
        points; :attr:`sharemap.StudyResult.origins`), in the order of the prepared
        points' origins. Default: :func:`sharemap.origins.block_origin_points` with
        its defaults, shared by area (with a network; with prepared points, one
        origin per block).

    Returns
    -------
    supply
        Aligned to `blocks`' index: ``supply_per_1000_<category>`` per category.

    Examples
    --------
    >>> import sharemap
    >>> from sharemap.datasets import get_path
    >>> r = sharemap.run_study(sharemap.read_config(get_path("demo")))
    >>> s = compute_supply(r.network, r.blocks, r.spaces, categories=["bike"])
    >>> bool((s["supply_per_1000_bike"] == r.blocks["supply_per_1000_bike"]).all())
    True
    """
    from .origins import block_origin_points, origin_shares

    cats = list(dict.fromkeys(spaces["category"])) if categories is None else list(categories)
    if origins is None and isinstance(network, WalkNetwork):
        origins = block_origin_points(blocks)
        origins["share"] = origin_shares(origins["block"].to_numpy(),
                                         origins["part_area_m2"].to_numpy(), len(blocks))
    points = as_prepared(network, blocks if origins is None else origins, spaces,
                         max_snap_m=max_snap_m)
    cap = (spaces[capacity].to_numpy(dtype=np.float64) if capacity in spaces
           else np.full(len(spaces), DEFAULT_CAPACITY))
    out = supply_per_block(
        points, population=blocks[population].to_numpy(dtype=np.float64, na_value=np.nan),
        capacity=cap, space_category=spaces["category"].to_numpy(), categories=cats,
        walk_speed_m_per_min=walk_speed_kmh * 1000.0 / 60.0, bands=bands,
        origin_block=None if origins is None else origins["block"].to_numpy(np.int64),
        origin_share=None if origins is None else origins["share"].to_numpy(np.float64))
    return out.set_axis(blocks.index)


def _unit_frame(blocks: pd.DataFrame, level: str | None, city_name: str) -> pd.DataFrame:
    if level is None:
        return pd.DataFrame({"area": city_name, "area_id": city_name}, index=blocks.index)
    return pd.DataFrame({"area": blocks[level], "area_id": blocks[f"{level}_id"]})


def supply_table(blocks: pd.DataFrame, spaces: pd.DataFrame, *, categories: Sequence[str],
                 levels: Sequence[str] = (), city_name: str = "city",
                 space_units: Mapping[str, pd.DataFrame] | None = None) -> pd.DataFrame:
    """Build ``supply.csv``: capacity, residents and supply per 1,000 per unit and category.

    Parameters
    ----------
    blocks
        Blocks with ``population``, ``supply_per_1000_<category>`` and, per level,
        the unit's name and id (``<level>``, ``<level>_id``).
    spaces
        Spaces with ``category`` and ``capacity``.
    categories
        The categories (as in the blocks' supply columns).
    levels
        The boundary levels, coarse to fine.
    city_name
        The ``area`` and ``area_id`` of the whole-study rows.
    space_units
        Per level, the unit of each space (columns ``name`` and ``id``, aligned to
        `spaces`), for the capacity standing in each unit.

    Returns
    -------
    supply
        :data:`SUPPLY_COLUMNS`: ``level = city`` first, then every unit of every
        level (sorted by name and id), each with every category. ``capacity`` is that
        of the category's spaces standing in the unit, ``population`` its residents
        and ``supply_per_1000`` the population-weighted mean of its blocks' values
        (empty where the unit has no residents).
    """
    pop = np.nan_to_num(blocks["population"].to_numpy(dtype=np.float64, na_value=np.nan))
    cap = spaces["capacity"].to_numpy(dtype=np.float64) if len(spaces) else np.zeros(0)
    frames = []
    for level in (None, *levels):
        units = _unit_frame(blocks, level, city_name)
        weighted = pd.DataFrame({supply_col(c): pop * blocks[supply_col(c)].to_numpy()
                                 for c in categories}, index=blocks.index)
        weighted["population"] = pop
        sums = pd.concat([units, weighted], axis=1).groupby(
            ["area", "area_id"], sort=True, dropna=True).sum()
        if level is None:
            sp_units = pd.DataFrame({"area": city_name, "area_id": city_name},
                                    index=spaces.index)
        else:
            where = (space_units or {}).get(level)
            sp_units = (pd.DataFrame({"area": where["name"].to_numpy(),
                                      "area_id": where["id"].to_numpy()}, index=spaces.index)
                        if where is not None else pd.DataFrame(
                            {"area": np.nan, "area_id": np.nan}, index=spaces.index))
        caps = pd.DataFrame({"area": sp_units["area"], "area_id": sp_units["area_id"],
                             "category": spaces["category"].to_numpy(), "capacity": cap})
        cap_sum = caps.groupby(["area", "area_id", "category"], dropna=True)["capacity"].sum()
        # unit by unit, each with every category (arrays: the same numbers as row by row)
        n, k = len(sums), len(categories)
        area = sums.index.get_level_values(0).repeat(k)
        area_id = sums.index.get_level_values(1).repeat(k)
        p = sums["population"].to_numpy(dtype=np.float64)
        keys = list(zip(area, area_id, list(categories) * n, strict=True))
        cap_of = dict(zip(cap_sum.index, cap_sum.to_numpy(dtype=np.float64), strict=True))
        with np.errstate(divide="ignore", invalid="ignore"):
            per = np.empty((n, k))
            for j, c in enumerate(categories):
                per[:, j] = sums[supply_col(c)].to_numpy(dtype=np.float64) / p
        per = np.where((p > 0)[:, None], per, np.nan)
        frames.append(pd.DataFrame({
            "level": "city" if level is None else level, "area": area.to_numpy(),
            "area_id": area_id.to_numpy(), "category": list(categories) * n,
            "capacity": [float(cap_of.get(key, 0.0)) for key in keys],
            "population": np.repeat(p, k), "supply_per_1000": per.ravel()}))
    if not sum(len(f) for f in frames):
        return pd.DataFrame([], columns=list(SUPPLY_COLUMNS))
    return pd.concat(frames, ignore_index=True)[list(SUPPLY_COLUMNS)]


def supply_headline(table: pd.DataFrame) -> dict[str, Any]:
    """Return the city's supply per 1,000 residents per category (for ``summary.json``)."""
    city = table[table["level"] == "city"]
    return {str(r.category): (None if pd.isna(r.supply_per_1000)
                              else round(float(r.supply_per_1000), 4))
            for r in city.itertuples()}
