"""The practice tutorial ``notebooks/practice.ipynb`` runs from top to bottom, so it cannot rot.

The notebook is executed fresh with nbclient in a Jupyter kernel of the interpreter running the
tests (ipykernel, through a kernel spec written for this run, so no other installed "python3"
kernel can be picked up), in a temporary working folder (nothing is written into the
repository), with matplotlib's headless Agg backend. Any exception in any cell fails the test
with that cell's traceback; this includes the notebook's own ``assert`` statements, which check
the hand-written equations (forward passes, BPTT, finite differences) against rnnkit.

The notebook is stored without outputs, so that its diffs show only what a person wrote.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import nbformat
from jupyter_client.kernelspec import KernelSpecManager
from jupyter_client.manager import KernelManager
from nbclient import NotebookClient

NOTEBOOK = Path(__file__).resolve().parents[1] / "notebooks" / "practice.ipynb"
KERNEL_NAME = "rnnkit-tests"


def _kernel_manager(folder: Path) -> KernelManager:
    """A kernel manager whose only kernel runs ipykernel on ``sys.executable``."""
    spec = folder / "kernels" / KERNEL_NAME
    spec.mkdir(parents=True)
    (spec / "kernel.json").write_text(json.dumps({
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": f"Python ({sys.executable})",
        "language": "python",
    }))
    specs = KernelSpecManager(kernel_dirs=[str(folder / "kernels")])
    return KernelManager(kernel_name=KERNEL_NAME, kernel_spec_manager=specs)


def test_practice_notebook_runs_without_errors(tmp_path, monkeypatch):
    monkeypatch.setenv("MPLBACKEND", "Agg")
    monkeypatch.setenv("IPYTHONDIR", str(tmp_path / "ipython"))           # no profile in the home folder
    monkeypatch.setenv("JUPYTER_RUNTIME_DIR", str(tmp_path / "runtime"))  # connection files
    workdir = tmp_path / "work"
    workdir.mkdir()
    nb = nbformat.read(NOTEBOOK, as_version=4)
    km = _kernel_manager(tmp_path)
    client = NotebookClient(nb, km=km, timeout=300, startup_timeout=120,
                            resources={"metadata": {"path": str(workdir)}})
    try:
        client.execute()  # raises CellExecutionError (with the cell's traceback) on any error
    finally:
        if km.has_kernel:
            km.shutdown_kernel(now=True)
    code_cells = [c for c in nb.cells if c.cell_type == "code"]
    assert code_cells and all(c.execution_count is not None for c in code_cells), \
        "Expected every code cell of the notebook to have run."


def test_practice_notebook_is_stored_clean():
    nb = nbformat.read(NOTEBOOK, as_version=4)
    nbformat.validate(nb)
    dirty = [i for i, c in enumerate(nb.cells)
             if c.cell_type == "code" and (c.outputs or c.execution_count is not None)]
    assert not dirty, (f"Expected {NOTEBOOK.name} to be stored without outputs, got outputs in cells {dirty}. "
                       "Clear them: jupyter nbconvert --clear-output --inplace notebooks/practice.ipynb "
                       "(or Edit > Clear All Outputs before saving).")
