"""What keying the network cache on file content costs (issue 16 #2).

The prepared-network cache used to key on a file's path, size and modification
time, which an edit can leave unchanged. It now keys on the SHA-256 of the file's
bytes. This times that hash against what it guards: parsing the file (a cache
miss) and reading the prepared network from the cache (a hit).

    python benchmarks/bench_cache_key.py                       # the real Dongdaemun GraphML
    python benchmarks/bench_cache_key.py --graphml walk.graphml
    python benchmarks/bench_cache_key.py --scale-mb 259        # + hash of a file that size

Prints the seconds (best of --repeat) and the ratios.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import tempfile
import time
from pathlib import Path

from sharemap import _cache
from sharemap.config import NetworkConfig
from sharemap.network import load_network

DONGDAEMUN = (Path(__file__).resolve().parents[2] / "shared" / "data" / "seoul" / "network"
              / "dongdaemun_walk.graphml")


def best(fn, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--graphml", type=Path, default=DONGDAEMUN)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--scale-mb", type=float, default=0.0,
                    help="also hash a file of this many MB (the GraphML repeated)")
    args = ap.parse_args()
    path = args.graphml
    size_mb = path.stat().st_size / 1e6
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["SHAREMAP_CACHE_DIR"] = tmp
        cfg = NetworkConfig(source="graphml", value=path)
        algos = {name: best(lambda n=name: _hash(path, n), args.repeat)
                 for name in ("sha256", "sha1", "blake2b", "md5")}
        digest = best(lambda: _cache.file_digest(path), args.repeat)
        crs = "EPSG:5186"
        parse = best(lambda: load_network(cfg, crs, cache=False), max(1, args.repeat // 2))
        load_network(cfg, crs)  # fill the cache
        hit = best(lambda: load_network(cfg, crs), args.repeat)
        print(f"{path.name}: {size_mb:.1f} MB")
        for name, sec in algos.items():
            print(f"  hashlib.{name:<8} {sec:6.3f} s  ({size_mb / sec:,.0f} MB/s)")
        print(f"  file_digest (sha256, used)   {digest:6.3f} s")
        print(f"  parse + prepare (cache miss) {parse:6.3f} s  -> the hash is "
              f"{100 * digest / parse:.1f}% of a miss")
        print(f"  cache hit (hash included)    {hit:6.3f} s  -> the hash is "
              f"{100 * digest / hit:.0f}% of a hit")
        if args.scale_mb:
            big = Path(tmp) / "big.graphml"
            data = path.read_bytes()
            with open(big, "wb") as fh:
                for _ in range(max(1, round(args.scale_mb * 1e6 / len(data)))):
                    fh.write(data)
            mb = big.stat().st_size / 1e6
            sec = best(lambda: _cache.file_digest(big), args.repeat)
            print(f"  file_digest of {mb:,.0f} MB      {sec:6.3f} s  ({mb / sec:,.0f} MB/s)")


def _hash(path: Path, name: str) -> str:
    h = hashlib.new(name)
    with open(path, "rb") as fh:
        while chunk := fh.read(1 << 20):
            h.update(chunk)
    return h.hexdigest()


if __name__ == "__main__":
    main()
