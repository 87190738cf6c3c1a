"""Inference and evaluation in evaluation mode (dropout off) and under ``no_grad`` (no caches kept
for a backward), batch by batch."""

from __future__ import annotations

from typing import Any, Callable, Iterable

import numpy as np

from .. import losses
from .._checks import check_positive_int
from ..layers.embedding import Embedding
from ..layers.grad_mode import evaluating
from ..layers.sequential import Sequential, leaf_layers
from .batching import Dataset, batch_indices, prepare, step_mask
from .epoch_stats import EpochStats
from .metrics import check_metrics


def is_sequence_input(model: Sequential, X: Any) -> bool:
    """Whether X has a time axis: a list of sequences, rank 3, or (N, T) ids for an Embedding."""
    if isinstance(X, (list, tuple)):
        return True
    ndim = np.ndim(X)
    return ndim == 3 or (ndim == 2 and isinstance(leaf_layers(model.layers)[0], Embedding))


def is_per_step(model: Sequential, sequence_input: bool) -> bool:
    """Per-step outputs (and targets): sequence input and no layer that reduces the time axis
    (one whose class sets ``reduces_time = True``: LastStep, TimePool), nested ones included."""
    return sequence_input and not any(getattr(layer, "reduces_time", False) for layer in leaf_layers(model.layers))


def evaluate_dataset(model: Sequential, data: Dataset, loss_fn: Callable, metrics: tuple[str, ...],
                     per_step: bool, batch_size: int) -> dict[str, float]:
    """The loss pooled over all loss terms and the metrics (as :class:`EpochStats`), in evaluation mode."""
    stats = EpochStats(metrics, loss_fn)
    with evaluating(model):
        for idx in batch_indices(len(data), batch_size, None):
            batch = data.take(idx, per_step=per_step)
            out = model(batch.X, lengths=batch.lengths)
            mask = step_mask(batch.lengths, len(idx), out.shape[1]) if per_step else None
            value, _ = losses.checked_call(loss_fn, out, batch.y, mask)
            stats.add_outputs(value, out, batch.y, mask, per_step)
    return stats.means()


def predict(model: Sequential, X: Any, lengths: Any = None, batch_size: int = 256) -> np.ndarray:
    """The model's outputs for X (array or list of sequences), in evaluation mode.

    Per-step outputs of a list of sequences come padded to (N, max T_n, ...); entries at steps
    t >= T_n are padding, not predictions.
    """
    batch_size = check_positive_int(batch_size, "batch_size", "predict")
    seq = is_sequence_input(model, X)
    n = len(X)
    data = prepare(X, np.zeros(n), lengths, seq)
    outs = []
    with evaluating(model):
        for idx in batch_indices(n, batch_size, None):
            outs.append((idx, model(data.X[idx], lengths=None if data.lengths is None else data.lengths[idx])))
    first = outs[0][1]
    result = np.zeros((n,) + first.shape[1:], dtype=first.dtype)
    for idx, o in outs:
        result[idx] = o
    return result


def evaluate(model: Sequential, X: Any, y: Any, lengths: Any = None, *, loss: Any = "mse",
             metrics: Iterable[str] = (), batch_size: int = 256) -> dict[str, float]:
    """``{"loss": ..., <metric>: ...}`` over (X, y) in evaluation mode."""
    batch_size = check_positive_int(batch_size, "batch_size", "evaluate")
    seq = is_sequence_input(model, X)
    data = prepare(X, y, lengths, seq)
    return evaluate_dataset(model, data, losses.get(loss), check_metrics(metrics), is_per_step(model, seq), batch_size)
