"""Model files are checked against the shapes their config implies BEFORE the model is built.

``param_shapes(config)`` (one classmethod per built-in layer kind) must name exactly the parameters
that building gives: the same names, shapes and order for every registered built-in layer and a
grid of configs, and the same errors for the configs the constructor refuses. The loader compares
them with the file's tensors first, so a crafted config asking for huge weights is refused at
once, with no big allocation (tracemalloc)."""

from __future__ import annotations

import itertools
import json
import re
import tracemalloc

import numpy as np
import pytest

import rnnkit
from rnnkit.errors import ConfigError, LoadError
from rnnkit.io import read_safetensors, write_safetensors
from rnnkit.io.safetensors import CHECKSUM_KEY
from rnnkit.layers import registry
from rnnkit.layers.registry import layer_from_spec, layer_to_spec, param_shapes_from_spec


def _recurrent(kind, options=({},)):
    return [dict(input_size=I, hidden_size=H, num_layers=L, bias=b, bidirectional=d, **o)
            for I, H, L, b, d, o in itertools.product((1, 3), (1, 4), (1, 2, 3), (True, False), (False, True), options)]


def _cells(options=({},)):
    return [dict(input_size=I, hidden_size=H, bias=b, **o)
            for I, H, b, o in itertools.product((1, 3), (1, 4), (True, False), options)]


def _sequentials():
    lstm = rnnkit.LSTM(3, 4, num_layers=2, bidirectional=True)
    inner = rnnkit.Sequential([rnnkit.GRU(8, 2, bias=False), rnnkit.LastStep(), rnnkit.Linear(2, 1)])
    models = [rnnkit.Sequential([rnnkit.Embedding(9, 3, padding_idx=0), lstm, inner, rnnkit.Tanh()]),
              rnnkit.Sequential([rnnkit.Dropout(0.1), rnnkit.RNN(2, 2, nonlinearity="relu")]),
              rnnkit.Sequential([rnnkit.Sequential([rnnkit.Sequential([rnnkit.Linear(2, 3, bias=False)])])])]
    return [m.get_config() for m in models]


#: configs for every built-in registered layer; a new built-in without an entry fails the test below
GRID = {
    "RNN": _recurrent("RNN", ({"nonlinearity": "tanh"}, {"nonlinearity": "relu"})),
    "LSTM": _recurrent("LSTM"),
    "GRU": _recurrent("GRU", ({"reset_after": True}, {"reset_after": False})),
    "RNNCell": _cells(({"nonlinearity": "relu"},)), "LSTMCell": _cells(),
    "GRUCell": _cells(({"reset_after": False},)),
    "Linear": [dict(in_features=i, out_features=o, bias=b)
               for i, o, b in itertools.product((1, 5), (1, 3), (True, False))],
    "Embedding": [dict(num_embeddings=7, embedding_dim=2), dict(num_embeddings=1, embedding_dim=5, padding_idx=0)],
    "Dropout": [{}, dict(p=0.3)], "Tanh": [{}], "ReLU": [{}], "Sigmoid": [{}],
    "LastStep": [{}, dict(bidirectional=True)],
    "TimePool": [{}, dict(modes=["max"], bidirectional=True)],
    "Sequential": _sequentials(),
}


def test_every_built_in_layer_has_configs_in_the_grid():
    builtin = {name for name, cls in registry._builtin().items() if cls in registry._BUILTIN}
    assert builtin == set(GRID), "add configs for the new built-in layer to GRID"


@pytest.mark.parametrize("name", sorted(GRID))
def test_param_shapes_are_the_built_layers_parameters(name):
    cls = registry._builtin()[name]
    for config in GRID[name]:
        built = cls.from_config(config) if hasattr(cls, "from_config") else cls(**config)
        want = [(k, v.shape) for k, v in built.params.items()]
        assert list(cls.param_shapes(config)) == want, config
        spec = layer_to_spec(built)
        assert list(param_shapes_from_spec(spec)) == want, spec


