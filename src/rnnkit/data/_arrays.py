"""Turning user input (NumPy arrays, lists, pandas Series/DataFrames) into float arrays.

Series helpers accept integer data (counts are common) and convert it to float64; they refuse
bools, strings, objects, complex numbers and tensors with a message that says how to convert.
pandas objects are accepted through ``.to_numpy()`` (nullable columns too: :func:`pandas_values`)
without importing pandas.
"""

from __future__ import annotations

from typing import Any

import numpy as np


def is_pandas(x: Any) -> bool:
    """True for a pandas Series or DataFrame (checked by module name: pandas is not imported)."""
    return type(x).__module__.split(".")[0] == "pandas" and hasattr(x, "iloc")


def pandas_values(x: Any) -> np.ndarray:
    """The values of a pandas Series or DataFrame ``x`` as a NumPy array.

    Columns of real numbers, pandas' nullable ones (Int64, Float64) included, come as float64
    with pd.NA as NaN: ``to_numpy()`` would give an object array for several nullable columns.
    Anything else (bools, strings, dates, complex) comes as ``x.to_numpy()``, for the caller's
    dtype check (:func:`check_real`) to refuse.
    """
    from pandas.api import types   # x is a pandas object, so pandas is imported already

    dtypes = [x.dtype] if x.ndim == 1 else list(x.dtypes)
    if dtypes and all(types.is_numeric_dtype(d) and not types.is_bool_dtype(d) and not types.is_complex_dtype(d)
                      for d in dtypes):
        return x.to_numpy(dtype=np.float64, na_value=np.nan)
    return x.to_numpy()


def check_real(a: np.ndarray, what: str, owner: str) -> None:
    """Refuse an array ``a`` whose values are not real numbers (ints or floats), saying how to
    convert them; ``what`` names it in the message ("'y'", "sequence 0 of X")."""
    if a.dtype.kind == "c":
        raise TypeError(f"Complex data not supported: {owner} expected real numbers in {what}, got dtype {a.dtype}. "
                        "Give the real and imaginary parts as two channels, np.stack([x.real, x.imag], axis=-1).")
    if a.dtype.kind not in "iuf":
        raise TypeError(f"{owner} expected {what} to hold real numbers (ints or floats), got dtype {a.dtype}. "
                        "Convert it with np.asarray(values, dtype=float) if the values are meant as numbers.")


def as_float_series(x: Any, name: str, owner: str, ndim: tuple[int, ...] = (1, 2),
                    allow_nan: bool = False, shapes: str | None = None) -> np.ndarray:
    """Return ``x`` as a float64 array with one of the allowed numbers of dimensions.

    Args:
        x: array-like, pandas Series (T,) or DataFrame (T, C).
        name: the argument's name, for messages.
        owner: the function or class, for messages.
        ndim: allowed values of ``x.ndim``.
        allow_nan: if False, NaN or infinite values raise ``ValueError``.
        shapes: the allowed shapes for the message (default from ``ndim``: "(T,) or (T, C)").
    """
    if hasattr(x, "detach") and hasattr(x, "numpy"):
        raise TypeError(
            f"{owner} expected '{name}' to be a NumPy array, got a {type(x).__name__}. "
            "Convert it with .detach().cpu().numpy() first."
        )
    if is_pandas(x):
        x = pandas_values(x)
    try:
        arr = np.asarray(x)
    except (ValueError, TypeError) as exc:
        raise TypeError(
            f"{owner} expected '{name}' to be an array of numbers, got {type(x).__name__}: {exc}"
        ) from None
    check_real(arr, f"'{name}'", owner)
    if arr.ndim not in ndim:
        shapes = shapes or " or ".join({1: "(T,)", 2: "(T, C)", 3: "(N, T, C)"}.get(d, f"{d}-D") for d in ndim)
        raise ValueError(f"{owner} expected '{name}' of shape {shapes}, got shape {arr.shape}.")
    arr = arr.astype(np.float64, copy=False)
    if not allow_nan and not np.all(np.isfinite(arr)):
        bad = np.argwhere(~np.isfinite(arr))
        raise ValueError(
            f"{owner} expected '{name}' without NaN or infinite values, got {len(bad)} of them "
            f"(first at index {tuple(int(i) for i in bad[0])}). Fill the gaps first, e.g. with "
            "rnnkit.data.fill_missing(values, method='interpolate')."
        )
    return arr
