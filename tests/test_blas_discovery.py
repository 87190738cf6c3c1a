"""Where ``kernels.blas`` looks for NumPy's OpenBLAS: the wheel's own folder (numpy.libs), and on
Linux the OpenBLAS libraries the process has loaded, unless NumPy says it was built against
another BLAS (conda-forge's NumPy links the environment's generic ``libblas``, by default its
``libopenblas``): NumPy's BLAS wherever its build put it, never another library's in a NumPy on
MKL or Accelerate."""

from __future__ import annotations

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


def test_loaded_openblas_libraries_this_environments_first(tmp_path, monkeypatch):
    env_lib = os.path.join(sys.prefix, "lib")
    other = "/opt/other/lib/libopenblas.so.0"
    mine = os.path.join(env_lib, "libopenblas.so.0")
    maps = _maps(tmp_path, other, "/usr/lib/libm.so.6", mine, mine, "/opt/x/libopenblasp-r0.3.21.so",
                 "/opt/x/openblas.txt")
    monkeypatch.setattr(blas, "_numpy_blas_name", lambda: "openblas")
    assert blas._loaded_openblas(maps) == [mine, "/opt/other/lib/libopenblas.so.0", "/opt/x/libopenblasp-r0.3.21.so"]


@pytest.mark.parametrize("name", ["mkl", "mkl-sdl", "accelerate", "blis", "armpl"])
def test_no_loaded_library_for_a_numpy_on_another_blas(name, tmp_path, monkeypatch):
    monkeypatch.setattr(blas, "_numpy_blas_name", lambda: name)
    assert blas._loaded_openblas(_maps(tmp_path, "/opt/other/lib/libopenblas.so.0")) == []


@pytest.mark.parametrize("name", ["openblas", "scipy-openblas", "blas", "cblas", ""])
def test_loaded_library_for_an_openblas_or_generic_numpy(name, tmp_path, monkeypatch):
    """conda-forge's NumPy names the generic "blas" it links (by default its OpenBLAS)."""
    monkeypatch.setattr(blas, "_numpy_blas_name", lambda: name)
    lib = "/opt/conda/lib/libopenblasp-r0.3.28.so"
    assert blas._loaded_openblas(_maps(tmp_path, lib)) == [lib]


def test_unreadable_maps_is_no_library(tmp_path, monkeypatch):
    monkeypatch.setattr(blas, "_numpy_blas_name", lambda: "openblas")
    assert blas._loaded_openblas(str(tmp_path / "missing")) == []


@pytest.mark.skipif(not LINUX or blas.find() is None, reason="the loaded libraries are read from Linux's /proc")
def test_numpys_loaded_openblas_is_found_without_the_wheels_folder(monkeypatch):
    """With the wheel's folder out of sight (as in a conda NumPy), the candidates still hold
    NumPy's OpenBLAS, found among the libraries the process has loaded."""
    wheel = os.path.realpath(blas.find().path)
    monkeypatch.setattr(blas.glob, "glob", lambda pattern: [])
    found = [os.path.realpath(p) for p in blas._candidates()]
    assert wheel in found
    assert "openblas" in blas._numpy_blas_name()
