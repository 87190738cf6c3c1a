"""The seasonal-naive forecast: the baseline every forecast is reported beside.

Each future step repeats the value one season earlier from the last observed season. With
0-based positions (y[0] .. y[T - 1] observed, y_hat[T] the first forecast)::

    y_hat[T + h] = y[T - m + h % m]      for h = 0..H-1

With m = 1 this is the naive (random walk) forecast: the last value y[T - 1], repeated.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .._checks import check_positive_int
from ._inputs import train_series


def seasonal_naive_index(origin: Any, steps: Any, m: int) -> np.ndarray:
    """Positions of the seasonal-naive forecasts made at ``origin``, the first unseen step T::

        index = T - m + (h - 1) % m          for steps h - 1 = ``steps`` (0, 1, ... ahead)

    ``origin`` and ``steps`` broadcast: origins (N, 1) and steps (H,) give (N, H) positions.
    The one place this formula lives (the baseline, the Forecaster's anchor and the season
    search all index with it).
    """
    return np.asarray(origin) - m + np.asarray(steps) % m


def seasonal_naive(y_train: Any, horizon: int, m: int = 1) -> np.ndarray:
    """Forecast ``horizon`` steps by repeating the last season of ``y_train``.

    Args:
        y_train: (T,) or (T, C) observed series, T >= m (at least one season).
        horizon: H >= 1 steps to forecast.
        m: seasonal period (12 for monthly data with a yearly cycle; 1 = naive).

    Returns:
        (H,) or (H, C) float64 forecasts.
    """
    horizon = check_positive_int(horizon, "horizon", "seasonal_naive")
    y, m = train_series(y_train, m, "seasonal_naive", longer=False)
    return y[seasonal_naive_index(len(y), np.arange(horizon), m)].copy()
