"""``rnnkit.Dropout``: inverted dropout, as ``torch.nn.Dropout``."""

from __future__ import annotations

from typing import Any

import numpy as np

from .._checks import check_probability, check_shape
from .._random import as_generator, seed_for_config
from .module import Module


class Dropout(Module):
    """Zero each element with probability p in training mode; scale the survivors by 1/(1-p)::

        m ~ Bernoulli(1 - p) / (1 - p)        y = x * m        dx = dy * m

    In evaluation mode (``eval()``) y = x. Shapes: x (...) -> y (...), the same.
    On a sequence batch (N, T, F) every step draws its own mask (as ``torch.nn.Dropout``);
    for one mask per sequence over time use the recurrent layers' ``recurrent_dropout``.

    Args:
        p: drop probability in [0, 1).
        seed: int, ``numpy.random.Generator`` or None: the mask stream. ``set_rng(seed)``
            restarts it.
    """

    _saved_attr = "_shape"  # (the mask is None where y = x)

    def __init__(self, p: float = 0.5, *, seed: int | np.random.Generator | None = None) -> None:
        self.p = check_probability(p, "p", "Dropout")
        self._seed = seed_for_config(seed)
        self._rng = as_generator(seed)
        self._init_params({})
        self._mask: np.ndarray | None = None
        self._shape: tuple[int, ...] | None = None

    def get_config(self) -> dict[str, Any]:
        return dict(p=self.p, seed=self._seed)

    def set_rng(self, seed: int | np.random.Generator | None) -> None:
        """Replace the generator that draws the masks."""
        self._rng = as_generator(seed)

    def output_shape(self, input_shape: tuple) -> tuple:
        return tuple(input_shape)

    def __repr__(self) -> str:
        return f"Dropout(p={self.p})"

    def forward(self, x: Any) -> np.ndarray:
        x = np.asarray(x)
        if x.dtype.kind != "f":
            raise TypeError(f"Expected 'x' to hold floating-point numbers, got dtype {x.dtype}.")
        keep = self._keeps_for_backward()
        self._shape, self._mask = (x.shape if keep else None), None
        if not self.training or self.p == 0.0:
            return x
        mask = (self._rng.random(x.shape) >= self.p).astype(x.dtype) / x.dtype.type(1 - self.p)
        if keep:
            self._mask = mask
        return x * mask

    def backward(self, dy: Any) -> np.ndarray:
        shape, mask = self._saved_for_backward(), self._mask
        dy = np.asarray(dy)
        check_shape(dy, shape, "dy", "dy must have the shape of y.")
        self._shape, self._mask = None, None  # consumed: one backward per forward
        return dy if mask is None else dy * mask
