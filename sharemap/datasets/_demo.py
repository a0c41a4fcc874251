"""Seeded generator of the synthetic demo district ("데모구") that ships with sharemap.

Nothing here is real Seoul data. The district is drawn in metres in a local
frame, rotated and placed near (203000, 554000) in EPSG:5186 (Korea 2000 /
Central Belt 2010, about lon 127.03, lat 37.59), and written in the formats
users bring: OSM XML for the walk network, GeoJSON boundaries, Seoul's CP949
Ttareungyi CSV, a plain CSV in metres, CSVs in lon/lat and GeoJSON layers.

Run ``python -m sharemap.datasets._demo [OUT_DIR ...]`` to regenerate the
shipped copies (default: ``sharemap/datasets/demo/`` and the repository's
``data/demo/``).
"""

from __future__ import annotations

import csv
import io
import itertools
import json
import logging
import math
import random
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from xml.sax.saxutils import quoteattr

import numpy as np
import shapely
from pyproj import Transformer
from shapely.geometry import LineString, MultiLineString, Point, Polygon
from shapely.geometry.polygon import orient
from shapely.ops import polygonize, unary_union

from .._io import atomic_path

__all__ = ["BIKE_HEADER", "DEMO_FILES", "DENSITY_PER_KM2", "make_demo_district"]

logger = logging.getLogger(__name__)

#: Every file :func:`make_demo_district` writes.
DEMO_FILES = (
    "study.toml", "walk.osm", "gu.geojson", "dong.geojson", "water.geojson",
    "bike_stations.csv", "carshare_spots.geojson", "shared_parking.csv", "tool_libraries.csv",
    "toy_libraries.csv", "public_facilities.geojson", "README.md",
)
#: The header of Seoul's Ttareungyi station file (CP949), as written to ``bike_stations.csv``.
BIKE_HEADER = ("대여소번호", "보관소(대여소)명", "자치구", "상세주소", "위도", "경도", "설치시기",
               "LCD 거치대수", "QR 거치대수", "운영방식")
#: Target densities (spaces per km²) of the demo's categories.
DENSITY_PER_KM2 = {"bike": 5.0, "carshare": 4.0, "parking": 3.0, "facility": 1.0,
                   "tools": 0.7, "toys": 0.2}
#: The demo's study file, in the SPEC's configuration format (paths relative to it).
STUDY_TOML = """\
[study]
name = "데모구 (synthetic demo)"
crs = "EPSG:5186"
walk_speed_kmh = 4.8
area = "gu.geojson"

[network]
osm_xml = "walk.osm"
max_snap_m = 250

[[layers]]
category = "bike"
path = "bike_stations.csv"
preset = "ttareungyi"

[[layers]]
category = "carshare"
path = "carshare_spots.geojson"
id = "spot_id"
name = "name"

[[layers]]
category = "parking"
path = "shared_parking.csv"
x = "x"
y = "y"
crs = "EPSG:5186"
id = "parking_id"
name = "name"

[[layers]]
category = "tools"
path = "tool_libraries.csv"
x = "lon"
y = "lat"
crs = "EPSG:4326"
id = "lib_id"
name = "name"
hours = "opening_hours"

[[layers]]
category = "toys"
path = "toy_libraries.csv"
x = "lon"
y = "lat"
crs = "EPSG:4326"
id = "lib_id"
name = "name"
hours = "opening_hours"

[[layers]]
category = "facility"
path = "public_facilities.geojson"
id = "facility_id"
name = "name"

[blocks]
min_area_m2 = 1000
barriers = ["water.geojson"]

[villages]
adjacent_minutes = 5
min_spaces = 3
distinct_categories = false

[coverage]
thresholds_minutes = [5, 10, 15]
boundaries = [
  { level = "gu", path = "gu.geojson", name = "sggnm", id = "sgg" },
  { level = "dong", path = "dong.geojson", name = "dong_nm", id = "adm_cd2", population = "pop_total" },
]
groups = [ { column = "pop_65plus", label = "65+", walk_speed_kmh = 3.6 } ]

[map]
color_by = "adjacent_spaces"
isochrone_categories = ["toys"]
isochrone_minutes = [5, 10, 15]
"""  # noqa: E501
_ROAD_CLASSES = ("primary", "secondary", "tertiary", "residential", "unclassified")
_DONG_NAMES = ("누리1동", "누리2동", "한빛동", "새솔동", "맑은내동")

_ORIGIN_TM = (203_000.0, 554_000.0)  # EPSG:5186 position of the grid's centre
_ROTATION_DEG = 6.0
_GU_MARGIN_M = 40.0
_STREAM_OFFSET_M = 40.0  # streets along the stream, either side of its centre line
_BANK_OFFSET_M = 16.0  # footways along the banks
_Tags = dict[str, str]
_XY = tuple[float, float]


class _Rng:
    """Draws built only on ``random.Random.random``, whose sequence Python keeps stable."""

    def __init__(self, seed: int) -> None:
        self._r = random.Random(seed)

    def uniform(self, a: float, b: float) -> float:
        return a + (b - a) * self._r.random()

    def index(self, n: int) -> int:
        return min(int(self._r.random() * n), n - 1)

    def chance(self, p: float) -> bool:
        return self._r.random() < p

    def weighted(self, weights: Sequence[float]) -> int:
        r = self._r.random() * sum(weights)
        acc = 0.0
        for k, w in enumerate(weights):
            acc += w
            if r < acc:
                return k
        return len(weights) - 1


@dataclass
class _Edge:
    nodes: list[int]
    tags: _Tags
    line: tuple[str, int] | None = None  # ("row", j) / ("col", i): merged into one OSM way
    pos: int = 0


@dataclass
class _Net:
    xy: dict[int, _XY] = field(default_factory=dict)
    edges: list[_Edge] = field(default_factory=list)
    grid: dict[tuple[str, int, int], _Edge] = field(default_factory=dict)
    next_id: int = 1_000_000

    def node(self, x: float, y: float) -> int:
        self.next_id += 1
        self.xy[self.next_id] = (x, y)
        return self.next_id

    def add(self, nodes: list[int], tags: _Tags, **kw: Any) -> _Edge:
        edge = _Edge(list(nodes), dict(tags), **kw)
        self.edges.append(edge)
        return edge

    def split_middle(self, edge: _Edge) -> int:
        """Insert a node half-way along a two-node edge and return it."""
        (ax, ay), (bx, by) = self.xy[edge.nodes[0]], self.xy[edge.nodes[-1]]
        mid = self.node((ax + bx) / 2, (ay + by) / 2)
        edge.nodes.insert(1, mid)
        return mid

    def line(self, edge: _Edge) -> LineString:
        return LineString([self.xy[n] for n in edge.nodes])


