"""Change over time: two studies of the same area compared, block by block and unit by unit.

Two studies of one place (e.g. the same study with a layer's 2022 and 2025 files) are
compared where they can be: the blocks must be the same places, so both studies need
the same network, study area and ``[blocks]`` settings.

How things are matched
----------------------
Blocks
    By ``block_id``, and each must be the same polygon in both (within 1 cm): two
    studies whose blocks differ (another network, area or ``min_area_m2``) are refused
    with one line, since "this block gained access" would then compare two places.
Boundary units
    By level and ``area_id`` (the id column, else the name); a unit found in one study
    only keeps its row with the other side empty.
Categories and thresholds
    Those of both studies; ``all`` only when both have the same categories (else it
    means two different things).
Spaces
    By category and ``space_id`` (a Ttareungyi station keeps its number); a space left
    unmatched that stands within 2 m of an unmatched one of its category in the other
    study is the same space under a new id (the layers' duplicate rule). The others are
    ``new`` (in B only) or ``gone`` (in A only).
Villages
    By their blocks, as ``sharemap whatif`` matches them
    (:func:`sharemap.study.village_change`): villages of A and B that share a block are
    one group, named by its shape: ``appeared``, ``vanished``, ``merged``, ``split``,
    ``regrouped``, ``grew``, ``shrank``, ``reshaped`` or ``re-ranked``; a village that
    kept its blocks and rank is not listed.

A block *gained* access to a category within T minutes (a threshold of both studies:
5, 10, 15) when its walk to it (``walk_min_<category>``, the weighted median over its
origins, as in ``blocks.gpkg``) was beyond T (or none) in A and is within T in B; it
*lost* access the other way round. ``compare_blocks.gpkg`` names each category once,
with the shortest threshold crossed (``bike (5 min)``). ``compare_coverage.csv`` counts
residents origin by origin, as ``coverage.csv`` does, so its figures are exactly those
of the two studies' own ``coverage.csv``.

Two studies of different places are refused before any work
(:func:`check_same_area`: the CRS, study area, network and ``[blocks]`` settings), and
again, block by block, once both are run (:func:`check_comparable`).
"""

from __future__ import annotations

import dataclasses
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import numpy.typing as npt
import pandas as pd
import shapely

from . import _outputs
from ._cache import file_digest
from ._crs import to_web_crs
from ._errors import ConfigError, StudyCheckError
from .access import walk_col
from .config import StudyConfig
from .pipeline import StudyResult
from .study import village_change

__all__ = ["COMPARE_COVERAGE_COLUMNS", "COMPARE_OUTPUTS", "Comparison", "check_comparable",
           "check_same_area", "compare_studies", "write_comparison"]

logger = logging.getLogger(__name__)

#: The columns of ``compare_coverage.csv``, in order (more follow).
COMPARE_COVERAGE_COLUMNS = ("level", "area", "area_id", "category", "threshold_min",
                            "population_covered_a", "population_covered_b",
                            "change_population", "share_population_a", "share_population_b")
#: Two blocks are the same polygon when no vertex moved further than this (metres).
SAME_BLOCK_M = 0.01
#: Two spaces of a category this close are one (the layers' duplicate rule).
SAME_SPACE_M = 2.0
_VILLAGE_COLUMNS = ("change", "villages_a", "villages_b", "ranks_a", "ranks_b", "blocks_a",
                    "blocks_b")


