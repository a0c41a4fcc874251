"""Start-up: heavy packages are imported where they are used, not by ``import sharemap``.

Times are measured by ``benchmarks/bench_startup.py``; these tests pin what makes them:
which packages a fresh process has imported after ``import sharemap`` and after a warm
``sharemap explain`` (a command that draws no map and downloads nothing).
"""

from __future__ import annotations

import os
import subprocess
import sys

HEAVY = ("numba", "folium", "branca", "matplotlib", "osmnx", "networkx", "scipy.spatial",
         "openpyxl", "contourpy", "mapclassify")


def _loaded(code: str, env: dict[str, str] | None = None) -> set[str]:
    probe = (f"{code}\nimport sys\n"
             f"print('loaded:' + ','.join(m for m in {HEAVY!r} if m in sys.modules))")
    proc = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                          env=env, check=True)
    last = proc.stdout.splitlines()[-1]
    return {m for m in last.removeprefix("loaded:").split(",") if m}


def test_import_sharemap_imports_no_heavy_package():
    assert _loaded("import sharemap") == set()
    # nor scipy (0.13 s): its sparse graphs are imported by the functions that build them
    probe = "import sharemap, sys; print('scipy' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                         check=True).stdout.split()
    assert out[-1] == "False"
    # the flat API is there without them
    assert _loaded("import sharemap; sharemap.run_study; sharemap.isochrones") == set()


def test_warm_explain_imports_no_heavy_package_but_a_kd_tree(tmp_path, monkeypatch):
    """At most the study checks' k-d tree (scipy.spatial); not even the search engine.

    A first run (here, in this process) fills the cache; reading the demo's OSM XML
    needs osmnx. The warm one, in a fresh process, reads its walks from the cache too,
    so it must not import numba (about 0.6 s of a warm explain), osmnx, networkx,
    folium or matplotlib.
    """
    from sharemap import read_config, run_study
    from sharemap.datasets import get_path

    monkeypatch.setenv("SHAREMAP_CACHE_DIR", str(tmp_path / "cache"))
    assert run_study(read_config(get_path("demo"))).summary["cache"]["network"] == "miss"
    code = ("from sharemap.cli import main\nfrom sharemap.datasets import get_path\n"
            "main(['explain', str(get_path('demo')), '1'])")
    assert _loaded(code, dict(os.environ)) <= {"scipy.spatial"}
