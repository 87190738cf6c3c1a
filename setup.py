"""Build step for the one compiled part of rnnkit: the fused recurrent time steps.

Everything else is declared in pyproject.toml. The extension is plain C against the CPython
API (no NumPy headers, so nothing but a C compiler is needed to build it); see
src/rnnkit/kernels/csrc/.
"""

import platform
import sys

from setuptools import Extension, setup

if sys.platform == "win32":
    flags = ["/O2"]
else:
    # -fno-trapping-math lets the compiler turn the branch-free selects of vmath.h into SIMD
    # blends (results are unchanged: rnnkit never reads the floating-point exception flags).
    flags = ["-O3", "-fno-trapping-math"]
    if platform.machine().lower() in ("i386", "i486", "i586", "i686", "x86"):
        flags += ["-msse2", "-mfpmath=sse"]  # vmath.h needs float math without x87 excess precision

setup(
    ext_modules=[
        Extension(
            "rnnkit.kernels._fused",
            sources=["src/rnnkit/kernels/csrc/module.c"],
            depends=[f"src/rnnkit/kernels/csrc/{name}.h"
                     for name in ("steps", "sequence", "layout", "vmath", "packed", "packed_tile", "gradients",
                                  "pool")],
            extra_compile_args=flags,
        )
    ]
)
