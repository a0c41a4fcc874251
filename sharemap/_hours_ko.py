"""Opening hours written the way Korean public listings write them, read into OSM syntax.

The forms in Seoul's files (and the common variants around them)::

    평일 09:00 ~ 18:00                       -> Mo-Fr 09:00-18:00
    화~토 10:30 ~18:00 + 일 13:00 ~ 18:00     -> Tu-Sa 10:30-18:00; Su 13:00-18:00
    월~금 09:00~18:00 (휴관일 제외)           -> Mo-Fr 09:00-18:00
    평일 09:00~18:00(점심시간 12:00~13:00)    -> Mo-Fr 09:00-12:00,13:00-18:00
    24시간, 연중무휴 24시간                   -> 24/7
    월~토 09:00~18:00, 일요일 휴무            -> Mo-Sa 09:00-18:00; Su off

The reading is strict: every piece of the text must be understood (days, times,
a lunch break, a closing day, a few words that change nothing such as 운영시간),
or the whole value is refused with the piece that was not, and the caller keeps
the space as "hours unknown". Nothing is guessed:

- a time with no day (``09:00~18:00``) says when the place can be open but not
  on which days: it becomes ``09:00-18:00 unknown`` (unknown within those hours,
  closed outside them on every day). ``24시간`` alone is the common way to say
  "always open" and becomes ``24/7``.
- ``(휴관일 제외)`` ("closing days excepted") names no dates and so changes no
  time of an ordinary week; ``공휴일`` (public holidays) becomes ``PH``.
- a lunch break (``점심시간``/``휴게시간``/``중식시간`` + a time range) is cut out
  of the times of the rule it follows.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field

__all__ = ["KoreanHoursError", "korean_to_osm"]

DAY_ABBR = ("Mo", "Tu", "We", "Th", "Fr", "Sa", "Su")
_KO_DAY = {"월": 0, "화": 1, "수": 2, "목": 3, "금": 4, "토": 5, "일": 6}
#: words naming a set of days (index 7 = public holidays)
_DAY_WORDS = {
    "평일": (0, 1, 2, 3, 4), "주중": (0, 1, 2, 3, 4), "주말": (5, 6),
    "법정공휴일": (7,), "공휴일": (7,), "국경일": (7,),
}
#: "every day" words; they may also follow the times (09:00~18:00 연중무휴)
_EVERY_DAY = ("매일", "연중무휴", "상시", "년중무휴")
_PH = 7
_OFF_WORDS = ("정기휴무", "정기휴관", "휴무", "휴관", "휴점", "휴업", "쉼")
_BREAK_WORDS = ("점심시간", "휴게시간", "중식시간", "점심")
#: notes that name no time of an ordinary week ("except closing days", ...)
_NOTE_PATTERNS = (r"휴관일\s*제외", r"휴무일\s*제외", r"휴관일은\s*제외")
#: words that change nothing ("opening hours:", "from", "until", "operating")
_FILLER = ("운영시간", "이용시간", "개방시간", "운영", "이용", "개방", "부터", "까지", "요일", ":")


class KoreanHoursError(ValueError):
    """A value that is not a Korean opening-hours form sharemap reads (says which piece)."""


@dataclass
class _Rule:
    days: tuple[int, ...] | None = None  # None: no day given
    times: list[tuple[int, int]] = field(default_factory=list)  # minutes from midnight
    off: bool = False

    @property
    def empty(self) -> bool:
        return self.days is None and not self.times and not self.off


# ----------------------------------------------------------------------------- tokens

_TIME = (r"(?:(?P<ap{n}>오전|오후)\s*)?(?P<h{n}>\d{{1,2}})"
         r"(?:\s*:\s*(?P<m{n}>\d{{2}})|\s*시(?:\s*(?P<mk{n}>\d{{1,2}})\s*분|\s*(?P<half{n}>반))?)")
_RANGE = re.compile(_TIME.format(n=1) + r"\s*(?:~|-|부터)\s*" + _TIME.format(n=2)
                    + r"(?:\s*까지)?")
_DAY_ONE = r"[월화수목금토일](?:요일)?"
_DAY_RANGE = re.compile(rf"({_DAY_ONE})\s*[~-]\s*({_DAY_ONE})")


def _bare(pattern: str) -> str:
    """Make a pattern's groups non-capturing (to sit inside the token regex)."""
    return re.sub(r"\((?!\?)|\(\?P<\w+>", "(?:", pattern)


