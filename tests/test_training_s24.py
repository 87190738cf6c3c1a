"""Training, second review: nested Sequentials in fit, evaluate and truncated BPTT (state carried,
bidirectional refused, per-sequence targets recognised), and the argument checks of predict /
evaluate (batch_size) and fit (min_delta, clip_norm, clip_value)."""

from __future__ import annotations

import numpy as np
import pytest

import rnnkit
from rnnkit.training import tbptt_batch
from rnnkit.training.options import FitOptions
from training_helpers import assert_close


def _per_step(nested, kind="LSTM"):
    """A per-step model (N, T, 2) -> (N, T, 1), its recurrent layer nested in a Sequential or not."""
    rec = getattr(rnnkit, kind)(2, 4, num_layers=2, seed=0, dtype="float64")
    return rnnkit.Sequential([rnnkit.Sequential([rec]) if nested else rec,
                              rnnkit.Linear(4, 1, seed=1, dtype="float64")])


@pytest.mark.parametrize("kind", ["LSTM", "GRU", "RNN"])
@pytest.mark.parametrize("k1,k2", [(2, 2), (3, 5), (4, 2)])
def test_tbptt_carries_the_state_of_a_recurrent_layer_inside_a_nested_sequential(kind, k1, k2):
    """The nested model is the same function as the flat one, so TBPTT must give the same loss and
    gradients; it used to restart the nested layer from zeros at every chunk."""
    rng = np.random.default_rng(0)
    x, y = rng.standard_normal((3, 9, 2)), rng.standard_normal((3, 9, 1))
    lengths = np.array([9, 4, 7])
    results = []
    for nested in (False, True):
        model = _per_step(nested, kind)
        model.zero_grad()
        res = tbptt_batch(model, rnnkit.losses.MSELoss(), x, y, lengths, k1, k2, True)
        results.append((res.loss, res.pred, list(model.grads.values())))
    (loss_f, pred_f, grads_f), (loss_n, pred_n, grads_n) = results
    assert loss_n == pytest.approx(loss_f, rel=1e-12)
    assert_close("TBPTT predictions", pred_n, pred_f, 1e-12, 1e-14)
    names = list(_per_step(False, kind).params)
    for name, g_n, g_f in zip(names, grads_n, grads_f):
        assert_close(f"TBPTT({k1}, {k2}) grad {name}", g_n, g_f, 1e-12, 1e-14)


def test_fit_with_tbptt_trains_a_nested_model_as_the_flat_one():
    rng = np.random.default_rng(1)
    x, y = rng.standard_normal((8, 12, 2)), rng.standard_normal((8, 12, 1))
    runs = []
    for nested in (False, True):
        model = _per_step(nested)
        h = model.fit(x, y, optimizer=rnnkit.optim.SGD(model, lr=0.1), epochs=2, batch_size=4, tbptt=(3, 3),
                      seed=0, progress=False)
        runs.append((h["loss"], h["hidden_grad_norms"][-1], list(model.params.values())))
    assert runs[1][0] == pytest.approx(runs[0][0], rel=1e-12)
    assert_close("hidden_grad_norms", runs[1][1], runs[0][1], 1e-10, 1e-14)
    for a, b in zip(runs[1][2], runs[0][2]):
        assert_close("trained weights", a, b, 1e-12, 1e-14)


def test_tbptt_refuses_a_bidirectional_layer_inside_a_nested_sequential():
    model = rnnkit.Sequential([rnnkit.Sequential([rnnkit.GRU(2, 3, bidirectional=True, seed=0)]),
                               rnnkit.Linear(6, 1, seed=0)])
    x, y = np.zeros((2, 6, 2)), np.zeros((2, 6, 1))
    with pytest.raises(ValueError, match="bidirectional layer at index 0"):
        model.fit(x, y, tbptt=(2, 2), progress=False)


def _classifier(nested):
    lstm, last, head = rnnkit.LSTM(2, 5, seed=0, dtype="float64"), rnnkit.LastStep(), \
        rnnkit.Linear(5, 3, seed=1, dtype="float64")
    layers = [rnnkit.Sequential([lstm, last]), head] if nested else [lstm, last, head]
    return rnnkit.Sequential(layers)


