"""Attention alone: na_accel's GNA joint attention vs the best dense attention on the device.

    python eval/attention_bench.py --device cuda --dtype bfloat16 --json attention.json
    python eval/attention_bench.py --case families --backends fused --dense-backends cudnn,flash
    python eval/attention_bench.py --case family --family wan --height 720 --width 1280 --frames 81
    python eval/attention_bench.py --case custom --grid 8x10 --window 4x4 --stride 2x2 --heads 2 --head-dim 16

The published cases run the GNA paper's configurations at their real sizes, text tokens
included, through the same code path a patched model runs (``na_accel.kernels.joint``):

* ``flux-1k`` / ``flux-2k`` / ``flux-4k``: 64x64 / 128x128 / 256x256 image tokens + 512 text
  tokens (text first), 24 heads x 128, window 20x20 / 40x40 / 80x80, stride 4x4 / 8x8 / 16x16;
* ``hunyuan-video``: 30x48x80 video tokens + 256 text tokens (text last), 24 heads x 128,
  window 18x24x24, stride 16x8x8.

The family cases (``--case families``: ``FAMILY_CASES``, or ``--case family --family F`` at any size)
are derived, not written down: the token grid from the family's geometry, heads, head_dim and text
tokens from its shipped config, and the window its shipped recipe resolves to at that grid on the
``triton`` backend's tiles (what ``na-accel estimate --backend triton`` shows and a patched model runs).
``--case`` takes names and groups, comma-separated: ``published`` (the default), ``families``, ``all``.

Every GNA backend that runs on the device is timed (``--backends all``: na_accel's ``triton``,
NATTEN's, never the O(tokens^2) reference; one that fails, e.g. out of memory, is recorded with
why; ``fused``: the same without the unfused flex-fna), and dense attention with every SDPA
backend (cuDNN, flash, memory-efficient, math; ``--dense-backends`` picks some); the fastest dense is
the baseline. Timing: ``--warmup`` calls apart, then the median of ``--repeats``
calls, with CUDA events on a GPU (perf_counter on CPU, where the numbers say nothing about GPU
speed), and peak memory per GNA backend. The FLOP bound (1 / density of the visual attention) is
printed next to the measured speedup; the JSON also has the bound of the whole joint attention
(text queries dense, visual queries over window + text keys: ``flop_bound_with_text``).
"""

from __future__ import annotations

import argparse
import json
import platform
import shlex
import statistics
import sys
import time
from pathlib import Path
from typing import NamedTuple

import torch
from torch.nn.attention import SDPBackend, sdpa_kernel

from na_accel.kernels.joint import gna_joint_attention, sdpa_attention
from na_accel.kernels import BackendTarget, GNACall, backend_reasons, dtype_name, resolve_backend
from na_accel.errors import ArgumentError, NaAccelError
from na_accel.families.registry import family_spec, supported_families
from na_accel.commands.bench import versions
from na_accel.kernels.window_cost import joint_speedup_bound
from na_accel.commands.estimate import estimate_recipe
from na_accel.windows import ResolvedWindow, WindowSpec

# name: (grid, window, stride, text tokens, text first, heads, head_dim)
CASES = {
    "flux-1k": ((64, 64), (20, 20), (4, 4), 512, True, 24, 128),
    "flux-2k": ((128, 128), (40, 40), (8, 8), 512, True, 24, 128),
    "flux-4k": ((256, 256), (80, 80), (16, 16), 512, True, 24, 128),
    "hunyuan-video": ((30, 48, 80), (18, 24, 24), (16, 8, 8), 256, False, 24, 128),
}
# name: (family, height, width, frames) in pixels; None: the family's default (its FamilyGeometry).
# Everything else is derived (family_case).
FAMILY_CASES = {
    "wan-480p": ("wan", 480, 832, 81),
    "wan-720p": ("wan", 720, 1280, 81),
    "hunyuan-video-720p": ("hunyuan_video", 720, 1280, 129),
    "cosmos": ("cosmos", None, None, None),
    "hunyuan-video15": ("hunyuan_video15", None, None, None),
    "qwen-image": ("qwen_image", None, None, None),
    "flux2": ("flux2", None, None, None),
}
CASE_GROUPS = {"published": tuple(CASES), "families": tuple(FAMILY_CASES), "all": (*CASES, *FAMILY_CASES)}
SINGLE_CASES = ("custom", "family")  # one case built from the command line's sizes; given alone
# Where the text tokens sit in the joint sequence, per family whose text joins the self attention:
# each adapter's TokenLayout (na_accel/families/<family>.py), which needs diffusers to import.
TEXT_FIRST = {"flux": True, "flux2": True, "qwen_image": True, "hunyuan_video": False, "hunyuan_video15": False,
              "minimax_h3": True,  # [text | conditions | audio | video]: everything but the video first
              "hunyuan_image": False, "chroma": True, "flux3": True, "z_image": False}
