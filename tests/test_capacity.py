"""Capacity per space (issue 14): reading it, the presets, Seoul's five-row header, merging.

Expected values come from the files written here (hand-checked), and on the real data
from the tidy tables of ``../shared/data/seoul/points`` (made independently of sharemap
from the raw files): the dock table for OA-13252 and the car-park table for the
public-parking file.
"""

from __future__ import annotations

import datetime as dt
import math

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from pyproj import Transformer
from shapely.geometry import box

from sharemap._capacity import merge_groups, row_capacities
from sharemap._errors import ConfigError, InputDataError
from sharemap.config import read_config
from sharemap.layers import REASONS, REJECT_COLUMNS, SPACE_COLUMNS, read_layer

TO_TM = Transformer.from_crs("EPSG:4326", "EPSG:5186", always_xy=True)
AREA = box(195_000, 545_000, 215_000, 560_000)  # around Dongdaemun-gu, EPSG:5186

#: Seoul's OA-13252 station file: five header rows under merged cells (CSV fields).
FIVE_ROW_HEADER = [
    ["대여소\n번호", "보관소(대여소)명", "소재지(위치)", "", "", "", "설치\n시기", "설치형태", "",
     "운영\n방식"],
    ["", "", "", "", "", "", "", "LCD", "QR", ""],
    ["", "", "자치구", "상세주소", "위도", "경도", "", "", "", ""],
    ["", "", "", "", "", "", "", "거치\n대수", "거치\n대수", ""],
    [""] * 10,
]


def csv_text(rows: list[list[str]]) -> str:
    import csv
    import io

    buf = io.StringIO()
    csv.writer(buf, lineterminator="\r\n").writerows(rows)
    return buf.getvalue()


def check_accounting(spaces: gpd.GeoDataFrame, rejects: pd.DataFrame, n: int) -> None:
    assert [*SPACE_COLUMNS, "geometry"] == list(spaces.columns)
    assert list(rejects.columns) == list(REJECT_COLUMNS)
    assert set(rejects["reason"]) <= set(REASONS)
    assert sorted([*spaces["source_row"], *rejects["source_row"]]) == list(range(1, n + 1))
    assert spaces["space_id"].is_unique


# ----------------------------------------------------------------------------- values


def test_capacity_values_are_counts_never_guessed():
    frame = pd.DataFrame({"a": ["15", " 7 ", "1,234", "", "2022-06-08", "abc", "-3", "2.5",
                                None, "20220608", "nan", "inf"],
                          "b": ["", "3", "", "", "", "", "", "", "4", "", "", ""]},
                         dtype=object)
    cap, note = row_capacities(frame, ["a", "b"])
    assert cap.tolist() == [15, 10, 1234, 1, 1, 1, 1, 2.5, 4, 1, 1, 1]
    assert note[0] == note[1] == note[2] == note[7] == note[8] == ""
    assert note[3] == "a/b are empty; capacity counted as 1"
    assert note[4] == ("a = '2022-06-08' is a date, not a count (a row shifted by one "
                       "column?); capacity counted as 1")
    assert note[5] == "a = 'abc' is not a count; capacity counted as 1"
    assert note[6] == "a = '-3' is not a count; capacity counted as 1"
    assert note[10] == "a/b are empty; capacity counted as 1"  # 'nan' is a missing token
    assert note[9] == "a = '20220608' is a date (YYYYMMDD), not a count; capacity counted as 1"
    assert note[11] == "a = 'inf' is not a count; capacity counted as 1"
    cap, _ = row_capacities(pd.DataFrame({"a": ["20221399", "19991231"]}), ["a"])
    assert cap.tolist() == [20221399, 1]  # not a calendar date: a number


def test_capacity_from_excel_and_json_values():
    frame = pd.DataFrame({"n": [12, 3.0, float("nan"), True, dt.datetime(2022, 6, 8), -1.0,
                                float("inf")]}, dtype=object)
    cap, note = row_capacities(frame, ["n"])
    assert cap.tolist() == [12, 3, 1, 1, 1, 1, 1]
    assert note[2] == "n is empty; capacity counted as 1"
    assert "is not a count" in note[3]
    assert "is a date" in note[4]
    assert "is not a count" in note[5] and "is not a count" in note[6]


def test_layer_without_capacity_has_one_per_space():
    cap, note = row_capacities(pd.DataFrame({"x": [1, 2]}), [])
    assert cap.tolist() == [1, 1] and note.tolist() == ["", ""]


