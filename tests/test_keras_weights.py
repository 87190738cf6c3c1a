"""rnnkit <-> Keras 3 (torch backend): to_keras, from_keras, layer_from_keras against real Keras layers.

Keras SimpleRNN (tanh, relu), LSTM, GRU (reset_after True and False), with and without bias, float32
and float64, 1 and 2 stacked layers, alone and in Bidirectional: the same outputs
(return_sequences=True) and final states (return_state=True) both ways, exact round trips, and
every documented error.

float64: Keras 3's type promotion turns float64 results into float32 on every backend but
TensorFlow (JAX's rule without x64: ``BIT64_TO_BIT32_DTYPE`` in keras/src/backend/common/dtypes.py),
so a Keras layer with dtype="float64" on the torch backend holds float64 weights but rounds every
matmul to float32 (about 1e-7 from a float64 loop). The float64 cases lift that rule for their
duration (the ``keras_precision`` fixture), so that Keras's own layer code runs in float64 and
agrees to 1e-10.
"""

from __future__ import annotations

import os
import subprocess
import sys

os.environ["KERAS_BACKEND"] = "torch"  # before keras is imported anywhere

import numpy as np
import pytest
import torch


@pytest.fixture
def keras_precision(dtype, monkeypatch):
    """For the float64 cases, Keras's matmuls kept in float64 (see the module docstring); undone
    after the test."""
    if dtype == "float64":
        from keras.src.backend.common import dtypes

        monkeypatch.setitem(dtypes.BIT64_TO_BIT32_DTYPE, "float64", "float64")


def _torch_settings():
    return (torch.get_default_dtype(), torch.get_num_threads(), torch.get_num_interop_threads(),
            torch.is_grad_enabled(), str(torch.get_default_device()))


_TORCH_BEFORE_KERAS = _torch_settings()

import keras  # noqa: E402

_TORCH_AFTER_KERAS = _torch_settings()

import rnnkit  # noqa: E402
from conftest import CELL_VARIANT_IDS, CELL_VARIANTS  # noqa: E402
from rnnkit.io import from_keras, layer_from_keras, to_keras  # noqa: E402

# Keras's torch backend calls np.array(tensor), which NumPy 2 warns about inside Keras, not here
pytestmark = [pytest.mark.filterwarnings("ignore:__array__ implementation doesn't accept a copy keyword"),
              pytest.mark.usefixtures("global_state_restored")]   # Keras seeds from Python's random

TOL = {"float32": dict(rtol=1e-5, atol=1e-5), "float64": dict(rtol=1e-10, atol=1e-10)}
N, T, I, H = 3, 6, 4, 5
GATES = {"RNN": 1, "LSTM": 4, "GRU": 3}


def test_importing_keras_leaves_torch_settings_alone():
    assert _TORCH_AFTER_KERAS == _TORCH_BEFORE_KERAS, "import keras changed torch's global settings"
    assert keras.backend.backend() == "torch"


