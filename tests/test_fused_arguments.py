"""The argument checks of the C extension ``rnnkit.kernels._fused`` (``csrc/module.c``): every
wrong argument of every function gets a TypeError or ValueError naming it, never a crash."""

from __future__ import annotations

import sys

import numpy as np
import pytest

from rnnkit.kernels import _fused

from fused_helpers import DTYPES, H, call, dtype_id, expect_error


# ---- argument checks -----------------------------------------------------------------------

# name -> (arrays as (name, G, columns) with columns "N", "B", 1 (b_hn) or "sq" (the 1-d dh_sq),
#          trailing integers)
SIGNATURES = {
    "lstm_forward_step": ([("a", 4, "N"), ("gh", 4, "B"), ("c_prev", 1, "N"), ("h_prev", 1, "N"),
                           ("c", 1, "N"), ("tc", 1, "N"), ("h", 1, "N")], ("B",)),
    "lstm_backward_step": ([("a", 4, "N"), ("dh", 1, "N"), ("dy", 1, "N"), ("dc", 1, "N"),
                            ("c_prev", 1, "N"), ("tc", 1, "N"), ("dh_sq", 1, "sq")], ("B",)),
    "rnn_forward_step": ([("a", 1, "N"), ("gh", 1, "B"), ("h_prev", 1, "N")], ("B", "relu")),
    "rnn_backward_step": ([("da", 1, "N"), ("dh", 1, "N"), ("dy", 1, "N"), ("h", 1, "N"),
                           ("dh_sq", 1, "sq")], ("B", "relu")),
    "gru_forward_step": ([("a", 3, "N"), ("gh", 3, "B"), ("b_hn", 1, 1), ("h_prev", 1, "N"),
                          ("side", 1, "N"), ("h", 1, "N")], ("B",)),
    "gru_backward_step": ([("a", 3, "N"), ("dh", 1, "N"), ("dy", 1, "N"), ("h_prev", 1, "N"),
                           ("side", 1, "N"), ("dah", 3, "B"), ("dh_sq", 1, "sq")], ("B",)),
    "gru_forward_rz": ([("a", 3, "N"), ("gh", 2, "B"), ("hm", 1, "N"), ("side", 1, "N")], ("B",)),
    "gru_forward_n": ([("a", 3, "N"), ("gh", 1, "B"), ("h_prev", 1, "N"), ("h", 1, "N")], ("B",)),
    "gru_backward_nz": ([("a", 3, "N"), ("dh", 1, "N"), ("dy", 1, "N"), ("h_prev", 1, "N"),
                         ("dh_sq", 1, "sq")], ("B",)),
    "gru_backward_r": ([("a", 3, "N"), ("drh", 1, "B"), ("hm", 1, "N")], ("B",)),
    "activation": ([("x", 1, "N"), ("out", 1, "N")], ("which",)),
}
FUNCTIONS = sorted(SIGNATURES)
CN, CB = 7, 3  # N and B of the argument-check calls


def shape_of(G, cols):
    if cols == "sq":
        return (CN,)
    return (G * H, {"N": CN, "B": CB}.get(cols, cols))


def valid_args(fn, dtype=np.float64):
    """A valid argument list for fn: finite arrays (sigmoid-range values), then the integers."""
    rng = np.random.default_rng(1)
    arrays, ints = SIGNATURES[fn]
    args = [rng.uniform(0.1, 0.9, shape_of(G, cols)).astype(dtype) for _, G, cols in arrays]
    return args + [{"B": CB, "relu": 0, "which": 1}[k] for k in ints]


def array_params(pred=lambda name, G, cols: True, skip_first=False):
    return [pytest.param(fn, i, name, id=f"{fn}-{name}")
            for fn in FUNCTIONS for i, (name, G, cols) in enumerate(SIGNATURES[fn][0])
            if pred(name, G, cols) and not (skip_first and i == 0)]


@pytest.mark.parametrize("fn", FUNCTIONS)
def test_valid_call_succeeds(fn):
    for dtype in DTYPES:
        call(fn, valid_args(fn, dtype))


@pytest.mark.parametrize("fn", FUNCTIONS)
def test_wrong_number_of_arguments(fn):
    args = valid_args(fn)
    n = len(args)
    with pytest.raises(TypeError, match=rf"_fused\.{fn} takes {n} arguments, got {n - 1}"):
        call(fn, args[:-1])
    with pytest.raises(TypeError, match=rf"_fused\.{fn} takes {n} arguments, got {n + 1}"):
        call(fn, args + [0])
    with pytest.raises(TypeError, match=rf"_fused\.{fn} takes {n} arguments, got 0"):
        call(fn, [])
    with pytest.raises(TypeError, match="keyword"):
        getattr(_fused, fn)(*args[:-1], B=args[-1])


