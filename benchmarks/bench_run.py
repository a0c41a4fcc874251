"""Time a whole ``sharemap run`` on a Seoul-size network against osmnx reading it.

Builds the Seoul-size perturbed street grid of ``bench_access.py`` (about 308,000
nodes and 850,000 directed edges, 25 km across, placed where Seoul is in
EPSG:5186), writes it as an osmnx GraphML file (WGS84, as ``ox.save_graphml``
writes a downloaded network) and a study around it in a temporary folder:

- a study-area polygon (a rounded square with a wavy edge, about 540 km2);
- 5,000 spaces in 7 categories (the Seoul-like mix of ``bench_access.py``), each
  a few metres off a random street, as one CSV layer per category (lon/lat);
- two boundary levels: ~400 ``dong`` (Voronoi cells, with a synthetic population,
  9.4 million in all) and 25 ``gu`` made of whole dongs;
- ``study.toml`` naming them (the SPEC's defaults otherwise).

Then, in one process, it times:

(a) osmnx ``load_graphml`` + ``project_graph`` to EPSG:5186 (the reference);
(b) ``read_config`` + ``sharemap.run_study`` + ``write_outputs`` with an empty
    ``SHAREMAP_CACHE_DIR`` (cold: the network is read from the GraphML);
(c) the same again (warm: the prepared network, the blocks and the block origins'
    snaps come from the cache),

with the seconds of every stage (``result.summary["seconds"]`` and the write
stages from ``summary.json``), the peak resident memory of each part, the output
sizes, and the ratios (b)/(a) (issue 4's target: at most 1.5) and (b)/(c) (at
least 3). Run::

    python benchmarks/bench_run.py --json run.json          # about 6 minutes
    python benchmarks/bench_run.py --small                  # seconds: a 60 x 60 grid
    python benchmarks/bench_run.py --keep DIR               # keep (and reuse) the study

Both sharemap runs happen after osmnx's in the same process, so imports, numba's
compiled kernels (cached on disk) and the operating system's file cache are
warm for all three; a ``sharemap run`` from a shell also pays Python's start-up
and imports (about 2 s).
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import re
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import geopandas as gpd
import networkx as nx
import numpy as np
import pandas as pd
import shapely

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_access import CATEGORY_SIZES, CRS, grid_network, machine, place_spaces, write_json

from sharemap.network import WalkNetwork

#: Seoul's population (2021), spread over the dongs.
POPULATION = 9_400_000
WGS84 = "EPSG:4326"


# ------------------------------------------------------------------------- memory


def _status_mb(field: str) -> float:
    text = Path("/proc/self/status").read_text()
    found = re.search(rf"^{field}:\s+(\d+) kB", text, re.MULTILINE)
    return int(found.group(1)) / 1024.0 if found else float("nan")


def reset_peak() -> bool:
    """Reset the process's peak resident size (Linux: ``clear_refs`` 5); False if unsupported."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        return False
    return True


def peak_mb() -> float:
    """Peak resident size since the last :func:`reset_peak` (``VmHWM``), in MB."""
    return _status_mb("VmHWM")


# ------------------------------------------------------------------------ the study


def write_graphml(net: WalkNetwork, path: Path) -> None:
    """Write `net` as osmnx writes a downloaded walk network: WGS84, both directions."""
    import osmnx as ox

    lonlat = shapely.get_coordinates(net.nodes.to_crs(WGS84).geometry.to_numpy())
    osm = net.nodes["osmid"].to_numpy()
    g = nx.MultiDiGraph(crs="epsg:4326")
    g.add_nodes_from((int(i), {"x": x, "y": y})
                     for i, (x, y) in zip(osm, lonlat, strict=True))
    fwd = net.edges.to_crs(WGS84).geometry.to_numpy()
    back = shapely.reverse(fwd)
    a, b = osm[net.edge_u].tolist(), osm[net.edge_v].tolist()
    length = net.edge_length.tolist()
    g.add_edges_from((u, v, {"length": ln, "highway": "residential", "geometry": geom})
                     for u, v, ln, geom in zip(a, b, length, fwd, strict=True))
    g.add_edges_from((v, u, {"length": ln, "highway": "residential", "geometry": geom})
                     for u, v, ln, geom in zip(a, b, length, back, strict=True))
    ox.save_graphml(g, path)


