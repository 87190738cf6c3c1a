"""One file per model: safetensors weights + the JSON config in the metadata.

Metadata written by :func:`save_model`::

    "format": "rnnkit"            marks the file as ours
    "format_version": "1"
    "rnnkit_version": "0.1.0"
    "model": JSON {"class_name": "Sequential", "config": {...}}   (see layers/registry.py)
    "rng": JSON of the dropout-mask generator states (so training-mode outputs replay too)
    "training": JSON list of the ``training`` flags of the model and of every layer in it, nested
                Sequentials included, in the order ``Module.modules()`` walks them (so a model
                saved after ``eval()`` loads in evaluation mode; files without it load in
                training mode, the default of a new layer)

Tensors: the model's ``state_dict()`` under its own names ("0.weight_ih_l0"). Checkpoints add
tensors whose names contain "/" ("optimizer/...", "best/...") and more metadata; see
:mod:`rnnkit.training.checkpoint`. Loading builds only classes registered in
:mod:`rnnkit.layers.registry` and reads only arrays and JSON: no pickle, no code from the file.
It compares the shapes the config implies with the file's tensors before it builds the model
(:func:`check_shapes`), so a crafted config cannot make it allocate more than the file holds.
"""

from __future__ import annotations

import json
import os
from typing import Any, Mapping

import numpy as np

from ..errors import ConfigError, LoadError
from ..layers.module import Module
from ..layers.registry import layer_from_spec, layer_to_spec, param_shapes_from_spec
from ..layers.sequential import Sequential
from .safetensors import read_safetensors, write_safetensors

FORMAT, FORMAT_VERSION = "rnnkit", "1"


def save_model(module: Module, path: str | os.PathLike, extra_tensors: Mapping[str, np.ndarray] | None = None,
               extra_metadata: Mapping[str, str] | None = None) -> None:
    """Write ``module`` (config + weights + RNG state) to ``path`` atomically."""
    from .. import __version__

    tensors = dict(module.state_dict())
    for name, a in (extra_tensors or {}).items():
        if "/" not in name:
            raise ValueError(f"Expected extra tensor names with a '/' (e.g. 'optimizer/...'), got {name!r}.")
        tensors[name] = a
    meta = {"format": FORMAT, "format_version": FORMAT_VERSION, "rnnkit_version": __version__,
            "model": json.dumps(layer_to_spec(module)), "rng": json.dumps(module.get_rng_state()),
            "training": json.dumps([bool(getattr(m, "training", True)) for m in module.modules()])}
    meta.update(extra_metadata or {})
    write_safetensors(path, tensors, meta)


def read_model_file(path: str | os.PathLike) -> tuple[Module, dict[str, np.ndarray], dict[str, str]]:
    """Rebuild the model in ``path``; also return the extra tensors and the metadata."""
    tensors, meta = read_safetensors(path)
    if meta.get("format") != FORMAT:
        raise LoadError(path, "this is a safetensors file but not an rnnkit model or checkpoint (its metadata has "
                              "no \"format\": \"rnnkit\"). To use foreign weights, build the model and call "
                              "model.load_state_dict(rnnkit.io.read_safetensors(path)[0]).")
    if meta.get("format_version") != FORMAT_VERSION:
        raise LoadError(path, f"format version {meta.get('format_version')!r} is not supported; expected "
                              f"{FORMAT_VERSION!r}.")
    spec = json_field(path, meta, "model")
    weights = {k: v for k, v in tensors.items() if "/" not in k}
    check_shapes(path, spec, weights)  # before building: a config may ask for far more than the file holds
    try:
        module = layer_from_spec(spec)
    except ConfigError as exc:
        raise LoadError(path, f"its config cannot be built: {exc}") from None
    except RecursionError:
        raise LoadError(path, "its config nests layers too deeply to be built.") from None
    except MemoryError as exc:
        held = sum(a.nbytes for a in weights.values())
        raise LoadError(path, f"its config asks for weights larger than the available memory ({exc}), while the "
                              f"file holds {held} bytes of weights: the config does not match them.") from None
    extras = {k: v for k, v in tensors.items() if "/" in k}
    wrong_dtype = [f"{k}: {weights[k].dtype} (expected {p.dtype})" for k, p in module.params.items()
                   if k in weights and weights[k].dtype != p.dtype]
    if wrong_dtype:
        raise LoadError(path, f"weights do not have the dtype the config asks for: {wrong_dtype}.")
    try:
        module.load_state_dict(weights)
    except (ValueError, TypeError) as exc:
        raise LoadError(path, f"the weights do not match the config: {exc}") from None
    if "rng" in meta:
        try:
            module.set_rng_state(json_field(path, meta, "rng"))
        except (ValueError, TypeError, KeyError, IndexError, AttributeError, OverflowError) as exc:
            raise LoadError(path, f"the stored random-generator state is invalid: {exc!r}") from None
    if "training" in meta:
        set_modes(path, module, json_field(path, meta, "training"))
    return module, extras, meta


