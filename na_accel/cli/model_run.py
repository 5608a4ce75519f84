"""What bench and compare share: every argument checked cheaply before a model is built, then the
model; and the header (device, versions, model, arguments) their JSON starts with."""

from __future__ import annotations

import argparse
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from ..inputs import sizes
from .arguments import parse_overrides

# The integer options and their allowed range (absent ones, e.g. compare's --batch, are skipped); the
# maximums are documented in inputs.sizes. A known model's --frames is its geometry's to check (per model).
COUNT_LIMITS = {"steps": (1, sizes.MAX_STEPS), "batch": (1, sizes.MAX_BATCH), "repeats": (1, sizes.MAX_REPEATS),
                "warmup": (0, sizes.MAX_WARMUP), "text_len": (1, sizes.MAX_TEXT_LEN),
                "frames": (1, sizes.MAX_FRAMES)}


@dataclass
class ModelRun:
    """A built model with the recipe and the size it runs at (the model's defaults filled in)."""

    recipe: Any
    model: Any
    height: int
    width: int
    frames: int | None
    steps: int
    sources: dict[str, str] = field(default_factory=dict)  # where height, width, frames, steps come from

    def plan(self, command: str, runs: str) -> str:
        """The line a command prints before it starts: the size, token grid, steps and runs it will
        run, and where each value comes from (a flag, the pipeline's config, a default)."""
        from ..models.loaded_models import validate_size
        from ..windows import format_axes

        model = self.model
        video = model.is_video
        grid = validate_size(model, self.height, self.width, self.frames if video else None)
        size = f"{self.height}x{self.width} pixels" + (f" x {self.frames} frames" if video else "")
        keys = ("height", "width", "frames") if video else ("height", "width")
        groups: dict[str, list[str]] = {}
        for key in keys:
            groups.setdefault(self.sources[key], []).append(key)
        where = "; ".join(f"{', '.join(names)}: {source}" for source, names in groups.items())
        defaulted = [key for key in keys if self.sources[key] != "flag"]
        if defaulted:
            where += f"; {'/'.join('--' + key for key in defaulted)} to change"
        steps = self.sources["steps"]
        steps_note = "" if steps == "flag" else "; --steps to change"
        return (f"{command} {model.name}: {size} ({where}) -> token grid {format_axes(grid)}, "
                f"{self.steps} steps ({steps}{steps_note}); {runs}")

    def header(self, args: argparse.Namespace) -> dict[str, Any]:
        """Device, versions, model, arguments (the sizes as run) and where the sizes and steps come from
        (``value_sources``) for the command's JSON."""
        import torch

        from ..commands.bench import device_info, versions

        device = next(self.model.transformer.parameters()).device
        arguments = {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items() if k != "command"}
        arguments.update(height=self.height, width=self.width, frames=self.frames, steps=self.steps)
        keys = ("height", "width", "frames", "steps") if self.model.is_video else ("height", "width", "steps")
        return {"device": device_info(torch.device(device)), "versions": versions(), "model": self.model.info(),
                "arguments": arguments, "value_sources": {key: self.sources[key] for key in keys if key in self.sources}}


def prepare_model_run(args: argparse.Namespace, check_outputs: Callable[[], Any]) -> ModelRun:
    """Validate everything cheap first (counts, backend, recipe, model name, sizes, output paths via
    ``check_outputs``), then build the model."""
    from ..commands.bench import load_recipe_for
    from ..inputs.devices import parse_device, parse_dtype
    from ..inputs.sizes import check_count, check_size, check_tiny_size
    from ..kernels import check_backend_name
    from ..models.zoo import MODELS, load_model  # looked up at run time: tests replace load_model
    from ..recipe.parse import load_recipe

    spec = MODELS.get(args.model)
    for name, (minimum, maximum) in COUNT_LIMITS.items():
        if name != "frames" or spec is None:  # a known model's frames: its geometry's check (below) says more
            check_count(name, getattr(args, name, None), minimum, maximum)
    check_backend_name(args.backend, field="--backend")
    recipe = load_recipe(args.recipe, field="--recipe")
    overrides = parse_overrides(args.config_override)
    parse_dtype(args.dtype)
    parse_device(args.device)
    if spec is not None:
        load_recipe_for(recipe, spec.family, args.model)
        geometry = spec.geometry  # the sizes given, checked now (the family's defaults stand in for the rest)
        height = geometry.default_height if args.height is None else args.height
        width = geometry.default_width if args.width is None else args.width
        grid = check_size(geometry, args.model, height, width, args.frames, single_frame=spec.single_frame)
        video = geometry.is_video and not spec.single_frame
        sized = args.height is not None and args.width is not None and (args.frames is not None or not video)
        if spec.config_file is None and sized:  # a tiny preset at a size given in full: what fits, checked now
            # (with a default filled in, run_bench / run_compare check it once the preset's defaults are known)
            check_tiny_size(args.model, grid, getattr(args, "batch", None) or 1, f"{height}x{width} pixels")
    check_outputs()
    model = load_model(args.model, random_weights=args.random_weights, device=args.device, dtype=args.dtype,
                       seed=args.seed, config_overrides=overrides, text_len=args.text_len)
    return ModelRun(
        recipe=recipe,
        model=model,
        height=model.default_height if args.height is None else args.height,
        width=model.default_width if args.width is None else args.width,
        frames=args.frames if args.frames is not None else model.default_frames,
        steps=args.steps or model.default_steps,
        sources=value_sources(args, model),
    )


def value_sources(args: argparse.Namespace, model: Any) -> dict[str, str]:
    """Where the run's height, width, frames and steps come from: the flag, else the model's default
    (``LoadedModel.default_sources``: a pipeline folder's own config or its family's default), else
    the tiny preset's or the family's default."""
    fallback = "the tiny preset's default" if model.source == "tiny preset" else f"the {model.family} family default"
    sources = {}
    for key in ("height", "width", "frames", "steps"):
        given = getattr(args, key, None) is not None
        sources[key] = "flag" if given else model.default_sources.get(key, fallback)
    return sources
