"""Data for ``fit``: padding variable-length sequences, validation splits, seeded mini-batches.

Inputs X are either one array — (N, T, F) floats, or (N, T) token ids for an Embedding — or a
list of N arrays (T_n, F) / (T_n,) of different lengths, which is padded with zeros to
(N, max T_n, ...) and gives ``lengths`` = [T_n]. Targets y are per sequence, (N, ...), or per
step, (N, T, ...) (a list of (T_n, ...) arrays is padded the same way); per-step losses only
count steps t < lengths[n] (see :func:`step_mask`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from .._checks import check_lengths


@dataclass
class Dataset:
    """Padded inputs, targets and lengths (None = every sequence has all T steps)."""

    X: np.ndarray
    y: np.ndarray
    lengths: np.ndarray | None

    def __len__(self) -> int:
        return len(self.X)

    def take(self, idx: np.ndarray, trim: bool = True, per_step: bool = False) -> "Dataset":
        """Rows ``idx``; with ``trim`` the time axis is cut to the longest of these rows."""
        X, y = self.X[idx], self.y[idx]
        lengths = None if self.lengths is None else self.lengths[idx]
        if trim and lengths is not None:
            t = int(lengths.max())
            X = X[:, :t]
            if per_step:
                y = y[:, :t]
            if (lengths == t).all():
                lengths = None
        return Dataset(X, y, lengths)


def pad_sequences(seqs: list[Any], name: str = "X", value: float = 0) -> tuple[np.ndarray, np.ndarray]:
    """Stack arrays (T_n, ...) into (N, max T_n, ...) padded with ``value``; returns (padded, lengths)."""
    arrays = [np.asarray(s) for s in seqs]
    if not arrays:
        raise ValueError(f"Expected at least one sequence in '{name}', got an empty list.")
    tails = {a.shape[1:] for a in arrays}
    if any(a.ndim == 0 for a in arrays) or len(tails) != 1:
        raise ValueError(f"Expected the sequences in '{name}' to share their shape after the time axis, "
                         f"got shapes {sorted({a.shape for a in arrays}, key=str)[:5]}.")
    lengths = np.array([len(a) for a in arrays], dtype=np.int64)
    if (lengths == 0).any():
        raise ValueError(f"Expected every sequence in '{name}' to have at least one step, got an empty one "
                         f"at index {int(np.argmin(lengths))}.")
    dtype = np.result_type(*arrays)
    out = np.full((len(arrays), int(lengths.max())) + arrays[0].shape[1:], value, dtype=dtype)
    for n, a in enumerate(arrays):
        out[n, : len(a)] = a
    return out, lengths


def step_mask(lengths: np.ndarray | None, N: int, T: int) -> np.ndarray | None:
    """(N, T) bool: True at valid steps t < lengths[n]; None when every step is valid."""
    if lengths is None:
        return None
    return np.arange(T)[None, :] < np.asarray(lengths)[:, None]


def loss_terms(per_step: bool, out_shape: tuple[int, ...], mask: np.ndarray | None) -> int:
    """How many terms a batch's mean loss averages: sequences, or valid steps if per step."""
    if not per_step:
        return out_shape[0]
    return out_shape[0] * out_shape[1] if mask is None else int(mask.sum())


def prepare(X: Any, y: Any, lengths: Any, sequence_input: bool, name: str = "X") -> Dataset:
    """Validate and pad ``X``/``y``/``lengths`` into a :class:`Dataset`.

    ``sequence_input``: whether X has a time axis (a list, rank 3, or token ids for an Embedding).
    """
    if isinstance(X, (list, tuple)):
        if lengths is not None:
            raise ValueError(f"Expected 'lengths' only with a padded array {name}; a list of sequences "
                             "carries its own lengths.")
        X, lengths = pad_sequences(list(X), name)
    else:
        X = np.asarray(X)
    if X.dtype.kind not in "fiub":
        raise TypeError(f"Expected numeric data in '{name}', got dtype {X.dtype}.")
    if X.dtype.kind == "f" and not np.all(np.isfinite(X)):
        bad = np.argwhere(~np.isfinite(X))[0]
        raise ValueError(f"Expected finite values in '{name}', got {X[tuple(bad)]} at index {tuple(bad.tolist())}.")
    N = len(X)
    if N == 0:
        raise ValueError(f"Expected at least one sample in '{name}', got none.")
    if lengths is not None:
        if not sequence_input or X.ndim < 2:
            raise ValueError(f"Expected 'lengths' only for sequence input, got {name} of shape {X.shape}.")
        lengths = check_lengths(lengths, N, X.shape[1])
        if (lengths == X.shape[1]).all():
            lengths = None
    if isinstance(y, (list, tuple)) and len(y) and np.ndim(y[0]) >= 1 and len({np.shape(a) for a in y}) > 1:
        y, y_len = pad_sequences(list(y), "y")
        if lengths is None or not np.array_equal(y_len, lengths):
            raise ValueError("Expected per-step targets with the same lengths as the input sequences, got "
                             f"lengths {y_len[:5].tolist()}... for y and "
                             f"{(lengths if lengths is not None else [X.shape[1]] * N)[:5]}... for {name}.")
    y = np.asarray(y)
    if y.dtype.kind not in "fiub":
        raise TypeError(f"Expected numeric targets y, got dtype {y.dtype}.")
    if y.ndim == 0 or len(y) != N:
        raise ValueError(f"Expected one target per sample: y with {N} rows like {name}, got shape {y.shape}.")
    if y.dtype.kind == "f" and not np.all(np.isfinite(y)):
        raise ValueError("Expected finite values in the targets y, got NaN or inf.")
    return Dataset(X, y, lengths)


def split_validation(data: Dataset, fraction: float) -> tuple[Dataset, Dataset]:
    """The last ``fraction`` of the samples (before any shuffling, as Keras) for validation."""
    n_val = int(round(len(data) * fraction))
    if n_val < 1 or n_val >= len(data):
        raise ValueError(f"Expected validation_split to leave at least one sample on each side, got "
                         f"{fraction} of {len(data)} samples ({n_val} for validation).")
    cut = len(data) - n_val
    idx_tr, idx_val = np.arange(cut), np.arange(cut, len(data))
    return data.take(idx_tr, trim=False), data.take(idx_val, trim=False)


def batch_indices(N: int, batch_size: int, rng: np.random.Generator | None) -> list[np.ndarray]:
    """Index arrays of consecutive batches; a permutation drawn from ``rng`` if given."""
    order = rng.permutation(N) if rng is not None else np.arange(N)
    return [order[i: i + batch_size] for i in range(0, N, batch_size)]
