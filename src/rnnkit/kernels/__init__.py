"""Kernels: pure functions over one layer and one direction, with explicit caches.

``*_forward(x, state0, W_ih, W_hh, b_ih, b_hh, batch_sizes, rec_mask) -> (y, stateT, cache)``
``*_backward(cache, dy, dstateT) -> (dx, dstate0, grads, dh_sq)``

Sequences are (F, T, N) arrays and states (H, N) (see :mod:`rnnkit.kernels.common`). They hold
no parameters and no state between calls; :mod:`rnnkit.layers` builds on them. The time loop
and the matrix products are NumPy; the elementwise part of each step is one call into the C
extension :mod:`rnnkit.kernels._fused` (sources and equations in ``kernels/csrc/``).
"""

from .gru import gru_backward, gru_forward
from .lstm import lstm_backward, lstm_forward
from .rnn import rnn_backward, rnn_forward

__all__ = [
    "rnn_forward", "rnn_backward",
    "lstm_forward", "lstm_backward",
    "gru_forward", "gru_backward",
]
