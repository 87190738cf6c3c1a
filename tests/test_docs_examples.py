"""The code in docs/training.md (and the README's training example, once it has one) runs as
written, and `import rnnkit` stays light."""

from __future__ import annotations

import pathlib
import re
import subprocess
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]


def _blocks(path: pathlib.Path) -> list[str]:
    return re.findall(r"```python\n(.*?)```", path.read_text(), flags=re.S)


def _training_blocks():
    blocks = [(f"training.md#{i}", b) for i, b in enumerate(_blocks(ROOT / "docs" / "training.md"))]
    blocks += [(f"README.md#{i}", b) for i, b in enumerate(_blocks(ROOT / "README.md")) if ".fit(" in b]
    return blocks


BLOCKS = _training_blocks()


def test_the_training_guide_has_examples():
    assert len([n for n, _ in BLOCKS if n.startswith("training.md")]) >= 4


@pytest.mark.parametrize("name,code", BLOCKS, ids=[n for n, _ in BLOCKS])
def test_documented_example_runs(name, code, tmp_path):
    out = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, f"{name} failed:\n{out.stderr[-3000:]}"


def test_import_rnnkit_loads_no_optional_dependency():
    code = ("import rnnkit, sys; print([m for m in ('torch', 'tqdm', 'safetensors', 'pandas', 'matplotlib') "
            "if m in sys.modules])")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.stdout.strip() == "[]", out.stdout + out.stderr
