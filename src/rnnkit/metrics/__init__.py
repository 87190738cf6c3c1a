"""Metrics: forecast accuracy (MAE, RMSE, MAPE, sMAPE, MASE), the seasonal-naive baseline, a
guess of the seasonal period, and classification accuracy.

These are whole-array metrics for evaluation; :mod:`rnnkit.training.metrics` holds the
per-batch ones that ``fit`` logs each epoch.
"""

from .baselines import seasonal_naive
from .classification import accuracy
from .forecast import mae, mape, mase, mase_scale, rmse, smape
from .report import forecast_report
from .seasonality import autocorrelation, guess_seasonal_period

__all__ = ["mae", "rmse", "mape", "smape", "mase", "mase_scale", "seasonal_naive", "forecast_report",
           "guess_seasonal_period", "autocorrelation", "accuracy"]
