"""The plain RNN's backward loop in C (``_fused.rnn_backward_seq``, ``csrc/sequence.h``), which is
the whole backward: besides the time loop it takes every product with the gradients da_t (dW_hh,
dW_ih, db, dx) 16 steps at a time while they are in a ring in cache, reads dy at any strides and
leaves the cache as it was. Against the Python loop on the same forward's cache, across chunk
boundaries, dy layouts and threads; its own arguments."""

from __future__ import annotations

import numpy as np
import pytest
from test_c_loops import _problem, _run, _tol
from test_fused_seq_arguments import call, outputs, pos, valid_args

from rnnkit.kernels import blas, rnn_backward, rnn_forward

from fused_helpers import DTYPES, dtype_id, expect_error

pytestmark = pytest.mark.skipif(blas.find() is None, reason="NumPy's BLAS cannot be called from C here")


@pytest.mark.parametrize("use_c", [True, False], ids=["C", "python"])
@pytest.mark.parametrize("nonlinearity", ["tanh", "relu"])
@pytest.mark.parametrize("packed", [False, True], ids=["full", "packed"])
def test_rnn_backward_over_dy(use_c, nonlinearity, packed, monkeypatch):
    """overwrite_dy=True lets the Python loop write da_t over dy_t (one (H, T, N) array less), with
    the same results; a dy it may not write (read-only, strided, another dtype) is left alone. The
    C loop keeps no da_t array and leaves dy alone in any case."""
    cell = "rnn_relu" if nonlinearity == "relu" else "rnn_tanh"
    p, dy, dstate = _problem(cell, 40, np.float64, False, True, packed)
    monkeypatch.setattr(blas, "c_loops", lambda: use_c)

    def backward(dy_arg, overwrite):
        _, _, cache = rnn_forward(**p, nonlinearity=nonlinearity)
        return rnn_backward(cache, dy_arg, dstate, overwrite_dy=overwrite)

    want = backward(dy.copy(), False)
    own = dy.copy()
    got = backward(own, True)
    for g, w in zip((got[0], *got[1], got[3], *got[2].values()), (want[0], *want[1], want[3], *want[2].values())):
        np.testing.assert_array_equal(g, w)
    assert np.array_equal(own, dy) == use_c  # the Python loop's da in dy's place
    for other in (dy.copy(), np.asfortranarray(dy), dy.astype(np.float32)):
        keep = other.copy()
        if other.dtype == dy.dtype and other.flags.c_contiguous:
            other.flags.writeable = False
        backward(other, True)
        np.testing.assert_array_equal(other, keep)


def _user_layout(dy, layout):
    """dy (H, T, N) as the kernels see the user's array: a view of a (N, T, H) or (T, N, H) copy,
    one with negative strides, or dy itself ("kernel")."""
    if layout == "batch-first":
        return np.ascontiguousarray(dy.transpose(2, 1, 0)).transpose(2, 1, 0)
    if layout == "time-major":
        return np.ascontiguousarray(dy.transpose(1, 2, 0)).transpose(2, 0, 1)
    if layout == "reversed":
        return dy[::-1, ::-1, ::-1].copy()[::-1, ::-1, ::-1]
    return dy


def _rnn_backward_both(p, dy, dstate, monkeypatch, **options):
    """One forward (C loop), then rnn_backward on its cache in C and in Python: (C, Python)
    results as flat lists; the cache must come out of the C backward unchanged (so the test may
    clear the mark by which a kernel refuses a second backward through one cache)."""
    monkeypatch.setattr(blas, "c_loops", lambda: True)
    _, _, cache = rnn_forward(**p, **options)
    hs = cache["hs"].copy()
    results = []
    for use_c in (True, False):
        monkeypatch.setattr(blas, "c_loops", lambda use_c=use_c: use_c)
        dx, dstate0, grads, dh_sq = rnn_backward(cache, dy, dstate)
        results.append([dx, *dstate0, dh_sq, *(grads[k] for k in sorted(grads))])
        if use_c:
            np.testing.assert_array_equal(cache["hs"], hs)
            del cache["consumed"]
    return results


@pytest.mark.parametrize("nonlinearity", ["tanh", "relu"])
@pytest.mark.parametrize("packed", [False, True], ids=["full", "packed"])
@pytest.mark.parametrize("masked", [False, True], ids=["nomask", "mask"])
@pytest.mark.parametrize("reverse", [False, True], ids=["fwd", "rev"])
@pytest.mark.parametrize("T", [3, 16, 17, 40])
@pytest.mark.parametrize("N", [1, 5, 40])
def test_rnn_backward_in_chunks(nonlinearity, packed, masked, reverse, T, N, monkeypatch):
    """The C backward takes every product with da_t 16 steps at a time (T = 16, 17 and 40: one
    chunk, a partial one at either end of the loop, several; two rings of da_t in turn) and
    gives, on the same forward's cache, the Python loop's results to rounding in float64."""
    cell = f"rnn_{nonlinearity}"
    p, dy, dstate = _problem(cell, N, np.float64, reverse, masked, packed, T=T)
    got, want = _rnn_backward_both(p, dy, dstate, monkeypatch, nonlinearity=nonlinearity)
    for g, w in zip(got, want):
        np.testing.assert_allclose(g, w, **_tol(np.float64))


