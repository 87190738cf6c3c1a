"""``_fused.copy_seq`` (``csrc/layout.h``) and ``kernels.common.copy_steps``: the copies between the
user's sequence layouts and the kernels' (F, T, N) one, in tiles. Every layout pair, odd sizes
that leave partial tiles, negative strides, empty arrays, and every documented error."""

from __future__ import annotations

import sys

import numpy as np
import pytest

from rnnkit.kernels import _fused
from rnnkit.kernels.common import copy_steps

from fused_helpers import DTYPES, dtype_id

SHAPES = [(17, 5, 33), (64, 3, 32), (1, 4, 1), (5, 1, 16), (40, 2, 1), (1, 3, 50)]  # (F, T, N)


def _views(F, T, N, dtype, rng):
    """(name, factory) of (F, T, N) views: the kernels' arrays and the users' layouts."""
    return {
        "kernel": lambda: np.empty((F, T, N), dtype),
        "state slots": lambda: np.empty((F, T + 1, N), dtype)[:, 1:],
        "batch_first": lambda: np.empty((N, T, F), dtype).transpose(2, 1, 0),
        "time_major": lambda: np.empty((T, N, F), dtype).transpose(2, 0, 1),
        "reversed time": lambda: np.empty((F, T, N), dtype)[:, ::-1],
        "every other column": lambda: np.empty((F, T, 2 * N), dtype)[:, :, ::2],
    }


@pytest.mark.parametrize("dtype", DTYPES, ids=dtype_id)
@pytest.mark.parametrize("shape", SHAPES, ids=lambda s: "x".join(map(str, s)))
def test_copy_matches_numpy_between_all_layouts(dtype, shape):
    rng = np.random.default_rng(0)
    views = _views(*shape, dtype, rng)
    for src_name, make_src in views.items():
        src = make_src()
        src[...] = rng.standard_normal(shape)
        for dst_name, make_dst in views.items():
            dst = make_dst()
            dst[...] = np.nan
            _fused.copy_seq(src, dst)
            np.testing.assert_array_equal(dst, src, err_msg=f"{src_name} -> {dst_name}")
            dst[...] = np.nan
            copy_steps(dst, src)
            np.testing.assert_array_equal(dst, src, err_msg=f"copy_steps {src_name} -> {dst_name}")


def test_copy_leaves_the_rest_alone():
    """Copying into a strided view writes exactly its elements, nothing between them."""
    base = np.full((4, 3, 10), -1.0)
    dst = base[:, :, ::2]
    src = np.arange(4 * 3 * 5, dtype=float).reshape(4, 3, 5)
    _fused.copy_seq(src, dst)
    np.testing.assert_array_equal(base[:, :, ::2], src)
    assert (base[:, :, 1::2] == -1).all()


def test_empty_arrays():
    for shape in ((0, 3, 4), (3, 0, 4), (3, 4, 0)):
        _fused.copy_seq(np.zeros(shape), np.ones(shape))  # nothing to do, no error


def test_copy_steps_shared_memory_and_broadcasting_fall_back_to_numpy():
    """copy_seq refuses arrays whose spans overlap; copy_steps then uses np.copyto, which copies
    interleaved views, an array onto itself and a broadcast source."""
    big = np.arange(2 * 3 * 8, dtype=float).reshape(2, 3, 8)
    want = big[:, :, ::2].copy()
    copy_steps(big[:, :, 1::2], big[:, :, ::2])
    np.testing.assert_array_equal(big[:, :, 1::2], want)
    copy_steps(big, big)
    dst = np.zeros((2, 3, 4))
    copy_steps(dst, np.ones((2, 1, 4)))
    assert (dst == 1).all()


def test_copy_steps_other_dtypes_fall_back_to_numpy():
    src = np.arange(24, dtype=np.int64).reshape(2, 3, 4)
    dst = np.zeros((4, 3, 2), np.int64).transpose(2, 1, 0)
    copy_steps(dst, src)
    np.testing.assert_array_equal(dst, src)
    dst32 = np.zeros((2, 3, 4), np.float32)
    copy_steps(dst32, np.ones((2, 3, 4)))  # float64 into float32: NumPy casts
    assert (dst32 == 1).all()


def test_errors():
    a = np.zeros((2, 3, 4))
    with pytest.raises(TypeError, match="takes 2 arguments, got 1"):
        _fused.copy_seq(a)
    with pytest.raises(TypeError, match="src must be a float32 or float64 array, got list"):
        _fused.copy_seq([1.0], a)
    ro = np.zeros((2, 3, 4))
    ro.flags.writeable = False
    with pytest.raises(TypeError, match="dst must be a writable float32 or float64 array"):
        _fused.copy_seq(a, ro)
    for bad, what in ((np.zeros((2, 3)), "2-d"), (np.zeros((2, 3, 4), np.int32), "format 'i'"),
                      (np.zeros((2, 3, 4), np.float16), "format 'e'")):
        with pytest.raises(TypeError, match=rf"src must be a 3-d float32 or float64 array .*{what}"):
            _fused.copy_seq(bad, a)
    with pytest.raises(ValueError, match=r"src \(2, 3, 4\) and dst \(2, 3, 5\) must have one shape"):
        _fused.copy_seq(a, np.zeros((2, 3, 5)))
    with pytest.raises(ValueError, match="itemsize 8 and 4"):
        _fused.copy_seq(a, np.zeros((2, 3, 4), np.float32))
    with pytest.raises(ValueError, match="must not overlap"):
        _fused.copy_seq(a, a)
    big = np.zeros((2, 3, 8))
    with pytest.raises(ValueError, match="must not overlap"):
        _fused.copy_seq(big[:, :, :4], big[:, :, 2:6])
    with pytest.raises(ValueError, match="must not overlap"):  # interleaved spans count as overlapping
        _fused.copy_seq(big[:, :, :4], big[:, :, 4:])
    _fused.copy_seq(big[:1], big[1:])  # one after the other: fine


def test_buffers_released():
    a, b = np.zeros((2, 3, 4)), np.zeros((2, 3, 4))
    ro = np.zeros((2, 3, 4))
    ro.flags.writeable = False
    before = [sys.getrefcount(x) for x in (a, b, ro)]
    for _ in range(10):
        _fused.copy_seq(a, b)
        for dst in (ro, a, np.zeros((2, 3, 5)), np.zeros((2, 3, 4), np.float32)):
            with pytest.raises((TypeError, ValueError)):
                _fused.copy_seq(a, dst)
    del dst
    assert [sys.getrefcount(x) for x in (a, b, ro)] == before
