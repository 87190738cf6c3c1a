"""Choosing the seasonal period m of the Forecaster from its training series.

A season of length m is worth using when repeating the last season forecasts the next one
better than repeating the last value. For a candidate m and the steps h of one season ahead
(at most 12 of them, evenly spaced)::

    R(m) = sum |y[t + h] - y[t - m + h]|  /  sum |y[t + h] - y[t - 1]|      over origins t

(over channels and up to 50 series, the last 2,000 steps of each, with the least-squares line
of each removed so that a trend does not favour short periods). The candidates come from
the autocorrelation guess g (:func:`rnnkit.metrics.guess_seasonal_period`): g - 1, g, g + 1,
and also 2g, 3g, 4g when R(g) > 0.5 (a weak season may be a harmonic of the true one), as long
as three seasons fit in the series. g is kept unless another candidate has an R at least 5 %
lower, and the result must have R < 0.9 (a season must clearly beat the last
value; otherwise m = 1). This repairs the guesses that autocorrelation gets wrong (a 3-month
harmonic of a yearly cycle in monthly data, 47 instead of 48 half-hours) without drifting to
multiples of the true period.

The anchor of an H-step forecast (see :mod:`.windows`) uses m only if the seasonal-naive
forecast also beats the last value over h = 1..H in the training data (:func:`anchor_period`).
"""

from __future__ import annotations

import numpy as np

from ..metrics.seasonality import detrend

_MAX_PERIOD, _MAX_STEPS, _MAX_SERIES, _MAX_H = 400, 2000, 50, 12
_MARGIN, _TOLERANCE, _GOOD = 0.9, 1.05, 0.5


def _errors(y: np.ndarray, m: int, hs: np.ndarray) -> tuple[float, float]:
    """(sum |seasonal-naive error|, sum |last-value error|) of series y (T, C) at steps ``hs``."""
    t = np.arange(m, len(y) - hs[-1])
    truth = y[t[:, None] + hs]
    return float(np.abs(truth - y[t[:, None] - m + hs % m]).sum()), float(np.abs(truth - y[t - 1][:, None]).sum())


def season_ratio(ys: list[np.ndarray], m: int) -> float:
    """R(m) of the module docstring over the series ``ys`` (inf when it cannot be measured)."""
    hs = np.unique(np.linspace(0, m - 1, min(m, _MAX_H)).round().astype(int))
    seasonal = naive = 0.0
    for y in ys:
        if len(y) - hs[-1] - m < 1:
            continue
        s, n = _errors(y, m, hs)
        seasonal, naive = seasonal + s, naive + n
    return seasonal / naive if naive > 0 else np.inf


def choose_period(series: list[np.ndarray], guess: int) -> int:
    """The seasonal period of these training series (T_i, C) (module docstring); 1 for none.

    Args:
        series: the training series.
        guess: the period suggested by autocorrelation
            (:func:`rnnkit.metrics.guess_seasonal_period`).
    """
    if guess <= 1:
        return 1
    ys = [detrend(y[-_MAX_STEPS:]) for y in series[:_MAX_SERIES]]
    M = min([_MAX_PERIOD] + [len(y) // 3 for y in ys])
    candidates = {guess - 1, guess, guess + 1}
    if season_ratio(ys, guess) > _GOOD:           # a weak season: perhaps a harmonic of the true one
        candidates |= {2 * guess, 3 * guess, 4 * guess}
    ratios = {m: season_ratio(ys, m) for m in sorted(candidates) if 2 <= m <= M}
    if not ratios:
        return 1
    best = min(ratios, key=lambda m: (ratios[m], m))
    pick = guess if guess in ratios and ratios[guess] <= _TOLERANCE * ratios[best] else best
    return pick if ratios[pick] < _MARGIN else 1


def anchor_period(series: list[np.ndarray], m: int, H: int) -> int:
    """m if the seasonal-naive forecast beats the last value over h = 1..H in the training
    series, else 1."""
    if m == 1:
        return 1
    hs = np.arange(H)
    seasonal = naive = 0.0
    for y in series[:_MAX_SERIES]:
        y = y[-_MAX_STEPS:]
        if len(y) - H - m < 1:
            continue
        s, n = _errors(y, m, hs)
        seasonal, naive = seasonal + s, naive + n
    return m if seasonal < naive else 1
