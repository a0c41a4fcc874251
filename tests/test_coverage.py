"""Population spreading and the coverage table on a hand-built case."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from shapely.geometry import box

from sharemap import InputDataError
from sharemap.blocks import block_origins
from sharemap.coverage import allocate_population, assign_units, compute_coverage, read_boundaries

CRS = "EPSG:5186"


def _blocks():
    r"""Four blocks: two in dong W (x < 200), two in dong E.

    B1 (0,0)-(100,100) 10,000 m²; B2 (100,0)-(200,100) 30,000 m² is (100,0)-(200,300);
    B3 (200,0)-(300,100) 10,000 m²; B4 (300,0)-(400,100) 10,000 m².
    Walk minutes to bike: 3, 12, NaN, 7; to tools: 14, 4, 9, 20.
    """
    geoms = [box(0, 0, 100, 100), box(100, 0, 200, 300), box(200, 0, 300, 100),
             box(300, 0, 400, 100)]
    return gpd.GeoDataFrame({
        "block_id": [1, 2, 3, 4],
        "area_m2": [10_000.0, 30_000.0, 10_000.0, 10_000.0],
        "walk_min_bike": [3.0, 12.0, np.nan, 7.0],
        "walk_min_tools": [14.0, 4.0, 9.0, 20.0],
    }, geometry=geoms, crs=CRS)


def _units(tmp_path, names=("서", "동"), pops=(8000, 2000)):
    gdf = gpd.GeoDataFrame({"dong_nm": list(names), "code": ["11", "12"],
                            "pop": list(pops)},
                           geometry=[box(0, 0, 200, 300), box(200, 0, 400, 300)], crs=CRS)
    path = tmp_path / "dong.geojson"
    gdf.to_crs("EPSG:4326").to_file(path)
    return path


def test_population_spread_by_area_and_conserved(tmp_path):
    """Dong W (8,000) -> B1 1/4 = 2,000, B2 3/4 = 6,000; dong E (2,000) -> 1,000 each."""
    units = read_boundaries(_units(tmp_path), crs=CRS, name="dong_nm", id="code",
                            population="pop")
    blocks = _blocks()
    assigned = assign_units(block_origins(blocks), units)
    assert assigned["id"].tolist() == ["11", "11", "12", "12"]
    pop, lost = allocate_population(blocks, assigned["id"], units)
    assert pop.tolist() == pytest.approx([2000.0, 6000.0, 1000.0, 1000.0])
    assert lost == 0.0
    area = box(0, 0, 300, 300)  # dong E half outside the study area -> keeps half
    pop, _ = allocate_population(blocks, assigned["id"], units, area=area)
    assert pop.tolist() == pytest.approx([2000.0, 6000.0, 500.0, 500.0])


def test_coverage_table_by_hand(tmp_path):
    """At 10 min: bike covers B1, B4 (pop 3,000 of 10,000); tools B2, B3 (7,000);
    all: none. At 15 min: bike B1, B2, B4 (9,000); tools B1, B2, B3 (9,000); all B1, B2."""
    units = read_boundaries(_units(tmp_path), crs=CRS, name="dong_nm", id="code",
                            population="pop")
    blocks = _blocks()
    assigned = assign_units(block_origins(blocks), units)
    blocks["dong"], blocks["dong_id"] = assigned["name"].to_numpy(), assigned["id"].to_numpy()
    blocks["population"] = allocate_population(blocks, assigned["id"], units)[0].to_numpy()
    cov = compute_coverage(blocks, categories=["bike", "tools"], thresholds=[10, 15],
                           levels=[("dong", "dong_id")], city_name="Test")
    key = cov.set_index(["level", "area_id", "category", "threshold_min"])
    assert key.loc[("city", "Test", "bike", 10), "population_covered"] == pytest.approx(3000)
    assert key.loc[("city", "Test", "tools", 10), "population_covered"] == pytest.approx(7000)
    assert key.loc[("city", "Test", "all", 10), "blocks_covered"] == 0
    assert key.loc[("city", "Test", "all", 15), "population_covered"] == pytest.approx(8000)
    assert key.loc[("city", "Test", "all", 15), "share_blocks"] == pytest.approx(0.5)
    assert key.loc[("dong", "12", "bike", 15), "blocks_covered"] == 1
    assert key.loc[("dong", "12", "bike", 15), "share_population"] == pytest.approx(0.5)
    assert key.loc[("dong", "11", "all", 15), "share_population"] == pytest.approx(1.0)
    assert (cov.loc[cov["level"] == "dong", "area"].unique() == ["동", "서"]).all()
    # every dong row agrees with a direct count over blocks.gpkg-like data
    for (lvl, aid, cat, t), row in key.iterrows():
        sub = blocks if lvl == "city" else blocks[blocks["dong_id"] == aid]
        cols = ["walk_min_bike", "walk_min_tools"] if cat == "all" else [f"walk_min_{cat}"]
        covered = sub[cols].le(t).all(axis=1)
        assert row["blocks_covered"] == covered.sum()
        assert row["population_covered"] == pytest.approx(sub.loc[covered, "population"].sum())


def test_repeated_names_told_apart_by_id(tmp_path):
    path = _units(tmp_path, names=("신사동", "신사동"))
    units = read_boundaries(path, crs=CRS, name="dong_nm", id="code", population="pop")
    assert units["id"].tolist() == ["11", "12"]
    with pytest.raises(InputDataError, match="repeats"):
        read_boundaries(path, crs=CRS, name="dong_nm")


def test_missing_column_named(tmp_path):
    with pytest.raises(InputDataError, match="pop_total"):
        read_boundaries(_units(tmp_path), crs=CRS, name="dong_nm", population="pop_total")


def test_no_population_gives_nan_shares():
    blocks = _blocks()
    cov = compute_coverage(blocks, categories=["bike"], thresholds=[5])
    row = cov.iloc[0]
    assert row["blocks_covered"] == 1 and row["blocks"] == 4
    assert pd.isna(row["share_population"])
