"""Every instruction-set path of the kernels, against float64 and against each other.

A float32 layer (RNN, LSTM, GRU in both forms) runs forward and backward on each path this CPU
and build have: the products on OpenBLAS (``_fused.packed_products(0)``), on the packed AVX-512
and AVX2 kernels (``_fused.packed_kernel``, modes 1 and 2), on 1, 2 and 3 threads
(``_fused.loop_threads``), and the Python loop (``RNNKIT_NO_C_LOOP=1``, with the one-pass
packed weight gradients of ``_fused.gate_gradients`` in mode 2). Every output (y, the final
states, dx, the state gradients, every parameter gradient, ``hidden_grad_norms``) must equal the
float64 layer's to float32 rounding (measured: at most 1.1e-5 of the largest value, or of 1e-3;
the bound is 2e-5 sqrt(T)) and the other float32 paths' to twice that. N runs through 1 and 15 (not packed in mode
1), 16 (one whole vector), 17, 33 (a masked last vector), 64 (a whole 64-column tile); H through
1, 5, 17, 31, 100 (no whole block of 6 rows, of 24 rows of a ring, of 16 lanes) and 16, 64; I
through 1, 3, 8; T = 9 to 12 leave a last chunk of 1 to 4 steps in the LSTM's rings.

The LSTM's packed backward on the AVX-512 kernel takes its weight gradients itself
(``csrc/sequence.h``: chunk_grads_packed), every element one running sum over the chunk's
columns in order, whoever computes it: on that kernel every output but ``hidden_grad_norms``
(summed by chunk of units) is the same bit for bit on 1, 2 and 3 threads, with the pool or
without it (``_fused.pool_refuse``), and from one call to the next (a race on the shared
transposed block would break that). Last, a child process runs the kernels and some layers under
``PYTHONMALLOC=debug`` (which checks the scratch of every loop for writes past its end) with
every input array ending at a page that cannot be read, so a read past any of them faults.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest
from fused_helpers import packed_kernels

import rnnkit
from rnnkit.kernels import _fused, blas

KERNELS = packed_kernels()
C_LOOPS = blas.find() is not None
THREADS = C_LOOPS and blas.find().threads

pytestmark = pytest.mark.skipif(not C_LOOPS, reason="NumPy's BLAS cannot be called from C here")

# (id, packed kernel or None, packed_products mode, loop threads, C loop)
PATHS = [("blas-1t", None, 0, 1, True), ("blas-2t", None, 0, 2, True)]
for _k in KERNELS:
    PATHS += [(f"{_k}-m1-{t}t", _k, 1, t, True) for t in (1, 2, 3)] + [(f"{_k}-m2-2t", _k, 2, 2, True)]
PATHS += [("python-m0", None, 0, 1, False)] + [(f"python-{_k}-m2", _k, 2, 2, False) for _k in KERNELS]

CELLS = {"rnn": ("RNN", {}), "lstm": ("LSTM", {}), "gru": ("GRU", {"reset_after": True}),
         "gru_cho": ("GRU", {"reset_after": False})}
NS, HS, IS = [1, 15, 16, 17, 33, 64], [1, 5, 16, 17, 31, 64, 100], [1, 3, 8]


def _shapes() -> list[tuple[int, int, int, int]]:
    """(N, H, I, T): every N with every H; I and T cycle, so that each meets every N and every H"""
    return [(N, H, IS[(a + b) % 3], 9 + (a + 2 * b) % 4) for a, N in enumerate(NS) for b, H in enumerate(HS)]


def _problem(cell, N, H, I, T, masked, structure=(1, False, True), seed=0):
    """float64 parameters (the layer's own init), x, lengths, dy and dstate for one case"""
    layers, bidir, batch_first = structure
    kind, extra = CELLS[cell]
    ref = getattr(rnnkit, kind)(I, H, num_layers=layers, bidirectional=bidir, batch_first=batch_first,
                                dtype="float64", seed=seed, **extra)
    rng = np.random.default_rng(seed + 1)
    x = rng.standard_normal((N, T, I) if batch_first else (T, N, I))
    lengths = None
    if masked:
        lengths = rng.integers(1, T + 1, size=N)
        lengths[rng.integers(N)] = T
    D = 2 if bidir else 1
    dy = rng.standard_normal(x.shape[:2] + (D * H,))
    dstate = tuple(rng.standard_normal((layers * D, N, H)) for _ in range(2 if kind == "LSTM" else 1))
    return dict(kind=kind, opts=dict(num_layers=layers, bidirectional=bidir, batch_first=batch_first, **extra),
                sizes=(I, H), params=ref.state_dict(), x=x, lengths=lengths, dy=dy, dstate=dstate)


def _outputs(p, dtype) -> dict[str, np.ndarray]:
    """forward and backward of a fresh layer of `dtype` with p's parameters: every output"""
    layer = getattr(rnnkit, p["kind"])(*p["sizes"], dtype=dtype, **p["opts"])
    layer.load_state_dict(p["params"])
    y, state = layer(p["x"].astype(dtype), lengths=p["lengths"])
    states = state if isinstance(state, tuple) else (state,)
    dstate = tuple(d.astype(dtype) for d in p["dstate"])
    dx, dstate0 = layer.backward(p["dy"].astype(dtype), dstate if len(dstate) == 2 else dstate[0])
    out = {"y": y, "dx": dx, "hidden_grad_norms": layer.hidden_grad_norms}
    out.update({f"state{i}": s for i, s in enumerate(states)})
    out.update({f"dstate0_{i}": s for i, s in enumerate(dstate0 if isinstance(dstate0, tuple) else (dstate0,))})
    out.update({"d" + k: g.copy() for k, g in layer.grads.items()})
    assert all(v.dtype == np.dtype(dtype) for v in out.values()), {k: v.dtype for k, v in out.items()}
    return out


def _on_path(path, monkeypatch, kernel_modes):
    """switch to `path` (conftest's kernel_modes and monkeypatch put everything back after the test)"""
    _, kernel, mode, threads, c_loop = path
    packed_products, loop_threads = kernel_modes
    if kernel is not None:
        _fused.packed_kernel(kernel)
    packed_products(mode)
    loop_threads(threads)
    if c_loop:
        monkeypatch.delenv("RNNKIT_NO_C_LOOP", raising=False)
    else:
        monkeypatch.setenv("RNNKIT_NO_C_LOOP", "1")
    assert blas.c_loops() == c_loop


def _close(got, want, tol, what):
    """every tensor of got within tol * max(|want|) (at least 1e-3) of want's; names what differs"""
    assert got.keys() == want.keys()
    for name, w in want.items():
        g = got[name]
        assert g.shape == w.shape, f"{what}: {name} shape {g.shape} != {w.shape}"
        scale = max(float(np.abs(w).max(initial=0.0)), 1e-3)
        err = np.abs(g.astype(np.float64) - w)
        worst = float(err.max(initial=0.0)) if np.isfinite(g).all() else np.inf
        assert worst <= tol * scale, (f"{what}: {name} differs by {worst:.3g} "
                                      f"(bound {tol * scale:.3g}) at {np.unravel_index(np.argmax(err), err.shape)}")


def _check_paths(p, T, monkeypatch, kernel_modes):
    """every path against float64 and against the first path"""
    want = _outputs(p, np.float64)
    tol = 2e-5 * np.sqrt(T)
    first = None
    for path in PATHS:
        _on_path(path, monkeypatch, kernel_modes)
        got = _outputs(p, np.float32)
        _close(got, want, tol, f"path {path[0]} against float64")
        if first is None:
            first = got
        else:
            _close(got, {k: v.astype(np.float64) for k, v in first.items()}, 2 * tol,
                   f"path {path[0]} against {PATHS[0][0]}")


@pytest.mark.parametrize("masked", [False, True], ids=["full", "lengths"])
@pytest.mark.parametrize("N, H, I, T", _shapes())
@pytest.mark.parametrize("cell", sorted(CELLS))
def test_every_path(cell, N, H, I, T, masked, monkeypatch, kernel_modes):
    """each cell on every N and H, with and without lengths"""
    _check_paths(_problem(cell, N, H, I, T, masked), T, monkeypatch, kernel_modes)


@pytest.mark.parametrize("structure", [(2, False, False), (1, True, True), (2, True, True)],
                         ids=["2layers-time-major", "bidirectional", "2layers-bidirectional"])
@pytest.mark.parametrize("N, H, I", [(17, 31, 3), (33, 17, 8)])
@pytest.mark.parametrize("cell", sorted(CELLS))
def test_stacked_and_bidirectional_every_path(cell, N, H, I, structure, monkeypatch, kernel_modes):
    """reverse directions (their chunks end at a chunk's first step), an upper layer whose x is the
    lower one's output, batch_first=False; with lengths"""
    _check_paths(_problem(cell, N, H, I, 10, True, structure), 10, monkeypatch, kernel_modes)


@pytest.mark.parametrize("cell", sorted(CELLS))
def test_float64_reference_matches_torch(cell):
    """the reference itself: the float64 layer against a torch autograd loop (conftest's, which
    test_torch_parity checks against torch.nn), bidirectional, with lengths"""
    torch = pytest.importorskip("torch")
    from conftest import torch_reference

    p = _problem(cell, 17, 5, 3, 9, True, (1, True, True))
    got = _outputs(p, np.float64)
    params = {k: torch.tensor(v, requires_grad=True) for k, v in p["params"].items()}
    x = torch.tensor(p["x"], requires_grad=True)
    states = [torch.tensor(np.zeros_like(d)) for d in p["dstate"]]
    ref = torch_reference(p["kind"], params, x, *states, lengths=p["lengths"], hidden_size=5, bidirectional=True,
                          reset_after=p["opts"].get("reset_after", True))
    finals = [ref["h_n"]] + ([ref["c_n"]] if p["kind"] == "LSTM" else [])
    loss = (ref["y"] * torch.tensor(p["dy"])).sum() + sum((s * torch.tensor(d)).sum()
                                                            for s, d in zip(finals, p["dstate"]))
    loss.backward()
    want = {"y": ref["y"], "dx": x.grad, **{f"state{i}": s for i, s in enumerate(finals)},
            **{"d" + k: v.grad for k, v in params.items()}}
    for name, w in want.items():
        np.testing.assert_allclose(got[name], w.detach().numpy(), rtol=1e-9, atol=1e-11, err_msg=name)


needs_avx512_threads = pytest.mark.skipif("avx512" not in KERNELS or not THREADS,
                                          reason="needs the AVX-512 kernel and the loops' threads")


def _bitwise(got, want, what):
    for name, w in want.items():
        if name != "hidden_grad_norms":  # dh^2 summed by chunk of units: to rounding only
            np.testing.assert_array_equal(got[name], w, err_msg=f"{what}: {name}")


@needs_avx512_threads
@pytest.mark.parametrize("masked", [False, True], ids=["full", "lengths"])
@pytest.mark.parametrize("N, H, I, T, structure", [
    (17, 31, 3, 17, (1, True, True)), (64, 100, 8, 9, (1, True, True)), (16, 2, 1, 10, (2, False, False)),
    (33, 17, 8, 12, (2, True, False))])
@pytest.mark.parametrize("cell", ["lstm", "rnn"])
def test_avx512_weight_gradients_same_on_any_threads(cell, N, H, I, T, structure, masked, monkeypatch,
                                                     kernel_modes):
    """chunk_grads_packed (the LSTM's and the RNN's backward): the same bits on 1, 2 and 3 threads,
    twice each, and with the pool refused"""
    monkeypatch.delenv("RNNKIT_NO_C_LOOP", raising=False)
    packed_products, loop_threads = kernel_modes
    _fused.packed_kernel("avx512")
    packed_products(1)
    p = _problem(cell, N, H, I, T, masked, structure)
    loop_threads(1)
    want = _outputs(p, np.float32)
    for threads in (2, 3, 3, 2):
        loop_threads(threads)
        assert _fused.loop_parts({"lstm": 4, "rnn": 1}[cell], H, N) > 1  # else one thread's with itself
        _bitwise(_outputs(p, np.float32), want, f"{threads} threads")
    _fused.pool_refuse(True)
    try:
        _bitwise(_outputs(p, np.float32), want, "pool refused, 2 threads")
    finally:
        _fused.pool_refuse(False)


CHILD = """
import itertools, mmap, ctypes, sys
import numpy as np
import rnnkit
from rnnkit import kernels
from rnnkit.kernels import _fused, blas

libc = ctypes.CDLL(None, use_errno=True)
libc.mprotect.argtypes = (ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int)
PAGE = mmap.PAGESIZE

def guarded(a):
    '''a copy of a whose last byte is the last one before a page without access (the array keeps its
    mapping alive: np.frombuffer holds the mmap)'''
    size = a.nbytes
    pages = (size + PAGE - 1) // PAGE + 1
    m = mmap.mmap(-1, pages * PAGE)
    base = ctypes.addressof(ctypes.c_char.from_buffer(m))
    if libc.mprotect(base + (pages - 1) * PAGE, PAGE, 0) != 0:
        raise OSError(ctypes.get_errno(), "mprotect")
    out = np.frombuffer(m, dtype=a.dtype, count=a.size, offset=(pages - 1) * PAGE - size).reshape(a.shape)
    out[...] = a
    return out

kernel_names = sys.argv[1].split(",") if sys.argv[1] else []
rng = np.random.default_rng(0)
runs = 0
paths = [(None, 0, 1)] + [(k, m, t) for k in kernel_names for m in (1, 2) for t in (1, 3)]
for (kernel, mode, threads), cell, (N, H, I), T, sized, masked in itertools.product(
        paths, ("rnn", "lstm", "gru"), ((1, 5, 3), (17, 17, 1), (33, 31, 8)), (1, 9), (False, True), (False, True)):
    if kernel:
        _fused.packed_kernel(kernel)
    _fused.packed_products(mode)
    _fused.loop_threads(threads)
    G = {"rnn": 1, "lstm": 4, "gru": 3}[cell]
    g = lambda *shape: guarded(rng.standard_normal(shape).astype(np.float32) * 0.4)
    state = tuple(g(H, N) for _ in range(2 if cell == "lstm" else 1))
    sizes = guarded(np.linspace(N, 1, T).round().astype(np.int64)) if sized else None
    mask = guarded(rng.uniform(0.5, 1.5, (H, N)).astype(np.float32)) if masked else None
    x, W_ih, W_hh, b_ih, b_hh = g(I, T, N), g(G * H, I), g(G * H, H), g(G * H), g(G * H)
    for reverse in (False, True):
        y, _, cache = getattr(kernels, cell + "_forward")(x, state, W_ih, W_hh, b_ih, b_hh, batch_sizes=sizes,
                                                          rec_mask=mask, reverse=reverse)
        dy = guarded(np.ones(y.shape, np.float32))
        dstate = tuple(guarded(np.ones_like(s)) for s in state)
        out = getattr(kernels, cell + "_backward")(cache, dy, dstate)
        assert np.isfinite(out[0]).all() and all(np.isfinite(v).all() for v in out[2].values())
        runs += 1
for (kernel, mode, threads), kind, batch_first in itertools.product(paths, ("RNN", "LSTM", "GRU"), (True, False)):
    if kernel:
        _fused.packed_kernel(kernel)
    _fused.packed_products(mode)
    _fused.loop_threads(threads)
    layer = getattr(rnnkit, kind)(3, 17, bidirectional=True, batch_first=batch_first, seed=0)
    x = guarded(rng.standard_normal((33, 9, 3) if batch_first else (9, 33, 3)).astype(np.float32))
    y, _ = layer(x, lengths=rng.integers(1, 10, 33))
    dx, _ = layer.backward(guarded(np.ones(y.shape, np.float32)))
    assert np.isfinite(dx).all()
    runs += 1
print("RUNS", runs)
"""


@pytest.mark.skipif(sys.platform != "linux", reason="mprotect through ctypes: Linux only")
def test_no_read_past_inputs_nor_write_past_scratch():
    """every cell's kernels on OpenBLAS and on each packed kernel, modes 1 and 2, 1 and 3 threads,
    with and without batch_sizes and rec_mask, both directions; then bidirectional layers with
    lengths on the user's x and dy in both layouts (copy_seq): no fault, no damaged allocation"""
    env = dict(os.environ, PYTHONMALLOC="debug")
    env.pop("RNNKIT_NO_C_LOOP", None)
    run = subprocess.run([sys.executable, "-c", textwrap.dedent(CHILD), ",".join(KERNELS)], capture_output=True,
                         text=True, env=env, timeout=300)
    assert run.returncode == 0, f"exit status {run.returncode}:\n{run.stdout[-2000:]}\n{run.stderr[-4000:]}"
    assert f"RUNS {150 * (1 + 4 * len(KERNELS))}" in run.stdout, run.stdout
