"""What FLUX's and FLUX.2's double-stream GNA processors share, step for step with their stock ones.

Both stock processors (FluxAttnProcessor, Flux2AttnProcessor) project q / k / v (fused or not),
norm q and k, prepend the text's q / k / v (added projections, their own norms) and apply RoPE
before the attention call; they differ after it (output projections). The steps they share live
here once, so a change in one family's stock processor shows as a difference, not a drift.
"""

from __future__ import annotations

from typing import Callable

import torch
from diffusers.models.embeddings import apply_rotary_emb

from .attention_call import SparseCall
from .base import GNAProcessor


class JointImageTextProcessor(GNAProcessor):
    """A double-stream processor over image tokens (``hidden_states``) and text (``encoder_hidden_states``,
    None in single-stream use): text first in the joint sequence; GNA runs under Ulysses."""

    # the family's diffusers ``_get_qkv_projections(attn, hidden_states, encoder_hidden_states)``
    qkv_projections: Callable

    def _route_joint(self, attn, hidden_states: torch.Tensor, encoder_hidden_states: torch.Tensor | None,
                     attention_mask: torch.Tensor | None) -> SparseCall | None:
        text_len = encoder_hidden_states.shape[1] if encoder_hidden_states is not None else None
        return self._route_call(attn, hidden_states, encoder_hidden_states,
                                seq_len=hidden_states.shape[1] + (text_len or 0), text_len=text_len,
                                foreign_mask=attention_mask is not None, ulysses=True)

    def _joint_qkv(self, attn, hidden_states: torch.Tensor, encoder_hidden_states: torch.Tensor | None,
                   image_rotary_emb: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """As the stock processor, up to the attention call: [B, S, heads, head_dim] q / k / v, text first."""
        query, key, value, encoder_query, encoder_key, encoder_value = type(self).qkv_projections(
            attn, hidden_states, encoder_hidden_states
        )
        query = query.unflatten(-1, (-1, attn.head_dim))
        key = key.unflatten(-1, (-1, attn.head_dim))
        value = value.unflatten(-1, (-1, attn.head_dim))
        query = attn.norm_q(query)
        key = attn.norm_k(key)
        if attn.added_kv_proj_dim is not None:
            encoder_query = encoder_query.unflatten(-1, (-1, attn.head_dim))
            encoder_key = encoder_key.unflatten(-1, (-1, attn.head_dim))
            encoder_value = encoder_value.unflatten(-1, (-1, attn.head_dim))
            encoder_query = attn.norm_added_q(encoder_query)
            encoder_key = attn.norm_added_k(encoder_key)
            query = torch.cat([encoder_query, query], dim=1)
            key = torch.cat([encoder_key, key], dim=1)
            value = torch.cat([encoder_value, value], dim=1)
        if image_rotary_emb is not None:
            query = apply_rotary_emb(query, image_rotary_emb, sequence_dim=1)
            key = apply_rotary_emb(key, image_rotary_emb, sequence_dim=1)
        return query, key, value


__all__ = ["JointImageTextProcessor"]
