"""``rnnkit.Linear``: the affine layer y = x @ W.T + b, the same as ``torch.nn.Linear``."""

from __future__ import annotations

from typing import Any, Iterator

import numpy as np

from .._checks import as_float_array, check_bool, check_dtype, check_positive_int, check_shape
from .._random import as_generator, seed_for_config
from .module import Module


class Linear(Module):
    """Affine map of the last axis, applied to every leading position::

        y = x @ W.T + b        W = weight (O, I), b = bias (O,)

    Shapes (I = in_features, O = out_features): x (..., I) -> y (..., O). A sequence batch
    (N, T, I) is mapped step by step to (N, T, O), exactly as ``torch.nn.Linear`` does.

    Backward (x2 = x reshaped to (M, I), dy2 = dy reshaped to (M, O))::

        dW += dy2.T @ x2        db += dy2.sum(0)        dx = dy @ W

    Args:
        in_features: I.
        out_features: O.
        bias: whether to learn b.
        dtype: ``"float32"`` or ``"float64"``.
        seed: int, ``numpy.random.Generator`` or None, for the initial weights.

    Initialisation (PyTorch's): W and b ~ U(-1/sqrt(I), 1/sqrt(I)).
    """

    _saved_attr = "_x"

    def __init__(
        self,
        in_features: int,
        out_features: int,
        bias: bool = True,
        *,
        dtype: str | np.dtype = "float32",
        seed: int | np.random.Generator | None = None,
    ) -> None:
        self.in_features = check_positive_int(in_features, "in_features", "Linear")
        self.out_features = check_positive_int(out_features, "out_features", "Linear")
        self.bias = check_bool(bias, "bias", "Linear")
        self.dtype = check_dtype(dtype, "Linear")
        self._seed = seed_for_config(seed)
        rng = as_generator(seed)
        k = 1.0 / np.sqrt(self.in_features)
        params = {"weight": rng.uniform(-k, k, (self.out_features, self.in_features)).astype(self.dtype)}
        if self.bias:
            params["bias"] = rng.uniform(-k, k, self.out_features).astype(self.dtype)
        self._init_params(params)
        self._x: np.ndarray | None = None

    def get_config(self) -> dict[str, Any]:
        return dict(in_features=self.in_features, out_features=self.out_features, bias=self.bias,
                    dtype=self.dtype.name, seed=self._seed)

    @classmethod
    def param_shapes(cls, config: dict[str, Any]) -> Iterator[tuple[str, tuple[int, ...]]]:
        """``(name, shape)`` of the parameters of ``Linear(**config)`` without building it:
        weight (O, I), then bias (O,) if ``bias``. Arguments checked as the constructor does."""
        from .registry import constructor_arguments

        a = constructor_arguments(cls, config)
        I = check_positive_int(a["in_features"], "in_features", "Linear")
        O = check_positive_int(a["out_features"], "out_features", "Linear")
        yield "weight", (O, I)
        if check_bool(a["bias"], "bias", "Linear"):
            yield "bias", (O,)

    def output_shape(self, input_shape: tuple) -> tuple:
        return tuple(input_shape[:-1]) + (self.out_features,)

    def __repr__(self) -> str:
        return f"Linear({self.in_features}, {self.out_features}{'' if self.bias else ', bias=False'})"

    def forward(self, x: Any) -> np.ndarray:
        """x (..., I) -> y (..., O)."""
        x = as_float_array(x, "x", self.dtype)
        if x.ndim < 1 or x.shape[-1] != self.in_features:
            raise ValueError(
                f"Expected x with {self.in_features} features in its last axis (in_features), "
                f"got shape {x.shape}."
            )
        self._x = x if self._keeps_for_backward() else None
        y = x @ self.params["weight"].T
        if self.bias:
            y += self.params["bias"]
        return y

    def backward(self, dy: Any) -> np.ndarray:
        """dy = dL/dy (..., O) -> dx = dL/dx (..., I); adds dL/dW, dL/db into ``grads``."""
        x = self._saved_for_backward()
        dy = as_float_array(dy, "dy", self.dtype)
        check_shape(dy, x.shape[:-1] + (self.out_features,), "dy", "dy must have the shape of y.")
        self._x = None  # consumed: one backward per forward
        dy2 = dy.reshape(-1, self.out_features)
        self.grads["weight"] += dy2.T @ x.reshape(-1, self.in_features)
        if self.bias:
            self.grads["bias"] += dy2.sum(axis=0)
        return dy @ self.params["weight"]
