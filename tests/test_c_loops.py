"""The time loops in C (``_fused.*_seq``, ``csrc/sequence.h``) against the Python loops.

Both loops do the same steps with the same fused step functions and the same BLAS, so every
output of forward and backward must agree to rounding: across cells and options (reverse,
recurrent-dropout masks, packed batches, dy None), float32 and float64. The Python loop is
what runs where ``blas.c_loops()`` is False (NumPy without a BLAS rnnkit can call, or
RNNKIT_NO_C_LOOP set).
"""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest

from rnnkit.kernels import (
    _fused, blas, gru_backward, gru_forward, lstm_backward, lstm_forward, rnn_backward, rnn_forward,
)
from rnnkit.kernels.common import STEP_PROJECTION_MIN_N, loop_projection

from fused_helpers import loop_problem

pytestmark = pytest.mark.skipif(blas.find() is None, reason="NumPy's BLAS cannot be called from C here")

CELLS = {
    "rnn_tanh": (rnn_forward, rnn_backward, 1, {"nonlinearity": "tanh"}),
    "rnn_relu": (rnn_forward, rnn_backward, 1, {"nonlinearity": "relu"}),
    "lstm": (lstm_forward, lstm_backward, 4, {}),
    "gru": (gru_forward, gru_backward, 3, {"reset_after": True}),
}


def _problem(cell, N, dtype, reverse, masked, packed, seed=0, T=7, I=3, H=6):
    return loop_problem(CELLS[cell][2], 2 if cell == "lstm" else 1, N, dtype, reverse, masked, packed, seed=seed,
                        T=T, I=I, H=H)


def _run(cell, p, dy, dstate, use_c, monkeypatch, **backward):
    """forward then backward (with the ``backward`` options) on copies of the arguments (dy's
    copy in dy's own memory layout); returns every output, the gradients sorted by name."""
    fwd, bwd, _, options = CELLS[cell]
    with monkeypatch.context() as m:
        m.setattr(blas, "c_loops", lambda: use_c)
        args = {k: (v.copy() if isinstance(v, np.ndarray) else v) for k, v in p.items()}
        y, state_T, cache = fwd(**args, **options)
        y = y.copy()
        dy = None if dy is None else dy.copy(order="K")
        dx, dstate0, grads, dh_sq = bwd(cache, dy, tuple(s.copy() for s in dstate), **backward)
    return [y, *state_T, dx, *dstate0, dh_sq, *(grads[k] for k in sorted(grads))]


def _tol(dtype):
    """float64 shows any difference in the arithmetic; float32 only rounding (the products may
    sum in another order)."""
    return dict(rtol=1e-4, atol=1e-5) if dtype == np.float32 else dict(rtol=1e-11, atol=1e-12)


def every_option(test):
    """Parametrize ``test`` over every cell, dtype, direction, rec_mask and packing (also used by
    test_loop_threads.py)."""
    for name, values, ids in (("packed", [False, True], ["full", "packed"]),
                              ("masked", [False, True], ["nomask", "mask"]),
                              ("reverse", [False, True], ["fwd", "rev"]),
                              ("dtype", [np.float32, np.float64], ["f32", "f64"]),
                              ("cell", list(CELLS), None)):
        test = pytest.mark.parametrize(name, values, ids=ids)(test)
    return test


@every_option
@pytest.mark.parametrize("N", [1, 5, 40])  # N = 40: the C loop projects the input step by step
def test_c_loop_matches_python_loop(cell, dtype, reverse, masked, packed, N, monkeypatch):
    p, dy, dstate = _problem(cell, N, dtype, reverse, masked, packed)
    got = _run(cell, p, dy, dstate, True, monkeypatch)
    want = _run(cell, p, dy, dstate, False, monkeypatch)
    for g, w in zip(got, want):
        assert g.shape == w.shape
        np.testing.assert_allclose(g, w, **_tol(dtype))


