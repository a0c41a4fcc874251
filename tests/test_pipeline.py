"""A whole study on the real Dongdaemun-gu data (skipped where ../shared/data is absent)."""

from __future__ import annotations

import json

import numpy as np
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


class _SpecModel:
    """The SPEC's walking model rebuilt from osmnx's own graph, independently of sharemap.

    networkx on osmnx's projected graph and its `length` attributes; snapping to the
    nearest edge geometry a pedestrian can step onto (README, Snapping: not a motorway,
    trunk or their links, bridge or tunnel while any other edge lies within 250 m; else
    the nearest edge), walking along it both ways plus the offset; a space on the
    origin's own street walked to directly. Self-loop streets (a turning loop) have one
    end node reached both ways round: the shorter counts.
    """

    EXCLUDED = frozenset({"motorway", "motorway_link", "trunk", "trunk_link"})

    def __init__(self, graphml, crs, *, max_snap_m=250.0):
        import networkx as nx
        import osmnx as ox
        import shapely

        g = ox.project_graph(ox.load_graphml(graphml), to_crs=crs)
        self.edges = ox.graph_to_gdfs(g, nodes=False, fill_edge_geometry=True).reset_index()
        self.tree = shapely.STRtree(self.edges.geometry.to_numpy())
        self.max_snap_m = max_snap_m
        self.steppable = np.array([self._steppable(row) for row in self.edges.itertuples()])
        self.graph = nx.DiGraph()
        for u, v, w in g.edges(data="length"):
            for a, b in ((u, v), (v, u)):
                if not self.graph.has_edge(a, b) or self.graph[a][b]["w"] > w:
                    self.graph.add_edge(a, b, w=w)

    @classmethod
    def _steppable(cls, edge):
        highway = edge.highway if isinstance(edge.highway, list) else [edge.highway]
        tagged = []  # osmnx keeps a merged edge's tags as a list of its ways' values
        for tag in ("bridge", "tunnel"):
            value = getattr(edge, tag, None)
            tagged += value if isinstance(value, list) else [value]
        return not (set(map(str, highway)) & cls.EXCLUDED) and not any(
            isinstance(t, str) and t not in ("", "no") for t in tagged)

    def snap(self, pt, *, rule=True):
        """The nearest edge a pedestrian can step onto within max_snap_m, else the nearest."""
        near = self.tree.query(pt, predicate="dwithin", distance=self.max_snap_m)
        dist = self.edges.geometry.iloc[near].distance(pt).to_numpy()
        ok = self.steppable[near] if rule and self.steppable[near].any() else np.ones(
            len(near), bool)
        i = int(near[ok][np.argmin(dist[ok])]) if len(near) else int(self.tree.nearest(pt))
        line, length = self.edges.geometry.iloc[i], self.edges["length"].iloc[i]
        f = length / line.length
        pos, off = line.project(pt) * f, line.distance(pt)
        u, v = self.edges["u"].iloc[i], self.edges["v"].iloc[i]
        ends = {u: pos + off}
        ends[v] = min(ends.get(v, np.inf), length - pos + off)
        return (min(u, v), max(u, v)), pos if u <= v else length - pos, off, ends

    def from_points(self, snaps, cutoff=None):
        """Walking distance (m) from the nearest of `snaps` to every reached node."""
        import networkx as nx

        d = self.graph
        try:
            for _, _, _, ends in snaps:
                for n, w in ends.items():
                    if not d.has_edge("S", n) or d["S"][n]["w"] > w:
                        d.add_edge("S", n, w=w)
            return nx.single_source_dijkstra_path_length(d, "S", cutoff=cutoff, weight="w")
        finally:
            d.remove_node("S")

    @staticmethod
    def walk(dist, snaps, origin):
        """Metres from a snapped origin to the nearest of the points behind `dist`/`snaps`."""
        import numpy as np

        key, pos, off, ends = origin
        best = min(dist.get(n, np.inf) + w for n, w in ends.items())
        for k2, p2, o2, _ in snaps:
            if k2 == key:
                best = min(best, abs(p2 - pos) + off + o2)
        return best


@pytest.fixture(scope="module")
def spec_model(dongdaemun, seoul_data):
    result, _ = dongdaemun
    return _SpecModel(seoul_data / "network/dongdaemun_walk.graphml", result.config.crs)


def _median_by_block(result, values):
    """Per block, the share-weighted median of its origins' `values` (SPEC model, by hand).

    Sort the block's origins by value (inf: none reachable), add their shares, and take
    the first value where the sum reaches one half (README, "What the numbers mean").
    """
    import numpy as np

    out = []
    origins = result.origins
    for _, idx in origins.groupby("block", sort=True).indices.items():
        pairs = sorted(zip(values[idx], origins["share"].to_numpy()[idx], strict=True))
        total, k = 0.0, 0
        while total + pairs[k][1] < 0.5 - 1e-9:
            total += pairs[k][1]
            k += 1
        out.append(pairs[k][0])
    return np.array(out)


