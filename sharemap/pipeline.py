"""One study from configuration to outputs: the stages chained, timed and written.

``run_study`` returns every intermediate result as GeoDataFrames an analyst can
keep working with; ``write_outputs`` writes the SPEC's output folder atomically.

This is the bottom of the study level: it imports the stages (layers, network,
access, blocks, villages, gaps, coverage, supply, maps), which never import it.
The study's block origins and spaces are snapped and joined once
(:func:`sharemap.access.prepare_points`), kept in ``StudyResult.points`` and reused
by every stage and by what builds on a finished study (:mod:`sharemap.study`:
what-ifs through :func:`recompute_with_spaces`, sweeps, explanations; and
:mod:`sharemap.suggest`, :mod:`sharemap.report`).
"""

from __future__ import annotations

import logging
import platform
import time
import warnings
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field, replace
from functools import cached_property
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import numpy.typing as npt
import pandas as pd
import shapely

from . import _cache, _outputs
from . import checks as _checks
from ._boundaries import boundary_rejects_message
from ._compat import package_version
from ._crs import to_web_crs
from .access import (
    PreparedPoints,
    metres_per_minute,
    nearest_distance,
    pairs_within,
    prepare_points,
    snap_points,
    walk_col,
)
from .blocks import block_origins, blocks_from_network, read_barriers, read_blocks
from .checks import Check, NetworkReach
from .config import GroupConfig, StudyConfig, check_input_files
from .coverage import (
    CoverageAudit,
    allocate_population,
    assign_units,
    compute_audit,
    compute_proximity,
    inside_share,
    read_area,
    read_boundary_units,
)
from .hours import hours_state, parse_time_of_week, state_counts
from .layers import REJECT_COLUMNS, layer_sources, read_layers
from .network import WalkNetwork, load_network
from .origins import block_median, block_origin_points, block_pairs, origin_shares
from .profiles import (
    ProfileNetwork,
    cut_off_points,
    get_profile,
    group_minutes,
    group_walk_col,
    profile_network,
    profile_points,
)
from .supply import (
    SUPPLY_COLUMNS,
    supply_col,
    supply_headline,
    supply_per_block,
    supply_table,
)
from .villages import compute_candidates, compute_villages, village_unions
from .weights import part_weights

__all__ = ["OUTPUT_FILES", "RUN_OUTPUTS", "StudyResult", "recompute_with_spaces", "run_study",
           "write_outputs"]

logger = logging.getLogger(__name__)

@dataclass(frozen=True, eq=False)
class StudyResult:
    """Everything a study computed, in the analysis CRS.

    Attributes
    ----------
    config
        The study configuration.
    network
        The prepared walking network.
    study_area
        The study-area polygon (or None).
    spaces
        Analysed spaces with ``snap_m``.
    rejects
        Every input row not analysed, with its reason.
    blocks
        Blocks with every SPEC column (and ``adjacent_space_ids``, ``<level>_id``).
    adjacency
        One row per (block, adjacent space): ``block_id``, ``space`` (index into
        `spaces`), ``space_id``, ``category``, ``minutes``.
    villages
        Villages with score and rank.
    coverage
        The coverage table.
    boundaries
        The boundary units per level.
    summary
        What ``summary.json`` holds.
    gaps
        The gaps table (``gaps.csv``; see :func:`sharemap.coverage.compute_gaps`).
    coverage_groups
        Coverage per population group at its own walking speed
        (``coverage_groups.csv``); None when no groups are configured.
    origin_snaps
        The blocks' origins snapped to the network (:func:`sharemap.snap_points`,
        aligned to `origins`), as the study used them; see :meth:`block_snaps`.
    points
        The block origins and the analysed spaces snapped and joined into the network
        (:func:`sharemap.access.prepare_points`), as the study measured them; see
        :meth:`prepared_points`.
    supply
        Supply per 1,000 residents by unit and category (``supply.csv``, see
        :func:`sharemap.supply.supply_table`); None when the blocks have no residents
        or ``[supply] categories`` is empty.
    closed
        With ``config.at``: the spaces closed at that time (not analysed; in
        `rejects` as ``closed``), with the columns of `spaces`; else None.
    origins
        Every block's origins (:func:`sharemap.origins.block_origin_points`): one row
        per origin, block by block, with ``block`` (position in `blocks`),
        ``block_id``, ``origin``, ``part_area_m2``, ``share`` (of the block's
        residents), ``population`` (the block's residents times `share`, when known)
        and ``walk_min_<category>``; one row per block for blocks judged from one
        origin. See :meth:`study_origins`.
    checks
        The study's consistency checks (:mod:`sharemap.checks`), as ``summary.json``
        lists them under ``"checks"``.
    profiles
        The network of every mobility profile a group walks with that leaves streets
        out (:func:`sharemap.profiles.profile_network`), by name; empty when there is
        none.
    """

    config: StudyConfig
    network: WalkNetwork
    study_area: shapely.Geometry | None
    spaces: gpd.GeoDataFrame
    rejects: pd.DataFrame
    blocks: gpd.GeoDataFrame
    adjacency: pd.DataFrame
    villages: gpd.GeoDataFrame
    coverage: pd.DataFrame
    boundaries: dict[str, gpd.GeoDataFrame] = field(default_factory=dict)
    summary: dict[str, Any] = field(default_factory=dict)
    gaps: pd.DataFrame | None = None
    coverage_groups: pd.DataFrame | None = None
    origin_snaps: pd.DataFrame | None = None
    points: PreparedPoints | None = None
    supply: pd.DataFrame | None = None
    closed: gpd.GeoDataFrame | None = None
    origins: gpd.GeoDataFrame | None = None
    checks: tuple[Check, ...] = ()
    profiles: dict[str, ProfileNetwork] = field(default_factory=dict)

    def warnings(self) -> list[Check]:
        """Return the checks that did not pass (a finished study's are all warnings)."""
        return [c for c in self.checks if c.status != "ok"]

    def map_frame(self) -> gpd.GeoSeries | None:
        """Return the area the maps show: the study area, or the part of it counted.

        With ``allow_partial`` leaving units or blocks out, the counted units' part of
        the study area (the blocks' extent without boundaries); without a study area,
        None (the maps show their layers).
        """
        area = self.study_area
        left = self.summary.get("partial") or {}
        region = area
        if left.get("blocks_left_out") or any((left.get("units_left_out") or {}).values()):
            geoms = [g for units in self.boundaries.values() for g in units.geometry.to_numpy()]
            if geoms:
                region = shapely.union_all(geoms)
                region = region if area is None else shapely.intersection(region, area)
            elif len(self.blocks):
                region = shapely.box(*self.blocks.total_bounds)
        if region is None or region.is_empty:
            return None
        return gpd.GeoSeries([region], crs=self.blocks.crs)

    def study_origins(self) -> gpd.GeoDataFrame:
        """Return the blocks' origins (`origins`), derived again if they do not fit `blocks`.

        Origins derived again are shared by area (as a study without weights shares them).
        """
        own = self.origins
        if own is not None and len(own) and own["block"].iloc[-1] == len(self.blocks) - 1 \
                and np.array_equal(own["block_id"].to_numpy()[_first_rows(own)],
                                   self.blocks["block_id"].to_numpy()):
            return own
        bcfg = self.config.blocks
        origins = block_origin_points(self.blocks, min_area_m2=bcfg.origin_grid_min_area_m2,
                                      spacing_m=bcfg.origin_spacing_m)
        origins["share"] = origin_shares(origins["block"].to_numpy(),
                                         origins["part_area_m2"].to_numpy(), len(self.blocks))
        return origins

    def __repr__(self) -> str:
        # one line, not every table (the dataclass default)
        cand = int(self.blocks["candidate"].sum()) if "candidate" in self.blocks else 0
        return (f"StudyResult({self.config.name!r}: {len(self.blocks):,} blocks "
                f"({cand:,} candidates), {len(self.spaces):,} spaces, "
                f"{len(self.villages):,} villages, {len(self.rejects):,} rejected rows; "
                f"{self.network!r})")

    def block_snaps(self) -> pd.DataFrame:
        """Return the blocks' origins snapped to the network, aligned to :meth:`study_origins`.

        The study's own snaps when it kept them (snapping 100,000 origins takes
        seconds, and what-ifs, sweeps and suggestions need them again), else snapped now.
        """
        own, snaps = self.origins, self.origin_snaps
        if (own is not None and snaps is not None and len(snaps) == len(own)
                and self.study_origins() is own):
            return snaps.set_axis(own.index)
        return snap_points(self.network, self.study_origins(),
                           max_snap_m=self.config.network.max_snap_m)

    def prepared_points(self) -> PreparedPoints:
        """Return the block origins (see :meth:`block_snaps`) and the spaces, prepared.

        The study's own when it kept them (so sweeps, explanations and audits snap
        nothing again), else prepared now.
        """
        own = self.points
        if (own is not None and own.n_origins == len(self.study_origins())
                and len(own.target_snaps) == len(self.spaces)):
            return own
        return prepare_points(self.network, self.block_snaps(), self.spaces,
                              max_snap_m=self.config.network.max_snap_m)


def _first_rows(origins: pd.DataFrame) -> npt.NDArray[np.int64]:
    """Return the row of each block's first origin."""
    block = origins["block"].to_numpy()
    return np.flatnonzero(np.r_[True, block[1:] != block[:-1]])


@contextmanager
def _stage(timings: dict[str, float], name: str) -> Iterator[None]:
    start = time.perf_counter()
    yield
    timings[name] = round(time.perf_counter() - start, 3)
    logger.info("Stage %s took %.2f s", name, timings[name])


def read_study_area(config: StudyConfig) -> shapely.Geometry | None:
    """Read ``[study].area`` (filtered by ``area_filter``) as one polygon in the study CRS."""
    if config.area is None:
        return None
    return read_area(config.area, crs=config.crs, filter=config.area_filter)


