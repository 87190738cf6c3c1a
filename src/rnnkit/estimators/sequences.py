"""Sequence inputs of :class:`~rnnkit.estimators.SequenceClassifier`: conversion, length
reduction, per-channel standardisation and a stratified validation split.

Accepted X (N sequences of C channels):

- a list of N arrays (T_n, C) of any lengths, or of N 1-D arrays (T_n,) (univariate); an object
  array (N,) of such arrays (a pandas Series of arrays too) is read as that list;
- an array (N, T, C), or (N, T) for N univariate series (a pandas DataFrame (N, T) too, its
  nullable Int64 / Float64 columns included, pd.NA read as NaN).

Values are real numbers (ints or floats; converted to float64). Bools, strings, objects and
complex numbers are refused with a TypeError that says how to convert them.

A sequence may end in NaN rows (how archives such as UCR store unequal lengths in one table):
those trailing steps are dropped. Any other NaN, any infinite value (trailing or not) and any
magnitude beyond float32's range (the networks compute in float32) is refused, and so is
sparse input (convert it with ``.toarray()``).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from ..data._arrays import check_real, is_pandas, pandas_values
from ..data.scalers import mean_and_scale
from .checks import check_float32_range, check_not_sparse


def as_sequences(X: Any, owner: str, n_features: int | None = None) -> list[np.ndarray]:
    """X (see the module docstring) as a list of float64 arrays (T_n, C).

    Args:
        X: the input.
        owner: "SequenceClassifier.fit" etc., for messages.
        n_features: the C seen by ``fit`` (None while fitting).
    """
    if hasattr(X, "detach") and hasattr(X, "numpy"):
        raise TypeError(f"{owner} expected X as NumPy arrays, got a {type(X).__name__}. "
                        "Convert it with .detach().cpu().numpy() first.")
    check_not_sparse(X, "X", owner)
    if is_pandas(X):
        X = pandas_values(X)
    one_table = False   # X given as one (N, T) array: N univariate series
    if not isinstance(X, (list, tuple)):
        arr = np.asarray(X)
        if arr.ndim == 1 and arr.dtype == object and len(arr) and all(_is_sequence(x) for x in arr):
            X = list(arr)   # an object array (N,) of sequences (a pandas Series of arrays): the list
    if isinstance(X, (list, tuple)):
        if len(X) == 0:
            raise ValueError(f"{owner} expected at least one sequence in X, got an empty list.")
        seqs = [_one(x, n, owner) for n, x in enumerate(X)]
    else:
        one_table = arr.ndim == 2
        if arr.ndim not in (2, 3):
            raise ValueError(f"{owner} expected X as a list of (T_n, C) arrays, an (N, T, C) array or an (N, T) "
                             f"array of univariate series, got {type(X).__name__} of shape {arr.shape}. One "
                             "univariate series alone is X = series.reshape(1, -1).")
        check_real(arr, "X", owner)
        if len(arr) == 0:
            raise ValueError(f"{owner} expected at least one sequence in X, got shape {arr.shape}.")
        seqs = [_one(x, n, owner) for n, x in enumerate(arr)]
    channels = {s.shape[1] for s in seqs}
    if len(channels) > 1:
        raise ValueError(f"{owner} expected every sequence to have the same number of channels C, got "
                         f"{sorted(channels)}.")
    c = channels.pop()
    if n_features is not None and c != n_features:
        hint = ""
        if one_table and n_features > 1 and len(seqs[0]) == n_features:
            hint = (f" An array (N, T) holds N univariate series: this one reads as {len(seqs)} series of "
                    f"{n_features} steps. One sequence x of shape (T, C) alone is X = [x] or x[None].")
        raise ValueError(f"{owner} expected sequences with {n_features} channels, as in fit, got {c}.{hint}")
    return seqs


def _is_sequence(x: Any) -> bool:
    """Whether an element of an object array X is one sequence (an array, a list, a pandas object)."""
    return isinstance(x, (list, tuple, np.ndarray)) or is_pandas(x)


def _one(x: Any, n: int, owner: str) -> np.ndarray:
    """Sequence n of X, (T_n,) or (T_n, C), as float64 (T_n, C) without its trailing NaN steps."""
    check_not_sparse(x, f"X[{n}]", owner)
    try:
        a = np.asarray(pandas_values(x) if is_pandas(x) else x)
    except ValueError:   # NumPy's "inhomogeneous shape": steps of different lengths
        raise ValueError(f"{owner} expected sequence {n} of X to be (T_n,) or (T_n, C), the same C values at "
                         "every step, got steps of different lengths (a ragged nested list). Give every step "
                         "the same number of channels.") from None
    check_real(a, f"sequence {n} of X", owner)
    if a.ndim == 1:
        a = a[:, None]
    if a.ndim != 2:
        raise ValueError(f"{owner} expected sequence {n} of X to be (T_n,) or (T_n, C), got shape {a.shape}.")
    a = a.astype(np.float64)
    bad = ~np.isfinite(a)
    if bad.any():
        rows = bad.any(axis=1)
        first = int(np.argmax(rows))
        infinite = np.isinf(a).any(axis=1)
        if infinite.any():
            raise ValueError(f"{owner} expected finite values in sequence {n} of X, got inf at step "
                             f"{int(np.argmax(infinite))} (only trailing all-NaN steps count as padding, never "
                             "infinite ones). Replace or clip infinite values first.")
        if first == 0 or not np.isnan(a[first:]).all():
            raise ValueError(f"{owner} expected finite values in sequence {n} of X, got NaN at step {first} "
                             f"(only trailing all-NaN steps count as padding). Fill gaps first, e.g. with "
                             "rnnkit.data.fill_missing(x, method='interpolate').")
        a = a[:first]                                         # trailing NaN padding
    if len(a) == 0:
        raise ValueError(f"{owner} expected sequence {n} of X to have at least one step, got none.")
    return check_float32_range(a, f"sequence {n} of X", owner)


def pool_size_for(seqs: list[np.ndarray], max_steps: int | None) -> int:
    """k = ceil(max T_n / max_steps): the averaging window that brings every sequence (T_n, C)
    to at most ``max_steps`` steps (1 = keep the input as it is; also for ``max_steps`` None)."""
    longest = max(len(s) for s in seqs)
    return 1 if max_steps is None or longest <= max_steps else math.ceil(longest / max_steps)


def average_pool(seqs: list[np.ndarray], k: int) -> list[np.ndarray]:
    """Summarise consecutive, non-overlapping blocks of k steps of each sequence x (T_n, C) by
    their mean and spread::

        mean[j] = mean(x[j*k : (j+1)*k])                  j = 0 .. ceil(T_n / k) - 1
        std[j]  = std(x[j*k : (j+1)*k])                    (population std, per channel)
        out     = concat(mean, std)                        (ceil(T_n / k), 2C)

    The means are the piecewise aggregate approximation of the sequence; the spreads keep what
    averaging would erase (the amplitude of a fast oscillation within a block). The last block
    may be shorter and is summarised over the steps it has. k = 1 returns the sequences as they
    are, (T_n, C).
    """
    if k == 1:
        return seqs
    out = []
    for s in seqs:
        starts = np.arange(0, len(s), k)
        counts = (np.minimum(starts + k, len(s)) - starts)[:, None]
        mean = np.add.reduceat(s, starts, axis=0) / counts
        # deviations from each block's own mean (two passes): mean(x^2) - mean(x)^2 cancels to
        # noise once the level dwarfs the spread (1e8 + sin(t): spreads of 0 or 1.41 for 0.7)
        dev = s - np.repeat(mean, counts[:, 0], axis=0)
        spread = np.sqrt(np.add.reduceat(dev * dev, starts, axis=0) / counts)
        out.append(np.concatenate([mean, spread], axis=1))
    return out


def channel_stats(seqs: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Per-channel mean and standard deviation (C,), (C,) over every step of every sequence
    (T_n, C) (:func:`rnnkit.data.scalers.mean_and_scale`: a constant channel gets scale 1, so it
    maps to 0 instead of dividing by zero)."""
    return mean_and_scale(np.concatenate(seqs, axis=0))


def stratified_split(y: np.ndarray, fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray] | None:
    """Indices (train (N_train,), validation (N_val,)), sorted, into the labels y (N,), with about
    ``fraction`` of every class in validation.

    Each class with at least 2 members gives round(fraction * n_k) of them, at least 1, to
    validation, chosen at random (seeded); every class keeps at least one training member.
    Returns None when ``fraction`` is 0 or the validation set would be empty.
    """
    if fraction <= 0:
        return None
    rng = np.random.default_rng(seed)
    val = []
    for k in np.unique(y):
        members = rng.permutation(np.flatnonzero(y == k))
        if len(members) >= 2:
            val.extend(members[: min(len(members) - 1, max(1, round(fraction * len(members))))])
    if not val:
        return None
    val_idx = np.sort(np.array(val, dtype=np.int64))
    train_idx = np.setdiff1d(np.arange(len(y)), val_idx)
    return train_idx, val_idx
