"""Machine / library metadata and thread control for the benchmarks."""

from __future__ import annotations

import ctypes
import os
import platform
import sys

import numpy as np

# Symbols that return the current BLAS thread count, per library family (what threadpoolctl
# uses too). scipy-openblas (numpy's wheels) prefixes and suffixes its symbols.
_GETTERS = {
    "openblas": ("openblas_get_num_threads", "openblas_get_num_threads64_",
                 "scipy_openblas_get_num_threads64_", "scipy_openblas_get_num_threads"),
    "mkl": ("MKL_Get_Max_Threads",),
    "blis": ("bli_thread_get_num_threads",),
}


def cpu_model() -> str:
    """The "model name" line of /proc/cpuinfo (falls back to platform.processor())."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as fh:
            for line in fh:
                if line.lower().startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown"


def numpy_blas_name() -> str:
    """BLAS that numpy was built against, from ``numpy.show_config`` (best effort)."""
    try:
        cfg = np.show_config(mode="dicts")
        blas = cfg["Build Dependencies"]["blas"]
        return f"{blas.get('name', '?')} {blas.get('version', '')}".strip()
    except Exception:  # older numpy / unusual builds
        return "unknown"


def _loaded_blas_libraries() -> list[tuple[str, str]]:
    """(family, path) of BLAS shared libraries mapped into this process (Linux only)."""
    found: dict[str, str] = {}
    try:
        with open("/proc/self/maps", encoding="utf-8", errors="replace") as fh:
            for line in fh:
                parts = line.split()
                path = parts[-1] if len(parts) >= 6 else ""
                base = os.path.basename(path).lower()
                for family, key in (("openblas", "openblas"), ("mkl", "mkl_rt"), ("blis", "libblis")):
                    if key in base and ".so" in base:
                        found.setdefault(path, family)
    except OSError:
        return []
    # numpy's own vendored library first
    np_dir = os.path.dirname(os.path.dirname(np.__file__))
    return sorted(((fam, p) for p, fam in found.items()), key=lambda fp: not fp[1].startswith(np_dir))


def blas_threads() -> dict:
    """Detect numpy's BLAS thread count: threadpoolctl, else ctypes on the loaded library,
    else environment variables, else "unknown"."""
    info = {"library": numpy_blas_name(), "num_threads": None, "source": "unknown"}
    try:
        from threadpoolctl import threadpool_info

        pools = [p for p in threadpool_info() if p.get("user_api") == "blas"]
        if pools:
            info.update(num_threads=pools[0].get("num_threads"), source="threadpoolctl",
                        library=f"{pools[0].get('internal_api')} {pools[0].get('version')}",
                        architecture=pools[0].get("architecture"))
            return info
    except ImportError:
        pass
    for family, path in _loaded_blas_libraries():
        try:
            lib = ctypes.CDLL(path)
        except OSError:
            continue
        for sym in _GETTERS[family]:
            fn = getattr(lib, sym, None)
            if fn is not None:
                fn.restype = ctypes.c_int
                info.update(num_threads=int(fn()), source=f"ctypes {os.path.basename(path)}:{sym}")
                return info
    for var in ("OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "OMP_NUM_THREADS"):
        if os.environ.get(var, "").strip().isdigit():
            info.update(num_threads=int(os.environ[var]), source=f"env {var}")
            return info
    return info


def set_threads(n: int | None) -> dict:
    """Set torch's intra-op threads to ``n`` (default: keep torch.get_num_threads()) and,
    if threadpoolctl is importable, limit numpy's BLAS to the same number. Without
    threadpoolctl numpy's BLAS is left alone and only its detected thread count is reported.

    Returns a JSON-able dict; key "_limiter" holds the threadpoolctl object (keep it alive).
    """
    import torch

    if n is None:
        n = torch.get_num_threads()
    if n < 1:
        raise ValueError(f"Expected --threads >= 1, got {n}")
    torch.set_num_threads(n)
    out = {"requested": n, "torch": torch.get_num_threads(), "numpy_controlled_by": None}
    try:
        from threadpoolctl import threadpool_limits

        out["_limiter"] = threadpool_limits(limits=n, user_api="blas")
        out["numpy_controlled_by"] = f"limited to {n} by threadpoolctl"
    except ImportError:
        out["numpy_controlled_by"] = "not limited: threadpoolctl not installed"
    out["numpy_blas"] = blas_threads()
    return out


# glibc mallopt parameters
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3
HEAP_BYTES = 1 << 30


def keep_heap() -> str:
    """Make glibc's malloc serve every block up to 1 GiB from its heap and never give the heap
    back to the system (mallopt M_MMAP_THRESHOLD and M_TRIM_THRESHOLD), as a caching allocator
    (jemalloc, tcmalloc) would. Memory freed by one call is then reused by the next without
    page faults. PyTorch allocates its tensors afresh on every call: by default the large ones
    are mapped anew, or the heap's top is trimmed and grown again, and every page is faulted in
    each time. rnnkit recycles its arrays between calls either way. Blocks allocated from now
    on only. Returns what was set, for the metadata; raises RuntimeError where the C library
    is not glibc or refuses a value."""
    if platform.libc_ver()[0] != "glibc":
        raise RuntimeError(f"--heap needs glibc's malloc (mallopt), got C library {platform.libc_ver()!r}")
    libc = ctypes.CDLL(None)
    for name, param in (("M_MMAP_THRESHOLD", _M_MMAP_THRESHOLD), ("M_TRIM_THRESHOLD", _M_TRIM_THRESHOLD)):
        if libc.mallopt(param, HEAP_BYTES) != 1:
            raise RuntimeError(f"glibc refused mallopt({name}, {HEAP_BYTES})")
    return (f"glibc heap kept: mallopt M_MMAP_THRESHOLD = M_TRIM_THRESHOLD = {HEAP_BYTES} "
            "(freed blocks reused, no page faults per call)")


def versions() -> dict:
    import torch

    try:
        import rnnkit

        rk = getattr(rnnkit, "__version__", None)
        if rk is None:
            from importlib.metadata import version

            rk = version("rnnkit")
    except Exception as exc:  # reported, not fatal for metadata
        rk = f"unavailable ({type(exc).__name__})"
    return {
        "python": sys.version.split()[0],
        "numpy": np.__version__,
        "torch": torch.__version__,
        "rnnkit": rk,
        "platform": platform.platform(),
    }
