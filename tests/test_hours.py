"""Opening hours: reading them (OSM, Korean forms, HHMM columns) and `--at` / `--times`."""

from __future__ import annotations

import json
import re

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from conftest import CRS, X0, Y0, osm_graph
from shapely.geometry import box

from sharemap import ConfigError, InputDataError, read_config, read_layer, run_study
from sharemap._hours_ko import korean_to_osm
from sharemap.cli import main
from sharemap.hours import (
    hours_from_hhmm,
    hours_state,
    parse_hours,
    parse_time_of_week,
    parse_times_of_week,
)
from sharemap.study import audit_at_times, coverage_by_time

# ----------------------------------------------------------------------------- Korean forms


@pytest.mark.parametrize(("text", "osm"), [
    # the forms
    ("평일 10:00 ~ 18:00", "Mo-Fr 10:00-18:00"),
    ("화~토 10:00 ~ 18:00", "Tu-Sa 10:00-18:00"),
    ("평일 09:00~18:00(점심시간 12:00~13:00)", "Mo-Fr 09:00-12:00,13:00-18:00"),
    ("24시간", "24/7"),
    # a time with no day: open-or-unknown within it on any day, closed outside it
    ("09:00~18:00(점심시간 12:00~13:00)", "09:00-12:00,13:00-18:00 unknown"),
    # common variants
    ("연중무휴 24시간", "24/7"),
    ("24시간 연중무휴", "24/7"),
    ("09:00~18:00 연중무휴", "Mo-Su 09:00-18:00"),
    ("평일 24시간", "Mo-Fr 00:00-24:00"),
    ("월~토 09:00~18:00, 일요일 휴무", "Mo-Sa 09:00-18:00; Su off"),
    ("평일 9시~18시 (토요일 휴무)", "Mo-Fr 09:00-18:00; Sa off"),
    ("평일 오전 9시 ~ 오후 6시 30분", "Mo-Fr 09:00-18:30"),
    ("운영시간: 평일 09:00-18:00", "Mo-Fr 09:00-18:00"),
    ("월·수·금 10:00～12:00, 14:00～16:00", "Mo,We,Fr 10:00-12:00,14:00-16:00"),
    ("금~월 10:00~20:00", "Mo,Fr-Su 10:00-20:00"),
    ("평일 09:00~18:00 (공휴일 제외)", "Mo-Fr 09:00-18:00; PH off"),
    ("평일 22:00~02:00", "Mo-Fr 22:00-02:00"),
    ("화~일 10:00~18:00 (휴게시간 12:00~13:00), 월요일 휴관",
     "Tu-Su 10:00-12:00,13:00-18:00; Mo off"),
])
def test_korean_forms(text, osm):
    assert korean_to_osm(text) == osm
    assert parse_hours(text).osm == osm


@pytest.mark.parametrize(("text", "why"), [
    ("전화 문의", "'전화 문의' is not a day"),
    ("09:00", "not OSM opening_hours syntax"),  # a single time is no range
    ("평일", "days without times"),
    ("토·일 휴무", "only closing days"),         # and the other days? not guessed
    ("휴무", "without the days"),
    ("평일 09:00~18:00 점심시간 제외", "제외"),  # the break's times are not given
    ("평일 09:00~25:00", "not a time of day"),
    ("평일 09:00~09:00", "same time"),
    ("평일 09:00~18:00 (점심시간 19:00~20:00)", "outside the opening times"),
    ("평일 09:00~18:00 (예약제)", "'예약제' is not a day"),
])
def test_korean_refusals_are_unknown_never_guessed(text, why):
    parsed = parse_hours(text)
    assert parsed.osm is None
    assert parsed.note.startswith("not understood") and why in parsed.note


def test_osm_values_pass_through_and_bad_ones_are_unknown():
    assert parse_hours("Mo-Fr 08:00-20:00; Sa 10:00-14:00; PH off").osm == \
        "Mo-Fr 08:00-20:00; Sa 10:00-14:00; PH off"
    assert parse_hours('Mo-Fr 09:00-18:00 "휴관일 제외"').osm == 'Mo-Fr 09:00-18:00 "휴관일 제외"'
    bad = parse_hours("Mo-Fr 9-18")
    assert bad.osm is None and "not OSM opening_hours syntax (at 1:7" in bad.note
    for missing in (None, np.nan, "", "  ", "-", "NaN"):
        assert parse_hours(missing) == parse_hours(None)
        assert parse_hours(missing).note == "no hours given"


# ----------------------------------------------------------------------------- times of week


