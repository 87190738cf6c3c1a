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
from test_c_loops import CELLS, _problem, _run, every_option

from rnnkit.kernels import _fused, blas, lstm_forward

pytestmark = pytest.mark.skipif(blas.find() is None or not blas.find().threads,
                                reason="NumPy's OpenBLAS and its thread controls cannot be called from C here")


def _openblas_threads() -> ctypes.CFUNCTYPE:
    lib = ctypes.CDLL(blas.find().path)
    for name in ("scipy_openblas_get_num_threads64_", "scipy_openblas_get_num_threads", "openblas_get_num_threads64_",
                 "openblas_get_num_threads"):
        f = getattr(lib, name, None)
        if f is not None:
            f.restype = ctypes.c_int
            return f
    pytest.skip("no openblas_get_num_threads")


@every_option
@pytest.mark.parametrize("P", [2, 3, 5])
def test_split_loop_matches_one_thread(cell, dtype, reverse, masked, packed, P, threads, monkeypatch):
    """H = 11 over P = 2, 3, 5: slices of 5-6, 3-4 and 2-3 hidden units; N = 40. The RNN's weight
    gradients are products per participant too (its rows), whose float32 sums OpenBLAS may take
    in another order for another number of rows: to rounding relative to each array's largest
    value, then."""
    p, dy, dstate = _problem(cell, 40, dtype, reverse, masked, packed, H=11)
    threads(1)
    want = _run(cell, p, dy, dstate, True, monkeypatch)
    threads(P)
    got = _run(cell, p, dy, dstate, True, monkeypatch)
    for g, w in zip(got, want):
        assert g.shape == w.shape
        scale = max(1.0, float(np.abs(w).max()))
        tol = dict(rtol=1e-5, atol=1e-6 * scale) if dtype == np.float32 else dict(rtol=1e-12, atol=1e-13 * scale)
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


@pytest.mark.parametrize("P", [2, 3, 8])
@pytest.mark.parametrize("T", [1, 2, 7])
@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["f32", "f64"])
def test_split_layout_copies(P, T, dtype, threads):
    """copy_steps split over P threads by time steps (T < P included: P is capped at T), in both
    directions between the kernels' (F, T, N) layout and (N, T, F) / (T, N, F) user arrays."""
    from rnnkit.kernels.common import copy_steps

    rng = np.random.default_rng(T)
    threads(P)
    for F, N in ((19, 33), (16, 16), (3, 40)):
        kernel = rng.standard_normal((F, T, N)).astype(dtype)
        for user in (np.empty((N, T, F), dtype), np.empty((T, N, F), dtype)):
            view = user.transpose(2, 1, 0) if user.shape[0] == N else user.transpose(2, 0, 1)
            copy_steps(view, kernel)
            np.testing.assert_array_equal(view, kernel)
            back = np.full_like(kernel, np.nan)
            copy_steps(back, view)
            np.testing.assert_array_equal(back, kernel)


def test_large_copy_is_split_automatically(threads):
    """From 256 kB on, a copy is split without being asked (when OpenBLAS has 2+ threads); the
    result is the same either way."""
    from rnnkit.kernels.common import copy_steps

    threads(0)
    user = np.random.default_rng(0).standard_normal((64, 50, 40)).astype(np.float32)  # 512 kB
    out = np.empty((40, 50, 64), np.float32)
    copy_steps(out, user.transpose(2, 1, 0))
    np.testing.assert_array_equal(out, user.transpose(2, 1, 0))
    if _openblas_threads()() > 1:
        assert _fused.pool_workers() >= 1


def test_more_threads_than_hidden_units(threads, monkeypatch):
    """P is capped at H: H = 2 with loop_threads(6) runs 2 participants of one unit each."""
    p, dy, dstate = _problem("lstm", 5, np.float64, False, False, False, H=2)
    threads(1)
    want = _run("lstm", p, dy, dstate, True, monkeypatch)
    threads(6)
    got = _run("lstm", p, dy, dstate, True, monkeypatch)
    for g, w in zip(got, want):
        np.testing.assert_allclose(g, w, rtol=1e-12, atol=1e-13)


