"""Wan 2.1 / 2.2 (WanTransformer3DModel; WanPipeline, WanImageToVideoPipeline, ...).

Each block has self attention over the video tokens (``blocks.<i>.attn1``) and cross attention to
text and image (``attn2``), both WanAttnProcessor; only attn1 becomes GNA. Its RoPE parameter is
named ``rotary_emb``. Wan 2.2's second expert (``pipe.transformer_2``) is patched like the first.
Token grid: the (B, C, F, H, W) input divided by ``config.patch_size``.
"""

from __future__ import annotations

import re
from typing import Any

import torch
from diffusers.models.transformers.transformer_wan import (
    WanAttention,
    WanAttnProcessor,
    WanTransformer3DModel,
    _get_qkv_projections,
)

from .base import GNAProcessor, register_like_stock
from .video import VideoAdapter


class WanAdapter(VideoAdapter):
    family = "wan"
    transformer_class = WanTransformer3DModel
    transformer_class_name = "WanTransformer3DModel"
    pipeline_names = ("WanPipeline", "WanImageToVideoPipeline", "WanVideoToVideoPipeline")
    stock_processor_class = WanAttnProcessor
    layer_name_pattern = re.compile(r"blocks\.\d+\.attn1")

    def make_processor(self, original: Any, route: Any) -> "GNAWanAttnProcessor":
        register_like_stock(GNAWanAttnProcessor, WanAttnProcessor)
        return GNAWanAttnProcessor(original, route)


def _apply_wan_rotary_emb(hidden_states: torch.Tensor, freqs_cos: torch.Tensor, freqs_sin: torch.Tensor) -> torch.Tensor:
    """WanAttnProcessor's RoPE (a function local to its __call__ in diffusers), unchanged."""
    x1, x2 = hidden_states.unflatten(-1, (-1, 2)).unbind(-1)
    cos = freqs_cos[..., 0::2]
    sin = freqs_sin[..., 1::2]
    out = torch.empty_like(hidden_states)
    out[..., 0::2] = x1 * cos - x2 * sin
    out[..., 1::2] = x1 * sin + x2 * cos
    return out.type_as(hidden_states)


class GNAWanAttnProcessor(GNAProcessor):
    """WanAttnProcessor for self attention with GNA over the video grid."""

    def __call__(
        self,
        attn: WanAttention,
        hidden_states: torch.Tensor,
        encoder_hidden_states: torch.Tensor | None = None,
        attention_mask: torch.Tensor | None = None,
        rotary_emb: tuple[torch.Tensor, torch.Tensor] | None = None,
    ) -> torch.Tensor:
        if encoder_hidden_states is None and attn.add_k_proj is None:  # plain self attention only
            call = self._route_self_attention(attn, hidden_states, attention_mask, ulysses=True)
        else:
            call = self.route.dense("called with encoder_hidden_states or image keys (cross attention)")
        if call is None:
            return self.original(attn, hidden_states, encoder_hidden_states, attention_mask, rotary_emb)

        # --- as WanAttnProcessor (self attention) ---
        query, key, value = _get_qkv_projections(attn, hidden_states, None)
        query = attn.norm_q(query)
        key = attn.norm_k(key)
        query = query.unflatten(2, (attn.heads, -1))
        key = key.unflatten(2, (attn.heads, -1))
        value = value.unflatten(2, (attn.heads, -1))
        if rotary_emb is not None:
            query = _apply_wan_rotary_emb(query, *rotary_emb)
            key = _apply_wan_rotary_emb(key, *rotary_emb)

        # --- GNA over the video grid ---
        hidden_states = self._joint_attention(call, query, key, value)  # text_len 0; under Ulysses too

        # --- as WanAttnProcessor, after the attention call ---
        hidden_states = hidden_states.flatten(2, 3).type_as(query)
        hidden_states = attn.to_out[0](hidden_states)
        return attn.to_out[1](hidden_states)