def test_time_of_week():
    assert str(parse_time_of_week("Sat 14:00")) == "Sat 14:00"
    assert str(parse_time_of_week(" mon 9:05 ")) == "Mon 09:05"
    assert parse_time_of_week("Sun 23:59") > parse_time_of_week("Sat 23:59")
    for bad in ("Saturday 14:00", "Sat 2pm", "Sat 24:00", "Sat 14:60", "14:00", "Xyz 10:00"):
        with pytest.raises(ConfigError, match=r"English three-letter day and a 24-hour time"):
            parse_time_of_week(bad, what="--at")
    assert [str(t) for t in parse_times_of_week("Mon 09:00, Mon 19:00,Sat 14:00")] == \
        ["Mon 09:00", "Mon 19:00", "Sat 14:00"]
    with pytest.raises(ConfigError, match="given twice"):
        parse_times_of_week("Mon 09:00,mon 9:00")


def test_states_in_an_ordinary_week():
    """PH never applies, past-midnight hours spill into the next day, dated rules are unknown.

    - ``Mo-Fr 09:00-18:00; PH off`` on a Monday at 10:00: open (an ordinary week, and
      2025 has public-holiday Mondays, but no holiday calendar is used);
    - ``Mo-Fr 22:00-02:00`` on Saturday 01:00: open (Friday night), Monday 01:00: closed;
    - ``Mo-Fr 09:00-18:00; Dec 25 off``: Thursday 10:00 is closed on 2025-12-25 and open on
      the other Thursdays, so it is unknown; Friday 10:00 is open;
    - ``Apr-Oct Sa 10:00-20:00``: Saturday 12:00 differs through the year: unknown;
    - ``09:00-18:00 unknown`` (a Korean time without days): unknown at 10:00, closed at 20:00.
    """
    values = ["Mo-Fr 09:00-18:00; PH off", "Mo-Fr 22:00-02:00", "Mo-Fr 09:00-18:00; Dec 25 off",
              "Apr-Oct Sa 10:00-20:00", "09:00-18:00 unknown", "", None]
    got = {at: hours_state(values, at).tolist() for at in
           ("Mon 10:00", "Sat 01:00", "Mon 01:00", "Thu 10:00", "Fri 10:00", "Sat 12:00",
            "Sun 20:00")}
    assert got["Mon 10:00"] == ["open", "closed", "open", "closed", "unknown", "unknown",
                                "unknown"]
    assert got["Sat 01:00"][1] == "open" and got["Mon 01:00"][1] == "closed"
    assert got["Thu 10:00"][2] == "unknown" and got["Fri 10:00"][2] == "open"
    assert got["Sat 12:00"][3] == "unknown"
    assert got["Sun 20:00"] == ["closed", "closed", "closed", "closed", "closed", "unknown",
                                "unknown"]


# ----------------------------------------------------------------------------- HHMM columns


def test_hhmm_rules():
    got = hours_from_hhmm({
        "weekday": (["0900", "0000", "0900", "0919", "500 ", 900, "0000"],
                    ["1900", "0000", "0100", "0000", "1900", 1800, "0000"]),
        "weekend": (["0900", "0000", "0000", "0000", "0000", "0000", "0000"],
                    ["1500", "2400", "0000", "1159", "1500", "1500", "0000"]),
    })
    assert [h.osm for h in got] == [
        "Mo-Fr 09:00-19:00; Sa,Su 09:00-15:00",
        "Mo-Fr unknown; Sa,Su 00:00-24:00",           # 0000-0000: not run, or not recorded
        "Mo-Fr 09:00-01:00; Sa,Su unknown",           # past midnight
        "Mo-Fr 09:19-24:00; Sa,Su unknown",           # 0000 as an end: midnight; 1159: unknown
        "Mo-Fr unknown; Sa,Su 00:00-15:00",           # '500 ' is not HHMM (never 05:00)
        "Mo-Fr 09:00-18:00; Sa,Su 00:00-15:00",       # a number cell: 900 is 09:00
        None,
    ]
    assert got[-1].note.startswith("no known hours: weekday 0000-0000")
    # days no column names are unknown, not closed
    assert hours_from_hhmm({"weekday": (["0900"], ["1800"])})[0].osm == \
        "Mo-Fr 09:00-18:00; Sa,Su unknown"
    with pytest.raises(ConfigError, match="name some days twice"):
        hours_from_hhmm({"weekend": ([], []), "saturday": ([], [])})
    with pytest.raises(ConfigError, match="not known"):
        hours_from_hhmm({"weekdays": ([], [])})


# ----------------------------------------------------------------------------- real files

