"""Pickling layers and models (pickle, joblib, as scikit-learn tooling does).

A recurrent layer recycles scratch arrays between calls (its workspaces); they are not part of
the model: a pickle holds the configuration, weights, gradients and generator state only.
"""

from __future__ import annotations

import pickle

import numpy as np
import pytest

import rnnkit
from conftest import split_state


@pytest.mark.parametrize("kind", ["RNN", "LSTM", "GRU"])
def test_pickle_round_trip_is_exact_and_small(kind):
    """After a forward and backward (which fill the workspaces: several times the weights), the
    pickle is about the weights and gradients; the copy computes exactly what the original does."""
    rng = np.random.default_rng(0)
    layer = getattr(rnnkit, kind)(3, 64, num_layers=2, bidirectional=True, dropout=0.2, seed=0)
    x, dy = rng.standard_normal((32, 20, 3)), rng.standard_normal((32, 20, 128))
    y, _ = layer(x, lengths=rng.integers(1, 21, 32))
    layer.backward(dy)
    blob = pickle.dumps(layer)
    arrays = sum(p.nbytes + layer.grads[k].nbytes for k, p in layer.params.items())
    assert len(blob) < arrays + 20_000, f"pickle of {len(blob)} bytes for {arrays} bytes of weights and grads"
    twin = pickle.loads(blob)
    for k in layer.params:
        np.testing.assert_array_equal(twin.params[k], layer.params[k], err_msg=k)
        np.testing.assert_array_equal(twin.grads[k], layer.grads[k], err_msg=k)
    for model in (layer, twin):  # the same dropout masks: the generator state travels too
        model(x)
        model.backward(dy)
    y_twin, state_twin = twin(x)
    y, state = layer(x)
    np.testing.assert_array_equal(y_twin, y)
    for a, b in zip(split_state(state_twin), split_state(state)):
        np.testing.assert_array_equal(a, b)
    twin.backward(dy)
    layer.backward(dy)
    for k in layer.grads:
        np.testing.assert_array_equal(twin.grads[k], layer.grads[k], err_msg=k)


def test_a_pickle_between_forward_and_backward_keeps_no_cache():
    """What a forward kept for its backward (the LSTM's caches: many times its weights) is not
    pickled: the copy is about the weights, and has no backward to run."""
    rng = np.random.default_rng(0)
    model = rnnkit.Sequential([rnnkit.Linear(3, 8, seed=0), rnnkit.LSTM(8, 16, seed=1), rnnkit.LastStep()])
    out = model(rng.standard_normal((64, 100, 3)))
    blob = pickle.dumps(model)
    arrays = sum(p.nbytes + model.grads[k].nbytes for k, p in model.params.items())
    assert len(blob) < arrays + 20_000, f"pickle of {len(blob)} bytes for {arrays} bytes of weights and grads"
    with pytest.raises(RuntimeError, match="before forward"):
        pickle.loads(blob).backward(np.ones_like(out))
    model.backward(np.ones_like(out))   # the original still can


def test_joblib_memory_mapped_model_predicts(tmp_path):
    """joblib.load(mmap_mode="r") maps the arrays read-only: a fitted model still runs forward
    (bit-identical); with mmap_mode="c" (copy on write) it also trains. (With "r", backward and
    the optimizer cannot write into the read-only gradients and weights: NumPy's ValueError.)"""
    joblib = pytest.importorskip("joblib")
    rng = np.random.default_rng(1)
    X, y = rng.standard_normal((16, 12, 3)).astype(np.float32), rng.standard_normal((16, 1)).astype(np.float32)
    model = rnnkit.Sequential([rnnkit.LSTM(3, 64, seed=0), rnnkit.LastStep(), rnnkit.Linear(64, 1, seed=1)])
    model.fit(X, y, epochs=2, batch_size=16, progress=False)  # the workspaces hold (64, 12, 16) arrays
    model(X)
    joblib.dump(model, tmp_path / "model.joblib")
    mapped = joblib.load(tmp_path / "model.joblib", mmap_mode="r")
    assert not mapped.params["0.weight_hh_l0"].flags.writeable
    np.testing.assert_array_equal(mapped(X), model(X))
    np.testing.assert_array_equal(mapped.predict(X), model.predict(X))
    copied = joblib.load(tmp_path / "model.joblib", mmap_mode="c")
    out = copied(X)
    copied.backward(np.ones_like(out))
    copied.fit(X, y, epochs=1, batch_size=16, progress=False)
    model.fit(X, y, epochs=1, batch_size=16, progress=False)
    np.testing.assert_allclose(copied.predict(X), model.predict(X), rtol=1e-5, atol=1e-6)  # float32 training
