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

import math
import numbers
from typing import Any, Mapping

import numpy as np

from ..errors import NonFiniteError
from ..layers.module import Module


def check_hyper(value: Any, name: str, owner: str, low: float = 0.0, high: float | None = None,
                high_open: bool = True, low_open: bool = False) -> float:
    """A finite real number in [low, high) (``low_open``: (low, ...; ``high_open=False``: ..., high])."""
    try:
        x = float(value) if isinstance(value, numbers.Real) and not isinstance(value, (bool, np.bool_)) else math.nan
    except (OverflowError, TypeError, ValueError):  # an int beyond float's range
        x = math.nan
    ok = math.isfinite(x) and (x > low if low_open else x >= low)
    if ok and high is not None:
        ok = x < high if high_open else x <= high
    if not ok:
        upper = "inf)" if high is None else (f"{high})" if high_open else f"{high}]")
        raise ValueError(f"The '{name}' parameter of {owner} must be a float in {'(' if low_open else '['}{low}, "
                         f"{upper}. Got {value!r} instead.")
    return x


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
            ValueError, TypeError: a parameter has no gradient in ``module.grads``, or one that is
                not a real array of its shape (nothing has changed).
            NonFiniteError: a gradient holds NaN or inf (its ``epoch`` and ``batch`` are None);
                no parameter and no state has changed.
        """
        params, grads = self.module.params, self.module.grads  # a Sequential builds both dicts anew: once
        self._check_grads(params, grads)
        bad = [name for name in params if not _all_finite(grads[name])]
        if bad:
            raise NonFiniteError(
                f"Expected finite gradients for {type(self).__name__}.step(), got NaN or inf in {bad}. "
                "Nothing was updated. Find where they come from (the loss, the inputs) or clip exploding "
                "gradients with rnnkit.optim.clip_grad_norm before they overflow.", None, None, "gradient")
        for name, p in params.items():
            self._update(p, grads[name], self.state.setdefault(name, {}))
        self.steps += 1

    def _check_grads(self, params: Mapping[str, np.ndarray], grads: Mapping[str, np.ndarray]) -> None:
        """A real array of its parameter's shape in ``grads`` for every parameter."""
        name = type(self).__name__
        missing = [k for k in params if k not in grads]
        if missing:
            raise ValueError(f"Expected a gradient for every parameter in {name}.step(), got none for {missing} "
                             f"(module.grads holds {list(grads)}). Give each parameter a gradient array of its "
                             "shape (zeros leave it to weight decay and momentum alone).")
        for k, p in params.items():
            g = grads[k]
            if not isinstance(g, np.ndarray) or g.dtype.kind not in "fiu":
                got = f"an array of {g.dtype}" if isinstance(g, np.ndarray) else type(g).__name__
                raise TypeError(f"Expected the gradient of '{k}' in {name}.step() to be a real NumPy array, "
                                f"got {got}.")
            if g.shape != p.shape:
                raise ValueError(f"Expected the gradient of '{k}' in {name}.step() to have its parameter's shape "
                                 f"{p.shape}, got {g.shape}.")

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

    #: buffers that are running averages of g * g (never negative: their root divides the step)
    _squares: tuple[str, ...] = ()

    def _checked_slot(self, pname: str, slot: str, v: Any, p: np.ndarray) -> Any:
        """One saved state entry: "step" an int >= 0, every other one a finite float array of the
        parameter's shape (cast to its dtype), non-negative for the squares."""
        where = f"Optimizer state '{slot}' of parameter '{pname}'"
        if slot == "step":
            if isinstance(v, (bool, np.bool_)) or not isinstance(v, numbers.Integral) or v < 0:
                raise ValueError(f"{where} must be an int >= 0 (the updates so far), got {v!r}.")
            return int(v)
        if not isinstance(v, np.ndarray) or v.dtype.kind != "f":
            got = f"an array of {v.dtype}" if isinstance(v, np.ndarray) else repr(v)[:80]
            raise ValueError(f"{where} must be a float array of the parameter's shape {p.shape}, got {got}.")
        if v.shape != p.shape:
            raise ValueError(f"{where} has shape {v.shape}, expected the parameter's shape {p.shape}: the state "
                             "was saved for another model.")
        with np.errstate(over="ignore"):
            v = np.array(v, dtype=p.dtype)
        if not np.isfinite(v).all():
            raise ValueError(f"{where} holds NaN or inf (in {p.dtype}): it would turn the weights into NaN.")
        if slot in self._squares and (v < 0).any():
            raise ValueError(f"{where} holds negative values; it is a running average of squared gradients "
                             "(>= 0), so the state is corrupt.")
        return v

    def load_state_dict(self, sd: Mapping[str, Any]) -> None:
        """Restore :meth:`state_dict` output: hyperparameters, step count and every buffer.

        Everything is checked before anything changes: the class, the hyperparameters (as the
        constructor checks them), parameter names, the entries of each parameter's state, each
        buffer (a finite float array of its parameter's shape; the squares of Adam and RMSprop
        not negative) and each "step" (an int >= 0).
        """
        name = type(self).__name__
        if not isinstance(sd, Mapping) or sd.get("class_name") != name:
            got = sd.get("class_name") if isinstance(sd, Mapping) else type(sd).__name__
            raise ValueError(f"Expected an optimizer state of {name}, got one of {got!r}.")
        missing = [k for k in ("config", "steps", "state") if k not in sd]
        if missing:
            raise ValueError(f"Expected an optimizer state with 'config', 'steps' and 'state' (from "
                             f"{name}.state_dict()), got one without {missing}.")
        if not isinstance(sd["config"], Mapping) or not isinstance(sd["state"], Mapping):
            raise ValueError(f"Expected 'config' and 'state' in an optimizer state to be dicts (from "
                             f"{name}.state_dict()), got {type(sd['config']).__name__} and "
                             f"{type(sd['state']).__name__}.")
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
            if not isinstance(s, Mapping):
                raise ValueError(f"Expected the optimizer state of parameter '{pname}' to be a dict of its buffers, "
                                 f"got {type(s).__name__}.")
            absent = [k for k in checked._slots() if k not in s] if s else []
            if absent:
                raise ValueError(f"Optimizer state of {name} for parameter '{pname}' lacks {absent} (it has "
                                 f"{sorted(s)}); expected {list(checked._slots())} with this configuration.")
            state[pname] = {k: self._checked_slot(pname, k, v, params[pname]) for k, v in s.items()}
        for k in self.hyperparameters:
            setattr(self, k, getattr(checked, k))
        self.steps = int(steps)
        self.state = state
