"""The walking network: load it from OSM or a file, and hold it in array form.

A :class:`WalkNetwork` is built once per study and reused by ``access``,
``blocks`` and ``coverage``. It is undirected (walking goes both ways), in a
metric CRS, with one row per physical street segment (osmnx's reciprocal
directed edges are merged), and only the largest connected component.
"""

from __future__ import annotations

import ast
import logging
import math
import warnings
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

import geopandas as gpd
import numpy as np
import numpy.typing as npt
import pandas as pd
import shapely
from pyproj import CRS

from . import _cache, _graphml
from ._compat import package_version
from ._crs import crs_name, require_projected
from ._errors import InputDataError, MissingDependencyError
from .config import DEFAULT_SNAP_EXCLUDE

if TYPE_CHECKING:
    import networkx as nx  # imported where used: only the osmnx paths and tests need it
    from scipy import sparse  # imported where used: `import sharemap` stays light

    from .config import NetworkConfig, StudyConfig

__all__ = [
    "WalkNetwork",
    "load_network",
    "network_from_bbox",
    "network_from_graph",
    "network_from_graphml",
    "network_from_osm_pbf",
    "network_from_osm_xml",
    "network_from_place",
]

logger = logging.getLogger(__name__)

#: highway values osmnx's "walk" filter excludes; applied to local OSM files, which
#: carry every way, so that a file and a download give the same network.
NOT_WALKABLE = frozenset({
    "motorway", "motorway_link", "cycleway", "construction", "proposed", "planned",
    "abandoned", "platform", "raceway", "bus_guideway", "razed", "no",
})

#: The edge tags a network keeps (normalised to ``a;b`` strings): the GraphML reader's
#: list (``highway``, ``name``, ``bridge``, ``tunnel``, and ``wheelchair`` and ``incline``
#: for the mobility profiles of :mod:`sharemap.profiles`).
_TAG_COLUMNS = _graphml.EDGE_TAGS

#: The smallest edge weight in metres; scipy's csgraph treats a stored 0 as "no edge".
MIN_WEIGHT_M = 1e-6


