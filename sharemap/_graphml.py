"""A fast reader for osmnx GraphML files, straight into arrays.

``osmnx.load_graphml`` builds a networkx ``MultiDiGraph`` from an ElementTree of
the whole document and then parses every edge's WKT one by one; for a city-size
network that takes most of a minute. This module streams the XML through expat,
keeps only what a walking network needs (node ids and coordinates, edge ends,
geometry WKT and a few tags, the graph's ``crs``) and returns plain arrays.

The arrays mean exactly what osmnx's graph would: nodes in document order, edges
in the order networkx iterates a ``MultiDiGraph`` (by source node, then by the
first appearance of each target, then by document order). Files that rely on
GraphML features osmnx's reader treats in some special way (undirected graphs,
nested graphs, repeated node ids or edge keys, typed keys, yFiles data) raise
:class:`UnsupportedGraphMLError`, so that the caller can read them the slow, general
way instead. Files that osmnx cannot read either (a node without ``x``/``y``, an
edge to a node the file does not declare) raise :class:`InputDataError` naming the
node.
"""

from __future__ import annotations

import ast
import gc
import logging
from array import array
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from xml.parsers import expat

import numpy as np
import numpy.typing as npt
import pandas as pd
import shapely

from ._errors import InputDataError

__all__ = ["GraphMLArrays", "UnsupportedGraphMLError", "edge_lines", "osmnx_value",
           "read_graphml"]

logger = logging.getLogger(__name__)

NS = "http://graphml.graphdrawing.org/xmlns"
_SEP = " "
_GRAPHML, _KEY, _GRAPH, _NODE, _EDGE, _DATA, _DESC, _DEFAULT = (
    f"{NS}{_SEP}{tag}" for tag in ("graphml", "key", "graph", "node", "edge", "data", "desc",
                                   "default"))

#: Edge attributes read by default (besides ``geometry``): what the walking network keeps.
#: ``wheelchair`` and ``incline`` serve the mobility profiles (:mod:`sharemap.profiles`);
#: osmnx keeps them only when they are in ``ox.settings.useful_tags_way``.
EDGE_TAGS = ("highway", "name", "bridge", "tunnel", "wheelchair", "incline")
#: GraphML ``attr.type`` values whose text networkx keeps as the string itself.
_STRING_TYPES = frozenset({None, "string"})
#: ... and those it converts with ``float`` (the same as osmnx's own ``float`` on a string).
_FLOAT_TYPES = frozenset({None, "string", "float", "double"})
_CHUNK = 1 << 20


class UnsupportedGraphMLError(Exception):
    """The file is GraphML this reader does not reproduce osmnx's reading of; use osmnx."""


@dataclass(frozen=True, eq=False)
class GraphMLArrays:
    """The parts of an osmnx GraphML file a walking network needs, as arrays.

    Attributes
    ----------
    crs
        The graph's ``crs`` attribute, as written (e.g. ``"epsg:4326"``).
    node_id
        Node ids (osmnx's ``osmid``), in document order.
    x, y
        Node coordinates in `crs`.
    u, v
        Edge end node positions (rows of `node_id`), in networkx's edge order.
    geometry
        Edge geometry WKT (None where the edge has none: a straight line ``u -> v``).
    tags
        Raw edge attribute strings by name (None where missing).
    graph
        Every graph-level attribute, as strings.
    """

    crs: str
    node_id: npt.NDArray[np.int64]
    x: npt.NDArray[np.float64]
    y: npt.NDArray[np.float64]
    u: npt.NDArray[np.int64]
    v: npt.NDArray[np.int64]
    geometry: npt.NDArray[np.object_]
    tags: dict[str, npt.NDArray[np.object_]]
    graph: dict[str, str]

    @property
    def n_edges(self) -> int:
        """Number of directed edges in the file."""
        return len(self.u)


def osmnx_value(value: str) -> Any:
    """Convert an attribute string as ``osmnx.load_graphml`` does before its dtype step.

    Parameters
    ----------
    value
        The attribute's text in the file.

    Returns
    -------
    value
        A list, set or dict where the text looks like one (``"['residential',
        'service']"``) and is a valid Python literal; else the text unchanged.
    """
    if (value.startswith("[") and value.endswith("]")) or (
            value.startswith("{") and value.endswith("}")):
        try:
            return ast.literal_eval(value)
        except (SyntaxError, ValueError):
            return value
    return value


# ----------------------------------------------------------------------- the parse


