"""Cells against torch.nn.RNNCell / LSTMCell / GRUCell: one step, and a BPTT loop written by
hand with cell.backward(..., cache=...)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from conftest import (
    CELL_VARIANT_IDS,
    CELL_VARIANTS,
    assert_all_close,
    copy_torch_params,
    make_cell,
    split_state,
    torch_cell_step,
)


TOL = {"float64": dict(rtol=1e-9, atol=1e-12), "float32": dict(rtol=1e-5, atol=1e-6)}
NP_DTYPE = {"float64": np.float64, "float32": np.float32}
TORCH_DTYPE = {"float64": torch.float64, "float32": torch.float32}


# --------------------------------------------------------------------------------------
# cells
# --------------------------------------------------------------------------------------


def torch_cell(kind, extra, I, H, bias, seed, dtype=torch.float64):
    torch.manual_seed(seed)
    if kind == "RNN":
        return torch.nn.RNNCell(I, H, bias=bias, nonlinearity=extra["nonlinearity"], dtype=dtype)
    return getattr(torch.nn, kind + "Cell")(I, H, bias=bias, dtype=dtype)


def torch_cell_forward(kind, extra, tcell, x, h, c):
    if extra.get("reset_after") is False:
        p = dict(tcell.named_parameters())
        return torch_cell_step(kind, x, h, c, p, reset_after=False)
    if kind == "LSTM":
        return tcell(x, (h, c))
    return tcell(x, h), None


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("batched", [True, False], ids=["batched", "unbatched"])
@pytest.mark.parametrize("with_state", [True, False], ids=["state", "nostate"])
@pytest.mark.parametrize("bias", [True, False], ids=["bias", "nobias"])
@pytest.mark.parametrize("cell", CELL_VARIANTS, ids=CELL_VARIANT_IDS)
def test_cell_step_matches_torch(cell, bias, with_state, batched, dtype):
    kind, extra, cid = cell
    npd = NP_DTYPE[dtype]
    I, H, N = 3, 4, 5
    rng = np.random.default_rng(12)
    tcell = torch_cell(kind, extra, I, H, bias, seed=3, dtype=TORCH_DTYPE[dtype])
    c = make_cell(kind, I, H, bias=bias, dtype=dtype, seed=0, **extra)
    copy_torch_params(c, tcell)
    tcell = tcell.double()
    xs, hs = ((N, I), (N, H)) if batched else ((I,), (H,))
    x = rng.standard_normal(xs).astype(npd)
    h = (rng.standard_normal(hs) if with_state else np.zeros(hs)).astype(npd)
    cc = (rng.standard_normal(hs) if with_state else np.zeros(hs)).astype(npd)
    Wh = rng.standard_normal(hs).astype(npd)
    Wc = rng.standard_normal(hs).astype(npd)

    before = {k: g.copy() for k, g in c.grads.items()}
    state = ((h, cc) if kind == "LSTM" else h) if with_state else None
    out = c(x, state)
    assert c.cache is not None, "cell.cache is not set after forward"
    dstate1 = (Wh, Wc) if kind == "LSTM" else Wh
    dx, dstate = c.backward(dstate1)

    xt = torch.tensor(x, dtype=torch.float64, requires_grad=True)
    ht = torch.tensor(h, dtype=torch.float64, requires_grad=True)
    ct = torch.tensor(cc, dtype=torch.float64, requires_grad=True)
    h1, c1 = torch_cell_forward(kind, extra, tcell, xt, ht, ct)
    L = (h1 * torch.tensor(Wh, dtype=torch.float64)).sum()
    if kind == "LSTM":
        L = L + (c1 * torch.tensor(Wc, dtype=torch.float64)).sum()
    L.backward()

    outs, douts = split_state(out), split_state(dstate)
    pairs = [("h1", outs[0], h1.detach().numpy()), ("dx", dx, xt.grad.numpy()), ("dh", douts[0], ht.grad.numpy())]
    if kind == "LSTM":
        pairs += [("c1", outs[1], c1.detach().numpy()), ("dc", douts[1], ct.grad.numpy())]
    for k, p in tcell.named_parameters():
        pairs.append((f"grad {k}", c.grads[k] - before[k], p.grad.numpy()))
    for name, a, _ in pairs:
        assert np.asarray(a).dtype == npd, f"{name} dtype {np.asarray(a).dtype} != {npd}"
    assert_all_close(pairs, context=f"cell {cid}", **TOL[dtype])


@pytest.mark.parametrize("cell", CELL_VARIANTS, ids=CELL_VARIANT_IDS)
def test_cell_hand_unrolled_bptt_matches_torch(cell):
    """Several steps with cell(...), then a hand-written BPTT loop using
    cell.backward(dstate, cache=cache_t) in reverse order."""
    kind, extra, cid = cell
    I, H, N, T = 3, 4, 2, 5
    rng = np.random.default_rng(13)
    tcell = torch_cell(kind, extra, I, H, True, seed=4)
    c = make_cell(kind, I, H, dtype="float64", seed=0, **extra)
    copy_torch_params(c, tcell)
    xs = rng.standard_normal((T, N, I))
    h0 = rng.standard_normal((N, H))
    c0 = rng.standard_normal((N, H))
    Wh = rng.standard_normal((T, N, H))  # loss = sum_t sum(h_t * Wh[t]) + sum(c_T * Wc)
    Wc = rng.standard_normal((N, H))

    before = {k: g.copy() for k, g in c.grads.items()}
    state = (h0, c0) if kind == "LSTM" else h0
    caches = []
    for t in range(T):
        state = c(xs[t], state)
        caches.append(c.cache)
    dxs = [None] * T
    dh, dc = Wh[T - 1].copy(), Wc.copy()
    for t in range(T - 1, -1, -1):
        dx, dprev = c.backward((dh, dc) if kind == "LSTM" else dh, cache=caches[t])
        dxs[t] = dx
        if kind == "LSTM":
            dh, dc = dprev
        else:
            dh = dprev
        if t > 0:
            dh = dh + Wh[t - 1]

    xt = torch.tensor(xs, requires_grad=True)
    ht = torch.tensor(h0, requires_grad=True)
    ct = torch.tensor(c0, requires_grad=True)
    h, cs = ht, ct
    L = 0
    for t in range(T):
        h, cs = torch_cell_forward(kind, extra, tcell, xt[t], h, cs)
        L = L + (h * torch.tensor(Wh[t])).sum()
    if kind == "LSTM":
        L = L + (cs * torch.tensor(Wc)).sum()
    L.backward()

    pairs = [("h_T", split_state(state)[0], h.detach().numpy()), ("dx", np.stack(dxs), xt.grad.numpy()),
             ("dh0", dh, ht.grad.numpy())]
    if kind == "LSTM":
        pairs += [("dc0", dc, ct.grad.numpy())]
    pairs += [(f"grad {k}", c.grads[k] - before[k], p.grad.numpy()) for k, p in tcell.named_parameters()]
    assert_all_close(pairs, context=f"hand-unrolled BPTT {cid}", **TOL["float64"])
