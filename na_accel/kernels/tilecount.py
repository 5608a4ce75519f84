"""What a tiled GNA kernel visits: per-axis counts of (q tile, kv tile) pairs, exact and fast.

Model of the kernel (NATTEN's fused FNA kernels): the token grid is permuted so that each
dilation group of each axis is contiguous, every group is tiled into q tiles and kv tiles of the
kernel's shape (the last tile of a group padded), and for every q tile the kernel visits the kv
tiles that intersect the union of its queries' neighborhoods. A visited pair is *full* when every
query of the q tile attends to every key of the kv tile and neither tile holds padding.

The N-D neighborhood mask is the outer product of per-axis masks, and so is the tiling, so:

* visited (q tile, kv tile) pairs = product over axes of the per-axis visited pairs,
* full pairs = product over axes of the per-axis full pairs,
* density = product over axes of the per-axis densities.

Along one axis every query's neighborhood is a contiguous range (in its dilation group's
coordinates: ``na_accel.windows.neighborhoods.axis_ranges``), which gives the counts in O(axis
length) without building a mask. Window rules are NATTEN's, as written in ``na_accel.windows.masks``
(the tests check these counts against tiles cut from those masks).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ..windows.neighborhoods import axis_ranges


@dataclass(frozen=True)
class AxisTiles:
    """Tile counts along one axis."""

    length: int
    q_tiles: int  # q tiles over all dilation groups (padded tiles included)
    kv_tiles: int
    visited: int  # visited (q tile, kv tile) pairs
    full: int  # visited pairs that are fully used (no masked entry, no padding)
    attended: int  # (query, key) pairs attended along this axis
    padded: bool  # some tile of this axis holds padding

    @property
    def density(self) -> float:
        return self.attended / (self.length * self.length)

    @property
    def block_sparse(self) -> bool:
        """Every visited pair fully used (implies no padded tile is visited)."""
        return self.visited == self.full


def axis_tiles(n: int, kernel: int, stride: int, dilation: int, causal: bool, q_tile: int, kv_tile: int) -> AxisTiles:
    """Exact per-axis tile counts for one window along an axis of ``n`` tokens."""
    q_total = kv_total = visited = full = attended = 0
    padded = False
    for m, lo, hi in axis_ranges(n, kernel, stride, dilation, causal):
        attended += int((hi - lo).sum())
        tq, tk = math.ceil(m / q_tile), math.ceil(m / kv_tile)
        q_total, kv_total = q_total + tq, kv_total + tk
        padded = padded or m % q_tile != 0 or m % kv_tile != 0
        pad = tq * q_tile - m
        # per q tile: union [min lo, max hi) and intersection [max lo, min hi) of its queries' ranges
        lo_p = np.concatenate([lo, np.full(pad, lo[-1])]).reshape(tq, q_tile)
        hi_p = np.concatenate([hi, np.full(pad, hi[-1])]).reshape(tq, q_tile)
        u_lo, u_hi = lo_p.min(1), hi_p.max(1)
        i_lo, i_hi = lo_p.max(1), hi_p.min(1)
        first, last = u_lo // kv_tile, (u_hi - 1) // kv_tile
        visited += int((last - first + 1).sum())
        # full pairs: complete q tile, complete kv tile inside the intersection of ranges
        complete_q = np.arange(tq) * q_tile + q_tile <= m
        full_first = -(-i_lo // kv_tile)  # ceil
        full_last = np.minimum(i_hi // kv_tile, m // kv_tile)  # exclusive; only complete kv tiles
        count = np.maximum(full_last - full_first, 0)
        full += int((count * complete_q).sum())
    return AxisTiles(n, q_total, kv_total, visited, full, attended, padded)


__all__ = ["AxisTiles", "axis_ranges", "axis_tiles"]
