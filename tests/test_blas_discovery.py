"""Where ``kernels.blas`` looks for NumPy's OpenBLAS: the wheel's own folder (numpy.libs), and on
Linux the OpenBLAS libraries the process has loaded (conda-forge's NumPy links the environment's
generic ``libblas``, by default its ``libopenblas``). A loaded one counts only where NumPy's own
extension resolves its ``cblas_sgemm`` to that very library, never another library's OpenBLAS
(a SciPy wheel's, say, beside a NumPy on MKL)."""

from __future__ import annotations

import ctypes
import os
import sys

import pytest

from rnnkit.kernels import blas

LINUX = sys.platform.startswith("linux")


def _maps(tmp_path, *paths):
    lines = [f"7f00{i:04x}000-7f00{i:04x}fff r-xp 00000000 08:01 {1000 + i}    {p}\n" for i, p in enumerate(paths)]
    lines.append("7ffd00000000-7ffd00021000 rw-p 00000000 00:00 0    [stack]\n")
    lines.append("7ffd00030000-7ffd00031000 r--p 00000000 00:00 0\n")  # anonymous: five fields
    f = tmp_path / "maps"
    f.write_text("".join(lines))
    return str(f)


def test_loaded_openblas_libraries_this_environments_first(tmp_path):
    env_lib = os.path.join(os.path.realpath(sys.prefix), "lib")
    other = "/opt/other/lib/libopenblas.so.0"
    mine = os.path.join(env_lib, "libopenblas.so.0")
    maps = _maps(tmp_path, other, "/usr/lib/libm.so.6", mine, mine, "/opt/x/libopenblasp-r0.3.21.so",
                 "/opt/x/openblas.txt", "/opt/x/dir with space/libopenblas.so")
    assert blas._loaded_openblas(maps) == [mine, "/opt/other/lib/libopenblas.so.0",
                                           "/opt/x/dir with space/libopenblas.so", "/opt/x/libopenblasp-r0.3.21.so"]


def test_unreadable_maps_is_no_library(tmp_path):
    assert blas._loaded_openblas(str(tmp_path / "missing")) == []


@pytest.mark.skipif(not LINUX or blas.find() is None, reason="the loaded libraries are read from Linux's /proc")
def test_numpys_loaded_openblas_is_found_without_the_wheels_folder(monkeypatch):
    """With the wheel's folder out of sight (as in a conda NumPy), the candidates still hold
    NumPy's OpenBLAS, found among the libraries the process has loaded, and NumPy's extension
    resolves its cblas_sgemm to it."""
    found = blas.find()
    monkeypatch.setattr(blas, "_wheel_libraries", lambda: [])
    candidates = [os.path.realpath(p) for p in blas._candidates()]
    assert os.path.realpath(found.path) in candidates
    name = ("scipy_cblas_sgemm64_" if found.ilp64 else "scipy_cblas_sgemm") if "scipy" in found.path else "cblas_sgemm"
    lib = ctypes.CDLL(found.path)
    assert blas._numpys(name, blas._address(getattr(lib, name)))
    assert not blas._numpys(name, blas._address(getattr(lib, name)) + 16)


@pytest.mark.skipif(not LINUX or blas.find() is None, reason="the loaded libraries are read from Linux's /proc")
def test_another_librarys_openblas_is_not_numpys():
    """SciPy's wheel loads an OpenBLAS of its own (32-bit integers, other names): loaded, and among
    the candidates, but NumPy's extension does not resolve to it, so find() would not take it."""
    pytest.importorskip("scipy.linalg")
    numpys = os.path.realpath(blas.find().path)
    others = [p for p in blas._loaded_openblas() if os.path.realpath(p) != numpys]
    if not others:
        pytest.skip("SciPy here shares NumPy's OpenBLAS")
    for path in others:
        lib = ctypes.CDLL(path)
        for name in ("scipy_cblas_sgemm", "scipy_cblas_sgemm64_", "cblas_sgemm"):
            f = getattr(lib, name, None)
            if f is not None:
                assert not blas._numpys(name, blas._address(f)), (path, name)
