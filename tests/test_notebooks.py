"""The notebooks in notebooks/ run top to bottom, offline, and are committed without outputs.

Each notebook is copied to a temporary folder (it writes ``out/...`` beside itself) and
executed with nbclient in a fresh ipykernel of the interpreter running the tests. A cell
that raises fails the test with the cell's traceback.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import time
from pathlib import Path

import pytest

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"
NAMES = ("01-quickstart.ipynb", "02-district-audit.ipynb", "03-what-if.ipynb")

# jupyter_core warns about its platformdirs migration unless this is set.
os.environ.setdefault("JUPYTER_PLATFORM_DIRS", "1")


def _read(path: Path):
    nbformat = pytest.importorskip("nbformat", reason="pip install 'sharemap[test]'")
    return nbformat.read(path, as_version=4)


def _kernel_manager_class(folder: Path) -> type:
    """A KernelManager class whose only kernel, ``sharemap-test``, is an ipykernel of *this*
    interpreter (not whatever "python3" kernel a user folder names), so the kernel imports
    the sharemap under test. nbclient creates, owns and shuts down the manager."""
    from jupyter_client.kernelspec import KernelSpecManager
    from jupyter_client.manager import KernelManager
    from traitlets import default

    spec = folder / "kernels" / "sharemap-test"
    spec.mkdir(parents=True)
    argv = [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"]
    (spec / "kernel.json").write_text(json.dumps(
        {"argv": argv, "display_name": "sharemap tests", "language": "python"}))

    class Manager(KernelManager):
        @default("kernel_spec_manager")
        def _only_the_test_kernel(self) -> KernelSpecManager:
            return KernelSpecManager(kernel_dirs=[str(folder / "kernels")])

    return Manager


def test_the_three_notebooks_are_there():
    assert sorted(p.name for p in NOTEBOOKS.glob("*.ipynb")) == sorted(NAMES)


@pytest.mark.parametrize("name", NAMES)
def test_committed_notebook_has_no_outputs(name):
    book = _read(NOTEBOOKS / name)
    code = [c for c in book.cells if c.cell_type == "code"]
    assert code, "no code cells"
    for cell in code:
        assert cell.outputs == [], f"{name}: a cell has outputs; clear them before committing"
        assert cell.execution_count is None, f"{name}: execution_count must be null"
    assert book.metadata["kernelspec"]["name"] == "python3"
    assert book.cells[0].cell_type == "markdown"  # each notebook says what it does first


@pytest.mark.parametrize("name", NAMES)
def test_notebook_runs_top_to_bottom(name, tmp_path):
    nbclient = pytest.importorskip("nbclient", reason="pip install 'sharemap[test]'")
    pytest.importorskip("ipykernel", reason="pip install 'sharemap[test]'")
    shutil.copy(NOTEBOOKS / name, tmp_path / name)
    book = _read(tmp_path / name)
    client = nbclient.NotebookClient(book, timeout=120, kernel_name="sharemap-test",
                                     kernel_manager_class=_kernel_manager_class(tmp_path),
                                     resources={"metadata": {"path": str(tmp_path)}})
    start = time.perf_counter()
    client.execute()  # raises CellExecutionError, with the traceback, if any cell fails
    seconds = time.perf_counter() - start
    assert seconds < 40, f"{name} took {seconds:.0f} s"
    outputs = [o for c in book.cells if c.cell_type == "code" for o in c.outputs]
    assert not [o for o in outputs if o.output_type == "error"]
    shown = [o for o in outputs if o.output_type in ("display_data", "execute_result")]
    html = "".join(o.get("data", {}).get("text/html", "") for o in shown)
    # every notebook shows a map inline as a self-contained page (Leaflet inlined, no CDN)
    assert '<iframe srcdoc="' in html and "L.map(" in html
    assert "cdn.jsdelivr" not in html and "unpkg.com" not in html
    if name == "01-quickstart.ipynb":
        assert (tmp_path / "out" / "quickstart" / "map.png").stat().st_size > 10_000
        assert any("image/png" in o.get("data", {}) for o in shown)  # map.png inline
    if name == "02-district-audit.ipynb":
        assert any("image/png" in o.get("data", {}) for o in shown)  # the chart
        assert (tmp_path / "out" / "audit" / "coverage_15min_by_dong.csv").exists()
