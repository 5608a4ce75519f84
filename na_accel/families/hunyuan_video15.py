"""HunyuanVideo 1.5 (HunyuanVideo15Transformer3DModel; HunyuanVideo15Pipeline, HunyuanVideo15ImageToVideoPipeline).

Every block is dual-stream (``transformer_blocks.<i>.attn``, HunyuanVideo15AttnProcessor2_0): joint
attention over [video, text]. The forward builds the text from the image embeddings (SigLIP; for
text-to-video all zeros, and then all padding), the ByT5 glyph text and the Qwen2.5-VL prompt, and
REORDERS each row into [valid image, valid ByT5, valid Qwen, padding...]: row b's valid text is a
prefix of ``encoder_attention_mask.sum() + encoder_attention_mask_2.sum() (+ image tokens for
image-to-video)`` tokens. Each layer gets that (batch, text) mask and builds a (query AND key)
mask from it: padded text is no key, and padded text QUERIES attend to nothing.

GNA keeps both: video queries see their (frames, height, width) neighborhood plus the valid text of
their row (padding cut, as NATTEN's extra keys take no mask); text queries run dense through the
model's attention backend with the stock mask's text rows, padded rows included. A layer handed
any other mask runs the stock processor, counted. RoPE applies to video tokens only, as stock.
Image-to-video conditions by channels (the image latent and a mask concatenated to the latent:
same grid) and by the image-embedding tokens above: no extra token grid. The text-token refiner
(``context_embedder.token_refiner``) is text only and never touched.
"""

from __future__ import annotations

import re
from typing import Any

import torch
import torch.nn.functional as F
from diffusers.models.attention_processor import Attention
from diffusers.models.embeddings import apply_rotary_emb
from diffusers.models.transformers.transformer_hunyuan_video15 import (
    HunyuanVideo15AttnProcessor2_0,
    HunyuanVideo15Transformer3DModel,
)

from ..errors import Refusal
from .base import GNAProcessor, TokenLayout, forward_arguments, register_like_stock, video_token_grid
from .hunyuan_video import append_text_qkv, split_video_text_output
from .read_cache import TensorReadCache
from .text_mask import prefix_lengths
from .video import VideoAdapter

# The forward inputs the joint text is built from (the stock forward needs every one of them).
TEXT_INPUTS = ("encoder_hidden_states", "encoder_attention_mask", "encoder_hidden_states_2",
               "encoder_attention_mask_2", "image_embeds")


class HunyuanVideo15Adapter(VideoAdapter):
    family = "hunyuan_video15"
    transformer_class = HunyuanVideo15Transformer3DModel
    transformer_class_name = "HunyuanVideo15Transformer3DModel"
    pipeline_names = ("HunyuanVideo15Pipeline", "HunyuanVideo15ImageToVideoPipeline")
    stock_processor_class = HunyuanVideo15AttnProcessor2_0
    layer_name_pattern = re.compile(r"transformer_blocks\.\d+\.attn")

    def __init__(self) -> None:
        # one read of the forward's text mask (a device sync) per forward, shared by the layers
        self._mask_reader = TensorReadCache(_text_mask_lens)

    def patch_size(self, transformer: torch.nn.Module) -> tuple[int, int, int]:
        config = transformer.config
        return int(config.patch_size_t), int(config.patch_size), int(config.patch_size)

    def token_layout(self, transformer: torch.nn.Module, args: tuple, kwargs: dict[str, Any]) -> TokenLayout:
        inputs = forward_arguments(transformer, args, kwargs)
        hidden_states = inputs.get("hidden_states")
        grid = video_token_grid(hidden_states, self.patch_size(transformer))
        if isinstance(grid, Refusal):
            return TokenLayout(None, 0, False, grid)
        text = [inputs.get(name) for name in TEXT_INPUTS]
        missing = [name for name, value in zip(TEXT_INPUTS, text) if not isinstance(value, torch.Tensor)]
        if missing:
            return TokenLayout(None, 0, False, f"forward called without {', '.join(missing)} (expected all of "
                                               f"{', '.join(TEXT_INPUTS)}: the joint text is built from them)")
        qwen, qwen_mask, byt5, byt5_mask, image = text
        batch = hidden_states.shape[0]
        shaped = (
            all(t.ndim == 3 for t in (qwen, byt5, image))
            and tuple(qwen_mask.shape) == tuple(qwen.shape[:2])
            and tuple(byt5_mask.shape) == tuple(byt5.shape[:2])
            and all(t.shape[0] == batch for t in text)
        )
        if not shaped:
            return TokenLayout(None, 0, False, (
                "text inputs of unexpected shapes: expected encoder_hidden_states (B, N, C) with "
                "encoder_attention_mask (B, N), encoder_hidden_states_2 (B, N2, C2) with encoder_attention_mask_2 "
                f"(B, N2) and image_embeds (B, N3, C3), B = {batch}; got "
                + ", ".join(f"{name} {tuple(t.shape)}" for name, t in zip(TEXT_INPUTS, text))
            ))
        text_len = int(qwen.shape[1] + byt5.shape[1] + image.shape[1])
        # As the stock forward: the image tokens are valid unless every image embedding is zero
        # (text-to-video); the text masks count their nonzero entries. One device sync per forward.
        image_valid = torch.any(image != 0).to(torch.int) * image.shape[1]
        valid = qwen_mask.bool().sum(dim=1) + byt5_mask.bool().sum(dim=1) + image_valid
        return TokenLayout(grid, text_len, False, text_valid_lens=tuple(int(n) for n in valid.tolist()))

    def make_processor(self, original: Any, route: Any) -> "GNAHunyuanVideo15AttnProcessor":
        register_like_stock(GNAHunyuanVideo15AttnProcessor, HunyuanVideo15AttnProcessor2_0)
        return GNAHunyuanVideo15AttnProcessor(original, route, self._mask_reader)


