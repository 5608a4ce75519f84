"""Cosmos (CosmosTransformer3DModel: Cosmos-Predict1 text/video-to-world, Cosmos 2 pipelines).

Each block has self attention over the video tokens (``attn1``) and cross attention to the text
(``attn2``). Both use CosmosAttnProcessor2_0 (or 2_5 for attn2), so layers are chosen by module
name: only ``transformer_blocks.<i>.attn1`` becomes GNA; attn2 is never touched. Token grid:
the (B, C, F, H, W) input divided by ``config.patch_size``. Cosmos 2 text-to-image has a single
latent frame: that grid runs as 2-D GNA over (height, width).
"""

from __future__ import annotations

import re
from typing import Any

import torch
from diffusers.models.attention_processor import Attention
from diffusers.models.embeddings import apply_rotary_emb
from diffusers.models.transformers.transformer_cosmos import CosmosAttnProcessor2_0, CosmosTransformer3DModel

from .base import GNAProcessor, register_like_stock
from .video import VideoAdapter


class CosmosAdapter(VideoAdapter):
    family = "cosmos"
    transformer_class = CosmosTransformer3DModel
    transformer_class_name = "CosmosTransformer3DModel"
    pipeline_names = (
        "CosmosTextToWorldPipeline",
        "CosmosVideoToWorldPipeline",
        "Cosmos2TextToImagePipeline",
        "Cosmos2VideoToWorldPipeline",
    )
    stock_processor_class = CosmosAttnProcessor2_0
    layer_name_pattern = re.compile(r"transformer_blocks\.\d+\.attn1")

    def make_processor(self, original: Any, route: Any) -> "GNACosmosAttnProcessor":
        register_like_stock(GNACosmosAttnProcessor, CosmosAttnProcessor2_0)
        return GNACosmosAttnProcessor(original, route)


class GNACosmosAttnProcessor(GNAProcessor):
    """CosmosAttnProcessor2_0 for self attention with GNA over the video grid."""

    def __call__(
        self,
        attn: Attention,
        hidden_states: torch.Tensor,
        encoder_hidden_states: torch.Tensor | None = None,
        attention_mask: torch.Tensor | None = None,
        image_rotary_emb: torch.Tensor | None = None,
    ) -> torch.Tensor:
        if encoder_hidden_states is None:  # attn1 is always self attention
            call = self._route_self_attention(attn, hidden_states, attention_mask)
        else:
            call = self.route.dense("called with encoder_hidden_states (cross attention)")
        if call is None:
            return self.original(attn, hidden_states, encoder_hidden_states, attention_mask, image_rotary_emb)

        # --- as CosmosAttnProcessor2_0 (heads in dim 1 for norms and RoPE) ---
        query = attn.to_q(hidden_states).unflatten(2, (attn.heads, -1)).transpose(1, 2)
        key = attn.to_k(hidden_states).unflatten(2, (attn.heads, -1)).transpose(1, 2)
        value = attn.to_v(hidden_states).unflatten(2, (attn.heads, -1)).transpose(1, 2)
        query = attn.norm_q(query)
        key = attn.norm_k(key)
        if image_rotary_emb is not None:
            query = apply_rotary_emb(query, image_rotary_emb, use_real=True, use_real_unbind_dim=-2)
            key = apply_rotary_emb(key, image_rotary_emb, use_real=True, use_real_unbind_dim=-2)
        key = key.repeat_interleave(query.size(3) // key.size(3), dim=3)
        value = value.repeat_interleave(query.size(3) // value.size(3), dim=3)

        # --- GNA over the video grid ---
        hidden_states = self._joint_attention(call, query.transpose(1, 2), key.transpose(1, 2), value.transpose(1, 2))

        # --- as CosmosAttnProcessor2_0, after the attention call ---
        hidden_states = hidden_states.flatten(2, 3).type_as(query)
        hidden_states = attn.to_out[0](hidden_states)
        return attn.to_out[1](hidden_states)
