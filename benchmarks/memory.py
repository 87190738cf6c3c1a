"""Peak *extra* memory of one call, measured at the allocator level on each side.

Both measurements answer the same question: "while ``fn()`` runs, by how many bytes does
the memory held in live arrays/tensors rise above what was live when it started?" They
are measured in steady state: ``fn`` is called once untimed *inside* the measurement
window first (priming), so that every block the measured call frees was itself allocated
while being traced (otherwise frees of older blocks are invisible and the peak is
overestimated), and so that lazy one-time allocations (caches, workspaces) are excluded.

- numpy / rnnkit: :mod:`tracemalloc`. numpy registers every array data buffer with
  tracemalloc (``PyTraceMalloc_Track``), and Python objects are traced too. Peak is
  ``tracemalloc`` peak minus the traced size at the start of the measured call. Memory
  rnnkit keeps between steps (parameters, gradient buffers, the previous forward cache)
  is in the baseline; memory the step newly allocates (the new cache, temporaries, dx)
  counts.
- torch: torch's CPU tensor allocations are invisible to tracemalloc, so we use
  ``torch.profiler.profile(profile_memory=True)``. Its "[memory]" events record every
  allocation (+bytes) and free (-bytes) through c10's CPU allocator (CPU/MKLDNN devices),
  including oneDNN RNN workspaces. Peak is the maximum running sum of those events inside a
  ``record_function`` range around the measured call. Parameter gradients are freed at
  the start of the step (``zero_grad(set_to_none=True)``) and re-allocated in backward, so
  (like rnnkit's persistent gradient buffers) they do not add to the peak. dx is returned
  by the step on both sides and dropped by the caller before the next call (the torch side
  does not leave it in ``x.grad``, whose free at the next call's start would cancel it), so
  both peaks count it. Memory allocated outside c10 (e.g. BLAS/oneDNN internal scratch,
  libgomp) is not seen.

Neither counts interpreter, library code or allocator slack (RSS); they are
comparable "bytes in live arrays/tensors" figures. Numbers are bytes; tables show MB (1e6).
"""

from __future__ import annotations

import contextlib
import os
import sys
import tempfile
import tracemalloc
from typing import Callable

import numpy as np

NUMPY_METHOD = (
    "tracemalloc: peak traced bytes above the traced size at the start of one steady-state "
    "call (after one priming call inside the trace); numpy array buffers + Python objects; "
    "plus the bytes of the layer's recycled workspace (its caches), which is live during the "
    "call but allocated before it (for inference, the workspace of a layer that ran only inference)"
)
TORCH_METHOD = (
    "torch.profiler(profile_memory=True): max running sum of c10 CPU allocator [memory] "
    "events (+alloc/-free) within a record_function range around one steady-state call "
    "(primed by one call inside the profile); excludes allocations outside c10"
)
_RANGE = "__rnnkit_bench_measured__"
# Noise that libkineto / c10 print straight to fd 2 around every profiler session.
_NOISE = ("USDT:", "profiler_start", "profiler_stop", "allocated before the profiling started")


@contextlib.contextmanager
def _filtered_stderr():
    """Capture fd 2 (C++ writes bypass sys.stderr) and re-emit all but known profiler noise."""
    sys.stderr.flush()
    try:
        saved = os.dup(2)
    except OSError:  # no usable fd 2: nothing to filter
        yield
        return
    with tempfile.TemporaryFile() as tmp:
        os.dup2(tmp.fileno(), 2)
        try:
            yield
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            tmp.seek(0)
            text = tmp.read().decode("utf-8", "replace")
            kept = [ln for ln in text.splitlines() if ln.strip() and not any(k in ln for k in _NOISE)]
            if kept:
                print("\n".join(kept), file=sys.stderr)


def numpy_peak_bytes(fn: Callable[[], object]) -> int:
    """Peak extra traced bytes while ``fn()`` runs (see module docstring)."""
    was_tracing = tracemalloc.is_tracing()
    if not was_tracing:
        tracemalloc.start()
    try:
        fn()  # priming call, traced
        tracemalloc.reset_peak()
        start, _ = tracemalloc.get_traced_memory()
        fn()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        if not was_tracing:
            tracemalloc.stop()
    return max(0, int(peak - start))


def workspace_bytes(layer: object) -> int:
    """Bytes held in an rnnkit layer's recycled workspace (0 if it has none): the memory of its
    arrays, each block once (an array and the views of it; an array that is itself a view of a
    larger block counts that block), plus the
    Python objects of the per-step views the kernels keep beside them
    (``kernels.common.step_views``; about 100 bytes per step and array)."""
    total, owners = 0, {}
    for ws in getattr(layer, "_workspaces", {}).values():
        for value in ws.values():
            if isinstance(value, np.ndarray):
                owner = value
                while isinstance(owner.base, np.ndarray):
                    owner = owner.base
                owners[id(owner)] = owner.nbytes
            elif isinstance(value, tuple):  # (array, [its per-step views])
                total += sys.getsizeof(value[1]) + sum(sys.getsizeof(v) for v in value[1])
    return int(total + sum(owners.values()))


def torch_peak_bytes(fn: Callable[[], object]) -> int:
    """Peak extra bytes held by torch's CPU allocator while ``fn()`` runs.

    Raises RuntimeError if the profiler does not expose the raw memory events.
    """
    from torch.autograd import DeviceType
    from torch.profiler import ProfilerActivity, profile, record_function

    cpu_like = {DeviceType.CPU, DeviceType.MKLDNN, DeviceType.IDEEP}
    with _filtered_stderr(), profile(activities=[ProfilerActivity.CPU], profile_memory=True) as prof:
        fn()  # priming call: its allocations are tracked, so their frees are seen later
        with record_function(_RANGE):
            fn()
    results = getattr(prof.profiler, "kineto_results", None)
    if results is None:
        raise RuntimeError("torch.profiler did not expose kineto_results")
    events = list(results.events())
    ranges = [e for e in events if e.name() == _RANGE]
    if not ranges:
        raise RuntimeError(f"Expected a {_RANGE!r} profiler range, got none")
    lo = min(e.start_ns() for e in ranges)
    hi = max(e.end_ns() for e in ranges)
    mem = sorted(
        (e.start_ns(), e.nbytes())
        for e in events
        if e.name() == "[memory]" and e.device_type() in cpu_like and lo <= e.start_ns() <= hi
    )
    running = peak = 0
    for _, nbytes in mem:
        running += nbytes
        peak = max(peak, running)
    return int(peak)
