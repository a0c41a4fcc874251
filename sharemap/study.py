"""The study level: what needs a whole study, built on :func:`sharemap.run_study`'s result.

The stage modules below (:mod:`~sharemap.access`, :mod:`~sharemap.villages`,
:mod:`~sharemap.coverage`, ...) each compute one thing from plain tables and never
see a study; :mod:`sharemap.pipeline` chains them into a :class:`StudyResult`. What
takes a finished study and asks it a new question lives here:

- :func:`whatif`: the study again with spaces added and removed (the network,
  blocks and population reused; see :func:`sharemap.pipeline.recompute_with_spaces`);
- :func:`sweep`: candidates and villages under several adjacency rules at once;
- :func:`explain_block`: why a block is (or is not) a candidate, in words;
- :func:`candidate_sites` and :func:`cover_matrix`: the sites :mod:`sharemap.suggest`
  chooses among, and which blocks each reaches;
- :func:`coverage_by_time`: coverage at several times of week, each with only the
  spaces open then (:mod:`sharemap.hours`);
- :func:`group_points` and :func:`group_origin_minutes`: a population group's walks
  on the streets of its mobility profile (:mod:`sharemap.profiles`), for any
  question asked per group.

Everything here reuses the study's prepared points (``StudyResult.prepared_points()``:
its block origins and spaces, snapped and joined once); only new points (candidate
sites, a what-if's spaces) are snapped. A new question about a whole study (a new
command's computation) goes here; the command itself goes into :mod:`sharemap.cli`.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import geopandas as gpd
import numpy as np
import numpy.typing as npt
import pandas as pd
import shapely

from . import _outputs
from ._capacity import DEFAULT_CAPACITY
from ._crs import to_web_crs
from ._errors import ConfigError, InputDataError
from ._validate import LIMITS, check_number, check_whole
from .access import (
    metres_per_minute,
    nearest_distance,
    pairs_within,
    prepare_points,
    snap_points,
    walk_col,
)
from .hours import STATES, TimeOfWeek, hours_state, parse_time_of_week, state_counts
from .layers import dedupe_spaces, distinct_ids
from .origins import HALF, block_pairs
from .pipeline import StudyResult, recompute_with_spaces
from .profiles import (
    ProfileNetwork,
    at_group_speed,
    cut_off_points,
    get_profile,
    group_minutes,
    group_walk_col,
    profile_network,
    profile_points,
)
from .villages import compute_candidates, compute_villages

if TYPE_CHECKING:
    from scipy import sparse  # imported where used: `import sharemap` stays light

    from .config import StudyConfig

__all__ = [
    "SWEEP_OUTPUTS",
    "WHATIF_OUTPUTS",
    "CandidateSites",
    "CoverageByTime",
    "SiteWalks",
    "WhatIfResult",
    "all_spaces",
    "audit_at_times",
    "block_cover",
    "candidate_sites",
    "check_categories",
    "cover_matrix",
    "coverage_by_time",
    "explain_block",
    "find_group",
    "group_network",
    "group_origin_minutes",
    "group_points",
    "read_areas",
    "site_candidates",
    "site_walks",
    "sweep",
    "village_change",
    "whatif",
    "write_sweep",
    "write_whatif",
]

logger = logging.getLogger(__name__)


# ----------------------------------------------------------------------------- what-if


@dataclass(frozen=True, eq=False)
class WhatIfResult:
    """A study before and after adding and removing spaces, and the differences."""

    before: StudyResult
    after: StudyResult
    coverage_change: pd.DataFrame
    block_change: gpd.GeoDataFrame
    info: dict[str, Any] = field(default_factory=dict)
    #: the spaces added that were analysed (not duplicates, on the network, open)
    added: gpd.GeoDataFrame | None = None
    #: the spaces removed
    removed: gpd.GeoDataFrame | None = None
    #: the villages that appeared, vanished, merged, split, changed blocks or rank
    #: (see :func:`whatif`)
    village_change: gpd.GeoDataFrame | None = None


def whatif(result: StudyResult, *, add: gpd.GeoDataFrame | None = None,
           remove: Sequence[str] = ()) -> WhatIfResult:
    """Recompute coverage and villages with spaces added and removed (same network, blocks).

    Parameters
    ----------
    result
        The study as it is (:class:`~sharemap.pipeline.StudyResult`).
    add
        New spaces (``space_id``, ``category``, ``name``, point geometry), e.g. from
        :func:`sharemap.read_layer`.
    remove
        ``space_id`` values to remove (``category:space_id`` where an id repeats across
        categories).

    Returns
    -------
    whatif
        Both results; the coverage difference per population group (all residents
        first, then each ``[coverage]`` group at its own walking speed), level, area,
        category and threshold; the blocks whose walk times, adjacent spaces or
        candidacy changed; the spaces added (as analysed) and removed; and the villages
        that changed. Villages before and after are matched by the blocks they share:
        each group of overlapping villages is one row of `village_change`, ``appeared``
        (no village before), ``vanished``, ``merged`` (several into one), ``split``,
        ``regrouped`` (several into several), ``grew``, ``shrank``, ``reshaped`` (other
        blocks) or ``re-ranked`` (the same blocks, another rank).
    """
    spaces = result.spaces
    if add is not None and len(add):
        check_categories(add["category"].astype(str).unique().tolist(), result.config)
    keys = spaces["category"].astype(str) + ":" + spaces["space_id"].astype(str)
    drop = np.zeros(len(spaces), dtype=bool)
    for rid in remove:
        hit = (keys == rid).to_numpy() if ":" in rid else (spaces["space_id"] == rid).to_numpy()
        if not hit.any():
            msg = f"--remove: no analysed space has id {rid!r}"
            raise InputDataError(msg)
        if hit.sum() > 1:
            msg = f"--remove: id {rid!r} is used in several categories; write category:{rid}"
            raise InputDataError(msg)
        drop |= hit
    # what snapping adds is derived again for the new set of spaces
    cols = [c for c in spaces.columns if c not in ("snap_m", "snap_highway", "snap_street")]
    new = spaces.loc[~drop, cols]
    dup_rejects = pd.DataFrame()
    if add is not None and len(add):
        extra = add.to_crs(spaces.crs)
        extra = extra.assign(
            source=extra["source"] if "source" in extra else "whatif",
            source_row=extra["source_row"] if "source_row" in extra
            else np.arange(1, len(extra) + 1),
            capacity=extra["capacity"] if "capacity" in extra else DEFAULT_CAPACITY,
            capacity_note=extra["capacity_note"] if "capacity_note" in extra else "")
        for col in ("hours", "hours_osm"):  # added spaces read without hours: unknown
            if col in cols and col not in extra:
                extra[col] = ""
        extra = _own_ids(extra, new)
        # an added space within 2 m of a kept one of its category is the same space
        merged = gpd.GeoDataFrame(pd.concat([new, extra[cols]], ignore_index=True),
                                  crs=spaces.crs)
        new, dup_rejects = dedupe_spaces(merged)
    closed = np.zeros(len(new), dtype=bool)
    if result.config.at is not None and "hours_osm" in new:  # an added space may be closed
        closed = hours_state(new["hours_osm"], result.config.at) == "closed"
    final = gpd.GeoDataFrame(new[~closed], crs=spaces.crs)
    after = recompute_with_spaces(result, final, changed=_changed_categories(spaces, final))
    info = {"added": 0 if add is None else len(add), "removed": len(remove),
            "added_duplicates": len(dup_rejects), "added_off_network": len(after.rejects),
            "added_closed": int(closed.sum())}
    old_keys = set(keys[~drop])
    now = after.spaces
    fresh = ~(now["category"].astype(str) + ":" + now["space_id"].astype(str)).isin(old_keys)
    return WhatIfResult(before=result, after=after,
                        coverage_change=_coverage_change(_group_coverage(result),
                                                         _group_coverage(after)),
                        block_change=_block_change(result, after), info=info,
                        added=now[fresh.to_numpy()].reset_index(drop=True),
                        removed=spaces[drop].reset_index(drop=True),
                        village_change=village_change(result, after))


def check_categories(categories: Sequence[str], config: StudyConfig) -> None:
    """Refuse spaces of a category the study has no layer of (one line naming the fix).

    Its residents within reach are in no coverage row and ``all`` means the study's own
    categories, yet its spaces would count towards candidacy: a what-if would show no
    change for the service it adds.

    Raises
    ------
    InputDataError
        Naming the first such category.
    """
    for cat in categories:
        if cat not in config.categories:
            msg = (f"category {cat!r} is not in the study; its categories are "
                   f"{', '.join(config.categories)}: add a [[layers]] table of {cat} to the "
                   "study (a file with a header and no rows gives it no space) to add spaces "
                   "of it")
            raise InputDataError(msg)


def _own_ids(extra: gpd.GeoDataFrame, kept: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Give added spaces ids their category's kept spaces do not use (``<id>@<source>``).

    Added spaces are told from kept ones by category and id (``spaces_added``, the
    map's added layer), so an added id that is already taken would hide the space.
    """
    parts = []
    for cat, part in extra.groupby("category", sort=False):
        mine = kept.loc[kept["category"] == cat, "space_id"].astype(str)
        taken = dict.fromkeys(mine.tolist(), "the study")
        parts.append(distinct_ids(part, taken, str(part["source"].iloc[0])))
    return gpd.GeoDataFrame(pd.concat(parts).loc[extra.index], crs=extra.crs)


