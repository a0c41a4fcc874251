"""Time what a person notices at the shell: importing sharemap, and a warm ``sharemap explain``.

Every figure is the wall time of a fresh Python process (best of ``--repeat``, the
median beside it), as a person typing the command would see it:

- ``python -c pass``: the interpreter alone;
- ``python -c "import geopandas"``: the floor every geospatial tool pays;
- ``python -c "import sharemap"``: issue 13's target is at most 0.3 s beyond geopandas;
- ``sharemap explain STUDY BLOCK`` on the real Dongdaemun-gu study, warm (the prepared
  network, blocks and snaps in the cache, numba's compiled kernels in its on-disk
  cache, sharemap's modules byte-compiled as ``pip install`` leaves them): issue 13's
  target is under 1.5 s.

It also lists the heavy packages each command imports (a command that does not draw
a map must not import folium or matplotlib) and where a warm explain's import time
goes (``python -X importtime``). Run::

    python benchmarks/bench_startup.py                       # about a minute
    python benchmarks/bench_startup.py --repeat 15 --json startup.json
    python benchmarks/bench_startup.py --study my.toml --block 42

The default study is the real Dongdaemun-gu study of the test suite (the Seoul
data in ``../shared/data/seoul``); the cache is a temporary folder filled by one
unmeasured run first. On a shared machine the wall times vary with the other jobs:
the CPU seconds (user + system, from ``getrusage``) are printed beside them.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HEAVY = ("numba", "folium", "matplotlib", "osmnx", "networkx", "scipy.spatial", "openpyxl",
         "contourpy", "mapclassify")
TARGET_EXPLAIN_S = 1.5
TARGET_IMPORT_EXTRA_S = 0.3


def _timed(cmd: list[str], env: dict[str, str]) -> tuple[float, float]:
    """Run `cmd`; return its wall seconds and CPU seconds (user + system)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    subprocess.run(cmd, env=env, check=True, stdout=subprocess.DEVNULL)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu


def _best(cmd: list[str], env: dict[str, str], repeat: int) -> dict[str, float]:
    runs = [_timed(cmd, env) for _ in range(repeat)]
    walls = [w for w, _ in runs]
    best = min(range(repeat), key=lambda i: walls[i])
    return {"best_s": round(walls[best], 3), "median_s": round(statistics.median(walls), 3),
            "cpu_s": round(runs[best][1], 3)}


def _loaded(code: str, env: dict[str, str]) -> list[str]:
    """The HEAVY packages a Python snippet leaves imported."""
    probe = (f"{code}\nimport sys\n"
             f"print('loaded:' + ','.join(m for m in {HEAVY!r} if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", probe], env=env, check=True,
                         capture_output=True, text=True).stdout.splitlines()
    return [m for m in out[-1].removeprefix("loaded:").split(",") if m]


def _import_breakdown(argv: list[str], env: dict[str, str]) -> dict[str, float]:
    """Import seconds of a command by top-level package (``-X importtime`` self times)."""
    proc = subprocess.run([sys.executable, "-X", "importtime", "-c",
                           f"from sharemap.cli import main; main({argv!r})"],
                          env=env, check=True, capture_output=True, text=True)
    out: dict[str, float] = {}
    for line in proc.stderr.splitlines():
        m = re.match(r"import time:\s+(\d+) \|\s+\d+ \| \s*(\S+)", line)
        if m:
            root = m.group(2).split(".")[0]
            out[root] = out.get(root, 0.0) + int(m.group(1)) / 1e6
    ranked = sorted(out.items(), key=lambda kv: -kv[1])
    return {k: round(v, 3) for k, v in ranked if v >= 0.01}