#: every distinct 운영시간 / opening_hours value of the two data.go.kr tool-library files
#: (and the tidy file made from them), read by hand:
#: 평일 = Mon-Fri, 화~토 = Tue-Sat, 일 = Sun, 토 = Sat, 월~금 = Mon-Fri,
#: (휴관일 제외) = "closing days excepted", no dates: nothing to change in an ordinary week.
REAL_TOOL_HOURS = {
    "평일 09:00 ~ 18:00": "Mo-Fr 09:00-18:00",
    "평일 09:00 ~18:00": "Mo-Fr 09:00-18:00",
    "평일 10:00 ~ 18:00": "Mo-Fr 10:00-18:00",
    "평일 10:00 ~ 17:00": "Mo-Fr 10:00-17:00",
    "평일 11:00 ~ 17:00": "Mo-Fr 11:00-17:00",
    "평일 06:00 ~ 22:00 + 토 06:00 ~ 18:00": "Mo-Fr 06:00-22:00; Sa 06:00-18:00",
    "화~토 10:00 ~ 18:00": "Tu-Sa 10:00-18:00",
    "화~토 10:30 ~18:00 + 일 13:00 ~ 18:00": "Tu-Sa 10:30-18:00; Su 13:00-18:00",
    "월~금 09:00~18:00 (휴관일 제외)": "Mo-Fr 09:00-18:00",
    "화~토 09:00~21:00, 일 09:00~18:00 (휴관일 제외)": "Tu-Sa 09:00-21:00; Su 09:00-18:00",
}
#: which of them are open at three times, by hand from the Korean text
REAL_TOOL_OPEN = {
    "Sat 14:00": {"평일 06:00 ~ 22:00 + 토 06:00 ~ 18:00", "화~토 10:00 ~ 18:00",
                  "화~토 10:30 ~18:00 + 일 13:00 ~ 18:00",
                  "화~토 09:00~21:00, 일 09:00~18:00 (휴관일 제외)"},
    "Mon 09:30": {"평일 09:00 ~ 18:00", "평일 09:00 ~18:00",
                  "평일 06:00 ~ 22:00 + 토 06:00 ~ 18:00", "월~금 09:00~18:00 (휴관일 제외)"},
    "Tue 20:00": {"평일 06:00 ~ 22:00 + 토 06:00 ~ 18:00",
                  "화~토 09:00~21:00, 일 09:00~18:00 (휴관일 제외)"},
}
TOOL_FILES = {"raw/dongdaemun_tool_rental_2024-08-13.csv": 26,
              "raw/seongbuk_tool_rental_2025-03-12.csv": 21,
              "points/tool_rental_dongdaemun_seongbuk.csv": 47}


@pytest.mark.parametrize("name", list(TOOL_FILES))
def test_real_tool_library_files_every_hours_value(seoul_data, name):
    """The tool_library preset reads both data.go.kr layouts and the tidy file, hours included."""
    spaces, rejects = read_layer(seoul_data / name, category="tools", preset="tool_library")
    assert len(spaces) == TOOL_FILES[name] and rejects.empty
    assert (spaces["name"] != "").all()
    raw = pd.read_csv(seoul_data / name, dtype=str, encoding="utf-8-sig")
    column = "opening_hours" if "opening_hours" in raw else "운영시간"
    assert spaces["hours"].tolist() == raw[column].str.strip().tolist()
    assert set(spaces["hours"]) <= set(REAL_TOOL_HOURS), "a value not checked by hand"
    for given, osm in zip(spaces["hours"], spaces["hours_osm"], strict=True):
        assert osm == REAL_TOOL_HOURS[given], given
    for at, opened in REAL_TOOL_OPEN.items():
        state = hours_state(spaces["hours_osm"], at)
        assert set(spaces["hours"][state == "open"]) == opened & set(spaces["hours"]), at
        assert set(state) <= {"open", "closed"}, "every real value is understood"


def test_every_real_tool_hours_value_is_listed(seoul_data):
    seen = set()
    for name in TOOL_FILES:
        raw = pd.read_csv(seoul_data / name, dtype=str, encoding="utf-8-sig")
        seen |= set(raw["opening_hours" if "opening_hours" in raw else "운영시간"].str.strip())
    assert seen == set(REAL_TOOL_HOURS)


