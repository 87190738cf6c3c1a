"""The argument checks of the public kernels (``rnn_forward``, ``lstm_backward``, ...).

The kernels are documented functions that a user may call with arrays of their own, not only
through the layers (which check their inputs before). Without these checks a wrong shape reached
NumPy or the C extension (a traceback about ``matmul`` or ``_fused``), or worse, was broadcast
without a word: an h0 of shape (H, 1) or (N,), and in the Python loop a bias of shape (1,) or a
rec_mask of shape (H, 1), ran as if repeated. The checks cost about 2 us per call (one call per
layer and direction), nothing per time step; the layers and cells, which check their own inputs,
call the kernels with ``check_args=False`` (at a cell's step, H = 32, they were 19% of its time).
Shapes, with G the gates (RNN 1, LSTM 4, GRU 3), as in :mod:`rnnkit.kernels.common`::

    x (I, T, N)   W_ih (G*H, I)   W_hh (G*H, H)   b_ih, b_hh (G*H,) or both None
    state0 parts (H, N)   batch_sizes (T,) ints in 0..N
    rec_mask (H, N) or None   dy (H, T, N) or None   dstate parts (H, N)
"""

from __future__ import annotations

from typing import Any

import numpy as np


def _array(a: Any, fn: str, name: str, shape: tuple[int, ...] | None = None, ndim: int | None = None) -> np.ndarray:
    """``a`` itself, a NumPy array of floats of ``shape`` (or of ``ndim`` axes), else TypeError / ValueError."""
    if not isinstance(a, np.ndarray):
        raise TypeError(f"{fn}: expected {name} to be a NumPy array of floats, got {type(a).__name__}. "
                        f"Convert it with np.asarray({name}, dtype=np.float32) (or float64) first.")
    if a.dtype.kind != "f":
        raise TypeError(f"{fn}: expected {name} to hold floats, got dtype {a.dtype}. "
                        f"Convert it with {name}.astype(np.float32) (or float64) first.")
    if shape is not None and a.shape != shape:
        raise ValueError(f"{fn}: expected {name} of shape {shape}, got {a.shape}. Nothing is broadcast: "
                         f"see the layout in rnnkit.kernels.common.")
    if ndim is not None and a.ndim != ndim:
        raise ValueError(f"{fn}: expected {name} with {ndim} axes, got shape {a.shape}.")
    return a


def _parts(state: Any, fn: str, name: str, n: int, shape: tuple[int, int]) -> None:
    """A tuple (or list) of n arrays of ``shape``: (h,) or (h, c)."""
    names = "(h,)" if n == 1 else "(h, c)"
    if not isinstance(state, (tuple, list)) or len(state) != n:
        got = f"a {type(state).__name__} of {len(state)}" if isinstance(state, (tuple, list)) else type(state).__name__
        raise TypeError(f"{fn}: expected {name} to be a tuple {names} of arrays of shape {shape}, got {got}.")
    for sym, a in zip(("h", "c"), state):  # array-likes too, as the kernels take them (np.asarray)
        _array(a if isinstance(a, np.ndarray) else np.asarray(a), fn, f"{name}[{sym}]" if n == 2 else f"{name}[0]",
               shape)


def _forward_ok(G: int, n_states: int, x: Any, state0: Any, W_ih: Any, W_hh: Any, b_ih: Any, b_hh: Any,
                rec_mask: Any) -> bool:
    """Whether check_forward has nothing to say but about batch_sizes: the common case, in one pass of
    cheap tests (about 2 us; check_forward's own path, which names the problem, takes 3-4 times that)."""
    nd = np.ndarray
    if not (isinstance(x, nd) and isinstance(W_hh, nd) and isinstance(W_ih, nd) and x.ndim == 3 and W_hh.ndim == 2):
        return False
    (I, T, N), (GH, H) = x.shape, W_hh.shape
    if (x.dtype.char not in "fd" or not x.dtype.isnative or W_hh.dtype.kind != "f" or W_ih.dtype.kind != "f"
            or GH != G * H or H < 1 or I < 1 or T < 1 or N < 1 or W_ih.shape != (GH, I)):
        return False
    if (b_ih is not None or b_hh is not None) and not (
            isinstance(b_ih, nd) and isinstance(b_hh, nd) and b_ih.shape == b_hh.shape == (GH,)
            and b_ih.dtype.kind == b_hh.dtype.kind == "f"):
        return False
    if type(state0) not in (tuple, list) or len(state0) != n_states:
        return False
    for a in state0:
        if not isinstance(a, nd) or a.shape != (H, N) or a.dtype.kind != "f":
            return False
    return rec_mask is None or (isinstance(rec_mask, nd) and rec_mask.shape == (H, N) and rec_mask.dtype.kind == "f")


