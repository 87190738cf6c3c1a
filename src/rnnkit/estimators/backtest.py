"""Rolling-origin evaluation (backtesting) of a :class:`~rnnkit.estimators.Forecaster`.

For a series of T steps, horizon H, ``n_windows`` = K origins spaced ``step`` = s apart::

    o_k = T - H - (K - 1 - k) * s          k = 0 .. K-1 (the last forecast ends at T)

A fresh copy of the forecaster (same parameters) is fitted on y[:o_0] only, then forecasts
y[o_k : o_k + H] from the history y[:o_k] at every origin (``refit=True`` refits it on y[:o_k]
at every origin instead: slower, closer to use in production). Nothing after an origin is seen
by the forecast made there: not by the weights, not by any scaling. The one exception is by
design: known covariates (values known in advance, ``known`` (T, K) aligned with y) are given
up to o_k + H, their values over the forecast steps, as they would be in production; they are
still standardised with the statistics fixed at the fit (rows before o_0; before o_k with
``refit=True``), as covariates X are, and fitting sees rows before o_0 (o_k) only.

Every history must be longer than the seasonal period m (``seasonal_period_``), which the
seasonal-naive baseline and MASE need: a backtest whose first origin leaves m steps or fewer
is refused. (Before 2026-12-08 such origins were left out of the means without a word, with the
last value as their "seasonal-naive" forecast, and every metric was NaN when all of them were.)

Each forecast is scored with MAE, RMSE, MAPE, sMAPE and MASE beside the seasonal-naive
forecast from the same history (:func:`rnnkit.metrics.forecast_report`, m = the fitted
``seasonal_period_``); the reported metrics are the means over origins (and series).
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .._checks import check_bool, check_positive_int
from ..metrics import forecast_report, seasonal_naive
from ..errors import SeriesTooShortError
from .series_input import as_series_data

METRICS = ("mae", "rmse", "mape", "smape", "mase")


@dataclass
class BacktestResult:
    """What :func:`backtest` returns.

    Attributes:
        metrics: ``{"model": {"mae": ..., "rmse": ..., "mape": ..., "smape": ..., "mase": ...},
            "seasonal_naive": {...}}``, means over origins and series (NaN where undefined).
        origins: (K,) the origins o_k (per series when y is a list: measured from its end).
        forecasts, actuals, baseline: per series, (K, H) or (K, H, C) arrays; for one series
            the array itself, for a list of series a list.
        seasonal_period: m of the baseline and MASE.
        estimator: the forecaster fitted on y[:o_0] (the last one fitted with refit=True).
    """

    metrics: dict[str, dict[str, float]]
    origins: np.ndarray
    forecasts: Any
    actuals: Any
    baseline: Any
    seasonal_period: int
    estimator: Any = field(repr=False, default=None)

    def summary(self) -> str:
        """A small table: one row per metric, the model beside the seasonal-naive baseline."""
        rows = [f"{'metric':8s}{'model':>12s}{'seasonal_naive':>16s}"]
        for k in METRICS:
            rows.append(f"{k:8s}{self.metrics['model'][k]:12.4g}{self.metrics['seasonal_naive'][k]:16.4g}")
        return "\n".join(rows)


def backtest(forecaster: Any, y: Any, X: Any = None, n_windows: int = 5, step: int | None = None,
             refit: bool = False, *, known: Any = None) -> BacktestResult:
    """Evaluate a fresh copy of ``forecaster`` on y from K rolling origins (module docstring).

    Args:
        forecaster: a Forecaster (fitted or not; it is not changed, nor is a Generator given as
            its seed: the copy draws from a copy of it).
        y: a series or a list of series, as for ``Forecaster.fit``.
        X: covariates aligned with y, or None.
        known: known covariates aligned with y, (T, K) (a list for a list of series), or None.
        n_windows: K >= 1 origins.
        step: s >= 1 steps between origins; None: the horizon.
        refit: refit at every origin instead of once at the first.

    Returns:
        :class:`BacktestResult`.
    """
    owner = "Forecaster.backtest"
    K = check_positive_int(n_windows, "n_windows", owner)
    H = forecaster.horizon
    s = H if step is None else check_positive_int(step, "step", owner)
    refit = check_bool(refit, "refit", owner)
    data = as_series_data(y, X, owner, known)
    span = H + (K - 1) * s
    shortest = min(len(v) for v in data.y)
    if shortest - span < 3:
        raise ValueError(f"{owner}: {K} origins {s} steps apart with horizon {H} need the last {span} steps of "
                         f"every series for testing, leaving {shortest - span} of the shortest series ({shortest} "
                         "steps) for fitting. Use fewer windows, a smaller step, or longer series.")
    # copies of the parameters, as sklearn.base.clone makes: a Generator seed of forecaster is not advanced
    clone = type(forecaster)(**copy.deepcopy(forecaster.get_params()))
    clone._check_params()   # a bad parameter is named as such, not as a history too short
    if clone.seasonal_period is not None:
        _check_season(int(clone.seasonal_period), shortest - span, shortest, owner)
    origins = np.array([-(span - k * s) for k in range(K)])    # relative to each series' end
    cut = lambda arrs, o: [a[: len(a) + o] for a in arrs]      # noqa: E731 - history before origin o
    opt = lambda arrs, o: None if arrs is None else _as_input(cut(arrs, o), data)   # noqa: E731 - X or known
    fc, act, base, reports = [[] for _ in data.y], [[] for _ in data.y], [[] for _ in data.y], []
    for k, o in enumerate(origins):
        if k == 0 or refit:
            try:
                clone.fit(_as_input(cut(data.y, o), data, data.univariate), opt(data.X, o), opt(data.known, o))
            except SeriesTooShortError as exc:
                raise SeriesTooShortError(f"{owner}: fitting on the history before origin {k + 1} of {K} "
                                 f"({shortest + int(o)} steps of the shortest series) failed: {exc} Fewer windows "
                                 "or a smaller step leave more of the series for fitting.") from exc
            _check_season(int(clone.seasonal_period_), shortest - span, shortest, owner)
        hist = cut(data.y, o)
        # known covariates up to o + H: the forecast steps' values (o + H <= 0: the last origin's end at T)
        pred = clone.predict(_as_input(hist, data, data.univariate), opt(data.X, o), opt(data.known, o + H))
        pred = pred if data.is_list else [pred]
        for i, (h, series) in enumerate(zip(hist, data.y)):
            f = np.asarray(pred[i], dtype=np.float64).reshape(H, -1)
            a = series[len(h): len(h) + H]
            b = seasonal_naive(h, H, clone.seasonal_period_)
            reports.append(forecast_report(a, f, h, clone.seasonal_period_))
            squeeze = (lambda z: z[:, 0]) if data.univariate else (lambda z: z)  # noqa: E731
            fc[i].append(squeeze(f))
            act[i].append(squeeze(a))
            base[i].append(squeeze(b))
    metrics = {who: {m: _mean([r[who][m] for r in reports]) for m in METRICS}
               for who in ("model", "seasonal_naive")}
    pack = (lambda parts: [np.stack(p) for p in parts]) if data.is_list else (lambda parts: np.stack(parts[0]))
    return BacktestResult(metrics, origins + (0 if data.is_list else len(data.y[0])), pack(fc), pack(act),
                          pack(base), int(clone.seasonal_period_), clone)


def _check_season(m: int, first: int, shortest: int, owner: str) -> None:
    """Refuse a first origin that leaves ``first`` <= m steps of the shortest series (``shortest``
    steps): the seasonal-naive baseline and MASE need more than one season of history."""
    if first <= m:
        raise ValueError(f"{owner}: the seasonal-naive baseline and MASE need more than seasonal_period = {m} steps "
                         f"of history at every origin, but the first origin leaves {first} of the shortest series "
                         f"({shortest} steps). Use fewer windows or a smaller step, a seasonal_period below {first}, "
                         "or longer series.")


def _as_input(arrays: list[np.ndarray], data: Any, squeeze: bool = False) -> Any:
    """Back to the layout the forecaster was given: one series or a list (1-D with ``squeeze``)."""
    out = [a[:, 0] for a in arrays] if squeeze else arrays
    return out if data.is_list else out[0]


def _mean(values: list[float]) -> float:
    finite = [v for v in values if not math.isnan(v)]
    return float(np.mean(finite)) if finite else math.nan
