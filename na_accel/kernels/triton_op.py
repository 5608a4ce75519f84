"""The Triton GNA kernel as a torch custom op: ``torch.ops.na_accel.gna_forward``.

Registered with ``torch.library.triton_op`` so ``torch.compile`` traces it without a graph break
(Inductor sees the Triton kernel itself) and CUDA graphs can capture it. Launch parameters
(warps, pipeline stages) are autotuned per tile shape on the GPU; under ``TRITON_INTERPRET=1``
one configuration runs (the interpreter cannot autotune).
"""

from __future__ import annotations

import math
import os
from functools import lru_cache
from typing import Optional, Sequence

import torch
import triton

from .triton_gna import INTERPRETED, LOG2E, gna_forward_kernel
from .triton_tiles import TritonTiles, choose_tiles

_TUNE_KEY = ["BLOCK_D", "TQ0", "TQ1", "TQ2", "TK0", "TK1", "TK2", "C0", "C1", "C2", "HAS_TEXT_VALID",
             "IEEE", "MASKED"]
# NA_ACCEL_TRITON_AUTOTUNE=0 launches one configuration (quick checks that compile many shapes);
# on an H100 the autotuner picked 8 warps x 3 stages for every published window (BENCHMARKS.md).
_AUTOTUNE = os.environ.get("NA_ACCEL_TRITON_AUTOTUNE", "1") != "0"
if INTERPRETED:
    _kernel = gna_forward_kernel
else:
    _kernel = triton.autotune(
        configs=[triton.Config({}, num_warps=w, num_stages=s) for w in (4, 8) for s in (2, 3, 4)]
        if _AUTOTUNE else [triton.Config({}, num_warps=8, num_stages=3)],
        key=_TUNE_KEY,
    )(gna_forward_kernel)


def as_3d(values: Sequence, fill) -> tuple:
    """Left-pad a per-axis tuple to 3 axes (a 2-D grid becomes 1 x H x W)."""
    return (fill,) * (3 - len(values)) + tuple(values)


@torch.library.triton_op("na_accel::gna_forward", mutates_args=())
def gna_forward(
    query: torch.Tensor,
    key: torch.Tensor,
    value: torch.Tensor,
    text_valid: Optional[torch.Tensor],
    geometry: list[int],
    causal: list[bool],
    text_len: int,
    text_first: bool,
    scale: float,
    tiles: list[int],
) -> torch.Tensor:
    """GNA for the visual queries of [B, S, heads, head_dim] tensors; text rows of the result are
    left for the caller to fill.

    ``geometry`` = grid + kernel_size + stride + dilation (3 axes each), ``tiles`` = q tile +
    kv tile (3 axes each) + the number of partly covered tile pairs (0: no masking compiled in);
    ``text_valid`` (int32 [B]) counts the valid text keys per batch row.
    """
    batch, seq, heads, head_dim = query.shape
    grid, kernel, stride, dilation = (geometry[i:i + 3] for i in range(0, 12, 3))
    q_tile, kv_tile = tiles[:3], tiles[3:6]
    n_visual = math.prod(grid)
    out = torch.empty_like(query)
    # q tiles per axis: every dilation group tiled on its own (the longest group's tile count).
    nq = [d * triton.cdiv(triton.cdiv(n, d), t) for n, d, t in zip(grid, dilation, q_tile)]

    def launch_grid(meta):
        return (nq[0] * nq[1] * nq[2], batch * heads)

    torch.library.wrap_triton(_kernel)[launch_grid](
        query, key, value, out, text_valid,
        query.stride(0), query.stride(1), query.stride(2),
        out.stride(0), out.stride(1), out.stride(2),
        heads, head_dim, scale * LOG2E,
        text_len if text_first else 0, 0 if text_first else n_visual, text_len,
        *grid, *kernel, *stride, *dilation,
        nq[1], nq[2],
        HAS_TEXT_VALID=text_valid is not None,
        C0=causal[0], C1=causal[1], C2=causal[2],
        TQ0=q_tile[0], TQ1=q_tile[1], TQ2=q_tile[2],
        TK0=kv_tile[0], TK1=kv_tile[1], TK2=kv_tile[2],
        BLOCK_D=max(16, 1 << (head_dim - 1).bit_length()),
        UPCAST=INTERPRETED and query.dtype != torch.float32,
        IEEE=query.dtype == torch.float32,
        MASKED=tiles[6] > 0,
    )
    return out


# torch.compile calls this once while tracing and keeps the result as a constant (the tile search
# runs numpy, which dynamo would otherwise try to trace).
@torch.compiler.assume_constant_result
def _chosen_tiles(grid, kernel_size, stride, dilation, is_causal, text_len) -> list[int]:
    tiles = choose_tiles(grid, kernel_size, stride, dilation, is_causal, text_len)
    return list(tiles.q_tile + tiles.kv_tile) + [tiles.partial]


@lru_cache(maxsize=256)
def _valid_lengths(lengths: tuple[int, ...], device: str) -> torch.Tensor:
    return torch.tensor(lengths, dtype=torch.int32, device=device)


def triton_visual_attention(
    query: torch.Tensor,
    key: torch.Tensor,
    value: torch.Tensor,
    *,
    grid: Sequence[int],
    kernel_size: Sequence[int],
    stride: Sequence[int],
    dilation: Sequence[int],
    is_causal: Sequence[bool],
    text_len: int,
    text_first: bool,
    text_valid_lens: Sequence[int] | None = None,
    scale: float | None = None,
    tiles: TritonTiles | None = None,
) -> torch.Tensor:
    """[B, S, heads, head_dim] -> same shape; visual rows hold GNA over the neighborhood plus the
    row's valid text keys (one softmax), text rows are uninitialized (the caller's to fill)."""
    grid3, kernel3, stride3, dilation3 = (as_3d(v, 1) for v in (grid, kernel_size, stride, dilation))
    causal3 = as_3d(tuple(bool(c) for c in is_causal), False)
    tile_params = _chosen_tiles(grid3, kernel3, stride3, dilation3, causal3, text_len) if tiles is None \
        else list(tiles.q_tile + tiles.kv_tile) + [tiles.partial]
    text_valid = None
    if text_valid_lens is not None and any(int(n) != text_len for n in text_valid_lens):
        text_valid = _valid_lengths(tuple(int(n) for n in text_valid_lens), str(query.device))
    return gna_forward(
        query, key, value, text_valid,
        list(grid3 + kernel3 + stride3 + dilation3), list(causal3), text_len, text_first,
        query.shape[-1] ** -0.5 if scale is None else float(scale),
        tile_params,
    )
