"""The products after a backward loop that runs in Python (the RNN's, the LSTM's) in one pass
over dA (``_fused.gate_gradients``, ``csrc/gradients.h``): dW_ih = dA @ x.T,
dW_hh = dA @ (h * rec_mask).T, db = dA @ 1 and dx = W_ih.T @ dA, against NumPy's products, at
sizes that cut K = T * N into whole and partial chunks of 128 columns and the rows into whole and
partial blocks of 6, on one to three threads. Mode 2 of ``packed_products`` makes it run at any
size and on either kernel (mode 1 skips the small ones, and all with the AVX2 kernel)."""

from __future__ import annotations

import numpy as np
import pytest

from rnnkit.kernels import _fused, blas
from rnnkit.kernels.common import previous_states, weight_gradients

from fused_helpers import needs_packed_kernel, packed_kernels

KERNELS = packed_kernels()

pytestmark = pytest.mark.skipif(blas.find() is None, reason="NumPy's BLAS cannot be called from C here")


def _problem(GH, I, H, T, N, reverse, masked, dtype=np.float32, seed=0):
    rng = np.random.default_rng(seed)
    dA = rng.standard_normal((GH, T, N)).astype(dtype)
    x = rng.standard_normal((I, T, N)).astype(dtype)
    hs = rng.standard_normal((H, T + 1, N)).astype(dtype)
    mask = ((rng.random((H, N)) > 0.3) / 0.7).astype(dtype) if masked else None
    W_ih = rng.standard_normal((GH, I)).astype(dtype)
    return dA, x, previous_states(hs, reverse), mask, W_ih


def _numpy(dA, x, h, mask, W_ih):
    GH, T, N = dA.shape
    dA2 = dA.reshape(GH, T * N).astype(np.float64)
    hm = h if mask is None else h * mask[:, None, :]
    return (dA2 @ x.reshape(x.shape[0], -1).T, dA2 @ hm.reshape(h.shape[0], -1).T, dA2.sum(axis=1),
            (W_ih.T.astype(np.float64) @ dA2).reshape(x.shape))


@needs_packed_kernel
@pytest.mark.parametrize("GH, I, H", [(20, 3, 5), (52, 17, 13), (160, 1, 40)])
@pytest.mark.parametrize("T, N", [(1, 1), (3, 5), (7, 40), (2, 64), (9, 37)])
@pytest.mark.parametrize("parts", [1, 2, 3])
@pytest.mark.parametrize("reverse, masked", [(False, False), (True, True)])
@pytest.mark.parametrize("kernel", KERNELS)
def test_gate_gradients_match_numpy(GH, I, H, T, N, parts, reverse, masked, kernel, kernel_modes):
    """K = T * N of 1, 15, 280 (two whole chunks and a part), 128 (one whole) and 333; rows of
    dA 20, 52, 160 over 1-3 threads: partial blocks of 6 everywhere; each kernel the CPU runs."""
    packed_products, loop_threads = kernel_modes
    _fused.packed_kernel(kernel)
    packed_products(2)
    loop_threads(parts)
    dA, x, h, mask, W_ih = _problem(GH, I, H, T, N, reverse, masked)
    dW_ih, dW_hh = np.full((GH, I), np.nan, np.float32), np.full((GH, H), np.nan, np.float32)
    db = np.full(GH, np.nan, np.float32)
    dx = np.full(x.shape, np.nan, np.float32)
    assert _fused.gate_gradients(dA, x, h, mask, W_ih, dW_ih, dW_hh, db, dx) is True
    want = _numpy(dA, x, h, mask, W_ih)
    for got, w in zip((dW_ih, dW_hh, db, dx), want):
        np.testing.assert_allclose(got, w, rtol=1e-4, atol=1e-4 * np.sqrt(T * N))


