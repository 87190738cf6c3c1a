"""The C loops split over several threads, and OpenBLAS running on rnnkit's pool (``csrc/pool.h``).

With P participants, each owns a slice of the hidden units: its rows of the recurrent product
and its part of the gate pass, with a barrier per step. The results must be those of one thread
(P = 1) for every cell and option, with slices of unequal size and more participants than cores.
OpenBLAS's multithreaded work, handed to the same pool by ``blas.find()``, must stay correct
under concurrent callers and after fork(), and OpenBLAS's thread count must be left as it was.
"""

from __future__ import annotations

import ctypes
import os
import subprocess
import sys
import textwrap
import threading

import numpy as np
import pytest
from test_c_loops import CELLS, _problem, _run

from rnnkit.kernels import _fused, blas, lstm_forward

pytestmark = pytest.mark.skipif(blas.find() is None or not blas.find().threads,
                                reason="NumPy's OpenBLAS and its thread controls cannot be called from C here")


@pytest.fixture
def threads():
    """loop_threads(n) for the test, automatic again after it"""
    yield _fused.loop_threads
    _fused.loop_threads(0)


def _openblas_threads() -> ctypes.CFUNCTYPE:
    lib = ctypes.CDLL(blas.find().path)
    for name in ("scipy_openblas_get_num_threads64_", "scipy_openblas_get_num_threads", "openblas_get_num_threads64_",
                 "openblas_get_num_threads"):
        f = getattr(lib, name, None)
        if f is not None:
            f.restype = ctypes.c_int
            return f
    pytest.skip("no openblas_get_num_threads")


@pytest.mark.parametrize("cell", list(CELLS))
@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["f32", "f64"])
@pytest.mark.parametrize("reverse", [False, True], ids=["fwd", "rev"])
@pytest.mark.parametrize("masked", [False, True], ids=["nomask", "mask"])
@pytest.mark.parametrize("packed", [False, True], ids=["full", "packed"])
@pytest.mark.parametrize("P", [2, 3, 5])
def test_split_loop_matches_one_thread(cell, dtype, reverse, masked, packed, P, threads, monkeypatch):
    """H = 11 over P = 2, 3, 5: slices of 5-6, 3-4 and 2-3 hidden units; N = 40."""
    p, dy, dstate = _problem(cell, 40, dtype, reverse, masked, packed, H=11)
    threads(1)
    want = _run(cell, p, dy, dstate, True, monkeypatch)
    threads(P)
    got = _run(cell, p, dy, dstate, True, monkeypatch)
    tol = dict(rtol=1e-5, atol=1e-6) if dtype == np.float32 else dict(rtol=1e-12, atol=1e-13)
    for g, w in zip(got, want):
        assert g.shape == w.shape
        np.testing.assert_allclose(g, w, **tol)


@pytest.mark.parametrize("cell", list(CELLS))
def test_split_loop_dy_none_and_one_sequence(cell, threads, monkeypatch):
    """dy None (the zeros block, sliced per participant) and N = 1, against one thread"""
    for N, use_dy in ((1, True), (7, False)):
        p, dy, dstate = _problem(cell, N, np.float64, True, True, True, H=9)
        threads(1)
        want = _run(cell, p, dy if use_dy else None, dstate, True, monkeypatch)
        threads(4)
        got = _run(cell, p, dy if use_dy else None, dstate, True, monkeypatch)
        for g, w in zip(got, want):
            np.testing.assert_allclose(g, w, rtol=1e-12, atol=1e-13)


def test_more_threads_than_hidden_units(threads, monkeypatch):
    """P is capped at H: H = 2 with loop_threads(6) runs 2 participants of one unit each."""
    p, dy, dstate = _problem("lstm", 5, np.float64, False, False, False, H=2)
    threads(1)
    want = _run("lstm", p, dy, dstate, True, monkeypatch)
    threads(6)
    got = _run("lstm", p, dy, dstate, True, monkeypatch)
    for g, w in zip(got, want):
        np.testing.assert_allclose(g, w, rtol=1e-12, atol=1e-13)


def test_loop_threads_arguments(threads):
    assert threads(3) == 0
    assert threads(0) == 3
    for bad in (-1, 66):
        with pytest.raises(ValueError, match=r"loop_threads: n = -?\d+, expected 0 \(automatic\) to 65"):
            threads(bad)
    with pytest.raises(TypeError):
        threads("2")
    assert threads(0) == 0


def test_openblas_thread_count_is_restored(threads, monkeypatch):
    """A split loop asks OpenBLAS for one thread while it runs, and gives the count back, also
    when two loops on two threads overlap."""
    get = _openblas_threads()
    before = get()
    threads(2)
    p, dy, dstate = _problem("gru", 40, np.float32, False, False, False, H=32, T=30)
    errors = []

    def work():
        try:
            for _ in range(5):
                _run("gru", p, dy, dstate, True, monkeypatch)
        except Exception as e:  # reported below: an assertion here would be lost in the thread
            errors.append(e)

    ts = [threading.Thread(target=work) for _ in range(2)]
    for t in ts:
        t.start()
    for t in ts:
        t.join(timeout=120)
    assert not any(t.is_alive() for t in ts), "split loops on two threads did not finish"
    assert not errors
    assert get() == before


