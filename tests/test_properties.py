"""Property-based tests (hypothesis): hostile study files and CSV rows never crash sharemap.

Issue 16's "Done when": random study files and random CSV rows fed to the config and
layer readers give no traceback, and no row that is neither a space nor a reject.

- A study file is the demo's, with any of its keys replaced by a random TOML value
  (numbers including NaN and infinity, text, booleans, dates, lists, tables), removed,
  or joined by an unknown key: reading it gives a :class:`StudyConfig` whose numbers
  are finite, or a one-line :class:`SharemapError`.
- A CSV layer is a header and random rows (coordinates as numbers, text, blanks, 0,
  huge values; names with quotes, commas, line breaks, NUL and Korean text; rows
  too short or too long), written in UTF-8, UTF-8 with BOM or CP949: reading it gives
  every record exactly once, as a space or a reject, or a one-line error about the
  whole file.

The examples are the same on every run (``derandomize``), so CI is repeatable; run
``python -m pytest tests/test_properties.py --hypothesis-profile=explore`` to search
with fresh random examples (and many more of them).
"""

from __future__ import annotations

import csv
import io
import json
import math
import tempfile
import warnings
from pathlib import Path
from typing import Any

import tomllib
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from shapely.geometry import box

from sharemap._errors import SharemapError
from sharemap.config import StudyConfig, parse_config, read_config
from sharemap.datasets import get_path
from sharemap.layers import read_layer, read_layers

DEMO = get_path("demo")
DEMO_DOC = tomllib.loads(DEMO.read_text(encoding="utf-8"))
#: a box around the demo district and Dongdaemun-gu, in EPSG:5186
AREA = box(195_000, 545_000, 215_000, 560_000)


def _one_line(exc: BaseException) -> None:
    """A user-facing error: a SharemapError with a one-line, non-empty message."""
    assert isinstance(exc, SharemapError), f"{type(exc).__name__}: {exc}"
    text = str(exc)
    assert text.strip() and "\n" not in text and "Traceback" not in text, text


# ------------------------------------------------------------------ TOML values

scalars = st.one_of(
    st.integers(min_value=-(2**63), max_value=2**63 - 1),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([0, -1, 1, 3, 5, 15, 250, 1e-300, 1e300, float("nan"), float("inf")]),
    st.text(max_size=12),
    st.sampled_from(["", "none", "EPSG:5186", "EPSG:4326", "epsg:99999", "toys", "bike",
                     "walk_min_toys", "adjacent_spaces", "ttareungyi", "utf-8", "cp949",
                     "OpenStreetMap", "gu", "dong", "a.csv", "../../etc/passwd", "gu.geojson"]),
    st.booleans(),
    st.dates(), st.datetimes(), st.times(),
)
toml_values = st.recursive(
    scalars,
    lambda inner: st.one_of(st.lists(inner, max_size=4),
                            st.dictionaries(st.text(max_size=8), inner, max_size=3)),
    max_leaves=8,
)


def _at(doc: Any, path: tuple[Any, ...]) -> Any:
    for key in path:
        doc = doc[key]
    return doc


