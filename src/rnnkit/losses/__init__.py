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


__all__ = [
    "mse", "mae", "huber", "cross_entropy", "binary_cross_entropy_with_logits", "log_softmax",
    "MSELoss", "L1Loss", "HuberLoss", "CrossEntropyLoss", "BCEWithLogitsLoss", "LOSSES", "get",
]