def _coverage_change(before: pd.DataFrame, after: pd.DataFrame) -> pd.DataFrame:
    keys = ["group", "walk_speed_kmh", "profile", "level", "area", "area_id", "category",
            "threshold_min"]
    cols = ["blocks_covered", "population_covered", "share_blocks", "share_population"]
    merged = before[[*keys, "blocks", "population", *cols]].merge(
        after[[*keys, *cols]], on=keys, suffixes=("_before", "_after"))
    for c in cols:
        merged[f"{c}_change"] = merged[f"{c}_after"] - merged[f"{c}_before"]
    return merged


def _changed_categories(before: gpd.GeoDataFrame, after: gpd.GeoDataFrame) -> list[str]:
    """Return the categories whose spaces (id and place) differ between two space tables."""
    def keys(spaces: gpd.GeoDataFrame) -> pd.Series:
        xy = shapely.get_coordinates(spaces.geometry.to_numpy())
        return pd.Series(list(zip(spaces["space_id"].astype(str), xy[:, 0].round(6),
                                  xy[:, 1].round(6), strict=True)), index=spaces.index)

    if not before.geom_type.eq("Point").all() or not after.geom_type.eq("Point").all():
        return sorted(set(before["category"]) | set(after["category"]))
    kb, ka = keys(before), keys(after)
    out = []
    for cat in sorted(set(before["category"]) | set(after["category"])):
        b = sorted(kb[(before["category"] == cat).to_numpy()])
        a = sorted(ka[(after["category"] == cat).to_numpy()])
        if a != b:
            out.append(cat)
    return out


def _group_coverage(result: StudyResult) -> pd.DataFrame:
    """Coverage per group (``coverage_groups.csv``'s rows; all residents first)."""
    from .coverage import ALL_RESIDENTS, compute_audit

    groups = result.coverage_groups
    if groups is None and result.config.coverage.groups:  # a result read back from a cache
        groups = compute_audit(result.blocks, result.spaces, result.network, result.config,
                               points=result.prepared_points(),
                               origins=result.study_origins()).coverage_groups
    if groups is None:
        return result.coverage.assign(group=ALL_RESIDENTS, profile="walk",
                                      walk_speed_kmh=result.config.walk_speed_kmh)
    order = (groups["group"] != ALL_RESIDENTS).to_numpy()
    return groups.iloc[np.argsort(order, kind="stable")].reset_index(drop=True)


#: The kinds of village change, in the order they are listed.
VILLAGE_CHANGES = ("appeared", "vanished", "merged", "split", "regrouped", "grew", "shrank",
                   "reshaped", "re-ranked")


def _village_groups(vb: np.ndarray, va: np.ndarray) -> list[tuple[list[Any], list[Any]]]:
    """Group villages before (`vb`) and after (`va`, per block) that share a block.

    Returns ``[(villages before, villages after), ...]``: the connected pieces of the
    graph joining two villages that share a block (union-find).
    """
    parent: dict[tuple[str, Any], tuple[str, Any]] = {}

    def find(x: tuple[str, Any]) -> tuple[str, Any]:
        while parent.setdefault(x, x) != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for side, ids in (("b", vb), ("a", va)):
        for v in pd.unique(ids):
            if v is not None:
                find((side, v))
    for b, a in {(b, a) for b, a in zip(vb, va, strict=True)
                 if b is not None and a is not None}:
        rb, ra = find(("b", b)), find(("a", a))
        if rb != ra:
            parent[rb] = ra
    groups: dict[tuple[str, Any], tuple[list[Any], list[Any]]] = {}
    for key in list(parent):
        groups.setdefault(find(key), ([], []))[0 if key[0] == "b" else 1].append(key[1])
    return list(groups.values())


def _village_kind(n_before: int, n_after: int, blocks_b: set[int], blocks_a: set[int],
                  same_rank: bool) -> str:
    """Name a group's change (one of :data:`VILLAGE_CHANGES`, or "" when none)."""
    if not n_before or not n_after:
        return "appeared" if not n_before else "vanished"
    if n_before > 1 or n_after > 1:
        return ("merged" if n_after == 1 else "split" if n_before == 1 else "regrouped")
    if blocks_a == blocks_b:
        return "" if same_rank else "re-ranked"
    return "grew" if blocks_a > blocks_b else "shrank" if blocks_a < blocks_b else "reshaped"


def village_change(before: StudyResult, after: StudyResult) -> gpd.GeoDataFrame:
    """List the villages that appeared, vanished, merged, split, changed blocks or rank.

    Villages before and after are matched by the blocks they share: each connected
    group of overlapping villages is one row (a village sharing no block with any on
    the other side appeared or vanished), drawn where its villages are after the
    change (where they were, for one that vanished).
    """
    vb = before.blocks["village_id"].to_numpy(dtype=object, na_value=None)
    va = after.blocks["village_id"].to_numpy(dtype=object, na_value=None)
    rank_b = dict(zip(before.villages["village_id"], before.villages["rank"], strict=True))
    rank_a = dict(zip(after.villages["village_id"], after.villages["rank"], strict=True))
    geom_b = dict(zip(before.villages["village_id"], before.villages.geometry, strict=True))
    geom_a = dict(zip(after.villages["village_id"], after.villages.geometry, strict=True))
    # each village's blocks, found once (a city has thousands of villages)
    of_b = pd.Series(np.arange(len(vb))).groupby(vb, dropna=True).agg(frozenset).to_dict()
    of_a = pd.Series(np.arange(len(va))).groupby(va, dropna=True).agg(frozenset).to_dict()
    rows, geoms = [], []
    for group_b, group_a in _village_groups(vb, va):
        bs = sorted(group_b, key=lambda v: rank_b.get(v, 0))
        as_ = sorted(group_a, key=lambda v: rank_a.get(v, 0))
        blocks_b = set().union(*(of_b[v] for v in bs))
        blocks_a = set().union(*(of_a[v] for v in as_))
        kind = _village_kind(len(bs), len(as_), blocks_b, blocks_a,
                             [rank_b.get(v) for v in bs] == [rank_a.get(v) for v in as_])
        if not kind:
            continue
        rows.append({"change": kind,
                     "villages_before": ",".join(str(v) for v in bs),
                     "villages_after": ",".join(str(v) for v in as_),
                     "ranks_before": ",".join(str(int(rank_b[v])) for v in bs),
                     "ranks_after": ",".join(str(int(rank_a[v])) for v in as_),
                     "blocks_before": len(blocks_b), "blocks_after": len(blocks_a)})
        geoms.append(shapely.union_all([geom_a[v] for v in as_] if as_ else
                                       [geom_b[v] for v in bs]))
    table = pd.DataFrame(rows, columns=["change", "villages_before", "villages_after",
                                        "ranks_before", "ranks_after", "blocks_before",
                                        "blocks_after"])
    out = gpd.GeoDataFrame(table, geometry=gpd.GeoSeries(geoms, crs=before.blocks.crs),
                           crs=before.blocks.crs)
    key = out["change"].map({k: i for i, k in enumerate(VILLAGE_CHANGES)}).to_numpy()
    return out.iloc[np.argsort(key, kind="stable")].reset_index(drop=True)


def _group_walk_cols(result: StudyResult) -> list[str]:
    """Return the blocks' own walk columns of the groups whose profile leaves streets out."""
    return [group_walk_col(c, g.slug) for g in result.config.coverage.groups
            for c in result.config.categories if group_walk_col(c, g.slug) in result.blocks]


