"""Files: safetensors compatibility, exact save/load round trips, atomic writes and every
documented damaged-file error."""

from __future__ import annotations

import json
import os
import stat

import numpy as np
import pytest

import rnnkit
from rnnkit.errors import LoadError, MissingFileError
from rnnkit.io import read_safetensors, write_safetensors
from rnnkit.io.safetensors import CHECKSUM_KEY


def _model():
    return rnnkit.Sequential([
        rnnkit.Embedding(20, 5, padding_idx=0, seed=1), rnnkit.GRU(5, 6, num_layers=2, dropout=0.2, seed=2,
                                                                  recurrent_dropout=0.1, reset_after=False),
        rnnkit.Dropout(0.3, seed=3), rnnkit.LastStep(), rnnkit.Linear(6, 3, dtype="float64", seed=4), rnnkit.ReLU(),
    ])


def _ids():
    return np.random.default_rng(0).integers(0, 20, (4, 7))


def test_safetensors_files_are_read_by_the_safetensors_package_and_vice_versa(tmp_path):
    import safetensors.numpy as st  # a test extra: the reference implementation of the format
    tensors = {"w": np.arange(12, dtype=np.float32).reshape(3, 4), "b": np.linspace(0, 1, 5),
               "ids": np.array([1, -2, 3], dtype=np.int64), "flags": np.array([True, False]),
               "half": np.ones(3, dtype=np.float16), "empty": np.zeros((0, 2), np.float32)}
    write_safetensors(tmp_path / "ours.safetensors", tensors, {"note": "hi"})
    theirs = st.load_file(tmp_path / "ours.safetensors")
    from safetensors import safe_open

    with safe_open(tmp_path / "ours.safetensors", "np") as f:
        assert f.metadata()["note"] == "hi"
    st.save_file(tensors, tmp_path / "theirs.safetensors", metadata={"note": "ho"})
    back, meta = read_safetensors(tmp_path / "theirs.safetensors")
    assert meta == {"note": "ho"}
    for k, v in tensors.items():
        for name, got in (("safetensors read ours", theirs[k]), ("we read safetensors", back[k])):
            assert got.dtype == v.dtype and got.shape == v.shape, f"{name}: {k}"
            np.testing.assert_array_equal(got, v, err_msg=f"{name}: {k}")


def test_header_layout_is_the_documented_one(tmp_path):
    write_safetensors(tmp_path / "a.st", {"x": np.array([1.5, -2.0], dtype=np.float32)})
    blob = (tmp_path / "a.st").read_bytes()
    n = int.from_bytes(blob[:8], "little")
    assert n % 8 == 0
    header = json.loads(blob[8:8 + n])
    assert header["x"] == {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}
    assert blob[8 + n:] == np.array([1.5, -2.0], dtype="<f4").tobytes()


def test_save_load_round_trip_is_bit_identical_including_dropout_streams(tmp_path):
    model = _model()
    model(_ids(), lengths=[7, 3, 5, 1])  # advance the dropout streams before saving
    path = tmp_path / "model.safetensors"
    model.save(path)
    loaded = rnnkit.load(path)
    assert type(loaded) is rnnkit.Sequential and loaded.get_config() == model.get_config()
    for k, v in model.state_dict().items():
        assert loaded.params[k].dtype == v.dtype
        np.testing.assert_array_equal(loaded.params[k], v, err_msg=k)
    for mode in ("train", "eval"):
        getattr(model, mode)()
        getattr(loaded, mode)()
        a, b = model(_ids(), lengths=[7, 3, 5, 1]), loaded(_ids(), lengths=[7, 3, 5, 1])
        assert a.tobytes() == b.tobytes(), f"outputs differ in {mode} mode"
    assert not list(tmp_path.glob(".*tmp")), "no temporary file may stay behind"


