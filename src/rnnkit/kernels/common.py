"""Layout and pieces shared by the RNN, LSTM and GRU kernels.

Every kernel works on one layer and one direction in the *feature-major* layout: features
first, then time, then the batch, which is the fastest axis::

    x            (I, T, N)    input sequence (x[:, t] is step t: column n is sequence n's input)
    y            (H, T, N)    outputs h_t
    h, c         (H, N)       states
    W_ih         (G*H, I)     input weights, gates stacked in PyTorch order (PyTorch's layout)
    W_hh         (G*H, H)     recurrent weights
    b_ih, b_hh   (G*H,)       biases, or None when the layer has no bias
    batch_sizes  (T,) ints    columns active at step t (batch sorted by length, longest first);
                              None means every column is active at every step
    rec_mask     (H, N)       variational recurrent-dropout mask (already scaled by 1/(1-p)),
                              applied to h_{t-1} where it enters ``W_hh @ h``; or None
    reverse      bool         run t = T-1 .. 0 (the reverse direction of a bidirectional layer)
    ws           dict | None  workspace whose arrays the forward may reuse (see ``buffer``): y and
                              the cache are valid until the next forward with it (a backward
                              through an older cache raises ValueError: ``checks.check_cache``)

Why this layout: a (F, T, N) array *is* an (F, T*N) matrix, so everything that is not
sequential is one large matrix product over all steps and sequences at once (``dW_ih = dA @ x.T``,
``dW_hh = dA @ h.T``, ``dx = W_ih.T @ dA``, and the input projection ``W_ih @ x`` where the loop
runs in Python or N < 16; from N = 16 the C loop projects step by step, while the result is in
cache), with no transposed copies; any run of consecutive steps is one too (the RNN's C backward
takes its products with dA 16 steps at a time, while they are in cache, and never writes dA);
and per step, the state is an (H, N) matrix, the recurrent product is ``W_hh @ h`` (G*H x H
times H x N), and the step-t slice ``a[:, t]`` of the gates is a (G*H, N) block whose rows are
contiguous runs of N values (row stride T*N), which NumPy's BLAS and the fused step functions
of :mod:`rnnkit.kernels._fused` read in place.

Columns ``n >= batch_sizes[t]`` are finished sequences (or, in reverse, not yet started ones):
their state is carried unchanged, their output is 0, and they get no gradient. This is PyTorch's
packed-sequence semantics; in reverse it makes every sequence start at its own last valid step.

States live in ``hs`` (H, T+1, N): step t reads slot ``prev`` and writes slot ``cur``, with
(prev, cur) = (t, t+1) forwards and (t+1, t) in reverse, so the initial state is in slot 0
(forwards) or slot T (reverse), and the outputs y are the (H, T, N) view of the other T slots.
"""

from __future__ import annotations

import numpy as np

from . import _fused


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


def cache_buffer(
    ws: dict | None, name: str, shape: tuple[int, int, int], dtype: np.dtype, slots: int, axis: int = 1
) -> np.ndarray:
    """``buffer`` for one of a forward's caches, (F, S, N) with S = T (or T + 1) time slots; or,
    with ``slots`` < S, an (F, slots, N) array whose step t is slot t mod slots, as the C forward
    loops take them where no backward follows (``keep_cache=False``: ``csrc/sequence.h``, SLOT).
    That one is kept under a name of its own, so that a layer whose training and inference calls
    alternate (validation during ``fit``) keeps both instead of reallocating each in turn.
    ``axis`` 0: a time-major cache, (S, F, N) (the LSTM's in its C loops)."""
    if slots >= shape[axis]:
        return buffer(ws, name, shape, dtype)
    fewer = list(shape)
    fewer[axis] = slots
    return buffer(ws, f"{name}.{slots}", tuple(fewer), dtype)


def gradient_steps(dy: np.ndarray | None, shape: tuple[int, int, int], dtype: np.dtype) -> list[np.ndarray]:
    """dL/dy (H, T, N), C-contiguous of ``dtype`` as :func:`loop_gradient` gives it, as its T
    per-step (H, N) blocks for the fused steps (a copy where dy is read-only: they take writable
    blocks); with ``dy`` None, every step gets the same block of zeros."""
    H, T, N = shape
    if dy is None:
        return [np.zeros((H, N), dtype=dtype)] * T
    if not dy.flags.writeable:
        dy = dy.copy()
    return [dy[:, t] for t in range(T)]


