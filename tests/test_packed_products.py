"""Packed step products (``csrc/packed.h``): the float32 C loops' per-step products with weights
each thread packs once per call, instead of OpenBLAS's sgemm.

The kernel comes for AVX-512 and for AVX2 (``csrc/packed_tile.h``, one algorithm, tiles sized to
each one's registers); the tests that compare results run each one the CPU has
(``_fused.packed_kernel``), so a CPU with AVX-512 checks both.

Mode 2 of ``_fused.packed_products`` packs every float32 step product, whatever its size, so the
odd shapes (rows that fill no whole block of 6, columns that fill no whole vector of 16, several
column blocks, finished sequences) run through the kernel here at small sizes. Each loop must then
give what it gives with OpenBLAS (mode 0), to rounding; float64 loops never pack.
"""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest

import rnnkit
from rnnkit.kernels import (
    _fused, blas, gru_backward, gru_forward, lstm_backward, lstm_forward, rnn_backward, rnn_forward,
)

from fused_helpers import loop_problem, needs_packed_kernel, packed_kernel_supported, packed_kernels

KERNELS = packed_kernels()

pytestmark = pytest.mark.skipif(blas.find() is None, reason="NumPy's BLAS cannot be called from C here")

CELLS = {
    "rnn": (rnn_forward, rnn_backward, 1, {"nonlinearity": "tanh"}),
    "lstm": (lstm_forward, lstm_backward, 4, {}),
    "gru": (gru_forward, gru_backward, 3, {"reset_after": True}),
}


def _problem(cell, N, dtype, reverse, masked, varlen, T=6, I=5, H=13):
    return loop_problem(CELLS[cell][2], 2 if cell == "lstm" else 1, N, dtype, reverse, masked, varlen, T=T, I=I, H=H)


def _run(cell, p, dy, dstate):
    """forward then backward on copies of the arguments: every output, gradients sorted by name"""
    fwd, bwd, _, options = CELLS[cell]
    y, state_T, cache = fwd(**{k: (v.copy() if isinstance(v, np.ndarray) else v) for k, v in p.items()}, **options)
    y = y.copy()
    dx, dstate0, grads, dh_sq = bwd(cache, dy.copy(), tuple(s.copy() for s in dstate))
    return [y, *state_T, dx, *dstate0, dh_sq, *(grads[k] for k in sorted(grads))]


@needs_packed_kernel
@pytest.mark.parametrize("cell", sorted(CELLS))
@pytest.mark.parametrize("N", [1, 5, 16, 37, 70, 130])
@pytest.mark.parametrize("parts", [1, 2, 3])
@pytest.mark.parametrize("reverse, masked, varlen", [(False, False, False), (True, True, True), (False, True, True)])
@pytest.mark.parametrize("kernel", KERNELS)
def test_packed_loops_match_blas_loops(cell, N, parts, reverse, masked, varlen, kernel, kernel_modes):
    """Every output of forward and backward, packed (mode 2) against OpenBLAS (mode 0). N runs
    through one masked vector (1, 5), whole vectors (16), two to five of them with the last masked
    (37, 70, 130: two and three column blocks of 64); H = 13 gives 13 to 52 rows a thread, never a
    whole number of blocks of 6; the varlen rows finish sequences along the way."""
    packed_products, loop_threads = kernel_modes
    _fused.packed_kernel(kernel)
    loop_threads(parts)
    p, dy, dstate = _problem(cell, N, np.float32, reverse, masked, varlen)
    packed_products(0)
    want = _run(cell, p, dy, dstate)
    packed_products(2)
    got = _run(cell, p, dy, dstate)
    for g, w in zip(got, want):  # rounding of float32 sums, relative to the largest value (the
        # weight gradients sum up to 780 terms: where they cancel, a small entry keeps their error)
        np.testing.assert_allclose(g, w, rtol=2e-5, atol=2e-6 * max(1.0, float(np.abs(w).max())))


@needs_packed_kernel
@pytest.mark.parametrize("cell", sorted(CELLS))
@pytest.mark.parametrize("kernel", KERNELS)
def test_rows_pages_apart(cell, kernel, kernel_modes):
    """T * N = 1280 values between the rows of a step's block (x_t, h_t, the LSTM's gates): the
    AVX2 kernel copies B into a compact panel first (packed.h: pk_product_via, from 1024), the
    LSTM's fused step always; the same results as OpenBLAS to rounding."""
    packed_products, loop_threads = kernel_modes
    _fused.packed_kernel(kernel)
    loop_threads(2)
    p, dy, dstate = _problem(cell, 32, np.float32, True, True, True, T=40, H=30)
    p["W_hh"] *= 0.25  # a contracting recurrence: at this T the problem's own scale is chaotic, and
    # float32 rounding grows to 1e-3 in y on any path (float64 shows it: OpenBLAS's is as far off)
    packed_products(0)
    want = _run(cell, p, dy, dstate)
    packed_products(2)
    got = _run(cell, p, dy, dstate)
    for g, w in zip(got, want):
        np.testing.assert_allclose(g, w, rtol=2e-5, atol=2e-6 * max(1.0, float(np.abs(w).max())))