def test_walk_minutes_agree_with_an_independent_spec_computation(dongdaemun, spec_model):
    """Recompute every origin's minutes to the nearest space of each category from the SPEC,
    and every block's as the share-weighted median over its origins."""
    import numpy as np

    result, _ = dongdaemun
    assert (result.blocks["n_origins"] > 1).sum() >= 20
    origins = [spec_model.snap(o) for o in result.origins.geometry]
    speed = result.config.walk_speed_m_per_min
    assert len(result.config.categories) >= 3
    for cat in result.config.categories:
        snapped = [spec_model.snap(p) for p in
                   result.spaces.geometry[result.spaces["category"] == cat]]
        dist = spec_model.from_points(snapped)
        theirs = np.array([spec_model.walk(dist, snapped, o) / speed for o in origins])
        for ours, want in ((result.origins[f"walk_min_{cat}"].to_numpy(), theirs),
                           (result.blocks[f"walk_min_{cat}"].to_numpy(),
                            _median_by_block(result, theirs))):
            diffs = np.abs(np.where(np.isinf(want), np.nan, want) - ours)
            assert (diffs <= 0.1).mean() >= 0.99, cat
            assert np.nanmedian(diffs) < 0.01, cat


def test_origins_beside_the_expressway_walk_as_the_snapping_rule_says(dongdaemun, spec_model):
    """The origins the rule moves off 내부순환로 (a 2.17 km trunk edge): ours agree exactly."""
    result, _ = dongdaemun
    points = result.origins.geometry.to_numpy()
    rule = [spec_model.snap(p) for p in points]
    moved = np.flatnonzero([r[0] != spec_model.snap(p, rule=False)[0]
                            for r, p in zip(rule, points, strict=True)])
    assert {365, 367, 495, 496} <= set(result.origins["block_id"].to_numpy()[moved])
    speed = result.config.walk_speed_m_per_min
    snapped = [spec_model.snap(p) for p in
               result.spaces.geometry[result.spaces["category"] == "bike"]]
    dist = spec_model.from_points(snapped)
    want = np.array([spec_model.walk(dist, snapped, rule[i]) / speed for i in moved])
    ours = result.origins["walk_min_bike"].to_numpy()[moved]
    # osmnx's great-circle `length` and sharemap's projected lengths differ by ~0.1%
    np.testing.assert_allclose(ours, want, rtol=0.005)


def test_adjacent_counts_agree_with_an_independent_spec_computation(dongdaemun, spec_model):
    """Recount every block's spaces within 5 minutes (400 m), one search per space: a space
    counts when origins holding at least half of the block's residents are within 400 m."""
    import numpy as np

    result, _ = dongdaemun
    limit = result.config.villages.adjacent_minutes * result.config.walk_speed_m_per_min
    origins = [spec_model.snap(o) for o in result.origins.geometry]
    counts = np.zeros(len(result.blocks), dtype=np.int64)
    for p in result.spaces.geometry:
        snapped = [spec_model.snap(p)]
        dist = spec_model.from_points(snapped, cutoff=limit)
        walks = np.array([spec_model.walk(dist, snapped, o) for o in origins])
        counts += _median_by_block(result, walks) <= limit
    ours = result.blocks["adjacent_spaces"].to_numpy()
    assert counts.sum() > len(result.blocks)  # the check has something to find
    assert (counts == ours).mean() >= 0.99
    assert (result.blocks["candidate"].to_numpy()
            == (counts >= result.config.villages.min_spaces)).mean() >= 0.99


def test_one_file_in_two_layers_is_accounted_per_layer(tmp_path):
    """The demo's tool libraries read a second time as category "repair" (issue 16).

    The file has 3 records: each layer's summary entry reads 3 rows (was 6 each, the
    file counted twice) and accounts for its own spaces and rejects.
    """
    import shutil

    from sharemap.datasets import get_path

    folder = shutil.copytree(get_path("demo").parent, tmp_path / "demo")
    text = get_path("demo").read_text(encoding="utf-8")
    tools = text[text.index('[[layers]]\ncategory = "tools"'):]
    tools = tools[:tools.index("\n\n") + 1]
    text = text.replace("[blocks]", tools.replace('"tools"', '"repair"') + "\n[blocks]")
    (folder / "study.toml").write_text(text, encoding="utf-8")
    result = run_study(read_config(folder / "study.toml"), cache=False)
    entries = {e["category"]: e for e in result.summary["inputs"]
               if e["source"] == "tool_libraries.csv"}
    assert sorted(entries) == ["repair", "tools"]
    for cat, entry in entries.items():
        assert entry["rows_read"] == 3, cat
        n_sp = int((result.spaces["category"] == cat).sum())
        n_rj = int((result.rejects["category"] == cat).sum())
        assert (entry["spaces"], entry["rejects"]) == (n_sp, n_rj)
        assert entry["rows_read"] == n_sp + n_rj and entry["accounted"]


