"""Learning-rate schedules, stepped once per epoch (as ``torch.optim.lr_scheduler``).

Each holds its optimizer and sets ``optimizer.lr``; e = the number of ``step()`` calls so far,
lr0 = the optimizer's learning rate when the schedule was created:

- :class:`StepLR`:            lr = lr0 * gamma ** (e // step_size)
- :class:`CosineAnnealingLR`: lr = eta_min + (lr0 - eta_min) * (1 + cos(pi * e / T_max)) / 2
- :class:`ReduceLROnPlateau`: lr = max(lr * factor, min_lr) after more than ``patience`` epochs
  without improvement of the monitored value (``step(value)``), then ``cooldown`` epochs of rest.

``state_dict()`` / ``load_state_dict()`` carry everything needed to resume (JSON-able);
``load_state_dict`` checks every entry (as the constructor does) before it changes anything.
"""

from __future__ import annotations

import math
import numbers
from typing import Any, Mapping

import numpy as np

from .base import Optimizer, check_hyper


def _check_count(value: Any, name: str, owner: str, low: int) -> int:
    """An int (Python or NumPy) >= low."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral) or value < low:
        raise ValueError(f"The '{name}' parameter of {owner} must be an int >= {low}. Got {value!r} instead.")
    return int(value)


class Schedule:
    """Base: remembers the optimizer, lr0 and the epoch count. Subclasses list their constructor
    arguments in ``_config`` (their state is those, ``base_lr``, ``epoch`` and ``_counters``)."""

    _config: tuple[str, ...] = ()
    _counters: tuple[str, ...] = ()

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

    def check_state(self, state: Any) -> dict[str, Any]:
        """``state`` (from :meth:`state_dict`) checked as the constructor checks its arguments,
        with every key present; nothing changes. Raises ValueError or TypeError."""
        name = type(self).__name__
        if not isinstance(state, Mapping):
            raise TypeError(f"Expected a {name} state (a dict from {name}.state_dict()), got {type(state).__name__}.")
        expected = set(self.state_dict())
        if set(state) != expected:
            raise ValueError(f"Expected a {name} state with the keys {sorted(expected)}, got one with "
                             f"{sorted(map(str, state))} (missing {sorted(expected - set(state))}, unexpected "
                             f"{sorted(map(str, set(state) - expected))}): was it saved from another schedule?")
        checked = type(self)(self.optimizer, **{k: state[k] for k in self._config})
        out = {k: getattr(checked, k) for k in self._config}
        out["base_lr"] = check_hyper(state["base_lr"], "base_lr", f"a {name} state")
        for k in ("epoch",) + self._counters:
            out[k] = _check_count(state[k], k, f"a {name} state", 0)
        return out

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Restore :meth:`state_dict` output; everything is checked (:meth:`check_state`) before
        anything changes. The optimizer's ``lr`` is restored with the optimizer's state."""
        for k, v in self.check_state(state).items():
            setattr(self, k, v)


class StepLR(Schedule):
    """Multiply the learning rate by ``gamma`` every ``step_size`` epochs."""

    _config = ("step_size", "gamma")

    def __init__(self, optimizer: Optimizer, step_size: int, gamma: float = 0.1) -> None:
        super().__init__(optimizer)
        self.step_size = _check_count(step_size, "step_size", "StepLR", 1)
        self.gamma = check_hyper(gamma, "gamma", "StepLR")

    def _lr(self) -> float:
        return self.base_lr * self.gamma ** (self.epoch // self.step_size)


class CosineAnnealingLR(Schedule):
    """Anneal from lr0 to ``eta_min`` along half a cosine over ``T_max`` epochs."""

    _config = ("T_max", "eta_min")

    def __init__(self, optimizer: Optimizer, T_max: int, eta_min: float = 0.0) -> None:
        super().__init__(optimizer)
        self.T_max = _check_count(T_max, "T_max", "CosineAnnealingLR", 1)
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
        self.mode, self.threshold_mode = mode, threshold_mode
        self.patience = _check_count(patience, "patience", "ReduceLROnPlateau", 0)
        self.cooldown = _check_count(cooldown, "cooldown", "ReduceLROnPlateau", 0)
        self.factor = check_hyper(factor, "factor", "ReduceLROnPlateau", 0.0, 1.0)
        self.threshold = check_hyper(threshold, "threshold", "ReduceLROnPlateau")
        self.min_lr = check_hyper(min_lr, "min_lr", "ReduceLROnPlateau")
        self.eps = check_hyper(eps, "eps", "ReduceLROnPlateau")
        self.best = math.inf if mode == "min" else -math.inf
        self.num_bad_epochs = 0
        self.cooldown_counter = 0

    _config = ("mode", "factor", "patience", "threshold", "threshold_mode", "cooldown", "min_lr", "eps")
    _counters = ("num_bad_epochs", "cooldown_counter")

    def check_state(self, state: Any) -> dict[str, Any]:
        out = super().check_state(state)
        best = state["best"]
        worst = math.inf if out["mode"] == "min" else -math.inf
        if isinstance(best, (bool, np.bool_)) or not isinstance(best, numbers.Real) or not (
                math.isfinite(best) or best == worst):
            raise ValueError(f"The 'best' entry of a ReduceLROnPlateau state (mode {out['mode']!r}) must be a finite "
                             f"float, or {worst} before the first step. Got {best!r} instead.")
        return {**out, "best": float(best)}

    def _better(self, value: float) -> bool:
        rel = self.threshold_mode == "rel"
        if self.mode == "min":
            return value < (self.best * (1 - self.threshold) if rel else self.best - self.threshold)
        return value > (self.best * (1 + self.threshold) if rel else self.best + self.threshold)

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
