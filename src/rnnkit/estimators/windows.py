"""Forecasting windows, each normalised by itself: what the Forecaster's network sees.

For a history y (T, C) (C target channels), lookback L, horizon H and seasonal period m
(m <= L), per channel and per window w = y[t-L : t]::

    a_h   = w[L - m + (h - 1) % m]            h = 1..H: the seasonal-naive forecast (m = 1: w[L-1])
    s     = std(w) + floor                    floor = 0.1 * std(diff(y)) over the whole history
    x     = (w - w[L-1]) / s                  network input (L, C), plus covariates
    z_h   = (y[t+h-1] - a_h) / s              network target (H, C)
    y_hat = a + s * network(x)                the forecast

Why: subtracting the last value makes the input free of the level, so a trending series
(CO2) looks the same in every window and a model fitted on the past still applies to a future
at a higher level; dividing by the window's own spread does the same for a growing amplitude
(airline passengers). Forecasting the difference from the seasonal-naive forecast means an
untrained or early-stopped network (output 0) falls back to that baseline instead of to
nonsense. ``floor`` keeps s away from zero in flat windows; it comes from the history the
forecast is made from, so no statistic ever looks past the forecast origin.

Covariates X (T, F) are standardised with statistics fixed at fit, X~ = (X - mean) / scale, the
mean and std of all the training series' covariates together (``covariate_mean_``,
``covariate_scale_``), and appended to x as F more input channels (their past values only):
a forecast then does not depend on how much history is passed with it (a short history would
otherwise rescale the same covariate values differently). A model loaded from a file written
before these statistics were kept standardises X with the history passed, as it did then.

Known covariates k (T, K), whose values are known in advance (calendar effects, holidays,
planned prices), are standardised with statistics fixed at fit, k~ = (k - mean) / scale, the
mean and std of all the training series' known covariates together (``known_mean_``,
``known_scale_``): a holiday flag rare in a short history would otherwise be scaled anew at
every forecast, and a new series of a global model has no statistics of its own. They are read
over L + H steps: the window's L past steps and its H forecast steps, with a flag f telling
them apart::

    u_j = [x_j, X~[t-L+j], k~[t-L+j], 0]     j = 0 .. L-1          (the history)
    u_j = [0,   0,         k~[t-L+j], 1]     j = L .. L+H-1        (forecast step h = j - L + 1)

so the network reads u (L + H, C + F + K + 1) instead of (L, C + F): the target and X channels
are zeros at the forecast steps (unknown there), the known covariates are not. Its last step
still gives the H * C outputs z; anchors a, scales s and the forecast are as above.
"""

from __future__ import annotations

import numpy as np

from ..data.scalers import mean_and_scale
from ..data.windows import sliding_windows
from ..metrics.baselines import seasonal_naive_index


def anchor_index(L: int, H: int, m: int) -> np.ndarray:
    """(H,) positions in a window of length L of the seasonal-naive forecast a_1..a_H."""
    return seasonal_naive_index(L, np.arange(H), m)


def floor_scale(y: np.ndarray) -> np.ndarray:
    """(C,) 0.1 * std of the first differences of a history y (T, C); 0 becomes 1e-3 * (1 + |mean|)."""
    d = np.diff(y, axis=0)
    f = 0.1 * (d.std(axis=0) if len(d) else np.zeros(y.shape[1]))
    return np.where(f > 0, f, 1e-3 * (1.0 + np.abs(y.mean(axis=0))))


def scale_covariates(X: np.ndarray, stats: tuple[np.ndarray, np.ndarray] | None = None) -> np.ndarray:
    """Covariates X (T, F) standardised, (T, F): with ``stats`` = (mean (F,), scale (F,)) fixed at
    fit, or with None by the mean and std of this X (:func:`rnnkit.data.scalers.mean_and_scale`:
    a constant covariate becomes 0)."""
    mean, scale = mean_and_scale(X) if stats is None else stats
    return (X - mean) / scale


def with_known(x: np.ndarray, k: np.ndarray) -> np.ndarray:
    """Inputs x (N, L, C + F) and standardised known covariates k (N, L + H, K) of the same windows
    -> u (N, L + H, C + F + K + 1) of the module docstring: x then zeros over the H forecast steps,
    k, and the flag f (0 for the L history steps, 1 for the H forecast steps)."""
    N, L, _ = x.shape
    H = k.shape[1] - L
    past = np.concatenate([x, np.zeros((N, H, x.shape[2]))], axis=1)           # (N, L + H, C + F)
    flag = np.broadcast_to((np.arange(L + H) >= L)[None, :, None], (N, L + H, 1)).astype(np.float64)
    return np.concatenate([past, k, flag], axis=2)


def normalise(w: np.ndarray, floor: np.ndarray, H: int, m: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Windows w (N, L, C) -> (x (N, L, C), anchors a (N, H, C), scales s (N, 1, C))."""
    L = w.shape[1]
    s = w.std(axis=1, keepdims=True) + floor
    x = (w - w[:, L - 1:L]) / s
    return x, w[:, anchor_index(L, H, m)], s


def training_windows(y: np.ndarray, X: np.ndarray | None, L: int, H: int, m: int,
                     known: np.ndarray | None = None, covariate_stats: tuple | None = None
                     ) -> tuple[np.ndarray, np.ndarray]:
    """Every window of one training series y (T, C) with covariates X (T, F) or None and
    standardised known covariates known (T, K) or None: inputs (N, L, C + F), or
    (N, L + H, C + F + K + 1) with known (:func:`with_known`), and targets z (N, H, C). X is
    standardised by :func:`scale_covariates` with ``covariate_stats`` (the fit-time (mean,
    scale), each (F,); None: X's own).

    Window i covers y[i : i+L] and targets y[i+L : i+L+H] (:func:`rnnkit.data.sliding_windows`
    with stride 1), so N = T - L - H + 1 in time order; its known covariates are rows
    i .. i+L+H-1.
    """
    w, future = sliding_windows(y, L, H)                 # (N, L, C), (N, H, C)
    x, a, s = normalise(w, floor_scale(y), H, m)
    z = (future - a) / s
    if X is not None:
        x = np.concatenate([x, sliding_windows(scale_covariates(X, covariate_stats), L, H)[0]], axis=2)
    if known is not None:
        past, ahead = sliding_windows(known, L, H)                                # (N, L, K), (N, H, K)
        x = with_known(x, np.concatenate([past, ahead.reshape(len(ahead), H, -1)], axis=1))
    return x, z


def choose_lookback(shortest: int, horizon: int, m: int) -> tuple[int, int]:
    """Default lookback L and usable seasonal period for series of at least ``shortest`` steps.

    L = max(2 m, 8): two seasons show the pattern and its change. It is capped so that at
    least two thirds of the shortest series provide training windows (L <= (T - H) / 3), but
    kept at m when a season still leaves 10 windows; below that the seasonal anchor is dropped
    (returned m = 1). Returns (L, m).
    """
    cap = (shortest - horizon) // 3
    L = min(max(2 * m, 8), cap)
    if m > 1 and L < m:
        if shortest - horizon - m + 1 >= 10:
            L = m
        else:
            m = 1
    return max(L, 2), m
