"""``RecurrentLayer``: the machinery shared by RNN, LSTM and GRU.

A layer stacks ``num_layers`` layers of ``D`` directions (D = 2 if bidirectional) and runs each
(layer, direction) through a pure kernel from :mod:`rnnkit.kernels`. It converts between the
user's layout and the kernels' feature-major (F, T, N) layout, sorts variable-length batches (see
:mod:`rnnkit.layers.packing`), draws dropout masks, and keeps the caches of the last forward so
that ``backward`` can run BPTT through it; apart from those and its recycled workspaces, nothing
survives between calls. Threads that call one layer at once take turns (a lock around forward
and backward), so each gets its own right output instead of writing the other's workspaces.
Training one layer from several threads at once is not supported: a backward differentiates
the layer's last forward, whichever thread ran it (give each thread ``copy.deepcopy(layer)``).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any, Callable, Iterator

import numpy as np

from .._checks import (
    as_float_array,
    check_bool,
    check_choice,
    check_dtype,
    check_lengths,
    check_positive_int,
    check_probability,
    check_shape,
    check_state,
)
from .._random import as_generator, seed_for_config
from ..kernels.common import copy_steps
from .init import INIT_SCHEMES, init_recurrent
from .module import Module
from .packing import Packing

# one layer and direction's gradients, as the kernels key them (the layer adds "_l{l}[_reverse]")
_GRAD_NAMES = ("weight_ih", "weight_hh", "bias_ih", "bias_hh")


@dataclass
class _Record:
    """What the last forward left for backward."""

    caches: list[dict]
    drop_masks: list[np.ndarray | None]
    own_inputs: list[bool]  # layer l's input is an array of the layer's own (backward may put dx there)
    packing: Packing | None
    unbatched: bool
    y_shape: tuple[int, ...]
    T: int
    N: int


def param_suffix(l: int, d: int) -> str:
    """PyTorch's suffix of the parameter names of layer ``l``, direction ``d``: "_l0", "_l1_reverse"."""
    return f"_l{l}{'_reverse' if d else ''}"