def _snap_spaces(network: WalkNetwork, spaces: gpd.GeoDataFrame, max_snap_m: float
                 ) -> tuple[gpd.GeoDataFrame, pd.DataFrame, pd.DataFrame]:
    """Snap the spaces; keep those on the network (numbered again, with ``snap_m``).

    Returns the kept spaces, their snaps and the others as rejects (``off_network``, or
    ``disconnected_network`` near a dropped piece of the network).
    """
    snaps = snap_points(network, spaces, max_snap_m=max_snap_m)
    rejects = _off_network_rejects(spaces, snaps, max_snap_m, network)
    on = snaps["on_network"].to_numpy()
    spaces = spaces[on].reset_index(drop=True)
    snaps = snaps[on].reset_index(drop=True)
    spaces["snap_m"] = snaps["offset_m"].round(2).to_numpy()
    spaces["snap_highway"], spaces["snap_street"] = _snap_streets(network, snaps)
    return spaces, snaps, rejects


def _snap_streets(network: WalkNetwork, snaps: pd.DataFrame
                 ) -> tuple[npt.NDArray[np.object_], npt.NDArray[np.object_]]:
    """Return the class (``highway``) and name of the street each snap joined (None: off)."""
    edge = snaps["edge"].to_numpy(np.int64)
    on = edge >= 0
    highway = np.full(len(edge), None, dtype=object)
    street = np.full(len(edge), None, dtype=object)
    highway[on] = network.edges["highway"].to_numpy(dtype=object)[edge[on]]
    street[on] = network.edges["name"].to_numpy(dtype=object)[edge[on]]
    return highway, street


def _study_network(config: StudyConfig, network: WalkNetwork | None, *,
                   cache: bool) -> WalkNetwork:
    """Return the study's network (`network` if given), snapping by its ``snap_exclude``."""
    net = network if network is not None else load_network(config.network, config.crs,
                                                            cache=cache)
    if net.snap_exclude != tuple(config.network.snap_exclude):  # a network passed in
        net = replace(net, snap_exclude=tuple(config.network.snap_exclude))
    return net


def _label_blocks(network: WalkNetwork, blocks: gpd.GeoDataFrame, origins: gpd.GeoDataFrame,
                  snaps: pd.DataFrame) -> None:
    """Add ``n_origins`` and the street the block's origins join (in place)."""
    block = origins["block"].to_numpy()
    blocks.insert(2, "n_origins", np.bincount(block, minlength=len(blocks)).astype(np.int64))
    blocks["snap_highway"], blocks["snap_street"] = _block_streets(network, block, snaps,
                                                                   len(blocks))


def _block_streets(network: WalkNetwork, block: npt.NDArray[np.int64], snaps: pd.DataFrame,
                   n_blocks: int) -> tuple[npt.NDArray[np.object_], npt.NDArray[np.object_]]:
    """Per block, the street its origin joins: for several origins, the one most join.

    Ties go to the street of the earlier origin (north-west first); None when no
    origin of the block joins the network.
    """
    highway, street = _snap_streets(network, snaps)
    frame = pd.DataFrame({"block": block, "hw": highway, "name": street,
                          "order": np.arange(len(block))})
    frame = frame[frame["hw"].notna()]
    counts = frame.groupby(["block", "hw", "name"], sort=False).agg(
        n=("order", "size"), first=("order", "min")).reset_index()
    best = counts.sort_values(["block", "n", "first"], ascending=[True, False, True]
                              ).drop_duplicates("block")
    out_hw = np.full(n_blocks, None, dtype=object)
    out_name = np.full(n_blocks, None, dtype=object)
    rows = best["block"].to_numpy(np.int64)
    out_hw[rows] = best["hw"].to_numpy(dtype=object)
    out_name[rows] = best["name"].to_numpy(dtype=object)
    return out_hw, out_name


def _off_network_rejects(spaces: gpd.GeoDataFrame, snaps: pd.DataFrame, max_snap_m: float,
                         network: WalkNetwork | None = None) -> pd.DataFrame:
    """Reject the spaces that did not join the network, each with its true reason.

    ``disconnected_network`` when a street of a dropped piece of the network lies within
    `max_snap_m` (the space would have joined it), else ``off_network``.
    """
    off = spaces[~snaps["on_network"].to_numpy()]
    reason = np.full(len(off), "off_network", dtype=object)
    detail = np.array([f"no walkable street within max_snap_m = {max_snap_m:g} m of space "
                       f"{sid}" for sid in off["space_id"]], dtype=object)
    dropped = network.dropped if network is not None else None
    if len(off) and dropped is not None and len(dropped):
        tree = shapely.STRtree(dropped.geometry.to_numpy())
        (pi, ei), dist = tree.query_nearest(off.geometry.to_numpy(), max_distance=max_snap_m,
                                            return_distance=True, all_matches=False)
        pieces = dropped.groupby("piece")["length_m"].sum()
        for i, e, d in zip(pi, ei, dist, strict=True):
            edge = dropped.iloc[int(e)]
            street = edge["name"] or edge["highway"] or "a street"
            reason[i] = "disconnected_network"
            detail[i] = (f"the nearest walkable street ({street}, {d:.0f} m from space "
                         f"{off['space_id'].iloc[i]}) is on a piece of the network not connected "
                         f"to the rest (piece {int(edge['piece'])}: "
                         f"{pieces[edge['piece']] / 1000:.2f} km of streets), which was dropped; "
                         "a network extract that connects it would analyse this space")
    return pd.DataFrame({
        "source": off["source"].to_numpy(), "source_row": off["source_row"].to_numpy(),
        "category": off["category"].to_numpy(), "reason": reason, "detail": detail,
    }, columns=list(REJECT_COLUMNS))


def _open_at(config: StudyConfig, spaces: gpd.GeoDataFrame, snaps: pd.DataFrame
             ) -> tuple[gpd.GeoDataFrame, pd.DataFrame, gpd.GeoDataFrame, pd.DataFrame,
                        dict[str, dict[str, int]]]:
    """Keep the spaces open (or of unknown hours) at ``config.at``; the closed become rejects.

    Returns the open spaces and their snaps, the closed spaces, their rejects and
    the open/closed/unknown counts per category.
    """
    at = parse_time_of_week(str(config.at), what="study.at")
    osm = spaces["hours_osm"] if "hours_osm" in spaces else pd.Series([""] * len(spaces))
    state = hours_state(osm, at)
    counts = state_counts(spaces, state, config.categories)
    shut = state == "closed"
    closed = spaces[shut].reset_index(drop=True)
    rejects = pd.DataFrame({
        "source": closed["source"].to_numpy(), "source_row": closed["source_row"].to_numpy(),
        "category": closed["category"].to_numpy(), "reason": "closed",
        "detail": [f"closed at {at} (hours {given!r} read as {h!r})" for given, h in
                   zip(closed.get("hours", osm[shut]), osm[shut], strict=True)],
    }, columns=list(REJECT_COLUMNS))
    logger.info("At %s: %s", at, "; ".join(
        f"{cat} {c['open']} open, {c['closed']} closed, {c['unknown']} unknown"
        for cat, c in counts.items()))
    return (spaces[~shut].reset_index(drop=True), snaps[~shut].reset_index(drop=True), closed,
            rejects, counts)


def _load_blocks(config: StudyConfig, network: WalkNetwork, area: shapely.Geometry | None,
                 *, cache: bool, status: dict[str, str]) -> tuple[gpd.GeoDataFrame, str | None]:
    """Read or derive the blocks; also return their cache key (None: not cached).

    ``status["blocks"]`` says ``hit``, ``miss`` (derived and saved), ``off`` or ``file``.
    """
    bcfg = config.blocks
    if bcfg.path is not None:
        status["blocks"] = "file"
        blocks = read_blocks(bcfg.path, crs=config.crs, area=area,
                             min_area_m2=bcfg.min_area_m2, layer=bcfg.layer)
        return blocks, None
    barriers = read_barriers(bcfg.barriers, crs=config.crs)

    def derive() -> gpd.GeoDataFrame:
        return blocks_from_network(network, area=area, min_area_m2=bcfg.min_area_m2,
                                   barriers=barriers, sidewalks=bcfg.sidewalks)

    if not cache:
        status["blocks"] = "off"
        return derive(), None
    from . import blocks as blocks_module

    key = _cache.cache_key("blocks", _cache.network_fingerprint(network), area, barriers,
                           barriers.crs.to_wkt() if barriers.crs is not None else "",
                           float(bcfg.min_area_m2), bool(bcfg.sidewalks),
                           code=(Path(blocks_module.__file__),))
    blocks, status["blocks"] = _cache.cached_frame(
        "blocks", key, derive, what="blocks",
        valid=lambda frame: isinstance(frame, gpd.GeoDataFrame))
    return blocks, key


