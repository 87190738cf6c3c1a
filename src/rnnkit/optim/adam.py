"""``Adam`` and ``AdamW``: adaptive moment estimation, with L2 or decoupled weight decay."""

from __future__ import annotations

from typing import Any

import numpy as np

from ..layers.module import Module
from .base import Optimizer, check_hyper


class Adam(Optimizer):
    """The update rule of ``torch.optim.Adam``, for each parameter p with gradient g, step k = 1, 2, ...::

        g = g + weight_decay * p                      (Adam: L2 penalty in the gradient)
        m = m + (1 - beta1) * (g - m)                 (= beta1 m + (1 - beta1) g)
        v = beta2 * v + (1 - beta2) * g * g
        v_max = max(v_max, v); use v_max for v        (amsgrad only)
        p = p - lr / (1 - beta1**k) * m / (sqrt(v) / sqrt(1 - beta2**k) + eps)

    m and v start at 0; the step count k is kept per parameter, as in PyTorch.

    Args:
        module: the model whose ``params`` are updated from its ``grads``.
        lr: learning rate (default 1e-3). betas: (beta1, beta2) in [0, 1). eps: > 0 (torch allows 0).
        weight_decay: L2 penalty coefficient (see :class:`AdamW` for the decoupled form).
        amsgrad: the AMSGrad variant.
    """

    hyperparameters = ("lr", "betas", "eps", "weight_decay", "amsgrad")
    _decoupled = False

    def __init__(self, module: Module, lr: float = 1e-3, betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8, weight_decay: float = 0.0, amsgrad: bool = False) -> None:
        super().__init__(module)
        name = type(self).__name__
        self.lr = check_hyper(lr, "lr", name)
        if not isinstance(betas, (tuple, list)) or len(betas) != 2:
            raise ValueError(f"The 'betas' parameter of {name} must be a pair (beta1, beta2). Got {betas!r} instead.")
        self.betas = (check_hyper(betas[0], "betas[0]", name, 0.0, 1.0),
                      check_hyper(betas[1], "betas[1]", name, 0.0, 1.0))
        self.eps = check_hyper(eps, "eps", name, low_open=True)  # eps = 0: 0 / 0 where g and v are 0
        self.weight_decay = check_hyper(weight_decay, "weight_decay", name)
        if not isinstance(amsgrad, bool):
            raise TypeError(f"The 'amsgrad' parameter of {name} must be a bool. Got {amsgrad!r} instead.")
        self.amsgrad = amsgrad

    _squares = ("exp_avg_sq", "max_exp_avg_sq")

    def _slots(self) -> tuple[str, ...]:
        return ("step", "exp_avg", "exp_avg_sq") + (("max_exp_avg_sq",) if self.amsgrad else ())

    def _update(self, p: np.ndarray, g: np.ndarray, state: dict[str, Any]) -> None:
        beta1, beta2 = self.betas
        if not state:
            state.update(step=0, exp_avg=np.zeros_like(p), exp_avg_sq=np.zeros_like(p))
        if self.amsgrad and "max_exp_avg_sq" not in state:  # also when amsgrad is turned on mid-run
            state["max_exp_avg_sq"] = np.zeros_like(p)
        state["step"] += 1
        k = state["step"]
        if self.weight_decay:
            if self._decoupled:
                p *= 1 - self.lr * self.weight_decay
            else:
                g = g + self.weight_decay * p
        m, v = state["exp_avg"], state["exp_avg_sq"]
        m += (1 - beta1) * (g - m)
        v *= beta2
        v += (1 - beta2) * (g * g)
        if self.amsgrad:
            np.maximum(state["max_exp_avg_sq"], v, out=state["max_exp_avg_sq"])
            v = state["max_exp_avg_sq"]
        step_size = self.lr / (1 - beta1 ** k)
        denom = np.sqrt(v) / (1 - beta2 ** k) ** 0.5 + self.eps
        p -= step_size * (m / denom)


class AdamW(Adam):
    """Adam with decoupled weight decay (``torch.optim.AdamW``, Loshchilov & Hutter)::

        p = p * (1 - lr * weight_decay)               (before the Adam step, not in g)

    followed by the :class:`Adam` update without the L2 term. Default weight_decay = 1e-2.
    """

    _decoupled = True

    def __init__(self, module: Module, lr: float = 1e-3, betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8, weight_decay: float = 1e-2, amsgrad: bool = False) -> None:
        super().__init__(module, lr, betas, eps, weight_decay, amsgrad)
