"""``na-accel demo``: GNA on the embedded tiny-flux-shapes pipeline (a tiny FLUX.1 trained by na_accel to
draw captioned shapes; CPU, offline). It is ``compare`` on one prompt (the same engine writes the same
files: dense.png, patched.png, side_by_side.png, metrics.json), plus two things only a demo says: the
difference to the reference backend (same math, an independent implementation) and what each picture
shows, read back from its pixels."""

from __future__ import annotations

import argparse

from .arguments import add_backend_argument, add_output_dir_argument, check_prompt

NAME = "demo"
MODEL = "tiny-flux-shapes"  # na_accel.tiny.shapes: trained, so its pictures show what GNA changes
DEFAULT_RECIPE = "flux_gna"  # the shipped FLUX recipe, scaled to the 32x32 token grid


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
    from ..commands.bench import load_recipe_for
    from ..commands.compare import (CompareSettings, compare_output_names, generate_comparison, generate_patched,
                                    write_compare, write_comparison)
    from ..inputs.prompts import SHAPES_PROMPTS
    from ..inputs.sizes import MAX_STEPS, check_count, check_size, check_tiny_size
    from ..kernels import check_backend_name
    from ..models.model_list import MODELS, model_default_prompt
    from ..models.zoo import load_model
    from ..outputs.compare_summary import format_compare_summary
    from ..outputs.output_paths import check_output_dir, check_output_names
    from ..outputs.run_folder import RunFolder
    from ..recipe.parse import load_recipe
    from ..tiny import tiny_flux_shapes_call

    # everything checked before the pipeline is built
    prompt = check_prompt(args.prompt, model_default_prompt(MODEL))
    height = tiny_flux_shapes_call.height if args.height is None else args.height
    width = tiny_flux_shapes_call.width if args.width is None else args.width
    steps = tiny_flux_shapes_call.steps if args.steps is None else args.steps
    grid = check_size(MODELS[MODEL].geometry, MODEL, height, width)  # as bench and compare check it
    check_tiny_size(MODEL, grid, 1, f"{height}x{width} pixels")
    check_count("steps", steps, 1, MAX_STEPS)
    check_backend_name(args.backend, field="--backend")
    recipe = load_recipe_for(load_recipe(args.recipe, field="--recipe"), "flux", f"the demo's {MODEL}")
    check_output_dir("--output-dir", args.output_dir)
    check_output_names("--output-dir", args.output_dir, compare_output_names(1, html_report=False))

    model = load_model(MODEL, device="cpu")
    print(f"{MODEL}: a tiny FLUX.1 trained by na_accel to draw captioned shapes (na_accel/tiny/shapes)\n"
          f"prompt {prompt!r}, {height}x{width} pixels -> token grid {grid[0]}x{grid[1]}, "
          f"{steps} steps, true CFG (2 transformer calls per step), seed {args.seed}\n")
    settings = CompareSettings(height=height, width=width, frames=None, steps=steps, seed=args.seed, progress=False)
    comparison = generate_comparison(model, recipe, settings, [prompt], backend=args.backend)
    print(comparison.report)
    (reference,), _ = generate_patched(model, recipe, settings, [prompt], "reference")
    dense, sparse = comparison.dense[0], comparison.patched[0]

    print("\nOutput (images in [0, 1]):")
    print(f"  GNA vs dense attention:           max |diff| {(sparse - dense).abs().max().item():.3e}, "
          f"mean {(sparse - dense).abs().mean().item():.3e}  (sparse attention changes the output)")
    print(f"  GNA vs reference (explicit mask): max |diff| {(sparse - reference).abs().max().item():.3e}"
          "  (same math: should be ~1e-6)")
    print_what_they_show(prompt, dense, sparse)

    folder = RunFolder(args.output_dir, NAME)
    result = {"command": NAME, "model": MODEL, "prompt": prompt, "seed": args.seed,
              **write_comparison(comparison, folder)}
    written = write_compare(result, folder, f"na-accel demo: {MODEL}", {})
    print("\nWhat `na-accel compare` reports for it:")
    print(format_compare_summary(result, description=f"{MODEL}, {height}x{width}, seed {args.seed}",
                                 out_dir=args.output_dir, written=written, replaced=len(folder.cleared or [])))
    print(f"\nNext: na-accel compare {MODEL} --recipe flux_gna --prompt-file {SHAPES_PROMPTS}   (HTML report)\n"
          f"      na-accel tune {MODEL} --recipe flux_gna --max-error 0.1 --output tuned.yaml   (windows tuned on its weights)\n"
          f"      na-accel bench {MODEL} --recipe flux_gna   (timings; on a GPU: flux-dev --random-weights)")
    return 0


def print_what_they_show(prompt: str, dense, sparse) -> None:
    """The colour and position each picture shows, read back from its pixels, next to what the prompt asked."""
    from ..tiny.shapes.scenes import prompt_scene, read_picture

    colour, _, position = prompt_scene(prompt)
    asked = " at ".join(word for word in (colour, position) if word) or "no colour or position the model knows"
    print(f"\nWhat the pictures show (read back from the pixels; the prompt asked for: {asked}):")
    for name, picture in (("dense", dense), ("GNA", sparse)):
        found = read_picture(picture)
        print(f"  {name:5} " + (f"{found[0]} at {found[1]}" if found else "no shape of a caption colour"))
