"""GRU kernel, in both forms, with its Backpropagation Through Time.

Gates are stacked in PyTorch's order r, z, n (reset, update, candidate). Row vectors,
``h~ = h_{t-1} * rec_mask``, sigma = sigmoid, W_hr/W_hz/W_hn the three row blocks of W_hh::

    r_t = sigma(x_t @ W_ir.T + b_ir + h~ @ W_hr.T + b_hr)
    z_t = sigma(x_t @ W_iz.T + b_iz + h~ @ W_hz.T + b_hz)
    reset_after=True  (PyTorch, cuDNN):   n_t = tanh(x_t @ W_in.T + b_in + r_t * (h~ @ W_hn.T + b_hn))
    reset_after=False (Cho et al. 2014):  n_t = tanh(x_t @ W_in.T + b_in + (r_t * h~) @ W_hn.T + b_hn)
    h_t = (1 - z_t) * n_t + z_t * h_{t-1}
    y_t = h_t

Backward, for t = T-1 .. 0, carrying dh = dL/dh_t::

    dh  += dy_t
    da_n = dh * (1 - z_t) * (1 - n_t**2)
    da_z = dh * (h_{t-1} - n_t) * z_t * (1 - z_t)
    reset_after=True:   gh_n = h~ @ W_hn.T + b_hn
                        da_r = da_n * gh_n * r_t * (1 - r_t)
                        dh~  = [da_r, da_z, da_n * r_t] @ W_hh
    reset_after=False:  drh  = da_n @ W_hn
                        da_r = drh * h~ * r_t * (1 - r_t)
                        dh~  = [da_r, da_z] @ [W_hr; W_hz] + drh * r_t
    dh   = dh * z_t + dh~ * rec_mask          (now dL/dh_{t-1})

The weight gradients and dx follow after the loop as one matrix product each. With
reset_after=True the recurrent side has its own gate gradients ``[da_r, da_z, da_n * r_t]``, so
db_hh differs from db_ih in the n block. Shapes and ``batch_sizes``/``rec_mask`` are as in
:mod:`rnnkit.kernels.common`.
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


def gru_forward(
    x: np.ndarray,
    state0: tuple[np.ndarray],
    W_ih: np.ndarray,
    W_hh: np.ndarray,
    b_ih: np.ndarray | None = None,
    b_hh: np.ndarray | None = None,
    batch_sizes: np.ndarray | None = None,
    rec_mask: np.ndarray | None = None,
    reset_after: bool = True,
) -> tuple[np.ndarray, tuple[np.ndarray], dict]:
    """Run the GRU over x (T, N, I) from state0 = (h0,) with h0 (N, H).

    Returns ``(y, (h_T,), cache)`` with y (T, N, H).
    """
    T, N, _ = x.shape
    H = W_hh.shape[1]
    (h0,) = state0
    has_bias = b_ih is not None
    if has_bias:
        bias = b_ih.copy()
        if reset_after:
            bias[: 2 * H] += b_hh[: 2 * H]  # b_hn stays inside r * (...)
        else:
            bias += b_hh
    else:
        bias = None
    A = input_projection(x, W_ih, bias)  # (T, N, 3H); overwritten with [r z n]
    hs = np.empty((T + 1, N, H), dtype=x.dtype)
    hs[0] = h0
    if reset_after:
        W_hhT = W_hh.T
        b_hn = b_hh[2 * H :] if has_bias else None
        side = np.zeros((T, N, H), dtype=x.dtype)  # gh_n = h~ @ W_hn.T + b_hn
    else:
        W_hrzT, W_hnT = W_hh[: 2 * H].T, W_hh[2 * H :].T
        side = np.zeros((T, N, H), dtype=x.dtype)  # r * h~
    for t in range(T):
        B = active_rows(batch_sizes, t, N)
        h_prev = hs[t, :B]
        hm = h_prev if rec_mask is None else h_prev * rec_mask[:B]
        a = A[t, :B]
        rz, n = a[:, : 2 * H], a[:, 2 * H :]
        if reset_after:
            gh = hm @ W_hhT
            rz += gh[:, : 2 * H]
            ghn = side[t, :B]
            ghn[...] = gh[:, 2 * H :]
            if b_hn is not None:
                ghn += b_hn
            sigmoid_(rz)
            r = rz[:, :H]
            n += r * ghn
        else:
            rz += hm @ W_hrzT
            sigmoid_(rz)
            rh = np.multiply(rz[:, :H], hm, out=side[t, :B])
            n += rh @ W_hnT
        tanh_(n)
        z = rz[:, H:]
        # h_t = n + z * (h_{t-1} - n)
        h = hs[t + 1, :B]
        np.subtract(h_prev, n, out=h)
        h *= z
        h += n
        if B < N:
            hs[t + 1, B:] = hs[t, B:]
    cache = dict(x=x, W_ih=W_ih, W_hh=W_hh, gates=A, hs=hs, side=side, batch_sizes=batch_sizes,
                 rec_mask=rec_mask, reset_after=reset_after, has_bias=has_bias)
    return masked_outputs(hs, batch_sizes), (hs[T].copy(),), cache


def gru_backward(
    cache: dict, dy: np.ndarray | None, dstate: tuple[np.ndarray]
) -> tuple[np.ndarray, tuple[np.ndarray], dict[str, np.ndarray], np.ndarray]:
    """BPTT through :func:`gru_forward`.

    Args:
        cache: the forward's cache.
        dy: dL/dy (T, N, H), or None for zeros.
        dstate: (dL/dh_T,) with dL/dh_T (N, H).

    Returns:
        ``(dx, (dh0,), grads, dh_sq)``: dx (T, N, I); grads keyed weight_ih, weight_hh
        [, bias_ih, bias_hh]; dh_sq (T, N) the squared norm of dL/dh_t per row.
    """
    x, W_hh, A, hs, side = cache["x"], cache["W_hh"], cache["gates"], cache["hs"], cache["side"]
    batch_sizes, rec_mask, reset_after = cache["batch_sizes"], cache["rec_mask"], cache["reset_after"]
    T, N, _ = x.shape
    H = W_hh.shape[1]
    dh = np.array(dstate[0], dtype=x.dtype, copy=True)
    dA = np.zeros_like(A)  # input-side gate gradients
    dAh = np.zeros_like(A) if reset_after else None  # recurrent-side (reset_after only)
    dh_sq = np.zeros((T, N), dtype=x.dtype)
    W_hrz, W_hn = W_hh[: 2 * H], W_hh[2 * H :]
    for t in reversed(range(T)):
        B = active_rows(batch_sizes, t, N)
        dh_t = dh[:B]
        if dy is not None:
            dh_t += dy[t, :B]
        dh_sq[t, :B] = row_sq_norms(dh_t)
        a = A[t, :B]
        r, z, n = a[:, :H], a[:, H : 2 * H], a[:, 2 * H :]
        h_prev = hs[t, :B]
        da = dA[t, :B]
        da_r, da_z, da_n = da[:, :H], da[:, H : 2 * H], da[:, 2 * H :]
        np.multiply(dh_t, 1 - z, out=da_n)
        da_n *= 1 - n * n
        np.subtract(h_prev, n, out=da_z)
        da_z *= dh_t
        da_z *= z * (1 - z)
        if reset_after:
            np.multiply(da_n, side[t, :B], out=da_r)
            da_r *= r * (1 - r)
            dah = dAh[t, :B]
            dah[:, : 2 * H] = da[:, : 2 * H]
            np.multiply(da_n, r, out=dah[:, 2 * H :])
            dhm = dah @ W_hh
        else:
            drh = da_n @ W_hn
            hm = h_prev if rec_mask is None else h_prev * rec_mask[:B]
            np.multiply(drh, hm, out=da_r)
            da_r *= r * (1 - r)
            dhm = da[:, : 2 * H] @ W_hrz
            dhm += drh * r
        if rec_mask is not None:
            dhm *= rec_mask[:B]
        dh_t *= z
        dh_t += dhm
    h_in = recurrent_inputs(hs, rec_mask)
    dx, grads = weight_gradients(dA, x, h_in, cache["W_ih"], cache["has_bias"])
    if reset_after:
        dAh2 = dAh.reshape(T * N, 3 * H)
        grads["weight_hh"] = dAh2.T @ h_in.reshape(T * N, H)
        if cache["has_bias"]:
            grads["bias_hh"] = dAh2.sum(axis=0)
    else:
        dA2 = dA.reshape(T * N, 3 * H)
        grads["weight_hh"] = np.concatenate(
            [dA2[:, : 2 * H].T @ h_in.reshape(T * N, H), dA2[:, 2 * H :].T @ side.reshape(T * N, H)]
        )
    return dx, (dh,), grads, dh_sq
