"""The benchmark harness (``python -m benchmarks.rnn``): option errors, FLOP counts, and that both
sides' memory probes count the same outputs. No timings are asserted (machines are noisy)."""

from __future__ import annotations

import argparse
import json
import platform
import sys
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # `benchmarks` lives at the repo root, not in src/
    sys.path.insert(0, str(ROOT))

from benchmarks import flops, memory  # noqa: E402
from benchmarks import rnn as bench  # noqa: E402

F = torch.nn.functional


@pytest.fixture
def nothing_runs(monkeypatch):
    """Fail (instead of running or hanging) if the sweep starts: bad options must stop it first."""

    def started(*args, **kwargs):
        raise AssertionError("the benchmark started despite a bad option")

    monkeypatch.setattr(bench.sysinfo, "set_threads", started)
    monkeypatch.setattr(bench.flops, "matmul_peak", started)


BAD_OPTIONS = [
    (["--threads", "0"], "Expected --threads >= 1 (or leave it out for torch's default), got 0"),
    (["--threads", "-2"], "Expected --threads >= 1"),
    (["--seed", "-1"], r"Expected --seed in [0, 2**64), got -1"),
    (["--seed", str(2**64)], r"Expected --seed in [0, 2**64), got 18446744073709551616"),
    (["--settle", "inf"], "Expected a finite number of seconds for --settle (0 disables it), got inf"),
    (["--settle", "nan"], "Expected a finite number of seconds for --settle (0 disables it), got nan"),
    (["--budget", "nan"], "Expected a finite number of seconds for --budget (0 disables it), got nan"),
    (["--rounds", "0"], "Expected --repeats >= 1, --warmup >= 0 and --rounds >= 1, got 20, 2 and 0"),
    (["--repeats", "0"], "Expected --repeats >= 1"),
    (["--warmup", "-1"], "Expected --repeats >= 1, --warmup >= 0"),
    (["--shapes", "2x5x3"], "Expected shape NxTxIxH of positive ints, got '2x5x3'"),
    (["--shapes", "2x0x3x4"], "Expected shape NxTxIxH of positive ints, got '2x0x3x4'"),
    (["--shapes", "\u00b2x5x3x4"], "Expected shape NxTxIxH of positive ints, got '\u00b2x5x3x4'"),
    (["--shapes", " , "], "Expected at least one shape, got none"),
    (["--cells", "lstm,foo"], "Expected cells from rnn,lstm,gru, got 'lstm,foo'"),
]


@pytest.mark.parametrize(("options", "message"), BAD_OPTIONS)
def test_bad_option_exits_2_with_its_message_before_running(options, message, tmp_path, capsys, nothing_runs):
    out = tmp_path / "r.json"
    with pytest.raises(SystemExit) as exc:
        bench.main(["--quick", "--json", str(out), *options])
    assert exc.value.code == 2
    assert message in capsys.readouterr().err
    assert not out.exists()


def test_unwritable_json_path_is_refused_before_running(tmp_path, capsys, nothing_runs):
    a_file = tmp_path / "a_file"
    a_file.write_text("x")
    for path, message in ((tmp_path, "Expected --json to name a file, got the folder"),
                          (a_file / "r.json", "Expected a writable --json path, got")):
        with pytest.raises(SystemExit) as exc:
            bench.main(["--quick", "--json", str(path)])
        assert exc.value.code == 2
        err = capsys.readouterr().err
        assert message in err and str(path) in err
    assert a_file.read_text() == "x"


def test_json_check_leaves_no_file_and_keeps_an_old_one(tmp_path, monkeypatch):
    def stop(*args, **kwargs):
        raise RuntimeError("stopped after the option checks")

    monkeypatch.setattr(bench.flops, "matmul_peak", stop)
    new, old = tmp_path / "sub" / "new.json", tmp_path / "old.json"
    old.write_text('{"old": 1}\n')
    for path in (new, old):
        with pytest.raises(RuntimeError, match="stopped after the option checks"):
            bench.main(["--quick", "--cells", "rnn", "--json", str(path)])
    assert not new.exists()
    assert old.read_text() == '{"old": 1}\n'


