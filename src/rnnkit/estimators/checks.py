"""Checks of estimator parameters, run by ``fit`` (constructors only store their arguments).

Every message names the parameter, the estimator, what is allowed and what was given:
"The 'hidden_size' parameter of SequenceClassifier must be an int >= 1. Got 0 instead."
"""

from __future__ import annotations

import numbers
from typing import Any

import numpy as np

from .._checks import check_bool, check_choice, check_positive_int, check_probability
from .._random import as_generator

CELLS = ("lstm", "gru", "rnn")


def check_common(est: Any) -> None:
    """The parameters every estimator shares: cell, sizes, training loop and verbosity."""
    owner = type(est).__name__
    check_choice(est.cell, "cell", owner, CELLS)
    for name in ("hidden_size", "num_layers", "epochs", "batch_size"):
        check_positive_int(getattr(est, name), name, owner)
    check_probability(est.dropout, "dropout", owner)
    check_positive_float(est.lr, "lr", owner)
    check_bool(est.verbose, "verbose", owner)
    check_seed(est.seed, owner)


def check_positive_float(value: Any, name: str, owner: str) -> float:
    """``value`` as a float if it is a finite real number > 0 (bools refused)."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real) or not 0 < value < np.inf:
        raise ValueError(f"The '{name}' parameter of {owner} must be a float > 0. Got {value!r} instead.")
    return float(value)


def check_optional_int(value: Any, name: str, owner: str, minimum: int = 1) -> int | None:
    """None, or an int >= ``minimum``."""
    if value is None:
        return None
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral) or value < minimum:
        raise ValueError(f"The '{name}' parameter of {owner} must be an int >= {minimum} or None. "
                         f"Got {value!r} instead.")
    return int(value)


def check_seed(seed: Any, owner: str) -> None:
    """None, a non-negative int or a numpy.random.Generator."""
    if seed is None or isinstance(seed, np.random.Generator):
        return
    if isinstance(seed, (bool, np.bool_)) or not isinstance(seed, numbers.Integral) or seed < 0:
        raise TypeError(f"The 'seed' parameter of {owner} must be a non-negative int, a "
                        f"numpy.random.Generator or None. Got {seed!r} instead.")


def spawn_seeds(seed: int | np.random.Generator | None, n: int) -> list[int]:
    """``n`` independent int seeds drawn from ``seed`` (weights, shuffling, splits, dropout).

    An int gives the same seeds every time (reproducible fits); a Generator advances; None
    draws fresh entropy.
    """
    rng = as_generator(seed)
    return [int(s) for s in rng.integers(0, 2**31 - 1, size=n)]


#: the largest magnitude the networks can represent: they compute in float32
FLOAT32_MAX = float(np.finfo(np.float32).max)


def check_float32_range(a: np.ndarray, name: str, owner: str) -> np.ndarray:
    """``a`` (finite float64) unchanged if every |value| fits in float32, the networks' dtype.

    Larger values would become inf on the way into the network (or overflow the statistics
    computed from them), so they are refused here with the input's name and largest magnitude.
    """
    peak = float(np.max(np.abs(a))) if a.size else 0.0
    if peak > FLOAT32_MAX:
        raise ValueError(f"{owner} expected values in {name} within float32's range (|value| <= {FLOAT32_MAX:.4g}; "
                         f"the networks compute in float32), got a largest magnitude of {peak:.4g}. Rescale the data "
                         "first, e.g. divide it by a power of ten.")
    return a


def check_not_sparse(x: Any, name: str, owner: str) -> None:
    """Refuse a SciPy sparse matrix or array (recognised without importing SciPy)."""
    if type(x).__module__.startswith("scipy.sparse"):
        raise TypeError(f"{owner} does not support sparse input: got a {type(x).__name__} as {name}. Convert it to "
                        f"a dense array with {name}.toarray() first.")
