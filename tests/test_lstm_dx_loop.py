"""dx = W_ih.T @ da_t in the LSTM's backward loop (``_fused.lstm_backward_seq``,
``csrc/sequence.h``): with claims, chunks of dx's rows are claimed step by step beside the units'
(dx_chunk); without (float64, or products not packed), each participant takes its share of the
columns of a chunk of steps, at the chunk's end.

Either way dx must be the product NumPy gives after the loop (the Python loop's, to rounding),
0 in the columns of finished sequences, and the same bit for bit whoever claimed which chunk.
I = 1, 13 (chunks of 6 rows and a part one) and 40 (more chunks of dx than of units)."""

from __future__ import annotations

import numpy as np
import pytest
from fused_helpers import loop_problem, packed_kernels

from rnnkit.kernels import _fused, blas, lstm_backward, lstm_forward
from rnnkit.kernels.common import STEP_PROJECTION_MIN_N

pytestmark = pytest.mark.skipif(blas.find() is None, reason="NumPy's BLAS cannot be called from C here")

N = STEP_PROJECTION_MIN_N + 8  # packed where the kernel runs: the claimed loop


def _backward(I, H, dtype, varlen, use_c, monkeypatch, N=N, T=9, reverse=False, masked=True):
    """y, dx and every other output of forward then backward, with the C loops or the Python ones"""
    p, dy, dstate = loop_problem(4, 2, N, dtype, reverse, masked, varlen, seed=I + H, T=T, I=I, H=H)
    with monkeypatch.context() as m:
        m.setattr(blas, "c_loops", lambda: use_c)
        y, _, cache = lstm_forward(**p)
        dx, ds0, grads, dh_sq = lstm_backward(cache, dy, dstate)
    return p, [y.copy(), dx.copy(), *ds0, dh_sq, *(grads[k] for k in sorted(grads))]


@pytest.mark.parametrize("I", [1, 13, 40])
@pytest.mark.parametrize("H", [8, 40])
@pytest.mark.parametrize("varlen", [False, True], ids=["full", "lengths"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["f32", "f64"])
def test_dx_matches_the_product_after_the_loop(I, H, varlen, dtype, monkeypatch, kernel_modes):
    """against the Python loop (dx = W_ih.T @ dA by NumPy after it), on 1 to 3 threads; finished
    columns exactly 0"""
    _, loop_threads = kernel_modes
    _, want = _backward(I, H, dtype, varlen, False, monkeypatch)
    tol = dict(rtol=1e-4, atol=1e-5) if dtype == np.float32 else dict(rtol=1e-11, atol=1e-12)
    for P in (1, 2, 3):
        loop_threads(P)
        p, got = _backward(I, H, dtype, varlen, True, monkeypatch)
        for i, (g, w) in enumerate(zip(got, want)):
            np.testing.assert_allclose(g, w, **tol, err_msg=f"output {i} on {P} threads")
        if varlen:
            for t, B in enumerate(p["batch_sizes"]):
                assert not got[1][:, t, B:].any(), f"dx of finished sequences at step {t}"


@pytest.mark.skipif(not packed_kernels() or not (blas.find() and blas.find().threads),
                    reason="no packed kernel, or no threads for the loops: no claims")
@pytest.mark.parametrize("kernel", packed_kernels())
@pytest.mark.parametrize("I", [1, 13, 40])
def test_claimed_dx_chunks_same_whoever_claims(kernel, I, monkeypatch, kernel_modes):
    """dx's chunks (6 rows each) with the units' on 2, 3 and 5 participants, against one (all of
    dx's rows in one chunk): bit for bit, reversed and with lengths"""
    packed_products, loop_threads = kernel_modes
    _fused.packed_kernel(kernel)
    packed_products(1)
    loop_threads(1)
    _, want = _backward(I, 40, np.float32, True, True, monkeypatch, reverse=True)
    for P in (2, 3, 5):
        loop_threads(P)
        assert _fused.loop_chunks(4, 40, N) > 1
        _, got = _backward(I, 40, np.float32, True, True, monkeypatch, reverse=True)
        np.testing.assert_array_equal(got[1], want[1], err_msg=f"dx on {P} participants")


@pytest.mark.parametrize("n", [N, 32])
def test_stacked_bidirectional_layer_with_lengths(n, monkeypatch):
    """float32 at 24 and 32 sequences (the claimed loops where packed): a 2-layer bidirectional
    LSTM with lengths and both dropouts, the C loops against the Python ones. Each direction's dx
    comes from its loop's own array; the two are summed into one and handed to the layer below as
    its dy."""
    import rnnkit

    rng = np.random.default_rng(4)
    x = rng.standard_normal((n, 11, 13)).astype(np.float32)
    lengths = rng.integers(1, 12, n)
    lengths[0] = 11
    results = []
    for use_c in (True, False):
        monkeypatch.setattr(blas, "c_loops", lambda use_c=use_c: use_c)
        layer = rnnkit.LSTM(13, 40, num_layers=2, bidirectional=True, batch_first=True, dropout=0.3,
                            recurrent_dropout=0.2, dtype="float32", seed=1)
        y, (h, c) = layer.forward(x, lengths=lengths)
        dx, _ = layer.backward(np.cos(y))
        results.append([y, h, c, dx, *(layer.grads[k] for k in sorted(layer.grads))])
    for i, (g, w) in enumerate(zip(*results)):
        np.testing.assert_allclose(g, w, rtol=1e-4, atol=1e-5, err_msg=f"output {i}")