def test_merge_keeps_the_row_nearest_the_groups_mean():
    #      ids:  A at 0, 10, 100 (mean 36.7: the row at 10 is kept); B alone; C at 0 and 4
    #      (mean 2: a tie, the first is kept); "" never merged
    ids = ["A", "A", "B", "A", "C", "C", "", ""]
    x = np.array([0.0, 10.0, 5.0, 100.0, 0.0, 4.0, 1.0, 1.0])
    kept = merge_groups(ids, x, np.zeros(8))
    assert kept.tolist() == [1, 1, 2, 1, 4, 4, 6, 7]


# ----------------------------------------------------------------------------- reading


def test_five_row_header_csv_reads_docks_and_never_misreads_a_shifted_row(tmp_path):
    """The OA-13252 CSV layout: LCD + QR docks; a date in the QR column is not 2022 docks."""
    rows = [*FIVE_ROW_HEADER,
            ["3501", "신답역", "동대문구", "천호대로", "37.5722", "127.0463", "2020-01-01", "10",
             "", "LCD"],
            ["3502", "장한평역", "동대문구", "장한로", "37.5611", "127.0645", "2020-01-01", "4",
             "8", "LCD"],  # mixed docks: 4 + 8
            ["3503", "옮겨 적힌 행", "동대문구", "주소", "37.58", "127.05", "", "",
             "2022-06-08", ""],  # shifted by one column: the date sits in the QR column
            ["3504", "거치대 없음", "동대문구", "주소", "37.59", "127.05", "", "", "", ""]]
    f = tmp_path / "stations.csv"
    f.write_bytes(csv_text(rows).encode("cp949"))
    spaces, rejects = read_layer(f, category="bike", preset="ttareungyi")
    check_accounting(spaces, rejects, 4)
    assert spaces["space_id"].tolist() == ["3501", "3502", "3503", "3504"]
    assert spaces["source_row"].tolist() == [1, 2, 3, 4]  # records after the five header rows
    assert spaces["name"].tolist()[:2] == ["신답역", "장한평역"]
    assert spaces["capacity"].tolist() == [10, 12, 1, 1]
    assert spaces["capacity_note"].tolist() == [
        "", "",
        "QR 거치 대수 = '2022-06-08' is a date, not a count (a row shifted by one column?); "
        "capacity counted as 1",
        "LCD 거치 대수/QR 거치 대수 are empty; capacity counted as 1"]
    g = spaces.geometry.iloc[0]
    assert math.dist((g.x, g.y), TO_TM.transform(127.0463, 37.5722)) < 1e-6  # lat comes first


def test_five_row_header_xlsx_reads_docks(tmp_path):
    openpyxl = pytest.importorskip("openpyxl")
    wb = openpyxl.Workbook()
    ws = wb.active
    for r, row in enumerate(FIVE_ROW_HEADER[:4], start=1):
        for c, value in enumerate(row, start=1):
            if value:
                ws.cell(r, c, value)
    for rng in ("A1:A5", "B1:B5", "C1:F2", "G1:G5", "H1:I1", "J1:J5", "C3:C5", "D3:D5",
                "E3:E5", "F3:F5", "H4:H5", "I4:I5"):
        ws.merge_cells(rng)
    ws.append([3501, "신답역", "동대문구", "천호대로", 37.5722, 127.0463, "2020-01-01", 10, None,
               "LCD"])
    ws.append([3502, "장한평역", "동대문구", "장한로", 37.5611, 127.0645, "2020-01-01", 4, 8,
               "LCD"])
    ws.append([3503, "옮겨 적힌 행", "동대문구", "주소", 37.58, 127.05, None, None,
               dt.datetime(2022, 6, 8), None])
    f = tmp_path / "stations.xlsx"
    wb.save(f)
    spaces, rejects = read_layer(f, category="bike", preset="ttareungyi")
    check_accounting(spaces, rejects, 3)
    assert spaces["capacity"].tolist() == [10, 12, 1]
    assert "is a date" in spaces["capacity_note"].iloc[2]


def test_explicit_capacity_columns_override_the_preset(tmp_path):
    f = tmp_path / "p.csv"
    f.write_text("id,lon,lat,bays,ev\nP1,127.05,37.58,20,2\nP2,127.06,37.58,5,\n",
                 encoding="utf-8")
    spaces, _ = read_layer(f, category="parking", id="id", capacity="bays")
    assert spaces["capacity"].tolist() == [20, 5]
    spaces, _ = read_layer(f, category="parking", id="id", capacity=["bays", "ev"])
    assert spaces["capacity"].tolist() == [22, 5]
    assert spaces["capacity_note"].tolist() == ["", ""]  # one of two columns empty: a sum
    spaces, _ = read_layer(f, category="parking", id="id")
    assert spaces["capacity"].tolist() == [1, 1]  # no capacity column: 1 per space
    with pytest.raises(InputDataError, match=r"p\.csv: column 'docks' \(`capacity`\) not found"):
        read_layer(f, category="parking", id="id", capacity="docks")