PARKING = "raw/seoul_public_parking_GetParkInfo_2025-06_cp949.csv"
PARKING_HOURS = {
    "weekday": ("평일 운영 시작시각(HHMM)", "평일 운영 종료시각(HHMM)"),
    "weekend": ("주말 운영 시작시각(HHMM)", "주말 운영 종료시각(HHMM)"),
    "holiday": ("공휴일 운영 시작시각(HHMM)", "공휴일 운영 종료시각(HHMM)"),
}
#: every distinct start/end pair of the parking file's three day types, read by hand
#: ("?" = unknown: 0000-0000 is written for "not operated" and for "not recorded";
#: 1159 ends come only with 0000/0059 starts, a 12-hour clock; '500 ' is not HHMM;
#: 2400 cannot start a day). An end at or before the start runs past midnight.
PARKING_PAIRS = """
0000 0000 ?            0000 0100 00:00-01:00  0000 1159 ?            0000 1200 00:00-12:00
0000 1800 00:00-18:00  0000 2259 00:00-22:59  0000 2359 00:00-23:59  0000 2400 00:00-24:00
0059 1159 ?            0500 0100 05:00-01:00  0500 1900 05:00-19:00  0600 1900 06:00-19:00
0600 2100 06:00-21:00  0600 2359 06:00-23:59  0600 2400 06:00-24:00  0700 1900 07:00-19:00
0700 2100 07:00-21:00  0700 2200 07:00-22:00  0700 2300 07:00-23:00  0800 1400 08:00-14:00
0800 1700 08:00-17:00  0800 1800 08:00-18:00  0800 1900 08:00-19:00  0800 2000 08:00-20:00
0800 2100 08:00-21:00  0800 2200 08:00-22:00  0800 2300 08:00-23:00  0830 1900 08:30-19:00
0900 0100 09:00-01:00  0900 0600 09:00-06:00  0900 1300 09:00-13:00  0900 1400 09:00-14:00
0900 1500 09:00-15:00  0900 1600 09:00-16:00  0900 1700 09:00-17:00  0900 1800 09:00-18:00
0900 1900 09:00-19:00  0900 2000 09:00-20:00  0900 2100 09:00-21:00  0900 2200 09:00-22:00
0900 2300 09:00-23:00  0900 2400 09:00-24:00  0900 500_ ?            0919 0000 09:19-24:00
1000 1400 10:00-14:00  1000 1500 10:00-15:00  1000 1600 10:00-16:00  1000 1700 10:00-17:00
1000 1800 10:00-18:00  1000 1900 10:00-19:00  1000 2000 10:00-20:00  1000 2100 10:00-21:00
1000 2200 10:00-22:00  1000 2300 10:00-23:00  1030 2100 10:30-21:00  1030 2200 10:30-22:00
1100 1700 11:00-17:00  1100 1800 11:00-18:00  1100 2000 11:00-20:00  1100 2100 11:00-21:00
1100 2200 11:00-22:00  1130 1730 11:30-17:30  1130 2130 11:30-21:30  1200 1800 12:00-18:00
1200 2200 12:00-22:00  1200 2300 12:00-23:00  1300 2200 13:00-22:00  1830 1900 18:30-19:00
2400 0000 ?
"""


def _parking_pairs() -> dict[tuple[str, str], str | None]:
    cells = PARKING_PAIRS.split()
    return {(a, b.replace("_", " ")): (None if span == "?" else span)
            for a, b, span in zip(cells[::3], cells[1::3], cells[2::3], strict=True)}


@pytest.mark.filterwarnings("ignore:.*repeats .* value:UserWarning")  # on-street lots' bays
def test_real_parking_hours_every_pair(seoul_data):
    """Every row of the public-parking file gets the hours its HHMM columns say, or unknown."""
    expected = _parking_pairs()
    raw = pd.read_csv(seoul_data / PARKING, dtype=str, encoding="cp949", keep_default_na=False)
    seen = {(s, e) for start, end in PARKING_HOURS.values()
            for s, e in zip(raw[start], raw[end], strict=True)}
    assert seen == set(expected), "a start/end pair not checked by hand"
    spaces, rejects = read_layer(seoul_data / PARKING, category="parking",
                                 preset="shared_parking", hours=PARKING_HOURS)
    assert len(spaces) + len(rejects) == len(raw)
    rows = raw.iloc[spaces["source_row"].to_numpy() - 1]
    want = []
    for _, row in rows.iterrows():
        spans = {d: expected[(row[s], row[e])] for d, (s, e) in PARKING_HOURS.items()}
        days = {"weekday": "Mo-Fr", "weekend": "Sa,Su", "holiday": "PH"}
        known = spans["weekday"] is not None or spans["weekend"] is not None
        want.append("; ".join(f"{days[d]} {spans[d] or 'unknown'}" for d in days)
                    if known else "")
    assert spaces["hours_osm"].tolist() == want
    assert spaces["hours"].iloc[0].startswith("weekday ")
    unknown = (spaces["hours_osm"] == "").sum()
    assert 0 < unknown < len(spaces)


def test_hours_columns_errors(seoul_data, tmp_path):
    f = tmp_path / "lib.csv"
    f.write_text("name,lon,lat,hours\nA,127.05,37.58,평일 09:00~18:00\n", encoding="utf-8")
    with pytest.raises(InputDataError, match=r"lib\.csv: column 'opening' \(`hours`\) not found"):
        read_layer(f, category="tools", hours="opening")
    with pytest.raises(InputDataError, match=r"`hours\.weekday`\) not found"):
        read_layer(f, category="tools", hours={"weekday": ("start", "end")})
    spaces, _ = read_layer(f, category="tools", hours="hours")
    assert spaces[["hours", "hours_osm"]].values.tolist() == [["평일 09:00~18:00",
                                                               "Mo-Fr 09:00-18:00"]]
    plain, _ = read_layer(f, category="tools")  # no hours asked for, no preset: no columns
    assert "hours" not in plain


