"""GRU kernel, in both forms, with its Backpropagation Through Time.

Layout and arguments as in :mod:`rnnkit.kernels.common` (x is (I, T, N), h (H, N)). Gates are stacked in
PyTorch's order r, z, n; W_hr, W_hz, W_hn are the row blocks of W_hh. For each step t
(``h~ = h_{t-1} * rec_mask``, sigma = sigmoid)::

    r_t = sigma(W_ir @ x_t + b_ir + W_hr @ h~ + b_hr)
    z_t = sigma(W_iz @ x_t + b_iz + W_hz @ h~ + b_hz)
    reset_after=True  (PyTorch, cuDNN):   n_t = tanh(W_in @ x_t + b_in + r_t * (W_hn @ h~ + b_hn))
    reset_after=False (Cho et al. 2014):  n_t = tanh(W_in @ x_t + b_in + W_hn @ (r_t * h~) + b_hn)
    h_t = (1 - z_t) * n_t + z_t * h_{t-1}  =  n_t + z_t * (h_{t-1} - n_t)

Backward, in the opposite order, carrying dh = dL/dh_t::

    dh  += dy_t
    da_n = dh * (1 - z_t) * (1 - n_t**2)
    da_z = dh * (h_{t-1} - n_t) * z_t * (1 - z_t)
    reset_after=True:   gh_n = W_hn @ h~ + b_hn
                        da_r = da_n * gh_n * r_t * (1 - r_t)
                        dh~  = W_hh.T @ [da_r; da_z; da_n * r_t]
    reset_after=False:  drh  = W_hn.T @ da_n
                        da_r = drh * h~ * r_t * (1 - r_t)
                        dh~  = [W_hr; W_hz].T @ [da_r; da_z] + drh * r_t
    dh   = dh * z_t + dh~ * rec_mask          (now dL/dh_{t-1})

With reset_after=True the recurrent side has its own gate gradients [da_r; da_z; da_n * r_t],
so dW_hh and db_hh use those; weight gradients and dx are large products after the loop (in
float32 in one pass over dA on the packed kernel, :func:`~rnnkit.kernels.common.gate_gradients`
with ``side``, where it applies; else NumPy's). The
elementwise lines of a step run fused in C (:mod:`rnnkit.kernels._fused`, ``csrc/steps.h``:
one pass per step with reset_after, two around the extra product without). With reset_after
the loop over t runs in C too (``_fused.gru_forward_seq`` / ``gru_backward_seq``,
``csrc/sequence.h``); without it, or where NumPy's BLAS cannot be called from C
(:mod:`rnnkit.kernels.blas`), the loop runs here in Python.
"""

from __future__ import annotations

import numpy as np

