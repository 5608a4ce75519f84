"""The exact meaning of a GNA window, as boolean masks over the token grid.

Written from NATTEN's documented semantics, independently of NATTEN's code, so every kernel can
be checked against it on any device. Per axis of length n, with kernel k, stride s, dilation d:

* dilation splits the axis into d interleaved groups (index % d); a query only sees its group,
  and the rules below apply to the coordinates inside the group (index // d);
* non-causal: queries in a stride group share the window of the group's center query
  (leader = (i // s) * s + s // 2, clamped to the last index); the window of k tokens is centered
  on the leader and shifted inward at the borders so that it stays inside the axis;
* causal: the leader is the last query of the stride group; a query sees keys j <= i with
  leader - j < k.

The N-D mask is the product of the per-axis masks. Text tokens are attended by every query, and
text queries attend to everything. With several visual grids (reference images after the generated
one), each grid's queries see their neighborhood in their own grid and every token of the other
grids. Memory grows with (tokens)^2: for small sizes only.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch

if TYPE_CHECKING:
    from .window import ResolvedWindow


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


def visual_neighborhood_mask(grid, window: "ResolvedWindow", device=None) -> torch.Tensor:
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


def neighborhood_rows(grid, window: "ResolvedWindow", rows: torch.Tensor) -> torch.Tensor:
    """Boolean [len(rows), N]: the rows ``rows`` (flat query indices) of ``visual_neighborhood_mask``,
    built from the per-axis masks without the [N, N] mask (memory: len(rows) x N)."""
    grid = tuple(int(n) for n in grid)
    mask = torch.ones(rows.shape[0], 1, dtype=torch.bool, device=rows.device)
    rest = rows
    coords = []
    for n in reversed(grid):  # row-major: the last axis varies fastest
        coords.append(rest % n)
        rest = rest // n
    for axis, (n, coord) in enumerate(zip(grid, reversed(coords))):
        axis_mask = axis_neighborhood_mask(n, window.kernel_size[axis], window.stride[axis], window.dilation[axis],
                                           window.is_causal[axis], device=rows.device)[coord]  # [rows, n]
        mask = (mask[:, :, None] & axis_mask[:, None, :]).reshape(rows.shape[0], -1)
    return mask


def joint_attention_mask(
    text_len: int, text_first: bool, window: "ResolvedWindow", device=None,
    extra_windows: "tuple[ResolvedWindow, ...]" = (),
) -> torch.Tensor:
    """Boolean [S, S] mask over the joint [text, visual] (or [visual, text]) sequence.

    The visual part is ``window.grid``'s tokens followed by those of each ``extra_windows`` grid;
    each grid's block on the diagonal is its neighborhood mask, every other visual block is True.
    """
    blocks = [visual_neighborhood_mask(w.grid, w, device=device) for w in (window, *extra_windows)]
    n = sum(block.shape[0] for block in blocks)
    total = n + text_len
    mask = torch.ones(total, total, dtype=torch.bool, device=device)
    start = text_len if text_first else 0
    for block in blocks:
        own = slice(start, start + block.shape[0])
        mask[own, own] = block
        start += block.shape[0]
    return mask
