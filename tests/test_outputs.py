"""Output folders: checked before computing, one run's files, never an input overwritten.

Issue 16 #1 (an output over an input), #5 (a folder mixing runs, killed and concurrent
runs), #11 (long unit ids as file names), #12 (a bad ``--out``), the GeoJSON/GeoPackage
files as GDAL 3.6 reads them, and issue 13's registry of outputs.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pyogrio
import pytest
import shapely

from sharemap import OutputError, _outputs, pipeline, read_config, run_study
from sharemap.cli import main
from sharemap.datasets import demo_dir
from sharemap.outputs import COMMANDS, missing_outputs, outputs_of, readme_table

ROOT = Path(__file__).resolve().parents[1]
ERROR = re.compile(r"^sharemap: error: [^\n]+\n$")


@pytest.fixture
def study(tmp_path) -> Path:
    """A copy of the demo study folder (inputs a test may rename or edit)."""
    folder = tmp_path / "study"
    shutil.copytree(demo_dir(), folder)
    return folder


@pytest.fixture
def no_compute(monkeypatch):
    """Fail the test if a study is computed (checks must come before any work)."""
    def forbidden(*args, **kwargs):
        raise AssertionError("the study was computed before the output folder was checked")

    monkeypatch.setattr(pipeline, "run_study", forbidden)


def _files(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*"))
            if p.is_file()}


def _visible(folder: Path) -> set[str]:
    return {name for name in _files(folder) if not any(part.startswith(".")
                                                        for part in name.split("/"))}


# ------------------------------------------------------------ #1 outputs never over inputs


def _edit(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new), encoding="utf-8")


def test_user_blocks_in_the_output_folder_are_refused_before_any_work(study, capsys,
                                                                       no_compute):
    """The README's own `[blocks] path = "blocks.gpkg"` with `--out .`: refused, untouched."""
    blocks = run_study(read_config(demo_dir() / "study.toml")).blocks
    blocks[["block_id", "geometry"]].assign(my_field="mine").to_file(study / "blocks.gpkg")
    _edit(study / "study.toml", "[blocks]\n", '[blocks]\npath = "blocks.gpkg"\n')
    before = _files(study)
    assert main(["run", str(study / "study.toml"), "--out", str(study), "-q"]) == 2
    err = capsys.readouterr().err
    assert ERROR.match(err) and "blocks.gpkg" in err and "reads" in err
    assert _files(study) == before  # nothing written, nothing removed, no staging left


@pytest.mark.parametrize(("original", "renamed", "key"), [
    ("tool_libraries.csv", "coverage.csv", "a layer"),
    ("gu.geojson", "villages.geojson", "the study area and a boundary level"),
    ("water.geojson", "spaces.gpkg", "a barrier"),
])
def test_any_input_named_like_an_output_is_refused(study, capsys, no_compute, original,
                                                   renamed, key):
    src = study / original
    if renamed.endswith(".gpkg"):
        gpd.read_file(src).to_file(study / renamed)
        src.unlink()
    else:
        src.rename(study / renamed)
    _edit(study / "study.toml", f'"{original}"', f'"{renamed}"')
    before = _files(study)
    assert main(["run", str(study / "study.toml"), "--out", str(study), "-q"]) == 2, key
    err = capsys.readouterr().err
    assert ERROR.match(err) and renamed in err
    assert _files(study) == before


def test_hard_link_and_split_maps_folder_count_as_the_input(study, tmp_path, capsys,
                                                            no_compute):
    out = tmp_path / "out"
    out.mkdir()
    os.link(study / "tool_libraries.csv", out / "gaps.csv")  # the same file, another name
    assert main(["run", str(study / "study.toml"), "--out", str(out), "-q"]) == 2
    assert "gaps.csv" in capsys.readouterr().err
    (out / "gaps.csv").unlink()
    (out / "maps").mkdir()
    shutil.move(study / "toy_libraries.csv", out / "maps" / "toys.csv")
    moved = (out / "maps" / "toys.csv").as_posix()
    _edit(study / "study.toml", '"toy_libraries.csv"', f'"{moved}"')
    assert main(["run", str(study / "study.toml"), "--out", str(out), "--split-by", "dong",
                 "-q"]) == 2
    assert "maps/" in capsys.readouterr().err