def _block_origins(config: StudyConfig, blocks: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Find the blocks' origins, with their parts when a weights layer will weigh them."""
    bcfg = config.blocks
    return block_origin_points(blocks, min_area_m2=bcfg.origin_grid_min_area_m2,
                               spacing_m=bcfg.origin_spacing_m,
                               parts=config.coverage.weights is not None)


_ORIGIN_COLS = ("block", "origin", "x", "y", "part_area_m2")


def _origins_and_snaps(config: StudyConfig, network: WalkNetwork, blocks: gpd.GeoDataFrame,
                       blocks_key: str | None, status: dict[str, str]
                       ) -> tuple[gpd.GeoDataFrame, pd.DataFrame]:
    """Find the blocks' origins and snap them (both cached beside the blocks they belong to).

    Large blocks' origins cost a Voronoi partition each, so the cache entry keeps the
    origins (block, origin number, coordinates, part area) beside their snaps; their
    parts are derived again only when a weights layer needs them.
    """
    max_snap_m = config.network.max_snap_m
    found: list[gpd.GeoDataFrame] = []

    def origins_now() -> gpd.GeoDataFrame:
        if not found:
            found.append(_block_origins(config, blocks))
        return found[0]

    def derive() -> pd.DataFrame:
        origins = origins_now()
        snaps = snap_points(network, origins, max_snap_m=max_snap_m)
        xy = shapely.get_coordinates(origins.geometry.to_numpy())
        return snaps.assign(**{f"origin_{c}": v for c, v in zip(_ORIGIN_COLS, (
            origins["block"].to_numpy(), origins["origin"].to_numpy(), xy[:, 0], xy[:, 1],
            origins["part_area_m2"].to_numpy()), strict=True)})

    if blocks_key is None:
        status["origin_snaps"] = "off"
        frame = derive()
    else:
        from . import access as access_module
        from . import origins as origins_module

        bcfg = config.blocks
        key = _cache.cache_key("origin_snaps", blocks_key, float(max_snap_m),
                               float(bcfg.origin_grid_min_area_m2), float(bcfg.origin_spacing_m),
                               list(network.snap_exclude),
                               code=(Path(access_module.__file__), Path(origins_module.__file__),
                                     Path(__file__)))
        frame, status["origin_snaps"] = _cache.cached_frame(
            "origin_snaps", key, derive, what="block origins and their snaps",
            valid=lambda f: all(f"origin_{c}" in f for c in _ORIGIN_COLS)
            and len(f) >= len(blocks) and int(f["origin_block"].max()) == len(blocks) - 1)
    if found or config.coverage.weights is not None:
        origins = origins_now()
    else:
        block = frame["origin_block"].to_numpy(np.int64)
        origins = gpd.GeoDataFrame({
            "block": block, "block_id": blocks["block_id"].to_numpy()[block],
            "origin": frame["origin_origin"].to_numpy(np.int64),
            "part_area_m2": frame["origin_part_area_m2"].to_numpy(np.float64),
        }, geometry=gpd.points_from_xy(frame["origin_x"], frame["origin_y"]), crs=blocks.crs)
    snaps = pd.DataFrame(frame.drop(columns=[f"origin_{c}" for c in _ORIGIN_COLS]))
    snaps.index = origins.index
    return origins, snaps


def _part_weights(config: StudyConfig, origins: gpd.GeoDataFrame
                  ) -> npt.NDArray[np.float64] | None:
    """Weigh each origin's part of its block by ``[coverage] weights`` (None: by area)."""
    wcfg = config.coverage.weights
    if wcfg is None:
        return None
    return part_weights(gpd.GeoSeries(origins["part"].to_numpy(), crs=origins.crs), wcfg,
                        crs=config.crs)


def _origin_table(origins: gpd.GeoDataFrame, n_blocks: int,
                  part_weight: npt.NDArray[np.float64] | None) -> gpd.GeoDataFrame:
    """Give the origins their shares of their blocks' residents (parts dropped)."""
    out = origins.drop(columns=["part"], errors="ignore")
    out["share"] = origin_shares(out["block"].to_numpy(), out["part_area_m2"].to_numpy(),
                                 n_blocks, part_weight)
    return out


def _study_extent(area: shapely.Geometry | None, network: WalkNetwork,
                  blocks: gpd.GeoDataFrame) -> shapely.Geometry | None:
    """Return the study area; with none, the convex hull of the network's nodes and blocks."""
    if area is not None:
        return area
    parts = [shapely.multipoints(shapely.get_coordinates(network.nodes.geometry.to_numpy()))]
    if len(blocks):
        parts.append(shapely.box(*blocks.total_bounds))
    hull = shapely.convex_hull(shapely.union_all(parts))
    return None if hull.is_empty else hull


def units_in_study(units: gpd.GeoDataFrame, extent: shapely.Geometry | None
                   ) -> npt.NDArray[np.bool_]:
    """Whether each unit intersects the study: more than 1 m² (and a millionth of it) inside.

    Units that merely touch the study area's edge (a neighbouring district), or overlap
    it by a sliver where two boundary files disagree, are not in the study.
    """
    if extent is None:
        return np.ones(len(units), dtype=bool)
    whole = units.geometry.area.to_numpy()
    inside = units.geometry.intersection(extent).area.to_numpy()
    return np.nan_to_num(inside) > np.maximum(1.0, 1e-6 * np.nan_to_num(whole))


def _read_units(config: StudyConfig, extent: shapely.Geometry | None,
                rejected: list[pd.DataFrame]
                ) -> tuple[dict[str, gpd.GeoDataFrame], dict[str, dict[str, Any]]]:
    """Read every boundary level, keeping the units that intersect the study.

    Also returns, per level, the counts ``summary.json`` gives under ``"boundaries"``;
    the units not used (no polygon, inside another unit) are added to `rejected`.
    """
    cov = config.coverage
    groups = {g.population_column: g.column for g in cov.groups}
    units_by_level: dict[str, gpd.GeoDataFrame] = {}
    info: dict[str, dict[str, Any]] = {}
    for bcfg in cov.boundaries:
        pop_level = bcfg.population is not None
        units, rejects = read_boundary_units(
            bcfg.path, crs=config.crs, name=bcfg.name, id=bcfg.id,
            population=bcfg.population, filter=bcfg.filter,
            columns=tuple(groups.values()) if pop_level else (),
            table=cov.population_table if pop_level else None)
        if len(rejects):
            warnings.warn(boundary_rejects_message(rejects, bcfg.level), UserWarning,
                          stacklevel=4)
            rejected.append(rejects.assign(level=bcfg.level))
        inside = units_in_study(units, extent)
        outside = units[~inside]
        info[bcfg.level] = {"units_read": len(units), "units": int(inside.sum()),
                            "outside_study_area": len(outside)}
        if pop_level:
            info[bcfg.level]["population_outside_study_area"] = _num(
                outside["population"].sum())
        if len(outside):
            logger.info("%s: %d of %d units lie outside the study area and are left out",
                        bcfg.level, len(outside), len(units))
        units_by_level[bcfg.level] = units[inside].reset_index(drop=True)
    return units_by_level, info


def _restrict_to_reach(config: StudyConfig, study: dict[str, Any],
                       units_by_level: dict[str, gpd.GeoDataFrame], reach: NetworkReach,
                       area: shapely.Geometry | None) -> dict[str, Any]:
    """Keep the part of the study the network reaches (``allow_partial``); see Notes.

    `study` holds ``blocks``, their ``origins`` and the origins' ``snaps``; they are
    replaced by the blocks kept (numbered again) and their origins. Returns what was
    left out: ``blocks`` (count), ``units`` (per level, names), ``population``.

    Notes
    -----
    A unit of any level counts when at least :data:`sharemap.checks.MIN_NETWORK_SHARE`
    of its part of the study area lies within ``max_snap_m`` of a street; the others
    are left out (removed from `units_by_level` in place). A block counts when one of
    its origins joins the network and, at every level, its representative point lies
    in a counted unit (or in none).
    """
    blocks, origins, snaps = study["blocks"], study["origins"], study["snaps"]
    block_of = origins["block"].to_numpy(np.int64)
    keep = np.bincount(block_of, weights=snaps["on_network"].to_numpy(float),
                       minlength=len(blocks)) > 0
    points = block_origins(blocks)
    left: dict[str, Any] = {"blocks": int((~keep).sum()), "units": {}}
    pop_level = config.coverage.population_level
    for level, units in list(units_by_level.items()):
        share = reach.unit_share.get(level, pd.Series(dtype=float))
        ok = (share.reindex(units["id"].astype(str)).fillna(0.0)
              >= _checks.MIN_NETWORK_SHARE).to_numpy()
        left["units"][level] = units.loc[~ok, "name"].astype(str).tolist()
        if ok.all():
            continue
        out_ids = set(units.loc[~ok, "id"].astype(str))
        assigned = assign_units(points, units)["id"].astype("object")
        in_out = assigned.map(lambda v, ids=out_ids: v in ids).to_numpy(bool)
        left["blocks"] += int((keep & in_out).sum())
        keep &= ~in_out
        if pop_level is not None and pop_level.level == level:
            gone = units[~ok]
            left["population"] = _num((gone["population"].to_numpy(float)
                                       * inside_share(gone, area)).sum())
        units_by_level[level] = units[ok].reset_index(drop=True)
    mine = keep[block_of]
    new_pos = np.cumsum(keep) - 1
    origins = origins[mine].reset_index(drop=True)
    origins["block"] = new_pos[origins["block"].to_numpy(np.int64)]
    study.update(blocks=blocks[keep].reset_index(drop=True), origins=origins,
                 snaps=snaps[mine].reset_index(drop=True))
    return left


def _attach_units(config: StudyConfig, blocks: gpd.GeoDataFrame,
                  units_by_level: dict[str, gpd.GeoDataFrame], area: shapely.Geometry | None,
                  rejected: list[pd.DataFrame], weights: pd.Series | None = None
                  ) -> tuple[gpd.GeoDataFrame, float | None, dict[str, set[str]]]:
    """Name each block's unit per level and spread the residents over the blocks.

    Residents are spread by `weights` per block (None: by area). Returns the blocks,
    the residents of units holding no block (None without population; the residents
    of units left out for want of a polygon included), and per level the ids of the
    units that hold a block.
    """
    origins = block_origins(blocks)
    cov = config.coverage
    unallocated = None
    groups = {g.population_column: g.column for g in cov.groups}
    held: dict[str, set[str]] = {}
    for bcfg in cov.boundaries:
        units = units_by_level[bcfg.level]
        assigned = assign_units(origins, units)
        blocks[bcfg.level] = assigned["name"].to_numpy()
        blocks[f"{bcfg.level}_id"] = assigned["id"].to_numpy()
        held[bcfg.level] = {str(v) for v in assigned["id"].dropna()}
        if bcfg.population is not None:
            for out_col, src_col in {"population": "population", **groups}.items():
                pop, lost = allocate_population(blocks, assigned["id"], units, area=area,
                                                weights=weights, column=src_col)
                blocks[out_col] = pop.to_numpy()
                unallocated = lost if out_col == "population" else unallocated
            for rejects in rejected:
                gone = rejects[(rejects["level"] == bcfg.level)
                               & (rejects["reason"] != "covered_by_another_unit")]
                unallocated = (unallocated or 0.0) + float(gone["population"].sum())
    return blocks, unallocated, held


def _study_checks(config: StudyConfig, net: WalkNetwork, reach: NetworkReach,
                  parts: dict[str, Any]) -> list[Check]:
    """Every consistency check of the study (see :mod:`sharemap.checks`)."""
    partial = config.network.allow_partial
    blocks, rejects = parts["blocks"], parts["rejects"]
    out = _checks.network_reach_checks(reach, max_snap_m=config.network.max_snap_m,
                                       allow_partial=partial)
    if parts.get("left_out") is not None:
        out.append(_checks.partial_check(parts["left_out"], n_blocks=len(blocks),
                                         population=parts.get("population"),
                                         max_snap_m=config.network.max_snap_m))
    out.append(_checks.network_pieces_check(
        net.info, int((rejects["reason"] == "disconnected_network").sum())))
    out.append(_checks.block_count_check(len(blocks), allow_partial=partial))
    out += _checks.space_checks(parts["inputs"], allow_partial=partial,
                                closed=parts.get("closed_by_source"), at=config.at)
    out += _checks.units_checks(parts["units"], parts["held"])
    for bcfg in config.coverage.boundaries:  # a level none of whose units is in the study
        info = parts["units_info"][bcfg.level]
        out.append(_checks.units_in_study_check(
            bcfg.level, units_read=info["units_read"],
            units_in_study=len(parts["in_study"][bcfg.level]), source=str(bcfg.path),
            filter=bcfg.filter, population_outside=info.get("population_outside_study_area")))
    out.append(_checks.boundary_units_check(parts["boundary_rejects"]))
    out.append(_checks.excluded_streets_check(
        net, parts["origins"]["block_id"].to_numpy(), parts["snaps"],
        parts["spaces"]["space_id"].to_numpy(), parts["space_snaps"]))
    pop_level = config.coverage.population_level
    if pop_level is not None:
        out.append(_checks.population_check(parts["unallocated"], parts.get("population")))
        if "population" in blocks and len(blocks):
            out.append(_checks.concentration_check(
                blocks, pop_level.level, weighted=config.coverage.weights is not None))
    split = config.map.split_by
    if split:
        out.append(_checks.split_maps_check(split, parts["in_study"][split],
                                            parts["held"].get(split, set())))
    return out


def _access(config: StudyConfig, blocks: gpd.GeoDataFrame, spaces: gpd.GeoDataFrame,
            origins: gpd.GeoDataFrame, points: PreparedPoints, *,
            categories: Sequence[str] | None = None) -> pd.DataFrame:
    """Fill walk minutes per category into `origins` and `blocks`; return the adjacency pairs.

    `points`: the blocks' origins and the spaces, prepared. A block's walk is the
    share-weighted median of its origins' walks, and a space is adjacent to it when
    origins holding at least half its residents are within ``adjacent_minutes`` (see
    :mod:`sharemap.origins`). `categories`: the categories whose walks to fill
    (default: all; a what-if fills only those whose spaces changed).
    """
    joined, o_idx, s_idx = points.joined, points.origin_idx, points.target_idx
    block = origins["block"].to_numpy(np.int64)
    share = origins["share"].to_numpy(np.float64)
    speed = config.walk_speed_m_per_min
    cats = spaces["category"].to_numpy()
    for cat in config.categories if categories is None else categories:
        minutes = nearest_distance(joined, o_idx, s_idx[cats == cat]) / speed
        origins[walk_col(cat)] = minutes
        blocks[walk_col(cat)] = block_median(minutes, block, share, len(blocks))[0]
    pairs = pairs_within(joined, o_idx, s_idx, max_m=config.villages.adjacent_minutes * speed)
    pairs = block_pairs(pairs, block, share)
    adjacency = pd.DataFrame({
        "block_id": blocks["block_id"].to_numpy()[pairs["origin"].to_numpy()],
        "space": spaces.index.to_numpy()[pairs["target"].to_numpy()],
        "space_id": spaces["space_id"].to_numpy()[pairs["target"].to_numpy()],
        "category": cats[pairs["target"].to_numpy()],
        "minutes": (pairs["distance_m"].to_numpy() / speed).round(3),
    })
    return adjacency


def _profiles(config: StudyConfig, blocks: gpd.GeoDataFrame, spaces: gpd.GeoDataFrame,
              origins: gpd.GeoDataFrame, points: PreparedPoints, *, cache: bool,
              known: dict[str, ProfileNetwork] | None = None,
              categories: Sequence[str] | None = None
              ) -> tuple[dict[str, ProfileNetwork], dict[str, Any]]:
    """Fill the own walk minutes of every group whose profile leaves streets out.

    Each such profile's network is derived once (or taken from `known`), the
    study's prepared points are put on it (:func:`sharemap.profiles.profile_points`)
    and walked per category; each group of the profile gets
    ``walk_min_<category>_<slug>`` at its own speed, per origin in `origins` and per
    block in `blocks` (the share-weighted median of its origins', as for everyone).
    Returns the profile networks and, per profile, what ``summary.json`` says of it:
    the streets left out, and the block origins and spaces cut off (never dropped
    silently).
    """
    groups = [g for g in config.coverage.groups if get_profile(g.profile).filters]
    nets: dict[str, ProfileNetwork] = {}
    report: dict[str, Any] = {}
    cats = spaces["category"].to_numpy()
    block = origins["block"].to_numpy(np.int64)
    share = origins["share"].to_numpy(np.float64)
    for name in dict.fromkeys(g.profile for g in groups):
        pnet = (known or {}).get(name) or profile_network(points.network, name, cache=cache)
        mine = [g for g in groups if g.profile == name]
        on = profile_points(points, pnet)
        for cat in config.categories if categories is None else categories:
            dist = nearest_distance(on.joined, on.origin_idx, on.target_idx[cats == cat])
            for g in mine:
                minutes = dist / metres_per_minute(g.walk_speed_kmh)
                origins[group_walk_col(cat, g.slug)] = minutes
                blocks[group_walk_col(cat, g.slug)] = block_median(minutes, block, share,
                                                                   len(blocks))[0]
        nets[name] = pnet
        report[name] = _cut_off_report(pnet, points, blocks, origins, spaces, mine)
    return nets, report


def _profile_summary(summary: dict[str, Any], report: dict[str, Any]) -> list[Check]:
    """Put the profiles' report into `summary` and return its checks (none without one)."""
    if not report:
        return []
    summary["profiles"] = report
    checks = [_checks.profile_cut_off_check(report), _checks.profile_tags_check(report)]
    for check in checks:
        if check.status != "ok":
            logger.info("Check %s: %s", check.name, check.message)
    return checks


def _cut_off_report(pnet: ProfileNetwork, points: PreparedPoints, blocks: gpd.GeoDataFrame,
                    origins: gpd.GeoDataFrame, spaces: gpd.GeoDataFrame,
                    groups: list[GroupConfig]) -> dict[str, Any]:
    """``summary.json``'s account of one profile: streets left out, points cut off and why."""
    o_why = cut_off_points(points.origin_snaps, pnet).to_numpy()
    s_why = cut_off_points(points.target_snaps, pnet).to_numpy()
    cut_o, cut_s = o_why != "", s_why != ""
    block_ids = blocks["block_id"].to_numpy()[origins["block"].to_numpy(np.int64)]
    return {
        **{k: v for k, v in pnet.info.items() if k != "profile"},
        "groups": [g.label for g in groups],
        "origins_cut_off": int(cut_o.sum()),
        "blocks_cut_off": len(set(block_ids[cut_o].tolist())),
        "block_ids_cut_off": {str(r): sorted({_plain(i) for i in block_ids[o_why == r]})
                              for r in dict.fromkeys(o_why[cut_o])},
        "residents_cut_off": {g.label: _num(origins[g.population_column][cut_o].sum())
                              for g in groups if g.population_column in origins},
        "spaces_cut_off": [{"space_id": str(sid), "category": str(cat), "reason": str(r)}
                           for sid, cat, r in zip(spaces["space_id"].to_numpy()[cut_s],
                                                  spaces["category"].to_numpy()[cut_s],
                                                  s_why[cut_s], strict=True)],
    }


def _plain(value: Any) -> Any:
    """Return a numpy scalar as the Python value JSON holds (np.int64(3) -> 3)."""
    return value.item() if isinstance(value, np.generic) else value


def _layers_area(config: StudyConfig, area: shapely.Geometry | None) -> shapely.Geometry | None:
    """Return the area the spaces must lie in: the study's, widened by ``spaces_beyond_m``."""
    if area is None or config.spaces_beyond_m <= 0:
        return area
    return shapely.buffer(area, config.spaces_beyond_m)


def _beyond_area(config: StudyConfig, spaces: gpd.GeoDataFrame,
                 area: shapely.Geometry | None) -> gpd.GeoDataFrame:
    """With ``spaces_beyond_m``: each space's ``beyond_area_m`` (0 inside the study area).

    Such spaces are walked to (walks, adjacency, coverage, villages), as residents near
    the border use them, but add nothing to supply per resident: who else shares them,
    across the border, the study does not know.
    """
    if area is None or config.spaces_beyond_m <= 0:
        return spaces
    far = shapely.distance(area, spaces.geometry.to_numpy())
    return spaces.assign(beyond_area_m=np.round(np.asarray(far, dtype=np.float64), 1))


def _supply(config: StudyConfig, blocks: gpd.GeoDataFrame, spaces: gpd.GeoDataFrame,
            points: PreparedPoints, units: dict[str, gpd.GeoDataFrame],
            origins: gpd.GeoDataFrame, *,
            categories: Sequence[str] | None = None) -> pd.DataFrame | None:
    """Fill ``supply_per_1000_<category>`` into `blocks`; return the ``supply.csv`` table.

    `points` are the blocks' origins (`origins`, with their shares of the residents)
    and the spaces as the access stage prepared them. None when the blocks have no
    residents. `categories`: the categories to measure (default: all; the others'
    columns are already in `blocks`, as in a what-if that changed only some).
    """
    cats = config.supply_categories
    if "population" not in blocks or not cats:
        return None
    measure = [c for c in cats if categories is None or c in categories]
    # spaces beyond the border (spaces_beyond_m): walked to, but not shared out here
    beyond = (spaces["beyond_area_m"].to_numpy() > 0 if "beyond_area_m" in spaces
              else np.zeros(len(spaces), dtype=bool))
    capacity = np.where(beyond, 0.0, spaces["capacity"].to_numpy(dtype=np.float64))
    if measure:
        per_block = supply_per_block(
            points, population=blocks["population"].to_numpy(dtype=np.float64, na_value=np.nan),
            capacity=capacity,
            space_category=spaces["category"].to_numpy(), categories=measure,
            walk_speed_m_per_min=config.walk_speed_m_per_min, bands=config.supply.bands,
            origin_block=origins["block"].to_numpy(np.int64),
            origin_share=origins["share"].to_numpy(np.float64))
        for cat in measure:
            blocks[supply_col(cat)] = per_block[supply_col(cat)].to_numpy()
    levels = [b.level for b in config.coverage.boundaries]
    inside = spaces[~beyond]
    where = {lv: assign_units(inside.geometry, units[lv]) for lv in levels}
    return supply_table(blocks, inside, categories=cats, levels=levels, city_name=config.name,
                        space_units=where)
def _origin_population(config: StudyConfig, origins: gpd.GeoDataFrame,
                       blocks: pd.DataFrame) -> None:
    """Give each origin its share of its block's residents (``population``, and per group)."""
    cols = ["population", *(g.population_column for g in config.coverage.groups)]
    for col in (c for c in cols if c in blocks):
        pop = blocks[col].to_numpy(np.float64, na_value=np.nan)
        origins[col] = pop[origins["block"].to_numpy()] * origins["share"].to_numpy()


def _versions() -> dict[str, str]:
    return {"python": platform.python_version(),
            **{pkg: package_version(pkg, missing="not installed") for pkg in (
                "sharemap", "geopandas", "shapely", "pyproj", "osmnx", "networkx", "numpy",
                "pandas", "scipy", "folium")}}


def _headline(coverage: pd.DataFrame, groups: pd.DataFrame | None = None) -> dict[str, Any]:
    city = coverage[(coverage["level"] == "city") & (coverage["category"] == "all")]
    if city.empty:
        return {}
    row = city.loc[city["threshold_min"].sub(15).abs().idxmin()]
    out: dict[str, Any] = {"threshold_min": float(row["threshold_min"]),
           "share_blocks_all": _num(row["share_blocks"]),
           "share_population_all": _num(row["share_population"])}
    if groups is not None:
        sel = groups[(groups["level"] == "city") & (groups["category"] == "all")
                     & (groups["threshold_min"] == row["threshold_min"])
                     & (groups["group"] != "all residents")]
        out["share_population_all_by_group"] = {
            str(g.group): _num(g.share_population) for g in sel.itertuples()}
    return out


def _num(value: Any) -> float | None:
    return None if pd.isna(value) else round(float(value), 4)


def _inputs(config: StudyConfig, spaces: pd.DataFrame, rejects: pd.DataFrame,
            rows_read: dict[str, int], closed: pd.DataFrame | None = None
            ) -> list[dict[str, Any]]:
    """``summary.json``'s ``inputs``: per layer, rows read, spaces and rejects."""
    every = spaces if closed is None else pd.concat([spaces, closed], ignore_index=True)
    inputs = []
    for layer, src in zip(config.layers, layer_sources(config), strict=True):
        # one file may be read by two layers, as two categories: each counts its own
        mine = spaces[(spaces["source"] == src) & (spaces["category"] == layer.category)]
        n_sp = len(mine)
        rj = rejects[(rejects["source"] == src) & (rejects["category"] == layer.category)]
        inputs.append({"source": src, "category": layer.category,
                       "rows_read": int(rows_read.get(src, 0)), "spaces": n_sp,
                       "rejects": len(rj),
                       "rejects_by_reason": rj["reason"].value_counts().sort_index().to_dict(),
                       "accounted": int(rows_read.get(src, 0)) == n_sp + len(rj),
                       "capacity": _num(mine["capacity"].sum()),
                       "capacity_defaulted": int((mine["capacity_note"] != "").sum()),
                       **_hours_read(every[(every["source"] == src)
                                           & (every["category"] == layer.category)])})
    return inputs


def _summary(config: StudyConfig, result: dict[str, Any], rows_read: dict[str, int],
             timings: dict[str, float], unallocated: float | None) -> dict[str, Any]:
    spaces, rejects, blocks = result["spaces"], result["rejects"], result["blocks"]
    inputs = _inputs(config, spaces, rejects, rows_read, result.get("closed"))
    params = asdict(config)
    return {
        "study": config.name,
        "parameters": params,
        "inputs": inputs,
        "network": result["network"].info,
        "counts": {
            "spaces": len(spaces),
            "spaces_by_category": spaces["category"].value_counts().sort_index().to_dict(),
            **({"spaces_beyond_area": int((spaces["beyond_area_m"] > 0).sum())}
               if "beyond_area_m" in spaces else {}),
            "capacity_by_category": {str(k): _num(v) for k, v in spaces.groupby(
                "category")["capacity"].sum().sort_index().items()},
            "rejects": len(rejects),
            "rejects_by_reason": rejects["reason"].value_counts().sort_index().to_dict(),
            "blocks": len(blocks),
            "block_origins": int(blocks["n_origins"].sum()) if "n_origins" in blocks else None,
            "multi_origin_blocks": (int((blocks["n_origins"] > 1).sum())
                                    if "n_origins" in blocks else None),
            "candidates": int(blocks["candidate"].sum()),
            "villages": len(result["villages"]),
            "population": _num(blocks["population"].sum()) if "population" in blocks else None,
            "population_unallocated": unallocated,
        },
        "coverage_headline": _headline(result["coverage"], result.get("coverage_groups")),
        "supply_headline": (None if result.get("supply") is None else {
            "method": "E2SFCA", "minutes": config.supply.bands[-1][0],
            "per_1000_residents": supply_headline(result["supply"])}),
        "versions": _versions(),
        "seconds": timings,
    }


def _boundary_rejects(frames: list[pd.DataFrame]) -> list[dict[str, Any]]:
    """summary.json's ``boundary_rejects``: every boundary unit not used, and why."""
    out = []
    for frame in frames:
        for row in frame.itertuples(index=False):
            out.append({"level": row.level, "source": row.source, "feature": int(row.feature),
                        "unit": str(row.unit), "unit_id": str(row.unit_id),
                        "reason": row.reason, "population": _num(row.population),
                        "detail": row.detail})
    return out


def _hours_read(spaces: pd.DataFrame) -> dict[str, Any]:
    """How a layer's opening hours were read: spaces with hours unknown, values not understood."""
    if "hours_osm" not in spaces:
        return {}
    unknown = spaces["hours_osm"] == ""
    odd = spaces.loc[unknown & (spaces["hours"] != ""), "hours"]
    return {"hours_unknown": int(unknown.sum()),
            "hours_not_understood": {str(k): int(v) for k, v in odd.value_counts().items()}}


def _villages_and_audit(  # noqa: PLR0913 - the stage inputs, then options
        config: StudyConfig, net: WalkNetwork, blocks: gpd.GeoDataFrame,
        adjacency: pd.DataFrame, spaces: gpd.GeoDataFrame, t: dict[str, float],
        points: PreparedPoints | None = None, origins: gpd.GeoDataFrame | None = None, *,
        known: dict[tuple[Any, ...], Any] | None = None,
        known_audit: CoverageAudit | None = None, changed: Sequence[str] | None = None
        ) -> tuple[gpd.GeoDataFrame, Any]:
    """Flag candidates, group villages and run the coverage audit (fills `blocks`).

    `known`: village shapes already made (a what-if's, see
    :func:`sharemap.villages.village_unions`); `known_audit`, `changed`: the audit
    rows of the categories not in `changed` are taken from `known_audit` (see
    :func:`sharemap.coverage.compute_audit`).
    """
    with _stage(t, "villages"):
        vcfg = config.villages
        flags = compute_candidates(
            blocks, adjacency, spaces, min_spaces=vcfg.min_spaces,
            distinct_categories=vcfg.distinct_categories,
            min_capacity=vcfg.min_capacity if vcfg.count == "capacity" else None)
        for col in flags:
            blocks[col] = flags[col].to_numpy()
        blocks["village_id"], villages = compute_villages(blocks, adjacency, spaces,
                                                          known=known)
    with _stage(t, "coverage"):
        audit = compute_audit(blocks, spaces, net, config, points=points, origins=origins,
                              known=known_audit, changed=changed)
        blocks["proximity_min"] = audit.proximity_min.to_numpy()
    _mapped_group_walk(config, blocks)
    return villages, audit


def _mapped_group_walk(config: StudyConfig, blocks: gpd.GeoDataFrame) -> None:
    """Give `blocks` the group walk ``[map] color_by`` names, when no stage made it.

    A group walking every street has no walk column of its own (its minutes are
    everyone's at its speed, :func:`sharemap.profiles.group_minutes`); the maps colour
    by a block column, so it is added (and so written to ``blocks.gpkg``).
    """
    col = config.map.color_by
    if col in blocks:
        return
    for g in config.coverage.groups:
        for cat in config.categories:
            if group_walk_col(cat, g.slug) == col:
                blocks[col] = group_minutes(blocks, cat, g,
                                            walk_speed_kmh=config.walk_speed_kmh).to_numpy()
                return


def run_study(config: StudyConfig, *, network: WalkNetwork | None = None,
              cache: bool = True) -> StudyResult:
    """Run a whole study: network, layers, blocks, access, villages and coverage.

    Parameters
    ----------
    config
        The study configuration (see :func:`sharemap.read_config`).
    network
        A prepared network to reuse (skips loading it again).
    cache
        Read and keep the prepared network, the derived blocks, their origins'
        snapping and the walk searches (``result.points`` keeps doing so) in the user
        cache folder (``SHAREMAP_CACHE_DIR`` overrides it), so that a second run of the
        same study skips them. Entries are keyed on their inputs' content and the
        code, so a changed input is derived afresh.

    Returns
    -------
    result
        Every table and layer of the study, in the analysis CRS.

    Examples
    --------
    >>> from sharemap import read_config
    >>> from sharemap.datasets import get_path
    >>> result = run_study(read_config(get_path("demo")))
    >>> bool((result.blocks["candidate"]
    ...       == (result.blocks["adjacent_spaces"] >= 3)).all())
    True
    """
    check_input_files(config, network=network is None)  # named before any work
    t: dict[str, float] = {}
    cached: dict[str, str] = {}  # what came from the cache, for summary.json
    with _stage(t, "study_area"):
        area = read_study_area(config)
    with _stage(t, "network"):
        net = _study_network(config, network, cache=cache)
    with _stage(t, "layers"):
        spaces, rejects, rows_read = read_layers(config, study_area=_layers_area(config, area))
        spaces = _beyond_area(config, spaces, area)
    with _stage(t, "blocks"):
        blocks, blocks_key = _load_blocks(config, net, area, cache=cache, status=cached)
    with _stage(t, "boundaries"):
        boundary_rejects: list[pd.DataFrame] = []
        units, units_info = _read_units(config, _study_extent(area, net, blocks),
                                        boundary_rejects)
    with _stage(t, "snapping"):
        max_snap = config.network.max_snap_m
        spaces, space_snaps, off = _snap_spaces(net, spaces, max_snap)
        rejects = pd.concat([rejects, off], ignore_index=True)
        origins, origin_snaps = _origins_and_snaps(config, net, blocks, blocks_key, cached)
        _label_blocks(net, blocks, origins, origin_snaps)
    closed, hours = None, None
    if config.at is not None:
        with _stage(t, "hours"):
            spaces, space_snaps, closed, shut, hours = _open_at(config, spaces, space_snaps)
            rejects = pd.concat([rejects, shut], ignore_index=True)
    rejects = rejects.sort_values(["source", "source_row"], ignore_index=True)
    study = _units_and_residents(config, net, area, units, {
        "blocks": blocks, "origins": origins, "snaps": origin_snaps,
        "boundary_rejects": boundary_rejects, "cache": cached, "use_cache": cache}, t)
    blocks, origins, origin_snaps = study["blocks"], study["origins"], study["snaps"]
    unallocated = study["unallocated"]
    with _stage(t, "checks"):  # before any figure: a failed check stops the study here
        checks, extra = _check_study(config, net, study["reach"], {
            **study, "spaces": spaces, "space_snaps": space_snaps, "rejects": rejects,
            "rows_read": rows_read, "closed": closed, "units": units, "units_info": units_info})
    with _stage(t, "access"):
        points = prepare_points(net, origin_snaps, space_snaps, max_snap_m=max_snap,
                                cache=cache)
        adjacency = _access(config, blocks, spaces, origins, points)
    with _stage(t, "profiles"):
        profiles, profile_report = _profiles(config, blocks, spaces, origins, points,
                                             cache=cache)
    with _stage(t, "supply"):
        supply = _supply(config, blocks, spaces, points, units, origins)
    villages, audit = _villages_and_audit(config, net, blocks, adjacency, spaces, t, points,
                                          origins)
    coverage = audit.coverage
    parts = {"spaces": spaces, "rejects": rejects, "blocks": blocks, "villages": villages,
             "coverage_groups": audit.coverage_groups,
             "coverage": coverage, "network": net, "supply": supply, "closed": closed}
    summary = _summary(config, parts, rows_read, t, unallocated)
    summary["cache"] = {"network": str(net.info.get("cache", "given")), **cached,
                        "searches": _searches_status(points.joined.searches, on=cache)}
    summary["boundary_rejects"] = _boundary_rejects(boundary_rejects)
    summary["at"], summary["hours"] = config.at, hours
    summary.update(extra)
    checks += _profile_summary(summary, profile_report)
    summary["checks"] = [c.as_dict() for c in checks]
    return StudyResult(config=config, network=net, study_area=area, spaces=spaces,
                       rejects=rejects, blocks=blocks, adjacency=adjacency, villages=villages,
                       coverage=coverage, boundaries=units, summary=summary, gaps=audit.gaps,
                       coverage_groups=audit.coverage_groups, origin_snaps=origin_snaps,
                       points=points, supply=supply, closed=closed, origins=origins,
                       checks=tuple(checks), profiles=profiles)


def _searches_status(counts: Counter[str], *, on: bool) -> str:
    """How a study's walk searches were had: hit, miss, off, or a mix ("9 hit, 2 miss")."""
    if not on:
        return "off"
    seen = [k for k in ("hit", "miss", "off") if counts.get(k)]
    if len(seen) == 1:
        return seen[0]
    return ", ".join(f"{counts[k]} {k}" for k in seen) or "off"


def _units_and_residents(config: StudyConfig, net: WalkNetwork, area: shapely.Geometry | None,
                         units: dict[str, gpd.GeoDataFrame], study: dict[str, Any],
                         t: dict[str, float]) -> dict[str, Any]:
    """Measure the network's reach, keep only that with ``allow_partial``, place residents.

    `study` holds ``blocks``, their ``origins``, the origins' ``snaps`` and the
    ``boundary_rejects``; returned with them (restricted with ``allow_partial``) and
    ``reach``, ``in_study`` (the units before ``allow_partial`` left any out),
    ``left_out`` (None without it), ``unallocated`` and ``held`` (per level, the ids of
    the units holding a block). `units` loses the units left out.
    """
    with _stage(t, "reach"):
        study["reach"] = _network_reach(config, net, area, units, study["cache"],
                                        use_cache=study["use_cache"])
        study["in_study"], study["left_out"] = dict(units), None
        if config.network.allow_partial:
            study["left_out"] = _restrict_to_reach(config, study, units, study["reach"], area)
    blocks, origins = study["blocks"], study["origins"]
    with _stage(t, "weights"):
        part_weight = _part_weights(config, origins)
        origins = study["origins"] = _origin_table(origins, len(blocks), part_weight)
    with _stage(t, "population"):
        weights = None if part_weight is None else pd.Series(np.bincount(
            origins["block"].to_numpy(), weights=part_weight, minlength=len(blocks)),
            index=blocks.index)
        blocks, study["unallocated"], study["held"] = _attach_units(
            config, blocks, units, area, study["boundary_rejects"], weights)
        _origin_population(config, origins, blocks)
    study["blocks"] = blocks
    return study


def _network_reach(config: StudyConfig, net: WalkNetwork, area: shapely.Geometry | None,
                   units: dict[str, gpd.GeoDataFrame], status: dict[str, str], *,
                   use_cache: bool) -> NetworkReach:
    """Measure how much of the study the network reaches (from the cache if `use_cache`).

    Every level's units are measured with ``allow_partial``, only the population
    level's otherwise. ``status["reach"]`` says ``hit``, ``miss`` or ``off``.
    """
    pop_level = config.coverage.population_level
    population_level = pop_level.level if pop_level is not None else None
    levels = None if config.network.allow_partial else ()
    max_snap = config.network.max_snap_m

    def derive() -> NetworkReach:
        return _checks.measure_network_reach(net, area, units, max_snap_m=max_snap,
                                             population_level=population_level, levels=levels)

    if not use_cache:
        status["reach"] = "off"
        return derive()
    measured = units if levels is None else {
        k: v for k, v in units.items() if k == population_level}
    key = _cache.cache_key(
        "reach", _cache.network_fingerprint(net), area, float(max_snap), population_level,
        [(level, u["id"].astype(str).tolist(), u["population"].to_numpy(float).tolist())
         for level, u in measured.items()], *measured.values(),
        code=(Path(_checks.__file__),))
    reach, status["reach"] = _cache.cached("reach", key, derive, what="network reach",
                                           codec=_REACH_CODEC)
    return reach


def _reach_arrays(reach: NetworkReach) -> dict[str, Any]:
    frame = _checks.reach_to_frame(reach)
    return {"level": frame["level"].to_numpy(dtype=str), "id": frame["id"].to_numpy(dtype=str),
            "share": frame["share"].to_numpy(float)}


def _reach_from_arrays(z: dict[str, npt.NDArray[Any]]) -> NetworkReach:
    return _checks.reach_from_frame(pd.DataFrame({
        "level": z["level"].astype(str), "id": z["id"].astype(str),
        "share": z["share"].astype(float)}))


#: The network reach as plain arrays (text and floats; no pickle) for the cache.
_REACH_CODEC: _cache.Codec[NetworkReach] = _cache.Codec(_reach_arrays, _reach_from_arrays)


def _check_study(config: StudyConfig, net: WalkNetwork, reach: NetworkReach,
                 parts: dict[str, Any]) -> tuple[list[Check], dict[str, Any]]:
    """Run every check before any figure; raise if one fails (:mod:`sharemap.checks`).

    `parts`: the study so far (blocks with units and residents, spaces, rejects, the
    units and what ``allow_partial`` left out). Returns the checks and what
    ``summary.json`` adds (``network_reach``, ``boundaries``, ``split_maps``, ``partial``).
    """
    units, held, left_out, in_study = (parts["units"], parts["held"], parts["left_out"],
                                       parts["in_study"])
    blocks = parts["blocks"]
    # a space closed at `[study] at` is an input that fits: it counts as a space here
    closed = parts["closed"]
    every = parts["spaces"] if closed is None else pd.concat([parts["spaces"], closed],
                                                             ignore_index=True)
    checks = _study_checks(config, net, reach, {
        "blocks": blocks, "rejects": parts["rejects"], "units": units, "held": held,
        "inputs": _inputs(config, every, parts["rejects"], parts["rows_read"]),
        "closed_by_source": (None if closed is None else
                             closed["source"].astype(str).value_counts().to_dict()),
        "unallocated": parts["unallocated"], "left_out": left_out, "in_study": in_study,
        "units_info": parts["units_info"],
        "boundary_rejects": parts["boundary_rejects"], "origins": parts["origins"],
        "snaps": parts["snaps"], "spaces": parts["spaces"], "space_snaps": parts["space_snaps"],
        "population": _num(blocks["population"].sum()) if "population" in blocks else None})
    units_info = parts["units_info"]
    for level, info in units_info.items():
        info["units"] = len(units[level])
        info["without_blocks"] = int((~units[level]["id"].astype(str).isin(
            held.get(level, set()))).sum())
        if left_out is not None:
            info["outside_network_reach"] = len(left_out["units"].get(level, []))
    extra: dict[str, Any] = {
        "network_reach": {"share_area": _num(reach.share_area),
                          "share_residents": _num(reach.share_residents),
                          "max_snap_m": config.network.max_snap_m,
                          "grid_spacing_m": _num(reach.spacing_m), "grid_points": reach.points},
        "boundaries": units_info,
    }
    split = config.map.split_by
    if split:
        every_unit = in_study[split]
        extra["split_maps"] = {"level": split, "skipped": every_unit.loc[
            ~every_unit["id"].astype(str).isin(held.get(split, set())), "name"].astype(
                str).tolist()}
    if left_out is not None:
        extra["partial"] = {"blocks_left_out": left_out["blocks"],
                            "population_left_out": left_out.get("population"),
                            "units_left_out": {k: len(v) for k, v in left_out["units"].items()}}
    for check in checks:
        if check.status != "ok":
            logger.info("Check %s: %s", check.name, check.message)
    _checks.raise_on_errors(checks)
    return checks, extra


def recompute_with_spaces(result: StudyResult, spaces: gpd.GeoDataFrame, *,
                          changed: Sequence[str] | None = None) -> StudyResult:
    """Recompute access, villages and coverage for another set of spaces.

    The network, blocks, boundaries and population of `result` are reused, so a
    what-if costs the access stage only.

    Parameters
    ----------
    result
        A study result.
    spaces
        The spaces to use instead (``space_id``, ``category``, ``name``, ``source``,
        ``source_row``, points in the analysis CRS); spaces off the network are dropped.
    changed
        The categories whose spaces differ from `result`'s (default: all). The walks
        and supply of the others are taken from `result` (the same spaces on the same
        network give the same figures); a city-size what-if that adds one space then
        measures one category instead of all.

    Returns
    -------
    result
        A new result; ``rejects`` lists the given spaces that are off the network.
    """
    cfg, net = result.config, result.network
    derived = {walk_col(c) for c in cfg.categories} | {
        supply_col(c) for c in cfg.categories} | {
        group_walk_col(c, g.slug) for c in cfg.categories for g in cfg.coverage.groups} | {
        "adjacent_spaces", "adjacent_categories", "adjacent_capacity", "adjacent_space_ids",
        "candidate", "village_id"}
    if changed is not None:  # the unchanged categories' own figures are kept
        same = [c for c in cfg.categories if c not in set(changed)]
        derived -= {walk_col(c) for c in same} | {supply_col(c) for c in same} | {
            group_walk_col(c, g.slug) for c in same for g in cfg.coverage.groups}
        changed = [c for c in cfg.categories if c in set(changed)]
    blocks = result.blocks[[c for c in result.blocks.columns if c not in derived]].copy()
    max_snap = cfg.network.max_snap_m
    spaces, snaps, rejects = _snap_spaces(net, spaces, max_snap)
    origin_snaps = result.block_snaps()
    origins = result.study_origins()
    origins = origins[[c for c in origins.columns if c not in derived]].copy()
    points = prepare_points(net, origin_snaps, snaps, max_snap_m=max_snap)
    adjacency = _access(cfg, blocks, spaces, origins, points, categories=changed)
    profiles, _ = _profiles(cfg, blocks, spaces, origins, points, cache=False,
                            known=result.profiles, categories=changed)
    supply = _supply(cfg, blocks, spaces, points, result.boundaries, origins,
                     categories=changed)
    known = (village_unions(result.blocks, result.villages)
             if "village_id" in result.blocks and len(result.villages) else None)
    known_audit = None
    if changed is not None and result.gaps is not None:  # the others' audit rows are kept
        known_audit = CoverageAudit(coverage=result.coverage, gaps=result.gaps,
                                    coverage_groups=result.coverage_groups,
                                    proximity_min=result.blocks["proximity_min"])
    villages, audit = _villages_and_audit(cfg, net, blocks, adjacency, spaces, {}, points,
                                          origins, known=known, known_audit=known_audit,
                                          changed=changed)
    return StudyResult(config=cfg, network=net, study_area=result.study_area, spaces=spaces,
                       rejects=rejects, blocks=blocks, adjacency=adjacency, villages=villages,
                       coverage=audit.coverage, boundaries=result.boundaries, summary={},
                       gaps=audit.gaps, coverage_groups=audit.coverage_groups,
                       origin_snaps=origin_snaps, points=points, supply=supply,
                       origins=origins, profiles=profiles)


def _blocks_out(result: StudyResult) -> gpd.GeoDataFrame:
    cfg = result.config
    cols = ["block_id", "area_m2", *(["n_origins"] if "n_origins" in result.blocks else []),
            *(c for c in ("snap_highway", "snap_street") if c in result.blocks)]
    if "population" in result.blocks:
        cols.append("population")
        cols += [g.population_column for g in cfg.coverage.groups
                 if g.population_column in result.blocks]
    for b in cfg.coverage.boundaries:
        cols += [b.level, f"{b.level}_id"]
    cols += [walk_col(c) for c in cfg.categories]
    cols.append("proximity_min")
    cols += _group_walk_cols(cfg, result.blocks)
    cols += [supply_col(c) for c in cfg.categories if supply_col(c) in result.blocks]
    cols += ["adjacent_spaces", "adjacent_categories", "adjacent_space_ids", "candidate",
             "village_id"]
    if "adjacent_capacity" in result.blocks:
        cols.insert(cols.index("adjacent_space_ids"), "adjacent_capacity")
    # full precision: coverage.csv must agree exactly with what this file says
    blocks = result.blocks.assign(proximity_min=compute_proximity(result.blocks, cfg.categories))
    return to_web_crs(blocks[[*cols, "geometry"]], "blocks")


def _origins_out(result: StudyResult) -> gpd.GeoDataFrame:
    """Build the ``origins`` layer of blocks.gpkg: every block origin, its share and walks."""
    cfg = result.config
    origins = result.study_origins()
    cols = ["block_id", "origin", "part_area_m2", "share"]
    cols += [c for c in ("population", *(g.population_column for g in cfg.coverage.groups))
             if c in origins]
    cols += [walk_col(c) for c in cfg.categories if walk_col(c) in origins]
    cols += _group_walk_cols(cfg, origins)
    origins = origins.assign(**dict(zip(("snap_highway", "snap_street"),
                                        _snap_streets(result.network, result.block_snaps()),
                                        strict=True)))
    cols[4:4] = ["snap_highway", "snap_street"]
    return to_web_crs(origins[[*cols, "geometry"]], "origins")


def _group_walk_cols(cfg: StudyConfig, frame: pd.DataFrame) -> list[str]:
    """Return the own walk columns of the groups whose profile filters streets, in `frame`."""
    return [group_walk_col(c, g.slug) for g in cfg.coverage.groups for c in cfg.categories
            if group_walk_col(c, g.slug) in frame]


class _RunSource:
    """What a run's outputs are made from; pieces two outputs share are made once."""

    def __init__(self, result: StudyResult, *, progress: bool = False) -> None:
        self.result = result
        self.progress = progress
        self.timings: dict[str, float] = dict(result.summary.get("seconds", {}))

    @cached_property
    def audit_tables(self) -> tuple[pd.DataFrame, pd.DataFrame | None]:
        r = self.result
        gaps, groups = r.gaps, r.coverage_groups
        if gaps is None or (groups is None and r.config.coverage.groups):
            audit = compute_audit(r.blocks, r.spaces, r.network, r.config,
                                  points=r.prepared_points(), origins=r.study_origins())
            gaps, groups = audit.gaps, audit.coverage_groups
        return gaps, groups

    @cached_property
    def isochrones(self) -> gpd.GeoDataFrame | None:
        from .isochrones import isochrone_layer

        r, mcfg = self.result, self.result.config.map
        # one isochrone per space, merged above MAX_ISOCHRONE_SPACES spaces of a category
        return isochrone_layer(r.prepared_points(), r.spaces, mcfg.isochrone_categories,
                               minutes=mcfg.isochrone_minutes,
                               walk_speed_kmh=r.config.walk_speed_kmh, progress=self.progress)

    @cached_property
    def notes(self) -> list[str]:
        """The study's warnings, shown on the maps."""
        return [c.message for c in self.result.warnings()]

    @property
    def bounds(self) -> gpd.GeoDataFrame | None:
        return next(iter(reversed(self.result.boundaries.values())), None)

    def map_options(self, *, at: bool = True) -> dict[str, Any]:
        cfg = self.result.config
        title = cfg.name + (f" (open at {cfg.at})" if cfg.at and at else "")
        return {"color_by": cfg.map.color_by, "boundaries": self.bounds, "title": title,
                "frame": self.frame}

    @cached_property
    def frame(self) -> Any:
        """The area the maps open on (the study area)."""
        return self.result.map_frame()


def _spaces_out(src: _RunSource) -> gpd.GeoDataFrame:
    spaces = src.result.spaces
    sp = spaces[["space_id", "category", "name", "source", "source_row", "snap_m",
                 *(c for c in ("snap_highway", "snap_street") if c in spaces), "capacity",
                 "capacity_note", *[c for c in ("hours", "hours_osm", "beyond_area_m")
                                    if c in spaces],
                 "geometry"]]
    return to_web_crs(sp, "spaces")


def _map_writer(src: _RunSource) -> Callable[[Path], Any]:
    from .maps import build_map, save_map

    r = src.result

    def write(path: Path) -> Path:
        fmap = build_map(r.blocks, r.spaces, r.villages, isochrones=src.isochrones,
                         tiles=r.config.map.tiles, warnings=src.notes, **src.map_options())
        return save_map(fmap, path)

    return write


def _figure_writer(src: _RunSource) -> Callable[[Path], Any]:
    from .maps import static_map

    r = src.result
    return lambda path: static_map(r.blocks, r.spaces, r.villages, path=path,
                                   **src.map_options())


def _split_writer(src: _RunSource) -> Callable[[Path], Any] | None:
    from .maps import save_split_maps

    r, mcfg = src.result, src.result.config.map
    level = mcfg.split_by
    if not level:
        return None
    return lambda folder: save_split_maps(
        r.blocks, r.spaces, r.villages, folder, level=level, units=r.boundaries[level],
        pad_m=r.config.villages.adjacent_minutes * r.config.walk_speed_m_per_min,
        isochrones=src.isochrones, tiles=mcfg.tiles, warnings=src.notes,
        skipped=r.summary.get("split_maps", {}).get("skipped", ()), **src.map_options(at=False))


def _summary_out(src: _RunSource) -> dict[str, Any]:
    # "outputs" (every file beside it) is added when the folder is committed
    return {**src.result.summary, "seconds": src.timings}


_O = _outputs.Output
#: Every file ``sharemap run`` writes, in the order written (the registry entry of each;
#: the README's table, ``summary.json``'s "outputs" and CI's check come from it).
RUN_OUTPUTS: tuple[_outputs.Output, ...] = (
    _O("blocks.gpkg", "gpkg", layer="blocks",
       make=lambda s: {"blocks": _blocks_out(s.result), "origins": _origins_out(s.result)},
       columns=("block_id", "area_m2"),
       holds="`block_id`, `area_m2`, `n_origins` (the points the block is judged from, see "
       "below), `snap_highway` and `snap_street` (the street its origin joins, see "
       "Snapping), `population`, one column per boundary level (e.g. `gu`, `dong`: the unit "
       "containing the block origin) and its id (`gu_id`, `dong_id`), `walk_min_<category>` "
       "for every category (minutes to the nearest space; empty where none is reachable), "
       "`proximity_min` (the walk to the farthest of the nearest spaces across categories), "
       "`population_<group>` per configured group, `walk_min_<category>_<group>` per group "
       "whose [mobility profile](#mobility-profiles-anyone) leaves streets out (its own walk, "
       "on its own streets, at its own pace), `adjacent_spaces`, `adjacent_categories`, "
       "`adjacent_capacity` (the adjacent spaces' capacity added up), "
       "`adjacent_space_ids` (the spaces that make the count, nearest first; "
       "`category:id` for an id that several categories use), `candidate`, "
       "`village_id`, and with residents `supply_per_1000_<category>` (capacity reachable per "
       "1,000 residents, see [Supply per resident](#supply-per-resident)); and layer "
       "`origins`: one point per block origin with `block_id`, `origin`, `part_area_m2`, "
       "`share` (of the block's residents), `snap_highway`, `snap_street`, `population` (and "
       "`population_<group>`), `walk_min_<category>` (and `walk_min_<category>_<group>`)"),
    _O("spaces.gpkg", "gpkg", layer="spaces", make=_spaces_out,
       columns=("space_id", "category", "name", "source", "source_row", "snap_m",
                "snap_highway", "snap_street", "capacity", "capacity_note"),
       holds="every analysed space: `space_id`, `category`, `name`, `source`, `source_row`, "
       "`snap_m` (distance to the street it joins), `snap_highway` and `snap_street` (that "
       "street's class and name), `capacity` (docks, bays, ...; 1 where the "
       "layer has none; see [Capacity](#reading-seouls-files)), `capacity_note` (why the "
       "default 1 was used, else empty); where a layer gives opening hours, `hours` (as "
       "given) and `hours_osm` (as read, in OSM syntax; empty = unknown)"),
    _O("villages.geojson", "geojson", make=lambda s: s.result.villages,
       columns=("village_id", "rank", "score", "n_blocks", "n_spaces", "categories",
                "population"),
       holds="`village_id`, `rank`, `score`, `n_blocks`, `n_spaces`, `categories`, "
       "`population`, geometry (union of its blocks; RFC 7946: WGS84, 7 decimals, "
       "counter-clockwise outer rings, every geometry a MultiPolygon)"),
    _O("coverage.csv", "csv", make=lambda s: s.result.coverage,
       columns=("level", "area", "area_id", "category", "threshold_min", "blocks",
                "blocks_covered", "share_blocks", "population", "population_covered",
                "share_population"),
       holds="per `level` (`city`, then every boundary level) and `area`/`area_id`, per "
       "`category` (and `all`) and `threshold_min`: `blocks`, `blocks_covered`, "
       "`share_blocks`, `population`, `population_covered`, `share_population`"),
    _O("supply.csv", "csv", make=lambda s: s.result.supply,
       columns=SUPPLY_COLUMNS,
       when="only with residents",
       holds="per `level` (`city` first, then every boundary level), `area`/`area_id` and "
       "`category`: `capacity` (of the category's spaces standing in the unit), `population`, "
       "`supply_per_1000` (the population-weighted mean of the unit's blocks' "
       "`supply_per_1000_<category>`; see [Supply per resident](#supply-per-resident))"),
    _O("gaps.csv", "csv", make=lambda s: s.audit_tables[0],
       columns=("kind", "category", "threshold_min", "rank", "level", "area", "area_id"),
       holds="who lives beyond a 15-minute walk, by dong and by block, with the nearest space "
       "(see [Coverage audit](#coverage-audit))"),
    _O("coverage_groups.csv", "csv", make=lambda s: s.audit_tables[1],
       columns=("group", "walk_speed_kmh", "profile", "level", "area", "area_id", "category"),
       when="only with `[coverage] groups`",
       holds="`coverage.csv` per population group at its own walking speed, on the streets "
       "of its own mobility profile"),
    _O("rejects.csv", "csv", make=lambda s: s.result.rejects, columns=REJECT_COLUMNS,
       holds="every input row not analysed: `source` (the file, relative to the study's "
       "folder, or its absolute path when it lies elsewhere), `source_row` (1-based record "
       "number, header not counted), `category`, `reason`, `detail`"),
    _O("map.html", "file", make=_map_writer, stage="map",
       holds="one self-contained page (Leaflet inlined; works with no internet)"),
    _O("map.png", "file", make=_figure_writer, stage="figure",
       holds="the same map as a static figure for reports (no tiles; drawn without the "
       "network)"),
    _O("maps/", "file", make=_split_writer, stage="split_maps",
       when="only with `[map] split_by`",
       holds="`index.html` and one self-contained map per unit of the `split_by` level "
       "(see [Maps and notebooks](#maps-and-notebooks))"),
    _O("summary.json", "json", make=_summary_out, index=True, stage="summary",
       holds="parameters, input files with rows read / spaces / rejects (and whether they add "
       "up; their `capacity` and `capacity_defaulted`, the spaces whose capacity was missing or "
       "unreadable and counts as 1; with hours also `hours_unknown` and the "
       "`hours_not_understood` values with their counts), network cleaning counts, `checks` "
       "(see [Study checks](#study-checks)), `network_reach`, `boundaries` (units per level: "
       "read, in the study, outside it, without a block), totals (with "
       "`capacity_by_category`), `supply_headline` (the study's supply per 1,000 residents per "
       "category), software versions, seconds per stage; with `--at`, `\"at\"` and "
       "`\"hours\"`: per category the spaces `open`, `closed` and `unknown` at that time; with "
       "a group on a profile that leaves streets out, `\"profiles\"`: per profile the streets "
       "left out and the block origins and spaces cut off (see [Mobility profiles]"
       "(#mobility-profiles-anyone)); and `outputs`: every file in the folder"),
)
#: The files every run writes (RUN_OUTPUTS less those written only when configured).
OUTPUT_FILES = tuple(o.name for o in RUN_OUTPUTS if not o.when)
#: Written when the blocks have residents (see :mod:`sharemap.supply`).
SUPPLY_FILE = "supply.csv"


def write_outputs(result: StudyResult, out_dir: str | Path | _outputs.OutputFolder, *,
                  progress: bool = False,
                  extra: Sequence[_outputs.Output] = ()) -> dict[str, Path]:
    """Write the SPEC's output folder for a study result, as one run's files.

    Parameters
    ----------
    result
        From :func:`run_study`.
    out_dir
        The output folder (created if needed), or one already reserved by the caller
        (:class:`sharemap._outputs.OutputFolder`, as the CLI does before computing).
    progress
        Show progress bars (isochrones).
    extra
        More registry entries made from the same run, written before ``summary.json``
        (``sharemap audit`` adds :data:`sharemap.report.REPORT_OUTPUT`); their ``make``
        gets an object whose ``result`` is `result`.

    Returns
    -------
    paths
        Output file name (``maps/<file>`` for split maps) to path.

    Raises
    ------
    OutputError
        If `out_dir` is a file or cannot be written, another sharemap is writing into
        it, or an output would replace a file the study reads.

    Notes
    -----
    Files are written into a staging folder inside `out_dir` and moved in together
    once all are written; the previous run's files that this run does not write are
    removed (only files sharemap wrote and nobody changed since), so the folder holds
    one run's files and ``summary.json`` lists all of them. See :mod:`sharemap._outputs`.
    """
    src = _RunSource(result, progress=progress)
    *files, index = RUN_OUTPUTS
    return _outputs.write((*files, *extra, index), src, out_dir,
                          inputs=_outputs.input_paths(result.config), timings=src.timings)
