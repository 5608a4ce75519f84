"""HunyuanVideo (HunyuanVideoTransformer3DModel; HunyuanVideoPipeline, HunyuanVideoImageToVideoPipeline).

Dual-stream (``transformer_blocks.<i>.attn``) and single-stream (``single_transformer_blocks.<i>.attn``)
blocks attend over the joint sequence [video, text]. The text is padded to a fixed length: the
forward builds a key mask (B, 1, 1, N) from ``encoder_attention_mask`` in which the first
``encoder_attention_mask[b].sum()`` text tokens of row b are valid. GNA keeps that meaning: video
queries see their (frames, height, width) neighborhood plus the valid text tokens of their row
(padded ones are cut off, since NATTEN's extra keys take no mask); text queries attend to every
valid token with the stock mask, as stock. A layer handed any other mask (e.g. changed by a user's
hook) runs stock, counted (checked eagerly; under torch.compile a mask of the padding mask's shape
is trusted). The text-token refiner (``context_embedder.token_refiner``) is text only and never
touched.
"""

from __future__ import annotations

from typing import Any

import torch
from diffusers.models.transformers.transformer_hunyuan_video import (
    HunyuanVideoAttnProcessor2_0,
    HunyuanVideoTransformer3DModel,
)

from ..errors import Refusal
from .base import ModelAdapter, PaddingMask, TokenLayout, video_token_grid
from .family_types import FamilySpec


def temporal_patch_size(config: Any) -> tuple[int, int, int]:
    """(frames, height, width) patch size of the HunyuanVideo configs (``patch_size_t``, ``patch_size``)."""
    return int(config.patch_size_t), int(config.patch_size), int(config.patch_size)


class HunyuanVideoLayout:
    """[video, text]: the grid from the (B, C, F, H, W) latent, the valid text from ``encoder_attention_mask``."""

    def __call__(self, transformer: torch.nn.Module, inputs: dict[str, Any]) -> TokenLayout:
        text, text_mask = inputs.get("encoder_hidden_states"), inputs.get("encoder_attention_mask")
        if not isinstance(text, torch.Tensor) or not isinstance(text_mask, torch.Tensor):
            return TokenLayout(None, 0, False, "forward called without encoder_hidden_states or encoder_attention_mask")
        text_len = int(text.shape[1])
        grid = video_token_grid(inputs.get("hidden_states"), temporal_patch_size(transformer.config))
        if isinstance(grid, Refusal):
            return TokenLayout(None, text_len, False, grid)
        # As the stock forward: row b's valid text is its first mask.sum() tokens (one sync per forward).
        valid = tuple(int(n) for n in text_mask.sum(dim=1, dtype=torch.int).tolist())
        return TokenLayout(grid, text_len, False, text_valid_lens=valid)


def adapter(spec: FamilySpec) -> ModelAdapter:
    return ModelAdapter(
        spec,
        transformer_class=HunyuanVideoTransformer3DModel,
        pipeline_names=("HunyuanVideoPipeline", "HunyuanVideoImageToVideoPipeline"),
        processors=(HunyuanVideoAttnProcessor2_0,),
        token_layout=HunyuanVideoLayout,
        # the forward's (B, 1, 1, video + text) key mask, handed to every block as is
        padding_mask=PaddingMask("attention_mask", "joint_keys"),
    )
