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
    cfg = read_config(get_path("demo"))
    net = load_network(cfg.network, cfg.crs, cache=False)
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
                                      "origin_snaps": "miss", "reach": "miss",
                                      "searches": "miss"}
    assert len(_entries(cache_dir, "blocks")) == 1
    assert len(_entries(cache_dir, "origin_snaps")) == 1

    def forbidden(*args, **kwargs):
        raise AssertionError("derived again instead of read from the cache")

    monkeypatch.setattr(pipeline, "blocks_from_network", forbidden)
    monkeypatch.setattr(pipeline, "block_origin_points", forbidden)  # large blocks' grids too
    snapped = []
    real_snap = pipeline.snap_points

    def counting_snap(network, points, **kwargs):
        snapped.append(len(points))
        return real_snap(network, points, **kwargs)

    monkeypatch.setattr(pipeline, "snap_points", counting_snap)
    second = pipeline.run_study(_demo_config())
    assert snapped == [len(second.spaces) + len(second.rejects.query("reason == 'off_network'"))]
    assert second.summary["cache"] == {"network": "hit", "blocks": "hit", "origin_snaps": "hit",
                                       "reach": "hit", "searches": "hit"}
    pd.testing.assert_frame_equal(pd.DataFrame(second.blocks.drop(columns="geometry")),
                                  pd.DataFrame(first.blocks.drop(columns="geometry")))
    assert all(shapely.equals_exact(second.blocks.geometry.to_numpy(),
                                    first.blocks.geometry.to_numpy(), 0.0))
    pd.testing.assert_frame_equal(second.adjacency, first.adjacency)
    pd.testing.assert_frame_equal(second.coverage, first.coverage)
    assert (first.blocks["n_origins"] > 1).any()
    pd.testing.assert_frame_equal(pd.DataFrame(second.origins.drop(columns="geometry")),
                                  pd.DataFrame(first.origins.drop(columns="geometry")))
    assert all(shapely.equals_exact(second.origins.geometry.to_numpy(),
                                    first.origins.geometry.to_numpy(), 0.0))


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
    assert len(result.origins) > len(result.blocks)  # some blocks have several origins
    fresh = snap_points(result.network, result.origins,
                        max_snap_m=result.config.network.max_snap_m)
    pd.testing.assert_frame_equal(result.block_snaps(), fresh)
    assert result.block_snaps() is not fresh
    # a result whose blocks no longer match its origins derives and snaps them again
    small = result.blocks["n_origins"].to_numpy() == 1
    first = int(np.argmin(small))  # the first block with several origins
    fewer = replace(result, blocks=result.blocks.iloc[:first + 1])
    n = int(result.blocks["n_origins"].iloc[:first + 1].sum())
    pd.testing.assert_frame_equal(fewer.block_snaps(), fresh.iloc[:n])
    single = replace(result, blocks=result.blocks.iloc[:first])
    pd.testing.assert_frame_equal(single.block_snaps(), snap_points(
        result.network, block_origins(result.blocks.iloc[:first]),
        max_snap_m=result.config.network.max_snap_m))


# ------------------------------------------------------ issue 16 #2, #8; issue 13 one cache


