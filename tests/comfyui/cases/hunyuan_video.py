"""HunyuanVideo 1.0 (comfy.ldm.hunyuan_video.model.HunyuanVideo): text-to-video."""

from __future__ import annotations

import torch

from comfyui.cases.base import ComfyCase, patcher

# comfy.model_detection's HunyuanVideo config, tiny: a 1x2x2 patch, the CLIP-L pooled input
# (vec_in_dim), guidance-distilled (guidance_in), no byT5 / meanflow (HunyuanImage 2.1's)
UNET = dict(image_model="hunyuan_video", in_channels=16, out_channels=16, vec_in_dim=32, context_in_dim=32,
            hidden_size=64, mlp_ratio=2.0, num_heads=2, depth=1, depth_single_blocks=1, axes_dim=[8, 12, 12],
            theta=256, patch_size=[1, 2, 2], qkv_bias=True, guidance_embed=True, byt5=False, meanflow=False)
TEXT_TOKENS = 6


def build(comfy, config: str = "HunyuanVideo", **unet):
    return patcher(comfy, getattr(comfy.supported_models, config), {**UNET, **unet})


def conditioning(generator: torch.Generator, batch: int, **options):
    """What CLIPTextEncode gives with HunyuanVideo's text encoder: the LLaMA hidden states and the
    CLIP-L pooled output; no ``attention_mask`` (it pads nothing and drops an all-valid mask)."""
    def cond():
        return [[torch.randn(batch, TEXT_TOKENS, 32, generator=generator),
                 {"pooled_output": torch.randn(batch, 32, generator=generator), **options}]]

    return cond(), cond()


# a 3-frame 10x14 latent: a 3x5x7 token grid (odd sizes: windows meet the borders unevenly)
HUNYUAN_VIDEO = ComfyCase("hunyuan_video", "hunyuan_video", build, (1, 16, 3, 10, 14), (3, 5, 7), conditioning)
