"""``rnnkit.no_grad`` and ``rnnkit.is_grad_enabled`` (``layers/grad_mode.py``): the flag, nested
blocks, exceptions, the decorator, and threads (the flag and what each block restores are per
thread). What the layers do under it: ``test_no_grad.py``."""

from __future__ import annotations

import threading

import numpy as np
import pytest

import rnnkit

NO_GRAD = r"under rnnkit\.no_grad\(\)"
X = np.random.default_rng(0).standard_normal((2, 5, 3)).astype(np.float32)
DY4 = np.ones((2, 5, 4), np.float32)

def test_is_grad_enabled_nesting_reuse_and_exceptions():
    enabled = rnnkit.is_grad_enabled
    assert enabled() is True
    with rnnkit.no_grad() as ng:
        assert isinstance(ng, rnnkit.no_grad) and enabled() is False
        with rnnkit.no_grad():
            assert enabled() is False
        assert enabled() is False  # the inner exit restores the outer block's state
    assert enabled() is True
    with pytest.raises(KeyError):
        with rnnkit.no_grad(), rnnkit.no_grad():
            raise KeyError("x")
    assert enabled() is True
    ng = rnnkit.no_grad()
    for _ in range(2):  # the same instance, nested, and once more afterwards
        with ng:
            with ng:
                assert enabled() is False
            assert enabled() is False
        assert enabled() is True
    assert rnnkit.layers.no_grad is rnnkit.no_grad and rnnkit.layers.is_grad_enabled is enabled


def test_decorator():
    seen = []

    @rnnkit.no_grad()
    def infer(a, *, b=1):
        """docs"""
        seen.append(rnnkit.is_grad_enabled())
        return a / b

    assert infer.__name__ == "infer" and infer.__doc__ == "docs"
    assert infer(6, b=3) == 2 and seen == [False] and rnnkit.is_grad_enabled() is True
    with pytest.raises(ZeroDivisionError):
        infer(1, b=0)
    assert rnnkit.is_grad_enabled() is True
    with rnnkit.no_grad():
        infer(1)
        assert rnnkit.is_grad_enabled() is False
    assert rnnkit.is_grad_enabled() is True and seen == [False] * 3
    layer = rnnkit.GRU(3, 4, seed=0)
    rnnkit.no_grad()(layer.forward)(X)
    with pytest.raises(RuntimeError, match=NO_GRAD):
        layer.backward(DY4)
    for bad in (3, "f", None):
        with pytest.raises(TypeError, match="decorates a function"):
            rnnkit.no_grad()(bad)

    def gen():
        yield rnnkit.is_grad_enabled()

    async def coro():
        return rnnkit.is_grad_enabled()

    for bad in (gen, coro):  # their bodies would run after the block: refused, not silently wrong
        with pytest.raises(TypeError, match=f"cannot decorate .*{bad.__name__}, a generator or coroutine"):
            rnnkit.no_grad()(bad)
    assert rnnkit.is_grad_enabled() is True


def test_flag_is_per_thread():
    seen, inside, release = {}, threading.Event(), threading.Event()

    def child():
        seen["child_start"] = rnnkit.is_grad_enabled()
        with rnnkit.no_grad():
            seen["child_inside"] = rnnkit.is_grad_enabled()
            inside.set()
            release.wait(10)
        seen["child_end"] = rnnkit.is_grad_enabled()

    with rnnkit.no_grad():
        t = threading.Thread(target=child)
        t.start()
        assert inside.wait(10)
        seen["main_inside"] = rnnkit.is_grad_enabled()
    seen["main_after"] = rnnkit.is_grad_enabled()  # while the child is still in its block
    release.set()
    t.join(10)
    assert seen == dict(child_start=True, child_inside=False, main_inside=False, main_after=True, child_end=True)


def test_one_instance_shared_by_threads():
    """Each thread restores its own flag, whichever no_grad object its blocks use."""
    ng, seen = rnnkit.no_grad(), {}
    a_in, b_in, a_out = threading.Event(), threading.Event(), threading.Event()

    def thread_a():
        with ng:
            a_in.set()
            b_in.wait(10)
        seen["a_after"] = rnnkit.is_grad_enabled()
        a_out.set()

    def thread_b():
        with rnnkit.no_grad():
            a_in.wait(10)
            with ng:
                b_in.set()
                a_out.wait(10)
            seen["b_outer"] = rnnkit.is_grad_enabled()
        seen["b_after"] = rnnkit.is_grad_enabled()

    threads = [threading.Thread(target=f) for f in (thread_a, thread_b)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert seen == dict(a_after=True, b_outer=False, b_after=True)
