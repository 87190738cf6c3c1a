"""Layer API: parameters / state_dict, gradient bookkeeping, seeds, initialisers, dtypes,
config round trip, train/eval, recurrent dropout semantics, import hygiene."""

from __future__ import annotations

import re

import numpy as np
import pytest
import torch

import rnnkit
from conftest import (
    CELL_VARIANT_IDS,
    CELL_VARIANTS,
    KIND_GATES,
    assert_all_close,
    make_cell,
    make_layer,
    param_names,
    split_state,
)

# (kind, extra, num_layers, bidirectional, bias)
SD_CONFIGS = [
    ("RNN", {"nonlinearity": "relu"}, 1, False, True),
    ("RNN", {}, 3, True, False),
    ("LSTM", {}, 1, True, True),
    ("LSTM", {}, 2, True, False),
    ("LSTM", {}, 3, False, True),
    ("GRU", {}, 2, True, True),
    ("GRU", {"reset_after": False}, 2, False, True),
]
SD_IDS = [f"{k}-L{l}{'-bi' if b else ''}{'' if bias else '-nobias'}{'-' + str(e) if e else ''}"
          for k, e, l, b, bias in SD_CONFIGS]


def _torch_module(kind, extra, I, H, **kw):
    if kind == "RNN":
        kw["nonlinearity"] = extra.get("nonlinearity", "tanh")
    return getattr(torch.nn, kind)(I, H, **kw)


@pytest.mark.parametrize("cfg", SD_CONFIGS, ids=SD_IDS)
def test_state_dict_keys_order_and_shapes_equal_torch(cfg):
    kind, extra, L, bi, bias = cfg
    I, H = 3, 5
    layer = make_layer(kind, I, H, num_layers=L, bidirectional=bi, bias=bias, seed=0, **extra)
    module = _torch_module(kind, extra, I, H, num_layers=L, bidirectional=bi, bias=bias)
    expected = [(k, tuple(v.shape)) for k, v in module.state_dict().items()]
    assert expected == [(k, s) for k, s in zip(param_names(L, bi, bias), [e[1] for e in expected])]
    sd = layer.state_dict()
    assert [(k, tuple(np.shape(v))) for k, v in sd.items()] == expected, "state_dict keys/order/shapes differ from torch"
    assert [(k, v.shape) for k, v in layer.params.items()] == expected, "params keys/order/shapes differ from torch"
    assert [(k, v.shape) for k, v in layer.grads.items()] == expected, "grads keys/order/shapes differ from torch"
    for k, v in sd.items():
        assert isinstance(v, np.ndarray) and v.dtype == np.float32, f"{k}: {type(v)} {getattr(v, 'dtype', None)}"


@pytest.mark.parametrize("cell", CELL_VARIANTS, ids=CELL_VARIANT_IDS)
def test_cell_param_names_and_shapes(cell):
    kind, extra, cid = cell
    G = KIND_GATES[kind]
    c = make_cell(kind, 3, 4, seed=0, **extra)
    assert [(k, v.shape) for k, v in c.params.items()] == [
        ("weight_ih", (G * 4, 3)), ("weight_hh", (G * 4, 4)), ("bias_ih", (G * 4,)), ("bias_hh", (G * 4,))]
    assert list(c.grads) == list(c.params)
    nb = make_cell(kind, 3, 4, bias=False, seed=0, **extra)
    assert list(nb.params) == ["weight_ih", "weight_hh"]


def test_state_dict_returns_copies():
    layer = rnnkit.LSTM(3, 4, seed=0)
    sd = layer.state_dict()
    before = layer.params["weight_ih_l0"].copy()
    sd["weight_ih_l0"][...] = 123.0
    np.testing.assert_array_equal(layer.params["weight_ih_l0"], before, err_msg="state_dict() must return copies")


def test_params_are_live_arrays():
    """Editing layer.params in place changes what forward computes."""
    rng = np.random.default_rng(0)
    layer = rnnkit.GRU(3, 4, dtype="float64", seed=0)
    x = rng.standard_normal((2, 3, 3))
    y1, _ = layer.forward(x)
    layer.params["weight_hh_l0"] *= 2.0
    y2, _ = layer.forward(x)
    assert not np.allclose(y1, y2), "in-place edit of layer.params had no effect on forward"


