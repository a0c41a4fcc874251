"""sharemap's one disk cache: content-addressed ``.npz`` entries (no pickle).

Each kind of entry lives in its own folder of :func:`cache_dir`: ``networks``
(the prepared walking network, keyed on the *bytes* of its source file, see
:func:`file_digest`), ``blocks``, ``origin_snaps`` and ``reach`` (keyed on the
content they were derived from: the network's arrays, the study area, the
barriers and every parameter) and ``searches`` (a study's walk searches, keyed on
the joined graph's arrays and the points searched from and to, see
:func:`cached_arrays`). Every key also holds the code and the library
versions. A changed input therefore never hits a stale entry, whatever path it
came by (a file, a download or an analyst's own network object).

:func:`cached` is the one load-or-derive-and-save path: an entry that cannot be
read (empty, truncated, corrupt, or of another layout) is logged as a warning and
derived again, never an error. Entries are written atomically; each folder keeps
the :data:`MAX_ENTRIES` most recently used entries.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import weakref
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Generic, Protocol, TypeVar

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from ._compat import package_version
from ._graphml import EDGE_TAGS
from ._io import atomic_path

__all__ = ["BYTES_KEPT", "ENTRIES_KEPT", "FRAME_CODEC", "MAX_ENTRIES", "Codec", "array_fingerprint",
           "cache_dir", "cache_key", "cached", "cached_arrays", "cached_frame", "entry_path",
           "file_digest", "frame_arrays", "frame_from_arrays", "load_frame",
           "network_fingerprint", "read_entry", "save_frame", "write_entry"]

logger = logging.getLogger(__name__)

#: Entries kept per kind (the least recently used beyond this are removed).
MAX_ENTRIES = 8
#: ... except for these kinds of small entries (a study makes about ten searches).
ENTRIES_KEPT = {"searches": 256}
#: The bytes a kind's folder keeps at most (the most recently used entries first).
BYTES_KEPT = {"searches": 1 << 30}

#: id(owner) -> (a weak reference to it, its fingerprint): each object's fingerprint is
#: computed once while it lives. By id, as a sparse matrix is not hashable; the reference
#: tells a live owner from a later object given the same id.
_FINGERPRINTS: dict[int, tuple[weakref.ref[Any], str]] = {}

#: What reading a damaged ``.npz`` can raise: a 0-byte file (``EOFError``), a cut or
#: overwritten one (``BadZipFile``, CRC errors), another layout (``KeyError``), ...
_UNREADABLE = (OSError, EOFError, ValueError, KeyError, IndexError, TypeError,
               zipfile.BadZipFile)

T = TypeVar("T")


class _Network(Protocol):
    """What :func:`network_fingerprint` reads of a WalkNetwork (no import upward)."""

    @property
    def crs(self) -> Any: ...
    @property
    def nodes(self) -> gpd.GeoDataFrame: ...
    @property
    def edges(self) -> gpd.GeoDataFrame: ...
    @property
    def edge_u(self) -> Any: ...
    @property
    def edge_v(self) -> Any: ...
    @property
    def edge_length(self) -> Any: ...


def cache_dir() -> Path:
    """Return sharemap's per-user cache folder.

    ``$SHAREMAP_CACHE_DIR`` when set, else ``$XDG_CACHE_HOME/sharemap``, else
    ``~/.cache/sharemap``.
    """
    own = os.environ.get("SHAREMAP_CACHE_DIR")
    if own:
        return Path(own)
    base = os.environ.get("XDG_CACHE_HOME")
    return (Path(base) if base else Path.home() / ".cache") / "sharemap"


def file_digest(path: str | os.PathLike[str], *, chunk_bytes: int = 1 << 20) -> str:
    """Return the SHA-256 of a file's bytes (hex).

    The network cache keys on this instead of a file's size and modification
    time, which an edit can leave unchanged. SHA-256 runs at about 500 MB/s here
    (CPU SHA extensions), next to 14 MB/s for parsing GraphML: about 3% of a
    cold read (``benchmarks/bench_cache_key.py``).
    """
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(chunk_bytes):
            h.update(chunk)
    return h.hexdigest()


def _hash_update(h: Any, value: Any) -> None:
    if isinstance(value, np.ndarray):
        arr = np.ascontiguousarray(value)
        h.update(f"{arr.dtype.str}{arr.shape}".encode())
        h.update(arr.tobytes() if arr.dtype != object else "\x1f".join(map(str, arr)).encode())
    elif isinstance(value, bytes):
        h.update(value)
    else:
        h.update(json.dumps(value, sort_keys=True, default=str).encode())
    h.update(b"\x1e")


def network_fingerprint(network: _Network) -> str:
    """Return a hash of everything in `network` that derived layers depend on.

    Node and edge coordinates, topology, lengths and the tags (highway, name,
    bridge, tunnel, wheelchair, incline); computed once per network object (about
    0.1 s at city size).
    """
    return _once_per_object(network, lambda: _network_digest(network))


def _once_per_object(owner: Any, compute: Callable[[], str]) -> str:
    """Return `compute()`, computed once per live `owner` (see ``_FINGERPRINTS``)."""
    key = id(owner)
    known = _FINGERPRINTS.get(key)
    if known is not None and known[0]() is owner:
        return known[1]
    out = compute()
    _FINGERPRINTS[key] = (weakref.ref(owner, lambda _ref: _FINGERPRINTS.pop(key, None)), out)
    return out


def _network_digest(network: _Network) -> str:
    h = hashlib.blake2b(digest_size=16)
    _hash_update(h, network.crs.to_wkt())
    _hash_update(h, shapely.get_coordinates(network.nodes.geometry.to_numpy()))
    _hash_update(h, network.edge_u)
    _hash_update(h, network.edge_v)
    _hash_update(h, network.edge_length)
    coords, index = shapely.get_coordinates(network.edges.geometry.to_numpy(), return_index=True)
    _hash_update(h, coords)
    _hash_update(h, index)
    for col in EDGE_TAGS:
        if col in network.edges:
            _hash_update(h, network.edges[col].to_numpy(dtype=object))
    return h.hexdigest()


def _versions() -> dict[str, str]:
    return {"geos": shapely.geos_version_string,
            **{pkg: package_version(pkg) for pkg in ("sharemap", "shapely", "numpy")}}


def _hashable(part: Any) -> Any:
    """Geometries as WKB; everything else as it is."""
    if isinstance(part, shapely.Geometry):
        return shapely.to_wkb(part, hex=False)
    if isinstance(part, gpd.GeoDataFrame):
        part = part.geometry
    if isinstance(part, gpd.GeoSeries):
        return b"".join(shapely.to_wkb(part.to_numpy(), hex=False).tolist())
    return part


def cache_key(*parts: Any, code: tuple[Path, ...] = ()) -> str:
    """Hash `parts` (arrays, bytes, geometries, JSON-able values) with the software versions.

    `code` lists source files whose text is part of the key, so that changing the
    algorithm misses the cache.
    """
    h = hashlib.blake2b(digest_size=16)
    _hash_update(h, _versions())
    for path in code:
        h.update(Path(path).read_bytes())
    for part in parts:
        _hash_update(h, _hashable(part))
    return h.hexdigest()


def entry_path(kind: str, key: str) -> Path:
    """Return the file of cache entry `key` of `kind` (``<cache_dir>/<kind>/<key>.npz``)."""
    return cache_dir() / kind / f"{key}.npz"


def write_entry(path: Path, arrays: dict[str, Any], *, replaces: str | None = None) -> None:
    """Write `arrays` to `path` atomically, then prune its folder (see :data:`ENTRIES_KEPT`).

    `replaces` is a file-name prefix: other entries starting with it are removed
    (an older version of the same source, for entries too big to keep several).
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as fh:
            np.savez(fh, **arrays)
            fh.flush()
            os.fsync(fh.fileno())  # a crash must not leave a 0-byte entry behind the rename
    if replaces is not None:
        for old in path.parent.glob(f"{replaces}*.npz"):
            if old != path:
                old.unlink(missing_ok=True)
    _prune(path.parent)


