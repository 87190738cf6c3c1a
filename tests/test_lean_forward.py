"""Forwards that no backward follows (``keep_cache=False``, what ``rnnkit.no_grad`` asks of the
kernels): the C loops of the LSTM and GRU then take caches with fewer time slots (``_fused``
``lstm_forward_seq`` / ``gru_forward_seq``: A and tcs / side one, cs two; step t uses slot
t mod slots, ``csrc/sequence.h``), with the same outputs, bit for bit. The LSTM's caches are
time-major there, (S, F, N); the tests below index every cache as (F, S, N) (``_fs``)."""

from __future__ import annotations

import re

import numpy as np
import pytest

from rnnkit.kernels import _fused, blas, gru_forward, lstm_forward, rnn_forward
from rnnkit.kernels.common import STEP_PROJECTION_MIN_N

from fused_helpers import DTYPES, dtype_id

needs_c = pytest.mark.skipif(blas.find() is None, reason="NumPy's BLAS cannot be called from C here: no *_seq loops")

H, T, I = 6, 7, 3
TIME_MAJOR = ("A", "cs", "tcs", "gates", "tanh_cs")  # the LSTM's caches (and their names in a workspace)


def _fs(cell, name, a):
    """The binding's array ``name`` as an (F, S, N) view"""
    return a.transpose(1, 0, 2) if cell == "lstm" and name in TIME_MAJOR else a


def _as_taken(cell, name, a):
    """An (F, S, N) array as the binding takes it: the LSTM's caches time-major, (S, F, N)"""
    return np.ascontiguousarray(a.transpose(1, 0, 2)) if cell == "lstm" and name in TIME_MAJOR else a


def _binding_args(cell, N, dtype, reverse, packed, masked, seed=0):
    """Arguments of lstm_forward_seq / gru_forward_seq, as a dict by name, in order."""
    rng = np.random.default_rng(seed)
    G = 4 if cell == "lstm" else 3
    hs = np.zeros((H, T + 1, N), dtype)
    hs[:, T if reverse else 0] = rng.uniform(-1, 1, (H, N))
    a = {"hs": hs, "A": np.full((G * H, T, N), np.nan, dtype)}
    if cell == "lstm":
        a["cs"] = np.zeros((H, T + 1, N), dtype)
        a["cs"][:, T if reverse else 0] = rng.uniform(-1, 1, (H, N))
        a["tcs"] = np.full((H, T, N), np.nan, dtype)
    else:
        a["side"] = np.full((H, T, N), np.nan, dtype)
    a["x"] = rng.uniform(-1, 1, (I, T, N)).astype(dtype)
    a["W_ih"] = rng.uniform(-0.5, 0.5, (G * H, I)).astype(dtype)
    a["W_hh"] = rng.uniform(-0.5, 0.5, (G * H, H)).astype(dtype)
    a["bias"] = rng.uniform(-0.3, 0.3, G * H).astype(dtype)
    if cell == "gru":
        a["b_hn"] = rng.uniform(-0.3, 0.3, H).astype(dtype)
    a["rec_mask"] = rng.uniform(0.5, 1.5, (H, N)).astype(dtype) if masked else None
    sizes = np.linspace(N, 1, T).round().astype(np.int64) if packed else None
    a["batch_sizes"] = None if sizes is None else (sizes[::-1].copy() if reverse else sizes)
    a["reverse"] = int(reverse)
    return {k: _as_taken(cell, k, v) for k, v in a.items()}


def _lean(a, cell):
    """The same arguments with the caches of one step (cs: two slots)."""
    b = dict(a, hs=a["hs"].copy())
    for name in ("A", "tcs", "side"):
        if name in b:
            F, _, N = _fs(cell, name, a[name]).shape
            b[name] = _as_taken(cell, name, np.full((F, 1, N), np.nan, a[name].dtype))
    if cell == "lstm":
        cs = np.zeros((H, 2, a["cs"].shape[2]), a["cs"].dtype)
        cs[:, T % 2 if a["reverse"] else 0] = _fs(cell, "cs", a["cs"])[:, T if a["reverse"] else 0]
        b["cs"] = _as_taken(cell, "cs", cs)
    return b


def _call(cell, a):
    getattr(_fused, f"{cell}_forward_seq")(*a.values())


