"""The step functions of the C extension ``rnnkit.kernels._fused`` against their equations.

Its activations are tested in test_fused_activations.py, its argument checks in
test_fused_arguments.py.

The layer-level parity with PyTorch lives in test_torch_parity.py; these tests call the module
directly so that a fault in the C code is reported with the function, argument and columns it
concerns. Everything is compared with a NumPy transcription of the equations of
``csrc/steps.h`` evaluated in ``np.longdouble`` (the ``ref_*`` functions of
fused_references.py), in the layouts the kernels in ``rnnkit/kernels/{rnn,lstm,gru}.py`` use:

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

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal

from rnnkit.kernels import _fused

from fused_helpers import DTYPES, H, LD, dtype_id
from fused_references import (
    gates,
    ref_lstm_forward,
    ref_lstm_backward,
    ref_rnn_forward,
    ref_rnn_backward,
    ref_gru_forward,
    ref_gru_backward,
    ref_gru_forward_rz,
    ref_gru_forward_n,
    ref_gru_backward_nz,
    ref_gru_backward_r,
)

TOL = {np.float32: dict(rtol=2e-6, atol=5e-7), np.float64: dict(rtol=1e-13, atol=1e-14)}
T_STEPS, T_AT = 4, 2  # strided layout: step T_AT of a (rows, T, N) array, T = T_STEPS + k for argument k
# (N, B): all running, some finished, B = 1 (a separate code path in the forward functions,
# with N = 1 and N > 1), nothing running, and a batch wide enough for the SIMD loop body.
COLUMNS = [(7, 7), (7, 3), (7, 1), (7, 0), (1, 1), (1, 0), (37, 37), (37, 18)]


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
