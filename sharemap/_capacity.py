"""Capacity per space: reading it from a layer's columns, and merging rows of one space.

A row's **capacity** is the sum of the layer's capacity columns (one column, or
several added up, as the LCD and QR docks of a Ttareungyi station). A value is a
count written as a plain number (``15``, ``15.0``, ``1,234``); anything else is not
read as a number, so a date that slipped into a dock column (``2022-06-08`` in the
real OA-13252 file, or ``20220608``) is never taken for docks. A row whose columns are all
empty, or that holds a value that is not a count (text, a date, a negative or
infinite number), keeps its space with the documented **default capacity of 1**
and a ``capacity_note`` saying why; ``summary.json`` counts them per input
(``capacity_defaulted``). A layer without capacity columns gives every space 1.

**Merging**: where a layer publishes one space over several rows that share an id
(Seoul's public-parking file lists an on-street car park one row per bay under one
``주차장코드``; the Nanumcar API one row per operator and spot), the rows that would
each be a space become one: the row nearest the mean position of the group is
kept (a real bay, in the middle of the car park), its capacity is the sum of the
group's capacities, and every other row is a reject with reason ``merged`` whose
``detail`` names the kept space and its row. Rows rejected earlier (no or bad
coordinates, outside the study area) keep their own reason and add nothing.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

__all__ = ["DEFAULT_CAPACITY", "merge_groups", "row_capacities"]

#: The capacity of a space whose layer has no capacity, or whose value cannot be read.
DEFAULT_CAPACITY = 1.0

_MISSING = frozenset({"", "nan", "null", "none", "na", "n/a", "-"})
_PLAIN = re.compile(r"[+]?\d+(?:\.\d+)?")
_THOUSANDS = re.compile(r"[+]?\d{1,3}(?:,\d{3})+(?:\.\d+)?")
_DATE = re.compile(r"\d{4}[-./]\d{1,2}[-./]\d{1,2}(?:[ T].*)?")
_COMPACT_DATE = re.compile(r"(?:19|20)\d{6}")


def _is_date(text: str) -> bool:
    try:
        dt.date(int(text[:4]), int(text[4:6]), int(text[6:]))
    except ValueError:
        return False
    return True


def _text_value(text: str) -> tuple[float | None, str | None]:
    """Read a cell's text: (number, None), (None, None) when empty, or (None, why not)."""
    if text.lower() in _MISSING:
        return None, None
    if _COMPACT_DATE.fullmatch(text) and _is_date(text):
        return None, "is a date (YYYYMMDD), not a count"
    if _PLAIN.fullmatch(text) or _THOUSANDS.fullmatch(text):
        return float(text.replace(",", "")), None
    if _DATE.fullmatch(text):
        return None, "is a date, not a count (a row shifted by one column?)"
    return None, "is not a count"


def _value(v: Any) -> tuple[float | None, str | None]:
    """Return (number, None), (None, None) for an empty cell, or (None, why not a count)."""
    if v is None or v is pd.NA or v is pd.NaT or (isinstance(v, float) and math.isnan(v)):
        return None, None
    if isinstance(v, (bool, np.bool_)):
        return None, "is not a count"
    if isinstance(v, (dt.date, dt.datetime, pd.Timestamp)):
        return None, "is a date, not a count"
    if isinstance(v, (int, float, np.integer, np.floating)):
        f = float(v)
        ok = math.isfinite(f) and f >= 0
        return (f, None) if ok else ((None, None) if math.isnan(f) else (None, "is not a count"))
    return _text_value(" ".join(str(v).split()))


def row_capacities(frame: pd.DataFrame, columns: Sequence[str]
                   ) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.object_]]:
    """Each row's capacity (the sum of `columns`) and a note where the default was used.

    Parameters
    ----------
    frame
        The layer's records.
    columns
        The capacity columns (empty: the layer has none, every row gets 1).

    Returns
    -------
    capacity, note
        Per row, the capacity (:data:`DEFAULT_CAPACITY` where the columns are all
        empty or hold a value that is not a count) and the note saying why the
        default was used ("" where the value was read).
    """
    n = len(frame)
    cap = np.full(n, DEFAULT_CAPACITY)
    note = np.full(n, "", dtype=object)
    if not columns:
        return cap, note
    values = [frame[c].to_numpy(dtype=object) for c in columns]
    for i in range(n):
        total, seen, problem = 0.0, False, None
        for col, vals in zip(columns, values, strict=True):
            number, why = _value(vals[i])
            if why is not None:
                problem = f"{col} = {str(vals[i]).strip()!r} {why}"
                break
            if number is not None:
                total, seen = total + number, True
        if problem is None and seen:
            cap[i] = total
            continue
        what = problem or ("/".join(columns) + (" are" if len(columns) > 1 else " is")
                           + " empty")
        note[i] = f"{what}; capacity counted as {DEFAULT_CAPACITY:g}"
    return cap, note


def merge_groups(ids: Sequence[str], x: npt.NDArray[np.float64], y: npt.NDArray[np.float64]
                 ) -> npt.NDArray[np.int64]:
    """For rows that share an id, the position of the row kept for the group.

    Parameters
    ----------
    ids
        The id of each row (rows with an empty id are never merged).
    x, y
        Each row's position (metres).

    Returns
    -------
    kept
        Per row, the position of its group's kept row (itself for a row alone):
        the row nearest the mean position of its group, the first of them on a tie.
    """
    n = len(ids)
    kept = np.arange(n, dtype=np.int64)
    if n < 2:
        return kept
    key = pd.Series(list(ids), dtype=object)
    size = key.groupby(key, sort=False).transform("size").to_numpy()
    multi = (size > 1) & (key != "").to_numpy()
    if not multi.any():
        return kept
    rows = np.flatnonzero(multi)
    frame = pd.DataFrame({"key": key.to_numpy()[rows], "x": x[rows], "y": y[rows],
                          "row": rows})
    mean = frame.groupby("key", sort=False)[["x", "y"]].transform("mean")
    frame["d"] = np.hypot(frame["x"] - mean["x"], frame["y"] - mean["y"])
    best = frame.sort_values(["d", "row"], kind="mergesort").groupby("key", sort=False)["row"]
    chosen = best.first()
    kept[rows] = chosen.loc[frame["key"]].to_numpy()
    return kept