def test_single_layers_round_trip_too(tmp_path):
    lstm = rnnkit.LSTM(3, 4, bidirectional=True, dtype="float64", seed=0)
    lstm.save(tmp_path / "lstm.safetensors")
    loaded = rnnkit.load(tmp_path / "lstm.safetensors")
    x = np.random.default_rng(0).standard_normal((2, 5, 3))
    assert loaded(x)[0].tobytes() == lstm(x)[0].tobytes()


def test_custom_layers_load_once_registered(tmp_path):
    class Scale(rnnkit.Module):
        def __init__(self, factor: float = 2.0):
            self.factor = factor
            self._init_params({})

        def get_config(self):
            return {"factor": self.factor}

        def forward(self, x):
            return x * self.factor

        def backward(self, dy):
            return dy * self.factor

    model = rnnkit.Sequential([rnnkit.Linear(2, 2, seed=0), Scale(3.0)])
    with pytest.raises(rnnkit.ConfigError, match="register_layer"):
        model.save(tmp_path / "m.st")
    rnnkit.layers.register_layer(Scale)
    model.save(tmp_path / "m.st")
    assert rnnkit.load(tmp_path / "m.st").layers[1].factor == 3.0


def test_failed_write_keeps_the_previous_file_and_leaves_no_temporary(tmp_path, monkeypatch):
    path = tmp_path / "model.safetensors"
    model = _model()
    model.save(path)
    before = path.read_bytes()

    def broken_replace(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", broken_replace)
    model.layers[4].params["weight"][...] = 0
    with pytest.raises(OSError, match="disk full"):
        model.save(path)
    monkeypatch.undo()
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.safetensors"]


# -- damaged files -----------------------------------------------------------------------------
@pytest.fixture()
def saved(tmp_path):
    path = tmp_path / "model.safetensors"
    _model().save(path)
    return path


def _expect(path, pattern):
    with pytest.raises(LoadError, match=pattern) as info:
        rnnkit.load(path)
    assert str(path) in str(info.value), "the error must name the file"
    assert isinstance(info.value, ValueError)


def test_missing_file(tmp_path):
    with pytest.raises(MissingFileError, match="no such file") as info:
        rnnkit.load(tmp_path / "nope.safetensors")
    assert isinstance(info.value, FileNotFoundError) and isinstance(info.value, LoadError)


@pytest.mark.parametrize("keep", [0, 5, 8, 40, -1],
                         ids=["empty", "5-bytes", "length-only", "mid-header", "one-byte-short"])
def test_truncated_file(saved, keep):
    blob = saved.read_bytes()
    saved.write_bytes(blob[:keep] if keep >= 0 else blob[:-1])
    _expect(saved, "truncated")


def test_corrupted_header(saved):
    blob = bytearray(saved.read_bytes())
    blob[8] = ord("[")  # the header no longer parses as a JSON object
    saved.write_bytes(bytes(blob))
    _expect(saved, "not valid JSON|JSON object")


def test_corrupted_weights_are_caught_by_the_checksum(saved):
    blob = bytearray(saved.read_bytes())
    blob[-3] ^= 0x10
    saved.write_bytes(bytes(blob))
    _expect(saved, "checksum")


def test_inconsistent_offsets(saved):
    tensors, meta = read_safetensors(saved)
    blob = saved.read_bytes()
    n = int.from_bytes(blob[:8], "little")
    header = json.loads(blob[8:8 + n])
    name = next(k for k in header if k != "__metadata__")
    header[name]["data_offsets"][1] += 4
    text = json.dumps(header).encode()
    saved.write_bytes(len(text).to_bytes(8, "little") + text + blob[8 + n:])
    _expect(saved, f"'{name}'")


def test_foreign_files(tmp_path):
    png = tmp_path / "image.png"
    png.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4)
    _expect(png, "truncated, or not a safetensors file")
    text = tmp_path / "notes.txt"
    text.write_bytes((20).to_bytes(8, "little") + b"hello, this is text!")
    _expect(text, "not valid JSON")
    other = tmp_path / "hf.safetensors"
    write_safetensors(other, {"weight": np.zeros((2, 2), np.float32)}, {"format": "pt"})
    _expect(other, "not an rnnkit model")


