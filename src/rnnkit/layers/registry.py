"""Layer names <-> classes, for configs: ``{"class_name": "LSTM", "config": {...}}``.

A config read from a file can only name a class listed here, so loading a file never builds
anything else. ``register_layer`` adds your own :class:`Module` subclass.
"""

from __future__ import annotations

from typing import Any

from ..errors import ConfigError
from .module import Module

_LAYERS: dict[str, type[Module]] = {}


def _builtin() -> dict[str, type[Module]]:
    if not _LAYERS:
        from . import activation, cells, dropout, embedding, gru, last_step, linear, lstm, rnn, sequential

        for cls in (rnn.RNN, lstm.LSTM, gru.GRU, cells.RNNCell, cells.LSTMCell, cells.GRUCell,
                    linear.Linear, embedding.Embedding, dropout.Dropout, activation.Tanh,
                    activation.ReLU, activation.Sigmoid, last_step.LastStep, sequential.Sequential):
            _LAYERS.setdefault(cls.__name__, cls)
    return _LAYERS


def register_layer(cls: type[Module]) -> type[Module]:
    """Make ``cls`` loadable by name (usable as a class decorator). It needs
    ``get_config()`` and a constructor (or ``from_config``) that accepts that config."""
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


def layer_from_spec(spec: Any) -> Module:
    """Build a fresh layer (newly initialised weights) from :func:`layer_to_spec` output."""
    if not isinstance(spec, dict) or not isinstance(spec.get("class_name"), str) or not isinstance(
            spec.get("config"), dict):
        raise ConfigError(f"Expected a layer spec {{'class_name': str, 'config': dict}}, got {spec!r:.200}.")
    name = spec["class_name"]
    cls = _builtin().get(name)
    if cls is None:
        raise ConfigError(f"Unknown layer {name!r}. Expected one of {', '.join(sorted(_builtin()))}.")
    build = getattr(cls, "from_config", None)
    try:
        return build(spec["config"]) if build is not None else cls(**spec["config"])
    except (TypeError, ValueError) as exc:
        if isinstance(exc, ConfigError):
            raise
        raise ConfigError(f"Cannot build {name} from config {spec['config']!r:.300}: {exc}") from exc
