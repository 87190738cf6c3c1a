"""Every documented bad input gets a clear error: ValueError for shape/value problems,
TypeError for wrong dtypes/types, RuntimeError for backward before forward. Messages say
what was expected and what was received ("Expected ..., got ...")."""

from __future__ import annotations

import re

import numpy as np
import pytest

import rnnkit
from conftest import make_cell, make_layer

KINDS = ["RNN", "LSTM", "GRU"]
N, T, I, H = 3, 4, 5, 6


def shape_re(shape) -> str:
    """Regex that finds ``shape`` in a message however the tuple is spaced/bracketed."""
    return r"[\(\[]\s*" + r"\s*,\s*".join(str(int(d)) for d in shape) + r"\s*,?\s*[\)\]]"


def check_raises(exc, fn, *needles):
    """fn() must raise ``exc``; the message must match every regex in ``needles``
    (case-insensitive)."""
    with pytest.raises(exc) as info:
        fn()
    msg = str(info.value)
    for needle in needles:
        assert re.search(needle, msg, re.IGNORECASE | re.DOTALL), (
            f"{type(info.value).__name__} message lacks /{needle}/: {msg!r}")
    return msg


def layer(kind, **kw):
    kw.setdefault("seed", 0)
    return make_layer(kind, I, H, **kw)


def good_state(kind, lead=(1, N)):
    h = np.zeros(lead + (H,), np.float32)
    return (h, h.copy()) if kind == "LSTM" else h


# --------------------------------------------------------------------------------------
# x
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize("shape", [(T * I,), (2, N, T, I), ()], ids=["1-D", "4-D", "0-D"])
@pytest.mark.parametrize("kind", KINDS)
def test_x_of_wrong_rank(kind, shape):
    x = np.zeros(shape, np.float32)
    check_raises(ValueError, lambda: layer(kind).forward(x), "expected", shape_re(shape) + "|" + f"{len(shape)}-?D|ndim")


@pytest.mark.parametrize("batched", [True, False])
@pytest.mark.parametrize("kind", KINDS)
def test_x_with_wrong_feature_size(kind, batched):
    x = np.zeros((N, T, I + 2) if batched else (T, I + 2), np.float32)
    check_raises(ValueError, lambda: layer(kind).forward(x), "expected", str(I), str(I + 2))


@pytest.mark.parametrize("dtype", [np.int64, np.int32, np.bool_, np.complex128, object])
@pytest.mark.parametrize("kind", KINDS)
def test_x_of_non_floating_dtype_raises_type_error(kind, dtype):
    x = np.ones((N, T, I), dtype=dtype)
    check_raises(TypeError, lambda: layer(kind).forward(x), "float|dtype")


@pytest.mark.parametrize("kind", KINDS)
def test_x_as_nested_list_of_ints_raises_type_error(kind):
    x = np.ones((N, T, I), dtype=np.int64).tolist()
    with pytest.raises(TypeError):
        layer(kind).forward(x)


# --------------------------------------------------------------------------------------
# state
# --------------------------------------------------------------------------------------

BAD_STATE_SHAPES = {
    "broadcastable-(1,1,H)": (1, 1, H),
    "2-D-(N,H)": (N, H),
    "wrong-N": (1, N + 1, H),
    "wrong-H": (1, N, H + 1),
    "wrong-L*D": (2, N, H),
    "4-D": (1, 1, N, H),
}


@pytest.mark.parametrize("bad", list(BAD_STATE_SHAPES), ids=list(BAD_STATE_SHAPES))
@pytest.mark.parametrize("kind", KINDS)
def test_state_of_wrong_shape(kind, bad):
    shape = BAD_STATE_SHAPES[bad]
    h = np.zeros(shape, np.float32)
    good = np.zeros((1, N, H), np.float32)
    state = (h, good) if kind == "LSTM" else h
    x = np.zeros((N, T, I), np.float32)
    check_raises(ValueError, lambda: layer(kind).forward(x, state), "expected", shape_re((1, N, H)), shape_re(shape))


def test_lstm_cell_state_of_wrong_shape():
    x = np.zeros((N, T, I), np.float32)
    h = np.zeros((1, N, H), np.float32)
    c = np.zeros((1, 1, H), np.float32)  # broadcastable
    check_raises(ValueError, lambda: layer("LSTM").forward(x, (h, c)), "expected", shape_re((1, N, H)), shape_re((1, 1, H)))


@pytest.mark.parametrize("kind", KINDS)
def test_state_shape_for_two_layers_bidirectional(kind):
    x = np.zeros((N, T, I), np.float32)
    lay = layer(kind, num_layers=2, bidirectional=True)
    check_raises(ValueError, lambda: lay.forward(x, good_state(kind, (2, N))), "expected", shape_re((4, N, H)))


