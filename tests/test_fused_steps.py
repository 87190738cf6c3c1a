"""The C extension ``rnnkit.kernels._fused`` on its own: activations, step functions, argument checks.

The layer-level parity with PyTorch lives in test_torch_parity.py; these tests call the module
directly so that a fault in the C code is reported with the function, argument and columns it
concerns. Everything is compared with a NumPy transcription of the equations of
``csrc/steps.h`` evaluated in ``np.longdouble`` (see the ``ref_*`` functions), in the layouts the
kernels in ``rnnkit/kernels/{rnn,lstm,gru}.py`` use:

* ``contiguous``: every argument a fresh C-contiguous (rows, cols) array;
* ``strided``: every (rows, N) block is the step slice ``X[:, t]`` of a (rows, T, N) array (row
  stride T*N) and every compact (G*H, B) product is ``P[:, t, :B]`` of a (G*H, T, N) array, with
  a different T for each argument (as ``cs[:, t]`` of (H, T+1, N) and ``tanh_cs[:, t]`` of
  (H, T, N) differ), so that mixing up two arguments' row strides shows. The other steps and
  columns hold NaN: the test then also checks that the call neither wrote there nor read from
  there (a stray read would put NaN into the results).

Columns ``n >= B`` are finished sequences: module.c copies their states from the previous step
(``carry``), zeroes their gate gradients (``zero_tail``) and otherwise leaves them alone; the
references say which, argument by argument, and those columns are compared bit for bit.
"""

from __future__ import annotations

import re
import sys

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal

from rnnkit.kernels import _fused

DTYPES = [np.float32, np.float64]
TOL = {np.float32: dict(rtol=2e-6, atol=5e-7), np.float64: dict(rtol=1e-13, atol=1e-14)}
H = 5
T_STEPS, T_AT = 4, 2  # strided layout: step T_AT of a (rows, T, N) array, T = T_STEPS + k for argument k
# (N, B): all running, some finished, B = 1 (a separate code path in the forward functions,
# with N = 1 and N > 1), nothing running, and a batch wide enough for the SIMD loop body.
COLUMNS = [(7, 7), (7, 3), (7, 1), (7, 0), (1, 1), (1, 0), (37, 37), (37, 18)]
LD = np.longdouble


def dtype_id(dtype) -> str:
    return np.dtype(dtype).name


# ---- references (longdouble) ---------------------------------------------------------------


def sigmoid(x):
    """sigma(x) = 1 / (1 + exp(-x))."""
    with np.errstate(over="ignore"):
        return 1 / (1 + np.exp(-x))


def tanh(x):
    """tanh(x)."""
    return np.tanh(x)


def gates(x, G):
    """The G row blocks [x_0; ...; x_{G-1}] of a (G*H, .) array (views)."""
    h = x.shape[0] // G
    return [x[k * h : (k + 1) * h] for k in range(G)]


def ref_lstm_forward(a, gh, c_prev, h_prev, c, tc, h, B):
    """LSTM forward step, PyTorch gate order [i; f; g; o], for the columns n < B::

        i = sigma(a_i + gh_i)   f = sigma(a_f + gh_f)   g = tanh(a_g + gh_g)   o = sigma(a_o + gh_o)
        c = f * c_prev + i * g          tc = tanh(c)          h = o * tc
        a <- [i; f; g; o]

    Columns n >= B: c and h carried from c_prev and h_prev; a and tc untouched.
    """
    pre = [ak[:, :B] + gk for ak, gk in zip(gates(a, 4), gates(gh, 4))]
    i, f, g, o = sigmoid(pre[0]), sigmoid(pre[1]), tanh(pre[2]), sigmoid(pre[3])
    c_new = f * c_prev[:, :B] + i * g
    out = dict(a=a.copy(), c=c_prev.copy(), tc=tc.copy(), h=h_prev.copy())
    out["a"][:, :B] = np.concatenate([i, f, g, o])
    out["c"][:, :B] = c_new
    out["tc"][:, :B] = tanh(c_new)
    out["h"][:, :B] = o * tanh(c_new)
    return out


def ref_lstm_backward(a, dh, dy, dc, c_prev, tc, dh_sq, B):
    """LSTM backward step; a holds the forward's [i; f; g; o]. For the columns n < B::

        d = dh + dy                      dh_sq[n] = sum_j d[j, n]^2
        dc' = dc + d * o * (1 - tc^2)
        da_i = dc' * g * i (1 - i)       da_f = dc' * c_prev * f (1 - f)
        da_g = dc' * i * (1 - g^2)       da_o = d * tc * o (1 - o)
        a <- [da_i; da_f; da_g; da_o]    dc <- dc' * f

    Columns n >= B: a zeroed; dc and dh_sq untouched. dh is never written.
    """
    i, f, g, o = (x[:, :B] for x in gates(a, 4))
    d = dh[:, :B] + dy[:, :B]
    t = tc[:, :B]
    dcn = dc[:, :B] + d * o * (1 - t * t)
    out = dict(a=np.zeros_like(a), dc=dc.copy(), dh_sq=dh_sq.copy())
    out["a"][:, :B] = np.concatenate(
        [dcn * g * i * (1 - i), dcn * c_prev[:, :B] * f * (1 - f), dcn * i * (1 - g * g), d * t * o * (1 - o)]
    )
    out["dc"][:, :B] = dcn * f
    out["dh_sq"][:B] = (d * d).sum(axis=0)
    return out


def ref_rnn_forward(a, gh, h_prev, B, relu):
    """Elman RNN forward step, in place: for the columns n < B, a <- phi(a + gh) with
    phi = tanh, or relu(v) = max(v, 0); columns n >= B: a <- h_prev (carried)."""
    v = a[:, :B] + gh
    out = dict(a=h_prev.copy())
    out["a"][:, :B] = np.where(v < 0, 0, v) if relu else tanh(v)
    return out


