"""Tests for sharemap.layers: readers, presets, CRS checks, validation reasons and dedupe.

Every input file is written inside the test (``tmp_path``); expected values come from
the file contents written here, from pyproj directly, or from a brute-force reference.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from pyproj import Transformer
from shapely.geometry import Point, box

from sharemap._errors import ConfigError, InputDataError
from sharemap.config import read_config
from sharemap.layers import (
    REASONS,
    REJECT_COLUMNS,
    SPACE_COLUMNS,
    dedupe_spaces,
    read_layer,
    read_layers,
)

SEOUL = Path(__file__).resolve().parents[2] / "shared" / "data" / "seoul"
TO_TM = Transformer.from_crs("EPSG:4326", "EPSG:5186", always_xy=True)
#: a 20 km x 15 km box in EPSG:5186 around Dongdaemun-gu (127.05, 37.58 is at 204417, 553384)
AREA = box(195_000, 545_000, 215_000, 560_000)
BIKE_HEADER = ("대여소번호,보관소(대여소)명,자치구,상세주소,위도,경도,설치시기,LCD 거치대수,"
               "QR 거치대수,운영방식")


def tm(lon: float, lat: float) -> tuple[float, float]:
    return TO_TM.transform(lon, lat)


def write(path: Path, text: str, encoding: str = "utf-8") -> Path:
    path.write_bytes(text.encode(encoding))
    return path


def rows_of(rejects: pd.DataFrame, reason: str) -> list[int]:
    return sorted(rejects.loc[rejects["reason"] == reason, "source_row"].tolist())


def check_contract(spaces: gpd.GeoDataFrame, rejects: pd.DataFrame, n_records: int) -> None:
    """The output contract every read must keep."""
    assert [*SPACE_COLUMNS, "geometry"] == list(spaces.columns)
    assert list(rejects.columns) == list(REJECT_COLUMNS)
    assert isinstance(spaces.index, pd.RangeIndex)
    assert spaces.crs.to_epsg() == 5186
    assert len(spaces) + len(rejects) == n_records
    assert spaces["space_id"].is_unique
    assert set(rejects["reason"]) <= set(REASONS)
    rows = sorted([*spaces["source_row"], *rejects["source_row"]])
    assert rows == list(range(1, n_records + 1))  # every record exactly once
    assert (spaces.geometry.geom_type == "Point").all()


def bike_csv(rows: list[str]) -> str:
    return BIKE_HEADER + "\r\n" + "\r\n".join(rows) + "\r\n"


# ----------------------------------------------------------------------------- readers


def test_cp949_csv_with_korean_headers_is_detected(tmp_path):
    f = write(tmp_path / "bikes.csv", bike_csv([
        "101,101. 청량리역 1번출구,동대문구,서울특별시 동대문구 왕산로 214,37.5802,127.0468,"
        "2015-10-07,15,0,LCD",
        "102,102. 회기역,동대문구,서울특별시 동대문구 회기로 196,37.5896,127.0579,"
        "2016-01-01,0,10,QR",
    ]), "cp949")
    with pytest.raises(UnicodeDecodeError):
        f.read_bytes().decode("utf-8")  # the file really is not UTF-8
    spaces, rejects = read_layer(f, category="bike", preset="ttareungyi")
    check_contract(spaces, rejects, 2)
    assert spaces["space_id"].tolist() == ["101", "102"]
    assert spaces["name"].tolist() == ["101. 청량리역 1번출구", "102. 회기역"]
    assert spaces["source"].tolist() == ["bikes.csv", "bikes.csv"]
    ex, ey = tm(127.0468, 37.5802)
    assert spaces.geometry.iloc[0].x == pytest.approx(ex, abs=1e-6)
    assert spaces.geometry.iloc[0].y == pytest.approx(ey, abs=1e-6)


def test_euc_kr_and_explicit_encoding(tmp_path):
    text = "id,이름,경도,위도\n1,장난감도서관,127.05,37.58\n"
    f = write(tmp_path / "toys.csv", text, "euc-kr")
    spaces, _ = read_layer(f, category="toys", id="id", name="이름")
    assert spaces["name"].tolist() == ["장난감도서관"]
    spaces, _ = read_layer(f, category="toys", id="id", name="이름", encoding="euc-kr")
    assert spaces["name"].tolist() == ["장난감도서관"]
    with pytest.raises(InputDataError, match=r"toys\.csv.*utf-8.*encoding"):
        read_layer(f, category="toys", encoding="utf-8")


def test_utf8_bom_csv_first_column_is_clean(tmp_path):
    f = write(tmp_path / "tools.csv",
              "lib_id,name,address,lon,lat\nTL-1,공구도서관,서울 동대문구,127.05,37.58\n",
              "utf-8-sig")
    assert f.read_bytes().startswith(b"\xef\xbb\xbf")
    spaces, rejects = read_layer(f, category="tools", x="lon", y="lat", crs="EPSG:4326",
                                 id="lib_id", name="name")
    check_contract(spaces, rejects, 1)
    assert spaces["space_id"].tolist() == ["TL-1"]


def test_plain_json_list(tmp_path):
    recs = [{"id": 7, "name": "A", "lon": 127.05, "lat": 37.58},
            {"id": 8.0, "name": None, "lon": "127.06", "lat": "37.59"},
            "not a record",
            {"id": 9, "name": "C", "lon": None, "lat": 37.5}]
    f = write(tmp_path / "pts.json", json.dumps(recs))
    spaces, rejects = read_layer(f, category="x", id="id", name="name")
    check_contract(spaces, rejects, 4)
    assert spaces["space_id"].tolist() == ["7", "8"]
    assert spaces["name"].tolist() == ["A", ""]
    assert rows_of(rejects, "unreadable_row") == [3]
    assert rows_of(rejects, "missing_coordinates") == [4]


def test_geojson_polygons_use_representative_point(tmp_path):
    x0, y0 = tm(127.05, 37.58)
    poly = box(x0, y0, x0 + 60, y0 + 40)
    gdf = gpd.GeoDataFrame({"facility_id": ["F1", "F2"], "name": ["구민회관", "도서관"]},
                           geometry=[poly, Point(x0 + 500, y0)], crs=5186).to_crs(4326)
    f = tmp_path / "facilities.geojson"
    gdf.to_file(f, driver="GeoJSON")
    spaces, rejects = read_layer(f, category="facility", id="facility_id", name="name")
    check_contract(spaces, rejects, 2)
    assert spaces.geometry.iloc[0].within(poly.buffer(0.01))
    assert spaces.geometry.iloc[1].distance(Point(x0 + 500, y0)) < 0.01


def test_geojson_null_and_broken_geometry(tmp_path):
    doc = {"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": {"id": "a"},
         "geometry": {"type": "Point", "coordinates": [127.05, 37.58]}},
        {"type": "Feature", "properties": {"id": "b"}, "geometry": None},
        {"type": "Feature", "properties": {"id": "c"}, "geometry": {"type": "Point"}},
    ]}
    f = write(tmp_path / "g.geojson", json.dumps(doc))
    spaces, rejects = read_layer(f, category="x", id="id")
    check_contract(spaces, rejects, 3)
    assert rows_of(rejects, "missing_coordinates") == [2]
    assert rows_of(rejects, "unreadable_row") == [3]


def test_portal_wrapper_with_zero_rows(tmp_path):
    doc = {"DESCRIPTION": {"STATN_LAT": "위도"}, "DATA": [
        {"statn_lat": 0.0, "statn_addr1": "서울 양천구", "lendplace_id": "ST-999",
         "statn_addr2": "목동", "statn_lnt": 0.0},
        {"statn_lat": 37.58, "statn_addr1": "서울 동대문구 왕산로", "lendplace_id": "ST-1",
         "statn_addr2": "", "statn_lnt": 127.05},
    ]}
    f = write(tmp_path / "master.json", json.dumps(doc, ensure_ascii=False))
    spaces, rejects = read_layer(f, category="bike", preset="ttareungyi")
    check_contract(spaces, rejects, 2)
    assert spaces["space_id"].tolist() == ["ST-1"]
    assert spaces["name"].tolist() == ["서울 동대문구 왕산로"]  # statn_addr2 empty -> addr1
    assert rejects.iloc[0]["reason"] == "zero_coordinates"
    assert rejects.iloc[0]["detail"] == "statn_lat/statn_lnt are 0,0 (Seoul's code for unknown)"


def test_open_api_wrapper_bikelist(tmp_path):
    doc = {"rentBikeStatus": {"list_total_count": 2, "RESULT": {"CODE": "INFO-000"}, "row": [
        {"stationId": "ST-4", "stationName": "102. 망원역 1번출구 앞",
         "stationLatitude": "37.55564880", "stationLongitude": "126.91062927"},
        {"stationId": "ST-5", "stationName": "103. 망원역 2번출구 앞",
         "stationLatitude": "37.55495071", "stationLongitude": "126.91083527"},
    ]}}
    f = write(tmp_path / "bikeList.json", json.dumps(doc, ensure_ascii=False))
    spaces, rejects = read_layer(f, category="bike", preset="ttareungyi")
    check_contract(spaces, rejects, 2)
    assert spaces["space_id"].tolist() == ["ST-4", "ST-5"]
    assert spaces["name"].iloc[0] == "102. 망원역 1번출구 앞"


def test_xlsx_simple_and_sheet(tmp_path):
    openpyxl = pytest.importorskip("openpyxl")
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "first"
    ws.append(["id", "name", "lon", "lat"])
    ws.append([1, "A", 127.05, 37.58])
    ws.append([None, None, None, None])  # an empty row is not a record
    ws.append([2, "B", "abc", 37.58])
    other = wb.create_sheet("second")
    other.append(["id", "name", "lon", "lat"])
    other.append([5, "E", 127.06, 37.59])
    f = tmp_path / "list.xlsx"
    wb.save(f)
    spaces, rejects = read_layer(f, category="x", id="id")
    check_contract(spaces, rejects, 2)
    assert spaces["space_id"].tolist() == ["1"]
    assert rows_of(rejects, "invalid_coordinates") == [2]
    spaces, _ = read_layer(f, category="x", id="id", sheet="second")
    assert spaces["space_id"].tolist() == ["5"]
    with pytest.raises(InputDataError, match=r"no sheet 'third'.*first, second"):
        read_layer(f, category="x", sheet="third")


def test_xlsx_seoul_multirow_merged_header(tmp_path):
    """Seoul's station XLSX: five header rows under merged cells, data from row 6."""
    openpyxl = pytest.importorskip("openpyxl")
    wb = openpyxl.Workbook()
    ws = wb.active
    ws["A1"], ws["B1"], ws["C1"] = "대여소\n번호", "보관소(대여소)명", "소재지(위치)"
    ws["G1"], ws["H1"], ws["J1"] = "설치\n시기", "설치형태", "운영\n방식"
    ws["H2"], ws["I2"] = "LCD", "QR"
    ws["C3"], ws["D3"], ws["E3"], ws["F3"] = "자치구", "상세주소", "위도", "경도"
    ws["H4"], ws["I4"] = "거치\n대수", "거치\n대수"
    for rng in ("A1:A5", "B1:B5", "C1:F2", "G1:G5", "H1:I1", "J1:J5", "C3:C5", "D3:D5",
                "E3:E5", "F3:F5", "H4:H5", "I4:I5"):
        ws.merge_cells(rng)
    ws.append([3501, "3501. 신답역", "동대문구", "서울 동대문구 천호대로", 37.5722, 127.0463,
               "2020-01-01", 10, 0, "LCD"])
    ws.append([3502, "3502. 장한평역", "동대문구", "서울 동대문구 장한로", 0, 0,
               "2020-01-01", 0, 8, "QR"])
    f = tmp_path / "stations.xlsx"
    wb.save(f)
    spaces, rejects = read_layer(f, category="bike", preset="ttareungyi")
    check_contract(spaces, rejects, 2)
    assert spaces["space_id"].tolist() == ["3501"]
    assert spaces["name"].tolist() == ["3501. 신답역"]
    assert rejects["reason"].tolist() == ["zero_coordinates"]
    assert rejects["detail"].iloc[0] == "위도/경도 are 0,0 (Seoul's code for unknown)"


