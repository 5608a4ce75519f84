"""The ``reference`` backend: GNA as an explicit boolean mask over dense attention.

Written from NATTEN's documented semantics, independently of NATTEN's code, so the NATTEN path
can be checked against it on any device. Per axis of length n, with kernel k, stride s,
dilation d:

* dilation splits the axis into d interleaved groups (index % d); a query only sees its group,
  and the rules below apply to the coordinates inside the group (index // d);
* non-causal: queries in a stride group share the window of the group's center query
  (leader = (i // s) * s + s // 2, clamped to the last index); the window of k tokens is centered
  on the leader and shifted inward at the borders so that it stays inside the axis;
* causal: the leader is the last query of the stride group; a query sees keys j <= i with
  leader - j < k.

The N-D mask is the product of the per-axis masks. Text tokens are attended by every query, and
text queries attend to everything. Memory grows with (tokens)^2: for small sizes only.
"""

from __future__ import annotations

import math
from typing import Sequence

import torch
import torch.nn.functional as F

from .recipe import ResolvedWindow

# Largest joint sequence the reference accepts: its mask and scores are (tokens)^2.
MAX_REFERENCE_TOKENS = 16384


def axis_neighborhood_mask(
    n: int, kernel: int, stride: int, dilation: int, causal: bool, device=None
) -> torch.Tensor:
    """Boolean [n, n] mask: entry (i, j) is True when query i attends to key j along one axis."""
    i = torch.arange(n, device=device)[:, None]
    j = torch.arange(n, device=device)[None, :]
    same_group = (i % dilation) == (j % dilation)
    qi, kj = i // dilation, j // dilation  # coordinates inside the dilation group
    group = i % dilation
    group_len = (n - group + dilation - 1) // dilation  # tokens in the query's dilation group
    if causal:
        leader = torch.minimum((qi // stride) * stride + stride - 1, group_len - 1)
        in_window = (kj <= qi) & (leader - kj < kernel)
    else:
        leader = torch.minimum((qi // stride) * stride + stride // 2, group_len - 1)
        start = torch.clamp(leader - kernel // 2, min=0)
        start = torch.minimum(start, group_len - kernel)
        in_window = (kj >= start) & (kj < start + kernel)
    return same_group & in_window


def visual_neighborhood_mask(grid, window: ResolvedWindow, device=None) -> torch.Tensor:
    """Boolean [N, N] mask over the row-major flattened grid (N = prod(grid))."""
    mask = torch.ones(1, 1, dtype=torch.bool, device=device)
    for axis, n in enumerate(grid):
        axis_mask = axis_neighborhood_mask(
            n,
            window.kernel_size[axis],
            window.stride[axis],
            window.dilation[axis],
            window.is_causal[axis],
            device=device,
        )
        # Outer product of masks: (a, n) x (b, m) -> (a*n, b*m), row-major like the token order.
        mask = (mask[:, None, :, None] & axis_mask[None, :, None, :]).reshape(
            mask.shape[0] * n, mask.shape[1] * n
        )
    return mask


def joint_attention_mask(
    text_len: int, text_first: bool, window: ResolvedWindow, device=None
) -> torch.Tensor:
    """Boolean [S, S] mask over the joint [text, visual] (or [visual, text]) sequence."""
    visual = visual_neighborhood_mask(window.grid, window, device=device)
    n = visual.shape[0]
    total = n + text_len
    mask = torch.ones(total, total, dtype=torch.bool, device=device)
    vis = slice(text_len, total) if text_first else slice(0, n)
    mask[vis, vis] = visual
    return mask


def reference_joint_attention(
    query: torch.Tensor,
    key: torch.Tensor,
    value: torch.Tensor,
    *,
    text_len: int,
    text_first: bool,
    window: ResolvedWindow,
    text_valid_lens: Sequence[int] | None = None,
) -> torch.Tensor:
    """GNA joint attention by explicit mask. Inputs and output are [B, S, heads, head_dim].

    ``text_valid_lens``: per batch row, how many leading text tokens are real; the rest are
    padding, which no query attends to.
    """
    seq = query.shape[1]
    if seq != math.prod(window.grid) + text_len:
        raise ValueError(
            f"reference backend: sequence length {seq} != grid {window.grid} tokens "
            f"+ {text_len} text tokens"
        )
    if seq > MAX_REFERENCE_TOKENS:
        raise ValueError(
            f"reference backend: {seq} tokens exceed its limit of {MAX_REFERENCE_TOKENS} "
            "(it builds a tokens x tokens mask); use it at small sizes to verify a NATTEN backend"
        )
    mask = joint_attention_mask(text_len, text_first, window, device=query.device)
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
