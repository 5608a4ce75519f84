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
the MLP) both become GNA; their Klein-KV variants too, for calls without a KV-cache mode. The
pipelines pass no attention mask (padded text tokens are keys in the stock model, and stay keys).
Calls that run stock, counted: the Klein-KV cache modes "extract" / "cached" (reference tokens
that attend only to themselves, or cached keys without queries: not GNA's joint layout), ids that
are not row-major grids.
"""

from __future__ import annotations

from typing import Any, Iterator

import torch
from diffusers.models.embeddings import apply_rotary_emb
from diffusers.models.transformers.transformer_flux2 import (
    Flux2Attention,
    Flux2AttnProcessor,
    Flux2KVAttnProcessor,
    Flux2KVParallelSelfAttnProcessor,
    Flux2ParallelSelfAttention,
    Flux2ParallelSelfAttnProcessor,
    Flux2Transformer2DModel,
    _get_qkv_projections,
)

from ..errors import Refusal
from .base import GNAProcessor, ModelAdapter, TokenLayout, forward_arguments, register_like_stock
from .image_ids import grids_text, image_grids
from .flux_joint import JointImageTextProcessor
from .read_cache import TensorReadCache


def _image_grids_of_ids(ids: torch.Tensor) -> Any:
    return image_grids(ids[0] if ids.ndim == 3 else ids)  # batched (B, N, 4): row 0


def kv_cache_reason(mode: Any) -> str:
    return (f"kv_cache_mode={mode!r} (Klein-KV reference-image cache: reference tokens attend only to "
            "themselves, or come cached without queries; not GNA's joint layout)")


class Flux2Adapter(ModelAdapter):
    family = "flux2"
    transformer_class_name = "Flux2Transformer2DModel"
    pipeline_names = ("Flux2Pipeline", "Flux2KleinPipeline", "Flux2KleinKVPipeline", "Flux2KleinInpaintPipeline")

    def __init__(self) -> None:
        # Pipelines build img_ids once per call (batched (B, N, 4): the transformer reads row 0), so
        # the (device-synchronizing) check runs once per tensor the forward got, not per step.
        self._grids_from_ids = TensorReadCache(_image_grids_of_ids)

    def handles(self, transformer: torch.nn.Module) -> bool:
        return isinstance(transformer, Flux2Transformer2DModel)

    def attention_layers(self, transformer: torch.nn.Module) -> Iterator[tuple[str, torch.nn.Module]]:
        for name, module in transformer.named_modules():
            if isinstance(module, (Flux2Attention, Flux2ParallelSelfAttention)):
                yield name, module

    def unsupported_processor_reason(self, module: torch.nn.Module) -> str | None:
        processor = module.processor
        if type(processor) in GNA_PROCESSORS:
            return None
        return (
            f"processor {type(processor).__name__} is not supported (GNA replaces "
            f"{', '.join(cls.__name__ for cls in GNA_PROCESSORS)} only; custom processors keep running as they are)"
        )

    def head_dim(self, transformer: torch.nn.Module) -> int:
        return int(transformer.config.attention_head_dim)

    def token_layout(self, transformer: torch.nn.Module, args: tuple, kwargs: dict[str, Any]) -> TokenLayout:
        inputs = forward_arguments(transformer, args, kwargs)
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
                               f"{hidden_states.shape[1]} image tokens but img_ids describe {grids_text(grids)}")
        return TokenLayout(grids[0], text_len, True, extra_grids=grids[1:])

    def make_processor(self, original: Any, route: Any) -> GNAProcessor:
        gna_class = GNA_PROCESSORS[type(original)]
        register_like_stock(gna_class, type(original))
        return gna_class(original, route)


def _gna(processor: GNAProcessor, call: Any, query, key, value) -> torch.Tensor:
    """GNA among image tokens (each reference image's grid too, which also sees every token of the
    other images); text rows dense through the model's attention backend."""
    return processor._joint_attention(call, query, key, value)


class GNAFlux2AttnProcessor(JointImageTextProcessor):
    """Flux2AttnProcessor (double-stream blocks) with GNA among image tokens; stock ``__call__`` parameters.

    Projections, QK norms and RoPE are exactly the stock processor's.
    """

    qkv_projections = staticmethod(_get_qkv_projections)

    def __call__(
        self,
        attn: Flux2Attention,
        hidden_states: torch.Tensor,
        encoder_hidden_states: torch.Tensor = None,
        attention_mask: torch.Tensor | None = None,
        image_rotary_emb: torch.Tensor | None = None,
    ) -> torch.Tensor:
        call = self._route_joint(attn, hidden_states, encoder_hidden_states, attention_mask)
        if call is None:
            return self.original(attn, hidden_states, encoder_hidden_states, attention_mask, image_rotary_emb)
        return self._sparse(call, attn, hidden_states, encoder_hidden_states, image_rotary_emb)

    def _sparse(self, call, attn, hidden_states, encoder_hidden_states, image_rotary_emb):
        # --- as Flux2AttnProcessor, up to the attention call (flux_joint.py) ---
        query, key, value = self._joint_qkv(attn, hidden_states, encoder_hidden_states, image_rotary_emb)

        hidden_states = _gna(self, call, query, key, value)

        # --- as Flux2AttnProcessor, after the attention call ---
        hidden_states = hidden_states.flatten(2, 3)
        hidden_states = hidden_states.to(query.dtype)
        if encoder_hidden_states is not None:
            encoder_hidden_states, hidden_states = hidden_states.split_with_sizes(
                [encoder_hidden_states.shape[1], hidden_states.shape[1] - encoder_hidden_states.shape[1]], dim=1
            )
            encoder_hidden_states = attn.to_add_out(encoder_hidden_states)
        hidden_states = attn.to_out[0](hidden_states)
        hidden_states = attn.to_out[1](hidden_states)
        if encoder_hidden_states is not None:
            return hidden_states, encoder_hidden_states
        return hidden_states


class GNAFlux2KVAttnProcessor(GNAFlux2AttnProcessor):
    """Flux2KVAttnProcessor (Flux2KleinKVPipeline): GNA for calls without a KV-cache mode, else stock."""

    def __call__(
        self,
        attn: Flux2Attention,
        hidden_states: torch.Tensor,
        encoder_hidden_states: torch.Tensor = None,
        attention_mask: torch.Tensor | None = None,
        image_rotary_emb: torch.Tensor | None = None,
        kv_cache: Any = None,
        kv_cache_mode: str | None = None,
        num_ref_tokens: int = 0,
    ) -> torch.Tensor:
        if kv_cache_mode is not None:
            call = self.route.dense(kv_cache_reason(kv_cache_mode))
        else:
            call = self._route_joint(attn, hidden_states, encoder_hidden_states, attention_mask)
        if call is None:
            return self.original(attn, hidden_states, encoder_hidden_states, attention_mask, image_rotary_emb,
                                 kv_cache=kv_cache, kv_cache_mode=kv_cache_mode, num_ref_tokens=num_ref_tokens)
        return self._sparse(call, attn, hidden_states, encoder_hidden_states, image_rotary_emb)


class GNAFlux2ParallelSelfAttnProcessor(GNAProcessor):
    """Flux2ParallelSelfAttnProcessor (single-stream blocks) with GNA among image tokens.

    The block attends over [text, image] already concatenated: the text length is the layout's.
    The fused QKV + MLP projection, QK norms, RoPE and the fused output projection are stock.
    """

    def __call__(
        self,
        attn: Flux2ParallelSelfAttention,
        hidden_states: torch.Tensor,
        attention_mask: torch.Tensor | None = None,
        image_rotary_emb: torch.Tensor | None = None,
    ) -> torch.Tensor:
        call = self._route(attn, hidden_states, attention_mask)
        if call is None:
            return self.original(attn, hidden_states, attention_mask, image_rotary_emb)
        return self._sparse(call, attn, hidden_states, image_rotary_emb)

    def _route(self, attn, hidden_states, attention_mask):
        return self._route_call(attn, hidden_states, seq_len=hidden_states.shape[1],
                                foreign_mask=attention_mask is not None, ulysses=True)

    def _sparse(self, call, attn, hidden_states, image_rotary_emb):
        # --- as Flux2ParallelSelfAttnProcessor, up to the attention call ---
        hidden_states = attn.to_qkv_mlp_proj(hidden_states)
        qkv_dim = 3 * attn.inner_dim
        mlp_dim = attn.mlp_hidden_dim * attn.mlp_mult_factor
        local_qkv = hidden_states.shape[-1] * qkv_dim // (qkv_dim + mlp_dim)
        qkv, mlp_hidden_states = torch.split(hidden_states, [local_qkv, hidden_states.shape[-1] - local_qkv], dim=-1)
        query, key, value = qkv.chunk(3, dim=-1)
        query = query.unflatten(-1, (-1, attn.head_dim))
        key = key.unflatten(-1, (-1, attn.head_dim))
        value = value.unflatten(-1, (-1, attn.head_dim))
        query = attn.norm_q(query)
        key = attn.norm_k(key)
        if image_rotary_emb is not None:
            query = apply_rotary_emb(query, image_rotary_emb, sequence_dim=1)
            key = apply_rotary_emb(key, image_rotary_emb, sequence_dim=1)

        hidden_states = _gna(self, call, query, key, value)

        # --- as Flux2ParallelSelfAttnProcessor, after the attention call ---
        hidden_states = hidden_states.flatten(2, 3)
        hidden_states = hidden_states.to(query.dtype)
        mlp_hidden_states = attn.mlp_act_fn(mlp_hidden_states)
        hidden_states = torch.cat([hidden_states, mlp_hidden_states], dim=-1)
        return attn.to_out(hidden_states)


class GNAFlux2KVParallelSelfAttnProcessor(GNAFlux2ParallelSelfAttnProcessor):
    """Flux2KVParallelSelfAttnProcessor (Flux2KleinKVPipeline): GNA for calls without a KV-cache mode."""

    def __call__(
        self,
        attn: Flux2ParallelSelfAttention,
        hidden_states: torch.Tensor,
        attention_mask: torch.Tensor | None = None,
        image_rotary_emb: torch.Tensor | None = None,
        kv_cache: Any = None,
        kv_cache_mode: str | None = None,
        num_txt_tokens: int = 0,
        num_ref_tokens: int = 0,
    ) -> torch.Tensor:
        if kv_cache_mode is not None:
            call = self.route.dense(kv_cache_reason(kv_cache_mode))
        else:
            call = self._route(attn, hidden_states, attention_mask)
        if call is None:
            return self.original(attn, hidden_states, attention_mask, image_rotary_emb, kv_cache=kv_cache,
                                 kv_cache_mode=kv_cache_mode, num_txt_tokens=num_txt_tokens,
                                 num_ref_tokens=num_ref_tokens)
        return self._sparse(call, attn, hidden_states, image_rotary_emb)


# stock processor class -> its GNA processor (what GNA replaces)
GNA_PROCESSORS: dict[type, type] = {
    Flux2AttnProcessor: GNAFlux2AttnProcessor,
    Flux2KVAttnProcessor: GNAFlux2KVAttnProcessor,
    Flux2ParallelSelfAttnProcessor: GNAFlux2ParallelSelfAttnProcessor,
    Flux2KVParallelSelfAttnProcessor: GNAFlux2KVParallelSelfAttnProcessor,
}
