"""``RMSprop``: divide the gradient by a running root mean square of recent gradients."""

from __future__ import annotations

from typing import Any

import numpy as np

from ..layers.module import Module
from .base import Optimizer, check_hyper


class RMSprop(Optimizer):
    """The update rule of ``torch.optim.RMSprop``, for each parameter p with gradient g::

        g = g + weight_decay * p
        s = alpha * s + (1 - alpha) * g * g                  (square average, starts at 0)
        a = a + (1 - alpha) * (g - a)   and   r = sqrt(max(s - a * a, 0)) + eps    (centered)
        r = sqrt(s) + eps                                                 (not centered)
        b = momentum * b + g / r;  p = p - lr * b           (momentum > 0; b starts at 0)
        p = p - lr * g / r                                  (momentum = 0)

    Args:
        module: the model whose ``params`` are updated from its ``grads``.
        lr: default 1e-2 (PyTorch's). alpha: smoothing in [0, 1]. eps: > 0, added to the root.
        weight_decay, momentum: >= 0. centered: normalise by the estimated variance instead.
    """

    hyperparameters = ("lr", "alpha", "eps", "weight_decay", "momentum", "centered")

    def __init__(self, module: Module, lr: float = 1e-2, alpha: float = 0.99, eps: float = 1e-8,
                 weight_decay: float = 0.0, momentum: float = 0.0, centered: bool = False) -> None:
        super().__init__(module)
        self.lr = check_hyper(lr, "lr", "RMSprop")
        self.alpha = check_hyper(alpha, "alpha", "RMSprop", 0.0, 1.0, high_open=False)
        self.eps = check_hyper(eps, "eps", "RMSprop", low_open=True)  # eps = 0: 0 / 0 where g and s are 0
        self.weight_decay = check_hyper(weight_decay, "weight_decay", "RMSprop")
        self.momentum = check_hyper(momentum, "momentum", "RMSprop")
        if not isinstance(centered, bool):
            raise TypeError(f"The 'centered' parameter of RMSprop must be a bool. Got {centered!r} instead.")
        self.centered = centered

    _squares = ("square_avg",)

    def _slots(self) -> tuple[str, ...]:
        return (("step", "square_avg") + (("momentum_buffer",) if self.momentum > 0 else ())
                + (("grad_avg",) if self.centered else ()))

    def _update(self, p: np.ndarray, g: np.ndarray, state: dict[str, Any]) -> None:
        if not state:
            state.update(step=0, square_avg=np.zeros_like(p))
        for slot in self._slots()[2:]:  # also when momentum or centered are turned on mid-run
            if slot not in state:
                state[slot] = np.zeros_like(p)
        state["step"] += 1
        if self.weight_decay:
            g = g + self.weight_decay * p
        s = state["square_avg"]
        s *= self.alpha
        s += (1 - self.alpha) * (g * g)
        if self.centered:
            a = state["grad_avg"]
            a += (1 - self.alpha) * (g - a)
            r = np.sqrt(np.maximum(s - a * a, 0.0))  # >= 0 but for rounding (torch: NaN weights)
        else:
            r = np.sqrt(s)
        r += self.eps
        if self.momentum > 0:
            b = state["momentum_buffer"]
            b *= self.momentum
            b += g / r
            p -= self.lr * b
        else:
            p -= self.lr * (g / r)
