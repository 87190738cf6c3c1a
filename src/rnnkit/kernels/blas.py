"""NumPy's own BLAS, called from C: what lets the time loops run in C (``csrc/sequence.h``).

The C loops (``_fused.*_seq``) do the per-step product ``W_hh @ h`` with the same cblas gemm
that ``np.matmul`` uses, without going back to the interpreter between steps. NumPy does not
export its BLAS, but its wheels ship the library (scipy-openblas) beside the package, and on
Linux a NumPy that links an OpenBLAS elsewhere (conda-forge's links the environment's generic
``libblas``, by default its OpenBLAS) has it among the process's loaded libraries
(:func:`_candidates`):
:func:`find` opens that library with :mod:`ctypes` (the copy NumPy already loaded, so the same
threads and settings) and hands the addresses of ``cblas_sgemm`` and ``cblas_dgemm`` to
``_fused.use_blas``, once. Their integer width comes from the symbol names (``scipy_*64_``:
64-bit) and must agree with the build's own ``openblas_get_config()`` (``USE64BITINT``).
``cblas_sgemv`` and ``cblas_dgemv`` go to ``_fused.use_blas_gemv``: a product with one column
(a single sequence's step) runs on them, since OpenBLAS's gemm copies the whole weight into its
own layout at every call and its gemv reads it as it is (3-4x less time per step product on a
Zen 3 core).

Where no such library is found (NumPy built against MKL or Accelerate, say), or with the
environment variable ``RNNKIT_NO_C_LOOP=1``, :func:`c_loops` is False and the kernels run
the same steps in a Python loop, with the same results to rounding.

Threads (``csrc/pool.h``). :func:`find` also registers OpenBLAS's thread controls: a C loop then
splits each step over as many threads as OpenBLAS uses (each thread owns a slice of the hidden
units: its rows of the product and its part of the gate pass), and OpenBLAS is handed rnnkit's
thread pool for its own multithreaded work (``openblas_set_threads_callback_function``,
"caller-managed threading", OpenBLAS >= 0.3.27). That second part applies to every NumPy
product in the process from then on (with conda's shared ``libblas``, to every other user of that
OpenBLAS in the process too): the same work, on threads that sleep after 0.2 ms idle
instead of spinning for about 0.1 s, which is what kept the gate pass off the second core.
``RNNKIT_NO_POOL=1`` (read once, at the first call) leaves OpenBLAS its own threads and runs
the loops on one thread, as before. A callback that another library installed before is left in
place (OpenBLAS's variable ``openblas_threads_callback_`` is read first): then only the loops use
the pool (``Blas.blas_on_pool`` is False).

Packed step products (``csrc/packed.h``). On x86-64 CPUs with AVX-512, the float32 loops do
their per-step products with their own kernel instead, on weights each thread packs once per
call, from 16 columns whatever the weight: 12-20% less time per product than OpenBLAS's
``sgemm`` on a Zen 4 core, which repacks the weight at every call (half on a Zen 5 core, where
NumPy's OpenBLAS 0.3.31 runs its AVX2 kernel). With AVX2 (no AVX-512) a version of the kernel
for 16 registers runs instead (``_fused.packed_kernel`` says which kernel runs).
``RNNKIT_NO_PACKED=1`` (read once, at the first product) keeps OpenBLAS for them;
``_fused.packed_products(mode)`` sets it at run time.
"""

from __future__ import annotations

import ctypes
import glob
import os
import sys
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
    threads: bool = False  # its thread controls are registered: the loops may split their steps
    blas_on_pool: bool = False  # OpenBLAS runs its own threaded work on rnnkit's pool (not another callback)
    core: str | None = None  # the kernel set OpenBLAS chose for this CPU (openblas_get_corename), e.g. "Haswell"


def _wheel_libraries() -> list[str]:
    """The OpenBLAS files a NumPy wheel ships: numpy.libs (Linux, Windows), numpy/.dylibs (macOS)."""
    root = os.path.dirname(np.__file__)
    found = []
    for folder in (os.path.join(root, "..", "numpy.libs"), os.path.join(root, ".libs"), os.path.join(root, ".dylibs")):
        found += sorted(glob.glob(os.path.join(folder, "*openblas*")))
    return found


def _candidates() -> list[str]:
    """The wheel's OpenBLAS files (:func:`_wheel_libraries`), then, on Linux, the OpenBLAS libraries
    this process has loaded (:func:`_loaded_openblas`: conda-forge's NumPy links the environment's
    ``libblas``, by default its ``libopenblas``, whose symbols have no prefix). :func:`find` takes
    a loaded one only where NumPy's own extension resolves its cblas_sgemm to it (:func:`_numpys`)."""
    found = _wheel_libraries()
    seen = {os.path.realpath(p) for p in found}
    return found + [p for p in _loaded_openblas() if os.path.realpath(p) not in seen]