def test_xlsx_title_row_and_first_record_without_coordinates(tmp_path):
    """A title above the header is skipped; a first record with no coordinates is a record."""
    openpyxl = pytest.importorskip("openpyxl")
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(["서울시 공구대여소 현황 (2024)"])
    ws.append(["연번", "대여소명", "주소", "위도", "경도"])
    ws.append([None, "좌표 없는 대여소", "주소 미상", None, None])
    ws.append([2, "용신동 공구대여소", "동대문구", 37.57631, 127.0387])
    f = tmp_path / "tools.xlsx"
    wb.save(f)
    spaces, rejects = read_layer(f, category="tools", preset="tool_library")
    check_contract(spaces, rejects, 2)
    assert rows_of(rejects, "missing_coordinates") == [1]
    assert spaces["space_id"].tolist() == ["2"]


def test_geopackage_in_tm_keeps_coordinates(tmp_path):
    pts = [(203_000.5, 552_000.25), (204_000.0, 553_000.0)]
    gdf = gpd.GeoDataFrame({"pid": ["P1", "P2"], "nm": ["주차장 1", "주차장 2"]},
                           geometry=[Point(p) for p in pts], crs=5186)
    f = tmp_path / "parking.gpkg"
    gdf.to_file(f, layer="parking", driver="GPKG")
    spaces, rejects = read_layer(f, category="parking", id="pid", name="nm")
    check_contract(spaces, rejects, 2)
    assert [(g.x, g.y) for g in spaces.geometry] == pts
    gdf.to_file(f, layer="other", driver="GPKG")
    with pytest.raises(InputDataError, match=r"2 layers.*`layer`"):
        read_layer(f, category="parking")
    spaces, _ = read_layer(f, category="parking", layer="other", id="pid")
    assert spaces["space_id"].tolist() == ["P1", "P2"]


