"""Element-wise activation layers: ``Tanh``, ``ReLU``, ``Sigmoid``.

Each keeps its output (or input) from the last forward, and backward multiplies by the local
derivative. Shapes: x (...) -> y (...), the same.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .._checks import check_shape
from .module import Module


class _Elementwise(Module):
    """Base: y = f(x), dx = dy * f'(x); no parameters."""

    _saved_attr = "_saved"

    def __init__(self) -> None:
        self._init_params({})
        self._saved: np.ndarray | None = None

    def get_config(self) -> dict[str, Any]:
        return {}

    def output_shape(self, input_shape: tuple) -> tuple:
        return tuple(input_shape)

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"

    def forward(self, x: Any) -> np.ndarray:
        x = np.asarray(x)
        if x.dtype.kind != "f":
            raise TypeError(f"Expected 'x' to hold floating-point numbers, got dtype {x.dtype}.")
        y, saved = self._forward(x)
        self._saved = saved if self._keeps_for_backward() else None
        return y

    def backward(self, dy: Any) -> np.ndarray:
        saved = self._saved_for_backward()
        dy = np.asarray(dy)
        check_shape(dy, saved.shape, "dy", "dy must have the shape of y.")
        self._saved = None  # consumed: one backward per forward
        return self._backward(dy, saved)


class Tanh(_Elementwise):
    """y = tanh(x);  dx = dy * (1 - y**2)."""

    def _forward(self, x):
        y = np.tanh(x)
        return y, y

    def _backward(self, dy, y):
        return dy * (1 - y * y)


class ReLU(_Elementwise):
    """y = max(x, 0);  dx = dy * (x > 0)."""

    def _forward(self, x):
        return np.maximum(x, 0), x

    def _backward(self, dy, x):
        return dy * (x > 0)


class Sigmoid(_Elementwise):
    """y = 1 / (1 + exp(-x)) (computed without overflow);  dx = dy * y * (1 - y)."""

    def _forward(self, x):
        y = 0.5 * (1 + np.tanh(0.5 * x))  # = 1 / (1 + exp(-x)), never overflows
        return y, y

    def _backward(self, dy, y):
        return dy * y * (1 - y)
