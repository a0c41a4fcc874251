"""Atomic output writing: write to a temporary file beside the target, then rename."""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import geopandas as gpd
import pandas as pd

__all__ = ["atomic_path", "write_csv", "write_gpkg", "write_json", "write_text"]


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary path in the target's folder; rename it onto `path` on success.

    Parameters
    ----------
    path
        The final file name.

    Yields
    ------
    tmp
        A path to write to. It keeps the target's suffix so that drivers chosen
        by extension (GeoPackage, GeoJSON) still work.

    Notes
    -----
    The rename is atomic on POSIX and Windows when both names are on the same
    file system, which holds because the temporary file sits beside the target.
    An interrupted run therefore leaves either the old file or none, never a
    half-written one; the temporary file is removed on error.
    """
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(
        prefix=f".{target.stem}.", suffix=f".tmp{target.suffix}", dir=target.parent
    )
    os.close(fd)
    tmp = Path(tmp_name)
    tmp.unlink()  # drivers such as GPKG refuse to write over an existing empty file
    try:
        yield tmp
        os.replace(tmp, target)
    finally:
        if tmp.exists():
            tmp.unlink()


def write_text(text: str, path: str | os.PathLike[str], *, encoding: str = "utf-8") -> Path:
    """Write `text` to `path` atomically and return the path."""
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding=encoding)
    return Path(path)


def write_json(obj: Any, path: str | os.PathLike[str]) -> Path:
    """Write `obj` as indented UTF-8 JSON atomically and return the path."""
    return write_text(json.dumps(obj, indent=2, ensure_ascii=False, default=str) + "\n", path)


def write_csv(df: pd.DataFrame, path: str | os.PathLike[str]) -> Path:
    """Write `df` as UTF-8 CSV (with BOM, so Excel shows Korean text) atomically."""
    with atomic_path(path) as tmp:
        df.to_csv(tmp, index=False, encoding="utf-8-sig")
    return Path(path)


def write_gpkg(gdf: gpd.GeoDataFrame, path: str | os.PathLike[str], *, layer: str) -> Path:
    """Write `gdf` to a one-layer GeoPackage atomically and return the path."""
    with atomic_path(path) as tmp:
        gdf.to_file(tmp, layer=layer, driver="GPKG", engine="pyogrio")
    return Path(path)
