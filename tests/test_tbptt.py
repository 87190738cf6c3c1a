"""Truncated BPTT: k2 >= T gives exactly the full-BPTT gradient; general (k1, k2) equals a
torch-autograd reference with the state detached where the definition says; fit uses it."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import rnnkit
from rnnkit.training import step_mask, tbptt_batch
from training_helpers import assert_close


def _model(kind, per_step, num_layers=2):
    layers = [getattr(rnnkit, kind)(3, 4, num_layers=num_layers, dtype="float64", seed=0),
              rnnkit.Linear(4, 2, dtype="float64", seed=1)]
    if not per_step:
        layers.insert(1, rnnkit.LastStep())
    return rnnkit.Sequential(layers)


@pytest.mark.parametrize("kind", ["LSTM", "GRU", "RNN"])
@pytest.mark.parametrize("per_step", [True, False], ids=["per-step", "per-sequence"])
@pytest.mark.parametrize("k1", [1, 3, 5, 13])
def test_tbptt_with_k2_at_least_T_equals_full_bptt(kind, per_step, k1):
    rng = np.random.default_rng(0)
    N, T = 5, 13
    lengths = np.array([13, 7, 1, 10, 4])
    x = rng.standard_normal((N, T, 3))
    y = rng.standard_normal((N, T, 2) if per_step else (N, 2))
    model, loss = _model(kind, per_step), rnnkit.losses.MSELoss()
    model.zero_grad()
    out = model(x, lengths=lengths)
    value, grad = loss(out, y, step_mask(lengths, N, T) if per_step else None)
    model.backward(grad)
    full = {k: g.copy() for k, g in model.grads.items()}
    for k2 in (T, T + 5):
        model.zero_grad()
        res = tbptt_batch(model, loss, x, y, lengths, k1, k2, per_step)
        assert res.loss == pytest.approx(value, rel=1e-12)
        if per_step:  # the valid steps its losses counted, as fit's metrics use them
            np.testing.assert_array_equal(res.mask, step_mask(lengths, N, T))
        else:
            assert res.mask is None
        for k, g in full.items():
            assert_close(f"TBPTT({k1}, {k2}) grad {k}", model.grads[k], g, 1e-10, 1e-13)


def _torch_tbptt_reference(lstm, lin, x, y, k1, k2):
    """TBPTT(k1, k2) by its definition, in torch autograd, with fixed weights (gradients summed)."""
    N, T, _ = x.shape
    total = N * T * y.shape[-1]
    stored = {0: None}
    for s in range(0, T, k1):
        e = min(s + k1, T)
        a = max(0, e - k2)
        b = max(k for k in stored if k <= a)
        state = stored[b]
        if b < a:
            with torch.no_grad():
                _, state = lstm(x[:, b:a], state)
        state = None if state is None else tuple(t.detach() for t in state)
        out, last = lstm(x[:, a:e], state)
        stored[e] = tuple(t.detach() for t in last)
        lo = max(s, a)
        pred = lin(out[:, lo - a:])
        ((pred - y[:, lo:e]) ** 2).sum().div(total).backward()


def _torch_twin(model, head):
    """A float64 torch LSTM(3, 4) and Linear(4, 2) whose weights ``model`` (layer 0 and layer
    ``head``) takes; the model's gradients zeroed. Returns (lstm, lin, their state_dict by the
    model's names)."""
    lstm = torch.nn.LSTM(3, 4, batch_first=True).double()
    lin = torch.nn.Linear(4, 2).double()
    sd = {f"0.{k}": v for k, v in lstm.state_dict().items()} | {f"{head}.{k}": v for k, v in lin.state_dict().items()}
    model.load_state_dict({k: v.numpy() for k, v in sd.items()})
    model.zero_grad()
    return lstm, lin, sd


@pytest.mark.parametrize("k1,k2", [(4, 2), (4, 4), (3, 7), (5, 1), (2, 5), (11, 3), (5, 8), (4, 9)])
def test_tbptt_general_k1_k2_equals_torch_reference(k1, k2):
    rng = np.random.default_rng(1)
    N, T = 3, 11
    x, y = rng.standard_normal((N, T, 3)), rng.standard_normal((N, T, 2))
    model = _model("LSTM", True, num_layers=1)
    lstm, lin, sd = _torch_twin(model, head=1)
    tbptt_batch(model, rnnkit.losses.MSELoss(), x, y, None, k1, k2, True)
    _torch_tbptt_reference(lstm, lin, torch.tensor(x), torch.tensor(y), k1, k2)
    for k in sd:
        module, name = (lstm, k[2:]) if k.startswith("0.") else (lin, k[2:])
        assert_close(f"TBPTT({k1}, {k2}) grad {k}", model.grads[k], dict(module.named_parameters())[name].grad.numpy(),
                     1e-10, 1e-13)