from . import _fused, blas
from .checks import check_backward, check_flags, check_forward, consume, count_forward
from .common import (
    active,
    add_gradients,
    as_matrix,
    buffer,
    cache_buffer,
    dx_target,
    forward_inputs,
    gate_gradients,
    gradient_steps,
    input_gradient,
    loop_bias,
    loop_gradient,
    loop_inputs,
    masked_outputs,
    previous_states,
    recurrent_product,
    row_sums,
    slots,
    step_projection,
    step_views,
    steps,
    with_bias,
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
    reverse: bool = False,
    reset_after: bool = True,
    ws: dict | None = None,
    keep_cache: bool = True,
    check_args: bool = True,
) -> tuple[np.ndarray, tuple[np.ndarray], dict | None]:
    """Run the GRU over x (I, T, N) from state0 = (h0,), h0 (H, N).

    Returns ``(y, (h_T,), cache)`` with y (H, T, N). With ``keep_cache=False`` no backward will
    follow (``rnnkit.no_grad``) and cache is None: the C loop (reset_after) then keeps its gates
    (where it projects x itself) and ``side`` for one step instead of all T, with the same y.
    """
    if check_args:  # (the layers and cells, which have checked them, pass False)
        check_forward("rnnkit.kernels.gru_forward", 3, 1, x, state0, W_ih, W_hh, b_ih, b_hh, batch_sizes, rec_mask)
        check_flags("rnnkit.kernels.gru_forward", ws, reverse=reverse, keep_cache=keep_cache,
                    reset_after=reset_after)
    _, T, N = x.shape
    H = W_hh.shape[1]
    ws_forward = count_forward(ws)  # from now on, earlier caches from ws are out of date
    dtype = x.dtype
    has_bias = b_ih is not None
    bias = None
    if has_bias:
        bias = b_ih + b_hh
        if reset_after:
            bias[2 * H :] = b_ih[2 * H :]  # b_hn stays inside r * (...)
    in_c = reset_after and blas.c_loops()  # the whole loop in C (csrc/sequence.h), adding the bias per step
    lean = in_c and not keep_cache  # the C loop, caches for one step only
    # [r;z;n]; before the loop, W_ih x_t of all steps where the C loop does not project x itself
    A = cache_buffer(ws, "gates", (3 * H, T, N), dtype, 1 if lean and step_projection(in_c, N) else T)
    x_c, W_ih_c = forward_inputs(x, W_ih, bias, A, in_c)
    hs = buffer(ws, "hs", (H, T + 1, N), dtype)
    hs[:, T if reverse else 0] = state0[0]
    # reset_after: W_hn @ h~ + b_hn;  else: r * h~
    side = cache_buffer(ws, "side", (H, T, N), dtype, 1 if lean else T)
    b_hn = None
    if reset_after:
        b_hn = np.array(b_hh[2 * H :, None] if has_bias else np.zeros((H, 1)), dtype=dtype, order="C")
    if in_c:
        W, mask, sizes = loop_inputs(W_hh, rec_mask, batch_sizes, dtype)
        _fused.gru_forward_seq(hs, A, side, x_c, W_ih_c, W, loop_bias(bias, dtype), b_hn[:, 0], mask, sizes,
                               int(reverse))
    else:
        _forward_steps(A, hs, side, W_hh, b_hn, batch_sizes, rec_mask, reverse, ws)
    cache = None
    if keep_cache:
        cache = dict(kernel="gru", ws_forward=ws_forward, x=x, W_ih=W_ih, W_hh=W_hh, gates=A, hs=hs, side=side,
                     batch_sizes=batch_sizes,
                     rec_mask=rec_mask, reverse=reverse, reset_after=reset_after, has_bias=has_bias, ws=ws)
    final = hs[:, 0] if reverse else hs[:, T]
    return masked_outputs(hs, batch_sizes, reverse), (final.copy(),), cache


def _forward_steps(A, hs, side, W_hh, b_hn, batch_sizes, rec_mask, reverse, ws) -> None:
    """The forward's time loop in Python (Cho's form, ``b_hn`` None, and where the C loop of
    blas.c_loops() cannot run): the products by ``np.matmul``, the elementwise parts by
    ``_fused.gru_forward_step`` (reset_after) or ``gru_forward_rz`` / ``gru_forward_n``."""
    H, T, N = side.shape
    dtype = A.dtype
    reset_after = b_hn is not None
    if not reset_after:
        W_hrz, W_hn = W_hh[: 2 * H], W_hh[2 * H :]
    gh_buf = buffer(ws, "gh", (3 * H * N,), dtype)
    gh_N = gh_buf.reshape(3 * H, N)  # the product's block when all N sequences run (reset_after)
    hm_buf = None if rec_mask is None else buffer(ws, "hm", (H, N), dtype)  # h~ = h_{t-1} * rec_mask
    a_t, h_s, s_t = (step_views(ws, k, v) for k, v in (("gates", A), ("hs", hs), ("side", side)))
    for t in steps(T, reverse):
        prev, cur = slots(t, reverse)
        B = active(batch_sizes, t, N)
        h_prev = h_s[prev]
        if reset_after:
            gh, _ = recurrent_product(W_hh, h_prev, rec_mask, B, hm_buf, gh_buf, gh_N)
            _fused.gru_forward_step(a_t[t], gh, b_hn, h_prev, s_t[t], h_s[cur], B)
        else:
            gh, hm = recurrent_product(W_hrz, h_prev, rec_mask, B, hm_buf, gh_buf)
            _fused.gru_forward_rz(a_t[t], gh, hm, s_t[t], B)  # r, z and side = r * h~
            gh = np.matmul(W_hn, s_t[t] if B == N else s_t[t][:, :B], out=gh_buf[: H * B].reshape(H, B))
            _fused.gru_forward_n(a_t[t], gh, h_prev, h_s[cur], B)


