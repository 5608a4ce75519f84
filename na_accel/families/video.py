"""What the video families share: a (batch, channels, frames, height, width) latent input whose
patches form a row-major (frames, height, width) token grid, and attention layers picked by name.
"""

from __future__ import annotations

import re
from typing import Any, Iterator

import torch

from ..errors import Refusal
from .base import ModelAdapter, TokenLayout, forward_arguments, video_token_grid


class VideoAdapter(ModelAdapter):
    """Base of the video adapters. Subclasses set the class attributes and ``make_processor``."""

    transformer_class: type
    stock_processor_class: type
    # Qualified module names of the attention layers GNA may replace (full match).
    layer_name_pattern: re.Pattern

    def handles(self, transformer: torch.nn.Module) -> bool:
        # Exact class: subclasses (FramePack, VACE, ...) lay their tokens out differently.
        return type(transformer) is self.transformer_class

    def attention_layers(self, transformer: torch.nn.Module) -> Iterator[tuple[str, torch.nn.Module]]:
        for name, module in transformer.named_modules():
            if self.layer_name_pattern.fullmatch(name):
                yield name, module

    def unsupported_processor_reason(self, module: torch.nn.Module) -> str | None:
        processor = getattr(module, "processor", None)
        if type(processor) is self.stock_processor_class:
            return None
        return (
            f"processor {type(processor).__name__} is not supported (GNA replaces "
            f"{self.stock_processor_class.__name__} only; custom processors keep running as they are)"
        )

    def head_dim(self, transformer: torch.nn.Module) -> int:
        return int(transformer.config.attention_head_dim)

    def patch_size(self, transformer: torch.nn.Module) -> tuple[int, int, int]:
        """(frames, height, width) latent patch size."""
        return tuple(int(p) for p in transformer.config.patch_size)

    def token_layout(self, transformer: torch.nn.Module, args: tuple, kwargs: dict[str, Any]) -> TokenLayout:
        """Self attention over video tokens only (no text in the sequence)."""
        inputs = forward_arguments(transformer, args, kwargs)
        grid = video_token_grid(inputs.get("hidden_states"), self.patch_size(transformer))
        if isinstance(grid, Refusal):
            return TokenLayout(None, 0, False, grid)
        return TokenLayout(grid, 0, False)