# ----------------------------------------------------------------------------- a hand-made study

LIB_X = {"A": 0.0, "B": 600.0, "C": 1200.0}
LIB_HOURS = {"A": "Mo-Fr 09:00-18:00",                                   # OSM
             "B": "평일 10:00 ~ 18:00 + 토 10:00 ~ 13:00",                   # Korean
             "C": "화~토 09:00~21:00, 일 09:00~18:00 (휴관일 제외)"}          # Seongbuk's form
BLOCK_X = {f"B{i + 1}": 100.0 + 200 * i for i in range(6)}


def _hand_study(folder, *, at=None, hours=LIB_HOURS):
    """One straight street, six blocks beside it and three tool libraries.

    ::

        y=11  B1     B2     B3     B4     B5     B6      block origins (x = 100 ... 1100)
        y=0   ===================================================  the street, x 0..1200
        y=-10 A                    B                    C    libraries (x = 0, 600, 1200)

    A walk from block Bi to library L is ``|x_Bi - x_L| + 11 + 10`` metres (along the
    street plus both offsets), at 80 m/min.
    """
    import osmnx as ox

    nodes = {k: (X0 + 100.0 * k, Y0) for k in range(13)}
    g = osm_graph(nodes, [(k, k + 1) for k in range(12)])
    ox.save_graphml(ox.project_graph(g, to_crs="EPSG:4326"), folder / "walk.graphml")
    gpd.GeoDataFrame({"block_id": list(BLOCK_X)},
                     geometry=[box(X0 + x - 40, Y0 + 1, X0 + x + 40, Y0 + 21)
                               for x in BLOCK_X.values()], crs=CRS).to_file(
        folder / "blocks.geojson", driver="GeoJSON")
    pd.DataFrame({"lib_id": list(LIB_X), "name": [f"공구도서관 {k}" for k in LIB_X],
                  "x": [X0 + x for x in LIB_X.values()], "y": Y0 - 10.0,
                  "opening_hours": [hours[k] for k in LIB_X]}).to_csv(
        folder / "tools.csv", index=False)
    (folder / "study.toml").write_text(f"""
[study]
name = "hand"
{f'at = "{at}"' if at else ""}
[network]
graphml = "walk.graphml"
[[layers]]
category = "tools"
path = "tools.csv"
x = "x"
y = "y"
crs = "EPSG:5186"
id = "lib_id"
name = "name"
hours = "opening_hours"
[blocks]
path = "blocks.geojson"
min_area_m2 = 0
[coverage]
thresholds_minutes = [5, 10, 15]
""", encoding="utf-8")
    return folder / "study.toml"


def _walks(open_libs):
    """Minutes from each block to the nearest open library, by the docstring's formula."""
    return {b: (min(abs(x - LIB_X[k]) + 21 for k in open_libs) / 80 if open_libs else np.nan)
            for b, x in BLOCK_X.items()}


#: the libraries open at each time, read off their hours by hand
#: (A Mon-Fri 9-18; B Mon-Fri 10-18 and Sat 10-13; C Tue-Sat 9-21 and Sun 9-18)
OPEN_AT = {None: "ABC", "Mon 09:30": "A", "Mon 12:00": "AB", "Sat 12:00": "BC",
           "Sat 14:00": "C", "Sun 14:00": "C", "Tue 20:00": "C", "Mon 20:00": ""}
#: and so the blocks within 5 minutes (400 m: |dx| + 21 <= 400) of an open one
COVERED_5 = {None: "B1 B2 B3 B4 B5 B6", "Mon 09:30": "B1 B2", "Mon 12:00": "B1 B2 B3 B4 B5",
             "Sat 12:00": "B2 B3 B4 B5 B6", "Sat 14:00": "B5 B6", "Sun 14:00": "B5 B6",
             "Tue 20:00": "B5 B6", "Mon 20:00": ""}