def gru_backward(
    cache: dict, dy: np.ndarray | None, dstate: tuple[np.ndarray], overwrite_dy: bool = False,
    overwrite_x: bool = False, grads_into: dict[str, np.ndarray] | None = None, check_args: bool = True,
) -> tuple[np.ndarray, tuple[np.ndarray], dict[str, np.ndarray], np.ndarray]:
    """BPTT through :func:`gru_forward`. Consumes the cache: the gate gradients are written
    over the stored gate activations, so each forward supports one backward (a second one with
    the same cache raises ValueError).

    Args:
        cache: the forward's cache.
        dy: dL/dy (H, T, N) at any strides (copied once into the workspace where not
            C-contiguous), or None for zeros.
        dstate: (dL/dh_T,) with dL/dh_T (H, N).
        overwrite_dy: accepted as by :func:`rnnkit.kernels.rnn_backward`; unused (the gate
            gradients go over the cache's gates, and dy is only read).
        overwrite_x: as for :func:`rnnkit.kernels.rnn_backward`: dx may go over the cache's x.
        grads_into: as for :func:`rnnkit.kernels.rnn_backward`: the gradients are added into these.
        check_args: check the arguments' shapes and dtypes (:mod:`rnnkit.kernels.checks`); False
            for callers that have (the layers and cells). The second-backward check runs always.

    Returns:
        ``(dx, (dh0,), grads, dh_sq)``: dx (I, T, N); grads keyed weight_ih, weight_hh
        [, bias_ih, bias_hh]; dh_sq (T, N) the squared norm of dL/dh_t per sequence.
    """
    if check_args:
        check_backward("rnnkit.kernels.gru_backward", cache, dy, dstate, 1, "gru")
    consume("rnnkit.kernels.gru_backward", cache, "gru")
    x, W_hh, A, hs, side = cache["x"], cache["W_hh"], cache["gates"], cache["hs"], cache["side"]
    batch_sizes, rec_mask, reverse = cache["batch_sizes"], cache["rec_mask"], cache["reverse"]
    reset_after = cache["reset_after"]
    _, T, N = x.shape
    dtype = x.dtype
    dy = loop_gradient(dy, dtype, cache["ws"])
    dh = np.array(dstate[0], dtype=dtype, order="C")
    dh_sq = np.zeros((T, N), dtype=dtype)
    if reset_after and blas.c_loops():  # the whole loop in C (csrc/sequence.h)
        W, mask, sizes = loop_inputs(W_hh, rec_mask, batch_sizes, dtype)
        _fused.gru_backward_seq(A, hs, side, W, dy, dh, dh_sq, mask, sizes, int(reverse))
    else:
        _backward_steps(cache, dy, dh, dh_sq)
    H = side.shape[0]
    dA = A  # the gate gradients, written over the activations
    # in float32 in one pass over dA on packed.h's kernel where it applies (csrc/gradients.h), else NumPy's
    fused = None
    if reset_after:
        fused = gate_gradients(dA, x, previous_states(hs, reverse), cache["has_bias"], rec_mask, cache["W_ih"],
                               dx_target(x, overwrite_x), side)
    if fused is not None:
        grads, dx = fused
    else:
        h_in = as_matrix(previous_states(hs, reverse), rec_mask)  # (H, T*N): h~ of every step
        dA2 = dA.reshape(3 * H, T * N)
        grads = {"weight_ih": dA2 @ as_matrix(x).T}
        # the r and z blocks, then the n block, straight into one (3H, H) array (no concatenated copy)
        dW_hh = grads["weight_hh"] = np.empty((3 * H, H), dtype=np.result_type(dA2, h_in))
        np.matmul(dA2[: 2 * H], h_in.T, out=dW_hh[: 2 * H])  # [da_r; da_z] = dA[:2H]
        if reset_after:  # the n block's gradient on the recurrent side is da_n * r = side
            np.matmul(as_matrix(side), h_in.T, out=dW_hh[2 * H :])
        else:  # the n block's recurrent input is r * h~, kept in side
            np.matmul(dA2[2 * H :], as_matrix(side).T, out=dW_hh[2 * H :])
        grads = with_bias(grads, row_sums(dA2) if cache["has_bias"] else None)  # bias_hh: bias_ih's copy
        dx = input_gradient(cache["W_ih"], dA, dx_target(x, overwrite_x))  # the gradients above are done with x
    if reset_after and cache["has_bias"]:  # the candidate's recurrent bias gets da_n * r = side instead
        grads["bias_hh"][2 * H :] = row_sums(as_matrix(side))
    return dx, (dh,), add_gradients(grads, grads_into), dh_sq


