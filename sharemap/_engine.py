"""Compiled kernels: bounded Dijkstra searches on CSR arrays, and a distance field.

Why compiled: a per-source ``scipy.sparse.csgraph.dijkstra`` call allocates and
clears a distance array over *every* node of the graph, so 5,000 bounded searches
on a Seoul-size network (300,000 nodes) cost seconds even when each reaches only
a thousand nodes. The kernels here keep one distance array per thread, reset only
the entries a search touched, and use a binary heap, so a bounded search costs in
proportion to the nodes it reaches. They are compiled with numba (``cache=True``:
the compile cost is paid once per machine, then loaded from numba's cache) and
release the GIL, so the Python wrappers split long lists of searches over threads.

numba is a required dependency, so there is one path, compiled; the tests check it
against networkx (``tests/test_access.py``). (An earlier scipy fallback "for machines
without numba" was dropped: it could only run where numba, a dependency, is missing,
and gave the same answers only up to the last bits of a float.)

Sources come in *groups*: one search per group, started from every node of the
group at once with its own initial distance (a point joined to the network
starts at both ends of its street, each with its walk along the street). A
search's distances include those initial offsets.
"""

from __future__ import annotations

import functools
import itertools
import logging
import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any, Literal

import numba
import numpy as np
import numpy.typing as npt

if TYPE_CHECKING:
    from scipy import sparse

__all__ = [
    "counts_within",
    "distance_field",
    "multi_source",
    "multi_source_many",
    "pairs_within",
    "threads",
]

logger = logging.getLogger(__name__)


#: Node numbers inside the kernels.
NODE = np.int32
IntArray = npt.NDArray[np.int64]
NodeArray = npt.NDArray[np.int32]
FloatArray = npt.NDArray[np.float64]


def _jit(fn: Callable[..., Any], *, inline: Literal["never", "always"] = "never"
         ) -> Callable[..., Any]:
    # cache=True: compiled once per machine, then loaded from numba's on-disk cache
    return numba.njit(cache=True, nogil=True, inline=inline)(fn)


def threads() -> int:
    """Return the number of threads the searches use: the cores this process may use, at most 8."""
    try:
        n = len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not on Linux
        n = os.cpu_count() or 1
    return max(1, min(n, 8))


# --------------------------------------------------------------------------- kernels


@functools.partial(_jit, inline="always")  # as fast as writing it out at each call
def _heap_push(hd: FloatArray, hn: NodeArray, size: int, d: float, node: int) -> int:
    """Sift (`d`, `node`) up into the 4-ary heap of `size` entries; return the new size."""
    i = size
    while i > 0:
        p = (i - 1) >> 2
        if hd[p] <= d:
            break
        hd[i] = hd[p]
        hn[i] = hn[p]
        i = p
    hd[i] = d
    hn[i] = node
    return size + 1


@_jit
def _search(indptr: NodeArray, indices: NodeArray, weights: FloatArray,  # noqa: C901, PLR0912, PLR0913, PLR0917
            src: NodeArray, off: FloatArray, limit: float, dist: FloatArray,
            touched: NodeArray, hd: FloatArray, hn: NodeArray) -> int:
    """Dijkstra from `src` (initial distances `off`) up to `limit`; return nodes touched.

    `dist` must be +inf everywhere on entry; on return ``dist[touched[:n]]`` hold the
    distances (the caller resets them). `hd`/`hn` are the heap's keys and nodes, at
    least ``len(src) + len(indices)`` long (lazy deletion: one entry per improvement).
    A 4-ary heap: fewer levels than a binary one, and the four children of a node
    sit in one cache line.
    """
    n_t = 0
    size = 0
    for k in range(src.shape[0]):
        s = src[k]
        d0 = off[k]
        if d0 <= limit and d0 < dist[s]:
            if dist[s] == np.inf:
                touched[n_t] = s
                n_t += 1
            dist[s] = d0
            size = _heap_push(hd, hn, size, d0, s)
    while size > 0:
        d = hd[0]
        u = hn[0]
        size -= 1
        if size > 0:  # move the last entry down from the root
            ld = hd[size]
            ln = hn[size]
            i = 0
            while True:
                c = 4 * i + 1
                if c >= size:
                    break
                best = c
                bd = hd[c]
                for q in range(c + 1, min(c + 4, size)):
                    if hd[q] < bd:
                        bd = hd[q]
                        best = q
                if bd >= ld:
                    break
                hd[i] = bd
                hn[i] = hn[best]
                i = best
            hd[i] = ld
            hn[i] = ln
        if d > dist[u]:
            continue  # a stale entry
        for j in range(indptr[u], indptr[u + 1]):
            v = indices[j]
            nd = d + weights[j]
            if nd <= limit and nd < dist[v]:
                if dist[v] == np.inf:
                    touched[n_t] = v
                    n_t += 1
                dist[v] = nd
                size = _heap_push(hd, hn, size, nd, v)
    return n_t


