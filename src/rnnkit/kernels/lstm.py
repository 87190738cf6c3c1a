"""LSTM kernel: forward over a whole sequence and its Backpropagation Through Time.

Layout and arguments as in :mod:`rnnkit.kernels.common` (x is (I, T, N); h, c are (H, N)). The parameters use
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

then the weight gradients and dx as a few large products::

    dW_ih = sum_t da_t @ x_t.T     dW_hh = sum_t da_t @ h~.T     db_ih = db_hh = sum_t da_t @ 1
    dx_t  = W_ih.T @ da_t

The elementwise part of each step (the four gates, c, tanh(c), h; and backwards the gate
gradients and dc) runs as one fused pass in C, :func:`rnnkit.kernels._fused.lstm_forward_step`
and ``lstm_backward_step`` (``csrc/steps.h`` has the same equations). The loop over t runs in C
too (``_fused.lstm_forward_seq`` / ``lstm_backward_seq``, ``csrc/sequence.h``), or here in Python
(:func:`_forward_steps`, :func:`_backward_steps`) where NumPy's BLAS cannot be called from C
(:mod:`rnnkit.kernels.blas`). The C loops keep the caches time-major (A (T, 4H, N), cs (T+1, H, N),
tanh(c) (T, H, N): one contiguous block per step); their backward reads them and dy time-major, and
takes the products itself (``lstm_backward_seq``, as the RNN's): the weight gradients and, without
claimed chunks, dx 8 steps at a time from a small ring of the gate gradients while they are in cache
(one product per chunk with K = 8 N), so no (4H, T, N) array of them is ever written; with claimed
chunks, dx_t step by step. The Python loops keep (F, T, N) caches, write the gate gradients over A
and take the products after the loop (:func:`~rnnkit.kernels.common.weight_gradients`).
"""

from __future__ import annotations

import numpy as np

from . import _fused, blas
from .checks import check_backward, check_flags, check_forward, consume, count_forward
from .common import (
    active,
    add_gradients,
    buffer,
    cache_buffer,
    dx_target,
    forward_inputs,
    gradient_steps,
    loop_accumulators,
    loop_bias,
    loop_gradient,
    loop_inputs,
    loop_projection,
    masked_outputs,
    previous_states,
    recurrent_product,
    slots,
    step_projection,
    step_views,
    steps,
    weight_gradients,
    with_bias,
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
    reverse: bool = False,
    ws: dict | None = None,
    keep_cache: bool = True,
    check_args: bool = True,
) -> tuple[np.ndarray, tuple[np.ndarray, np.ndarray], dict | None]:
    """Run the LSTM over x (I, T, N) from state0 = (h0, c0), each (H, N).

    Returns ``(y, (h_T, c_T), cache)`` with y (H, T, N). With ``keep_cache=False`` no backward
    will follow (``rnnkit.no_grad``) and cache is None: the C loop then keeps its gates (where it
    projects x itself), tanh(c_t) and c_t for one step (c_t: two slots in turn) instead of all T,
    with the same y and final state.
    """
    if check_args:  # (the layers and cells, which have checked them, pass False)
        check_forward("rnnkit.kernels.lstm_forward", 4, 2, x, state0, W_ih, W_hh, b_ih, b_hh, batch_sizes, rec_mask)
        check_flags("rnnkit.kernels.lstm_forward", ws, reverse=reverse, keep_cache=keep_cache)
    _, T, N = x.shape
    H = W_hh.shape[1]
    ws_forward = count_forward(ws)  # from now on, earlier caches from ws are out of date
    dtype = x.dtype
    bias = None if b_ih is None else b_ih + b_hh
    in_c = blas.c_loops()  # the whole loop in C (csrc/sequence.h), which adds the bias step by step
    lean = in_c and not keep_cache  # the C loop, caches for one step only
    hs = buffer(ws, "hs", (H, T + 1, N), dtype)
    first, last = (T, 0) if reverse else (0, T)
    if in_c:  # its caches time-major: A (T, 4H, N), cs (T + 1, H, N), tanh_cs (T, H, N)
        A = cache_buffer(ws, "gates", (T, 4 * H, N), dtype, 1 if lean and step_projection(in_c, N) else T, axis=0)
        x_c, W_ih_c = _time_major_inputs(x, W_ih, A)
        cs = cache_buffer(ws, "cs", (T + 1, H, N), dtype, 2 if lean else T + 1, axis=0)
        tanh_cs = cache_buffer(ws, "tanh_cs", (T, H, N), dtype, 1 if lean else T, axis=0)
        c_first, c_last = cs[first % cs.shape[0]], cs[last % cs.shape[0]]
    else:
        # [i;f;g;o]; before the loop, W_ih x_t + b of all steps
        A = buffer(ws, "gates", (4 * H, T, N), dtype)
        forward_inputs(x, W_ih, bias, A, in_c)
        cs = buffer(ws, "cs", (H, T + 1, N), dtype)
        tanh_cs = buffer(ws, "tanh_cs", (H, T, N), dtype)
        c_first, c_last = cs[:, first], cs[:, last]
    hs[:, first], c_first[...] = state0
    if in_c:
        W, mask, sizes = loop_inputs(W_hh, rec_mask, batch_sizes, dtype)
        _fused.lstm_forward_seq(hs, A, cs, tanh_cs, x_c, W_ih_c, W, loop_bias(bias, dtype), mask, sizes, int(reverse))
    else:
        _forward_steps(A, hs, cs, tanh_cs, W_hh, batch_sizes, rec_mask, reverse, ws)
    cache = None
    if keep_cache:
        cache = dict(kernel="lstm", ws_forward=ws_forward, x=x, W_ih=W_ih, W_hh=W_hh, gates=A, hs=hs, cs=cs,
                     tanh_cs=tanh_cs,
                     batch_sizes=batch_sizes, rec_mask=rec_mask, reverse=reverse, has_bias=b_ih is not None,
                     ws=ws)
    final = (hs[:, last].copy(), c_last.copy())
    return masked_outputs(hs, batch_sizes, reverse), final, cache