# The family cases' windows are resolved on this backend's tiles: the kernel timed here, and what
# `auto` runs on GPUs without NATTEN's compiled library.
WINDOW_BACKEND = "triton"
SDPA_BACKENDS = {
    "cudnn": SDPBackend.CUDNN_ATTENTION,
    "flash": SDPBackend.FLASH_ATTENTION,
    "efficient": SDPBackend.EFFICIENT_ATTENTION,
    "math": SDPBackend.MATH,
}


class Case(NamedTuple):  # not a dataclass: the tests load this script without registering a module
    """One attention problem: the resolved window (its grid included), text tokens, heads."""

    name: str
    window: ResolvedWindow
    text_len: int
    text_first: bool
    heads: int
    head_dim: int
    derived_from: dict | None = None  # family cases: what the numbers were read from

    @property
    def grid(self) -> tuple[int, ...]:
        return tuple(self.window.grid)


def published_case(name: str) -> Case:
    grid, window, stride, text_len, text_first, heads, head_dim = CASES[name]
    return Case(name, _window(grid, window, stride), text_len, text_first, heads, head_dim)


def _window(grid, window, stride) -> ResolvedWindow:
    return WindowSpec(window, stride, (1,) * len(grid), (False,) * len(grid)).resolve(grid)


def family_case(family: str, height: int | None = None, width: int | None = None, frames: int | None = None, *,
                name: str | None = None, heads: int | None = None, head_dim: int | None = None,
                text_len: int | None = None) -> Case:
    """A family's attention at a size: grid from its geometry; heads, head_dim and text tokens from its
    shipped config (each overridable); the window its shipped recipe resolves to there (``estimate``)."""
    spec = family_spec(family)
    config = spec.shipped_config()["config"]
    overrides = {k: v for k, v in (("heads", heads), ("head_dim", head_dim), ("text_len", text_len)) if v is not None}
    heads = int(config["num_attention_heads"]) if heads is None else heads
    head_dim = int(config["attention_head_dim"]) if head_dim is None else head_dim
    estimate = estimate_recipe(spec.recipe, model=family, height=height, width=width, frames=frames,
                               backend=WINDOW_BACKEND, head_dim=head_dim)
    sparse = [row for row in estimate.rows if row.estimate is not None]
    if not sparse:
        raise ArgumentError(f"--family: recipe {spec.recipe} keeps every layer of {family} dense; nothing to time")
    row = max(sparse, key=lambda r: len(r.layers))  # the window most layers run
    text = estimate.text_tokens if text_len is None else text_len
    if text and family not in TEXT_FIRST:
        raise ArgumentError(f"--family: where {family}'s text tokens sit is not known; add it to TEXT_FIRST")
    size = f"{estimate.height}x{estimate.width}" + (f"x{estimate.frames}" if estimate.frames else "")
    derived_from = {
        "family": family, "config": spec.config_file, "recipe": estimate.recipe, "recipe_hash": estimate.recipe_hash,
        "height": estimate.height, "width": estimate.width, "frames": estimate.frames,
        "window_backend": WINDOW_BACKEND, "layers_with_this_window": len(row.layers),
        "layers": sum(len(r.layers) for r in estimate.rows), "overrides": overrides,
    }
    return Case(name or f"{family}-{size}", row.estimate.window, text, TEXT_FIRST.get(family, True), heads, head_dim,
                derived_from)


def _device_resources(device: torch.device) -> dict:
    """What the kernel's tiles depend on (eval/fit_cost_profile.py copies them into the cost profile)."""
    if device.type != "cuda":
        return {}
    from na_accel.kernels.triton_op import device_capability, device_shared_memory
    return {"shared_memory_per_block": device_shared_memory(device), "capability": device_capability(device)}


def _sizes(text: str, flag: str) -> tuple[int, ...]:
    try:
        values = tuple(int(v) for v in text.lower().split("x"))
    except ValueError:
        raise SystemExit(f"{flag}: {text!r} is not sizes like 8x10 or 4x8x8") from None
    if not values or any(v < 1 for v in values):
        raise SystemExit(f"{flag}: {text!r} must be positive sizes like 8x10")
    return values


def _names(text: str, flag: str, allowed: tuple[str, ...], groups: dict | None = None) -> list[str]:
    """A comma-separated list of names (and groups of names), checked against ``allowed``."""
    names = []
    for part in (p.strip() for p in text.split(",")):
        if groups and part in groups:
            names += [n for n in groups[part] if n not in names]
        elif part in allowed:
            names += [part] if part not in names else []
        else:
            choices = [*(groups or {}), *allowed]
            raise SystemExit(f"{flag}: {part!r} is not allowed; allowed (comma-separated): {', '.join(choices)}")
    return names


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