@dataclass(frozen=True, eq=False)
class Comparison:
    """Two studies of one area and what changed between them.

    Attributes
    ----------
    a, b
        The two studies (A the earlier, B the later).
    coverage
        ``compare_coverage.csv``: per level, unit, category and threshold, the
        residents covered in A and B and the change (:data:`COMPARE_COVERAGE_COLUMNS`,
        then ``change_share_population``, ``population_a``, ``population_b``,
        ``blocks``, ``blocks_covered_a``, ``blocks_covered_b``).
    villages
        ``compare_villages.csv``: one row per group of villages that share blocks and
        changed (:func:`sharemap.study.village_change`, sides named A and B), with
        the group's outline.
    blocks
        ``compare_blocks.gpkg``: the blocks that gained or lost access to a category
        within a threshold, or candidacy, with both studies' walks.
    spaces
        Every space of either study: ``change`` (``kept``, ``new``, ``gone``),
        ``category``, ``space_id_a``, ``space_id_b``, ``name``, ``capacity_a``,
        ``capacity_b``, ``moved_m``.
    info
        What ``compare.json`` holds.
    """

    a: StudyResult
    b: StudyResult
    coverage: pd.DataFrame
    villages: gpd.GeoDataFrame
    blocks: gpd.GeoDataFrame
    spaces: gpd.GeoDataFrame
    info: dict[str, Any] = field(default_factory=dict)


# ---------------------------------------------------------------------------- matching


def check_same_area(a: StudyConfig, b: StudyConfig) -> None:
    """Refuse, before any work, two studies that are not of the same place (one line).

    Raises
    ------
    ConfigError
        The CRS, study area (file and filter), network or ``[blocks]`` settings differ;
        files are compared by content, so copies of one file in two folders are the same.
    """
    what = [("[study] crs", a.crs, b.crs),
            ("[study] area", (a.area, dict(a.area_filter)), (b.area, dict(b.area_filter))),
            ("[network]", a.network, b.network), ("[blocks]", a.blocks, b.blocks)]
    for key, va, vb in what:
        if not _same(va, vb):
            msg = (f"{b.source}: not the same area as {a.source} ({key} differs): compare "
                   "needs two studies of the same area, network and [blocks] settings (e.g. "
                   "one study with two files of a layer)")
            raise ConfigError(msg)


def _same(va: Any, vb: Any) -> bool:
    """Equal settings, where two paths count as equal when their files hold the same bytes.

    A study folder copied to swap one layer names its area and network by other paths;
    they are still the same place (check_comparable checks the blocks themselves later).
    """
    if va == vb:
        return True
    if isinstance(va, Path) and isinstance(vb, Path):
        try:
            return file_digest(va) == file_digest(vb)
        except OSError:
            return False
    if dataclasses.is_dataclass(va) and type(va) is type(vb):
        return all(_same(getattr(va, f.name), getattr(vb, f.name))
                   for f in dataclasses.fields(va))
    if isinstance(va, tuple) and isinstance(vb, tuple) and len(va) == len(vb):
        return all(_same(x, y) for x, y in zip(va, vb, strict=True))
    return False


def check_comparable(a: StudyResult, b: StudyResult) -> None:
    """Refuse two studies whose blocks are not the same places (one line).

    Raises
    ------
    StudyCheckError
        The CRS differ, or the blocks differ in number, id or polygon.
    """
    fix = ("a comparison is block by block, so both studies need the same network, study "
           "area and [blocks] settings (e.g. the same study with another file of a layer)")
    if a.blocks.crs != b.blocks.crs:
        msg = (f"the two studies are in different CRS ({a.config.crs} and {b.config.crs}): "
               "give both the same [study] crs")
        raise StudyCheckError(msg)
    na, nb = len(a.blocks), len(b.blocks)
    ids_a, ids_b = a.blocks["block_id"].to_numpy(), b.blocks["block_id"].to_numpy()
    if na != nb or not np.array_equal(ids_a, ids_b):
        common = len(set(ids_a.tolist()) & set(ids_b.tolist()))
        msg = (f"the two studies' blocks differ (A has {na:,}, B {nb:,}, {common:,} ids in "
               f"both): {fix}")
        raise StudyCheckError(msg)
    same = shapely.equals_exact(a.blocks.geometry.to_numpy(), b.blocks.geometry.to_numpy(),
                                tolerance=SAME_BLOCK_M)
    if not same.all():
        first = ids_a[~same][0]
        msg = (f"the two studies' blocks differ: {int((~same).sum()):,} of {na:,} blocks "
               f"(e.g. block {first}) are not the same polygon in both: {fix}")
        raise StudyCheckError(msg)


