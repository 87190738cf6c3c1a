"""Layer API, part 2: seeds and initialisers, dtypes, config round trip, train/eval,
dropout and recurrent-dropout semantics, import hygiene, recycled buffers."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

import rnnkit
from conftest import (
    CELL_VARIANT_IDS,
    CELL_VARIANTS,
    KIND_GATES,
    make_cell,
    make_layer,
    split_state,
)

# --------------------------------------------------------------------------------------
# seeds and initialisers
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["RNN", "LSTM", "GRU"])
def test_seed_reproducibility(kind):
    a = make_layer(kind, 3, 4, num_layers=2, bidirectional=True, seed=7)
    b = make_layer(kind, 3, 4, num_layers=2, bidirectional=True, seed=7)
    c = make_layer(kind, 3, 4, num_layers=2, bidirectional=True, seed=8)
    for k in a.params:
        np.testing.assert_array_equal(a.params[k], b.params[k], err_msg=f"same seed, different {k}")
    assert any(not np.array_equal(a.params[k], c.params[k]) for k in a.params), "different seeds, same weights"
    g1 = make_layer(kind, 3, 4, seed=np.random.default_rng(3))
    g2 = make_layer(kind, 3, 4, seed=np.random.default_rng(3))
    for k in g1.params:
        np.testing.assert_array_equal(g1.params[k], g2.params[k], err_msg=f"same Generator seed, different {k}")
    ca = make_cell(kind, 3, 4, seed=5)
    cb = make_cell(kind, 3, 4, seed=5)
    for k in ca.params:
        np.testing.assert_array_equal(ca.params[k], cb.params[k], err_msg=f"cell: same seed, different {k}")


def test_seed_drives_dropout_masks_and_masks_change_between_calls():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((3, 5, 3))
    a = rnnkit.LSTM(3, 4, num_layers=2, dropout=0.5, recurrent_dropout=0.5, dtype="float64", seed=11)
    b = rnnkit.LSTM(3, 4, num_layers=2, dropout=0.5, recurrent_dropout=0.5, dtype="float64", seed=11)
    ya1, ya2 = a.forward(x)[0], a.forward(x)[0]
    yb1 = b.forward(x)[0]
    np.testing.assert_allclose(ya1, yb1, rtol=1e-12, atol=1e-14, err_msg="same seed, different dropout masks on the first call")
    assert not np.allclose(ya1, ya2), "training forward calls reuse the same dropout masks (no new draw)"


@pytest.mark.parametrize("kind", ["RNN", "LSTM", "GRU"])
def test_pytorch_init_bounds(kind):
    H = 16
    layer = make_layer(kind, 7, H, num_layers=2, bidirectional=True, init="pytorch", seed=0)
    bound = 1 / np.sqrt(H)
    for k, v in layer.params.items():
        assert np.abs(v).max() <= bound, f"{k}: max |w| {np.abs(v).max()} > 1/sqrt(H) = {bound}"
        if v.size >= 200:
            assert np.abs(v).max() > 0.9 * bound, f"{k}: does not look like U(-1/sqrt(H), 1/sqrt(H))"
            assert abs(v.mean()) < 0.2 * bound, f"{k}: mean {v.mean()} far from 0"
    c = make_cell(kind, 7, H, seed=0)
    for k, v in c.params.items():
        assert np.abs(v).max() <= bound, f"cell {k}: max |w| > 1/sqrt(H)"


@pytest.mark.parametrize("bidirectional", [False, True])
@pytest.mark.parametrize("kind", ["RNN", "LSTM", "GRU"])
def test_keras_init_properties(kind, bidirectional):
    I, H, L = 7, 16, 2
    G = KIND_GATES[kind]
    D = 2 if bidirectional else 1
    layer = make_layer(kind, I, H, num_layers=L, bidirectional=bidirectional, init="keras", dtype="float64", seed=0)
    for k, v in layer.params.items():
        if k.startswith("weight_ih"):
            fan_in = I if "_l0" in k else D * H
            bound = np.sqrt(6.0 / (fan_in + G * H))  # Glorot on the whole (G*H, fan_in) kernel
            assert np.abs(v).max() <= bound + 1e-12, f"{k}: max |w| {np.abs(v).max()} > glorot bound {bound}"
            assert np.abs(v).max() > 0.85 * bound, f"{k}: max |w| {np.abs(v).max()} << glorot bound {bound}"
        elif k.startswith("weight_hh"):
            for g in range(G):
                blk = v[g * H:(g + 1) * H]
                np.testing.assert_allclose(blk.T @ blk, np.eye(H), atol=1e-10,
                                           err_msg=f"{k} gate block {g} is not orthogonal")
            if G > 1:
                assert not np.allclose(v[:H], v[H:2 * H]), f"{k}: gate blocks are identical"
        elif k.startswith("bias_ih") and kind == "LSTM":
            expected = np.zeros(G * H)
            expected[H:2 * H] = 1.0
            np.testing.assert_array_equal(v, expected, err_msg=f"{k}: keras LSTM bias_ih must be 0 with forget gate = 1")
        else:
            np.testing.assert_array_equal(v, np.zeros_like(v), err_msg=f"{k}: keras biases must be zero")
    if kind == "LSTM":
        f = layer.params["bias_ih_l0"][H:2 * H] + layer.params["bias_hh_l0"][H:2 * H]
        np.testing.assert_array_equal(f, np.ones(H), err_msg="LSTM forget-gate bias must sum to 1")


@pytest.mark.parametrize("kind", ["RNN", "LSTM", "GRU"])
def test_keras_init_cells(kind):
    H, G = 8, KIND_GATES[kind]
    c = make_cell(kind, 5, H, init="keras", dtype="float64", seed=0)
    for g in range(G):
        blk = c.params["weight_hh"][g * H:(g + 1) * H]
        np.testing.assert_allclose(blk.T @ blk, np.eye(H), atol=1e-10, err_msg=f"cell weight_hh block {g}")
    assert np.abs(c.params["weight_ih"]).max() <= np.sqrt(6 / (5 + G * H)) + 1e-12


# --------------------------------------------------------------------------------------
# dtypes
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize("in_dtype", [np.float16, np.float32, np.float64])
@pytest.mark.parametrize("dtype", ["float32", "float64", np.float32, np.float64])
@pytest.mark.parametrize("kind", ["RNN", "LSTM", "GRU"])
def test_dtype_end_to_end(kind, dtype, in_dtype):
    npd = np.dtype(dtype)
    rng = np.random.default_rng(0)
    layer = make_layer(kind, 3, 4, num_layers=2, bidirectional=True, dtype=dtype, seed=0)
    for k, v in layer.params.items():
        assert v.dtype == npd, f"param {k} has dtype {v.dtype}, expected {npd}"
        assert layer.grads[k].dtype == npd, f"grad {k} has dtype {layer.grads[k].dtype}, expected {npd}"
    x = rng.standard_normal((2, 3, 3)).astype(in_dtype)
    h = rng.standard_normal((4, 2, 4)).astype(in_dtype)
    st_in = (h, h.copy()) if kind == "LSTM" else h
    y, st = layer.forward(x, st_in, [3, 2])
    assert y.dtype == npd, f"y dtype {y.dtype}, expected the layer dtype {npd}"
    for s in split_state(st):
        assert s.dtype == npd, f"state dtype {s.dtype}, expected {npd}"
    dy = np.ones(y.shape, dtype=in_dtype)
    dx, ds = layer.backward(dy, tuple(np.ones_like(s) for s in split_state(st)) if kind == "LSTM" else np.ones_like(st))
    assert dx.dtype == npd, f"dx dtype {dx.dtype}, expected {npd}"
    for s in split_state(ds):
        assert s.dtype == npd, f"dstate0 dtype {s.dtype}, expected {npd}"
    for k, g in layer.grads.items():
        assert g.dtype == npd, f"grad {k} became {g.dtype}"
    assert np.asarray(layer.hidden_grad_norms).shape == (2, 2, 3)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("kind", ["RNN", "LSTM", "GRU"])
def test_cell_dtype(kind, dtype):
    c = make_cell(kind, 3, 4, dtype=dtype, seed=0)
    out = c(np.ones((2, 3), dtype=np.float64))
    for o in split_state(out):
        assert o.dtype == np.dtype(dtype)
    dx, ds = c.backward(tuple(np.ones((2, 4)) for _ in split_state(out)) if kind == "LSTM" else np.ones((2, 4)))
    assert dx.dtype == np.dtype(dtype)
    for k, v in c.params.items():
        assert v.dtype == np.dtype(dtype) and c.grads[k].dtype == np.dtype(dtype)


# --------------------------------------------------------------------------------------
# config, modes
# --------------------------------------------------------------------------------------


CONFIG_CASES = [
    ("RNN", dict(num_layers=2, bias=False, batch_first=False, dropout=0.25, bidirectional=True,
                 recurrent_dropout=0.1, init="keras", dtype="float64", seed=3, nonlinearity="relu")),
    ("LSTM", dict(num_layers=3, bias=True, batch_first=True, dropout=0.0, bidirectional=False,
                  recurrent_dropout=0.3, init="pytorch", dtype="float32", seed=4)),
    ("GRU", dict(num_layers=1, bias=True, batch_first=False, dropout=0.0, bidirectional=True,
                 recurrent_dropout=0.0, init="keras", dtype="float64", seed=5, reset_after=False)),
]


@pytest.mark.parametrize("case", CONFIG_CASES, ids=[c[0] for c in CONFIG_CASES])
def test_get_config_from_config_round_trip(case):
    kind, kwargs = case
    cls = getattr(rnnkit, kind)
    layer = cls(3, 5, **kwargs)
    cfg = layer.get_config()
    assert isinstance(cfg, dict)
    assert cfg["input_size"] == 3 and cfg["hidden_size"] == 5
    for k, v in kwargs.items():
        if k == "dtype":
            assert np.dtype(cfg[k]) == np.dtype(v), f"config dtype {cfg[k]!r} != {v!r}"
        else:
            assert cfg[k] == v, f"config[{k!r}] = {cfg.get(k)!r}, constructor got {v!r}"
    clone = cls.from_config(cfg)
    assert type(clone) is cls
    cfg2 = clone.get_config()
    assert {k: v for k, v in cfg2.items() if k != "dtype"} == {k: v for k, v in cfg.items() if k != "dtype"}
    assert np.dtype(cfg2["dtype"]) == np.dtype(cfg["dtype"])
    for k in layer.params:  # same seed -> same weights
        np.testing.assert_array_equal(clone.params[k], layer.params[k], err_msg=f"from_config: {k} differs")
    assert clone.params[next(iter(clone.params))].dtype == np.dtype(kwargs["dtype"])


def test_train_eval_flags():
    layer = rnnkit.LSTM(3, 4, dropout=0.5, num_layers=2)
    assert layer.training is True, "layers start in training mode, as in PyTorch"
    assert layer.eval() is layer
    assert layer.training is False
    assert layer.train() is layer
    assert layer.training is True


# --------------------------------------------------------------------------------------
# dropout semantics
# --------------------------------------------------------------------------------------


def test_inter_layer_dropout_inverted_scaling():
    """2-layer relu RNN where layer 2 is the identity on its input: y2 = dropout(y1), so the
    ratio y2/y1 is 0 or 1/(1-p) everywhere and about a fraction p of units are dropped."""
    p, N, T, H = 0.5, 40, 6, 8
    one = rnnkit.RNN(H, H, nonlinearity="relu", dtype="float64", seed=0)
    two = rnnkit.RNN(H, H, num_layers=2, nonlinearity="relu", dropout=p, dtype="float64", seed=0)
    sd = {k: np.zeros_like(v) for k, v in two.params.items()}
    rng = np.random.default_rng(1)
    sd["weight_ih_l0"] = rng.uniform(0.1, 1.0, (H, H))
    sd["weight_ih_l1"] = np.eye(H)
    two.load_state_dict(sd)
    one.load_state_dict({k: sd[k] for k in one.params})
    x = rng.uniform(0.5, 1.0, (N, T, H))
    y1, _ = one.forward(x)
    assert np.all(y1 > 0)
    two.set_rng(0)
    y2, _ = two.forward(x)
    ratio = y2 / y1
    kept = np.isclose(ratio, 1 / (1 - p), rtol=1e-12)
    dropped = ratio == 0
    assert np.all(kept | dropped), f"y2/y1 not in {{0, {1 / (1 - p)}}}: {np.unique(np.round(ratio, 6))}"
    assert 0.4 < dropped.mean() < 0.6, f"dropped fraction {dropped.mean():.3f}, expected about {p}"
    two.eval()
    np.testing.assert_allclose(two.forward(x)[0], y1, rtol=1e-12, atol=1e-14, err_msg="eval mode must not drop")


@pytest.mark.parametrize("bidirectional", [False, True])
def test_recurrent_dropout_mask_is_reused_at_every_step(bidirectional):
    """relu RNN, W_ih = W_hh = I, b = 0, x = 1: h_t = 1 + m * h_{t-1} / (1-p).
    With a per-sequence mask reused at each step, each unit either stays at 1 for all t
    (dropped) or follows h_t = 1 + h_{t-1} / (1-p) for all t (kept)."""
    p, N, T, H = 0.5, 30, 5, 8
    layer = rnnkit.RNN(H, H, nonlinearity="relu", recurrent_dropout=p, bidirectional=bidirectional,
                       dtype="float64", seed=0)
    sd = {k: np.zeros_like(v) for k, v in layer.params.items()}
    for k in sd:
        if k.startswith("weight"):
            sd[k] = np.eye(H)
    layer.load_state_dict(sd)
    x = np.ones((N, T, H))
    layer.set_rng(3)
    y, _ = layer.forward(x)
    D = 2 if bidirectional else 1
    kept_ref = np.empty(T)
    kept_ref[0] = 1.0
    for t in range(1, T):
        kept_ref[t] = 1 + kept_ref[t - 1] / (1 - p)
    masks = []
    for d in range(D):
        yd = y[:, :, d * H:(d + 1) * H]  # (N, T, H)
        if d == 1:
            yd = yd[:, ::-1]  # reverse direction: step order is reversed time
        dropped = np.all(yd == 1.0, axis=1)
        kept = np.all(np.isclose(yd, kept_ref[None, :, None], rtol=1e-12), axis=1)
        assert np.all(dropped | kept), (
            f"direction {d}: some unit neither stays dropped nor stays kept across steps "
            "(recurrent dropout mask is not reused at every step, or is scaled wrongly)")
        assert 0.35 < dropped.mean() < 0.65, f"direction {d}: dropped fraction {dropped.mean():.3f}, expected {p}"
        assert len({tuple(r) for r in dropped}) > 1, "every sequence got the same mask (expected one per sequence)"
        masks.append(dropped)
    if bidirectional:
        assert not np.array_equal(masks[0], masks[1]), "both directions share one recurrent-dropout mask"
    layer.eval()
    y_eval, _ = layer.forward(x)
    np.testing.assert_allclose(y_eval[:, :, :H], np.broadcast_to(np.arange(1, T + 1)[None, :, None], (N, T, H)),
                               rtol=1e-12, err_msg="eval mode must not apply recurrent dropout")


# --------------------------------------------------------------------------------------
# import hygiene
# --------------------------------------------------------------------------------------


def test_import_rnnkit_does_not_import_heavy_modules():
    code = "import rnnkit, sys; print([m for m in ('torch', 'pandas', 'matplotlib') if m in sys.modules])"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]", f"import rnnkit imported: {out.stdout.strip()}"


def test_public_names():
    for name in ("RNN", "LSTM", "GRU", "RNNCell", "LSTMCell", "GRUCell"):
        assert hasattr(rnnkit, name), f"rnnkit.{name} missing"


@pytest.mark.parametrize("cell", CELL_VARIANTS, ids=CELL_VARIANT_IDS)
def test_recycled_workspace_never_leaks_into_returned_arrays(cell):
    """Layers recycle their internal buffers between calls; what they return must not change
    when the layer runs again (outputs, states, dx, dstate0 are the caller's own arrays)."""
    kind, extra, cid = cell
    rng = np.random.default_rng(3)
    layer = make_layer(kind, 3, 4, num_layers=2, bidirectional=True, dtype="float64", seed=0, **extra)
    x1, x2 = rng.standard_normal((2, 5, 3)), rng.standard_normal((2, 5, 3))
    dy = rng.standard_normal((2, 5, 8))
    y1, s1 = layer.forward(x1)
    dx1, ds1 = layer.backward(dy)
    kept = [a.copy() for a in [y1, dx1, *split_state(s1), *split_state(ds1)]]
    layer.forward(x2, lengths=[5, 3])
    layer.backward(dy)
    layer.forward(x2)
    for before, after in zip(kept, [y1, dx1, *split_state(s1), *split_state(ds1)]):
        np.testing.assert_array_equal(after, before, err_msg="a returned array changed after later calls")
    layer.backward(dy)
    with pytest.raises(RuntimeError, match="without a forward"):
        layer.backward(dy)  # backward consumes the forward's cache, as PyTorch frees its graph


def test_every_recurrent_layer_shows_its_arguments():
    """help() and IDEs show every constructor argument: no **options left in the signature, and
    the names are those get_config() saves"""
    import inspect

    for cls in (rnnkit.RNN, rnnkit.LSTM, rnnkit.GRU):
        params = inspect.signature(cls).parameters
        assert not any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values()), cls.__name__
        assert set(params) == set(cls(2, 3).get_config()), cls.__name__
    with pytest.raises(TypeError, match="unexpected keyword"):
        rnnkit.LSTM(2, 3, nonlinearity="relu")
