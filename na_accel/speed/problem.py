"""One joint-attention call as the cost model sees it, and the work a backend does for it.

A call is a batch of rows x heads, each a joint sequence of ``text_len`` text tokens and the visual
tokens of one or more grids (the generated image, then reference images), with the resolved window
of each grid. Dense attention does ``4 * tokens^2 * head_dim`` FLOPs per (row, head). A GNA backend
does, per (row, head):

* the visual queries' visited tile pairs (exact counts, from the backend's tile model:
  ``na_accel.kernels.tile_model``): *full* pairs run plain matmuls, *partial* ones also an
  element-wise mask;
* the visual queries against every text key (and every token of the other grids): dense work;
* the text queries against every key: a dense attention call of their own.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from ..kernels.tile_model import untiled_work
from ..kernels.tiles import tile_model
from ..windows import ResolvedWindow


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
    """The work of the backend whose tiles are ``tile_backend`` (its tile model's ``window_work``; None:
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
        if tile_backend:
            work = tile_model(tile_backend).window_work(window, other_keys, head_dim=problem.head_dim,
                                                        element_size=problem.element_size,
                                                        shared_memory=shared_memory, capability=capability)
        else:
            work = untiled_work(window, other_keys)
        full += work.full
        partial += work.partial
        programs += work.programs
    per_score = 4.0 * problem.rows * problem.head_dim
    return SparseWork(full * per_score, partial * per_score,
                      per_score * problem.text_len * problem.tokens, programs * problem.rows)


__all__ = ["AttentionProblem", "SparseWork", "sparse_work"]
