"""Elman RNN kernel: forward over a whole sequence and its Backpropagation Through Time.

Layout and arguments as in :mod:`rnnkit.kernels.common` (x is (I, T, N), the state h (H, N)). Forward, for each
step t (``h~ = h_{t-1} * rec_mask``)::

    a_t = W_ih @ x_t + b_ih + W_hh @ h~ + b_hh
    h_t = phi(a_t)                      phi = tanh or relu
    y_t = h_t

Backward, in the opposite order, carrying ``dh`` = dL/dh_t::

    dh    += dy_t
    da_t   = dh * phi'(a_t)             tanh' = 1 - h_t**2,  relu' = [not h_t <= 0] (NaN: 1, as PyTorch)
    dh     = (W_hh.T @ da_t) * rec_mask  (now dL/dh_{t-1})

then dW_ih, dW_hh, db (:func:`~rnnkit.kernels.common.weight_gradients`) and dx_t = W_ih.T @ da_t
as a few large products after the loop. The C loop (``rnn_backward_seq``) takes those products
itself, 16 steps at a time, with the da_t of those steps in a small ring while they are in cache
(one product per chunk with K = 16 N): no (H, T, N) array of da_t is ever written, and dy is
read in the user's layout, so a training step holds one (H, T, N) array fewer.

The elementwise lines of a step run fused in C (:mod:`rnnkit.kernels._fused`, ``csrc/steps.h``); so does the loop over t
(``_fused.rnn_forward_seq`` / ``rnn_backward_seq``, ``csrc/sequence.h``), or here in Python
(:func:`_forward_steps`, :func:`_backward_steps`) where NumPy's BLAS cannot be called from C
(:mod:`rnnkit.kernels.blas`).
"""

from __future__ import annotations

import numpy as np

from . import _fused, blas
from .checks import check_backward, check_flags, check_forward, consume, count_forward
from .common import (
    active,
    add_gradients,
    buffer,
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
    step_views,
    steps,
    weight_gradients,
    with_bias,
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
    reverse: bool = False,
    nonlinearity: str = "tanh",
    ws: dict | None = None,
    keep_cache: bool = True,
    check_args: bool = True,
) -> tuple[np.ndarray, tuple[np.ndarray], dict | None]:
    """Run the RNN over x (I, T, N) from state0 = (h0,), h0 (H, N).

    Returns ``(y, (h_T,), cache)``: y (H, T, N), the final state (H, N), what backward needs
    (None with ``keep_cache=False``: no backward will follow. The RNN keeps nothing but its
    states, which are y, so that only drops the cache's references).
    """
    if check_args:  # (the layers and cells, which have checked them, pass False)
        check_forward("rnnkit.kernels.rnn_forward", 1, 1, x, state0, W_ih, W_hh, b_ih, b_hh, batch_sizes, rec_mask)
        check_flags("rnnkit.kernels.rnn_forward", ws, reverse=reverse, keep_cache=keep_cache)
    if nonlinearity not in ("tanh", "relu"):
        raise ValueError(f"rnnkit.kernels.rnn_forward: expected nonlinearity 'tanh' or 'relu', got {nonlinearity!r}.")
    _, T, N = x.shape
    H = W_hh.shape[1]
    ws_forward = count_forward(ws)  # from now on, earlier caches from ws are out of date
    hs = buffer(ws, "hs", (H, T + 1, N), x.dtype)
    bias = None if b_ih is None else b_ih + b_hh
    in_c = blas.c_loops()  # the whole loop in C (csrc/sequence.h), which adds the bias step by step
    # the input projections of all steps go straight into the slots of h_t, activated in place (or the C loop does it)
    x_c, W_ih_c = forward_inputs(x, W_ih, bias, hs[:, :T] if reverse else hs[:, 1:], in_c)
    hs[:, T if reverse else 0] = state0[0]
    relu = nonlinearity == "relu"
    if in_c:
        W, mask, sizes = loop_inputs(W_hh, rec_mask, batch_sizes, x.dtype)
        _fused.rnn_forward_seq(hs, x_c, W_ih_c, W, loop_bias(bias, x.dtype), mask, sizes, int(relu), int(reverse))
    else:
        _forward_steps(hs, W_hh, batch_sizes, rec_mask, reverse, relu, ws)
    cache = None
    if keep_cache:
        cache = dict(kernel="rnn", ws_forward=ws_forward, x=x, W_ih=W_ih, W_hh=W_hh, hs=hs, batch_sizes=batch_sizes,
                     rec_mask=rec_mask,
                     reverse=reverse, nonlinearity=nonlinearity, has_bias=b_ih is not None, ws=ws)
    final = hs[:, 0] if reverse else hs[:, T]
    return masked_outputs(hs, batch_sizes, reverse), (final.copy(),), cache


