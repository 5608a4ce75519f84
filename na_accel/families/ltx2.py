"""LTX-2 (LTX2VideoTransformer3DModel; LTX2Pipeline, LTX2ImageToVideoPipeline, LTX2ConditionPipeline, ...).

Audio and video in one transformer. Each block has video self attention (``attn1``), audio self
attention (``audio_attn1``), cross attention of each to its text (``attn2``, ``audio_attn2``) and
audio<->video cross attention (``audio_to_video_attn``, ``video_to_audio_attn``): separate
modules, so only the video self attention is routed; the audio stream and every cross attention
stay stock. Processors: LTX2AudioVideoAttnProcessor (LTX-2.0) or LTX2PerturbedAttnProcessor
(LTX-2.3 and later: spatio-temporal guidance skips the attention of perturbed blocks; such a call
makes no attention call and is counted stock).

The pipelines hand the transformer packed video tokens, (batch, tokens, channels), with the latent
size as ``num_frames``, ``height`` and ``width``: the token grid is that divided by the patch size
(``patch_size_t``, ``patch_size``), row-major. Condition pipelines append keyframe (and IC-LoRA
reference) tokens after the grid: they join every video query's keys as extra tokens (like text)
and attend densely themselves. IC-LoRA's ``video_self_attention_mask`` is a mask GNA can't honour:
those calls run stock, counted. Pipelines that pass ``video_coords`` only (the DFR tile pipelines)
give no grid: stock, counted.
"""

from __future__ import annotations

import math
from typing import Any

import torch
from diffusers.models.transformers import transformer_ltx2
from diffusers.models.transformers.transformer_ltx2 import LTX2AudioVideoAttnProcessor, LTX2VideoTransformer3DModel

from .base import ModelAdapter, TokenLayout
from .family_types import FamilySpec
from .ltx_video import packed_grid_sizes


# LTX2PerturbedAttnProcessor came with LTX-2.3 (diffusers 0.38); 0.37 has the first only.
PROCESSORS = tuple(
    cls for cls in (LTX2AudioVideoAttnProcessor, getattr(transformer_ltx2, "LTX2PerturbedAttnProcessor", None))
    if cls is not None
)


class LTX2Layout:
    """The grid is the latent (num_frames, height, width) over the patch size, rounded up as the
    RoPE's coordinates are; tokens past the grid (appended keyframes, references) are extra keys."""

    def __call__(self, transformer: torch.nn.Module, inputs: dict[str, Any]) -> TokenLayout:
        hidden_states = inputs.get("hidden_states")
        if not isinstance(hidden_states, torch.Tensor) or hidden_states.ndim != 3:
            return TokenLayout(None, 0, False, "hidden_states is not a packed (batch, tokens, channels) tensor")
        sizes = packed_grid_sizes(inputs)
        if isinstance(sizes, str):
            return TokenLayout(None, 0, False, sizes)
        config = transformer.config
        patch = (int(config.patch_size_t), int(config.patch_size), int(config.patch_size))
        grid = tuple(-(-n // p) for n, p in zip(sizes, patch))
        extra = hidden_states.shape[1] - math.prod(grid)
        if extra < 0:
            return TokenLayout(None, 0, False, f"{hidden_states.shape[1]} video tokens but the latent {sizes} over the "
                                               f"patch size {patch} is a {grid} grid ({math.prod(grid)} tokens)")
        return TokenLayout(grid, extra, False)  # appended conditioning tokens: extra keys after the grid


def adapter(spec: FamilySpec) -> ModelAdapter:
    return ModelAdapter(
        spec,
        transformer_class=LTX2VideoTransformer3DModel,
        pipeline_names=("LTX2Pipeline", "LTX2ImageToVideoPipeline", "LTX2ConditionPipeline", "LTX2HDRPipeline",
                        "LTX2InContextPipeline"),
        processors=PROCESSORS,
        token_layout=LTX2Layout,
    )
