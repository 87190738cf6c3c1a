"""Layout and pieces shared by the RNN, LSTM and GRU kernels.

Every kernel works on one layer and one direction in the *feature-major, time-major* layout,
where the batch is the fastest axis. Per time step the state is an (H, N) matrix, so the
recurrent product is ``W_hh @ h`` (G*H x H times H x N), each gate is a contiguous (H, N) block
of the (G*H, N) gate matrix, and the elementwise gate arithmetic runs on contiguous memory::

    x            (T, I, N)    input sequence (column n of x[t] is sequence n's input at step t)
    y            (T, H, N)    outputs h_t
    h, c         (H, N)       states
    W_ih         (G*H, I)     input weights, gates stacked in PyTorch order (PyTorch's layout)
    W_hh         (G*H, H)     recurrent weights
    b_ih, b_hh   (G*H,)       biases, or None when the layer has no bias
    batch_sizes  (T,) ints    columns active at step t (batch sorted by length, longest first);
                              None means every column is active at every step
    rec_mask     (H, N)       variational recurrent-dropout mask (already scaled by 1/(1-p)),
                              applied to h_{t-1} where it enters ``W_hh @ h``; or None
    reverse      bool         run t = T-1 .. 0 (the reverse direction of a bidirectional layer)
    ws           dict | None  workspace whose arrays the forward may reuse (see ``buffer``)

Columns ``n >= batch_sizes[t]`` are finished sequences (or, in reverse, not yet started ones):
their state is carried unchanged, their output is 0, and they get no gradient. This is PyTorch's
packed-sequence semantics; in reverse it makes every sequence start at its own last valid step.

States live in ``hs`` (T+1, H, N): step t reads slot ``prev`` and writes slot ``cur``, with
(prev, cur) = (t, t+1) forwards and (t+1, t) in reverse, so the initial state is in slot 0
(forwards) or slot T (reverse).
"""

from __future__ import annotations

import numpy as np


def steps(T: int, reverse: bool) -> range:
    """The order in which a direction visits the time steps."""
    return range(T - 1, -1, -1) if reverse else range(T)


def slots(t: int, reverse: bool) -> tuple[int, int]:
    """(prev, cur): where step t reads h_{t-1} and writes h_t in ``hs``."""
    return (t + 1, t) if reverse else (t, t + 1)


def active(batch_sizes: np.ndarray | None, t: int, n: int) -> int:
    """Number of columns (sequences) still running at step t."""
    return n if batch_sizes is None else int(batch_sizes[t])


def buffer(ws: dict | None, name: str, shape: tuple[int, ...], dtype: np.dtype) -> np.ndarray:
    """An uninitialised array for ``name``: fresh when ``ws`` is None, else reused from ``ws``.

    A layer passes its workspace so that the large per-call arrays (gates, states) are recycled
    from one forward to the next instead of being allocated anew: fresh memory costs a page
    fault per 4 KiB on first touch, which can cost as much as the arithmetic itself. Arrays
    from a workspace stay valid until the next call that uses the same workspace.
    """
    if ws is None:
        return np.empty(shape, dtype=dtype)
    a = ws.get(name)
    if a is None or a.shape != tuple(shape) or a.dtype != dtype:
        a = ws[name] = np.empty(shape, dtype=dtype)
    return a


def input_projection(x: np.ndarray, W: np.ndarray, bias: np.ndarray | None, out: np.ndarray | None = None) -> np.ndarray:
    """``A[t] = W @ x[t] + bias`` for all T steps before the time loop: (T, G*H, N)."""
    A = np.matmul(W, x, out=out)
    if bias is not None:
        A += bias[:, None]
    return A


def matmul_into(A: np.ndarray, B: np.ndarray, out: np.ndarray) -> np.ndarray:
    """``out[...] = A @ B`` without a temporary when ``out`` is contiguous."""
    if out.flags.c_contiguous:
        return np.matmul(A, B, out=out)
    out[...] = A @ B
    return out


def masked_outputs(hs: np.ndarray, batch_sizes: np.ndarray | None, reverse: bool) -> np.ndarray:
    """Outputs y[t] = h_t from ``hs``, with 0 in finished columns. (T, H, N)."""
    T = hs.shape[0] - 1
    y = hs[:T] if reverse else hs[1:]
    if batch_sizes is None:
        return y
    y = y.copy()
    for t, b in enumerate(batch_sizes):
        y[t, :, b:] = 0
    return y


