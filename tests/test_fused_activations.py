"""The activations of the C extension ``rnnkit.kernels._fused`` (``csrc/vmath.h``): sigmoid and
tanh against long-double references, in units of the last place, special values and strides."""

from __future__ import annotations

import numpy as np
import pytest
from numpy.testing import assert_allclose

from rnnkit.kernels import _fused

from fused_helpers import DTYPES, LD, dtype_id, sigmoid, tanh

T_STEPS, T_AT = 4, 2  # strided rows: step T_AT of a (rows, T_STEPS, N) array


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


@pytest.mark.parametrize("which", [-1, 2])
def test_activation_which_must_be_0_or_1(which):
    x = np.zeros((2, 3))
    with pytest.raises(ValueError, match=rf"which must be 0 \(sigmoid\) or 1 \(tanh\), got {which}"):
        _fused.activation(x, np.empty_like(x), which)