def ref_rnn_backward(da, dh, dy, h, dh_sq, B, relu):
    """Elman RNN backward step, for the columns n < B::

        d = dh + dy      dh_sq[n] = sum_j d[j, n]^2
        da = d * (1 - h^2)  (tanh)      da = d * [h > 0]  (relu)

    Columns n >= B: da zeroed, dh_sq untouched. dh is never written.
    """
    d = dh[:, :B] + dy[:, :B]
    hb = h[:, :B]
    out = dict(da=np.zeros_like(da), dh_sq=dh_sq.copy())
    out["da"][:, :B] = np.where(hb > 0, d, 0) if relu else d * (1 - hb * hb)
    out["dh_sq"][:B] = (d * d).sum(axis=0)
    return out


def ref_gru_forward(a, gh, b_hn, h_prev, side, h, B):
    """GRU forward step with reset_after (PyTorch), gate order [r; z; n], for the columns n < B::

        r = sigma(a_r + gh_r)   z = sigma(a_z + gh_z)   s = gh_n + b_hn
        n = tanh(a_n + r * s)   h = n + z * (h_prev - n)
        a <- [r; z; n]          side <- s

    Columns n >= B: h carried from h_prev, side zeroed, a untouched.
    """
    a_r, a_z, a_n = (x[:, :B] for x in gates(a, 3))
    g_r, g_z, g_n = gates(gh, 3)
    r, z = sigmoid(a_r + g_r), sigmoid(a_z + g_z)
    s = g_n + b_hn
    n = tanh(a_n + r * s)
    out = dict(a=a.copy(), side=np.zeros_like(side), h=h_prev.copy())
    out["a"][:, :B] = np.concatenate([r, z, n])
    out["side"][:, :B] = s
    out["h"][:, :B] = n + z * (h_prev[:, :B] - n)
    return out


def ref_gru_backward(a, dh, dy, h_prev, side, dah, dh_sq, B):
    """GRU (reset_after) backward step; a holds [r; z; n], side holds s. For the columns n < B::

        d = dh + dy                        dh_sq[n] = sum_j d[j, n]^2
        da_n = d (1 - z) (1 - n^2)         da_z = d (h_prev - n) z (1 - z)
        da_r = da_n * s * r (1 - r)
        a <- [da_r; da_z; da_n]    side <- da_n * r    dah <- [da_r; da_z; da_n * r]    dh <- d * z

    Columns n >= B: a and side zeroed; dh and dh_sq untouched. dah is (3H, B).
    """
    r, z, n = (x[:, :B] for x in gates(a, 3))
    d = dh[:, :B] + dy[:, :B]
    da_n = d * (1 - z) * (1 - n * n)
    da_z = d * (h_prev[:, :B] - n) * z * (1 - z)
    da_r = da_n * side[:, :B] * r * (1 - r)
    out = dict(a=np.zeros_like(a), side=np.zeros_like(side), dh=dh.copy(), dh_sq=dh_sq.copy())
    out["a"][:, :B] = np.concatenate([da_r, da_z, da_n])
    out["side"][:, :B] = da_n * r
    out["dah"] = np.concatenate([da_r, da_z, da_n * r])
    out["dh"][:, :B] = d * z
    out["dh_sq"][:B] = (d * d).sum(axis=0)
    return out


def ref_gru_forward_rz(a, gh, hm, side, B):
    """GRU in Cho et al.'s form, first half of the forward step, for the columns n < B::

        r = sigma(a_r + gh_r)    z = sigma(a_z + gh_z)    side = r * hm
        a <- [r; z; a_n]  (the n block untouched)

    Columns n >= B: side zeroed, a untouched.
    """
    a_r, a_z, _ = (x[:, :B] for x in gates(a, 3))
    g_r, g_z = gates(gh, 2)
    r, z = sigmoid(a_r + g_r), sigmoid(a_z + g_z)
    out = dict(a=a.copy(), side=np.zeros_like(side))
    out["a"][: 2 * H, :B] = np.concatenate([r, z])
    out["side"][:, :B] = r * hm[:, :B]
    return out


def ref_gru_forward_n(a, gh, h_prev, h, B):
    """GRU in Cho et al.'s form, second half of the forward step (a holds [r; z; a_n], gh = W_hn side),
    for the columns n < B::

        n = tanh(a_n + gh)    h = n + z * (h_prev - n)    a_n <- n

    Columns n >= B: h carried from h_prev, a untouched.
    """
    _, z, a_n = (x[:, :B] for x in gates(a, 3))
    n = tanh(a_n + gh)
    out = dict(a=a.copy(), h=h_prev.copy())
    out["a"][2 * H :, :B] = n
    out["h"][:, :B] = n + z * (h_prev[:, :B] - n)
    return out


def ref_gru_backward_nz(a, dh, dy, h_prev, dh_sq, B):
    """GRU in Cho et al.'s form, first half of the backward step (a holds [r; z; n]), for n < B::

        d = dh + dy     dh_sq[n] = sum_j d[j, n]^2
        a_n <- d (1 - z) (1 - n^2)     a_z <- d (h_prev - n) z (1 - z)     dh <- d * z

    The r block, and every column n >= B, untouched (gru_backward_r zeroes them).
    """
    _, z, n = (x[:, :B] for x in gates(a, 3))
    d = dh[:, :B] + dy[:, :B]
    out = dict(a=a.copy(), dh=dh.copy(), dh_sq=dh_sq.copy())
    out["a"][H:, :B] = np.concatenate([d * (h_prev[:, :B] - n) * z * (1 - z), d * (1 - z) * (1 - n * n)])
    out["dh"][:, :B] = d * z
    out["dh_sq"][:B] = (d * d).sum(axis=0)
    return out


def ref_gru_backward_r(a, drh, hm, B):
    """GRU in Cho et al.'s form, second half of the backward step (a holds [r; da_z; da_n],
    drh = W_hn.T @ da_n is (H, B)), for n < B::

        a_r <- drh * hm * r (1 - r)      drh <- drh * r

    Columns n >= B: the whole of a (3H rows) zeroed.
    """
    r = a[:H, :B]
    out = dict(a=a.copy(), drh=drh * r)
    out["a"][:H, :B] = drh * hm[:, :B] * r * (1 - r)
    out["a"][:, B:] = 0
    return out


# ---- layouts ---------------------------------------------------------------------------------


