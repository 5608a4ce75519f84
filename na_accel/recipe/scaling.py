"""Resolution-aware windows: how a recipe's windows follow the token grid, and tile snapping.

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
then clamped to the grid (as ``WindowSpec.resolve``), then snapped per axis to the nearest
perfectly block-sparse window for the tiles (``na_accel.kernels.tilecount``). Axes of length 1 are left
alone (the attention core drops them; tiles are those of the remaining rank).

Snapping, per axis of length n with q tile tq and kv tile tk:

* candidates: stride a multiple of tq, kernel a multiple of tk (kernel * dilation <= n), plus the
  whole axis;
* if the axis admits perfectly block-sparse windows (its dilation groups are multiples of tq and
  tk), the nearest candidate that is perfectly block-sparse (checked exactly) wins; otherwise the
  nearest *aligned* one (interior windows start on kv-tile boundaries:
  (kernel // 2 - stride // 2) % tk == 0), whose only partly used tiles are the padded last tiles;
* nearest = smallest |ln(k / k0)| + 0.5 |ln(s / s0)| (ties: larger kernel, then smaller stride);
* if the choice visits as many tile pairs as the whole axis, the whole axis is taken instead
  (same kernel work, more context): e.g. an axis that fits in one tile becomes dense.

Causal axes are not snapped.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Any, Callable, Mapping, Sequence

from ..errors import ArgumentError, RecipeError
from .data import short_repr
from ..kernels.tilecount import axis_tiles
from ..windows import WindowSpec, effective_axes, format_axes

# Every per-axis number of a recipe (kernel_size, stride, dilation, grids, tiles) is at most this
# many tokens: 256x FLUX's 256-token axis at 4096 pixels, and small enough that relative scaling
# (kernel and stride times grid / tuned grid) stays exact in floats. Checked at load time, so an
# absurd window fails in load_recipe / patch, never mid-generation.
MAX_AXIS = 65_536
SCALING_KEYS = ("mode", "tuned_grid", "overrides", "snap")
SCALING_MODES = ("absolute", "relative")
SNAP_AUTO = "auto"
STRIDE_WEIGHT = 0.5  # how much a stride change counts against a kernel change when snapping


@dataclass(frozen=True)
class SnapSpec:
    source: str  # "auto", a NATTEN backend name, or "explicit"
    q_tile: tuple[int, ...] | None = None  # explicit tiles, per recipe axis
    kv_tile: tuple[int, ...] | None = None

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

    def override_for(self, grid: tuple[int, ...]) -> GridOverride | None:
        for override in self.overrides:
            if override.grid == grid:
                return override
        return None


@dataclass(frozen=True)
class SnapContext:
    """What snapping needs to know about the kernel that runs.

    ``backend`` is the NATTEN backend whose tiles ``snap: auto`` uses (None: unknown, no snapping
    for ``auto``); ``head_dim`` and ``dtype_bits`` pick hopper-fna's table.
    """

    backend: str | None
    head_dim: int = 128
    dtype_bits: int = 16
    tiles: Any = None  # a TileShape the caller already picked for ``backend`` (used by ``auto``)


# --------------------------------------------------------------------------------------------
# Parsing (called by recipe.parse_recipe)
# --------------------------------------------------------------------------------------------


def parse_scaling(data: Any, axes: tuple[str, ...], tuned_for: Any, build_window: Callable) -> ScalingSpec:
    """Validate ``recipe.scaling``; ``build_window(where, mapping)`` validates an override's window."""
    from ..kernels.tiles import TILE_BACKENDS

    where = "recipe.scaling"
    if not isinstance(data, Mapping):
        raise RecipeError(f"{where}: expected a mapping with keys from {list(SCALING_KEYS)}, got {short_repr(data)}")
    unknown = [k for k in data if k not in SCALING_KEYS]
    if unknown:
        raise RecipeError(f"{where}: unknown key(s) {unknown}; allowed keys are {list(SCALING_KEYS)}")

    mode = data.get("mode", "absolute")
    if mode not in SCALING_MODES:
        raise RecipeError(f"{where}.mode: unknown mode {short_repr(mode)}; allowed: {list(SCALING_MODES)}")

    tuned_grid = None
    if "tuned_grid" in data:
        tuned_grid = _grid(f"{where}.tuned_grid", data["tuned_grid"], axes)
    elif isinstance(tuned_for, Mapping) and "token_grid" in tuned_for:
        tuned_grid = _grid("recipe.tuned_for.token_grid", tuned_for["token_grid"], axes)
    if mode == "relative" and tuned_grid is None:
        raise RecipeError(
            f"{where}.tuned_grid: missing; mode 'relative' needs the token grid the windows were tuned "
            f"for ({len(axes)} integers for axes {list(axes)}), as scaling.tuned_grid or tuned_for.token_grid"
        )

    overrides_raw = data.get("overrides") or []
    if not isinstance(overrides_raw, Sequence) or isinstance(overrides_raw, (str, bytes)):
        raise RecipeError(f"{where}.overrides: expected a list of {{grid: [...], kernel_size: ...}}, "
                          f"got {short_repr(overrides_raw)}")
    overrides = []
    for index, item in enumerate(overrides_raw):
        at = f"{where}.overrides[{index}]"
        if not isinstance(item, Mapping) or "grid" not in item:
            raise RecipeError(f"{at}: expected a mapping with 'grid' and window keys "
                              f"(kernel_size, stride, dilation, is_causal), got {short_repr(item)}")
        grid = _grid(f"{at}.grid", item["grid"], axes)
        if any(o.grid == grid for o in overrides):
            raise RecipeError(f"{at}.grid: {list(grid)} is given twice; one override per grid")
        window = build_window(at, {k: v for k, v in item.items() if k != "grid"})
        if window is None:
            raise RecipeError(f"{at}.dense: an override is a window for its grid; to run a grid dense, "
                              "give kernel_size equal to the grid")
        for axis, (n, k, d) in enumerate(zip(grid, window.kernel_size, window.dilation)):
            if n > 1 and k * d > n:
                raise RecipeError(
                    f"{at}.kernel_size: kernel {k} x dilation {d} on axis {axis} ({axes[axis]}) exceeds "
                    f"the override's grid {list(grid)}; NATTEN needs kernel * dilation <= grid"
                )
        overrides.append(GridOverride(grid, window))

    snap = _parse_snap(f"{where}.snap", data.get("snap", False), axes, TILE_BACKENDS)
    return ScalingSpec(mode=mode, tuned_grid=tuned_grid, overrides=tuple(overrides), snap=snap)


