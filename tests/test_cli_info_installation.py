"""``rnnkit info`` without MODEL: this installation's versions and what the kernels run on
(``rnnkit.kernels.config()``), as lines or as JSON."""

from __future__ import annotations

import json
import platform

import numpy as np

import rnnkit
from rnnkit.kernels import blas

from cli_helpers import run


def test_info_without_a_model_describes_the_installation(capsys):
    code, out, err = run(capsys, "info")
    assert code == 0 and err == ""
    lines = out.splitlines()
    assert lines[0].startswith(f"rnnkit {rnnkit.__version__}, Python {platform.python_version()}, "
                               f"NumPy {np.__version__} (")
    cfg = rnnkit.kernels.config()
    loops = next(line for line in lines if line.startswith("Time loops:"))
    assert ("in C" in loops) == cfg["c_loops"]
    if cfg["blas"] is not None and cfg["blas"]["core"]:
        assert f"({cfg['blas']['core']} kernels" in loops
    products = next(line for line in lines if line.startswith("float32 products:"))
    assert (cfg["packed_kernel"] or "NumPy's BLAS") in products
    assert [line[len("Note: "):] for line in lines if line.startswith("Note: ")] == cfg["notes"]


def test_info_without_a_model_as_json(capsys):
    code, out, _ = run(capsys, "info", "--json")
    assert code == 0
    d = json.loads(out)
    assert d["rnnkit"] == rnnkit.__version__ and d["numpy"] == np.__version__
    assert d["kernels"] == json.loads(json.dumps(rnnkit.kernels.config()))


def test_info_says_where_the_loops_run_without_openblas(capsys, monkeypatch):
    monkeypatch.setattr(blas, "find", lambda: None)
    code, out, _ = run(capsys, "info")
    assert code == 0
    assert "Time loops:       in Python, their step products NumPy's" in out
    assert "Note: NumPy's BLAS is not an OpenBLAS" in out
