"""The public kernels (``rnnkit.kernels.rnn_forward``, ``lstm_backward``, ...) check their arguments
(``kernels/checks.py``): every wrong one gets a TypeError or ValueError that names it, in the C
loop and in the Python loop alike, instead of a NumPy or ``_fused`` traceback, or (before) a
silent broadcast: an h0 of shape (H, 1) or (N,), and in the Python loop a bias of shape (1,) or
a rec_mask of shape (H, 1), ran as if repeated. A second backward through the cache of one
forward raises for the LSTM and the GRU, whose backward writes over the cache (it gave wrong
gradients without a word)."""

from __future__ import annotations

import numpy as np
import pytest
from numpy.testing import assert_array_equal

from rnnkit import kernels

I, T, N, H = 3, 4, 5, 6
CELLS = {"rnn": (1, 1), "lstm": (4, 2), "gru": (3, 1)}  # gates, state parts


def problem(cell, dtype=np.float64, seed=0):
    G, parts = CELLS[cell]
    rng = np.random.default_rng(seed)
    return dict(x=rng.standard_normal((I, T, N)).astype(dtype),
                state0=tuple(rng.standard_normal((H, N)).astype(dtype) for _ in range(parts)),
                W_ih=rng.standard_normal((G * H, I)).astype(dtype), W_hh=rng.standard_normal((G * H, H)).astype(dtype),
                b_ih=rng.standard_normal(G * H).astype(dtype), b_hh=rng.standard_normal(G * H).astype(dtype))


def forward(cell, **args):
    return getattr(kernels, f"{cell}_forward")(**args)


def backward(cell, *args, **kwargs):
    return getattr(kernels, f"{cell}_backward")(*args, **kwargs)


# (what is wrong, change to the valid arguments, error, pattern of its message)
BAD_FORWARD = [
    ("h0 (H, 1)", lambda p: {"state0": tuple(s[:, :1] for s in p["state0"])}, ValueError,
     r"state0\[\w\] of shape \(6, 5\), got \(6, 1\)\. Nothing is broadcast"),
    ("h0 (N,)", lambda p: {"state0": tuple(s[0] for s in p["state0"])}, ValueError, r"state0\[\w\] of shape \(6, 5\)"),
    ("h0 (N, H)", lambda p: {"state0": tuple(s.T.copy() for s in p["state0"])}, ValueError, r"got \(5, 6\)"),
    ("state0 an array", lambda p: {"state0": p["state0"][0]}, TypeError, r"state0 to be a tuple"),
    ("state0 one part short", lambda p: {"state0": p["state0"][:-1] or ()}, TypeError, r"state0 to be a tuple"),
    ("bias (1,)", lambda p: {"b_ih": p["b_ih"][:1], "b_hh": p["b_hh"][:1]}, ValueError, r"b_ih of shape \(\d+,\)"),
    ("b_hh None", lambda p: {"b_hh": None}, TypeError, r"b_ih and b_hh both arrays .* got b_ih an array and b_hh None"),
    ("rec_mask (H, 1)", lambda p: {"rec_mask": np.full((H, 1), 2.0)}, ValueError, r"rec_mask of shape \(6, 5\)"),
    ("rec_mask (N, H)", lambda p: {"rec_mask": np.full((N, H), 2.0)}, ValueError, r"rec_mask of shape \(6, 5\)"),
    ("W_ih wrong I", lambda p: {"W_ih": p["W_ih"][:, :2]}, ValueError, r"W_ih of shape \(\d+, 3\)"),
    ("W_hh rows", lambda p: {"W_hh": p["W_hh"][:-1]}, ValueError, r"W_hh of shape \(\d+ \* H, H\)"),
    ("W_hh columns", lambda p: {"W_hh": p["W_hh"][:, :-1]}, ValueError, r"W_hh of shape \(\d+ \* H, H\)"),
    ("W_hh 1-d", lambda p: {"W_hh": p["W_hh"][0]}, ValueError, r"W_hh with 2 axes"),
    ("W_ih ints", lambda p: {"W_ih": np.ones(p["W_ih"].shape, np.int64)}, TypeError, r"W_ih to hold floats"),
    ("x 2-d", lambda p: {"x": p["x"][:, 0]}, ValueError, r"x with 3 axes"),
    ("x list", lambda p: {"x": p["x"].tolist()}, TypeError, r"x to be a NumPy array of floats, got list"),
    ("x ints", lambda p: {"x": np.ones((I, T, N), np.int64)}, TypeError, r"x to hold floats, got dtype int64"),
    ("x float16", lambda p: {"x": p["x"].astype(np.float16)}, TypeError, r"x of dtype float32 or float64 .* got <f2"),
    ("x big-endian", lambda p: {"x": p["x"].astype(">f8")}, TypeError, r"native byte order .* got >f8"),
    ("x no steps", lambda p: {"x": p["x"][:, :0]}, ValueError, r"at least one feature, step and sequence"),
    ("x no sequences", lambda p: {"x": p["x"][:, :, :0]}, ValueError, r"at least one feature, step and sequence"),
    ("batch_sizes > N", lambda p: {"batch_sizes": np.array([6, 5, 2, 1])}, ValueError, r"in 0\.\.N = 5, got \[6"),
    ("batch_sizes < 0", lambda p: {"batch_sizes": np.array([5, 3, -1, 0])}, ValueError, r"in 0\.\.N = 5"),
    ("batch_sizes short", lambda p: {"batch_sizes": np.array([5, 3])}, ValueError, r"batch_sizes of shape \(4,\)"),
    ("batch_sizes floats", lambda p: {"batch_sizes": np.array([5.0, 3, 2, 1])}, TypeError, r"array of integers"),
    ("batch_sizes list", lambda p: {"batch_sizes": [5, 3, 2, 1]}, TypeError, r"array of integers .* got list"),
]


