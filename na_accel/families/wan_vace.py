"""Wan-VACE (WanVACETransformer3DModel; WanVACEPipeline, Wan 2.2 VACE-Fun's ``transformer_2``).

Two stacks, both WanAttnProcessor: the Wan blocks (``blocks.<i>``) and the VACE context blocks
(``vace_blocks.<j>``), which run first over the control tokens (the patch-embedded control latent,
zero-padded to the video's token count, with the video's RoPE) and hand each a hint to the Wan
block of ``config.vace_layers[j]``. Both self attentions (``blocks.<i>.attn1``,
``vace_blocks.<j>.attn1``) are over the same (frames, height, width) token grid: the
(B, C, F, H, W) input divided by ``config.patch_size``; they are routed. The cross attentions to
the text (``attn2`` of both stacks) stay stock. Reference images (WanVACEPipeline's
``reference_images``) are latent frames put in front of the video's, on its time axis, which the
transformer's inputs don't mark: they are frames of the grid like any other.
"""

from __future__ import annotations

from diffusers.models.transformers.transformer_wan import WanAttnProcessor
from diffusers.models.transformers.transformer_wan_vace import WanVACETransformer3DModel

from .base import ModelAdapter, VideoSelfAttentionLayout, config_patch_size
from .family_types import FamilySpec


def adapter(spec: FamilySpec) -> ModelAdapter:
    return ModelAdapter(
        spec,
        transformer_class=WanVACETransformer3DModel,
        pipeline_names=("WanVACEPipeline",),
        processors=(WanAttnProcessor,),
        token_layout=lambda: VideoSelfAttentionLayout(config_patch_size),
        ulysses=False,  # diffusers has no context-parallel plan for VACE: such calls run stock, counted
    )
