"""A whole study on the real Dongdaemun-gu data (skipped where ../shared/data is absent)."""

from __future__ import annotations

import json

import pandas as pd
import pytest
from conftest import dongdaemun_toml

from sharemap import read_config, run_study


@pytest.fixture(scope="module")
def dongdaemun(seoul_data, tmp_path_factory):
    d = seoul_data
    cfg = tmp_path_factory.mktemp("ddm") / "study.toml"
    cfg.write_text(dongdaemun_toml(d, levels=("dong",)), encoding="utf-8")
    return run_study(read_config(cfg)), d


def test_every_row_accounted(dongdaemun):
    result, d = dongdaemun
    sizes = {
        "ttareungyi_master_seoul_open_data.json":
            len(json.loads((d / "raw/ttareungyi_master_seoul_open_data.json")
                           .read_text(encoding="utf-8"))["DATA"]),
        "nanumcar_spots_2017.csv": len(pd.read_csv(d / "points/nanumcar_spots_2017.csv")),
        "public_service_reservation_culture_2025-04.csv":
            len(pd.read_csv(d / "points/public_service_reservation_culture_2025-04.csv")),
    }
    for entry in result.summary["inputs"]:
        name = entry["source"].rsplit("/", 1)[-1]
        n_sp = int((result.spaces["source"] == entry["source"]).sum())
        n_rj = int((result.rejects["source"] == entry["source"]).sum())
        assert entry["rows_read"] == sizes[name] == n_sp + n_rj, name
        assert entry["accounted"]


def test_zero_stations_rejected_by_record_number(dongdaemun):
    result, d = dongdaemun
    raw = json.loads((d / "raw/ttareungyi_master_seoul_open_data.json")
                     .read_text(encoding="utf-8"))["DATA"]
    zero = [i + 1 for i, r in enumerate(raw)
            if float(r["statn_lat"]) == 0 and float(r["statn_lnt"]) == 0]
    rj = result.rejects
    got = sorted(rj.loc[rj["reason"] == "zero_coordinates", "source_row"])
    assert len(zero) == 77
    assert got == zero


def test_colocated_venues_merged(dongdaemun):
    result, _ = dongdaemun
    venues = result.spaces[result.spaces["category"] == "facility"]
    dups = result.rejects[(result.rejects["reason"] == "duplicate")
                          & result.rejects["source"].str.contains("reservation")]
    assert len(venues) + len(dups) == 11  # the README: 11 venue rows in Dongdaemun-gu
    assert len(venues) == 4


def test_population_held_and_coverage_consistent(dongdaemun, seoul_data):
    import geopandas as gpd

    result, _ = dongdaemun
    dongs = gpd.read_file(seoul_data / "boundaries/seoul_hangjeongdong_2021.geojson")
    total = dongs.loc[dongs["sggnm"] == "동대문구", "pop_total"].sum()
    assert result.blocks["population"].sum() == pytest.approx(total, rel=0.01)
    cov = result.coverage
    city = cov[(cov["level"] == "city") & (cov["category"] == "all")]
    cols = [c for c in result.blocks if c.startswith("walk_min_")]
    for row in city.itertuples():
        covered = result.blocks[cols].le(row.threshold_min).all(axis=1)
        assert row.blocks_covered == covered.sum()
