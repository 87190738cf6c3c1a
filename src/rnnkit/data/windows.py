"""Sliding windows over a series: the supervised (X, y) pairs a forecaster trains on.

Like ``keras.utils.timeseries_dataset_from_array`` with the targets taken from the series
itself. Window ``i`` starts at ``s = i * stride``::

    X[i] = series[s : s + lookback]                        # (lookback, C)
    y[i] = series[s + lookback : s + lookback + horizon]   # (horizon,) or (horizon, C)

so ``N = (T - lookback - horizon) // stride + 1`` windows, in time order (the last window ends
within ``stride - 1`` steps of the end of the series).
"""

from __future__ import annotations

import numbers
from collections.abc import Sequence
from typing import Any

import numpy as np

from .._checks import check_positive_int
from ._arrays import as_float_series


def _target_columns(target: Any, c: int) -> int | list[int] | None:
    if target is None:
        return None
    scalar = isinstance(target, numbers.Integral)
    iterable = not scalar and not isinstance(target, (str, bytes)) and hasattr(target, "__iter__")
    items = [target] if scalar else list(target) if iterable else [None]
    for t in items or [None]:
        if isinstance(t, (bool, np.bool_)) or not isinstance(t, numbers.Integral) or not -c <= t < c:
            raise ValueError(
                f"The 'target' parameter of sliding_windows must be a column index in [0, {c}) or a "
                f"non-empty list of them (the series has C = {c} columns). Got {target!r} instead."
            )
    return int(target) if scalar else [int(t) for t in items]


def _non_empty(arr: np.ndarray, owner: str) -> np.ndarray:
    if len(arr) == 0:
        raise ValueError(
            f"{owner} expected a series with at least one time step, got an empty array of shape "
            f"{arr.shape}. Check that the series was loaded or sliced as intended."
        )
    return arr


def _with_channels(arr: np.ndarray, owner: str) -> np.ndarray:
    """``arr`` as (T, C); a (T, 0) series, with no channel, is refused."""
    if arr.ndim == 2 and arr.shape[1] == 0:
        raise ValueError(
            f"{owner} expected a series with at least one channel, got shape {arr.shape} (no columns). "
            "Check which columns were selected."
        )
    return arr.reshape(len(arr), -1)


def sliding_windows(series: Any, lookback: int, horizon: int = 1, stride: int = 1,
                    target: int | Sequence[int] | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Cut a series into input windows and the values that follow them.

    Args:
        series: (T,) or (T, C) numbers (NumPy array, list, pandas Series or DataFrame), in time
            order, without NaN.
        lookback: L >= 1, time steps in each input window.
        horizon: H >= 1, time steps to predict after each window.
        stride: >= 1, steps between the starts of consecutive windows.
        target: for a (T, C) series, the column (int) or columns (list) to predict; None
            predicts every column.

    Returns:
        X: (N, L, C) float64 (C = 1 for a 1-D series).
        y: (N, H) for a 1-D series or an int ``target``; (N, H, C) (or (N, H, len(target)))
        otherwise.

    Raises:
        ValueError: the series is shorter than ``lookback + horizon``, holds NaN, or the
            arguments are not positive ints.
    """
    owner = "sliding_windows"
    lookback = check_positive_int(lookback, "lookback", owner)
    horizon = check_positive_int(horizon, "horizon", owner)
    stride = check_positive_int(stride, "stride", owner)
    arr = _non_empty(as_float_series(series, "series", owner), owner)
    univariate = arr.ndim == 1
    arr2 = _with_channels(arr, owner)
    t, c = arr2.shape
    if t < lookback + horizon:
        raise ValueError(
            f"The series has {t} time steps, fewer than lookback + horizon = {lookback} + {horizon} "
            f"= {lookback + horizon}, so no window fits. Use a shorter lookback or horizon, or a "
            "longer series."
        )
    cols = _target_columns(target, c)
    n = (t - lookback - horizon) // stride + 1
    starts = np.arange(n) * stride
    X = arr2[starts[:, None] + np.arange(lookback)]
    y = arr2[starts[:, None] + lookback + np.arange(horizon)]
    if univariate:
        return X, y[:, :, 0]
    if cols is not None:
        y = y[:, :, cols]
    return X, y


def sliding_windows_multi(series_list: Sequence[Any], lookback: int, horizon: int = 1, stride: int = 1,
                          target: int | Sequence[int] | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Windows from several series, stacked: for a global model trained on many series.

    Every series must have the same number of columns C; each contributes its own windows (none
    crosses from one series to the next). A series shorter than ``lookback + horizon`` raises
    ``ValueError`` naming its index.

    Returns:
        X: (N, L, C); y as in :func:`sliding_windows`; series_index: (N,) int64, the position in
        ``series_list`` of the series each window comes from.
    """
    if isinstance(series_list, np.ndarray) or not isinstance(series_list, (list, tuple)) or not series_list:
        raise TypeError(
            "sliding_windows_multi expected 'series_list' to be a non-empty list of (T_i,) or "
            f"(T_i, C) arrays, got {type(series_list).__name__}. For one series use sliding_windows."
        )
    parts_x, parts_y, ids = [], [], []
    for i, s in enumerate(series_list):
        try:
            X, y = sliding_windows(s, lookback, horizon, stride, target)
        except ValueError as exc:
            raise ValueError(f"Series {i} of series_list: {exc}") from None
        if parts_x and X.shape[2] != parts_x[0].shape[2]:
            raise ValueError(
                f"Every series must have the same number of columns; series 0 has "
                f"{parts_x[0].shape[2]}, series {i} has {X.shape[2]}."
            )
        parts_x.append(X)
        parts_y.append(y)
        ids.append(np.full(len(X), i, dtype=np.int64))
    if len({y.ndim for y in parts_y}) > 1:
        raise ValueError("Mixing 1-D and 2-D series in series_list gives targets of different shapes; "
                         "reshape the 1-D ones with s.reshape(-1, 1).")
    return np.concatenate(parts_x), np.concatenate(parts_y), np.concatenate(ids)


def last_window(series: Any, lookback: int) -> np.ndarray:
    """The final ``lookback`` steps of a series as a batch of one: the input for a forecast.

    Args:
        series: (T,) or (T, C) numbers with T >= lookback.
        lookback: L >= 1.

    Returns:
        (1, L, C) float64.
    """
    lookback = check_positive_int(lookback, "lookback", "last_window")
    arr = _non_empty(as_float_series(series, "series", "last_window"), "last_window")
    arr2 = _with_channels(arr, "last_window")
    if len(arr2) < lookback:
        raise ValueError(
            f"The series has {len(arr2)} time steps, fewer than lookback = {lookback}. Use a shorter "
            "lookback or a longer series."
        )
    return arr2[len(arr2) - lookback:][None].copy()
