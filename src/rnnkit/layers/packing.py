"""Variable-length batches without packing: sort by length and count the active sequences.

PyTorch runs a padded batch through ``pack_padded_sequence(enforce_sorted=False)``. rnnkit gets
the same semantics from two index arrays:

- ``order``: the batch sorted by length, longest first, so that at step t the running
  sequences are the first ``batch_sizes[t]`` columns (a prefix: no masking in the time loop);
- ``batch_sizes[t] = #{n : lengths[n] > t}``.

The reverse direction needs nothing more: visiting t = T-1 .. 0 with the same prefixes, a
sequence becomes active at its own last valid step (see :mod:`rnnkit.kernels.common`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Packing:
    """How a batch of N sequences with ``lengths`` is reordered. Shapes: (N,), (N,), (T,)."""

    order: np.ndarray
    inverse: np.ndarray
    batch_sizes: np.ndarray

    @classmethod
    def from_lengths(cls, lengths: np.ndarray, T: int) -> "Packing":
        order = np.argsort(-lengths, kind="stable")
        inverse = np.empty_like(order)
        inverse[order] = np.arange(order.size)
        sorted_lengths = lengths[order]
        steps = np.arange(T)
        batch_sizes = (sorted_lengths[None, :] > steps[:, None]).sum(axis=1)
        return cls(order=order, inverse=inverse, batch_sizes=batch_sizes)

    def sort(self, a: np.ndarray) -> np.ndarray:
        """``a`` with its last (batch) axis in sorted order."""
        return np.take(a, self.order, axis=-1)

    def zero_padding(self, a: np.ndarray) -> np.ndarray:
        """Set the padding of a sorted (F, T, N) array, ``a[:, t, n]`` for n >= batch_sizes[t], to
        0 in place; returns ``a``. No output reads it, but ``dW_ih = dA @ x.T`` multiplies it by
        dA = 0, which gives NaN where the padding is NaN or infinite (PyTorch never sees it)."""
        sizes = self.batch_sizes
        starts = np.flatnonzero(np.diff(sizes, prepend=a.shape[-1]))  # where fewer sequences run on
        for s, e in zip(starts.tolist(), starts[1:].tolist() + [sizes.size]):  # one block per run
            a[:, s:e, sizes[s]:] = 0
        return a

    def unsort(self, a: np.ndarray) -> np.ndarray:
        """Undo :meth:`sort`."""
        return np.take(a, self.inverse, axis=-1)

