"""``rnnkit.kernels.config()``: what the kernels run on in this process (the C loops, NumPy's
OpenBLAS and the kernel set it chose, rnnkit's packed kernel and when it runs) and the notes on
what would make the process faster; it reads and changes nothing."""

from __future__ import annotations

import os

import pytest

import rnnkit
from rnnkit.kernels import _fused, blas

from fused_helpers import packed_kernels

KERNELS = packed_kernels()


def test_config_says_what_runs():
    cfg = rnnkit.kernels.config()
    assert set(cfg) == {"c_loops", "blas", "packed_kernel", "packed_products", "notes"}
    assert cfg["c_loops"] == blas.c_loops()
    assert cfg["packed_kernel"] == _fused.packed_kernel(None)
    assert cfg["packed_products"] == {0: "never", 1: "where they pay", 2: "always"}[_fused.packed_products(-1)]
    found = blas.find()
    if found is None:
        assert cfg["blas"] is None
        return
    assert cfg["blas"]["core"] == found.core and cfg["blas"]["on_pool"] == found.blas_on_pool
    threadpoolctl = pytest.importorskip("threadpoolctl")
    pools = [p for p in threadpoolctl.threadpool_info() if p.get("internal_api") == "openblas"
             and os.path.realpath(p["filepath"]) == os.path.realpath(found.path)]  # not another library's
    if pools and pools[0].get("architecture"):  # OpenBLAS's own answer, through another library
        assert found.core == pools[0]["architecture"]


def test_config_changes_nothing():
    before = (_fused.packed_kernel(None), _fused.packed_products(-1))
    rnnkit.kernels.config()
    assert (_fused.packed_kernel(None), _fused.packed_products(-1)) == before


def _with_core(monkeypatch, core):
    found = blas.find()
    if found is None:
        pytest.skip("no OpenBLAS the loops call here")
    monkeypatch.setattr(blas, "find", lambda: blas.Blas(found.path, found.ilp64, found.threads,
                                                        found.blas_on_pool, core))


@pytest.mark.parametrize("kernel, core, noted", [
    ("avx512", "Haswell", True), ("avx512", "Zen", True), ("avx512", "SkylakeX", False),
    ("avx512", "COOPERLAKE", False), ("avx2", "Haswell", False), ("avx512", None, False)])
def test_note_on_an_openblas_without_the_cpus_avx512(kernel, core, noted, monkeypatch, kernel_modes):
    """NumPy's OpenBLAS 0.3.31 runs its Haswell kernels on AMD's Zen 5: the note says how to change
    it, where the CPU runs AVX-512 (rnnkit's own kernel: "avx512") and OpenBLAS's kernels do not."""
    if kernel not in KERNELS:
        pytest.skip(f"this CPU runs no {kernel} kernel")
    _fused.packed_kernel(kernel)
    _with_core(monkeypatch, core)
    notes = rnnkit.kernels.config()["notes"]
    hits = [n for n in notes if "OPENBLAS_CORETYPE=SkylakeX" in n]
    assert len(hits) == int(noted)
    if noted:
        assert f"its {core} kernels" in hits[0]


def test_notes_on_python_loops_and_packed_products_off(monkeypatch, kernel_modes):
    packed_products, _ = kernel_modes
    monkeypatch.setattr(blas, "find", lambda: None)
    cfg = rnnkit.kernels.config()
    assert cfg["blas"] is None and cfg["c_loops"] is False
    assert any("the time loops run in Python" in n and "MKL or Accelerate" in n for n in cfg["notes"])
    monkeypatch.undo()
    if blas.find() is not None:
        monkeypatch.setenv("RNNKIT_NO_C_LOOP", "1")
        assert rnnkit.kernels.config()["notes"][0] == "RNNKIT_NO_C_LOOP is set: the time loops run in Python"
        monkeypatch.delenv("RNNKIT_NO_C_LOOP")
    if KERNELS:
        packed_products(0)
        cfg = rnnkit.kernels.config()
        assert cfg["packed_products"] == "never"
        assert any("packed products are off" in n for n in cfg["notes"])


def test_note_on_loops_on_one_thread(monkeypatch):
    found = blas.find()
    if found is None:
        pytest.skip("no OpenBLAS the loops call here")
    monkeypatch.setattr(blas, "find", lambda: blas.Blas(found.path, found.ilp64, False, False, found.core))
    notes = rnnkit.kernels.config()["notes"]
    assert any(n.startswith("the time loops run on one thread (RNNKIT_NO_POOL") for n in notes)


def test_no_c_loop_does_not_look_for_the_blas(monkeypatch):
    """With RNNKIT_NO_C_LOOP set, config() neither looks for NumPy's BLAS nor registers it."""
    calls = []
    monkeypatch.setattr(blas, "find", lambda: calls.append(1))
    monkeypatch.setenv("RNNKIT_NO_C_LOOP", "1")
    cfg = rnnkit.kernels.config()
    assert calls == [] and cfg["blas"] is None and cfg["c_loops"] is False