@needs_packed_kernel
@pytest.mark.parametrize("has_bias", [True, False])
def test_dx_may_be_x(has_bias, kernel_modes):
    """weight_gradients with dx_out = x (what overwrite_x asks): the gradients read each chunk of
    x before its columns of dx are written."""
    packed_products, loop_threads = kernel_modes
    packed_products(2)
    loop_threads(2)
    dA, x, h, mask, W_ih = _problem(24, 6, 6, 50, 8, False, True)
    want = _numpy(dA, x, h, mask, W_ih)
    grads, dx = weight_gradients(dA, x, h, has_bias, mask, W_ih, dx_out=x)
    assert dx is x
    np.testing.assert_allclose(grads["weight_ih"], want[0], rtol=1e-4, atol=1e-3)
    np.testing.assert_allclose(grads["weight_hh"], want[1], rtol=1e-4, atol=1e-3)
    np.testing.assert_allclose(dx, want[3], rtol=1e-4, atol=1e-3)
    assert ("bias_ih" in grads) is has_bias
    if has_bias:
        np.testing.assert_allclose(grads["bias_ih"], want[2], rtol=1e-4, atol=1e-3)
        np.testing.assert_array_equal(grads["bias_hh"], grads["bias_ih"])
        assert grads["bias_hh"] is not grads["bias_ih"]


@needs_packed_kernel
@pytest.mark.parametrize("kernel", KERNELS)
def test_gate_gradients_declines(kernel, kernel_modes):
    """False, with nothing written, for float64 (mode 2 even), with packed products off, and in
    mode 1 for products too small to pay, and for any with the AVX2 kernel (twice NumPy's time on
    a Zen 3 core); weight_gradients then uses NumPy."""
    packed_products, loop_threads = kernel_modes
    _fused.packed_kernel(kernel)
    for dtype, mode, size in [(np.float64, 2, (20, 3, 5, 7, 40)), (np.float32, 0, (512, 64, 128, 20, 64)),
                              (np.float32, 1, (20, 3, 5, 7, 40)), (np.float32, 1, (96, 8, 32, 5, 40))]:
        packed_products(mode)
        GH, I, H, T, N = size
        dA, x, h, mask, W_ih = _problem(GH, I, H, T, N, False, False, dtype)
        outs = [np.full(shape, 7, dtype) for shape in ((GH, I), (GH, H), (GH,), x.shape)]
        assert _fused.gate_gradients(dA, x, h, mask, W_ih, *outs) is False
        for o in outs:
            assert (o == 7).all()
    packed_products(1)
    assert _fused.gate_gradients(*_problem(512, 64, 128, 20, 64, False, False), np.empty((512, 64), np.float32),
                                 np.empty((512, 128), np.float32), None,
                                 np.empty((64, 20, 64), np.float32)) is (kernel == "avx512")
    # from 12288 values of [dW_ih | dW_hh] (gradients.h: GR_MIN_WEIGHT): a GRU of H = 64 takes the
    # pass (3 * 64 * (8 + 64) = 13824), one of H = 32 (3840, in the loop above) NumPy's products; below
    # 32768 (GR_MIN_WEIGHT_ANY) only where the pass's scratch (about 450 kB here, on 1 or 2 threads)
    # is no larger than dA (192 * T * N values): so not for 1 x 100 nor 16 x 5, but for 2 x 1000
    takes_long = kernel == "avx512"
    for N, T, takes in [(16, 100, takes_long), (2, 1000, takes_long), (1, 100, False), (16, 5, False)]:
        assert _fused.gate_gradients(*_problem(192, 8, 64, T, N, False, False), np.empty((192, 8), np.float32),
                                     np.empty((192, 64), np.float32), None,
                                     np.empty((8, T, N), np.float32)) is takes, (N, T)
    # from 32768 whatever the scratch: 3 * 128 * (8 + 128) = 52224 values, one sequence of 100 steps
    assert _fused.gate_gradients(*_problem(384, 8, 128, 100, 1, False, False), np.empty((384, 8), np.float32),
                                 np.empty((384, 128), np.float32), None,
                                 np.empty((8, 100, 1), np.float32)) is (kernel == "avx512")
    # the two thresholds to the value: M * (I + H) = 12288 takes the pass, 12160 not (16 x 100, dA
    # larger than the scratch); 32768 takes it, 32512 not (1 x 100, the scratch larger than dA)
    for M, I, H, T, N, takes in [(128, 1, 95, 100, 16, takes_long), (128, 1, 94, 100, 16, False),
                                 (256, 1, 127, 100, 1, takes_long), (256, 1, 126, 100, 1, False)]:
        assert _fused.gate_gradients(*_problem(M, I, H, T, N, False, False), np.empty((M, I), np.float32),
                                     np.empty((M, H), np.float32), None,
                                     np.empty((I, T, N), np.float32)) is takes, (M, I, H, T, N)


