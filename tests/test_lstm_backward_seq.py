"""The LSTM's whole backward in C (``_fused.lstm_backward_seq``, ``csrc/sequence.h``: lstm_bwd_seq).

The loop keeps the gate gradients da_t of 8 steps at a time in a ring and takes every product with
them there, at the chunk's last step: dW_ih += da @ x.T, dW_hh += da @ h~.T, db += da @ 1 (each
participant its share of the rows) and, without claims, dx = W_ih.T @ da (its share of the columns);
no (4H, T, N) array of them is written. The binding's results must be the Python loop's gate
gradients (``lstm._backward_steps``) multiplied by NumPy after it: lengths of 5, 8 (one whole
chunk), 9 and 20 steps, both directions, a recurrent mask and finished sequences, the unclaimed
loop (3 sequences; float64) and the claimed one (24, float32, where packed), on 1 to 3 threads.
"""

from __future__ import annotations

import numpy as np
import pytest
from fused_helpers import expect_error

from rnnkit.kernels import _fused, blas
from rnnkit.kernels.common import previous_states
from rnnkit.kernels.lstm import _backward_steps

pytestmark = pytest.mark.skipif(blas.find() is None, reason="NumPy's BLAS cannot be called from C here")

I, H = 5, 40  # 40: split over 2 and 3 participants, claimed in several chunks at 24 sequences
NAMES = ["A", "cs", "tcs", "hs", "x", "W_ih", "W_hh", "dy", "dh", "dc", "dh_sq", "dW_ih", "dW_hh", "db", "dx",
         "rec_mask"]


def _args(T, N, dtype, reverse, masked, seed=0):
    """lstm_backward_seq's arguments as a dict, then batch_sizes (finished sequences when masked)
    and reverse: A's activations in (0.1, 0.9), caches and dy time-major, the weight gradients
    random (they are added to), dx NaN (only written)"""
    rng = np.random.default_rng(seed)
    u = lambda *shape: rng.uniform(-1, 1, shape).astype(dtype)  # noqa: E731
    a = dict(A=rng.uniform(0.1, 0.9, (T, 4 * H, N)).astype(dtype), cs=u(T + 1, H, N), tcs=u(T, H, N),
             hs=u(H, T + 1, N), x=u(I, T, N), W_ih=u(4 * H, I) * 0.3, W_hh=u(4 * H, H) * 0.3, dy=u(T, H, N),
             dh=u(H, N), dc=u(H, N), dh_sq=np.zeros((T, N), dtype), dW_ih=u(4 * H, I), dW_hh=u(4 * H, H),
             db=u(4 * H), dx=np.full((I, T, N), np.nan, dtype),
             rec_mask=((rng.random((H, N)) > 0.3) / 0.7).astype(dtype) if masked else None)
    sizes = np.linspace(N, 1, T).round().astype(np.int64) if masked else None
    return a, sizes, int(reverse)


def _call(a, sizes, reverse):
    _fused.lstm_backward_seq(*(a[k] for k in NAMES), sizes, reverse)


def _expected(a, sizes, reverse):
    """dh0, dc0, dh_sq, dW_ih, dW_hh, db and dx: the Python loop, then NumPy's products, in float64"""
    T, _, N = a["A"].shape
    fm = lambda v: np.ascontiguousarray(v.transpose(1, 0, 2))  # noqa: E731  (T, F, N) -> (F, T, N)
    A, dh, dc, dh_sq = fm(a["A"]), a["dh"].copy(), a["dc"].copy(), np.zeros((T, N), a["A"].dtype)
    cache = dict(gates=A, cs=fm(a["cs"]), tanh_cs=fm(a["tcs"]), W_hh=a["W_hh"], batch_sizes=sizes,
                 rec_mask=a["rec_mask"], reverse=bool(reverse), ws=None)
    _backward_steps(cache, fm(a["dy"]), dh, dc, dh_sq)
    dA = A.reshape(4 * H, T * N).astype(np.float64)
    h_in = previous_states(a["hs"], bool(reverse)).astype(np.float64)
    if a["rec_mask"] is not None:
        h_in = h_in * a["rec_mask"][:, None, :]
    return dict(dh=dh, dc=dc, dh_sq=dh_sq, dW_ih=a["dW_ih"] + dA @ a["x"].reshape(I, -1).T,
                dW_hh=a["dW_hh"] + dA @ h_in.reshape(H, -1).T, db=a["db"] + dA.sum(axis=1),
                dx=(a["W_ih"].T.astype(np.float64) @ dA).reshape(I, T, N))