def test_geopackage_in_5179_is_reprojected(tmp_path):
    lonlat = (127.05, 37.58)
    p5179 = Transformer.from_crs(4326, 5179, always_xy=True).transform(*lonlat)
    gdf = gpd.GeoDataFrame({"id": ["a"]}, geometry=[Point(p5179)], crs=5179)
    f = tmp_path / "utmk.gpkg"
    gdf.to_file(f, driver="GPKG")
    spaces, _ = read_layer(f, category="x", id="id")
    g = spaces.geometry.iloc[0]
    assert math.dist((g.x, g.y), tm(*lonlat)) < 0.01


def _shapefile(tmp_path: Path, encoding: str, keep_cpg: bool) -> Path:
    gdf = gpd.GeoDataFrame({"nm": ["서울역 공구대여소", "동대문 공구도서관"]},
                           geometry=[Point(203_000, 552_000), Point(204_000, 553_000)], crs=5186)
    f = tmp_path / "tools.shp"
    gdf.to_file(f, encoding=encoding)
    if not keep_cpg:
        f.with_suffix(".cpg").unlink(missing_ok=True)
    return f


def test_shapefile_cp949_without_cpg(tmp_path):
    f = _shapefile(tmp_path, "cp949", keep_cpg=False)
    assert not f.with_suffix(".cpg").exists()
    spaces, rejects = read_layer(f, category="tools", name="nm")
    check_contract(spaces, rejects, 2)
    assert spaces["name"].tolist() == ["서울역 공구대여소", "동대문 공구도서관"]
    assert spaces["space_id"].tolist() == ["tools-1", "tools-2"]  # no id column: stem-row


def test_shapefile_utf8_with_cpg_and_without_prj(tmp_path):
    f = _shapefile(tmp_path, "utf-8", keep_cpg=True)
    spaces, _ = read_layer(f, category="tools", name="nm")
    assert spaces["name"].tolist() == ["서울역 공구대여소", "동대문 공구도서관"]
    f.with_suffix(".prj").unlink()
    with pytest.raises(InputDataError, match=r"tools\.shp.*no coordinate reference system"):
        read_layer(f, category="tools")
    spaces, _ = read_layer(f, category="tools", crs="EPSG:5186")
    assert (spaces.geometry.iloc[0].x, spaces.geometry.iloc[0].y) == (203_000, 552_000)


# ----------------------------------------------------------------------------- presets


LL = "37.57631,127.0387"  # lat,lon of a point in Dongdaemun-gu
LON_LAT = "127.0387,37.57631"


@pytest.mark.parametrize(("preset", "header", "row", "sid", "name"), [
    ("nanumcar", "POSITN_CD,POSITN_NM,ADRES,LA,LO", f"1000,하이마트 용두점,서울,{LL}",
     "1000", "하이마트 용두점"),
    ("nanumcar", "spot_id,name,address,lon,lat", f"1000,하이마트 용두점,서울,{LON_LAT}",
     "1000", "하이마트 용두점"),
    ("public_reservation", "SVCID,PLACENM,X,Y", f"S1,배봉산 야외무대,{LON_LAT}", "S1",
     "배봉산 야외무대"),
    ("public_reservation", "서비스ID,장소명,장소X좌표,장소Y좌표", f"S2,구민회관,{LON_LAT}",
     "S2", "구민회관"),
    ("shared_parking", "PARKING_CODE,PARKING_NAME,ADDR,LAT,LNG", f"171721,세종로 주차장,종로,{LL}",
     "171721", "세종로 주차장"),
    ("tool_library", "연번,대여소명,주소,위도,경도", f"3,용신동 공구대여소,동대문구,{LL}", "3",
     "용신동 공구대여소"),
    ("toy_library", "시설명,주소,위도,경도", f"동대문 장난감도서관,동대문구,{LL}",
     "toys-1", "동대문 장난감도서관"),
    ("ttareungyi", "대여소 번호,대여소명,자치구,상세주소,위도,경도",
     f"3501,신답역,동대문구,천호대로,{LL}", "3501", "신답역"),
])
def test_presets_recognise_layouts(tmp_path, preset, header, row, sid, name):
    f = write(tmp_path / "toys.csv", f"{header}\n{row}\n")
    spaces, rejects = read_layer(f, category="c", preset=preset)
    check_contract(spaces, rejects, 1)
    assert spaces["space_id"].tolist() == [sid]
    assert spaces["name"].tolist() == [name]
    g = spaces.geometry.iloc[0]
    assert math.dist((g.x, g.y), tm(127.0387, 37.57631)) < 1e-6  # X is longitude


def test_explicit_options_override_preset(tmp_path):
    f = write(tmp_path / "n.csv", "spot_id,name,alias,lon,lat\n1,A,별칭,127.05,37.58\n")
    spaces, _ = read_layer(f, category="c", preset="nanumcar", name="alias")
    assert spaces["name"].tolist() == ["별칭"]
    assert spaces["space_id"].tolist() == ["1"]


def test_unknown_preset_and_unmatched_layout(tmp_path):
    f = write(tmp_path / "a.csv", "lon,lat\n127.05,37.58\n")
    with pytest.raises(ConfigError, match=r"unknown preset 'tareungyi'.*nanumcar.*ttareungyi"):
        read_layer(f, category="c", preset="tareungyi")
    f = write(tmp_path / "a.csv", "foo,bar\n1,2\n")
    with pytest.raises(InputDataError, match=r"a\.csv: none of preset 'nanumcar'.*columns found: "
                                             r"foo, bar"):
        read_layer(f, category="c", preset="nanumcar")


def test_autodetect_and_no_coordinate_columns(tmp_path):
    f = write(tmp_path / "a.csv", "name,Longitude,Latitude\nA,127.05,37.58\n")
    spaces, _ = read_layer(f, category="c")
    assert spaces["name"].tolist() == ["A"]
    f = write(tmp_path / "b.csv", "name,address\nA,somewhere\n")
    with pytest.raises(InputDataError, match=r"b\.csv: no coordinate columns.*name, address"):
        read_layer(f, category="c")
    with pytest.raises(InputDataError, match=r"column 'lon' \(`x`\) not found"):
        read_layer(f, category="c", x="lon", y="lat")
    with pytest.raises(ConfigError, match="both `x` and `y`"):
        read_layer(f, category="c", x="lon")


# ----------------------------------------------------------------------------- bad files


def test_empty_file_is_an_error(tmp_path):
    f = write(tmp_path / "empty.csv", "")
    with pytest.raises(InputDataError, match=r"empty\.csv.*empty \(0 bytes\)"):
        read_layer(f, category="c")


def test_header_only_is_an_empty_layer_with_warning(tmp_path):
    f = write(tmp_path / "head.csv", "lib_id,name,address,lon,lat\n")
    with pytest.warns(UserWarning, match=r"head\.csv.*no data records"):
        spaces, rejects = read_layer(f, category="c")
    check_contract(spaces, rejects, 0)
    f = write(tmp_path / "none.json", '{"DESCRIPTION": {}, "DATA": []}')
    with pytest.warns(UserWarning, match=r"none\.json"):
        spaces, _ = read_layer(f, category="c")
    assert len(spaces) == 0


