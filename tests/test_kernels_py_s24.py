"""Review of the kernels' Python side and the cells (s24).

- A backward given the cache of another kernel (an RNN's to ``lstm_backward``) raised a KeyError
  from inside the kernel, and consumed that cache on the way.
- A backward through a cache whose workspace ``ws`` a later forward had reused computed its
  gradients from that later forward's states without a word; it now raises ValueError.
- ``reverse``, ``keep_cache`` and ``reset_after`` took any truthy value in the Python loop
  (``reverse="no"`` ran reversed) while the C loop raised from ``int()``; ``ws=[]`` was an
  AttributeError. All are TypeErrors that name the argument now.
- batch_sizes of uint64 out of range were reported as -1 (cast to int64 first).
- The cells: an empty batch (N = 0) was a NumPy reshape error for RNNCell and GRUCell (LSTMCell
  ran); ``backward(cache=...)`` with another cell's cache added that step's gradients to this
  cell's grads (same shapes) or failed inside ``_fused`` (other shapes), and a non-dict cache
  was an AttributeError.
"""

from __future__ import annotations

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal

from rnnkit import kernels
from rnnkit.layers import GRUCell, LSTMCell, RNNCell

I, T, N, H = 3, 4, 5, 6
CELLS = {"rnn": (1, 1), "lstm": (4, 2), "gru": (3, 1)}  # gates, state parts


def problem(cell, seed=0, dtype=np.float64):
    G, parts = CELLS[cell]
    rng = np.random.default_rng(seed)
    return dict(x=rng.standard_normal((I, T, N)).astype(dtype),
                state0=tuple(rng.standard_normal((H, N)).astype(dtype) for _ in range(parts)),
                W_ih=(rng.standard_normal((G * H, I)) * 0.5).astype(dtype),
                W_hh=(rng.standard_normal((G * H, H)) * 0.5).astype(dtype),
                b_ih=rng.standard_normal(G * H).astype(dtype), b_hh=rng.standard_normal(G * H).astype(dtype))


def forward(cell, **args):
    return getattr(kernels, f"{cell}_forward")(**args)


def backward(cell, cache, seed=1):
    rng = np.random.default_rng(seed)
    dtype = cache["x"].dtype
    dy = rng.standard_normal((H, T, N)).astype(dtype)
    dstate = tuple(rng.standard_normal((H, N)).astype(dtype) for _ in range(CELLS[cell][1]))
    return getattr(kernels, f"{cell}_backward")(cache, dy, dstate)


PAIRS = [(c, g) for c in CELLS for g in CELLS if c != g]


@pytest.mark.parametrize("cell, given", PAIRS, ids=[f"{c}-given-{g}" for c, g in PAIRS])
def test_backward_refuses_the_cache_of_another_kernel_and_leaves_it_usable(cell, given, kernel_loop):
    _, _, cache = forward(given, **problem(given))
    with pytest.raises(TypeError, match=rf"{cell}_backward: expected the cache dict that "
                                        rf"rnnkit\.kernels\.{cell}_forward returned, got dict \(the cache of "
                                        rf"rnnkit\.kernels\.{given}_forward\)"):
        backward(cell, cache)
    fresh = forward(given, **problem(given))[2]
    for a, b in zip(backward(given, cache), backward(given, fresh)):  # not consumed by the refused call
        for k in (a if isinstance(a, dict) else range(len(a)) if isinstance(a, tuple) else [None]):
            assert_array_equal(a if k is None else a[k], b if k is None else b[k])


@pytest.mark.parametrize("cache", [{}, {"x": np.zeros((I, T, N))}, "cache", None])
def test_backward_refuses_what_is_no_cache(cache):
    with pytest.raises(TypeError, match=r"rnn_backward: expected the cache dict that rnnkit\.kernels\.rnn_forward"):
        kernels.rnn_backward(cache, None, (np.zeros((H, N)),))


@pytest.mark.parametrize("later_keeps", [True, False], ids=["later-training", "later-no_grad"])
@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
def test_backward_refuses_a_cache_whose_workspace_a_later_forward_reused(cell, later_keeps, kernel_loop):
    ws = {}
    _, _, first = forward(cell, **problem(cell), ws=ws)
    forward(cell, **problem(cell, seed=7), ws=ws, keep_cache=later_keeps)  # writes over first's states
    with pytest.raises(ValueError, match=rf"{cell}_backward: this cache's workspace ws was used by a later "
                                         "forward"):
        backward(cell, first)
    _, _, last = forward(cell, **problem(cell), ws=ws)  # the latest forward's cache still goes back
    _, _, fresh = forward(cell, **problem(cell))
    got, want = backward(cell, last), backward(cell, fresh)
    assert_allclose(got[0], want[0], rtol=1e-12, atol=1e-12, err_msg="dx")
    for k in want[2]:
        assert_allclose(got[2][k], want[2][k], rtol=1e-12, atol=1e-12, err_msg=k)


