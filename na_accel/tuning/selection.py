"""From measured errors to a choice: per layer the cheapest window within the budget, and the dense steps.

A layer's error at a step is ``sqrt(sum ||O_w - O_dense||^2 / sum ||O_dense||^2)`` over every
call of that step (prompts, batch rows, the CFG branches: ``measure``). For every split of the
schedule into ``dense_steps`` first and ``dense_final_steps`` last dense steps (each at most half
the schedule), each layer takes
its cheapest candidate whose error stays within the budget at every measured step in between
(dense where none does); the split whose total estimated attention cost (dense = 1 per layer and
step) is lowest wins, ties to fewer dense steps. A looser budget can therefore never cost more:
every choice it had before is still allowed.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Mapping, Sequence

import numpy as np

from .candidates import Candidate


@dataclass(frozen=True)
class LayerErrors:
    """One layer's measurements: ``errors[c][s]`` of candidate c at step s (NaN: not measured)."""

    name: str
    candidates: tuple[Candidate, ...]
    errors: np.ndarray  # [candidates, steps]


@dataclass(frozen=True)
class LayerChoice:
    name: str
    candidate: Candidate | None  # None: dense
    error: float  # the largest error of the choice over the sparse steps (0 when dense)
    step_errors: tuple[float | None, ...]  # the choice's error at every step (None: dense or not measured)

    @property
    def cost(self) -> float:
        return 1.0 if self.candidate is None else self.candidate.cost


@dataclass(frozen=True)
class Selection:
    dense_steps: int
    dense_final_steps: int
    steps: int
    layers: tuple[LayerChoice, ...]

    @property
    def relative_cost(self) -> float:
        """Estimated attention time of the tuned schedule over dense attention's (measured layers)."""
        if not self.layers:
            return 1.0
        sparse_steps = self.steps - self.dense_steps - self.dense_final_steps
        dense = len(self.layers) * self.steps
        tuned = len(self.layers) * (self.steps - sparse_steps) + sparse_steps * sum(c.cost for c in self.layers)
        return tuned / dense


def step_errors(sums: Mapping[int, tuple[Sequence[float], float]], n_candidates: int, steps: int) -> np.ndarray:
    """[candidates, steps] relative errors from per-step (squared errors, squared dense norm) sums."""
    errors = np.full((n_candidates, steps), np.nan)
    for step, (squared_errors, squared_dense) in sums.items():
        if 0 <= step < steps:
            errors[:, step] = [math.sqrt(e / squared_dense) if squared_dense > 0 else 0.0 for e in squared_errors]
    return errors


def select(layers: Sequence[LayerErrors], steps: int, max_error: float) -> Selection:
    """The cheapest schedule within ``max_error`` (see the module docstring)."""
    best = None
    half = steps // 2  # a schedule more than half dense at either end is not worth a recipe
    for dense_steps in range(half + 1):
        for dense_final in range(min(half, steps - dense_steps) + 1):
            sparse_steps = steps - dense_steps - dense_final
            picks = [_cheapest(layer, dense_steps, steps - dense_final, max_error) for layer in layers]
            cost = len(layers) * (steps - sparse_steps) + sparse_steps * sum(
                1.0 if p is None else layer.candidates[p].cost for layer, p in zip(layers, picks))
            rank = (round(cost, 12), dense_steps + dense_final, dense_steps)
            if best is None or rank < best[0]:
                best = (rank, dense_steps, dense_final, picks)
    _, dense_steps, dense_final, picks = best
    choices = tuple(_choice(layer, p, dense_steps, steps - dense_final) for layer, p in zip(layers, picks))
    return Selection(dense_steps, dense_final, steps, choices)


def _cheapest(layer: LayerErrors, start: int, stop: int, max_error: float) -> int | None:
    """The index of the cheapest candidate within the budget at every measured step of [start, stop)."""
    if start >= stop or not layer.candidates:
        return None  # every step dense: the window never runs
    window = layer.errors[:, start:stop]
    measured = ~np.isnan(window)
    worst = np.where(measured, window, -np.inf).max(axis=1)
    fits = [i for i in range(len(layer.candidates)) if worst[i] <= max_error and measured[i].any()]
    if not fits:
        return None
    return min(fits, key=lambda i: (layer.candidates[i].cost, worst[i], i))


def _choice(layer: LayerErrors, pick: int | None, start: int, stop: int) -> LayerChoice:
    if pick is None:
        return LayerChoice(layer.name, None, 0.0, (None,) * layer.errors.shape[1])
    row = layer.errors[pick]
    per_step = tuple(None if (s < start or s >= stop or np.isnan(e)) else float(e) for s, e in enumerate(row))
    return LayerChoice(layer.name, layer.candidates[pick], max(e for e in per_step if e is not None), per_step)


__all__ = ["LayerChoice", "LayerErrors", "Selection", "select", "step_errors"]