def test_non_numeric_and_nan_coordinates(tmp_path):
    f = write(tmp_path / "bad.csv", "id,lon,lat\n1,127.05,37.58\n2,abc,37.58\n3,127.05,NaN\n"
              "4,,\n5,127.05,37,58\n6,127.05°,37.58\n7, 127.06 , 37.59 \n")  # 5: 4 fields
    spaces, rejects = read_layer(f, category="c", id="id")
    check_contract(spaces, rejects, 7)
    assert spaces["space_id"].tolist() == ["1", "7"]
    assert rows_of(rejects, "invalid_coordinates") == [2, 6]
    assert rows_of(rejects, "missing_coordinates") == [3, 4]
    assert rows_of(rejects, "unreadable_row") == [5]
    detail = rejects.set_index("source_row")["detail"]
    assert detail[2] == "lon = 'abc' is not a number"
    assert detail[3] == "lat is empty"
    assert detail[4] == "lat/lon are empty"


def test_swapped_lat_lon_is_an_error_naming_rows_and_fix(tmp_path):
    f = write(tmp_path / "swap.csv", "id,lon,lat\n1,37.58,127.05\n2,37.59,127.06\n3,37.6,127.0\n")
    with pytest.raises(InputDataError, match=r"swap\.csv.*swapped.*row 1: x=37\.58, y=127\.05"
                                             r".*swap the `x` and `y`"):
        read_layer(f, category="c")
    with pytest.raises(InputDataError, match="swapped"):
        read_layer(f, category="c", x="lon", y="lat", crs="EPSG:4326")


def test_single_swapped_row_is_invalid(tmp_path):
    f = write(tmp_path / "s.csv", "id,lon,lat\n1,127.05,37.58\n2,127.06,37.59\n3,37.6,127.0\n")
    _, rejects = read_layer(f, category="c", id="id")
    assert rows_of(rejects, "invalid_coordinates") == [3]
    assert "swapped" in rejects["detail"].iloc[0]


def test_tm_declared_as_wgs84_and_degrees_declared_as_tm(tmp_path):
    f = write(tmp_path / "tm.csv", "id,x,y\n1,203000.5,552000.1\n2,204000,553000\n")
    with pytest.raises(InputDataError, match=r"tm\.csv.*EPSG:4326.*hundreds of thousands.*"
                                             r"EPSG:5186"):
        read_layer(f, category="c", x="x", y="y", crs="EPSG:4326")
    f = write(tmp_path / "deg.csv", "id,lon,lat\n1,127.05,37.58\n")
    with pytest.raises(InputDataError, match=r"deg\.csv.*EPSG:5186.*degrees.*EPSG:4326"):
        read_layer(f, category="c", crs="EPSG:5186")


def _tm_csv(tmp_path: Path, epsg: int) -> tuple[Path, list[tuple[float, float]]]:
    lonlat = [(127.03, 37.57), (127.05, 37.58), (127.07, 37.60), (127.01, 37.56)]
    fwd = Transformer.from_crs(4326, epsg, always_xy=True)
    rows = [fwd.transform(*p) for p in lonlat]
    text = "id,x,y\n" + "".join(f"{i},{x:.3f},{y:.3f}\n" for i, (x, y) in enumerate(rows))
    return write(tmp_path / f"tm{epsg}.csv", text), [tm(*p) for p in lonlat]


@pytest.mark.parametrize("epsg", [5174, 5179, 5181, 5186, 2097])
def test_declared_korean_tm_systems(tmp_path, epsg):
    f, expected = _tm_csv(tmp_path, epsg)
    spaces, _ = read_layer(f, category="c", crs=f"EPSG:{epsg}", study_area=AREA)
    got = [(g.x, g.y) for g in spaces.geometry]
    assert max(math.dist(a, b) for a, b in zip(got, expected, strict=True)) < 0.01


@pytest.mark.parametrize("epsg", [5179, 5186])  # 100+ km apart from the other systems
def test_undeclared_tm_is_detected_with_study_area(tmp_path, epsg):
    f, expected = _tm_csv(tmp_path, epsg)
    spaces, _ = read_layer(f, category="c", study_area=AREA)
    got = [(g.x, g.y) for g in spaces.geometry]
    assert max(math.dist(a, b) for a, b in zip(got, expected, strict=True)) < 0.01
    with pytest.raises(InputDataError, match=rf"tm{epsg}\.csv.*metres.*declare crs"):
        read_layer(f, category="c")  # without a study area the systems cannot be told apart
    # 5181, 5174 and 2097 differ by a few hundred metres: all fit, so the user must choose
    f, _ = _tm_csv(tmp_path, 5181)
    with pytest.raises(InputDataError, match=r"tm5181\.csv.*cannot tell apart.*declare"):
        read_layer(f, category="c", study_area=AREA)


@pytest.mark.seoul
@pytest.mark.parametrize(("gu", "epsg"), [("동대문구", 5181), ("성북구", 2097)])
def test_close_tm_systems_are_never_guessed_on_real_lots(seoul_data, tmp_path, gu, epsg):
    """Seoul's 524 public car parks (the tidy table of section 6.2) written in a TM system
    of the old Bessel family (5181, 2097; 5174 alike) with no `crs`: the study area of one
    gu cannot tell these systems apart (they put a point within 250-360 m of each other),
    yet the detection took the one that put the most lots inside when it led by 5%:
    for Dongdaemun-gu, 33 car parks (20 stand there) up to 313 m from where they are; for
    Seongbuk-gu a 2097 table landed 357 m off. Such a table now stops with one line
    naming the systems and asking for the crs."""
    from sharemap.coverage import read_area

    lots = pd.read_csv(seoul_data / "points" / "public_parking_lots_2025-06.csv")
    tx, ty = Transformer.from_crs(4326, epsg, always_xy=True).transform(
        lots["lon"].to_numpy(), lots["lat"].to_numpy())
    f = tmp_path / f"lots{epsg}.csv"
    pd.DataFrame({"park_code": lots["park_code"], "x": np.round(tx, 2),
                  "y": np.round(ty, 2)}).to_csv(f, index=False)
    area = read_area(seoul_data / "boundaries" / "seoul_gu_2021.geojson", crs="EPSG:5186",
                     filter={"sggnm": gu})
    with pytest.raises(InputDataError) as err:
        read_layer(f, category="parking", x="x", y="y", id="park_code", study_area=area)
    msg = str(err.value)
    assert "\n" not in msg and f"lots{epsg}.csv" in msg and "declare" in msg
    for code in ("EPSG:5174", "EPSG:5181", "EPSG:2097"):
        assert code in msg, (code, msg)
    spaces, _ = read_layer(f, category="parking", x="x", y="y", id="park_code",
                           crs=f"EPSG:{epsg}", study_area=area)  # declared: exact
    truth = lots.assign(park_code=lots["park_code"].astype(str)).set_index("park_code")
    want = gpd.GeoSeries(gpd.points_from_xy(truth.loc[spaces["space_id"], "lon"],
                                            truth.loc[spaces["space_id"], "lat"]),
                         crs=4326).to_crs(5186)
    assert float(np.max(shapely.distance(spaces.geometry.to_numpy(), want.to_numpy()))) < 0.05