def rnn_backward(
    cache: dict, dy: np.ndarray | None, dstate: tuple[np.ndarray], overwrite_dy: bool = False,
    overwrite_x: bool = False, grads_into: dict[str, np.ndarray] | None = None, check_args: bool = True,
) -> tuple[np.ndarray, tuple[np.ndarray], dict[str, np.ndarray], np.ndarray]:
    """BPTT through :func:`rnn_forward`. Leaves the cache's arrays as they are (but x with
    ``overwrite_x``) and marks it used: a second backward through it raises ValueError.

    Args:
        cache: the forward's cache.
        dy: dL/dy (H, T, N) at any strides (such as a view of the user's (N, T, H) array), or
            None for zeros. Never written unless ``overwrite_dy``.
        dstate: (dL/dh_T,) with dL/dh_T (H, N).
        overwrite_dy: where the loop runs in Python, the caller lets dy (when C-contiguous,
            writable, of the forward's dtype and not sharing memory with the cache, as the
            returned y does) be overwritten with da_t (each step reads its dy_t block before
            writing da_t there), which saves an (H, T, N) array. The C loop keeps no such
            array (``rnn_backward_seq``: every product with da_t is taken 16 steps at a time,
            while they are in cache) and leaves dy alone.
        overwrite_x: the caller lets the forward's x (the cache's, when C-contiguous and
            writable) be overwritten with dx, after the weight gradients have read it: saves an
            (I, T, N) array (``kernels.common.dx_target``); the layers do so with their own copy.
        grads_into: gradient arrays keyed like ``grads`` that the gradients are added into (the
            layers pass their ``grads``, which a truncated-BPTT run sums over chunks); the C
            loop sums dW_ih and dW_hh straight into them (when C-contiguous, writable and of
            the forward's dtype), saving their temporaries.
        check_args: check the arguments' shapes and dtypes (:mod:`rnnkit.kernels.checks`); False
            for callers that have (the layers and cells). The second-backward check runs always.

    Returns:
        ``(dx, (dh0,), grads, dh_sq)``: dx (I, T, N); dh0 (H, N); grads keyed weight_ih,
        weight_hh[, bias_ih, bias_hh] (``grads_into`` itself when given); dh_sq (T, N) the
        squared norm of dL/dh_t per sequence.
    """
    if check_args:
        check_backward("rnnkit.kernels.rnn_backward", cache, dy, dstate, 1, "rnn")
    consume("rnnkit.kernels.rnn_backward", cache, "rnn")
    x, W_ih, W_hh, hs, ws = cache["x"], cache["W_ih"], cache["W_hh"], cache["hs"], cache["ws"]
    batch_sizes, rec_mask, reverse = cache["batch_sizes"], cache["rec_mask"], cache["reverse"]
    relu = cache["nonlinearity"] == "relu"
    I, T, N = x.shape
    H = W_hh.shape[1]
    dh = np.array(dstate[0], dtype=x.dtype, order="C")
    dh_sq = np.zeros((T, N), dtype=x.dtype)
    if blas.c_loops():  # the whole backward in C (csrc/sequence.h), its products included
        W, mask, sizes = loop_inputs(W_hh, rec_mask, batch_sizes, x.dtype)
        x_c, W_ih_c = loop_projection(x, W_ih, x.dtype)
        dy_c = None if dy is None else np.asarray(dy, dtype=x.dtype)  # read at any strides
        grads, db = loop_accumulators(grads_into, H, I, H, x.dtype, cache["has_bias"])
        # dx of the dtype NumPy gives W_ih.T @ da (float64 for float64 weights on float32 x, say)
        wide = np.result_type(W_ih, x) != x.dtype
        dx = None if wide else dx_target(x_c, overwrite_x or x_c is not x)  # a copy of x made here is ours
        if dx is None:
            dx = np.empty((I, T, N), dtype=x.dtype)
        _fused.rnn_backward_seq(hs, x_c, W_ih_c, W, dy_c, dh, dh_sq, grads["weight_ih"], grads["weight_hh"], db, dx,
                                mask, sizes, int(relu), int(reverse))
        grads = add_gradients(with_bias(grads, db), grads_into)
        return dx.astype(np.result_type(W_ih, x)) if wide else dx, (dh,), grads, dh_sq
    dy_c = loop_gradient(dy, x.dtype, ws)  # a copy of ours (then writable) where dy was not C-contiguous
    if dy_c is not None and (dy_c is not dy or overwrite_dy) and dy_c.flags.writeable \
            and dy_c.shape == (H, T, N) and not np.may_share_memory(dy_c, hs):
        dA = dy_c  # da_t is written over dy_t (rnn_bwd in csrc/steps.h reads each value before writing it)
    else:
        dA = buffer(ws, "dA", (H, T, N), x.dtype)
    _backward_steps(cache, dy_c, dA, dh, dh_sq)
    grads, dx = weight_gradients(dA, x, previous_states(hs, reverse), cache["has_bias"], rec_mask, W_ih,
                                 dx_target(x, overwrite_x))
    return dx, (dh,), add_gradients(grads, grads_into), dh_sq


