"""Losses: each returns ``(value, grad)`` with grad = dL/dpred, takes an optional mask for
per-step targets, and is written in a numerically stable form.

==========================================  ===================  =====================
function                                    class                name for ``fit``
==========================================  ===================  =====================
:func:`mse`                                 ``MSELoss``          "mse"
:func:`mae`                                 ``L1Loss``           "mae"
:func:`huber`                               ``HuberLoss``        "huber"
:func:`cross_entropy`                       ``CrossEntropyLoss`` "cross_entropy"
:func:`binary_cross_entropy_with_logits`    ``BCEWithLogitsLoss`` "bce_with_logits"
==========================================  ===================  =====================
"""

from __future__ import annotations

from typing import Any, Callable

import numpy as np

from ..errors import ConfigError
from .binary import BCEWithLogitsLoss, binary_cross_entropy_with_logits
from .cross_entropy import CrossEntropyLoss, cross_entropy, log_softmax
from .regression import HuberLoss, L1Loss, MSELoss, huber, mae, mse

LOSSES: dict[str, type] = {
    "mse": MSELoss, "mae": L1Loss, "l1": L1Loss, "huber": HuberLoss,
    "cross_entropy": CrossEntropyLoss, "bce_with_logits": BCEWithLogitsLoss,
}


def get(loss: Any) -> Callable:
    """A loss object from a name in ``LOSSES``, a loss object, or any callable
    ``(pred, target, mask) -> (value, grad)``."""
    if isinstance(loss, str):
        if loss not in LOSSES:
            raise ConfigError(f"Unknown loss {loss!r}. Expected one of {', '.join(sorted(LOSSES))}, "
                              "a loss object or a callable (pred, target, mask) -> (value, grad).")
        return LOSSES[loss]()
    if isinstance(loss, type):  # a loss class such as MSELoss: use its defaults
        return loss()
    if callable(loss):
        return loss
    raise TypeError(f"Expected a loss name, a loss object or a callable, got {type(loss).__name__}.")


def reduction_of(loss: Any) -> str:
    """The reduction of ``loss`` over its terms: its ``reduction`` ("mean" or "sum"), "mean" for a
    callable without one."""
    return getattr(loss, "reduction", "mean")


def checked_call(loss: Callable, pred: np.ndarray, target: Any, mask: Any) -> tuple[float, np.ndarray]:
    """``loss(pred, target, mask)``, checked against the contract ``(pred, target, mask) -> (value, grad)``.

    Returns ``(float(value), grad)``: the value as a Python float (a NumPy scalar such as
    ``np.float32`` is converted; NaN and inf pass through for the caller to report) and grad,
    dL/dpred, a float array of ``pred``'s shape.

    Raises:
        TypeError: the loss returned something else than a pair (real scalar, float array of
            pred's shape); the message names the loss and what it returned.
    """
    name = getattr(loss, "__qualname__", None) or type(loss).__name__
    contract = f"Expected the loss {name} to follow the contract (pred, target, mask) -> (value, grad)"
    result = loss(pred, target, mask)
    if not isinstance(result, (tuple, list)) or len(result) != 2:
        raise TypeError(f"{contract}, got {type(result).__name__} instead of a pair (value, grad).")
    value, grad = result
    v = np.asarray(value)
    if v.ndim != 0 or v.dtype.kind not in "fiu":
        raise TypeError(f"{contract} with value a real scalar (e.g. float(np.mean(...))), got "
                        f"{type(value).__name__} of shape {v.shape} and dtype {v.dtype}.")
    if not isinstance(grad, np.ndarray) or grad.shape != np.shape(pred) or grad.dtype.kind != "f":
        got = (f"an array of shape {grad.shape} and dtype {grad.dtype}" if isinstance(grad, np.ndarray)
               else type(grad).__name__)
        raise TypeError(f"{contract} with grad = dL/dpred a float NumPy array of pred's shape "
                        f"{np.shape(pred)}, got {got}.")
    return float(v), grad


__all__ = [
    "mse", "mae", "huber", "cross_entropy", "binary_cross_entropy_with_logits", "log_softmax",
    "MSELoss", "L1Loss", "HuberLoss", "CrossEntropyLoss", "BCEWithLogitsLoss", "LOSSES", "get",
    "checked_call", "reduction_of",
]