def check_forward(
    fn: str, G: int, n_states: int, x: Any, state0: Any, W_ih: Any, W_hh: Any, b_ih: Any, b_hh: Any,
    batch_sizes: Any, rec_mask: Any,
) -> None:
    """Check the arguments of a forward kernel ``fn`` (shapes in the module docstring); x float32 or
    float64 in native byte order (the dtype of every array the kernel makes), the others of any
    float dtype; the parts of state0 may be array-likes."""
    if _forward_ok(G, n_states, x, state0, W_ih, W_hh, b_ih, b_hh, rec_mask):
        if batch_sizes is not None:
            check_batch_sizes(batch_sizes, fn, x.shape[1], x.shape[2])
        return
    _array(x, fn, "x", ndim=3)
    if x.dtype.char not in "fd" or not x.dtype.isnative:
        raise TypeError(f"{fn}: expected x of dtype float32 or float64 in native byte order (the kernels compute "
                        f"in x's dtype), got {x.dtype.str}. Convert it with x.astype(np.float32) first.")
    I, T, N = x.shape
    if min(I, T, N) < 1:
        raise ValueError(f"{fn}: expected x (I, T, N) with at least one feature, step and sequence, got {x.shape}.")
    _array(W_hh, fn, "W_hh", ndim=2)
    GH, H = W_hh.shape
    if H < 1 or GH != G * H:
        raise ValueError(f"{fn}: expected W_hh of shape ({G} * H, H) = ({G * H}, {H}) (its columns give H), got "
                         f"{W_hh.shape}.")
    _array(W_ih, fn, "W_ih", (G * H, I))
    if (b_ih is None) != (b_hh is None):
        what = ["None" if b is None else "an array" for b in (b_ih, b_hh)]
        raise TypeError(f"{fn}: expected b_ih and b_hh both arrays of shape ({G * H},) or both None (no bias), got "
                        f"b_ih {what[0]} and b_hh {what[1]}.")
    if b_ih is not None:
        _array(b_ih, fn, "b_ih", (G * H,))
        _array(b_hh, fn, "b_hh", (G * H,))
    _parts(state0, fn, "state0", n_states, (H, N))
    if rec_mask is not None:
        _array(rec_mask, fn, "rec_mask", (H, N))
    if batch_sizes is not None:
        check_batch_sizes(batch_sizes, fn, T, N)


def check_batch_sizes(batch_sizes: Any, fn: str, T: int, N: int) -> None:
    """batch_sizes: T integers in 0..N, the columns that run at each step (the layers' are
    non-increasing, ``rnnkit.layers.packing``; any order is defined: the others carry their state)."""
    if not isinstance(batch_sizes, np.ndarray) or batch_sizes.dtype.kind not in "iu":
        got = batch_sizes.dtype if isinstance(batch_sizes, np.ndarray) else type(batch_sizes).__name__
        raise TypeError(f"{fn}: expected batch_sizes to be a NumPy array of integers (or None), got {got}.")
    if batch_sizes.shape != (T,):
        raise ValueError(f"{fn}: expected batch_sizes of shape ({T},), one count per time step, got "
                         f"{batch_sizes.shape}.")
    if int(batch_sizes.min()) < 0 or int(batch_sizes.max()) > N:  # before any cast (a uint64 may not fit int64)
        raise ValueError(f"{fn}: expected every entry of batch_sizes (the sequences that run at each step) in "
                         f"0..N = {N}, got {batch_sizes.tolist()}.")