class RecurrentLayer(Module):
    """Base class; see :class:`rnnkit.RNN`, :class:`rnnkit.LSTM`, :class:`rnnkit.GRU`."""

    _gates: int = 1
    _state_names: tuple[str, ...] = ("h",)
    _forget_gate: int | None = None
    _forward_kernel: Callable
    _backward_kernel: Callable
    _saved_attr = "_record"

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        num_layers: int = 1,
        bias: bool = True,
        batch_first: bool = True,
        dropout: float = 0.0,
        bidirectional: bool = False,
        *,
        recurrent_dropout: float = 0.0,
        init: str = "pytorch",
        dtype: str | np.dtype = "float32",
        seed: int | np.random.Generator | None = None,
        **options: Any,
    ) -> None:
        name = type(self).__name__
        self.input_size = check_positive_int(input_size, "input_size", name)
        self.hidden_size = check_positive_int(hidden_size, "hidden_size", name)
        self.num_layers = check_positive_int(num_layers, "num_layers", name)
        self.bias = check_bool(bias, "bias", name)
        self.batch_first = check_bool(batch_first, "batch_first", name)
        self.dropout = check_probability(dropout, "dropout", name)
        self.bidirectional = check_bool(bidirectional, "bidirectional", name)
        self.recurrent_dropout = check_probability(recurrent_dropout, "recurrent_dropout", name)
        self.init = check_choice(init, "init", name, INIT_SCHEMES)
        self.dtype = check_dtype(dtype, name)
        self.options = self._check_options(options)
        self._seed = seed_for_config(seed)
        self._rng = as_generator(seed)
        self.num_directions = 2 if self.bidirectional else 1
        params = {}
        for l in range(self.num_layers):
            in_size = self.input_size if l == 0 else self.hidden_size * self.num_directions
            for d in range(self.num_directions):
                p = init_recurrent(self.init, self._gates, in_size, self.hidden_size, self.bias,
                                   self._rng, self.dtype, self._forget_gate)
                params.update({k + param_suffix(l, d): v for k, v in p.items()})
        self._init_params(params)
        self._record: _Record | None = None
        self._workspaces: dict[Any, dict] = {}  # arrays recycled between calls, see kernels.common.buffer
        self.hidden_grad_norms: np.ndarray | None = None

    # -- configuration -------------------------------------------------------------------
    def _check_options(self, options: dict[str, Any]) -> dict[str, Any]:
        """Validate cell-specific keyword options (RNN: nonlinearity, GRU: reset_after)."""
        if options:
            raise TypeError(f"{type(self).__name__} got unexpected keyword arguments {sorted(options)}.")
        return {}

    def get_config(self) -> dict[str, Any]:
        """Every constructor argument, JSON-serialisable; ``from_config`` rebuilds the layer."""
        return dict(
            input_size=self.input_size, hidden_size=self.hidden_size, num_layers=self.num_layers,
            bias=self.bias, batch_first=self.batch_first, dropout=self.dropout,
            bidirectional=self.bidirectional, recurrent_dropout=self.recurrent_dropout,
            init=self.init, dtype=self.dtype.name, seed=self._seed, **self.options,
        )

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> "RecurrentLayer":
        """Rebuild a layer from :meth:`get_config` output (weights are re-initialised)."""
        return cls(**config)

    @classmethod
    def param_shapes(cls, config: dict[str, Any]) -> Iterator[tuple[str, tuple[int, ...]]]:
        """``(name, shape)`` of every parameter of ``cls.from_config(config)``, in the order of
        ``params``, from the config alone (lazily; nothing is built or allocated). Per layer l and
        direction d, with I_l = I for l = 0 and D*H above::

            weight_ih{s} (G*H, I_l), weight_hh{s} (G*H, H), bias_ih{s}, bias_hh{s} (G*H,)  (if bias)

        s = param_suffix(l, d). The arguments that give shapes are checked as the constructor
        checks them (same errors)."""
        from .registry import constructor_arguments

        a, name = constructor_arguments(cls, config), cls.__name__
        I, H, L = (check_positive_int(a[k], k, name) for k in ("input_size", "hidden_size", "num_layers"))
        bias = check_bool(a["bias"], "bias", name)
        D = 2 if check_bool(a["bidirectional"], "bidirectional", name) else 1
        G = cls._gates
        for l in range(L):
            for d in range(D):
                s = param_suffix(l, d)
                yield "weight_ih" + s, (G * H, I if l == 0 else D * H)
                yield "weight_hh" + s, (G * H, H)
                if bias:
                    yield from (("bias_ih" + s, (G * H,)), ("bias_hh" + s, (G * H,)))

    def set_rng(self, seed: int | np.random.Generator | None) -> None:
        """Replace the generator that draws dropout masks (to replay the same masks)."""
        self._rng = as_generator(seed)

    def __repr__(self) -> str:
        cfg = self.get_config()
        extras = ", ".join(f"{k}={v!r}" for k, v in list(cfg.items())[2:] if k != "seed")
        return f"{type(self).__name__}({self.input_size}, {self.hidden_size}, {extras})"

    def _weights(self, l: int, d: int) -> tuple[np.ndarray | None, ...]:
        s = param_suffix(l, d)
        p = self.params
        return (p["weight_ih" + s], p["weight_hh" + s], p.get("bias_ih" + s), p.get("bias_hh" + s))

    # -- input checks ----------------------------------------------------------------------
    # Inside, sequences are (F, T, N) and states (L*D, H, N): see rnnkit.kernels.common.
    def _check_x(self, x: Any) -> tuple[np.ndarray, bool]:
        """Return x in the kernels' (I, T, N) layout and whether the input was unbatched."""
        x = as_float_array(x, "x", self.dtype)
        layout = "(N, T, I)" if self.batch_first else "(T, N, I)"
        if x.ndim not in (2, 3):
            raise ValueError(
                f"Expected x of rank 3 with layout {layout} (or rank 2, (T, I), for one unbatched "
                f"sequence), got rank {x.ndim} with shape {x.shape}."
            )
        if x.shape[-1] != self.input_size:
            raise ValueError(
                f"Expected x with {self.input_size} features in its last axis (input_size), "
                f"got shape {x.shape}."
            )
        x_k = self._seq_to_kernel(x)
        if x_k.shape[1] == 0 or x_k.shape[2] == 0:
            raise ValueError(f"Expected at least one sequence of at least one step, got x of shape {x.shape}.")
        return x_k, x.ndim == 2

    def _check_state(self, state: Any, N: int, unbatched: bool, name: str) -> list[np.ndarray]:
        """Return the state as a list of (L*D, H, N) arrays (one per state tensor)."""
        LD, H = self.num_layers * self.num_directions, self.hidden_size
        if state is None:
            return [np.zeros((LD, H, N), dtype=self.dtype) for _ in self._state_names]
        parts = check_state(state, self._state_names, (LD, H) if unbatched else (LD, N, H), self.dtype,
                            name, type(self).__name__,
                            "The state is (num_layers * num_directions, N, H); nothing is broadcast.")
        return [a[:, :, None] if unbatched else a.transpose(0, 2, 1) for a in parts]

    def _state_to_user(self, states: list[np.ndarray], unbatched: bool) -> Any:
        """(L*D, H, N) arrays -> the user's (L*D, N, H) (or (L*D, H)) state structure."""
        out = [s[:, :, 0].copy() if unbatched else np.ascontiguousarray(s.transpose(0, 2, 1)) for s in states]
        return out[0] if len(out) == 1 else tuple(out)

    def _seq_to_kernel(self, a: np.ndarray) -> np.ndarray:
        """The user's (N, T, F) / (T, N, F) / (T, F) sequence as a (F, T, N) view."""
        if a.ndim == 2:
            return a.T[:, :, None]
        return a.transpose(2, 1, 0) if self.batch_first else a.transpose(2, 0, 1)

    def _seq_to_user(self, a: np.ndarray, unbatched: bool) -> np.ndarray:
        """(F, T, N) -> the user's (N, T, F) / (T, N, F) / (T, F) layout, always a fresh array."""
        if unbatched:
            return np.ascontiguousarray(a[:, :, 0].T)
        F, T, N = a.shape
        out = np.empty((N, T, F) if self.batch_first else (T, N, F), dtype=a.dtype)
        copy_steps(self._seq_to_kernel(out), a)
        return out

    def _mask(self, user_shape: tuple[int, ...], axes: tuple[int, ...], p: float,
              packing: Packing | None) -> np.ndarray:
        """Inverted-dropout mask: 1/(1-p) with probability 1-p, else 0.

        Drawn per sequence in the user's batch order (``user_shape`` starts with N), then moved
        to the kernels' layout by ``axes`` and sorted like the batch.
        """
        keep = self._rng.random(user_shape) >= p
        m = (keep / (1 - p)).astype(self.dtype).transpose(axes)
        return m if packing is None else packing.sort(m)

    def _contiguous(self, a: np.ndarray, name: str) -> np.ndarray:
        """``a`` as a C-contiguous array in this layer's workspace (a copy: ``a`` is never written)."""
        out = self._workspaces.setdefault("io", {}).get(name)
        if out is None or out.shape != a.shape or out.dtype != a.dtype:
            out = self._workspaces["io"][name] = np.empty(a.shape, dtype=a.dtype)
        copy_steps(out, a)
        return out

    # -- forward / backward ----------------------------------------------------------------
    def _turn(self) -> threading.RLock:
        """The lock a call holds while it uses this layer's workspaces and caches (made on first
        use, and not pickled: see ``Module.__getstate__``)."""
        lock = self.__dict__.get("_lock")
        return lock if lock is not None else self.__dict__.setdefault("_lock", threading.RLock())

    def forward(self, x: Any, state: Any = None, lengths: Any = None) -> tuple[np.ndarray, Any]:
        """Run the layer over a batch of sequences; see the class docstring for shapes. Threads
        calling one layer take turns (see the module docstring)."""
        with self._turn():
            return self._forward(x, state, lengths)

    def _forward(self, x: Any, state: Any, lengths: Any) -> tuple[np.ndarray, Any]:
        x_k, unbatched = self._check_x(x)
        _, T, N = x_k.shape
        states = self._check_state(state, N, unbatched, "state")
        packing = None
        if lengths is not None:
            lens = check_lengths(lengths, N, T)
            if (lens < T).any():
                packing = Packing.from_lengths(lens, T)
                x_k = packing.zero_padding(packing.sort(x_k))  # a fresh array: padding may be NaN
                states = [packing.sort(s) for s in states]
        if packing is None:  # sorting already made a fresh array in the kernels' layout
            x_k = self._contiguous(x_k, "x")
        L, D, H = self.num_layers, self.num_directions, self.hidden_size
        batch_sizes = None if packing is None else packing.batch_sizes
        keep = self._keeps_for_backward()  # under rnnkit.no_grad(), the kernels keep no caches
        final = [np.empty_like(s) for s in states]
        caches, drop_masks = [], []
        layer_in = x_k
        own_inputs = [True]  # x_k: the layer's own copy (workspace or sorted)
        for l in range(L):
            outs = []
            for d in range(D):
                k = l * D + d
                rec_mask = None
                if self.training and self.recurrent_dropout > 0:
                    rec_mask = self._mask((N, H), (1, 0), self.recurrent_dropout, packing)
                y, state_T, cache = type(self)._forward_kernel(
                    layer_in, tuple(s[k] for s in states), *self._weights(l, d),
                    batch_sizes=batch_sizes, rec_mask=rec_mask, reverse=d == 1,
                    ws=self._workspaces.setdefault(k, {}), keep_cache=keep, check_args=False, **self.options)
                outs.append(y)
                for f, s in zip(final, state_T):
                    f[k] = s
                caches.append(cache)
            out = outs[0] if D == 1 else np.concatenate(outs, axis=0)
            drop = None
            if l < L - 1 and self.training and self.dropout > 0:
                drop = self._mask((N, T, D * H), (2, 1, 0), self.dropout, packing)
                out = out * drop
            drop_masks.append(drop)
            if l < L - 1:  # the next layer's input: a view of this layer's cache hs, unless a new array was made
                own_inputs.append(D > 1 or drop is not None or batch_sizes is not None)
            layer_in = out
        y = layer_in
        if packing is not None:
            y = packing.unsort(y)
            final = [packing.unsort(f) for f in final]
        y = self._seq_to_user(y, unbatched)
        self._record = _Record(caches, drop_masks, own_inputs, packing, unbatched, y.shape, T, N) if keep else None
        return y, self._state_to_user(final, unbatched)

    def _check_backward(self) -> None:
        if self._record is None:
            raise self._nothing_to_differentiate(
                f"{type(self).__name__}.backward() was called without a forward() to differentiate. "
                "Expected one forward() before each backward(): backward runs BPTT through the last "
                "forward call and consumes its cache (as PyTorch frees its graph)."
            )

    def backward(self, dy: Any, dstate: Any = None) -> tuple[np.ndarray, Any]:
        """BPTT through the last forward; see the class docstring for shapes."""
        with self._turn():
            return self._backward(dy, dstate)

    def _backward(self, dy: Any, dstate: Any) -> tuple[np.ndarray, Any]:
        rec = self._saved_for_backward()
        dy = as_float_array(dy, "dy", self.dtype)
        check_shape(dy, rec.y_shape, "dy", "dy must have the shape of the output y of forward().")
        dy_k = self._seq_to_kernel(dy)
        dstates = self._check_state(dstate, rec.N, rec.unbatched, "dstate")
        self._record = None  # consumed (the kernels overwrite parts of the cache)
        packing = rec.packing
        if packing is not None:
            dy_k = packing.sort(dy_k)
            dstates = [packing.sort(s) for s in dstates]
        # without lengths, dy_k is a view of the user's dy: the kernels read it as it is (the RNN's
        # C loop) or copy it once into their workspace, and never write it
        own_dy = packing is not None
        L, D, H = self.num_layers, self.num_directions, self.hidden_size
        dstate0 = [np.empty_like(s) for s in dstates]
        norms = np.zeros((L, D, rec.T), dtype=self.dtype)
        d_out = dy_k
        for l in reversed(range(L)):
            if rec.drop_masks[l] is not None:
                d_out, own_dy = d_out * rec.drop_masks[l], True
            d_in = None
            for d in range(D):
                k = l * D + d
                dy_d = d_out if D == 1 else d_out[d * H : (d + 1) * H]
                # dy_d may be written where it is our own array; so may x where own_inputs says
                # so, needed by no other direction after d
                suffix = param_suffix(l, d)
                into = {name: self.grads[name + suffix] for name in _GRAD_NAMES if name + suffix in self.grads}
                dx_d, ds0, _, dh_sq = type(self)._backward_kernel(
                    rec.caches[k], dy_d, tuple(s[k] for s in dstates), overwrite_dy=own_dy,
                    overwrite_x=rec.own_inputs[l] and d == D - 1, grads_into=into, check_args=False)
                for dst, v in zip(dstate0, ds0):
                    dst[k] = v
                norms[l, d] = np.sqrt(dh_sq.sum(axis=1))
                d_in = dx_d if d_in is None else np.add(dx_d, d_in, out=dx_d)
            d_out, own_dy = d_in, True
        self.hidden_grad_norms = norms
        if packing is not None:
            d_out = packing.unsort(d_out)
            dstate0 = [packing.unsort(s) for s in dstate0]
        return self._seq_to_user(d_out, rec.unbatched), self._state_to_user(dstate0, rec.unbatched)
