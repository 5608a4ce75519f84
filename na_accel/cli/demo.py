"""``na-accel demo``: patch an embedded tiny FLUX pipeline (CPU, offline), show what ran sparse, the
difference to dense attention and to the reference backend, and write the pictures and metrics."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

from .arguments import add_backend_argument, add_output_dir_argument

if TYPE_CHECKING:
    import torch

NAME = "demo"

# Exercises every recipe feature on the tiny pipeline's 16x16 token grid (its default 256x256 pixels).
DEMO_RECIPE = {
    "model": "flux",
    "name": "demo",
    "description": "demo recipe for the tiny FLUX pipeline (token grid 16x16)",
    "dense_steps": 1,
    "default": {"kernel_size": [7, 9], "stride": [2, 3], "dilation": [1, 1]},
    "layers": [
        {"match": "transformer_blocks.0.attn", "dense": True},
        {"match": "single_transformer_blocks.*", "kernel_size": [5, 5], "stride": 1, "dilation": [2, 2]},
    ],
}


# What the demo writes in its --output-dir (checked before the run: no name taken by a folder).
DEMO_OUTPUTS = ("demo.png", "dense.png", "patched.png", "metrics.json", ".na-accel-run.json")


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(NAME, help="GNA on an embedded tiny FLUX pipeline (CPU, offline)")
    parser.add_argument("--recipe", default=None,
                        help="shipped name or .yaml/.json path (default: a demo recipe)")
    add_backend_argument(parser, "auto, triton, reference or a NATTEN backend name")
    parser.add_argument("--height", type=int, default=None,
                        help="image height in pixels, a multiple of 16 (default: the tiny-flux preset's)")
    parser.add_argument("--width", type=int, default=None,
                        help="image width in pixels, a multiple of 16 (default: the tiny-flux preset's)")
    parser.add_argument("--steps", type=int, default=None, help="denoising steps (default: the tiny-flux preset's)")
    parser.add_argument("--seed", type=int, default=0,
                        help="seed of the tiny pipeline's weights and of the latents (default: %(default)s)")
    add_output_dir_argument(parser, "na_accel_outputs", "the pictures and metrics.json")
    return parser


def run(args: argparse.Namespace) -> int:
    import torch

    from ..patch_report import describe
    from ..patching import patch, unpatch
    from ..kernels import check_backend_name
    from ..recipe.parse import load_recipe
    from ..tiny import tiny_flux_call, tiny_flux_pipeline, tiny_flux_prompt
    from ..tools.bench import check_recipe_family
    from ..tools.output_paths import check_output_dir, check_output_names
    from ..tools.sizes import MAX_STEPS, check_count, check_size, check_tiny_size

    # the tiny-flux preset's one default size and steps, as tiny_pipeline, bench and compare take them
    args.height = tiny_flux_call.height if args.height is None else args.height
    args.width = tiny_flux_call.width if args.width is None else args.width
    args.steps = tiny_flux_call.steps if args.steps is None else args.steps
    grid = check_size("flux", "tiny-flux", args.height, args.width)  # as bench and compare check it
    check_tiny_size("tiny-flux", grid, 1, f"{args.height}x{args.width} pixels")
    check_count("steps", args.steps, 1, MAX_STEPS)
    check_backend_name(args.backend, field="--backend")
    recipe = check_recipe_family(load_recipe(args.recipe or DEMO_RECIPE, field="--recipe"), "flux", "the demo's tiny-flux")
    check_output_dir("--output-dir", args.output_dir)
    check_output_names("--output-dir", args.output_dir, DEMO_OUTPUTS)
    pipe = tiny_flux_pipeline(seed=args.seed)
    prompt = tiny_flux_prompt(seed=args.seed)
    print(f"Tiny FLUX pipeline (random weights), {args.height}x{args.width} pixels -> token grid "
          f"{grid[0]}x{grid[1]}, {args.steps} steps\n")

    def generate() -> torch.Tensor:
        return pipe(
            height=args.height,
            width=args.width,
            num_inference_steps=args.steps,
            guidance_scale=3.5,
            output_type="pt",
            generator=torch.Generator().manual_seed(args.seed),
            **prompt.as_kwargs(),
        ).images

    def generate_patched(backend: str, show_report: bool) -> torch.Tensor:
        patch(pipe, recipe, backend=backend)
        try:
            images = generate()
            if show_report:
                print(describe(pipe))
            return images
        finally:
            unpatch(pipe)

    dense = generate()
    sparse = generate_patched(args.backend, show_report=True)
    reference = generate_patched("reference", show_report=False)

    print("\nOutput (images in [0, 1]):")
    print(f"  GNA vs dense attention:        max |diff| {(sparse - dense).abs().max().item():.3e}, "
          f"mean {(sparse - dense).abs().mean().item():.3e}  (sparse attention changes the output)")
    print(f"  GNA vs reference (explicit mask): max |diff| {(sparse - reference).abs().max().item():.3e}"
          "  (same math: should be ~1e-6)")
    print_demo_outputs(args.output_dir, dense[0], sparse[0])
    return 0


def print_demo_outputs(out_dir: Path, dense: torch.Tensor, sparse: torch.Tensor) -> None:
    """The demo's pictures and quality metrics, written the way `na-accel compare`
    writes them; the files of the previous run in ``out_dir`` are replaced (``RunFolder``)."""
    from ..tools.prompts import SHIPPED_PROMPTS
    from ..tools.metrics import QualityMetrics, format_metrics
    from ..tools.output_paths import write_output
    from ..tools.json_files import write_json
    from ..tools.report import save_png, save_side_by_side
    from ..tools.run_folder import RunFolder

    metrics = QualityMetrics().compute(dense, sparse)
    print("\nQuality of GNA vs dense (what `na-accel compare` reports):")
    print("  " + format_metrics(metrics).replace("\n", "\n  "))
    folder = RunFolder(out_dir, NAME)

    def write():
        replaced = folder.clear_previous()
        outputs = []
        try:
            outputs.append((save_side_by_side(out_dir / "demo.png", dense, sparse),
                            "dense | GNA | |difference| heat map"))
            outputs.append((save_png(out_dir / "dense.png", dense), "dense attention"))
            outputs.append((save_png(out_dir / "patched.png", sparse), "GNA"))
            outputs.append((write_json(out_dir / "metrics.json", metrics),
                            "PSNR, SSIM (LPIPS / CLIP: see --help of compare)"))
        finally:
            folder.record(path for path, _ in outputs)
        return replaced, outputs

    replaced, outputs = write_output("--output-dir", out_dir, write, result=metrics)
    print(f"\nOutputs in {out_dir}/" + (f" (replaced the previous run's {len(replaced)} files)" if replaced else "")
          + ":")
    for path, what in outputs:
        print(f"  {path.name:14} {what}")
    print(f"\nNext: na-accel compare tiny-flux --recipe flux_gna --prompt-file {SHIPPED_PROMPTS}   (HTML report)\n"
          "      na-accel bench tiny-flux --recipe flux_gna   (timings; on a GPU: flux-dev --random-weights)")