def test_network_cache_keys_on_content_not_on_size_and_mtime(seoul_data, tmp_path, cache_dir):
    """Issue 16 #2: the real GraphML edited in place (same size, mtime restored) misses."""
    import os
    import shutil

    from sharemap.config import NetworkConfig

    path = tmp_path / "walk.graphml"
    shutil.copyfile(seoul_data / "network" / "dongdaemun_walk.graphml", path)
    cfg = NetworkConfig(source="graphml", value=path)
    first = load_network(cfg, crs="EPSG:5186")
    assert first.info["cache"] == "miss"
    stat = path.stat()
    data = path.read_bytes()
    assert data.count(b"127.05") > 100
    path.write_bytes(data.replace(b"127.05", b"127.95"))
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    assert (path.stat().st_size, path.stat().st_mtime_ns) == (stat.st_size, stat.st_mtime_ns)

    second = load_network(cfg, crs="EPSG:5186")
    assert second.info["cache"] == "miss"  # not the old network under the old key
    fresh = load_network(cfg, crs="EPSG:5186", cache=False)
    for net in (second, load_network(cfg, crs="EPSG:5186")):  # the next one is a hit
        np.testing.assert_array_equal(
            shapely.get_coordinates(net.nodes.geometry.to_numpy()),
            shapely.get_coordinates(fresh.nodes.geometry.to_numpy()))
    assert not np.allclose(shapely.get_coordinates(first.nodes.geometry.to_numpy())[:, 0].max(),
                           shapely.get_coordinates(fresh.nodes.geometry.to_numpy())[:, 0].max())
    assert len(_entries(cache_dir, "networks")) == 1  # the edited file replaced its entry


def test_file_changed_while_read_is_not_cached(tmp_path, cache_dir, monkeypatch):
    from sharemap import network as network_module

    cfg = _demo_config()
    path = tmp_path / "walk.osm"
    path.write_bytes(cfg.network.value.read_bytes())
    real = network_module.network_from_osm_xml

    def edit_while_reading(p, **kwargs):
        net = real(p, **kwargs)
        path.write_bytes(path.read_bytes() + b"\n")
        return net

    monkeypatch.setattr(network_module, "network_from_osm_xml", edit_while_reading)
    net_cfg = replace(cfg.network, source="osm_xml", value=path)
    assert load_network(net_cfg, crs=cfg.crs).info["cache"] == "off"
    assert not _entries(cache_dir, "networks")


