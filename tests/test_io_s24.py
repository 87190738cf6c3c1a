"""Model files (review): nested Sequentials round trip exactly, the training/eval mode of every
layer included; hand-edited generator states and metadata give LoadErrors; paths that name a
folder are refused before anything is written, and reading a folder says it is one."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest

import rnnkit
from rnnkit.errors import LoadError, MissingFileError
from rnnkit.io import read_safetensors, write_safetensors
from rnnkit.io.safetensors import CHECKSUM_KEY


def _nested():
    """Every kind of layer, two levels of nesting, dropout everywhere it exists, mixed dtypes."""
    return rnnkit.Sequential([
        rnnkit.Sequential([rnnkit.LSTM(3, 5, num_layers=2, bidirectional=True, dropout=0.3, seed=0),
                           rnnkit.Dropout(0.4, seed=1)]),
        rnnkit.Sequential([rnnkit.Sequential([rnnkit.GRU(10, 4, recurrent_dropout=0.2, reset_after=False, seed=2)]),
                           rnnkit.RNN(4, 4, nonlinearity="relu", bias=False, seed=3), rnnkit.Tanh()]),
        rnnkit.LastStep(), rnnkit.Linear(4, 2, dtype="float64", seed=4), rnnkit.Sigmoid(),
    ])


def _x():
    return np.random.default_rng(0).standard_normal((3, 6, 3))


def _modes(model):
    return [(type(m).__name__, m.training) for m in model.modules()]


def _rewrite_metadata(path, **changes):
    tensors, meta = read_safetensors(path)
    meta.update(changes)
    for key in [k for k, v in changes.items() if v is None] + [CHECKSUM_KEY]:
        meta.pop(key)
    write_safetensors(path, tensors, meta)


def _expect(path, pattern):
    with pytest.raises(LoadError, match=pattern) as info:
        rnnkit.load(path)
    assert str(path) in str(info.value), "the error must name the file"


def test_nested_models_round_trip_exactly_in_training_mode(tmp_path):
    model = _nested()
    model(_x(), lengths=[6, 2, 4])  # advance the dropout streams
    model.save(tmp_path / "m.st")
    loaded = rnnkit.load(tmp_path / "m.st")
    assert loaded.get_config() == model.get_config()
    assert [type(m).__name__ for m in loaded.layers[1].layers] == ["Sequential", "RNN", "Tanh"]
    for k, v in model.state_dict().items():
        assert loaded.params[k].dtype == v.dtype, k
        np.testing.assert_array_equal(loaded.params[k], v, err_msg=k)
    assert _modes(loaded) == _modes(model)
    for _ in range(2):  # the masks of the next calls too
        assert loaded(_x(), lengths=[6, 2, 4]).tobytes() == model(_x(), lengths=[6, 2, 4]).tobytes()


def test_a_model_saved_in_eval_mode_loads_in_eval_mode_layer_by_layer(tmp_path):
    """The loaded model gave training-mode outputs (dropout on) for a model saved after eval()."""
    model = _nested().eval()
    model.layers[0].layers[1].train()  # one Dropout on, as a caller may set it: each layer keeps its own
    model.save(tmp_path / "m.st")
    loaded = rnnkit.load(tmp_path / "m.st")
    assert _modes(loaded) == _modes(model)
    assert not loaded.training and loaded.layers[0].layers[1].training
    assert loaded(_x()).tobytes() == model(_x()).tobytes()
    lstm = rnnkit.LSTM(3, 4, dropout=0.5, num_layers=2, seed=0).eval()
    lstm.save(tmp_path / "lstm.st")
    assert rnnkit.load(tmp_path / "lstm.st").training is False


def test_estimator_networks_keep_their_mode(tmp_path):
    from rnnkit.estimators import Forecaster

    f = Forecaster(horizon=2, hidden_size=4, epochs=1, seed=0, verbose=False).fit(np.sin(np.arange(60) / 4))
    f.model_.eval()
    f.save(tmp_path / "f.st")
    g = rnnkit.load(tmp_path / "f.st")
    assert _modes(g.model_) == _modes(f.model_)
    np.testing.assert_array_equal(g.predict(), f.predict())


def test_files_without_modes_load_in_training_mode_and_bad_modes_are_refused(tmp_path):
    path = tmp_path / "m.st"
    _nested().eval().save(path)
    _rewrite_metadata(path, training=None)  # a file written before the modes were kept
    assert all(mode for _, mode in _modes(rnnkit.load(path)))
    n = len(_modes(_nested()))
    for bad in ([False] * (n - 1), [0] * n, {"0": False}, "false"):
        _rewrite_metadata(path, training=json.dumps(bad))
        _expect(path, rf"metadata field 'training' must list one bool per layer \({n} here")
    _rewrite_metadata(path, training="[fals")
    _expect(path, "'training' is not valid JSON")


@pytest.mark.parametrize("field, value", [("state", 2**200), ("state", -1), ("inc", 2**200)])
def test_a_generator_state_out_of_range_is_a_load_error(tmp_path, field, value):
    """A hand-edited integer of the dropout generator's state raised NumPy's OverflowError."""
    path = tmp_path / "m.st"
    rnnkit.Sequential([rnnkit.Dropout(0.5, seed=0), rnnkit.Linear(2, 2, seed=0)]).save(path)
    rng = json.loads(read_safetensors(path)[1]["rng"])
    rng["0"]["state"][field] = value
    _rewrite_metadata(path, rng=json.dumps(rng))
    _expect(path, "random-generator state is invalid: OverflowError")


@pytest.mark.parametrize("name, error, pattern", [
    ("adir", IsADirectoryError, "got a folder"),
    ("adir/", IsADirectoryError, "got a path ending in a separator"),
    ("newdir/", IsADirectoryError, "got a path ending in a separator"),
    ("adir/m.st/", IsADirectoryError, "got a path ending in a separator"),
    ("", FileNotFoundError, "got an empty path"),
], ids=["folder", "folder-slash", "new-folder-slash", "file-slash", "empty"])
def test_paths_that_are_not_files_are_refused_before_writing(tmp_path, monkeypatch, name, error, pattern):
    """A folder (or "") was written in full to a temporary file, then refused naming that file;
    "newdir/" became a file named newdir."""
    (tmp_path / "adir").mkdir()
    monkeypatch.chdir(tmp_path / "adir" if name == "" else tmp_path)  # "": the temporary went into the parent
    with pytest.raises(error, match=f"Cannot write '{name}': expected the path of a file, {pattern}") as info:
        rnnkit.Linear(2, 2).save(name)
    assert ".tmp" not in str(info.value)
    assert sorted(p.name for p in tmp_path.rglob("*")) == ["adir"], "nothing may be written"


def test_reading_a_folder_says_so(tmp_path):
    with pytest.raises(LoadError, match="it is a folder; expected the path of a file") as info:
        rnnkit.load(tmp_path)
    assert not isinstance(info.value, MissingFileError)


@pytest.mark.parametrize("meta", [[], 0, "", False], ids=["list", "zero", "empty-str", "false"])
def test_metadata_that_is_not_an_object_is_refused(tmp_path, meta):
    """A falsy '__metadata__' of the wrong type was read as no metadata."""
    text = json.dumps({"__metadata__": meta, "x": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]}}).encode()
    path = tmp_path / "f.st"
    path.write_bytes(len(text).to_bytes(8, "little") + text + bytes(4))
    with pytest.raises(LoadError, match="expected '__metadata__' to map strings to strings, got"):
        read_safetensors(path)


def test_null_metadata_is_no_metadata(tmp_path):
    text = json.dumps({"__metadata__": None, "x": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]}}).encode()
    path = tmp_path / "f.st"
    path.write_bytes(len(text).to_bytes(8, "little") + text + np.float32([1.5]).tobytes())
    tensors, meta = read_safetensors(path)
    assert meta == {} and tensors["x"].tolist() == [1.5]


def test_a_symbolic_link_to_a_folder_is_a_folder(tmp_path):
    (tmp_path / "runs").mkdir()
    os.symlink(tmp_path / "runs", tmp_path / "latest")
    with pytest.raises(IsADirectoryError, match="got a folder"):
        rnnkit.Linear(2, 2).save(tmp_path / "latest")
    assert list((tmp_path / "runs").iterdir()) == []


def test_a_state_dict_without_biases_says_to_build_the_layer_with_bias_false():
    torch = pytest.importorskip("torch")
    sd = {k: v.detach().numpy() for k, v in torch.nn.GRU(3, 4, bias=False, batch_first=True).state_dict().items()}
    with pytest.raises(ValueError, match=r"missing keys \['bias_ih_l0', 'bias_hh_l0'\], every missing key is a "
                                         r"bias: .* build this one with bias=False too"):
        rnnkit.GRU(3, 4).load_state_dict(sd)
    layer = rnnkit.GRU(3, 4, bias=False)
    layer.load_state_dict(sd)
    np.testing.assert_array_equal(layer.params["weight_hh_l0"], sd["weight_hh_l0"])
