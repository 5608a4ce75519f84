"""``na_accel.tune``: a recipe tuned on the user's own pipeline, prompts and size.

    result = na_accel.tune(pipe, "wan_gna", max_error=0.05, prompts=[...], height=480, width=832, frames=81)
    result.write("wan_tuned.yaml")           # a normal recipe: na_accel.patch(pipe, "wan_tuned.yaml")

The pipeline runs stock (dense attention, the same outputs) once per prompt; inside every call of
every layer the base recipe runs sparse, the candidate windows' errors are measured on that call's
q / k / v (``recorder``, ``measure``); then each layer gets the cheapest window within
``max_error`` and the dense steps are chosen where the errors are high (``selection``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Callable, Sequence

from ..errors import ArgumentError
from ..patching import patch, patches_of, unpatch
from ..recipe.model import Recipe
from ..recipe.parse import load_recipe
from ..windows import format_axes
from .candidates import MAX_CANDIDATES
from .recorder import Recorder
from .selection import LayerErrors, Selection, select, step_errors
from .tuned_recipe import ERROR_NORM, SPEEDUP_DEFINITION, SPEEDUP_NAME, recipe_yaml, tuned_recipe

MAX_QUERY_ROWS = 1024  # sampled visual query rows per call (per batch row) on larger grids


@dataclass
class TuneResult:
    """A tune's recipe and everything that chose it."""

    recipe: Recipe
    selection: Selection
    layers: tuple[LayerErrors, ...]
    grid: tuple[int, ...] | None
    query_rows: str  # how many query rows were measured per call
    unmeasured_layers: dict[str, str] = field(default_factory=dict)  # base-sparse layers no call measured: why
    unmeasured_calls: dict[str, int] = field(default_factory=dict)
    tile_backend: str | None = None  # the tile table the candidates were aligned to (None: untiled)

    def yaml(self) -> str:
        info = self.recipe.metadata["metadata"]["tune"]
        header = [f"Tuned by na-accel tune: {self.recipe.metadata['description']}.",
                  f"Budget: {ERROR_NORM} <= {info['max_error']:g}.",
                  f"{SPEEDUP_NAME}: {SPEEDUP_DEFINITION}.",
                  "Check it end to end with: na-accel compare MODEL --recipe THIS_FILE"]
        return recipe_yaml(self.recipe, header)

    def write(self, path: str | Path) -> Path:
        path = Path(path)
        path.write_text(self.yaml())
        return path

    def to_dict(self) -> dict[str, Any]:
        """Everything measured, for JSON and the HTML report."""
        choices = {c.name: c for c in self.selection.layers}
        layers = []
        for layer in self.layers:
            choice = choices[layer.name]
            chosen = None if choice.candidate is None else layer.candidates.index(choice.candidate)
            layers.append({
                "name": layer.name,
                "candidates": [{"window": c.window.window_text, "kernel_size": list(c.window.kernel_size),
                                "stride": list(c.window.stride), "cost": c.cost, "base": c.base}
                               for c in layer.candidates],
                "errors": [[None if math.isnan(e) else float(e) for e in row] for row in layer.errors],
                "chosen": chosen,
                "window": "dense" if choice.candidate is None else choice.candidate.window.window_text,
                "error": choice.error,
                "step_errors": list(choice.step_errors),
                "cost": choice.cost,
            })
        return {
            "recipe": self.recipe.to_dict(),
            "recipe_hash": self.recipe.hash,
            "token_grid": list(self.grid) if self.grid else None,
            "steps": self.selection.steps,
            "dense_steps": self.selection.dense_steps,
            "dense_final_steps": self.selection.dense_final_steps,
            "estimated_attention_cost": self.selection.relative_cost,
            "query_rows": self.query_rows,
            "tile_backend": self.tile_backend,
            "error_norm": ERROR_NORM,
            "layers": layers,
            "unmeasured_layers": dict(self.unmeasured_layers),
            "unmeasured_calls": dict(self.unmeasured_calls),
        }


