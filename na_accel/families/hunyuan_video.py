"""HunyuanVideo (HunyuanVideoTransformer3DModel; HunyuanVideoPipeline, HunyuanVideoImageToVideoPipeline).

Dual-stream (``transformer_blocks.<i>.attn``) and single-stream (``single_transformer_blocks.<i>.attn``)
blocks attend over the joint sequence [video, text]. The text is padded to a fixed length: the
forward builds a key mask (B, 1, 1, N) from ``encoder_attention_mask`` in which the first
``encoder_attention_mask[b].sum()`` text tokens of row b are valid. GNA keeps that meaning: video
queries see their (frames, height, width) neighborhood plus the valid text tokens of their row
(padded ones are cut off, since NATTEN's extra keys take no mask); text queries attend to every
valid token, as stock. A layer handed any other mask (e.g. changed by a user's hook) runs the stock
processor, counted (checked eagerly; under torch.compile a mask of the padding mask's shape is trusted). RoPE applies to video tokens only, as stock. The text-token refiner
(``context_embedder.token_refiner``) is text only and never touched.
"""

from __future__ import annotations

import re
from typing import Any

import torch
from diffusers.models.attention_processor import Attention
from diffusers.models.embeddings import apply_rotary_emb
from diffusers.models.transformers.transformer_hunyuan_video import (
    HunyuanVideoAttnProcessor2_0,
    HunyuanVideoTransformer3DModel,
)

from ..errors import Refusal
from .base import GNAProcessor, TokenLayout, forward_arguments, register_like_stock, video_token_grid
from .read_cache import TensorReadCache
from .text_mask import prefix_lengths
from .video import VideoAdapter


class HunyuanVideoAdapter(VideoAdapter):
    family = "hunyuan_video"
    transformer_class = HunyuanVideoTransformer3DModel
    transformer_class_name = "HunyuanVideoTransformer3DModel"
    pipeline_names = ("HunyuanVideoPipeline", "HunyuanVideoImageToVideoPipeline")
    stock_processor_class = HunyuanVideoAttnProcessor2_0
    layer_name_pattern = re.compile(r"(single_)?transformer_blocks\.\d+\.attn")

    def __init__(self) -> None:
        # The forward builds one padding mask per call and hands it to every layer: one read (a
        # device sync) per forward, shared by the layers, not one per layer.
        self._mask_reader = TensorReadCache(padding_text_lens)

    def patch_size(self, transformer: torch.nn.Module) -> tuple[int, int, int]:
        config = transformer.config
        return int(config.patch_size_t), int(config.patch_size), int(config.patch_size)

    def token_layout(self, transformer: torch.nn.Module, args: tuple, kwargs: dict[str, Any]) -> TokenLayout:
        inputs = forward_arguments(transformer, args, kwargs)
        text, text_mask = inputs.get("encoder_hidden_states"), inputs.get("encoder_attention_mask")
        if not isinstance(text, torch.Tensor) or not isinstance(text_mask, torch.Tensor):
            return TokenLayout(None, 0, False, "forward called without encoder_hidden_states or encoder_attention_mask")
        text_len = int(text.shape[1])
        grid = video_token_grid(inputs.get("hidden_states"), self.patch_size(transformer))
        if isinstance(grid, Refusal):
            return TokenLayout(None, text_len, False, grid)
        # As the stock forward: row b's valid text is its first mask.sum() tokens (one sync per forward).
        valid = tuple(int(n) for n in text_mask.sum(dim=1, dtype=torch.int).tolist())
        return TokenLayout(grid, text_len, False, text_valid_lens=valid)

    def make_processor(self, original: Any, route: Any) -> "GNAHunyuanVideoAttnProcessor":
        register_like_stock(GNAHunyuanVideoAttnProcessor, HunyuanVideoAttnProcessor2_0)
        return GNAHunyuanVideoAttnProcessor(original, route, self._mask_reader)


def padding_text_lens(mask: torch.Tensor, n_video: int) -> tuple[int, ...] | None:
    """Valid text lengths if ``mask`` is the forward's (B, 1, 1, video + text) padding mask (every
    video key valid, each row's text a valid prefix), else None."""
    if mask.ndim != 4 or mask.shape[1:3] != (1, 1) or mask.dtype != torch.bool:
        return None
    keys = mask[:, 0, 0]
    return prefix_lengths(keys[:, n_video:], also=keys[:, :n_video])


