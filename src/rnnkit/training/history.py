"""``History``: what ``fit`` returns: one value per epoch for every loss, metric and diagnostic.

``history.history`` maps names to lists (Keras's layout): "loss", "val_loss", the metrics
("accuracy", "val_accuracy", ...), "lr", "grad_norm" (mean over the epoch's updates of the
global gradient norm before clipping), "grad_norm_max", "time" (seconds) and
"hidden_grad_norms": for each epoch a (D, T) array, the root mean square over the epoch's
batches of ||dL/dh_t|| for the first layer of the first recurrent layer (D directions, T time
steps): how far back in time the error signal reaches. ``history["loss"]`` is a shortcut.
"""

from __future__ import annotations

from typing import Any

import numpy as np


class History:
    """Per-epoch records plus how training ended (``stop_reason``, ``best_epoch``)."""

    def __init__(self) -> None:
        self.history: dict[str, list[Any]] = {}
        self.epoch: list[int] = []
        self.stop_reason: str | None = None
        self.best_epoch: int | None = None

    def append(self, epoch: int, values: dict[str, Any]) -> None:
        """Record one epoch (1-based ``epoch``)."""
        self.epoch.append(epoch)
        for k, v in values.items():
            self.history.setdefault(k, []).append(v)

    def __getitem__(self, key: str) -> list[Any]:
        return self.history[key]

    def __contains__(self, key: str) -> bool:
        return key in self.history

    def __repr__(self) -> str:
        last = {k: v[-1] for k, v in self.history.items() if v and isinstance(v[-1], float)}
        return f"History(epochs={len(self.epoch)}, last={last}, stop_reason={self.stop_reason!r})"

    def to_dict(self) -> dict[str, Any]:
        """JSON-able form (arrays become nested lists)."""
        hist = {k: [v.tolist() if isinstance(v, np.ndarray) else v for v in vals] for k, vals in self.history.items()}
        return {"history": hist, "epoch": list(self.epoch), "stop_reason": self.stop_reason,
                "best_epoch": self.best_epoch}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "History":
        h = cls()
        h.history = {k: ([np.asarray(v) for v in vals] if k == "hidden_grad_norms" else list(vals))
                     for k, vals in d["history"].items()}
        h.epoch = [int(e) for e in d["epoch"]]
        h.stop_reason, h.best_epoch = d.get("stop_reason"), d.get("best_epoch")
        return h
