"""The ``reference`` backend: GNA as an explicit boolean mask over dense attention, the judge every
other backend is checked against. The masks (``na_accel.windows.masks``) are written from NATTEN's
documented semantics, independently of NATTEN's code. Runs anywhere, at small sizes only: its mask
and scores are (tokens)^2.
"""

from __future__ import annotations

import math
from typing import Sequence

import torch
import torch.nn.functional as F

from ..windows import ResolvedWindow, joint_attention_mask
from .base import Backend, BackendTarget

REFERENCE = "reference"
# Largest joint sequence the reference accepts: its mask and scores are (tokens)^2.
MAX_REFERENCE_TOKENS = 16384


class ReferenceBackend(Backend):
    name = REFERENCE

    def unavailable_reason(self, target: BackendTarget) -> str | None:
        return None

    def visual_attention(self, query, key, value, *, text_len, text_first, window, text_valid_lens):
        return reference_joint_attention(query, key, value, text_len=text_len, text_first=text_first,
                                         window=window, text_valid_lens=text_valid_lens)

    def joint_attention(self, query, key, value, *, text_len, text_first, window, dense_attention,
                        text_valid_lens, attention_mask, extra_windows=()):
        # One explicit mask over the whole layout (reference grids included): the independent judge
        # of the per-grid decomposition the other backends run (``kernels.multi_grid``).
        return reference_joint_attention(query, key, value, text_len=text_len, text_first=text_first,
                                         window=window, text_valid_lens=text_valid_lens,
                                         extra_windows=extra_windows)


def reference_joint_attention(
    query: torch.Tensor,
    key: torch.Tensor,
    value: torch.Tensor,
    *,
    text_len: int,
    text_first: bool,
    window: ResolvedWindow,
    text_valid_lens: Sequence[int] | None = None,
    extra_windows: Sequence[ResolvedWindow] = (),
) -> torch.Tensor:
    """GNA joint attention by explicit mask. Inputs and output are [B, S, heads, head_dim].

    ``text_valid_lens``: per batch row, how many leading text tokens are real; the rest are
    padding, which no query attends to. ``extra_windows``: the grids of reference images that
    follow ``window.grid``'s tokens (``na_accel.windows.joint_attention_mask`` states the rule).
    """
    seq = query.shape[1]
    grids = [w.grid for w in (window, *extra_windows)]
    if seq != sum(math.prod(g) for g in grids) + text_len:
        raise ValueError(
            f"reference backend: sequence length {seq} != grids {grids} tokens "
            f"+ {text_len} text tokens"
        )
    if seq > MAX_REFERENCE_TOKENS:
        raise ValueError(
            f"reference backend: {seq} tokens exceed its limit of {MAX_REFERENCE_TOKENS} "
            "(it builds a tokens x tokens mask); use it at small sizes to verify a NATTEN backend"
        )
    mask = joint_attention_mask(text_len, text_first, window, device=query.device, extra_windows=tuple(extra_windows))
    if text_valid_lens is not None:
        if len(text_valid_lens) != query.shape[0]:
            raise ValueError(f"reference backend: {len(text_valid_lens)} text lengths for a batch of {query.shape[0]}")
        text_start = 0 if text_first else seq - text_len
        position = torch.arange(text_len, device=query.device)
        valid = torch.tensor(list(text_valid_lens), device=query.device)[:, None] > position[None, :]
        key_ok = torch.ones(query.shape[0], seq, dtype=torch.bool, device=query.device)
        key_ok[:, text_start : text_start + text_len] = valid
        mask = mask[None, None] & key_ok[:, None, None, :]  # [B, 1, S, S]
    q, k, v = (t.transpose(1, 2).float() for t in (query, key, value))
    out = F.scaled_dot_product_attention(q, k, v, attn_mask=mask)
    return out.transpose(1, 2).to(query.dtype)
