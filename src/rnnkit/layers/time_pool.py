"""``TimePool``: one vector per sequence from a recurrent layer's outputs, by pooling over time.

A classifier that reads only the last step must carry everything through the whole recurrence;
pooling over all valid steps gives the gradient a short path to every step (Lin et al., 2014,
"Network in network"; the usual "global pooling" of time-series networks). With ``lengths``
only the steps t < T_n of sequence n count::

    last[n] = y[n, T_n - 1, :]          (bidirectional: concat(y[n, T_n - 1, :H], y[n, 0, H:]))
    mean[n] = sum_{t < T_n} y[n, t, :] / T_n
    max[n]  = max_{t < T_n} y[n, t, :]  (element-wise)
    out[n]  = concat(pool[n] for pool in modes)           (N, len(modes) * F)

Backward: ``last`` puts dout back at the picked step, ``mean`` spreads dout / T_n over the valid
steps, ``max`` routes dout to the step that won (the first one on ties).
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from .._checks import check_bool, check_lengths, check_shape
from .module import Module

MODES = ("last", "mean", "max")


class TimePool(Module):
    """Pool (N, T, F) -> (N, len(modes) * F) over the valid steps; see the module docstring.

    Args:
        modes: a non-empty list of distinct names among "last", "mean", "max", in output order.
        bidirectional: whether F holds a forward and a reverse half (only "last" cares).
    """

    takes_lengths = True
    _saved_attr = "_rec"
    #: one output per sequence: ``fit`` then expects one target per sequence (see training.evaluate)
    reduces_time = True

    def __init__(self, modes: Sequence[str] = ("mean", "last"), bidirectional: bool = False) -> None:
        modes = [modes] if isinstance(modes, str) else list(modes)
        if not modes or len(set(modes)) != len(modes) or any(m not in MODES for m in modes):
            raise ValueError(f"The 'modes' parameter of TimePool must be a non-empty list of distinct names "
                             f"among {MODES}. Got {modes!r} instead.")
        self.modes = tuple(modes)
        self.bidirectional = check_bool(bidirectional, "bidirectional", "TimePool")
        self._init_params({})
        self._rec: tuple | None = None

    def get_config(self) -> dict[str, Any]:
        return {"modes": list(self.modes), "bidirectional": self.bidirectional}

    def output_shape(self, input_shape: tuple) -> tuple:
        return (input_shape[0], len(self.modes) * input_shape[-1])

    def __repr__(self) -> str:
        return f"TimePool(modes={list(self.modes)}, bidirectional={self.bidirectional})"

    def forward(self, y: Any, lengths: Any = None) -> np.ndarray:
        """y (N, T, F) -> out (N, len(modes) * F); lengths: N ints in 1..T or None (all T)."""
        y = np.asarray(y)
        if y.dtype.kind != "f" or y.ndim != 3:
            raise ValueError(f"Expected a batch-first float array (N, T, F) for TimePool, got dtype "
                             f"{y.dtype} and shape {y.shape}.")
        N, T, F = y.shape
        if self.bidirectional and F % 2:
            raise ValueError(f"Expected an even feature size for a bidirectional TimePool, got F = {F}.")
        lens = np.full(N, T) if lengths is None else check_lengths(lengths, N, T)
        valid = (np.arange(T)[None, :] < lens[:, None])[:, :, None]          # (N, T, 1)
        rows = np.arange(N)
        parts, argmax = [], None
        for mode in self.modes:
            if mode == "last":
                out = y[rows, lens - 1].copy()
                if self.bidirectional:
                    out[:, F // 2:] = y[:, 0, F // 2:]
            elif mode == "mean":
                out = np.where(valid, y, 0).sum(axis=1) / lens[:, None].astype(y.dtype)
            else:
                masked = np.where(valid, y, -np.inf)
                argmax = masked.argmax(axis=1)                              # (N, F)
                out = np.take_along_axis(y, argmax[:, None, :], axis=1)[:, 0]
            parts.append(out.astype(y.dtype, copy=False))
        self._rec = (y.shape, y.dtype, lens, valid, argmax) if self._keeps_for_backward() else None
        return np.concatenate(parts, axis=1)

    def backward(self, dout: Any) -> np.ndarray:
        """dout (N, len(modes) * F) -> dy (N, T, F)."""
        (N, T, F), dtype, lens, valid, argmax = self._saved_for_backward()
        dout = np.asarray(dout, dtype=dtype)
        check_shape(dout, (N, len(self.modes) * F), "dout", "dout must have the shape of TimePool's output.")
        self._rec = None  # consumed: one backward per forward
        dy = np.zeros((N, T, F), dtype=dtype)
        rows = np.arange(N)
        for k, mode in enumerate(self.modes):
            d = dout[:, k * F:(k + 1) * F]
            if mode == "last":
                if self.bidirectional:
                    H = F // 2
                    dy[rows, lens - 1, :H] += d[:, :H]
                    dy[:, 0, H:] += d[:, H:]
                else:
                    dy[rows, lens - 1] += d
            elif mode == "mean":
                dy += np.where(valid, (d / lens[:, None].astype(dtype))[:, None, :], 0).astype(dtype)
            else:
                np.put_along_axis(dy, argmax[:, None, :],
                                  np.take_along_axis(dy, argmax[:, None, :], axis=1) + d[:, None, :], axis=1)
        return dy
