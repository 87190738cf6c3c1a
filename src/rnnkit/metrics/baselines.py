"""The seasonal-naive forecast: the baseline every forecast is reported beside.

Each future step repeats the value one season earlier from the last observed season::

    y_hat[T + h] = y[T - m + (h - 1) % m]      for h = 1..H

With m = 1 this is the naive (random walk) forecast: the last value, repeated.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .._checks import check_positive_int
from ._inputs import train_series


def seasonal_naive(y_train: Any, horizon: int, m: int = 1) -> np.ndarray:
    """Forecast ``horizon`` steps by repeating the last season of ``y_train``.

    Args:
        y_train: (T,) or (T, C) observed series, T > m.
        horizon: H >= 1 steps to forecast.
        m: seasonal period (12 for monthly data with a yearly cycle; 1 = naive).

    Returns:
        (H,) or (H, C) float64 forecasts.
    """
    horizon = check_positive_int(horizon, "horizon", "seasonal_naive")
    y, m = train_series(y_train, m, "seasonal_naive")
    idx = len(y) - m + np.arange(horizon) % m
    return y[idx].copy()
