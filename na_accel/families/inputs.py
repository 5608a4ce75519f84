"""Small helpers shared by the families' config-driven input builders (``<family>_spec.py``)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .family_types import is_int

if TYPE_CHECKING:
    import torch


def check_grid_and_batch(grid: Any, batch: Any, axes: tuple[str, ...] = ("frames", "height", "width")) -> tuple[int, ...]:
    """A token grid of positive ints over ``axes``, and a positive batch."""
    grid = tuple(grid)
    if len(grid) != len(axes) or not all(is_int(n) and n >= 1 for n in grid):
        raise ValueError(f"grid: {grid!r} is not valid; allowed: ({', '.join(axes)}) positive ints in tokens")
    if not is_int(batch) or batch < 1:
        raise ValueError(f"batch: {batch!r} is not valid; allowed: a positive int")
    return grid


def patch_sizes(patch_size: Any) -> tuple[int, int, int]:
    """(temporal, height, width) patch sizes from a config's 3-tuple patch_size."""
    p_t, p_h, p_w = (int(p) for p in patch_size)
    return p_t, p_h, p_w


def randn(shape, generator: torch.Generator, device, dtype) -> torch.Tensor:
    """Random normal in float32 on the CPU (same numbers on every device), then moved and cast."""
    import torch

    return torch.randn(*shape, generator=generator).to(device=device, dtype=dtype)


__all__ = ["check_grid_and_batch", "patch_sizes", "randn"]
