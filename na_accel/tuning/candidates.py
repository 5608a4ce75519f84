"""The windows a tune tries on a layer: tile-aligned, ordered by the speed work's cost model.

Per axis of length > 1, kernels at a ladder of fractions of the axis (``FRACTIONS``) with the
stride of the backend's query tile, snapped to its tiles (``kernels.snapping``: perfectly
block-sparse where the axis allows, tile-aligned otherwise); every combination of the axes'
options, plus the base recipe's own window as it runs there. Windows covering the grid are dense
attention under another name and are left out; so is any the cost model says costs dense time or
more. When there are more than ``max_candidates``, an even spread in cost order is kept (the
cheapest and the dearest always).

The cost of a window is the estimated time of the layer's whole call (text rows included) over
dense attention's: the device's cost profile where one exists (``speed.model.estimate_call``),
else the FLOPs the backend's tiles visit over dense FLOPs (``speed.problem.sparse_work``).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, replace
from typing import Sequence

from ..kernels.snapping import snap_window
from ..kernels.tiles import TileShape
from ..recipe.scaling import SNAP_AUTO, SnapContext, SnapSpec, snap_tiles
from ..speed.model import estimate_call
from ..speed.problem import AttentionProblem, sparse_work
from ..speed.profiles import CostProfile
from ..windows import ResolvedWindow, WindowSpec, effective_axes

FRACTIONS = (1 / 8, 1 / 6, 1 / 4, 1 / 3, 1 / 2, 2 / 3, 3 / 4)
MAX_CANDIDATES = 24


@dataclass(frozen=True)
class Candidate:
    window: ResolvedWindow  # on the generated image's grid
    cost: float  # estimated time (or work) of the layer's call over dense attention's
    base: bool = False  # the base recipe's own window

    @property
    def spec(self) -> WindowSpec:
        """The window as a recipe states it: an axis of one token gets kernel 2 (recipes need >= 2),
        which resolves to the whole axis, as it ran."""
        w = self.window
        kernel = tuple(2 if n == 1 else k for n, k in zip(w.grid, w.kernel_size))
        return WindowSpec(kernel, w.stride, w.dilation, w.is_causal)

    @property
    def key(self) -> tuple:
        return _key(self.window)


@dataclass(frozen=True)
class CallShape:
    """What the cost of a window depends on besides the window."""

    grids: tuple[tuple[int, ...], ...]  # the generated image's, then reference images'
    text_len: int
    heads: int
    head_dim: int
    element_size: int
    backend: str
    snap: SnapContext  # the running backend's tiles
    profile: CostProfile | None  # the device's cost profile, if any


def window_cost(window: ResolvedWindow, shape: CallShape) -> float:
    """Estimated time (profile) or work (FLOPs) of one call with ``window`` over dense attention's."""
    extra = tuple(WindowSpec(window.kernel_size, window.stride, window.dilation, window.is_causal).resolve(g)
                  for g in shape.grids[1:])
    problem = AttentionProblem((window, *extra), shape.text_len, 1, shape.heads, shape.head_dim, shape.element_size)
    if shape.profile is not None:
        estimate = estimate_call(problem, shape.backend, shape.snap.backend, shape.profile)
        if estimate is not None:
            return estimate.sparse_s / estimate.dense_s
    work = sparse_work(problem, shape.snap.backend)
    return (work.full_flops + work.partial_flops + work.text_query_flops) / problem.dense_flops()


def candidate_windows(shape: CallShape, base: ResolvedWindow | None, *,
                      max_candidates: int = MAX_CANDIDATES) -> list[Candidate]:
    """The candidates for a layer at ``shape``, cheapest first (see the module docstring)."""
    grid = shape.grids[0]
    causal = base.is_causal if base is not None else (False,) * len(grid)
    tiles = snap_tiles(SnapSpec(SNAP_AUTO), grid, shape.snap)
    per_axis = [_axis_options(grid, axis) for axis in range(len(grid))]
    windows = {}
    for kernels in itertools.product(*per_axis):
        window = _aligned(grid, kernels, causal, tiles)
        windows.setdefault(_key(window), (window, False))
    if base is not None:
        windows[_key(base)] = (base, True)
    found = [Candidate(w, window_cost(w, shape), is_base) for w, is_base in windows.values() if not w.covers_grid]
    found = sorted((c for c in found if c.cost < 1.0), key=lambda c: (c.cost, c.key))
    return _spread(found, max_candidates)


def _axis_options(grid: tuple[int, ...], axis: int) -> list[int]:
    n = grid[axis]
    if n == 1:
        return [1]
    return sorted({max(2, min(n, round(f * n))) for f in FRACTIONS} | {n})


def _aligned(grid: tuple[int, ...], kernels: Sequence[int], causal: Sequence[bool],
             tiles: TileShape | None) -> ResolvedWindow:
    """The window of these kernels with the query tile's stride, snapped to ``tiles``."""
    axes = effective_axes(grid)
    stride = [1] * len(grid)
    if tiles is not None:
        for i, axis in enumerate(axes):
            stride[axis] = max(1, min(kernels[axis], tiles.q_tile[i]))
    window = WindowSpec(tuple(kernels), tuple(stride), (1,) * len(grid), tuple(causal)).resolve(grid)
    if tiles is None:
        return window
    snapped = snap_window(window, tiles)
    return replace(snapped, requested=None)


def _key(window: ResolvedWindow) -> tuple:
    return (window.kernel_size, window.stride, window.dilation, window.is_causal)


def _spread(candidates: list[Candidate], limit: int) -> list[Candidate]:
    """At most ``limit`` candidates, evenly spaced in cost order (the first and last kept), the base kept."""
    if len(candidates) <= limit:
        return candidates
    picked = {round(i * (len(candidates) - 1) / (limit - 1)) for i in range(limit)}
    return [c for i, c in enumerate(candidates) if i in picked or c.base]


__all__ = ["Candidate", "CallShape", "FRACTIONS", "MAX_CANDIDATES", "candidate_windows", "window_cost"]
