"""Claimed chunks: the LSTM's packed float32 C loops (``csrc/module.c``: claim,
``csrc/sequence.h``: lstm_fwd_claimed, lstm_bwd_claimed).

Instead of a fixed slice of hidden units each, the participants take chunks of units step by
step, their own first and then what is left of the others': a slower thread's last chunks go to
a faster one (one participant takes one chunk of all units). Whoever computes a chunk, every
result must be that of one thread bit for bit (the same products and gate passes, unit by unit),
but two, which may differ from one thread's to rounding: the sums of dh^2, added up by chunk in a
fixed order, and the weight gradients, each participant's share of their rows a product of its
own (lstm_chunk_grads), whose float32 sums OpenBLAS may take in another order for another number
of rows. More participants than chunks, more than cores, finished sequences, masks and both
directions included. The claimed loops against OpenBLAS's: tests/test_packed_products.py.
"""

from __future__ import annotations

import numpy as np
import pytest
from fused_helpers import packed_kernels
from test_c_loops import _problem, _run

import rnnkit
from rnnkit.kernels import _fused, blas
from rnnkit.kernels.common import STEP_PROJECTION_MIN_N

KERNELS = packed_kernels()

pytestmark = [
    pytest.mark.skipif(blas.find() is None or not blas.find().threads,
                       reason="NumPy's OpenBLAS and its thread controls cannot be called from C here"),
    pytest.mark.skipif(not KERNELS, reason="no packed kernel on this CPU or build: no claims"),
    pytest.mark.parametrize("kernel", KERNELS),
]

N = STEP_PROJECTION_MIN_N + 24  # packed, and the forward loop projects x itself: its fused step


@pytest.fixture
def on_kernel(kernel, kernel_modes):
    """loop_threads for a test on `kernel` with packed_products(1), the default (another may be
    set for the whole run); conftest's kernel_modes puts all three back after it"""
    packed_products, loop_threads = kernel_modes
    _fused.packed_kernel(kernel)
    packed_products(1)
    return loop_threads


def _compare(got, want):
    """every output bit for bit but dh_sq and the gradients, to rounding (lstm's outputs: y, h_T, c_T,
    dx, dh0, dc0, dh_sq, then the gradients)"""
    for i, (g, w) in enumerate(zip(got, want)):
        assert g.shape == w.shape
        if i >= 6:
            np.testing.assert_allclose(g, w, rtol=1e-6, atol=1e-6 * float(np.abs(w).max()))
        else:
            np.testing.assert_array_equal(g, w)


def test_chunks_claimed(on_kernel):
    """About 8 chunks per participant, each a multiple of 6 units (the backward's packed blocks),
    one for a single participant; none below 16 columns (not packed) or for another cell than the
    LSTM"""
    on_kernel(2)
    assert _fused.loop_chunks(4, 64, N) == 11  # 6 units each, the last 4
    assert _fused.loop_chunks(4, 128, N) == 11  # 12 units each
    assert _fused.loop_chunks(4, 256, N) == 15  # 18 units each
    assert _fused.loop_chunks(4, 64, 8) == 0
    assert _fused.loop_chunks(3, 64, N) == 0
    on_kernel(3)
    assert _fused.loop_chunks(4, 8, N) == 2  # fewer chunks than participants
    on_kernel(1)
    assert _fused.loop_chunks(4, 64, N) == 1
    with pytest.raises(TypeError, match="takes 3 arguments"):
        _fused.loop_chunks(4, 64)


@pytest.mark.parametrize("P", [2, 3, 5])
@pytest.mark.parametrize("H", [8, 11, 40, 64])
@pytest.mark.parametrize("masked", [False, True], ids=["nomask", "mask"])
@pytest.mark.parametrize("reverse", [False, True], ids=["fwd", "rev"])
@pytest.mark.parametrize("packed", [False, True], ids=["full", "packed"])
def test_claimed_loop_matches_one_thread(on_kernel, monkeypatch, P, H, masked, reverse, packed):
    """H = 8 (2 chunks: some participants own none), 11, 40, 64, against one participant"""
    p, dy, dstate = _problem("lstm", N, np.float32, reverse, masked, packed, H=H)
    on_kernel(1)
    want = _run("lstm", p, dy, dstate, True, monkeypatch)
    on_kernel(P)
    assert _fused.loop_chunks(4, H, N) > 1
    _compare(_run("lstm", p, dy, dstate, True, monkeypatch), want)


def test_claimed_loop_dy_none(on_kernel, monkeypatch):
    p, dy, dstate = _problem("lstm", N, np.float32, False, True, True, H=40)
    on_kernel(1)
    want = _run("lstm", p, None, dstate, True, monkeypatch)
    on_kernel(2)
    _compare(_run("lstm", p, None, dstate, True, monkeypatch), want)


def test_claimed_loop_stress(on_kernel, monkeypatch):
    """T = 80, 2 to 13 participants (one chunk each at 7), far more than the cores that run them, so
    that they are preempted between a claim and its chunk: any chunk done twice or never, or a
    participant one step ahead taking a chunk of the next step, shows here"""
    p, dy, dstate = _problem("lstm", N, np.float32, True, True, True, T=80, H=42)
    on_kernel(1)
    want = _run("lstm", p, dy, dstate, True, monkeypatch)
    for P in (2, 4, 7, 13):
        on_kernel(P)
        for _ in range(3):
            _compare(_run("lstm", p, dy, dstate, True, monkeypatch), want)


@pytest.mark.parametrize("options", [{}, {"bidirectional": True, "num_layers": 2}], ids=["plain", "bi2"])
def test_layer_training_step_matches_one_thread(on_kernel, options):
    """rnnkit.LSTM: output and dx as with one thread, bit for bit; the gradients and their norms to
    rounding"""
    rng = np.random.default_rng(0)
    x = rng.standard_normal((N, 12, 5)).astype(np.float32)
    lengths = rng.integers(1, 13, size=N)
    results = []
    for P in (1, 2):
        on_kernel(P)
        layer = rnnkit.LSTM(5, 48, batch_first=True, dtype="float32", seed=3, **options)
        y, _ = layer.forward(x, lengths=lengths)
        dx, _ = layer.backward(np.ones_like(y))
        results.append((y, dx, dict(layer.grads), layer.hidden_grad_norms))
    (y1, dx1, g1, n1), (y2, dx2, g2, n2) = results
    np.testing.assert_array_equal(y2, y1)
    np.testing.assert_array_equal(dx2, dx1)
    for k in g1:
        np.testing.assert_allclose(g2[k], g1[k], rtol=1e-6, atol=1e-6 * float(np.abs(g1[k]).max()), err_msg=k)
    np.testing.assert_allclose(n2, n1, rtol=1e-6)