def check_flags(fn: str, ws: Any, **flags: Any) -> None:
    """ws a dict (the workspace) or None, and every flag (``reverse=...``, ``keep_cache=...``) True
    or False: no truthy stand-ins (the Python loop took reverse="no" as True, the C loop refused it)."""
    if ws is not None and not isinstance(ws, dict):
        raise TypeError(f"{fn}: expected ws to be a dict (a workspace the kernel fills and reuses from call to "
                        f"call) or None, got {type(ws).__name__}.")
    for name, value in flags.items():
        if not isinstance(value, (bool, np.bool_)):
            raise TypeError(f"{fn}: expected {name} to be True or False, got {value!r} ({type(value).__name__}).")


def check_cache(fn: str, cache: Any, kernel: str) -> None:
    """``cache`` is what the forward of ``kernel`` ("rnn", "lstm", "gru") returned, with keep_cache,
    no later forward with its workspace has written over it, and no backward has consumed it.
    Whether or not the other arguments are checked (a dict lookup or two)."""
    if not isinstance(cache, dict) or cache.get("kernel") != kernel:
        if cache is None:
            why = " (the forward ran with keep_cache=False, which keeps nothing for a backward)"
        elif isinstance(cache, dict):
            got = cache.get("kernel")
            why = f" (the cache of rnnkit.kernels.{got}_forward)" if isinstance(got, str) else " (another dict)"
        else:
            why = ""
        raise TypeError(f"{fn}: expected the cache dict that rnnkit.kernels.{kernel}_forward returned, got "
                        f"{type(cache).__name__}{why}.")
    ws = cache["ws"]
    if ws is not None and ws.get(WS_FORWARDS) != cache["ws_forward"]:
        raise ValueError(f"{fn}: this cache's workspace ws was used by a later forward, which wrote over the "
                         "states and gates the cache holds. Expected the backward before the next forward with "
                         "the same ws (or a workspace per forward whose backward is to follow).")
    if cache.get("consumed"):
        raise ValueError(f"{fn}: this cache was used by a backward already, which may have written over it. "
                         "Expected one backward per forward: run the forward again for another backward.")


def check_backward(fn: str, cache: Any, dy: Any, dstate: Any, n_states: int, kernel: str) -> tuple[int, int, int]:
    """Check the arguments of a backward kernel ``fn``: the cache of a forward of ``kernel`` that
    kept one (:func:`check_cache`), dy (H, T, N) of floats or None, dstate a tuple of n_states
    arrays (H, N). Returns (H, T, N)."""
    check_cache(fn, cache, kernel)
    _, T, N = cache["x"].shape
    H = cache["W_hh"].shape[1]
    if dy is not None:
        _array(dy if isinstance(dy, np.ndarray) else np.asarray(dy), fn, "dy", (H, T, N))
    _parts(dstate, fn, "dstate", n_states, (H, N))
    return H, T, N


def consume(fn: str, cache: dict, kernel: str) -> None:
    """Mark a forward's cache as used by backward ``fn``, after :func:`check_cache`: raise if it is not
    a cache of ``kernel``, if a later forward wrote over it through its workspace, or if a backward
    used it already (it wrote over the cache: the GRU's and the LSTM's gate gradients over the stored
    gates, the RNN's dx over x with ``overwrite_x``). Whether or not the arguments are checked."""
    check_cache(fn, cache, kernel)
    cache["consumed"] = True


# The workspace's count of the forwards that used it; a cache keeps the count of its own forward.
WS_FORWARDS = "forwards"


def count_forward(ws: dict | None) -> int | None:
    """Count a forward that uses ``ws`` (it may write over the arrays of every earlier cache from
    that workspace) and return the count for its cache; None without a workspace."""
    if ws is None:
        return None
    n = ws[WS_FORWARDS] = ws.get(WS_FORWARDS, 0) + 1
    return n
