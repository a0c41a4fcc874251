"""Checks of numbers given by a user (study file, command line, API): finite and in range.

A study's numbers bound the work a run does (minutes and speeds set how far every
search goes, ``max_snap_m`` how far a point may be from a street), so each has a
documented range. NaN and infinity are refused everywhere: a NaN threshold silently
makes every comparison false (0 candidates, 0 blocks) and an infinite speed makes
everything reachable. The messages are one line, naming the key and the range.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from ._errors import ConfigError

__all__ = ["LIMITS", "Limit", "check_number", "check_whole", "plain_repr"]


@dataclass(frozen=True)
class Limit:
    """An allowed range: ``low < value`` (or ``<=`` when `low_inclusive`), ``value <= high``."""

    low: float
    high: float
    low_inclusive: bool = False
    unit: str = ""

    def describe(self) -> str:
        """Return the range in words, e.g. ``"> 0 and <= 180 min"``."""
        low = f"{'>=' if self.low_inclusive else '>'} {_plain(self.low)}"
        unit = f" {self.unit}" if self.unit else ""
        return f"{low} and <= {_plain(self.high)}{unit}"

    def holds(self, value: float) -> bool:
        """Whether a finite `value` lies in the range."""
        above = value >= self.low if self.low_inclusive else value > self.low
        return above and value <= self.high


#: Walking times: beyond three hours a walk is no longer a question of access, and every
#: search's cost grows with the time it may run.
MINUTES = Limit(0.0, 180.0, unit="min")
#: Walking speeds: 30 km/h is beyond any walk or wheelchair; the lower end is open.
SPEED_KMH = Limit(0.0, 30.0, unit="km/h")
#: The ranges of the study file's and the commands' numbers, by key.
LIMITS: dict[str, Limit] = {
    "walk_speed_kmh": SPEED_KMH,
    "minutes": MINUTES,
    "max_snap_m": Limit(0.0, 10_000.0, unit="m"),
    "min_area_m2": Limit(0.0, 1e8, low_inclusive=True, unit="m²"),
    "min_spaces": Limit(1, 1_000_000, low_inclusive=True),
    "gap_blocks": Limit(0, 1_000_000, low_inclusive=True),
    "add": Limit(1, 10_000, low_inclusive=True),
    "capacity": Limit(0.0, 1e9),
    "weight": Limit(0.0, 1e6, low_inclusive=True),
    "band": Limit(1, 100_000, low_inclusive=True),
    # candidate sites on a grid: under 10 m only multiplies the work
    "grid_m": Limit(10.0, 100_000.0, low_inclusive=True, unit="m"),
    # a group counted this many times in a suggestion's objective
    "group_weight": Limit(0.0, 1_000.0, low_inclusive=True),
    # a block this large gets a grid of origins (1e12 m² is larger than any city)
    "multi_origin_min_area_m2": Limit(0.0, 1e12, unit="m²"),
    # the grid of origins: under 10 m it would only multiply the work
    "origin_spacing_m": Limit(10.0, 10_000.0, low_inclusive=True, unit="m"),
}


def check_number(value: Any, what: str, limit: Limit, *,
                 error: type[Exception] = ConfigError) -> float:
    """Return `value` as a float if it is a finite number in `limit`, else raise `error`.

    Parameters
    ----------
    value
        The value as given (a TOML number, a parsed option, an API argument).
    what
        How the user named it, for the message (e.g. ``"study.toml: `villages.adjacent_minutes`"``).
    limit
        The allowed range.
    error
        The exception class to raise (a one-line message).

    Returns
    -------
    value
        The value as a float.
    """
    is_number = isinstance(value, (int, float)) or _numpy_number(value)
    if isinstance(value, bool) or not is_number:
        msg = f"{what} must be a number, got {value!r}"
        raise error(msg)
    number = float(value)
    if not math.isfinite(number):
        msg = f"{what} must be a finite number ({limit.describe()}), got {number!r}"
        raise error(msg)
    if not limit.holds(number):
        msg = f"{what} must be {limit.describe()}, got {plain_repr(value)}"
        raise error(msg)
    return number


def check_whole(value: Any, what: str, limit: Limit, *,
                error: type[Exception] = ConfigError) -> int:
    """Return `value` as an int if it is a whole number in `limit`, else raise `error`."""
    is_int = isinstance(value, int) and not isinstance(value, bool)
    if not is_int and _numpy_number(value):
        is_int = float(value).is_integer()
    if not is_int:
        msg = f"{what} must be a whole number ({limit.describe()}), got {plain_repr(value)}"
        raise error(msg)
    if not limit.holds(float(value)):
        msg = f"{what} must be a whole number {limit.describe()}, got {plain_repr(value)}"
        raise error(msg)
    return int(value)


def _numpy_number(value: Any) -> bool:
    import numpy as np

    return isinstance(value, (np.integer, np.floating))


def _plain(value: float) -> str:
    """Format a bound for a message: ``180``, ``1,000,000``, ``0.5``."""
    return f"{int(value):,}" if float(value).is_integer() else f"{value:g}"


def plain_repr(value: Any) -> str:
    """Format a value for a message as plain Python, never a numpy repr (``np.int64(5)``)."""
    if _numpy_number(value):
        value = value.item()
    return repr(value)