def study_area(net: WalkNetwork) -> shapely.Polygon:
    """A rounded square with a wavy edge inside the grid (most of it, not all)."""
    x0, y0, x1, y1 = net.nodes.total_bounds
    cx, cy, half = (x0 + x1) / 2, (y0 + y1) / 2, (x1 - x0) / 2
    t = np.linspace(0, 2 * np.pi, 720, endpoint=False)
    c, s = np.cos(t), np.sin(t)
    r = half * 0.97 * (1 + 0.025 * np.sin(7 * t))
    # superellipse |x|^4 + |y|^4 = 1
    x = cx + r * np.sign(c) * np.abs(c) ** 0.5
    y = cy + r * np.sign(s) * np.abs(s) ** 0.5
    return shapely.Polygon(np.column_stack([x, y]))


def _seeds(area: shapely.Polygon, per_side: int, rng: np.random.Generator) -> np.ndarray:
    x0, y0, x1, y1 = area.bounds
    step = np.array([(x1 - x0) / per_side, (y1 - y0) / per_side])
    i, j = np.divmod(np.arange(per_side * per_side), per_side)
    xy = np.column_stack([x0 + (j + 0.5) * step[0], y0 + (i + 0.5) * step[1]])
    return xy + rng.uniform(-0.3, 0.3, xy.shape) * step


def boundaries(area: shapely.Polygon, *, dong_side: int, gu_side: int,
               seed: int = 3) -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame]:
    """Dongs (Voronoi cells with a population) and gus (whole dongs, nearest gu seed)."""
    rng = np.random.default_rng(seed)
    dseeds = _seeds(area, dong_side, rng)
    cells = shapely.voronoi_polygons(shapely.multipoints(dseeds), extend_to=area,
                                     ordered=True)
    cells = shapely.intersection(np.asarray(shapely.get_parts(cells)), area)
    keep = ~shapely.is_empty(cells) & (shapely.area(cells) > 1.0)
    cells = cells[keep]
    gseeds = _seeds(area, gu_side, rng)
    cxy = shapely.get_coordinates(shapely.centroid(cells))
    gu_of = np.argmin(((cxy[:, None, :] - gseeds[None, :, :]) ** 2).sum(axis=2), axis=1)
    gu_ids = np.unique(gu_of)
    gu_code = {g: f"{11000 + 10 * (k + 1)}" for k, g in enumerate(gu_ids)}
    gu_name = {g: f"구{k + 1:02d}" for k, g in enumerate(gu_ids)}
    pop = rng.lognormal(0.0, 0.45, len(cells))
    pop = np.round(pop / pop.sum() * POPULATION).astype(np.int64)
    dong = gpd.GeoDataFrame({
        "dong_nm": [f"{gu_name[g]} {k + 1}동" for k, g in enumerate(gu_of)],
        "adm_cd2": [f"{gu_code[g]}{k + 1:05d}" for k, g in enumerate(gu_of)],
        "sggnm": [gu_name[g] for g in gu_of],
        "pop_total": pop,
    }, geometry=cells, crs=CRS)
    gu = gpd.GeoDataFrame({
        "sggnm": [gu_name[g] for g in gu_ids],
        "sgg": [gu_code[g] for g in gu_ids],
    }, geometry=[shapely.union_all(cells[gu_of == g]) for g in gu_ids], crs=CRS)
    return gu, dong


def kept_or_written_study(folder: Path, side: int, sizes: dict[str, int], *, dong_side: int,
                          gu_side: int) -> dict[str, Any]:
    """Reuse the study in `folder` (``--keep``) when one is there, else write it; its meta."""
    if (folder / "meta.json").is_file() and (folder / "study.toml").is_file():
        print(f"reusing the study in {folder}")
        return json.loads((folder / "meta.json").read_text(encoding="utf-8"))
    print(f"writing the study ({side} x {side} grid) to {folder}")
    return write_study(folder, side, sizes, dong_side=dong_side, gu_side=gu_side)