def _alt(words: tuple[str, ...]) -> str:
    return "|".join(sorted(words, key=len, reverse=True))


# Order matters: at one position the first alternative that matches wins, so the
# longer phrases (휴관일 제외, 공휴일) come before the words inside them (휴관, 일).
_TOKENS = re.compile(
    r"(?P<ws>\s+)"
    r"|(?P<sep>[+,/;|]|및|그리고)"
    r"|(?P<h24>24\s*시간(?:\s*운영)?)"
    rf"|(?P<range>{_bare(_RANGE.pattern)})"
    rf"|(?P<note>{_alt(_NOTE_PATTERNS)})"
    r"|(?P<phoff>(?:법정)?공휴일\s*제외)"
    rf"|(?P<dayrange>{_bare(_DAY_RANGE.pattern)})"
    rf"|(?P<everyday>{_alt(_EVERY_DAY)})"
    rf"|(?P<dayword>{_alt(tuple(_DAY_WORDS))})"
    rf"|(?P<day>{_DAY_ONE})"
    rf"|(?P<off>{_alt(_OFF_WORDS)})"
    rf"|(?P<brk>{_alt(_BREAK_WORDS)})"
    rf"|(?P<filler>{_alt(_FILLER)})"
    r"|(?P<open>[(\[])|(?P<close>[)\]])"
)


def normalize_text(text: str) -> str:
    """Fold full-width forms, tildes, dashes and middle dots to one spelling each."""
    text = unicodedata.normalize("NFKC", text)
    text = re.sub(r"[∼〜～˜]", "~", text)
    text = re.sub(r"[‐‑‒–—―−]", "-", text)
    text = re.sub(r"[·ㆍ・•]", ",", text)
    return re.sub(r"\s+", " ", text).strip()


def _minutes(m: re.Match[str], n: int) -> int:
    hour = int(m[f"h{n}"])
    minute = int(m[f"m{n}"] or m[f"mk{n}"] or (30 if m[f"half{n}"] else 0))
    ampm = m[f"ap{n}"]
    if ampm and not 1 <= hour <= 12:
        msg = f"{ampm} {hour}시 is not a 12-hour time"
        raise KoreanHoursError(msg)
    if ampm == "오후" and hour < 12:
        hour += 12
    elif ampm == "오전" and hour == 12:
        hour = 0
    if hour > 24 or minute > 59 or (hour == 24 and minute):
        msg = f"{m[0]!r} is not a time of day"
        raise KoreanHoursError(msg)
    return hour * 60 + minute


def _time_range(m: re.Match[str]) -> tuple[int, int]:
    start, end = _minutes(m, 1), _minutes(m, 2)
    if start == 24 * 60:
        msg = f"{m[0]!r} starts at 24:00"
        raise KoreanHoursError(msg)
    if start == end:
        msg = f"{m[0]!r} starts and ends at the same time"
        raise KoreanHoursError(msg)
    return start, end


def _days_of(token: str) -> tuple[int, ...]:
    if token in _DAY_WORDS:
        return _DAY_WORDS[token]
    rng = _DAY_RANGE.fullmatch(token)
    if rng:
        a, b = _KO_DAY[rng[1][0]], _KO_DAY[rng[2][0]]
        return tuple((a + k) % 7 for k in range((b - a) % 7 + 1))
    return (_KO_DAY[token[0]],)


