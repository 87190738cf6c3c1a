"""What every loss shares: input checks, the mask, and the reduction.

A loss is a sum of per-element terms l_j with gradients g_j = dl_j/dpred_j. With a mask m
(1 = counts, 0 = ignore; shape = the leading axes of the elements, e.g. (N, T) for per-step
targets of shape (N, T, F)) and K = the number of counted elements::

    reduction="mean":  L = sum_j m_j * l_j / K      dL/dpred_j = m_j * g_j / K
    reduction="sum":   L = sum_j m_j * l_j          dL/dpred_j = m_j * g_j

"mean" equals PyTorch's mean over the selected elements, ``loss(pred[mask], target[mask])``.
With nothing counted (K = 0) the loss is 0 and the gradient 0 (PyTorch would give nan).
Targets at masked-out elements are never read into the result, so padding may hold any value
(-1, -100 or NaN; cross-entropy and BCE check only the counted targets).
"""

from __future__ import annotations

from typing import Any

import numpy as np

REDUCTIONS = ("mean", "sum")


def check_reduction(reduction: Any, owner: str) -> str:
    if reduction not in REDUCTIONS:
        raise ValueError(f"The 'reduction' parameter of {owner} must be 'mean' or 'sum'. Got {reduction!r} instead.")
    return reduction


def as_pred(pred: Any, owner: str) -> np.ndarray:
    """Predictions/logits: a float array (float32 or float64 kept as is)."""
    a = np.asarray(pred)
    if a.dtype.kind != "f":
        raise TypeError(f"Expected float predictions for {owner}, got dtype {a.dtype}.")
    if a.ndim == 0:
        raise ValueError(f"Expected predictions with at least one axis for {owner}, got a scalar.")
    return a


def as_target_like(target: Any, pred: np.ndarray, owner: str) -> np.ndarray:
    """Real-valued targets with exactly the predictions' shape (no silent broadcasting)."""
    t = np.asarray(target)
    if t.dtype.kind not in "fiub":
        raise TypeError(f"Expected numeric targets for {owner}, got dtype {t.dtype}.")
    if t.shape != pred.shape:
        hint = ""
        if t.size == pred.size:
            hint = f" Reshape with target.reshape({pred.shape})."
        raise ValueError(f"Expected targets of shape {pred.shape} (the predictions' shape) for {owner}, "
                         f"got {t.shape}.{hint}")
    return t.astype(pred.dtype, copy=False)


def as_mask(mask: Any, lead_shape: tuple[int, ...], owner: str) -> np.ndarray | None:
    """The mask as a bool array of shape ``lead_shape`` (None stays None)."""
    if mask is None:
        return None
    m = np.asarray(mask)
    if m.dtype.kind not in "biuf":
        raise TypeError(f"Expected a bool mask for {owner}, got dtype {m.dtype}.")
    if m.shape != tuple(lead_shape):
        raise ValueError(f"Expected a mask of shape {tuple(lead_shape)} for {owner}, got {m.shape}.")
    if m.dtype.kind != "b":
        if not np.all((m == 0) | (m == 1)):
            raise ValueError(f"Expected a mask of 0/1 (or bool) values for {owner}, got values "
                             f"{np.unique(m)[:5].tolist()}.")
        m = m.astype(bool)
    return m


def reduce(elem: np.ndarray, grad: np.ndarray, mask: np.ndarray | None, reduction: str) -> tuple[float, np.ndarray]:
    """Apply the mask and the reduction to per-element terms ``elem`` and gradients ``grad``.

    ``mask`` covers the leading axes of ``elem`` and ``grad`` (it is broadcast over the rest;
    cross-entropy has one term per row of C logits, so its grad has one axis more than elem).
    """
    if mask is not None:
        lead = lambda a: mask.reshape(mask.shape + (1,) * (a.ndim - mask.ndim))
        elem = np.where(lead(elem), elem, 0)
        grad = np.where(lead(grad), grad, 0)
        count = int(mask.sum()) * (elem.size // max(mask.size, 1))
    else:
        count = elem.size
    total = float(np.sum(elem, dtype=np.float64))
    if reduction == "sum":
        return total, grad
    if count == 0:
        return 0.0, np.zeros_like(grad)
    return total / count, grad / grad.dtype.type(count)
