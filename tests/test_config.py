"""The study file is checked whole, before any work: numbers finite and in range, names real.

Issue 16 #6 and #13: `walk_speed_kmh = nan` crashed, `adjacent_minutes = nan` gave 0
candidates and exit 0, `min_area_m2 = nan` gave 0 blocks, `walk_speed_kmh = inf` gave 100%
covered; an unknown `color_by` or `tiles` was reported after 7 of 10 outputs were written,
and an isochrone category that does not exist was ignored.
"""

from __future__ import annotations

import re
import shutil

import pytest

from sharemap._errors import ConfigError
from sharemap.cli import main
from sharemap.config import read_config
from sharemap.datasets import get_path

DEMO = get_path("demo").read_text(encoding="utf-8")


@pytest.fixture
def study(tmp_path):
    """Write the demo study, with some text replaced, beside a copy of its inputs."""
    folder = shutil.copytree(get_path("demo").parent, tmp_path / "demo")

    def write(*replacements: tuple[str, str]):
        text = DEMO
        for old, new in replacements:
            assert old in text, old
            text = text.replace(old, new, 1)
        path = folder / "study.toml"
        path.write_text(text, encoding="utf-8")
        return path

    return write


NON_FINITE = [
    (("walk_speed_kmh = 4.8", "walk_speed_kmh = nan"), "study.walk_speed_kmh"),
    (("walk_speed_kmh = 4.8", "walk_speed_kmh = inf"), "study.walk_speed_kmh"),
    (("walk_speed_kmh = 4.8", "walk_speed_kmh = -inf"), "study.walk_speed_kmh"),
    (("adjacent_minutes = 5", "adjacent_minutes = nan"), "villages.adjacent_minutes"),
    (("min_area_m2 = 1000", "min_area_m2 = nan"), "blocks.min_area_m2"),
    (("min_area_m2 = 1000", "min_area_m2 = inf"), "blocks.min_area_m2"),
    (("max_snap_m = 250", "max_snap_m = inf"), "network.max_snap_m"),
    (("thresholds_minutes = [5, 10, 15]", "thresholds_minutes = [5, nan, 15]"),
     "coverage.thresholds_minutes"),
    (("isochrone_minutes = [5, 10, 15]", "isochrone_minutes = [inf]"), "map.isochrone_minutes"),
    (("walk_speed_kmh = 3.6", "walk_speed_kmh = nan"), "coverage.groups #1.walk_speed_kmh"),
]
OUT_OF_RANGE = [
    (("walk_speed_kmh = 4.8", "walk_speed_kmh = 0"), "study.walk_speed_kmh", "> 0"),
    (("walk_speed_kmh = 4.8", "walk_speed_kmh = 480"), "study.walk_speed_kmh", "<= 30 km/h"),
    (("adjacent_minutes = 5", "adjacent_minutes = -5"), "villages.adjacent_minutes", "> 0"),
    (("adjacent_minutes = 5", "adjacent_minutes = 1e9"), "villages.adjacent_minutes",
     "<= 180 min"),
    (("min_area_m2 = 1000", "min_area_m2 = -1"), "blocks.min_area_m2", ">= 0"),
    (("max_snap_m = 250", "max_snap_m = 0"), "network.max_snap_m", "> 0"),
    (("thresholds_minutes = [5, 10, 15]", "thresholds_minutes = [5, 10, 100000]"),
     "coverage.thresholds_minutes", "<= 180"),
    (("isochrone_minutes = [5, 10, 15]", "isochrone_minutes = [-5]"), "map.isochrone_minutes",
     "> 0"),
    (("min_spaces = 3", "min_spaces = 0"), "villages.min_spaces", ">= 1"),
    (("min_spaces = 3", "min_spaces = 2.5"), "villages.min_spaces", "whole number"),
    (("walk_speed_kmh = 3.6", "walk_speed_kmh = 0"), "coverage.groups #1.walk_speed_kmh",
     "> 0"),
]


