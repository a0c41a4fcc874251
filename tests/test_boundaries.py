"""Boundary units are used or reported, never lost (issue 16 #3, #9 and the overlap case).

The demo's dong file holds five units whose residents add up to 83,636 (21,299 +
27,567 + 16,952 + 6,395 + 11,423, read off the file). Before: a unit with
``"geometry": null`` vanished (population 56,069, ``population_unallocated`` 0, no
warning); a bow-tie polygon raised GEOS's TopologyException; a unit lying inside an
earlier one put its residents into "unallocated" without a word; population errors
printed numpy reprs (``np.int32(-5000)``).
"""

from __future__ import annotations

import json
import shutil
import warnings

import geopandas as gpd
import numpy as np
import pytest
import shapely
from shapely.geometry import Point, box

from sharemap import InputDataError, read_config, run_study
from sharemap.cli import main
from sharemap.coverage import allocate_population, assign_units, read_area, read_boundary_units
from sharemap.datasets import get_path

CRS = "EPSG:5186"
DEMO_RESIDENTS = 21_299 + 27_567 + 16_952 + 6_395 + 11_423  # the dong file's pop_total


def _demo_with(tmp_path, dong: str, change):
    """A copy of the demo whose dong `dong` has its GeoJSON geometry replaced by `change`."""
    folder = shutil.copytree(get_path("demo").parent, tmp_path / "demo")
    path = folder / "dong.geojson"
    doc = json.loads(path.read_text(encoding="utf-8"))
    for feature in doc["features"]:
        if feature["properties"]["dong_nm"] == dong:
            feature["geometry"] = change(feature["geometry"])
    path.write_text(json.dumps(doc, ensure_ascii=False), encoding="utf-8")
    return folder / "study.toml"


def _bow_tie(geometry):
    """A box inside the unit drawn as a bow-tie: corners in the order SW, NE, SE, NW.

    The box is the middle half of the unit's bounding box, so it stays in the study area
    (the unit keeps all its residents) and holds some block origins.
    """
    x0, y0, x1, y1 = shapely.geometry.shape(geometry).bounds
    dx, dy = (x1 - x0) / 4, (y1 - y0) / 4
    x0, y0, x1, y1 = x0 + dx, y0 + dy, x1 - dx, y1 - dy
    return {"type": "Polygon", "coordinates": [[[x0, y0], [x1, y1], [x1, y0], [x0, y1],
                                                [x0, y0]]]}


def test_demo_unit_without_geometry_is_reported_and_its_residents_counted(tmp_path, capsys):
    study = _demo_with(tmp_path, "누리2동", lambda g: None)
    with pytest.warns(UserWarning, match=r"1 dong unit\(s\) not used: 누리2동 \(missing_geometry"):
        result = run_study(read_config(study), cache=False)
    counts = result.summary["counts"]
    assert counts["population"] == pytest.approx(DEMO_RESIDENTS - 27_567)
    assert counts["population_unallocated"] == pytest.approx(27_567)  # was 0
    assert counts["population"] + counts["population_unallocated"] == pytest.approx(
        DEMO_RESIDENTS)
    assert result.summary["boundary_rejects"] == [{
        "level": "dong", "source": "dong.geojson", "feature": 2, "unit": "누리2동",
        "unit_id": "1199952000", "reason": "missing_geometry", "population": 27_567.0,
        "detail": "the feature has no geometry"}]
    assert "누리2동" not in set(result.boundaries["dong"]["name"])
    check = next(c for c in result.checks if c.name == "boundary_units_not_used")
    assert (check.status, check.figure) == ("warning", 1) and "누리2동 (dong" in check.message
    # the command says so, on one line each
    with warnings.catch_warnings():
        warnings.simplefilter("always")  # shown as the command shows them, not raised
        assert main(["run", str(study), "--out", str(tmp_path / "out"), "--no-cache"]) == 0
    out, err = capsys.readouterr()
    assert ("    ! boundary_units_not_used: 1 boundary unit(s) not used, 27,567 residents not "
            "placed on any block: 누리2동 (dong, missing_geometry) (summary.json "
            "boundary_rejects)") in out.splitlines()
    warning = [line for line in err.splitlines() if "warning" in line]
    assert warning == ["sharemap: warning: dong.geojson: 1 dong unit(s) not used: 누리2동 "
                       "(missing_geometry: the feature has no geometry); 27,567 residents not "
                       "placed on any block (listed in summary.json boundary_rejects)"]
    summary = json.loads((tmp_path / "out" / "summary.json").read_text(encoding="utf-8"))
    assert summary["boundary_rejects"][0]["unit"] == "누리2동"


def test_demo_unit_drawn_as_a_bow_tie_is_repaired_with_a_warning(tmp_path):
    study = _demo_with(tmp_path, "누리2동", _bow_tie)
    with pytest.warns(UserWarning, match=r"1 unit\(s\) had an invalid polygon .* '누리2동'"):
        result = run_study(read_config(study), cache=False)  # was: GEOS TopologyException
    counts = result.summary["counts"]
    assert result.summary["boundary_rejects"] == []
    check = next(c for c in result.checks if c.name == "boundary_units_not_used")
    assert (check.status, check.figure) == ("ok", 0)
    assert counts["population"] + counts["population_unallocated"] == pytest.approx(
        DEMO_RESIDENTS)
    unit = result.boundaries["dong"].set_index("name").geometry["누리2동"]
    assert unit.is_valid and unit.geom_type == "MultiPolygon" and len(unit.geoms) == 2


