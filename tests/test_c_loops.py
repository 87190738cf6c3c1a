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

pytestmark = pytest.mark.skipif(blas.find() is None, reason="NumPy's BLAS cannot be called from C here")

CELLS = {
    "rnn_tanh": (rnn_forward, rnn_backward, 1, {"nonlinearity": "tanh"}),
    "rnn_relu": (rnn_forward, rnn_backward, 1, {"nonlinearity": "relu"}),
    "lstm": (lstm_forward, lstm_backward, 4, {}),
    "gru": (gru_forward, gru_backward, 3, {"reset_after": True}),
}


def _problem(cell, N, dtype, reverse, masked, packed, seed=0, T=7, I=3, H=6):
    rng = np.random.default_rng(seed)
    G = CELLS[cell][2]
    states = 2 if cell == "lstm" else 1
    x = rng.standard_normal((I, T, N)).astype(dtype)
    p = dict(
        x=x,
        state0=tuple(rng.standard_normal((H, N)).astype(dtype) * 0.5 for _ in range(states)),
        W_ih=(rng.standard_normal((G * H, I)) * 0.4).astype(dtype),
        W_hh=(rng.standard_normal((G * H, H)) * 0.4).astype(dtype),
        b_ih=(rng.standard_normal(G * H) * 0.1).astype(dtype),
        b_hh=(rng.standard_normal(G * H) * 0.1).astype(dtype),
        reverse=reverse,
    )
    if masked:
        p["rec_mask"] = ((rng.random((H, N)) > 0.3) / 0.7).astype(dtype)
    if packed:
        lengths = np.sort(rng.integers(1, T + 1, size=N))[::-1]
        lengths[0] = T
        p["batch_sizes"] = (lengths[None, :] > np.arange(T)[:, None]).sum(axis=1)
    dy = rng.standard_normal((H, T, N)).astype(dtype)
    dstate = tuple(rng.standard_normal((H, N)).astype(dtype) for _ in range(states))
    return p, dy, dstate


def _run(cell, p, dy, dstate, use_c, monkeypatch):
    fwd, bwd, _, options = CELLS[cell]
    with monkeypatch.context() as m:
        m.setattr(blas, "c_loops", lambda: use_c)
        args = {k: (v.copy() if isinstance(v, np.ndarray) else v) for k, v in p.items()}
        y, state_T, cache = fwd(**args, **options)
        y = y.copy()
        dx, dstate0, grads, dh_sq = bwd(cache, None if dy is None else dy.copy(), tuple(s.copy() for s in dstate))
    return [y, *state_T, dx, *dstate0, dh_sq, *(grads[k] for k in sorted(grads))]


def _tol(dtype):
    """float64 shows any difference in the arithmetic; float32 only rounding (the products may
    sum in another order: NumPy picks gemv for one column, the C loop always calls gemm)."""
    return dict(rtol=1e-4, atol=1e-5) if dtype == np.float32 else dict(rtol=1e-11, atol=1e-12)


@pytest.mark.parametrize("cell", list(CELLS))
@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["f32", "f64"])
@pytest.mark.parametrize("reverse", [False, True], ids=["fwd", "rev"])
@pytest.mark.parametrize("masked", [False, True], ids=["nomask", "mask"])
@pytest.mark.parametrize("packed", [False, True], ids=["full", "packed"])
@pytest.mark.parametrize("N", [1, 5, 40])
def test_c_loop_matches_python_loop(cell, dtype, reverse, masked, packed, N, monkeypatch):
    p, dy, dstate = _problem(cell, N, dtype, reverse, masked, packed)
    got = _run(cell, p, dy, dstate, True, monkeypatch)
    want = _run(cell, p, dy, dstate, False, monkeypatch)
    for g, w in zip(got, want):
        assert g.shape == w.shape
        np.testing.assert_allclose(g, w, **_tol(dtype))


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
    assert blas.c_loops()
    monkeypatch.setenv("RNNKIT_NO_C_LOOP", "1")
    assert not blas.c_loops()
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
    with pytest.raises(TypeError, match="sgemm must be an integer"):
        _fused.use_blas("x", 2, 0)
    with pytest.raises(ValueError, match="must not be 0"):
        _fused.use_blas(0, 0, 0)


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


@pytest.mark.parametrize("use_c", [True, False], ids=["C", "python"])
@pytest.mark.parametrize("nonlinearity", ["tanh", "relu"])
@pytest.mark.parametrize("packed", [False, True], ids=["full", "packed"])
def test_rnn_backward_over_dy(use_c, nonlinearity, packed, monkeypatch):
    """overwrite_dy=True writes da_t over dy_t (one (H, T, N) array less), with the same
    results; a dy it may not write (read-only, strided, another dtype) is left alone."""
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
    assert not np.array_equal(own, dy)  # it held da afterwards
    for other in (dy.copy(), np.asfortranarray(dy), dy.astype(np.float32)):
        keep = other.copy()
        if other.dtype == dy.dtype and other.flags.c_contiguous:
            other.flags.writeable = False
        backward(other, True)
        np.testing.assert_array_equal(other, keep)
