"""``na-accel bench``: time a pipeline dense vs patched with a recipe; a table, and the JSON (``commands.bench``)."""

from __future__ import annotations

import argparse
import re
from pathlib import Path

from ..inputs.prompts import DEFAULT_PROMPT
from .arguments import add_model_arguments, check_prompt
from .model_run import prepare_model_run

NAME = "bench"


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(NAME, help="time a pipeline dense vs patched with a recipe")
    add_model_arguments(parser)
    parser.add_argument("--batch", type=int, default=1, help="images / videos per call (default: %(default)s)")
    parser.add_argument("--warmup", type=int, default=1,
                        help="warm-up runs per mode, reported apart from the timed ones (default: %(default)s)")
    parser.add_argument("--repeats", type=int, default=3, help="timed runs per mode (default: %(default)s)")
    parser.add_argument("--prompt", default=None,
                        help=f"prompt text (pipelines with text encoders / tiny presets; default: {DEFAULT_PROMPT!r})")
    parser.add_argument("--json", type=Path, default=None,
                        help="where to write the JSON, checked before the run "
                             "(default: na_accel_outputs/bench-<model>-<recipe>.json)")
    return parser


def run(args: argparse.Namespace) -> int:
    from ..commands.bench import BenchSettings, format_table, run_bench
    from ..models.model_list import model_default_prompt
    from ..outputs.json_files import write_json
    from ..outputs.output_paths import OutputWriteError, check_output_file, write_output

    path = bench_json_path(args)
    prompt = check_prompt(args.prompt, model_default_prompt(args.model))
    prepared = prepare_model_run(args, lambda: check_output_file("--json", path))
    settings = BenchSettings(height=prepared.height, width=prepared.width, frames=prepared.frames,
                             steps=prepared.steps, batch=args.batch, warmup=args.warmup, repeats=args.repeats,
                             seed=args.seed, prompt=prompt, progress=not args.no_progress)
    each = f"{args.warmup} warm-up + {args.repeats} timed" if args.warmup else f"{args.repeats} timed"
    runs = (f"runs: {each}, dense and GNA each ({2 * (args.warmup + args.repeats)} generations"
            + (f" of batch {args.batch}" if args.batch > 1 else "") + ")")
    print(prepared.plan(NAME, runs), flush=True)
    result = run_bench(prepared.model, prepared.recipe, settings, backend=args.backend)
    result = {"command": NAME, **prepared.header(args), **result}
    try:
        write_output("--json", path, lambda: write_json(path, result), result=result)
    except OutputWriteError:
        print(format_table(result) + "\n")  # the measurement, then (main) its JSON and the error line
        raise
    print(format_table(result))
    print(f"\nWrote {path}")
    return 0


def bench_json_path(args: argparse.Namespace) -> Path:
    """``--json``, or na_accel_outputs/bench-<model>-<recipe>.json."""
    return args.json or Path("na_accel_outputs") / f"bench-{_slug(args.model)}-{_slug(args.recipe)}.json"


def _slug(text: str) -> str:
    """A model or recipe name (or path: its stem) as a file-name part."""
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", Path(text).stem if text.endswith((".yaml", ".json")) else text).strip("_")
