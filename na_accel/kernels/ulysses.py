"""GNA joint attention under diffusers' Ulysses context parallelism.

With ``transformer.enable_parallelism(config=ContextParallelConfig(ulysses_degree=P))`` the
transformer's cp plan splits the text and the visual tokens separately into P equal chunks, so
rank r's processor holds ``[text chunk r, visual chunk r]`` (text first; ``[visual, text]`` for
text-last models) for ALL heads. Stock attention then trades sequence for heads with an
all-to-all (diffusers' ``TemplatedUlyssesAttention``); GNA does the same, here:

1. all-to-all: ``[B, S/P, H, D]`` -> ``[B, S, H/P, D]``, the sequence in rank order
   ``[text_0, vis_0, text_1, vis_1, ...]``;
2. permute the tokens to the joint order ``[text, visual]`` (the visual tokens back in grid order);
3. run the backend's joint attention over the whole grid for this rank's heads;
4. undo the permutation, and all-to-all back to ``[B, S/P, H, D]``.

Ring attention (``ring_degree > 1``, alone or with Ulysses) gives each rank a slice of the tokens:
GNA would need the keys/values of the neighbouring tokens other ranks hold (a halo exchange), which
is not implemented, so those calls run stock (counted by the route). ``ulysses_anything`` (uneven
shards, padded all-to-all) runs stock too.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch

from ..errors import Refusal
from .base import Backend, DenseAttention
from .call import GNACall


@dataclass(frozen=True)
class UlyssesShards:
    """The Ulysses process group of this rank and its size (the degree)."""

    group: Any  # torch.distributed.ProcessGroup
    degree: int


def ulysses_shards(parallel_config: Any) -> UlyssesShards | Refusal:
    """The Ulysses group GNA can run under, or why this diffusers ``ParallelConfig`` rules GNA out."""
    cp = getattr(parallel_config, "context_parallel_config", None)
    if cp is None:
        return Refusal("context parallelism without a context_parallel_config (unknown sharding)")
    if cp.ring_degree > 1:
        return Refusal(
            f"context parallelism with ring attention (ring_degree={cp.ring_degree}, ulysses_degree="
            f"{cp.ulysses_degree}) gives each rank a slice of the tokens; GNA would need a halo exchange "
            "of the neighbouring tokens' keys and values (not implemented)"
        )
    if getattr(cp, "ulysses_anything", False):  # diffusers < 0.42 has no such option
        return Refusal("context parallelism with ulysses_anything (uneven, padded shards) is not supported by GNA")
    if cp._ulysses_mesh is None:
        return Refusal("context parallelism is configured but its device mesh is not set up (ParallelConfig.setup)")
    return UlyssesShards(cp._ulysses_mesh.get_group(), int(cp.ulysses_degree))


def _all_to_all(x: torch.Tensor, group: Any) -> torch.Tensor:
    """Chunk i of dim 0 goes to rank i; chunk j of the result came from rank j (autograd-aware)."""
    import torch.distributed._functional_collectives as funcol

    out = funcol.all_to_all_single_autograd(x.contiguous(), None, None, group)
    if isinstance(out, funcol.AsyncCollectiveTensor):
        out = out.wait()
    return out


def sequence_to_heads(x: torch.Tensor, shards: UlyssesShards) -> torch.Tensor:
    """[B, S/P, H, D] (this rank's tokens, all heads) -> [B, S, H/P, D] (every rank's tokens in rank
    order, this rank's heads)."""
    b, s, h, d = x.shape
    if h % shards.degree:
        raise ValueError(f"Ulysses needs the {h} attention heads divisible by ulysses_degree={shards.degree}")
    x = x.reshape(b, s, shards.degree, h // shards.degree, d).permute(2, 0, 1, 3, 4)
    x = _all_to_all(x, shards.group)  # [source rank, B, s, H/P, D]
    return x.permute(1, 0, 2, 3, 4).reshape(b, shards.degree * s, h // shards.degree, d)


def heads_to_sequence(x: torch.Tensor, shards: UlyssesShards) -> torch.Tensor:
    """The inverse of ``sequence_to_heads``: [B, S, H/P, D] -> [B, S/P, H, D]."""
    b, s, h, d = x.shape
    x = x.reshape(b, shards.degree, s // shards.degree, h, d).permute(1, 0, 2, 3, 4)
    x = _all_to_all(x, shards.group)  # [head group, B, S/P, H/P, D]
    return x.permute(1, 2, 0, 3, 4).reshape(b, s // shards.degree, shards.degree * h, d)


def joint_order(call: GNACall, degree: int, device: torch.device) -> torch.Tensor:
    """Indices that put a rank-ordered sequence ``[text_0, vis_0, text_1, vis_1, ...]`` (or
    ``[vis_r, text_r]`` chunks when text comes last) in the joint order of ``call``, which the GNA
    backends take."""
    text, visual = call.text_len // degree, call.n_visual // degree
    starts = torch.arange(degree, device=device)[:, None] * (text + visual)
    text_idx = (starts + (0 if call.text_first else visual) + torch.arange(text, device=device)).flatten()
    visual_idx = (starts + (text if call.text_first else 0) + torch.arange(visual, device=device)).flatten()
    return torch.cat([text_idx, visual_idx] if call.text_first else [visual_idx, text_idx])


def ulysses_joint_attention(
    query: torch.Tensor,
    key: torch.Tensor,
    value: torch.Tensor,
    call: GNACall,
    *,
    shards: UlyssesShards,
    backend: Backend,
    dense_attention: DenseAttention,
    attention_mask: torch.Tensor | None = None,
) -> torch.Tensor:
    """``backend.joint_attention`` for this rank's Ulysses shard: ``[B, S/P, H, D]`` in and out.

    ``call`` is the whole sequence's (its text and grids, not the shard's): after the all-to-all
    each rank holds the whole sequence for its heads. ``dense_attention`` runs the text rows on
    full-sequence, head-sharded tensors (so it must not shard again: the processor passes no
    parallel config).
    """
    if attention_mask is not None:
        # a mask over this rank's shard would be neither whole nor in the permuted order
        raise ValueError("GNA under Ulysses takes padded text as text_valid_lens, not as an attention_mask")
    q, k, v = (sequence_to_heads(x, shards) for x in (query, key, value))
    order = joint_order(call, shards.degree, q.device)
    q, k, v = q[:, order], k[:, order], v[:, order]
    out = backend.joint_attention(q, k, v, call, dense_attention=dense_attention, attention_mask=attention_mask)
    rank_order = torch.empty_like(order)
    rank_order[order] = torch.arange(order.numel(), device=order.device)
    return heads_to_sequence(out[:, rank_order], shards)
