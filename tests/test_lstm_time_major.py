"""The LSTM's C loops keep their caches time-major, A (T, 4H, N), cs (T + 1, H, N) and tcs
(T, H, N), and the backward reads dy time-major too and writes the gate gradients into dA
(4H, T, N) for the products after it, leaving A as it is (``csrc/sequence.h``: gates_out): with
non-temporal stores where dA's rows start 64-byte lines and hold whole lines (``stream_copy``),
else plain ones. Both give the same dA, bit for bit, that of the Python loop (which keeps
(F, T, N) caches and writes dA over them) to rounding, and the same results."""

from __future__ import annotations

import numpy as np
import pytest

from rnnkit.kernels import _fused, blas, lstm_backward, lstm_forward
from rnnkit.kernels.common import buffer
from rnnkit.kernels.lstm import _backward_steps

from fused_helpers import loop_problem

pytestmark = pytest.mark.skipif(blas.find() is None, reason="NumPy's BLAS cannot be called from C here")


def _backward_args(H, T, N, dtype, dA, seed=0):
    """lstm_backward_seq's arguments with dA (4H, T, N) given; A's activations in (0.1, 0.9)"""
    rng = np.random.default_rng(seed)
    u = lambda *shape: rng.uniform(-1, 1, shape).astype(dtype)  # noqa: E731
    A = rng.uniform(0.1, 0.9, (T, 4 * H, N)).astype(dtype)
    sizes = np.linspace(N, 1, T).round().astype(np.int64)
    return [A, u(T + 1, H, N), u(T, H, N), u(4 * H, H) * 0.3, u(T, H, N), u(H, N), u(H, N),
            np.zeros((T, N), dtype), None, None, None, dA, sizes, 0]


def _offset(shape, dtype, items):
    """An (uninitialised) C-contiguous array that starts `items` values past a 64-byte line"""
    a = buffer(None, "", (int(np.prod(shape)) + items,), dtype, lines=True)[items:]
    return a.reshape(shape)


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["f32", "f64"])
@pytest.mark.parametrize("N", [16, 20, 32], ids=lambda n: f"N{n}")
@pytest.mark.parametrize("P", [1, 2])
def test_dA_the_same_with_stream_and_plain_stores(dtype, N, P, threads):
    """dA at a line's start (streamed where a row's N values are whole lines: float32 N = 16, 32;
    float64 all three) and one value past it (plain stores): the same, equal to the Python loop's
    gate gradients, finished columns 0; A, cs, tcs and dy left as they were"""
    threads(P)
    H, T = 12, 6
    got = []
    for start in (0, 1):
        dA = _offset((4 * H, T, N), dtype, start)
        dA[...] = np.nan
        assert (dA.ctypes.data % 64 == 0) == (start == 0)
        args = _backward_args(H, T, N, dtype, dA)
        inputs = [a.copy() for a in args[:5]]
        _fused.lstm_backward_seq(*args)
        for before, after in zip(inputs, args):
            np.testing.assert_array_equal(after, before)
        for t, B in enumerate(args[12]):
            assert not dA[:, t, B:].any()
        got.append(dA)
    np.testing.assert_array_equal(got[0], got[1])
    A, cs, tcs, W_hh, dy, dh, dc = (np.ascontiguousarray(a.transpose(1, 0, 2)) if a.ndim == 3 else a.copy()
                                    for a in _backward_args(H, T, N, dtype, None)[:7])
    cache = dict(gates=A, cs=cs, tanh_cs=tcs, W_hh=W_hh, batch_sizes=args[12], rec_mask=None, reverse=False, ws=None)
    _backward_steps(cache, dy, dh, dc, np.zeros((T, N), dtype))
    tol = dict(rtol=1e-4, atol=1e-5) if dtype == np.float32 else dict(rtol=1e-12, atol=1e-13)
    np.testing.assert_allclose(got[0], A, **tol)


@pytest.mark.parametrize("shape", [(3,), (5, 7, 3), (256, 100, 32)])
def test_buffer_at_the_start_of_a_line(shape):
    ws = {}
    for dtype in (np.float32, np.float64):
        a = buffer(ws, "a", shape, dtype, lines=True)
        assert a.ctypes.data % 64 == 0 and a.shape == shape and a.dtype == dtype and a.flags.c_contiguous
        assert buffer(ws, "a", shape, dtype, lines=True) is a  # reused
        assert buffer(None, "a", shape, dtype, lines=True).ctypes.data % 64 == 0


@pytest.mark.parametrize("N", [1, 3, 32])
@pytest.mark.parametrize("P", [1, 2])
def test_c_loops_match_the_python_loops(N, P, threads, monkeypatch):
    """float32 with lengths, a recurrent mask and both directions: N = 1 (the projection as one
    product), 3 (one per step), 32 (projected in the loop; the claimed loops, dA streamed), and
    the final states read from the time-major cs"""
    threads(P)
    H, T = 24, 9
    for reverse in (False, True):
        p, dy, dstate = loop_problem(4, 2, N, np.float32, reverse, True, True, T=T, I=5, H=H)
        results = []
        for c in (True, False):
            monkeypatch.setattr(blas, "c_loops", lambda c=c: c)
            y, (h, cT), cache = lstm_forward(**p, ws={})
            dx, (dh, dc), grads, _ = lstm_backward(cache, dy.copy(), dstate)
            results.append([y.copy(), h, cT, dx, dh, dc, *grads.values()])
            if c:
                assert cache["gates"].shape == (T, 4 * H, N) and cache["cs"].shape == (T + 1, H, N)
        for g, w in zip(*results):
            np.testing.assert_allclose(g, w, rtol=2e-4, atol=2e-5)


def test_dy_taken_as_it_is_where_time_major(monkeypatch):
    """The C backward reads dy (H, T, N) time-major: a dy laid out so already (the (H, T, N) view
    of a C-contiguous (T, H, N) array) goes in as it is, any other is copied once into the
    workspace's "dy"; the same gradients either way"""
    monkeypatch.setattr(blas, "c_loops", lambda: True)
    p, dy, dstate = loop_problem(4, 2, 20, np.float32, False, False, True, T=6, I=3, H=8)
    results = []
    time_major = np.ascontiguousarray(dy.transpose(1, 0, 2)).transpose(1, 0, 2)
    batch_first = np.ascontiguousarray(dy.transpose(2, 1, 0)).transpose(2, 1, 0)  # a user's (N, T, H)
    for given in (dy, time_major, batch_first):
        ws = {}
        cache = lstm_forward(**p, ws=ws)[2]
        results.append(lstm_backward(cache, given, dstate))
        assert ("dy" in ws) == (given.transpose(1, 0, 2).flags.c_contiguous is False)
    for r in results[1:]:
        np.testing.assert_array_equal(r[0], results[0][0])
        for k in r[2]:
            np.testing.assert_array_equal(r[2][k], results[0][2][k])