def test_import_rnnkit_imports_no_keras_tensorflow_or_torch():
    code = ("import sys, rnnkit, rnnkit.io; "
            "print(sorted(m for m in ('keras', 'tensorflow', 'torch') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]", out


# -- helpers -------------------------------------------------------------------------------------

def keras_layer(kind, extra, units, *, bias=True, dtype="float32", bidirectional=False, **kw):
    """A Keras layer returning (y, *final states), unbuilt."""
    kw = dict(use_bias=bias, return_sequences=True, return_state=True, dtype=dtype, **kw)
    if kind == "RNN":
        layer = keras.layers.SimpleRNN(units, activation=extra["nonlinearity"], **kw)
    elif kind == "LSTM":
        layer = keras.layers.LSTM(units, **kw)
    else:
        layer = keras.layers.GRU(units, reset_after=extra["reset_after"], **kw)
    return keras.layers.Bidirectional(layer, dtype=dtype) if bidirectional else layer


def keras_stack(kind, extra, num_layers, **kw):
    """num_layers Keras layers, built on inputs of I features (each on the previous one's output)."""
    D = 2 if kw.get("bidirectional") else 1
    layers = [keras_layer(kind, extra, H, **kw) for _ in range(num_layers)]
    for l, layer in enumerate(layers):
        layer.build((None, T, I if l == 0 else D * H))
    return layers


def run_keras(layers, x, kind):
    """Keras forward through the stack -> y (N, T, D*H) and states [h] / [h, c] of shape (L*D, N, H)."""
    S = 2 if kind == "LSTM" else 1
    out, finals = keras.ops.convert_to_tensor(x), []
    for layer in layers:
        res = layer(out)
        out, states = res[0], [keras.ops.convert_to_numpy(s) for s in res[1:]]
        finals += [states[d * S:(d + 1) * S] for d in range(len(states) // S)]  # one [h(, c)] per direction
    return keras.ops.convert_to_numpy(out), [np.stack([f[s] for f in finals]) for s in range(S)]


def run_rnnkit(layer, x):
    layer.eval()
    y, state = layer(x)
    return y, list(state) if isinstance(state, tuple) else [state]


def random_keras_weights(kind, extra, num_layers, bias, bidirectional, dtype, seed):
    """Random weights in Keras's format (one list per stacked layer), biases included."""
    rng = np.random.default_rng(seed)
    G, D = GATES[kind], 2 if bidirectional else 1
    out = []
    for l in range(num_layers):
        shapes = [(I if l == 0 else D * H, G * H), (H, G * H)]
        if bias:
            shapes.append((2, G * H) if extra.get("reset_after") else (G * H,))
        out.append([rng.uniform(-0.5, 0.5, s).astype(dtype) for s in shapes * D])
    return out


def assert_outputs_equal(got, want, dtype, who):
    (y1, s1), (y0, s0) = got, want
    np.testing.assert_allclose(y1, y0, **TOL[dtype], err_msg=f"{who}: outputs y differ")
    assert len(s1) == len(s0)
    for name, a, b in zip("hc", s1, s0):
        np.testing.assert_allclose(a, b, **TOL[dtype], err_msg=f"{who}: final state {name} differs")


def x_for(dtype, seed=1):
    return np.random.default_rng(seed).standard_normal((N, T, I)).astype(dtype)


MATRIX = [pytest.mark.parametrize("variant", CELL_VARIANTS, ids=CELL_VARIANT_IDS),
          pytest.mark.parametrize("bias", [True, False], ids=["bias", "nobias"]),
          pytest.mark.parametrize("dtype", ["float32", "float64"]),
          pytest.mark.parametrize("bidirectional", [False, True], ids=["uni", "bi"])]


def matrix(f):
    for mark in MATRIX:
        f = mark(f)
    return f


# -- (a) Keras -> rnnkit ---------------------------------------------------------------------------

@matrix
@pytest.mark.parametrize("num_layers", [1, 2])
def test_keras_to_rnnkit_same_outputs(variant, bias, dtype, bidirectional, num_layers, keras_precision):
    kind, extra, _ = variant
    kl = keras_stack(kind, extra, num_layers, bias=bias, dtype=dtype, bidirectional=bidirectional)
    weights = random_keras_weights(kind, extra, num_layers, bias, bidirectional, dtype, seed=num_layers)
    for layer, w in zip(kl, weights):
        layer.set_weights(w)
    x = x_for(dtype)
    if num_layers == 1:
        layer = layer_from_keras(kl[0])
        assert (layer.num_layers, layer.batch_first, layer.bidirectional, layer.bias) == (1, True, bidirectional, bias)
        assert layer.dtype == np.dtype(dtype) and layer.options == extra
    else:
        layer = getattr(rnnkit, kind)(I, H, num_layers=num_layers, bias=bias, bidirectional=bidirectional,
                                      dtype=dtype, **extra)
        from_keras(layer, [k.get_weights() for k in kl])
    assert_outputs_equal(run_rnnkit(layer, x), run_keras(kl, x, kind), dtype, "keras -> rnnkit")


# -- (b) rnnkit -> Keras ---------------------------------------------------------------------------

@matrix
@pytest.mark.parametrize("num_layers", [1, 2])
def test_rnnkit_to_keras_same_outputs(variant, bias, dtype, bidirectional, num_layers, keras_precision):
    kind, extra, _ = variant
    layer = getattr(rnnkit, kind)(I, H, num_layers=num_layers, bias=bias, bidirectional=bidirectional,
                                  dtype=dtype, seed=7, **extra)  # PyTorch's init: b_ih, b_hh random
    kl = keras_stack(kind, extra, num_layers, bias=bias, dtype=dtype, bidirectional=bidirectional)
    weights = to_keras(layer)
    assert len(weights) == num_layers
    for k, w in zip(kl, weights):
        assert all(a.dtype == np.dtype(dtype) and a.flags.c_contiguous for a in w)
        assert [a.shape for a in w] == [tuple(v.shape) for v in k.weights]
        k.set_weights(w)
    x = x_for(dtype, seed=2)
    assert_outputs_equal(run_rnnkit(layer, x), run_keras(kl, x, kind), dtype, "rnnkit -> keras")


# -- (c) round trips -------------------------------------------------------------------------------

@pytest.mark.parametrize("variant", CELL_VARIANTS, ids=CELL_VARIANT_IDS)
@pytest.mark.parametrize("bias", [True, False], ids=["bias", "nobias"])
@pytest.mark.parametrize("bidirectional", [False, True], ids=["uni", "bi"])
def test_round_trips(variant, bias, bidirectional):
    kind, extra, _ = variant
    make = lambda seed: getattr(rnnkit, kind)(I, H, num_layers=2, bias=bias, bidirectional=bidirectional,  # noqa
                                               dtype="float64", seed=seed, **extra)
    # Keras format -> rnnkit -> Keras format: bit for bit
    w = random_keras_weights(kind, extra, 2, bias, bidirectional, "float64", seed=3)
    layer = make(0)
    from_keras(layer, w)
    back = to_keras(layer)
    for l in range(2):
        assert len(back[l]) == len(w[l])
        for j, (a, b) in enumerate(zip(back[l], w[l])):
            np.testing.assert_array_equal(a, b, err_msg=f"weights[{l}][{j}] changed in the round trip")
    # rnnkit -> Keras format -> rnnkit: exact, except that one Keras bias keeps b_ih + b_hh only
    src, dst = make(1), make(2)
    from_keras(dst, to_keras(src))
    two_biases = extra.get("reset_after") is True
    for k, v in src.state_dict().items():
        got = dst.params[k]
        if k.startswith("bias_ih") and not two_biases:
            v = v + src.params[k.replace("bias_ih", "bias_hh")]
        elif k.startswith("bias_hh") and not two_biases:
            v = np.zeros_like(v)
        np.testing.assert_array_equal(got, v, err_msg=f"{k} after rnnkit -> keras -> rnnkit")


def test_single_keras_list_and_dtype_conversion():
    """num_layers=1 takes the flat get_weights() list; float64 arrays go into a float32 layer."""
    w = random_keras_weights("LSTM", {}, 1, True, False, "float64", seed=4)[0]
    layer = rnnkit.LSTM(I, H, dtype="float32")
    from_keras(layer, w)
    assert all(p.dtype == np.float32 for p in layer.params.values())
    np.testing.assert_array_equal(layer.params["weight_ih_l0"], w[0].T.astype(np.float32))
    np.testing.assert_array_equal(layer.params["bias_ih_l0"], w[2].astype(np.float32))
    np.testing.assert_array_equal(layer.params["bias_hh_l0"], np.zeros(4 * H, np.float32))
    from_keras(layer, [w])  # the nested form as well
    from_keras(layer, [torch.from_numpy(a) for a in w])  # tensors, as Keras's torch backend holds them


def test_gru_gate_order_is_keras_z_r_h():
    """Keras's first kernel block is the update gate z: rnnkit's second block (r, z, n)."""
    layer = rnnkit.GRU(I, H, dtype="float64", seed=0)
    kernel = to_keras(layer)[0][0]
    np.testing.assert_array_equal(kernel[:, :H], layer.params["weight_ih_l0"][H:2 * H].T)
    np.testing.assert_array_equal(kernel[:, H:2 * H], layer.params["weight_ih_l0"][:H].T)


# -- (d) errors ------------------------------------------------------------------------------------

def lstm_weights(bias=True, bidirectional=False, num_layers=1):
    return random_keras_weights("LSTM", {}, num_layers, bias, bidirectional, "float32", seed=5)


@pytest.mark.parametrize("obj", [rnnkit.LSTMCell(I, H), rnnkit.Linear(I, H), "LSTM"], ids=["cell", "linear", "str"])
def test_not_a_recurrent_layer(obj):
    with pytest.raises(TypeError, match="Expected an rnnkit RNN, LSTM or GRU layer, got"):
        to_keras(obj)
    with pytest.raises(TypeError, match="Expected an rnnkit RNN, LSTM or GRU layer, got"):
        from_keras(obj, lstm_weights())


@pytest.mark.parametrize("weights, error, match", [
    (np.zeros((3, 4)), TypeError, "Expected the weights as a non-empty list, got ndarray"),
    ([], TypeError, "non-empty list, got an empty list"),
    ([[np.zeros(1)], np.zeros(1)], TypeError, "mixes both"),
    ([[], [], []], ValueError, r"Expected 2 weight list\(s\), one per stacked layer .* got 3"),
], ids=["array", "empty", "mixed", "three_lists"])
def test_bad_weight_containers(weights, error, match):
    with pytest.raises(error, match=match):
        from_keras(rnnkit.LSTM(I, H, num_layers=2), weights)


def test_flat_list_for_stacked_layer():
    with pytest.raises(ValueError, match=r"single Keras weight list \(3 arrays\) for a layer with num_layers=2"):
        from_keras(rnnkit.LSTM(I, H, num_layers=2), lstm_weights()[0])


@pytest.mark.parametrize("layer_kw, weights_kw, hint", [
    (dict(bias=True), dict(bias=False), "use_bias=False: build the rnnkit layer with bias=False"),
    (dict(bias=False), dict(bias=True), "use_bias=True: build the rnnkit layer with bias=True"),
    (dict(), dict(bidirectional=True), "Bidirectional layer's: build the rnnkit layer with bidirectional=True"),
    (dict(bidirectional=True), dict(), "single direction's: build the rnnkit layer with bidirectional=False"),
])
def test_wrong_number_of_arrays(layer_kw, weights_kw, hint):
    layer = rnnkit.LSTM(I, H, **layer_kw)
    before = layer.state_dict()
    with pytest.raises(ValueError, match=r"Expected \d Keras arrays for stacked layer 0 of LSTM\(") as exc:
        from_keras(layer, lstm_weights(**weights_kw))
    assert hint in str(exc.value) and "kernel (4, 20), recurrent_kernel (5, 20)" in str(exc.value)
    assert all(np.array_equal(v, layer.params[k]) for k, v in before.items())


@pytest.mark.parametrize("j, bad, name", [(0, (3, 20), "kernel"), (1, (5, 15), "recurrent_kernel"),
                                          (2, (21,), "bias")])
def test_wrong_shape_names_the_keras_array(j, bad, name):
    w = lstm_weights()[0]
    w[j] = np.zeros(bad, np.float32)
    layer = rnnkit.LSTM(I, H)
    before = layer.state_dict()
    with pytest.raises(ValueError) as exc:
        from_keras(layer, w)
    msg = str(exc.value)
    expected = {"kernel": (4, 20), "recurrent_kernel": (5, 20), "bias": (20,)}[name]
    assert f"weights[0][{j}] (Keras '{name}') of shape {expected}, got {bad}" in msg
    assert "LSTM(4, 5," in msg and "Keras: LSTM(units=5, use_bias=True)" in msg
    assert all(np.array_equal(v, layer.params[k]) for k, v in before.items())


def test_second_layer_and_backward_direction_are_named():
    w = lstm_weights(bidirectional=True, num_layers=2)
    w[1][3] = np.zeros((9, 20), np.float32)  # the second layer's input is D*H = 10 wide
    with pytest.raises(ValueError, match=r"weights\[1\]\[3\] \(Keras 'kernel' of the backward layer\) of shape "
                                         r"\(10, 20\), got \(9, 20\)"):
        from_keras(rnnkit.LSTM(I, H, num_layers=2, bidirectional=True), w)


@pytest.mark.parametrize("reset_after", [True, False])
def test_gru_bias_of_the_other_form(reset_after):
    w = random_keras_weights("GRU", {"reset_after": not reset_after}, 1, True, False, "float32", seed=6)
    with pytest.raises(ValueError, match=f"Keras GRU with reset_after={not reset_after}: build "
                                         rf"rnnkit.GRU\(..., reset_after={not reset_after}\)"):
        from_keras(rnnkit.GRU(I, H, reset_after=reset_after), w)


@pytest.mark.parametrize("value", [np.nan, np.inf, 1e300], ids=["nan", "inf", "overflow_float32"])
def test_non_finite_weights_refused(value):
    w = [a.astype(np.float64) for a in lstm_weights()[0]]
    w[1][2, 3] = value
    layer = rnnkit.LSTM(I, H)
    before = layer.state_dict()
    with pytest.raises(ValueError, match=r"Expected finite values in weights\[0\]\[1\] \(Keras 'recurrent_kernel'\), "
                                         r"got 1 NaN or infinite value\(s\) \(as float32\)"):
        from_keras(layer, w)
    assert all(np.array_equal(v, layer.params[k]) for k, v in before.items())


@pytest.mark.parametrize("bad", [np.full((4, 20), "a"), np.zeros((4, 20), complex), np.zeros((4, 20), bool),
                                 object()], ids=["str", "complex", "bool", "object"])
def test_non_numeric_weights_refused(bad):
    w = lstm_weights()[0]
    w[0] = bad
    with pytest.raises(TypeError, match=r"Expected weights\[0\]\[0\] \(Keras 'kernel'\) to hold real numbers"):
        from_keras(rnnkit.LSTM(I, H), w)


def built(layer, batch=None):
    layer.build((batch, T, I))
    return layer


@pytest.mark.parametrize("make, error, match", [
    (lambda: object(), TypeError, "Expected a keras.layers.SimpleRNN, LSTM, GRU, or Bidirectional"),
    (lambda: built(keras.layers.Dense(3)), TypeError, r"got keras.*Dense"),
    (lambda: built(keras.layers.LSTM(H, stateful=True), batch=2), ValueError,
     "has stateful=True, which rnnkit does not support"),
    (lambda: built(keras.layers.GRU(H, go_backwards=True)), ValueError,
     "has go_backwards=True; rnnkit reads go_backwards=True only as the backward layer of a Bidirectional"),
    (lambda: built(keras.layers.SimpleRNN(H, activation="sigmoid")), ValueError,
     "activation='sigmoid'; rnnkit supports 'tanh' or 'relu' for SimpleRNN"),
    (lambda: built(keras.layers.SimpleRNN(H, activation=None)), ValueError, "activation='linear'"),
    (lambda: built(keras.layers.LSTM(H, activation="relu")), ValueError, "activation='relu'; rnnkit supports 'tanh'"),
    (lambda: built(keras.layers.GRU(H, recurrent_activation="hard_sigmoid")), ValueError,
     "recurrent_activation='hard_sigmoid'; rnnkit supports 'sigmoid' only"),
    (lambda: built(keras.layers.Bidirectional(keras.layers.LSTM(H), merge_mode="sum")), ValueError,
     "merge_mode='sum'; rnnkit supports 'concat' only"),
    (lambda: built(keras.layers.Bidirectional(keras.layers.LSTM(H), backward_layer=keras.layers.LSTM(
        H + 1, go_backwards=True))), ValueError, "the same layer in both directions"),
    (lambda: keras.layers.GRU(H), ValueError, r"has no weights yet. Build it first"),
], ids=["object", "dense", "stateful", "go_backwards", "rnn_sigmoid", "rnn_linear", "lstm_relu",
        "gru_hard_sigmoid", "merge_sum", "bidirectional_mismatch", "unbuilt"])
def test_layer_from_keras_refuses(make, error, match):
    obj = make()  # Keras accepts each of these; rnnkit refuses it
    with pytest.raises(error, match=match):
        layer_from_keras(obj)


def test_layer_from_keras_dtypes():
    k = built(keras.layers.LSTM(H, dtype="float64"))
    assert layer_from_keras(k).dtype == np.float64
    assert layer_from_keras(k, dtype="float32").dtype == np.float32
    half = built(keras.layers.SimpleRNN(H, dtype="float16", recurrent_initializer="glorot_uniform"))
    with pytest.raises(TypeError, match="holds float16 weights and computes in float16; .* Pass dtype='float32' or "
                                        "dtype='float64'"):
        layer_from_keras(half)
    assert layer_from_keras(half, dtype="float32").dtype == np.float32
    with pytest.raises(TypeError, match="The 'dtype' parameter of layer_from_keras must be 'float32' or 'float64'"):
        layer_from_keras(k, dtype="int32")


def test_layer_from_keras_ignores_dropout():
    k = built(keras.layers.GRU(H, dropout=0.3, recurrent_dropout=0.2, reset_after=False))
    layer = layer_from_keras(k)
    assert (layer.dropout, layer.recurrent_dropout, layer.options) == (0.0, 0.0, {"reset_after": False})
    x = x_for("float32", seed=3)
    y_last = keras.ops.convert_to_numpy(k(x))  # return_sequences=False: the last step's output
    np.testing.assert_allclose(run_rnnkit(layer, x)[0][:, -1], y_last, **TOL["float32"])