def test_geojson_with_tm_coordinates_and_no_crs_member(tmp_path):
    doc = {"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": {"id": "a"},
         "geometry": {"type": "Point", "coordinates": [203000.0, 552000.0]}}]}
    f = write(tmp_path / "tm.geojson", json.dumps(doc))
    with pytest.raises(InputDataError, match=r"tm\.geojson.*EPSG:4326.*TM"):
        read_layer(f, category="c")
    spaces, _ = read_layer(f, category="c", crs="EPSG:5186")
    assert (spaces.geometry.iloc[0].x, spaces.geometry.iloc[0].y) == (203000.0, 552000.0)


def test_layer_entirely_outside_study_area_is_an_error(tmp_path):
    # Busan, read correctly, is ~320 km from a Seoul study area
    f = write(tmp_path / "busan.csv", "id,lon,lat\n1,129.07,35.18\n2,129.08,35.17\n")
    with pytest.raises(InputDataError, match=r"busan\.csv: layer lands nowhere near the study "
                                             r"area.*km away.*crs"):
        read_layer(f, category="c", study_area=AREA)


def test_points_just_outside_are_rejects(tmp_path):
    x0, y0 = Transformer.from_crs(5186, 4326, always_xy=True).transform(216_000, 552_000)
    f = write(tmp_path / "near.csv", f"id,lon,lat\n1,127.05,37.58\n2,{x0},{y0}\n")
    spaces, rejects = read_layer(f, category="c", id="id", study_area=AREA)
    assert rows_of(rejects, "outside_study_area") == [2]
    assert rejects["detail"].iloc[0] == "1,000 m outside the study area"
    # a layer whose only points are within 5 km outside is rejected row by row, not an error
    f = write(tmp_path / "near2.csv", f"id,lon,lat\n2,{x0},{y0}\n")
    spaces, rejects = read_layer(f, category="c", id="id", study_area=AREA)
    assert len(spaces) == 0
    assert rejects["reason"].tolist() == ["outside_study_area"]


def test_duplicate_ids_are_kept_unique_with_warning(tmp_path):
    f = write(tmp_path / "d.csv", "id,lon,lat\nA,127.05,37.58\nA,127.06,37.58\nB,127.07,37.58\n"
              "A,127.08,37.58\nA~2,127.09,37.58\n")
    with pytest.warns(UserWarning, match=r"d\.csv.*'id' repeats 1 value.*'A'"):
        spaces, _ = read_layer(f, category="c", id="id")
    assert spaces["space_id"].tolist() == ["A", "A~3", "B", "A~4", "A~2"]


def test_html_and_quotes_in_names_are_kept_verbatim(tmp_path):
    name = '<b>Tom\'s "shop"</b> & <script>x</script>, co'
    quoted = '"' + name.replace('"', '""') + '"'
    f = write(tmp_path / "h.csv", f"id,name,lon,lat\n1,{quoted},127.05,37.58\n")
    spaces, _ = read_layer(f, category="c", id="id", name="name")
    assert spaces["name"].tolist() == [name]


def test_truncated_last_line(tmp_path):
    f = write(tmp_path / "t.csv", "id,name,lon,lat\n1,A,127.05,37.58\n2,B,127.0")
    spaces, rejects = read_layer(f, category="c", id="id")
    check_contract(spaces, rejects, 2)
    assert rejects["reason"].tolist() == ["unreadable_row"]
    assert rejects["source_row"].tolist() == [2]
    assert rejects["detail"].iloc[0] == "has 3 of the header's 4 fields (a truncated line?)"
    # a last line with all its fields but no final newline is a normal record
    f = write(tmp_path / "t2.csv", "id,name,lon,lat\n1,A,127.05,37.58\n2,B,127.06,37.5")
    spaces, rejects = read_layer(f, category="c", id="id")
    assert spaces["space_id"].tolist() == ["1", "2"]
    assert len(rejects) == 0


def test_truncated_cp949_multibyte_tail(tmp_path):
    data = "id,name,lon,lat\n1,가,127.05,37.58\n2,나나".encode("cp949")[:-1]
    (tmp_path / "c.csv").write_bytes(data)
    spaces, rejects = read_layer(tmp_path / "c.csv", category="c", id="id")
    assert spaces["name"].tolist() == ["가"]
    assert rejects["reason"].tolist() == ["unreadable_row"]


@pytest.mark.parametrize(("fname", "content", "pattern"), [
    ("page.csv", "<!DOCTYPE html><html><body>Error 500</body></html>", "HTML"),
    ("broken.json", '{"DATA": [{"a": 1},', r"not valid JSON \(line 1"),
    ("odd.json", '{"a": 1, "b": 2}', "JSON layout not recognised"),
    ("apierr.json", '{"RESULT": {"CODE": "INFO-100", "MESSAGE": "인증키가 유효하지 않습니다."}}',
     "INFO-100"),
    ("quote.csv", 'id,name,lon,lat\n1,"A,127.05,37.58\n2,B,127.06,37.59\n', "never closed"),
    ("old.xls", "not really excel", r"\.xls files are not supported"),
    ("blank.csv", "\n\n  \n", "blank space"),
])
def test_unreadable_files_give_one_line_errors(tmp_path, fname, content, pattern):
    f = write(tmp_path / fname, content)
    with pytest.raises(InputDataError, match=pattern) as err:
        read_layer(f, category="c")
    assert fname in str(err.value)
    assert "\n" not in str(err.value)


def test_missing_file_and_corrupt_binary(tmp_path):
    with pytest.raises(InputDataError, match="not found"):
        read_layer(tmp_path / "nope.csv", category="c")
    f = write(tmp_path / "bad.gpkg", "this is not a geopackage")
    with pytest.raises(InputDataError, match=r"bad\.gpkg: cannot read"):
        read_layer(f, category="c")
    f = write(tmp_path / "bad.xlsx", "this is not a workbook")
    with pytest.raises(InputDataError, match=r"bad\.xlsx: not a readable"):
        read_layer(f, category="c")


def test_option_for_wrong_format_is_a_config_error(tmp_path):
    f = write(tmp_path / "a.csv", "lon,lat\n127.05,37.58\n")
    with pytest.raises(ConfigError, match="`sheet` applies to Excel"):
        read_layer(f, category="c", sheet="x")


# ----------------------------------------------------------------------------- reasons