def run_case(case: Case, *, device, dtype, backends, dense_backends=tuple(SDPA_BACKENDS), batch=1, warmup=3,
             repeats=10) -> dict:
    resolved, text_len, heads, head_dim = case.window, case.text_len, case.heads, case.head_dim
    call = GNACall(resolved, text_len, case.text_first)
    n_visual = call.n_visual
    # Random inputs made on the device (a CPU generator would take seconds at video sizes).
    generator = torch.Generator(device=device).manual_seed(0)
    q, k, v = (torch.randn(batch, n_visual + text_len, heads, head_dim, generator=generator, device=device,
                           dtype=dtype) for _ in range(3))
    measure = _timer(device, warmup, repeats)

    dense = {}
    for label in dense_backends:
        dense[label] = _timed(measure, lambda: sdpa_attention(q, k, v), SDPA_BACKENDS[label])
    timed = {label: t for label, t in dense.items() if isinstance(t, float)}
    best_dense = min(timed, key=timed.get, default=None)

    gna, gna_peak = {}, {}
    for backend in backends:
        def run_gna(backend=backend):
            return gna_joint_attention(q, k, v, call, backend=backend, dense_attention=sdpa_attention)

        if device.type == "cuda":
            torch.cuda.reset_peak_memory_stats(device)
        gna[backend] = _timed(measure, run_gna)
        if device.type == "cuda" and isinstance(gna[backend], float):
            gna_peak[backend] = torch.cuda.max_memory_allocated(device)
    fastest = min((b for b in gna if isinstance(gna[b], float)), key=gna.get, default=None)
    return {
        "case": case.name,
        "grid": list(case.grid),
        "text_tokens": text_len,
        "text_first": case.text_first,
        "heads": heads,
        "head_dim": head_dim,
        "batch": batch,
        "window": resolved.describe(),
        "kernel_size": list(resolved.kernel_size),
        "stride": list(resolved.stride),
        "dilation": list(resolved.dilation),
        "density": resolved.density,
        "flop_bound": 1.0 / resolved.density,
        # text queries dense, visual queries over their window plus every text key
        "flop_bound_with_text": joint_speedup_bound(n_visual, text_len, 1.0 / resolved.density),
        "derived_from": case.derived_from,
        "gna_s": gna,
        "gna_peak_memory_bytes": gna_peak,
        "fastest_gna": fastest,
        "dense_s": dense,
        "best_dense": best_dense,
        "speedup_vs_best_dense": {b: timed[best_dense] / t for b, t in gna.items()
                                  if isinstance(t, float) and best_dense is not None},
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
    """``all``: every backend that runs on the device except the O(tokens²) reference; ``fused``: the
    same without NATTEN's unfused flex-fna (it materializes the scores: minutes or out of memory at
    real sizes on a GPU); else the comma-separated list."""
    target = BackendTarget(device, dtype, head_dim, rank)
    if requested not in ("all", "fused"):
        return [resolve_backend(name, target).name for name in requested.split(",")]
    skip = {"reference"} | ({"flex-fna"} if requested == "fused" else set())
    return [name for name, reason in backend_reasons(target).items() if reason is None and name not in skip]


def build_cases(names: list[str], args: argparse.Namespace) -> list[Case]:
    """The cases named on the command line (``--case``), with the flags that apply to each checked."""
    overrides = {"heads": args.heads, "head_dim": args.head_dim, "text_len": args.text_len}
    given = [f"--{k.replace('_', '-')}" for k, v in overrides.items() if v is not None]
    family_flags = [f"--{k}" for k in ("family", "height", "width", "frames") if getattr(args, k) is not None]
    if family_flags and names != ["family"]:
        raise SystemExit(f"{'/'.join(family_flags)}: apply to --case family only")
    if given and any(name in CASES for name in names):
        raise SystemExit(f"{'/'.join(given)}: apply to --case custom, family and the families' cases; the "
                         f"published cases ({', '.join(CASES)}) run as published")
    if names == ["custom"]:
        if not args.grid or not args.window:
            raise SystemExit("--case custom needs --grid and --window")
        grid = _sizes(args.grid, "--grid")
        stride = _sizes(args.stride, "--stride") if args.stride else (1,) * len(grid)
        return [Case("custom", _window(grid, _sizes(args.window, "--window"), stride), args.text_len or 0, True,
                     24 if args.heads is None else args.heads, 128 if args.head_dim is None else args.head_dim)]
    if names == ["family"]:
        if args.family is None:
            raise SystemExit(f"--case family needs --family (allowed: {', '.join(supported_families())})")
        return [family_case(args.family, args.height, args.width, args.frames, **overrides)]
    return [published_case(name) if name in CASES else family_case(*FAMILY_CASES[name], name=name, **overrides)
            for name in names]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--case", default="published",
                        help="comma-separated case names and groups: published (default: "
                             f"{', '.join(CASES)}), families ({', '.join(FAMILY_CASES)}), all; or alone: custom "
                             "(--grid, --window), family (--family and sizes)")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--dtype", default="bfloat16", choices=["float32", "float16", "bfloat16"])
    parser.add_argument("--backends", default="all",
                        help="GNA backends to time, comma-separated (auto, triton, hopper-fna, ...); all: every "
                             "backend that runs here except reference (default); fused: all but flex-fna too")
    parser.add_argument("--dense-backends", default=",".join(SDPA_BACKENDS),
                        help="dense SDPA backends to time, comma-separated (default: %(default)s); the fastest "
                             "of them is the baseline")
    parser.add_argument("--batch", type=int, default=1)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--repeats", type=int, default=10)
    parser.add_argument("--grid", help="custom case: token grid, e.g. 64x64")
    parser.add_argument("--window", help="custom case: window, e.g. 16x16")
    parser.add_argument("--stride", help="custom case: stride (default 1 per axis)")
    parser.add_argument("--family", choices=supported_families(), help="--case family: the model family")
    parser.add_argument("--height", type=int, help="--case family: height in pixels (default: the family's)")
    parser.add_argument("--width", type=int, help="--case family: width in pixels (default: the family's)")
    parser.add_argument("--frames", type=int, help="--case family: video frames (default: the family's)")
    parser.add_argument("--text-len", type=int, default=None,
                        help="text tokens (custom: placed first, default 0; family cases: the family's)")
    parser.add_argument("--heads", type=int, default=None, help="custom: default 24; family cases: the config's")
    parser.add_argument("--head-dim", type=int, default=None, help="custom: default 128; family cases: the config's")
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args(argv)

    for flag, value, minimum in (("--batch", args.batch, 1), ("--warmup", args.warmup, 0),
                                 ("--repeats", args.repeats, 1), ("--heads", args.heads, 1),
                                 ("--head-dim", args.head_dim, 1), ("--text-len", args.text_len, 0)):
        if value is not None and value < minimum:
            raise SystemExit(f"{flag}: {value} is not allowed; allowed: an integer >= {minimum}")
    names = _names(args.case, "--case", (*CASES, *FAMILY_CASES, *SINGLE_CASES), CASE_GROUPS)
    if len(names) > 1 and any(name in SINGLE_CASES for name in names):
        raise SystemExit(f"--case: {args.case!r}: custom and family are given alone")
    dense_backends = _names(args.dense_backends, "--dense-backends", tuple(SDPA_BACKENDS))
    device, dtype = torch.device(args.device), getattr(torch, args.dtype)

    results = []
    try:
        for case in build_cases(names, args):
            backends = gna_backends(args.backends, device, dtype, case.head_dim, len(case.grid))
            results.append(run_case(case, device=device, dtype=dtype, backends=backends,
                                    dense_backends=dense_backends, batch=args.batch, warmup=args.warmup,
                                    repeats=args.repeats))
    except NaAccelError as exc:
        print(f"attention_bench: error: {exc}", file=sys.stderr)
        return 2

    device_name = torch.cuda.get_device_name(device) if device.type == "cuda" else platform.processor() or "cpu"
    print(f"device {device_name}, {dtype_name(dtype)}, torch {torch.__version__}")
    print(f"{'case':20} {'backend':14} {'ms':>9} {'dense ms':>9} {'dense':>9} {'speedup':>8} {'FLOP bound':>10} "
          f"{'with text':>9}")
    for r in results:
        if r["best_dense"] is None:
            print(f"{r['case']:20} no dense backend ran: {r['dense_s']}")
            continue
        best = r["dense_s"][r["best_dense"]]
        for backend, t in r["gna_s"].items():
            if isinstance(t, float):
                print(f"{r['case']:20} {backend:14} {t * 1e3:9.2f} {best * 1e3:9.2f} {r['best_dense']:>9} "
                      f"{best / t:7.2f}x {r['flop_bound']:9.1f}x {r['flop_bound_with_text']:8.1f}x")
            else:
                print(f"{r['case']:20} {backend:14} {t}")
    if device.type != "cuda":
        print("NOTE: CPU timings say nothing about GPU speed (NATTEN's CPU path is unfused).")
    if args.json is not None:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps({
            "device": {"type": device.type, "name": device_name, **_device_resources(device)},
            "dtype": dtype_name(dtype),
            "versions": versions(),
            "command": shlex.join(["python", "eval/attention_bench.py", *(sys.argv[1:] if argv is None else argv)]),
            "gna_backends_requested": args.backends,
            "dense_backends": dense_backends,
            "warmup": args.warmup,
            "repeats": args.repeats,
            "results": results,
        }, indent=2))
        print(f"Wrote {args.json}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
