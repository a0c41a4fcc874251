"""Every published figure of the demo and the real Dongdaemun-gu study, pinned by digest.

A refactor must not change any figure; a change that is meant to change figures updates
the stored digests in the same commit *and* adds a test that explains the change.
Regenerate with ``SHAREMAP_UPDATE_DIGESTS=1 python -m pytest tests/test_digests.py``.

Each table is written as canonical CSV (sorted columns, floats to 4 decimals, geometry
as WKT rounded to 1 cm, input files by file name) and hashed; the row counts and a few
totals are stored beside the hash so that a failure says where to look.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import shapely
from conftest import dongdaemun_toml

from sharemap import read_config, run_study
from sharemap.datasets import get_path

DIGESTS = Path(__file__).parent / "data" / "figure_digests.json"
UPDATE = os.environ.get("SHAREMAP_UPDATE_DIGESTS") == "1"
#: A file path inside text (``/data/seoul/x.csv``, ``../../x.csv``): its file name is kept.
_PATH = re.compile(r"[^\s(]*/([^/\s)]+)")


def _canonical(frame: pd.DataFrame) -> str:
    df = pd.DataFrame(frame).copy()
    if "geometry" in df:
        geoms = np.asarray(df["geometry"], dtype=object)
        df["geometry"] = shapely.to_wkt(geoms, rounding_precision=2)
    for col in ("source", "detail"):  # input files by name: where they sit is the machine's
        if col in df:
            df[col] = [_PATH.sub(r"\1", v) if isinstance(v, str) else v for v in df[col]]
    for col in df.columns:
        values = df[col]
        if pd.api.types.is_float_dtype(values):
            df[col] = [("" if pd.isna(v) else f"{v:.4f}") for v in values]
        elif pd.api.types.is_bool_dtype(values):
            df[col] = values.astype(int).astype(str)
        else:
            df[col] = ["" if (v is None or (isinstance(v, float) and np.isnan(v))) else str(v)
                       for v in values]
    df = df[sorted(df.columns)]
    return df.to_csv(index=False, lineterminator="\n")


def _digest(frame: pd.DataFrame | None) -> dict[str, object] | None:
    if frame is None:
        return None
    frame = pd.DataFrame(frame)
    out: dict[str, object] = {
        "rows": len(frame),
        "sha256": hashlib.sha256(_canonical(frame).encode("utf-8")).hexdigest(),
    }
    for col in ("population", "population_covered", "candidate", "adjacent_spaces"):
        if col in frame:
            out[f"sum_{col}"] = round(float(pd.to_numeric(frame[col]).fillna(0).sum()), 2)
    return out


#: Columns added after a table's digest was first stored: they are pinned in an entry of
#: their own, so the table keeps its digest, which shows that none of its earlier figures
#: moved (issue 14: capacity per space, supply per resident and adjacent capacity per block).
ADDED_COLUMNS = {"spaces": ("capacity", "capacity_note"),
                 "blocks": ("supply_per_1000_", "adjacent_capacity"),
                 "coverage_groups": ("profile",)}  # issue 14: each group's mobility profile


def _added(frame: pd.DataFrame, table: str, prefix: str | None = None) -> list[str]:
    return [c for c in frame.columns if str(c).startswith(prefix or ADDED_COLUMNS[table])]


def _without_added(frame: pd.DataFrame, table: str) -> pd.DataFrame:
    return frame.drop(columns=_added(frame, table))


def figure_digests(result, drop: tuple[str, ...] = ()) -> dict[str, object]:
    """The digest of every table a study publishes (in the analysis CRS)."""
    blocks = result.blocks.drop(columns=[c for c in ("origin", *drop) if c in result.blocks])
    tables = {
        "blocks": _without_added(blocks, "blocks"),
        "block_supply": blocks[["block_id", *_added(blocks, "blocks", "supply_per_1000_")]],
        "block_capacity": blocks[["block_id", *_added(blocks, "blocks", "adjacent_capacity")]],
        "supply": result.supply,
        "spaces": _without_added(result.spaces, "spaces"),
        "space_capacity": result.spaces[["space_id", "category", *_added(result.spaces,
                                                                         "spaces")]],
        "rejects": result.rejects,
        "villages": result.villages,
        "coverage": result.coverage,
        "gaps": result.gaps,
        "coverage_groups": (None if result.coverage_groups is None
                            else _without_added(result.coverage_groups, "coverage_groups")),
    }
    if result.coverage_groups is not None:
        tables["group_profiles"] = result.coverage_groups[
            ["group", "walk_speed_kmh", "profile"]].drop_duplicates()
    return {name: _digest(frame) for name, frame in tables.items()}


def _check(name: str, result, drop: tuple[str, ...] = ()) -> None:
    _check_tables(name, figure_digests(result, drop))


def _check_tables(name: str, got: dict[str, object]) -> None:
    stored = json.loads(DIGESTS.read_text(encoding="utf-8")) if DIGESTS.exists() else {}
    if UPDATE:
        stored[name] = got
        DIGESTS.write_text(json.dumps(stored, indent=1, sort_keys=True) + "\n",
                           encoding="utf-8")
        return
    assert name in stored, f"no stored digests for {name}: run with SHAREMAP_UPDATE_DIGESTS=1"
    for table, want in stored[name].items():
        assert got.get(table) == want, f"{name}: {table} changed: {got.get(table)} != {want}"


def test_demo_figures_unchanged():
    _check("demo", run_study(read_config(get_path("demo"))))


@pytest.mark.seoul
def test_dongdaemun_figures_unchanged(seoul_data, tmp_path):
    cfg = tmp_path / "study.toml"
    extra = ('groups = [ { column = "pop_65plus", label = "65+", walk_speed_kmh = 3.6 } ]\n')
    cfg.write_text(dongdaemun_toml(seoul_data, extra_coverage=extra), encoding="utf-8")
    _check("dongdaemun", run_study(read_config(cfg)))


# Large blocks are judged from several origins (sharemap.origins); with that switched off
# (`[blocks] multi_origin = false`) every block has one origin and every figure is the
# one published before multi-origin blocks, to the digit: the "*_one_origin" digests are
# those of the release before (blocks without the new `n_origins` column). The figures
# that moved with multi-origin blocks are explained in tests/test_origins.py (a hand-made
# block with a known answer; a block with one origin unchanged; block 507 of the real
# district, no longer a candidate).


def _one_origin(cfg):
    from dataclasses import replace

    return replace(cfg, blocks=replace(cfg.blocks, multi_origin=False))


def test_demo_with_one_origin_per_block_keeps_the_previous_figures():
    _check("demo_one_origin", run_study(_one_origin(read_config(get_path("demo")))),
           drop=("n_origins",))


@pytest.mark.seoul
def test_dongdaemun_with_one_origin_per_block_keeps_the_previous_figures(seoul_data, tmp_path):
    cfg = tmp_path / "study.toml"
    extra = ('groups = [ { column = "pop_65plus", label = "65+", walk_speed_kmh = 3.6 } ]\n')
    cfg.write_text(dongdaemun_toml(seoul_data, extra_coverage=extra), encoding="utf-8")
    _check("dongdaemun_one_origin", run_study(_one_origin(read_config(cfg))),
           drop=("n_origins",))


@pytest.mark.seoul
def test_dongdaemun_profile_figures_unchanged(seoul_data, tmp_path):
    """Issue 14: groups on their own mobility profile (wheelchair, stroller) on the real network."""
    cfg = tmp_path / "study.toml"
    extra = ('groups = [ { column = "pop_65plus", label = "65+", profile = "wheelchair" }, '
             '{ column = "pop_total", label = "strollers", profile = "stroller" } ]\n')
    cfg.write_text(dongdaemun_toml(seoul_data, extra_coverage=extra), encoding="utf-8")
    result = run_study(read_config(cfg))
    got = figure_digests(result)
    own = [c for c in result.blocks.columns
           if c.startswith("walk_min_") and c.endswith(("_65plus", "_strollers"))]
    _check_tables("dongdaemun_profiles", {
        "coverage_groups": got["coverage_groups"], "group_profiles": got["group_profiles"],
        "gaps": got["gaps"], "group_walks": _digest(result.blocks[["block_id", *own]])})