@functools.partial(_jit, inline="always")
def _search_buffers(indptr: NodeArray, indices: NodeArray, src_ptr: IntArray
                    ) -> tuple[FloatArray, NodeArray, FloatArray, NodeArray]:
    """Allocate what :func:`_search` needs for one search per group of `src_ptr`.

    ``dist`` all +inf, ``touched`` (the nodes one search reached) and the heap's keys
    and nodes, long enough for the largest group plus one entry per edge.
    """
    n = indptr.shape[0] - 1
    big = 0
    for g in range(src_ptr.shape[0] - 1):
        big = max(big, src_ptr[g + 1] - src_ptr[g])
    heap = indices.shape[0] + big + 1
    return (np.full(n, np.inf), np.empty(n, np.int32), np.empty(heap),
            np.empty(heap, np.int32))


@_jit
def _pairs_kernel(indptr: NodeArray, indices: NodeArray,  # noqa: PLR0913, PLR0917
                  weights: FloatArray, src_ptr: IntArray, src: NodeArray, off: FloatArray,
                  limit: float, tgt_ptr: IntArray, tgt: IntArray, tgt_off: FloatArray
                  ) -> tuple[IntArray, IntArray, FloatArray]:
    """One bounded search per source group; emit (group, target, distance) within `limit`."""
    dist, touched, hd, hn = _search_buffers(indptr, indices, src_ptr)
    cap = 1024
    og = np.empty(cap, np.int64)
    ot = np.empty(cap, np.int64)
    od = np.empty(cap)
    m = 0
    for g in range(src_ptr.shape[0] - 1):
        a = src_ptr[g]
        b = src_ptr[g + 1]
        n_t = _search(indptr, indices, weights, src[a:b], off[a:b], limit, dist, touched,
                      hd, hn)
        for k in range(n_t):
            v = touched[k]
            d = dist[v]
            for j in range(tgt_ptr[v], tgt_ptr[v + 1]):
                total = d + tgt_off[j]
                if total <= limit:
                    if m == cap:
                        cap *= 2
                        og2 = np.empty(cap, np.int64)
                        ot2 = np.empty(cap, np.int64)
                        od2 = np.empty(cap)
                        og2[:m] = og[:m]
                        ot2[:m] = ot[:m]
                        od2[:m] = od[:m]
                        og, ot, od = og2, ot2, od2
                    og[m] = g
                    ot[m] = tgt[j]
                    od[m] = total
                    m += 1
            dist[v] = np.inf
    return og[:m], ot[:m], od[:m]


@_jit
def _counts_kernel(indptr: NodeArray, indices: NodeArray,  # noqa: PLR0913, PLR0917
                   weights: FloatArray, src_ptr: IntArray, src: NodeArray, off: FloatArray,
                   limits: FloatArray, tgt_ptr: IntArray, tgt: IntArray, tgt_off: FloatArray,
                   label: IntArray, to_source: bool, out: npt.NDArray[np.int32]) -> None:
    """Count (source, target) pairs by distance band into ``out[label, row, band]``.

    With `to_source`, rows are source groups and `label` is per target; otherwise
    rows are targets and `label` is per source group. Band k holds pairs with
    ``limits[k-1] < distance <= limits[k]`` (the caller takes the cumulative sum).
    Label-major order keeps the rows one label writes to close together in memory.
    """
    dist, touched, hd, hn = _search_buffers(indptr, indices, src_ptr)
    n_lim = limits.shape[0]
    limit = limits[n_lim - 1]
    for g in range(src_ptr.shape[0] - 1):
        a = src_ptr[g]
        b = src_ptr[g + 1]
        n_t = _search(indptr, indices, weights, src[a:b], off[a:b], limit, dist, touched,
                      hd, hn)
        for k in range(n_t):
            v = touched[k]
            d = dist[v]
            for j in range(tgt_ptr[v], tgt_ptr[v + 1]):
                total = d + tgt_off[j]
                if total <= limit:
                    band = 0
                    while total > limits[band]:
                        band += 1
                    if to_source:
                        out[label[tgt[j]], g, band] += 1
                    else:
                        out[label[g], tgt[j], band] += 1
            dist[v] = np.inf