@pytest.mark.parametrize("cell", list(CELLS))
def test_split_loop_stress(cell, threads, monkeypatch):
    """A longer sequence (T = 60) with every option on and 2 to 13 participants (one hidden unit
    each at 13), far more than the cores that run them: any missing wait shows up here."""
    p, dy, dstate = _problem(cell, 17, np.float64, True, True, True, T=60, H=13)
    threads(1)
    want = _run(cell, p, dy, dstate, True, monkeypatch)
    for P in (2, 4, 13):
        threads(P)
        for _ in range(2):
            got = _run(cell, p, dy, dstate, True, monkeypatch)
            for g, w in zip(got, want):  # absolute rounding relative to the largest value: a weight
                # gradient's sums of 1020 terms cancel to 0.07 beside entries of 155 (OpenBLAS's
                # Haswell dgemm on Zen 3 splits them differently by rows: 2.4e-13 apart there)
                np.testing.assert_allclose(g, w, rtol=1e-12, atol=1e-14 * max(1.0, float(np.abs(w).max())))


def test_automatic_participants(threads):
    """loop_threads(0): one participant below 20000 multiply-adds per step product, at least 8
    hidden units each, at most OpenBLAS's thread count."""
    n = _openblas_threads()()
    threads(0)
    assert _fused.loop_parts(4, 64, 1) == 1  # 16384 multiply-adds
    assert _fused.loop_parts(1, 64, 2) == 1
    assert _fused.loop_parts(4, 128, 64) == min(n, 16)
    assert _fused.loop_parts(3, 16, 64) == min(n, 2)  # H / 8
    assert _fused.loop_parts(1, 8, 4096) == 1
    threads(3)
    assert _fused.loop_parts(4, 64, 1) == 3
    assert _fused.loop_parts(4, 2, 1) == 2  # never more than H
    with pytest.raises(ValueError, match=r"loop_parts: H = 0, expected 1 <= H"):
        _fused.loop_parts(4, 0, 1)
    with pytest.raises(TypeError, match="takes 3 arguments"):
        _fused.loop_parts(4, 1)


def test_use_blas_threads_checks_its_arguments():
    with pytest.raises(TypeError, match="takes 4 arguments"):
        _fused.use_blas_threads(1, 2, 0)
    for bad in ("x", 0, -1, 2**70):
        with pytest.raises(ValueError, match=r"get_num_threads must be the address of openblas_get_num_threads, a "
                                             r"non-zero int"):
            _fused.use_blas_threads(bad, 2, 0, 0)
    with pytest.raises(ValueError, match="set_threads_callback must be the address of "
                                         "openblas_set_threads_callback_function, an int"):
        _fused.use_blas_threads(1, 2, -1, 0)
    with pytest.raises(ValueError, match="threads_callback must be the address of openblas_threads_callback_, an int"):
        _fused.use_blas_threads(1, 2, 0, "x")
    blas.find.cache_clear()  # nothing was registered by the failures; register NumPy's again anyway
    assert blas.find().threads


def test_loop_threads_arguments(threads):
    before = threads(3)  # 0 (automatic) unless the whole run set another count
    assert 0 <= before <= 65
    assert threads(0) == 3
    for bad in (-1, 66):
        with pytest.raises(ValueError, match=r"loop_threads: n = -?\d+, expected 0 \(automatic\) to 65"):
            threads(bad)
    with pytest.raises(TypeError):
        threads("2")
    assert threads(before) == 0
    assert threads(before) == before