def lstm_backward(
    cache: dict, dy: np.ndarray | None, dstate: tuple[np.ndarray, np.ndarray], overwrite_dy: bool = False,
    overwrite_x: bool = False, grads_into: dict[str, np.ndarray] | None = None, check_args: bool = True,
) -> tuple[np.ndarray, tuple[np.ndarray, np.ndarray], dict[str, np.ndarray], np.ndarray]:
    """BPTT through :func:`lstm_forward`. Consumes the cache: the Python loop writes the gate
    gradients over the stored gate activations (the C loop leaves them, keeping the gate gradients
    of 8 steps at a time in its own ring), so each forward supports one backward: a second one
    with the same cache raises ValueError, whichever loop runs.

    Args:
        cache: the forward's cache.
        dy: dL/dy (H, T, N) at any strides, or None for zeros. Copied once into the workspace
            where it is not laid out as its loop reads it: the C loop time-major (dy's transpose
            (T, H, N) C-contiguous), the Python loop C-contiguous.
        dstate: (dL/dh_T, dL/dc_T), each (H, N).
        overwrite_dy: accepted as by :func:`rnnkit.kernels.rnn_backward`; unused (the gate
            gradients go over the cache's gates or into the C loop's ring, and dy is only read).
        overwrite_x: as for :func:`rnnkit.kernels.rnn_backward`: dx may go over the cache's x
            where the loop runs in Python. The C loop writes dx_t before its weight gradients read
            x_t, so its dx is an array of its own (the workspace's ``"dx"`` where the cache has a
            workspace, valid until the next backward with it; of x's dtype, then converted to
            NumPy's type of W_ih.T @ da where that is wider).
        grads_into: as for :func:`rnnkit.kernels.rnn_backward`: the gradients are added into these
            (the C loop sums dW_ih and dW_hh straight into them where it can).
        check_args: check the arguments' shapes and dtypes (:mod:`rnnkit.kernels.checks`); False
            for callers that have (the layers and cells). The second-backward check runs always.

    Returns:
        ``(dx, (dh0, dc0), grads, dh_sq)``: dx (I, T, N); grads keyed weight_ih, weight_hh
        [, bias_ih, bias_hh] in PyTorch's gate order; dh_sq (T, N) the squared norm of dL/dh_t
        per sequence.
    """
    if check_args:
        check_backward("rnnkit.kernels.lstm_backward", cache, dy, dstate, 2, "lstm")
    consume("rnnkit.kernels.lstm_backward", cache, "lstm")
    x, A, hs, cs, tanh_cs = cache["x"], cache["gates"], cache["hs"], cache["cs"], cache["tanh_cs"]
    batch_sizes, rec_mask, reverse = cache["batch_sizes"], cache["rec_mask"], cache["reverse"]
    _, T, N = x.shape
    dtype = x.dtype
    in_c = blas.c_loops()
    dy = loop_gradient(dy, dtype, cache["ws"], time_major=in_c)
    dh = np.array(dstate[0], dtype=dtype, order="C")
    dc = np.array(dstate[1], dtype=dtype, order="C")
    dh_sq = np.zeros((T, N), dtype=dtype)
    W_ih = cache["W_ih"]
    if in_c:  # the whole backward in C (csrc/sequence.h), its products included
        W, mask, sizes = loop_inputs(cache["W_hh"], rec_mask, batch_sizes, dtype)
        x_c, W_ih_c = loop_projection(x, W_ih, dtype)
        grads, db = loop_accumulators(grads_into, W.shape[0], x.shape[0], W.shape[1], dtype, cache["has_bias"])
        # dx of the dtype NumPy gives W_ih.T @ da (float64 for float64 weights on float32 x, say);
        # never over x, which the weight gradients read after dx_t is written
        wide = np.result_type(W_ih, x) != dtype
        dx = buffer(cache["ws"], "dx", x.shape, dtype)
        _fused.lstm_backward_seq(A, cs, tanh_cs, hs, x_c, W_ih_c, W, dy, dh, dc, dh_sq, grads["weight_ih"],
                                 grads["weight_hh"], db, dx, mask, sizes, int(reverse))
        grads = add_gradients(with_bias(grads, db), grads_into)
        return dx.astype(np.result_type(W_ih, x)) if wide else dx, (dh, dc), grads, dh_sq
    _backward_steps(cache, dy, dh, dc, dh_sq)
    grads, dx = weight_gradients(A, x, previous_states(hs, reverse), cache["has_bias"], rec_mask,
                                 W_ih, dx_target(x, overwrite_x))
    return dx, (dh, dc), add_gradients(grads, grads_into), dh_sq


