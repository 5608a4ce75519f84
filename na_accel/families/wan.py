"""Wan 2.1 / 2.2 (WanTransformer3DModel; WanPipeline, WanImageToVideoPipeline, ...).

Each block has self attention over the video tokens (``blocks.<i>.attn1``) and cross attention to
text and image (``attn2``), both WanAttnProcessor; only attn1 is routed. Wan 2.2's second expert
(``pipe.transformer_2``) is patched like the first. Token grid: the (B, C, F, H, W) input divided
by ``config.patch_size``.
"""

from __future__ import annotations

from diffusers.models.transformers.transformer_wan import WanAttnProcessor, WanTransformer3DModel

from .base import ModelAdapter, VideoSelfAttentionLayout, config_patch_size
from .family_types import FamilySpec


def adapter(spec: FamilySpec) -> ModelAdapter:
    return ModelAdapter(
        spec,
        transformer_class=WanTransformer3DModel,  # exact class: subclasses (VACE, ...) add other tokens
        pipeline_names=("WanPipeline", "WanImageToVideoPipeline", "WanVideoToVideoPipeline"),
        processors=(WanAttnProcessor,),
        token_layout=lambda: VideoSelfAttentionLayout(config_patch_size),
        ulysses=True,
    )
