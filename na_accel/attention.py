"""The GNA joint-attention core shared by every model adapter.

Diffusion transformers attend over a joint sequence of text tokens and visual tokens (a row-major
token grid). Here:

* visual queries attend to their GNA neighborhood of visual tokens plus every VALID text token
  (NATTEN's ``additional_keys``/``additional_values``, merged by log-sum-exp inside NATTEN; they
  take no mask, so padded text tokens are cut off, per group of batch rows of equal length);
* text queries attend to every (valid) token, exactly as in dense attention.

Tensors use diffusers' processor layout ``[batch, tokens, heads, head_dim]``.
"""

from __future__ import annotations

import math
from typing import Callable, Sequence

import torch
import torch.nn.functional as F

from .backends import REFERENCE
from .recipe import ResolvedWindow
from .reference import reference_joint_attention

# (query, key, value, attention_mask or None) -> output, all [B, S, heads, head_dim]
DenseAttention = Callable[[torch.Tensor, torch.Tensor, torch.Tensor, "torch.Tensor | None"], torch.Tensor]


def sdpa_attention(
    query: torch.Tensor, key: torch.Tensor, value: torch.Tensor, attention_mask: torch.Tensor | None = None
) -> torch.Tensor:
    """Dense attention in the [B, S, heads, head_dim] layout."""
    out = F.scaled_dot_product_attention(
        query.transpose(1, 2), key.transpose(1, 2), value.transpose(1, 2), attn_mask=attention_mask
    )
    return out.transpose(1, 2)


def gna_joint_attention(
    query: torch.Tensor,
    key: torch.Tensor,
    value: torch.Tensor,
    *,
    text_len: int,
    text_first: bool,
    window: ResolvedWindow,
    backend: str,
    dense_attention: DenseAttention = sdpa_attention,
    text_valid_lens: Sequence[int] | None = None,
    attention_mask: torch.Tensor | None = None,
) -> torch.Tensor:
    """GNA over the visual grid plus dense text attention, for one joint sequence.

    ``window.grid`` is the visual token grid; the sequence holds ``prod(grid)`` visual tokens and
    ``text_len`` text tokens, text first when ``text_first``. ``backend`` is a concrete backend
    name (``na_accel.backends``); ``dense_attention`` runs the text queries (the model's own
    attention backend, so text rows are computed exactly as stock), with ``attention_mask``.

    ``text_valid_lens`` (one per batch row) marks padded text: in row b only the first
    ``text_valid_lens[b]`` text tokens are keys; ``attention_mask`` must then be the model's own
    key mask saying the same (HunyuanVideo builds both from ``encoder_attention_mask``).
    """
    if backend == REFERENCE:
        return reference_joint_attention(
            query, key, value, text_len=text_len, text_first=text_first, window=window,
            text_valid_lens=text_valid_lens,
        )
    n_visual = math.prod(window.grid)
    visual, text = _split(text_len, n_visual, text_first)
    visual_out = _visual_attention(
        query[:, visual], key[:, visual], value[:, visual], key[:, text], value[:, text],
        window, backend, text_valid_lens,
    )
    if not text_len:
        return visual_out
    text_out = dense_attention(query[:, text], key, value, attention_mask)
    parts = (text_out, visual_out) if text_first else (visual_out, text_out)
    return torch.cat(parts, dim=1)


def _split(text_len: int, n_visual: int, text_first: bool) -> tuple[slice, slice]:
    if text_first:
        return slice(text_len, text_len + n_visual), slice(0, text_len)
    return slice(0, n_visual), slice(n_visual, n_visual + text_len)


def _visual_attention(
    query: torch.Tensor,
    key: torch.Tensor,
    value: torch.Tensor,
    text_key: torch.Tensor,
    text_value: torch.Tensor,
    window: ResolvedWindow,
    backend: str,
    text_valid_lens: Sequence[int] | None,
) -> torch.Tensor:
    """Visual queries: neighborhood plus the valid text tokens of their batch row."""
    text_len = text_key.shape[1]
    lengths = [text_len] * query.shape[0] if text_valid_lens is None else [int(n) for n in text_valid_lens]
    if len(set(lengths)) == 1:  # one call for the whole batch
        n = lengths[0]
        extra = (text_key[:, :n], text_value[:, :n]) if n else (None, None)
        return _neighborhood_attention(query, key, value, window, *extra, backend)
    # Rows with different valid lengths: one call per length (NATTEN's extra keys take no mask).
    out = torch.empty_like(query)
    for n in sorted(set(lengths)):
        rows = torch.tensor([b for b, length in enumerate(lengths) if length == n], device=query.device)
        extra = (text_key[rows, :n], text_value[rows, :n]) if n else (None, None)
        out[rows] = _neighborhood_attention(query[rows], key[rows], value[rows], window, *extra, backend)
    return out


def _neighborhood_attention(
    query: torch.Tensor,
    key: torch.Tensor,
    value: torch.Tensor,
    window: ResolvedWindow,
    extra_key: torch.Tensor | None,
    extra_value: torch.Tensor | None,
    backend: str,
) -> torch.Tensor:
    """NATTEN neighborhood attention over the visual grid (plus extra keys seen by every query)."""
    import natten

    batch, n_tokens, heads, head_dim = query.shape
    # NATTEN needs a window >= 2 on every axis; an axis of length 1 is trivially covered, so drop it.
    axes = [a for a, n in enumerate(window.grid) if n > 1]
    if not axes:  # a single visual token: its neighborhood is itself
        full_key = key if extra_key is None else torch.cat([extra_key, key], dim=1)
        full_value = value if extra_value is None else torch.cat([extra_value, value], dim=1)
        return sdpa_attention(query, full_key, full_value)

    grid = tuple(window.grid[a] for a in axes)
    shape = (batch,) + grid + (heads, head_dim)
    na_fn = {1: natten.na1d, 2: natten.na2d, 3: natten.na3d}[len(axes)]
    out = na_fn(
        query.reshape(shape),
        key.reshape(shape),
        value.reshape(shape),
        kernel_size=tuple(window.kernel_size[a] for a in axes),
        stride=tuple(window.stride[a] for a in axes),
        dilation=tuple(window.dilation[a] for a in axes),
        is_causal=tuple(window.is_causal[a] for a in axes),
        additional_keys=extra_key,
        additional_values=extra_value,
        backend=backend,
    )
    return out.reshape(batch, n_tokens, heads, head_dim)
