"""``na-accel estimate``: what a recipe buys at a resolution: density, FLOP / tile bounds and an
end-to-end estimate (``commands.estimate``), optionally with the attention share a bench run measured."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Sequence

from ..errors import ArgumentError
from ..families.registry import supported_families
from ..kernels.tiles import DEFAULT_TILE_BACKEND, TILE_BACKENDS
from ..windows import format_axes
from .arguments import add_size_arguments

NAME = "estimate"
TILE_DTYPES = ("float16", "bfloat16", "float32")  # the element types of the tile tables


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(NAME, help="what a recipe buys at a resolution (density, bounds, estimate)")
    parser.add_argument("--recipe", required=True, help="shipped name or .yaml/.json path")
    parser.add_argument("--model", default=None,
                        help=f"model family ({', '.join(supported_families())}) or a model name of `na-accel "
                             "models` (flux-dev, tiny-wan, ...: its family); default: the recipe's")
    add_size_arguments(parser, "family", "output frames (video families; default: the family's)")
    parser.add_argument("--backend", default=DEFAULT_TILE_BACKEND,
                        help=f"whose tiles: {', '.join(TILE_BACKENDS)} (default: %(default)s)")
    parser.add_argument("--head-dim", type=int, default=None, help="attention head_dim (default: the family's, 128)")
    parser.add_argument("--dtype", default="bfloat16", choices=TILE_DTYPES,
                        help="element type: picks the tile table (default: %(default)s)")
    parser.add_argument("--q-tile", default=None,
                        help="q tile, e.g. 16x8 (with --kv-tile; default: NATTEN's default)")
    parser.add_argument("--kv-tile", default=None, help="kv tile, e.g. 16x8 (default: NATTEN's default)")
    parser.add_argument("--attention-share", type=float, default=None,
                        help="attention's share of denoising time in [0, 1] (from na-accel bench); "
                             "default: an analytic FLOP share")
    parser.add_argument("--bench-json", type=Path, default=None,
                        help="take the attention share measured by `na-accel bench --json` (dense run) from this "
                             "file (default: none)")
    parser.add_argument("--steps", type=int, default=None, help="denoising steps (default: the pipeline's)")
    parser.add_argument("--device", default=None,
                        help="GPU name whose cost profile prices the calls, e.g. 'NVIDIA H100 80GB HBM3' (default: "
                             "this machine's GPU, else the shipped profile)")
    parser.add_argument("--json", type=Path, default=None,
                        help="also write the estimate as JSON to this path (default: none, printed only)")
    return parser


def run(args: argparse.Namespace) -> int:
    from ..commands.estimate import estimate_recipe, format_estimate
    from ..outputs.json_files import write_json
    from ..outputs.output_paths import check_output_file, write_output
    from ..recipe.parse import load_recipe

    if args.bench_json is not None and args.attention_share is not None:
        raise ArgumentError("--attention-share and --bench-json: give one of them, not both")
    if (args.q_tile is None) != (args.kv_tile is None):
        given, missing = ("--q-tile", "--kv-tile") if args.kv_tile is None else ("--kv-tile", "--q-tile")
        raise ArgumentError(f"{given}: given without {missing}; give both (e.g. --q-tile 16x8 --kv-tile 16x8) "
                            "or neither (NATTEN's default tiles)")
    if args.json is not None:
        check_output_file("--json", args.json)
    options = dict(
        model=args.model,
        height=args.height,
        width=args.width,
        frames=args.frames,
        backend=args.backend,
        head_dim=args.head_dim,
        dtype=args.dtype,
        q_tile=parse_tile("--q-tile", args.q_tile),
        kv_tile=parse_tile("--kv-tile", args.kv_tile),
        attention_share=args.attention_share,
        steps=args.steps,
        device=args.device,
    )
    recipe = load_recipe(args.recipe, field="--recipe")
    result = estimate_recipe(recipe, **options)
    if args.bench_json is not None:  # the measured share, for the grid just worked out
        share, source = attention_share_from_bench(args.bench_json, result.model, result.grid)
        result = estimate_recipe(recipe, **{**options, "attention_share": share})
        result.attention_share_source = source
    print(format_estimate(result))
    if args.json is not None:
        write_output("--json", args.json, lambda: write_json(args.json, result.to_dict()), result=result.to_dict())
        print(f"\nWrote {args.json}")
    return 0


def parse_tile(flag: str, text: str | None) -> tuple[int, ...] | None:
    """``--q-tile`` / ``--kv-tile``: ``16x8`` (or ``16,8``) -> (16, 8); None when not given."""
    if text is None:
        return None
    try:
        values = tuple(int(v) for v in text.lower().replace(",", "x").split("x"))
    except ValueError:
        raise ArgumentError(f"{flag}: {text!r} is not a tile shape like 16x8 or 4x4x8") from None
    if any(v < 1 for v in values):
        raise ArgumentError(f"{flag}: {text!r} has a non-positive size")
    return values


def attention_share_from_bench(path: Path, family: str, grid: Sequence[int]) -> tuple[float, str]:
    """``--bench-json``: the dense run's measured attention share from a ``na-accel bench --json`` file,
    checked to be for the same model family and token grid (the share grows with the token count)."""
    from ..inputs.input_files import read_input_text

    text = read_input_text("--bench-json", path)  # a regular file of at most MAX_INPUT_BYTES, UTF-8
    try:
        data = json.loads(text)
    except (ValueError, RecursionError) as exc:
        raise ArgumentError(f"--bench-json: cannot read {str(path)!r} as JSON ({exc})") from None
    try:
        share = float(data["runs"]["dense"]["attention_share"])
        bench_family, bench_grid = data["model"]["family"], tuple(data["token_grid"])
        device = data["device"]
    except (KeyError, TypeError, ValueError):
        raise ArgumentError(f"--bench-json: {str(path)!r} is not a na-accel bench JSON "
                            "(no runs.dense.attention_share, model.family, token_grid, device)") from None
    if bench_family != family:
        raise ArgumentError(f"--bench-json: {str(path)!r} measured model family {bench_family!r}, not {family!r}")
    if bench_grid != tuple(grid):
        raise ArgumentError(
            f"--bench-json: {str(path)!r} measured token grid {format_axes(bench_grid)}, but this estimate "
            f"is for {format_axes(grid)}; bench at the same size (the share grows with the token count)"
        )
    source = f"measured by na-accel bench on {device.get('name')} ({device.get('type')}), dense run"
    if device.get("type") != "cuda":
        source += "; NOT a GPU measurement, so not representative of GPU runs"
    return share, source
