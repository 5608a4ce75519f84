"""Small helpers shared by the tiny modules (input builders and call helpers)."""

from __future__ import annotations

import torch


def check_grid(grid, batch: int) -> tuple[int, int, int]:
    """A (frames, height, width) token grid of positive ints, and a positive batch."""
    grid = tuple(grid)
    if len(grid) != 3 or not all(isinstance(n, int) and not isinstance(n, bool) and n >= 1 for n in grid):
        raise ValueError(f"grid: {grid!r} is not valid; allowed: (frames, height, width) positive ints in tokens")
    if not isinstance(batch, int) or batch < 1:
        raise ValueError(f"batch: {batch!r} is not valid; allowed: a positive int")
    return grid


def patch_sizes(patch_size) -> tuple[int, int, int]:
    """(temporal, height, width) patch sizes from a config's 3-tuple patch_size."""
    p_t, p_h, p_w = (int(p) for p in patch_size)
    return p_t, p_h, p_w


def randn(shape, generator: torch.Generator, device, dtype) -> torch.Tensor:
    """Random normal in float32 on the CPU (same numbers on every device), then moved and cast."""
    return torch.randn(*shape, generator=generator).to(device=device, dtype=dtype)


def generation_kwargs(
    *, height: int, width: int, steps: int, seed: int, output_type: str, overrides: dict, **family_kwargs
) -> dict:
    """The kwargs of every tiny generation (size, steps, a seeded generator, output type), plus the
    family's own (prompt, frames, guidance, text length, ...), then the caller's ``overrides``."""
    kwargs = {
        "height": height,
        "width": width,
        "num_inference_steps": steps,
        "generator": torch.Generator().manual_seed(seed),
        "output_type": output_type,
        **family_kwargs,
    }
    return {**kwargs, **overrides}
