"""What a model adapter provides: the attention layers to patch, the token layout, the processor."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterator

import torch


@dataclass(frozen=True)
class TokenLayout:
    """Where the visual tokens sit in one forward call, read from the transformer's inputs.

    ``grid`` is None when the visual tokens don't form a known row-major grid; ``problem`` then
    says why, and every GNA layer of that call runs dense (counted).
    """

    grid: tuple[int, ...] | None
    text_len: int
    text_first: bool
    problem: str | None = None


class ModelAdapter:
    """Base class of the per-family adapters (one small module per family in na_accel.models)."""

    family: str  # recipe "model" value
    transformer_class_name: str
    pipeline_names: tuple[str, ...]  # documentation: pipelines this adapter serves

    def handles(self, transformer: torch.nn.Module) -> bool:
        raise NotImplementedError

    def attention_layers(self, transformer: torch.nn.Module) -> Iterator[tuple[str, torch.nn.Module]]:
        """(qualified name, module) of every attention module GNA may replace."""
        raise NotImplementedError

    def unsupported_processor_reason(self, module: torch.nn.Module) -> str | None:
        """None when the module's current processor can be replaced, else why not."""
        raise NotImplementedError

    def head_dim(self, transformer: torch.nn.Module) -> int:
        raise NotImplementedError

    def token_layout(self, transformer: torch.nn.Module, args: tuple, kwargs: dict[str, Any]) -> TokenLayout:
        """Read the token grid and text length from the transformer's forward inputs."""
        raise NotImplementedError

    def make_processor(self, original: Any, route: Any) -> Any:
        """The GNA processor for one layer; ``route`` decides per call (na_accel.patch.LayerRoute)."""
        raise NotImplementedError
