"""Opening hours: read them from a layer, and ask which spaces are open at a time of week.

A layer's hours come from one column, in OpenStreetMap ``opening_hours`` syntax
(``Mo-Fr 09:00-18:00; Sa 10:00-13:00``, read by the opening-hours-py parser) or in
the Korean forms of Seoul's files (``평일 09:00 ~ 18:00``, ``화~토``, a lunch break in
brackets, ``24시간``: see :mod:`sharemap._hours_ko`), or from start/end columns
per day type in ``HHMM`` (``0900``/``1900``), as the public-parking file has them.
Every value becomes an OSM string (``hours_osm``) or, when it is missing or not
understood, "hours unknown" (``hours_osm`` empty): it is counted, never guessed.

A time of week (``"Sat 14:00"``: an English three-letter day and a 24-hour time)
asks about an ordinary week: a space is ``open``, ``closed`` or ``unknown`` then.
The state is evaluated on every such weekday of a reference year (2025) with no
public holidays (``PH`` rules never apply); a space whose state differs between
those days (seasonal hours, a dated closing day) is ``unknown``, and so is one
whose hours are unknown or say ``unknown`` for that time. Coverage at several
times of week: :func:`sharemap.study.coverage_by_time`.
"""

from __future__ import annotations

import functools
import logging
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from datetime import time as dtime
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from ._errors import ConfigError
from ._hours_ko import DAY_ABBR, KoreanHoursError, korean_to_osm, osm_time

if TYPE_CHECKING:
    import geopandas as gpd

__all__ = [
    "DAY_TYPES",
    "STATES",
    "ParsedHours",
    "TimeOfWeek",
    "hours_from_hhmm",
    "hours_state",
    "parse_hours",
    "parse_time_of_week",
    "parse_times_of_week",
    "state_counts",
]

logger = logging.getLogger(__name__)

STATES = ("open", "closed", "unknown")
#: day types of start/end columns, and the OSM days they stand for
DAY_TYPES = {"weekday": "Mo-Fr", "saturday": "Sa", "sunday": "Su", "weekend": "Sa,Su",
             "everyday": "Mo-Su", "holiday": "PH"}
_WEEK_OF = {"weekday": (0, 1, 2, 3, 4), "saturday": (5,), "sunday": (6,), "weekend": (5, 6),
            "everyday": tuple(range(7)), "holiday": ()}
_REFERENCE_YEAR = 2025
_MISSING = frozenset({"", "nan", "null", "none", "na", "n/a", "-"})
_ENGLISH_DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


# ----------------------------------------------------------------------------- times of week


@dataclass(frozen=True, order=True)
class TimeOfWeek:
    """A time in an ordinary week: ``day`` 0 = Monday ... 6 = Sunday, ``minute`` after midnight."""

    day: int
    minute: int

    def __str__(self) -> str:
        return f"{_ENGLISH_DAYS[self.day].title()} {osm_time(self.minute)}"


def parse_time_of_week(text: str, *, what: str = "`at`") -> TimeOfWeek:
    """Read ``"Sat 14:00"``: an English three-letter day and a 24-hour time.

    Parameters
    ----------
    text
        E.g. ``"Mon 09:00"``, ``"sun 7:30"`` (case and one-digit hours are accepted).
    what
        Where the value came from, for the error message (``--at``, ``study.at``).

    Returns
    -------
    at
        The time of week.

    Raises
    ------
    ConfigError
        If the text is not a day and a time.

    Examples
    --------
    >>> str(parse_time_of_week("sat 9:05"))
    'Sat 09:05'
    """
    m = re.fullmatch(r"\s*([A-Za-z]{3})\s+(\d{1,2}):(\d{2})\s*", str(text))
    if m and m[1].lower() in _ENGLISH_DAYS and int(m[2]) < 24 and int(m[3]) < 60:
        return TimeOfWeek(_ENGLISH_DAYS.index(m[1].lower()), int(m[2]) * 60 + int(m[3]))
    msg = (f"{what} = {text!r}: give an English three-letter day and a 24-hour time, "
           'e.g. "Sat 14:00" (Mon Tue Wed Thu Fri Sat Sun; 00:00-23:59)')
    raise ConfigError(msg)


def parse_times_of_week(text: str | Sequence[str], *, what: str = "--times"
                        ) -> tuple[TimeOfWeek, ...]:
    """Read several times of week (``"Mon 09:00,Mon 19:00,Sat 14:00"`` or a list), in order.

    Raises
    ------
    ConfigError
        If one is not a time of week, or the same time is given twice.
    """
    items = [t for t in (text.split(",") if isinstance(text, str) else text) if t.strip()]
    if not items:
        msg = f'{what}: give at least one time of week, e.g. "Mon 09:00,Sat 14:00"'
        raise ConfigError(msg)
    times = tuple(parse_time_of_week(t, what=what) for t in items)
    if len(set(times)) != len(times):
        msg = f"{what}: a time of week is given twice ({', '.join(map(str, times))})"
        raise ConfigError(msg)
    return times