@needs_c
@pytest.mark.parametrize("cell", ["lstm", "gru"])
@pytest.mark.parametrize("dtype", DTYPES, ids=dtype_id)
@pytest.mark.parametrize("reverse", [False, True])
@pytest.mark.parametrize("packed, masked", [(False, False), (True, True)])
@pytest.mark.parametrize("N, P", [(1, 1), (5, 2), (20, 3), (20, 0)])
def test_binding_with_one_step_of_caches(cell, dtype, reverse, packed, masked, N, P, threads):
    """The same states as with whole caches; what is left in the one-step arrays is the last
    step's block (the last two state slots for cs), whatever the split over participants."""
    threads(P)
    full = _binding_args(cell, N, dtype, reverse, packed, masked)
    lean = _lean(full, cell)
    _call(cell, full)
    _call(cell, lean)
    np.testing.assert_array_equal(lean["hs"], full["hs"])
    last = 0 if reverse else T - 1
    B = N if full["batch_sizes"] is None else full["batch_sizes"][last]  # tcs: not written past B
    for name in ("A", "tcs", "side"):
        if name in lean:
            np.testing.assert_array_equal(_fs(cell, name, lean[name])[:, 0, :B],
                                          _fs(cell, name, full[name])[:, last, :B], err_msg=name)
    if cell == "lstm":
        for slot in (last, last + 1):
            np.testing.assert_array_equal(_fs(cell, "cs", lean["cs"])[:, slot % 2],
                                          _fs(cell, "cs", full["cs"])[:, slot])


@needs_c
@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_binding_mixed_slots(cell):
    """Each cache array may have all its slots or the fewer ones, independently."""
    full = _binding_args(cell, 4, np.float64, False, True, False)
    _call(cell, full)
    for keep in [n for n in ("A", "cs", "tcs", "side") if n in full]:
        args = _binding_args(cell, 4, np.float64, False, True, False)  # the same as full's, before the call
        mixed = dict(_lean(args, cell), **{keep: args[keep]})
        _call(cell, mixed)
        assert mixed["hs"] is not full["hs"]
        np.testing.assert_array_equal(mixed["hs"], full["hs"], err_msg=f"{keep} whole, the others lean")


@needs_c
@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_binding_one_slot_of_gates_needs_x(cell):
    """Without x the gates hold every step's input projection: one slot cannot."""
    a = _lean(_binding_args(cell, 4, np.float64, False, False, False), cell)
    a["x"] = a["W_ih"] = None
    with pytest.raises(ValueError, match=rf"_fused.{cell}_forward_seq: A with 1 time slot needs x: without x "
                                         rf"it holds the input projections of all {T} steps"):
        _call(cell, a)


@needs_c
@pytest.mark.parametrize("cell, name, slots, want", [
    ("lstm", "A", 2, "(7, 24, 4) or (1, 24, 4)"), ("lstm", "A", T + 1, "(7, 24, 4) or (1, 24, 4)"),
    ("lstm", "cs", 1, "(8, 6, 4) or (2, 6, 4)"), ("lstm", "cs", 3, "(8, 6, 4) or (2, 6, 4)"),
    ("lstm", "tcs", 2, "(7, 6, 4) or (1, 6, 4)"), ("gru", "A", 2, "(18, 7, 4) or (18, 1, 4)"),
    ("gru", "side", 2, "(6, 7, 4) or (6, 1, 4)")])
def test_binding_other_slot_counts_rejected(cell, name, slots, want):
    a = _binding_args(cell, 4, np.float64, False, False, False)
    a[name] = _as_taken(cell, name, np.zeros((_fs(cell, name, a[name]).shape[0], slots, 4)))
    with pytest.raises(ValueError, match=re.escape(f"_fused: {name} must have shape {want}, got")):
        _call(cell, a)


# ---- the kernels' keep_cache ------------------------------------------------------------------

KERNELS = {"rnn": (rnn_forward, 1, 1), "lstm": (lstm_forward, 4, 2), "gru": (gru_forward, 3, 1)}