@pytest.mark.parametrize("cell", list(CELLS))
def test_x_with_a_row_stride_goes_in_as_it_is(cell, monkeypatch):
    """The next layer's x is the layer below's output, the view hs[:, 1:] (rows (T+1)*N apart):
    the C loop projects it step by step without a copy, with the results of a C-contiguous x."""
    monkeypatch.setattr(blas, "c_loops", lambda: True)
    fwd, bwd, _, options = CELLS[cell]
    N = STEP_PROJECTION_MIN_N + 4  # the loop projects x itself from this N on
    p, dy, dstate = _problem(cell, N, np.float64, False, True, True)
    below = np.full((p["x"].shape[0], p["x"].shape[1] + 1, N), np.nan)
    below[:, 1:] = p["x"]
    view = below[:, 1:]
    assert loop_projection(view, p["W_ih"], np.float64)[0] is view
    results = []
    for x in (view, p["x"]):
        y, state_T, cache = fwd(**dict(p, x=x), **options)
        results.append([y.copy(), *state_T, *bwd(cache, dy.copy(), dstate)[0:1]])
    for g, w in zip(*results):
        np.testing.assert_array_equal(g, w)


@pytest.mark.parametrize("cell", list(CELLS))
def test_dy_none_is_zeros(cell, monkeypatch):
    p, dy, dstate = _problem(cell, 40, np.float64, False, True, True)
    got = _run(cell, p, None, dstate, True, monkeypatch)
    want = _run(cell, p, np.zeros_like(dy), dstate, True, monkeypatch)
    for g, w in zip(got, want):
        np.testing.assert_array_equal(g, w)


def test_sequences_finished_after_two_steps(monkeypatch):
    """Most columns stop after step 1: they carry their states and get no gradient after."""
    p, dy, dstate = _problem("lstm", 40, np.float64, False, False, False)
    T = p["x"].shape[1]
    p["batch_sizes"] = np.array([40, 40] + [3] * (T - 2))
    got = _run("lstm", p, dy, dstate, True, monkeypatch)
    want = _run("lstm", p, dy, dstate, False, monkeypatch)
    for g, w in zip(got, want):
        np.testing.assert_allclose(g, w, rtol=1e-12, atol=1e-13)


def test_cho_gru_keeps_the_python_loop(monkeypatch):
    """reset_after=False has two products per step and no C loop: same results either way."""
    p, dy, dstate = _problem("gru", 40, np.float64, False, True, False)
    CELLS_CHO = dict(CELLS, gru=(gru_forward, gru_backward, 3, {"reset_after": False}))
    monkeypatch.setattr(sys.modules[__name__], "CELLS", CELLS_CHO)
    got = _run("gru", p, dy, dstate, True, monkeypatch)
    want = _run("gru", p, dy, dstate, False, monkeypatch)
    for g, w in zip(got, want):
        np.testing.assert_array_equal(g, w)


def test_c_loops_switch(monkeypatch):
    monkeypatch.delenv("RNNKIT_NO_C_LOOP", raising=False)
    assert blas.c_loops()
    for value, c in (("1", False), ("yes", False), ("0", True), ("", True)):
        monkeypatch.setenv("RNNKIT_NO_C_LOOP", value)
        assert blas.c_loops() is c, value
    monkeypatch.delenv("RNNKIT_NO_C_LOOP")
    monkeypatch.setattr(blas, "find", lambda: None)
    assert not blas.c_loops()


def test_blas_find_is_numpys_openblas():
    lib = blas.find()
    assert "openblas" in os.path.basename(lib.path).lower()
    blas_config = np.show_config(mode="dicts")["Build Dependencies"]["blas"]
    assert "openblas" in blas_config["name"].lower()
    assert lib.ilp64 == ("64" in blas_config["name"] or "USE64BITINT" in blas_config.get("openblas configuration", ""))


def test_use_blas_checks_its_arguments():
    with pytest.raises(TypeError, match="takes 3 arguments"):
        _fused.use_blas(1, 2)
    for bad in ("x", 0, -1, 2**70, 1.5):
        with pytest.raises(ValueError, match=r"sgemm must be the address of cblas_sgemm, a non-zero int that fits "
                                             r"a pointer, got " + repr(bad).replace(".", r"\.")):
            _fused.use_blas(bad, 2, 0)
    with pytest.raises(ValueError, match="dgemm must be the address of cblas_dgemm"):
        _fused.use_blas(1, 0, 0)
    blas.find.cache_clear()  # nothing was registered by the failures; register NumPy's again anyway
    assert blas.find() is not None