def _block_change(before: StudyResult, after: StudyResult) -> gpd.GeoDataFrame:
    cats = before.config.categories
    b, a = before.blocks, after.blocks
    out = pd.DataFrame({"block_id": b["block_id"].to_numpy()})
    for c in cats:
        out[f"{walk_col(c)}_before"] = b[walk_col(c)].to_numpy()
        out[f"{walk_col(c)}_after"] = a[walk_col(c)].to_numpy()
    out["adjacent_spaces_before"] = b["adjacent_spaces"].to_numpy()
    out["adjacent_spaces_after"] = a["adjacent_spaces"].to_numpy()
    out["candidate_before"] = b["candidate"].to_numpy()
    out["candidate_after"] = a["candidate"].to_numpy()
    out["change"] = np.select(
        [~out["candidate_before"] & out["candidate_after"],
         out["candidate_before"] & ~out["candidate_after"]],
        ["gains candidacy", "loses candidacy"], default="")
    own = _group_walk_cols(before)  # a group on its own streets: its own walks may move
    for col in own:
        out[f"{col}_before"] = b[col].to_numpy()
        out[f"{col}_after"] = a[col].to_numpy()
    times_b = b[[walk_col(c) for c in cats] + own].to_numpy()
    times_a = a[[walk_col(c) for c in cats] + own].to_numpy()
    moved = ~np.isclose(times_b, times_a, equal_nan=True).all(axis=1)
    keep = moved | (out["change"] != "").to_numpy() | \
        (out["adjacent_spaces_before"] != out["adjacent_spaces_after"]).to_numpy()
    return gpd.GeoDataFrame(out[keep].reset_index(drop=True),
                            geometry=b.geometry.to_numpy()[keep], crs=b.crs)


def _whatif_info(change: WhatIfResult) -> dict[str, Any]:
    after, changed = change.after, change.block_change
    villages = change.village_change
    kinds = villages["change"].value_counts() if villages is not None else pd.Series(dtype=int)
    info = {**change.info,
            "spaces_added": [] if change.added is None else
            (change.added["category"] + ":" + change.added["space_id"].astype(str)).tolist(),
            "spaces_removed": [] if change.removed is None else
            (change.removed["category"] + ":" + change.removed["space_id"].astype(str)).tolist(),
            "blocks_changed": len(changed),
            "blocks_gaining_candidacy": int((changed["change"] == "gains candidacy").sum()),
            "blocks_losing_candidacy": int((changed["change"] == "loses candidacy").sum()),
            "candidates_before": int(change.before.blocks["candidate"].sum()),
            "candidates_after": int(after.blocks["candidate"].sum()),
            "villages_before": len(change.before.villages),
            "villages_after": len(after.villages)}
    for kind in ("appeared", "vanished", "merged", "split"):
        info[f"villages_{kind}"] = int(kinds.get(kind, 0))
    info["village_changes"] = ([] if villages is None else
                               pd.DataFrame(villages.drop(columns="geometry")).to_dict("records"))
    return info


def _whatif_blocks_for_map(change: WhatIfResult) -> gpd.GeoDataFrame:
    """Return the changed blocks with only the before/after pairs that differ somewhere."""
    blocks = change.block_change
    drop = []
    for col in [walk_col(c) for c in change.before.config.categories] + _group_walk_cols(
            change.before):
        b, a = blocks[f"{col}_before"], blocks[f"{col}_after"]
        if np.isclose(b.to_numpy(np.float64, na_value=np.nan),
                      a.to_numpy(np.float64, na_value=np.nan), equal_nan=True).all():
            drop += [f"{col}_before", f"{col}_after"]
    blocks = blocks.drop(columns=drop)
    adjacent = blocks["adjacent_spaces_before"] != blocks["adjacent_spaces_after"]
    return blocks.assign(change=np.where(
        blocks["change"] != "", blocks["change"],
        np.where(adjacent, "adjacent spaces changed", "walk times changed")))


def _whatif_map(change: WhatIfResult) -> Any:
    from .maps import add_change_layers, build_map, save_map

    after = change.after
    labels = {walk_col(c): f"walk to {c}" for c in after.config.categories}
    labels |= {group_walk_col(c, g.slug): f"{g.label}: walk to {c}"
               for g in after.config.coverage.groups for c in after.config.categories}
    labels |= {"adjacent_spaces": "adjacent spaces", "candidate": "candidate"}

    def write(path: Path) -> Path:
        fmap = build_map(after.blocks, after.spaces, after.villages,
                         title=f"{after.config.name}: what-if", tiles=after.config.map.tiles)
        add_change_layers(fmap, added=change.added, removed=change.removed,
                          blocks=_whatif_blocks_for_map(change), villages=change.village_change,
                          labels=labels)
        return save_map(fmap, path)

    return write


_O = _outputs.Output
#: Every file ``sharemap whatif`` writes (registry entries; see :mod:`sharemap.outputs`).
WHATIF_OUTPUTS: tuple[_outputs.Output, ...] = (
    _O("whatif_coverage.csv", "csv", make=lambda c: c.coverage_change,
       columns=("group", "walk_speed_kmh", "profile", "level", "area", "area_id", "category",
                "threshold_min"),
       holds="coverage before, after and the change per population group (`all residents`, "
       "then each `[coverage]` group at its own walking speed and profile), level, area, "
       "category and threshold"),
    _O("whatif_blocks.gpkg", "gpkg", layer="changed_blocks",
       make=lambda c: to_web_crs(c.block_change, "changed blocks"), columns=("block_id",),
       holds="the blocks whose walk times or candidacy changed, before and after (with "
       "`walk_min_<category>_<group>` for a group on its own profile's streets, whose walks "
       "can move where everyone's do not)"),
    _O("map.html", "file", make=_whatif_map, stage="map",
       holds="the study after the change, with what changed drawn over it: added spaces "
       "(a diamond with a plus), removed spaces (greyed, struck through), changed blocks "
       "(outlined; before and after in the popup) and villages that appeared, vanished, "
       "merged, split or changed (outlined by kind)"),
    _O("whatif.json", "json", make=_whatif_info, index=True,
       holds="spaces added and removed (`spaces_added`, `spaces_removed`), blocks changed, "
       "candidates and villages before and after, `villages_appeared`, `villages_vanished`, "
       "`villages_merged`, `villages_split` and `village_changes` (each group of villages "
       "sharing blocks before and after: `change`, the villages and ranks before and "
       "after, their blocks), and `outputs`: every file in the folder"),
)


def write_whatif(change: WhatIfResult,
                 out_dir: str | Path | _outputs.OutputFolder) -> dict[str, Path]:
    """Write ``whatif_coverage.csv``, ``whatif_blocks.gpkg``, ``map.html`` and ``whatif.json``.

    The folder then holds this what-if's files only (see :func:`sharemap.write_outputs`);
    returns file name to path.
    """
    return _outputs.write(WHATIF_OUTPUTS, change, out_dir,
                          inputs=_outputs.input_paths(change.before.config))


#: What ``sharemap sweep --out`` writes.
SWEEP_OUTPUTS: tuple[_outputs.Output, ...] = (
    _O("sweep.csv", "csv", make=lambda table: table,
       columns=("adjacent_minutes", "min_spaces"),
       holds="candidate blocks, villages and residents in candidate blocks for every pair of "
       "`--adjacent-minutes` and `--min-spaces`"),
)


def write_sweep(table: pd.DataFrame, out_dir: str | Path | _outputs.OutputFolder, *,
                inputs: Sequence[Path] = ()) -> dict[str, Path]:
    """Write a :func:`sweep` table as ``sweep.csv`` (the folder then holds it alone)."""
    return _outputs.write(SWEEP_OUTPUTS, table, out_dir, inputs=inputs)


# --------------------------------------------------------------------------- sweeps