class _Keys:
    """GraphML ``<key>`` declarations, and which ids the parse may skip."""

    def __init__(self, node_names: frozenset[str], edge_names: frozenset[str]) -> None:
        self.names: dict[str, str] = {}
        self.types: dict[str, str | None] = {}
        self.node_names, self.edge_names = node_names, edge_names
        self.node_skip: set[str] = set()
        self.edge_skip: set[str] = set()

    def declare(self, attrs: dict[str, str]) -> None:
        key_id, name = attrs.get("id"), attrs.get("attr.name")
        if key_id is None or key_id in self.names or "yfiles.type" in attrs:
            raise UnsupportedGraphMLError(f"an unusual <key> declaration ({attrs})")
        if name is None:
            msg = f"the GraphML key {key_id!r} has no attr.name"
            raise _BadGraphML(msg)
        if name == "key":
            raise UnsupportedGraphMLError("an attribute named 'key' (networkx edge keys)")
        self.names[key_id] = name
        self.types[key_id] = attrs.get("attr.type")
        if name not in self.node_names:
            self.node_skip.add(key_id)
        if name not in self.edge_names:
            self.edge_skip.add(key_id)

    def check_type(self, key_id: str, name: str) -> None:
        allowed = _FLOAT_TYPES if name in ("x", "y") else _STRING_TYPES
        if self.types[key_id] not in allowed:
            msg = f"the {name!r} key has attr.type={self.types[key_id]!r}"
            raise UnsupportedGraphMLError(msg)


class _BadGraphML(Exception):
    """The document cannot be an osmnx GraphML file (turned into InputDataError)."""


_Store = dict[str, tuple["array[int]", list[str]]]

# where a <data> element belongs
_NOWHERE, _IN_NODE, _IN_EDGE, _IN_GRAPH, _AFTER_GRAPH = range(5)


class _Handler:
    """What the expat callbacks collect: node ids, edge ends, and the data by key id."""

    def __init__(self, keys: _Keys) -> None:
        self.keys = keys
        self.node_ids: list[str] = []
        self.sources: list[str] = []
        self.targets: list[str] = []
        self.edge_ids: list[str | None] = []
        self.node_data: _Store = {}
        self.edge_data: _Store = {}
        self.graph_data: dict[str, str] = {}
        self.text: list[str] = []
        self.graphs = 0

    def other(self, name: str, attrs: dict[str, str], owner: int) -> int:
        """Handle the rare elements (not node, edge or data); return the new owner."""
        if name == _KEY:
            if owner in (_IN_NODE, _IN_EDGE, _IN_GRAPH):
                raise UnsupportedGraphMLError("a <key> inside the <graph>")
            self.keys.declare(attrs)
        elif name == _GRAPH:
            self.graphs += 1
            if self.graphs > 1 or owner != _NOWHERE:
                raise UnsupportedGraphMLError("more than one or a nested <graph>")
            if attrs.get("edgedefault") != "directed":
                raise UnsupportedGraphMLError("an undirected graph")
            return _IN_GRAPH
        elif name == _GRAPHML:
            if self.graphs or self.keys.names:
                raise UnsupportedGraphMLError("a nested <graphml>")
        elif name not in (_DESC, _DEFAULT):
            tag = name.rsplit(_SEP, maxsplit=1)[-1]
            raise UnsupportedGraphMLError(f"an unexpected element <{tag}>")
        return owner