def _coverage(a: StudyResult, b: StudyResult) -> tuple[pd.DataFrame, list[str], list[float]]:
    cats = [c for c in a.config.categories if c in b.config.categories]
    if set(a.config.categories) == set(b.config.categories):
        cats.append("all")
    ths = [t for t in a.config.coverage.thresholds_minutes
           if t in b.config.coverage.thresholds_minutes]
    keys = ["level", "area_id", "category", "threshold_min"]
    cols = ["area", "population", "population_covered", "share_population", "blocks",
            "blocks_covered"]
    ca = a.coverage[a.coverage["category"].isin(cats) & a.coverage["threshold_min"].isin(ths)]
    cb = b.coverage[b.coverage["category"].isin(cats) & b.coverage["threshold_min"].isin(ths)]
    m = ca[keys + cols].merge(cb[keys + cols], on=keys, how="outer", suffixes=("_a", "_b"),
                              sort=False)
    # A's order (city, then each level's units as A lists them), B's units after
    order = {k: i for i, k in enumerate(map(tuple, ca[keys].to_numpy().tolist()))}
    rank = [order.get(k, len(order) + i) for i, k in enumerate(map(tuple, m[keys].to_numpy()
                                                                  .tolist()))]
    m = m.iloc[np.argsort(rank, kind="stable")].reset_index(drop=True)
    out = pd.DataFrame({
        "level": m["level"], "area": m["area_a"].fillna(m["area_b"]), "area_id": m["area_id"],
        "category": m["category"], "threshold_min": m["threshold_min"],
        "population_covered_a": m["population_covered_a"],
        "population_covered_b": m["population_covered_b"],
        "change_population": m["population_covered_b"] - m["population_covered_a"],
        "share_population_a": m["share_population_a"],
        "share_population_b": m["share_population_b"],
        "change_share_population": m["share_population_b"] - m["share_population_a"],
        "population_a": m["population_a"], "population_b": m["population_b"],
        "blocks": m["blocks_a"].fillna(m["blocks_b"]),
        "blocks_covered_a": m["blocks_covered_a"], "blocks_covered_b": m["blocks_covered_b"],
    })
    return out, cats, ths


