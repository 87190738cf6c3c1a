"""Formatting of the benchmark report: header lines and a markdown table."""

from __future__ import annotations

from rnnkit.kernels._config import blas_without_avx512

COLUMNS = (
    "cell", "shape NxTxIxH", "mode", "torch ms", "rnnkit ms", "ratio t/r",
    "rnnkit GFLOP/s", "% of peak", "torch peak MB", "rnnkit peak MB",
)


def _ms(v: float) -> str:
    if v >= 100:
        return f"{v:.0f}"
    if v >= 10:
        return f"{v:.1f}"
    if v >= 1:
        return f"{v:.2f}"
    return f"{v:.3f}"


def _mb(nbytes: int | None) -> str:
    return "n/a" if nbytes is None else f"{nbytes / 1e6:.2f}"


def _load(avg) -> str:
    return "n/a" if not avg else f"{avg[0]:.2f}"


def _ratio(r: dict) -> str:
    """The ratio, and with several rounds the range of the rounds' ratios."""
    text = f"{r['ratio_torch_over_rnnkit']:.2f}"
    if len(r.get("ratio_rounds", ())) > 1:
        text += f" ({min(r['ratio_rounds']):.2f}-{max(r['ratio_rounds']):.2f})"
    return text


def row_cells(r: dict) -> list[str]:
    return [
        r["cell"],
        r["shape"],
        r["mode"],
        _ms(r["torch"]["median_ms"]),
        _ms(r["rnnkit"]["median_ms"]),
        _ratio(r),
        f"{r['rnnkit']['gflops']:.2f}",
        f"{100 * r['rnnkit']['fraction_of_peak']:.1f}%",
        _mb(r["torch"]["peak_bytes"]),
        _mb(r["rnnkit"]["peak_bytes"]),
    ]


def table(rows: list[dict]) -> str:
    body = [list(COLUMNS)] + [row_cells(r) for r in rows]
    widths = [max(len(line[i]) for line in body) for i in range(len(COLUMNS))]
    left = {0, 1, 2}

    def fmt(line):
        cells = [c.ljust(w) if i in left else c.rjust(w) for i, (c, w) in enumerate(zip(line, widths))]
        return "| " + " | ".join(cells) + " |"

    sep = "|" + "|".join("-" * (w + 2) if i in left else "-" * (w + 1) + ":" for i, w in enumerate(widths)) + "|"
    return "\n".join([fmt(body[0]), sep] + [fmt(line) for line in body[1:]])


#: a relative difference from torch above this flags the row: a speed-up of wrong results
MAX_RELATIVE_DIFF = 1e-3


def accuracy_warnings(rows: list[dict]) -> list[str]:
    """A warning line per (cell, shape) whose results differ from torch's by more than
    MAX_RELATIVE_DIFF of the largest |torch value| (y, dx or a parameter gradient)."""
    lines, seen = [], set()
    for r in rows:
        rel = r.get("max_abs_diff", {}).get("relative", {})
        bad = {k: v for k, v in rel.items() if not v <= MAX_RELATIVE_DIFF}
        if bad and (r["cell"], r["shape"]) not in seen:
            seen.add((r["cell"], r["shape"]))
            shown = ", ".join(f"{k} {v:.1e}" for k, v in bad.items())
            lines.append(f"# WARNING: {r['cell']} {r['shape']}: rnnkit's results differ from torch's by {shown} "
                         f"(relative, above {MAX_RELATIVE_DIFF:g}); its times are not a valid comparison")
    return lines