def _adjacency_at(result: StudyResult, max_min: float, group: Any = None) -> pd.DataFrame:
    """All (block, space) pairs within `max_min`, computed as the pipeline does.

    A pair's distance is the share-weighted median over the block's origins (see
    :func:`sharemap.origins.block_pairs`), so filtering it at a shorter time gives
    exactly the pairs a run at that time finds. With `group`, on its profile's streets
    at its speed (:func:`group_points`).
    """
    cfg, blocks, spaces = result.config, result.blocks, result.spaces
    points = result.prepared_points()
    origins = result.study_origins()
    speed = cfg.walk_speed_m_per_min
    if group is not None:
        points = group_points(result, group, points)
        speed = metres_per_minute(group.walk_speed_kmh)
    pairs = pairs_within(points.joined, points.origin_idx, points.target_idx,
                         max_m=max_min * speed)
    pairs = block_pairs(pairs, origins["block"].to_numpy(np.int64),
                        origins["share"].to_numpy(np.float64))
    tgt = pairs["target"].to_numpy()
    return pd.DataFrame({
        "block_id": blocks["block_id"].to_numpy()[pairs["origin"].to_numpy()],
        "space": spaces.index.to_numpy()[tgt],
        "space_id": spaces["space_id"].to_numpy()[tgt],
        "category": spaces["category"].to_numpy()[tgt],
        "distance_m": pairs["distance_m"].to_numpy(),
    })


def sweep(result: StudyResult, *, adjacent_minutes: Sequence[float],
          min_spaces: Sequence[int], distinct_categories: bool | None = None,
          group: Any = None) -> pd.DataFrame:
    """Count candidates, villages and residents for several adjacency rules at once.

    Parameters
    ----------
    result
        A study result (:func:`sharemap.run_study`); its network, blocks, spaces and
        population are reused.
    adjacent_minutes
        The walking times that define "adjacent" (e.g. ``(3, 5, 7)``).
    min_spaces
        The numbers of adjacent spaces (or categories) that make a candidate.
    distinct_categories
        Count distinct categories instead of spaces (default: the study's setting).
    group
        A ``[coverage] groups`` entry or its label: "adjacent" as that group walks,
        at its speed on its mobility profile's streets (a wheelchair user's sharing
        village), and its residents counted; a block origin or space on a street the
        profile leaves out is adjacent to nothing. Default: everyone's walk.

    Returns
    -------
    table
        One row per pair, minutes outer, counts inner: ``adjacent_minutes``,
        ``min_spaces``, ``candidate_blocks``, ``villages``,
        ``residents_in_candidates`` (population of candidate blocks) and
        ``residents_in_villages`` (population of blocks in a village; every candidate
        is in one, a village of one block included, so the two agree); the resident
        columns are NaN without a population layer. With `group`, the residents are
        the group's, and ``group``, ``walk_speed_kmh`` and ``profile`` follow.

    Notes
    -----
    The walking distances are computed once, at the longest time, and filtered
    for each rule exactly as a full run would (within 1e-9 m), so every row equals
    ``run_study(config.with_villages(adjacent_minutes=..., min_spaces=...))``.

    Examples
    --------
    >>> from sharemap import read_config, run_study
    >>> from sharemap.datasets import get_path
    >>> table = sweep(run_study(read_config(get_path("demo"))),
    ...               adjacent_minutes=(3, 5), min_spaces=(2, 3))
    >>> table[["adjacent_minutes", "min_spaces"]].values.tolist()
    [[3.0, 2.0], [3.0, 3.0], [5.0, 2.0], [5.0, 3.0]]
    """
    if result.config.villages.count == "capacity":
        msg = ('sweep varies `min_spaces`, but this study counts capacity ([villages] count = '
               '"capacity"); sweep it with count = "spaces", or run the study at each '
               "min_capacity")
        raise ConfigError(msg)
    minutes = sorted({check_number(m, "`adjacent_minutes`", LIMITS["minutes"],
                                   error=InputDataError) for m in adjacent_minutes})
    counts = sorted({check_whole(k, "`min_spaces`", LIMITS["min_spaces"], error=InputDataError)
                     for k in min_spaces})
    if not minutes or not counts:
        msg = ("`adjacent_minutes` and `min_spaces` need at least one value each, got "
               f"{list(adjacent_minutes)} and {list(min_spaces)}")
        raise InputDataError(msg)
    distinct = (result.config.villages.distinct_categories if distinct_categories is None
                else distinct_categories)
    blocks = result.blocks.drop(columns=["candidate"], errors="ignore")
    g = None if group is None else find_group(result, group)
    col = "population" if g is None else g.population_column
    pop = blocks[col] if col in blocks else None

    def residents(mask: np.ndarray) -> float:
        # 0 where no block qualifies; NaN only where residents are not known at all
        return np.nan if pop is None else float(pop[mask].sum())

    all_pairs = _adjacency_at(result, minutes[-1], g)
    speed = (result.config.walk_speed_m_per_min if g is None
             else metres_per_minute(g.walk_speed_kmh))
    rows = []
    for m in minutes:
        adj = all_pairs[all_pairs["distance_m"].to_numpy() <= m * speed + 1e-9]
        for k in counts:
            flags = compute_candidates(blocks, adj, result.spaces, min_spaces=k,
                                       distinct_categories=distinct)
            village, table = compute_villages(blocks.assign(candidate=flags["candidate"]),
                                              adj, result.spaces)
            cand = flags["candidate"].to_numpy()
            rows.append({"adjacent_minutes": m, "min_spaces": k,
                         "candidate_blocks": int(cand.sum()), "villages": len(table),
                         "residents_in_candidates": residents(cand),
                         "residents_in_villages": residents(village.notna().to_numpy())})
    logger.info("Swept %d adjacency rules from one distance computation", len(rows))
    out = pd.DataFrame(rows)
    return out if g is None else out.assign(group=g.label, walk_speed_kmh=g.walk_speed_kmh,
                                            profile=g.profile)


# ---------------------------------------------------------------------- explanations


def _plain(value: Any) -> Any:
    """Return a numpy scalar as the Python number it holds (repr 1, not np.int64(1))."""
    return value.item() if isinstance(value, np.generic) else value


def _find_block(blocks: pd.DataFrame, block_id: Any) -> Any:
    hit = blocks.index[blocks["block_id"].astype(str) == str(block_id)]
    if not len(hit):
        ids = blocks["block_id"]
        msg = (f"block {block_id!r} is not in this study; block ids run from "
               f"{_plain(ids.min())!r} to {_plain(ids.max())!r} (see blocks.gpkg)")
        raise InputDataError(msg)
    return hit[0]


def _fmt_min(value: float) -> str:
    return "none reachable" if pd.isna(value) else f"{value:.1f} min"


def _place(result: StudyResult, row: pd.Series) -> str:
    parts = []
    for b in result.config.coverage.boundaries:
        name = row.get(b.level)
        if isinstance(name, str) and name:
            parts.append(f"{b.level} {name}")
    where = f" in {', '.join(parts)}" if parts else ""
    size = f"{row['area_m2']:,.0f} m²"
    if "population" in row and pd.notna(row["population"]):
        size += f", about {row['population']:,.0f} residents"
    return f"Block {row['block_id']}{where} ({size})."


def _space_lines(result: StudyResult, block_id: Any) -> list[str]:
    adj = result.adjacency[result.adjacency["block_id"].astype(str) == str(block_id)]
    adj = adj.sort_values(["minutes", "category", "space_id"], kind="stable")
    names = result.spaces["name"] if "name" in result.spaces else None
    lines = []
    for i, r in enumerate(adj.itertuples(index=False), start=1):
        name = "" if names is None else names.get(r.space, "")
        name = "" if pd.isna(name) else str(name)
        label = f"{name} " if name else ""
        lines.append(f"  {i}. {label}({r.category} {r.space_id}): {r.minutes:.1f} min walk")
    return lines


def _verdict(result: StudyResult, row: pd.Series) -> str:
    vcfg = result.config.villages
    if vcfg.count == "capacity" and vcfg.min_capacity is not None:
        cap, need = float(row["adjacent_capacity"]), vcfg.min_capacity
        if bool(row["candidate"]):
            return (f"It IS a sharing-village candidate: its adjacent spaces' capacity adds up "
                    f"to {cap:,.0f}, at least the {need:,.0f} the rule asks for.")
        return (f"It is NOT a candidate: its adjacent spaces' capacity adds up to {cap:,.0f}, "
                f"{need - cap:,.0f} short of the {need:,.0f} the rule asks for.")
    have = int(row["adjacent_categories"] if vcfg.distinct_categories else row["adjacent_spaces"])
    what = ("distinct categor" + ("y" if have == 1 else "ies") if vcfg.distinct_categories
            else "space" + ("" if have == 1 else "s"))
    if bool(row["candidate"]):
        return (f"It IS a sharing-village candidate: {have} adjacent {what}, at least the "
                f"{vcfg.min_spaces} the rule asks for.")
    return (f"It is NOT a candidate: {have} adjacent {what}, {vcfg.min_spaces - have} short "
            f"of the {vcfg.min_spaces} the rule asks for.")


