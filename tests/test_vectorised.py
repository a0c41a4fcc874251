"""The vectorised coverage audit, candidates and villages give exactly what the loops gave.

The ``_old_*`` functions below are the implementations these replaced (issue 4), kept
verbatim as references: every test compares old and new on random inputs (NaN walk
times, units without residents, missing level values, ids as text or numbers) or on
the demo study, and asks for identical tables: same rows, order, values and dtypes,
even ``None`` against ``NaN`` in text columns.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from conftest import CRS, X0, Y0, osm_graph
from scipy import sparse
from scipy.sparse.csgraph import connected_components, dijkstra
from shapely.geometry import box

from sharemap import coverage, gaps, villages
from sharemap.access import join_points, prepare_points, snap_points, walk_col, walk_times
from sharemap.blocks import block_origins
from sharemap.config import GroupConfig
from sharemap.network import network_from_graph

# ------------------------------------------------------------ reference: coverage


def _old_rows(block_frame, level, categories, thresholds, has_pop):
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


def _old_compute_coverage(blocks, *, categories, thresholds, levels=(), city_name="city"):
    has_pop = "population" in blocks and blocks["population"].notna().any()
    frame = pd.DataFrame(blocks).copy()
    frame["_area"], frame["_area_id"] = city_name, city_name
    rows = _old_rows(frame, "city", categories, thresholds, has_pop)
    for level, id_col in levels:
        frame["_area"], frame["_area_id"] = blocks[level], blocks[id_col]
        rows += _old_rows(frame, level, categories, thresholds, has_pop)
    return pd.DataFrame(rows, columns=list(coverage.COVERAGE_COLUMNS))


def _old_compute_group_coverage(blocks, groups, *, categories, thresholds, levels=(),
                                city_name="city", walk_speed_kmh=4.8):
    kwargs = {"categories": categories, "thresholds": thresholds, "levels": levels,
              "city_name": city_name}
    parts = [_old_compute_coverage(blocks, **kwargs).assign(group=coverage.ALL_RESIDENTS,
                                                            walk_speed_kmh=walk_speed_kmh,
                                                            profile="walk")]
    keep = [c for c in blocks.columns if c not in {walk_col(x) for x in categories}]
    for g in groups:
        frame = pd.DataFrame(blocks[keep]).copy()
        frame = frame.join(pd.DataFrame({
            walk_col(c): blocks[walk_col(c)] * walk_speed_kmh / g.walk_speed_kmh
            for c in categories}, index=blocks.index))
        frame["population"] = blocks[g.population_column]
        parts.append(_old_compute_coverage(frame, **kwargs).assign(
            group=g.label, walk_speed_kmh=g.walk_speed_kmh, profile=g.profile))
    return pd.concat(parts, ignore_index=True)[list(coverage.GROUP_COVERAGE_COLUMNS)]


# ---------------------------------------------------------------- reference: gaps


def _old_nearest_spaces(network, origins, spaces, *, categories, max_snap_m):
    so = snap_points(network, origins, max_snap_m=max_snap_m)
    ss = snap_points(network, spaces, max_snap_m=max_snap_m)
    joined = join_points(network, pd.concat([so, ss], ignore_index=True))
    n_o = len(so)
    o_node, o_off = joined.node[:n_o], joined.offset_m[:n_o]
    s_node, s_off = joined.node[n_o:], joined.offset_m[n_o:]
    space_cat = spaces["category"].astype(str).to_numpy()
    out: dict[str, Any] = {}
    ok = o_node >= 0
    for cat in categories:
        idx = np.flatnonzero((space_cat == cat) & (s_node >= 0))
        best = np.full(n_o, -1, dtype=np.int64)
        dist_m = np.full(n_o, np.nan)
        if len(idx) and ok.any():
            graph = gaps._super_source(joined.csr, s_node[idx], s_off[idx])
            src = graph.shape[0] - 1
            dist, pred = dijkstra(graph, directed=True, indices=src, return_predecessors=True)
            root = gaps._roots(pred, src)
            order = np.lexsort((idx, s_off[idx], s_node[idx]))
            first = np.unique(s_node[idx][order], return_index=True)
            node_space = np.full(graph.shape[0], -1, dtype=np.int64)
            node_space[first[0]] = idx[order][first[1]]
            r = root[o_node[ok]]
            best[ok] = np.where(r >= 0, node_space[np.maximum(r, 0)], -1)
            d = dist[o_node[ok]] + o_off[ok]
            dist_m[ok] = np.where(np.isfinite(d), d, np.nan)
        out[f"space_{cat}"] = best
        out[f"distance_m_{cat}"] = dist_m
    return pd.DataFrame(out, index=origins.index)


def _old_area_gaps(blocks, cat, config, level, has_pop):
    t = config.coverage.audit_min
    out_ = gaps._outside
    frame = pd.DataFrame({
        "area": blocks[level] if level else config.name,
        "area_id": blocks[f"{level}_id"] if level else config.name,
        "population": blocks["population"] if has_pop else np.nan,
        "blocks": 1, "blocks_outside": out_(blocks, cat, t).astype(int)})
    frame["population_outside"] = (frame["population"].where(frame["blocks_outside"] == 1, 0.0)
                                   if has_pop else np.nan)
    for g in config.coverage.groups:
        out = out_(blocks, cat, t, config.walk_speed_kmh, g.walk_speed_kmh)
        frame[f"population_outside_{g.slug}"] = blocks[g.population_column].where(out, 0.0)
    agg = frame.groupby(["area", "area_id"], sort=True, dropna=True).sum(min_count=1).reset_index()
    agg["share_outside"] = agg["population_outside"] / agg["population"].where(
        agg["population"] > 0) if has_pop else agg["blocks_outside"] / agg["blocks"]
    key = "population_outside" if has_pop else "blocks_outside"
    agg = agg.sort_values([key, "area_id"], ascending=[False, True], ignore_index=True)
    agg["kind"], agg["level"] = "area", level or "city"
    return agg


def _old_lon_lat(blocks, block_ids):
    crs = getattr(blocks, "crs", None)
    if crs is None or not len(block_ids):
        return np.full(len(block_ids), np.nan), np.full(len(block_ids), np.nan)
    sub = blocks.set_index("block_id").loc[block_ids.to_numpy()]
    pts = block_origins(gpd.GeoDataFrame(sub, geometry="geometry", crs=crs)).to_crs(4326)
    return pts.x.round(6).to_numpy(), pts.y.round(6).to_numpy()


def _old_block_gaps(blocks, spaces, nearest, cat, config, level, has_pop):
    t = config.coverage.audit_min
    out = gaps._outside(blocks, cat, t)
    if has_pop:
        out &= blocks["population"] > 0
    sub = blocks[out]
    frame = pd.DataFrame({
        "block_id": sub["block_id"].to_numpy(),
        "area": sub[level].to_numpy() if level else config.name,
        "area_id": sub[f"{level}_id"].to_numpy() if level else config.name,
        "population": sub["population"].to_numpy() if has_pop else np.nan,
        "walk_min": sub[walk_col(cat)].to_numpy(),
    })
    frame["population_outside"] = frame["population"]
    for g in config.coverage.groups:
        g_out = gaps._outside(sub, cat, t, config.walk_speed_kmh, g.walk_speed_kmh)
        frame[f"population_outside_{g.slug}"] = sub[g.population_column].where(g_out,
                                                                                0.0).to_numpy()
    pos = nearest.loc[sub.index, f"space_{cat}"].to_numpy()
    has = pos >= 0
    ids, names = np.full(len(sub), None, dtype=object), np.full(len(sub), None, dtype=object)
    ids[has] = spaces["space_id"].astype(str).to_numpy()[pos[has]]
    names[has] = spaces["name"].astype("object").to_numpy()[pos[has]]
    frame["nearest_space_id"], frame["nearest_space_name"] = ids, names
    if has_pop:
        frame = frame.sort_values(["population", "block_id"], ascending=[False, True])
    else:
        frame["_w"] = frame["walk_min"].fillna(np.inf)
        frame = frame.sort_values(["_w", "block_id"], ascending=[False, True]).drop(columns="_w")
    frame = frame.head(config.coverage.gap_blocks).reset_index(drop=True)
    frame["lon"], frame["lat"] = _old_lon_lat(blocks, frame["block_id"])
    frame["kind"], frame["level"] = "block", level or "city"
    return frame


def _old_compute_gaps(blocks, spaces, nearest, config):
    has_pop = "population" in blocks and bool(blocks["population"].notna().any())
    level = coverage.finest_level(blocks, [b.level for b in config.coverage.boundaries])
    t = config.coverage.audit_min
    extra = [f"population_outside_{g.slug}" for g in config.coverage.groups]
    parts = []
    for cat in config.categories:
        for part in (_old_area_gaps(blocks, cat, config, level, has_pop),
                     _old_block_gaps(blocks, spaces, nearest, cat, config, level, has_pop)):
            part["category"], part["threshold_min"] = cat, t
            part["rank"] = np.arange(1, len(part) + 1)
            parts.append(part)
    cols = [*coverage.GAP_COLUMNS, *extra]
    if not parts:
        return pd.DataFrame(columns=cols)
    gaps = pd.concat([p.reindex(columns=cols) for p in parts], ignore_index=True)
    for col in ("blocks", "blocks_outside") + (
            ("block_id",) if pd.api.types.is_integer_dtype(blocks["block_id"]) else ()):
        gaps[col] = gaps[col].astype("Int64")
    return gaps


def _old_compute_audit(blocks, spaces, network, config):
    cov = config.coverage
    levels = [(b.level, f"{b.level}_id") for b in cov.boundaries]
    kwargs = {"categories": config.categories, "thresholds": cov.thresholds_minutes,
              "levels": levels, "city_name": config.name}
    table = _old_compute_coverage(blocks, **kwargs)
    groups = None
    if cov.groups and "population" in blocks:
        groups = _old_compute_group_coverage(blocks, cov.groups,
                                             walk_speed_kmh=config.walk_speed_kmh, **kwargs)
    nearest = _old_nearest_spaces(network, block_origins(blocks), spaces,
                                  categories=config.categories,
                                  max_snap_m=config.network.max_snap_m)
    gaps = _old_compute_gaps(blocks, spaces, nearest, config)
    return table, groups, gaps


# ------------------------------------------------------------ reference: villages


def _old_with_space_cols(adjacency, spaces):
    looked = spaces.loc[adjacency["space"].to_numpy(), ["space_id", "category"]]
    return adjacency.assign(space_id=looked["space_id"].astype(str).to_numpy(),
                            category=looked["category"].astype(str).to_numpy())


def _old_compute_candidates(blocks, adjacency, spaces, *, min_spaces=3,
                            distinct_categories=False):
    adj = _old_with_space_cols(adjacency, spaces)
    grouped = adj.groupby("block_id", sort=False)
    n_sp = grouped["space"].nunique()
    n_cat = grouped["category"].nunique()
    # each distinct space once, as category:id where two categories share its id
    shared = spaces.groupby(spaces["space_id"].astype(str))["category"].nunique()
    label = {k: (f"{c}:{i}" if shared[str(i)] > 1 else str(i))
             for k, i, c in zip(spaces.index, spaces["space_id"], spaces["category"],
                                strict=True)}
    ids = grouped["space"].agg(
        lambda s: ",".join(dict.fromkeys(label[k] for k in s))).astype(object)
    key = blocks["block_id"]
    out = pd.DataFrame(index=blocks.index)
    out["adjacent_spaces"] = n_sp.reindex(key).fillna(0).astype(np.int64).to_numpy()
    out["adjacent_categories"] = n_cat.reindex(key).fillna(0).astype(np.int64).to_numpy()
    out["adjacent_space_ids"] = ids.reindex(key).fillna("").astype(str).to_numpy()
    counted = out["adjacent_categories"] if distinct_categories else out["adjacent_spaces"]
    out["candidate"] = counted >= min_spaces
    return out


def _old_touch_groups(geoms):
    tree = shapely.STRtree(geoms)
    left, right = tree.query(geoms, predicate="dwithin", distance=villages.TOUCH_TOLERANCE_M)
    n = len(geoms)
    graph = sparse.coo_matrix((np.ones(len(left)), (left, right)), shape=(n, n))
    return connected_components(graph, directed=False)[1]


def _old_compute_villages(blocks, adjacency, spaces):
    cand = blocks[blocks["candidate"].astype(bool)]
    village = pd.Series(pd.NA, index=blocks.index, dtype="Int64")
    cols = ["village_id", "rank", "score", "n_blocks", "n_spaces", "categories", "population"]
    if cand.empty:
        return village, gpd.GeoDataFrame({c: [] for c in cols}, geometry=[], crs=blocks.crs)
    labels = _old_touch_groups(cand.geometry.to_numpy())
    first_block = pd.Series(cand["block_id"].to_numpy()).groupby(labels).transform("min")
    vid = pd.Series(first_block.rank(method="dense").astype(np.int64).to_numpy(),
                    index=cand.index)
    village.loc[cand.index] = vid.to_numpy()
    members = pd.DataFrame({"block_id": cand["block_id"].to_numpy(), "village_id": vid.to_numpy()})
    adj = _old_with_space_cols(adjacency.merge(members, on="block_id"), spaces)
    per = adj.groupby("village_id")
    pop = (cand["population"] if "population" in cand else pd.Series(np.nan, index=cand.index))
    table = pd.DataFrame({
        "n_blocks": vid.value_counts().sort_index(),
        "n_spaces": per["space"].nunique(),
        "categories": per["category"].agg(lambda s: ",".join(sorted(set(s)))),
        "population": pop.groupby(vid).sum(min_count=1),
    })
    table.index.name = "village_id"
    n_cat = per["category"].nunique().reindex(table.index).fillna(0)
    table["n_spaces"] = table["n_spaces"].fillna(0).astype(np.int64)
    table["score"] = villages.village_score(table["n_spaces"], n_cat,
                                            table["population"]).round(3)
    table = table.reset_index().sort_values(["score", "village_id"], ascending=[False, True])
    table["rank"] = np.arange(1, len(table) + 1)
    geoms = pd.Series({k: shapely.union_all(g.to_numpy())
                       for k, g in cand.geometry.groupby(vid.to_numpy())})
    table = table.sort_values("village_id")
    out = gpd.GeoDataFrame(table[cols].reset_index(drop=True),
                           geometry=geoms.reindex(table["village_id"]).to_numpy(), crs=blocks.crs)
    return village, out


# ------------------------------------------------------------------------ helpers


def _same(old: pd.DataFrame | pd.Series | None, new: pd.DataFrame | pd.Series | None
          ) -> None:
    """Identical tables: values, dtypes, index, and None/NaN in text columns."""
    if old is None or new is None:
        assert old is None and new is None
        return
    if isinstance(old, pd.Series):
        pd.testing.assert_series_equal(old, new, check_exact=True)
        return
    assert list(old.columns) == list(new.columns)
    assert old.dtypes.to_dict() == new.dtypes.to_dict()
    for col in old.columns:
        a, b = old[col], new[col]
        if isinstance(a.dtype, gpd.array.GeometryDtype):
            assert [g.wkb for g in a] == [g.wkb for g in b], col  # same vertices, same order
        elif a.dtype == object:
            assert [type(v) for v in a] == [type(v) for v in b], col
    plain = [c for c in old.columns if not isinstance(old[c].dtype, gpd.array.GeometryDtype)]
    pd.testing.assert_frame_equal(pd.DataFrame(old[plain]), pd.DataFrame(new[plain]),
                                  check_exact=True)


CATS = ("bike", "carshare", "tools")


def _random_blocks(seed: int, n: int = 400, *, int_ids: bool = False,
                   population: str = "some") -> pd.DataFrame:
    """Blocks with walk minutes (NaN: unreachable), residents and two levels.

    Some blocks have no dong (missing name or id), some dongs have no residents,
    two dongs share a name (told apart by id), and populations hold zeros and NaN.
    """
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame({"block_id": rng.permutation(n) + 1})
    for cat in CATS:
        minutes = rng.exponential(9.0, n)
        minutes[rng.random(n) < 0.12] = np.nan
        minutes[rng.random(n) < 0.05] = 10.0  # exactly on a threshold
        frame[walk_col(cat)] = minutes
    dong = rng.integers(0, 12, n)
    names = np.array([f"동{k % 10}" for k in range(12)], dtype=object)  # 동0, 동1 twice
    ids = (1100 + np.arange(12)) if int_ids else np.array([f"D{k:02d}" for k in range(12)])
    frame["dong"] = pd.Series(names[dong], dtype="str")
    frame["dong_id"] = ids[dong] if int_ids else pd.Series(ids[dong], dtype="str")
    frame["gu"] = pd.Series(np.where(dong < 6, "동구", "서구"), dtype="str")
    frame["gu_id"] = frame["gu"]
    frame.loc[rng.random(n) < 0.05, "dong"] = np.nan
    if not int_ids:
        frame.loc[rng.random(n) < 0.05, "dong_id"] = np.nan
    pop = rng.lognormal(4.0, 1.5, n)
    pop[rng.random(n) < 0.15] = 0.0
    pop[dong == 7] = 0.0  # a dong without residents
    pop[rng.random(n) < 0.05] = np.nan
    if population == "some":
        frame["population"] = pop
        frame["population_65plus"] = np.round(pop * rng.uniform(0, 0.3, n), 1)
    elif population == "nan":
        frame["population"] = np.nan
        frame["population_65plus"] = np.nan
    return frame


# ------------------------------------------------------------------ coverage tables


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
@pytest.mark.parametrize(("int_ids", "population"),
                         [(False, "some"), (True, "some"), (False, "nan"), (False, "none")])
def test_coverage_table_equals_the_loop(seed, int_ids, population):
    blocks = _random_blocks(seed, int_ids=int_ids, population=population)
    thresholds = [5, 10, 15] if seed % 2 else [7.5, 10.0]
    kwargs = {"categories": list(CATS), "thresholds": thresholds,
              "levels": [("gu", "gu_id"), ("dong", "dong_id")], "city_name": "Test"}
    old = _old_compute_coverage(blocks, **kwargs)
    new = coverage.compute_coverage(blocks, **kwargs)
    _same(old, new)
    # the loop really covered the cases: missing dongs dropped, a dong with no residents
    dong = new[new["level"] == "dong"]
    assert dong["blocks"].sum() < len(blocks) * (len(CATS) + 1) * len(thresholds)
    if population == "some":
        assert dong["share_population"].isna().any() and (dong["population"] == 0).any()
    if population != "some":
        assert new["share_population"].isna().all()


@pytest.mark.parametrize("seed", [4, 5])
def test_group_coverage_equals_the_loop(seed):
    blocks = _random_blocks(seed)
    groups = [GroupConfig(column="pop_65plus", label="65+", walk_speed_kmh=3.6),
              GroupConfig(column="pop_65plus", label="slow", walk_speed_kmh=2.9)]
    blocks["population_slow"] = blocks["population_65plus"] / 2
    kwargs = {"categories": list(CATS), "thresholds": [5, 10, 15],
              "levels": [("dong", "dong_id")], "city_name": "Test", "walk_speed_kmh": 4.8}
    _same(_old_compute_group_coverage(blocks, groups, **kwargs),
          coverage.compute_group_coverage(blocks, groups, **kwargs))


def test_coverage_edge_cases_equal_the_loop():
    blocks = _random_blocks(6, n=50)
    kw = {"levels": [("dong", "dong_id")], "city_name": "Test"}
    for cats, thresholds, frame in (
            (list(CATS), [10], blocks.iloc[:0]),             # no blocks at all
            (list(CATS), [], blocks),                        # no thresholds
            (["bike"], [10, 20], blocks.iloc[:1]),           # one block
            (list(CATS), [10], blocks.assign(dong=np.nan))):  # no block has a dong
        _same(_old_compute_coverage(frame, categories=cats, thresholds=thresholds, **kw),
              coverage.compute_coverage(frame, categories=cats, thresholds=thresholds, **kw))


# ------------------------------------------------------------- candidates, villages


def _random_villages(seed: int, *, with_population: bool = True
                     ) -> tuple[gpd.GeoDataFrame, pd.DataFrame, pd.DataFrame]:
    """Blocks on a lattice whose gaps are 0 (shared edge), 0.5 m (touching) or 20 m.

    Block ids are shuffled; the adjacency repeats pairs, names blocks that do not
    exist, and two spaces of different categories share the id "7".
    """
    rng = np.random.default_rng(seed)
    side = 14
    xs = np.concatenate([[0.0], np.cumsum(100 + rng.choice([0.0, 0.5, 20.0], side - 1))])
    ys = np.concatenate([[0.0], np.cumsum(100 + rng.choice([0.0, 0.5, 20.0], side - 1))])
    geoms = [box(X0 + x, Y0 + y, X0 + x + 100, Y0 + y + 100) for x in xs for y in ys]
    keep = rng.random(len(geoms)) > 0.15
    geoms = [g for g, k in zip(geoms, keep, strict=True) if k]
    n = len(geoms)
    blocks = gpd.GeoDataFrame({"block_id": rng.permutation(n) * 3 + 5}, geometry=geoms, crs=CRS)
    if with_population:
        pop = rng.lognormal(5, 1, n)
        pop[rng.random(n) < 0.1] = np.nan
        blocks["population"] = pop
    n_sp = 40
    cats = rng.choice(["bike", "carshare", "tools", "toys"], n_sp)
    spaces = pd.DataFrame({"space_id": [f"S{k}" for k in range(n_sp)], "category": cats},
                          index=np.arange(n_sp) + 1000)
    spaces.loc[1007, "space_id"], spaces.loc[1008, "space_id"] = "7", "7"
    spaces.loc[1007, "category"], spaces.loc[1008, "category"] = "bike", "tools"
    m = 6 * n
    pairs = pd.DataFrame({"block_id": rng.choice(np.r_[blocks["block_id"], [-1, -2]], m),
                          "space": rng.choice(spaces.index.to_numpy(), m)})
    pairs = pd.concat([pairs, pairs.sample(frac=0.2, random_state=seed)], ignore_index=True)
    return blocks, pairs, spaces


@pytest.mark.parametrize("seed", [0, 1, 2, 3, 4])
def test_candidates_and_villages_equal_the_loop(seed):
    blocks, adj, spaces = _random_villages(seed, with_population=seed != 3)
    for min_spaces, distinct in ((3, False), (6, False), (3, True), (1, False)):
        old = _old_compute_candidates(blocks, adj, spaces, min_spaces=min_spaces,
                                      distinct_categories=distinct)
        new = villages.compute_candidates(blocks, adj, spaces, min_spaces=min_spaces,
                                          distinct_categories=distinct)
        # adjacent_capacity came later (issue 14): without capacities, 1 per distinct space
        assert (new["adjacent_capacity"] == new["adjacent_spaces"]).all()
        new = new.drop(columns="adjacent_capacity")
        _same(old, new)
        assert new["adjacent_space_ids"].str.contains("7").any()
        cand = blocks.assign(candidate=new["candidate"].to_numpy())
        v_old, t_old = _old_compute_villages(cand, adj, spaces)
        v_new, t_new = villages.compute_villages(cand, adj, spaces)
        _same(v_old, v_new)
        _same(t_old, t_new)
        assert t_old.to_json() == t_new.to_json()
        if min_spaces == 1:  # big villages: shared edges, 0.5 m gaps and corners merge
            assert t_new["n_blocks"].max() > 5


def test_villages_of_candidates_without_spaces_equal_the_loop():
    """min_spaces = 0 makes every block a candidate, even those with no adjacent space."""
    blocks, adj, spaces = _random_villages(7)
    for some in (adj[adj["block_id"] % 2 == 0], adj.iloc[:0]):
        old = _old_compute_candidates(blocks, some, spaces, min_spaces=0)
        new = villages.compute_candidates(blocks, some, spaces, min_spaces=0)
        _same(old, new.drop(columns="adjacent_capacity"))
        cand = blocks.assign(candidate=new["candidate"].to_numpy())
        for a, b in zip(_old_compute_villages(cand, some, spaces),
                        villages.compute_villages(cand, some, spaces), strict=True):
            _same(a, b)


# ------------------------------------------------------------------- the audit, gaps


def _grid_network(side: int = 7):
    """A `side` x `side` grid of 100 m streets, plus an island of four streets far away."""
    nodes = {100 * r + c: (X0 + 100.0 * c, Y0 + 100.0 * r) for r in range(side)
             for c in range(side)}
    edges = [(100 * r + c, 100 * r + c + 1) for r in range(side) for c in range(side - 1)]
    edges += [(100 * r + c, 100 * (r + 1) + c) for r in range(side - 1) for c in range(side)]
    island = {9000: (X0 + 2000, Y0), 9001: (X0 + 2100, Y0), 9002: (X0 + 2100, Y0 + 100),
              9003: (X0 + 2000, Y0 + 100)}
    nodes.update(island)
    edges += [(9000, 9001), (9001, 9002), (9002, 9003), (9003, 9000)]
    return network_from_graph(osm_graph(nodes, edges), crs=CRS)


def _audit_inputs(seed: int, *, ties: bool, side: int = 7):
    """Blocks in the grid's cells (and on the island, and off every street) and spaces.

    With `ties`, spaces stand on street corners, so many blocks have two nearest spaces
    at exactly the same distance; otherwise they stand at random points.
    """
    from sharemap import read_config
    from sharemap.datasets import get_path

    config = read_config(get_path("demo"))
    rng = np.random.default_rng(seed)
    net = _grid_network(side)
    cells = [box(X0 + 100 * c + 10, Y0 + 100 * r + 10, X0 + 100 * c + 90, Y0 + 100 * r + 90)
             for r in range(side - 1) for c in range(side - 1)]
    cells += [box(X0 + 2010, Y0 + 10, X0 + 2090, Y0 + 90),        # the island: unreachable
              box(X0 + 9000, Y0 + 9000, X0 + 9080, Y0 + 9080)]    # off every street
    n = len(cells)
    blocks = gpd.GeoDataFrame({"block_id": rng.permutation(n) + 1}, geometry=cells, crs=CRS)
    blocks["area_m2"] = blocks.area
    blocks["dong"] = pd.Series(rng.choice(["가동", "나동", "다동"], n), dtype="str")
    blocks["dong_id"] = blocks["dong"].map({"가동": "1", "나동": "2", "다동": "3"})
    blocks["gu"], blocks["gu_id"] = "구", "11"
    blocks.loc[rng.random(n) < 0.1, "dong"] = np.nan
    pop = rng.lognormal(5, 1, n)
    pop[rng.random(n) < 0.1] = 0.0
    blocks["population"] = pop
    blocks["population_65plus"] = pop * 0.2
    cats = [c for c in config.categories if c != "toys"]  # toys: no space at all
    rows = []
    for k in range(18):
        cat = cats[k % len(cats)]
        if ties:
            x, y = 100.0 * rng.integers(0, side, 2)
        else:
            x, y = rng.uniform(0, 100 * (side - 1), 2)
        rows.append({"space_id": f"{cat[:2]}{k}", "category": cat, "name": f"{cat} {k}",
                     "geometry": shapely.Point(X0 + x, Y0 + y + (0 if ties else 3.0))})
    spaces = gpd.GeoDataFrame(rows, crs=CRS)
    times = walk_times(net, block_origins(blocks), spaces, walk_speed_kmh=config.walk_speed_kmh,
                       max_snap_m=config.network.max_snap_m)
    for cat in config.categories:
        blocks[walk_col(cat)] = times[walk_col(cat)] if walk_col(cat) in times else np.nan
    # a short audit time and many listed blocks, so that most blocks are gaps
    cov = dataclasses.replace(config.coverage, gap_blocks=25, thresholds_minutes=(1.0, 2.0))
    assert cov.audit_min == 2.0
    return blocks, spaces, net, dataclasses.replace(config, coverage=cov)


def _full_searches(monkeypatch) -> list[str]:
    calls: list[str] = []
    real = gaps.nearest_spaces

    def spy(*args, **kwargs):
        calls.append(kwargs["categories"][0])
        return real(*args, **kwargs)

    monkeypatch.setattr(gaps, "nearest_spaces", spy)
    return calls


def _prepared(blocks, spaces, net, config):
    """The block origins and the spaces prepared on the network, as the access stage does."""
    return prepare_points(net, block_origins(blocks), spaces,
                          max_snap_m=config.network.max_snap_m)


def _audit_equal(blocks, spaces, net, config, **kwargs):
    table, groups, gaps = _old_compute_audit(blocks, spaces, net, config)
    audit = coverage.compute_audit(blocks, spaces, net, config, **kwargs)
    _same(table, audit.coverage)
    _same(groups, audit.coverage_groups)
    _same(gaps, audit.gaps)
    return gaps


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_audit_equals_the_old_one_without_full_searches(seed, monkeypatch):
    """Spaces at random points: every listed block is settled by its own search."""
    blocks, spaces, net, config = _audit_inputs(seed, ties=False)
    calls = _full_searches(monkeypatch)
    gaps = _audit_equal(blocks, spaces, net, config)
    assert calls == []
    listed = gaps[gaps["kind"] == "block"]
    assert listed["nearest_space_id"].notna().sum() > 20
    assert listed["nearest_space_id"].isna().sum() >= 2  # the island and the far block
    # the same through the pipeline's prepared points
    points = _prepared(blocks, spaces, net, config)
    _audit_equal(blocks, spaces, net, config, points=points)
    assert calls == []
    with pytest.warns(FutureWarning, match="points=prepare_points"):  # the old keyword
        _audit_equal(blocks, spaces, net, config, joined=points.joined)


@pytest.mark.parametrize("seed", [0, 1])
def test_audit_with_tied_spaces_falls_back_to_the_full_search(seed, monkeypatch):
    """Spaces on street corners tie exactly: those categories take the old search."""
    blocks, spaces, net, config = _audit_inputs(seed, ties=True)
    calls = _full_searches(monkeypatch)
    _audit_equal(blocks, spaces, net, config)
    assert calls  # some category had a tie
    # with the pipeline's prepared points the full search runs on them (no new snapping)
    _audit_equal(blocks, spaces, net, config, points=_prepared(blocks, spaces, net, config))
    assert len(calls) == 1


def test_audit_edge_cases_equal_the_old_one(monkeypatch):
    blocks, spaces, net, config = _audit_inputs(3, ties=False)
    calls = _full_searches(monkeypatch)
    # no block listed: only whether the name columns hold text matters
    none_listed = dataclasses.replace(config, coverage=dataclasses.replace(
        config.coverage, gap_blocks=0))
    _audit_equal(blocks, spaces, net, none_listed)
    # no residents: blocks rank by walking time, unreachable first
    _audit_equal(blocks.drop(columns=["population", "population_65plus"]), spaces, net,
                 dataclasses.replace(config, coverage=dataclasses.replace(
                     config.coverage, groups=())))
    assert calls == []
    # a space without a name (None is not text): the category takes the full search
    unnamed = spaces.assign(name=spaces["name"].astype(object))
    unnamed.loc[0, "name"] = None
    _audit_equal(blocks, unnamed, net, config)
    assert calls == [unnamed.loc[0, "category"]]


def test_closest_nodes_reports_ties_and_unreachable():
    r"""Path 0 - 1 - 2 - 3 (10 m each) and an isolated node 4.

    From node 1, nodes 0 and 2 (weight 5) tie at 15; from node 3, node 2 wins at 15
    against node 0 (35); node 4 reaches nothing.
    """
    u, v = np.array([0, 1, 2]), np.array([1, 2, 3])
    from sharemap.access import JoinedPoints
    from sharemap.network import undirected_csr

    csr = undirected_csr(u, v, np.full(3, 10.0), 5)
    joined = JoinedPoints(csr=csr, n_base=5, node=np.empty(0, np.int64), offset_m=np.empty(0))
    nodes, weight = np.array([0, 2]), np.array([5.0, 5.0])
    assert gaps._closest_nodes(joined, np.array([1]), nodes, weight, np.array([40.0])) is None
    got = gaps._closest_nodes(joined, np.array([3, 4, -1]), nodes, weight,
                              np.array([1.0, np.inf, 3.0]))
    assert got.tolist() == [2, -1, -1]  # 3: beyond its limit of 1 m, found without one


# --------------------------------------------------------------------- the demo study


@pytest.fixture(scope="module")
def demo():
    """The demo with every block judged from one origin, as the old code judged them."""
    from sharemap import read_config, run_study
    from sharemap.datasets import get_path

    cfg = read_config(get_path("demo"))
    return run_study(dataclasses.replace(cfg, blocks=dataclasses.replace(
        cfg.blocks, multi_origin=False)))


def test_demo_study_equals_the_old_code(demo):
    cfg = demo.config
    blocks = demo.blocks.drop(columns=["adjacent_spaces", "adjacent_categories",
                                       "adjacent_capacity", "adjacent_space_ids", "candidate",
                                       "village_id"])
    for k in (2, 3, 4):
        old = _old_compute_candidates(blocks, demo.adjacency, demo.spaces, min_spaces=k)
        new = villages.compute_candidates(blocks, demo.adjacency, demo.spaces, min_spaces=k)
        _same(old, new.drop(columns="adjacent_capacity"))  # a column added later (issue 14)
        cand = blocks.assign(candidate=new["candidate"].to_numpy())
        for a, b in zip(_old_compute_villages(cand, demo.adjacency, demo.spaces),
                        villages.compute_villages(cand, demo.adjacency, demo.spaces),
                        strict=True):
            _same(a, b)
    _audit_equal(demo.blocks, demo.spaces, demo.network, cfg)
    # the study's own tables are those of the old code
    table, groups, gaps = _old_compute_audit(demo.blocks, demo.spaces, demo.network, cfg)
    _same(table, demo.coverage)
    _same(groups, demo.coverage_groups)
    _same(gaps, demo.gaps)
