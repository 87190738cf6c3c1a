"""Layer names <-> classes, for configs: ``{"class_name": "LSTM", "config": {...}}``.

A config read from a file can only name a class listed here, so loading a file never builds
anything else. ``register_layer`` adds your own :class:`Module` subclass.

:func:`param_shapes_from_spec` tells, without building anything, the parameters a spec's layer
would have, ``(name, shape)`` in the order of its ``params``: the built-in layers compute them with
their classmethod ``param_shapes(config)`` (which validates the shape-giving arguments as the
constructor does). The model-file loader compares them with a file's tensors before it builds
the model, so that a config asking for huge weights is refused before anything is allocated.
"""

from __future__ import annotations

import inspect
from typing import Any, Iterator

from ..errors import ConfigError
from .module import Module

_LAYERS: dict[str, type[Module]] = {}
_BUILTIN: set[type] = set()


def _builtin() -> dict[str, type[Module]]:
    if not _LAYERS:
        from . import activation, cells, dropout, embedding, gru, last_step, linear, lstm, rnn, sequential, time_pool

        for cls in (rnn.RNN, lstm.LSTM, gru.GRU, cells.RNNCell, cells.LSTMCell, cells.GRUCell,
                    linear.Linear, embedding.Embedding, dropout.Dropout, activation.Tanh,
                    activation.ReLU, activation.Sigmoid, last_step.LastStep, time_pool.TimePool,
                    sequential.Sequential):
            _LAYERS.setdefault(cls.__name__, cls)
            _BUILTIN.add(cls)
    return _LAYERS


def register_layer(cls: type[Module]) -> type[Module]:
    """Make ``cls`` loadable by name (usable as a class decorator). It needs
    ``get_config()`` and a constructor (or ``from_config``) that accepts that config.
    A classmethod ``param_shapes(config)`` defined in ``cls`` itself (see
    :func:`param_shapes_from_spec`) lets the loader check a file's tensors before building it."""
    if not (isinstance(cls, type) and issubclass(cls, Module)):
        raise TypeError(f"Expected a subclass of rnnkit.Module, got {cls!r}.")
    _builtin()[cls.__name__] = cls
    return cls


def layer_to_spec(layer: Module) -> dict[str, Any]:
    """``{"class_name": ..., "config": layer.get_config()}``."""
    name = type(layer).__name__
    if _builtin().get(name) is not type(layer):
        raise ConfigError(
            f"Expected a layer class known to rnnkit ({', '.join(sorted(_builtin()))}), got "
            f"{type(layer).__qualname__}. Register it with rnnkit.layers.register_layer."
        )
    return {"class_name": name, "config": layer.get_config()}


def _resolve(spec: Any) -> tuple[str, type[Module], dict[str, Any]]:
    """(name, registered class, config) of a spec, or ConfigError."""
    if not isinstance(spec, dict) or not isinstance(spec.get("class_name"), str) or not isinstance(
            spec.get("config"), dict):
        raise ConfigError(f"Expected a layer spec {{'class_name': str, 'config': dict}}, got {spec!r:.200}.")
    name = spec["class_name"]
    cls = _builtin().get(name)
    if cls is None:
        raise ConfigError(f"Unknown layer {name!r}. Expected one of {', '.join(sorted(_builtin()))}.")
    return name, cls, spec["config"]


def _config_error(name: str, config: dict[str, Any], exc: Exception) -> ConfigError:
    return ConfigError(f"Cannot build {name} from config {config!r:.300}: {exc}")


def layer_from_spec(spec: Any) -> Module:
    """Build a fresh layer (newly initialised weights) from :func:`layer_to_spec` output."""
    name, cls, config = _resolve(spec)
    build = getattr(cls, "from_config", None)
    try:
        return build(config) if build is not None else cls(**config)
    except (TypeError, ValueError) as exc:
        if isinstance(exc, ConfigError):
            raise
        raise _config_error(name, config, exc) from exc


def constructor_arguments(cls: type, config: dict[str, Any]) -> dict[str, Any]:
    """Every argument of ``cls(**config)``, defaults filled in, without calling it; the
    constructor's own TypeError for a missing or unexpected key."""
    try:
        bound = inspect.signature(cls).bind(**config)
    except TypeError as exc:
        raise TypeError(f"{cls.__name__}() {exc}") from None
    bound.apply_defaults()
    return dict(bound.arguments)


def param_shapes_from_spec(spec: Any) -> Iterator[tuple[str, tuple[int, ...]]] | None:
    """The ``(name, shape)`` of every parameter of ``layer_from_spec(spec)``, in the order of its
    ``params``, computed from the config alone (nothing is allocated; produced lazily, so that a
    caller can stop at the first name it does not expect). None for a class whose shapes are
    unknown: one that defines no ``param_shapes`` classmethod of its own and is not built in.

    Raises:
        ConfigError: an unknown layer, a malformed spec, or (while iterating) a config whose
            shape-giving arguments the constructor would refuse, with the constructor's message.
    """
    name, cls, config = _resolve(spec)
    if cls not in _BUILTIN and "param_shapes" not in vars(cls):
        return None
    return _shapes(name, config, cls.param_shapes)  # type: ignore[attr-defined]


def _shapes(name: str, config: dict[str, Any], param_shapes: Any) -> Iterator[tuple[str, tuple[int, ...]]]:
    try:
        yield from param_shapes(config)
    except (TypeError, ValueError) as exc:
        if isinstance(exc, ConfigError):
            raise
        raise _config_error(name, config, exc) from exc