def _village_line(result: StudyResult, row: pd.Series) -> str:
    vid = row.get("village_id")
    if vid is None or pd.isna(vid):
        return "It belongs to no sharing village (only candidate blocks do)."
    v = result.villages.set_index("village_id").loc[int(vid)]
    pop = "" if pd.isna(v["population"]) else f", {v['population']:,.0f} residents"
    return (f"It belongs to sharing village {int(vid)}: rank {int(v['rank'])} of "
            f"{len(result.villages)}, score {v['score']:.2f} "
            f"(spaces + 2 x categories + residents / 1000), {int(v['n_blocks'])} touching "
            f"candidate block(s), {int(v['n_spaces'])} spaces ({v['categories']}){pop}.")


def _off_network_line(result: StudyResult, row: pd.Series) -> str | None:
    points = result.prepared_points()
    max_snap = points.max_snap_m
    origins = result.study_origins()
    mine = origins.index[origins["block"].to_numpy() == result.blocks.index.get_loc(row.name)]
    if not mine.isin(points.off_network_origins).all():
        return None
    return (f"Its origin (a point inside it) is more than max_snap_m = {max_snap:g} m from "
            "every walkable street, so no walking time was computed for it.")


def _street_line(row: pd.Series) -> str | None:
    """Where the block's walks start: the street its origin joins (README, Snapping)."""
    highway, name = row.get("snap_highway"), row.get("snap_street")
    if not isinstance(highway, str) or not highway:
        return None
    street = f"{name} ({highway})" if isinstance(name, str) and name else f"an unnamed {highway}"
    who = "most of its origins join" if int(row.get("n_origins", 1)) > 1 else "its origin joins"
    return f"Its walks start where {who} the street network: {street}."


#: ``explain`` names a walk at least this many times the straight line to the nearest
#: space of its category (a street grid's walks are 1.2-1.6 times it) ...
DETOUR_RATIO = 3.0
#: ... when the walk takes at least this many minutes.
DETOUR_MIN_MINUTES = 5.0


def _detour_line(result: StudyResult, idx: Any) -> str | None:
    """Name the categories whose walk is far longer than the straight line (None: none).

    The block's walk to a category against the straight line from the origin whose
    walk it is (its median origin) to the category's nearest space: a river, railway or
    closed site between, or an origin joined to a street with no junction near it.
    """
    cfg, row = result.config, result.blocks.loc[idx]
    origins = result.study_origins()
    mine = np.flatnonzero(origins["block"].to_numpy() == result.blocks.index.get_loc(idx))
    if not len(mine):
        return None
    points = origins.geometry.to_numpy()[mine]
    parts = []
    for cat in cfg.categories:
        walk = float(row.get(walk_col(cat), np.nan))
        spaces = result.spaces.geometry.to_numpy()[result.spaces["category"].to_numpy() == cat]
        if not np.isfinite(walk) or walk < DETOUR_MIN_MINUTES or not len(spaces):
            continue
        own = origins[walk_col(cat)].to_numpy(np.float64, na_value=np.nan)[mine]
        at = int(np.nanargmin(np.abs(own - walk))) if np.isfinite(own).any() else 0
        straight = float(shapely.distance(spaces, points[at]).min())
        metres = walk * cfg.walk_speed_m_per_min
        if metres >= DETOUR_RATIO * max(straight, 1.0):
            parts.append(f"{cat} {walk:.1f} min ({metres:,.0f} m) though its nearest space is "
                         f"{straight:,.0f} m away in a straight line "
                         f"({metres / max(straight, 1.0):.0f} times)")
    if not parts:
        return None
    return ("Walks far longer than the straight line: " + "; ".join(parts) + ". A river, "
            "railway, wall or closed site may lie between, or the walks start on a street "
            "with no junction near it: look at the map there before acting on these minutes.")


def explain_block(result: StudyResult, block_id: Any) -> str:
    """Say in words why a block is (or is not) a sharing-village candidate.

    Parameters
    ----------
    result
        A study result (:func:`sharemap.run_study`).
    block_id
        The block's ``block_id`` (as in ``blocks.gpkg``; text or number).

    Returns
    -------
    text
        Several lines: the block and its boundary units, the rule, every adjacent
        space (name, category, id, walking minutes) nearest first, the verdict with
        the count against the rule, its village with rank and score, and the nearest
        space of each category.

    Raises
    ------
    InputDataError
        When no block has that id.

    Examples
    --------
    >>> from sharemap import read_config, run_study
    >>> from sharemap.datasets import get_path
    >>> result = run_study(read_config(get_path("demo")))
    >>> text = explain_block(result, 1)
    >>> text.splitlines()[0].startswith("Block 1 ")
    True
    """
    idx = _find_block(result.blocks, block_id)
    row = result.blocks.loc[idx]
    cfg = result.config
    vcfg = cfg.villages
    metres = vcfg.adjacent_minutes * cfg.walk_speed_m_per_min
    counted = "distinct categories of space" if vcfg.distinct_categories else "sharing spaces"
    within = (f"within {vcfg.adjacent_minutes:g} minutes' walk ({metres:,.0f} m at "
              f"{cfg.walk_speed_kmh:g} km/h) of its origin")
    rule = (f"Rule: a block is a candidate when the sharing spaces {within} have a capacity "
            f"of at least {vcfg.min_capacity:,.0f} together." if vcfg.count == "capacity"
            else f"Rule: a block is a candidate when at least {vcfg.min_spaces} {counted} are "
            f"{within}.")
    lines = [_place(result, row), rule]
    n_origins = int(row.get("n_origins", 1))
    if n_origins > 1:
        lines.append(
            f"A large block: it is judged from {n_origins} origins (a "
            f"{cfg.blocks.origin_spacing_m:g} m grid inside it, each holding its share of "
            "the block's residents). A space counts when origins holding at least half of "
            "the residents are within that walk; its minutes and the block's walk to each "
            "category are the median over the origins, weighted by their residents.")
    spaces = _space_lines(result, row["block_id"])
    if spaces:
        lines.append(f"Spaces within {vcfg.adjacent_minutes:g} minutes, nearest first "
                     f"({len(spaces)}):")
        lines += spaces
    else:
        lines.append(f"No space is within {vcfg.adjacent_minutes:g} minutes' walk.")
        off = _off_network_line(result, row)
        if off:
            lines.append(off)
    lines.append(_verdict(result, row))
    lines.append(_village_line(result, row))
    street = _street_line(row)
    if street:
        lines.append(street)
    detour = _detour_line(result, idx)
    if detour:
        lines.append(detour)
    nearest = [f"{c} {_fmt_min(row.get(f'walk_min_{c}', np.nan))}" for c in cfg.categories]
    if nearest:
        lines.append("Nearest space of each category: " + "; ".join(nearest) + ".")
    lines += _group_lines(result, idx)
    return "\n".join(lines)


# ------------------------------------------------------------- candidate sites

#: A given candidate site within this distance of an existing space of the category *is*
#: that space (the layers' duplicate rule), so it is not a new site.
DUPLICATE_M = 2.0
#: The default grid spacing (metres) when no candidate sites are given.
DEFAULT_GRID_M = 200.0
SITE_SOURCES = ("given", "facility", "grid")


@dataclass(frozen=True, eq=False)
class CandidateSites:
    """The candidate sites for a category's new spaces, and what was left out.

    Attributes
    ----------
    sites
        ``site_id``, ``name`` and point geometry in the analysis CRS, RangeIndex.
    source
        ``"given"`` (points passed in), ``"facility"`` (the study's opened public
        facilities) or ``"grid"`` (points on the walking network).
    grid_m
        The grid's spacing (``source == "grid"``), else None.
    existing
        The sites left out because a space of the category already stands there
        (within :data:`DUPLICATE_M`; a grid point within half the spacing): ``site_id``,
        ``name``, ``space_id`` of the existing space.
    excluded
        How many sites lay in the excluded areas.
    """

    sites: gpd.GeoDataFrame
    source: str
    grid_m: float | None = None
    existing: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(
        {"site_id": [], "name": [], "space_id": []}))
    excluded: int = 0

    def info(self) -> dict[str, Any]:
        """Return what ``suggest.json`` says about the candidates."""
        return {"candidate_source": self.source, "grid_m": self.grid_m,
                "candidates_existing": len(self.existing),
                "candidates_excluded": self.excluded}