def write_study(folder: Path, side: int, sizes: dict[str, int], *, dong_side: int,
                gu_side: int) -> dict[str, Any]:
    """Write the GraphML network, layers, boundaries and ``study.toml`` into `folder`."""
    folder.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    net = grid_network(side)
    spaces = place_spaces(net, sizes)
    # real spaces stand beside the street, not on it: 2-30 m off, any direction
    rng = np.random.default_rng(4)
    xy = shapely.get_coordinates(spaces.geometry.to_numpy())
    ang = rng.uniform(0, 2 * np.pi, len(xy))
    off = rng.uniform(2, 30, len(xy))
    xy = xy + np.column_stack([np.cos(ang), np.sin(ang)]) * off[:, None]
    lonlat = shapely.get_coordinates(
        gpd.GeoSeries(shapely.points(xy), crs=CRS).to_crs(WGS84).to_numpy())
    layers = []
    for cat in sizes:
        sel = (spaces["category"] == cat).to_numpy()
        table = pd.DataFrame({"id": [f"{cat}-{i + 1}" for i in range(int(sel.sum()))],
                              "name": [f"{cat} {i + 1}" for i in range(int(sel.sum()))],
                              "lon": lonlat[sel, 0].round(7), "lat": lonlat[sel, 1].round(7)})
        name = f"{cat}.csv"
        table.to_csv(folder / name, index=False)
        layers.append(f'[[layers]]\ncategory = "{cat}"\npath = "{name}"\nx = "lon"\n'
                      f'y = "lat"\ncrs = "EPSG:4326"\nid = "id"\nname = "name"\n')
    area = study_area(net)
    gpd.GeoDataFrame({"name": ["study area"]}, geometry=[area], crs=CRS).to_crs(
        WGS84).to_file(folder / "area.geojson", driver="GeoJSON")
    gu, dong = boundaries(area, dong_side=dong_side, gu_side=gu_side)
    gu.to_crs(WGS84).to_file(folder / "gu.geojson", driver="GeoJSON")
    dong.to_crs(WGS84).to_file(folder / "dong.geojson", driver="GeoJSON")
    inputs_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    write_graphml(net, folder / "walk.graphml")
    graphml_s = time.perf_counter() - t0
    toml = "\n".join([
        '[study]\nname = "Seoul-size synthetic city"\ncrs = "EPSG:5186"\n'
        'walk_speed_kmh = 4.8\narea = "area.geojson"\n',
        '[network]\ngraphml = "walk.graphml"\nmax_snap_m = 250\n',
        *layers,
        "[blocks]\nmin_area_m2 = 1000\n",
        "[villages]\nadjacent_minutes = 5\nmin_spaces = 3\ndistinct_categories = false\n",
        "[coverage]\nthresholds_minutes = [5, 10, 15]\nboundaries = [\n"
        '  { level = "gu", path = "gu.geojson", name = "sggnm", id = "sgg" },\n'
        '  { level = "dong", path = "dong.geojson", name = "dong_nm", id = "adm_cd2", '
        'population = "pop_total" },\n]\n',
    ])
    (folder / "study.toml").write_text(toml, encoding="utf-8")
    meta = {"grid_side": side, "nodes": net.n_nodes, "directed_edges": 2 * len(net.edges),
            "spaces_written": len(spaces), "categories": sizes, "gu": len(gu),
            "dong": len(dong), "population": int(dong["pop_total"].sum()),
            "area_km2": round(area.area / 1e6, 1),
            "graphml_mb": round((folder / "walk.graphml").stat().st_size / 2**20, 1),
            "setup_inputs_s": round(inputs_s, 1), "setup_graphml_s": round(graphml_s, 1)}
    (folder / "meta.json").write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")
    return meta


# ------------------------------------------------------------------------- timing


def time_osmnx(path: Path) -> dict[str, Any]:
    """(a) osmnx ``load_graphml`` + ``project_graph`` to the study CRS."""
    import osmnx as ox

    gc.collect()
    reset_peak()
    start = time.perf_counter()
    g = ox.load_graphml(path)
    read_s = time.perf_counter() - start
    g = ox.project_graph(g, to_crs=CRS)
    total = time.perf_counter() - start
    out = {"load_graphml_s": round(read_s, 3), "project_graph_s": round(total - read_s, 3),
           "total_s": round(total, 3), "peak_rss_mb": round(peak_mb(), 1),
           "nodes": g.number_of_nodes(), "directed_edges": g.number_of_edges()}
    del g
    gc.collect()
    return out


def _sizes_mb(out_dir: Path) -> dict[str, float]:
    return {p.relative_to(out_dir).as_posix(): round(p.stat().st_size / 2**20, 2)
            for p in sorted(out_dir.rglob("*")) if p.is_file()}


