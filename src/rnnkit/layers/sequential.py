"""``rnnkit.Sequential``: a stack of layers run one after the other, with BPTT back through all.

The model is the composition out = f_K(... f_1(f_0(x))). Forward stores nothing of its own but
the shapes; every layer keeps the cache of its last forward, and ``backward`` walks the layers
in reverse order, handing each the gradient of its output::

    for layer in reversed(layers):
        dout = layer.backward(dout)          # recurrent layers: dout, _ = layer.backward(dout)

so the recurrent layers run Backpropagation Through Time on the gradient that the layers above
them produced for every time step.
"""

from __future__ import annotations

from typing import Any, Iterable, Iterator, Mapping

import numpy as np

from .._checks import check_bool
from .last_step import LastStep
from .module import Module
from .recurrent import RecurrentLayer


class Sequential(Module):
    """Layers applied in order; PyTorch-style prefixed parameter names ("0.weight_ih_l0").

    Shapes: x is what the first layer takes, batch-first: (N, T, I) floats, or (N, T) token ids
    for an :class:`Embedding`. The output is what the last layer gives: (N, T, O) for per-step
    outputs, (N, O) after a :class:`LastStep`.

    - ``out = model(x, lengths=None, states=None)``: ``lengths`` (N ints in 1..T) go to every
      layer whose forward takes them (recurrent layers, ``LastStep``). Recurrent layers' outputs
      y are passed on; their final states are kept in ``model.last_states`` (one entry per
      recurrent layer, in order; LSTM: (h, c)). ``states`` gives their initial states in the
      same form (None = zeros): truncated BPTT carries ``last_states`` into the next chunk.
    - ``dx = model.backward(dout)``: BPTT through the last forward; parameter gradients are
      added into ``model.grads``. Returns dL/dx (None when the first layer is an Embedding).
    - ``params`` / ``grads``: name -> live array, names "{index}.{layer's name}".
    - ``fit``, ``predict``, ``evaluate``: see :mod:`rnnkit.training`; ``save``: see :func:`rnnkit.load`.

    Recurrent layers inside a Sequential must be batch-first (the default). A Sequential may be
    a layer of another; ``fit``, truncated BPTT and ``LastStep(bidirectional=None)`` see through
    the nesting (:func:`leaf_layers`), while ``states`` / ``last_states`` count only the
    recurrent layers at this level.

    Example:
        >>> import numpy as np, rnnkit
        >>> model = rnnkit.Sequential([rnnkit.LSTM(3, 8, seed=0), rnnkit.LastStep(), rnnkit.Linear(8, 1, seed=0)])
        >>> model(np.zeros((4, 10, 3)), lengths=[10, 3, 7, 1]).shape
        (4, 1)
    """

    takes_lengths = True  # a nested Sequential passes them on

    def __init__(self, layers: Iterable[Module]) -> None:
        if isinstance(layers, Module) or not isinstance(layers, Iterable):
            raise TypeError(f"Expected a list of layers for Sequential, got {type(layers).__name__}.")
        self.layers = list(layers)
        if not self.layers:
            raise ValueError("Expected at least one layer for Sequential, got an empty list.")
        for i, layer in enumerate(self.layers):
            if not isinstance(layer, Module):
                raise TypeError(f"Expected rnnkit layers (Module instances) in Sequential, got "
                                f"{type(layer).__name__} at index {i}.")
            if isinstance(layer, RecurrentLayer) and not layer.batch_first:
                raise ValueError(f"Expected batch-first recurrent layers in Sequential, got "
                                 f"{layer!r} at index {i}. Build it with batch_first=True.")
        last_recurrent = None
        for layer in leaf_layers(self.layers):  # nested Sequentials included, in the order they run
            if isinstance(layer, LastStep) and layer.bidirectional is None:
                layer._resolved = last_recurrent is not None and last_recurrent.bidirectional
            if isinstance(layer, RecurrentLayer):
                last_recurrent = layer
        self.training = True
        self.last_states: list[Any] | None = None
        self.last_shapes: list[tuple[int, ...]] | None = None

    # -- structure ---------------------------------------------------------------------------
    def __len__(self) -> int:
        return len(self.layers)

    def __getitem__(self, index: int) -> Module:
        return self.layers[index]

    def __iter__(self) -> Iterator[Module]:
        return iter(self.layers)

    def __repr__(self) -> str:
        inner = "".join(f"\n  ({i}): {layer!r}" for i, layer in enumerate(self.layers))
        return f"Sequential({inner}\n)"

    @property
    def recurrent_layers(self) -> list[RecurrentLayer]:
        """The recurrent layers, in order (the entries of ``states`` / ``last_states``)."""
        return [layer for layer in self.layers if isinstance(layer, RecurrentLayer)]

    @property
    def params(self) -> dict[str, np.ndarray]:  # type: ignore[override]
        """Every layer's live parameters, keys "{index}.{name}" as PyTorch's nn.Sequential."""
        return {f"{i}.{k}": v for i, layer in enumerate(self.layers) for k, v in layer.params.items()}

    @property
    def grads(self) -> dict[str, np.ndarray]:  # type: ignore[override]
        """Every layer's live gradients, same keys as ``params``."""
        return {f"{i}.{k}": v for i, layer in enumerate(self.layers) for k, v in layer.grads.items()}

    def train(self, mode: bool = True) -> "Sequential":
        """Set training mode (dropout active) on every layer, or evaluation mode with
        ``mode=False``. Returns self. ``mode`` must be a bool."""
        self.training = check_bool(mode, "mode", "Sequential.train")
        for layer in self.layers:
            layer.train(mode)
        return self

    def modules(self) -> Iterator[Module]:
        """This Sequential, then every layer in it, nested Sequentials opened in place."""
        yield self
        for layer in self.layers:
            yield from layer.modules()

    # -- forward / backward --------------------------------------------------------------------
    def forward(self, x: Any, lengths: Any = None, states: list[Any] | None = None) -> np.ndarray:
        """Run every layer in order; see the class docstring."""
        self._keeps_for_backward()  # (each layer decides for itself; this is for backward's error)
        out, self.last_states, self.last_shapes = forward_layers(self.layers, x, lengths, states)
        return out

    def _check_forward_ran(self) -> None:
        if self.last_shapes is None or getattr(self, "_forward_without_grad", False):
            raise self._nothing_to_differentiate()

    def _check_backward(self) -> None:  # as a layer of an outer Sequential
        self._check_forward_ran()
        for layer in reversed(self.layers):
            layer._check_backward()

    def backward(self, dout: Any) -> np.ndarray | None:
        """BPTT back through every layer; returns dL/dx (None after an Embedding). One backward
        per forward: a second one raises RuntimeError before any layer has run (no gradient
        changes), as does one after a forward under ``rnnkit.no_grad()``."""
        self._check_forward_ran()
        return backward_layers(self.layers, dout)  # which checks every layer first

    # -- config, randomness ------------------------------------------------------------------
    def get_config(self) -> dict[str, Any]:
        """``{"layers": [{"class_name": ..., "config": ...}, ...]}``, JSON-serialisable."""
        from .registry import layer_to_spec

        return {"layers": [layer_to_spec(layer) for layer in self.layers]}

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> "Sequential":
        """Rebuild the stack from :meth:`get_config` output (weights freshly initialised)."""
        from ..errors import ConfigError
        from .registry import layer_from_spec

        if not isinstance(config, Mapping) or not isinstance(config.get("layers"), list):
            raise ConfigError(f"Expected a Sequential config {{'layers': [...]}}, got {config!r:.200}.")
        return cls([layer_from_spec(spec) for spec in config["layers"]])

    @classmethod
    def param_shapes(cls, config: Mapping[str, Any]) -> Iterator[tuple[str, tuple[int, ...]]]:
        """``("{i}.{name}", shape)`` for the parameters of every layer i of
        ``Sequential.from_config(config)``, without building any (see
        :func:`rnnkit.layers.registry.param_shapes_from_spec`). Layers whose shapes are unknown
        (custom classes without ``param_shapes``) are left out."""
        from ..errors import ConfigError
        from .registry import param_shapes_from_spec

        if not isinstance(config, Mapping) or not isinstance(config.get("layers"), list):
            raise ConfigError(f"Expected a Sequential config {{'layers': [...]}}, got {config!r:.200}.")
        for i, spec in enumerate(config["layers"]):
            shapes = param_shapes_from_spec(spec)
            if shapes is not None:
                yield from ((f"{i}.{name}", shape) for name, shape in shapes)

    def get_rng_state(self) -> dict[str, Any]:  # type: ignore[override]
        """The dropout-mask generator states of the layers that have one, keyed by index."""
        return {str(i): s for i, layer in enumerate(self.layers) if (s := layer.get_rng_state()) is not None}

    def set_rng_state(self, state: Mapping[str, Any] | None) -> None:
        for key, s in (state or {}).items():
            self.layers[int(key)].set_rng_state(s)

    def summary(self, input_shape: tuple | None = None) -> str:
        """A table of layers, output shapes and parameter counts (see :func:`summarize`)."""
        from .summary import summarize

        return summarize(self, input_shape)

    # -- training (implemented in rnnkit.training) -------------------------------------------
    def fit(self, X: Any, y: Any, lengths: Any = None, **kwargs: Any):
        """Train on (X, y); returns a :class:`rnnkit.training.History`. Keywords: ``loss``,
        ``optimizer``, ``validation_data`` (see :func:`rnnkit.training.fit`, which holds their
        defaults) and the options of :class:`rnnkit.training.FitOptions`."""
        from ..training.trainer import fit

        return fit(self, X, y, lengths=lengths, **kwargs)

    def predict(self, X: Any, lengths: Any = None, batch_size: int = 256) -> np.ndarray:
        """Outputs in evaluation mode (no dropout), batch by batch; X as for ``fit``."""
        from ..training.evaluate import predict

        return predict(self, X, lengths=lengths, batch_size=batch_size)

    def evaluate(self, X: Any, y: Any, lengths: Any = None, *, loss: Any = "mse",
                 metrics: Iterable[str] = (), batch_size: int = 256) -> dict[str, float]:
        """Loss and metrics in evaluation mode: ``{"loss": ..., "accuracy": ...}``."""
        from ..training.evaluate import evaluate

        return evaluate(self, X, y, lengths=lengths, loss=loss, metrics=metrics, batch_size=batch_size)