def test_presets_read_capacity(tmp_path):
    cases = [
        ("ttareungyi", "stationId,stationName,stationLatitude,stationLongitude,rackTotCnt",
         "ST-1,역,37.58,127.05,15", 15),
        ("ttareungyi", "station_no,station_name,lon,lat,total_docks", "1,역,127.05,37.58,12", 12),
        ("ttareungyi", "station_no,station_name,lon,lat,rack_count", "1,역,127.05,37.58,9", 9),
        ("ttareungyi", "station_id,address,lon,lat", "ST-1,주소,127.05,37.58", 1),
        ("nanumcar", "spot_id,name,lon,lat,n_operators", "1,스팟,127.05,37.58,2", 2),
        ("shared_parking", "PKLT_CD,PKLT_NM,LAT,LOT,TPKCT", "P,주차장,37.58,127.05,120", 120),
        ("shared_parking", "PARKING_CODE,PARKING_NAME,LAT,LNG,CAPACITY", "P,주차장,37.58,127.05,80",
         80),
        ("shared_parking", "주차장코드,주차장명,총 주차면,위도,경도",
         '1,주차장,"1,204",37.58,127.05', 1204),
        ("shared_parking", "park_code,name,lon,lat,capacity_est", "1,주차장,127.05,37.58,44", 44),
    ]
    for preset, header, row, want in cases:
        f = tmp_path / "layer.csv"
        f.write_text(f"{header}\n{row}\n", encoding="utf-8")
        spaces, rejects = read_layer(f, category="c", preset=preset)
        assert len(rejects) == 0, (preset, header)
        assert spaces["capacity"].tolist() == [want], (preset, header)
        assert spaces["space_id"].iloc[0] != "layer-1", (preset, header)  # the id was found


def test_car_park_published_per_bay_is_one_space_with_the_summed_capacity(tmp_path):
    r"""Three bays of car park 100 along a street, one more bay without coordinates.

    Bays at lon 127.0500, 127.0502 and 127.0510 (lat 37.58): the mean is nearest the
    second bay, which is kept; the others are `merged` into it. The bay without
    coordinates keeps its own reason and adds nothing (capacity 3, not 4).
    """
    f = tmp_path / "parking.csv"
    f.write_bytes(("주차장코드,주차장명,주차장 종류명,총 주차면,위도,경도\n"
                   "100,골목 노상,노상 주차장,1,37.58,127.0500\n"
                   "200,구민회관,노외 주차장,85,37.59,127.06\n"
                   "100,골목 노상,노상 주차장,1,37.58,127.0502\n"
                   "100,골목 노상,노상 주차장,1,,\n"
                   "100,골목 노상,노상 주차장,1,37.58,127.0510\n"
                   "300,먼 주차장,노외 주차장,13,37.43888366,126.51031494\n").encode("cp949"))
    spaces, rejects = read_layer(f, category="parking", preset="shared_parking",
                                 study_area=AREA)
    check_accounting(spaces, rejects, 6)
    assert spaces[["space_id", "source_row", "capacity"]].values.tolist() == [
        ["200", 2, 85.0], ["100", 3, 3.0]]
    by_row = rejects.set_index("source_row")
    assert by_row["reason"].to_dict() == {1: "merged", 4: "missing_coordinates", 5: "merged",
                                          6: "outside_study_area"}
    assert by_row.loc[1, "detail"] == ("one of the 3 rows of id 100: merged into space 100 "
                                       "(row 3), whose capacity is their sum (3)")
    # merging can be switched off: then each bay is a space (ids made unique)
    with pytest.warns(UserWarning, match="repeats"):
        spaces, rejects = read_layer(f, category="parking", preset="shared_parking",
                                     study_area=AREA, merge=False)
    assert len(spaces) == 4 and "merged" not in set(rejects["reason"])


