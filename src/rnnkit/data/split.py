"""Time-ordered splits: the past trains, the future validates and tests. Nothing is shuffled.

Sizes are a fraction in (0, 1) of the length or a count >= 1, like scikit-learn's
``train_test_split``: a fractional test (or validation) size is rounded up, ``ceil(frac * T)``,
and the training part gets the rest. The product is taken on the fraction as written, so
``0.07`` of 100 steps is 7 (scikit-learn's float product, 7.000000000000001, gives 8). Arrays are
cut along axis 0 (time for a series, the window index for the output of
:func:`~rnnkit.data.sliding_windows`). pandas objects are cut with ``.iloc`` and keep their
index; a list of sequences of different lengths comes back as lists; other inputs come back as
NumPy arrays.
"""

from __future__ import annotations

import math
import numbers
from fractions import Fraction
from typing import Any

import numpy as np

from ._arrays import is_pandas


def _count(size: Any, n: int, name: str, owner: str) -> int:
    if isinstance(size, (bool, np.bool_)) or not isinstance(size, numbers.Real):
        raise TypeError(
            f"The '{name}' parameter of {owner} must be a float in (0, 1) or an int >= 1. Got {size!r} instead."
        )
    if isinstance(size, numbers.Integral):
        if size < 1:
            raise ValueError(
                f"The '{name}' parameter of {owner} must be an int >= 1 or a float in (0, 1). Got {size!r} instead."
            )
        return int(size)
    if not 0.0 < float(size) < 1.0:
        raise ValueError(
            f"The '{name}' parameter of {owner} must be a float in (0, 1) or an int >= 1. Got {size!r} instead."
        )
    return max(1, math.ceil(_exact(size) * n))


def _exact(size: numbers.Real) -> Fraction:
    """The fraction ``size`` as written (its shortest decimal, ``str(0.07) == '0.07'``), so that
    ``ceil(size * n)`` does not round up a float product's last bit (0.07 * 100 = 7.000000000000001)."""
    try:
        return Fraction(str(size))
    except (ValueError, TypeError):
        return Fraction(float(size))


def _length(arrays: tuple[Any, ...], owner: str) -> int:
    if not arrays:
        raise TypeError(f"{owner} expected at least one array to split, got none.")
    lengths = []
    for a in arrays:
        a = _as_cuttable(a)
        if getattr(a, "ndim", 1 if isinstance(a, list) else 0) < 1:
            raise ValueError(f"{owner} expected arrays with a time axis (axis 0), got a scalar {a!r}.")
        lengths.append(len(a))
    if len(set(lengths)) > 1:
        raise ValueError(
            f"{owner} expected arrays of the same length along axis 0 (time), got lengths {lengths}."
        )
    return lengths[0]


def _as_cuttable(a: Any) -> Any:
    """``a`` itself for a pandas object or an array; else ``np.asarray(a)``, or a list when ``a``
    is a list (or tuple) of sequences of different lengths, which no array holds."""
    if is_pandas(a) or isinstance(a, np.ndarray):
        return a
    try:
        return np.asarray(a)
    except ValueError:
        if isinstance(a, (list, tuple)):
            return list(a)
        raise


def _cut(a: Any, bounds: list[tuple[int, int]]) -> list[Any]:
    if is_pandas(a):
        return [a.iloc[lo:hi] for lo, hi in bounds]
    arr = _as_cuttable(a)
    return [arr[lo:hi] for lo, hi in bounds]


def _split(arrays: tuple[Any, ...], sizes: list[tuple[Any, str]], owner: str) -> list[Any]:
    n = _length(arrays, owner)
    counts = [_count(s, n, name, owner) for s, name in sizes]
    n_train = n - sum(counts)
    if n_train < 1:
        parts = " + ".join(f"{name} = {k}" for k, (_, name) in zip(counts, sizes))
        raise ValueError(
            f"{owner}: {parts} leaves {n_train} of the {n} time steps for training; at least 1 is "
            "needed. Use smaller sizes or more data."
        )
    bounds, lo = [], 0
    for k in [n_train] + counts:
        bounds.append((lo, lo + k))
        lo += k
    return [part for a in arrays for part in _cut(a, bounds)]


def temporal_train_test_split(*arrays: Any, test_size: float | int = 0.2) -> list[Any]:
    """Split arrays in time: the first part trains, the last ``test_size`` steps test.

    Args:
        *arrays: one or more (T, ...) arrays, lists or pandas objects of the same length.
        test_size: fraction in (0, 1) (rounded up) or count >= 1 of the final steps.

    Returns:
        ``[a_train, a_test, b_train, b_test, ...]``: two parts per input, in input order.
    """
    return _split(arrays, [(test_size, "test_size")], "temporal_train_test_split")


def temporal_train_val_test_split(*arrays: Any, val_size: float | int = 0.1,
                                  test_size: float | int = 0.2) -> list[Any]:
    """Split arrays in time into training, validation and test parts, in that order.

    Args:
        *arrays: one or more (T, ...) arrays, lists or pandas objects of the same length.
        val_size: fraction (of the whole length, rounded up) or count of the validation steps,
            which come right after the training steps.
        test_size: fraction (rounded up) or count of the final steps.

    Returns:
        ``[a_train, a_val, a_test, b_train, b_val, b_test, ...]``.
    """
    return _split(arrays, [(val_size, "val_size"), (test_size, "test_size")],
                  "temporal_train_val_test_split")