class Arena:
    """Places the arguments of one call in a layout and checks afterwards that the call touched
    nothing of the backing arrays but the views it was given."""

    def __init__(self, layout: str, dtype, seed: int = 0):
        self.layout = layout
        self.dtype = dtype
        self.rng = np.random.default_rng(seed)
        self.backing = []  # (base, index of the view in base, copy of base)

    def place(self, values, width: int | None = None) -> np.ndarray:
        """A view holding ``values`` (2-d (rows, cols), or 1-d (N,) for dh_sq); in the strided
        layout, step T_AT of a NaN-filled (rows, T, width) array (width >= cols), with T one more
        than for the previous argument."""
        values = np.asarray(values, dtype=self.dtype)
        if self.layout == "contiguous":
            return np.array(values, order="C")
        steps = T_STEPS + len(self.backing)
        if values.ndim == 1:
            base = np.full((steps, values.shape[0]), np.nan, self.dtype)
            index = (T_AT,)
        else:
            rows, cols = values.shape
            base = np.full((rows, steps, max(cols, width or 0)), np.nan, self.dtype)
            index = (slice(None), T_AT, slice(0, cols))
        base[index] = values
        self.backing.append((base, index, base.copy()))
        return base[index]

    def normal(self, rows, cols, scale=1.0, width=None):
        return self.place(scale * self.rng.standard_normal((rows, cols)), width)

    def uniform(self, rows, cols, lo, hi):
        return self.place(self.rng.uniform(lo, hi, (rows, cols)))

    def row(self, n):
        return self.place(self.rng.standard_normal(n))

    def check_untouched(self, fn: str):
        for base, index, before in self.backing:
            outside = np.ones(base.shape, bool)
            outside[index] = False
            assert_array_equal(base[outside], before[outside],
                               err_msg=f"{fn} wrote outside the arrays it was given")


def check_call(fn: str, arena: Arena, args: dict, ints: tuple, reference, computed: set, B: int):
    """Call ``_fused.fn(*args.values(), *ints)`` and compare every argument with ``reference``:
    the first B columns of the arguments in ``computed`` within TOL, everything else exactly."""
    inputs = {k: v.astype(LD) for k, v in args.items()}
    expected = reference(**inputs, B=B, **({"relu": ints[1]} if len(ints) > 1 else {}))
    getattr(_fused, fn)(*args.values(), *ints)
    arena.check_untouched(fn)
    dtype = arena.dtype
    for name, got in args.items():
        exp = expected.get(name, inputs[name])
        assert got.shape == exp.shape
        k = B if name in computed else 0
        assert_array_equal(got[..., k:], exp[..., k:].astype(dtype),
                           err_msg=f"{fn}: {name}[..., {k}:] (B = {B}, N = {got.shape[-1]})")
        assert_allclose(got[..., :k].astype(LD), exp[..., :k], **TOL[dtype],
                        err_msg=f"{fn}: {name}[..., :{k}] (B = {B}, N = {got.shape[-1]})")
        if k:
            assert np.isfinite(got[..., :k]).all(), f"{fn}: {name} not finite"


step_params = pytest.mark.parametrize(
    "dtype, layout, N, B",
    [(dt, lay, n, b) for dt in DTYPES for lay in ("contiguous", "strided") for n, b in COLUMNS],
    ids=lambda p: dtype_id(p) if isinstance(p, type) else str(p),
)


# ---- the step functions against the equations ---------------------------------------------


@step_params
def test_lstm_forward_step(dtype, layout, N, B):
    ar = Arena(layout, dtype, seed=N + B)
    args = dict(a=ar.normal(4 * H, N, 1.5), gh=ar.normal(4 * H, B, width=N), c_prev=ar.normal(H, N, 2),
                h_prev=ar.normal(H, N), c=ar.normal(H, N), tc=ar.normal(H, N), h=ar.normal(H, N))
    check_call("lstm_forward_step", ar, args, (B,), ref_lstm_forward, {"a", "c", "tc", "h"}, B)


@step_params
def test_lstm_backward_step(dtype, layout, N, B):
    ar = Arena(layout, dtype, seed=N + B)
    acts = np.concatenate([ar.rng.uniform(0, 1, (2 * H, N)), ar.rng.uniform(-1, 1, (H, N)),
                           ar.rng.uniform(0, 1, (H, N))])
    args = dict(a=ar.place(acts), dh=ar.normal(H, N), dy=ar.normal(H, N), dc=ar.normal(H, N),
                c_prev=ar.normal(H, N, 2), tc=ar.uniform(H, N, -1, 1), dh_sq=ar.row(N))
    check_call("lstm_backward_step", ar, args, (B,), ref_lstm_backward, {"a", "dc", "dh_sq"}, B)


@pytest.mark.parametrize("relu", [0, 1], ids=["tanh", "relu"])
@step_params
def test_rnn_forward_step(dtype, layout, N, B, relu):
    ar = Arena(layout, dtype, seed=N + B)
    args = dict(a=ar.normal(H, N, 1.5), gh=ar.normal(H, B, width=N), h_prev=ar.normal(H, N))
    check_call("rnn_forward_step", ar, args, (B, relu), ref_rnn_forward, {"a"}, B)


@pytest.mark.parametrize("relu", [0, 1], ids=["tanh", "relu"])
@step_params
def test_rnn_backward_step(dtype, layout, N, B, relu):
    ar = Arena(layout, dtype, seed=N + B)
    h = ar.rng.uniform(-1, 1, (H, N))
    if relu:
        h = np.maximum(h, 0)  # relu outputs, with exact zeros (relu'(0) = 0)
    args = dict(da=ar.normal(H, N), dh=ar.normal(H, N), dy=ar.normal(H, N), h=ar.place(h), dh_sq=ar.row(N))
    check_call("rnn_backward_step", ar, args, (B, relu), ref_rnn_backward, {"da", "dh_sq"}, B)


@step_params
def test_gru_forward_step(dtype, layout, N, B):
    ar = Arena(layout, dtype, seed=N + B)
    b_hn = np.array(ar.rng.standard_normal((H, 1)), dtype=dtype)  # (H, 1), always contiguous
    args = dict(a=ar.normal(3 * H, N, 1.5), gh=ar.normal(3 * H, B, width=N), b_hn=b_hn,
                h_prev=ar.normal(H, N), side=ar.normal(H, N), h=ar.normal(H, N))
    check_call("gru_forward_step", ar, args, (B,), ref_gru_forward, {"a", "side", "h"}, B)


