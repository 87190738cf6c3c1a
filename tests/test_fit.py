"""fit: learning thresholds, seeded reproducibility, history and diagnostics, masking, early
stopping, exact resume from checkpoints (also after Ctrl-C), non-finite losses, progress bar."""

from __future__ import annotations

import os
import signal

import numpy as np
import pytest

import rnnkit
from rnnkit.errors import NonFiniteError
from training_helpers import adding_problem, variable_length_task


def _small_model(seed=0, dtype="float32", dropout=0.0):
    layers = [rnnkit.GRU(3, 8, seed=seed, dtype=dtype), rnnkit.LastStep(), rnnkit.Linear(8, 2, seed=seed, dtype=dtype)]
    if dropout:
        layers.insert(2, rnnkit.Dropout(dropout, seed=seed))
    return rnnkit.Sequential(layers)


def _data(n=40, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, 6, 3)).astype(np.float32)
    y = np.stack([X[:, :, 0].mean(1), X[:, -1, 1]], axis=1)
    return X, y


# -- learning ----------------------------------------------------------------------------------
def test_lstm_solves_the_adding_problem():
    rng = np.random.default_rng(2)
    X, y = adding_problem(1000, 50, rng)
    X_test, y_test = adding_problem(500, 50, rng)
    baseline = float(np.mean((y_test - 1.0) ** 2))
    assert 0.14 < baseline < 0.19, "always predicting 1 gives about 1/6"
    model = rnnkit.Sequential([rnnkit.LSTM(2, 16, init="keras", seed=2), rnnkit.LastStep(), rnnkit.Linear(16, 1, seed=2)])
    # (the loss leaves its plateau near 0.17 after about 10 epochs with these seeds)
    model.fit(X, y, loss="mse", optimizer=rnnkit.optim.Adam(model, lr=0.01), epochs=30, batch_size=32,
              clip_norm=1.0, seed=2, progress=False)
    mse = model.evaluate(X_test, y_test, loss="mse")["loss"]
    assert mse < 0.05, f"test MSE {mse:.4f} should be well below the baseline {baseline:.3f}"


def test_gru_classifier_fits_a_variable_length_task():
    rng = np.random.default_rng(0)
    X, y = variable_length_task(600, rng)
    X_test, y_test = variable_length_task(300, rng)
    assert len({len(x) for x in X}) > 5
    model = rnnkit.Sequential([rnnkit.GRU(3, 16, seed=0), rnnkit.LastStep(), rnnkit.Linear(16, 3, seed=0)])
    hist = model.fit(X, y, loss="cross_entropy", optimizer=rnnkit.optim.Adam(model, lr=0.01), epochs=10,
                     metrics=["accuracy"], validation_split=0.2, seed=0, progress=False)
    assert hist["val_accuracy"][-1] > 0.85
    result = model.evaluate(X_test, y_test, loss="cross_entropy", metrics=["accuracy"])
    assert result["accuracy"] > 0.85, result
    pred = model.predict(X_test)
    assert pred.shape == (300, 3)
    assert np.mean(pred.argmax(1) == y_test) == pytest.approx(result["accuracy"])


# -- reproducibility, history, masking ------------------------------------------------------------
def test_fit_is_reproducible_given_seeds_and_shuffles_by_seed():
    X, y = _data()

    def run(seed, shuffle=True):
        model = _small_model(dropout=0.2)
        model.fit(X, y, epochs=2, batch_size=8, seed=seed, shuffle=shuffle, progress=False)
        return model.state_dict()

    a, b, c = run(1), run(1), run(2)
    assert all(np.array_equal(a[k], b[k]) for k in a), "same seeds must give the same weights"
    assert not all(np.array_equal(a[k], c[k]) for k in a), "another shuffling seed must change the result"


