"""In-place activations shared by the recurrent kernels.

``sigmoid(a) = 1 / (1 + exp(-a)) = 0.5 * (1 + tanh(a / 2))``: the tanh form never overflows,
needs no temporary array, and uses NumPy's vectorised tanh.
"""

from __future__ import annotations

import numpy as np


def sigmoid_(a: np.ndarray) -> np.ndarray:
    """Overwrite ``a`` with sigmoid(a) and return it."""
    a *= 0.5
    np.tanh(a, out=a)
    a *= 0.5
    a += 0.5
    return a


def tanh_(a: np.ndarray) -> np.ndarray:
    """Overwrite ``a`` with tanh(a) and return it."""
    return np.tanh(a, out=a)


def relu_(a: np.ndarray) -> np.ndarray:
    """Overwrite ``a`` with max(a, 0) and return it."""
    return np.maximum(a, 0, out=a)
