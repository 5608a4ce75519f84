"""SkyReels-V2 (SkyReelsV2Transformer3DModel; SkyReelsV2Pipeline, its image-to-video and its
diffusion-forcing pipelines).

Wan's architecture: each block has self attention over the video tokens (``blocks.<i>.attn1``) and
cross attention to the text and image (``attn2``), both SkyReelsV2AttnProcessor; attn1 is routed.
Token grid: the (B, C, F, H, W) input divided by ``config.patch_size``.

Diffusion forcing: the diffusion-forcing pipelines give each latent frame its own timestep (that
changes only the modulation, not the attention) and, with ``causal_block_size`` > 1 (asynchronous
generation; it sets ``config.num_frame_per_block``), the transformer hands every attn1 a
block-causal mask in time: a frame sees the frames of its own block and of earlier blocks. That
mask is no GNA window, so such calls run stock, counted with the reason. With one frame per block
(the default, synchronous mode) there is no mask and attn1 is plain self attention: GNA.
"""

from __future__ import annotations

from typing import Any

import torch
from diffusers.models.transformers.transformer_skyreels_v2 import (SkyReelsV2AttnProcessor,
                                                                  SkyReelsV2Transformer3DModel)

from .base import ModelAdapter, TokenLayout, VideoSelfAttentionLayout, config_patch_size
from .family_types import FamilySpec


class SkyReelsV2Layout(VideoSelfAttentionLayout):
    """Wan's layout (video tokens only), none while the transformer masks its attention causally in time."""

    def __init__(self) -> None:
        super().__init__(config_patch_size)

    def __call__(self, transformer: torch.nn.Module, inputs: dict[str, Any]) -> TokenLayout:
        frames_per_block = int(getattr(transformer.config, "num_frame_per_block", 1) or 1)
        if frames_per_block > 1:
            return TokenLayout(None, 0, False, (
                f"diffusion forcing with causal blocks of {frames_per_block} latent frames (num_frame_per_block="
                f"{frames_per_block}): attn1 takes a block-causal mask in time, which is no GNA window"))
        return super().__call__(transformer, inputs)


def adapter(spec: FamilySpec) -> ModelAdapter:
    return ModelAdapter(
        spec,
        transformer_class=SkyReelsV2Transformer3DModel,
        pipeline_names=("SkyReelsV2Pipeline", "SkyReelsV2ImageToVideoPipeline", "SkyReelsV2DiffusionForcingPipeline",
                        "SkyReelsV2DiffusionForcingImageToVideoPipeline",
                        "SkyReelsV2DiffusionForcingVideoToVideoPipeline"),
        processors=(SkyReelsV2AttnProcessor,),
        token_layout=SkyReelsV2Layout,
        ulysses=False,  # diffusers has no context-parallel plan for SkyReels-V2: such calls run stock, counted
    )
