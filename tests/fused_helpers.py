"""Shared by the tests of the C extension rnnkit.kernels._fused (test_fused_*.py)."""

from __future__ import annotations

import numpy as np

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