def _loaded_openblas(maps: str = "/proc/self/maps") -> list[str]:
    """The OpenBLAS libraries mapped into this process (Linux; [] elsewhere), those in this
    environment's own lib folder (conda's) first."""
    try:
        with open(maps, encoding="utf-8", errors="replace") as fh:
            paths = {line.split(None, 5)[5].strip() for line in fh if len(line.split(None, 5)) == 6}
    except OSError:
        return []
    env_lib = os.path.join(os.path.realpath(sys.prefix), "lib") + os.sep
    libs = [p for p in paths if "openblas" in os.path.basename(p).lower() and ".so" in os.path.basename(p)]
    return sorted(libs, key=lambda p: (not os.path.realpath(p).startswith(env_lib), p))


def _numpys(name: str, address: int) -> bool:
    """Whether NumPy's own extension module resolves the symbol ``name`` to ``address``: the
    library it belongs to is the BLAS NumPy calls, not another one loaded in the same process (a
    SciPy wheel's OpenBLAS, say, beside a NumPy on MKL)."""
    core = getattr(np, "_core", None) or getattr(np, "core", None)
    try:
        own = ctypes.CDLL(core._multiarray_umath.__file__)
        return _address(getattr(own, name)) == address
    except (AttributeError, OSError, TypeError):
        return False


@lru_cache(maxsize=1)
def find() -> Blas | None:
    """NumPy's OpenBLAS, registered with the C loops; None when this NumPy ships none we can call."""
    wheel = {os.path.realpath(p) for p in _wheel_libraries()}
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
            if os.path.realpath(path) not in wheel and not _numpys(f"{prefix}cblas_sgemm{suffix}", _address(sgemm)):
                break  # loaded, but not the BLAS NumPy calls
            _fused.use_blas(_address(sgemm), _address(dgemm), int(ilp64))
            sgemv = getattr(lib, f"{prefix}cblas_sgemv{suffix}", None)
            dgemv = getattr(lib, f"{prefix}cblas_dgemv{suffix}", None)
            _fused.use_blas_gemv(*(0 if f is None else _address(f) for f in (sgemv, dgemv)))
            status = _use_threads(lib, prefix, suffix)
            return Blas(path=path, ilp64=ilp64, threads=status > 0, blas_on_pool=status == 1,
                        core=_core_name(lib, prefix, suffix))
    return None


def _core_name(lib: ctypes.CDLL, prefix: str, suffix: str) -> str | None:
    """OpenBLAS's name for the kernels it runs on this CPU ("Haswell", "SkylakeX", ...), or None."""
    fn = getattr(lib, f"{prefix}openblas_get_corename{suffix}", None)
    if fn is None:
        return None
    fn.restype, fn.argtypes = ctypes.c_char_p, []
    name = fn()
    return name.decode("ascii", "replace").strip() if name else None


def _address(f) -> int:
    return ctypes.cast(f, ctypes.c_void_p).value


def _use_threads(lib: ctypes.CDLL, prefix: str, suffix: str) -> int:
    """Register OpenBLAS's thread count and callback with ``_fused.use_blas_threads``: 1 when
    OpenBLAS's threaded work now runs on rnnkit's pool, 2 when only the loops use it (OpenBLAS
    without the callback API, or another library's callback already installed), 0 where
    RNNKIT_NO_POOL is set, or OpenBLAS or this build of ``_fused`` lacks the controls (then the
    loops run on one thread)."""
    if os.environ.get("RNNKIT_NO_POOL", "") not in ("", "0"):
        return 0
    try:
        get = getattr(lib, f"{prefix}openblas_get_num_threads{suffix}")
        set_ = getattr(lib, f"{prefix}openblas_set_num_threads{suffix}")
    except AttributeError:
        return 0
    callback = getattr(lib, f"{prefix}openblas_set_threads_callback_function{suffix}", None)
    # 0 from a build of _fused without the pool (no POSIX threads or C11 atomics)
    return _fused.use_blas_threads(_address(get), _address(set_), 0 if callback is None else _address(callback),
                                   _callback_variable(lib, prefix, suffix))


def _callback_variable(lib: ctypes.CDLL, prefix: str, suffix: str) -> int:
    """The address of OpenBLAS's ``openblas_threads_callback_`` (the callback installed now, NULL
    for none), or 0 where this build does not export it."""
    for name in ("openblas_threads_callback_", f"{prefix}openblas_threads_callback{suffix}"):
        try:
            return ctypes.addressof(ctypes.c_void_p.in_dll(lib, name))
        except ValueError:
            continue
    return 0


def c_loops() -> bool:
    """Whether the kernels run their time loops in C (else in Python: RNNKIT_NO_C_LOOP set to
    anything but "" or "0", or no BLAS found)."""
    return c_loops_wanted() and find() is not None


def c_loops_wanted() -> bool:
    """Whether the environment lets the loops run in C (RNNKIT_NO_C_LOOP unset, "" or "0"), whatever
    BLAS there is: :func:`c_loops` without looking for one."""
    return os.environ.get("RNNKIT_NO_C_LOOP", "") in ("", "0")