@dataclass
class _Layout:
    xs: list[float]
    ys: list[float]
    j_ss: int  # the street row south of the stream (j_ss + 1 is north of it)
    ca: int  # arterial column (누리대로)
    jr: int  # arterial row (한빛로)
    tw: int  # tertiary columns (새솔로, 맑은내로) and row (푸른들로)
    te: int
    rn: int
    sb: tuple[int, int, int, int]  # apartment superblock: ci0, ci1, rj0, rj1
    phase: tuple[float, ...]

    @property
    def ncols(self) -> int:
        return len(self.xs)

    @property
    def nrows(self) -> int:
        return len(self.ys)

    @property
    def y_stream(self) -> float:
        return self.ys[self.j_ss] + _STREAM_OFFSET_M

    def stream_y(self, x: float) -> float:
        p = self.phase
        return (
            self.y_stream
            + 20.0 * math.sin(2 * math.pi * x / 700.0 + p[0])
            + 7.0 * math.sin(2 * math.pi * x / 300.0 + p[1])
        )

    def stream_half_width(self, x: float) -> float:
        return 6.5 + 1.5 * math.sin(2 * math.pi * x / 420.0 + self.phase[4])

    def in_superblock(self, i: int, j: int) -> bool:
        ci0, ci1, rj0, rj1 = self.sb
        return ci0 < i < ci1 and rj0 < j < rj1

    def cell_in_superblock(self, i: int, j: int) -> bool:
        ci0, ci1, rj0, rj1 = self.sb
        return ci0 <= i < ci1 and rj0 <= j < rj1


# ----------------------------------------------------------------------------- layout


def _spacings(rng: _Rng, start: float, stop: float, lo: float, hi: float) -> list[float]:
    out = [start]
    while out[-1] < stop:
        out.append(out[-1] + rng.uniform(lo, hi))
    return out


def _closest_span(pos: list[float], k0: int, target: float, k_max: int) -> int:
    best = min(range(k0 + 2, k_max + 1), key=lambda k: abs(pos[k] - pos[k0] - target))
    return best


def _layout(rng: _Rng) -> _Layout:
    xs = _spacings(rng, 0.0, 2050.0, 85.0, 170.0)
    south = _spacings(rng, 0.0, 780.0, 80.0, 160.0)
    y_s = south[-1] + 130.0 + _STREAM_OFFSET_M
    north = _spacings(rng, y_s + _STREAM_OFFSET_M + 130.0, 1850.0, 80.0, 160.0)
    ys = [*south, y_s - _STREAM_OFFSET_M, y_s + _STREAM_OFFSET_M, *north]
    j_ss = len(south)
    ncols, nrows = len(xs), len(ys)
    ca = ncols // 2
    ci0 = ca + 2
    ci1 = _closest_span(xs, ci0, 300.0, ncols - 2)
    rj0 = j_ss + 2
    rj1 = _closest_span(ys, rj0, 350.0, nrows - 2)
    tw = round(0.22 * (ncols - 1))
    te = round(0.85 * (ncols - 1))
    te = ci1 if ci0 < te < ci1 else min(te, ncols - 2)
    rn = j_ss + 1 + round(0.55 * (nrows - 2 - j_ss))
    rn = rj1 if rj0 < rn < rj1 else min(rn, nrows - 2)
    phase = tuple(rng.uniform(0.0, 2 * math.pi) for _ in range(5))
    return _Layout(xs, ys, j_ss, ca, round(j_ss / 2), tw, te, rn, (ci0, ci1, rj0, rj1), phase)


def _line_tags(lay: _Layout, rng: _Rng) -> dict[tuple[str, int], _Tags]:
    tags: dict[tuple[str, int], _Tags] = {}
    for j in range(lay.nrows):
        if j == lay.jr:
            t = {"highway": "secondary", "name": "한빛로", "lanes": "4"}
        elif j in (lay.j_ss, lay.j_ss + 1):
            t = {"highway": "tertiary", "name": "누리천남로" if j == lay.j_ss else "누리천북로"}
        elif j == lay.rn:
            t = {"highway": "tertiary", "name": "푸른들로"}
        elif rng.chance(0.15):
            t = {"highway": "unclassified"}
        else:
            t = {"highway": "residential",
                 "name": f"한빛로{2 * j + 1}길" if j < lay.j_ss else f"푸른들로{2 * j}길"}
        tags["row", j] = t
    for i in range(lay.ncols):
        if i == lay.ca:
            t = {"highway": "primary", "name": "누리대로", "lanes": "6"}
        elif i in (lay.tw, lay.te):
            t = {"highway": "tertiary", "name": "새솔로" if i == lay.tw else "맑은내로"}
        elif rng.chance(0.15):
            t = {"highway": "unclassified"}
        else:
            k = 2 * abs(i - lay.ca) + (1 if i < lay.ca else 0)
            t = {"highway": "residential", "name": f"누리대로{k}길"}
        tags["col", i] = t
    return tags


# ----------------------------------------------------------------------------- network


def _grid_nodes(lay: _Layout, net: _Net, rng: _Rng) -> None:
    p = lay.phase
    for j, y0 in enumerate(lay.ys):
        for i, x0 in enumerate(lay.xs):
            if lay.in_superblock(i, j):
                continue
            x = x0 + 12.0 * math.sin(2 * math.pi * y0 / 950.0 + p[2]) + rng.uniform(-10, 10)
            if j in (lay.j_ss, lay.j_ss + 1):
                side = -1.0 if j == lay.j_ss else 1.0
                y = lay.stream_y(x) + side * _STREAM_OFFSET_M + rng.uniform(-3, 3)
            else:
                y = y0 + 10.0 * math.sin(2 * math.pi * x0 / 1150.0 + p[3]) + rng.uniform(-10, 10)
            net.xy[_gid(i, j)] = (x, y)


def _gid(i: int, j: int) -> int:
    return 1000 * j + i + 1


def _grid_edges(lay: _Layout, net: _Net, tags: dict[tuple[str, int], _Tags]) -> None:
    ci0, ci1, rj0, rj1 = lay.sb
    bridges = {lay.tw: "새솔교", lay.ca: "누리교", lay.te: "맑은내교"}
    for j in range(lay.nrows):
        for i in range(lay.ncols - 1):
            if rj0 < j < rj1 and ci0 <= i < ci1:
                continue
            a, b = _gid(i, j), _gid(i + 1, j)
            nodes = [a]
            if j in (lay.j_ss, lay.j_ss + 1):  # follow the stream's meander
                side = -1.0 if j == lay.j_ss else 1.0
                xa, xb = net.xy[a][0], net.xy[b][0]
                for k in range(1, max(2, round((xb - xa) / 30.0))):
                    x = xa + (xb - xa) * k / max(2, round((xb - xa) / 30.0))
                    nodes.append(net.node(x, lay.stream_y(x) + side * _STREAM_OFFSET_M))
            nodes.append(b)
            net.grid["h", i, j] = net.add(nodes, tags["row", j], line=("row", j), pos=i)
    for i in range(lay.ncols):
        for j in range(lay.nrows - 1):
            if ci0 < i < ci1 and rj0 <= j < rj1:
                continue
            t = tags["col", i]
            if j == lay.j_ss:
                if i not in bridges:
                    continue
                t = {**t, "bridge": "yes", "layer": "1", "bridge:name": bridges[i]}
            edge = net.add([_gid(i, j), _gid(i, j + 1)], t, line=("col", i), pos=j)
            net.grid["v", i, j] = edge


