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
