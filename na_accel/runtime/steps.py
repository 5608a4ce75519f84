"""The denoising step of a patched pipeline, read from its scheduler (for ``recipe.dense_steps`` and
``recipe.dense_final_steps``)."""

from __future__ import annotations

import weakref
from dataclasses import dataclass
from typing import Any

from ..errors import RecipeError
from ..recipe.model import Recipe


@dataclass(frozen=True)
class StepPosition:
    """Where one transformer call sits in its denoising schedule."""

    index: int  # 0-based denoising step
    total: int | None  # steps in the schedule (len(scheduler.timesteps)); None when unknown


def step_reader(pipeline: Any, recipe: Recipe, attribute: str) -> "SchedulerStepReader | None":
    """Reads the denoising step from ``pipeline.scheduler.step_index`` (None in step 0 -> 0) and the
    schedule's length from ``len(scheduler.timesteps)``.

    Counting forward calls would break with classifier-free guidance (two calls per step).
    """
    field, value = next(((f, v) for f, v in (("dense_steps", recipe.dense_steps),
                                             ("dense_final_steps", recipe.dense_final_steps)) if v), (None, 0))
    if pipeline is None:
        if field:
            raise RecipeError(
                f"recipe.{field}: {value} needs the denoising step, which na_accel "
                f"reads from a pipeline's scheduler; patch the pipeline instead of the bare "
                f"{attribute}, or set {field} to 0"
            )
        return None
    scheduler = getattr(pipeline, "scheduler", None)
    if field and not _has_step_index(scheduler):
        raise RecipeError(
            f"recipe.{field}: {value} needs scheduler.step_index, which "
            f"{type(scheduler).__name__} does not have; set {field} to 0"
        )
    return SchedulerStepReader(pipeline)


class SchedulerStepReader:
    """Reads where a call sits in ``pipeline``'s schedule; ``None`` once the pipeline is gone.

    It holds the pipeline weakly (the pipeline holds the transformer). Copies follow the pipeline
    they belong to: a deep copy of the pipeline reads the copy's scheduler, a deep copy of the
    transformer alone keeps reading the pipeline it was patched in, and a pickled one (``torch.save``)
    has no pipeline, so it reads no step.
    """

    def __init__(self, pipeline: Any) -> None:
        self._pipeline = weakref.ref(pipeline) if pipeline is not None else None

    @property
    def pipeline(self) -> Any:
        return self._pipeline() if self._pipeline is not None else None

    def __call__(self) -> StepPosition | None:
        pipe = self.pipeline
        step = denoising_step(pipe) if pipe is not None else None
        return None if step is None else StepPosition(step, schedule_length(pipe))

    def __deepcopy__(self, memo: dict) -> "SchedulerStepReader":
        pipe = self.pipeline
        return SchedulerStepReader(memo.get(id(pipe), pipe) if pipe is not None else None)

    def __reduce__(self) -> tuple:
        return SchedulerStepReader, (None,)


def denoising_step(pipeline: Any) -> int | None:
    """The pipeline's current denoising step: ``scheduler.step_index`` (None during step 0, so 0),
    or None when its scheduler has no step index."""
    scheduler = getattr(pipeline, "scheduler", None)
    if not _has_step_index(scheduler):
        return None
    step = scheduler.step_index
    return 0 if step is None else int(step)


def schedule_length(pipeline: Any) -> int | None:
    """Denoising steps in the pipeline's current schedule (``len(scheduler.timesteps)``), or None.

    Second-order schedulers (Heun, DPM2) list each step twice: their last steps are counted in
    scheduler steps, as ``step_index`` counts them."""
    timesteps = getattr(getattr(pipeline, "scheduler", None), "timesteps", None)
    try:
        return len(timesteps) if timesteps is not None else None
    except TypeError:
        return None


def _has_step_index(scheduler: Any) -> bool:
    return scheduler is not None and "step_index" in dir(type(scheduler))
