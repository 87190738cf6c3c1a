"""``EpochStats``: the running sums of one epoch, pooled exactly over its batches.

The epoch's "loss" is the loss's own reduction over the whole epoch, so it does not depend on
how the data were cut into batches: for a loss with ``reduction="mean"`` (and any loss without a
``reduction`` attribute, such as a plain callable) the mean over every loss term of the epoch
(batch losses weighted by the number of terms they average: sequences, or valid steps for
per-step targets); for ``reduction="sum"`` the sum of the batch losses, i.e. the sum over every
loss term of the epoch. Metrics are pooled as means. "grad_norm" is the mean, "grad_norm_max"
the maximum, of the global gradient norm before clipping over the epoch's updates, and
"hidden_grad_norms" the root mean square over batches of ||dL/dh_t||.
Evaluation (validation data, ``evaluate``) pools its batches with the same sums.
"""

from __future__ import annotations

import functools
import math
from typing import Any

import numpy as np

from ..losses import reduction_of
from .batching import loss_terms
from .metrics import METRICS, is_multiclass


class EpochStats:
    """Running sums; ``loss``: the loss function, which fixes the reduction and which accuracy applies
    (:func:`~rnnkit.training.metrics.is_multiclass`)."""

    def __init__(self, metrics: tuple[str, ...] = (), loss: Any = None) -> None:
        self._bind(metrics, loss)
        self.loss_sum, self.terms, self.batches = 0.0, 0, 0
        self.metric_sums = {m: [0.0, 0] for m in metrics}
        self.norm_sum, self.norm_max, self.updates = 0.0, 0.0, 0
        self.hidden_sq: np.ndarray | None = None
        self.seconds = 0.0

    def _bind(self, metrics: Any, loss: Any) -> None:
        """What the loss fixes (not saved by :meth:`to_dict`): its reduction, and which accuracy
        applies (multi-class or binary), bound into the metric functions."""
        self._reduction = reduction_of(loss)
        multiclass = is_multiclass(loss)
        self._metric_fns = {m: functools.partial(METRICS[m], multiclass=multiclass) if m == "accuracy" else METRICS[m]
                            for m in metrics}

    def add_batch(self, loss: float, terms: int, metric_values: dict[str, tuple[float, int]],
                  hidden_sq: np.ndarray | None) -> None:
        self.loss_sum += loss if self._reduction == "sum" else loss * terms
        self.terms += terms
        self.batches += 1
        for m, (s, c) in metric_values.items():
            self.metric_sums[m][0] += s
            self.metric_sums[m][1] += c
        if hidden_sq is not None:
            if self.hidden_sq is None or self.hidden_sq.shape[1] < hidden_sq.shape[1]:
                grown = np.zeros(hidden_sq.shape)
                if self.hidden_sq is not None:
                    grown[:, : self.hidden_sq.shape[1]] = self.hidden_sq
                self.hidden_sq = grown
            self.hidden_sq[:, : hidden_sq.shape[1]] += hidden_sq

    def add_outputs(self, loss: float, pred: np.ndarray, target: np.ndarray, mask: np.ndarray | None,
                    per_step: bool, hidden_sq: np.ndarray | None = None) -> None:
        """:meth:`add_batch` from a batch's loss, outputs ``pred`` (N, ...) or (N, T, ...) and
        targets: its number of loss terms and its metrics are computed here (``mask`` (N, T): the
        valid steps of per-step outputs, None for all)."""
        metric_values = {m: f(pred, target, mask) for m, f in self._metric_fns.items()}
        self.add_batch(loss, loss_terms(per_step, pred.shape, mask), metric_values, hidden_sq)

    def add_update(self, grad_norm: float) -> None:
        self.norm_sum += grad_norm
        self.norm_max = max(self.norm_max, grad_norm)
        self.updates += 1

    @property
    def loss(self) -> float:
        if self._reduction == "sum":
            return self.loss_sum if self.batches else math.nan
        return self.loss_sum / self.terms if self.terms else math.nan

    def means(self) -> dict[str, float]:
        """``{"loss": ..., <metric>: ...}``: the pooled loss and metric means over the batches added so far."""
        out = {"loss": self.loss}
        for m, (s, c) in self.metric_sums.items():
            out[m] = s / c if c else math.nan
        return out

    def summary(self) -> dict[str, Any]:
        out: dict[str, Any] = self.means()
        out["grad_norm"] = self.norm_sum / self.updates if self.updates else math.nan
        out["grad_norm_max"] = self.norm_max
        if self.hidden_sq is not None:
            out["hidden_grad_norms"] = np.sqrt(self.hidden_sq / self.batches)
        out["time"] = self.seconds
        return out

    def to_dict(self) -> dict[str, Any]:
        """The running sums as JSON data (for a checkpoint taken mid-epoch)."""
        d = {k: v for k, v in vars(self).items() if not k.startswith("_")}
        d["hidden_sq"] = None if self.hidden_sq is None else self.hidden_sq.tolist()
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any], loss: Any = None) -> "EpochStats":
        """Back from :meth:`to_dict`, for the run's ``loss``."""
        s = cls(tuple(d["metric_sums"]), loss)
        s.__dict__.update({k: v for k, v in d.items() if not k.startswith("_")})
        s.hidden_sq = None if d["hidden_sq"] is None else np.asarray(d["hidden_sq"], dtype=np.float64)
        return s
