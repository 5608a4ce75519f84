"""Where a ComfyUI model call sits in its sampling schedule, and whether it runs dense.

ComfyUI's samplers put the current noise level (``transformer_options["sigmas"]``) and the whole
schedule (``"sample_sigmas"``, ending in its final sigma) into every model call's options. Two
rules decide the dense steps, and either makes a call dense:

* the recipe's ``dense_steps`` / ``dense_final_steps``, in sampler steps: the step is the last
  point of ``sample_sigmas`` at or above the current sigma (a sampler's extra evaluations between
  two points count with the step they start from);
* the node's ``start_percent`` / ``end_percent``, ComfyUI's own terms (as ControlNet's): GNA runs
  while the current sigma lies between ``model_sampling.percent_to_sigma(start_percent)`` and
  ``percent_to_sigma(end_percent)``; before it and after it the model attends dense.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch

from ..errors import ArgumentError
from ..recipe.model import Recipe
from ..runtime.steps import StepPosition


def check_percents(start_percent: Any, end_percent: Any) -> tuple[float, float]:
    """The node's percents as floats, or an ArgumentError naming the field, the value and what is allowed."""
    values = []
    for field, value in (("start_percent", start_percent), ("end_percent", end_percent)):
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0.0 <= value <= 1.0:
            raise ArgumentError(f"{field}: {value!r} is not valid; allowed: a number in [0, 1] (a fraction of the "
                                "sampling schedule, as ComfyUI's start / end percent)")
        values.append(float(value))
    if values[0] > values[1]:
        raise ArgumentError(f"start_percent: {values[0]} is after end_percent: {values[1]}; allowed: start_percent <= "
                            "end_percent (GNA runs between them)")
    return values[0], values[1]


@dataclass(frozen=True)
class DenseSchedule:
    """The dense steps of one patched ComfyUI model."""

    recipe: Recipe
    start_percent: float = 0.0
    end_percent: float = 1.0
    sigma_start: float = float("inf")  # percent_to_sigma(start_percent): GNA from here (sigmas fall)
    sigma_end: float = 0.0  # percent_to_sigma(end_percent): until here

    @classmethod
    def for_model(cls, recipe: Recipe, model_sampling: Any, start_percent: float, end_percent: float) -> "DenseSchedule":
        sigma_start = float(model_sampling.percent_to_sigma(start_percent)) if start_percent > 0 else float("inf")
        sigma_end = float(model_sampling.percent_to_sigma(end_percent)) if end_percent < 1 else 0.0
        return cls(recipe, start_percent, end_percent, sigma_start, sigma_end)

    def decide(self, transformer_options: dict) -> tuple[StepPosition | None, str | None]:
        """(the call's step, or None when unknown; why it runs dense, or None) from its options."""
        sigma, schedule = _current_sigma(transformer_options), transformer_options.get("sample_sigmas")
        step = _step(sigma, schedule) if sigma is not None else None
        if sigma is not None:
            if sigma > self.sigma_start * (1 + 1e-6):
                return step, (f"dense step (sigma {sigma:.4g} is before start_percent={self.start_percent:g}, "
                              f"sigma {self.sigma_start:.4g})")
            if sigma < self.sigma_end * (1 - 1e-6):
                return step, (f"dense step (sigma {sigma:.4g} is after end_percent={self.end_percent:g}, "
                              f"sigma {self.sigma_end:.4g})")
        elif self.start_percent > 0 or self.end_percent < 1:
            return None, ("noise level unknown: the model was called outside a ComfyUI sampler (no sigmas in "
                          "transformer_options), so start_percent / end_percent can't be told")
        if step is not None:
            return step, self.recipe.dense_step_reason(step.index, step.total)
        if self.recipe.dense_steps or self.recipe.dense_final_steps:
            return None, ("denoising step unknown: no sample_sigmas in transformer_options (recipe dense_steps / "
                          "dense_final_steps need the sampler's schedule)")
        return None, None


def _current_sigma(transformer_options: dict) -> float | None:
    sigmas = transformer_options.get("sigmas")
    if not isinstance(sigmas, torch.Tensor) or sigmas.numel() == 0:
        return None
    return float(sigmas.reshape(-1)[0])


def _step(sigma: float, schedule: Any) -> StepPosition | None:
    """The sampler step of ``sigma`` in ``schedule`` (its points, the last one the end), or None."""
    if not isinstance(schedule, torch.Tensor) or schedule.ndim != 1 or len(schedule) < 2:
        return None
    points = schedule[:-1].detach().float().cpu()
    at_or_above = int((points >= sigma * (1 - 1e-5)).sum())
    return StepPosition(min(max(at_or_above - 1, 0), len(points) - 1), len(points))


__all__ = ["DenseSchedule", "check_percents"]
