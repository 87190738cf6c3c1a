"""Smoke tests for the benchmark harness (``python -m benchmarks.rnn``).

No timing assertions (machines are noisy): only that the benchmark runs on tiny shapes,
writes complete JSON with positive finite numbers, and that the peak-memory probes report
sensible sizes.
"""

from __future__ import annotations

import json
import math
import platform
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # `benchmarks` lives at the repo root, not in src/
    sys.path.insert(0, str(ROOT))

from benchmarks import flops, memory  # noqa: E402
from benchmarks import rnn as bench  # noqa: E402

SIDE_KEYS = {"median_ms", "iqr_ms", "q25_ms", "q75_ms", "min_ms", "n", "times_ms",
             "gflops", "fraction_of_peak", "peak_bytes", "memory_method"}
ROW_KEYS = {"cell", "shape", "N", "T", "I", "H", "mode", "flops", "torch", "rnnkit",
            "ratio_torch_over_rnnkit", "max_abs_diff"}
META_KEYS = {"date", "cpu_model", "cpu_count", "loadavg_start", "loadavg_end", "versions", "threads", "matmul_peak",
             "dtype", "flops_formula", "memory_method", "timing", "argv", "malloc"}


def _pos_finite(v) -> bool:
    return isinstance(v, (int, float)) and math.isfinite(v) and v > 0


def test_quick_run_writes_complete_json(tmp_path, capsys):
    out = tmp_path / "results.json"
    returned = bench.main(["--quick", "--shapes", "2x5x3x4", "--warmup", "1", "--repeats", "2",
                           "--settle", "0.001", "--json", str(out)])
    data = json.loads(out.read_text())
    assert data == json.loads(json.dumps(returned))
    assert set(data) == {"schema", "metadata", "results"}
    meta = data["metadata"]
    assert META_KEYS <= set(meta)
    assert _pos_finite(meta["matmul_peak"]["gflops"])
    assert meta["threads"]["torch"] == torch.get_num_threads()
    assert {"torch", "rnnkit"} <= set(meta["memory_method"])

    rows = data["results"]
    assert {(r["cell"], r["mode"]) for r in rows} == {(c, m) for c in bench.CELLS for m in bench.MODES}
    assert len(rows) == len(bench.CELLS) * len(bench.MODES)
    for r in rows:
        assert ROW_KEYS <= set(r), r.keys()
        assert (r["shape"], r["N"], r["T"], r["I"], r["H"]) == ("2x5x3x4", 2, 5, 3, 4)
        assert r["flops"] == flops.step_flops(r["cell"], r["mode"], 2, 5, 3, 4)
        assert _pos_finite(r["ratio_torch_over_rnnkit"])
        for side in ("torch", "rnnkit"):
            s = r[side]
            assert SIDE_KEYS <= set(s), s.keys()
            assert s["n"] == 2 and len(s["times_ms"]) == 2
            assert all(_pos_finite(t) for t in s["times_ms"])
            for k in ("median_ms", "min_ms", "gflops", "fraction_of_peak"):
                assert _pos_finite(s[k]), (side, k, s[k])
            assert isinstance(s["peak_bytes"], int) and s["peak_bytes"] >= 0
        # same weights were loaded on both sides
        diff = r["max_abs_diff"]
        assert all(diff[k] < 1e-4 and diff["relative"][k] < 1e-4 for k in ("y", "dx", "param_grads")), diff

    printed = capsys.readouterr().out
    assert "| cell" in printed and "ratio" in printed and "GFLOP/s" in printed
    assert printed.count("2x5x3x4") == len(rows)


def test_flop_formula():
    # LSTM: G=4 -> 2*N*T*4*H*(I+H); train step is 3x forward
    assert flops.forward_flops("lstm", 2, 5, 3, 4) == 2 * 2 * 5 * 4 * 4 * (3 + 4)
    assert flops.step_flops("gru", "train", 1, 1, 1, 1) == 3 * flops.step_flops("gru", "inference", 1, 1, 1, 1)
    assert flops.forward_flops("rnn", 1, 1, 2, 3) == 2 * 3 * 5


