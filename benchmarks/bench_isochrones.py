"""The map stage with many isochrone spaces: one isochrone per space against the bounded layer.

Issue 16 #7: with ``[map] isochrone_categories = ["toys"]`` sharemap drew one isochrone
per space, so 4,000 toy libraries took 38 s and 2.5 GB in the map stage and 100,000
took 18.7 GB. Now a category with more than ``MAX_ISOCHRONE_SPACES`` (200) spaces is
drawn merged: one polygon per time, from one bounded search from all its spaces
(``sharemap.isochrones.merged_isochrones``) on a grid of at most ``MERGED_MAX_CELLS``
cells.

For each number of spaces (placed on random streets, seeded) and each method it runs
the map stage in a fresh process (the isochrone layer, ``build_map`` and ``save_map``)
and reports the seconds, the peak resident memory of the stage (Linux ``VmHWM``, reset
after the network is loaded; the process's baseline is shown apart) and the page's size:

- ``per space``: ``isochrones(...)`` for every space (the old map stage);
- ``bounded``: ``isochrone_layer(...)`` (what ``write_outputs`` does now).

The network is the real Dongdaemun-gu walk network when ``../shared/data/seoul`` is
present (7,695 nodes), else a perturbed street grid of the same size. Run::

    python benchmarks/bench_isochrones.py                       # 200, 4,000 and 100,000
    python benchmarks/bench_isochrones.py --spaces 4000 --json iso.json
    python benchmarks/bench_isochrones.py --skip-per-space-above 4000   # the default
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

SEOUL = Path(__file__).resolve().parents[2] / "shared" / "data" / "seoul"
GRAPHML = SEOUL / "network" / "dongdaemun_walk.graphml"
MINUTES = (5.0, 10.0, 15.0)


def load_network() -> Any:
    if GRAPHML.is_file():
        from sharemap.network import network_from_graphml

        return network_from_graphml(GRAPHML, crs="EPSG:5186"), "real Dongdaemun-gu"
    from bench_access import grid_network

    return grid_network(95), "perturbed grid"


def place(net: Any, n: int, seed: int = 7) -> Any:
    import geopandas as gpd
    import numpy as np
    import shapely

    rng = np.random.default_rng(seed)
    edge = rng.integers(0, len(net.edges), n)
    geoms = shapely.line_interpolate_point(net.edges.geometry.to_numpy()[edge],
                                           rng.uniform(0.05, 0.95, n), normalized=True)
    # a few metres off the street, as a library's door is
    geoms = shapely.points(shapely.get_coordinates(geoms) + rng.normal(0, 4, (n, 2)))
    return gpd.GeoDataFrame({"space_id": [f"t{i}" for i in range(n)], "category": "toys",
                             "name": [f"toy library {i}" for i in range(n)]},
                            geometry=geoms, crs=net.crs)


def child(method: str, n: int) -> dict[str, Any]:
    """Run one map stage; return its figures (printed as JSON by the child process)."""
    import geopandas as gpd
    from bench_run import peak_mb, reset_peak

    from sharemap.access import prepare_points, snap_points
    from sharemap.isochrones import isochrone_layer, isochrones
    from sharemap.maps import build_map, save_map

    net, kind = load_network()
    spaces = place(net, n)
    snaps = snap_points(net, spaces, max_snap_m=250.0)
    prepared = prepare_points(net, snaps.iloc[:0], snaps, max_snap_m=250.0)
    empty = gpd.GeoDataFrame({"block_id": [], "adjacent_spaces": []},
                             geometry=gpd.GeoSeries([], crs=net.crs))
    base = peak_mb()
    reset_peak()
    start = time.perf_counter()
    if method == "per space":
        iso = isochrones(prepared, spaces[["space_id", "category", "name", "geometry"]],
                         minutes=MINUTES).reset_index(drop=True)
    else:
        iso = isochrone_layer(prepared, spaces, ["toys"], minutes=MINUTES)
    t_iso = time.perf_counter() - start
    with tempfile.TemporaryDirectory() as tmp:
        page = save_map(build_map(empty, spaces, empty.iloc[:0].assign(village_id=[], rank=[]),
                                  isochrones=iso, tiles=None), Path(tmp) / "map.html")
        size = page.stat().st_size / 1e6
    return {"method": method, "spaces": n, "network": kind, "nodes": net.n_nodes,
            "polygons": len(iso), "seconds_isochrones": round(t_iso, 2),
            "seconds": round(time.perf_counter() - start, 2),
            "peak_mb": round(peak_mb(), 0), "baseline_mb": round(base, 0),
            "page_mb": round(size, 2)}


def run(method: str, n: int) -> dict[str, Any]:
    out = subprocess.run([sys.executable, __file__, "--child", method, "--spaces", str(n)],
                         capture_output=True, text=True, check=False)
    if out.returncode:
        return {"method": method, "spaces": n, "error": out.stderr.strip().splitlines()[-1]}
    return json.loads(out.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> list[dict[str, Any]]:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--spaces", type=int, nargs="*", default=[200, 4000, 100_000])
    p.add_argument("--skip-per-space-above", type=int, default=4000,
                   help="the old method at 100,000 spaces needs ~19 GB; not run by default")
    p.add_argument("--child", help=argparse.SUPPRESS)
    p.add_argument("--json", help="write the results here")
    args = p.parse_args(argv)
    if args.child:
        print(json.dumps(child(args.child, args.spaces[0])))
        return []
    from bench_access import machine

    print(f"machine: {machine()}")
    rows = []
    for n in args.spaces:
        for method in ("per space", "bounded"):
            if method == "per space" and n > args.skip_per_space_above:
                continue
            res = run(method, n)
            rows.append(res)
            print(json.dumps(res), flush=True)
    print(f"\n{'spaces':>8} {'method':<10} {'polygons':>8} {'seconds':>8} {'peak MB':>8} "
          f"{'page MB':>8}")
    for r in rows:
        if "error" in r:
            print(f"{r['spaces']:>8,} {r['method']:<10} error: {r['error']}")
            continue
        print(f"{r['spaces']:>8,} {r['method']:<10} {r['polygons']:>8,} {r['seconds']:>8.1f} "
              f"{r['peak_mb']:>8,.0f} {r['page_mb']:>8.1f}")
    for n in args.spaces:
        pair = {r["method"]: r for r in rows if r["spaces"] == n and "error" not in r}
        if len(pair) == 2:
            old, new = pair["per space"], pair["bounded"]
            print(f"{n:,} spaces: {old['seconds'] / new['seconds']:.1f}x faster, peak "
                  f"{old['peak_mb']:,.0f} -> {new['peak_mb']:,.0f} MB")
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=2), encoding="utf-8")
    return rows


if __name__ == "__main__":
    main()
