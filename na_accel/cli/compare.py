"""``na-accel compare``: dense vs patched outputs of one seed: pictures, metrics and (for a prompt file)
an HTML report; the work is ``commands.compare``'s, the summary ``outputs.compare_summary``'s."""

from __future__ import annotations

import argparse
from pathlib import Path

from ..errors import ArgumentError
from ..inputs.prompts import DEFAULT_PROMPT
from ..windows import format_axes
from .arguments import add_model_arguments, add_output_dir_argument, check_prompt
from .model_run import prepare_model_run

NAME = "compare"


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(NAME, help="dense vs patched outputs of one seed: pictures and metrics")
    add_model_arguments(parser)
    parser.add_argument("--prompt", default=None, help=f"prompt text (default: {DEFAULT_PROMPT!r}; on tiny-flux-shapes: "
                                                            "its first shapes prompt)")
    parser.add_argument("--prompt-file", type=Path, default=None,
                        help="one prompt per line (or a JSON list); one folder per prompt and a self-contained "
                             "report.html (default: none, one --prompt)")
    add_output_dir_argument(parser, "na_accel_outputs/compare", "pictures, metrics.json and report.html")
    parser.add_argument("--lpips-weights", default=None,
                        help="local LPIPS module: torch.export .pt2 or TorchScript .pt, never downloaded "
                             "(default: none, LPIPS skipped)")
    parser.add_argument("--clip-model", default=None,
                        help="local Hugging Face CLIP model folder for CLIP score, never downloaded "
                             "(default: none, CLIP score skipped)")
    return parser


def run(args: argparse.Namespace) -> int:
    from ..commands.compare import CompareSettings, compare_output_names, run_compare, write_compare
    from ..inputs.prompts import read_prompts
    from ..metrics import QualityMetrics
    from ..models.model_list import model_default_prompt
    from ..outputs.compare_summary import format_compare_summary
    from ..outputs.output_paths import check_output_dir, check_output_names
    from ..outputs.run_folder import RunFolder

    if args.prompt_file is not None and args.prompt is not None:
        raise ArgumentError("--prompt and --prompt-file: give one of them, not both")
    if args.random_weights:  # refused before building a (possibly full-size) model
        raise ArgumentError(
            "--random-weights: compare needs pictures, and random-weight models have no VAE (they output "
            "latents); compare a tiny preset or real weights (bench measures random-weight models)"
        )
    prompts = (read_prompts(args.prompt_file) if args.prompt_file is not None
               else [check_prompt(args.prompt, model_default_prompt(args.model))])
    metrics = QualityMetrics(lpips_weights=args.lpips_weights, clip_model=args.clip_model)
    html_report = args.prompt_file is not None

    def check_outputs() -> None:
        check_output_dir("--output-dir", args.output_dir)
        check_output_names("--output-dir", args.output_dir, compare_output_names(len(prompts), html_report))

    prepared = prepare_model_run(args, check_outputs)
    model, steps = prepared.model, prepared.steps
    settings = CompareSettings(height=prepared.height, width=prepared.width, frames=prepared.frames, steps=steps,
                               seed=args.seed, progress=not args.no_progress)
    per = "1 prompt" if len(prompts) == 1 else f"{len(prompts)} prompts"
    print(prepared.plan(NAME, f"runs: {per}, dense and GNA each ({2 * len(prompts)} generations)"), flush=True)
    folder = RunFolder(args.output_dir, NAME)
    result = run_compare(model, prepared.recipe, settings, prompts, folder, metrics=metrics,
                         backend=args.backend, html_report=html_report)
    result = {"command": NAME, **prepared.header(args), **result}
    size = f"{prepared.height}x{prepared.width}" + (f"x{prepared.frames} frames" if model.is_video else "")
    recipe = result["recipe"]
    written = write_compare(result, folder, f"na-accel compare: {model.name}, recipe {recipe['name']}", {
        "model": f"{model.name} ({model.source})", "recipe": f"{recipe['name']} [{recipe['hash']}]",
        "size": size, "steps": steps, "seed": args.seed, "device": result["device"]["name"],
    })
    description = (f"{model.name} ({model.source}), {size}, token grid {format_axes(result['token_grid'])}, "
                   f"{steps} steps, seed {args.seed}")
    print(format_compare_summary(result, description=description, out_dir=args.output_dir, written=written,
                                 replaced=len(folder.cleared or [])))
    return 0
