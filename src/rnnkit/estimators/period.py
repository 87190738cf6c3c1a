"""The seasonal periods of the Forecaster: the season m of its training series and the period
of its seasonal-naive anchor.

m comes from the one seasonal-period search of :mod:`rnnkit.metrics.seasonality` (the
autocorrelation guess of each series, checked and corrected by how well each candidate season
forecasts the detrended training series against the last value; 1 when no season clearly
helps), here over all the training series at once and at most :data:`MAX_PERIOD` steps long.

The anchor of an H-step forecast (see :mod:`.windows`) uses m only if the seasonal-naive
forecast also beats the last value over h = 1..H in the training data (:func:`anchor_period`).
"""

from __future__ import annotations

import numpy as np

from ..metrics.seasonality import MAX_SERIES, MAX_STEPS, find_seasonal_period, seasonal_errors

#: the longest season the Forecaster uses (its lookback is two seasons)
MAX_PERIOD = 400


def choose_period(series: list[np.ndarray]) -> int:
    """The seasonal period m of the training series (T_i, C), at most MAX_PERIOD; 1 for none."""
    return find_seasonal_period(series, cap=MAX_PERIOD)


def anchor_period(series: list[np.ndarray], m: int, H: int) -> int:
    """m if the seasonal-naive forecast beats the last value over h = 1..H in the training
    series (T_i, C) (the first 50, their last 2,000 steps), else 1."""
    if m == 1:
        return 1
    hs = np.arange(H)
    seasonal = naive = 0.0
    for y in series[:MAX_SERIES]:
        y = y[-MAX_STEPS:]
        if len(y) - H - m < 1:
            continue
        s, n = seasonal_errors(y, m, hs)
        seasonal, naive = seasonal + s, naive + n
    return m if seasonal < naive else 1
