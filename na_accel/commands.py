"""The ``bench`` and ``compare`` subcommands of ``na-accel``: argument parsing and output.

The work happens in ``zoo`` (models), ``bench`` (timing), ``compare`` / ``metrics`` / ``report``
(quality); this module turns arguments into calls, prints the summary and says where files went.
"""

from __future__ import annotations

import argparse
import re
from pathlib import Path
from typing import Any

from .errors import ArgumentError

MODEL_HELP = ("tiny-flux / tiny-hunyuan-video / tiny-cosmos / tiny-wan (embedded, offline), flux-dev / "
              "hunyuan-video / cosmos-7b / wan-14b with --random-weights, or a local diffusers pipeline folder "
              "/ hub id (`na-accel models` lists them)")


def _add_model_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("model", help=MODEL_HELP)
    parser.add_argument("--recipe", required=True, help="shipped recipe name or .yaml/.json path")
    parser.add_argument("--backend", default="auto", help="auto, triton, reference or a NATTEN backend name")
    parser.add_argument("--random-weights", action="store_true",
                        help="build the full-size transformer from its shipped config with random weights")
    parser.add_argument("--config-override", action="append", metavar="KEY=VALUE",
                        help="change a --random-weights config value (JSON), e.g. num_layers=2; repeatable")
    parser.add_argument("--height", type=int, default=None, help="output height in pixels (default: the model's)")
    parser.add_argument("--width", type=int, default=None, help="output width in pixels (default: the model's)")
    parser.add_argument("--frames", type=int, default=None, help="video frames (video models)")
    parser.add_argument("--steps", type=int, default=None, help="denoising steps (default: the model's)")
    parser.add_argument("--dtype", default="float32", help="float32, float16 or bfloat16")
    parser.add_argument("--device", default="auto", help="auto (cuda when visible, else cpu), cpu, cuda, cuda:1, ...")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--text-len", type=int, default=None, help="text tokens of --random-weights inputs")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")


def add_subcommands(commands: argparse._SubParsersAction) -> None:
    commands.add_parser("models", help="list the model names bench and compare accept")
    bench = commands.add_parser("bench", help="time a pipeline dense vs patched with a recipe")
    _add_model_arguments(bench)
    bench.add_argument("--batch", type=int, default=1)
    bench.add_argument("--warmup", type=int, default=1, help="untimed-in-the-median warm-up runs per mode")
    bench.add_argument("--repeats", type=int, default=3, help="timed runs per mode")
    bench.add_argument("--prompt", default=None, help="prompt text (pipelines with text encoders / tiny presets)")
    bench.add_argument("--json", type=Path, default=None,
                       help="where to write the JSON (default: na_accel_outputs/bench-<model>-<recipe>.json)")

    compare = commands.add_parser("compare", help="dense vs patched outputs of one seed: pictures and metrics")
    _add_model_arguments(compare)
    compare.add_argument("--prompt", default=None, help="prompt text")
    compare.add_argument("--prompt-file", type=Path, default=None,
                         help="one prompt per line (or a JSON list); writes an HTML report")
    compare.add_argument("--output-dir", type=Path, default=Path("na_accel_outputs/compare"),
                         help="where pictures, metrics.json and report.html go")
    compare.add_argument("--lpips-weights", default=None,
                         help="local LPIPS module: torch.export .pt2 or TorchScript .pt (never downloaded)")
    compare.add_argument("--clip-model", default=None,
                         help="local Hugging Face CLIP model folder for CLIP score (never downloaded)")


def _check_counts(args: argparse.Namespace, names: dict[str, int]) -> None:
    for name, minimum in names.items():
        value = getattr(args, name, None)
        if value is not None and value < minimum:
            raise ArgumentError(f"--{name.replace('_', '-')}: {value} must be >= {minimum}")


def _prepare(args: argparse.Namespace):
    """Validate everything cheap first (recipe, model name, sizes), then build the model."""
    from .bench import check_recipe_family
    from .recipe import load_recipe
    from .zoo import MODELS, check_size, load_model, parse_device, parse_dtype, parse_overrides

    _check_counts(args, {"steps": 1, "batch": 1, "repeats": 1, "warmup": 0, "text_len": 1, "frames": 1})
    from .kernels import check_backend_name

    check_backend_name(args.backend, field="--backend")
    recipe = load_recipe(args.recipe)
    overrides = parse_overrides(args.config_override)
    parse_dtype(args.dtype)
    parse_device(args.device)
    spec = MODELS.get(args.model)
    if spec is not None:
        check_recipe_family(recipe, spec.family, args.model)
        if args.height is not None and args.width is not None:
            check_size(spec.geometry, args.model, args.height, args.width, args.frames)
    model = load_model(args.model, random_weights=args.random_weights, device=args.device, dtype=args.dtype,
                       seed=args.seed, config_overrides=overrides, text_len=args.text_len)
    height = args.height or model.default_height
    width = args.width or model.default_width
    frames = args.frames if args.frames is not None else model.default_frames
    steps = args.steps or model.default_steps
    return recipe, model, height, width, frames, steps


