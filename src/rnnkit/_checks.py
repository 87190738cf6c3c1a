"""Validation at the public boundary: every user error names what was expected and what was got.

These helpers raise ``ValueError`` for wrong values and shapes and ``TypeError`` for wrong
types, with messages in the form "The 'dropout' parameter of LSTM must be a float in [0, 1).
Got 1.5 instead." They are used by layer constructors, ``forward``/``backward`` and file loading.
"""

from __future__ import annotations

import numbers
from typing import Any

import numpy as np

FLOAT_DTYPES = {"float32": np.dtype(np.float32), "float64": np.dtype(np.float64)}


class ParameterTypeError(TypeError, ValueError):
    """A parameter of the wrong type (a str, float or bool where an int is expected): a
    ``TypeError``, and a ``ValueError`` as well, as these checks raised for every bad parameter
    before (scikit-learn's ``InvalidParameterError`` is both too)."""


def check_positive_int(value: Any, name: str, owner: str) -> int:
    """Return ``value`` as an int if it is an integer >= 1; other types (bools included) raise
    ``ParameterTypeError``, integers < 1 ``ValueError``."""
    expected = f"The '{name}' parameter of {owner} must be an int >= 1."
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral):
        raise ParameterTypeError(f"{expected} Got {value!r} (a {type(value).__name__}) instead.")
    if value < 1:
        raise ValueError(f"{expected} Got {value!r} instead.")
    return int(value)


def check_bool(value: Any, name: str, owner: str) -> bool:
    """Return ``value`` if it is a bool (0/1 ints and strings are refused)."""
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"The '{name}' parameter of {owner} must be a bool. Got {value!r} instead.")
    return bool(value)


def check_probability(value: Any, name: str, owner: str) -> float:
    """Return ``value`` as a float if it lies in [0, 1); other types (bools included) raise
    ``ParameterTypeError``, numbers outside [0, 1) ``ValueError``."""
    expected = f"The '{name}' parameter of {owner} must be a float in [0, 1)."
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        raise ParameterTypeError(f"{expected} Got {value!r} (a {type(value).__name__}) instead.")
    if not 0.0 <= float(value) < 1.0:
        raise ValueError(f"{expected} Got {value!r} instead.")
    return float(value)


def check_finite_float(value: Any, name: str, owner: str, low: float = 0.0, low_open: bool = False,
                       hint: str = "") -> float:
    """Return ``value`` as a float if it is a finite real number >= ``low`` (> ``low`` with
    ``low_open``); other types (bools included) raise ``ParameterTypeError``, NaN, inf and numbers
    below the bound ``ValueError``. ``hint`` (e.g. "(dots per inch, e.g. 120)") follows the rule."""
    expected = (f"The '{name}' parameter of {owner} must be a finite float {'>' if low_open else '>='} {low:g}"
                f"{' ' + hint if hint else ''}.")
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        raise ParameterTypeError(f"{expected} Got {value!r} (a {type(value).__name__}) instead.")
    try:
        x = float(value)
    except OverflowError:  # an int beyond float's range
        raise ValueError(f"{expected} Got {value!r} instead.") from None
    if not (x > low if low_open else x >= low) or x == np.inf:  # NaN fails the first test
        raise ValueError(f"{expected} Got {value!r} instead.")
    return x


def check_choice(value: Any, name: str, owner: str, choices: tuple[str, ...]) -> str:
    """Return ``value`` if it is one of ``choices``."""
    if not isinstance(value, str) or value not in choices:
        allowed = ", ".join(repr(c) for c in choices)
        raise ValueError(
            f"The '{name}' parameter of {owner} must be one of {allowed}. Got {value!r} instead."
        )
    return value