@dataclass(frozen=True, eq=False)
class WalkNetwork:
    """An undirected walking network in a metric CRS, prepared for array computation.

    Attributes
    ----------
    nodes
        One row per node, index ``0..n-1``: ``osmid`` and Point geometry.
    edges
        One row per street segment, index ``0..m-1``: ``u`` and ``v`` (node positions,
        ``u <= v``), ``length_m`` (the geometry's length in the CRS, metres), ``highway``
        (``;``-joined when merged ways differ), ``name``, ``bridge``, ``tunnel``,
        ``wheelchair``, ``incline`` (empty where the source has no such tag) and a
        LineString geometry running from ``u`` to ``v``.
    crs
        The metric CRS of every geometry.
    info
        Provenance and cleaning counts (source, components dropped, ...), for ``summary.json``.
    dropped
        The walkable edges of the pieces not connected to the largest one, which the
        network leaves out: ``piece`` (1 = the largest dropped piece), ``highway``,
        ``name``, ``length_m`` and geometry (None: not known, e.g. an older cache entry).
        Input rows near them are rejected as ``disconnected_network``, not ``off_network``.
    snap_exclude
        The edges a point joins only when no other edge lies within the snapping
        distance: highway classes (an edge whose ``highway`` names one of them, alone
        or among merged ways) and ``bridge``, ``tunnel`` (an edge so tagged, with any
        value but ``no``). They stay in the network for walking along. See
        :meth:`snap_excluded` and :func:`sharemap.access.snap_points`.
    """

    nodes: gpd.GeoDataFrame
    edges: gpd.GeoDataFrame
    crs: CRS
    info: dict[str, Any] = field(default_factory=dict)
    dropped: gpd.GeoDataFrame | None = None
    snap_exclude: tuple[str, ...] = DEFAULT_SNAP_EXCLUDE

    def __repr__(self) -> str:
        # one line, not two GeoDataFrames (the dataclass default)
        source = str(self.info.get("source", "?"))
        name = Path(source).name if ("/" in source or "\\" in source) else source
        km = float(self.edge_length.sum()) / 1000.0
        return (f"WalkNetwork({self.n_nodes:,} nodes, {len(self.edges):,} edges, "
                f"{km:,.1f} km in {crs_name(self.crs)}, source={name!r})")

    @property
    def n_nodes(self) -> int:
        """Number of nodes."""
        return len(self.nodes)

    @cached_property
    def tree(self) -> shapely.STRtree:
        """A spatial index over the edge geometries (for snapping)."""
        return shapely.STRtree(self.edges.geometry.values)

    def snap_excluded(self, exclude: tuple[str, ...] | None = None) -> npt.NDArray[np.bool_]:
        """Return, per edge, whether `exclude` (default: `snap_exclude`) names it.

        An edge is named by a highway class in `exclude` when its ``highway`` (or one
        of its merged ways') is that class, and by ``bridge`` / ``tunnel`` when it
        carries that tag with any value but ``no``.
        """
        return self._snap_index(self.snap_exclude if exclude is None else exclude)[0]

    def snap_tree(self, exclude: tuple[str, ...] | None = None
                  ) -> tuple[shapely.STRtree, npt.NDArray[np.int64]] | None:
        """Return a spatial index over the edges `exclude` does not name, and their rows.

        None when `exclude` names no edge (:attr:`tree` serves).
        """
        return self._snap_index(self.snap_exclude if exclude is None else exclude)[1]

    def _snap_index(self, exclude: tuple[str, ...]
                    ) -> tuple[npt.NDArray[np.bool_],
                               tuple[shapely.STRtree, npt.NDArray[np.int64]] | None]:
        known = self._snap_indexes.get(tuple(exclude))
        if known is None:
            named = _excluded_edges(self.edges, tuple(exclude))
            rows = np.flatnonzero(~named)
            tree = (shapely.STRtree(self.edges.geometry.to_numpy()[rows]), rows) \
                if named.any() else None
            known = self._snap_indexes[tuple(exclude)] = (named, tree)
        return known

    @cached_property
    def _snap_indexes(self) -> dict[tuple[str, ...], Any]:
        return {}

    @cached_property
    def edge_u(self) -> npt.NDArray[np.int64]:
        """Edge start node positions."""
        return self.edges["u"].to_numpy(np.int64)

    @cached_property
    def edge_v(self) -> npt.NDArray[np.int64]:
        """Edge end node positions."""
        return self.edges["v"].to_numpy(np.int64)

    @cached_property
    def edge_length(self) -> npt.NDArray[np.float64]:
        """Edge lengths in metres."""
        return self.edges["length_m"].to_numpy(np.float64)

    @cached_property
    def csr(self) -> sparse.csr_matrix:
        """The symmetric adjacency matrix in metres (shortest of parallel edges)."""
        return undirected_csr(self.edge_u, self.edge_v, self.edge_length, self.n_nodes)

    @cached_property
    def node_edges(self) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64],
                                  npt.NDArray[np.int8]]:
        """The edges at each node, as CSR arrays.

        Returns ``ptr`` (length ``n_nodes + 1``), ``edge`` (edge rows: node ``i`` has
        ``edge[ptr[i]:ptr[i + 1]]``) and ``end`` (0 where the node is the edge's ``u``
        end, 1 where it is the ``v`` end).
        """
        m = len(self.edges)
        ends = np.concatenate([self.edge_u, self.edge_v])
        order = np.argsort(ends, kind="stable")
        ptr = np.zeros(self.n_nodes + 1, dtype=np.int64)
        np.cumsum(np.bincount(ends, minlength=self.n_nodes), out=ptr[1:])
        edge = np.tile(np.arange(m, dtype=np.int64), 2)[order]
        end = np.repeat(np.array([0, 1], dtype=np.int8), m)[order]
        return ptr, edge, end

    @cached_property
    def edge_vertices(self) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.int64],
                                     npt.NDArray[np.float64]]:
        """Every edge geometry's vertices, as flat arrays.

        Returns ``xy`` (vertex coordinates), ``ptr`` (length ``n_edges + 1``: edge ``e``
        has vertices ``ptr[e]:ptr[e + 1]``) and ``along`` (each vertex's distance
        along its edge from the ``u`` end, metres).
        """
        xy, idx = shapely.get_coordinates(self.edges.geometry.to_numpy(), return_index=True)
        ptr = np.zeros(len(self.edges) + 1, dtype=np.int64)
        np.cumsum(np.bincount(idx, minlength=len(self.edges)), out=ptr[1:])
        step = np.hypot(*np.diff(xy, axis=0).T) if len(xy) > 1 else np.zeros(0)
        step[idx[1:] != idx[:-1]] = 0.0  # no step across edges
        total = np.concatenate([[0.0], np.cumsum(step)])
        along = total - total[ptr[:-1]][idx]
        return xy, ptr, along

    def to_networkx(self) -> nx.Graph:
        """Return a weighted networkx ``Graph`` (``length`` in metres) of the same network."""
        import networkx as nx

        graph = nx.Graph(crs=self.crs)
        graph.add_nodes_from(range(self.n_nodes))
        order = np.argsort(-self.edge_length)  # shortest added last wins
        graph.add_weighted_edges_from(
            zip(self.edge_u[order].tolist(), self.edge_v[order].tolist(),
                self.edge_length[order].tolist(), strict=True),
            weight="length",
        )
        graph.remove_edges_from(nx.selfloop_edges(graph))
        return graph


def _excluded_edges(edges: pd.DataFrame, exclude: tuple[str, ...]) -> npt.NDArray[np.bool_]:
    """Per edge: its highway class (or a merged way's) or its bridge/tunnel tag is excluded."""
    named = np.zeros(len(edges), dtype=bool)
    classes = {c for c in exclude if c not in ("bridge", "tunnel")}
    if classes and "highway" in edges:
        codes, uniques = pd.factorize(edges["highway"].astype(str))
        hit = np.array([bool(classes & set(str(h).split(";"))) for h in uniques] + [False])
        named |= hit[codes]
    for tag in ("bridge", "tunnel"):
        if tag in exclude and tag in edges:
            values = edges[tag].astype(str).str.strip().str.lower()
            named |= ~values.isin(["", "no", "nan", "none"]).to_numpy()
    return named


