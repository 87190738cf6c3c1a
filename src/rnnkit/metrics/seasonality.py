"""Guessing the seasonal period m of a series from its autocorrelation.

The series is made stationary in two ways and the sample autocorrelation ``r[k]`` of each is
computed (averaged over channels):

- with a least-squares line removed (a deterministic trend): a season of length k shows as a
  local peak of r at lag k standing above the trough half a season before it; its strength
  is ``(r[k] - min(r[k//2 .. k-1])) / 2`` (1 for a pure sine);
- with first differences (a wandering level): the strength of a local peak is ``r[k]``.

Peaks at lags 2 .. ``max_period`` with ``r[k] > 0`` and strength at least
``max(min_strength, 4 / sqrt(T))`` count (random peaks of white noise rarely reach
``4 / sqrt(T)``). The strongest wins, except that a shorter strong peak (at least 0.6 times as
strong) of which it is a multiple is preferred, so harmonics (24, 36 for a yearly cycle in
monthly data) are not chosen. Without any peak the answer is 1: no season, so MASE and the
seasonal-naive baseline use the plain naive forecast.

Monthly data with a yearly cycle gives 12 (the shipped CO2 and El Nino series do), daily data
with a weekly cycle 7, hourly data with a daily cycle 24. Noisy or short series may give 1 or a
neighbouring lag (11, 13): pass m explicitly when you know it.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .._checks import check_positive_int
from ..data._arrays import as_float_series


def autocorrelation(x: np.ndarray, max_lag: int) -> np.ndarray:
    """Sample autocorrelation r[0..max_lag] of a 1-D series, r[0] = 1.

    The usual (biased) estimator: every lag is divided by the same sum of squares, which damps
    the noisy long lags.
    """
    x = x - x.mean()
    denom = float(np.dot(x, x))
    if denom == 0.0:
        return np.zeros(max_lag + 1)
    n = len(x)
    size = 1 << (2 * n - 1).bit_length()
    f = np.fft.rfft(x, size)
    acf = np.fft.irfft(f * np.conj(f), size)[: max_lag + 1]
    return acf / denom


def _peaks(r: np.ndarray, prominence: bool) -> dict[int, float]:
    """Local peaks of r at lags k >= 2 with r[k] > 0 -> their strength."""
    out = {}
    for k in range(2, len(r) - 1):
        if r[k] > r[k - 1] and r[k] >= r[k + 1] and r[k] > 0:
            out[k] = (r[k] - r[k // 2: k].min()) / 2 if prominence else r[k]
    return out


def _season(peaks: dict[int, float], threshold: float) -> int:
    """The strongest peak, or the shortest strong peak of which it is a multiple (a harmonic)."""
    strong = {k: s for k, s in peaks.items() if s >= threshold}
    if not strong:
        return 1
    best = max(strong, key=lambda k: (strong[k], -k))
    for d in sorted(strong):
        if d < best and strong[d] >= 0.6 * strong[best] and min(best % d, d - best % d) <= 1 + best // 24:
            return d
    return best


def detrend(y: np.ndarray) -> np.ndarray:
    """y (T, C) minus its least-squares line per channel (a trend would mask every season)."""
    t = np.arange(len(y), dtype=np.float64)
    design = np.stack([np.ones_like(t), t - t.mean()], axis=1)
    coef, *_ = np.linalg.lstsq(design, y, rcond=None)
    return y - design @ coef


def guess_seasonal_period(y: Any, max_period: int | None = None, min_strength: float = 0.2) -> int:
    """Guess the seasonal period of a series; 1 when there is no clear season.

    Args:
        y: (T,) or (T, C) series without NaN (for C > 1 the autocorrelations of the channels
            are averaged).
        max_period: largest period considered; default T // 3 (three full seasons needed).
        min_strength: the smallest peak strength that counts (see the module docstring).

    Returns:
        m >= 1.
    """
    arr = as_float_series(y, "y", "guess_seasonal_period")
    if arr.size == 0:
        raise ValueError(f"Expected a series with at least one value in guess_seasonal_period, got shape {arr.shape}.")
    arr = arr.reshape(len(arr), -1)
    n = len(arr)
    limit = n // 3 if max_period is None else check_positive_int(max_period, "max_period", "guess_seasonal_period")
    limit = min(limit, n // 2 - 1)
    if limit < 2:
        return 1
    detrended = detrend(arr)
    differenced = np.diff(arr, axis=0)
    threshold = max(float(min_strength), 4.0 / np.sqrt(n))
    peaks: dict[int, float] = {}
    for z, prominence in ((detrended, True), (differenced, False)):
        r = np.mean([autocorrelation(z[:, c], limit + 1) for c in range(z.shape[1])], axis=0)
        for k, s in _peaks(r, prominence).items():
            peaks[k] = max(s, peaks.get(k, -np.inf))
    return _season(peaks, threshold)