@pytest.mark.parametrize("cfg", SD_CONFIGS, ids=SD_IDS)
def test_load_state_dict_round_trip_is_exact(cfg):
    kind, extra, L, bi, bias = cfg
    rng = np.random.default_rng(1)
    a = make_layer(kind, 3, 4, num_layers=L, bidirectional=bi, bias=bias, dtype="float64", seed=1, **extra)
    b = make_layer(kind, 3, 4, num_layers=L, bidirectional=bi, bias=bias, dtype="float64", seed=2, **extra)
    sd = a.state_dict()
    b.load_state_dict(sd)
    for k in sd:
        np.testing.assert_array_equal(b.params[k], a.params[k], err_msg=f"{k} not loaded exactly")
    # the loaded arrays are copies
    sd[next(iter(sd))][...] = 7.0
    assert not np.all(b.params[next(iter(sd))] == 7.0), "load_state_dict aliased the caller's array"
    x = rng.standard_normal((2, 4, 3))
    np.testing.assert_allclose(a.forward(x)[0], b.forward(x)[0], rtol=1e-12, atol=1e-14)
    # array-likes: nested lists
    c = make_layer(kind, 3, 4, num_layers=L, bidirectional=bi, bias=bias, dtype="float64", seed=3, **extra)
    c.load_state_dict({k: v.tolist() for k, v in a.state_dict().items()})
    for k, v in a.state_dict().items():
        np.testing.assert_array_equal(c.params[k], v, err_msg=f"{k} not loaded exactly from a list")


def test_load_state_dict_keeps_layer_dtype():
    a = rnnkit.LSTM(3, 4, dtype="float64", seed=0)
    b = rnnkit.LSTM(3, 4, dtype="float32", seed=1)
    b.load_state_dict(a.state_dict())
    for k, v in b.params.items():
        assert v.dtype == np.float32, f"{k} became {v.dtype} after loading float64 values"
        np.testing.assert_array_equal(v, a.params[k].astype(np.float32))


def test_load_state_dict_reports_missing_unexpected_and_misshaped_together():
    layer = rnnkit.LSTM(3, 4, num_layers=2, seed=0)
    sd = {k: v + 1.0 for k, v in layer.state_dict().items()}  # valid keys carry new values
    del sd["bias_hh_l1"]
    sd["weight_ih_l0"] = np.zeros((4, 3))  # expected (16, 3)
    sd["bogus_key"] = np.zeros(3)
    before = layer.state_dict()
    with pytest.raises(ValueError) as exc:
        layer.load_state_dict(sd)
    msg = str(exc.value)
    for needle in ("bias_hh_l1", "bogus_key", "weight_ih_l0"):
        assert needle in msg, f"load_state_dict error does not mention {needle!r}: {msg}"
    assert "16, 3" in msg and "4, 3" in msg, f"mis-shaped key: message should give expected and received shapes: {msg}"
    for k, v in before.items():  # nothing half-loaded
        np.testing.assert_array_equal(layer.params[k], v, err_msg=f"failed load_state_dict modified {k}")


@pytest.mark.parametrize("problem", ["missing", "unexpected", "misshaped"])
def test_load_state_dict_each_problem_alone_raises(problem):
    layer = rnnkit.GRU(3, 4, seed=0)
    sd = layer.state_dict()
    if problem == "missing":
        del sd["weight_hh_l0"]
        needle = "weight_hh_l0"
    elif problem == "unexpected":
        sd["weight_ih_l1"] = np.zeros((12, 4))
        needle = "weight_ih_l1"
    else:
        sd["bias_ih_l0"] = np.zeros(13)
        needle = "bias_ih_l0"
    with pytest.raises(ValueError, match=needle):
        layer.load_state_dict(sd)


def _rand_fwd_bwd(layer, rng, N, T, I, lengths=None):
    x = rng.standard_normal((N, T, I))
    y, st = layer.forward(x, None, lengths)
    dy = rng.standard_normal(y.shape)
    return x, dy


@pytest.mark.parametrize("cell", CELL_VARIANTS, ids=CELL_VARIANT_IDS)
def test_zero_grad_and_accumulation(cell):
    kind, extra, cid = cell
    rng = np.random.default_rng(0)
    layer = make_layer(kind, 3, 4, num_layers=2, bidirectional=True, dtype="float64", seed=0, **extra)
    for k, g in layer.grads.items():
        assert np.all(g == 0), f"grads[{k}] not zero on a fresh layer"
    x = rng.standard_normal((2, 5, 3))
    dy = rng.standard_normal((2, 5, 8))
    layer.forward(x)
    layer.backward(dy)
    g1 = {k: v.copy() for k, v in layer.grads.items()}
    assert all(np.any(v != 0) for v in g1.values()), "some gradient is identically zero after backward"
    layer.forward(x)
    layer.backward(dy)
    assert_all_close([(k, layer.grads[k], 2 * g1[k]) for k in g1], rtol=1e-12, atol=0,
                     context="grads after two identical backward calls should be doubled")
    layer.zero_grad()
    for k, g in layer.grads.items():
        assert np.all(g == 0), f"zero_grad left grads[{k}] non-zero"
    layer.forward(x)
    layer.backward(dy)
    assert_all_close([(k, layer.grads[k], g1[k]) for k in g1], rtol=1e-12, atol=0, context="after zero_grad")