def read_entry(path: Path) -> dict[str, np.ndarray] | None:
    """Read every array of entry `path`; None when absent.

    Raises what a damaged file raises (see ``_UNREADABLE``); :func:`cached` turns
    that into a warning and a fresh derivation.
    """
    if not path.is_file():
        return None
    with open(path, "rb") as fh, np.load(fh, allow_pickle=False) as z:
        return {name: z[name] for name in z.files}


@dataclass(frozen=True)
class Codec(Generic[T]):
    """How an object becomes a dict of plain arrays (None: it cannot) and back."""

    encode: Callable[[T], dict[str, Any] | None]
    decode: Callable[[dict[str, np.ndarray]], T]


def cached(kind: str, key: str, derive: Callable[[], T], *, what: str, codec: Codec[T],
           valid: Callable[[T], bool] = lambda obj: True,
           replaces: str | None = None, keep: Callable[[], bool] = lambda: True,
           ) -> tuple[T, str]:
    """Read entry `key` of `kind` from the cache, or `derive` it and save it there.

    Parameters
    ----------
    kind, key
        The entry's folder and name (:func:`entry_path`).
    derive
        Computes the object on a miss.
    what
        Names the object in log messages.
    codec
        Object to a dict of plain arrays (None: this object cannot be stored) and back.
    valid
        An entry it refuses is derived again.
    replaces
        See :func:`write_entry`.
    keep
        Called after `derive`: False means the inputs changed while being read, so
        the result is not saved under `key`.

    Returns
    -------
    obj, status
        The object and how it was had: ``"hit"``, ``"miss"`` (derived and saved) or
        ``"off"`` (derived; not storable, inputs changed, or the folder is not
        writable, the last two logged as a warning naming `what`).
    """
    path = entry_path(kind, key)
    try:
        arrays = read_entry(path)
        obj = codec.decode(arrays) if arrays is not None else None
    except _UNREADABLE as exc:
        logger.warning("Ignoring an unreadable %s cache file %s (%s: %s); deriving it again",
                       what, path, type(exc).__name__, exc)
        obj = None
    if obj is not None and valid(obj):
        with contextlib.suppress(OSError):
            os.utime(path)  # most recently used: kept longest by _prune
        logger.info("Loaded %s from the cache: %s", what, path)
        return obj, "hit"
    obj = derive()
    if not keep():
        logger.warning("%s changed while it was read; not caching it", what)
        return obj, "off"
    try:
        arrays = codec.encode(obj)
        if arrays is None:
            return obj, "off"
        write_entry(path, arrays, replaces=replaces)
    except OSError as exc:
        logger.warning("Could not write the %s cache file %s (%s)", what, path, exc)
        return obj, "off"
    return obj, "miss"