def _kernel_problem(cell, N, dtype, reverse, packed, seed=1):
    fwd, G, n_states = KERNELS[cell]
    rng = np.random.default_rng(seed)
    sizes = np.linspace(N, 1, T).round().astype(np.int64) if packed else None
    return dict(
        x=rng.standard_normal((I, T, N)).astype(dtype),
        state0=tuple(rng.standard_normal((H, N)).astype(dtype) for _ in range(n_states)),
        W_ih=(rng.standard_normal((G * H, I)) * 0.5).astype(dtype),
        W_hh=(rng.standard_normal((G * H, H)) * 0.5).astype(dtype),
        b_ih=rng.standard_normal(G * H).astype(dtype), b_hh=rng.standard_normal(G * H).astype(dtype),
        batch_sizes=None if sizes is None else (sizes[::-1].copy() if reverse else sizes),
        rec_mask=rng.uniform(0.5, 1.5, (H, N)).astype(dtype), reverse=reverse)


@pytest.mark.parametrize("c_loop", [True, False], ids=["c-loop", "python-loop"])
@pytest.mark.parametrize("cell", list(KERNELS))
@pytest.mark.parametrize("dtype", DTYPES, ids=dtype_id)
@pytest.mark.parametrize("reverse, packed", [(False, False), (True, True)])
@pytest.mark.parametrize("N", [1, STEP_PROJECTION_MIN_N + 3])
def test_keep_cache_false_same_outputs_no_cache(cell, dtype, reverse, packed, N, c_loop, monkeypatch):
    if c_loop and blas.find() is None:
        pytest.skip("no C loops here")
    monkeypatch.setattr(blas, "c_loops", lambda: c_loop)
    fwd = KERNELS[cell][0]
    p = _kernel_problem(cell, N, dtype, reverse, packed)
    y, state, cache = fwd(**p, ws={})
    y_lean, state_lean, cache_lean = fwd(**p, ws={}, keep_cache=False)
    assert cache is not None and cache_lean is None
    np.testing.assert_array_equal(y_lean, y)
    for a, b in zip(state_lean, state):
        np.testing.assert_array_equal(a, b)


@needs_c
@pytest.mark.parametrize("cell, whole, lean", [
    ("lstm", ["hs"], ["gates.1", "cs.2", "tanh_cs.1"]), ("gru", ["hs"], ["gates.1", "side.1"])])
def test_keep_cache_false_keeps_one_step_in_the_workspace(cell, whole, lean, monkeypatch):
    """From STEP_PROJECTION_MIN_N sequences the loop projects x itself: no (G*H, T, N) array at
    all. Below, the gates keep every step (the projections go there before the loop)."""
    monkeypatch.setattr(blas, "c_loops", lambda: True)
    fwd = KERNELS[cell][0]
    ws = {}
    fwd(**_kernel_problem(cell, STEP_PROJECTION_MIN_N, np.float32, False, False), ws=ws, keep_cache=False)
    arrays = {k for k, v in ws.items() if isinstance(v, np.ndarray) and v.ndim == 3}
    assert arrays == set(whole + lean)
    for k in lean:
        assert _fs(cell, k.split(".")[0], ws[k]).shape[1] == int(k.split(".")[1])
    ws = {}
    fwd(**_kernel_problem(cell, STEP_PROJECTION_MIN_N - 1, np.float32, False, False), ws=ws, keep_cache=False)
    assert _fs(cell, "gates", ws["gates"]).shape[1] == T and "gates.1" not in ws


@needs_c
@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_training_and_inference_calls_keep_their_own_arrays(cell, monkeypatch):
    """Calls with and without caches in turn (validation during fit) reuse both sets of arrays
    rather than reallocating one in place of the other."""
    monkeypatch.setattr(blas, "c_loops", lambda: True)
    fwd = KERNELS[cell][0]
    p = _kernel_problem(cell, STEP_PROJECTION_MIN_N, np.float32, False, False)
    ws = {}
    fwd(**p, ws=ws)
    fwd(**p, ws=ws, keep_cache=False)
    before = {k: v for k, v in ws.items() if isinstance(v, np.ndarray)}
    for keep in (True, False, True):
        fwd(**p, ws=ws, keep_cache=keep)
    assert {k: v for k, v in ws.items() if isinstance(v, np.ndarray)}.keys() == before.keys()
    assert all(ws[k] is v for k, v in before.items())
