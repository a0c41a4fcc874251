"""Shared, hand-checkable fixtures (tiny synthetic networks in EPSG:5186)."""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import networkx as nx
import numpy as np
import pytest

X0, Y0 = 200_000.0, 550_000.0
CRS = "EPSG:5186"
SEOUL_DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "seoul"

try:  # property-based tests (tests/test_properties.py): the same examples on every run,
    # nothing written into the checkout; `--hypothesis-profile=explore` searches afresh
    from hypothesis import HealthCheck, settings

    settings.register_profile("sharemap", max_examples=120, deadline=None, derandomize=True,
                              database=None, suppress_health_check=[HealthCheck.too_slow])
    settings.register_profile("explore", max_examples=3000, deadline=None, database=None,
                              suppress_health_check=[HealthCheck.too_slow])
    settings.load_profile("sharemap")
except ImportError:  # pragma: no cover (hypothesis is in the test extra)
    pass


def osm_graph(nodes: dict[int, tuple[float, float]], edges: list[tuple[int, int]],
              *, highway: str = "residential", crs: str = CRS,
              tags: dict[tuple[int, int], dict[str, str]] | None = None) -> nx.MultiDiGraph:
    """Build an osmnx-style two-way MultiDiGraph from node coordinates and edge pairs."""
    graph = nx.MultiDiGraph(crs=crs)
    for n, (x, y) in nodes.items():
        graph.add_node(n, x=x, y=y)
    for u, v in edges:
        extra = (tags or {}).get((u, v), {})
        attrs = {"highway": highway, "name": "", **extra}
        graph.add_edge(u, v, **attrs)
        graph.add_edge(v, u, **attrs)
    return graph


def grid_nodes(nx_: int = 3, ny_: int = 3, step: float = 100.0) -> dict[int, tuple[float, float]]:
    """Nodes of a grid: id = 10*row + col, at (X0 + col*step, Y0 + row*step)."""
    return {10 * r + c: (X0 + c * step, Y0 + r * step) for r in range(ny_) for c in range(nx_)}


def grid_edges(nx_: int = 3, ny_: int = 3) -> list[tuple[int, int]]:
    """Horizontal and vertical neighbour pairs of :func:`grid_nodes`."""
    edges = []
    for r in range(ny_):
        for c in range(nx_):
            if c + 1 < nx_:
                edges.append((10 * r + c, 10 * r + c + 1))
            if r + 1 < ny_:
                edges.append((10 * r + c, 10 * (r + 1) + c))
    return edges


@pytest.fixture
def grid3():
    r"""A 3x3 street grid with 100 m edges in EPSG:5186, as a WalkNetwork.

    ::

        20 --- 21 --- 22      y0+200
        |      |      |
        10 --- 11 --- 12      y0+100
        |      |      |
        00 --- 01 --- 02      y0
        x0    x0+100  x0+200
    """
    from sharemap.network import network_from_graph

    return network_from_graph(osm_graph(grid_nodes(), grid_edges()), crs=CRS)


def points(xy: list[tuple[float, float]], **cols) -> gpd.GeoDataFrame:
    """A GeoDataFrame of points in EPSG:5186 with extra columns."""
    return gpd.GeoDataFrame(cols, geometry=gpd.points_from_xy(*zip(*xy, strict=True)), crs=CRS)


def layer_toml(category: str, path: str, *, name: bool = True) -> str:
    """A `[[layers]]` table for a CSV with columns id, x, y (and name) in the study CRS."""
    return (f'[[layers]]\ncategory = "{category}"\npath = "{path}"\nx = "x"\ny = "y"\n'
            f'crs = "{CRS}"\nid = "id"\n' + ('name = "name"\n' if name else ""))


def hand_study(folder: Path, layers: str, *, blocks: str = "", tables: str = "",
               coverage: str = "", study: str = ""):
    """The config of a hand-made study in `folder`: user blocks (blocks.geojson), one dong
    level (dong.geojson with name, code and pop), the `layers` text, extra `[study]`,
    `[blocks]` lines, extra tables between `[blocks]` and `[coverage]`, and extra
    `[coverage]` lines. The network is handed to run_study, so its graphml is never read."""
    import tomllib

    from sharemap.config import parse_config

    text = f"""
[study]
name = "Hand"
crs = "{CRS}"
{study}
[network]
graphml = "unused.graphml"
{layers}
[blocks]
path = "blocks.geojson"
{blocks}
{tables}
[coverage]
{coverage}
[[coverage.boundaries]]
level = "dong"
path = "dong.geojson"
name = "name"
id = "code"
population = "pop"
"""
    return parse_config(tomllib.loads(text), base=folder, source=folder / "s.toml")


