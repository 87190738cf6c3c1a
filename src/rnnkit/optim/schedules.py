"""Learning-rate schedules, stepped once per epoch (as ``torch.optim.lr_scheduler``).

Each holds its optimizer and sets ``optimizer.lr``; e = the number of ``step()`` calls so far,
lr0 = the optimizer's learning rate when the schedule was created:

- :class:`StepLR`:            lr = lr0 * gamma ** (e // step_size)
- :class:`CosineAnnealingLR`: lr = eta_min + (lr0 - eta_min) * (1 + cos(pi * e / T_max)) / 2
- :class:`ReduceLROnPlateau`: lr = max(lr * factor, min_lr) after more than ``patience`` epochs
  without improvement of the monitored value (``step(value)``), then ``cooldown`` epochs of rest.

``state_dict()`` / ``load_state_dict()`` carry everything needed to resume (JSON-able).
"""

from __future__ import annotations

import math
import numbers
from typing import Any

from .base import Optimizer, check_hyper


class Schedule:
    """Base: remembers the optimizer, lr0 and the epoch count."""

    def __init__(self, optimizer: Optimizer) -> None:
        if not isinstance(optimizer, Optimizer):
            raise TypeError(f"Expected an rnnkit optimizer for {type(self).__name__}, got {type(optimizer).__name__}.")
        self.optimizer = optimizer
        self.base_lr = optimizer.lr
        self.epoch = 0

    def step(self, value: float | None = None) -> None:
        """Advance one epoch and set ``optimizer.lr``."""
        self.epoch += 1
        self.optimizer.lr = self._lr()

    def _lr(self) -> float:  # pragma: no cover - abstract
        raise NotImplementedError

    def state_dict(self) -> dict[str, Any]:
        return {k: v for k, v in vars(self).items() if k != "optimizer"}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        for k, v in state.items():
            if k not in vars(self):
                raise ValueError(f"Unexpected key {k!r} in a {type(self).__name__} state; expected {sorted(self.state_dict())}.")
            setattr(self, k, v)


class StepLR(Schedule):
    """Multiply the learning rate by ``gamma`` every ``step_size`` epochs."""

    def __init__(self, optimizer: Optimizer, step_size: int, gamma: float = 0.1) -> None:
        super().__init__(optimizer)
        if not isinstance(step_size, int) or isinstance(step_size, bool) or step_size < 1:
            raise ValueError(f"The 'step_size' parameter of StepLR must be an int >= 1. Got {step_size!r} instead.")
        self.step_size = step_size
        self.gamma = check_hyper(gamma, "gamma", "StepLR")

    def _lr(self) -> float:
        return self.base_lr * self.gamma ** (self.epoch // self.step_size)


class CosineAnnealingLR(Schedule):
    """Anneal from lr0 to ``eta_min`` along half a cosine over ``T_max`` epochs."""

    def __init__(self, optimizer: Optimizer, T_max: int, eta_min: float = 0.0) -> None:
        super().__init__(optimizer)
        if not isinstance(T_max, int) or isinstance(T_max, bool) or T_max < 1:
            raise ValueError(f"The 'T_max' parameter of CosineAnnealingLR must be an int >= 1. Got {T_max!r} instead.")
        self.T_max = T_max
        self.eta_min = check_hyper(eta_min, "eta_min", "CosineAnnealingLR")

    def _lr(self) -> float:
        return self.eta_min + (self.base_lr - self.eta_min) * (1 + math.cos(math.pi * self.epoch / self.T_max)) / 2


class ReduceLROnPlateau(Schedule):
    """Cut the learning rate when a monitored value stops improving.

    Improvement (mode "min", threshold_mode "rel"): value < best * (1 - threshold); "abs":
    value < best - threshold; mode "max" mirrors both. After more than ``patience`` epochs
    without improvement, lr = max(lr * factor, min_lr) (skipped if the change is < eps) and
    ``cooldown`` epochs follow in which bad epochs are not counted.
    """

    def __init__(self, optimizer: Optimizer, mode: str = "min", factor: float = 0.1, patience: int = 10,
                 threshold: float = 1e-4, threshold_mode: str = "rel", cooldown: int = 0,
                 min_lr: float = 0.0, eps: float = 1e-8) -> None:
        super().__init__(optimizer)
        if mode not in ("min", "max"):
            raise ValueError(f"The 'mode' parameter of ReduceLROnPlateau must be 'min' or 'max'. Got {mode!r} instead.")
        if threshold_mode not in ("rel", "abs"):
            raise ValueError("The 'threshold_mode' parameter of ReduceLROnPlateau must be 'rel' or 'abs'. "
                             f"Got {threshold_mode!r} instead.")
        for name, v in (("patience", patience), ("cooldown", cooldown)):
            if not isinstance(v, int) or isinstance(v, bool) or v < 0:
                raise ValueError(f"The '{name}' parameter of ReduceLROnPlateau must be an int >= 0. Got {v!r} instead.")
        self.mode, self.threshold_mode, self.patience, self.cooldown = mode, threshold_mode, patience, cooldown
        self.factor = check_hyper(factor, "factor", "ReduceLROnPlateau", 0.0, 1.0)
        self.threshold = check_hyper(threshold, "threshold", "ReduceLROnPlateau")
        self.min_lr = check_hyper(min_lr, "min_lr", "ReduceLROnPlateau")
        self.eps = check_hyper(eps, "eps", "ReduceLROnPlateau")
        self.best = math.inf if mode == "min" else -math.inf
        self.num_bad_epochs = 0
        self.cooldown_counter = 0

    def _better(self, value: float) -> bool:
        if self.mode == "min":
            return value < (self.best * (1 - self.threshold) if self.threshold_mode == "rel" else self.best - self.threshold)
        return value > (self.best * (1 + self.threshold) if self.threshold_mode == "rel" else self.best + self.threshold)

    def step(self, value: float | None = None) -> None:
        """Record this epoch's monitored ``value`` (required) and maybe cut the rate."""
        if not isinstance(value, numbers.Real) or isinstance(value, bool):
            raise TypeError(f"ReduceLROnPlateau.step() needs the monitored value, a float. Got {value!r} instead.")
        value = float(value)
        self.epoch += 1
        if self._better(value):
            self.best, self.num_bad_epochs = float(value), 0
        else:
            self.num_bad_epochs += 1
        if self.cooldown_counter > 0:
            self.cooldown_counter -= 1
            self.num_bad_epochs = 0
        if self.num_bad_epochs > self.patience:
            new_lr = max(self.optimizer.lr * self.factor, self.min_lr)
            if self.optimizer.lr - new_lr > self.eps:
                self.optimizer.lr = new_lr
            self.cooldown_counter, self.num_bad_epochs = self.cooldown, 0