def _callbacks(h: _Handler) -> tuple[Any, Any]:  # noqa: C901 (one hot path, kept flat)
    """Return expat's start and end element callbacks, filling `h`.

    These run once per XML element, millions of times for a city, so they are
    closures over local names (no attribute look-ups) and do as little as they can.
    Character data goes straight into ``h.text`` (a C-level ``list.append``); a
    ``<data>`` start clears it and its end joins what came in between.
    """
    text, node_ids, sources, targets, edge_ids = (h.text, h.node_ids, h.sources, h.targets,
                                                   h.edge_ids)
    clear, join = text.clear, "".join
    edge_data, node_data, graph_data = h.edge_data, h.node_data, h.graph_data
    edge_skip, node_skip = h.keys.edge_skip, h.keys.node_skip
    owner, key, in_data = _NOWHERE, "", False

    def start(name: str, attrs: list[str]) -> None:
        # attrs is [name, value, name, value, ...] (expat's ordered_attributes)
        nonlocal owner, key, in_data
        if in_data:
            raise UnsupportedGraphMLError("an element inside <data> (yFiles data?)")
        if name == _DATA:
            key = attrs[1] if len(attrs) == 2 and attrs[0] == "key" else _data_key(attrs)
            in_data = True
            clear()
        elif name == _EDGE:
            # networkx writes source, target, id
            if len(attrs) == 6 and attrs[0] == "source" and attrs[2] == "target" and \
                    attrs[4] == "id":
                sources.append(attrs[1])
                targets.append(attrs[3])
                edge_ids.append(attrs[5])
            else:
                _edge(_as_dict(attrs), sources, targets, edge_ids)
            owner = _IN_EDGE
            clear()
        elif name == _NODE:
            node_ids.append(attrs[1] if len(attrs) == 2 and attrs[0] == "id" else
                            _as_dict(attrs)["id"])
            owner = _IN_NODE
            clear()
        else:
            owner = h.other(name, _as_dict(attrs), owner)

    def end(name: str) -> None:
        nonlocal owner, in_data
        if name == _DATA:
            in_data = False
            if owner == _IN_EDGE:
                if key not in edge_skip:
                    slot = edge_data.get(key) or _slot(edge_data, key)
                    slot[0].append(len(sources) - 1)
                    slot[1].append(join(text))
            elif owner == _IN_NODE:
                if key not in node_skip:
                    slot = node_data.get(key) or _slot(node_data, key)
                    slot[0].append(len(node_ids) - 1)
                    slot[1].append(join(text))
            elif owner == _IN_GRAPH:
                graph_data[key] = join(text)
        elif name in (_EDGE, _NODE):
            owner = _IN_GRAPH
        elif name == _GRAPH:
            owner = _AFTER_GRAPH

    return start, end


def _as_dict(attrs: list[str]) -> dict[str, str]:
    return dict(zip(attrs[::2], attrs[1::2], strict=True))


def _data_key(attrs: list[str]) -> str:
    return _as_dict(attrs).get("key", "")


def _edge(attrs: dict[str, str], sources: list[str], targets: list[str],
          edge_ids: list[str | None]) -> None:
    """Collect an ``<edge>`` whose attributes are not networkx's ``source target id``."""
    sources.append(attrs["source"])
    targets.append(attrs["target"])
    edge_ids.append(attrs.get("id"))
    if attrs.get("directed") == "false":
        raise UnsupportedGraphMLError("an undirected edge in a directed graph")


def _parse(path: Path, keys: _Keys) -> _Handler:
    """Stream the XML through expat; return what the callbacks collected."""
    parser = expat.ParserCreate(namespace_separator=_SEP)
    parser.buffer_text = True
    parser.buffer_size = 1 << 16
    parser.ordered_attributes = True  # lists: cheaper than dicts, and the order is known
    handler = _Handler(keys)
    parser.StartElementHandler, parser.EndElementHandler = _callbacks(handler)
    parser.CharacterDataHandler = handler.text.append
    # millions of small objects and no reference cycles: the cyclic garbage
    # collector would only rescan them (a fifth of the parse time)
    gc_was_on = gc.isenabled()
    gc.disable()
    try:
        with path.open("rb") as f:
            first = f.read(_CHUNK)
            _check_root(first)
            parser.Parse(first, False)
            while chunk := f.read(_CHUNK):
                parser.Parse(chunk, False)
            parser.Parse(b"", True)
    except KeyError as exc:
        msg = f"a <node> or <edge> without the attribute {exc} (line {parser.CurrentLineNumber})"
        raise _BadGraphML(msg) from None
    finally:
        if gc_was_on:
            gc.enable()
    if not handler.graphs:
        msg = "no <graph> element in the GraphML namespace (file not successfully read as graphml)"
        raise _BadGraphML(msg)
    return handler


def _slot(store: _Store, key: str) -> tuple[array[int], list[str]]:
    slot = store[key] = (array("q"), [])
    return slot


def _check_root(head: bytes) -> None:
    """Refuse early what is plainly no GraphML (say an ``.osm`` file), before a long parse."""
    probe = expat.ParserCreate(namespace_separator=_SEP)
    root: list[str] = []

    class _Found(Exception):
        pass

    def first(name: str, _attrs: dict[str, str]) -> None:
        root.append(name)
        raise _Found

    probe.StartElementHandler = first
    try:
        probe.Parse(head, not head)
    except _Found:
        pass
    if root and root[0] != _GRAPHML:
        tag = root[0].split(_SEP)
        what = f"<{tag[-1]}>" + (f" in namespace {tag[0]}" if len(tag) > 1 else "")
        msg = f"the root element is {what}, not <graphml> in the GraphML namespace {NS}"
        raise _BadGraphML(msg)


# ---------------------------------------------------------------------- assembling