def test_openblas_thread_count_is_restored(threads, monkeypatch):
    """A split loop asks OpenBLAS for one thread while it runs, and gives the count back, also
    when two loops on two threads overlap."""
    get = _openblas_threads()
    before = get()
    threads(2)
    monkeypatch.setattr(blas, "c_loops", lambda: True)  # once, here: not from the threads
    p, dy, dstate = _problem("gru", 40, np.float32, False, False, False, H=32, T=30)
    fwd, bwd, _, options = CELLS["gru"]
    errors = []

    def work():
        try:
            for _ in range(5):
                args = {k: (v.copy() if isinstance(v, np.ndarray) else v) for k, v in p.items()}
                y, _, cache = fwd(**args, **options)
                bwd(cache, dy.copy(), tuple(s.copy() for s in dstate))
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


def test_thread_count_set_during_a_loop_is_kept(threads):
    """A loop gives OpenBLAS its count back only if nobody changed it meanwhile."""
    lib = ctypes.CDLL(blas.find().path)
    set_ = getattr(lib, "scipy_openblas_set_num_threads64_", None) or getattr(lib, "openblas_set_num_threads")
    get = _openblas_threads()
    before = get()
    threads(2)
    rng = np.random.default_rng(0)
    x = rng.standard_normal((8, 3000, 16)).astype(np.float32)
    W_ih = (rng.standard_normal((256, 8)) * 0.2).astype(np.float32)
    W_hh = (rng.standard_normal((256, 64)) * 0.2).astype(np.float32)
    h0 = np.zeros((64, 16), np.float32)
    t = threading.Thread(target=lambda: lstm_forward(x, (h0, h0), W_ih, W_hh))
    try:
        t.start()
        set_(3)  # during the loop or after it: either way 3 must stay
        t.join(timeout=120)
        assert not t.is_alive()
        assert get() == 3
    finally:
        set_(before)


def test_numpy_products_alone_use_the_pool():
    """In a fresh process, NumPy products alone (no rnnkit loop) start the pool's workers once
    blas.find() has handed OpenBLAS the callback: its threaded work runs there."""
    r = _script("""
        import numpy as np
        from rnnkit.kernels import _fused, blas
        lib = blas.find()
        a = np.random.default_rng(0).standard_normal((600, 600)).astype(np.float32)
        before = _fused.pool_workers()
        ok = np.allclose(a @ a, a.astype(np.float64) @ a.astype(np.float64), rtol=1e-3, atol=1e-2)
        import ctypes
        get = getattr(ctypes.CDLL(lib.path), "scipy_openblas_get_num_threads64_")
        print(before, _fused.pool_workers(), get(), ok)
    """)
    assert r.returncode == 0, r.stderr
    before, after, n, ok = r.stdout.split()
    assert ok == "True"
    assert before == "0"
    # OpenBLAS may split a product over fewer threads than it has; one worker at least when 2+
    assert (1 <= int(after) <= int(n) - 1) if int(n) > 1 else int(after) == 0