def test_history_records_losses_metrics_lr_and_gradient_diagnostics():
    X, y = _data(16)
    X_val, y_val = _data(8, seed=1)
    model = _small_model(dtype="float64")
    start = model.state_dict()
    hist = model.fit(X, y, epochs=3, batch_size=16, metrics=["mae", "mse"], validation_data=(X_val, y_val),
                     optimizer=rnnkit.optim.SGD(model, lr=0.1), progress=False)
    assert hist.epoch == [1, 2, 3] and hist.stop_reason == "completed"
    for key in ("loss", "mae", "mse", "val_loss", "val_mae", "val_mse", "lr", "grad_norm", "grad_norm_max",
                "hidden_grad_norms", "time"):
        assert len(hist[key]) == 3, key
    assert hist["mse"][0] == pytest.approx(hist["loss"][0], rel=1e-12), "MSE metric equals the MSE loss"
    assert hist["lr"] == [0.1, 0.1, 0.1]
    # one batch per epoch: the first epoch's diagnostics are those of one hand-made backward
    check = _small_model(dtype="float64")
    check.load_state_dict(start)
    out = check(X)
    _, grad = rnnkit.losses.mse(out, y)
    check.backward(grad)
    assert hist["grad_norm"][0] == pytest.approx(rnnkit.optim.global_norm(check), rel=1e-10)
    np.testing.assert_allclose(hist["hidden_grad_norms"][0], check.layers[0].hidden_grad_norms[0], rtol=1e-10)
    assert hist["hidden_grad_norms"][0].shape == (1, 6)
    assert hist["val_loss"][-1] == pytest.approx(model.evaluate(X_val, y_val)["loss"], rel=1e-12)



@pytest.mark.parametrize("clip", [dict(clip_norm=0.05), dict(clip_value=0.01, clip_norm=0.05)])
def test_clipping_by_value_then_by_the_norm_of_the_clipped_gradients(clip):
    X, y = _data(16)
    model = _small_model(dtype="float64")
    check = _small_model(dtype="float64")
    check.load_state_dict(model.state_dict())
    hist = model.fit(X, y, epochs=1, batch_size=16, optimizer=rnnkit.optim.SGD(model, lr=0.5), progress=False,
                     **clip)
    _, grad = rnnkit.losses.mse(check(X), y)
    check.backward(grad)
    assert hist["grad_norm"][0] == pytest.approx(rnnkit.optim.global_norm(check), rel=1e-10), "before clipping"
    if "clip_value" in clip:
        rnnkit.optim.clip_grad_value(check, clip["clip_value"])
    rnnkit.optim.clip_grad_norm(check, clip["clip_norm"])  # the norm of the value-clipped gradients
    rnnkit.optim.SGD(check, lr=0.5).step()
    for k, v in model.state_dict().items():
        np.testing.assert_allclose(v, check.state_dict()[k], rtol=1e-12, atol=1e-15, err_msg=k)

def test_padded_steps_do_not_influence_per_step_training():
    rng = np.random.default_rng(0)
    lengths = rng.integers(2, 9, 12)
    X = rng.standard_normal((12, 8, 3)).astype(np.float32)
    y = rng.integers(0, 4, (12, 8))

    def run(targets, X):
        model = rnnkit.Sequential([rnnkit.LSTM(3, 5, seed=0), rnnkit.Linear(5, 4, seed=0)])
        h = model.fit(X, targets, None if isinstance(X, list) else lengths, loss="cross_entropy", metrics=["accuracy"], epochs=2, batch_size=4,
                      seed=0, progress=False)
        return model.state_dict(), h

    pad = np.arange(8)[None, :] >= lengths[:, None]
    y2, X2 = y.copy(), X.copy()
    y2[pad] = 3 - y2[pad]
    X2[pad] = 100.0
    (a, ha), (b, hb) = run(y, X), run(y2, X2)
    for k in a:
        np.testing.assert_array_equal(a[k], b[k], err_msg=f"padding changed {k}")
    assert ha["accuracy"] == hb["accuracy"]
    # the same data as a list of sequences with per-step target lists
    seqs = [X[n, :lengths[n]] for n in range(12)]
    targets = [y[n, :lengths[n]] for n in range(12)]
    c, _ = run(targets, seqs)
    for k in a:
        np.testing.assert_allclose(c[k], a[k], rtol=1e-5, atol=1e-6, err_msg=f"list input differs in {k}")


