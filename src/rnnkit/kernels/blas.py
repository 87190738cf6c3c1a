"""NumPy's own BLAS, called from C: what lets the time loops run in C (``csrc/sequence.h``).

The C loops (``_fused.*_seq``) do the per-step product ``W_hh @ h`` with the same cblas gemm
that ``np.matmul`` uses, without going back to the interpreter between steps. NumPy does not
export its BLAS, but its wheels ship the library (scipy-openblas) beside the package:
:func:`find` opens that library with :mod:`ctypes` (the copy NumPy already loaded, so the same
threads and settings) and hands the addresses of ``cblas_sgemm`` and ``cblas_dgemm`` to
``_fused.use_blas``, once. Their integer width comes from the symbol names (``scipy_*64_``:
64-bit) and must agree with the build's own ``openblas_get_config()`` (``USE64BITINT``).

Where no such library is found (NumPy built against MKL or Accelerate, say), or with the
environment variable ``RNNKIT_NO_C_LOOP=1``, :func:`c_loops` is False and the kernels run
the same steps in a Python loop, with the same results to rounding.
"""

from __future__ import annotations

import ctypes
import glob
import os
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from . import _fused

# (symbol prefix, suffix, 64-bit integers) of the OpenBLAS builds NumPy wheels ship
_NAMINGS = (("scipy_", "64_", True), ("scipy_", "", False), ("", "64_", True), ("", "", False))


@dataclass(frozen=True)
class Blas:
    """The BLAS registered with ``_fused.use_blas``."""

    path: str
    ilp64: bool  # its integers are 64-bit


def _candidates() -> list[str]:
    """The OpenBLAS files a NumPy wheel ships: numpy.libs (Linux, Windows), numpy/.dylibs (macOS)."""
    root = os.path.dirname(np.__file__)
    found = []
    for folder in (os.path.join(root, "..", "numpy.libs"), os.path.join(root, ".libs"), os.path.join(root, ".dylibs")):
        found += sorted(glob.glob(os.path.join(folder, "*openblas*")))
    return found


@lru_cache(maxsize=1)
def find() -> Blas | None:
    """NumPy's OpenBLAS, registered with the C loops; None when this NumPy ships none we can call."""
    for path in _candidates():
        try:
            lib = ctypes.CDLL(path)
        except OSError:
            continue
        for prefix, suffix, ilp64 in _NAMINGS:
            try:
                sgemm = getattr(lib, f"{prefix}cblas_sgemm{suffix}")
                dgemm = getattr(lib, f"{prefix}cblas_dgemm{suffix}")
                config = getattr(lib, f"{prefix}openblas_get_config{suffix}")
            except AttributeError:
                continue
            config.restype, config.argtypes = ctypes.c_char_p, []
            if ("USE64BITINT" in (config() or b"").decode("ascii", "replace")) != ilp64:
                continue  # the names say one integer width, the build another: call neither
            address = lambda f: ctypes.cast(f, ctypes.c_void_p).value  # noqa: E731
            _fused.use_blas(address(sgemm), address(dgemm), int(ilp64))
            return Blas(path=path, ilp64=ilp64)
    return None


def c_loops() -> bool:
    """Whether the kernels run their time loops in C (else in Python: RNNKIT_NO_C_LOOP set to
    anything but "" or "0", or no BLAS found)."""
    return os.environ.get("RNNKIT_NO_C_LOOP", "") in ("", "0") and find() is not None