def _forward_steps(hs, W_hh, batch_sizes, rec_mask, reverse, relu, ws) -> None:
    """The forward's time loop in Python (where the C loop of blas.c_loops() cannot run): the same
    steps, the product by ``np.matmul``, the elementwise part by ``_fused.rnn_forward_step``."""
    H, T, N = hs.shape[0], hs.shape[1] - 1, hs.shape[2]
    gh_buf = buffer(ws, "gh", (H * N,), hs.dtype)
    gh_N = gh_buf.reshape(H, N)  # the product's block when all N sequences run
    hm_buf = None if rec_mask is None else buffer(ws, "hm", (H, N), hs.dtype)  # h~ = h_{t-1} * rec_mask
    h_s = step_views(ws, "hs", hs)
    for t in steps(T, reverse):
        prev, cur = slots(t, reverse)
        B = active(batch_sizes, t, N)
        gh, _ = recurrent_product(W_hh, h_s[prev], rec_mask, B, hm_buf, gh_buf, gh_N)
        _fused.rnn_forward_step(h_s[cur], gh, h_s[prev], B, relu)  # h_t = phi(a_t + gh), in place


def _backward_steps(cache: dict, dy, dA: np.ndarray, dh: np.ndarray, dh_sq: np.ndarray) -> None:
    """The backward's time loop in Python (see :func:`_forward_steps`): fills dA, updates dh and dh_sq."""
    hs, batch_sizes, rec_mask, reverse = cache["hs"], cache["batch_sizes"], cache["rec_mask"], cache["reverse"]
    relu = cache["nonlinearity"] == "relu"
    H, T, N = dA.shape
    W_hhT = np.ascontiguousarray(cache["W_hh"].T)
    dy_t = gradient_steps(dy, (H, T, N), dA.dtype)
    da_t, h_s = step_views(cache["ws"], "dA", dA), step_views(cache["ws"], "hs", hs)
    for t in steps(T, not reverse):
        _, cur = slots(t, reverse)
        B = active(batch_sizes, t, N)
        _fused.rnn_backward_step(da_t[t], dh, dy_t[t], h_s[cur], dh_sq[t], B, relu)
        np.matmul(W_hhT, da_t[t][:, :B], out=dh[:, :B])  # dL/dh_{t-1}
        if rec_mask is not None:
            dh[:, :B] *= rec_mask[:, :B]