# ----------------------------------------------------------------------------- parser


class _Parser:
    """Read tokens into rules: days, then their times (or 휴무), then the next days."""

    def __init__(self) -> None:
        self.rules: list[_Rule] = []
        self.cur = _Rule()

    def flush(self) -> None:
        if not self.cur.empty:
            if self.cur.days is not None and not self.cur.times and not self.cur.off:
                msg = "days without times"
                raise KoreanHoursError(msg)
            self.rules.append(self.cur)
        self.cur = _Rule()

    def every_day(self) -> None:
        if self.cur.times and self.cur.days is None:  # 09:00~18:00 연중무휴
            self.cur.days = tuple(range(7))
        else:
            self.days(tuple(range(7)))

    def ph_off(self) -> None:
        self.flush()
        self.rules.append(_Rule(days=(_PH,), off=True))

    def days(self, days: tuple[int, ...]) -> None:
        if self.cur.times or self.cur.off:
            self.flush()
        prev = self.cur.days or ()
        self.cur.days = tuple(dict.fromkeys((*prev, *days)))  # a list: 월, 수, 금

    def times(self, span: tuple[int, int]) -> None:
        if self.cur.off:
            self.flush()
        self.cur.times.append(span)

    def off(self) -> None:
        if self.cur.days is None or self.cur.times:
            msg = "a closing word (휴무/휴관) without the days it closes"
            raise KoreanHoursError(msg)
        self.cur.off = True
        self.flush()

    def cut_break(self, span: tuple[int, int]) -> None:
        target = self.cur if self.cur.times else (self.rules[-1] if self.rules else None)
        if target is None or not target.times:
            msg = "a break with no opening times before it"
            raise KoreanHoursError(msg)
        a, b = span
        if b <= a:
            msg = "a break that runs past midnight"
            raise KoreanHoursError(msg)
        cut = []
        for s, e in target.times:
            if e <= s:  # past midnight: leave it alone unless the break falls inside
                if a >= s or b <= e:
                    msg = "a break inside hours that run past midnight"
                    raise KoreanHoursError(msg)
                cut.append((s, e))
                continue
            if b <= s or a >= e:
                cut.append((s, e))
                continue
            if a > s:
                cut.append((s, a))
            if b < e:
                cut.append((b, e))
        if cut == target.times:
            msg = "a break outside the opening times"
            raise KoreanHoursError(msg)
        target.times = cut


def _bracket(text: str, m: re.Match[str], parser: _Parser, depth: int) -> int:
    """Read a bracketed part (a break, a note, more rules); return where it ends."""
    close = text.find(")" if m[0] == "(" else "]", m.end())
    if close < 0 or depth:
        msg = f"unbalanced bracket in {text!r}"
        raise KoreanHoursError(msg)
    _scan(text[m.end():close], parser, depth=depth + 1)
    return close + 1


_ACTIONS = {
    "h24": lambda parser, token: parser.times((0, 24 * 60)),
    "dayrange": lambda parser, token: parser.days(_days_of(token)),
    "dayword": lambda parser, token: parser.days(_days_of(token)),
    "day": lambda parser, token: parser.days(_days_of(token)),
    "everyday": lambda parser, token: parser.every_day(),
    "phoff": lambda parser, token: parser.ph_off(),
    "off": lambda parser, token: parser.off(),
}
_NEUTRAL = ("ws", "sep", "note", "filler")


