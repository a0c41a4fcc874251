"""Benchmark sharemap's access engine against the usual recipes on a Seoul-size network.

Builds a perturbed street grid of about 300,000 nodes and 800,000 directed edges
(the size of Seoul's OSM walk network), places 5,000 spaces on its streets in 7
categories (one of 3,000, the rest 150-600, like Seoul's mix), joins them into the
graph as sharemap does, and times on the same graph, in one process:

- nearest space of each category for every node: sharemap (one compiled
  multi-source search per category), networkx ``multi_source_dijkstra_path_length``
  per category, scipy ``dijkstra(min_only=True)`` per category, pandana
  ``nearest_pois`` (where pandana imports);
- counts of spaces of each category within 5/10/15 minutes (400/800/1,200 m) of every
  node: sharemap (bounded compiled searches from each space), networkx
  ``single_source_dijkstra_path_length(cutoff=)`` per space, per-source
  ``scipy.sparse.csgraph.dijkstra(limit=)``, the osmnx isochrone-example recipe (one
  ``nx.ego_graph`` per space and trip time) on a sample, extrapolated, and pandana
  ``aggregate(type="count")``;
- 15-minute isochrone polygons for 1,000 spaces: sharemap, and on a sample
  (extrapolated) every reached edge buffered and unioned with GEOS (the exact
  polygon, also used to measure sharemap's outline error) and the ego-graph
  convex hull.

Every method's distances and counts are checked against sharemap's. Run::

    python benchmarks/bench_access.py --json bench.json     # about 5 minutes
    python benchmarks/bench_access.py --small               # a few seconds

Each sharemap task runs ``--repeat`` times (default 3) and the best time is
reported (as ``timeit`` does: the others measure the machine's other work), with
the median beside it; each other method runs once. Peak memory (``peak_rss_mb``)
is the process's peak resident size when sharemap's part is done, before any
other method runs; ``peak_rss_total_mb`` is at the end.
"""

from __future__ import annotations

import argparse
import json
import platform
import resource
import sys
import time
from pathlib import Path
from typing import Any

import geopandas as gpd
import networkx as nx
import numpy as np
import pandas as pd
import shapely
from scipy.sparse.csgraph import connected_components, dijkstra

from sharemap import _engine
from sharemap.access import join_points, snap_points
from sharemap.isochrones import isochrones
from sharemap.network import WalkNetwork, undirected_csr

