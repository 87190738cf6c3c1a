"""``rnnkit info MODEL``: what a model file holds, without running it; ``rnnkit info``: this
installation.

For an estimator file (from a ``fit`` command or ``estimator.save``): its class, every
constructor parameter, the fitted attributes, how training ended, the run that made it
(``run.json``, when beside it) and the network's layer table. For a plain model or a
checkpoint (``model.save``): the layer table. Any other file is refused with the reason.
Without MODEL: the versions of rnnkit, Python and NumPy, and what the kernels run on
(:func:`rnnkit.kernels.config`), with its notes on what would make training faster.
"""

from __future__ import annotations

import argparse
import json
import os
from typing import Any, Sequence

import numpy as np

from .output import MODEL_FILE, jsonable, load_any, model_path, read_run_record


def register(sub: Any) -> None:
    parser = sub.add_parser("info", help="show a model file's configuration and layers (or, without MODEL, "
                                         "this installation)",
                            description="Show what a model file holds: for an estimator its class, parameters, fitted "
                                        "attributes, training summary and layer table; for a plain model or "
                                        "checkpoint the layer table. Without MODEL: the versions of rnnkit, Python and "
                                        "NumPy and what the kernels run on, with notes on what would make training "
                                        "faster.",
                            epilog="Examples: rnnkit info runs/demo; rnnkit info")
    parser.add_argument("model", metavar="MODEL", nargs="?",
                        help=f"a model file ({MODEL_FILE}) or the --out folder of a fit; none: this installation")
    parser.add_argument("--json", action="store_true", help="print the configuration as JSON instead")
    parser.set_defaults(func=info_command)


def _short(value: Any) -> str:
    """A value in one line: arrays by shape (and values when few)."""
    if isinstance(value, np.ndarray):
        if value.size <= 8:
            return np.array2string(value, separator=", ", precision=4)
        return f"array {value.shape} {value.dtype}"
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def describe(est: Any) -> dict[str, Any]:
    """Class, parameters, fitted attributes and training summary of an estimator."""
    fitted = {k: v for k, v in vars(est).items() if k.endswith("_") and not k.startswith("_")
              and k not in ("model_", "history_")}
    history = getattr(est, "history_", {}) or {}
    return {"class": type(est).__name__, "params": est.get_params(), "fitted": fitted,
            "training": {k: v for k, v in history.items() if not isinstance(v, list)}}


def _for_json(d: dict[str, Any]) -> dict[str, Any]:
    """Large arrays as their one-line description; the rest as JSON values."""
    return {k: (_short(v) if isinstance(v, np.ndarray) and v.size > 64 else v) for k, v in d.items()}


def installation() -> dict[str, Any]:
    """The versions of rnnkit, Python and NumPy, the platform, and rnnkit.kernels.config()."""
    import platform

    from .. import __version__
    from ..kernels import config

    return {"rnnkit": __version__, "python": platform.python_version(), "numpy": np.__version__,
            "platform": platform.platform(), "kernels": config()}


def _installation_command(as_json: bool) -> int:
    d = installation()
    if as_json:
        print(json.dumps(d, indent=2))
        return 0
    k, blas = d["kernels"], d["kernels"]["blas"]
    print(f"rnnkit {d['rnnkit']}, Python {d['python']}, NumPy {d['numpy']} ({d['platform']})")
    if not k["c_loops"]:
        print("Time loops:       in Python, their step products NumPy's")
    else:
        core = f"{blas['core']} kernels" if blas["core"] else "its kernel set unknown"
        threads = "the loops on its threads, its own work on rnnkit's pool" if blas["on_pool"] else \
            "the loops on its threads" if blas["threads"] else "the loops on one thread"
        print(f"Time loops:       in C; NumPy's OpenBLAS ({core}; {threads})")
    if not k["packed_kernel"]:
        kernel = "NumPy's BLAS (no AVX-512 or AVX2 kernel for this CPU or build)"
    elif k["packed_products"] == "never":
        kernel = f"NumPy's BLAS (rnnkit's {k['packed_kernel']} kernel switched off)"
    else:
        kernel = f"rnnkit's {k['packed_kernel']} kernel ({k['packed_products']})" + \
            ("" if k["c_loops"] else ", for the weight gradients after the Python loops")
    print(f"float32 products: {kernel}")
    for note in k["notes"]:
        print(f"Note: {note}")
    return 0


def info_command(args: argparse.Namespace, argv: Sequence[str] | None) -> int:
    from ..io import read_safetensors

    if args.model is None:
        return _installation_command(args.json)
    path = model_path(args.model)
    obj = load_any(path)
    meta = read_safetensors(path)[1]
    network = getattr(obj, "model_", obj)
    is_estimator = hasattr(obj, "get_params")
    run = read_run_record(path)
    if args.json:
        out = describe(obj) if is_estimator else {"class": type(obj).__name__}
        if is_estimator:
            out["fitted"] = _for_json(out["fitted"])
        out.update(file=str(path), rnnkit_version=meta.get("rnnkit_version"), network=json.loads(meta["model"])
                   if "model" in meta else None, run=run or None)
        print(json.dumps(jsonable(out), indent=2, default=str))
        return 0
    print(f"File:      {path} ({os.path.getsize(path) / 1024:.1f} KiB, written by rnnkit "
          f"{meta.get('rnnkit_version', '?')}, format {meta.get('format_version', '?')})")
    if is_estimator:
        d = describe(obj)
        print(f"Estimator: {d['class']}")
        print("Parameters:")
        for k, v in d["params"].items():
            print(f"  {k:<20} {_short(v)}")
        if d["fitted"]:
            print("Fitted:")
            for k, v in d["fitted"].items():
                print(f"  {k:<20} {_short(v)}")
        if d["training"]:
            print("Training:  " + ", ".join(f"{k} {v}" for k, v in d["training"].items()))
    else:
        kind = "a training checkpoint" if "optimizer" in meta else "a plain model"
        print(f"Model:     {type(obj).__name__} ({kind}, not an estimator)")
    if run.get("command"):
        print(f"Run:       {' '.join(run['command'])}")
    if hasattr(network, "summary"):
        print(network.summary())
    return 0