@pytest.mark.parametrize("cell", list(CELLS))
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_one_column_products_through_gemv_match_gemm(cell, dtype, monkeypatch):
    """One sequence (N = 1): the loops' step products, W_hh @ h forwards and W_hh.T @ da backwards,
    go through cblas_?gemv (registered by blas.find), else through gemm: the same to rounding."""
    p, dy, dstate = _problem(cell, 1, dtype, True, True, False, H=37)
    got = _run(cell, p, dy, dstate, True, monkeypatch)
    _fused.use_blas_gemv(0, 0)
    try:
        want = _run(cell, p, dy, dstate, True, monkeypatch)
    finally:
        blas.find.cache_clear()
        assert blas.find() is not None
    for g, w in zip(got, want):  # rounding relative to the largest value: at H = 37 the RNN's
        # gradients grow through the steps, and a sum that cancels keeps their error
        tol = _tol(dtype)
        np.testing.assert_allclose(g, w, rtol=tol["rtol"], atol=tol["atol"] * max(1.0, float(np.abs(w).max())))


def test_use_blas_gemv_checks_its_arguments():
    with pytest.raises(TypeError, match="use_blas_gemv takes 2 arguments, got 1"):
        _fused.use_blas_gemv(1)
    for bad in ("x", -1, 2**70, 1.5):
        with pytest.raises(ValueError, match=r"sgemv must be the address of cblas_sgemv, an int that fits a "
                                             r"pointer, got " + repr(bad).replace(".", r"\.")):
            _fused.use_blas_gemv(bad, 0)
    with pytest.raises(ValueError, match="dgemv must be the address of cblas_dgemv"):
        _fused.use_blas_gemv(0, "x")


def test_blas_find_checks_the_integer_width(monkeypatch):
    """Symbols named like a 64-bit build in a library whose config says 32-bit (or the reverse)
    are not used: calling them with the wrong integer width would pass garbage sizes."""
    real = blas._NAMINGS
    monkeypatch.setattr(blas, "_NAMINGS", tuple((p, s, not ilp64) for p, s, ilp64 in real))
    blas.find.cache_clear()
    try:
        assert blas.find() is None
    finally:
        monkeypatch.setattr(blas, "_NAMINGS", real)
        blas.find.cache_clear()
        assert blas.find() is not None  # registers NumPy's BLAS again


def test_subprocess_without_c_loop_matches():
    """RNNKIT_NO_C_LOOP=1 in a fresh interpreter: the Python loop, the same numbers."""
    code = (
        "import numpy as np\n"
        "from rnnkit.kernels import blas, lstm_forward\n"
        "rng = np.random.default_rng(0)\n"
        "x = rng.standard_normal((3, 5, 4)); h = np.zeros((4, 4))\n"
        "y = lstm_forward(x, (h, h), rng.standard_normal((16, 3)), rng.standard_normal((16, 4)) * 0.3)[0]\n"
        "print(blas.c_loops(), repr(float(y.sum())))\n"
    )
    env = dict(os.environ)
    out = {}
    for flag in ("", "1"):
        env["RNNKIT_NO_C_LOOP"] = flag
        r = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60)
        assert r.returncode == 0, r.stderr
        out[flag] = r.stdout.split()
    assert out[""][0] == "True" and out["1"][0] == "False"
    assert abs(float(out[""][1]) - float(out["1"][1])) < 1e-12


@pytest.mark.parametrize("cell", list(CELLS))
@pytest.mark.parametrize("use_c", [True, False], ids=["C", "python"])
def test_backward_adds_into_grads_into(cell, use_c, monkeypatch):
    """grads_into: each gradient is added into the given array (which the result then is), as a
    truncated-BPTT run sums them; the RNN's C loop sums dW_ih and dW_hh straight into it, and
    into a new array where the given one cannot take it (Fortran order)."""
    p, dy, dstate = _problem(cell, 24, np.float64, False, True, True, T=20)
    fwd, bwd, _, options = CELLS[cell]
    monkeypatch.setattr(blas, "c_loops", lambda: use_c)
    _, _, cache = fwd(**p, **options)
    plain = bwd(cache, dy.copy(), dstate)[2]
    for order in ("C", "F"):
        start = {k: np.asarray(np.full_like(g, 0.25), order=order) for k, g in plain.items()}
        into = {k: a.copy(order="K") for k, a in start.items()}
        _, _, cache = fwd(**p, **options)
        grads = bwd(cache, dy.copy(), dstate, grads_into=into)[2]
        assert grads is into
        for k, g in plain.items():
            np.testing.assert_allclose(into[k], start[k] + g, **_tol(np.float64))