def time_run(study: Path, out_dir: Path, *, split_by: str | None) -> dict[str, Any]:
    """(b)/(c) one ``sharemap run``: read_config, run_study, write_outputs."""
    from dataclasses import replace

    from sharemap import read_config
    from sharemap.pipeline import run_study, write_outputs

    gc.collect()
    reset_peak()
    start = time.perf_counter()
    config = read_config(study)
    if split_by:
        config = replace(config, map=replace(config.map, split_by=split_by))
    config_s = time.perf_counter() - start
    result = run_study(config)
    run_s = time.perf_counter() - start
    write_outputs(result, out_dir)
    total = time.perf_counter() - start
    peak = peak_mb()
    summary = json.loads((out_dir / "summary.json").read_text(encoding="utf-8"))
    seconds = {"read_config": round(config_s, 3), **summary["seconds"]}
    counted = sum(seconds.values())
    seconds["other (imports, summary.json)"] = round(max(total - counted, 0.0), 3)
    out = {"total_s": round(total, 3), "run_study_s": round(run_s - config_s, 3),
           "write_outputs_s": round(total - run_s, 3), "seconds": seconds,
           "peak_rss_mb": round(peak, 1), "cache": result.network.info.get("cache"),
           "counts": summary["counts"], "network": result.network.info,
           "output_mb": _sizes_mb(out_dir)}
    del result
    gc.collect()
    return out


# --------------------------------------------------------------------------- report


#: Stages whose results a second run reads from the user cache.
CACHED_STAGES = ("network", "blocks", "snapping")


def budget(res: dict[str, Any]) -> dict[str, float]:
    """How much room each target leaves, and what the cache saves.

    With A osmnx's read and project time, C the cold run and W the warm one: the
    cold run may grow by 1.5 A - C before the 1.5x target is missed, the warm run
    by C / 3 - W before the 3x target is.
    """
    a, cold, warm = res["osmnx"]["total_s"], res["cold"], res["warm"]
    cached_cold = sum(cold["seconds"].get(k, 0.0) for k in CACHED_STAGES)
    cached_warm = sum(warm["seconds"].get(k, 0.0) for k in CACHED_STAGES)
    return {"cold_headroom_s": round(1.5 * a - cold["total_s"], 3),
            "warm_headroom_s": round(cold["total_s"] / 3 - warm["total_s"], 3),
            "cached_stages_cold_s": round(cached_cold, 3),
            "cached_stages_warm_s": round(cached_warm, 3),
            "rest_cold_s": round(cold["total_s"] - cached_cold, 3),
            "rest_warm_s": round(warm["total_s"] - cached_warm, 3)}


def print_table(res: dict[str, Any]) -> None:
    a, cold, warm = res["osmnx"], res["cold"], res["warm"]
    print("\n| stage | cold (s) | warm (s) | share of warm |\n|---|---:|---:|---:|")
    for name in cold["seconds"]:
        w = warm["seconds"].get(name, 0.0)
        print(f"| {name} | {cold['seconds'][name]:.2f} | {w:.2f} "
              f"| {100 * w / warm['total_s']:.0f}% |")
    print(f"| **whole run** | **{cold['total_s']:.1f}** | **{warm['total_s']:.1f}** | |")
    print(f"| peak RSS (MB) | {cold['peak_rss_mb']:,.0f} | {warm['peak_rss_mb']:,.0f} | |")
    print(f"\nosmnx load_graphml {a['load_graphml_s']:.1f} s + project_graph "
          f"{a['project_graph_s']:.1f} s = {a['total_s']:.1f} s "
          f"(peak RSS {a['peak_rss_mb']:,.0f} MB)")
    print(f"(b)/(a) cold run / osmnx read+project = {res['ratio_cold_vs_osmnx']:.2f} "
          f"(target <= 1.5: {'met' if res['target_cold_vs_osmnx_met'] else 'NOT met'})")
    print(f"(b)/(c) cold run / warm run          = {res['ratio_cold_vs_warm']:.2f} "
          f"(target >= 3: {'met' if res['target_cold_vs_warm_met'] else 'NOT met'})")
    b = res["budget"]
    print(f"cached stages ({', '.join(CACHED_STAGES)}): {b['cached_stages_cold_s']:.1f} s cold, "
          f"{b['cached_stages_warm_s']:.1f} s warm; the rest {b['rest_cold_s']:.1f} s cold, "
          f"{b['rest_warm_s']:.1f} s warm")
    print(f"headroom: the cold run may grow by {b['cold_headroom_s']:.1f} s before 1.5x is "
          f"missed, the warm run by {b['warm_headroom_s']:.1f} s before 3x is")
    rest = {k: v for k, v in warm["seconds"].items() if k not in CACHED_STAGES}
    top = sorted(rest.items(), key=lambda kv: -kv[1])[:3]
    print("warm run's largest stages: "
          + ", ".join(f"{k} {v:.1f} s ({100 * v / warm['total_s']:.0f}%)" for k, v in top))
    sizes = cold["output_mb"]
    big = {k: v for k, v in sizes.items() if v >= 1 and not k.startswith("maps/")}
    print("outputs over 1 MB: " + ", ".join(f"{k} {v:,.1f} MB" for k, v in big.items()))
    split = [v for k, v in sizes.items() if k.startswith("maps/") and k.endswith(".html")]
    if split:
        print(f"per-unit maps: {len(split)} files, {sum(split):,.1f} MB in all, "
              f"{np.median(split):.1f} MB median, {max(split):.1f} MB largest")


