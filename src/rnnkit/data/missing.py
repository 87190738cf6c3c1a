"""Filling missing values (NaN) in a series, along time (axis 0), one column at a time.

Methods:

- ``"ffill"``: carry the last observed value forward. Values missing at the start, before any
  observation, take the first observed value (a backward fill), so the result has no NaN.
- ``"interpolate"``: linear interpolation between the observed neighbours, by position
  (equal to interpolation in time once the series is on a regular time grid, which the CSV
  readers ensure). Values missing at either end take the nearest observed value.

A column with no observed value at all cannot be filled and raises ``ValueError``; the file
readers refuse it first with :func:`refuse_empty`, a :class:`~rnnkit.data.DataFileError` naming
the file and the column.
"""

from __future__ import annotations

import numbers
from collections.abc import Sequence
from typing import Any

import numpy as np

from ._arrays import as_float_series
from .errors import DataFileError

FILL_METHODS = ("ffill", "interpolate")


def check_fill(fill: str | None, owner: str) -> str | None:
    """Return ``fill`` if it is None or one of :data:`FILL_METHODS`."""
    if fill is not None and fill not in FILL_METHODS:
        raise ValueError(
            f"The 'fill' parameter of {owner} must be None (refuse missing values), 'ffill' or "
            f"'interpolate'. Got {fill!r} instead."
        )
    return fill


def refuse_empty(values: np.ndarray, fill: str, source: str, columns: Sequence[str], fix: str,
                 what: str = "no value in this column (every cell is empty or NA)", **where: Any) -> None:
    """Raise DataFileError for the first column of ``values`` with no observed value, which
    ``fill`` has nothing to fill from.

    Args:
        values: (T, C) floats, NaN where a value is missing.
        fill: the fill method asked for (named in the message).
        source: the file (or "<DataFrame>") for the message.
        columns: the C column names (or "dimension 0", ...).
        fix: how to fix it, the message's last sentence.
        what: what is missing (the message's first words).
        **where: ``line=`` or ``row=`` of the rows at fault, when there are some.
    """
    empty = np.flatnonzero(np.isnan(values).all(axis=0)) if len(values) else np.arange(0)
    if empty.size:
        raise DataFileError(source, f"{what}, so fill={fill!r} has nothing to fill it from. {fix}",
                            column=columns[int(empty[0])], **where)


def _fill_column(col: np.ndarray, method: str) -> np.ndarray:
    ok = ~np.isnan(col)
    if ok.all():
        return col
    pos = np.arange(len(col))
    if method == "interpolate":
        return np.interp(pos, pos[ok], col[ok])
    last = np.where(ok, pos, -1)
    np.maximum.accumulate(last, out=last)
    first_obs = int(np.argmax(ok))
    last[last < 0] = first_obs
    return col[last]


def _none_as_nan(values: Any) -> Any:
    """A list (or object array) of numbers and None as float64 with NaN for None; else ``values``."""
    if isinstance(values, (list, tuple)) or (isinstance(values, np.ndarray) and values.dtype == object):
        try:
            arr = np.asarray(values, dtype=object)
        except ValueError:  # ragged: refused by the caller's conversion
            return values
        number = (lambda v: v is None or (isinstance(v, numbers.Real) and not isinstance(v, (bool, np.bool_))))
        if arr.dtype == object and all(number(v) for v in arr.flat):
            return arr.astype(np.float64)
    return values


def fill_missing(values: Any, method: str = "interpolate", names: list[str] | None = None) -> np.ndarray:
    """Return a copy of ``values`` with every NaN filled along axis 0.

    Args:
        values: (T,) or (T, C) real numbers (ints or floats; a list or a pandas object too)
            with NaN (or None in a list) where a value is missing. Infinite values are refused: they are not missing,
            and interpolating next to one would give inf (or NaN) in the result.
        method: "ffill" or "interpolate" (see the module docstring).
        names: optional column names, used in the error message.

    Returns:
        (T,) or (T, C) float64 array without NaN.
    """
    if method not in FILL_METHODS:
        raise ValueError(
            f"The 'method' parameter of fill_missing must be 'ffill' or 'interpolate'. Got {method!r} instead."
        )
    arr = np.array(as_float_series(_none_as_nan(values), "values", "fill_missing", allow_nan=True))  # a copy
    if len(arr) == 0:
        raise ValueError(f"fill_missing expected at least one time step, got an empty array of shape {arr.shape}.")
    if np.isinf(arr).any():
        at = tuple(int(i) for i in np.argwhere(np.isinf(arr))[0])
        raise ValueError(
            f"fill_missing fills NaN (missing values), but 'values' holds an infinite value at index "
            f"{at if len(at) > 1 else at[0]}, which it would spread into its neighbours. Replace it with "
            "np.nan first if it marks a missing value."
        )
    cols = arr.reshape(len(arr), -1)
    if names is not None and len(names) != cols.shape[1]:
        raise ValueError(f"fill_missing expected one name per column ({cols.shape[1]}), got {len(names)} names.")
    for c in range(cols.shape[1]):
        if len(cols) and np.isnan(cols[:, c]).all():
            label = f"'{names[c]}'" if names else str(c)
            raise ValueError(
                f"Column {label} has no observed value, so it cannot be filled. Drop the column."
            )
        cols[:, c] = _fill_column(cols[:, c], method)
    return cols.reshape(arr.shape)
