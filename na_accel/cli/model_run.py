"""What bench and compare share: every argument checked cheaply before a model is built, then the
model; and the header (device, versions, model, arguments) their JSON starts with."""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from .arguments import parse_overrides

# The integer options and their smallest allowed value (absent ones, e.g. compare's --batch, are skipped).
COUNT_MINIMUMS = {"steps": 1, "batch": 1, "repeats": 1, "warmup": 0, "text_len": 1, "frames": 1}


@dataclass
class ModelRun:
    """A built model with the recipe and the size it runs at (the model's defaults filled in)."""

    recipe: Any
    model: Any
    height: int
    width: int
    frames: int | None
    steps: int

    def header(self, args: argparse.Namespace) -> dict[str, Any]:
        """Device, versions, model and arguments (the sizes as run) for the command's JSON."""
        import torch

        from ..tools.bench import device_info, versions

        device = next(self.model.transformer.parameters()).device
        arguments = {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items() if k != "command"}
        arguments.update(height=self.height, width=self.width, frames=self.frames, steps=self.steps)
        return {"device": device_info(torch.device(device)), "versions": versions(), "model": self.model.info(),
                "arguments": arguments}


def prepare_model_run(args: argparse.Namespace, check_outputs: Callable[[], Any]) -> ModelRun:
    """Validate everything cheap first (counts, backend, recipe, model name, sizes, output paths via
    ``check_outputs``), then build the model."""
    from ..kernels import check_backend_name
    from ..recipe.parse import load_recipe
    from ..tools.bench import check_recipe_family
    from ..tools.devices import parse_device, parse_dtype
    from ..tools.sizes import check_count, check_size
    from ..tools.zoo import MODELS, load_model  # looked up at run time: tests replace load_model

    for name, minimum in COUNT_MINIMUMS.items():
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
    return ModelRun(
        recipe=recipe,
        model=model,
        height=model.default_height if args.height is None else args.height,
        width=model.default_width if args.width is None else args.width,
        frames=args.frames if args.frames is not None else model.default_frames,
        steps=args.steps or model.default_steps,
    )
