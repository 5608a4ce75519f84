"""``na-accel tune``: a recipe tuned on your weights, prompts and size (``na_accel.tune``'s command).

Every argument is checked before a model is built (budget, output paths, prompts, then what bench
and compare check); the work is ``commands.tune``'s.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from ..errors import ArgumentError
from .arguments import add_model_arguments, check_prompt
from .model_run import prepare_model_run

NAME = "tune"
TUNE_PROMPTS = 3  # shipped prompts tuned on by default
COMPARE_PROMPTS = 2  # shipped prompts held back for --compare by default


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        NAME, help="tune a recipe on your model: per layer the cheapest window within an attention error budget")
    add_model_arguments(parser)
    parser.add_argument("--max-error", type=float, required=True,
                        help="largest relative error of a layer's attention output vs dense at any sparse step, "
                             "in [0, 1] (e.g. 0.05)")
    parser.add_argument("--output", type=Path, required=True,
                        help="the tuned recipe (.yaml); its measurements go next to it (NAME.tune.json)")
    parser.add_argument("--prompt", default=None, help="one prompt to tune on (default: the first "
                                                       f"{TUNE_PROMPTS} shipped prompts)")
    parser.add_argument("--prompt-file", type=Path, default=None,
                        help="prompts to tune on, one per line (or a JSON list) (default: as --prompt)")
    parser.add_argument("--max-query-rows", type=int, default=1024,
                        help="visual query rows measured per call on larger grids, sampled uniformly; 0: all "
                             "(default: %(default)s)")
    parser.add_argument("--compare", action="store_true",
                        help="then compare the tuned recipe end to end (PSNR/SSIM vs dense) on held-back prompts")
    parser.add_argument("--compare-prompt-file", type=Path, default=None,
                        help=f"held-back prompts for --compare (default: {COMPARE_PROMPTS} shipped prompts not "
                             "tuned on)")
    parser.add_argument("--compare-dir", type=Path, default=Path("na_accel_outputs/tune_compare"),
                        help="where --compare's pictures go (default: %(default)s)")
    parser.add_argument("--report", type=Path, default=None,
                        help="write an HTML report: a picture of every layer's window and errors (default: none)")
    return parser


def _prompts(args: argparse.Namespace) -> tuple[list[str], list[str] | None]:
    from ..inputs.prompts import read_prompts
    from ..models.model_list import model_prompts

    if args.prompt_file is not None and args.prompt is not None:
        raise ArgumentError("--prompt and --prompt-file: give one of them, not both")
    shipped = model_prompts(args.model)  # the shipped set, or a trained model's own (tiny-flux-shapes)
    if args.prompt_file is not None:
        prompts = read_prompts(args.prompt_file)
    elif args.prompt is not None:
        prompts = [check_prompt(args.prompt)]
    else:
        prompts = shipped[:TUNE_PROMPTS]
    if not args.compare:
        if args.compare_prompt_file is not None:
            raise ArgumentError("--compare-prompt-file: only with --compare")
        return prompts, None
    if args.compare_prompt_file is not None:
        return prompts, read_prompts(args.compare_prompt_file)
    return prompts, [p for p in shipped if p not in prompts][:COMPARE_PROMPTS]


def run(args: argparse.Namespace) -> int:
    from ..commands.compare import compare_output_names
    from ..commands.tune import TuneSettings, measurements_path, run_tune
    from ..outputs.output_paths import check_output_dir, check_output_file, check_output_names
    from ..tuning import check_max_error

    max_error = check_max_error(args.max_error, "--max-error")
    if args.random_weights:
        raise ArgumentError("--random-weights: a recipe tuned on random weights says nothing about a trained "
                            "model's attention; tune a tiny preset or real weights")
    if args.max_query_rows < 0:
        raise ArgumentError(f"--max-query-rows: {args.max_query_rows} is negative; allowed: 0 (all rows) or more")
    if args.output.suffix.lower() not in (".yaml", ".yml"):
        raise ArgumentError(f"--output: {str(args.output)!r} is not a .yaml file; give e.g. tuned.yaml")
    prompts, compare_prompts = _prompts(args)

    def check_outputs() -> None:
        check_output_file("--output", args.output)
        check_output_file("--output", measurements_path(args.output))
        if args.report is not None:
            check_output_file("--report", args.report)
        if compare_prompts:
            check_output_dir("--compare-dir", args.compare_dir)
            check_output_names("--compare-dir", args.compare_dir, compare_output_names(len(compare_prompts), False))

    prepared = prepare_model_run(args, check_outputs)
    settings = TuneSettings(max_error=max_error, height=prepared.height, width=prepared.width,
                            frames=prepared.frames, steps=prepared.steps, seed=args.seed, backend=args.backend,
                            max_query_rows=args.max_query_rows or None, progress=not args.no_progress)
    result = run_tune(prepared.model, prepared.recipe, settings, prompts, args.output,
                      compare_prompts=compare_prompts, compare_dir=args.compare_dir, report=args.report,
                      run_header={"command": NAME, **prepared.header(args)})
    print(_summary(result))
    return 0


ESTIMATE_HEADER = ("na-accel estimate of the tuned recipe on the family's full-size model at this token grid (its "
                   "text tokens and head size, not this pipeline's: its figures are not the one above):")


def _summary(result: dict) -> str:
    from ..tuning.tuned_recipe import speedup_text

    layers = result["layers"]
    sparse = [layer for layer in layers if layer["chosen"] is not None]
    lines = [
        f"tuned recipe: {result['recipe_file']} [{result['recipe_hash']}] (measurements: {result['measurements_file']})",
        f"budget: relative attention error <= {result['max_error']:g} per layer and sparse step "
        f"({result['query_rows']})",
        f"{len(sparse)} of {len(layers)} measured layers sparse; dense steps: first {result['dense_steps']}, last "
        f"{result['dense_final_steps']} of {result['steps']}",
        speedup_text(result["estimated_attention_cost"], definition=True),
    ]
    for layer in layers:
        error = f"error {layer['error']:.3g}" if layer["chosen"] is not None else "no window within budget"
        lines.append(f"  {layer['name']}: {layer['window']} ({error})")
    for layer, why in result["unmeasured_layers"].items():
        lines.append(f"  {layer}: not measured ({why}), dense")
    lines += ["", ESTIMATE_HEADER, result["estimate"]]
    if "compare" in result:
        averages = ", ".join(f"{k} {v:.4g}" for k, v in result["compare"]["averages"].items()
                             if isinstance(v, (int, float)))
        lines.append(f"compare on {len(result['compare']['prompts'])} held-back prompt(s): {averages}")
    if "report" in result:
        lines.append(f"report: {result['report']}")
    return "\n".join(lines)