@needs_packed_kernel
@pytest.mark.parametrize("N", [16, 40, 100])
@pytest.mark.parametrize("parts", [1, 2])
@pytest.mark.parametrize("kernel", KERNELS)
def test_fused_lstm_step_over_several_unit_groups(N, parts, kernel, kernel_modes):
    """The LSTM's fused step (pk_gates: one product for W_hh h~ + W_ih x_t + b, then the gate pass
    on 24 units by 32 columns at a time) with 50 units: two whole groups of 24 and a last one of 2
    on one thread, 25 units each on two."""
    packed_products, loop_threads = kernel_modes
    _fused.packed_kernel(kernel)
    loop_threads(parts)
    p, dy, dstate = _problem("lstm", N, np.float32, True, True, True, H=50, I=9)
    packed_products(0)
    want = _run("lstm", p, dy, dstate)
    packed_products(1)
    got = _run("lstm", p, dy, dstate)
    for g, w in zip(got, want):  # sums of 59 products a step, of values up to about 3: rounding of 1e-5
        np.testing.assert_allclose(g, w, rtol=1e-4, atol=1e-5)


@needs_packed_kernel
@pytest.mark.parametrize("T", [9, 20])
@pytest.mark.parametrize("N, H, I", [(16, 40, 7), (37, 13, 5)])
@pytest.mark.parametrize("parts", [1, 2, 3])
@pytest.mark.parametrize("reverse, masked, varlen", [(False, False, False), (True, True, True), (False, True, True)])
@pytest.mark.parametrize("kernel", KERNELS)
def test_lstm_chunk_weight_gradients_packed(T, N, H, I, parts, reverse, masked, varlen, kernel, kernel_modes):
    """The LSTM backward's weight gradients, 8 steps at a time from its rings (with the AVX-512
    kernel on the packed kernel: sequence.h, chunk_grads_packed, the ring's rows packed 24 at a
    time against the transposed [h~; x] the participants share), against OpenBLAS's (mode 0):
    T = 9 and 20 leave a last chunk of 1 and 4 steps, both rings in turn; 4H = 160 and 52 rows
    give a last block of 16 and 4 rows; I = 7 and 5 fill less than a vector."""
    packed_products, loop_threads = kernel_modes
    _fused.packed_kernel(kernel)
    loop_threads(parts)
    p, dy, dstate = _problem("lstm", N, np.float32, reverse, masked, varlen, T=T, I=I, H=H)
    packed_products(0)
    want = _run("lstm", p, dy, dstate)
    packed_products(1)
    got = _run("lstm", p, dy, dstate)
    for g, w in zip(got, want):  # sums of up to T * N = 740 products per weight-gradient entry
        np.testing.assert_allclose(g, w, rtol=2e-5, atol=2e-6 * max(1.0, float(np.abs(w).max())))


@needs_packed_kernel
@pytest.mark.parametrize("cell", sorted(CELLS))
def test_float64_loops_never_pack(cell, kernel_modes):
    """packed.h is float32 only: mode 2 leaves float64 results bit for bit as they are."""
    packed_products, loop_threads = kernel_modes
    loop_threads(2)
    p, dy, dstate = _problem(cell, 40, np.float64, False, True, True)
    packed_products(0)
    want = _run(cell, p, dy, dstate)
    packed_products(2)
    for g, w in zip(_run(cell, p, dy, dstate), want):
        np.testing.assert_array_equal(g, w)


@needs_packed_kernel
@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_lean_forward_packed(cell, kernel_modes):
    """A forward that keeps no cache (its gates in one time slot) gives the same y and final state
    as one that keeps them, with packed products too."""
    packed_products, loop_threads = kernel_modes
    packed_products(2)
    loop_threads(2)
    p, _, _ = _problem(cell, 40, np.float32, False, True, True, T=9)
    fwd, _, _, options = CELLS[cell]
    y, s, _ = fwd(**p, **options)
    y_lean, s_lean, cache = fwd(**p, **options, keep_cache=False)
    assert cache is None
    np.testing.assert_array_equal(y_lean, y)
    for a, b in zip(s_lean, s):
        np.testing.assert_array_equal(a, b)


@needs_packed_kernel
@pytest.mark.parametrize("kernel", KERNELS)
def test_where_loops_pack(kernel, kernel_modes):
    """Mode 1 packs a loop's W_hh from 16 columns whatever the weight, with either kernel and any
    number of threads (with AVX-512 it once took 16384 weight values per thread but for the LSTM);
    mode 0 never; mode 2 always."""
    packed_products, loop_threads = kernel_modes
    _fused.packed_kernel(kernel)
    packed_products(1)
    for threads in (1, 2) if blas.find().threads else (1,):  # else one thread whatever loop_threads says
        loop_threads(threads)
        for G in (1, 3, 4):
            assert _fused.loop_packs(G, 8, 16)  # 8 * G values: whatever the weight
            assert _fused.loop_packs(G, 64, 64)  # 4096 * G / threads values (below the old 16384)
            assert _fused.loop_packs(G, 128, 64)
            assert not _fused.loop_packs(G, 64, 15)  # too few columns
            assert not _fused.loop_packs(G, 512, 1)
    packed_products(0)
    assert not _fused.loop_packs(4, 256, 64)
    packed_products(2)
    assert _fused.loop_packs(1, 2, 1)


