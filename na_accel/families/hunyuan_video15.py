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
any other mask runs stock, counted.
Image-to-video conditions by channels (the image latent and a mask concatenated to the latent:
same grid) and by the image-embedding tokens above: no extra token grid. The text-token refiner
(``context_embedder.token_refiner``) is text only and never touched.
"""

from __future__ import annotations

from typing import Any

import torch
from diffusers.models.transformers.transformer_hunyuan_video15 import (
    HunyuanVideo15AttnProcessor2_0,
    HunyuanVideo15Transformer3DModel,
)

from ..errors import Refusal
from .base import ModelAdapter, PaddingMask, TokenLayout, video_token_grid
from .family_types import FamilySpec
from .hunyuan_video import temporal_patch_size

# The forward inputs the joint text is built from (the stock forward needs every one of them).
TEXT_INPUTS = ("encoder_hidden_states", "encoder_attention_mask", "encoder_hidden_states_2",
               "encoder_attention_mask_2", "image_embeds")


class HunyuanVideo15Layout:
    """[video, text]: the grid from the (B, C, F, H, W) latent; the joint text and its valid
    prefix per row from the text inputs, as the stock forward builds them."""

    def __call__(self, transformer: torch.nn.Module, inputs: dict[str, Any]) -> TokenLayout:
        hidden_states = inputs.get("hidden_states")
        grid = video_token_grid(hidden_states, temporal_patch_size(transformer.config))
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


def adapter(spec: FamilySpec) -> ModelAdapter:
    return ModelAdapter(
        spec,
        transformer_class=HunyuanVideo15Transformer3DModel,
        pipeline_names=("HunyuanVideo15Pipeline", "HunyuanVideo15ImageToVideoPipeline"),
        processors=(HunyuanVideo15AttnProcessor2_0,),
        token_layout=HunyuanVideo15Layout,
        # the forward's (B, text) mask, handed to every block; the processor builds its (query AND
        # key) mask from it, whose text-query rows the dense text rows get
        padding_mask=PaddingMask("attention_mask", "text"),
    )