def test_heap_without_glibc_exits_2(monkeypatch, tmp_path, capsys, nothing_runs):
    monkeypatch.setattr(platform, "libc_ver", lambda *a, **k: ("musl", "1.2"))
    with pytest.raises(SystemExit) as exc:
        bench.main(["--quick", "--heap", "--json", str(tmp_path / "r.json")])
    assert exc.value.code == 2
    assert "--heap needs glibc's malloc (mallopt), got C library ('musl', '1.2'); run without --heap" in (
        capsys.readouterr().err)


def test_parse_shapes_error_type():
    with pytest.raises(argparse.ArgumentTypeError, match="Expected shape NxTxIxH"):
        bench.parse_shapes("\u00b2x1x1x1")
    assert bench.parse_shapes("2X5x3x4") == [(2, 5, 3, 4)]


@pytest.mark.parametrize("cell", bench.CELLS)
def test_training_step_peaks_count_y_and_dx_on_both_sides(cell):
    """y and dx are both live when a step returns, on each side. torch once kept dx in x.grad and
    freed it at the start of the next call, which cancelled it in its peak (RNN: 56 bytes here)."""
    pytest.importorskip("rnnkit")
    n, t, i, h = shape = (1, 3, 64, 2)  # dx dominates: nothing else torch allocates hides it
    case = bench.Case(cell, shape, seed=0)
    case.set_mode("train")
    outputs = 4 * n * t * (h + i)
    assert memory.torch_peak_bytes(case.torch_train) >= outputs
    assert memory.numpy_peak_bytes(case.rnnkit_train) + memory.workspace_bytes(case.layer) >= outputs
    y, dx = case.torch_train()
    assert tuple(dx.shape) == (n, t, i) and case.xt_grad.grad is None


def _reference(cell, mod, x, h0):
    """The cell step by step with one ``F.linear`` per product (torch.nn's equations)."""
    w_ih, w_hh, b_ih, b_hh = mod.weight_ih_l0, mod.weight_hh_l0, mod.bias_ih_l0, mod.bias_hh_l0
    h, c, ys = h0, torch.zeros_like(h0), []
    for k in range(x.shape[1]):
        gi, gh = F.linear(x[:, k], w_ih, b_ih), F.linear(h, w_hh, b_hh)
        if cell == "rnn":
            h = torch.tanh(gi + gh)
        elif cell == "lstm":
            i_, f_, g_, o_ = (gi + gh).chunk(4, dim=1)
            c = torch.sigmoid(f_) * c + torch.sigmoid(i_) * torch.tanh(g_)
            h = torch.sigmoid(o_) * torch.tanh(c)
        else:  # PyTorch's GRU: n = tanh(W_in x + b_in + r * (W_hn h + b_hn))
            ir, iz, in_ = gi.chunk(3, dim=1)
            hr, hz, hn = gh.chunk(3, dim=1)
            r, z = torch.sigmoid(ir + hr), torch.sigmoid(iz + hz)
            h = (1 - z) * torch.tanh(in_ + r * hn) + z * h
        ys.append(h)
    return torch.stack(ys, dim=1)


@pytest.mark.parametrize("cell", bench.CELLS)
@pytest.mark.parametrize("shape", [(2, 5, 3, 4), (3, 4, 6, 5), (1, 2, 1, 7)])
def test_flop_counts_match_torch_flop_counter(cell, shape):
    """forward 2*N*T*G*H*(I+H) and train 3x that, against torch's own count of the products of a
    step-by-step reference (dx and dh_0 required, as the formula counts them for every step)."""
    from torch.utils.flop_counter import FlopCounterMode

    n, t, i, h = shape
    torch.manual_seed(0)
    mod = {"rnn": torch.nn.RNN, "lstm": torch.nn.LSTM, "gru": torch.nn.GRU}[cell](i, h, batch_first=True)
    x = torch.randn(n, t, i, requires_grad=True)
    h0 = torch.zeros(n, h, requires_grad=True)
    with FlopCounterMode(display=False) as fwd:
        y = _reference(cell, mod, x, h0)
    torch.testing.assert_close(y, mod(x)[0], rtol=1e-5, atol=1e-6)  # the reference is the cell
    with FlopCounterMode(display=False) as bwd:
        y.backward(torch.randn_like(y))
    assert fwd.get_total_flops() == flops.forward_flops(cell, n, t, i, h) == flops.step_flops(cell, "inference", *shape)
    assert fwd.get_total_flops() + bwd.get_total_flops() == flops.step_flops(cell, "train", *shape)
    assert x.grad is not None and h0.grad is not None


