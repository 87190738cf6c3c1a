"""``rnnkit.RNN``: the Elman recurrent layer."""

from __future__ import annotations

from typing import Any

import numpy as np

from .._checks import check_choice
from ..kernels.rnn import rnn_backward, rnn_forward
from ._doc import layer_doc
from .recurrent import RecurrentLayer


class RNN(RecurrentLayer):
    _gates = 1
    _forward_kernel = staticmethod(rnn_forward)
    _backward_kernel = staticmethod(rnn_backward)

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        num_layers: int = 1,
        bias: bool = True,
        batch_first: bool = True,
        dropout: float = 0.0,
        bidirectional: bool = False,
        *,
        nonlinearity: str = "tanh",
        recurrent_dropout: float = 0.0,
        init: str = "pytorch",
        dtype: str | np.dtype = "float32",
        seed: int | np.random.Generator | None = None,
    ) -> None:
        super().__init__(input_size, hidden_size, num_layers, bias, batch_first, dropout,
                         bidirectional, recurrent_dropout=recurrent_dropout, init=init,
                         dtype=dtype, seed=seed, nonlinearity=nonlinearity)

    def _check_options(self, options: dict[str, Any]) -> dict[str, Any]:
        return {"nonlinearity": check_choice(options.pop("nonlinearity"), "nonlinearity", "RNN", ("tanh", "relu"))}


RNN.__doc__ = """Elman recurrent layer: h_t = phi(x_t @ W_ih.T + b_ih + h_{t-1} @ W_hh.T + b_hh).

    phi is tanh (``nonlinearity="tanh"``) or relu. The same as ``torch.nn.RNN``; weights and
    biases of the k-th layer are ``weight_ih_l{k}`` etc. Unfolded over T steps every copy shares
    W_ih, W_hh, b_ih, b_hh, and backward sums their gradients over all steps.

    Reference loop (one layer, one direction; the fast path does the input products for all
    steps as one matrix product)::

        for t in range(T):
            h = np.tanh(x[t] @ W_ih.T + b_ih + h @ W_hh.T + b_hh)
            y[t] = h
""" + layer_doc("h of shape (L*D, N, H) ((L*D, H) unbatched)", 1) + """
    Example:
        >>> import numpy as np, rnnkit
        >>> rnn = rnnkit.RNN(3, 5, num_layers=2, seed=0)
        >>> y, h = rnn(np.zeros((4, 7, 3)))
        >>> y.shape, h.shape
        ((4, 7, 5), (2, 4, 5))
"""
