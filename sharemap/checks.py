"""Study consistency checks: whether a study's inputs fit together well enough to answer it.

sharemap's walks are exact for the inputs it is given, but inputs can disagree: a
network that reaches a fraction of the study area, a boundary file whose units hold
no block, a layer whose every row was rejected. The checks here run after the inputs
are read and snapped and before any figure is computed. Each gives a :class:`Check`
(``name``, ``status`` ``ok``/``warning``/``error``, ``figure``, ``message``) that
``summary.json`` lists under ``"checks"``, the printed summary, ``report.html`` and
``map.html`` show; an ``error`` stops the run (:func:`raise_on_errors`) unless
``[network] allow_partial = true`` turns it into a warning.

How far the network reaches is measured on a regular grid of points covering the
study area (:func:`measure_network_reach`): a point is reached when a street lies
within ``max_snap_m`` of it, exactly the rule that decides whether a space or a
block origin can join the network.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import geopandas as gpd
import numpy as np
import numpy.typing as npt
import pandas as pd
import shapely

from ._errors import StudyCheckError

if TYPE_CHECKING:
    from .network import WalkNetwork

__all__ = [
    "GRID_MAX_POINTS",
    "GRID_MIN_SPACING_M",
    "MAX_BLOCK_SHARE",
    "MAX_DROPPED_SHARE",
    "MIN_NETWORK_SHARE",
    "STATUSES",
    "Check",
    "NetworkReach",
    "block_count_check",
    "boundary_units_check",
    "concentration_check",
    "excluded_streets_check",
    "measure_network_reach",
    "network_pieces_check",
    "network_reach_checks",
    "partial_check",
    "population_check",
    "profile_cut_off_check",
    "profile_tags_check",
    "raise_on_errors",
    "reach_from_frame",
    "reach_to_frame",
    "space_checks",
    "split_maps_check",
    "units_checks",
    "units_in_study_check",
    "within_reach",
]

logger = logging.getLogger(__name__)

STATUSES = ("ok", "warning", "error")
#: The least share of the study area the network must reach (within ``max_snap_m``).
MIN_NETWORK_SHARE = 0.9
#: Dropping more of the network's street length than this as disconnected pieces warns.
MAX_DROPPED_SHARE = 0.01
#: The reach grid: points this far apart at least, and at most this many in the study area.
GRID_MIN_SPACING_M = 20.0
GRID_MAX_POINTS = 100_000
#: Units or layers named in one message, at most.
_MAX_NAMED = 12
#: A block holding more than this share of its unit's residents is named in a warning.
MAX_BLOCK_SHARE = 0.5


@dataclass(frozen=True)
class Check:
    """One consistency check of a study.

    Attributes
    ----------
    name
        A stable identifier, e.g. ``network_covers_study_area``.
    status
        ``"ok"``, ``"warning"`` or ``"error"`` (an error stops the run).
    figure
        The number the check is about (a share, a count, residents), or None.
    message
        One line saying what was found and, for a warning or an error, what it
        means for the figures and how to fix it.
    """

    name: str
    status: str
    figure: float | int | None
    message: str

    def __post_init__(self) -> None:
        if self.status not in STATUSES:
            msg = f"check status must be one of {STATUSES}, got {self.status!r}"
            raise ValueError(msg)

    def as_dict(self) -> dict[str, Any]:
        """Return the check as ``summary.json`` lists it (plain JSON types)."""
        fig = self.figure
        if fig is not None:
            fig = int(fig) if isinstance(fig, (int, np.integer)) else float(fig)
            if isinstance(fig, float) and not math.isfinite(fig):
                fig = None
        return {"name": self.name, "status": self.status, "figure": fig,
                "message": self.message}


def _named(items: Sequence[str]) -> str:
    more = len(items) - _MAX_NAMED
    return ", ".join(items[:_MAX_NAMED]) + (f" and {more:,} more" if more > 0 else "")


def _pct(share: float) -> str:
    return f"{100 * share:.1f}%"


def raise_on_errors(checks: Sequence[Check]) -> None:
    """Stop the study when a check failed: one line naming every shortfall and its fix.

    Raises
    ------
    StudyCheckError
        When any check has status ``error``.
    """
    errors = [c for c in checks if c.status == "error"]
    if errors:
        msg = "the study's inputs do not fit together: " + " | ".join(
            c.message for c in errors)
        raise StudyCheckError(msg)


# ----------------------------------------------------------------------- network reach


@dataclass(frozen=True, eq=False)
class NetworkReach:
    """How much of a study the walk network reaches (within ``max_snap_m`` of a street).

    Attributes
    ----------
    spacing_m
        The grid spacing the shares were measured at.
    points
        Grid points in the study area (or, with no area, in the population units).
    share_area
        Share of the study area's grid points within reach; None with no study area.
    unit_share
        Per boundary level, per unit id: the share of the unit's part of the study
        area within reach (a unit too small to hold a grid point: 1 or 0 by its
        representative point).
    share_residents
        Share of the population level's residents (each unit's residents inside the
        study area, taken as evenly spread over its part of the area) within reach;
        None without population.
    """

    spacing_m: float
    points: int
    share_area: float | None
    unit_share: dict[str, pd.Series] = field(default_factory=dict)
    share_residents: float | None = None


def _grid(domain: shapely.Geometry, *, max_points: int,
          min_spacing_m: float) -> tuple[npt.NDArray[np.float64], float]:
    """Return the centres of the grid cells inside `domain` (cells on multiples of the spacing)."""
    spacing = max(min_spacing_m, math.sqrt(max(domain.area, 0.0) / max_points))
    x0, y0, x1, y1 = domain.bounds
    xs = (math.floor(x0 / spacing) + 0.5 + np.arange(int((x1 - x0) / spacing) + 2)) * spacing
    ys = (math.floor(y0 / spacing) + 0.5 + np.arange(int((y1 - y0) / spacing) + 2)) * spacing
    shapely.prepare(domain)
    out = []
    for y in ys:  # row by row: a long thin area never builds one huge mesh
        inside = shapely.contains_xy(domain, xs, np.full(len(xs), y))
        if inside.any():
            out.append(np.column_stack([xs[inside], np.full(int(inside.sum()), y)]))
    pts = np.concatenate(out) if out else np.empty((0, 2))
    return pts, spacing


def within_reach(network: WalkNetwork, xy: npt.NDArray[np.float64], *,
                 max_snap_m: float) -> npt.NDArray[np.bool_]:
    """Whether each point lies within `max_snap_m` of an edge of `network` (exactly).

    Notes
    -----
    A k-d tree over the edges' vertices, densified to at most 10 m apart, settles
    almost every point: a vertex within `max_snap_m` proves the point is reached, and
    none within ``max_snap_m + 5`` m proves it is not (no point of a segment is
    farther than 5 m from its nearest vertex). The few points between are measured
    against the edges themselves.
    """
    from scipy.spatial import cKDTree

    reach = np.zeros(len(xy), dtype=bool)
    if not len(xy) or not len(network.edges):
        return reach
    step = 10.0
    verts = shapely.get_coordinates(shapely.segmentize(network.edges.geometry.to_numpy(), step))
    dist, _ = cKDTree(verts).query(xy, distance_upper_bound=max_snap_m + step)
    reach[dist <= max_snap_m] = True
    maybe = np.flatnonzero((dist > max_snap_m) & (dist <= max_snap_m + step / 2 + 1e-6))
    if len(maybe):
        hit, _ = network.tree.query_nearest(shapely.points(xy[maybe]), max_distance=max_snap_m,
                                            all_matches=False)
        reach[maybe[hit]] = True
    return reach


def _unit_shares(units: gpd.GeoDataFrame, xy: npt.NDArray[np.float64],
                 reach: npt.NDArray[np.bool_], network: WalkNetwork, domain: shapely.Geometry,
                 max_snap_m: float) -> pd.Series:
    """Per unit id, the share of its grid points (in `domain`) within reach."""
    geoms = units.geometry.to_numpy()
    share = np.full(len(units), np.nan)
    order = np.argsort(xy[:, 0], kind="stable")  # points sorted by x: a unit's run is a slice
    xs, ys, hit = xy[order, 0], xy[order, 1], reach[order]
    for i, geom in enumerate(geoms):
        if geom is None or geom.is_empty:
            continue
        x0, y0, x1, y1 = geom.bounds
        lo, hi = np.searchsorted(xs, x0, side="left"), np.searchsorted(xs, x1, side="right")
        sel = np.flatnonzero((ys[lo:hi] >= y0) & (ys[lo:hi] <= y1)) + lo
        if not len(sel):
            continue
        shapely.prepare(geom)
        inside = sel[shapely.contains_xy(geom, xs[sel], ys[sel])]
        if len(inside):
            share[i] = hit[inside].mean()
    small = np.flatnonzero(np.isnan(share))
    if len(small):  # too small for a grid point: its representative point decides
        parts = shapely.intersection(geoms[small], domain)
        ok = ~(shapely.is_empty(parts) | shapely.is_missing(parts))
        pts = shapely.get_coordinates(shapely.point_on_surface(parts[ok]))
        share[small[ok]] = within_reach(network, pts, max_snap_m=max_snap_m).astype(float)
    return pd.Series(share, index=units["id"].astype(str).to_numpy(), dtype=float)


def measure_network_reach(network: WalkNetwork, area: shapely.Geometry | None,
                          units_by_level: Mapping[str, gpd.GeoDataFrame], *,
                          max_snap_m: float, population_level: str | None = None,
                          levels: Sequence[str] | None = None,
                          max_points: int = GRID_MAX_POINTS,
                          min_spacing_m: float = GRID_MIN_SPACING_M) -> NetworkReach:
    """Measure the share of the study area, its units and residents the network reaches.

    Parameters
    ----------
    network
        The walking network.
    area
        The study area (None: the population units, if any, are the domain).
    units_by_level
        The boundary units per level (``id``, ``population``, geometry).
    max_snap_m
        A point within this distance of a street is reached.
    population_level
        The level whose ``population`` gives the residents' share.
    levels
        The levels whose units' shares to measure (default: every level).
    max_points, min_spacing_m
        The grid: points at least `min_spacing_m` apart, coarser where the area
        would need more than `max_points`.

    Returns
    -------
    reach
        The shares (see :class:`NetworkReach`).

    Notes
    -----
    Residents are taken as evenly spread over each unit's part of the study area:
    the share reached is ``sum(residents_u * reached_u) / sum(residents_u)`` over
    the population level's units, where ``residents_u`` is the unit's population
    times the share of its area inside the study area (as the allocation counts it).
    """
    from .coverage import inside_share

    pop_units = units_by_level.get(population_level) if population_level else None
    domain = area
    if domain is None and pop_units is not None and len(pop_units):
        domain = shapely.union_all(pop_units.geometry.to_numpy())
    if domain is None or domain.is_empty:
        return NetworkReach(spacing_m=float("nan"), points=0, share_area=None)
    xy, spacing = _grid(domain, max_points=max_points, min_spacing_m=min_spacing_m)
    if not len(xy):  # an area smaller than one grid cell
        xy = shapely.get_coordinates(shapely.point_on_surface(domain))
    reach = within_reach(network, xy, max_snap_m=max_snap_m)
    wanted = set(units_by_level) if levels is None else {*levels, population_level}
    shares = {level: _unit_shares(units, xy, reach, network, domain, max_snap_m)
              for level, units in units_by_level.items() if len(units) and level in wanted}
    share_res = None
    if pop_units is not None and len(pop_units) and population_level in shares:
        residents = pop_units["population"].to_numpy(float) * inside_share(pop_units, area)
        unit_share = shares[population_level].to_numpy()
        ok = np.isfinite(residents) & np.isfinite(unit_share)
        total = float(residents[ok].sum())
        share_res = float((residents[ok] * unit_share[ok]).sum() / total) if total > 0 else None
    out = NetworkReach(spacing_m=float(spacing), points=len(xy),
                       share_area=float(reach.mean()) if area is not None else None,
                       unit_share=shares, share_residents=share_res)
    logger.info("Network reach: %s of the study area within %g m of a street (%d points, "
                "%.0f m apart)", "n/a" if out.share_area is None else _pct(out.share_area),
                max_snap_m, len(xy), spacing)
    return out


def reach_to_frame(reach: NetworkReach) -> pd.DataFrame:
    """Encode a :class:`NetworkReach` as a table (``level``, ``id``, ``share``), e.g. to cache it.

    The study-wide figures are rows with an empty ``level``: ``area``, ``residents``,
    ``spacing_m`` and ``points`` (NaN for None).
    """
    head = [("", "area", reach.share_area), ("", "residents", reach.share_residents),
            ("", "spacing_m", reach.spacing_m), ("", "points", float(reach.points))]
    rows = head + [(level, str(uid), float(v)) for level, shares in reach.unit_share.items()
                   for uid, v in shares.items()]
    return pd.DataFrame({"level": [r[0] for r in rows], "id": [r[1] for r in rows],
                         "share": np.array([np.nan if r[2] is None else r[2] for r in rows],
                                           dtype=float)})


def reach_from_frame(frame: pd.DataFrame) -> NetworkReach:
    """Decode what :func:`reach_to_frame` encoded."""
    head = frame[frame["level"] == ""].set_index("id")["share"]

    def opt(key: str) -> float | None:
        value = float(head[key])
        return None if math.isnan(value) else value

    units = frame[frame["level"] != ""]
    shares = {str(level): pd.Series(g["share"].to_numpy(float),
                                    index=g["id"].astype(str).to_numpy(), dtype=float)
              for level, g in units.groupby("level", sort=False)}
    return NetworkReach(spacing_m=float(head["spacing_m"]), points=int(head["points"]),
                        share_area=opt("area"), unit_share=shares,
                        share_residents=opt("residents"))


def _fix(max_snap_m: float) -> str:
    return (f"use a network covering the whole area, a smaller [study] area (e.g. "
            f"area_filter), or [network] allow_partial = true to limit every figure to the "
            f"part within {max_snap_m:g} m of the network")


def network_reach_checks(reach: NetworkReach, *, max_snap_m: float,
                         allow_partial: bool) -> list[Check]:
    """Check ``network_covers_study_area`` and ``network_covers_residents``.

    The first is an error (a warning with `allow_partial`) below
    :data:`MIN_NETWORK_SHARE`; the second warns below it.
    """
    out = []
    share = reach.share_area
    how = (f"within max_snap_m = {max_snap_m:g} m of a walkable street, measured on a "
           f"{reach.spacing_m:.0f} m grid")
    if share is None:
        out.append(Check("network_covers_study_area", "ok", None,
                         "no [study] area given: the study is where the network and blocks are"))
    elif share >= MIN_NETWORK_SHARE:
        out.append(Check("network_covers_study_area", "ok", round(share, 4),
                         f"{_pct(share)} of the study area lies {how}"))
    else:
        status = "warning" if allow_partial else "error"
        tail = ("allow_partial = true: every figure covers only the part the network reaches"
                if allow_partial else _fix(max_snap_m))
        out.append(Check("network_covers_study_area", status, round(share, 4),
                         f"the walk network reaches only {_pct(share)} of the study area ({how}; "
                         f"at least {_pct(MIN_NETWORK_SHARE)} needed): {tail}"))
    res = reach.share_residents
    if res is None:
        out.append(Check("network_covers_residents", "ok", None, "no population given"))
    elif res >= MIN_NETWORK_SHARE:
        out.append(Check("network_covers_residents", "ok", round(res, 4),
                         f"{_pct(res)} of the residents live within {max_snap_m:g} m of a "
                         "walkable street"))
    else:
        out.append(Check("network_covers_residents", "warning", round(res, 4),
                         f"only {_pct(res)} of the residents live within {max_snap_m:g} m of "
                         "a walkable street (each unit's residents taken as evenly spread): "
                         "the others' blocks are unreachable or missing"))
    return out


# ----------------------------------------------------------------------------- counts


def block_count_check(n_blocks: int, *, allow_partial: bool) -> Check:
    """Check ``blocks``: an error (a warning with `allow_partial`) when there is none."""
    if n_blocks > 0:
        return Check("blocks", "ok", n_blocks, f"{n_blocks:,} blocks")
    return Check("blocks", "warning" if allow_partial else "error", 0,
                 "no block in the study: the network encloses no block inside the study area "
                 "(or [blocks] path has none there); use a network that covers the study area "
                 "or check [study] area and area_filter")


def space_checks(inputs: Sequence[Mapping[str, Any]], *, allow_partial: bool,
                 closed: Mapping[str, int] | None = None, at: str | None = None
                 ) -> list[Check]:
    """Check ``spaces`` (an error when no space is analysed) and ``layers_without_spaces``.

    Parameters
    ----------
    inputs
        ``summary.json``'s ``inputs`` entries (``source``, ``category``, ``rows_read``,
        ``spaces``, ``rejects_by_reason``); with ``[study] at``, a space closed then
        counts among ``spaces`` (an input that fits).
    allow_partial
        Turn the error into a warning.
    closed
        With `at`: per source, its spaces closed at `at` (left out of the figures); the
        messages say how many, and name the layers with no space open then.
    at
        The time of week (``[study] at``).
    """
    total = sum(int(i["spaces"]) for i in inputs)
    empty = [i for i in inputs if int(i["spaces"]) == 0]
    shut = dict(closed or {})
    n_shut = sum(shut.values())
    when = f" at {at}" if at else ""
    all_shut = [f"{i['category']} ({i['source']})" for i in inputs
                if int(i["spaces"]) and shut.get(i["source"], 0) >= int(i["spaces"])]

    def why(i: Mapping[str, Any]) -> str:
        reasons = ", ".join(f"{k} {v:,}" for k, v in i["rejects_by_reason"].items()) or "no rows"
        return f"{i['category']} ({i['source']}: {int(i['rows_read']):,} rows; {reasons})"

    out = []
    if total:
        some_shut = (f", {n_shut:,} of them closed{when} and not in the figures"
                     if n_shut else "")
        out.append(Check("spaces", "ok", total, f"{total:,} spaces analysed{some_shut}"))
    else:
        out.append(Check("spaces", "warning" if allow_partial else "error", 0,
                         "no sharing space was analysed, every row of every layer was "
                         "rejected (see rejects.csv): check that the layers and the network "
                         "cover the study area"))
    if empty:
        out.append(Check("layers_without_spaces", "warning", len(empty),
                         f"{len(empty)} layer(s) have no analysed space, so no block is within "
                         f"a walk of them: {_named([why(i) for i in empty])}"))
    else:
        none_open = (f"; no space open{when} in {_named(all_shut)}, so the figures reach none "
                     "of them" if all_shut else "")
        out.append(Check("layers_without_spaces", "ok", 0,
                         f"every layer has analysed spaces{none_open}"))
    return out


def units_checks(units_by_level: Mapping[str, gpd.GeoDataFrame],
                 held: Mapping[str, set[str]]) -> list[Check]:
    """Check ``units_without_blocks:<level>``: units of each level that hold no block origin.

    Parameters
    ----------
    units_by_level
        The study's units per level (``name``, ``id``, ``population``).
    held
        Per level, the ids of the units that hold a block origin.
    """
    out = []
    for level, units in units_by_level.items():
        ids = units["id"].astype(str)
        empty = units[~ids.isin(held.get(level, set())).to_numpy()]
        name = f"units_without_blocks:{level}"
        if not len(empty):
            out.append(Check(name, "ok", 0, f"every {level} unit holds a block"))
            continue
        pop = empty["population"].to_numpy(float)
        named = [f"{n}" + (f" ({p:,.0f} residents)" if np.isfinite(p) else "")
                 for n, p in zip(empty["name"].astype(str), pop, strict=True)]
        out.append(Check(name, "warning", len(empty),
                         f"{len(empty):,} of {len(units):,} {level} units hold no block and are "
                         f"in no figure: {_named(named)}"))
    return out


def units_in_study_check(level: str, *, units_read: int, units_in_study: int, source: str,
                         filter: Mapping[str, Any] | None = None,
                         population_outside: float | None = None) -> Check:
    """Check ``units_in_study:<level>``: a boundary level with no unit in the study is an error.

    A level all of whose units lie outside the study area (a boundary file or a level
    ``filter`` naming another district) would be in no figure, and with the population
    on it every resident would vanish while the run counted blocks instead.

    Parameters
    ----------
    level
        The level's name.
    units_read
        Its units read from `source` (after its `filter`).
    units_in_study
        Those that lie in the study (:func:`sharemap.pipeline.units_in_study`).
    source
        The boundary file, as the study names it.
    filter
        The level's ``filter``, named in the message.
    population_outside
        The residents of the units outside the study (None: the level has none).
    """
    name = f"units_in_study:{level}"
    if units_in_study or not units_read:
        return Check(name, "ok", units_in_study,
                     f"{units_in_study:,} of the {units_read:,} {level} units read lie in the "
                     "study area")
    kept = (" (filter " + ", ".join(f"{k} = {v}" for k, v in filter.items()) + ")"
            if filter else "")
    residents = (f" with their {population_outside:,.0f} residents"
                 if population_outside is not None and population_outside > 0 else "")
    return Check(name, "error", 0,
                 f"none of the {units_read:,} {level} units of {source}{kept} lies in the "
                 f"study area, so the level and its units{residents} would be in no figure: "
                 f"give the {level} level the file or `filter` of the study's own area, or "
                 "change [study] area / area_filter")


def boundary_units_check(rejects: Sequence[pd.DataFrame]) -> Check:
    """Check ``boundary_units_not_used``: units left out or given no block, and why.

    Parameters
    ----------
    rejects
        Per boundary level, its units without a usable polygon or lying inside an
        earlier unit (:func:`sharemap.coverage.read_boundary_units`, with ``level``).
    """
    frames = [f for f in rejects if len(f)]
    if not frames:
        return Check("boundary_units_not_used", "ok", 0,
                     "every boundary unit has a polygon of its own")
    table = pd.concat(frames, ignore_index=True)
    named = [f"{r.unit} ({r.level}, {r.reason})" for r in table.itertuples()]
    pop = pd.to_numeric(table["population"], errors="coerce").sum()
    residents = f", {pop:,.0f} residents not placed on any block" if pop > 0 else ""
    return Check("boundary_units_not_used", "warning", len(table),
                 f"{len(table):,} boundary unit(s) not used{residents}: {_named(named)} "
                 "(summary.json boundary_rejects)")


def population_check(unallocated: float | None, total: float | None) -> Check:
    """Check ``population_unallocated``: residents of units that hold no block."""
    if unallocated is None:
        return Check("population_unallocated", "ok", None, "no population given")
    if unallocated < 0.5:
        return Check("population_unallocated", "ok", 0.0,
                     "every resident is allocated to a block")
    whole = (total or 0.0) + unallocated
    share = f" ({_pct(unallocated / whole)} of {whole:,.0f})" if whole > 0 else ""
    return Check("population_unallocated", "warning", round(unallocated, 2),
                 f"{unallocated:,.0f} residents{share} live in units that hold no block and "
                 "are in no figure (see units_without_blocks)")


def concentration_check(blocks: pd.DataFrame, level: str, *, weighted: bool) -> Check:
    """Check ``block_holds_most_of_unit``: blocks holding most of their unit's residents.

    A unit's residents are spread over its blocks by area (or by ``[coverage]
    weights``); one block holding more than :data:`MAX_BLOCK_SHARE` of them is
    usually a park, a campus or a mountain that the spread filled with people
    (Dongdaemun's block 507, 배봉산 and the University of Seoul: 79% of 전농2동).

    Parameters
    ----------
    blocks
        Blocks with ``block_id``, ``population`` and the level's ``<level>`` (name) and
        ``<level>_id`` columns.
    level
        The boundary level that carries the population.
    weighted
        Whether ``[coverage] weights`` spread the residents (the advice differs).

    Returns
    -------
    check
        ``warning`` naming every such block (its ``block_id``, unit, residents and
        share), ``figure`` their number; ``ok`` (0) when there is none.
    """
    name = "block_holds_most_of_unit"
    pop = pd.to_numeric(blocks["population"], errors="coerce").fillna(0.0)
    unit = blocks[f"{level}_id"]
    total = pop.groupby(unit).transform("sum")
    with np.errstate(invalid="ignore", divide="ignore"):
        share = (pop / total).where(total > 0)
    hot = (share > MAX_BLOCK_SHARE).to_numpy() & unit.notna().to_numpy()
    if not hot.any():
        return Check(name, "ok", 0, f"no block holds more than half of its {level}'s residents")
    n_in_unit = unit.map(unit.value_counts())
    rows = pd.DataFrame({"block_id": blocks["block_id"], "unit": blocks[level], "pop": pop,
                         "total": total, "share": share, "alone": n_in_unit == 1})[hot]
    rows = rows.sort_values(["share", "pop"], ascending=False)
    named = [f"block {r.block_id} ({r.unit}: {r.pop:,.0f} of {r.total:,.0f} residents, "
             f"{_pct(r.share)}{', its only block' if r.alone else ''})"
             for r in rows.itertuples()]
    fix = ("check the weights layer covers the unit's homes" if weighted else
           "residents are spread by block area: give [coverage] weights (land use, buildings "
           "or a population grid) so that parks, campuses and mountains hold none")
    return Check(name, "warning", len(rows),
                 f"{len(rows):,} block(s) hold more than half of their {level}'s residents: "
                 f"{', '.join(named)}; {fix}")


def network_pieces_check(info: Mapping[str, Any], n_rejected: int) -> Check:
    """Check ``network_pieces_dropped``: the share of street length in dropped pieces.

    A warning above :data:`MAX_DROPPED_SHARE`, or when any input row was rejected as
    ``disconnected_network``.
    """
    kept = float(info.get("length_km", 0.0))
    dropped = float(info.get("length_km_dropped", 0.0))
    pieces = int(info.get("components_dropped", 0))
    share = dropped / (kept + dropped) if kept + dropped > 0 else 0.0
    if pieces == 0:
        return Check("network_pieces_dropped", "ok", 0.0, "the walk network is one piece")
    what = (f"the walk network falls apart: {pieces:,} piece(s) not connected to the largest, "
            f"{dropped:,.2f} km of streets ({_pct(share)}) and "
            f"{int(info.get('nodes_dropped', 0)):,} nodes, were dropped")
    if share > MAX_DROPPED_SHARE or n_rejected:
        rows = (f"; {n_rejected:,} input rows near them are rejected as disconnected_network"
                if n_rejected else "")
        return Check("network_pieces_dropped", "warning", round(share, 4),
                     f"{what}{rows}: join the pieces (a network extract with the streets that "
                     "connect them) to analyse them")
    return Check("network_pieces_dropped", "ok", round(share, 4), what)


def excluded_streets_check(network: WalkNetwork, origin_blocks: npt.ArrayLike,
                           origin_snaps: pd.DataFrame, space_ids: npt.ArrayLike,
                           space_snaps: pd.DataFrame) -> Check:
    """Check ``joined_excluded_streets``: points that joined a street in ``snap_exclude``.

    A block origin or a space joins an edge ``[network] snap_exclude`` names (an
    expressway, a bridge, a tunnel) only when no other edge lies within
    ``max_snap_m`` (:func:`sharemap.access.snap_points`); its walks then start on that
    edge, which a pedestrian may not be able to step onto. The figure counts such
    points; the message names their blocks and spaces.

    Parameters
    ----------
    network
        The walking network (its ``snap_exclude``).
    origin_blocks, origin_snaps
        Per block origin, its block's id and its snap.
    space_ids, space_snaps
        Per analysed space, its id and its snap.
    """
    excluded = network.snap_excluded()

    def on_excluded(snaps: pd.DataFrame) -> npt.NDArray[np.bool_]:
        edge = snaps["edge"].to_numpy(np.int64)
        hit = np.zeros(len(edge), dtype=bool)
        hit[edge >= 0] = excluded[edge[edge >= 0]]
        return hit

    at_origin = on_excluded(origin_snaps)
    blocks = pd.unique(np.asarray(origin_blocks)[at_origin])
    spaces = np.asarray(space_ids)[on_excluded(space_snaps)]
    n = int(at_origin.sum() + len(spaces))
    rule = ", ".join(network.snap_exclude) or "nothing"
    if not n:
        return Check("joined_excluded_streets", "ok", 0,
                     f"no block origin or space joined a street in snap_exclude ({rule})")
    named = [f"block {b}" for b in blocks] + [f"space {s}" for s in spaces]
    return Check("joined_excluded_streets", "warning", n,
                 f"{n:,} point{'s' if n > 1 else ''} (block origins, spaces) joined a "
                 f"street in snap_exclude ({rule}) "
                 f"because no other street lies within max_snap_m: their walks start where "
                 f"a pedestrian may not step on; check {_named(named)}")


def split_maps_check(level: str, units: gpd.GeoDataFrame, held: set[str]) -> Check:
    """Check ``split_map_units_skipped``: units of the split level with no block get no map."""
    ids = units["id"].astype(str)
    skipped = units["name"].astype(str)[~ids.isin(held).to_numpy()].tolist()
    if not skipped:
        return Check("split_map_units_skipped", "ok", 0,
                     f"one map for each of the {len(units):,} {level} units")
    return Check("split_map_units_skipped", "warning", len(skipped),
                 f"{len(skipped):,} of {len(units):,} {level} units hold no block and get no "
                 f"map in maps/: {_named(skipped)}")


def partial_check(left_out: Mapping[str, Any], *, n_blocks: int, population: float | None,
                  max_snap_m: float) -> Check:
    """Check ``partial_study``: what ``allow_partial`` left out of every figure.

    Parameters
    ----------
    left_out
        ``blocks`` (count), ``units`` (per level, the names left out) and
        ``population`` (residents of the population units left out).
    n_blocks
        Blocks counted.
    population
        Residents counted (None without population).
    max_snap_m
        The reach of the network.
    """
    levels = [(level, names) for level, names in left_out["units"].items() if names]
    n_left = int(left_out["blocks"]) + sum(len(n) for _, n in levels)
    rule = (f"allow_partial = true: every figure covers only the part of the study the network "
            f"reaches: blocks whose origin lies within {max_snap_m:g} m of a street, in units "
            f"with at least {_pct(MIN_NETWORK_SHARE)} of their area that near a street")
    counted = f"{n_blocks:,} blocks" + (f" and {population:,.0f} residents" if population
                                         is not None else "")
    if not n_left:
        return Check("partial_study", "ok", 0, f"{rule}; nothing is left out ({counted})")
    units = "; ".join(f"{len(names):,} {level} units ({_named(names)})" for level, names in levels)
    pop = left_out.get("population")
    residents = f", {pop:,.0f} residents of those units" if pop else ""
    return Check("partial_study", "warning", n_left,
                 f"{rule}. Counted: {counted}. Left out: {int(left_out['blocks']):,} blocks"
                 f"{residents}" + (f"; {units}" if units else ""))


def _count(n: int, noun: str) -> str:
    return f"{n:,} {noun}{'' if n == 1 else 's'}"


def profile_cut_off_check(profiles: Mapping[str, Mapping[str, Any]]) -> Check:
    """Check ``profile_points_cut_off``: block origins and spaces a mobility profile cannot use.

    Parameters
    ----------
    profiles
        ``summary.json``'s ``"profiles"``: per profile that leaves streets out, its
        ``origins_cut_off``, ``blocks_cut_off``, ``block_ids_cut_off`` (by reason),
        ``residents_cut_off`` (per group) and ``spaces_cut_off`` (id, category, reason).

    Returns
    -------
    check
        A warning when any point is cut off (its figure: the block origins and spaces
        cut off, all profiles together): the groups of that profile count those
        residents as not reached and never reach those spaces.
    """
    parts, total = [], 0
    for name, p in profiles.items():
        n_o, spaces = int(p["origins_cut_off"]), list(p["spaces_cut_off"])
        if not n_o and not spaces:
            continue
        total += n_o + len(spaces)
        reasons = sorted({*p["block_ids_cut_off"], *(s["reason"] for s in spaces)})
        people = ", ".join(f"{v:,.0f} of {g!r}" for g, v in p["residents_cut_off"].items()
                           if v is not None)
        named = _named([f"{s['category']} {s['space_id']}" for s in spaces])
        parts.append(
            f"{name}: {_count(n_o, 'block origin')} in "
            f"{_count(int(p['blocks_cut_off']), 'block')}"
            + (f" ({people} residents)" if people else "")
            + f" and {_count(len(spaces), 'space')}" + (f" ({named})" if named else "")
            + f" stand on streets it leaves out ({', '.join(reasons)})")
    if not total:
        return Check("profile_points_cut_off", "ok", 0,
                     "every block origin and space stands on streets each group's mobility "
                     "profile can use")
    return Check("profile_points_cut_off", "warning", total,
                 "; ".join(parts) + ": the groups on that profile count those residents as "
                 "not reached and reach none of those spaces (summary.json \"profiles\" lists "
                 "them; a space or an entrance on a usable street fixes it)")


def profile_tags_check(profiles: Mapping[str, Mapping[str, Any]]) -> Check:
    """Check ``profile_tags_missing``: a profile's rules the network's tags cannot serve.

    Parameters
    ----------
    profiles
        ``summary.json``'s ``"profiles"``: per profile its ``filter`` and
        ``tags_missing`` (the tags it reads that no street of the network carries).

    Returns
    -------
    check
        A warning when a profile reads a tag no street has (``incline``,
        ``wheelchair``): its figures then leave out only what the other rules see
        (steps), not the slopes or the ways marked unusable.
    """
    parts = [f"{name} ({', '.join(p['tags_missing'])})" for name, p in profiles.items()
             if p.get("tags_missing")]
    if not parts:
        return Check("profile_tags_missing", "ok", 0,
                     "the network carries every tag the groups' mobility profiles read")
    return Check("profile_tags_missing", "warning", len(parts),
                 f"no street of the network is tagged with what these profiles read: "
                 f"{'; '.join(parts)}, so their rules on those tags leave nothing out and "
                 "their figures count only the rest (steps): use a network with the OSM tags "
                 "wheelchair and incline (sharemap keeps them from OSM XML/PBF, downloads and "
                 "GraphML that has them) to count slopes and ways marked wheelchair=no")
