"""``Module``: the parameter container every rnnkit layer derives from.

A module owns ``params`` (name -> live NumPy array) and ``grads`` (same keys, same shapes;
backward adds into them). Names follow PyTorch so that weights move between the two with
``state_dict`` / ``load_state_dict``.
"""

from __future__ import annotations

from typing import Any, Iterator, Mapping

import numpy as np

from .._checks import check_bool
from .grad_mode import is_grad_enabled


class Module:
    """Base class: parameters, gradients, train/eval mode, state dicts."""

    params: dict[str, np.ndarray]
    grads: dict[str, np.ndarray]
    training: bool
    #: whether ``forward`` accepts ``lengths=`` (``Sequential`` passes them on to such layers)
    takes_lengths: bool = False
    #: the attribute in which forward keeps what backward reads; backward sets it to None
    _saved_attr: str | None = None

    def _init_params(self, params: dict[str, np.ndarray]) -> None:
        """Install ``params`` (in PyTorch's key order) and matching zero gradients."""
        self.params = params
        self.grads = {k: np.zeros_like(v) for k, v in params.items()}
        self.training = True

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.forward(*args, **kwargs)

    def forward(self, *args: Any, **kwargs: Any) -> Any:  # pragma: no cover - abstract
        raise NotImplementedError

    def _keeps_for_backward(self) -> bool:
        """For a forward: whether it keeps what backward reads, False under ``rnnkit.no_grad()``.
        Remembered, so that a backward after it can say why it has nothing to differentiate."""
        self._forward_without_grad = not is_grad_enabled()
        return not self._forward_without_grad

    def _nothing_to_differentiate(self, message: str | None = None) -> RuntimeError:
        """The error of a backward() with no forward to differentiate: after a forward under
        ``no_grad``, else ``message`` (default: called before forward(), or a second time)."""
        name = type(self).__name__
        if getattr(self, "_forward_without_grad", False):
            return RuntimeError(
                f"{name}.backward() was called after a forward() under rnnkit.no_grad(), which keeps "
                "nothing for backward. Expected the forward to differentiate to run outside no_grad()."
            )
        if message is None and hasattr(self, "_forward_without_grad"):  # a forward ran: its backward too
            message = (f"{name}.backward() was called a second time after one forward(). Expected one "
                       "forward() before each backward(): backward consumes what its forward kept (as "
                       "PyTorch frees its graph).")
        return RuntimeError(message or f"{name}.backward() was called before forward(). Expected a forward pass first.")

    def _check_backward(self) -> None:
        """Raise the RuntimeError that backward() would raise for want of a forward to differentiate
        (none yet, one under ``no_grad``, or one whose backward already ran). ``Sequential`` runs
        it on every layer before any backward, so that a call that fails changes no gradient."""
        if self._saved_attr is not None and getattr(self, self._saved_attr, None) is None:
            raise self._nothing_to_differentiate()

    def _saved_for_backward(self) -> Any:
        """What the last forward kept for backward (the ``_saved_attr`` attribute), after
        :meth:`_check_backward`. The caller sets the attribute to None once its inputs are checked."""
        self._check_backward()
        return getattr(self, self._saved_attr)

    def __getstate__(self) -> dict[str, Any]:
        """What pickle, joblib and ``copy.deepcopy`` keep: config, weights, gradients and generator
        state; not what the last forward kept for its backward (the ``_saved_attr`` attribute:
        a recurrent layer's caches are many times its weights) nor the recycled workspaces of the
        recurrent layers (scratch the next forward rebuilds; from ``joblib.load(...,
        mmap_mode="r")`` they would come back as read-only memory that forward writes into), nor
        their thread lock."""
        state = self.__dict__.copy()
        if self._saved_attr is not None and self._saved_attr in state:
            state[self._saved_attr] = None
        state.pop("_forward_without_grad", None)   # the copy has run no forward
        state.pop("_lock", None)   # a recurrent layer's lock (see RecurrentLayer._turn): made anew on use
        if "_workspaces" in state:
            state["_workspaces"] = {}
        return state

    def zero_grad(self) -> None:
        """Set every gradient in ``grads`` to zero (in place)."""
        for g in self.grads.values():
            g.fill(0)

    def train(self, mode: bool = True) -> "Module":
        """Switch to training mode (dropout active), or with ``mode=False`` to evaluation mode.
        Returns self. ``mode`` must be a bool (TypeError otherwise)."""
        self.training = check_bool(mode, "mode", f"{type(self).__name__}.train")
        return self

    def eval(self) -> "Module":
        """Switch to evaluation mode (dropout off). Returns self."""
        return self.train(False)

    def modules(self) -> Iterator["Module"]:
        """This module and every layer inside it, depth first (a container, then its layers in
        order, nested containers opened in place), as ``torch.nn.Module.modules()``."""
        yield self

    @classmethod
    def param_shapes(cls, config: dict[str, Any]) -> Iterator[tuple[str, tuple[int, ...]]]:
        """``(name, shape)`` of the parameters of ``cls(**config)``, in the order of ``params``,
        without building it: here none, for the layers without parameters (the config's keys are
        checked against the constructor's); layers with parameters override it. The loader trusts
        it only for the built-in layers and for classes that define it themselves
        (:func:`rnnkit.layers.registry.param_shapes_from_spec`)."""
        from .registry import constructor_arguments

        constructor_arguments(cls, config)
        yield from ()

    def num_parameters(self) -> int:
        """Total number of scalar parameters."""
        return int(sum(p.size for p in self.params.values()))

    def state_dict(self) -> dict[str, np.ndarray]:
        """Copies of all parameters, keyed and ordered exactly as PyTorch's ``state_dict``."""
        return {k: v.copy() for k, v in self.params.items()}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Copy ``state`` into the live parameters (in place, converting to the layer dtype).

        Accepts any array-likes (NumPy arrays, lists, torch tensors, bfloat16 ones included).
        Raises ``ValueError`` listing every missing, unexpected and mis-shaped key at once, or
        naming a key whose finite values the layer's dtype cannot hold (float64 1e300 into
        float32: they would become inf), and changes nothing in that case.
        """
        if not isinstance(state, Mapping):
            raise TypeError(f"Expected a mapping of parameter name -> array, got {type(state).__name__}.")
        missing = [k for k in self.params if k not in state]
        unexpected = [k for k in state if k not in self.params]
        arrays, misshaped = {}, []
        for k, p in self.params.items():
            if k not in state:
                continue
            v = state[k]
            if hasattr(v, "detach") and hasattr(v, "numpy"):
                v = v.detach().cpu()
                v = (v.float() if str(v.dtype) == "torch.bfloat16" else v).numpy()  # NumPy has no bfloat16: exact
            a = np.asarray(v)
            if a.dtype.kind not in "fiu":
                raise TypeError(f"Expected a numeric array for '{k}', got dtype {a.dtype}.")
            if a.shape != p.shape:
                misshaped.append(f"{k}: expected {p.shape}, got {a.shape}")
            elif a.dtype.kind == "f" and a.dtype.itemsize > p.dtype.itemsize:  # finite values that would overflow
                top = float(np.abs(a[np.isfinite(a)]).max(initial=0))
                if top > float(np.finfo(p.dtype).max):
                    raise ValueError(f"'{k}' holds values up to {top:.3g}, beyond the range of this layer's {p.dtype} "
                                     f"(max {np.finfo(p.dtype).max:.3g}); they would become inf.")
            arrays[k] = a
        if missing or unexpected or misshaped:
            parts = []
            if missing:
                parts.append(f"missing keys {missing}")
            if unexpected:
                parts.append(f"unexpected keys {unexpected}")
            if misshaped:
                parts.append("wrong shapes [" + "; ".join(misshaped) + "]")
            if missing and all(k.split(".")[-1].startswith("bias_") for k in missing) and not unexpected:
                parts.append("every missing key is a bias: the state dict comes from a layer built with "
                             "bias=False; build this one with bias=False too")
            if any("weight_hr_l" in k for k in unexpected):
                parts.append("the weight_hr_l* tensors are those of a torch LSTM with proj_size > 0, a projection "
                             "rnnkit's LSTM does not have")
            raise ValueError(
                f"Cannot load state dict into {type(self).__name__}: " + ", ".join(parts) + ". "
                f"Expected keys {list(self.params)}."
            )
        params = self.params  # a property that rebuilds its dict in Sequential: read it once
        for k, a in arrays.items():
            np.copyto(params[k], a, casting="unsafe")

    # -- randomness and saving (used by checkpoints and ``rnnkit.load``) ----------------------
    def get_rng_state(self) -> dict | None:
        """The state of the generator that draws this layer's dropout masks (JSON-able), or None."""
        rng = getattr(self, "_rng", None)
        return None if rng is None else rng.bit_generator.state

    def set_rng_state(self, state: Mapping[str, Any] | None) -> None:
        """Restore a state from :meth:`get_rng_state` (the mask stream continues from there)."""
        if state is None or getattr(self, "_rng", None) is None:
            return
        from .._random import generator_from_state

        self._rng = generator_from_state(state)

    def save(self, path: Any) -> None:
        """Write this module to one safetensors file (config + weights); see :func:`rnnkit.load`."""
        from ..io.model_file import save_model

        save_model(self, path)
