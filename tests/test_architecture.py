"""The house rules: imports point one way (import-linter's contract in pyproject.toml).

The contract is checked on the package as it is, and shown to fail on copies of it
that break a rule, directly and through a private helper, so that a passing check
means something.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("importlinter")

ROOT = Path(__file__).resolve().parents[1]


def _lint_imports(cwd: Path) -> subprocess.CompletedProcess[str]:
    # import-linter reads the contract from cwd's pyproject.toml and puts cwd first on
    # sys.path, so it analyses the package found there
    script = Path(sys.executable).with_name("lint-imports")
    cmd = [str(script)] if script.exists() else ["lint-imports"]
    return subprocess.run([*cmd, "--no-cache", "--no-logo"], cwd=cwd, capture_output=True,
                          text=True, timeout=120, check=False)


def test_the_package_keeps_the_contract():
    run = _lint_imports(ROOT)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "0 broken" in run.stdout


@pytest.mark.parametrize(("module", "line", "expect"), [
    # a stage importing the study level (what villages.py once did for StudyResult)
    ("villages.py", "from .pipeline import StudyResult",
     "sharemap.villages is not allowed to import sharemap.pipeline"),
    # an upward import hidden behind a private helper is caught too
    ("_engine.py", "from . import maps",
     "sharemap.access is not allowed to import sharemap.maps"),
    # the network does not know about snapping
    ("network.py", "from .access import snap_points",
     "sharemap.network is not allowed to import sharemap.access"),
])
def test_an_upward_import_breaks_the_contract(tmp_path, module, line, expect):
    shutil.copytree(ROOT / "sharemap", tmp_path / "sharemap",
                    ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    path = tmp_path / "sharemap" / module
    path.write_text(path.read_text(encoding="utf-8") + f"\n{line}  # upward\n",
                    encoding="utf-8")
    run = _lint_imports(tmp_path)
    assert run.returncode != 0
    assert "1 broken" in run.stdout
    assert expect in " ".join(run.stdout.split())


def _private_names_taken_across_modules(package: Path) -> list[str]:
    """``from .x import _name`` and ``x._name`` (x a sibling module) anywhere in the package."""
    import ast

    found = []
    for path in sorted(package.rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        where = path.relative_to(package.parent).as_posix()
        siblings = set()
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.level:
                for alias in node.names:
                    private = alias.name.startswith("_") and not alias.name.startswith("__")
                    if private and node.module is not None:
                        found.append(f"{where}:{node.lineno} {node.module}.{alias.name}")
                    siblings.add(alias.asname or alias.name)
        for node in ast.walk(tree):
            if (isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name)
                    and node.value.id in siblings and node.attr.startswith("_")
                    and not node.attr.startswith("__")):
                found.append(f"{where}:{node.lineno} {node.value.id}.{node.attr}")
    return found


def test_no_module_takes_another_modules_private_names():
    """A helper lives in the module that owns it: private names stay in their module.

    (Private *modules* such as ``_engine`` are for the package; their helpers have
    plain names.)
    """
    assert _private_names_taken_across_modules(ROOT / "sharemap") == []


def test_the_private_name_check_sees_both_forms(tmp_path):
    pkg = tmp_path / "pkg"
    pkg.mkdir()
    (pkg / "a.py").write_text("from .b import _hidden\nfrom . import c\nc._inner()\n",
                              encoding="utf-8")
    assert _private_names_taken_across_modules(pkg) == ["pkg/a.py:1 b._hidden",
                                                        "pkg/a.py:3 c._inner"]


def _contract_layers() -> set[str]:
    try:
        import tomllib
    except ModuleNotFoundError:  # Python 3.10
        import tomli as tomllib
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    (contract,) = [c for c in config["tool"]["importlinter"]["contracts"] if c["id"] == "one-way"]
    return {name.strip(" ()") for layer in contract["layers"] for name in layer.split("|")}


def _public_modules() -> set[str]:
    return {p.stem for p in (ROOT / "sharemap").glob("*.py") if not p.stem.startswith("_")}


def test_every_public_module_has_its_place_in_the_contract_and_the_readme():
    """A new module is placed in the one-way order and in README's Layout, or CI says so."""
    missing = sorted(_public_modules() - _contract_layers())
    assert not missing, (f"add {missing} to the layers of [tool.importlinter] in "
                         "pyproject.toml, at the level of what they import")
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    layout = readme.split("## Layout", 1)[1].split("```")[1]
    unlisted = sorted(m for m in _public_modules() if f"  {m}.py " not in layout)
    assert not unlisted, f"README's Layout does not say what {unlisted} hold"
