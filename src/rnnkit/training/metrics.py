"""Metrics reported per epoch: each returns (sum, count) so batches can be pooled exactly.

- "accuracy": class ids as targets (shape = pred without its last axis) -> argmax(pred) == y;
  otherwise binary targets in [0, 1] with logits -> (pred > 0) == (y > 0.5).
- "mae", "mse": mean absolute / squared error.

``mask`` (the leading axes, e.g. (N, T) for per-step targets) selects what counts.
"""

from __future__ import annotations

from typing import Callable

import numpy as np

from ..errors import ConfigError


def _pool(values: np.ndarray, mask: np.ndarray | None) -> tuple[float, int]:
    if mask is None:
        return float(values.sum(dtype=np.float64)), values.size
    m = mask.reshape(mask.shape + (1,) * (values.ndim - mask.ndim))
    m = np.broadcast_to(m, values.shape)
    return float(values[m].sum(dtype=np.float64)), int(m.sum())


def accuracy(pred: np.ndarray, target: np.ndarray, mask: np.ndarray | None = None) -> tuple[float, int]:
    target = np.asarray(target)
    if target.shape == pred.shape[:-1] and pred.shape[-1] > 1:
        hits = pred.argmax(axis=-1) == target
    else:
        hits = (pred > 0) == (target.reshape(pred.shape) > 0.5)
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
