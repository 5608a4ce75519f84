"""The denoising step of a patched pipeline, read from its scheduler (for ``recipe.dense_steps``)."""

from __future__ import annotations

import weakref
from typing import Any, Callable

from ..errors import RecipeError
from ..recipe.model import Recipe


def step_reader(pipeline: Any, recipe: Recipe, attribute: str) -> Callable[[], int | None] | None:
    """Reads the denoising step from ``pipeline.scheduler.step_index`` (None in step 0 -> 0).

    Counting forward calls would break with classifier-free guidance (two calls per step).
    """
    if pipeline is None:
        if recipe.dense_steps:
            raise RecipeError(
                f"recipe.dense_steps: {recipe.dense_steps} needs the denoising step, which na_accel "
                f"reads from a pipeline's scheduler; patch the pipeline instead of the bare "
                f"{attribute}, or set dense_steps to 0"
            )
        return None
    scheduler = getattr(pipeline, "scheduler", None)
    if recipe.dense_steps and not _has_step_index(scheduler):
        raise RecipeError(
            f"recipe.dense_steps: {recipe.dense_steps} needs scheduler.step_index, which "
            f"{type(scheduler).__name__} does not have; set dense_steps to 0"
        )
    pipeline_ref = weakref.ref(pipeline)

    def read_step() -> int | None:
        pipe = pipeline_ref()
        return denoising_step(pipe) if pipe is not None else None

    return read_step


def denoising_step(pipeline: Any) -> int | None:
    """The pipeline's current denoising step: ``scheduler.step_index`` (None during step 0, so 0),
    or None when its scheduler has no step index."""
    scheduler = getattr(pipeline, "scheduler", None)
    if not _has_step_index(scheduler):
        return None
    step = scheduler.step_index
    return 0 if step is None else int(step)


def _has_step_index(scheduler: Any) -> bool:
    return scheduler is not None and "step_index" in dir(type(scheduler))