def _backward_steps(cache: dict, dy, dh: np.ndarray, dh_sq: np.ndarray) -> None:
    """The backward's time loop in Python (both forms; the C loop does reset_after
    only): gate gradients into the cache's gates and side, dh and dh_sq updated in place."""
    W_hh, A, hs, side = cache["W_hh"], cache["gates"], cache["hs"], cache["side"]
    batch_sizes, rec_mask, reverse = cache["batch_sizes"], cache["rec_mask"], cache["reverse"]
    reset_after = cache["reset_after"]
    H, T, N = side.shape
    dtype = dh.dtype
    dy_t = gradient_steps(dy, (H, T, N), dtype)
    dhm_buf = np.empty(H * N, dtype=dtype)  # dL/dh~ through the recurrent product
    if reset_after:
        W_hhT = np.ascontiguousarray(W_hh.T)
        dah_buf = np.empty(3 * H * N, dtype=dtype)
    else:
        W_hrzT = np.ascontiguousarray(W_hh[: 2 * H].T)
        W_hnT = np.ascontiguousarray(W_hh[2 * H :].T)
        drh_buf = np.empty(H * N, dtype=dtype)
        hm_buf = None if rec_mask is None else np.empty((H, N), dtype=dtype)
    ws = cache["ws"]
    a_t, h_s, s_t = (step_views(ws, k, v) for k, v in (("gates", A), ("hs", hs), ("side", side)))
    for t in steps(T, not reverse):
        prev, _ = slots(t, reverse)
        B = active(batch_sizes, t, N)
        h_prev, a = h_s[prev], a_t[t]
        # a = [r; z; n] becomes [da_r; da_z; da_n]; dh becomes dh * z (the direct path)
        if reset_after:
            dah = dah_buf[: 3 * H * B].reshape(3 * H, B)  # [da_r; da_z; da_n * r], side[:, t] = da_n * r
            _fused.gru_backward_step(a, dh, dy_t[t], h_prev, s_t[t], dah, dh_sq[t], B)
            dhm = np.matmul(W_hhT, dah, out=dhm_buf[: H * B].reshape(H, B))
        else:
            _fused.gru_backward_nz(a, dh, dy_t[t], h_prev, dh_sq[t], B)
            drh = np.matmul(W_hnT, a[2 * H :, :B], out=drh_buf[: H * B].reshape(H, B))
            hm = h_prev if rec_mask is None else np.multiply(h_prev, rec_mask, out=hm_buf)
            _fused.gru_backward_r(a, drh, hm, B)  # da_r, and drh = drh * r
            dhm = np.matmul(W_hrzT, a[: 2 * H, :B], out=dhm_buf[: H * B].reshape(H, B))
            dhm += drh
        if rec_mask is not None:
            dhm *= rec_mask[:, :B]
        dh[:, :B] += dhm
