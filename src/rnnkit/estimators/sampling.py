"""Drawing the next token from a language model's logits: temperature and top-k.

For logits z (V,) over the vocabulary::

    p = softmax(z / temperature)          temperature > 0: < 1 sharper, > 1 flatter
    top_k = k: keep the k largest z (ties at the k-th value kept), renormalise, draw
    temperature = 0: the most likely token (greedy; no randomness)

Any temperature in (0, inf) works, however small: the logits are shifted by their maximum
before the division, so a tiny temperature tends to greedy instead of overflowing to NaN.
"""

from __future__ import annotations

import numbers
from typing import Any

import numpy as np


def check_sampling(temperature: Any, top_k: Any, owner: str) -> tuple[float, int | None]:
    """Validate ``temperature`` (float >= 0) and ``top_k`` (None or int >= 1)."""
    if isinstance(temperature, (bool, np.bool_)) or not isinstance(temperature, numbers.Real) \
            or not 0 <= temperature < np.inf:
        raise ValueError(f"The 'temperature' parameter of {owner} must be a float >= 0 (0: greedy). "
                         f"Got {temperature!r} instead.")
    if top_k is not None and (isinstance(top_k, (bool, np.bool_)) or not isinstance(top_k, numbers.Integral)
                              or top_k < 1):
        raise ValueError(f"The 'top_k' parameter of {owner} must be an int >= 1 or None. Got {top_k!r} instead.")
    return float(temperature), None if top_k is None else int(top_k)


def next_token(logits: np.ndarray, temperature: float, top_k: int | None, rng: np.random.Generator) -> int:
    """One token id drawn from ``logits`` (V,) as in the module docstring."""
    z = np.asarray(logits, dtype=np.float64)
    if temperature == 0:
        return int(np.argmax(z))
    if top_k is not None and top_k < len(z):
        kth = np.partition(z, len(z) - top_k)[len(z) - top_k]
        z = np.where(z >= kth, z, -np.inf)
    with np.errstate(over="ignore"):   # shift first: z / 1e-320 overflows to inf, and inf - inf is NaN
        z = (z - z.max()) / temperature
    p = np.exp(z)
    p /= p.sum()
    return int(rng.choice(len(p), p=p))