def _adjacent_cells(key: tuple[str, int, int]) -> tuple[tuple[int, int], tuple[int, int]]:
    kind, i, j = key
    return ((i, j - 1), (i, j)) if kind == "h" else ((i - 1, j), (i, j))


def _cell_ok(lay: _Layout, cell: tuple[int, int]) -> bool:
    i, j = cell
    return (0 <= i < lay.ncols - 1 and 0 <= j < lay.nrows - 1
            and not lay.cell_in_superblock(i, j) and j != lay.j_ss)


def _drop_segments(lay: _Layout, net: _Net, rng: _Rng, merged: set[tuple[int, int]]) -> int:
    """Remove some local street segments so that pairs of blocks merge."""
    degree: dict[int, int] = {}
    for e in net.grid.values():
        for n in (e.nodes[0], e.nodes[-1]):
            degree[n] = degree.get(n, 0) + 1
    special_rows = {0, lay.nrows - 1, lay.jr, lay.rn, lay.j_ss, lay.j_ss + 1}
    special_cols = {0, lay.ncols - 1, lay.ca, lay.tw, lay.te}
    ci0, ci1, rj0, rj1 = lay.sb
    dropped = 0
    for key in sorted(net.grid):
        kind, i, j = key
        if (kind == "h" and j in special_rows) or (kind == "v" and i in special_cols):
            continue
        if (kind == "h" and j in (rj0, rj1) and ci0 <= i < ci1) or (
                kind == "v" and i in (ci0, ci1) and rj0 <= j < rj1):
            continue
        cells = _adjacent_cells(key)
        if not all(_cell_ok(lay, c) and c not in merged for c in cells):
            continue
        edge = net.grid[key]
        ends = (edge.nodes[0], edge.nodes[-1])
        if min(degree[n] for n in ends) < 4 or not rng.chance(0.09):
            continue
        for n in ends:
            degree[n] -= 1
        merged.update(cells)
        net.edges.remove(edge)
        del net.grid[key]
        dropped += 1
    return dropped


def _block_features(lay: _Layout, net: _Net, rng: _Rng, merged: set[tuple[int, int]]) -> None:
    """Mid-block footways across eight blocks and four cul-de-sacs into others."""
    cells = [(i, j) for j in range(lay.nrows - 1) for i in range(lay.ncols - 1)
             if _cell_ok(lay, (i, j)) and (i, j) not in merged
             and j not in (lay.j_ss - 1, lay.j_ss + 1)]
    used: set[int] = set()
    footways = spurs = 0
    while (footways < 8 or spurs < 4) and cells:
        i, j = cells.pop(rng.index(len(cells)))
        keys = (("h", i, j), ("h", i, j + 1), ("v", i, j), ("v", i + 1, j))
        if any(k not in net.grid or len(net.grid[k].nodes) != 2 or id(net.grid[k]) in used
               for k in keys):
            continue
        sides = [net.grid[k] for k in keys]
        s, n, w, e = sides
        width = abs(net.xy[s.nodes[1]][0] - net.xy[s.nodes[0]][0])
        height = abs(net.xy[w.nodes[1]][1] - net.xy[w.nodes[0]][1])
        a_edge, b_edge = (s, n) if width >= height else (w, e)
        used.update(id(x) for x in sides)
        if footways < 8:
            a, b = net.split_middle(a_edge), net.split_middle(b_edge)
            (ax, ay), (bx, by) = net.xy[a], net.xy[b]
            kink = net.node((ax + bx) / 2 + rng.uniform(-8, 8), (ay + by) / 2 + rng.uniform(-8, 8))
            net.add([a, kink, b], {"highway": "footway"})
            footways += 1
        else:
            start = net.split_middle(a_edge if rng.chance(0.5) else b_edge)
            other = b_edge if start in a_edge.nodes else a_edge
            ox, oy = net.line(other).interpolate(0.5, normalized=True).coords[0]
            sx, sy = net.xy[start]
            f = rng.uniform(0.4, 0.55)
            end = net.node(sx + f * (ox - sx), sy + f * (oy - sy))
            net.add([start, end], {"highway": "residential", "noexit": "yes"})
            spurs += 1


def _bank_footways(lay: _Layout, net: _Net) -> None:
    """Footways along both banks, linked to the streets beside the stream."""
    link_cols = sorted({0, lay.ncols - 1} | {i for i in range(2, lay.ncols - 1, 4)
                                             if i not in (lay.tw, lay.ca, lay.te)})
    for j, side in ((lay.j_ss, -1.0), (lay.j_ss + 1, 1.0)):
        x0, x1 = net.xy[_gid(0, j)][0], net.xy[_gid(lay.ncols - 1, j)][0]
        link_x = {i: net.xy[_gid(i, j)][0] for i in link_cols}
        xs = sorted(set(link_x.values()) | {
            x0 + 25.0 * k for k in range(1, int((x1 - x0) / 25.0))
            if min(abs(x0 + 25.0 * k - lx) for lx in link_x.values()) > 10.0})
        bank = {x: net.node(x, lay.stream_y(x) + side * _BANK_OFFSET_M) for x in xs}
        net.add([bank[x] for x in xs], {"highway": "footway", "name": "누리천 산책로"})
        for i in link_cols:
            net.add([_gid(i, j), bank[link_x[i]]], {"highway": "footway"})


def _bilinear(corners: Sequence[_XY], s: float, t: float) -> _XY:
    (ax, ay), (bx, by), (cx, cy), (dx, dy) = corners
    return ((1 - s) * (1 - t) * ax + s * (1 - t) * bx + s * t * cx + (1 - s) * t * dx,
            (1 - s) * (1 - t) * ay + s * (1 - t) * by + s * t * cy + (1 - s) * t * dy)


