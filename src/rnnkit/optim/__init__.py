"""Optimizers (the update rules of ``torch.optim``), gradient clipping and learning-rate schedules.

``Optimizer.step()`` updates ``module.params`` in place from ``module.grads``; state is kept per
parameter name. See :mod:`rnnkit.optim.base` for the loop and each class for its rule.
"""

from __future__ import annotations

from typing import Any

from ..errors import ConfigError
from .adam import Adam, AdamW
from .base import Optimizer
from .clip import clip_grad_norm, clip_grad_value, global_norm
from .rmsprop import RMSprop
from .schedules import CosineAnnealingLR, ReduceLROnPlateau, Schedule, StepLR
from .sgd import SGD

OPTIMIZERS: dict[str, type[Optimizer]] = {"sgd": SGD, "adam": Adam, "adamw": AdamW, "rmsprop": RMSprop}


def get(optimizer: Any, module: Any) -> Optimizer:
    """An optimizer bound to ``module`` from a name in ``OPTIMIZERS`` (PyTorch's defaults; SGD
    gets lr=0.01) or an existing optimizer (which must hold ``module``)."""
    if isinstance(optimizer, Optimizer):
        if optimizer.module is not module:
            raise ValueError("Expected an optimizer built for this model (Adam(model, ...)), got one that "
                             "holds another module.")
        return optimizer
    if isinstance(optimizer, str):
        cls = OPTIMIZERS.get(optimizer.lower())
        if cls is None:
            raise ConfigError(f"Unknown optimizer {optimizer!r}. Expected one of {', '.join(OPTIMIZERS)} "
                              "or an rnnkit.optim.Optimizer instance.")
        return cls(module, lr=0.01) if cls is SGD else cls(module)
    raise TypeError(f"Expected an optimizer name or an rnnkit.optim.Optimizer, got {type(optimizer).__name__}.")


__all__ = [
    "Optimizer", "SGD", "Adam", "AdamW", "RMSprop", "OPTIMIZERS", "get",
    "clip_grad_norm", "clip_grad_value", "global_norm",
    "Schedule", "StepLR", "CosineAnnealingLR", "ReduceLROnPlateau",
]
