"""LSTM kernel: forward over a whole sequence and its Backpropagation Through Time.

Layout and arguments as in :mod:`rnnkit.kernels.common` (h, c are (H, N)). The parameters use
PyTorch's gate order i, f, g, o. Forward, for each step t (``h~ = h_{t-1} * rec_mask``,
sigma = sigmoid)::

    a_t = W_ih @ x_t + b_ih + W_hh @ h~ + b_hh          (4H, N) = [a_i; a_f; a_g; a_o]
    i_t = sigma(a_i)   f_t = sigma(a_f)   g_t = tanh(a_g)   o_t = sigma(a_o)
    c_t = f_t * c_{t-1} + i_t * g_t
    h_t = o_t * tanh(c_t)
    y_t = h_t

Backward, in the opposite order, carrying dh = dL/dh_t and dc = dL/dc_t::

    dh  += dy_t
    dc  += dh * o_t * (1 - tanh(c_t)**2)
    da_i = dc * g_t * i_t * (1 - i_t)          da_f = dc * c_{t-1} * f_t * (1 - f_t)
    da_g = dc * i_t * (1 - g_t**2)             da_o = dh * tanh(c_t) * o_t * (1 - o_t)
    dc   = dc * f_t                            (now dL/dc_{t-1})
    dh   = (W_hh.T @ da_t) * rec_mask          (now dL/dh_{t-1})

then the weight gradients and dx as a few large products after the loop.

Inside, the gate rows are reordered to i, f, o, g so the three sigmoid gates form one
contiguous block, and the sigmoid rows of the weights are halved so that one ``tanh`` call
activates all four gates (:func:`~rnnkit.kernels.common.sigmoid_prescale`). Gradients are
returned in PyTorch's order.
"""

from __future__ import annotations

import numpy as np

from .common import (
    active,
    buffer,
    column_sq_norms,
    input_projection,
    masked_outputs,
    matmul_into,
    previous_states,
    sigmoid_prescale,
    slots,
    steps,
    weight_gradients,
)


def _ifog(H: int) -> np.ndarray:
    """Row permutation from PyTorch's i, f, g, o to the kernel's i, f, o, g (an involution)."""
    return np.r_[0 : 2 * H, 3 * H : 4 * H, 2 * H : 3 * H]


def lstm_forward(
    x: np.ndarray,
    state0: tuple[np.ndarray, np.ndarray],
    W_ih: np.ndarray,
    W_hh: np.ndarray,
    b_ih: np.ndarray | None = None,
    b_hh: np.ndarray | None = None,
    batch_sizes: np.ndarray | None = None,
    rec_mask: np.ndarray | None = None,
    reverse: bool = False,
    ws: dict | None = None,
) -> tuple[np.ndarray, tuple[np.ndarray, np.ndarray], dict]:
    """Run the LSTM over x (T, I, N) from state0 = (h0, c0), each (H, N).

    Returns ``(y, (h_T, c_T), cache)`` with y (T, H, N).
    """
    T, _, N = x.shape
    H = W_hh.shape[1]
    dtype = x.dtype
    perm = _ifog(H)
    half = sigmoid_prescale(4, 3, H, dtype)
    W_ip, W_hp = W_ih[perm], W_hh[perm]  # weights in i, f, o, g order
    W_hs = W_hp * half
    bias = None if b_ih is None else (b_ih + b_hh)[perm] * half[:, 0]
    A = input_projection(x, W_ip * half, bias, out=buffer(ws, "gates", (T, 4 * H, N), dtype))  # [i; f; o; g]
    hs = buffer(ws, "hs", (T + 1, H, N), dtype)
    cs = buffer(ws, "cs", (T + 1, H, N), dtype)
    tanh_cs = buffer(ws, "tanh_cs", (T, H, N), dtype)
    first = T if reverse else 0
    hs[first], cs[first] = state0
    gh_buf = buffer(ws, "gh", (4 * H * N,), dtype)
    ig_buf = buffer(ws, "ig", (H * N,), dtype)
    for t in steps(T, reverse):
        prev, cur = slots(t, reverse)
        B = active(batch_sizes, t, N)
        h_prev = hs[prev, :, :B] if rec_mask is None else hs[prev, :, :B] * rec_mask[:, :B]
        a = A[t, :, :B]
        a += np.matmul(W_hs, h_prev, out=gh_buf[: 4 * H * B].reshape(4 * H, B))
        np.tanh(a, out=a)
        sig = a[: 3 * H]
        sig *= 0.5
        sig += 0.5
        i, f, o, g = a[:H], a[H : 2 * H], a[2 * H : 3 * H], a[3 * H :]
        c = cs[cur, :, :B]
        np.multiply(f, cs[prev, :, :B], out=c)
        c += np.multiply(i, g, out=ig_buf[: H * B].reshape(H, B))
        tc = np.tanh(c, out=tanh_cs[t, :, :B])
        np.multiply(o, tc, out=hs[cur, :, :B])
        if B < N:
            hs[cur, :, B:] = hs[prev, :, B:]
            cs[cur, :, B:] = cs[prev, :, B:]
    cache = dict(x=x, W_ih_p=W_ip, W_hh_p=W_hp, gates=A, hs=hs, cs=cs, tanh_cs=tanh_cs,
                 batch_sizes=batch_sizes, rec_mask=rec_mask, reverse=reverse, has_bias=b_ih is not None)
    last = 0 if reverse else T
    return masked_outputs(hs, batch_sizes, reverse), (hs[last].copy(), cs[last].copy()), cache


