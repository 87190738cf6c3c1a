"""Benchmarks for rnnkit against ``torch.nn`` (run ``python -m benchmarks.rnn`` from the repo root).

Modules:

- :mod:`benchmarks.rnn`     -- CLI / driver: timing of training steps and inference, table + JSON.
- :mod:`benchmarks.flops`   -- analytic matrix-multiply FLOP counts and the measured matmul peak.
- :mod:`benchmarks.memory`  -- peak extra memory of one call (tracemalloc / torch.profiler).
- :mod:`benchmarks.sysinfo` -- CPU model, versions, thread control and BLAS thread detection.
"""