# ----------------------------------------------------------------------------- parsing


@dataclass(frozen=True)
class ParsedHours:
    """One value read: ``osm`` (OSM syntax) or None with ``note`` saying why it is unknown."""

    osm: str | None
    note: str = ""


def _osm_parser() -> Any:
    import opening_hours

    return opening_hours.OpeningHours


@functools.lru_cache(maxsize=8192)
def _parse_one(text: str) -> ParsedHours:
    import opening_hours

    if opening_hours.validate(text):
        return ParsedHours(text)
    osm_error = _osm_error(text)
    try:
        osm = korean_to_osm(text)
    except KoreanHoursError as exc:
        has_korean = re.search(r"[\uac00-\ud7a3]|~", text) is not None
        why = str(exc) if has_korean else f"not OSM opening_hours syntax ({osm_error})"
        return ParsedHours(None, f"not understood: {why}")
    _osm_parser()(osm)  # sharemap's translation is always valid OSM (tested)
    return ParsedHours(osm)


def _osm_error(text: str) -> str:
    """Say where and why the OSM parser refuses `text` (its message, shortened)."""
    try:
        _osm_parser()(text)
    except Exception as exc:  # opening_hours.ParserError (not in its type stubs)
        where = re.search(r"-->\s*(\d+:\d+)", str(exc))
        expected = re.search(r"=\s*(expected .*)", str(exc))
        return (f"at {where[1] if where else '?'}: "
                f"{expected[1] if expected else str(exc).splitlines()[0]}")
    return "?"


def parse_hours(value: Any) -> ParsedHours:
    """Read one opening-hours value (OSM syntax, or a Korean form).

    Parameters
    ----------
    value
        The value as a layer holds it; None, NaN and empty text mean "not given".

    Returns
    -------
    hours
        ``osm`` is the value in OSM syntax (the value itself when it already is);
        None when it is missing or not understood, with ``note`` saying which.

    Examples
    --------
    >>> parse_hours("평일 09:00 ~ 18:00").osm
    'Mo-Fr 09:00-18:00'
    >>> parse_hours("Mo-Fr 08:00-20:00; Sa 10:00-14:00").osm
    'Mo-Fr 08:00-20:00; Sa 10:00-14:00'
    >>> parse_hours("전화 문의").note
    "not understood: '전화 문의' is not a day, a time or a known word"
    """
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return ParsedHours(None, "no hours given")
    text = re.sub(r"\s+", " ", str(value)).strip()
    if text.lower() in _MISSING:
        return ParsedHours(None, "no hours given")
    return _parse_one(text)


def _hhmm_minutes(value: Any) -> int | None:
    """Minutes after midnight of an ``HHMM`` value (``0900``, ``2400``; ``9:00`` too)."""
    if isinstance(value, (int, np.integer)) or (isinstance(value, float) and value.is_integer()):
        text = f"{int(value):04d}"  # a number cell lost its leading zeros (900 = 09:00)
    else:
        text = str(value).strip()  # '500 ' stays 3 digits: not HHMM, never 05:00
    m = re.fullmatch(r"(\d{2}):?(\d{2})|(\d):(\d{2})", text)
    if not m:
        return None
    hour, minute = (int(m[1]), int(m[2])) if m[1] else (int(m[3]), int(m[4]))
    if hour > 24 or minute > 59 or (hour == 24 and minute):
        return None
    return hour * 60 + minute


def _hhmm_span(start: Any, end: Any) -> tuple[str | None, str]:
    """Return the OSM time span of one start/end pair, or None and why not."""
    shown = f"{start!s}-{end!s}"
    a, b = _hhmm_minutes(start), _hhmm_minutes(end)
    if a is None or b is None:
        return None, f"{shown!r} is not HHMM"
    if a == 0 and b == 0:
        return None, f"{shown} (not operated, or not recorded)"
    if a == 24 * 60:
        return None, f"{shown} starts at 24:00"
    if b == 11 * 60 + 59:
        # only in the 공유) resident-parking rows, with starts 0000/0059: a 12-hour clock?
        return None, f"{shown} reads like a 12-hour clock (11:59); not guessed"
    if b == 0:
        b = 24 * 60  # open until midnight
    if a == b:
        return None, f"{shown} starts and ends at the same time"
    return f"{osm_time(a)}-{osm_time(b)}", ""