def undirected_csr(u: npt.NDArray[np.int64], v: npt.NDArray[np.int64],
                   w: npt.NDArray[np.float64], n: int) -> sparse.csr_matrix:
    """Build a symmetric CSR matrix keeping the shortest of parallel edges.

    Notes
    -----
    scipy adds up duplicate ``(i, j)`` entries when converting COO to CSR, which
    would turn two parallel 50 m streets into one 100 m street; the minimum per
    pair is therefore taken first. Self-loops never shorten a path and are dropped.
    """
    from scipy import sparse

    keep = u != v
    a = np.minimum(u[keep], v[keep])
    b = np.maximum(u[keep], v[keep])
    ww = np.maximum(w[keep], MIN_WEIGHT_M)
    # pairs in (a, b) order, each with its shortest edge (one sort of one key: a city's
    # network in a fraction of the time of sorting by a, b and weight)
    key = a.astype(np.int64) * np.int64(max(n, 1)) + b
    order = np.argsort(key, kind="stable")
    key = key[order]
    first = np.ones(len(key), dtype=bool)
    first[1:] = key[1:] != key[:-1]
    starts = np.flatnonzero(first)
    ww = np.fmin.reduceat(ww[order], starts) if len(starts) else ww[:0]
    a, b = a[order][starts], b[order][starts]
    rows = np.concatenate([a, b])
    cols = np.concatenate([b, a])
    data = np.concatenate([ww, ww])
    return sparse.csr_matrix((data, (rows, cols)), shape=(n, n))


# ------------------------------------------------------------------------- cleaning


def _norm_tag(value: Any) -> str:
    """Normalise an OSM tag value (str, list, or a list written as a string) to ``a;b``.

    The values of a list are sorted: osmnx merges the tags of simplified ways
    through a ``set``, so their order changes with Python's hash seed from one run
    to the next, and the same street must give the same string every time.
    """
    if isinstance(value, str) and value.startswith("[") and value.endswith("]"):
        try:
            value = ast.literal_eval(value)
        except (ValueError, SyntaxError):
            return value
    if isinstance(value, (list, tuple, set)):
        return ";".join(sorted({str(v) for v in value}))
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return ""
    return str(value)


def _is_walkable(highway: str) -> bool:
    parts = [p for p in highway.split(";") if p]
    return bool(parts) and not all(p in NOT_WALKABLE for p in parts)


def _edge_frame(G: nx.MultiDiGraph, crs: CRS) -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame]:
    import osmnx as ox

    if "crs" not in G.graph:
        msg = "the graph has no `crs` graph attribute (osmnx graphs carry one)"
        raise InputDataError(msg)
    nodes, edges = ox.graph_to_gdfs(G, nodes=True, edges=True, fill_edge_geometry=True)
    nodes = nodes[["geometry"]].to_crs(crs)
    edges = edges.reset_index()
    keep_cols = ["u", "v", *_TAG_COLUMNS, "geometry"]
    for col in keep_cols:
        if col not in edges:
            edges[col] = ""
    edges = edges[keep_cols].to_crs(crs)
    for col in _TAG_COLUMNS:
        edges[col] = edges[col].map(_norm_tag).astype(str)
    return nodes, edges


def _spatial_order(points: npt.NDArray[np.object_],
                   rows: npt.NDArray[np.int64]) -> npt.NDArray[np.int64]:
    """Return `rows` ordered along a Hilbert curve through their points.

    Nodes close in space then get close numbers, so a shortest-path search reads
    few memory pages; OSM's own order is by id, i.e. by editing history. (Measured
    on a Seoul-size grid: bounded searches are up to a third slower in random order.)
    """
    xy = shapely.get_coordinates(points[rows])
    if len(rows) < 2:
        return rows
    lo, hi = xy.min(axis=0), xy.max(axis=0)
    span = np.where(hi > lo, hi - lo, 1.0)
    cells = 2**16 - 1
    ij = np.floor((xy - lo) / span * cells).astype(np.int64)
    return rows[np.argsort(_hilbert_index(ij[:, 0], ij[:, 1], 16), kind="stable")]


def _hilbert_index(x: npt.NDArray[np.int64], y: npt.NDArray[np.int64],
                   order: int) -> npt.NDArray[np.int64]:
    """Distance along the Hilbert curve of cells ``(x, y)`` in a ``2**order`` grid."""
    x, y = x.copy(), y.copy()
    d = np.zeros(len(x), dtype=np.int64)
    s = 1 << (order - 1)
    while s > 0:
        rx = (x & s) > 0
        ry = (y & s) > 0
        d += s * s * ((3 * rx) ^ ry)
        # rotate the quadrant
        flip = ~ry
        swap_x = flip & rx
        x[swap_x] = s - 1 - x[swap_x]
        y[swap_x] = s - 1 - y[swap_x]
        x[flip], y[flip] = y[flip], x[flip].copy()
        s >>= 1
    return d