def test_a_last_step_inside_a_nested_sequential_means_per_sequence_targets():
    """fit and evaluate used to take the nested model's targets as per step and fail with an
    IndexError (y[:, :t] on class ids) for variable-length sequences."""
    rng = np.random.default_rng(2)
    X = [rng.standard_normal((n, 2)) for n in (3, 7, 5, 2, 6, 4)]
    y = np.array([0, 1, 2, 1, 0, 2])
    out = []
    for nested in (False, True):
        model = _classifier(nested)
        before = model.evaluate(X, y, loss="cross_entropy", metrics=["accuracy"], batch_size=4)
        h = model.fit(X, y, loss="cross_entropy", optimizer=rnnkit.optim.SGD(model, lr=0.5), epochs=2,
                      batch_size=4, metrics=["accuracy"], seed=0, progress=False)
        out.append((before, h["loss"], h["accuracy"], model.predict(X)))
    assert out[1][0] == pytest.approx(out[0][0], rel=1e-12)
    assert out[1][1] == pytest.approx(out[0][1], rel=1e-12)
    assert out[1][2] == out[0][2]
    assert_close("predictions after training", out[1][3], out[0][3], 1e-12, 1e-14)


def test_history_reports_hidden_grad_norms_of_a_nested_recurrent_layer():
    rng = np.random.default_rng(3)
    x, y = rng.standard_normal((4, 5, 2)), rng.standard_normal((4, 5, 1))
    flat, nested = _per_step(False), _per_step(True)
    h_flat = flat.fit(x, y, progress=False, seed=0)
    h_nested = nested.fit(x, y, progress=False, seed=0)
    assert "hidden_grad_norms" in h_nested
    assert_close("hidden_grad_norms", h_nested["hidden_grad_norms"][0], h_flat["hidden_grad_norms"][0], 1e-12, 1e-14)


@pytest.mark.parametrize("batch_size", [0, -1, 2.5, True])
@pytest.mark.parametrize("call", ["predict", "evaluate"])
def test_predict_and_evaluate_refuse_a_bad_batch_size(call, batch_size):
    model = _classifier(False)
    X, y = np.zeros((3, 4, 2)), np.array([0, 1, 2])
    args = (X,) if call == "predict" else (X, y)
    with pytest.raises(ValueError, match=rf"The 'batch_size' parameter of {call} must be an int >= 1\. "
                                         rf"Got {batch_size!r}"):
        getattr(model, call)(*args, batch_size=batch_size)


@pytest.mark.parametrize("option,value", [("min_delta", float("nan")), ("min_delta", float("inf")),
                                          ("min_delta", True), ("clip_norm", float("inf")),
                                          ("clip_value", float("inf"))])
def test_fit_refuses_non_finite_or_bool_min_delta_and_clipping_before_training(option, value):
    """A NaN min_delta made every epoch a non-improvement (early stopping after `patience` epochs
    with the first epoch's weights); an infinite clip_norm failed only at the first update, naming
    clip_grad_norm's 'max_norm' instead of fit's option."""
    model = _classifier(False)
    before = model.state_dict()
    with pytest.raises(ValueError, match=rf"The '{option}' parameter of fit must be a finite float"):
        model.fit(np.zeros((3, 4, 2)), np.array([0, 1, 2]), loss="cross_entropy", patience=2,
                  progress=False, **{option: value})
    for k, v in model.state_dict().items():
        np.testing.assert_array_equal(v, before[k], err_msg=f"{k} changed by a refused fit")


def test_finite_float_options_share_one_check_and_one_error_type():
    """min_delta, clip_norm, clip_value (fit), min_strength (guess_seasonal_period) and dpi
    (save_figure) go through rnnkit._checks.check_finite_float: a wrong type is a
    ParameterTypeError (a TypeError and a ValueError) in each, as for every other parameter"""
    from rnnkit._checks import ParameterTypeError, check_finite_float
    from rnnkit.metrics import guess_seasonal_period

    with pytest.raises(ParameterTypeError, match=r"'min_delta' parameter of fit must be a finite float >= 0\. "
                                                 r"Got 'x' \(a str\)"):
        FitOptions(min_delta="x")
    with pytest.raises(ParameterTypeError, match=r"'min_strength' .* finite float >= 0 \(0\.2 by default"):
        guess_seasonal_period(np.sin(np.arange(40.0)), min_strength="x")
    for bad in (float("nan"), float("inf"), -1.0, 10 ** 400):
        with pytest.raises(ValueError, match="must be a finite float > 0 or None"):
            FitOptions(clip_norm=bad)
    assert check_finite_float(3, "x", "f", low_open=True) == 3.0
