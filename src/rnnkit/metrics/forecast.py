"""Forecast accuracy: MAE, RMSE, MAPE, sMAPE and MASE.

With errors ``e = y_true - y_pred`` averaged over every element (all horizons, series and
channels)::

    mae   = mean(|e|)
    rmse  = sqrt(mean(e**2))
    mape  = 100 * mean(|e| / |y_true|)                       (percent)
    smape = 200 * mean(|e| / (|y_true| + |y_pred|))          (percent, 0..200; 0/0 counts as 0)
    mase  = mean(|e|) / mean(|y_train[t] - y_train[t - m]|)  (scale: in-sample seasonal naive)

MAPE is undefined where ``y_true == 0``: by default such values raise ``ValueError`` (use
sMAPE or MASE instead, or ``zeros="skip"`` to leave those points out). MASE below 1 beats
the seasonal-naive forecast's in-sample error; a training series with no change at lag m has
scale 0 and raises. MAPE and sMAPE are in percent, as in the M3/M4 competitions (scikit-learn's
``mean_absolute_percentage_error`` returns the fraction, 1/100 of ours).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ._inputs import pair, train_series


def mae(y_true: Any, y_pred: Any) -> float:
    """Mean absolute error. y_true, y_pred: same shape, e.g. (H,), (N, H) or (N, H, C)."""
    yt, yp = pair(y_true, y_pred, "mae")
    return float(np.mean(np.abs(yt - yp)))


def rmse(y_true: Any, y_pred: Any) -> float:
    """Root mean squared error. y_true, y_pred: same shape."""
    yt, yp = pair(y_true, y_pred, "rmse")
    return float(np.sqrt(np.mean((yt - yp) ** 2)))


def mape(y_true: Any, y_pred: Any, zeros: str = "raise") -> float:
    """Mean absolute percentage error, in percent.

    Args:
        y_true, y_pred: same shape.
        zeros: "raise" (default): a zero in y_true raises ValueError; "skip": leave the points
            where y_true == 0 out of the mean (all zero still raises).
    """
    if zeros not in ("raise", "skip"):
        raise ValueError(f"The 'zeros' parameter of mape must be 'raise' or 'skip'. Got {zeros!r} instead.")
    yt, yp = pair(y_true, y_pred, "mape")
    nonzero = yt != 0
    if not nonzero.all():
        if zeros == "raise" or not nonzero.any():
            first = tuple(int(i) for i in np.argwhere(~nonzero)[0])
            raise ValueError(
                f"MAPE is undefined where y_true is 0; y_true has {int((~nonzero).sum())} zero(s) "
                f"(first at index {first}). Use smape or mase, or mape(..., zeros='skip') to leave "
                "those points out."
            )
    return float(100.0 * np.mean(np.abs(yt - yp)[nonzero] / np.abs(yt[nonzero])))


def smape(y_true: Any, y_pred: Any) -> float:
    """Symmetric MAPE in percent (0..200); a point where both values are 0 counts as 0."""
    yt, yp = pair(y_true, y_pred, "smape")
    denom = np.abs(yt) + np.abs(yp)
    ratio = np.divide(np.abs(yt - yp), denom, out=np.zeros_like(denom), where=denom > 0)
    return float(200.0 * np.mean(ratio))


def mase_scale(y_train: Any, m: int = 1) -> np.ndarray | float:
    """In-sample MAE of the seasonal-naive forecast on y_train: mean |y[t] - y[t - m]|.

    Returns a float for a (T,) series, a (C,) array for a (T, C) series.
    """
    y, m = train_series(y_train, m, "mase")
    scale = np.mean(np.abs(y[m:] - y[:-m]), axis=0)
    if np.any(scale == 0):
        raise ValueError(
            f"MASE is undefined: the training series does not change at lag m = {m} (in-sample "
            "seasonal-naive error 0). Use another m or another metric."
        )
    return float(scale) if np.ndim(scale) == 0 else scale


def mase(y_true: Any, y_pred: Any, y_train: Any, m: int = 1) -> float:
    """Mean absolute scaled error (Hyndman & Koehler, 2006).

    Args:
        y_true, y_pred: same shape; for a (T, C) training series the last axis must be C.
        y_train: (T,) or (T, C) training series, T > m; per-channel scales for (T, C).
        m: seasonal period of the scaling naive forecast (1 = non-seasonal).
    """
    yt, yp = pair(y_true, y_pred, "mase")
    scale = mase_scale(y_train, m)
    if np.ndim(scale) and yt.shape[-1] != len(scale):
        raise ValueError(
            f"mase: y_train has {len(scale)} channels, so y_true's last axis must be {len(scale)}; "
            f"got shape {yt.shape}."
        )
    return float(np.mean(np.abs(yt - yp) / scale))