def _ints(values: list[str], what: str) -> npt.NDArray[np.int64]:
    """Convert ids as ``int()`` does (osmnx reads node ids with ``node_type=int``)."""
    try:
        return np.fromiter(map(int, values), dtype=np.int64, count=len(values))
    except ValueError as exc:
        msg = f"a {what} is not an integer OSM id ({exc})"
        raise _BadGraphML(msg) from None
    except OverflowError:
        raise UnsupportedGraphMLError(f"a {what} beyond 64-bit integers") from None


def _column(store: _Store, keys: _Keys, name: str, n: int) -> npt.NDArray[np.object_]:
    """One attribute's values by row (None where missing), from every key of that name."""
    ids = [k for k in store if keys.names.get(k) == name]
    out = np.full(n, None, dtype=object)
    if not ids:
        return out
    for k in ids:
        keys.check_type(k, name)
    rows = np.concatenate([np.frombuffer(store[k][0], dtype=np.int64) for k in ids])
    # rows of one key come in document order; an element with a key twice repeats a row
    if (np.diff(rows if len(ids) == 1 else np.sort(rows)) == 0).any():
        raise UnsupportedGraphMLError(f"an element with two {name!r} values")
    values = [value for k in ids for value in store[k][1]] if len(ids) > 1 else store[ids[0]][1]
    out[rows] = np.array(values, dtype=object)
    return out


def _coordinates(store: _Store, keys: _Keys, ids: list[str]
                 ) -> tuple[npt.NDArray[np.float64], ...]:
    """Node x and y; a node without a finite number for either is an error naming it.

    osmnx cannot read such a node either (``graph_to_gdfs`` raises a KeyError), so
    the file is refused here rather than handed over.
    """
    n = len(ids)
    out = []
    for name in ("x", "y"):
        col = _column(store, keys, name, n)
        missing = np.flatnonzero(col == None)  # noqa: E711 (elementwise)
        if len(missing):
            more = f" (and {len(missing) - 1} more)" if len(missing) > 1 else ""
            msg = (f"node {ids[missing[0]]}{more} has no {name!r} coordinate; every node "
                   "needs x and y")
            raise _BadGraphML(msg)
        try:
            values = np.fromiter(map(float, col), dtype=np.float64, count=n)
        except ValueError as exc:
            msg = f"a node {name!r} value is not a number ({exc})"
            raise _BadGraphML(msg) from None
        bad = np.flatnonzero(~np.isfinite(values))
        if len(bad):
            msg = f"node {ids[bad[0]]} has {name} = {col[bad[0]]!r}, not a finite number"
            raise _BadGraphML(msg)
        out.append(values)
    return tuple(out)


def _edge_order(u: npt.NDArray[np.int64], v: npt.NDArray[np.int64], n_nodes: int,
                edge_ids: list[str | None]) -> npt.NDArray[np.int64]:
    """Return the order in which networkx iterates the edges of the ``MultiDiGraph``.

    networkx keeps, per source node, its targets in the order they first appear,
    and per ``(u, v)`` the keys in the order they were added; edges are reported
    node by node in node order.
    """
    pair = u * np.int64(n_nodes) + v
    _, first, inverse, counts = np.unique(pair, return_index=True, return_inverse=True,
                                          return_counts=True)
    if (counts > 1).any():
        _check_keys(np.flatnonzero(counts[inverse] > 1), pair, edge_ids)
    order = np.lexsort((first[inverse], u))  # stable: document order breaks ties
    return order.astype(np.int64)


def _check_keys(rows: npt.NDArray[np.int64], pair: npt.NDArray[np.int64],
                edge_ids: list[str | None]) -> None:
    """Refuse parallel edges whose keys may collide (networkx would merge them into one).

    networkx uses an edge's ``id`` as its key (as an int where it is one) and numbers
    edges without one itself, so both a repeated id and a mix of edges with and
    without ids between the same two nodes can collide.
    """
    seen: set[tuple[int, Any]] = set()
    with_id: set[int] = set()
    without_id: set[int] = set()
    for r in rows.tolist():
        key, uv = edge_ids[r], int(pair[r])
        if not key:
            without_id.add(uv)
            continue
        with_id.add(uv)
        try:
            norm: Any = int(key)
        except ValueError:
            norm = key
        if (uv, norm) in seen:
            raise UnsupportedGraphMLError("two edges with the same (u, v, key)")
        seen.add((uv, norm))
    if with_id & without_id:
        raise UnsupportedGraphMLError("parallel edges with and without an id")