@_jit
def _field_kernel(field: FloatArray, x0: float, y0: float,  # noqa: PLR0913, PLR0917
                  px: float, sx1: FloatArray, sy1: FloatArray, sx2: FloatArray,
                  sy2: FloatArray, radius: float) -> None:
    """Lower each pixel of `field` to its distance from each segment.

    Pixel ``(j, i)`` has its centre at ``(x0 + i px, y0 + j px)``; only pixels within
    `radius` of a segment's bounding box are visited.
    """
    ny, nx = field.shape
    for s in range(sx1.shape[0]):
        ax = sx1[s]
        ay = sy1[s]
        dx = sx2[s] - ax
        dy = sy2[s] - ay
        ll = dx * dx + dy * dy
        i0 = max(0, int(np.floor((min(ax, ax + dx) - radius - x0) / px)))
        i1 = min(nx - 1, int(np.ceil((max(ax, ax + dx) + radius - x0) / px)))
        j0 = max(0, int(np.floor((min(ay, ay + dy) - radius - y0) / px)))
        j1 = min(ny - 1, int(np.ceil((max(ay, ay + dy) + radius - y0) / px)))
        for j in range(j0, j1 + 1):
            qy = y0 + j * px - ay
            for i in range(i0, i1 + 1):
                qx = x0 + i * px - ax
                t = 0.0
                if ll > 0.0:
                    t = (qx * dx + qy * dy) / ll
                    t = min(1.0, max(0.0, t))
                cx = t * dx - qx
                cy = t * dy - qy
                field[j, i] = min(field[j, i], np.sqrt(cx * cx + cy * cy))


# ------------------------------------------------------------------------- helpers


def _arr(values: npt.ArrayLike, dtype: type) -> Any:
    """Return a C-contiguous, writeable array of `dtype` (one compiled signature per kernel).

    (numba compiles a separate version for read-only arrays, which pandas' copy-on-
    write hands out.)
    """
    return np.require(values, dtype=dtype, requirements=["C", "W"])


def _csr_arrays(csr: sparse.csr_matrix) -> tuple[NodeArray, NodeArray, FloatArray]:
    """Return the matrix as 32-bit index arrays (less memory traffic) and its weights."""
    if csr.nnz >= 2**31:  # pragma: no cover
        msg = "graphs with 2**31 or more edges are not supported"
        raise ValueError(msg)
    return _arr(csr.indptr, NODE), _arr(csr.indices, NODE), _arr(csr.data, np.float64)


def _group_ptr(group_ptr: npt.ArrayLike | None, n: int) -> IntArray:
    if group_ptr is None:
        return np.arange(n + 1, dtype=np.int64)
    return _arr(group_ptr, np.int64)


def _target_index(tgt_nodes: IntArray, tgt_off: FloatArray, n: int
                  ) -> tuple[IntArray, IntArray, FloatArray]:
    """Targets grouped by node: ``ptr`` (n + 1), target positions, their offsets."""
    order = np.argsort(tgt_nodes, kind="stable")
    ptr = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(np.bincount(tgt_nodes, minlength=n), out=ptr[1:])
    return ptr, order.astype(np.int64), tgt_off[order]


def _chunks(n_groups: int, parts: int) -> list[tuple[int, int]]:
    edges = np.linspace(0, n_groups, min(parts, max(n_groups, 1)) + 1).astype(int)
    return [(int(a), int(b)) for a, b in itertools.pairwise(edges) if b > a]


def _map(fn: Callable[[int, int], Any], n_groups: int) -> list[Any]:
    chunks = _chunks(n_groups, threads())
    if len(chunks) <= 1:
        return [fn(a, b) for a, b in chunks]
    with ThreadPoolExecutor(max_workers=len(chunks)) as pool:
        return list(pool.map(lambda ab: fn(*ab), chunks))


# ------------------------------------------------------------------------ searches