def check_dtype(value: Any, owner: str) -> np.dtype:
    """Return the NumPy float dtype named by ``value`` ("float32", "float64" or a dtype)."""
    try:
        dtype = np.dtype(value)
    except TypeError:
        dtype = None
    if dtype is None or dtype.name not in FLOAT_DTYPES:
        raise TypeError(
            f"The 'dtype' parameter of {owner} must be 'float32' or 'float64'. Got {value!r} instead."
        )
    return dtype


def as_float_array(x: Any, name: str, dtype: np.dtype) -> np.ndarray:
    """Convert ``x`` to an array of ``dtype``; refuse non-floating data instead of coercing it.

    Floating input of another precision is converted (as Keras does); integer, bool, complex
    and object data raise ``TypeError`` because converting them is usually a bug upstream.
    """
    if not isinstance(x, np.ndarray):
        if hasattr(x, "detach") and hasattr(x, "numpy"):
            raise TypeError(
                f"Expected '{name}' to be a NumPy array, got a {type(x).__name__}. "
                "Convert it with .detach().cpu().numpy() first."
            )
        try:
            x = np.asarray(x)
        except (ValueError, TypeError) as exc:
            raise TypeError(f"Expected '{name}' to be an array of floats, got {type(x).__name__}: {exc}") from None
    if x.dtype.kind != "f":
        raise TypeError(
            f"Expected '{name}' to hold floating-point numbers, got dtype {x.dtype}. "
            f"Convert it with {name}.astype(np.{dtype.name}) if the values are meant as numbers."
        )
    return x.astype(dtype, copy=False)


def check_shape(a: np.ndarray, expected: tuple[int, ...], name: str, hint: str = "") -> None:
    """Refuse any shape other than ``expected`` (no silent broadcasting)."""
    if a.shape != tuple(expected):
        raise ValueError(
            f"Expected '{name}' of shape {tuple(expected)}, got {a.shape}.{(' ' + hint) if hint else ''}"
        )


def check_lengths(lengths: Any, n: int, t: int) -> np.ndarray:
    """Return ``lengths`` as an int64 array of shape (N,) with values in 1..T."""
    arr = np.asarray(lengths)
    if arr.dtype.kind == "f" and arr.size and np.all(np.isfinite(arr)) and np.all(arr == np.round(arr)):
        arr = arr.astype(np.int64)
    if arr.dtype.kind not in "iu":
        raise TypeError(
            f"Expected 'lengths' to be integers, got dtype {arr.dtype} (values {np.ravel(arr)[:5].tolist()}...)."
        )
    if arr.shape != (n,):
        raise ValueError(
            f"Expected 'lengths' of shape ({n},), one length per sequence in the batch, got shape {arr.shape}."
        )
    bad = arr[(arr < 1) | (arr > t)]
    if bad.size:
        raise ValueError(
            f"Expected every entry of 'lengths' in 1..{t} (T = {t} time steps), got {bad.tolist()}."
        )
    return arr.astype(np.int64)


def check_state(state: Any, names: tuple[str, ...], shape: tuple[int, ...], dtype: np.dtype,
                name: str, owner: str, hint: str = "Nothing is broadcast.") -> list[np.ndarray]:
    """Validate a recurrent state: one array ``h`` (``names == ("h",)``) or a tuple ``(h, c)``.

    Returns the parts as float arrays of ``dtype``, each of exactly ``shape``.
    """
    k = len(names)
    if k == 2 and (not isinstance(state, (tuple, list)) or len(state) != 2):
        raise TypeError(f"Expected '{name}' of {owner} to be a tuple (h, c) of arrays of shape {shape}, "
                        f"got {type(state).__name__}.")
    if k == 1 and isinstance(state, (tuple, list)):
        raise TypeError(f"Expected '{name}' of {owner} to be one array h of shape {shape}, "
                        f"got a {type(state).__name__}.")
    out = []
    for part, sym in zip(state if k == 2 else (state,), names):
        label = f"{name}[{sym}]" if k == 2 else name
        a = as_float_array(part, label, dtype)
        check_shape(a, shape, label, hint)
        out.append(a)
    return out
