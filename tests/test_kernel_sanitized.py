"""The C loops under GCC's undefined-behaviour sanitizer: ``module.c`` compiled with
``-fsanitize=undefined -fno-sanitize-recover=undefined`` (one target, ``RK_NO_CLONES``) into a copy
of the package, and every loop run there in a child process, which any report aborts.

It found the copy of batch_sizes that each loop keeps in its scratch (``loop_scratch``) at an
address 4 bytes off 8 for some float32 shapes with several threads (after an odd count of floats:
the GRU's grouped weights, 3H(H + I) values, at H = 3 and I = 2, and the LSTM backward's claimed
chunks), read as int64 at every step: undefined in C, and a fault on CPUs that require aligned
loads. Needs GCC with its sanitizer runtime on x86-64 Linux (skipped elsewhere)."""

from __future__ import annotations

import os
import platform
import shutil
import subprocess
import sys
import sysconfig
import textwrap
from pathlib import Path

import pytest

import rnnkit

PACKAGE = Path(rnnkit.__file__).parent
GCC = shutil.which("gcc")


def _runtime() -> bool:
    if GCC is None:
        return False
    found = subprocess.run([GCC, "-print-file-name=libubsan.so"], capture_output=True, text=True).stdout.strip()
    return os.path.isabs(found)


pytestmark = pytest.mark.skipif(
    platform.machine() not in ("x86_64", "AMD64") or sys.platform != "linux" or not _runtime()
    or not (PACKAGE / "kernels" / "csrc" / "module.c").exists(),
    reason="needs GCC with libubsan on x86-64 Linux and the C sources next to the package",
)

CHILD = """
import itertools, os, sys
import numpy as np
import rnnkit
from rnnkit import kernels
from rnnkit.kernels import _fused, blas

assert _fused.__file__.startswith(sys.argv[1]), _fused.__file__
if blas.find() is None or not blas.find().threads:
    print("SKIP no C loops with threads here")
    sys.exit(0)
rng = np.random.default_rng(0)
runs = 0
for cell, dtype, P, packed, sized, masked, (N, H, I) in itertools.product(
        ("rnn", "lstm", "gru"), (np.float32, np.float64), (1, 2, 3), (0, 2), (False, True), (False, True),
        ((1, 3, 2), (3, 3, 2), (17, 5, 2), (17, 9, 7))):
    if packed and dtype == np.float64 or packed and _fused.packed_kernel(None) is None:
        continue
    _fused.loop_threads(P)
    _fused.packed_products(packed)
    G, T = {"rnn": 1, "lstm": 4, "gru": 3}[cell], 4
    x = rng.standard_normal((I, T, N)).astype(dtype)
    W_ih, W_hh = ((0.5 * rng.standard_normal((G * H, k))).astype(dtype) for k in (I, H))
    b = rng.standard_normal(G * H).astype(dtype)
    state = tuple(rng.standard_normal((H, N)).astype(dtype) for _ in range(2 if cell == "lstm" else 1))
    sizes = np.linspace(N, 1, T).round().astype(np.int64) if sized else None
    mask = rng.uniform(0.5, 1.5, (H, N)).astype(dtype) if masked else None
    for reverse in (False, True):
        y, _, cache = getattr(kernels, cell + "_forward")(x, state, W_ih, W_hh, b, b, batch_sizes=sizes,
                                                          rec_mask=mask, reverse=reverse)
        getattr(kernels, cell + "_backward")(cache, np.ones_like(y), state)
        getattr(kernels, cell + "_forward")(x, state, W_ih, W_hh, b, b, batch_sizes=sizes, rec_mask=mask,
                                            reverse=reverse, keep_cache=False)
        runs += 1
print("RUNS", runs)
"""


@pytest.mark.skipif(os.environ.get("RNNKIT_NO_C_LOOP", "") not in ("", "0"), reason="the C loops are switched off")
def test_loops_have_no_undefined_behaviour(tmp_path):
    copy = tmp_path / "rnnkit"
    shutil.copytree(PACKAGE, copy, ignore=shutil.ignore_patterns("*.so", "*.pyd", "__pycache__"))
    target = copy / "kernels" / f"_fused{sysconfig.get_config_var('EXT_SUFFIX')}"
    build = subprocess.run(
        [GCC, "-shared", "-fPIC", "-O1", "-g", "-DRK_NO_CLONES", "-fno-trapping-math", "-fsanitize=undefined",
         "-fno-sanitize-recover=undefined", f"-I{sysconfig.get_paths()['include']}", "-o", str(target),
         str(copy / "kernels" / "csrc" / "module.c"), "-lpthread"],
        capture_output=True, text=True)
    assert build.returncode == 0, f"the sanitized build failed:\n{build.stderr[-3000:]}"
    env = dict(os.environ, PYTHONPATH=str(tmp_path), UBSAN_OPTIONS="print_stacktrace=1")
    env.pop("RNNKIT_NO_C_LOOP", None)
    run = subprocess.run([sys.executable, "-c", textwrap.dedent(CHILD), str(tmp_path)], capture_output=True,
                         text=True, env=env, timeout=600)
    if "SKIP" in run.stdout:
        pytest.skip(run.stdout.strip())
    assert run.returncode == 0 and "runtime error" not in run.stderr, (
        f"the sanitized loops reported undefined behaviour (exit status {run.returncode}):\n{run.stderr[-4000:]}")
    assert "RUNS" in run.stdout
