"""Regression losses: mean squared error, mean absolute error, Huber.

Each ``f(pred, target, mask=None, reduction="mean") -> (value, grad)`` takes pred and target
of the same shape, e.g. (N, F) per sequence or (N, T, F) per step with a mask of shape (N, T);
``grad`` = dL/dpred, shaped and typed as pred. The masking and reduction rules are in
:mod:`rnnkit.losses._common`. Below, d = pred - target and l is one element's term.
"""

from __future__ import annotations

import numbers
from typing import Any

import numpy as np

from ._common import as_mask, as_pred, as_target_like, check_reduction, reduce


def _prepare(pred, target, mask, reduction, owner):
    check_reduction(reduction, owner)
    pred = as_pred(pred, owner)
    target = as_target_like(target, pred, owner)
    m = None if mask is None else as_mask(mask, pred.shape[:np.ndim(mask)], owner)
    return pred, target, m


def mse(pred: Any, target: Any, mask: Any = None, reduction: str = "mean") -> tuple[float, np.ndarray]:
    """l = d**2,  dl/dpred = 2 d.  (``torch.nn.MSELoss``)"""
    pred, target, m = _prepare(pred, target, mask, reduction, "mse")
    d = pred - target
    return reduce(d * d, 2 * d, m, reduction)


def mae(pred: Any, target: Any, mask: Any = None, reduction: str = "mean") -> tuple[float, np.ndarray]:
    """l = |d|,  dl/dpred = sign(d) (0 at d = 0).  (``torch.nn.L1Loss``)"""
    pred, target, m = _prepare(pred, target, mask, reduction, "mae")
    d = pred - target
    return reduce(np.abs(d), np.sign(d), m, reduction)


def huber(pred: Any, target: Any, mask: Any = None, reduction: str = "mean",
          delta: float = 1.0) -> tuple[float, np.ndarray]:
    """l = d**2 / 2 if |d| <= delta else delta * (|d| - delta / 2);
    dl/dpred = clip(d, -delta, delta).  (``torch.nn.HuberLoss``)"""
    if not isinstance(delta, numbers.Real) or isinstance(delta, (bool, np.bool_)) or not 0 < delta < np.inf:
        raise ValueError(f"The 'delta' parameter of huber must be a finite float > 0. Got {delta!r} instead.")
    delta = float(delta)
    pred, target, m = _prepare(pred, target, mask, reduction, "huber")
    d = pred - target
    a = np.abs(d)
    small = a <= delta
    elem = np.where(small, 0.5 * d * d, delta * (a - 0.5 * delta))
    return reduce(elem, np.clip(d, -delta, delta), m, reduction)


class MSELoss:
    """Callable form of :func:`mse`: ``value, grad = MSELoss()(pred, target, mask)``."""

    name = "mse"

    def __init__(self, reduction: str = "mean") -> None:
        self.reduction = check_reduction(reduction, type(self).__name__)

    def __call__(self, pred: Any, target: Any, mask: Any = None) -> tuple[float, np.ndarray]:
        return mse(pred, target, mask, self.reduction)

    def get_config(self) -> dict[str, Any]:
        return {"reduction": self.reduction}

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items())
        return f"{type(self).__name__}({args})"


class L1Loss(MSELoss):
    """Callable form of :func:`mae`."""

    name = "mae"

    def __call__(self, pred: Any, target: Any, mask: Any = None) -> tuple[float, np.ndarray]:
        return mae(pred, target, mask, self.reduction)


class HuberLoss(MSELoss):
    """Callable form of :func:`huber`."""

    name = "huber"

    def __init__(self, reduction: str = "mean", delta: float = 1.0) -> None:
        super().__init__(reduction)
        huber(np.zeros(1), np.zeros(1), delta=delta)  # validates delta
        self.delta = float(delta)

    def __call__(self, pred: Any, target: Any, mask: Any = None) -> tuple[float, np.ndarray]:
        return huber(pred, target, mask, self.reduction, self.delta)

    def get_config(self) -> dict[str, Any]:
        return {"reduction": self.reduction, "delta": self.delta}
