"""The memory a training step holds, counted as the benchmark counts it (``benchmarks/memory.py``:
tracemalloc's peak over one steady-state step, plus the layer's workspace). Byte counts, not
timings: they are the same on every machine."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

import rnnkit
from rnnkit.kernels import _fused, blas

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # `benchmarks` lives at the repo root, not in src/
    sys.path.insert(0, str(ROOT))

from benchmarks import memory  # noqa: E402


def _training_step_bytes(cell, T, I, H, N, batch_first=True) -> int:
    """The bytes one steady-state training step of a float32 ``rnnkit.<cell>(I, H)`` holds on random
    x and dy of N sequences of T steps, as the benchmark counts them."""
    layer = getattr(rnnkit, cell)(I, H, batch_first=batch_first, dtype="float32", seed=0)
    rng = np.random.default_rng(0)
    shape = (N, T) if batch_first else (T, N)
    x = rng.standard_normal(shape + (I,)).astype(np.float32)
    dy = rng.standard_normal(shape + (H,)).astype(np.float32)

    def step():
        layer.zero_grad()
        y, _ = layer.forward(x)
        dx, _ = layer.backward(dy)
        return y, dx

    return memory.numpy_peak_bytes(step) + memory.workspace_bytes(layer)


@pytest.mark.skipif(not blas.c_loops(), reason="the backward without an array of da_t is the C loop's")
@pytest.mark.parametrize("layout", ["batch-first", "time-major"])
@pytest.mark.parametrize("N", [1, 16])
def test_rnn_training_step_holds_two_arrays_of_states(N, layout):
    """An RNN training step holds the cache hs (H, T+1, N) and the user's y (H * T * N values),
    the layer's copy of x (which takes dx) and the user's dx (I * T * N each), and the C loop's
    two rings of 16 steps of da_t; with the AVX-512 kernel's weight gradients (from 16 sequences) a
    chunk's [h~; x] transposed (16 N, H + I) and each thread's packed 24 rows of a ring. A third
    array of H * T * N values (da_t or dy in an array of their own, or the weight gradients'
    temporaries at N = 1) would not fit in the quarter of one allowed on top."""
    T, I, H = 100, 8, 64
    peak = _training_step_bytes("RNN", T, I, H, N, batch_first=layout == "batch-first")
    states, inputs, ring = H * T * N * 4, I * T * N * 4, 2 * 16 * H * N * 4
    packed = _fused.packed_kernel(None) == "avx512" and N >= 16
    chunk = (16 * N * (H + I) + _fused.loop_parts(1, H, N) * 24 * 16 * N) * 4 if packed else 0
    allowed = (H * N * 4 + states) + states + 2 * inputs + ring + chunk + states // 4
    assert peak <= allowed, (peak, allowed)
    assert peak >= 2 * states  # the count sees the arrays it should


@pytest.mark.skipif(not blas.c_loops(), reason="the Python loop keeps per-step views beside its arrays")
def test_gru_weight_gradient_needs_one_array_of_its_size():
    """At N = 1 the weight gradients weigh as much as the sequences: a GRU training step holds
    the cache (gates (3H, T, N), hs (H, T+1, N), side (H, T, N)), the user's y, the workspace's
    copy of dy, x's copy and dx, and one (3H, H) array for dW_hh (its blocks are products into
    it, not a concatenation of two products) with dW_ih (3H, I); a second (3H, H) array would not
    fit in the half of one allowed on top."""
    T, I, H, N = 100, 8, 64, 1
    peak = _training_step_bytes("GRU", T, I, H, N)
    states, inputs, dW_hh = H * T * N * 4, I * T * N * 4, 3 * H * H * 4
    allowed = 3 * states + (H * N * 4 + states) + 3 * states + 2 * inputs + dW_hh + 3 * H * I * 4 + dW_hh // 2
    assert peak <= allowed, (peak, allowed)


def test_workspace_bytes_counts_each_block_once():
    """An array of the workspace and the views of it count once; an array that is a view of a
    larger block counts its whole block"""
    from types import SimpleNamespace

    from rnnkit.kernels.common import buffer

    ws = {}
    a = ws["a"] = np.empty(80, np.float32)[3:73].reshape(10, 7)
    b = buffer(ws, "b", (5,), np.float64)
    ws["b.view"] = b[1:]
    ws["a.steps"] = (a, [a[:, s] for s in range(7)])
    views = sys.getsizeof(ws["a.steps"][1]) + sum(sys.getsizeof(v) for v in ws["a.steps"][1])
    assert memory.workspace_bytes(SimpleNamespace(_workspaces={"x": ws})) == 80 * 4 + 5 * 8 + views


@pytest.mark.skipif(not blas.c_loops(), reason="the backward without an array of gate gradients is the C loop's")
@pytest.mark.parametrize("N", [1, 16])
def test_lstm_training_step_holds_no_array_of_gate_gradients(N):
    """An LSTM training step holds the cache (gates (T, 4H, N), hs, cs and tanh(c)) and the C loop's
    two rings of 8 steps of gate gradients; on top of those, the user's y, the copy of dy, the copies
    of x and dx and the weight gradients fit in three arrays of states (H * T * N values). An array
    of all the gate gradients, (4H, T, N), four of them, would not (the code before the rings held
    6.1 and 7.8)."""
    T, I, H = 100, 8, 64
    peak = _training_step_bytes("LSTM", T, I, H, N)
    states, ring = H * T * N * 4, 2 * 8 * 4 * H * N * 4
    cache = 4 * states + 3 * (H * (T + 1) * N * 4)
    assert cache + ring <= peak <= cache + ring + 3 * states, (peak, cache + ring, states)