def test_workspace_check_also_without_argument_checks(kernel_loop):
    ws = {}
    args = problem("lstm")
    _, _, first = kernels.lstm_forward(**args, ws=ws, check_args=False)
    kernels.lstm_forward(**problem("lstm", seed=3), ws=ws, check_args=False)
    with pytest.raises(ValueError, match="used by a later forward"):
        kernels.lstm_backward(first, None, tuple(np.ones((H, N)) for _ in range(2)), check_args=False)


BAD_FLAGS = [(c, name, value) for c in CELLS
             for name, value in [("reverse", "no"), ("reverse", None), ("reverse", 2), ("reverse", 1),
                                 ("keep_cache", "no"), ("keep_cache", None)]]
BAD_FLAGS += [("gru", "reset_after", "False"), ("gru", "reset_after", 0)]


@pytest.mark.parametrize("cell, name, value", BAD_FLAGS, ids=[f"{c}-{n}={v!r}" for c, n, v in BAD_FLAGS])
def test_forward_refuses_flags_that_are_not_bools(cell, name, value, kernel_loop):
    with pytest.raises(TypeError, match=rf"{cell}_forward: expected {name} to be True or False, got {value!r}"):
        forward(cell, **problem(cell), **{name: value})


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
def test_forward_takes_numpy_bools_as_flags(cell, kernel_loop):
    a = forward(cell, **problem(cell), reverse=np.bool_(True), keep_cache=np.bool_(False))
    b = forward(cell, **problem(cell), reverse=True, keep_cache=False)
    assert_array_equal(a[0], b[0])
    assert a[2] is None


@pytest.mark.parametrize("ws", [[], "ws", ()])
@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
def test_forward_refuses_a_workspace_that_is_not_a_dict(cell, ws, kernel_loop):
    with pytest.raises(TypeError, match=rf"{cell}_forward: expected ws to be a dict .* got {type(ws).__name__}"):
        forward(cell, **problem(cell), ws=ws)


def test_uint64_batch_sizes_out_of_range_are_named_with_their_values():
    sizes = np.array([2**64 - 1, 3, 2, 1], dtype=np.uint64)
    with pytest.raises(ValueError, match=r"in 0\.\.N = 5, got \[18446744073709551615, 3, 2, 1\]"):
        kernels.rnn_forward(**problem("rnn"), batch_sizes=sizes)


# --------------------------------------------------------------------------------------
# cells
# --------------------------------------------------------------------------------------

CELL_CLASSES = [RNNCell, LSTMCell, GRUCell]


def dstate_of(cls, n, value=1.0):
    h = np.full((n, H), value)
    return (h, h.copy()) if cls is LSTMCell else h


@pytest.mark.parametrize("cls", CELL_CLASSES, ids=lambda c: c.__name__)
def test_cell_refuses_an_empty_batch(cls):
    with pytest.raises(ValueError, match=r"Expected x of shape \(N, 3\) with at least one row \(N >= 1\), "
                                         r"got \(0, 3\)"):
        cls(I, H, seed=0)(np.zeros((0, I)))


@pytest.mark.parametrize("cls", CELL_CLASSES, ids=lambda c: c.__name__)
def test_cell_backward_refuses_another_cells_cache_of_the_same_shapes(cls):
    a, b = cls(I, H, dtype="float64", seed=0), cls(I, H, dtype="float64", seed=1)
    x = np.random.default_rng(0).standard_normal((2, I))
    a(x)
    b(x)
    with pytest.raises(ValueError, match=rf"{cls.__name__}\.backward\(\) got a cache that is not from a forward "
                                         "step of this cell"):
        b.backward(dstate_of(cls, 2), cache=a.cache)
    for k, g in b.grads.items():  # nothing was added to b's gradients
        assert_array_equal(g, 0, err_msg=k)
    dx, _ = a.backward(dstate_of(cls, 2), cache=a.cache)  # the refused cache is still a's to use
    assert dx.shape == (2, I)


@pytest.mark.parametrize("cache", ["cache", {}, {"kernel": None, "unbatched": False, "N": 2}])
@pytest.mark.parametrize("cls", CELL_CLASSES, ids=lambda c: c.__name__)
def test_cell_backward_refuses_what_is_no_cache(cls, cache):
    cell = cls(I, H, seed=0)
    cell(np.zeros((2, I)))
    with pytest.raises(ValueError, match="got a cache that is not from a forward step of this cell"):
        cell.backward(dstate_of(cls, 2), cache=cache)


@pytest.mark.parametrize("cls", [RNNCell, LSTMCell], ids=lambda c: c.__name__)
def test_cell_backward_refuses_a_cache_of_another_cell_size(cls):
    small, big = cls(I, H, seed=0), cls(I, H + 1, seed=0)
    small(np.zeros((2, I)))
    big(np.zeros((2, I)))
    with pytest.raises(ValueError, match="not from a forward step of this cell"):  # was a _fused shape error
        big.backward(dstate_of(cls, 2), cache=small.cache)
