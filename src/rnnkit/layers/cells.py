"""One-step cells ``RNNCell``, ``LSTMCell``, ``GRUCell``: the recurrent neuron, a step at a time.

A cell is its layer's kernel run over a single time step (T = 1), so cell and layer share one
implementation of the equations and of their gradients. Parameters carry PyTorch's cell names:
``weight_ih`` (G*H, I), ``weight_hh`` (G*H, H), ``bias_ih``, ``bias_hh`` (G*H,).

Backpropagation through time by hand, with the cache of every step kept by the caller::

    caches = []
    for t in range(T):
        h = cell(x[t], h)
        caches.append(cell.cache)
    dh = dL_dh_T
    for t in reversed(range(T)):
        dx[t], dh = cell.backward(dh + dy[t], cache=caches[t])
"""

from __future__ import annotations

from typing import Any, Callable, Iterator

import numpy as np

from .._checks import as_float_array, check_bool, check_choice, check_dtype, check_positive_int, check_state
from .._random import as_generator, seed_for_config
from ..kernels import gru_backward, gru_forward, lstm_backward, lstm_forward, rnn_backward, rnn_forward
from .init import INIT_SCHEMES, init_recurrent
from .module import Module

_LAST_FORWARD: Any = object()  # backward's default cache: the last forward's