def main(argv: list[str] | None = None) -> dict[str, Any]:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--json", type=Path, help="write the results as JSON here")
    ap.add_argument("--small", action="store_true",
                    help="a 60 x 60 grid, 500 spaces, 4 gu and 36 dong (seconds)")
    ap.add_argument("--side", type=int, help="grid nodes per side (default 560; 60 with --small)")
    ap.add_argument("--keep", type=Path,
                    help="write the study here and keep it; reuse it if already there "
                         "(the network cache is always a fresh temporary folder)")
    ap.add_argument("--split-by", help="also write per-unit maps ([map] split_by), e.g. gu")
    args = ap.parse_args(argv)

    side = args.side or (60 if args.small else 560)
    scale = 500 if args.small else 5000
    sizes = {k: max(1, round(v * scale / 5000)) for k, v in CATEGORY_SIZES.items()}
    dong_side, gu_side = (6, 2) if args.small else (20, 5)
    res: dict[str, Any] = {"machine": machine(),
                           "memory_gb": round(os.sysconf("SC_PAGE_SIZE")
                                              * os.sysconf("SC_PHYS_PAGES") / 2**30, 1),
                           "peak_rss_per_part": reset_peak()}
    print(f"machine: {res['machine']}, {res['memory_gb']} GB")
    tmp = Path(tempfile.mkdtemp(prefix="sharemap-bench-run-"))
    try:
        folder = args.keep or tmp / "study"
        meta = kept_or_written_study(folder, side, sizes, dong_side=dong_side, gu_side=gu_side)
        res["study"] = meta
        print(f"  {meta['nodes']:,} nodes, {meta['directed_edges']:,} directed edges, "
              f"GraphML {meta['graphml_mb']} MB; {meta['spaces_written']:,} spaces; "
              f"{meta['gu']} gu, {meta['dong']} dong; {meta['area_km2']} km2")
        os.environ["SHAREMAP_CACHE_DIR"] = str(tmp / "cache")

        print("(a) osmnx load_graphml + project_graph")
        res["osmnx"] = time_osmnx(folder / "walk.graphml")
        print(f"  {res['osmnx']['total_s']:.1f} s")
        for part in ("cold", "warm"):
            print(f"({'b' if part == 'cold' else 'c'}) sharemap run, {part}")
            res[part] = time_run(folder / "study.toml", tmp / f"out_{part}",
                                 split_by=args.split_by)
            print(f"  {res[part]['total_s']:.1f} s (network cache: {res[part]['cache']})")
        assert (res["cold"]["cache"], res["warm"]["cache"]) == ("miss", "hit")
        assert res["cold"]["counts"] == res["warm"]["counts"]
    finally:
        shutil.rmtree(tmp, ignore_errors=True)

    res["ratio_cold_vs_osmnx"] = round(res["cold"]["total_s"] / res["osmnx"]["total_s"], 3)
    res["ratio_cold_vs_warm"] = round(res["cold"]["total_s"] / res["warm"]["total_s"], 3)
    res["target_cold_vs_osmnx_met"] = res["ratio_cold_vs_osmnx"] <= 1.5
    res["target_cold_vs_warm_met"] = res["ratio_cold_vs_warm"] >= 3.0
    res["budget"] = budget(res)
    c = res["cold"]["counts"]
    print(f"\nstudy: {c['spaces']:,} spaces, {c['rejects']:,} rejects, {c['blocks']:,} blocks, "
          f"{c['candidates']:,} candidates, {c['villages']:,} villages")
    print_table(res)
    if side < 560:
        print(f"(a {side} x {side} grid: the targets are for the Seoul-size 560 x 560 one; "
              "this run only shows that the benchmark works)")
    write_json(args.json, res)
    return res


if __name__ == "__main__":
    main()
