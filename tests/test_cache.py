"""The derived-layer cache: exact round trips, hits only for identical inputs."""

from __future__ import annotations

from dataclasses import replace

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely

from sharemap import _cache, pipeline
from sharemap.config import read_config
from sharemap.datasets import get_path
from sharemap.network import WalkNetwork, load_network


@pytest.fixture
def cache_dir(tmp_path, monkeypatch):
    folder = tmp_path / "cache"
    monkeypatch.setenv("SHAREMAP_CACHE_DIR", str(folder))
    return folder


def _entries(folder, kind):
    return sorted((folder / kind).glob("*.npz")) if (folder / kind).is_dir() else []


def test_frame_round_trip_is_exact(tmp_path):
    shell = [(0, 0), (10, 0), (10, 10), (0, 10)]
    hole = [(2, 2), (4, 2), (4, 4), (2, 4)]
    rng = np.random.default_rng(3)
    polys = [shapely.Polygon(shell, [hole]),
             shapely.Polygon(np.array(shell) * 1.1 + rng.random((4, 2)) / 3),
             shapely.Polygon([(0, 0), (1e5 + 1 / 3, 0), (0, 7)])]
    frame = gpd.GeoDataFrame({"block_id": np.array([3, 1, 2], dtype=np.int64),
                              "area_m2": [96.0, np.nan, 1.5], "flag": [True, False, True]},
                             geometry=polys, crs="EPSG:5186", index=[5, 7, 9])
    path = tmp_path / "f.npz"
    assert _cache.save_frame(frame, path)
    back = _cache.load_frame(path)
    pd.testing.assert_frame_equal(pd.DataFrame(back.drop(columns="geometry")),
                                  pd.DataFrame(frame.drop(columns="geometry")))
    assert back.crs == frame.crs
    assert all(shapely.equals_exact(back.geometry.to_numpy(), frame.geometry.to_numpy(), 0.0))
    assert shapely.get_num_interior_rings(back.geometry.to_numpy()).tolist() == [1, 0, 0]


def test_frames_it_cannot_hold_are_refused(tmp_path):
    text = pd.DataFrame({"name": ["a", "b"]})
    assert not _cache.save_frame(text, tmp_path / "t.npz")
    lines = gpd.GeoDataFrame({"x": [1]}, geometry=[shapely.LineString([(0, 0), (1, 1)])])
    assert not _cache.save_frame(lines, tmp_path / "l.npz")
    assert not list(tmp_path.iterdir())


def test_unreadable_entry_is_ignored(tmp_path):
    path = tmp_path / "bad.npz"
    path.write_bytes(b"not a zip file")
    assert _cache.load_frame(path) is None
    assert _cache.load_frame(tmp_path / "absent.npz") is None


def test_prune_keeps_the_most_recent(tmp_path):
    frame = pd.DataFrame({"x": [1.0]})
    for k in range(_cache.MAX_ENTRIES + 3):
        path = tmp_path / f"{k:02d}.npz"
        assert _cache.save_frame(frame, path)
        stamp = 1_000_000_000 + k
        import os

        os.utime(path, (stamp, stamp))
    _cache._prune(tmp_path)
    kept = sorted(p.name for p in tmp_path.glob("*.npz"))
    assert kept == [f"{k:02d}.npz" for k in range(3, _cache.MAX_ENTRIES + 3)]


def test_fingerprint_sees_every_change():
    net = load_network(read_config(get_path("demo")), cache=False)
    base = _cache.network_fingerprint(net)
    assert _cache.network_fingerprint(net) == base  # memoised, and stable

    def variant(edges=None, nodes=None) -> WalkNetwork:
        return WalkNetwork(nodes=net.nodes if nodes is None else nodes,
                           edges=net.edges if edges is None else edges, crs=net.crs,
                           info=net.info)

    assert _cache.network_fingerprint(variant()) == base  # same content, other object
    renamed = net.edges.copy()
    renamed.loc[0, "highway"] = "footway" if renamed.loc[0, "highway"] != "footway" else "path"
    moved = net.edges.copy()
    moved.loc[0, "geometry"] = shapely.affinity.translate(moved.geometry.iloc[0], 0.001)
    fewer = net.edges.iloc[1:].reset_index(drop=True)
    for other in (variant(edges=renamed), variant(edges=moved), variant(edges=fewer)):
        assert _cache.network_fingerprint(other) != base


def _demo_config():
    return read_config(get_path("demo"))