def set_modes(path: str | os.PathLike, module: Module, modes: Any) -> None:
    """Give every module of ``Module.modules()`` its saved ``training`` flag (a Sequential its own
    flag only, each other layer through its ``train``), or LoadError when ``modes`` is not one
    bool per module."""
    tree = list(module.modules())
    if not isinstance(modes, list) or len(modes) != len(tree) or not all(isinstance(m, bool) for m in modes):
        raise LoadError(path, f"metadata field 'training' must list one bool per layer ({len(tree)} here, the model "
                              f"included), got {json.dumps(modes)[:200]}.")
    for m, mode in zip(tree, modes):
        if isinstance(m, Sequential):
            m.training = mode  # train() would set its layers too: each gets its own flag
        else:
            m.train(mode)


def check_shapes(path: str | os.PathLike, spec: Any, weights: Mapping[str, np.ndarray]) -> None:
    """Compare the parameter shapes that ``spec`` implies (``param_shapes_from_spec``: from the
    config alone, nothing allocated) with the file's tensors; LoadError naming up to 10 missing
    or mis-shaped tensors. So a config asking for weights the file does not hold (hidden_size
    = 200_000 next to a few bytes) is refused before the model is built, and building it later
    allocates only about what the file holds. Layers of unknown shapes are checked after building."""
    missing: list[str] = []
    misshaped: list[str] = []
    try:
        shapes = param_shapes_from_spec(spec)
        for name, shape in shapes or ():  # lazily: a config of 10**9 layers stops at the first gaps
            got = weights.get(name)
            if got is None:
                missing.append(f"{name} {shape}")
            elif got.shape != shape:
                misshaped.append(f"{name}: the config gives {shape}, the file {got.shape}")
            if len(missing) + len(misshaped) >= 10:
                break
    except ConfigError as exc:
        raise LoadError(path, f"its config cannot be built: {exc}") from None
    except RecursionError:
        raise LoadError(path, "its config nests layers too deeply to be built.") from None
    if missing or misshaped:
        parts = ([f"missing tensors [{', '.join(missing)}]"] if missing else []) + (
            [f"wrong shapes [{'; '.join(misshaped)}]"] if misshaped else [])
        raise LoadError(path, f"the weights do not match the config: {', '.join(parts)}. The file holds "
                              f"{len(weights)} weight tensor(s): {', '.join(list(weights)[:10])}"
                              f"{', ...' if len(weights) > 10 else ''}.")


def json_field(path: str | os.PathLike, meta: Mapping[str, str], key: str) -> Any:
    """Parse metadata field ``key`` as JSON, or raise LoadError naming the file and field."""
    if key not in meta:
        raise LoadError(path, f"the metadata lacks the field {key!r}.")
    try:
        return json.loads(meta[key])
    except ValueError as exc:  # not JSON, or an integer of more than 4300 digits
        raise LoadError(path, f"metadata field {key!r} is not valid JSON ({exc}).") from None
    except RecursionError:
        raise LoadError(path, f"metadata field {key!r} is JSON nested too deeply to parse.") from None


def load(path: str | os.PathLike) -> Any:
    """Rebuild the model saved by ``model.save(path)`` (or a checkpoint): same class, config,
    weights, dropout-mask stream and training/eval mode of every layer, so its outputs are
    bit-identical. The file is only parsed (JSON and raw arrays), never executed. A file written
    by an estimator's ``save`` (its metadata has an "estimator" field) gives back the estimator,
    as :func:`rnnkit.estimators.load_estimator` does.

    Raises:
        rnnkit.errors.LoadError (a ValueError) naming the file and the problem: missing
        (also a FileNotFoundError), truncated, corrupted, not an rnnkit file, unknown layer.
    """
    module, _, meta = read_model_file(path)
    if "estimator" in meta:
        from ..estimators.persistence import load_estimator

        return load_estimator(path)
    return module
