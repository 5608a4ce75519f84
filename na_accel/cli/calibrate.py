"""``na-accel calibrate``: time dense and GNA attention on this device and cache its cost profile,
which the speed gate then uses instead of the shipped one (``commands.calibrate``)."""

from __future__ import annotations

import argparse
from pathlib import Path

from ..errors import ArgumentError

NAME = "calibrate"


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(NAME, help="measure where sparse attention pays on this GPU (the speed gate's profile)")
    parser.add_argument("--device", default="auto", help="cuda, cuda:1, cpu or auto (default: %(default)s)")
    parser.add_argument("--dtype", default=None, help="bfloat16, float16 or float32 (default: bfloat16 on a GPU, "
                                                      "float32 on the CPU)")
    parser.add_argument("--backend", default="auto", help="the GNA backend to time (default: %(default)s)")
    parser.add_argument("--heads", type=int, default=24, help="attention heads (default: %(default)s)")
    parser.add_argument("--head-dim", type=int, default=128, help="head_dim (default: %(default)s)")
    parser.add_argument("--quick", action="store_true", help="tiny problems only (a CPU check, not a GPU profile)")
    parser.add_argument("--repeats", type=int, default=10, help="timed calls per problem (default: %(default)s)")
    parser.add_argument("--call-overhead-us", type=float, default=0.0,
                        help="what a patched layer adds around its kernels, in microseconds, if measured "
                             "(e.g. with na-accel bench); default: %(default)s")
    parser.add_argument("--output", type=Path, default=None,
                        help="write the profile here (default: the user's cache, where the speed gate looks)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    return parser


def run(args: argparse.Namespace) -> int:
    from ..commands.calibrate import calibrate, format_calibration
    from ..inputs.devices import parse_device, parse_dtype
    from ..inputs.sizes import MAX_HEAD_DIM, MAX_HEADS, MAX_REPEATS, check_count
    from ..outputs.output_paths import check_output_file

    device = parse_device(args.device)
    dtype = parse_dtype(args.dtype or ("bfloat16" if device.type == "cuda" else "float32"))
    check_count("heads", args.heads, 1, MAX_HEADS)
    check_count("head_dim", args.head_dim, 1, MAX_HEAD_DIM)
    check_count("repeats", args.repeats, 1, MAX_REPEATS)
    if not 0 <= args.call_overhead_us < 1e6:
        raise ArgumentError(f"--call-overhead-us: {args.call_overhead_us} is out of range; allowed: [0, 1e6)")
    if args.output is not None:
        check_output_file("--output", args.output)
    result = calibrate(device=device, dtype=dtype, backend=args.backend, heads=args.heads, head_dim=args.head_dim,
                       quick=args.quick, repeats=args.repeats, call_overhead_s=args.call_overhead_us * 1e-6,
                       output=args.output, progress=not args.no_progress)
    print(format_calibration(result))
    return 0