def _write(tmp_path, geoms, pops, names=None, name="units.gpkg"):
    names = names or [f"u{i}" for i in range(len(geoms))]
    gdf = gpd.GeoDataFrame({"nm": names, "code": [str(10 + i) for i in range(len(geoms))],
                            "pop": np.array(pops, dtype=np.int32)},
                           geometry=gpd.GeoSeries(geoms, crs=CRS), crs=CRS)
    path = tmp_path / name
    gdf.to_file(path)
    return path


def test_bow_tie_repair_keeps_both_triangles(tmp_path):
    bow = shapely.Polygon([(0, 0), (100, 100), (100, 0), (0, 100)])
    assert not bow.is_valid
    path = _write(tmp_path, [bow, box(200, 0, 300, 100)], [1000, 500])
    with pytest.warns(UserWarning, match="repaired with make_valid: 'u0'"):
        units, rejects = read_boundary_units(path, crs=CRS, name="nm", id="code",
                                             population="pop")
    assert rejects.empty
    assert units.geometry.iloc[0].area == pytest.approx(5000.0)  # two 50x100/2 triangles
    assert units.geometry.iloc[0].covers(Point(10, 50)) and units.geometry.iloc[0].covers(
        Point(90, 50))


def test_points_lines_and_empty_features_are_listed(tmp_path):
    geoms = [box(0, 0, 100, 100), Point(5, 5), shapely.LineString([(0, 0), (1, 1)]),
             shapely.Polygon(), None]
    path = _write(tmp_path, geoms, [1, 2, 3, 4, 5])
    units, rejects = read_boundary_units(path, crs=CRS, name="nm", id="code", population="pop")
    assert units["name"].tolist() == ["u0"]
    assert rejects[["feature", "unit", "reason"]].values.tolist() == [
        [2, "u1", "not_a_polygon"], [3, "u2", "not_a_polygon"], [4, "u3", "missing_geometry"],
        [5, "u4", "missing_geometry"]]
    assert rejects["population"].tolist() == [2.0, 3.0, 4.0, 5.0]
    assert rejects["detail"].iloc[0] == "the feature is a Point, not a polygon"


def test_unit_inside_an_earlier_one_is_reported(tmp_path):
    """u1 is u0 again (a duplicated feature); u2 is half inside u0: only u1 is listed.

    Every block origin in u0 goes to u0 (first in the file), so u1's 700 residents
    are unallocated; u2 keeps the origins in its own half.
    """
    geoms = [box(0, 0, 100, 100), box(0, 0, 100, 100), box(50, 0, 150, 100)]
    path = _write(tmp_path, geoms, [1000, 700, 300])
    units, rejects = read_boundary_units(path, crs=CRS, name="nm", id="code", population="pop")
    assert units["name"].tolist() == ["u0", "u1", "u2"]  # kept: it is a unit, with no block
    assert rejects[["unit", "reason"]].values.tolist() == [["u1", "covered_by_another_unit"]]
    assert "inside unit u0 (feature 1)" in rejects["detail"].iloc[0]
    blocks = gpd.GeoDataFrame({"block_id": [1, 2], "area_m2": [2500.0, 2500.0]},
                              geometry=[box(10, 10, 40, 40), box(110, 10, 140, 40)], crs=CRS)
    ids = assign_units(blocks.representative_point(), units)["id"]
    assert ids.tolist() == ["10", "12"]
    pop, lost = allocate_population(blocks, ids, units)
    assert pop.tolist() == [1000.0, 300.0] and lost == 700.0


def test_population_errors_show_plain_numbers(tmp_path):
    path = _write(tmp_path, [box(0, 0, 10, 10), box(10, 0, 20, 10)], [100, -5000])
    with pytest.raises(InputDataError) as err:
        read_boundary_units(path, crs=CRS, name="nm", population="pop")
    assert "feature 2: column `pop` value -5000 is not a count" in str(err.value)
    assert "np." not in str(err.value)


def test_study_area_repaired_and_features_without_polygon_skipped(tmp_path):
    bow = shapely.Polygon([(0, 0), (100, 100), (100, 0), (0, 100)])
    path = _write(tmp_path, [bow, None, box(200, 0, 300, 100)], [1, 2, 3])
    area = read_area(path, crs=CRS)
    assert area.is_valid and area.area == pytest.approx(5000.0 + 10_000.0)
    area = read_area(path, crs=CRS, filter={"nm": "u2"})
    assert area.equals(box(200, 0, 300, 100))
    with pytest.raises(InputDataError, match="no feature of the study area has a polygon"):
        read_area(path, crs=CRS, filter={"nm": "u1"})


def test_a_filter_matching_nothing_names_the_values_it_could_take(seoul_data):
    """`area_filter = { sggnm = "Dongdaemun-gu" }` (the English name osmnx's place uses)
    on Seoul's gu file stopped with "no feature matches the filter
    FrozenDict({'sggnm': 'Dongdaemun-gu'})": a Python repr and no way forward. The line
    now names the column, the value given and the values the file has."""
    path = seoul_data / "boundaries" / "seoul_gu_2021.geojson"
    with pytest.raises(InputDataError) as err:
        read_area(path, crs="EPSG:5186", filter={"sggnm": "Dongdaemun-gu"})
    msg = str(err.value)
    assert "FrozenDict" not in msg and "\n" not in msg
    for part in ("seoul_gu_2021.geojson", "sggnm = 'Dongdaemun-gu'", "25 values",
                 "'강남구'", "compared as text"):
        assert part in msg, (part, msg)
    with pytest.raises(InputDataError, match=r"no feature has sggnm = '동대문구' and sgg = '1'"):
        read_area(path, crs="EPSG:5186", filter={"sggnm": "동대문구", "sgg": 1})