@pytest.mark.parametrize("fn, i, name", array_params(skip_first=True))
@pytest.mark.parametrize("first", DTYPES, ids=dtype_id)
def test_mixed_dtypes(fn, i, name, first):
    other = np.float32 if first == np.float64 else np.float64
    args = valid_args(fn, first)
    args[i] = args[i].astype(other)
    size, want = np.dtype(other).itemsize, np.dtype(first).itemsize
    with pytest.raises(TypeError, match=rf"_fused: {name} has itemsize {size}, the other arrays {want}"):
        call(fn, args)


@pytest.mark.parametrize("fn", FUNCTIONS)
def test_mixed_dtypes_first_array(fn):
    """The first array sets the dtype: the error names the second."""
    args = valid_args(fn)
    args[0] = args[0].astype(np.float32)
    second = SIGNATURES[fn][0][1][0]
    with pytest.raises(TypeError, match=rf"_fused: {second} has itemsize 8, the other arrays 4"):
        call(fn, args)


@pytest.mark.parametrize("fn, i, name", array_params())
def test_non_float_arrays(fn, i, name):
    args = valid_args(fn)
    good = args[i]
    for bad in (np.int64, np.int32, np.float16, np.complex64, np.complex128, np.bool_, ">f8", ">f4"):
        args[i] = good.astype(bad)
        expect_error(TypeError, rf"_fused: {name} must be float32 or float64, got format", fn, args, f"{name} {bad}")


@pytest.mark.parametrize("fn, i, name", array_params())
def test_read_only_arrays(fn, i, name):
    args = valid_args(fn)
    args[i].flags.writeable = False
    with pytest.raises(TypeError, match=rf"_fused: {name} must be a writable float32 or float64 array"):
        call(fn, args)


@pytest.mark.parametrize("fn, i, name", array_params())
def test_not_arrays(fn, i, name):
    args = valid_args(fn)
    for obj in (None, [[0.5] * CN] * H, 1.0, b"abcdefgh", memoryview(bytearray(8 * H * CN))):
        args[i] = obj
        expect_error(TypeError, rf"_fused: {name} must be", fn, args, f"{name} = {type(obj).__name__}")


@pytest.mark.parametrize("fn, i, name", array_params(lambda name, G, cols: cols in ("N", "B")))
def test_rows_not_contiguous(fn, i, name):
    """A transposed array (unit stride along the rows' other axis) and a column-strided view."""
    args = valid_args(fn)
    for bad in (np.asfortranarray(args[i]), np.repeat(args[i], 2, axis=1)[:, ::2]):
        args[i] = bad
        with pytest.raises(ValueError, match=rf"_fused: {name} must be 2-d with contiguous rows"):
            call(fn, args)


@pytest.mark.parametrize("fn, i, name", array_params(lambda name, G, cols: cols in ("N", "B")))
def test_overlapping_rows(fn, i, name):
    """Rows closer than their length (a writable as_strided window view) are refused."""
    args = valid_args(fn)
    rows, cols = args[i].shape
    if cols < 2:
        pytest.skip("one column")
    flat = np.zeros(rows * cols)
    args[i] = np.lib.stride_tricks.as_strided(flat, (rows, cols), (8 * (cols - 1), 8))
    with pytest.raises(ValueError, match=rf"_fused: {name} must be 2-d with contiguous rows"):
        call(fn, args)


@pytest.mark.parametrize("fn, i, name", array_params(lambda name, G, cols: cols != "sq"))
def test_wrong_ndim(fn, i, name):
    args = valid_args(fn)
    good = args[i]
    for bad in (good[None], good.ravel()):
        args[i] = bad
        with pytest.raises(ValueError, match=rf"_fused: {name} "):
            call(fn, args)


@pytest.mark.parametrize("fn, i, name", array_params(lambda name, G, cols: cols not in ("sq",), skip_first=True))
def test_wrong_shape(fn, i, name):
    args = valid_args(fn)
    r, c = args[i].shape
    for bad in ((r, c + 1), (r + 1, c), (r - 1, c)) + (((r, c - 1),) if c > 1 else ()):
        args[i] = np.zeros(bad)
        with pytest.raises(ValueError, match=rf"_fused: {name} has shape \({bad[0]}, {bad[1]}\), expected \({r}, {c}\)"):
            call(fn, args)


@pytest.mark.parametrize("fn", [f for f in FUNCTIONS if SIGNATURES[f][0][0][1] > 1])
def test_first_array_rows_not_a_multiple_of_gates(fn):
    args = valid_args(fn)
    G = SIGNATURES[fn][0][0][1]
    name = SIGNATURES[fn][0][0][0]
    args[0] = np.zeros((G * H + 1, CN))
    with pytest.raises(ValueError, match=rf"_fused: {name} has {G * H + 1} rows, expected a multiple of {G}"):
        call(fn, args)