def _apartment(lay: _Layout, net: _Net) -> _XY:
    """누리아파트: a service-road loop with footways inside the superblock; return its centre."""
    ci0, ci1, rj0, rj1 = lay.sb
    corners = [net.xy[_gid(ci0, rj0)], net.xy[_gid(ci1, rj0)], net.xy[_gid(ci1, rj1)],
               net.xy[_gid(ci0, rj1)]]
    lo, hi = 0.22, 0.78

    def frac(value: float, a: float, b: float) -> float:
        return round(min(max((value - a) / (b - a), lo + 0.08), hi - 0.08), 6)

    # perimeter nodes of the removed interior grid lines, and where they meet the loop
    attach: list[tuple[int, str, float, bool]] = []
    for i in range(ci0 + 1, ci1):
        s = frac(lay.xs[i], lay.xs[ci0], lay.xs[ci1])
        attach += [(_gid(i, rj0), "s", s, i == ci0 + 1), (_gid(i, rj1), "n", s, False)]
    for j in range(rj0 + 1, rj1):
        t = frac(lay.ys[j], lay.ys[rj0], lay.ys[rj1])
        attach += [(_gid(ci0, j), "w", t, j == rj0 + 1), (_gid(ci1, j), "e", t, False)]
    params = {side: sorted({0.5} | {f for _, sd, f, _ in attach if sd == side})
              for side in "senw"}
    at: dict[tuple[str, float], int] = {}
    ring = [net.node(*_bilinear(corners, lo, lo))]
    for side, corner in (("s", (hi, lo)), ("e", (hi, hi)), ("n", (lo, hi)), ("w", None)):
        for f in params[side] if side in "se" else params[side][::-1]:
            st = {"s": (f, lo), "n": (f, hi), "w": (lo, f), "e": (hi, f)}[side]
            at[side, f] = net.node(*_bilinear(corners, *st))
            ring.append(at[side, f])
        ring.append(net.node(*_bilinear(corners, *corner)) if corner else ring[0])
    service = {"highway": "service", "name": "누리아파트 단지내도로"}
    net.add(ring, service)
    for node, side, f, is_service in attach:
        net.add([node, at[side, f]], service if is_service else {"highway": "footway"})
    centre = net.node(*_bilinear(corners, 0.5, 0.5))
    net.add([at["s", 0.5], centre, at["n", 0.5]], {"highway": "footway"})
    net.add([at["w", 0.5], centre, at["e", 0.5]], {"highway": "footway"})
    return net.xy[centre]


def _build_network(lay: _Layout, rng: _Rng) -> tuple[_Net, _XY]:
    net = _Net()
    tags = _line_tags(lay, rng)
    _grid_nodes(lay, net, rng)
    _grid_edges(lay, net, tags)
    merged: set[tuple[int, int]] = set()
    dropped = _drop_segments(lay, net, rng, merged)
    _block_features(lay, net, rng, merged)
    _bank_footways(lay, net)
    centre = _apartment(lay, net)
    logger.debug("Demo network: %d street segments dropped", dropped)
    return net, centre


# ----------------------------------------------------------------------------- areas


def _outer_ring(lay: _Layout, net: _Net) -> Polygon:
    n, m = lay.ncols, lay.nrows
    ids = ([_gid(i, 0) for i in range(n)] + [_gid(n - 1, j) for j in range(1, m)]
           + [_gid(i, m - 1) for i in range(n - 2, -1, -1)]
           + [_gid(0, j) for j in range(m - 2, 0, -1)])
    return Polygon([net.xy[k] for k in ids])


def _offset_outwards(poly: Polygon, d: float) -> Polygon:
    """Mitred outward offset of a ring whose edges are long compared with `d` (no GEOS buffer)."""
    pts = list(orient(poly, 1.0).exterior.coords)[:-1]
    out = []
    for k, p1 in enumerate(pts):
        p0, p2 = pts[k - 1], pts[(k + 1) % len(pts)]
        u, v = (p1[0] - p0[0], p1[1] - p0[1]), (p2[0] - p1[0], p2[1] - p1[1])
        lu, lv = math.hypot(*u), math.hypot(*v)
        a = (p0[0] + d * u[1] / lu, p0[1] - d * u[0] / lu)  # right of a CCW edge is outside
        b = (p1[0] + d * v[1] / lv, p1[1] - d * v[0] / lv)
        cross = u[0] * v[1] - u[1] * v[0]
        if abs(cross) < 1e-9 * lu * lv:
            out.append(b)
            continue
        s = ((b[0] - a[0]) * v[1] - (b[1] - a[1]) * v[0]) / cross
        out.append((a[0] + s * u[0], a[1] + s * u[1]))
    result = Polygon(out)
    if not result.is_valid:  # pragma: no cover - layout invariant
        msg = "the demo district outline is not a valid polygon"
        raise RuntimeError(msg)
    return result


def _stream_line(lay: _Layout, bounds: tuple[float, float, float, float]) -> LineString:
    x0, x1 = bounds[0] - 60.0, bounds[2] + 60.0
    n = math.ceil((x1 - x0) / 20.0)
    return LineString([(x0 + (x1 - x0) * k / n, lay.stream_y(x0 + (x1 - x0) * k / n))
                       for k in range(n + 1)])


def _water(lay: _Layout, line: LineString, gu: Polygon) -> Polygon:
    coords = list(line.coords)
    left, right = [], []
    for k, (x, y) in enumerate(coords):
        (ax, ay), (bx, by) = coords[max(k - 1, 0)], coords[min(k + 1, len(coords) - 1)]
        length = math.hypot(bx - ax, by - ay)
        nx_, ny_ = -(by - ay) / length, (bx - ax) / length
        hw = lay.stream_half_width(x)
        left.append((x + hw * nx_, y + hw * ny_))
        right.append((x - hw * nx_, y - hw * ny_))
    return orient(Polygon(left + right[::-1]).intersection(gu), 1.0)


def _extend(points: list[_XY], metres: float) -> list[_XY]:
    def away(p: _XY, q: _XY) -> _XY:
        d = math.hypot(p[0] - q[0], p[1] - q[1])
        return (p[0] + (p[0] - q[0]) * metres / d, p[1] + (p[1] - q[1]) * metres / d)

    return [away(points[0], points[1]), *points, away(points[-1], points[-2])]


def _dongs(lay: _Layout, net: _Net, gu: Polygon, stream: LineString, rng: _Rng
           ) -> list[tuple[dict[str, Any], Polygon]]:
    """Split the gu by the stream, 누리대로 and the east half of 한빛로 into five dongs."""
    art = _extend([net.xy[_gid(lay.ca, j)] for j in range(lay.nrows)], 300.0)
    sec = _extend([net.xy[_gid(i, lay.jr)] for i in range(lay.ca, lay.ncols)], 300.0)[1:]
    pieces = [p for p in polygonize(unary_union([gu.exterior, stream, LineString(art),
                                                 LineString(sec)]))
              if gu.contains(p.representative_point())]
    if len(pieces) != 5:  # pragma: no cover - a layout invariant
        msg = f"demo layout split the gu into {len(pieces)} dongs instead of 5"
        raise RuntimeError(msg)
    x_art = net.xy[_gid(lay.ca, lay.jr)][0]
    out = []
    for poly in pieces:
        c = poly.representative_point()
        north = c.y > lay.stream_y(c.x)
        east = c.x > x_art
        if north:
            k = 1 if east else 0
        elif not east:
            k = 2
        else:
            k = 3 if c.y > net.xy[_gid(lay.ncols - 1, lay.jr)][1] else 4
        name = _DONG_NAMES[k]
        area_km2 = poly.area / 1e6
        density = rng.uniform(24_000, 29_000) if k == 1 else rng.uniform(13_000, 23_000)
        pop = round(area_km2 * density)
        props = {
            "adm_cd2": f"11999{51 + k}000", "adm_nm": f"서울특별시 데모구 {name}",
            "dong_nm": name, "sggnm": "데모구", "sgg": "11999", "pop_total": pop,
            "pop_65plus": round(pop * rng.uniform(0.15, 0.20)),
            "households": round(pop / rng.uniform(2.05, 2.45)),
        }
        out.append((props, orient(poly, 1.0)))
    out.sort(key=lambda item: item[0]["adm_cd2"])
    return out


