"""Z-Image (ZImageTransformer2DModel; ZImagePipeline, its img2img / inpaint / ControlNet pipelines,
the modular ZImageAutoBlocks).

A single-stream DiT: the forward takes lists (one latent (C, 1, H, W) and one caption (L_b, dim)
per batch row), pads each image's tokens and each caption to a multiple of ``SEQ_MULTI_OF`` (32)
with learned pad tokens, and runs the main layers (``layers.<i>.attention``) over one joint
sequence per row: [image grid, image pad tokens, caption, caption pad tokens]. Rows whose joint
sequences differ in length (captions padded to different multiples of 32) are right-padded to the
longest and masked by a (batch, tokens) bool mask, the processor argument ``attention_mask``.

GNA takes the image grid as the (height, width) grid and everything after it as extra keys ("text",
last): the image pad tokens and the caption with its pad tokens are real keys of stock attention
(the mask keeps them), so every query attends to them and their rows run dense, as stock. Only the
batch padding behind a shorter row is cut (the valid "text" of row b is its joint length less the
grid). The refiners stay stock: ``noise_refiner`` (image tokens only, a shorter sequence than the
main layers') and ``context_refiner`` (caption only) are not matched; Omni mode (a list of images
per row, captions first, SigLIP tokens last) has no single-grid layout and runs stock, counted.
"""

from __future__ import annotations

import math
from typing import Any

import torch
from diffusers.models.transformers.transformer_z_image import ZImageTransformer2DModel, ZSingleStreamAttnProcessor

from .base import ModelAdapter, PaddingMask, TokenLayout
from .family_types import FamilySpec
from .z_image_spec import padded



class JointTokenMask(PaddingMask):
    """Z-Image's ``attention_mask``: (batch, grid + text) bool over the joint sequence, True = a
    real token; the processor makes it the (batch, 1, 1, tokens) key mask, the ``joint_keys`` form."""

    def matches(self, mask: torch.Tensor, layout: TokenLayout, batch: int) -> bool:
        return super().matches(mask[:, None, None] if mask.ndim == 2 else mask, layout, batch)

    def text_lens(self, mask: torch.Tensor, layout: TokenLayout, batch: int) -> tuple[int, ...] | None:
        return super().text_lens(mask[:, None, None] if mask.ndim == 2 else mask, layout, batch)


class ZImageLayout:
    """[grid, image pad, caption, caption pad] per row, from the forward's lists (no device read)."""

    def __call__(self, transformer: torch.nn.Module, inputs: dict[str, Any]) -> TokenLayout:
        images, captions = inputs.get("x"), inputs.get("cap_feats")
        if not isinstance(images, (list, tuple)) or not isinstance(captions, (list, tuple)) or not images:
            return TokenLayout(None, 0, False, "forward called without lists x and cap_feats")
        if any(not isinstance(image, torch.Tensor) for image in images):
            return TokenLayout(None, 0, False, "x holds lists of images (Omni mode: captions first, several "
                                               "images and SigLIP tokens per row), not one image grid per row")
        if len(captions) != len(images) or any(not isinstance(c, torch.Tensor) or c.ndim != 2 for c in captions):
            return TokenLayout(None, 0, False, "cap_feats is not one (tokens, dim) caption per image")
        patch, f_patch = int(inputs.get("patch_size", 2)), int(inputs.get("f_patch_size", 1))
        shapes = {tuple(image.shape[1:]) for image in images}
        if len(shapes) != 1 or images[0].ndim != 4:
            return TokenLayout(None, 0, False, f"the batch's images are not one (C, F, H, W) size: {sorted(shapes)}")
        frames, height, width = shapes.pop()
        if frames % f_patch or height % patch or width % patch:
            return TokenLayout(None, 0, False, f"latent (F, H, W) {(frames, height, width)} is not a multiple of the "
                                               f"patch size ({f_patch}, {patch}, {patch})")
        if frames != f_patch:
            return TokenLayout(None, 0, False, f"{frames // f_patch} latent frames: Z-Image's grid is one image")
        grid = (height // patch, width // patch)
        visual = math.prod(grid)
        # each row: its image padded to 32, then its caption padded to 32; rows padded to the longest
        valid = tuple(padded(visual) - visual + padded(int(c.shape[0])) for c in captions)
        return TokenLayout(grid, max(valid), False, text_valid_lens=valid)


class ZImageAdapter(ModelAdapter):
    """Z-Image's config names its attention width ``dim`` over ``n_heads`` heads."""

    def head_dim(self, transformer: torch.nn.Module) -> int:
        return int(transformer.config.dim) // int(transformer.config.n_heads)

    def heads(self, transformer: torch.nn.Module) -> int:
        return int(transformer.config.n_heads)


def adapter(spec: FamilySpec) -> ModelAdapter:
    return ZImageAdapter(
        spec,
        transformer_class=ZImageTransformer2DModel,
        pipeline_names=("ZImagePipeline", "ZImageImg2ImgPipeline", "ZImageInpaintPipeline",
                        "ZImageControlNetPipeline", "ZImageControlNetInpaintPipeline", "ZImageModularPipeline"),
        processors=(ZSingleStreamAttnProcessor,),
        token_layout=ZImageLayout,
        padding_mask=JointTokenMask("attention_mask", "joint_keys"),
    )