def _damage(path, how):
    data = path.read_bytes()
    if how == "empty":
        path.write_bytes(b"")
    elif how == "truncated":
        path.write_bytes(data[: len(data) // 2])
    elif how == "flipped":
        mid = len(data) // 2
        path.write_bytes(data[:mid] + bytes([data[mid] ^ 0xFF]) + data[mid + 1:])
    else:
        path.write_bytes(b"PK\x03\x04 not really a zip")


@pytest.mark.parametrize("how", ["empty", "truncated", "flipped", "garbage"])
def test_damaged_entries_in_every_cache_folder_warn_and_are_rebuilt(cache_dir, caplog, how):
    """Issue 16 #8: a 0-byte (or otherwise damaged) .npz never stops a run."""
    first = pipeline.run_study(_demo_config())
    kinds = ("networks", "blocks", "origin_snaps", "reach")
    for kind in kinds:
        (entry,) = _entries(cache_dir, kind)
        _damage(entry, how)
    with caplog.at_level("WARNING", logger="sharemap"):
        second = pipeline.run_study(_demo_config())
    assert second.summary["cache"] == {"network": "miss", "blocks": "miss",
                                      "origin_snaps": "miss", "reach": "miss",
                                      "searches": "hit"}  # undamaged: the same searches
    assert caplog.text.count("Ignoring an unreadable") == 4
    pd.testing.assert_frame_equal(second.coverage, first.coverage)
    third = pipeline.run_study(_demo_config())  # the rebuilt entries are whole again
    assert set(third.summary["cache"].values()) == {"hit"}


def _imports(module_file):
    """``{(module, name)}`` of a module's relative imports, TYPE_CHECKING ones too."""
    import ast

    tree = ast.parse(module_file.read_text(encoding="utf-8"))
    return {(node.module or "", alias.name) for node in ast.walk(tree)
            if isinstance(node, ast.ImportFrom) and node.level == 1 for alias in node.names}


def test_one_cache_module_with_no_cycle_and_no_download_module():
    """Issue 13: _cache owns the cache folder; it imports neither network nor _osm."""
    from pathlib import Path

    import sharemap

    pkg = Path(sharemap.__file__).parent
    cache_imports = {mod for mod, _ in _imports(pkg / "_cache.py")}
    assert not cache_imports & {"network", "_osm", "pipeline", "blocks", "access"}
    for module in ("network.py", "pipeline.py", "_cache.py"):
        assert ("_osm", "cache_dir") not in _imports(pkg / module)
    assert ("_cache", "package_version") not in _imports(pkg / "network.py")
    network_src = (pkg / "network.py").read_text(encoding="utf-8")
    assert "np.savez" not in network_src and "np.load" not in network_src  # one implementation
    defined = [f.name for f in pkg.glob("*.py")
               if "def package_version(" in f.read_text(encoding="utf-8")]
    assert defined == ["_compat.py"]


# ------------------------------------------------------------ walk searches (issue 13)


def _engine_forbidden(monkeypatch):
    """Make every compiled search fail: a cache hit must not run one."""
    from sharemap import _engine

    def forbidden(*args, **kwargs):
        raise AssertionError("searched again instead of read from the cache")

    for name in ("multi_source", "pairs_within", "counts_within"):
        monkeypatch.setattr(_engine, name, forbidden)


def _grid_points(grid3, cache):
    from conftest import points

    from sharemap.access import prepare_points

    origins = points([(10.0, 5.0), (150.0, 95.0), (205.0, 190.0), (1e4, 1e4)])  # last: off
    origins = origins.set_geometry(origins.translate(*grid3.nodes.geometry.iloc[0].coords[0]))
    spaces = points([(100.0, 10.0), (0.0, 180.0), (190.0, 200.0)],
                    category=["bike", "tools", "bike"])
    spaces = spaces.set_geometry(spaces.translate(*grid3.nodes.geometry.iloc[0].coords[0]))
    return prepare_points(grid3, origins, spaces, cache=cache), origins, spaces


def _searches(pts):
    from sharemap.access import counts_within, nearest_distance, pairs_within

    o, t = pts.origin_idx, pts.target_idx
    return (nearest_distance(pts.joined, o, t[[0, 2]]),
            pairs_within(pts.joined, o, t, max_m=190.0),
            counts_within(pts.joined, o, t, np.array([0, 1, 0]), limits_m=[100.0, 300.0],
                          n_labels=2))


def _assert_same(a, b):
    np.testing.assert_array_equal(a[0], b[0])
    pd.testing.assert_frame_equal(a[1], b[1])
    np.testing.assert_array_equal(a[2], b[2])


def test_searches_hit_equals_miss_and_a_hit_runs_no_search(grid3, cache_dir, monkeypatch):
    plain, _, _ = _grid_points(grid3, cache=False)
    expected = _searches(plain)
    # hand-checked: origin 0 is 5 m off the bottom street, 10 m from node 00; bike 0 lies
    # on the street 01-11, 10 m up from node 01: 5 + 90 + 10 m
    assert expected[0][0] == pytest.approx(5.0 + 90.0 + 10.0)
    assert np.isnan(expected[0][3])  # off the network
    assert not _entries(cache_dir, "searches")  # cache=False writes nothing

    cached, _, _ = _grid_points(grid3, cache=True)
    _assert_same(_searches(cached), expected)  # miss: searched and kept
    assert len(_entries(cache_dir, "searches")) == 3
    _engine_forbidden(monkeypatch)
    again, _, _ = _grid_points(grid3, cache=True)  # another process would build it anew
    _assert_same(_searches(again), expected)  # hit: read, no search
    with pytest.raises(AssertionError, match="searched again"):
        _searches(plain)  # cache=False always searches


def test_a_changed_graph_or_point_misses_the_search_cache(grid3, cache_dir):
    from dataclasses import replace as dc_replace

    from sharemap.access import nearest_distance

    pts, _, _ = _grid_points(grid3, cache=True)
    first = nearest_distance(pts.joined, pts.origin_idx, pts.target_idx)
    longer = pts.joined.csr.copy()
    longer.data = longer.data * 2.0  # every street twice as long: a new graph
    stretched = dc_replace(pts.joined, csr=longer)
    got = nearest_distance(stretched, pts.origin_idx, pts.target_idx)
    want = nearest_distance(dc_replace(stretched, cache=False), pts.origin_idx, pts.target_idx)
    np.testing.assert_array_equal(got, want)
    assert not np.array_equal(np.nan_to_num(got), np.nan_to_num(first))
    moved = dc_replace(pts.joined, offset_m=pts.joined.offset_m + 1.0)  # points 1 m farther
    np.testing.assert_allclose(nearest_distance(moved, pts.origin_idx, pts.target_idx),
                               first + 2.0)
    assert len(_entries(cache_dir, "searches")) == 3


def test_changed_search_code_misses(grid3, cache_dir, monkeypatch, tmp_path):
    from sharemap import access

    pts, _, _ = _grid_points(grid3, cache=True)
    access.nearest_distance(pts.joined, pts.origin_idx, pts.target_idx)
    engine = tmp_path / "_engine.py"
    engine.write_text("# another algorithm\n", encoding="utf-8")
    monkeypatch.setattr(access, "_SEARCH_CODE", (*access._SEARCH_CODE[:1], engine))
    access.nearest_distance(pts.joined, pts.origin_idx, pts.target_idx)
    assert len(_entries(cache_dir, "searches")) == 2


def test_second_study_runs_no_search_and_gives_the_same_figures(cache_dir, monkeypatch):
    """A warm study (what `sharemap explain` runs) reads its walks; --no-cache searches."""
    first = pipeline.run_study(_demo_config())
    assert _entries(cache_dir, "searches")
    assert first.summary["cache"]["searches"] == "miss"
    _engine_forbidden(monkeypatch)
    second = pipeline.run_study(_demo_config())
    assert second.summary["cache"]["searches"] == "hit"
    pd.testing.assert_frame_equal(pd.DataFrame(second.blocks.drop(columns="geometry")),
                                  pd.DataFrame(first.blocks.drop(columns="geometry")))
    pd.testing.assert_frame_equal(second.adjacency, first.adjacency)
    pd.testing.assert_frame_equal(second.coverage, first.coverage)
    pd.testing.assert_frame_equal(second.gaps, first.gaps)
    pd.testing.assert_frame_equal(second.coverage_groups, first.coverage_groups)
    pd.testing.assert_frame_equal(pd.DataFrame(second.supply), pd.DataFrame(first.supply))
    with pytest.raises(AssertionError, match="searched again"):
        pipeline.run_study(_demo_config(), cache=False)


def test_searches_folder_keeps_the_newest_entries_within_its_bytes(tmp_path, monkeypatch):
    """256 entries at most, and no more bytes than BYTES_KEPT (the newest one always)."""
    import os

    folder = tmp_path / "searches"
    folder.mkdir()
    monkeypatch.setitem(_cache.BYTES_KEPT, "searches", 2_500)
    for k in range(5):
        path = folder / f"{k}.npz"
        path.write_bytes(b"x" * 1_000)
        os.utime(path, (1_000_000_000 + k, 1_000_000_000 + k))
    _cache._prune(folder)
    assert sorted(p.name for p in folder.glob("*.npz")) == ["3.npz", "4.npz"]
    monkeypatch.setitem(_cache.BYTES_KEPT, "searches", 10)  # one entry bigger than the room
    _cache._prune(folder)
    assert sorted(p.name for p in folder.glob("*.npz")) == ["4.npz"]


def test_searches_status_says_a_mix():
    from collections import Counter

    assert pipeline._searches_status(Counter(hit=9, miss=2), on=True) == "9 hit, 2 miss"
    assert pipeline._searches_status(Counter(hit=3), on=True) == "hit"
    assert pipeline._searches_status(Counter(), on=False) == "off"