def test_reason_priority_order(tmp_path):
    """Each row's reason is its first fault in REASONS order (worked out by hand).

    row 1: truncated AND zero           -> unreadable_row
    row 2: lon 'abc' AND lat empty      -> missing_coordinates
    row 3: lon 0 AND lat 999            -> invalid_coordinates (999 is no latitude)
    row 4: 0,0 AND (as 0,0) far outside -> zero_coordinates
    row 5: far outside (Busan)          -> outside_study_area
    row 6: fine                         -> space
    row 7: same place as row 6          -> space here, duplicate in dedupe_spaces
    """
    f = write(tmp_path / "p.csv", "id,lon,lat,extra\n1,0,0\n2,abc,,x\n3,0,999,x\n4,0,0,x\n"
              "5,129.07,35.18,x\n6,127.05,37.58,x\n7,127.05,37.58,x\n")
    spaces, rejects = read_layer(f, category="c", id="id", study_area=AREA)
    check_contract(spaces, rejects, 7)
    got = dict(zip(rejects["source_row"], rejects["reason"], strict=True))
    assert got == {1: "unreadable_row", 2: "missing_coordinates", 3: "invalid_coordinates",
                   4: "zero_coordinates", 5: "outside_study_area"}
    _, dups = dedupe_spaces(spaces)
    assert dups["source_row"].tolist() == [7]
    assert dups["detail"].iloc[0] == "within 0.0 m of kept space 6 (p.csv row 6)"
    assert REASONS.index("outside_study_area") < REASONS.index("duplicate")


def test_one_zero_coordinate_and_impossible_tm(tmp_path):
    f = write(tmp_path / "z.csv", "id,x,y\n1,203000,0\n2,203000,552000\n3,9e9,552000\n")
    _, rejects = read_layer(f, category="c", id="id", crs="EPSG:5186")
    assert rows_of(rejects, "zero_coordinates") == [1]
    assert rejects.set_index("source_row")["detail"][1] == "y is 0 (Seoul's code for unknown)"
    assert rows_of(rejects, "invalid_coordinates") == [3]


# ----------------------------------------------------------------------------- dedupe


def _spaces(xy, cats=None, ids=None) -> gpd.GeoDataFrame:
    n = len(xy)
    return gpd.GeoDataFrame({
        "space_id": ids or [str(i) for i in range(n)],
        "category": cats or ["c"] * n,
        "name": [""] * n,
        "source": ["f.csv"] * n,
        "source_row": list(range(1, n + 1)),
    }, geometry=[Point(p) for p in xy], crs=5186)


def test_dedupe_greedy_chain():
    """A kept; B 1.5 m from A -> duplicate of A; C 3 m from A but 1.5 m from B (rejected)
    -> kept; D 1.6 m from C -> duplicate of C; E same category elsewhere -> kept; F at A's
    position but another category -> kept."""
    xy = [(0, 0), (1.5, 0), (3, 0), (4.6, 0), (100, 100), (0, 0)]
    sp = _spaces(xy, cats=["c", "c", "c", "c", "c", "d"], ids=["A", "B", "C", "D", "E", "F"])
    kept, dups = dedupe_spaces(sp)
    assert kept["space_id"].tolist() == ["A", "C", "E", "F"]
    assert isinstance(kept.index, pd.RangeIndex)
    assert dups["source_row"].tolist() == [2, 4]
    assert dups["detail"].tolist() == ["within 1.5 m of kept space A (f.csv row 1)",
                                       "within 1.6 m of kept space C (f.csv row 3)"]
    assert list(dups.columns) == list(REJECT_COLUMNS)
    assert (dups["reason"] == "duplicate").all()


def test_dedupe_tolerance_is_inclusive_and_repeats_stack():
    sp = _spaces([(0, 0), (2, 0), (0, 0), (0, 0), (10, 0)])
    kept, dups = dedupe_spaces(sp)
    assert kept["space_id"].tolist() == ["0", "4"]
    assert dups["detail"].str.contains("kept space 0 ").all()
    kept, _ = dedupe_spaces(sp, tolerance_m=1.0)
    assert kept["space_id"].tolist() == ["0", "1", "4"]


def _brute_force(xy: np.ndarray, cats: list[str], tol: float) -> list[int]:
    """Greedy in order; -1 = kept, else index of the nearest earlier kept space."""
    out = []
    kept: list[int] = []
    for i, p in enumerate(xy):
        near = [(math.dist(p, xy[k]), k) for k in kept if cats[k] == cats[i]
                and math.dist(p, xy[k]) <= tol]
        if near:
            out.append(min(near)[1])
        else:
            out.append(-1)
            kept.append(i)
    return out


def test_dedupe_matches_brute_force():
    rng = np.random.default_rng(42)
    centres = rng.uniform(0, 200, (60, 2))
    xy = centres[rng.integers(0, 60, 600)] + rng.normal(0, 1.5, (600, 2))
    cats = list(rng.choice(["a", "b"], 600))
    sp = _spaces([tuple(p) for p in xy], cats=cats)
    kept, dups = dedupe_spaces(sp)
    ref = _brute_force(xy, cats, 2.0)
    assert kept["space_id"].tolist() == [str(i) for i, r in enumerate(ref) if r == -1]
    expected = [f"kept space {r} " for r in ref if r != -1]
    assert [d[d.index("kept space"):d.index("(")] for d in dups["detail"]] == expected
    assert dups["source_row"].tolist() == [i + 1 for i, r in enumerate(ref) if r != -1]
    assert 50 < len(dups) < 550  # the fixture really has clusters and singles


def test_dedupe_with_exact_repeats_matches_brute_force_status():
    rng = np.random.default_rng(7)
    xy = rng.integers(0, 12, (400, 2)).astype(float)  # many exact repeats and 1-2 m gaps
    cats = list(rng.choice(["a", "b", "c"], 400))
    kept, dups = dedupe_spaces(_spaces([tuple(p) for p in xy], cats=cats))
    ref = _brute_force(xy, cats, 2.0)
    kept_ids = {i for i, r in enumerate(ref) if r == -1}
    assert kept["space_id"].tolist() == [str(i) for i in sorted(kept_ids)]
    for row, detail in zip(dups["source_row"], dups["detail"], strict=True):
        k = int(detail.split("kept space ")[1].split()[0])  # a kept, earlier, close space
        assert k in kept_ids and k < row - 1 and cats[k] == cats[row - 1]
        assert math.dist(xy[k], xy[row - 1]) <= 2.0


def test_dedupe_does_not_mutate_input():
    sp = _spaces([(0, 0), (1, 0)])
    before = sp.copy()
    dedupe_spaces(sp)
    pd.testing.assert_frame_equal(sp, before)


# ----------------------------------------------------------------------------- read_layers


