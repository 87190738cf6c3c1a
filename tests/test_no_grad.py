"""``rnnkit.no_grad``: the same outputs, nothing kept for backward, and less memory.

A forward under ``no_grad`` must give y and the final states of a forward outside it, bit for bit
(the LSTM's and GRU's C loops then keep their caches for one step only); a backward after it must
raise a RuntimeError that names no_grad; it holds for that forward only. The flag itself (nesting,
the decorator, threads): test_grad_mode.py.
"""

from __future__ import annotations

import contextlib
import functools
import sys
from pathlib import Path

import numpy as np
import pytest

import rnnkit
from rnnkit.layers import TimePool
from rnnkit.kernels import blas
from rnnkit.layers import evaluating

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # `benchmarks` lives at the repo root, not in src/
    sys.path.insert(0, str(ROOT))

from benchmarks import memory  # noqa: E402

NO_GRAD = r"under rnnkit\.no_grad\(\)"
KINDS = [("RNN", {}), ("LSTM", {}), ("GRU", {}), ("GRU", {"reset_after": False})]
KIND_IDS = ["rnn", "lstm", "gru", "gru_cho"]


def _arrays(out):
    """(y, state) / (dx, dstate) / an array -> the flat list of its arrays (None left out)."""
    if out is None:
        return []
    if isinstance(out, (tuple, list)):
        return [a for part in out for a in _arrays(part)]
    return [np.asarray(out)]


def _assert_same(got, want):
    got, want = _arrays(got), _arrays(want)
    assert len(got) == len(want) and got
    for g, w in zip(got, want):
        assert g.dtype == w.dtype
        np.testing.assert_array_equal(g, w)


def _assert_grads(m, dx, ref, ref_dx):
    """The same backward result (None for an Embedding) and the same gradients, key for key."""
    assert (dx is None) == (ref_dx is None) and list(m.grads) == list(ref.grads)
    if dx is not None:
        _assert_same(dx, ref_dx)
    for k in m.grads:
        np.testing.assert_array_equal(m.grads[k], ref.grads[k], err_msg=k)