def test_a_previous_run_s_file_read_as_input_is_said_to_be_removed(study, tmp_path, capsys):
    """`sharemap suggest ... --exclude out/villages.geojson --out out` (the villages of
    the run in `out`, as areas to leave out) is refused rightly: suggest would remove the
    previous run's files. But the line said "the output villages.geojson would replace
    out/villages.geojson", and suggest writes no villages.geojson. It now says that the
    previous run's file would be removed."""
    out = tmp_path / "out"
    assert main(["run", str(study / "study.toml"), "--out", str(out), "-q"]) == 0
    capsys.readouterr()
    assert main(["suggest", str(study / "study.toml"), "--category", "tools", "--add", "1",
                 "--exclude", str(out / "villages.geojson"), "--out", str(out), "-q"]) == 2
    err = capsys.readouterr().err
    assert ERROR.match(err), err
    assert "the output villages.geojson" not in err
    assert "villages.geojson" in err and "previous run" in err and "remove" in err, err
    assert (out / "villages.geojson").is_file()


def test_write_outputs_refuses_too(study, tmp_path):
    (study / "coverage.csv").write_bytes((study / "tool_libraries.csv").read_bytes())
    _edit(study / "study.toml", '"tool_libraries.csv"', '"coverage.csv"')
    result = run_study(read_config(study / "study.toml"))
    with pytest.raises(OutputError, match=r"coverage\.csv"):
        pipeline.write_outputs(result, study)
    assert not list(study.glob(".sharemap-*"))


def test_out_dot_in_the_study_folder_writes_beside_the_inputs_and_keeps_them(study, capsys):
    inputs = _files(study)
    cwd = os.getcwd()
    os.chdir(study)
    try:
        assert main(["run", "study.toml", "--out", ".", "-q"]) == 0
        assert main(["run", "study.toml", "--out", ".", "-q"]) == 0  # and again
    finally:
        os.chdir(cwd)
    after = _files(study)
    assert {k: after[k] for k in inputs} == inputs  # every input kept, byte for byte
    summary = json.loads(after["summary.json"])
    assert set(summary["outputs"]) == _visible(study) - set(inputs)
    assert missing_outputs(study, "run") == [
        f"{name} (not listed in summary.json)" for name in sorted(inputs)]


# --------------------------------------------------------------- #12 a bad --out, first


def _argv(command: str, study: Path, out: str) -> list[str]:
    toml = str(study / "study.toml")
    return {
        "run": ["run", toml, "--out", out],
        "demo": ["demo", "--out", out],
        "audit": ["audit", toml, "--out", out],
        "suggest": ["suggest", toml, "--category", "tools", "--add", "1", "--out", out],
        "whatif": ["whatif", toml, "--remove", "TL01", "--out", out],
        "sweep": ["sweep", toml, "--adjacent-minutes", "5", "--min-spaces", "3", "--out", out],
        "plan": ["plan", str(ROOT / "data" / "examples" / "seoul_plan_2025.toml"), "--out", out],
        "compare": ["compare", toml, toml, "--out", out],
    }[command]


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_out_naming_a_file_is_one_line_before_any_work(command, study, tmp_path, capsys,
                                                       no_compute):
    a_file = tmp_path / "taken.txt"
    a_file.write_text("mine", encoding="utf-8")
    for out, words in ((a_file, "is a file"), (a_file / "sub", "cannot write"),
                       (Path("/proc/sharemap-cannot-be-here"), "cannot write")):
        assert main([*_argv(command, study, str(out)), "-q"]) == 2
        err = capsys.readouterr().err
        assert ERROR.match(err), err
        assert words in err and str(out) in err
    assert a_file.read_text(encoding="utf-8") == "mine"


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() == 0,
                    reason="root writes into read-only folders; the /proc case covers it")
def test_read_only_out_folder_is_one_line(study, tmp_path, capsys, no_compute):
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o555)
    try:
        assert main(["run", str(study / "study.toml"), "--out", str(ro), "-q"]) == 2
        assert "cannot write" in capsys.readouterr().err
    finally:
        ro.chmod(0o755)


# ------------------------------------------------------------ #5 one run's files per folder


