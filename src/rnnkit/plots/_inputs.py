"""Validation of plot inputs: 1-D series and dicts of named arrays."""

from __future__ import annotations

from typing import Any

import numpy as np

from ..data._arrays import as_float_series


def named_arrays(data: Any, name: str, owner: str, ndim: tuple[int, ...],
                 shapes: str | None = None) -> dict[str, np.ndarray]:
    """A non-empty dict name -> float array with one of the allowed numbers of dimensions
    (``shapes``: how the message names them)."""
    if not isinstance(data, dict) or not data:
        raise TypeError(
            f"{owner} expected '{name}' to be a non-empty dict mapping names to arrays, got "
            f"{type(data).__name__}."
        )
    out = {}
    for key, value in data.items():
        out[str(key)] = as_float_series(value, f"{name}[{key!r}]", owner, ndim=ndim, allow_nan=True, shapes=shapes)
    return out