@step_params
def test_gru_backward_step(dtype, layout, N, B):
    ar = Arena(layout, dtype, seed=N + B)
    acts = np.concatenate([ar.rng.uniform(0, 1, (2 * H, N)), ar.rng.uniform(-1, 1, (H, N))])
    args = dict(a=ar.place(acts), dh=ar.normal(H, N), dy=ar.normal(H, N), h_prev=ar.normal(H, N),
                side=ar.normal(H, N), dah=ar.normal(3 * H, B, width=N), dh_sq=ar.row(N))
    check_call("gru_backward_step", ar, args, (B,), ref_gru_backward, {"a", "side", "dah", "dh", "dh_sq"}, B)


@step_params
def test_gru_forward_rz(dtype, layout, N, B):
    ar = Arena(layout, dtype, seed=N + B)
    args = dict(a=ar.normal(3 * H, N, 1.5), gh=ar.normal(2 * H, B, width=N), hm=ar.normal(H, N),
                side=ar.normal(H, N))
    check_call("gru_forward_rz", ar, args, (B,), ref_gru_forward_rz, {"a", "side"}, B)


@step_params
def test_gru_forward_n(dtype, layout, N, B):
    ar = Arena(layout, dtype, seed=N + B)
    a = np.concatenate([ar.rng.uniform(0, 1, (2 * H, N)), 1.5 * ar.rng.standard_normal((H, N))])
    args = dict(a=ar.place(a), gh=ar.normal(H, B, width=N), h_prev=ar.normal(H, N), h=ar.normal(H, N))
    check_call("gru_forward_n", ar, args, (B,), ref_gru_forward_n, {"a", "h"}, B)


@step_params
def test_gru_backward_nz(dtype, layout, N, B):
    ar = Arena(layout, dtype, seed=N + B)
    acts = np.concatenate([ar.rng.uniform(0, 1, (2 * H, N)), ar.rng.uniform(-1, 1, (H, N))])
    args = dict(a=ar.place(acts), dh=ar.normal(H, N), dy=ar.normal(H, N), h_prev=ar.normal(H, N),
                dh_sq=ar.row(N))
    check_call("gru_backward_nz", ar, args, (B,), ref_gru_backward_nz, {"a", "dh", "dh_sq"}, B)


@step_params
def test_gru_backward_r(dtype, layout, N, B):
    ar = Arena(layout, dtype, seed=N + B)
    a = np.concatenate([ar.rng.uniform(0, 1, (H, N)), ar.rng.standard_normal((2 * H, N))])
    args = dict(a=ar.place(a), drh=ar.normal(H, B, width=N), hm=ar.normal(H, N))
    check_call("gru_backward_r", ar, args, (B,), ref_gru_backward_r, {"a", "drh"}, B)


@pytest.mark.parametrize("dtype", DTYPES, ids=dtype_id)
def test_gru_cho_forward_halves_compose(dtype):
    """The two halves chained as gru.py chains them give the references chained (B < N)."""
    N, B = 7, 4
    rng = np.random.default_rng(5)
    a = rng.standard_normal((3 * H, N)).astype(dtype)
    gh_rz = rng.standard_normal((2 * H, B)).astype(dtype)
    W_hn = (rng.standard_normal((H, H)) / 2).astype(dtype)
    h_prev = rng.standard_normal((H, N)).astype(dtype)
    side, h = np.empty((H, N), dtype), np.empty((H, N), dtype)
    exp = ref_gru_forward_rz(a.astype(LD), gh_rz.astype(LD), h_prev.astype(LD), side.astype(LD), B)
    _fused.gru_forward_rz(a, gh_rz, h_prev, side, B)
    gh_n = W_hn @ side[:, :B]
    exp = ref_gru_forward_n(exp["a"], gh_n.astype(LD), h_prev.astype(LD), h.astype(LD), B)
    _fused.gru_forward_n(a, gh_n, h_prev, h, B)
    assert_allclose(a[:, :B].astype(LD), exp["a"][:, :B], **TOL[dtype])
    assert_allclose(h.astype(LD), exp["h"], **TOL[dtype])
    assert_array_equal(side[:, B:], 0)


# ---- NaN propagation ------------------------------------------------------------------------


def nan_case(G, N, B, gate, j, col, dtype, where="a"):
    """Random forward arguments with one NaN at row gate*H + j, column col of `where`."""
    rng = np.random.default_rng(7)
    a = rng.standard_normal((G * H, N)).astype(dtype)
    gh = rng.standard_normal((G * H, B)).astype(dtype)
    {"a": a, "gh": gh}[where][gate * H + j, col] = np.nan
    return a, gh, rng


def assert_nan_exactly(fn, name, x, j, col):
    """x[j, col] is NaN and no other entry is."""
    bad = ~np.isfinite(x)
    want = np.zeros_like(bad)
    want[j, col] = True
    assert np.isnan(x[j, col]), f"{fn}: {name}[{j}, {col}] = {x[j, col]!r}, expected NaN"
    assert_array_equal(bad, want, err_msg=f"{fn}: the NaN reached other entries of {name}")


NAN_COLUMNS = [(1, 1, 0), (7, 1, 0), (37, 37, 0), (37, 37, 20), (37, 37, 36), (37, 20, 19)]  # N, B, col


@pytest.mark.parametrize("where", ["a", "gh"])
@pytest.mark.parametrize("gate", [0, 1, 2, 3], ids=["i", "f", "g", "o"])
@pytest.mark.parametrize("N, B, col", NAN_COLUMNS)
@pytest.mark.parametrize("dtype", DTYPES, ids=dtype_id)
def test_lstm_forward_nan_propagates(dtype, N, B, col, gate, where):
    j = 3
    a, gh, rng = nan_case(4, N, B, gate, j, col, dtype, where)
    c_prev, h_prev = (rng.standard_normal((H, N)).astype(dtype) for _ in range(2))
    c, tc, h = (np.zeros((H, N), dtype) for _ in range(3))
    _fused.lstm_forward_step(a, gh, c_prev, h_prev, c, tc, h, B)
    assert np.isnan(a[gate * H + j, col]), "the gate activation should be NaN"
    assert_nan_exactly("lstm_forward_step", "h", h, j, col)
    if gate != 3:  # i, f, g enter c; o only h
        assert_nan_exactly("lstm_forward_step", "c", c, j, col)
        assert_nan_exactly("lstm_forward_step", "tc", tc, j, col)
    else:
        assert np.isfinite(c).all() and np.isfinite(tc).all()


