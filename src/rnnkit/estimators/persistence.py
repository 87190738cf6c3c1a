"""Saving and loading estimators: the training issue's model file plus the estimator's state.

``est.save(path)`` writes one safetensors file with :func:`rnnkit.io.save_model`: the
network's config and weights as for any model, and in addition

- metadata field ``"estimator"``: JSON ``{"class_name": "Forecaster", "params": {...},
  "tuple_params": [...], "state": {...}, "text_arrays": {...}}``: the constructor arguments
  (with the names of those given as tuples, which JSON writes as lists, so that ``get_params()``
  of the loaded estimator equals the saved one's), the JSON-able fitted attributes, and arrays
  of strings (such as string class labels);
- tensors ``"estimator/<name>"``: the numeric fitted arrays (scaling statistics, series tails).

:func:`load_estimator` (also reached through ``rnnkit.load``) rebuilds the estimator: only the
classes listed in :data:`ESTIMATORS` can be named, and only JSON and raw arrays are read, so
loading never runs code from the file. A seed given as a ``numpy.random.Generator`` is stored as
None (a Generator is not data); an int seed is kept.
"""

from __future__ import annotations

import json
import os
from typing import Any

import numpy as np

from ..errors import LoadError
from ..io.model_file import json_field, read_model_file, save_model
from .._random import seed_for_config
from .base import BaseEstimator

PREFIX = "estimator/"


def _classes() -> dict[str, type[BaseEstimator]]:
    from .classifier import SequenceClassifier
    from .forecaster import Forecaster
    from .text_generator import TextGenerator

    return {cls.__name__: cls for cls in (SequenceClassifier, Forecaster, TextGenerator)}


def _json_param(name: str, value: Any) -> Any:
    if name == "seed":
        return seed_for_config(value)
    if isinstance(value, tuple):
        return list(value)
    if isinstance(value, (np.integer, np.floating, np.bool_)):
        return value.item()
    return value


def save_estimator(est: BaseEstimator, path: str | os.PathLike) -> None:
    """Write ``est`` (fitted) to ``path``; see the module docstring."""
    state, arrays = est._get_state()
    tensors, text_arrays = {}, {}
    for name, value in arrays.items():
        a = np.asarray(value)
        if a.dtype.kind in "biuf":
            tensors[PREFIX + name] = a  # as it is: 0-d arrays stay 0-d
        elif a.dtype.kind == "U" or (a.dtype.kind == "O" and all(isinstance(v, str) for v in a.ravel())):
            text_arrays[name] = {"shape": list(a.shape), "values": [str(v) for v in a.ravel()]}
        else:
            raise TypeError(f"Cannot save {type(est).__name__}: its attribute {name!r} holds {a.dtype} values; "
                            "only numbers and strings can be stored. Use int or str labels.")
    given = est.get_params()
    params = {k: _json_param(k, v) for k, v in given.items()}
    record = {"class_name": type(est).__name__, "params": params,
              "tuple_params": [k for k, v in given.items() if isinstance(v, tuple)], "state": state,
              "text_arrays": text_arrays}
    try:
        meta = {"estimator": json.dumps(record)}
    except TypeError as exc:
        raise TypeError(f"Cannot save {type(est).__name__}: a parameter or attribute is not JSON data "
                        f"({exc}).") from None
    save_model(est.model_, path, extra_tensors=tensors, extra_metadata=meta)


def is_estimator_file(meta: dict[str, str]) -> bool:
    """Whether a model file's metadata describes an estimator."""
    return "estimator" in meta


def load_estimator(path: str | os.PathLike) -> BaseEstimator:
    """Rebuild the estimator saved by ``est.save(path)``; its predictions are bit-identical.

    Raises:
        rnnkit.errors.LoadError (a ValueError) naming the file and the problem: not an rnnkit
        file, a model file without an estimator, an unknown estimator class, missing state.
    """
    model, extras, meta = read_model_file(path)
    if not is_estimator_file(meta):
        raise LoadError(path, "this is an rnnkit model file but not an estimator (its metadata has no "
                              "\"estimator\" field). Load it with rnnkit.load(path).")
    record = json_field(path, meta, "estimator")
    classes = _classes()
    cls = classes.get(record.get("class_name")) if isinstance(record, dict) else None
    if cls is None:
        named = record.get("class_name") if isinstance(record, dict) else record
        raise LoadError(path, f"unknown estimator {named!r}; expected one of {sorted(classes)}.")
    try:
        if not isinstance(record.get("state"), dict) or not isinstance(record.get("params"), dict):
            raise TypeError(f"expected 'params' and 'state' as JSON objects, got "
                            f"{type(record.get('params')).__name__} and {type(record.get('state')).__name__}")
        tuples = record.get("tuple_params", [])   # absent in files written before it was kept
        if not isinstance(tuples, list) or not all(isinstance(k, str) and isinstance(record["params"].get(k), list)
                                                   for k in tuples):
            raise TypeError(f"expected 'tuple_params' as a list of names of list parameters, got {tuples!r}")
        est = cls(**{k: tuple(v) if k in tuples else v for k, v in record["params"].items()})
        arrays = {k[len(PREFIX):]: v for k, v in extras.items() if k.startswith(PREFIX)}
        for name, t in record.get("text_arrays", {}).items():
            arrays[name] = np.array(t["values"], dtype=str).reshape(t["shape"])
        est._set_state(record["state"], arrays)
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise LoadError(path, f"the stored {cls.__name__} state is incomplete or invalid: {exc!r}.") from None
    est.model_ = model
    return est
