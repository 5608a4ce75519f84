"""Resolution-aware windows: the recipe's ``scaling`` section, and the order a window is resolved in.

A recipe's optional ``scaling`` section::

    scaling:
      mode: relative            # absolute (default: the window as written) | relative
      tuned_grid: [256, 256]    # the grid the windows were tuned for (default: tuned_for.token_grid)
      overrides:                # complete windows for exact grids; used as written (not scaled, not snapped)
        - grid: [64, 64]
          kernel_size: [32, 32]
          stride: [16, 16]
      snap: auto                # opt-in: auto (the running backend's tiles) | a NATTEN backend name
                                # | {q_tile: [...], kv_tile: [...]}

Resolution order for one grid: exact-grid override, else the layer's window scaled (``relative``:
kernel and stride times grid / tuned_grid per axis, rounded, kernel >= 2, 1 <= stride <= kernel),
then clamped to the grid (as ``WindowSpec.resolve``), then, with ``snap``, snapped per axis to the
nearest perfectly block-sparse (or aligned) window for the tiles. The snapping rule and search are
``na_accel.kernels.snapping`` (``snap_window``); this module picks the tiles (``snap_tiles``).
Axes of length 1 are left alone (the attention core drops them; tiles are those of the remaining
rank).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Any, Sequence

from ..errors import ArgumentError, RecipeError
from ..kernels.snapping import snap_window
from ..windows import WindowSpec, effective_axes, format_axes

# Every per-axis number of a recipe (kernel_size, stride, dilation, grids, tiles) is at most this
# many tokens: 256x FLUX's 256-token axis at 4096 pixels, and small enough that relative scaling
# (kernel and stride times grid / tuned grid) stays exact in floats. Checked at load time, so an
# absurd window fails in load_recipe / patch, never mid-generation.
MAX_AXIS = 65_536
SCALING_KEYS = ("mode", "tuned_grid", "overrides", "snap")
SCALING_MODES = ("absolute", "relative")
SNAP_AUTO = "auto"


@dataclass(frozen=True)
class SnapSpec:
    source: str  # "auto", a NATTEN backend name, or "explicit"
    q_tile: tuple[int, ...] | None = None  # explicit tiles, per recipe axis
    kv_tile: tuple[int, ...] | None = None

    def to_dict(self) -> Any:
        if self.source == "explicit":
            return {"q_tile": list(self.q_tile), "kv_tile": list(self.kv_tile)}
        return self.source

    def describe(self) -> str:
        if self.source == "explicit":
            return f"explicit tiles q {format_axes(self.q_tile)} kv {format_axes(self.kv_tile)}"
        return "the running backend's tiles" if self.source == SNAP_AUTO else f"{self.source} tiles"


@dataclass(frozen=True)
class GridOverride:
    grid: tuple[int, ...]
    window: Any  # a WindowSpec, used as written for exactly this grid


@dataclass(frozen=True)
class ScalingSpec:
    mode: str = "absolute"
    tuned_grid: tuple[int, ...] | None = None
    overrides: tuple[GridOverride, ...] = ()
    snap: SnapSpec | None = None

    def canonical(self) -> "ScalingSpec | None":
        """This section as it acts: absolute mode reads no tuned_grid; one that changes nothing is None."""
        spec = replace(self, tuned_grid=None) if self.mode == "absolute" else self
        return None if spec == ScalingSpec() else spec

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"mode": self.mode}
        if self.tuned_grid is not None:
            out["tuned_grid"] = list(self.tuned_grid)
        out["overrides"] = [{"grid": list(o.grid), **o.window.to_dict()} for o in self.overrides]
        out["snap"] = self.snap.to_dict() if self.snap is not None else False
        return out

    def override_for(self, grid: tuple[int, ...]) -> GridOverride | None:
        for override in self.overrides:
            if override.grid == grid:
                return override
        return None


@dataclass(frozen=True)
class SnapContext:
    """What snapping needs to know about the kernel that runs.

    ``backend`` is the tile backend whose tiles ``snap: auto`` uses (None: unknown, no snapping
    for ``auto``); ``head_dim`` and ``dtype_bits`` pick the table where its tiles depend on them.
    """

    backend: str | None
    head_dim: int = 128
    dtype_bits: int = 16
    tiles: Any = None  # a TileShape the caller already picked for ``backend`` (used by ``auto``)


# --------------------------------------------------------------------------------------------
# Resolution
# --------------------------------------------------------------------------------------------


def resolve_window(window, grid: Sequence[int], scaling: ScalingSpec | None, context: SnapContext | None = None):
    """The ``ResolvedWindow`` for ``grid``: override / scaling, clamping, then snapping."""

    grid = tuple(int(n) for n in grid)
    if scaling is None:
        return window.resolve(grid)
    override = scaling.override_for(grid)
    if override is not None:
        return replace(override.window.resolve(grid), scaled=f"override for grid {format_axes(grid)}")
    scaled_note = None
    if scaling.mode == "relative" and len(grid) == len(scaling.tuned_grid) and grid != scaling.tuned_grid:
        kernel, stride = [], []
        for n, t, k, s in zip(grid, scaling.tuned_grid, window.kernel_size, window.stride):
            if n == t:
                kernel.append(k)
                stride.append(s)
                continue
            k2 = max(2, _round(k * n / t))
            kernel.append(k2)
            stride.append(min(max(1, _round(s * n / t)), k2))
        scaled_note = f"relative to tuned grid {format_axes(scaling.tuned_grid)}"
        window = WindowSpec(tuple(kernel), tuple(stride), window.dilation, window.is_causal)
    resolved = window.resolve(grid)
    if scaled_note:
        resolved = replace(resolved, scaled=scaled_note)
    if scaling.snap is None:
        return resolved
    tiles = snap_tiles(scaling.snap, grid, context)
    if tiles is None:
        return replace(resolved, snapped="not snapped: no tile shape known for this backend")
    return snap_window(resolved, tiles)


def check_snap_tiles(scaling: ScalingSpec | None, head_dim: int, grid_rank: int) -> None:
    """Raise RecipeError now if ``snap: <backend>`` has no tiles for this head_dim (any rank <= grid_rank)."""
    if scaling is None or scaling.snap is None or scaling.snap.source in (SNAP_AUTO, "explicit"):
        return
    for rank in range(1, grid_rank + 1):
        snap_tiles(scaling.snap, (2,) * rank, SnapContext(None, head_dim, 16))


def _round(x: float) -> int:
    return int(math.floor(x + 0.5))


def snap_tiles(snap: SnapSpec, grid: Sequence[int], context: SnapContext | None):
    """The TileShape (over the axes of length > 1) to snap to, or None when unknown."""
    from ..kernels.tiles import TileShape, default_tiles, tile_model

    axes = effective_axes(grid)
    if not axes:
        return None
    if snap.source == "explicit":
        return TileShape(tuple(snap.q_tile[a] for a in axes), tuple(snap.kv_tile[a] for a in axes),
                         "explicit", "recipe.scaling.snap")
    backend = snap.source if snap.source != SNAP_AUTO else (context.backend if context else None)
    if context is not None and context.tiles is not None and context.tiles.rank == len(axes) and (
        snap.source == SNAP_AUTO or context.tiles.backend == backend
    ):
        return context.tiles
    if backend is None:
        return None
    head_dim = context.head_dim if context else 128
    bits = context.dtype_bits if context else 16
    try:
        only_bits = tile_model(backend).runs_only_dtype_bits  # e.g. fp16/bf16 only: the 16-bit table
        return default_tiles(backend, len(axes), head_dim, bits if only_bits is None else only_bits)
    except ArgumentError as exc:
        raise RecipeError(f"recipe.scaling.snap: cannot snap to {backend} tiles: {exc}") from None