def blas_core_note(meta: dict) -> str | None:
    """A line for the header where the CPU runs AVX-512 but NumPy's OpenBLAS runs a kernel set
    without it (``meta["kernels"]``: ``rnnkit.kernels.config()`` at the start of the run): then
    NumPy's matmul, the peak the fractions are of, is about half the CPU's (on the Zen 5
    development machine 195 against 370 GFLOP/s with OPENBLAS_CORETYPE=SkylakeX), and a fraction
    above 100% is possible."""
    k = meta.get("kernels") or {}
    core = (k.get("blas") or {}).get("core")
    if not blas_without_avx512(k.get("packed_kernel"), core):
        return None
    return (f"# NOTE: this CPU runs AVX-512, NumPy's OpenBLAS its {core} kernel (no AVX-512): the "
            "matmul peak above is about half the CPU's and '% of peak' can pass 100%; "
            "OPENBLAS_CORETYPE=SkylakeX before Python starts makes NumPy use AVX-512 "
            "(rnnkit's loops use their own AVX-512 kernel either way)")


def header(meta: dict) -> str:
    v, th, pk = meta["versions"], meta["threads"], meta["matmul_peak"]
    blas = th["numpy_blas"]
    core = f", core {blas['architecture']}" if blas.get("architecture") else ""
    lines = [
        f"# rnnkit vs torch.nn -- {meta['date']}",
        f"# CPU: {meta['cpu_model']} ({meta['cpu_count']} logical CPUs); {v['platform']}; "
        f"load avg 1m start {_load(meta.get('loadavg_start'))}, end {_load(meta.get('loadavg_end'))}",
        f"# python {v['python']}, numpy {v['numpy']}, torch {v['torch']}, rnnkit {v['rnnkit']}",
        f"# threads: torch {th['torch']}; numpy BLAS ({blas['library']}{core}) {blas['num_threads']} "
        f"[detected via {blas['source']}; {th['numpy_controlled_by']}]",
        f"# malloc: {meta.get('malloc', 'as configured')}",
        f"# float32 matmul peak: {pk['gflops']:.1f} GFLOP/s (numpy {pk['n']}^3, median of {pk['repeats']}; "
        f"start {pk.get('gflops_start', pk['gflops']):.1f}, end {pk.get('gflops_end', pk['gflops']):.1f})",
        f"# times: median over ABBA-interleaved repeats after {meta['timing']['warmup']} warmup, "
        f"{meta['timing']['settle_s']} s untimed settle after each switch; ratio = torch/rnnkit (>1: rnnkit faster)",
        *([f"# rounds: {meta['timing']['rounds']} full sweeps; times over all rounds' calls, ratio = median of "
           "the rounds' ratios (their range in brackets)"] if meta["timing"].get("rounds", 1) > 1 else []),
        f"# FLOPs (matmuls only): forward {meta['flops_formula']['forward']}; train = 3x forward",
        "# peak MB (1e6 bytes): extra memory of one steady-state call; "
        "rnnkit: tracemalloc, torch: profiler allocator events (see JSON 'memory_method')",
    ]
    note = blas_core_note(meta)
    if note:
        lines.append(note)
    ncpu, la0, la1 = meta.get("cpu_count") or 1, meta.get("loadavg_start"), meta.get("loadavg_end")
    # the benchmark itself keeps up to `threads` CPUs busy, so the end load includes it
    if (la0 and la0[0] > 0.5 * ncpu) or (la1 and la1[0] > 1.5 * ncpu):
        lines.append(
            f"# WARNING: machine busy (1-min load avg {_load(la0)} at start, {_load(la1)} at end, "
            f"{ncpu} CPUs); other processes distort timings"
        )
    start, end = pk.get("gflops_start"), pk.get("gflops_end")
    if start and end and not 0.8 <= end / start <= 1.25:
        lines.append(
            f"# WARNING: matmul peak drifted from {start:.1f} to {end:.1f} GFLOP/s during the run; "
            "timings are noisy"
        )
    if blas["num_threads"] is not None and blas["num_threads"] != th["torch"]:
        lines.append(
            f"# WARNING: numpy BLAS uses {blas['num_threads']} threads, torch {th['torch']}; "
            "install threadpoolctl or set OPENBLAS_NUM_THREADS to match"
        )
    return "\n".join(lines)
