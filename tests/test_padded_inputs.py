"""Padding is never read: NaN or inf in x past a sequence's length changes nothing.

PyTorch's pack_padded_sequence drops the padding before the RNN sees it, so its outputs, states
and gradients do not depend on it, and dL/dx is 0 there. rnnkit keeps the padded batch and
multiplies whole (I, T*N) matrices (dW_ih = dA @ x.T), where 0 * NaN would be NaN.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

import rnnkit
from conftest import assert_all_close, copy_torch_params, split_state

torch.set_num_threads(1)

TOL = {"float64": dict(rtol=1e-9, atol=1e-12), "float32": dict(rtol=1e-5, atol=1e-6)}


def use_loop(monkeypatch, loop):
    """The kernels' time loops in C or in Python (what RNNKIT_NO_C_LOOP=1 selects)."""
    from rnnkit.kernels import blas

    if loop == "C" and blas.find() is None:
        pytest.skip("the C loops need NumPy's OpenBLAS")
    monkeypatch.setattr(blas, "c_loops", lambda: loop == "C" and blas.find() is not None)


def padded_batch(rng, N, T, I, lengths, fill, dtype, batch_first=True):
    """x (N, T, I) (or (T, N, I)) with ``fill`` in every step past lengths[n]."""
    x = rng.standard_normal((N, T, I)).astype(dtype)
    for n, length in enumerate(lengths):
        x[n, length:] = fill
    return x if batch_first else np.ascontiguousarray(x.transpose(1, 0, 2))


@pytest.mark.parametrize("loop", ["C", "python"])
@pytest.mark.parametrize("fill", [np.nan, np.inf], ids=["nan", "inf"])
@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("kind", ["RNN", "LSTM", "GRU"])
@pytest.mark.parametrize("N, batch_first", [(5, True), (5, False), (18, True)], ids=["N5", "N5-tf", "N18"])
def test_nan_and_inf_padding_match_torch_packed(kind, dtype, fill, loop, N, batch_first, monkeypatch):
    """Two bidirectional layers over a batch whose padding is NaN or inf: outputs, final states,
    dx (0 in the padding), dstate0 and every weight gradient equal torch's with
    pack_padded_sequence, in both time loops (N = 18: the C loops project x step by step)."""
    use_loop(monkeypatch, loop)
    rng = np.random.default_rng(7)
    T, I, H, L = 6, 3, 4, 2
    lengths = rng.integers(1, T + 1, N)
    lengths[:3] = [6, 2, 1]
    torch.manual_seed(0)
    module = getattr(torch.nn, kind)(I, H, num_layers=L, bidirectional=True, batch_first=batch_first,
                                     dtype=getattr(torch, dtype))
    layer = getattr(rnnkit, kind)(I, H, num_layers=L, bidirectional=True, batch_first=batch_first, dtype=dtype)
    copy_torch_params(layer, module)
    x = padded_batch(rng, N, T, I, lengths, fill, dtype, batch_first)
    state = [rng.standard_normal((2 * L, N, H)).astype(dtype) for _ in range(2 if kind == "LSTM" else 1)]
    y, st = layer(x, tuple(state) if kind == "LSTM" else state[0], lengths=lengths)
    dy = rng.standard_normal(y.shape).astype(dtype)
    dstate = [rng.standard_normal(s.shape).astype(dtype) for s in state]
    dx, ds0 = layer.backward(dy, tuple(dstate) if kind == "LSTM" else dstate[0])

    xt = torch.tensor(x, requires_grad=True)
    st_t = [torch.tensor(s, requires_grad=True) for s in state]
    packed = pack_padded_sequence(xt, torch.as_tensor(lengths), batch_first=batch_first, enforce_sorted=False)
    out, st_n = module(packed, tuple(st_t) if kind == "LSTM" else st_t[0])
    yt, _ = pad_packed_sequence(out, batch_first=batch_first, total_length=T)
    st_n = split_state(st_n)
    loss = (yt * torch.tensor(dy)).sum() + sum((s * torch.tensor(d)).sum() for s, d in zip(st_n, dstate))
    loss.backward()

    valid = np.arange(T)[None, :] < lengths[:, None]  # (N, T)
    pad = ~(valid if batch_first else valid.T)
    assert np.all(dx[pad] == 0), "dx must be 0 in the padding, as torch's"
    pairs = [("y", y, yt.detach().numpy()), ("dx", dx, xt.grad.numpy())]
    pairs += [(f"state[{i}]", s, t.detach().numpy()) for i, (s, t) in enumerate(zip(split_state(st), st_n))]
    pairs += [(f"dstate0[{i}]", s, t.grad.numpy()) for i, (s, t) in enumerate(zip(split_state(ds0), st_t))]
    pairs += [(f"grad {k}", layer.grads[k], p.grad.numpy()) for k, p in module.named_parameters()]
    assert_all_close(pairs, context=f"{kind} {dtype} padding {fill} {loop} loop", **TOL[dtype])


@pytest.mark.parametrize("loop", ["C", "python"])
@pytest.mark.parametrize("kind, options", [("RNN", {}), ("LSTM", {}), ("GRU", {}), ("GRU", {"reset_after": False})],
                         ids=["rnn", "lstm", "gru", "gru_reset_before"])
def test_padding_values_change_nothing(kind, options, loop, monkeypatch):
    """With dropout between the layers, recurrent dropout (the same masks replayed), and under
    no_grad: a batch padded with NaN gives bit for bit the outputs, states, dx and gradients of
    the same batch padded with zeros."""
    use_loop(monkeypatch, loop)
    rng = np.random.default_rng(3)
    N, T, I, H = 4, 5, 3, 6
    lengths = np.array([5, 1, 3, 2])
    x0 = padded_batch(rng, N, T, I, lengths, 0.0, "float64")
    dy = rng.standard_normal((N, T, 2 * H))
    results = []
    for fill in (0.0, np.nan):
        x = x0.copy()
        for n, length in enumerate(lengths):
            x[n, length:] = fill
        layer = getattr(rnnkit, kind)(I, H, num_layers=2, bidirectional=True, dropout=0.3, recurrent_dropout=0.2,
                                      dtype="float64", seed=5, **options)
        y, st = layer(x, lengths=lengths)
        dx, ds0 = layer.backward(dy)
        with rnnkit.no_grad():
            y_eval, _ = layer.eval()(x, lengths=lengths)
        results.append([y, dx, y_eval, *split_state(st), *split_state(ds0), *layer.grads.values()])
    for got, want in zip(*results):
        assert np.all(np.isfinite(got))
        np.testing.assert_array_equal(got, want)