def test_truncation_really_cuts_the_gradient():
    """With k2 = 1 no gradient reaches the recurrent weights through time: dL/dW_hh comes only
    from h_{t-1} as a constant, so it differs from full BPTT and hidden norms stop at the window."""
    rng = np.random.default_rng(0)
    x, y = rng.standard_normal((2, 8, 3)), rng.standard_normal((2, 2))
    model, loss = _model("RNN", False, num_layers=1), rnnkit.losses.MSELoss()
    model.zero_grad()
    res = tbptt_batch(model, loss, x, y, None, 8, 1, False)
    assert np.count_nonzero(res.hidden_sq[0]) == 1, "only the last step lies in the window"
    truncated = model.grads["0.weight_hh_l0"].copy()
    model.zero_grad()
    tbptt_batch(model, loss, x, y, None, 8, 8, False)
    assert not np.allclose(truncated, model.grads["0.weight_hh_l0"])


def test_fit_with_tbptt_updates_once_per_chunk_and_learns():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((64, 30, 1)).astype(np.float32)
    y = np.roll(x, 2, axis=1)  # per step: echo the input from two steps ago
    y[:, :2] = 0
    model = rnnkit.Sequential([rnnkit.GRU(1, 12, seed=0), rnnkit.Linear(12, 1, seed=0)])
    opt = rnnkit.optim.Adam(model, lr=0.02)
    hist = model.fit(x, y, optimizer=opt, epochs=12, batch_size=32, tbptt=(10, 10), seed=0, progress=False)
    assert opt.steps == 12 * 2 * 3, "one update per chunk: epochs * batches * ceil(T / k1)"
    assert hist["loss"][-1] < 0.3 * hist["loss"][0]
    assert hist["hidden_grad_norms"][-1].shape == (1, 30)


def test_tbptt_refuses_bidirectional_layers_and_non_sequence_input():
    model = rnnkit.Sequential([rnnkit.LSTM(2, 3, bidirectional=True, seed=0), rnnkit.LastStep(), rnnkit.Linear(6, 1)])
    with pytest.raises(ValueError, match="bidirectional layer at index 0"):
        model.fit(np.zeros((4, 6, 2)), np.zeros((4, 1)), tbptt=(2, 2), progress=False)
    with pytest.raises(ValueError, match="tbptt"):
        model.fit(np.zeros((4, 6, 2)), np.zeros((4, 1)), tbptt=(2,), progress=False)
    flat = rnnkit.Sequential([rnnkit.Linear(2, 1)])
    with pytest.raises(ValueError, match="time axis"):
        flat.fit(np.zeros((4, 2)), np.zeros((4, 1)), tbptt=(2, 2), progress=False)


def test_tbptt_refuses_pooling_over_time():
    """Mean/max pooling over all steps cannot be split into chunks: refused with a clear error."""
    import rnnkit
    from rnnkit.layers import TimePool

    rng = np.random.default_rng(0)
    model = rnnkit.Sequential([rnnkit.LSTM(2, 4, seed=0), TimePool(("mean", "last")), rnnkit.Linear(8, 1, seed=0)])
    X, y = rng.standard_normal((8, 12, 2)), rng.standard_normal((8, 1))
    with pytest.raises(ValueError, match="TimePool at index 1"):
        model.fit(X, y, loss="mse", epochs=1, tbptt=(4, 4), progress=False)


def _torch_tbptt_per_sequence(lstm, lin, x, y, lengths, k1, k2):
    """TBPTT(k1, k2) with per-sequence targets by its definition, in torch autograd: sequence n's
    loss belongs to the chunk [s, e) holding its last step t_n = lengths[n] - 1 and is
    differentiated only if t_n lies in the window [a, e), through the window's steps only."""
    N, T, _ = x.shape
    total = N * y.shape[-1]
    last = lengths - 1
    for s in range(0, int(lengths.max()), k1):
        e = min(s + k1, int(lengths.max()))
        a = max(0, e - k2)
        rows = [n for n in range(N) if s <= last[n] < e and last[n] >= a]
        if not rows:
            continue
        state = None
        if a > 0:
            with torch.no_grad():
                _, state = lstm(x[rows, :a])
        out, _ = lstm(x[rows, a:e], state)
        pred = lin(out[torch.arange(len(rows)), torch.tensor(last[rows] - a)])
        ((pred - y[rows]) ** 2).sum().div(total).backward()


@pytest.mark.parametrize("k1,k2", [(9, 3), (4, 1), (5, 2), (3, 5), (9, 9)])
def test_tbptt_per_sequence_gives_no_gradient_for_sequences_ending_before_the_window(k1, k2):
    """A sequence ending in a chunk's forward-only steps (k2 < k1) adds nothing, to the head
    (Linear after LastStep) as to the LSTM; the others match the torch definition."""
    rng = np.random.default_rng(3)
    N, T = 6, 9
    lengths = np.array([9, 2, 6, 4, 7, 1])
    x, y = rng.standard_normal((N, T, 3)), rng.standard_normal((N, 2))
    model = _model("LSTM", False, num_layers=1)
    lstm, lin, sd = _torch_twin(model, head=2)
    tbptt_batch(model, rnnkit.losses.MSELoss(), x, y, lengths, k1, k2, False)
    _torch_tbptt_per_sequence(lstm, lin, torch.tensor(x), torch.tensor(y), lengths, k1, k2)
    for k in sd:
        module = lstm if k.startswith("0.") else lin
        expected = dict(module.named_parameters())[k[2:]].grad
        expected = np.zeros_like(model.grads[k]) if expected is None else expected.numpy()
        assert_close(f"TBPTT({k1}, {k2}) grad {k}", model.grads[k], expected, 1e-10, 1e-13)
