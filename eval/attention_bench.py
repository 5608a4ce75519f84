"""Attention alone: na_accel's GNA joint attention vs the best dense attention on the device.

    python eval/attention_bench.py --device cuda --dtype bfloat16 --json attention.json
    python eval/attention_bench.py --case custom --grid 8x10 --window 4x4 --stride 2x2 --heads 2 --head-dim 16

The published cases run the GNA paper's configurations at their real sizes, text tokens
included, through the same code path a patched model runs (``na_accel.kernels.joint``):

* ``flux-1k`` / ``flux-2k`` / ``flux-4k``: 64x64 / 128x128 / 256x256 image tokens + 512 text
  tokens (text first), 24 heads x 128, window 20x20 / 40x40 / 80x80, stride 4x4 / 8x8 / 16x16;
* ``hunyuan-video``: 30x48x80 video tokens + 256 text tokens (text last), 24 heads x 128,
  window 18x24x24, stride 16x8x8.

Every GNA backend that runs on the device is timed (``--backends all``: na_accel's ``triton``,
NATTEN's, never the O(tokens^2) reference; one that fails, e.g. out of memory, is recorded with
why), and dense attention with every SDPA backend (cuDNN, flash, memory-efficient, math); the
fastest dense is the baseline. Timing: ``--warmup`` calls apart, then the median of ``--repeats``
calls, with CUDA events on a GPU (perf_counter on CPU, where the numbers say nothing about GPU
speed), and peak memory per GNA backend. The FLOP bound (1 / density of the visual attention) is
printed next to the measured speedup.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import json
import math
import platform
import statistics
import sys
import time
from pathlib import Path

import torch
from torch.nn.attention import SDPBackend, sdpa_kernel

from na_accel.kernels.joint import gna_joint_attention, sdpa_attention
from na_accel.kernels import BackendTarget, backend_reasons, dtype_name, resolve_backend
from na_accel.errors import NaAccelError
from na_accel.windows import WindowSpec

# name: (grid, window, stride, text tokens, text first, heads, head_dim)
CASES = {
    "flux-1k": ((64, 64), (20, 20), (4, 4), 512, True, 24, 128),
    "flux-2k": ((128, 128), (40, 40), (8, 8), 512, True, 24, 128),
    "flux-4k": ((256, 256), (80, 80), (16, 16), 512, True, 24, 128),
    "hunyuan-video": ((30, 48, 80), (18, 24, 24), (16, 8, 8), 256, False, 24, 128),
}
SDPA_BACKENDS = {
    "cudnn": SDPBackend.CUDNN_ATTENTION,
    "flash": SDPBackend.FLASH_ATTENTION,
    "efficient": SDPBackend.EFFICIENT_ATTENTION,
    "math": SDPBackend.MATH,
}


def _sizes(text: str, flag: str) -> tuple[int, ...]:
    try:
        values = tuple(int(v) for v in text.lower().split("x"))
    except ValueError:
        raise SystemExit(f"{flag}: {text!r} is not sizes like 8x10 or 4x8x8") from None
    if not values or any(v < 1 for v in values):
        raise SystemExit(f"{flag}: {text!r} must be positive sizes like 8x10")
    return values


def _version(package: str) -> str | None:
    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return None


def _timer(device: torch.device, warmup: int, repeats: int):
    def measure(fn) -> list[float]:
        for _ in range(warmup):
            fn()
        times = []
        for _ in range(repeats):
            if device.type == "cuda":
                start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
                start.record(torch.cuda.current_stream(device))
                fn()
                end.record(torch.cuda.current_stream(device))
                end.synchronize()
                times.append(start.elapsed_time(end) / 1000.0)
            else:
                begin = time.perf_counter()
                fn()
                times.append(time.perf_counter() - begin)
        return times

    return measure


def run_case(name, grid, window, stride, text_len, text_first, heads, head_dim, *, device, dtype, backends,
             batch, warmup, repeats) -> dict:
    resolved = WindowSpec(window, stride, (1,) * len(grid), (False,) * len(grid)).resolve(grid)
    tokens = math.prod(grid) + text_len
    generator = torch.Generator(device="cpu").manual_seed(0)
    q, k, v = (torch.randn(batch, tokens, heads, head_dim, generator=generator).to(device=device, dtype=dtype)
               for _ in range(3))
    measure = _timer(device, warmup, repeats)

    dense = {}
    for label, sdpa_backend in SDPA_BACKENDS.items():
        dense[label] = _timed(measure, lambda: sdpa_attention(q, k, v), sdpa_backend)
    timed = {label: t for label, t in dense.items() if isinstance(t, float)}
    best_dense = min(timed, key=timed.get)

    gna, gna_peak = {}, {}
    for backend in backends:
        def run_gna(backend=backend):
            return gna_joint_attention(q, k, v, text_len=text_len, text_first=text_first, window=resolved,
                                       backend=backend, dense_attention=sdpa_attention)

        if device.type == "cuda":
            torch.cuda.reset_peak_memory_stats(device)
        gna[backend] = _timed(measure, run_gna)
        if device.type == "cuda" and isinstance(gna[backend], float):
            gna_peak[backend] = torch.cuda.max_memory_allocated(device)
    fastest = min((b for b in gna if isinstance(gna[b], float)), key=gna.get, default=None)
    return {
        "case": name,
        "grid": list(grid),
        "text_tokens": text_len,
        "heads": heads,
        "head_dim": head_dim,
        "batch": batch,
        "window": resolved.describe(),
        "density": resolved.density,
        "flop_bound": 1.0 / resolved.density,
        "gna_s": gna,
        "gna_peak_memory_bytes": gna_peak,
        "fastest_gna": fastest,
        "dense_s": dense,
        "best_dense": best_dense,
        "speedup_vs_best_dense": {b: timed[best_dense] / t for b, t in gna.items() if isinstance(t, float)},
    }


def _timed(measure, fn, sdpa_backend=None):
    """Median seconds of ``fn``, or why it could not run here (unavailable, out of memory)."""
    try:
        if sdpa_backend is None:
            return statistics.median(measure(fn))
        with sdpa_kernel([sdpa_backend]):
            return statistics.median(measure(fn))
    except (RuntimeError, NaAccelError) as exc:  # torch.OutOfMemoryError is a RuntimeError
        if torch.cuda.is_available():
            torch.cuda.empty_cache()
        return f"failed: {str(exc).splitlines()[0][:160]}"


def gna_backends(requested: str, device: torch.device, dtype: torch.dtype, head_dim: int, rank: int) -> list[str]:
    """``all``: every backend that runs on the device except the O(tokens²) reference; else the list."""
    target = BackendTarget(device, dtype, head_dim, rank)
    if requested != "all":
        return [resolve_backend(name, target).name for name in requested.split(",")]
    return [name for name, reason in backend_reasons(target).items() if reason is None and name != "reference"]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--case", default="all", choices=["all", *CASES, "custom"])
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--dtype", default="bfloat16", choices=["float32", "float16", "bfloat16"])
    parser.add_argument("--backends", default="all",
                        help="GNA backends to time, comma-separated (auto, triton, hopper-fna, ...); "
                             "default: every backend that runs here except reference")
    parser.add_argument("--batch", type=int, default=1)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--repeats", type=int, default=10)
    parser.add_argument("--grid", help="custom case: token grid, e.g. 64x64")
    parser.add_argument("--window", help="custom case: window, e.g. 16x16")
    parser.add_argument("--stride", help="custom case: stride (default 1 per axis)")
    parser.add_argument("--text-len", type=int, default=0, help="custom case: text tokens (placed first)")
    parser.add_argument("--heads", type=int, default=24)
    parser.add_argument("--head-dim", type=int, default=128)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args(argv)

    if args.case == "custom":
        if not args.grid or not args.window:
            raise SystemExit("--case custom needs --grid and --window")
        grid = _sizes(args.grid, "--grid")
        stride = _sizes(args.stride, "--stride") if args.stride else (1,) * len(grid)
        cases = {"custom": (grid, _sizes(args.window, "--window"), stride, args.text_len, True, args.heads,
                            args.head_dim)}
    else:
        cases = CASES if args.case == "all" else {args.case: CASES[args.case]}
    device, dtype = torch.device(args.device), getattr(torch, args.dtype)

    results = []
    try:
        for name, case in cases.items():
            grid, head_dim = case[0], case[6]
            backends = gna_backends(args.backends, device, dtype, head_dim, len(grid))
            results.append(run_case(name, *case, device=device, dtype=dtype, backends=backends,
                                    batch=args.batch, warmup=args.warmup, repeats=args.repeats))
    except NaAccelError as exc:
        print(f"attention_bench: error: {exc}", file=sys.stderr)
        return 2

    device_name = torch.cuda.get_device_name(device) if device.type == "cuda" else platform.processor() or "cpu"
    print(f"device {device_name}, {dtype_name(dtype)}, torch {torch.__version__}")
    print(f"{'case':16} {'backend':14} {'ms':>9} {'dense ms':>9} {'dense':>9} {'speedup':>8} {'FLOP bound':>10}")
    for r in results:
        best = r["dense_s"][r["best_dense"]]
        for backend, t in r["gna_s"].items():
            if isinstance(t, float):
                print(f"{r['case']:16} {backend:14} {t * 1e3:9.2f} {best * 1e3:9.2f} {r['best_dense']:>9} "
                      f"{best / t:7.2f}x {r['flop_bound']:9.1f}x")
            else:
                print(f"{r['case']:16} {backend:14} {t}")
    if device.type != "cuda":
        print("NOTE: CPU timings say nothing about GPU speed (NATTEN's CPU path is unfused).")
    if args.json is not None:
        import natten

        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps({
            "device": {"type": device.type, "name": device_name},
            "dtype": dtype_name(dtype),
            "versions": {"torch": torch.__version__, "natten": natten.__version__, "cuda": torch.version.cuda,
                         "triton": _version("triton"), "na_accel": _version("na_accel")},
            "warmup": args.warmup,
            "repeats": args.repeats,
            "results": results,
        }, indent=2))
        print(f"Wrote {args.json}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