def _walkable(highway: npt.NDArray[np.object_]) -> npt.NDArray[np.bool_]:
    """:func:`_is_walkable` of each value, evaluated once per distinct value."""
    codes, uniques = pd.factorize(highway)
    return np.array([_is_walkable(h) for h in uniques] + [False], dtype=bool)[codes]


def _prepare(node_ids: npt.NDArray[Any], node_geoms: npt.NDArray[np.object_],
             frame: pd.DataFrame, edge_geoms: npt.NDArray[np.object_], *, crs: CRS,
             source: str) -> WalkNetwork:
    """Turn projected node and directed-edge arrays into a :class:`WalkNetwork`.

    Parameters
    ----------
    node_ids
        The nodes' OSM ids, in the source's node order.
    node_geoms
        Their Points, in `crs`.
    frame
        One row per directed edge, in the source's edge order: ``u`` and ``v`` (node
        positions) and the normalised tags (``highway``, ``name``, ``bridge``, ``tunnel``,
        ``wheelchair``, ``incline``).
    edge_geoms
        The edges' LineStrings in `crs`, running from ``u`` to ``v``.
    crs
        The metric CRS of the geometries.
    source
        Where the graph came from, recorded in ``info``.

    Returns
    -------
    network
        Walkable edges only, reciprocal edges merged, largest component, nodes in
        Hilbert-curve order.
    """
    from scipy.sparse.csgraph import connected_components

    n_edges_in = len(frame)
    keep = _walkable(frame["highway"].to_numpy())
    frame = frame[keep]
    geoms = edge_geoms[keep]
    u = frame["u"].to_numpy()
    v = frame["v"].to_numpy()
    flip = u > v
    geoms[flip] = shapely.reverse(geoms[flip])
    frame = pd.DataFrame({
        "u": np.minimum(u, v), "v": np.maximum(u, v),
        **{col: frame[col].to_numpy() for col in _TAG_COLUMNS},
    })
    frame["length_m"] = shapely.length(geoms)
    # osmnx stores each two-way street twice (u->v and v->u); keep one.
    dup = frame.assign(_len=frame["length_m"].round(1)).duplicated(["u", "v", "_len"])
    frame, geoms = frame[~dup.to_numpy()], geoms[~dup.to_numpy()]
    n_all = len(node_ids)
    csr = undirected_csr(frame["u"].to_numpy(), frame["v"].to_numpy(),
                         frame["length_m"].to_numpy(), n_all)
    n_comp, labels = connected_components(csr, directed=False)
    # isolated nodes (no walkable edge) count as components of their own
    has_edge = np.zeros(n_all, dtype=bool)
    has_edge[frame["u"].to_numpy()] = True
    has_edge[frame["v"].to_numpy()] = True
    sizes = np.bincount(labels[has_edge], minlength=n_comp)
    main = int(np.argmax(sizes))
    keep_node = (labels == main) & has_edge
    kept = _spatial_order(node_geoms, np.flatnonzero(keep_node))
    new_pos = np.full(n_all, -1, dtype=np.int64)
    new_pos[kept] = np.arange(len(kept))
    keep_edge = keep_node[frame["u"].to_numpy()]
    dropped = _dropped_pieces(frame[~keep_edge], geoms[~keep_edge],
                              labels[frame["u"].to_numpy()[~keep_edge]], crs)
    frame = frame[keep_edge].copy()
    geoms = geoms[keep_edge]
    u, v = new_pos[frame["u"].to_numpy()], new_pos[frame["v"].to_numpy()]
    flip = u > v
    geoms[flip] = shapely.reverse(geoms[flip])
    frame["u"] = np.minimum(u, v)
    frame["v"] = np.maximum(u, v)
    out_edges = gpd.GeoDataFrame(frame.reset_index(drop=True), geometry=geoms, crs=crs)
    out_nodes = gpd.GeoDataFrame({"osmid": node_ids[kept]}, geometry=node_geoms[kept], crs=crs)
    info = {
        "source": source,
        "crs": crs.to_string(),
        "nodes": len(out_nodes),
        "edges": len(out_edges),
        "directed_edges_in_source": n_edges_in,
        "components_dropped": int((sizes > 0).sum() - 1),
        "nodes_dropped": int(n_all - keep_node.sum()),
        "length_km": round(float(frame["length_m"].sum()) / 1000.0, 3),
        "length_km_dropped": round(float(dropped["length_m"].sum()) / 1000.0, 3),
    }
    logger.info("Built walking network: %s nodes, %s edges in %s (%s pieces not connected to "
                "the largest dropped: %s km of streets, %s nodes)", f"{info['nodes']:,}",
                f"{info['edges']:,}", info["crs"], info["components_dropped"],
                f"{info['length_km_dropped']:,.2f}", f"{info['nodes_dropped']:,}")
    return WalkNetwork(nodes=out_nodes, edges=out_edges, crs=crs, info=info, dropped=dropped)


