"""A Forecaster file whose fitted state was edited by hand, or damaged, is refused at load with
a LoadError that names the attribute, instead of loading and failing deep inside predict."""

from __future__ import annotations

import json

import numpy as np
import pytest

import rnnkit
from rnnkit.errors import LoadError
from rnnkit.estimators import Forecaster
from rnnkit.io.safetensors import read_safetensors, write_safetensors


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    y = np.sin(np.arange(120) / 3) + 0.01 * np.arange(120)
    f = Forecaster(horizon=3, lookback=12, seasonal_period=6, hidden_size=4, epochs=2, seed=0,
                   verbose=False).fit(y)
    path = tmp_path_factory.mktemp("fc") / "f.safetensors"
    f.save(path)
    return path, f.predict()


def _edit(path, tmp_path, key, value):
    tensors, meta = read_safetensors(path)
    record = json.loads(meta["estimator"])
    record["state"][key] = value
    meta["estimator"] = json.dumps(record)
    out = tmp_path / "edited.safetensors"
    write_safetensors(out, tensors, meta)
    return out


def test_the_file_as_saved_loads_and_predicts_the_same(saved):
    path, want = saved
    np.testing.assert_array_equal(rnnkit.load(path).predict(), want)


@pytest.mark.parametrize("key, value, message", [
    ("anchor_period_", 0, r"anchor_period_ must be an int >= 1"),
    ("anchor_period_", 13, r"anchor_period_ must lie in 1..lookback_ = 12, got 13"),
    ("anchor_period_", 2.5, r"anchor_period_ must be an int"),
    ("lookback_", "x", r"lookback_ must be an int >= 1, got 'x'"),
    ("lookback_", 11, r"tails_ must have shape \(1, 11, 1\)"),
    ("n_channels_", None, r"n_channels_ must be an int >= 1, got None"),
    ("is_list_", "no", r"is_list_ must be a bool"),
    ("index_info_", 0, r"index_info_ must be a list of 1 entries"),
    ("strategy_", "sideways", r"strategy_ must be one of"),
])
def test_an_edited_state_is_refused_at_load(saved, tmp_path, key, value, message):
    path, _ = saved
    with pytest.raises(LoadError, match=message):
        rnnkit.load(_edit(path, tmp_path, key, value))
