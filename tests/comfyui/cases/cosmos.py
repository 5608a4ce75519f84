"""Cosmos Predict2 (comfy.ldm.cosmos.predict2.MiniTrainDIT): text-to-image (one latent frame) and
video-to-world (the 17-channel model: a video latent plus the conditioning-mask channel)."""

from __future__ import annotations

import torch

from comfyui.cases.base import ComfyCase, patcher

# model_detection's Predict2 config (padding-mask channel, RoPE 3-D, AdaLN-LoRA, patch 1x2x2), tiny:
# head_dim 32
UNET = dict(image_model="cosmos_predict2", max_img_h=240, max_img_w=240, max_frames=128, in_channels=16,
            out_channels=16, patch_spatial=2, patch_temporal=1, concat_padding_mask=True, model_channels=64,
            num_blocks=2, num_heads=2, mlp_ratio=2.0, crossattn_emb_channels=32, pos_emb_cls="rope3d",
            pos_emb_learnable=True, pos_emb_interpolation="crop", min_fps=1, max_fps=30, use_adaln_lora=True,
            adaln_lora_dim=16, extra_per_block_abs_pos_emb=False, rope_h_extrapolation_ratio=4.0,
            rope_w_extrapolation_ratio=4.0, rope_t_extrapolation_ratio=1.0, rope_enable_fps_modulation=False)
# video-to-world: 16 latent + 1 mask channel; the 14B's learnable per-block positions
UNET_V2W = {**UNET, "in_channels": 17, "extra_per_block_abs_pos_emb": True, "rope_h_extrapolation_ratio": 2.0,
            "rope_w_extrapolation_ratio": 2.0, "rope_t_extrapolation_ratio": 0.8333333333333334}
TEXT_TOKENS, TEXT_VALID = 6, 4


def build_t2i(comfy):
    return patcher(comfy, comfy.supported_models.CosmosT2IPredict2, UNET)


def build_v2w(comfy):
    return patcher(comfy, comfy.supported_models.CosmosI2VPredict2, UNET_V2W)


def conditioning(generator: torch.Generator, batch: int):
    """What CLIPTextEncode gives with Cosmos' T5: the padded tokens zeroed, and their attention mask
    (which Predict2's extra_conds does not pass on: its cross attention runs unmasked)."""
    def cond():
        mask = (torch.arange(TEXT_TOKENS) < TEXT_VALID).long().expand(batch, -1)
        text = torch.randn(batch, TEXT_TOKENS, 32, generator=generator) * mask[..., None]
        return [[text, {"pooled_output": None, "attention_mask": mask}]]

    return cond(), cond()


# text-to-image: KSampler's latent (EmptySD3LatentImage, given Wan21's 3-D latent format a frame
# axis): 1 frame of 18x26 -> a 1x9x13 grid (2-D GNA over 9x13)
COSMOS_T2I = ComfyCase("cosmos-predict2-t2i", "cosmos", build_t2i, (1, 16, 1, 18, 26), (1, 9, 13), conditioning)
# video-to-world: 3 latent frames of 10x14 (CosmosPredict2ImageToVideoLatent without images) -> 3x5x7
COSMOS_V2W = ComfyCase("cosmos-predict2-v2w", "cosmos", build_v2w, (1, 16, 3, 10, 14), (3, 5, 7), conditioning)
