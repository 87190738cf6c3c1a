"""The argument checks of the whole-sequence loops of ``rnnkit.kernels._fused`` (``*_seq``,
``csrc/module.c`` and ``csrc/sequence.h``): every wrong argument gets a TypeError or ValueError
naming it, never a crash; read-only inputs and None for the optional ones are accepted; and, with
every sequence running, the outputs a loop only writes come out written everywhere."""

from __future__ import annotations

import sys

import numpy as np
import pytest

from rnnkit.kernels import _fused, blas

from fused_helpers import DTYPES, call, dtype_id, expect_error

LIB = blas.find()
if LIB is None:
    pytest.skip("NumPy's BLAS cannot be called from C here: no *_seq loops", allow_module_level=True)

H, T, N, I = 3, 4, 5, 2  # all different, so that a wrong axis cannot pass for another

# name -> (gates G, arrays as (name, shape kind, flags), extra integers after batch_sizes).
# Shape kinds: "G" (G*H, T, N), "S" (H, T+1, N), "C" (H, T, N); time-major (the LSTM's caches) "GT" (T, G*H, N),
# "ST" (T+1, H, N), "CT" (T, H, N); "X" (I, T, N) the input (any I, any row stride), "D" (I, T, N), "Y" (H, T, N)
# at any strides, "W" (G*H, H), "I" (G*H, I), "R" (H, N), "Q" (T, N), "b" (H,), "g" (G*H,). Flags: "w" written by
# the loop, "o" optional (None allowed).
SEQ = {
    "rnn_forward_seq": (1, [("hs", "S", "w"), ("x", "X", ""), ("W_ih", "I", ""), ("W_hh", "W", ""),
                            ("bias", "g", "o"), ("rec_mask", "R", "o")], ["relu"]),
    "rnn_backward_seq": (1, [("hs", "S", ""), ("x", "X", ""), ("W_ih", "I", ""), ("W_hh", "W", ""),
                             ("dy", "Y", "o"), ("dh", "R", "w"), ("dh_sq", "Q", "w"), ("dW_ih", "I", "w"),
                             ("dW_hh", "W", "w"), ("db", "b", "wo"), ("dx", "D", "w"), ("rec_mask", "R", "o")],
                         ["relu"]),
    "lstm_forward_seq": (4, [("hs", "S", "w"), ("A", "GT", "w"), ("cs", "ST", "w"), ("tcs", "CT", "w"),
                             ("x", "X", ""), ("W_ih", "I", ""), ("W_hh", "W", ""), ("bias", "g", "o"),
                             ("rec_mask", "R", "o")], []),
    "lstm_backward_seq": (4, [("A", "GT", ""), ("cs", "ST", ""), ("tcs", "CT", ""), ("hs", "S", ""), ("x", "X", ""),
                              ("W_ih", "I", ""), ("W_hh", "W", ""), ("dy", "CT", "o"), ("dh", "R", "w"),
                              ("dc", "R", "w"), ("dh_sq", "Q", "w"), ("dW_ih", "I", "w"), ("dW_hh", "W", "w"),
                              ("db", "g", "wo"), ("dx", "D", "w"), ("rec_mask", "R", "o")], []),
    "gru_forward_seq": (3, [("hs", "S", "w"), ("A", "G", "w"), ("side", "C", "w"), ("x", "X", ""),
                            ("W_ih", "I", ""), ("W_hh", "W", ""), ("bias", "g", "o"), ("b_hn", "b", ""),
                            ("rec_mask", "R", "o")], []),
    "gru_backward_seq": (3, [("A", "G", "w"), ("hs", "S", ""), ("side", "C", "w"), ("W_hh", "W", ""),
                             ("dy", "C", "o"), ("dh", "R", "w"), ("dh_sq", "Q", "w"), ("rec_mask", "R", "o")], []),
}
FUNCTIONS = list(SEQ)
LOOP = ["reverse"]
BATCH_SIZES = [N, N - 1, 3, 2]