@needs_packed_kernel
@pytest.mark.parametrize("GH, I, H", [(15, 3, 5), (51, 17, 17), (120, 1, 40), (36, 5, 12), (18, 3, 6)])
@pytest.mark.parametrize("T, N", [(1, 1), (7, 40), (9, 37)])
@pytest.mark.parametrize("parts", [1, 2, 3])
@pytest.mark.parametrize("kernel", KERNELS)
def test_gate_gradients_with_side_match_numpy(GH, I, H, T, N, parts, kernel, kernel_modes):
    """The GRU's form: dW_hh's last H rows from side (H, T, N), every other output as without it;
    the rows from GH - H on start inside a block of 6 rows (15 - 5 = 10, 51 - 17 = 34, 120 - 40 =
    80) or at one (36 - 12 = 24, 18 - 6 = 12: a GRU whose H is a multiple of 3), and fall to one,
    two or three threads' rows."""
    packed_products, loop_threads = kernel_modes
    _fused.packed_kernel(kernel)
    packed_products(2)
    loop_threads(parts)
    dA, x, h, mask, W_ih = _problem(GH, I, H, T, N, True, True)
    side = np.random.default_rng(1).standard_normal((H, T, N)).astype(np.float32)
    dW_ih, dW_hh = np.full((GH, I), np.nan, np.float32), np.full((GH, H), np.nan, np.float32)
    db, dx = np.full(GH, np.nan, np.float32), np.full(x.shape, np.nan, np.float32)
    assert _fused.gate_gradients(dA, x, h, mask, W_ih, dW_ih, dW_hh, db, dx, side) is True
    want = list(_numpy(dA, x, h, mask, W_ih))
    hm = (h * mask[:, None, :]).reshape(H, -1).astype(np.float64)
    want[1][GH - H:] = side.reshape(H, -1).astype(np.float64) @ hm.T
    for got, w, name in zip((dW_ih, dW_hh, db, dx), want, ("dW_ih", "dW_hh", "db", "dx")):
        np.testing.assert_allclose(got, w, rtol=1e-4, atol=1e-4 * max(1.0, np.abs(w).max()), err_msg=name)