class GNAHunyuanVideoAttnProcessor(GNAProcessor):
    """HunyuanVideoAttnProcessor2_0 with GNA among video tokens."""

    def __init__(self, original: Any, route: Any, mask_reader: TensorReadCache) -> None:
        super().__init__(original, route)
        self.mask_reader = mask_reader

    def __call__(
        self,
        attn: Attention,
        hidden_states: torch.Tensor,
        encoder_hidden_states: torch.Tensor | None = None,
        attention_mask: torch.Tensor | None = None,
        image_rotary_emb: torch.Tensor | None = None,
    ) -> torch.Tensor:
        if encoder_hidden_states is None:  # every stock block passes the text
            call = self.route.dense("called without encoder_hidden_states (no text to place)")
        else:
            batch, n_video = hidden_states.shape[:2]
            seq_len = n_video + encoder_hidden_states.shape[1]
            padding_shaped = attention_mask is not None and tuple(attention_mask.shape) == (batch, 1, 1, seq_len)
            mask_text_lens, foreign = self._padding_mask(attention_mask, padding_shaped,
                                                         lambda: self.mask_reader(attention_mask, n_video))
            call = self._route_call(attn, hidden_states, encoder_hidden_states, seq_len=seq_len,
                                    text_len=encoder_hidden_states.shape[1], foreign_mask=foreign,
                                    mask_text_lens=mask_text_lens)
        if call is None:
            return self.original(attn, hidden_states, encoder_hidden_states, attention_mask, image_rotary_emb)

        text_len = encoder_hidden_states.shape[1]
        single_stream = attn.add_q_proj is None
        if single_stream:
            hidden_states = torch.cat([hidden_states, encoder_hidden_states], dim=1)

        # --- as HunyuanVideoAttnProcessor2_0, up to the attention call ---
        query = attn.to_q(hidden_states).unflatten(2, (attn.heads, -1))
        key = attn.to_k(hidden_states).unflatten(2, (attn.heads, -1))
        value = attn.to_v(hidden_states).unflatten(2, (attn.heads, -1))
        if attn.norm_q is not None:
            query = attn.norm_q(query)
        if attn.norm_k is not None:
            key = attn.norm_k(key)
        if image_rotary_emb is not None and not single_stream:  # every token here is a video token
            query, key = (apply_rotary_emb(x, image_rotary_emb, sequence_dim=1) for x in (query, key))
        elif image_rotary_emb is not None:  # video tokens only: all but the text tail
            video_len = query.shape[1] - text_len
            query, key = (
                torch.cat([apply_rotary_emb(x[:, :video_len], image_rotary_emb, sequence_dim=1), x[:, video_len:]], dim=1)
                for x in (query, key)
            )
        if not single_stream:
            query, key, value = append_text_qkv(attn, query, key, value, encoder_hidden_states)

        # --- GNA among video tokens + valid text; text rows dense with the stock mask ---
        hidden_states = self._joint_attention(call, query, key, value, attention_mask=attention_mask)

        # --- as HunyuanVideoAttnProcessor2_0, after the attention call ---
        return split_video_text_output(attn, hidden_states, text_len, query.dtype)


def append_text_qkv(attn: Attention, query: torch.Tensor, key: torch.Tensor, value: torch.Tensor,
                    encoder_hidden_states: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """As the stock HunyuanVideo (dual-stream) and HunyuanVideo 1.5 processors: the text's own
    projections and norms, appended after the video tokens."""
    encoder_query = attn.add_q_proj(encoder_hidden_states).unflatten(2, (attn.heads, -1))
    encoder_key = attn.add_k_proj(encoder_hidden_states).unflatten(2, (attn.heads, -1))
    encoder_value = attn.add_v_proj(encoder_hidden_states).unflatten(2, (attn.heads, -1))
    if attn.norm_added_q is not None:
        encoder_query = attn.norm_added_q(encoder_query)
    if attn.norm_added_k is not None:
        encoder_key = attn.norm_added_k(encoder_key)
    return (torch.cat([query, encoder_query], dim=1), torch.cat([key, encoder_key], dim=1),
            torch.cat([value, encoder_value], dim=1))


def split_video_text_output(attn: Attention, hidden_states: torch.Tensor, text_len: int,
                            dtype: torch.dtype) -> tuple[torch.Tensor, torch.Tensor]:
    """As both stock processors after the attention call: [video, text] rows, each through its output projection."""
    hidden_states = hidden_states.flatten(2, 3).to(dtype)
    hidden_states, encoder_hidden_states = hidden_states[:, :-text_len], hidden_states[:, -text_len:]
    if getattr(attn, "to_out", None) is not None:
        hidden_states = attn.to_out[0](hidden_states)
        hidden_states = attn.to_out[1](hidden_states)
    if getattr(attn, "to_add_out", None) is not None:
        encoder_hidden_states = attn.to_add_out(encoder_hidden_states)
    return hidden_states, encoder_hidden_states
