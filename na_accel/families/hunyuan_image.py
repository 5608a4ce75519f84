"""HunyuanImage 2.1 (HunyuanImageTransformer2DModel; HunyuanImagePipeline, HunyuanImageRefinerPipeline).

20 dual-stream blocks (``transformer_blocks.<i>.attn``) and 40 single-stream blocks
(``single_transformer_blocks.<i>.attn``), all HunyuanImageAttnProcessor: joint attention over
[image, text]. The image tokens are a row-major (height, width) grid of 1x1 patches of a 32x
compressed latent (2048x2048 pixels -> 64x64 tokens): the forward's (B, C, H, W) latent divided by
the patch size. The refiner's latent is (B, C, 1, H, W) with a (1, 1, 1) patch: one latent frame,
the same (height, width) grid; a latent of several frames has no 2-D grid and runs stock, counted.

The text is the Qwen2.5-VL prompt, padded to the pipeline's fixed length, and, where the
checkpoint has a ByT5 projection (``context_embedder_2``) and the pipeline passes glyph text, the
ByT5 tokens: the forward reorders each row into [valid ByT5, valid Qwen, padding...], so row b's
valid text is a prefix of ``encoder_attention_mask.sum() (+ encoder_attention_mask_2.sum())``
tokens. Every block gets the (B, 1, 1, image + text) bool key mask the forward builds from it.
GNA keeps it: image queries see their neighborhood plus the valid text of their row; text queries
run dense through the model's attention backend with the stock mask. A left-padded mask (the
Qwen text without ByT5 is not reordered) is no valid prefix: stock, counted. The token refiner
(``context_embedder.token_refiner``: text only) is never touched.
"""

from __future__ import annotations

from typing import Any

import torch
from diffusers.models.transformers.transformer_hunyuanimage import (
    HunyuanImageAttnProcessor,
    HunyuanImageTransformer2DModel,
)

from ..errors import Refusal
from .base import ModelAdapter, PaddingMask, TokenLayout
from .family_types import FamilySpec


def image_token_grid(hidden_states: Any, patch_size: Any) -> tuple[int, int] | Refusal:
    """(height, width) token grid of a (B, C, H, W) latent, or of a one-frame (B, C, F, H, W) latent
    (the refiner's), divided by the config's patch size; else why there is none."""
    if not isinstance(hidden_states, torch.Tensor) or hidden_states.ndim not in (4, 5):
        shape = tuple(hidden_states.shape) if isinstance(hidden_states, torch.Tensor) else type(hidden_states).__name__
        return Refusal(f"hidden_states {shape} is not a (batch, channels, height, width) or (batch, channels, "
                       "frames, height, width) latent")
    patch = tuple(int(p) for p in patch_size)
    sizes = tuple(hidden_states.shape[2:])
    if len(patch) != len(sizes):
        return Refusal(f"latent {sizes} does not match the patch size {patch}")
    if any(n % p for n, p in zip(sizes, patch)):
        return Refusal(f"latent {sizes} is not a multiple of the patch size {patch}")
    grid = tuple(n // p for n, p in zip(sizes, patch))
    if len(grid) == 3:
        if grid[0] != 1:
            return Refusal(f"latent of {grid[0]} token frames {grid}: GNA runs HunyuanImage's one-frame (height, "
                           "width) grid")
        grid = grid[1:]
    return grid


class HunyuanImageLayout:
    """[image, text]: the grid from the latent; the joint text and its valid prefix per row from
    the text inputs, as the stock forward joins them."""

    def __call__(self, transformer: torch.nn.Module, inputs: dict[str, Any]) -> TokenLayout:
        text, mask = inputs.get("encoder_hidden_states"), inputs.get("encoder_attention_mask")
        if not isinstance(text, torch.Tensor) or not isinstance(mask, torch.Tensor):
            return TokenLayout(None, 0, False, "forward called without encoder_hidden_states or encoder_attention_mask")
        parts = [(text, mask, "encoder_hidden_states", "encoder_attention_mask")]
        text_2 = inputs.get("encoder_hidden_states_2")
        if getattr(transformer, "context_embedder_2", None) is not None and text_2 is not None:
            # as the stock forward: the ByT5 tokens join only where the model projects them
            parts.append((text_2, inputs.get("encoder_attention_mask_2"), "encoder_hidden_states_2",
                          "encoder_attention_mask_2"))
        batch = text.shape[0]
        for tokens, token_mask, name, mask_name in parts:
            if not (isinstance(token_mask, torch.Tensor) and tokens.ndim == 3 and tokens.shape[0] == batch
                    and tuple(token_mask.shape) == tuple(tokens.shape[:2])):
                got = tuple(token_mask.shape) if isinstance(token_mask, torch.Tensor) else type(token_mask).__name__
                return TokenLayout(None, 0, False, f"{name} {tuple(tokens.shape)} with {mask_name} {got}: expected "
                                   f"(B, N, C) with a (B, N) mask, B = {batch}")
        text_len = sum(int(tokens.shape[1]) for tokens, *_ in parts)
        grid = image_token_grid(inputs.get("hidden_states"), transformer.config.patch_size)
        if isinstance(grid, Refusal):
            return TokenLayout(None, text_len, False, grid)
        # row b's valid text: its nonzero mask entries (one device sync per forward)
        valid = sum(token_mask.bool().sum(dim=1) for _, token_mask, *_ in parts)
        return TokenLayout(grid, text_len, False, text_valid_lens=tuple(int(n) for n in valid.tolist()))


def adapter(spec: FamilySpec) -> ModelAdapter:
    return ModelAdapter(
        spec,
        transformer_class=HunyuanImageTransformer2DModel,
        pipeline_names=("HunyuanImagePipeline", "HunyuanImageRefinerPipeline"),
        processors=(HunyuanImageAttnProcessor,),
        token_layout=HunyuanImageLayout,
        # the forward's (B, 1, 1, image + text) bool key mask, handed to every block as is
        padding_mask=PaddingMask("attention_mask", "joint_keys"),
    )
