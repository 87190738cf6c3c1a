"""Checkpoints: one safetensors file that is also a model file (``rnnkit.load`` reads it), plus
everything ``fit`` needs to continue exactly where it stopped.

On top of the model file (see :mod:`rnnkit.io.model_file`) a checkpoint holds:

- tensors "optimizer/<param name>/<slot>": the optimizer's buffers (Adam's exp_avg, ...);
- tensors "best/<param name>": the best weights so far, for early stopping;
- metadata "optimizer": JSON of the optimizer's class, hyperparameters (lr included), step
  counts; "scheduler": JSON of the schedule's state; "trainer": JSON of the training loop's
  state (epoch, batch within the epoch, shuffling-generator states, the epoch's running sums,
  early-stopping state, the history so far).

Resuming requires the same model architecture (seeds aside) and optimizer class.
"""

from __future__ import annotations

import json
import os
from typing import Any

import numpy as np

from ..errors import LoadError
from ..io.model_file import json_field, read_model_file, save_model
from ..layers.registry import layer_to_spec
from ..optim.base import Optimizer
from ..optim.schedules import Schedule


def _pack_optimizer(optimizer: Optimizer) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    sd = optimizer.state_dict()
    tensors, state = {}, {}
    for pname, slots in sd["state"].items():
        state[pname] = {}
        for slot, v in slots.items():
            if isinstance(v, np.ndarray):
                key = f"optimizer/{pname}/{slot}"
                tensors[key] = v
                state[pname][slot] = {"tensor": key}
            else:
                state[pname][slot] = v
    return tensors, {**sd, "state": state}


def _unpack_optimizer(path: str | os.PathLike, packed: Any, tensors: dict[str, np.ndarray]) -> dict[str, Any]:
    try:
        state = {}
        for pname, slots in packed["state"].items():
            state[pname] = {}
            for slot, v in slots.items():
                state[pname][slot] = tensors[v["tensor"]] if isinstance(v, dict) else v
        return {**packed, "state": state}
    except (KeyError, TypeError, AttributeError) as exc:
        raise LoadError(path, f"the optimizer state is incomplete or malformed (missing {exc}).") from None


def save_checkpoint(path: str | os.PathLike, model: Any, optimizer: Optimizer, scheduler: Schedule | None,
                    trainer_state: dict[str, Any], best_weights: dict[str, np.ndarray] | None) -> None:
    """Write a checkpoint atomically (a crash mid-write leaves the previous one intact)."""
    tensors, opt_json = _pack_optimizer(optimizer)
    for k, v in (best_weights or {}).items():
        tensors[f"best/{k}"] = v
    meta = {"optimizer": json.dumps(opt_json), "trainer": json.dumps(trainer_state),
            "scheduler": json.dumps(None if scheduler is None else scheduler.state_dict())}
    save_model(model, path, tensors, meta)


def _without_seeds(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {k: _without_seeds(v) for k, v in obj.items() if k != "seed"}
    if isinstance(obj, list):
        return [_without_seeds(v) for v in obj]
    return obj


def load_checkpoint(path: str | os.PathLike, model: Any, optimizer: Optimizer,
                    scheduler: Schedule | None) -> tuple[dict[str, Any], dict[str, np.ndarray] | None]:
    """Restore weights, dropout-mask streams, optimizer and schedule from ``path`` into the given
    objects; return (trainer state, best weights or None)."""
    saved, extras, meta = read_model_file(path)
    if _without_seeds(layer_to_spec(saved)) != _without_seeds(layer_to_spec(model)):
        raise LoadError(path, "the checkpoint was written for a different model: its config is "
                              f"{json.dumps(layer_to_spec(saved))[:300]}...")
    for key in ("optimizer", "trainer"):
        if key not in meta:
            raise LoadError(path, f"this is a model file, not a training checkpoint (no {key!r} metadata).")
    sched = json_field(path, meta, "scheduler") if "scheduler" in meta else None
    if (sched is None) != (scheduler is None):  # checked before anything is changed
        raise LoadError(path, "the checkpoint was written " + ("with" if sched is not None else "without")
                        + " a learning-rate schedule, this fit runs " + ("with" if scheduler else "without") + " one.")
    if scheduler is not None:  # checked before the optimizer changes
        try:
            sched = scheduler.check_state(sched)
        except (ValueError, TypeError) as exc:
            raise LoadError(path, f"its schedule state does not fit this schedule: {exc}") from None
    opt_state = _unpack_optimizer(path, json_field(path, meta, "optimizer"), extras)
    try:
        optimizer.load_state_dict(opt_state)  # checks everything before it changes anything
    except (ValueError, TypeError, KeyError) as exc:
        raise LoadError(path, f"its optimizer state does not fit this optimizer: {exc}") from None
    if scheduler is not None:
        scheduler.load_state_dict(sched)
    model.load_state_dict(saved.state_dict())
    model.set_rng_state(saved.get_rng_state())
    best = {k[len("best/"):]: v for k, v in extras.items() if k.startswith("best/")} or None
    return json_field(path, meta, "trainer"), best