def previous_states(hs: np.ndarray, reverse: bool) -> np.ndarray:
    """The (T, H, N) view of h_{t-1} by step t (before any recurrent-dropout mask)."""
    T = hs.shape[0] - 1
    return hs[1:] if reverse else hs[:T]


CHUNK_BYTES = 1 << 21


def step_sums(
    dA: np.ndarray, Zs: list[np.ndarray], masks: list[np.ndarray | None] | None = None,
    W: np.ndarray | None = None,
) -> tuple[list[np.ndarray], np.ndarray | None]:
    """``sum_t dA[t] @ (Z[t] * mask).T`` for each Z (T, F, N), and ``W.T @ dA[t]`` for every t.

    dA is (T, G, N); each sum is (G, F); the second result is (T, F_W, N) (None without W).
    A sum over steps and batch is one matrix product once the operands are laid out as
    (G, T*N) and (T*N, F). The layout change is done a few steps at a time (about
    ``CHUNK_BYTES`` of dA per chunk, into buffers reused for every chunk), so no full-size
    transposed copy is ever held, and each chunk of dA is rearranged once for all products.
    """
    T, G, N = dA.shape
    masks = masks or [None] * len(Zs)
    step = min(T, max(1, CHUNK_BYTES // max(1, G * N * dA.itemsize)))
    d_buf = np.empty((G, step, N), dtype=dA.dtype)
    z_bufs = [np.empty((step, N, Z.shape[1]), dtype=dA.dtype) for Z in Zs]
    sums: list[np.ndarray | None] = [None] * len(Zs)
    dx = None if W is None else np.empty((T, W.shape[1], N), dtype=dA.dtype)
    for t0 in range(0, T, step):
        d = dA[t0 : t0 + step]
        k = d.shape[0]
        d2 = d_buf[:, :k]
        np.copyto(d2, d.transpose(1, 0, 2))
        d2 = d2.reshape(G, k * N)
        for j, (Z, mask, z_buf) in enumerate(zip(Zs, masks, z_bufs)):
            z2 = z_buf[:k]
            if mask is None:
                np.copyto(z2, Z[t0 : t0 + k].transpose(0, 2, 1))
            else:
                np.multiply(Z[t0 : t0 + k].transpose(0, 2, 1), mask.T, out=z2)
            part = d2 @ z2.reshape(k * N, -1)
            if sums[j] is None:
                sums[j] = part
            else:
                sums[j] += part
        if dx is not None:
            np.copyto(dx[t0 : t0 + k], (W.T @ d2).reshape(-1, k, N).transpose(1, 0, 2))
    return sums, dx


def step_sum(dA: np.ndarray, Z: np.ndarray, rec_mask: np.ndarray | None = None) -> np.ndarray:
    """``sum_t dA[t] @ (Z[t] * rec_mask).T``: one sum of :func:`step_sums`. (G, F)."""
    return step_sums(dA, [Z], [rec_mask])[0][0]


def weight_gradients(
    dA: np.ndarray, x: np.ndarray, h_in: np.ndarray, has_bias: bool, rec_mask: np.ndarray | None,
    W_ih: np.ndarray,
) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """Everything that is not sequential in the backward pass, as a few large products.

    With ``dA[t]`` (G*H, N) the gradient w.r.t. the gate pre-activations at step t (0 in
    padded columns) and ``h_in[t] * rec_mask`` the recurrent input of step t::

        dW_ih = sum_t dA[t] @ x[t].T        dW_hh = sum_t dA[t] @ (h_in[t] * rec_mask).T
        db_ih = db_hh = sum_t dA[t] @ 1     dx[t] = W_ih.T @ dA[t]

    Rows are in the kernel's internal gate order (``W_ih`` too). Returns (grads keyed like the
    parameters, dx (T, I, N)).
    """
    (g_ih, g_hh), dx = step_sums(dA, [x, h_in], [None, rec_mask], W=W_ih)
    grads = {"weight_ih": g_ih, "weight_hh": g_hh}
    if has_bias:
        grads["bias_ih"] = dA.sum(axis=(0, 2))
        grads["bias_hh"] = grads["bias_ih"].copy()
    return grads, dx


def column_sq_norms(dh: np.ndarray) -> np.ndarray:
    """Squared L2 norm of every column of an (H, B) array."""
    return np.einsum("hn,hn->n", dh, dh)