def _default_study(folder: Path) -> tuple[Path, str]:
    tests = Path(__file__).resolve().parents[1] / "tests"
    sys.path.insert(0, str(tests))
    from conftest import SEOUL_DATA, dongdaemun_toml  # the suite's real Dongdaemun study

    if not SEOUL_DATA.is_dir():
        sys.exit(f"the real Seoul data is not at {SEOUL_DATA}; give --study and --block")
    path = folder / "dongdaemun.toml"
    path.write_text(dongdaemun_toml(SEOUL_DATA), encoding="utf-8")
    return path, "1"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--study", type=Path, help="a study TOML (default: real Dongdaemun-gu)")
    ap.add_argument("--block", default=None, help="block id to explain (default 1)")
    ap.add_argument("--repeat", type=int, default=7)
    ap.add_argument("--json", type=Path, help="write the figures here")
    args = ap.parse_args()
    sharemap_cmd = str(Path(sys.executable).with_name("sharemap"))
    if not Path(sharemap_cmd).exists():
        sharemap_cmd = ""
    with tempfile.TemporaryDirectory() as tmp:
        env = {**os.environ, "SHAREMAP_CACHE_DIR": str(Path(tmp) / "cache")}
        # as installed: pip byte-compiles the package, so Python loads sharemap's modules
        # from __pycache__ instead of compiling them at every start (an environment with
        # PYTHONDONTWRITEBYTECODE, such as this project's, would compile them each time)
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        study, block = (args.study, args.block or "1") if args.study else _default_study(
            Path(tmp))
        argv = ["explain", str(study), str(block)]
        explain = ([sharemap_cmd, *argv] if sharemap_cmd
                   else [sys.executable, "-m", "sharemap.cli", *argv])
        t0 = time.perf_counter()
        subprocess.run(explain, env=env, check=True, stdout=subprocess.DEVNULL)
        cold = time.perf_counter() - t0
        subprocess.run([sys.executable, "-c", "import sharemap"], env=env, check=True)
        rows = {
            "python -c pass": _best([sys.executable, "-c", "pass"], env, args.repeat),
            "import geopandas": _best([sys.executable, "-c", "import geopandas"], env,
                                      args.repeat),
            "import sharemap": _best([sys.executable, "-c", "import sharemap"], env,
                                     args.repeat),
            "sharemap explain (warm)": _best(explain, env, args.repeat),
        }
        loaded = {"import sharemap": _loaded("import sharemap", env),
                  "sharemap explain (warm)": _loaded(
                      f"from sharemap.cli import main; main({argv!r})", env)}
        breakdown = _import_breakdown(argv, env)
    extra = rows["import sharemap"]["best_s"] - rows["import geopandas"]["best_s"]
    wall = rows["sharemap explain (warm)"]["best_s"]
    print(f"{'command':<26} {'best s':>7} {'median s':>9} {'cpu s':>6}")
    for name, r in rows.items():
        print(f"{name:<26} {r['best_s']:>7.3f} {r['median_s']:>9.3f} {r['cpu_s']:>6.3f}")
    print(f"first explain (cold cache, not counted): {cold:.2f} s")
    ok_import = "met" if extra <= TARGET_IMPORT_EXTRA_S else "NOT met"
    ok_explain = "met" if wall < TARGET_EXPLAIN_S else "NOT met"
    print(f"import sharemap beyond import geopandas: {extra:+.3f} s "
          f"(target <= {TARGET_IMPORT_EXTRA_S}: {ok_import})")
    print(f"warm explain: {wall:.3f} s (target < {TARGET_EXPLAIN_S}: {ok_explain})")
    for name, mods in loaded.items():
        print(f"heavy packages after {name}: {', '.join(mods) or 'none'}")
    print("warm explain, import seconds by package (-X importtime): "
          + ", ".join(f"{k} {v:.2f}" for k, v in breakdown.items()))
    if args.json:
        out: dict[str, Any] = {"rows": rows, "cold_explain_s": round(cold, 3),
                               "import_extra_s": round(extra, 3), "loaded": loaded,
                               "explain_imports_s": breakdown}
        args.json.write_text(json.dumps(out, indent=2), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
