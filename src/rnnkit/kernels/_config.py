"""What the kernels run on in this process, for whoever asks why training is as fast as it is
(as ``numpy.show_config()`` and ``torch.__config__.show()`` tell theirs); module ``_config`` so that
``rnnkit.kernels.config`` is the function::

    >>> import rnnkit
    >>> rnnkit.kernels.config()["packed_kernel"]      # doctest: +SKIP
    'avx512'

:func:`config` changes no setting (it finds NumPy's BLAS, which registers it with the loops as the
first kernel call would) and reports: whether the time loops run in C
(:func:`rnnkit.kernels.blas.c_loops`), the BLAS they call (:func:`rnnkit.kernels.blas.find`:
NumPy's OpenBLAS and the kernel set it chose for this CPU), which of ``csrc/packed.h``'s kernels
the float32 products run on and when, and notes on what makes this process slower than it could
be.
"""

from __future__ import annotations

import os

from . import _fused, blas

# OpenBLAS's names (openblas_get_corename) of the kernel sets whose float32 gemm uses AVX-512
AVX512_CORES = ("skylakex", "cooperlake", "sapphirerapids")

PACKED_MODES = {0: "never", 1: "where they pay", 2: "always"}


def blas_without_avx512(packed_kernel: str | None, core: str | None) -> bool:
    """Whether the CPU runs AVX-512 (rnnkit's kernel: ``packed_kernel == "avx512"``) but OpenBLAS's
    kernel set ``core`` (``openblas_get_corename``) does not use it, as OpenBLAS 0.3.31's Haswell
    kernels on AMD's Zen 5 (its issue 6029); False where either is unknown."""
    return packed_kernel == "avx512" and bool(core) and core.lower() not in AVX512_CORES


def config() -> dict:
    """The kernels' configuration in this process, as a dict:

    - ``c_loops``: whether the time loops run in C (else in Python: see ``notes``);
    - ``blas``: NumPy's OpenBLAS as the loops call it (``path``, ``core``: the kernel set OpenBLAS
      chose for this CPU, ``ilp64``, ``threads``: whether the loops split their steps over
      OpenBLAS's thread count, ``on_pool``: whether OpenBLAS's own threaded work runs on rnnkit's
      pool), or None where none was found or ``RNNKIT_NO_C_LOOP`` is set (then it is not looked
      for, nor registered);
    - ``packed_kernel``: ``"avx512"``, ``"avx2"`` or None, the kernel of rnnkit's own float32
      products (the best the CPU runs unless ``_fused.packed_kernel`` chose another);
    - ``packed_products``: when the loops use it, ``"never"`` (``RNNKIT_NO_PACKED=1``),
      ``"where they pay"`` (from 16 sequences) or ``"always"``;
    - ``notes``: sentences on what slows this process down and how to change it (empty if nothing).
    """
    no_c_loop = not blas.c_loops_wanted()
    found = None if no_c_loop else blas.find()  # (find registers the BLAS, as a first kernel call does)
    kernel = _fused.packed_kernel(None)
    mode = _fused.packed_products(-1)
    notes = []
    if no_c_loop:
        notes.append("RNNKIT_NO_C_LOOP is set: the time loops run in Python")
    elif found is None:
        notes.append("NumPy's BLAS is not an OpenBLAS rnnkit can call from C (NumPy built against MKL or "
                     "Accelerate?): the time loops run in Python, several times slower for short sequences; "
                     "NumPy's Linux and Windows wheels from PyPI, and conda-forge's NumPy on Linux, come with one")
    elif not found.threads:
        notes.append("the time loops run on one thread (RNNKIT_NO_POOL is set, or OpenBLAS has no thread controls "
                     "rnnkit can call)")
    if mode == 0 and kernel is not None:
        notes.append("the packed products are off (RNNKIT_NO_PACKED, or _fused.packed_products(0)): the float32 "
                     "loops' products run on OpenBLAS")
    core = found.core if found is not None else None
    if blas_without_avx512(kernel, core):
        notes.append(f"this CPU runs AVX-512 but NumPy's OpenBLAS its {core} kernels (OpenBLAS 0.3.31, for one, does "
                     "not know AMD's Zen 5: its issue 6029): NumPy's own products (rnnkit's Linear layers, float64, "
                     "single sequences' steps) run below the CPU's rate (at half of it on Zen 5's full-width "
                     "AVX-512 units); "
                     "OPENBLAS_CORETYPE=SkylakeX in the environment before Python starts makes them use AVX-512")
    return {
        "c_loops": not no_c_loop and found is not None,
        "blas": None if found is None else {"path": os.path.normpath(found.path), "core": core,
                                            "ilp64": found.ilp64, "threads": found.threads,
                                            "on_pool": found.blas_on_pool},
        "packed_kernel": kernel,
        "packed_products": PACKED_MODES.get(mode, str(mode)),
        "notes": notes,
    }
