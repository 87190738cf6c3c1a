"""LSTM kernel: forward over a whole sequence and its Backpropagation Through Time.

Gates are stacked in PyTorch's order i, f, g, o (input, forget, cell candidate, output).
Forward, for t = 0 .. T-1 (row vectors, ``h~ = h_{t-1} * rec_mask``, sigma = sigmoid)::

    a_t = x_t @ W_ih.T + b_ih + h~_{t-1} @ W_hh.T + b_hh     (N, 4H) = [a_i a_f a_g a_o]
    i_t = sigma(a_i)   f_t = sigma(a_f)   g_t = tanh(a_g)   o_t = sigma(a_o)
    c_t = f_t * c_{t-1} + i_t * g_t
    h_t = o_t * tanh(c_t)
    y_t = h_t

Backward, for t = T-1 .. 0, carrying dh = dL/dh_t and dc = dL/dc_t::

    dh  += dy_t
    do   = dh * tanh(c_t)                    da_o = do * o_t * (1 - o_t)
    dc  += dh * o_t * (1 - tanh(c_t)**2)
    di   = dc * g_t                          da_i = di * i_t * (1 - i_t)
    df   = dc * c_{t-1}                      da_f = df * f_t * (1 - f_t)
    dg   = dc * i_t                          da_g = dg * (1 - g_t**2)
    dc   = dc * f_t                          (now dL/dc_{t-1})
    dh   = (da_t @ W_hh) * rec_mask          (now dL/dh_{t-1})

then the weight gradients and dx as one matrix product each
(:func:`rnnkit.kernels.common.weight_gradients`). Shapes and the meaning of ``batch_sizes``
and ``rec_mask`` are in :mod:`rnnkit.kernels.common`.
"""

from __future__ import annotations

import numpy as np

from .activations import sigmoid_, tanh_
from .common import (
    active_rows,
    input_projection,
    masked_outputs,
    recurrent_inputs,
    row_sq_norms,
    weight_gradients,
)


def lstm_forward(
    x: np.ndarray,
    state0: tuple[np.ndarray, np.ndarray],
    W_ih: np.ndarray,
    W_hh: np.ndarray,
    b_ih: np.ndarray | None = None,
    b_hh: np.ndarray | None = None,
    batch_sizes: np.ndarray | None = None,
    rec_mask: np.ndarray | None = None,
) -> tuple[np.ndarray, tuple[np.ndarray, np.ndarray], dict]:
    """Run the LSTM over x (T, N, I) from state0 = (h0, c0), each (N, H).

    Returns ``(y, (h_T, c_T), cache)`` with y (T, N, H).
    """
    T, N, _ = x.shape
    H = W_hh.shape[1]
    h0, c0 = state0
    bias = None if b_ih is None else b_ih + b_hh
    A = input_projection(x, W_ih, bias)  # (T, N, 4H); overwritten with [i f g o]
    W_hhT = W_hh.T
    hs = np.empty((T + 1, N, H), dtype=x.dtype)
    cs = np.empty((T + 1, N, H), dtype=x.dtype)
    tanh_cs = np.empty((T, N, H), dtype=x.dtype)
    hs[0], cs[0] = h0, c0
    for t in range(T):
        B = active_rows(batch_sizes, t, N)
        h_prev = hs[t, :B] if rec_mask is None else hs[t, :B] * rec_mask[:B]
        a = A[t, :B]
        a += h_prev @ W_hhT
        sigmoid_(a[:, : 2 * H])
        tanh_(a[:, 2 * H : 3 * H])
        sigmoid_(a[:, 3 * H :])
        i, f, g, o = a[:, :H], a[:, H : 2 * H], a[:, 2 * H : 3 * H], a[:, 3 * H :]
        c = cs[t + 1, :B]
        np.multiply(f, cs[t, :B], out=c)
        c += i * g
        tc = np.tanh(c, out=tanh_cs[t, :B])
        np.multiply(o, tc, out=hs[t + 1, :B])
        if B < N:
            hs[t + 1, B:] = hs[t, B:]
            cs[t + 1, B:] = cs[t, B:]
    cache = dict(x=x, W_ih=W_ih, W_hh=W_hh, gates=A, hs=hs, cs=cs, tanh_cs=tanh_cs,
                 batch_sizes=batch_sizes, rec_mask=rec_mask, has_bias=b_ih is not None)
    return masked_outputs(hs, batch_sizes), (hs[T].copy(), cs[T].copy()), cache


def lstm_backward(
    cache: dict, dy: np.ndarray | None, dstate: tuple[np.ndarray, np.ndarray]
) -> tuple[np.ndarray, tuple[np.ndarray, np.ndarray], dict[str, np.ndarray], np.ndarray]:
    """BPTT through :func:`lstm_forward`.

    Args:
        cache: the forward's cache.
        dy: dL/dy (T, N, H), or None for zeros.
        dstate: (dL/dh_T, dL/dc_T), each (N, H).

    Returns:
        ``(dx, (dh0, dc0), grads, dh_sq)``: dx (T, N, I); grads keyed weight_ih, weight_hh
        [, bias_ih, bias_hh]; dh_sq (T, N) the squared norm of dL/dh_t per row.
    """
    x, W_hh, A = cache["x"], cache["W_hh"], cache["gates"]
    hs, cs, tanh_cs = cache["hs"], cache["cs"], cache["tanh_cs"]
    batch_sizes, rec_mask = cache["batch_sizes"], cache["rec_mask"]
    T, N, _ = x.shape
    H = W_hh.shape[1]
    dh = np.array(dstate[0], dtype=x.dtype, copy=True)
    dc = np.array(dstate[1], dtype=x.dtype, copy=True)
    dA = np.zeros_like(A)
    dh_sq = np.zeros((T, N), dtype=x.dtype)
    for t in reversed(range(T)):
        B = active_rows(batch_sizes, t, N)
        dh_t, dc_t = dh[:B], dc[:B]
        if dy is not None:
            dh_t += dy[t, :B]
        dh_sq[t, :B] = row_sq_norms(dh_t)
        a = A[t, :B]
        i, f, g, o = a[:, :H], a[:, H : 2 * H], a[:, 2 * H : 3 * H], a[:, 3 * H :]
        tc = tanh_cs[t, :B]
        da = dA[t, :B]
        da_i, da_f, da_g, da_o = da[:, :H], da[:, H : 2 * H], da[:, 2 * H : 3 * H], da[:, 3 * H :]
        # output gate: da_o = dh * tanh(c) * o * (1 - o)
        np.multiply(dh_t, tc, out=da_o)
        da_o *= o * (1 - o)
        # cell: dc += dh * o * (1 - tanh(c)^2)
        dc_t += dh_t * o * (1 - tc * tc)
        np.multiply(dc_t, g, out=da_i)
        da_i *= i * (1 - i)
        np.multiply(dc_t, cs[t, :B], out=da_f)
        da_f *= f * (1 - f)
        np.multiply(dc_t, i, out=da_g)
        da_g *= 1 - g * g
        dc_t *= f
        dh_prev = da @ W_hh
        if rec_mask is not None:
            dh_prev *= rec_mask[:B]
        dh[:B] = dh_prev
    dx, grads = weight_gradients(dA, x, recurrent_inputs(hs, rec_mask), cache["W_ih"], cache["has_bias"])
    return dx, (dh, dc), grads, dh_sq