@pytest.mark.parametrize("cell", list(CELLS))
@pytest.mark.parametrize("reverse", [False, True], ids=["fwd", "rev"])
def test_no_bias_workspace_and_empty_steps(cell, reverse, monkeypatch):
    """No bias, a workspace reused over two calls, and steps where no sequence runs (B = 0)."""
    p, dy, dstate = _problem(cell, 20, np.float64, reverse, True, False)
    p["b_ih"] = p["b_hh"] = None
    T = p["x"].shape[1]
    p["batch_sizes"] = np.array([20, 12, 5] + [0] * (T - 3))
    results = []
    for use_c in (True, False):
        fwd, bwd, _, options = CELLS[cell]
        monkeypatch.setattr(blas, "c_loops", lambda use_c=use_c: use_c)
        ws = {}
        for _ in range(2):
            y, state_T, cache = fwd(**p, **options, ws=ws)
            y = y.copy()
            dx, dstate0, grads, dh_sq = bwd(cache, dy.copy(), dstate)
        assert set(grads) == {"weight_ih", "weight_hh"}
        results.append([y, *state_T, dx, *dstate0, dh_sq, grads["weight_ih"], grads["weight_hh"]])
    for g, w in zip(*results):
        np.testing.assert_allclose(g, w, rtol=1e-11, atol=1e-12)


def test_overwrite_dy_never_writes_into_the_cache(monkeypatch):
    """dy = y (the gradient of 0.5 * |y|^2) shares memory with the cache when H = 1: it must not
    be overwritten, or backward would read gradients where it expects the states."""
    p, _, dstate = _problem("rnn_tanh", 6, np.float64, False, False, False, H=1)
    y, _, cache = rnn_forward(**p)
    assert np.may_share_memory(y, cache["hs"])
    want = rnn_backward(cache, y.copy(), dstate)
    y, _, cache = rnn_forward(**p)
    got = rnn_backward(cache, y, dstate, overwrite_dy=True)
    for g, w in zip(got[2].values(), want[2].values()):
        np.testing.assert_array_equal(g, w)


@pytest.mark.parametrize("case", ["lengths", "full", "time-major", "unbatched"])
def test_layers_match_with_and_without_c_loops(case, monkeypatch):
    """A 2-layer bidirectional LSTM, GRU and RNN with both dropouts: the same outputs, state and
    gradients through the C loops and through the Python ones; with lengths (packed) and without,
    in both layouts and unbatched."""
    import rnnkit

    rng = np.random.default_rng(0)
    x = rng.standard_normal((6, 9, 3))
    lengths = [9, 4, 9, 1, 7, 3] if case == "lengths" else None
    if case == "time-major":
        x = x.transpose(1, 0, 2).copy()
    elif case == "unbatched":
        x = x[0]
    for cls in (rnnkit.LSTM, rnnkit.GRU, rnnkit.RNN):
        results = []
        for use_c in (True, False):
            monkeypatch.setattr(blas, "c_loops", lambda use_c=use_c: use_c)
            layer = cls(3, 5, num_layers=2, bidirectional=True, batch_first=case != "time-major", dropout=0.3,
                        recurrent_dropout=0.2, dtype="float64", seed=1)
            layer.train()
            y, state = layer.forward(x, lengths=lengths)
            dx, _ = layer.backward(np.ones_like(y))
            states = state if isinstance(state, tuple) else (state,)
            results.append([y, *states, dx, *(layer.grads[k] for k in sorted(layer.grads))])
        for g, w in zip(*results):
            np.testing.assert_allclose(g, w, rtol=1e-11, atol=1e-12, err_msg=cls.__name__)


@pytest.mark.parametrize("cell", list(CELLS))
@pytest.mark.parametrize("N", [3, 24])
def test_weights_wider_than_x(cell, N, monkeypatch):
    """float64 weights on a float32 x: the loops run in x's dtype, and dx comes back in NumPy's type
    of W_ih.T @ da (float64; the C backwards compute it in float32 and widen it), the same as the
    Python loop's to float32 rounding"""
    p, dy, dstate = _problem(cell, N, np.float32, True, True, True, H=8)
    for name in ("W_ih", "W_hh", "b_ih", "b_hh"):
        p[name] = p[name].astype(np.float64)
    want = _run(cell, p, dy, dstate, False, monkeypatch)
    got = _run(cell, p, dy, dstate, True, monkeypatch)
    dx_at = 2 + (cell == "lstm")  # after y and the final state(s)
    assert got[dx_at].dtype == want[dx_at].dtype == np.float64
    for i, (g, w) in enumerate(zip(got, want)):
        np.testing.assert_allclose(g, w, **_tol(np.float32), err_msg=f"output {i}")
