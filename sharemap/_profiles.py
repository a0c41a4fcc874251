"""The mobility profiles' definitions: speeds, and which edges their tags leave out.

Private to :mod:`sharemap.config` (which checks a group's ``profile``) and
:mod:`sharemap.profiles` (which derives a profile's network and re-exports these
names); see :mod:`sharemap.profiles` for what the profiles mean.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from ._errors import ConfigError

__all__ = ["DISCONNECTED", "EDGE_REASONS", "MAX_RAMP_PCT", "PROFILES", "STROLLER", "WALK",
           "WHEELCHAIR", "Profile", "edge_reasons", "get_profile", "incline_percent"]


@dataclass(frozen=True)
class Profile:
    """A mobility profile: a walking speed and the streets it may use.

    Attributes
    ----------
    name
        The name ``[coverage] groups`` uses (``profile = "wheelchair"``).
    walk_speed_kmh
        The default walking speed of a group with this profile.
    steps
        May use ``highway=steps`` (and any edge merged from steps).
    wheelchair_no
        May use ways tagged ``wheelchair=no``.
    max_incline_pct
        The steepest slope allowed where ``incline`` gives a figure (percent, either
        direction); None: any.
    """

    name: str
    walk_speed_kmh: float
    steps: bool = True
    wheelchair_no: bool = True
    max_incline_pct: float | None = None

    @property
    def filters(self) -> bool:
        """Whether the profile leaves any edge out (``walk`` does not)."""
        return not (self.steps and self.wheelchair_no and self.max_incline_pct is None)

    def describe(self) -> str:
        """Say in words which streets the profile leaves out (``"no steps"``, ...)."""
        parts = ([] if self.steps else ["no steps"]) + (
            [] if self.wheelchair_no else ["no ways tagged wheelchair=no"]) + (
            [] if self.max_incline_pct is None
            else [f"no incline over {self.max_incline_pct:.2f}%"])
        return ", ".join(parts) or "every walkable way"


#: 1:12, the steepest ramp Korea's accessibility rules (장애인등편의법) and the US ADA allow.
MAX_RAMP_PCT = 100.0 / 12.0

WALK = Profile("walk", 3.6)
WHEELCHAIR = Profile("wheelchair", 3.3, steps=False, wheelchair_no=False,
                     max_incline_pct=MAX_RAMP_PCT)
STROLLER = Profile("stroller", 3.6, steps=False)
#: The built-in profiles by name.
PROFILES: dict[str, Profile] = {p.name: p for p in (WALK, WHEELCHAIR, STROLLER)}

#: Why an edge is left out, by code (``ProfileNetwork.edge_reason``): 0 = usable.
EDGE_REASONS = ("", "steps", "wheelchair_no", "incline", "disconnected")
_STEPS, _WHEELCHAIR_NO, _INCLINE = 1, 2, 3
#: The code of an edge usable by its tags but on a piece the filter cut off.
DISCONNECTED = 4


def get_profile(name: str | Profile, *, where: str = "`profile`") -> Profile:
    """Return the built-in profile `name` (a :class:`Profile` is returned as it is).

    Raises
    ------
    ConfigError
        Naming `where` (e.g. ``"study.toml: `coverage.groups #1.profile`"``) and the
        profiles there are.
    """
    if isinstance(name, Profile):
        return name
    found = PROFILES.get(str(name))
    if found is None:
        msg = (f"{where} = {name!r} is not a mobility profile; use one of "
               f"{', '.join(repr(p) for p in PROFILES)}")
        raise ConfigError(msg)
    return found


# ----------------------------------------------------------------------------- tags

_NUMBER = re.compile(r"^\s*([+-]?\d+(?:[.,]\d+)?)\s*(%|°|deg|degrees?)?\s*$", re.IGNORECASE)


def incline_percent(value: str) -> float | None:
    """Read an OSM ``incline`` value as a slope in percent (absolute); None if it gives none.

    Parameters
    ----------
    value
        The tag as the network keeps it: ``"8%"``, ``"-10 %"``, ``"5°"``, ``"up"``, or
        several merged parts ``"12%;5%"`` (the steepest counts).

    Returns
    -------
    percent
        The steepest part's slope in percent, sign dropped (a way is as steep going
        down as up); None when no part is a figure (``up``, ``down``, empty).

    Examples
    --------
    >>> incline_percent("-10%"), incline_percent("5°") is not None, incline_percent("up")
    (10.0, True, None)
    >>> incline_percent("3%;up;12 %")
    12.0
    """
    best: float | None = None
    for part in str(value).split(";"):
        found = _NUMBER.match(part)
        if not found:
            continue
        number = abs(float(found.group(1).replace(",", ".")))
        unit = (found.group(2) or "%").lower()
        pct = number if unit == "%" else (
            math.tan(math.radians(number)) * 100.0 if number < 90 else math.inf)
        best = pct if best is None else max(best, pct)
    return best


def _parts(values: npt.NDArray[np.object_], test: Any) -> npt.NDArray[np.bool_]:
    """`test` of each value's ``;``-parts (any part), evaluated once per distinct value."""
    codes, uniques = pd.factorize(values)
    table = np.array([any(test(p) for p in str(u).split(";")) for u in uniques] + [False],
                     dtype=bool)
    return table[codes]


def edge_reasons(edges: pd.DataFrame, profile: Profile
                 ) -> tuple[npt.NDArray[np.int8], int]:
    """Say why each edge is left out by the tags (0 = usable), and count unread inclines.

    Parameters
    ----------
    edges
        A network's edges with ``highway`` (and, where the source has them,
        ``wheelchair`` and ``incline``).
    profile
        The profile.

    Returns
    -------
    reason, incline_unknown
        Per edge, a code into :data:`EDGE_REASONS` (the first that applies: steps,
        then ``wheelchair=no``, then incline); and the number of edges kept whose
        ``incline`` is tagged but gives no figure (``up``, ``down``; 0 for a profile
        without an incline limit).
    """
    n = len(edges)
    reason = np.zeros(n, dtype=np.int8)

    def column(name: str) -> npt.NDArray[np.object_]:
        return (edges[name].fillna("").astype(str).to_numpy(dtype=object) if name in edges
                else np.full(n, "", dtype=object))

    unread = np.zeros(n, dtype=bool)
    if profile.max_incline_pct is not None:
        incline = column("incline")
        codes, uniques = pd.factorize(incline)
        pct = np.array([incline_percent(u) for u in uniques] + [None], dtype=object)[codes]
        has = np.array([p is not None for p in pct], dtype=bool)
        unread = (incline != "") & ~has
        steep = has & np.array([p is not None and p > profile.max_incline_pct + 1e-9
                                for p in pct], dtype=bool)
        reason[steep] = _INCLINE
    if not profile.wheelchair_no:
        reason[_parts(column("wheelchair"), lambda p: p.strip().lower() == "no")] = \
            _WHEELCHAIR_NO
    if not profile.steps:
        reason[_parts(column("highway"), lambda p: p.strip() == "steps")] = _STEPS
    return reason, int((unread & (reason == 0)).sum())