@pytest.mark.parametrize("where", ["a", "gh"])
@pytest.mark.parametrize("gate", [0, 1, 2], ids=["r", "z", "n"])
@pytest.mark.parametrize("N, B, col", NAN_COLUMNS)
@pytest.mark.parametrize("dtype", DTYPES, ids=dtype_id)
def test_gru_forward_nan_propagates(dtype, N, B, col, gate, where):
    j = 2
    a, gh, rng = nan_case(3, N, B, gate, j, col, dtype, where)
    b_hn = rng.standard_normal((H, 1)).astype(dtype)
    h_prev = rng.standard_normal((H, N)).astype(dtype)
    side, h = np.zeros((H, N), dtype), np.zeros((H, N), dtype)
    _fused.gru_forward_step(a, gh, b_hn, h_prev, side, h, B)
    assert_nan_exactly("gru_forward_step", "h", h, j, col)


@pytest.mark.parametrize("gate", [0, 1, 2], ids=["r", "z", "n"])
@pytest.mark.parametrize("N, B, col", NAN_COLUMNS)
@pytest.mark.parametrize("dtype", DTYPES, ids=dtype_id)
def test_gru_cho_forward_nan_propagates(dtype, N, B, col, gate):
    j = 1
    a, gh, rng = nan_case(3, N, B, gate, j, col, dtype)
    gh_rz = gh[: 2 * H]
    h_prev = rng.standard_normal((H, N)).astype(dtype)
    side, h = np.zeros((H, N), dtype), np.zeros((H, N), dtype)
    _fused.gru_forward_rz(a, np.ascontiguousarray(gh_rz), h_prev, side, B)
    if gate == 0:
        assert_nan_exactly("gru_forward_rz", "side", side, j, col)
        side[j, col] = 0  # W_hn @ side would spread it over the column; follow r alone
    _fused.gru_forward_n(a, np.ascontiguousarray(side[:, :B]), h_prev, h, B)
    if gate == 0:
        assert np.isfinite(h).all()
    else:
        assert_nan_exactly("gru_forward_n", "h", h, j, col)


@pytest.mark.parametrize("where", ["a", "gh"])
@pytest.mark.parametrize("relu", [0, 1], ids=["tanh", "relu"])
@pytest.mark.parametrize("N, B, col", NAN_COLUMNS)
@pytest.mark.parametrize("dtype", DTYPES, ids=dtype_id)
def test_rnn_forward_nan_propagates(dtype, N, B, col, relu, where):
    j = 4
    a, gh, rng = nan_case(1, N, B, 0, j, col, dtype, where)
    h_prev = rng.standard_normal((H, N)).astype(dtype)
    _fused.rnn_forward_step(a, gh, h_prev, B, relu)
    assert_nan_exactly("rnn_forward_step", "a", a, j, col)


@pytest.mark.parametrize("N, B", [(1, 1), (37, 37)])
@pytest.mark.parametrize("dtype", DTYPES, ids=dtype_id)
def test_forward_infinite_preactivations_saturate(dtype, N, B):
    """+-inf pre-activations give the saturated values, never NaN."""
    rng = np.random.default_rng(3)
    a = np.where(rng.random((4 * H, N)) < 0.5, -np.inf, np.inf).astype(dtype)
    gh = np.zeros((4 * H, B), dtype)
    c_prev = rng.standard_normal((H, N)).astype(dtype)
    c, tc, h = (np.zeros((H, N), dtype) for _ in range(3))
    _fused.lstm_forward_step(a, gh, c_prev, c_prev.copy(), c, tc, h, B)
    assert np.isfinite(c).all() and np.isfinite(h).all()
    i, f, g, o = gates(a, 4)
    sat = 1e-30  # sigmoid(-inf) is a tiny positive number (exp is clamped)
    for name, x in (("i", i), ("f", f), ("o", o)):
        assert np.all(np.abs(x - (x > 0.5)) <= sat), name
    assert np.all(np.abs(g) == 1)
    r = np.where(rng.random((H, N)) < 0.5, -np.inf, np.inf).astype(dtype)
    _fused.rnn_forward_step(r, np.zeros((H, B), dtype), c_prev, B, 0)
    assert np.all(np.abs(r) == 1)


# ---- activation ----------------------------------------------------------------------------

# largest relative error, in units of the last place of the correctly rounded result
ULP_BOUND = {"tanh": 2.0, "sigmoid": 4.0}
SIGMOID_RELATIVE_FROM = -80.0  # sigmoid is held to ULP_BOUND for x >= this (both dtypes)


def act(x, which, dtype):
    """_fused.activation on a 1-d array (as one (1, n) row)."""
    x2 = np.array(x, dtype=dtype).reshape(1, -1)
    out = np.full_like(x2, 12345)
    _fused.activation(x2, out, which)
    return out[0]


def grid(dtype):
    """linspace(-30, 30, 200001), geomspace(1e-30, 1) and negatives, 0, -0.0, and for sigmoid's
    relative accuracy [-80, -30]."""
    tiny = np.geomspace(1e-30, 1, 3001)
    x = np.concatenate([np.linspace(-30, 30, 200001), tiny, -tiny, [0.0, -0.0], np.linspace(-80, -30, 20001)])
    return x.astype(dtype)