@pytest.mark.parametrize("kind", KINDS)
def test_unbatched_input_with_batched_state(kind):
    x = np.zeros((T, I), np.float32)
    check_raises(ValueError, lambda: layer(kind).forward(x, good_state(kind, (1, 1))), "expected", shape_re((1, H)))


@pytest.mark.parametrize("bad", ["array", "list-of-3", "tuple-of-1"])
def test_lstm_state_not_a_pair(bad):
    x = np.zeros((N, T, I), np.float32)
    h = np.zeros((1, N, H), np.float32)
    state = {"array": h, "list-of-3": (h, h, h), "tuple-of-1": (h,)}[bad]
    with pytest.raises((TypeError, ValueError)) as info:
        layer("LSTM").forward(x, state)
    assert re.search(r"tuple|\(h, c\)|pair", str(info.value), re.I), f"message should say a (h, c) tuple was expected: {info.value}"


@pytest.mark.parametrize("kind", ["RNN", "GRU"])
def test_rnn_gru_state_given_as_tuple(kind):
    x = np.zeros((N, T, I), np.float32)
    h = np.zeros((1, N, H), np.float32)
    with pytest.raises((TypeError, ValueError)):
        layer(kind).forward(x, (h, h))


@pytest.mark.parametrize("kind", KINDS)
def test_state_of_integer_dtype(kind):
    x = np.zeros((N, T, I), np.float32)
    h = np.zeros((1, N, H), np.int64)
    state = (h, h.copy()) if kind == "LSTM" else h
    with pytest.raises(TypeError):
        layer(kind).forward(x, state)


# --------------------------------------------------------------------------------------
# lengths
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", KINDS)
def test_lengths_of_wrong_count(kind):
    x = np.zeros((N, T, I), np.float32)
    check_raises(ValueError, lambda: layer(kind).forward(x, lengths=[T, T]), "expected", str(N), "2")
    check_raises(ValueError, lambda: layer(kind).forward(x, lengths=[T] * (N + 1)), "expected", str(N))


@pytest.mark.parametrize("bad", [[0, 2, 3], [2, T + 1, 3], [-1, 2, 3]], ids=["zero", "over-T", "negative"])
@pytest.mark.parametrize("kind", KINDS)
def test_lengths_out_of_range(kind, bad):
    x = np.zeros((N, T, I), np.float32)
    got = str(min(bad)) if min(bad) < 1 else str(max(bad))
    check_raises(ValueError, lambda: layer(kind).forward(x, lengths=bad), "expected", str(T), re.escape(got))


@pytest.mark.parametrize("bad", [[2.5, 3, 1], np.array([2.5, 3.0, 1.0]), ["a", "b", "c"]],
                         ids=["float-list", "float-array", "strings"])
@pytest.mark.parametrize("kind", KINDS)
def test_lengths_not_integers(kind, bad):
    x = np.zeros((N, T, I), np.float32)
    with pytest.raises((ValueError, TypeError), match=r"(?i)length|int"):
        layer(kind).forward(x, lengths=bad)


@pytest.mark.parametrize("kind", KINDS)
def test_lengths_of_wrong_rank(kind):
    x = np.zeros((N, T, I), np.float32)
    with pytest.raises(ValueError, match=r"(?i)length"):
        layer(kind).forward(x, lengths=np.full((N, 1), 2))


# --------------------------------------------------------------------------------------
# backward
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", KINDS)
def test_backward_before_forward(kind):
    lay = layer(kind)
    with pytest.raises(RuntimeError, match=r"(?i)forward"):
        lay.backward(np.zeros((N, T, H), np.float32))


@pytest.mark.parametrize("kind", KINDS)
def test_cell_backward_before_forward(kind):
    c = make_cell(kind, I, H, seed=0)
    d = np.zeros((N, H), np.float32)
    with pytest.raises(RuntimeError, match=r"(?i)forward"):
        c.backward((d, d) if kind == "LSTM" else d)


@pytest.mark.parametrize("bad", [(N, T, H + 1), (1, T, H), (N, T - 1, H), (N, T)],
                         ids=["wrong-H", "broadcastable-N", "wrong-T", "2-D"])
@pytest.mark.parametrize("kind", KINDS)
def test_dy_of_wrong_shape(kind, bad):
    lay = layer(kind)
    lay.forward(np.zeros((N, T, I), np.float32))
    check_raises(ValueError, lambda: lay.backward(np.zeros(bad, np.float32)), "expected", shape_re((N, T, H)), shape_re(bad))


@pytest.mark.parametrize("kind", KINDS)
def test_dstate_of_wrong_shape(kind):
    lay = layer(kind)
    lay.forward(np.zeros((N, T, I), np.float32))
    dy = np.zeros((N, T, H), np.float32)
    bad = np.zeros((1, 1, H), np.float32)
    dstate = (bad, np.zeros((1, N, H), np.float32)) if kind == "LSTM" else bad
    check_raises(ValueError, lambda: lay.backward(dy, dstate), "expected", shape_re((1, N, H)), shape_re((1, 1, H)))


