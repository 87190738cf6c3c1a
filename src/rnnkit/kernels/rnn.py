"""Elman RNN kernel: forward over a whole sequence and its Backpropagation Through Time.

Forward, for t = 0 .. T-1 (row-vector convention, ``h~ = h_{t-1} * rec_mask``)::

    a_t = x_t @ W_ih.T + b_ih + h~_{t-1} @ W_hh.T + b_hh
    h_t = phi(a_t)                      phi = tanh or relu
    y_t = h_t

Backward, for t = T-1 .. 0, carrying ``dh`` = dL/dh_t::

    dh    += dy_t
    da_t   = dh * phi'(a_t)             tanh' = 1 - h_t**2,  relu' = [h_t > 0]
    dh     = (da_t @ W_hh) * rec_mask   (now dL/dh_{t-1})

and after the loop the weight gradients and dx as one matrix product each
(:func:`rnnkit.kernels.common.weight_gradients`). Shapes and the meaning of ``batch_sizes``
and ``rec_mask`` are in :mod:`rnnkit.kernels.common`.
"""

from __future__ import annotations

import numpy as np

from .activations import relu_, tanh_
from .common import (
    active_rows,
    input_projection,
    masked_outputs,
    recurrent_inputs,
    row_sq_norms,
    weight_gradients,
)


def rnn_forward(
    x: np.ndarray,
    state0: tuple[np.ndarray],
    W_ih: np.ndarray,
    W_hh: np.ndarray,
    b_ih: np.ndarray | None = None,
    b_hh: np.ndarray | None = None,
    batch_sizes: np.ndarray | None = None,
    rec_mask: np.ndarray | None = None,
    nonlinearity: str = "tanh",
) -> tuple[np.ndarray, tuple[np.ndarray], dict]:
    """Run the RNN over x (T, N, I) from state0 = (h0,) with h0 (N, H).

    Returns ``(y, (h_T,), cache)``: y (T, N, H), the final state (N, H), and what backward needs.
    """
    T, N, _ = x.shape
    H = W_hh.shape[1]
    (h0,) = state0
    bias = None if b_ih is None else b_ih + b_hh
    A = input_projection(x, W_ih, bias)  # (T, N, H) pre-activations
    phi = tanh_ if nonlinearity == "tanh" else relu_
    W_hhT = W_hh.T
    hs = np.empty((T + 1, N, H), dtype=x.dtype)
    hs[0] = h0
    for t in range(T):
        B = active_rows(batch_sizes, t, N)
        h_prev = hs[t, :B] if rec_mask is None else hs[t, :B] * rec_mask[:B]
        a = A[t, :B]
        a += h_prev @ W_hhT
        hs[t + 1, :B] = phi(a)
        if B < N:
            hs[t + 1, B:] = hs[t, B:]
    cache = dict(x=x, W_ih=W_ih, W_hh=W_hh, hs=hs, batch_sizes=batch_sizes,
                 rec_mask=rec_mask, nonlinearity=nonlinearity, has_bias=b_ih is not None)
    return masked_outputs(hs, batch_sizes), (hs[T].copy(),), cache


def rnn_backward(
    cache: dict, dy: np.ndarray | None, dstate: tuple[np.ndarray]
) -> tuple[np.ndarray, tuple[np.ndarray], dict[str, np.ndarray], np.ndarray]:
    """BPTT through :func:`rnn_forward`.

    Args:
        cache: the forward's cache.
        dy: dL/dy (T, N, H), or None for zeros.
        dstate: (dL/dh_T,) with dL/dh_T (N, H).

    Returns:
        ``(dx, (dh0,), grads, dh_sq)``: dx (T, N, I); dh0 (N, H); grads keyed weight_ih,
        weight_hh[, bias_ih, bias_hh]; dh_sq (T, N) the squared norm of dL/dh_t per row.
    """
    x, W_hh, hs = cache["x"], cache["W_hh"], cache["hs"]
    batch_sizes, rec_mask = cache["batch_sizes"], cache["rec_mask"]
    relu = cache["nonlinearity"] == "relu"
    T, N, _ = x.shape
    dh = np.array(dstate[0], dtype=x.dtype, copy=True)
    dA = np.zeros_like(hs[1:])
    dh_sq = np.zeros((T, N), dtype=x.dtype)
    for t in reversed(range(T)):
        B = active_rows(batch_sizes, t, N)
        dh_t = dh[:B]
        if dy is not None:
            dh_t += dy[t, :B]
        dh_sq[t, :B] = row_sq_norms(dh_t)
        h = hs[t + 1, :B]
        da = dA[t, :B]
        if relu:
            np.multiply(dh_t, h > 0, out=da)
        else:
            np.multiply(h, h, out=da)
            np.subtract(1, da, out=da)
            da *= dh_t
        dh_prev = da @ W_hh
        if rec_mask is not None:
            dh_prev *= rec_mask[:B]
        dh[:B] = dh_prev
    dx, grads = weight_gradients(dA, x, recurrent_inputs(hs, rec_mask), cache["W_ih"], cache["has_bias"])
    return dx, (dh,), grads, dh_sq
