"""Interleaved wall-clock timing of two callables (time.perf_counter).

Why "settle" runs: torch (OpenMP) and numpy (OpenBLAS) each keep their own worker threads,
and both let idle workers spin for a while after a parallel call (OpenBLAS ~2**28 cycles,
libgomp GOMP_SPINCOUNT). Run back to back in one process, the first calls of one library
compete with the other library's still-spinning threads; on a 2-core machine that made an
LSTM training step 2-3x slower on *both* sides. So after every switch from one side to
the other, the new side runs untimed for at least ``settle_s`` seconds (and at least once)
before it is timed: timings then reflect each library in steady state, while alternation
still spreads slow machine drift over both sides.
"""

from __future__ import annotations

import time
from typing import Callable

import numpy as np


def _once(fn: Callable[[], object]) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def _settle(fn: Callable[[], object], settle_s: float) -> None:
    """Run ``fn`` untimed at least once and until ``settle_s`` seconds have passed."""
    end = time.perf_counter() + settle_s
    fn()
    while time.perf_counter() < end:
        fn()


def time_pair(
    fa: Callable[[], object],
    fb: Callable[[], object],
    warmup: int = 2,
    repeats: int = 20,
    budget_s: float | None = None,
    min_repeats: int = 5,
    settle_s: float = 0.2,
) -> tuple[list[float], list[float]]:
    """Time ``fa`` and ``fb`` alternately; return (times_a, times_b) in seconds.

    ``warmup`` untimed pairs first. Then up to ``repeats`` timed calls per side in ABBA
    order (a,b then b,a then a,b ...), so slow drifts hit both sides equally. Whenever the
    side changes, the new side first runs untimed for ``settle_s`` seconds (see module
    docstring; ``settle_s <= 0`` disables this). If ``budget_s`` is given, stops early once
    the timed loop (settling included) has used ``budget_s`` seconds and at least
    ``min(min_repeats, repeats)`` pairs were measured (so big shapes get fewer repeats).
    """
    if repeats < 1:
        raise ValueError(f"Expected repeats >= 1, got {repeats}")
    for _ in range(max(0, warmup)):
        fa()
        fb()
    floor = min(min_repeats, repeats)
    times: dict[int, list[float]] = {0: [], 1: []}
    funcs = (fa, fb)
    last = 1  # warmup ended with fb
    start = time.perf_counter()
    for k in range(repeats):
        for side in ((0, 1) if k % 2 == 0 else (1, 0)):
            if side != last and settle_s > 0:
                _settle(funcs[side], settle_s)
            times[side].append(_once(funcs[side]))
            last = side
        if budget_s is not None and k + 1 >= floor and time.perf_counter() - start >= budget_s:
            break
    return times[0], times[1]


def summarize(times_s: list[float]) -> dict:
    """Median / IQR / min in milliseconds, plus the raw times."""
    ms = np.asarray(times_s, dtype=float) * 1e3
    q25, med, q75 = np.percentile(ms, [25, 50, 75])
    return {
        "median_ms": float(med),
        "iqr_ms": float(q75 - q25),
        "q25_ms": float(q25),
        "q75_ms": float(q75),
        "min_ms": float(ms.min()),
        "n": int(ms.size),
        "times_ms": [round(float(v), 6) for v in ms],
    }