def test_sources_given_as_absolute_paths_are_named_as_given(dongdaemun):
    """The study names its files by absolute paths outside its folder: no ../../.. in rejects."""
    result, d = dongdaemun
    sources = set(result.rejects["source"]) | set(result.spaces["source"])
    assert sources == {e["source"] for e in result.summary["inputs"]}
    for src in sources:  # config resolves paths, so a data folder behind a symlink is named
        assert src.startswith(d.resolve().as_posix() + "/"), src  # by where it really is
        assert ".." not in src


def test_explore_and_a_short_repr_for_analysts(dongdaemun):
    """In Jupyter: GeoDataFrame.explore() works (mapclassify), and reprs fit on a line."""
    import folium

    result, _ = dongdaemun
    assert isinstance(result.blocks.explore(), folium.Map)
    assert isinstance(result.blocks.explore(column="adjacent_spaces"), folium.Map)
    assert isinstance(result.villages.explore(column="rank"), folium.Map)
    net = repr(result.network)
    assert len(net) < 200, net
    assert f"{result.network.n_nodes:,} nodes" in net and "EPSG:5186" in net
    text = repr(result)
    assert len(text) < 400, text
    assert "Dongdaemun-gu" in text and f"{len(result.blocks):,} blocks" in text


def test_spaces_beyond_the_border_are_walked_to_when_asked(tmp_path):
    """[study] spaces_beyond_m: a station across the study's border counts for its walks.

    One street along y = 0 (x 0 to 1,000 m); the study area is x <= 600. Blocks B1 and B2
    have their origins 11 m off the street at x = 100 and 500; station "in" stands 10 m
    off it at x = 100, station "out" at x = 700, 100 m beyond the border. By hand, B2
    walks 400 + 21 = 421 m to "in"; with "out" counted, 200 + 21 = 221 m. Supply per
    resident stays that of the spaces inside (who shares "out" across the border, the
    study does not know).
    """
    import geopandas as gpd
    from conftest import CRS, X0, Y0, hand_study, layer_toml, osm_graph
    from shapely.geometry import box

    from sharemap.network import network_from_graph

    gpd.GeoDataFrame({"block_id": ["B1", "B2"]},
                     geometry=[box(X0 + x - 20, Y0 + 1, X0 + x + 20, Y0 + 21) for x in (100, 500)],
                     crs=CRS).to_file(tmp_path / "blocks.geojson")
    gpd.GeoDataFrame({"name": ["동"], "code": ["1"], "pop": [200]},
                     geometry=[box(X0 - 50, Y0 - 50, X0 + 600, Y0 + 50)],
                     crs=CRS).to_file(tmp_path / "dong.geojson")
    gpd.GeoDataFrame({"n": [1]}, geometry=[box(X0 - 50, Y0 - 50, X0 + 600, Y0 + 50)],
                     crs=CRS).to_file(tmp_path / "area.geojson")
    pd.DataFrame({"id": ["in", "out"], "x": [X0 + 100.0, X0 + 700.0],
                  "y": [Y0 - 10.0, Y0 - 10.0]}).to_csv(tmp_path / "b.csv", index=False)
    net = network_from_graph(osm_graph({k: (X0 + 100.0 * k, Y0) for k in range(11)},
                                       [(k, k + 1) for k in range(10)]), crs=CRS)

    def run(beyond: str):
        cfg = hand_study(tmp_path, layer_toml("bike", "b.csv", name=False),
                         blocks="min_area_m2 = 0", study=f'area = "area.geojson"\n{beyond}')
        return run_study(cfg, network=net, cache=False)

    plain, near, far = run(""), run("spaces_beyond_m = 50"), run("spaces_beyond_m = 150")
    for r in (plain, near):
        assert r.spaces["space_id"].tolist() == ["in"]
        assert r.rejects["reason"].tolist() == ["outside_study_area"]
    assert far.spaces["space_id"].tolist() == ["in", "out"] and far.rejects.empty
    assert far.spaces["beyond_area_m"].tolist() == [0.0, 100.0]
    assert far.summary["counts"]["spaces_beyond_area"] == 1
    assert "spaces_beyond_area" not in plain.summary["counts"]
    walk = {r: r.blocks.set_index("block_id")["walk_min_bike"] for r in (plain, far)}
    assert walk[plain].to_dict() == pytest.approx({"B1": 21 / 80, "B2": 421 / 80})
    assert walk[far].to_dict() == pytest.approx({"B1": 21 / 80, "B2": 221 / 80})
    assert far.blocks["supply_per_1000_bike"].tolist() == pytest.approx(
        plain.blocks["supply_per_1000_bike"].tolist())
    pd.testing.assert_frame_equal(far.supply, plain.supply)
