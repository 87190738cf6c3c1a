"""Guessing the seasonal period m of a series (or of several series sharing one).

The search has two steps. First, autocorrelation proposes a period. The series is made
stationary in two ways and the sample autocorrelation ``r[k]`` of each is computed (averaged
over channels):

- with a least-squares line removed (a deterministic trend): a season of length k shows as a
  local peak of r at lag k standing above the trough half a season before it; its strength
  is ``(r[k] - min(r[k//2 .. k-1])) / 2`` (1 for a pure sine);
- with first differences (a wandering level): the strength of a local peak is ``r[k]``.

Peaks at lags 2 .. ``max_period`` with ``r[k] > 0`` and strength at least
``max(min_strength, 4 / sqrt(T))`` count (random peaks of white noise rarely reach
``4 / sqrt(T)``). The strongest wins, except that a shorter strong peak (at least 0.6 times as
strong) of which it is a multiple is preferred, so harmonics (24, 36 for a yearly cycle in
monthly data) are not chosen. Without any peak the answer is 1: no season, so MASE and the
seasonal-naive baseline use the plain naive forecast. With several series, each proposes a
period and the most common proposal (the shortest among ties) goes on.

Second, the proposal g is checked by forecasting. A season of length m is worth using when
repeating the last season forecasts the next one better than repeating the last value. For
the steps h of one season ahead (at most 12 of them, evenly spaced)::

    R(m) = sum |y[t + h] - y[t - m + h]|  /  sum |y[t + h] - y[t - 1]|      over origins t

(over channels and up to 50 series, the last max(2000, 3 M) steps of each, with the
least-squares line of each removed so that a trend does not favour short periods; M is the
largest period considered: ``max_period``, and 400 for the Forecaster). The candidates are g - 1, g, g + 1 and, when
R(g) > 0.5 (a weak season may be a harmonic of the true one), those of 2g, 3g, 4g whose R is
at least 30 % lower than R(g), up to M. g is kept unless another candidate has an R at least
5 % lower, and the result must have R < 0.9 (a season must clearly beat the last value;
otherwise m = 1). This repairs what autocorrelation alone gets wrong (a 3-month harmonic of
a yearly cycle in monthly data gives 12, not 3; a neighbouring lag that forecasts clearly
better replaces g) without drifting to multiples of the true period: in noisy series R(2g)
.. R(4g) come out up to about 15 % below R(g) by chance alone, while the true season of a
harmonic g roughly halves it.

Monthly data with a yearly cycle gives 12 (the shipped CO2 and El Nino series do), daily data
with a weekly cycle 7, hourly data with a daily cycle 24. Noisy or short series may give 1 or a
neighbouring lag (11, 13): pass m explicitly when you know it.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Any

import numpy as np

from .._checks import check_finite_float, check_positive_int
from ..data._arrays import as_float_series
from .baselines import seasonal_naive_index

#: the check's budget: this many series, the last (at least) this many steps of each
MAX_SERIES, MAX_STEPS = 50, 2000
_MAX_H = 12                       # steps h per season in R(m)
_MARGIN, _TOLERANCE = 0.9, 1.05   # R(m) < 0.9 to keep a season; 5 % lower to leave g
_GOOD, _HARMONIC = 0.5, 0.7       # multiples of g tried above R(g) = 0.5, kept when 30 % lower


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


def _largest_period(n: int, max_period: int | None) -> int:
    """The largest period considered for a series of n steps: ``max_period`` (default n // 3,
    three full seasons), and below n / 2 in any case."""
    return min(n // 3 if max_period is None else max_period, n // 2 - 1)


def _autocorrelation_guess(y: np.ndarray, max_period: int | None, min_strength: float) -> int:
    """Step one of the module docstring: the period proposed by y (T, C); 1 for none."""
    n = len(y)
    limit = _largest_period(n, max_period)
    if limit < 2:
        return 1
    detrended = detrend(y)
    differenced = np.diff(y, axis=0)
    threshold = max(float(min_strength), 4.0 / np.sqrt(n))
    peaks: dict[int, float] = {}
    for z, prominence in ((detrended, True), (differenced, False)):
        r = np.mean([autocorrelation(z[:, c], limit + 1) for c in range(z.shape[1])], axis=0)
        for k, s in _peaks(r, prominence).items():
            peaks[k] = max(s, peaks.get(k, -np.inf))
    return _season(peaks, threshold)


def seasonal_errors(y: np.ndarray, m: int, hs: np.ndarray) -> tuple[float, float]:
    """(sum |seasonal-naive error|, sum |last-value error|) of series y (T, C) at steps ``hs``
    (H,) ahead (0 = the next step), over every origin t in [m, T - hs[-1])."""
    t = np.arange(m, len(y) - hs[-1])
    truth = y[t[:, None] + hs]                                         # (n_t, H, C)
    seasonal = y[seasonal_naive_index(t[:, None], hs, m)]
    return float(np.abs(truth - seasonal).sum()), float(np.abs(truth - y[t - 1][:, None]).sum())


def season_ratio(ys: Sequence[np.ndarray], m: int) -> float:
    """R(m) of the module docstring over the series ``ys`` (T_i, C) (inf when it cannot be
    measured: no series holds two seasons)."""
    hs = np.unique(np.linspace(0, m - 1, min(m, _MAX_H)).round().astype(int))
    seasonal = naive = 0.0
    for y in ys:
        if len(y) - hs[-1] - m < 1:
            continue
        s, n = seasonal_errors(y, m, hs)
        seasonal, naive = seasonal + s, naive + n
    return seasonal / naive if naive > 0 else np.inf


def find_seasonal_period(series: Sequence[np.ndarray], max_period: int | None = None, min_strength: float = 0.2,
                         cap: int | None = None) -> int:
    """The seasonal period shared by series (T_i, C), by the search of the module docstring; 1
    for none. What :func:`guess_seasonal_period` and the Forecaster both use.

    Args:
        series: float arrays (T_i, C), without NaN; the first 50 are used.
        max_period: largest period considered; default T_i // 3 for each series.
        min_strength: the smallest autocorrelation peak strength that counts.
        cap: a further bound on the period the check returns (the Forecaster's: a season
            longer than the lookback it can afford), applied after the autocorrelation step.
    """
    series = list(series[:MAX_SERIES])
    guesses = Counter(_autocorrelation_guess(y, max_period, min_strength) for y in series)
    guess = min(guesses, key=lambda m: (-guesses[m], m))
    if guess <= 1:
        return 1
    M = min(_largest_period(len(y), max_period) for y in series)
    if cap is not None:
        M = min(M, cap)
    ys = [detrend(y[-max(MAX_STEPS, 3 * M):]) for y in series]
    ratios = {m: season_ratio(ys, m) for m in (guess - 1, guess, guess + 1) if 2 <= m <= M}
    if ratios.get(guess, 0.0) > _GOOD:       # a weak season: perhaps a harmonic of the true one
        for m in (2 * guess, 3 * guess, 4 * guess):
            r = season_ratio(ys, m) if m <= M else np.inf
            if r <= _HARMONIC * ratios[guess]:   # the true season forecasts far better, not by chance
                ratios[m] = r
    if not ratios:
        return 1
    best = min(ratios, key=lambda m: (ratios[m], m))
    pick = guess if guess in ratios and ratios[guess] <= _TOLERANCE * ratios[best] else best
    return pick if ratios[pick] < _MARGIN else 1


def guess_seasonal_period(y: Any, max_period: int | None = None, min_strength: float = 0.2) -> int:
    """Guess the seasonal period of a series; 1 when there is no clear season.

    Args:
        y: (T,) or (T, C) series without NaN (for C > 1 the autocorrelations of the channels
            are averaged, and the forecast errors of the check summed).
        max_period: largest period considered; default T // 3 (three full seasons needed).
        min_strength: the smallest peak strength that counts, a finite float >= 0 (see the
            module docstring).

    Returns:
        m >= 1: the autocorrelation guess, checked and corrected by how well each candidate
        season forecasts the series (:func:`find_seasonal_period` on this one series).
    """
    arr = as_float_series(y, "y", "guess_seasonal_period")
    if arr.size == 0:
        raise ValueError(f"Expected a series with at least one value in guess_seasonal_period, got shape {arr.shape}.")
    if max_period is not None:
        max_period = check_positive_int(max_period, "max_period", "guess_seasonal_period")
    # NaN too: it would silently answer 1 for every series
    min_strength = check_finite_float(min_strength, "min_strength", "guess_seasonal_period",
                                      hint="(0.2 by default; a pure sine has strength 1)")
    return find_seasonal_period([arr.reshape(len(arr), -1)], max_period, min_strength)
