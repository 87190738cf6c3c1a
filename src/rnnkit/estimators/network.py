"""The networks behind the estimators and the one training recipe they share.

Each estimator builds a :class:`~rnnkit.Sequential` (so saving, loading and ``summary`` work
as for any model)::

    [Embedding(V, E)] -> RNN/LSTM/GRU(I, H, num_layers, bidirectional) -> reader -> [Dropout(p)] -> Linear(F, O)

where the reader is ``TimePool(modes)`` (classification: F = len(modes) * D * H),
``LastStep()`` (forecasting: F = D * H) or nothing (language model: one output per step,
F = D * H). ``dropout`` also acts between stacked recurrent layers.

Training (:func:`train_network`): Adam, gradient clipping to global norm 1, mini-batches
reshuffled each epoch, an optional warm-up without early stopping, then early stopping on the
validation loss; the model ends with the weights of the best epoch (by training loss when there
is no validation set).
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from ..layers import GRU, LSTM, RNN, Dropout, Embedding, LastStep, Linear, Sequential, TimePool
from ..optim import Adam
from ..training import History

_CELLS = {"lstm": LSTM, "gru": GRU, "rnn": RNN}

#: clip the global gradient norm to this before each update (exploding gradients through time)
CLIP_NORM = 1.0


def build_network(cell: str, input_size: int, hidden_size: int, num_layers: int, bidirectional: bool,
                  dropout: float, output_size: int, reader: str | Sequence[str] | None,
                  seeds: Sequence[int], embedding: tuple[int, int] | None = None) -> Sequential:
    """Build the stack in the module docstring.

    Args:
        cell: "lstm", "gru" or "rnn".
        input_size: I, features per step (ignored with ``embedding``).
        hidden_size, num_layers, bidirectional: of the recurrent layer.
        dropout: p in [0, 1), between recurrent layers and before the output layer.
        output_size: O.
        reader: "last" (LastStep), a list of TimePool modes, or None (per-step outputs).
        seeds: at least 4 ints: embedding, recurrent, dropout and output weights.
        embedding: (V, E) to start with an Embedding of V tokens into E dimensions.
    """
    layers: list[Any] = []
    if embedding is not None:
        layers.append(Embedding(embedding[0], embedding[1], seed=seeds[0]))
        input_size = embedding[1]
    layers.append(_CELLS[cell](input_size, hidden_size, num_layers, dropout=dropout if num_layers > 1 else 0.0,
                               bidirectional=bidirectional, seed=seeds[1]))
    features = hidden_size * (2 if bidirectional else 1)
    if reader == "last":
        layers.append(LastStep())
    elif reader is not None:
        pool = TimePool(reader, bidirectional=bidirectional)
        layers.append(pool)
        features *= len(pool.modes)
    if dropout > 0:
        layers.append(Dropout(dropout, seed=seeds[2]))
    layers.append(Linear(features, output_size, seed=seeds[3]))
    return Sequential(layers)


def train_network(model: Sequential, X: Any, y: Any, *, loss: str, lr: float, epochs: int, batch_size: int,
                  patience: int, validation_data: tuple | None, seed: int, verbose: bool,
                  warmup_updates: int = 0) -> dict[str, Any]:
    """Fit ``model`` with the shared recipe (module docstring); returns :func:`history_summary`.

    Early stopping may end training only after a warm-up of at least ``warmup_updates``
    optimizer steps (whole epochs): recurrent networks often sit on a plateau of chance-level
    loss for a while before they start to learn, and stopping there would keep an untrained
    network. Training runs in two calls of ``fit`` sharing one optimizer: the warm-up (no early
    stopping), then the rest with ``patience``. The model ends with the weights of the epoch of
    lowest validation loss (training loss without validation data) over both; after Ctrl-C, with
    the weights trained so far (even before the first epoch ends).
    """
    batch_size = int(min(batch_size, len(X)))
    per_epoch = -(-len(X) // batch_size)
    warm = min(epochs, -(-warmup_updates // per_epoch))
    monitor = "loss" if validation_data is None else "val_loss"
    common = dict(loss=loss, optimizer=Adam(model, lr=lr), validation_data=validation_data, batch_size=batch_size,
                  shuffle=True, clip_norm=CLIP_NORM, restore_best_weights=True, progress=verbose)
    parts = []
    if warm:   # patience = warm: never reached, but the best epoch's weights are restored
        parts.append(model.fit(X, y, epochs=warm, seed=seed, patience=warm, **common))
        weights = model.state_dict()
    if warm < epochs and not (parts and parts[0].stop_reason == "interrupted"):   # Ctrl-C ends both phases
        parts.append(model.fit(X, y, epochs=epochs - warm, seed=seed + 1, patience=patience, **common))
        if (warm and parts[1].stop_reason != "interrupted" and monitor in parts[1]
                and min(parts[1][monitor]) > min(parts[0][monitor])):
            model.load_state_dict(weights)
    return history_summary(parts, warm, monitor)


def history_summary(parts: list[History], warm: int, monitor: str) -> dict[str, Any]:
    """The JSON-able record of training kept as ``history_``: per-epoch "loss" (and
    "val_loss"), "epochs" run, "warmup_epochs", "best_epoch" (1-based: the epoch whose weights
    the model kept) and "stop_reason" ("completed", "early_stopping" or "interrupted").

    After Ctrl-C "best_epoch" is None: the model keeps the weights of the batches it trained on,
    no epoch's best (before the first epoch ends, "epochs" is 0 and the lists are empty)."""
    out: dict[str, Any] = {"epochs": sum(len(h.epoch) for h in parts), "warmup_epochs": warm,
                           "stop_reason": parts[-1].stop_reason}
    for key in ("loss", "val_loss") if monitor == "val_loss" else ("loss",):
        out[key] = [float(v) for h in parts if key in h for v in h[key]]
    interrupted = parts[-1].stop_reason == "interrupted"
    out["best_epoch"] = int(np.argmin(out[monitor])) + 1 if out[monitor] and not interrupted else None
    return out


def to_float32(a: np.ndarray) -> np.ndarray:
    """The networks compute in float32 (the layers' default dtype)."""
    return np.ascontiguousarray(a, dtype=np.float32)
