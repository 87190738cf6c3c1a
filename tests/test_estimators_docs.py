"""The code in docs/estimators.md runs as written."""

from __future__ import annotations

import pathlib
import re
import subprocess
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
BLOCKS = re.findall(r"```python\n(.*?)```", (ROOT / "docs" / "estimators.md").read_text(), flags=re.S)


def test_the_estimator_guide_has_examples():
    assert len(BLOCKS) >= 4


@pytest.mark.parametrize("i", range(len(BLOCKS)))
def test_estimator_guide_example_runs(i, tmp_path):
    out = subprocess.run([sys.executable, "-c", BLOCKS[i]], cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, f"docs/estimators.md example {i} failed:\n{out.stderr[-3000:]}"