@pytest.mark.parametrize("spec", [
    {"class_name": "LSTM", "config": {"input_size": 3, "hidden_size": 0}},
    {"class_name": "GRU", "config": {"input_size": 3, "hidden_size": 2, "num_layers": 1.5}},
    {"class_name": "RNN", "config": {"input_size": "3", "hidden_size": 2}},
    {"class_name": "RNN", "config": {"input_size": 3, "hidden_size": 2, "bias": 1}},
    {"class_name": "LSTM", "config": {"input_size": 3, "hidden_size": 2, "bidirectional": "yes"}},
    {"class_name": "LSTMCell", "config": {"input_size": 3, "hidden_size": -2}},
    {"class_name": "Linear", "config": {"in_features": 3, "out_features": True}},
    {"class_name": "Embedding", "config": {"num_embeddings": 0, "embedding_dim": 2}},
    {"class_name": "Sequential", "config": {"layers": [{"class_name": "Linear", "config": {"in_features": 0,
                                                                                        "out_features": 1}}]}},
], ids=["zero_hidden", "float_layers", "str_input", "int_bias", "str_bidirectional", "cell_negative",
        "bool_features", "zero_vocabulary", "nested"])
def test_param_shapes_refuse_what_the_constructor_refuses_with_its_message(spec):
    with pytest.raises(ConfigError) as built:
        layer_from_spec(spec)
    with pytest.raises(ConfigError) as shapes:
        list(param_shapes_from_spec(spec))
    assert str(shapes.value) == str(built.value)


@pytest.mark.parametrize("spec, match", [
    ({"class_name": "LSTM", "config": {"hidden_size": 2}}, "missing a required argument: 'input_size'"),
    ({"class_name": "Linear", "config": {"in_features": 2, "out_features": 2, "width": 3}},
     "got an unexpected keyword argument 'width'"),
    ({"class_name": "Tanh", "config": {"alpha": 1}}, "unexpected keyword argument 'alpha'"),
    ({"class_name": "Sequential", "config": {"layers": "LSTM"}}, r"Expected a Sequential config \{'layers'"),
    ({"class_name": "Transformer", "config": {}}, "Unknown layer 'Transformer'"),
])
def test_param_shapes_refuse_malformed_configs(spec, match):
    with pytest.raises(ConfigError, match=match):
        list(param_shapes_from_spec(spec))
    with pytest.raises(ConfigError):
        layer_from_spec(spec)


# -- the loader -----------------------------------------------------------------------------------

def _with_config(path, change):
    tensors, meta = read_safetensors(path)
    spec = json.loads(meta["model"])
    change(spec)
    meta["model"] = json.dumps(spec)
    meta.pop(CHECKSUM_KEY)
    write_safetensors(path, tensors, meta)
    return path


def _load_measured(path):
    """rnnkit.load(path) -> (the LoadError, peak bytes allocated while loading)."""
    tracemalloc.start()
    try:
        with pytest.raises(LoadError) as info:
            rnnkit.load(path)
        return info.value, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


@pytest.mark.parametrize("change, match", [
    (lambda s: s["config"].update(hidden_size=200_000),
     r"wrong shapes \[weight_ih_l0: the config gives \(800000, 3\), the file \(16, 3\); weight_hh_l0: the config "
     r"gives \(800000, 200000\), the file \(16, 4\)"),
    (lambda s: s["config"].update(num_layers=10**9), r"missing tensors \[weight_ih_l1 \(16, 4\), weight_hh_l1"),
    (lambda s: s["config"].update(input_size=10**12, hidden_size=10**12),
     r"the config gives \(4000000000000, 1000000000000\)"),
], ids=["hidden_200000", "a_billion_layers", "terabyte_dims"])
def test_a_config_asking_for_huge_weights_is_refused_before_any_allocation(tmp_path, change, match):
    path = tmp_path / "m.safetensors"
    rnnkit.LSTM(3, 4, seed=0).save(path)
    error, peak = _load_measured(_with_config(path, change))
    assert str(path) in str(error) and "the weights do not match the config" in str(error)
    assert re.search(match, str(error)), str(error)[:500]
    assert peak < 1_000_000, f"{peak} bytes allocated before refusing"