def test_embedding_per_step_tagger_with_binary_targets():
    rng = np.random.default_rng(0)
    ids = rng.integers(1, 10, (64, 12))
    y = (ids >= 5).astype(np.float32)[..., None]  # tag each token
    model = rnnkit.Sequential([rnnkit.Embedding(10, 6, seed=0), rnnkit.GRU(6, 8, seed=0), rnnkit.Linear(8, 1, seed=0)])
    hist = model.fit(ids, y, loss="bce_with_logits", optimizer=rnnkit.optim.Adam(model, lr=0.03), epochs=15,
                     batch_size=16, metrics=["accuracy"], seed=0, progress=False)
    assert hist["accuracy"][-1] > 0.95


# -- early stopping, checkpoints, Ctrl-C -----------------------------------------------------------
def test_early_stopping_restores_the_best_weights():
    X, y = _data(48)
    model = _small_model(dtype="float64")
    opt = rnnkit.optim.Adam(model, lr=0.01)
    blow_up = rnnkit.optim.StepLR(opt, step_size=3, gamma=300.0)  # from epoch 4 on the rate is far too high
    hist = model.fit(X, y, optimizer=opt, scheduler=blow_up, epochs=20, batch_size=16, validation_split=0.25,
                     patience=2, seed=0, progress=False)
    assert hist.stop_reason == "early_stopping" and len(hist.epoch) < 20
    best = int(np.argmin(hist["val_loss"]))
    assert hist.best_epoch == best + 1
    assert max(hist["val_loss"][best + 1:]) > hist["val_loss"][best]
    X_val, y_val = X[36:], y[36:]
    assert model.evaluate(X_val, y_val, batch_size=16)["loss"] == pytest.approx(hist["val_loss"][best], rel=1e-12)


def _resumable_setup(seed):
    model = _small_model(seed=seed, dropout=0.25)
    opt = rnnkit.optim.Adam(model, lr=0.02)
    sched = rnnkit.optim.StepLR(opt, step_size=1, gamma=0.7)
    return model, opt, sched


FIT_KW = dict(epochs=4, batch_size=8, validation_split=0.2, metrics=["mae"], patience=10, clip_norm=0.5, seed=3,
              progress=False)


def _assert_same_run(model_a, opt_a, hist_a, model_b, opt_b, hist_b):
    for k, v in model_a.state_dict().items():
        np.testing.assert_array_equal(model_b.params[k], v, err_msg=f"weights {k}")
    for name, slots in opt_a.state.items():
        for slot, v in slots.items():
            np.testing.assert_array_equal(opt_b.state[name][slot], v, err_msg=f"optimizer {name}/{slot}")
    assert opt_b.lr == opt_a.lr and opt_b.steps == opt_a.steps
    for key in ("loss", "val_loss", "mae", "lr", "grad_norm"):
        assert hist_b[key] == hist_a[key], key
    assert hist_b.epoch == hist_a.epoch and hist_b.best_epoch == hist_a.best_epoch


def test_resume_from_checkpoint_equals_an_uninterrupted_run(tmp_path):
    X, y = _data(40)
    model_a, opt_a, sched_a = _resumable_setup(0)
    hist_a = model_a.fit(X, y, optimizer=opt_a, scheduler=sched_a, checkpoint=tmp_path / "a.ckpt", **FIT_KW)
    model_b, opt_b, sched_b = _resumable_setup(0)
    model_b.fit(X, y, optimizer=opt_b, scheduler=sched_b, checkpoint=tmp_path / "b.ckpt", **{**FIT_KW, "epochs": 2})
    # a fresh process: new objects (other initial weights), the same code
    model_c, opt_c, sched_c = _resumable_setup(99)
    hist_c = model_c.fit(X, y, optimizer=opt_c, scheduler=sched_c, checkpoint=tmp_path / "b.ckpt", resume=True, **FIT_KW)
    _assert_same_run(model_a, opt_a, hist_a, model_c, opt_c, hist_c)
    loaded = rnnkit.load(tmp_path / "b.ckpt")  # a checkpoint is also a model file
    for k, v in model_c.state_dict().items():
        np.testing.assert_array_equal(loaded.params[k], v)


