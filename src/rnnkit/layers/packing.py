"""Variable-length batches without packing: sort by length, count active rows, reverse in place.

PyTorch runs a padded batch through ``pack_padded_sequence(enforce_sorted=False)``. rnnkit gets
the same semantics from three index arrays:

- ``order``: the batch sorted by length, longest first, so that at step t the running
  sequences are the first ``batch_sizes[t]`` rows (a prefix: no masking in the time loop);
- ``batch_sizes[t] = #{n : lengths[n] > t}``;
- ``rev[t, n] = lengths[n] - 1 - t`` for t < lengths[n] (else t): the reverse direction reads
  each sequence backwards from its own last valid step; padding stays where it is.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Packing:
    """How a batch of N sequences with ``lengths`` is reordered and reversed. Shapes: (N,), (T,), (T, N)."""

    order: np.ndarray
    inverse: np.ndarray
    batch_sizes: np.ndarray
    rev: np.ndarray

    @classmethod
    def from_lengths(cls, lengths: np.ndarray, T: int) -> "Packing":
        order = np.argsort(-lengths, kind="stable")
        inverse = np.empty_like(order)
        inverse[order] = np.arange(order.size)
        sorted_lengths = lengths[order]
        steps = np.arange(T)
        batch_sizes = (sorted_lengths[None, :] > steps[:, None]).sum(axis=1)
        rev = np.where(steps[:, None] < sorted_lengths[None, :], sorted_lengths[None, :] - 1 - steps[:, None], steps[:, None])
        return cls(order=order, inverse=inverse, batch_sizes=batch_sizes, rev=rev)

    def sort(self, a: np.ndarray, axis: int) -> np.ndarray:
        """Rows of ``a`` along the batch ``axis`` in sorted order."""
        return np.take(a, self.order, axis=axis)

    def unsort(self, a: np.ndarray, axis: int) -> np.ndarray:
        """Undo :meth:`sort`."""
        return np.take(a, self.inverse, axis=axis)


def reverse_time(a: np.ndarray, packing: Packing | None) -> np.ndarray:
    """Reverse each sequence of a time-major (T, N, ...) array within its own length.

    An involution: applying it twice gives ``a`` back. Returns a C-contiguous array.
    """
    if packing is None:
        return np.ascontiguousarray(a[::-1])
    idx = packing.rev.reshape(packing.rev.shape + (1,) * (a.ndim - 2))
    return np.take_along_axis(a, idx, axis=0)
