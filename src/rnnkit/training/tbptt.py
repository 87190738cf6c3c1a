"""Truncated Backpropagation Through Time, TBPTT(k1, k2) (Williams & Peng 1990; Sutskever 2013).

Full BPTT unfolds the network over all T steps. For long sequences that costs memory and lets
gradients explode or vanish over the whole length. TBPTT(k1, k2) instead:

1. runs forward in chunks of k1 steps, [s, e) with e = s + k1, carrying the hidden state from
   one chunk to the next (the carried state is a constant: no gradient flows through it);
2. at the end of each chunk, backpropagates through the last k2 steps only, the window
   [a, e) with a = max(0, e - k2), starting from the state at step a (a constant);
3. only the loss terms of the chunk's own steps are injected, and only those inside the window
   get a gradient (with k2 < k1 the first k1 - k2 steps of each chunk run forward only: their
   loss is reported but not differentiated). Then ``after_chunk`` runs (in ``fit``: clip and
   update the weights, so there is one update per chunk).

With k2 > k1 the window reaches into earlier chunks: the forward over [a, e) is run again from
the state stored at the last chunk boundary before a. With k2 >= T every window starts at
step 0, so (with fixed weights) the chunk gradients sum to exactly the full-BPTT gradient, up
to floating-point rounding; the test suite checks it.

Per-step targets (a model without ``LastStep``): the loss of chunk [s, e) covers steps s..e-1.
Per-sequence targets (a model ``[... recurrent part ..., LastStep, head ...]``): sequence n's
loss is injected in the chunk that holds its last valid step lengths[n] - 1; the head runs on
those sequences only. A sequence whose last step lies in the forward-only steps of its chunk
(before the window) has its loss reported but gives no gradient, to the head as to the
recurrent layers. In both cases a "mean" loss is rescaled by (terms in chunk / terms in
batch), so the chunk losses add up to the batch loss. Sequences that ended before a window
keep their final state (and get no gradient). Bidirectional layers cannot be truncated
(the reverse direction needs the future) and are refused.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

import numpy as np

from ..layers.grad_mode import no_grad
from ..layers.last_step import LastStep
from ..layers.recurrent import RecurrentLayer
from ..layers.sequential import Sequential, backward_layers, forward_layers, leaf_layers
from ..losses import reduction_of
from .batching import step_mask


@dataclass
class TBPTTResult:
    """loss: the batch loss (sum of the rescaled chunk losses); pred: the model's outputs,
    assembled chunk by chunk; hidden_sq: (D, T) sum over windows of ||dL/dh_t||**2 for the first
    layer of the first recurrent layer (None without recurrent layers); mask: the (N, T) valid
    steps the per-step losses counted (:func:`~rnnkit.training.step_mask`; None for
    per-sequence targets or when every step is valid)."""

    loss: float
    pred: np.ndarray
    hidden_sq: np.ndarray | None
    mask: np.ndarray | None = None


def split_model(model: Sequential, per_step: bool) -> tuple[list, list]:
    """(body, head): the layers before the first LastStep, and the rest (empty if per_step), with
    nested Sequentials opened (:func:`~rnnkit.layers.sequential.leaf_layers`), so that every
    recurrent layer carries its state from chunk to chunk (the indices in its errors count them)."""
    layers = leaf_layers(model.layers)
    cut = next((i for i, layer in enumerate(layers) if isinstance(layer, LastStep)), len(layers))
    body, head = layers[:cut], layers[cut:]
    if per_step and head:
        raise ValueError("Expected per-step targets to come from a model without LastStep, got a LastStep "
                         f"at index {cut}.")
    bi = [i for i, layer in enumerate(body) if isinstance(layer, RecurrentLayer) and layer.bidirectional]
    if bi:
        raise ValueError(f"Expected unidirectional recurrent layers for truncated BPTT, got a bidirectional "
                         f"layer at index {bi[0]}: its reverse direction needs the whole sequence. "
                         "Use tbptt=None.")
    if any(isinstance(layer, RecurrentLayer) for layer in head):
        raise ValueError("Expected no recurrent layer after LastStep for truncated BPTT.")
    pooled = [i for i, layer in enumerate(body) if getattr(layer, "reduces_time", False)]
    if pooled:
        raise ValueError(f"Expected LastStep as the only time reduction for truncated BPTT, got "
                         f"{type(body[pooled[0]]).__name__} at index {pooled[0]}: pooling over all steps "
                         "needs the whole sequence. Use tbptt=None.")
    return body, head


def _keep_finished(new: list[Any], old: list[Any], done: np.ndarray) -> list[Any]:
    """States of rows ``done`` (sequences that ended before the window) stay as they were."""
    def pick(n: np.ndarray, o: np.ndarray | None) -> np.ndarray:
        o = np.zeros_like(n) if o is None else o
        return np.where(done[None, :, None], o, n)

    out = []
    for n, o in zip(new, old):
        if isinstance(n, tuple):
            out.append(tuple(pick(a, None if o is None else b) for a, b in zip(n, o or (None,) * len(n))))
        else:
            out.append(pick(n, o))
    return out


def _run(body: list, x: np.ndarray, lens: np.ndarray | None, a: int, e: int,
         states: list[Any]) -> tuple[np.ndarray, list[Any]]:
    """Forward ``body`` over steps [a, e) from ``states``; returns (outputs, states at e)."""
    lw = None
    if lens is not None:
        lw = np.clip(lens - a, 1, e - a)
        if (lw == e - a).all():
            lw = None
    out, finals, _ = forward_layers(body, x[:, a:e], lw, states)
    if lens is not None and (lens <= a).any():
        finals = _keep_finished(finals, states, lens <= a)
    return out, finals


def tbptt_batch(model: Sequential, loss_fn: Callable, x: np.ndarray, y: np.ndarray, lengths: np.ndarray | None,
                k1: int, k2: int, per_step: bool, after_chunk: Callable[[], None] | None = None,
                mean: bool | None = None) -> TBPTTResult:
    """Run TBPTT(k1, k2) over one batch, adding parameter gradients into ``model.grads``
    (``after_chunk`` is called after each chunk's backward); see the module docstring.
    ``mean``: whether the loss averages its terms (rescaled per chunk); None reads it from
    ``loss_fn.reduction`` (a callable without one averages). Pass it when ``loss_fn`` wraps the loss.

    Shapes: x (N, T, ...) batch-first; y (N, T, ...) per step or (N, ...) per sequence;
    lengths (N,) or None.
    """
    body, head = split_model(model, per_step)
    N, T = x.shape[0], x.shape[1]
    lens = None if lengths is None else np.asarray(lengths)
    last = np.full(N, T) if lens is None else lens
    T_eff = int(last.max())
    mask_all = step_mask(lens, N, T)
    total = int(last.sum()) if per_step else N
    if mean is None:
        mean = reduction_of(loss_fn) == "mean"
    first_rec = next((layer for layer in body if isinstance(layer, RecurrentLayer)), None)
    hidden_sq = None if first_rec is None else np.zeros((first_rec.num_directions, T))
    n_rec = sum(isinstance(layer, RecurrentLayer) for layer in body)
    stored: dict[int, list[Any]] = {0: [None] * n_rec}  # states at chunk boundaries
    pred, loss_total = None, 0.0
    for s in range(0, T_eff, k1):
        e = min(s + k1, T_eff)
        a = max(0, e - k2)
        b = max(k for k in stored if k <= a)
        states, lead = stored[b], None
        if b < a:  # forward only up to the window (with k2 < k1, b == s and these are chunk steps);
            with no_grad():  # no backward goes through these steps
                lead, states = _run(body, x, lens, b, a, states)
        out_w, stored[e] = _run(body, x, lens, a, e, states)
        for k in [k for k in stored if k < b]:  # a never decreases: b stays the oldest one needed
            del stored[k]
        chunk = out_w[:, s - a:] if a <= s else np.concatenate([lead, out_w], axis=1)
        dwin = np.zeros_like(out_w)
        if per_step:
            m = None if mask_all is None else mask_all[:, s:e]
            count = (e - s) * N if m is None else int(m.sum())
            value, g = loss_fn(chunk, y[:, s:e], m)
            scale = count / total if mean else 1.0
            g = g * g.dtype.type(scale)
            if pred is None:
                pred = np.zeros((N, T) + chunk.shape[2:], dtype=chunk.dtype)
            pred[:, s:e] = chunk
            rows: Any = slice(None)
        else:
            rows = np.flatnonzero((last - 1 >= s) & (last - 1 < e))
            if rows.size == 0:
                continue
            out, _, _ = forward_layers(head, chunk[rows], last[rows] - s)
            value, g_out = loss_fn(out, y[rows], None)
            scale = rows.size / total if mean else 1.0
            g_out = g_out * g_out.dtype.type(scale)  # head grads rescaled too
            g_out[last[rows] - 1 < a] = 0  # ended in the forward-only steps: reported, not differentiated
            g = backward_layers(head, g_out)
            if pred is None:
                pred = np.zeros((N,) + out.shape[1:], dtype=out.dtype)
            pred[rows] = out
        loss_total += value * scale
        if a <= s:
            dwin[rows, s - a:] = g
        else:
            dwin[rows] = g[:, a - s:]
        backward_layers(body, dwin)
        if first_rec is not None:
            hidden_sq[:, a:e] += first_rec.hidden_grad_norms[0].astype(np.float64) ** 2
        if after_chunk is not None:
            after_chunk()
    return TBPTTResult(loss_total, pred, hidden_sq, mask_all if per_step else None)