@pytest.mark.parametrize("cell", CELL_VARIANTS, ids=CELL_VARIANT_IDS)
def test_multi_batch_run_has_no_leaked_state(cell):
    """Several batches of different N, T, lengths through one layer == a fresh layer per batch,
    and earlier outputs are not overwritten by later calls."""
    kind, extra, cid = cell
    rng = np.random.default_rng(5)
    I, H = 3, 4
    kw = dict(num_layers=2, bidirectional=True, dtype="float64", **extra)
    layer = make_layer(kind, I, H, seed=0, **kw)
    sd = layer.state_dict()
    batches = [(2, 5, None), (4, 3, [3, 1, 2, 3]), (1, 7, [4]), (3, 2, None), (5, 6, [6, 2, 5, 1, 3])]
    kept = []
    for N, T, lengths in batches:
        x = rng.standard_normal((N, T, I))
        h = rng.standard_normal((4, N, H))
        state = (h, rng.standard_normal((4, N, H))) if kind == "LSTM" else h
        dy = rng.standard_normal((N, T, 2 * H))
        dstate = tuple(rng.standard_normal((4, N, H)) for _ in split_state(state))
        dstate = dstate if kind == "LSTM" else dstate[0]
        layer.zero_grad()
        y, st = layer.forward(x, state, lengths)
        dx, ds0 = layer.backward(dy, dstate)
        got = {"y": y, "dx": dx, "st": split_state(st), "ds0": split_state(ds0),
               "grads": {k: v.copy() for k, v in layer.grads.items()}}
        fresh = make_layer(kind, I, H, seed=99, **kw)
        fresh.load_state_dict(sd)
        fy, fst = fresh.forward(x, state, lengths)
        fdx, fds0 = fresh.backward(dy, dstate)
        exp = {"y": fy, "dx": fdx, "st": split_state(fst), "ds0": split_state(fds0), "grads": fresh.grads}
        pairs = [("y", got["y"], exp["y"]), ("dx", got["dx"], exp["dx"])]
        pairs += [(f"state[{i}]", a, b) for i, (a, b) in enumerate(zip(got["st"], exp["st"]))]
        pairs += [(f"dstate0[{i}]", a, b) for i, (a, b) in enumerate(zip(got["ds0"], exp["ds0"]))]
        pairs += [(f"grad {k}", got["grads"][k], exp["grads"][k]) for k in exp["grads"]]
        assert_all_close(pairs, rtol=1e-12, atol=1e-14, context=f"batch N={N} T={T} lengths={lengths}")
        kept.append((got, {"y": fy.copy(), "dx": fdx.copy()}))
    for i, (got, exp) in enumerate(kept):
        np.testing.assert_allclose(got["y"], exp["y"], rtol=1e-12, atol=1e-14, err_msg=f"y of batch {i} was overwritten by a later call")
        np.testing.assert_allclose(got["dx"], exp["dx"], rtol=1e-12, atol=1e-14, err_msg=f"dx of batch {i} was overwritten later")


@pytest.mark.parametrize("lengths", [[4, 2], None], ids=["packed", "full"])
@pytest.mark.parametrize("cell", CELL_VARIANTS, ids=CELL_VARIANT_IDS)
def test_inputs_are_not_modified(cell, lengths):
    """Neither with lengths (packed) nor without."""
    kind, extra, cid = cell
    rng = np.random.default_rng(0)
    layer = make_layer(kind, 3, 4, num_layers=2, dtype="float64", seed=0, recurrent_dropout=0.3, dropout=0.3, **extra)
    x = rng.standard_normal((2, 4, 3))
    st = tuple(rng.standard_normal((2, 2, 4)) for _ in range(2 if kind == "LSTM" else 1))
    st = st if kind == "LSTM" else st[0]
    dy = rng.standard_normal((2, 4, 4))
    dst = tuple(rng.standard_normal((2, 2, 4)) for _ in split_state(st))
    dst = dst if kind == "LSTM" else dst[0]
    copies = [a.copy() for a in [x, dy, *split_state(st), *split_state(dst)]]
    layer.forward(x, st, lengths)
    layer.backward(dy, dst)
    for i, (a, b) in enumerate(zip([x, dy, *split_state(st), *split_state(dst)], copies)):
        np.testing.assert_array_equal(a, b, err_msg=f"input #{i} (x, dy, state..., dstate...) was modified")


