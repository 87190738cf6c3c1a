"""``no_grad``: forward passes that no backward will follow, as ``torch.no_grad()``.

A forward normally keeps what its backward reads: the recurrent layers every step's gates and
states (the LSTM six arrays the size of its output besides it: four gates, c_t and tanh(c_t)),
the other layers their input or output. Under ``no_grad`` the layers keep none of it:

- the LSTM's and GRU's C loops keep their gate caches for one step only (``keep_cache=False``
  of :func:`rnnkit.kernels.lstm_forward`, ``csrc/sequence.h``): a forward needs a fraction of
  the memory and runs faster, as nothing but the outputs goes to memory;
- ``backward`` after such a forward raises a ``RuntimeError`` that says why.

The outputs are the same as those of a forward outside ``no_grad``, bit for bit. The flag is
per thread, like PyTorch's. :meth:`Sequential.predict`, ``evaluate``, validation during ``fit``
and the estimators' predictions run under it (:func:`evaluating`).
"""

from __future__ import annotations

import functools
import inspect
import threading
from contextlib import contextmanager
from typing import Any, Callable, Iterator

_state = threading.local()  # .enabled: the flag; .saved: the flags the open blocks will restore


def is_grad_enabled() -> bool:
    """False inside ``with rnnkit.no_grad():`` (in this thread), else True."""
    return getattr(_state, "enabled", True)


def _saved() -> list[bool]:
    """This thread's stack of flags to restore (one per open ``no_grad`` block, any instance):
    per thread, so that threads sharing one ``no_grad()`` object restore their own flags."""
    if not hasattr(_state, "saved"):
        _state.saved = []
    return _state.saved


class no_grad:
    """Context manager, or decorator, under which forward passes keep nothing for a backward.

    Example::

        with rnnkit.no_grad():
            y, _ = lstm(x)          # the same y; backward() after it raises

        @rnnkit.no_grad()
        def forecast(model, x):
            return model(x)

    Nested blocks and exceptions restore the previous state on exit. A generator function
    cannot be decorated (its body runs after the call returns): use the block inside it.
    """

    def __enter__(self) -> "no_grad":
        _saved().append(is_grad_enabled())
        _state.enabled = False
        return self

    def __exit__(self, *exc: Any) -> None:
        _state.enabled = _saved().pop()

    def __call__(self, fn: Callable) -> Callable:
        if not callable(fn):
            raise TypeError(f"no_grad() decorates a function, got {type(fn).__name__}.")
        if inspect.isgeneratorfunction(fn) or inspect.isasyncgenfunction(fn) or inspect.iscoroutinefunction(fn):
            raise TypeError(
                f"no_grad() cannot decorate {fn.__qualname__}, a generator or coroutine function: its body "
                "runs after the call returns, outside the block. Expected a plain function; use "
                "`with rnnkit.no_grad():` inside it instead."
            )

        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            with no_grad():
                return fn(*args, **kwargs)

        return wrapper


@contextmanager
def evaluating(module: Any) -> Iterator[Any]:
    """Evaluation mode (``module.eval()``: no dropout) and :class:`no_grad` for the block; the
    mode of the module and of every layer inside it is restored after it, also on an exception
    (a layer the caller had put in evaluation mode in a training model stays so)."""
    modes = [(m, m.training) for m in module.modules()]
    module.eval()
    try:
        with no_grad():
            yield module
    finally:
        for m, training in modes:  # parents before their layers, which then get their own mode back
            m.train(training)