@pytest.mark.parametrize("which, name", [(0, "sigmoid"), (1, "tanh")])
@pytest.mark.parametrize("dtype", DTYPES, ids=dtype_id)
def test_activation_accuracy(dtype, which, name):
    """Against the longdouble reference: tanh within 2 ulp (relative) everywhere on the grid;
    sigmoid within 4 ulp (relative) for x >= -80, and within 1 ulp of 1.0 (absolute) everywhere."""
    x = grid(dtype)
    ref = (sigmoid if which == 0 else tanh)(x.astype(LD))
    y = act(x, which, dtype)
    ulp = np.spacing(np.abs(ref.astype(dtype))).astype(LD)
    err = np.abs(y.astype(LD) - ref) / ulp
    rel = err if which else np.where(x >= SIGMOID_RELATIVE_FROM, err, 0)
    worst = int(np.argmax(rel))
    assert rel[worst] <= ULP_BOUND[name], (
        f"{name}({x[worst]!r}) = {y[worst]!r}, reference {ref[worst]!r}: {float(rel[worst]):.2f} ulp"
    )
    eps = np.finfo(dtype).eps  # 1 ulp of 1.0
    abs_err = np.abs(y.astype(LD) - ref)
    worst = int(np.argmax(abs_err))
    assert abs_err[worst] <= eps, f"{name}({x[worst]!r}) = {y[worst]!r}, reference {ref[worst]!r}"


@pytest.mark.parametrize("dtype", DTYPES, ids=dtype_id)
def test_activation_whole_range(dtype):
    """Beyond the saturation points and the exp clamps: bounded, monotone, abs error <= 1 ulp of 1."""
    big = {np.float32: 110.0, np.float64: 800.0}[dtype]
    x = np.linspace(-big, big, 100001).astype(dtype)
    eps = np.finfo(dtype).eps
    for which, f, lo in ((0, sigmoid, 0.0), (1, tanh, -1.0)):
        y = act(x, which, dtype)
        assert y.min() >= lo and y.max() <= 1.0
        assert np.all(np.diff(y) >= 0), "not monotone"
        assert np.abs(y.astype(LD) - f(x.astype(LD))).max() <= eps


@pytest.mark.parametrize("dtype", DTYPES, ids=dtype_id)
def test_activation_special_values(dtype):
    fi = np.finfo(dtype)
    x = np.array([np.nan, np.inf, -np.inf, fi.max, -fi.max, 0.0, -0.0, fi.smallest_subnormal, fi.tiny], dtype)
    s, t = act(x, 0, dtype), act(x, 1, dtype)
    assert np.isnan(s[0]) and np.isnan(t[0]), "NaN must give NaN"
    assert s[1] == 1 and t[1] == 1, "+inf"
    assert t[2] == -1 and 0 <= s[2] <= 1e-30, f"-inf: tanh {t[2]!r}, sigmoid {s[2]!r}"
    assert s[3] == 1 and t[3] == 1 and t[4] == -1 and 0 <= s[4] <= 1e-30, "+-max"
    assert s[5] == 0.5 and s[6] == 0.5 and t[5] == 0
    assert t[7] == fi.smallest_subnormal and t[8] == fi.tiny, "tanh(x) = x for tiny x"
    nan_row = act(np.r_[np.zeros(20), np.nan, np.zeros(20)], 1, dtype)
    assert np.isnan(nan_row[20]) and np.isfinite(np.delete(nan_row, 20)).all()


@pytest.mark.parametrize("dtype", DTYPES, ids=dtype_id)
def test_tanh_is_odd(dtype):
    x = grid(dtype)
    x = x[x > 0]  # zero: test_tanh_keeps_the_sign_of_zero
    pos, neg = act(x, 1, dtype), act(-x, 1, dtype)
    bits = {np.float32: np.uint32, np.float64: np.uint64}[dtype]
    mismatch = np.flatnonzero((-neg).view(bits) != pos.view(bits))
    assert mismatch.size == 0, f"tanh(-x) != -tanh(x) bit for bit at x = {x[mismatch[:5]]}"


@pytest.mark.parametrize("dtype", DTYPES, ids=dtype_id)
def test_tanh_keeps_the_sign_of_zero(dtype):
    """tanh(-0.0) = -0.0 (IEEE 754, np.tanh, torch.tanh)."""
    y = act([-0.0, 0.0], 1, dtype)
    assert np.signbit(y[0]) and not np.signbit(y[1]), f"tanh(-0.0) = {y[0]!r}, tanh(0.0) = {y[1]!r}"


@pytest.mark.parametrize("dtype", DTYPES, ids=dtype_id)
def test_activation_strided_rows(dtype):
    """2-d x and out with strided rows (step views): row by row, nothing outside written."""
    rng = np.random.default_rng(11)
    xs = (4 * rng.standard_normal((3, T_STEPS, 41))).astype(dtype)
    outs = np.full((3, T_STEPS + 1, 41), np.nan, dtype)  # a row stride other than x's
    for which, f in ((0, sigmoid), (1, tanh)):
        outs[:] = np.nan
        _fused.activation(xs[:, T_AT], outs[:, T_AT], which)
        assert_allclose(outs[:, T_AT].astype(LD), f(xs[:, T_AT].astype(LD)), rtol=4 * np.finfo(dtype).eps, atol=0)
        assert np.isnan(np.delete(outs, T_AT, axis=1)).all()


# ---- argument checks -----------------------------------------------------------------------