def _parse_snap(where: str, value: Any, axes: tuple[str, ...], backends: Sequence[str]) -> SnapSpec | None:
    allowed = f"false, true/'auto' (the running backend's tiles), a backend name {list(backends)}, " \
              "or {q_tile: [...], kv_tile: [...]}"
    if value is False or value is None:
        return None
    if value is True or value == SNAP_AUTO:
        return SnapSpec(SNAP_AUTO)
    if isinstance(value, str):
        if value not in backends:
            raise RecipeError(f"{where}: unknown tile source {short_repr(value)}; allowed: {allowed}")
        return SnapSpec(value)
    if isinstance(value, Mapping):
        if set(value) != {"q_tile", "kv_tile"}:
            raise RecipeError(f"{where}: expected exactly the keys q_tile and kv_tile, got {short_repr(list(value))}")
        q = _grid(f"{where}.q_tile", value["q_tile"], axes)
        kv = _grid(f"{where}.kv_tile", value["kv_tile"], axes)
        return SnapSpec("explicit", q, kv)
    raise RecipeError(f"{where}: expected {allowed}; got {short_repr(value)}")


def _grid(where: str, value: Any, axes: tuple[str, ...]) -> tuple[int, ...]:
    if not isinstance(value, (list, tuple)) or len(value) != len(axes):
        raise RecipeError(f"{where}: expected a list of {len(axes)} integers >= 1 (axes {list(axes)}), "
                          f"got {short_repr(value)}")
    for axis, item in enumerate(value):
        check_int(f"{where}[{axis}] ({axes[axis]})", item, 1, MAX_AXIS)
    return tuple(value)