class _InterruptingLoss(rnnkit.losses.MSELoss):
    """MSE that sends the process a SIGINT (Ctrl-C) during its ``at``-th call."""

    def __init__(self, at=None):
        super().__init__()
        self.calls, self.at = 0, at

    def __call__(self, pred, target, mask=None):
        self.calls += 1
        if self.calls == self.at:
            os.kill(os.getpid(), signal.SIGINT)
        return super().__call__(pred, target, mask)


def test_ctrl_c_stops_after_the_batch_and_resumes_exactly(tmp_path, capsys):
    X, y = _data(40)
    model_a, opt_a, sched_a = _resumable_setup(0)
    hist_a = model_a.fit(X, y, loss=_InterruptingLoss(), optimizer=opt_a, scheduler=sched_a, **FIT_KW)
    model_b, opt_b, sched_b = _resumable_setup(0)
    ckpt = tmp_path / "run.ckpt"
    hist_b = model_b.fit(X, y, loss=_InterruptingLoss(at=6), optimizer=opt_b, scheduler=sched_b, checkpoint=ckpt,
                         **FIT_KW)  # 4 batches per epoch (+ 1 validation call): the 6th call is epoch 2, batch 1
    assert hist_b.stop_reason == "interrupted" and hist_b.epoch == [1]
    assert opt_b.steps == 5, "the batch in progress is finished, then training stops"
    assert "stopping after the current batch" in capsys.readouterr().err
    assert all(np.all(np.isfinite(p)) for p in model_b.params.values())
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler, "the Ctrl-C handler must be restored"
    model_c, opt_c, sched_c = _resumable_setup(5)
    hist_c = model_c.fit(X, y, loss=_InterruptingLoss(), optimizer=opt_c, scheduler=sched_c, checkpoint=ckpt,
                         resume=True, **FIT_KW)
    _assert_same_run(model_a, opt_a, hist_a, model_c, opt_c, hist_c)


def test_resume_refuses_a_checkpoint_of_another_model(tmp_path):
    X, y = _data(16)
    model, opt, sched = _resumable_setup(0)
    model.fit(X, y, optimizer=opt, scheduler=sched, checkpoint=tmp_path / "c.ckpt", **{**FIT_KW, "epochs": 1})
    other = rnnkit.Sequential([rnnkit.LSTM(3, 8, seed=0), rnnkit.LastStep(), rnnkit.Linear(8, 2, seed=0)])
    with pytest.raises(rnnkit.LoadError, match="different model"):
        other.fit(X, y, checkpoint=tmp_path / "c.ckpt", resume=True, progress=False)
    plain = tmp_path / "plain.safetensors"
    model.save(plain)
    with pytest.raises(rnnkit.LoadError, match="not a training checkpoint"):
        _resumable_setup(0)[0].fit(X, y, resume=plain, progress=False)


