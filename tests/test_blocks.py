"""Blocks from street lines and from user polygons, on hand-drawn layouts."""

from __future__ import annotations

import geopandas as gpd
import pytest
from conftest import CRS, X0, Y0, grid_edges, grid_nodes, osm_graph
from shapely.geometry import box

from sharemap import InputDataError
from sharemap.blocks import block_origins, blocks_from_network, read_blocks
from sharemap.network import network_from_graph


def test_grid_gives_four_square_blocks(grid3):
    """The 3x3 grid of 100 m streets encloses exactly four 100 m x 100 m blocks."""
    blocks = blocks_from_network(grid3)
    assert len(blocks) == 4
    assert blocks["area_m2"].tolist() == pytest.approx([10_000.0] * 4)
    assert blocks["block_id"].tolist() == [1, 2, 3, 4]
    # ids read like a page: north-west block first
    first = blocks.geometry.iloc[0].bounds
    assert first == pytest.approx((X0, Y0 + 100, X0 + 100, Y0 + 200))
    assert blocks.crs == CRS


def test_footpath_and_service_way_do_not_split_blocks():
    """A footway across block (00,01,11,10) and a service way into it leave 4 blocks."""
    nodes = {**grid_nodes(), 50: (X0 + 50, Y0), 51: (X0 + 50, Y0 + 100), 60: (X0, Y0 + 50),
             61: (X0 + 60, Y0 + 50)}
    edges = [e for e in grid_edges() if e not in [(0, 1), (10, 11), (0, 10)]]
    g = osm_graph(nodes, [*edges, (0, 50), (50, 1), (10, 51), (51, 11), (0, 60), (60, 10)])
    g.add_edge(50, 51, highway="footway")
    g.add_edge(51, 50, highway="footway")
    g.add_edge(60, 61, highway="service")
    g.add_edge(61, 60, highway="service")
    blocks = blocks_from_network(network_from_graph(g, crs=CRS))
    assert len(blocks) == 4
    assert blocks["area_m2"].tolist() == pytest.approx([10_000.0] * 4)


def test_min_area_and_clip_to_area(grid3):
    area = box(X0 - 50, Y0 - 50, X0 + 150, Y0 + 250)  # cuts the eastern blocks in half
    blocks = blocks_from_network(grid3, area=area, min_area_m2=6000)
    assert len(blocks) == 2
    blocks = blocks_from_network(grid3, area=area, min_area_m2=1000)
    assert sorted(blocks["area_m2"]) == pytest.approx([5000.0, 5000.0, 10_000.0, 10_000.0])


def test_origins_inside_blocks(grid3):
    blocks = blocks_from_network(grid3)
    origins = block_origins(blocks)
    assert all(b.contains(o) for b, o in zip(blocks.geometry, origins, strict=True))


def test_user_blocks(tmp_path):
    gdf = gpd.GeoDataFrame({"block_id": ["A", "B"]},
                           geometry=[box(0, 0, 100, 100), box(100, 0, 130, 10)], crs=CRS)
    path = tmp_path / "blocks.gpkg"
    gdf.to_crs("EPSG:4326").to_file(path)
    blocks = read_blocks(path, crs=CRS, min_area_m2=1000)
    assert blocks["block_id"].tolist() == ["A"]
    assert blocks["area_m2"].iloc[0] == pytest.approx(10_000, rel=1e-4)
    with pytest.raises(InputDataError, match="not found"):
        read_blocks(tmp_path / "missing.gpkg", crs=CRS)


def test_no_streets_is_an_error():
    g = osm_graph(grid_nodes(), grid_edges(), highway="footway")
    with pytest.raises(InputDataError, match="block-bounding"):
        blocks_from_network(network_from_graph(g, crs=CRS))