@pytest.mark.parametrize("fn, i, name", array_params(lambda name, G, cols: cols == "sq"))
def test_dh_sq_checks(fn, i, name):
    args = valid_args(fn)
    msg = rf"_fused: dh_sq must be a contiguous 1-d array of {CN} values"
    for bad in (np.zeros(CN + 1), np.zeros(CN - 1), np.zeros(2 * CN)[::2], np.zeros((1, CN))):
        args[i] = bad
        with pytest.raises(ValueError, match=msg):
            call(fn, args)


@pytest.mark.parametrize("B", [-1, -100, CN + 1, 1000])
@pytest.mark.parametrize("fn", [f for f in FUNCTIONS if f != "activation"])
def test_B_out_of_range(fn, B):
    args = valid_args(fn)
    args[len(SIGNATURES[fn][0])] = B
    with pytest.raises(ValueError, match=rf"_fused: B = {B}, expected 0 <= B <= N = {CN}"):
        call(fn, args)


@pytest.mark.parametrize("fn", FUNCTIONS)
def test_integer_arguments_must_be_integers(fn):
    args = valid_args(fn)
    for k in range(len(SIGNATURES[fn][0]), len(args)):
        for bad in (float(args[k]), "3", None):
            bad_args = list(args)
            bad_args[k] = bad
            with pytest.raises(TypeError):
                call(fn, bad_args)
        bad_args = list(args)
        bad_args[k] = np.int64(args[k])  # anything with __index__ is fine
        call(fn, bad_args)


@pytest.mark.parametrize("relu", [-1, 2, 2**32, 2**62, 2**70])
@pytest.mark.parametrize("fn", ["rnn_forward_step", "rnn_backward_step"])
def test_relu_flag_is_0_or_1(fn, relu):
    """The relu flag of the RNN's steps is 0 (tanh) or 1 (relu), as the loops' is: 2**32 and 2**62
    passed as 0 through the cast to int, and ran tanh; 2 and -1 ran relu."""
    args = valid_args(fn)
    args[-1] = relu
    with pytest.raises(ValueError, match=rf"_fused.{fn}: relu = {relu}, expected 0 \(tanh\) or 1 \(relu\)"):
        call(fn, args)


@pytest.mark.parametrize("fn", FUNCTIONS)
def test_integers_beyond_ssize_t_are_value_errors(fn):
    """An integer argument too large for C (B, relu, which) is out of range like any other: a
    ValueError, not an OverflowError; so are those of loop_threads and packed_products."""
    args = valid_args(fn)
    for k in range(len(SIGNATURES[fn][0]), len(args)):
        for big in (2**70, -(2**70)):
            bad = list(args)
            bad[k] = big
            with pytest.raises(ValueError):
                call(fn, bad)
    for f in (_fused.loop_threads, _fused.packed_products):
        with pytest.raises(ValueError):
            f(2**70)


def test_b_hn_must_be_contiguous():
    args = valid_args("gru_forward_step")
    args[2] = np.zeros((H, 3))[:, :1]
    with pytest.raises(ValueError, match=r"_fused: b_hn must be contiguous"):
        call("gru_forward_step", args)


@pytest.mark.parametrize("fn", FUNCTIONS)
def test_buffers_released(fn):
    """Success and failures at every array (after the others were taken) release the buffers:
    repeated calls leave the arrays' reference counts as they were."""
    args = valid_args(fn)
    n = len(SIGNATURES[fn][0])
    before = [sys.getrefcount(a) for a in args[:n]]
    failing = []
    for k in range(n):
        bad = list(args)
        bad[k] = bad[k].astype(np.int64)
        failing.append(bad)
    for _ in range(20):
        call(fn, args)
        for bad in failing:
            try:
                call(fn, bad)
            except TypeError:
                pass
            else:
                raise AssertionError("int64 array accepted")
    del bad
    extra = n - 1  # each list in `failing` holds every array but one
    assert [sys.getrefcount(a) - extra for a in args[:n]] == before


def test_seq_docstrings_list_their_arguments():
    """help(_fused.<loop>) names the arguments each whole-sequence loop takes, in their order"""
    from test_fused_seq_arguments import LOOP, SEQ  # skips where those loops cannot run

    for fn, (_, arrays, extra) in SEQ.items():
        doc = getattr(_fused, fn).__doc__
        listed = doc[doc.index("(") + 1:doc.index(")")].split(", ")
        assert listed == [a[0] for a in arrays] + ["batch_sizes"] + extra + LOOP, f"{fn}: {doc}"