# ----------------------------------------------------------------------------- spaces


@dataclass
class _Ctx:
    """What space placement needs: streets, the allowed region, names and dongs."""

    segments: list[tuple[_XY, _XY, str]]  # road-class segments with their street name
    streets: MultiLineString  # every walkable line, for the 5 m clearance
    allowed: Polygon
    dongs: list[tuple[dict[str, Any], Polygon]]
    rng: _Rng
    pools: dict[tuple[float, float, float], list[int]] = field(default_factory=dict)
    cache: dict[str, Any] = field(default_factory=dict)

    def pool(self, centre: _XY, radius: float) -> list[int]:
        key = (centre[0], centre[1], radius)
        if key not in self.pools:
            self.pools[key] = [k for k, (p, q, _) in enumerate(self.segments)
                               if math.dist(((p[0] + q[0]) / 2, (p[1] + q[1]) / 2), centre)
                               <= radius]
        return self.pools[key]

    def street_name(self, x: float, y: float) -> str:
        if "named" not in self.cache:
            named = [(p, q, name) for p, q, name in self.segments if name]
            self.cache["named"] = (shapely.linestrings([(p, q) for p, q, _ in named]),
                                   [name for _, _, name in named])
        lines, names = self.cache["named"]
        return str(names[int(np.argmin(shapely.distance(lines, Point(x, y))))])

    def dong(self, x: float, y: float) -> str:
        pt = Point(x, y)
        return next(p["dong_nm"] for p, poly in self.dongs if poly.covers(pt))


def _make_ctx(net: _Net, allowed: Polygon, dongs: list[tuple[dict[str, Any], Polygon]],
              rng: _Rng) -> _Ctx:
    segs: list[tuple[_XY, _XY, str]] = []
    for e in net.edges:
        hw = e.tags["highway"]
        if hw in _ROAD_CLASSES or (hw == "service" and e.tags.get("name")):
            name = e.tags.get("name", "") if hw in _ROAD_CLASSES else ""  # addresses: public
            segs.extend((net.xy[a], net.xy[b], name) for a, b in itertools.pairwise(e.nodes))
    streets = MultiLineString([net.line(e) for e in net.edges])
    return _Ctx(segs, streets, allowed, dongs, rng)


def _place(ctx: _Ctx, n: int, *, centres: Sequence[_XY], share: float, radius: float = 250.0,
           min_sep: float = 25.0, footprint: bool = False, within: Polygon | None = None
           ) -> list[dict[str, Any]]:
    """Place `n` spaces 5-30 m off a street; a `share` of them near one of `centres`."""
    rng = ctx.rng
    out: list[dict[str, Any]] = []
    lengths = [math.dist(p, q) for p, q, _ in ctx.segments]
    for _attempt in range(20_000):
        if len(out) == n:
            return out
        pool = ctx.pool(centres[rng.index(len(centres))], radius) if (
            centres and rng.chance(share)) else range(len(ctx.segments))
        k = list(pool)[rng.weighted([lengths[i] for i in pool])]
        (px, py), (qx, qy), _ = ctx.segments[k]
        t, side = rng.uniform(0.2, 0.8), (1.0 if rng.chance(0.5) else -1.0)
        ux, uy = (qx - px) / lengths[k], (qy - py) / lengths[k]
        width, depth = rng.uniform(15, 40), rng.uniform(15, 30)
        off = rng.uniform(5, 10) + depth / 2 if footprint else rng.uniform(5, 30)
        x, y = px + t * (qx - px) - side * off * uy, py + t * (qy - py) + side * off * ux
        shape: Polygon | Point = Point(x, y)
        if footprint:
            a, b = (width / 2 * ux, width / 2 * uy), (depth / 2 * -uy, depth / 2 * ux)
            shape = Polygon([(x + sa * a[0] + sb * b[0], y + sa * a[1] + sb * b[1])
                             for sa, sb in ((-1, -1), (1, -1), (1, 1), (-1, 1))])
        if within is not None and not within.contains(shape):
            continue
        if (not ctx.allowed.contains(shape) or ctx.streets.distance(shape) < 5.0
                or any(math.dist((x, y), (o["x"], o["y"])) < min_sep for o in out)):
            continue
        out.append({"x": x, "y": y, "shape": orient(shape, 1.0) if footprint else None,
                    "street": ctx.street_name(x, y), "dong": ctx.dong(x, y),
                    "no": 1 + 2 * rng.index(120) + (0 if side > 0 else 1)})
    msg = f"could not place {n} demo spaces"  # pragma: no cover
    raise RuntimeError(msg)  # pragma: no cover


def _names(spaces: Sequence[dict[str, Any]], clusters: Sequence[tuple[_XY, str]], rng: _Rng,
           cluster_fmt: dict[str, str], generic: Sequence[str]) -> list[str]:
    """Display names from the nearby landmark or street; repeats get a number."""
    counts: dict[str, int] = {}
    out = []
    for sp in spaces:
        base = next((cluster_fmt[name] for c, name in clusters
                     if math.dist(c, (sp["x"], sp["y"])) <= 200.0), None)
        if base is None:
            base = f"{sp['street']} {generic[rng.index(len(generic))]}"
        k = counts[base] = counts.get(base, 0) + 1
        out.append(base.format(k=k) if "{k}" in base else (base if k == 1 else f"{base} {k}"))
    return out


def _address(sp: dict[str, Any]) -> str:
    return f"서울특별시 데모구 {sp['street']} {sp['no']}"


def _make_spaces(ctx: _Ctx, centres: Sequence[_XY], area_km2: float
                 ) -> dict[str, list[dict[str, Any]]]:
    n = {c: max(1, round(d * area_km2)) for c, d in DENSITY_PER_KM2.items()}
    spaces = {
        "bike": _place(ctx, n["bike"], centres=centres, share=0.6),
        "carshare": _place(ctx, n["carshare"], centres=centres, share=0.6),
        "parking": _place(ctx, n["parking"], centres=centres, share=0.6),
        "facility": _place(ctx, n["facility"], centres=centres, share=0.3, min_sep=150.0,
                           footprint=True),
        "toys": _place(ctx, n["toys"], centres=centres[1:2], share=1.0, radius=300.0),
        "tools": [],
    }
    order = list(range(len(ctx.dongs)))
    for k in range(len(order) - 1, 0, -1):  # Fisher-Yates on our own draws
        m = ctx.rng.index(k + 1)
        order[k], order[m] = order[m], order[k]
    for k in order[: max(2, n["tools"])]:
        poly = ctx.dongs[k][1]
        c = poly.representative_point()
        spaces["tools"] += _place(ctx, 1, centres=[(c.x, c.y)], share=1.0, radius=350.0,
                                  within=poly)
    return spaces


# ----------------------------------------------------------------------------- writers


