"""Tiny random-weight pipelines, built from config offline: for the demo, the tests and CI.

They have the real model classes and token layouts at toy width (2 heads x head_dim 16), so
every code path of a full-size model runs in milliseconds on a CPU. Their outputs are noise.

One module per model family: flux, hunyuan_video, cosmos, wan.
"""

from .flux import (
    TINY_FLUX_POOLED_DIM,
    TINY_FLUX_TEXT_DIM,
    FluxPromptEmbeds,
    flux_transformer_inputs,
    tiny_flux_pipeline,
    tiny_flux_prompt,
    tiny_flux_transformer,
)

__all__ = [
    "TINY_FLUX_POOLED_DIM",
    "TINY_FLUX_TEXT_DIM",
    "FluxPromptEmbeds",
    "flux_transformer_inputs",
    "tiny_flux_pipeline",
    "tiny_flux_prompt",
    "tiny_flux_transformer",
]
