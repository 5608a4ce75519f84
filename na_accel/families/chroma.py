"""Chroma (ChromaTransformer2DModel; ChromaPipeline, ChromaImg2ImgPipeline, ChromaInpaintPipeline).

FLUX.1-schnell derived: joint [text, image] attention in dual-stream (``transformer_blocks.<i>.attn``)
and single-stream (``single_transformer_blocks.<i>.attn``) blocks, both FluxAttention modules running
the stock FluxAttnProcessor. Token layout as FLUX's: text first, then the row-major (height, width)
grid of 2x2-packed latents, read from ``img_ids``; the text length from ``txt_ids``.

Chroma masks the T5 padding (all but one pad token): the forward takes ``attention_mask`` (batch,
text + image) over the joint sequence, text first, and every block hands its processor the pairwise
mask ``m_i * m_j`` (batch, 1, S, S), built anew in the block. A bool mask is a padding mask: image
queries see their neighborhood plus the valid text of their row (padded keys cut), text queries
attend with the stock mask rows, as stock (``PaddingMask("attention_mask", "pairs")``; the valid
lengths are read once per forward from the forward's mask). A float mask is not: SDPA adds it to the
scores (+1 on valid pairs, 0 elsewhere), so padded keys keep weight; that is what diffusers 0.42's
Chroma pipelines pass (the text encoder's dtype; diffusers issue #12116), and such calls run stock,
counted, with that reason. Pass a bool ``prompt_attention_mask`` (and negative) for GNA.
"""

from __future__ import annotations

from typing import Any

import torch
from diffusers.models.transformers.transformer_chroma import ChromaTransformer2DModel
from diffusers.models.transformers.transformer_flux import FluxAttnProcessor

from ..errors import Refusal
from .base import ModelAdapter, PaddingMask, TokenLayout
from .family_types import FamilySpec
from .flux import FluxLayout
from .read_cache import TensorReadCache
from .text_mask import prefix_lengths


def joint_mask_text_lens(mask: torch.Tensor, text_len: int) -> tuple[int, ...] | None:
    """Per row, the valid text prefix of a (batch, text + image) bool mask; None unless each row's text
    is valid then padding and every image token is valid (one device read)."""
    return prefix_lengths(mask[:, :text_len], also=mask[:, text_len:])


class ChromaLayout:
    """FLUX's grid(s) and text, and the valid text of each row from the forward's ``attention_mask``."""

    def __init__(self) -> None:
        self._flux = FluxLayout()
        # the pipeline hands the same mask tensor to every step: read (a device sync) once
        self._lens = TensorReadCache(joint_mask_text_lens)

    def __call__(self, transformer: torch.nn.Module, inputs: dict[str, Any]) -> TokenLayout:
        layout = self._flux(transformer, inputs)
        mask = inputs.get("attention_mask")
        if layout.grid is None or mask is None:
            return layout
        text_len, batch = layout.text_len, inputs["hidden_states"].shape[0]
        tokens = text_len + layout.visual_len
        if not isinstance(mask, torch.Tensor) or tuple(mask.shape) != (batch, tokens):
            shape = tuple(mask.shape) if isinstance(mask, torch.Tensor) else type(mask).__name__
            return TokenLayout(None, text_len, True, f"attention_mask {shape} is not (batch, text + image tokens) = "
                               f"{(batch, tokens)}")
        if mask.dtype != torch.bool:
            return TokenLayout(None, text_len, True, additive_mask_reason(mask.dtype))
        lens = self._lens(mask, text_len)
        if lens is None:
            return TokenLayout(None, text_len, True, "attention_mask is not valid text then padding in every row with "
                               "every image token valid: GNA cuts right-padded text only")
        return TokenLayout(layout.grid, text_len, True, text_valid_lens=lens, extra_grids=layout.extra_grids)


def additive_mask_reason(dtype: torch.dtype) -> str:
    return (f"attention_mask is {str(dtype).removeprefix('torch.')}, not bool: the stock blocks hand SDPA its "
            "pairwise product, which is added to the scores (+1 on valid pairs) rather than masking the padded "
            "text (diffusers' Chroma pipelines pass the text encoder's dtype, diffusers issue #12116); GNA can't "
            "add it to its text keys. Pass a bool prompt_attention_mask for GNA")


def adapter(spec: FamilySpec) -> ModelAdapter:
    return ModelAdapter(
        spec,
        transformer_class=ChromaTransformer2DModel,
        pipeline_names=("ChromaPipeline", "ChromaImg2ImgPipeline", "ChromaInpaintPipeline"),
        processors=(FluxAttnProcessor,),  # not IP-Adapter's: it adds its own attention calls
        token_layout=ChromaLayout,
        # each block's (B, 1, S, S) m_i & m_j of the forward's (B, S) joint mask, built in the block
        padding_mask=PaddingMask("attention_mask", "pairs"),
    )