def _time_major_inputs(x: np.ndarray, W_ih: np.ndarray, A: np.ndarray) -> tuple[np.ndarray | None, np.ndarray | None]:
    """The input side of the C forward loop, whose gates A are time-major (T, 4H, N): the (x, W_ih) it
    projects step by step (:func:`step_projection`), or else (None, None) with ``A[t] = W_ih @ x[:, t]``
    for every step now (the loop adds the bias)."""
    I, T, N = x.shape
    if step_projection(True, N):
        return loop_projection(x, W_ih, A.dtype)
    if N == 1:  # one product: A[:, :, 0] = x[:, :, 0].T @ W_ih.T
        np.matmul(x.reshape(I, T).T, W_ih.T, out=A.reshape(T, -1))
    else:  # a product per step
        np.matmul(W_ih, x.transpose(1, 0, 2), out=A)
    return None, None


def _forward_steps(A, hs, cs, tanh_cs, W_hh, batch_sizes, rec_mask, reverse, ws) -> None:
    """The forward's time loop in Python (where the C loop of blas.c_loops() cannot run): the same
    steps, the product by ``np.matmul``, the elementwise part by ``_fused.lstm_forward_step``."""
    H, T, N = tanh_cs.shape
    dtype = A.dtype
    gh_buf = buffer(ws, "gh", (4 * H * N,), dtype)
    gh_N = gh_buf.reshape(4 * H, N)  # the product's block when all N sequences run
    hm_buf = None if rec_mask is None else buffer(ws, "hm", (H, N), dtype)  # h~ = h_{t-1} * rec_mask
    a_t, h_s, c_s, tc_t = (step_views(ws, k, v) for k, v in
                           (("gates", A), ("hs", hs), ("cs", cs), ("tanh_cs", tanh_cs)))
    for t in steps(T, reverse):
        prev, cur = slots(t, reverse)
        B = active(batch_sizes, t, N)
        gh, _ = recurrent_product(W_hh, h_s[prev], rec_mask, B, hm_buf, gh_buf, gh_N)
        _fused.lstm_forward_step(a_t[t], gh, c_s[prev], h_s[prev], c_s[cur], tc_t[t], h_s[cur], B)


def _backward_steps(cache: dict, dy, dh: np.ndarray, dc: np.ndarray, dh_sq: np.ndarray) -> None:
    """The backward's time loop in Python (see :func:`_forward_steps`): updates dh, dc, dh_sq
    and the gates in place."""
    A, cs, tanh_cs = cache["gates"], cache["cs"], cache["tanh_cs"]
    batch_sizes, rec_mask, reverse = cache["batch_sizes"], cache["rec_mask"], cache["reverse"]
    H, T, N = tanh_cs.shape
    W_hhT = np.ascontiguousarray(cache["W_hh"].T)
    dy_t = gradient_steps(dy, (H, T, N), dh.dtype)
    ws = cache["ws"]
    a_t, c_s, tc_t = (step_views(ws, k, v) for k, v in (("gates", A), ("cs", cs), ("tanh_cs", tanh_cs)))
    for t in steps(T, not reverse):
        prev, _ = slots(t, reverse)
        B = active(batch_sizes, t, N)
        # a_t[t] = [i; f; g; o] becomes [da_i; da_f; da_g; da_o]; dc becomes dL/dc_{t-1}
        _fused.lstm_backward_step(a_t[t], dh, dy_t[t], dc, c_s[prev], tc_t[t], dh_sq[t], B)
        np.matmul(W_hhT, a_t[t][:, :B], out=dh[:, :B])  # dL/dh_{t-1}
        if rec_mask is not None:
            dh[:, :B] *= rec_mask[:, :B]