def hours_from_hhmm(columns: Mapping[str, tuple[Sequence[Any], Sequence[Any]]]
                    ) -> list[ParsedHours]:
    """Read opening hours from start/end ``HHMM`` columns per day type (Seoul's parking files).

    Parameters
    ----------
    columns
        Day type (``weekday``, ``saturday``, ``sunday``, ``weekend``, ``everyday``,
        ``holiday``) to the (start values, end values) of every record.

    Returns
    -------
    hours
        One :class:`ParsedHours` per record. Days no day type names are ``unknown``;
        a pair is unknown when it is ``0000``-``0000`` (Seoul's files write it both for
        "not operated" and "not recorded"), not ``HHMM``, starts at 24:00, starts
        and ends at the same time, or ends at ``1159`` (only in rows whose starts
        are ``0000``/``0059``: a 12-hour clock, not guessed). An end of ``0000`` or
        ``2400`` is midnight; an end before the start runs past midnight
        (``0900``-``0100`` is ``09:00-01:00``). A record with no known pair is unknown.

    Raises
    ------
    ConfigError
        On an unknown day type, or day types that overlap (``weekend`` and ``saturday``).

    Examples
    --------
    >>> [h.osm for h in hours_from_hhmm({"weekday": (["0900"], ["1900"]),
    ...                                  "weekend": (["0000"], ["0000"])})]
    ['Mo-Fr 09:00-19:00; Sa,Su unknown']
    """
    unknown_types = sorted(set(columns) - set(DAY_TYPES))
    if unknown_types:
        msg = (f"hours day types {unknown_types} are not known; use "
               f"{', '.join(DAY_TYPES)}")
        raise ConfigError(msg)
    named = [d for t in columns for d in _WEEK_OF[t]]
    if len(named) != len(set(named)):
        msg = f"hours day types {sorted(columns)} name some days twice"
        raise ConfigError(msg)
    rest = tuple(d for d in range(7) if d not in named)
    n = len(next(iter(columns.values()))[0]) if columns else 0
    out = []
    for i in range(n):
        rules, notes, known = [], [], False
        for dtype, (starts, ends) in columns.items():
            span, note = _hhmm_span(starts[i], ends[i])
            days = DAY_TYPES[dtype]
            if span is None:
                rules.append(f"{days} unknown")
                notes.append(f"{dtype} {note}")
            else:
                rules.append(f"{days} {span}")
                known = known or dtype != "holiday"
        if rest:
            rules.append(f"{','.join(DAY_ABBR[d] for d in rest)} unknown")
        if not known:
            out.append(ParsedHours(None, "no known hours: " + "; ".join(notes)))
        else:
            out.append(ParsedHours("; ".join(rules)))
    return out


# ----------------------------------------------------------------------------- states


@functools.lru_cache(maxsize=16)
def _reference_dates(day: int) -> tuple[date, ...]:
    first = date(_REFERENCE_YEAR, 1, 1)
    first += timedelta(days=(day - first.weekday()) % 7)
    return tuple(d for d in (first + timedelta(weeks=k) for k in range(53))
                 if d.year == _REFERENCE_YEAR)


@functools.lru_cache(maxsize=65536)
def _state(osm: str, at: TimeOfWeek) -> str:
    hours = _osm_parser()(osm)
    when = dtime(at.minute // 60, at.minute % 60)
    seen = set()
    for day in _reference_dates(at.day):
        seen.add(str(hours.state(datetime.combine(day, when))[0]))
        if len(seen) > 1:
            return "unknown"  # differs between weeks: seasonal hours, a dated closing day
    state = seen.pop().lower()
    return state if state in STATES else "unknown"


def hours_state(hours_osm: Sequence[Any] | pd.Series, at: TimeOfWeek | str) -> np.ndarray:
    """Whether each space is open at a time of week.

    Parameters
    ----------
    hours_osm
        OSM ``opening_hours`` values; empty, None or NaN = hours unknown.
    at
        A :class:`TimeOfWeek` or its text (``"Sat 14:00"``).

    Returns
    -------
    state
        ``"open"``, ``"closed"`` or ``"unknown"`` per value (object array).

    Examples
    --------
    >>> hours_state(["Mo-Fr 09:00-18:00", "Sa 10:00-13:00", ""], "Sat 11:00").tolist()
    ['closed', 'open', 'unknown']
    """
    when = at if isinstance(at, TimeOfWeek) else parse_time_of_week(at)
    values = pd.Series(list(hours_osm), dtype=object)
    out = np.full(len(values), "unknown", dtype=object)
    given = values.notna().to_numpy() & (values.astype(str).str.strip() != "").to_numpy()
    if given.any():
        codes, uniq = pd.factorize(values[given].astype(str))
        out[given] = np.array([_state(u, when) for u in uniq], dtype=object)[codes]
    return out


def state_counts(spaces: gpd.GeoDataFrame | pd.DataFrame, state: np.ndarray,
                 categories: Sequence[str]) -> dict[str, dict[str, int]]:
    """Per category, how many spaces are ``open``, ``closed`` and ``unknown``."""
    cats = spaces["category"].to_numpy()
    return {cat: {s: int(((cats == cat) & (state == s)).sum()) for s in STATES}
            for cat in categories}
