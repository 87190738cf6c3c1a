"""``Sequential.summary()``: a Keras-style table of layers, output shapes and parameter counts.

Shapes are worked out symbolically ("N" batch, "T" time steps), without running the model.
"""

from __future__ import annotations

import inspect
from typing import Any

from .embedding import Embedding
from .linear import Linear
from .module import Module
from .recurrent import RecurrentLayer


def output_shape(layer: Module, shape: tuple) -> tuple:
    """The shape ``layer`` gives for input ``shape`` (entries are ints or symbols like "N")."""
    if isinstance(layer, RecurrentLayer):
        return tuple(shape[:-1]) + (layer.num_directions * layer.hidden_size,)
    if hasattr(layer, "output_shape"):
        return layer.output_shape(shape)
    if hasattr(layer, "layers"):
        for inner in layer.layers:
            shape = output_shape(inner, shape)
        return shape
    return ("?",)


def default_input_shape(model: Any) -> tuple:
    """("N", "T", I) for a model that starts with a recurrent layer, ("N", "T") for token ids."""
    first = model.layers[0]
    if isinstance(first, RecurrentLayer):
        return ("N", "T", first.input_size)
    if isinstance(first, Embedding):
        return ("N", "T")
    if isinstance(first, Linear):
        seq = any(isinstance(layer, RecurrentLayer) for layer in model.layers)
        return ("N", "T", first.in_features) if seq else ("N", first.in_features)
    return ("N", "T", "?")


def short_repr(layer: Module) -> str:
    """``LSTM(3, 8, bidirectional=True)``: required arguments, then those that differ from
    their defaults (the seed is left out)."""
    try:
        config = layer.get_config()
        sig = inspect.signature(type(layer).__init__).parameters
    except (AttributeError, TypeError, ValueError):
        return repr(layer)
    if "layers" in config:
        return repr(layer)
    parts = []
    for k, v in config.items():
        p = sig.get(k)
        if k == "seed" or (p is not None and p.default is not inspect.Parameter.empty and p.default == v):
            continue
        required = p is not None and p.default is inspect.Parameter.empty
        parts.append(repr(v) if required else f"{k}={v!r}")
    return f"{type(layer).__name__}({', '.join(parts)})"


def _fmt_shape(shape: tuple) -> str:
    return "(" + ", ".join(str(s) for s in shape) + ("," if len(shape) == 1 else "") + ")"


def summarize(model: Any, input_shape: tuple | None = None) -> str:
    """The table as a string. ``input_shape`` includes the batch axis, e.g. ("N", "T", 3)."""
    shape = tuple(input_shape) if input_shape is not None else default_input_shape(model)
    rows = [("#", "Layer", "Output shape", "Params")]
    for i, layer in enumerate(model.layers):
        shape = output_shape(layer, shape)
        rows.append((str(i), short_repr(layer), _fmt_shape(shape), f"{layer.num_parameters():,}"))
    widths = [max(len(r[c]) for r in rows) for c in range(4)]
    line = lambda r: "  ".join([r[0].rjust(widths[0]), r[1].ljust(widths[1]), r[2].ljust(widths[2]),
                                r[3].rjust(widths[3])])
    rule = "-" * len(line(rows[0]))
    out = [f"Sequential (input {_fmt_shape(tuple(input_shape) if input_shape else default_input_shape(model))})",
           rule, line(rows[0]), rule] + [line(r) for r in rows[1:]] + [rule]
    out.append(f"Total params: {model.num_parameters():,}")
    return "\n".join(out)
