"""The relu RNN on non-finite values, against PyTorch: relu' comes from the output as in
PyTorch's threshold_backward (``h <= 0 ? 0 : d``), so a NaN h (from a NaN input, or inf - inf in
a pre-activation) passes the gradient on instead of stopping it; dx, dh0 and every parameter
gradient then equal PyTorch's, NaN and inf included. Before, rnnkit used ``h > 0 ? d : 0`` and
its dx there was 0 where PyTorch's was finite."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import rnnkit

INPUTS = [[0.0, 0.0, 1.0], [np.nan, 1.0, -2.0], [np.inf, -np.inf, 3.0], [-np.inf, np.inf, 0.5]]


def _torch_rnn(I, H, dtype, bias):
    torch.manual_seed(0)
    t = torch.nn.RNN(I, H, nonlinearity="relu", batch_first=True, bias=bias, dtype=getattr(torch, dtype))
    with torch.no_grad():  # positive weights: the infinities reach the next step's pre-activation
        for p in t.parameters():
            p.copy_(p.abs() + 0.25)
    return t


def _same(a, b, what):
    np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-5, equal_nan=True, err_msg=what)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("N", [1, 17])
@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("c_loop", [True, False], ids=["C loop", "Python loop"])
def test_relu_rnn_gradients_on_nan_and_inf_equal_torchs(dtype, N, bias, c_loop, monkeypatch):
    if not c_loop:
        monkeypatch.setenv("RNNKIT_NO_C_LOOP", "1")
    I, H = 2, 3
    t = _torch_rnn(I, H, dtype, bias)
    r = rnnkit.RNN(I, H, nonlinearity="relu", bias=bias, batch_first=True, dtype=dtype)
    r.load_state_dict({k: v.detach().numpy() for k, v in t.state_dict().items()})
    rng = np.random.default_rng(0)
    x = rng.standard_normal((N, 3, I)).astype(dtype)
    x[0, :, 0] = INPUTS[N % len(INPUTS)] if N > 1 else INPUTS[2]
    if N > 1:
        for n, row in enumerate(INPUTS):
            x[n, :, 1] = row
    dy = rng.standard_normal((N, 3, H)).astype(dtype)
    xt = torch.from_numpy(x.copy()).requires_grad_(True)
    y_t, _ = t(xt)
    y_t.backward(torch.from_numpy(dy))
    with np.errstate(invalid="ignore"):  # the Python loop's NumPy products see inf * 0 as PyTorch does
        y_r, _ = r(x)
        dx_r, _ = r.backward(dy)
    _same(y_r, y_t.detach().numpy(), "y")
    _same(dx_r, xt.grad.numpy(), "dx")
    assert not np.isfinite(y_r).all()  # the case does reach non-finite states
    for name, p in t.named_parameters():
        _same(r.grads[name], p.grad.numpy(), name)


def test_relu_cell_passes_the_gradient_through_a_nan_output():
    t = torch.nn.RNNCell(1, 1, nonlinearity="relu", bias=False)
    with torch.no_grad():
        t.weight_ih.fill_(1.0), t.weight_hh.fill_(1.0)
    cell = rnnkit.RNNCell(1, 1, nonlinearity="relu", bias=False)
    cell.load_state_dict({k: v.detach().numpy() for k, v in t.state_dict().items()})
    x, h = np.array([[np.nan]], np.float32), np.zeros((1, 1), np.float32)
    xt = torch.from_numpy(x).requires_grad_(True)
    t(xt, torch.from_numpy(h)).sum().backward()
    h1 = cell.forward(x, h)
    h1 = h1[0] if isinstance(h1, tuple) else h1
    out = cell.backward(np.ones_like(h1))
    dx = out[0]
    assert np.isnan(h1).all()
    np.testing.assert_array_equal(dx, xt.grad.numpy())  # 1, not 0
