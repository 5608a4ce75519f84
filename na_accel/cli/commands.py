"""The ``bench`` and ``compare`` subcommands of ``na-accel``: argument parsing and output.

The work happens in ``zoo`` (models), ``bench`` (timing), ``compare`` / ``metrics`` / ``report``
(quality); this module turns arguments into calls, prints the summary and says where files went.
"""

from __future__ import annotations

import argparse
import re
from pathlib import Path
from typing import Any

from ..tools.compare import DEFAULT_PROMPT
from ..errors import ArgumentError
from ..tools.output_paths import check_output_dir, check_output_file
from ..tools.sizes import check_count, check_size

OUTPUT_DIR_POLICY = ("a run first removes the files the previous na-accel run wrote there (listed in "
                     ".na-accel-run.json), so runs never mix; other files are left alone")


def _add_model_arguments(parser: argparse.ArgumentParser) -> None:
    from ..tools.zoo import models_help

    parser.add_argument("model", help=models_help())
    parser.add_argument("--recipe", required=True, help="shipped recipe name or .yaml/.json path")
    parser.add_argument("--backend", default="auto",
                        help="attention backend: auto (the fastest that runs here), triton, reference or a NATTEN "
                             "backend name (default: %(default)s)")
    parser.add_argument("--random-weights", action="store_true",
                        help="build the full-size transformer from its shipped config with random weights")
    parser.add_argument("--config-override", action="append", metavar="KEY=VALUE",
                        help="change a --random-weights config value (JSON), e.g. num_layers=2; repeatable "
                             "(default: none)")
    parser.add_argument("--height", type=int, default=None, help="output height in pixels (default: the model's)")
    parser.add_argument("--width", type=int, default=None, help="output width in pixels (default: the model's)")
    parser.add_argument("--frames", type=int, default=None, help="video frames (video models; default: the model's)")
    parser.add_argument("--steps", type=int, default=None, help="denoising steps (default: the model's)")
    parser.add_argument("--dtype", default="float32", help="float32, float16 or bfloat16 (default: %(default)s)")
    parser.add_argument("--device", default="auto",
                        help="auto (cuda when visible, else cpu), cpu, cuda, cuda:1, ... (default: %(default)s)")
    parser.add_argument("--seed", type=int, default=0,
                        help="seed of the latents (and of the tiny presets' weights) (default: %(default)s)")
    parser.add_argument("--text-len", type=int, default=None,
                        help="text tokens of --random-weights inputs (default: the family's)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")


def add_subcommands(commands: argparse._SubParsersAction) -> None:
    commands.add_parser("models", help="list the model names bench and compare accept")
    bench = commands.add_parser("bench", help="time a pipeline dense vs patched with a recipe")
    _add_model_arguments(bench)
    bench.add_argument("--batch", type=int, default=1, help="images / videos per call (default: %(default)s)")
    bench.add_argument("--warmup", type=int, default=1,
                       help="warm-up runs per mode, reported apart from the timed ones (default: %(default)s)")
    bench.add_argument("--repeats", type=int, default=3, help="timed runs per mode (default: %(default)s)")
    bench.add_argument("--prompt", default=None,
                       help=f"prompt text (pipelines with text encoders / tiny presets; default: {DEFAULT_PROMPT!r})")
    bench.add_argument("--json", type=Path, default=None,
                       help="where to write the JSON, checked before the run "
                            "(default: na_accel_outputs/bench-<model>-<recipe>.json)")

    compare = commands.add_parser("compare", help="dense vs patched outputs of one seed: pictures and metrics")
    _add_model_arguments(compare)
    compare.add_argument("--prompt", default=None, help=f"prompt text (default: {DEFAULT_PROMPT!r})")
    compare.add_argument("--prompt-file", type=Path, default=None,
                         help="one prompt per line (or a JSON list); one folder per prompt and a self-contained "
                              "report.html (default: none, one --prompt)")
    compare.add_argument("--output-dir", type=Path, default=Path("na_accel_outputs/compare"),
                         help=f"where pictures, metrics.json and report.html go; {OUTPUT_DIR_POLICY} "
                              "(default: %(default)s)")
    compare.add_argument("--lpips-weights", default=None,
                         help="local LPIPS module: torch.export .pt2 or TorchScript .pt, never downloaded "
                              "(default: none, LPIPS skipped)")
    compare.add_argument("--clip-model", default=None,
                         help="local Hugging Face CLIP model folder for CLIP score, never downloaded "
                              "(default: none, CLIP score skipped)")


def _bench_json_path(args: argparse.Namespace) -> Path:
    return args.json or Path("na_accel_outputs") / f"bench-{_slug(args.model)}-{_slug(args.recipe)}.json"


