"""Layers on two Python threads at once, each with a layer of its own: the C loops release the GIL
and keep everything of a call in its own scratch and the layer's workspace, so each thread gets
the results of a serial run. Bit for bit with one participant per loop (``loop_threads(1)``);
with the loops split over the pool's threads, to rounding only: while a split loop runs, OpenBLAS
runs single-threaded process-wide (``csrc/module.c``: blas_single), and NumPy's products on the
other thread (the weight gradients after a loop) may then sum in another order.

One layer shared by two threads takes turns (a lock in the layer: tests/test_layer_threads.py), so
each forward is right; training it from two threads at once is not supported (a backward
differentiates the layer's last forward, whichever thread ran it)."""

from __future__ import annotations

import threading

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal

import rnnkit
from rnnkit.kernels import _fused, blas

pytestmark = pytest.mark.skipif(blas.find() is None, reason="the C loops need NumPy's OpenBLAS")


@pytest.fixture
def threads():
    before = _fused.loop_threads(0)
    yield _fused.loop_threads
    _fused.loop_threads(before)


def _step(layer, x, dy, lengths):
    layer.zero_grad()
    y, state = layer(x, None, lengths)
    dx, _ = layer.backward(dy)
    return [y, dx, *(np.asarray(s) for s in (state if isinstance(state, tuple) else (state,)))] + \
        [g.copy() for g in layer.grads.values()]


@pytest.mark.parametrize("P", [1, 0], ids=["one-participant", "automatic"])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("kind", ["RNN", "LSTM", "GRU"])
def test_two_layers_on_two_threads_match_serial_runs(kind, dtype, P, threads, monkeypatch):
    monkeypatch.delenv("RNNKIT_NO_C_LOOP", raising=False)
    threads(P)
    rng = np.random.default_rng(0)
    N, T, I, H = 17, 6, 5, 33
    layers = [getattr(rnnkit, kind)(I, H, num_layers=2, bidirectional=True, dtype=dtype, seed=s) for s in (1, 2)]
    xs = [rng.standard_normal((N, T, I)).astype(dtype) for _ in range(2)]
    dys = [rng.standard_normal((N, T, 2 * H)).astype(dtype) for _ in range(2)]
    lengths = [None, rng.integers(1, T + 1, size=N)]
    want = [_step(layers[i], xs[i], dys[i], lengths[i]) for i in range(2)]
    got, errors = [[], []], []

    def work(i):
        try:
            for _ in range(8):
                got[i].append(_step(layers[i], xs[i], dys[i], lengths[i]))
        except Exception as e:  # reported below: an assertion here would be lost in the thread
            errors.append(e)

    ts = [threading.Thread(target=work, args=(i,)) for i in range(2)]
    for t in ts:
        t.start()
    for t in ts:
        t.join(timeout=300)
    assert not any(t.is_alive() for t in ts) and not errors, errors
    tol = dict(rtol=1e-12, atol=1e-12) if dtype == "float64" else dict(rtol=1e-5, atol=1e-5)
    for i in range(2):
        for run in got[i]:
            for a, b in zip(run, want[i]):
                if P == 1:
                    assert_array_equal(a, b)
                else:
                    assert_allclose(a, b, **tol)