def frame_arrays(frame: pd.DataFrame) -> dict[str, Any] | None:
    """Encode `frame` (numeric/bool columns, optional Polygon geometry) as arrays.

    None for content this format does not hold.
    """
    arrays: dict[str, Any] = {}
    columns: list[str] = []
    for col in frame.columns:
        if isinstance(frame, gpd.GeoDataFrame) and col == frame.geometry.name:
            continue
        values = frame[col].to_numpy()
        if values.dtype.kind not in "biuf":
            return None
        arrays[f"col_{len(columns)}"] = values
        columns.append(str(col))
    meta: dict[str, Any] = {"columns": columns, "index": frame.index.dtype.kind in "iu"}
    if meta["index"]:
        arrays["index"] = frame.index.to_numpy()
    if isinstance(frame, gpd.GeoDataFrame):
        geoms = frame.geometry.to_numpy()
        if len(geoms) and not (shapely.get_type_id(geoms) == 3).all():
            return None
        if len(geoms):
            _, coords, offsets = shapely.to_ragged_array(geoms)
            arrays["coords"] = coords
            for k, off in enumerate(offsets):
                arrays[f"offsets_{k}"] = off
        meta["geometry"] = frame.geometry.name
        meta["crs"] = frame.crs.to_wkt() if frame.crs is not None else None
        meta["n"] = len(geoms)
    arrays["meta"] = np.array(json.dumps(meta))
    return arrays


