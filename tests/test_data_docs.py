"""The examples in docs/data.md run as written, and the data, dataset, metric and plot
packages keep `import rnnkit` free of pandas and matplotlib."""

from __future__ import annotations

import pathlib
import re
import subprocess
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
BLOCKS = re.findall(r"```python\n(.*?)```", (ROOT / "docs" / "data.md").read_text(), flags=re.S)


def test_the_data_guide_has_examples():
    assert len(BLOCKS) >= 6


@pytest.mark.parametrize("code", BLOCKS, ids=[f"data.md#{i}" for i in range(len(BLOCKS))])
def test_data_guide_example_runs(code, tmp_path):
    if "rnnkit.plots" in code:
        pytest.importorskip("matplotlib")
    out = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-3000:]


def test_new_packages_import_without_pandas_or_matplotlib():
    code = ("import sys, rnnkit, rnnkit.data, rnnkit.datasets, rnnkit.metrics, rnnkit.plots; "
            "rnnkit.datasets.load_co2(); rnnkit.data.read_ts; "
            "print(sorted(m for m in ('pandas', 'matplotlib') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"
