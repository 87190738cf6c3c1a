"""Softmax cross-entropy from logits, per sequence or per step (``torch.nn.CrossEntropyLoss``).

For one row of logits z (C classes) and class index k, in the stable log-sum-exp form::

    log p = z - max(z) - log(sum(exp(z - max(z))))
    l     = -log p[k]
    dl/dz = softmax(z) - onehot(k)

With class probabilities q instead of an index (target shaped like the logits):
l = -sum(q * log p), dl/dz = softmax(z) * sum(q) - q.

Shapes: logits (N, C) with targets (N,) (one class per sequence), or (N, T, C) with targets
(N, T) and a mask (N, T) for per-step targets; in general logits (..., C), targets (...).
Masking and reduction: :mod:`rnnkit.losses._common` (one element = one row of logits). Class
indices at masked-out steps are not read, so padding may hold any value (-1, -100, NaN), as
with PyTorch's ``ignore_index``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ._common import as_mask, as_pred, check_reduction, reduce


def log_softmax(z: np.ndarray) -> np.ndarray:
    """log softmax over the last axis, without overflow."""
    s = z - z.max(axis=-1, keepdims=True)
    return s - np.log(np.exp(s).sum(axis=-1, keepdims=True))


def cross_entropy(logits: Any, target: Any, mask: Any = None,
                  reduction: str = "mean") -> tuple[float, np.ndarray]:
    """Softmax cross-entropy; returns (value, dL/dlogits). See the module docstring."""
    owner = "cross_entropy"
    check_reduction(reduction, owner)
    z = as_pred(logits, owner)
    C = z.shape[-1]
    t = np.asarray(target)
    m = None if mask is None else as_mask(mask, z.shape[:-1], owner)
    logp = log_softmax(z)
    p = np.exp(logp)
    if t.dtype.kind == "f" and t.shape == z.shape:  # class probabilities
        q = t.astype(z.dtype)
        elem = -(q * logp).sum(axis=-1)
        grad = p * q.sum(axis=-1, keepdims=True) - q
    else:
        if t.dtype.kind in "fiu" and t.shape != z.shape[:-1]:  # the shape first: whatever the values
            hint = (f" One-hot or probability targets of the logits' shape are read as such when they are "
                    f"floats: pass target.astype({z.dtype.name!r}).") if t.shape == z.shape else ""
            raise ValueError(f"Expected class indices of shape {z.shape[:-1]} (the logits' shape without "
                             f"the class axis), got {t.shape}.{hint}")
        if t.dtype.kind == "f":
            read = t if m is None else t[m]  # targets at masked-out steps are never read: any padding
            if not np.all(np.isfinite(read)):
                raise ValueError(f"Expected class indices for {owner}, got {int((~np.isfinite(read)).sum())} NaN or "
                                 "infinite value(s) where the mask counts. Drop those steps, or mask them out.")
            if np.all(read == np.round(read)):
                t = (t if m is None else np.where(m, t, 0)).astype(np.int64)
        if t.dtype.kind not in "iu":
            raise TypeError(f"Expected integer class indices for {owner}, got dtype {t.dtype}"
                            f"{' with fractional values' if t.dtype.kind == 'f' else ''}.")
        if m is not None:
            t = np.where(m, t, 0)  # masked-out steps may hold any padding (-1, -100): class 0 stands in
        bad = t[(t < 0) | (t >= C)]
        if bad.size:
            raise ValueError(f"Expected class indices in 0..{C - 1} ({C} classes), got {np.unique(bad)[:10].tolist()}.")
        picked = np.take_along_axis(logp, t[..., None], axis=-1)[..., 0]
        elem = -picked
        grad = p
        np.put_along_axis(grad, t[..., None], np.take_along_axis(grad, t[..., None], axis=-1) - 1, axis=-1)
    return reduce(elem, grad, m, reduction)


class CrossEntropyLoss:
    """Callable form of :func:`cross_entropy`: ``value, grad = CrossEntropyLoss()(logits, target, mask)``."""

    name = "cross_entropy"

    def __init__(self, reduction: str = "mean") -> None:
        self.reduction = check_reduction(reduction, "CrossEntropyLoss")

    def __call__(self, logits: Any, target: Any, mask: Any = None) -> tuple[float, np.ndarray]:
        return cross_entropy(logits, target, mask, self.reduction)

    def get_config(self) -> dict[str, Any]:
        return {"reduction": self.reduction}

    def __repr__(self) -> str:
        return f"CrossEntropyLoss(reduction={self.reduction!r})"