def shape_of(fn, kind):
    G = SEQ[fn][0]
    return {"G": (G * H, T, N), "S": (H, T + 1, N), "C": (H, T, N), "Y": (H, T, N), "X": (I, T, N), "D": (I, T, N),
            "W": (G * H, H), "I": (G * H, I), "R": (H, N), "Q": (T, N), "b": (H,), "g": (G * H,),
            "GT": (T, G * H, N), "ST": (T + 1, H, N), "CT": (T, H, N)}[kind]


def n_arrays(fn):
    return len(SEQ[fn][1])


def pos(fn, name):
    """Position of a named argument of fn."""
    names = [a[0] for a in SEQ[fn][1]] + ["batch_sizes"] + SEQ[fn][2] + LOOP
    return names.index(name)


def valid_args(fn, dtype=np.float64, seed=1):
    """Finite arrays (values in the ranges the loops expect; weights scaled by 0.3), batch_sizes,
    relu = 0, then reverse = 0."""
    rng = np.random.default_rng(seed)
    arrays = []
    for name, kind, _ in SEQ[fn][1]:
        lo, hi = {"W_hh": (-0.3, 0.3), "W_ih": (-0.3, 0.3), "rec_mask": (0.5, 1.5)}.get(name, (-1, 1))
        if name == "A" and "backward" in fn:  # activations
            lo, hi = 0.1, 0.9
        arrays.append(rng.uniform(lo, hi, shape_of(fn, kind)).astype(dtype))
    extra = [0] * len(SEQ[fn][2])
    return arrays + [np.array(BATCH_SIZES, np.int64)] + extra + [0]


def array_params(pred=lambda name, kind, flags: True, skip_first=False):
    return [pytest.param(fn, i, name, id=f"{fn}-{name}")
            for fn in FUNCTIONS for i, (name, kind, flags) in enumerate(SEQ[fn][1])
            if pred(name, kind, flags) and not (skip_first and i == 0)]


def outputs(fn, args):
    return {name: args[i] for i, (name, _, flags) in enumerate(SEQ[fn][1]) if "w" in flags}


# ---- valid calls ----------------------------------------------------------------------------


@pytest.mark.parametrize("fn", FUNCTIONS)
@pytest.mark.parametrize("dtype", DTYPES, ids=dtype_id)
def test_valid_call_succeeds(fn, dtype):
    for reverse in (0, 1):  # and for the RNN, relu = reverse
        args = valid_args(fn, dtype)
        args[pos(fn, "reverse")] = reverse
        if "relu" in SEQ[fn][2]:
            args[pos(fn, "relu")] = reverse
        assert call(fn, args) is None
        assert all(np.isfinite(a).all() for a in outputs(fn, args).values())


@pytest.mark.parametrize("fn", FUNCTIONS)
def test_read_only_inputs_accepted_and_left_alone(fn):
    args = valid_args(fn)
    inputs = [(a, a.copy()) for a, (_, _, flags) in zip(args, SEQ[fn][1]) if "w" not in flags]
    inputs.append((args[pos(fn, "batch_sizes")], args[pos(fn, "batch_sizes")].copy()))
    for a, _ in inputs:
        a.flags.writeable = False
    call(fn, args)
    for a, before in inputs:
        np.testing.assert_array_equal(a, before)


@pytest.mark.parametrize("fn", FUNCTIONS)
def test_optional_arguments_none(fn):
    """None stands for rec_mask = 1, batch_sizes = N at every step, dy = 0: the same results."""
    optional = [name for name, _, flags in SEQ[fn][1] if "o" in flags] + ["batch_sizes"]
    G = SEQ[fn][0]
    kinds = {name: kind for name, kind, _ in SEQ[fn][1]}  # the LSTM's dy is time-major
    stand_ins = {"rec_mask": np.ones((H, N)), "dy": np.zeros(shape_of(fn, kinds.get("dy", "C"))),
                 "batch_sizes": np.full(T, N, np.int64), "bias": np.zeros(G * H),
                 "db": np.zeros(shape_of(fn, kinds.get("db", "b")))}
    # db None: no bias gradient to sum
    for names in [[name] for name in optional] + [optional]:
        with_none, explicit = valid_args(fn), valid_args(fn)
        for name in names:
            with_none[pos(fn, name)] = None
            explicit[pos(fn, name)] = stand_ins[name]
        call(fn, with_none)
        call(fn, explicit)
        untouched = outputs(fn, valid_args(fn))
        for name, out in outputs(fn, with_none).items():
            if out is None:  # an optional output left out
                continue
            assert not np.array_equal(out, untouched[name]), f"{name} unchanged"
            np.testing.assert_allclose(out, outputs(fn, explicit)[name], rtol=1e-12, atol=1e-12, err_msg=name)


