"""Tile shapes for the Triton GNA kernel, chosen per window from exact tile counts.

A q tile (``BLOCK_M`` queries) and a kv tile (``BLOCK_N`` keys) are boxes of the token grid, one
power-of-two side per axis. The kernel visits, per q tile, every kv tile that intersects the union
of its queries' windows; partly covered tiles cost an element-wise mask. ``na_accel.kernels.tilecount``
counts both exactly per axis (the kernel tiles dilation groups the way that model assumes), so
the choice here is the shape with the least modelled work: no timing, no GPU, cached per window.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

from .tilecount import axis_tiles

BLOCK_M_CHOICES = (128, 64, 32, 16)  # the smaller ones win only on small grids
BLOCK_N_CHOICES = (128, 64, 32, 16)
MIN_BLOCK = 16  # tl.dot needs at least 16 rows / columns
# Modelled costs, in units of one (query, key) score of a full tile:
MASK_COST = 0.5  # extra per score of a partly covered tile (index arithmetic and selects)
PAIR_OVERHEAD = 2048.0  # per visited (q tile, kv tile) pair: addresses, loop, softmax rescale
PROGRAM_OVERHEAD = 16384.0  # per q tile: load q, store the output, launch


# The tile table recipes snap to (``snap: auto`` running on ``triton``, or ``snap: triton``) and
# ``na-accel estimate --backend triton`` models; per rank, the default first. Windows snapped to
# these are perfectly block-sparse for them, and ``choose_tiles`` then finds them.
TILE_TABLE = {
    1: [((128,), (128,)), ((64,), (64,))],
    2: [((8, 16), (8, 16)), ((16, 8), (16, 8)), ((8, 16), (8, 8)), ((16, 8), (8, 8))],
    3: [((2, 8, 8), (2, 8, 8)), ((4, 4, 8), (4, 4, 8)), ((1, 8, 16), (1, 8, 16)), ((2, 8, 8), (1, 8, 8))],
}


@dataclass(frozen=True)
class TritonTiles:
    """Per-axis q / kv tile sides (3 axes, leading axes of length 1 for lower ranks)."""

    q_tile: tuple[int, int, int]
    kv_tile: tuple[int, int, int]
    visited: int  # (q tile, kv tile) pairs visited over the whole grid, per (batch row, head)
    partial: int  # of which need an element-wise mask (0: perfectly block-sparse)
    q_tiles: int

    @property
    def block_m(self) -> int:
        return math.prod(self.q_tile)

    @property
    def block_n(self) -> int:
        return math.prod(self.kv_tile)


def _pow2_ceil(n: int) -> int:
    return 1 << max(0, (n - 1).bit_length())


def _factorizations(total: int, caps: tuple[int, ...]) -> list[tuple[int, ...]]:
    """Every way to split ``total`` (a power of two) into power-of-two sides within ``caps``."""
    if len(caps) == 1:
        return [(total,)] if total <= caps[0] else []
    out = []
    side = 1
    while side <= min(total, caps[0]):
        out += [(side,) + rest for rest in _factorizations(total // side, caps[1:])]
        side *= 2
    return out


def _shapes(total: int, caps: tuple[int, ...]) -> list[tuple[int, ...]]:
    shapes = _factorizations(total, caps)
    if shapes or total > MIN_BLOCK:
        return shapes
    # A grid smaller than the smallest block: pad along the last axis longer than 1.
    last = max([a for a, c in enumerate(caps) if c > 1], default=len(caps) - 1)
    return [tuple(total // math.prod(c for i, c in enumerate(caps) if i != last) if i == last else c
                  for i, c in enumerate(caps))]


@lru_cache(maxsize=4096)
def _axis(n, kernel, stride, dilation, causal, q_tile, kv_tile):
    return axis_tiles(n, kernel, stride, dilation, causal, q_tile, kv_tile)


def count_tiles(grid, kernel_size, stride, dilation, is_causal, q_tile, kv_tile) -> TritonTiles:
    """The exact visited / partly covered tile pairs of ``q_tile`` x ``kv_tile`` for this window."""
    axes = [_axis(n, k, s, d, c, tq, tk) for n, k, s, d, c, tq, tk in
            zip(grid, kernel_size, stride, dilation, is_causal, q_tile, kv_tile)]
    visited = math.prod(a.visited for a in axes)
    return TritonTiles(tuple(q_tile), tuple(kv_tile), visited, visited - math.prod(a.full for a in axes),
                       math.prod(a.q_tiles for a in axes))


def modelled_cost(tiles: TritonTiles, text_len: int) -> float:
    scores = tiles.block_m * tiles.block_n
    text_tiles = -(-text_len // tiles.block_n)
    return (tiles.visited * (scores + PAIR_OVERHEAD) + tiles.partial * scores * MASK_COST
            + tiles.q_tiles * (PROGRAM_OVERHEAD + text_tiles * (scores + PAIR_OVERHEAD)))


@lru_cache(maxsize=1024)
def choose_tiles(
    grid: tuple[int, int, int],
    kernel_size: tuple[int, int, int],
    stride: tuple[int, int, int],
    dilation: tuple[int, int, int],
    is_causal: tuple[bool, bool, bool],
    text_len: int,
) -> TritonTiles:
    """The q / kv tile shapes with the least modelled work for this window (3-axis geometry)."""
    # No side longer than a dilation group (rounded up to a power of two) along its axis.
    caps = tuple(_pow2_ceil(-(-n // d)) for n, d in zip(grid, dilation))
    candidates = [
        count_tiles(grid, kernel_size, stride, dilation, is_causal, q_tile, kv_tile)
        for block_m in BLOCK_M_CHOICES for block_n in BLOCK_N_CHOICES
        for q_tile in _shapes(block_m, caps) for kv_tile in _shapes(block_n, caps)
    ]
    return min(candidates, key=lambda tiles: modelled_cost(tiles, text_len))
