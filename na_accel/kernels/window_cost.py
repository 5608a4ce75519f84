"""What one resolved window costs a tiled kernel: density, FLOP bound, tile-level bound, block-sparsity.

Exact counts from ``tilecount`` for a window on its grid and a kernel's tile shape; shared by
``describe`` (the window a layer last ran) and the ``estimate`` tool (a recipe at a resolution).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..errors import ArgumentError
from ..windows import ResolvedWindow, effective_axes
from .tilecount import axis_tiles

if TYPE_CHECKING:  # tile_model builds on this module
    from .tile_model import TileShape


@dataclass(frozen=True)
class WindowEstimate:
    window: ResolvedWindow
    tiles: TileShape | None  # over the axes NATTEN sees (length > 1); None when dense / no tiles
    density: float  # fraction of visual query-key pairs computed
    visited_pairs: int | None = None  # (q tile, kv tile) pairs the FNA kernel visits
    full_pairs: int | None = None  # of which fully used
    dense_pairs: int | None = None  # pairs dense attention visits with the same tile sizes

    @property
    def dense(self) -> bool:
        """NATTEN runs the window as plain self attention (it covers the grid)."""
        return self.window.covers_grid

    @property
    def flop_bound(self) -> float:
        return 1.0 / self.density

    @property
    def tile_bound(self) -> float | None:
        if self.dense:
            return 1.0
        if self.visited_pairs is None:
            return None
        return self.dense_pairs / self.visited_pairs

    @property
    def block_sparse(self) -> bool | None:
        """Every visited tile pair fully used, no padding (None: no tiles to judge)."""
        if self.visited_pairs is None:
            return None
        return self.visited_pairs == self.full_pairs

    @property
    def tile_utilization(self) -> float | None:
        """Attended (query, key) pairs over the pairs the visited tiles hold."""
        if self.visited_pairs is None:
            return None
        tokens = math.prod(self.window.grid)
        q, kv = math.prod(self.tiles.q_tile), math.prod(self.tiles.kv_tile)
        return self.density * tokens * tokens / (self.visited_pairs * q * kv)

    def to_dict(self) -> dict[str, Any]:
        w = self.window
        return {
            "grid": list(w.grid),
            "kernel_size": list(w.kernel_size),
            "stride": list(w.stride),
            "dilation": list(w.dilation),
            "is_causal": list(w.is_causal),
            "clamped_axes": list(w.clamped_axes),
            "scaled": w.scaled,
            "snapped": w.snapped,
            "requested_before_snap": (
                {"kernel_size": list(w.requested[0]), "stride": list(w.requested[1])} if w.requested else None
            ),
            "dense": self.dense,
            "density": self.density,
            "sparsity": 1.0 - self.density,
            "flop_bound": self.flop_bound,
            "tiles": self.tiles.to_dict() if self.tiles else None,
            "visited_tile_pairs": self.visited_pairs,
            "full_tile_pairs": self.full_pairs,
            "dense_tile_pairs": self.dense_pairs,
            "tile_bound": self.tile_bound,
            "tile_utilization": self.tile_utilization,
            "perfectly_block_sparse": self.block_sparse,
        }

    def summary(self) -> str:
        """One line for describe(): density, bounds, block-sparse or not."""
        text = f"density {self.density:.1%}, FLOP bound {self.flop_bound:.1f}x"
        if self.dense:
            return text + " (window covers the grid: NATTEN runs dense attention)"
        if self.tiles is not None:
            text += (f", tile bound {self.tile_bound:.1f}x on {self.tiles.describe()}, "
                     f"{'perfectly block-sparse' if self.block_sparse else 'not perfectly block-sparse'}")
        return text


def estimate_window(window: ResolvedWindow, tiles: TileShape | None) -> WindowEstimate:
    """Density and tile counts of ``window``; ``tiles`` over the axes of length > 1 (or None)."""
    axes = effective_axes(window.grid)
    density = 1.0
    per_axis = []
    for a in axes:
        args = (window.grid[a], window.kernel_size[a], window.stride[a], window.dilation[a], window.is_causal[a])
        if tiles is not None:
            i = len(per_axis)
            counts = axis_tiles(*args, tiles.q_tile[i], tiles.kv_tile[i])
        else:
            counts = axis_tiles(*args, 1, 1)
        per_axis.append(counts)
        density *= counts.density
    if tiles is None or not axes or window.covers_grid:
        return WindowEstimate(window, tiles if axes and not window.covers_grid else None, density)
    if len(tiles.q_tile) != len(axes):
        raise ArgumentError(
            f"tiles: {tiles.describe()} is for a {len(tiles.q_tile)}-D grid but NATTEN sees {len(axes)} "
            f"axes of grid {list(window.grid)} (axes of length 1 are dropped)"
        )
    tokens = math.prod(window.grid)
    dense = math.ceil(tokens / math.prod(tiles.q_tile)) * math.ceil(tokens / math.prod(tiles.kv_tile))
    return WindowEstimate(
        window,
        tiles,
        density,
        visited_pairs=math.prod(c.visited for c in per_axis),
        full_pairs=math.prod(c.full for c in per_axis),
        dense_pairs=dense,
    )


def joint_speedup_bound(n_visual: int, n_text: int, visual_bound: float) -> float:
    """Speedup of joint [visual, text] attention when only visual->visual pairs get ``visual_bound``."""
    total = (n_visual + n_text) ** 2
    sparse = n_visual * n_visual / visual_bound + n_visual * n_text + n_text * (n_visual + n_text)
    return total / sparse
