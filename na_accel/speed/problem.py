"""One joint-attention call as the cost model sees it, and the work a backend does for it.

A call is a batch of rows x heads, each a joint sequence of ``text_len`` text tokens and the visual
tokens of one or more grids (the generated image, then reference images), with the resolved window
of each grid. Dense attention does ``4 * tokens^2 * head_dim`` FLOPs per (row, head). A GNA backend
does, per (row, head):

* the visual queries' visited tile pairs (exact counts, ``triton_tiles`` / ``tilecount``): *full*
  pairs run plain matmuls, *partial* ones also an element-wise mask;
* the visual queries against every text key (and every token of the other grids): dense work;
* the text queries against every key: a dense attention call of their own.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from ..kernels.tiles import pick_tiles
from ..kernels.triton_tiles import TileBudget, as_3d, choose_tiles
from ..kernels.window_cost import estimate_window
from ..windows import ResolvedWindow, effective_axes


@dataclass(frozen=True)
class AttentionProblem:
    """The shape of one joint-attention call."""

    windows: tuple[ResolvedWindow, ...]  # one per visual grid, the generated image's first
    text_len: int
    batch: int
    heads: int
    head_dim: int
    element_size: int = 2  # bytes per element of q / k / v

    @property
    def visual_tokens(self) -> int:
        return sum(math.prod(w.grid) for w in self.windows)

    @property
    def tokens(self) -> int:
        return self.visual_tokens + self.text_len

    @property
    def rows(self) -> int:
        """(batch row, head) pairs: every one is the same problem."""
        return self.batch * self.heads

    def dense_flops(self) -> float:
        """FLOPs of dense attention over the joint sequence (QK^T and PV)."""
        return 4.0 * self.rows * self.tokens * self.tokens * self.head_dim

    def describe(self) -> str:
        grids = " + ".join("x".join(map(str, w.grid)) for w in self.windows)
        return f"grid {grids} + {self.text_len} text, {self.batch}x{self.heads} heads x {self.head_dim}"


@dataclass(frozen=True)
class SparseWork:
    """FLOPs a GNA backend spends on one call, split by how efficiently they run."""

    full_flops: float  # fully used tile pairs, text keys and cross-grid keys of the visual queries
    partial_flops: float  # tile pairs that need the element-wise mask
    text_query_flops: float  # the text queries' dense attention over every key
    programs: int  # q tiles x rows: how many programs one launch runs

    def to_dict(self) -> dict[str, float]:
        return {"full_flops": self.full_flops, "partial_flops": self.partial_flops,
                "text_query_flops": self.text_query_flops, "programs": self.programs}


def sparse_work(problem: AttentionProblem, tile_backend: str | None, shared_memory: int | None = None,
                capability: int | None = None) -> SparseWork:
    """The work of the backend whose tiles are ``tile_backend`` (``na_accel.kernels.tiles``; None:
    one query and one key per tile, the explicit-mask reference's element-wise work)."""
    full = partial = 0.0
    programs = 0
    visual = problem.visual_tokens
    for window in problem.windows:
        n = math.prod(window.grid)
        other_keys = problem.text_len + visual - n  # text and the other grids: dense keys
        if window.covers_grid:
            full += n * (n + other_keys)
            programs += n
            continue
        if tile_backend == "triton":
            tiles = _triton_tiles(window, other_keys, problem.head_dim, problem.element_size, shared_memory,
                                  capability)
            scores = tiles.block_m * tiles.block_n
            q_padded = tiles.q_tiles * tiles.block_m
            full += (tiles.visited - tiles.partial) * scores + q_padded * other_keys
            partial += tiles.partial * scores
            programs += tiles.q_tiles
        else:
            estimate = _natten_estimate(window, tile_backend, problem.head_dim, problem.element_size)
            if estimate.visited_pairs is None:  # no tiles: count the attended pairs themselves
                full += estimate.density * n * n + n * other_keys
                programs += n
                continue
            scores = math.prod(estimate.tiles.q_tile) * math.prod(estimate.tiles.kv_tile)
            full += estimate.full_pairs * scores + n * other_keys
            partial += (estimate.visited_pairs - estimate.full_pairs) * scores
            programs += math.ceil(n / math.prod(estimate.tiles.q_tile))
    per_score = 4.0 * problem.rows * problem.head_dim
    return SparseWork(full * per_score, partial * per_score,
                      per_score * problem.text_len * problem.tokens, programs * problem.rows)


def _triton_tiles(window: ResolvedWindow, text_len: int, head_dim: int, element_size: int,
                  shared_memory: int | None, capability: int | None = None):
    """The tiles na_accel's kernel picks for this window (the same call its launcher makes)."""
    grid, kernel, stride, dilation = (as_3d(v, 1) for v in
                                      (window.grid, window.kernel_size, window.stride, window.dilation))
    causal = as_3d(tuple(bool(c) for c in window.is_causal), False)
    return choose_tiles(grid, kernel, stride, dilation, causal, text_len,
                        TileBudget(head_dim, element_size, shared_memory, capability))


def _natten_estimate(window: ResolvedWindow, tile_backend: str | None, head_dim: int, element_size: int):
    rank = len(effective_axes(window.grid))
    tiles = pick_tiles(tile_backend, rank, head_dim, element_size * 8) if tile_backend and rank else None
    return estimate_window(window, tiles)


__all__ = ["AttentionProblem", "SparseWork", "sparse_work"]