def leaf_layers(layers: Iterable[Module]) -> list[Module]:
    """``layers`` with every nested :class:`Sequential` replaced by its own layers (recursively),
    in the order they run: what the training loop inspects and truncated BPTT runs one by one."""
    return [m for layer in layers for m in layer.modules() if not isinstance(m, Sequential)]


def forward_layers(layers: list[Module], x: Any, lengths: Any = None,
                   states: list[Any] | None = None) -> tuple[Any, list[Any], list[tuple[int, ...]]]:
    """Run ``layers`` in order: returns (output, final states of the recurrent layers, output shapes).

    ``lengths`` go to layers that take them; ``states`` (one entry per recurrent layer or None)
    are their initial states. Truncated BPTT runs slices of a model's layers through this.
    """
    n_rec = sum(isinstance(layer, RecurrentLayer) for layer in layers)
    if states is not None and (not isinstance(states, (list, tuple)) or len(states) != n_rec):
        raise ValueError(f"Expected 'states' as a list of {n_rec} entries (one per recurrent layer, "
                         f"None for zeros), got {states!r:.100}.")
    out, finals, shapes = x, [], []
    for layer in layers:
        if isinstance(layer, RecurrentLayer):
            out, state = layer.forward(out, None if states is None else states[len(finals)], lengths)
            finals.append(state)
        elif layer.takes_lengths:
            out = layer.forward(out, lengths=lengths)
        else:
            out = layer.forward(out)
        shapes.append(np.shape(out))
    return out, finals, shapes


def backward_layers(layers: list[Module], dout: Any) -> Any:
    """BPTT back through ``layers`` (reverse order); the recurrent layers get dstate = None.

    Raises the RuntimeError of the first layer that has no forward to differentiate before any
    layer runs, so that a failing call adds nothing into the gradients of the layers above it.
    """
    for layer in reversed(layers):
        layer._check_backward()
    grad = dout
    for layer in reversed(layers):
        if isinstance(layer, RecurrentLayer):
            grad, _ = layer.backward(grad)
        else:
            grad = layer.backward(grad)
    return grad