def step_views(ws: dict | None, name: str, a: np.ndarray) -> list[np.ndarray]:
    """``[a[:, s] for s in range(a.shape[1])]``: the (F, N) block of every step (or state slot),
    as the kernels' Python loops pass them to the ``_fused.*_step`` functions.

    With a workspace, the list is kept beside the array it views and reused while ``a`` is the
    same array (``buffer`` returns the same one from call to call): a view costs about as much
    as a small fused step, so building them once matters for short sequences and N = 1 (12-18%
    of a step there). The price is about 100 bytes of Python objects per step and array, which
    outweighs the arrays themselves only for tiny layers (H of a few units, N = 1).
    """
    if ws is not None:
        cached = ws.get(name + ".steps")
        # the views must still look into ``a`` (a deep copy of the workspace copies them apart)
        if cached is not None and cached[0] is a and cached[1][0].base is a:
            return cached[1]
    views = [a[:, s] for s in range(a.shape[1])]
    if ws is not None:
        ws[name + ".steps"] = (a, views)
    return views


def copy_steps(dst: np.ndarray, src: np.ndarray) -> None:
    """``dst[...] = src`` for two (F, T, N) arrays of any strides, such as the kernels' layout and
    a (F, T, N) view of the user's (N, T, F) or (T, N, F) array.

    Between those layouts the copy transposes every step's (F, N) block; ``_fused.copy_seq``
    (``csrc/layout.h``) does it in 16x16 tiles that read and write whole cache lines: 1.4-5x
    faster than a step-by-step ``np.copyto`` towards the user's layout, 3-9x from it. Other
    dtypes, broadcasting and arrays that share memory fall back to ``np.copyto``.
    """
    if (dst.ndim == 3 and src.shape == dst.shape and dst.dtype == src.dtype and dst.dtype in (np.float32, np.float64)
            and not np.may_share_memory(dst, src)):
        _fused.copy_seq(src, dst)
    else:  # other dtypes, broadcasting, or arrays that share memory (copy_seq refuses any overlap)
        np.copyto(dst, src)