class _Cell(Module):
    _gates = 1
    _state_names: tuple[str, ...] = ("h",)
    _forget_gate: int | None = None
    _forward_kernel: Callable
    _backward_kernel: Callable

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True, *, init: str = "pytorch",
                 dtype: str | np.dtype = "float32", seed: int | np.random.Generator | None = None,
                 **options: Any) -> None:
        name = type(self).__name__
        self.input_size = check_positive_int(input_size, "input_size", name)
        self.hidden_size = check_positive_int(hidden_size, "hidden_size", name)
        self.bias = check_bool(bias, "bias", name)
        self.init = check_choice(init, "init", name, INIT_SCHEMES)
        self.dtype = check_dtype(dtype, name)
        self.options = self._check_options(options)
        self._seed = seed_for_config(seed)
        rng = as_generator(seed)
        self._init_params(init_recurrent(self.init, self._gates, self.input_size, self.hidden_size,
                                         self.bias, rng, self.dtype, self._forget_gate))
        self.cache: dict | None = None

    def _check_options(self, options: dict[str, Any]) -> dict[str, Any]:
        return {}

    def get_config(self) -> dict[str, Any]:
        """Every constructor argument; ``from_config`` rebuilds the cell."""
        return dict(input_size=self.input_size, hidden_size=self.hidden_size, bias=self.bias,
                    init=self.init, dtype=self.dtype.name, seed=self._seed, **self.options)

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> "_Cell":
        return cls(**config)

    @classmethod
    def param_shapes(cls, config: dict[str, Any]) -> Iterator[tuple[str, tuple[int, ...]]]:
        """``(name, shape)`` of the parameters of ``cls.from_config(config)``, in the order of
        ``params``, without building the cell: weight_ih (G*H, I), weight_hh (G*H, H) and, with
        bias, bias_ih, bias_hh (G*H,). Shape-giving arguments are checked as the constructor does."""
        from .registry import constructor_arguments

        a, name = constructor_arguments(cls, config), cls.__name__
        I, H = (check_positive_int(a[k], k, name) for k in ("input_size", "hidden_size"))
        G = cls._gates
        yield from (("weight_ih", (G * H, I)), ("weight_hh", (G * H, H)))
        if check_bool(a["bias"], "bias", name):
            yield from (("bias_ih", (G * H,)), ("bias_hh", (G * H,)))

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.input_size}, {self.hidden_size}, bias={self.bias})"

    def _check_state(self, state: Any, N: int, unbatched: bool, name: str) -> tuple[np.ndarray, ...]:
        """Return the state as (N, H) arrays (one per state tensor); None means zeros."""
        H = self.hidden_size
        if state is None:
            return tuple(np.zeros((N, H), dtype=self.dtype) for _ in self._state_names)
        parts = check_state(state, self._state_names, (H,) if unbatched else (N, H), self.dtype,
                            name, type(self).__name__)
        return tuple(a.reshape(N, H) for a in parts)

    def forward(self, x: Any, state: Any = None) -> Any:
        """One step: x (N, I) or (I,) and the previous state -> the new state (same structure)."""
        x = as_float_array(x, "x", self.dtype)
        if x.ndim not in (1, 2) or x.shape[-1] != self.input_size:
            raise ValueError(f"Expected x of shape (N, {self.input_size}) or ({self.input_size},), got {x.shape}.")
        unbatched = x.ndim == 1
        x2 = x.reshape(1, -1) if unbatched else x
        N = x2.shape[0]
        if N == 0:  # as the layers and kernels: no empty batch (the RNN's and GRU's kernels failed in NumPy)
            raise ValueError(f"Expected x of shape (N, {self.input_size}) with at least one row (N >= 1), got "
                             f"{x.shape}.")
        state0 = tuple(s.T for s in self._check_state(state, N, unbatched, "state"))  # (H, N)
        p = self.params
        keep = self._keeps_for_backward()
        _, state1, cache = type(self)._forward_kernel(
            np.ascontiguousarray(x2.T[:, None, :]), state0, p["weight_ih"], p["weight_hh"],
            p.get("bias_ih"), p.get("bias_hh"), keep_cache=keep, check_args=False, **self.options)
        self.cache = {"kernel": cache, "unbatched": unbatched, "N": N} if keep else None
        out = tuple(s[:, 0].copy() if unbatched else np.ascontiguousarray(s.T) for s in state1)
        return out if len(out) == 2 else out[0]

    def backward(self, dstate: Any, cache: dict | None = _LAST_FORWARD) -> tuple[np.ndarray, Any]:
        """dL/d(new state) -> (dL/dx, dL/d(previous state)); adds parameter gradients to ``grads``.

        ``cache`` (default: the last forward's ``cell.cache``) selects which step to differentiate.
        None, the ``cell.cache`` of a step run under ``rnnkit.no_grad()``, raises RuntimeError.
        """
        if cache is None:
            raise RuntimeError(
                f"{type(self).__name__}.backward() got cache=None, which is the cell.cache of a step run "
                "under rnnkit.no_grad() (it keeps nothing for backward). Expected the cache of a step run "
                "outside no_grad(), or no cache argument for the last step."
            )
        cache = self.cache if cache is _LAST_FORWARD else cache
        if cache is None:
            raise self._nothing_to_differentiate(f"{type(self).__name__}.backward() was called before forward(). "
                                                 "Expected a forward step first.")
        self._check_own_cache(cache)
        if cache.get("consumed"):
            raise RuntimeError(f"{type(self).__name__}.backward() was called twice with the same cache. "
                               "Expected one backward per forward step: backward consumes the step's cache.")
        unbatched, N = cache["unbatched"], cache["N"]
        if dstate is None:
            raise ValueError("Expected 'dstate', the gradient of the loss w.r.t. the new state, got None.")
        ds = tuple(s.T for s in self._check_state(dstate, N, unbatched, "dstate"))
        dx, ds0, grads, _ = type(self)._backward_kernel(cache["kernel"], None, ds, check_args=False)
        cache["consumed"] = True
        for k, g in grads.items():
            self.grads[k] += g
        dx = dx[:, 0, 0].copy() if unbatched else np.ascontiguousarray(dx[:, 0].T)
        out = tuple(s[:, 0].copy() if unbatched else np.ascontiguousarray(s.T) for s in ds0)
        return dx, (out if len(out) == 2 else out[0])


    def _check_own_cache(self, cache: Any) -> None:
        """``cache`` is the ``cell.cache`` of a step of this very cell (its kernel cache holds this
        cell's weight arrays): another cell's would add that cell's gradients to this one's grads."""
        name = type(self).__name__
        kernel = cache.get("kernel") if isinstance(cache, dict) else None
        if not isinstance(kernel, dict) or kernel.get("W_ih") is not self.params["weight_ih"] \
                or kernel.get("W_hh") is not self.params["weight_hh"]:
            got = type(cache).__name__ if not isinstance(cache, dict) else "a dict that is not this cell's cache"
            raise ValueError(f"{name}.backward() got a cache that is not from a forward step of this cell: "
                             f"{got}. Expected the cell.cache of one of this {name}'s own steps (run with its "
                             "current weights), or no cache argument for the last step.")