def _dropped_pieces(frame: pd.DataFrame, geoms: npt.NDArray[np.object_],
                    labels: npt.NDArray[np.int64], crs: CRS) -> gpd.GeoDataFrame:
    """Return the edges of the dropped pieces, numbered 1, 2, ... from the longest piece."""
    length = frame["length_m"].to_numpy(np.float64)
    codes, uniques = pd.factorize(labels)
    total = np.bincount(codes, weights=length, minlength=len(uniques))
    rank = np.empty(len(uniques), dtype=np.int64)
    rank[np.lexsort((uniques, -total))] = np.arange(1, len(uniques) + 1)
    return gpd.GeoDataFrame({
        "piece": rank[codes] if len(codes) else np.array([], dtype=np.int64),
        "highway": frame["highway"].to_numpy(), "name": frame["name"].to_numpy(),
        "length_m": length,
    }, geometry=geoms, crs=crs)


def _check_node_coordinates(G: nx.MultiDiGraph, source: str) -> None:
    """Every node needs finite ``x`` and ``y`` (osmnx raises a bare KeyError otherwise).

    networkx adds a node that only an edge names with no attributes at all, so a
    graph read from a file with an edge to an undeclared node fails here too.
    """
    import networkx as nx  # here, not at import: `import sharemap` stays light

    for name in ("x", "y"):
        values = nx.get_node_attributes(G, name)
        for node in G.nodes:
            value = values.get(node)
            try:
                ok = value is not None and math.isfinite(float(value))
            except (TypeError, ValueError):
                ok = False
            if not ok:
                why = (f"has no {name!r} coordinate" if value is None else
                       f"has {name} = {value!r}, not a finite number")
                hint = (" (an edge names a node the file does not declare?)" if not G.nodes[node]
                        else "")
                msg = f"{source}: node {node} {why}{hint}; every node needs x and y"
                raise InputDataError(msg)


def network_from_graph(G: nx.MultiDiGraph, *, crs: Any = "EPSG:5186",
                       source: str = "graph") -> WalkNetwork:
    """Prepare an osmnx graph as a :class:`WalkNetwork`.

    Parameters
    ----------
    G
        An osmnx graph (``MultiDiGraph`` with node ``x``/``y`` and a ``crs`` graph attribute).
    crs
        The metric CRS to project to.
    source
        Where the graph came from, recorded in ``info``.

    Returns
    -------
    network
        Undirected, projected, reciprocal edges merged, non-walkable ways removed,
        largest connected component only.

    Notes
    -----
    Edge lengths are the projected geometry lengths, so that distances along an
    edge (used by snapping) and edge weights agree exactly.
    """
    target = require_projected(crs, "network crs")
    _check_node_coordinates(G, source)
    nodes, edges = _edge_frame(G, target)
    pos = pd.Series(np.arange(len(nodes)), index=nodes.index)
    frame = pd.DataFrame({
        "u": pos.reindex(edges["u"]).to_numpy(), "v": pos.reindex(edges["v"]).to_numpy(),
        **{col: edges[col].to_numpy() for col in _TAG_COLUMNS},
    })
    return _prepare(nodes.index.to_numpy(), nodes.geometry.to_numpy(), frame,
                    edges.geometry.to_numpy(), crs=target, source=source)


# --------------------------------------------------------------------------- sources


def _check_file(path: str | Path, what: str) -> Path:
    p = Path(path)
    if not p.is_file():
        msg = f"{p}: {what} file not found"
        raise InputDataError(msg)
    return p


def network_from_graphml(path: str | Path, *, crs: Any = "EPSG:5186") -> WalkNetwork:
    """Load an osmnx GraphML file (e.g. saved by ``ox.save_graphml``).

    Parameters
    ----------
    path
        The ``.graphml`` file.
    crs
        The metric CRS to project to.

    Returns
    -------
    network
        The prepared walking network.

    Raises
    ------
    InputDataError
        When the file is not an osmnx GraphML file (or lacks its ``crs``).

    Notes
    -----
    The file is streamed into arrays (see :mod:`sharemap._graphml`) instead of
    being loaded as a networkx graph: the network is the same as
    ``network_from_graph(osmnx.load_graphml(path))`` gives, several times faster
    and in less memory. GraphML that only osmnx's general reader handles exactly
    (e.g. an undirected graph) is read with osmnx.
    """
    p = _check_file(path, "GraphML")
    target = require_projected(crs, "network crs")
    try:
        return _network_from_graphml_arrays(p, target)
    except _graphml.UnsupportedGraphMLError as exc:
        logger.info("%s: reading it with osmnx instead", exc)
    return _network_from_graphml_osmnx(p, crs=target)