def recurrent_product(
    W: np.ndarray, h_prev: np.ndarray, rec_mask: np.ndarray | None, B: int, hm_buf: np.ndarray | None,
    gh_buf: np.ndarray, gh_N: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """One step's recurrent product in the kernels' Python loops::

        h~ = h_prev * rec_mask   (h_prev itself without a mask; into hm_buf (H, N))
        gh = W @ h~[:, :B]       (rows, B): the B running columns

    ``gh`` goes into ``gh_N`` (the (rows, N) block of the workspace buffer ``gh_buf``, reshaped
    once per call) when every sequence runs, else into the first rows * B values of ``gh_buf``.
    Returns ``(gh, h~)``.
    """
    hm = h_prev if rec_mask is None else np.multiply(h_prev, rec_mask, out=hm_buf)
    rows, N = W.shape[0], h_prev.shape[1]
    if B == N:
        return np.matmul(W, hm, out=gh_N if gh_N is not None else gh_buf[: rows * N].reshape(rows, N)), hm
    return np.matmul(W, hm[:, :B], out=gh_buf[: rows * B].reshape(rows, B)), hm


def input_projection(
    x: np.ndarray, W: np.ndarray, bias: np.ndarray | None, out: np.ndarray | None = None
) -> np.ndarray:
    """``A[:, t] = W @ x[:, t] + bias`` for all T steps, as one product: (G*H, T, N).

    The C loops add the bias themselves, one step's block at a time while it is in cache
    (``loop_bias``); their callers pass ``bias=None`` here, saving a pass over the whole array.

    ``out`` may be a view whose (T, N) part is contiguous, such as ``hs[:, 1:]``.
    """
    F, T, N = x.shape
    if out is None:
        out = np.empty((W.shape[0], T, N), dtype=x.dtype)
    out2 = out.reshape(-1, T * N)
    if not np.may_share_memory(out2, out):  # reshape had to copy: out's steps are not contiguous
        raise ValueError(f"input_projection needs out with contiguous (T, N) blocks, got strides {out.strides}")
    np.matmul(W, x.reshape(F, T * N), out=out2)
    if bias is not None:
        out += bias[:, None, None]
    return out


def masked_outputs(hs: np.ndarray, batch_sizes: np.ndarray | None, reverse: bool) -> np.ndarray:
    """Outputs y[:, t] = h_t from ``hs``, with 0 in finished columns. (H, T, N)."""
    T = hs.shape[1] - 1
    y = hs[:, :T] if reverse else hs[:, 1:]
    if batch_sizes is None:
        return y
    y = y.copy()
    for t, b in enumerate(batch_sizes):
        y[:, t, b:] = 0
    return y


def loop_inputs(
    W_hh: np.ndarray, rec_mask: np.ndarray | None, batch_sizes: np.ndarray | None, dtype: np.dtype
) -> tuple[np.ndarray, np.ndarray | None, np.ndarray | None]:
    """W_hh, rec_mask and batch_sizes as the C loops (``_fused.*_seq``) take them: C-contiguous
    arrays of ``dtype`` (batch_sizes int64); copies only where they are not already."""
    W = np.ascontiguousarray(W_hh, dtype=dtype)
    mask = None if rec_mask is None else np.ascontiguousarray(rec_mask, dtype=dtype)
    sizes = None if batch_sizes is None else np.ascontiguousarray(batch_sizes, dtype=np.int64)
    return W, mask, sizes


# From this batch size on, the C forward loops project the input step by step (``loop_projection``)
# rather than being handed the projections of all steps as one product: measured 4-10% faster
# forward loops from N = 16, while at N = 1 the extra product call per step made them 10-16% slower.
STEP_PROJECTION_MIN_N = 16


def loop_projection(x: np.ndarray, W_ih: np.ndarray, dtype: np.dtype) -> tuple[np.ndarray, np.ndarray]:
    """x (I, T, N) and W_ih (G*H, I) as the C forward loops take them when they do the input
    projection step by step: W_ih C-contiguous, x with C-contiguous (T, N) rows at any row stride
    (so the ``hs[:, 1:]`` view of the layer below goes in as it is); copies only where needed."""
    item = np.dtype(dtype).itemsize
    _, T, N = x.shape
    rows_ok = x.dtype == dtype and (N <= 1 or x.strides[2] == item) and (T <= 1 or x.strides[1] == N * item)
    rows_ok = rows_ok and x.strides[0] >= 0
    return (x if rows_ok else np.ascontiguousarray(x, dtype=dtype)), np.ascontiguousarray(W_ih, dtype=dtype)


def step_projection(in_c: bool, N: int) -> bool:
    """Whether a forward's C loop (``in_c``) projects x itself, step by step: from
    STEP_PROJECTION_MIN_N sequences on."""
    return in_c and N >= STEP_PROJECTION_MIN_N


def forward_inputs(
    x: np.ndarray, W_ih: np.ndarray, bias: np.ndarray | None, out: np.ndarray, in_c: bool
) -> tuple[np.ndarray | None, np.ndarray | None]:
    """The input side of a forward, before its loop; returns the (x, W_ih) its C loop takes.

    Where the C loop projects x itself (``step_projection``): ``loop_projection(x, W_ih)``, and
    ``out`` is not touched. Otherwise ``out`` (G*H, T, N) receives ``W_ih @ x`` now, as one
    product (plus the bias for the Python loop; the C loop adds it step by step), and the result
    is (None, None).
    """
    if step_projection(in_c, x.shape[2]):
        return loop_projection(x, W_ih, x.dtype)
    input_projection(x, W_ih, None if in_c else bias, out=out)
    return None, None


def loop_bias(bias: np.ndarray | None, dtype: np.dtype) -> np.ndarray | None:
    """The bias (G*H,) as the C forward loops add it, step by step (None: no bias)."""
    return None if bias is None else np.ascontiguousarray(bias, dtype=dtype)


def loop_gradient(
    dy: np.ndarray | None, dtype: np.dtype, ws: dict | None = None, time_major: bool = False
) -> np.ndarray | None:
    """dL/dy (H, T, N) as the loops read it: C-contiguous ``dtype`` (None: zeros); with
    ``time_major`` as (T, H, N) (the LSTM's C backward loop). dy's own memory where it is laid out
    so already, else a copy (``copy_steps``: dy may be a view of the user's (N, T, H) array), into
    the buffer "dy" of ``ws`` (reused from call to call) when there is one."""
    if dy is None:
        return None
    dy = np.asarray(dy)
    laid = dy.transpose(1, 0, 2) if time_major else dy
    if dy.dtype == dtype and laid.flags.c_contiguous:
        return laid
    out = buffer(ws, "dy", laid.shape, np.dtype(dtype))
    copy_steps(out.transpose(1, 0, 2) if time_major else out, dy)
    return out


def previous_states(hs: np.ndarray, reverse: bool) -> np.ndarray:
    """The (H, T, N) view of h_{t-1} by step t (before any recurrent-dropout mask)."""
    T = hs.shape[1] - 1
    return hs[:, 1:] if reverse else hs[:, :T]


def as_matrix(a: np.ndarray, mask: np.ndarray | None = None) -> np.ndarray:
    """A (F, T, N) array as the (F, T*N) matrix it is, times ``mask`` (F, N) at every step."""
    F, T, N = a.shape
    if mask is not None:
        a = a * mask[:, None, :]
    return a.reshape(F, T * N)


def dx_target(x: np.ndarray, overwrite_x: bool) -> np.ndarray | None:
    """Where a backward may put dx: x itself when the caller lets it (``overwrite_x``) and x can
    take it (C-contiguous and writable), else None (a new array). x is not needed once the weight
    gradients are taken, so this saves an (I, T, N) array; the layers allow it for their own
    copies of the input, never for the user's x or the layer below's cache."""
    return x if overwrite_x and x.flags.c_contiguous and x.flags.writeable else None


def weight_gradients(
    dA: np.ndarray, x: np.ndarray, h_in: np.ndarray, has_bias: bool, rec_mask: np.ndarray | None,
    W_ih: np.ndarray, dx_out: np.ndarray | None = None,
) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """Everything that is not sequential in the backward pass, as four large products.

    With ``dA[:, t]`` (G*H, N) the gradient w.r.t. the gate pre-activations at step t (0 in
    padded columns) and ``h_in[:, t] * rec_mask`` the recurrent input of step t, and every
    (F, T, N) array read as the (F, T*N) matrix it is::

        dW_ih = dA @ x.T        dW_hh = dA @ (h_in * rec_mask).T
        db_ih = db_hh = dA @ 1  dx = W_ih.T @ dA

    Returns (grads keyed like the parameters, dx (I, T, N)); dx goes into ``dx_out`` (I, T, N,
    C-contiguous) when given, which may be x itself (dx_target): the gradients read x first.

    In float32, where packed.h's kernel pays (x86-64 with AVX-512), all four in one pass over dA
    in C (``_fused.gate_gradients``, ``csrc/gradients.h``); else as four NumPy products.
    """
    G, T, N = dA.shape
    fused = gate_gradients(dA, x, h_in, has_bias, rec_mask, W_ih, dx_out)
    if fused is not None:
        return fused
    dA2 = dA.reshape(G, T * N)
    grads = {"weight_ih": dA2 @ as_matrix(x).T, "weight_hh": dA2 @ as_matrix(h_in, rec_mask).T}
    return with_bias(grads, row_sums(dA2) if has_bias else None), input_gradient(W_ih, dA, dx_out)


def gate_gradients(
    dA: np.ndarray, x: np.ndarray, h_in: np.ndarray, has_bias: bool, rec_mask: np.ndarray | None,
    W_ih: np.ndarray, dx_out: np.ndarray | None, side: np.ndarray | None = None,
) -> tuple[dict[str, np.ndarray], np.ndarray] | None:
    """:func:`weight_gradients` through ``_fused.gate_gradients``: for dA (G*H, T, N), x (I, T, N)
    and h_in (H, T, N), each read as the (F, T*N) matrix it is,

        dW_ih = dA @ x.T      dW_hh = dA @ (h_in * rec_mask).T      db = dA @ 1      dx = W_ih.T @ dA

    in one pass over dA on packed.h's kernel, into dx_out (I, T, N) where given; or None where that
    does not apply (not float32, arrays it cannot take as they are: rows (T, N) not C-contiguous or
    in descending memory order, or the kernel off or not worth it). With ``side`` (H, T, N), the
    last H rows of dW_hh are ``side @ (h_in * rec_mask).T`` instead (the GRU's candidate, whose
    recurrent side gets ``da_n * r``); bias_hh is then still bias_ih's copy: the caller mends it.
    Returns (grads keyed weight_ih, weight_hh [, bias_ih, bias_hh], dx)."""
    dtype = dA.dtype
    if dtype != np.float32 or not dA.flags.c_contiguous or not W_ih.flags.c_contiguous or any(
            a.dtype != dtype or a.strides[1:] != (a.shape[2] * a.itemsize, a.itemsize) or a.strides[0] < 0
            for a in (x, h_in)) or W_ih.dtype != dtype:
        return None
    if side is not None and (side.dtype != dtype or not side.flags.c_contiguous):
        return None
    GH, I, H = dA.shape[0], x.shape[0], h_in.shape[0]
    mask = None if rec_mask is None else np.ascontiguousarray(rec_mask, dtype=dtype)
    dW_ih, dW_hh = np.empty((GH, I), dtype), np.empty((GH, H), dtype)
    db = np.empty(GH, dtype) if has_bias else None
    dx = dx_out if dx_out is not None and dx_out.dtype == dtype else np.empty(x.shape, dtype)
    if not _fused.gate_gradients(dA, x, h_in, mask, W_ih, dW_ih, dW_hh, db, dx, side):
        return None
    return with_bias({"weight_ih": dW_ih, "weight_hh": dW_hh}, db), dx


def row_sums(a: np.ndarray) -> np.ndarray:
    """``a.sum(axis=1)`` for a (rows, T*N) matrix, as one matrix-vector product with a vector of
    ones: 4-5x faster than NumPy's pairwise sum along rows (0.10 against 0.51 ms for dA of the RNN
    at 64x200x64x256, rows 49 kB apart), within a few ulp of it in float32."""
    return a @ np.ones(a.shape[1], dtype=a.dtype)


def accumulator(into: dict[str, np.ndarray] | None, name: str, shape: tuple[int, ...], dtype: np.dtype) -> np.ndarray:
    """An array a C loop can add the gradient ``name`` into: ``into[name]`` itself where it can take
    that (C-contiguous, writable, of the shape and dtype), else zeros (``add_gradients`` adds
    them into ``into`` afterwards)."""
    a = None if into is None else into.get(name)
    if isinstance(a, np.ndarray) and a.shape == tuple(shape) and a.dtype == dtype and a.flags.c_contiguous \
            and a.flags.writeable:
        return a
    return np.zeros(shape, dtype=dtype)


def loop_accumulators(
    into: dict[str, np.ndarray] | None, rows: int, I: int, H: int, dtype: np.dtype, has_bias: bool
) -> tuple[dict[str, np.ndarray], np.ndarray | None]:
    """What a C backward loop (``rnn_backward_seq``, ``lstm_backward_seq``) adds its weight
    gradients into: weight_ih (rows, I) and weight_hh (rows, H), ``into``'s own arrays where they
    can take it (:func:`accumulator`), and db (rows,) of zeros, or None without a bias."""
    grads = {"weight_ih": accumulator(into, "weight_ih", (rows, I), dtype),
             "weight_hh": accumulator(into, "weight_hh", (rows, H), dtype)}
    return grads, (np.zeros(rows, dtype=dtype) if has_bias else None)


def with_bias(grads: dict[str, np.ndarray], db: np.ndarray | None) -> dict[str, np.ndarray]:
    """``grads`` with the bias gradient ``db`` as bias_ih and a copy of it as bias_hh (one gradient,
    PyTorch's two parameters b_ih + b_hh); as it is for db None (no bias)."""
    if db is not None:
        grads["bias_ih"], grads["bias_hh"] = db, db.copy()
    return grads


def add_gradients(grads: dict[str, np.ndarray], into: dict[str, np.ndarray] | None) -> dict[str, np.ndarray]:
    """``into[name] += grads[name]`` for every gradient, and ``into`` (or ``grads`` itself when
    into is None). A gradient that already is ``into[name]`` (summed there by a loop: the RNN's C
    backward sums dW_ih and dW_hh into ``accumulator`` arrays) is left as it is."""
    if into is None:
        return grads
    for name, g in grads.items():
        if g is not into[name]:
            into[name] += g
    return into


def input_gradient(W_ih: np.ndarray, dA: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """``dx = W_ih.T @ dA``: (I, T, N) from the gate gradients dA (G*H, T, N), into ``out``
    (C-contiguous (I, T, N)) when given and of the result's dtype, else a new array."""
    G, T, N = dA.shape
    dA2 = dA.reshape(G, T * N)
    if out is None or out.dtype != np.result_type(W_ih, dA):
        return (W_ih.T @ dA2).reshape(-1, T, N)
    np.matmul(W_ih.T, dA2, out=out.reshape(-1, T * N))
    return out