def site_candidates(result: StudyResult, *, category: str | None = None,
                    candidates: gpd.GeoDataFrame | None = None, grid_m: float | None = None,
                    exclude: gpd.GeoSeries | gpd.GeoDataFrame | None = None) -> CandidateSites:
    """Return the candidate sites for new spaces of `category`, never an existing one.

    Parameters
    ----------
    result
        A study result.
    category
        The category the sites are for: a site within :data:`DUPLICATE_M` of one of its
        spaces (analysed or closed at ``[study] at``) is that space, not a new site, and
        is left out (listed in ``existing``); a grid point is left out within half the
        spacing. None keeps every site.
    candidates
        Points with ``site_id`` and ``name`` (e.g. from :func:`sharemap.read_layer`).
    grid_m
        Use a grid of this spacing on the walking network instead (each grid point
        moved to the nearest street within the cell's half-diagonal; points landing
        within :data:`DUPLICATE_M` of an earlier one are one site).
    exclude
        Areas (polygons: parks, water, ...) in which no site may lie.

    Returns
    -------
    sites
        The sites and what was left out. Without `candidates` and `grid_m`, the
        study's ``facility`` spaces (opened public facilities can host a service),
        else (none, or `category` is ``facility``) a grid of :data:`DEFAULT_GRID_M`.
    """
    if candidates is not None and grid_m is not None:
        msg = "give candidate sites or a grid spacing, not both (--candidates or --grid)"
        raise ConfigError(msg)
    if grid_m is not None:
        grid_m = check_number(grid_m, "the grid spacing (--grid)", LIMITS["grid_m"])
    source = "given" if candidates is not None else "grid" if grid_m is not None else ""
    sites: gpd.GeoDataFrame | None = None
    if candidates is not None:
        given = candidates.to_crs(result.network.crs)
        sites = gpd.GeoDataFrame({"site_id": given["site_id"].astype(str).to_numpy(),
                                  "name": given["name"].astype(str).to_numpy()},
                                 geometry=given.geometry.to_numpy(), crs=given.crs)
    elif grid_m is None:
        fac = all_spaces(result)
        fac = fac[fac["category"] == "facility"]
        if len(fac) and category != "facility":
            source = "facility"
            sites = gpd.GeoDataFrame({"site_id": fac["space_id"].astype(str).to_numpy(),
                                      "name": fac["name"].astype(str).to_numpy()},
                                     geometry=fac.geometry.to_numpy(), crs=fac.crs)
    if sites is None:
        source, grid_m = "grid", grid_m or DEFAULT_GRID_M
        sites = _grid_sites(result, grid_m)
    excluded = 0
    if exclude is not None and len(sites):
        inside = _inside(sites.geometry.to_numpy(), exclude)
        excluded = int(inside.sum())
        sites = sites[~inside]
    existing = pd.DataFrame({"site_id": [], "name": [], "space_id": []})
    if category is not None and len(sites):
        near = DUPLICATE_M if source != "grid" else max(DUPLICATE_M, float(grid_m or 0) / 2)
        hit = _existing_space(result, category, sites.geometry.to_numpy(), near)
        dup = hit >= 0
        existing = pd.DataFrame({"site_id": sites["site_id"].to_numpy()[dup],
                                 "name": sites["name"].to_numpy()[dup],
                                 "space_id": all_spaces(result)["space_id"].to_numpy()[hit[dup]]})
        sites = sites[~dup]
    if len(existing):
        logger.info("Left out %d candidate sites where a %s space already stands", len(existing),
                    category)
    return CandidateSites(sites=sites.reset_index(drop=True), source=source,
                          grid_m=grid_m if source == "grid" else None, existing=existing,
                          excluded=excluded)


def _inside(points: Any, areas: gpd.GeoSeries | gpd.GeoDataFrame) -> np.ndarray:
    """Which `points` lie in (or on the edge of) any polygon of `areas`."""
    geoms = areas.geometry.to_numpy()
    geoms = geoms[np.isin(shapely.get_type_id(geoms), (3, 6))]  # polygons, multipolygons
    inside = np.zeros(len(points), dtype=bool)
    if len(geoms):
        tree = shapely.STRtree(geoms)
        idx = tree.query(points, predicate="intersects")[0]
        inside[idx] = True
    return inside


def _existing_space(result: StudyResult, category: str, points: Any,
                    within_m: float) -> np.ndarray:
    """Per point, the row (in :func:`all_spaces`) of a `category` space within `within_m`, or -1."""
    spaces = all_spaces(result)
    mine = np.flatnonzero((spaces["category"] == category).to_numpy())
    out = np.full(len(points), -1, dtype=np.int64)
    if not len(mine) or not len(points):
        return out
    tree = shapely.STRtree(spaces.geometry.to_numpy()[mine])
    (pi, si), _ = tree.query_nearest(points, max_distance=within_m, return_distance=True,
                                     all_matches=False)
    out[pi] = mine[si]
    return out


def read_areas(path: str | Path, *, crs: Any, what: str = "--exclude") -> gpd.GeoSeries:
    """Read polygons (areas to leave out: parks, water, ...) into the analysis CRS.

    Raises
    ------
    InputDataError
        When the file is missing, unreadable, has no CRS or holds no polygon.
    """
    from ._crs import to_analysis_crs
    from ._readers import read_vector

    p = Path(path)
    gdf = to_analysis_crs(read_vector(p, what=f"{what} areas"), crs, f"{what} file {p}")
    geoms = gdf.geometry[gdf.geometry.notna() & ~gdf.geometry.is_empty]
    geoms = geoms[geoms.geom_type.isin(["Polygon", "MultiPolygon"])]
    if geoms.empty:
        msg = (f"{p}: no polygon features; {what} takes areas (parks, water, ...) as "
               "polygons in a GIS file (GeoJSON, GeoPackage, Shapefile)")
        raise InputDataError(msg)
    return geoms.reset_index(drop=True)


def candidate_sites(result: StudyResult, *, candidates: gpd.GeoDataFrame | None = None,
                    grid_m: float | None = None, category: str | None = None,
                    exclude: gpd.GeoSeries | gpd.GeoDataFrame | None = None
                    ) -> gpd.GeoDataFrame:
    """Return the candidate sites: given points, the open-facility layer, or a network grid.

    The sites of :func:`site_candidates` (which also says what was left out).

    Returns
    -------
    sites
        ``site_id``, ``name`` and point geometry in the analysis CRS.
    """
    return site_candidates(result, category=category, candidates=candidates, grid_m=grid_m,
                           exclude=exclude).sites


def _grid_sites(result: StudyResult, grid_m: float) -> gpd.GeoDataFrame:
    """Lay a grid of `grid_m` over the study area, each point moved onto the nearest street."""
    net = result.network
    area = result.study_area
    x0, y0, x1, y1 = area.bounds if area is not None else net.edges.total_bounds
    xs = np.arange(x0 + grid_m / 2, x1, grid_m)
    ys = np.arange(y0 + grid_m / 2, y1, grid_m)
    gx, gy = np.meshgrid(xs, ys)
    pts = shapely.points(gx.ravel(), gy.ravel())
    if area is not None:
        pts = pts[shapely.covers(area, pts)]
    # a street anywhere in the cell is within its half-diagonal of the cell's centre
    snaps = snap_points(net, gpd.GeoSeries(pts, crs=net.crs),
                        max_snap_m=grid_m * np.sqrt(0.5))
    ok = snaps["on_network"].to_numpy()
    lines = net.edges.geometry.to_numpy()[snaps["edge"].to_numpy()[ok]]
    on_street = shapely.line_interpolate_point(lines, snaps["position_m"].to_numpy()[ok])
    if len(on_street):  # two cells' points moved onto the same spot are one site
        xy = shapely.get_coordinates(on_street)
        key = np.round(xy / DUPLICATE_M).astype(np.int64)
        _, first = np.unique(key, axis=0, return_index=True)
        on_street = on_street[np.sort(first)]
    n = len(on_street)
    return gpd.GeoDataFrame({"site_id": [f"grid-{i + 1}" for i in range(n)],
                             "name": [f"grid point {i + 1}" for i in range(n)]},
                            geometry=on_street, crs=net.crs)


