"""Analytic FLOP counts for RNN/LSTM/GRU layers and a measured float32 matmul peak.

Only the matrix multiplications are counted (elementwise gate math, activations and the
bias adds are O(N*T*G*H) and ignored). With G gates (RNN 1, LSTM 4, GRU 3), batch N,
T steps, input size I, hidden size H, one layer, one direction:

    forward     = 2*N*T*G*H*(I + H)
                  (x_t @ W_ih^T: 2*N*G*H*I per step, h_{t-1} @ W_hh^T: 2*N*G*H*H per step)
    train step  = 3 * forward
                  (forward, plus in backward: dx = dgates @ W_ih and dh = dgates @ W_hh
                   (= 1x forward), dW_ih = dgates^T x and dW_hh = dgates^T h (= 1x forward))

GRU with reset_after=True (PyTorch's formulation) computes W_hn @ h in full, so the same
count holds. GFLOP/s = flops / median time.
"""

from __future__ import annotations

import time

import numpy as np

GATES = {"rnn": 1, "lstm": 4, "gru": 3}

FORMULA = {
    "forward": "2*N*T*G*H*(I+H)  (G: rnn 1, lstm 4, gru 3; matmuls only)",
    "train": "3 * forward  (forward + dx/dh matmuls + dW matmuls)",
    "inference": "forward",
}


def forward_flops(cell: str, n: int, t: int, i: int, h: int) -> int:
    """Matrix-multiply FLOPs of one forward pass: ``2*N*T*G*H*(I+H)``."""
    return 2 * n * t * GATES[cell] * h * (i + h)


def step_flops(cell: str, mode: str, n: int, t: int, i: int, h: int) -> int:
    """FLOPs for ``mode`` "train" (3x forward) or "inference" (1x forward)."""
    fwd = forward_flops(cell, n, t, i, h)
    if mode == "train":
        return 3 * fwd
    if mode == "inference":
        return fwd
    raise ValueError(f"Expected mode 'train' or 'inference', got {mode!r}")


def matmul_peak(n: int = 1024, repeats: int = 7, dtype=np.float32) -> dict:
    """Measure numpy ``n x n @ n x n`` GFLOP/s (2*n**3 flops), median of ``repeats`` runs.

    Runs in the calling process with whatever BLAS thread setting is in effect, so it is the
    practical ceiling for rnnkit's matmuls on this machine (not a theoretical peak).
    """
    rng = np.random.default_rng(0)
    a = rng.standard_normal((n, n)).astype(dtype)
    b = rng.standard_normal((n, n)).astype(dtype)
    out = np.empty((n, n), dtype=dtype)
    np.matmul(a, b, out=out)  # warm up BLAS threads / caches
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        np.matmul(a, b, out=out)
        times.append(time.perf_counter() - t0)
    med = float(np.median(times))
    return {
        "n": n,
        "dtype": np.dtype(dtype).name,
        "repeats": repeats,
        "median_s": med,
        "gflops": 2.0 * n**3 / med / 1e9,
        "method": f"numpy.matmul float32 {n}x{n} @ {n}x{n}, 2*n^3 flops / median time, same process "
                  "(run before and after the benchmark; 'gflops' is the higher)",
    }