def _network_from_graphml_arrays(p: Path, target: CRS) -> WalkNetwork:
    """:func:`network_from_graphml` through the streaming reader."""
    arrays = _graphml.read_graphml(p, edge_tags=_TAG_COLUMNS)
    for what, n in (("nodes", len(arrays.node_id)), ("edges", arrays.n_edges)):
        if n == 0:
            msg = f"{p}: the graph has no {what}"
            raise InputDataError(msg)
    try:
        source_crs = CRS.from_user_input(arrays.crs)
        lines = _graphml.edge_lines(arrays)
        tags = {col: _norm_raw_tags(arrays.tags[col]) for col in _TAG_COLUMNS}
    except Exception as exc:
        msg = f"{p}: not a readable osmnx GraphML file ({type(exc).__name__}: {exc})"
        raise InputDataError(msg) from None
    # the same projection as GeoDataFrame.to_crs (osmnx's graph_to_gdfs path)
    node_geoms = gpd.GeoSeries(shapely.points(arrays.x, arrays.y), crs=source_crs)
    edge_geoms = gpd.GeoSeries(lines, crs=source_crs)
    frame = pd.DataFrame({"u": arrays.u, "v": arrays.v, **tags})
    return _prepare(arrays.node_id, node_geoms.to_crs(target).to_numpy(), frame,
                    edge_geoms.to_crs(target).to_numpy(), crs=target, source=str(p))


def _norm_raw_tags(raw: npt.NDArray[np.object_]) -> npt.NDArray[np.object_]:
    """:func:`_norm_tag` of GraphML attribute strings (None: missing), once per value."""
    codes, uniques = pd.factorize(raw)
    table = [_norm_tag(_graphml.osmnx_value(str(value))) for value in uniques]
    return np.array([*table, ""], dtype=object)[codes]


def _network_from_graphml_osmnx(path: str | Path, *, crs: Any = "EPSG:5186") -> WalkNetwork:
    """:func:`network_from_graphml` through ``osmnx.load_graphml`` (the reference path).

    Kept for files the streaming reader leaves to osmnx, and to check that reader
    against osmnx in tests and benchmarks.
    """
    import osmnx as ox

    p = _check_file(path, "GraphML")
    try:
        G = ox.load_graphml(p)
    except Exception as exc:
        msg = f"{p}: not a readable osmnx GraphML file ({type(exc).__name__}: {exc})"
        raise InputDataError(msg) from None
    return network_from_graph(G, crs=crs, source=str(p))


def network_from_osm_xml(path: str | Path, *, crs: Any = "EPSG:5186") -> WalkNetwork:
    """Load an OSM XML file (``.osm``, optionally ``.bz2``) with osmnx.

    Parameters
    ----------
    path
        The OSM XML file.
    crs
        The metric CRS to project to.

    Returns
    -------
    network
        The prepared walking network (every way made two-way, as for walking).

    Examples
    --------
    >>> from sharemap.datasets import demo_dir
    >>> net = network_from_osm_xml(demo_dir() / "walk.osm")
    >>> net.info["components_dropped"]
    0
    """
    import osmnx as ox

    from ._osm import way_tags

    p = _check_file(path, "OSM XML")
    try:
        with way_tags(_TAG_COLUMNS):  # osmnx keeps only the tags it is told to
            G = ox.graph_from_xml(p, bidirectional=True, simplify=False, retain_all=True)
    except Exception as exc:
        msg = f"{p}: not a readable OSM XML file ({type(exc).__name__}: {exc})"
        raise InputDataError(msg) from None
    # filter before simplifying: simplification would merge a motorway into the
    # street it continues, and the merged edge would then pass the filter
    drop = [(u, v, k) for u, v, k, hw in G.edges(keys=True, data="highway")
            if not _is_walkable(_norm_tag(hw))]
    G.remove_edges_from(drop)
    G.remove_nodes_from([n for n in list(G.nodes) if G.degree(n) == 0])
    if len(G) == 0:
        msg = f"{p}: no walkable ways (highway=...) in the file"
        raise InputDataError(msg)
    return network_from_graph(ox.simplify_graph(G), crs=crs, source=str(p))


def network_from_osm_pbf(path: str | Path, *, crs: Any = "EPSG:5186") -> WalkNetwork:
    """Load an OSM PBF extract by converting it to OSM XML with pyosmium.

    Raises
    ------
    MissingDependencyError
        When ``osmium`` (pyosmium) is not installed.
    """
    p = _check_file(path, "OSM PBF")
    try:
        import osmium  # noqa: F401
    except ImportError:
        msg = "reading .osm.pbf needs pyosmium: pip install osmium (or convert to .osm XML)"
        raise MissingDependencyError(msg) from None
    import tempfile

    from ._pbf import pbf_to_xml

    with tempfile.TemporaryDirectory() as tmp:
        xml = pbf_to_xml(p, Path(tmp) / "extract.osm")
        net = network_from_osm_xml(xml, crs=crs)
    return WalkNetwork(nodes=net.nodes, edges=net.edges, crs=net.crs,
                       info={**net.info, "source": str(p)}, dropped=net.dropped)


def network_from_place(place: str, *, crs: Any = "EPSG:5186") -> WalkNetwork:
    """Download the OSM walk network of a named place (cached on disk).

    Raises
    ------
    NetworkDownloadError
        When the download fails (offline, refused, place not found).
    """
    from ._osm import download_walk_graph

    return network_from_graph(download_walk_graph(place=place), crs=crs,
                              source=f"place:{place}")


