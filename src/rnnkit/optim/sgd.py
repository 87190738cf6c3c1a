"""``SGD``: stochastic gradient descent with momentum, Nesterov momentum and weight decay."""

from __future__ import annotations

from typing import Any

import numpy as np

from ..layers.module import Module
from .base import Optimizer, check_hyper


class SGD(Optimizer):
    """The update rule of ``torch.optim.SGD``, for each parameter p with gradient g::

        g = g + weight_decay * p                           (L2 penalty, added to the gradient)
        b = g                                  first step  (momentum buffer)
        b = momentum * b + (1 - dampening) * g  later steps
        g = g + momentum * b  if nesterov  else  b          (when momentum > 0)
        p = p - lr * g

    Args:
        module: the model whose ``params`` are updated from its ``grads``.
        lr: learning rate >= 0 (required here; recent ``torch.optim.SGD`` defaults to 1e-3).
        momentum, dampening, weight_decay: >= 0.
        nesterov: Nesterov momentum (needs momentum > 0 and dampening = 0).
    """

    hyperparameters = ("lr", "momentum", "dampening", "weight_decay", "nesterov")

    def __init__(self, module: Module, lr: float, momentum: float = 0.0, nesterov: bool = False,
                 weight_decay: float = 0.0, dampening: float = 0.0) -> None:
        super().__init__(module)
        self.lr = check_hyper(lr, "lr", "SGD")
        self.momentum = check_hyper(momentum, "momentum", "SGD")
        self.dampening = check_hyper(dampening, "dampening", "SGD")
        self.weight_decay = check_hyper(weight_decay, "weight_decay", "SGD")
        if not isinstance(nesterov, bool):
            raise TypeError(f"The 'nesterov' parameter of SGD must be a bool. Got {nesterov!r} instead.")
        if nesterov and (self.momentum <= 0 or self.dampening != 0):
            raise ValueError(f"Nesterov momentum needs momentum > 0 and dampening = 0. Got momentum="
                             f"{self.momentum}, dampening={self.dampening} instead.")
        self.nesterov = nesterov

    def _slots(self) -> tuple[str, ...]:
        return ("momentum_buffer",) if self.momentum else ()

    def _update(self, p: np.ndarray, g: np.ndarray, state: dict[str, Any]) -> None:
        if self.weight_decay:
            g = g + self.weight_decay * p
        if self.momentum:
            b = state.get("momentum_buffer")
            if b is None:
                b = state["momentum_buffer"] = g.copy()
            else:
                b *= self.momentum
                b += (1 - self.dampening) * g
            g = g + self.momentum * b if self.nesterov else b
        p -= self.lr * g
