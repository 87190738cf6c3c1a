"""Gradient clipping: by global norm (``torch.nn.utils.clip_grad_norm_``) or by value
(``clip_grad_value_``). Both act in place on ``module.grads`` (or a dict of gradients).

Global-norm clipping rescales all gradients together, keeping their direction::

    total = (sum_k ||g_k||**2) ** 0.5        (over every gradient array g_k)
    g_k   = g_k * min(1, max_norm / (total + 1e-6))

Value clipping clamps each element to [-clip_value, clip_value] (direction changes).

The norm is computed in float64 and does not overflow while it is finite (``torch`` returns inf
for float32 gradients whose squares overflow float32, and for float64 ones beyond about 1.3e154,
and then zeroes them). NaN or inf gradients give a NaN or inf norm and are left as they are:
``Optimizer.step()`` then refuses them.
"""

from __future__ import annotations

import math
import numbers
from typing import Any, Mapping

import numpy as np

from .base import check_hyper


def _grads(target: Any) -> list[np.ndarray]:
    """The gradient arrays of a module or dict; each must be a float array (scaling or clamping
    an integer array in place would truncate it)."""
    grads = target.grads if hasattr(target, "grads") else target
    if not isinstance(grads, Mapping):
        raise TypeError(f"Expected a module or a dict of gradient arrays, got {type(target).__name__}.")
    for k, g in grads.items():
        if not isinstance(g, np.ndarray) or g.dtype.kind != "f":
            got = f"an array of {g.dtype}" if isinstance(g, np.ndarray) else type(g).__name__
            raise TypeError(f"Expected the gradient {k!r} to be a float NumPy array, got {got}. Clipping "
                            "works in place: convert it with np.asarray(g, dtype=np.float64) first.")
    return list(grads.values())


def global_norm(target: Any) -> float:
    """(sum over all gradients g_k of their squared entries) ** 0.5, in float64; nan/inf propagate.

    When the sum of squares overflows but every entry is finite, it is recomputed scaled by
    s = max |g|: total = s * (sum_k ||g_k / s||**2) ** 0.5.
    """
    grads = _grads(target)
    total = 0.0
    with np.errstate(over="ignore"):
        for g in grads:
            g64 = g.ravel().astype(np.float64, copy=False)
            total += float(g64 @ g64)
    if total == math.inf:
        s = max((float(np.max(np.abs(g))) for g in grads if g.size), default=0.0)
        if math.isfinite(s):  # finite entries whose squares overflow: scale them
            with np.errstate(over="ignore"):
                scaled = sum(float(np.sum(np.square(g.astype(np.float64) / s))) for g in grads)
                return s * math.sqrt(scaled)
    return math.sqrt(total) if total == total else float("nan")


def clip_grad_norm(target: Any, max_norm: float, *, norm: float | None = None) -> float:
    """Rescale the gradients so their global norm is at most ``max_norm``; return the norm
    before clipping (non-finite norms are returned and nothing is changed).

    ``norm``: the gradients' global norm when the caller has just computed it
    (:func:`global_norm` of these same gradients), so it is not computed a second time.
    """
    max_norm = check_hyper(max_norm, "max_norm", "clip_grad_norm")
    if norm is not None and (not isinstance(norm, numbers.Real) or isinstance(norm, (bool, np.bool_))
                             or float(norm) < 0):
        raise ValueError("The 'norm' parameter of clip_grad_norm must be None or the gradients' global norm "
                         f"(a float >= 0, as global_norm returns). Got {norm!r} instead.")
    total = global_norm(target) if norm is None else float(norm)
    if not math.isfinite(total):
        return total
    coef = max_norm / (total + 1e-6)
    if coef < 1.0:
        for g in _grads(target):
            g *= g.dtype.type(coef)
    return total


def clip_grad_value(target: Any, clip_value: float) -> None:
    """Clamp every gradient element to [-clip_value, clip_value] in place."""
    clip_value = check_hyper(clip_value, "clip_value", "clip_grad_value")
    for g in _grads(target):
        np.clip(g, -clip_value, clip_value, out=g)
