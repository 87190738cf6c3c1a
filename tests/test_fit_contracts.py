"""fit's contracts at the edges: custom loss callables, resuming a finished run, the patience
count, accuracy for one-hot targets, rejected updates, and the epoch loss of a "sum" loss."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pytest

import rnnkit
from rnnkit.errors import NonFiniteError
from rnnkit.io import read_safetensors
from rnnkit.training.metrics import accuracy


def _model(out=2, seed=0, dtype="float32"):
    return rnnkit.Sequential([rnnkit.GRU(3, 6, seed=seed, dtype=dtype), rnnkit.LastStep(),
                              rnnkit.Linear(6, out, seed=seed, dtype=dtype)])


def _data(n=24, seed=0, out=2):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, 5, 3)).astype(np.float32)
    return X, X[:, :, :out].mean(1)


# -- custom losses -------------------------------------------------------------------------------
def _numpy_mse(pred, target, mask):
    d = pred - target
    return np.mean(d * d), 2 * d / d.size  # the value is an np.float32 for a float32 model


def test_custom_loss_returning_a_numpy_scalar_gives_float_history_and_checkpoints(tmp_path):
    X, y = _data()
    ckpt = tmp_path / "run.ckpt"
    hist = _model().fit(X, y, loss=_numpy_mse, epochs=2, batch_size=8, validation_split=0.25, seed=0,
                        checkpoint=ckpt, progress=False)
    for key in ("loss", "val_loss"):
        assert all(type(v) is float for v in hist[key]), f"{key}: {[type(v) for v in hist[key]]}"
    ref = _model().fit(X, y, loss="mse", epochs=2, batch_size=8, validation_split=0.25, seed=0, progress=False)
    np.testing.assert_allclose(hist["loss"], ref["loss"], rtol=1e-5)
    saved = json.loads(read_safetensors(ckpt)[1]["trainer"])["history"]["history"]
    assert saved["loss"] == hist["loss"]
    assert type(_model().evaluate(X, y, loss=_numpy_mse)["loss"]) is float


@pytest.mark.parametrize("result, what", [
    (lambda p, t: 0.5, "got float instead of a pair"),
    (lambda p, t: (np.array([0.5, 0.5]), 2 * (p - t) / p.size), r"value a real scalar.*shape \(2,\)"),
    (lambda p, t: ("0.5", 2 * (p - t) / p.size), "value a real scalar.*str"),
    (lambda p, t: (0.5, (2 * (p - t) / p.size)[:, :1]), r"pred's shape \(8, 2\), got an array of shape \(8, 1\)"),
    (lambda p, t: (0.5, (2 * (p - t) / p.size).tolist()), "float NumPy array.*got list"),
    (lambda p, t: (0.5, np.zeros(p.shape, dtype=int)), "dtype int64"),
], ids=["no-pair", "vector-value", "str-value", "grad-shape", "grad-list", "int-grad"])
def test_a_loss_breaking_its_contract_is_refused_naming_the_contract(result, what):
    X, y = _data(8)

    def bad_loss(pred, target, mask):
        return result(pred, target)

    pattern = r"bad_loss to follow the contract \(pred, target, mask\) -> \(value, grad\)"
    with pytest.raises(TypeError, match=pattern) as info:
        _model().fit(X, y, loss=bad_loss, batch_size=8, progress=False)
    assert info.match(what)


# -- resuming a run that had stopped, and the patience count ---------------------------------------
def _setup(seed):
    model = _model(seed=seed, dtype="float64")
    opt = rnnkit.optim.Adam(model, lr=0.01)
    return model, opt, rnnkit.optim.StepLR(opt, step_size=3, gamma=300.0)  # too high a rate from epoch 4


@pytest.mark.parametrize("kw", [dict(epochs=20, patience=2), dict(epochs=3)], ids=["early-stopped", "completed"])
def test_resuming_a_finished_run_trains_no_more_epochs(tmp_path, kw):
    X, y = _data(48)
    kw = dict(kw, batch_size=16, validation_split=0.25, seed=0, checkpoint=tmp_path / "run.ckpt", progress=False)
    model_a, opt_a, sched_a = _setup(0)
    hist_a = model_a.fit(X, y, optimizer=opt_a, scheduler=sched_a, **kw)
    assert hist_a.stop_reason == ("early_stopping" if "patience" in kw else "completed")
    model_b, opt_b, sched_b = _setup(99)  # "a new process": other initial weights
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        hist_b = model_b.fit(X, y, optimizer=opt_b, scheduler=sched_b, resume=True, **kw)
    said = [str(w.message) for w in caught if issubclass(w.category, UserWarning)]
    if "patience" in kw:   # silence would hide that a larger epochs or patience changes nothing
        assert len(said) == 1 and "stopped early after epoch" in said[0] and "no epoch is trained" in said[0]
        assert [w.filename for w in caught] == [__file__], "the warning points at the caller's line"
    else:
        assert said == []
    for k, v in model_a.state_dict().items():
        np.testing.assert_array_equal(model_b.params[k], v, err_msg=f"weights {k}")
    assert opt_b.steps == opt_a.steps and opt_b.lr == opt_a.lr
    assert hist_b.epoch == hist_a.epoch and hist_b.stop_reason == hist_a.stop_reason
    assert hist_b.best_epoch == hist_a.best_epoch
    for key in ("loss", "val_loss", "lr"):
        assert hist_b[key] == hist_a[key], key


@pytest.mark.parametrize("patience, epochs", [(0, [1, 2]), (1, [1, 2]), (2, [1, 2, 3]), (4, [1, 2, 3, 4, 5])])
def test_patience_counts_epochs_without_improvement_as_keras(patience, epochs):
    """With lr=0 the loss never improves after epoch 1: Keras's EarlyStopping stops once
    wait >= patience, i.e. after max(patience, 1) epochs without improvement."""
    X, y = _data(16)
    model = _model()
    hist = model.fit(X, y, optimizer=rnnkit.optim.SGD(model, lr=0.0), epochs=10, batch_size=16, patience=patience,
                     progress=False)
    assert len(set(hist["loss"])) == 1, "one batch and fixed weights: the same loss every epoch"
    assert hist.epoch == epochs and hist.stop_reason == "early_stopping" and hist.best_epoch == 1


# -- accuracy ------------------------------------------------------------------------------------
def test_accuracy_with_one_hot_and_probability_targets_takes_the_argmax():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((30, 4, 3))
    model = _model(out=3)
    ids = model.predict(X).argmax(1)
    ids[:6] = (ids[:6] + 1) % 3  # 6 of 30 wrong
    soft = 0.5 * np.eye(3)[ids] + 0.5 / 3
    for name, y in (("ids", ids), ("one-hot", np.eye(3)[ids]), ("probabilities", soft)):
        got = model.evaluate(X, y, loss="cross_entropy", metrics=["accuracy"], batch_size=7)["accuracy"]
        assert got == pytest.approx(0.8), name
    hist = model.fit(X, np.eye(3)[ids], loss="cross_entropy", metrics=["accuracy"], optimizer=rnnkit.optim.SGD(
        model, lr=0.0), batch_size=30, progress=False)
    assert hist["accuracy"] == [pytest.approx(0.8)]


def test_accuracy_of_per_step_one_hot_targets_skips_padded_steps():
    rng = np.random.default_rng(1)
    lengths = np.array([5, 2, 4, 1])
    X = rng.standard_normal((4, 5, 3))
    model = rnnkit.Sequential([rnnkit.GRU(3, 6, seed=0), rnnkit.Linear(6, 3, seed=0)])
    ids = model.predict(X, lengths).argmax(-1)
    ids[0, 0] = (ids[0, 0] + 1) % 3  # one wrong valid step of 12
    ids[1, 3] = (ids[1, 3] + 1) % 3  # padding: never counts
    got = model.evaluate(X, np.eye(3)[ids], lengths, loss="cross_entropy", metrics=["accuracy"])["accuracy"]
    assert got == pytest.approx(11 / 12)


def test_accuracy_with_binary_cross_entropy_counts_each_output_and_refuses_other_shapes():
    rng = np.random.default_rng(2)
    X, y = rng.standard_normal((20, 4, 3)), (rng.random((20, 3)) > 0.5).astype(float)  # multi-label
    model = _model(out=3)
    pred = model.predict(X)
    got = model.evaluate(X, y, loss="bce_with_logits", metrics=["accuracy"])["accuracy"]
    assert got == pytest.approx(np.mean((pred > 0) == (y > 0.5)))
    with pytest.raises(ValueError, match=r"class ids of shape \(20,\).*\(20, 3\).*got targets of shape \(20, 2\)"):
        accuracy(pred, y[:, :2], multiclass=True)
    with pytest.raises(ValueError, match=r"binary targets of shape \(20, 3\).*got targets of shape \(20,\)"):
        accuracy(pred, y[:, 0], multiclass=False)


# -- rejected updates, tbptt messages, "sum" losses -------------------------------------------------
@pytest.mark.filterwarnings("ignore::RuntimeWarning")
def test_a_rejected_update_leaves_the_weights_as_they_were_and_says_the_optimizer_moved():
    X, y = _data(16)
    model = _model()
    opt = rnnkit.optim.Adam(model, lr=0.01)
    model.fit(X, y, optimizer=opt, epochs=2, batch_size=8, progress=False)
    weights, state = model.state_dict(), opt.state_dict()
    opt.lr = 1e300  # every float32 weight overflows
    with pytest.raises(NonFiniteError, match="made the weights .* build a new optimizer") as info:
        model.fit(X, y, optimizer=opt, batch_size=8, progress=False)
    assert info.value.what == "weights"
    for k, v in weights.items():
        np.testing.assert_array_equal(model.params[k], v, err_msg=f"weights {k}")
    assert (state["steps"], opt.steps) == (4, 5)   # as the message says: the rejected update counted


class _NaNAt(rnnkit.losses.MSELoss):
    def __init__(self, model, at):
        super().__init__()
        self.model, self.at, self.calls, self.seen = model, at, 0, None

    def __call__(self, pred, target, mask=None):
        self.calls += 1
        value, grad = super().__call__(pred, target, mask)
        if self.calls == self.at:
            self.seen = self.model.state_dict()
            value = float("nan")
        return value, grad


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
def test_non_finite_loss_under_tbptt_says_the_earlier_chunks_were_applied():
    X, y = _data(8)
    model = rnnkit.Sequential([rnnkit.GRU(3, 4, seed=0), rnnkit.Linear(4, 1, seed=0)])
    y = X[:, :, :1]
    start = model.state_dict()
    loss = _NaNAt(model, at=2)  # the second chunk of the first batch
    with pytest.raises(NonFiniteError, match="before this chunk: the batch's earlier chunks have already"):
        model.fit(X, y, loss=loss, batch_size=8, tbptt=(3, 3), progress=False)
    for k, v in loss.seen.items():
        np.testing.assert_array_equal(model.params[k], v, err_msg=k)
    assert any(not np.array_equal(start[k], v) for k, v in loss.seen.items()), "the first chunk updated them"


def test_epoch_loss_of_a_sum_loss_is_the_sum_over_the_epoch():
    X, y = _data(20)
    X_val, y_val = _data(10, seed=1)
    model = _model(dtype="float64")
    hist = model.fit(X, y, loss=rnnkit.losses.MSELoss(reduction="sum"), optimizer=rnnkit.optim.SGD(model, lr=0.0),
                     epochs=1, batch_size=6, validation_data=(X_val, y_val), progress=False)
    assert hist["loss"][0] == pytest.approx(rnnkit.losses.mse(model.predict(X), y, reduction="sum")[0], rel=1e-12)
    assert hist["val_loss"][0] == pytest.approx(rnnkit.losses.mse(model.predict(X_val), y_val, reduction="sum")[0],
                                                rel=1e-12)



def test_a_sum_loss_under_tbptt_sums_as_without_it():
    """fit wraps the loss to check it; truncated BPTT must still see reduction="sum" (each chunk
    adds its own sum, none rescaled as a mean's share)."""
    X, _ = _data(12)
    y = np.cumsum(X[:, :, :2], axis=1)   # per-step targets (N, T, 2)
    losses = []
    for tbptt in (None, (2, 5), (1, 1)):
        model = rnnkit.Sequential([rnnkit.GRU(3, 6, seed=0, dtype="float64"), rnnkit.Linear(6, 2, seed=0,
                                                                                              dtype="float64")])
        hist = model.fit(X, y, loss=rnnkit.losses.MSELoss(reduction="sum"), optimizer=rnnkit.optim.SGD(model, lr=0.0),
                         epochs=1, batch_size=12, shuffle=False, tbptt=tbptt, progress=False)
        losses.append(hist["loss"][0])
    assert losses[1] == pytest.approx(losses[0], rel=1e-12) and losses[2] == pytest.approx(losses[0], rel=1e-12)
