"""Sequential: BPTT through a stack equals finite differences and torch; names, states, summary."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import rnnkit
from rnnkit.layers import TimePool
from training_helpers import assert_close, check_module_grads


def _classifier(dtype="float64", bidirectional=False, kind="LSTM"):
    D = 2 if bidirectional else 1
    return rnnkit.Sequential([
        getattr(rnnkit, kind)(3, 4, num_layers=2, bidirectional=bidirectional, dtype=dtype, seed=0),
        rnnkit.LastStep(), rnnkit.Tanh(), rnnkit.Linear(4 * D, 2, dtype=dtype, seed=1),
    ])


@pytest.mark.parametrize("bidirectional", [False, True])
def test_sequential_gradients_match_finite_differences(bidirectional):
    model = _classifier(bidirectional=bidirectional, kind="GRU")
    x = np.random.default_rng(0).standard_normal((3, 5, 3))
    lengths = [5, 2, 4]
    check_module_grads(model, lambda: model(x, lengths=lengths), x, rtol=1e-5, atol=1e-8)


def test_sequential_per_step_model_with_embedding_matches_finite_differences():
    model = rnnkit.Sequential([rnnkit.Embedding(6, 3, dtype="float64", seed=0), rnnkit.RNN(3, 4, dtype="float64", seed=0),
                               rnnkit.Dropout(0.3, seed=0), rnnkit.Linear(4, 2, dtype="float64", seed=0)])
    ids = np.array([[1, 5, 0, 2], [3, 3, 4, 0]])

    def forward():
        model.layers[2].set_rng(7)  # the same dropout mask at every evaluation
        return model(ids, lengths=[4, 2])

    assert check_module_grads(model, forward) is None  # no gradient w.r.t. token ids


def test_sequential_matches_torch_model_built_by_hand():
    model = _classifier()
    lstm = torch.nn.LSTM(3, 4, num_layers=2, batch_first=True).double()
    lin = torch.nn.Linear(4, 2).double()
    sd = {f"0.{k}": v for k, v in lstm.state_dict().items()}
    sd.update({f"3.{k}": v for k, v in lin.state_dict().items()})
    model.load_state_dict({k: v.numpy() for k, v in sd.items()})
    assert list(model.state_dict()) == list(sd), "parameter names must be PyTorch-style '<index>.<name>'"
    rng = np.random.default_rng(0)
    x = rng.standard_normal((4, 6, 3))
    lengths = np.array([6, 1, 3, 5])
    dout = rng.standard_normal((4, 2))
    xt = torch.tensor(x, requires_grad=True)
    y, _ = lstm(xt)
    last = y[torch.arange(4), torch.tensor(lengths - 1)]  # with packing the LSTM output is the same up to there
    out_t = lin(torch.tanh(last))
    out_t.backward(torch.tensor(dout))
    out = model(x, lengths=lengths)
    dx = model.backward(dout)
    assert_close("output", out, out_t.detach().numpy(), 1e-12, 1e-13)
    mask = (np.arange(6)[None, :] < lengths[:, None])[..., None]
    assert_close("dx (valid steps)", dx * mask, xt.grad.numpy() * mask, 1e-10, 1e-12)
    grads = model.grads
    for k, v in sd.items():
        module = lstm if k.startswith("0.") else lin
        ref = dict(module.named_parameters())[k.split(".", 1)[1]].grad.numpy()
        assert_close(f"grad {k}", grads[k], ref, 1e-10, 1e-12)


def test_carrying_states_across_chunks_equals_one_forward():
    model = rnnkit.Sequential([rnnkit.LSTM(3, 4, num_layers=2, dtype="float64", seed=0), rnnkit.GRU(4, 3, dtype="float64", seed=0),
                               rnnkit.Linear(3, 1, dtype="float64", seed=0)])
    x = np.random.default_rng(0).standard_normal((2, 9, 3))
    full = model(x)
    first = model(x[:, :4])
    states = model.last_states
    assert len(states) == 2 and isinstance(states[0], tuple)
    second = model(x[:, 4:], states=states)
    assert_close("chunked output", np.concatenate([first, second], axis=1), full, 1e-13, 1e-14)
    with pytest.raises(ValueError, match="one per recurrent layer"):
        model(x, states=[None])


def test_nested_sequential_passes_lengths_and_gradients():
    inner = rnnkit.Sequential([rnnkit.GRU(3, 4, dtype="float64", seed=0), rnnkit.LastStep()])
    outer = rnnkit.Sequential([inner, rnnkit.Linear(4, 1, dtype="float64", seed=0)])
    assert list(outer.params)[0] == "0.0.weight_ih_l0"
    x = np.random.default_rng(0).standard_normal((3, 5, 3))
    flat = rnnkit.Sequential([inner[0], inner[1], outer[1]])
    np.testing.assert_array_equal(outer(x, lengths=[5, 2, 3]), flat(x, lengths=[5, 2, 3]))
    check_module_grads(outer, lambda: outer(x, lengths=[5, 2, 3]), x)


def test_params_are_live_views_and_modes_propagate():
    model = _classifier(dtype="float32")
    model.params["3.weight"][...] = 0.5
    assert np.all(model.layers[3].params["weight"] == 0.5)
    model.layers[0].grads["weight_ih_l0"][...] = 1.0
    assert np.all(model.grads["0.weight_ih_l0"] == 1.0)
    model.zero_grad()
    assert not any(g.any() for g in model.grads.values())
    model.eval()
    assert not any(layer.training for layer in model.layers)
    model.train()
    assert all(layer.training for layer in model.layers)
    assert model.num_parameters() == sum(p.size for p in model.params.values())


def test_summary_lists_layers_shapes_and_parameter_counts():
    model = rnnkit.Sequential([rnnkit.Embedding(100, 8, seed=0), rnnkit.LSTM(8, 16, bidirectional=True, seed=0),
                               rnnkit.LastStep(), rnnkit.Linear(32, 3, seed=0)])
    text = model.summary()
    lines = text.splitlines()
    assert "LSTM(8, 16, bidirectional=True)" in text
    row = {line.split()[0]: line for line in lines if line.strip()[:1].isdigit()}
    assert "(N, T, 8)" in row["0"] and "800" in row["0"]
    assert "(N, T, 32)" in row["1"] and f"{2 * 4 * 16 * (8 + 16 + 2):,}" in row["1"]
    assert "(N, 32)" in row["2"] and "(N, 3)" in row["3"] and "99" in row["3"]
    assert lines[-1] == f"Total params: {model.num_parameters():,}"


def test_sequential_config_round_trip_and_errors():
    model = _classifier(bidirectional=True)
    rebuilt = rnnkit.Sequential.from_config(model.get_config())
    for k, v in model.params.items():
        np.testing.assert_array_equal(rebuilt.params[k], v, err_msg=k)
    with pytest.raises(rnnkit.ConfigError, match="Unknown layer 'Conv1d'"):
        rnnkit.Sequential.from_config({"layers": [{"class_name": "Conv1d", "config": {}}]})
    with pytest.raises(rnnkit.ConfigError, match="Cannot build LSTM"):
        rnnkit.Sequential.from_config({"layers": [{"class_name": "LSTM", "config": {"input_size": -1}}]})
    with pytest.raises(ValueError, match="batch-first"):
        rnnkit.Sequential([rnnkit.LSTM(3, 4, batch_first=False)])
    with pytest.raises(TypeError, match="index 1"):
        rnnkit.Sequential([rnnkit.Linear(2, 2), torch.nn.Linear(2, 2)])
    with pytest.raises(ValueError, match="at least one layer"):
        rnnkit.Sequential([])
    with pytest.raises(RuntimeError, match="before forward"):
        _classifier().backward(np.zeros((1, 2)))


def test_last_step_follows_the_nearest_recurrent_layer_across_dropout():
    """LastStep(bidirectional=None) must see a bidirectional layer even with a Dropout between them:
    forward half at the last valid step, reverse half at step 0."""
    import rnnkit

    rng = np.random.default_rng(0)
    lstm = rnnkit.LSTM(3, 4, bidirectional=True, dtype="float64", seed=0)
    model = rnnkit.Sequential([lstm, rnnkit.Dropout(0.1), rnnkit.LastStep()]).eval()
    x = rng.standard_normal((2, 5, 3))
    out = model(x, lengths=[5, 3])
    y, _ = lstm.eval()(x, lengths=[5, 3])
    expected = np.concatenate([y[[0, 1], [4, 2], :4], y[:, 0, 4:]], axis=1)
    np.testing.assert_allclose(out, expected, rtol=1e-12, atol=1e-12)


def test_a_second_backward_raises_before_any_layer_changes_a_gradient():
    """One backward per forward, as PyTorch: the second raises RuntimeError and adds nothing to
    the gradients of the layers above the recurrent one (they are checked before any runs);
    a new forward makes backward work again, with the same gradients."""
    model = rnnkit.Sequential([rnnkit.Embedding(6, 3, dtype="float64", seed=0),
                               rnnkit.LSTM(3, 4, dtype="float64", seed=1), rnnkit.Dropout(0.2, seed=2),
                               rnnkit.LastStep(), rnnkit.Tanh(), rnnkit.Linear(4, 2, dtype="float64", seed=3)])
    ids, dout = np.array([[1, 5, 0, 2], [3, 3, 4, 0]]), np.ones((2, 2))
    model(ids, lengths=[4, 2])
    model.backward(dout)
    once = {k: g.copy() for k, g in model.grads.items()}
    with pytest.raises(RuntimeError, match=r"Linear.backward\(\) was called a second time after one forward"):
        model.backward(dout)
    for k, g in model.grads.items():
        np.testing.assert_array_equal(g, once[k], err_msg=f"a failed backward changed grads[{k}]")
    model.layers[2].set_rng(2)
    model(ids, lengths=[4, 2])
    model.backward(dout)
    for k, g in model.grads.items():
        np.testing.assert_array_equal(g, 2 * once[k], err_msg=k)


@pytest.mark.parametrize("make, x, dy", [
    (lambda: rnnkit.Linear(3, 2, seed=0), np.ones((2, 3)), np.ones((2, 2))),
    (lambda: rnnkit.Embedding(5, 2, seed=0), np.array([[1, 4]]), np.ones((1, 2, 2))),
    (lambda: rnnkit.LastStep(), np.ones((2, 4, 3)), np.ones((2, 3))),
    (lambda: rnnkit.Dropout(0.5, seed=0), np.ones((2, 3)), np.ones((2, 3))),
    (lambda: rnnkit.Dropout(0.5, seed=0).eval(), np.ones((2, 3)), np.ones((2, 3))),
    (lambda: rnnkit.Sigmoid(), np.ones((2, 3)), np.ones((2, 3))),
    (lambda: TimePool(("mean", "max", "last")), np.arange(24.0).reshape(2, 4, 3), np.ones((2, 9))),
], ids=["Linear", "Embedding", "LastStep", "Dropout", "Dropout-eval", "Sigmoid", "TimePool"])
def test_every_layer_backward_consumes_its_forward(make, x, dy):
    """A layer's backward consumes what its forward kept: the second one raises and changes no
    gradient; a dy of the wrong shape raises ValueError and consumes nothing."""
    layer = make()
    layer(x)
    with pytest.raises(ValueError, match="Expected 'd"):
        layer.backward(np.ones(dy.shape + (1,)))
    first = layer.backward(dy)
    grads = {k: g.copy() for k, g in layer.grads.items()}
    with pytest.raises(RuntimeError, match="called a second time after one forward"):
        layer.backward(dy)
    for k, g in layer.grads.items():
        np.testing.assert_array_equal(g, grads[k], err_msg=k)
    if isinstance(layer, rnnkit.Dropout):
        layer.set_rng(0)  # the first forward's mask again
    layer(x)
    second = layer.backward(dy)
    if first is not None:
        np.testing.assert_array_equal(second, first)