def _text_mask_lens(mask: torch.Tensor) -> tuple[int, ...] | None:
    """Valid text lengths if ``mask`` (the forward's (batch, text) mask, valid = nonzero as the stock
    processor reads it) has each row's valid tokens first, else None."""
    return prefix_lengths(mask.bool()) if mask.ndim == 2 else None


class GNAHunyuanVideo15AttnProcessor(GNAProcessor):
    """HunyuanVideo15AttnProcessor2_0 with GNA among video tokens."""

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
        if encoder_hidden_states is None or attention_mask is None or not encoder_hidden_states.shape[1]:
            # every stock block passes both, with text (the prompt template is never empty)
            call = self.route.dense("called without encoder_hidden_states, attention_mask or text tokens")
        else:
            batch, n_video = hidden_states.shape[:2]
            text_len = encoder_hidden_states.shape[1]
            text_shaped = tuple(attention_mask.shape) == (batch, text_len)  # the forward's (batch, text) mask
            mask_text_lens, foreign = self._padding_mask(attention_mask, text_shaped,
                                                         lambda: self.mask_reader(attention_mask))
            call = self._route_call(attn, hidden_states, encoder_hidden_states, seq_len=n_video + text_len,
                                    text_len=text_len, foreign_mask=foreign, mask_text_lens=mask_text_lens)
        if call is None:
            return self.original(attn, hidden_states, encoder_hidden_states, attention_mask, image_rotary_emb)

        # --- as HunyuanVideo15AttnProcessor2_0, up to the mask ---
        query = attn.norm_q(attn.to_q(hidden_states).unflatten(2, (attn.heads, -1)))
        key = attn.norm_k(attn.to_k(hidden_states).unflatten(2, (attn.heads, -1)))
        value = attn.to_v(hidden_states).unflatten(2, (attn.heads, -1))
        if image_rotary_emb is not None:  # video tokens only
            query = apply_rotary_emb(query, image_rotary_emb, sequence_dim=1)
            key = apply_rotary_emb(key, image_rotary_emb, sequence_dim=1)
        query, key, value = append_text_qkv(attn, query, key, value, encoder_hidden_states)

        # The stock (query AND key) mask, text query rows only: [B, 1, text, video + text].
        text_valid = attention_mask.bool()
        key_valid = F.pad(text_valid, (query.shape[1] - text_len, 0), value=True)
        text_rows_mask = (text_valid[:, :, None] & key_valid[:, None, :])[:, None]

        # --- GNA among video tokens + valid text; text rows dense with the stock mask ---
        hidden_states = self._joint_attention(call, query, key, value, attention_mask=text_rows_mask)

        # --- as HunyuanVideo15AttnProcessor2_0, after the attention call ---
        return split_video_text_output(attn, hidden_states, text_len, query.dtype)