@pytest.mark.parametrize("at", list(OPEN_AT))
def test_at_changes_the_answer_exactly_as_the_hours_say(tmp_path, at):
    """`[study] at` keeps only the libraries open then; walks and coverage follow by hand.

    E.g. Saturday 14:00: A (weekdays) and B (Saturday until 13:00) are closed, C (Tue-Sat
    until 21:00) is open, so block B1 walks 1,100 + 21 m to C = 14.01 min, and only B5
    (321 m) and B6 (121 m) are within 5 minutes.
    """
    result = run_study(read_config(_hand_study(tmp_path, at=at)))
    b = result.blocks.set_index("block_id")
    origins = b.geometry.representative_point()
    assert np.allclose(origins.x - X0, list(BLOCK_X.values())) and np.allclose(origins.y - Y0, 11)
    assert sorted(result.spaces["space_id"]) == list(OPEN_AT[at])
    want = _walks(OPEN_AT[at])
    np.testing.assert_allclose(b.loc[list(want), "walk_min_tools"], list(want.values()),
                               atol=1e-6)
    cov = result.coverage.set_index(["category", "threshold_min"])
    covered = sorted(b.index[b["walk_min_tools"] <= 5])
    assert " ".join(covered) == COVERED_5[at]
    assert cov.loc[("tools", 5.0), "blocks_covered"] == len(covered)
    closed = result.rejects[result.rejects["reason"] == "closed"]
    assert len(closed) == 3 - len(OPEN_AT[at])
    if at is None:
        assert result.summary["hours"] is None and result.closed is None
    else:
        assert result.summary["at"] == at
        assert result.summary["hours"] == {"tools": {"open": len(OPEN_AT[at]),
                                                     "closed": 3 - len(OPEN_AT[at]),
                                                     "unknown": 0}}
        assert sorted(result.closed["space_id"]) == sorted(set("ABC") - set(OPEN_AT[at]))
        assert closed["detail"].str.startswith(f"closed at {at} (hours ").all()
        assert result.summary["inputs"][0]["accounted"]


def test_unknown_hours_are_kept_and_counted(tmp_path):
    """C's hours 'by phone' are not understood: C is kept at every time and counted unknown."""
    hours = {**LIB_HOURS, "C": "전화 문의"}
    result = run_study(read_config(_hand_study(tmp_path, at="Mon 20:00", hours=hours)))
    assert result.spaces["space_id"].tolist() == ["C"]
    assert result.summary["hours"]["tools"] == {"open": 0, "closed": 2, "unknown": 1}
    assert result.summary["inputs"][0]["hours_not_understood"] == {"전화 문의": 1}
    want = _walks("C")
    np.testing.assert_allclose(result.blocks.set_index("block_id")["walk_min_tools"],
                               [want[b] for b in BLOCK_X], atol=1e-6)


def test_coverage_by_time_equals_separate_runs(tmp_path):
    times = ["Mon 09:30", "Sat 12:00", "Mon 20:00"]
    plain = run_study(read_config(_hand_study(tmp_path)))
    table = coverage_by_time(plain, times)
    assert list(dict.fromkeys(table["at"])) == times
    for at in times:
        alone = run_study(read_config(tmp_path / "study.toml").with_at(at))
        got = table[table["at"] == at].drop(columns=["at", "spaces_open", "spaces_closed",
                                                     "spaces_unknown"]).reset_index(drop=True)
        pd.testing.assert_frame_equal(got, alone.coverage.reset_index(drop=True))
        row = table[(table["at"] == at) & (table["category"] == "tools")].iloc[0]
        assert (row["spaces_open"], row["spaces_closed"]) == (len(OPEN_AT[at]),
                                                              3 - len(OPEN_AT[at]))
    # a study run at one time still knows the spaces closed then
    at_sat = run_study(read_config(tmp_path / "study.toml").with_at("Sat 14:00"))
    again = coverage_by_time(at_sat, times)
    pd.testing.assert_frame_equal(again, table)


def hand_study_65plus(folder, *, extra: str = ""):
    """:func:`_hand_study` with residents: one dong of 600 (100 per block), 120 aged 65+
    (column `old`) in a group walking 3 km/h; `extra`: TOML tables appended."""
    study = _hand_study(folder)
    gpd.GeoDataFrame({"dong": ["Street-dong"], "code": ["1"], "pop": [600], "old": [120]},
                     geometry=[box(X0 - 50, Y0 - 50, X0 + 1250, Y0 + 50)], crs=CRS).to_file(
        folder / "dong.geojson", driver="GeoJSON")
    text = study.read_text(encoding="utf-8").replace(
        "thresholds_minutes = [5, 10, 15]",
        'thresholds_minutes = [5, 10, 15]\n'
        'groups = [ { column = "old", label = "65+", walk_speed_kmh = 3.0 } ]\n'
        '[[coverage.boundaries]]\nlevel = "dong"\npath = "dong.geojson"\nname = "dong"\n'
        'id = "code"\npopulation = "pop"')
    study.write_text(text + extra, encoding="utf-8")
    return study


