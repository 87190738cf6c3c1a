"""layer_from_keras against real Keras 3 (torch backend): every Keras option it accepts gives Keras's
numbers, every one it cannot honour is refused with a message that names it.

Accepted (outputs equal Keras's): unroll, unit_forget_bias, use_bias=False, a callable activation,
a custom backward_layer equal to the forward one, return_sequences=False (y[:, -1]; Bidirectional:
the two final h), dropout / recurrent_dropout (training only, inference unchanged), a Masking layer
before it (rnnkit reads ``lengths=`` instead). Refused: float16 / bfloat16 computation (mixed
policies included) unless dtype is given, subclasses, whole models, custom activations.
"""

from __future__ import annotations

import os

os.environ["KERAS_BACKEND"] = "torch"  # before keras is imported anywhere

import numpy as np
import pytest

import keras  # noqa: E402
import rnnkit  # noqa: E402
from rnnkit.io import layer_from_keras  # noqa: E402

pytestmark = [pytest.mark.filterwarnings("ignore:__array__ implementation doesn't accept a copy keyword",
                                         "ignore:The object being serialized includes a `lambda`"),
              pytest.mark.usefixtures("global_state_restored")]   # Keras seeds from Python's random

N, T, I, H = 3, 6, 4, 5
TOL = dict(rtol=1e-5, atol=1e-5)


def built(layer, batch=None):
    layer.build((batch, T, I))
    return layer


def randomize(layer, seed=0):
    """Random weights (biases included), so that no option hides behind a zero bias."""
    rng = np.random.default_rng(seed)
    layer.set_weights([rng.uniform(-0.5, 0.5, w.shape).astype(w.dtype) for w in layer.get_weights()])
    return layer


def x_for(seed=1, dtype="float32"):
    return np.random.default_rng(seed).standard_normal((N, T, I)).astype(dtype)


def keras_out(layer, x):
    out = layer(keras.ops.convert_to_tensor(x))
    return [keras.ops.convert_to_numpy(o) for o in (out if isinstance(out, (list, tuple)) else [out])]


# -- accepted: the same numbers as Keras ------------------------------------------------------------

ACCEPTED = {
    "lstm_unroll": lambda: keras.layers.LSTM(H, unroll=True, return_sequences=True),
    "lstm_no_unit_forget_bias": lambda: keras.layers.LSTM(H, unit_forget_bias=False, return_sequences=True),
    "gru_nobias_reset_after": lambda: keras.layers.GRU(H, use_bias=False, return_sequences=True),
    "gru_nobias_reset_before": lambda: keras.layers.GRU(H, use_bias=False, reset_after=False, return_sequences=True),
    "rnn_callable_tanh": lambda: keras.layers.SimpleRNN(H, activation=keras.activations.tanh, return_sequences=True),
    "gru_dropouts": lambda: keras.layers.GRU(H, dropout=0.4, recurrent_dropout=0.3, return_sequences=True),
    "bi_custom_backward_layer": lambda: keras.layers.Bidirectional(
        keras.layers.LSTM(H, return_sequences=True),
        backward_layer=keras.layers.LSTM(H, go_backwards=True, return_sequences=True)),
    "bi_gru_unroll": lambda: keras.layers.Bidirectional(keras.layers.GRU(H, unroll=True, return_sequences=True)),
}


@pytest.mark.parametrize("make", list(ACCEPTED.values()), ids=list(ACCEPTED))
def test_accepted_options_give_keras_outputs(make):
    k = randomize(built(make()))
    layer = layer_from_keras(k).eval()
    x = x_for()
    np.testing.assert_allclose(layer(x)[0], keras_out(k, x)[0], **TOL)


@pytest.mark.parametrize("bidirectional", [False, True], ids=["uni", "bi"])
def test_return_sequences_false_is_the_last_step_or_the_two_final_states(bidirectional):
    inner = keras.layers.LSTM(H)
    k = randomize(built(keras.layers.Bidirectional(inner) if bidirectional else inner))
    layer = layer_from_keras(k).eval()
    x = x_for(2)
    y, (h, _) = layer(x)
    want = keras_out(k, x)[0]
    if bidirectional:  # the documented form: forward's last step, backward's first; = the final h
        np.testing.assert_allclose(np.concatenate([y[:, -1, :H], y[:, 0, H:]], axis=1), want, **TOL)
        np.testing.assert_allclose(rnnkit.LastStep(bidirectional=True)(y), want, **TOL)
        np.testing.assert_allclose(np.concatenate([h[0], h[1]], axis=1), want, **TOL)
        assert np.abs(y[:, -1] - want).max() > 1e-3, "y[:, -1] is not Keras's output for a Bidirectional"
    else:
        np.testing.assert_allclose(y[:, -1], want, **TOL)