@pytest.fixture(scope="session")
def seoul_data() -> Path:
    """The real Seoul data folder beside the checkout, or skip."""
    if not SEOUL_DATA.is_dir():
        pytest.skip(f"real Seoul data not found at {SEOUL_DATA} (it sits beside the checkout "
                    "in development and CI; a fresh machine does not have it)")
    return SEOUL_DATA


def dongdaemun_toml(d: Path, *, carshare: str | None = None, extra_coverage: str = "",
                    extra: str = "", levels: tuple[str, ...] = ("gu", "dong"),
                    bike: str | None = None) -> str:
    """The real Dongdaemun-gu study as TOML, over the Seoul data folder `d`.

    Layers: the portal's bike master JSON (or the file `bike`, e.g. a dock table),
    Nanumcar spots (or the file `carshare`) and the reservable venues; boundaries: the
    gu and its dongs with 2021 populations.
    `extra_coverage` is added to [coverage], `extra` at the end (e.g. a [map] table).
    """
    d = Path(d).as_posix()
    cars = carshare or f"{d}/points/nanumcar_spots_2017.csv"
    bikes = bike or f"{d}/raw/ttareungyi_master_seoul_open_data.json"
    bounds = {
        "gu": f'level = "gu"\npath = "{d}/boundaries/seoul_gu_2021.geojson"\n'
              'name = "sggnm"\nid = "sgg"\nfilter = { sggnm = "동대문구" }\n',
        "dong": f'level = "dong"\npath = "{d}/boundaries/seoul_hangjeongdong_2021.geojson"\n'
                'name = "dong_nm"\nid = "adm_cd2"\npopulation = "pop_total"\n'
                'filter = { sggnm = "동대문구" }\n',
    }
    return (
        f'[study]\nname = "Dongdaemun-gu"\ncrs = "EPSG:5186"\n'
        f'area = "{d}/boundaries/seoul_gu_2021.geojson"\narea_filter = {{ sggnm = "동대문구" }}\n'
        f'[network]\ngraphml = "{d}/network/dongdaemun_walk.graphml"\n'
        f'[[layers]]\ncategory = "bike"\n'
        f'path = "{bikes}"\npreset = "ttareungyi"\n'
        f'[[layers]]\ncategory = "carshare"\npath = "{cars}"\npreset = "nanumcar"\n'
        f'[[layers]]\ncategory = "facility"\n'
        f'path = "{d}/points/public_service_reservation_culture_2025-04.csv"\n'
        f'preset = "public_reservation"\n'
        f'[coverage]\n{extra_coverage}\n'
        + "".join(f"[[coverage.boundaries]]\n{bounds[lv]}" for lv in levels)
        + extra
    )


@pytest.fixture(autouse=True, scope="session")
def _sharemap_cache(tmp_path_factory):
    """Keep the prepared-network cache of every test run out of the user's home."""
    import os

    old = os.environ.get("SHAREMAP_CACHE_DIR")
    os.environ["SHAREMAP_CACHE_DIR"] = str(tmp_path_factory.mktemp("sharemap-cache"))
    yield
    if old is None:
        os.environ.pop("SHAREMAP_CACHE_DIR", None)
    else:
        os.environ["SHAREMAP_CACHE_DIR"] = old


@pytest.fixture(scope="module")
def driver():
    """A headless Chromium for the browser tests (skipped where none is installed).

    ``SHAREMAP_REQUIRE_BROWSER=1`` (set by CI, which installs Chromium) makes a
    missing browser a failure instead of a skip.
    """
    import os

    import _browser  # tests/_browser.py

    reason = _browser.skip_reason()
    if reason:
        if os.environ.get("SHAREMAP_REQUIRE_BROWSER"):
            pytest.fail(f"browser required but unavailable: {reason}")
        pytest.skip(reason)
    drv = _browser.launch()
    yield drv
    _browser.quit_browser(drv)


def random_grid(seed: int, n: int = 12) -> tuple[dict[int, tuple[float, float]],
                                                list[tuple[int, int]]]:
    """An irregular n x n street grid (~90 m blocks, jittered nodes, ~15% of streets missing)."""
    rng = np.random.default_rng(seed)
    nodes = {10 * r + c: (X0 + c * 90 + rng.uniform(-20, 20),
                          Y0 + r * 90 + rng.uniform(-20, 20))
             for r in range(n) for c in range(n)}
    edges = []
    for r in range(n):
        for c in range(n):
            if c + 1 < n and rng.random() > 0.15:
                edges.append((10 * r + c, 10 * r + c + 1))
            if r + 1 < n and rng.random() > 0.15:
                edges.append((10 * r + c, 10 * (r + 1) + c))
    return nodes, edges