def test_nanumcar_api_rows_per_operator_merge_into_one_spot(tmp_path):
    f = tmp_path / "spots.json"
    f.write_text('{"NanumcarSpotList": {"row": ['
                 '{"POSITN_CD": "1000", "POSITN_NM": "스팟", "LA": 37.58, "LO": 127.05},'
                 '{"POSITN_CD": "1000", "POSITN_NM": "스팟", "LA": 37.58, "LO": 127.05},'
                 '{"POSITN_CD": "1001", "POSITN_NM": "다른", "LA": 37.59, "LO": 127.05}]}}',
                 encoding="utf-8")
    spaces, rejects = read_layer(f, category="carshare", preset="nanumcar")
    check_accounting(spaces, rejects, 3)
    assert spaces[["space_id", "capacity"]].values.tolist() == [["1000", 2.0], ["1001", 1.0]]
    assert rejects["reason"].tolist() == ["merged"]


def test_merge_without_an_id_column_is_a_config_error(tmp_path):
    f = tmp_path / "p.csv"
    f.write_text("lon,lat\n127.05,37.58\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"p\.csv: `merge` .* no `id` column"):
        read_layer(f, category="parking", merge=True)


def test_config_capacity_and_merge_keys(tmp_path):
    base = ('[study]\nname = "t"\n[network]\ngraphml = "w.graphml"\n[[layers]]\n'
            'category = "parking"\npath = "p.csv"\n')
    cfg = tmp_path / "s.toml"
    cfg.write_text(base + 'capacity = ["LCD 거치대수", "QR 거치대수"]\nmerge = true\n',
                   encoding="utf-8")
    layer = read_config(cfg).layers[0]
    assert layer.capacity == ("LCD 거치대수", "QR 거치대수") and layer.merge is True
    assert layer.columns()["capacity"] == ("LCD 거치대수", "QR 거치대수")
    cfg.write_text(base + 'capacity = "bays"\n', encoding="utf-8")
    assert read_config(cfg).layers[0].capacity == "bays"
    for bad, pattern in (('capacity = 3\n', "`capacity` must be a column name"),
                         ('capacity = []\n', "`capacity` must be a column name"),
                         ('merge = "yes"\n', "`merge` must be true or false")):
        cfg.write_text(base + bad, encoding="utf-8")
        with pytest.raises(ConfigError, match=pattern):
            read_config(cfg)


# ----------------------------------------------------------------------------- real data


@pytest.mark.seoul
def test_real_station_file_reads_every_dock_count_or_defaults_with_a_reason(seoul_data):
    """OA-13252 (June 2022) against the tidy dock table made from it independently.

    23 rows carry the install date in the QR column and one row has no docks: those
    24 stations keep their place with capacity 1 and a note; every other station's
    capacity is its LCD + QR docks exactly.
    """
    raw = seoul_data / "raw" / "ttareungyi_station_info_OA-13252_2022-06_cp949.csv"
    tidy = pd.read_csv(seoul_data / "points" / "ttareungyi_station_docks_2022-06.csv",
                       dtype={"station_no": str})
    spaces, rejects = read_layer(raw, category="bike", preset="ttareungyi")
    check_accounting(spaces, rejects, 2653)
    assert len(rejects) == 0 and len(tidy) == 2653
    got = spaces.set_index("space_id")
    tidy = tidy.set_index("station_no")
    assert sorted(got.index) == sorted(tidy.index)
    known = tidy["total_docks"].notna()
    assert known.sum() == 2629
    assert (got.loc[tidy.index[known], "capacity"] == tidy.loc[known, "total_docks"]).all()
    assert got["capacity"].sum() == 32_099 + 24  # the README's dock total, plus 24 defaults
    unknown = got.loc[tidy.index[~known]]
    assert (unknown["capacity"] == 1).all() and (unknown["capacity_note"] != "").all()
    shifted = tidy.index[tidy["date_in_qr_column"] == 1]
    assert len(shifted) == 23
    assert got.loc[shifted, "capacity_note"].str.contains(
        r"QR 거치 대수 = '20\d\d-\d\d-\d\d' is a date").all()
    assert (got.loc[tidy.index[known], "capacity_note"] == "").all()
    # positions: latitude is the fifth column, longitude the sixth
    xy = np.column_stack(TO_TM.transform(tidy.loc[got.index, "lon"].to_numpy(),
                                         tidy.loc[got.index, "lat"].to_numpy()))
    assert np.abs(shapely.get_coordinates(got.geometry.to_numpy()) - xy).max() < 1e-6


@pytest.mark.seoul
def test_real_dock_tables_and_nanumcar_operators(seoul_data):
    points = seoul_data / "points"
    docks = pd.read_csv(points / "ttareungyi_station_docks_2025-12.csv", dtype={"station_no": str})
    spaces, _ = read_layer(points / "ttareungyi_station_docks_2025-12.csv", category="bike",
                           preset="ttareungyi")
    assert spaces["space_id"].tolist() == docks["station_no"].tolist()
    assert spaces["capacity"].sum() == docks["rack_count"].sum() == 33_760
    cars = pd.read_csv(points / "nanumcar_spots_2017.csv")
    spaces, _ = read_layer(points / "nanumcar_spots_2017.csv", category="carshare",
                           preset="nanumcar")
    assert spaces["capacity"].tolist() == cars["n_operators"].tolist()
    assert spaces["capacity"].sum() == 1_777  # one per operator row of the API


@pytest.mark.seoul
def test_real_public_parking_one_space_per_car_park(seoul_data):
    """The OA-13122 file: per-bay car parks merged, coordinate-less lots and the far lot rejected.

    Independent truth: the tidy car-park table (one row per 주차장코드 with a coordinate,
    capacity_est = the summed 총 주차면).
    """
    raw = seoul_data / "raw" / "seoul_public_parking_GetParkInfo_2025-06_cp949.csv"
    lots = pd.read_csv(seoul_data / "points" / "public_parking_lots_2025-06.csv",
                       dtype={"park_code": str}).set_index("park_code")
    gu = gpd.read_file(seoul_data / "boundaries" / "seoul_gu_2021.geojson").to_crs(5186)
    seoul = shapely.union_all(gu.geometry.to_numpy())
    spaces, rejects = read_layer(raw, category="parking", preset="shared_parking",
                                 study_area=seoul)
    check_accounting(spaces, rejects, 8529)
    by_reason = rejects["reason"].value_counts().to_dict()
    assert by_reason == {"merged": 6742 - 524, "missing_coordinates": 1787,
                         "outside_study_area": 1}
    far = rejects[rejects["reason"] == "outside_study_area"].iloc[0]
    table = pd.read_csv(raw, encoding="cp949", dtype=str, keep_default_na=False)
    assert table["주차장코드"].iloc[far["source_row"] - 1] == "3235715"
    assert far["detail"].endswith("m outside the study area")
    assert table.loc[rejects.loc[rejects["reason"] == "missing_coordinates", "source_row"] - 1,
                     "주차장코드"].nunique() == 1787  # 1,787 lots, one row each
    # one space per car park with a coordinate (but the far one), with its summed capacity
    got = spaces.set_index("space_id")
    assert sorted(got.index) == sorted(set(lots.index) - {"3235715"})
    assert (got["capacity"] == lots.loc[got.index, "capacity_est"]).all()
    assert got.loc["1495387", "capacity"] == 244  # the largest per-bay car park
    assert got["capacity"].sum() == lots["capacity_est"].sum() - 13 == 39_578
    # every merged bay names the space it joined, and that space's row is one of its bays
    merged = rejects[rejects["reason"] == "merged"]
    codes = table["주차장코드"].to_numpy()
    kept_row = merged["detail"].str.extract(r"\(row (\d+)\)")[0].astype(int)
    assert (codes[merged["source_row"] - 1] == codes[kept_row - 1]).all()
    assert set(codes[kept_row - 1]) <= set(got.index)
    assert (got["capacity_note"] == "").all()


# ----------------------------------------------------------------------------- outputs


def test_run_writes_capacity_to_spaces_gpkg_and_summary(tmp_path, capsys):
    """The demo's bike CSV carries LCD/QR docks; its other layers have no capacity (1 each)."""
    import json
    import shutil
    import subprocess

    from sharemap.cli import main
    from sharemap.datasets import get_path

    out = tmp_path / "out"
    assert main(["demo", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    demo = get_path("demo").parent
    bikes = pd.read_csv(demo / "bike_stations.csv", encoding="cp949", dtype={"대여소번호": str})
    docks = (bikes["LCD 거치대수"].fillna(0) + bikes["QR 거치대수"].fillna(0))
    docks.index = bikes["대여소번호"]
    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    spaces = gpd.read_file(out / "spaces.gpkg")
    bike = spaces[spaces["category"] == "bike"].set_index("space_id")
    assert (bike["capacity"] == docks.loc[bike.index]).all()
    assert (spaces.loc[spaces["category"] != "bike", "capacity"] == 1).all()
    entry = next(i for i in summary["inputs"] if i["category"] == "bike")
    assert entry["capacity"] == bike["capacity"].sum() and entry["capacity_defaulted"] == 0
    assert summary["counts"]["capacity_by_category"]["bike"] == bike["capacity"].sum()
    assert f"bike {bike['capacity'].sum():,.0f}" in printed
    if shutil.which("ogrinfo"):  # GDAL's own client sees the field
        info = subprocess.run(["ogrinfo", "-so", str(out / "spaces.gpkg"), "spaces"],
                              capture_output=True, text=True, check=True).stdout
        assert "capacity: Real" in info and "capacity_note: String" in info


# ----------------------------------------------------------------------------- villages


def test_candidates_by_capacity():
    """Block 1: three 2-dock stations (6 docks); block 2: one 40-bay car park (listed twice)."""
    from sharemap.villages import compute_candidates

    blocks = pd.DataFrame({"block_id": [1, 2, 3]})
    spaces = pd.DataFrame({"space_id": ["a", "b", "c", "p"],
                           "category": ["bike", "bike", "bike", "parking"],
                           "capacity": [2.0, 2.0, 2.0, 40.0]})
    adjacency = pd.DataFrame({"block_id": [1, 1, 1, 2, 2], "space": [0, 1, 2, 3, 3]})
    by_spaces = compute_candidates(blocks, adjacency, spaces)
    assert by_spaces["candidate"].tolist() == [True, False, False]
    assert by_spaces["adjacent_capacity"].tolist() == [6.0, 40.0, 0.0]  # p counted once
    by_capacity = compute_candidates(blocks, adjacency, spaces, min_capacity=30)
    assert by_capacity["candidate"].tolist() == [False, True, False]
    assert by_capacity["adjacent_spaces"].tolist() == [3, 1, 0]


def test_config_villages_count(tmp_path):
    base = ('[study]\nname = "t"\n[network]\ngraphml = "w.graphml"\n[[layers]]\n'
            'category = "bike"\npath = "b.csv"\n[villages]\n')
    cfg = tmp_path / "s.toml"
    cfg.write_text(base + 'count = "capacity"\nmin_capacity = 30\n', encoding="utf-8")
    vil = read_config(cfg).villages
    assert (vil.count, vil.min_capacity) == ("capacity", 30.0)
    cfg.write_text(base, encoding="utf-8")
    assert (read_config(cfg).villages.count, read_config(cfg).villages.min_capacity) == (
        "spaces", None)
    for bad, pattern in (('count = "capacity"\n', "needs `min_capacity`"),
                         ("min_capacity = 30\n", 'applies with count = "capacity" only'),
                         ('count = "docks"\n', 'must be "spaces" or "capacity"'),
                         ('count = "capacity"\nmin_capacity = 30\ndistinct_categories = true\n',
                          "does not combine"),
                         ('count = "capacity"\nmin_capacity = -1\n', "must be > 0")):
        cfg.write_text(base + bad, encoding="utf-8")
        with pytest.raises(ConfigError, match=pattern):
            read_config(cfg)


def test_demo_villages_by_capacity():
    """Candidates are the blocks whose adjacent spaces' capacity (summed here) reaches 20."""
    from dataclasses import replace

    from sharemap import explain_block, run_study, sweep
    from sharemap.datasets import get_path

    cfg = read_config(get_path("demo"))
    cfg = replace(cfg, villages=replace(cfg.villages, count="capacity", min_capacity=20.0))
    result = run_study(cfg)
    adj = result.adjacency.drop_duplicates(["block_id", "space"])
    cap = result.spaces["capacity"].to_numpy()[adj["space"].to_numpy()]
    total = pd.Series(cap).groupby(adj["block_id"].to_numpy()).sum()
    want = total.reindex(result.blocks["block_id"]).fillna(0).to_numpy() >= 20
    assert (result.blocks["candidate"].to_numpy() == want).all()
    assert 0 < want.sum() < len(want)
    # a block with many small spaces and one with few large ones can trade places
    by_spaces = run_study(read_config(get_path("demo")))
    assert (by_spaces.blocks["candidate"] != result.blocks["candidate"]).any()
    cand = result.blocks[result.blocks["candidate"]].iloc[0]
    text = explain_block(result, cand["block_id"])
    assert "have a capacity of at least 20 together" in text
    assert f"capacity adds up to {cand['adjacent_capacity']:,.0f}, at least the 20" in text
    assert result.villages["n_blocks"].sum() == want.sum()
    with pytest.raises(ConfigError, match="sweep varies `min_spaces`"):
        sweep(result, adjacent_minutes=[5], min_spaces=[3])
