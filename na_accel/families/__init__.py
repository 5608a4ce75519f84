"""Model adapters: one small module per diffusers model family."""

from __future__ import annotations

import torch

from ..errors import UnsupportedModelError
from .base import ModelAdapter, TokenLayout


def all_adapters() -> list[ModelAdapter]:
    from .cosmos import CosmosAdapter
    from .flux import FluxAdapter
    from .hunyuan_video import HunyuanVideoAdapter
    from .wan import WanAdapter

    return [FluxAdapter(), HunyuanVideoAdapter(), CosmosAdapter(), WanAdapter()]


def adapter_for(transformer: torch.nn.Module, where: str = "transformer") -> ModelAdapter:
    for adapter in all_adapters():
        if adapter.handles(transformer):
            return adapter
    raise UnsupportedModelError(
        f"{where}: {type(transformer).__name__} is not supported; supported transformers: "
        f"{supported_models_text()}"
    )


def supported_models_text() -> str:
    return "; ".join(
        f"{a.transformer_class_name} (recipe model {a.family!r}, pipelines {', '.join(a.pipeline_names)})"
        for a in all_adapters()
    )


__all__ = ["ModelAdapter", "TokenLayout", "adapter_for", "all_adapters", "supported_models_text"]
