"""GNA over several visual grids in one sequence: a generated image plus reference images.

FLUX.1 Kontext, FLUX.2 and Qwen-Image-Edit append the tokens of reference images after those of
the image being generated. The rule (README, "Reference images"): each grid's queries attend to
their GNA neighborhood in their own grid, plus every valid text token, plus every token of the
other grids as dense extra keys; text queries attend to everything, as stock.

Every backend already runs "neighborhood + extra keys" for one grid (the extra keys are the text).
So each grid runs as one such call, on a copy of the sequence reordered to [other grids, text,
own grid]: the other grids become leading extra keys, which keeps padded text a valid prefix.
"""

from __future__ import annotations

import math
from typing import Callable, Sequence

import torch

from ..windows import ResolvedWindow

# Backend.visual_attention(query, key, value, *, text_len, text_first, window, text_valid_lens)
VisualAttention = Callable[..., torch.Tensor]


def multi_grid_visual_attention(
    visual_attention: VisualAttention,
    query: torch.Tensor,
    key: torch.Tensor,
    value: torch.Tensor,
    *,
    text_len: int,
    text_first: bool,
    windows: Sequence[ResolvedWindow],
    text_valid_lens: Sequence[int] | None,
) -> torch.Tensor:
    """[B, S, heads, head_dim] whose visual rows hold GNA over every grid of ``windows`` (in token
    order, contiguous, after the text when ``text_first`` else before it); text rows are left to
    the caller, as ``Backend.visual_attention`` leaves them."""
    sizes = [math.prod(w.grid) for w in windows]
    n_visual = sum(sizes)
    if query.shape[1] != n_visual + text_len:
        raise ValueError(
            f"multi-grid attention: sequence length {query.shape[1]} != grids "
            f"{[w.grid for w in windows]} ({n_visual} tokens) + {text_len} text tokens"
        )
    device = query.device
    first_visual = text_len if text_first else 0
    text_start = 0 if text_first else n_visual
    text_index = torch.arange(text_start, text_start + text_len, device=device)
    starts = [first_visual + sum(sizes[:g]) for g in range(len(sizes))]
    out = torch.empty_like(query)
    for g, window in enumerate(windows):
        own = slice(starts[g], starts[g] + sizes[g])
        others = [torch.arange(starts[o], starts[o] + sizes[o], device=device) for o in range(len(sizes)) if o != g]
        order = torch.cat([*others, text_index, torch.arange(own.start, own.stop, device=device)])
        n_extra = n_visual - sizes[g] + text_len
        valid = None if text_valid_lens is None else [n_extra - text_len + int(n) for n in text_valid_lens]
        q, k, v = (t.index_select(1, order) for t in (query, key, value))
        result = visual_attention(q, k, v, text_len=n_extra, text_first=True, window=window, text_valid_lens=valid)
        out[:, own] = result[:, n_extra:]
    return out


__all__ = ["multi_grid_visual_attention"]
