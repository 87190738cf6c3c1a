"""Validation of plot inputs: 1-D series and dicts of named arrays."""

from __future__ import annotations

from typing import Any

import numpy as np

from ..data._arrays import as_float_series


def named_arrays(data: Any, name: str, owner: str, ndim: tuple[int, ...],
                 shapes: str | None = None) -> dict[str, np.ndarray]:
    """A non-empty dict name -> float array with one of the allowed numbers of dimensions
    (``shapes``: how the message names them) and at least one value."""
    if not isinstance(data, dict) or not data:
        raise TypeError(
            f"{owner} expected '{name}' to be a non-empty dict mapping names to arrays, got "
            f"{type(data).__name__}."
        )
    out = {}
    for key, value in data.items():
        arr = as_float_series(value, f"{name}[{key!r}]", owner, ndim=ndim, allow_nan=True, shapes=shapes)
        if arr.size == 0:
            raise ValueError(f"{owner} expected {name}[{key!r}] to hold at least one value, got an empty array of "
                             f"shape {arr.shape}.")
        out[str(key)] = arr
    return out