def test_step_flops_refuses_unknown_mode():
    with pytest.raises(ValueError, match="Expected mode 'train' or 'inference', got 'eval'"):
        flops.step_flops("lstm", "eval", 1, 1, 1, 1)


def test_printed_header_and_table_are_those_of_the_json(tmp_path, capsys):
    from benchmarks import report

    out = tmp_path / "r.json"
    data = bench.main(["--quick", "--cells", "rnn", "--shapes", "1x2x1x3", "--repeats", "1", "--warmup", "0",
                       "--settle", "0", "--no-memory", "--json", str(out)])
    printed = capsys.readouterr().out
    written = json.loads(out.read_text())
    assert written == json.loads(json.dumps(data))
    assert report.header(written["metadata"]) in printed and report.table(written["results"]) in printed
    assert [(r["mode"], r["torch"]["peak_bytes"]) for r in written["results"]] == [("train", None), ("inference", None)]
    for r in written["results"]:
        assert r["ratio_torch_over_rnnkit"] == r["torch"]["median_ms"] / r["rnnkit"]["median_ms"]
        assert r["rnnkit"]["fraction_of_peak"] == r["rnnkit"]["gflops"] / written["metadata"]["matmul_peak"]["gflops"]
        assert r["rnnkit"]["gflops"] == r["flops"] / (r["rnnkit"]["median_ms"] * 1e-3) / 1e9


def test_rows_whose_results_differ_from_torch_are_flagged_in_the_printout():
    from benchmarks import report

    def row(shape, rel):
        return {"cell": "lstm", "shape": shape, "max_abs_diff": {"y": 1.0, "relative": {"y": rel, "dx": 1e-7}}}

    rows = [row("2x5x3x4", 1e-7), row("4x5x3x4", 0.5), row("4x5x3x4", 0.5), row("8x5x3x4", float("nan"))]
    lines = report.accuracy_warnings(rows)
    assert len(lines) == 2   # one per (cell, shape); NaN is flagged too
    assert lines[0].startswith("# WARNING: lstm 4x5x3x4: rnnkit's results differ from torch's by y 5.0e-01")
    assert "8x5x3x4" in lines[1] and "y nan" in lines[1]


@pytest.mark.parametrize("avx512, core, noted", [
    (True, "Haswell", True), (True, "Zen", True), (True, "SkylakeX", False), (True, "Cooperlake", False),
    (False, "Haswell", False), (None, "Haswell", False), (True, None, False)])
def test_header_notes_an_openblas_kernel_without_the_cpus_avx512(avx512, core, noted):
    """NumPy's OpenBLAS 0.3.31 runs its Haswell kernel on AMD's Zen 5 (it does not know that CPU):
    the header says so, since the fractions of the matmul peak are of that half-speed kernel's."""
    from benchmarks import report

    kernel = {True: "avx512", False: "avx2", None: None}[avx512]
    meta = {"kernels": {"packed_kernel": kernel, "blas": {"core": core}}}
    note = report.blas_core_note(meta)
    assert (note is not None) == noted
    if noted:
        assert f"its {core} kernel" in note and "OPENBLAS_CORETYPE=SkylakeX" in note


def test_printed_header_names_the_openblas_core(tmp_path, capsys):
    """The header's BLAS line names OpenBLAS's core (threadpoolctl's "architecture") where known."""
    data = bench.main(["--quick", "--cells", "rnn", "--shapes", "1x2x1x3", "--repeats", "1", "--warmup", "0",
                       "--settle", "0", "--no-memory", "--json", str(tmp_path / "r.json")])
    printed = capsys.readouterr().out
    meta = data["metadata"]
    import rnnkit

    assert meta["kernels"] == json.loads(json.dumps(rnnkit.kernels.config()))
    core = meta["threads"]["numpy_blas"].get("architecture")
    if core:
        assert f", core {core})" in printed