def _fmt_ring(coords: Sequence[_XY]) -> str:
    return "[" + ", ".join(f"[{lon:.7f}, {lat:.7f}]" for lon, lat in coords) + "]"


def _geojson(name: str, features: Sequence[tuple[dict[str, Any], str]]) -> str:
    """Return a FeatureCollection, one feature per line, coordinates with 7 decimals."""
    lines = [f'{{"type": "FeatureCollection", "name": {json.dumps(name)}, "features": [']
    for k, (props, geometry) in enumerate(features):
        sep = "," if k < len(features) - 1 else ""
        lines.append(f'{{"type": "Feature", "properties": {json.dumps(props, ensure_ascii=False)}'
                     f', "geometry": {geometry}}}{sep}')
    lines.append("]}")
    return "\n".join(lines) + "\n"


def _csv(header: Sequence[str], rows: Sequence[Sequence[Any]], newline: str = "\n") -> str:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator=newline)
    writer.writerow(header)
    writer.writerows(rows)
    return buf.getvalue()


def _osm_xml(net: _Net, stream: LineString, to_ll: Callable[[float, float], _XY],
             seed: int) -> str:
    ways: list[tuple[list[int], _Tags]] = []
    lines: dict[tuple[str, int], list[_Edge]] = {}
    for e in net.edges:
        if e.line is None:
            ways.append((e.nodes, e.tags))
        else:
            lines.setdefault(e.line, []).append(e)
    merged: list[tuple[list[int], _Tags]] = []
    for key in sorted(lines):
        for e in sorted(lines[key], key=lambda e: e.pos):
            last = merged[-1] if merged else None
            if last is not None and last[0][-1] == e.nodes[0] and last[1] == e.tags:
                last[0].extend(e.nodes[1:])
            else:
                merged.append((list(e.nodes), e.tags))
    ways = merged + ways
    ids: dict[int, int] = {}
    for nodes, _ in ways:
        for n in nodes:
            ids.setdefault(n, len(ids) + 1)
    coords = {ids[n]: to_ll(*net.xy[n]) for n in ids}
    water_ids = []
    for x, y in stream.coords:
        water_ids.append(len(coords) + 1)
        coords[water_ids[-1]] = to_ll(x, y)
    lons = [c[0] for c in coords.values()]
    lats = [c[1] for c in coords.values()]
    out = ['<?xml version="1.0" encoding="UTF-8"?>',
           f'<osm version="0.6" generator="sharemap make_demo_district(seed={seed}), synthetic">',
           f'  <bounds minlat="{min(lats):.7f}" minlon="{min(lons):.7f}" '
           f'maxlat="{max(lats):.7f}" maxlon="{max(lons):.7f}"/>']
    out.extend(f'  <node id="{k}" lat="{lat:.7f}" lon="{lon:.7f}"/>'
               for k, (lon, lat) in coords.items())
    water: _Tags = {"waterway": "stream", "name": "누리천"}
    for wid, (nodes, tags) in enumerate([*[([ids[n] for n in ns], t) for ns, t in ways],
                                         (water_ids, water)], start=1):
        out.append(f'  <way id="{wid}">')
        out.extend(f'    <nd ref="{n}"/>' for n in nodes)
        out.extend(f"    <tag k={quoteattr(k)} v={quoteattr(v)}/>" for k, v in sorted(tags.items()))
        out.append("  </way>")
    out.append("</osm>")
    return "\n".join(out) + "\n"


# ----------------------------------------------------------------------------- main


def _transformers() -> tuple[Callable[[float, float], _XY], Callable[[float, float], _XY]]:
    to_wgs = Transformer.from_crs("EPSG:5186", "EPSG:4326", always_xy=True)
    cos_t, sin_t = math.cos(math.radians(_ROTATION_DEG)), math.sin(math.radians(_ROTATION_DEG))
    cx, cy = 1080.0, 960.0  # the local frame's centre

    def to_tm(x: float, y: float) -> _XY:
        u, v = x - cx, y - cy
        return _ORIGIN_TM[0] + u * cos_t - v * sin_t, _ORIGIN_TM[1] + u * sin_t + v * cos_t

    def to_ll(x: float, y: float) -> _XY:
        lon, lat = to_wgs.transform(*to_tm(x, y))
        return float(lon), float(lat)

    return to_tm, to_ll


def _polygon_json(poly: Polygon, to_ll: Callable[[float, float], _XY]) -> str:
    """Return a GeoJSON Polygon: exterior counter-clockwise, starting at its lowest-left vertex.

    The fixed start keeps the output independent of the GEOS version that built the polygon.
    """
    if poly.geom_type != "Polygon" or poly.interiors:  # pragma: no cover - layout invariant
        msg = f"demo geometry is a {poly.geom_type} with holes or parts, expected a Polygon"
        raise RuntimeError(msg)
    ring = list(orient(poly, 1.0).exterior.coords)[:-1]
    k = ring.index(min(ring))
    ring = ring[k:] + ring[:k] + [ring[k]]
    return f'{{"type": "Polygon", "coordinates": [{_fmt_ring([to_ll(x, y) for x, y in ring])}]}}'


def _point_json(x: float, y: float, to_ll: Callable[[float, float], _XY]) -> str:
    lon, lat = to_ll(x, y)
    return f'{{"type": "Point", "coordinates": [{lon:.7f}, {lat:.7f}]}}'


_LL = Callable[[float, float], _XY]


def _bike_csv(spaces: list[dict[str, Any]], names: list[str], rng: _Rng, to_ll: _LL
              ) -> tuple[bytes, int]:
    """Seoul's station layout in CP949, with five bad rows at seeded positions."""
    rows: list[list[Any]] = []
    sid = 3501

    def row(name: str, sp: dict[str, Any], lat: str, lon: str) -> list[Any]:
        nonlocal sid
        lcd, docks = rng.chance(0.4), 8 + rng.index(13)
        date = f"{2015 + rng.index(9)}-{1 + rng.index(12):02d}-{1 + rng.index(28):02d}"
        out = [str(sid), f"{sid}. {name}", "데모구", _address(sp), lat, lon, date,
               docks if lcd else 0, 0 if lcd else docks, "LCD" if lcd else "QR"]
        sid += 1 + rng.index(3)
        return out

    for sp, name in zip(spaces, names, strict=True):
        lon, lat = to_ll(sp["x"], sp["y"])
        rows.append(row(name, sp, f"{lat:.7f}", f"{lon:.7f}"))
    twin = spaces[rng.index(len(spaces))]
    far = spaces[rng.index(len(spaces))]
    bad = []
    for kind, sp in (("zero", spaces[0]), ("zero", spaces[1]), ("empty", spaces[2]),
                     ("twin", twin), ("far", far)):
        if kind == "zero":
            bad.append(row(f"{sp['street']} 임시 대여소", sp, "0", "0"))
        elif kind == "empty":
            bad.append(row(f"{sp['street']} 신규 대여소", sp, "", ""))
        else:  # a second number at the same place (0.9 m away), or a position 20 km off
            lon, lat = to_ll(sp["x"] + 0.7, sp["y"] + 0.5) if kind == "twin" else to_ll(
                sp["x"], sp["y"] + 20_000.0)
            bad.append(row(f"{sp['street']} 제2대여소", sp, f"{lat:.7f}", f"{lon:.7f}"))
    for r in bad:
        rows.insert(rng.index(len(rows) + 1), r)
    return _csv(BIKE_HEADER, rows, "\r\n").encode("cp949"), len(bad)