@dataclass(frozen=True, eq=False)
class SiteWalks:
    """The walks from candidate sites to the study's block origins, up to `max_m`.

    Computed once (:func:`site_walks`) and filtered for any walk no longer than
    `max_m`: several thresholds, walking speeds or categories reuse it.

    Attributes
    ----------
    sites
        The sites (as given to :func:`site_walks`).
    max_m
        The longest walk kept (metres).
    indptr, origin, distance_m
        Compressed rows: site ``i`` reaches origins ``origin[indptr[i]:indptr[i+1]]``
        (positions in :meth:`~sharemap.pipeline.StudyResult.study_origins`) at
        ``distance_m[...]`` metres.
    n_origins
        The number of block origins.
    """

    sites: gpd.GeoDataFrame
    max_m: float
    indptr: np.ndarray
    origin: np.ndarray
    distance_m: np.ndarray
    n_origins: int

    def within(self, keep: np.ndarray) -> sparse.csr_matrix:
        """Return sites x origins (boolean CSR) where `keep` (aligned to `distance_m`) holds."""
        from scipy import sparse

        # kept walks before each site's first (reduceat fails when the last sites walk nowhere)
        kept = np.concatenate([[0], np.cumsum(keep, dtype=np.int64)])
        indptr = kept[self.indptr]
        return sparse.csr_matrix((np.ones(int(indptr[-1]), dtype=bool), self.origin[keep],
                                  indptr), shape=(len(self.sites), self.n_origins))

    def take(self, rows: np.ndarray) -> SiteWalks:
        """Return the walks of the sites at positions `rows` (in that order)."""
        rows = np.asarray(rows, dtype=np.int64)
        lo, hi = self.indptr[rows], self.indptr[rows + 1]
        counts = hi - lo
        idx = (np.repeat(lo - np.concatenate([[0], np.cumsum(counts)[:-1]]), counts)
               + np.arange(int(counts.sum())))
        return SiteWalks(sites=self.sites.iloc[rows].reset_index(drop=True), max_m=self.max_m,
                         indptr=np.concatenate([[0], np.cumsum(counts)]),
                         origin=self.origin[idx], distance_m=self.distance_m[idx],
                         n_origins=self.n_origins)


def site_walks(result: StudyResult, sites: gpd.GeoDataFrame, *, max_m: float,
               progress: bool = False, chunk: int = 2000,
               profile: str | None = None) -> SiteWalks:
    """Walk from every site to the block origins within `max_m` metres.

    The origins are the study's (:meth:`~sharemap.pipeline.StudyResult.block_snaps`,
    snapped once); the sites are snapped and the walks measured exactly as for spaces
    (along-edge distances and the straight-line offsets at both ends). With
    `progress`, a bar counts the sites. With `profile` (a mobility profile that leaves
    streets out, e.g. ``"wheelchair"``), the walks follow the streets the profile may
    use, as a group walking with it is measured (:mod:`sharemap.profiles`): a site or
    origin on a street it leaves out reaches nothing.
    """
    from tqdm import tqdm  # not tqdm.auto: it warns in Jupyter without ipywidgets

    snaps = result.block_snaps()
    pts = prepare_points(result.network, snaps, sites,
                         max_snap_m=result.config.network.max_snap_m)
    if profile is not None:
        from .profiles import profile_network, profile_points

        pnet = result.profiles.get(profile) or profile_network(result.network, profile)
        pts = profile_points(pts, pnet)
    site_idx, origin_idx = pts.target_idx, pts.origin_idx
    parts = []
    with tqdm(total=len(sites), disable=not progress, desc="walks from candidate sites",
              unit="site") as bar:
        for start in range(0, len(sites), chunk):
            rows = np.arange(start, min(start + chunk, len(sites)))
            pairs = pairs_within(pts.joined, site_idx[rows], origin_idx, max_m=max_m,
                                 sort=False)
            parts.append((rows[pairs["origin"].to_numpy()], pairs["target"].to_numpy(),
                          pairs["distance_m"].to_numpy()))
            bar.update(len(rows))
    site = np.concatenate([p[0] for p in parts]) if parts else np.array([], np.int64)
    origin = np.concatenate([p[1] for p in parts]) if parts else np.array([], np.int64)
    dist = np.concatenate([p[2] for p in parts]) if parts else np.array([], np.float64)
    order = np.lexsort((origin, site))
    indptr = np.concatenate([[0], np.cumsum(np.bincount(site, minlength=len(sites)))])
    return SiteWalks(sites=sites, max_m=float(max_m), indptr=indptr.astype(np.int64),
                     origin=origin[order].astype(np.int64), distance_m=dist[order],
                     n_origins=len(snaps))


def origin_cover_matrix(result: StudyResult, points: gpd.GeoDataFrame, *,
                        minutes: float, group: Any = None) -> sparse.csr_matrix:
    """Which block origins each point reaches within `minutes` (sites x origins, boolean CSR).

    The origins are those of :meth:`~sharemap.pipeline.StudyResult.study_origins`; the
    walk is measured exactly as for spaces: snapping, along-edge distances and the
    straight-line offsets at both ends. With `group` (a ``[coverage] groups`` entry or
    its label), the walk is the group's: at its speed, on its profile's streets
    (:func:`group_points`).
    """
    g = None if group is None else find_group(result, group)
    speed = (result.config.walk_speed_m_per_min if g is None
             else metres_per_minute(g.walk_speed_kmh))
    own = None if g is None or not get_profile(g.profile).filters else g.profile
    walks = site_walks(result, points, max_m=minutes * speed, profile=own)
    return walks.within(np.ones(len(walks.distance_m), dtype=bool))


def block_cover(result: StudyResult, cover: sparse.csr_matrix) -> sparse.csr_matrix:
    """Turn sites x origins into sites x blocks: a block is reached with half its residents.

    A point reaches a block when it is within reach of origins holding at least half of
    the block's residents (the rule that makes a space adjacent; see
    :mod:`sharemap.origins`); a block with one origin is reached when its origin is.
    `cover` is sites x origins, e.g. from :func:`origin_cover_matrix`.
    """
    from scipy import sparse

    origins = result.study_origins()
    block = origins["block"].to_numpy(np.int64)
    if len(block) == len(result.blocks):
        return cover
    shares = sparse.csr_matrix((origins["share"].to_numpy(np.float64),
                                (np.arange(len(block)), block)),
                               shape=(len(block), len(result.blocks)))
    reached = (cover.astype(np.float64) @ shares).tocsr()
    reached.data = reached.data >= HALF
    reached.eliminate_zeros()
    return reached.astype(bool)


def cover_matrix(result: StudyResult, points: gpd.GeoDataFrame, *,
                 minutes: float, group: Any = None) -> sparse.csr_matrix:
    """Which blocks each point reaches within `minutes` (sites x blocks, boolean CSR).

    A point reaches a block when it is within `minutes` of origins holding at least
    half of the block's residents (the rule that makes a space adjacent; see
    :mod:`sharemap.origins`); a block with one origin is reached when its origin is.
    `group`: as for :func:`origin_cover_matrix`.
    """
    return block_cover(result, origin_cover_matrix(result, points, minutes=minutes,
                                                   group=group))


# ---------------------------------------------------------------------- times of week


@dataclass(frozen=True, eq=False)
class CoverageByTime:
    """The coverage audit at several times of week (:func:`audit_at_times`).

    Attributes
    ----------
    coverage
        ``at`` (``"Mon 09:00"``), then the columns of ``coverage.csv``, then
        ``spaces_open``, ``spaces_closed``, ``spaces_unknown`` (per category; the
        sums for ``all``), times in the given order: ``coverage_by_time.csv``.
    coverage_groups
        The same for ``coverage_groups.csv`` (every resident, then each population
        group at its own speed on its own streets): ``coverage_groups_by_time.csv``;
        None when the study has no ``[coverage] groups``.
    """

    coverage: pd.DataFrame
    coverage_groups: pd.DataFrame | None


