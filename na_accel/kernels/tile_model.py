"""What a backend's kernel looks like to the cost model and to snapping: its tile model.

A tiled kernel splits the (padded) token grid into query tiles and key/value tiles, one shape per
grid axis, and skips (q tile, kv tile) pairs no query of the q tile attends into. A ``TileModel``
says which tile shapes the kernel has (``options``: per grid rank, head_dim and dtype width, its
default first) and what one window costs it (``window_work``). A backend owns its model
(``Backend.tiles``; NATTEN's in ``natten_tiles``, na_accel's Triton kernel's in ``triton_tiles``);
``na_accel.kernels.tiles`` finds a model by the backend's name. No torch here: ``estimate`` runs
without it.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from dataclasses import dataclass

from ..errors import ArgumentError
from ..windows import ResolvedWindow, effective_axes, format_axes
from .window_cost import estimate_window


@dataclass(frozen=True)
class TileShape:
    """One (q tile, kv tile) configuration of a kernel, per token-grid axis."""

    q_tile: tuple[int, ...]
    kv_tile: tuple[int, ...]
    backend: str  # the name of the tile model (a backend's), or "explicit"
    source: str  # where the shape comes from

    @property
    def rank(self) -> int:
        return len(self.q_tile)

    def describe(self) -> str:
        return f"{self.backend} q tile {format_axes(self.q_tile)} kv tile {format_axes(self.kv_tile)}"

    def to_dict(self) -> dict:
        return {"backend": self.backend, "q_tile": list(self.q_tile), "kv_tile": list(self.kv_tile),
                "source": self.source}


@dataclass(frozen=True)
class WindowWork:
    """What one window costs a kernel per (batch row, head), in (query, key) scores: its visual
    queries against their visited tiles and against the other grids' and the text keys."""

    full: float  # scores of fully used tile pairs, plus the dense keys of the visual queries
    partial: float  # scores of tile pairs that need the element-wise mask
    programs: int  # q tiles: how many programs the window's queries take


def untiled_work(window: ResolvedWindow, other_keys: int) -> WindowWork:
    """Element-wise work (one query and one key per tile): every attended pair, nothing padded; the
    explicit-mask reference's work."""
    n = math.prod(window.grid)
    return WindowWork(estimate_window(window, None).density * n * n + n * other_keys, 0.0, n)


class TileModel(ABC):
    """A kernel's tile shapes and the work they cost. ``name`` is what ``TileShape.backend`` and
    ``Backend.tile_backend`` say (the backend's own name)."""

    # The one dtype width the kernel runs (16: fp16 / bf16 only); snapping then reads that width's
    # table whatever the model's dtype. None: a table per width the kernel runs.
    runs_only_dtype_bits: int | None = None

    def __init__(self, name: str) -> None:
        self.name = name

    @abstractmethod
    def table(self, rank: int, head_dim: int, dtype_bits: int) -> tuple[list, str]:
        """The (q tile, kv tile) pairs of a ``rank``-D grid, the kernel's default first, and where
        they are listed (for reports); an ArgumentError naming the value when none exist."""

    def options(self, rank: int, head_dim: int = 128, dtype_bits: int = 16) -> list[TileShape]:
        """Every tile shape of the kernel at this rank / head_dim / dtype width; its default first."""
        if rank not in (1, 2, 3):
            raise ArgumentError(f"rank: NATTEN runs 1-, 2- and 3-D neighborhoods, got a {rank}-D grid")
        pairs, where = self.table(rank, head_dim, dtype_bits)
        return [
            TileShape(tuple(q), tuple(kv), self.name, where + (" (the backend's default)" if i == 0 else ""))
            for i, (q, kv) in enumerate(pairs)
        ]

    def window_work(self, window: ResolvedWindow, other_keys: int, *, head_dim: int, element_size: int,
                    shared_memory: int | None = None, capability: int | None = None) -> WindowWork:
        """The work of a kernel that runs its default tiles for the window's rank (as NATTEN's do):
        the visited tile pairs, exact (``window_cost``). ``other_keys``: the text keys and the other
        grids' tokens, dense for the visual queries. ``shared_memory`` and ``capability`` are for
        kernels that pick tiles per device."""
        rank = len(effective_axes(window.grid))
        if not rank:
            return untiled_work(window, other_keys)
        tiles = self.options(rank, head_dim, element_size * 8)[0]
        estimate = estimate_window(window, tiles)
        if estimate.visited_pairs is None:
            return untiled_work(window, other_keys)
        n = math.prod(window.grid)
        scores = math.prod(tiles.q_tile) * math.prod(tiles.kv_tile)
        return WindowWork(estimate.full_pairs * scores + n * other_keys,
                          (estimate.visited_pairs - estimate.full_pairs) * scores,
                          math.ceil(n / math.prod(tiles.q_tile)))