# name -> (arrays as (name, G, columns) with columns "N", "B", 1 (b_hn) or "sq" (the 1-d dh_sq),
#          trailing integers)
SIGNATURES = {
    "lstm_forward_step": ([("a", 4, "N"), ("gh", 4, "B"), ("c_prev", 1, "N"), ("h_prev", 1, "N"),
                           ("c", 1, "N"), ("tc", 1, "N"), ("h", 1, "N")], ("B",)),
    "lstm_backward_step": ([("a", 4, "N"), ("dh", 1, "N"), ("dy", 1, "N"), ("dc", 1, "N"),
                            ("c_prev", 1, "N"), ("tc", 1, "N"), ("dh_sq", 1, "sq")], ("B",)),
    "rnn_forward_step": ([("a", 1, "N"), ("gh", 1, "B"), ("h_prev", 1, "N")], ("B", "relu")),
    "rnn_backward_step": ([("da", 1, "N"), ("dh", 1, "N"), ("dy", 1, "N"), ("h", 1, "N"),
                           ("dh_sq", 1, "sq")], ("B", "relu")),
    "gru_forward_step": ([("a", 3, "N"), ("gh", 3, "B"), ("b_hn", 1, 1), ("h_prev", 1, "N"),
                          ("side", 1, "N"), ("h", 1, "N")], ("B",)),
    "gru_backward_step": ([("a", 3, "N"), ("dh", 1, "N"), ("dy", 1, "N"), ("h_prev", 1, "N"),
                           ("side", 1, "N"), ("dah", 3, "B"), ("dh_sq", 1, "sq")], ("B",)),
    "gru_forward_rz": ([("a", 3, "N"), ("gh", 2, "B"), ("hm", 1, "N"), ("side", 1, "N")], ("B",)),
    "gru_forward_n": ([("a", 3, "N"), ("gh", 1, "B"), ("h_prev", 1, "N"), ("h", 1, "N")], ("B",)),
    "gru_backward_nz": ([("a", 3, "N"), ("dh", 1, "N"), ("dy", 1, "N"), ("h_prev", 1, "N"),
                         ("dh_sq", 1, "sq")], ("B",)),
    "gru_backward_r": ([("a", 3, "N"), ("drh", 1, "B"), ("hm", 1, "N")], ("B",)),
    "activation": ([("x", 1, "N"), ("out", 1, "N")], ("which",)),
}
FUNCTIONS = sorted(SIGNATURES)
CN, CB = 7, 3  # N and B of the argument-check calls


def shape_of(G, cols):
    if cols == "sq":
        return (CN,)
    return (G * H, {"N": CN, "B": CB}.get(cols, cols))


def valid_args(fn, dtype=np.float64):
    """A valid argument list for fn: finite arrays (sigmoid-range values), then the integers."""
    rng = np.random.default_rng(1)
    arrays, ints = SIGNATURES[fn]
    args = [rng.uniform(0.1, 0.9, shape_of(G, cols)).astype(dtype) for _, G, cols in arrays]
    return args + [{"B": CB, "relu": 0, "which": 1}[k] for k in ints]


def array_params(pred=lambda name, G, cols: True, skip_first=False):
    return [pytest.param(fn, i, name, id=f"{fn}-{name}")
            for fn in FUNCTIONS for i, (name, G, cols) in enumerate(SIGNATURES[fn][0])
            if pred(name, G, cols) and not (skip_first and i == 0)]


def call(fn, args):
    return getattr(_fused, fn)(*args)


def expect_error(exc, pattern, fn, args, what):
    """call(fn, args) raises exc with a message matching pattern; `what` says what was wrong."""
    try:
        call(fn, args)
    except exc as e:
        assert re.search(pattern, str(e)), f"_fused.{fn} with {what}: message {str(e)!r} lacks {pattern!r}"
    else:
        pytest.fail(f"_fused.{fn} accepted {what}")


@pytest.mark.parametrize("fn", FUNCTIONS)
def test_valid_call_succeeds(fn):
    for dtype in DTYPES:
        call(fn, valid_args(fn, dtype))


@pytest.mark.parametrize("fn", FUNCTIONS)
def test_wrong_number_of_arguments(fn):
    args = valid_args(fn)
    n = len(args)
    with pytest.raises(TypeError, match=rf"_fused\.{fn} takes {n} arguments, got {n - 1}"):
        call(fn, args[:-1])
    with pytest.raises(TypeError, match=rf"_fused\.{fn} takes {n} arguments, got {n + 1}"):
        call(fn, args + [0])
    with pytest.raises(TypeError, match=rf"_fused\.{fn} takes {n} arguments, got 0"):
        call(fn, [])
    with pytest.raises(TypeError, match="keyword"):
        getattr(_fused, fn)(*args[:-1], B=args[-1])


@pytest.mark.parametrize("fn, i, name", array_params(skip_first=True))
@pytest.mark.parametrize("first", DTYPES, ids=dtype_id)
def test_mixed_dtypes(fn, i, name, first):
    other = np.float32 if first == np.float64 else np.float64
    args = valid_args(fn, first)
    args[i] = args[i].astype(other)
    size, want = np.dtype(other).itemsize, np.dtype(first).itemsize
    with pytest.raises(TypeError, match=rf"_fused: {name} has itemsize {size}, the other arrays {want}"):
        call(fn, args)


@pytest.mark.parametrize("fn", FUNCTIONS)
def test_mixed_dtypes_first_array(fn):
    """The first array sets the dtype: the error names the second."""
    args = valid_args(fn)
    args[0] = args[0].astype(np.float32)
    second = SIGNATURES[fn][0][1][0]
    with pytest.raises(TypeError, match=rf"_fused: {second} has itemsize 8, the other arrays 4"):
        call(fn, args)


@pytest.mark.parametrize("fn, i, name", array_params())
def test_non_float_arrays(fn, i, name):
    args = valid_args(fn)
    good = args[i]
    for bad in (np.int64, np.int32, np.float16, np.complex64, np.complex128, np.bool_, ">f8", ">f4"):
        args[i] = good.astype(bad)
        expect_error(TypeError, rf"_fused: {name} must be float32 or float64, got format", fn, args, f"{name} {bad}")


@pytest.mark.parametrize("fn, i, name", array_params())
def test_read_only_arrays(fn, i, name):
    args = valid_args(fn)
    args[i].flags.writeable = False
    with pytest.raises(TypeError, match=rf"_fused: {name} must be a writable float32 or float64 array"):
        call(fn, args)


@pytest.mark.parametrize("fn, i, name", array_params())
def test_not_arrays(fn, i, name):
    args = valid_args(fn)
    for obj in (None, [[0.5] * CN] * H, 1.0, b"abcdefgh", memoryview(bytearray(8 * H * CN))):
        args[i] = obj
        expect_error(TypeError, rf"_fused: {name} must be", fn, args, f"{name} = {type(obj).__name__}")


@pytest.mark.parametrize("fn, i, name", array_params(lambda name, G, cols: cols in ("N", "B")))
def test_rows_not_contiguous(fn, i, name):
    """A transposed array (unit stride along the rows' other axis) and a column-strided view."""
    args = valid_args(fn)
    for bad in (np.asfortranarray(args[i]), np.repeat(args[i], 2, axis=1)[:, ::2]):
        args[i] = bad
        with pytest.raises(ValueError, match=rf"_fused: {name} must be 2-d with contiguous rows"):
            call(fn, args)


