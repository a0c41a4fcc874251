"""The public API: a curated namespace, truly frozen configurations, consistent names.

Issue 13: frozen config dataclasses held dicts (``hash(config)`` raised,
``config.area_filter['x'] = 1`` worked); ``count_within`` sat beside ``within_counts``
and ``spaces_within`` beside ``within_pairs``; ``walk_speed_m_min`` read as "minimum".
Renamed names keep working for one release, with a FutureWarning naming the new one.
"""

from __future__ import annotations

import copy
import dataclasses
import json
import pickle

import pytest

import sharemap
from sharemap.config import FrozenDict, LayerConfig, NetworkConfig, StudyConfig, read_config
from sharemap.datasets import get_path

FILTERED = """
[study]
name = "filtered"
area = "gu.geojson"
area_filter = { sggnm = "동대문구", code = 11230 }
[network]
graphml = "walk.graphml"
[[layers]]
category = "bike"
path = "bike.csv"
[[coverage.boundaries]]
level = "dong"
path = "dong.geojson"
name = "dong_nm"
filter = { sggnm = "동대문구" }
"""


def test_the_flat_namespace_is_curated():
    ns: dict[str, object] = {}
    exec("from sharemap import *", ns)
    assert sorted(k for k in ns if not k.startswith("__")) == sorted(sharemap.__all__)
    assert len(sharemap.__all__) == len(set(sharemap.__all__))
    for name in sharemap.__all__:
        assert getattr(sharemap, name) is not None
    assert {"run_study", "walk_times", "count_within", "spaces_within", "prepare_points",
            "load_network", "SharemapError"} <= set(sharemap.__all__)


def test_configs_are_read_only_and_hashable(tmp_path):
    path = tmp_path / "study.toml"
    path.write_text(FILTERED, encoding="utf-8")
    cfg = read_config(path)
    again = read_config(path)
    assert hash(cfg) == hash(again) and cfg == again
    assert {cfg: "cached"}[again] == "cached"  # usable as a cache key
    assert cfg.area_filter == {"sggnm": "동대문구", "code": 11230}
    assert isinstance(cfg.area_filter, FrozenDict)
    with pytest.raises(TypeError, match="read-only"):
        cfg.area_filter["x"] = 1  # type: ignore[index]
    with pytest.raises(TypeError, match="read-only"):
        cfg.coverage.boundaries[0].filter.update(x=1)  # type: ignore[attr-defined]
    with pytest.raises(TypeError, match="read-only"):
        del cfg.area_filter["sggnm"]  # type: ignore[attr-defined]
    with pytest.raises(dataclasses.FrozenInstanceError):
        cfg.name = "other"  # type: ignore[misc]
    # a changed copy is made, not edited in place
    other = dataclasses.replace(cfg, area_filter={"sggnm": "중구"})
    assert other.area_filter == {"sggnm": "중구"} and isinstance(other.area_filter, FrozenDict)
    assert cfg.area_filter["sggnm"] == "동대문구" and hash(other) != hash(cfg)
    assert cfg.with_villages(min_spaces=2).villages.min_spaces == 2
    # serialised and copied as the plain dicts they hold (summary.json's parameters)
    params = json.loads(json.dumps(dataclasses.asdict(cfg), default=str))
    assert params["area_filter"] == {"sggnm": "동대문구", "code": 11230}
    assert params["coverage"]["boundaries"][0]["filter"] == {"sggnm": "동대문구"}
    assert pickle.loads(pickle.dumps(cfg)) == cfg
    assert copy.deepcopy(cfg) == cfg


def test_configs_built_in_python_are_frozen_too():
    cfg = StudyConfig(name="t", crs="EPSG:5186",
                      network=NetworkConfig(source="bbox", value=[127.0, 37.5, 127.1, 37.6]),
                      layers=[LayerConfig(category="bike", path=get_path("demo"))],  # type: ignore[arg-type]
                      area_filter={"gu": ["a", "b"]})
    assert isinstance(cfg.layers, tuple)
    assert cfg.network.value == (127.0, 37.5, 127.1, 37.6)
    assert cfg.area_filter == {"gu": ("a", "b")}
    hash(cfg)
    with pytest.raises(TypeError, match="read-only"):
        cfg.area_filter["gu"] = "c"  # type: ignore[index]


def test_renamed_names_work_for_one_release_and_say_the_new_name():
    from sharemap import access, coverage

    cfg = read_config(get_path("demo"))
    assert cfg.walk_speed_m_per_min == 80.0
    with pytest.warns(FutureWarning, match=r"m_min .* use StudyConfig\.walk_speed_m_per_min"):
        assert cfg.walk_speed_m_min == 80.0
    assert cfg.coverage.audit_min == 15.0
    with pytest.warns(FutureWarning, match=r"use CoverageConfig\.audit_min"):
        assert cfg.coverage.audit_minutes == 15.0
    for old, new in (("within_pairs", "pairs_within"), ("within_counts", "counts_within")):
        with pytest.warns(FutureWarning, match=rf"access\.{old} .* use sharemap\.access\.{new}"):
            assert getattr(access, old) is getattr(access, new)
        assert new in access.__all__ and old not in access.__all__
    with pytest.warns(FutureWarning, match=r"use sharemap\.coverage\.compute_proximity"):
        assert coverage.proximity_minutes is coverage.compute_proximity
    with pytest.raises(AttributeError):
        access.no_such_name  # noqa: B018
