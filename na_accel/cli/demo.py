"""``na-accel demo``: GNA on the embedded tiny-flux-shapes pipeline (a tiny FLUX.1 trained by na_accel to
draw captioned shapes; CPU, offline): the prompt's picture dense and with GNA, labelled side by side
with their difference, what ran sparse, what each picture shows, the difference to the reference
backend and the quality metrics."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

from .arguments import add_backend_argument, add_output_dir_argument, check_prompt

if TYPE_CHECKING:
    import torch

NAME = "demo"
MODEL = "tiny-flux-shapes"  # na_accel.tiny.shapes: trained, so its pictures show what GNA changes
DEFAULT_RECIPE = "flux_gna"  # the shipped FLUX recipe, scaled to the 32x32 token grid

# What the demo writes in its --output-dir (checked before the run: no name taken by a folder).
DEMO_OUTPUTS = ("demo.png", "dense.png", "patched.png", "metrics.json", ".na-accel-run.json")


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(NAME, help="GNA on an embedded tiny FLUX trained on shapes (CPU, offline)")
    parser.add_argument("--prompt", default=None,
                        help=f"what to draw: a colour, a shape and a position, e.g. 'a blue square at the bottom "
                             f"right' (default: {MODEL}'s first prompt)")
    parser.add_argument("--recipe", default=DEFAULT_RECIPE,
                        help="shipped name or .yaml/.json path of a FLUX recipe (default: %(default)s)")
    add_backend_argument(parser, "auto, triton, reference or a NATTEN backend name")
    parser.add_argument("--height", type=int, default=None,
                        help=f"image height in pixels, a multiple of 4 (default: {MODEL}'s, the size it was trained at)")
    parser.add_argument("--width", type=int, default=None,
                        help=f"image width in pixels, a multiple of 4 (default: {MODEL}'s)")
    parser.add_argument("--steps", type=int, default=None, help=f"denoising steps (default: {MODEL}'s)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the initial noise (default: %(default)s)")
    add_output_dir_argument(parser, "na_accel_outputs", "the pictures and metrics.json")
    return parser


def run(args: argparse.Namespace) -> int:
    import torch

    from ..kernels import check_backend_name
    from ..patch_report import describe
    from ..patching import patch, unpatch
    from ..recipe.parse import load_recipe
    from ..tiny import tiny_flux_shapes_call, tiny_flux_shapes_pipeline
    from ..commands.bench import check_recipe_family
    from ..models.model_list import MODELS, model_default_prompt
    from ..outputs.output_paths import check_output_dir, check_output_names
    from ..inputs.sizes import MAX_STEPS, check_count, check_size, check_tiny_size

    # everything checked before the pipeline is built
    prompt = check_prompt(args.prompt, model_default_prompt(MODEL))
    args.height = tiny_flux_shapes_call.height if args.height is None else args.height
    args.width = tiny_flux_shapes_call.width if args.width is None else args.width
    args.steps = tiny_flux_shapes_call.steps if args.steps is None else args.steps
    grid = check_size(MODELS[MODEL].geometry, MODEL, args.height, args.width)  # as bench and compare check it
    check_tiny_size(MODEL, grid, 1, f"{args.height}x{args.width} pixels")
    check_count("steps", args.steps, 1, MAX_STEPS)
    check_backend_name(args.backend, field="--backend")
    recipe = check_recipe_family(load_recipe(args.recipe, field="--recipe"), "flux", f"the demo's {MODEL}")
    check_output_dir("--output-dir", args.output_dir)
    check_output_names("--output-dir", args.output_dir, DEMO_OUTPUTS)
    pipe = tiny_flux_shapes_pipeline()
    print(f"{MODEL}: a tiny FLUX.1 trained by na_accel to draw captioned shapes (na_accel/tiny/shapes)\n"
          f"prompt {prompt!r}, {args.height}x{args.width} pixels -> token grid {grid[0]}x{grid[1]}, "
          f"{args.steps} steps, true CFG (2 transformer calls per step), seed {args.seed}\n")

    def generate() -> torch.Tensor:
        call = tiny_flux_shapes_call(prompt=prompt, seed=args.seed, steps=args.steps, height=args.height,
                                     width=args.width)
        return pipe(**call).images

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
    print(f"  GNA vs dense attention:           max |diff| {(sparse - dense).abs().max().item():.3e}, "
          f"mean {(sparse - dense).abs().mean().item():.3e}  (sparse attention changes the output)")
    print(f"  GNA vs reference (explicit mask): max |diff| {(sparse - reference).abs().max().item():.3e}"
          "  (same math: should be ~1e-6)")
    print_what_they_show(prompt, dense[0], sparse[0])
    print_demo_outputs(args.output_dir, dense[0], sparse[0], gna_label=f"GNA ({recipe.name})")
    return 0


def print_what_they_show(prompt: str, dense: torch.Tensor, sparse: torch.Tensor) -> None:
    """The colour and position each picture shows, read back from its pixels, next to what the prompt asked."""
    from ..tiny.shapes.scenes import prompt_scene, read_picture

    colour, _, position = prompt_scene(prompt)
    asked = " at ".join(word for word in (colour, position) if word) or "no colour or position the model knows"
    print(f"\nWhat the pictures show (read back from the pixels; the prompt asked for: {asked}):")
    for name, picture in (("dense", dense), ("GNA", sparse)):
        found = read_picture(picture)
        print(f"  {name:5} " + (f"{found[0]} at {found[1]}" if found else "no shape of a caption colour"))


def print_demo_outputs(out_dir: Path, dense: torch.Tensor, sparse: torch.Tensor, gna_label: str = "GNA") -> None:
    """The demo's pictures and quality metrics, written the way `na-accel compare`
    writes them; the files of the previous run in ``out_dir`` are replaced (``RunFolder``)."""
    from ..metrics import QualityMetrics, format_metrics
    from ..outputs.output_paths import write_output
    from ..inputs.prompts import SHAPES_PROMPTS
    from ..outputs.json_files import write_json
    from ..outputs.report import save_png, save_side_by_side
    from ..outputs.run_folder import RunFolder

    metrics = QualityMetrics().compute(dense, sparse)
    print("\nQuality of GNA vs dense (what `na-accel compare` reports):")
    print("  " + format_metrics(metrics).replace("\n", "\n  "))
    folder = RunFolder(out_dir, NAME)

    def write():
        replaced = folder.clear_previous()
        outputs = []
        try:
            outputs.append((save_side_by_side(out_dir / "demo.png", dense, sparse,
                                              labels=("dense", gna_label, "|difference|")),
                            "dense | GNA | |difference| heat map, labelled"))
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
    print(f"\nNext: na-accel compare {MODEL} --recipe flux_gna --prompt-file {SHAPES_PROMPTS}   (HTML report)\n"
          f"      na-accel tune {MODEL} --recipe flux_gna --max-error 0.1 --output tuned.yaml   (windows tuned on its weights)\n"
          f"      na-accel bench {MODEL} --recipe flux_gna   (timings; on a GPU: flux-dev --random-weights)")
