"""Qwen-Image and Qwen-Image-Edit (``comfy.ldm.qwen_image.model.QwenImageTransformer2DModel``).

Every block's joint attention runs over [text, image, reference images], text first: the image's
(height, width) token grid is the latent (B, C, 1, H, W) (ComfyUI's Qwen latents are 5-D, one
frame) in 2x2 patches, padded up; Qwen-Image-Edit's ``ref_latents`` (TextEncodeQwenImageEdit /
EditPlus, ReferenceLatent) follow it, one grid each, whatever their ``ref_latents_method`` (it
moves their position ids, not their tokens). The block hands its attention no mask (the forward's
``attention_mask`` never reaches it), so there is no text padding to read. ComfyUI's Qwen-Image
ControlNet (a subclass) runs its blocks without ``transformer_options``: it never meets the seam.
"""

from __future__ import annotations

from typing import Any

import torch

from ...families.base import TokenLayout
from ..family import BlockStack, ComfyFamily, patched_grid

PATCH = 2  # ComfyUI's process_img packs 2x2 patches whatever the config's patch_size


def _grid(latent: Any, what: str) -> tuple[int, int] | str:
    """The (height, width) token grid of a (B, C, 1, H, W) latent, or why it has none."""
    if not isinstance(latent, torch.Tensor) or latent.ndim != 5 or latent.shape[2] != 1:
        shape = tuple(latent.shape) if isinstance(latent, torch.Tensor) else type(latent).__name__
        return f"Qwen-Image's {what} is {shape}, not a one-frame (batch, channels, 1, height, width) latent"
    return patched_grid(tuple(latent.shape[-2:]), (PATCH, PATCH))


def token_layout(model: torch.nn.Module, inputs: dict[str, Any]) -> TokenLayout:
    context = inputs.get("context")
    if not isinstance(context, torch.Tensor) or context.ndim != 3:
        return TokenLayout(None, 0, True, "Qwen-Image called without a (batch, tokens, features) context")
    text_len = int(context.shape[1])
    if model.patch_size != PATCH:
        return TokenLayout(None, text_len, True, f"Qwen-Image with patch_size {model.patch_size}: ComfyUI packs 2x2")
    grids = [_grid(inputs.get("x"), "latent")]
    grids += [_grid(ref, f"reference latent {i}") for i, ref in enumerate(inputs.get("ref_latents") or ())]
    problem = next((g for g in grids if isinstance(g, str)), None)
    if problem is not None:
        return TokenLayout(None, text_len, True, problem)
    return TokenLayout(grids[0], text_len, True, extra_grids=tuple(grids[1:]))


COMFY_QWEN_IMAGE = ComfyFamily(
    name="qwen_image",
    model_class="comfy.ldm.qwen_image.model:QwenImageTransformer2DModel",
    blocks=(BlockStack("transformer_blocks", "transformer_blocks.{}.attn"),),
    token_layout=token_layout,
    attention_shape=lambda model: (model.transformer_blocks[0].attn.heads, model.transformer_blocks[0].attn.dim_head),
    description="Qwen-Image / Qwen-Image-Edit (comfy.ldm.qwen_image.model.QwenImageTransformer2DModel)",
)