# -- non-finite values -----------------------------------------------------------------------------
class _PoisonedLoss(rnnkit.losses.MSELoss):
    """MSE whose ``at``-th call returns a NaN value (or an infinite gradient)."""

    def __init__(self, model, at, where="value"):
        super().__init__()
        self.model, self.at, self.where, self.calls, self.seen = model, at, where, 0, None

    def __call__(self, pred, target, mask=None):
        self.calls += 1
        value, grad = super().__call__(pred, target, mask)
        if self.calls == self.at:
            self.seen = self.model.state_dict()  # the weights this batch starts from
            if self.where == "value":
                value = float("nan")
            else:
                grad = grad.copy()
                grad[0, 0] = np.inf
        return value, grad


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
@pytest.mark.parametrize("where", ["value", "gradient"])
def test_non_finite_loss_or_gradient_stops_with_epoch_and_batch(where):
    X, y = _data(40)
    model = _small_model()
    loss = _PoisonedLoss(model, at=7, where=where)  # 5 batches per epoch: epoch 2, batch 2
    with pytest.raises(NonFiniteError, match=r"epoch 2, batch 2 of 5") as info:
        model.fit(X, y, loss=loss, epochs=3, batch_size=8, seed=0, progress=False)
    assert (info.value.epoch, info.value.batch) == (2, 2)
    assert info.value.what == ("loss" if where == "value" else "gradient")
    assert isinstance(info.value, ValueError) and isinstance(info.value, FloatingPointError)
    for k, v in loss.seen.items():
        np.testing.assert_array_equal(model.params[k], v, err_msg=f"{k} is not the last finite weight")


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
def test_exploding_recurrence_is_reported_not_silently_trained_on():
    X, y = np.ones((16, 40, 3), dtype=np.float32), np.ones((16, 2))
    model = rnnkit.Sequential([rnnkit.RNN(3, 8, nonlinearity="relu", seed=0), rnnkit.LastStep(), rnnkit.Linear(8, 2, seed=0)])
    model.params["0.weight_hh_l0"][...] = 10 * np.abs(model.params["0.weight_hh_l0"])  # spectral radius >> 1
    before = model.state_dict()
    with pytest.raises(NonFiniteError, match="epoch 1, batch 1"):
        model.fit(X, y, epochs=1, progress=False)
    for k, v in before.items():
        np.testing.assert_array_equal(model.params[k], v)


# -- progress bar, errors ----------------------------------------------------------------------------
def test_progress_bar_uses_tqdm_falls_back_to_text_and_can_be_switched_off(capsys, monkeypatch):
    X, y = _data(16)
    _small_model().fit(X, y, epochs=2, batch_size=8, progress=False)
    assert capsys.readouterr().err == ""
    _small_model().fit(X, y, epochs=2, batch_size=8, progress=True)
    err = capsys.readouterr().err
    assert "Epoch 2/2" in err and "2/2" in err
    monkeypatch.setitem(__import__("sys").modules, "tqdm.auto", None)  # as if tqdm were not installed
    _small_model().fit(X, y, epochs=2, batch_size=8, progress=True)
    err = capsys.readouterr().err
    assert "Epoch 1/2  2/2  loss" in err and "Epoch 2/2" in err


def test_fit_validates_its_arguments():
    X, y = _data(8)
    model = _small_model()
    cases = [
        (dict(epochs=0), ValueError, "'epochs' parameter of fit"),
        (dict(batchsize=4), TypeError, r"unexpected keyword arguments \['batchsize'\]"),
        (dict(validation_split=1.0), ValueError, "validation_split"),
        (dict(patience=1, monitor="val_accuracy"), ValueError, r"Expected 'monitor' to be one of \['loss'\]"),
        (dict(resume=True), ValueError, "checkpoint"),
        (dict(metrics=["f1"]), rnnkit.ConfigError, "Unknown metrics"),
        (dict(loss="hinge"), rnnkit.ConfigError, "Unknown loss"),
        (dict(clip_norm=0), ValueError, "clip_norm"),
        (dict(optimizer=rnnkit.optim.SGD(_small_model(), lr=0.1)), ValueError, "another module"),
        (dict(scheduler=rnnkit.optim.StepLR(rnnkit.optim.SGD(model, lr=0.1), 2)), ValueError, "another optimizer"),
    ]
    for kwargs, exc, pattern in cases:
        with pytest.raises(exc, match=pattern):
            model.fit(X, y, progress=False, **kwargs)
    bad = X.copy()
    bad[2, 3, 1] = np.nan
    with pytest.raises(ValueError, match=r"finite values in 'X'.*\(2, 3, 1\)"):
        model.fit(bad, y, progress=False)
    with pytest.raises(ValueError, match="one target per sample"):
        model.fit(X, y[:5], progress=False)
    with pytest.raises(ValueError, match="carries its own lengths"):
        model.fit(list(X), y, lengths=[6] * 8, progress=False)
    with pytest.raises(TypeError, match="Sequential"):
        rnnkit.training.Trainer(rnnkit.LSTM(3, 4))