def _rewrite_metadata(path, **changes):
    tensors, meta = read_safetensors(path)
    meta.update(changes)
    meta.pop(CHECKSUM_KEY)
    write_safetensors(path, tensors, meta)


def test_config_naming_an_unknown_layer(saved):
    _, meta = read_safetensors(saved)
    spec = json.loads(meta["model"])
    spec["config"]["layers"][1]["class_name"] = "Transformer"
    _rewrite_metadata(saved, model=json.dumps(spec))
    _expect(saved, "Unknown layer 'Transformer'")


def test_config_that_does_not_match_the_weights(saved):
    _, meta = read_safetensors(saved)
    spec = json.loads(meta["model"])
    spec["config"]["layers"][4]["config"]["out_features"] = 4
    _rewrite_metadata(saved, model=json.dumps(spec))
    _expect(saved, r"weights do not match the config.*4\.weight")


def test_weights_of_the_wrong_dtype(saved):
    tensors, meta = read_safetensors(saved)
    tensors["4.weight"] = tensors["4.weight"].astype(np.float32)
    meta.pop(CHECKSUM_KEY)
    write_safetensors(saved, tensors, meta)
    _expect(saved, "dtype")


def test_bad_metadata_fields(saved):
    _rewrite_metadata(saved, model="{not json")
    _expect(saved, "'model' is not valid JSON")
    _rewrite_metadata(saved, format_version="99")
    _expect(saved, "format version")


def test_loading_never_unpickles(saved):
    """The loader parses JSON and raw bytes only: a file holding a pickle is just a foreign file."""
    import pickle

    saved.write_bytes(pickle.dumps({"weight": np.zeros(3)}))
    _expect(saved, "not a safetensors file|not valid JSON|truncated")


# -- exact shapes, permissions, crafted headers ------------------------------------------------------
def test_every_shape_round_trips_exactly_including_0d(tmp_path):
    tensors = {"scalar": np.array(3.5, dtype=np.float32), "count": np.array(7, dtype=np.int64),
               "one": np.ones(1), "none": np.zeros((0,), np.float16), "fortran": np.arange(6.0).reshape(2, 3).T,
               "strided": np.arange(10, dtype=np.int32)[::3]}
    path = tmp_path / "shapes.safetensors"
    write_safetensors(path, tensors)
    blob = path.read_bytes()
    header = json.loads(blob[8:8 + int.from_bytes(blob[:8], "little")])
    begin, end = header["scalar"]["data_offsets"]
    assert header["scalar"]["shape"] == [] and end - begin == 4
    back, _ = read_safetensors(path)
    for k, v in tensors.items():
        assert back[k].shape == v.shape and back[k].dtype == v.dtype, k
        np.testing.assert_array_equal(back[k], v, err_msg=k)
    st = pytest.importorskip("safetensors.numpy")
    assert st.load_file(path)["scalar"].shape == ()


@pytest.mark.skipif(os.name == "nt", reason="POSIX permission bits")
def test_new_files_follow_the_umask_and_overwritten_files_keep_their_mode(tmp_path):
    path = tmp_path / "w.safetensors"
    for umask, expected in ((0o022, 0o644), (0o077, 0o600), (0o002, 0o664)):
        old = os.umask(umask)
        try:
            write_safetensors(path, {"x": np.zeros(2)})
        finally:
            os.umask(old)
        assert stat.S_IMODE(path.stat().st_mode) == expected, f"umask {umask:o}"
        path.unlink()
    write_safetensors(path, {"x": np.zeros(2)})
    path.chmod(0o640)
    old = os.umask(0o077)
    try:
        write_safetensors(path, {"x": np.ones(2)})
    finally:
        os.umask(old)
    assert stat.S_IMODE(path.stat().st_mode) == 0o640, "an overwritten file keeps its mode"
    assert read_safetensors(path)[0]["x"].tolist() == [1.0, 1.0]