def test_parse_shapes_rejects_bad_input():
    assert bench.parse_shapes("2x5x3x4, 1x3x2x3") == [(2, 5, 3, 4), (1, 3, 2, 3)]
    for bad in ("2x5x3", "0x5x3x4", "ax5x3x4", ""):
        with pytest.raises(Exception):
            bench.parse_shapes(bad)


def test_memory_probes_see_known_allocations():
    n = 1_000_000  # 4 MB of float32; two live at the peak

    def np_work():
        a = np.ones(n, dtype=np.float32)
        b = a + 1
        return float(b[0])

    def torch_work():
        a = torch.ones(n, dtype=torch.float32)
        b = a + 1
        return float(b[0])

    for probe, work in ((memory.numpy_peak_bytes, np_work), (memory.torch_peak_bytes, torch_work)):
        peak = probe(work)
        assert 8e6 <= peak < 8e6 + 2e5, (probe.__name__, peak)
    assert memory.numpy_peak_bytes(lambda: None) < 1e4
    assert memory.torch_peak_bytes(lambda: None) == 0


@pytest.mark.parametrize("cell", bench.CELLS)
def test_training_step_memory_is_sensible(cell):
    pytest.importorskip("rnnkit")
    n, t, i, h = shape = (4, 20, 8, 16)
    case = bench.Case(cell, shape, seed=0)
    case.set_mode("train")
    y_bytes = n * t * h * 4  # the output is live at the peak on both sides
    g = flops.GATES[cell]
    loose_cap = 64 * n * t * (i + (g + 2) * h) * 4 + 2_000_000
    for probe, fn in ((memory.torch_peak_bytes, case.torch_train), (memory.numpy_peak_bytes, case.rnnkit_train)):
        peak = probe(fn)
        assert y_bytes <= peak <= loose_cap, (cell, probe.__name__, peak, y_bytes, loose_cap)


def test_rounds_are_combined(tmp_path, capsys):
    """--rounds 2: each row pools both rounds' timed calls and takes the median of their ratios."""
    out = tmp_path / "results.json"
    data = bench.main(["--quick", "--cells", "gru", "--shapes", "2x5x3x4", "--warmup", "1", "--repeats", "2",
                       "--settle", "0.001", "--rounds", "2", "--json", str(out)])
    assert data["metadata"]["timing"]["rounds"] == 2
    for r in data["results"]:
        assert len(r["ratio_rounds"]) == 2
        assert r["ratio_torch_over_rnnkit"] == pytest.approx(float(np.median(r["ratio_rounds"])))
        for side in ("torch", "rnnkit"):
            assert r[side]["n"] == 4 and len(r[side]["times_ms"]) == 4
            assert r[side]["median_ms"] == pytest.approx(float(np.median(r[side]["times_ms"])))
            assert isinstance(r[side]["peak_bytes"], int)
    printed = capsys.readouterr().out
    assert "# rounds: 2" in printed and printed.count("(") >= len(data["results"])


def test_rounds_must_be_positive():
    with pytest.raises(SystemExit):
        bench.main(["--quick", "--rounds", "0"])


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="--heap sets glibc's mallopt")
def test_heap_option_sets_malloc_and_says_so(tmp_path):
    """In a process of its own: the malloc settings would outlive the call."""
    out = tmp_path / "heap.json"
    run = subprocess.run([sys.executable, "-m", "benchmarks.rnn", "--quick", "--heap", "--cells", "lstm", "--shapes",
                          "2x5x3x4", "--repeats", "2", "--warmup", "1", "--settle", "0.001", "--no-memory",
                          "--json", str(out)], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr
    malloc = json.loads(out.read_text())["metadata"]["malloc"]
    assert malloc.startswith("glibc heap kept: mallopt M_MMAP_THRESHOLD = M_TRIM_THRESHOLD = 1073741824")
    assert f"# malloc: {malloc}" in run.stdout


def test_heap_option_needs_glibc(monkeypatch):
    from benchmarks import sysinfo

    monkeypatch.setattr(platform, "libc_ver", lambda *a, **k: ("musl", "1.2"))
    with pytest.raises(RuntimeError, match=r"--heap needs glibc's malloc \(mallopt\), got C library \('musl'"):
        sysinfo.keep_heap()
