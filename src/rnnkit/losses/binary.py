"""Binary cross-entropy with logits (``torch.nn.BCEWithLogitsLoss``), stable for any z.

For a logit z and a target y in [0, 1], with w = 1 + (pos_weight - 1) * y::

    l     = (1 - y) * z + w * (log(1 + exp(-|z|)) + max(-z, 0))     (= -[y log s + (1-y) log(1-s)]
                                                                        for pos_weight = 1, s = sigmoid(z))
    dl/dz = (1 - y) - w * sigmoid(-z)                               (= sigmoid(z) - y for pos_weight = 1)

Never evaluates exp of a positive number, so large |z| neither overflows nor loses the loss.
Shapes: logits and targets the same shape, e.g. (N, K) per sequence or (N, T, K) per step with
a mask (N, T). Masking and reduction: :mod:`rnnkit.losses._common`. Targets at masked-out steps
are not read (padding may hold any value); every other target must lie in [0, 1] (NaN refused).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ._common import as_mask, as_pred, as_target_like, check_reduction, reduce


def check_pos_weight(pos_weight: Any, owner: str, n_outputs: int | None = None) -> np.ndarray | None:
    """``pos_weight`` as a float64 array: a finite number > 0, or a 1-D list of them (one for all,
    or one per output: ``n_outputs`` of them when given, the logits' last axis K)."""
    if pos_weight is None:
        return None
    expected = f"The 'pos_weight' parameter of {owner} must be a finite float > 0 or a 1-D list of them"
    try:
        pw = np.asarray(pos_weight, dtype=np.float64)
    except (TypeError, ValueError):
        raise TypeError(f"{expected}. Got {pos_weight!r} instead.") from None
    if isinstance(pos_weight, (bool, np.bool_)) or pw.ndim > 1 or not np.all(np.isfinite(pw) & (pw > 0)):
        raise ValueError(f"{expected}. Got {pos_weight!r} instead.")
    if n_outputs is not None and pw.ndim == 1 and len(pw) not in (1, n_outputs):
        raise ValueError(f"{expected}, one per output: logits with K = {n_outputs} outputs on their last axis "
                         f"need {n_outputs} weights (or one number for all). Got {len(pw)}: {pos_weight!r}.")
    return pw


def binary_cross_entropy_with_logits(logits: Any, target: Any, mask: Any = None, reduction: str = "mean",
                                     pos_weight: Any = None) -> tuple[float, np.ndarray]:
    """Returns (value, dL/dlogits); ``pos_weight`` (a number > 0, or (K,) for logits (..., K))
    weighs positive targets."""
    owner = "binary_cross_entropy_with_logits"
    check_reduction(reduction, owner)
    z = as_pred(logits, owner)
    y = as_target_like(target, z, owner)
    m = None if mask is None else as_mask(mask, z.shape[:np.ndim(mask)], owner)
    read = y if m is None else y[m]  # targets at masked-out steps are never read: any padding
    outside = ~((read >= 0) & (read <= 1))  # NaN too
    if outside.any():
        raise ValueError(f"Expected targets in [0, 1] for {owner}, got {int(outside.sum())} outside it: "
                         f"{np.unique(read[outside])[:5].tolist()}.")
    pw = check_pos_weight(pos_weight, owner, z.shape[-1])  # broadcast on the last axis, as torch does
    w = 1.0 if pw is None else 1 + (pw.astype(z.dtype) - 1) * y
    softplus_neg = np.log1p(np.exp(-np.abs(z))) + np.maximum(-z, 0)  # log(1 + exp(-z))
    elem = (1 - y) * z + w * softplus_neg
    sig_neg = 0.5 * (1 - np.tanh(0.5 * z))  # sigmoid(-z)
    grad = (1 - y) - w * sig_neg
    return reduce(elem, grad.astype(z.dtype, copy=False), m, reduction)


class BCEWithLogitsLoss:
    """Callable form of :func:`binary_cross_entropy_with_logits`."""

    name = "bce_with_logits"

    def __init__(self, reduction: str = "mean", pos_weight: float | list[float] | None = None) -> None:
        self.reduction = check_reduction(reduction, "BCEWithLogitsLoss")
        pw = check_pos_weight(pos_weight, "BCEWithLogitsLoss")
        self.pos_weight = None if pw is None else pw.tolist()

    def __call__(self, logits: Any, target: Any, mask: Any = None) -> tuple[float, np.ndarray]:
        return binary_cross_entropy_with_logits(logits, target, mask, self.reduction, self.pos_weight)

    def get_config(self) -> dict[str, Any]:
        return {"reduction": self.reduction, "pos_weight": self.pos_weight}

    def __repr__(self) -> str:
        return f"BCEWithLogitsLoss(reduction={self.reduction!r}, pos_weight={self.pos_weight!r})"
