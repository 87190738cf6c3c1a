"""Pieces shared by the RNN, LSTM and GRU kernels.

Conventions for every kernel in this package (one layer, one direction, time-major):

    x            (T, N, I)    input sequence, C-contiguous
    W_ih         (G*H, I)     input weights, gates stacked in PyTorch order
    W_hh         (G*H, H)     recurrent weights
    b_ih, b_hh   (G*H,)       biases, or None when the layer has no bias
    batch_sizes  (T,) ints    rows active at step t (batch sorted by length, longest first);
                              None means every row is active at every step
    rec_mask     (N, H)       variational recurrent-dropout mask (already scaled by 1/(1-p)),
                              applied to h_{t-1} where it enters the product with W_hh; or None

Rows ``n >= batch_sizes[t]`` are finished sequences: their state is carried unchanged, their
output is 0, and they receive no gradient. This is PyTorch's packed-sequence semantics.
"""

from __future__ import annotations

import numpy as np


def active_rows(batch_sizes: np.ndarray | None, t: int, n: int) -> int:
    """Number of rows still running at step t."""
    return n if batch_sizes is None else int(batch_sizes[t])


def input_projection(x: np.ndarray, W_ih: np.ndarray, bias: np.ndarray | None) -> np.ndarray:
    """All T input projections as one matrix product: ``A[t] = x[t] @ W_ih.T + bias``.

    Returns a fresh C-contiguous (T, N, G*H) array that the kernels overwrite with gate values.
    """
    T, N, I = x.shape
    A = x.reshape(T * N, I) @ W_ih.T
    if bias is not None:
        A += bias
    return A.reshape(T, N, -1)


def masked_outputs(hs: np.ndarray, batch_sizes: np.ndarray | None) -> np.ndarray:
    """Outputs y[t] = h_t, with 0 at finished (padded) rows. ``hs`` is (T+1, N, H), hs[0] = h0."""
    if batch_sizes is None:
        return hs[1:]
    y = hs[1:].copy()
    for t, b in enumerate(batch_sizes):
        y[t, b:] = 0
    return y


def weight_gradients(
    dA: np.ndarray, x: np.ndarray, h_in: np.ndarray, W_ih: np.ndarray, has_bias: bool
) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Everything that is not sequential in the backward pass, as a few large matrix products.

    With ``dA[t]`` the gradient w.r.t. the gate pre-activations at step t (zero at padded rows)
    and ``h_in[t]`` the recurrent input of step t (h_{t-1}, masked by recurrent dropout)::

        dW_ih = sum_t dA[t].T @ x[t]        dW_hh = sum_t dA[t].T @ h_in[t]
        db_ih = db_hh = sum_t sum_n dA[t]   dx[t] = dA[t] @ W_ih

    Returns ``(dx, grads)`` with grads keyed like the parameters (without layer suffix).
    """
    T, N, I = x.shape
    dA2 = dA.reshape(T * N, -1)
    grads = {
        "weight_ih": dA2.T @ x.reshape(T * N, I),
        "weight_hh": dA2.T @ h_in.reshape(T * N, -1),
    }
    if has_bias:
        db = dA2.sum(axis=0)
        grads["bias_ih"] = db
        grads["bias_hh"] = db.copy()
    dx = (dA2 @ W_ih).reshape(T, N, I)
    return dx, grads


def recurrent_inputs(hs: np.ndarray, rec_mask: np.ndarray | None) -> np.ndarray:
    """The (T, N, H) stack of h_{t-1} as it entered the recurrent product (mask applied)."""
    return hs[:-1] if rec_mask is None else hs[:-1] * rec_mask


def row_sq_norms(dh: np.ndarray) -> np.ndarray:
    """Squared L2 norm of every row of a (B, H) array."""
    return np.einsum("ij,ij->i", dh, dh)
