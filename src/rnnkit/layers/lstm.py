"""``rnnkit.LSTM``: the long short-term memory layer."""

from __future__ import annotations

import numpy as np

from ..kernels.lstm import lstm_backward, lstm_forward
from ._doc import layer_doc
from .recurrent import RecurrentLayer


class LSTM(RecurrentLayer):
    _gates = 4
    _state_names = ("h", "c")
    _forget_gate = 1
    _forward_kernel = staticmethod(lstm_forward)
    _backward_kernel = staticmethod(lstm_backward)

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
        recurrent_dropout: float = 0.0,
        init: str = "pytorch",
        dtype: str | np.dtype = "float32",
        seed: int | np.random.Generator | None = None,
    ) -> None:
        # the arguments spelt out (as RNN's and GRU's), so that help() and IDEs show them all
        super().__init__(input_size, hidden_size, num_layers, bias, batch_first, dropout,
                         bidirectional, recurrent_dropout=recurrent_dropout, init=init,
                         dtype=dtype, seed=seed)


LSTM.__doc__ = """Long short-term memory layer, the same as ``torch.nn.LSTM``.

    A cell c_t remembers values over arbitrary intervals; three gates regulate what enters it
    (input gate i), what it keeps (forget gate f) and what it shows (output gate o). Gates are
    stacked in W_ih/W_hh/b_ih/b_hh in PyTorch's order i, f, g, o (sigma = sigmoid)::

        i_t = sigma(x_t @ W_ii.T + b_ii + h_{t-1} @ W_hi.T + b_hi)
        f_t = sigma(x_t @ W_if.T + b_if + h_{t-1} @ W_hf.T + b_hf)
        g_t = tanh (x_t @ W_ig.T + b_ig + h_{t-1} @ W_hg.T + b_hg)
        o_t = sigma(x_t @ W_io.T + b_io + h_{t-1} @ W_ho.T + b_ho)
        c_t = f_t * c_{t-1} + i_t * g_t
        h_t = o_t * tanh(c_t)

    Reference loop (one layer, one direction)::

        for t in range(T):
            a = x[t] @ W_ih.T + b_ih + h @ W_hh.T + b_hh
            i, f, g, o = sigmoid(a[:, :H]), sigmoid(a[:, H:2*H]), np.tanh(a[:, 2*H:3*H]), sigmoid(a[:, 3*H:])
            c = f * c + i * g
            h = o * np.tanh(c)
            y[t] = h
""" + layer_doc(
    "the tuple (h, c), each of shape (L*D, N, H) ((L*D, H) unbatched)", 4,
    " except the forget-gate block of b_ih, which is 1",
) + """
    Example:
        >>> import numpy as np, rnnkit
        >>> lstm = rnnkit.LSTM(3, 5, bidirectional=True, seed=0)
        >>> y, (h, c) = lstm(np.zeros((4, 7, 3)), lengths=[7, 2, 5, 1])
        >>> y.shape, h.shape, c.shape
        ((4, 7, 10), (2, 4, 5), (2, 4, 5))
"""