def read_graphml(path: str | Path, *, edge_tags: tuple[str, ...] = EDGE_TAGS) -> GraphMLArrays:
    """Read an osmnx GraphML file into arrays.

    Parameters
    ----------
    path
        A file written by ``osmnx.save_graphml`` (osmnx 1.x or 2.x).
    edge_tags
        The edge attributes to keep (as raw strings).

    Returns
    -------
    arrays
        Nodes, edges and the graph's crs, in osmnx's order.

    Raises
    ------
    InputDataError
        When the file is no GraphML, or it lacks the ``crs`` graph attribute.
    UnsupportedGraphMLError
        When the file uses GraphML that osmnx reads in ways this reader does not
        reproduce; read it with osmnx then.
    """
    p = Path(path)
    keys = _Keys(frozenset({"x", "y"}), frozenset({"geometry", *edge_tags}))
    try:
        arrays = _assemble(_parse(p, keys), keys, edge_tags)
    except expat.ExpatError as exc:
        msg = f"{p}: not a readable osmnx GraphML file (ParseError: {exc})"
        raise InputDataError(msg) from None
    except _BadGraphML as exc:
        msg = f"{p}: not a readable osmnx GraphML file ({exc})"
        raise InputDataError(msg) from None
    except UnsupportedGraphMLError as exc:
        raise UnsupportedGraphMLError(f"{p}: {exc}") from None
    if "crs" not in arrays.graph:
        msg = f"{p}: the graph has no `crs` graph attribute (osmnx graphs carry one)"
        raise InputDataError(msg)
    logger.debug("Read %s: %d nodes, %d edges, crs %s", p, len(arrays.node_id), arrays.n_edges,
                 arrays.crs)
    return arrays


def _assemble(parsed: _Handler, keys: _Keys, edge_tags: tuple[str, ...]) -> GraphMLArrays:
    for store in (parsed.node_data, parsed.edge_data, parsed.graph_data):
        for k in store:
            if k not in keys.names:
                msg = f"Bad GraphML data: no key {k}"
                raise _BadGraphML(msg)
    graph = {keys.names[k]: value for k, value in parsed.graph_data.items()}
    for k in parsed.graph_data:
        if keys.names[k] == "crs":
            keys.check_type(k, "crs")
    node_data, edge_data = parsed.node_data, parsed.edge_data
    node_ids, sources, targets = parsed.node_ids, parsed.sources, parsed.targets
    ids = _ints(node_ids, "node id")
    index = pd.Index(ids)
    if not index.is_unique:
        raise UnsupportedGraphMLError("a node id declared twice")
    n = len(ids)
    x, y = _coordinates(node_data, keys, node_ids)
    u = index.get_indexer(_ints(sources, "edge source"))
    v = index.get_indexer(_ints(targets, "edge target"))
    if (u < 0).any() or (v < 0).any():
        # networkx would add the node without coordinates, and osmnx fail on it
        i = int(np.flatnonzero((u < 0) | (v < 0))[0])
        node = sources[i] if u[i] < 0 else targets[i]
        msg = (f"the edge {sources[i]} -> {targets[i]} names node {node}, which the file "
               "does not declare (no <node> with its x and y)")
        raise _BadGraphML(msg)
    m = len(u)
    order = _edge_order(u.astype(np.int64), v.astype(np.int64), n, parsed.edge_ids)
    identity = bool((order == np.arange(m)).all())
    geometry = _column(edge_data, keys, "geometry", m)
    tags = {t: _column(edge_data, keys, t, m) for t in edge_tags}
    if not identity:
        geometry = geometry[order]
        tags = {t: col[order] for t, col in tags.items()}
        u, v = u[order], v[order]
    return GraphMLArrays(crs=graph.get("crs", ""), node_id=ids, x=x, y=y,
                         u=u.astype(np.int64), v=v.astype(np.int64), geometry=geometry,
                         tags=tags, graph=graph)


def edge_lines(arrays: GraphMLArrays) -> npt.NDArray[np.object_]:
    """Parse the edges' WKT; an edge without geometry is the straight line ``u -> v``.

    Parameters
    ----------
    arrays
        What :func:`read_graphml` read.

    Returns
    -------
    lines
        One geometry per edge, in the graph's crs (what ``osmnx.graph_to_gdfs``
        returns with ``fill_edge_geometry=True``).

    Raises
    ------
    shapely.errors.GEOSException
        When a geometry is not valid WKT.
    """
    lines = shapely.from_wkt(arrays.geometry)
    missing = np.flatnonzero(shapely.is_missing(lines))
    if len(missing):
        u, v = arrays.u[missing], arrays.v[missing]
        coords = np.stack([arrays.x[u], arrays.y[u], arrays.x[v], arrays.y[v]], axis=1)
        lines[missing] = shapely.linestrings(coords.reshape(-1, 2, 2))
    return lines
