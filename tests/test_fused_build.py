"""The fused C steps compile to SIMD code: every loop of ``csrc/steps.h`` marked ``/* simd */``
is reported vectorised by GCC, for float and for double.

Speed is never asserted in tests, but this needs no clock: a loop the compiler leaves scalar
(a branch inside it was enough once) makes a step several times slower without any test of
results noticing. The check compiles ``module.c`` the way setup.py does, once for AVX2
(x86-64-v3) and once for the baseline, with ``RK_NO_CLONES`` (one target per compile), and
reads ``-fopt-info-vec-optimized``. It needs GCC on x86-64 and is skipped elsewhere.
"""

from __future__ import annotations

import platform
import re
import shutil
import subprocess
import sysconfig
from pathlib import Path

import pytest

import rnnkit

CSRC = Path(rnnkit.__file__).parent / "kernels" / "csrc"
GCC = shutil.which("gcc")

pytestmark = pytest.mark.skipif(
    GCC is None or platform.machine() not in ("x86_64", "AMD64") or not (CSRC / "module.c").exists(),
    reason="needs GCC on x86-64 and the C sources next to the package (a source checkout)",
)


def simd_lines() -> list[int]:
    lines = (CSRC / "steps.h").read_text().splitlines()
    marked = [i for i, line in enumerate(lines, 1) if "/* simd */" in line]
    assert marked, "steps.h has no loop marked /* simd */"
    return marked


@pytest.mark.parametrize("arch", ["x86-64-v3", "x86-64"])
def test_every_marked_loop_is_vectorised(arch, tmp_path):
    cmd = [GCC, "-O3", "-fno-trapping-math", "-DRK_NO_CLONES", f"-march={arch}",
           f"-I{sysconfig.get_paths()['include']}", "-fopt-info-vec-optimized", "-S",
           "-o", str(tmp_path / "module.s"), str(CSRC / "module.c")]
    report = subprocess.run(cmd, capture_output=True, text=True, check=True).stderr
    vectorised: dict[int, int] = {}
    for m in re.finditer(r"steps\.h:(\d+):\d+: optimized: loop vectorized", report):
        vectorised[int(m.group(1))] = vectorised.get(int(m.group(1)), 0) + 1
    # each function is compiled for float and double: at least two reports per marked loop
    missing = {line: vectorised.get(line, 0) for line in simd_lines() if vectorised.get(line, 0) < 2}
    assert not missing, (
        f"Expected every loop marked /* simd */ in steps.h to be vectorised for float and double "
        f"with -march={arch}; these lines were not (line: times reported): {missing}. Compile with "
        f"{' '.join(cmd[:-1])} -fopt-info-vec-missed to see why."
    )


NM = shutil.which("nm")


@pytest.mark.skipif(NM is None, reason="needs nm (binutils) to list the extension's symbols")
def test_no_math_function_is_left_out_of_line():
    """vmath.h's exp, sigmoid and tanh are inlined into every step function of the built extension
    (RK_INLINE): a copy of one in the binary means some loop calls it once per element, scalar.
    Checking the vectoriser's report (above) did not see it: there, with one target per compile,
    GCC inlined them; in the real build with three clones per function its inliner ran out of
    budget for some (the LSTM's one-sequence forward ran 1.7x slower)."""
    from rnnkit.kernels import _fused

    symbols = subprocess.run([NM, _fused.__file__], capture_output=True, text=True, check=True).stdout
    left = sorted({m.group(1) for m in re.finditer(r"\b(rk_(?:exp|sigmoid|tanh)_[fd])\b", symbols)})
    assert not left, f"Expected exp, sigmoid and tanh inlined everywhere, found out-of-line copies: {left}"