def _carshare(spaces: list[dict[str, Any]], names: list[str], rng: _Rng, to_ll: _LL) -> bytes:
    ops = ("쏘카", "그린카", "쏘카;그린카")
    feats = [({"spot_id": f"NC01{k + 1:02d}", "name": name, "address": _address(sp),
               "operators": ops[rng.index(3)]}, _point_json(sp["x"], sp["y"], to_ll))
             for k, (sp, name) in enumerate(zip(spaces, names, strict=True))]
    return _geojson("carshare_spots", feats).encode("utf-8")


def _parking(spaces: list[dict[str, Any]], rng: _Rng, to_tm: _LL) -> bytes:
    buildings = ("누리교회", "한빛빌딩", "새솔초등학교", "데모구민체육센터", "누리프라자",
                 "맑은내빌딩", "푸른들어린이집", "누리천상가", "한빛병원", "새솔타워")
    rows: list[list[Any]] = []
    half = (len(spaces) + 1) // 2
    for k, sp in enumerate(spaces):
        x, y = to_tm(sp["x"], sp["y"])
        name = (f"거주자우선주차 공유 {sp['dong']} {k + 1}구역" if k < half
                else f"부설주차장 개방 {buildings[(k - half) % len(buildings)]}")
        rows.append([f"SP{k + 1:03d}", name, _address(sp), f"{x:.2f}", f"{y:.2f}"])
    zero = spaces[rng.index(len(spaces))]
    rows.insert(rng.index(len(rows) + 1), [f"SP{len(spaces) + 1:03d}",
                                           f"거주자우선주차 공유 {zero['dong']} 임시구역",
                                           _address(zero), "0.00", "0.00"])
    return _csv(("parking_id", "name", "address", "x", "y"), rows).encode("utf-8")


#: opening hours as Seoul's tool-library files write them (운영시간), taken in turn
_TOOL_HOURS = ("평일 09:00 ~ 18:00", "화~토 10:30 ~18:00 + 일 13:00 ~ 18:00",
               "화~토 09:00~21:00, 일 09:00~18:00 (휴관일 제외)")
_TOY_HOURS = ("평일 10:00~18:00(점심시간 12:00~13:00), 토 10:00~13:00",)


def _libraries(spaces: list[dict[str, Any]], prefix: str, names: list[str], to_ll: _LL,
               hours: Sequence[str]) -> str:
    rows = []
    for k, (sp, name) in enumerate(zip(spaces, names, strict=True)):
        lon, lat = to_ll(sp["x"], sp["y"])
        rows.append([f"{prefix}{k + 1:02d}", name, _address(sp), f"{lon:.7f}", f"{lat:.7f}",
                     hours[k % len(hours)]])
    return _csv(("lib_id", "name", "address", "lon", "lat", "opening_hours"), rows)


def _facilities(spaces: list[dict[str, Any]], to_ll: _LL) -> bytes:
    venues = [('{dong} 주민센터 <다목적실> & "강당"', "주민센터 다목적실"),
              ("데모구민회관", "구민회관 강당"), ("데모구립 새솔작은도서관", "작은도서관 세미나실"),
              ("데모구 청소년문화의집", "청소년센터 동아리방")]
    feats = []
    for k, sp in enumerate(spaces):
        name, kind = venues[k] if k < len(venues) else ("{dong} 주민센터", "주민센터 회의실")
        props = {"facility_id": f"F{k + 1:02d}", "name": name.format(dong=sp["dong"]),
                 "kind": kind}
        feats.append((props, _polygon_json(sp["shape"], to_ll)))
    # the same venue again for a second programme: identical footprint, another id
    again = {"facility_id": f"F{len(spaces) + 1:02d}", "name": "데모구민회관",
             "kind": "구민회관 소강당"}
    feats.append((again, feats[1][1]))
    return _geojson("public_facilities", feats).encode("utf-8")


def _readme(seed: int, n: dict[str, int]) -> str:
    return f"""\
# 데모구: the SYNTHETIC demo district

**Everything in this folder is synthetic.** It was generated by
`sharemap.datasets._demo.make_demo_district(seed={seed})`. It is **not real Seoul data**:
the streets, the stream, the dongs, their populations and every sharing space are invented.
Do not use them for any real decision. (It contains no OpenStreetMap data either.)

The district ("데모구", sgg 11999) is a Seoul-like area of {n["area_m2"] / 1e6:.2f} km²
placed near (203000, 554000) in EPSG:5186 (lon 127.03, lat 37.59), with
{n["pop"]:,} invented residents in five dongs. It has an irregular street grid with blocks of
60-200 m, two arterials (누리대로, highway=primary, north-south; 한빛로, secondary,
east-west) meeting at "누리역", mid-block footways, a few cul-de-sacs, a stream (누리천)
crossed by three bridges with footways along both banks, and one apartment superblock
(누리아파트, about 300 × 350 m) with internal service roads and footways. Sharing spaces
stand at roughly Seoul densities per km² (bike 5, car-sharing 4, parking 3, facilities 1,
tool libraries 0.7, toy libraries 0.2), denser around 누리역, 누리아파트 and 새솔사거리.

## Regenerate

```
python -m sharemap.datasets._demo            # rewrites sharemap/datasets/demo/ and data/demo/
python -m sharemap.datasets._demo OUT_DIR    # writes a copy elsewhere
```

The output is byte-identical for the same seed. `sharemap/datasets/demo/` (shipped
inside the package, found with `sharemap.datasets.get_path("demo")`) and `data/demo/`
hold the same files; `tests/test_datasets.py` checks both against a fresh generation.

## Files

- `study.toml`: the study configuration (SPEC format; paths relative to this folder).
- `walk.osm`: the walk network as OSM XML (WGS84, 7 decimals) for `osmnx.graph_from_xml`.
  It also holds the stream as one `waterway=stream` way: osmnx reads it as a separate,
  unconnected line, which `retain_all=False` drops.
- `gu.geojson`: the study area, one polygon with `sgg`, `sggnm`.
- `dong.geojson`: five dongs tiling the gu, with `adm_cd2`, `adm_nm`, `dong_nm`, `sggnm`,
  `sgg`, `pop_total`, `pop_65plus`, `households`.
- `water.geojson`: the stream 누리천 as a polygon (for maps).
- `bike_stations.csv`: {n["bike"]} Ttareungyi-style stations in Seoul's open-data layout
  (CP949, header `{",".join(BIKE_HEADER)}`), plus {n["bike_bad"]} bad rows on purpose:
  two at 0/0 (Seoul's "unknown"), one with empty coordinates, one 0.9 m from another
  station under another number, and one 20 km away.
- `carshare_spots.geojson`: {n["carshare"]} car-sharing spots (points) with `spot_id`,
  `name`, `address`, `operators`.
- `shared_parking.csv`: {n["parking"]} shared parking lots, UTF-8,
  `parking_id,name,address,x,y` in EPSG:5186 metres, plus one row at x=0, y=0.
- `tool_libraries.csv`: {n["tools"]} tool libraries, UTF-8 with BOM,
  `lib_id,name,address,lon,lat,opening_hours` (hours written as Seoul's tool-library
  files write them, e.g. `평일 09:00 ~ 18:00`; try `sharemap demo --at "Sat 14:00"`).
- `toy_libraries.csv`: {n["toys"]} toy library, UTF-8,
  `lib_id,name,address,lon,lat,opening_hours`.
- `public_facilities.geojson`: {n["facility"] + 1} rows for {n["facility"]} opened public
  facilities, as building footprints with `facility_id`, `name`, `kind`. One venue is listed
  twice (two programmes, identical footprint: a `duplicate`), and one name contains `<`,
  `>`, `&` and quotes, to show HTML escaping.

## Expected rejects

A correct run keeps every other row (all spaces stand 5-30 m from a street, inside the gu)
and rejects exactly these: in `bike_stations.csv` two `zero_coordinates`, one
`missing_coordinates`, one `outside_study_area` and one `duplicate`; in
`shared_parking.csv` one `zero_coordinates`; in `public_facilities.geojson` one `duplicate`.
"""