def network_from_bbox(bbox: tuple[float, float, float, float], *,
                      crs: Any = "EPSG:5186") -> WalkNetwork:
    """Download the OSM walk network inside ``(west, south, east, north)`` degrees (cached)."""
    from ._osm import download_walk_graph

    return network_from_graph(download_walk_graph(bbox=bbox), crs=crs,
                              source=f"bbox:{','.join(str(b) for b in bbox)}")


#: Bump when the prepared network's content or the cache entry layout changes.
_CACHE_FORMAT = 3
_FILE_SOURCES = ("graphml", "osm_xml", "osm_pbf")


def _cache_key(kind: str, value: Any, target: CRS) -> tuple[str, str] | None:
    """Name the cache entry of a prepared network: ``(prefix, key)``; None if unreadable.

    The key hashes what the network depends on: for a file, its *content*
    (:func:`sharemap._cache.file_digest`; a file edited in place keeps its size and
    may keep its modification time), else the place name or bounding box; the CRS;
    the versions of sharemap and osmnx; and the code of this module and of the
    GraphML reader. The prefix names the source, so a newer version of the same
    file replaces the older entry instead of piling up beside it.
    """
    import hashlib
    import json

    code = hashlib.sha256(Path(__file__).read_bytes())
    code.update(Path(_graphml.__file__).read_bytes())  # the GraphML reader's code too
    parts: dict[str, Any] = {"format": _CACHE_FORMAT, "kind": kind, "crs": target.to_wkt(),
                             "sharemap": package_version("sharemap"),
                             "osmnx": package_version("osmnx"),
                             "code": code.hexdigest()}
    if kind in _FILE_SOURCES:
        try:
            p = Path(value).resolve()
            parts["sha256"] = _cache.file_digest(p)
        except OSError:
            return None
        ident = str(p)
    else:
        ident = json.dumps(value if isinstance(value, str) else list(value))
        parts["value"] = ident
    slug = hashlib.sha256(f"{kind}:{ident}".encode()).hexdigest()[:12]
    key = hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()[:16]
    return f"{slug}-", f"{slug}-{key}"


def _network_arrays(net: WalkNetwork) -> dict[str, Any] | None:
    """Encode `net` as plain arrays (no pickle); None if it cannot be."""
    import json

    geoms = net.edges.geometry.to_numpy()
    if len(geoms) and not (shapely.get_type_id(geoms) == 1).all():
        return None
    arrays: dict[str, Any] = {}
    osmid = net.nodes["osmid"].to_numpy()
    if osmid.dtype.kind in "iu":
        arrays["osmid"] = osmid.astype(np.int64)
    else:
        arrays["osmid_str"] = osmid.astype(str)
    for col in _TAG_COLUMNS:
        codes, values = pd.factorize(net.edges[col])
        if (codes < 0).any():
            return None
        arrays[f"{col}_codes"] = codes.astype(np.int32)
        arrays[f"{col}_values"] = np.asarray(values, dtype=str)
    coords, index = shapely.get_coordinates(geoms, return_index=True)
    if net.dropped is not None:
        d_geoms = net.dropped.geometry.to_numpy()
        if len(d_geoms) and not (shapely.get_type_id(d_geoms) == 1).all():
            return None
        d_xy, d_index = shapely.get_coordinates(d_geoms, return_index=True)
        arrays.update(dropped_xy=d_xy, dropped_index=d_index.astype(np.int64),
                      dropped_piece=net.dropped["piece"].to_numpy(np.int64),
                      dropped_length_m=net.dropped["length_m"].to_numpy(np.float64),
                      dropped_highway=net.dropped["highway"].to_numpy(dtype=str),
                      dropped_name=net.dropped["name"].to_numpy(dtype=str))
    arrays.update(
        node_xy=shapely.get_coordinates(net.nodes.geometry.to_numpy()), edge_xy=coords,
        edge_index=index.astype(np.int64), u=net.edge_u, v=net.edge_v,
        length_m=net.edge_length, crs=np.array(net.crs.to_wkt()),
        info=np.array(json.dumps(net.info)),
    )
    return arrays


def _network_from_arrays(z: dict[str, Any]) -> WalkNetwork:
    """Decode what :func:`_network_arrays` encoded."""
    import json

    crs = CRS.from_wkt(str(z["crs"]))
    osmid = z["osmid"] if "osmid" in z else z["osmid_str"].astype(object)
    nodes = gpd.GeoDataFrame({"osmid": osmid}, geometry=shapely.points(z["node_xy"]), crs=crs)
    frame = pd.DataFrame({"u": z["u"], "v": z["v"]})
    for col in _TAG_COLUMNS:
        frame[col] = z[f"{col}_values"].astype(object)[z[f"{col}_codes"]]
        frame[col] = frame[col].astype(str)
    frame["length_m"] = z["length_m"]
    lines = shapely.linestrings(z["edge_xy"], indices=z["edge_index"])
    if len(lines) != len(frame):
        msg = f"{len(lines)} edge lines for {len(frame)} edges"
        raise ValueError(msg)
    edges = gpd.GeoDataFrame(frame, geometry=lines, crs=crs)
    info = json.loads(str(z["info"]))
    dropped = None
    if "dropped_piece" in z:
        d_lines = (shapely.linestrings(z["dropped_xy"], indices=z["dropped_index"])
                   if len(z["dropped_piece"]) else np.array([], dtype=object))
        dropped = gpd.GeoDataFrame({
            "piece": z["dropped_piece"], "highway": z["dropped_highway"].astype(object),
            "name": z["dropped_name"].astype(object), "length_m": z["dropped_length_m"],
        }, geometry=d_lines, crs=crs)
    return WalkNetwork(nodes=nodes, edges=edges, crs=crs, info=info, dropped=dropped)