def _scan(text: str, parser: _Parser, *, depth: int = 0) -> None:
    pos = 0
    pending_break = False  # 점심시간 seen: the next time range is cut out
    while pos < len(text):
        m = _TOKENS.match(text, pos)
        if m is None or m.end() == pos:
            msg = f"{text[pos:pos + 20]!r} is not a day, a time or a known word"
            raise KoreanHoursError(msg)
        kind, token = m.lastgroup, m[0].strip()
        pos = m.end()
        if kind == "open":
            pos = _bracket(text, m, parser, depth)
        elif kind == "close":
            msg = f"unbalanced bracket in {text!r}"
            raise KoreanHoursError(msg)
        elif kind == "range":
            span = _time_range(_RANGE.fullmatch(token) or _no_match(token))
            if pending_break:
                parser.cut_break(span)
            else:
                parser.times(span)
            pending_break = False
        elif kind == "brk":
            pending_break = True
        elif pending_break and kind not in ("ws", "filler"):
            msg = f"{token!r} where a break's time range should be"
            raise KoreanHoursError(msg)
        elif kind not in _NEUTRAL:
            _ACTIONS[str(kind)](parser, token)
    if pending_break:
        msg = "a break without its time range"
        raise KoreanHoursError(msg)


def _no_match(token: str) -> re.Match[str]:
    msg = f"not a time range: {token!r}"
    raise KoreanHoursError(msg)


# ----------------------------------------------------------------------------- output


def osm_days(days: tuple[int, ...]) -> str:
    """OSM weekday selector for day indices (0 = Monday): ``Mo-Fr``, ``Sa,Su``, ``Mo,We,Fr``."""
    week = sorted(d for d in set(days) if d < _PH)
    parts, i = [], 0
    while i < len(week):
        j = i
        while j + 1 < len(week) and week[j + 1] == week[j] + 1:
            j += 1
        if j - i >= 2:
            parts.append(f"{DAY_ABBR[week[i]]}-{DAY_ABBR[week[j]]}")
        else:
            parts += [DAY_ABBR[d] for d in week[i:j + 1]]
        i = j + 1
    if _PH in days:
        parts.append("PH")
    return ",".join(parts)


def osm_time(minutes: int) -> str:
    """``HH:MM`` for minutes after midnight (1440 is ``24:00``)."""
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


def _rule_text(rule: _Rule) -> str:
    days = osm_days(rule.days) if rule.days is not None else ""
    if rule.off:
        return f"{days} off"
    times = ",".join(f"{osm_time(s)}-{osm_time(e)}" for s, e in rule.times)
    if rule.days is None:
        return f"{times} unknown"
    return f"{days} {times}"


def korean_to_osm(text: str) -> str:
    """Translate a Korean opening-hours value into OSM ``opening_hours`` syntax.

    Parameters
    ----------
    text
        The value as a file holds it, e.g. ``"평일 09:00 ~ 18:00"``.

    Returns
    -------
    osm
        The same hours in OSM syntax, e.g. ``"Mo-Fr 09:00-18:00"``.

    Raises
    ------
    KoreanHoursError
        If any piece of the value is not understood (the message names it).

    Examples
    --------
    >>> korean_to_osm("화~토 10:30 ~18:00 + 일 13:00 ~ 18:00")
    'Tu-Sa 10:30-18:00; Su 13:00-18:00'
    >>> korean_to_osm("09:00~18:00(점심시간 12:00~13:00)")
    '09:00-12:00,13:00-18:00 unknown'
    """
    norm = normalize_text(text)
    if not norm:
        msg = "empty"
        raise KoreanHoursError(msg)
    parser = _Parser()
    _scan(norm, parser)
    parser.flush()
    rules = parser.rules
    if not rules:
        msg = f"no days or times in {text!r}"
        raise KoreanHoursError(msg)
    if all(r.off for r in rules):
        msg = f"only closing days in {text!r}, no opening times"
        raise KoreanHoursError(msg)
    full = [(0, 24 * 60)]
    if len(rules) == 1 and rules[0].times == full and rules[0].days in (None, tuple(range(7))):
        return "24/7"  # 24시간 (alone, or every day): the usual way to say "always open"
    # rules without days first (they name every day), closing days last (they override)
    ordered = ([r for r in rules if r.days is None]
               + [r for r in rules if r.days is not None and not r.off]
               + [r for r in rules if r.off])
    return "; ".join(_rule_text(r) for r in ordered)