# ---- wrong arrays -------------------------------------------------------------------------


@pytest.mark.parametrize("fn", FUNCTIONS)
def test_wrong_number_of_arguments(fn):
    args = valid_args(fn)
    n = len(args)
    for bad in (args[:-1], args + [0], []):
        with pytest.raises(TypeError, match=rf"_fused\.{fn} takes {n} arguments, got {len(bad)}"):
            call(fn, bad)
    with pytest.raises(TypeError, match="keyword"):
        getattr(_fused, fn)(*args[:-1], reverse=0)


@pytest.mark.parametrize("fn, i, name", array_params())
def test_not_arrays(fn, i, name):
    args = valid_args(fn)
    none_ok = "o" in SEQ[fn][1][i][2] or name in ("x", "W_ih")  # those two: both None or neither (below)
    bads = [np.full(args[i].shape, 0.5).tolist(), 1, "abc"] + ([] if none_ok else [None])
    for obj in bads:
        args[i] = obj
        expect_error(TypeError, rf"_fused: {name} must be a .*array, got {type(obj).__name__}", fn, args,
                     f"{name} = {type(obj).__name__}")


@pytest.mark.parametrize("fn, i, name", array_params(lambda name, kind, flags: kind != "Y"))
def test_not_c_contiguous(fn, i, name):
    args = valid_args(fn)
    good = args[i]
    views = [np.repeat(good, 2, axis=-1)[..., ::2]]
    if good.ndim > 1:
        views.append(np.asfortranarray(good))  # the transposed layout
    pattern = rf"_fused: {name} must be a (writable )?C-contiguous float32 or float64 array"
    if name == "x":  # any row stride, but each row's (T, N) values C-contiguous
        pattern = r"_fused: x must have C-contiguous \(T, N\) rows \(any row stride\), got byte strides"
        views.append(np.swapaxes(np.ascontiguousarray(np.swapaxes(good, 1, 2)), 1, 2))
    for bad in views:
        assert not bad.flags.c_contiguous and bad.shape == good.shape
        args[i] = bad
        expect_error(TypeError, pattern, fn, args, f"a non-contiguous {name}")


@pytest.mark.parametrize("fn, i, name", array_params(lambda name, kind, flags: "w" in flags))
def test_read_only_outputs(fn, i, name):
    args = valid_args(fn)
    args[i].flags.writeable = False
    with pytest.raises(TypeError, match=rf"_fused: {name} must be a writable C-contiguous float32 or float64 "
                                        r"array, got numpy.ndarray \(read-only\)"):
        call(fn, args)


@pytest.mark.parametrize("fn, i, name", array_params())
def test_non_float_arrays(fn, i, name):
    args = valid_args(fn)
    good = args[i]
    for bad in (np.int32, np.int64, np.float16, np.complex64, np.bool_, ">f8", ">f4"):
        args[i] = good.astype(bad)
        expect_error(TypeError, rf"_fused: {name} must be float32 or float64, got format", fn, args, f"{name} {bad}")


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
    with pytest.raises(TypeError, match=rf"_fused: {SEQ[fn][1][1][0]} has itemsize 8, the other arrays 4"):
        call(fn, args)


