"""Cosmos (CosmosTransformer3DModel: Cosmos-Predict1 text/video-to-world, Cosmos 2 pipelines).

Each block has self attention over the video tokens (``attn1``) and cross attention to the text
(``attn2``). Both use CosmosAttnProcessor2_0 (or 2_5 for attn2), so layers are chosen by module
name: only ``transformer_blocks.<i>.attn1`` is routed; attn2 is never touched. Token grid: the
(B, C, F, H, W) input divided by ``config.patch_size``. Cosmos 2 text-to-image has a single latent
frame: that grid runs as 2-D GNA over (height, width). Cosmos has no AttentionMixin: modules are
found by name and their processors set one by one (``set_processor``).
"""

from __future__ import annotations

from diffusers.models.transformers.transformer_cosmos import CosmosAttnProcessor2_0, CosmosTransformer3DModel

from .base import ModelAdapter, VideoSelfAttentionLayout, config_patch_size
from .family_types import FamilySpec


def adapter(spec: FamilySpec) -> ModelAdapter:
    return ModelAdapter(
        spec,
        transformer_class=CosmosTransformer3DModel,
        pipeline_names=("CosmosTextToWorldPipeline", "CosmosVideoToWorldPipeline", "Cosmos2TextToImagePipeline",
                        "Cosmos2VideoToWorldPipeline"),
        processors=(CosmosAttnProcessor2_0,),
        token_layout=lambda: VideoSelfAttentionLayout(config_patch_size),
    )