def _prepare(args: argparse.Namespace, check_outputs):
    """Validate everything cheap first (counts, recipe, model name, sizes, output paths), then build the model."""
    from ..tools.bench import check_recipe_family
    from ..kernels import check_backend_name
    from ..recipe.parse import load_recipe
    from ..tools.zoo import MODELS, load_model, parse_device, parse_dtype, parse_overrides

    for name, minimum in {"steps": 1, "batch": 1, "repeats": 1, "warmup": 0, "text_len": 1, "frames": 1}.items():
        check_count(name, getattr(args, name, None), minimum)
    check_backend_name(args.backend, field="--backend")
    recipe = load_recipe(args.recipe)
    overrides = parse_overrides(args.config_override)
    parse_dtype(args.dtype)
    parse_device(args.device)
    spec = MODELS.get(args.model)
    if spec is not None:
        check_recipe_family(recipe, spec.family, args.model)
        geometry = spec.geometry  # the sizes given, checked now (the family's defaults stand in for the rest)
        check_size(geometry, args.model, geometry.default_height if args.height is None else args.height,
                   geometry.default_width if args.width is None else args.width, args.frames,
                   single_frame=spec.single_frame)
    check_outputs()
    model = load_model(args.model, random_weights=args.random_weights, device=args.device, dtype=args.dtype,
                       seed=args.seed, config_overrides=overrides, text_len=args.text_len)
    height = model.default_height if args.height is None else args.height
    width = model.default_width if args.width is None else args.width
    frames = args.frames if args.frames is not None else model.default_frames
    steps = args.steps or model.default_steps
    return recipe, model, height, width, frames, steps


def _header(args: argparse.Namespace, model) -> dict[str, Any]:
    import torch

    from ..tools.bench import device_info, versions

    device = next(model.transformer.parameters()).device
    arguments = {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items() if k != "command"}
    return {"device": device_info(torch.device(device)), "versions": versions(), "model": model.info(),
            "arguments": arguments}


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", Path(text).stem if text.endswith((".yaml", ".json")) else text).strip("_")


def run_bench_command(args: argparse.Namespace) -> int:
    from ..tools.bench import BenchSettings, format_table, run_bench
    from ..tools.report import write_json

    path = _bench_json_path(args)
    recipe, model, height, width, frames, steps = _prepare(args, lambda: check_output_file("--json", path))
    settings = BenchSettings(height=height, width=width, frames=frames, steps=steps, batch=args.batch,
                             warmup=args.warmup, repeats=args.repeats, seed=args.seed,
                             prompt=args.prompt or DEFAULT_PROMPT, progress=not args.no_progress)
    result = run_bench(model, recipe, settings, backend=args.backend)
    header = _header(args, model)
    header["arguments"].update(height=height, width=width, frames=frames, steps=steps)
    result = {"command": "bench", **header, **result}
    write_json(path, result)
    print(format_table(result))
    print(f"\nWrote {path}")
    return 0


def run_compare_command(args: argparse.Namespace) -> int:
    from ..tools.compare import CompareSettings, read_prompts, run_compare, write_compare
    from ..tools.compare_summary import format_compare_summary
    from ..tools.metrics import QualityMetrics
    from ..tools.run_folder import RunFolder

    if args.prompt_file is not None and args.prompt is not None:
        raise ArgumentError("--prompt and --prompt-file: give one of them, not both")
    if args.random_weights:  # refused before building a (possibly full-size) model
        raise ArgumentError(
            "--random-weights: compare needs pictures, and random-weight models have no VAE (they output "
            "latents); compare a tiny preset or real weights (bench measures random-weight models)"
        )
    prompts = read_prompts(args.prompt_file) if args.prompt_file is not None else [args.prompt or DEFAULT_PROMPT]
    metrics = QualityMetrics(lpips_weights=args.lpips_weights, clip_model=args.clip_model)
    recipe, model, height, width, frames, steps = _prepare(
        args, lambda: check_output_dir("--output-dir", args.output_dir))
    settings = CompareSettings(height=height, width=width, frames=frames, steps=steps, seed=args.seed,
                               progress=not args.no_progress)
    folder = RunFolder(args.output_dir, "compare")
    result = run_compare(model, recipe, settings, prompts, folder, metrics=metrics,
                         backend=args.backend, html_report=args.prompt_file is not None)
    header = _header(args, model)
    header["arguments"].update(height=height, width=width, frames=frames, steps=steps)
    result = {"command": "compare", **header, **result}
    size = f"{height}x{width}" + (f"x{frames} frames" if model.is_video else "")
    written = write_compare(result, folder, f"na-accel compare: {model.name}, recipe {result['recipe']['name']}", {
        "model": f"{model.name} ({model.source})", "recipe": f"{result['recipe']['name']} [{result['recipe']['hash']}]",
        "size": size, "steps": steps, "seed": args.seed, "device": result["device"]["name"],
    })
    description = (f"{model.name} ({model.source}), {size}, token grid {'x'.join(map(str, result['token_grid']))}, "
                   f"{steps} steps, seed {args.seed}")
    print(format_compare_summary(result, description=description, out_dir=args.output_dir, written=written,
                                 replaced=len(folder.cleared or [])))
    return 0


def run_models_command(args: argparse.Namespace) -> int:
    from ..tools.zoo import MODELS

    print(f"{'name':20} {'family':14} {'kind':22} {'usage':17} description")
    for spec in MODELS.values():
        usage = "--random-weights" if spec.config_file else "offline"
        status = f" (not available: {spec.unavailable})" if spec.unavailable else ""
        print(f"{spec.name:20} {spec.family:14} {spec.kind:22} {usage:17} {spec.description}{status}")
    print("or a local diffusers pipeline folder / hub id (loaded with from_pretrained)")
    return 0