def _match_spaces(a: gpd.GeoDataFrame, b: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Every space of either study, matched by category and id, else within 2 m."""
    ka = a["category"].astype(str) + "\x00" + a["space_id"].astype(str)
    kb = b["category"].astype(str) + "\x00" + b["space_id"].astype(str)
    pos_b = pd.Series(np.arange(len(b)), index=kb.to_numpy())
    pos_b = pos_b[~pos_b.index.duplicated()]  # ids are unique per file, not per category
    ib = np.array([pos_b.get(k, -1) for k in ka], dtype=np.int64)
    ib[pd.Series(ka).duplicated().to_numpy()] = -1
    left_a = np.flatnonzero(ib < 0)
    taken = np.zeros(len(b), dtype=bool)
    taken[ib[ib >= 0]] = True
    left_b = np.flatnonzero(~taken)
    if len(left_a) and len(left_b):  # the same place under another id
        tree = shapely.STRtree(b.geometry.to_numpy()[left_b])
        (qa, qb), _ = tree.query_nearest(a.geometry.to_numpy()[left_a],
                                         max_distance=SAME_SPACE_M, return_distance=True)
        for i, j in zip(left_a[qa], left_b[qb], strict=True):
            if ib[i] < 0 and not taken[j] and a["category"].iat[i] == b["category"].iat[j]:
                ib[i], taken[j] = j, True
    pairs = [(i, int(j)) for i, j in enumerate(ib) if j >= 0]
    rows: list[tuple[int, int]] = (pairs + [(int(i), -1) for i in np.flatnonzero(ib < 0)]
                                   + [(-1, int(j)) for j in np.flatnonzero(~taken)])
    ga, gb = a.geometry.to_numpy(), b.geometry.to_numpy()

    def pick(frame: pd.DataFrame, col: str, idx: int) -> Any:
        return frame[col].iat[idx] if idx >= 0 and col in frame else None

    out = pd.DataFrame({
        "change": ["kept" if i >= 0 and j >= 0 else "gone" if j < 0 else "new" for i, j in rows],
        "category": [pick(b, "category", j) if j >= 0 else pick(a, "category", i)
                     for i, j in rows],
        "space_id_a": [pick(a, "space_id", i) for i, _ in rows],
        "space_id_b": [pick(b, "space_id", j) for _, j in rows],
        "name": [pick(b, "name", j) if j >= 0 else pick(a, "name", i) for i, j in rows],
        "capacity_a": [pick(a, "capacity", i) for i, _ in rows],
        "capacity_b": [pick(b, "capacity", j) for _, j in rows],
        "moved_m": [float(shapely.distance(ga[i], gb[j])) if i >= 0 and j >= 0 else np.nan
                    for i, j in rows],
    })
    geoms = [gb[j] if j >= 0 else ga[i] for i, j in rows]
    return gpd.GeoDataFrame(out, geometry=geoms, crs=b.crs)


def _villages(a: StudyResult, b: StudyResult) -> gpd.GeoDataFrame:
    """Return the groups of villages that changed, A's and B's sides named ``_a``, ``_b``."""
    change = village_change(a, b)
    return change.rename(columns={f"{k}_{side}": f"{k}_{x}" for k in
                                  ("villages", "ranks", "blocks")
                                  for side, x in (("before", "a"), ("after", "b"))})


def _within(result: StudyResult, cats: list[str], minutes: float
            ) -> npt.NDArray[np.bool_]:
    walks = result.blocks[[walk_col(c) for c in cats]].to_numpy(np.float64, na_value=np.nan)
    return np.nan_to_num(walks, nan=np.inf) <= minutes + 1e-9


def _crossed(a: StudyResult, b: StudyResult, cats: list[str], ths: list[float]
             ) -> tuple[list[str], list[str]]:
    """Per block, the categories whose walk crossed a threshold: ``bike (5 min)``, ...

    Each category is named once, with the shortest threshold it crossed: a block whose
    walk to bike stations went from 12 to 4 minutes gained ``bike (5 min)``.
    """
    n = len(a.blocks)
    gained: list[list[str]] = [[] for _ in range(n)]
    lost: list[list[str]] = [[] for _ in range(n)]
    for c in cats:
        seen_g = np.zeros(n, dtype=bool)
        seen_l = np.zeros(n, dtype=bool)
        for t in sorted(ths):
            wa, wb = _within(a, [c], t)[:, 0], _within(b, [c], t)[:, 0]
            for i in np.flatnonzero(~wa & wb & ~seen_g):
                gained[i].append(f"{c} ({t:g} min)")
            for i in np.flatnonzero(wa & ~wb & ~seen_l):
                lost[i].append(f"{c} ({t:g} min)")
            seen_g |= ~wa & wb
            seen_l |= wa & ~wb
    return [", ".join(g) for g in gained], [", ".join(x) for x in lost]


def _blocks(a: StudyResult, b: StudyResult, cats: list[str], ths: list[float]
            ) -> gpd.GeoDataFrame:
    """Return the blocks that gained or lost access to a category (a threshold) or candidacy."""
    cats = [c for c in cats if c != "all"]
    gained, lost = _crossed(a, b, cats, ths)
    g = np.array([bool(x) for x in gained])
    lo = np.array([bool(x) for x in lost])
    cand_a = a.blocks["candidate"].to_numpy(bool)
    cand_b = b.blocks["candidate"].to_numpy(bool)
    levels = [lv.level for lv in a.config.coverage.boundaries if lv.level in a.blocks]
    out = pd.DataFrame({"block_id": a.blocks["block_id"].to_numpy()})
    for lv in levels:
        out[lv] = a.blocks[lv].to_numpy()
    if "population" in b.blocks:
        out["population"] = b.blocks["population"].to_numpy()
    out["change"] = np.select([g & lo, g, lo], ["gained and lost", "gained", "lost"],
                              default="")
    out["gained"], out["lost"] = gained, lost
    for c in cats:
        out[f"{walk_col(c)}_a"] = a.blocks[walk_col(c)].to_numpy()
        out[f"{walk_col(c)}_b"] = b.blocks[walk_col(c)].to_numpy()
    out["adjacent_spaces_a"] = a.blocks["adjacent_spaces"].to_numpy()
    out["adjacent_spaces_b"] = b.blocks["adjacent_spaces"].to_numpy()
    out["candidate_a"], out["candidate_b"] = cand_a, cand_b
    out["candidacy"] = np.select([~cand_a & cand_b, cand_a & ~cand_b],
                                 ["gains candidacy", "loses candidacy"], default="")
    keep = g | lo | (cand_a != cand_b)
    return gpd.GeoDataFrame(out[keep].reset_index(drop=True),
                            geometry=a.blocks.geometry.to_numpy()[keep], crs=a.blocks.crs)


def compare_studies(a: StudyResult, b: StudyResult) -> Comparison:
    """Compare two studies of the same area (e.g. two snapshots of a layer).

    Parameters
    ----------
    a
        The earlier study (:func:`sharemap.run_study`).
    b
        The later study, on the same network, area and blocks.

    Returns
    -------
    comparison
        The change in coverage by unit, category and threshold, the villages gained
        and lost, the blocks that gained or lost access, and the spaces new and gone.

    Raises
    ------
    StudyCheckError
        When the studies' blocks are not the same places (see :func:`check_comparable`).

    Examples
    --------
    >>> from sharemap import read_config, run_study
    >>> from sharemap.datasets import get_path
    >>> res = run_study(read_config(get_path("demo")))
    >>> same = compare_studies(res, res)
    >>> float(same.coverage["change_population"].abs().max()), len(same.blocks)
    (0.0, 0)
    """
    check_same_area(a.config, b.config)
    check_comparable(a, b)
    coverage, cats, ths = _coverage(a, b)
    blocks = _blocks(a, b, cats, ths)
    spaces = _match_spaces(a.spaces, b.spaces.to_crs(a.spaces.crs))
    villages = _villages(a, b)
    info = _info(a, b, coverage, villages, blocks, spaces, cats)
    logger.info("Compared %s with %s: %d blocks changed, %d spaces new, %d gone",
                a.config.source, b.config.source, len(blocks), info["spaces"]["new"],
                info["spaces"]["gone"])
    return Comparison(a=a, b=b, coverage=coverage, villages=villages, blocks=blocks,
                      spaces=spaces, info=info)


def _not_compared(a: StudyResult, b: StudyResult) -> dict[str, str]:
    """Return the categories (and ``all``) one study has and the other not, and why."""
    cats_a, cats_b = a.config.categories, b.config.categories
    out = {c: "only in A" for c in cats_a if c not in cats_b}
    out.update({c: "only in B" for c in cats_b if c not in cats_a})
    if out:
        out["all"] = "every category: the two studies' categories differ"
    return out


def _thresholds_not_compared(a: StudyResult, b: StudyResult) -> dict[str, str]:
    """Return the thresholds (minutes, as text) one study audits and the other not."""
    ta, tb = a.config.coverage.thresholds_minutes, b.config.coverage.thresholds_minutes
    out = {f"{t:g}": "only in A" for t in ta if t not in tb}
    out.update({f"{t:g}": "only in B" for t in tb if t not in ta})
    return out


def _info(a: StudyResult, b: StudyResult, coverage: pd.DataFrame, villages: pd.DataFrame,
          blocks: gpd.GeoDataFrame, spaces: gpd.GeoDataFrame, cats: list[str]
          ) -> dict[str, Any]:
    pop_a = a.blocks["population"] if "population" in a.blocks else None
    pop_b = b.blocks["population"] if "population" in b.blocks else None
    changed_pop = (pop_a is not None and pop_b is not None
                   and not np.allclose(pop_a.fillna(0), pop_b.fillna(0)))
    by_cat = {c: {k: int(((spaces["category"] == c) & (spaces["change"] == k)).sum())
                  for k in ("kept", "new", "gone")}
              for c in dict.fromkeys([*a.config.categories, *b.config.categories])}
    return {
        "study_a": str(a.config.source or a.config.name),
        "study_b": str(b.config.source or b.config.name),
        "blocks": len(a.blocks),
        "blocks_matched_by": "block_id, the same polygon in both (within 1 cm)",
        "categories_compared": cats,
        "categories_not_compared": _not_compared(a, b),
        "thresholds_not_compared": _thresholds_not_compared(a, b),
        "thresholds_compared": sorted({float(t) for t in coverage["threshold_min"]}),
        "population_changed": bool(changed_pop),
        "spaces": {"kept": int((spaces["change"] == "kept").sum()),
                   "new": int((spaces["change"] == "new").sum()),
                   "gone": int((spaces["change"] == "gone").sum()),
                   "by_category": by_cat},
        "blocks_gained": int(blocks["change"].isin(["gained", "gained and lost"]).sum()),
        "blocks_lost": int(blocks["change"].isin(["lost", "gained and lost"]).sum()),
        "candidates_a": int(a.blocks["candidate"].sum()),
        "candidates_b": int(b.blocks["candidate"].sum()),
        "villages_a": len(a.villages), "villages_b": len(b.villages),
        "villages_by_change": {k: int(v) for k, v in
                               villages["change"].value_counts().sort_index().items()},
    }


# ----------------------------------------------------------------------------- outputs


def _map_blocks(c: Comparison) -> gpd.GeoDataFrame:
    """Return the changed blocks for the map: ``change`` (what was gained, lost), A/B pairs."""
    blocks = c.blocks
    text = [", ".join(x for x in (f"gained {g}" if g else "", f"lost {lo}" if lo else "",
                                  cand) if x)
            for g, lo, cand in zip(blocks["gained"], blocks["lost"], blocks["candidacy"],
                                   strict=True)]
    out = gpd.GeoDataFrame({"block_id": blocks["block_id"].to_numpy(), "change": text},
                           geometry=blocks.geometry.to_numpy(), crs=blocks.crs)
    for col in blocks.columns:
        if str(col).endswith("_a") and f"{str(col)[:-2]}_b" in blocks:
            out[f"{str(col)[:-2]}_before"] = blocks[col].to_numpy()
            out[f"{str(col)[:-2]}_after"] = blocks[f"{str(col)[:-2]}_b"].to_numpy()
    return out


def _compare_map(c: Comparison) -> Any:
    from .maps import add_change_layers, build_map, save_map

    b = c.b
    marked = c.spaces[c.spaces["change"] != "kept"]
    spaces = gpd.GeoDataFrame({
        "space_id": [sb if isinstance(sb, str) else sa for sa, sb in
                     zip(marked["space_id_a"], marked["space_id_b"], strict=True)],
        "category": marked["category"].to_numpy(), "name": marked["name"].to_numpy(),
        "change": marked["change"].to_numpy(),
    }, geometry=marked.geometry.to_numpy(), crs=marked.crs)
    villages = c.villages.rename(columns={f"{k}_{x}": f"{k}_{side}" for k in
                                          ("villages", "ranks", "blocks")
                                          for side, x in (("before", "a"), ("after", "b"))})
    # A is "before", B "after" in the popups
    labels = {walk_col(cat): f"walk to {cat}" for cat in b.config.categories}
    labels |= {"adjacent_spaces": "adjacent spaces", "candidate": "candidate"}
    title = (f"{b.config.name}: A to B, {c.info['blocks_gained']} blocks gained access, "
             f"{c.info['blocks_lost']} lost")

    def write(path: Path) -> Path:
        fmap = build_map(b.blocks, b.spaces, b.villages, title=title,
                         tiles=b.config.map.tiles, frame=b.map_frame())
        add_change_layers(fmap, added=spaces[spaces["change"] == "new"],
                          removed=spaces[spaces["change"] == "gone"],
                          blocks=_map_blocks(c), villages=villages, labels=labels)
        return save_map(fmap, path)

    return write


_O = _outputs.Output
#: Every file ``sharemap compare`` writes (registry entries; see :mod:`sharemap.outputs`).
COMPARE_OUTPUTS: tuple[_outputs.Output, ...] = (
    _O("compare_coverage.csv", "csv", make=lambda c: c.coverage,
       columns=COMPARE_COVERAGE_COLUMNS,
       holds="per `level`, `area`/`area_id`, `category` and `threshold_min`: "
       "`population_covered_a`, `population_covered_b`, `change_population`, "
       "`share_population_a`, `share_population_b`, then `change_share_population`, "
       "`population_a`/`_b`, `blocks`, `blocks_covered_a`/`_b`"),
    _O("compare_villages.csv", "csv",
       make=lambda c: pd.DataFrame(c.villages.drop(columns="geometry")),
       columns=_VILLAGE_COLUMNS,
       holds="one row per group of villages sharing blocks that changed from A to B (as "
       "`whatif` matches them): `change` (`appeared`, `vanished`, `merged`, `split`, "
       "`regrouped`, `grew`, `shrank`, `reshaped`, `re-ranked`), `villages_a`/`_b`, "
       "`ranks_a`/`_b`, `blocks_a`/`_b`"),
    _O("compare_blocks.gpkg", "gpkg", layer="changed_blocks",
       make=lambda c: to_web_crs(c.blocks, "changed blocks"),
       columns=("block_id",),
       holds="the blocks that gained or lost access to a category within a threshold, or "
       "candidacy: `block_id`, the boundary levels, `population`, `change` (`gained`, "
       "`lost`, `gained and lost`), `gained`, `lost` (e.g. `bike (5 min)`), "
       "`walk_min_<category>_a`/`_b`, "
       "`adjacent_spaces_a`/`_b`, `candidate_a`/`_b`, `candidacy`"),
    _O("compare_spaces.gpkg", "gpkg", layer="spaces",
       make=lambda c: to_web_crs(c.spaces, "spaces"), columns=("change", "category"),
       holds="every space of either study: `change` (`kept`, `new`, `gone`), `category`, "
       "`space_id_a`, `space_id_b`, `name`, `capacity_a`/`_b`, `moved_m`"),
    _O("map.html", "file", make=_compare_map, stage="map",
       holds="study B with what changed from A drawn over it: new spaces (a diamond with a "
       "plus), gone spaces (greyed, struck through), the blocks that gained or lost access "
       "(outlined; A and B in the popup) and the villages that changed"),
    _O("compare.json", "json", make=lambda c: dict(c.info), index=True,
       holds="the two studies, how blocks were matched, spaces kept/new/gone, blocks gained "
       "and lost, candidates and villages in A and B, and `outputs`: every file in the "
       "folder"),
)


def write_comparison(comparison: Comparison,
                     out_dir: str | Path | _outputs.OutputFolder) -> dict[str, Path]:
    """Write the comparison's files (see :data:`COMPARE_OUTPUTS`); return name to path."""
    inputs = [*_outputs.input_paths(comparison.a.config),
              *_outputs.input_paths(comparison.b.config)]
    return _outputs.write(COMPARE_OUTPUTS, comparison, out_dir, inputs=inputs)