def test_a_huge_layer_inside_a_sequential_is_refused_before_any_allocation(tmp_path):
    path = tmp_path / "m.safetensors"
    rnnkit.Sequential([rnnkit.Embedding(10, 3), rnnkit.GRU(3, 4), rnnkit.LastStep(), rnnkit.Linear(4, 2)]).save(path)

    def change(spec):
        spec["config"]["layers"][0]["config"]["num_embeddings"] = 10**6
        spec["config"]["layers"][3]["config"].update(in_features=10**5, out_features=10**5)

    error, peak = _load_measured(_with_config(path, change))
    assert ("wrong shapes [0.weight: the config gives (1000000, 3), the file (10, 3); 3.weight: the config gives "
            "(100000, 100000), the file (2, 4); 3.bias: the config gives (100000,), the file (2,)]") in str(error)
    assert peak < 1_000_000


def test_a_missing_tensor_is_named_before_building(tmp_path, monkeypatch):
    path = tmp_path / "m.safetensors"
    rnnkit.Sequential([rnnkit.LSTM(2, 3), rnnkit.Linear(3, 1)]).save(path)
    tensors, meta = read_safetensors(path)
    del tensors["1.bias"]
    write_safetensors(path, tensors, {k: v for k, v in meta.items() if k != CHECKSUM_KEY})
    monkeypatch.setattr("rnnkit.io.model_file.layer_from_spec", lambda spec: pytest.fail("built before checking"))
    with pytest.raises(LoadError, match=r"missing tensors \[1.bias \(1,\)\]. The file holds 5 weight tensor\(s\)"):
        rnnkit.load(path)


def test_custom_layers_load_with_or_without_their_own_param_shapes(tmp_path):
    class Affine(rnnkit.Module):
        """scale * x + shift; its shapes are unknown to the loader (no param_shapes)."""

        def __init__(self, n: int = 2):
            self.n = n
            self._init_params({"scale": np.ones(n), "shift": np.zeros(n)})

        def get_config(self):
            return {"n": self.n}

        def forward(self, x):
            return x * self.params["scale"] + self.params["shift"]

    class CheckedAffine(Affine):
        @classmethod
        def param_shapes(cls, config):
            yield from (("scale", (config["n"],)), ("shift", (config["n"],)))

    class WideLSTM(rnnkit.LSTM):
        """A subclass with another constructor: the inherited param_shapes must not be trusted."""

        def __init__(self, n: int = 2, **kw):
            super().__init__(n, 2 * n, **kw)

        def get_config(self):
            return {"n": self.input_size}

    for cls in (Affine, CheckedAffine, WideLSTM):
        rnnkit.layers.register_layer(cls)
    try:
        path = tmp_path / "m.safetensors"
        model = rnnkit.Sequential([Affine(3), CheckedAffine(3), WideLSTM(3), rnnkit.Linear(6, 1, seed=0)])
        model.params["0.scale"][...] = [1.0, 2.0, 3.0]
        model.save(path)
        loaded = rnnkit.load(path)
        for k, v in model.params.items():
            np.testing.assert_array_equal(loaded.params[k], v, err_msg=k)
        assert list(param_shapes_from_spec(layer_to_spec(model))) == [
            ("1.scale", (3,)), ("1.shift", (3,)), ("3.weight", (1, 6)), ("3.bias", (1,))]
        _with_config(path, lambda s: s["config"]["layers"][1]["config"].update(n=10**9))
        error, peak = _load_measured(path)
        assert "1.scale: the config gives (1000000000,), the file (3,)" in str(error) and peak < 1_000_000
    finally:
        for cls in (Affine, CheckedAffine, WideLSTM):
            registry._builtin().pop(cls.__name__)