def _paths(doc: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every key path of a parsed TOML document (tables and arrays of tables)."""
    out = []
    items = doc.items() if isinstance(doc, dict) else enumerate(doc)
    for key, value in items:
        out.append((*prefix, key))
        if isinstance(value, (dict, list)):
            out += _paths(value, (*prefix, key))
    return out


PATHS = _paths(DEMO_DOC)
#: the keys that hold numbers (and the lists of numbers): the usual place for NaN
NUMERIC = [p for p in PATHS if isinstance(_at(DEMO_DOC, p), (int, float))
           and not isinstance(_at(DEMO_DOC, p), bool)]
special_numbers = st.sampled_from([float("nan"), float("inf"), float("-inf"), 0, 0.0, -5,
                                   1e308, 10**30, 180, 181, 30.5, 1e-9])


def _still(doc: Any, path: tuple[Any, ...]) -> bool:
    try:
        _at(doc, path)
    except (KeyError, IndexError, TypeError):
        return False
    return True


@st.composite
def study_docs(draw: st.DrawFn) -> dict[str, Any]:
    """The demo's study, with a few keys replaced, removed or added at random."""
    doc = json.loads(json.dumps(DEMO_DOC))
    for _ in range(draw(st.integers(min_value=1, max_value=4))):
        if draw(st.booleans()):  # half the edits put an odd number where a number goes
            path = draw(st.sampled_from(NUMERIC))
            parent = _at(doc, path[:-1]) if _still(doc, path) else None
            if isinstance(parent, (dict, list)):
                parent[path[-1]] = draw(special_numbers)
            continue
        path = draw(st.sampled_from(PATHS))
        parent: Any = doc
        try:
            for key in path[:-1]:
                parent = parent[key]
            last = path[-1]
            parent[last]  # still there after the earlier edits?
        except (KeyError, IndexError, TypeError):
            continue
        if not isinstance(parent, (dict, list)):
            continue
        action = draw(st.sampled_from(["replace", "replace", "remove", "add"]))
        if action == "replace":
            parent[last] = draw(toml_values)
        elif action == "remove" and isinstance(parent, dict):
            del parent[last]
        elif isinstance(parent, dict):
            parent[draw(st.text(min_size=1, max_size=8))] = draw(toml_values)
    return doc


def _finite_numbers(cfg: StudyConfig) -> None:
    numbers = [cfg.walk_speed_kmh, cfg.network.max_snap_m, cfg.blocks.min_area_m2,
               cfg.villages.adjacent_minutes, *cfg.coverage.thresholds_minutes,
               *cfg.map.isochrone_minutes, *(g.walk_speed_kmh for g in cfg.coverage.groups)]
    assert all(math.isfinite(v) for v in numbers), numbers
    assert cfg.walk_speed_kmh > 0 and cfg.villages.adjacent_minutes > 0
    assert set(cfg.map.isochrone_categories) <= set(cfg.categories)


@given(study_docs())
def test_random_study_files_give_a_config_or_a_one_line_error(doc):
    base = DEMO.parent
    try:
        cfg = parse_config(doc, base=base, source=base / "study.toml")
    except Exception as exc:
        _one_line(exc)
        return
    _finite_numbers(cfg)


@given(st.text(max_size=300))
def test_random_text_as_a_study_file(text):
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "study.toml"
        path.write_text(text, encoding="utf-8")
        try:
            read_config(path)
        except Exception as exc:
            _one_line(exc)


# ------------------------------------------------------------------ CSV rows

lons = st.floats(min_value=126.9, max_value=127.2).map(lambda v: f"{v:.6f}")
lats = st.floats(min_value=37.4, max_value=37.7).map(lambda v: f"{v:.6f}")
#: names as Seoul's files have them, and as hostile files do (NUL cut names to '' in GDAL)
names = st.lists(st.sampled_from(["공구", "도서관", " ", "\x00", '"', ",", "\n", "<b>", "=1",
                                  "A"]), max_size=5).map("".join)
numbers_as_text = st.one_of(
    lons, lats,
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.integers().map(str),
    st.sampled_from(["0", "0.0", "", " ", "-", "NaN", "null", "N/A", "1e400", "127,05",
                     "37.58.1", "201000", "552000", "１２７.０５"]),
)
cells = st.one_of(numbers_as_text, st.text(max_size=10),
                  st.sampled_from(['"', ",", "\n", "\r\n", "\x00", "공구도서관", "=1+1",
                                   "<b>x</b>", "\t"]))


@st.composite
def csv_tables(draw: st.DrawFn) -> tuple[list[str], list[list[str]]]:
    """A header (id, name, lon, lat in a random order) and rows, mostly in Seoul."""
    header = draw(st.permutations(["id", "name", "lon", "lat"]))
    rows = []
    for _ in range(draw(st.integers(min_value=0, max_value=12))):
        if draw(st.booleans()):  # a plausible row
            row = {"id": draw(st.text(max_size=6)),
                   "name": draw(st.one_of(names, cells)),
                   "lon": draw(st.one_of(lons, lons, numbers_as_text)),
                   "lat": draw(st.one_of(lats, lats, numbers_as_text))}
            values = [row[c] for c in header]
        else:
            values = draw(st.lists(cells, max_size=6))
        rows.append(values)
    return list(header), rows


def _write_csv(path: Path, header: list[str], rows: list[list[str]], encoding: str) -> None:
    buf = io.StringIO(newline="")
    writer = csv.writer(buf)
    writer.writerow(header)
    writer.writerows(rows)
    path.write_bytes(buf.getvalue().encode(encoding))


def _records(rows: list[list[str]]) -> int:
    """Data records as the SPEC counts them: rows that are not blank."""
    return sum(1 for r in rows if "".join(r).strip())


def _check_accounted(spaces, rejects, n_records: int) -> None:
    rows = sorted([*spaces["source_row"].tolist(), *rejects["source_row"].tolist()])
    assert rows == list(range(1, n_records + 1))  # every record once: a space or a reject
    assert spaces["space_id"].is_unique
    assert set(rejects["reason"]) <= {"unreadable_row", "missing_coordinates",
                                      "invalid_coordinates", "zero_coordinates",
                                      "outside_study_area"}


@given(csv_tables(), st.sampled_from(["utf-8", "utf-8-sig", "cp949"]),
       st.sampled_from([None, "EPSG:4326"]), st.booleans())
@example(table=(["id", "name", "lon", "lat"], [["1", "\x00공구", "127.05", "37.58"]]),
         encoding="utf-8", crs=None, with_area=False)  # a NUL cut the name to '' in GDAL
@settings(suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
def test_random_csv_rows_are_spaces_or_rejects(table, encoding, crs, with_area):
    header, rows = table
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "layer.csv"
        try:
            _write_csv(path, header, rows, encoding)
        except UnicodeEncodeError:
            _write_csv(path, header, rows, "utf-8")
        try:
            with warnings.catch_warnings():  # repeated ids, an empty layer: warned, read
                warnings.simplefilter("ignore")
                spaces, rejects = read_layer(path, category="tools", x="lon", y="lat",
                                             crs=crs, id="id", name="name",
                                             study_area=AREA if with_area else None)
        except Exception as exc:
            _one_line(exc)  # about the whole file: swapped, nowhere near, undecodable ...
            return
        _check_accounted(spaces, rejects, _records(rows))
        assert not any("\x00" in n for n in spaces["name"])


@given(st.lists(st.dictionaries(st.sampled_from(["id", "name", "lon", "lat", "x"]),
                                st.one_of(cells, st.floats(), st.integers(), st.none(),
                                          st.booleans()), max_size=5), max_size=10),
       st.booleans())
def test_random_json_records_are_spaces_or_rejects(records, wrap):
    doc: Any = {"DESCRIPTION": {}, "DATA": records} if wrap else records
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "layer.json"
        path.write_text(json.dumps(doc, allow_nan=True), encoding="utf-8")
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                spaces, rejects = read_layer(path, category="tools", x="lon", y="lat",
                                             crs="EPSG:4326", id="id", name="name",
                                             study_area=AREA)
        except Exception as exc:
            _one_line(exc)
            return
        _check_accounted(spaces, rejects, len(records))


@given(csv_tables(), st.lists(st.sampled_from(["tools", "toys", "bike"]), min_size=1,
                              max_size=3))
def test_a_study_of_random_layers_accounts_for_every_row(table, categories):
    """read_config + read_layers: per source, rows read = spaces + rejects (dupes included)."""
    header, rows = table
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        _write_csv(folder / "layer.csv", header, rows, "utf-8")
        layers = "".join(f'[[layers]]\ncategory = "{c}"\npath = "layer.csv"\nx = "lon"\n'
                         f'y = "lat"\ncrs = "EPSG:4326"\nid = "id"\nname = "name"\n'
                         for c in dict.fromkeys(categories))
        (folder / "study.toml").write_text(
            f'[study]\nname = "t"\n[network]\ngraphml = "walk.graphml"\n{layers}',
            encoding="utf-8")
        cfg = read_config(folder / "study.toml")
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                spaces, rejects, rows_read = read_layers(cfg, study_area=AREA)
        except Exception as exc:
            _one_line(exc)
            return
        n = _records(rows)
        assert rows_read == {"layer.csv": n}
        for cat in dict.fromkeys(categories):
            mine = spaces[spaces["category"] == cat]
            theirs = rejects[rejects["category"] == cat]
            assert sorted([*mine["source_row"], *theirs["source_row"]]) == list(range(1, n + 1))