def multi_source(csr: sparse.csr_matrix, nodes: npt.ArrayLike, offsets: npt.ArrayLike, *,
                 limit: float = np.inf) -> FloatArray:
    """Shortest distance from the nearest of several sources to every node.

    Parameters
    ----------
    csr
        Symmetric (or directed) adjacency matrix of edge weights.
    nodes
        Source nodes (repeats allowed: the smallest offset wins).
    offsets
        Each source's initial distance (e.g. its walk to the street).
    limit
        Stop at this distance; nodes farther away stay ``inf``.

    Returns
    -------
    dist
        One value per node (``inf`` where not reached within `limit`).
    """
    n = csr.shape[0]
    src = _arr(nodes, NODE)
    off = _arr(offsets, np.float64)
    if not len(src):
        return np.full(n, np.inf)
    indptr, indices, weights = _csr_arrays(csr)
    dist = np.full(n, np.inf)
    touched = np.empty(n, dtype=NODE)
    heap = len(indices) + len(src) + 1
    _search(indptr, indices, weights, src, off, float(limit), dist, touched,
            np.empty(heap), np.empty(heap, dtype=NODE))
    return dist


def multi_source_many(csr: sparse.csr_matrix,
                      sources: list[tuple[npt.ArrayLike, npt.ArrayLike]], *,
                      limit: float = np.inf) -> FloatArray:
    """:func:`multi_source` for several source sets at once (e.g. one per category).

    Parameters
    ----------
    csr
        Adjacency matrix of edge weights.
    sources
        One ``(nodes, offsets)`` pair per set.
    limit
        Stop at this distance.

    Returns
    -------
    dist
        Shape ``(len(sources), n_nodes)``. The searches run on parallel threads.
    """
    out = np.empty((len(sources), csr.shape[0]))

    def run(a: int, b: int) -> None:
        for k in range(a, b):
            out[k] = multi_source(csr, *sources[k], limit=limit)

    _map(run, len(sources))
    return out


def pairs_within(csr: sparse.csr_matrix, src_nodes: npt.ArrayLike, src_off: npt.ArrayLike,
                 tgt_nodes: npt.ArrayLike, tgt_off: npt.ArrayLike, *, max_m: float,
                 group_ptr: npt.ArrayLike | None = None
                 ) -> tuple[IntArray, IntArray, FloatArray]:
    """Every (source group, target) pair within `max_m`, with its distance.

    Parameters
    ----------
    csr
        Adjacency matrix of edge weights.
    src_nodes, src_off
        Source nodes and their initial distances.
    tgt_nodes, tgt_off
        Target nodes and the distance added on arrival (e.g. the walk off the street).
    max_m
        The largest distance kept (inclusive).
    group_ptr
        Sources ``group_ptr[g]:group_ptr[g + 1]`` form search ``g`` (default: one
        search per source).

    Returns
    -------
    group, target, distance
        One row per pair, grouped by source group (in no particular order within one).
    """
    src = _arr(src_nodes, NODE)
    off = _arr(src_off, np.float64)
    tgt = _arr(tgt_nodes, np.int64)
    toff = _arr(tgt_off, np.float64)
    ptr = _group_ptr(group_ptr, len(src))
    n_groups = len(ptr) - 1
    if n_groups == 0 or not len(tgt):
        return np.empty(0, np.int64), np.empty(0, np.int64), np.empty(0)
    indptr, indices, weights = _csr_arrays(csr)
    t_ptr, t_idx, t_off = _target_index(tgt, toff, csr.shape[0])

    def run(a: int, b: int) -> tuple[IntArray, IntArray, FloatArray]:
        g, t, d = _pairs_kernel(indptr, indices, weights, ptr[a:b + 1] - ptr[a],
                                src[ptr[a]:ptr[b]], off[ptr[a]:ptr[b]], float(max_m),
                                t_ptr, t_idx, t_off)
        return g + a, t, d

    parts = _map(run, n_groups)
    return tuple(np.concatenate([p[k] for p in parts]) for k in range(3))  # type: ignore[return-value]


