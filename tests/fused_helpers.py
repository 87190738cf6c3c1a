"""Shared by the tests of the C extension rnnkit.kernels._fused (test_fused_*.py)."""

from __future__ import annotations

import re

import numpy as np
import pytest

from rnnkit.kernels import _fused

DTYPES = [np.float32, np.float64]
H = 5
LD = np.longdouble


def dtype_id(dtype) -> str:
    return np.dtype(dtype).name


def sigmoid(x):
    """sigma(x) = 1 / (1 + exp(-x))."""
    with np.errstate(over="ignore"):
        return 1 / (1 + np.exp(-x))


def tanh(x):
    """tanh(x)."""
    return np.tanh(x)


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


def loop_problem(G, states, N, dtype, reverse, masked, varlen, seed=0, T=7, I=3, H=6):
    """Random arguments of a kernel forward (G gates, `states` states: 2 for the LSTM), its dy
    and its dstate: x (I, T, N), state0, weights and biases, reverse; rec_mask (H, N) when
    masked; batch_sizes of sorted random lengths (the first T) when varlen."""
    rng = np.random.default_rng(seed)
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
    if varlen:
        lengths = np.sort(rng.integers(1, T + 1, size=N))[::-1]
        lengths[0] = T
        p["batch_sizes"] = (lengths[None, :] > np.arange(T)[:, None]).sum(axis=1)
    dy = rng.standard_normal((H, T, N)).astype(dtype)
    dstate = tuple(rng.standard_normal((H, N)).astype(dtype) for _ in range(states))
    return p, dy, dstate


def packed_kernels() -> list[str]:
    """The packed kernels this CPU and build run (``_fused.packed_kernel``): ["avx512", "avx2"]
    with AVX-512, ["avx2"] with AVX2 only, [] without either; the tests run each."""
    old = _fused.packed_kernel(None)
    if old is None:
        return []
    names = []
    for name in ("avx512", "avx2"):
        try:
            _fused.packed_kernel(name)
        except ValueError:
            continue
        names.append(name)
    _fused.packed_kernel(old)
    return names


def packed_kernel_supported() -> bool:
    """Whether this CPU and build run a packed kernel (``_fused.packed_products`` accepts 2)."""
    return bool(packed_kernels())


needs_packed_kernel = pytest.mark.skipif(not packed_kernel_supported(),
                                         reason="packed products need an x86-64 CPU with AVX-512 or AVX2")