def test_each_groups_coverage_by_time_equals_separate_runs(tmp_path, capsys):
    """With [coverage] groups, `audit --times` also writes each group's coverage at each
    time (coverage_groups_by_time.csv), as a run at that time counts it.

    The blocks need residents for groups: one dong of 600 (100 per block), 120 of them
    65+ walking at 3 km/h (50 m/min): on Mon 09:30 only A (x = 0) is open, so B1 (121 m,
    2.42 min) and B2 (321 m, 6.42 min) are within 10 minutes for the 65+ (B3: 521 m,
    10.42 min, is not), while everyone (80 m/min) reaches B1-B4 (B4: 721 m, 9.01 min)."""
    study = hand_study_65plus(tmp_path)
    times = ["Mon 09:30", "Sat 14:00"]
    plain = run_study(read_config(study))
    by = audit_at_times(plain, times)
    pd.testing.assert_frame_equal(by.coverage, coverage_by_time(plain, times))
    for at in times:
        alone = run_study(read_config(study).with_at(at))
        got = by.coverage_groups[by.coverage_groups["at"] == at].drop(
            columns=["at", "spaces_open", "spaces_closed", "spaces_unknown"])
        pd.testing.assert_frame_equal(got.reset_index(drop=True),
                                      alone.coverage_groups.reset_index(drop=True))
    mon = by.coverage_groups.query("at == 'Mon 09:30' and level == 'city' and "
                                   "category == 'tools' and threshold_min == 10")
    assert dict(zip(mon["group"], mon["population_covered"], strict=True)) == \
        pytest.approx({"all residents": 400, "65+": 40})
    out = tmp_path / "audit"
    assert main(["audit", str(study), "--out", str(out), "--times", ",".join(times)]) == 0
    assert "groups by time" in capsys.readouterr().out
    table = pd.read_csv(out / "coverage_groups_by_time.csv", encoding="utf-8-sig")
    assert table[["at", "group"]].drop_duplicates().values.tolist() == [
        [t, g] for t in times for g in ("all residents", "65+")]
    # the report's times section: the 65+ (50 m/min) within 15 minutes (750 m) of an open
    # library live in B1-B4 on Mon 09:30 (A open; B4 721 m) and in B3-B6 on Sat 14:00 (C
    # open; B3 721 m): 80 of 120 both times; everyone (1,200 m) reaches all six (1,121 m)
    page = (out / "report.html").read_text(encoding="utf-8")
    section = re.search(r'<section id="times">.*?</section>', page, re.S)[0]
    rows = {tuple(re.findall(r'<td class="name"[^>]*>([^<]*)</td>', r)): re.findall(
                r'<td class="sep"[^>]*>([^<]*)</td>', r)
            for r in re.findall(r"<tr>(.*?)</tr>", section.split("Each population group")[1])}
    assert rows[("65+ (3 km/h)", "tools")] == ["66.7%", "66.7%"]
    assert rows[("all residents (4.8 km/h)", "tools")] == ["100.0%", "100.0%"]


