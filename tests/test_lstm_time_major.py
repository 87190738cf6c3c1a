"""The LSTM's C loops keep their caches time-major, A (T, 4H, N), cs (T + 1, H, N) and tcs
(T, H, N), and the backward reads dy time-major too, leaving A as it is (``csrc/sequence.h``). The
results are those of the Python loops (which keep (F, T, N) caches and write the gate gradients
over them), to rounding. The C backward's own products: test_lstm_backward_seq.py."""

from __future__ import annotations

import numpy as np
import pytest

from rnnkit.kernels import blas, lstm_backward, lstm_forward

from fused_helpers import loop_problem

pytestmark = pytest.mark.skipif(blas.find() is None, reason="NumPy's BLAS cannot be called from C here")


@pytest.mark.parametrize("N", [1, 3, 32])
@pytest.mark.parametrize("P", [1, 2])
def test_c_loops_match_the_python_loops(N, P, threads, monkeypatch):
    """float32 with lengths, a recurrent mask and both directions: N = 1 (the projection as one
    product), 3 (one per step), 32 (projected in the loop; the claimed loops), and the final
    states read from the time-major cs"""
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
