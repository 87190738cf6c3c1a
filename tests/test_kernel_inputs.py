"""The kernels' inputs: what the fused steps cannot read directly is copied first, and cached
per-step views are never used on the wrong array."""

from __future__ import annotations

import numpy as np
import pytest
from numpy.testing import assert_array_equal


def _kernel_problem(cell, seed, I, T, N, Hh):
    """A cell's forward and backward kernels with random float64 x, weights, state and dy."""
    from rnnkit import kernels

    fwd, bwd = getattr(kernels, f"{cell}_forward"), getattr(kernels, f"{cell}_backward")
    G = {"rnn": 1, "lstm": 4, "gru": 3}[cell]
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((I, T, N))
    W_ih, W_hh = rng.standard_normal((G * Hh, I)) * 0.5, rng.standard_normal((G * Hh, Hh)) * 0.5
    state = tuple(rng.standard_normal((Hh, N)) for _ in range(2 if cell == "lstm" else 1))
    return fwd, bwd, x, W_ih, W_hh, state, rng.standard_normal((Hh, T, N))


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
def test_kernels_accept_dy_of_any_layout(cell):
    """The kernels hand the fused steps row-contiguous blocks whatever the layout of dy (here a
    Fortran-ordered one) and give the same gradients as with a C-ordered dy."""
    fwd, bwd, x, W_ih, W_hh, state, dy = _kernel_problem(cell, 0, 3, 4, 6, 5)
    results = []
    for d in (dy, np.asfortranarray(dy)):
        _, _, cache = fwd(x, state, W_ih, W_hh)
        dx, ds, grads, _ = bwd(cache, d, tuple(np.zeros_like(s) for s in state))
        results.append((dx, ds, grads))
    assert_array_equal(results[0][0], results[1][0])
    for k in results[0][2]:
        assert_array_equal(results[0][2][k], results[1][2][k])


@pytest.mark.parametrize("dy_kind", ["read-only", "broadcast", "one column"])
def test_kernels_accept_read_only_and_broadcast_dy(dy_kind):
    """dL/dy that the C steps could not write to, or whose strides are odd (a broadcast, a
    length-1 batch axis), gives the gradients of an ordinary C-ordered dy."""
    from rnnkit import kernels

    rng = np.random.default_rng(1)
    I, T, Hh = 3, 4, 5
    N = 1 if dy_kind == "one column" else 6
    x = rng.standard_normal((I, T, N))
    W_ih, W_hh = rng.standard_normal((4 * Hh, I)) * 0.5, rng.standard_normal((4 * Hh, Hh)) * 0.5
    state = (np.zeros((Hh, N)), np.zeros((Hh, N)))
    if dy_kind == "read-only":
        dy = rng.standard_normal((Hh, T, N))
        dy.flags.writeable = False
    elif dy_kind == "broadcast":
        dy = np.broadcast_to(rng.standard_normal((1, T, N)), (Hh, T, N))
    else:
        dy = rng.standard_normal((Hh, T))[:, :, None]
    results = []
    for d in (dy, np.array(dy, order="C")):
        _, _, cache = kernels.lstm_forward(x, state, W_ih, W_hh)
        results.append(kernels.lstm_backward(cache, d, state))
    assert_array_equal(results[0][0], results[1][0])
    for k in results[0][2]:
        assert_array_equal(results[0][2][k], results[1][2][k])


def test_a_deep_copy_of_a_layer_computes_like_a_fresh_one():
    """The workspace keeps per-step views of its buffers; after copy.deepcopy the copied views
    no longer look into the copied buffers, and the layer must notice instead of writing there."""
    import copy

    import rnnkit

    rng = np.random.default_rng(2)
    for cls in (rnnkit.RNN, rnnkit.LSTM, rnnkit.GRU):
        layer = cls(3, 4, seed=0)
        layer.forward(rng.standard_normal((2, 5, 3)))
        twin = copy.deepcopy(layer)
        x, dy = rng.standard_normal((2, 5, 3)), rng.standard_normal((2, 5, 4))
        fresh = cls(3, 4, seed=0)
        y, _ = twin.forward(x)
        assert_array_equal(y, fresh.forward(x)[0])
        assert_array_equal(twin.backward(dy)[0], fresh.backward(dy)[0])


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
@pytest.mark.parametrize("use_c", [True, False], ids=["C", "python"])
def test_backward_overwrite_x_puts_dx_into_x(cell, use_c, monkeypatch):
    """overwrite_x=True: dx goes over the cache's x (the same memory) with the values it has in
    an array of its own; an x that cannot take it (not C-contiguous, or of another dtype than
    the result) gets a new array, and the default leaves x alone. The LSTM's C loop computes dx
    itself, into an array of its own (the weight gradients read x after the loop): x stays."""
    from rnnkit.kernels import blas

    monkeypatch.setattr(blas, "c_loops", lambda: use_c and blas.find() is not None)
    fwd, bwd, x0, W_ih, W_hh, state, dy = _kernel_problem(cell, 4, 3, 5, 4, 6)

    def run(x, overwrite_x):
        _, _, cache = fwd(x, state, W_ih, W_hh)
        return bwd(cache, dy.copy(), state, overwrite_x=overwrite_x)

    want_dx, _, want_grads, _ = run(x0.copy(), False)
    x = x0.copy()
    dx, _, grads, _ = run(x, True)
    if cell == "lstm" and blas.c_loops():
        assert not np.shares_memory(dx, x)
        assert_array_equal(x, x0)
    else:
        assert dx is x
    assert_array_equal(dx, want_dx)
    for k in want_grads:
        assert_array_equal(grads[k], want_grads[k])
    x = x0.copy()
    run(x, False)
    assert_array_equal(x, x0)
    for other in (np.asfortranarray(x0), x0.astype(np.float32)):
        dx, _, _, _ = run(other, True)
        assert not np.shares_memory(dx, other)
        np.testing.assert_allclose(dx, want_dx, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
@pytest.mark.parametrize("use_c", [True, False], ids=["C", "python"])
def test_kernels_accept_x_with_a_negative_stride(cell, use_c, monkeypatch):
    """A float32 x whose feature axis runs backwards in memory (a [::-1] view) gives the results
    of a C-ordered copy of it: the fused gradient pass (which takes rows in ascending memory
    order only) is skipped for it."""
    from rnnkit.kernels import blas

    monkeypatch.setattr(blas, "c_loops", lambda: use_c and blas.find() is not None)
    fwd, bwd, x, W_ih, W_hh, state, dy = _kernel_problem(cell, 5, 4, 7, 5, 8)
    x, W_ih, W_hh, dy = (a.astype(np.float32) for a in (x, W_ih, W_hh, dy))
    state = tuple(s.astype(np.float32) for s in state)
    flipped = np.ascontiguousarray(x[::-1])[::-1]
    assert flipped.strides[0] < 0
    results = []
    for a in (flipped, x):
        y, _, cache = fwd(a, state, W_ih, W_hh)
        results.append((y.copy(), *bwd(cache, dy.copy(), state)[:3]))
    (y1, dx1, ds1, g1), (y2, dx2, ds2, g2) = results
    np.testing.assert_allclose(y1, y2, rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(dx1, dx2, rtol=1e-5, atol=1e-5)
    for a, b in zip(ds1, ds2):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-5)
    for k in g2:
        np.testing.assert_allclose(g1[k], g2[k], rtol=1e-5, atol=1e-5, err_msg=k)
