"""``Optimizer``: the loop shared by every update rule.

``step()`` visits every parameter of ``module`` by name and calls the rule's ``_update(p, g, state)``,
which changes the live array p in place from its gradient g. The per-parameter state (moment
estimates, momentum buffers, step counts) lives in ``optimizer.state[name]``, keyed by the
parameter's name, so it can be saved and restored with the model (see ``state_dict``).

Hyperparameters are plain attributes (``optimizer.lr``); learning-rate schedules change
``lr`` between steps. Optimizers never clear gradients: call ``zero_grad()`` before each
backward, as in PyTorch.

Unlike ``torch.optim`` (which turns the weights into NaN), ``step()`` refuses NaN or infinite
gradients with :class:`~rnnkit.errors.NonFiniteError` before changing anything, so a hand-written
loop cannot silently train on them (``fit`` checks them earlier and names the epoch and batch).
"""

from __future__ import annotations

import numbers
from typing import Any, Mapping

import numpy as np

from ..errors import NonFiniteError
from ..layers.module import Module


def check_hyper(value: Any, name: str, owner: str, low: float = 0.0, high: float | None = None,
                high_open: bool = True) -> float:
    """A real number in [low, high) (or [low, high] with ``high_open=False``)."""
    ok = isinstance(value, numbers.Real) and not isinstance(value, bool) and np.isfinite(value) and value >= low
    if ok and high is not None:
        ok = value < high if high_open else value <= high
    if not ok:
        upper = "inf)" if high is None else (f"{high})" if high_open else f"{high}]")
        raise ValueError(f"The '{name}' parameter of {owner} must be a float in [{low}, {upper}. "
                         f"Got {value!r} instead.")
    return float(value)


def _all_finite(g: np.ndarray) -> bool:
    """Whether g holds no NaN or inf: one BLAS dot product g . g (finite for finite values unless
    their squares overflow, when the elementwise test decides)."""
    flat = g.ravel()
    with np.errstate(over="ignore", invalid="ignore"):
        return bool(np.isfinite(flat @ flat)) or bool(np.isfinite(flat).all())


class Optimizer:
    """Base class. Subclasses set ``hyperparameters`` (names of the attributes that make up the
    configuration) and implement ``_update``, the rule for one parameter."""

    hyperparameters: tuple[str, ...] = ("lr",)

    def __init__(self, module: Module) -> None:
        if not hasattr(module, "params") or not hasattr(module, "grads"):
            raise TypeError(f"Expected an rnnkit module with 'params' and 'grads' for {type(self).__name__}, "
                            f"got {type(module).__name__}.")
        self.module = module
        self.state: dict[str, dict[str, Any]] = {}
        self.steps = 0

    def step(self) -> None:
        """Update every parameter of the module in place from its gradient.

        Raises:
            NonFiniteError: a gradient holds NaN or inf (its ``epoch`` and ``batch`` are None);
                no parameter and no state has changed.
        """
        grads = self.module.grads
        bad = [name for name in self.module.params if not _all_finite(grads[name])]
        if bad:
            raise NonFiniteError(
                f"Expected finite gradients for {type(self).__name__}.step(), got NaN or inf in {bad}. "
                "Nothing was updated. Find where they come from (the loss, the inputs) or clip exploding "
                "gradients with rnnkit.optim.clip_grad_norm before they overflow.", None, None, "gradient")
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

    def _slots(self) -> tuple[str, ...]:
        """The state entries a parameter has once it has been updated (with the current
        hyperparameters); an empty state means "not updated yet"."""
        return ()

    def load_state_dict(self, sd: Mapping[str, Any]) -> None:
        """Restore :meth:`state_dict` output: hyperparameters, step count and every buffer.

        Everything is checked before anything changes: the class, the hyperparameters (as the
        constructor checks them), parameter names, the entries of each parameter's state and
        the shape of each buffer (that of its parameter).
        """
        name = type(self).__name__
        if not isinstance(sd, Mapping) or sd.get("class_name") != name:
            got = sd.get("class_name") if isinstance(sd, Mapping) else type(sd).__name__
            raise ValueError(f"Expected an optimizer state of {name}, got one of {got!r}.")
        missing = [k for k in ("config", "steps", "state") if k not in sd]
        if missing:
            raise ValueError(f"Expected an optimizer state with 'config', 'steps' and 'state' (from "
                             f"{name}.state_dict()), got one without {missing}.")
        config = dict(sd["config"])
        unknown = sorted(set(config) - set(self.hyperparameters))
        if unknown:
            raise ValueError(f"Optimizer state of {name} has unknown hyperparameters {unknown}. "
                             f"Expected names among {list(self.hyperparameters)}.")
        config = {**self.get_config(), **config}
        checked = type(self)(self.module, **{k: tuple(v) if isinstance(v, list) else v for k, v in config.items()})
        steps = sd["steps"]
        if isinstance(steps, (bool, np.bool_)) or not isinstance(steps, numbers.Integral) or steps < 0:
            raise ValueError(f"Expected 'steps' in an optimizer state to be an int >= 0, got {steps!r}.")
        params = self.module.params
        unknown = [k for k in sd["state"] if k not in params]
        if unknown:
            raise ValueError(f"Optimizer state names parameters the module does not have: {unknown}. "
                             f"Expected names among {list(params)}.")
        state: dict[str, dict[str, Any]] = {}
        for pname, s in sd["state"].items():
            absent = [k for k in checked._slots() if k not in s] if s else []
            if absent:
                raise ValueError(f"Optimizer state of {name} for parameter '{pname}' lacks {absent} (it has "
                                 f"{sorted(s)}); expected {list(checked._slots())} with this configuration.")
            state[pname] = {}
            for k, v in s.items():
                if isinstance(v, np.ndarray):
                    if v.shape != params[pname].shape:
                        raise ValueError(f"Optimizer state '{k}' of parameter '{pname}' has shape {v.shape}, "
                                         f"expected the parameter's shape {params[pname].shape}: the state "
                                         "was saved for another model.")
                    v = np.array(v, dtype=params[pname].dtype)
                state[pname][k] = v
        for k in self.hyperparameters:
            setattr(self, k, getattr(checked, k))
        self.steps = int(steps)
        self.state = state