def counts_within(csr: sparse.csr_matrix, src_nodes: npt.ArrayLike,  # noqa: PLR0913
                  src_off: npt.ArrayLike,
                  tgt_nodes: npt.ArrayLike, tgt_off: npt.ArrayLike, *,
                  limits_m: npt.ArrayLike, labels: npt.ArrayLike, n_labels: int,
                  to_source: bool = False) -> npt.NDArray[np.int64]:
    """Count pairs within each distance, per row and label, without listing them.

    Parameters
    ----------
    csr
        Adjacency matrix of edge weights.
    src_nodes, src_off
        One bounded search per source, started at its initial distance.
    tgt_nodes, tgt_off
        Targets and the distance added on arrival.
    limits_m
        Increasing distances (inclusive).
    labels
        Per target when `to_source`, else per source: a label in ``0..n_labels-1``
        (a category).
    n_labels
        Number of labels.
    to_source
        Count per source (``labels`` of targets) instead of per target (``labels``
        of sources). Pick whichever side is fewer as the sources.

    Returns
    -------
    counts
        Shape ``(rows, n_labels, len(limits_m))``: rows are the sources when
        `to_source`, else the targets; ``counts[r, c, k]`` = pairs of label ``c``
        within ``limits_m[k]``.
    """
    src = _arr(src_nodes, NODE)
    off = _arr(src_off, np.float64)
    tgt = _arr(tgt_nodes, np.int64)
    toff = _arr(tgt_off, np.float64)
    lim = _arr(limits_m, np.float64)
    lab = _arr(labels, np.int64)
    if len(lim) == 0 or np.any(np.diff(lim) <= 0):
        msg = f"`limits_m` must be non-empty and increasing, not {lim.tolist()}"
        raise ValueError(msg)
    n_rows = len(src) if to_source else len(tgt)
    out = np.zeros((n_rows, n_labels, len(lim)), dtype=np.int64)
    if not len(src) or not len(tgt):
        return out
    indptr, indices, weights = _csr_arrays(csr)
    t_ptr, t_idx, t_off = _target_index(tgt, toff, csr.shape[0])
    ptr = np.arange(len(src) + 1, dtype=np.int64)
    # Searches in node order (nodes are numbered along a Hilbert curve): consecutive
    # searches then reach overlapping nodes still in cache (about 30% faster on a
    # Seoul-size grid than random order). Per target, sources of one label also run
    # one after another, so their counts land in one block of rows.
    order = np.argsort(src, kind="stable") if to_source else np.lexsort((src, lab))
    src, off = src[order], off[order]
    src_lab = lab if to_source else lab[order]

    def run(a: int, b: int) -> npt.NDArray[np.int32]:
        rows = b - a if to_source else len(tgt)
        part = np.zeros((n_labels, rows, len(lim)), np.int32)
        _counts_kernel(indptr, indices, weights, ptr[a:b + 1] - a, src[a:b], off[a:b], lim,
                       t_ptr, t_idx, t_off, src_lab if to_source else src_lab[a:b],
                       to_source, part)
        return part

    parts = _map(run, len(src))
    if to_source:
        total = np.empty((n_labels, len(src), len(lim)), np.int32)
        total[:, order] = np.concatenate(parts, axis=1)  # back to the caller's order
    else:
        total = parts[0]
        for part in parts[1:]:
            total += part
    np.cumsum(total, axis=2, out=total)
    return np.moveaxis(total, 0, 1).astype(np.int64, order="C")


# -------------------------------------------------------------------- distance field


def distance_field(segments: FloatArray, *, x0: float, y0: float, px: float,
                   shape: tuple[int, int], radius: float,
                   field: FloatArray | None = None) -> FloatArray:
    """Distance from each pixel centre to the nearest segment, exact within `radius`.

    Parameters
    ----------
    segments
        ``(k, 4)`` array of ``x1, y1, x2, y2``.
    x0, y0, px, shape
        Pixel ``(j, i)`` has its centre at ``(x0 + i px, y0 + j px)``; `shape` is
        ``(ny, nx)``.
    radius
        Pixels farther than about `radius` from every segment keep their value.
    field
        A field to lower in place (default: a new one filled with ``2 radius``).

    Returns
    -------
    field
        The distances, capped at ``2 radius`` where no segment is near.
    """
    out = np.full(shape, 2.0 * radius) if field is None else field
    seg = np.ascontiguousarray(segments, dtype=np.float64).reshape(-1, 4)
    if len(seg):
        _field_kernel(out, float(x0), float(y0), float(px), seg[:, 0].copy(),
                      seg[:, 1].copy(), seg[:, 2].copy(), seg[:, 3].copy(), float(radius))
    return out
