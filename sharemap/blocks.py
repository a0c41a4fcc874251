"""City blocks: polygons enclosed by the streets that bound them, or a user's polygons.

Which lines bound a block
-------------------------
* **Streets** of the classes in :data:`BLOCK_ROADS` (trunk down to residential,
  living streets, unclassified roads and busways): the ways that carry traffic
  between blocks. Motorways are not walkable and not in a walk network.
* **Sidewalks** where the road itself is missing. An OSM walk network leaves
  out a road whose sidewalks are mapped as separate footways (``sidewalk=separate``,
  most of Seoul's arterials); the footways on either side of the empty
  carriageway then bound the blocks, and the carriageway is not a block.
* **Barriers** given by the user: railway lines, and the outlines of water
  and other barrier areas (no block lies in them).

Footways, paths, steps, pedestrian ways, tracks and service ways
(:data:`NON_SPLITTING`) inside a block do not split it: a footpath through an
apartment complex or a driveway leaves the complex one block. Ways tagged
``bridge`` or ``tunnel`` are left out of the linework, because they pass over or
under the streets they cross without meeting them; with the stream as a barrier
area, the blocks on either side of a bridge still stay apart.

Method (:func:`blocks_from_network`)
------------------------------------
1. Every walkable way (but bridges and tunnels) and every barrier is noded and
   polygonised into faces (what ``momepy.enclosures`` does).
2. Each face is classified (:func:`block_faces`; widths are ``2A / P``, elongation
   ``P² / 4A``, which is about length / width for a strip):

   * ``water``: inside a barrier area.
   * ``artefact``: under :data:`ARTEFACT_MAX_AREA_M2` (traffic islands, noding slivers).
   * ``street``, street space rather than land:

     - a *carriageway between sidewalks*: a face walled by footways (at least
       :data:`STREET_MIN_PATH_SHARE` of its outline, largest inscribed circle of
       radius at most :data:`STREET_MAX_RADIUS_M`, i.e. roads up to 70 m wide) that
       is long (elongation at least :data:`STRIP_MIN_ELONGATION`);
     - a *junction* (or a short stretch of carriageway): a compact walled face at
       least 40% of whose outline is crosswalks into street faces (shared outlines
       no longer than 1.5 times the wider face's width);
     - a *strip* between a road's centre line and its separately mapped sidewalk
       (long, at most :data:`STRIP_MAX_WIDTH_M` wide, at least 30% road and 30%
       footway), and the *median* of a dual carriageway (long, and at most
       :data:`MEDIAN_MAX_WIDTH_M` wide, or at most :data:`STRIP_MAX_WIDTH_M` wide
       with 60% of its outline one named road).
   * ``land``: everything else.

3. *Sidewalks* are the footway pieces bordering street space, their straight
   continuations (within 20°, up to 200 m: a road with one sidewalk mapped) and
   short footways (up to 40 m) between two sidewalks (crosswalks, corners).
4. Land faces sharing a footway, path or service way that is not a sidewalk are
   merged (connected components of the face graph). Compact walled land faces
   (a complex's footway mesh, or carriageway too fragmented to tell) are merged
   among themselves first; such a cluster joins the one block it touches, stands
   alone if it touches none, and is street space if it touches several, so it
   never chains blocks across a road.
5. Street faces and artefacts enclosed by one block (a ring of paths in a park),
   or more than half of whose outline one block holds, join it; a block ringed
   by one other block on every side (a driveway loop round a building in a
   complex) joins that block; the rest is left out.
6. Blocks are clipped to the study area and those under ``min_area_m2`` dropped.

On the real Dongdaemun-gu walk network this covers about 80% of the district
with about 1,500 blocks (median about 3,400 m²), where the road classes alone
cover 44%.

momepy is not used: ``momepy.enclosures`` is the polygonisation of step 1 (a
few lines of shapely), and ``momepy.FaceArtifacts`` (deprecated in favour of
neatnet) finds artefacts from the shape distribution of a *car* network's
faces; on a walk network the artefacts are the carriageways between sidewalks,
told apart here by what bounds them. Both would add libpysal, esda and
scikit-learn as dependencies.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import numpy.typing as npt
import pandas as pd
import shapely

from ._crs import to_analysis_crs
from ._errors import InputDataError
from ._readers import read_vector
from ._validate import plain_repr
from .network import WalkNetwork

__all__ = [
    "ARTEFACT_MAX_AREA_M2",
    "BLOCK_ROADS",
    "MEDIAN_MAX_WIDTH_M",
    "NON_SPLITTING",
    "STREET_MAX_RADIUS_M",
    "STREET_MIN_PATH_SHARE",
    "STRIP_MAX_WIDTH_M",
    "STRIP_MIN_ELONGATION",
    "block_faces",
    "block_origins",
    "blocks_from_network",
    "bounding_edges",
    "read_barriers",
    "read_blocks",
]

logger = logging.getLogger(__name__)

#: OSM highway classes whose ways bound city blocks.
BLOCK_ROADS = frozenset({
    "trunk", "trunk_link", "primary", "primary_link", "secondary", "secondary_link",
    "tertiary", "tertiary_link", "unclassified", "residential", "living_street", "road",
    "busway",
})
#: Walkable classes that never split a block (a footway bounds one only as a sidewalk).
NON_SPLITTING = frozenset({
    "service", "footway", "path", "steps", "pedestrian", "track", "corridor", "cycleway",
    "bridleway", "elevator", "sidewalk", "crossing",
})
#: Street faces: largest inscribed circle radius at most this (roads up to 70 m wide).
STREET_MAX_RADIUS_M = 35.0
#: Street faces: at least this share of the outline is footway or path.
STREET_MIN_PATH_SHARE = 0.7
#: Road-to-sidewalk strips and medians: at most this wide (2 * area / perimeter).
STRIP_MAX_WIDTH_M = 15.0
#: Medians between two carriageways of any name: at most this wide.
MEDIAN_MAX_WIDTH_M = 8.0
#: Strips and medians: at least this long for their width (perimeter² / 4 area).
STRIP_MIN_ELONGATION = 6.0
#: Faces smaller than this are artefacts (traffic islands, slivers).
ARTEFACT_MAX_AREA_M2 = 150.0

# line kinds, in order of strength (a noded piece takes the strongest kind it lies on)
_PATH, _SERVICE, _ROAD, _BARRIER = 0, 1, 2, 3
_MEASURES = ("area_m2", "perimeter_m", "width_m", "elongation", "radius_m", "path_share",
             "road_share", "name_share", "outside_m", "inner_m")
_TAG_NO = frozenset({"", "no", "false", "0"})
_EPS = 1e-6


def _per_value(values: pd.Series, fn: Any) -> npt.NDArray[Any]:
    """Apply the Series function `fn` to the distinct values only and map it back."""
    codes, uniq = pd.factorize(values, use_na_sentinel=False)
    return np.asarray(fn(pd.Series(uniq, dtype=values.dtype)))[codes]


def _is_road(hw: pd.Series) -> pd.Series:
    return hw.str.split(";").map(lambda vals: any(v in BLOCK_ROADS for v in vals)).astype(bool)


def bounding_edges(network: WalkNetwork) -> pd.Series:
    """Flag the network edges of block-bounding street classes.

    Returns
    -------
    mask
        Boolean Series aligned to ``network.edges``: True where any highway class of
        the (possibly merged) way is in :data:`BLOCK_ROADS`.
    """
    hw = network.edges["highway"]
    return pd.Series(_per_value(hw, _is_road).astype(bool), index=hw.index, name=hw.name)


def _line_kinds(network: WalkNetwork) -> npt.NDArray[np.int64]:
    hw = network.edges["highway"]
    road = bounding_edges(network).to_numpy()
    service = _per_value(
        hw, lambda u: u.str.split(";").map(lambda vals: "service" in vals).to_numpy(bool))
    return np.where(road, _ROAD, np.where(service, _SERVICE, _PATH)).astype(np.int64)


def _passes_over(network: WalkNetwork) -> npt.NDArray[np.bool_]:
    """Ways tagged as bridges or tunnels (they do not meet what they cross)."""
    out = np.zeros(len(network.edges), dtype=bool)
    for col in ("bridge", "tunnel"):
        if col in network.edges:
            out |= _per_value(network.edges[col], lambda u: u.astype(str).str.lower().str.split(
                ";").map(lambda v: any(x not in _TAG_NO for x in v)).to_numpy(bool)).astype(bool)
    return out


def read_barriers(paths: Sequence[str | Path], *, crs: Any) -> gpd.GeoSeries:
    """Read barrier layers (water areas, railway lines, ...) for block derivation.

    Parameters
    ----------
    paths
        Files GDAL can read, each with polygons (areas no block may lie in, whose
        outlines bound blocks) and/or lines (which bound blocks).
    crs
        The analysis CRS to reproject to.

    Returns
    -------
    barriers
        Polygon and line geometries in `crs` (points and empty rows are ignored).

    Raises
    ------
    InputDataError
        When a file is missing, unreadable or holds no polygons or lines.
    """
    parts = []
    for path in paths:
        p = Path(path)
        gdf = read_vector(p, what="barrier")
        gdf = to_analysis_crs(gdf, crs, f"barrier file {p}")
        geoms = gdf.geometry[~gdf.geometry.is_empty & gdf.geometry.notna()]
        geoms = geoms[geoms.geom_type.isin(
            ["Polygon", "MultiPolygon", "LineString", "MultiLineString"])]
        if geoms.empty:
            msg = f"{p}: no polygon or line features to use as barriers"
            raise InputDataError(msg)
        parts.append(geoms.reset_index(drop=True))
    if not parts:
        return gpd.GeoSeries([], crs=crs)
    return gpd.GeoSeries(pd.concat(parts, ignore_index=True), crs=parts[0].crs)


def _barrier_parts(barriers: gpd.GeoSeries | gpd.GeoDataFrame | None, crs: Any
                   ) -> tuple[np.ndarray, np.ndarray]:
    """Split barriers into lines (outlines included) and areas, in the network CRS."""
    if barriers is None or len(barriers) == 0:
        return np.array([], dtype=object), np.array([], dtype=object)
    geo = gpd.GeoSeries(barriers.geometry, crs=barriers.crs)
    geo = to_analysis_crs(gpd.GeoDataFrame(geometry=geo), crs, "barriers").geometry
    geoms = shapely.get_parts(geo.to_numpy())
    kinds = shapely.get_type_id(geoms)
    areas = geoms[kinds == 3]
    lines = np.concatenate([geoms[kinds == 1], shapely.get_parts(shapely.boundary(areas))])
    return lines, areas


# ------------------------------------------------------------------------- faces


def _pieces(lines: np.ndarray, kinds: npt.NDArray[np.int64], names: np.ndarray
            ) -> tuple[np.ndarray, npt.NDArray[np.int64], np.ndarray, np.ndarray, np.ndarray]:
    """Node the linework; return the pieces, their kinds, names and midpoints, and the faces."""
    noded = shapely.get_parts(shapely.union_all(lines))
    noded = noded[shapely.length(noded) > 0]
    faces = shapely.get_parts(shapely.polygonize(noded))
    mid = shapely.line_interpolate_point(noded, 0.5, normalized=True)
    src_piece, src = shapely.STRtree(lines).query(mid, predicate="dwithin", distance=_EPS)
    kind = np.full(len(noded), -1, dtype=np.int64)
    np.maximum.at(kind, src_piece, kinds[src])
    # the name of the strongest line under each piece
    order = np.lexsort((kinds[src], src_piece))
    name = np.full(len(noded), "", dtype=object)
    name[src_piece[order]] = names[src[order]]
    return noded, kind, name, mid, faces


def _incidence(noded: np.ndarray, faces: np.ndarray, mid: np.ndarray) -> pd.DataFrame:
    """Which faces each noded piece (midpoints `mid`) bounds: ``piece``, ``fa``, ``fb``."""
    piece, face = shapely.STRtree(faces).query(mid, predicate="dwithin", distance=_EPS)
    on_edge = shapely.distance(mid[piece], shapely.boundary(faces[face])) < _EPS
    inc = pd.DataFrame({"piece": piece[on_edge], "face": face[on_edge]})
    inc = inc.sort_values(["piece", "face"])
    inc["k"] = inc.groupby("piece").cumcount()
    wide = inc[inc["k"] < 2].pivot(index="piece", columns="k", values="face")
    if 1 not in wide:
        wide[1] = np.nan
    return pd.DataFrame({"piece": wide.index.to_numpy(np.int64),
                         "fa": wide[0].to_numpy(np.int64),
                         "fb": wide[1].fillna(-1).to_numpy(np.int64)})


def _inner_lines(noded: np.ndarray, piece_kind: npt.NDArray[np.int64], adj: pd.DataFrame,
                 faces: np.ndarray) -> npt.NDArray[np.float64]:
    """Measure the longest connected run of footway or service dangling in each face (m).

    A carriageway between sidewalks holds at most driveway stubs and the ends of
    side streets, each shorter than its width; a path system inside a complex or
    park is longer.
    """
    inside = np.ones(len(noded), dtype=bool)
    inside[adj["piece"].to_numpy()] = False
    inside &= piece_kind <= _SERVICE
    out = np.zeros(len(faces))
    if not inside.any():
        return out
    idx = np.flatnonzero(inside)
    node = _ends(noded[idx])[0]
    # pieces and their end nodes in one graph: a run is a connected component
    k = len(idx)
    comp = _components(k + int(node.max()) + 1, np.tile(np.arange(k), 2),
                       k + np.concatenate([node[:, 0], node[:, 1]]))[:k]
    mid = shapely.line_interpolate_point(noded[idx], 0.5, normalized=True)
    pi, fi = shapely.STRtree(faces).query(mid, predicate="within")
    runs = pd.DataFrame({"face": fi, "comp": comp[pi], "length": shapely.length(noded[idx][pi])})
    longest = runs.groupby(["face", "comp"])["length"].sum().groupby("face").max()
    out[longest.index.to_numpy()] = longest.to_numpy()
    return out


def _face_measures(faces: np.ndarray, adj: pd.DataFrame, *, all_radii: bool = True
                   ) -> pd.DataFrame:
    """Area, perimeter, width, elongation, inscribed radius and outline shares per face.

    With ``all_radii=False`` the inscribed radius (the costly measure) is computed only
    for the faces :func:`_walled` looks at (``path_share`` at least
    :data:`STREET_MIN_PATH_SHARE`) and is NaN elsewhere.
    """
    n = len(faces)
    area = shapely.area(faces)
    perim = shapely.length(faces)
    sides = pd.concat([
        adj[["fa", "kind", "name", "length"]].rename(columns={"fa": "face"}),
        adj.loc[adj["fb"] >= 0, ["fb", "kind", "name", "length"]].rename(columns={"fb": "face"}),
    ])
    by_kind = sides.pivot_table(index="face", columns="kind", values="length", aggfunc="sum")
    by_kind = by_kind.reindex(index=range(n), columns=range(4)).fillna(0.0)
    roads = sides[(sides["kind"] == _ROAD) & (sides["name"] != "")]
    top_name = roads.groupby(["face", "name"])["length"].sum().groupby("face").max()
    outside = adj.loc[adj["fb"] < 0].groupby("fa")["length"].sum()
    safe = np.maximum(perim, _EPS)
    path_share = by_kind[_PATH].to_numpy() / safe
    need = np.ones(n, dtype=bool) if all_radii else path_share >= STREET_MIN_PATH_SHARE
    radius = np.full(n, np.nan)
    radius[need] = shapely.length(shapely.maximum_inscribed_circle(faces[need]))
    return pd.DataFrame({
        "area_m2": area,
        "perimeter_m": perim,
        "width_m": 2.0 * area / safe,
        "elongation": perim ** 2 / (4.0 * np.maximum(area, _EPS)),
        "radius_m": radius,
        "path_share": path_share,
        "road_share": by_kind[_ROAD].to_numpy() / safe,
        "name_share": top_name.reindex(range(n)).fillna(0.0).to_numpy() / safe,
        "outside_m": outside.reindex(range(n)).fillna(0.0).to_numpy(),
    })


def _pairs(adj: pd.DataFrame) -> pd.DataFrame:
    """Shared outline length of every pair of adjacent faces (``a < b``)."""
    both = adj[adj["fb"] >= 0]
    a = np.minimum(both["fa"], both["fb"]).to_numpy()
    b = np.maximum(both["fa"], both["fb"]).to_numpy()
    pairs = pd.DataFrame({"a": a, "b": b, "length": both["length"].to_numpy()})
    return pairs[pairs["a"] != pairs["b"]].groupby(["a", "b"], as_index=False)["length"].sum()


def _walled(m: pd.DataFrame) -> npt.NDArray[np.bool_]:
    """Faces mostly walled by footways and no wider than a road (street candidates)."""
    return ((m["radius_m"] <= STREET_MAX_RADIUS_M)
            & (m["path_share"] >= STREET_MIN_PATH_SHARE)
            & (m["inner_m"] <= 1.5 * m["width_m"])).to_numpy()


def _classify(m: pd.DataFrame, pairs: pd.DataFrame,
              water: npt.NDArray[np.bool_]) -> npt.NDArray[np.str_]:
    long = (m["elongation"] >= STRIP_MIN_ELONGATION).to_numpy()
    width = m["width_m"].to_numpy()
    strip = (long & (width <= STRIP_MAX_WIDTH_M) & (m["path_share"] >= 0.3).to_numpy()
             & (m["road_share"] >= 0.3).to_numpy())
    median = long & ((width <= MEDIAN_MAX_WIDTH_M)
                     | ((width <= STRIP_MAX_WIDTH_M) & (m["name_share"] >= 0.6).to_numpy()))
    walled = _walled(m)
    tiny = (m["area_m2"] < ARTEFACT_MAX_AREA_M2).to_numpy()
    street = _corridors(m, pairs, walled | strip | median | tiny) & (walled | tiny)
    kind = np.where(street | strip | median, "street", "land")
    kind = np.where(tiny & ~street, "artefact", kind)
    return np.where(water, "water", kind)


def _corridors(m: pd.DataFrame, pairs: pd.DataFrame,
               cand: npt.NDArray[np.bool_]) -> npt.NDArray[np.bool_]:
    """Flag candidate faces that are carriageways or junctions between sidewalks.

    A long candidate (``P² / 4A`` at least :data:`STRIP_MIN_ELONGATION`) is a
    carriageway. A compact one is a junction (or a short stretch of carriageway)
    when at least 40% of its outline is doorways to street faces: shared outlines
    no longer than 1.5 times the wider face's width, i.e. crosswalks.
    Compact faces of a footway mesh (a complex's paths) share whole sides with
    each other and stay land.
    """
    width = m["width_m"].to_numpy()
    perim = np.maximum(m["perimeter_m"].to_numpy(), _EPS)
    a, b, shared = pairs["a"].to_numpy(), pairs["b"].to_numpy(), pairs["length"].to_numpy()
    door = cand[a] & cand[b] & (shared <= 1.5 * np.maximum(width[a], width[b]))
    a, b, shared = a[door], b[door], shared[door]
    street = cand & (m["elongation"].to_numpy() >= STRIP_MIN_ELONGATION)
    for _ in range(4):
        to_street = (np.bincount(a, weights=shared * street[b], minlength=len(m))
                     + np.bincount(b, weights=shared * street[a], minlength=len(m)))
        grown = street | (cand & (to_street >= 0.4 * perim))
        if (grown == street).all():
            break
        street = grown
    return street


def _components(n: int, a: npt.NDArray[np.int64], b: npt.NDArray[np.int64]
                ) -> npt.NDArray[np.int64]:
    from scipy import sparse
    from scipy.sparse.csgraph import connected_components

    graph = sparse.coo_matrix((np.ones(len(a)), (a, b)), shape=(n, n))
    return connected_components(graph, directed=False)[1].astype(np.int64)


def _ends(noded: np.ndarray, step_m: float = 5.0
          ) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float64]]:
    """Node ids of both ends of every piece and the unit direction leaving each end.

    The direction points at the spot `step_m` along the piece (at most halfway).
    Computed from the coordinate arrays at once: GEOS's ``get_point`` and
    ``line_interpolate_point`` one piece at a time took 5 s on a city's 600,000 pieces.
    """
    n = len(noded)
    coords, owner = shapely.get_coordinates(noded, return_index=True)
    first = np.searchsorted(owner, np.arange(n))
    last = np.append(first[1:], len(owner)) - 1
    seg = np.hypot(*np.diff(coords, axis=0).T)
    seg[owner[1:] != owner[:-1]] = 0.0  # no segment from one piece to the next
    along = np.concatenate([[0.0], np.cumsum(seg)])  # distance from the first piece's start
    length = along[last] - along[first]
    near_s = _point_along(coords, along, first, last, np.minimum(step_m, length / 2))
    near_e = _point_along(coords, along, first, last, np.maximum(length - step_m, length / 2))
    xy = np.concatenate([coords[first], coords[last]])
    key = np.round(xy, 6)
    node = pd.factorize(key[:, 0] + 1j * key[:, 1])[0].astype(np.int64)
    out = np.concatenate([near_s, near_e]) - xy
    out /= np.maximum(np.hypot(out[:, 0], out[:, 1]), _EPS)[:, None]
    return node.reshape(2, n).T, out.reshape(2, n, 2).transpose(1, 0, 2)


def _point_along(coords: npt.NDArray[np.float64], along: npt.NDArray[np.float64],
                 first: npt.NDArray[np.int64], last: npt.NDArray[np.int64],
                 dist: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    """Return the point `dist` along each piece (coordinates ``first..last`` of `coords`)."""
    target = along[first] + dist
    k = np.clip(np.searchsorted(along, target, side="right") - 1, first,
                np.maximum(last - 1, first))
    span = along[k + 1] - along[k] if len(k) else along[k]
    frac = np.where(span > 0, (target - along[k]) / np.where(span > 0, span, 1.0), 0.0)
    frac = np.clip(frac, 0.0, 1.0)[:, None]
    return coords[k] + frac * (coords[np.minimum(k + 1, last)] - coords[k])


def _sidewalks(noded: np.ndarray, piece_kind: npt.NDArray[np.int64], adj: pd.DataFrame,
               kind: np.ndarray, *, max_run_m: float = 200.0) -> npt.NDArray[np.bool_]:
    """Flag footway pieces that are sidewalks: they border street space, or continue one.

    Where only one sidewalk of a road is mapped, no carriageway face forms; the
    lone sidewalk is found as the straight continuation (within 20°) of a
    sidewalk that does border a carriageway, for up to `max_run_m` metres.
    """
    from scipy import sparse
    from scipy.sparse.csgraph import dijkstra

    n = len(noded)
    fa, fb = adj["fa"].to_numpy(), adj["fb"].to_numpy()
    other = np.where(fb >= 0, kind[np.maximum(fb, 0)], "outside")
    seed = np.zeros(n, dtype=bool)
    seed[adj["piece"].to_numpy()[(kind[fa] == "street") ^ (other == "street")]] = True
    path = piece_kind == _PATH
    seed &= path
    node, out = _ends(noded)
    # pairs of path pieces meeting at a node, running on straight through it
    ends = pd.DataFrame({"piece": np.tile(np.arange(n), 2), "end": np.repeat([0, 1], n),
                         "node": np.concatenate([node[:, 0], node[:, 1]])})
    ends = ends[np.tile(path, 2)]
    meet = ends.merge(ends, on="node")
    meet = meet[meet["piece_x"] < meet["piece_y"]]
    dx = out[meet["piece_x"].to_numpy(), meet["end_x"].to_numpy()]
    dy = out[meet["piece_y"].to_numpy(), meet["end_y"].to_numpy()]
    straight = (dx * dy).sum(axis=1) <= -np.cos(np.radians(20.0))
    links = meet[straight]
    graph = sparse.coo_matrix((np.ones(len(links)), (links["piece_x"], links["piece_y"])),
                              shape=(n, n)).tocsr()
    length = shapely.length(noded)
    weights = graph.multiply(length[None, :]).tocsr()
    weights = weights.maximum(weights.T)
    if not seed.any():
        return seed
    dist = dijkstra(weights, directed=False, indices=np.flatnonzero(seed), limit=max_run_m,
                    min_only=True)
    side = seed | (np.isfinite(dist) & path)
    # a short footway from one sidewalk to another is a crosswalk or a corner
    on_side = np.zeros(node.max() + 1, dtype=bool)
    on_side[node[side].ravel()] = True
    return side | (path & on_side[node[:, 0]] & on_side[node[:, 1]] & (length <= 40.0))


def _merge_land(kind: np.ndarray, walled: npt.NDArray[np.bool_], adj: pd.DataFrame
                ) -> tuple[np.ndarray, npt.NDArray[np.int64]]:
    """Label land faces by block: merged across footways, paths and service ways.

    Land faces mostly walled by footways (a footway mesh, or a stretch of
    carriageway between crosswalks too short to tell) are merged among themselves
    first; such a cluster joins the block it touches, stands alone if it touches
    none, and is street space between blocks if it touches several (so that it
    cannot chain blocks across a road).
    """
    n = len(kind)
    land = kind == "land"
    amb, core = land & walled, land & ~walled
    inner = adj[(adj["fb"] >= 0) & (adj["kind"] <= _SERVICE) & ~adj["sidewalk"]]
    a, b = inner["fa"].to_numpy(), inner["fb"].to_numpy()
    cores = _components(n, a[core[a] & core[b]], b[core[a] & core[b]])
    clusters = _components(n, a[amb[a] & amb[b]], b[amb[a] & amb[b]])
    x, y = np.concatenate([a, b]), np.concatenate([b, a])
    hit = amb[x] & core[y]
    touch = pd.DataFrame({"c": clusters[x[hit]], "core": cores[y[hit]]}).drop_duplicates()
    n_core = touch.groupby("c")["core"].agg(["nunique", "first"])
    label = np.where(core, cores, -1)
    joined = n_core[n_core["nunique"] == 1]["first"]
    between = amb & np.isin(clusters, n_core.index[n_core["nunique"] > 1])
    alone = amb & ~between & ~np.isin(clusters, joined.index)
    take = amb & np.isin(clusters, joined.index)
    label[take] = joined.reindex(clusters[take]).to_numpy()
    label[alone] = n + clusters[alone]
    return np.where(between, "street", kind), label


def _sides(pairs: pd.DataFrame, label: npt.NDArray[np.int64]) -> pd.DataFrame:
    """Both directions of every face pair: ``f``, the other side's ``label``, ``length``."""
    a, b, shared = pairs["a"].to_numpy(), pairs["b"].to_numpy(), pairs["length"].to_numpy()
    return pd.DataFrame({"f": np.concatenate([a, b]), "g": np.concatenate([b, a]),
                         "label": np.concatenate([label[b], label[a]]),
                         "length": np.concatenate([shared, shared])})


def _absorb(kind: np.ndarray, block: npt.NDArray[np.int64], pairs: pd.DataFrame,
            m: pd.DataFrame) -> npt.NDArray[np.int64]:
    """Give enclosed street faces and artefacts to the block around them.

    (1) A group of adjacent street or artefact faces that touches one block only
    (and not the outside or water) joins it. (2) Repeatedly, such a face more than
    half of whose outline one block holds joins it.
    """
    block = block.copy()
    n = len(kind)
    free = np.isin(kind, ["street", "artefact"])
    a, b = pairs["a"].to_numpy(), pairs["b"].to_numpy()
    group = _components(n, a[free[a] & free[b]], b[free[a] & free[b]])
    sides = _sides(pairs, block)
    touch = sides[free[sides["f"].to_numpy()] & (sides["label"].to_numpy() >= 0)]
    per = pd.DataFrame({"g": group[touch["f"].to_numpy()], "label": touch["label"].to_numpy()})
    n_blk = per.drop_duplicates().groupby("g")["label"].agg(["nunique", "first"])
    blocked = group[((m["outside_m"].to_numpy() > 0) & free) | (kind == "water")]
    enclosed = n_blk[(n_blk["nunique"] == 1) & ~n_blk.index.isin(blocked)]["first"]
    take = free & np.isin(group, enclosed.index.to_numpy())
    block[take] = enclosed.reindex(group[take]).to_numpy()
    perim = m["perimeter_m"].to_numpy()
    for _ in range(5):
        sides = _sides(pairs, block)
        f = sides["f"].to_numpy()
        sides = sides[free[f] & (block[f] < 0) & (sides["label"].to_numpy() >= 0)]
        held = sides.groupby(["f", "label"], as_index=False)["length"].sum()
        held = held[held["length"].to_numpy() > 0.5 * perim[held["f"].to_numpy()]]
        if held.empty:
            break
        block[held["f"].to_numpy()] = held["label"].to_numpy()
    return block


def _islands(block: npt.NDArray[np.int64], pairs: pd.DataFrame,
             m: pd.DataFrame) -> npt.NDArray[np.int64]:
    """Merge a block into the larger block that surrounds it on every side.

    A block all of whose neighbours belong to one other block is ringed by
    internal roads (a driveway loop around a building in a complex): it is
    part of the block around it.
    """
    block = block.copy()
    area = m["area_m2"].to_numpy()
    for _ in range(5):
        sides = _sides(pairs, block)
        own = block[sides["f"].to_numpy()]
        sides = sides.assign(own=own)[(own >= 0) & (own != sides["label"].to_numpy())]
        nb = sides.groupby("own")["label"].agg(["nunique", "first"])
        size = pd.Series(area[block >= 0]).groupby(block[block >= 0]).sum()
        outside = np.unique(block[(m["outside_m"].to_numpy() > 0) & (block >= 0)])
        isl = nb[(nb["nunique"] == 1) & (nb["first"] >= 0) & ~nb.index.isin(outside)]
        isl = isl[size.reindex(isl.index).to_numpy() < size.reindex(isl["first"]).to_numpy()]
        if isl.empty:
            break
        hit = np.isin(block, isl.index.to_numpy())
        block[hit] = isl["first"].reindex(block[hit]).to_numpy()
    return block


def block_faces(network: WalkNetwork, *,
                barriers: gpd.GeoSeries | gpd.GeoDataFrame | None = None,
                sidewalks: bool = True) -> gpd.GeoDataFrame:
    """Polygonise the walk network into faces, classify them and group them into blocks.

    Parameters
    ----------
    network
        The walking network.
    barriers
        Optional barrier polygons (water: no block lies in them) and lines (railways).
    sidewalks
        Use footways, paths and service ways too (the default). False derives blocks
        from the :data:`BLOCK_ROADS` streets and barriers alone.

    Returns
    -------
    faces
        One row per face: ``kind`` (``land``, ``street``, ``artefact``, ``water``),
        ``block`` (the face's block label, -1 if none), ``area_m2``, ``perimeter_m``, ``width_m``,
        ``elongation``, ``radius_m``, ``path_share``, ``road_share``, ``name_share``,
        ``outside_m`` (outline on the open outside), ``inner_m`` (longest footway or
        service run dangling inside) and the polygon, in the network's CRS. See the
        module notes for the rules.

    Raises
    ------
    InputDataError
        When the network has no block-bounding streets at all.
    """
    return _block_faces(network, barriers=barriers, sidewalks=sidewalks, all_radii=True)


def _block_faces(network: WalkNetwork, *, barriers: gpd.GeoSeries | gpd.GeoDataFrame | None,
                 sidewalks: bool, all_radii: bool) -> gpd.GeoDataFrame:
    """:func:`block_faces`; ``all_radii=False`` skips the radius where it is not used."""
    edges = network.edges
    kinds = _line_kinds(network)
    use = ~_passes_over(network)
    if not sidewalks:
        use &= kinds == _ROAD
    if not (use & (kinds == _ROAD)).any():
        msg = ("the network has no block-bounding streets (highway classes: "
               f"{', '.join(sorted(BLOCK_ROADS))})")
        raise InputDataError(msg)
    b_lines, b_areas = _barrier_parts(barriers, network.crs)
    lines = np.concatenate([edges.geometry.to_numpy()[use], b_lines])
    line_kind = np.concatenate([kinds[use], np.full(len(b_lines), _BARRIER)])
    names = np.concatenate([edges["name"].astype(str).to_numpy()[use],
                            np.full(len(b_lines), "", dtype=object)])
    noded, piece_kind, piece_name, mid, faces = _pieces(lines, line_kind, names)
    if not len(faces):
        cols = ["kind", "block", *_MEASURES]
        return gpd.GeoDataFrame({c: [] for c in cols}, geometry=[], crs=network.crs)
    adj = _incidence(noded, faces, mid)
    adj["kind"] = piece_kind[adj["piece"].to_numpy()]
    adj["name"] = piece_name[adj["piece"].to_numpy()]
    adj["length"] = shapely.length(noded[adj["piece"].to_numpy()])
    measures = _face_measures(faces, adj, all_radii=all_radii)
    measures["inner_m"] = _inner_lines(noded, piece_kind, adj, faces)
    water = np.zeros(len(faces), dtype=bool)
    if len(b_areas):
        pts = shapely.point_on_surface(faces)
        hit, _ = shapely.STRtree(b_areas).query(pts, predicate="within")
        water[hit] = True
    pairs = _pairs(adj)
    kind = _classify(measures, pairs, water)
    adj["sidewalk"] = _sidewalks(noded, piece_kind, adj, kind)[adj["piece"].to_numpy()]
    kind, block = _merge_land(kind, _walled(measures), adj)
    block = _islands(_absorb(kind, block, pairs, measures), pairs, measures)
    out = gpd.GeoDataFrame(measures, geometry=faces, crs=network.crs)
    out.insert(0, "kind", kind)
    out.insert(1, "block", block)
    return out


def _union_by(geoms: np.ndarray, label: npt.NDArray[np.int64]) -> np.ndarray:
    """Coverage union of `geoms` per label, in label order (faces kept in input order).

    Groups of equal size are unioned together in one vectorised call.
    """
    order = np.argsort(label, kind="stable")
    labels, start, size = np.unique(label[order], return_index=True, return_counts=True)
    out = np.empty(len(labels), dtype=object)
    for k in np.unique(size):
        grp = np.flatnonzero(size == k)
        idx = start[grp][:, None] + np.arange(k)[None, :]
        out[grp] = shapely.coverage_union_all(geoms[order[idx]], axis=1)
    return out


def _finish(faces: np.ndarray, crs: Any, area: shapely.Geometry | None,
            min_area_m2: float) -> gpd.GeoDataFrame:
    geoms = gpd.GeoSeries(faces, crs=crs)
    if area is not None:
        # only blocks crossing the area's outline need clipping (the costly part)
        tree = shapely.STRtree(geoms.to_numpy())
        inside = np.zeros(len(geoms), dtype=bool)
        inside[tree.query(area, predicate="contains_properly")] = True
        hit = np.zeros(len(geoms), dtype=bool)
        hit[tree.query(area, predicate="intersects")] = True
        cut = geoms[hit & ~inside].intersection(area)
        geoms = pd.concat([geoms[inside], cut]).sort_index()
    geoms = geoms.explode(index_parts=False)
    geoms = geoms[geoms.geom_type == "Polygon"]
    geoms = geoms[geoms.area >= min_area_m2]
    # north-west first, so ids read like a page
    rep = geoms.representative_point()
    order = np.lexsort((rep.x.round(0).to_numpy(), -rep.y.round(0).to_numpy()))
    geoms = geoms.iloc[order]
    out = gpd.GeoDataFrame({
        "block_id": np.arange(1, len(geoms) + 1, dtype=np.int64),
        "area_m2": geoms.area.round(1).to_numpy(),
    }, geometry=geoms.to_numpy(), crs=crs)
    return out


def blocks_from_network(network: WalkNetwork, *, area: shapely.Geometry | None = None,
                        min_area_m2: float = 1000.0,
                        barriers: gpd.GeoSeries | gpd.GeoDataFrame | None = None,
                        sidewalks: bool = True) -> gpd.GeoDataFrame:
    """Derive city blocks from the walking network (see the module notes for the method).

    Parameters
    ----------
    network
        The walking network.
    area
        Optional study-area polygon (network CRS); blocks are clipped to it.
    min_area_m2
        Blocks smaller than this (slivers, traffic islands) are dropped.
    barriers
        Optional barrier polygons (water areas) and lines (railways), any CRS.
    sidewalks
        Let sidewalks bound blocks where the road between them is missing (the
        default); False uses the :data:`BLOCK_ROADS` streets (and barriers) alone.

    Returns
    -------
    blocks
        ``block_id`` (1..n, north-west first), ``area_m2`` and Polygon geometry in the
        network's CRS; no two blocks overlap.

    Examples
    --------
    >>> from sharemap.datasets import demo_dir
    >>> from sharemap.network import network_from_osm_xml
    >>> blocks = blocks_from_network(network_from_osm_xml(demo_dir() / "walk.osm"))
    >>> bool((blocks.area_m2 >= 1000).all())
    True
    """
    faces = _block_faces(network, barriers=barriers, sidewalks=sidewalks, all_radii=False)
    faces = faces[faces["block"] >= 0]
    merged = _union_by(faces.geometry.to_numpy(), faces["block"].to_numpy())
    blocks = _finish(merged, network.crs, area, min_area_m2)
    logger.info("Derived %s blocks (%.2f km²) from %s faces", f"{len(blocks):,}",
                blocks["area_m2"].sum() / 1e6, f"{len(faces):,}")
    return blocks


def read_blocks(path: str | Path, *, crs: Any, area: shapely.Geometry | None = None,
                min_area_m2: float = 0.0, layer: str | None = None) -> gpd.GeoDataFrame:
    """Read user blocks (any polygon file: census output areas, parcels).

    Parameters
    ----------
    path
        A polygon file GDAL can read (GeoPackage, Shapefile, GeoJSON, ...).
    crs
        The analysis CRS to reproject to.
    area
        Optional study-area polygon; blocks are clipped to it.
    min_area_m2
        Blocks smaller than this after clipping are dropped.
    layer
        The layer to read from a multi-layer file.

    Returns
    -------
    blocks
        ``block_id`` (the file's ``block_id`` column if present, else 1..n), ``area_m2``
        and geometry.
    """
    p = Path(path)
    gdf = read_vector(p, what="blocks", layer=layer)
    gdf = to_analysis_crs(gdf, crs, f"blocks file {p}")
    gdf = gdf[gdf.geom_type.isin(["Polygon", "MultiPolygon"])]
    if "block_id" in gdf:
        ids = gdf["block_id"]
        if ids.duplicated().any():
            first = plain_repr(ids[ids.duplicated()].iloc[0])
            msg = f"{p}: column `block_id` repeats values, e.g. {first}"
            raise InputDataError(msg)
        geoms = gdf.geometry if area is None else gdf.geometry.intersection(area)
        out = gpd.GeoDataFrame({"block_id": ids.to_numpy()}, geometry=geoms.to_numpy(), crs=gdf.crs)
        out = out[~out.geometry.is_empty]
        out.insert(1, "area_m2", out.area.round(1))
        return out[out["area_m2"] >= min_area_m2].reset_index(drop=True)
    return _finish(gdf.geometry.to_numpy(), gdf.crs, area, min_area_m2)


def block_origins(blocks: gpd.GeoDataFrame) -> gpd.GeoSeries:
    """Return each block's origin: its representative point (``point_on_surface``)."""
    return blocks.geometry.representative_point()
