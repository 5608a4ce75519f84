"""Tile shapes for the Triton GNA kernel, chosen per window from exact tile counts.

A q tile (``BLOCK_M`` queries) and a kv tile (``BLOCK_N`` keys) are boxes of the token grid, one
power-of-two side per axis. The kernel visits, per q tile, every kv tile that intersects the union
of its queries' windows; partly covered tiles cost an element-wise mask. ``na_accel.kernels.tilecount``
counts both exactly per axis (the kernel tiles dilation groups the way that model assumes), so
the choice here is the shape with the least modelled work: no timing, no GPU, cached per window.

Only shapes that fit the program's resources are candidates (``TileBudget``): head_dim sets the
register tile (``BLOCK_D`` is head_dim rounded up to a power of two), and the device's shared
memory per block (about 227 KB on an H100, 99 KB on an RTX 4090 / 5090 or L40S) bounds the q tile
plus the pipelined k and v tiles.

``TritonTileModel`` is the ``triton`` backend's tile model (``na_accel.kernels.tile_model``): the
table recipes snap to, and the work of the tiles the kernel picks for a window.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache
from typing import Sequence

from .tile_model import TileModel, WindowWork
from .tilecount import axis_tiles

BLOCK_M_CHOICES = (128, 64, 32, 16)  # the smaller ones win only on small grids
BLOCK_N_CHOICES = (128, 64, 32, 16)
MIN_BLOCK = 16  # tl.dot needs at least 16 rows / columns
# Modelled costs, in units of one (query, key) score of a full tile:
MASK_COST = 0.5  # extra per score of a partly covered tile (index arithmetic and selects)
PAIR_OVERHEAD = 2048.0  # per visited (q tile, kv tile) pair: addresses, loop, softmax rescale
PROGRAM_OVERHEAD = 16384.0  # per q tile: load q, store the output, launch
# One program holds a BLOCK_M x BLOCK_D float32 accumulator and a BLOCK_N x BLOCK_D k / v tile in
# registers: beyond 128 x 128 elements they spill (head_dim 256 runs 64-row tiles, as FA2 does).
REGISTER_TILE_LIMIT = 128 * 128
# Before Hopper the q tile, the score tile and the accumulator all live in registers: at 8 warps,
# 128 x 128 tiles at head_dim 128 spill 1.2-2.1 KB per thread on sm_80/89/120, 128 x 64 at most a
# few hundred bytes (eval/kernel_codegen.py). A cap on q rows x kv rows x head_dim.
PRE_HOPPER_TILE_LIMIT = 128 * 64 * 128
# float32 dots run on FMA units (IEEE precision, no tensor cores), operands in registers everywhere.
FP32_TILE_LIMIT = 64 * 32 * 128
MIN_STAGES = 2  # software pipelining needs at least one load in flight


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


def block_d(head_dim: int) -> int:
    """The kernel's head_dim tile: head_dim rounded up to a power of two (>= 16, for tl.dot)."""
    return max(MIN_BLOCK, _pow2_ceil(head_dim))


def shared_memory_bytes(block_m: int, block_n: int, head_dim: int, element_size: int, stages: int) -> int:
    """Modelled shared memory of one program: the q tile, ``stages`` buffered k and v tiles, and
    for q tiles under 128 rows one score tile (at 8 warps two warp groups then split the kv columns
    and the softmax's row reductions go through shared memory). Triton gives each
    software-pipelined loop ``num_stages`` k and v buffers of its own and the kernel pipelines one
    loop (the window's key tiles). This is what the compiler allocates on sm_90 and an upper bound
    elsewhere (``eval/kernel_codegen.py`` compares the two per target, and the tests hold it)."""
    scratch = block_m * block_n if block_m < 128 else 0
    return element_size * (block_d(head_dim) * (block_m + 2 * block_n * stages) + scratch)


@dataclass(frozen=True)
class LaunchConfig:
    """One launch configuration of the kernel: warps per program, software-pipeline stages."""

    warps: int
    stages: int


STAGE_CHOICES = (2, 3, 4)
DEFAULT_STAGES = 3  # with autotuning off; on an H100 the autotuner picked 8 warps x 3 stages (BENCHMARKS.md)