@pytest.mark.parametrize("fn, i, name", array_params(skip_first=True))
def test_wrong_shape(fn, i, name):
    args = valid_args(fn)
    want = args[i].shape
    bads = [want[:k] + (want[k] + d,) + want[k + 1:] for k in range(len(want)) for d in (1, -1)]
    bads += [(1,) + want, (int(np.prod(want)),) if len(want) > 1 else (want[0], 1)]
    pattern = rf"_fused: {name} must have shape \({', '.join(map(str, want))}"
    if SEQ[fn][1][i][1] in "XE":  # x, dx set I: only T and N are fixed (W_ih's check catches another I)
        bads = [b for b in bads if len(b) != 3 or b[1:] != want[1:]] + [(0, T, N)]
        pattern = rf"_fused: {name} must have shape \(I, {T}, {N}\) with I >= 1, got"
    for bad in bads:
        args[i] = np.zeros(bad)
        expect_error(ValueError, pattern, fn, args, f"{name} of shape {bad}")


@pytest.mark.parametrize("fn", FUNCTIONS)
def test_first_array_not_3d_or_rows_not_a_multiple(fn):
    G, ((name, kind, _), *_), _ = SEQ[fn]
    with_slots, tm = kind == "S", kind == "GT"  # hs (H, T + 1, N): H rows, any H; A time-major (T, G*H, N)
    G, args = (1 if with_slots else G), valid_args(fn)
    bads = [args[0][:, 0], args[0][None], args[0].ravel()]
    bads.append(np.zeros((T, 0, N) if tm else (0, T + 1, N)))  # H = 0
    if G > 1:
        bads += [np.zeros((T, G * H + d, N) if tm else (G * H + d, T, N)) for d in (1, -1)]
    if with_slots:
        bads.append(np.zeros((H, 0, N)))  # no slot for h0
    for bad in bads:
        args[0] = bad
        slots, got = int(with_slots), ", ".join(map(str, bad.shape))
        expect_error(ValueError, rf"_fused: {name} must be 3-d with a positive multiple of {G} rows \(axis {int(tm)}\) "
                                 rf"and at least {slots} time slots \(axis {1 - int(tm)}\), got shape \({got}",
                     fn, args, f"{name} of shape {bad.shape}")


# ---- batch_sizes and the integer arguments ------------------------------------------------


@pytest.mark.parametrize("fn", FUNCTIONS)
def test_batch_sizes(fn):
    args = valid_args(fn)
    k = pos(fn, "batch_sizes")
    shape_msg = rf"_fused: batch_sizes must be a 1-d native int64 array of T = {T} values, got format"
    for bad in (np.array(BATCH_SIZES, float), np.array(BATCH_SIZES, np.int32), np.array(BATCH_SIZES, np.uint64),
                np.array(BATCH_SIZES, ">i8"),
                np.full(T - 1, 2, np.int64), np.full(T + 1, 2, np.int64), np.full((1, T), 2, np.int64)):
        args[k] = bad
        expect_error(ValueError, shape_msg, fn, args, f"batch_sizes {bad.dtype} {bad.shape}")
    for bad in (BATCH_SIZES, 3, np.full(2 * T, 2, np.int64)[::2]):
        args[k] = bad
        expect_error(TypeError, r"_fused: batch_sizes must be None or a contiguous int64 array", fn, args,
                     f"batch_sizes = {bad!r}")
    for t, v in ((0, -1), (2, N + 1), (3, -(2**40)), (1, 2**40)):
        bad = np.array(BATCH_SIZES, np.int64)
        bad[t] = v
        args[k] = bad
        expect_error(ValueError, rf"_fused: batch_sizes\[{t}\] = {v}, expected 0 <= it <= N = {N}", fn, args,
                     f"batch_sizes[{t}] = {v}")
    args[k] = np.array([0, N, 0, N], np.int64)  # the bounds themselves, in any order
    call(fn, args)


@pytest.mark.parametrize("fn", FUNCTIONS)
def test_integer_arguments_must_be_integers(fn):
    args = valid_args(fn)
    names = LOOP + SEQ[fn][2]
    for name in names:
        for bad in ("1", 1.0, None, [1]):
            bad_args = list(args)
            bad_args[pos(fn, name)] = bad
            expect_error(TypeError, rf"_fused\.{fn}: {name} must be an integer, got {type(bad).__name__}", fn,
                         bad_args, f"{name} = {bad!r}")
        for bad in (2, -1, 2**70):
            bad_args = list(args)
            bad_args[pos(fn, name)] = bad
            expect_error(ValueError, rf"_fused\.{fn}: {name} = -?\d+, expected 0 <= {name} <= 1", fn, bad_args,
                         f"{name} = {bad}")  # 2**70 is clipped to the largest Py_ssize_t
    ok = list(args)
    for name in names:
        ok[pos(fn, name)] = np.int64(1)  # anything with __index__ is fine
    call(fn, ok)


