"""Helpers shared by the training-layer tests (layers around the RNNs, losses, optimizers,
Sequential, TBPTT, fit, files)."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import numerical_grad as numeric_grad  # one finite-difference routine for the suite


def assert_close(name, actual, expected, rtol=1e-6, atol=1e-8):
    """assert_allclose whose failure message starts with the tensor's name."""
    actual = np.asarray(actual, dtype=np.float64)
    expected = np.asarray(expected, dtype=np.float64)
    if actual.shape != expected.shape:
        pytest.fail(f"{name}: shape {actual.shape} != expected {expected.shape}")
    np.testing.assert_allclose(actual, expected, rtol=rtol, atol=atol, err_msg=f"{name} differs")


def check_module_grads(module, forward, x=None, rtol=1e-6, atol=1e-8, seed=0):
    """Finite-difference check of ``module`` under the loss L = sum(W * forward()), W random.

    ``forward()`` runs the module (reading the float64 array ``x`` if given) and returns its
    output. Checks dL/dx (what ``module.backward`` returns) and every entry of ``module.grads``.
    """
    rng = np.random.default_rng(seed)
    W = rng.standard_normal(np.shape(forward()))
    loss = lambda: float(np.sum(forward() * W))
    module.zero_grad()
    forward()
    dx = module.backward(W)
    grads = {k: g.copy() for k, g in module.grads.items()}
    if x is not None:
        assert_close("dx", dx, numeric_grad(loss, x), rtol, atol)
    for name, p in module.params.items():
        assert_close(f"grads[{name!r}]", grads[name], numeric_grad(loss, p), rtol, atol)
    return dx


def torch_tensor(a, requires_grad=False):
    import torch

    return torch.tensor(np.asarray(a), requires_grad=requires_grad)


def adding_problem(n: int, T: int, rng: np.random.Generator, dtype=np.float32):
    """The adding problem (Hochreiter & Schmidhuber 1997): channel 0 uniform in [0, 1], channel 1
    marks two steps; the target is the sum of the two marked values. Always predicting 1 gives
    an MSE of about 1/6 = 0.167."""
    x = np.zeros((n, T, 2), dtype=dtype)
    x[:, :, 0] = rng.uniform(0, 1, (n, T))
    marked = np.argsort(rng.random((n, T)), axis=1)[:, :2]
    x[np.arange(n)[:, None], marked, 1] = 1
    y = (x[:, :, 0] * x[:, :, 1]).sum(axis=1, keepdims=True)
    return x, y


def variable_length_task(n: int, rng: np.random.Generator, t_min: int = 4, t_max: int = 16):
    """Sequences (T_n, 3), T_n in t_min..t_max; the class is the channel with the largest sum."""
    xs, ys = [], []
    for _ in range(n):
        T = int(rng.integers(t_min, t_max + 1))
        x = rng.standard_normal((T, 3)).astype(np.float32) * 0.5
        c = int(rng.integers(3))
        x[:, c] += 0.4
        xs.append(x)
        ys.append(int(np.argmax(x.sum(axis=0))))
    return xs, np.array(ys)


class ParamsOnly:
    """The smallest module an optimizer accepts: named params (float64 copies) and zero grads."""

    def __init__(self, **params):
        self.params = {k: np.array(v, dtype=np.float64) for k, v in params.items()}
        self.grads = {k: np.zeros_like(v) for k, v in self.params.items()}


def params_module(seed=0):
    """A ParamsOnly with w (3, 4) and b (5,) drawn from a seeded generator."""
    rng = np.random.default_rng(seed)
    return ParamsOnly(w=rng.standard_normal((3, 4)), b=rng.standard_normal(5))