def test_numpy_products_on_the_pool_concurrently(threads):
    """NumPy products large enough to be threaded (run on the pool through OpenBLAS's callback)
    from several threads at once, while split LSTM loops run: every result exact, nothing stuck."""
    if _openblas_threads()() < 2:
        pytest.skip("OpenBLAS runs single-threaded here: nothing goes through the pool")
    rng = np.random.default_rng(0)
    a = rng.standard_normal((300, 300)).astype(np.float32)
    want_mm = (a.astype(np.float64) @ a.astype(np.float64))
    x = rng.standard_normal((16, 20, 32)).astype(np.float32)
    W_ih = (rng.standard_normal((4 * 64, 16)) * 0.2).astype(np.float32)
    W_hh = (rng.standard_normal((4 * 64, 64)) * 0.2).astype(np.float32)
    h0 = np.zeros((64, 32), np.float32)
    threads(1)
    want_y = lstm_forward(x, (h0, h0), W_ih, W_hh)[0].copy()
    threads(2)
    errors = []

    def products():
        for _ in range(20):
            if not np.allclose(a @ a, want_mm, rtol=1e-4, atol=1e-3):
                errors.append("matmul")

    def loops():
        for _ in range(10):
            if not np.allclose(lstm_forward(x, (h0, h0), W_ih, W_hh)[0], want_y, rtol=1e-5, atol=1e-6):
                errors.append("lstm")

    ts = [threading.Thread(target=f) for f in (products, products, loops, loops)]
    for t in ts:
        t.start()
    for t in ts:
        t.join(timeout=120)
    assert not any(t.is_alive() for t in ts), "threads did not finish: a deadlock"
    assert errors == []
    assert _fused.pool_workers() >= 1


def _script(body: str, env: dict | None = None, timeout: float = 120) -> subprocess.CompletedProcess:
    env = dict(os.environ, **(env or {}))
    return subprocess.run([sys.executable, "-c", textwrap.dedent(body)], capture_output=True, text=True, env=env,
                          timeout=timeout)


@pytest.mark.skipif(not hasattr(os, "fork"), reason="no fork()")
def test_fork_child_gets_a_fresh_pool():
    """After fork() the child has none of the parent's workers: its threaded products and split
    loops start a pool of their own (pthread_atfork) and give the parent's results."""
    r = _script("""
        import os, numpy as np
        from rnnkit.kernels import _fused, blas, lstm_forward
        blas.find()
        rng = np.random.default_rng(0)
        a = rng.standard_normal((400, 400)).astype(np.float32)
        x = rng.standard_normal((16, 20, 32)).astype(np.float32)
        W_ih = (rng.standard_normal((256, 16)) * 0.2).astype(np.float32)
        W_hh = (rng.standard_normal((256, 64)) * 0.2).astype(np.float32)
        h0 = np.zeros((64, 32), np.float32)
        _fused.loop_threads(2)
        mm, y = a @ a, lstm_forward(x, (h0, h0), W_ih, W_hh)[0].copy()
        pid = os.fork()
        if pid == 0:
            ok = np.array_equal(a @ a, mm) and np.allclose(lstm_forward(x, (h0, h0), W_ih, W_hh)[0], y, rtol=1e-6)
            os._exit(0 if ok else 3)
        _, status = os.waitpid(pid, 0)
        print("child", os.waitstatus_to_exitcode(status))
    """)
    assert r.returncode == 0, r.stderr
    assert "child 0" in r.stdout, r.stdout + r.stderr


def test_no_pool_environment_variable():
    """RNNKIT_NO_POOL=1: OpenBLAS keeps its own threads, every loop runs on one thread, and the
    results are the same."""
    r = _script("""
        import numpy as np
        from rnnkit.kernels import _fused, blas, lstm_forward
        lib = blas.find()
        rng = np.random.default_rng(0)
        x = rng.standard_normal((16, 20, 64)).astype(np.float64)
        W_ih = rng.standard_normal((512, 16)) * 0.1
        W_hh = rng.standard_normal((512, 128)) * 0.1
        h0 = np.zeros((128, 64))
        y = lstm_forward(x, (h0, h0), W_ih, W_hh)[0]
        a = rng.standard_normal((500, 500))
        a @ a
        print(lib.threads, _fused.pool_workers(), repr(float(y.sum())))
    """, env={"RNNKIT_NO_POOL": "1"})
    assert r.returncode == 0, r.stderr
    threaded, workers, total = r.stdout.split()
    assert (threaded, workers) == ("False", "0")
    rng = np.random.default_rng(0)
    x = rng.standard_normal((16, 20, 64))
    W_ih = rng.standard_normal((512, 16)) * 0.1
    W_hh = rng.standard_normal((512, 128)) * 0.1
    h0 = np.zeros((128, 64))
    np.testing.assert_allclose(float(total), lstm_forward(x, (h0, h0), W_ih, W_hh)[0].sum(), rtol=1e-10)
