"""Supply per resident (E2SFCA, issue 14): hand-checked, brute force, PySAL ``access``, real data.

References, each independent of sharemap's own arithmetic:
- a 3 x 3 grid worked out by hand (numbers in the docstring);
- a brute-force implementation written here from the definition (networkx shortest
  paths on the joined graph, then the two steps as plain loops);
- PySAL's ``access`` package (``enhanced_two_stage_fca``, ``two_stage_fca``) on the
  same cost table, where it installs;
- on the real Dongdaemun-gu study with the real dock counts, docks per 1,000 residents
  per dong recomputed from the tidy dock table, networkx and the dongs' residents.
"""

from __future__ import annotations

import json
import math
import warnings
from dataclasses import replace

import geopandas as gpd
import networkx as nx
import numpy as np
import pandas as pd
import pytest
import shapely
from conftest import CRS, X0, Y0, dongdaemun_toml, grid_edges, grid_nodes, osm_graph, points

from sharemap import read_config, run_study
from sharemap._errors import ConfigError
from sharemap.access import prepare_points
from sharemap.config import SupplyConfig
from sharemap.network import network_from_graph
from sharemap.supply import (
    SUPPLY_COLUMNS,
    band_weights,
    compute_supply,
    e2sfca,
    supply_per_block,
    supply_table,
)

BANDS = ((5.0, 1.0), (10.0, 0.68), (15.0, 0.22))


def cost_of(pts, speed, max_min):
    return cost_table(pts.joined, pts.origin_idx, pts.target_idx, speed, max_min)


# ----------------------------------------------------------------------------- by hand


def test_band_weights_step_like_pysal():
    w = band_weights([0.0, 5.0, 5.000001, 10.0, 15.0, 15.1, np.nan], BANDS)
    assert w.tolist() == [1.0, 1.0, 0.68, 0.68, 0.22, 0.0, 0.0]
    assert band_weights([3.0, 15.0, 16.0], [(15.0, 1.0)]).tolist() == [1.0, 1.0, 0.0]