def test_lstm_dstate_not_a_pair():
    lay = layer("LSTM")
    lay.forward(np.zeros((N, T, I), np.float32))
    with pytest.raises((TypeError, ValueError)):
        lay.backward(np.zeros((N, T, H), np.float32), np.zeros((1, N, H), np.float32))


@pytest.mark.parametrize("kind", KINDS)
def test_dy_of_non_floating_dtype(kind):
    lay = layer(kind)
    lay.forward(np.zeros((N, T, I), np.float32))
    with pytest.raises(TypeError):
        lay.backward(np.zeros((N, T, H), np.int64))


# --------------------------------------------------------------------------------------
# constructor arguments
# --------------------------------------------------------------------------------------

BAD_ARGS = [
    ("hidden_size", dict(hidden_size=0), ValueError),
    ("hidden_size", dict(hidden_size=-3), ValueError),
    ("hidden_size", dict(hidden_size=2.5), (TypeError, ValueError)),
    ("input_size", dict(input_size=0), ValueError),
    ("num_layers", dict(num_layers=0), ValueError),
    ("dropout", dict(dropout=1.5), ValueError),
    ("dropout", dict(dropout=-0.1), ValueError),
    ("recurrent_dropout", dict(recurrent_dropout=1.0), ValueError),
    ("recurrent_dropout", dict(recurrent_dropout=-0.2), ValueError),
    ("init", dict(init="foo"), ValueError),
    ("dtype", dict(dtype="int32"), (TypeError, ValueError)),
    ("dtype", dict(dtype=np.int64), (TypeError, ValueError)),
    ("dtype", dict(dtype="complex128"), (TypeError, ValueError)),
]


@pytest.mark.parametrize("name,kwargs,exc", BAD_ARGS,
                         ids=[f"{n}={list(kw.values())[0]!r}" for n, kw, _ in BAD_ARGS])
@pytest.mark.parametrize("kind", KINDS)
def test_bad_constructor_argument_is_named(kind, name, kwargs, exc):
    args = dict(input_size=I, hidden_size=H)
    args.update(kwargs)
    cls = getattr(rnnkit, kind)
    with pytest.raises(exc, match=name):
        cls(**args)


def test_bad_nonlinearity_is_named():
    with pytest.raises(ValueError, match="nonlinearity") as info:
        rnnkit.RNN(I, H, nonlinearity="sigmoid")
    assert "sigmoid" in str(info.value), f"message should show the bad value: {info.value}"
    with pytest.raises(ValueError, match="nonlinearity"):
        rnnkit.RNNCell(I, H, nonlinearity="sigmoid")


CELL_BAD_ARGS = [
    ("hidden_size", dict(hidden_size=0), ValueError),
    ("init", dict(init="foo"), ValueError),
    ("dtype", dict(dtype="int32"), (TypeError, ValueError)),
]


@pytest.mark.parametrize("name,kwargs,exc", CELL_BAD_ARGS, ids=[n for n, _, _ in CELL_BAD_ARGS])
@pytest.mark.parametrize("kind", KINDS)
def test_bad_cell_constructor_argument_is_named(kind, name, kwargs, exc):
    args = dict(input_size=I, hidden_size=H)
    args.update(kwargs)
    with pytest.raises(exc, match=name):
        getattr(rnnkit, kind + "Cell")(**args)


# --------------------------------------------------------------------------------------
# cells
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", KINDS)
def test_cell_bad_inputs(kind):
    c = make_cell(kind, I, H, seed=0)
    check_raises(ValueError, lambda: c(np.zeros((N, I + 1), np.float32)), "expected", str(I), str(I + 1))
    check_raises(ValueError, lambda: c(np.zeros((N, T, I), np.float32)), "expected")
    h = np.zeros((1, H), np.float32)  # broadcastable against (N, H)
    state = (h, np.zeros((N, H), np.float32)) if kind == "LSTM" else h
    check_raises(ValueError, lambda: c(np.zeros((N, I), np.float32), state), "expected", shape_re((N, H)), shape_re((1, H)))
    with pytest.raises(TypeError):
        c(np.zeros((N, I), np.int32))


def test_lstm_cell_state_not_a_pair():
    c = make_cell("LSTM", I, H, seed=0)
    with pytest.raises((TypeError, ValueError)):
        c(np.zeros((N, I), np.float32), np.zeros((N, H), np.float32))


@pytest.mark.parametrize("kind", KINDS)
def test_cell_dstate_of_wrong_shape(kind):
    c = make_cell(kind, I, H, seed=0)
    c(np.zeros((N, I), np.float32))
    bad = np.zeros((1, H), np.float32)
    with pytest.raises(ValueError, match=r"(?i)expected"):
        c.backward((bad, np.zeros((N, H), np.float32)) if kind == "LSTM" else bad)