def test_second_run_reads_blocks_and_snaps_from_the_cache(cache_dir, monkeypatch):
    first = pipeline.run_study(_demo_config())
    assert first.summary["cache"] == {"network": "miss", "blocks": "miss",
                                      "origin_snaps": "miss"}
    assert len(_entries(cache_dir, "blocks")) == 1
    assert len(_entries(cache_dir, "origin_snaps")) == 1

    def forbidden(*args, **kwargs):
        raise AssertionError("derived again instead of read from the cache")

    monkeypatch.setattr(pipeline, "blocks_from_network", forbidden)
    snapped = []
    real_snap = pipeline.snap_points

    def counting_snap(network, points, **kwargs):
        snapped.append(len(points))
        return real_snap(network, points, **kwargs)

    monkeypatch.setattr(pipeline, "snap_points", counting_snap)
    second = pipeline.run_study(_demo_config())
    assert snapped == [len(second.spaces) + len(second.rejects.query("reason == 'off_network'"))]
    assert second.summary["cache"] == {"network": "hit", "blocks": "hit", "origin_snaps": "hit"}
    pd.testing.assert_frame_equal(pd.DataFrame(second.blocks.drop(columns="geometry")),
                                  pd.DataFrame(first.blocks.drop(columns="geometry")))
    assert all(shapely.equals_exact(second.blocks.geometry.to_numpy(),
                                    first.blocks.geometry.to_numpy(), 0.0))
    pd.testing.assert_frame_equal(second.adjacency, first.adjacency)
    pd.testing.assert_frame_equal(second.coverage, first.coverage)


def test_changed_parameters_derive_again(cache_dir):
    cfg = _demo_config()
    first = pipeline.run_study(cfg)
    areas = np.sort(first.blocks["area_m2"].to_numpy())
    limit = float(areas[len(areas) // 2 - 1] + areas[len(areas) // 2]) / 2  # between two blocks
    bigger = replace(cfg, blocks=replace(cfg.blocks, min_area_m2=limit))
    second = pipeline.run_study(bigger)
    assert len(_entries(cache_dir, "blocks")) == 2
    assert len(second.blocks) == (first.blocks["area_m2"] >= limit).sum()
    farther = replace(cfg, network=replace(cfg.network, max_snap_m=cfg.network.max_snap_m + 1))
    pipeline.run_study(farther)
    assert len(_entries(cache_dir, "blocks")) == 2  # same blocks
    assert len(_entries(cache_dir, "origin_snaps")) == 3  # snapped at another limit


def test_no_cache_writes_nothing(cache_dir):
    result = pipeline.run_study(_demo_config(), cache=False)
    assert set(result.summary["cache"].values()) == {"off"}
    assert not cache_dir.exists() or not any(cache_dir.rglob("*.npz"))


def test_an_unusable_cache_folder_does_not_stop_a_run(tmp_path, monkeypatch, caplog):
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the cache folder should be", encoding="utf-8")
    monkeypatch.setenv("SHAREMAP_CACHE_DIR", str(blocker))
    with caplog.at_level("WARNING", logger="sharemap"):
        result = pipeline.run_study(_demo_config())
    assert len(result.blocks) > 0
    assert "Could not write the blocks cache file" in caplog.text
    assert blocker.is_file()


def test_cli_no_cache_option(cache_dir, tmp_path):
    from sharemap.cli import main

    assert main(["demo", "--out", str(tmp_path / "out"), "-q", "--no-cache"]) == 0
    assert (tmp_path / "out" / "blocks.gpkg").is_file()
    assert not cache_dir.exists() or not any(cache_dir.rglob("*.npz"))
    assert main(["demo", "--out", str(tmp_path / "out2"), "-q"]) == 0
    assert _entries(cache_dir, "blocks") and _entries(cache_dir, "networks")


def test_block_snaps_are_the_studys_own_and_equal_a_fresh_snapping(cache_dir):
    from sharemap.access import snap_points
    from sharemap.blocks import block_origins

    result = pipeline.run_study(_demo_config())
    fresh = snap_points(result.network, block_origins(result.blocks),
                        max_snap_m=result.config.network.max_snap_m)
    pd.testing.assert_frame_equal(result.block_snaps(), fresh)
    assert result.block_snaps() is not fresh
    # a result whose blocks no longer match its snaps snaps them again
    fewer = replace(result, blocks=result.blocks.iloc[:5])
    pd.testing.assert_frame_equal(fewer.block_snaps(), fresh.iloc[:5])
