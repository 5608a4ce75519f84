"""Measure a cost profile on this machine: dense and GNA joint attention, timed, fit, cached.

``na-accel calibrate`` times the attention a patched layer runs (``gna_joint_attention`` with the
backend ``auto`` picks, text rows included) and the dense attention stock runs (torch's SDPA with
its default dispatch) on a set of problems that exercise every term of the cost model: grids of
several sizes, windows whose tiles are all full and windows with masked tiles, with and without
text. The fit (``na_accel.speed.fit``) becomes this device's profile in the user's cache, where the
speed gate finds it before the shipped ones. Attention alone is timed: what a patched layer adds
around its kernels (``call_overhead_s``) is not, unless given.
"""

from __future__ import annotations

import json
import statistics
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import torch

from ..kernels import AUTO, BackendTarget, GNACall, dtype_name, resolve_backend
from ..kernels.joint import gna_joint_attention, sdpa_attention
from ..speed.fit import fit_dense, fit_sparse
from ..speed.gate import device_name
from ..speed.problem import AttentionProblem, sparse_work
from ..speed.profiles import PROFILE_FORMAT, cached_profile_path, parse_profile
from ..windows import WindowSpec

# (grid side, window as a fraction of it, stride as a fraction of the window, text tokens)
GPU_PROBLEMS = [(s, f, st, t) for s in (32, 64, 96, 128) for f, st in ((0.25, 1.0), (0.3, 0.2)) for t in (0, 512)]
QUICK_PROBLEMS = [(s, f, st, t) for s in (8, 16) for f, st in ((0.5, 1.0), (0.4, 0.5)) for t in (0, 8)]


@dataclass(frozen=True)
class CalibrationResult:
    profile: dict[str, Any]
    path: Path | None


def _problem(side: int, fraction: float, stride_fraction: float, text: int, heads: int, head_dim: int,
             element_size: int) -> AttentionProblem:
    kernel = max(2, round(side * fraction))
    stride = max(1, round(kernel * stride_fraction))
    window = WindowSpec((kernel, kernel), (stride, stride), (1, 1), (False, False)).resolve((side, side))
    return AttentionProblem((window,), text, 1, heads, head_dim, element_size)


def _median_seconds(fn: Callable[[], Any], device: torch.device, warmup: int, repeats: int) -> float:
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        if device.type == "cuda":
            start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
            start.record()
            fn()
            end.record()
            end.synchronize()
            times.append(start.elapsed_time(end) / 1000.0)
        else:
            begin = time.perf_counter()
            fn()
            times.append(time.perf_counter() - begin)
    return statistics.median(times)


def calibrate(*, device: torch.device, dtype: torch.dtype, backend: str = AUTO, heads: int = 24,
              head_dim: int = 128, quick: bool = False, warmup: int = 3, repeats: int = 10,
              call_overhead_s: float = 0.0, output: Path | None = None, write: bool = True,
              progress: bool = True) -> CalibrationResult:
    """Time, fit and (``write``) cache this device's profile; ``quick``: tiny problems (CPU, tests)."""
    from tqdm.auto import tqdm

    target = BackendTarget(device, dtype, head_dim, 2)
    chosen = resolve_backend(backend, target)
    element_size = torch.finfo(dtype).bits // 8
    problems = [_problem(*spec, heads, head_dim, element_size) for spec in (QUICK_PROBLEMS if quick else GPU_PROBLEMS)]
    dense_samples, sparse_samples, rows = [], [], []
    generator = torch.Generator(device="cpu").manual_seed(0)
    for problem in tqdm(problems, desc="na-accel calibrate", disable=not progress):
        window = problem.windows[0]
        call = GNACall(window, text_len=problem.text_len)
        q, k, v = (torch.randn(1, problem.tokens, heads, head_dim, generator=generator).to(device, dtype)
                   for _ in range(3))

        def dense():
            return sdpa_attention(q, k, v)

        def sparse():
            return gna_joint_attention(q, k, v, call, backend=chosen)

        with torch.no_grad():
            dense_s = _median_seconds(dense, device, warmup, repeats)
            sparse_s = _median_seconds(sparse, device, warmup, repeats)
        dense_samples.append((problem.dense_flops(), dense_s))
        sparse_samples.append((sparse_work(problem, chosen.tile_backend), sparse_s))
        rows.append({"problem": problem.describe(), "window": window.describe(), "dense_s": dense_s,
                     "sparse_s": sparse_s})
    dense_cost, dense_fit = fit_dense(dense_samples, "sdpa default dispatch")
    sparse_cost, sparse_fit = fit_sparse(sparse_samples, dense_cost, call_overhead_s)
    name = device_name(device)
    shared_memory = capability = None
    if device.type == "cuda":
        from ..kernels.triton_op import device_capability, device_shared_memory
        shared_memory, capability = device_shared_memory(device), device_capability(device)
    profile = {
        "format": PROFILE_FORMAT, "device": name, "matches": [name], "dtypes": [dtype_name(dtype)],
        "measured": (f"na-accel calibrate{' --quick' if quick else ''}, {time.strftime('%Y-%m-%d')}, "
                     f"torch {torch.__version__}, backend {chosen.name}, {heads} heads x {head_dim}"),
        "margin": 0.05, "shared_memory": shared_memory, "capability": capability,
        "dense": dense_cost.__dict__, "backends": {chosen.name: sparse_cost.__dict__},
        "fit": {"dense_worst_relative_error": dense_fit.worst_relative_error,
                "sparse_worst_relative_error": sparse_fit.worst_relative_error,
                "notes": list(dense_fit.notes + sparse_fit.notes)},
        "samples": {"attention": rows},
    }
    path = Path(output) if output is not None else cached_profile_path(name)
    parse_profile(profile, str(path))  # what the gate will read back
    if write:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(profile, indent=1) + "\n")
    return CalibrationResult(profile, path if write else None)


def format_calibration(result: CalibrationResult) -> str:
    p = result.profile
    (backend, cost), = p["backends"].items()
    lines = [f"device {p['device']} ({', '.join(p['dtypes'])}): {len(p['samples']['attention'])} problems timed",
             f"  dense ({p['dense']['kernel']}): {p['dense']['flops_per_s'] / 1e12:.3g} TFLOP/s + "
             f"{p['dense']['overhead_s'] * 1e6:.3g} us per call (worst fit error "
             f"{p['fit']['dense_worst_relative_error']:.1%})",
             f"  {backend}: full tiles {cost['full_flops_per_s'] / 1e12:.3g} TFLOP/s, masked tiles "
             f"{cost['partial_flops_per_s'] / 1e12:.3g} TFLOP/s + {cost['overhead_s'] * 1e6:.3g} us per call "
             f"(worst fit error {p['fit']['sparse_worst_relative_error']:.1%})"]
    lines += [f"  note: {note}" for note in p["fit"]["notes"]]
    if result.path is not None:
        lines.append(f"wrote {result.path}: the speed gate uses it on this device from now on")
    return "\n".join(lines)


__all__ = ["CalibrationResult", "calibrate", "format_calibration"]