def frame_from_arrays(z: dict[str, np.ndarray]) -> pd.DataFrame:
    """Decode what :func:`frame_arrays` encoded."""
    meta = json.loads(str(z["meta"]))
    data = {col: z[f"col_{k}"] for k, col in enumerate(meta["columns"])}
    index = z["index"] if meta["index"] else None
    frame = pd.DataFrame(data, index=index)
    if "geometry" not in meta:
        return frame
    if meta["n"]:
        offsets = (z["offsets_0"], z["offsets_1"])
        geoms = shapely.from_ragged_array(shapely.GeometryType.POLYGON, z["coords"], offsets)
    else:
        geoms = np.empty(0, dtype=object)
    if len(geoms) != len(frame):
        msg = f"{len(geoms)} geometries for {len(frame)} rows"
        raise ValueError(msg)
    gdf = gpd.GeoDataFrame(frame, geometry=geoms, crs=meta["crs"])
    return gdf.rename_geometry(meta["geometry"]) if meta["geometry"] != "geometry" else gdf


def save_frame(frame: pd.DataFrame, path: Path) -> bool:
    """Write `frame` to `path` (see :func:`frame_arrays`); False (nothing written) if it cannot."""
    arrays = frame_arrays(frame)
    if arrays is None:
        return False
    write_entry(path, arrays)
    return True


def load_frame(path: Path) -> pd.DataFrame | None:
    """Read a frame written by :func:`save_frame`; None when absent or unreadable."""
    try:
        arrays = read_entry(path)
        return frame_from_arrays(arrays) if arrays is not None else None
    except _UNREADABLE as exc:
        logger.warning("Ignoring an unreadable cache file %s (%s)", path, exc)
        return None


def cached_frame(kind: str, key: str, derive: Callable[[], pd.DataFrame], *, what: str,
                 valid: Callable[[pd.DataFrame], bool] = lambda frame: True
                 ) -> tuple[pd.DataFrame, str]:
    """:func:`cached` for a (Geo)DataFrame."""
    return cached(kind, key, derive, what=what, codec=FRAME_CODEC, valid=valid)


FRAME_CODEC: Codec[pd.DataFrame] = Codec(frame_arrays, frame_from_arrays)

#: An array entry bigger than this is not kept (a city's pair list: searched again).
MAX_ARRAY_BYTES = 64 << 20


def array_fingerprint(owner: Any, *arrays: np.ndarray) -> str:
    """Return a hash of `arrays`, computed once per `owner` object (held weakly).

    For the arrays of an object treated as immutable once made (a joined graph's
    CSR matrix), hashed once however many searches it serves (about 30 ms for a
    city's graph).
    """
    def digest() -> str:
        h = hashlib.blake2b(digest_size=16)
        for arr in arrays:
            _hash_update(h, np.asarray(arr))
        return h.hexdigest()

    return _once_per_object(owner, digest)


def _small_arrays(arrays: dict[str, np.ndarray]) -> dict[str, Any] | None:
    if sum(np.asarray(a).nbytes for a in arrays.values()) > MAX_ARRAY_BYTES:
        return None
    return arrays


_ARRAYS_CODEC: Codec[dict[str, np.ndarray]] = Codec(_small_arrays, dict)


def cached_arrays(kind: str, key: str, derive: Callable[[], dict[str, np.ndarray]], *,
                  what: str) -> tuple[dict[str, np.ndarray], str]:
    """:func:`cached` for a dict of plain arrays (kept when under :data:`MAX_ARRAY_BYTES`)."""
    return cached(kind, key, derive, what=what, codec=_ARRAYS_CODEC)


def _prune(folder: Path) -> None:
    stamped = []
    for entry in folder.glob("*.npz"):
        if entry.name.startswith("."):  # another run's file being written
            continue
        try:
            stat = entry.stat()
        except OSError:  # removed by another run meanwhile
            continue
        stamped.append((stat.st_mtime_ns, stat.st_size, entry))
    kept = ENTRIES_KEPT.get(folder.name, MAX_ENTRIES)
    room = BYTES_KEPT.get(folder.name)
    total = 0
    for k, (_, size, entry) in enumerate(sorted(stamped, reverse=True)):
        total += size
        if k >= kept or (room is not None and total > room and k > 0):
            entry.unlink(missing_ok=True)
