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

from collections.abc import Sequence
from typing import Any

import numpy as np

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


def fill_missing(values: np.ndarray, method: str = "interpolate", names: list[str] | None = None) -> np.ndarray:
    """Return a copy of ``values`` with every NaN filled along axis 0.

    Args:
        values: (T,) or (T, C) floats with NaN where a value is missing.
        method: "ffill" or "interpolate" (see the module docstring).
        names: optional column names, used in the error message.

    Returns:
        (T,) or (T, C) float64 array without NaN.
    """
    if method not in FILL_METHODS:
        raise ValueError(
            f"The 'method' parameter of fill_missing must be 'ffill' or 'interpolate'. Got {method!r} instead."
        )
    arr = np.array(values, dtype=np.float64)
    if arr.ndim not in (1, 2):
        raise ValueError(f"fill_missing expected values of shape (T,) or (T, C), got shape {arr.shape}.")
    if len(arr) == 0:
        raise ValueError(f"fill_missing expected at least one time step, got an empty array of shape {arr.shape}.")
    cols = arr.reshape(len(arr), -1)
    for c in range(cols.shape[1]):
        if len(cols) and np.isnan(cols[:, c]).all():
            label = f"'{names[c]}'" if names else str(c)
            raise ValueError(
                f"Column {label} has no observed value, so it cannot be filled. Drop the column."
            )
        cols[:, c] = _fill_column(cols[:, c], method)
    return cols.reshape(arr.shape)
