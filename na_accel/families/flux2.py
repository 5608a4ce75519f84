"""FLUX.2 (Flux2Transformer2DModel; Flux2Pipeline, the Flux2Klein pipelines): joint [text, image] attention.

Token layout: text first, then the image tokens: the generated image's row-major (height, width)
grid of 2x2-patchified latents (1024x1024 pixels -> 64x64 tokens), then the grid of each reference
image (editing, multi-reference: ``TokenLayout.extra_grids``). The grids come from ``img_ids``
(positions (t, h, w, l), see image_ids.py) and the text length from ``encoder_hidden_states``:
single-stream blocks hand the processor the concatenated sequence only, so the transformer's
forward inputs tell where text ends. Each grid's queries see their own neighborhood, all text and
every token of the other images; text queries see everything, as stock.

Double-stream blocks (``transformer_blocks.<i>.attn``, Flux2AttnProcessor) and single-stream
blocks (``single_transformer_blocks.<i>.attn``, Flux2ParallelSelfAttnProcessor, QKV fused with
the MLP) are both routed; their Klein-KV variants too, for calls without a KV-cache mode. The
pipelines pass no attention mask (padded text tokens are keys in the stock model, and stay keys).
Calls that run stock, counted: the Klein-KV cache modes "extract" / "cached" (reference tokens
that attend only to themselves, or cached keys without queries: not GNA's joint layout), ids that
are not row-major grids.
"""

from __future__ import annotations

from typing import Any

import torch
from diffusers.models.transformers import transformer_flux2
from diffusers.models.transformers.transformer_flux2 import (
    Flux2AttnProcessor,
    Flux2ParallelSelfAttnProcessor,
    Flux2Transformer2DModel,
)

from ..errors import Refusal
from .base import ModelAdapter, TokenLayout
from .family_types import FamilySpec
from .image_ids import format_grids, grids_from_img_ids
from .read_cache import TensorReadCache


def _image_grids_of_ids(ids: torch.Tensor) -> Any:
    return grids_from_img_ids(ids[0] if ids.ndim == 3 else ids)  # batched (B, N, 4): row 0


def kv_cache_reason(mode: Any) -> str:
    return (f"kv_cache_mode={mode!r} (Klein-KV reference-image cache: reference tokens attend only to "
            "themselves, or come cached without queries; not GNA's joint layout)")


class Flux2Layout:
    """The image grids from ``img_ids``, the text length from ``encoder_hidden_states``; text first."""

    def __init__(self) -> None:
        # Pipelines build img_ids once per call (batched (B, N, 4): the transformer reads row 0), so
        # the (device-synchronizing) check runs once per tensor the forward got, not per step.
        self._grids_from_ids = TensorReadCache(_image_grids_of_ids)

    def __call__(self, transformer: torch.nn.Module, inputs: dict[str, Any]) -> TokenLayout:
        hidden_states, text, img_ids = (inputs.get(k) for k in ("hidden_states", "encoder_hidden_states", "img_ids"))
        if not all(isinstance(x, torch.Tensor) for x in (hidden_states, text, img_ids)):
            return TokenLayout(None, 0, True, "forward called without hidden_states, encoder_hidden_states or img_ids")
        text_len = int(text.shape[1])
        mode = inputs.get("kv_cache_mode")
        if mode is not None:
            return TokenLayout(None, text_len, True, kv_cache_reason(mode))
        grids = self._grids_from_ids(img_ids)
        if isinstance(grids, Refusal):
            return TokenLayout(None, text_len, True, grids)
        n_image = sum(h * w for h, w in grids)
        if hidden_states.shape[1] != n_image:
            return TokenLayout(None, text_len, True,
                               f"{hidden_states.shape[1]} image tokens but img_ids describe {format_grids(grids)}")
        return TokenLayout(grids[0], text_len, True, extra_grids=grids[1:])


def adapter(spec: FamilySpec) -> ModelAdapter:
    return ModelAdapter(
        spec,
        transformer_class=Flux2Transformer2DModel,
        exact_class=False,
        pipeline_names=("Flux2Pipeline", "Flux2KleinPipeline", "Flux2KleinKVPipeline", "Flux2KleinInpaintPipeline"),
        # the Klein-KV processors arrived in diffusers 0.38
        processors=(Flux2AttnProcessor, Flux2ParallelSelfAttnProcessor) + tuple(
            getattr(transformer_flux2, name) for name in ("Flux2KVAttnProcessor", "Flux2KVParallelSelfAttnProcessor")
            if hasattr(transformer_flux2, name)),
        token_layout=Flux2Layout,
        ulysses=True,
    )