@dataclass(frozen=True)
class TileBudget:
    """What one program may hold: head_dim, the inputs' element size, the device's shared memory
    per block in bytes and its compute capability (e.g. 90; None: unknown, as under the
    interpreter, where Hopper's register rules apply and shared memory is unbounded)."""

    head_dim: int = 128
    element_size: int = 2
    shared_memory: int | None = None
    capability: int | None = None

    @property
    def score_tile_limit(self) -> int | None:
        """The largest q rows x kv rows x BLOCK_D a program holds in registers without spilling
        much at 8 warps; None: only ``REGISTER_TILE_LIMIT`` applies (Hopper's wgmma reads its
        operands from shared memory)."""
        if self.element_size >= 4:
            return FP32_TILE_LIMIT
        if self.capability is not None and self.capability < 90:
            return PRE_HOPPER_TILE_LIMIT
        return None

    def fits(self, block_m: int, block_n: int, stages: int = MIN_STAGES) -> bool:
        width = block_d(self.head_dim)
        if max(block_m, block_n) * width > REGISTER_TILE_LIMIT:
            return False
        if self.score_tile_limit is not None and block_m * block_n * width > self.score_tile_limit:
            return False
        if self.shared_memory is None:
            return True
        return shared_memory_bytes(block_m, block_n, self.head_dim, self.element_size, stages) <= self.shared_memory

    def max_stages(self, block_m: int, block_n: int, limit: int = max(STAGE_CHOICES)) -> int:
        """The most pipeline stages (<= ``limit``, >= MIN_STAGES) whose buffers fit."""
        stages = limit
        while stages > MIN_STAGES and not self.fits(block_m, block_n, stages):
            stages -= 1
        return stages


@lru_cache(maxsize=1024)  # on every launch's path
def launch_configs(budget: TileBudget, block_m: int, block_n: int, masked: bool = False, *,
                   autotune: bool = True) -> tuple[LaunchConfig, ...]:
    """The launch configurations the autotuner may pick among for these tiles (one without
    autotuning): 8 warps, and 4 for tiles small enough to hold in half the registers; the
    pipeline stages whose buffers fit the device. Without autotuning, masked 128 x 128 tiles run
    2 stages: at 3 the masking's index vectors push 8 warps past 255 registers (16 B of spills on
    sm_90, eval/kernel_codegen.py); the autotuner times both."""
    most = budget.max_stages(block_m, block_n)
    if not autotune:
        stages = MIN_STAGES if masked and block_m * block_n >= 128 * 128 else DEFAULT_STAGES
        return (LaunchConfig(8, min(stages, most)),)
    small = max(block_m, block_n) * block_d(budget.head_dim) <= REGISTER_TILE_LIMIT // 2
    return tuple(LaunchConfig(w, s) for w in ((4, 8) if small else (8,)) for s in STAGE_CHOICES if s <= most)


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
    budget: TileBudget = TileBudget(),
) -> TritonTiles:
    """The q / kv tile shapes with the least modelled work for this window (3-axis geometry),
    among those that fit ``budget``."""
    # No side longer than a dilation group (rounded up to a power of two) along its axis.
    caps = tuple(_pow2_ceil(-(-n // d)) for n, d in zip(grid, dilation))
    candidates = [
        count_tiles(grid, kernel_size, stride, dilation, is_causal, q_tile, kv_tile)
        for block_m in BLOCK_M_CHOICES for block_n in BLOCK_N_CHOICES
        for q_tile in _shapes(block_m, caps) for kv_tile in _shapes(block_n, caps)
    ]
    fitting = [tiles for tiles in candidates if budget.fits(tiles.block_m, tiles.block_n)]
    if not fitting:
        raise ValueError(f"triton backend: no tile shape fits {budget} (the smallest needs "
                         f"{shared_memory_bytes(MIN_BLOCK, MIN_BLOCK, budget.head_dim, budget.element_size, MIN_STAGES)} "
                         "bytes of shared memory)")
    return min(fitting, key=lambda tiles: modelled_cost(tiles, text_len))


def as_3d(values: Sequence, fill) -> tuple:
    """Left-pad a per-axis tuple to 3 axes (a 2-D grid becomes 1 x H x W)."""
    return (fill,) * (3 - len(values)) + tuple(values)


def window_tiles(window, text_len: int, head_dim: int, element_size: int, shared_memory: int | None,
                 capability: int | None = None) -> TritonTiles:
    """The tiles the kernel picks for a ``ResolvedWindow`` (the same call its launcher makes)."""
    grid, kernel, stride, dilation = (as_3d(v, 1) for v in
                                      (window.grid, window.kernel_size, window.stride, window.dilation))
    causal = as_3d(tuple(bool(c) for c in window.is_causal), False)
    return choose_tiles(grid, kernel, stride, dilation, causal, text_len,
                        TileBudget(head_dim, element_size, shared_memory, capability))


class TritonTileModel(TileModel):
    """Snapping and ``estimate`` read ``TILE_TABLE``; the work of a window is that of the tiles the
    kernel itself picks for it (``window_tiles``)."""

    def table(self, rank, head_dim, dtype_bits):
        return TILE_TABLE[rank], f"na_accel triton TILE_TABLE[{rank}]"

    def window_work(self, window, other_keys, *, head_dim, element_size, shared_memory=None, capability=None):
        # the other grids' tokens count as text keys: dense for every visual query
        tiles = window_tiles(window, other_keys, head_dim, element_size, shared_memory, capability)
        scores = tiles.block_m * tiles.block_n
        return WindowWork((tiles.visited - tiles.partial) * scores + tiles.q_tiles * tiles.block_m * other_keys,
                          tiles.partial * scores, tiles.q_tiles)