def test_a_foreign_openblas_callback_is_left_in_place():
    """A threads callback another library gave OpenBLAS before rnnkit's blas.find() stays: NumPy's
    threaded products keep running through it, and the split loops still use rnnkit's pool."""
    r = _script("""
        import ctypes, threading, numpy as np
        from rnnkit.kernels import blas
        path = blas._candidates()[0]
        lib = ctypes.CDLL(path)
        DOJOB = ctypes.CFUNCTYPE(None, ctypes.c_int, ctypes.c_void_p, ctypes.c_int)
        CALLBACK = ctypes.CFUNCTYPE(None, ctypes.c_int, DOJOB, ctypes.c_int, ctypes.c_size_t, ctypes.c_void_p,
                                    ctypes.c_int)
        calls = []
        @CALLBACK
        def foreign(sync, dojob, numjobs, size, jobs, arg):  # each job on a thread of its own, at once:
            calls.append(numjobs)                            # OpenBLAS's jobs wait for one another
            ts = [threading.Thread(target=dojob, args=(i, jobs + i * size, arg)) for i in range(1, numjobs)]
            for t in ts:
                t.start()
            dojob(0, jobs, arg)
            for t in ts:
                t.join()
        getattr(lib, "scipy_openblas_set_threads_callback_function64_")(foreign)
        found = blas.find()
        now = ctypes.c_void_p.in_dll(lib, "openblas_threads_callback_").value
        a = np.random.default_rng(0).standard_normal((600, 600)).astype(np.float32)
        ok = np.allclose(a @ a, a.astype(np.float64) @ a.astype(np.float64), rtol=1e-3, atol=1e-2)
        from rnnkit.kernels import _fused, lstm_forward
        rng = np.random.default_rng(0)
        x = rng.standard_normal((16, 20, 64))
        W_ih, W_hh = rng.standard_normal((512, 16)) * 0.1, rng.standard_normal((512, 128)) * 0.1
        h0 = np.zeros((128, 64))
        _fused.loop_threads(2)
        y2 = lstm_forward(x, (h0, h0), W_ih, W_hh)[0].copy()
        _fused.loop_threads(1)
        y1 = lstm_forward(x, (h0, h0), W_ih, W_hh)[0]
        print(found.threads, found.blas_on_pool, now == ctypes.cast(foreign, ctypes.c_void_p).value,
              len(calls) > 0, ok, _fused.pool_workers() >= 1, np.allclose(y1, y2, rtol=1e-12, atol=1e-12))
    """, env={"OPENBLAS_NUM_THREADS": "2", "RNNKIT_NO_C_LOOP": ""}, timeout=60)  # the loops in C, whatever the suite's
    assert r.returncode == 0, r.stderr
    assert r.stdout.split() == ["True", "False", "True", "True", "True", "True", "True"], r.stdout


@pytest.mark.skipif(not hasattr(os, "fork"), reason="no fork()")
def test_fork_during_a_loop_on_another_thread():
    """A child forked while another thread runs split loops (the C loop alone: a threaded NumPy
    product in flight at fork() can leave OpenBLAS's own locks held in the child, with or without
    rnnkit) inherits OpenBLAS's count of 1; its first loop puts the user's count back, and its
    results are right. The fork waits for the loop in flight (pool.h's fork handlers)."""
    r = _script("""
        import ctypes, os, threading, numpy as np
        from rnnkit.kernels import _fused, blas, lstm_forward
        lib = blas.find()
        get = getattr(ctypes.CDLL(lib.path), "scipy_openblas_get_num_threads64_")
        before = get()
        rng = np.random.default_rng(0)
        x = rng.standard_normal((8, 400, 16)).astype(np.float32)
        W_ih = (rng.standard_normal((256, 8)) * 0.2).astype(np.float32)
        W_hh = (rng.standard_normal((256, 64)) * 0.2).astype(np.float32)
        h0 = np.zeros((64, 16), np.float32)
        _fused.loop_threads(2)
        y = lstm_forward(x, (h0, h0), W_ih, W_hh)[0].copy()
        A = np.zeros((400, 256, 16), np.float32)  # the caches time-major
        hs, cs = np.zeros((64, 401, 16), np.float32), np.zeros((401, 64, 16), np.float32)
        tcs = np.zeros((400, 64, 16), np.float32)
        stop, runs = False, []
        def loops():
            while not stop:
                _fused.lstm_forward_seq(hs, A, cs, tcs, x, W_ih, W_hh, None, None, None, 0)
                runs.append(1)  # the loop thread ran (a failed call would end it quietly)
        t = threading.Thread(target=loops)
        t.start()
        codes = []
        for _ in range(5):
            pid = os.fork()
            if pid == 0:
                ok = np.allclose(lstm_forward(x, (h0, h0), W_ih, W_hh)[0], y, rtol=1e-6) and get() == before
                os._exit(0 if ok else 3)
            codes.append(os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]))
        stop = True
        t.join()
        print(codes, len(runs) > 0, get() == before)
    """, env={"RNNKIT_NO_C_LOOP": ""})  # the loops in C, whatever the suite's
    assert r.returncode == 0, r.stderr
    assert r.stdout.split("]")[0] == "[0, 0, 0, 0, 0", r.stdout
    assert r.stdout.strip().endswith("True True"), r.stdout


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