def test_read_layers_from_config(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    write(data / "bikes.csv", bike_csv([
        "1,역 1,동대문구,주소,37.58,127.05,2020-01-01,1,0,LCD",
        "2,역 2,동대문구,주소,0,0,2020-01-01,1,0,LCD",
    ]), "cp949")
    write(data / "more_bikes.json", json.dumps([
        {"stationId": "ST-9", "stationName": "역 9", "stationLatitude": 37.58,
         "stationLongitude": 127.05},
        {"stationId": "ST-10", "stationName": "역 10", "stationLatitude": 37.59,
         "stationLongitude": 127.05},
    ]))
    write(data / "tools.csv", "lib_id,name,address,lon,lat\nT1,공구,주소,127.05,37.58\n",
          "utf-8-sig")
    tools = ('{ category = "tools", path = "data/tools.csv", x = "lon", y = "lat", '
             'crs = "EPSG:4326", id = "lib_id" }')
    cfg = write(tmp_path / "study.toml", f"""layers = [
  {{ category = "bike", path = "data/bikes.csv", preset = "ttareungyi" }},
  {{ category = "bike", path = "data/more_bikes.json", preset = "ttareungyi" }},
  {tools},
]
study = {{ name = "t", crs = "EPSG:5186" }}
network = {{ graphml = "walk.graphml" }}
""")
    (tmp_path / "walk.graphml").touch()  # read_config checks that every input exists
    config = read_config(cfg)
    spaces, rejects, rows_read = read_layers(config, study_area=AREA)
    assert rows_read == {"data/bikes.csv": 2, "data/more_bikes.json": 2, "data/tools.csv": 1}
    assert spaces["space_id"].tolist() == ["1", "ST-10", "T1"]  # the tool is another category
    assert rejects[["source", "source_row", "reason"]].values.tolist() == [
        ["data/bikes.csv", 2, "zero_coordinates"],
        ["data/more_bikes.json", 1, "duplicate"],
    ]
    assert rejects["detail"].iloc[1] == "within 0.0 m of kept space 1 (data/bikes.csv row 1)"
    assert len(spaces) + len(rejects) == sum(rows_read.values())


# ----------------------------------------------------------------------------- real data


@pytest.fixture(scope="module")
def seoul() -> Path:
    if not SEOUL.is_dir():
        pytest.skip(f"real Seoul data not found at {SEOUL}")
    return SEOUL


@pytest.fixture(scope="module")
def dongdaemun(seoul) -> shapely.Geometry:
    gu = gpd.read_file(seoul / "boundaries" / "seoul_gu_2021.geojson")
    return gu[gu["sggnm"] == "동대문구"].to_crs(5186).geometry.iloc[0]


@pytest.mark.seoul
def test_real_portal_json_zero_stations(seoul):
    f = seoul / "raw" / "ttareungyi_master_seoul_open_data.json"
    records = json.loads(f.read_text(encoding="utf-8"))["DATA"]
    zero_rows = [i for i, r in enumerate(records, start=1)
                 if float(r["statn_lat"]) == 0 or float(r["statn_lnt"]) == 0]
    assert len(zero_rows) == 77
    spaces, rejects = read_layer(f, category="bike", preset="ttareungyi")
    check_contract(spaces, rejects, len(records))
    assert rows_of(rejects, "zero_coordinates") == zero_rows
    assert len(rejects) == 77
    by_row = {i: r["lendplace_id"] for i, r in enumerate(records, start=1)}
    assert [by_row[r] for r in spaces["source_row"]] == spaces["space_id"].tolist()


@pytest.mark.seoul
def test_real_files_in_dongdaemun(seoul, dongdaemun):
    points = seoul / "points"
    cases = [("ttareungyi_stations_2023.csv", "ttareungyi", "station_id", 100),
             ("nanumcar_spots_2017.csv", "nanumcar", "spot_id", 42),
             ("public_service_reservation_culture_2025-04.csv", "public_reservation",
              "service_id", 11)]
    for fname, preset, id_col, n_inside in cases:
        table = pd.read_csv(points / fname, dtype=str)
        inside = table[table["gu_by_polygon"] == "동대문구"]
        assert len(inside) == n_inside  # the README's count
        spaces, rejects = read_layer(points / fname, category=preset, preset=preset,
                                     study_area=dongdaemun)
        check_contract(spaces, rejects, len(table))
        assert sorted(spaces["space_id"]) == sorted(inside[id_col])
        assert set(rejects["reason"]) == {"outside_study_area"}
        if preset == "public_reservation":
            kept, dups = dedupe_spaces(spaces)
            n_places = len(inside.drop_duplicates(["lon", "lat"]))
            assert len(kept) == n_places < n_inside
            assert len(dups) == n_inside - n_places
            assert dups["detail"].str.match(r"within 0\.0 m of kept space S\d+ ").all()


def test_preset_table_has_one_row_per_layout():
    from sharemap._presets import PRESETS, preset_table

    lines = preset_table().splitlines()
    assert len(lines) == 2 + sum(len(v) for v in PRESETS.values())
    assert lines[2].startswith("| `ttareungyi` | portal JSON master (OA-21235) | `statn_lnt` |")


# ------------------------------------------------------------------ issue 16: odd files


def test_nul_characters_are_removed_not_allowed_to_cut_a_name(tmp_path):
    """GDAL ends a string at NUL: spaces.gpkg held '' and 'ab' for these two names."""
    from sharemap._io import write_gpkg

    f = tmp_path / "t.csv"
    f.write_bytes("lib_id,name,lon,lat\nT1,\x00공구\x00도서관,127.05,37.58\n"
                  "T\x002,ab\x00cd,127.051,37.581\n".encode())
    spaces, _ = read_layer(f, category="tools", id="lib_id", x="lon", y="lat",
                           crs="EPSG:4326")
    assert spaces[["space_id", "name"]].values.tolist() == [["T1", "공구도서관"],
                                                            ["T2", "abcd"]]
    back = gpd.read_file(write_gpkg(spaces, tmp_path / "s.gpkg", layer="spaces"))
    assert back["name"].tolist() == ["공구도서관", "abcd"]


def test_mixed_encodings_name_the_line_that_is_not_utf8(tmp_path):
    """Lines 1-5 UTF-8, line 6 CP949, the rest UTF-8: line 6 is named (was line 2).

    UTF-8 stops at line 6; CP949 stops on line 2 (UTF-8 Hangul is not CP949), so the
    encoding that read furthest is the file's and line 6 is where the other begins.
    """
    utf8 = [f"T{i},공구도서관{i},127.05,37.58" for i in range(1, 8)]
    data = ("lib_id,name,lon,lat\n" + "\n".join(utf8[:4]) + "\n").encode("utf-8")
    bad_at = len(data)
    data += "T9,한글이름,127.05,37.58\n".encode("cp949")
    data += ("\n".join(utf8[4:]) + "\n").encode("utf-8")
    f = tmp_path / "mixed.csv"
    f.write_bytes(data)
    with pytest.raises(InputDataError) as err:
        read_layer(f, category="tools", id="lib_id", x="lon", y="lat", crs="EPSG:4326")
    assert str(err.value).startswith(
        f"mixed.csv: line 6 (byte {bad_at + 3}) is not utf-8 although the lines before it are: "
        "the file mixes text encodings")  # 'T9,' are ASCII, then the first CP949 byte
    # a file in neither encoding from its first line still says to set `encoding`
    f.write_bytes(b"id,name\n1," + bytes([0x80, 0xFF, 0x80]) + b",x\n")
    with pytest.raises(InputDataError, match=r"cannot decode line 2 .* set `encoding`"):
        read_layer(f, category="tools")


def test_binary_files_with_a_text_name_say_what_they_are(tmp_path):
    """A zip, an .xlsx renamed .csv or a GeoPackage renamed .json: no 'set encoding'."""
    import zipfile

    zipped = tmp_path / "a.csv"
    with zipfile.ZipFile(zipped, "w") as zf:
        zf.writestr("data.csv", "lon,lat\n127.05,37.58\n")
    book = tmp_path / "b.xlsx"
    pd.DataFrame({"lon": [127.05], "lat": [37.58]}).to_excel(book, index=False)
    renamed = tmp_path / "b.csv"
    renamed.write_bytes(book.read_bytes())
    gpkg = tmp_path / "c.gpkg"
    gpd.GeoDataFrame(geometry=[Point(0, 0)], crs=5186).to_file(gpkg)
    as_json = tmp_path / "c.json"
    as_json.write_bytes(gpkg.read_bytes())
    for f, want in ((zipped, "a.csv: is a ZIP archive (data.csv), not a CSV file; unzip it "
                             "and give the file inside"),
                    (renamed, "b.csv: is an Excel .xlsx workbook, not a CSV file; rename it "
                              "to .xlsx"),
                    (as_json, "c.json: is an SQLite database (a GeoPackage?), not a JSON "
                              "file")):
        with pytest.raises(InputDataError) as err:
            read_layer(f, category="tools", x="lon", y="lat", crs="EPSG:4326")
        assert str(err.value).startswith(want)
        assert "encoding" not in str(err.value)


def _study(tmp_path, layers: str) -> Path:
    (tmp_path / "walk.graphml").touch()  # read_config checks that inputs exist
    return write(tmp_path / "study.toml", f'[study]\nname = "t"\ncrs = "EPSG:5186"\n'
                 f'[network]\ngraphml = "walk.graphml"\n{layers}')


def test_one_file_read_by_two_layers_counts_its_rows_once(tmp_path):
    """Three records read as tools and as toys: 3 rows each, not 6 (issue 16)."""
    write(tmp_path / "libs.csv", "id,name,lon,lat\n1,a,127.05,37.58\n2,b,0,0\n"
          "3,c,127.06,37.59\n")
    cols = 'path = "libs.csv"\nx = "lon"\ny = "lat"\ncrs = "EPSG:4326"\nid = "id"\n'
    cfg = read_config(_study(tmp_path, f'[[layers]]\ncategory = "tools"\n{cols}'
                                       f'[[layers]]\ncategory = "toys"\n{cols}'))
    spaces, rejects, rows_read = read_layers(cfg)
    assert rows_read == {"libs.csv": 3}
    for cat in ("tools", "toys"):
        assert (spaces["category"] == cat).sum() + (rejects["category"] == cat).sum() == 3


def test_one_workbook_read_by_two_layers_from_two_sheets(tmp_path):
    """The sheet names the source, so (source, source_row) still names one record."""
    book = tmp_path / "bikes.xlsx"
    with pd.ExcelWriter(book) as xw:
        pd.DataFrame({"id": ["a1", "a2"], "lon": [127.05, 0.0], "lat": [37.58, 0.0]}).to_excel(
            xw, sheet_name="2022", index=False)
        pd.DataFrame({"id": ["b1"], "lon": [127.06], "lat": [37.59]}).to_excel(
            xw, sheet_name="2025", index=False)
    cols = 'path = "bikes.xlsx"\nx = "lon"\ny = "lat"\ncrs = "EPSG:4326"\nid = "id"\n'
    cfg = read_config(_study(tmp_path, f'[[layers]]\ncategory = "bike"\n{cols}sheet = "2022"\n'
                                       f'[[layers]]\ncategory = "bike"\n{cols}sheet = "2025"\n'))
    spaces, rejects, rows_read = read_layers(cfg)
    assert rows_read == {"bikes.xlsx#2022": 2, "bikes.xlsx#2025": 1}
    assert spaces[["space_id", "source"]].values.tolist() == [["a1", "bikes.xlsx#2022"],
                                                              ["b1", "bikes.xlsx#2025"]]
    assert rejects[["source", "source_row"]].values.tolist() == [["bikes.xlsx#2022", 2]]


def test_source_names_relative_inside_the_study_folder_else_absolute(tmp_path):
    """rejects.csv's `source`: as a user reads it, never a ../../.. climb out of the folder."""
    from sharemap.layers import _relative_source

    study = tmp_path / "study"
    (study / "data").mkdir(parents=True)
    inside = study / "data" / "tools.csv"
    outside = tmp_path / "shared" / "bike.json"
    assert _relative_source(inside, study) == "data/tools.csv"
    assert _relative_source(study / "tools.csv", study) == "tools.csv"
    assert _relative_source(outside, study) == outside.resolve().as_posix()
    assert _relative_source(outside, None) == "bike.json"  # read_layer without a study


def test_duplicate_pairs_match_a_kd_tree_exactly():
    """The duplicate check's pairs within 2 m are cKDTree.query_pairs' pairs, ties included.

    Coordinates on a 0.1 m grid put many pairs exactly 2 m apart.
    """
    from scipy.spatial import cKDTree

    from sharemap.layers import _pairs_within_distance

    rng = np.random.default_rng(3)
    for _ in range(20):
        xy = np.unique(np.round(rng.uniform(0, 30, (800, 2)), 1), axis=0)
        want = {tuple(p) for p in cKDTree(xy).query_pairs(2.0, output_type="ndarray").tolist()}
        got = {tuple(p) for p in _pairs_within_distance(xy, 2.0).tolist()}
        assert got == want
        assert any(math.isclose(math.dist(xy[i], xy[j]), 2.0) for i, j in got)
    assert _pairs_within_distance(np.empty((0, 2)), 2.0).shape == (0, 2)


def test_ids_two_files_of_one_category_share_are_told_apart(tmp_path):
    """Two tool-library files kept one per year (2024/tools.csv, 2025/tools.csv, as
    data.go.kr names them alike; or two gu files numbered by 연번): both give ids tools-1,
    tools-2, ... in one category. spaces.gpkg then held two 'tools-1', and `whatif --remove
    tools-1` refused with "used in several categories; write category:tools-1", whose
    suggestion refused again ("write category:tools:tools-1"): neither space could be
    removed. A later layer's id that an earlier layer of its category already uses is now
    written `<id>@<its file>`, with a warning; ids of other categories may repeat as
    before."""
    for year, lat in (("2024", 37.58), ("2025", 37.59)):
        (tmp_path / year).mkdir()
        write(tmp_path / year / "tools.csv",
              f"공구대여소명,위도,경도\n가,{lat},127.05\n나,{lat},127.06\n")
    write(tmp_path / "bikes.csv", "id,lon,lat\ntools-1,127.07,37.60\n")
    cfg = write(tmp_path / "study.toml", """layers = [
  { category = "tools", path = "2024/tools.csv", preset = "tool_library" },
  { category = "tools", path = "2025/tools.csv", preset = "tool_library" },
  { category = "bike", path = "bikes.csv", x = "lon", y = "lat", id = "id" },
]
study = { name = "t", crs = "EPSG:5186" }
network = { graphml = "walk.graphml" }
""")
    (tmp_path / "walk.graphml").touch()
    with pytest.warns(UserWarning, match=r"2025/tools\.csv.*tools-1.*2024/tools\.csv"):
        spaces, _, _ = read_layers(read_config(cfg), study_area=AREA)
    assert spaces["space_id"].tolist() == ["tools-1", "tools-2", "tools-1@2025/tools.csv",
                                           "tools-2@2025/tools.csv", "tools-1"]
    assert not spaces.duplicated(["category", "space_id"]).any()
