"""Runs that the pool refuses (``pool_run_all`` in ``csrc/pool.h``).

A loop lays out its scratch for P participants, which meet at a barrier every step. Should the
pool refuse the run (its workers cannot be had: not expected, the loops reserve them first), the
P participants still run, on threads started for the call: results bit for bit those of the
pool's run. The same for the split copies, the LSTM's one-pass gradients and OpenBLAS's jobs.
``_fused.pool_refuse(True)`` makes the pool refuse every run of several participants, for these
tests, and counts the runs it refused.
"""

from __future__ import annotations

import numpy as np
import pytest
from test_c_loops import CELLS, _problem, _run
from test_loop_threads import _openblas_threads

from rnnkit.kernels import _fused, blas
from rnnkit.kernels.common import copy_steps, previous_states

from fused_helpers import needs_packed_kernel, packed_kernels

pytestmark = pytest.mark.skipif(blas.find() is None or not blas.find().threads,
                                reason="NumPy's OpenBLAS and its thread controls cannot be called from C here")


@pytest.fixture
def refuse():
    """_fused.pool_refuse; the pool takes runs again after the test"""
    _fused.pool_refuse(False)
    yield _fused.pool_refuse
    _fused.pool_refuse(False)


def _refused(refuse, fn):
    """fn() with the pool refusing; (its result, the runs the pool refused meanwhile)"""
    refuse(True)
    try:
        out = fn()
    finally:
        refused = refuse(False)
    return out, refused


@pytest.mark.parametrize("cell", list(CELLS))
@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["f32", "f64"])
@pytest.mark.parametrize("P", [2, 3])
def test_refused_loop_runs_on_threads_of_its_own(cell, dtype, P, threads, refuse, monkeypatch):
    """Every cell, reversed, with masks and lengths, 11 hidden units over 2 and 3 participants"""
    p, dy, dstate = _problem(cell, 40, dtype, True, True, True, H=11)
    threads(P)
    want = _run(cell, p, dy, dstate, True, monkeypatch)
    got, refused = _refused(refuse, lambda: _run(cell, p, dy, dstate, True, monkeypatch))
    assert refused >= 2  # the forward's loop and the backward's
    for g, w in zip(got, want):
        np.testing.assert_array_equal(g, w)


@needs_packed_kernel
@pytest.mark.parametrize("kernel", packed_kernels())
def test_refused_lstm_claims_chunks_on_threads_of_its_own(kernel, threads, refuse, kernel_modes, monkeypatch):
    """The LSTM's packed loops, whose participants claim chunks of units, on 3 threads"""
    packed_products, _ = kernel_modes
    _fused.packed_kernel(kernel)
    packed_products(2)
    p, dy, dstate = _problem("lstm", 40, np.float32, False, True, True, H=50)
    threads(3)
    assert _fused.loop_chunks(4, 50, 40) > 3
    want = _run("lstm", p, dy, dstate, True, monkeypatch)
    got, refused = _refused(refuse, lambda: _run("lstm", p, dy, dstate, True, monkeypatch))
    assert refused >= 2
    for g, w in zip(got, want):
        np.testing.assert_array_equal(g, w)


def test_refused_copy_is_still_split(threads, refuse):
    threads(3)
    user = np.random.default_rng(0).standard_normal((33, 9, 19)).astype(np.float32)
    out = np.full((19, 9, 33), np.nan, np.float32)
    _, refused = _refused(refuse, lambda: copy_steps(out, user.transpose(2, 1, 0)))
    assert refused == 1
    np.testing.assert_array_equal(out, user.transpose(2, 1, 0))


@needs_packed_kernel
def test_refused_gate_gradients(threads, refuse, kernel_modes):
    """_fused.gate_gradients on 3 participants, which meet at a barrier per chunk of K"""
    packed_products, _ = kernel_modes
    packed_products(2)
    threads(3)
    rng = np.random.default_rng(1)
    GH, I, H, T, N = 52, 17, 13, 9, 37
    dA = rng.standard_normal((GH, T, N)).astype(np.float32)
    x = rng.standard_normal((I, T, N)).astype(np.float32)
    h = previous_states(rng.standard_normal((H, T + 1, N)).astype(np.float32), False)
    W_ih = rng.standard_normal((GH, I)).astype(np.float32)

    def gradients():
        outs = (np.empty((GH, I), np.float32), np.empty((GH, H), np.float32), np.empty(GH, np.float32),
                np.empty(x.shape, np.float32))
        assert _fused.gate_gradients(dA, x, h, None, W_ih, *outs) is True
        return outs

    want = gradients()
    got, refused = _refused(refuse, gradients)
    assert refused == 1
    for g, w in zip(got, want):
        np.testing.assert_array_equal(g, w)


def test_refused_openblas_jobs(threads, refuse):
    """NumPy's threaded products, whose jobs OpenBLAS hands to the pool (blas.find()), run on
    threads started for them"""
    threads(0)
    rng = np.random.default_rng(2)
    a, b = rng.standard_normal((400, 300)), rng.standard_normal((300, 500))
    want = a @ b
    got, refused = _refused(refuse, lambda: a @ b)
    np.testing.assert_array_equal(got, want)
    if _openblas_threads()() > 1:  # else OpenBLAS does the product alone
        assert refused >= 1


def test_pool_refuse_takes_a_bool(refuse):
    for bad in (1, 0, None, "yes"):
        with pytest.raises(TypeError, match=r"_fused.pool_refuse: expected True or False, got"):
            refuse(bad)
    assert refuse(True) == 0
    assert refuse(False) == 0
