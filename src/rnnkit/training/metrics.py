"""Metrics reported per epoch: each returns (sum, count) so batches can be pooled exactly.

- "accuracy": multi-class outputs (C scores on the last axis, trained with cross-entropy):
  argmax(pred) == y for class ids y (pred's shape without its last axis), or
  argmax(pred) == argmax(y) for one-hot or probability targets (pred's shape); one hit per row.
  Binary outputs (logits, trained with binary cross-entropy; also multi-label): per element,
  (pred > 0) == (y > 0.5). Which of the two is fixed by the loss (:func:`is_multiclass`), or,
  for a loss that is neither, by the outputs: multi-class when C > 1.
- "mae", "mse": mean absolute / squared error.

``mask`` (the leading axes, e.g. (N, T) for per-step targets) selects what counts.
"""

from __future__ import annotations

from typing import Any, Callable

import numpy as np

from ..errors import ConfigError
from ..losses import BCEWithLogitsLoss, CrossEntropyLoss, binary_cross_entropy_with_logits, cross_entropy


def _pool(values: np.ndarray, mask: np.ndarray | None) -> tuple[float, int]:
    if mask is None:
        return float(values.sum(dtype=np.float64)), values.size
    m = mask.reshape(mask.shape + (1,) * (values.ndim - mask.ndim))
    m = np.broadcast_to(m, values.shape)
    return float(values[m].sum(dtype=np.float64)), int(m.sum())


def is_multiclass(loss: Any) -> bool | None:
    """True for cross-entropy, False for binary cross-entropy (the loss objects or functions), None
    for any other loss (accuracy then decides from the outputs)."""
    if loss is cross_entropy or isinstance(loss, CrossEntropyLoss):
        return True
    if loss is binary_cross_entropy_with_logits or isinstance(loss, BCEWithLogitsLoss):
        return False
    return None


def accuracy(pred: np.ndarray, target: np.ndarray, mask: np.ndarray | None = None,
             multiclass: bool | None = None) -> tuple[float, int]:
    """Hits of multi-class or binary outputs (see the module docstring); ``multiclass`` None: C > 1.

    Shapes: pred (..., C); target (...) class ids or (..., C) one-hot/probabilities (multi-class),
    or (..., C) binary targets (binary); mask: leading axes of pred, e.g. (N, T)."""
    target = np.asarray(target)
    if multiclass is None:
        multiclass = pred.shape[-1] > 1
    if multiclass and target.shape == pred.shape[:-1]:
        hits = pred.argmax(axis=-1) == target
    elif multiclass and target.shape == pred.shape:
        hits = pred.argmax(axis=-1) == target.argmax(axis=-1)
    elif not multiclass and target.size == pred.size:
        hits = (pred > 0) == (target.reshape(pred.shape) > 0.5)
    else:
        kind = "multi-class" if multiclass else "binary"
        expected = (f"class ids of shape {pred.shape[:-1]} or one-hot/probability targets of shape {pred.shape}"
                    if multiclass else f"binary targets of shape {pred.shape}")
        raise ValueError(f"Expected {expected} for the 'accuracy' metric of {kind} outputs of shape {pred.shape}, "
                         f"got targets of shape {target.shape}.")
    return _pool(hits.astype(np.float64), mask)


def mae(pred: np.ndarray, target: np.ndarray, mask: np.ndarray | None = None) -> tuple[float, int]:
    return _pool(np.abs(pred - np.asarray(target).reshape(pred.shape)), mask)


def mse(pred: np.ndarray, target: np.ndarray, mask: np.ndarray | None = None) -> tuple[float, int]:
    d = pred - np.asarray(target).reshape(pred.shape)
    return _pool(d * d, mask)


METRICS: dict[str, Callable] = {"accuracy": accuracy, "mae": mae, "mse": mse}


def check_metrics(names) -> tuple[str, ...]:
    names = (names,) if isinstance(names, str) else tuple(names)
    unknown = [m for m in names if m not in METRICS]
    if unknown:
        raise ConfigError(f"Unknown metrics {unknown}. Expected names among {', '.join(METRICS)}.")
    return names