def _generate(seed: int) -> tuple[dict[str, bytes], dict[str, int]]:
    rng = _Rng(seed)
    lay = _layout(rng)
    net, apt_centre = _build_network(lay, rng)
    to_tm, to_ll = _transformers()
    ring = _outer_ring(lay, net)
    gu = _offset_outwards(ring, _GU_MARGIN_M)
    stream = _stream_line(lay, gu.bounds)
    water = _water(lay, stream, gu)
    dongs = _dongs(lay, net, gu, stream, rng)
    ctx = _make_ctx(net, ring.buffer(-4.0).difference(water.buffer(8.0)), dongs, rng)
    clusters = ((net.xy[_gid(lay.ca, lay.jr)], "누리역"), (apt_centre, "누리아파트"),
                (net.xy[_gid(lay.tw, lay.rn)], "새솔사거리"))
    sp = _make_spaces(ctx, [c for c, _ in clusters], gu.area / 1e6)
    generic = ("입구", "버스정류장", "교차로", "어린이공원 앞", "상가 앞", "사거리")
    bike_names = _names(sp["bike"], clusters, rng, {"누리역": "누리역 {k}번출구",
                        "누리아파트": "누리아파트 {k}단지 정문", "새솔사거리": "새솔사거리 {k}"},
                        generic)
    car_names = _names(sp["carshare"], clusters, rng, {
        "누리역": "누리역 공영주차장", "누리아파트": "누리아파트 {k}단지 주차장",
        "새솔사거리": "새솔사거리 공영주차장"}, ("노상주차장", "공영주차장", "거주자주차장"))
    files: dict[str, bytes] = {"study.toml": STUDY_TOML.encode("utf-8")}
    files["walk.osm"] = _osm_xml(net, stream, to_ll, seed).encode("utf-8")
    files["gu.geojson"] = _geojson("gu", [({"sgg": "11999", "sggnm": "데모구"},
                                           _polygon_json(gu, to_ll))]).encode("utf-8")
    files["dong.geojson"] = _geojson("dong", [(p, _polygon_json(poly, to_ll))
                                              for p, poly in dongs]).encode("utf-8")
    files["water.geojson"] = _geojson("water", [({"name": "누리천", "kind": "stream"},
                                                 _polygon_json(water, to_ll))]).encode("utf-8")
    files["bike_stations.csv"], n_bad = _bike_csv(sp["bike"], bike_names, rng, to_ll)
    files["carshare_spots.geojson"] = _carshare(sp["carshare"], car_names, rng, to_ll)
    files["shared_parking.csv"] = _parking(sp["parking"], rng, to_tm)
    tool_names = [f"{t['dong']} 공구대여소" for t in sp["tools"]]
    files["tool_libraries.csv"] = _libraries(sp["tools"], "TL", tool_names, to_ll,
                                             _TOOL_HOURS).encode("utf-8-sig")
    toy_names = ["데모구 장난감도서관 누리아파트점", *(f"데모구 장난감도서관 {t['dong']}점"
                                                       for t in sp["toys"][1:])]
    files["toy_libraries.csv"] = _libraries(sp["toys"], "TY", toy_names, to_ll,
                                            _TOY_HOURS).encode("utf-8")
    files["public_facilities.geojson"] = _facilities(sp["facility"], to_ll)
    counts = {k: len(v) for k, v in sp.items()}
    counts.update(bike_bad=n_bad, area_m2=round(gu.area), pop=sum(p["pop_total"] for p, _ in dongs))
    files["README.md"] = _readme(seed, counts).encode("utf-8")
    return {name: files[name] for name in DEMO_FILES}, counts


def make_demo_district(out_dir: str | Path, *, seed: int = 0) -> dict[str, Path]:
    """Write the synthetic demo district into `out_dir`, deterministically.

    Parameters
    ----------
    out_dir
        Folder to write into (created if needed). Existing files of the same
        names are replaced atomically; other files are left alone.
    seed
        Seed of the generator. The same seed gives byte-identical files.

    Returns
    -------
    paths
        The written files, keyed by file name (see ``DEMO_FILES``).

    Notes
    -----
    The district is synthetic: about 4.4 km² near (203000, 554000) in
    EPSG:5186, an irregular street grid with blocks of 60-200 m, two arterials,
    a stream crossed by three bridges, one apartment superblock, five dongs and
    sharing spaces at Seoul densities, with a few bad rows on purpose. Only
    ``random.Random.random`` draws are used, so the output does not depend on
    the numpy version; coordinates are rounded to 7 decimals (lon/lat) or 2
    decimals (metres).

    Examples
    --------
    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     sorted(make_demo_district(tmp))[:3]
    ['README.md', 'bike_stations.csv', 'carshare_spots.geojson']
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = {}
    for name, data in _generate(seed)[0].items():
        with atomic_path(out / name) as tmp:
            tmp.write_bytes(data)
        paths[name] = out / name
    logger.info("Wrote the synthetic demo district (seed=%d) to %s", seed, out)
    return paths


def _main(argv: Sequence[str]) -> int:
    here = Path(__file__).resolve().parent
    targets = [Path(a) for a in argv]
    if not targets:
        targets = [here / "demo"]
        repo = here.parents[1]
        if (repo / "pyproject.toml").is_file():
            targets.append(repo / "data" / "demo")
    for target in targets:
        make_demo_district(target, seed=0)
        print(f"wrote {target}")
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(_main(sys.argv[1:]))