# ---- buffers are released -----------------------------------------------------------------


def failing_calls(fn):
    """Argument lists that fail at different points of the binding, with the exception."""
    G, arrays, _ = SEQ[fn]
    last = n_arrays(fn) - 1
    cases = []

    def case(exc, **changes):
        args = valid_args(fn)
        for name, value in changes.items():
            args[pos(fn, name)] = value(args) if callable(value) else value
        cases.append((exc, args))

    case(ValueError, reverse=2)  # after seq_dims, before any array is taken
    case(ValueError, **{arrays[0][0]: np.zeros((G * H, T))})  # in seq_dims
    case(TypeError, **{arrays[0][0]: lambda a: np.asfortranarray(a[0])})  # the first array
    case(TypeError, **{arrays[1][0]: lambda a: a[1].astype(np.float32)})  # the second
    case(TypeError, **{arrays[last][0]: lambda a: a[last].astype(np.int32)})  # the last array
    case(ValueError, **{arrays[last][0]: np.zeros((H, N + 1))})
    case(ValueError, batch_sizes=np.array([N + 1] * T, np.int64))  # after every array
    case(ValueError, batch_sizes=np.zeros(T))
    for name, _, flags in arrays:
        if "w" in flags:
            cases.append((TypeError, valid_args(fn)))
            cases[-1][1][pos(fn, name)].flags.writeable = False
    return cases


@pytest.mark.parametrize("fn", FUNCTIONS)
def test_buffers_released(fn):
    """Every failure, at every stage of the binding, and success release the buffers: repeated
    calls leave the arrays' reference counts as they were (a Py_buffer holds a reference to its
    array). (``a.resize(..., refcheck=False)`` cannot tell: NumPy does not count its buffer
    exports, and resizes an array whose buffer is held.)"""
    good = valid_args(fn)
    cases = failing_calls(fn)
    watched = [a for _, args in cases for a in args if isinstance(a, np.ndarray)]
    watched += [a for a in good if isinstance(a, np.ndarray)]
    before = [sys.getrefcount(a) for a in watched]
    for _ in range(10):
        call(fn, good)
        for exc, args in cases:
            with pytest.raises(exc):
                call(fn, args)
    assert [sys.getrefcount(a) for a in watched] == before


# ---- behaviour: outputs that are only written ----------------------------------------------


def pure_outputs(fn, reverse):
    """The output slots the loop writes without reading (with batch_sizes None)."""
    out_slots, every = (np.s_[:, :-1] if reverse else np.s_[:, 1:]), np.s_[...]
    return {"rnn_forward_seq": {"hs": out_slots},
            "rnn_backward_seq": {"dh_sq": every, "dx": every},
            "lstm_forward_seq": {"A": every, "hs": out_slots, "cs": out_slots[1:], "tcs": every},  # cs time-major
            "lstm_backward_seq": {"dh_sq": every, "dx": every},
            "gru_forward_seq": {"A": every, "hs": out_slots, "side": every},
            "gru_backward_seq": {"dh_sq": every}}[fn]


@pytest.mark.parametrize("fn", FUNCTIONS)
@pytest.mark.parametrize("dtype", DTYPES, ids=dtype_id)
@pytest.mark.parametrize("reverse", [0, 1])
def test_outputs_written_everywhere(fn, dtype, reverse):
    """NaN in the outputs the loop only writes: they come out finite, equal to a call on
    finite outputs (so nothing stale is read), and changed."""
    base = valid_args(fn, dtype)
    base[pos(fn, "reverse")] = reverse
    base[pos(fn, "batch_sizes")] = None
    part, full = ([a.copy() if isinstance(a, np.ndarray) else a for a in base] for _ in range(2))
    for name, idx in pure_outputs(fn, reverse).items():
        part[pos(fn, name)][idx] = np.nan
    call(fn, part)
    call(fn, full)
    for name, out in outputs(fn, part).items():
        assert np.isfinite(out).all(), f"{name} not all written"
        np.testing.assert_array_equal(out, outputs(fn, full)[name], err_msg=name)
        assert not np.array_equal(out, outputs(fn, base)[name]), f"{name} unchanged"


