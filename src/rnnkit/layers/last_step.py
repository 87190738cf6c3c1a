"""``rnnkit.LastStep``: one vector per sequence from a recurrent layer's per-step output."""

from __future__ import annotations

from typing import Any

import numpy as np

from .._checks import check_bool, check_lengths, check_shape
from .module import Module


class LastStep(Module):
    """Pick each sequence's output at its last valid step: (N, T, F) -> (N, F).

    With ``lengths`` (N ints in 1..T) the last valid step of sequence n is t_n = lengths[n] - 1,
    else t_n = T - 1::

        out[n] = y[n, t_n, :]                                     bidirectional=False
        out[n] = concat(y[n, t_n, :H], y[n, 0, H:])  (H = F / 2)  bidirectional=True

    The bidirectional form is what PyTorch users build by hand from ``h_n``: the forward
    direction has read the whole sequence at t_n, the reverse direction at step 0.

    Backward scatters dout back into a zero (N, T, F) array at the same positions.

    Args:
        bidirectional: True, False, or None (the default): inside a :class:`Sequential`, None
            follows the nearest recurrent layer before this one; on its own, None means False.

    ``y`` must be batch-first (N, T, F).
    """

    reduces_time = True  # (N, T, F) -> (N, F): targets are per sequence

    takes_lengths = True
    _saved_attr = "_rec"

    def __init__(self, bidirectional: bool | None = None) -> None:
        if bidirectional is not None:
            check_bool(bidirectional, "bidirectional", "LastStep")
        self.bidirectional = bidirectional
        self._resolved = bool(bidirectional)
        self._init_params({})
        self._rec: tuple | None = None

    def get_config(self) -> dict[str, Any]:
        return dict(bidirectional=self.bidirectional)

    def output_shape(self, input_shape: tuple) -> tuple:
        return (input_shape[0], input_shape[-1])

    def __repr__(self) -> str:
        return "LastStep()" if self.bidirectional is None else f"LastStep(bidirectional={self.bidirectional})"

    def forward(self, y: Any, lengths: Any = None) -> np.ndarray:
        """y (N, T, F) -> out (N, F); lengths: N ints in 1..T or None (all T)."""
        y = np.asarray(y)
        if y.dtype.kind != "f" or y.ndim != 3:
            raise ValueError(
                f"Expected a batch-first float array (N, T, F) for LastStep, got dtype {y.dtype} and shape {y.shape}."
            )
        N, T, F = y.shape
        if self._resolved and F % 2:
            raise ValueError(f"Expected an even feature size for bidirectional LastStep (two halves), got F = {F}.")
        t_last = np.full(N, T - 1) if lengths is None else check_lengths(lengths, N, T) - 1
        rows = np.arange(N)
        out = y[rows, t_last].copy()
        if self._resolved:
            out[:, F // 2:] = y[:, 0, F // 2:]
        self._rec = (y.shape, y.dtype, t_last) if self._keeps_for_backward() else None
        return out

    def backward(self, dout: Any) -> np.ndarray:
        """dout (N, F) -> dy (N, T, F), zero except at the picked positions."""
        shape, dtype, t_last = self._saved_for_backward()
        N, T, F = shape
        dout = np.asarray(dout, dtype=dtype)
        check_shape(dout, (N, F), "dout", "dout must have the shape of LastStep's output.")
        self._rec = None  # consumed: one backward per forward
        dy = np.zeros(shape, dtype=dtype)
        rows = np.arange(N)
        if self._resolved:
            H = F // 2
            dy[rows, t_last, :H] = dout[:, :H]
            dy[:, 0, H:] += dout[:, H:]
        else:
            dy[rows, t_last] = dout
        return dy