def _with_groups_and_split(study: Path, out: Path) -> None:
    assert main(["run", str(study / "study.toml"), "--out", str(out), "--split-by", "dong",
                 "-q"]) == 0


def test_a_later_run_leaves_no_file_of_an_earlier_one(study, tmp_path):
    out = tmp_path / "out"
    _edit(study / "study.toml", "[map]\n", '[map]\nsplit_by = "dong"\n')
    assert main(["audit", str(study / "study.toml"), "--out", str(out), "-q"]) == 0
    first = _visible(out)
    assert {"report.html", "coverage_groups.csv"} <= first
    assert any(name.startswith("maps/") for name in first)
    assert missing_outputs(out, "audit") == []

    _edit(study / "study.toml", "groups = [", "# groups = [")
    _edit(study / "study.toml", 'split_by = "dong"\n', "")
    assert main(["run", str(study / "study.toml"), "--out", str(out), "-q"]) == 0
    second = _visible(out)
    assert "coverage_groups.csv" not in second and "report.html" not in second
    assert not (out / "maps").exists()
    assert second == set(json.loads((out / "summary.json").read_text("utf-8"))["outputs"])
    assert missing_outputs(out, "run") == []


def test_files_sharemap_did_not_write_or_that_were_changed_are_kept(study, tmp_path, capsys):
    out = tmp_path / "out"
    out.mkdir()
    (out / "notes.txt").write_text("mine", encoding="utf-8")
    (out / "maps").mkdir()
    (out / "maps" / "my-sketch.html").write_text("mine", encoding="utf-8")
    _with_groups_and_split(study, out)
    with open(out / "coverage_groups.csv", "a", encoding="utf-8") as fh:
        fh.write("edited in a spreadsheet\n")
    _edit(study / "study.toml", "groups = [", "# groups = [")
    capsys.readouterr()
    assert main(["run", str(study / "study.toml"), "--out", str(out)]) == 0
    left = _visible(out)
    assert {"notes.txt", "maps/my-sketch.html", "coverage_groups.csv"} <= left
    assert not [n for n in left if n.startswith("maps/") and n != "maps/my-sketch.html"]
    assert "Kept coverage_groups.csv" in capsys.readouterr().err  # and says so
    assert (out / "notes.txt").read_text(encoding="utf-8") == "mine"


def test_a_folder_written_before_manifests_is_cleaned_by_its_summary(study, tmp_path):
    out = tmp_path / "out"
    _with_groups_and_split(study, out)
    (out / _outputs.MANIFEST).unlink()  # as an older sharemap left it
    (out / "report.html").write_text("<html><title>Coverage audit: x</title>", "utf-8")
    (out / "mine.html").write_text("<html><title>mine</title>", "utf-8")
    assert main(["sweep", str(study / "study.toml"), "--adjacent-minutes", "5",
                 "--min-spaces", "3", "--out", str(out), "-q"]) == 0
    assert _visible(out) == {"sweep.csv", "mine.html"}