def test_a_symbolic_link_stays_a_link_and_its_target_is_replaced(tmp_path):
    (tmp_path / "runs").mkdir()
    target, link = tmp_path / "runs" / "m.safetensors", tmp_path / "latest.safetensors"
    write_safetensors(target, {"x": np.zeros(2)})
    link.symlink_to(target)
    write_safetensors(link, {"x": np.ones(2)})
    assert link.is_symlink() and link.resolve() == target.resolve()
    assert read_safetensors(target)[0]["x"].tolist() == [1.0, 1.0]
    assert sorted(p.name for p in tmp_path.rglob("*")) == ["latest.safetensors", "m.safetensors", "runs"]


def _raw(path, header, data=b""):
    text = header if isinstance(header, bytes) else json.dumps(header).encode()
    path.write_bytes(len(text).to_bytes(8, "little") + text + data)
    return path


@pytest.mark.parametrize("header, pattern", [
    (b"[" * 50000 + b"]" * 50000, "nested too deeply"),
    (b'{"a": {"dtype": "F32", "shape": [' + b"1" * 5000 + b'], "data_offsets": [0, 4]}}', "not valid JSON"),
    ({"a": {"dtype": "F32", "shape": [2**64], "data_offsets": [0, 4]}}, r"needs \d+ bytes"),
    ({"a": {"dtype": "F32", "shape": [2**62, 4], "data_offsets": [0, 0]}}, "needs 73786976294838206464 bytes"),
    ({"a": {"dtype": "F32", "shape": [2, -1], "data_offsets": [0, 0]}}, "malformed header entry"),
    ({"a": {"dtype": "F32", "shape": [2.0], "data_offsets": [0, 8]}}, "malformed header entry"),
    ({"a": {"dtype": "F32", "shape": [2], "data_offsets": [8, 0]}}, r"offsets \[8, 0\] give -8"),
], ids=["deep-json", "5000-digit-int", "shape-2**64", "int64-wrap", "negative", "float-dim", "reversed-offsets"])
def test_crafted_safetensors_headers_give_load_errors(tmp_path, header, pattern):
    path = _raw(tmp_path / "crafted.safetensors", header, bytes(8))
    with pytest.raises(LoadError, match=pattern):
        read_safetensors(path)
    _expect(path, pattern)


def test_crafted_model_metadata_gives_load_errors(tmp_path, monkeypatch):
    from rnnkit.io import save_model

    path = tmp_path / "m.safetensors"
    rnnkit.Sequential([rnnkit.Sequential([rnnkit.Dropout(0.5, seed=0)])]).save(path)
    _rewrite_metadata(path, rng='{"0": 5}')  # the inner Sequential gets an int as its state
    _expect(path, "random-generator state is invalid")
    _rewrite_metadata(path, model="[" * 50000 + "]" * 50000)
    _expect(path, "'model' is JSON nested too deeply")
    est = {"class_name": "Forecaster", "params": {}, "state": [1], "text_arrays": {}}
    save_model(rnnkit.Linear(2, 2), path, extra_metadata={"estimator": json.dumps(est)})
    _expect(path, "'params' and 'state' as JSON objects, got dict and list")

    def no_memory(spec):
        raise MemoryError("Unable to allocate 29.1 TiB")

    rnnkit.Linear(2, 2).save(path)
    monkeypatch.setattr("rnnkit.io.model_file.layer_from_spec", no_memory)
    _expect(path, r"larger than the available memory \(Unable to allocate 29.1 TiB\).*holds 24 bytes")


def test_a_missing_folder_is_named_not_the_temporary_file(tmp_path):
    path = tmp_path / "no_such_dir" / "m.safetensors"
    with pytest.raises(FileNotFoundError, match=r"Cannot write '.*no_such_dir/m.safetensors': expected an "
                                                r"existing folder, and '.*no_such_dir' does not exist") as info:
        rnnkit.Linear(2, 2).save(path)
    assert ".tmp" not in str(info.value)
