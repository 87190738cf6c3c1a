"""``FitOptions``: every option of ``fit`` in one place, checked once.

``model.fit(X, y, loss=..., optimizer=..., validation_data=..., **options)`` passes
``options`` here, so this dataclass is the single list of what ``fit`` accepts.
"""

from __future__ import annotations

import numbers
import os
from dataclasses import dataclass, fields
from typing import Any

import numpy as np

from .._checks import check_bool, check_finite_float, check_positive_int
from ..optim.schedules import Schedule
from .metrics import check_metrics


@dataclass
class FitOptions:
    """Options of ``fit`` (all keyword arguments).

    Attributes:
        epochs: passes over the training data.
        batch_size: sequences per update.
        shuffle: reshuffle the training data each epoch (seeded by ``seed``).
        seed: int, Generator or None: the shuffling stream (saved in checkpoints).
        metrics: names from :mod:`rnnkit.training.metrics` ("accuracy", "mae", "mse").
        validation_split: fraction of the data (the last samples, before shuffling) held out
            for validation when no ``validation_data`` is given.
        clip_norm: clip gradients to this global norm before each update (None = off).
        clip_value: clamp every gradient element to [-clip_value, clip_value] (None = off).
        tbptt: (k1, k2) for truncated BPTT (see :mod:`rnnkit.training.tbptt`), or None.
        patience: early stopping (None = off): training stops at the end of the epoch that makes
            ``patience`` epochs in a row without improvement of ``monitor`` over the best value so
            far (at least one), as Keras's ``EarlyStopping``: patience=0 and patience=1 stop at the
            first epoch without improvement, patience=2 after best, worse, worse.
            ``ReduceLROnPlateau`` keeps PyTorch's meaning (it acts after more than its patience).
        monitor: the history key to watch ("val_loss" if there is validation data, else "loss");
            keys containing "accuracy" are maximized, the others minimized.
        min_delta: the smallest change that counts as an improvement.
        restore_best_weights: with early stopping, end with the weights of the best epoch.
        checkpoint: path of a checkpoint file written after every epoch (and on Ctrl-C).
        resume: continue from ``checkpoint`` if that file exists (True), or from this path. A run
            that had stopped early (or had trained all ``epochs``) trains no further epochs: fit
            returns its history and ends with its final weights.
        scheduler: a schedule from :mod:`rnnkit.optim.schedules`, stepped after each epoch
            (ReduceLROnPlateau gets the monitored value).
        progress: show a progress bar (tqdm if installed, else a text line).
    """

    epochs: int = 1
    batch_size: int = 32
    shuffle: bool = True
    seed: int | np.random.Generator | None = None
    metrics: tuple[str, ...] = ()
    validation_split: float = 0.0
    clip_norm: float | None = None
    clip_value: float | None = None
    tbptt: tuple[int, int] | None = None
    patience: int | None = None
    monitor: str | None = None
    min_delta: float = 0.0
    restore_best_weights: bool = True
    checkpoint: str | os.PathLike | None = None
    resume: bool | str | os.PathLike = False
    scheduler: Schedule | None = None
    progress: bool = True

    def __post_init__(self) -> None:
        owner = "fit"
        self.epochs = check_positive_int(self.epochs, "epochs", owner)
        self.batch_size = check_positive_int(self.batch_size, "batch_size", owner)
        self.shuffle = check_bool(self.shuffle, "shuffle", owner)
        self.metrics = check_metrics(self.metrics)
        if not isinstance(self.validation_split, numbers.Real) or not 0 <= self.validation_split < 1:
            raise ValueError(f"The 'validation_split' parameter of fit must be a float in [0, 1). "
                             f"Got {self.validation_split!r} instead.")
        for name in ("clip_norm", "clip_value"):
            if getattr(self, name) is not None:
                setattr(self, name, check_finite_float(getattr(self, name), name, owner, low_open=True, hint="or None"))
        if self.tbptt is not None:
            t = self.tbptt
            if not isinstance(t, (tuple, list)) or len(t) != 2:
                raise ValueError(f"The 'tbptt' parameter of fit must be a pair (k1, k2) of ints >= 1. "
                                 f"Got {t!r} instead.")
            self.tbptt = (check_positive_int(t[0], "tbptt[0] (k1)", owner),
                          check_positive_int(t[1], "tbptt[1] (k2)", owner))
        if self.patience is not None:
            if not isinstance(self.patience, numbers.Integral) or isinstance(self.patience, bool) or self.patience < 0:
                raise ValueError(f"The 'patience' parameter of fit must be an int >= 0 or None. "
                                 f"Got {self.patience!r} instead.")
        if self.monitor is not None and not isinstance(self.monitor, str):
            raise TypeError(f"The 'monitor' parameter of fit must be a history key such as 'val_loss'. "
                            f"Got {self.monitor!r} instead.")
        self.min_delta = check_finite_float(self.min_delta, "min_delta", owner)
        self.restore_best_weights = check_bool(self.restore_best_weights, "restore_best_weights", owner)
        if self.checkpoint is not None and not isinstance(self.checkpoint, (str, os.PathLike)):
            raise TypeError(f"The 'checkpoint' parameter of fit must be a path. Got {self.checkpoint!r} instead.")
        if not isinstance(self.resume, (bool, str, os.PathLike)):
            raise TypeError(f"The 'resume' parameter of fit must be a bool or a path. Got {self.resume!r} instead.")
        if self.resume is True and self.checkpoint is None:
            raise ValueError("Expected a 'checkpoint' path with resume=True (or pass the path: resume='run.ckpt').")
        if self.scheduler is not None and not isinstance(self.scheduler, Schedule):
            raise TypeError(f"The 'scheduler' parameter of fit must be an rnnkit.optim schedule. "
                            f"Got {self.scheduler!r} instead.")
        self.progress = check_bool(self.progress, "progress", owner)

    @classmethod
    def from_kwargs(cls, kwargs: dict[str, Any]) -> "FitOptions":
        """Build from keyword arguments; unknown names raise TypeError listing the valid ones."""
        known = [f.name for f in fields(cls) if f.init]
        unknown = sorted(set(kwargs) - set(known))
        if unknown:
            raise TypeError(f"fit() got unexpected keyword arguments {unknown}. Expected among {known}.")
        return cls(**kwargs)
