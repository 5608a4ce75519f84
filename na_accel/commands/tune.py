"""``na-accel tune``'s work on a loaded model: tune, write the recipe (and its measurements), show
``estimate``'s view of it, optionally ``compare`` it end to end on held-back prompts and write an
HTML report with a picture of every layer's window and errors."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..families.registry import family_spec
from ..kernels.tiles import DEFAULT_TILE_BACKEND, TILE_BACKENDS
from ..models.loaded_models import LoadedModel, validate_size
from ..outputs.json_files import write_json
from ..outputs.output_paths import write_output
from ..tuning import TuneResult, tune
from .bench import load_recipe_for


@dataclass
class TuneSettings:
    max_error: float
    height: int
    width: int
    frames: int | None
    steps: int
    seed: int = 0
    backend: str = "auto"
    max_query_rows: int | None = 1024
    progress: bool = True


def measurements_path(output: Path) -> Path:
    """Where the measurements go: next to the recipe (``tuned.yaml`` -> ``tuned.tune.json``)."""
    return output.with_name(output.stem + ".tune.json")


def run_tune(model: LoadedModel, recipe: Any, settings: TuneSettings, prompts: list[str], output: Path, *,
             compare_prompts: list[str] | None = None, compare_dir: Path | None = None,
             report: Path | None = None, run_header: dict[str, Any] | None = None) -> dict[str, Any]:
    """Tune ``recipe`` on ``model``; write the recipe to ``output`` and the measurements (after
    ``run_header``: device, versions, arguments) next to it."""
    validate_size(model, settings.height, settings.width, settings.frames)
    recipe = load_recipe_for(recipe, model.family, model.name)

    def generate(prompt: str) -> Any:
        return model.generate(prompt=prompt, seed=settings.seed, height=settings.height, width=settings.width,
                              frames=settings.frames, steps=settings.steps, batch=1)

    result = tune(model.pipe, recipe, max_error=settings.max_error, prompts=prompts, generate=generate,
                  height=settings.height, width=settings.width, frames=settings.frames if model.is_video else None,
                  steps=settings.steps, seed=settings.seed, backend=settings.backend,
                  max_query_rows=settings.max_query_rows, model_name=model.name, progress=settings.progress)
    measured = {**(run_header or {}), **result.to_dict(), "max_error": settings.max_error}
    json_path = measurements_path(output)
    write_output("--output", output, lambda: (result.write(output), write_json(json_path, measured)),
                 result=measured)
    out: dict[str, Any] = {"recipe_file": str(output), "measurements_file": str(json_path), **measured,
                           "estimate": _estimate_text(result, model, settings)}
    if compare_prompts:
        out["compare"] = measured["compare"] = _compare(model, result, settings, compare_prompts, compare_dir)
        write_output("--output", json_path, lambda: write_json(json_path, measured), result=measured)
    if report is not None:
        from ..outputs.tune_report import write_tune_report

        header = {"model": f"{model.name} ({model.source})", "base recipe": recipe.name or "(inline)",
                  "size": _size(settings, model), "steps": settings.steps, "seed": settings.seed,
                  "prompts": len(prompts)}
        write_output("--report", report, lambda: write_tune_report(
            report, measured, title=f"na-accel tune: {model.name}, {result.recipe.name}", header=header,
            compare=out.get("compare")), result=out)
        out["report"] = str(report)
    return out


def _size(settings: TuneSettings, model: LoadedModel) -> str:
    return f"{settings.height}x{settings.width}" + (f"x{settings.frames} frames" if model.is_video else "")


def _estimate_text(result: TuneResult, model: LoadedModel, settings: TuneSettings) -> str:
    """``estimate``'s table of the tuned recipe at the size it was tuned for (the tiles it was tuned on)."""
    from .estimate import estimate_recipe, format_estimate

    backend = result.tile_backend if result.tile_backend in TILE_BACKENDS else DEFAULT_TILE_BACKEND
    height, width, frames = family_size(model, settings.height, settings.width,
                                        settings.frames if model.is_video else None)
    estimate = estimate_recipe(result.recipe, model=model.family, height=height, width=width,
                               frames=frames if model.is_video else (1 if model.single_frame else None),
                               backend=backend,
                               steps=settings.steps)
    return format_estimate(estimate)


def family_size(model: LoadedModel, height: int, width: int, frames: int | None) -> tuple[int, int, int | None]:
    """The size in pixels (and frames) at which the family's full-size model has the token grid ``model``
    has at height x width (x frames): the same where the model's VAE compresses as the family's,
    else scaled (tiny-flux-shapes' 2x VAE: 4 pixels per token, FLUX.1's 16)."""
    own, family = model.geometry, family_spec(model.family).geometry
    height = height // own.pixels_per_token * family.pixels_per_token
    width = width // own.pixels_per_token * family.pixels_per_token
    if frames is not None and own.frames_per_token and family.frames_per_token:
        frames = (frames - 1) // own.frames_per_token * family.frames_per_token + 1
    return height, width, frames


def _compare(model: LoadedModel, result: TuneResult, settings: TuneSettings, prompts: list[str],
             out_dir: Path | None) -> dict[str, Any]:
    from .compare import CompareSettings, run_compare

    compare_settings = CompareSettings(height=settings.height, width=settings.width, frames=settings.frames,
                                       steps=settings.steps, seed=settings.seed, progress=settings.progress)
    compared = run_compare(model, result.recipe, compare_settings, prompts, out_dir, backend=settings.backend)
    return {"prompts": prompts, "averages": compared["averages"], "outputs": compared["outputs"],
            "output_dir": compared["output_dir"]}


__all__ = ["TuneSettings", "measurements_path", "run_tune"]