@pytest.mark.parametrize("fn, i, name", array_params(lambda name, G, cols: cols in ("N", "B")))
def test_overlapping_rows(fn, i, name):
    """Rows closer than their length (a writable as_strided window view) are refused."""
    args = valid_args(fn)
    rows, cols = args[i].shape
    if cols < 2:
        pytest.skip("one column")
    flat = np.zeros(rows * cols)
    args[i] = np.lib.stride_tricks.as_strided(flat, (rows, cols), (8 * (cols - 1), 8))
    with pytest.raises(ValueError, match=rf"_fused: {name} must be 2-d with contiguous rows"):
        call(fn, args)


@pytest.mark.parametrize("fn, i, name", array_params(lambda name, G, cols: cols != "sq"))
def test_wrong_ndim(fn, i, name):
    args = valid_args(fn)
    good = args[i]
    for bad in (good[None], good.ravel()):
        args[i] = bad
        with pytest.raises(ValueError, match=rf"_fused: {name} "):
            call(fn, args)


@pytest.mark.parametrize("fn, i, name", array_params(lambda name, G, cols: cols not in ("sq",), skip_first=True))
def test_wrong_shape(fn, i, name):
    args = valid_args(fn)
    r, c = args[i].shape
    for bad in ((r, c + 1), (r + 1, c), (r - 1, c)) + (((r, c - 1),) if c > 1 else ()):
        args[i] = np.zeros(bad)
        with pytest.raises(ValueError, match=rf"_fused: {name} has shape \({bad[0]}, {bad[1]}\), expected \({r}, {c}\)"):
            call(fn, args)


@pytest.mark.parametrize("fn", [f for f in FUNCTIONS if SIGNATURES[f][0][0][1] > 1])
def test_first_array_rows_not_a_multiple_of_gates(fn):
    args = valid_args(fn)
    G = SIGNATURES[fn][0][0][1]
    name = SIGNATURES[fn][0][0][0]
    args[0] = np.zeros((G * H + 1, CN))
    with pytest.raises(ValueError, match=rf"_fused: {name} has {G * H + 1} rows, expected a multiple of {G}"):
        call(fn, args)


@pytest.mark.parametrize("fn, i, name", array_params(lambda name, G, cols: cols == "sq"))
def test_dh_sq_checks(fn, i, name):
    args = valid_args(fn)
    msg = rf"_fused: dh_sq must be a contiguous 1-d array of {CN} values"
    for bad in (np.zeros(CN + 1), np.zeros(CN - 1), np.zeros(2 * CN)[::2], np.zeros((1, CN))):
        args[i] = bad
        with pytest.raises(ValueError, match=msg):
            call(fn, args)


@pytest.mark.parametrize("B", [-1, -100, CN + 1, 1000])
@pytest.mark.parametrize("fn", [f for f in FUNCTIONS if f != "activation"])
def test_B_out_of_range(fn, B):
    args = valid_args(fn)
    args[len(SIGNATURES[fn][0])] = B
    with pytest.raises(ValueError, match=rf"_fused: B = {B}, expected 0 <= B <= N = {CN}"):
        call(fn, args)


@pytest.mark.parametrize("fn", FUNCTIONS)
def test_integer_arguments_must_be_integers(fn):
    args = valid_args(fn)
    for k in range(len(SIGNATURES[fn][0]), len(args)):
        for bad in (float(args[k]), "3", None):
            bad_args = list(args)
            bad_args[k] = bad
            with pytest.raises(TypeError):
                call(fn, bad_args)
        bad_args = list(args)
        bad_args[k] = np.int64(args[k])  # anything with __index__ is fine
        call(fn, bad_args)


def test_b_hn_must_be_contiguous():
    args = valid_args("gru_forward_step")
    args[2] = np.zeros((H, 3))[:, :1]
    with pytest.raises(ValueError, match=r"_fused: b_hn must be contiguous"):
        call("gru_forward_step", args)


@pytest.mark.parametrize("fn", FUNCTIONS)
def test_buffers_released(fn):
    """Success and failures at every array (after the others were taken) release the buffers:
    repeated calls leave the arrays' reference counts as they were."""
    args = valid_args(fn)
    n = len(SIGNATURES[fn][0])
    before = [sys.getrefcount(a) for a in args[:n]]
    failing = []
    for k in range(n):
        bad = list(args)
        bad[k] = bad[k].astype(np.int64)
        failing.append(bad)
    for _ in range(20):
        call(fn, args)
        for bad in failing:
            try:
                call(fn, bad)
            except TypeError:
                pass
            else:
                raise AssertionError("int64 array accepted")
    del bad
    extra = n - 1  # each list in `failing` holds every array but one
    assert [sys.getrefcount(a) - extra for a in args[:n]] == before


@pytest.mark.parametrize("which", [-1, 2])
def test_activation_which_must_be_0_or_1(which):
    x = np.zeros((2, 3))
    with pytest.raises(ValueError, match=rf"which must be 0 \(sigmoid\) or 1 \(tanh\), got {which}"):
        _fused.activation(x, np.empty_like(x), which)


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
def test_kernels_accept_dy_of_any_layout(cell):
    """The kernels hand the fused steps row-contiguous blocks whatever the layout of dy (here a
    Fortran-ordered one) and give the same gradients as with a C-ordered dy."""
    from rnnkit import kernels

    fwd, bwd = getattr(kernels, f"{cell}_forward"), getattr(kernels, f"{cell}_backward")
    G = {"rnn": 1, "lstm": 4, "gru": 3}[cell]
    rng = np.random.default_rng(0)
    I, T, N, Hh = 3, 4, 6, 5
    x = rng.standard_normal((I, T, N))
    W_ih, W_hh = rng.standard_normal((G * Hh, I)) * 0.5, rng.standard_normal((G * Hh, Hh)) * 0.5
    state = tuple(rng.standard_normal((Hh, N)) for _ in range(2 if cell == "lstm" else 1))
    dy = rng.standard_normal((Hh, T, N))
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