def check_int(where: str, value: Any, minimum: int, maximum: int, limit: str = "na_accel.recipe.scaling.MAX_AXIS") -> None:
    """Raise RecipeError unless ``value`` is an int in [minimum, maximum] (``limit`` names the maximum)."""
    allowed = f"allowed range [{minimum}, {maximum}]"
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise RecipeError(f"{where}: expected an integer >= {minimum}, got {short_repr(value)}; {allowed}")
    if value > maximum:
        raise RecipeError(f"{where}: expected an integer <= {maximum} ({limit}), got {short_repr(value)}; {allowed}")


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
    return snap_resolved(resolved, tiles)


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
    from ..kernels.tiles import TileShape, default_tiles

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
    if backend == "hopper-fna":
        bits = 16  # hopper-fna runs fp16/bf16 only: its tiles are the 16-bit table's
    try:
        return default_tiles(backend, len(axes), head_dim, bits)
    except ArgumentError as exc:
        raise RecipeError(f"recipe.scaling.snap: cannot snap to {backend} tiles: {exc}") from None


def snap_resolved(resolved, tiles):
    """Snap every (non-causal, length > 1) axis of ``resolved`` to ``tiles`` (TileShape over those axes)."""
    kernel, stride, dilation = list(resolved.kernel_size), list(resolved.stride), list(resolved.dilation)
    clamped = set(resolved.clamped_axes)
    for i, axis in enumerate(effective_axes(resolved.grid)):
        if resolved.is_causal[axis]:
            continue
        n = resolved.grid[axis]
        k, s, d = snap_axis(n, kernel[axis], stride[axis], dilation[axis], tiles.q_tile[i], tiles.kv_tile[i])
        if (k, s, d) != (kernel[axis], stride[axis], dilation[axis]) and k * d == n and d == 1 and k == n:
            clamped.add(axis)  # snapped to the whole axis
        kernel[axis], stride[axis], dilation[axis] = k, s, d
    return replace(
        resolved,
        kernel_size=tuple(kernel),
        stride=tuple(stride),
        dilation=tuple(dilation),
        clamped_axes=tuple(sorted(clamped)),
        snapped=f"snapped to {tiles.describe()}",
        requested=(resolved.kernel_size, resolved.stride),
    )


def snap_axis(n: int, k0: int, s0: int, d: int, tq: int, tk: int) -> tuple[int, int, int]:
    """The snapped (kernel, stride, dilation) along one non-causal axis (see the module docstring)."""
    if k0 == n and d == 1:
        return k0, s0, d  # already the whole axis
    kmax = n // d
    group_lengths = {(n - g + d - 1) // d for g in range(d)}
    perfect_possible = all(m % tq == 0 and m % tk == 0 for m in group_lengths)

    def cost(k: int, s: int) -> tuple[float, int, int]:
        return (abs(math.log(k / k0)) + STRIDE_WEIGHT * abs(math.log(s / s0)), -k, s)

    candidates = [(k, s) for k in range(tk, kmax + 1, tk) if k >= 2 for s in range(tq, k + 1, tq)]
    whole = (n, 1, 1)
    choice = None
    if perfect_possible:
        for k, s in sorted(candidates, key=lambda c: cost(*c)):
            if axis_tiles(n, k, s, d, False, tq, tk).block_sparse:
                choice = (k, s, d)
                break
    else:
        aligned = [(k, s) for k, s in candidates if (k // 2 - s // 2) % tk == 0]
        if aligned:
            k, s = min(aligned, key=lambda c: cost(*c))
            choice = (k, s, d)
    if choice is None:
        return whole
    visited = axis_tiles(n, choice[0], choice[1], choice[2], False, tq, tk).visited
    if visited >= axis_tiles(n, n, 1, 1, False, tq, tk).visited:
        return whole
    return choice