@pytest.mark.parametrize("what, change, error, message", BAD_FORWARD, ids=[b[0] for b in BAD_FORWARD])
@pytest.mark.parametrize("cell", sorted(CELLS))
def test_forward_refuses_wrong_arguments(cell, what, change, error, message, kernel_loop):
    p = problem(cell)
    p.update(change(p))
    with pytest.raises(error, match=rf"rnnkit\.kernels\.{cell}_forward: expected .*{message}"):
        forward(cell, **p)


def test_rnn_forward_refuses_an_unknown_nonlinearity(kernel_loop):
    """'Relu' ran as tanh: anything but "relu" did."""
    with pytest.raises(ValueError, match=r"nonlinearity 'tanh' or 'relu', got 'Relu'"):
        forward("rnn", **problem("rnn"), nonlinearity="Relu")


@pytest.mark.parametrize("cell", sorted(CELLS))
def test_forward_accepts_what_it_documents(cell, kernel_loop):
    """Still accepted: weights of another float dtype than x (as NumPy's type rules give them),
    state parts as nested lists, batch_sizes in any order within 0..N (the others carry their
    state), and the same results for array-like and array states."""
    p = problem(cell)
    want, want_state, _ = forward(cell, **p)
    want = want.copy()
    got, got_state, _ = forward(cell, **dict(p, state0=tuple(s.tolist() for s in p["state0"])))
    assert_array_equal(got, want)
    for a, b in zip(got_state, want_state):
        assert_array_equal(a, b)
    forward(cell, **dict(p, W_ih=p["W_ih"].astype(np.float32), W_hh=p["W_hh"].astype(np.float32)))
    forward(cell, **dict(p, batch_sizes=np.array([1, 5, 0, 3], dtype=np.int32)))


@pytest.mark.parametrize("cell", sorted(CELLS))
def test_backward_refuses_wrong_arguments(cell, kernel_loop):
    G, parts = CELLS[cell]
    p = problem(cell)
    name = rf"rnnkit\.kernels\.{cell}_backward: expected"
    ds = tuple(np.ones((H, N)) for _ in range(parts))
    _, _, lean = forward(cell, **p, keep_cache=False)
    with pytest.raises(TypeError, match=rf"{name} the cache dict .* got NoneType \(the forward ran with keep_cache"):
        backward(cell, lean, None, ds)
    y, _, cache = forward(cell, **p)
    for dy, message in ((y[:, :-1], r"dy of shape \(6, 4, 5\), got \(6, 3, 5\)"),
                        (np.ones((H, T, N), np.int64), r"dy to hold floats")):
        with pytest.raises((TypeError, ValueError), match=rf"{name} {message}"):
            backward(cell, cache, dy, ds)
    for dstate, message in ((tuple(s[:, :1] for s in ds), r"dstate\[\w\] of shape \(6, 5\), got \(6, 1\)"),
                            (ds[0], r"dstate to be a tuple"), (ds + ds, r"dstate to be a tuple")):
        with pytest.raises((TypeError, ValueError), match=rf"{name} {message}"):
            backward(cell, cache, y, dstate)
    backward(cell, cache, y.tolist(), tuple(s.tolist() for s in ds))  # array-likes, as before


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
@pytest.mark.parametrize("overwrite_x", [False, True])
def test_second_backward_through_one_cache_raises(cell, kernel_loop, overwrite_x):
    """The GRU's backward (both loops) and the LSTM's Python loop write the gate gradients over the
    cached gates, and the RNN's with overwrite_x writes dx over the cached x: a second backward
    through the same cache gave other gradients, silently. Every kernel refuses it, so that no code
    depends on the loop or the options that ran."""
    p = problem(cell)
    ds = tuple(np.ones((H, N)) for _ in range(CELLS[cell][1]))
    p["x"] = p["x"].copy()
    y, _, cache = forward(cell, **p)
    dy = np.random.default_rng(1).standard_normal(y.shape)
    backward(cell, cache, dy, ds, overwrite_x=overwrite_x)
    for check_args in (True, False):   # unchecked arguments still get this check
        with pytest.raises(ValueError, match=rf"{cell}_backward: this cache was used by a backward already"):
            backward(cell, cache, dy, ds, check_args=check_args)
    _, _, fresh = forward(cell, **p)
    backward(cell, fresh, dy, ds)  # a new forward, a new backward


def test_check_args_false_skips_the_checks():
    p = problem("gru")
    p["state0"] = (p["state0"][0][:, :1],)  # (H, 1): refused when checked
    with pytest.raises(ValueError, match="state0"):
        forward("gru", **p)
    forward("gru", **p, check_args=False)  # the caller vouches for its arguments (NumPy broadcasts)