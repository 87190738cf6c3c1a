"""Binary cross-entropy with logits (``torch.nn.BCEWithLogitsLoss``), stable for any z.

For a logit z and a target y in [0, 1], with w = 1 + (pos_weight - 1) * y::

    l     = (1 - y) * z + w * (log(1 + exp(-|z|)) + max(-z, 0))     (= -[y log s + (1-y) log(1-s)]
                                                                        for pos_weight = 1, s = sigmoid(z))
    dl/dz = (1 - y) - w * sigmoid(-z)                               (= sigmoid(z) - y for pos_weight = 1)

Never evaluates exp of a positive number, so large |z| neither overflows nor loses the loss.
Shapes: logits and targets the same shape, e.g. (N, K) per sequence or (N, T, K) per step with
a mask (N, T). Masking and reduction: :mod:`rnnkit.losses._common`.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ._common import as_mask, as_pred, as_target_like, check_reduction, reduce


def binary_cross_entropy_with_logits(logits: Any, target: Any, mask: Any = None, reduction: str = "mean",
                                     pos_weight: Any = None) -> tuple[float, np.ndarray]:
    """Returns (value, dL/dlogits); ``pos_weight`` (scalar or (K,)) weighs positive targets."""
    owner = "binary_cross_entropy_with_logits"
    check_reduction(reduction, owner)
    z = as_pred(logits, owner)
    y = as_target_like(target, z, owner)
    if np.any((y < 0) | (y > 1)):
        raise ValueError(f"Expected targets in [0, 1] for {owner}, got values from {y.min()} to {y.max()}.")
    w = 1.0 if pos_weight is None else 1 + (np.asarray(pos_weight, dtype=z.dtype) - 1) * y
    softplus_neg = np.log1p(np.exp(-np.abs(z))) + np.maximum(-z, 0)  # log(1 + exp(-z))
    elem = (1 - y) * z + w * softplus_neg
    sig_neg = 0.5 * (1 - np.tanh(0.5 * z))  # sigmoid(-z)
    grad = (1 - y) - w * sig_neg
    m = None if mask is None else as_mask(mask, z.shape[:np.ndim(mask)], owner)
    return reduce(elem, grad.astype(z.dtype, copy=False), m, reduction)


class BCEWithLogitsLoss:
    """Callable form of :func:`binary_cross_entropy_with_logits`."""

    name = "bce_with_logits"

    def __init__(self, reduction: str = "mean", pos_weight: float | list[float] | None = None) -> None:
        self.reduction = check_reduction(reduction, "BCEWithLogitsLoss")
        if pos_weight is not None:
            pw = np.asarray(pos_weight, dtype=np.float64)
            if pw.ndim > 1 or not np.all(pw > 0):
                raise ValueError(f"The 'pos_weight' parameter of BCEWithLogitsLoss must be a positive float "
                                 f"or a 1-D list of them. Got {pos_weight!r} instead.")
            pos_weight = pw.tolist()
        self.pos_weight = pos_weight

    def __call__(self, logits: Any, target: Any, mask: Any = None) -> tuple[float, np.ndarray]:
        return binary_cross_entropy_with_logits(logits, target, mask, self.reduction, self.pos_weight)

    def get_config(self) -> dict[str, Any]:
        return {"reduction": self.reduction, "pos_weight": self.pos_weight}

    def __repr__(self) -> str:
        return f"BCEWithLogitsLoss(reduction={self.reduction!r}, pos_weight={self.pos_weight!r})"