def test_grid_by_hand(grid3):
    r"""Three origins and three spaces on the nodes of the 3 x 3, 100 m grid.

    At 20 m/min a street of 100 m is 5 minutes, so the bands are 1 street (weight 1),
    2 streets (0.68), 3 streets (0.22)::

        O3 (50) --- S2 bike 4 ---- O2 (300)        row 2
        |            |              |
        .  -------- T1 tools 2 --- .               row 1
        |            |              |
        O1 (100) --- S1 bike 10 --- .               row 0

    O3 is at node 20 and O2 at 22. Streets: S1-O1 1, S1-O3 3, S1-O2 3; S2-O3 1,
    S2-O2 1, S2-O1 3; T1 is 2 streets from every origin.
    R(S1) = 10 / (100 + 0.22*50 + 0.22*300) = 10/177, R(S2) = 4 / (0.22*100 + 50 + 300)
    = 4/372, R(T1) = 2 / (0.68*450); A(O1) = 10/177 + 0.22*4/372, A(O2) = 0.22*10/177
    + 4/372, A(O3) = A(O2); tools: 2/450 for everyone.
    """
    xy = {k: (X0 + 100 * (k % 10), Y0 + 100 * (k // 10)) for k in (0, 1, 11, 20, 21, 22)}
    origins = points([xy[0], xy[22], xy[20]])
    spaces = points([xy[1], xy[21], xy[11]], category=["bike", "bike", "tools"])
    pts = prepare_points(grid3, origins, spaces)
    got = supply_per_block(pts, population=[100.0, 300.0, 50.0],
                           capacity=[10.0, 4.0, 2.0], space_category=spaces["category"],
                           categories=["bike", "tools"], walk_speed_m_per_min=20.0, bands=BANDS)
    r1, r2 = 10 / 177, 4 / 372
    want_bike = 1000 * np.array([r1 + 0.22 * r2, 0.22 * r1 + r2, 0.22 * r1 + r2])
    assert np.allclose(got["supply_per_1000_bike"], want_bike, rtol=1e-12)
    assert np.allclose(got["supply_per_1000_tools"], 1000 * 2 / 450, rtol=1e-12)
    # every dock is reached, so the residents' weighted mean is the plain ratio
    pop = np.array([100.0, 300.0, 50.0])
    assert (pop * got["supply_per_1000_bike"]).sum() / pop.sum() == pytest.approx(
        1000 * 14 / 450, rel=1e-12)
    # plain 2SFCA ([[15, 1.0]]): each dock shared by all 450 residents within 15 min
    plain = supply_per_block(pts, population=pop, capacity=[10.0, 4.0, 2.0],
                             space_category=spaces["category"], categories=["bike"],
                             walk_speed_m_per_min=20.0, bands=((15.0, 1.0),))
    assert np.allclose(plain["supply_per_1000_bike"], 1000 * 14 / 450, rtol=1e-12)


def test_unreached_space_and_off_network_origin(grid3):
    """A space beyond every catchment shares nothing; a block off the network reaches 0."""
    origins = points([(X0, Y0), (X0 + 5000, Y0)])  # the second is 4.8 km off
    spaces = points([(X0 + 100, Y0), (X0 + 200, Y0 + 200)], category=["bike", "bike"])
    pts = prepare_points(grid3, origins, spaces)
    got = supply_per_block(pts, population=[10.0, 99.0], capacity=[3.0, 7.0],
                           space_category=spaces["category"], categories=["bike"],
                           walk_speed_m_per_min=20.0, bands=((5.0, 1.0),))
    # only the first space is within 5 minutes (100 m) of the first origin
    assert got["supply_per_1000_bike"].tolist() == [1000 * 3 / 10, 0.0]


def test_several_origins_per_block_share_its_residents(grid3):
    """Block 0 is judged from two origins holding 1/4 and 3/4 of its 400 residents."""
    origins = points([(X0, Y0), (X0 + 200, Y0 + 200), (X0 + 200, Y0)])
    spaces = points([(X0 + 100, Y0)], category=["bike"])
    pts = prepare_points(grid3, origins, spaces)
    kw = {"capacity": [12.0], "space_category": spaces["category"], "categories": ["bike"],
          "walk_speed_m_per_min": 20.0, "bands": BANDS}
    got = supply_per_block(pts, population=[400.0, 50.0],
                           origin_block=[0, 0, 1], origin_share=[0.25, 0.75, 1.0], **kw)
    # demand: 100 at 1 street, 300 at 3 streets (0.22), 50 at 1 street
    r = 12 / (100 + 0.22 * 300 + 50)
    want = [1000 * (0.25 * r + 0.75 * 0.22 * r), 1000 * r]
    assert np.allclose(got["supply_per_1000_bike"], want, rtol=1e-12)
    # the same residents placed as three one-origin blocks give the same origin values
    single = supply_per_block(pts, population=[100.0, 300.0, 50.0], **kw)
    assert np.allclose(single["supply_per_1000_bike"], 1000 * np.array([r, 0.22 * r, r]))


# ----------------------------------------------------------------------------- brute force


@pytest.fixture(scope="module")
def random_case():
    """An 8 x 8 grid with a quarter of its streets removed, 40 origins and 14 spaces."""
    rng = np.random.default_rng(7)
    nodes = grid_nodes(8, 8, 100.0)
    edges = [e for e in grid_edges(8, 8) if rng.random() > 0.25]
    g = nx.Graph(edges)
    main = max(nx.connected_components(g), key=len)
    edges = [e for e in edges if e[0] in main]
    net = network_from_graph(osm_graph({n: nodes[n] for n in main}, edges), crs=CRS)
    lines = net.edges.geometry.to_numpy()

    def on_streets(n):
        pick = rng.integers(0, len(lines), n)
        p = shapely.line_interpolate_point(lines[pick], rng.uniform(0, 1, n), normalized=True)
        return shapely.get_coordinates(p) + rng.normal(0, 8, (n, 2))

    origins = points([tuple(p) for p in on_streets(40)])
    spaces = points([tuple(p) for p in on_streets(14)],
                    category=rng.choice(["bike", "tools"], 14))
    pop = rng.integers(0, 500, 40).astype(float)
    cap = rng.integers(0, 30, 14).astype(float)
    return prepare_points(net, origins, spaces), spaces, pop, cap


def cost_table(joined, o_idx, s_idx, speed, max_min):
    """(origin, space, minutes) within `max_min`, by networkx on the joined graph."""
    coo = joined.csr.tocoo()
    g = nx.Graph()
    g.add_weighted_edges_from(zip(coo.row.tolist(), coo.col.tolist(), coo.data.tolist(),
                                  strict=True))
    rows = []
    for j, s in enumerate(s_idx):
        if joined.node[s] < 0:  # off the network
            continue
        dist = nx.single_source_dijkstra_path_length(g, int(joined.node[s]))
        for i, o in enumerate(o_idx):
            if joined.node[o] < 0:
                continue
            d = joined.offset_m[s] + dist.get(int(joined.node[o]), math.inf) + joined.offset_m[o]
            if d / speed <= max_min + 1e-9:
                rows.append((i, j, d / speed))
    return pd.DataFrame(rows, columns=["origin", "space", "minutes"])


def brute_force(cost, pop, cap, cats, cat, bands):
    """The E2SFCA definition as loops: step 1 per space, step 2 per origin."""
    def weight(t):
        for upper, w in bands:
            if t <= upper:
                return w
        return 0.0

    ratio = {}
    for j in range(len(cap)):
        if cats[j] != cat:
            continue
        near = cost[cost["space"] == j]
        total = sum(pop[i] * weight(t) for i, t in zip(near["origin"], near["minutes"],
                                                       strict=True))
        ratio[j] = cap[j] / total if total > 0 else 0.0
    out = np.zeros(len(pop))
    for i, j, t in cost.itertuples(index=False):
        if j in ratio:
            out[i] += ratio[j] * weight(t)
    return 1000 * out


@pytest.mark.parametrize("bands", [BANDS, ((15.0, 1.0),), ((4.0, 1.0), (9.0, 0.5))])
def test_matches_a_brute_force_from_the_definition(random_case, bands):
    pts, spaces, pop, cap = random_case
    speed = 20.0
    cats = spaces["category"].to_numpy()
    got = supply_per_block(pts, population=pop, capacity=cap,
                           space_category=cats, categories=["bike", "tools"],
                           walk_speed_m_per_min=speed, bands=bands)
    cost = cost_of(pts, speed, bands[-1][0])
    assert len(cost) > 30  # the catchments overlap: the check has something to find
    for cat in ("bike", "tools"):
        want = brute_force(cost, pop, cap, cats, cat, bands)
        assert np.allclose(got[f"supply_per_1000_{cat}"], want, rtol=1e-9, atol=1e-12), cat
        assert (want > 0).sum() > 5


def test_matches_pysal_access(random_case):
    """PySAL's ``access`` on the same cost table: E2SFCA and the plain two-step method."""
    access = pytest.importorskip("access")
    pts, spaces, pop, cap = random_case
    speed = 20.0
    cats = spaces["category"].to_numpy()
    cost = cost_of(pts, speed, 15.0)
    demand = pd.DataFrame({"geoid": np.arange(len(pop)), "pop": pop})
    for cat in ("bike", "tools"):
        mine = np.flatnonzero(cats == cat)
        supply = pd.DataFrame({"geoid": mine, "cap": cap[mine]})
        with warnings.catch_warnings():  # access uses pandas APIs pandas now deprecates
            warnings.simplefilter("ignore")
            acc = access.Access(demand_df=demand, demand_index="geoid", demand_value="pop",
                                supply_df=supply, supply_index="geoid", supply_value=["cap"],
                                cost_df=cost[cost["space"].isin(mine)], cost_origin="origin",
                                cost_dest="space", cost_name="minutes")
            e2 = acc.enhanced_two_stage_fca(
                weight_fn=access.weights.step_fn({5: 1.0, 10: 0.68, 15: 0.22}), max_cost=15)
            two = acc.two_stage_fca(max_cost=15)
        for table, bands in ((e2, BANDS), (two, ((15.0, 1.0),))):
            theirs = 1000 * table.iloc[:, 0].reindex(np.arange(len(pop))).fillna(0).to_numpy()
            ours = supply_per_block(pts, population=pop, capacity=cap,
                                    space_category=cats, categories=[cat],
                                    walk_speed_m_per_min=speed, bands=bands)
            assert np.allclose(ours[f"supply_per_1000_{cat}"], theirs, rtol=1e-9, atol=1e-12)
            assert (theirs > 0).sum() > 10


def test_e2sfca_conserves_reached_capacity():
    """Step 1 shares each reached space's capacity out exactly (sum of P*A = reached S)."""
    rng = np.random.default_rng(3)
    o = rng.integers(0, 50, 400)
    t = rng.integers(0, 20, 400)
    minutes = rng.uniform(0, 15, 400)
    demand = rng.uniform(0, 100, 50)
    cap = rng.uniform(0, 10, 25)  # spaces 20-24 appear in no pair: they are reached by no one
    access, ratio = e2sfca(o, t, minutes, demand=demand, capacity=cap, bands=BANDS)
    reached = np.zeros(25, bool)
    reached[t[band_weights(minutes, BANDS) * demand[o] > 0]] = True
    assert (demand * access).sum() == pytest.approx(cap[reached].sum(), rel=1e-12)
    assert (ratio[~reached] == 0).all()


# ----------------------------------------------------------------------------- tables


def test_supply_table_weighted_mean_and_capacity_per_unit():
    blocks = pd.DataFrame({
        "population": [100.0, 300.0, np.nan, 0.0],
        "dong": ["가동", "가동", "나동", None], "dong_id": ["1", "1", "2", None],
        "supply_per_1000_bike": [10.0, 2.0, 7.0, 5.0]})
    spaces = pd.DataFrame({"category": ["bike", "bike", "bike"], "capacity": [4.0, 6.0, 9.0]})
    where = {"dong": pd.DataFrame({"name": ["가동", "나동", None], "id": ["1", "2", None]})}
    table = supply_table(blocks, spaces, categories=["bike"], levels=["dong"], city_name="구",
                         space_units=where)
    assert list(table.columns) == list(SUPPLY_COLUMNS)
    rows = table.set_index(["level", "area_id"])
    assert rows.loc[("city", "구"), "capacity"] == 19
    assert rows.loc[("city", "구"), "population"] == 400
    assert rows.loc[("city", "구"), "supply_per_1000"] == (100 * 10 + 300 * 2) / 400
    assert rows.loc[("dong", "1"), "supply_per_1000"] == 4.0
    assert rows.loc[("dong", "1"), "capacity"] == 4
    assert rows.loc[("dong", "2"), "capacity"] == 6
    assert math.isnan(rows.loc[("dong", "2"), "supply_per_1000"])  # no residents
    assert table["level"].tolist() == ["city", "dong", "dong"]


def test_config_supply_table(tmp_path):
    from sharemap.datasets import get_path

    demo = get_path("demo")
    text = demo.read_text(encoding="utf-8").replace('"gu.geojson"', f'"{demo.parent}/gu.geojson"')
    base = text.replace('osm_xml = "walk.osm"', f'osm_xml = "{demo.parent}/walk.osm"')
    cfg = tmp_path / "s.toml"

    def parse(extra):
        cfg.write_text(base + extra, encoding="utf-8")
        return read_config(cfg).supply

    assert parse("") == SupplyConfig()
    assert parse("[supply]\nminutes = 12\n").bands == ((4.0, 1.0), (8.0, 0.68), (12.0, 0.22))
    plain = parse("[supply]\nbands = [[15, 1.0]]\n")
    assert plain.minutes == 15 and plain.bands == ((15.0, 1.0),)
    assert parse('[supply]\ncategories = ["bike"]\n').categories == ("bike",)
    for extra, pattern in (
            ("[supply]\nminutes = 20\nbands = [[5, 1.0], [15, 0.5]]\n", "end at 15 min"),
            ("[supply]\nbands = [[10, 1.0], [5, 0.5]]\n", "must increase"),
            ("[supply]\nbands = [[10, 0.0]]\n", "not all 0"),
            ("[supply]\nbands = [10, 1.0]\n", "pairs"),
            ('[supply]\ncategories = ["bikes"]\n', "'bikes', not a category"),
            ("[supply]\ndecay = 1\n", "unknown key")):
        with pytest.raises(ConfigError, match=pattern):
            parse(extra)
    no_pop = base.replace(', population = "pop_total"', "").replace(
        'groups = [ { column = "pop_65plus", label = "65+", walk_speed_kmh = 3.6 } ]', "")
    cfg.write_text(no_pop + "[supply]\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"\[supply\] needs residents"):
        read_config(cfg)


# ----------------------------------------------------------------------------- a whole run


def test_demo_run_writes_supply(tmp_path):
    from sharemap import write_outputs
    from sharemap.datasets import get_path

    result = run_study(read_config(get_path("demo")))
    paths = write_outputs(result, tmp_path)
    table = pd.read_csv(paths["supply.csv"], encoding="utf-8-sig")
    assert list(table.columns) == list(SUPPLY_COLUMNS)
    assert table["level"].iloc[0] == "city"
    blocks = gpd.read_file(paths["blocks.gpkg"], layer="blocks")
    cats = result.config.categories
    assert [f"supply_per_1000_{c}" for c in cats] == [c for c in blocks.columns
                                                        if c.startswith("supply_per_1000_")]
    spaces = result.spaces
    pop = result.blocks["population"].sum()
    city = table[table["level"] == "city"].set_index("category")
    for cat in cats:
        # every space of the demo is within 15 minutes of some resident: the city's value
        # is the plain ratio of capacity to residents
        cap = spaces.loc[spaces["category"] == cat, "capacity"].sum()
        assert city.loc[cat, "capacity"] == cap
        assert city.loc[cat, "supply_per_1000"] == pytest.approx(1000 * cap / pop, rel=1e-9)
        # the dongs' values are their blocks' population-weighted means (from the file)
        dongs = table[(table["level"] == "dong") & (table["category"] == cat)]
        for d in dongs.itertuples():
            mine = blocks[blocks["dong_id"].astype(str) == str(d.area_id)]
            mean = (mine["population"] * mine[f"supply_per_1000_{cat}"]).sum() / mine[
                "population"].sum()
            assert d.supply_per_1000 == pytest.approx(mean, rel=1e-9)
    summary = json.loads(paths["summary.json"].read_text(encoding="utf-8"))
    assert summary["supply_headline"]["per_1000_residents"]["bike"] == pytest.approx(
        city.loc["bike", "supply_per_1000"], abs=1e-4)
    # the analyst function gives the same numbers from scratch
    again = compute_supply(result.network, result.blocks, spaces)
    assert np.allclose(again.to_numpy(), result.blocks[again.columns].to_numpy(), rtol=1e-12)


def test_no_residents_no_supply(tmp_path):
    from sharemap import write_outputs
    from sharemap.datasets import get_path

    cfg = read_config(get_path("demo"))
    bounds = tuple(replace(b, population=None) for b in cfg.coverage.boundaries)
    cfg = replace(cfg, coverage=replace(cfg.coverage, boundaries=bounds, groups=()))
    result = run_study(cfg)
    assert result.supply is None
    assert not any(c.startswith("supply_per_1000_") for c in result.blocks.columns)
    paths = write_outputs(result, tmp_path)
    assert "supply.csv" not in paths and not (tmp_path / "supply.csv").exists()


# ----------------------------------------------------------------------------- real data


@pytest.fixture(scope="module")
def dongdaemun_docks(seoul_data, tmp_path_factory):
    """The real Dongdaemun-gu study with the real June 2022 dock counts (raw OA-13252)."""
    d = seoul_data
    text = dongdaemun_toml(d).replace(
        "raw/ttareungyi_master_seoul_open_data.json",
        "raw/ttareungyi_station_info_OA-13252_2022-06_cp949.csv")
    cfg = tmp_path_factory.mktemp("docks") / "study.toml"
    cfg.write_text(text, encoding="utf-8")
    return run_study(read_config(cfg))


@pytest.mark.seoul
def test_real_docks_per_1000_residents_per_dong(dongdaemun_docks, seoul_data):
    """Docks per 1,000 residents per dong, recomputed independently of sharemap's code.

    Docks from the tidy table (made from the raw file independently), walks from
    networkx on the joined street graph, the two E2SFCA steps as loops from the
    definition, and each dong's residents from the boundary file spread as the study
    spreads them (its blocks' ``population``).
    """
    result = dongdaemun_docks
    tidy = pd.read_csv(seoul_data / "points/ttareungyi_station_docks_2022-06.csv",
                       dtype={"station_no": str}).set_index("station_no")
    inside = tidy[tidy["gu_by_polygon"] == "동대문구"]
    bikes = result.spaces[result.spaces["category"] == "bike"].reset_index(drop=True)
    assert sorted(bikes["space_id"]) == sorted(inside.index)  # all 82 stations analysed
    docks = inside.loc[bikes["space_id"], "total_docks"].to_numpy()
    assert not np.isnan(docks).any() and docks.sum() == bikes["capacity"].sum()
    blocks = result.blocks
    pts = prepare_points(result.network, result.block_snaps(), bikes,
                         max_snap_m=result.config.network.max_snap_m)
    cost = cost_of(pts, result.config.walk_speed_m_per_min, 15.0)
    pop = blocks["population"].fillna(0).to_numpy()
    # demand sits at the block origins (a large block's residents shared among its grid)
    origins = result.origins
    assert len(origins) > len(blocks)
    at_origin = brute_force(cost, origins["population"].fillna(0).to_numpy(), docks,
                            np.array(["bike"] * len(bikes)), "bike", BANDS)
    want = np.bincount(origins["block"], weights=origins["share"] * at_origin,
                       minlength=len(blocks))
    assert np.allclose(blocks["supply_per_1000_bike"], want, rtol=1e-9, atol=1e-12)
    table = result.supply[result.supply["category"] == "bike"]
    dongs = gpd.read_file(seoul_data / "boundaries/seoul_hangjeongdong_2021.geojson")
    dongs = dongs[dongs["sggnm"] == "동대문구"]
    rows = table[table["level"] == "dong"].set_index("area_id")
    assert sorted(rows.index) == sorted(dongs["adm_cd2"])  # every dong of the gu
    for code in dongs["adm_cd2"]:
        mine = (blocks["dong_id"] == code).to_numpy()
        expect = (pop[mine] * want[mine]).sum() / pop[mine].sum()
        assert rows.loc[code, "supply_per_1000"] == pytest.approx(expect, rel=1e-9)
        assert rows.loc[code, "population"] == pytest.approx(pop[mine].sum(), rel=1e-12)
    # the dongs' residents are the boundary file's (held whole by the study)
    assert rows["population"].sum() == pytest.approx(dongs["pop_total"].sum(), rel=0.01)
    city = table[table["level"] == "city"].iloc[0]
    reached = cost["space"].unique()
    assert city["capacity"] == docks.sum()
    assert city["supply_per_1000"] == pytest.approx(1000 * docks[reached].sum() / pop.sum(),
                                                    rel=1e-9)


# ----------------------------------------------------------------------------- the map


def supply_blocks():
    """Four blocks (residents 120, 80, none, 40) with 4, 1, 0 and 9 docks per 1,000.

    The population-weighted mean is (120*4 + 80*1 + 40*9) / 240 = 3.8333: classes are
    none (0), up to 1.92, 1.92-3.83, 3.83-5.75, 5.75-7.67 and over 7.67, so the blocks
    fall in classes 3, 1, 0 and 5.
    """
    from test_maps import make_blocks

    return make_blocks().assign(supply_per_1000_bike=[4.0, 1.0, 0.0, 9.0])


def test_map_colours_blocks_by_supply(tmp_path):
    from test_map_data import layer_with
    from test_maps import make_spaces, make_villages

    from sharemap.maps import build_map, save_map, static_map

    m = build_map(supply_blocks(), make_spaces(), make_villages(), tiles=None,
                  color_by="supply_per_1000_bike")
    page = save_map(m, tmp_path / "map.html").read_text(encoding="utf-8")
    layer = layer_with(page, "supply_per_1000_bike")
    assert layer["c"]["class"] == [3, 1, 0, 5]
    assert "bike capacity reachable per 1,000 residents" in page
    # the split maps pass the whole study's mean: one legend for every unit's map
    m = build_map(supply_blocks().iloc[:2], make_spaces(), make_villages(), tiles=None,
                  color_by="supply_per_1000_bike", color_reference=3.8333333)
    part = layer_with(save_map(m, tmp_path / "part.html").read_text(encoding="utf-8"),
                      "supply_per_1000_bike")
    assert part["c"]["class"] == [3, 1]
    fig = static_map(supply_blocks(), make_spaces(), make_villages(),
                     color_by="supply_per_1000_bike", path=tmp_path / "map.png")
    texts = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    assert texts[:3] == ["bike capacity reachable\nper 1,000 residents", "none within reach",
                         "up to 1.92"]
    with pytest.raises(ConfigError, match="supply_per_1000_tools"):  # names the allowed ones
        build_map(supply_blocks(), make_spaces(), make_villages(), tiles=None,
                  color_by="supply_per_1000_tools")


@pytest.mark.browser
def test_supply_map_in_the_browser(driver, tmp_path):
    from test_maps import make_spaces, make_villages
    from test_maps_browser import _open_all

    from sharemap._mapstyle import supply_classes
    from sharemap.maps import build_map, save_map

    m = build_map(supply_blocks(), make_spaces(), make_villages(), tiles=None,
                  color_by="supply_per_1000_bike")
    blocks = _open_all(driver, save_map(m, tmp_path / "map.html"), "block_id")
    colours = [c for _u, _label, c in supply_classes((120 * 4 + 80 + 40 * 9) / 240)]
    assert [blocks[i]["fill"] for i in (1, 2, 3, 4)] == [colours[k] for k in (3, 1, 0, 5)]
    assert ("bike per 1,000 residents", "4.00") in blocks[1]["rows"]
    assert ("bike per 1,000 residents", "0.00") in blocks[3]["rows"]
    legend = driver.execute_script(
        "return document.querySelector('.sharemap-legend').innerText")
    assert "bike capacity reachable\nper 1,000 residents" in legend
    assert "1.92–3.83 (mean)" in legend and "over 7.67" in legend


@pytest.mark.browser
def test_report_supply_section_shows_supply_csv(driver, tmp_path):
    """report.html's supply table, read in Chromium, holds supply.csv's figures."""
    from sharemap import write_report
    from sharemap.datasets import get_path

    result = run_study(read_config(get_path("demo")))
    page = write_report(result, tmp_path / "report.html")
    table = result.supply.astype({"area_id": str})  # supply.csv (written by write_outputs)
    import _browser

    _browser.open_file(driver, page)
    cells = driver.execute_script(
        "return Array.from(document.querySelectorAll('#supply tbody tr')).map("
        "tr => Array.from(tr.querySelectorAll('td')).map(td => td.innerText))")
    cats = list(result.config.categories)
    dongs = table[(table["level"] == "dong")].drop_duplicates("area_id").sort_values(
        ["area", "area_id"])
    assert [row[0] for row in cells] == [result.config.name, *dongs["area"]]
    for row, (level, aid) in zip(cells, [("city", result.config.name)] + [
            ("dong", a) for a in dongs["area_id"]], strict=True):
        mine = table[(table["level"] == level) & (table["area_id"] == aid)].set_index(
            "category")
        for k, cat in enumerate(cats):
            value, capacity = row[2 + 2 * k], row[3 + 2 * k]
            assert float(value) == pytest.approx(mine.loc[cat, "supply_per_1000"], abs=6e-3)
            assert int(capacity.replace(",", "")) == mine.loc[cat, "capacity"]
    method = driver.execute_script("return document.getElementById('method').innerText")
    assert "Supply per resident" in method and "weight 0.68 up to 10 min" in method


def test_the_readme_s_color_by_supply_is_accepted_by_a_study_file(tmp_path):
    """The README documents `[map] color_by = "supply_per_1000_bike"`, and the map draws
    it, but a study file saying so stopped with "is not a block measure; use one of:
    adjacent_spaces, walk_min_...": the option could only be reached from Python. It is
    now accepted for every category supply is computed for (and refused, with the reason,
    for another or without residents)."""
    import shutil

    from sharemap import run_study, write_outputs
    from sharemap.config import read_config
    from sharemap.datasets import get_path

    folder = shutil.copytree(get_path("demo").parent, tmp_path / "demo")
    toml = (folder / "study.toml").read_text(encoding="utf-8")
    assert 'color_by = "adjacent_spaces"' in toml
    (folder / "study.toml").write_text(toml.replace(
        'color_by = "adjacent_spaces"', 'color_by = "supply_per_1000_bike"'), encoding="utf-8")
    cfg = read_config(folder / "study.toml")
    assert cfg.map.color_by == "supply_per_1000_bike"
    write_outputs(run_study(cfg), tmp_path / "out")
    assert "bike capacity reachable per 1,000 residents" in (
        tmp_path / "out" / "map.html").read_text(encoding="utf-8")
    (folder / "study.toml").write_text(toml.replace(
        'color_by = "adjacent_spaces"', 'color_by = "supply_per_1000_bike"').replace(
        "[map]", '[supply]\ncategories = ["tools"]\n\n[map]'), encoding="utf-8")
    with pytest.raises(ConfigError, match=r"supply_per_1000_bike.*supply_per_1000_tools"):
        read_config(folder / "study.toml")