def _network_and_crs(config: NetworkConfig | StudyConfig, crs: Any
                     ) -> tuple[NetworkConfig, CRS]:
    """Return the network source and the projected CRS of a :func:`load_network` call.

    The deprecated calls (a whole study, or no CRS) still work for one release,
    with a FutureWarning that names the replacement.
    """
    from .config import NetworkConfig, StudyConfig

    if isinstance(config, StudyConfig):
        warnings.warn("load_network(study_config) is deprecated: pass "
                      "load_network(config.network, config.crs)", FutureWarning, stacklevel=3)
        return config.network, require_projected(config.crs if crs is None else crs,
                                                 "network crs")
    if not isinstance(config, NetworkConfig):
        msg = f"`config` must be a NetworkConfig (a study's `config.network`), not {config!r}"
        raise TypeError(msg)
    if crs is None:
        warnings.warn("load_network(network_config) without a CRS is deprecated (EPSG:5186 "
                      "is assumed): pass load_network(config.network, config.crs)",
                      FutureWarning, stacklevel=3)
        crs = "EPSG:5186"
    return config, require_projected(crs, "network crs")


def _read_source(config: NetworkConfig, crs: CRS) -> WalkNetwork:
    """Read and prepare the network `config` names (no cache)."""
    if config.source == "graphml":
        return network_from_graphml(config.value, crs=crs)
    if config.source == "osm_xml":
        return network_from_osm_xml(config.value, crs=crs)
    if config.source == "osm_pbf":
        return network_from_osm_pbf(config.value, crs=crs)
    if config.source == "place":
        return network_from_place(config.value, crs=crs)
    return network_from_bbox(config.value, crs=crs)


def load_network(config: NetworkConfig, crs: Any = None, *,
                 cache: bool = True) -> WalkNetwork:
    """Load the walking network a study names (from the cache when it can).

    Parameters
    ----------
    config
        Where the network comes from: a study's ``config.network``.
    crs
        The metric CRS to project to: a study's ``config.crs`` (anything
        :class:`pyproj.CRS` accepts). Passing a whole
        :class:`~sharemap.config.StudyConfig` as `config`, or no `crs`, is
        deprecated (FutureWarning) and will be removed in the next release.
    cache
        Keep the prepared network in the user cache folder
        (``sharemap._cache.cache_dir() / "networks"``; ``SHAREMAP_CACHE_DIR`` overrides)
        and read it from there next time.

    Returns
    -------
    network
        The prepared walking network. ``info["cache"]`` says ``"hit"``, ``"miss"``
        (built and saved) or ``"off"``.

    Notes
    -----
    Reading and projecting an OSM file dominates a study's run time; the prepared
    network (node and edge arrays, no pickle) loads in a fraction of it. The cache
    entry is keyed on the source file's content (SHA-256 of its bytes; or the
    place name or bounding box), the CRS and the software versions, so a changed
    file or CRS is read afresh; entries for an older version of the same source
    are removed. An unreadable entry is logged as a warning and rebuilt. A
    downloaded place is cached like osmnx caches its responses: clear
    the folder to fetch OpenStreetMap again.

    Examples
    --------
    >>> from sharemap import read_config
    >>> from sharemap.datasets import get_path
    >>> config = read_config(get_path("demo"))
    >>> net = load_network(config.network, config.crs, cache=False)
    >>> net.crs.to_epsg()
    5186
    """
    net_cfg, target = _network_and_crs(config, crs)
    named = _cache_key(net_cfg.source, net_cfg.value, target) if cache else None
    if named is None:
        net, status = _read_source(net_cfg, target), "off"
    else:
        prefix, key = named

        def unchanged() -> bool:  # the file was not edited while it was being read
            return _cache_key(net_cfg.source, net_cfg.value, target) == named

        net, status = _cache.cached(
            "networks", key, lambda: _read_source(net_cfg, target),
            what="prepared walking network",
            codec=_cache.Codec(_network_arrays, _network_from_arrays), replaces=prefix,
            keep=unchanged if net_cfg.source in _FILE_SOURCES else lambda: True)
    return WalkNetwork(nodes=net.nodes, edges=net.edges, crs=net.crs,
                       info={**net.info, "cache": status}, dropped=net.dropped,
                       snap_exclude=tuple(net_cfg.snap_exclude))