def _script_run(out: Path, study: Path, patch: str) -> subprocess.Popen:
    code = "\n".join([
        "import os, signal, sys, time",
        "from sharemap import _io, _outputs, pipeline",
        textwrap.dedent(patch),
        "from sharemap.cli import main",
        f"sys.exit(main(['run', {str(study / 'study.toml')!r}, '--out', {str(out)!r}, '-q']))",
    ])
    return subprocess.Popen([sys.executable, "-c", code], cwd=str(ROOT),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


KILL_AT_THIRD_CSV = """
real_csv, n = _io.write_csv, [0]
def write_csv(*a, **k):
    n[0] += 1
    if n[0] == 3:
        os.kill(os.getpid(), signal.SIGKILL)
    return real_csv(*a, **k)
_io.write_csv = write_csv
"""
KILL_AT_THIRD_MOVE = """
real_replace, n = os.replace, [0]
def replace(a, b):
    staged = os.path.basename(os.path.dirname(str(a))).startswith(".sharemap-staging")
    if staged and not os.path.basename(str(a)).startswith(".tmp-"):  # a move, not a write
        n[0] += 1
        if n[0] == 3:
            os.kill(os.getpid(), signal.SIGKILL)
    return real_replace(a, b)
_outputs.os.replace = replace
"""


def test_a_run_killed_while_writing_leaves_the_previous_run_whole(study, tmp_path):
    out = tmp_path / "out"
    assert main(["run", str(study / "study.toml"), "--out", str(out), "-q"]) == 0
    before = _files(out)
    _edit(study / "study.toml", "min_spaces = 3", "min_spaces = 2")  # another run's figures
    proc = _script_run(out, study, KILL_AT_THIRD_CSV)
    proc.communicate(timeout=300)
    assert proc.returncode == -signal.SIGKILL
    after = _files(out)
    assert {k: v for k, v in after.items() if not k.startswith(".sharemap-staging")} == before
    assert list(out.glob(".sharemap-staging*"))  # the killed run's half-written files ...
    with _outputs.OutputFolder(out):  # ... are cleared by the next sharemap into the folder
        pass
    assert _files(out) == before


def test_a_run_killed_during_the_final_moves_is_finished_by_the_next(study, tmp_path):
    out = tmp_path / "out"
    assert main(["run", str(study / "study.toml"), "--out", str(out), "-q"]) == 0
    _edit(study / "study.toml", "min_spaces = 3", "min_spaces = 2")
    proc = _script_run(out, study, KILL_AT_THIRD_MOVE)
    proc.communicate(timeout=300)
    assert proc.returncode == -signal.SIGKILL
    assert not (out / "summary.json").exists()  # no index describing a mix of two runs
    with _outputs.OutputFolder(out):  # any sharemap opening the folder finishes the commit
        pass
    assert missing_outputs(out, "run") == []
    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    assert summary["parameters"]["villages"]["min_spaces"] == 2  # the killed run's, complete
    blocks = gpd.read_file(out / "blocks.gpkg", layer="blocks")
    assert blocks["candidate"].sum() == summary["counts"]["candidates"]


def test_two_runs_into_one_folder_do_not_interleave(study, tmp_path):
    out = tmp_path / "out"
    slow = ("real = pipeline.run_study\n"
            "def run_study(*a, **k):\n"
            "    time.sleep(4)\n"
            "    return real(*a, **k)\n"
            "pipeline.run_study = run_study\n")
    first = _script_run(out, study, slow)
    deadline = time.time() + 60
    while not list(out.glob(".sharemap-staging*")) and time.time() < deadline:
        time.sleep(0.1)  # the first run has checked and locked the folder
    _edit(study / "study.toml", "min_spaces = 3", "min_spaces = 2")
    second = _script_run(out, study, "")
    _, err2 = second.communicate(timeout=300)
    _, err1 = first.communicate(timeout=300)
    assert first.returncode == 0, err1
    assert second.returncode == 2
    assert ERROR.match(err2) and "another sharemap run is writing" in err2
    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    assert summary["parameters"]["villages"]["min_spaces"] == 3  # the first run's files only
    assert missing_outputs(out, "run") == []


# ------------------------------------------------------------ #11 long unit ids


def test_long_hangul_unit_ids_become_short_unique_file_names(study, tmp_path, capsys):
    dongs = json.loads((study / "dong.geojson").read_text(encoding="utf-8"))
    long_a, long_b = "가" * 79, "가" * 78 + "나"
    dongs["features"][0]["properties"]["adm_cd2"] = long_a
    dongs["features"][1]["properties"]["adm_cd2"] = long_b
    (study / "dong.geojson").write_text(json.dumps(dongs, ensure_ascii=False), "utf-8")
    out = tmp_path / "out"
    assert main(["run", str(study / "study.toml"), "--out", str(out), "--split-by", "dong",
                 "-q"]) == 0, capsys.readouterr().err
    maps = sorted((out / "maps").glob("*.html"))
    assert all(len(p.name.encode("utf-8")) <= 120 for p in maps)
    index = (out / "maps" / "index.html").read_text(encoding="utf-8")
    from urllib.parse import unquote

    links = [unquote(h) for h in re.findall(r'href="([^"#]+\.html)"', index)]
    assert len(links) == len(maps) == len(set(links))
    assert all((out / "maps" / link).is_file() for link in links)
    assert missing_outputs(out, "run") == []


# ------------------------------------------------------------ files as GDAL 3.6 reads them


@pytest.fixture(scope="module")
def demo_out(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("outputs") / "demo"
    assert main(["demo", "--out", str(out), "-q"]) == 0
    return out


def _ogrinfo(path: Path) -> str:
    if shutil.which("ogrinfo") is None:
        pytest.skip("ogrinfo (Debian's gdal-bin) is not installed")
    done = subprocess.run(["ogrinfo", "-ro", "-so", "-al", str(path)], capture_output=True,
                          text=True, check=False)
    assert done.returncode == 0, done.stderr
    return done.stdout + done.stderr


@pytest.mark.parametrize("name", ["blocks.gpkg", "spaces.gpkg"])
def test_geopackages_open_without_a_warning_in_the_systems_gdal(demo_out, name):
    text = _ogrinfo(demo_out / name)
    assert "Warning" not in text and "ERROR" not in text
    assert "Layer name: " + name.split(".")[0] in text


def test_villages_geojson_is_rfc7946(demo_out):
    text = _ogrinfo(demo_out / "villages.geojson")
    assert "Geometry: Multi Polygon" in text and "Warning" not in text
    raw = (demo_out / "villages.geojson").read_text(encoding="utf-8")
    assert '"crs"' not in raw
    doc = json.loads(raw)
    coords = shapely.get_coordinates(shapely.from_geojson(
        [json.dumps(f["geometry"]) for f in doc["features"]]))
    assert len(coords) and (coords.round(7) == coords).all()  # 7 decimals (1 cm), no more
    assert re.search(r"\d\.\d{8}", raw.split('"geometry"', 1)[1].split("}", 1)[0]) is None
    assert {f["geometry"]["type"] for f in doc["features"]} == {"MultiPolygon"}
    for feature in doc["features"]:
        for polygon in feature["geometry"]["coordinates"]:
            exterior, *holes = polygon
            assert shapely.LinearRing(exterior).is_ccw
            assert not any(shapely.LinearRing(h).is_ccw for h in holes)
    back = gpd.read_file(demo_out / "villages.geojson")
    assert back.crs.to_epsg() == 4326
    assert len(back) == json.loads((demo_out / "summary.json").read_text("utf-8"))[
        "counts"]["villages"]


# ------------------------------------------------------------ the registry (issue 13)


def _columns(path: Path, layer: str | None) -> list[str]:
    if path.suffix == ".csv":
        return list(pd.read_csv(path, nrows=0, encoding="utf-8-sig").columns)
    return list(pyogrio.read_info(path, layer=layer)["fields"])


def test_every_written_file_is_a_registry_entry_with_its_columns(demo_out):
    entries = {o.name: o for o in outputs_of("run")}
    for name in _visible(demo_out):
        entry = entries[name if "/" not in name else name.split("/")[0] + "/"]
        if entry.columns:
            cols = _columns(demo_out / name, entry.layer)
            assert cols[:len(entry.columns)] == list(entry.columns), name


@pytest.mark.parametrize("command", ["run", "audit", "suggest", "whatif", "sweep", "plan",
                                     "compare"])
def test_readme_tables_are_the_registry(command):
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    match = re.search(rf"<!-- outputs:{command} -->\n(.*?)<!-- /outputs:{command} -->", readme,
                      flags=re.S)
    assert match, f"README has no generated table of {command}'s outputs"
    assert match.group(1) == readme_table(command, beyond="run" if command == "audit" else None)


def test_ci_checks_the_demo_folder_with_the_registry():
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert "sharemap.outputs check out/demo demo" in ci
    assert "for f in blocks.gpkg" not in ci  # no list of its own


def test_every_command_writes_through_the_registry(study, tmp_path):
    out = tmp_path / "o"
    toml = str(study / "study.toml")
    for command, argv in (
            ("suggest", ["suggest", toml, "--category", "tools", "--add", "1"]),
            ("whatif", ["whatif", toml, "--remove", "TL01"]),
            ("sweep", ["sweep", toml, "--adjacent-minutes", "5", "--min-spaces", "3"]),
            ("audit", ["audit", toml])):
        assert main([*argv, "--out", str(out), "-q"]) == 0
        assert missing_outputs(out, command) == [], command
        written = _visible(out)
        assert written <= {o.name for o in outputs_of(command)}, command  # nothing else