def _problem(kind, N, dtype, T=7, I=3, H=5, L=1, bidirectional=False, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((N, T, I)).astype(dtype)
    LD = L * (2 if bidirectional else 1)
    h0 = [rng.standard_normal((LD, N, H)).astype(dtype) for _ in range(2 if kind == "LSTM" else 1)]
    lengths = rng.integers(1, T + 1, N)
    lengths[0] = T - 2 if N > 1 else T  # some shorter than T, never all of them T (at N > 1)
    return x, (tuple(h0) if kind == "LSTM" else h0[0]), lengths


# -- 1. the same outputs -------------------------------------------------------------------------
@pytest.mark.parametrize("kind,options", KINDS, ids=KIND_IDS)
@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("N", [1, 5, 20])  # from N = 16 the C loops project x step by step
@pytest.mark.parametrize("with_lengths", [False, True], ids=["full", "lengths"])
@pytest.mark.parametrize("L,bidirectional", [(1, False), (2, True)], ids=["uni", "bi2"])
def test_outputs_under_no_grad_are_bit_identical(kind, options, dtype, N, with_lengths, L, bidirectional):
    """T = 7 (odd: the LSTM's two cell slots end on the other slot in reverse), a random h0 (c0),
    and the lean caches reused: no_grad, normal, no_grad again on one layer, and a fresh layer."""
    x, state, lengths = _problem(kind, N, dtype, L=L, bidirectional=bidirectional)
    lengths = lengths if with_lengths else None
    make = functools.partial(getattr(rnnkit, kind), 3, 5, L, bidirectional=bidirectional, dtype=dtype, seed=1)
    layer, fresh = make(**options), make(**options)
    with rnnkit.no_grad():
        got = [layer(x, state, lengths)]
    want = layer(x, state, lengths)
    with rnnkit.no_grad():
        got += [layer(x, state, lengths), fresh(x, state, lengths)]
    for g in got:
        _assert_same(g, want)
    assert np.isfinite(want[0]).all() and np.abs(want[0]).max() > 0


@pytest.mark.parametrize("kind,options", KINDS, ids=KIND_IDS)
def test_time_major_unbatched_and_python_loop_are_bit_identical(kind, options, monkeypatch):
    x, _, lengths = _problem(kind, 20, "float32", T=6)
    layer = getattr(rnnkit, kind)(3, 5, batch_first=False, seed=2, **options)
    xt = np.ascontiguousarray(x.transpose(1, 0, 2))
    want = layer(xt, None, lengths)
    with rnnkit.no_grad():
        _assert_same(layer(xt, None, lengths), want)
    want = layer(x[0].T.copy().T)  # (T, I): one unbatched sequence, read through a strided view
    with rnnkit.no_grad():
        _assert_same(layer(x[0].T.copy().T), want)
    monkeypatch.setattr(blas, "c_loops", lambda: False)  # the Python loops, which only drop the cache
    want = layer(xt, None, lengths)
    with rnnkit.no_grad():
        _assert_same(layer(xt, None, lengths), want)
    with pytest.raises(RuntimeError, match=NO_GRAD):
        layer.backward(want[0])


@pytest.mark.skipif(not (blas.find() is not None and blas.find().threads and blas.c_loops()),
                    reason="the C loops cannot split their steps over threads here")
@pytest.mark.parametrize("kind", ["LSTM", "GRU"])
@pytest.mark.parametrize("P", [2, 3])
def test_split_c_loop_with_one_cache_slot_is_bit_identical(kind, P, threads):
    """Each participant owns a slice of the hidden units, also in the one-slot caches: H = 11 over
    P threads, N = 40 with lengths, both directions; bit for bit a normal forward on P threads, and
    one thread's to rounding (OpenBLAS may sum a product's rows differently by how many there are:
    its Haswell kernels on Zen 3 do, by up to an ulp)."""
    x, _, lengths = _problem(kind, 40, "float32", T=9, I=4)
    layer = getattr(rnnkit, kind)(4, 11, bidirectional=True, seed=3)
    threads(1)
    one = layer(x, None, lengths)
    threads(P)
    want = layer(x, None, lengths)
    with rnnkit.no_grad():
        got = layer(x, None, lengths)
    _assert_same(got, want)
    for g, w in zip(_arrays(got), _arrays(one)):
        np.testing.assert_allclose(g, w, rtol=1e-6, atol=1e-7)


# -- 2. training mode: the same dropout masks ----------------------------------------------------
@pytest.mark.parametrize("kind,options", KINDS, ids=KIND_IDS)
@pytest.mark.parametrize("N", [5, 20])
def test_dropout_masks_are_drawn_as_outside_no_grad(kind, options, N):
    x, state, lengths = _problem(kind, N, "float32", L=2, bidirectional=True)
    make = functools.partial(getattr(rnnkit, kind), 3, 5, 2, bidirectional=True, dropout=0.4, recurrent_dropout=0.3,
                             seed=4, **options)
    a, b, c = make(), make(), make().eval()
    want = a(x, state, lengths)
    with rnnkit.no_grad():
        got = b(x, state, lengths)
    _assert_same(got, want)
    assert not np.array_equal(c(x, state, lengths)[0], want[0])  # the masks are there to be drawn
    _assert_same(b(x, state, lengths), a(x, state, lengths))  # and the streams continue alike


# -- 3, 4. backward after a forward under no_grad ------------------------------------------------
_rng = np.random.default_rng(5)
X, Y4, DY4, DX3, X2, D2, D2C = (_rng.standard_normal(shape).astype(np.float32) for shape in
                                [(2, 5, 3), (2, 5, 4), (2, 5, 4), (2, 5, 3), (2, 3), (2, 4), (2, 4)])
IDS = np.array([[1, 9, 0, 2, 2], [3, 3, 4, 0, 7]])
BEFORE, WITHOUT = "before forward", "without a forward"


def _recurrent(kind, H=4, **kw):
    return (lambda: getattr(rnnkit, kind)(3, H, seed=0, **kw), lambda m: m(X, None, [5, 3]),
            lambda m: m.backward(DY4), WITHOUT)


def _cell(kind, dstate):
    return (lambda: getattr(rnnkit, kind)(3, 4, seed=0), lambda m: m(X2), lambda m: m.backward(dstate), BEFORE)


def _mixed():
    return rnnkit.Sequential([
        rnnkit.Embedding(10, 3, seed=0), rnnkit.GRU(3, 4, bidirectional=True, seed=1), rnnkit.Dropout(0.3, seed=2),
        TimePool(("mean", "max", "last"), bidirectional=True), rnnkit.Linear(24, 3, seed=3), rnnkit.Sigmoid()])


MODULES = {  # name: (make, forward(m), backward(m), what a backward before any forward says)
    "RNN": _recurrent("RNN"), "LSTM": _recurrent("LSTM"), "GRU": _recurrent("GRU"),
    "GRU_cho": _recurrent("GRU", reset_after=False),
    "LSTM_bi2": _recurrent("LSTM", 2, num_layers=2, bidirectional=True, dropout=0.5, recurrent_dropout=0.2),
    "RNNCell": _cell("RNNCell", D2), "LSTMCell": _cell("LSTMCell", (D2, D2C)), "GRUCell": _cell("GRUCell", D2),
    "Linear": (lambda: rnnkit.Linear(3, 4, seed=0), lambda m: m(X), lambda m: m.backward(DY4), BEFORE),
    "Dropout": (lambda: rnnkit.Dropout(0.5, seed=0), lambda m: m(X), lambda m: m.backward(DX3), BEFORE),
    "Embedding": (lambda: rnnkit.Embedding(10, 4, padding_idx=0, seed=0), lambda m: m(IDS),
                  lambda m: m.backward(DY4), BEFORE),
    **{k: (getattr(rnnkit, k), lambda m: m(X), lambda m: m.backward(DX3), BEFORE) for k in ("Tanh", "ReLU", "Sigmoid")},
    "LastStep": (rnnkit.LastStep, lambda m: m(Y4, lengths=[5, 2]), lambda m: m.backward(D2), BEFORE),
    "TimePool": (lambda: TimePool(("last", "mean", "max")), lambda m: m(Y4, lengths=[5, 2]),
                 lambda m: m.backward(np.tile(D2, 3)), BEFORE),
    "Sequential": (lambda: rnnkit.Sequential([rnnkit.LSTM(3, 4, seed=0), rnnkit.LastStep(),
                                              rnnkit.Linear(4, 2, seed=1)]),
                   lambda m: m(X, lengths=[5, 3]), lambda m: m.backward(D2[:, :2]), BEFORE),
    "Sequential_mixed": (_mixed, lambda m: m(IDS, lengths=[5, 2]), lambda m: m.backward(D2[:, :3]), BEFORE),
}


@pytest.mark.parametrize("name", list(MODULES))
def test_backward_before_any_forward_says_so_not_no_grad(name):
    make, _, backward, before = MODULES[name]
    with pytest.raises(RuntimeError, match=before) as err:
        backward(make())
    assert "no_grad" not in str(err.value)


@pytest.mark.parametrize("name", list(MODULES))
@pytest.mark.parametrize("normal_first", [False, True], ids=["no_grad", "normal_then_no_grad"])
def test_backward_after_a_forward_under_no_grad_raises(name, normal_first):
    """Also after a normal forward and then one under no_grad: backward differentiates the last."""
    make, forward, backward, _ = MODULES[name]
    m = make()
    if normal_first:
        forward(m)
    with rnnkit.no_grad():
        forward(m)
    for _ in range(2):  # and again: nothing came in between
        with pytest.raises(RuntimeError, match=NO_GRAD) as err:
            backward(m)
        assert f"{type(m).__name__}.backward()" in str(err.value)
    assert getattr(m, "cache", None) is None
    for layer in getattr(m, "layers", []):  # a Sequential's layers: none kept anything either
        with pytest.raises(RuntimeError, match=NO_GRAD):
            layer.backward(np.zeros((2, 5, 8), dtype=np.float32))


@pytest.mark.parametrize("name", list(MODULES))
def test_no_grad_is_per_forward_not_sticky(name):
    """forward under no_grad, then forward + backward: the same outputs, gradients and dx as a twin
    that ran the same forwards outside no_grad (for seeded layers without dropout: a fresh layer's)."""
    make, forward, backward, _ = MODULES[name]
    m, twin = make(), make()
    with rnnkit.no_grad():
        got = forward(m)
    _assert_same(got, forward(twin))  # the same outputs (and dropout masks) under no_grad
    _assert_same(forward(m), forward(twin))
    dx = backward(m)
    _assert_grads(m, dx, twin, backward(twin))
    assert not m.grads or any(np.abs(g).max() > 0 for g in m.grads.values())
    if name not in ("LSTM_bi2", "Dropout", "Sequential_mixed"):  # no masks: a fresh module's forward + backward
        fresh = make()
        forward(fresh)
        _assert_grads(m, dx, fresh, backward(fresh))


def test_a_cell_step_kept_before_no_grad_can_still_be_differentiated():
    cell, twin = rnnkit.LSTMCell(3, 4, seed=0), rnnkit.LSTMCell(3, 4, seed=0)
    cell(X2)
    kept = cell.cache
    with rnnkit.no_grad():
        cell(X2 * 2)
    assert cell.cache is None
    twin(X2)
    _assert_same(cell.backward((D2, D2C), cache=kept), twin.backward((D2, D2C)))


def test_a_cell_step_run_under_no_grad_is_not_silently_replaced_by_the_last_one():
    """Its cell.cache, None, handed back by a BPTT loop written by hand, raises: it does not fall
    back to the last step's cache as leaving the argument out does."""
    cell = rnnkit.GRUCell(3, 4, seed=0)
    with rnnkit.no_grad():
        cell(X2)
    caches = [cell.cache]
    cell(X2 * 2)
    with pytest.raises(RuntimeError, match=r"GRUCell.backward\(\) got cache=None, which is the cell.cache of a step "
                                           r"run under rnnkit.no_grad\(\)"):
        cell.backward(D2, cache=caches[0])
    assert cell.backward(D2)[0].shape == X2.shape  # the last step's, as before


# -- 6. evaluating -------------------------------------------------------------------------------
@pytest.mark.parametrize("training", [True, False])
def test_evaluating_sets_eval_and_no_grad_and_restores(training):
    model = rnnkit.Sequential([rnnkit.LSTM(3, 4, seed=0), rnnkit.Dropout(0.5, seed=0), rnnkit.LastStep()])
    model.train(training)
    with evaluating(model) as m:
        assert m is model
        assert model.training is False and all(layer.training is False for layer in model.layers)
        assert rnnkit.is_grad_enabled() is False
        model(X)
    assert model.training is training and all(layer.training is training for layer in model.layers)
    assert rnnkit.is_grad_enabled() is True
    with pytest.raises(RuntimeError, match=NO_GRAD):
        model.backward(D2)
    with pytest.raises(ZeroDivisionError), evaluating(model):
        1 / 0
    assert model.training is training and rnnkit.is_grad_enabled() is True
    layer = rnnkit.GRU(3, 4, dropout=0.5, num_layers=2, seed=0).train(training)
    with pytest.raises(ValueError), evaluating(layer):
        assert layer.training is False
        layer(np.zeros((2, 5, 7)))  # the wrong input size
    assert layer.training is training and rnnkit.is_grad_enabled() is True


# -- 7. predict ----------------------------------------------------------------------------------
@pytest.mark.parametrize("training", [True, False])
def test_predict_keeps_the_mode_matches_eval_forward_and_keeps_nothing(training):
    def make():
        return rnnkit.Sequential([rnnkit.LSTM(3, 4, num_layers=2, dropout=0.5, recurrent_dropout=0.3, seed=0),
                                  rnnkit.Dropout(0.4, seed=1), rnnkit.LastStep(), rnnkit.Linear(4, 2, seed=2)])

    x = np.random.default_rng(6).standard_normal((30, 6, 3)).astype(np.float32)
    lengths = np.random.default_rng(7).integers(1, 7, 30)
    model, ref = make().train(training), make()
    got = model.predict(x, lengths=lengths)
    assert model.training is training and all(layer.training is training for layer in model.layers)
    ref.eval()
    _assert_same(got, ref(x, lengths=lengths))
    # to rounding: with 16 sequences or more the LSTM's fused step (csrc/packed.h) adds W_ih x_t,
    # W_hh h and b in one product, with fewer in two, in another order
    in_batches = model.predict(x, lengths=lengths, batch_size=7)
    assert in_batches.dtype == got.dtype
    np.testing.assert_allclose(in_batches, got, rtol=1e-6, atol=1e-7)
    with pytest.raises(RuntimeError, match=NO_GRAD):
        model.backward(np.ones((30, 2), dtype=np.float32))
    model.evaluate(x, np.zeros((30, 2)), lengths=lengths, metrics=["mae"])
    assert model.training is training
    with pytest.raises(RuntimeError, match=NO_GRAD):
        model.backward(np.ones((30, 2), dtype=np.float32))
    assert rnnkit.is_grad_enabled() is True
    model.train()  # and training goes on as before: predict and evaluate drew no dropout masks
    ref.train()
    _assert_same(model(x, lengths=lengths), ref(x, lengths=lengths))
    assert model.backward(np.ones((30, 2), dtype=np.float32)).shape == x.shape


def test_fit_with_validation_trains_as_without_it():
    """Validation runs under evaluating(): it draws no mask and leaves the next step a cache of its own."""
    def make():
        return rnnkit.Sequential([rnnkit.GRU(3, 4, recurrent_dropout=0.2, seed=0), rnnkit.Dropout(0.3, seed=1),
                                  rnnkit.LastStep(), rnnkit.Linear(4, 1, seed=2)])

    rng = np.random.default_rng(8)
    x, y = rng.standard_normal((24, 5, 3)).astype(np.float32), rng.standard_normal((24, 1)).astype(np.float32)
    a, b = make(), make()
    a.fit(x, y, epochs=2, batch_size=8, shuffle=False, progress=False)
    hist = b.fit(x, y, epochs=2, batch_size=8, shuffle=False, progress=False, validation_data=(x[:10], y[:10]))
    assert "val_loss" in hist.history
    for k, v in a.params.items():
        np.testing.assert_array_equal(b.params[k], v, err_msg=k)
    assert b.training is True


# -- 8. memory -----------------------------------------------------------------------------------
@pytest.mark.skipif(not blas.c_loops(), reason="only the C loops keep their caches for one step")
@pytest.mark.parametrize("kind", ["LSTM", "GRU"])
def test_forward_under_no_grad_holds_only_its_outputs(kind):
    """Under no_grad a forward holds the states hs (H, T+1, N), the user's y (H, T, N) and the
    layer's copy of x (I, T, N), plus a quarter of y; outside it the caches of every step (LSTM:
    gates 4H, cs, tanh(cs); GRU: gates 3H, side) make it more than that."""
    T, I, H, N = 100, 8, 64, 32
    x = np.random.default_rng(0).standard_normal((N, T, I)).astype(np.float32)

    def count(context):
        layer = getattr(rnnkit, kind)(I, H, seed=0)  # a fresh one: its workspace holds what this forward made

        def f():
            with context():
                return layer(x)

        return memory.numpy_peak_bytes(f) + memory.workspace_bytes(layer)

    y_bytes = H * T * N * 4
    allowed = H * (T + 1) * N * 4 + y_bytes + I * T * N * 4 + y_bytes // 4
    lean, full = count(rnnkit.no_grad), count(contextlib.nullcontext)
    assert 2 * y_bytes <= lean <= allowed, (lean, allowed)
    assert full > allowed, (full, allowed)
    assert full - lean >= (3 if kind == "LSTM" else 2) * y_bytes, (full, lean)
