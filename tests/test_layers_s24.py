"""Layers, second review: LastStep(bidirectional=None) follows the nearest recurrent layer before
it also through nested Sequentials, and leaf_layers opens the nesting in running order."""

from __future__ import annotations

import numpy as np
import pytest

import rnnkit
from training_helpers import assert_close


def _bilstm():
    return rnnkit.LSTM(3, 4, bidirectional=True, seed=0, dtype="float64")


@pytest.mark.parametrize("where", ["recurrent nested", "last step nested", "both nested"])
def test_last_step_follows_a_bidirectional_layer_through_nested_sequentials(where):
    """Flat, LastStep picks the forward half at the last valid step and the reverse half at step
    0; it used to pick both halves at the last step when either sat in a nested Sequential."""
    rng = np.random.default_rng(0)
    x, lengths = rng.standard_normal((3, 6, 3)), np.array([6, 2, 4])
    flat = rnnkit.Sequential([_bilstm(), rnnkit.LastStep()])
    if where == "recurrent nested":
        model = rnnkit.Sequential([rnnkit.Sequential([_bilstm()]), rnnkit.LastStep()])
    elif where == "last step nested":
        model = rnnkit.Sequential([_bilstm(), rnnkit.Sequential([rnnkit.LastStep()])])
    else:
        model = rnnkit.Sequential([rnnkit.Sequential([_bilstm()]), rnnkit.Sequential([rnnkit.LastStep()])])
    expected = flat(x, lengths=lengths)
    y, _ = _bilstm()(x, lengths=lengths)
    assert_close("flat LastStep", expected[:, 4:], y[:, 0, 4:], 0, 0)
    assert_close("nested LastStep", model(x, lengths=lengths), expected, 0, 0)
    dout = rng.standard_normal(expected.shape)
    flat.backward(dout)
    model.backward(dout)
    for (k, g), g_flat in zip(model.grads.items(), flat.grads.values()):
        assert_close(f"grad {k}", g, g_flat, 1e-12, 1e-14)


def test_last_step_given_explicitly_is_not_overridden_by_nesting():
    model = rnnkit.Sequential([rnnkit.Sequential([_bilstm()]), rnnkit.LastStep(bidirectional=False)])
    x = np.random.default_rng(1).standard_normal((2, 5, 3))
    y, _ = _bilstm()(x)
    assert_close("LastStep(bidirectional=False)", model(x), y[:, -1], 0, 0)


def test_leaf_layers_opens_nested_sequentials_in_running_order():
    from rnnkit.layers.sequential import leaf_layers

    a, b, c, d = rnnkit.GRU(2, 3, seed=0), rnnkit.Tanh(), rnnkit.LastStep(), rnnkit.Linear(3, 1, seed=0)
    model = rnnkit.Sequential([rnnkit.Sequential([a, rnnkit.Sequential([b])]), c, rnnkit.Sequential([d])])
    assert [id(layer) for layer in leaf_layers(model.layers)] == [id(a), id(b), id(c), id(d)]
    assert len(model.recurrent_layers) == 0  # states / last_states: this level's recurrent layers only


@pytest.mark.parametrize("call", ["predict", "evaluate"])
def test_predict_and_evaluate_restore_each_layers_own_mode(call):
    """A Dropout the user switched off inside a training model stays off after predict/evaluate
    (they used to switch every layer back to the model's mode, dropout on again)."""
    model = rnnkit.Sequential([rnnkit.GRU(2, 3, seed=0), rnnkit.Dropout(0.5, seed=0),
                               rnnkit.Sequential([rnnkit.Dropout(0.5, seed=1)]), rnnkit.Linear(3, 1, seed=0)])
    model[1].eval()
    model[2][0].eval()
    x = np.random.default_rng(0).standard_normal((4, 5, 2))
    expected = model(x)  # both dropouts off: the same output as evaluation mode
    getattr(model, call)(*((x,) if call == "predict" else (x, np.zeros((4, 5, 1)))))
    assert [model.training, model[0].training, model[1].training, model[2].training, model[2][0].training,
            model[3].training] == [True, True, False, True, False, True]
    np.testing.assert_array_equal(model(x), expected)


def test_modules_walks_nested_sequentials_depth_first():
    """Module.modules(), as torch's: the module, then its layers in order, nested containers opened
    in place; what evaluating(), the saved training modes and leaf_layers all walk"""
    from rnnkit.layers.sequential import leaf_layers

    inner = rnnkit.Sequential([rnnkit.LSTM(2, 3), rnnkit.Dropout(0.1)])
    outer = rnnkit.Sequential([inner, rnnkit.LastStep(), rnnkit.Linear(3, 1)])
    names = [type(m).__name__ for m in outer.modules()]
    assert names == ["Sequential", "Sequential", "LSTM", "Dropout", "LastStep", "Linear"]
    assert [type(m).__name__ for m in rnnkit.Linear(3, 1).modules()] == ["Linear"]
    assert [type(m).__name__ for m in leaf_layers(outer.layers)] == ["LSTM", "Dropout", "LastStep", "Linear"]
