"""Content-addressed disk cache for derived layers (blocks and their origins' snaps).

The prepared network is cached by ``network.load_network`` (keyed on the source
file). What a study derives from it, blocks above all, costs far more than
reading the cached network, so it is kept too, keyed on the *content* it was
derived from: the network's arrays, the study area, the barriers and every
parameter, plus the code and library versions. A changed input therefore never
hits a stale entry, whatever path it came by (a file, a download or an analyst's
own network object).

Entries are plain ``.npz`` arrays (no pickle), written atomically; the folder keeps
the :data:`MAX_ENTRIES` most recently used entries of each kind.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import weakref
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from ._io import atomic_path

if TYPE_CHECKING:
    from .network import WalkNetwork

__all__ = ["MAX_ENTRIES", "cache_key", "cached_frame", "load_frame", "network_fingerprint",
           "package_version", "save_frame"]

logger = logging.getLogger(__name__)

#: Entries kept per kind (the least recently used beyond this are removed).
MAX_ENTRIES = 8

_FINGERPRINTS: weakref.WeakKeyDictionary[Any, str] = weakref.WeakKeyDictionary()


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


def network_fingerprint(network: WalkNetwork) -> str:
    """Return a hash of everything in `network` that derived layers depend on.

    Node and edge coordinates, topology, lengths and the tags (highway, name,
    bridge, tunnel); computed once per network object (about 0.1 s at city size).
    """
    known = _FINGERPRINTS.get(network)
    if known is not None:
        return known
    h = hashlib.blake2b(digest_size=16)
    _hash_update(h, network.crs.to_wkt())
    _hash_update(h, shapely.get_coordinates(network.nodes.geometry.to_numpy()))
    _hash_update(h, network.edge_u)
    _hash_update(h, network.edge_v)
    _hash_update(h, network.edge_length)
    coords, index = shapely.get_coordinates(network.edges.geometry.to_numpy(), return_index=True)
    _hash_update(h, coords)
    _hash_update(h, index)
    for col in ("highway", "name", "bridge", "tunnel"):
        if col in network.edges:
            _hash_update(h, network.edges[col].to_numpy(dtype=object))
    out = h.hexdigest()
    _FINGERPRINTS[network] = out
    return out


def package_version(pkg: str, missing: str = "unknown") -> str:
    """Return the installed version of `pkg` (`missing` when it is not installed)."""
    from importlib import metadata

    try:
        return metadata.version(pkg)
    except metadata.PackageNotFoundError:
        return missing


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
    from ._osm import cache_dir

    return cache_dir() / kind / f"{key}.npz"


def save_frame(frame: pd.DataFrame, path: Path) -> bool:
    """Write `frame` (numeric/bool/str columns, optional Polygon geometry) to `path`.

    Returns False (and writes nothing) for content this format does not hold.
    """
    arrays: dict[str, Any] = {}
    columns = []
    for col in frame.columns:
        if isinstance(frame, gpd.GeoDataFrame) and col == frame.geometry.name:
            continue
        values = frame[col].to_numpy()
        if values.dtype.kind not in "biuf":
            return False
        arrays[f"col_{len(columns)}"] = values
        columns.append(str(col))
    meta: dict[str, Any] = {"columns": columns, "index": frame.index.dtype.kind in "iu"}
    if meta["index"]:
        arrays["index"] = frame.index.to_numpy()
    if isinstance(frame, gpd.GeoDataFrame):
        geoms = frame.geometry.to_numpy()
        if len(geoms) and not (shapely.get_type_id(geoms) == 3).all():
            return False
        if len(geoms):
            _, coords, offsets = shapely.to_ragged_array(geoms)
            arrays["coords"] = coords
            for k, off in enumerate(offsets):
                arrays[f"offsets_{k}"] = off
        meta["geometry"] = frame.geometry.name
        meta["crs"] = frame.crs.to_wkt() if frame.crs is not None else None
        meta["n"] = len(geoms)
    arrays["meta"] = np.array(json.dumps(meta))
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as fh:
            np.savez(fh, **arrays)
    _prune(path.parent)
    return True


def load_frame(path: Path) -> pd.DataFrame | None:
    """Read a frame written by :func:`save_frame`; None when absent or unreadable."""
    if not path.is_file():
        return None
    try:
        with np.load(path, allow_pickle=False) as z:
            meta = json.loads(str(z["meta"]))
            data = {col: z[f"col_{k}"] for k, col in enumerate(meta["columns"])}
            index = z["index"] if meta["index"] else None
            frame = pd.DataFrame(data, index=index)
            if "geometry" in meta:
                if meta["n"]:
                    offsets = (z["offsets_0"], z["offsets_1"])
                    geoms = shapely.from_ragged_array(shapely.GeometryType.POLYGON,
                                                      z["coords"], offsets)
                else:
                    geoms = np.empty(0, dtype=object)
                frame = gpd.GeoDataFrame(frame, geometry=geoms, crs=meta["crs"])
                frame = frame.rename_geometry(meta["geometry"]) if meta[
                    "geometry"] != "geometry" else frame
    except (OSError, ValueError, KeyError, zipfile.BadZipFile) as exc:
        logger.warning("Ignoring an unreadable cache file %s (%s)", path, exc)
        return None
    os.utime(path)  # most recently used: kept longest by _prune
    return frame


def cached_frame(kind: str, key: str, derive: Callable[[], pd.DataFrame], *, what: str,
                 valid: Callable[[pd.DataFrame], bool] = lambda frame: True
                 ) -> tuple[pd.DataFrame, str]:
    """Read entry `key` of `kind` from the cache, or `derive` it and save it there.

    An entry that `valid` refuses is derived again. Returns the frame and how it was
    had: ``"hit"``, ``"miss"`` (derived and saved) or ``"off"`` (derived; the format
    cannot hold it or the folder is not writable, logged as a warning naming `what`).
    """
    path = entry_path(kind, key)
    cached = load_frame(path)
    if cached is not None and valid(cached):
        logger.info("Loaded %s from the cache: %s", what, path)
        return cached, "hit"
    frame = derive()
    try:
        status = "miss" if save_frame(frame, path) else "off"
    except OSError as exc:
        logger.warning("Could not write the %s cache file %s (%s)", what, path, exc)
        status = "off"
    return frame, status


def _prune(folder: Path) -> None:
    stamped = []
    for entry in folder.glob("*.npz"):
        if entry.name.startswith("."):  # another run's file being written
            continue
        try:
            stamped.append((entry.stat().st_mtime_ns, entry))
        except OSError:  # removed by another run meanwhile
            continue
    for _, old in sorted(stamped, reverse=True)[MAX_ENTRIES:]:
        old.unlink(missing_ok=True)