def test_non_contiguous_input_same_result():
    rng = np.random.default_rng(0)
    layer = rnnkit.LSTM(3, 4, bidirectional=True, dtype="float64", seed=0)
    base = rng.standard_normal((4, 6, 3))
    x_nc = base.transpose(1, 0, 2)[:, ::2]  # (6, 2, 3) view -> needs batch_first=False
    layer_tf = rnnkit.LSTM(3, 4, bidirectional=True, dtype="float64", seed=1, batch_first=False)
    layer_tf.load_state_dict(layer.state_dict())
    y1, _ = layer_tf.forward(x_nc)
    y2, _ = layer_tf.forward(np.ascontiguousarray(x_nc))
    np.testing.assert_allclose(y1, y2, rtol=1e-12, atol=1e-14)
    y3, _ = layer.forward(np.ascontiguousarray(x_nc.transpose(1, 0, 2)))
    np.testing.assert_allclose(y3.transpose(1, 0, 2), y1, rtol=1e-13, atol=1e-15,
                               err_msg="batch_first=True vs batch_first=False disagree")


@pytest.mark.parametrize("cell", CELL_VARIANTS, ids=CELL_VARIANT_IDS)
def test_state_none_equals_zero_state_and_dstate_none_equals_zeros(cell):
    kind, extra, cid = cell
    rng = np.random.default_rng(0)
    layer = make_layer(kind, 3, 4, num_layers=2, bidirectional=True, dtype="float64", seed=0, **extra)
    x = rng.standard_normal((2, 4, 3))
    dy = rng.standard_normal((2, 4, 8))
    zeros = tuple(np.zeros((4, 2, 4)) for _ in range(2 if kind == "LSTM" else 1))
    zeros = zeros if kind == "LSTM" else zeros[0]
    y1, s1 = layer.forward(x)
    dx1, d1 = layer.backward(dy)
    y2, s2 = layer.forward(x, zeros)
    dx2, d2 = layer.backward(dy, tuple(np.zeros_like(z) for z in split_state(zeros)) if kind == "LSTM" else np.zeros((4, 2, 4)))
    pairs = [("y", y1, y2), ("dx", dx1, dx2)]
    pairs += [(f"state{i}", a, b) for i, (a, b) in enumerate(zip(split_state(s1), split_state(s2)))]
    pairs += [(f"dstate0{i}", a, b) for i, (a, b) in enumerate(zip(split_state(d1), split_state(d2)))]
    assert_all_close(pairs, rtol=1e-12, atol=1e-14, context="state=None vs zeros")
    if kind == "LSTM":
        assert isinstance(s1, tuple) and len(s1) == 2 and isinstance(d1, tuple) and len(d1) == 2


@pytest.mark.parametrize("batch_first", [True, False])
@pytest.mark.parametrize("cell", CELL_VARIANTS, ids=CELL_VARIANT_IDS)
def test_output_shapes(cell, batch_first):
    kind, extra, cid = cell
    N, T, I, H, L = 2, 5, 3, 4, 3
    layer = make_layer(kind, I, H, num_layers=L, bidirectional=True, batch_first=batch_first, seed=0, **extra)
    x = np.zeros((N, T, I) if batch_first else (T, N, I), np.float32)
    y, st = layer(x)
    assert y.shape == ((N, T, 2 * H) if batch_first else (T, N, 2 * H))
    for s in split_state(st):
        assert s.shape == (2 * L, N, H)
    dx, ds = layer.backward(np.ones_like(y))
    assert dx.shape == x.shape
    for s in split_state(ds):
        assert s.shape == (2 * L, N, H)
    # unbatched
    yu, su = layer(np.zeros((T, I), np.float32))
    assert yu.shape == (T, 2 * H)
    for s in split_state(su):
        assert s.shape == (2 * L, H)
    dxu, dsu = layer.backward(np.ones_like(yu))
    assert dxu.shape == (T, I)
    for s in split_state(dsu):
        assert s.shape == (2 * L, H)