class RNNCell(_Cell):
    """Elman cell: ``h' = phi(x @ W_ih.T + b_ih + h @ W_hh.T + b_hh)``, phi = tanh or relu.

    The same as ``torch.nn.RNNCell``. x (N, I) or (I,); h, h' (N, H) or (H,).
    ``cell(x, h=None) -> h'``; ``cell.backward(dh') -> (dx, dh)``.
    """

    _forward_kernel = staticmethod(rnn_forward)
    _backward_kernel = staticmethod(rnn_backward)

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True, nonlinearity: str = "tanh", *,
                 init: str = "pytorch", dtype: str | np.dtype = "float32",
                 seed: int | np.random.Generator | None = None) -> None:
        super().__init__(input_size, hidden_size, bias, init=init, dtype=dtype, seed=seed, nonlinearity=nonlinearity)

    def _check_options(self, options: dict[str, Any]) -> dict[str, Any]:
        return {"nonlinearity": check_choice(options.pop("nonlinearity"), "nonlinearity", "RNNCell", ("tanh", "relu"))}


class LSTMCell(_Cell):
    """LSTM cell, the same as ``torch.nn.LSTMCell`` (gates i, f, g, o)::

        a = x @ W_ih.T + b_ih + h @ W_hh.T + b_hh          (N, 4H)
        i, f, g, o = sigma(a_i), sigma(a_f), tanh(a_g), sigma(a_o)
        c' = f * c + i * g
        h' = o * tanh(c')

    ``cell(x, (h, c)=None) -> (h', c')``; ``cell.backward((dh', dc')) -> (dx, (dh, dc))``.
    Shapes: x (N, I) or (I,); h, c (N, H) or (H,).
    """

    _gates = 4
    _state_names = ("h", "c")
    _forget_gate = 1
    _forward_kernel = staticmethod(lstm_forward)
    _backward_kernel = staticmethod(lstm_backward)


class GRUCell(_Cell):
    """GRU cell (gates r, z, n); ``reset_after=True`` is ``torch.nn.GRUCell``::

        r = sigma(x @ W_ir.T + b_ir + h @ W_hr.T + b_hr)
        z = sigma(x @ W_iz.T + b_iz + h @ W_hz.T + b_hz)
        n = tanh(x @ W_in.T + b_in + r * (h @ W_hn.T + b_hn))   reset_after=True
        n = tanh(x @ W_in.T + b_in + (r * h) @ W_hn.T + b_hn)   reset_after=False (Cho et al. 2014)
        h' = (1 - z) * n + z * h

    ``cell(x, h=None) -> h'``; ``cell.backward(dh') -> (dx, dh)``. x (N, I) or (I,); h (N, H) or (H,).
    """

    _gates = 3
    _forward_kernel = staticmethod(gru_forward)
    _backward_kernel = staticmethod(gru_backward)

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True, *, reset_after: bool = True,
                 init: str = "pytorch", dtype: str | np.dtype = "float32",
                 seed: int | np.random.Generator | None = None) -> None:
        super().__init__(input_size, hidden_size, bias, init=init, dtype=dtype, seed=seed, reset_after=reset_after)

    def _check_options(self, options: dict[str, Any]) -> dict[str, Any]:
        return {"reset_after": check_bool(options.pop("reset_after"), "reset_after", "GRUCell")}