# ---- the input x of the forward loops ------------------------------------------------------


@pytest.mark.parametrize("fn", [f for f in FUNCTIONS if "forward" in f])
@pytest.mark.parametrize("dtype", DTYPES, ids=dtype_id)
def test_x_with_a_row_stride(fn, dtype):
    """x may be a view whose rows are C-contiguous (T, N) blocks further apart, as hs[:, 1:] of
    the layer below is, and a single-row or single-step x: the same results as a C-contiguous copy."""
    for rows in (I, 1):
        base = valid_args(fn, dtype)
        k = pos(fn, "x")
        big = np.full((rows, T + 3, N), np.nan, dtype)
        big[:, 2:T + 2] = base[k][:rows]
        base[pos(fn, "W_ih")] = np.ascontiguousarray(base[pos(fn, "W_ih")][:, :rows])
        strided = [a.copy() if isinstance(a, np.ndarray) else a for a in base]
        strided[k] = big[:, 2:T + 2]
        base[k] = np.ascontiguousarray(strided[k])
        assert not strided[k].flags.c_contiguous or rows == 1
        call(fn, base)
        call(fn, strided)
        for name, out in outputs(fn, strided).items():
            np.testing.assert_array_equal(out, outputs(fn, base)[name], err_msg=name)


@pytest.mark.parametrize("fn", [f for f in FUNCTIONS if "forward" in f])
@pytest.mark.parametrize("dtype", DTYPES, ids=dtype_id)
@pytest.mark.parametrize("packed", [False, True])
def test_x_and_w_ih_none_read_the_projections_in_place(fn, dtype, packed):
    """x and W_ih None (what the kernels pass for small N): the gates (the RNN: hs's output slots)
    hold W_ih x_t already, with the results of the loop doing the projection itself."""
    base = valid_args(fn, dtype)
    if not packed:
        base[pos(fn, "batch_sizes")] = None
    for reverse in (0, 1):
        base[pos(fn, "reverse")] = reverse
        own, given = ([a.copy() if isinstance(a, np.ndarray) else a for a in base] for _ in range(2))
        x, W_ih = given[pos(fn, "x")], given[pos(fn, "W_ih")]
        projected = (W_ih @ x.reshape(I, T * N)).reshape(-1, T, N)
        if fn == "rnn_forward_seq":
            given[pos(fn, "hs")][:, slice(0, T) if reverse else slice(1, T + 1)] = projected
        else:  # the LSTM's A is time-major
            given[pos(fn, "A")][...] = projected.transpose(1, 0, 2) if fn == "lstm_forward_seq" else projected
        given[pos(fn, "x")] = given[pos(fn, "W_ih")] = None
        call(fn, own)
        call(fn, given)
        for (name, got), want in zip(outputs(fn, given).items(), outputs(fn, own).values()):
            np.testing.assert_allclose(got, want, rtol=1e-5 if dtype == np.float32 else 1e-12, atol=1e-6
                                       if dtype == np.float32 else 1e-13, err_msg=name)


@pytest.mark.parametrize("fn", [f for f in FUNCTIONS if "forward" in f])
def test_x_and_w_ih_none_together_or_not_at_all(fn):
    for name in ("x", "W_ih"):
        args = valid_args(fn)
        args[pos(fn, name)] = None
        expect_error(TypeError, rf"_fused\.{fn}: x and W_ih must both be arrays, or both None \(the input "
                                rf"projections already in place\), got x {'None' if name == 'x' else 'an array'} "
                                rf"and W_ih {'an array' if name == 'x' else 'None'}", fn, args, f"{name} None alone")