@pytest.mark.parametrize("cell", CELL_VARIANTS, ids=CELL_VARIANT_IDS)
def test_padded_outputs_and_dx_are_zero(cell):
    kind, extra, cid = cell
    rng = np.random.default_rng(0)
    layer = make_layer(kind, 3, 4, num_layers=2, bidirectional=True, dtype="float64", seed=0, **extra)
    lengths = [2, 5, 1]
    x = rng.standard_normal((3, 5, 3))
    y, _ = layer.forward(x, lengths=lengths)
    dx, _ = layer.backward(rng.standard_normal(y.shape))
    for n, ln in enumerate(lengths):
        assert np.all(y[n, ln:] == 0), f"padded outputs of sequence {n} (length {ln}) are not zero"
        assert np.all(dx[n, ln:] == 0), f"dx at padded steps of sequence {n} (length {ln}) is not zero"
        if extra.get("nonlinearity") != "relu":
            assert np.all(y[n, :ln] != 0), f"valid outputs of sequence {n} are zero"


def test_call_equals_forward():
    rng = np.random.default_rng(0)
    layer = rnnkit.GRU(3, 4, dtype="float64", seed=0)
    x = rng.standard_normal((2, 3, 3))
    np.testing.assert_allclose(layer(x)[0], layer.forward(x)[0], rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(layer(x, lengths=[3, 1])[0], layer.forward(x, None, [3, 1])[0], rtol=1e-12, atol=1e-14)


def test_lengths_accept_list_tuple_and_numpy():
    rng = np.random.default_rng(0)
    layer = rnnkit.LSTM(3, 4, dtype="float64", seed=0)
    x = rng.standard_normal((3, 4, 3))
    ref = layer.forward(x, lengths=[4, 2, 3])[0]
    for lens in ((4, 2, 3), np.array([4, 2, 3]), np.array([4, 2, 3], dtype=np.int32)):
        np.testing.assert_allclose(layer.forward(x, lengths=lens)[0], ref, rtol=1e-12, atol=1e-14, err_msg=f"lengths given as {type(lens)}")


@pytest.mark.parametrize("make, name, got", [
    (lambda: rnnkit.LSTM("3", 4), "input_size", "'3' (a str)"),
    (lambda: rnnkit.GRU(3, 4.0), "hidden_size", "4.0 (a float)"),
    (lambda: rnnkit.RNN(3, 4, num_layers=True), "num_layers", "True (a bool)"),
    (lambda: rnnkit.LSTM(3, 4, dropout="0.1"), "dropout", "'0.1' (a str)"),
    (lambda: rnnkit.LSTM(3, 4, recurrent_dropout=False), "recurrent_dropout", "False (a bool)"),
    (lambda: rnnkit.Linear(np.float64(3), 2), "in_features", "(a float64)"),
    (lambda: rnnkit.Dropout(None), "p", "None (a NoneType)"),
], ids=["str", "float", "bool", "dropout-str", "dropout-bool", "np-float", "None"])
def test_constructor_arguments_of_the_wrong_type_raise_type_error(make, name, got):
    """A str, float or bool where a number is expected is a TypeError (as documented, and as in
    PyTorch), one that except ValueError also catches; a number out of range stays a ValueError."""
    with pytest.raises(TypeError, match=rf"The '{name}' parameter of \w+ must be .*Got .*{re.escape(got)} instead"
                       ) as err:
        make()
    assert isinstance(err.value, ValueError)
    for bad in (lambda: rnnkit.LSTM(3, 0), lambda: rnnkit.LSTM(3, 4, dropout=1.0)):
        with pytest.raises(ValueError, match="Got") as err:
            bad()
        assert not isinstance(err.value, TypeError)
    assert rnnkit.LSTM(np.int64(3), 4, dropout=np.float32(0.25)).input_size == 3


@pytest.mark.parametrize("module", [rnnkit.LSTM(3, 4), rnnkit.Linear(3, 2), rnnkit.Sequential([rnnkit.GRU(3, 4)])],
                         ids=["LSTM", "Linear", "Sequential"])
def test_train_requires_a_bool(module):
    """train("no") or train(0) raise TypeError, as torch.nn.Module.train does, and leave the mode."""
    module.eval()
    for bad in ("no", 0, None):
        with pytest.raises(TypeError, match=rf"The 'mode' parameter of \w+.train must be a bool. Got {bad!r}"):
            module.train(bad)
        assert module.training is False
    assert module.train(np.bool_(True)).training is True