CRS = "EPSG:5186"
SPEED_M_MIN = 80.0
THRESHOLDS_MIN = (5.0, 10.0, 15.0)
LIMITS_M = np.array(THRESHOLDS_MIN) * SPEED_M_MIN
EPS = 1e-9
#: A Seoul-like mix: bike stations dominate, the rest are a few hundred each.
CATEGORY_SIZES = {"bike": 3000, "parking": 600, "carshare": 450, "facility": 350,
                  "tools": 250, "toys": 200, "library": 150}


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def write_json(path: Path | None, figures: Any) -> None:
    """Write a benchmark's figures to `path` (its ``--json``) as UTF-8 JSON and say so."""
    if path is None:
        return
    path.write_text(json.dumps(figures, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"wrote {path}")


def machine() -> str:
    model = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    import os

    return f"{model}, {os.cpu_count()} cores, Python {platform.python_version()}"


class Timer:
    def __init__(self) -> None:
        self.times: dict[str, float] = {}

    def __call__(self, name: str) -> Timer:
        self.name = name
        return self

    def __enter__(self) -> Timer:
        self.start = time.perf_counter()
        return self

    def __exit__(self, *exc: object) -> None:
        self.times[self.name] = time.perf_counter() - self.start
        print(f"  {self.name:<34} {self.times[self.name]:9.3f} s", flush=True)


# ---------------------------------------------------------------------------- inputs


def grid_network(side: int, *, spacing: float = 45.0, keep: float = 0.68,
                 seed: int = 0) -> WalkNetwork:
    """A perturbed street grid: jittered nodes, a third of the streets missing, some bent.

    The largest connected piece is kept, as sharemap does with OSM networks.
    """
    rng = np.random.default_rng(seed)
    r, c = np.divmod(np.arange(side * side), side)
    xy = np.column_stack([c * spacing, r * spacing]).astype(float)
    xy += rng.uniform(-0.3 * spacing, 0.3 * spacing, xy.shape)
    xy += (200_000.0, 550_000.0)
    ids = np.arange(side * side).reshape(side, side)
    u = np.concatenate([ids[:, :-1].ravel(), ids[:-1, :].ravel()])
    v = np.concatenate([ids[:, 1:].ravel(), ids[1:, :].ravel()])
    kept = rng.random(len(u)) < keep
    u, v = u[kept], v[kept]
    # a quarter of the streets bend once, a few are exact duplicates of a neighbour
    mid = (xy[u] + xy[v]) / 2 + rng.normal(0, 0.12 * spacing, (len(u), 2))
    bent = rng.random(len(u)) < 0.25
    n_v = np.where(bent, 3, 2)
    coords = np.empty((int(n_v.sum()), 2))
    start = np.cumsum(n_v) - n_v
    coords[start] = xy[u]
    coords[start[bent] + 1] = mid[bent]
    coords[start + n_v - 1] = xy[v]
    lines = shapely.linestrings(coords, indices=np.repeat(np.arange(len(u)), n_v))
    length = shapely.length(lines)
    csr = undirected_csr(u, v, length, side * side)
    _, labels = connected_components(csr, directed=False)
    has = np.bincount(np.concatenate([u, v]), minlength=side * side) > 0
    main = np.argmax(np.bincount(labels[has]))
    keep_node = has & (labels == main)
    new = np.full(side * side, -1)
    new[keep_node] = np.arange(int(keep_node.sum()))
    ke = keep_node[u]
    nodes = gpd.GeoDataFrame({"osmid": np.flatnonzero(keep_node)},
                             geometry=shapely.points(xy[keep_node]), crs=CRS)
    edges = gpd.GeoDataFrame({
        "u": new[u[ke]], "v": new[v[ke]], "highway": "residential", "name": "",
        "bridge": "", "tunnel": "", "length_m": length[ke]}, geometry=lines[ke], crs=CRS)
    return WalkNetwork(nodes=nodes, edges=edges, crs=nodes.crs, info={"source": "grid"})


def place_spaces(net: WalkNetwork, sizes: dict[str, int], seed: int = 1) -> gpd.GeoDataFrame:
    """Spaces exactly on random streets (offset 0), so every method sees the same graph."""
    rng = np.random.default_rng(seed)
    total = sum(sizes.values())
    edge = rng.integers(0, len(net.edges), total)
    frac = rng.uniform(0.05, 0.95, total)
    geoms = shapely.line_interpolate_point(net.edges.geometry.to_numpy()[edge],
                                           frac, normalized=True)
    cats = np.repeat(list(sizes), list(sizes.values()))
    rng.shuffle(cats)
    return gpd.GeoDataFrame({"space_id": [f"s{i}" for i in range(total)], "category": cats},
                            geometry=geoms, crs=CRS)


# -------------------------------------------------------------------------- methods


def counts_from_rows(counts: np.ndarray, nodes: np.ndarray, dist: np.ndarray,
                     cat: int) -> None:
    """Add one source's reach (node ids, distances) to ``counts[node, cat, band]``."""
    for k, lim in enumerate(LIMITS_M):
        counts[nodes[dist <= lim + EPS], cat, k] += 1


def nx_graph(csr: Any) -> nx.Graph:
    coo = csr.tocoo()
    upper = coo.row < coo.col
    g = nx.Graph()
    g.add_nodes_from(range(csr.shape[0]))
    g.add_weighted_edges_from(zip(coo.row[upper].tolist(), coo.col[upper].tolist(),
                                  coo.data[upper].tolist(), strict=True))
    return g


def run_pandana(joined: Any, n_base: int, net: WalkNetwork, spaces: gpd.GeoDataFrame,
                space_node: np.ndarray, codes: np.ndarray, cats: list[str],
                t: Timer) -> dict[str, Any]:
    try:
        import pandana
    except ImportError as exc:
        print(f"  pandana not available ({exc}); skipped")
        return {"pandana": f"not installed ({exc})"}
    coo = joined.csr.tocoo()
    upper = coo.row < coo.col
    xy = np.vstack([shapely.get_coordinates(net.nodes.geometry.to_numpy()),
                    np.zeros((joined.csr.shape[0] - n_base, 2))])
    xy[space_node] = shapely.get_coordinates(spaces.geometry.to_numpy())
    node_ids = pd.Index(np.arange(joined.csr.shape[0]))
    with t("pandana: build network"):
        pnet = pandana.Network(pd.Series(xy[:, 0], index=node_ids),
                               pd.Series(xy[:, 1], index=node_ids),
                               pd.Series(coo.row[upper]), pd.Series(coo.col[upper]),
                               pd.DataFrame({"w": coo.data[upper]}), twoway=True)
    rss0 = peak_rss_mb()
    with t("pandana: precompute 1,200 m"):
        pnet.precompute(float(LIMITS_M[-1]) + 1)
    with t("pandana: counts"):
        counts = np.zeros((n_base, len(cats), len(LIMITS_M)), np.int64)
        for c, cat in enumerate(cats):
            pnet.set(pd.Series(space_node[codes == c]), name=cat)
            for k, lim in enumerate(LIMITS_M):
                agg = pnet.aggregate(float(lim), type="count", decay="flat", name=cat)
                counts[:, c, k] = agg.reindex(np.arange(n_base)).to_numpy()
    return {"pandana_counts": counts, "pandana_peak_rss_mb": round(max(peak_rss_mb(), rss0), 1)}


# ----------------------------------------------------------------------------- main


def main(argv: list[str] | None = None) -> dict[str, Any]:  # noqa: C901, PLR0912
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--small", action="store_true", help="a 60x60 grid and 500 spaces")
    ap.add_argument("--json", type=Path, help="write the figures to this JSON file")
    ap.add_argument("--ego-sample", type=int, default=40,
                    help="spaces run through the ego-graph recipe (extrapolated)")
    ap.add_argument("--isochrones", type=int, default=1000, help="isochrone polygons")
    ap.add_argument("--iso-sample", type=int, default=20,
                    help="polygons built the slow exact way (extrapolated)")
    ap.add_argument("--repeat", type=int, default=3,
                    help="runs of each sharemap task (the best is reported, as timeit "
                         "does; the median is in the JSON)")
    ap.add_argument("--network-stage", action="store_true",
                    help="also time reading the network from GraphML: osmnx, sharemap "
                         "cold and sharemap from its cache (writes a large temporary file)")
    ap.add_argument("--skip-networkx", action="store_true")
    ap.add_argument("--skip-pandana", action="store_true")
    args = ap.parse_args(argv)

    side = 60 if args.small else 560
    scale = 5000 if not args.small else 500
    sizes = {k: max(1, round(v * scale / 5000)) for k, v in CATEGORY_SIZES.items()}
    n_iso = min(args.isochrones, 100) if args.small else args.isochrones
    t = Timer()
    out: dict[str, Any] = {"machine": machine(), "backend": "numba",
                           "threads": _engine.threads()}
    print(f"machine: {out['machine']}; engine: {out['backend']} on {out['threads']} threads")

    # warm the compiled kernels (loads numba's cache; compiles on a new machine)
    t0 = time.perf_counter()
    _ = _engine.multi_source(undirected_csr(np.array([0]), np.array([1]), np.array([1.0]), 2),
                             [0], [0.0])
    out["engine_warmup_s"] = round(time.perf_counter() - t0, 3)

    print("inputs")
    with t("build grid network"):
        net = grid_network(side)
    spaces = place_spaces(net, sizes)
    cats = list(sizes)
    codes = pd.Categorical(spaces["category"], categories=cats).codes.astype(np.int64)
    with t("sharemap: snap + join spaces"):
        snaps = snap_points(net, spaces)
        joined = join_points(net, snaps)
    n_base = net.n_nodes
    space_node = joined.node
    offsets = joined.offset_m
    csr = joined.csr
    out.update(nodes=int(n_base), directed_edges=int(2 * len(net.edges)),
               joined_nodes=int(csr.shape[0]), spaces=len(spaces), categories=sizes)
    print(f"  {n_base:,} nodes, {2 * len(net.edges):,} directed edges, "
          f"{len(spaces):,} spaces; joined graph {csr.shape[0]:,} nodes")

    print(f"sharemap (best of {args.repeat} runs)")
    rng = np.random.default_rng(2)
    iso_pick = rng.choice(len(spaces), n_iso, replace=False)
    iso_points = spaces.iloc[iso_pick]
    runs: dict[str, list[float]] = {}
    near = counts = iso = None
    for _ in range(args.repeat):
        near = counts = iso = None  # free the last run's results first
        start = time.perf_counter()
        near = _engine.multi_source_many(
            csr, [(space_node[codes == c], offsets[codes == c]) for c in range(len(cats))]
        )[:, :n_base].T
        runs.setdefault("sharemap: nearest per category", []).append(time.perf_counter() - start)
        start = time.perf_counter()
        counts = _engine.counts_within(csr, space_node, offsets, np.arange(n_base),
                                       np.zeros(n_base), limits_m=LIMITS_M + EPS,
                                       labels=codes, n_labels=len(cats))
        runs.setdefault("sharemap: counts 5/10/15 min", []).append(time.perf_counter() - start)
        start = time.perf_counter()
        iso = isochrones(net, iso_points, minutes=(15,))
        runs.setdefault(f"sharemap: {n_iso} isochrones 15 min", []).append(
            time.perf_counter() - start)
    for name, values in runs.items():
        t.times[name] = float(np.min(values))
        print(f"  {name:<34} {t.times[name]:9.3f} s  (runs: "
              f"{', '.join(f'{v:.3f}' for v in values)})")
    out["runs_s"] = {k: [round(v, 3) for v in vals] for k, vals in runs.items()}
    out["median_s"] = {k: round(float(np.median(vals)), 3) for k, vals in runs.items()}
    out["isochrones_valid"] = bool(shapely.is_valid(iso.geometry.to_numpy()).all())
    out["peak_rss_mb"] = round(peak_rss_mb(), 1)
    out.update(nearest_s=t.times["sharemap: nearest per category"],
               counts_s=t.times["sharemap: counts 5/10/15 min"],
               isochrones_s=t.times[f"sharemap: {n_iso} isochrones 15 min"],
               isochrones_n=n_iso, snap_join_s=t.times["sharemap: snap + join spaces"])

    print("scipy")
    with t("scipy: nearest (min_only) per category"):
        near_sp = np.column_stack([
            dijkstra(csr, directed=False, indices=space_node[codes == c],
                     min_only=True)[:n_base] for c in range(len(cats))])
    with t("scipy: counts, per-source dijkstra"):
        counts_sp = np.zeros_like(counts)
        base = np.arange(n_base)
        for i in range(len(spaces)):
            row = dijkstra(csr, directed=False, indices=space_node[i],
                           limit=LIMITS_M[-1] + EPS)[:n_base]
            counts_from_rows(counts_sp, base, row, codes[i])
    diffs = {"scipy": float(np.max(np.abs(np.where(np.isfinite(near), near, 0)
                                          - np.where(np.isfinite(near_sp), near_sp, 0))))}
    agree = {"scipy_counts": bool((counts == counts_sp).all()),
             "scipy_unreached": bool((np.isinf(near) == np.isinf(near_sp)).all())}

    if not args.skip_networkx:
        print("networkx")
        with t("networkx: build graph"):
            g = nx_graph(csr)
        with t("networkx: nearest per category"):
            near_nx = np.full_like(near, np.inf)
            for c in range(len(cats)):
                d = nx.multi_source_dijkstra_path_length(
                    g, set(space_node[codes == c].tolist()), weight="weight")
                keys = np.fromiter(d.keys(), np.int64, len(d))
                vals = np.fromiter(d.values(), float, len(d))
                sel = keys < n_base
                near_nx[keys[sel], c] = vals[sel]
        with t("networkx: counts, per-source cutoff"):
            counts_nx = np.zeros_like(counts)
            for i in range(len(spaces)):
                d = nx.single_source_dijkstra_path_length(g, int(space_node[i]),
                                                          cutoff=LIMITS_M[-1] + EPS)
                keys = np.fromiter(d.keys(), np.int64, len(d))
                vals = np.fromiter(d.values(), float, len(d))
                sel = keys < n_base
                counts_from_rows(counts_nx, keys[sel], vals[sel], codes[i])
        fin = np.isfinite(near)
        diffs["networkx"] = float(np.max(np.abs(near[fin] - near_nx[fin])))
        agree["networkx_counts"] = bool((counts == counts_nx).all())
        agree["networkx_unreached"] = bool((np.isinf(near) == np.isinf(near_nx)).all())

        print(f"ego graphs ({args.ego_sample} spaces, extrapolated to {len(spaces):,})")
        sample = rng.choice(len(spaces), min(args.ego_sample, len(spaces)), replace=False)
        ego_counts = np.zeros_like(counts)
        start = time.perf_counter()
        for i in sample:
            for k, lim in enumerate(LIMITS_M):
                sub = nx.ego_graph(g, int(space_node[i]), radius=lim + EPS, distance="weight")
                nodes = np.fromiter(sub.nodes, np.int64)
                ego_counts[nodes[nodes < n_base], codes[i], k] += 1
        per = (time.perf_counter() - start) / len(sample)
        t.times["ego graphs: counts (extrapolated)"] = per * len(spaces)
        print(f"  {'ego graphs: counts (extrapolated)':<34} {per * len(spaces):9.3f} s")
        check = np.zeros_like(counts)
        for i in sample:
            row = dijkstra(csr, directed=False, indices=space_node[i],
                           limit=LIMITS_M[-1] + EPS)[:n_base]
            counts_from_rows(check, np.arange(n_base), row, codes[i])
        agree["ego_graph_counts_sample"] = bool((ego_counts == check).all())
        # the osmnx example's isochrone: ego graph + convex hull of the reached nodes
        xy = np.vstack([shapely.get_coordinates(net.nodes.geometry.to_numpy()),
                        np.zeros((csr.shape[0] - n_base, 2))])
        xy[space_node] = shapely.get_coordinates(spaces.geometry.to_numpy())
        start = time.perf_counter()
        for i in iso_pick[:args.ego_sample]:
            sub = nx.ego_graph(g, int(space_node[i]), radius=LIMITS_M[-1], distance="weight")
            shapely.convex_hull(shapely.multipoints(xy[np.fromiter(sub.nodes, np.int64)]))
        per = (time.perf_counter() - start) / min(args.ego_sample, n_iso)
        t.times["ego graphs: hull isochrones (extrap.)"] = per * n_iso
        print(f"  {'ego graphs: hull isochrones (extrap.)':<34} {per * n_iso:9.3f} s")
        del g

    print(f"exact GEOS isochrones ({args.iso_sample} polygons, extrapolated to {n_iso})")
    exact_s, area_err, width, inside = exact_isochrones(
        net, iso_points.iloc[:args.iso_sample], iso.geometry.to_numpy()[:args.iso_sample])
    t.times["GEOS buffer+union isochrones (extrap.)"] = exact_s / args.iso_sample * n_iso
    print(f"  {'GEOS buffer+union isochrones (extrap.)':<34} "
          f"{exact_s / args.iso_sample * n_iso:9.3f} s")
    out.update(isochrone_area_error=round(area_err, 5),
               isochrone_mean_outline_error_m=round(width, 3))
    agree["isochrones_within_half_cell_of_exact"] = inside

    if not args.skip_pandana:
        print("pandana")
        res = run_pandana(joined, n_base, net, spaces, space_node, codes, cats, t)
        if "pandana_counts" in res:
            # pandana keeps distances in single precision: a few counts right at a
            # threshold differ by one; report how many agree instead of failing
            same = res.pop("pandana_counts") == counts
            out["pandana_counts_share_equal"] = round(float(same.mean()), 6)
        out.update(res)

    if args.network_stage:
        print("network stage: GraphML read + project")
        out.update(network_stage(net, t))

    out["peak_rss_total_mb"] = round(peak_rss_mb(), 1)
    out["max_abs_diff_m"] = max(diffs.values())
    out["max_abs_diff_by_method_m"] = diffs
    out["agree"] = agree
    tt = t.times

    def ratio(name: str, mine: str) -> float | None:
        return round(tt[name] / tt[mine], 1) if name in tt else None

    out.update(
        ratio_counts_vs_ego_graph=ratio("ego graphs: counts (extrapolated)",
                                        "sharemap: counts 5/10/15 min"),
        ratio_counts_vs_networkx=ratio("networkx: counts, per-source cutoff",
                                       "sharemap: counts 5/10/15 min"),
        ratio_counts_vs_scipy=ratio("scipy: counts, per-source dijkstra",
                                    "sharemap: counts 5/10/15 min"),
        ratio_counts_vs_pandana=ratio("pandana: counts", "sharemap: counts 5/10/15 min"),
        ratio_nearest_vs_networkx=ratio("networkx: nearest per category",
                                        "sharemap: nearest per category"),
        ratio_nearest_vs_scipy=ratio("scipy: nearest (min_only) per category",
                                     "sharemap: nearest per category"),
        ratio_isochrones_vs_geos=ratio("GEOS buffer+union isochrones (extrap.)",
                                       f"sharemap: {n_iso} isochrones 15 min"),
        seconds={k: round(v, 3) for k, v in tt.items()},
    )
    print("checks:", json.dumps(agree), f"max |diff| {out['max_abs_diff_m']:.3g} m")
    print(f"peak RSS after sharemap's part: {out['peak_rss_mb']:.0f} MB; "
          f"at the end: {out['peak_rss_total_mb']:.0f} MB")
    for key in ("ratio_counts_vs_ego_graph", "ratio_counts_vs_networkx",
                "ratio_counts_vs_scipy", "ratio_counts_vs_pandana",
                "ratio_nearest_vs_networkx", "ratio_nearest_vs_scipy",
                "ratio_isochrones_vs_geos"):
        print(f"  {key:<28} {out[key]}")
    write_json(args.json, out)
    ok = all(agree.values()) and out["max_abs_diff_m"] < 1e-6 and out["isochrones_valid"]
    if not ok:
        print("METHODS DISAGREE", file=sys.stderr)
        sys.exit(1)
    return out


def exact_isochrones(net: WalkNetwork, points: gpd.GeoDataFrame,
                     mine: np.ndarray) -> tuple[float, float, float]:
    """Buffer and union every reached stretch with GEOS; compare with sharemap's outline.

    Returns the time taken, the mean symmetric-difference area as a share of the exact
    area, the mean outline error (symmetric-difference area / exact perimeter, metres),
    and whether every outline covers the exact polygon less half a grid cell and stays
    within a cell of it.
    """
    from sharemap.access import metres_per_minute
    from sharemap.isochrones import _pieces, _reach_table, _segments  # the same segments

    snaps = snap_points(net, points)
    budget = 15 * metres_per_minute(4.8)
    start = time.perf_counter()
    reach = _reach_table(net, snaps, budget)
    owner, segs = _segments(net, *_pieces(net, reach, snaps, budget))
    lines = shapely.linestrings(segs.reshape(-1, 2, 2))
    exact = [shapely.union_all(shapely.buffer(lines[owner == i], 25.0))
             for i in range(len(points))]
    took = time.perf_counter() - start
    sliver = [shapely.symmetric_difference(a, b).area for a, b in zip(exact, mine, strict=True)]
    err = [s / a.area for s, a in zip(sliver, exact, strict=True)]
    width = [s / a.boundary.length for s, a in zip(sliver, exact, strict=True)]
    px = 25.0 / 3
    inside = all(b.buffer(px / 2).covers(a) and a.buffer(px).covers(b)
                 for a, b in zip(exact, mine, strict=True))
    return took, float(np.mean(err)), float(np.mean(width)), inside


def network_stage(net: WalkNetwork, t: Timer) -> dict[str, Any]:
    """Write the network as an osmnx GraphML file (WGS84), then time reading it back."""
    import os
    import tempfile

    import osmnx as ox

    from sharemap.config import NetworkConfig
    from sharemap.network import load_network

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "seoul_size.graphml"
        with t("write GraphML (setup)"):
            lonlat = net.nodes.to_crs("EPSG:4326").geometry
            g = nx.MultiDiGraph(crs="epsg:4326")
            g.add_nodes_from((int(i), {"x": p.x, "y": p.y})
                             for i, p in zip(net.nodes["osmid"], lonlat, strict=True))
            osm = net.nodes["osmid"].to_numpy()
            geo = net.edges.to_crs("EPSG:4326").geometry.to_numpy()
            rev = shapely.reverse(geo)
            for a, b, ln, fw, bw in zip(osm[net.edge_u], osm[net.edge_v], net.edge_length,
                                        geo, rev, strict=True):
                g.add_edge(int(a), int(b), length=ln, highway="residential", geometry=fw)
                g.add_edge(int(b), int(a), length=ln, highway="residential", geometry=bw)
            ox.save_graphml(g, path)
            del g
        size_mb = path.stat().st_size / 2**20
        with t("osmnx: load_graphml + project"):
            ox.project_graph(ox.load_graphml(path), to_crs=CRS)
        os.environ["SHAREMAP_CACHE_DIR"] = str(Path(tmp) / "cache")
        cfg = NetworkConfig(source="graphml", value=path)
        with t("sharemap: load_network (cold)"):
            cold = load_network(cfg, crs=CRS)
        with t("sharemap: load_network (cached)"):
            warm = load_network(cfg, crs=CRS)
        assert (cold.info["cache"], warm.info["cache"]) == ("miss", "hit")
        assert len(warm.edges) == len(cold.edges)
    tt = t.times
    return {"graphml_mb": round(size_mb, 1),
            "network_osmnx_read_project_s": round(tt["osmnx: load_graphml + project"], 3),
            "network_cold_s": round(tt["sharemap: load_network (cold)"], 3),
            "network_cached_s": round(tt["sharemap: load_network (cached)"], 3),
            "ratio_network_cold_vs_cached": round(tt["sharemap: load_network (cold)"]
                                                  / tt["sharemap: load_network (cached)"], 1)}


if __name__ == "__main__":
    main()
