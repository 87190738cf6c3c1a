"""Every forecast metric for a model, side by side with the seasonal-naive baseline.

The baseline forecasts the same test steps from the same training series (see
:func:`~rnnkit.metrics.seasonal_naive`), so a model that does not beat it is visible at once.
Metrics that are undefined for the data are reported as NaN instead of raising: MAPE when
every actual is 0 (zeros are otherwise left out, as ``mape(..., zeros="skip")``) and MASE
when the training series never changes at lag m.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from ._inputs import pair, train_series
from .baselines import seasonal_naive
from .forecast import mae, mape, mase, rmse, smape


def _scores(y_true: np.ndarray, y_pred: np.ndarray, y_train: np.ndarray, m: int) -> dict[str, float]:
    out = {"mae": mae(y_true, y_pred), "rmse": rmse(y_true, y_pred), "smape": smape(y_true, y_pred)}
    for name, fn in (("mape", lambda: mape(y_true, y_pred, zeros="skip")),
                     ("mase", lambda: mase(y_true, y_pred, y_train, m))):
        try:
            out[name] = fn()
        except ValueError:
            out[name] = math.nan
    return {k: out[k] for k in ("mae", "rmse", "mape", "smape", "mase")}


def forecast_report(y_true: Any, y_pred: Any, y_train: Any, m: int = 1) -> dict[str, dict[str, float]]:
    """MAE, RMSE, MAPE, sMAPE and MASE of a forecast and of the seasonal-naive forecast.

    Args:
        y_true: (H,) or (H, C) actual values of the H steps after ``y_train``.
        y_pred: the model's forecast, same shape as y_true.
        y_train: (T,) or (T, C) the series the forecast was made from, T > m.
        m: seasonal period (of the baseline and of MASE's scale).

    Returns:
        ``{"model": {"mae": ..., "rmse": ..., "mape": ..., "smape": ..., "mase": ...},
        "seasonal_naive": {...}}``.
    """
    yt, yp = pair(y_true, y_pred, "forecast_report")
    y, m = train_series(y_train, m, "forecast_report")
    baseline = seasonal_naive(y, len(yt), m)
    if baseline.shape != yt.shape:
        raise ValueError(
            f"forecast_report expected y_true of shape {baseline.shape} (H steps of a series shaped "
            f"like y_train {y.shape}), got {yt.shape}."
        )
    return {"model": _scores(yt, yp, y, m), "seasonal_naive": _scores(yt, baseline, y, m)}