def audit_at_times(result: StudyResult, times: Sequence[TimeOfWeek | str]) -> CoverageByTime:
    """Audit coverage at several times of week, each with only the spaces open then.

    The network, blocks, residents and block origins of `result` are reused; for
    every time the spaces open (or of unknown hours, which are kept) are walked to
    again, exactly as ``run_study`` does with ``[study] at`` set to that time, and so
    are each population group's walks on its own streets.

    Parameters
    ----------
    result
        A study result (its ``spaces`` and the spaces closed at its own ``at``).
    times
        Times of week (``"Mon 09:00"``, ...).

    Returns
    -------
    audit
        ``coverage`` and ``coverage_groups`` at each time (:class:`CoverageByTime`).
    """
    whens = [t if isinstance(t, TimeOfWeek) else parse_time_of_week(t, what="times")
             for t in times]
    spaces = all_spaces(result)
    cats = list(result.config.categories)
    osm = spaces["hours_osm"] if "hours_osm" in spaces else pd.Series([""] * len(spaces))
    frames: list[pd.DataFrame] = []
    group_frames: list[pd.DataFrame] = []
    for when in whens:
        state = hours_state(osm, when)
        keep = state != "closed"
        redo = recompute_with_spaces(result, spaces[keep].reset_index(drop=True))
        counts = state_counts(spaces, state, cats)
        counts["all"] = {s: sum(c[s] for c in counts.values()) for s in STATES}
        frames.append(_at_time(redo.coverage, when, counts))
        if redo.coverage_groups is not None:
            group_frames.append(_at_time(redo.coverage_groups, when, counts))
        logger.info("Coverage at %s: %d spaces open, %d closed, %d unknown", when,
                    counts["all"]["open"], counts["all"]["closed"], counts["all"]["unknown"])
    return CoverageByTime(
        coverage=pd.concat(frames, ignore_index=True),
        coverage_groups=pd.concat(group_frames, ignore_index=True) if group_frames else None)


def _at_time(table: pd.DataFrame, when: TimeOfWeek,
             counts: dict[str, dict[str, int]]) -> pd.DataFrame:
    """`table` with ``at`` first and the spaces open, closed and unknown per category."""
    out = table.copy()
    for s in STATES:
        out[f"spaces_{s}"] = out["category"].map({c: n[s] for c, n in counts.items()})
    out.insert(0, "at", str(when))
    return out


def coverage_by_time(result: StudyResult, times: Sequence[TimeOfWeek | str]) -> pd.DataFrame:
    """Coverage at several times of week: ``audit_at_times(result, times).coverage``.

    The table of ``coverage_by_time.csv`` (see :class:`CoverageByTime`); `result` and
    `times` as for :func:`audit_at_times`.
    """
    return audit_at_times(result, times).coverage


def all_spaces(result: StudyResult) -> gpd.GeoDataFrame:
    """Return the study's spaces including those closed at its ``at`` time (analysed first)."""
    closed = getattr(result, "closed", None)
    if closed is None or not len(closed):
        return result.spaces
    return gpd.GeoDataFrame(pd.concat([result.spaces, closed], ignore_index=True),
                            geometry="geometry", crs=result.spaces.crs)


# ---------------------------------------------------------------- mobility profiles


def find_group(result: Any, group: Any) -> Any:
    """Return the study's ``[coverage] groups`` entry `group` (a label or the entry itself).

    `result` is a :class:`~sharemap.pipeline.StudyResult` or its config (so that a
    command can check a label before any work).

    Raises
    ------
    InputDataError
        When no group has that label (naming the study's groups).
    """
    groups = getattr(result, "config", result).coverage.groups
    if any(group is g for g in groups):
        return group
    label = getattr(group, "label", group)
    for g in groups:
        if g.label == str(label):
            return g
    known = ", ".join(repr(g.label) for g in groups) or "none ([coverage] groups is empty)"
    msg = (f"group {label!r} is not a population group of the study; its groups are {known} "
           "(the `label` of [coverage] groups)")
    raise InputDataError(msg)


def group_network(result: StudyResult, group: Any) -> ProfileNetwork | None:
    """Return the network of `group`'s mobility profile (None: it walks every street).

    The study's own when it derived it, else derived now (cached, see
    :func:`sharemap.profiles.profile_network`).
    """
    g = find_group(result, group)
    if not get_profile(g.profile).filters:
        return None
    known = result.profiles.get(g.profile)
    return known if known is not None else profile_network(result.network, g.profile)


def group_points(result: StudyResult, group: Any, points: Any) -> Any:
    """Put points prepared on the study's network on the streets `group` can use.

    Parameters
    ----------
    result
        The study.
    group
        A ``[coverage] groups`` entry or its label.
    points
        :class:`~sharemap.access.PreparedPoints` on ``result.network`` (e.g. the study's
        block origins and candidate sites, see :func:`origin_cover_matrix`).

    Returns
    -------
    points
        `points` itself for a group on the ``walk`` profile; else the same points on
        its profile's network, where a point along a street the profile leaves out
        reaches nothing (:func:`sharemap.profiles.profile_points`). Distances on them
        are the group's; divide by its ``walk_speed_kmh`` in metres per minute.
    """
    pnet = group_network(result, group)
    return points if pnet is None else profile_points(points, pnet)


def group_origin_minutes(result: StudyResult, group: Any, category: str, *,
                         spaces: gpd.GeoDataFrame | None = None) -> npt.NDArray[np.float64]:
    """Per block origin, `group`'s walk to the nearest space of `category` (minutes).

    At the group's own speed and on its own profile's streets, exactly as
    ``coverage_groups.csv`` counts it: a ``walk`` group's minutes are everyone's
    at its speed (:func:`sharemap.profiles.at_group_speed`); another profile's are
    its own walks (``walk_min_<category>_<group>`` of the study's origins, or
    measured now). `group` None: everyone, at the study's speed (``walk_min_<category>``).
    NaN: nothing reachable (or the origin is cut off for the profile). Aligned to
    :meth:`~sharemap.pipeline.StudyResult.study_origins`. `spaces`: walk to these
    instead of the study's spaces of `category` (measured now).
    """
    g = None if group is None else find_group(result, group)
    own = g is not None and get_profile(g.profile).filters
    origins = result.study_origins()
    check_categories([category], result.config)
    col = group_walk_col(category, g.slug) if g is not None and own else walk_col(category)
    if spaces is None and col in origins:
        minutes = origins[col].to_numpy(np.float64, na_value=np.nan)
    else:
        if spaces is None:
            spaces = result.spaces[result.spaces["category"] == category]
        if not len(spaces):
            return np.full(len(origins), np.nan)
        points = prepare_points(result.network, result.block_snaps(), spaces,
                                max_snap_m=result.config.network.max_snap_m)
        if g is not None and own:
            points = group_points(result, g, points)
        dist = nearest_distance(points.joined, points.origin_idx, points.target_idx)
        speed = (metres_per_minute(g.walk_speed_kmh) if g is not None and own
                 else result.config.walk_speed_m_per_min)
        minutes = np.asarray(dist / speed, dtype=np.float64)
    if g is None or own:
        return minutes
    return np.asarray(at_group_speed(minutes, g, walk_speed_kmh=result.config.walk_speed_kmh),
                      dtype=np.float64)


def _group_lines(result: StudyResult, idx: Any) -> list[str]:
    """``explain``'s lines per population group: its walk to each category, on its streets."""
    cfg = result.config
    row = result.blocks.loc[[idx]]
    lines = []
    for g in cfg.coverage.groups:
        prof = get_profile(g.profile)
        mins = [float(group_minutes(row, c, g, walk_speed_kmh=cfg.walk_speed_kmh).iloc[0])
                for c in cfg.categories]
        walks = "; ".join(f"{c} {_fmt_min(m)}" for c, m in zip(cfg.categories, mins,
                                                               strict=True))
        where = ("every walkable way" if not prof.filters
                 else f"the {prof.name} profile: {prof.describe()}")
        lines.append(f"For {g.label} ({g.walk_speed_kmh:g} km/h, {where}): {walks}.")
        cut = _cut_off_line(result, idx, g) if prof.filters else None
        if cut:
            lines.append(cut)
    return lines


def _cut_off_line(result: StudyResult, idx: Any, group: Any) -> str | None:
    """Say which of a block's origins the group's profile cuts off, and why (None: none)."""
    pnet = group_network(result, group)
    if pnet is None:
        return None
    origins = result.study_origins()
    mine = np.flatnonzero(origins["block"].to_numpy() == result.blocks.index.get_loc(idx))
    why = cut_off_points(result.prepared_points().origin_snaps, pnet).to_numpy()[mine]
    cut = why[why != ""]
    if not len(cut):
        return None
    of = "Its origin stands" if len(mine) == 1 else f"{len(cut)} of its {len(mine)} origins stand"
    reasons = ", ".join(sorted({str(r).replace("_", "=") for r in cut}))
    return (f"  {of} on a street the {pnet.profile.name} profile leaves out ({reasons}), so "
            f"the {group.label!r} residents there count as reaching nothing.")
