"""``rnnkit.GRU``: the gated recurrent unit layer, in PyTorch's and in Cho et al.'s form."""

from __future__ import annotations

from typing import Any

import numpy as np

from .._checks import check_bool
from ..kernels.gru import gru_backward, gru_forward
from ._doc import layer_doc
from .recurrent import RecurrentLayer


class GRU(RecurrentLayer):
    _gates = 3
    _forward_kernel = staticmethod(gru_forward)
    _backward_kernel = staticmethod(gru_backward)

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
        reset_after: bool = True,
        recurrent_dropout: float = 0.0,
        init: str = "pytorch",
        dtype: str | np.dtype = "float32",
        seed: int | np.random.Generator | None = None,
    ) -> None:
        super().__init__(input_size, hidden_size, num_layers, bias, batch_first, dropout,
                         bidirectional, recurrent_dropout=recurrent_dropout, init=init,
                         dtype=dtype, seed=seed, reset_after=reset_after)

    def _check_options(self, options: dict[str, Any]) -> dict[str, Any]:
        return {"reset_after": check_bool(options.pop("reset_after"), "reset_after", "GRU")}


GRU.__doc__ = """Gated recurrent unit layer. Gates stacked in PyTorch's order r, z, n::

        r_t = sigma(x_t @ W_ir.T + b_ir + h_{t-1} @ W_hr.T + b_hr)
        z_t = sigma(x_t @ W_iz.T + b_iz + h_{t-1} @ W_hz.T + b_hz)
        n_t = tanh(x_t @ W_in.T + b_in + r_t * (h_{t-1} @ W_hn.T + b_hn))     reset_after=True
        n_t = tanh(x_t @ W_in.T + b_in + (r_t * h_{t-1}) @ W_hn.T + b_hn)     reset_after=False
        h_t = (1 - z_t) * n_t + z_t * h_{t-1}

    ``reset_after=True`` (default) is ``torch.nn.GRU`` and cuDNN's GRU (Keras's default too).
    ``reset_after=False`` is the original GRU of Cho et al. (2014): the reset gate acts on
    h_{t-1} before the product with W_hn. PyTorch cannot express it; the parameters have the
    same names and shapes in both forms.

    Reference loop (one layer, one direction, reset_after=True)::

        for t in range(T):
            gx, gh = x[t] @ W_ih.T + b_ih, h @ W_hh.T + b_hh
            r = sigmoid(gx[:, :H] + gh[:, :H]); z = sigmoid(gx[:, H:2*H] + gh[:, H:2*H])
            n = np.tanh(gx[:, 2*H:] + r * gh[:, 2*H:])
            h = (1 - z) * n + z * h
            y[t] = h
""" + layer_doc("h of shape (L*D, N, H) ((L*D, H) unbatched)", 3) + """
        reset_after: PyTorch/cuDNN form (True) or Cho et al. 2014 form (False).

    Example:
        >>> import numpy as np, rnnkit
        >>> gru = rnnkit.GRU(3, 5, reset_after=False, seed=0)
        >>> y, h = gru(np.zeros((4, 7, 3)))
        >>> y.shape, h.shape
        ((4, 7, 5), (1, 4, 5))
"""
