"""Cosmos Predict2 (text-to-image and video-to-world, ``comfy.ldm.cosmos.predict2.MiniTrainDIT``).

Each block calls self attention over the video tokens alone, then cross attention to the text
(keys of the text's length: never routed). The self attention's tokens are the patch-embedded
(B, T, H, W, D) latent flattened row-major over (T, H, W); its q / k / v reach ComfyUI's attention
as [B, heads, T*H*W, head_dim] (``skip_reshape``). Grid: the (B, C, T, H, W) latent in
(patch_temporal, patch_spatial, patch_spatial) patches. Nothing adds tokens: ``concat_padding_mask``
and video-to-world's conditioning mask (``c_concat``) are channels, its conditioning frames are
frames of the latent. Text-to-image samples one latent frame: a (1, H, W) grid, 2-D GNA.
"""

from __future__ import annotations

from typing import Any

import torch

from ...families.base import TokenLayout
from ..family import BlockStack, ComfyFamily, patched_grid


def token_layout(model: torch.nn.Module, inputs: dict[str, Any]) -> TokenLayout:
    x = inputs.get("x")
    if not isinstance(x, torch.Tensor) or x.ndim != 5:
        return TokenLayout(None, 0, False, "Cosmos Predict2 called without a (batch, channels, frames, height, "
                                           "width) latent")
    patch = (model.patch_temporal, model.patch_spatial, model.patch_spatial)
    return TokenLayout(patched_grid(tuple(x.shape[-3:]), patch), 0, False)


COMFY_COSMOS_PREDICT2 = ComfyFamily(
    name="cosmos",
    model_class="comfy.ldm.cosmos.predict2:MiniTrainDIT",
    blocks=(BlockStack("blocks", "transformer_blocks.{}.attn1"),),
    token_layout=token_layout,
    attention_shape=lambda model: (model.num_heads, model.model_channels // model.num_heads),
    self_attention_call=0,  # then cross attention (call 1), stock
    description="Cosmos Predict2 text-to-image / video-to-world (comfy.ldm.cosmos.predict2.MiniTrainDIT)",
)
