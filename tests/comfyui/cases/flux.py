"""FLUX (comfy.ldm.flux.model.Flux): text-to-image, and Kontext's reference latent."""

from __future__ import annotations

import torch

from comfyui.cases.base import ComfyCase, patcher

UNET = dict(image_model="flux", in_channels=16, out_channels=16, vec_in_dim=32, context_in_dim=32, hidden_size=64,
            mlp_ratio=2.0, num_heads=2, depth=2, depth_single_blocks=2, axes_dim=[8, 12, 12], theta=10000,
            patch_size=2, qkv_bias=True, guidance_embed=False)
TEXT_TOKENS = 6


def build(comfy):
    return patcher(comfy, comfy.supported_models.Flux, UNET)


def conditioning(generator: torch.Generator, batch: int, reference: tuple[int, ...] | None = None):
    def cond():
        options = {"pooled_output": torch.randn(batch, 32, generator=generator)}
        if reference is not None:  # what ReferenceLatent adds to the conditioning (FLUX.1 Kontext)
            options["reference_latents"] = [torch.randn(batch, *reference, generator=generator)]
        return [[torch.randn(batch, TEXT_TOKENS, 32, generator=generator), options]]

    return cond(), cond()


# a 20x28 latent: a 10x14 token grid (odd sizes: windows meet the borders unevenly)
FLUX = ComfyCase("flux", "flux", build, (1, 16, 20, 28), (10, 14), conditioning)
# Kontext: the reference latent (16x12: an 8x6 grid) follows the generated image's tokens
FLUX_KONTEXT = ComfyCase("flux-kontext", "flux", build, (1, 16, 16, 20), (8, 10),
                         lambda generator, batch: conditioning(generator, batch, reference=(16, 16, 12)),
                         reference_grids=((8, 6),))
