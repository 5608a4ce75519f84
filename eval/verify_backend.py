"""Check a NATTEN backend against na_accel's explicit-mask reference on any device.

    python eval/verify_backend.py                                  # CPU, float32, auto backend
    python eval/verify_backend.py --device cuda --dtype bfloat16 --json out.json
    python eval/verify_backend.py --backend triton --cases 0,5 --head-dim 16   # two small cases

Runs na_accel's GNA joint-attention core (text tokens included) on fresh random inputs for a
sweep of grids and windows (odd sizes, borders, stride, dilation, causal, batch 2, 3-D), and
reports the error against the reference computed in float32. Exit status 1 if any case exceeds
the tolerance or produces NaN.
"""

from __future__ import annotations

import argparse
import json
import math
import platform
import shlex
import sys

import torch
from tqdm import tqdm

from na_accel.kernels.joint import gna_joint_attention
from na_accel.kernels import BackendTarget, GNACall, resolve_backend
from na_accel.commands.bench import versions
from na_accel.windows import WindowSpec

# grid, kernel, stride, dilation, causal, text tokens, batch
CASES = [
    ((5, 7), (3, 4), (2, 3), (1, 1), (False, False), 8, 2),
    ((16, 20), (7, 9), (2, 3), (1, 1), (False, False), 16, 2),
    ((24, 24), (8, 8), (4, 4), (1, 1), (False, False), 32, 1),
    ((32, 32), (13, 13), (1, 1), (2, 2), (False, False), 64, 1),
    ((33, 45), (16, 16), (8, 8), (1, 1), (False, False), 77, 2),
    ((12, 16), (6, 8), (3, 4), (1, 1), (True, False), 8, 2),
    ((4, 9, 10), (2, 3, 4), (1, 2, 2), (1, 1, 2), (False, False, False), 12, 2),
    ((6, 12, 16), (4, 8, 8), (2, 4, 4), (1, 1, 1), (False, False, False), 20, 1),
]

# Error allowed against the float32 reference, relative to the reference's largest magnitude.
TOLERANCE = {torch.float32: 1e-5, torch.float16: 5e-3, torch.bfloat16: 2e-2}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--dtype", default="float32", choices=["float32", "float16", "bfloat16"])
    parser.add_argument("--backend", default="auto")
    parser.add_argument("--heads", type=int, default=2)
    parser.add_argument("--head-dim", type=int, default=64)
    parser.add_argument("--cases", default=None, type=_case_indices,
                        help=f"comma-separated indices into the case list, 0-{len(CASES) - 1} (default: all)")
    parser.add_argument("--json", default=None, help="write the results here")
    args = parser.parse_args(argv)

    device, dtype = torch.device(args.device), getattr(torch, args.dtype)
    cases = CASES if args.cases is None else [CASES[i] for i in args.cases]
    results, failed = [], False
    for grid, kernel, stride, dilation, causal, text_len, batch in tqdm(cases, desc="cases"):
        target = BackendTarget(device, dtype, args.head_dim, len(grid))
        backend = resolve_backend(args.backend, target).name
        window = WindowSpec(kernel, stride, dilation, causal).resolve(grid)
        generator = torch.Generator(device=device).manual_seed(len(results))
        shape = (batch, math.prod(grid) + text_len, args.heads, args.head_dim)
        q, k, v = (torch.randn(shape, generator=generator, device=device, dtype=dtype) for _ in range(3))
        call = GNACall(window, text_len)
        out = gna_joint_attention(q, k, v, call, backend=backend).float()
        ref = gna_joint_attention(q.float(), k.float(), v.float(), call, backend="reference")
        error = (out - ref).abs().max().item()
        relative = error / ref.abs().max().item()
        ok = bool(torch.isfinite(out).all()) and relative <= TOLERANCE[dtype]
        failed |= not ok
        results.append({
            "grid": grid, "kernel_size": kernel, "stride": stride, "dilation": dilation,
            "is_causal": causal, "text_len": text_len, "batch": batch, "backend": backend,
            "density": window.density, "max_abs_error": error, "relative_error": relative, "ok": ok,
        })
        tqdm.write(f"{'ok  ' if ok else 'FAIL'} {window.describe()}, text {text_len}: "
                   f"max abs {error:.2e}, relative {relative:.2e} ({backend})")

    report = {
        "device": torch.cuda.get_device_name(device) if device.type == "cuda" else platform.processor() or "cpu",
        "dtype": args.dtype,
        "torch": torch.__version__,
        "natten": _natten_version(),
        "versions": versions(),
        "command": shlex.join(["python", "eval/verify_backend.py", *(sys.argv[1:] if argv is None else argv)]),
        "backend_requested": args.backend,
        "heads": args.heads,
        "head_dim": args.head_dim,
        "tolerance_relative": TOLERANCE[dtype],
        "cases": results,
    }
    if args.json:
        with open(args.json, "w") as handle:
            json.dump(report, handle, indent=2)
    print(f"{sum(r['ok'] for r in results)}/{len(results)} cases within tolerance")
    return 1 if failed else 0


def _case_indices(text: str) -> list[int]:
    """``--cases 0,5`` -> [0, 5]; an ArgumentTypeError naming the value and the allowed range."""
    allowed = f"comma-separated indices 0-{len(CASES) - 1}"
    try:
        indices = [int(part) for part in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not {allowed}") from None
    if not indices or any(not 0 <= i < len(CASES) for i in indices):
        raise argparse.ArgumentTypeError(f"{text!r}: allowed: {allowed}")
    return indices


def _natten_version() -> str:
    return versions()["natten"] or "not installed"


if __name__ == "__main__":
    sys.exit(main())
