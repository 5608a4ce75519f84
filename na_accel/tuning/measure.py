"""The error of candidate windows on one attention call's real q / k / v, against dense attention.

For the sampled visual query rows of the generated image's grid, both the dense output (every key
the stock call attends: all visual tokens, the valid text) and each candidate window's output (its
neighborhood in that grid, every token of the other grids, the valid text; ``windows.masks``'
meaning) are computed in float32 from the same inputs, one chunk of heads at a time. The scores
are computed once per chunk and masked per candidate, so the extra memory is the chunk's scores
(``max_elements``, a few copies while softmax runs), its float32 keys and values and one
[rows, tokens] mask, not the call's; nothing is kept after the call but two sums per candidate.

What is summed, per candidate: ``||O_w - O_dense||^2`` and ``||O_dense||^2`` over the sampled rows,
every head and batch row (Frobenius norm of the attention output before the output projection).
Text queries attend to everything under every window, so they have no error and are left out.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

import torch

from ..kernels.call import GNACall
from ..windows import ResolvedWindow
from ..windows.masks import neighborhood_rows

MAX_SCORE_ELEMENTS = 1 << 26  # float32 scores of one chunk of heads: 256 MiB


@dataclass(frozen=True)
class CallErrors:
    """What one call contributes: per candidate the squared error, and the squared dense norm."""

    squared_errors: tuple[float, ...]
    squared_dense: float
    rows: int  # sampled query rows (of one batch row)


def sample_rows(n_visual: int, max_rows: int | None, seed: int, device=None) -> torch.Tensor:
    """Flat query indices to measure: all of them when ``max_rows`` is None or not smaller, else
    ``max_rows`` distinct ones drawn uniformly (seeded: the same rows at every call of a grid)."""
    if max_rows is None or max_rows >= n_visual:
        return torch.arange(n_visual, device=device)
    generator = torch.Generator().manual_seed(seed)
    return torch.randperm(n_visual, generator=generator)[:max_rows].sort().values.to(device)


def window_errors(
    query: torch.Tensor,
    key: torch.Tensor,
    value: torch.Tensor,
    call: GNACall,
    *,
    candidates: Sequence[ResolvedWindow],
    rows: torch.Tensor,
    max_elements: int = MAX_SCORE_ELEMENTS,
) -> CallErrors:
    """Squared errors of ``candidates`` (windows on ``call.window.grid``, each in place of
    ``call.window``) for the query ``rows`` of that grid.

    ``query``/``key``/``value``: [batch, tokens, heads, head_dim], the joint sequence ``call`` lays
    out (its grids, text and valid text lengths; the candidates stand for its windows).
    """
    batch, tokens, heads, head_dim = query.shape
    grid, text, text_valid_lens = call.window.grid, call.text_slice, call.text_valid_lens
    visual_start = call.visual_slice.start
    positions = torch.arange(tokens, device=query.device)
    is_main = (positions >= visual_start) & (positions < visual_start + math.prod(grid))
    chunk = max(1, max_elements // max(1, rows.shape[0] * tokens))
    scale = head_dim ** -0.5
    # summed on the device, read once per call (no sync per candidate)
    squared_errors = torch.zeros(len(candidates), dtype=torch.float64, device=query.device)
    squared_dense = torch.zeros((), dtype=torch.float64, device=query.device)
    for b in range(batch):
        valid = torch.ones(tokens, dtype=torch.bool, device=query.device)
        if text_valid_lens is not None:
            valid &= ~((positions >= text.start + text_valid_lens[b]) & (positions < text.stop))
        q = query[b, visual_start + rows]  # [rows, heads, head_dim]
        for h in range(0, heads, chunk):  # float32 copies of one chunk of heads at a time
            k, v = key[b, :, h:h + chunk].float(), value[b, :, h:h + chunk].float()
            scores = torch.einsum("rhd,shd->hrs", q[:, h:h + chunk].float(), k) * scale
            dense = _attend(scores, valid[None, :], v)
            squared_dense += dense.square().sum()
            for i, window in enumerate(candidates):  # each mask built when used: [rows, tokens] at a time
                allowed = valid[None, :].expand(rows.shape[0], tokens).clone()
                allowed[:, is_main] = neighborhood_rows(grid, window, rows) & valid[is_main][None, :]
                out = _attend(scores, allowed, v)
                squared_errors[i] += (out - dense).square().sum()
    return CallErrors(tuple(squared_errors.tolist()), squared_dense.item(), int(rows.shape[0]))


def _attend(scores: torch.Tensor, allowed: torch.Tensor, value: torch.Tensor) -> torch.Tensor:
    """softmax over the allowed keys of [heads, rows, keys] scores, times [keys, heads, d] values."""
    weights = torch.softmax(scores.masked_fill(~allowed[None], float("-inf")), dim=-1)
    return torch.einsum("hrs,shd->rhd", weights, value)


__all__ = ["CallErrors", "MAX_SCORE_ELEMENTS", "sample_rows", "window_errors"]
