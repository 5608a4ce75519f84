"""FLUX (FluxTransformer2DModel): joint [text, image] attention in dual- and single-stream blocks.

Token layout: text first, then the image tokens of a row-major (height, width) grid of 2x2-packed
latent patches (1024x1024 pixels -> 64x64 tokens). The grid comes from ``img_ids`` (columns 1 and
2 hold row and column) and the text length from ``txt_ids``: single-stream blocks hand the
processor the concatenated sequence without ``encoder_hidden_states``, so only the transformer's
forward inputs tell where text ends. FLUX.1 Kontext appends the reference image's tokens, their
ids marked 1 in column 0: each run of equal column-0 values is one grid, the first the generated
image, the rest reference images (``TokenLayout.extra_grids``).
"""

from __future__ import annotations

from typing import Any, Iterator

import torch
from diffusers.models.transformers.transformer_flux import (
    FluxAttention,
    FluxAttnProcessor,
    FluxTransformer2DModel,
    _get_qkv_projections,
)

from ..errors import Refusal
from .base import ModelAdapter, TokenLayout, forward_arguments, register_like_stock
from .flux_joint import JointImageTextProcessor
from .image_ids import flux_image_grids
from .read_cache import TensorReadCache


class FluxAdapter(ModelAdapter):
    family = "flux"
    transformer_class_name = "FluxTransformer2DModel"
    pipeline_names = ("FluxPipeline", "FluxImg2ImgPipeline", "FluxInpaintPipeline", "FluxControlPipeline",
                      "FluxKontextPipeline")

    def __init__(self) -> None:
        # Pipelines build img_ids once per call: the (device-synchronizing) check runs once per tensor.
        self._grids_from_ids = TensorReadCache(flux_image_grids)

    def handles(self, transformer: torch.nn.Module) -> bool:
        return isinstance(transformer, FluxTransformer2DModel)

    def attention_layers(self, transformer: torch.nn.Module) -> Iterator[tuple[str, torch.nn.Module]]:
        for name, module in transformer.named_modules():
            if isinstance(module, FluxAttention):
                yield name, module

    def unsupported_processor_reason(self, module: torch.nn.Module) -> str | None:
        processor = module.processor
        if type(processor) is FluxAttnProcessor:
            return None
        return (
            f"processor {type(processor).__name__} is not supported (GNA replaces FluxAttnProcessor "
            "only; IP-Adapter and custom processors keep running as they are)"
        )

    def head_dim(self, transformer: torch.nn.Module) -> int:
        return int(transformer.config.attention_head_dim)

    def token_layout(self, transformer: torch.nn.Module, args: tuple, kwargs: dict[str, Any]) -> TokenLayout:
        inputs = forward_arguments(transformer, args, kwargs)
        hidden_states, img_ids, txt_ids = (inputs.get(k) for k in ("hidden_states", "img_ids", "txt_ids"))
        if img_ids is None or txt_ids is None or hidden_states is None:
            return TokenLayout(None, 0, True, "forward called without hidden_states, img_ids or txt_ids")
        if txt_ids.ndim == 3:  # deprecated batched ids: the transformer itself takes [0]
            txt_ids = txt_ids[0]
        if img_ids.ndim == 3:
            img_ids = img_ids[0]
        text_len = int(txt_ids.shape[0])
        grids = self._grids_from_ids(img_ids)
        if isinstance(grids, Refusal):
            return TokenLayout(None, text_len, True, grids)
        n_image = sum(h * w for h, w in grids)
        if hidden_states.shape[1] != n_image:
            return TokenLayout(
                None, text_len, True,
                f"{hidden_states.shape[1]} image tokens but img_ids describe grids {list(grids)} ({n_image} tokens)",
            )
        return TokenLayout(grids[0], text_len, True, extra_grids=grids[1:])

    def make_processor(self, original: Any, route: Any) -> "GNAFluxAttnProcessor":
        register_like_stock(GNAFluxAttnProcessor, FluxAttnProcessor)
        return GNAFluxAttnProcessor(original, route)


class GNAFluxAttnProcessor(JointImageTextProcessor):
    """FluxAttnProcessor with GNA among image tokens; keeps the stock ``__call__`` parameters.

    Projections, QK norms and RoPE are exactly the stock processor's.
    """

    qkv_projections = staticmethod(_get_qkv_projections)

    def __call__(
        self,
        attn: FluxAttention,
        hidden_states: torch.Tensor,
        encoder_hidden_states: torch.Tensor = None,
        attention_mask: torch.Tensor | None = None,
        image_rotary_emb: torch.Tensor | None = None,
    ) -> torch.Tensor:
        call = self._route_joint(attn, hidden_states, encoder_hidden_states, attention_mask)
        if call is None:
            return self.original(attn, hidden_states, encoder_hidden_states, attention_mask, image_rotary_emb)

        # --- as FluxAttnProcessor, up to the attention call (flux_joint.py) ---
        query, key, value = self._joint_qkv(attn, hidden_states, encoder_hidden_states, image_rotary_emb)

        # --- GNA among image tokens; text rows dense through the model's attention backend ---
        hidden_states = self._joint_attention(call, query, key, value)

        # --- as FluxAttnProcessor, after the attention call ---
        hidden_states = hidden_states.flatten(2, 3)
        hidden_states = hidden_states.to(query.dtype)
        if encoder_hidden_states is not None:
            encoder_hidden_states, hidden_states = hidden_states.split_with_sizes(
                [encoder_hidden_states.shape[1], hidden_states.shape[1] - encoder_hidden_states.shape[1]], dim=1
            )
            hidden_states = attn.to_out[0](hidden_states.contiguous())
            hidden_states = attn.to_out[1](hidden_states)
            encoder_hidden_states = attn.to_add_out(encoder_hidden_states.contiguous())
            return hidden_states, encoder_hidden_states
        return hidden_states