@needs_packed_kernel
@pytest.mark.parametrize("cell", ["RNN", "LSTM", "GRU"])
@pytest.mark.parametrize("kernel", KERNELS)
def test_torch_parity_where_loops_pack(cell, kernel, kernel_modes):
    """A layer at a size where the loops pack by default (mode 1: N = 32, two threads, H = 128; the
    RNN's single gate needs H = 256) against torch.nn: outputs, dx and every parameter gradient."""
    torch = pytest.importorskip("torch")
    packed_products, loop_threads = kernel_modes
    _fused.packed_kernel(kernel)
    packed_products(1)
    loop_threads(2)
    G = {"RNN": 1, "LSTM": 4, "GRU": 3}[cell]
    N, T, I, H = 32, 9, 7, 256 if G == 1 else 128
    assert _fused.loop_packs(G, H, N)
    torch.manual_seed(0)
    tmod = getattr(torch.nn, cell)(I, H, batch_first=True)
    layer = getattr(rnnkit, cell)(I, H, batch_first=True, dtype="float32", seed=0)
    layer.load_state_dict({k: v.detach().numpy().copy() for k, v in tmod.state_dict().items()})
    rng = np.random.default_rng(1)
    x = rng.standard_normal((N, T, I)).astype(np.float32)
    dy = rng.standard_normal((N, T, H)).astype(np.float32)
    xt = torch.from_numpy(x.copy()).requires_grad_(True)
    yt, _ = tmod(xt)
    yt.backward(torch.from_numpy(dy))
    y, _ = layer.forward(x)
    dx, _ = layer.backward(dy)
    np.testing.assert_allclose(y, yt.detach().numpy(), rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(dx, xt.grad.numpy(), rtol=1e-4, atol=1e-5)
    grads = layer.grads
    for name, param in tmod.named_parameters():
        np.testing.assert_allclose(grads[name], param.grad.numpy(), rtol=1e-4, atol=2e-4, err_msg=name)


def test_packed_products_arguments(kernel_modes):
    packed_products, _ = kernel_modes
    with pytest.raises(ValueError, match=r"mode = 3, expected 0 \(never\), 1 \(where they pay\), 2 \(always\)"):
        packed_products(3)
    with pytest.raises(ValueError, match="mode = -2"):
        packed_products(-2)
    with pytest.raises(TypeError):
        packed_products("1")
    assert packed_products(-1) in (0, 1, 2)
    with pytest.raises(ValueError, match=r'packed_kernel: expected "avx512", "avx2" or None, got \'avx\''):
        _fused.packed_kernel("avx")
    with pytest.raises(ValueError, match="got 16"):
        _fused.packed_kernel(16)
    if "avx512" not in KERNELS:
        with pytest.raises(ValueError, match="runs no avx512 kernel; expected 'avx2', got 'avx512'" if KERNELS
                           else "runs no packed kernel, got 'avx512'"):
            _fused.packed_kernel("avx512")
    assert _fused.packed_kernel(None) == (KERNELS[0] if KERNELS else None)
    with pytest.raises(TypeError, match="loop_packs takes 3 arguments, got 2"):
        _fused.loop_packs(4, 64)
    with pytest.raises(ValueError, match="N"):
        _fused.loop_packs(4, 64, 0)


@needs_packed_kernel
def test_small_weights_pack_from_the_first_loop():
    """In a fresh process the very first question already knows the kernel (pk_lanes is set on the
    first question) and packs a small weight: 3 * 64 * 64 values or fewer per thread, from 16
    columns, on either kernel."""
    code = ("from rnnkit.kernels import _fused; "
            "print(_fused.loop_packs(3, 64, 64), _fused.loop_packs(3, 64, 15), _fused.packed_kernel(None))")
    env = {k: v for k, v in os.environ.items() if k != "RNNKIT_NO_PACKED"}  # (the suite may run with it set)
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                         check=True).stdout.split()
    assert out[:2] == ["True", "False"] and out[2] in KERNELS


@pytest.mark.parametrize("value, off", [("1", True), ("yes", True), ("0", False), ("", False)])
def test_no_packed_environment_variable(value, off):
    """RNNKIT_NO_PACKED set to anything but "" or "0" keeps OpenBLAS for every product (read at
    the first one); otherwise they pack where the CPU can."""
    code = "from rnnkit.kernels import _fused; print(_fused.packed_products(-1))"
    env = dict(os.environ, RNNKIT_NO_PACKED=value)
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ("0" if off or not packed_kernel_supported() else "1")
