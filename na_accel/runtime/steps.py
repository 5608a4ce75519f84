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


def step_reader(pipeline: Any, recipe: Recipe, attribute: str, scheduler: Any = None) -> "SchedulerStepReader | None":
    """Reads the denoising step from ``scheduler.step_index`` (None in step 0 -> 0) and the schedule's
    length from ``len(scheduler.timesteps)``: the ``scheduler`` given (a bare transformer in the user's
    own loop: the scheduler that loop steps), else ``pipeline.scheduler`` (classic or modular).

    Counting forward calls would break with classifier-free guidance (two calls per step).
    """
    field, value = next(((f, v) for f, v in (("dense_steps", recipe.dense_steps),
                                             ("dense_final_steps", recipe.dense_final_steps)) if v), (None, 0))
    if pipeline is None and scheduler is None:
        if field:
            raise RecipeError(
                f"recipe.{field}: {value} needs the denoising step, which na_accel "
                f"reads from a scheduler; patch the pipeline instead of the bare {attribute}, pass "
                f"na_accel.patch(..., scheduler=<the scheduler your loop steps>), or set {field} to 0"
            )
        return None
    source = scheduler if scheduler is not None else getattr(pipeline, "scheduler", None)
    if field and not _has_step_index(source):
        raise RecipeError(
            f"recipe.{field}: {value} needs scheduler.step_index, which "
            f"{type(source).__name__} does not have; set {field} to 0"
        )
    return SchedulerStepReader(scheduler=scheduler) if scheduler is not None else SchedulerStepReader(pipeline)


class SchedulerStepReader:
    """Reads where a call sits in ``pipeline``'s schedule (or in the ``scheduler`` given); ``None``
    once the pipeline is gone.

    It holds the pipeline weakly (the pipeline holds the transformer), a scheduler given directly
    strongly (it holds no model). Copies follow the pipeline they belong to: a deep copy of the
    pipeline reads the copy's scheduler, a deep copy of the transformer alone keeps reading the
    pipeline it was patched in, and a pickled one (``torch.save``) has no pipeline, so it reads no step.
    """

    def __init__(self, pipeline: Any = None, *, scheduler: Any = None) -> None:
        self._pipeline = weakref.ref(pipeline) if pipeline is not None else None
        self._scheduler = scheduler

    @property
    def pipeline(self) -> Any:
        return self._pipeline() if self._pipeline is not None else None

    def __call__(self) -> StepPosition | None:
        if self._scheduler is not None:
            step = scheduler_step(self._scheduler)
            return None if step is None else StepPosition(step, _length(self._scheduler))
        pipe = self.pipeline
        step = denoising_step(pipe) if pipe is not None else None
        return None if step is None else StepPosition(step, schedule_length(pipe))

    def __deepcopy__(self, memo: dict) -> "SchedulerStepReader":
        if self._scheduler is not None:
            return SchedulerStepReader(scheduler=memo.get(id(self._scheduler), self._scheduler))
        pipe = self.pipeline
        return SchedulerStepReader(memo.get(id(pipe), pipe) if pipe is not None else None)

    def __reduce__(self) -> tuple:
        return SchedulerStepReader, (None,)


def denoising_step(pipeline: Any) -> int | None:
    """The pipeline's current denoising step: ``scheduler.step_index`` (None during step 0, so 0),
    or None when its scheduler has no step index."""
    return scheduler_step(getattr(pipeline, "scheduler", None))


def scheduler_step(scheduler: Any) -> int | None:
    """``scheduler.step_index`` (None during step 0, so 0), or None when it has no step index."""
    if not _has_step_index(scheduler):
        return None
    step = scheduler.step_index
    return 0 if step is None else int(step)


def schedule_length(pipeline: Any) -> int | None:
    """Denoising steps in the pipeline's current schedule (``len(scheduler.timesteps)``), or None.

    Second-order schedulers (Heun, DPM2) list each step twice: their last steps are counted in
    scheduler steps, as ``step_index`` counts them."""
    return _length(getattr(pipeline, "scheduler", None))


def _length(scheduler: Any) -> int | None:
    timesteps = getattr(scheduler, "timesteps", None)
    try:
        return len(timesteps) if timesteps is not None else None
    except TypeError:
        return None


def _has_step_index(scheduler: Any) -> bool:
    # dir(), not hasattr: diffusers' ConfigMixin.__getattr__ warns on unknown names; dir() also sees
    # the instance attribute of a plain object standing in for a scheduler in the user's own loop
    return scheduler is not None and "step_index" in dir(scheduler)