def check_max_error(value: Any, field_name: str = "max_error") -> float:
    """A budget in [0, 1], or an ArgumentError naming the field and the value."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0.0 <= float(value) <= 1.0:
        raise ArgumentError(f"{field_name}: {value!r} is not a relative error; allowed: a number in [0, 1] "
                            "(e.g. 0.05 for 5%)")
    return float(value)


def tune(
    pipe: Any,
    recipe: Any,
    *,
    max_error: float,
    prompts: Sequence[str] = ("a photo of a cat",),
    generate: Callable[[str], Any] | None = None,
    height: int | None = None,
    width: int | None = None,
    frames: int | None = None,
    steps: int | None = None,
    seed: int = 0,
    backend: str = "auto",
    max_query_rows: int | None = MAX_QUERY_ROWS,
    max_candidates: int = MAX_CANDIDATES,
    model_name: str | None = None,
    name: str | None = None,
    progress: bool = True,
) -> TuneResult:
    """Tune ``recipe`` (the base: its family, its sparse layers, its speed gate) on ``pipe``.

    ``generate(prompt)`` runs the pipeline once (default: ``pipe(prompt=..., height, width,
    num_frames, num_inference_steps, generator=seed)`` with the sizes given). ``max_error``: the
    largest relative error a layer may have at any sparse step (``tuned_recipe.ERROR_NORM``).
    ``max_query_rows``: query rows measured per call where the grid has more (None: all).
    The pipeline is left as it was (unpatched, also on failure).
    """
    from tqdm.auto import tqdm

    max_error = check_max_error(max_error)
    if isinstance(prompts, str) or not prompts or not all(isinstance(p, str) for p in prompts):
        raise ArgumentError(f"prompts: expected a non-empty list of strings, got {prompts!r:.80}")
    base = load_recipe(recipe)
    measuring = replace(base, speed_gate="sparse", dense_steps=0, dense_final_steps=0)
    if generate is None:
        generate = _default_generate(pipe, height=height, width=width, frames=frames, steps=steps, seed=seed)
    recorder = Recorder(max_query_rows=max_query_rows, seed=seed, max_candidates=max_candidates)
    patch(pipe, measuring, backend=backend)
    try:
        patches = patches_of(pipe)
        layer_names, routes = [], {}
        for transformer_patch in patches:
            transformer_patch.routing.observer = recorder.observe
            for layer, route in transformer_patch.routes.items():
                routes.setdefault(layer, []).append(route)
            layer_names += [n for n in transformer_patch.plans if n not in layer_names]
        for prompt in tqdm(prompts, desc="tune: measuring", unit="prompt", disable=not progress):
            generate(prompt)
    finally:
        unpatch(pipe)
    unmeasured = {layer: "; ".join(sorted({str(o) for r in rs for o in r.counts})) or "never called"
                  for layer, rs in routes.items() if layer not in recorder.layers}
    total_steps = recorder.schedule_length or steps or 1 + max(
        (s for record in recorder.layers.values() for s in record.sums), default=0)
    layers = tuple(LayerErrors(r.name, r.candidates, step_errors(r.sums, len(r.candidates), total_steps))
                   for r in recorder.layers.values())
    selection = select(layers, total_steps, max_error)
    first = next(iter(recorder.layers.values()), None)
    grid = first.shape.grids[0] if first is not None else None
    rows = _rows_text(first)
    tuned_for = {k: v for k, v in (("height", height), ("width", width), ("frames", frames)) if v is not None}
    tuned_for.update(token_grid=list(grid) if grid else None, steps=total_steps)
    size = f"{height}x{width}" + (f"x{frames}" if frames else "") if height and width else (
        f"token grid {format_axes(grid)}" if grid else "an unknown size")
    info = {
        "model": model_name or type(pipe).__name__,
        "base_recipe": {"name": base.name or "(unnamed)", "hash": base.hash},
        "prompts": list(prompts), "seed": seed, "max_error": max_error, "steps": total_steps,
        "backend": backend, "query_rows": rows,
        "candidates_per_layer": max((len(r.candidates) for r in recorder.layers.values()), default=0),
        "unmeasured_layers": unmeasured,
    }
    result_recipe = tuned_recipe(base, layer_names, selection, info, tuned_for, size, name=name)
    return TuneResult(result_recipe, selection, layers, grid, rows, unmeasured, dict(recorder.unmeasured),
                      first.shape.snap.backend if first is not None else None)


def _rows_text(record) -> str:
    if record is None:
        return "none (no call measured)"
    n = math.prod(record.shape.grids[0])
    measured = int(record.rows.shape[0])
    if measured == n:
        return f"all {n} visual query rows of every call"
    return f"{measured} of {n} visual query rows per call (uniformly sampled, seeded; a full comparison costs too much)"


def _default_generate(pipe, *, height, width, frames, steps, seed) -> Callable[[str], Any]:
    import torch

    from ..pipeline_parts import latent_output

    def generate(prompt: str) -> Any:
        kwargs = {k: v for k, v in (("height", height), ("width", width), ("num_frames", frames),
                                    ("num_inference_steps", steps)) if v is not None}
        with torch.no_grad():
            return pipe(prompt=prompt, generator=torch.Generator().manual_seed(seed), **latent_output(pipe), **kwargs)
    return generate


__all__ = ["MAX_QUERY_ROWS", "TuneResult", "check_max_error", "tune"]