@pytest.mark.parametrize("layout", ["kernel", "batch-first", "time-major", "reversed", "none", "y itself"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["f32", "f64"])
def test_rnn_backward_reads_dy_as_it_is(layout, dtype, monkeypatch):
    """dy in the kernels' layout, as a view of the user's (N, T, H) or (T, N, H) array (each
    step's block transposed as the loop goes), with negative strides, None, or the forward's y
    itself (a view of the cache): never written, with the Python loop's results."""
    p, dy, dstate = _problem("rnn_tanh", 20, dtype, False, False, False, T=21)
    if layout == "y itself":
        monkeypatch.setattr(blas, "c_loops", lambda: True)
        dy = rnn_forward(**p)[0]
    dy_arg = None if layout == "none" else _user_layout(dy, layout)
    keep = None if dy_arg is None else dy_arg.copy()
    got, want = _rnn_backward_both(p, dy_arg, dstate, monkeypatch)
    for g, w in zip(got, want):
        np.testing.assert_allclose(g, w, **_tol(dtype))
    if keep is not None:
        np.testing.assert_array_equal(dy_arg, keep)


@pytest.mark.skipif(blas.find() is None or not blas.find().threads, reason="OpenBLAS's thread controls are needed")
@pytest.mark.parametrize("P", [2, 3, 5])
@pytest.mark.parametrize("packed", [False, True], ids=["full", "packed"])
@pytest.mark.parametrize("masked", [False, True], ids=["nomask", "mask"])
@pytest.mark.parametrize("reverse", [False, True], ids=["fwd", "rev"])
def test_split_rnn_backward_in_chunks_matches_one_thread(reverse, masked, packed, P, threads, monkeypatch):
    """The RNN's C backward split over P participants, with dy a view of the user's (N, T, H)
    array (each participant transposes its rows of every step): its chunks of steps share two
    rings of da_t in turn, which the participants write and read on either side of the barriers
    (T = 40: three chunks, one partial), and split each chunk's dx by columns, here over x itself
    (overwrite_x). The results of one thread with a dx of its own."""
    p, dy, dstate = _problem("rnn_tanh", 40, np.float64, reverse, masked, packed, T=40, H=11)
    dy = np.ascontiguousarray(dy.transpose(2, 1, 0)).transpose(2, 1, 0)
    threads(1)
    want = _run("rnn_tanh", p, dy, dstate, True, monkeypatch)
    threads(P)
    got = _run("rnn_tanh", p, dy, dstate, True, monkeypatch, overwrite_x=True)
    for g, w in zip(got, want):
        np.testing.assert_allclose(g, w, rtol=1e-12, atol=1e-13)


def test_dy_at_any_strides():
    """_fused.rnn_backward_seq reads dy at its own strides, whatever they are: the results of a
    C-contiguous copy; byte strides that are no whole number of items are refused."""
    fn, name = "rnn_backward_seq", "dy"
    i = pos(fn, name)
    base = valid_args(fn)
    good = base[i]
    H, T, N = good.shape
    views = [np.repeat(good, 2, axis=-1)[..., ::2], np.asfortranarray(good),
             good[::-1, ::-1, ::-1].copy()[::-1, ::-1, ::-1],  # negative strides
             np.ascontiguousarray(good.transpose(2, 1, 0)).transpose(2, 1, 0),  # the user's (N, T, H)
             np.ascontiguousarray(good.transpose(1, 2, 0)).transpose(2, 0, 1)]  # the user's (T, N, H)
    want = [a.copy() if isinstance(a, np.ndarray) else a for a in base]
    call(fn, want)
    for view in views:
        np.testing.assert_array_equal(view, good)
        args = [a.copy() if isinstance(a, np.ndarray) else a for a in base]
        args[i] = view
        call(fn, args)
        for name_out, out in outputs(fn, args).items():
            np.testing.assert_array_equal(out, outputs(fn, want)[name_out], err_msg=f"{name_out}, {view.strides}")
        np.testing.assert_array_equal(view, good)  # read only
    raw = np.zeros(H * T * N * 9 + 8, np.uint8)  # strides that are no whole number of items
    args = valid_args(fn)
    args[i] = np.ndarray((H, T, N), np.float64, raw, strides=(T * N * 9, N * 9, 9))
    expect_error(ValueError, rf"_fused: {name} has byte strides \({T * N * 9}, {N * 9}, 9\), not whole items of 8 "
                             "bytes", fn, args, f"{name} with odd strides")


@pytest.mark.parametrize("fn", ["rnn_backward_seq", "lstm_backward_seq"])
def test_backward_needs_x_and_w_ih(fn):
    """The RNN's and the LSTM's backward loops take their input-side gradients themselves: x and
    W_ih are no optional arguments there (None for both is refused as well as None for one)."""
    both = rf"_fused\.{fn}: x and W_ih must both be arrays"
    for names, message in ((["x"], both), (["W_ih"], both),
                           (["x", "W_ih"], r"_fused: W_ih must be a C-contiguous float32 or float64 array, got None")):
        args = valid_args(fn)
        for name in names:
            args[pos(fn, name)] = None
        expect_error(TypeError, message, fn, args, f"{names} None")


@pytest.mark.parametrize("dtype", DTYPES, ids=dtype_id)
def test_rnn_backward_dx_over_x(dtype):
    """dx may be x itself (the chunk's dW_ih reads x before its dx is written): the results of
    a dx of its own, in every output."""
    fn = "rnn_backward_seq"
    own = valid_args(fn, dtype)
    over = [a.copy() if isinstance(a, np.ndarray) else a for a in own]
    over[pos(fn, "dx")] = over[pos(fn, "x")]
    call(fn, own)
    call(fn, over)
    for name, out in outputs(fn, own).items():
        np.testing.assert_array_equal(outputs(fn, over)[name], out, err_msg=name)