@pytest.mark.parametrize("T", [5, 8, 9, 20])
@pytest.mark.parametrize("N, dtype", [(3, np.float64), (3, np.float32), (24, np.float32), (24, np.float64)],
                         ids=["3-f64", "3-f32", "24-f32", "24-f64"])
@pytest.mark.parametrize("reverse", [False, True], ids=["fwd", "rev"])
@pytest.mark.parametrize("masked", [False, True], ids=["plain", "mask-lengths"])
@pytest.mark.parametrize("P", [1, 2, 3])
def test_products_of_the_python_loops_gate_gradients(T, N, dtype, reverse, masked, P, threads):
    """every output against the Python loop and NumPy; dx 0 in finished columns; the weight
    gradients added to what they held"""
    threads(P)
    a, sizes, rev = _args(T, N, dtype, reverse, masked, seed=T + N)
    want = _expected(a, sizes, rev)
    _call(a, sizes, rev)
    tol = dict(rtol=2e-4, atol=2e-5) if dtype == np.float32 else dict(rtol=1e-11, atol=1e-12)
    for name, w in want.items():
        np.testing.assert_allclose(a[name], w, **tol, err_msg=f"{name} on {P} threads")
    if sizes is not None:
        for t, B in enumerate(sizes):
            assert not a["dx"][:, t, B:].any(), f"dx of finished sequences at step {t}"


@pytest.mark.parametrize("N", [3, 24])
def test_inputs_left_alone_and_db_none(N):
    """A, cs, tcs, hs, x, the weights, dy and rec_mask only read; db None: no bias gradient, and
    every other output bit for bit as with it"""
    a, sizes, rev = _args(20, N, np.float32, True, True)
    inputs = {k: a[k].copy() for k in ("A", "cs", "tcs", "hs", "x", "W_ih", "W_hh", "dy", "rec_mask")}
    no_db = {k: (v.copy() if isinstance(v, np.ndarray) else v) for k, v in a.items()}
    no_db["db"] = None
    _call(a, sizes, rev)
    _call(no_db, sizes, rev)
    for k, v in inputs.items():
        np.testing.assert_array_equal(a[k], v, err_msg=k)
    for k in ("dh", "dc", "dh_sq", "dW_ih", "dW_hh", "dx"):
        np.testing.assert_array_equal(no_db[k], a[k], err_msg=k)


def test_x_read_at_a_row_stride():
    """x a view whose (T, N) rows are further apart (hs[:, 1:] of the layer below): the same results"""
    a, sizes, rev = _args(9, 24, np.float32, False, True)
    strided = {k: (v.copy() if isinstance(v, np.ndarray) else v) for k, v in a.items()}
    big = np.full((I, 10, 24), np.nan, np.float32)
    big[:, 1:] = a["x"]
    strided["x"] = big[:, 1:]
    assert not strided["x"].flags.c_contiguous
    _call(a, sizes, rev)
    _call(strided, sizes, rev)
    for k in ("dW_ih", "dW_hh", "db", "dx"):
        np.testing.assert_array_equal(strided[k], a[k], err_msg=k)


def test_dx_must_not_share_memory_with_x():
    """dx_t is written before the weight gradients read x_t: dx over x, or over part of it, is
    refused; an array right beside x is fine"""
    T, N = 6, 4
    block = np.zeros((2 * I + 1, T, N))
    for x, dx, ok in ((block[:I], block[:I], False), (block[:I], block[1:I + 1], False),
                      (block[:I], block[I:2 * I], True), (block[1:I + 1], block[:I], False)):
        a, sizes, rev = _args(T, N, np.float64, False, False)
        x[...] = a["x"]
        a["x"], a["dx"] = x, dx
        if ok:
            _call(a, sizes, rev)
            continue
        expect_error(ValueError, r"_fused\.lstm_backward_seq: dx must not share memory with x \(the weight "
                                 r"gradients read x after dx is written\): pass an array of its own",
                     "lstm_backward_seq", [a[k] for k in NAMES] + [sizes, rev], "dx over x")