def _one_line_error(study_path, capsys, tmp_path) -> str:
    out = tmp_path / "out"
    assert main(["run", str(study_path), "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and err.startswith("sharemap: error: ")
    assert not out.exists()  # refused before any work: nothing written
    return err


@pytest.mark.parametrize(("replace", "key"), NON_FINITE)
def test_non_finite_numbers_are_one_line_errors(study, replace, key):
    with pytest.raises(ConfigError, match=re.escape(f"`{key}` must be a finite number")):
        read_config(study(replace))


@pytest.mark.parametrize(("replace", "key", "rule"), OUT_OF_RANGE)
def test_numbers_out_of_range_name_key_and_range(study, replace, key, rule):
    with pytest.raises(ConfigError, match=re.escape(f"`{key}` must be")) as err:
        read_config(study(replace))
    assert rule in str(err.value)


def test_nan_adjacent_minutes_no_longer_runs_to_zero_candidates(study, capsys, tmp_path):
    # before: exit 0 with "candidates : 0"
    err = _one_line_error(study(("adjacent_minutes = 5", "adjacent_minutes = nan")), capsys,
                          tmp_path)
    assert "villages.adjacent_minutes" in err and "nan" in err


def test_bbox_must_be_finite_and_ordered(study):
    net = ('osm_xml = "walk.osm"', "bbox = [127.02, 37.56, 127.08, 37.61]")
    assert read_config(study(net)).network.value == (127.02, 37.56, 127.08, 37.61)
    for bad, words in (("[127.02, nan, 127.08, 37.61]", "south"),
                       ("[127.08, 37.56, 127.02, 37.61]", "west must be less than east"),
                       ("[127.02, 37.56, 127.08, 97.61]", "north"),
                       ("[127.02, 37.56]", "[west, south, east, north]")):
        with pytest.raises(ConfigError, match=re.escape(words)):
            read_config(study(('osm_xml = "walk.osm"', f"bbox = {bad}")))


# ------------------------------------------------------------------ names checked up front


@pytest.mark.parametrize(("replace", "words"), [
    (('color_by = "adjacent_spaces"', 'color_by = "walk_min_boats"'),
     "`map.color_by` = 'walk_min_boats' is not a block measure; use one of: adjacent_spaces, "
     "walk_min_bike"),
    (('color_by = "adjacent_spaces"', 'color_by = "adjacent_spaces"\ntiles = "Stamen Toner"'),
     "`map.tiles` = 'Stamen Toner': not a tile provider"),
    (('color_by = "adjacent_spaces"', 'color_by = "adjacent_spaces"\ntiles = ""'), "`map.tiles`"),
    (('isochrone_categories = ["toys"]', 'isochrone_categories = ["toys", "tool"]'),
     "`map.isochrone_categories` names 'tool', not a category of the study's [[layers]]"),
    (('preset = "ttareungyi"', 'preset = "tareungyi"'), "unknown preset 'tareungyi'"),
    (('id = "lib_id"', 'id = "lib_id"\nencoding = "kr-949"'), "unknown encoding 'kr-949'"),
    (('path = "tool_libraries.csv"', 'path = "tool_library.csv"'),
     "`layers #4.path` file not found"),
    (('path = "dong.geojson"', 'path = "dongs.geojson"'),
     "`coverage.boundaries #2.path` file not found"),
    (('barriers = ["water.geojson"]', 'barriers = ["river.geojson"]'),
     "`blocks.barriers` file not found"),
    (('name = "데모구 (synthetic demo)"', "name = 3"), "`study.name` must be a text"),
    (('id = "adm_cd2"', "id = 2"), "`coverage.boundaries #2.id` must be a non-empty string"),
])
def test_names_and_files_are_checked_before_any_work(study, capsys, tmp_path, replace, words):
    err = _one_line_error(study(replace), capsys, tmp_path)
    assert words in err


def test_known_tiles_and_none_are_accepted(study):
    for tiles, want in (("none", None), ("CartoDB positron", "CartoDB positron"),
                        ("openstreetmap", "openstreetmap")):
        cfg = read_config(study(('color_by = "adjacent_spaces"',
                                 f'color_by = "walk_min_toys"\ntiles = "{tiles}"')))
        assert cfg.map.tiles == want and cfg.map.color_by == "walk_min_toys"


def test_a_layer_listed_twice_is_refused(study):
    twice = ('[[layers]]\ncategory = "facility"',
             '[[layers]]\ncategory = "toys"\npath = "toy_libraries.csv"\nx = "lon"\ny = "lat"\n'
             'crs = "EPSG:4326"\nid = "lib_id"\nname = "name"\n\n'
             '[[layers]]\ncategory = "facility"')
    with pytest.raises(ConfigError, match=r"\[layers #6\] reads the same file, sheet/layer and "
                       r"category as \[layers #5\]"):
        read_config(study(twice))


def test_filters_take_text_or_numbers(study):
    area = ('area = "gu.geojson"', 'area = "gu.geojson"\narea_filter = { sggnm = [1, 2] }')
    with pytest.raises(ConfigError, match=r"`study.area_filter.sggnm` must be a text"):
        read_config(study(area))


# ------------------------------------------------------------------ command-line numbers


@pytest.mark.parametrize(("argv", "words"), [
    (["suggest", "S", "--category", "tools", "--add", "2", "--minutes", "-5"],
     "argument --minutes: the value must be > 0 and <= 180 min, got -5.0"),
    (["suggest", "S", "--category", "tools", "--add", "2", "--minutes", "nan"],
     "argument --minutes: the value must be a finite number"),
    (["suggest", "S", "--category", "tools", "--add", "0"],
     "argument --add: the value must be a whole number >= 1"),
    (["sweep", "S", "--adjacent-minutes", "3,nan"],
     "argument --adjacent-minutes: the value must be a finite number"),
    (["sweep", "S", "--adjacent-minutes", ","], "expected comma-separated minutes"),
    (["sweep", "S", "--min-spaces", "2,0"], "argument --min-spaces: the value must be a whole"),
])
def test_command_line_numbers_are_checked_before_any_work(argv, words, capsys, tmp_path):
    argv = [str(get_path("demo")) if a == "S" else a for a in argv]
    if argv[0] == "suggest":
        argv += ["--out", str(tmp_path / "o")]
    with pytest.raises(SystemExit) as done:
        main(argv)
    assert done.value.code == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and words in err
    assert not (tmp_path / "o").exists()


def test_library_checks_the_same_numbers():
    """suggest_sites and sweep refuse NaN themselves (an analyst calls them directly)."""
    from types import SimpleNamespace

    from sharemap._errors import InputDataError
    from sharemap.study import sweep
    from sharemap.suggest import suggest_sites

    fake = SimpleNamespace(config=read_config(get_path("demo")))
    with pytest.raises(ConfigError, match=r"`minutes` must be a finite number"):
        suggest_sites(fake, category="tools", add=1, minutes=float("nan"))
    with pytest.raises(InputDataError, match=r"`adjacent_minutes` must be a finite number"):
        sweep(fake, adjacent_minutes=[float("nan")], min_spaces=[3])


def test_distinct_categories_asking_more_categories_than_the_study_has(study, capsys, tmp_path):
    """`distinct_categories = true` with `min_spaces = 7` on the demo's 6 categories (or
    4 on the real Dongdaemun-gu study's 3) ran to exit 0 with "candidates: 0" and
    "villages: 0": no block can have more distinct categories than the study has."""
    path = study(("min_spaces = 3", "min_spaces = 7"),
                 ("distinct_categories = false", "distinct_categories = true"))
    err = _one_line_error(path, capsys, tmp_path)
    for part in ("villages.min_spaces", "7", "distinct_categories", "6 categories",
                 "bike", "toys"):
        assert part in err, (part, err)
    path = study(("min_spaces = 3", "min_spaces = 6"),
                 ("distinct_categories = false", "distinct_categories = true"))
    assert read_config(path).villages.min_spaces == 6  # every category: still possible
