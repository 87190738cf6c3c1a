"""Validation shared by the metrics: matching shapes, finite values, the seasonal period."""

from __future__ import annotations

from typing import Any

import numpy as np

from .._checks import check_positive_int
from ..data._arrays import as_float_series


def pair(y_true: Any, y_pred: Any, owner: str) -> tuple[np.ndarray, np.ndarray]:
    """``y_true`` and ``y_pred`` as float64 arrays of the same shape (no broadcasting)."""
    yt = as_float_series(y_true, "y_true", owner, ndim=(1, 2, 3))
    yp = as_float_series(y_pred, "y_pred", owner, ndim=(1, 2, 3))
    if yt.shape != yp.shape:
        raise ValueError(
            f"{owner} expected y_true and y_pred of the same shape, got {yt.shape} and {yp.shape}. "
            "Reshape one of them (e.g. y_pred.reshape(y_true.shape)) if they hold the same values."
        )
    if yt.size == 0:
        raise ValueError(f"{owner} expected at least one value, got empty arrays of shape {yt.shape}.")
    return yt, yp


def train_series(y_train: Any, m: Any, owner: str, longer: bool = True) -> tuple[np.ndarray, int]:
    """The training series (T,) or (T, C) and the seasonal period m, with T > m (``longer``:
    MASE's scale needs a difference at lag m), or T >= m (a forecast needs one season)."""
    m = check_positive_int(m, "m", owner)
    y = as_float_series(y_train, "y_train", owner, ndim=(1, 2))
    if len(y) < m + longer:
        need = "longer than" if longer else "at least as long as"
        raise ValueError(
            f"{owner} needs a training series {need} the seasonal period m = {m}, got "
            f"{len(y)} steps. Use a smaller m (m=1 is the naive forecast) or more training data."
        )
    return y, m
