"""Padding a list of variable-length sequences into one batch, and back.

``pad_sequences`` puts sequence ``n`` in ``X[n, :T_n]`` and fills ``X[n, T_n:]`` with
``value`` ("post" padding), returning ``lengths = [T_n]``: the ``lengths`` argument that the
recurrent layers take, so padded steps never reach the final state.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Sequence
from typing import Any

import numpy as np

from .._checks import ParameterTypeError, check_lengths


def pad_sequences(sequences: Sequence[Any], value: float = 0.0,
                  dtype: Any = None) -> tuple[np.ndarray, np.ndarray]:
    """Stack sequences of different lengths, padding at the end.

    Args:
        sequences: N arrays of shape (T_n, C) (or all (T_n,), e.g. token ids), same C.
        value: the padding value, a number. With an integer dtype it must be an integer that
            the dtype holds exactly (NaN or -1.5 cannot pad integer ids: pass dtype=float); a
            float dtype must hold it without overflow (1e300 in float32 is refused).
        dtype: a dtype of numbers (bool, int, float) for X; None keeps the common dtype of the
            sequences (ints stay ints). An integer dtype must hold every value exactly: 300 in
            int8, or 1.5 or NaN in int64, is refused rather than wrapped or truncated; a
            narrower float dtype must hold every value without overflow (70000 in float16).

    Raises:
        TypeError: sequences that are not numbers (strings, objects, complex), a ``value`` that
            is not a number (also a ValueError), a ``dtype`` that is not one of numbers.
        ValueError: shapes that differ in C or number of dimensions, an empty sequence, values
            or a ``value`` that ``dtype`` cannot hold.

    Returns:
        X: (N, T_max, C) (or (N, T_max) for 1-D sequences).
        lengths: (N,) int64, T_n for each sequence.
    """
    if isinstance(sequences, np.ndarray) or not isinstance(sequences, (list, tuple)) or not sequences:
        raise TypeError(
            "pad_sequences expected a non-empty list of (T_n, C) or (T_n,) arrays, got "
            f"{type(sequences).__name__}. An array of shape (N, T, C) needs no padding."
        )
    try:
        arrays = [np.asarray(s) for s in sequences]
    except ValueError as exc:
        raise ValueError(f"pad_sequences expected every sequence to be an array of shape (T_n,) or (T_n, C); "
                         f"one has rows of different lengths ({exc}).") from None
    ndims = {a.ndim for a in arrays}
    if not ndims <= {1, 2} or len(ndims) > 1:
        raise ValueError(
            f"pad_sequences expected every sequence to be (T_n,) or every one to be (T_n, C), got "
            f"shapes {[a.shape for a in arrays[:5]]}{'...' if len(arrays) > 5 else ''}."
        )
    tails = {a.shape[1:] for a in arrays}
    if len(tails) > 1:
        raise ValueError(
            f"pad_sequences expected the same number of channels C in every sequence, got {sorted(tails)}."
        )
    lengths = np.array([len(a) for a in arrays], dtype=np.int64)
    if (lengths == 0).any():
        raise ValueError(
            f"pad_sequences expected sequences of length >= 1, got an empty one at index {int(np.argmin(lengths))}."
        )
    out_dtype = np.result_type(*arrays) if dtype is None else _padding_dtype(dtype)
    if dtype is None:
        for n, a in enumerate(arrays):
            _check_numbers(a, n)
    _check_value(value, out_dtype)
    for n, a in enumerate(arrays):
        _check_fits(a, n, out_dtype)
    X = np.full((len(arrays), int(lengths.max())) + arrays[0].shape[1:], value, dtype=out_dtype)
    for n, a in enumerate(arrays):
        X[n, : len(a)] = a
    return X, lengths


def _check_numbers(a: np.ndarray, n: int) -> None:
    """Refuse sequence ``n`` unless it holds numbers (ints, floats or bools)."""
    if a.dtype.kind not in "biuf":
        raise TypeError(
            f"pad_sequences expected sequences of numbers (ints, floats or bools), got dtype {a.dtype} in "
            f"sequence {n}. Convert strings to ids or numbers first, e.g. np.asarray(seq, dtype=float)."
        )


def _padding_dtype(dtype: Any) -> np.dtype:
    """``np.dtype(dtype)`` if it is a dtype of numbers (bool, int, uint or float)."""
    try:
        out = np.dtype(dtype)
    except TypeError:
        out = None
    if out is None or out.kind not in "biuf":
        raise TypeError(
            "The 'dtype' parameter of pad_sequences must be None (keep the sequences' dtype) or a dtype of "
            f"numbers (e.g. float, 'float32', 'int64'). Got {dtype!r} instead."
        )
    return out


def _check_value(value: Any, dtype: np.dtype) -> None:
    """Refuse a padding value that is not a number, or that ``dtype`` cannot hold: NaN, -1.5 or
    300 in int8; 1e300 in float32 (it would become inf); 2 in bool."""
    number = isinstance(value, numbers.Real) and not isinstance(value, (bool, np.bool_))
    if dtype.kind == "b":
        if not (isinstance(value, (bool, np.bool_)) or (number and value in (0, 1))):
            raise ParameterTypeError(f"pad_sequences cannot pad the bool X with value={value!r}: pass False or True.")
        return
    if dtype.kind == "f":
        if not number:
            raise ParameterTypeError(f"The 'value' parameter of pad_sequences must be a number. Got {value!r} "
                                     f"(a {type(value).__name__}) instead.")
        with np.errstate(over="ignore"):
            overflows = math.isfinite(value) and not np.isfinite(np.asarray(value, dtype=np.float64).astype(dtype))
        if overflows:
            raise ValueError(
                f"pad_sequences cannot pad with value={value!r}: it overflows X's dtype {dtype} (largest "
                f"{np.finfo(dtype).max}). Pass a smaller value or a wider dtype."
            )
        return
    info = np.iinfo(dtype)
    fits = isinstance(value, numbers.Real) and not isinstance(value, (bool, np.bool_))
    if fits and not isinstance(value, numbers.Integral):
        fits = math.isfinite(value) and float(value).is_integer()
    if not (fits and info.min <= value <= info.max):
        raise ValueError(
            f"pad_sequences cannot pad with value={value!r}: X has the integer dtype {dtype}, which holds "
            f"only whole numbers in [{info.min}, {info.max}]. Pass dtype=float to pad with {value!r}, or "
            "pick an integer padding value in that range."
        )


def _check_fits(a: np.ndarray, n: int, dtype: np.dtype) -> None:
    """Refuse sequence ``n`` when an integer ``dtype`` cannot hold its values exactly (300 in int8,
    1.5 or NaN in int64): the cast would wrap or truncate them silently."""
    if dtype.kind not in "iu":
        _check_numbers(a, n)
    if np.can_cast(a.dtype, dtype, casting="safe") or a.size == 0:
        return
    if dtype.kind == "f":  # a narrower float: refuse values that would overflow to inf
        with np.errstate(over="ignore"):
            bad = np.isfinite(a) & ~np.isfinite(a.astype(dtype))
        if bad.any():
            at = tuple(int(i) for i in np.argwhere(bad)[0])
            raise ValueError(
                f"pad_sequences cannot store sequence {n} in {dtype}: its value {a[at].item()!r} at index "
                f"{at if len(at) > 1 else at[0]} overflows it (largest {np.finfo(dtype).max}). Pass a wider dtype."
            )
        return
    if dtype.kind == "b":
        raise TypeError(f"pad_sequences cannot store sequence {n} ({a.dtype}) in bool: the cast would turn every "
                        "non-zero value into True. Pass bool sequences, or a number dtype.")
    info = np.iinfo(dtype)
    if a.dtype.kind not in "biuf":
        raise TypeError(f"pad_sequences cannot store sequence {n} ({a.dtype}) in the integer dtype {dtype}: "
                        "pass numbers, or dtype=None to keep their dtype.")
    bad = ~np.isfinite(a) if a.dtype.kind == "f" else np.zeros(a.shape, dtype=bool)
    if not bad.any():
        if a.dtype.kind == "f":  # float(info.max) may round up to 2**63: compare with the next integer
            bad = (a < float(info.min)) | (a >= float(info.max) + 1) | (a != np.round(a))
        else:
            bad = (a < info.min) | (a > info.max)
    if bad.any():
        at = tuple(int(i) for i in np.argwhere(bad)[0])
        raise ValueError(
            f"pad_sequences cannot store sequence {n} in the integer dtype {dtype}: its value {a[at].item()!r} at "
            f"index {at if len(at) > 1 else at[0]} is not a whole number in [{info.min}, {info.max}] (the cast would "
            "change it). Pass a wider dtype, or dtype=None to keep the sequences' dtype."
        )


def unpad_sequences(X: Any, lengths: Any) -> list[np.ndarray]:
    """The inverse of :func:`pad_sequences`: ``[X[n, :lengths[n]] for n in range(N)]``.

    Args:
        X: (N, T, ...) padded batch.
        lengths: (N,) ints in 1..T.

    Returns:
        list of N arrays (T_n, ...) (copies).
    """
    X = np.asarray(X)
    if X.ndim < 2:
        raise ValueError(f"unpad_sequences expected X of shape (N, T, ...), got shape {X.shape}.")
    lengths = check_lengths(lengths, X.shape[0], X.shape[1])
    return [X[n, : int(k)].copy() for n, k in enumerate(lengths)]