def test_cli_at_and_audit_times(tmp_path, capsys):
    study = _hand_study(tmp_path)
    out = tmp_path / "out"
    assert main(["run", str(study), "--out", str(out), "--at", "sat 14:00"]) == 0
    printed = capsys.readouterr().out
    assert "at Sat 14:00" in printed and "1 open, 2 closed (not counted), 0 hours unknown" in \
        printed
    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    assert summary["at"] == "Sat 14:00"
    assert summary["hours"] == {"tools": {"open": 1, "closed": 2, "unknown": 0}}
    sp = gpd.read_file(out / "spaces.gpkg")
    assert sp[["space_id", "hours", "hours_osm"]].values.tolist() == [
        ["C", LIB_HOURS["C"], "Tu-Sa 09:00-21:00; Su 09:00-18:00"]]
    rej = pd.read_csv(out / "rejects.csv", encoding="utf-8-sig")
    assert rej["reason"].tolist() == ["closed", "closed"]

    audit = tmp_path / "audit"
    assert main(["audit", str(study), "--out", str(audit), "--at", "Sat 14:00", "--times",
                 "Mon 09:30,Sat 12:00,Sat 14:00"]) == 0
    by_time = pd.read_csv(audit / "coverage_by_time.csv", encoding="utf-8-sig")
    city = by_time[(by_time["category"] == "tools") & (by_time["threshold_min"] == 5)]
    assert city["blocks_covered"].tolist() == [2, 5, 2]   # COVERED_5, by hand
    page = (audit / "report.html").read_text(encoding="utf-8")
    assert "<b>Only the spaces open at Sat 14:00</b> are counted: 2 closed then are left " \
        "out, 0 whose opening hours are unknown are counted as open." in page
    section = re.search(r'<section id="times">.*?</section>', page, re.S)[0]
    assert section.count("<svg") == 1
    # tools at 15 min: every block reaches an open library at each of the three times
    cells = re.findall(r'<td class="sep"[^>]*>([^<]*)</td><td>([^<]*)</td>', section)
    assert cells[:3] == [("100.0%", "1 / 2 / 0"), ("100.0%", "2 / 1 / 0"),
                         ("100.0%", "1 / 2 / 0")]

    assert main(["run", str(study), "--out", str(out), "--at", "Saturday"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--at = 'Saturday'" in err[0]


def test_config_keys(tmp_path):
    study = _hand_study(tmp_path, at="sun 9:00")
    assert read_config(study).at == "Sun 09:00"
    text = study.read_text(encoding="utf-8")
    for bad, match in (('at = "Sun 9"', "English three-letter day"),
                       ("at = 9", "time of week"),
                       ('hours = ["a"]', "`hours` must be a column name"),
                       ('hours = { weekdays = ["a", "b"] }', "unknown key"),
                       ('hours = { weekend = ["a", "b"], sunday = ["c", "d"] }', "twice")):
        key = "at" if bad.startswith("at") else "hours"
        changed = re.sub(rf"^{key} = .*$", bad, text, count=1, flags=re.M)
        (tmp_path / "bad.toml").write_text(changed, encoding="utf-8")
        with pytest.raises(ConfigError, match=match):
            read_config(tmp_path / "bad.toml")
    table = text.replace('hours = "opening_hours"',
                         'hours = { weekday = ["s", "e"], holiday = ["hs", "he"] }')
    (tmp_path / "t.toml").write_text(table, encoding="utf-8")
    layer = read_config(tmp_path / "t.toml").layers[0]
    assert layer.columns()["hours"] == {"weekday": ("s", "e"), "holiday": ("hs", "he")}


# ----------------------------------------------------------------------------- the demo


def test_demo_libraries_have_hours_that_change_nothing_without_at():
    """The demo's tool and toy libraries carry opening hours (so `sharemap demo --at` works).

    This is why the demo's ``spaces`` digest moved when they were added: spaces gained the
    ``hours`` and ``hours_osm`` columns. Without ``at`` every figure is the one of the same
    study with the hours not read; at Saturday 14:00, by hand: TL01 (weekdays) is closed,
    TL02 (Tue-Sat 10:30-18:00) and TL03 (Tue-Sat 09:00-21:00) are open, and the toy library
    (Saturday 10:00-13:00) is closed, so no block reaches a toy library.
    """
    from dataclasses import replace

    from sharemap.datasets import get_path

    config = read_config(get_path("demo"))
    assert [lay.hours for lay in config.layers if lay.category in ("tools", "toys")] == \
        ["opening_hours", "opening_hours"]
    with_hours = run_study(config)
    without = run_study(replace(config, layers=tuple(replace(lay, hours=None)
                                                      for lay in config.layers)))
    sp = with_hours.spaces
    assert set(sp.loc[sp["category"].isin(["tools", "toys"]), "hours_osm"]) == {
        "Mo-Fr 09:00-18:00", "Tu-Sa 10:30-18:00; Su 13:00-18:00",
        "Tu-Sa 09:00-21:00; Su 09:00-18:00", "Mo-Fr 10:00-12:00,13:00-18:00; Sa 10:00-13:00"}
    assert (sp.loc[~sp["category"].isin(["tools", "toys"]), "hours"] == "").all()
    pd.testing.assert_frame_equal(sp.drop(columns=["hours", "hours_osm"]), without.spaces)
    for name in ("blocks", "coverage", "gaps", "villages", "rejects"):
        pd.testing.assert_frame_equal(pd.DataFrame(getattr(with_hours, name)),
                                      pd.DataFrame(getattr(without, name)), obj=name)
    sat = run_study(config.with_at("Sat 14:00"))
    assert sat.summary["hours"]["tools"] == {"open": 2, "closed": 1, "unknown": 0}
    assert sat.summary["hours"]["toys"] == {"open": 0, "closed": 1, "unknown": 0}
    assert sorted(sat.closed["space_id"]) == ["TL01", "TY01"]
    assert sat.blocks["walk_min_toys"].isna().all()


def test_whatif_at_a_time_counts_added_spaces_by_their_hours(tmp_path):
    """At Saturday 14:00 (only C open): a library added at x = 300 open on weekdays changes
    nothing, one with no hours (unknown: kept) brings B1, B2 and B3 within 5 minutes
    (200 + 21, 21 and 200 + 21 m)."""
    from sharemap.study import whatif

    result = run_study(read_config(_hand_study(tmp_path, at="Sat 14:00")))
    site = gpd.GeoDataFrame({"space_id": ["D"], "category": ["tools"], "name": ["D"]},
                            geometry=gpd.points_from_xy([X0 + 300], [Y0 - 10]), crs=CRS)
    weekdays = whatif(result, add=site.assign(hours="평일 09:00 ~ 18:00",
                                              hours_osm="Mo-Fr 09:00-18:00"))
    assert weekdays.info["added_closed"] == 1
    pd.testing.assert_frame_equal(weekdays.after.coverage, result.coverage)
    unknown = whatif(result, add=site)
    assert unknown.info["added_closed"] == 0
    b = unknown.after.blocks.set_index("block_id")
    assert " ".join(sorted(b.index[b["walk_min_tools"] <= 5])) == "B1 B2 B3 B5 B6"