def lstm_backward(
    cache: dict, dy: np.ndarray | None, dstate: tuple[np.ndarray, np.ndarray]
) -> tuple[np.ndarray, tuple[np.ndarray, np.ndarray], dict[str, np.ndarray], np.ndarray]:
    """BPTT through :func:`lstm_forward`. Consumes the cache: the gate gradients are written
    over the stored gate activations, so each forward supports one backward.

    Args:
        cache: the forward's cache.
        dy: dL/dy (T, H, N), or None for zeros.
        dstate: (dL/dh_T, dL/dc_T), each (H, N).

    Returns:
        ``(dx, (dh0, dc0), grads, dh_sq)``: dx (T, I, N); grads keyed weight_ih, weight_hh
        [, bias_ih, bias_hh] in PyTorch's gate order; dh_sq (T, N) the squared norm of dL/dh_t
        per sequence.
    """
    x, A, hs, cs, tanh_cs = cache["x"], cache["gates"], cache["hs"], cache["cs"], cache["tanh_cs"]
    batch_sizes, rec_mask, reverse = cache["batch_sizes"], cache["rec_mask"], cache["reverse"]
    T, _, N = x.shape
    H = hs.shape[1]
    dtype = x.dtype
    W_hpT = np.ascontiguousarray(cache["W_hh_p"].T)
    dh = np.array(dstate[0], dtype=dtype, copy=True)
    dc = np.array(dstate[1], dtype=dtype, copy=True)
    dh_sq = np.zeros((T, N), dtype=dtype)
    u_buf = np.empty(H * N, dtype=dtype)
    up_buf = np.empty(3 * H * N, dtype=dtype)
    sq_buf = np.empty(3 * H * N, dtype=dtype)
    for t in steps(T, not reverse):
        prev, _ = slots(t, reverse)
        B = active(batch_sizes, t, N)
        dh_t, dc_t = dh[:, :B], dc[:, :B]
        if dy is not None:
            dh_t += dy[t, :, :B]
        dh_sq[t, :B] = column_sq_norms(dh_t)
        a = A[t, :, :B]  # [i; f; o; g], overwritten below with [da_i; da_f; da_o; da_g]
        i, f, o, g = a[:H], a[H : 2 * H], a[2 * H : 3 * H], a[3 * H :]
        tc = tanh_cs[t, :, :B]
        # dc += dh * o * (1 - tanh(c)^2)
        u = np.multiply(tc, tc, out=u_buf[: H * B].reshape(H, B))
        np.subtract(1, u, out=u)
        u *= o
        u *= dh_t
        dc_t += u
        # what reaches the sigmoid gates i, f, o from above: [dc * g; dc * c_{t-1}; dh * tanh(c)]
        up = up_buf[: 3 * H * B].reshape(3 * H, B)
        np.multiply(dc_t, g, out=up[:H])
        np.multiply(dc_t, cs[prev, :, :B], out=up[H : 2 * H])
        np.multiply(dh_t, tc, out=up[2 * H :])
        # da_g = dc * i * (1 - g^2), in place of g
        np.multiply(g, g, out=g)
        np.subtract(1, g, out=g)
        g *= i
        g *= dc_t
        dc_t *= f
        # da_[ifo] = up * sigma' with sigma' = s - s^2, in place of s
        s = a[: 3 * H]
        s -= np.multiply(s, s, out=sq_buf[: 3 * H * B].reshape(3 * H, B))
        s *= up
        matmul_into(W_hpT, a, dh_t)
        if rec_mask is not None:
            dh_t *= rec_mask[:, :B]
        if B < N:
            A[t, :, B:] = 0  # finished columns get no gradient
    dA = A
    grads_p, dx = weight_gradients(dA, x, previous_states(hs, reverse), cache["has_bias"], rec_mask,
                                   cache["W_ih_p"])
    perm = _ifog(H)
    grads = {k: v[perm] for k, v in grads_p.items()}
    return dx, (dh, dc), grads, dh_sq
