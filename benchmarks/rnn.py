"""Benchmark rnnkit's RNN / LSTM / GRU layers against ``torch.nn`` on the CPU.

Run from the repository root::

    python -m benchmarks.rnn                      # default shapes, all cells
    python -m benchmarks.rnn --cells lstm --shapes 64x100x32x128 --repeats 30
    python -m benchmarks.rnn --quick              # tiny shapes, seconds

For each cell and shape (N, T, I, H), in one process, with the same float32 weights on both
sides (torch's ``state_dict`` loaded into rnnkit) and the same thread count:

- ``train``: one training step. torch: ``zero_grad(set_to_none=True)``, forward, then
  ``y.backward(dy)`` with ``x.requires_grad_(True)`` (all parameter gradients and dx; dx is
  taken from ``x.grad`` and returned, so that, as rnnkit's, it is not still held when the next
  call starts). rnnkit: ``zero_grad()``, ``forward(x)``, ``backward(dy)`` (parameter grads and dx).
- ``inference``: forward only. torch: ``eval()`` module under ``torch.inference_mode()``;
  rnnkit: ``layer.eval()``, ``forward(x)`` under ``rnnkit.no_grad()``.

Timing (:mod:`benchmarks.timing`): ``time.perf_counter``, warmup, then ABBA-interleaved
repeats with a per-(cell, shape, mode) time budget; after each torch<->rnnkit switch the
new side runs untimed for ``--settle`` seconds first, because each library's spin-waiting
worker threads otherwise slow the other down; medians and IQR are reported. FLOP
counts (:mod:`benchmarks.flops`): matmuls only, forward ``2*N*T*G*H*(I+H)``, train step
3x forward; GFLOP/s is relative to a numpy float32 1024^3 matmul measured in the same
process. Peak memory (:mod:`benchmarks.memory`): extra bytes of one steady-state call,
tracemalloc for rnnkit and torch.profiler allocator events for torch. A one-off check
records the max abs difference of y, dx and parameter gradients between the two sides.

Rounds (``--rounds K``): the whole sweep is run K times in a row, and each row combines its K
measurements: times are the median of all K rounds' timed calls, and the ratio is the median of
the K rounds' ratios (with their range), so that a machine whose speed drifts between phases
(it does on shared virtual machines) cannot put one cell's rows in a slow phase and another's
in a fast one. Memory is measured in the first round.

Memory allocator (``--heap``): torch allocates its tensors afresh on every call. With glibc's
default malloc the large ones are mapped anew, or the heap is trimmed and grown again, and their
pages are faulted in on every call; which of the two happens depends on the process's history.
``--heap`` keeps every freed block in malloc's heap for the next call, as a caching allocator
would (:func:`benchmarks.sysinfo.keep_heap`). rnnkit recycles its arrays either way.

Results: a markdown table on stdout and JSON (default ``benchmarks/results.json``).
No assertions on timings anywhere; the test suite only runs ``--quick``.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import gc
import json
import math
import os
import sys
from pathlib import Path

import numpy as np

from . import flops, memory, report, sysinfo, timing

CELLS = ("rnn", "lstm", "gru")
MODES = ("train", "inference")
DEFAULT_SHAPES = "32x100x8x64,64x100x32x128,64x200x64x256,1x100x8x64"
QUICK_SHAPES = "2x5x3x4,1x3x2x3"
DEFAULT_JSON = Path(__file__).resolve().parent / "results.json"


def parse_shapes(text: str) -> list[tuple[int, int, int, int]]:
    """``"NxTxIxH,..."`` -> ``[(N, T, I, H), ...]``: ASCII digits, each > 0."""
    shapes = []
    for item in filter(None, (s.strip() for s in text.split(","))):
        parts = item.lower().split("x")
        if len(parts) != 4 or not all(p.isascii() and p.isdigit() and int(p) > 0 for p in parts):
            raise argparse.ArgumentTypeError(f"Expected shape NxTxIxH of positive ints, got {item!r}")
        shapes.append(tuple(int(p) for p in parts))
    if not shapes:
        raise argparse.ArgumentTypeError("Expected at least one shape, got none")
    return shapes


def parse_cells(text: str) -> list[str]:
    cells = [c.strip().lower() for c in text.split(",") if c.strip()]
    bad = [c for c in cells if c not in CELLS]
    if bad or not cells:
        raise argparse.ArgumentTypeError(f"Expected cells from {','.join(CELLS)}, got {text!r}")
    return cells


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m benchmarks.rnn", description=__doc__.split("\n\n")[0])
    p.add_argument("--cells", type=parse_cells, default=list(CELLS), help="comma list (default rnn,lstm,gru)")
    p.add_argument("--shapes", type=parse_shapes, default=None,
                   help=f"comma list of NxTxIxH (default {DEFAULT_SHAPES})")
    p.add_argument("--repeats", type=int, default=20, help="max timed repeats per side (default 20)")
    p.add_argument("--warmup", type=int, default=2, help="untimed warmup runs per side (default 2)")
    p.add_argument("--budget", type=float, default=6.0,
                   help="seconds of timed loop per (cell, shape, mode) before stopping early, "
                        "min 5 repeats; <=0 disables (default 6)")
    p.add_argument("--settle", type=float, default=0.2,
                   help="after each torch<->rnnkit switch, run the new side untimed for this many "
                        "seconds (>= 1 call) so the other library's spinning threads go idle; "
                        "0 disables (default 0.2)")
    p.add_argument("--threads", type=int, default=None,
                   help="intra-op threads for torch (and numpy BLAS via threadpoolctl if installed); "
                        "default torch.get_num_threads()")
    p.add_argument("--json", type=Path, default=DEFAULT_JSON, help=f"output JSON (default {DEFAULT_JSON})")
    p.add_argument("--quick", action="store_true", help=f"tiny shapes ({QUICK_SHAPES}) unless --shapes is given, "
                        "and a 256^3 matmul-peak probe; for smoke tests")
    p.add_argument("--no-memory", action="store_true", help="skip the peak-memory measurement")
    p.add_argument("--heap", action="store_true",
                   help="glibc only: keep freed memory in malloc's heap for reuse (mallopt M_MMAP_THRESHOLD "
                        "and M_TRIM_THRESHOLD 1 GiB), as a caching allocator would, so that torch's per-call "
                        "tensors stop page-faulting (default: malloc as configured)"),
    p.add_argument("--rounds", type=int, default=1,
                   help="run the whole sweep this many times and combine each row's rounds: median "
                        "times over all rounds, median ratio and its range (default 1)")
    p.add_argument("--seed", type=int, default=0)
    return p


class Case:
    """One cell/shape with identical weights and inputs on the torch and rnnkit side."""

    def __init__(self, cell: str, shape: tuple[int, int, int, int], seed: int):
        import torch

        import rnnkit

        self.torch, self.rnnkit = torch, rnnkit
        n, t, i, h = shape
        torch.manual_seed(seed)
        self.tmod = {"rnn": torch.nn.RNN, "lstm": torch.nn.LSTM, "gru": torch.nn.GRU}[cell](
            i, h, batch_first=True, dtype=torch.float32)
        cls = {"rnn": rnnkit.RNN, "lstm": rnnkit.LSTM, "gru": rnnkit.GRU}[cell]
        self.layer = cls(i, h, batch_first=True, dtype="float32", seed=seed)
        self.layer.load_state_dict({k: v.detach().cpu().numpy().copy() for k, v in self.tmod.state_dict().items()})
        rng = np.random.default_rng(seed)
        self.x = rng.standard_normal((n, t, i)).astype(np.float32)
        self.dy = rng.standard_normal((n, t, h)).astype(np.float32)
        self.xt_grad = torch.from_numpy(self.x.copy()).requires_grad_(True)
        self.xt = torch.from_numpy(self.x)
        self.dyt = torch.from_numpy(self.dy)

    def set_mode(self, mode: str) -> None:
        training = mode == "train"
        self.tmod.train(training)
        if training:
            self.layer.train()
        else:
            self.layer.eval()

    def torch_train(self):
        self.tmod.zero_grad(set_to_none=True)
        y, _ = self.tmod(self.xt_grad)
        y.backward(self.dyt)
        # dx is handed back as rnnkit's is: kept in x.grad, the next call would free it first, and the
        # memory probe would not count it on this side only
        dx, self.xt_grad.grad = self.xt_grad.grad, None
        return y, dx

    def torch_infer(self):
        with self.torch.inference_mode():
            return self.tmod(self.xt)[0]

    def rnnkit_train(self):
        self.layer.zero_grad()
        y, _ = self.layer.forward(self.x)
        dx, _ = self.layer.backward(self.dy)
        return y, dx

    def rnnkit_infer(self):
        with self.rnnkit.no_grad():  # as torch's inference_mode: no caches kept for a backward
            return self.layer.forward(self.x)[0]

    def funcs(self, mode: str):
        if mode == "train":
            return self.torch_train, self.rnnkit_train
        return self.torch_infer, self.rnnkit_infer

    def check(self) -> dict:
        """Max abs differences torch vs rnnkit for one training step (same weights/inputs), and
        under "relative" each divided by the largest |torch value| of its tensor(s)."""
        self.set_mode("train")
        yt, dxt = (v.detach().numpy() for v in self.torch_train())
        yr, dxr = self.rnnkit_train()
        pairs = {"y": [(yt, yr)], "dx": [(dxt, dxr)],
                 "param_grads": [(p.grad.numpy(), self.layer.grads[k]) for k, p in self.tmod.named_parameters()]}
        out, relative = {}, {}
        for name, items in pairs.items():
            out[name] = max(float(np.max(np.abs(a - b))) for a, b in items)
            scale = max(float(np.max(np.abs(a))) for a, _ in items)
            relative[name] = out[name] / scale if scale > 0 else out[name]
        return {**out, "relative": relative}


def combine_rounds(rounds: list[list[dict]]) -> list[dict]:
    """One row per (cell, shape, mode) from the rows of K rounds (same order in each round).

    Each side's statistics are recomputed over the timed calls of all rounds; the ratio is the
    median of the rounds' ratios, which a drift of the machine between rounds moves least, and
    ``ratio_rounds`` keeps them all. Peak memory is the first round's.
    """
    if len(rounds) == 1:
        return rounds[0]
    combined = []
    for rows in zip(*rounds):
        row = dict(rows[0])
        for side in ("torch", "rnnkit"):
            first = rows[0][side]
            stats = timing.summarize([t * 1e-3 for r in rows for t in r[side]["times_ms"]])
            stats["gflops"] = row["flops"] / (stats["median_ms"] * 1e-3) / 1e9
            stats["peak_bytes"], stats["memory_method"] = first["peak_bytes"], first["memory_method"]
            row[side] = stats
        row["ratio_rounds"] = [r["ratio_torch_over_rnnkit"] for r in rows]
        row["ratio_torch_over_rnnkit"] = float(np.median(row["ratio_rounds"]))
        combined.append(row)
    return combined


def measure(case: Case, cell: str, shape, mode: str, args, with_memory: bool = True) -> dict:
    n, t, i, h = shape
    case.set_mode(mode)
    ft, fr = case.funcs(mode)
    tt, tr = timing.time_pair(ft, fr, warmup=args.warmup, repeats=args.repeats,
                              budget_s=args.budget if args.budget > 0 else None, settle_s=args.settle)
    st, sr = timing.summarize(tt), timing.summarize(tr)
    work = flops.step_flops(cell, mode, n, t, i, h)
    for side in (st, sr):
        side["gflops"] = work / (side["median_ms"] * 1e-3) / 1e9
    st["peak_bytes"] = sr["peak_bytes"] = None
    if with_memory and not args.no_memory:
        st["peak_bytes"] = memory.torch_peak_bytes(ft)
        # rnnkit keeps its forward caches in a workspace recycled between calls: that memory is
        # live during the call but allocated before it, so it is added to the traced peak. For
        # inference, the workspace of a layer that only ran inference (under no_grad its caches
        # have one step): not what this one kept from the training rows before.
        if mode == "inference":
            case.layer._workspaces.clear()
        sr["peak_bytes"] = memory.numpy_peak_bytes(fr) + memory.workspace_bytes(case.layer)
    st["memory_method"], sr["memory_method"] = "torch.profiler", "tracemalloc"
    return {
        "cell": cell, "shape": "x".join(map(str, shape)), "N": n, "T": t, "I": i, "H": h,
        "mode": mode, "flops": work, "torch": st, "rnnkit": sr,
        "ratio_torch_over_rnnkit": st["median_ms"] / sr["median_ms"],
    }


def _check_args(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    """Refuse bad option values before anything runs (``parser.error``: message, exit status 2)."""
    if args.repeats < 1 or args.warmup < 0 or args.rounds < 1:
        parser.error(f"Expected --repeats >= 1, --warmup >= 0 and --rounds >= 1, got {args.repeats}, "
                     f"{args.warmup} and {args.rounds}")
    if args.threads is not None and args.threads < 1:
        parser.error(f"Expected --threads >= 1 (or leave it out for torch's default), got {args.threads}")
    if not 0 <= args.seed < 2**64:
        parser.error(f"Expected --seed in [0, 2**64), got {args.seed}")
    for name in ("budget", "settle"):
        value = getattr(args, name)
        if not math.isfinite(value):
            parser.error(f"Expected a finite number of seconds for --{name} (0 disables it), got {value}")
    _check_writable(parser, args.json)


def _check_writable(parser: argparse.ArgumentParser, path: Path) -> None:
    """Refuse a --json path that cannot be written now, rather than after the whole sweep has run."""
    if path.is_dir():
        parser.error(f"Expected --json to name a file, got the folder {str(path)!r}; add a file name")
    existed = path.exists() or path.is_symlink()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "a", encoding="utf-8"):
            pass
    except OSError as exc:
        parser.error(f"Expected a writable --json path, got {str(path)!r} ({exc.strerror or exc}); "
                     "give a path in a writable folder")
    if not existed:
        path.unlink()


def main(argv: list[str] | None = None) -> dict:
    """Run the benchmark; print the table, write JSON, return the report dict."""
    parser = build_parser()
    args = parser.parse_args(argv)
    _check_args(parser, args)
    if args.shapes is None:
        args.shapes = parse_shapes(QUICK_SHAPES if args.quick else DEFAULT_SHAPES)
    malloc = "as configured (glibc: its defaults unless MALLOC_* is set)"
    if args.heap:
        try:
            malloc = sysinfo.keep_heap()
        except RuntimeError as exc:
            parser.error(f"{exc}; run without --heap")
    threads = sysinfo.set_threads(args.threads)
    limiter = threads.pop("_limiter", None)
    try:
        from rnnkit import kernels

        peak = flops.matmul_peak(n=256 if args.quick else 1024, repeats=3 if args.quick else 7)
        meta = {
            "date": _dt.datetime.now(_dt.timezone.utc).astimezone().isoformat(timespec="seconds"),
            "cpu_model": sysinfo.cpu_model(),
            "kernels": kernels.config(),  # where the loops run, on what, and its notes
            "cpu_count": os.cpu_count(),
            "loadavg_start": list(os.getloadavg()) if hasattr(os, "getloadavg") else None,
            "versions": sysinfo.versions(),
            "threads": threads,
            "malloc": malloc,
            "matmul_peak": peak,
            "dtype": "float32",
            "flops_formula": flops.FORMULA,
            "memory_method": {"torch": memory.TORCH_METHOD, "rnnkit": memory.NUMPY_METHOD,
                              "units": "bytes (tables: MB = 1e6 bytes)", "measured": not args.no_memory},
            "timing": {"clock": "time.perf_counter", "warmup": args.warmup, "max_repeats": args.repeats,
                       "budget_s_per_row": args.budget, "order": "ABBA interleaved torch/rnnkit",
                       "settle_s": args.settle,
                       "settle": "after each switch the new side runs untimed >= settle_s (>= 1 call) "
                                 "so the other library's spin-waiting threads go idle",
                       "statistic": "median (IQR = q75 - q25)", "rounds": args.rounds,
                       "rounds_combined": "per row: statistics over the timed calls of all rounds; "
                                          "ratio = median of the rounds' ratios (ratio_rounds)"},
            "argv": sys.argv[1:] if argv is None else list(argv),
        }
        rounds, checks = [], {}
        per_round = len(args.cells) * len(args.shapes) * len(MODES)
        for k in range(args.rounds):
            rows = []
            for cell in args.cells:
                for shape in args.shapes:
                    gc.collect()  # once per case: slow with torch's object graph
                    case = Case(cell, shape, args.seed)
                    key = f"{cell}:{'x'.join(map(str, shape))}"
                    if key not in checks:
                        checks[key] = case.check()
                    for mode in MODES:
                        done = k * per_round + len(rows) + 1
                        print(f"[{done}/{per_round * args.rounds}] {cell} {'x'.join(map(str, shape))} {mode}",
                              file=sys.stderr, flush=True)
                        row = measure(case, cell, shape, mode, args, with_memory=k == 0)
                        row["max_abs_diff"] = checks[key]
                        rows.append(row)
                    del case
            rounds.append(rows)
        rows = combine_rounds(rounds)
        # peak probe again at the end (drift check); fractions use the better of the two
        end = flops.matmul_peak(n=peak["n"], repeats=peak["repeats"])
        peak.update(gflops_start=peak["gflops"], gflops_end=end["gflops"],
                    gflops=max(peak["gflops"], end["gflops"]))
        meta["loadavg_end"] = list(os.getloadavg()) if hasattr(os, "getloadavg") else None
        for row in rows:
            for side in ("torch", "rnnkit"):
                row[side]["fraction_of_peak"] = row[side]["gflops"] / peak["gflops"]
    finally:
        if limiter is not None:
            limiter.restore_original_limits()
    result = {"schema": 1, "metadata": meta, "results": rows}
    print("\n".join([report.header(meta), *report.accuracy_warnings(rows)]))
    print()
    print(report.table(rows))
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(result, indent=1) + "\n", encoding="utf-8")
    print(f"\nJSON written to {args.json}")
    return result


if __name__ == "__main__":
    main()
