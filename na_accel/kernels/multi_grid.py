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

from typing import Callable

import torch

from .call import GNACall

# Backend.visual_attention(query, key, value, call) on one grid
VisualAttention = Callable[[torch.Tensor, torch.Tensor, torch.Tensor, GNACall], torch.Tensor]


def multi_grid_visual_attention(visual_attention: VisualAttention, query: torch.Tensor, key: torch.Tensor,
                                value: torch.Tensor, call: GNACall) -> torch.Tensor:
    """[B, S, heads, head_dim] whose visual rows hold GNA over every grid of ``call`` (in token
    order, contiguous, after the text when ``call.text_first`` else before it); text rows are left
    to the caller, as ``Backend.visual_attention`` leaves them."""
    call.check_tokens(query.shape[1], "multi-grid attention")
    device = query.device
    spans = [torch.arange(s.start, s.stop, device=device) for s in call.grid_slices]
    text = call.text_slice
    text_index = torch.arange(text.start, text.stop, device=device)
    out = torch.empty_like(query)
    for g, own in enumerate(call.grid_slices):
        order = torch.cat([*(span for o, span in enumerate(spans) if o != g), text_index, spans[g]])
        grid_call = call.grid_call(g)
        q, k, v = (t.index_select(1, order) for t in (query, key, value))
        result = visual_attention(q, k, v, grid_call)
        out[:, own] = result[:, grid_call.text_len:]
    return out


__all__ = ["multi_grid_visual_attention"]