@pytest.mark.parametrize("kind", ["LSTM", "GRU"])
@pytest.mark.parametrize("bidirectional", [False, True], ids=["uni", "bi"])
def test_a_masking_layer_before_it_is_lengths(kind, bidirectional):
    """Keras's Masking (post-padding) = rnnkit's lengths=: valid steps and final states equal; padded
    steps are 0 in rnnkit (and Keras's Bidirectional), the last valid output in a Keras layer alone."""
    lengths = np.array([6, 2, 4])
    x = x_for(3)
    for n, L in enumerate(lengths):
        x[n, L:] = 0.0
    inner = getattr(keras.layers, kind)(H, return_sequences=True, return_state=True)
    k = keras.layers.Bidirectional(inner) if bidirectional else inner
    inputs = keras.Input((T, I))
    model = keras.Model(inputs, k(keras.layers.Masking(0.0)(inputs)))
    randomize(k)
    y_k, h_k = keras_out(model, x)[:2]
    y, state = layer_from_keras(k).eval()(x, lengths=lengths)
    h = state[0] if kind == "LSTM" else state
    np.testing.assert_allclose(h[0], h_k, **TOL)
    for n, L in enumerate(lengths):
        np.testing.assert_allclose(y[n, :L], y_k[n, :L], **TOL, err_msg=f"valid steps of sequence {n}")
        np.testing.assert_array_equal(y[n, L:], 0.0)
        padded_k = y_k[n, L:]
        np.testing.assert_allclose(padded_k, 0.0 if bidirectional else np.broadcast_to(y_k[n, L - 1], padded_k.shape),
                                   **TOL)


# -- refused ----------------------------------------------------------------------------------------

class _DoubledLSTM(keras.layers.LSTM):
    def call(self, *args, **kwargs):
        return super().call(*args, **kwargs) * 2.0


@pytest.mark.parametrize("make, match", [
    (lambda: built(keras.layers.LSTM(H, dtype="mixed_float16", return_sequences=True)),
     r"dtype policy 'mixed_float16'\) holds float32 weights and computes in float16.*Pass dtype='float32'"),
    (lambda: built(keras.layers.GRU(H, dtype="mixed_bfloat16", return_sequences=True)), "computes in bfloat16"),
    (lambda: built(keras.layers.Bidirectional(keras.layers.LSTM(H, dtype="mixed_float16", return_sequences=True))),
     "computes in float16"),
    (lambda: built(keras.layers.SimpleRNN(H, dtype="float16", recurrent_initializer="glorot_uniform",
                                          return_sequences=True)), "holds float16 weights and computes in float16"),
], ids=["mixed_float16", "mixed_bfloat16", "bidirectional_mixed_float16", "float16"])
def test_low_precision_computation_is_refused_unless_dtype_is_given(make, match):
    k = randomize(make())
    with pytest.raises(TypeError, match=match):
        layer_from_keras(k)
    layer = layer_from_keras(k, dtype="float32").eval()  # asked for: float32, Keras's float16 rounding apart
    x = x_for(4)
    np.testing.assert_allclose(layer(x)[0], keras_out(k, x)[0].astype(np.float32), rtol=0, atol=2e-2)


def test_bfloat16_weights_load_when_a_dtype_is_given():
    k = randomize(built(keras.layers.GRU(H, dtype="bfloat16", recurrent_initializer="glorot_uniform")))
    weights = k.get_weights()
    assert weights[0].dtype.name == "bfloat16"
    with pytest.raises(TypeError, match="holds bfloat16 weights"):
        layer_from_keras(k)
    layer = layer_from_keras(k, dtype="float64")
    np.testing.assert_array_equal(rnnkit.io.to_keras(layer)[0][0], weights[0].astype(np.float64))


@pytest.mark.parametrize("make, match", [
    (lambda: built(_DoubledLSTM(H)), r"Expected a keras.layers.LSTM itself, got its subclass .*_DoubledLSTM"),
    (lambda: keras.Sequential([keras.Input((T, I)), keras.layers.LSTM(H)]),
     r"got keras.*Sequential. That is a whole Keras model: pass one of its recurrent layers \(e.g. model.layers"),
    (lambda: built(keras.layers.RNN(keras.layers.LSTMCell(H))),
     r"Expected a keras.layers.SimpleRNN, .* got keras.*RNN\.$"),
], ids=["subclass", "sequential", "generic_rnn"])
def test_classes_that_are_not_the_plain_keras_layers_are_refused(make, match):
    with pytest.raises(TypeError, match=match):
        layer_from_keras(make())


@pytest.mark.parametrize("make, match", [
    (lambda: keras.layers.SimpleRNN(H, activation=lambda z: keras.ops.tanh(z) * 2),
     "has activation=a custom function; rnnkit supports 'tanh' or 'relu' for SimpleRNN."),
    (lambda: keras.layers.LSTM(H, recurrent_activation=lambda z: keras.ops.sigmoid(z)),
     "has recurrent_activation=a custom function; rnnkit supports 'sigmoid' only."),
])
def test_custom_activations_are_refused_by_a_short_message(make, match):
    with pytest.raises(ValueError) as info:
        layer_from_keras(built(make()))
    assert match in str(info.value) and len(str(info.value)) < 200, str(info.value)[:400]
