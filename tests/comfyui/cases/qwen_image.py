"""Qwen-Image (comfy.ldm.qwen_image.model.QwenImageTransformer2DModel): text-to-image, and
Qwen-Image-Edit's reference latents."""

from __future__ import annotations

import torch

from comfyui.cases.base import ComfyCase, patcher

# in_channels: 16 latent channels x 2x2 patches; axes_dims_rope sums to attention_head_dim
UNET = dict(image_model="qwen_image", patch_size=2, in_channels=64, out_channels=16, num_layers=2,
            attention_head_dim=32, num_attention_heads=2, joint_attention_dim=32, axes_dims_rope=(8, 12, 12))
TEXT_TOKENS = 7


def build(comfy):
    return patcher(comfy, comfy.supported_models.QwenImage, UNET)


def conditioning(generator: torch.Generator, batch: int, references: tuple[tuple[int, ...], ...] = (),
                 text_tokens: int = TEXT_TOKENS, **extra):
    """(positive, negative) as ComfyUI's Qwen text encoder gives them: the text (no pooled output
    the model uses); ``references``: the VAE latents (C, 1, H, W) TextEncodeQwenImageEdit(Plus) /
    ReferenceLatent append as ``reference_latents`` (on both prompts, as the Edit workflows do);
    ``extra``: more conditioning values (e.g. ``reference_latents_method``)."""
    def cond():
        options = dict(extra)
        if references:
            options["reference_latents"] = [torch.randn(batch, *r, generator=generator) for r in references]
        return [[torch.randn(batch, text_tokens, 32, generator=generator), options]]

    return cond(), cond()


# a 13x18 latent (one frame: ComfyUI's Qwen latents are 5-D), padded to 14x18: a 7x9 token grid
QWEN_IMAGE = ComfyCase("qwen-image", "qwen_image", build, (1, 16, 1, 13, 18), (7, 9), conditioning)
# Edit (Plus): two reference latents after the image's tokens, in their order: 9x8 -> padded 10x8 -> 5x4,
# then 6x10 -> 3x5
EDIT_REFERENCES = ((16, 1, 9, 8), (16, 1, 6, 10))
QWEN_IMAGE_EDIT = ComfyCase("qwen-image-edit", "qwen_image", build, (1, 16, 1, 10, 11), (5, 6),
                            lambda generator, batch: conditioning(generator, batch, EDIT_REFERENCES),
                            reference_grids=((5, 4), (3, 5)))
