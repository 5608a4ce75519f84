"""Tiny random-weight pipelines, built from config offline: for the demo, the tests and CI.

They have the real model classes and token layouts at toy width (2 heads x head_dim 16), so
every code path of a full-size model runs in milliseconds on a CPU. Their outputs are noise.

One module per model family (flux, hunyuan_video, cosmos, wan), each with a tiny transformer,
a config-driven input builder for a bare transformer of that class (tiny or full size) and, for
the video families, a tiny offline pipeline with a helper giving small-generation call kwargs.
"""

from .cosmos import TINY_COSMOS_TEXT_DIM, cosmos_transformer_inputs, tiny_cosmos_transformer
from .flux import (
    TINY_FLUX_POOLED_DIM,
    TINY_FLUX_TEXT_DIM,
    FluxPromptEmbeds,
    flux_transformer_inputs,
    tiny_flux_pipeline,
    tiny_flux_prompt,
    tiny_flux_transformer,
)
from .hunyuan_video import (
    TINY_HUNYUAN_POOLED_DIM,
    TINY_HUNYUAN_TEXT_DIM,
    hunyuan_video_transformer_inputs,
    tiny_hunyuan_video_transformer,
)
from .wan import TINY_WAN_TEXT_DIM, tiny_wan_transformer, wan_transformer_inputs

__all__ = [
    "TINY_COSMOS_TEXT_DIM",
    "TINY_FLUX_POOLED_DIM",
    "TINY_FLUX_TEXT_DIM",
    "TINY_HUNYUAN_POOLED_DIM",
    "TINY_HUNYUAN_TEXT_DIM",
    "TINY_WAN_TEXT_DIM",
    "FluxPromptEmbeds",
    "cosmos_transformer_inputs",
    "flux_transformer_inputs",
    "hunyuan_video_transformer_inputs",
    "tiny_cosmos_transformer",
    "tiny_flux_pipeline",
    "tiny_flux_prompt",
    "tiny_flux_transformer",
    "tiny_hunyuan_video_transformer",
    "tiny_wan_transformer",
    "wan_transformer_inputs",
]