def _header(args: argparse.Namespace, model) -> dict[str, Any]:
    import torch

    from .bench import device_info, versions

    device = next(model.transformer.parameters()).device
    arguments = {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items() if k != "command"}
    return {"device": device_info(torch.device(device)), "versions": versions(), "model": model.info(),
            "arguments": arguments}


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", Path(text).stem if text.endswith((".yaml", ".json")) else text).strip("_")


def run_bench_command(args: argparse.Namespace) -> int:
    from .bench import BenchSettings, format_table, run_bench
    from .compare import DEFAULT_PROMPT
    from .report import write_json

    recipe, model, height, width, frames, steps = _prepare(args)
    settings = BenchSettings(height=height, width=width, frames=frames, steps=steps, batch=args.batch,
                             warmup=args.warmup, repeats=args.repeats, seed=args.seed,
                             prompt=args.prompt or DEFAULT_PROMPT, progress=not args.no_progress)
    result = run_bench(model, recipe, settings, backend=args.backend)
    header = _header(args, model)
    header["arguments"].update(height=height, width=width, frames=frames, steps=steps)
    result = {"command": "bench", **header, **result}
    path = args.json or Path("na_accel_outputs") / f"bench-{_slug(args.model)}-{_slug(args.recipe)}.json"
    write_json(path, result)
    print(format_table(result))
    print(f"\nWrote {path}")
    return 0


def run_compare_command(args: argparse.Namespace) -> int:
    from .compare import DEFAULT_PROMPT, CompareSettings, read_prompts, run_compare, write_compare
    from .metrics import QualityMetrics, format_metrics

    if args.prompt_file is not None and args.prompt is not None:
        raise ArgumentError("--prompt and --prompt-file: give one of them, not both")
    if args.random_weights:  # refused before building a (possibly full-size) model
        raise ArgumentError(
            "--random-weights: compare needs pictures, and random-weight models have no VAE (they output "
            "latents); compare a tiny preset or real weights (bench measures random-weight models)"
        )
    prompts = read_prompts(args.prompt_file) if args.prompt_file is not None else [args.prompt or DEFAULT_PROMPT]
    metrics = QualityMetrics(lpips_weights=args.lpips_weights, clip_model=args.clip_model)
    recipe, model, height, width, frames, steps = _prepare(args)
    settings = CompareSettings(height=height, width=width, frames=frames, steps=steps, seed=args.seed,
                               progress=not args.no_progress)
    html_report = args.prompt_file is not None
    result = run_compare(model, recipe, settings, prompts, args.output_dir, metrics=metrics,
                         backend=args.backend, html_report=html_report)
    header = _header(args, model)
    header["arguments"].update(height=height, width=width, frames=frames, steps=steps)
    result = {"command": "compare", **header, **result}
    title = f"na-accel compare: {model.name}, recipe {result['recipe']['name']}"
    written = write_compare(result, args.output_dir, title, {
        "model": f"{model.name} ({model.source})", "recipe": f"{result['recipe']['name']} [{result['recipe']['hash']}]",
        "size": f"{height}x{width}" + (f", {frames} frames" if model.is_video else ""), "steps": steps,
        "seed": args.seed, "device": result["device"]["name"],
    })

    calls = result["layer_calls"]
    print(f"{model.name} ({model.source}), {height}x{width}"
          + (f"x{frames} frames" if model.is_video else "")
          + f", token grid {'x'.join(map(str, result['token_grid']))}, {steps} steps, seed {args.seed}; recipe "
          f"{result['recipe']['name']} [{result['recipe']['hash']}]; backend used: {result['backend']['used']}")
    print(f"attention layer calls while patched: {calls['sparse']} sparse, {calls['full_window']} full-window, "
          f"{calls['dense']} dense")
    label = "average over " + f"{len(prompts)} prompts" if len(prompts) > 1 else "patched vs dense"
    print(f"\nMetrics ({label}):")
    print("  " + format_metrics(result["averages"]).replace("\n", "\n  "))
    print(f"\nOutputs in {args.output_dir}/:")
    first = result["outputs"][0]
    folder = "" if first["folder"] == "." else first["folder"] + "/"
    for key, name in first["files"].items():
        if isinstance(name, str):
            print(f"  {key:24} {folder}{name}")
        elif "skipped" in name:
            print(f"  {key:24} skipped: {name['skipped']}")
        else:
            print(f"  {key:24} " + ", ".join(f"{folder}{n}" for n in name.values()))
    for key, path in written.items():
        print(f"  {key:24} {path.name}")
    return 0


def run_models_command(args: argparse.Namespace) -> int:
    from .zoo import MODELS

    for spec in MODELS.values():
        usage = "--random-weights" if spec.config_file else "offline"
        status = f" (not available: {spec.unavailable})" if spec.unavailable else ""
        print(f"{spec.name:20} {spec.family:14} {spec.kind:22} {usage:17} {spec.description}{status}")
    print("or a local diffusers pipeline folder / hub id (loaded with from_pretrained)")
    return 0
