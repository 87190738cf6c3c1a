"""Linear, Embedding, Dropout, activations, LastStep: finite differences, torch parity, errors."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import rnnkit
from training_helpers import assert_close, check_module_grads


# -- Linear ------------------------------------------------------------------------------------
@pytest.mark.parametrize("shape", [(4, 3), (2, 5, 3), (3,)], ids=["NF", "NTF", "F"])
@pytest.mark.parametrize("bias", [True, False])
def test_linear_gradients_match_finite_differences(shape, bias):
    lin = rnnkit.Linear(3, 2, bias=bias, dtype="float64", seed=0)
    x = np.random.default_rng(1).standard_normal(shape)
    check_module_grads(lin, lambda: lin(x), x)


@pytest.mark.parametrize("shape", [(4, 3), (2, 5, 3)])
def test_linear_matches_torch_forward_backward_and_init_scheme(shape):
    lin = rnnkit.Linear(3, 2, dtype="float64", seed=0)
    ref = torch.nn.Linear(3, 2).double()
    lin.load_state_dict({k: v.detach().numpy() for k, v in ref.state_dict().items()})
    assert list(lin.state_dict()) == list(ref.state_dict())
    x = np.random.default_rng(2).standard_normal(shape)
    dy = np.random.default_rng(3).standard_normal(shape[:-1] + (2,))
    xt = torch.tensor(x, requires_grad=True)
    yt = ref(xt)
    yt.backward(torch.tensor(dy))
    y = lin(x)
    dx = lin.backward(dy)
    assert_close("y", y, yt.detach().numpy(), 1e-12, 1e-12)
    assert_close("dx", dx, xt.grad.numpy(), 1e-12, 1e-12)
    assert_close("dweight", lin.grads["weight"], ref.weight.grad.numpy(), 1e-12, 1e-12)
    assert_close("dbias", lin.grads["bias"], ref.bias.grad.numpy(), 1e-12, 1e-12)
    # PyTorch's init bound 1/sqrt(in_features)
    big = rnnkit.Linear(100, 50, seed=0)
    assert np.abs(big.params["weight"]).max() <= 0.1 and np.abs(big.params["weight"]).max() > 0.09


def test_linear_grads_accumulate_and_float32_default():
    lin = rnnkit.Linear(3, 2, seed=0)
    assert lin.params["weight"].dtype == np.float32
    x = np.ones((2, 3), dtype=np.float32)
    lin(x)
    lin.backward(np.ones((2, 2)))
    once = lin.grads["weight"].copy()
    lin(x)
    lin.backward(np.ones((2, 2)))
    np.testing.assert_allclose(lin.grads["weight"], 2 * once)


def test_linear_bad_inputs():
    lin = rnnkit.Linear(3, 2, seed=0)
    with pytest.raises(ValueError, match="Expected x with 3 features"):
        lin(np.zeros((2, 4)))
    with pytest.raises(TypeError, match="floating-point"):
        lin(np.zeros((2, 3), dtype=int))
    with pytest.raises(ValueError, match="in_features"):
        rnnkit.Linear(0, 2)
    with pytest.raises(RuntimeError, match="before forward"):
        rnnkit.Linear(3, 2).backward(np.zeros((1, 2)))
    lin(np.zeros((2, 3)))
    with pytest.raises(ValueError, match="Expected 'dy' of shape"):
        lin.backward(np.zeros((2, 3)))


# -- Embedding ---------------------------------------------------------------------------------
def test_embedding_matches_torch_including_repeated_ids_and_padding_idx():
    for padding_idx in (None, 0):
        emb = rnnkit.Embedding(7, 4, padding_idx=padding_idx, dtype="float64", seed=0)
        ref = torch.nn.Embedding(7, 4, padding_idx=padding_idx).double()
        if padding_idx is not None:
            assert np.all(emb.params["weight"][padding_idx] == 0)
        emb.load_state_dict({"weight": ref.weight.detach().numpy()})
        ids = np.array([[1, 2, 2, 0], [6, 1, 0, 0]])
        dy = np.random.default_rng(0).standard_normal((2, 4, 4))
        out = ref(torch.tensor(ids))
        out.backward(torch.tensor(dy))
        y = emb(ids)
        assert emb.backward(dy) is None
        assert_close("y", y, out.detach().numpy(), 0, 0)
        assert_close("dweight", emb.grads["weight"], ref.weight.grad.numpy(), 1e-12, 1e-12)


def test_embedding_gradient_matches_finite_differences():
    emb = rnnkit.Embedding(5, 3, dtype="float64", seed=0)
    ids = np.array([[0, 4, 4], [2, 0, 1]])
    check_module_grads(emb, lambda: emb(ids))


def test_embedding_bad_inputs():
    emb = rnnkit.Embedding(5, 3, seed=0)
    with pytest.raises(ValueError, match=r"Expected token ids in 0..4"):
        emb(np.array([[0, 5]]))
    with pytest.raises(ValueError, match=r"Expected token ids in 0..4"):
        emb(np.array([-1]))
    with pytest.raises(TypeError, match="integer token ids"):
        emb(np.array([0.5]))
    with pytest.raises(ValueError, match="padding_idx"):
        rnnkit.Embedding(5, 3, padding_idx=5)


# -- Dropout -----------------------------------------------------------------------------------
def test_dropout_inverted_scaling_replayable_masks_and_eval_identity():
    x = np.ones((200, 50))
    d = rnnkit.Dropout(0.3, seed=0)
    y = d(x)
    kept = y != 0
    assert abs(kept.mean() - 0.7) < 0.02
    np.testing.assert_allclose(y[kept], 1 / 0.7)
    dx = d.backward(np.full_like(x, 2.0))
    np.testing.assert_array_equal(dx, 2.0 * y)  # same mask in backward
    d.set_rng(0)
    np.testing.assert_array_equal(d(x), y)
    d.eval()
    np.testing.assert_array_equal(d(x), x)
    np.testing.assert_array_equal(d.backward(x), x)
    with pytest.raises(ValueError, match=r"\[0, 1\)"):
        rnnkit.Dropout(1.0)


def test_dropout_gradient_matches_finite_differences_for_a_fixed_mask():
    d = rnnkit.Dropout(0.5, seed=0)
    x = np.random.default_rng(1).standard_normal((3, 4, 2))

    def forward():
        d.set_rng(5)
        return d(x)

    dx = check_module_grads(d, forward, x)
    assert np.count_nonzero(dx == 0) > 0


def test_dropout_matches_torch_given_the_same_mask():
    x = np.random.default_rng(0).standard_normal((6, 5))
    d = rnnkit.Dropout(0.4, seed=3)
    y = d(x)
    mask = (y != 0).astype(np.float64)
    ref = torch.tensor(x) * torch.tensor(mask) / 0.6  # what torch.nn.Dropout computes for that mask
    assert_close("y", y, ref.numpy(), 1e-15, 0)


# -- activations -------------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["Tanh", "ReLU", "Sigmoid"])
def test_activations_match_torch_and_finite_differences(name):
    layer = getattr(rnnkit, name)()
    x = np.random.default_rng(0).standard_normal((3, 4, 5))
    x[np.abs(x) < 1e-3] = 0.5  # keep ReLU away from its kink
    check_module_grads(layer, lambda: layer(x), x)
    xt = torch.tensor(x, requires_grad=True)
    yt = getattr(torch.nn, name)()(xt)
    dy = np.random.default_rng(1).standard_normal(x.shape)
    yt.backward(torch.tensor(dy))
    assert_close("y", layer(x), yt.detach().numpy(), 1e-14, 1e-15)
    assert_close("dx", layer.backward(dy), xt.grad.numpy(), 1e-14, 1e-15)


def test_sigmoid_is_stable_for_large_inputs():
    with np.errstate(all="raise"):
        y = rnnkit.Sigmoid()(np.array([-1e4, 0.0, 1e4]))
    np.testing.assert_array_equal(y, [0.0, 0.5, 1.0])


# -- LastStep ----------------------------------------------------------------------------------
def test_last_step_picks_last_valid_step_and_scatters_back():
    rng = np.random.default_rng(0)
    y = rng.standard_normal((3, 5, 4))
    ls = rnnkit.LastStep()
    out = ls(y, lengths=[5, 2, 1])
    np.testing.assert_array_equal(out, np.stack([y[0, 4], y[1, 1], y[2, 0]]))
    np.testing.assert_array_equal(rnnkit.LastStep()(y), y[:, -1])
    check_module_grads(ls, lambda: ls(y, lengths=[5, 2, 1]), y)


def test_last_step_bidirectional_equals_torch_h_n_of_packed_lstm():
    """Forward half at the last valid step, reverse half at step 0: the same as
    torch.cat([h_n[-2], h_n[-1]]) of a packed bidirectional LSTM."""
    rng = np.random.default_rng(0)
    lstm = rnnkit.LSTM(3, 4, bidirectional=True, dtype="float64", seed=0)
    ref = torch.nn.LSTM(3, 4, bidirectional=True, batch_first=True).double()
    lstm.load_state_dict({k: v.detach().numpy() for k, v in ref.state_dict().items()})
    model = rnnkit.Sequential([lstm, rnnkit.LastStep()])
    assert model.layers[1]._resolved is True
    x = rng.standard_normal((4, 6, 3))
    lengths = np.array([6, 3, 1, 4])
    out = model(x, lengths=lengths)
    packed = torch.nn.utils.rnn.pack_padded_sequence(torch.tensor(x), torch.tensor(lengths), batch_first=True,
                                                     enforce_sorted=False)
    _, (h_n, _) = ref(packed)
    assert_close("LastStep vs h_n", out, torch.cat([h_n[-2], h_n[-1]], dim=1).detach().numpy(), 1e-12, 1e-12)
    # gradient through both halves
    ls = model.layers[1]
    y = rng.standard_normal((4, 6, 8))
    check_module_grads(ls, lambda: ls(y, lengths=lengths), y)


def test_last_step_bad_inputs():
    with pytest.raises(ValueError, match=r"\(N, T, F\)"):
        rnnkit.LastStep()(np.zeros((3, 4)))
    with pytest.raises(ValueError, match="lengths"):
        rnnkit.LastStep()(np.zeros((2, 3, 4)), lengths=[4, 1])
    with pytest.raises(ValueError, match="even feature size"):
        rnnkit.LastStep(bidirectional=True)(np.zeros((2, 3, 5)))


# -- configs -------------------------------------------------------------------------------
@pytest.mark.parametrize("layer", [
    rnnkit.Linear(3, 2, bias=False, dtype="float64", seed=1), rnnkit.Embedding(9, 4, padding_idx=2, seed=3),
    rnnkit.Dropout(0.25, seed=4), rnnkit.Tanh(), rnnkit.ReLU(), rnnkit.Sigmoid(), rnnkit.LastStep(bidirectional=True),
], ids=lambda l: type(l).__name__)
def test_config_round_trip_rebuilds_the_same_layer(layer):
    rebuilt = type(layer)(**layer.get_config())
    assert rebuilt.get_config() == layer.get_config()
    for k, v in layer.params.items():
        np.testing.assert_array_equal(rebuilt.params[k], v, err_msg=f"seeded init of {k} differs")
