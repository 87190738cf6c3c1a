"""``Optimizer``: the loop shared by every update rule.

``step()`` visits every parameter of ``module`` by name and calls the rule's ``_update(p, g, state)``,
which changes the live array p in place from its gradient g. The per-parameter state (moment
estimates, momentum buffers, step counts) lives in ``optimizer.state[name]``, keyed by the
parameter's name, so it can be saved and restored with the model (see ``state_dict``).

Hyperparameters are plain attributes (``optimizer.lr``); learning-rate schedules change
``lr`` between steps. Optimizers never clear gradients: call ``zero_grad()`` before each
backward, as in PyTorch.
"""

from __future__ import annotations

import numbers
from typing import Any, Mapping

import numpy as np

from ..layers.module import Module


def check_hyper(value: Any, name: str, owner: str, low: float = 0.0, high: float | None = None,
                high_open: bool = True) -> float:
    """A real number in [low, high) (or [low, high] with ``high_open=False``)."""
    ok = isinstance(value, numbers.Real) and not isinstance(value, bool) and np.isfinite(value) and value >= low
    if ok and high is not None:
        ok = value < high if high_open else value <= high
    if not ok:
        upper = "inf)" if high is None else (f"{high})" if high_open else f"{high}]")
        raise ValueError(f"The '{name}' parameter of {owner} must be a float in [{low}, {upper}. Got {value!r} instead.")
    return float(value)


class Optimizer:
    """Base class. Subclasses set ``hyperparameters`` (names of the attributes that make up the
    configuration) and implement ``_update``."""

    hyperparameters: tuple[str, ...] = ("lr",)

    def __init__(self, module: Module) -> None:
        if not hasattr(module, "params") or not hasattr(module, "grads"):
            raise TypeError(f"Expected an rnnkit module with 'params' and 'grads' for {type(self).__name__}, "
                            f"got {type(module).__name__}.")
        self.module = module
        self.state: dict[str, dict[str, Any]] = {}
        self.steps = 0

    def step(self) -> None:
        """Update every parameter of the module in place from its gradient."""
        grads = self.module.grads
        for name, p in self.module.params.items():
            self._update(p, grads[name], self.state.setdefault(name, {}))
        self.steps += 1

    def _update(self, p: np.ndarray, g: np.ndarray, state: dict[str, Any]) -> None:  # pragma: no cover
        raise NotImplementedError

    def zero_grad(self) -> None:
        """Set the module's gradients to zero."""
        self.module.zero_grad()

    def get_config(self) -> dict[str, Any]:
        """The hyperparameters (current values: a schedule may have changed ``lr``)."""
        return {k: (list(v) if isinstance(v, tuple) else v) for k in self.hyperparameters
                for v in [getattr(self, k)]}

    def __repr__(self) -> str:
        return f"{type(self).__name__}({', '.join(f'{k}={v!r}' for k, v in self.get_config().items())})"

    # -- saving ---------------------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        """``{"class_name", "config", "steps", "state": {param name: {slot: array or int}}}`` (copies)."""
        state = {name: {k: (v.copy() if isinstance(v, np.ndarray) else v) for k, v in s.items()}
                 for name, s in self.state.items()}
        return {"class_name": type(self).__name__, "config": self.get_config(), "steps": self.steps, "state": state}

    def load_state_dict(self, sd: Mapping[str, Any]) -> None:
        """Restore :meth:`state_dict` output: hyperparameters, step count and every buffer."""
        if sd.get("class_name") != type(self).__name__:
            raise ValueError(f"Expected an optimizer state of {type(self).__name__}, got one of {sd.get('class_name')!r}.")
        params = self.module.params
        unknown = [k for k in sd["state"] if k not in params]
        if unknown:
            raise ValueError(f"Optimizer state names parameters the module does not have: {unknown}. "
                             f"Expected names among {list(params)}.")
        for k, v in sd["config"].items():
            setattr(self, k, tuple(v) if isinstance(v, list) else v)
        self.steps = int(sd["steps"])
        self.state = {}
        for name, s in sd["state"].items():
            self.state[name] = {k: (np.array(v, dtype=params[name].dtype) if isinstance(v, np.ndarray) else v)
                                for k, v in s.items()}