def test_gate_gradients_arguments():
    dA, x, h, mask, W_ih = _problem(20, 3, 5, 7, 4, False, True)
    ok = [dA, x, h, mask, W_ih, np.empty((20, 3), np.float32), np.empty((20, 5), np.float32),
          np.empty(20, np.float32), np.empty_like(x)]
    with pytest.raises(TypeError, match="gate_gradients takes 9 or 10 arguments, got 8"):
        _fused.gate_gradients(*ok[:8])
    with pytest.raises(TypeError, match="gate_gradients takes 9 or 10 arguments, got 11"):
        _fused.gate_gradients(*ok, None, None)
    with pytest.raises(ValueError, match=r"side must have shape \(5, 7, 4\), got \(5, 7, 3\)"):
        _fused.gate_gradients(*ok, np.empty((5, 7, 3), np.float32))
    with pytest.raises(TypeError, match="side has itemsize 8, the other arrays 4"):
        _fused.gate_gradients(*ok, np.empty((5, 7, 4)))
    few = _problem(4, 3, 5, 7, 4, False, True)  # dA of 4 rows, h (and side) of 5
    with pytest.raises(ValueError, match="side has H = 5 rows, more than dA's 4"):
        _fused.gate_gradients(*few, np.empty((4, 3), np.float32), np.empty((4, 5), np.float32), None,
                              np.empty((3, 7, 4), np.float32), np.empty((5, 7, 4), np.float32))
    bad = list(ok)
    bad[6] = np.empty((20, 4), np.float32)
    with pytest.raises(ValueError, match=r"dW_hh must have shape \(20, 5\), got \(20, 4\)"):
        _fused.gate_gradients(*bad)
    bad = list(ok)
    bad[3] = np.ones((5, 3), np.float32)
    with pytest.raises(ValueError, match=r"rec_mask must have shape \(5, 4\), got \(5, 3\)"):
        _fused.gate_gradients(*bad)
    bad = list(ok)
    bad[8] = np.empty_like(x)
    bad[8].flags.writeable = False
    with pytest.raises(TypeError, match="dx must be a writable C-contiguous"):
        _fused.gate_gradients(*bad)
    bad = list(ok)
    bad[1] = x[:, :, ::2]
    with pytest.raises(ValueError, match=r"x must have shape \(I, 7, 4\)"):
        _fused.gate_gradients(*bad)
    bad = list(ok)
    bad[0] = dA.reshape(20, 28)
    with pytest.raises(ValueError, match="dA must be 3-d, got 2-d"):
        _fused.gate_gradients(*bad)
    bad = list(ok)
    bad[4] = W_ih.astype(np.float64)
    with pytest.raises(TypeError, match="W_ih has itemsize 8, the other arrays 4"):
        _fused.gate_gradients(*bad)


@needs_packed_kernel
@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("reverse, masked, lengths", [(False, False, False), (True, True, True)])
@pytest.mark.parametrize("threads", [1, 2])
def test_gru_backward_one_pass_equals_numpys_products(bias, reverse, masked, lengths, threads, monkeypatch,
                                                      kernel_modes):
    """The GRU's backward through gate_gradients with side (mode 2: at any size) gives the gradients
    of its NumPy products (the fallback, forced by declining): bias_hh's candidate rows from side's
    row sums, no bias at all without one, dx written over x with overwrite_x as before."""
    from rnnkit.kernels import gru as kgru
    from rnnkit.kernels import gru_backward, gru_forward

    packed_products, loop_threads = kernel_modes
    packed_products(2)
    loop_threads(threads)
    rng = np.random.default_rng(3)
    N, T, I, H = 19, 6, 4, 9
    g = lambda *s: (rng.standard_normal(s) * 0.5).astype(np.float32)  # noqa: E731
    W_ih, W_hh = g(3 * H, I), g(3 * H, H)
    b = (g(3 * H), g(3 * H)) if bias else (None, None)
    x, h0, dy, dh = g(I, T, N), g(H, N), g(H, T, N), g(H, N)
    sizes = np.linspace(N, 2, T).round().astype(np.int64) if lengths else None
    mask = rng.uniform(0.5, 1.5, (H, N)).astype(np.float32) if masked else None

    def run(fused):
        if not fused:
            monkeypatch.setattr(kgru, "gate_gradients", lambda *a, **k: None)
        xs = x.copy()
        _, _, cache = gru_forward(xs, (h0,), W_ih, W_hh, *b, batch_sizes=sizes, rec_mask=mask, reverse=reverse)
        dx, (dh0,), grads, _ = gru_backward(cache, dy, (dh,), overwrite_x=True)
        monkeypatch.undo()
        return dx, dh0, grads

    dx_f, dh_f, g_f = run(True)
    dx_n, dh_n, g_n = run(False)
    assert set(g_f) == set(g_n) == ({"weight_ih", "weight_hh", "bias_ih", "bias_hh"} if bias
                                    else {"weight_ih", "weight_hh"})
    np.testing.assert_allclose(dx_f, dx_n, rtol=1e-5, atol=1e-5)
    np.testing.assert_array_equal(dh_f, dh_n)  # the loop itself is the same
    for name in g_n:
        np.testing.assert_allclose(g_f[name], g_n[name], rtol=1e-5, atol=1e-5, err_msg=name)
